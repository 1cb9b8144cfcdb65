/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FUSE low-level operations of atrestfs: the only module that replies
 * to the kernel. It knows FUSE and the backing directory, and calls the
 * content and names modules for everything cryptographic.
 */
#ifndef ATRESTFS_FS_OPS_H
#define ATRESTFS_FS_OPS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>

#include "rootattr.h"

/* The kernel readahead (and so the READ size) asked for; mount.c raises the
 * mount's window to it. */
#define FS_OPS_READAHEAD (1024 * 1024)

struct content_ctx;
struct dirid_ctx;
struct names_ctx;
struct fs_table;

struct atr_fs {
	bool encrypted;
	struct content_ctx *cctx; /* encrypted volumes only */
	struct names_ctx *nctx;   /* encrypted volumes only */
	struct dirid_ctx *dctx;   /* encrypted volumes only */
	struct fs_table *table;
	double timeout; /* entry and attribute cache, seconds */
	bool debug;
	bool writeback; /* kernel writeback cache negotiated at init */
	bool identity;  /* entries get the caller's ids (ident.h) */
	struct fuse_session *se; /* for cache notifications */
	/* The mount root's own owner, group and mode (rootattr.h). */
	pthread_mutex_t root_lock;
	struct rootattr root_attr; /* protected by root_lock */
	uint8_t *root_key; /* secmem; encrypted volumes only */
	/* Key revocation (revoke.h): 0, EROFS or EACCES; atomic, written by
	 * the watcher's reader thread. */
	int deny;
};

/**
 * Load the mount root's attribute record from the volume (after the inode
 * table exists), with @p key (ROOTATTR_KEY_LEN bytes, copied into secmem)
 * on an encrypted volume or NULL on a plain one.
 * @return 0 or rootattr_load()'s errors
 */
int fs_root_init(struct atr_fs *fs, const uint8_t *key);

/** Wipe and free what fs_root_init() set up. */
void fs_root_free(struct atr_fs *fs);

/** The operations table; the session's userdata is a struct atr_fs. */
extern const struct fuse_lowlevel_ops atr_ops;

#endif
