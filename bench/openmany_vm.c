// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Many files open at once, for bench/openmany_vm.sh (runs inside its VM as
 * root, linked static: the VM has no libc of its own but the daemon's):
 *
 *   openmany_vm --create DIR N UID [FIRST]
 *   openmany_vm DIR N UID DAEMON_PID [CHECKPOINT...]
 *
 * The first form drops to UID and creates DIR/f0000000.. (N empty files,
 * or those from number FIRST on; the host does this step natively, where
 * it is 20-50 times faster than under emulation). In the second, a child process that drops to UID (all
 * of root's groups and capabilities gone, as an application would be)
 * opens all N read-write and holds them, writes one byte through each,
 * reads it back through each after the page cache was dropped (so every
 * read reaches the daemon and its per-file key), and closes them. The
 * parent stays root: at each step, and at CHECKPOINT open files while the
 * opens go on (default: N/10 and N/2), it reads the daemon's VmRSS, VmHWM,
 * VmLck, thread count (/proc/PID/status), its descriptors (/proc/PID/fd)
 * and mappings (/proc/PID/maps), which an unprivileged process may not. It
 * drops the kernel's caches where a step needs them cold (sync first, so
 * nothing dirty stays behind).
 *
 * Output, TSV on stdout, each line after $OPENMANY_PREFIX when set, as it
 * is measured: "mem STEP OPEN RSS_KIB HWM_KIB VMLCK_KIB FDS MAPS THREADS"
 * per measurement, "time METRIC VALUE UNIT" per timed step, "fail STEP
 * COUNT ERRNO"; progress and errors on stderr. Exit status 0 only when
 * every file was created or opened, written, read back with the right
 * byte and closed and the daemon is still alive; else 1 (the step, the
 * count reached and the errno are printed).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHECKPOINTS 16

static pid_t daemon_pid;
static const char *prefix = ""; /* before every stdout line */

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("openmany_vm: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A numeric field of /proc/PID/status ("VmRSS:  1234 kB"), -1 if absent. */
static long status_field(const char *field)
{
	char path[64], line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)daemon_pid);
	f = fopen(path, "r");
	if (!f)
		die("cannot read %s: %s (did the daemon die?)", path, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static long count_fds(void)
{
	char path[64];
	struct dirent *e;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)daemon_pid);
	d = opendir(path);
	if (!d)
		die("cannot list %s: %s", path, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static long count_maps(void)
{
	char path[64];
	long n = 0;
	FILE *f;
	int c;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)daemon_pid);
	f = fopen(path, "r");
	if (!f)
		die("cannot read %s: %s", path, strerror(errno));
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void drop_caches(const char *what)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, what, strlen(what)) < 0)
		die("cannot drop caches: %s", strerror(errno));
	close(fd);
	/* FORGET and RELEASE reach the daemon asynchronously */
	sleep(1);
}

static void measure(const char *step, long open_files)
{
	if (kill(daemon_pid, 0))
		die("the daemon (PID %d) is gone at step %s", (int)daemon_pid, step);
	printf("%smem\t%s\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\n", prefix,
	       step, open_files,
	       status_field("VmRSS"), status_field("VmHWM"),
	       status_field("VmLck"), count_fds(), count_maps(),
	       status_field("Threads"));
	fflush(stdout);
	fprintf(stderr, "openmany_vm: %s, %ld open\n", step, open_files);
}

/* --- the unprivileged child ---------------------------------------------- */

static int to_parent = -1, from_parent = -1;

/* Ask the parent to measure (and maybe drop caches) and wait for it. */
static void point(const char *step, long open_files)
{
	char line[96], ack;
	int n = snprintf(line, sizeof(line), "%s %ld\n", step, open_files);

	if (write(to_parent, line, n) != n || read(from_parent, &ack, 1) != 1)
		_exit(1);
}

static void report_time(const char *metric, double seconds, long n)
{
	char line[128];
	int len = snprintf(line, sizeof(line), "time %s %.3f %.1f\n", metric,
			   seconds, n ? seconds * 1e6 / n : 0.0);

	if (write(to_parent, line, len) != len)
		_exit(1);
}

