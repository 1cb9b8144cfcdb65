// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Name encryption: round trips for every length 1..255, directory binding,
 * long names, symlink targets, hostile encoded names, directory ID files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"
#include "dirid.h"
#include "log.h"
#include "names.h"

static struct names_ctx *ctx;
static const uint8_t dir_a[16] = { 1 }, dir_b[16] = { 2 };

static void setup(void)
{
	uint8_t key[64];

	memset(key, 0x33, sizeof(key));
	ck_assert_int_eq(names_ctx_new(key, &ctx), 0);
	log_set_level(LOG_LVL_NONE);
}

static void teardown(void)
{
	names_ctx_free(ctx);
}

START_TEST(roundtrip_every_length)
{
	char plain[256], enc[NAMES_ENC_MAX + 1], back[NAMES_MAX + 1], enc2[NAMES_ENC_MAX + 1];

	for (int n = 1; n <= 255; n++) {
		for (int i = 0; i < n; i++)
			plain[i] = (char)('a' + (i * 7 + n) % 26);
		plain[n] = '\0';
		ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc), 0);
		ck_assert_int_eq(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(enc));
		ck_assert_int_eq(names_decrypt(ctx, dir_a, enc, back), 0);
		ck_assert_str_eq(back, plain);
		ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc2), 0);
		ck_assert_str_eq(enc, enc2); /* deterministic: lookups work */
	}
}
END_TEST

START_TEST(bound_to_directory)
{
	char enc_a[NAMES_ENC_MAX + 1], enc_b[NAMES_ENC_MAX + 1], back[NAMES_MAX + 1];

	ck_assert_int_eq(names_encrypt(ctx, dir_a, "dump.rdb", enc_a), 0);
	ck_assert_int_eq(names_encrypt(ctx, dir_b, "dump.rdb", enc_b), 0);
	ck_assert_str_ne(enc_a, enc_b);
	ck_assert_int_eq(names_decrypt(ctx, dir_b, enc_a, back), -EBADMSG);
}
END_TEST

START_TEST(invalid_names_refused)
{
	char enc[NAMES_ENC_MAX + 1], big[300];

	ck_assert_int_eq(names_encrypt(ctx, dir_a, "", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, ".", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "..", enc), -EINVAL);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "a/b", enc), -EINVAL);
	memset(big, 'x', 256);
	big[256] = '\0';
	ck_assert_int_eq(names_encrypt(ctx, dir_a, big, enc), -ENAMETOOLONG);
}
END_TEST

START_TEST(long_name_threshold)
{
	char plain[256], enc[NAMES_ENC_MAX + 1], entry[NAME_MAX + 1];
	int first_long = 0;

	for (int n = 1; n <= 255; n++) {
		memset(plain, 'q', (size_t)n);
		plain[n] = '\0';
		ck_assert_int_eq(names_encrypt(ctx, dir_a, plain, enc), 0);
		ck_assert_int_eq(names_needs_long(enc), strlen(enc) > 255);
		if (!first_long && names_needs_long(enc))
			first_long = n;
	}
	/* base64url(n + 16 bytes) exceeds 255 characters from n = 176 on. */
	ck_assert_int_eq(first_long, 176);
	ck_assert_int_eq(names_long_entry(enc, entry), 0);
	ck_assert_uint_eq(strlen(entry), strlen(NAMES_LONG_PREFIX) + 43);
	ck_assert(names_is_long_entry(entry));
	ck_assert(!names_is_bookkeeping(entry));
	entry[strlen(entry) - 1] = '.';
	ck_assert(!names_is_long_entry(entry));
}
END_TEST

