// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Key sources: spec parsing, the registry's handling of sources not built
 * in, and the keyfile source end to end (create a keyfile, wrap, unwrap)
 * with every refusal: wrong file, wrong size, loose mode, wrong owner,
 * symlink, FIFO, another volume's UUID, a changed wrapped key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "crypto.h"
#include "keyprov.h"
#include "log.h"

static char dir[64], keypath[128];
static const char *uuid = "3ab8ddce-677a-4833-8923-a8d57f83cfed";
static const char *uuid2 = "00000000-0000-4000-8000-000000000000";

static void setup(void)
{
	log_set_level(LOG_LVL_NONE);
	strcpy(dir, "/tmp/check_keyprov.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(keypath, sizeof(keypath), "%s/key", dir);
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *p, size_t n, mode_t mode)
{
	uint8_t buf[64];
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	memset(buf, 7, sizeof(buf));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static json_t *enroll_ok(const char *path, const char *vol, uint8_t key[32])
{
	json_t *params = NULL;

	ck_assert_int_eq(keyprov_enroll(&kp_keyfile, path, NULL, vol, key, &params), 0);
	ck_assert_ptr_nonnull(params);
	return params;
}

START_TEST(spec_known_sources)
{
	const struct keyprov *kp;
	const char *arg;
	char name[32];

	ck_assert_int_eq(keyprov_parse_spec("keyfile:/k", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_ptr_eq(kp, &kp_keyfile);
	ck_assert_str_eq(name, "keyfile");
	ck_assert_str_eq(arg, "/k");
	ck_assert_int_eq(keyprov_parse_spec("tpm2", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_ptr_eq(kp, &kp_tpm2);
	ck_assert_ptr_null(arg);
	/* Only the first colon splits: ARNs and aliases keep theirs. */
	ck_assert_int_eq(keyprov_parse_spec("kms:alias/x:y", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_ptr_eq(kp, &kp_kms);
	ck_assert_str_eq(arg, "alias/x:y");
	ck_assert_ptr_eq(keyprov_find("keyfile"), &kp_keyfile);
	ck_assert_ptr_eq(keyprov_find("tpm2"), &kp_tpm2);
	ck_assert_ptr_eq(keyprov_find("kms"), &kp_kms);
}
END_TEST

/* Source options: the last one given wins, and no two sources share one. */
START_TEST(create_options)
{
	struct kp_options o = { 0 };
	const struct keyprov *a, *b;

	ck_assert_ptr_null(kp_option(&o, "tpm2-pcrs"));
	ck_assert_int_eq(kp_option_add(&o, "tpm2-pcrs", "7"), 0);
	ck_assert_int_eq(kp_option_add(&o, "tpm2-pcrs", "0,7"), 0);
	ck_assert_str_eq(kp_option(&o, "tpm2-pcrs"), "0,7");
	ck_assert_ptr_null(kp_option(&o, "kms-region"));
	ck_assert_ptr_null(kp_option(NULL, "kms-region"));
	while (o.n < KP_OPTIONS_MAX)
		ck_assert_int_eq(kp_option_add(&o, "kms-region", "x"), 0);
	ck_assert_int_eq(kp_option_add(&o, "kms-region", "y"), -E2BIG);
	ck_assert_ptr_nonnull(kp_tpm2.options);
	ck_assert_ptr_nonnull(kp_kms.options);
	for (size_t i = 0; (a = keyprov_at(i)); i++)
		for (size_t j = i + 1; (b = keyprov_at(j)); j++)
			for (const char *const *x = a->options; x && *x; x++)
				for (const char *const *y = b->options; y && *y; y++)
					ck_assert_str_ne(*x, *y);
	/* create --help states every source and each of its options. */
	for (size_t i = 0; (a = keyprov_at(i)); i++) {
		char ks[64];

		snprintf(ks, sizeof(ks), "--key-source %s", a->name);
		ck_assert_ptr_nonnull(strstr(a->usage, ks));
		for (const char *const *x = a->options; x && *x; x++) {
			snprintf(ks, sizeof(ks), "--%s ", *x);
			ck_assert_msg(strstr(a->usage, ks), "%s lacks %s", a->name, ks);
		}
	}
	ck_assert_ptr_eq(keyprov_at(0), &kp_keyfile);
	ck_assert_ptr_null(keyprov_at(3));
}
END_TEST

START_TEST(spec_unknown_or_empty_refused)
{
	const struct keyprov *kp;
	const char *arg;
	char name[32];

	ck_assert_int_eq(keyprov_parse_spec("floppy:/x", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec("floppy", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec("KEYFILE:/k", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec("", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec(":x", &kp, &arg, name, sizeof(name)), -EINVAL);
	ck_assert_int_eq(keyprov_parse_spec("averyveryveryveryverylongsourcename:x", &kp, &arg, name, sizeof(name)),
			 -EINVAL);
	ck_assert_ptr_null(keyprov_find("nope"));
	ck_assert_ptr_null(keyprov_find(""));
}
END_TEST

START_TEST(keyfile_without_path_refused)
{
	const struct keyprov *kp;
	const char *arg = (void *)1;
	char name[32];
	uint8_t key[32];
	json_t *params = NULL;

	/* "keyfile" and "keyfile:" parse, with no argument... */
	ck_assert_int_eq(keyprov_parse_spec("keyfile", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_ptr_null(arg);
	ck_assert_int_eq(keyprov_parse_spec("keyfile:", &kp, &arg, name, sizeof(name)), 0);
	ck_assert_ptr_null(arg);
	/* ...and the source refuses to enroll without one. */
	ck_assert_int_eq(keyprov_enroll(kp, arg, NULL, uuid, key, &params), -EINVAL);
	ck_assert_int_eq(keyprov_enroll(kp, "", NULL, uuid, key, &params), -EINVAL);
	ck_assert_ptr_null(params);
}
END_TEST

START_TEST(keyfile_created_when_missing)
{
	uint8_t key[32], fkey[40], zero[32] = { 0 };
	json_t *params;
	struct stat st;
	char rel[160], cwd[4096];
	const char *path;
	long n;
	int fd;

	params = enroll_ok(keypath, uuid, key);
	ck_assert_int_eq(lstat(keypath, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0400);
	ck_assert_int_eq(st.st_size, 32);
	ck_assert_int_eq(st.st_uid, geteuid());
	fd = open(keypath, O_RDONLY);
	ck_assert_int_eq(read(fd, fkey, sizeof(fkey)), 32);
	close(fd);
	ck_assert(memcmp(fkey, zero, 32));
	ck_assert(memcmp(fkey, key, 32)); /* the file key is not the volume key */
	/* params: exactly the absolute path and 40 bytes of wrapped key. */
	ck_assert_int_eq(json_object_size(params), 2);
	ck_assert_str_eq(json_string_value(json_object_get(params, "path")), keypath);
	path = json_string_value(json_object_get(params, "wrapped_key"));
	n = crypto_b64_decode(path, strlen(path), fkey, sizeof(fkey));
	ck_assert_int_eq(n, 40);
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, params), 0);
	json_decref(params);
	/* A relative PATH is recorded absolute. */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);
	snprintf(rel, sizeof(rel), "relkey");
	params = enroll_ok(rel, uuid, key);
	ck_assert_int_eq(chdir(cwd), 0);
	snprintf(rel, sizeof(rel), "%s/relkey", dir);
	ck_assert_str_eq(json_string_value(json_object_get(params, "path")), rel);
	json_decref(params);
}
END_TEST

START_TEST(keyfile_roundtrip)
{
	uint8_t key[32], back[32], key2[32];
	json_t *params, *params2;

	params = enroll_ok(keypath, uuid, key);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, NULL, uuid, back), 0);
	ck_assert_mem_eq(key, back, 32);
	/* A second volume on the same (now existing) keyfile gets its own key. */
	params2 = enroll_ok(keypath, uuid2, key2);
	ck_assert(memcmp(key, key2, 32));
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params2, NULL, uuid2, back), 0);
	ck_assert_mem_eq(key2, back, 32);
	json_decref(params);
	json_decref(params2);
}
END_TEST

START_TEST(keyfile_wrong_key_refused)
{
	uint8_t key[32], back[32], zero[32] = { 0 };
	char other[160];
	json_t *params;

	params = enroll_ok(keypath, uuid, key);
	snprintf(other, sizeof(other), "%s/other", dir);
	write_file(other, 32, 0400);
	memset(back, 0xaa, sizeof(back));
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, other, uuid, back), -EKEYREJECTED);
	ck_assert_mem_eq(back, zero, 32); /* nothing half-unwrapped left behind */
	json_decref(params);
}
END_TEST

START_TEST(keyfile_bound_to_volume)
{
	uint8_t key[32], back[32];
	json_t *params;

	params = enroll_ok(keypath, uuid, key);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, NULL, uuid2, back), -EKEYREJECTED);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, NULL, uuid, back), 0);
	json_decref(params);
}
END_TEST

START_TEST(keyfile_changed_wrapped_key_refused)
{
	uint8_t key[32], back[32], w[40];
	char b64[64];
	json_t *params;
	const char *s;

	params = enroll_ok(keypath, uuid, key);
	s = json_string_value(json_object_get(params, "wrapped_key"));
	ck_assert_int_eq(crypto_b64_decode(s, strlen(s), w, sizeof(w)), 40);
	for (int i = 0; i < 40; i++) {
		json_t *p = json_deep_copy(params);

		w[i] ^= 0x01;
		crypto_b64_encode(w, sizeof(w), b64);
		json_object_set_new(p, "wrapped_key", json_string(b64));
		ck_assert_int_eq(keyprov_unlock(&kp_keyfile, p, NULL, uuid, back), -EKEYREJECTED);
		w[i] ^= 0x01;
		json_decref(p);
	}
	json_decref(params);
}
END_TEST

START_TEST(keyfile_wrong_size_refused)
{
	static const size_t sizes[] = { 0, 1, 31, 33, 64 };
	uint8_t key[32], back[32];
	json_t *params = NULL, *good;
	char p[160];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(p, sizeof(p), "%s/size%zu", dir, sizes[i]);
		write_file(p, sizes[i], 0400);
		ck_assert_int_eq(keyprov_enroll(&kp_keyfile, p, NULL, uuid, key, &params), -EINVAL);
		ck_assert_ptr_null(params);
	}
	/* At unlock too, through the path override. */
	good = enroll_ok(keypath, uuid, key);
	snprintf(p, sizeof(p), "%s/size31", dir);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, good, p, uuid, back), -EINVAL);
	json_decref(good);
}
END_TEST

