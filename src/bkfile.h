/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading the small bookkeeping files of a volume (the config, directory
 * IDs, long names' .name files) out of a backing directory that may have
 * been written by an attacker while it was unmounted. Only a regular file
 * is ever opened for reading: anything else planted under a bookkeeping
 * name (a FIFO that would block, a device node whose open has side
 * effects, a symlink, a socket, a directory) is refused as tampering
 * without being opened for reading.
 */
#ifndef ATRESTFS_BKFILE_H
#define ATRESTFS_BKFILE_H

#include <stddef.h>

/**
 * Read the bookkeeping file @p name (relative to @p dirfd, or a path with
 * AT_FDCWD) into @p buf. It is first opened O_PATH|O_NOFOLLOW|O_CLOEXEC
 * and its type checked with fstat; only a regular file is then reopened
 * O_RDONLY|O_NONBLOCK|O_CLOEXEC (the same inode, through /proc/self/fd).
 * @param max  capacity of @p buf; a file longer than that is refused
 * @param len  gets the number of bytes read
 * @return 0; -ENOENT when there is no such file (not logged); -EIO when it
 * is not a regular file (logged as tampering); -EFBIG when it is longer
 * than @p max (logged); another negative errno when it cannot be read.
 */
int bkfile_read(int dirfd, const char *name, void *buf, size_t max,
		size_t *len);

#endif
