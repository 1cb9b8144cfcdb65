// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon side of `atrestfs status`. The socket is made before the
 * sandbox (socket(), bind() and listen() are not allowed after it); the
 * sandbox then allows accept4() on this one descriptor and getsockopt()
 * for SO_PEERCRED only. Every request is hostile until shown otherwise:
 * a peer that is not uid 0 gets a refusal, a request is read into a fixed
 * buffer with a deadline and must be exactly STATUS_REQUEST, and one slow
 * client delays the next by STATUS_IO_TIMEOUT_MS at most.
 *
 * Every string in a reply went through log_esc() (printable ASCII only):
 * names from the mount or the volume config are attacker-chosen.
 */
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "crypto.h"
#include "fs_ops.h"
#include "keyprov.h"
#include "log.h"
#include "mountinfo.h"
#include "pin.h"
#include "revoke.h"
#include "sandbox.h"
#include "stats.h"
#include "volume.h"

#define ESC_MAX (4 * PATH_MAX + 4)

struct status_server {
	int fd;	     /* listening, non-blocking */
	int stop[2]; /* a byte (or EOF) on stop[0] ends the thread */
	pthread_t thread;
	bool listening;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char vol[PATH_MAX];
	struct atr_fs *fs;
	struct revoke_watch *watch;
	json_t *fixed; /* what does not change while mounted */
};

int status_socket_path(unsigned major, unsigned minor, char *buf, size_t n)
{
	int k = snprintf(buf, n, "%s/%u:%u.sock", STATUS_DIR, major, minor);

	return k < 0 || (size_t)k >= n ? -ENAMETOOLONG : 0;
}

static json_t *esc_string(const char *s)
{
	char buf[ESC_MAX];

	return json_string(log_esc(s, buf, sizeof(buf)));
}

/* The key source's non-secret parameters: exactly what the node pins. */
static json_t *key_source(const struct volume_config *cfg,
			  const struct node_pins *pins)
{
	const struct keyprov *kp = keyprov_find(cfg->key_source);
	json_t *o = json_object(), *params;

	if (!o)
		return NULL;
	json_object_set_new(o, "type", esc_string(cfg->key_source));
	params = kp ? pin_unlock_params(pins, cfg) : NULL;
	for (const struct kp_pin *p = kp ? kp->pins : NULL; p && p->field;
	     p++) {
		json_t *v = json_object_get(params, p->field), *c = NULL;
		size_t i;
		json_t *e;

		if (json_is_string(v)) {
			c = esc_string(json_string_value(v));
		} else if (json_is_integer(v)) {
			c = json_integer(json_integer_value(v));
		} else if (json_is_array(v)) {
			c = json_array();
			json_array_foreach(v, i, e)
				if (json_is_integer(e))
					json_array_append_new(
						c, json_integer(json_integer_value(e)));
		}
		if (c)
			json_object_set_new(o, p->field, c);
	}
	json_decref(params);
	return o;
}

static int make_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	/* 1. The directory: root's, nobody else's. */
	if (mkdir(STATUS_DIR, 0700) && errno != EEXIST)
		return -errno;
	if (lstat(STATUS_DIR, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0)
		return -EPERM;
	if ((st.st_mode & 077) && chmod(STATUS_DIR, 0700))
		return -errno;
	/* 2. The socket: a stale one (a daemon killed, its mount gone and
	 * its device number given to this mount) is replaced. */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, 8)) {
		r = -errno;
		close(fd);
		unlink(path);
		return r;
	}
	return fd;
}

int status_start(const char *vol, const char *mnt,
		 const struct volume_config *cfg, const struct node_pins *pins,
		 struct atr_fs *fs, struct status_server **out)
{
	struct status_server *s = calloc(1, sizeof(*s));
	struct mountinfo_entry *me = malloc(sizeof(*me));
	int r;

	*out = NULL;
	if (!s || !me) {
		free(s);
		free(me);
		return -ENOMEM;
	}
	s->fd = s->stop[0] = s->stop[1] = -1;
	s->fs = fs;
	snprintf(s->vol, sizeof(s->vol), "%s", vol);
	/* The device number the kernel gave the mount just made. */
	r = mountinfo_top(mnt, me);
	if (r <= 0 || !mountinfo_is_atrestfs(me)) {
		r = r < 0 ? r : -ENOENT;
		goto err;
	}
	r = status_socket_path(me->major, me->minor, s->path, sizeof(s->path));
	if (r)
		goto err;
	s->fixed = json_pack("{s:i, s:o, s:o, s:o, s:i, s:b, s:o, s:I}",
			     "version", 1, "volume", esc_string(vol),
			     "mountpoint", esc_string(me->mnt), "uuid",
			     esc_string(cfg->uuid), "format", cfg->format,
			     "encrypted", cfg->encrypted, "key_source",
			     cfg->encrypted ? key_source(cfg, pins) : json_null(),
			     "mounted_since", (json_int_t)time(NULL));
	if (!s->fixed || pipe2(s->stop, O_CLOEXEC)) {
		r = s->fixed ? -errno : -ENOMEM;
		goto err;
	}
	s->fd = make_socket(s->path);
	if (s->fd < 0) {
		r = s->fd;
		goto err;
	}
	sandbox_allow_accept(s->fd);
	free(me);
	*out = s;
	return 0;
err:
	log_err("no status channel for %s (atrestfs status will not answer): "
		"%s: %s", LOG_ESC(mnt), s->path[0] ? s->path : "-",
		strerror(-r));
	free(me);
	status_stop(s);
	return r;
}

