/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FUSE daemon's shared state, internal to the daemon's own files
 * (fs_ops.c, fs_root.c) and mount.c, which fills it in: the session's
 * userdata and the accessors every operation starts with, in the way
 * passthrough_ll has lo_data() and lo_inode(). Nothing below the daemon
 * includes this header: the name layer gets its own context (bname.h).
 */
#ifndef ATRESTFS_FS_H
#define ATRESTFS_FS_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bname.h"
#include "fs_inode.h"
#include "rootattr.h"

struct content_ctx;
struct dirid_ctx;
struct names_ctx;

struct atr_fs {
	bool encrypted;
	struct content_ctx *cctx; /* encrypted volumes only */
	struct names_ctx *nctx;   /* encrypted volumes only */
	struct dirid_ctx *dctx;   /* encrypted volumes only */
	struct fs_table *table;
	/* The name layer's view of the above, set at init (atr_init). */
	struct bname_ctx names;
	double timeout; /* entry and attribute cache, seconds */
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

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "fuse_ino_t too small to hold a pointer");

/** The daemon state of the session that @p req came from. */
static inline struct atr_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/** The inode table entry behind FUSE inode number @p ino (its address). */
static inline struct fs_inode *fs_ino(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return fs_table_root(fs_of(req)->table);
	return (struct fs_inode *)(uintptr_t)ino;
}

#define FS_PROC_FD_LEN 64

/** The /proc path that reopens O_PATH fd @p fd with real access modes. */
static inline void fs_proc_path(int fd, char buf[FS_PROC_FD_LEN])
{
	snprintf(buf, FS_PROC_FD_LEN, "/proc/self/fd/%d", fd);
}

#endif
