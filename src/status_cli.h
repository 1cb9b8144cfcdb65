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

#include "exitcodes.h" /* STATUS_EXIT_* */

/** Run `atrestfs status`; argv[0] is "status". @return STATUS_EXIT_* */
int cmd_status(int argc, char **argv);

#endif
