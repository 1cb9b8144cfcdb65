// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kms key source: envelope encryption with AWS KMS. At create,
 * GenerateDataKey makes the volume key under the named KMS key, with the
 * encryption context {"atrestfs:volume": UUID}; the config keeps only the
 * CiphertextBlob (opaque) and the key ARN KMS answered with. At mount, one
 * Decrypt with the same context gives the key back; no KMS call follows
 * until the next mount, so revoking access takes effect at the next mount,
 * unless the mount asks for kms_recheck (revoke.c repeats this Decrypt).
 */
#include "keyprov.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jsonsafe.h"
#include "log.h"
#include "secmem.h"
#include "kms/aws_creds.h"
#include "kms/kms_client.h"

#define CONTEXT_KEY "atrestfs:volume"
#define BLOB_MAX 6144 /* KMS ciphertext blobs are a few hundred bytes */
#define STR_MAX 2048

static const char *const fields[] = { "key_arn", "region", "endpoint",
				      "profile", "ciphertext_blob",
				      "encryption_context", NULL };

/* Non-empty, shorter than @p max, visible ASCII only. */
static bool visible(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* A profile names an INI section: no brackets, no separators. */
static bool profile_ok(const char *p)
{
	if (!visible(p, 128) || strpbrk(p, "[]#;=")) {
		log_err("invalid AWS profile name \"%.64s\"", LOG_ESC(p));
		return false;
	}
	return true;
}

static int kms_validate(const json_t *params)
{
	const char *arn, *region, *endpoint, *profile, *uuid;
	uint8_t blob[BLOB_MAX];
	json_t *ctx = json_object_get(params, "encryption_context");

	if (jsonsafe_only_keys(params, fields, KEYPROV_DOC) ||
	    jsonsafe_get_str(params, "key_arn", STR_MAX, &arn, KEYPROV_DOC) ||
	    jsonsafe_get_str(params, "region", STR_MAX, &region, KEYPROV_DOC) ||
	    jsonsafe_opt_str(params, "endpoint", STR_MAX, &endpoint,
			     KEYPROV_DOC) ||
	    jsonsafe_opt_str(params, "profile", STR_MAX, &profile,
			     KEYPROV_DOC) ||
	    jsonsafe_get_str(params, "ciphertext_blob", STR_MAX, NULL,
			     KEYPROV_DOC) ||
	    jsonsafe_get_b64(params, "ciphertext_blob", blob, 1, BLOB_MAX,
			     KEYPROV_DOC) < 0)
		return -EINVAL;
	if (json_object_size(ctx) != 1 ||
	    jsonsafe_get_str(ctx, CONTEXT_KEY, 64, &uuid, KEYPROV_DOC) ||
	    !visible(uuid, 64)) {
		log_err("invalid volume config: key_source.encryption_context "
			"must be {\"" CONTEXT_KEY "\": \"<uuid>\"}");
		return -EINVAL;
	}
	if (!kms_region_ok(region)) {
		log_err("invalid volume config: key_source.region is not an "
			"AWS region name");
		return -EINVAL;
	}
	if (strncmp(arn, "arn:", 4) || !strstr(arn, ":kms:") ||
	    !visible(arn, STR_MAX)) {
		log_err("invalid volume config: key_source.key_arn is not a KMS "
			"key ARN");
		return -EINVAL;
	}
	if ((endpoint && kms_endpoint_check(endpoint)) ||
	    (profile && !profile_ok(profile)))
		return -EINVAL;
	return 0;
}

/* Credentials and endpoint for one key source; creds in secmem. */
static int connect_kms(const char *region_opt, const char *profile,
		       const char *endpoint, struct kms_target *t)
{
	struct aws_creds *c;
	int r;

	memset(t, 0, sizeof(*t));
	r = aws_region_resolve(region_opt, profile, t->region, sizeof(t->region));
	if (r)
		return r;
	r = kms_target_endpoint(t, endpoint);
	if (r)
		return r;
	c = secmem_alloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = aws_creds_resolve(profile, c);
	if (r) {
		secmem_free(c);
		return r;
	}
	log_dbg("KMS: credentials from %s, endpoint %s", c->source, t->endpoint);
	t->creds = c;
	return 0;
}

static void disconnect_kms(struct kms_target *t)
{
	secmem_free((void *)t->creds);
	t->creds = NULL;
}

/* Decode the base64 "Plaintext" of a KMS answer into the caller's key. */
static int take_plaintext(json_t *resp, uint8_t *key)
{
	json_t *v = json_object_get(resp, "Plaintext");
	uint8_t buf[64];
	long n;

	if (!json_is_string(v)) {
		log_err("KMS answer has no Plaintext");
		return -EPROTO;
	}
	n = crypto_b64_decode(json_string_value(v), json_string_length(v), buf,
			      sizeof(buf));
	/* The key was in a JSON string: wipe it there too. */
	secmem_wipe((char *)json_string_value(v), json_string_length(v));
	if (n != KEYPROV_KEY_LEN) {
		secmem_wipe(buf, sizeof(buf));
		log_err("KMS answered with a %ld-byte data key; expected %d",
			n, KEYPROV_KEY_LEN);
		return -EPROTO;
	}
	memcpy(key, buf, KEYPROV_KEY_LEN);
	secmem_wipe(buf, sizeof(buf));
	return 0;
}

static int refuse_asymmetric(struct kms_target *t, const char *key_id)
{
	json_t *req = json_pack("{s:s}", "KeyId", key_id), *resp = NULL, *md;
	const char *spec, *usage;
	int r = kms_call(t, "DescribeKey", req, &resp);

	json_decref(req);
	if (r)
		return r;
	md = json_object_get(resp, "KeyMetadata");
	spec = json_string_value(json_object_get(md, "KeySpec"));
	if (!spec)
		spec = json_string_value(json_object_get(md, "CustomerMasterKeySpec"));
	usage = json_string_value(json_object_get(md, "KeyUsage"));
	if (!json_is_object(md) || (!spec && !usage)) {
		log_err("KMS DescribeKey answer lacks KeyMetadata with KeySpec "
			"or KeyUsage");
		r = -EPROTO;
	} else if ((spec && strcmp(spec, "SYMMETRIC_DEFAULT")) ||
		   (usage && strcmp(usage, "ENCRYPT_DECRYPT"))) {
		log_err("KMS key %s is %.40s/%.40s: only a symmetric encryption "
			"key (SYMMETRIC_DEFAULT) can make data keys", key_id,
			spec ? spec : "?", usage ? usage : "?");
		r = -EINVAL;
	}
	json_decref(resp);
	return r;
}

static int kms_enroll(const char *arg, const struct kp_options *opt,
		      const char *volume_uuid, uint8_t *key, json_t **params)
{
	const char *profile = kp_option(opt, "kms-profile");
	const char *endpoint = kp_option(opt, "kms-endpoint");
	json_t *req = NULL, *resp = NULL, *arn, *blob;
	struct kms_target t;
	int r;

	if (!arg || !*arg || strlen(arg) >= STR_MAX) {
		log_err("key source kms needs a key: --key-source kms:KEY (key "
			"id, key ARN, alias/NAME or alias ARN)");
		return -EINVAL;
	}
	*params = NULL;
	if (profile && !profile_ok(profile))
		return -EINVAL;
	r = connect_kms(kp_option(opt, "kms-region"), profile, endpoint, &t);
	if (r)
		return r;
	r = refuse_asymmetric(&t, arg);
	if (r)
		goto out;
	req = json_pack("{s:s, s:s, s:{s:s}}", "KeyId", arg, "KeySpec", "AES_256",
			"EncryptionContext", CONTEXT_KEY, volume_uuid);
	r = kms_call(&t, "GenerateDataKey", req, &resp);
	if (r)
		goto out;
	arn = json_object_get(resp, "KeyId");
	blob = json_object_get(resp, "CiphertextBlob");
	if (!json_is_string(arn) || !json_is_string(blob) ||
	    json_string_length(blob) >= 2 * BLOB_MAX ||
	    json_string_length(arn) >= STR_MAX) {
		log_err("KMS GenerateDataKey answer lacks KeyId or CiphertextBlob");
		r = -EPROTO;
		goto out;
	}
	r = take_plaintext(resp, key);
	if (r)
		goto out;
	*params = json_pack("{s:s, s:s, s:s, s:{s:s}}", "key_arn",
			    json_string_value(arn), "region", t.region,
			    "ciphertext_blob", json_string_value(blob),
			    "encryption_context", CONTEXT_KEY, volume_uuid);
	if (*params && endpoint)
		json_object_set_new(*params, "endpoint", json_string(endpoint));
	if (*params && profile)
		json_object_set_new(*params, "profile", json_string(profile));
	r = *params ? kms_validate(*params) : -ENOMEM;
out:
	if (r) {
		secmem_wipe(key, KEYPROV_KEY_LEN);
		json_decref(*params);
		*params = NULL;
	}
	json_decref(req);
	json_decref(resp);
	disconnect_kms(&t);
	return r;
}

static const char *str(const json_t *p, const char *k)
{
	return json_string_value(json_object_get(p, k));
}

static int kms_unlock(const json_t *params, const char *arg,
		      const char *volume_uuid, uint8_t *key)
{
	json_t *req, *resp = NULL, *ctx;
	struct kms_target t;
	int r;

	if (arg) {
		log_err("key source kms takes no argument at unlock: the key "
			"is pinned on the node and recorded in the volume");
		return -EINVAL;
	}
	r = kms_validate(params);
	if (r)
		return r;
	/* A context naming another volume means this key_source was made
	 * for another volume (copied in or swapped): never ask KMS. */
	ctx = json_object_get(params, "encryption_context");
	if (strcmp(json_string_value(json_object_get(ctx, CONTEXT_KEY)), volume_uuid)) {
		log_err("refused: the recorded KMS encryption context names "
			"volume %s, not this volume %s: the key source was "
			"made for another volume", LOG_ESC(json_string_value(
			json_object_get(ctx, CONTEXT_KEY))), LOG_ESC(volume_uuid));
		return -EKEYREJECTED;
	}
	r = connect_kms(str(params, "region"), str(params, "profile"),
			str(params, "endpoint"), &t);
	if (r)
		return r;
	req = json_pack("{s:s, s:s, s:O}", "KeyId", str(params, "key_arn"),
			"CiphertextBlob", str(params, "ciphertext_blob"),
			"EncryptionContext", ctx);
	r = kms_call(&t, "Decrypt", req, &resp);
	if (!r)
		r = take_plaintext(resp, key);
	if (r)
		secmem_wipe(key, KEYPROV_KEY_LEN);
	json_decref(req);
	json_decref(resp);
	disconnect_kms(&t);
	return r;
}

static void kms_describe(const json_t *params, FILE *out)
{
	fprintf(out, "kms key:         %s\n", LOG_ESC(str(params, "key_arn")));
	fprintf(out, "kms region:      %s\n", LOG_ESC(str(params, "region")));
	if (str(params, "endpoint"))
		fprintf(out, "kms endpoint:    %s\n",
			LOG_ESC(str(params, "endpoint")));
	if (str(params, "profile"))
		fprintf(out, "aws profile:     %s\n",
			LOG_ESC(str(params, "profile")));
	fprintf(out, "kms context:     " CONTEXT_KEY "=%s\n",
		LOG_ESC(json_string_value(json_object_get(
			json_object_get(params, "encryption_context"), CONTEXT_KEY))));
	fprintf(out, "wrapped key:     present (KMS CiphertextBlob)\n");
}

static void kms_audit_id(const json_t *params, char *buf, size_t n)
{
	snprintf(buf, n, "kms:%s", LOG_ESC(str(params, "key_arn")));
}

static const struct kp_pin kms_pins[] = {
	{ "key_arn", NULL, KP_PIN_STRING, 1 },
	{ "region", "kms_region", KP_PIN_STRING, 1 },
	{ "endpoint", "kms_endpoint", KP_PIN_STRING, 0 },
	{ "profile", "kms_profile", KP_PIN_STRING, 0 },
	{ NULL, NULL, 0, 0 },
};

static const char *const kms_options[] = { "kms-region", "kms-endpoint",
					   "kms-profile", "kms-retry-time",
					   NULL };

/* --kms-retry-time: set here, in the parent, so the enroll child has it. */
static int kms_setup(const struct kp_options *opt)
{
	const char *v = kp_option(opt, "kms-retry-time");
	unsigned secs;

	if (!v)
		return 0;
	if (kms_retry_time_parse(v, &secs))
		return -EINVAL;
	kms_set_retry_time(secs);
	return 0;
}

const struct keyprov kp_kms = {
	.name = "kms",
	.pins = kms_pins,
	.options = kms_options,
	.usage = "  --key-source kms:KEY        AWS KMS data key (key id, ARN, "
		 "alias)\n"
		 "      --kms-region R  --kms-endpoint URL  --kms-profile P\n"
		 "      --kms-retry-time S      retry a throttled or failing KMS "
		 "for S seconds (default 60)\n",
	.setup = kms_setup,
	.enroll = kms_enroll,
	.unlock = kms_unlock,
	.validate = kms_validate,
	.describe = kms_describe,
	.audit_id = kms_audit_id,
};
