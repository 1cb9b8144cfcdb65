/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The node's trust anchor. A volume's config is authenticated by a MAC
 * whose key its own key-source fields lead to, so it cannot vouch for those
 * fields: what decides which volume is expected (its UUID) and how its key
 * is obtained (the key-source type and the parameters in its kp_pin table:
 * keyfile path; TPM PCRs and SRK handle; KMS key ARN, region, endpoint,
 * profile) is pinned on the node, and the config must agree with the pins
 * before any key source is contacted.
 *
 * Pins come from a root-only record that `atrestfs create` (or `atrestfs
 * pin`) writes under the node directory, found by the volume's resolved
 * path, and from the mount options (the fstab line that create prints).
 * Where both exist they must agree, except that key_source=keyfile:PATH
 * names where the keyfile is now.
 */
#ifndef ATRESTFS_PIN_H
#define ATRESTFS_PIN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "volume.h"

#define PIN_DEFAULT_DIR "/etc/atrestfs"
#define PIN_DIR_ENV "ATRESTFS_NODE_DIR" /* honoured only for root */
#define PIN_RECORD_FORMAT 1

/* Every refusal by the pins returns this ("wrong medium": not the volume
 * this node expects). No key source returns it, so a caller can tell a
 * refusal before unlock from a key source's failure (-EPERM and the like). */
#define PIN_REFUSED (-EMEDIUMTYPE)

/** What a mount states on its command line or fstab line (NULL: absent). */
struct pin_opts {
	const char *uuid;
	const char *key_source; /* TYPE[:ARG] */
	const char *tpm2_tcti;  /* not a pin: where the TPM is */
	const char *tpm2_pcrs;  /* "7", "0+2+7" or "none" */
	const char *tpm2_srk;
	const char *kms_region;
	const char *kms_endpoint;
	const char *kms_profile;
};

struct node_pins;

/**
 * Load the node record of @p voldir (if any) and merge the mount options
 * into it. Refuses (PIN_REFUSED, with a message) a record that is not
 * root-only or not well-formed, options that contradict the record, and malformed
 * options.
 * @param voldir the volume directory, resolved (realpath)
 * @param o the mount's options, or NULL (fsck, pin)
 */
int pin_resolve(const char *voldir, const struct pin_opts *o,
		struct node_pins **out);
void pin_free(struct node_pins *p);

/**
 * Parse the text of a node record strictly (hostile input: any length, any
 * content): PIN_REFUSED with a message unless it is a well-formed record of
 * exactly @p voldir. pin_resolve() reads the file with this.
 */
int pin_record_parse(const char *voldir, const char *text, size_t len,
		     struct node_pins **out);

/**
 * Does @p cfg agree with the pins? PIN_REFUSED with a message that names the
 * first mismatch (field, both values, where the pin came from), or says
 * that an encrypted volume is not pinned on this node at all. A plain
 * volume without any pin passes.
 */
int pin_check(const struct node_pins *p, const char *voldir,
	      const struct volume_config *cfg);

/**
 * The key-source parameters to unlock with: @p cfg's, with every pinned
 * field taken from the node. New reference, or NULL (out of memory).
 */
json_t *pin_unlock_params(const struct node_pins *p,
			  const struct volume_config *cfg);

/** Whether the node holds a record for the volume. */
bool pin_has_record(const struct node_pins *p);

/** The TCTI the mount named (tpm2_tcti=), or NULL. */
const char *pin_tcti(const struct node_pins *p);

/**
 * Write the node record for @p cfg (atomically, durably, root-only),
 * replacing an older record of the same path.
 * @param where out: the record's path (for the user), @p n bytes
 */
int pin_record_store(const char *voldir, const struct volume_config *cfg,
		     char *where, size_t n);

/** Remove the record of @p voldir: 0, or -ENOENT when there is none. */
int pin_record_remove(const char *voldir, char *where, size_t n);

/**
 * The fstab options that pin @p cfg completely ("uuid=...,key_source=...").
 * @return 0, -ENAMETOOLONG when @p n is too small, or -EINVAL when a value
 *   cannot be written in an fstab option (comma or white space in it)
 */
int pin_fstab_options(const struct volume_config *cfg, char *buf, size_t n);

#endif
