/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Key sources: what wraps the volume key. Each source is a const vtable
 * registered in keyprov.c; the rest of atrestfs never knows which one it
 * talks to. A source's state in the config is one JSON object (the volume's
 * "key_source" minus its "type"), which only that source reads or writes.
 */
#ifndef ATRESTFS_KEYPROV_H
#define ATRESTFS_KEYPROV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define KEYPROV_KEY_LEN 32

/** How messages about a source's params name them (jsonsafe.h "what"). */
#define KEYPROV_DOC "volume config key_source"

#define KP_OPTIONS_MAX 8

/**
 * The `atrestfs create` options that belong to key sources (--NAME VALUE),
 * in the order given. Each source lists the names it reads in its vtable's
 * .options and reads them with kp_option(); the command line knows none of
 * them by name.
 */
struct kp_options {
	unsigned n;
	struct kp_option {
		const char *name; /* without "--" */
		const char *value;
	} v[KP_OPTIONS_MAX];
};

/** The value of option @p name (the last one given), or NULL. */
const char *kp_option(const struct kp_options *o, const char *name);

/** Add option @p name = @p value: 0, or -E2BIG when @p o is full. */
int kp_option_add(struct kp_options *o, const char *name, const char *value);

/** Every source's setup() on @p opt: 0, or the first error. */
int keyprov_setup_all(const struct kp_options *opt);

/**
 * One key-source parameter that the node pins (see pin.h): its field in the
 * config's key_source object, the mount option that states it (NULL: the
 * ARG of key_source=TYPE:ARG) and, for `create`, where kp_options holds it.
 */
enum kp_pin_kind {
	KP_PIN_STRING, /* a string compared as is */
	KP_PIN_HANDLE, /* a TPM handle, compared as 0x%08x */
	KP_PIN_PCRS,   /* a PCR list: JSON array, "0+2+7" as an option */
};

struct kp_pin {
	const char *field;
	const char *option;
	enum kp_pin_kind kind;
	int required; /* a complete pin set names it */
};

struct keyprov {
	const char *name;
	/** What the node pins of this source; ends with { NULL }. */
	const struct kp_pin *pins;
	/** The `atrestfs create` options it reads (kp_option()); NULL-ended. */
	const char *const *options;
	/** Its lines of `atrestfs create --help`: --key-source and options. */
	const char *usage;
	/**
	 * At create, before anything is made, whichever source is chosen:
	 * check the options it reads and apply the process-wide ones (the
	 * enroll child inherits them). NULL: nothing to do.
	 * @return 0, or -EINVAL after a message (a usage error)
	 */
	int (*setup)(const struct kp_options *opt);
	/**
	 * At create: make the volume key (or have the KMS make it), wrap it
	 * and describe the wrapped form in @p params.
	 * @param arg the part of SPEC after "name:" (may be NULL)
	 * @param key out, KEYPROV_KEY_LEN bytes of caller's secure memory
	 */
	int (*enroll)(const char *arg, const struct kp_options *opt,
		      const char *volume_uuid, uint8_t *key, json_t **params);
	/**
	 * At mount: recover the volume key from @p params. Runs in the
	 * short-lived unlock child (unlock.c), never in the daemon.
	 * @param arg keyfile: a path that overrides the config's; tpm2: the
	 *   TCTI (NULL: ATRESTFS_TPM2_TCTI, else device:/dev/tpmrm0); kms:
	 *   must be NULL
	 */
	int (*unlock)(const json_t *params, const char *arg,
		      const char *volume_uuid, uint8_t *key);
	/** Strict check of @p params: -EINVAL on any unknown/bad field. */
	int (*validate)(const json_t *params);
	/** `atrestfs info` lines: everything but secrets. */
	void (*describe)(const json_t *params, FILE *out);
	/** Short identification for the audit line (path, ARN, PCRs). */
	void (*audit_id)(const json_t *params, char *buf, size_t n);
};

extern const struct keyprov kp_keyfile;
extern const struct keyprov kp_tpm2;
extern const struct keyprov kp_kms;

/** The source named @p name, or NULL. */
const struct keyprov *keyprov_find(const char *name);

/** The @p i-th registered source, or NULL past the last (for listing). */
const struct keyprov *keyprov_at(size_t i);

/**
 * Split "name[:arg]" into its source and argument (@p arg points into
 * @p spec, or is NULL). -EINVAL with a message for an unknown name.
 */
int keyprov_parse_spec(const char *spec, const struct keyprov **kp,
		       const char **arg, char *name_buf, size_t name_len);

/*
 * Calls through the registry. A source whose function is NULL is known by
 * name (its volumes are recognised) but not built in: these log "key source
 * NAME is not available in this build" and return -ENOTSUP instead of
 * crashing. Otherwise they return what the source returns.
 */
int keyprov_enroll(const struct keyprov *kp, const char *arg,
		   const struct kp_options *opt, const char *volume_uuid,
		   uint8_t *key, json_t **params);
int keyprov_unlock(const struct keyprov *kp, const json_t *params,
		   const char *arg, const char *volume_uuid, uint8_t *key);
int keyprov_validate(const struct keyprov *kp, const json_t *params);
/** describe, or a line saying the source's details cannot be shown. */
void keyprov_describe(const struct keyprov *kp, const json_t *params,
		      FILE *out);
/** audit_id, or just the source's name. */
void keyprov_audit_id(const struct keyprov *kp, const json_t *params,
		      char *buf, size_t n);

#endif
