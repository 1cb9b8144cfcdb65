// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The node's trust anchor: pins from the node record and the mount options,
 * compared with the volume config before any key source is contacted.
 *
 * The record lives at NODE_DIR/volumes/<sha256 of the resolved volume
 * path>.json (NODE_DIR is /etc/atrestfs, or $ATRESTFS_NODE_DIR for root):
 * a hash because a path can be longer than a file name, the path itself
 * inside for people and for the check. The directory is 0700 and the
 * record 0600, both owned by root; anything else is refused, because a
 * record anyone else can write anchors nothing.
 */
#include "pin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "durable.h"
#include "jsonsafe.h"
#include "keyprov.h"
#include "log.h"

#define RECORD_MAX (64 * 1024)
#define VALUE_MAX 2048

struct node_pins {
	bool have_record;
	char record[PATH_MAX + 96]; /* the record's file, for messages */
	char uuid[37];          /* "" when nothing pins it */
	bool uuid_from_opt;
	int encrypted;          /* -1: not pinned */
	char type[16];          /* "" when not pinned */
	bool type_from_opt;
	json_t *params;         /* the pinned key-source fields */
	json_t *from_opt;       /* which of them the mount options gave */
	bool keyfile_moved;     /* key_source=keyfile:PATH: path not compared */
	char *tcti;
};

/* The source-specific mount options: each belongs to one source's table. */
static const char *const source_options[] = { "tpm2_pcrs", "tpm2_srk",
					      "kms_region", "kms_endpoint",
					      "kms_profile", NULL };

static const char *opt_value(const struct pin_opts *o, const char *name)
{
	if (!o)
		return NULL;
	if (!strcmp(name, "tpm2_pcrs"))
		return o->tpm2_pcrs;
	if (!strcmp(name, "tpm2_srk"))
		return o->tpm2_srk;
	if (!strcmp(name, "kms_region"))
		return o->kms_region;
	if (!strcmp(name, "kms_endpoint"))
		return o->kms_endpoint;
	if (!strcmp(name, "kms_profile"))
		return o->kms_profile;
	return NULL;
}

static const char *node_dir(void)
{
	const char *d = secure_getenv(PIN_DIR_ENV);

	/* Root-only: the anchor of a root mount is chosen by root. */
	if (d && d[0] == '/' && getuid() == 0 && geteuid() == 0)
		return d;
	return PIN_DEFAULT_DIR;
}

static int record_location(const char *voldir, char *dir, size_t dn,
			   char *name, size_t nn)
{
	uint8_t h[32];
	char hex[65];

	if (crypto_sha256(voldir, strlen(voldir), h))
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	if (snprintf(dir, dn, "%s/volumes", node_dir()) >= (int)dn ||
	    snprintf(name, nn, "%s.json", hex) >= (int)nn)
		return -ENAMETOOLONG;
	return 0;
}

/* A value as the user should see it in a message: JSON, escaped, short. */
static const char *shown(const json_t *v, char *buf, size_t n)
{
	char *s;

	if (!v)
		return "(none)";
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII | JSON_COMPACT);
	snprintf(buf, n, "%s", s ? s : "?");
	if (s && strlen(s) >= n && n > 4)
		strcpy(buf + n - 4, "...");
	free(s);
	return buf;
}

static bool uuid_ok(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return false;
	}
	return true;
}

/* ---- pins in their one normal form ---- */

/* "7", "0+2+7" or "none" (a comma separates mount options). */
static json_t *pcrs_from_text(const char *s)
{
	uint32_t mask = 0;
	json_t *a;
	char *end;

	if (strcmp(s, "none")) {
		for (;;) {
			long v = strtol(s, &end, 10);
			if (end == s || v < 0 || v > 23 || (mask & (1u << v)))
				goto bad;
			mask |= 1u << v;
			if (!*end)
				break;
			if (*end != '+')
				goto bad;
			s = end + 1;
		}
	}
	a = json_array();
	for (int i = 0; a && i < 24; i++)
		if (mask & (1u << i))
			json_array_append_new(a, json_integer(i));
	return a;
bad:
	log_err("refused: tpm2_pcrs=%.64s: expected PCR numbers 0-23 joined "
		"by '+', e.g. 7 or 0+2+7, or none", s);
	return NULL;
}

