/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One bounded HTTP exchange over libcurl, for the KMS and IMDS clients:
 * timeouts, a response size cap, optional SigV4 signing, and a response
 * buffer that is wiped when freed (it may hold a plaintext data key).
 */
#ifndef ATRESTFS_HTTP_H
#define ATRESTFS_HTTP_H

#include <stddef.h>

#define HTTP_MAX_RESPONSE (256 * 1024)

struct http_resp {
	char *body; /* NUL-terminated */
	size_t len;
	long status;
};

struct http_req {
	const char *method; /* "GET", "PUT", "POST" */
	const char *url;
	const char *const *headers; /* NULL-terminated "Name: value" list */
	const char *body;           /* or NULL */
	const char *sigv4;          /* "aws:amz:REGION:SERVICE" or NULL */
	const char *userpwd;        /* "AKID:SECRET" for SigV4 */
	long timeout_ms;
};

/**
 * Perform @p req. @return 0 when an HTTP response arrived (any status),
 * -EHOSTUNREACH/-ETIMEDOUT/-ECONNREFUSED when none did, -EFBIG when the
 * response exceeded HTTP_MAX_RESPONSE.
 */
int http_do(const struct http_req *req, struct http_resp *resp);

/** Wipe and free a response. */
void http_resp_free(struct http_resp *resp);

#endif
