// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Name encryption: the on-disk encoding pinned by known answers (computed
 * with an independent AES-SIV implementation from the format description),
 * round trips for every length 1..255, directory binding, refusal of
 * invalid and hostile names, long names, the bookkeeping table, symlink
 * targets (directory ID files: check_dirid.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "crypto.h"
#include "log.h"
#include "names.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char b64url[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static struct names_ctx *ctx;
static uint8_t key[64];
static const uint8_t dir_a[16] = { 1 }, dir_b[16] = { 2 };

static void setup(void)
{
	memset(key, 0x33, sizeof(key));
	ck_assert_int_eq(names_ctx_new(key, &ctx), 0);
	log_set_level(LOG_LVL_NONE);
}

static void teardown(void)
{
	names_ctx_free(ctx);
}

/* What a writer holding the key could store: any bytes, under any domain. */
static void forge(const char *dom, const uint8_t *dirid, const void *plain,
		  size_t len, char *enc)
{
	const uint8_t *ad[2] = { (const uint8_t *)dom, dirid };
	size_t adl[2] = { strlen(dom), 16 };
	uint8_t buf[16 + 4096];

	ck_assert_int_eq(crypto_siv_seal(key, ad, adl, 2, plain, len, buf + 16, buf), 0);
	crypto_b64url_encode(buf, len + 16, enc);
}

START_TEST(format_known_answers)
{
	/*
	 * base64url_nopad(SIV || AES-256-SIV(name, AD = ["atrestfs name",
	 * dirid])), key = 64 x 0x33, dirid = 01 00..00; expected values from
	 * Python "cryptography" (AESSIV), not from this code.
	 */
	char enc[NAMES_TARGET_ENC_MAX + 1], entry[NAME_MAX + 1], q[201];

	ck_assert_int_eq(names_encrypt(ctx, dir_a, "dump.rdb", enc), 0);
	ck_assert_str_eq(enc, "BhIRQ_ntBJePBLgHQES1d8p34xO_kOVT");
	ck_assert_int_eq(names_encrypt_target(ctx, dir_a, "../x", enc), 0);
	ck_assert_str_eq(enc, "7DAeZA93V4qH0GiVNy0fxfqPh_Q");
	memset(q, 'q', 200);
	q[200] = '\0';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, q, enc), 0);
	ck_assert_uint_eq(strlen(enc), 288);
	ck_assert_int_eq(names_long_entry(enc, entry), 0);
	ck_assert_str_eq(entry, "atrestfs.long.dOUKeaR9UCXzIwR9SsvA6wXrnDiyeBHRd_U1UWYiTxE");
}
END_TEST

START_TEST(roundtrip_every_length)
{
	char plain[256], enc[NAMES_ENC_MAX + 1], back[NAMES_MAX + 1], enc2[NAMES_ENC_MAX + 1];

	for (int n = 1; n <= 255; n++) {
		for (int i = 0; i < n; i++)
			plain[i] = (char)('a' + (i * 7 + n) % 26);
		plain[n] = '\0';
		ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc), 0);
		/* SIV adds exactly 16 bytes; unpadded base64url of those. */
		ck_assert_uint_eq(strlen(enc), ((size_t)n + 16) * 4 / 3 + (((size_t)n + 16) % 3 != 0));
		ck_assert_uint_le(strlen(enc), NAMES_ENC_MAX);
		ck_assert_uint_eq(strspn(enc, b64url), strlen(enc));
		memset(back, 'X', sizeof(back));
		ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), 0);
		ck_assert_str_eq(back, plain);
		ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc2), 0);
		ck_assert_str_eq(enc, enc2); /* deterministic: lookups work */
		ck_assert(!names_is_bookkeeping(enc));
	}
}
END_TEST

START_TEST(roundtrip_any_bytes)
{
	/* Every byte but NUL and '/' may be in a name: UTF-8, controls, '.'. */
	char plain[256], enc[NAMES_ENC_MAX + 1], back[NAMES_MAX + 1];
	int n = 0;

	for (int c = 1; c < 256; c++)
		if (c != '/')
			plain[n++] = (char)c;
	plain[n] = '\0';
	ck_assert_int_eq(n, 254);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc), 0);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), 0);
	ck_assert_str_eq(back, plain);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "...", enc), 0);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), 0);
	ck_assert_str_eq(back, "...");
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "\xc3\xa9t\xc3\xa9", enc), 0);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), 0);
	ck_assert_str_eq(back, "\xc3\xa9t\xc3\xa9");
}
END_TEST

