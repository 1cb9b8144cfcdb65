// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging backend. Before daemonizing, lines go to stderr. The daemon logs
 * to syslog when /dev/log was there at mount, else to the stderr it was
 * started with, kept open on a descriptor of its own (libfuse points 0-2
 * at /dev/null when it daemonizes; under systemd that stderr is the
 * journal). The syslog socket is connected here, before the sandbox
 * forbids socket() and connect(): when syslogd restarts, that connection
 * is dead for good, so the line and every later one go to the kept stderr
 * instead (one note says so). The daemon never reconnects: it keeps
 * CAP_DAC_OVERRIDE, and a connect() the sandbox allowed could reach any
 * local socket. The audit line goes to syslog (authpriv) in every mode,
 * to stderr where there is no syslog.
 *
 * While the daemon serves, every call site is a class of its own with a
 * token bucket (log.h), so a flood (a tampered block read in a loop) gives
 * a bounded number of lines and a count of the rest. Strings from a volume
 * config are attacker-chosen: log_esc() keeps them from forging lines or
 * driving a terminal.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 2048
#define DEV_LOG "/dev/log"

enum log_level log_threshold = LOG_LVL_INFO;

/* All protected by lock (one line at a time, whole). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool daemonized;	     /* after fuse_daemonize: not our terminal */
static bool limiting;	     /* log_serve() */
static int sys_fd = -1;	     /* connected to /dev/log */
static bool sys_lost;	     /* a send failed for good: syslogd went away */
static int err_fd = -1;	     /* the mount's stderr, kept for the daemon */
static bool err_stamp;	     /* err_fd is not the journal: lines get a time */
static char volume[64];	     /* "volume UUID: " or "" */
static struct log_limit *pending; /* sites that have suppressed lines */

void log_use_syslog(bool on)
{
	pthread_mutex_lock(&lock);
	daemonized = on;
	pthread_mutex_unlock(&lock);
}

void log_set_level(enum log_level lvl)
{
	log_threshold = lvl;
}

void log_set_volume(const char *uuid)
{
	char esc[48];

	pthread_mutex_lock(&lock);
	if (uuid)
		snprintf(volume, sizeof(volume), "volume %s: ",
			 log_esc(uuid, esc, sizeof(esc)));
	else
		volume[0] = '\0';
	pthread_mutex_unlock(&lock);
}

int log_syslog_fd(void)
{
	return sys_fd;
}

static int connect_devlog(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = DEV_LOG };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Whether fd 2 is systemd's journal stream: systemd names it in
 * JOURNAL_STREAM ("DEV:INODE"), and the journal stamps each line itself.
 */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && !fstat(2, &st) &&
	       (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

/* fd 2: closed or /dev/null (nowhere), a pipe, or anything else. */
enum err_kind { ERR_NOWHERE, ERR_PIPE, ERR_KEEPABLE };

static enum err_kind stderr_kind(void)
{
	struct stat st;

	if (fstat(2, &st) ||
	    (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)))
		return ERR_NOWHERE;
	return S_ISFIFO(st.st_mode) ? ERR_PIPE : ERR_KEEPABLE;
}

bool log_daemon_prepare(bool foreground)
{
	enum err_kind kind = stderr_kind();
	bool tty = kind == ERR_KEEPABLE && isatty(2), any;

	tzset(); /* the syslog timestamps: /etc/localtime read now */
	pthread_mutex_lock(&lock);
	/*
	 * A pipe is not kept: whoever reads it to its end (out=$(mount ...),
	 * a subprocess with captured output) would wait for the daemon's
	 * exit. Files, terminals and sockets (the journal's stream) are.
	 */
	if (!foreground) {
		if (sys_fd < 0)
			sys_fd = connect_devlog();
		if (kind == ERR_KEEPABLE && err_fd < 0) {
			err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
			err_stamp = !stderr_is_journal();
		}
	}
	any = foreground ? kind != ERR_NOWHERE : sys_fd >= 0 || err_fd >= 0;
	pthread_mutex_unlock(&lock);
	if (!any)
		fprintf(stderr, "atrestfs: warning: %sthe daemon cannot log "
				"anywhere: no syslog (" DEV_LOG ") and standard "
				"error %s; its messages (failed authentication "
				"included) are lost\n", volume,
			kind == ERR_PIPE ? "is a pipe (not kept: it would hold "
					   "up whoever reads it to its end)"
					 : "leads nowhere");
	else if (!foreground && sys_fd < 0 && tty)
		fprintf(stderr, "atrestfs: warning: %sno syslog (" DEV_LOG
				"): the daemon logs to this terminal, and its "
				"messages are lost once the terminal is gone; "
				"mount from a systemd unit (the journal) or run a "
				"syslog daemon\n", volume);
	return any;
}

