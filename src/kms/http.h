/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One bounded HTTP exchange over libcurl, for the KMS and IMDS clients:
 * timeouts, a response size cap, optional SigV4 signing, and a response
 * buffer that is wiped when freed (it may hold a plaintext data key).
 */
#ifndef ATRESTFS_HTTP_H
#define ATRESTFS_HTTP_H

#include <stdbool.h>
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
 * Parse @p url with libcurl's URL parser, the one that http_do() then
 * connects with: http or https, a host, no user info, no zone id, no
 * query or fragment. @p loopback tells whether the parsed host is this
 * machine (127.0.0.0/8, ::1 or localhost), which is what decides whether
 * plain http is acceptable and whether a proxy may be used.
 * @return 0, or -EINVAL with the reason in @p why (a static string).
 */
int http_url_parse(const char *url, bool *https, bool *loopback,
		   const char **why);

/**
 * Perform @p req. @return 0 when an HTTP response arrived (any status),
 * -EHOSTUNREACH/-ETIMEDOUT/-ECONNREFUSED when none did, -EFBIG when the
 * response exceeded HTTP_MAX_RESPONSE, -EINVAL for a URL that
 * http_url_parse() refuses. A loopback or instance-metadata host is never
 * reached through a proxy (http_proxy and friends are ignored for it).
 */
int http_do(const struct http_req *req, struct http_resp *resp);

/** Wipe and free a response. */
void http_resp_free(struct http_resp *resp);

#endif
