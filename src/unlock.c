// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The volume key's life, from the key source to the subkeys (unlock.h),
 * with the key source run in a throwaway child. fork() instead of a helper
 * binary: nothing is exec'd, so no path, environment or library search
 * decides what runs, and the child starts with the very checks the parent
 * has made. The child writes a 4-byte status and, on success, the 32-byte
 * key (at create followed by the source's parameters as JSON); the parent
 * accepts exactly that, from a child that exited with status 0.
 */
#include "unlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keyprov.h"
#include "log.h"
#include "secmem.h"
#include "volume.h"

#define ST_LEN sizeof(int32_t)
#define PARAMS_MAX VOLUME_CONFIG_MAX /* enroll's parameters, as JSON text */

/* What the child is to do: unlock (params, arg) or enroll (arg, opt). */
struct job {
	const struct keyprov *kp;
	const json_t *params;
	const char *arg;
	const struct kp_options *opt; /* non-NULL: enroll */
	const char *uuid;
};

/* In the child: the key after the status word, for enroll followed by the
 * source's parameters as JSON text; returns the payload's length. */
static size_t work(const struct job *j, uint8_t *out, int32_t *st)
{
	json_t *params = NULL;
	char *text;
	size_t n;

	if (!j->opt) {
		*st = keyprov_unlock(j->kp, j->params, j->arg, j->uuid, out);
		return *st ? 0 : KEYPROV_KEY_LEN;
	}
	*st = keyprov_enroll(j->kp, j->arg, j->opt, j->uuid, out, &params);
	if (*st)
		return 0;
	text = json_dumps(params, JSON_COMPACT);
	json_decref(params);
	n = text ? strlen(text) : 0;
	if (!text || n > PARAMS_MAX) {
		*st = -E2BIG;
		free(text);
		return 0;
	}
	memcpy(out + KEYPROV_KEY_LEN, text, n);
	free(text);
	return KEYPROV_KEY_LEN + n;
}

/* In the child: do the job, send, exit without running anything of the
 * parent (no atexit handlers, no stdio buffers flushed twice). */
static void __attribute__((noreturn)) child(int fd, const struct job *j)
{
	size_t cap = ST_LEN + KEYPROV_KEY_LEN + PARAMS_MAX, off = 0, len;
	uint8_t *msg = secmem_alloc(cap);
	int32_t st;

	if (!msg)
		_exit(1);
	len = ST_LEN + work(j, msg + ST_LEN, &st);
	memcpy(msg, &st, ST_LEN);
	while (off < len) {
		ssize_t w = write(fd, msg + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			st = -EPIPE;
			break;
		}
		off += (size_t)w;
	}
	secmem_free(msg);
	_exit(st ? 1 : 0);
}

/* Read the child's whole answer; more than @p cap bytes is a protocol error. */
static int receive(int fd, uint8_t *msg, size_t cap, size_t *got)
{
	*got = 0;
	for (;;) {
		ssize_t n = read(fd, msg + *got, cap + 1 - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*got += (size_t)n;
		if (*got > cap)
			return -EPROTO;
	}
}

/*
 * Run @p j in a child; on success @p key holds the key and, for enroll,
 * @p params the source's parameters. Accepted only from a child that
 * exited with status 0 after sending a status of 0 and a payload of the
 * expected size.
 */
static int run_child(const struct job *j, uint8_t *key, json_t **params)
{
	size_t cap = ST_LEN + KEYPROV_KEY_LEN + (j->opt ? PARAMS_MAX : 0), got = 0;
	uint8_t *msg = secmem_alloc(cap + 1);
	int fds[2], wst = 0, r;
	int32_t st = -EPROTO;
	pid_t pid;

	if (!msg)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC)) {
		r = -errno;
		goto out;
	}
	fflush(NULL); /* nothing buffered is written twice */
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], j);
	}
	close(fds[1]);
	r = receive(fds[0], msg, cap, &got);
	close(fds[0]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (got >= ST_LEN)
		memcpy(&st, msg, ST_LEN);
	if (WIFSIGNALED(wst)) {
		log_err("the %s key source process died (signal %d)",
			j->kp->name, WTERMSIG(wst));
		r = -EIO;
	} else if (!r && st < 0 && got == ST_LEN) {
		r = st; /* the source said why */
	} else if (r || st || !WIFEXITED(wst) || WEXITSTATUS(wst) ||
		   (j->opt ? got <= ST_LEN + KEYPROV_KEY_LEN
			   : got != ST_LEN + KEYPROV_KEY_LEN)) {
		log_err("the %s key source process gave no key", j->kp->name);
		r = -EPROTO;
	} else if (j->opt &&
		   !(*params = json_loadb((const char *)msg + ST_LEN +
						  KEYPROV_KEY_LEN,
					  got - ST_LEN - KEYPROV_KEY_LEN,
					  JSON_REJECT_DUPLICATES, NULL))) {
		log_err("the %s key source process sent malformed parameters",
			j->kp->name);
		r = -EPROTO;
	} else {
		memcpy(key, msg + ST_LEN, KEYPROV_KEY_LEN);
	}
out:
	secmem_free(msg);
	return r;
}

