// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The node's pins (src/pin.c): records are hostile input like configs
 * (every malformed one, a record anyone else could write, a FIFO or a
 * symlink in its place are refused, none hangs); mount options parse to
 * the same normal form as the config's fields; the check names the
 * mismatch; the fstab options state exactly the pins; the enroll and
 * unlock children hand back the key (and parameters) a keyfile gives, the
 * source's error when it fails, and the MAC check refuses a wrong config.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyprov.h"
#include "log.h"
#include "pin.h"
#include "secmem.h"
#include "testutil.h"
#include "unlock.h"
#include "volume.h"

static char top[64], vol[256], rec[512], recdir[256];

static void setup(void)
{
	char hexname[65] = "";
	FILE *p;
	char cmd[PATH_MAX + 64];

	snprintf(top, sizeof(top), "/tmp/check_pin.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(vol, sizeof(vol), "%s/vol", top);
	ck_assert_int_eq(mkdir(vol, 0700), 0);
	snprintf(recdir, sizeof(recdir), "%s/node/volumes", top);
	setenv(PIN_DIR_ENV, strcat(strcpy(cmd, top), "/node"), 1);
	/* The record's name, computed apart from pin.c. */
	snprintf(cmd, sizeof(cmd), "printf %%s '%s' | sha256sum", vol);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%64s", hexname), 1);
	pclose(p);
	snprintf(rec, sizeof(rec), "%s/%s.json", recdir, hexname);
	log_set_level(LOG_LVL_NONE);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
}

static struct volume_config *keyfile_cfg(const char *path)
{
	struct volume_config *cfg;

	ck_assert_int_eq(volume_config_new(true, &cfg), 0);
	strcpy(cfg->key_source, "keyfile");
	cfg->key_params = json_pack("{s:s, s:s}", "path", path, "wrapped_key",
				    "AAAA");
	return cfg;
}

static struct volume_config *kms_cfg(const char *endpoint)
{
	struct volume_config *cfg;

	ck_assert_int_eq(volume_config_new(true, &cfg), 0);
	strcpy(cfg->key_source, "kms");
	cfg->key_params = json_pack("{s:s, s:s, s:s}", "key_arn",
				    "arn:aws:kms:us-east-1:123456789012:key/k",
				    "region", "us-east-1", "ciphertext_blob", "AAAA");
	if (endpoint)
		json_object_set_new(cfg->key_params, "endpoint",
				    json_string(endpoint));
	return cfg;
}

static void write_record(const char *text, mode_t mode)
{
	int fd;

	unlink(rec);
	fd = open(rec, O_WRONLY | O_CREAT | O_EXCL, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static int resolve_check(const struct pin_opts *o,
			 const struct volume_config *cfg)
{
	struct node_pins *p;
	int r = pin_resolve(vol, o, &p);

	if (!r)
		r = pin_check(p, vol, cfg);
	pin_free(p);
	return r;
}

START_TEST(store_then_check)
{
	struct volume_config *cfg = keyfile_cfg("/etc/k"), *other;
	char where[PATH_MAX + 128];
	struct stat st;

	ck_assert_int_eq(pin_record_store(vol, cfg, where, sizeof(where)), 0);
	ck_assert_str_eq(where, rec);
	ck_assert_int_eq(stat(rec, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(recdir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(resolve_check(NULL, cfg), 0);
	/* Another volume's config (another UUID), and the same UUID with a
	 * key file elsewhere: both refused. */
	other = keyfile_cfg("/etc/k");
	ck_assert_int_eq(resolve_check(NULL, other), PIN_REFUSED);
	strcpy(other->uuid, cfg->uuid);
	json_object_set_new(other->key_params, "path", json_string("/vol/.k"));
	ck_assert_int_eq(resolve_check(NULL, other), PIN_REFUSED);
	/* ... unless the mount names the key file itself. */
	{
		struct pin_opts o = { .key_source = "keyfile:/etc/k2" };
		ck_assert_int_eq(resolve_check(&o, other), 0);
	}
	volume_config_free(cfg);
	volume_config_free(other);
}
END_TEST

START_TEST(unpinned_encrypted_refused_plain_passes)
{
	struct volume_config *cfg = keyfile_cfg("/etc/k"), *plain;
	struct pin_opts o = { .uuid = cfg->uuid };

	ck_assert_int_eq(resolve_check(NULL, cfg), PIN_REFUSED);
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED); /* no key source */
	o.key_source = "keyfile";
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED); /* no path */
	o.key_source = "keyfile:/etc/k";
	ck_assert_int_eq(resolve_check(&o, cfg), 0);
	ck_assert_int_eq(volume_config_new(false, &plain), 0);
	ck_assert_int_eq(resolve_check(NULL, plain), 0);
	/* Once pinned, a plain volume is held to its record too. */
	{
		char where[PATH_MAX + 128];
		struct node_pins *p;
		struct volume_config *other;

		ck_assert_int_eq(pin_record_store(vol, plain, where,
						  sizeof(where)), 0);
		ck_assert_int_eq(pin_resolve(vol, NULL, &p), 0);
		ck_assert(pin_has_record(p));
		pin_free(p);
		ck_assert_int_eq(resolve_check(NULL, plain), 0);
		ck_assert_int_eq(volume_config_new(false, &other), 0);
		ck_assert_int_eq(resolve_check(NULL, other), PIN_REFUSED);
		ck_assert_int_eq(resolve_check(NULL, cfg), PIN_REFUSED);
		volume_config_free(other);
	}
	volume_config_free(cfg);
	volume_config_free(plain);
}
END_TEST

START_TEST(hostile_records_refused)
{
	struct volume_config *cfg = keyfile_cfg("/etc/k");
	char where[PATH_MAX + 128], good[1024], *bad[8];
	int n = 0;

	ck_assert_int_eq(pin_record_store(vol, cfg, where, sizeof(where)), 0);
	snprintf(good, sizeof(good),
		 "{\"format\":1,\"volume\":\"%s\",\"uuid\":\"%s\","
		 "\"encryption\":true,\"key_source\":{\"type\":\"keyfile\","
		 "\"path\":\"/etc/k\"}}", vol, cfg->uuid);
	write_record(good, 0600);
	ck_assert_int_eq(resolve_check(NULL, cfg), 0);
	ck_assert_int_eq(asprintf(&bad[n++], "%s x", good), (int)strlen(good) + 2);
	ck_assert_int_gt(asprintf(&bad[n++], "{\"format\":2,\"volume\":\"%s\","
				  "\"uuid\":\"%s\",\"encryption\":true}", vol,
				  cfg->uuid), 0);
	ck_assert_int_gt(asprintf(&bad[n++], "{\"format\":1,\"volume\":\"/x\","
				  "\"uuid\":\"%s\",\"encryption\":true}",
				  cfg->uuid), 0);
	ck_assert_int_gt(asprintf(&bad[n++], "{\"format\":1,\"volume\":\"%s\","
				  "\"uuid\":\"%s\",\"encryption\":true,\"extra\":1}",
				  vol, cfg->uuid), 0);
	ck_assert_int_gt(asprintf(&bad[n++], "{\"format\":1,\"volume\":\"%s\","
				  "\"uuid\":\"NOT\",\"encryption\":true}", vol), 0);
	ck_assert_int_gt(asprintf(&bad[n++], "{\"format\":1,\"volume\":\"%s\","
				  "\"uuid\":\"%s\",\"encryption\":true,"
				  "\"key_source\":{\"type\":\"keyfile\",\"tcti\":\"cmd:x\"}}",
				  vol, cfg->uuid), 0);
	ck_assert_int_gt(asprintf(&bad[n++], "{\"format\":1,\"volume\":\"%s\","
				  "\"uuid\":\"%s\",\"encryption\":false,"
				  "\"key_source\":{\"type\":\"keyfile\"}}",
				  vol, cfg->uuid), 0);
	ck_assert_int_gt(asprintf(&bad[n++], "{\"format\":1,\"format\":1,"
				  "\"volume\":\"%s\",\"uuid\":\"%s\","
				  "\"encryption\":true}", vol, cfg->uuid), 0);
	for (int i = 0; i < n; i++) {
		write_record(bad[i], 0600);
		ck_assert_msg(resolve_check(NULL, cfg) == PIN_REFUSED,
			      "record %d accepted: %s", i, bad[i]);
		free(bad[i]);
	}
	/* Readable by others; a directory anyone can enter; a FIFO (must
	 * not hang); a symlink to a good record. */
	write_record(good, 0644);
	ck_assert_int_eq(resolve_check(NULL, cfg), PIN_REFUSED);
	write_record(good, 0600);
	chmod(recdir, 0755);
	ck_assert_int_eq(resolve_check(NULL, cfg), PIN_REFUSED);
	chmod(recdir, 0700);
	unlink(rec);
	ck_assert_int_eq(mkfifo(rec, 0600), 0);
	ck_assert_int_eq(resolve_check(NULL, cfg), PIN_REFUSED);
	write_record(good, 0600);
	{
		char real[PATH_MAX + 16];

		snprintf(real, sizeof(real), "%s/real", top);
		ck_assert_int_eq(rename(rec, real), 0);
		ck_assert_int_eq(symlink(real, rec), 0);
	}
	ck_assert_int_eq(resolve_check(NULL, cfg), PIN_REFUSED); /* not followed */
	volume_config_free(cfg);
}
END_TEST

START_TEST(options_against_record)
{
	struct volume_config *cfg = kms_cfg("http://127.0.0.1:1");
	char where[PATH_MAX + 128];
	struct pin_opts o = { 0 };

	ck_assert_int_eq(pin_record_store(vol, cfg, where, sizeof(where)), 0);
	o.kms_region = "us-east-1";
	ck_assert_int_eq(resolve_check(&o, cfg), 0);
	o.kms_region = "eu-west-1";
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	o.kms_region = NULL;
	o.tpm2_pcrs = "7"; /* another source's option */
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	o.tpm2_pcrs = NULL;
	o.key_source = "kms:arn:aws:kms:us-east-1:123456789012:key/other";
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	o.key_source = "keyfile:/k";
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	o.key_source = NULL;
	o.uuid = "00000000-0000-4000-8000-000000000000";
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	/* The endpoint is pinned: another one, or none, is refused. */
	o.uuid = NULL;
	json_object_set_new(cfg->key_params, "endpoint",
			    json_string("http://127.0.0.1:2"));
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	json_object_del(cfg->key_params, "endpoint");
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	volume_config_free(cfg);
}
END_TEST

START_TEST(tpm2_options_normal_form)
{
	struct volume_config *cfg;
	char where[PATH_MAX + 128], buf[512];
	struct pin_opts o = { 0 };

	ck_assert_int_eq(volume_config_new(true, &cfg), 0);
	strcpy(cfg->key_source, "tpm2");
	cfg->key_params = json_pack("{s:[i,i,i], s:s}", "pcrs", 0, 2, 7,
				    "srk_handle", "0x81000001");
	o.uuid = cfg->uuid;
	o.key_source = "tpm2";
	o.tpm2_pcrs = "0+2+7";
	o.tpm2_srk = "2164260865"; /* 0x81000001 in decimal */
	ck_assert_int_eq(resolve_check(&o, cfg), 0);
	o.tpm2_pcrs = "7+2+0"; /* order is not meaning */
	ck_assert_int_eq(resolve_check(&o, cfg), 0);
	{
		const char *bad[] = { "7,8", "24", "7+7", "-1", "", "x", "7+" };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			o.tpm2_pcrs = bad[i];
			ck_assert_msg(resolve_check(&o, cfg) == PIN_REFUSED,
				      "tpm2_pcrs=%s accepted", bad[i]);
		}
	}
	o.tpm2_pcrs = "none";
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	o.tpm2_pcrs = "0+2+7";
	o.tpm2_srk = "0x40000001";
	ck_assert_int_eq(resolve_check(&o, cfg), PIN_REFUSED);
	ck_assert_int_eq(pin_fstab_options(cfg, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf + 42, "key_source=tpm2,tpm2_pcrs=0+2+7,"
				   "tpm2_srk=0x81000001");
	ck_assert_int_eq(pin_record_store(vol, cfg, where, sizeof(where)), 0);
	ck_assert_int_eq(resolve_check(NULL, cfg), 0);
	json_array_remove(json_object_get(cfg->key_params, "pcrs"), 0);
	ck_assert_int_eq(resolve_check(NULL, cfg), PIN_REFUSED);
	volume_config_free(cfg);
}
END_TEST

START_TEST(fstab_options)
{
	struct volume_config *cfg = kms_cfg("http://127.0.0.1:9"), *plain;
	char buf[512], want[512];

	ck_assert_int_eq(pin_fstab_options(cfg, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "uuid=%s,key_source=kms:arn:aws:kms:"
		 "us-east-1:123456789012:key/k,kms_region=us-east-1,"
		 "kms_endpoint=http://127.0.0.1:9", cfg->uuid);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(pin_fstab_options(cfg, buf, 20), -ENAMETOOLONG);
	volume_config_free(cfg);
	cfg = keyfile_cfg("/etc/a,b");
	ck_assert_int_eq(pin_fstab_options(cfg, buf, sizeof(buf)), -EINVAL);
	volume_config_free(cfg);
	ck_assert_int_eq(volume_config_new(false, &plain), 0);
	ck_assert_int_eq(pin_fstab_options(plain, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "encryption=off,uuid=%s", plain->uuid);
	ck_assert_str_eq(buf, want);
	volume_config_free(plain);
}
END_TEST

/* The whole unlock through the child, for a real keyfile volume. */
START_TEST(unlock_in_child)
{
	struct kp_options opt = { 0 };
	struct volume_config *cfg;
	struct volume_keys *keys = NULL, *want = NULL;
	struct node_pins *p;
	char key[PATH_MAX + 16], where[PATH_MAX + 128];

	snprintf(key, sizeof(key), "%s/key", top);
	ck_assert_int_eq(volume_config_new(true, &cfg), 0);
	/* Enrolled in a child too: subkeys and parameters come back. */
	ck_assert_int_eq(unlock_enroll(&kp_keyfile, key, &opt, cfg, &want), 0);
	ck_assert_str_eq(cfg->key_source, "keyfile");
	ck_assert_int_eq(keyprov_validate(&kp_keyfile, cfg->key_params), 0);
	ck_assert_int_eq(volume_config_seal(cfg, want), 0);
	ck_assert_int_eq(pin_record_store(vol, cfg, where, sizeof(where)), 0);
	ck_assert_int_eq(pin_resolve(vol, NULL, &p), 0);
	ck_assert_int_eq(unlock_volume_keys(vol, cfg, p, &keys), 0);
	ck_assert(!memcmp(keys, want, sizeof(*keys)));
	volume_keys_free(keys);
	/* A config MAC that does not verify. */
	cfg->mac[0] ^= 1;
	ck_assert_int_eq(unlock_volume_keys(vol, cfg, p, &keys), -EBADMSG);
	ck_assert_ptr_null(keys);
	cfg->mac[0] ^= 1;
	pin_free(p);
	/* Wrong keyfile named by the mount: the child's error comes back. */
	{
		struct pin_opts o = { .key_source = "keyfile:/nonexistent/key" };
		ck_assert_int_eq(pin_resolve(vol, &o, &p), 0);
		ck_assert_int_eq(unlock_volume_keys(vol, cfg, p, &keys), -ENOENT);
		pin_free(p);
	}
	volume_keys_free(want);
	volume_config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pin");

#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(store_then_check);
	T(unpinned_encrypted_refused_plain_passes);
	T(hostile_records_refused);
	T(options_against_record);
	T(tpm2_options_normal_form);
	T(fstab_options);
	T(unlock_in_child);
	return run_suite(s);
}
