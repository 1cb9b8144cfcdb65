// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The mount root's attribute record: the byte layout pinned by a known
 * answer (HMAC computed independently), every length, a flip of every
 * byte, a plain record where a MAC is expected and back, invalid fields
 * under a valid MAC, what load accepts from the directory (symlinks, FIFOs,
 * oversized files), atomic store, and the --root-owner/--root-mode parsers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "crypto.h"
#include "log.h"
#include "rootattr.h"

static uint8_t key[ROOTATTR_KEY_LEN];
static char tmpdir[64];
static int dfd = -1;

static void setup(void)
{
	log_set_level(LOG_LVL_NONE);
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x40 + i);
	strcpy(tmpdir, "/tmp/check_rootattr.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
}

static void teardown(void)
{
	char cmd[128];

	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static const struct rootattr sample = { 103, 110, 02750 };

START_TEST(encode_known_answer)
{
	/* HMAC-SHA256(key 0x40..0x5f, the 20 bytes), computed with Python. */
	static const char want_hex[] =
		"415452524f4f5431" "00000067" "0000006e" "000005e8"
		"68844b147d8c2e120e778d36cf23fe423f88f2f31da3d35d93c1d002f31335f0";
	uint8_t buf[ROOTATTR_MAX], *want;
	size_t len, wlen;

	ck_assert_int_eq(rootattr_encode(&sample, NULL, buf, &len), 0);
	ck_assert_uint_eq(len, ROOTATTR_PLAIN_LEN);
	want = hex(want_hex, &wlen);
	ck_assert_uint_eq(wlen, ROOTATTR_MAC_LEN);
	ck_assert_mem_eq(buf, want, ROOTATTR_PLAIN_LEN);
	ck_assert_int_eq(rootattr_encode(&sample, key, buf, &len), 0);
	ck_assert_uint_eq(len, ROOTATTR_MAC_LEN);
	ck_assert_mem_eq(buf, want, ROOTATTR_MAC_LEN);
	free(want);
}
END_TEST

START_TEST(round_trip)
{
	uint8_t buf[ROOTATTR_MAX];
	struct rootattr a;
	size_t len;

	ck_assert_int_eq(rootattr_encode(&sample, key, buf, &len), 0);
	ck_assert_int_eq(rootattr_decode(buf, len, key, &a), 0);
	ck_assert_uint_eq(a.uid, 103);
	ck_assert_uint_eq(a.gid, 110);
	ck_assert_uint_eq(a.mode, 02750);
	ck_assert_int_eq(rootattr_encode(&sample, NULL, buf, &len), 0);
	ck_assert_int_eq(rootattr_decode(buf, len, NULL, &a), 0);
	ck_assert_uint_eq(a.mode, 02750);
}
END_TEST

START_TEST(every_length_refused)
{
	uint8_t buf[ROOTATTR_MAX + 8] = { 0 };
	struct rootattr a = { 1, 2, 3 };
	size_t len;

	ck_assert_int_eq(rootattr_encode(&sample, key, buf, &len), 0);
	for (size_t n = 0; n < sizeof(buf); n++) {
		if (n == ROOTATTR_MAC_LEN)
			continue;
		ck_assert_int_eq(rootattr_decode(buf, n, key, &a), -EINVAL);
	}
	/* A plain record where a MAC is expected, and the reverse. */
	ck_assert_int_eq(rootattr_decode(buf, ROOTATTR_PLAIN_LEN, key, &a),
			 -EINVAL);
	ck_assert_int_eq(rootattr_decode(buf, ROOTATTR_MAC_LEN, NULL, &a),
			 -EINVAL);
	ck_assert_uint_eq(a.uid, 1); /* untouched on failure */
}
END_TEST

START_TEST(every_byte_flip_refused)
{
	uint8_t buf[ROOTATTR_MAX];
	struct rootattr a;
	size_t len;

	ck_assert_int_eq(rootattr_encode(&sample, key, buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		int r;

		buf[i] ^= 0x01;
		r = rootattr_decode(buf, len, key, &a);
		ck_assert(r == -EBADMSG || (i < 8 && r == -EINVAL));
		buf[i] ^= 0x01;
	}
	/* Another key: not authentic. */
	key[0] ^= 1;
	ck_assert_int_eq(rootattr_decode(buf, len, key, &a), -EBADMSG);
}
END_TEST

START_TEST(invalid_fields_refused_even_authentic)
{
	uint8_t buf[ROOTATTR_MAX];
	struct rootattr a, bad = sample;
	size_t len;

	bad.mode = 010000;
	ck_assert_int_eq(rootattr_encode(&bad, key, buf, &len), -EINVAL);
	bad = sample;
	bad.uid = (uid_t)-1;
	ck_assert_int_eq(rootattr_encode(&bad, key, buf, &len), -EINVAL);
	/* Forge the fields, then MAC them properly: still refused. */
	ck_assert_int_eq(rootattr_encode(&sample, key, buf, &len), 0);
	buf[16] = 0x80; /* mode with a file-type bit */
	ck_assert_int_eq(crypto_hmac(key, sizeof(key), buf, ROOTATTR_PLAIN_LEN,
				     buf + ROOTATTR_PLAIN_LEN), 0);
	ck_assert_int_eq(rootattr_decode(buf, len, key, &a), -EINVAL);
	ck_assert_int_eq(rootattr_encode(&sample, NULL, buf, &len), 0);
	memset(buf + 12, 0xff, 4); /* gid -1 */
	ck_assert_int_eq(rootattr_decode(buf, len, NULL, &a), -EINVAL);
}
END_TEST

START_TEST(store_load_atomic)
{
	struct rootattr a, b = { 7, 8, 01777 };
	struct stat st;

	ck_assert_int_eq(rootattr_load(dfd, key, &a), -ENOENT);
	ck_assert_int_eq(rootattr_store(dfd, key, &sample), 0);
	ck_assert_int_eq(fstatat(dfd, ROOTATTR_NAME, &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(st.st_size, ROOTATTR_MAC_LEN);
	ck_assert_int_eq(rootattr_store(dfd, key, &b), 0);
	ck_assert_int_eq(rootattr_load(dfd, key, &a), 0);
	ck_assert_uint_eq(a.mode, 01777);
	ck_assert_int_ne(faccessat(dfd, ROOTATTR_NAME ".tmp", F_OK, 0), 0);
	/* A plain reader of an authenticated record refuses it. */
	ck_assert_int_eq(rootattr_load(dfd, NULL, &a), -EINVAL);
}
END_TEST

START_TEST(load_refuses_hostile_files)
{
	struct rootattr a;
	char big[4096] = { 0 };
	int fd;

	ck_assert_int_eq(symlinkat("/etc/passwd", dfd, ROOTATTR_NAME), 0);
	ck_assert_int_eq(rootattr_load(dfd, key, &a), -EINVAL);
	ck_assert_int_eq(unlinkat(dfd, ROOTATTR_NAME, 0), 0);
	/* A FIFO must not hang the mount. */
	ck_assert_int_eq(mkfifoat(dfd, ROOTATTR_NAME, 0600), 0);
	ck_assert_int_eq(rootattr_load(dfd, key, &a), -EINVAL);
	ck_assert_int_eq(unlinkat(dfd, ROOTATTR_NAME, 0), 0);
	ck_assert_int_eq(mkdirat(dfd, ROOTATTR_NAME, 0700), 0);
	ck_assert_int_eq(rootattr_load(dfd, key, &a), -EINVAL);
	ck_assert_int_eq(unlinkat(dfd, ROOTATTR_NAME, AT_REMOVEDIR), 0);
	fd = openat(dfd, ROOTATTR_NAME, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, big, sizeof(big)), (ssize_t)sizeof(big));
	close(fd);
	ck_assert_int_eq(rootattr_load(dfd, key, &a), -EINVAL);
}
END_TEST

START_TEST(parse_owner)
{
	uid_t u = 0;
	gid_t g = 0;

	ck_assert_int_eq(rootattr_parse_owner("root:root", &u, &g), 0);
	ck_assert_uint_eq(u, 0);
	ck_assert_uint_eq(g, 0);
	ck_assert_int_eq(rootattr_parse_owner("1234:5678", &u, &g), 0);
	ck_assert_uint_eq(u, 1234);
	ck_assert_uint_eq(g, 5678);
	ck_assert_int_eq(rootattr_parse_owner("root:0", &u, &g), 0);
	ck_assert_int_eq(rootattr_parse_owner("no-such-user-x:root", &u, &g),
			 -ENOENT);
	ck_assert_int_eq(rootattr_parse_owner("root:no-such-group-x", &u, &g),
			 -ENOENT);
	static const char *bad[] = { "",	   "root",   ":root", "root:",
				     "a:b:c",	   ":",	     "4294967295:0",
				     "0:4294967295", "0:99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rootattr_parse_owner(bad[i], &u, &g) < 0, "%s",
			      bad[i]);
}
END_TEST

START_TEST(parse_mode)
{
	mode_t m;

	ck_assert_int_eq(rootattr_parse_mode("0755", &m), 0);
	ck_assert_uint_eq(m, 0755);
	ck_assert_int_eq(rootattr_parse_mode("2775", &m), 0);
	ck_assert_uint_eq(m, 02775);
	ck_assert_int_eq(rootattr_parse_mode("0", &m), 0);
	ck_assert_uint_eq(m, 0);
	ck_assert_int_eq(rootattr_parse_mode("07777", &m), 0);
	static const char *bad[] = { "", "8", "0x755", "-755", "10000",
				     "017777", "755 ", "u+rwx", "000000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rootattr_parse_mode(bad[i], &m) == -EINVAL, "%s",
			      bad[i]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rootattr");

#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(encode_known_answer);
	T(round_trip);
	T(every_length_refused);
	T(every_byte_flip_refused);
	T(invalid_fields_refused_even_authentic);
	T(store_load_atomic);
	T(load_refuses_hostile_files);
	T(parse_owner);
	T(parse_mode);
	return run_suite(s);
}