int unlock_enroll(const struct keyprov *kp, const char *arg,
		  const struct kp_options *opt, struct volume_config *cfg,
		  struct volume_keys **keys)
{
	static const struct kp_options none;
	struct job j = { kp, NULL, arg, opt ? opt : &none, cfg->uuid };
	uint8_t *vkey = secmem_alloc(KEYPROV_KEY_LEN);
	int r;

	*keys = NULL;
	if (!vkey)
		return -ENOMEM;
	/* 1. The source makes (or has made) the key and wraps it. */
	snprintf(cfg->key_source, sizeof(cfg->key_source), "%s", kp->name);
	json_decref(cfg->key_params);
	cfg->key_params = NULL;
	r = kp->enroll ? run_child(&j, vkey, &cfg->key_params)
		       : keyprov_enroll(kp, arg, opt, cfg->uuid, vkey,
					&cfg->key_params);
	/* 2. Subkeys, then the volume key is gone. */
	if (!r)
		r = volume_derive_keys(vkey, cfg->uuid_bin, keys);
	secmem_free(vkey);
	return r;
}

int unlock_volume_keys(const char *voldir, const struct volume_config *cfg,
		       const struct node_pins *pins, struct volume_keys **keys)
{
	const struct keyprov *kp = keyprov_find(cfg->key_source);
	json_t *params = NULL;
	uint8_t *vkey = NULL;
	int r;

	*keys = NULL;
	/* 1. Nothing from the volume is acted on before it matches the pins. */
	r = pin_check(pins, voldir, cfg);
	if (r)
		return r;
	if (!kp || !kp->unlock) {
		log_err("key source %s is not available in this build",
			cfg->key_source);
		return -ENOTSUP;
	}
	/* 2. The key, from the source the node pins, in a throwaway child. */
	params = pin_unlock_params(pins, cfg);
	vkey = secmem_alloc(KEYPROV_KEY_LEN);
	if (!params || !vkey) {
		r = -ENOMEM;
		goto out;
	}
	{
		struct job j = { kp, params,
				 !strcmp(kp->name, "tpm2") ? pin_tcti(pins) : NULL,
				 NULL, cfg->uuid };

		r = run_child(&j, vkey, NULL);
	}
	if (r)
		goto out;
	/* 3. Subkeys, the key wiped, then the MAC under the derived key. */
	r = volume_derive_keys(vkey, cfg->uuid_bin, keys);
	secmem_free(vkey);
	vkey = NULL;
	if (!r && volume_config_verify(cfg, *keys)) {
		volume_keys_free(*keys);
		*keys = NULL;
		r = -EBADMSG;
	}
out:
	secmem_free(vkey);
	json_decref(params);
	return r;
}
