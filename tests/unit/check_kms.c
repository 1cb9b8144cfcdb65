// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The KMS key source's parsers, on hostile input: the AWS shared-file INI
 * reader, the KMS error decoder (JSON, XML, garbage, truncated), endpoint
 * and region checks, and the strict validation of the config's kms object.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "aws_creds.h"
#include "keyprov.h"
#include "kms_client.h"
#include "log.h"

/*
 * A one-thread HTTP server on 127.0.0.1 that answers the Nth request with
 * the Nth canned response (the last one repeats) and keeps every request,
 * so the provider's response parsing, retries and request signing can be
 * checked without a KMS.
 */
struct canned {
	int status;
	const char *body;
};

#define MAX_REQS 8
static struct {
	int fd, port;
	pthread_t th;
	const struct canned *resp;
	size_t nresp, served;
	char req[MAX_REQS][8192];
	char url[64];
} srv;

static void serve_one(int c)
{
	char buf[8192], hdr[256], *end, *cl;
	const struct canned *k;
	size_t got = 0, want;
	ssize_t n;

	while (got < sizeof(buf) - 1) {
		n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			return;
		got += n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (!end)
			continue;
		cl = strcasestr(buf, "Content-Length:");
		want = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
		if (got >= want)
			break;
	}
	if (srv.served < MAX_REQS)
		memcpy(srv.req[srv.served], buf, got + 1);
	k = &srv.resp[srv.served < srv.nresp ? srv.served : srv.nresp - 1];
	srv.served++;
	snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d X\r\nContent-Type: "
		 "application/x-amz-json-1.1\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n", k->status, strlen(k->body));
	send(c, hdr, strlen(hdr), MSG_NOSIGNAL);
	send(c, k->body, strlen(k->body), MSG_NOSIGNAL);
}

static void *server(void *unused)
{
	int c;

	(void)unused;
	while ((c = accept(srv.fd, NULL, NULL)) >= 0) {
		serve_one(c);
		close(c);
	}
	return NULL;
}

