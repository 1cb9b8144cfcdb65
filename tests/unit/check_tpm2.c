// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tpm2 key source's error paths that a healthy swtpm cannot produce,
 * injected with link-time wrapped ESAPI calls (-Wl,--wrap): each wrapper
 * passes through to the real call on a private swtpm this test starts,
 * unless the test arms it to fail. After every path, the TPM must hold no
 * transient object and no session.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>

#include "testutil.h"
#include "keyprov.h"
#include "log.h"

static pid_t swtpm_pid;
static char state[64], tcti[96];

/* Which wrapped call fails next, and with what. */
static const char *fail_call;
static TSS2_RC fail_rc;
static bool short_unseal;

#define WRAP_FAIL(name)                                                        \
	do {                                                                   \
		if (fail_call && !strcmp(fail_call, name))                     \
			return fail_rc;                                        \
	} while (0)

TSS2_RC __real_Esys_CreatePrimary(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR,
				  const TPM2B_SENSITIVE_CREATE *, const TPM2B_PUBLIC *,
				  const TPM2B_DATA *, const TPML_PCR_SELECTION *, ESYS_TR *,
				  TPM2B_PUBLIC **, TPM2B_CREATION_DATA **, TPM2B_DIGEST **,
				  TPMT_TK_CREATION **);
TSS2_RC __wrap_Esys_CreatePrimary(ESYS_CONTEXT *e, ESYS_TR h, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
				  const TPM2B_SENSITIVE_CREATE *in, const TPM2B_PUBLIC *pub,
				  const TPM2B_DATA *o, const TPML_PCR_SELECTION *pcr, ESYS_TR *obj,
				  TPM2B_PUBLIC **a, TPM2B_CREATION_DATA **b, TPM2B_DIGEST **c,
				  TPMT_TK_CREATION **d);
TSS2_RC __wrap_Esys_CreatePrimary(ESYS_CONTEXT *e, ESYS_TR h, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
				  const TPM2B_SENSITIVE_CREATE *in, const TPM2B_PUBLIC *pub,
				  const TPM2B_DATA *o, const TPML_PCR_SELECTION *pcr, ESYS_TR *obj,
				  TPM2B_PUBLIC **a, TPM2B_CREATION_DATA **b, TPM2B_DIGEST **c,
				  TPMT_TK_CREATION **d)
{
	WRAP_FAIL("CreatePrimary");
	return __real_Esys_CreatePrimary(e, h, s1, s2, s3, in, pub, o, pcr, obj, a, b, c, d);
}

TSS2_RC __real_Esys_Create(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR,
			   const TPM2B_SENSITIVE_CREATE *, const TPM2B_PUBLIC *, const TPM2B_DATA *,
			   const TPML_PCR_SELECTION *, TPM2B_PRIVATE **, TPM2B_PUBLIC **,
			   TPM2B_CREATION_DATA **, TPM2B_DIGEST **, TPMT_TK_CREATION **);
TSS2_RC __wrap_Esys_Create(ESYS_CONTEXT *e, ESYS_TR p, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
			   const TPM2B_SENSITIVE_CREATE *in, const TPM2B_PUBLIC *pub,
			   const TPM2B_DATA *o, const TPML_PCR_SELECTION *pcr, TPM2B_PRIVATE **pr,
			   TPM2B_PUBLIC **pu, TPM2B_CREATION_DATA **b, TPM2B_DIGEST **c,
			   TPMT_TK_CREATION **d);
TSS2_RC __wrap_Esys_Create(ESYS_CONTEXT *e, ESYS_TR p, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
			   const TPM2B_SENSITIVE_CREATE *in, const TPM2B_PUBLIC *pub,
			   const TPM2B_DATA *o, const TPML_PCR_SELECTION *pcr, TPM2B_PRIVATE **pr,
			   TPM2B_PUBLIC **pu, TPM2B_CREATION_DATA **b, TPM2B_DIGEST **c,
			   TPMT_TK_CREATION **d)
{
	WRAP_FAIL("Create");
	return __real_Esys_Create(e, p, s1, s2, s3, in, pub, o, pcr, pr, pu, b, c, d);
}

TSS2_RC __real_Esys_StartAuthSession(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR,
				     const TPM2B_NONCE *, TPM2_SE, const TPMT_SYM_DEF *,
				     TPMI_ALG_HASH, ESYS_TR *);
TSS2_RC __wrap_Esys_StartAuthSession(ESYS_CONTEXT *e, ESYS_TR k, ESYS_TR b, ESYS_TR s1, ESYS_TR s2,
				     ESYS_TR s3, const TPM2B_NONCE *n, TPM2_SE t,
				     const TPMT_SYM_DEF *sym, TPMI_ALG_HASH h, ESYS_TR *out);
TSS2_RC __wrap_Esys_StartAuthSession(ESYS_CONTEXT *e, ESYS_TR k, ESYS_TR b, ESYS_TR s1, ESYS_TR s2,
				     ESYS_TR s3, const TPM2B_NONCE *n, TPM2_SE t,
				     const TPMT_SYM_DEF *sym, TPMI_ALG_HASH h, ESYS_TR *out)
{
	WRAP_FAIL("StartAuthSession");
	return __real_Esys_StartAuthSession(e, k, b, s1, s2, s3, n, t, sym, h, out);
}

TSS2_RC __real_Esys_Unseal(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR,
			   TPM2B_SENSITIVE_DATA **);
