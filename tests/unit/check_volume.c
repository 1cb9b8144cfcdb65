// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The volume config: strict parsing of hostile input (every truncation,
 * wrong types, unknown fields and algorithms, oversized values, NUL bytes,
 * duplicates), the MAC over every field pinned by an independent known
 * answer, atomic store, key derivation and the refusal rules case by case.
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

#define WRAPPED_B64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
#define UUID_TEXT "3ab8ddce-677a-4833-8923-a8d57f83cfed"
#define PLAIN_HEAD "{\"format\":2,\"uuid\":\"" UUID_TEXT "\","

static struct volume_keys *keys;
static char *good; /* a valid encrypted config text */
static char tmpdir[64];

static void setup(void)
{
	struct volume_config *cfg;
	uint8_t vkey[32];

	log_set_level(LOG_LVL_NONE);
	memset(vkey, 0x11, sizeof(vkey));
	ck_assert_int_eq(volume_config_new(true, &cfg), 0);
	strcpy(cfg->key_source, "keyfile");
	cfg->key_params = json_pack("{s:s, s:s}", "path", "/etc/atrestfs/k",
				    "wrapped_key", WRAPPED_B64);
	ck_assert_int_eq(volume_derive_keys(vkey, cfg->uuid_bin, &keys), 0);
	ck_assert_int_eq(volume_config_seal(cfg, keys), 0);
	good = volume_config_dump(cfg);
	ck_assert_ptr_nonnull(good);
	volume_config_free(cfg);
	strcpy(tmpdir, "/tmp/check_volume.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
	char cmd[256];

	volume_keys_free(keys);
	free(good);
	snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", tmpdir, tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static int parse(const char *text)
{
	struct volume_config *cfg = NULL;
	int r = volume_config_parse(text, strlen(text), &cfg);

	if (r)
		ck_assert_ptr_null(cfg);
	volume_config_free(cfg);
	return r;
}

/* @p text edited: @p obj's field replaced by @p json_value (NULL deletes). */
static char *edit(const char *text, const char *obj, const char *field, const char *json_value)
{
	json_t *root = json_loads(text, 0, NULL), *o = root;
	char *out;

	ck_assert_ptr_nonnull(root);
	if (obj)
		o = json_object_get(root, obj);
	if (json_value) {
		json_t *v = json_loads(json_value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		ck_assert_ptr_nonnull(v);
		json_object_set_new(o, field, v);
	} else {
		json_object_del(o, field);
	}
	out = json_dumps(root, JSON_ALLOW_NUL);
	json_decref(root);
	return out;
}

/* Parse the good config with one field replaced by @p json_value. */
static int parse_with_in(const char *obj, const char *field, const char *json_value)
{
	char *text = edit(good, obj, field, json_value);
	int r = parse(text);

	free(text);
	return r;
}

static int parse_with(const char *field, const char *json_value)
{
	return parse_with_in(NULL, field, json_value);
}

static const char *const all_fields[] = { "format",	"uuid",	 "created",    "encryption", "cipher",
					  "block_size", "names", "key_source", "mac" };
#define NFIELDS (sizeof(all_fields) / sizeof(all_fields[0]))

START_TEST(roundtrip)
{
	struct volume_config *cfg;
	char *again;

	ck_assert_int_eq(volume_config_parse(good, strlen(good), &cfg), 0);
	ck_assert(cfg->encrypted);
	ck_assert_int_eq(cfg->format, 3); /* what volume_config_new() makes */
	ck_assert_str_eq(cfg->key_source, "keyfile");
	ck_assert_str_eq(json_string_value(json_object_get(cfg->key_params, "path")), "/etc/atrestfs/k");
	ck_assert_ptr_null(json_object_get(cfg->key_params, "type"));
	ck_assert_int_eq(volume_config_verify(cfg, keys), 0);
	again = volume_config_dump(cfg);
	ck_assert_str_eq(again, good);
	free(again);
	volume_config_free(cfg);
}
END_TEST

START_TEST(new_config_is_fresh_v4)
{
	struct volume_config *a, *b;
	char *text;

	ck_assert_int_eq(volume_config_new(false, &a), 0);
	ck_assert_int_eq(volume_config_new(false, &b), 0);
	ck_assert_str_ne(a->uuid, b->uuid);
	ck_assert_int_eq(a->uuid[14], '4');
	ck_assert_ptr_nonnull(strchr("89ab", a->uuid[19]));
	ck_assert_int_eq(strlen(a->created), 20);
	/* What new makes, parse accepts: a plain config has just four fields. */
	text = volume_config_dump(a);
	ck_assert_int_eq(parse(text), 0);
	ck_assert_ptr_null(strstr(text, "mac"));
	free(text);
	volume_config_free(a);
	volume_config_free(b);
}
END_TEST

/* The canonical form, hence the MAC, pinned by an independent computation
 * (Python: hmac/hashlib HKDF, json.dumps(sort_keys, compact separators)). */
START_TEST(mac_known_answer)
{
	static const char text[] =
		"{\"format\":2,\"uuid\":\"" UUID_TEXT "\",\"created\":\"2026-11-22T13:02:31Z\","
		"\"encryption\":true,\"cipher\":\"AES-256-GCM\",\"block_size\":4096,"
		"\"names\":\"AES-256-SIV\",\"key_source\":{\"type\":\"keyfile\","
		"\"path\":\"/etc/atrestfs/k\",\"wrapped_key\":\"" WRAPPED_B64 "\"},"
		"\"mac\":\"wX+o5bVVWVqRdaeSTyOLnVU09czM4UxJWiaNffQbO0s=\"}";
	struct volume_config *cfg;
	struct volume_keys *k;
	uint8_t vkey[32], mac[32];

	for (int i = 0; i < 32; i++)
		vkey[i] = (uint8_t)i;
	ck_assert_int_eq(volume_config_parse(text, strlen(text), &cfg), 0);
	ck_assert_int_eq(volume_derive_keys(vkey, cfg->uuid_bin, &k), 0);
	ck_assert_int_eq(volume_config_verify(cfg, k), 0);
	memcpy(mac, cfg->mac, 32);
	ck_assert_int_eq(volume_config_seal(cfg, k), 0);
	ck_assert_mem_eq(mac, cfg->mac, 32);
	volume_keys_free(k);
	volume_config_free(cfg);
}
END_TEST

START_TEST(reformatted_config_still_verifies)
{
	json_t *root = json_loads(good, 0, NULL);
	struct volume_config *cfg;
	char *text = json_dumps(root, JSON_COMPACT); /* other order, no spaces */

	ck_assert_int_eq(volume_config_parse(text, strlen(text), &cfg), 0);
	ck_assert_int_eq(volume_config_verify(cfg, keys), 0);
	volume_config_free(cfg);
	free(text);
	json_decref(root);
}
END_TEST

START_TEST(every_truncation_refused)
{
	size_t n = strlen(good);
	struct volume_config *cfg;

	ck_assert_int_eq(parse(good), 0);
	for (size_t i = 0; i < n; i++) {
		cfg = NULL;
		ck_assert_msg(volume_config_parse(good, i, &cfg) < 0, "prefix of %zu bytes accepted", i);
		ck_assert_ptr_null(cfg);
	}
}
END_TEST

START_TEST(wrong_types_refused)
{
	static const char *values[] = { "\"1\"", "1", "null", "[]", "{}", "true", "1.5", "-1" };

	for (size_t f = 0; f < NFIELDS; f++)
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			if ((!strcmp(all_fields[f], "encryption") && !strcmp(values[v], "true")) ||
			    (!strcmp(all_fields[f], "format") && !strcmp(values[v], "2")))
				continue; /* the correct value */
			ck_assert_msg(parse_with(all_fields[f], values[v]) == -EINVAL, "%s=%s accepted",
				      all_fields[f], values[v]);
		}
	/* Inside key_source too. */
	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		ck_assert_int_eq(parse_with_in("key_source", "type", values[v]), -EINVAL);
		ck_assert_int_eq(parse_with_in("key_source", "path", values[v]), -EINVAL);
		ck_assert_int_eq(parse_with_in("key_source", "wrapped_key", values[v]), -EINVAL);
	}
}
END_TEST

START_TEST(missing_fields_refused)
{
	for (size_t f = 0; f < NFIELDS; f++)
		ck_assert_msg(parse_with(all_fields[f], NULL) == -EINVAL, "missing %s accepted", all_fields[f]);
	ck_assert_int_eq(parse_with_in("key_source", "type", NULL), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "path", NULL), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "wrapped_key", NULL), -EINVAL);
}
END_TEST

