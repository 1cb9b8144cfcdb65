// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tpm2 key source: the volume key sealed to the node's TPM 2.0 as a
 * keyed-hash object under a storage primary key that is re-created at every
 * mount from a fixed ECC P-256 template (or under a persistent SRK), with an
 * optional PCR policy; then it unseals by that policy alone.
 *
 * Every command that carries the key runs in a salted session with
 * parameter encryption both ways, so the key never crosses the TPM bus in
 * the clear. Every handle this file creates is flushed on every path: a
 * node without a resource manager would otherwise run out of TPM slots
 * after a few failed mounts.
 */
#include "keyprov.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "crypto.h"
#include "log.h"
#include "secmem.h"

#define DEFAULT_TCTI "device:/dev/tpmrm0"
#define TCTI_MAX 256
#define BLOB_MAX 1024

/* One open TPM connection and the handles this file made on it. */
struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;  /* flushed unless persistent */
	bool primary_persistent;
	ESYS_TR object;
	ESYS_TR session;
};

/* One translator for the TSS error space: message, code, errno. */
static int tss_err(const char *what, TSS2_RC rc)
{
	log_err("TPM: %s failed: 0x%08x %s", what, rc, Tss2_RC_Decode(rc));
	return -EIO;
}

/* A TPM format-1 response code of the given kind, whatever its position. */
static bool rc_is(TSS2_RC rc, TPM2_RC kind)
{
	return (rc & TSS2_RC_LAYER_MASK) == 0 && (rc & TPM2_RC_FMT1) &&
	       (rc & 0x3f) == (kind & 0x3f);
}

static void tpm_close(struct tpm *t)
{
	if (t->esys) {
		if (t->session != ESYS_TR_NONE)
			Esys_FlushContext(t->esys, t->session);
		if (t->object != ESYS_TR_NONE)
			Esys_FlushContext(t->esys, t->object);
		if (t->primary != ESYS_TR_NONE && !t->primary_persistent)
			Esys_FlushContext(t->esys, t->primary);
		Esys_Finalize(&t->esys);
	}
	if (t->tcti)
		Tss2_TctiLdr_Finalize(&t->tcti);
}

static int tpm_open(struct tpm *t, const char *tcti)
{
	TSS2_RC rc;

	memset(t, 0, sizeof(*t));
	t->primary = t->object = t->session = ESYS_TR_NONE;
	/* libtss2 prints its own ERROR lines; ours say more, once. */
	setenv("TSS2_LOG", "all+none", 0);
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc == TSS2_RC_SUCCESS) {
		rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
		if (rc == TPM2_RC_INITIALIZE) /* already started: fine */
			rc = TSS2_RC_SUCCESS;
	}
	if (rc != TSS2_RC_SUCCESS) {
		log_err("TPM unreachable through TCTI \"%s\": 0x%08x %s", tcti,
			rc, Tss2_RC_Decode(rc));
		tpm_close(t);
		return -EHOSTUNREACH;
	}
	return 0;
}

/* The storage key the sealed object lives under. */
static int tpm_primary(struct tpm *t, uint32_t srk_handle)
{
	TPM2B_SENSITIVE_CREATE sens = { 0 };
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM |
					    TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN |
					    TPMA_OBJECT_USERWITHAUTH |
					    TPMA_OBJECT_NODA |
					    TPMA_OBJECT_RESTRICTED |
					    TPMA_OBJECT_DECRYPT,
			.parameters.eccDetail = {
				.symmetric = { .algorithm = TPM2_ALG_AES,
					       .keyBits.aes = 128,
					       .mode.aes = TPM2_ALG_CFB },
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
			.unique.ecc = { .x.size = 32, .y.size = 32 },
		},
	};
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	TSS2_RC rc;

	if (srk_handle) {
		rc = Esys_TR_FromTPMPublic(t->esys, srk_handle, ESYS_TR_NONE,
					   ESYS_TR_NONE, ESYS_TR_NONE,
					   &t->primary);
		t->primary_persistent = true;
		if (rc != TSS2_RC_SUCCESS) {
			t->primary = ESYS_TR_NONE;
			log_err("TPM: no persistent SRK at handle 0x%08x", srk_handle);
			return tss_err("Esys_TR_FromTPMPublic", rc);
		}
		return 0;
	}
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
				ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
				&outside, &none, &t->primary, NULL, NULL,
				NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		t->primary = ESYS_TR_NONE;
		return tss_err("Esys_CreatePrimary", rc);
	}
	return 0;
}

