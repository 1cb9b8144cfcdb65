// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging backend: stderr before daemonizing, syslog after. The audit line
 * goes to syslog in both cases so that each mount attempt leaves a trace on
 * the node, the local counterpart of the KMS's own audit log. Strings
 * from a volume config are attacker-chosen: log_esc() keeps them from
 * forging lines or driving a terminal.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

enum log_level log_threshold = LOG_LVL_INFO;
static bool to_syslog;

void log_use_syslog(bool on)
{
	to_syslog = on;
	if (on)
		openlog("atrestfs", LOG_PID, LOG_DAEMON);
}

void log_set_level(enum log_level lvl)
{
	log_threshold = lvl;
}

void log_printf(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	va_list ap;

	va_start(ap, fmt);
	if (to_syslog) {
		vsyslog(prio[lvl], fmt, ap);
	} else {
		fputs("atrestfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

void log_audit(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	openlog("atrestfs", LOG_PID, LOG_AUTHPRIV);
	vsyslog(LOG_NOTICE, fmt, ap);
	va_end(ap);
	if (!to_syslog)
		closelog();
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

const char *log_fd_path(int fd, char *buf, size_t n)
{
	char path[64];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = readlink(path, buf, n - 1);
	if (len < 0)
		len = 0;
	buf[len] = '\0';
	return buf;
}