START_TEST(unknown_top_level_field_refused)
{
	ck_assert_int_eq(parse_with("extra", "1"), -EINVAL);
	ck_assert_int_eq(parse_with("Format", "1"), -EINVAL);
	ck_assert_int_eq(parse_with("", "\"\""), -EINVAL);
	ck_assert_int_eq(parse_with("comment", "\"harmless?\""), -EINVAL);
}
END_TEST

START_TEST(unknown_key_source_field_refused)
{
	ck_assert_int_eq(parse_with_in("key_source", "extra", "true"), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "key", "\"" WRAPPED_B64 "\""), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "type", "\"floppy\""), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "type", "\"KEYFILE\""), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "type", "\"\""), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "path", "\"relative/key\""), -EINVAL);
	ck_assert_int_eq(parse_with("key_source", "{}"), -EINVAL);
}
END_TEST

START_TEST(unknown_format_refused)
{
	static const char *formats[] = { "0", "1", "4", "-1", "99", "9223372036854775807", "1.0" };

	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		ck_assert_msg(parse_with("format", formats[i]) == -EINVAL, "format %s accepted", formats[i]);
	/* A newer format is refused as such even when the rest is unknown. */
	ck_assert_int_eq(parse("{\"format\":4,\"encryption\":true,\"future\":1}"), -EINVAL);
}
END_TEST

