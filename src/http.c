// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libcurl, used the same way for every call: no proxy for loopback
 * endpoints, TLS verification with the system CA store (libcurl's default)
 * for https, bounded connect and total time, and a response cap so that a
 * hostile endpoint cannot make the mount eat memory.
 */
#include "http.h"

#include <errno.h>
#include <malloc.h>
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

int http_do(const struct http_req *req, struct http_resp *resp)
{
	static int global_done;
	struct curl_slist *hdrs = NULL;
	struct sink sink = { resp, 0 };
	CURLcode cc;
	CURL *c;
	int r = 0;

	memset(resp, 0, sizeof(*resp));
	if (!global_done) {
		curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, w_free,
				     w_realloc, w_strdup, calloc);
		global_done = 1;
	}
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	for (const char *const *h = req->headers; h && *h; h++)
		hdrs = curl_slist_append(hdrs, *h);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 req->timeout_ms < 3000 ? req->timeout_ms : 3000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	if (!strncmp(req->url, "http://127.", 11) ||
	    !strncmp(req->url, "http://localhost", 16) ||
	    !strncmp(req->url, "http://169.254.169.254", 22))
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
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
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