START_TEST(bound_to_directory_and_key)
{
	char enc_a[NAMES_ENC_MAX + 1], enc_b[NAMES_ENC_MAX + 1], back[NAMES_MAX + 1];
	struct names_ctx *other;
	uint8_t k2[64];

	ck_assert_int_eq(names_encrypt(ctx, dir_a, "dump.rdb", enc_a), 0);
	ck_assert_int_eq(names_encrypt(ctx, dir_b, "dump.rdb", enc_b), 0);
	ck_assert_str_ne(enc_a, enc_b);
	ck_assert_int_eq(names_decrypt(ctx, dir_b, enc_a, back), -EBADMSG);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc_b, back), -EBADMSG);
	ck_assert_str_eq(back, ""); /* nothing unauthenticated handed out */
	ck_assert_int_eq(names_decrypt(ctx, dir_b, enc_b, back), 0);
	ck_assert_str_eq(back, "dump.rdb");
	/* Same names, another volume key: nothing decrypts. */
	memset(k2, 0x34, sizeof(k2));
	ck_assert_int_eq(names_ctx_new(k2, &other), 0);
	ck_assert_int_eq(names_decrypt(other, dir_a, enc_a, back), -EBADMSG);
	names_ctx_free(other);
	names_ctx_free(NULL);
}
END_TEST

/* Names encrypted or decrypted lately are remembered: whatever the order,
 * the directories and the names sharing a slot, every encryption is the
 * one SIV gives, and only an authentic decryption is remembered. */
START_TEST(memo_is_transparent)
{
	const uint8_t *dirs[3] = { dir_a, dir_b, names_fixed_id };
	char enc[NAMES_ENC_MAX + 1], want[NAMES_ENC_MAX + 1];
	char name[32], back[NAMES_MAX + 1];

	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 600; i++) {
			const uint8_t *d = dirs[(i + round) % 3];

			/* "n1", "n10", "n100": prefixes of each other. */
			snprintf(name, sizeof(name), "n%d", i % 300);
			forge("atrestfs name", d, name, strlen(name), want);
			ck_assert_int_eq(names_encrypt(ctx, d, name, enc), 0);
			ck_assert_str_eq(enc, want);
			if (i % 7 == 0) {
				ck_assert_int_eq(names_decrypt(ctx, d, want,
							       back), 0);
				ck_assert_str_eq(back, name);
			}
		}
	}
	/* Decrypted under one directory, encrypted under another. */
	forge("atrestfs name", dir_a, "moved", 5, want);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, want, back), 0);
	ck_assert_int_eq(names_encrypt(ctx, dir_b, "moved", enc), 0);
	ck_assert_str_ne(enc, want);
	/* A failed decryption leaves nothing to find. */
	ck_assert_int_eq(names_decrypt(ctx, dir_b, want, back), -EBADMSG);
	forge("atrestfs name", dir_b, "moved", 5, want);
	ck_assert_str_eq(enc, want);
}
END_TEST

START_TEST(invalid_names_refused)
{
	char enc[NAMES_ENC_MAX + 1], big[300];

	ck_assert_int_eq(names_encrypt(ctx, dir_a, "", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, ".", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "..", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "a/b", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "/", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "ab/", enc), -EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, big, enc), -ENAMETOOLONG);
	big[256] = '\0';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, big, enc), -ENAMETOOLONG);
	big[255] = '\0';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, big, enc), 0);
	big[100] = '/';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, big, enc), -EINVAL);
}
END_TEST

