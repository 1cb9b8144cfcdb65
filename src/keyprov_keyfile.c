// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The keyfile key source: a root-only file holding a 32-byte wrapping key.
 * The embedded default for demos, tests and hosts with neither TPM nor KMS.
 *
 * The volume key is wrapped with AES-256 key wrap (RFC 5649) under
 * KEK = HKDF(file key, salt = volume UUID, info "atrestfs keyfile wrap"),
 * so a wrapped key only opens the volume it was made for.
 */
#include "keyprov.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "durable.h"
#include "jsonsafe.h"
#include "log.h"
#include "secmem.h"

#define WRAPPED_LEN (KEYPROV_KEY_LEN + CRYPTO_WRAP_OVERHEAD)

/* A new keyfile, written durably; an existing file is never replaced. */
static int create_keyfile(const char *path, uint8_t *fkey)
{
	char dir[PATH_MAX], base[PATH_MAX];
	int dfd, r;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	r = crypto_random_priv(fkey, KEYPROV_KEY_LEN);
	if (r)
		return r;
	strcpy(dir, path);
	strcpy(base, path);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
	} else {
		r = durable_write_file(dfd, basename(base), fkey,
				       KEYPROV_KEY_LEN, 0400, false);
		close(dfd);
	}
	if (r) {
		log_err("cannot create keyfile %s: %s", LOG_ESC(path), strerror(-r));
		return r;
	}
	log_info("created keyfile %s (mode 0400): keep it safe, the volume "
		 "cannot be opened without it", LOG_ESC(path));
	return 0;
}

