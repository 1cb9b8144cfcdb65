// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The volume config: strict parsing of hostile input (every truncation,
 * wrong types, unknown fields and algorithms, oversized values), the MAC
 * over every field, atomic store, key derivation and the refusal rules.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "keyprov.h"
#include "log.h"
#include "volume.h"

static struct volume_keys *keys;
static char *good; /* a valid encrypted config text */

static void setup(void)
{
	struct volume_config *cfg;
	uint8_t vkey[32];

	log_set_level(LOG_LVL_NONE);
	memset(vkey, 0x11, sizeof(vkey));
	ck_assert_int_eq(volume_config_new(true, &cfg), 0);
	strcpy(cfg->key_source, "keyfile");
	cfg->key_params = json_pack("{s:s, s:s}", "path", "/etc/atrestfs/k",
				    "wrapped_key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==");
	ck_assert_int_eq(volume_derive_keys(vkey, cfg->uuid_bin, &keys), 0);
	ck_assert_int_eq(volume_config_seal(cfg, keys), 0);
	good = volume_config_dump(cfg);
	volume_config_free(cfg);
}

static void teardown(void)
{
	volume_keys_free(keys);
	free(good);
}

static int parse(const char *text)
{
	struct volume_config *cfg = NULL;
	int r = volume_config_parse(text, strlen(text), &cfg);

	volume_config_free(cfg);
	return r;
}

/* The good config with one top-level field replaced by @p json_value. */
static int parse_with(const char *field, const char *json_value)
{
	json_t *root = json_loads(good, 0, NULL);
	char *text;
	int r;

	if (json_value)
		json_object_set_new(root, field, json_loads(json_value, JSON_DECODE_ANY, NULL));
	else
		json_object_del(root, field);
	text = json_dumps(root, 0);
	r = parse(text);
	free(text);
	json_decref(root);
	return r;
}

START_TEST(roundtrip)
{
	struct volume_config *cfg;
	char *again;

	ck_assert_int_eq(volume_config_parse(good, strlen(good), &cfg), 0);
	ck_assert(cfg->encrypted);
	ck_assert_str_eq(cfg->key_source, "keyfile");
	ck_assert_int_eq(volume_config_verify(cfg, keys), 0);
	again = volume_config_dump(cfg);
	ck_assert_str_eq(again, good);
	free(again);
	volume_config_free(cfg);
}
END_TEST

START_TEST(every_truncation_refused)
{
	size_t n = strlen(good);
	struct volume_config *cfg;

	for (size_t i = 0; i < n - 2; i++) { /* the last bytes are "}\0"-ish whitespace */
		cfg = NULL;
		ck_assert_msg(volume_config_parse(good, i, &cfg) < 0, "prefix of %zu bytes accepted", i);
		ck_assert_ptr_null(cfg);
	}
}
END_TEST

START_TEST(wrong_types_refused)
{
	static const char *fields[] = { "format", "uuid", "created", "encryption", "cipher",
					"block_size", "names", "key_source", "mac" };
	static const char *values[] = { "\"1\"", "1", "null", "[]", "{}", "true", "1.5" };

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			if ((!strcmp(fields[f], "encryption") && !strcmp(values[v], "true")) ||
			    (!strcmp(fields[f], "format") && !strcmp(values[v], "1")))
				continue; /* the correct value */
			ck_assert_msg(parse_with(fields[f], values[v]) < 0, "%s=%s accepted",
				      fields[f], values[v]);
		}
}
END_TEST

START_TEST(missing_fields_refused)
{
	static const char *fields[] = { "format", "uuid", "created", "encryption", "cipher",
					"block_size", "names", "key_source", "mac" };

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
		ck_assert_msg(parse_with(fields[f], NULL) < 0, "missing %s accepted", fields[f]);
}
END_TEST