START_TEST(authentic_but_unusable_refused)
{
	/* Authentic ciphertexts of plaintexts no directory may hold. */
	static const struct { const char *s; size_t n; } bad[] = {
		{ ".", 1 }, { "..", 2 }, { "a/b", 3 }, { "/", 1 }, { "a\0b", 3 },
		{ "\0", 1 }, { "abc\0", 4 },
	};
	char enc[NAMES_TARGET_ENC_MAX + 1], back[NAMES_MAX + 1], big[256];

	for (size_t i = 0; i < N(bad); i++) {
		forge("atrestfs name", dir_a, bad[i].s, bad[i].n, enc);
		memset(back, 'X', sizeof(back));
		ck_assert_msg(names_decrypt(ctx, dir_a, enc, back) == -EINVAL,
			      "accepted forged name %zu", i);
		ck_assert_msg(back[0] == '\0', "refused name %zu left in the buffer", i);
	}
	/* 256 authentic bytes: fits the encoded limit, but too long a name. */
	memset(big, 'z', sizeof(big));
	forge("atrestfs name", dir_a, big, 256, enc);
	ck_assert_uint_le(strlen(enc), NAMES_ENC_MAX);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), -EINVAL);
	/* A target with an embedded NUL would be cut short: refused. */
	forge("atrestfs symlink", dir_a, "/etc\0x", 6, enc);
	{
		char t[NAMES_TARGET_MAX + 1];
		ck_assert_int_eq(names_decrypt_target(ctx, dir_a, enc, t), -EINVAL);
		ck_assert_str_eq(t, "");
	}
	/* The domain string is what the name is bound to. */
	forge("atrestfs nam", dir_a, "x", 1, enc);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), -EBADMSG);
	forge("atrestfs name", dir_a, "x", 1, enc);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), 0);
}
END_TEST

START_TEST(long_name_threshold)
{
	char plain[256], enc[NAMES_ENC_MAX + 1], entry[NAME_MAX + 1], entry2[NAME_MAX + 1];
	int first_long = 0;

	for (int n = 1; n <= 255; n++) {
		memset(plain, 'q', (size_t)n);
		plain[n] = '\0';
		ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc), 0);
		ck_assert_int_eq(names_needs_long(enc), strlen(enc) > 255);
		if (!first_long && names_needs_long(enc))
			first_long = n;
		if (names_needs_long(enc)) {
			ck_assert_int_eq(names_long_entry(enc, entry), 0);
			ck_assert(names_is_long_entry(entry));
			/* The entry and its ".name" file both fit a directory. */
			ck_assert_uint_le(strlen(entry) + strlen(NAMES_LONG_SUFFIX), NAME_MAX);
		}
	}
	/* base64url(n + 16 bytes) exceeds 255 characters from n = 176 on:
	 * 175 + 16 = 191 bytes -> 255 characters, 192 bytes -> 256. */
	ck_assert_int_eq(first_long, 176);
	memset(plain, 'q', 175);
	plain[175] = '\0';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc), 0);
	ck_assert_uint_eq(strlen(enc), 255);
	ck_assert(!names_needs_long(enc));
	plain[175] = 'q';
	plain[176] = '\0';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc), 0);
	ck_assert_uint_eq(strlen(enc), 256);
	ck_assert(names_needs_long(enc));

	ck_assert_int_eq(names_long_entry(enc, entry), 0);
	ck_assert_uint_eq(strlen(entry), strlen(NAMES_LONG_PREFIX) + 43);
	ck_assert(!strncmp(entry, NAMES_LONG_PREFIX, strlen(NAMES_LONG_PREFIX)));
	ck_assert(names_is_long_entry(entry));
	ck_assert(!names_is_bookkeeping(entry));
	/* Deterministic, and different names give different entries. */
	ck_assert_int_eq(names_long_entry(enc, entry2), 0);
	ck_assert_str_eq(entry, entry2);
	enc[10] = enc[10] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(names_long_entry(enc, entry2), 0);
	ck_assert_str_ne(entry, entry2);
}
END_TEST

