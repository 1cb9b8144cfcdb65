// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The KMS key source's parsers, on hostile input: the AWS shared-file INI
 * reader, the KMS error decoder (JSON, XML, garbage, truncated), endpoint
 * and region checks, and the strict validation of the config's kms object.
 */
#include <errno.h>
#include <stdlib.h>

#include "testutil.h"
#include "aws_creds.h"
#include "keyprov.h"
#include "kms_client.h"
#include "log.h"

static void setup(void)
{
	log_set_level(LOG_LVL_NONE);
	unsetenv("AWS_ENDPOINT_URL_KMS");
	unsetenv("AWS_ENDPOINT_URL");
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
	ck_assert_int_eq(kms_target_endpoint(&t, "ftp://x"), -EINVAL);
	ck_assert_int_eq(kms_target_endpoint(&t, "http://a b"), -EINVAL);
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
	return run_suite(s);
}
