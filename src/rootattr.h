/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mount root's own owner, group and mode. The mount root is backed by
 * the VOLUME directory, which stays root:root 0700 whatever happens through
 * the mount (it holds the config and every ciphertext file); what the mount
 * shows for its root lives in a record VOLUME/ROOTATTR_NAME that only the
 * daemon and `atrestfs create` write (root, 0600, never visible in the
 * mount). On an encrypted volume the record carries an HMAC-SHA256 under a
 * subkey of the volume key; on a plain volume it is stored as it is.
 *
 * Record (big-endian, doc/file-format.md):
 *   0  8  magic "ATRROOT1"
 *   8  4  uid
 *  12  4  gid
 *  16  4  mode (permission, set-id and sticky bits only)
 *  20 32  HMAC-SHA256(key, bytes 0..19)   -- encrypted volumes only
 */
#ifndef ATRESTFS_ROOTATTR_H
#define ATRESTFS_ROOTATTR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ROOTATTR_NAME "atrestfs.root"
#define ROOTATTR_KEY_LEN 32
#define ROOTATTR_PLAIN_LEN 20
#define ROOTATTR_MAC_LEN 52
#define ROOTATTR_MAX ROOTATTR_MAC_LEN
#define ROOTATTR_DEFAULT_MODE 0755 /* with owner and group root */

struct rootattr {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* 07777 bits only */
};

/**
 * Serialise @p a into @p out (ROOTATTR_MAX bytes).
 * @param key the root MAC subkey, or NULL on a plain volume
 * @param len set to ROOTATTR_MAC_LEN with a key, ROOTATTR_PLAIN_LEN without
 * @return 0, -EINVAL for a mode outside 07777 or an id of -1
 */
int rootattr_encode(const struct rootattr *a, const uint8_t *key,
		    uint8_t out[ROOTATTR_MAX], size_t *len);

/**
 * Parse a record (hostile input: any length and content).
 * @param key the root MAC subkey, or NULL on a plain volume
 * @return 0; -EINVAL when it is malformed (length, magic, mode bits, ids);
 *         -EBADMSG when its MAC does not match (tampered)
 */
int rootattr_decode(const uint8_t *buf, size_t len, const uint8_t *key,
		    struct rootattr *a);

/**
 * Read the record from the VOLUME directory open at @p dirfd.
 * @return 0, -ENOENT when there is none, -EINVAL/-EBADMSG as
 *         rootattr_decode() (a file that is not a regular one, or too
 *         long, is -EINVAL), or another negative errno
 */
int rootattr_load(int dirfd, const uint8_t *key, struct rootattr *a);

/**
 * Write the record into the VOLUME directory open at @p dirfd atomically
 * (temp file 0600, fsync, rename, fsync of the directory).
 */
int rootattr_store(int dirfd, const uint8_t *key, const struct rootattr *a);

/**
 * Parse "USER:GROUP" (names or decimal ids) for `create --root-owner`.
 * @return 0, -EINVAL for a malformed spec, -ENOENT for an unknown name
 */
int rootattr_parse_owner(const char *spec, uid_t *uid, gid_t *gid);

/** Parse an octal mode (at most 07777) for `create --root-mode`. */
int rootattr_parse_mode(const char *s, mode_t *mode);

#endif