static void serve(const struct canned *resp, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(srv.req, 0, sizeof(srv.req));
	srv.resp = resp;
	srv.nresp = n;
	srv.served = 0;
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(srv.fd, 0);
	ck_assert_int_eq(bind(srv.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(srv.fd, 8), 0);
	getsockname(srv.fd, (struct sockaddr *)&a, &len);
	srv.port = ntohs(a.sin_port);
	snprintf(srv.url, sizeof(srv.url), "http://127.0.0.1:%d", srv.port);
	ck_assert_int_eq(pthread_create(&srv.th, NULL, server, NULL), 0);
}

static void unserve(void)
{
	shutdown(srv.fd, SHUT_RDWR);
	pthread_join(srv.th, NULL);
	close(srv.fd);
}

#define SERVE(...)                                                             \
	do {                                                                   \
		static const struct canned r_[] = { __VA_ARGS__ };             \
		serve(r_, sizeof(r_) / sizeof(r_[0]));                         \
	} while (0)

#define UUID "7c3a1f0e-5b2d-4e8f-9a61-0d4c2b7e9f13"
#define ARN "arn:aws:kms:eu-west-3:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
/* base64 of the bytes 0, 1, ..., 31 */
#define PT "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define DESCRIBE_OK "{\"KeyMetadata\":{\"KeyId\":\"" ARN "\",\"KeySpec\":" \
		    "\"SYMMETRIC_DEFAULT\",\"KeyUsage\":\"ENCRYPT_DECRYPT\"}}"

static void env_creds(void)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDUNITTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "unit-test-secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void ck_key_is_pattern(const uint8_t *key)
{
	for (int i = 0; i < KEYPROV_KEY_LEN; i++)
		ck_assert_uint_eq(key[i], i);
}

static void ck_key_is_zero(const uint8_t *key)
{
	for (int i = 0; i < KEYPROV_KEY_LEN; i++)
		ck_assert_uint_eq(key[i], 0);
}

static json_t *recorded(const char *endpoint)
{
	json_t *p = json_pack("{s:s, s:s, s:s, s:{s:s}}", "key_arn", ARN,
			      "region", "eu-west-3", "ciphertext_blob", "AQIDBA==",
			      "encryption_context", "atrestfs:volume", UUID);

	json_object_set_new(p, "endpoint", json_string(endpoint));
	return p;
}

static void setup(void)
{
	log_set_level(LOG_LVL_NONE);
	unsetenv("AWS_ENDPOINT_URL_KMS");
	unsetenv("AWS_ENDPOINT_URL");
	/* Transient failures are retried for a second here, not a minute. */
	kms_set_retry_time(1);
}

START_TEST(ini_reader)
{
	const char *t = "# comment\n[default]\naws_access_key_id = AKIA1\n"
			"aws_secret_access_key=s1 \n\n[profile x]\nregion = eu-west-1\n"
			"[node]\n  aws_access_key_id\t=  AKIA2\r\ns3 =\n  nested = 1\n";
	char v[64];

	ck_assert_int_eq(aws_ini_get(t, "default", "aws_access_key_id", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "AKIA1");
	ck_assert_int_eq(aws_ini_get(t, "default", "aws_secret_access_key", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "s1");
	ck_assert_int_eq(aws_ini_get(t, "node", "aws_access_key_id", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "AKIA2");
	ck_assert_int_eq(aws_ini_get(t, "profile x", "region", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "eu-west-1");
	ck_assert_int_eq(aws_ini_get(t, "node", "region", v, sizeof(v)), -ENOENT);
	ck_assert_int_eq(aws_ini_get(t, "missing", "region", v, sizeof(v)), -ENOENT);
	ck_assert_int_eq(aws_ini_get(t, "default", "aws_access_key_id", v, 3), -EINVAL);
	ck_assert_int_eq(aws_ini_get("[broken\nk=v\n", "broken", "k", v, sizeof(v)), -EINVAL);
}
END_TEST

START_TEST(ini_hostile)
{
	char *big = malloc(10000), v[64];

	memset(big, 'a', 9999);
	big[9999] = '\0';
	ck_assert_int_eq(aws_ini_get(big, "a", "b", v, sizeof(v)), -EINVAL); /* overlong line */
	ck_assert_int_eq(aws_ini_get("", "a", "b", v, sizeof(v)), -ENOENT);
	ck_assert_int_eq(aws_ini_get("=\n[]\n=x\n", "", "", v, sizeof(v)), 0);
	free(big);
}
END_TEST

START_TEST(error_decoding)
{
	static const struct {
		long status;
		const char *body, *want;
		int err;
	} cases[] = {
		{ 400, "{\"__type\":\"DisabledException\",\"message\":\"m\"}", "disabled", -EKEYREVOKED },
		{ 400, "{\"__type\":\"com.amazonaws.kms#KMSInvalidStateException\"}", "current state", -EKEYREVOKED },
		{ 400, "{\"__type\":\"AccessDeniedException\",\"Message\":\"no\"}", "key policy", -EACCES },
		{ 400, "{\"__type\":\"IncorrectKeyException\"}", "another KMS key", -EKEYREJECTED },
		{ 400, "{\"__type\":\"InvalidCiphertextException\"}", "encryption context", -EKEYREJECTED },
		{ 400, "{\"__type\":\"NotFoundException\"}", "no such KMS key", -ENOENT },
		{ 400, "{\"__type\":\"InvalidKeyUsageException\"}", "cannot make data keys", -EINVAL },
		{ 400, "{\"__type\":\"ThrottlingException\"}", "throttling", -EAGAIN },
		{ 403, "<Error><Code>InvalidClientTokenId</Code><Message>bad</Message></Error>", "not valid", -EACCES },
		{ 503, "Service Unavailable", "server error", -EAGAIN },
		{ 400, "{\"__type\":42}", "unexpected", -EPROTO },
		{ 400, "{\"__type\":\"Dis", "unexpected", -EPROTO },
		{ 400, "<Code>never closed", "unexpected", -EPROTO },
		{ 418, "", "unexpected", -EPROTO },
	};
	char msg[800];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(kms_error(cases[i].status, cases[i].body, msg, sizeof(msg)),
				 cases[i].err);
		ck_assert_msg(strstr(msg, cases[i].want), "case %zu: %s", i, msg);
	}
}
END_TEST

START_TEST(endpoints_and_regions)
{
	struct kms_target t = { .region = "eu-central-1" };

	ck_assert_int_eq(kms_target_endpoint(&t, NULL), 0);
	ck_assert_str_eq(t.endpoint, "https://kms.eu-central-1.amazonaws.com/");
	ck_assert_int_eq(kms_target_endpoint(&t, "http://127.0.0.1:4566"), 0);
	ck_assert_str_eq(t.endpoint, "http://127.0.0.1:4566");
	setenv("AWS_ENDPOINT_URL_KMS", "https://kms.example", 1);
	ck_assert_int_eq(kms_target_endpoint(&t, NULL), 0);
	ck_assert_str_eq(t.endpoint, "https://kms.example");
	unsetenv("AWS_ENDPOINT_URL_KMS");
	/* plain http only to this machine: a Decrypt answer holds the key */
	ck_assert_int_eq(kms_target_endpoint(&t, "http://localhost:8080/"), 0);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://127.10.0.1"), 0);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://[::1]:4566"), 0);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://kms.example"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://127.0.0.1.evil.example/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://localhost.evil.example/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://[::1].evil/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://10.0.0.1:4566"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://127.0.0.1@evil.example/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "HTTP://kms.example"), -EINVAL);
	setenv("AWS_ENDPOINT_URL", "http://proxy.example", 1);
	ck_assert_int_eq(kms_target_endpoint(&t, NULL), -EINVAL);
	setenv("AWS_ENDPOINT_URL", "https://proxy.example", 1);
	ck_assert_int_eq(kms_target_endpoint(&t, NULL), 0);
	ck_assert_str_eq(t.endpoint, "https://proxy.example");
	unsetenv("AWS_ENDPOINT_URL");
	ck_assert_int_eq(kms_target_endpoint(&t, "ftp://x"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://a b"), -EINVAL);
	/* judged on the host libcurl parses, not on a prefix of the string */
	ck_assert_int_eq(kms_target_endpoint(&t, "http://localhost:1@192.0.2.2:18777/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://127.0.0.1:80@192.0.2.2/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://[::1]@192.0.2.2/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "https://user:pw@kms.example/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "https://kms.example/?x=1"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://127.0.0.1/#@192.0.2.2"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://[::1%25lo]:4566/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://[::2]:4566/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://128.0.0.1/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http:///"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "https://kms.example\x1b[2J/"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://127.255.255.254:1/"), 0);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://LOCALHOST:1/"), 0);
	strcpy(t.region, "us-east-1:evil");
	ck_assert_int_eq(kms_target_endpoint(&t, NULL), -EINVAL);
	strcpy(t.region, "");
	ck_assert_int_eq(kms_target_endpoint(&t, NULL), -EINVAL);
}
END_TEST

START_TEST(config_validation)
{
	json_t *p = json_loads("{\"key_arn\":\"arn:aws:kms:us-east-1:1:key/x\",\"region\":\"us-east-1\","
			       "\"ciphertext_blob\":\"AAAA\",\"encryption_context\":{\"atrestfs:volume\":\"u\"}}",
			       0, NULL);

	ck_assert_int_eq(kp_kms.validate(p), 0);
	json_object_set_new(p, "extra", json_true());
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_del(p, "extra");
	json_object_set_new(p, "ciphertext_blob", json_string("!!"));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "ciphertext_blob", json_string("AAAA"));
	json_object_set_new(p, "encryption_context", json_loads("{\"a\":\"b\"}", 0, NULL));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "encryption_context", json_loads("{\"atrestfs:volume\":\"u\",\"b\":\"c\"}", 0, NULL));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "encryption_context", json_loads("{\"atrestfs:volume\":\"u\"}", 0, NULL));
	json_object_set_new(p, "region", json_integer(1));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_del(p, "region");
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "region", json_string("us-east-1\n"));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "region", json_string("us-east-1"));
	ck_assert_int_eq(kp_kms.validate(p), 0);
	json_object_set_new(p, "key_arn", json_string("alias/x"));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "key_arn", json_string("arn:aws:kms:us-east-1:1:key/x\r\nX: y"));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "key_arn", json_string("arn:aws-cn:kms:cn-north-1:1:key/x"));
	ck_assert_int_eq(kp_kms.validate(p), 0);
	json_object_set_new(p, "endpoint", json_string("http://kms.example"));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "endpoint", json_string("https://kms.example"));
	ck_assert_int_eq(kp_kms.validate(p), 0);
	json_object_set_new(p, "profile", json_string("x]\n[default"));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "profile", json_string("node-1"));
	ck_assert_int_eq(kp_kms.validate(p), 0);
	json_object_set_new(p, "profile", json_string(""));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_del(p, "profile");
	json_object_set_new(p, "encryption_context", json_loads("{\"atrestfs:volume\":\"\"}", 0, NULL));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "encryption_context", json_loads("{\"atrestfs:volume\":7}", 0, NULL));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "encryption_context", json_string("u"));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_set_new(p, "encryption_context", json_loads("{\"atrestfs:volume\":\"u\"}", 0, NULL));
	json_object_set_new(p, "ciphertext_blob", json_string(""));
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_object_del(p, "ciphertext_blob");
	ck_assert_int_eq(kp_kms.validate(p), -EINVAL);
	json_decref(p);
}
END_TEST