TSS2_RC __wrap_Esys_Unseal(ESYS_CONTEXT *e, ESYS_TR o, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
			   TPM2B_SENSITIVE_DATA **out);
TSS2_RC __wrap_Esys_Unseal(ESYS_CONTEXT *e, ESYS_TR o, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
			   TPM2B_SENSITIVE_DATA **out)
{
	TSS2_RC rc;

	WRAP_FAIL("Unseal");
	rc = __real_Esys_Unseal(e, o, s1, s2, s3, out);
	if (rc == TSS2_RC_SUCCESS && short_unseal)
		(*out)->size = 16;
	return rc;
}

static int count_handles(void)
{
	char cmd[256], line[256];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "TPM2TOOLS_TCTI='%s' sh -c 'tpm2_getcap handles-transient; "
		 "tpm2_getcap handles-loaded-session; tpm2_getcap handles-saved-session' 2>/dev/null", tcti);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		n++;
	if (p)
		pclose(p);
	return n;
}

static void setup(void)
{
	char port_s[16], ctrl_s[16], srv[96], ctrl[96], st[96];
	int port = 20000 + (int)(getpid() % 20000);

	log_set_level(LOG_LVL_NONE);
	fail_call = NULL;
	short_unseal = false;
	strcpy(state, "/tmp/check_tpm2.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	snprintf(port_s, sizeof(port_s), "%d", port);
	snprintf(ctrl_s, sizeof(ctrl_s), "%d", port + 1);
	snprintf(srv, sizeof(srv), "type=tcp,port=%d,bindaddr=127.0.0.1", port);
	snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
	snprintf(st, sizeof(st), "dir=%s", state);
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
	swtpm_pid = fork();
	if (swtpm_pid == 0) {
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", st, "--server", srv,
		       "--ctrl", ctrl, "--flags", "not-need-init,startup-clear", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 50 && count_handles() < 0; i++)
		usleep(100000);
	usleep(300000);
}

static void teardown(void)
{
	char cmd[128];

	kill(swtpm_pid, SIGTERM);
	waitpid(swtpm_pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	ck_assert_int_eq(system(cmd), 0);
}

static json_t *enroll(uint8_t key[32], const char *pcrs)
{
	struct kp_options opt = { .tpm2_tcti = tcti, .tpm2_pcrs = pcrs };
	json_t *params = NULL;

	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), 0);
	return params;
}

START_TEST(roundtrip_leaves_no_handles)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, NULL);

	ck_assert_int_eq(kp_tpm2.unlock(p, NULL, "u", back), 0);
	ck_assert(!memcmp(key, back, 32));
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(unseal_lockout_flushes_everything)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, "7");

	fail_call = "Unseal";
	fail_rc = TPM2_RC_LOCKOUT;
	ck_assert_int_eq(kp_tpm2.unlock(p, NULL, "u", back), -EKEYREJECTED);
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(unseal_wrong_size_refused)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, NULL);

	short_unseal = true;
	ck_assert_int_eq(kp_tpm2.unlock(p, NULL, "u", back), -EIO);
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(session_failure_flushes_object_and_primary)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, NULL);

	fail_call = "StartAuthSession";
	fail_rc = 0x00000903; /* out of session memory */
	ck_assert_int_eq(kp_tpm2.unlock(p, NULL, "u", back), -EIO);
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(create_failures_at_enroll)
{
	struct kp_options opt = { .tpm2_tcti = tcti };
	uint8_t key[32];
	json_t *params = NULL;

	fail_call = "CreatePrimary";
	fail_rc = TPM2_RC_HIERARCHY;
	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EIO);
	fail_call = "Create";
	fail_rc = TPM2_RC_OBJECT_MEMORY;
	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EIO);
	ck_assert_ptr_null(params);
	ck_assert_int_eq(count_handles(), 0);
}
END_TEST

START_TEST(bad_options_and_blobs)
{
	struct kp_options opt = { .tpm2_tcti = tcti, .tpm2_pcrs = "7,24" };
	uint8_t key[32], back[32];
	json_t *params = NULL, *p;

	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EINVAL);
	opt.tpm2_pcrs = "x";
	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EINVAL);
	opt.tpm2_pcrs = NULL;
	opt.tpm2_srk_handle = "0x1234";
	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EINVAL);
	ck_assert_int_eq(kp_tpm2.enroll("arg", &opt, "u", key, &params), -EINVAL);
	p = enroll(key, NULL);
	json_object_set_new(p, "public", json_string("AAAA"));
	ck_assert_int_eq(kp_tpm2.unlock(p, NULL, "u", back), -EINVAL);
	json_object_set_new(p, "extra", json_true());
	ck_assert_int_eq(kp_tpm2.validate(p), -EINVAL);
	json_decref(p);
	opt.tpm2_srk_handle = NULL;
	opt.tpm2_tcti = "swtpm:host=127.0.0.1,port=1";
	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EHOSTUNREACH);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tpm2");

	if (system("command -v swtpm >/dev/null && command -v tpm2_getcap >/dev/null")) {
		puts("SKIP: swtpm or tpm2-tools missing");
		return 77;
	}
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(roundtrip_leaves_no_handles);
	T(unseal_lockout_flushes_everything);
	T(unseal_wrong_size_refused);
	T(session_failure_flushes_object_and_primary);
	T(create_failures_at_enroll);
	T(bad_options_and_blobs);
	return run_suite(s);
}
