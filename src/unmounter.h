/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The unmount helper: the sandboxed daemon has no CAP_SYS_ADMIN, so on an
 * orderly stop (SIGTERM, SIGINT, SIGHUP: systemd stop, kill) it could not
 * remove its own mount and the mount point would answer "Transport
 * endpoint is not connected" until an administrator unmounted it. A small
 * child, forked before the sandbox, keeps CAP_SYS_ADMIN and nothing else
 * and waits on a pipe; asked, it unmounts exactly the daemon's mount. A
 * daemon that crashes or is killed (SIGKILL, SIGSEGV) never asks, and the
 * helper dies with it: the dead mount stays and fails closed, where an
 * empty mount point would let a cache write plaintext onto the disk.
 */
#ifndef ATRESTFS_UNMOUNTER_H
#define ATRESTFS_UNMOUNTER_H

struct unmounter;

/**
 * Fork the helper for the atrestfs mount on top at @p mnt (a canonical
 * path), identified by its device number. Call it after daemonizing and
 * before sandbox_apply(). @return 0, -ENOENT when @p mnt is not an atrestfs
 * mount, or another negative errno
 */
int unmounter_start(const char *mnt, struct unmounter **out);

/**
 * The orderly stop: ask the helper to unmount (lazily, as libfuse does)
 * if the mount on top at the mount point is still this daemon's, wait for
 * its answer (a few seconds at most), reap it and free @p u (NULL: no-op).
 * @return 0 unmounted, -ENOENT when the mount was already gone or is not
 * ours (an administrator's umount), or another negative errno
 */
int unmounter_finish(struct unmounter *u);

#endif