START_TEST(no_credentials_anywhere)
{
	struct aws_creds c;

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	setenv("AWS_ACCESS_KEY_ID", "AKIA", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
	setenv("AWS_SESSION_TOKEN", "t", 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), 0);
	ck_assert_str_eq(c.source, "environment");
	ck_assert_str_eq(c.token, "t");
}
END_TEST


START_TEST(enroll_requests_and_records)
{
	struct kp_options o = { .kms_region = "eu-west-3" };
	uint8_t key[KEYPROV_KEY_LEN];
	json_t *params = NULL;

	env_creds();
	setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEunit/token+=", 1);
	SERVE({ 200, DESCRIBE_OK },
	      { 200, "{\"KeyId\":\"" ARN "\",\"Plaintext\":\"" PT "\","
		     "\"CiphertextBlob\":\"AQIDBA==\",\"KeyMaterialId\":\"x\"}" });
	o.kms_endpoint = srv.url;
	ck_assert_int_eq(kp_kms.enroll("alias/cache", &o, UUID, key, &params), 0);
	unserve();
	ck_key_is_pattern(key);
	ck_assert_uint_eq(srv.served, 2);
	ck_assert_ptr_nonnull(strstr(srv.req[0], "X-Amz-Target: TrentService.DescribeKey"));
	ck_assert_ptr_nonnull(strstr(srv.req[1], "X-Amz-Target: TrentService.GenerateDataKey"));
	for (int i = 0; i < 2; i++) {
		ck_assert_ptr_nonnull(strstr(srv.req[i], "Authorization: AWS4-HMAC-SHA256 "
					     "Credential=AKIDUNITTEST/"));
		ck_assert_ptr_nonnull(strstr(srv.req[i], "/eu-west-3/kms/aws4_request"));
		ck_assert_ptr_nonnull(strstr(srv.req[i], "X-Amz-Security-Token: FwoGZXIvYXdzEunit/token+="));
		ck_assert_ptr_null(strstr(srv.req[i], "unit-test-secret"));
	}
	ck_assert_ptr_nonnull(strstr(srv.req[0], "\"KeyId\":\"alias/cache\""));
	ck_assert_ptr_nonnull(strstr(srv.req[1], "\"KeySpec\":\"AES_256\""));
	ck_assert_ptr_nonnull(strstr(srv.req[1], "\"EncryptionContext\":{\"atrestfs:volume\":\"" UUID "\"}"));
	ck_assert_str_eq(json_string_value(json_object_get(params, "key_arn")), ARN);
	ck_assert_str_eq(json_string_value(json_object_get(params, "region")), "eu-west-3");
	ck_assert_str_eq(json_string_value(json_object_get(params, "endpoint")), srv.url);
	ck_assert_str_eq(json_string_value(json_object_get(params, "ciphertext_blob")), "AQIDBA==");
	ck_assert_ptr_null(json_object_get(params, "profile"));
	ck_assert_int_eq(kp_kms.validate(params), 0);
	json_decref(params);
}
END_TEST