START_TEST(bookkeeping_names)
{
	ck_assert(names_is_bookkeeping("atrestfs.conf"));
	ck_assert(names_is_bookkeeping(NAMES_DIRID_FILE));
	ck_assert(names_is_bookkeeping(".atrestfs.mkdir.12.3"));
	ck_assert(names_is_bookkeeping("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.name"));
	ck_assert(!names_is_bookkeeping("AAAA_-09"));
	ck_assert(!names_is_bookkeeping("atrestfs.long.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}
END_TEST

START_TEST(hostile_encoded_names)
{
	static const char *bad[] = { "", "A", "AAAA", "!!!!!!!!!!!!!!!!!!!!!!!!!", "abc=",
				     "AAAAAAAAAAAAAAAAAAAAAAAA.AAA", "AAAAAAAAAAAAAAAAAAAAAA+/" };
	char back[NAMES_MAX + 1], huge[2000];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(names_decrypt(ctx, dir_a, bad[i], back) < 0, "accepted %s", bad[i]);
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	ck_assert_int_eq(names_decrypt(ctx, dir_a, huge, back), -EINVAL);
	/* Random well-formed base64url of plausible lengths never decrypts. */
	srandom(7);
	for (int i = 0; i < 2000; i++) {
		char s[80];
		int n = 22 + (int)(random() % 50);
		for (int j = 0; j < n; j++)
			s[j] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[random() % 64];
		s[n] = '\0';
		ck_assert(names_decrypt(ctx, dir_a, s, back) < 0);
	}
}
END_TEST

START_TEST(symlink_targets)
{
	char t[NAMES_TARGET_MAX + 2], enc[NAMES_TARGET_ENC_MAX + 1], back[NAMES_TARGET_MAX + 1],
		nm[NAMES_MAX + 1];

	memset(t, '/', NAMES_TARGET_MAX);
	t[NAMES_TARGET_MAX] = '\0';
	ck_assert_int_eq(names_encrypt_target(ctx, dir_a, t, enc), 0);
	ck_assert_uint_le(strlen(enc), NAMES_TARGET_ENC_MAX);
	ck_assert_uint_eq(names_target_len(strlen(enc)), NAMES_TARGET_MAX);
	ck_assert_int_eq(names_decrypt_target(ctx, dir_a, enc, back), 0);
	ck_assert_str_eq(back, t);
	strcat(t, "x");
	ck_assert_int_eq(names_encrypt_target(ctx, dir_a, t, enc), -ENAMETOOLONG);
	/* A target is not a name, and a name is not a target. */
	ck_assert_int_eq(names_encrypt_target(ctx, dir_a, "../x", enc), 0);
	ck_assert_int_lt(names_decrypt(ctx, dir_a, enc, nm), 0);
	ck_assert_int_eq(names_encrypt(ctx, dir_a, "xyz", enc), 0);
	ck_assert_int_lt(names_decrypt_target(ctx, dir_a, enc, back), 0);
}
END_TEST

START_TEST(dirid_files)
{
	char tmpl[] = "/tmp/check_names.XXXXXX";
	char path[128];
	uint8_t id[16], id2[16];
	int dfd, fd;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	dfd = open(tmpl, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(dirid_read(dfd, id), -ENOENT);
	ck_assert_int_eq(dirid_create(dfd, id), 0);
	ck_assert_int_eq(dirid_read(dfd, id2), 0);
	ck_assert(!memcmp(id, id2, 16));
	ck_assert_int_eq(dirid_create(dfd, id2), -EEXIST);
	snprintf(path, sizeof(path), "%s/%s", tmpl, NAMES_DIRID_FILE);
	chmod(path, 0644);
	fd = open(path, O_WRONLY | O_APPEND);
	ck_assert_int_eq(write(fd, "x", 1), 1); /* 17 bytes: malformed */
	close(fd);
	ck_assert_int_eq(dirid_read(dfd, id2), -EIO);
	ck_assert_int_eq(truncate(path, 3), 0);
	ck_assert_int_eq(dirid_read(dfd, id2), -EIO);
	unlink(path);
	rmdir(tmpl);
	close(dfd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names");
	TCase *tc;
#define T(fn)                                                                  \
	do {                                                                   \
		tc = tcase_create(#fn);                                        \
		tcase_add_checked_fixture(tc, setup, teardown);                \
		tcase_add_test(tc, fn);                                        \
		tcase_set_timeout(tc, 60);                                     \
		suite_add_tcase(s, tc);                                        \
	} while (0)
	T(roundtrip_every_length);
	T(bound_to_directory);
	T(invalid_names_refused);
	T(long_name_threshold);
	T(bookkeeping_names);
	T(hostile_encoded_names);
	T(symlink_targets);
	T(dirid_files);
	return run_suite(s);
}
