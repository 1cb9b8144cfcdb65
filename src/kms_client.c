// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * KMS client. Requests are signed by libcurl's SigV4 (CURLOPT_AWS_SIGV4),
 * which was checked against botocore's signing with a signature-checking
 * KMS. Responses are hostile input: size-capped (http.c), parsed with
 * jansson, and every error shape KMS or a proxy can send maps to a message.
 */
#include "kms_client.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "http.h"
#include "log.h"
#include "secmem.h"

#define TIMEOUT_MS 10000     /* one request, at most */
#define MIN_TIMEOUT_MS 2000  /* one request, at least (even past the bound) */
#define BACKOFF_BASE_MS 100  /* the first retry waits up to this */
#define BACKOFF_CAP_MS 10000 /* no single wait is longer */

/* Process-wide: set from the mount option before the unlock child is
 * forked, so the child (and the revocation watcher) inherit it. */
static unsigned retry_time_s = KMS_RETRY_TIME_DEFAULT;

/*
 * jansson allocator that wipes on free: the plaintext data key passes
 * through jansson's buffers when a Decrypt response is parsed. Blocks come
 * from plain malloc(), so text from json_dumps() is still free()able.
 */
static void wipe_free(void *p)
{
	if (!p)
		return;
	secmem_wipe(p, malloc_usable_size(p));
	free(p);
}

void kms_install_json_allocator(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}

bool kms_region_ok(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > 32)
		return false;
	for (; *r; r++)
		if (!islower((unsigned char)*r) && !isdigit((unsigned char)*r) &&
		    *r != '-')
			return false;
	return true;
}

/*
 * A Decrypt answer carries the data key: plain http is for a KMS on this
 * machine only (tests, a local proxy), everything else must be https. The
 * URL is judged on libcurl's own parse of it (http.c), the one the request
 * is then made with.
 */
int kms_endpoint_check(const char *e)
{
	const char *why = NULL;
	bool https = false, loopback = false;

	if (strlen(e) >= sizeof(((struct kms_target *)0)->endpoint)) {
		log_err("invalid KMS endpoint: longer than %zu characters",
			sizeof(((struct kms_target *)0)->endpoint) - 1);
		return -EINVAL;
	}
	if (http_url_parse(e, &https, &loopback, &why)) {
		log_err("invalid KMS endpoint \"%.80s\": %s; expected "
			"http(s)://HOST[:PORT][/PATH]", LOG_ESC(e), why);
		return -EINVAL;
	}
	if (!https && !loopback) {
		log_err("KMS endpoint \"%.80s\": plain http is only "
			"allowed to this machine (127.0.0.0/8, ::1, "
			"localhost); use https", LOG_ESC(e));
		return -EINVAL;
	}
	return 0;
}

int kms_target_endpoint(struct kms_target *t, const char *recorded)
{
	const char *e = recorded && *recorded ? recorded : getenv("AWS_ENDPOINT_URL_KMS");

	if (!kms_region_ok(t->region)) {
		log_err("invalid AWS region \"%.40s\"", LOG_ESC(t->region));
		return -EINVAL;
	}
	if (!e || !*e)
		e = getenv("AWS_ENDPOINT_URL");
	if (e && *e) {
		if (kms_endpoint_check(e))
			return -EINVAL;
		snprintf(t->endpoint, sizeof(t->endpoint), "%s", e);
		return 0;
	}
	snprintf(t->endpoint, sizeof(t->endpoint), "https://kms.%s.amazonaws.com/",
		 t->region);
	return 0;
}

static void xml_field(const char *body, const char *tag, char *out, size_t n)
{
	char open[32], close[32];
	const char *a, *b;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	a = strstr(body, open);
	b = a ? strstr(a, close) : NULL;
	if (a && b)
		snprintf(out, n, "%.*s", (int)(b - a - strlen(open)), a + strlen(open));
}

/* Text from the wire goes into log lines: printable ASCII only. */
static void printable(char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			*s = '?';
}