static void fail_step(const char *step, long reached, int err)
{
	char line[160];
	int len = snprintf(line, sizeof(line), "fail %s %ld %s\n", step,
			   reached, strerrorname_np(err) ? strerrorname_np(err) : "?");

	if (write(to_parent, line, len) < 0)
		_exit(1);
	_exit(1);
}

/* Progress on stderr every tenth of @p n (a step can take many minutes
 * under software emulation). */
static void progress(const char *step, long done, long n)
{
	if (n >= 10 && done % (n / 10) == 0)
		fprintf(stderr, "openmany_vm: %s %ld of %ld\n", step, done, n);
}

/* Drop root for good: no groups, no capabilities, UID alone. */
static void become(uid_t uid)
{
	if (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
	    setresuid(uid, uid, uid) || geteuid() == 0)
		fail_step("setuid", 0, errno ? errno : EPERM);
}

/* The --create form: files @p first to @p n - 1, empty, closed again. */
static int create_files(const char *dir, long first, long n, uid_t uid)
{
	char path[4096];
	double t0;
	long i;

	to_parent = STDOUT_FILENO;
	become(uid);
	t0 = now();
	for (i = first; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%07ld", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (fd < 0)
			fail_step("create", i, errno);
		close(fd);
		progress("created", i + 1, n);
	}
	report_time("create", now() - t0, n - first);
	return 0;
}

static void child(const char *dir, long n, uid_t uid, const long *cps, int ncps)
{
	char path[4096];
	double t0, paused, seg_t0;
	long i, seg_first = 0;
	int *fds;
	int c;

	become(uid);
	fds = calloc(n, sizeof(*fds));
	if (!fds)
		fail_step("calloc", 0, ENOMEM);

	/* 1. From a daemon without cached inodes: the parent drops them. */
	point("start", 0);

	/* 2. Open them all, measured at the checkpoints (not timed). */
	paused = 0;
	c = 0;
	t0 = seg_t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%07ld", dir, i);
		fds[i] = open(path, O_RDWR | O_CLOEXEC);
		if (fds[i] < 0)
			fail_step("open", i, errno);
		progress("opened", i + 1, n);
		if ((c < ncps && i + 1 == cps[c]) || i + 1 == n) {
			double p0 = now();
			char seg[64];

			/* the cost per open between checkpoints: flat or not */
			snprintf(seg, sizeof(seg), "open_%ld_to_%ld", seg_first, i + 1);
			report_time(seg, p0 - seg_t0, i + 1 - seg_first);
			if (i + 1 < n)
				point("opening", i + 1);
			paused += now() - p0;
			seg_first = i + 1;
			seg_t0 = now();
			c += c < ncps && i + 1 == cps[c];
		}
	}
	report_time("open", now() - t0 - paused, n);
	point("opened", n);

	/* 3. One byte through each descriptor. */
	t0 = now();
	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)(i * 7 + 1);

		if (pwrite(fds[i], &b, 1, 0) != 1)
			fail_step("write", i, errno ? errno : EIO);
		progress("written", i + 1, n);
	}
	report_time("write", now() - t0, n);

	/* 4. The parent writes it back and drops the page cache: the reads
	 * below go to the daemon, which decrypts with each file's key. */
	point("written", n);
	t0 = now();
	for (i = 0; i < n; i++) {
		unsigned char b;
		ssize_t r = pread(fds[i], &b, 1, 0);

		if (r != 1)
			fail_step("read", i, r < 0 ? errno : EIO);
		if (b != (unsigned char)(i * 7 + 1))
			fail_step("read_compare", i, EILSEQ);
		progress("read", i + 1, n);
	}
	report_time("read", now() - t0, n);
	point("read", n);

	/* 5. Close them all. */
	t0 = now();
	for (i = 0; i < n; i++)
		if (close(fds[i]))
			fail_step("close", i, errno);
	report_time("close", now() - t0, n);
	point("closed", 0);
	_exit(0);
}

/* --- the root parent ----------------------------------------------------- */