/* Parse the good config with "format" set to @p value: the result, and
 * what the parser logged in @p msg. */
static int format_refusal(const char *value, char *msg, size_t len)
{
	char path[] = "/tmp/atr-vol-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(2), r;
	enum log_level was = log_threshold;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	log_set_level(LOG_LVL_ERR);
	fflush(stderr);
	dup2(fd, 2);
	r = parse_with("format", value);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	log_set_level(was);
	n = pread(fd, msg, len - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return r;
}

/* Formats 2 and 3 both parse (the number fixes the content layout); a
 * newer one is refused as newer. */
START_TEST(formats_2_and_3_read)
{
	char msg[1024];

	ck_assert_int_eq(parse_with("format", "2"), 0);
	ck_assert_int_eq(parse_with("format", "3"), 0);
	ck_assert_int_eq(format_refusal("4", msg, sizeof(msg)), -EINVAL);
	ck_assert_msg(strstr(msg, "format 4 is newer"), "message: %s", msg);
}
END_TEST

/* Format 1 is refused with a sentence that says how to copy the data over. */
START_TEST(format_1_refused_with_copy_hint)
{
	char msg[1024];

	ck_assert_int_eq(format_refusal("1", msg, sizeof(msg)), -EINVAL);
	ck_assert_msg(strstr(msg, "format 1") && strstr(msg, "atrestfs-rotate"), "message: %s", msg);
}
END_TEST

START_TEST(unknown_algorithms_refused)
{
	ck_assert_int_eq(parse_with("cipher", "\"AES-128-GCM\""), -EINVAL);
	ck_assert_int_eq(parse_with("cipher", "\"aes-256-gcm\""), -EINVAL);
	ck_assert_int_eq(parse_with("cipher", "\"\""), -EINVAL);
	ck_assert_int_eq(parse_with("names", "\"plain\""), -EINVAL);
	ck_assert_int_eq(parse_with("names", "\"AES-256-GCM\""), -EINVAL);
	ck_assert_int_eq(parse_with("block_size", "8192"), -EINVAL);
	ck_assert_int_eq(parse_with("block_size", "0"), -EINVAL);
	ck_assert_int_eq(parse_with("block_size", "4097"), -EINVAL);
}
END_TEST

START_TEST(bad_uuid_refused)
{
	static const char *uuids[] = {
		"\"not-a-uuid\"",
		"\"3AB8DDCE-677A-4833-8923-A8D57F83CFED\"",  /* upper case */
		"\"3ab8ddce677a48338923a8d57f83cfed\"",      /* no dashes */
		"\"3ab8ddce-677a-4833-8923-a8d57f83cfe\"",   /* short */
		"\"3ab8ddce-677a-4833-8923-a8d57f83cfedd\"", /* long */
		"\"3ab8ddce-677a-4833-8923_a8d57f83cfed\"",  /* wrong separator */
		"\"3ab8ddcg-677a-4833-8923-a8d57f83cfed\"",  /* not hex */
		"\"3ab8ddce-677a-1833-8923-a8d57f83cfed\"",  /* version 1 */
		"\"3ab8ddce-677a-4833-c923-a8d57f83cfed\"",  /* wrong variant */
		"\"{3ab8ddce-677a-4833-8923-a8d57f83cfe}\"",
		"\"\"",
	};

	for (size_t i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++)
		ck_assert_msg(parse_with("uuid", uuids[i]) == -EINVAL, "uuid %s accepted", uuids[i]);
}
END_TEST

START_TEST(bad_timestamp_refused)
{
	static const char *times[] = {
		"\"yesterday\"",
		"\"2026-11-22T13:02:31\"",	  /* no zone */
		"\"2026-11-22T13:02:31+00:00\"",  /* other zone form */
		"\"2026-11-22T13:02:31.5Z\"",	  /* fraction */
		"\"2026-11-22 13:02:31Z\"",	  /* space */
		"\"2026-11-22t13:02:31z\"",	  /* lower case */
		"\"2026-13-22T13:02:31Z\"",	  /* month 13 */
		"\"2026-02-31T13:02:31Z\"",	  /* no such day */
		"\"2026-11-22T25:02:31Z\"",	  /* hour 25 */
		"\" 026-11-22T13:02:31Z\"",	  /* strptime would skip the space */
		"\"+026-11-22T13:02:31Z\"",
		"\"2026-1-022T13:02:31Z\"",
		"\"\"",
	};

	ck_assert_int_eq(parse_with("created", "\"2024-02-29T23:59:59Z\""), 0);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		ck_assert_msg(parse_with("created", times[i]) == -EINVAL, "created %s accepted", times[i]);
}
END_TEST

START_TEST(bad_mac_text_refused)
{
	ck_assert_int_eq(parse_with("mac", "\"!!\""), -EINVAL);
	ck_assert_int_eq(parse_with("mac", "\"\""), -EINVAL);
	ck_assert_int_eq(parse_with("mac", "\"AAAA\""), -EINVAL); /* 3 bytes */
	/* 33 bytes and 31 bytes: not an HMAC-SHA256. */
	ck_assert_int_eq(parse_with("mac", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\""), -EINVAL);
	ck_assert_int_eq(parse_with("mac", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\""), -EINVAL);
	/* base64url letters, missing padding, embedded space. */
	ck_assert_int_eq(parse_with("mac", "\"s8hCEVFNoua3Gm3gt949bhX-qM1VgqSQLDAkSRyUXUs=\""), -EINVAL);
	ck_assert_int_eq(parse_with("mac", "\"s8hCEVFNoua3Gm3gt949bhX+qM1VgqSQLDAkSRyUXUs\""), -EINVAL);
	ck_assert_int_eq(parse_with("mac", "\"s8hCEVFNoua3Gm3gt949bhX+ qM1VgqSQLDAkSRyUXUs=\""), -EINVAL);
	ck_assert_int_eq(parse_with("mac", "\"wX+o5bVVWVqRdaeSTyOLnVU09czM4UxJWiaNffQbO0s=\""), 0);
	/* The wrapped key is held to the same standard by the key source. */
	ck_assert_int_eq(parse_with_in("key_source", "wrapped_key", "\"AAAA\""), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "wrapped_key", "\"" WRAPPED_B64 "AAAA\""), -EINVAL);
}
END_TEST