static json_t *last_failure(struct status_server *s, uint64_t *count)
{
	struct stats_failures *f = malloc(sizeof(*f));
	char path[PATH_MAX], *rel = NULL;
	size_t vlen = strlen(s->vol);
	bool plain = false;
	json_t *o;

	if (!f)
		return NULL;
	stats_failures(f);
	*count = f->count;
	if (!f->count) {
		free(f);
		return json_null();
	}
	if (!strncmp(f->path, s->vol, vlen) && f->path[vlen] == '/')
		rel = f->path + vlen + 1;
	/* The mount path when it can be worked out, else the backing file
	 * (a file deleted since is shown by the kernel with " (deleted)"). */
	if (rel && s->fs->encrypted) {
		plain = !bname_plain_path(&s->fs->names, rel, path,
					  sizeof(path));
		/* This thread answers no FUSE request, so nothing else makes
		 * its SIV context forget the names key. */
		crypto_forget();
	}
	if (plain)
		o = json_pack("{s:o, s:s, s:I}", "path", esc_string(path),
			      "path_kind", "mount", "time", (json_int_t)f->last);
	else
		o = json_pack("{s:o, s:s, s:I}", "path",
			      esc_string(f->path[0] ? f->path : "(unknown)"),
			      "path_kind", "backing", "time",
			      (json_int_t)f->last);
	free(f);
	return o;
}

static const char *const revoke_names[] = { "allowed", "revoked",
					    "unreachable" };

static json_t *revocation(struct revoke_watch *w)
{
	struct revoke_state st;

	if (!w)
		return json_null();
	revoke_watch_state(w, &st);
	return json_pack("{s:s, s:I, s:o, s:i}", "state",
			 revoke_names[st.state], "since", (json_int_t)st.since,
			 "last_check",
			 st.last_check ? json_integer(st.last_check) : json_null(),
			 "interval", (int)st.interval);
}

static json_t *reply(struct status_server *s)
{
	int64_t v[STATS_N];
	uint64_t fails = 0;
	json_t *o = json_deep_copy(s->fixed), *last;

	if (!o)
		return NULL;
	stats_snapshot(v);
	last = last_failure(s, &fails);
	json_object_update_new(
		o, json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o}",
			     "pid", (int)getpid(), "bytes_read",
			     (json_int_t)v[STATS_BYTES_READ], "bytes_written",
			     (json_int_t)v[STATS_BYTES_WRITTEN], "blocks_read",
			     (json_int_t)v[STATS_BLOCKS_READ], "blocks_written",
			     (json_int_t)v[STATS_BLOCKS_WRITTEN], "auth_failures",
			     (json_int_t)fails, "last_auth_failure",
			     last ? last : json_null(), "open_files",
			     (json_int_t)v[STATS_OPEN_FILES], "cached_inodes",
			     (json_int_t)v[STATS_INODES], "kms_recheck",
			     revocation(s->watch)));
	return o;
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n;

	do
		n = poll(&p, 1, STATUS_IO_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	return n > 0 ? 0 : -ETIMEDOUT;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n && !wait_fd(fd, POLLOUT)) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void send_error(int fd, const char *msg)
{
	char buf[256];
	int k = snprintf(buf, sizeof(buf), "{\"error\": \"%s\"}\n", msg);

	send_all(fd, buf, (size_t)k);
}

static void answer(struct status_server *s, int c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char req[sizeof(STATUS_REQUEST)];
	size_t got = 0;
	json_t *o;
	char *text;

	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    cred.uid != 0)
		return send_error(c, "permission denied: only root may query "
				     "the status");
	/* Exactly STATUS_REQUEST, within the deadline, or nothing. */
	while (got < sizeof(req) - 1 && !wait_fd(c, POLLIN)) {
		ssize_t k = read(c, req + got, sizeof(req) - 1 - got);

		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
		if (memchr(req, '\n', got))
			break;
	}
	if (got != sizeof(req) - 1 || memcmp(req, STATUS_REQUEST, got))
		return send_error(c, "bad request");
	o = reply(s);
	text = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(o);
	if (!text || strlen(text) >= STATUS_REPLY_MAX) {
		free(text);
		return send_error(c, "cannot build the reply");
	}
	send_all(c, text, strlen(text));
	send_all(c, "\n", 1);
	free(text);
}

static void *serve(void *arg)
{
	struct status_server *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN },
				       { .fd = s->stop[0], .events = POLLIN } };
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			log_err("status channel %s: accept: %s; no longer "
				"served", s->path, strerror(errno));
			break;
		}
		answer(s, c);
		close(c);
	}
	return NULL;
}

int status_listen(struct status_server *s, struct revoke_watch *watch)
{
	int r;

	if (!s)
		return 0;
	s->watch = watch;
	r = -pthread_create(&s->thread, NULL, serve, s);
	s->listening = !r;
	if (r)
		log_err("status channel %s not served: %s", s->path,
			strerror(-r));
	return r;
}

void status_stop(struct status_server *s)
{
	if (!s)
		return;
	if (s->listening) {
		close(s->stop[1]);
		s->stop[1] = -1;
		pthread_join(s->thread, NULL);
	}
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	for (int i = 0; i < 2; i++)
		if (s->stop[i] >= 0)
			close(s->stop[i]);
	json_decref(s->fixed);
	free(s);
}
