// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The revocation watcher. Like the unlock child (unlock.c) it is a fork(),
 * not a helper binary, and the daemon never holds an HTTP client or a KMS
 * answer: the child makes the same Decrypt call a mount makes, wipes the
 * key it gets at once and writes two bytes per check, the report and the
 * errno behind it (for the log line). It must be forked before the sandbox,
 * which forbids sockets; it dies with the daemon (PR_SET_PDEATHSIG) and
 * exits when the daemon closes its control pipe at unmount. It has a
 * seccomp filter of its own, an HTTPS client's (childbox.c).
 */
#include "revoke.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kms_client.h"
#include "childbox.h"
#include "log.h"
#include "sandbox.h"
#include "secmem.h"

struct revoke_watch {
	pid_t pid;
	int ctl;  /* write end of the control pipe: closed = "stop" */
	int rd;   /* read end of the report pipe */
	pthread_t thread;
	bool listening; /* the thread runs */
	struct revoke_opts o;
	int *deny; /* the daemon's; written with __atomic_store_n */
	bool stopping; /* atomic */
	pthread_mutex_t state_lock;
	struct revoke_state st; /* protected by state_lock */
};

static int parse_seconds(const char *name, const char *v, unsigned min,
			 unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *end || *v < '0' || *v > '9' || errno || n < min ||
	    n > REVOKE_MAX_SECONDS) {
		fprintf(stderr, "atrestfs: %s=%s: expected a whole number of "
				"seconds from %u to %d\n", name, v, min,
			REVOKE_MAX_SECONDS);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

int revoke_parse_opts(const char *recheck, const char *grace,
		      const char *revoked, struct revoke_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (recheck && parse_seconds("kms_recheck", recheck, 1, &o->interval))
		return -EINVAL;
	if ((grace || revoked) && !recheck) {
		fprintf(stderr, "atrestfs: kms_grace and kms_revoked only "
				"apply with kms_recheck=SECONDS\n");
		return -EINVAL;
	}
	o->grace = o->interval * REVOKE_GRACE_INTERVALS;
	if (grace && parse_seconds("kms_grace", grace, 0, &o->grace))
		return -EINVAL;
	if (revoked && !strcmp(revoked, "deny_all"))
		o->deny_all = true;
	else if (revoked && strcmp(revoked, "deny_writes")) {
		fprintf(stderr, "atrestfs: kms_revoked=%s: expected "
				"deny_writes or deny_all\n", revoked);
		return -EINVAL;
	}
	return 0;
}

enum revoke_report revoke_classify(int err)
{
	switch (err) {
	case 0:
		return REVOKE_ALLOWED;
	case -EKEYREVOKED:  /* DisabledException, KMSInvalidStateException */
	case -ENOENT:       /* NotFoundException */
	case -EACCES:       /* AccessDeniedException, credentials refused */
	case -EKEYREJECTED: /* IncorrectKeyException, InvalidCiphertext */
		return REVOKE_REVOKED;
	default: /* network, 5xx, throttling, a garbled answer: no verdict */
		return REVOKE_UNREACHABLE;
	}
}

bool revoke_judge(enum revoke_report report, double now, double *last_allowed,
		  unsigned grace, bool was)
{
	if (report == REVOKE_ALLOWED) {
		*last_allowed = now;
		return false;
	}
	if (report == REVOKE_UNREACHABLE)
		return was || now - *last_allowed > grace;
	return true;
}

/* What the KMS said, as the daemon's log line names it. */
static const char *why(int err)
{
	switch (err) {
	case EKEYREVOKED:
		return "the KMS key is disabled or not usable in its state "
		       "(DisabledException/KMSInvalidStateException)";
	case ENOENT:
		return "no such KMS key (NotFoundException)";
	case EACCES:
		return "access denied (AccessDeniedException or credentials "
		       "refused)";
	case EKEYREJECTED:
		return "the wrapped key does not match the KMS key "
		       "(IncorrectKeyException/InvalidCiphertextException)";
	default:
		return err ? strerror(err) : "no error";
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* In the child: check, wipe, report; until the control pipe closes. */
static void __attribute__((noreturn))
watch(int ctl, int out, const struct keyprov *kp, const json_t *params,
      const char *uuid, unsigned interval)
{
	uint8_t *key = secmem_alloc(KEYPROV_KEY_LEN), msg[2];

	if (!key)
		_exit(1);
	/* One line per state change comes from the daemon; the key source's
	 * own messages would repeat at every interval. */
	log_set_level(LOG_LVL_NONE);
	/* A throttled check is retried within half an interval, then counts
	 * as "unreachable" (never "revoked"): the next check is not delayed. */
	if (kms_retry_time() > interval / 2)
		kms_set_retry_time(interval / 2);
	for (;;) {
		struct pollfd p = { .fd = ctl, .events = POLLIN };
		int n = poll(&p, 1, (int)interval * 1000), r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != 0)
			break; /* the daemon closed the pipe, or is gone */
		r = keyprov_unlock(kp, params, NULL, uuid, key);
		secmem_wipe(key, KEYPROV_KEY_LEN);
		msg[0] = (uint8_t)revoke_classify(r);
		msg[1] = r < 0 && r > -256 ? (uint8_t)-r : 0;
		if (write(out, msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			break;
	}
	secmem_free(key);
	_exit(0);
}

static void set_deny(struct revoke_watch *w, bool revoked)
{
	__atomic_store_n(w->deny, revoked ? (w->o.deny_all ? EACCES : EROFS) : 0,
			 __ATOMIC_RELEASE);
}

/* The state status shows; "unreachable" only while within the grace. */
static void note(struct revoke_watch *w, enum revoke_report shown)
{
	long long now = (long long)time(NULL);

	pthread_mutex_lock(&w->state_lock);
	if (w->st.state != shown) {
		w->st.state = shown;
		w->st.since = now;
	}
	w->st.last_check = now;
	pthread_mutex_unlock(&w->state_lock);
}

void revoke_watch_state(struct revoke_watch *w, struct revoke_state *out)
{
	pthread_mutex_lock(&w->state_lock);
	*out = w->st;
	pthread_mutex_unlock(&w->state_lock);
}

/* In the daemon: turn reports into the deny value, logging each change. */
static void *reader(void *arg)
{
	struct revoke_watch *w = arg;
	const char *what = w->o.deny_all ? "every operation" : "writes";
	double last_allowed = now_s();
	bool revoked = false, unreachable = false;
	uint8_t msg[2];

	for (;;) {
		ssize_t n = read(w->rd, msg, sizeof(msg));
		bool was = revoked;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(msg) || msg[0] > REVOKE_UNREACHABLE) {
			if (__atomic_load_n(&w->stopping, __ATOMIC_ACQUIRE))
				break;
			/* Without a watcher nobody would notice a revocation:
			 * fail closed for the rest of this mount. */
			set_deny(w, true);
			pthread_mutex_lock(&w->state_lock);
			w->st.state = REVOKE_REVOKED;
			w->st.since = (long long)time(NULL);
			pthread_mutex_unlock(&w->state_lock);
			log_err("the KMS watcher stopped; %s now fail until "
				"the volume is mounted again", what);
			break;
		}
		revoked = revoke_judge(msg[0], now_s(), &last_allowed,
				       w->o.grace, was);
		note(w, revoked ? REVOKE_REVOKED : msg[0]);
		if (revoked != was) {
			set_deny(w, revoked);
			if (!revoked)
				log_warn("KMS allows the key again; %s resume",
					 what);
			else if (msg[0] == REVOKE_REVOKED)
				log_err("KMS key revoked: %s; %s now fail (%s)",
					why(msg[1]), what,
					w->o.deny_all ? "EACCES" : "EROFS");
			else
				log_err("KMS unreachable for longer than "
					"kms_grace=%us (%s): counted as revoked; "
					"%s now fail (%s)", w->o.grace,
					why(msg[1]), what,
					w->o.deny_all ? "EACCES" : "EROFS");
		} else if (!revoked && msg[0] == REVOKE_UNREACHABLE &&
			   !unreachable) {
			log_warn("KMS unreachable (%s); nothing changes for "
				 "up to kms_grace=%us", why(msg[1]), w->o.grace);
		}
		unreachable = msg[0] == REVOKE_UNREACHABLE;
	}
	return NULL;
}

int revoke_watch_start(const struct keyprov *kp, const json_t *params,
		       const char *uuid, const struct revoke_opts *o,
		       void (*forget)(void *), void *forget_arg, int *deny,
		       struct revoke_watch **out)
{
	struct revoke_watch *w = calloc(1, sizeof(*w));
	int down, up, r;
	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->o = *o;
	w->deny = deny;
	pthread_mutex_init(&w->state_lock, NULL);
	/* The mount itself just obtained the key: allowed, unchecked since. */
	w->st = (struct revoke_state){ REVOKE_ALLOWED, (long long)time(NULL), 0,
				       o->interval };
	/* The child keeps only its pipe ends: no /dev/fuse (the mount must
	 * not outlive the daemon), no volume lock, no backing files; it dies
	 * with the daemon, and not by the daemon's signal handlers. */
	w->pid = childbox_fork(SIG_DFL, &down, &up);
	if (w->pid < 0) {
		r = w->pid;
		goto err;
	}
	if (w->pid == 0) {
		/* 1. Nothing of the daemon's keys stays here. */
		if (forget)
			forget(forget_arg);
		/* 2. A KMS client needs no capability: none is kept; and
		 * only the system calls of an HTTPS client (childbox.h). */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    sandbox_drop_caps(0) || childbox_apply(CHILDBOX_KMS_CLIENT))
			_exit(1);
		watch(down, up, kp, params, uuid, o->interval);
	}
	w->ctl = down;
	w->rd = up;
	*out = w;
	return 0;
err:
	free(w);
	return r;
}

int revoke_watch_listen(struct revoke_watch *w)
{
	int r = -pthread_create(&w->thread, NULL, reader, w);

	w->listening = !r;
	return r;
}

void revoke_watch_stop(struct revoke_watch *w)
{
	if (!w)
		return;
	__atomic_store_n(&w->stopping, true, __ATOMIC_RELEASE);
	close(w->ctl); /* the child's poll() wakes up and it exits */
	if (w->listening)
		pthread_join(w->thread, NULL);
	close(w->rd);
	while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(w);
}
