/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging. Every message of atrestfs goes through these macros: to stderr
 * while the process has a terminal (before daemonizing); after it, to
 * syslog when /dev/log was there at mount, else to the standard error the
 * mount was started with (kept open across daemonizing: under systemd it
 * is the journal). Arguments are not evaluated when the level is disabled,
 * so debug lines in the FUSE path cost one branch. Each call site is its
 * own rate-limited class once the daemon serves (log_serve()). Never pass
 * key material to them.
 */
#ifndef ATRESTFS_LOG_H
#define ATRESTFS_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_NONE = -1, LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DBG };

extern enum log_level log_threshold;

/**
 * A token bucket, one per call site (the macros below make it): LOG_BURST
 * lines at once, then one per LOG_REFILL_S seconds; what is held back is
 * counted and reported in one line ("N similar messages suppressed") when
 * the site may log again, or at log_flush(). Zero-initialised statics.
 */
struct log_limit {
	double tokens, last;
	unsigned long suppressed;
	const char *fmt;
	bool used, listed;
	struct log_limit *next; /* sites with suppressed lines, for log_flush */
};

#define LOG_BURST 10
#define LOG_REFILL_S 6.0

/** Route messages to syslog (true, after daemonizing) or stderr (false).
 *  With true, log_daemon_prepare() must have run. */
void log_use_syslog(bool on);

/** Silence everything below @p lvl (unit tests silence expected errors). */
void log_set_level(enum log_level lvl);

/** Every line from now on names volume @p uuid (NULL: none). */
void log_set_volume(const char *uuid);

/**
 * Before daemonizing (and before the sandbox, which forbids new sockets):
 * connect to /dev/log when it is there and keep a copy of stderr when it
 * leads anywhere and may be held (not /dev/null, not a pipe: its reader
 * would wait for the daemon's exit). When neither will hold the daemon's
 * lines, or only a terminal will, say so on stderr now.
 * @param foreground the daemon keeps its stderr (-f): syslog is not used.
 * @return whether any destination is left.
 */
bool log_daemon_prepare(bool foreground);

/** From now on the daemon serves: rate limiting per call site applies. */
void log_serve(void);

/** Report the suppressed counts still pending (at unmount). */
void log_flush(void);

/** The fd of the syslog connection, -1 without (for the sandbox's rules). */
int log_syslog_fd(void);

void log_printf(struct log_limit *lim, enum log_level lvl, const char *fmt,
		...) __attribute__((format(printf, 3, 4)));

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

/** One audit line (always, whatever the threshold): mount outcome. To
 *  syslog (authpriv), else to stderr: never nowhere while either exists. */
void log_audit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_at(lvl, ...)                                                       \
	do {                                                                   \
		static struct log_limit log_site_;                             \
		if ((lvl) <= log_threshold)                                    \
			log_printf(&log_site_, (lvl), __VA_ARGS__);            \
	} while (0)
#define log_err(...) log_at(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_dbg(...) log_at(LOG_LVL_DBG, __VA_ARGS__)

#endif
