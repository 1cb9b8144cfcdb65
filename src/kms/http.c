// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libcurl, used the same way for every call: the URL parsed once by
 * libcurl's URL API and checked on what that parse yields (the host curl
 * will connect to, not a prefix of the string), no proxy for loopback
 * endpoints, TLS verification with the system CA store (libcurl's default)
 * for https, bounded connect and total time, and a response cap so that a
 * hostile endpoint cannot make the mount eat memory.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "secmem.h"

/*
 * libcurl's own buffers see the response (a plaintext data key in base64)
 * and its copy of the secret access key: give it an allocator that wipes
 * every block it frees. libcurl is used by this file only.
 */
static void w_free(void *p)
{
	if (!p)
		return;
	secmem_wipe(p, malloc_usable_size(p));
	free(p);
}

static void *w_realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (!p)
		return malloc(n);
	q = malloc(n ? n : 1);
	if (!q)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	w_free(p);
	return q;
}

static char *w_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

/* Before any other libcurl call, the URL parser included. */
static void global_init(void)
{
	static int done;

	if (!done) {
		curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, w_free,
				     w_realloc, w_strdup, calloc);
		done = 1;
	}
}

struct sink {
	struct http_resp *resp;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;
	struct http_resp *r = s->resp;
	size_t len = size * n;
	char *nb;

	if (r->len + len > HTTP_MAX_RESPONSE) {
		s->too_big = 1;
		return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	nb = malloc(r->len + len + 1);
	if (!nb)
		return 0;
	if (r->body) {
		memcpy(nb, r->body, r->len);
		secmem_wipe(r->body, r->len);
		free(r->body);
	}
	memcpy(nb + r->len, p, len);
	r->len += len;
	nb[r->len] = '\0';
	r->body = nb;
	return len;
}

/* The parsed host: "127.x.y.z" (curl normalizes 127.1 and 0x7f.1 to it),
 * "[::1]", or a name; only "localhost" counts among names. */
static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || n >= sizeof(buf) || host[0] != '[' || host[n - 1] != ']')
		return false;
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* The instance metadata service is link-local: never via a proxy either. */
static bool host_is_imds(const char *host)
{
	return !strcmp(host, "169.254.169.254") || !strcmp(host, "[fd00:ec2::254]");
}

/* @return whether @p part of @p u is present (and not empty). */
static bool has_part(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	bool present = curl_url_get(u, part, &v, 0) == CURLUE_OK && v && *v;

	curl_free(v);
	return present;
}

/* Parse into @p u and check; on success *host is curl's (curl_free it). */
static int url_parse(CURLU *u, const char *url, bool *https, char **host,
		     const char **why)
{
	char *scheme = NULL;
	int r = -EINVAL;

	*host = NULL;
	for (const char *p = url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f) {
			*why = "not visible ASCII";
			return -EINVAL;
		}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		*why = "not a URL";
		return -EINVAL;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		*why = "not an http(s) URL";
		goto out;
	}
	*https = !strcmp(scheme, "https");
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
	    has_part(u, CURLUPART_OPTIONS) || strchr(url, '@')) {
		*why = "user info (\"user@\") is not allowed";
		goto out;
	}
	if (has_part(u, CURLUPART_ZONEID)) {
		*why = "an IPv6 zone id is not allowed";
		goto out;
	}
	if (has_part(u, CURLUPART_QUERY) || has_part(u, CURLUPART_FRAGMENT)) {
		*why = "a query or fragment is not allowed";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, host, 0) != CURLUE_OK || !**host) {
		*why = "no host";
		goto out;
	}
	r = 0;
out:
	if (r) {
		curl_free(*host);
		*host = NULL;
	}
	curl_free(scheme);
	return r;
}

int http_url_parse(const char *url, bool *https, bool *loopback,
		   const char **why)
{
	char *host;
	CURLU *u;
	int r;

	global_init();
	u = curl_url();
	if (!u) {
		*why = "out of memory";
		return -ENOMEM;
	}
	r = url_parse(u, url, https, &host, why);
	if (!r)
		*loopback = host_is_loopback(host);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

int http_do(const struct http_req *req, struct http_resp *resp)
{
	struct curl_slist *hdrs = NULL;
	struct sink sink = { resp, 0 };
	const char *why;
	char *host = NULL;
	bool https;
	CURLcode cc;
	CURLU *u;
	CURL *c;
	int r = 0;

	memset(resp, 0, sizeof(*resp));
	global_init();
	u = curl_url();
	c = curl_easy_init();
	if (!u || !c) {
		r = -ENOMEM;
		goto out;
	}
	/* curl connects with this very parse: what was checked is what is
	 * contacted. */
	r = url_parse(u, req->url, &https, &host, &why);
	if (r)
		goto out;
	(void)https; /* the caller's policy (kms_endpoint_check) */
	for (const char *const *h = req->headers; h && *h; h++)
		hdrs = curl_slist_append(hdrs, *h);
	curl_easy_setopt(c, CURLOPT_CURLU, u);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 req->timeout_ms < 3000 ? req->timeout_ms : 3000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	if (host_is_loopback(host) || host_is_imds(host))
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (req->body || strcmp(req->method, "GET")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
	if (req->sigv4) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, req->sigv4);
		curl_easy_setopt(c, CURLOPT_USERPWD, req->userpwd);
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	} else if (cc == CURLE_WRITE_ERROR && sink.too_big) {
		r = -EFBIG;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		r = -ETIMEDOUT;
	} else if (cc == CURLE_COULDNT_CONNECT) {
		r = -ECONNREFUSED;
	} else {
		r = -EHOSTUNREACH;
	}
	if (!resp->body && !r) {
		resp->body = calloc(1, 1);
		if (!resp->body)
			r = -ENOMEM;
	}
out:
	curl_free(host);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	curl_url_cleanup(u);
	if (r)
		http_resp_free(resp);
	return r;
}

void http_resp_free(struct http_resp *resp)
{
	if (resp->body) {
		secmem_wipe(resp->body, resp->len);
		free(resp->body);
	}
	memset(resp, 0, sizeof(*resp));
}
