/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mount root's own owner, group and mode, kept in a record in the
 * volume (rootattr.h) and never on the VOLUME directory itself, which
 * stays root:root 0700.
 */
#ifndef ATRESTFS_FS_ROOT_H
#define ATRESTFS_FS_ROOT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct atr_fs;

/**
 * Load the mount root's attribute record from the volume (after the inode
 * table exists), with @p key (ROOTATTR_KEY_LEN bytes, copied into secmem)
 * on an encrypted volume or NULL on a plain one.
 * @return 0 or rootattr_load()'s errors
 */
int fs_root_init(struct atr_fs *fs, const uint8_t *key);

/** Wipe and free what fs_root_init() set up. */
void fs_root_free(struct atr_fs *fs);

/** True (with the root's group in @p gid) when the mount root is set-gid. */
bool fs_root_setgid(struct atr_fs *fs, gid_t *gid);

/**
 * chown/chmod of the mount root (@p valid: FUSE_SET_ATTR_UID, _GID,
 * _MODE from @p attr) change its record, durably, never the VOLUME
 * directory. @return 0 or a negative errno.
 */
int fs_root_setattr(struct atr_fs *fs, const struct stat *attr, int valid);

#endif