START_TEST(oversized_values_refused)
{
	char *v = malloc(8200);

	v[0] = '"';
	memset(v + 1, 'a', 8000);
	strcpy(v + 8001, "\"");
	for (size_t f = 0; f < NFIELDS; f++)
		ck_assert_msg(parse_with(all_fields[f], v) == -EINVAL, "long %s accepted", all_fields[f]);
	ck_assert_int_eq(parse_with_in("key_source", "type", v), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "wrapped_key", v), -EINVAL);
	v[1] = '/';
	ck_assert_int_eq(parse_with_in("key_source", "path", v), -EINVAL);
	ck_assert_int_eq(parse("{\"format\":99999999999999999999,\"encryption\":false}"), -EINVAL);
	free(v);
}
END_TEST

START_TEST(larger_than_max_refused)
{
	char *big = malloc(VOLUME_CONFIG_MAX + 10), path[128];
	struct volume_config *cfg = (void *)1;
	size_t n = strlen(good);
	int fd;

	/* A valid config padded with whitespace past the limit. */
	memset(big, ' ', VOLUME_CONFIG_MAX + 9);
	memcpy(big, good, n);
	big[VOLUME_CONFIG_MAX + 9] = '\0';
	ck_assert_int_eq(volume_config_parse(big, VOLUME_CONFIG_MAX + 1, &cfg), -EFBIG);
	ck_assert_ptr_null(cfg);
	ck_assert_int_eq(volume_config_parse(big, VOLUME_CONFIG_MAX, &cfg), 0);
	volume_config_free(cfg);
	/* And on disk, refused before it is read. */
	snprintf(path, sizeof(path), "%s/%s", tmpdir, VOLUME_CONFIG_NAME);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0400);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, big, VOLUME_CONFIG_MAX + 1), VOLUME_CONFIG_MAX + 1);
	close(fd);
	ck_assert_int_eq(volume_config_load(tmpdir, &cfg), -EFBIG);
	ck_assert_ptr_null(cfg);
	free(big);
}
END_TEST