static const struct {
	const char *type;
	int err;
	const char *hint;
} known[] = {
	{ "AccessDeniedException", -EACCES, "this node's credentials may not use the key (check the key policy and IAM)" },
	{ "DisabledException", -EKEYREVOKED, "the KMS key is disabled" },
	{ "KMSInvalidStateException", -EKEYREVOKED, "the KMS key is not usable in its current state (pending deletion or import?)" },
	{ "NotFoundException", -ENOENT, "no such KMS key or alias" },
	{ "InvalidCiphertextException", -EKEYREJECTED, "the wrapped key or its encryption context does not match (config edited, or another volume's?)" },
	{ "IncorrectKeyException", -EKEYREJECTED, "the wrapped key was made under another KMS key" },
	{ "InvalidKeyUsageException", -EINVAL, "the KMS key cannot make data keys (asymmetric or HMAC key?)" },
	{ "ThrottlingException", -EAGAIN, "KMS is throttling requests" },
	{ "UnrecognizedClientException", -EACCES, "the access key is not known" },
	{ "InvalidClientTokenId", -EACCES, "the access key or session token is not valid" },
	{ "SignatureDoesNotMatch", -EACCES, "the secret access key is wrong" },
	{ "ExpiredTokenException", -EACCES, "the session token has expired" },
	{ "KMSInternalException", -EAGAIN, "KMS internal error" },
	{ "DependencyTimeoutException", -EAGAIN, "KMS dependency timeout" },
	{ "ValidationException", -EINVAL, "KMS rejected the request" },
};

int kms_error(long status, const char *body, char *msg, size_t n)
{
	char type[128] = "", text[512] = "", excerpt[65];
	json_t *o = json_loads(body, 0, NULL);
	const char *h;

	if (o && json_is_object(o)) {
		json_t *t = json_object_get(o, "__type");
		json_t *m = json_object_get(o, "message");
		if (!m)
			m = json_object_get(o, "Message");
		if (json_is_string(t))
			snprintf(type, sizeof(type), "%s", json_string_value(t));
		if (json_is_string(m))
			snprintf(text, sizeof(text), "%s", json_string_value(m));
	} else if (strstr(body, "<Code>")) {
		xml_field(body, "Code", type, sizeof(type));
		xml_field(body, "Message", text, sizeof(text));
	}
	json_decref(o);
	/* "com.amazonaws.kms#DisabledException" -> "DisabledException" */
	h = strrchr(type, '#');
	if (h)
		memmove(type, h + 1, strlen(h + 1) + 1);
	/* "DisabledException:http://internal.amazon.com/..." -> the name */
	type[strcspn(type, ":")] = '\0';
	printable(type);
	printable(text);
	snprintf(excerpt, sizeof(excerpt), "%s", body);
	printable(excerpt);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(type, known[i].type)) {
			snprintf(msg, n, "%s (%s%s%s)", known[i].hint, type,
				 *text ? ": " : "", text);
			return known[i].err;
		}
	if (status == 429) { /* a proxy's rate limit: KMS's own says Throttling */
		snprintf(msg, n, "too many requests (HTTP 429%s%s)",
			 *type ? ", " : "", type);
		return -EAGAIN;
	}
	if (status >= 500) {
		snprintf(msg, n, "KMS server error (HTTP %ld%s%s)", status,
			 *type ? ", " : "", type);
		return -EAGAIN;
	}
	snprintf(msg, n, "unexpected KMS response (HTTP %ld%s%s)", status,
		 *type ? ", " : ", body: ", *type ? type : excerpt);
	return -EPROTO;
}

int kms_retry_time_parse(const char *v, unsigned *seconds)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (!*v || *end || *v < '0' || *v > '9' || errno ||
	    n > KMS_RETRY_TIME_MAX) {
		fprintf(stderr, "atrestfs: kms_retry_time=%s: expected a whole "
				"number of seconds from 0 to %d\n", v,
			KMS_RETRY_TIME_MAX);
		return -EINVAL;
	}
	*seconds = (unsigned)n;
	return 0;
}

void kms_set_retry_time(unsigned seconds)
{
	retry_time_s = seconds;
}