START_TEST(unlock_one_decrypt)
{
	uint8_t key[KEYPROV_KEY_LEN] = { 0 };
	json_t *p;

	env_creds();
	SERVE({ 200, "{\"KeyId\":\"" ARN "\",\"Plaintext\":\"" PT "\",\"EncryptionAlgorithm\":\"SYMMETRIC_DEFAULT\"}" });
	p = recorded(srv.url);
	ck_assert_int_eq(kp_kms.unlock(p, NULL, UUID, key), 0);
	unserve();
	ck_key_is_pattern(key);
	ck_assert_uint_eq(srv.served, 1);
	ck_assert_ptr_nonnull(strstr(srv.req[0], "X-Amz-Target: TrentService.Decrypt"));
	ck_assert_ptr_nonnull(strstr(srv.req[0], "\"KeyId\":\"" ARN "\""));
	ck_assert_ptr_nonnull(strstr(srv.req[0], "\"CiphertextBlob\":\"AQIDBA==\""));
	ck_assert_ptr_nonnull(strstr(srv.req[0], "\"EncryptionContext\":{\"atrestfs:volume\":\"" UUID "\"}"));
	ck_assert_ptr_null(strstr(srv.req[0], "X-Amz-Security-Token"));
	ck_assert_int_eq(kp_kms.unlock(p, "extra-arg", UUID, key), -EINVAL);
	json_decref(p);
	/* A context naming another volume: refused, and KMS never asked. */
	SERVE({ 200, "{\"KeyId\":\"" ARN "\",\"Plaintext\":\"" PT "\"}" });
	p = recorded(srv.url);
	memset(key, 0, sizeof(key));
	ck_assert_int_eq(kp_kms.unlock(p, NULL, "00000000-0000-4000-8000-000000000000", key),
			 -EKEYREJECTED);
	unserve();
	ck_assert_uint_eq(srv.served, 0);
	ck_key_is_zero(key);
	json_decref(p);
}
END_TEST

/* Every malformed or failing Decrypt answer: refused, key wiped, bounded. */
/*
 * A loopback endpoint is never reached through a proxy, whatever its
 * spelling: the same parse decides "loopback" for the http check and for
 * the proxy bypass. The proxy here is a port where nothing listens.
 */
START_TEST(loopback_bypasses_proxy)
{
	static const char *const forms[] = { "http://LOCALHOST:%d/",
					     "http://127.1:%d/",
					     "http://127.0.0.1:%d" };
	uint8_t key[KEYPROV_KEY_LEN] = { 0 };
	char url[64];
	json_t *p;

	env_creds();
	setenv("http_proxy", "http://127.0.0.1:9", 1);
	setenv("HTTPS_PROXY", "http://127.0.0.1:9", 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		SERVE({ 200, "{\"KeyId\":\"" ARN "\",\"Plaintext\":\"" PT "\"}" });
		snprintf(url, sizeof(url), forms[i], srv.port);
		p = recorded(url);
		ck_assert_msg(kp_kms.unlock(p, NULL, UUID, key) == 0, "%s", url);
		unserve();
		ck_key_is_pattern(key);
		ck_assert_uint_eq(srv.served, 1);
		json_decref(p);
	}
	unsetenv("http_proxy");
	unsetenv("HTTPS_PROXY");
}
END_TEST