START_TEST(duplicate_keys_refused)
{
	char text[4096];

	/* A second "format" (or "encryption") could hide the first. */
	snprintf(text, sizeof(text), "{\"format\":2,%s", strchr(good, '{') + 1);
	ck_assert_int_eq(parse(text), -EINVAL);
	snprintf(text, sizeof(text), "{\"encryption\":false,%s", strchr(good, '{') + 1);
	ck_assert_int_eq(parse(text), -EINVAL);
	snprintf(text, sizeof(text),
		 PLAIN_HEAD "\"created\":\"2026-11-22T13:02:31Z\",\"encryption\":false,\"encryption\":false}");
	ck_assert_int_eq(parse(text), -EINVAL);
	/* Inside key_source. */
	ck_assert_ptr_nonnull(strstr(good, "\"type\": \"keyfile\""));
	snprintf(text, sizeof(text), "%.*s\"type\": \"tpm2\", %s", (int)(strstr(good, "\"type\"") - good), good,
		 strstr(good, "\"type\""));
	ck_assert_int_eq(parse(text), -EINVAL);
}
END_TEST

START_TEST(not_an_object_refused)
{
	static const char *docs[] = { "", " ", "[]", "\"x\"", "1", "null", "true", "[{\"format\":2}]", "{" };

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		ck_assert_msg(parse(docs[i]) == -EINVAL, "'%s' accepted", docs[i]);
}
END_TEST

START_TEST(trailing_garbage_refused)
{
	static const char *tails[] = { " garbage", "{}", "\n{}", ",", "]", "\"", "0" };
	char text[4096];

	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", good, tails[i]);
		ck_assert_msg(parse(text) == -EINVAL, "tail '%s' accepted", tails[i]);
	}
	snprintf(text, sizeof(text), "%s\n \t\n", good); /* whitespace is not garbage */
	ck_assert_int_eq(parse(text), 0);
}
END_TEST

START_TEST(nul_bytes_refused)
{
	struct volume_config *cfg = NULL;
	char text[4096];
	size_t n = strlen(good);

	/* A raw NUL after the document, inside it, and as \u0000 escapes. */
	memcpy(text, good, n + 1);
	ck_assert_int_eq(volume_config_parse(text, n + 1, &cfg), -EINVAL);
	text[n / 2] = '\0';
	ck_assert_int_eq(volume_config_parse(text, n, &cfg), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_int_eq(parse(PLAIN_HEAD "\"created\":\"2026-11-22T13:02:31Z\\u0000\",\"encryption\":false}"),
			 -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "path", "\"/etc/k\\u0000/x\""), -EINVAL);
	ck_assert_int_eq(parse_with_in("key_source", "type", "\"keyfile\\u0000\""), -EINVAL);
	ck_assert_int_eq(parse_with("cipher", "\"AES-256-GCM\\u0000\""), -EINVAL);
}
END_TEST

START_TEST(plain_config_strict)
{
	ck_assert_int_eq(parse(PLAIN_HEAD "\"created\":\"2026-11-22T13:02:31Z\",\"encryption\":false}"), 0);
	/* Encrypted-only fields have no place in a plain config. */
	ck_assert_int_eq(parse(PLAIN_HEAD "\"created\":\"2026-11-22T13:02:31Z\",\"encryption\":false,"
				       "\"cipher\":\"AES-256-GCM\"}"),
			 -EINVAL);
	ck_assert_int_eq(parse(PLAIN_HEAD "\"created\":\"2026-11-22T13:02:31Z\",\"encryption\":false,"
				       "\"mac\":\"wX+o5bVVWVqRdaeSTyOLnVU09czM4UxJWiaNffQbO0s=\"}"),
			 -EINVAL);
	ck_assert_int_eq(parse(PLAIN_HEAD "\"encryption\":false}"), -EINVAL);
	/* And an encrypted one must have all of them. */
	ck_assert_int_eq(parse(PLAIN_HEAD "\"created\":\"2026-11-22T13:02:31Z\",\"encryption\":true}"), -EINVAL);
}
END_TEST

/*
 * Change each field in turn. Fields with a single legal value make the
 * parser refuse; every other change is caught by the MAC.
 */
