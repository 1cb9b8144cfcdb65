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
#include <stdbool.h>

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
};

/** The operations table; the session's userdata is a struct atr_fs. */
extern const struct fuse_lowlevel_ops atr_ops;

#endif
