/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Directory IDs of an encrypted volume: every backing directory holds a
 * file NAMES_DIRID_FILE with exactly NAMES_DIRID_LEN random bytes, the
 * associated data for the names inside it. It is written crash-safely
 * (temp file, fsync, rename, fsync of the directory) before the directory
 * is used for anything.
 */
#ifndef ATRESTFS_DIRID_H
#define ATRESTFS_DIRID_H

#include <stdint.h>

#include "names.h"

/**
 * Create the ID file (16 random bytes, mode 0444) in the directory open at
 * @p dirfd, durably. @p id gets the new ID, and is only written on success.
 * @return 0, -EEXIST if the directory already has an ID file (it is left
 * as it is), or another negative errno.
 */
int dirid_create(int dirfd, uint8_t id[NAMES_DIRID_LEN]);

/**
 * Read the ID of the directory open at @p dirfd.
 * @return 0, -ENOENT when there is no ID file, -EIO when it is not a
 * regular file of exactly NAMES_DIRID_LEN bytes (both logged), or another
 * negative errno when it cannot be opened.
 */
int dirid_read(int dirfd, uint8_t id[NAMES_DIRID_LEN]);

#endif