START_TEST(mac_detects_any_change)
{
	static const struct {
		const char *obj, *field, *value;
		bool parses;
	} changes[] = {
		{ NULL, "format", "2", true }, /* a downgrade of the layout */
		{ NULL, "format", "4", false },
		{ NULL, "encryption", "false", false },
		{ NULL, "cipher", "\"AES-128-GCM\"", false },
		{ NULL, "block_size", "8192", false },
		{ NULL, "names", "\"AES-128-SIV\"", false },
		{ NULL, "uuid", "\"00000000-0000-4000-8000-000000000000\"", true },
		{ NULL, "created", "\"2001-01-01T00:00:00Z\"", true },
		{ "key_source", "type", "\"kms\"", false },
		{ "key_source", "path", "\"/other\"", true },
		{ "key_source", "wrapped_key", "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQ==\"", true },
		{ NULL, "mac", "\"wX+o5bVVWVqRdaeSTyOLnVU09czM4UxJWiaNffQbO0s=\"", true },
	};
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		char *text = edit(good, changes[i].obj, changes[i].field, changes[i].value);
		struct volume_config *cfg = NULL;
		int r = volume_config_parse(text, strlen(text), &cfg);

		if (!changes[i].parses) {
			ck_assert_msg(r == -EINVAL, "change of %s accepted by the parser", changes[i].field);
		} else {
			ck_assert_msg(r == 0, "change of %s refused by the parser", changes[i].field);
			ck_assert_msg(volume_config_verify(cfg, keys) == -EBADMSG, "change of %s undetected",
				      changes[i].field);
		}
		volume_config_free(cfg);
		free(text);
	}
}
END_TEST

START_TEST(mac_every_bit_checked)
{
	struct volume_config *cfg;

	ck_assert_int_eq(volume_config_parse(good, strlen(good), &cfg), 0);
	for (int bit = 0; bit < 256; bit++) {
		cfg->mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(volume_config_verify(cfg, keys), -EBADMSG);
		cfg->mac[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	ck_assert_int_eq(volume_config_verify(cfg, keys), 0);
	volume_config_free(cfg);
}
END_TEST

START_TEST(mac_under_another_key_refused)
{
	struct volume_config *cfg;
	struct volume_keys *other;
	uint8_t vkey[32];

	memset(vkey, 0x12, sizeof(vkey));
	ck_assert_int_eq(volume_config_parse(good, strlen(good), &cfg), 0);
	ck_assert_int_eq(volume_derive_keys(vkey, cfg->uuid_bin, &other), 0);
	ck_assert_int_eq(volume_config_verify(cfg, other), -EBADMSG);
	volume_keys_free(other);
	volume_config_free(cfg);
}
END_TEST

/* Pinned by an independent HKDF-SHA256 (Python hmac/hashlib). */
START_TEST(derive_keys_known_answer)
{
	static const char content[] = "cca11707b72fc651f291e858a06ae5fe4fb7c3a199a569bbf75f4d3c63e93b8c";
	static const char names[] = "25b29b07bc0f175978180639770e26da7f9b8d87fda585877275ef2a9ef02b37"
				    "67596c4d846f049e815c8b70c550551fcadeb0baa988334997d0ce78a7c7da58";
	static const char mac[] = "ef175d1947b6c5806ebe9262b829b1b47034603ac89a2f2200caabe6485fd695";
	static const char root[] = "fad210472ada4b8770762420795dbd45719e042f59da1a1c94b6620bfb98311a";
	/* HKDF-SHA256(K, salt = UUID, info "atrestfs xattr"), computed with Python hmac. */
	static const char xattr[] = "3f728b1f8af85fea5190c7e7056c36012984298b20c5a2cd5ed55004d9b19a30";
	uint8_t vkey[32], uuid[16], *want;
	struct volume_keys *k;

	for (int i = 0; i < 32; i++)
		vkey[i] = (uint8_t)i;
	for (int i = 0; i < 16; i++)
		uuid[i] = (uint8_t)(0xa0 + i);
	ck_assert_int_eq(volume_derive_keys(vkey, uuid, &k), 0);
	want = hex(content, NULL);
	ck_assert_mem_eq(k->content, want, 32);
	free(want);
	want = hex(names, NULL);
	ck_assert_mem_eq(k->names, want, 64);
	free(want);
	want = hex(mac, NULL);
	ck_assert_mem_eq(k->config_mac, want, 32);
	free(want);
	want = hex(root, NULL);
	ck_assert_mem_eq(k->root_mac, want, 32);
	free(want);
	want = hex(xattr, NULL);
	ck_assert_mem_eq(k->xattr, want, 32);
	free(want);
	volume_keys_free(k);
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
	ck_assert(memcmp(a->names + 32, a->config_mac, 32));
	ck_assert(memcmp(a->xattr, a->content, 32));
	ck_assert(memcmp(a->xattr, a->config_mac, 32));
	volume_keys_free(b);
	/* Another UUID (salt) or another volume key: other subkeys. */
	uuid[15] ^= 1;
	ck_assert_int_eq(volume_derive_keys(vkey, uuid, &b), 0);
	ck_assert(memcmp(a->content, b->content, 32));
	ck_assert(memcmp(a->config_mac, b->config_mac, 32));
	volume_keys_free(b);
	uuid[15] ^= 1;
	vkey[31] ^= 1;
	ck_assert_int_eq(volume_derive_keys(vkey, uuid, &b), 0);
	ck_assert(memcmp(a->names, b->names, 64));
	volume_keys_free(a);
	volume_keys_free(b);
}
END_TEST

START_TEST(store_is_atomic)
{
	struct volume_config *cfg, *back;
	char path[128];
	struct stat st;

	ck_assert_int_eq(volume_config_parse(good, strlen(good), &cfg), 0);
	ck_assert_int_eq(volume_config_load(tmpdir, &back), -ENOENT);
	ck_assert_ptr_null(back);
	/* A temp file left by a crash is not the config and does not block. */
	snprintf(path, sizeof(path), "%s/%s.tmp", tmpdir, VOLUME_CONFIG_NAME);
	close(open(path, O_WRONLY | O_CREAT, 0600));
	ck_assert_int_eq(volume_config_load(tmpdir, &back), -ENOENT);
	ck_assert_int_eq(volume_config_store(tmpdir, cfg), 0);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, VOLUME_CONFIG_NAME);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0400);
	ck_assert_int_eq(volume_config_load(tmpdir, &back), 0);
	ck_assert_str_eq(back->uuid, cfg->uuid);
	ck_assert_int_eq(volume_config_verify(back, keys), 0);
	volume_config_free(back);
	volume_config_free(cfg);
}
END_TEST

