// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Known-answer and misuse tests of the crypto core: NIST/McGrew-Viega GCM
 * vectors (including non-96-bit IVs, the GHASH-derived counter path our
 * 128-bit nonces take), RFC 5869 HKDF, RFC 5297 SIV, RFC 4648 base64, key
 * wrap round trips, and every tamper case giving -EBADMSG.
 */
#include <errno.h>
#include <stdio.h>

#include "testutil.h"
#include "crypto.h"
#include "secmem.h"

/* "The Galois/Counter Mode of Operation (GCM)", McGrew & Viega, App. B:
 * AES-256 test cases 14-18. */
static const struct gcm_vec {
	const char *name, *key, *iv, *aad, *pt, *ct, *tag;
} gcm_vecs[] = {
	{ "TC14", "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "00000000000000000000000000000000",
	  "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "TC16", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
	{ "TC17 (64-bit IV)", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbad", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
	  "3a337dbf46a792c45e454913fe2ea8f2" },
	{ "TC18 (480-bit IV)", "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf40fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
	  "a44a8266ee1c8eb0c8b5d4cf5ae9f19a" },
};

START_TEST(gcm_known_answers)
{
	const struct gcm_vec *v = &gcm_vecs[_i];
	size_t kl, il, al, pl, cl, tl;
	uint8_t *k = hex(v->key, &kl), *iv = hex(v->iv, &il), *a = hex(v->aad, &al),
		*p = hex(v->pt, &pl), *c = hex(v->ct, &cl), *t = hex(v->tag, &tl);
	uint8_t out[128], tag[16], back[128];

	ck_assert_int_eq(crypto_gcm_seal(k, iv, il, a, al, p, pl, out, tag), 0);
	ck_assert_msg(!memcmp(out, c, cl), "%s: ciphertext differs", v->name);
	ck_assert_msg(!memcmp(tag, t, 16), "%s: tag differs", v->name);
	ck_assert_int_eq(crypto_gcm_open(k, iv, il, a, al, c, cl, back, t), 0);
	ck_assert(!memcmp(back, p, pl));
	free(k); free(iv); free(a); free(p); free(c); free(t);
}
END_TEST

START_TEST(gcm_tamper_gives_ebadmsg)
{
	uint8_t key[32] = { 1 }, iv[16] = { 2 }, aad[24] = { 3 }, pt[100], ct[100],
		tag[16], out[100];

	memset(pt, 'p', sizeof(pt));
	ck_assert_int_eq(crypto_gcm_seal(key, iv, 16, aad, 24, pt, 100, ct, tag), 0);
	ct[50] ^= 1;
	ck_assert_int_eq(crypto_gcm_open(key, iv, 16, aad, 24, ct, 100, out, tag), -EBADMSG);
	for (int i = 0; i < 100; i++)
		ck_assert_msg(out[i] == 0, "unauthenticated plaintext left in the buffer");
	ct[50] ^= 1;
	tag[0] ^= 0x80;
	ck_assert_int_eq(crypto_gcm_open(key, iv, 16, aad, 24, ct, 100, out, tag), -EBADMSG);
	tag[0] ^= 0x80;
	aad[23] ^= 1;
	ck_assert_int_eq(crypto_gcm_open(key, iv, 16, aad, 24, ct, 100, out, tag), -EBADMSG);
	aad[23] ^= 1;
	iv[15] ^= 1;
	ck_assert_int_eq(crypto_gcm_open(key, iv, 16, aad, 24, ct, 100, out, tag), -EBADMSG);
	iv[15] ^= 1;
	ck_assert_int_eq(crypto_gcm_open(key, iv, 16, aad, 24, ct, 100, out, tag), 0);
	ck_assert(!memcmp(out, pt, 100));
}
END_TEST

/* RFC 5869, Appendix A, test cases 1-3 (SHA-256). */
static const struct hkdf_vec {
	const char *ikm, *salt, *info, *okm;
} hkdf_vecs[] = {
	{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "000102030405060708090a0b0c",
	  "f0f1f2f3f4f5f6f7f8f9",
	  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865" },
	{ "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
	  "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
	  "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
	  "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87" },
	{ "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "", "",
	  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8" },
};

START_TEST(hkdf_rfc5869)
{
	const struct hkdf_vec *v = &hkdf_vecs[_i];
	size_t il, sl, nl, ol;
	uint8_t *ikm = hex(v->ikm, &il), *salt = hex(v->salt, &sl),
		*info = hex(v->info, &nl), *okm = hex(v->okm, &ol), out[128];

	ck_assert_int_eq(crypto_hkdf(ikm, il, salt, sl, info, nl, out, ol), 0);
	ck_assert_msg(!memcmp(out, okm, ol), "RFC 5869 case %d", _i + 1);
	free(ikm); free(salt); free(info); free(okm);
}
END_TEST

/* RFC 5297, Appendix A.1 (deterministic AES-SIV, AES-128 keys). */
START_TEST(siv_rfc5297_a1)
{
	uint8_t *key = hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", NULL);
	size_t al, pl;
	uint8_t *ad = hex("101112131415161718191a1b1c1d1e1f2021222324252627", &al);
	uint8_t *pt = hex("112233445566778899aabbccddee", &pl);
	uint8_t *want_tag = hex("85632d07c6e8f37f950acd320a2ecc93", NULL);
	uint8_t *want_ct = hex("40c02b9690c4dc04daef7f6afe5c", NULL);
	const uint8_t *ads[1] = { ad };
	uint8_t ct[14], tag[16];

	ck_assert_int_eq(crypto_siv_seal_keylen(key, 32, ads, &al, 1, pt, pl, ct, tag), 0);
	ck_assert(!memcmp(tag, want_tag, 16));
	ck_assert(!memcmp(ct, want_ct, 14));
	free(key); free(ad); free(pt); free(want_tag); free(want_ct);
}
END_TEST

START_TEST(siv256_roundtrip_and_tamper)
{
	uint8_t key[64], ct[40], tag[16], out[40];
	const uint8_t *ad[2] = { (const uint8_t *)"dom", (const uint8_t *)"0123456789abcdef" };
	size_t adl[2] = { 3, 16 };
	const char *msg = "a name of forty bytes, more or less....";

	memset(key, 7, sizeof(key));
	ck_assert_int_eq(crypto_siv_seal(key, ad, adl, 2, (const uint8_t *)msg, 39, ct, tag), 0);
	ck_assert_int_eq(crypto_siv_open(key, ad, adl, 2, ct, 39, out, tag), 0);
	ck_assert(!memcmp(out, msg, 39));
	ct[3] ^= 4;
	ck_assert_int_eq(crypto_siv_open(key, ad, adl, 2, ct, 39, out, tag), -EBADMSG);
	ct[3] ^= 4;
	adl[1] = 15;
	ck_assert_int_eq(crypto_siv_open(key, ad, adl, 2, ct, 39, out, tag), -EBADMSG);
	ck_assert_int_eq(crypto_siv_seal(key, ad, adl, 2, (const uint8_t *)msg, 0, ct, tag), -EINVAL);
}
END_TEST

START_TEST(keywrap_roundtrip_and_tamper)
{
	uint8_t kek[32] = { 9 }, key[32], w[48], out[48];
	size_t wl, ol;

	memset(key, 0x5a, sizeof(key));
	ck_assert_int_eq(crypto_keywrap(kek, key, 32, w, &wl), 0);
	ck_assert_uint_eq(wl, 40);
	ck_assert_int_eq(crypto_keyunwrap(kek, w, wl, out, &ol), 0);
	ck_assert_uint_eq(ol, 32);
	ck_assert(!memcmp(out, key, 32));
	w[10] ^= 1;
	ck_assert_int_eq(crypto_keyunwrap(kek, w, wl, out, &ol), -EBADMSG);
	w[10] ^= 1;
	kek[0] ^= 1;
	ck_assert_int_eq(crypto_keyunwrap(kek, w, wl, out, &ol), -EBADMSG);
	ck_assert_int_eq(crypto_keyunwrap(kek, w, 13, out, &ol), -EINVAL);
}
END_TEST

/* RFC 4648 section 10. */
START_TEST(base64_rfc4648)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *std[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	static const char *url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
	char out[16];
	uint8_t back[16];

	for (int i = 0; i < 7; i++) {
		size_t n = strlen(in[i]);
		crypto_b64_encode((const uint8_t *)in[i], n, out);
		ck_assert_str_eq(out, std[i]);
		crypto_b64url_encode((const uint8_t *)in[i], n, out);
		ck_assert_str_eq(out, url[i]);
		ck_assert_int_eq(crypto_b64_decode(std[i], strlen(std[i]), back, sizeof(back)), (long)n);
		ck_assert(!memcmp(back, in[i], n));
		ck_assert_int_eq(crypto_b64url_decode(url[i], strlen(url[i]), back, sizeof(back)), (long)n);
		ck_assert(!memcmp(back, in[i], n));
	}
}
END_TEST

START_TEST(base64_strict_rejects)
{
	uint8_t b[16];

	ck_assert_int_eq(crypto_b64_decode("Zm9", 3, b, 16), -EINVAL);      /* no padding */
	ck_assert_int_eq(crypto_b64_decode("Zm=v", 4, b, 16), -EINVAL);     /* pad inside */
	ck_assert_int_eq(crypto_b64_decode("Zh==", 4, b, 16), -EINVAL);     /* non-canonical */
	ck_assert_int_eq(crypto_b64_decode("Zm9v", 4, b, 2), -E2BIG);
	ck_assert_int_eq(crypto_b64url_decode("Zm+v", 4, b, 16), -EINVAL);  /* std char */
	ck_assert_int_eq(crypto_b64url_decode("Z", 1, b, 16), -EINVAL);     /* impossible length */
	ck_assert_int_eq(crypto_b64url_decode("Zm.v", 4, b, 16), -EINVAL);
	ck_assert_int_eq(crypto_b64url_decode("Zm8=", 4, b, 16), -EINVAL);  /* padding in url */
}
END_TEST

START_TEST(memeq_and_random)
{
	uint8_t a[32], b[32];

	ck_assert_int_eq(crypto_random(a, sizeof(a)), 0);
	memcpy(b, a, sizeof(a));
	ck_assert_int_eq(crypto_memeq(a, b, 32), 1);
	b[31] ^= 1;
	ck_assert_int_eq(crypto_memeq(a, b, 32), 0);
	ck_assert_int_eq(crypto_random_priv(b, sizeof(b)), 0);
	ck_assert_int_eq(crypto_memeq(a, b, 32), 0);
}
END_TEST

START_TEST(secmem_zeroed_and_wiped)
{
	uint8_t *p = secmem_alloc(100), *q;

	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(p[i], 0);
	memset(p, 0xaa, 100);
	secmem_wipe(p, 50);
	ck_assert_int_eq(p[49], 0);
	ck_assert_int_eq(p[50], 0xaa);
	q = secmem_alloc(5000); /* spans pages */
	ck_assert_ptr_nonnull(q);
	memset(q, 1, 5000);
	secmem_free(p);
	secmem_free(q);
	secmem_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crypto");
	TCase *tc = tcase_create("gcm_known_answers");

	tcase_add_loop_test(tc, gcm_known_answers, 0, sizeof(gcm_vecs) / sizeof(gcm_vecs[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("hkdf_rfc5869");
	tcase_add_loop_test(tc, hkdf_rfc5869, 0, 3);
	suite_add_tcase(s, tc);
	ADD_TEST(s, gcm_tamper_gives_ebadmsg);
	ADD_TEST(s, siv_rfc5297_a1);
	ADD_TEST(s, siv256_roundtrip_and_tamper);
	ADD_TEST(s, keywrap_roundtrip_and_tamper);
	ADD_TEST(s, base64_rfc4648);
	ADD_TEST(s, base64_strict_rejects);
	ADD_TEST(s, memeq_and_random);
	ADD_TEST(s, secmem_zeroed_and_wiped);
	return run_suite(s);
}