unsigned kms_retry_time(void)
{
	return retry_time_s;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/*
 * "Full jitter" (the backoff AWS recommends for its APIs): a uniformly
 * random wait between 0 and min(cap, base * 2^attempt). Nodes that were
 * throttled together spread out instead of coming back in step, and a
 * rate-limited KMS sees about the load it can serve.
 */
static long jitter_ms(int attempt)
{
	long ceil = BACKOFF_BASE_MS;
	uint32_t r = 0;

	for (int i = 0; i < attempt && ceil < BACKOFF_CAP_MS; i++)
		ceil *= 2;
	if (ceil > BACKOFF_CAP_MS)
		ceil = BACKOFF_CAP_MS;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)now_ms() * 2654435761u; /* never fails in practice */
	return (long)(r % (uint32_t)(ceil + 1));
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Worth asking again: throttling, 5xx, the endpoint not answering. */
static bool transient(int rc)
{
	return rc == -EAGAIN || rc == -ETIMEDOUT || rc == -ECONNREFUSED ||
	       rc == -EHOSTUNREACH;
}

int kms_call(const struct kms_target *t, const char *action, json_t *req,
	     json_t **resp)
{
	char target_hdr[96], token_hdr[4200], sigv4[128], msg[800] = "";
	char *userpwd = secmem_alloc(512), *body = json_dumps(req, JSON_COMPACT);
	const char *hdrs[4] = { "Content-Type: application/x-amz-json-1.1",
				target_hdr, NULL, NULL };
	struct http_req hr = { .method = "POST", .url = t->endpoint,
			       .headers = hdrs, .body = body, .sigv4 = sigv4,
			       .userpwd = userpwd };
	struct http_resp r;
	long start = now_ms(), deadline = start + retry_time_s * 1000L, left;
	int rc = -EIO, attempt;

	*resp = NULL;
	if (!userpwd || !body) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(target_hdr, sizeof(target_hdr), "X-Amz-Target: TrentService.%s", action);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:kms", t->region);
	snprintf(userpwd, 512, "%s:%s", t->creds->akid, t->creds->secret);
	if (t->creds->token[0]) {
		snprintf(token_hdr, sizeof(token_hdr), "X-Amz-Security-Token: %s",
			 t->creds->token);
		hdrs[2] = token_hdr;
	}
	/*
	 * Transient failures are retried with jittered backoff until
	 * kms_retry_time has passed; the last request may run past it by
	 * its own timeout (at least MIN_TIMEOUT_MS). Anything else (denied,
	 * disabled, not found, a wrong ciphertext...) is final at once: asking
	 * again would only add load to a KMS that has answered.
	 */
	for (attempt = 0;; attempt++) {
		left = deadline - now_ms();
		hr.timeout_ms = left > TIMEOUT_MS ? TIMEOUT_MS
			      : left < MIN_TIMEOUT_MS ? MIN_TIMEOUT_MS : left;
		rc = http_do(&hr, &r);
		if (rc == -EFBIG) {
			log_err("KMS %s: response larger than %d bytes: refused",
				action, HTTP_MAX_RESPONSE);
			goto out;
		}
		if (rc) {
			snprintf(msg, sizeof(msg), "endpoint %s unreachable (%s)",
				 t->endpoint, strerror(-rc));
		} else if (r.status == 200) {
			*resp = json_loads(r.body, 0, NULL);
			http_resp_free(&r);
			if (!*resp || !json_is_object(*resp)) {
				json_decref(*resp);
				*resp = NULL;
				log_err("KMS %s: the response is not a JSON object",
					action);
				rc = -EPROTO;
				goto out;
			}
			if (attempt)
				log_info("KMS %s: answered after %d attempts in "
					 "%.1f s", action, attempt + 1,
					 (double)(now_ms() - start) / 1000);
			goto out;
		} else {
			rc = kms_error(r.status, r.body, msg, sizeof(msg));
			http_resp_free(&r);
		}
		if (!transient(rc)) {
			log_err("KMS %s failed: %s", action, msg);
			goto out;
		}
		left = deadline - now_ms();
		if (left <= 0)
			break;
		/* One line when the trouble starts, one when it ends. */
		if (!attempt)
			log_warn("KMS %s: %s, retrying for up to %u s "
				 "(kms_retry_time)", action, msg, retry_time_s);
		{
			long wait = jitter_ms(attempt);

			sleep_ms(wait < left ? wait : left);
		}
	}
	log_err("KMS %s: giving up after %d attempt%s in %.1f s "
		"(kms_retry_time=%u): %s", action, attempt + 1,
		attempt ? "s" : "", (double)(now_ms() - start) / 1000,
		retry_time_s, msg);
out:
	secmem_wipe(token_hdr, sizeof(token_hdr));
	secmem_free(userpwd);
	free(body);
	return rc;
}
