// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Crypto core on OpenSSL 3. The only file that includes OpenSSL headers.
 *
 * Hot path: crypto_gcm_seal()/crypto_gcm_open() run once per 4 KiB block on
 * every FUSE worker thread. Each thread keeps its own pre-initialised cipher
 * contexts (one per direction), so a call is one IV init (plus a key
 * schedule when the key differs from the one the context holds), one update
 * and one final. A context holds its key schedule in OpenSSL's ordinary
 * heap, so crypto_forget() erases it (frees OpenSSL's part, which the next
 * call sets up again) when the request that needed it is done. Every
 * OpenSSL return is checked with != 1.
 *
 * Names (AES-SIV, one message per create/lookup/unlink) get the same
 * treatment, but OpenSSL 3's SIV context cannot be re-initialised for a
 * second message without a key: with a NULL key it keeps the S2V state of
 * the last message and refuses a second encryption (it allows one crypto
 * operation per keying), and keying it again fetches CBC, CTR and CMAC
 * implementations and computes both key schedules. So each thread keeps a
 * keyed SIV "template" context, never used for a message, and copies it
 * into a working context per message: a copy of a freshly keyed state,
 * without fetches or key schedules. crypto_forget() erases both.
 */
#include "crypto.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "secmem.h"

enum { CTX_GCM_ENC, CTX_GCM_DEC, CTX_COUNT };

/*
 * One thread's GCM contexts. A context is "ready" once the cipher is set on
 * it, and "keyed" while it holds a key schedule; @key is then a copy of
 * that key in locked memory, compared (constant time) with the next call's
 * key so that the blocks of one request are not keyed one by one. Only the
 * owning thread touches its struct.
 */
struct thread_ctx {
	EVP_CIPHER_CTX *c[CTX_COUNT];
	int ivlen[CTX_COUNT];
	bool ready[CTX_COUNT];
	bool keyed[CTX_COUNT];
	uint8_t *key[CTX_COUNT]; /* secmem, CRYPTO_KEY_LEN bytes */
	/* SIV: @siv_tpl is keyed (with @siv_key, @siv_key_len bytes) while
	 * @siv_keyed; @siv_work is the copy a message runs on. @siv_used:
	 * either may hold a key schedule (even a half-set one). */
	EVP_CIPHER_CTX *siv_tpl, *siv_work;
	bool siv_keyed, siv_used;
	size_t siv_key_len;
	uint8_t *siv_key; /* secmem, CRYPTO_SIV_KEY_LEN bytes */
};

static pthread_key_t tctx_key;
static pthread_once_t tctx_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *gcm_cipher;
static EVP_CIPHER *siv_cipher;
static EVP_CIPHER *siv128_cipher; /* RFC 5297's own vectors use it */
static EVP_CIPHER *wrap_cipher;
static EVP_CIPHER *wrap192_cipher; /* RFC 5649's own vectors use it */

static void thread_ctx_free(void *p)
{
	struct thread_ctx *t = p;

	/* OpenSSL wipes a GCM context's key schedule when it frees it. */
	for (int i = 0; i < CTX_COUNT; i++) {
		EVP_CIPHER_CTX_free(t->c[i]);
		secmem_free(t->key[i]);
	}
	/* SIV's free wipes its state and its CMAC and CTR contexts. */
	EVP_CIPHER_CTX_free(t->siv_tpl);
	EVP_CIPHER_CTX_free(t->siv_work);
	secmem_free(t->siv_key);
	OPENSSL_free(t);
}

static void crypto_init_once(void)
{
	pthread_key_create(&tctx_key, thread_ctx_free);
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	siv_cipher = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL);
	siv128_cipher = EVP_CIPHER_fetch(NULL, "AES-128-SIV", NULL);
	wrap_cipher = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	wrap192_cipher = EVP_CIPHER_fetch(NULL, "AES-192-WRAP-PAD", NULL);
}

