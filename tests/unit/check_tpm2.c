// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tpm2 key source against a private swtpm this test starts on
 * 127.0.0.1 (one per test case, fresh state): round trips, the errors a
 * real TPM gives (PCR changed, blob flipped, no SRK, TPM gone), and the
 * errors a healthy swtpm cannot produce, injected with link-time wrapped
 * ESAPI calls (-Wl,--wrap): each wrapper passes through to the real call
 * unless the test arms it. Every case checks the errno, the message (cause
 * plus raw TSS code), and that the TPM holds no transient object and no
 * session afterwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tss2/tss2_esys.h>

#include "testutil.h"
#include "crypto.h"
#include "keyprov.h"
#include "log.h"

static pid_t swtpm_pid;
static char state[64], tcti[96];

/* Which wrapped call fails next, with what; and the other tricks. */
static const char *fail_call;
static TSS2_RC fail_rc;
static bool short_unseal, flip_name;
static int esys_inits;

#define WRAP(name, params, args)                                               \
	TSS2_RC __real_##name params;                                          \
	TSS2_RC __wrap_##name params;                                          \
	TSS2_RC __wrap_##name params                                           \
	{                                                                      \
		if (!strcmp(#name, "Esys_Initialize"))                         \
			esys_inits++;                                          \
		if (fail_call && !strcmp(fail_call, #name))                    \
			return fail_rc;                                        \
		return __real_##name args;                                     \
	}

WRAP(Esys_Initialize,
     (ESYS_CONTEXT **e, TSS2_TCTI_CONTEXT *t, TSS2_ABI_VERSION *v), (e, t, v))
WRAP(Esys_Startup, (ESYS_CONTEXT *e, TPM2_SU su), (e, su))
WRAP(Esys_CreatePrimary,
     (ESYS_CONTEXT *e, ESYS_TR h, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
      const TPM2B_SENSITIVE_CREATE *in, const TPM2B_PUBLIC *pub,
      const TPM2B_DATA *o, const TPML_PCR_SELECTION *pcr, ESYS_TR *obj,
      TPM2B_PUBLIC **a, TPM2B_CREATION_DATA **b, TPM2B_DIGEST **c,
      TPMT_TK_CREATION **d),
     (e, h, s1, s2, s3, in, pub, o, pcr, obj, a, b, c, d))
WRAP(Esys_Create,
     (ESYS_CONTEXT *e, ESYS_TR p, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
      const TPM2B_SENSITIVE_CREATE *in, const TPM2B_PUBLIC *pub,
      const TPM2B_DATA *o, const TPML_PCR_SELECTION *pcr, TPM2B_PRIVATE **pr,
      TPM2B_PUBLIC **pu, TPM2B_CREATION_DATA **b, TPM2B_DIGEST **c,
      TPMT_TK_CREATION **d),
     (e, p, s1, s2, s3, in, pub, o, pcr, pr, pu, b, c, d))
WRAP(Esys_StartAuthSession,
     (ESYS_CONTEXT *e, ESYS_TR k, ESYS_TR b, ESYS_TR s1, ESYS_TR s2,
      ESYS_TR s3, const TPM2B_NONCE *n, TPM2_SE t, const TPMT_SYM_DEF *sym,
      TPMI_ALG_HASH h, ESYS_TR *out),
     (e, k, b, s1, s2, s3, n, t, sym, h, out))
WRAP(Esys_Load,
     (ESYS_CONTEXT *e, ESYS_TR p, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
      const TPM2B_PRIVATE *pr, const TPM2B_PUBLIC *pu, ESYS_TR *obj),
     (e, p, s1, s2, s3, pr, pu, obj))
WRAP(Esys_PolicyPCR,
     (ESYS_CONTEXT *e, ESYS_TR s, ESYS_TR s1, ESYS_TR s2, ESYS_TR s3,
      const TPM2B_DIGEST *d, const TPML_PCR_SELECTION *sel),
     (e, s, s1, s2, s3, d, sel))

TSS2_RC __real_Esys_Unseal(ESYS_CONTEXT *, ESYS_TR, ESYS_TR, ESYS_TR, ESYS_TR,
			   TPM2B_SENSITIVE_DATA **);
TSS2_RC __wrap_Esys_Unseal(ESYS_CONTEXT *e, ESYS_TR o, ESYS_TR s1, ESYS_TR s2,
			   ESYS_TR s3, TPM2B_SENSITIVE_DATA **out);
TSS2_RC __wrap_Esys_Unseal(ESYS_CONTEXT *e, ESYS_TR o, ESYS_TR s1, ESYS_TR s2,
			   ESYS_TR s3, TPM2B_SENSITIVE_DATA **out)
{
	TSS2_RC rc;

	if (fail_call && !strcmp(fail_call, "Esys_Unseal"))
		return fail_rc;
	rc = __real_Esys_Unseal(e, o, s1, s2, s3, out);
	if (rc == TSS2_RC_SUCCESS && short_unseal)
		(*out)->size = 16;
	return rc;
}

/* A device in the middle would show a storage key of its own. */
TSS2_RC __real_Esys_TR_GetName(ESYS_CONTEXT *, ESYS_TR, TPM2B_NAME **);
TSS2_RC __wrap_Esys_TR_GetName(ESYS_CONTEXT *e, ESYS_TR h, TPM2B_NAME **n);
TSS2_RC __wrap_Esys_TR_GetName(ESYS_CONTEXT *e, ESYS_TR h, TPM2B_NAME **n)
{
	TSS2_RC rc = __real_Esys_TR_GetName(e, h, n);

	if (rc == TSS2_RC_SUCCESS && flip_name)
		(*n)->name[10] ^= 1;
	return rc;
}

/* ---- the swtpm, the handle count, the captured messages ---- */

static int tcp_port_free(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int s = socket(AF_INET, SOCK_STREAM, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static int tcp_up(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int s = socket(AF_INET, SOCK_STREAM, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static int tpm_cmd(const char *cmd)
{
	char line[512];

	snprintf(line, sizeof(line), "TPM2TOOLS_TCTI='%s' %s >/dev/null 2>&1",
		 tcti, cmd);
	return system(line);
}

/* Transient objects and sessions the TPM holds (one line each), or -1. */
static int count_handles(void)
{
	char cmd[256], line[256];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "TPM2TOOLS_TCTI='%s' sh -c 'tpm2_getcap handles-transient && "
		 "tpm2_getcap handles-loaded-session && "
		 "tpm2_getcap handles-saved-session' 2>/dev/null || echo FAILED",
		 tcti);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p))
		n = strstr(line, "FAILED") ? -1000 : n + 1;
	pclose(p);
	return n < 0 ? -1 : n;
}

static void setup(void)
{
	char srv[96], ctrl[96], st[96];
	int port = 0;

	log_set_level(LOG_LVL_NONE);
	fail_call = NULL;
	short_unseal = flip_name = false;
	unsetenv("ATRESTFS_TPM2_TCTI");
	strcpy(state, "/tmp/check_tpm2.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	/* The swtpm TCTI always uses port + 1 for control. */
	for (int i = 0; i < 50 && !port; i++) {
		port = 20000 + (int)((getpid() * 7 + i * 131) % 40000);
		if (!tcp_port_free(port) || !tcp_port_free(port + 1))
			port = 0;
	}
	ck_assert_int_ne(port, 0);
	snprintf(srv, sizeof(srv), "type=tcp,port=%d,bindaddr=127.0.0.1", port);
	snprintf(ctrl, sizeof(ctrl), "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
	snprintf(st, sizeof(st), "dir=%s", state);
	snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", port);
	swtpm_pid = fork();
	ck_assert_int_ge(swtpm_pid, 0);
	if (swtpm_pid == 0) {
		execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", st,
		       "--server", srv, "--ctrl", ctrl, "--flags",
		       "not-need-init,startup-clear", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !(tcp_up(port) && tcp_up(port + 1)); i++)
		usleep(50000);
	ck_assert_int_eq(count_handles(), 0);
}

static void teardown(void)
{
	char cmd[128];

	if (swtpm_pid > 0) {
		kill(swtpm_pid, SIGTERM);
		waitpid(swtpm_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
	ck_assert_int_eq(system(cmd), 0);
}

static char msgs[8192];
static int saved_stderr = -1;
static FILE *cap;

static void cap_begin(void)
{
	fflush(stderr);
	cap = tmpfile();
	ck_assert_ptr_nonnull(cap);
	saved_stderr = dup(2);
	dup2(fileno(cap), 2);
	log_set_level(LOG_LVL_ERR);
}

static const char *cap_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(cap);
	n = fread(msgs, 1, sizeof(msgs) - 1, cap);
	msgs[n] = '\0';
	fclose(cap);
	log_set_level(LOG_LVL_NONE);
	return msgs;
}

/* EXPR must return ERR and say every one of the strings, in one line. */
#define EXPECT(expr, err, ...)                                                 \
	do {                                                                   \
		const char *want_[] = { __VA_ARGS__, NULL };                   \
		const char *got_, *line_;                                      \
		int r_;                                                        \
		cap_begin();                                                   \
		r_ = (expr);                                                   \
		got_ = cap_end();                                              \
		ck_assert_msg(r_ == (err), "%s: %d, expected %d (%s)", #expr,  \
			      r_, (err), got_);                                \
		line_ = strstr(got_, want_[0]);                                \
		ck_assert_msg(line_, "no \"%s\" in: %s", want_[0], got_);      \
		for (int i_ = 1; want_[i_]; i_++) {                            \
			const char *at_ = strstr(line_, want_[i_]);            \
			const char *nl_ = strchr(line_, '\n');                 \
			ck_assert_msg(at_ && (!nl_ || at_ < nl_),              \
				      "no \"%s\" in the line: %s", want_[i_],  \
				      got_);                                   \
		}                                                              \
	} while (0)

/* The create options --tpm2-tcti, --tpm2-pcrs, --tpm2-srk-handle (NULL: not given). */
static struct kp_options opts(const char *conf, const char *pcrs, const char *srk)
{
	struct kp_options o = { 0 };

	if (conf)
		kp_option_add(&o, "tpm2-tcti", conf);
	if (pcrs)
		kp_option_add(&o, "tpm2-pcrs", pcrs);
	if (srk)
		kp_option_add(&o, "tpm2-srk-handle", srk);
	return o;
}

static json_t *enroll(uint8_t key[32], const char *pcrs)
{
	struct kp_options opt = opts(tcti, pcrs, NULL);
	json_t *params = NULL;

	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), 0);
	ck_assert_int_eq(kp_tpm2.validate(params), 0);
	return params;
}

static int unlock(json_t *p, uint8_t back[32])
{
	return kp_tpm2.unlock(p, tcti, "u", back);
}

/* ---- round trips ---- */

START_TEST(roundtrip_without_and_with_pcrs)
{
	const char *sets[] = { NULL, "7", "0,2,7", "23" };
	uint8_t key[32], back[32];

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		json_t *p = enroll(key, sets[i]);

		memset(back, 0, sizeof(back));
		ck_assert_int_eq(unlock(p, back), 0);
		ck_assert(!memcmp(key, back, 32));
		ck_assert_int_eq(count_handles(), 0);
		json_decref(p);
	}
}
END_TEST

START_TEST(startup_already_done_is_fine)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, NULL);

	fail_call = "Esys_Startup";
	fail_rc = TPM2_RC_INITIALIZE;
	ck_assert_int_eq(unlock(p, back), 0);
	ck_assert(!memcmp(key, back, 32));
	json_decref(p);
}
END_TEST

/* The TCTI comes from the node: the caller's, else the environment, else
 * the default; a TCTI in the config is refused before anything loads. */
START_TEST(tcti_from_the_node_only)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, "7");

	ck_assert_ptr_null(json_object_get(p, "tcti"));
	setenv("ATRESTFS_TPM2_TCTI", "swtpm:host=127.0.0.1,port=1", 1);
	EXPECT(kp_tpm2.unlock(p, NULL, "u", back), -EHOSTUNREACH,
	       "TPM unreachable", "port=1");
	ck_assert_int_eq(unlock(p, back), 0); /* the caller's wins */
	ck_assert(!memcmp(key, back, 32));
	setenv("ATRESTFS_TPM2_TCTI", tcti, 1);
	ck_assert_int_eq(kp_tpm2.unlock(p, NULL, "u", back), 0);
	unsetenv("ATRESTFS_TPM2_TCTI");
	EXPECT(kp_tpm2.unlock(p, NULL, "u", back), -EHOSTUNREACH,
	       "TPM unreachable through TCTI \"device:/dev/tpmrm0\"");
	esys_inits = 0;
	json_object_set_new(p, "tcti", json_string(tcti));
	EXPECT(unlock(p, back), -EINVAL, "key_source.tcti is refused");
	ck_assert_int_eq(esys_inits, 0);
	json_decref(p);
}
END_TEST

/* ---- what a real TPM says ---- */

START_TEST(pcr_changed_names_the_pcrs)
{
	uint8_t key[32], back[32];
	json_t *p7 = enroll(key, "7"), *p027 = enroll(key, "0,2,7");
	json_t *none = enroll(key, NULL);

	ck_assert_int_eq(tpm_cmd("tpm2_pcrextend 7:sha256=aaaaaaaaaaaaaaaaaaaaaaaa"
				 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 0);
	EXPECT(unlock(p7, back), -EKEYREJECTED,
	       "PCR policy not satisfied: PCRs 7 (sha256)", "0x0000099d");
	EXPECT(unlock(p027, back), -EKEYREJECTED,
	       "PCR policy not satisfied: PCRs 0,2,7 (sha256)", "Esys_Unseal",
	       "0x0000099d", "policy check failed");
	ck_assert_int_eq(count_handles(), 0);
	ck_assert_int_eq(unlock(none, back), 0);
	ck_assert(!memcmp(key, back, 32));
	json_decref(p7);
	json_decref(p027);
	json_decref(none);
}
END_TEST

START_TEST(flipped_private_blob_is_another_tpm_or_corrupt)
{
	uint8_t key[32], back[32], blob[1024];
	char b64[2048];
	json_t *p = enroll(key, NULL);
	const char *s = json_string_value(json_object_get(p, "private"));
	long n = crypto_b64_decode(s, strlen(s), blob, sizeof(blob));

	ck_assert_int_gt(n, 40);
	blob[n - 8] ^= 0x01; /* inside the encrypted sensitive area */
	crypto_b64_encode(blob, (size_t)n, b64);
	json_object_set_new(p, "private", json_string(b64));
	EXPECT(unlock(p, back), -EKEYREJECTED,
	       "sealed to another TPM, the TPM was cleared, or the sealed blob "
	       "is corrupt", "Esys_Load", "0x000001df");
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(missing_srk_refused)
{
	struct kp_options opt = opts(tcti, NULL, "0x81000001");
	uint8_t key[32], back[32];
	json_t *params = NULL, *p;

	EXPECT(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -ENOENT,
	       "no persistent SRK at handle 0x81000001", "0x0000018b");
	ck_assert_ptr_null(params);
	p = enroll(key, NULL);
	json_object_set_new(p, "srk_handle", json_string("0x81000001"));
	EXPECT(unlock(p, back), -ENOENT, "no persistent SRK at handle 0x81000001");
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(tpm_gone)
{
	struct kp_options opt = opts("swtpm:host=127.0.0.1,port=1", NULL, NULL);
	uint8_t key[32], back[32];
	json_t *params = NULL, *p = enroll(key, NULL);

	EXPECT(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EHOSTUNREACH,
	       "TPM unreachable through TCTI \"swtpm:host=127.0.0.1,port=1\"",
	       "0x000a000a");
	kill(swtpm_pid, SIGTERM);
	waitpid(swtpm_pid, NULL, 0);
	EXPECT(unlock(p, back), -EHOSTUNREACH, "TPM unreachable", "0x000a000a");
	opt = opts("nosuchtcti:whatever", NULL, NULL);
	EXPECT(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EHOSTUNREACH,
	       "TPM unreachable through TCTI \"nosuchtcti:whatever\"",
	       "Tss2_TctiLdr_Initialize");
	json_decref(p);
	swtpm_pid = 0; /* already stopped */
}
END_TEST

/* ---- what only the wrappers can make ---- */

START_TEST(load_errors)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, "7");

	fail_call = "Esys_Load";
	fail_rc = 0x000001df; /* integrity, parameter 1 */
	EXPECT(unlock(p, back), -EKEYREJECTED, "sealed to another TPM",
	       "0x000001df");
	fail_rc = 0x000c01df; /* the same, through a resource manager */
	EXPECT(unlock(p, back), -EKEYREJECTED, "sealed to another TPM",
	       "0x000c01df");
	fail_rc = 0x000002d5; /* size, parameter 2 */
	EXPECT(unlock(p, back), -EKEYREJECTED, "does not load under this TPM",
	       "0x000002d5");
	fail_rc = TPM2_RC_OBJECT_MEMORY;
	EXPECT(unlock(p, back), -ENOSPC, "out of object or session slots",
	       "0x00000902");
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(unseal_errors)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, "7"), *q = enroll(key, NULL);

	fail_call = "Esys_Unseal";
	fail_rc = TPM2_RC_LOCKOUT;
	EXPECT(unlock(p, back), -EBUSY, "dictionary-attack lockout", "0x00000921");
	fail_rc = TPM2_RC_RETRY;
	EXPECT(unlock(p, back), -EAGAIN, "busy", "0x00000922");
	fail_rc = TPM2_RC_TESTING;
	EXPECT(unlock(q, back), -EAGAIN, "busy", "0x0000090a");
	fail_rc = TPM2_RC_FAILURE;
	EXPECT(unlock(p, back), -EIO, "failure mode", "0x00000101");
	fail_rc = TSS2_TCTI_RC_IO_ERROR; /* the TPM went away mid-way */
	EXPECT(unlock(q, back), -EHOSTUNREACH, "TPM unreachable", "Esys_Unseal",
	       "0x000a000a");
	fail_rc = 0x0000012f; /* policy-only object, HMAC session */
	EXPECT(unlock(q, back), -EKEYREJECTED, "policy and the config's PCR list",
	       "0x0000012f");
	fail_rc = 0x0000099d; /* a policy failure on a config without PCRs */
	EXPECT(unlock(q, back), -EKEYREJECTED, "policy and the config's PCR list",
	       "0x0000099d");
	fail_rc = TSS2_ESYS_RC_MEMORY;
	EXPECT(unlock(q, back), -ENOMEM, "out of memory", "0x00070017");
	ck_assert_int_eq(count_handles(), 0);
	fail_call = NULL;
	short_unseal = true;
	EXPECT(unlock(q, back), -EIO, "unsealed 16 bytes, expected 32");
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
	json_decref(q);
}
END_TEST

START_TEST(session_and_policy_errors)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, "7");

	fail_call = "Esys_StartAuthSession";
	fail_rc = TPM2_RC_SESSION_MEMORY;
	EXPECT(unlock(p, back), -ENOSPC, "out of object or session slots",
	       "Esys_StartAuthSession", "0x00000903");
	ck_assert_int_eq(count_handles(), 0);
	fail_call = "Esys_PolicyPCR"; /* after the session started */
	fail_rc = 0x000002c4; /* value, parameter 2 */
	EXPECT(unlock(p, back), -EIO, "Esys_PolicyPCR", "0x000002c4");
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(startup_failure_is_unreachable)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, NULL);

	fail_call = "Esys_Startup";
	fail_rc = TPM2_RC_FAILURE;
	EXPECT(unlock(p, back), -EHOSTUNREACH, "TPM unreachable", "Esys_Startup",
	       "0x00000101");
	fail_call = "Esys_Initialize";
	fail_rc = TSS2_ESYS_RC_BAD_REFERENCE;
	EXPECT(unlock(p, back), -EHOSTUNREACH, "TPM unreachable",
	       "Esys_Initialize");
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(storage_key_in_the_middle_refused)
{
	uint8_t key[32], back[32];
	json_t *p = enroll(key, NULL);

	flip_name = true;
	EXPECT(unlock(p, back), -EKEYREJECTED,
	       "storage key is not the one the volume key was sealed under");
	ck_assert_int_eq(count_handles(), 0);
	json_decref(p);
}
END_TEST

