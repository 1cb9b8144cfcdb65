/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small files written durably, and renames that never replace, on any
 * POSIX backing file system. The volume's format files (config, directory
 * IDs, long-name files) and the keyfile are all written the same way:
 * NAME.tmp (exclusive create, fixed mode, fsync), renamed into place,
 * then the directory is fsynced. Nothing here needs renameat2() flags,
 * O_TMPFILE or any other optional feature: each has a fallback that a
 * test runs under a shim that takes the feature away.
 */
#ifndef ATRESTFS_DURABLE_H
#define ATRESTFS_DURABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/** Suffix of the temporary name (it has a '.': always bookkeeping). */
#define DURABLE_TMP_SUFFIX ".tmp"

/**
 * Write @p len bytes to @p name in the directory open at @p dirfd (any fd
 * usable as a dirfd, O_PATH included), durably, with mode @p mode whatever
 * the umask. A stale NAME.tmp from a crash is replaced.
 * @param replace false: an existing @p name is never replaced (-EEXIST);
 *        true: an existing @p name is replaced atomically.
 * @return 0 or a negative errno; on error @p name is unchanged and the
 * temporary file is gone.
 */
int durable_write_file(int dirfd, const char *name, const void *data,
		       size_t len, mode_t mode, bool replace);

/**
 * Rename @p from (in @p fromfd) to @p to (in @p tofd) without replacing
 * anything: renameat2(RENAME_NOREPLACE), else link+unlink for a
 * non-directory, else an existence check and a plain rename (safe because
 * the caller is the only writer of the volume). Does not fsync.
 * @return 0, -EEXIST when @p to exists, or another negative errno.
 */
int durable_rename_noreplace(int fromfd, const char *from, int tofd,
			     const char *to);

/** fsync the directory open at @p dirfd (O_PATH fds included). */
int durable_fsync_dir(int dirfd);

#endif
