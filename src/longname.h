/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The files that hold long names: beside a long entry E (see
 * names_long_entry()) the file E NAMES_LONG_SUFFIX holds the full encoded
 * name, whose SHA-256 is E. Written durably before the entry exists, read
 * back as hostile input: it must be a small regular file whose text hashes
 * to the entry it sits beside, so a .name file swapped within a directory
 * or brought in from another one is refused.
 */
#ifndef ATRESTFS_LONGNAME_H
#define ATRESTFS_LONGNAME_H

#include <stdbool.h>

#include "names.h"

/**
 * Make sure the .name file of long entry @p entry in the directory open at
 * @p dirfd holds @p enc, durably. @p created tells whether this call wrote
 * it (so a failed create can remove it again).
 * @return 0 or a negative errno.
 */
int longname_write(int dirfd, const char *entry, const char *enc,
		   bool *created);

/**
 * Read the .name file of @p entry into @p enc (NAMES_ENC_MAX + 1 bytes).
 * @return 0; -ENOENT when missing; -EIO when not a regular file of a
 * plausible size; -EBADMSG when its text does not hash to @p entry.
 */
int longname_read(int dirfd, const char *entry, char *enc);

/** Remove the .name file of @p entry (errors ignored: it is only hidden). */
void longname_remove(int dirfd, const char *entry);

/** The .name file's name for @p entry into @p out (NAME_MAX + 1 bytes). */
void longname_file(const char *entry, char *out);

#endif