static json_t *handle_from_text(const char *s)
{
	char *end, h[16];
	unsigned long v = strtoul(s, &end, 0);

	if (end == s || *end || v < 0x81000000ul || v > 0x81fffffful) {
		log_err("refused: tpm2_srk=%.64s: expected a persistent handle "
			"such as 0x81000001", s);
		return NULL;
	}
	snprintf(h, sizeof(h), "0x%08lx", v);
	return json_string(h);
}

static bool value_ok(const char *opt, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= VALUE_MAX) {
		log_err("refused: %s: empty or longer than %d bytes", opt,
			VALUE_MAX - 1);
		return false;
	}
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			log_err("refused: %s holds a control character", opt);
			return false;
		}
	return true;
}

/* The pinned fields of a config's key-source parameters. */
static json_t *pins_of_config(const struct keyprov *kp, const json_t *params)
{
	json_t *o = json_object();

	for (const struct kp_pin *f = kp->pins; o && f && f->field; f++) {
		json_t *v = json_object_get(params, f->field);

		if (f->kind == KP_PIN_PCRS && !v)
			json_object_set_new(o, f->field, json_array());
		else if (v)
			json_object_set(o, f->field, v);
	}
	return o;
}

/* The pinned fields the mount options state (only those given). */
static int pins_of_options(const struct keyprov *kp, const char *arg,
			   const struct pin_opts *o, json_t **out)
{
	json_t *obj = json_object();

	for (const struct kp_pin *f = kp->pins; obj && f && f->field; f++) {
		const char *s = f->option ? opt_value(o, f->option) : arg;
		char what[64];
		json_t *v;

		if (!s)
			continue;
		snprintf(what, sizeof(what), "%s=", f->option ? f->option :
							       "key_source=...:");
		if (f->kind == KP_PIN_PCRS)
			v = pcrs_from_text(s);
		else if (f->kind == KP_PIN_HANDLE)
			v = handle_from_text(s);
		else
			v = value_ok(what, s) ? json_string(s) : NULL;
		if (!v) {
			json_decref(obj);
			return PIN_REFUSED;
		}
		json_object_set_new(obj, f->field, v);
	}
	*out = obj;
	return obj ? 0 : -ENOMEM;
}

static const struct kp_pin *pin_of(const struct keyprov *kp, const char *field)
{
	for (const struct kp_pin *f = kp->pins; f && f->field; f++)
		if (!strcmp(f->field, field))
			return f;
	return NULL;
}

static const struct kp_pin *pin_of_option(const struct keyprov *kp,
					  const char *option)
{
	for (const struct kp_pin *f = kp->pins; f && f->field; f++)
		if (f->option && !strcmp(f->option, option))
			return f;
	return NULL;
}

/* ---- the record ---- */

static int refuse_record(const struct node_pins *p, const char *why)
{
	log_err("refused: the node record %s %s", p->record, why);
	return PIN_REFUSED;
}

