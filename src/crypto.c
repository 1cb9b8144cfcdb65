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
 * Names use AES-SIV (RFC 5297), built here from AES-CBC (for CMAC) and
 * AES-CTR contexts kept per thread like the GCM ones, rather than on
 * OpenSSL 3's AES-SIV cipher: that one allows one message per keying (a
 * re-init without a key keeps the last message's S2V state and refuses
 * to encrypt again), and each keying looks up CBC, CTR and CMAC by name
 * and allocates five contexts, most of the ~34k instructions a name
 * cost. Here a request keys two contexts of ciphers fetched once, and a
 * message only resets their IVs. The RFC's and Wycheproof's vectors, and
 * a comparison with OpenSSL's AES-SIV, are in check_crypto.c.
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
	/* SIV: @siv_mac (AES-CBC under the first half of @siv_key, for CMAC)
	 * and @siv_ctr (AES-CTR under the second half) are keyed while
	 * @siv_keyed; @siv_used: either may hold a key schedule (even a
	 * half-set one). @siv_sub holds CMAC's subkeys K1, K2 and
	 * CMAC(zero block), all derived from the key. */
	EVP_CIPHER_CTX *siv_mac, *siv_ctr;
	bool siv_keyed, siv_used;
	size_t siv_key_len;
	uint8_t *siv_key; /* secmem, CRYPTO_SIV_KEY_LEN bytes */
	uint8_t *siv_sub; /* secmem, 3 * 16 bytes */
};

static pthread_key_t tctx_key;
static pthread_once_t tctx_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *gcm_cipher;
static EVP_CIPHER *cbc_cipher[2], *ctr_cipher[2]; /* AES-256, AES-128: SIV */
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
	/* OpenSSL wipes a CBC or CTR context's key schedule when it frees it. */
	EVP_CIPHER_CTX_free(t->siv_mac);
	EVP_CIPHER_CTX_free(t->siv_ctr);
	secmem_free(t->siv_key);
	secmem_free(t->siv_sub);
	OPENSSL_free(t);
}