/* Read an existing keyfile after the checks a root-only secret deserves. */
static int read_keyfile(const char *path, uint8_t *fkey)
{
	struct stat st;
	ssize_t n;
	int fd, r = 0;

	/* Non-blocking: a FIFO planted at the path must not hang us. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			log_err("keyfile %s is a symbolic link: refused", LOG_ESC(path));
		else
			log_err("cannot open keyfile %s: %s", LOG_ESC(path),
				strerror(-r));
		return r;
	}
	if (fstat(fd, &st)) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("keyfile %s is not a regular file", LOG_ESC(path));
		r = -EINVAL;
	} else if (st.st_mode & 077) {
		log_err("keyfile %s is accessible by group or others (mode "
			"%04o): chmod 0400 it", LOG_ESC(path), st.st_mode & 07777);
		r = -EPERM;
	} else if (st.st_uid != geteuid()) {
		log_err("keyfile %s is owned by uid %u, not by uid %u", LOG_ESC(path),
			st.st_uid, geteuid());
		r = -EPERM;
	} else if (st.st_size != KEYPROV_KEY_LEN) {
		log_err("keyfile %s has %lld bytes; a keyfile holds exactly %d",
			LOG_ESC(path), (long long)st.st_size, KEYPROV_KEY_LEN);
		r = -EINVAL;
	} else {
		n = pread(fd, fkey, KEYPROV_KEY_LEN, 0);
		if (n != KEYPROV_KEY_LEN) {
			log_err("cannot read keyfile %s", LOG_ESC(path));
			r = -EIO;
		}
	}
out:
	close(fd);
	return r;
}

static int derive_kek(const uint8_t *fkey, const char *uuid, uint8_t *kek)
{
	static const char info[] = "atrestfs keyfile wrap";

	return crypto_hkdf(fkey, KEYPROV_KEY_LEN, (const uint8_t *)uuid,
			   strlen(uuid), (const uint8_t *)info, strlen(info),
			   kek, KEYPROV_KEY_LEN);
}

static int keyfile_enroll(const char *arg, const struct kp_options *opt,
			  const char *volume_uuid, uint8_t *key,
			  json_t **params)
{
	uint8_t *fkey = secmem_alloc(2 * KEYPROV_KEY_LEN);
	uint8_t *kek = fkey + KEYPROV_KEY_LEN;
	uint8_t wrapped[WRAPPED_LEN];
	char path[PATH_MAX], b64[64];
	size_t wlen;
	int r;

	(void)opt;
	if (!fkey)
		return -ENOMEM;
	if (!arg || !*arg) {
		log_err("key source keyfile needs a path: --key-source "
			"keyfile:PATH");
		r = -EINVAL;
		goto out;
	}
	if (access(arg, F_OK) == 0 || errno != ENOENT)
		r = read_keyfile(arg, fkey);
	else
		r = create_keyfile(arg, fkey);
	if (r)
		goto out;
	if (!realpath(arg, path)) {
		r = -errno;
		goto out;
	}
	r = crypto_random_priv(key, KEYPROV_KEY_LEN);
	if (!r)
		r = derive_kek(fkey, volume_uuid, kek);
	if (!r)
		r = crypto_keywrap(kek, key, KEYPROV_KEY_LEN, wrapped, &wlen);
	if (r)
		goto out;
	crypto_b64_encode(wrapped, wlen, b64);
	*params = json_pack("{s:s, s:s}", "path", path, "wrapped_key", b64);
	if (!*params)
		r = -ENOMEM;
out:
	secmem_free(fkey);
	return r;
}

static int keyfile_validate(const json_t *params)
{
	static const char *const fields[] = { "path", "wrapped_key", NULL };
	const char *path;
	uint8_t wrapped[WRAPPED_LEN];

	if (jsonsafe_only_keys(params, fields, KEYPROV_DOC) ||
	    jsonsafe_get_str(params, "path", PATH_MAX, &path, KEYPROV_DOC) ||
	    jsonsafe_get_b64(params, "wrapped_key", wrapped, WRAPPED_LEN,
			     WRAPPED_LEN, KEYPROV_DOC) < 0)
		return -EINVAL;
	if (path[0] != '/') {
		log_err("invalid volume config: key_source.path must be an "
			"absolute path");
		return -EINVAL;
	}
	return 0;
}

static int keyfile_unlock(const json_t *params, const char *arg,
			  const char *volume_uuid, uint8_t *key)
{
	uint8_t *fkey = secmem_alloc(2 * KEYPROV_KEY_LEN);
	uint8_t *kek = fkey + KEYPROV_KEY_LEN;
	uint8_t wrapped[WRAPPED_LEN];
	const char *path;
	size_t olen = 0;
	int r;

	if (!fkey)
		return -ENOMEM;
	r = keyfile_validate(params);
	if (r)
		goto out;
	path = arg ? arg : json_string_value(json_object_get(params, "path"));
	jsonsafe_get_b64(params, "wrapped_key", wrapped, WRAPPED_LEN,
			 WRAPPED_LEN, KEYPROV_DOC);
	r = read_keyfile(path, fkey);
	if (r)
		goto out;
	r = derive_kek(fkey, volume_uuid, kek);
	if (r)
		goto out;
	r = crypto_keyunwrap(kek, wrapped, WRAPPED_LEN, key, &olen);
	if (r == -EBADMSG || (!r && olen != KEYPROV_KEY_LEN)) {
		log_err("keyfile %s does not unlock this volume (wrong key "
			"file)", LOG_ESC(path));
		secmem_wipe(key, KEYPROV_KEY_LEN);
		r = -EKEYREJECTED;
	}
out:
	secmem_free(fkey);
	return r;
}

static void keyfile_describe(const json_t *params, FILE *out)
{
	fprintf(out, "keyfile:         %s\n",
		LOG_ESC(json_string_value(json_object_get(params, "path"))));
	fprintf(out, "wrapped key:     present, %d bytes (AES-256 key wrap, "
		     "RFC 5649)\n", WRAPPED_LEN);
}

static void keyfile_audit_id(const json_t *params, char *buf, size_t n)
{
	snprintf(buf, n, "keyfile:%s",
		 LOG_ESC(json_string_value(json_object_get(params, "path"))));
}

static const struct kp_pin keyfile_pins[] = {
	{ "path", NULL, KP_PIN_STRING, 1 },
	{ NULL, NULL, 0, 0 },
};

const struct keyprov kp_keyfile = {
	.name = "keyfile",
	.pins = keyfile_pins,
	.usage = "  --key-source keyfile:PATH   wrap the key with a 32-byte "
		 "keyfile (created 0400 if missing)\n",
	.enroll = keyfile_enroll,
	.unlock = keyfile_unlock,
	.validate = keyfile_validate,
	.describe = keyfile_describe,
	.audit_id = keyfile_audit_id,
};
