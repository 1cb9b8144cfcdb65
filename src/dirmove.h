/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Renaming directories of an encrypted volume without losing their IDs.
 *
 * A directory's ID file is bound to its place (dirid.h), so a rename runs
 * in steps, each leaving a binding valid wherever a crash stops it:
 *   1. dirmove_begin(): bind the ID file to the old and the new place;
 *   2. the caller renames and makes the rename durable (fsync of both
 *      parents);
 *   3. dirmove_end(): keep only the binding of where the directory is.
 * A directory renamed onto an existing empty one replaces it: the target's
 * ID file is moved aside first (dirmove_clear_target()) and dropped or put
 * back after (dirmove_finish_target()). A crash in between leaves an empty
 * directory without an ID, which dirmove_recover() gives a new one.
 */
#ifndef ATRESTFS_DIRMOVE_H
#define ATRESTFS_DIRMOVE_H

#include <stdbool.h>
#include <stdint.h>

#include "dirid.h"
#include "names.h"

struct fs_inode;

/** A directory being renamed: its ID and both of its places. */
struct dirmove {
	int fd; /* O_PATH of the directory, or -1 when not a directory */
	uint8_t id[NAMES_DIRID_LEN];
	uint8_t from_id[NAMES_DIRID_LEN], to_id[NAMES_DIRID_LEN];
	struct dirid_place from, to;
};

#define DIRMOVE_INIT { .fd = -1 }

/**
 * Step 1: if backing entry @p fname (full encoded name @p fenc) in @p from
 * is a directory, bind its ID file to its place and to @p tenc in @p to at
 * once, durably. Not a directory (or missing: the rename says ENOENT):
 * nothing to do, @p m->fd stays -1.
 * @return 0; -EIO when the directory's ID file is not bound to it (or
 * either parent has no ID); another negative errno.
 */
int dirmove_begin(struct dirid_ctx *dctx, struct fs_inode *from,
		  const char *fname, const char *fenc, struct fs_inode *to,
		  const char *tenc, struct dirmove *m);

/**
 * Step 3, once the rename (@p moved) or its failure is durable: keep only
 * the binding of the current place. A failure is logged; the file then
 * keeps both bindings, which stay valid. Closes @p m->fd.
 */
void dirmove_end(struct dirid_ctx *dctx, struct dirmove *m, bool moved);

/**
 * Before renaming directory @p name of @p dir onto @p newname of @p ndir:
 * if that is an existing empty directory, move its ID file aside into
 * @p ndir under a hidden name written to @p saved ("" when nothing was
 * moved). Anything else is left to renameat2 to decide.
 * @return 0, -ENOTEMPTY, or another negative errno.
 */
int dirmove_clear_target(struct fs_inode *dir, const char *name,
			 struct fs_inode *ndir, const char *newname,
			 char saved[64]);

/** After the rename: drop the target's old ID file, or put it back. */
void dirmove_finish_target(struct fs_inode *ndir, const char *newname,
			   const char *saved, bool renamed);

/**
 * The directory @p dir has no ID file: if it is empty (what a crash during
 * dirmove_clear_target() leaves; no name was ever encrypted under a missing
 * ID) give it a new one bound to @p place, into @p id.
 * @return 0, or -ENOENT when it cannot be recovered.
 */
int dirmove_recover(struct dirid_ctx *dctx, struct fs_inode *dir,
		    const struct dirid_place *place,
		    uint8_t id[NAMES_DIRID_LEN]);

#endif