START_TEST(unlock_hostile_answers)
{
	static const struct {
		struct canned r[4];
		int err;
		size_t calls;
	} cases[] = {
		{ { { 200, "{\"KeyId\":\"x\"}" } }, -EPROTO, 1 },
		{ { { 200, "{\"Plaintext\":5}" } }, -EPROTO, 1 },
		{ { { 200, "{\"Plaintext\":null}" } }, -EPROTO, 1 },
		{ { { 200, "{\"Plaintext\":\"AAECAwQFBgcICQoLDA0ODw==\"}" } }, -EPROTO, 1 },
		{ { { 200, "{\"Plaintext\":\"" PT PT "\"}" } }, -EPROTO, 1 },
		{ { { 200, "{\"Plaintext\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}" } }, -EPROTO, 1 },
		{ { { 200, "{\"Plaintext\":\"!!!!\"}" } }, -EPROTO, 1 },
		{ { { 200, "{\"Plaintext\":\"AAEC" } }, -EPROTO, 1 },
		{ { { 200, "[\"" PT "\"]" } }, -EPROTO, 1 },
		{ { { 200, "" } }, -EPROTO, 1 },
		{ { { 200, "\"" PT "\"" } }, -EPROTO, 1 },
		{ { { 403, "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>" } }, -EACCES, 1 },
		{ { { 400, "{\"__type\":\"AccessDeniedException\"}" } }, -EACCES, 1 },
		{ { { 400, "{\"__type\":\"DisabledException\"}" } }, -EKEYREVOKED, 1 },
		{ { { 400, "{\"__type\":\"IncorrectKeyException\"}" } }, -EKEYREJECTED, 1 },
		{ { { 400, "{\"__type\":\"InvalidCiphertextException\"}" } }, -EKEYREJECTED, 1 },
		{ { { 400, "garbage\x01\x1b[31m" } }, -EPROTO, 1 },
		/* calls 0: retried (more than one) until kms_retry_time */
		{ { { 500, "oops" } }, -EAGAIN, 0 },
		{ { { 400, "{\"__type\":\"ThrottlingException\"}" } }, -EAGAIN, 0 },
		{ { { 429, "slow down" } }, -EAGAIN, 0 },
		{ { { 400, "{\"__type\":\"NotFoundException\"}" } }, -ENOENT, 1 },
		{ { { 400, "{\"__type\":\"KMSInvalidStateException\"}" } }, -EKEYREVOKED, 1 },
		{ { { 400, "{\"__type\":\"ThrottlingException\"}" }, { 503, "" },
		    { 200, "{\"Plaintext\":\"" PT "\"}" } }, 0, 3 },
	};
	uint8_t key[KEYPROV_KEY_LEN];

	env_creds();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 0;
		json_t *p;

		while (n < 4 && cases[i].r[n].body)
			n++;
		serve(cases[i].r, n);
		p = recorded(srv.url);
		memset(key, 0xa5, sizeof(key));
		ck_assert_msg(kp_kms.unlock(p, NULL, UUID, key) == cases[i].err,
			      "case %zu", i);
		unserve();
		json_decref(p);
		ck_assert_msg(cases[i].calls ? srv.served == cases[i].calls
					     : srv.served > 1,
			      "case %zu: %zu calls", i, srv.served);
		if (cases[i].err)
			ck_key_is_zero(key);
		else
			ck_key_is_pattern(key);
	}
}
END_TEST

START_TEST(unlock_oversized_and_unreachable)
{
	struct canned big = { 200, NULL };
	uint8_t key[KEYPROV_KEY_LEN];
	char *body = malloc(300 * 1024);
	json_t *p;

	env_creds();
	memset(body, ' ', 300 * 1024 - 1);
	body[0] = '{';
	body[300 * 1024 - 2] = '}';
	body[300 * 1024 - 1] = '\0';
	big.body = body;
	serve(&big, 1);
	p = recorded(srv.url);
	ck_assert_int_eq(kp_kms.unlock(p, NULL, UUID, key), -EFBIG);
	unserve();
	ck_assert_uint_eq(srv.served, 1);
	json_decref(p);
	free(body);

	/* A port nobody listens on: bounded retries, then refused. */
	p = recorded(srv.url); /* the closed server's port */
	ck_assert_int_eq(kp_kms.unlock(p, NULL, UUID, key), -ECONNREFUSED);
	ck_key_is_zero(key);
	json_decref(p);
}
END_TEST

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * kms_retry_time bounds the retries: throttled for ever, the call gives up
 * once the time is up (the last request may add its own short timeout),
 * after more than one attempt; 0 means a single attempt; a throttled
 * answer followed by success within the time succeeds.
 */
