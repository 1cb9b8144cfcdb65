// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * File names and symlink targets of an encrypted volume.
 *
 * AES-256-SIV is deterministic, which is what a lookup needs (the same name
 * in the same directory always encrypts the same way), and the directory
 * ID as associated data keeps equal names in different directories apart,
 * so a renamed-in-place or copied-over entry does not decrypt. The first
 * associated-data component is a domain string, so a symlink target can
 * never be passed off as a name or the other way round.
 *
 * Encoded names are unpadded base64url, which has no '.': every backing
 * name with a '.' in it is therefore ours (config, directory ID, temp
 * files, long-name entries) and can never collide with a user's name.
 * Everything read back from disk is hostile input: it must decode
 * canonically, fit the limits and authenticate, and an authentic
 * plaintext must still be a usable name before it reaches the kernel.
 */
#include "names.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "secmem.h"

#define TAG CRYPTO_TAG_LEN
#define LONG_HASH_CHARS 43 /* base64url of a 32-byte SHA-256, unpadded */

/* Format constants: changing either string changes every stored name. */
static const char dom_name[] = "atrestfs name";
static const char dom_target[] = "atrestfs symlink";

const uint8_t names_fixed_id[NAMES_DIRID_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

static const char b64url_chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * Names encrypted or decrypted lately, by directory ID and plaintext: the
 * encryption is deterministic, and the daemon asks for the same one twice
 * in a row for most operations (the kernel's LOOKUP, then the CREATE or
 * UNLINK of that name; READDIR, then a LOOKUP of each entry), where one
 * SIV encryption costs more than the rest of the request. A slot holds
 * one name; a miss only costs the encryption. Plaintext names: in locked,
 * non-dumpable memory, wiped when the volume is unmounted.
 */
#define MEMO_SLOTS 128

struct memo_slot {
	pthread_mutex_t lock;
	bool used;                       /* protected by lock */
	uint8_t dirid[NAMES_DIRID_LEN];  /* protected by lock */
	char plain[NAMES_MAX + 1];       /* protected by lock */
	char enc[NAMES_ENC_MAX + 1];     /* protected by lock */
};

struct names_ctx {
	uint8_t *key; /* secmem, CRYPTO_SIV_KEY_LEN bytes; immutable */
	struct memo_slot *memo; /* secmem, MEMO_SLOTS */
};

int names_ctx_new(const uint8_t key[CRYPTO_SIV_KEY_LEN],
		  struct names_ctx **out)
{
	struct names_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->key = secmem_alloc(CRYPTO_SIV_KEY_LEN);
	ctx->memo = secmem_alloc(MEMO_SLOTS * sizeof(*ctx->memo));
	if (!ctx->key || !ctx->memo) {
		secmem_free(ctx->key);
		secmem_free(ctx->memo);
		free(ctx);
		return -ENOMEM;
	}
	memcpy(ctx->key, key, CRYPTO_SIV_KEY_LEN);
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		pthread_mutex_init(&ctx->memo[i].lock, NULL);
	*out = ctx;
	return 0;
}

void names_ctx_free(struct names_ctx *ctx)
{
	if (!ctx)
		return;
	/* This thread's SIV context may still hold the names key's schedule
	 * (a tool's only thread never reaches a reply that forgets it). */
	crypto_forget();
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		pthread_mutex_destroy(&ctx->memo[i].lock);
	secmem_free(ctx->memo);
	secmem_free(ctx->key);
	free(ctx);
}

/* The memo slot of @p plain (@p len bytes) under @p dirid (FNV-1a). */
static struct memo_slot *memo_slot(struct names_ctx *ctx,
				   const uint8_t dirid[NAMES_DIRID_LEN],
				   const char *plain, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < NAMES_DIRID_LEN; i++)
		h = (h ^ dirid[i]) * 0x100000001b3ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)plain[i]) * 0x100000001b3ull;
	return &ctx->memo[h % MEMO_SLOTS];
}

/* The encoded name of @p plain under @p dirid into @p enc if the memo has
 * it. */
static bool memo_get(struct names_ctx *ctx,
		     const uint8_t dirid[NAMES_DIRID_LEN], const char *plain,
		     size_t len, char *enc)
{
	struct memo_slot *m = memo_slot(ctx, dirid, plain, len);
	bool hit;

	pthread_mutex_lock(&m->lock);
	hit = m->used && !memcmp(m->dirid, dirid, NAMES_DIRID_LEN) &&
	      !strcmp(m->plain, plain);
	if (hit)
		strcpy(enc, m->enc);
	pthread_mutex_unlock(&m->lock);
	return hit;
}

static void memo_put(struct names_ctx *ctx,
		     const uint8_t dirid[NAMES_DIRID_LEN], const char *plain,
		     size_t len, const char *enc)
{
	struct memo_slot *m = memo_slot(ctx, dirid, plain, len);

	pthread_mutex_lock(&m->lock);
	memcpy(m->dirid, dirid, NAMES_DIRID_LEN);
	memcpy(m->plain, plain, len + 1);
	strcpy(m->enc, enc);
	m->used = true;
	pthread_mutex_unlock(&m->lock);
}

/* enc = base64url(SIV || ciphertext) of @p len bytes of @p plain. */
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
	free(buf); /* ciphertext only: nothing to wipe */
	return r;
}

/*
 * Decode and authenticate @p enc (at most @p enc_max characters) into
 * @p plain (room for @p plain_max bytes plus a NUL).
 * @return the plaintext length, -EINVAL when @p enc does not decode or
 * cannot hold a plaintext of 1..plain_max bytes, -EBADMSG when it does not
 * authenticate, or -ENOMEM/-EIO. On error @p plain holds nothing.
 */
