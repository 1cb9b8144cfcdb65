// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's sandbox, applied by the very function the daemon calls, in
 * a forked child: calls outside the allowlist (execve, an AF_INET socket,
 * ptrace, a signal to another process, mount, setuid) fail with EPERM and
 * the process lives on; the calls serving requests need still work; the
 * status file shows no_new_privs, a seccomp filter and the reduced sets.
 * The child ends with _exit(): the sanitizers' exit-time leak check would
 * itself need ptrace. The refused execve also shows up in the kernel log
 * (audit type 1326 with its system call number), where an operator looks
 * for a legitimate call the allowlist lacks.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "log.h"
#include "sandbox.h"

/* A datagram socket made before the sandbox, not connected, and a bound
 * receiver: what sendto() with an address could reach. */
static int loose_fd = -1;
static struct sockaddr_un receiver = { .sun_family = AF_UNIX };

/* Runs in the sandboxed child: the number of the first failed check. */
static int checks(void)
{
	char prog[] = "/bin/true", buf[4096], want[64], *p;
	char *const argv[] = { prog, NULL };
	int pfd[2], fd;
	ssize_t n;

	errno = 0;
	if (execve(prog, argv, NULL) != -1 || errno != EPERM)
		return 1;
	errno = 0;
	if (socket(AF_INET, SOCK_STREAM, 0) != -1 || errno != EPERM)
		return 2;
#ifndef __SANITIZE_ADDRESS__ /* LeakSanitizer's ptrace is let through */
	errno = 0;
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != -1 || errno != EPERM)
		return 3;
#endif
	errno = 0;
	if (kill(getppid(), 0) != -1 || errno != EPERM)
		return 4;
	errno = 0;
	if (mount("none", "/mnt", "tmpfs", 0, NULL) != -1 || errno != EPERM)
		return 5;
	errno = 0;
	if (setuid(65534) != -1 || errno != EPERM)
		return 6;
	errno = 0;
	if (socket(AF_UNIX, SOCK_DGRAM, 0) != -1 || errno != EPERM)
		return 7;
	/* Sockets made before: no address given to sendto(), no sendmsg()
	 * (only the syslog connection may send, to its peer). */
	errno = 0;
	if (sendto(loose_fd, "x", 1, 0, (struct sockaddr *)&receiver,
		   sizeof(receiver)) != -1 || errno != EPERM)
		return 8;
	{
		char x[] = "x";
		struct iovec v = { x, 1 };
		struct msghdr m = { .msg_name = &receiver,
				    .msg_namelen = sizeof(receiver),
				    .msg_iov = &v, .msg_iovlen = 1 };

		errno = 0;
		if (sendmsg(loose_fd, &m, 0) != -1 || errno != EPERM)
			return 9;
	}
	/* what serving requests needs */
	if (pipe2(pfd, O_CLOEXEC) || write(pfd[1], "abc", 3) != 3 ||
	    read(pfd[0], buf, sizeof(buf)) != 3 || memcmp(buf, "abc", 3))
		return 10;
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 11;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 12;
	buf[n] = '\0';
	if (!strstr(buf, "NoNewPrivs:\t1\n") || !strstr(buf, "Seccomp:\t2\n"))
		return 13;
	if (geteuid() == 0) {
		snprintf(want, sizeof(want), "CapEff:\t%016llx\n",
			 (unsigned long long)sandbox_kept_caps());
		if (!strstr(buf, want))
			return 14;
		snprintf(want, sizeof(want), "CapBnd:\t%016llx\n",
			 (unsigned long long)sandbox_kept_caps());
		if (!strstr(buf, want))
			return 15;
	}
	p = malloc(1 << 20); /* a fresh mmap */
	if (!p)
		return 16;
	memset(p, 1, 1 << 20);
	free(p);
	return 0;
}

/*
 * Whether the kernel log holds a seccomp record for @p pid and system call
 * @p nr; -1 when this kernel does not log refused calls or the log cannot
 * be read here.
 */
static int kmsg_has(pid_t pid, int nr)
{
	char rec[8192], pids[32], nrs[32], acts[256] = "";
	int fd, found = 0;
	ssize_t n;
	FILE *f = fopen("/proc/sys/kernel/seccomp/actions_logged", "r");

	if (!f)
		return -1;
	if (!fgets(acts, sizeof(acts), f))
		acts[0] = '\0';
	fclose(f);
	if (!strstr(acts, "errno"))
		return -1;
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(pids, sizeof(pids), " pid=%d ", (int)pid);
	snprintf(nrs, sizeof(nrs), " syscall=%d ", nr);
	while ((n = read(fd, rec, sizeof(rec) - 1)) != 0) {
		if (n < 0 && errno == EPIPE)
			continue; /* records overwritten while reading */
		if (n < 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, "type=1326") && strstr(rec, pids) && strstr(rec, nrs))
			found = 1;
	}
	close(fd);
	return found;
}

START_TEST(refused_calls_are_eperm)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rx = socket(AF_UNIX, SOCK_DGRAM, 0);

		snprintf(receiver.sun_path, sizeof(receiver.sun_path),
			 "/tmp/check_sandbox.%d.sock", (int)getpid());

		loose_fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		if (rx < 0 || loose_fd < 0 ||
		    bind(rx, (struct sockaddr *)&receiver, sizeof(receiver)))
			_exit(101);
		if (sandbox_apply())
			_exit(100);
		_exit(checks());
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "sandboxed child killed by signal %d",
		      WTERMSIG(st));
	snprintf(receiver.sun_path, sizeof(receiver.sun_path),
		 "/tmp/check_sandbox.%d.sock", (int)pid);
	unlink(receiver.sun_path);
	ck_assert_msg(WEXITSTATUS(st) == 0, "check %d failed", WEXITSTATUS(st));
}
END_TEST

/*
 * One refused execve, then its record in the kernel log. The kernel
 * rate-limits these records (other processes share the budget), so a
 * missing one is retried after the rate-limit interval.
 */
START_TEST(refused_call_is_logged)
{
	char prog[] = "/bin/true";
	char *const argv[] = { prog, NULL };
	int st, logged = 0;

	for (int attempt = 0; attempt < 3 && logged == 0; attempt++) {
		pid_t pid;

		if (attempt)
			sleep(6);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			if (sandbox_apply())
				_exit(100);
			execve(prog, argv, NULL);
			_exit(errno == EPERM ? 0 : 1);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		usleep(200 * 1000); /* the audit record is written asynchronously */
		logged = kmsg_has(pid, SYS_execve);
	}
	if (logged < 0) {
		fprintf(stderr, "note: this kernel does not log refused calls "
				"where this test can read them; not checked\n");
		return;
	}
	ck_assert_msg(logged, "the refused execve is not in the kernel log");
}
END_TEST

START_TEST(kept_caps_are_the_documented_ones)
{
	/* CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID SETGID SETUID MKNOD */
	ck_assert_uint_eq(sandbox_kept_caps(), 0x80000dfull);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sandbox");

	log_set_level(LOG_LVL_NONE);
	ADD_TEST(s, refused_calls_are_eperm);
	ADD_TEST(s, refused_call_is_logged);
	ADD_TEST(s, kept_caps_are_the_documented_ones);
	return run_suite(s);
}
