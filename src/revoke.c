// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The revocation watcher. Like the unlock child (unlock.c) it is a fork(),
 * not a helper binary, and the daemon never holds an HTTP client or a KMS
 * answer: the child makes the same Decrypt call a mount makes, wipes the
 * key it gets at once and writes two bytes per check, the report and the
 * errno behind it (for the log line). It must be forked before the sandbox,
 * which forbids sockets; it dies with the daemon (PR_SET_PDEATHSIG) and
 * exits when the daemon closes its control pipe at unmount.
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
			log_err("the KMS watcher stopped; %s now fail until "
				"the volume is mounted again", what);
			break;
		}
		revoked = revoke_judge(msg[0], now_s(), &last_allowed,
				       w->o.grace, was);
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
	int ctl[2] = { -1, -1 }, rep[2] = { -1, -1 }, r;
	pid_t parent = getpid();

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->o = *o;
	w->deny = deny;
	if (pipe2(ctl, O_CLOEXEC) || pipe2(rep, O_CLOEXEC)) {
		r = -errno;
		goto err;
	}
	fflush(NULL); /* nothing buffered is written twice */
	w->pid = fork();
	if (w->pid < 0) {
		r = -errno;
		goto err;
	}
	if (w->pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		/* 1. Die with the daemon, and not by its signal handlers. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGHUP, &dfl, NULL);
		/* 2. Keep only the two pipes: no /dev/fuse (the mount must
		 * not outlive the daemon), no volume lock, no backing files. */
		{
			int lo = ctl[0] < rep[1] ? ctl[0] : rep[1];
			int hi = ctl[0] < rep[1] ? rep[1] : ctl[0];

			if (lo > 3)
				close_range(3, (unsigned)lo - 1, 0);
			if (hi > lo + 1)
				close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
			close_range((unsigned)hi + 1, ~0U, 0);
		}
		/* 3. Nothing of the daemon's keys stays here. */
		if (forget)
			forget(forget_arg);
		/* 4. A KMS client needs no capability: none is kept. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || sandbox_drop_caps(0))
			_exit(1);
		watch(ctl[0], rep[1], kp, params, uuid, o->interval);
	}
	close(ctl[0]);
	close(rep[1]);
	w->ctl = ctl[1];
	w->rd = rep[0];
	*out = w;
	return 0;
err:
	for (int i = 0; i < 2; i++) {
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (rep[i] >= 0)
			close(rep[i]);
	}
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
