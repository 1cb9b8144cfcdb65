/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Optional key revocation while mounted (kms volumes, -o kms_recheck=N).
 * A watcher child, forked before the daemon sandboxes itself, asks the key
 * source for the volume key again at each interval, wipes the answer at
 * once and reports only a verdict; the daemon turns the verdicts into the
 * one value fs_ops.c reads (struct atr_fs.deny).
 */
#ifndef ATRESTFS_REVOKE_H
#define ATRESTFS_REVOKE_H

#include <stdbool.h>

#include <jansson.h>

#include "keyprov.h"

#define REVOKE_MAX_SECONDS 86400
#define REVOKE_GRACE_INTERVALS 3 /* the default kms_grace, in intervals */

/** What one check found. */
enum revoke_report {
	REVOKE_ALLOWED = 0,
	REVOKE_REVOKED = 1,     /* the KMS said no: disabled, denied, gone */
	REVOKE_UNREACHABLE = 2, /* no verdict: network, 5xx, throttling */
};

struct revoke_opts {
	unsigned interval; /* seconds; 0: off */
	unsigned grace;    /* seconds */
	bool deny_all;     /* kms_revoked=deny_all */
};

/**
 * Parse the mount options (each may be NULL: not given). Prints the
 * reason for a bad value. @return 0 or -EINVAL.
 */
int revoke_parse_opts(const char *recheck, const char *grace,
		      const char *revoked, struct revoke_opts *o);

/** The report for a key source's return value (0 or a negative errno). */
enum revoke_report revoke_classify(int err);

/**
 * Whether the volume counts as revoked after @p report at time @p now
 * (seconds, monotonic), given the previous verdict @p was. "Unreachable"
 * keeps the previous verdict until @p grace seconds have passed since the
 * last "allowed" (@p last_allowed, updated here).
 */
bool revoke_judge(enum revoke_report report, double now, double *last_allowed,
		  unsigned grace, bool was);

struct revoke_watch;

/**
 * Fork the watcher. Call it in the daemon after daemonizing and before
 * sandbox_apply() (the sandbox forbids the sockets the child needs).
 * @param forget run in the child first thing (wipes what it inherited)
 * @param deny the daemon's value to set: 0, EROFS or (deny_all) EACCES
 * @return 0 or a negative errno
 */
int revoke_watch_start(const struct keyprov *kp, const json_t *params,
		       const char *uuid, const struct revoke_opts *o,
		       void (*forget)(void *), void *forget_arg, int *deny,
		       struct revoke_watch **out);

/**
 * Start the daemon's thread that reads the watcher's reports. Call it
 * after sandbox_apply(), so that the thread is sandboxed as well (the
 * capability drop is per thread). @return 0 or a negative errno
 */
int revoke_watch_listen(struct revoke_watch *w);

/** What `atrestfs status` shows of a watched mount. */
struct revoke_state {
	enum revoke_report state; /* REVOKE_UNREACHABLE: within the grace */
	long long since;	  /* wall clock, seconds: state began */
	long long last_check;	  /* wall clock of the last report; 0: none */
	unsigned interval;	  /* kms_recheck */
};

/** The watcher's state as the daemon judges it now. */
void revoke_watch_state(struct revoke_watch *w, struct revoke_state *out);

/** Stop the watcher, join the thread and reap the child (NULL: no-op). */
void revoke_watch_stop(struct revoke_watch *w);

#endif
