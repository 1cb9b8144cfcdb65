// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The unlock child. fork() instead of a helper binary: nothing is exec'd,
 * so no path, environment or library search decides what runs, and the
 * child starts with the very checks the parent has made. The child writes
 * a 4-byte status and, on success, the 32-byte key; the parent accepts
 * exactly that, from a child that exited with status 0.
 */
#include "unlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keyprov.h"
#include "log.h"
#include "secmem.h"

#define MSG_LEN (sizeof(int32_t) + KEYPROV_KEY_LEN)

/* In the child: unlock, send, exit without running anything of the parent. */
static void __attribute__((noreturn))
child(int fd, const struct keyprov *kp, const json_t *params,
      const char *arg, const char *uuid)
{
	uint8_t *msg = secmem_alloc(MSG_LEN);
	size_t len;
	ssize_t w;
	int32_t st;

	if (!msg)
		_exit(1);
	st = keyprov_unlock(kp, params, arg, uuid, msg + sizeof(st));
	memcpy(msg, &st, sizeof(st));
	/* Fewer than PIPE_BUF bytes: one write, all or nothing. */
	len = st ? sizeof(st) : MSG_LEN;
	while ((w = write(fd, msg, len)) < 0 && errno == EINTR)
		;
	if (w != (ssize_t)len)
		st = -EPIPE;
	secmem_free(msg);
	_exit(st ? 1 : 0);
}

/* Read the child's answer: exactly 4 bytes (failure) or 36 (the key). */
static int receive(int fd, uint8_t *msg, size_t *got)
{
	*got = 0;
	for (;;) {
		ssize_t n = read(fd, msg + *got, MSG_LEN + 1 - *got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*got += (size_t)n;
		if (*got > MSG_LEN)
			return -EPROTO;
	}
}

static int unlock_in_child(const struct keyprov *kp, const json_t *params,
			   const char *arg, const char *uuid, uint8_t *key)
{
	uint8_t *msg = secmem_alloc(MSG_LEN + 1);
	int fds[2], wst, r;
	int32_t st = -EPROTO;
	size_t got;
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
		child(fds[1], kp, params, arg, uuid);
	}
	close(fds[1]);
	r = receive(fds[0], msg, &got);
	close(fds[0]);
	while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
		;
	if (got >= sizeof(st))
		memcpy(&st, msg, sizeof(st));
	if (WIFSIGNALED(wst)) {
		log_err("the %s key source process died (signal %d)", kp->name,
			WTERMSIG(wst));
		r = -EIO;
	} else if (!r && st < 0 && got == sizeof(st)) {
		r = st; /* the source said why */
	} else if (r || st || got != MSG_LEN || !WIFEXITED(wst) ||
		   WEXITSTATUS(wst)) {
		log_err("the %s key source process gave no key", kp->name);
		r = -EPROTO;
	} else {
		memcpy(key, msg + sizeof(st), KEYPROV_KEY_LEN);
	}
out:
	secmem_free(msg);
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
	r = unlock_in_child(kp, params, !strcmp(kp->name, "tpm2") ?
						pin_tcti(pins) : NULL,
			    cfg->uuid, vkey);
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
