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
#include <stddef.h>

enum log_level { LOG_LVL_NONE = -1, LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DBG };

extern enum log_level log_threshold;

/** Route messages to syslog (true, after daemonizing) or stderr (false). */
void log_use_syslog(bool on);

/** Silence everything below @p lvl (unit tests silence expected errors). */
void log_set_level(enum log_level lvl);

void log_printf(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define LOG_ESC_MAX 512

/**
 * Make @p s safe to print on one line of a terminal or a log: control
 * bytes, DEL, bytes >= 0x80 (C1 controls and anything not ASCII),
 * backslash and '"' become \xNN, \\ or \"; output longer than @p n - 1
 * is cut and ends in "...". Every string that comes from a volume config
 * or another untrusted place goes through it before it is printed.
 * @return @p buf. NULL prints as "(null)".
 */
const char *log_esc(const char *s, char *buf, size_t n);

/** log_esc() into a temporary that lives until the end of the statement's
 *  enclosing block: printf("%s", LOG_ESC(x)). */
#define LOG_ESC(s) log_esc((s), (char[LOG_ESC_MAX]){ 0 }, LOG_ESC_MAX)

/**
 * The backing path of open fd @p fd into @p buf (@p n bytes), for
 * messages; empty when /proc cannot tell. @return @p buf.
 */
const char *log_fd_path(int fd, char *buf, size_t n);

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
