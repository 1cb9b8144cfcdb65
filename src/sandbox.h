/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Least privilege for the mounted daemon: once the kernel mount is made and
 * the process has daemonized, it keeps only the capabilities that serving
 * file-system requests needs, sets no_new_privs, and confines itself to an
 * allowlist of system calls (seccomp, through libseccomp). doc/daemon.md
 * lists both and says why each entry is there.
 */
#ifndef ATRESTFS_SANDBOX_H
#define ATRESTFS_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

/**
 * The capabilities the daemon keeps (a mask of 1 << CAP_x; all are below
 * 32). Exposed so the tests compare /proc/PID/status against it.
 */
uint64_t sandbox_kept_caps(void);

/**
 * Cut the calling thread's capabilities to @p keep (a mask as above): the
 * bounding set (when CAP_SETPCAP allows), permitted and effective sets;
 * ambient cleared. sandbox_apply() does this with sandbox_kept_caps(); the
 * KMS watcher (revoke.c) with 0.
 * @return 0 or a negative errno
 */
int sandbox_drop_caps(uint64_t keep);

/**
 * Confine the calling process for good: bounding and ambient sets
 * cleared but for sandbox_kept_caps(), permitted/effective reduced to it
 * (on the calling thread: call it before any other thread exists), no
 * new privileges, and the seccomp filter loaded on every thread. A call
 * outside the allowlist fails with EPERM instead of killing the process.
 * socket() and connect() are not allowed afterwards: the syslog
 * connection must be made before (log_daemon_prepare()); send() is
 * allowed on it alone.
 * @return 0, or a negative errno (logged) when the filter could not be
 * built or loaded; nothing is half applied when building fails.
 */
int sandbox_apply(void);

/**
 * Allow accept4() on @p fd (the status socket, status.h) and
 * getsockopt(SOL_SOCKET, SO_PEERCRED) in the filter sandbox_apply()
 * builds. Call it before sandbox_apply().
 */
void sandbox_allow_accept(int fd);

/**
 * Add an allow rule, whatever the arguments, for each of the @p n system
 * calls named in @p names to @p filter (a libseccomp scmp_filter_ctx);
 * names unknown on this architecture are skipped. For the helper
 * processes' own filters (childbox.h). @return 0 or a negative errno
 */
int sandbox_allow_all(void *filter, const char *const *names, size_t n);

#endif
