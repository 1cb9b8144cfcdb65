// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The volume config and the key hierarchy below the volume key.
 *
 * The config is hostile input until its MAC has been checked, and even the
 * MAC can only be checked after the key source has been asked for the key,
 * so the parser is strict on its own: every field has one type and a size
 * cap, nothing unknown is accepted, and the key source's own object is
 * handed to that source's validator before anything uses it.
 */
#include "volume.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bkfile.h"
#include "crypto.h"
#include "durable.h"
#include "jsonsafe.h"
#include "keyprov.h"
#include "log.h"
#include "secmem.h"

#define STR_CAP 256 /* longest text field of the top level */

static const char *const plain_fields[] = { "format", "uuid", "created",
					    "encryption", NULL };
static const char *const enc_fields[] = { "format",     "uuid",  "created",
					  "encryption", "cipher", "block_size",
					  "names",      "key_source", "mac",
					  NULL };

static int uuid_parse(const char *s, uint8_t out[16])
{
	int n = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (int i = 0; i < 36; i++) {
		int v;
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return -EINVAL;
			continue;
		}
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return -EINVAL;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	/* We only ever write random (version 4, RFC 4122 variant) UUIDs. */
	if ((out[6] & 0xf0) != 0x40 || (out[8] & 0xc0) != 0x80)
		return -EINVAL;
	return 0;
}

static void uuid_format(const uint8_t b[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * RFC 3339 UTC with a 'Z', seconds precision: the only form we write. Every
 * digit is checked by position (strptime alone skips spaces and accepts
 * short fields), and the date must exist (no February 31st).
 */
static int time_valid(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm, back;
	const char *end;
	time_t t;

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9')
				    : s[i] != shape[i])
			return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end != '\0')
		return 0;
	back = tm;
	t = timegm(&back);
	if (t == (time_t)-1 || !gmtime_r(&t, &back))
		return 0;
	return back.tm_year == tm.tm_year && back.tm_mon == tm.tm_mon &&
	       back.tm_mday == tm.tm_mday && back.tm_hour == tm.tm_hour &&
	       back.tm_min == tm.tm_min && back.tm_sec == tm.tm_sec;
}

