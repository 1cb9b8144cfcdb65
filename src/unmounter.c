// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The unmount helper process. It is a fork of the daemon, like the KMS
 * watcher (revoke.c), and keeps only its two pipes: no /dev/fuse (the
 * connection must die with the daemon), no volume lock, no key. It has
 * CAP_SYS_ADMIN and no other capability, no_new_privs, and a filter that
 * allows reading /proc/self/mountinfo, umount2() and its pipes
 * (childbox.h). One byte asks for the unmount, one byte answers; EOF on
 * the request pipe (the daemon exited without asking, or died) ends it
 * without unmounting. SIGTERM, SIGINT and SIGHUP are ignored, since
 * "systemctl stop" signals the whole control group and the helper must
 * still be there when the daemon asks; SIGKILL of the daemon kills it
 * (PR_SET_PDEATHSIG).
 */
#include "unmounter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "childbox.h"
#include "log.h"
#include "mountinfo.h"
#include "sandbox.h"

#define ASK 'U'
#define ANSWER_TIMEOUT_MS 5000

enum answer { UNMOUNTED = 0, NOT_OURS = 1, FAILED = 2 };

struct unmounter {
	pid_t pid;
	int req; /* write end: ASK, or closed */
	int ans; /* read end: enum answer, errno */
};

static void __attribute__((noreturn))
helper(int req, int ans, const struct mountinfo_entry *ours)
{
	struct mountinfo_entry *now = malloc(sizeof(*now));
	uint8_t msg[2] = { NOT_OURS, 0 };
	char c;
	ssize_t n;

	do
		n = read(req, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || c != ASK || !now)
		_exit(0); /* no request: never unmount */
	/* Exactly our mount, still on top at that path: the same FUSE
	 * connection (device number) and type. Otherwise the unmount would
	 * hit whatever was mounted there since. */
	if (mountinfo_top(ours->mnt, now) == 1 && mountinfo_is_atrestfs(now) &&
	    now->major == ours->major && now->minor == ours->minor) {
		if (umount2(ours->mnt, MNT_DETACH | UMOUNT_NOFOLLOW)) {
			msg[0] = FAILED;
			msg[1] = (uint8_t)(errno < 256 ? errno : EIO);
		} else {
			msg[0] = UNMOUNTED;
		}
	}
	if (write(ans, msg, sizeof(msg)) < 0)
		_exit(1);
	_exit(0);
}

int unmounter_start(const char *mnt, struct unmounter **out)
{
	struct mountinfo_entry *me = malloc(sizeof(*me));
	struct unmounter *u = calloc(1, sizeof(*u));
	int down, up, r;

	*out = NULL;
	if (!me || !u) {
		r = -ENOMEM;
		goto err;
	}
	r = mountinfo_top(mnt, me);
	if (r <= 0 || !mountinfo_is_atrestfs(me)) {
		r = r < 0 ? r : -ENOENT;
		goto err;
	}
	/* Nothing but its pipe ends; dies with the daemon; survives the
	 * stop signals ("systemctl stop" signals the whole control group,
	 * and the daemon asks afterwards). */
	u->pid = childbox_fork(SIG_IGN, &down, &up);
	if (u->pid < 0) {
		r = u->pid;
		goto err;
	}
	if (u->pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		/* CAP_SYS_ADMIN alone, no new privileges, its filter. */
		if (sandbox_drop_caps(1ull << CAP_SYS_ADMIN) ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    childbox_apply(CHILDBOX_UNMOUNTER))
			_exit(1);
		helper(down, up, me);
	}
	u->req = down;
	u->ans = up;
	free(me);
	*out = u;
	return 0;
err:
	free(me);
	free(u);
	return r;
}

int unmounter_finish(struct unmounter *u)
{
	struct pollfd p;
	uint8_t msg[2] = { FAILED, EIO };
	char c = ASK;
	int r = -EIO;

	if (!u)
		return -ENOENT;
	p = (struct pollfd){ .fd = u->ans, .events = POLLIN };
	if (write(u->req, &c, 1) == 1 && poll(&p, 1, ANSWER_TIMEOUT_MS) == 1 &&
	    read(u->ans, msg, sizeof(msg)) == (ssize_t)sizeof(msg))
		r = msg[0] == UNMOUNTED ? 0
		    : msg[0] == NOT_OURS ? -ENOENT
					 : -(int)(msg[1] ? msg[1] : EIO);
	close(u->req);
	close(u->ans);
	if (r == -EIO || msg[0] == FAILED)
		log_err("the unmount helper could not unmount: %s",
			strerror(-r));
	while (waitpid(u->pid, NULL, 0) < 0 && errno == EINTR)
		;
	free(u);
	return r;
}