START_TEST(retry_time_bounds_retries)
{
	static const struct canned throttled[] = {
		{ 400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}" },
	};
	uint8_t key[KEYPROV_KEY_LEN];
	unsigned secs;
	double t0, took;
	json_t *p;

	env_creds();
	kms_set_retry_time(2);
	serve(throttled, 1);
	p = recorded(srv.url);
	t0 = mono();
	ck_assert_int_eq(kp_kms.unlock(p, NULL, UUID, key), -EAGAIN);
	took = mono() - t0;
	unserve();
	json_decref(p);
	ck_assert_msg(took >= 1.9 && took < 5.0, "gave up after %.2f s", took);
	ck_assert_uint_gt(srv.served, 2);

	kms_set_retry_time(0);
	serve(throttled, 1);
	p = recorded(srv.url);
	ck_assert_int_eq(kp_kms.unlock(p, NULL, UUID, key), -EAGAIN);
	unserve();
	json_decref(p);
	ck_assert_uint_eq(srv.served, 1);
	ck_assert_uint_eq(kms_retry_time(), 0);

	/* the option's parser: whole seconds, bounded */
	ck_assert_int_eq(kms_retry_time_parse("0", &secs), 0);
	ck_assert_uint_eq(secs, 0);
	ck_assert_int_eq(kms_retry_time_parse("3600", &secs), 0);
	ck_assert_uint_eq(secs, 3600);
	ck_assert_int_eq(kms_retry_time_parse("3601", &secs), -EINVAL);
	ck_assert_int_eq(kms_retry_time_parse("-1", &secs), -EINVAL);
	ck_assert_int_eq(kms_retry_time_parse("1s", &secs), -EINVAL);
	ck_assert_int_eq(kms_retry_time_parse("", &secs), -EINVAL);
	ck_assert_int_eq(kms_retry_time_parse("99999999999999999999", &secs), -EINVAL);
}
END_TEST

/* Create refuses what cannot make a data key, and malformed answers. */
START_TEST(enroll_hostile_answers)
{
	static const struct {
		struct canned r[2];
		int err;
		size_t calls;
	} cases[] = {
		{ { { 200, "{\"KeyMetadata\":{\"KeySpec\":\"RSA_2048\",\"KeyUsage\":\"ENCRYPT_DECRYPT\"}}" } }, -EINVAL, 1 },
		{ { { 200, "{\"KeyMetadata\":{\"KeySpec\":\"HMAC_256\",\"KeyUsage\":\"GENERATE_VERIFY_MAC\"}}" } }, -EINVAL, 1 },
		{ { { 200, "{\"KeyMetadata\":{\"CustomerMasterKeySpec\":\"ECC_NIST_P256\"}}" } }, -EINVAL, 1 },
		{ { { 200, "{\"KeyMetadata\":{\"KeyUsage\":\"SIGN_VERIFY\"}}" } }, -EINVAL, 1 },
		{ { { 200, "{\"KeyMetadata\":\"SYMMETRIC_DEFAULT\"}" } }, -EPROTO, 1 },
		{ { { 200, "{\"KeyMetadata\":{}}" } }, -EPROTO, 1 },
		{ { { 200, "{}" } }, -EPROTO, 1 },
		{ { { 400, "{\"__type\":\"NotFoundException\",\"message\":\"Alias x is not found.\"}" } }, -ENOENT, 1 },
		{ { { 200, DESCRIBE_OK }, { 400, "{\"__type\":\"InvalidKeyUsageException\"}" } }, -EINVAL, 2 },
		{ { { 200, DESCRIBE_OK }, { 200, "{\"KeyId\":\"" ARN "\",\"Plaintext\":\"" PT "\"}" } }, -EPROTO, 2 },
		{ { { 200, DESCRIBE_OK }, { 200, "{\"KeyId\":7,\"Plaintext\":\"" PT "\",\"CiphertextBlob\":\"AQID\"}" } }, -EPROTO, 2 },
		{ { { 200, DESCRIBE_OK }, { 200, "{\"KeyId\":\"" ARN "\",\"CiphertextBlob\":\"AQID\"}" } }, -EPROTO, 2 },
		{ { { 200, DESCRIBE_OK }, { 200, "{\"KeyId\":\"" ARN "\",\"Plaintext\":\"AAEC\",\"CiphertextBlob\":\"AQID\"}" } }, -EPROTO, 2 },
		{ { { 200, DESCRIBE_OK }, { 200, "{\"KeyId\":\"" ARN "\",\"Plaintext\":\"" PT "\",\"CiphertextBlob\":\"%%%\"}" } }, -EINVAL, 2 },
	};
	struct kp_options o = { .kms_region = "eu-west-3" };
	uint8_t key[KEYPROV_KEY_LEN];

	env_creds();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *params = NULL;

		serve(cases[i].r, cases[i].r[1].body ? 2 : 1);
		o.kms_endpoint = srv.url;
		memset(key, 0xa5, sizeof(key));
		ck_assert_msg(kp_kms.enroll("alias/x", &o, UUID, key, &params) == cases[i].err,
			      "case %zu", i);
		unserve();
		ck_assert_msg(srv.served == cases[i].calls, "case %zu: %zu calls", i, srv.served);
		ck_assert_ptr_null(params);
		ck_key_is_zero(key);
	}
	ck_assert_int_eq(kp_kms.enroll("", &o, UUID, key, NULL), -EINVAL);
	ck_assert_int_eq(kp_kms.enroll(NULL, &o, UUID, key, NULL), -EINVAL);
}
END_TEST

