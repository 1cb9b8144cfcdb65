// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's sandbox. What stays allowed is what the FUSE request paths,
 * libfuse's multithreaded loop, OpenSSL, glibc and syslog need once the
 * volume is mounted; everything else (exec, network sockets, ptrace,
 * mount, module loading, setuid and friends, kill of other processes, ...)
 * returns EPERM. EPERM rather than killing the process: a call nobody
 * foresaw (a new glibc using another variant of a call) then fails one
 * request instead of taking the mount down with it.
 *
 * The steps run in this order so that a failure leaves nothing half done
 * until the point of no return: 1. build the filter, 2. drop capabilities
 * (bounding, ambient, then the thread's sets), 3. no_new_privs, 4. load
 * the filter on all threads. The syslog connection was made before, by
 * log_daemon_prepare(): the filter lets the daemon send on it and nothing
 * else (no socket(), no connect(), no address given to sendto()).
 */
#include "sandbox.h"

#include <errno.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define CAP_BIT(c) (1ull << (c))

/*
 * Kept: what creating, chown/chmod/utimens, reading and writing other
 * users' files under a root 0700 VOLUME needs (the kernel has already
 * checked the caller's permissions under default_permissions), device
 * nodes (mknod), and the per-thread caller identity (setfsuid/setfsgid,
 * capset on the worker thread). setuid/setgid proper are not in the
 * allowlist, so CAP_SETUID/CAP_SETGID serve only setfsuid/setfsgid.
 */
static const int kept[] = { CAP_CHOWN,	       CAP_DAC_OVERRIDE,
			    CAP_DAC_READ_SEARCH, CAP_FOWNER,
			    CAP_FSETID,	       CAP_MKNOD,
			    CAP_SETUID,	       CAP_SETGID };

uint64_t sandbox_kept_caps(void)
{
	uint64_t m = 0;

	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		m |= CAP_BIT(kept[i]);
	return m;
}

/* Allowed whatever their arguments. */
static const char *const allowed[] = {
	/* file data and metadata, the FUSE operations */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "lseek", "_llseek", "fsync",
	"fdatasync", "fallocate", "ftruncate", "truncate", "open", "openat",
	"close", "dup", "dup2", "dup3", "fcntl", "flock", "fstat", "stat",
	"lstat", "newfstatat", "statx", "fstatfs", "statfs", "getdents",
	"getdents64",
	"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename",
	"renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
	"readlink", "readlinkat", "mknod", "mknodat", "chmod", "fchmod",
	"fchmodat", "chown", "fchown", "fchownat", "lchown", "utimensat",
	"access", "faccessat", "faccessat2", "getxattr", "lgetxattr",
	"fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
	"llistxattr", "flistxattr", "removexattr", "lremovexattr",
	"fremovexattr", "copy_file_range", "splice", "tee", "vmsplice",
	"pipe2", "umask", "poll", "ppoll",
	/* memory: allocator, thread stacks, secmem (mlock, MADV_DONTDUMP) */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mlock",
	"mlock2", "munlock",
	/* threads of the session loop, and their exit */
	"clone", "clone3", "futex", "set_robust_list", "rseq", "gettid",
	/* reaping the daemon's own child, the KMS watcher (revoke.h) */
	"wait4",
	"set_tid_address", "exit", "exit_group", "sched_yield",
	"restart_syscall", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"sigaltstack", "nanosleep", "clock_nanosleep", "clock_gettime",
	"gettimeofday", "getrandom", "getpid", "sched_getaffinity",
	/* the caller identity of a worker thread */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
	"setfsuid", "setfsgid", "capget", "capset",
	/* unmount at exit */
	"umount2",
};

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif

#ifdef SANDBOX_ASAN
/*
 * AddressSanitizer builds (tests only, never shipped): LeakSanitizer checks
 * for leaks at exit from a helper thread that ptrace-attaches to the
 * others, after making the process dumpable again.
 */
static const char *const asan_allowed[] = { "ptrace", "prctl",
					    "getppid" };
#endif

/* The status socket (status.h), or -1; set before sandbox_apply(). */
static int accept_fd = -1;

void sandbox_allow_accept(int fd)
{
	accept_fd = fd;
}

int sandbox_allow_all(void *filter, const char *const *names, size_t n)
{
	scmp_filter_ctx f = filter;

	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int r;

		if (nr == __NR_SCMP_ERROR)
			continue; /* not a system call on this architecture */
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
		if (r)
			return r;
	}
	return 0;
}