static void crypto_init_once(void)
{
	pthread_key_create(&tctx_key, thread_ctx_free);
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	cbc_cipher[0] = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	ctr_cipher[0] = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
	/* RFC 5297's own vectors use AES-128-SIV. */
	cbc_cipher[1] = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL);
	ctr_cipher[1] = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
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
	t->siv_sub = secmem_alloc(3 * 16);
	t->siv_mac = EVP_CIPHER_CTX_new();
	t->siv_ctr = EVP_CIPHER_CTX_new();
	if (!t->siv_key || !t->siv_sub || !t->siv_mac || !t->siv_ctr)
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
	/* As for GCM: resetting frees (and so wipes) the key schedules. */
	if (t->siv_used) {
		EVP_CIPHER_CTX_reset(t->siv_mac);
		EVP_CIPHER_CTX_reset(t->siv_ctr);
		t->siv_keyed = false;
		t->siv_used = false;
		secmem_wipe(t->siv_key, CRYPTO_SIV_KEY_LEN);
		secmem_wipe(t->siv_sub, 3 * 16);
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

/* ---- AES-SIV (RFC 5297) ---- */

enum { SIV_BLK = 16 };

static const uint8_t zero_blk[SIV_BLK];

/* RFC 5297's dbl(): multiplication by x in GF(2^128), constant time. */
static void siv_dbl(uint8_t b[SIV_BLK])
{
	uint8_t carry = (uint8_t)-(b[0] >> 7);

	for (int i = 0; i < SIV_BLK - 1; i++)
		b[i] = (uint8_t)(b[i] << 1 | b[i + 1] >> 7);
	b[SIV_BLK - 1] = (uint8_t)(b[SIV_BLK - 1] << 1 ^ (carry & 0x87));
}

/* @p dst ^= @p src, one block. */
static void xor_block(uint8_t dst[SIV_BLK], const uint8_t src[SIV_BLK])
{
	for (int i = 0; i < SIV_BLK; i++)
		dst[i] ^= src[i];
}

/*
 * One CMAC (NIST SP 800-38B) computation on the thread's CBC context: a
 * CBC-MAC from a zero IV whose last block is held back (@pend) until
 * the end, then tweaked with K1 (a full block) or padded and tweaked
 * with K2.
 */
struct cmac {
	EVP_CIPHER_CTX *c;
	const uint8_t *sub; /* K1 || K2 */
	uint8_t pend[SIV_BLK];
	size_t npend;
};

static int cmac_start(struct cmac *m, EVP_CIPHER_CTX *c, const uint8_t *sub)
{
	m->c = c;
	m->sub = sub;
	m->npend = 0;
	return EVP_CipherInit_ex2(c, NULL, NULL, zero_blk, 1, NULL) == 1 ? 0
									 : -EIO;
}

/* CBC-encrypt @p n (a multiple of 16) bytes; only the chaining matters. */
static int cmac_blocks(struct cmac *m, const uint8_t *in, size_t n)
{
	uint8_t out[256];
	int l, r = 0;

	while (n && !r) {
		int k = n < sizeof(out) ? (int)n : (int)sizeof(out);

		if (EVP_EncryptUpdate(m->c, out, &l, in, k) != 1 || l != k)
			r = -EIO;
		in += k;
		n -= (size_t)k;
	}
	OPENSSL_cleanse(out, sizeof(out));
	return r;
}

static int cmac_update(struct cmac *m, const uint8_t *in, size_t n)
{
	size_t take = n < SIV_BLK - m->npend ? n : SIV_BLK - m->npend, full;

	memcpy(m->pend + m->npend, in, take);
	m->npend += take;
	in += take;
	n -= take;
	if (!n)
		return 0;
	/* More follows, so the held block is not the last one. */
	if (cmac_blocks(m, m->pend, SIV_BLK))
		return -EIO;
	full = (n - 1) / SIV_BLK * SIV_BLK; /* keep 1..16 bytes back */
	if (cmac_blocks(m, in, full))
		return -EIO;
	m->npend = n - full;
	memcpy(m->pend, in + full, m->npend);
	return 0;
}

static int cmac_final(struct cmac *m, uint8_t out[SIV_BLK])
{
	const uint8_t *k = m->sub + (m->npend == SIV_BLK ? 0 : SIV_BLK);
	int l, r = 0;

	if (m->npend < SIV_BLK) {
		m->pend[m->npend] = 0x80;
		memset(m->pend + m->npend + 1, 0, SIV_BLK - m->npend - 1);
	}
	xor_block(m->pend, k);
	if (EVP_EncryptUpdate(m->c, out, &l, m->pend, SIV_BLK) != 1 ||
	    l != SIV_BLK)
		r = -EIO;
	OPENSSL_cleanse(m->pend, sizeof(m->pend));
	return r;
}

/*
 * Key the calling thread's SIV contexts with @p key (two halves: CMAC's,
 * then CTR's) unless they hold it already, and derive CMAC's subkeys and
 * S2V's first value, CMAC(zero block).
 */
static struct thread_ctx *siv_keyed_ctx(const uint8_t *key, size_t key_len)
{
	struct thread_ctx *t = thread_ctx();
	int v = key_len == 32; /* AES-128-SIV */
	size_t half = key_len / 2;
	uint8_t l[SIV_BLK];
	struct cmac m;
	int n;

	if (!t || !cbc_cipher[v] || !ctr_cipher[v])
		return NULL;
	t->siv_used = true;
	if (t->siv_keyed && t->siv_key_len == key_len &&
	    CRYPTO_memcmp(t->siv_key, key, key_len) == 0)
		return t;
	/* A failed init may leave a half-set key: not "keyed" (and so not
	 * compared) until done. Passing the cipher again also replaces the
	 * other key length's. */
	t->siv_keyed = false;
	if (EVP_CipherInit_ex2(t->siv_mac, cbc_cipher[v], key, zero_blk, 1,
			       NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(t->siv_mac, 0) != 1 ||
	    EVP_CipherInit_ex2(t->siv_ctr, ctr_cipher[v], key + half, zero_blk,
			       1, NULL) != 1)
		return NULL;
	/* SP 800-38B: L = AES(0), K1 = dbl(L), K2 = dbl(K1). */
	if (EVP_EncryptUpdate(t->siv_mac, l, &n, zero_blk, SIV_BLK) != 1 ||
	    n != SIV_BLK) {
		OPENSSL_cleanse(l, sizeof(l));
		return NULL;
	}
	siv_dbl(l);
	memcpy(t->siv_sub, l, SIV_BLK);
	siv_dbl(l);
	memcpy(t->siv_sub + SIV_BLK, l, SIV_BLK);
	OPENSSL_cleanse(l, sizeof(l));
	if (cmac_start(&m, t->siv_mac, t->siv_sub) ||
	    cmac_update(&m, zero_blk, SIV_BLK) ||
	    cmac_final(&m, t->siv_sub + 2 * SIV_BLK))
		return NULL;
	memcpy(t->siv_key, key, key_len);
	t->siv_key_len = key_len;
	t->siv_keyed = true;
	return t;
}

/* RFC 5297's S2V over the associated data and the plaintext @p p. */
static int siv_s2v(struct thread_ctx *t, const uint8_t *const *ad,
		   const size_t *ad_len, size_t n_ad, const uint8_t *p,
		   size_t len, uint8_t v[SIV_BLK])
{
	uint8_t d[SIV_BLK], x[SIV_BLK];
	struct cmac m;
	int r = -EIO;

	memcpy(d, t->siv_sub + 2 * SIV_BLK, SIV_BLK);
	for (size_t i = 0; i < n_ad; i++) {
		if (cmac_start(&m, t->siv_mac, t->siv_sub) ||
		    cmac_update(&m, ad[i], ad_len[i]) || cmac_final(&m, x))
			goto out;
		siv_dbl(d);
		xor_block(d, x);
	}
	if (cmac_start(&m, t->siv_mac, t->siv_sub))
		goto out;
	if (len >= SIV_BLK) { /* T = P xorend D */
		memcpy(x, p + len - SIV_BLK, SIV_BLK);
		if (cmac_update(&m, p, len - SIV_BLK))
			goto out;
	} else { /* T = dbl(D) xor pad(P) */
		siv_dbl(d);
		memset(x, 0, sizeof(x));
		memcpy(x, p, len);
		x[len] = 0x80;
	}
	xor_block(x, d);
	if (cmac_update(&m, x, SIV_BLK) || cmac_final(&m, v))
		goto out;
	r = 0;
out:
	OPENSSL_cleanse(d, sizeof(d));
	OPENSSL_cleanse(x, sizeof(x));
	return r;
}

/* CTR under the second key half from Q = V with bits 63 and 31 cleared. */
static int siv_ctr(struct thread_ctx *t, const uint8_t v[SIV_BLK],
		   const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t q[SIV_BLK];
	int l;

	memcpy(q, v, SIV_BLK);
	q[8] &= 0x7f;
	q[12] &= 0x7f;
	if (EVP_CipherInit_ex2(t->siv_ctr, NULL, NULL, q, 1, NULL) != 1 ||
	    EVP_EncryptUpdate(t->siv_ctr, out, &l, in, (int)len) != 1 ||
	    l != (int)len)
		return -EIO;
	return 0;
}

static int siv_run(int enc, const uint8_t *key, size_t key_len,
		   const uint8_t *const *ad, const size_t *ad_len, size_t n_ad,
		   const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	struct thread_ctx *t;
	uint8_t v[SIV_BLK];
	int r = -EIO;

	if (len == 0 || len > INT32_MAX ||
	    (key_len != CRYPTO_SIV_KEY_LEN && key_len != 32))
		return -EINVAL;
	pthread_once(&tctx_once, crypto_init_once);
	t = siv_keyed_ctx(key, key_len);
	if (!t)
		goto out;
	if (enc) {
		if (siv_s2v(t, ad, ad_len, n_ad, in, len, tag) ||
		    siv_ctr(t, tag, in, len, out))
			goto out;
		r = 0;
		goto out;
	}
	/* Decrypt, then check the SIV of the result: nothing is handed out
	 * before it matches. */
	if (siv_ctr(t, tag, in, len, out) ||
	    siv_s2v(t, ad, ad_len, n_ad, out, len, v))
		goto out;
	r = CRYPTO_memcmp(v, tag, SIV_BLK) == 0 ? 0 : -EBADMSG;
out:
	if (r && !enc)
		OPENSSL_cleanse(out, len);
	OPENSSL_cleanse(v, sizeof(v));
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