static struct thread_ctx *thread_ctx(void)
{
	struct thread_ctx *t;

	pthread_once(&tctx_once, crypto_init_once);
	t = pthread_getspecific(tctx_key);
	if (t)
		return t;
	t = OPENSSL_zalloc(sizeof(*t));
	if (!t)
		return NULL;
	for (int i = 0; i < CTX_COUNT; i++) {
		t->key[i] = secmem_alloc(CRYPTO_KEY_LEN);
		t->c[i] = EVP_CIPHER_CTX_new();
		if (!t->key[i] || !t->c[i])
			goto fail;
	}
	t->siv_key = secmem_alloc(CRYPTO_SIV_KEY_LEN);
	t->siv_tpl = EVP_CIPHER_CTX_new();
	t->siv_work = EVP_CIPHER_CTX_new();
	if (!t->siv_key || !t->siv_tpl || !t->siv_work)
		goto fail;
	if (pthread_setspecific(tctx_key, t))
		goto fail;
	return t;
fail:
	thread_ctx_free(t);
	return NULL;
}

/*
 * The calling thread's GCM context for one direction, set up for a new
 * message under @p key with @p iv. The key schedule is computed only when
 * the context holds none or another key.
 */
static EVP_CIPHER_CTX *gcm_ctx(int which, const uint8_t *key,
			       const uint8_t *iv, size_t iv_len)
{
	struct thread_ctx *t = thread_ctx();
	EVP_CIPHER_CTX *c;
	bool same;

	if (!t || !gcm_cipher)
		return NULL;
	c = t->c[which];
	if (!t->ready[which]) {
		if (EVP_CipherInit_ex2(c, gcm_cipher, NULL, NULL,
				       which == CTX_GCM_ENC, NULL) != 1)
			return NULL;
		t->ready[which] = true;
		t->ivlen[which] = 12;
	}
	if (t->ivlen[which] != (int)iv_len) {
		if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len,
					NULL) != 1)
			return NULL;
		t->ivlen[which] = (int)iv_len;
	}
	same = t->keyed[which] &&
	       CRYPTO_memcmp(t->key[which], key, CRYPTO_KEY_LEN) == 0;
	/* A failed init may leave a half-set key: not "keyed" until done. */
	t->keyed[which] = false;
	if (EVP_CipherInit_ex2(c, NULL, same ? NULL : key, iv,
			       which == CTX_GCM_ENC, NULL) != 1)
		return NULL;
	if (!same)
		memcpy(t->key[which], key, CRYPTO_KEY_LEN);
	t->keyed[which] = true;
	return c;
}

void crypto_forget(void)
{
	struct thread_ctx *t;

	pthread_once(&tctx_once, crypto_init_once);
	t = pthread_getspecific(tctx_key);
	if (!t)
		return;
	for (int i = 0; i < CTX_COUNT; i++) {
		if (!t->ready[i])
			continue;
		/* Resetting frees the provider's context, and OpenSSL's GCM
		 * wipes it (key schedule, GHASH table, counter blocks) when
		 * it does; the cipher is set again on the next use. */
		EVP_CIPHER_CTX_reset(t->c[i]);
		t->ready[i] = false;
		t->keyed[i] = false;
		secmem_wipe(t->key[i], CRYPTO_KEY_LEN);
	}
	/* Resetting a SIV context frees (and wipes) its CMAC and CTR
	 * contexts; the working copy holds the same schedules. */
	if (t->siv_used) {
		EVP_CIPHER_CTX_reset(t->siv_tpl);
		EVP_CIPHER_CTX_reset(t->siv_work);
		t->siv_keyed = false;
		t->siv_used = false;
		secmem_wipe(t->siv_key, CRYPTO_SIV_KEY_LEN);
	}
}

int crypto_random(void *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -EIO;
}

int crypto_random_priv(void *buf, size_t n)
{
	return RAND_priv_bytes(buf, (int)n) == 1 ? 0 : -EIO;
}