void log_serve(void)
{
	pthread_mutex_lock(&lock);
	limiting = true;
	pthread_mutex_unlock(&lock);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One whole line to stderr: the kept one once daemonized. Under lock. */
static void to_stderr(const char *tag, const char *msg)
{
	char line[LINE_MAX_LEN + 64];
	int fd = daemonized ? err_fd : 2;
	int n;

	if (fd < 0)
		return;
	if (daemonized) {
		char ts[32] = "";

		/* A file of the daemon's lines needs their times; the
		 * journal has its own. */
		if (err_stamp) {
			time_t now = time(NULL);
			struct tm tm;

			gmtime_r(&now, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ ", &tm);
		}
		n = snprintf(line, sizeof(line), "%satrestfs[%d]: %s%s\n", ts,
			     (int)getpid(), tag, msg);
	} else
		n = snprintf(line, sizeof(line), "atrestfs: %s%s\n", tag, msg);
	if (n >= (int)sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(fd, line, (size_t)n) < 0) {
		/* nowhere left to say it */
	}
}

/* Send one record to syslog; false when it did not go. Under lock. */
static bool to_syslog(int prio, const char *msg)
{
	char rec[LINE_MAX_LEN + 128], ts[32];
	struct tm tm;
	time_t now = time(NULL);
	int n, e;

	if (sys_fd < 0 || sys_lost)
		return false;
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%b %e %T", &tm);
	n = snprintf(rec, sizeof(rec), "<%d>%s atrestfs[%d]: %s", prio, ts,
		     (int)getpid(), msg);
	if (n >= (int)sizeof(rec))
		n = (int)sizeof(rec) - 1;
	/* Never blocks a FUSE thread: a full syslog costs this line a
	 * detour to stderr, not the request its latency. */
	if (send(sys_fd, rec, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
		return true;
	e = errno;
	if (e == EAGAIN || e == ENOBUFS || e == EINTR)
		return false;
	sys_lost = true;
	{
		char note[256];

		snprintf(note, sizeof(note), "syslog went away (%s): this "
			 "daemon's messages go to its standard error from now "
			 "on", strerror(e));
		to_stderr(volume, note);
	}
	return false;
}

/* One message, after the volume prefix, to where this process logs.
 * Under lock. */
static void vemit(int prio, const char *fmt, va_list ap)
{
	char line[LINE_MAX_LEN];
	size_t p = strlen(volume);

	memcpy(line, volume, p);
	vsnprintf(line + p, sizeof(line) - p, fmt, ap);
	if (daemonized && to_syslog(LOG_DAEMON | prio, line))
		return;
	to_stderr("", line);
}

static void emit_fmt(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void emit_fmt(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vemit(prio, fmt, ap);
	va_end(ap);
}

static void report_suppressed(struct log_limit *lim)
{
	emit_fmt(LOG_WARNING, "%lu similar message%s suppressed: \"%s\"",
		 lim->suppressed, lim->suppressed == 1 ? "" : "s",
		 LOG_ESC(lim->fmt));
	lim->suppressed = 0;
}

/* Whether @p lim lets one more line through now. Under lock. */
static bool admit(struct log_limit *lim, const char *fmt)
{
	double now = mono();

	if (!lim->used) {
		lim->used = true;
		lim->tokens = LOG_BURST;
		lim->last = now;
		lim->fmt = fmt;
	}
	lim->tokens += (now - lim->last) / LOG_REFILL_S;
	if (lim->tokens > LOG_BURST)
		lim->tokens = LOG_BURST;
	lim->last = now;
	if (lim->tokens < 1) {
		lim->suppressed++;
		if (!lim->listed) {
			lim->listed = true;
			lim->next = pending;
			pending = lim;
		}
		return false;
	}
	lim->tokens -= 1;
	if (lim->suppressed)
		report_suppressed(lim);
	return true;
}

void log_printf(struct log_limit *lim, enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	va_list ap;

	pthread_mutex_lock(&lock);
	if (!limiting || !lim || admit(lim, fmt)) {
		va_start(ap, fmt);
		vemit(prio[lvl], fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&lock);
}

void log_flush(void)
{
	pthread_mutex_lock(&lock);
	for (struct log_limit *l = pending; l; l = l->next)
		if (l->suppressed)
			report_suppressed(l);
	pthread_mutex_unlock(&lock);
}

void log_audit(const char *fmt, ...)
{
	char msg[LINE_MAX_LEN];
	va_list ap;
	bool sent;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&lock);
	if (sys_fd >= 0 || daemonized) {
		sent = to_syslog(LOG_AUTHPRIV | LOG_NOTICE, msg);
	} else {
		/* A mount refused before log_daemon_prepare(): a connection
		 * for this one line. */
		sys_fd = connect_devlog();
		sent = to_syslog(LOG_AUTHPRIV | LOG_NOTICE, msg);
		if (sys_fd >= 0)
			close(sys_fd);
		sys_fd = -1;
		sys_lost = false;
	}
	if (!sent)
		to_stderr("audit: ", msg);
	pthread_mutex_unlock(&lock);
}

const char *log_esc(const char *s, char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!s)
		s = "(null)";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[5];
		size_t k;

		if (c == '\\' || c == '"') {
			e[0] = '\\';
			e[1] = (char)c;
			k = 2;
		} else if (c < 0x20 || c >= 0x7f) {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			k = 4;
		} else {
			e[0] = (char)c;
			k = 1;
		}
		if (o + k + 4 > n) { /* room for "..." and the NUL */
			if (n >= 4) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, e, k);
		o += k;
	}
	if (n)
		buf[o < n ? o : n - 1] = '\0';
	return buf;
}
