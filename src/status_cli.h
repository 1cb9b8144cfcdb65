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

#include <stddef.h>

#include <jansson.h>

/* Exit codes of `atrestfs status` (atrestfs(8)). */
enum {
	STATUS_EXIT_OK = 0,
	STATUS_EXIT_USAGE = 1,
	STATUS_EXIT_NOT_MOUNT = 2, /* the mount point is not an atrestfs mount */
	STATUS_EXIT_PERM = 4,	   /* not root */
	STATUS_EXIT_NO_ANSWER = 5, /* a daemon did not answer, or garbage */
};

/**
 * Check a daemon's reply (@p len bytes at @p buf, as read from the socket)
 * and copy what passes into a new object, with @p mnt (from the mount
 * table) as its mount point. @return the object, or NULL with the reason
 * in @p why (@p n bytes)
 */
json_t *status_cli_parse_reply(const char *buf, size_t len, const char *mnt,
			       char *why, size_t n);

/** Run `atrestfs status`; argv[0] is "status". @return the exit code */
int cmd_status(int argc, char **argv);

#endif