static int build(scmp_filter_ctx *out)
{
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int r = 0;

	if (!f)
		return -ENOMEM;
	/* A binary tree of the allowed calls: a few comparisons per call. */
	seccomp_attr_set(f, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	/* Refused calls show up in the kernel log (audit type 1326, which
	 * the kernel rate-limits): what to add if one was legitimate. */
	seccomp_attr_set(f, SCMP_FLTATR_CTL_LOG, 1);
	r = sandbox_allow_all(f, allowed, sizeof(allowed) / sizeof(allowed[0]));
#ifdef SANDBOX_ASAN
	if (!r)
		r = sandbox_allow_all(f, asan_allowed,
			      sizeof(asan_allowed) / sizeof(asan_allowed[0]));
#endif
	if (r)
		goto out;
	/* Signals to this process's own threads only (thread cancellation,
	 * abort()); never to another process. */
	r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (!r)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	/* send() on the syslog connection (log.c): that socket only, and to
	 * its connected peer only (no destination address). */
	if (!r && log_syslog_fd() >= 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 2,
				     SCMP_A0(SCMP_CMP_EQ,
					     (scmp_datum_t)log_syslog_fd()),
				     SCMP_A4(SCMP_CMP_EQ, 0));
	/* The status channel: accepting on its one socket, and asking who
	 * the peer is; nothing else of the socket API. */
	if (!r && accept_fd >= 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(accept4), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)accept_fd));
	if (!r && accept_fd >= 0)
		r = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(getsockopt), 2,
				     SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET),
				     SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED));
out:
	if (r) {
		seccomp_release(f);
		return r;
	}
	*out = f;
	return 0;
}

int sandbox_drop_caps(uint64_t keep)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	uint64_t perm;

	if (syscall(SYS_capget, &h, d))
		return -errno;
	perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	/* The bounding set needs CAP_SETPCAP, so it goes first. */
	if (perm & CAP_BIT(CAP_SETPCAP)) {
		for (int c = 0; c <= CAP_LAST_CAP; c++)
			if (!(keep & CAP_BIT(c)) &&
			    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) && errno != EINVAL)
				return -errno;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	keep &= perm;
	memset(d, 0, sizeof(d));
	d[0].permitted = d[0].effective = (uint32_t)keep;
	d[1].permitted = d[1].effective = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d))
		return -errno;
	return 0;
}

int sandbox_apply(void)
{
	scmp_filter_ctx f = NULL;
	int r;

	/* 1. The filter, while nothing is applied yet. */
	r = build(&f);
	if (r) {
		log_err("cannot build the seccomp filter: %s", strerror(-r));
		return r;
	}
	/* 2. Capabilities. */
	r = sandbox_drop_caps(sandbox_kept_caps());
	if (r) {
		log_err("cannot drop capabilities: %s", strerror(-r));
		goto out;
	}
	/* 3. Nothing exec'd later could gain privileges (and seccomp
	 * without CAP_SYS_ADMIN requires it). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		r = -errno;
		log_err("cannot set no_new_privs: %s", strerror(-r));
		goto out;
	}
	/* 4. The filter, on every thread of the process. */
	r = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = seccomp_load(f);
	if (r)
		log_err("cannot load the seccomp filter: %s", strerror(-r));
out:
	seccomp_release(f);
	return r;
}