int main(int argc, char **argv)
{
	long n, cps[MAX_CHECKPOINTS];
	int up[2], down[2], ncps = 0, status, ok = 0;
	struct rlimit rl;
	char line[256];
	uid_t uid;
	pid_t kid;
	FILE *in;

	if (getenv("OPENMANY_PREFIX"))
		prefix = getenv("OPENMANY_PREFIX");
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "--create")) {
		long first = argc == 6 ? strtol(argv[5], NULL, 10) : 0;

		n = strtol(argv[3], NULL, 10);
		uid = (uid_t)strtoul(argv[4], NULL, 10);
		if (n <= 0 || uid == 0 || first < 0 || first >= n)
			die("N must be > 0, UID not 0, 0 <= FIRST < N");
		return create_files(argv[2], first, n, uid);
	}
	if (argc < 5)
		die("usage: openmany_vm --create DIR N UID [FIRST] | "
		    "openmany_vm DIR N UID DAEMON_PID [CHECKPOINT...]");
	n = strtol(argv[2], NULL, 10);
	uid = (uid_t)strtoul(argv[3], NULL, 10);
	daemon_pid = (pid_t)strtol(argv[4], NULL, 10);
	if (n <= 0 || uid == 0 || daemon_pid <= 0)
		die("N must be > 0, UID not 0, DAEMON_PID a PID");
	for (int a = 5; a < argc && ncps < MAX_CHECKPOINTS; a++)
		cps[ncps++] = strtol(argv[a], NULL, 10);
	if (argc == 5) {
		cps[ncps++] = n / 10;
		cps[ncps++] = n / 2;
	}
	/* The child keeps this after it drops root (it could not raise it). */
	rl.rlim_cur = rl.rlim_max = (rlim_t)n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("cannot raise RLIMIT_NOFILE to %ld: %s", n + 64, strerror(errno));
	if (pipe(up) || pipe(down))
		die("pipe: %s", strerror(errno));
	measure("mounted", 0);
	kid = fork();
	if (kid < 0)
		die("fork: %s", strerror(errno));
	if (kid == 0) {
		close(up[0]);
		close(down[1]);
		to_parent = up[1];
		from_parent = down[0];
		child(argv[1], n, uid, cps, ncps);
	}
	close(up[1]);
	close(down[0]);
	in = fdopen(up[0], "r");
	while (fgets(line, sizeof(line), in)) {
		char a[64], b[64], c[64], d[64];
		int k = sscanf(line, "%63s %63s %63s %63s", a, b, c, d);

		if (k == 4 && !strcmp(a, "time")) {
			printf("%stime\t%s_s\t%s\ts\n", prefix, b, c);
			printf("%stime\t%s_us_per_file\t%s\tus\n", prefix, b, d);
			fflush(stdout);
			fprintf(stderr, "openmany_vm: %s took %s s (%s us per file)\n",
				b, c, d);
			continue;
		}
		if (k == 4 && !strcmp(a, "fail")) {
			fprintf(stderr, "openmany_vm: %s failed after %s files: %s\n",
				b, c, d);
			printf("%sfail\t%s\t%s\t%s\n", prefix, b, c, d);
			fflush(stdout);
			continue;
		}
		if (k == 2) {
			long open_files = strtol(b, NULL, 10);

			if (!strcmp(a, "start"))
				drop_caches("3");
			else if (!strcmp(a, "written"))
				drop_caches("1");
			else if (!strcmp(a, "closed"))
				sleep(1);
			measure(a, open_files);
			if (!strcmp(a, "closed")) {
				/* what stays with the inodes the kernel keeps */
				drop_caches("2");
				measure("forgotten", 0);
				ok = 1;
			}
			if (write(down[1], "", 1) != 1)
				die("the child is gone");
			continue;
		}
		fprintf(stderr, "openmany_vm: unexpected line from the child: %s", line);
	}
	if (waitpid(kid, &status, 0) != kid)
		die("waitpid: %s", strerror(errno));
	if (kill(daemon_pid, 0))
		die("the daemon (PID %d) is gone", (int)daemon_pid);
	if (!ok || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the unprivileged opener failed (status 0x%x)", status);
	return 0;
}