/* Strictly parse a record's text: it must describe exactly @p voldir. */
static int record_parse(struct node_pins *p, const char *voldir,
			const char *text, size_t len)
{
	static const char *const fields[] = { "format", "volume", "uuid",
					      "encryption", "key_source", NULL };
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *ks, *v;
	const char *key, *s;
	char what[sizeof(p->record) + 16];
	int r = PIN_REFUSED;

	snprintf(what, sizeof(what), "node record %s", p->record);
	if (!root) {
		r = refuse_record(p, "is not a JSON object");
		goto out;
	}
	if (jsonsafe_only_keys(root, fields, what))
		goto out;
	if (!json_is_integer(json_object_get(root, "format")) ||
	    json_integer_value(json_object_get(root, "format")) != PIN_RECORD_FORMAT) {
		r = refuse_record(p, "has an unknown format");
		goto out;
	}
	if (jsonsafe_get_str(root, "volume", PATH_MAX, &s, what))
		goto out;
	if (strcmp(s, voldir)) {
		r = refuse_record(p, "names another volume path");
		goto out;
	}
	if (jsonsafe_get_str(root, "uuid", sizeof(p->uuid), &s, what) ||
	    !uuid_ok(s) || !json_is_boolean(json_object_get(root, "encryption"))) {
		r = refuse_record(p, "lacks a valid uuid or encryption field");
		goto out;
	}
	strcpy(p->uuid, s);
	p->encrypted = json_is_true(json_object_get(root, "encryption"));
	ks = json_object_get(root, "key_source");
	if (!p->encrypted) {
		r = ks ? refuse_record(p, "gives a plain volume a key source") : 0;
		p->have_record = !r;
		goto out;
	}
	if (!json_is_object(ks) ||
	    jsonsafe_copy_str(ks, "type", p->type, sizeof(p->type), what) ||
	    !keyprov_find(p->type)) {
		r = refuse_record(p, "lacks a known key_source.type");
		goto out;
	}
	p->params = json_object();
	json_object_foreach(ks, key, v) {
		const struct kp_pin *f = pin_of(keyprov_find(p->type), key);

		if (!strcmp(key, "type"))
			continue;
		if (!f || (f->kind == KP_PIN_PCRS ? !json_is_array(v)
						  : !json_is_string(v))) {
			r = refuse_record(p, "has an unknown or mistyped "
					     "key_source field");
			goto out;
		}
		json_object_set(p->params, key, v);
	}
	p->have_record = true;
	r = 0;
out:
	json_decref(root);
	return r;
}

static int record_load(struct node_pins *p, const char *voldir)
{
	char dir[PATH_MAX], name[80], *text = NULL;
	struct stat st;
	int dfd, fd = -1, r;
	ssize_t n;

	r = record_location(voldir, dir, sizeof(dir), name, sizeof(name));
	if (r)
		return r;
	snprintf(p->record, sizeof(p->record), "%s/%s", dir, name);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : refuse_record(p, "cannot be read");
	if (fstat(dfd, &st) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_err("refused: the node record directory %s must be owned by "
			"uid %u with mode 0700", dir, geteuid());
		r = PIN_REFUSED;
		goto out;
	}
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = errno == ENOENT ? 0 : refuse_record(p, "cannot be opened");
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || st.st_size > RECORD_MAX) {
		r = refuse_record(p, "is not a regular file owned by root with "
				     "mode 0600 (or is too large)");
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	n = text ? pread(fd, text, (size_t)st.st_size, 0) : -1;
	if (n != st.st_size) {
		r = refuse_record(p, "cannot be read");
		goto out;
	}
	r = record_parse(p, voldir, text, (size_t)n);
out:
	free(text);
	if (fd >= 0)
		close(fd);
	close(dfd);
	return r;
}

/* NODE_DIR and NODE_DIR/volumes: made 0700 when missing, checked always. */
static int open_record_dir(const char *dir)
{
	char parent[PATH_MAX];
	struct stat st;
	int fd;

	snprintf(parent, sizeof(parent), "%s", node_dir());
	if (mkdir(parent, 0700) && errno != EEXIST)
		return -errno;
	if (mkdir(dir, 0700) == 0) {
		int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd >= 0) {
			durable_fsync_dir(pfd);
			close(pfd);
		}
	} else if (errno != EEXIST) {
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		log_err("the node record directory %s must be owned by uid %u "
			"with mode 0700", dir, geteuid());
		close(fd);
		return PIN_REFUSED;
	}
	return fd;
}

