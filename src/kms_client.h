/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The AWS KMS JSON API: one signed call with bounded retries, and every
 * KMS error turned into one clear message and an errno.
 */
#ifndef ATRESTFS_KMS_CLIENT_H
#define ATRESTFS_KMS_CLIENT_H

#include <jansson.h>
#include <stdbool.h>

#include "aws_creds.h"

struct kms_target {
	char region[64];
	char endpoint[512]; /* full URL */
	const struct aws_creds *creds;
};

/** @return whether @p r looks like an AWS region name (a-z, 0-9, '-'). */
bool kms_region_ok(const char *r);

/**
 * Check an endpoint URL: http(s), visible ASCII, and plain http only to
 * this machine (a Decrypt answer carries the data key).
 * @return 0 or -EINVAL (logged).
 */
int kms_endpoint_check(const char *url);

/**
 * Fill @p t's endpoint: @p recorded (from the config or --kms-endpoint),
 * else AWS_ENDPOINT_URL_KMS, else AWS_ENDPOINT_URL, else the regional
 * https endpoint. @return 0 or -EINVAL for a malformed region or URL.
 */
int kms_target_endpoint(struct kms_target *t, const char *recorded);

/** Default and largest kms_retry_time, in seconds. */
#define KMS_RETRY_TIME_DEFAULT 60
#define KMS_RETRY_TIME_MAX 3600

/**
 * Parse a kms_retry_time value (whole seconds, 0 to KMS_RETRY_TIME_MAX).
 * @return 0, or -EINVAL after a message on stderr.
 */
int kms_retry_time_parse(const char *v, unsigned *seconds);

/** How long kms_call() keeps retrying transient failures (process-wide;
 *  a forked child inherits it). 0: one attempt. */
void kms_set_retry_time(unsigned seconds);
unsigned kms_retry_time(void);

/**
 * Call @p action (e.g. "Decrypt") with request @p req; @p resp gets the
 * parsed JSON object on success. Throttling, 5xx and an endpoint that does
 * not answer are retried with full-jitter exponential backoff for up to
 * kms_retry_time seconds; other errors are returned at once.
 * @return 0 or a negative errno after logging the reason (-EAGAIN: still
 * throttled or failing when the time was up).
 */
int kms_call(const struct kms_target *t, const char *action, json_t *req,
	     json_t **resp);

/**
 * The message for a KMS error response body (JSON "__type"/"message", or
 * the XML <Code>/<Message> that signature failures come as). Exposed for
 * the unit tests. @return a negative errno.
 */
int kms_error(long status, const char *body, char *msg, size_t n);

/**
 * Make jansson wipe every block it frees. Process-wide: call it first thing
 * in main(), before any JSON value exists.
 */
void kms_install_json_allocator(void);

#endif