START_TEST(enroll_errors_wipe_the_key)
{
	struct kp_options opt = opts(tcti, "7", NULL);
	const char *calls[] = { "Esys_CreatePrimary", "Esys_StartAuthSession",
				"Esys_PolicyPCR", "Esys_Create" };
	uint8_t key[32], zero[32] = { 0 };
	json_t *params = NULL;

	fail_rc = TPM2_RC_HIERARCHY;
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		fail_call = calls[i];
		memset(key, 0xaa, sizeof(key));
		EXPECT(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EIO,
		       "command failed", calls[i], "0x00000085");
		ck_assert_ptr_null(params);
		ck_assert(!memcmp(key, zero, 32));
		ck_assert_int_eq(count_handles(), 0);
	}
	fail_call = "Esys_Create";
	fail_rc = TPM2_RC_OBJECT_MEMORY;
	EXPECT(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -ENOSPC,
	       "out of object or session slots", "0x00000902");
	ck_assert_int_eq(count_handles(), 0);
}
END_TEST

/* ---- options and config: refused before the TPM is touched ---- */

START_TEST(bad_options)
{
	struct kp_options opt = opts(tcti, NULL, NULL);
	const char *pcrs[] = { "7,24", "x", "-1", "7,", ",7", "7;8", "07x" };
	const char *srk[] = { "0x1234", "0x82000000", "0x81000001x", "" };
	uint8_t key[32];
	json_t *params = NULL;

	esys_inits = 0;
	for (size_t i = 0; i < sizeof(pcrs) / sizeof(pcrs[0]); i++) {
		opt = opts(tcti, pcrs[i], NULL);
		ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(srk) / sizeof(srk[0]); i++) {
		opt = opts(tcti, NULL, srk[i]);
		ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EINVAL);
	}
	opt = opts(tcti, NULL, NULL);
	ck_assert_int_eq(kp_tpm2.enroll("arg", &opt, "u", key, &params), -EINVAL);
	opt = opts("", NULL, NULL);
	ck_assert_int_eq(kp_tpm2.enroll(NULL, &opt, "u", key, &params), -EINVAL);
	ck_assert_ptr_null(params);
	ck_assert_int_eq(esys_inits, 0);
}
END_TEST

