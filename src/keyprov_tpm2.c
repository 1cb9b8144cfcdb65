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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "crypto.h"
#include "jsonsafe.h"
#include "log.h"
#include "secmem.h"

#define DEFAULT_TCTI "device:/dev/tpmrm0"
#define TCTI_MAX 256
#define BLOB_MAX 1024
#define NAME_LEN 34 /* TPM2_ALG_SHA256 + a SHA-256 digest */

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

/* One open TPM connection, the handles this file made on it, and what the
 * error translator needs to name the cause. */
struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR primary;  /* flushed unless persistent */
	bool primary_persistent;
	ESYS_TR object;
	ESYS_TR session;
	const char *tcti_conf;
	uint32_t srk;     /* persistent SRK handle, 0 for the re-created primary */
	uint32_t pcrs;    /* PCR mask of the policy, 0 for none */
};

/*
 * A TSS2_RC is the layer that answered (bits 16-23) and that layer's own
 * code (bits 0-15). A TPM code is format 0 (a whole number: version-1
 * errors and warnings) or format 1 (bit 7 set: an error number in bits 0-5,
 * plus the handle, session or parameter it applies to in the bits above).
 */
#define RC_BASE_MASK 0xffffu
#define RC_FMT1_ERROR_MASK 0x3fu

static TSS2_RC rc_layer(TSS2_RC rc)
{
	return rc & TSS2_RC_LAYER_MASK;
}

static TSS2_RC rc_base(TSS2_RC rc)
{
	return rc & RC_BASE_MASK;
}

/* The TPM's own code with the layer taken off (a resource manager may add
 * its layer to codes it passes through), or 0 when it is not the TPM's. */
static TSS2_RC tpm_code(TSS2_RC rc)
{
	if (rc_layer(rc) != TSS2_TPM_RC_LAYER &&
	    rc_layer(rc) != TSS2_RESMGR_TPM_RC_LAYER)
		return 0;
	return rc & ~TSS2_RC_LAYER_MASK;
}

static bool rc_is_fmt1(TSS2_RC code)
{
	return code & TPM2_RC_FMT1;
}

static TSS2_RC fmt1_error(TSS2_RC code)
{
	return code & RC_FMT1_ERROR_MASK;
}

/* A format-1 TPM code of the given kind, whatever handle/session/parameter
 * number it carries. */
static bool rc_is(TSS2_RC rc, TPM2_RC kind)
{
	TSS2_RC c = tpm_code(rc);

	return rc_is_fmt1(c) && fmt1_error(c) == fmt1_error(kind);
}

/* A format-0 (version 1 error or warning) TPM code, exactly. */
static bool rc_eq(TSS2_RC rc, TPM2_RC code)
{
	TSS2_RC c = tpm_code(rc);

	return !rc_is_fmt1(c) && c == code;
}

/* Not the TPM's answer but the way to it: the TCTI, or a lower layer that
 * lost the connection. */
static bool rc_is_transport(TSS2_RC rc)
{
	return rc_layer(rc) == TSS2_TCTI_RC_LAYER ||
	       (!tpm_code(rc) && (rc_base(rc) == TSS2_BASE_RC_IO_ERROR ||
				  rc_base(rc) == TSS2_BASE_RC_NO_CONNECTION));
}

/* The TSS calls this file makes, for the translator: what failed decides
 * which cause it names. */
enum tss_call {
	CALL_TCTI_INIT,
	CALL_ESYS_INIT,
	CALL_STARTUP,
	CALL_SRK_LOOKUP,
	CALL_CREATE_PRIMARY,
	CALL_START_SESSION,
	CALL_SESSION_ATTRS,
	CALL_FLUSH,
	CALL_POLICY_PCR,
	CALL_POLICY_DIGEST,
	CALL_GET_NAME,
	CALL_CREATE,
	CALL_LOAD,
	CALL_UNSEAL,
};