int pin_record_store(const char *voldir, const struct volume_config *cfg,
		     char *where, size_t n)
{
	char dir[PATH_MAX], name[80], *text = NULL;
	json_t *root, *ks;
	int dfd, r;

	r = record_location(voldir, dir, sizeof(dir), name, sizeof(name));
	if (r)
		return r;
	snprintf(where, n, "%s/%s", dir, name);
	root = json_pack("{s:i, s:s, s:s, s:b}", "format", PIN_RECORD_FORMAT,
			 "volume", voldir, "uuid", cfg->uuid, "encryption",
			 cfg->encrypted);
	if (root && cfg->encrypted) {
		ks = pins_of_config(keyprov_find(cfg->key_source), cfg->key_params);
		json_object_set_new(ks, "type", json_string(cfg->key_source));
		json_object_set_new(root, "key_source", ks);
	}
	text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS |
					       JSON_ENSURE_ASCII)
		    : NULL;
	json_decref(root);
	if (!text)
		return -ENOMEM;
	dfd = open_record_dir(dir);
	r = dfd < 0 ? dfd : volume_write_atomic(dfd, name, text, 0600, true);
	if (dfd >= 0)
		close(dfd);
	if (r)
		log_err("cannot write the node record %s: %s", where, strerror(-r));
	free(text);
	return r;
}

int pin_record_remove(const char *voldir, char *where, size_t n)
{
	char dir[PATH_MAX], name[80];
	int dfd, r;

	r = record_location(voldir, dir, sizeof(dir), name, sizeof(name));
	if (r)
		return r;
	snprintf(where, n, "%s/%s", dir, name);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = unlinkat(dfd, name, 0) ? -errno : 0;
	if (!r && fsync(dfd))
		r = -errno;
	close(dfd);
	return r;
}

/* ---- record + options ---- */

static int conflict(const struct node_pins *p, const char *opt,
		    const char *given, const char *pinned)
{
	log_err("refused: mount option %s%s, but the node record %s pins %s",
		opt, given, p->record, pinned);
	return PIN_REFUSED;
}

static int merge_options(struct node_pins *p, const struct pin_opts *o)
{
	const struct keyprov *kp = NULL;
	const char *arg = NULL, *key;
	char name[32], a[256], b[256];
	json_t *given = NULL, *v;
	int r;

	if (o->uuid) {
		if (!uuid_ok(o->uuid)) {
			log_err("refused: uuid=%.64s is not a volume UUID (36 "
				"lower-case hex digits and dashes)", o->uuid);
			return PIN_REFUSED;
		}
		if (p->uuid[0] && strcmp(p->uuid, o->uuid))
			return conflict(p, "uuid=", o->uuid, p->uuid);
		strcpy(p->uuid, o->uuid);
		p->uuid_from_opt = !p->have_record;
	}
	if (o->key_source) {
		if (keyprov_parse_spec(o->key_source, &kp, &arg, name,
				       sizeof(name)))
			return PIN_REFUSED;
		if (p->encrypted == 0)
			return conflict(p, "key_source=", kp->name,
					"a plain volume");
		if (p->type[0] && strcmp(p->type, kp->name))
			return conflict(p, "key_source=", kp->name, p->type);
		snprintf(p->type, sizeof(p->type), "%s", kp->name);
		p->type_from_opt = !p->have_record;
	}
	kp = p->type[0] ? keyprov_find(p->type) : NULL;
	for (const char *const *s = source_options; *s; s++)
		if (opt_value(o, *s) && (!kp || !pin_of_option(kp, *s))) {
			log_err("refused: mount option %s= does not apply to "
				"key source %s", *s, kp ? kp->name : "(none)");
			return PIN_REFUSED;
		}
	if (!kp)
		return 0;
	r = pins_of_options(kp, arg, o, &given);
	if (r)
		return r;
	if (!p->params)
		p->params = json_object();
	json_object_foreach(given, key, v) {
		json_t *have = json_object_get(p->params, key);
		const struct kp_pin *f = pin_of(kp, key);

		if (!f->option && !strcmp(kp->name, "keyfile")) {
			/* keyfile:PATH says where the keyfile is now. */
			p->keyfile_moved = true;
		} else if (have && !json_equal(have, v)) {
			snprintf(name, sizeof(name), "%s=",
				 f->option ? f->option : "key_source=...:");
			r = conflict(p, name, shown(v, a, sizeof(a)),
				     shown(have, b, sizeof(b)));
			break;
		}
		json_object_set(p->params, key, v);
	}
	p->from_opt = given;
	return r;
}