START_TEST(keyfile_loose_mode_refused)
{
	static const mode_t modes[] = { 0644, 0440, 0404, 0420, 0402, 0410, 0401, 0666 };
	uint8_t key[32];
	json_t *params = NULL;
	char p[160];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(p, sizeof(p), "%s/mode%o", dir, modes[i]);
		write_file(p, 32, modes[i]);
		ck_assert_msg(keyprov_enroll(&kp_keyfile, p, NULL, uuid, key, &params) == -EPERM, "mode %o accepted",
			      modes[i]);
		ck_assert_ptr_null(params);
	}
	/* Owner-only modes are fine. */
	snprintf(p, sizeof(p), "%s/mode600", dir);
	write_file(p, 32, 0600);
	params = enroll_ok(p, uuid, key);
	json_decref(params);
}
END_TEST

START_TEST(keyfile_loosened_after_create_refused)
{
	uint8_t key[32], back[32];
	json_t *params;

	params = enroll_ok(keypath, uuid, key);
	ck_assert_int_eq(chmod(keypath, 0604), 0);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, NULL, uuid, back), -EPERM);
	ck_assert_int_eq(chmod(keypath, 0400), 0);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, NULL, uuid, back), 0);
	unlink(keypath);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, NULL, uuid, back), -ENOENT);
	json_decref(params);
}
END_TEST