static const char *const call_name[] = {
	[CALL_TCTI_INIT] = "Tss2_TctiLdr_Initialize",
	[CALL_ESYS_INIT] = "Esys_Initialize",
	[CALL_STARTUP] = "Esys_Startup",
	[CALL_SRK_LOOKUP] = "Esys_TR_FromTPMPublic",
	[CALL_CREATE_PRIMARY] = "Esys_CreatePrimary",
	[CALL_START_SESSION] = "Esys_StartAuthSession",
	[CALL_SESSION_ATTRS] = "Esys_TRSess_SetAttributes",
	[CALL_FLUSH] = "Esys_FlushContext",
	[CALL_POLICY_PCR] = "Esys_PolicyPCR",
	[CALL_POLICY_DIGEST] = "Esys_PolicyGetDigest",
	[CALL_GET_NAME] = "Esys_TR_GetName",
	[CALL_CREATE] = "Esys_Create",
	[CALL_LOAD] = "Esys_Load",
	[CALL_UNSEAL] = "Esys_Unseal",
};

/* A failure while opening the connection: the TPM was not reached. */
static bool call_opens(enum tss_call call)
{
	return call == CALL_TCTI_INIT || call == CALL_ESYS_INIT ||
	       call == CALL_STARTUP;
}

/*
 * The one translator from the TSS error space: one line that names the
 * cause an operator can act on, then the failing call, the raw code and
 * its Tss2_RC_Decode() text; returns the errno for that cause.
 */
static int tss_fail(const struct tpm *t, enum tss_call call, TSS2_RC rc)
{
	char pcrs[80], why[160];
	int err = -EIO;

	if (call_opens(call) || rc_is_transport(rc)) {
		log_err("TPM unreachable through TCTI \"%s\" (%s: 0x%08x %s)",
			LOG_ESC(t->tcti_conf), call_name[call], rc,
			Tss2_RC_Decode(rc));
		return -EHOSTUNREACH;
	}
	if (call == CALL_SRK_LOOKUP) {
		snprintf(why, sizeof(why), "no persistent SRK at handle 0x%08x",
			 t->srk);
		err = -ENOENT;
	} else if (rc_is(rc, TPM2_RC_POLICY_FAIL) && t->pcrs) {
		pcr_text(t->pcrs, pcrs, sizeof(pcrs));
		snprintf(why, sizeof(why), "PCR policy not satisfied: PCRs %s "
			 "(sha256) have changed since the key was sealed", pcrs);
		err = -EKEYREJECTED;
	} else if (call == CALL_LOAD && rc_is(rc, TPM2_RC_INTEGRITY)) {
		snprintf(why, sizeof(why), "the key was sealed to another TPM, "
			 "the TPM was cleared, or the sealed blob is corrupt");
		err = -EKEYREJECTED;
	} else if (rc_eq(rc, TPM2_RC_AUTH_UNAVAILABLE) ||
		   rc_is(rc, TPM2_RC_POLICY_FAIL)) {
		snprintf(why, sizeof(why), "the sealed object refuses this "
			 "authorization: its policy and the config's PCR list "
			 "disagree");
		err = -EKEYREJECTED;
	} else if (rc_eq(rc, TPM2_RC_LOCKOUT)) {
		snprintf(why, sizeof(why), "the TPM is in dictionary-attack "
			 "lockout");
		err = -EBUSY;
	} else if (rc_eq(rc, TPM2_RC_OBJECT_MEMORY) ||
		   rc_eq(rc, TPM2_RC_SESSION_MEMORY) ||
		   rc_eq(rc, TPM2_RC_MEMORY) ||
		   rc_eq(rc, TPM2_RC_SESSION_HANDLES) ||
		   rc_eq(rc, TPM2_RC_OBJECT_HANDLES)) {
		snprintf(why, sizeof(why), "the TPM is out of object or session "
			 "slots (handles left by another program? "
			 "tpm2_flushcontext -t / -l)");
		err = -ENOSPC;
	} else if (rc_eq(rc, TPM2_RC_RETRY) || rc_eq(rc, TPM2_RC_YIELDED) ||
		   rc_eq(rc, TPM2_RC_TESTING) || rc_eq(rc, TPM2_RC_NV_RATE) ||
		   rc_eq(rc, TPM2_RC_CANCELED)) {
		snprintf(why, sizeof(why), "the TPM is busy; try again");
		err = -EAGAIN;
	} else if (rc_eq(rc, TPM2_RC_FAILURE)) {
		snprintf(why, sizeof(why), "the TPM is in failure mode");
	} else if (call == CALL_LOAD && tpm_code(rc)) {
		snprintf(why, sizeof(why), "the sealed blob does not load under "
			 "this TPM's storage key (another TPM, or corrupt)");
		err = -EKEYREJECTED;
	} else if (!tpm_code(rc) && rc_base(rc) == TSS2_BASE_RC_MEMORY) {
		snprintf(why, sizeof(why), "out of memory");
		err = -ENOMEM;
	} else {
		snprintf(why, sizeof(why), "command failed");
	}
	log_err("TPM: %s (%s: 0x%08x %s)", why, call_name[call], rc,
		Tss2_RC_Decode(rc));
	return err;
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

static int tpm_open(struct tpm *t, const char *tcti, uint32_t srk,
		    uint32_t pcrs)
{
	enum tss_call call = CALL_TCTI_INIT;
	TSS2_RC rc;
	int r;

	memset(t, 0, sizeof(*t));
	t->primary = t->object = t->session = ESYS_TR_NONE;
	t->tcti_conf = tcti;
	t->srk = srk;
	t->pcrs = pcrs;
	/* libtss2 prints its own ERROR lines; ours say more, once. */
	setenv("TSS2_LOG", "all+none", 0);
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc == TSS2_RC_SUCCESS) {
		call = CALL_ESYS_INIT;
		rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	}
	if (rc == TSS2_RC_SUCCESS) {
		call = CALL_STARTUP;
		rc = Esys_Startup(t->esys, TPM2_SU_CLEAR);
		if (rc_eq(rc, TPM2_RC_INITIALIZE)) /* already started: fine */
			rc = TSS2_RC_SUCCESS;
	}
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_fail(t, call, rc);
		tpm_close(t);
		return r;
	}
	return 0;
}

