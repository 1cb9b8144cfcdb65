/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The crypto core: the only module that includes OpenSSL. AES-256-GCM with
 * 128-bit nonces for content blocks, AES-256-SIV for names, HKDF-SHA256 and
 * HMAC-SHA256 for the key hierarchy, AES-256 key wrap (RFC 5649), random
 * bytes and a constant-time compare. Cipher contexts are per thread, so
 * every function here may be called from any FUSE worker at once.
 *
 * All functions return 0 or a negative errno: -EBADMSG when authentication
 * fails, -EINVAL for bad arguments, -EIO when OpenSSL itself fails.
 */
#ifndef ATRESTFS_CRYPTO_H
#define ATRESTFS_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEY_LEN 32     /**< AES-256 and HMAC key length */
#define CRYPTO_SIV_KEY_LEN 64 /**< AES-256-SIV takes two 256-bit keys */
#define CRYPTO_NONCE_LEN 16   /**< GCM nonce used for content blocks */
#define CRYPTO_TAG_LEN 16     /**< GCM and SIV tag length */
#define CRYPTO_MAC_LEN 32     /**< HMAC-SHA256 output */
#define CRYPTO_WRAP_OVERHEAD 8 /**< RFC 5649 adds 8 bytes to a 32-byte key */

/** Fill @p buf with public random bytes (nonces, IDs). */
int crypto_random(void *buf, size_t n);

/** Fill @p buf with random bytes for keys (RAND_priv_bytes). */
int crypto_random_priv(void *buf, size_t n);

/**
 * HKDF-SHA256 (RFC 5869), extract and expand.
 * @return 0 or -EIO.
 */
int crypto_hkdf(const uint8_t *key, size_t key_len, const uint8_t *salt,
		size_t salt_len, const uint8_t *info, size_t info_len,
		uint8_t *out, size_t out_len);

/** HMAC-SHA256 of @p data under @p key into @p out (CRYPTO_MAC_LEN bytes). */
int crypto_hmac(const uint8_t *key, size_t key_len, const void *data,
		size_t len, uint8_t out[CRYPTO_MAC_LEN]);

/** SHA-256 of @p data into @p out (32 bytes). */
int crypto_sha256(const void *data, size_t len, uint8_t out[32]);

/** Constant-time equality: 1 when equal, 0 otherwise. */
int crypto_memeq(const void *a, const void *b, size_t n);

/**
 * AES-256-GCM encryption. @p iv_len is CRYPTO_NONCE_LEN for content blocks
 * (other lengths are accepted for the NIST vectors). @p ct may equal @p pt.
 */
int crypto_gcm_seal(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *iv,
		    size_t iv_len, const uint8_t *aad, size_t aad_len,
		    const uint8_t *pt, size_t len, uint8_t *ct,
		    uint8_t tag[CRYPTO_TAG_LEN]);

/**
 * AES-256-GCM decryption and tag check.
 * @return 0, or -EBADMSG when the tag does not match (then @p pt is wiped).
 */
int crypto_gcm_open(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *iv,
		    size_t iv_len, const uint8_t *aad, size_t aad_len,
		    const uint8_t *ct, size_t len, uint8_t *pt,
		    const uint8_t tag[CRYPTO_TAG_LEN]);

/**
 * Erase the keys the calling thread's GCM and SIV contexts hold. They keep
 * the last key's schedule (in OpenSSL's unlocked heap) between calls so
 * that the blocks of one request (and the names of a whole run of
 * requests) share one key setup; whoever runs a batch of
 * crypto_gcm_*() or crypto_siv_*() calls calls this when the batch is
 * done (the daemon before each reply, fuse_io.c; fsck after each file and
 * names_ctx_free(); the status thread after decrypting a path), so no key
 * outlives the request that used it. Cheap when nothing is held.
 */
void crypto_forget(void);

/**
 * AES-256-SIV (RFC 5297) with one associated-data component per entry of
 * @p ad / @p ad_len (@p n_ad of them). @p len must be at least 1.
 * Output is the ciphertext (same length) and the 16-byte tag (the SIV).
 */
int crypto_siv_seal(const uint8_t key[CRYPTO_SIV_KEY_LEN],
		    const uint8_t *const *ad, const size_t *ad_len, size_t n_ad,
		    const uint8_t *pt, size_t len, uint8_t *ct,
		    uint8_t tag[CRYPTO_TAG_LEN]);

/**
 * SIV with an explicit key length: 64 (AES-256-SIV) or 32 (AES-128-SIV, the
 * variant RFC 5297's test vectors use). Only the known-answer tests need it.
 */
int crypto_siv_seal_keylen(const uint8_t *key, size_t key_len,
			   const uint8_t *const *ad, const size_t *ad_len,
			   size_t n_ad, const uint8_t *pt, size_t len,
			   uint8_t *ct, uint8_t tag[CRYPTO_TAG_LEN]);

/** AES-256-SIV decryption; -EBADMSG when the SIV does not verify. */
int crypto_siv_open(const uint8_t key[CRYPTO_SIV_KEY_LEN],
		    const uint8_t *const *ad, const size_t *ad_len, size_t n_ad,
		    const uint8_t *ct, size_t len, uint8_t *pt,
		    const uint8_t tag[CRYPTO_TAG_LEN]);

/**
 * AES-256 key wrap with padding (RFC 5649): @p out gets @p len + 8 bytes
 * (rounded up to a multiple of 8).
 */
int crypto_keywrap(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t *in,
		   size_t len, uint8_t *out, size_t *out_len);

/** RFC 5649 unwrap; -EBADMSG when the integrity check fails. */
int crypto_keyunwrap(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t *in,
		     size_t len, uint8_t *out, size_t *out_len);

/**
 * Key wrap (@p enc 1) or unwrap (@p enc 0) with an explicit KEK length: 32
 * (AES-256) or 24 (AES-192, the KEK of RFC 5649's own test vectors). Only
 * the known-answer tests need it. @return as crypto_keywrap/keyunwrap.
 */
int crypto_keywrap_keylen(int enc, const uint8_t *kek, size_t kek_len,
			  const uint8_t *in, size_t len, uint8_t *out,
			  size_t *out_len);

/**
 * Base64url without padding (names) or standard base64 with padding (the
 * config). @p out must hold crypto_b64_len() + 1 bytes; it is NUL-terminated.
 * @return the encoded length.
 */
size_t crypto_b64_len(size_t n);
size_t crypto_b64url_encode(const uint8_t *in, size_t n, char *out);
size_t crypto_b64_encode(const uint8_t *in, size_t n, char *out);

/**
 * Strict decoders: any character outside the alphabet, bad padding or
 * non-canonical trailing bits give -EINVAL; more than @p cap bytes give
 * -E2BIG. @return the decoded length or a negative errno.
 */
long crypto_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap);
long crypto_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
