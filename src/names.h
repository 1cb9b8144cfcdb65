/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File name encryption (no FUSE in here).
 *
 * name on disk = base64url(tag || AES-256-SIV(plain name, AD = directory ID))
 *
 * Encoded names use only [A-Za-z0-9_-], so anything with a '.' in it can
 * never collide with an encrypted name: the bookkeeping files rely on that.
 * When the encoded form is longer than 255 bytes, the entry is stored as
 * NAMES_LONG_PREFIX || base64url(SHA-256(encoded)) and the full encoded name
 * is kept in a file of that name plus NAMES_LONG_SUFFIX beside it.
 */
#ifndef ATRESTFS_NAMES_H
#define ATRESTFS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAMES_DIRID_LEN 16
#define NAMES_DIRID_FILE ".atrestfs.dirid"
#define NAMES_LONG_PREFIX "atrestfs.long."
#define NAMES_LONG_SUFFIX ".name"
#define NAMES_MAX 255        /* plaintext and on-disk name limit */
#define NAMES_ENC_MAX 400    /* encoded name of a 255-byte name, with room */
/* Encoded symlink targets must fit the kernel's 4095-byte limit. */
#define NAMES_TARGET_MAX 3000
#define NAMES_TARGET_ENC_MAX 4095

struct names_ctx;

/**
 * The fixed "directory" ID (sixteen 0xff bytes) under which xattr names
 * and symlink targets are encrypted: they must survive renames into other
 * directories.
 */
extern const uint8_t names_fixed_id[NAMES_DIRID_LEN];

/** Names context from the 64-byte SIV subkey (copied into locked memory). */
int names_ctx_new(const uint8_t key[64], struct names_ctx **out);
void names_ctx_free(struct names_ctx *ctx);

/**
 * Encrypt @p plain (1..255 bytes, no '/', not "." or "..") under @p dirid.
 * @p enc (NAMES_ENC_MAX + 1 bytes) gets the full encoded name.
 * @return 0, -EINVAL for an invalid name, -ENAMETOOLONG over 255 bytes.
 */
int names_encrypt(struct names_ctx *ctx, const uint8_t dirid[NAMES_DIRID_LEN],
		  const char *plain, char *enc);

/**
 * Decrypt a full encoded name. @p plain gets NAMES_MAX + 1 bytes.
 * @return 0, -EINVAL when it does not decode, -EBADMSG when it does not
 * authenticate under this directory.
 */
int names_decrypt(struct names_ctx *ctx, const uint8_t dirid[NAMES_DIRID_LEN],
		  const char *enc, char *plain);

/** True when @p enc must be stored under a hashed name. */
bool names_needs_long(const char *enc);

/**
 * The on-disk entry name for a long encoded name: NAMES_LONG_PREFIX ||
 * base64url(SHA-256(enc)). @p out gets NAME_MAX + 1 bytes.
 */
int names_long_entry(const char *enc, char *out);

/** True for an entry name produced by names_long_entry(). */
bool names_is_long_entry(const char *entry);

/**
 * Encrypt a symlink target (1..NAMES_TARGET_MAX bytes) under the symlink's
 * directory ID into base64url text in @p enc (NAMES_TARGET_ENC_MAX + 1).
 * The associated data differs from names, so a target never passes as a
 * name. @return 0, -EINVAL, or -ENAMETOOLONG when the target is too long.
 */
int names_encrypt_target(struct names_ctx *ctx,
			 const uint8_t dirid[NAMES_DIRID_LEN],
			 const char *target, char *enc);

/** Decrypt a symlink target; @p target gets NAMES_TARGET_MAX + 1 bytes. */
int names_decrypt_target(struct names_ctx *ctx,
			 const uint8_t dirid[NAMES_DIRID_LEN],
			 const char *enc, char *target);

/** Plaintext length of a symlink target stored as @p enc_len characters. */
size_t names_target_len(size_t enc_len);

/** True for names the volume uses for itself (never shown in the mount). */
bool names_is_bookkeeping(const char *entry);

#endif