/* The storage key the sealed object lives under. */
static int tpm_primary(struct tpm *t)
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

	if (t->srk) {
		rc = Esys_TR_FromTPMPublic(t->esys, t->srk, ESYS_TR_NONE,
					   ESYS_TR_NONE, ESYS_TR_NONE,
					   &t->primary);
		t->primary_persistent = true;
		if (rc != TSS2_RC_SUCCESS) {
			t->primary = ESYS_TR_NONE;
			return tss_fail(t, CALL_SRK_LOOKUP, rc);
		}
		return 0;
	}
	rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
				ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
				&outside, &none, &t->primary, NULL, NULL,
				NULL, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		t->primary = ESYS_TR_NONE;
		return tss_fail(t, CALL_CREATE_PRIMARY, rc);
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
		return tss_fail(t, CALL_START_SESSION, rc);
	}
	if (type == TPM2_SE_TRIAL)
		return 0;
	rc = Esys_TRSess_SetAttributes(t->esys, t->session, attrs, 0xff);
	return rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, CALL_SESSION_ATTRS, rc);
}

static int flush_session(struct tpm *t)
{
	TSS2_RC rc = Esys_FlushContext(t->esys, t->session);

	t->session = ESYS_TR_NONE;
	return rc == TSS2_RC_SUCCESS ? 0 : tss_fail(t, CALL_FLUSH, rc);
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
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_fail(t, CALL_POLICY_PCR, rc);
		flush_session(t);
		return r;
	}
	rc = Esys_PolicyGetDigest(t->esys, t->session, ESYS_TR_NONE,
				  ESYS_TR_NONE, ESYS_TR_NONE, &d);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_fail(t, CALL_POLICY_DIGEST, rc);
		flush_session(t);
		return r;
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
	if (end == s || *end || v < 0x81000000ul || v > 0x81fffffful) {
		log_err("invalid SRK handle \"%s\": expected a persistent "
			"handle such as 0x81000001", s);
		return -EINVAL;
	}
	*h = (uint32_t)v;
	return 0;
}

/* Ascending, no duplicates, 0..23: as enroll writes it (absent: none). */
static bool pcrs_ok(const json_t *a)
{
	json_int_t last = -1;
	json_t *p;
	size_t i;

	if (!a)
		return true;
	if (!json_is_array(a) || json_array_size(a) > 24)
		return false;
	json_array_foreach(a, i, p) {
		if (!json_is_integer(p) || json_integer_value(p) <= last ||
		    json_integer_value(p) > 23)
			return false;
		last = json_integer_value(p);
	}
	return true;
}