/* IMDSv2: token first, then the role, then its credentials; the region. */
START_TEST(imds_credentials_and_region)
{
	struct aws_creds c;
	char region[64];

	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	SERVE({ 200, "imds-session-token" }, { 200, "node-role\n" },
	      { 200, "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAROLE\","
		     "\"SecretAccessKey\":\"rolesecret\",\"Token\":\"roletoken\","
		     "\"Expiration\":\"2099-01-01T00:00:00Z\"}" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), 0);
	unserve();
	ck_assert_str_eq(c.source, "instance role");
	ck_assert_str_eq(c.akid, "ASIAROLE");
	ck_assert_str_eq(c.secret, "rolesecret");
	ck_assert_str_eq(c.token, "roletoken");
	ck_assert_uint_eq(srv.served, 3);
	ck_assert_ptr_nonnull(strstr(srv.req[0], "PUT /latest/api/token "));
	ck_assert_ptr_nonnull(strstr(srv.req[0], "X-aws-ec2-metadata-token-ttl-seconds: "));
	ck_assert_ptr_nonnull(strstr(srv.req[1], "GET /latest/meta-data/iam/security-credentials/ "));
	ck_assert_ptr_nonnull(strstr(srv.req[1], "X-aws-ec2-metadata-token: imds-session-token"));
	ck_assert_ptr_nonnull(strstr(srv.req[2], "GET /latest/meta-data/iam/security-credentials/node-role "));

	/* No role credentials, a role name with a path, a failed Code. */
	SERVE({ 200, "t" }, { 404, "" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	unserve();
	SERVE({ 200, "t" }, { 200, "../../evil" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	unserve();
	ck_assert_uint_eq(srv.served, 2);
	SERVE({ 200, "t" }, { 200, "r" }, { 200, "{\"Code\":\"Failure\",\"AccessKeyId\":\"A\","
					     "\"SecretAccessKey\":\"s\",\"Token\":\"t\"}" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	unserve();
	SERVE({ 200, "t" }, { 200, "r" }, { 200, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\","
					     "\"Token\":\"t\\r\\nX-Injected: 1\"}" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	unserve();
	SERVE({ 401, "" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	unserve();
	ck_assert_uint_eq(srv.served, 1);

	SERVE({ 200, "t" }, { 200, "ap-southeast-2" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	ck_assert_int_eq(aws_region_resolve(NULL, NULL, region, sizeof(region)), 0);
	unserve();
	ck_assert_str_eq(region, "ap-southeast-2");
	ck_assert_ptr_nonnull(strstr(srv.req[1], "GET /latest/meta-data/placement/region "));

	/* Disabled: not even asked. */
	SERVE({ 200, "t" });
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	ck_assert_int_eq(aws_region_resolve(NULL, NULL, region, sizeof(region)), -ENOENT);
	unserve();
	ck_assert_uint_eq(srv.served, 0);
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The shared files: profiles, precedence, and profiles that cannot work. */
START_TEST(shared_files_and_regions)
{
	char dir[] = "/tmp/check_kms.XXXXXX", creds[64], conf[64], region[64];
	struct aws_creds c;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(creds, sizeof(creds), "%s/credentials", dir);
	snprintf(conf, sizeof(conf), "%s/config", dir);
	write_file(creds, "[default]\naws_access_key_id = AKIADEF\naws_secret_access_key = sdef\n"
			  "[node]\naws_access_key_id=AKIANODE\naws_secret_access_key=snode\n"
			  "aws_session_token = tnode\n[half]\naws_access_key_id = AKIAHALF\n"
			  "[empty]\naws_access_key_id =\naws_secret_access_key = x\n"
			  "[bad]\naws_access_key_id = AKIA BAD\naws_secret_access_key = x\n");
	write_file(conf, "[default]\nregion = eu-north-1\n[profile cfg]\n"
			 "aws_access_key_id = AKIACFG\naws_secret_access_key = scfg\nregion = sa-east-1\n"
			 "[profile sso]\nsso_session = corp\n[profile role]\nrole_arn = arn:aws:iam::1:role/x\n"
			 "source_profile = default\n[profile regiononly]\nregion = us-west-2\n");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", creds, 1);
	setenv("AWS_CONFIG_FILE", conf, 1);

	ck_assert_int_eq(aws_creds_resolve(NULL, &c), 0);
	ck_assert_str_eq(c.akid, "AKIADEF");
	ck_assert_str_eq(c.token, "");
	ck_assert_str_eq(c.source, "shared files");
	ck_assert_int_eq(aws_creds_resolve("node", &c), 0);
	ck_assert_str_eq(c.akid, "AKIANODE");
	ck_assert_str_eq(c.secret, "snode");
	ck_assert_str_eq(c.token, "tnode");
	setenv("AWS_PROFILE", "cfg", 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), 0);
	ck_assert_str_eq(c.akid, "AKIACFG");
	ck_assert_int_eq(aws_region_resolve(NULL, NULL, region, sizeof(region)), 0);
	ck_assert_str_eq(region, "sa-east-1");
	/* the option beats AWS_PROFILE */
	ck_assert_int_eq(aws_creds_resolve("node", &c), 0);
	ck_assert_str_eq(c.akid, "AKIANODE");
	unsetenv("AWS_PROFILE");
	ck_assert_int_eq(aws_region_resolve(NULL, NULL, region, sizeof(region)), 0);
	ck_assert_str_eq(region, "eu-north-1");
	setenv("AWS_DEFAULT_REGION", "ca-central-1", 1);
	ck_assert_int_eq(aws_region_resolve(NULL, NULL, region, sizeof(region)), 0);
	ck_assert_str_eq(region, "ca-central-1");
	setenv("AWS_REGION", "me-south-1", 1);
	ck_assert_int_eq(aws_region_resolve(NULL, NULL, region, sizeof(region)), 0);
	ck_assert_str_eq(region, "me-south-1");
	ck_assert_int_eq(aws_region_resolve("us-east-2", NULL, region, sizeof(region)), 0);
	ck_assert_str_eq(region, "us-east-2");

	/* Named profiles that cannot work are refused, never replaced. */
	ck_assert_int_eq(aws_creds_resolve("half", &c), -ENOKEY);
	ck_assert_int_eq(aws_creds_resolve("empty", &c), -ENOKEY);
	ck_assert_int_eq(aws_creds_resolve("bad", &c), -ENOKEY);
	ck_assert_int_eq(aws_creds_resolve("sso", &c), -ENOKEY);
	ck_assert_int_eq(aws_creds_resolve("role", &c), -ENOKEY);
	ck_assert_int_eq(aws_creds_resolve("nosuch", &c), -ENOKEY);
	setenv("AWS_PROFILE", "nosuch", 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	unsetenv("AWS_PROFILE");
	ck_assert_int_eq(aws_creds_resolve("regiononly", &c), -ENOKEY); /* IMDS off */
	ck_assert_str_eq(c.akid, "");

	/* The environment beats the files; half of it is refused. */
	setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	setenv("AWS_SECRET_ACCESS_KEY", "senv", 1);
	ck_assert_int_eq(aws_creds_resolve("node", &c), 0);
	ck_assert_str_eq(c.akid, "AKIAENV");
	ck_assert_str_eq(c.source, "environment");
	setenv("AWS_SESSION_TOKEN", "tok\r\nX-Injected: 1", 1);
	ck_assert_int_eq(aws_creds_resolve(NULL, &c), -ENOKEY);
	unsetenv("AWS_SESSION_TOKEN");

	unlink(creds);
	unlink(conf);
	rmdir(dir);
}
END_TEST

START_TEST(error_text_is_printable)
{
	char msg[800];

	kms_error(400, "{\"__type\":\"Disabled\\u001b[2JException\",\"message\":\"a\\nb\\u0007\"}",
		  msg, sizeof(msg));
	for (const char *p = msg; *p; p++)
		ck_assert_msg(*p >= 0x20 && *p < 0x7f, "control byte in: %s", msg);
	kms_error(400, "\x1b]0;title\x07 not json", msg, sizeof(msg));
	for (const char *p = msg; *p; p++)
		ck_assert_msg(*p >= 0x20 && *p < 0x7f, "control byte in: %s", msg);
	ck_assert_int_eq(kms_error(400, "{\"__type\":\"AccessDeniedException:http://internal.amazon.com/coral/x/\"}",
				   msg, sizeof(msg)), -EACCES);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kms");
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, NULL)
	kms_install_json_allocator();
	T(ini_reader);
	T(ini_hostile);
	T(error_decoding);
	T(endpoints_and_regions);
	T(config_validation);
	T(no_credentials_anywhere);
	T(error_text_is_printable);
	T(enroll_requests_and_records);
	T(unlock_one_decrypt);
	T(loopback_bypasses_proxy);
	T(unlock_hostile_answers);
	T(unlock_oversized_and_unreachable);
	T(retry_time_bounds_retries);
	T(enroll_hostile_answers);
	T(imds_credentials_and_region);
	T(shared_files_and_regions);
	return run_suite(s);
}
