/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FUSE low-level operations of atrestfs: the only module that replies
 * to the kernel. It knows FUSE, and leaves the backing names to bname.h,
 * file content to content.h and the mount root's attributes to fs_root.h.
 */
#ifndef ATRESTFS_FS_OPS_H
#define ATRESTFS_FS_OPS_H

#include "fs.h"
#include "fs_root.h"

/* The kernel readahead (and so the READ size) asked for; mount.c raises the
 * mount's window to it. */
#define FS_OPS_READAHEAD (1024 * 1024)

/** The operations table; the session's userdata is a struct atr_fs. */
extern const struct fuse_lowlevel_ops atr_ops;

#endif
