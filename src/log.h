/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging. Every message of atrestfs goes through these macros: to stderr
 * while the process has a terminal (before daemonizing), to syslog after.
 * Arguments are not evaluated when the level is disabled, so debug lines in
 * the FUSE path cost one branch. Never pass key material to them.
 */
#ifndef ATRESTFS_LOG_H
#define ATRESTFS_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_NONE = -1, LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DBG };

extern enum log_level log_threshold;

/** Route messages to syslog (true, after daemonizing) or stderr (false). */
void log_use_syslog(bool on);

/** Silence everything below @p lvl (unit tests silence expected errors). */
void log_set_level(enum log_level lvl);

void log_printf(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** One audit line to syslog (always, whatever the threshold): mount outcome. */
void log_audit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_at(lvl, ...)                                                       \
	do {                                                                   \
		if ((lvl) <= log_threshold)                                    \
			log_printf((lvl), __VA_ARGS__);                        \
	} while (0)
#define log_err(...) log_at(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_dbg(...) log_at(LOG_LVL_DBG, __VA_ARGS__)

#endif