static void pcr_selection(uint32_t mask, TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	for (int i = 0; i < 24; i++)
		if (mask & (1u << i))
			sel->pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* A salted session keyed on the primary; policy or HMAC. */
static int tpm_session(struct tpm *t, TPM2_SE type, TPMA_SESSION attrs)
{
	TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_AES, .keyBits.aes = 128,
			     .mode.aes = TPM2_ALG_CFB };
	TSS2_RC rc;

	rc = Esys_StartAuthSession(t->esys,
				   type == TPM2_SE_TRIAL ? ESYS_TR_NONE : t->primary,
				   ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, NULL, type, &sym,
				   TPM2_ALG_SHA256, &t->session);
	if (rc != TSS2_RC_SUCCESS) {
		t->session = ESYS_TR_NONE;
		return tss_err("Esys_StartAuthSession", rc);
	}
	if (type == TPM2_SE_TRIAL)
		return 0;
	rc = Esys_TRSess_SetAttributes(t->esys, t->session, attrs, 0xff);
	return rc == TSS2_RC_SUCCESS ? 0 : tss_err("Esys_TRSess_SetAttributes", rc);
}

static int flush_session(struct tpm *t)
{
	TSS2_RC rc = Esys_FlushContext(t->esys, t->session);

	t->session = ESYS_TR_NONE;
	return rc == TSS2_RC_SUCCESS ? 0 : tss_err("Esys_FlushContext", rc);
}

/* The policy digest a PCR-bound object carries (trial session). */
static int policy_digest(struct tpm *t, uint32_t mask, TPM2B_DIGEST *out)
{
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST empty = { 0 }, *d = NULL;
	TSS2_RC rc;
	int r;

	pcr_selection(mask, &sel);
	r = tpm_session(t, TPM2_SE_TRIAL, 0);
	if (r)
		return r;
	rc = Esys_PolicyPCR(t->esys, t->session, ESYS_TR_NONE, ESYS_TR_NONE,
			    ESYS_TR_NONE, &empty, &sel);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_PolicyGetDigest(t->esys, t->session, ESYS_TR_NONE,
					  ESYS_TR_NONE, ESYS_TR_NONE, &d);
	if (rc != TSS2_RC_SUCCESS) {
		flush_session(t);
		return tss_err("Esys_PolicyPCR", rc);
	}
	*out = *d;
	Esys_Free(d);
	return flush_session(t);
}

/* ---- options and config ---- */

static int parse_pcrs(const char *s, uint32_t *mask)
{
	char *end;

	*mask = 0;
	if (!s || !*s)
		return 0;
	for (;;) {
		long v = strtol(s, &end, 10);
		if (end == s || v < 0 || v > 23) {
			log_err("invalid PCR list \"%s\": expected numbers 0-23 "
				"separated by commas, e.g. 7 or 0,2,7", s);
			return -EINVAL;
		}
		*mask |= 1u << v;
		if (!*end)
			return 0;
		if (*end != ',') {
			log_err("invalid PCR list near \"%s\"", end);
			return -EINVAL;
		}
		s = end + 1;
	}
}

static int parse_handle(const char *s, uint32_t *h)
{
	char *end;
	unsigned long v;

	*h = 0;
	if (!s)
		return 0;
	v = strtoul(s, &end, 0);
	if (end == s || *end || v < 0x81000000ul || v > 0x81ffffffful) {
		log_err("invalid SRK handle \"%s\": expected a persistent "
			"handle such as 0x81000001", s);
		return -EINVAL;
	}
	*h = (uint32_t)v;
	return 0;
}