int crypto_hkdf(const uint8_t *key, size_t key_len, const uint8_t *salt,
		size_t salt_len, const uint8_t *info, size_t info_len,
		uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5], *q = p;
	int r = -EIO;

	if (!kctx)
		goto out;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)key, key_len);
	/* RFC 5869 makes salt and info optional; OpenSSL refuses a NULL
	 * octet string, and leaving a parameter out means "empty". */
	if (salt_len)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
							 (void *)salt, salt_len);
	if (info_len)
		*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
							 (void *)info, info_len);
	*q = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, p) == 1)
		r = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

int crypto_hmac(const uint8_t *key, size_t key_len, const void *data,
		size_t len, uint8_t out[CRYPTO_MAC_LEN])
{
	size_t out_len = 0;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, data,
		      len, out, CRYPTO_MAC_LEN, &out_len) == NULL ||
	    out_len != CRYPTO_MAC_LEN)
		return -EIO;
	return 0;
}

int crypto_sha256(const void *data, size_t len, uint8_t out[32])
{
	return EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) == 1 ? 0
									 : -EIO;
}

int crypto_memeq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int crypto_gcm_seal(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *iv,
		    size_t iv_len, const uint8_t *aad, size_t aad_len,
		    const uint8_t *pt, size_t len, uint8_t *ct,
		    uint8_t tag[CRYPTO_TAG_LEN])
{
	EVP_CIPHER_CTX *c;
	int l;

	if (iv_len == 0 || iv_len > 64 || len > INT32_MAX || aad_len > INT32_MAX)
		return -EINVAL;
	c = gcm_ctx(CTX_GCM_ENC, key, iv, iv_len);
	if (!c)
		return -EIO;
	if (aad_len && EVP_EncryptUpdate(c, NULL, &l, aad, (int)aad_len) != 1)
		return -EIO;
	if (len && EVP_EncryptUpdate(c, ct, &l, pt, (int)len) != 1)
		return -EIO;
	if (EVP_EncryptFinal_ex(c, ct + len, &l) != 1)
		return -EIO;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN, tag) !=
	    1)
		return -EIO;
	return 0;
}

int crypto_gcm_open(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t *iv,
		    size_t iv_len, const uint8_t *aad, size_t aad_len,
		    const uint8_t *ct, size_t len, uint8_t *pt,
		    const uint8_t tag[CRYPTO_TAG_LEN])
{
	EVP_CIPHER_CTX *c;
	int l;

	if (iv_len == 0 || iv_len > 64 || len > INT32_MAX || aad_len > INT32_MAX)
		return -EINVAL;
	c = gcm_ctx(CTX_GCM_DEC, key, iv, iv_len);
	if (!c)
		return -EIO;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN,
				(void *)tag) != 1)
		return -EIO;
	if (aad_len && EVP_DecryptUpdate(c, NULL, &l, aad, (int)aad_len) != 1)
		return -EIO;
	if (len && EVP_DecryptUpdate(c, pt, &l, ct, (int)len) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(c, pt + len, &l) != 1) {
		/* Never hand out plaintext that failed authentication. */
		OPENSSL_cleanse(pt, len);
		return -EBADMSG;
	}
	return 0;
}

/*
 * The calling thread's SIV context for one message in direction @p enc
 * under @p key: a copy of the thread's template, which is keyed again only
 * when it holds no key or another one.
 */