START_TEST(unknown_fields_and_algorithms_refused)
{
	json_t *root = json_loads(good, 0, NULL);
	char *text;

	ck_assert_int_eq(parse_with("extra", "1"), -EINVAL);
	ck_assert_int_eq(parse_with("format", "2"), -EINVAL);
	ck_assert_int_eq(parse_with("format", "0"), -EINVAL);
	ck_assert_int_eq(parse_with("cipher", "\"AES-128-GCM\""), -EINVAL);
	ck_assert_int_eq(parse_with("names", "\"plain\""), -EINVAL);
	ck_assert_int_eq(parse_with("block_size", "8192"), -EINVAL);
	ck_assert_int_eq(parse_with("uuid", "\"not-a-uuid\""), -EINVAL);
	ck_assert_int_eq(parse_with("uuid", "\"3AB8DDCE-677A-4833-8923-A8D57F83CFED\""), -EINVAL);
	ck_assert_int_eq(parse_with("created", "\"yesterday\""), -EINVAL);
	ck_assert_int_eq(parse_with("mac", "\"!!\""), -EINVAL);
	ck_assert_int_eq(parse_with("key_source", "{\"type\":\"floppy\"}"), -EINVAL);
	/* Inside key_source: unknown field, missing path, bad wrapped key. */
	json_object_set_new(json_object_get(root, "key_source"), "extra", json_true());
	text = json_dumps(root, 0);
	ck_assert_int_eq(parse(text), -EINVAL);
	free(text);
	json_object_del(json_object_get(root, "key_source"), "extra");
	json_object_set_new(json_object_get(root, "key_source"), "wrapped_key", json_string("AAAA"));
	text = json_dumps(root, 0);
	ck_assert_int_eq(parse(text), -EINVAL);
	free(text);
	json_decref(root);
}
END_TEST

START_TEST(malformed_documents_refused)
{
	char *big = malloc(VOLUME_CONFIG_MAX + 10);
	char dup[4096];

	ck_assert_int_eq(parse(""), -EINVAL);
	ck_assert_int_eq(parse("[]"), -EINVAL);
	ck_assert_int_eq(parse("\"x\""), -EINVAL);
	ck_assert_int_eq(parse("{\"format\":1}"), -EINVAL);
	snprintf(dup, sizeof(dup), "%s garbage", good);
	ck_assert_int_eq(parse(dup), -EINVAL);
	/* Duplicate key: the second "format" could hide the first. */
	snprintf(dup, sizeof(dup), "{\"format\":1,%s", strchr(good, '{') + 1);
	ck_assert_int_eq(parse(dup), -EINVAL);
	/* NUL inside a string (jansson refuses \u0000 unless asked). */
	ck_assert_int_eq(parse("{\"format\":1,\"uuid\":\"3ab8ddce-677a-4833-8923-a8d57f83cfed\","
			       "\"created\":\"2026-11-22T13:02:31Z\\u0000\",\"encryption\":false}"), -EINVAL);
	memset(big, ' ', VOLUME_CONFIG_MAX + 9);
	big[VOLUME_CONFIG_MAX + 9] = '\0';
	ck_assert_int_eq(parse(big), -EFBIG);
	free(big);
}
END_TEST

START_TEST(oversized_values_refused)
{
	char *v = malloc(5000);

	v[0] = '"';
	memset(v + 1, 'a', 4000);
	strcpy(v + 4001, "\"");
	ck_assert_int_eq(parse_with("uuid", v), -EINVAL);
	ck_assert_int_eq(parse_with("cipher", v), -EINVAL);
	ck_assert_int_eq(parse_with("mac", v), -EINVAL);
	ck_assert_int_eq(parse("{\"format\":99999999999999999999,\"encryption\":false}"), -EINVAL);
	ck_assert_int_eq(parse_with("format", "9223372036854775807"), -EINVAL);
	free(v);
}
END_TEST

START_TEST(plain_config_strict)
{
	ck_assert_int_eq(parse("{\"format\":1,\"uuid\":\"3ab8ddce-677a-4833-8923-a8d57f83cfed\","
			       "\"created\":\"2026-11-22T13:02:31Z\",\"encryption\":false}"), 0);
	ck_assert_int_eq(parse("{\"format\":1,\"uuid\":\"3ab8ddce-677a-4833-8923-a8d57f83cfed\","
			       "\"created\":\"2026-11-22T13:02:31Z\",\"encryption\":false,"
			       "\"cipher\":\"AES-256-GCM\"}"), -EINVAL);
}
END_TEST

START_TEST(mac_detects_any_change)
{
	static const struct { const char *field, *value; } changes[] = {
		{ "created", "\"2001-01-01T00:00:00Z\"" },
		{ "uuid", "\"00000000-0000-4000-8000-000000000000\"" },
		{ "key_source", "{\"type\":\"keyfile\",\"path\":\"/other\",\"wrapped_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}" },
		{ "key_source", "{\"type\":\"keyfile\",\"path\":\"/etc/atrestfs/k\",\"wrapped_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ==\"}" },
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		json_t *root = json_loads(good, 0, NULL);
		struct volume_config *cfg;
		char *text;

		json_object_set_new(root, changes[i].field,
				    json_loads(changes[i].value, JSON_DECODE_ANY, NULL));
		text = json_dumps(root, 0);
		ck_assert_int_eq(volume_config_parse(text, strlen(text), &cfg), 0);
		ck_assert_msg(volume_config_verify(cfg, keys) == -EBADMSG, "change %zu undetected", i);
		volume_config_free(cfg);
		free(text);
		json_decref(root);
	}
}
END_TEST