static int tpm2_validate(const json_t *params)
{
	static const char *const fields[] = { "pcrs", "srk_handle", "public",
					      "private", "parent_name", NULL };
	uint8_t blob[BLOB_MAX], name[NAME_LEN];
	const char *srk;
	uint32_t h;

	/* A TCTI names a library to load and, with "cmd:", a command to run:
	 * never taken from the volume. */
	if (json_object_get(params, "tcti")) {
		log_err("invalid volume config: key_source.tcti is refused: the "
			"TPM TCTI comes from the node (mount option tpm2_tcti=, "
			"ATRESTFS_TPM2_TCTI or " DEFAULT_TCTI "), never from the "
			"volume");
		return -EINVAL;
	}
	if (jsonsafe_only_keys(params, fields, KEYPROV_DOC) ||
	    jsonsafe_get_b64(params, "public", blob, 1, BLOB_MAX,
			     KEYPROV_DOC) < 0 ||
	    jsonsafe_get_b64(params, "private", blob, 1, BLOB_MAX,
			     KEYPROV_DOC) < 0 ||
	    jsonsafe_get_b64(params, "parent_name", name, NAME_LEN, NAME_LEN,
			     KEYPROV_DOC) < 0 ||
	    jsonsafe_opt_str(params, "srk_handle", 64, &srk, KEYPROV_DOC))
		return -EINVAL;
	if (srk && parse_handle(srk, &h))
		return -EINVAL;
	/* nameAlg SHA-256 + digest: what a P-256 or SRK parent has. */
	if (name[0] != 0x00 || name[1] != 0x0b) {
		log_err("invalid volume config: key_source.parent_name is not "
			"a SHA-256 TPM name");
		return -EINVAL;
	}
	if (!pcrs_ok(json_object_get(params, "pcrs"))) {
		log_err("invalid volume config: key_source.pcrs is not an "
			"ascending list of PCR numbers 0 to 23");
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
		if (json_is_integer(p) && json_integer_value(p) >= 0 &&
		    json_integer_value(p) < 24)
			mask |= 1u << json_integer_value(p);
	return mask;
}

/* The parent key's name, as the TPM reports it (recorded, then checked). */
static int parent_name(struct tpm *t, uint8_t name[NAME_LEN])
{
	TPM2B_NAME *n = NULL;
	TSS2_RC rc = Esys_TR_GetName(t->esys, t->primary, &n);

	if (rc != TSS2_RC_SUCCESS)
		return tss_fail(t, CALL_GET_NAME, rc);
	if (n->size != NAME_LEN) {
		log_err("TPM: the storage key's name is %u bytes, expected a "
			"SHA-256 name", n->size);
		Esys_Free(n);
		return -EIO;
	}
	memcpy(name, n->name, NAME_LEN);
	Esys_Free(n);
	return 0;
}

/* ---- enroll and unlock ---- */

/* The TCTI comes from the node only: the option given (create's
 * --tpm2-tcti, the mount's tpm2_tcti=), else ATRESTFS_TPM2_TCTI, else the
 * kernel's resource manager. */
static const char *node_tcti(const char *given)
{
	const char *env = getenv("ATRESTFS_TPM2_TCTI");

	if (given)
		return given;
	return env && *env ? env : DEFAULT_TCTI;
}

static int tcti_check(const char *tcti)
{
	if (*tcti && strlen(tcti) < TCTI_MAX)
		return 0;
	log_err("invalid TCTI \"%.64s\": empty or longer than %d bytes",
		LOG_ESC(tcti), TCTI_MAX - 1);
	return -EINVAL;
}

static int tpm2_enroll(const char *arg, const struct kp_options *opt,
		       const char *volume_uuid, uint8_t *key, json_t **params)
{
	const char *tcti = node_tcti(kp_option(opt, "tpm2-tcti"));
	TPM2B_SENSITIVE_CREATE *sens = secmem_alloc(sizeof(*sens));
	TPM2B_PUBLIC tmpl = { 0 }, *pub = NULL;
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_DATA outside = { 0 };
	TPML_PCR_SELECTION none = { 0 };
	uint8_t pbuf[BLOB_MAX], vbuf[BLOB_MAX], name[NAME_LEN];
	char pb64[2 * BLOB_MAX], vb64[2 * BLOB_MAX], nb64[2 * NAME_LEN];
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
	r = parse_pcrs(kp_option(opt, "tpm2-pcrs"), &mask);
	if (!r)
		r = parse_handle(kp_option(opt, "tpm2-srk-handle"), &srk);
	if (!r)
		r = tcti_check(tcti);
	if (r)
		goto out_free;
	r = tpm_open(&t, tcti, srk, mask);
	if (r)
		goto out_free;
	/* 1. The key, made here; the TPM only keeps it. */
	r = crypto_random_priv(key, KEYPROV_KEY_LEN);
	if (!r)
		r = tpm_primary(&t);
	if (!r)
		r = parent_name(&t, name);
	if (r)
		goto out;
	/* 2. The object: keyed hash, bound to PCRs by policy alone when asked;
	 * noDA: an unattended node must never be locked out by its own key. */
	tmpl.publicArea.type = TPM2_ALG_KEYEDHASH;
	tmpl.publicArea.nameAlg = TPM2_ALG_SHA256;
	tmpl.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM |
					   TPMA_OBJECT_FIXEDPARENT |
					   TPMA_OBJECT_NODA;
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
		r = tss_fail(&t, CALL_CREATE, rc);
		goto out;
	}
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, pbuf, sizeof(pbuf), &poff) ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(priv, vbuf, sizeof(vbuf), &voff)) {
		log_err("TPM: the sealed object does not fit in %d bytes",
			BLOB_MAX);
		r = -EIO;
		goto out;
	}
	crypto_b64_encode(pbuf, poff, pb64);
	crypto_b64_encode(vbuf, voff, vb64);
	crypto_b64_encode(name, NAME_LEN, nb64);
	pcrs = json_array();
	for (int i = 0; pcrs && i < 24; i++)
		if (mask & (1u << i))
			json_array_append_new(pcrs, json_integer(i));
	*params = json_pack("{s:o*, s:s, s:s, s:s}", "pcrs", pcrs, "public", pb64, "private", vb64,
			    "parent_name", nb64);
	if (*params && srk) {
		char h[16];
		snprintf(h, sizeof(h), "0x%08x", srk);
		json_object_set_new(*params, "srk_handle", json_string(h));
	}
	r = *params && json_object_get(*params, "pcrs") ? 0 : -ENOMEM;
	if (r) {
		json_decref(*params);
		*params = NULL;
	}
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