START_TEST(store_refuses_existing)
{
	struct volume_config *a, *b, *back;
	char path[128], before[4096], after[4096];
	ssize_t n1, n2;
	int fd;

	ck_assert_int_eq(volume_config_new(false, &a), 0);
	ck_assert_int_eq(volume_config_new(false, &b), 0);
	ck_assert_int_eq(volume_config_store(tmpdir, a), 0);
	snprintf(path, sizeof(path), "%s/%s", tmpdir, VOLUME_CONFIG_NAME);
	fd = open(path, O_RDONLY);
	n1 = read(fd, before, sizeof(before));
	close(fd);
	ck_assert_int_eq(volume_config_store(tmpdir, b), -EEXIST);
	fd = open(path, O_RDONLY);
	n2 = read(fd, after, sizeof(after));
	close(fd);
	ck_assert_int_eq(n1, n2);
	ck_assert_mem_eq(before, after, (size_t)n1);
	ck_assert_int_eq(volume_config_load(tmpdir, &back), 0);
	ck_assert_str_eq(back->uuid, a->uuid);
	volume_config_free(back);
	/* A dangling symlink named like the config counts as existing too. */
	unlink(path);
	ck_assert_int_eq(symlink("/nonexistent", path), 0);
	ck_assert_int_eq(volume_config_store(tmpdir, b), -EEXIST);
	volume_config_free(a);
	volume_config_free(b);
}
END_TEST

START_TEST(load_refuses_non_regular)
{
	struct volume_config *cfg, *back = (void *)1;
	char path[128], target[128];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, VOLUME_CONFIG_NAME);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_lt(volume_config_load(tmpdir, &back), 0);
	ck_assert_ptr_null(back);
	rmdir(path);
	/* A symlink to a valid config is not followed. */
	ck_assert_int_eq(volume_config_parse(good, strlen(good), &cfg), 0);
	snprintf(target, sizeof(target), "%s/sub", tmpdir);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	ck_assert_int_eq(volume_config_store(target, cfg), 0);
	strcat(target, "/" VOLUME_CONFIG_NAME);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(volume_config_load(tmpdir, &back), -EIO);
	ck_assert_ptr_null(back);
	unlink(path);
	/* Neither is a FIFO opened (it would block) nor a device node. */
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(volume_config_load(tmpdir, &back), -EIO);
	ck_assert_ptr_null(back);
	volume_config_free(cfg);
}
END_TEST

static struct volume_config enc = { .encrypted = true, .key_source = "keyfile" };
static struct volume_config plain = { .encrypted = false };
static const struct volume_expect on = { .encryption = true }, off = { .encryption = false },
				  on_kms = { .encryption = true, .key_source = "kms" },
				  off_kms = { .encryption = false, .key_source = "kms" },
				  on_keyfile = { .encryption = true, .key_source = "keyfile" };

static void assert_explains(enum volume_verdict v, const struct volume_config *cfg,
			    const struct volume_expect *exp, const char *want)
{
	char buf[512];

	ck_assert_ptr_eq(volume_verdict_explain(v, "/srv/vol", cfg, exp, buf, sizeof(buf)), buf);
	ck_assert_msg(strstr(buf, want), "'%s' lacks '%s'", buf, want);
	ck_assert_ptr_nonnull(strstr(buf, "/srv/vol"));
}

