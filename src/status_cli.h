/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `atrestfs status [MOUNTPOINT] [--json | --prometheus]`: asks the daemon
 * of each atrestfs mount (or of the one named) over its status socket
 * (status.h) and prints what it says, as text, JSON or the node_exporter
 * textfile format. The reply is untrusted: bounded in size, parsed
 * strictly, and only fields that pass their checks are printed.
 */
#ifndef ATRESTFS_STATUS_CLI_H
#define ATRESTFS_STATUS_CLI_H

/* Exit codes of `atrestfs status` (atrestfs(8)). */
enum {
	STATUS_EXIT_OK = 0,
	STATUS_EXIT_USAGE = 1,
	STATUS_EXIT_NOT_MOUNT = 2, /* the mount point is not an atrestfs mount */
	STATUS_EXIT_PERM = 4,	   /* not root */
	STATUS_EXIT_NO_ANSWER = 5, /* a daemon did not answer, or garbage */
};

/** Run `atrestfs status`; argv[0] is "status". @return the exit code */
int cmd_status(int argc, char **argv);

#endif