START_TEST(bad_configs)
{
	/* Each edit, applied to a fresh valid config, must be refused. */
	const char *edits[][2] = {
		{ "extra", "true" },
		{ "pcrs", "[7, 7]" },
		{ "pcrs", "[7, 2]" },
		{ "pcrs", "[24]" },
		{ "pcrs", "[-1]" },
		{ "pcrs", "[\"7\"]" },
		{ "pcrs", "7" },
		{ "tcti", "\"device:/dev/tpmrm0\"" },
		{ "tcti", "\"cmd:touch /nonexistent/marker\"" },
		{ "public", "\"AAAA\"" },
		{ "public", "\"not base64!\"" },
		{ "private", "\"\"" },
		{ "private", "null" },
		{ "parent_name", "\"AAsA\"" },
		{ "parent_name", "null" },
		{ "srk_handle", "\"0x40000001\"" },
		{ "srk_handle", "1" },
	};
	uint8_t key[32], back[32];
	json_t *good = enroll(key, "7");

	esys_inits = 0;
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		json_t *p = json_deep_copy(good);
		json_t *v = json_loads(edits[i][1], JSON_DECODE_ANY, NULL);

		ck_assert_ptr_nonnull(v);
		if (json_is_null(v))
			json_object_del(p, edits[i][0]);
		else
			json_object_set(p, edits[i][0], v);
		json_decref(v);
		ck_assert_msg(unlock(p, back) == -EINVAL, "edit %zu accepted", i);
		json_decref(p);
	}
	ck_assert_int_eq(kp_tpm2.validate(json_null()), -EINVAL);
	/* The PCR list edited: the object's own policy says otherwise. */
	{
		json_t *p = json_deep_copy(good);

		json_object_set_new(p, "pcrs", json_array());
		EXPECT(unlock(p, back), -EINVAL, "does not match its PCR list");
		json_object_del(p, "pcrs");
		ck_assert_int_eq(unlock(p, back), -EINVAL);
		json_decref(p);
	}
	ck_assert_int_eq(esys_inits, 0);
	ck_assert_int_eq(unlock(good, back), 0);
	ck_assert(!memcmp(key, back, 32));
	json_decref(good);
}
END_TEST

