// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Key sources: spec parsing and the keyfile source end to end (create a
 * keyfile, wrap, unwrap), with every refusal: wrong file, wrong size, loose
 * mode, symlink, another volume's UUID.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "keyprov.h"
#include "log.h"

static char dir[64], keypath[128];

static void setup(void)
{
	log_set_level(LOG_LVL_NONE);
	strcpy(dir, "/tmp/check_keyprov.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(keypath, sizeof(keypath), "%s/key", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *uuid = "3ab8ddce-677a-4833-8923-a8d57f83cfed";

START_TEST(spec_parsing)
{
	const struct keyprov *kp;
	const char *arg;
	char name[32];

	ck_assert_int_eq(keyprov_parse_spec("keyfile:/k", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_ptr_eq(kp, &kp_keyfile);
	ck_assert_str_eq(arg, "/k");
	ck_assert_int_eq(keyprov_parse_spec("tpm2", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_ptr_eq(kp, &kp_tpm2);
	ck_assert_ptr_null(arg);
	ck_assert_int_eq(keyprov_parse_spec("kms:alias/x:y", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_str_eq(arg, "alias/x:y");
	ck_assert_int_eq(keyprov_parse_spec("floppy:/x", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec("", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec(":x", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec("averyveryveryveryverylongsourcename", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_ptr_null(keyprov_find("nope"));
}
END_TEST

START_TEST(keyfile_created_and_roundtrip)
{
	uint8_t key[32], back[32];
	json_t *params = NULL;
	struct stat st;

	ck_assert_int_eq(kp_keyfile.enroll(keypath, NULL, uuid, key, &params), 0);
	ck_assert_int_eq(stat(keypath, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0400);
	ck_assert_int_eq(st.st_size, 32);
	ck_assert_int_eq(kp_keyfile.validate(params), 0);
	ck_assert_int_eq(kp_keyfile.unlock(params, NULL, uuid, back), 0);
	ck_assert(!memcmp(key, back, 32));
	/* A second volume on the same keyfile gets another key. */
	json_decref(params);
	ck_assert_int_eq(kp_keyfile.enroll(keypath, NULL, uuid, back, &params), 0);
	ck_assert(memcmp(key, back, 32));
	json_decref(params);
}
END_TEST

START_TEST(keyfile_bound_to_volume)
{
	uint8_t key[32], back[32];
	json_t *params;

	ck_assert_int_eq(kp_keyfile.enroll(keypath, NULL, uuid, key, &params), 0);
	ck_assert_int_eq(kp_keyfile.unlock(params, NULL, "00000000-0000-4000-8000-000000000000", back),
			 -EKEYREJECTED);
	json_decref(params);
}
END_TEST

static void write_file(const char *p, size_t n, mode_t mode)
{
	uint8_t buf[64] = { 7 };
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	fchmod(fd, mode);
	close(fd);
}

START_TEST(keyfile_wrong_key_refused)
{
	uint8_t key[32], back[32];
	char other[160];
	json_t *params;

	ck_assert_int_eq(kp_keyfile.enroll(keypath, NULL, uuid, key, &params), 0);
	snprintf(other, sizeof(other), "%s/other", dir);
	write_file(other, 32, 0400);
	memset(back, 0xaa, sizeof(back));
	ck_assert_int_eq(kp_keyfile.unlock(params, other, uuid, back), -EKEYREJECTED);
	for (int i = 0; i < 32; i++)
		ck_assert_int_eq(back[i], 0); /* wiped on refusal */
	json_decref(params);
}
END_TEST

START_TEST(keyfile_bad_files_refused)
{
	uint8_t key[32];
	json_t *params = NULL;
	char p[160], l[160];

	snprintf(p, sizeof(p), "%s/short", dir);
	write_file(p, 31, 0400);
	ck_assert_int_eq(kp_keyfile.enroll(p, NULL, uuid, key, &params), -EINVAL);
	snprintf(p, sizeof(p), "%s/loose", dir);
	write_file(p, 32, 0644);
	ck_assert_int_eq(kp_keyfile.enroll(p, NULL, uuid, key, &params), -EPERM);
	snprintf(p, sizeof(p), "%s/group", dir);
	write_file(p, 32, 0440);
	ck_assert_int_eq(kp_keyfile.enroll(p, NULL, uuid, key, &params), -EPERM);
	snprintf(p, sizeof(p), "%s/good", dir);
	write_file(p, 32, 0400);
	snprintf(l, sizeof(l), "%s/link", dir);
	ck_assert_int_eq(symlink(p, l), 0);
	ck_assert_int_eq(kp_keyfile.enroll(l, NULL, uuid, key, &params), -ELOOP);
	ck_assert_int_eq(kp_keyfile.enroll(dir, NULL, uuid, key, &params), -EINVAL);
	ck_assert_int_eq(kp_keyfile.enroll(NULL, NULL, uuid, key, &params), -EINVAL);
	snprintf(p, sizeof(p), "%s/missing-dir/key", dir);
	ck_assert_int_lt(kp_keyfile.enroll(p, NULL, uuid, key, &params), 0);
	ck_assert_ptr_null(params);
}
END_TEST

START_TEST(keyfile_validate_strict)
{
	json_t *p = json_pack("{s:s, s:s}", "path", "/k", "wrapped_key", "AAAA");

	ck_assert_int_eq(kp_keyfile.validate(p), -EINVAL);
	json_object_set_new(p, "wrapped_key",
			    json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="));
	ck_assert_int_eq(kp_keyfile.validate(p), 0);
	json_object_set_new(p, "path", json_string("relative"));
	ck_assert_int_eq(kp_keyfile.validate(p), -EINVAL);
	json_object_set_new(p, "path", json_integer(1));
	ck_assert_int_eq(kp_keyfile.validate(p), -EINVAL);
	json_object_set_new(p, "path", json_string("/k"));
	json_object_set_new(p, "extra", json_string("x"));
	ck_assert_int_eq(kp_keyfile.validate(p), -EINVAL);
	json_decref(p);
}
END_TEST

START_TEST(keyfile_changed_mode_refused_at_unlock)
{
	uint8_t key[32], back[32];
	json_t *params;

	ck_assert_int_eq(kp_keyfile.enroll(keypath, NULL, uuid, key, &params), 0);
	chmod(keypath, 0604);
	ck_assert_int_eq(kp_keyfile.unlock(params, NULL, uuid, back), -EPERM);
	unlink(keypath);
	ck_assert_int_eq(kp_keyfile.unlock(params, NULL, uuid, back), -ENOENT);
	json_decref(params);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keyprov");
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(spec_parsing);
	T(keyfile_created_and_roundtrip);
	T(keyfile_bound_to_volume);
	T(keyfile_wrong_key_refused);
	T(keyfile_bad_files_refused);
	T(keyfile_validate_strict);
	T(keyfile_changed_mode_refused_at_unlock);
	return run_suite(s);
}