static struct node_pins *pins_new(void)
{
	struct node_pins *p = calloc(1, sizeof(*p));

	if (p)
		p->encrypted = -1;
	return p;
}

/* @p p to the caller on success, freed on failure. */
static int hand_over(struct node_pins *p, int r, struct node_pins **out)
{
	if (r)
		pin_free(p);
	else
		*out = p;
	return r;
}

int pin_record_parse(const char *voldir, const char *text, size_t len,
		     struct node_pins **out)
{
	struct node_pins *p = pins_new();

	*out = NULL;
	if (!p)
		return -ENOMEM;
	snprintf(p->record, sizeof(p->record), "(text)");
	return hand_over(p, record_parse(p, voldir, text, len), out);
}

int pin_resolve(const char *voldir, const struct pin_opts *o,
		struct node_pins **out)
{
	struct node_pins *p = pins_new();
	int r;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	r = record_load(p, voldir);
	if (!r && o)
		r = merge_options(p, o);
	if (!r && o && o->tpm2_tcti && !(p->tcti = strdup(o->tpm2_tcti)))
		r = -ENOMEM;
	return hand_over(p, r, out);
}

void pin_free(struct node_pins *p)
{
	if (!p)
		return;
	json_decref(p->params);
	json_decref(p->from_opt);
	free(p->tcti);
	free(p);
}

bool pin_has_record(const struct node_pins *p)
{
	return p && p->have_record;
}

const char *pin_tcti(const struct node_pins *p)
{
	return p ? p->tcti : NULL;
}

/* ---- the check ---- */

static const char *where(const struct node_pins *p, bool from_opt, char *buf,
			 size_t n)
{
	if (from_opt || !p->have_record)
		snprintf(buf, n, "the mount options");
	else
		snprintf(buf, n, "the node record %s", p->record);
	return buf;
}

static int mismatch(const struct node_pins *p, const char *voldir,
		    const char *field, const char *in_volume,
		    const char *pinned, bool from_opt)
{
	char w[PATH_MAX + 160];

	log_err("refused: %s does not match what this node pinned for it: %s "
		"is %s in the volume config but %s in %s; the config was "
		"swapped or edited (see PINNING in atrestfs(8))", voldir, field,
		in_volume, pinned, where(p, from_opt, w, sizeof(w)));
	return PIN_REFUSED;
}

int pin_check(const struct node_pins *p, const char *voldir,
	      const struct volume_config *cfg)
{
	const struct keyprov *kp;
	char field[64], a[256], b[256], w[PATH_MAX + 160];
	json_t *have;
	int r = 0;

	if (p->encrypted >= 0 && p->encrypted != cfg->encrypted)
		return mismatch(p, voldir, "encryption",
				cfg->encrypted ? "on" : "off",
				p->encrypted ? "on" : "off", false);
	if (p->uuid[0] && strcmp(p->uuid, cfg->uuid))
		return mismatch(p, voldir, "the volume UUID", cfg->uuid,
				p->uuid, p->uuid_from_opt);
	if (!cfg->encrypted)
		return 0;
	if (!p->uuid[0] || !p->type[0]) {
		log_err("refused: %s is not pinned on this node: no node record "
			"(%s) and no uuid= and key_source= mount options. If it "
			"is the volume you expect (node rebuilt, disk kept), "
			"check `atrestfs info %s`, then run `atrestfs pin %s`",
			voldir, p->record, voldir, voldir);
		return PIN_REFUSED;
	}
	if (strcmp(p->type, cfg->key_source))
		return mismatch(p, voldir, "the key source", cfg->key_source,
				p->type, p->type_from_opt);
	kp = keyprov_find(p->type);
	have = pins_of_config(kp, cfg->key_params);
	if (!have)
		return -ENOMEM;
	for (const struct kp_pin *f = kp->pins; f && f->field; f++) {
		json_t *pin = json_object_get(p->params, f->field);
		json_t *cv = json_object_get(have, f->field);
		json_t *none = f->kind == KP_PIN_PCRS && !pin ? json_array() : NULL;
		bool from_opt = json_object_get(p->from_opt, f->field) != NULL;

		if (none)
			pin = none;
		if (!pin && f->required) {
			log_err("refused: %s is not completely pinned: no %s "
				"in %s (mount option %s%s)", voldir, f->field,
				where(p, false, w, sizeof(w)),
				f->option ? f->option : "key_source=TYPE:ARG",
				f->option ? "=" : "");
			r = PIN_REFUSED;
		} else if (!(p->keyfile_moved && !f->option) &&
			   !(pin && cv ? json_equal(pin, cv) : pin == cv)) {
			snprintf(field, sizeof(field), "key_source.%s", f->field);
			r = mismatch(p, voldir, field, shown(cv, a, sizeof(a)),
				     shown(pin, b, sizeof(b)), from_opt);
		}
		json_decref(none);
		if (r)
			break;
	}
	json_decref(have);
	return r;
}