static void pcr_text(uint32_t mask, char *buf, size_t n)
{
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < 24 && o + 4 < n; i++)
		if (mask & (1u << i))
			o += (size_t)snprintf(buf + o, n - o, "%s%d", o ? "," : "", i);
	if (!o)
		snprintf(buf, n, "none");
}

static int tpm2_validate(const json_t *params)
{
	const char *key;
	json_t *v;
	uint8_t blob[BLOB_MAX];

	json_object_foreach((json_t *)params, key, v) {
		if (!strcmp(key, "pcrs")) {
			size_t i;
			json_t *p;
			if (!json_is_array(v) || json_array_size(v) > 24)
				goto bad;
			json_array_foreach(v, i, p)
				if (!json_is_integer(p) || json_integer_value(p) < 0 ||
				    json_integer_value(p) > 23)
					goto bad;
			continue;
		}
		if (strcmp(key, "tcti") && strcmp(key, "srk_handle") &&
		    strcmp(key, "public") && strcmp(key, "private")) {
			log_err("invalid volume config: unknown field \"%.64s\" "
				"in key_source", key);
			return -EINVAL;
		}
		if (!json_is_string(v) || json_string_length(v) >= 2 * BLOB_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v))
			goto bad;
		if ((!strcmp(key, "public") || !strcmp(key, "private")) &&
		    crypto_b64_decode(json_string_value(v), json_string_length(v),
				      blob, sizeof(blob)) <= 0)
			goto bad;
		if (!strcmp(key, "srk_handle")) {
			uint32_t h;
			if (parse_handle(json_string_value(v), &h))
				return -EINVAL;
		}
		continue;
bad:
		log_err("invalid volume config: key_source.%s has a wrong type "
			"or value", key);
		return -EINVAL;
	}
	if (!json_is_string(json_object_get(params, "tcti")) ||
	    !json_is_string(json_object_get(params, "public")) ||
	    !json_is_string(json_object_get(params, "private"))) {
		log_err("invalid volume config: key_source needs tcti, public "
			"and private");
		return -EINVAL;
	}
	return 0;
}

static uint32_t params_pcrs(const json_t *params)
{
	json_t *a = json_object_get(params, "pcrs"), *p;
	uint32_t mask = 0;
	size_t i;

	json_array_foreach(a, i, p)
		mask |= 1u << json_integer_value(p);
	return mask;
}

/* ---- enroll and unlock ---- */