/*
 * The object's own attributes must agree with the config's PCR list before
 * anything is sent: a policy-only object for a PCR list, a password object
 * for none (otherwise an edited list would only show up as a TPM error).
 */
static int check_object(const TPM2B_PUBLIC *pub, uint32_t mask)
{
	const TPMT_PUBLIC *a = &pub->publicArea;
	bool policy_only = !(a->objectAttributes & TPMA_OBJECT_USERWITHAUTH);

	if (a->type != TPM2_ALG_KEYEDHASH || a->nameAlg != TPM2_ALG_SHA256 ||
	    policy_only != (mask != 0) ||
	    (mask && a->authPolicy.size != 32)) {
		log_err("TPM: the sealed object in the config does not match "
			"its PCR list (config edited or corrupt)");
		return -EINVAL;
	}
	return 0;
}

static int tpm2_unlock(const json_t *params, const char *arg,
		       const char *volume_uuid, uint8_t *key)
{
	const char *tcti = node_tcti(arg);
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	TPM2B_SENSITIVE_DATA *out = NULL;
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST empty = { 0 };
	uint8_t pbuf[BLOB_MAX], vbuf[BLOB_MAX], want[BLOB_MAX], name[NAME_LEN];
	long plen, vlen;
	size_t off = 0;
	uint32_t mask, srk = 0;
	struct tpm t;
	TSS2_RC rc;
	int r;

	(void)volume_uuid;
	r = tpm2_validate(params);
	if (r)
		return r;
	r = tcti_check(tcti);
	if (r)
		return r;
	mask = params_pcrs(params);
	parse_handle(json_string_value(json_object_get(params, "srk_handle")), &srk);
	plen = jsonsafe_get_b64(params, "public", pbuf, 1, sizeof(pbuf),
				KEYPROV_DOC);
	vlen = jsonsafe_get_b64(params, "private", vbuf, 1, sizeof(vbuf),
				KEYPROV_DOC);
	if (plen <= 0 || vlen <= 0 ||
	    Tss2_MU_TPM2B_PUBLIC_Unmarshal(pbuf, (size_t)plen, &off, &pub) ||
	    off != (size_t)plen ||
	    (off = 0, Tss2_MU_TPM2B_PRIVATE_Unmarshal(vbuf, (size_t)vlen, &off, &priv)) ||
	    off != (size_t)vlen) {
		log_err("TPM: the sealed key blob in the config is corrupt");
		return -EINVAL;
	}
	r = check_object(&pub, mask);
	if (r)
		return r;
	jsonsafe_get_b64(params, "parent_name", want, NAME_LEN, NAME_LEN,
			 KEYPROV_DOC);
	r = tpm_open(&t, tcti, srk, mask);
	if (r)
		return r;
	r = tpm_primary(&t);
	if (r)
		goto out;
	/* Load carries no secret: the private part is the TPM's ciphertext. */
	rc = Esys_Load(t.esys, t.primary, ESYS_TR_PASSWORD, ESYS_TR_NONE,
		       ESYS_TR_NONE, &priv, &pub, &t.object);
	if (rc != TSS2_RC_SUCCESS) {
		t.object = ESYS_TR_NONE;
		r = tss_fail(&t, CALL_LOAD, rc);
		goto out;
	}
	/* The salt goes to the parent key: it must be the one sealed under,
	 * not a key something between us and the TPM put in its place. */
	r = parent_name(&t, name);
	if (r)
		goto out;
	if (memcmp(name, want, NAME_LEN)) {
		log_err("TPM: the storage key is not the one the volume key was "
			"sealed under (another TPM, or a device in the middle)");
		r = -EKEYREJECTED;
		goto out;
	}
	/* Policy session with the PCR assertion, or a plain salted session.
	 * Unseal has no command parameter: only the response is encrypted. */
	r = tpm_session(&t, mask ? TPM2_SE_POLICY : TPM2_SE_HMAC,
			TPMA_SESSION_ENCRYPT | TPMA_SESSION_CONTINUESESSION);
	if (r)
		goto out;
	if (mask) {
		pcr_selection(mask, &sel);
		rc = Esys_PolicyPCR(t.esys, t.session, ESYS_TR_NONE, ESYS_TR_NONE,
				    ESYS_TR_NONE, &empty, &sel);
		if (rc != TSS2_RC_SUCCESS) {
			r = tss_fail(&t, CALL_POLICY_PCR, rc);
			goto out;
		}
	}
	rc = Esys_Unseal(t.esys, t.object, t.session, ESYS_TR_NONE,
			 ESYS_TR_NONE, &out);
	if (rc != TSS2_RC_SUCCESS) {
		r = tss_fail(&t, CALL_UNSEAL, rc);
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
	fprintf(out, "tpm2 pcrs:       %s%s\n", pcrs,
		strcmp(pcrs, "none") ? " (sha256 bank, policy only)" : "");
	fprintf(out, "tpm2 parent:     %s\n",
		srk ? LOG_ESC(json_string_value(srk))
		    : "ECC P-256 primary (owner hierarchy)");
	fprintf(out, "sealed key:      present (TPM2B_PUBLIC + TPM2B_PRIVATE)\n");
}

static void tpm2_audit_id(const json_t *params, char *buf, size_t n)
{
	char pcrs[80];

	pcr_text(params_pcrs(params), pcrs, sizeof(pcrs));
	snprintf(buf, n, "tpm2:pcrs=%s", pcrs);
}

static const struct kp_pin tpm2_pins[] = {
	{ "pcrs", "tpm2_pcrs", KP_PIN_PCRS, 0 },
	{ "srk_handle", "tpm2_srk", KP_PIN_HANDLE, 0 },
	{ NULL, NULL, 0, 0 },
};

static const char *const tpm2_options[] = { "tpm2-tcti", "tpm2-pcrs",
					    "tpm2-srk-handle", NULL };

const struct keyprov kp_tpm2 = {
	.name = "tpm2",
	.pins = tpm2_pins,
	.options = tpm2_options,
	.usage = "  --key-source tpm2           seal the key to this node's "
		 "TPM 2.0\n"
		 "      --tpm2-tcti STRING      TCTI (default " DEFAULT_TCTI ")\n"
		 "      --tpm2-pcrs LIST        bind to SHA-256 PCRs, e.g. 7 or "
		 "0,2,7\n"
		 "      --tpm2-srk-handle H     seal under a persistent SRK\n",
	.enroll = tpm2_enroll,
	.unlock = tpm2_unlock,
	.validate = tpm2_validate,
	.describe = tpm2_describe,
	.audit_id = tpm2_audit_id,
};