static long unseal(struct names_ctx *ctx, const char *dom,
		   const uint8_t dirid[NAMES_DIRID_LEN], const char *enc,
		   size_t enc_max, char *plain, size_t plain_max)
{
	const uint8_t *ad[2] = { (const uint8_t *)dom, dirid };
	size_t ad_len[2] = { strlen(dom), NAMES_DIRID_LEN };
	size_t n = strnlen(enc, enc_max + 1);
	uint8_t *buf;
	long len;
	int r;

	plain[0] = '\0';
	if (n == 0 || n > enc_max)
		return -EINVAL;
	buf = malloc(n); /* decoded is always shorter than encoded */
	if (!buf)
		return -ENOMEM;
	/* Strict: foreign characters, padding, impossible lengths and
	 * non-zero trailing bits all fail, so each name has one spelling. */
	len = crypto_b64url_decode(enc, n, buf, n);
	if (len <= TAG || (size_t)(len - TAG) > plain_max) {
		free(buf);
		return -EINVAL;
	}
	r = crypto_siv_open(ctx->key, ad, ad_len, 2, buf + TAG,
			    (size_t)len - TAG, (uint8_t *)plain, buf);
	free(buf);
	if (r) {
		plain[0] = '\0'; /* crypto_siv_open wiped the rest */
		return r == -EINVAL ? -EIO : r; /* arguments were checked */
	}
	plain[len - TAG] = '\0';
	return len - TAG;
}

/* 0 for a name a directory may hold, else -EINVAL or -ENAMETOOLONG. */
static int name_valid(const char *s, size_t len)
{
	if (len == 0)
		return -EINVAL;
	if (len > NAMES_MAX)
		return -ENAMETOOLONG;
	if (memchr(s, '\0', len) || memchr(s, '/', len))
		return -EINVAL;
	if ((len == 1 && s[0] == '.') || (len == 2 && !memcmp(s, "..", 2)))
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
	if (memo_get(ctx, dirid, plain, len, enc))
		return 0;
	r = seal(ctx, dom_name, dirid, plain, len, enc);
	if (!r)
		memo_put(ctx, dirid, plain, len, enc);
	return r;
}

int names_decrypt(struct names_ctx *ctx, const uint8_t dirid[NAMES_DIRID_LEN],
		  const char *enc, char *plain)
{
	long len = unseal(ctx, dom_name, dirid, enc, NAMES_ENC_MAX, plain,
			  NAMES_MAX);

	if (len < 0)
		return (int)len;
	/*
	 * Authentic but unusable ("..", "a/b", embedded NUL): only someone
	 * holding the key could have written it, but it must still never
	 * reach the kernel as a directory entry.
	 */
	if (name_valid(plain, (size_t)len)) {
		secmem_wipe(plain, (size_t)len + 1);
		return -EINVAL;
	}
	/* Strictly decoded and authentic: the one encoding of the name. */
	memo_put(ctx, dirid, plain, (size_t)len, enc);
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
	long len = unseal(ctx, dom_target, dirid, enc, NAMES_TARGET_ENC_MAX,
			  target, NAMES_TARGET_MAX);

	if (len < 0)
		return (int)len;
	/* A NUL inside would silently shorten the target: refuse it. */
	if (memchr(target, '\0', (size_t)len)) {
		secmem_wipe(target, (size_t)len + 1);
		return -EINVAL;
	}
	return 0;
}

size_t names_target_len(size_t enc_len)
{
	/* Unpadded base64url: every 4 characters are 3 bytes, and a tail
	 * of 2 or 3 characters is 1 or 2 bytes, i.e. floor(6 n / 8). */
	size_t bytes = enc_len / 4 * 3 + (enc_len % 4 ? enc_len % 4 - 1 : 0);

	return bytes > TAG ? bytes - TAG : 0;
}

bool names_needs_long(const char *enc)
{
	return strnlen(enc, NAMES_MAX + 1) > NAMES_MAX;
}

int names_long_entry(const char *enc, char *out)
{
	size_t p = strlen(NAMES_LONG_PREFIX);
	uint8_t h[32];
	int r;

	r = crypto_sha256(enc, strnlen(enc, NAMES_ENC_MAX + 1), h);
	if (r)
		return r;
	memcpy(out, NAMES_LONG_PREFIX, p);
	crypto_b64url_encode(h, sizeof(h), out + p); /* NUL-terminates */
	return 0;
}

bool names_is_long_entry(const char *entry)
{
	size_t p = strlen(NAMES_LONG_PREFIX);

	if (strncmp(entry, NAMES_LONG_PREFIX, p) ||
	    strnlen(entry + p, LONG_HASH_CHARS + 1) != LONG_HASH_CHARS)
		return false;
	/* 43 characters carry 258 bits: the last must leave 2 bits zero,
	 * or the same hash would have four spellings. */
	if (strspn(entry + p, b64url_chars) != LONG_HASH_CHARS)
		return false;
	return (strchr(b64url_chars, entry[p + LONG_HASH_CHARS - 1]) -
		b64url_chars) % 4 == 0;
}

/*
 * Ours, never shown: every name with a '.' except the long entries, which
 * stand for user names. That covers atrestfs.conf and its temp file,
 * NAMES_DIRID_FILE and its temp file (NAMES_DIRID_FILE ".tmp"), the
 * directories mkdir builds under ".atrestfs.mkdir.*" and the long-name
 * NAMES_LONG_SUFFIX files. "." and ".." are the directory's own links,
 * not bookkeeping.
 */
bool names_is_bookkeeping(const char *entry)
{
	if (!strcmp(entry, ".") || !strcmp(entry, ".."))
		return false;
	return strchr(entry, '.') && !names_is_long_entry(entry);
}