static int tpm2_enroll(const char *arg, const struct kp_options *opt,
		       const char *volume_uuid, uint8_t *key, json_t **params)
{
	const char *tcti = opt && opt->tpm2_tcti ? opt->tpm2_tcti : DEFAULT_TCTI;
	TPM2B_SENSITIVE_CREATE *sens = secmem_alloc(sizeof(*sens));
	TPM2B_PUBLIC tmpl = { 0 }, *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	uint8_t pbuf[BLOB_MAX], vbuf[BLOB_MAX];
	char pb64[2 * BLOB_MAX], vb64[2 * BLOB_MAX];
	size_t poff = 0, voff = 0;
	uint32_t mask, srk;
	json_t *pcrs;
	struct tpm t;
	TSS2_RC rc;
	int r;

	(void)volume_uuid;
	if (!sens)
		return -ENOMEM;
	if (arg) {
		log_err("key source tpm2 takes no argument; use --tpm2-tcti, "
			"--tpm2-pcrs and --tpm2-srk-handle");
		r = -EINVAL;
		goto out_free;
	}
	r = parse_pcrs(opt ? opt->tpm2_pcrs : NULL, &mask);
	if (!r)
		r = parse_handle(opt ? opt->tpm2_srk_handle : NULL, &srk);
	if (!r && strlen(tcti) >= TCTI_MAX)
		r = -EINVAL;
	if (r)
		goto out_free;
	r = tpm_open(&t, tcti);
	if (r)
		goto out_free;
	/* 1. The key, made here; the TPM only keeps it. */
	r = crypto_random_priv(key, KEYPROV_KEY_LEN);
	if (r)
		goto out;
	r = tpm_primary(&t, srk);
	if (r)
		goto out;
	/* 2. The object: keyed hash, bound to PCRs by policy alone when asked. */
	tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
					   TPMA_OBJECT_FIXEDPARENT;
	tmpl.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	if (mask) {
		r = policy_digest(&t, mask, &tmpl.publicArea.authPolicy);
		if (r)
			goto out;
	} else {
		tmpl.publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
	}
	sens->sensitive.data.size = KEYPROV_KEY_LEN;
	memcpy(sens->sensitive.data.buffer, key, KEYPROV_KEY_LEN);
	/* 3. Create in a salted session: the key crosses the bus encrypted. */
	r = tpm_session(&t, TPM2_SE_HMAC,
			TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT |
				TPMA_SESSION_CONTINUESESSION);
	if (r)
		goto out;
	rc = Esys_Create(t.esys, t.primary, t.session, ESYS_TR_NONE,
			 ESYS_TR_NONE, sens, &tmpl, &outside, &none, &priv,
			 &pub, NULL, NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_err("Esys_Create", rc);
		goto out;
	}
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, pbuf, sizeof(pbuf), &poff) ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, vbuf, sizeof(vbuf), &voff)) {
		r = -EIO;
		goto out;
	}
	crypto_b64_encode(pbuf, poff, pb64);
	crypto_b64_encode(vbuf, voff, vb64);
	pcrs = json_array();
	for (int i = 0; i < 24; i++)
		if (mask & (1u << i))
			json_array_append_new(pcrs, json_integer(i));
	*params = json_pack("{s:s, s:o, s:s, s:s}", "tcti", tcti, "pcrs", pcrs,
			    "public", pb64, "private", vb64);
	if (*params && srk) {
		char h[16];
		snprintf(h, sizeof(h), "0x%08x", srk);
		json_object_set_new(*params, "srk_handle", json_string(h));
	}
	r = *params ? 0 : -ENOMEM;
out:
	Esys_Free(pub);
	Esys_Free(priv);
	tpm_close(&t);
	if (r)
		secmem_wipe(key, KEYPROV_KEY_LEN);
out_free:
	secmem_free(sens);
	return r;
}

