/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Directory IDs of an encrypted volume, bound to their place.
 *
 * Every backing directory holds NAMES_DIRID_FILE: its random ID (the
 * associated data for the names inside it) followed by one or two binding
 * tags, HMAC-SHA256 under the directory-ID key over the ID, the parent's
 * ID and the directory's own encoded name. A copied, moved or swapped ID
 * file (or a whole directory moved to another entry) is therefore not
 * bound to where it is found, and its directory's entries read as EIO
 * instead of becoming readable somewhere else. A rename binds the file to
 * both places first, renames, then keeps only the new binding, so a crash
 * at any point leaves a binding that matches wherever the directory is.
 * The file is always written with durable_write_file().
 */
#ifndef ATRESTFS_DIRID_H
#define ATRESTFS_DIRID_H

#include <stdint.h>
#include <sys/types.h>

#include "names.h"

#define DIRID_TAG_LEN 32
/* ID + one binding; ID + two bindings during a rename. */
#define DIRID_FILE_LEN (NAMES_DIRID_LEN + DIRID_TAG_LEN)
#define DIRID_FILE_MAX (NAMES_DIRID_LEN + 2 * DIRID_TAG_LEN)

struct dirid_ctx;

/**
 * Where a directory sits: its parent's ID and its own full encoded name
 * (the SIV name, before any long-name hashing). The root has neither.
 */
struct dirid_place {
	const uint8_t *parent; /* NAMES_DIRID_LEN bytes; NULL for the root */
	const char *enc;       /* NULL for the root */
};

/**
 * A context holding the directory-ID key, HKDF-SHA256 of the 64-byte
 * names subkey with info "atrestfs dirid" (copied into locked memory).
 */
int dirid_ctx_new(const uint8_t names_key[64], struct dirid_ctx **out);
void dirid_ctx_free(struct dirid_ctx *ctx);

/**
 * Create the ID file (a fresh random ID bound to @p place) in the directory
 * open at @p dirfd, durably. @p id gets the new ID, only on success.
 * @return 0, -EEXIST if the directory already has an ID file (left as it
 * is), or another negative errno.
 */
int dirid_create(struct dirid_ctx *ctx, int dirfd,
		 const struct dirid_place *place, uint8_t id[NAMES_DIRID_LEN]);

/**
 * Read the ID of the directory open at @p dirfd and check that one of its
 * bindings names @p place.
 * @return 0; -ENOENT when there is no ID file; -EIO when it is malformed
 * (not a regular file of DIRID_FILE_LEN or DIRID_FILE_MAX bytes);
 * -EBADMSG when it is bound elsewhere (then @p id still receives the ID
 * it holds, for fsck's repair); another negative errno when unreadable.
 * Nothing is logged: the caller knows the path.
 */
int dirid_read(struct dirid_ctx *ctx, int dirfd,
	       const struct dirid_place *place, uint8_t id[NAMES_DIRID_LEN]);

/**
 * Rewrite the ID file of the directory at @p dirfd (ID @p id) bound to
 * @p place, and also to @p also unless it is NULL. Replaces the file
 * atomically and durably.
 */
int dirid_rebind(struct dirid_ctx *ctx, int dirfd,
		 const uint8_t id[NAMES_DIRID_LEN],
		 const struct dirid_place *place,
		 const struct dirid_place *also);

#define DIRID_TMP_NAME_MAX 64

/** A fresh hidden name under which a directory is made before it has an ID. */
void dirid_tmp_name(char tmp[DIRID_TMP_NAME_MAX]);

/**
 * Give the directory just made as @p tmp in the directory open at
 * @p parentfd its ID file bound to @p place, then rename it to @p name
 * without replacing anything and fsync the parent, so no crash leaves a
 * directory without an ID. On failure @p tmp is removed. @p id gets the new
 * ID (may be NULL).
 * @return 0, -EEXIST, or another negative errno.
 */
int dirid_publish(struct dirid_ctx *ctx, int parentfd, const char *tmp,
		  const char *name, const struct dirid_place *place,
		  uint8_t *id);

/**
 * Make directory @p name (mode @p mode) in the directory open at
 * @p parentfd with an ID bound to @p place: made under a hidden temporary
 * name, given its ID file, then renamed into place without replacing
 * anything, and the parent fsynced, so no crash leaves a directory without
 * an ID. @p id gets the new ID (may be NULL).
 * @return 0, -EEXIST, or another negative errno.
 */
int dirid_mkdir(struct dirid_ctx *ctx, int parentfd, const char *name,
		const struct dirid_place *place, mode_t mode,
		uint8_t *id);

/**
 * Whether the directory open at @p dirfd (not consumed) is empty as an
 * encrypted directory: nothing in it but its ID file (and that file's
 * temporary name, which a crash during a rebind may leave).
 * @return 0 when empty, -ENOTEMPTY, or another negative errno.
 */
int dirid_dir_empty(int dirfd);

#endif