START_TEST(describe_and_audit)
{
	uint8_t key[32];
	json_t *p = enroll(key, "0,2,7");
	char id[256], *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	kp_tpm2.describe(p, f);
	fclose(f);
	ck_assert_ptr_null(strstr(buf, "tcti"));
	ck_assert_ptr_nonnull(strstr(buf, "0,2,7"));
	ck_assert_ptr_null(strstr(buf, json_string_value(json_object_get(p, "private"))));
	kp_tpm2.audit_id(p, id, sizeof(id));
	ck_assert_ptr_nonnull(strstr(id, "pcrs=0,2,7"));
	free(buf);
	json_decref(p);
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
	T(roundtrip_without_and_with_pcrs);
	T(startup_already_done_is_fine);
	T(tcti_from_the_node_only);
	T(pcr_changed_names_the_pcrs);
	T(flipped_private_blob_is_another_tpm_or_corrupt);
	T(missing_srk_refused);
	T(tpm_gone);
	T(load_errors);
	T(unseal_errors);
	T(session_and_policy_errors);
	T(startup_failure_is_unreachable);
	T(storage_key_in_the_middle_refused);
	T(enroll_errors_wipe_the_key);
	T(bad_options);
	T(bad_configs);
	T(describe_and_audit);
	return run_suite(s);
}