static int tpm2_unlock(const json_t *params, const char *arg,
		       const char *volume_uuid, uint8_t *key)
{
	const char *env = getenv("ATRESTFS_TPM2_TCTI");
	const char *tcti = env && *env ? env
				       : json_string_value(json_object_get(params, "tcti"));
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	TPM2B_SENSITIVE_DATA *out = NULL;
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST empty = { 0 };
	uint8_t pbuf[BLOB_MAX], vbuf[BLOB_MAX];
	long plen, vlen;
	size_t off = 0;
	uint32_t mask = params_pcrs(params), srk = 0;
	char pcrs[80];
	struct tpm t;
	TSS2_RC rc;
	int r;

	(void)volume_uuid;
	if (arg) {
		log_err("key source tpm2 takes no argument at mount");
		return -EINVAL;
	}
	r = tpm2_validate(params);
	if (r)
		return r;
	parse_handle(json_string_value(json_object_get(params, "srk_handle")), &srk);
	plen = crypto_b64_decode(json_string_value(json_object_get(params, "public")),
				 json_string_length(json_object_get(params, "public")),
				 pbuf, sizeof(pbuf));
	vlen = crypto_b64_decode(json_string_value(json_object_get(params, "private")),
				 json_string_length(json_object_get(params, "private")),
				 vbuf, sizeof(vbuf));
	if (plen <= 0 || vlen <= 0 ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(pbuf, (size_t)plen, &off, &pub) ||
	    off != (size_t)plen ||
	    (off = 0, Tss2_MU_TPM2B_PRIVATE_Unmarshal(vbuf, (size_t)vlen, &off, &priv)) ||
	    off != (size_t)vlen) {
		log_err("TPM: the sealed key blob in the config is corrupt");
		return -EINVAL;
	}
	r = tpm_open(&t, tcti);
	if (r)
		return r;
	r = tpm_primary(&t, srk);
	if (r)
		goto out;
	rc = Esys_Load(t.esys, t.primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		       ESYS_TR_NONE, &priv, &pub, &t.object);
	if (rc != TSS2_RC_SUCCESS) {
		t.object = ESYS_TR_NONE;
		if (rc_is(rc, TPM2_RC_INTEGRITY))
			log_err("TPM: the key was sealed to another TPM, the TPM "
				"was cleared, or the sealed blob is corrupt");
		tss_err("Esys_Load", rc);
		r = -EKEYREJECTED;
		goto out;
	}
	/* Policy session with the PCR assertion, or a plain salted session. */
	/* Unseal has no command parameter: only the response is encrypted. */
	r = tpm_session(&t, mask ? TPM2_SE_POLICY : TPM2_SE_HMAC,
			TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION);
	if (r)
		goto out;
	if (mask) {
		pcr_selection(mask, &sel);
		rc = Esys_PolicyPCR(t.esys, t.session, ESYS_TR_NONE, ESYS_TR_NONE,
				    ESYS_TR_NONE, &empty, &sel);
		if (rc != TSS2_RC_SUCCESS) {
			r = tss_err("Esys_PolicyPCR", rc);
			goto out;
		}
	}
	rc = Esys_Unseal(t.esys, t.object, t.session, ESYS_TR_NONE,
			 ESYS_TR_NONE, &out);
	if (rc != TSS2_RC_SUCCESS) {
		pcr_text(mask, pcrs, sizeof(pcrs));
		if (mask && rc_is(rc, TPM2_RC_POLICY_FAIL))
			log_err("TPM: PCR policy not satisfied: PCRs %s (sha256) "
				"have changed since the key was sealed", pcrs);
		tss_err("Esys_Unseal", rc);
		r = -EKEYREJECTED;
		goto out;
	}
	if (out->size != KEYPROV_KEY_LEN) {
		log_err("TPM: unsealed %u bytes, expected %d", out->size,
			KEYPROV_KEY_LEN);
		r = -EIO;
	} else {
		memcpy(key, out->buffer, KEYPROV_KEY_LEN);
	}
	secmem_wipe(out, sizeof(*out));
	Esys_Free(out);
out:
	tpm_close(&t);
	secmem_wipe(&priv, sizeof(priv));
	return r;
}

static void tpm2_describe(const json_t *params, FILE *out)
{
	char pcrs[80];
	json_t *srk = json_object_get(params, "srk_handle");

	pcr_text(params_pcrs(params), pcrs, sizeof(pcrs));
	fprintf(out, "tpm2 tcti:       %s\n",
		json_string_value(json_object_get(params, "tcti")));
	fprintf(out, "tpm2 pcrs:       %s%s\n", pcrs,
		strcmp(pcrs, "none") ? " (sha256 bank, policy only)" : "");
	fprintf(out, "tpm2 parent:     %s\n",
		srk ? json_string_value(srk) : "ECC P-256 primary (owner hierarchy)");
	fprintf(out, "sealed key:      present (TPM2B_PUBLIC + TPM2B_PRIVATE)\n");
}

static void tpm2_audit_id(const json_t *params, char *buf, size_t n)
{
	char pcrs[80];

	pcr_text(params_pcrs(params), pcrs, sizeof(pcrs));
	snprintf(buf, n, "tpm2:tcti=%s,pcrs=%s",
		 json_string_value(json_object_get(params, "tcti")), pcrs);
}

const struct keyprov kp_tpm2 = {
	.name = "tpm2",
	.enroll = tpm2_enroll,
	.unlock = tpm2_unlock,
	.validate = tpm2_validate,
	.describe = tpm2_describe,
	.audit_id = tpm2_audit_id,
};