static EVP_CIPHER_CTX *siv_ctx(int enc, const uint8_t *key, size_t key_len)
{
	struct thread_ctx *t = thread_ctx();
	EVP_CIPHER *cipher = key_len == 32 ? siv128_cipher : siv_cipher;

	if (!t || !cipher)
		return NULL;
	t->siv_used = true;
	if (!t->siv_keyed || t->siv_key_len != key_len ||
	    CRYPTO_memcmp(t->siv_key, key, key_len) != 0) {
		/* A failed init may leave a half-set key: not "keyed" (and so
		 * not compared) until done. The reset drops the old cipher,
		 * which may be the other key length's. */
		t->siv_keyed = false;
		EVP_CIPHER_CTX_reset(t->siv_tpl);
		if (EVP_CipherInit_ex2(t->siv_tpl, cipher, key, NULL, 1, NULL) !=
		    1)
			return NULL;
		memcpy(t->siv_key, key, key_len);
		t->siv_key_len = key_len;
		t->siv_keyed = true;
	}
	/* The copy frees the last message's state (wiping it) first; a NULL
	 * key init only sets the direction, on a state not used yet. */
	if (EVP_CIPHER_CTX_copy(t->siv_work, t->siv_tpl) != 1 ||
	    (!enc && EVP_CipherInit_ex2(t->siv_work, NULL, NULL, NULL, 0,
					NULL) != 1))
		return NULL;
	return t->siv_work;
}

static int siv_run(int enc, const uint8_t *key, size_t key_len,
		   const uint8_t *const *ad, const size_t *ad_len, size_t n_ad,
		   const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c;
	int l, r = -EIO;

	if (len == 0 || len > INT32_MAX ||
	    (key_len != CRYPTO_SIV_KEY_LEN && key_len != 32))
		return -EINVAL;
	pthread_once(&tctx_once, crypto_init_once);
	c = siv_ctx(enc, key, key_len);
	if (!c)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG,
					CRYPTO_TAG_LEN, tag) != 1)
		goto out;
	for (size_t i = 0; i < n_ad; i++)
		if (EVP_CipherUpdate(c, NULL, &l, ad[i], (int)ad_len[i]) != 1)
			goto out;
	/* A tampered ciphertext already fails here, not only in Final. */
	if (EVP_CipherUpdate(c, out, &l, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(c, out + len, &l) != 1) {
		r = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG,
				       CRYPTO_TAG_LEN, tag) != 1)
		goto out;
	r = 0;
out:
	if (r && !enc)
		OPENSSL_cleanse(out, len);
	return r;
}

int crypto_siv_seal(const uint8_t key[CRYPTO_SIV_KEY_LEN],
		    const uint8_t *const *ad, const size_t *ad_len, size_t n_ad,
		    const uint8_t *pt, size_t len, uint8_t *ct,
		    uint8_t tag[CRYPTO_TAG_LEN])
{
	return siv_run(1, key, CRYPTO_SIV_KEY_LEN, ad, ad_len, n_ad, pt, len,
		       ct, tag);
}

int crypto_siv_seal_keylen(const uint8_t *key, size_t key_len,
			   const uint8_t *const *ad, const size_t *ad_len,
			   size_t n_ad, const uint8_t *pt, size_t len,
			   uint8_t *ct, uint8_t tag[CRYPTO_TAG_LEN])
{
	return siv_run(1, key, key_len, ad, ad_len, n_ad, pt, len, ct, tag);
}

int crypto_siv_open(const uint8_t key[CRYPTO_SIV_KEY_LEN],
		    const uint8_t *const *ad, const size_t *ad_len, size_t n_ad,
		    const uint8_t *ct, size_t len, uint8_t *pt,
		    const uint8_t tag[CRYPTO_TAG_LEN])
{
	return siv_run(0, key, CRYPTO_SIV_KEY_LEN, ad, ad_len, n_ad, ct, len,
		       pt, (uint8_t *)tag);
}