json_t *pin_unlock_params(const struct node_pins *p,
			  const struct volume_config *cfg)
{
	json_t *params = json_deep_copy(cfg->key_params), *v;
	const char *key;

	if (params && p->params)
		json_object_foreach(p->params, key, v)
			json_object_set(params, key, v);
	return params;
}

/* ---- the fstab line ---- */

static int append(char *buf, size_t n, size_t *len, const char *a,
		  const char *b)
{
	int w;

	if (strpbrk(b, ", \t\n\\")) {
		log_err("%s%s cannot be written as an fstab option (comma, "
			"white space or backslash); the node record pins it",
			a, b);
		return -EINVAL;
	}
	w = snprintf(buf + *len, n - *len, "%s%s%s", *len ? "," : "", a, b);
	if (w < 0 || (size_t)w >= n - *len)
		return -ENAMETOOLONG;
	*len += (size_t)w;
	return 0;
}

int pin_fstab_options(const struct volume_config *cfg, char *buf, size_t n)
{
	const struct keyprov *kp;
	const char *arg = NULL;
	char pcrs[80], opt[48], ks[VALUE_MAX + 32];
	size_t len = 0;
	json_t *have;
	int r;

	buf[0] = '\0';
	if (!cfg->encrypted) {
		r = append(buf, n, &len, "encryption=", "off");
		return r ? r : append(buf, n, &len, "uuid=", cfg->uuid);
	}
	r = append(buf, n, &len, "uuid=", cfg->uuid);
	kp = keyprov_find(cfg->key_source);
	have = kp ? pins_of_config(kp, cfg->key_params) : NULL;
	if (r || !have) {
		json_decref(have);
		return r ? r : -ENOMEM;
	}
	for (const struct kp_pin *f = kp->pins; f && f->field; f++)
		if (!f->option && json_is_string(json_object_get(have, f->field)))
			arg = json_string_value(json_object_get(have, f->field));
	snprintf(ks, sizeof(ks), "%s%s%s", kp->name, arg ? ":" : "",
		 arg ? arg : "");
	r = append(buf, n, &len, "key_source=", ks);
	for (const struct kp_pin *f = kp->pins; !r && f && f->field; f++) {
		json_t *v = json_object_get(have, f->field), *e;
		size_t i, o = 0;

		if (!f->option)
			continue;
		snprintf(opt, sizeof(opt), "%s=", f->option);
		if (f->kind == KP_PIN_PCRS && json_array_size(v)) {
			json_array_foreach(v, i, e)
				o += (size_t)snprintf(pcrs + o, sizeof(pcrs) - o,
						      "%s%lld", o ? "+" : "",
						      (long long)json_integer_value(e));
			r = append(buf, n, &len, opt, pcrs);
		} else if (json_is_string(v)) {
			r = append(buf, n, &len, opt, json_string_value(v));
		}
	}
	json_decref(have);
	return r;
}
