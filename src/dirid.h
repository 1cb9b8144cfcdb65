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

/** Create the ID file in the directory open at @p dirfd; -EEXIST if present. */
int dirid_create(int dirfd, uint8_t id[NAMES_DIRID_LEN]);

/** Read the ID of the directory open at @p dirfd (-EIO if malformed). */
int dirid_read(int dirfd, uint8_t id[NAMES_DIRID_LEN]);

#endif