int volume_config_new(bool encrypted, struct volume_config **out)
{
	struct volume_config *cfg = calloc(1, sizeof(*cfg));
	time_t now = time(NULL);
	struct tm tm;
	int r;

	if (!cfg)
		return -ENOMEM;
	r = crypto_random(cfg->uuid_bin, sizeof(cfg->uuid_bin));
	if (r) {
		free(cfg);
		return r;
	}
	cfg->uuid_bin[6] = (cfg->uuid_bin[6] & 0x0f) | 0x40; /* version 4 */
	cfg->uuid_bin[8] = (cfg->uuid_bin[8] & 0x3f) | 0x80; /* variant */
	uuid_format(cfg->uuid_bin, cfg->uuid);
	gmtime_r(&now, &tm);
	strftime(cfg->created, sizeof(cfg->created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cfg->format = VOLUME_FORMAT;
	cfg->encrypted = encrypted;
	*out = cfg;
	return 0;
}

void volume_config_free(struct volume_config *cfg)
{
	if (!cfg)
		return;
	json_decref(cfg->key_params);
	free(cfg);
}

static int bad(const char *what)
{
	log_err("invalid volume config: %s", what);
	return -EINVAL;
}

static const char W[] = "volume config";

static int expect_string(json_t *root, const char *key, const char *want)
{
	const char *v;
	int r = jsonsafe_get_str(root, key, STR_CAP, &v, W);

	if (r)
		return r;
	if (strcmp(v, want)) {
		log_err("invalid volume config: unsupported %s \"%s\" "
			"(this version knows only \"%s\")", key, LOG_ESC(v),
			want);
		return -EINVAL;
	}
	return 0;
}

static int parse_root(json_t *root, struct volume_config *cfg)
{
	json_t *v, *ks;
	int r;

	if (!json_is_object(root))
		return bad("the top level is not a JSON object");

	/* 1. Version first: a newer format is refused as such, not as junk. */
	v = json_object_get(root, "format");
	if (!v)
		return bad("field \"format\" is missing");
	if (!json_is_integer(v))
		return bad("field \"format\" must be an integer");
	if (json_integer_value(v) == VOLUME_FORMAT_OLD) {
		log_err("volume config format %d is an older on-disk format that "
			"this version does not read: mount the volume with the "
			"atrestfs release that created it and copy its data into "
			"a new volume with atrestfs-rotate (see atrestfs-rotate(8))",
			VOLUME_FORMAT_OLD);
		return -EINVAL;
	}
	if (json_integer_value(v) > VOLUME_FORMAT) {
		log_err("volume config format %lld is newer than this version "
			"(it reads formats %d to %d): mount it with a newer "
			"atrestfs; refusing it",
			(long long)json_integer_value(v), VOLUME_FORMAT_MIN,
			VOLUME_FORMAT);
		return -EINVAL;
	}
	if (json_integer_value(v) < VOLUME_FORMAT_MIN) {
		log_err("volume config format %lld is not supported (this "
			"version reads formats %d to %d); refusing it",
			(long long)json_integer_value(v), VOLUME_FORMAT_MIN,
			VOLUME_FORMAT);
		return -EINVAL;
	}
	cfg->format = (int)json_integer_value(v);

	v = json_object_get(root, "encryption");
	if (!v)
		return bad("field \"encryption\" is missing");
	if (!json_is_boolean(v))
		return bad("field \"encryption\" must be true or false");
	cfg->encrypted = json_is_true(v);

	/* 2. Nothing unknown, nothing out of place. */
	if (jsonsafe_only_keys(root, cfg->encrypted ? enc_fields : plain_fields,
			       cfg->encrypted ? W : "plain volume config"))
		return -EINVAL;

	/* 3. The common fields. */
	r = jsonsafe_copy_str(root, "uuid", cfg->uuid, sizeof(cfg->uuid), W);
	if (r)
		return r;
	if (uuid_parse(cfg->uuid, cfg->uuid_bin))
		return bad("field \"uuid\" is not a lower-case version 4 UUID");
	r = jsonsafe_copy_str(root, "created", cfg->created,
			      sizeof(cfg->created), W);
	if (r)
		return r;
	if (!time_valid(cfg->created))
		return bad("field \"created\" is not a YYYY-MM-DDTHH:MM:SSZ time");
	if (!cfg->encrypted)
		return 0;

	/* 4. Algorithms: exactly the ones this version implements. */
	r = expect_string(root, "cipher", VOLUME_CIPHER);
	if (!r)
		r = expect_string(root, "names", VOLUME_NAME_SCHEME);
	if (r)
		return r;
	v = json_object_get(root, "block_size");
	if (!v)
		return bad("field \"block_size\" is missing");
	if (!json_is_integer(v))
		return bad("field \"block_size\" must be an integer");
	if (json_integer_value(v) != VOLUME_BLOCK_SIZE)
		return bad("unsupported block_size (only 4096)");

	/* 5. The key source: its type here, its fields by the source. */
	ks = json_object_get(root, "key_source");
	if (!ks)
		return bad("field \"key_source\" is missing");
	if (!json_is_object(ks))
		return bad("field \"key_source\" must be an object");
	r = jsonsafe_copy_str(ks, "type", cfg->key_source,
			      sizeof(cfg->key_source), KEYPROV_DOC);
	if (r)
		return r;
	if (!keyprov_find(cfg->key_source)) {
		log_err("invalid volume config: unknown key source \"%s\"",
			LOG_ESC(cfg->key_source));
		return -EINVAL;
	}
	cfg->key_params = json_deep_copy(ks);
	if (!cfg->key_params)
		return -ENOMEM;
	json_object_del(cfg->key_params, "type");
	/* A source not built in cannot vouch for its fields: refused. */
	r = keyprov_validate(keyprov_find(cfg->key_source), cfg->key_params);
	if (r)
		return -EINVAL;

	/* 6. The MAC: present and well-formed (checked later, with the key). */
	if (jsonsafe_get_b64(root, "mac", cfg->mac, sizeof(cfg->mac),
			     sizeof(cfg->mac), W) < 0)
		return -EINVAL;
	return 0;
}

int volume_config_parse(const char *text, size_t len,
			struct volume_config **out)
{
	struct volume_config *cfg;
	json_error_t jerr;
	json_t *root;
	int r;

	*out = NULL;
	if (len > VOLUME_CONFIG_MAX) {
		log_err("invalid volume config: %zu bytes, larger than the "
			"%d-byte limit", len, VOLUME_CONFIG_MAX);
		return -EFBIG;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		log_err("invalid volume config: not valid JSON (line %d: %s)",
			jerr.line, jerr.text);
		return -EINVAL;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		json_decref(root);
		return -ENOMEM;
	}
	r = parse_root(root, cfg);
	json_decref(root);
	if (r) {
		volume_config_free(cfg);
		return r;
	}
	*out = cfg;
	return 0;
}

/* The object everything but the MAC is serialised from. */
static json_t *config_object(const struct volume_config *cfg)
{
	json_t *root, *ks;

	root = json_pack("{s:i, s:s, s:s, s:b}", "format", cfg->format, "uuid",
			 cfg->uuid, "created", cfg->created, "encryption",
			 cfg->encrypted);
	if (!root || !cfg->encrypted)
		return root;
	ks = cfg->key_params ? json_deep_copy(cfg->key_params) : json_object();
	if (!ks || json_object_set_new(ks, "type",
				       json_string(cfg->key_source)) ||
	    json_object_set_new(root, "cipher", json_string(VOLUME_CIPHER)) ||
	    json_object_set_new(root, "block_size",
				json_integer(VOLUME_BLOCK_SIZE)) ||
	    json_object_set_new(root, "names",
				json_string(VOLUME_NAME_SCHEME)) ||
	    json_object_set_new(root, "key_source", ks)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

char *volume_config_dump(const struct volume_config *cfg)
{
	json_t *root = config_object(cfg);
	char mac_b64[64];
	char *text;

	if (!root)
		return NULL;
	if (cfg->encrypted) {
		crypto_b64_encode(cfg->mac, sizeof(cfg->mac), mac_b64);
		json_object_set_new(root, "mac", json_string(mac_b64));
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	return text;
}

static int compute_mac(const struct volume_config *cfg,
		       const struct volume_keys *keys, uint8_t mac[32])
{
	json_t *root = config_object(cfg);
	char *canon;
	int r;

	if (!root)
		return -ENOMEM;
	canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (!canon)
		return -ENOMEM;
	r = crypto_hmac(keys->config_mac, sizeof(keys->config_mac), canon,
			strlen(canon), mac);
	free(canon);
	return r;
}

int volume_config_seal(struct volume_config *cfg,
		       const struct volume_keys *keys)
{
	return compute_mac(cfg, keys, cfg->mac);
}

int volume_config_verify(const struct volume_config *cfg,
			 const struct volume_keys *keys)
{
	uint8_t mac[32];
	int r = compute_mac(cfg, keys, mac);

	if (r)
		return r;
	if (!crypto_memeq(mac, cfg->mac, sizeof(mac))) {
		log_err("config MAC mismatch: the volume config was changed "
			"(tampered or corrupted); refusing to mount");
		return -EBADMSG;
	}
	return 0;
}

int volume_config_load(const char *voldir, struct volume_config **out)
{
	char path[4096], *buf;
	size_t n;
	int r;

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/%s", voldir, VOLUME_CONFIG_NAME) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	buf = malloc(VOLUME_CONFIG_MAX + 1);
	if (!buf)
		return -ENOMEM;
	/* Only a regular file is opened for reading (bkfile.c). */
	r = bkfile_read(AT_FDCWD, path, buf, VOLUME_CONFIG_MAX, &n);
	if (r == -EFBIG)
		log_err("invalid volume config: %s is larger than the %d-byte "
			"limit", path, VOLUME_CONFIG_MAX);
	else if (r == -EIO)
		log_err("invalid volume config: %s is not a regular file", path);
	if (!r)
		r = volume_config_parse(buf, n, out);
	free(buf);
	return r; /* -ENOENT: not a volume; the caller says so */
}

int volume_write_atomic(int dfd, const char *name, const char *text,
			mode_t mode, bool replace)
{
	size_t len = strlen(text);
	char *line = malloc(len + 1);
	int r;

	/* The format files end with a newline; one writer for all of them. */
	if (!line)
		return -ENOMEM;
	memcpy(line, text, len);
	line[len] = '\n';
	r = durable_write_file(dfd, name, line, len + 1, mode, replace);
	free(line);
	return r;
}

int volume_config_store(const char *voldir, const struct volume_config *cfg)
{
	char *text = volume_config_dump(cfg);
	int dfd, r;

	if (!text)
		return -ENOMEM;
	dfd = open(voldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
	} else {
		r = volume_write_atomic(dfd, VOLUME_CONFIG_NAME, text, 0400,
					false);
		close(dfd);
	}
	free(text);
	return r;
}

int volume_lock(const char *voldir, int wait_ms)
{
	int fd = open(voldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	for (int waited = 0;; waited += 50) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		if (errno != EWOULDBLOCK || waited >= wait_ms)
			break;
		usleep(50 * 1000);
	}
	r = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
	close(fd);
	return r;
}

int volume_derive_keys(const uint8_t vkey[32], const uint8_t uuid[16],
		       struct volume_keys **out)
{
	static const char info_content[] = "atrestfs content";
	static const char info_names[] = "atrestfs names";
	static const char info_mac[] = "atrestfs config mac";
	static const char info_root[] = "atrestfs root attributes mac";
	static const char info_xattr[] = "atrestfs xattr";
	struct volume_keys *k = secmem_alloc(sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	r = crypto_hkdf(vkey, 32, uuid, 16, (const uint8_t *)info_content,
			strlen(info_content), k->content, sizeof(k->content));
	if (!r)
		r = crypto_hkdf(vkey, 32, uuid, 16,
				(const uint8_t *)info_names, strlen(info_names),
				k->names, sizeof(k->names));
	if (!r)
		r = crypto_hkdf(vkey, 32, uuid, 16, (const uint8_t *)info_mac,
				strlen(info_mac), k->config_mac,
				sizeof(k->config_mac));
	if (!r)
		r = crypto_hkdf(vkey, 32, uuid, 16, (const uint8_t *)info_root,
				strlen(info_root), k->root_mac,
				sizeof(k->root_mac));
	if (!r)
		r = crypto_hkdf(vkey, 32, uuid, 16, (const uint8_t *)info_xattr,
				strlen(info_xattr), k->xattr, sizeof(k->xattr));
	if (r) {
		secmem_free(k);
		return r;
	}
	*out = k;
	return 0;
}

void volume_keys_free(struct volume_keys *keys)
{
	secmem_free(keys);
}

enum volume_verdict volume_check_mount(const struct volume_config *cfg,
				       const struct volume_expect *exp)
{
	if (!cfg)
		return VOLUME_NOT_A_VOLUME;
	if (cfg->encrypted && !exp->encryption)
		return VOLUME_ENCRYPTED_BUT_OFF;
	if (!cfg->encrypted && exp->encryption)
		return VOLUME_PLAIN_BUT_EXPECTED;
	if (cfg->encrypted && exp->key_source &&
	    strcmp(exp->key_source, cfg->key_source))
		return VOLUME_KEY_SOURCE_MISMATCH;
	return VOLUME_OK;
}

const char *volume_verdict_explain(enum volume_verdict v, const char *voldir,
				   const struct volume_config *cfg,
				   const struct volume_expect *exp, char *buf,
				   size_t n)
{
	const char *named = exp && exp->key_source ? exp->key_source : "?";
	const char *made = cfg ? cfg->key_source : "?";

	if (!n)
		return buf;
	switch (v) {
	case VOLUME_OK:
		snprintf(buf, n, "%s: ok", voldir);
		break;
	case VOLUME_NOT_A_VOLUME:
		snprintf(buf, n, "refused: %s is not an atrestfs volume (no "
			 "atrestfs.conf): run 'atrestfs create' first; an "
			 "existing directory is never adopted", voldir);
		break;
	case VOLUME_ENCRYPTED_BUT_OFF:
		snprintf(buf, n, "refused: %s is encrypted but the mount says "
			 "encryption=off (that would write plaintext into an "
			 "encrypted volume)", voldir);
		break;
	case VOLUME_PLAIN_BUT_EXPECTED:
		snprintf(buf, n, "refused: %s is a plain volume created "
			 "without encryption; encryption cannot be enabled "
			 "after creation: create a new volume (or mount it "
			 "with -o encryption=off; in fstab "
			 "atrestfs.encryption=off)", voldir);
		break;
	case VOLUME_KEY_SOURCE_MISMATCH:
		snprintf(buf, n, "refused: key source '%.32s' named by the "
			 "mount, but %s was created with '%s'; the key source "
			 "is fixed at creation", named, voldir, made);
		break;
	default:
		snprintf(buf, n, "refused: %s", voldir);
		break;
	}
	return buf;
}