START_TEST(long_entry_recognition)
{
	char e[NAME_MAX + 1];
	const size_t p = strlen(NAMES_LONG_PREFIX);

	ck_assert(names_is_long_entry("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	ck_assert(names_is_long_entry("atrestfs.long.dOUKeaR9UCXzIwR9SsvA6wXrnDiyeBHRd_U1UWYiTxE"));
	ck_assert(!names_is_long_entry("atrestfs.long."));
	ck_assert(!names_is_long_entry("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));   /* 42 */
	ck_assert(!names_is_long_entry("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")); /* 44 */
	ck_assert(!names_is_long_entry("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"));
	ck_assert(!names_is_long_entry("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA."));
	ck_assert(!names_is_long_entry("Atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	ck_assert(!names_is_long_entry("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name"));
	ck_assert(!names_is_long_entry("xatrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	/* 43 characters carry 258 bits for a 256-bit hash: the last
	 * character must leave its low 2 bits zero (A, E, I, ... only). */
	snprintf(e, sizeof(e), "%s%.42s%c", NAMES_LONG_PREFIX, b64url, 'B');
	ck_assert(!names_is_long_entry(e));
	e[p + 42] = 'E';
	ck_assert(names_is_long_entry(e));
}
END_TEST

START_TEST(bookkeeping_names)
{
	static const char *ours[] = {
		"atrestfs.conf", "atrestfs.conf.tmp", NAMES_DIRID_FILE, NAMES_DIRID_FILE ".tmp",
		".atrestfs.mkdir.12.3",
		"atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name",
		"atrestfs.long.", "atrestfs.long.AAAA", "x.y", ".hidden", "a.", "...",
	};
	static const char *theirs[] = {
		"AAAA_-09", "BhIRQ_ntBJePBLgHQES1d8p34xO_kOVT", ".", "..",
		"atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"atrestfs.long.dOUKeaR9UCXzIwR9SsvA6wXrnDiyeBHRd_U1UWYiTxE",
	};

	for (size_t i = 0; i < N(ours); i++)
		ck_assert_msg(names_is_bookkeeping(ours[i]), "%s not hidden", ours[i]);
	for (size_t i = 0; i < N(theirs); i++)
		ck_assert_msg(!names_is_bookkeeping(theirs[i]), "%s hidden", theirs[i]);
}
END_TEST

START_TEST(hostile_encoded_names)
{
	static const char *bad[] = {
		"", "A", "AAAA", "!!!!!!!!!!!!!!!!!!!!!!!!!", "abc=",
		"AAAAAAAAAAAAAAAAAAAAAAAA.AAA", "AAAAAAAAAAAAAAAAAAAAAA+/",
		"AAAAAAAAAAAAAAAAAAAAAA==", "AAAAAAAAAAAAAAAAAAAAAA", /* 16 bytes: tag only */
		"AAAAAAAAAAAAAAAAAAAAA", /* 21: impossible length */
		"BhIRQ_ntBJePBLgHQES1d8p34xO_kOVT\n", " BhIRQ_ntBJePBLgHQES1d8p34xO_kOVT",
		"atrestfs.conf", "AAAAAAAAAAAAAAAAAAAAAAA\xff",
	};
	char back[NAMES_MAX + 1], enc[NAMES_ENC_MAX + 1], copy[NAMES_ENC_MAX + 1];
	static char huge[100000];
	size_t n;

	/* None of these decodes to tag + at least one byte: -EINVAL, never
	 * handed to the cipher. */
	for (size_t i = 0; i < N(bad); i++)
		ck_assert_msg(names_decrypt(ctx, dir_a, bad[i], back) == -EINVAL,
			      "accepted %s", bad[i]);
	/* Longer than any name's encoding: refused before decoding. */
	memset(huge, 'A', sizeof(huge) - 1);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, huge, back), -EINVAL);
	huge[NAMES_ENC_MAX + 1] = '\0';
	ck_assert_int_eq(names_decrypt(ctx, dir_a, huge, back), -EINVAL);

	/* Every single-character change and every truncation of a real name. */
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "appendonly.aof1", enc), 0);
	n = strlen(enc);
	for (size_t i = 0; i < n; i++) {
		for (const char *c = b64url; *c; c++) {
			if (*c == enc[i])
				continue;
			strcpy(copy, enc);
			copy[i] = *c;
			ck_assert_msg(names_decrypt(ctx, dir_a, copy, back) < 0,
				      "accepted %s", copy);
		}
		strcpy(copy, enc);
		copy[i] = '\0';
		ck_assert(names_decrypt(ctx, dir_a, copy, back) < 0);
	}
	/* A non-canonical spelling of the same bytes does not decode: it is
	 * -EINVAL, not -EBADMSG, so each name has exactly one spelling. */
	ck_assert_uint_ne(n % 4, 0);
	strcpy(copy, enc);
	copy[n - 1] = b64url[(strchr(b64url, enc[n - 1]) - b64url) | 1];
	ck_assert_int_eq(names_decrypt(ctx, dir_a, copy, back), -EINVAL);

	/* Random well-formed base64url of plausible lengths never decrypts. */
	srandom(7);
	for (int i = 0; i < 2000; i++) {
		char s[400];
		int len = 22 + (int)(random() % 360);
		for (int j = 0; j < len; j++)
			s[j] = b64url[random() % 64];
		s[len] = '\0';
		ck_assert(names_decrypt(ctx, dir_a, s, back) < 0);
	}
	/* Random bytes, any length: refused without crashing. */
	for (int i = 0; i < 2000; i++) {
		char s[600];
		int len = (int)(random() % 599);
		for (int j = 0; j < len; j++)
			s[j] = (char)(1 + random() % 255);
		s[len] = '\0';
		ck_assert(names_decrypt(ctx, dir_a, s, back) < 0);
		ck_assert(names_decrypt_target(ctx, dir_a, s, huge) < 0);
	}
}
END_TEST

START_TEST(symlink_targets)
{
	static char t[NAMES_TARGET_MAX + 2], enc[NAMES_TARGET_ENC_MAX + 1],
		back[NAMES_TARGET_MAX + 1];
	char nm[NAMES_MAX + 1];

	/* Every length 1..NAMES_TARGET_MAX, with bytes a name may not hold. */
	for (int n = 1; n <= NAMES_TARGET_MAX; n++) {
		t[n - 1] = (char)(n % 7 ? '/' : 1 + n % 255);
		t[n] = '\0';
		ck_assert_int_eq(names_encrypt_target(ctx, dir_a, t, enc), 0);
		ck_assert_uint_le(strlen(enc), NAMES_TARGET_ENC_MAX);
		ck_assert_uint_eq(strspn(enc, b64url), strlen(enc));
		ck_assert_uint_eq(names_target_len(strlen(enc)), (size_t)n);
		ck_assert_int_eq(names_decrypt_target(ctx, dir_a, enc, back), 0);
		ck_assert_msg(!strcmp(back, t), "target of %d bytes differs", n);
	}
	ck_assert_int_eq(names_decrypt_target(ctx, dir_b, enc, back), -EBADMSG);
	strcat(t, "x");
	ck_assert_int_eq(names_encrypt_target(ctx, dir_a, t, enc), -ENAMETOOLONG);
	ck_assert_int_eq(names_encrypt_target(ctx, dir_a, "", enc), -EINVAL);
	ck_assert_uint_eq(names_target_len(0), 0);
	ck_assert_uint_eq(names_target_len(22), 0);
	/* A target is not a name, and a name is not a target. */
	ck_assert_int_eq(names_encrypt_target(ctx, dir_a, "xyz", enc), 0);
	ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, nm), -EBADMSG);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "xyz", enc), 0);
	ck_assert_int_eq(names_decrypt_target(ctx, dir_a, enc, back), -EBADMSG);
	/* Authentic but longer than NAMES_TARGET_MAX: refused. */
	memset(t, 'a', NAMES_TARGET_MAX + 1);
	forge("atrestfs symlink", dir_a, t, NAMES_TARGET_MAX + 1, enc);
	ck_assert_int_eq(names_decrypt_target(ctx, dir_a, enc, back), -EINVAL);
	/* Longer than NAMES_TARGET_ENC_MAX characters: refused unread. */
	memset(t, 'A', NAMES_TARGET_MAX + 1);
	t[NAMES_TARGET_MAX + 1] = '\0';
	{
		static char e2[NAMES_TARGET_ENC_MAX + 2];
		memset(e2, 'A', NAMES_TARGET_ENC_MAX + 1);
		ck_assert_int_eq(names_decrypt_target(ctx, dir_a, e2, back), -EINVAL);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names");
	TCase *tc;
#define T(fn, su, td)                                                          \
	do {                                                                   \
		tc = tcase_create(#fn);                                        \
		tcase_add_checked_fixture(tc, su, td);                         \
		tcase_add_test(tc, fn);                                        \
		tcase_set_timeout(tc, 120);                                    \
		suite_add_tcase(s, tc);                                        \
	} while (0)
	T(format_known_answers, setup, teardown);
	T(roundtrip_every_length, setup, teardown);
	T(roundtrip_any_bytes, setup, teardown);
	T(bound_to_directory_and_key, setup, teardown);
	T(memo_is_transparent, setup, teardown);
	T(invalid_names_refused, setup, teardown);
	T(authentic_but_unusable_refused, setup, teardown);
	T(long_name_threshold, setup, teardown);
	T(long_entry_recognition, setup, teardown);
	T(bookkeeping_names, setup, teardown);
	T(hostile_encoded_names, setup, teardown);
	T(symlink_targets, setup, teardown);
	return run_suite(s);
}
