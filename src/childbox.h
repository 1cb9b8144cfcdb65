/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Seccomp filters of the daemon's helper processes, each the allowlist of
 * what that one child does: the KMS watcher (revoke.c) is an HTTPS client
 * and nothing else, the unmount helper (unmounter.c) reads mountinfo and
 * unmounts. The daemon's own filter is sandbox.c's.
 */
#ifndef ATRESTFS_CHILDBOX_H
#define ATRESTFS_CHILDBOX_H

#include <sys/types.h>

enum childbox_kind {
	CHILDBOX_KMS_CLIENT,
	CHILDBOX_UNMOUNTER,
};

/**
 * Load the filter for @p kind on the calling (single-threaded) process;
 * no_new_privs must be set already. Calls outside it fail with EPERM.
 * @return 0 or a negative errno
 */
int childbox_apply(enum childbox_kind kind);

/**
 * Fork a helper child linked to the caller by two pipes. The child keeps
 * only its ends of them (and 0-2), dies with the calling thread
 * (PR_SET_PDEATHSIG SIGKILL) and has SIGTERM, SIGINT and SIGHUP set to
 * @p stop_signals (SIG_DFL or SIG_IGN). Buffered stdio is flushed first.
 * @param down in the parent the write end towards the child, in the
 * child the read end
 * @param up in the parent the read end from the child, in the child the
 * write end
 * @return the child's pid in the parent, 0 in the child, or a negative
 * errno (nothing left open)
 */
int childbox_fork(void (*stop_signals)(int), int *down, int *up);

#endif
