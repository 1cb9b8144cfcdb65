// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * File names and symlink targets of an encrypted volume.
 *
 * AES-256-SIV is deterministic, which is what a lookup needs (the same name
 * in the same directory always encrypts the same way), and the directory
 * ID as associated data keeps equal names in different directories apart.
 * The first associated-data component is a domain string, so a symlink
 * target can never be passed off as a name or the other way round.
 */
#include "names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "secmem.h"

#define TAG CRYPTO_TAG_LEN

static const char dom_name[] = "atrestfs name";
static const char dom_target[] = "atrestfs symlink";

struct names_ctx {
	uint8_t *key; /* secmem, 64 bytes */
};

int names_ctx_new(const uint8_t key[64], struct names_ctx **out)
{
	struct names_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->key = secmem_alloc(64);
	if (!ctx->key) {
		free(ctx);
		return -ENOMEM;
	}
	memcpy(ctx->key, key, 64);
	*out = ctx;
	return 0;
}

void names_ctx_free(struct names_ctx *ctx)
{
	if (!ctx)
		return;
	secmem_free(ctx->key);
	free(ctx);
}

static int seal(struct names_ctx *ctx, const char *dom,
		const uint8_t dirid[NAMES_DIRID_LEN], const char *plain,
		size_t len, char *enc)
{
	const uint8_t *ad[2] = { (const uint8_t *)dom, dirid };
	size_t ad_len[2] = { strlen(dom), NAMES_DIRID_LEN };
	uint8_t *buf = malloc(len + TAG);
	int r;

	if (!buf)
		return -ENOMEM;
	r = crypto_siv_seal(ctx->key, ad, ad_len, 2, (const uint8_t *)plain,
			    len, buf + TAG, buf);
	if (!r)
		crypto_b64url_encode(buf, len + TAG, enc);
	free(buf);
	return r;
}

/* @return plaintext length, -EINVAL (does not decode) or -EBADMSG. */
static long open_(struct names_ctx *ctx, const char *dom,
		  const uint8_t dirid[NAMES_DIRID_LEN], const char *enc,
		  size_t enc_max, char *plain, size_t plain_max)
{
	const uint8_t *ad[2] = { (const uint8_t *)dom, dirid };
	size_t ad_len[2] = { strlen(dom), NAMES_DIRID_LEN };
	size_t n = strnlen(enc, enc_max + 1);
	uint8_t *buf;
	long len;
	int r;

	if (n == 0 || n > enc_max)
		return -EINVAL;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	len = crypto_b64url_decode(enc, n, buf, n);
	if (len <= TAG || (size_t)(len - TAG) > plain_max) {
		free(buf);
		return -EINVAL;
	}
	r = crypto_siv_open(ctx->key, ad, ad_len, 2, buf + TAG,
			    (size_t)len - TAG, (uint8_t *)plain, buf);
	free(buf);
	if (r)
		return r == -EBADMSG ? -EBADMSG : -EINVAL;
	plain[len - TAG] = '\0';
	return len - TAG;
}

static int name_valid(const char *s, size_t len)
{
	if (len == 0 || !strcmp(s, ".") || !strcmp(s, ".."))
		return -EINVAL;
	if (len > NAMES_MAX)
		return -ENAMETOOLONG;
	if (memchr(s, '/', len) || strlen(s) != len)
		return -EINVAL;
	return 0;
}

int names_encrypt(struct names_ctx *ctx, const uint8_t dirid[NAMES_DIRID_LEN],
		  const char *plain, char *enc)
{
	size_t len = strnlen(plain, NAMES_MAX + 1);
	int r = name_valid(plain, len);

	if (r)
		return r;
	return seal(ctx, dom_name, dirid, plain, len, enc);
}

int names_decrypt(struct names_ctx *ctx, const uint8_t dirid[NAMES_DIRID_LEN],
		  const char *enc, char *plain)
{
	long len = open_(ctx, dom_name, dirid, enc, NAMES_ENC_MAX, plain,
			 NAMES_MAX);

	if (len < 0)
		return (int)len;
	/* Authentic but unusable as a name: never hand it to the kernel. */
	if (name_valid(plain, (size_t)len) || memchr(plain, '\0', (size_t)len))
		return -EINVAL;
	return 0;
}

int names_encrypt_target(struct names_ctx *ctx,
			 const uint8_t dirid[NAMES_DIRID_LEN],
			 const char *target, char *enc)
{
	size_t len = strnlen(target, NAMES_TARGET_MAX + 1);

	if (len == 0)
		return -EINVAL;
	if (len > NAMES_TARGET_MAX)
		return -ENAMETOOLONG;
	return seal(ctx, dom_target, dirid, target, len, enc);
}

int names_decrypt_target(struct names_ctx *ctx,
			 const uint8_t dirid[NAMES_DIRID_LEN],
			 const char *enc, char *target)
{
	long len = open_(ctx, dom_target, dirid, enc, NAMES_TARGET_ENC_MAX,
			 target, NAMES_TARGET_MAX);

	if (len < 0)
		return (int)len;
	return strlen(target) == (size_t)len ? 0 : -EINVAL;
}

size_t names_target_len(size_t enc_len)
{
	size_t bytes = enc_len * 3 / 4; /* unpadded base64url */

	return bytes > TAG ? bytes - TAG : 0;
}

bool names_needs_long(const char *enc)
{
	return strlen(enc) > NAMES_MAX;
}

int names_long_entry(const char *enc, char *out)
{
	uint8_t h[32];
	int r = crypto_sha256(enc, strlen(enc), h);

	if (r)
		return r;
	strcpy(out, NAMES_LONG_PREFIX);
	crypto_b64url_encode(h, sizeof(h), out + strlen(NAMES_LONG_PREFIX));
	return 0;
}

bool names_is_long_entry(const char *entry)
{
	size_t p = strlen(NAMES_LONG_PREFIX);

	if (strncmp(entry, NAMES_LONG_PREFIX, p) || strlen(entry) != p + 43)
		return false;
	return strspn(entry + p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
				 "qrstuvwxyz0123456789-_") == 43;
}

bool names_is_bookkeeping(const char *entry)
{
	/* Encrypted names are base64url: any '.' marks our own files
	 * (atrestfs.conf, the directory ID, temp files, long-name .name
	 * files); long entries are the one dotted kind that is user data. */
	return strchr(entry, '.') && !names_is_long_entry(entry);
}