START_TEST(derive_keys_distinct_and_deterministic)
{
	uint8_t vkey[32] = { 5 }, uuid[16] = { 6 };
	struct volume_keys *a, *b;

	ck_assert_int_eq(volume_derive_keys(vkey, uuid, &a), 0);
	ck_assert_int_eq(volume_derive_keys(vkey, uuid, &b), 0);
	ck_assert(!memcmp(a, b, sizeof(*a)));
	ck_assert(memcmp(a->content, a->config_mac, 32));
	ck_assert(memcmp(a->content, a->names, 32));
	volume_keys_free(b);
	uuid[0] ^= 1;
	ck_assert_int_eq(volume_derive_keys(vkey, uuid, &b), 0);
	ck_assert(memcmp(a->content, b->content, 32));
	volume_keys_free(a);
	volume_keys_free(b);
}
END_TEST

START_TEST(store_is_atomic_and_exclusive)
{
	char dir[] = "/tmp/check_volume.XXXXXX", path[128];
	struct volume_config *cfg, *back;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(volume_config_new(false, &cfg), 0);
	ck_assert_int_eq(volume_config_load(dir, &back), -ENOENT);
	ck_assert_int_eq(volume_config_store(dir, cfg), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, VOLUME_CONFIG_NAME);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0400);
	snprintf(path, sizeof(path), "%s/%s.tmp", dir, VOLUME_CONFIG_NAME);
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(volume_config_store(dir, cfg), -EEXIST);
	ck_assert_int_eq(volume_config_load(dir, &back), 0);
	ck_assert_str_eq(back->uuid, cfg->uuid);
	ck_assert(!back->encrypted);
	volume_config_free(back);
	volume_config_free(cfg);
	snprintf(path, sizeof(path), "%s/%s", dir, VOLUME_CONFIG_NAME);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(refusal_rules)
{
	struct volume_config enc = { .encrypted = true, .key_source = "keyfile" };
	struct volume_config plain = { .encrypted = false };
	struct volume_expect on = { .encryption = true }, off = { .encryption = false },
			     on_kms = { .encryption = true, .key_source = "kms" },
			     on_keyfile = { .encryption = true, .key_source = "keyfile" };

	ck_assert_int_eq(volume_check_mount(&enc, &on), VOLUME_OK);
	ck_assert_int_eq(volume_check_mount(&enc, &on_keyfile), VOLUME_OK);
	ck_assert_int_eq(volume_check_mount(&plain, &off), VOLUME_OK);
	ck_assert_int_eq(volume_check_mount(&enc, &off), VOLUME_ENCRYPTED_BUT_OFF);
	ck_assert_int_eq(volume_check_mount(&plain, &on), VOLUME_PLAIN_BUT_EXPECTED);
	ck_assert_int_eq(volume_check_mount(&plain, &on_kms), VOLUME_PLAIN_BUT_EXPECTED);
	ck_assert_int_eq(volume_check_mount(&enc, &on_kms), VOLUME_KEY_SOURCE_MISMATCH);
	ck_assert_int_eq(volume_check_mount(NULL, &on), VOLUME_NOT_A_VOLUME);
	ck_assert_int_eq(volume_check_mount(NULL, &off), VOLUME_NOT_A_VOLUME);
	ck_assert_ptr_nonnull(strstr(volume_verdict_message(VOLUME_ENCRYPTED_BUT_OFF), "plaintext"));
	ck_assert_ptr_nonnull(strstr(volume_verdict_message(VOLUME_PLAIN_BUT_EXPECTED), "create a new volume"));
	ck_assert_ptr_nonnull(strstr(volume_verdict_message(VOLUME_KEY_SOURCE_MISMATCH), "fixed at creation"));
	ck_assert_ptr_nonnull(strstr(volume_verdict_message(VOLUME_NOT_A_VOLUME), "atrestfs create"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("volume");
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(roundtrip);
	T(every_truncation_refused);
	T(wrong_types_refused);
	T(missing_fields_refused);
	T(unknown_fields_and_algorithms_refused);
	T(malformed_documents_refused);
	T(oversized_values_refused);
	T(plain_config_strict);
	T(mac_detects_any_change);
	T(derive_keys_distinct_and_deterministic);
	T(store_is_atomic_and_exclusive);
	T(refusal_rules);
	return run_suite(s);
}
