/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The volume: its config file (VOLUME/atrestfs.conf), the key hierarchy
 * below the volume key, and the refusal rules that decide whether a mount
 * may go ahead.
 *
 * The config is JSON, mode 0400, written atomically (temp file, fsync,
 * rename, fsync of the directory) and parsed strictly: unknown versions,
 * fields, types and algorithms are refused, never ignored. An encrypted
 * volume's config carries an HMAC-SHA256 ("mac") over the canonical form of
 * everything else, under a key derived from the volume key.
 *
 * Every function logs its own precise reason with log_err() and returns 0
 * or a negative errno.
 */
#ifndef ATRESTFS_VOLUME_H
#define ATRESTFS_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define VOLUME_CONFIG_NAME "atrestfs.conf"
/* What create makes; VOLUME_FORMAT_MIN .. VOLUME_FORMAT are read and
 * written (format 2: one block per journal record; 3: runs of up to 256). */
#define VOLUME_FORMAT 3
#define VOLUME_FORMAT_MIN 2
/* The last format this version refuses with a hint to copy the data over. */
#define VOLUME_FORMAT_OLD 1
#define VOLUME_CIPHER "AES-256-GCM"
#define VOLUME_NAME_SCHEME "AES-256-SIV"
#define VOLUME_BLOCK_SIZE 4096
#define VOLUME_CONFIG_MAX (64 * 1024) /* larger files are refused unread */

struct volume_config {
	int format;
	char uuid[37];       /* canonical text form */
	uint8_t uuid_bin[16];
	char created[32];    /* RFC 3339, UTC */
	bool encrypted;
	/* encrypted volumes only: */
	char key_source[16]; /* "keyfile", "tpm2", "kms" */
	json_t *key_params;  /* the provider's object (owned), without "type" */
	uint8_t mac[32];
};

/** Subkeys derived from the volume key; lives in secmem. */
struct volume_keys {
	uint8_t content[32];
	uint8_t names[64];
	uint8_t config_mac[32];
	uint8_t root_mac[32]; /* the mount root's attribute record (rootattr.h) */
	uint8_t xattr[32]; /* extended attribute values */
};

/** A new config with a random UUID, the current time and format
 * VOLUME_FORMAT (the caller may set an older one it writes). */
int volume_config_new(bool encrypted, struct volume_config **out);
void volume_config_free(struct volume_config *cfg);

/**
 * Parse and strictly validate a config text (hostile input: any length,
 * any content). Does not check the MAC (that needs the key).
 */
int volume_config_parse(const char *text, size_t len, struct volume_config **out);

/** Serialise (with the MAC field for encrypted volumes). Caller frees. */
char *volume_config_dump(const struct volume_config *cfg);

/**
 * Write @p text and a newline as @p name in the directory @p dfd,
 * atomically and durably: "NAME.tmp", fsync, rename, fsync of the
 * directory. Without @p replace an existing @p name is kept (-EEXIST).
 */
int volume_write_atomic(int dfd, const char *name, const char *text,
			mode_t mode, bool replace);

/** Load VOLUME/atrestfs.conf: -ENOENT when the directory is not a volume. */
int volume_config_load(const char *voldir, struct volume_config **out);

/**
 * Write VOLUME/atrestfs.conf atomically; refuses to replace an existing one
 * (-EEXIST).
 */
int volume_config_store(const char *voldir, const struct volume_config *cfg);

/* How long a mount or fsck waits for a daemon that is just unmounting. */
#define VOLUME_LOCK_WAIT_MS 5000
/* The longer wait when no mount of the volume is listed (mount.c). */
#define VOLUME_LOCK_SETTLE_MS 60000

/**
 * Take the volume's exclusive lock (flock on the volume directory), held
 * while the returned fd is open: the daemon holds it while mounted, fsck
 * while it checks, so neither writes a volume the other is using. Waits up
 * to @p wait_ms for a holder to let go (a daemon exits a moment after its
 * unmount returns).
 * @return an fd, -EWOULDBLOCK when another process still holds it, or
 * another negative errno.
 */
int volume_lock(const char *voldir, int wait_ms);

/**
 * Derive the subkeys from the 32-byte volume key with HKDF-SHA256, salt =
 * volume UUID. The caller wipes the volume key afterwards.
 */
int volume_derive_keys(const uint8_t vkey[32], const uint8_t uuid[16],
		       struct volume_keys **out);
void volume_keys_free(struct volume_keys *keys);

/** Set cfg->mac over the canonical form of everything else. */
int volume_config_seal(struct volume_config *cfg, const struct volume_keys *keys);

/** Check cfg->mac: -EBADMSG on mismatch (tampered config). */
int volume_config_verify(const struct volume_config *cfg,
			 const struct volume_keys *keys);

/** What a mount expects (from its options). */
struct volume_expect {
	bool encryption;        /* false only with -o encryption=off */
	const char *key_source; /* type named by the mount, or NULL */
};

enum volume_verdict {
	VOLUME_OK = 0,
	VOLUME_NOT_A_VOLUME,     /* no atrestfs.conf */
	VOLUME_ENCRYPTED_BUT_OFF,
	VOLUME_PLAIN_BUT_EXPECTED,
	VOLUME_KEY_SOURCE_MISMATCH,
};

/**
 * The refusal rules of the design as one decision: @p cfg is the loaded
 * config or NULL when there is none.
 */
enum volume_verdict volume_check_mount(const struct volume_config *cfg,
				       const struct volume_expect *exp);

/**
 * The whole refusal sentence for a verdict, naming the volume directory
 * and, for a key-source mismatch, both key sources, e.g.
 * "refused: key source 'kms' named by the mount, but /v was created with
 * 'keyfile'; the key source is fixed at creation".
 * @param voldir the volume directory as the user named it
 * @param cfg the loaded config or NULL (as given to volume_check_mount())
 * @param exp what the mount expects (may be NULL)
 * @return @p buf, always NUL-terminated (truncated if @p n is too small)
 */
const char *volume_verdict_explain(enum volume_verdict v, const char *voldir,
				   const struct volume_config *cfg,
				   const struct volume_expect *exp, char *buf,
				   size_t n);

#endif