START_TEST(refuse_encrypted_mounted_off)
{
	ck_assert_int_eq(volume_check_mount(&enc, &off), VOLUME_ENCRYPTED_BUT_OFF);
	ck_assert_int_eq(volume_check_mount(&enc, &off_kms), VOLUME_ENCRYPTED_BUT_OFF);
	assert_explains(VOLUME_ENCRYPTED_BUT_OFF, &enc, &off,
			"refused: /srv/vol is encrypted but the mount says encryption=off (that would write "
			"plaintext into an encrypted volume)");
}
END_TEST

START_TEST(refuse_plain_mounted_encrypted)
{
	ck_assert_int_eq(volume_check_mount(&plain, &on), VOLUME_PLAIN_BUT_EXPECTED);
	ck_assert_int_eq(volume_check_mount(&plain, &on_kms), VOLUME_PLAIN_BUT_EXPECTED);
	assert_explains(VOLUME_PLAIN_BUT_EXPECTED, &plain, &on,
			"refused: /srv/vol is a plain volume created without encryption; encryption cannot be "
			"enabled after creation: create a new volume");
}
END_TEST

START_TEST(refuse_key_source_mismatch)
{
	ck_assert_int_eq(volume_check_mount(&enc, &on_kms), VOLUME_KEY_SOURCE_MISMATCH);
	assert_explains(VOLUME_KEY_SOURCE_MISMATCH, &enc, &on_kms,
			"refused: key source 'kms' named by the mount, but /srv/vol was created with 'keyfile'; "
			"the key source is fixed at creation");
}
END_TEST

START_TEST(refuse_not_a_volume)
{
	ck_assert_int_eq(volume_check_mount(NULL, &on), VOLUME_NOT_A_VOLUME);
	ck_assert_int_eq(volume_check_mount(NULL, &off), VOLUME_NOT_A_VOLUME);
	ck_assert_int_eq(volume_check_mount(NULL, &on_keyfile), VOLUME_NOT_A_VOLUME);
	assert_explains(VOLUME_NOT_A_VOLUME, NULL, &on,
			"refused: /srv/vol is not an atrestfs volume (no atrestfs.conf): run 'atrestfs create' "
			"first; an existing directory is never adopted");
	assert_explains(VOLUME_NOT_A_VOLUME, NULL, NULL, "never adopted");
}
END_TEST

START_TEST(matching_mounts_allowed)
{
	char tiny[8], a[512], b[512];

	ck_assert_int_eq(volume_check_mount(&enc, &on), VOLUME_OK);
	ck_assert_int_eq(volume_check_mount(&enc, &on_keyfile), VOLUME_OK);
	ck_assert_int_eq(volume_check_mount(&plain, &off), VOLUME_OK);
	/* Every verdict has a distinct message; a short buffer still ends. */
	ck_assert_str_ne(volume_verdict_explain(VOLUME_ENCRYPTED_BUT_OFF, "/v", &enc, &off, a, sizeof(a)),
			 volume_verdict_explain(VOLUME_PLAIN_BUT_EXPECTED, "/v", &plain, &on, b, sizeof(b)));
	volume_verdict_explain(VOLUME_NOT_A_VOLUME, "/srv/vol", NULL, NULL, tiny, sizeof(tiny));
	ck_assert_str_eq(tiny, "refused");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("volume");
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(roundtrip);
	T(new_config_is_fresh_v4);
	T(mac_known_answer);
	T(reformatted_config_still_verifies);
	T(every_truncation_refused);
	T(wrong_types_refused);
	T(missing_fields_refused);
	T(unknown_top_level_field_refused);
	T(unknown_key_source_field_refused);
	T(unknown_format_refused);
	T(formats_2_and_3_read);
	T(format_1_refused_with_copy_hint);
	T(unknown_algorithms_refused);
	T(bad_uuid_refused);
	T(bad_timestamp_refused);
	T(bad_mac_text_refused);
	T(oversized_values_refused);
	T(larger_than_max_refused);
	T(duplicate_keys_refused);
	T(not_an_object_refused);
	T(trailing_garbage_refused);
	T(nul_bytes_refused);
	T(plain_config_strict);
	T(mac_detects_any_change);
	T(mac_every_bit_checked);
	T(mac_under_another_key_refused);
	T(derive_keys_known_answer);
	T(derive_keys_distinct_and_deterministic);
	T(store_is_atomic);
	T(store_refuses_existing);
	T(load_refuses_non_regular);
	T(refuse_encrypted_mounted_off);
	T(refuse_plain_mounted_encrypted);
	T(refuse_key_source_mismatch);
	T(refuse_not_a_volume);
	T(matching_mounts_allowed);
	return run_suite(s);
}