static int wrap_run(int enc, const uint8_t *kek, size_t kek_len,
		    const uint8_t *in, size_t len, uint8_t *out,
		    size_t *out_len)
{
	EVP_CIPHER_CTX *c;
	EVP_CIPHER *cipher;
	int l = 0, l2 = 0, r = -EIO;

	if (len == 0 || len > 4096 || (!enc && (len < 16 || len % 8)) ||
	    (kek_len != CRYPTO_KEY_LEN && kek_len != 24))
		return -EINVAL;
	pthread_once(&tctx_once, crypto_init_once);
	cipher = kek_len == 24 ? wrap192_cipher : wrap_cipher;
	if (!cipher)
		return -EIO;
	c = EVP_CIPHER_CTX_new();
	if (!c)
		return -ENOMEM;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex2(c, cipher, kek, NULL, enc, NULL) != 1)
		goto out;
	if (EVP_CipherUpdate(c, out, &l, in, (int)len) != 1 ||
	    EVP_CipherFinal_ex(c, out + l, &l2) != 1) {
		r = enc ? -EIO : -EBADMSG;
		goto out;
	}
	*out_len = (size_t)l + (size_t)l2;
	r = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

int crypto_keywrap(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t *in,
		   size_t len, uint8_t *out, size_t *out_len)
{
	return wrap_run(1, kek, CRYPTO_KEY_LEN, in, len, out, out_len);
}

int crypto_keyunwrap(const uint8_t kek[CRYPTO_KEY_LEN], const uint8_t *in,
		     size_t len, uint8_t *out, size_t *out_len)
{
	return wrap_run(0, kek, CRYPTO_KEY_LEN, in, len, out, out_len);
}

int crypto_keywrap_keylen(int enc, const uint8_t *kek, size_t kek_len,
			  const uint8_t *in, size_t len, uint8_t *out,
			  size_t *out_len)
{
	return wrap_run(enc, kek, kek_len, in, len, out, out_len);
}

/* ---- base64: own strict codec; EVP_DecodeBlock counts padding as data ---- */

static const char b64_std[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t crypto_b64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

static size_t b64_encode(const char *alpha, int pad, const uint8_t *in,
			 size_t n, char *out)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		out[o++] = alpha[(v >> 6) & 63];
		out[o++] = alpha[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		out[o++] = alpha[v >> 18];
		out[o++] = alpha[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = alpha[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

size_t crypto_b64url_encode(const uint8_t *in, size_t n, char *out)
{
	return b64_encode(b64_url, 0, in, n, out);
}

size_t crypto_b64_encode(const uint8_t *in, size_t n, char *out)
{
	return b64_encode(b64_std, 1, in, n, out);
}

static int b64_val(const char *alpha, char ch)
{
	const char *p = ch ? strchr(alpha, ch) : NULL;

	return p ? (int)(p - alpha) : -1;
}

static long b64_decode(const char *alpha, int pad, const char *in, size_t n,
		       uint8_t *out, size_t cap)
{
	size_t full, rem, o = 0;
	uint32_t v = 0;

	if (pad) {
		if (n % 4)
			return -EINVAL;
		if (n && in[n - 1] == '=')
			n--;
		if (n && in[n - 1] == '=')
			n--;
	}
	rem = n % 4;
	if (rem == 1)
		return -EINVAL;
	full = n - rem;
	if (full / 4 * 3 + (rem ? rem - 1 : 0) > cap)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		int d = b64_val(alpha, in[i]);
		if (d < 0)
			return -EINVAL;
		v = v << 6 | (uint32_t)d;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(v >> 16);
			out[o++] = (uint8_t)(v >> 8);
			out[o++] = (uint8_t)v;
			v = 0;
		}
	}
	if (rem == 2) {
		if (v & 0xf) /* non-canonical: leftover bits must be zero */
			return -EINVAL;
		out[o++] = (uint8_t)(v >> 4);
	} else if (rem == 3) {
		if (v & 0x3)
			return -EINVAL;
		out[o++] = (uint8_t)(v >> 10);
		out[o++] = (uint8_t)(v >> 2);
	}
	return (long)o;
}

long crypto_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	return b64_decode(b64_url, 0, in, n, out, cap);
}

long crypto_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	return b64_decode(b64_std, 1, in, n, out, cap);
}
