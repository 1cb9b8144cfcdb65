// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Logging backend: stderr before daemonizing, syslog after. The audit line
 * goes to syslog in both cases so that each mount attempt leaves a trace on
 * the node, the local counterpart of the KMS's own audit log.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

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
