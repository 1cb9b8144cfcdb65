// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The helper processes' filters. As in the daemon's (sandbox.c), a call
 * outside the list fails with EPERM and is logged by the kernel (audit
 * type 1326), rather than killing: for the KMS watcher a refused call
 * means a failed check, which counts as "unreachable" and after the grace
 * as revoked, so it still fails closed.
 *
 * The KMS watcher needs what libcurl, OpenSSL and glibc's resolver need
 * for one HTTPS request: files (CA bundle, credentials, resolv.conf,
 * nsswitch), IPv4/IPv6 sockets (and AF_UNIX for a local resolver or
 * nscd), threads (curl's threaded resolver), time and randomness. Not
 * allowed: exec, mount, ptrace, kill of other processes, writes to files
 * other than its pipes (open for writing fails: O_WRONLY/O_RDWR/O_CREAT),
 * and everything else.
 */
#include "childbox.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Both children: memory, exit, signals' return, time, pipes. */
static const char *const base[] = {
	"read", "write", "readv", "writev", "close", "brk", "mmap", "munmap",
	"mremap", "mprotect", "madvise", "exit", "exit_group",
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "restart_syscall",
	"clock_gettime", "gettimeofday", "nanosleep", "clock_nanosleep",
	"getpid", "gettid", "poll", "ppoll", "fstat", "newfstatat", "statx",
	"lseek", "futex",
};

static const char *const kms_client[] = {
	/* files, read only (the open flags are checked below) */
	"stat", "lstat", "access", "faccessat", "faccessat2", "readlink",
	"readlinkat", "getdents64", "pread64", "fcntl", "dup", "dup2", "dup3",
	/* the HTTPS request */
	"connect", "getsockopt", "setsockopt", "getsockname", "getpeername",
	"sendto", "sendmsg", "sendmmsg", "recvfrom", "recvmsg", "recvmmsg",
	"bind", "shutdown", "socketpair", "pipe2", "eventfd2", "epoll_create1",
	"epoll_ctl", "epoll_wait", "epoll_pwait", "select", "pselect6",
	/* curl's resolver thread */
	"clone", "clone3", "set_robust_list", "rseq", "sched_yield",
	"sched_getaffinity", "sigaltstack", "set_tid_address",
	/* identity and randomness: credentials lookups, TLS */
	"getuid", "geteuid", "getgid", "getegid", "getrandom", "uname",
	"sysinfo", "prlimit64", "getrlimit", "mlock", "munlock",
	"mlock2",
};

static const char *const unmounter[] = { "umount2" };

static int kms_rules(scmp_filter_ctx f)
{
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	int r = 0;

	for (size_t i = 0; !r && i < N(families); i++)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ,
					     (scmp_datum_t)families[i]));
	/* Opening for reading only: O_ACCMODE and O_CREAT bits clear. */
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ,
					     O_ACCMODE | O_CREAT | O_TRUNC, 0));
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
				     SCMP_A1(SCMP_CMP_MASKED_EQ,
					     O_ACCMODE | O_CREAT | O_TRUNC, 0));
	/* Non-blocking sockets and "how much is there to read". */
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, FIONBIO));
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     SCMP_A1(SCMP_CMP_EQ, FIONREAD));
	/* Signals to itself only (abort, thread cancellation). */
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (!r)
		r = sandbox_allow_all(f, kms_client, N(kms_client));
	return r;
}

static int unmounter_rules(scmp_filter_ctx f)
{
	/* /proc/self/mountinfo, read only. */
	int r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				 SCMP_A2(SCMP_CMP_MASKED_EQ,
					 O_ACCMODE | O_CREAT | O_TRUNC, 0));

	if (!r)
		r = sandbox_allow_all(f, unmounter, N(unmounter));
	return r;
}

int childbox_apply(enum childbox_kind kind)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r;

	if (!f)
		return -ENOMEM;
	seccomp_attr_set(f, SCMP_FLTATR_CTL_LOG, 1);
	r = sandbox_allow_all(f, base, N(base));
	if (!r)
		r = kind == CHILDBOX_KMS_CLIENT ? kms_rules(f)
						: unmounter_rules(f);
	if (!r)
		r = seccomp_load(f);
	seccomp_release(f);
	return r;
}

int childbox_fork(void (*stop_signals)(int), int *down, int *up)
{
	struct sigaction sa = { .sa_handler = stop_signals };
	int d[2] = { -1, -1 }, u[2] = { -1, -1 }, lo, hi, r;
	pid_t parent = getpid(), pid;

	if (pipe2(d, O_CLOEXEC) || pipe2(u, O_CLOEXEC)) {
		r = -errno;
		goto err;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		goto err;
	}
	if (pid > 0) {
		close(d[0]);
		close(u[1]);
		*down = d[1];
		*up = u[0];
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0); /* the parent died before the line above */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	lo = d[0] < u[1] ? d[0] : u[1];
	hi = d[0] < u[1] ? u[1] : d[0];
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0U, 0);
	*down = d[0];
	*up = u[1];
	return 0;
err:
	for (int i = 0; i < 2; i++) {
		if (d[i] >= 0)
			close(d[i]);
		if (u[i] >= 0)
			close(u[i]);
	}
	return r;
}