START_TEST(keyfile_other_owner_refused)
{
	uint8_t key[32];
	json_t *params = NULL;

	if (geteuid() != 0)
		return; /* only root can give a file away */
	write_file(keypath, 32, 0400);
	ck_assert_int_eq(chown(keypath, 1, 1), 0);
	ck_assert_int_eq(keyprov_enroll(&kp_keyfile, keypath, NULL, uuid, key, &params), -EPERM);
	ck_assert_ptr_null(params);
}
END_TEST

START_TEST(keyfile_symlink_refused)
{
	uint8_t key[32], back[32];
	json_t *params = NULL, *good;
	char l[160], dangling[160];

	good = enroll_ok(keypath, uuid, key);
	snprintf(l, sizeof(l), "%s/link", dir);
	ck_assert_int_eq(symlink(keypath, l), 0);
	ck_assert_int_eq(keyprov_enroll(&kp_keyfile, l, NULL, uuid, key, &params), -ELOOP);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, good, l, uuid, back), -ELOOP);
	/* A dangling symlink is not "missing": no keyfile is created through it. */
	snprintf(dangling, sizeof(dangling), "%s/dangling", dir);
	snprintf(l, sizeof(l), "%s/target", dir);
	ck_assert_int_eq(symlink(l, dangling), 0);
	ck_assert_int_lt(keyprov_enroll(&kp_keyfile, dangling, NULL, uuid, key, &params), 0);
	ck_assert_int_ne(access(l, F_OK), 0);
	ck_assert_ptr_null(params);
	json_decref(good);
}
END_TEST

START_TEST(keyfile_not_regular_refused)
{
	uint8_t key[32];
	json_t *params = NULL;
	char p[160];

	ck_assert_int_eq(keyprov_enroll(&kp_keyfile, dir, NULL, uuid, key, &params), -EINVAL);
	/* A FIFO must be refused, not block the command forever. */
	snprintf(p, sizeof(p), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(p, 0400), 0);
	ck_assert_int_eq(keyprov_enroll(&kp_keyfile, p, NULL, uuid, key, &params), -EINVAL);
	snprintf(p, sizeof(p), "%s/missing-dir/key", dir);
	ck_assert_int_lt(keyprov_enroll(&kp_keyfile, p, NULL, uuid, key, &params), 0);
	ck_assert_ptr_null(params);
}
END_TEST

START_TEST(keyfile_path_override)
{
	uint8_t key[32], back[32];
	char moved[160];
	json_t *params;

	params = enroll_ok(keypath, uuid, key);
	snprintf(moved, sizeof(moved), "%s/moved", dir);
	ck_assert_int_eq(rename(keypath, moved), 0);
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, NULL, uuid, back), -ENOENT);
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(keyprov_unlock(&kp_keyfile, params, moved, uuid, back), 0);
	ck_assert_mem_eq(key, back, 32);
	json_decref(params);
}
END_TEST

START_TEST(keyfile_validate_strict)
{
	json_t *p = json_pack("{s:s, s:s}", "path", "/k", "wrapped_key", "AAAA");

	ck_assert_int_eq(keyprov_validate(&kp_keyfile, p), -EINVAL);
	json_object_set_new(p, "wrapped_key", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="));
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, p), 0);
	json_object_set_new(p, "path", json_string("relative"));
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, p), -EINVAL);
	json_object_set_new(p, "path", json_string(""));
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, p), -EINVAL);
	json_object_set_new(p, "path", json_integer(1));
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, p), -EINVAL);
	json_object_set_new(p, "path", json_string("/k"));
	json_object_set_new(p, "extra", json_string("x"));
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, p), -EINVAL);
	json_object_del(p, "extra");
	json_object_del(p, "path");
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, p), -EINVAL);
	json_decref(p);
}
END_TEST

START_TEST(keyfile_describe_hides_secrets)
{
	uint8_t key[32];
	json_t *params = enroll_ok(keypath, uuid, key);
	char *text = NULL, id[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	keyprov_describe(&kp_keyfile, params, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, keypath));
	ck_assert_ptr_nonnull(strstr(text, "present, 40 bytes"));
	ck_assert_ptr_null(strstr(text, json_string_value(json_object_get(params, "wrapped_key"))));
	keyprov_audit_id(&kp_keyfile, params, id, sizeof(id));
	ck_assert_str_eq(id + strlen("keyfile:"), keypath);
	ck_assert(!strncmp(id, "keyfile:", 8));
	free(text);
	json_decref(params);
}
END_TEST

/* A source whose functions are missing from this build. */
static const struct keyprov kp_absent = { .name = "absent" };

START_TEST(absent_source_reports_unavailable)
{
	uint8_t key[32];
	json_t *params = NULL, *obj = json_object();
	char *text = NULL, id[32];
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(keyprov_enroll(&kp_absent, "x", NULL, uuid, key, &params), -ENOTSUP);
	ck_assert_ptr_null(params);
	ck_assert_int_eq(keyprov_unlock(&kp_absent, obj, NULL, uuid, key), -ENOTSUP);
	ck_assert_int_eq(keyprov_validate(&kp_absent, obj), -ENOTSUP);
	f = open_memstream(&text, &len);
	keyprov_describe(&kp_absent, obj, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "not available in this build"));
	keyprov_audit_id(&kp_absent, obj, id, sizeof(id));
	ck_assert_str_eq(id, "absent");
	free(text);
	json_decref(obj);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keyprov");
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(spec_known_sources);
	T(create_options);
	T(spec_unknown_or_empty_refused);
	T(keyfile_without_path_refused);
	T(keyfile_created_when_missing);
	T(keyfile_roundtrip);
	T(keyfile_wrong_key_refused);
	T(keyfile_bound_to_volume);
	T(keyfile_changed_wrapped_key_refused);
	T(keyfile_wrong_size_refused);
	T(keyfile_loose_mode_refused);
	T(keyfile_loosened_after_create_refused);
	T(keyfile_other_owner_refused);
	T(keyfile_symlink_refused);
	T(keyfile_not_regular_refused);
	T(keyfile_path_override);
	T(keyfile_validate_strict);
	T(keyfile_describe_hides_secrets);
	T(absent_source_reports_unavailable);
	return run_suite(s);
}
