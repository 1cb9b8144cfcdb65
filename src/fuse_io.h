/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The daemon's reads and writes on /dev/fuse, wrapped (libfuse's custom I/O)
 * for the one protocol feature libfuse 3.14 cannot negotiate:
 * FUSE_HANDLE_KILLPRIV_V2, with which the kernel stops asking for
 * security.capability before every write(2) and leaves the clearing of
 * set-user-ID and set-group-ID bits to the daemon.
 */
#ifndef ATRESTFS_FUSE_IO_H
#define ATRESTFS_FUSE_IO_H

#include "fs_ops.h"

/**
 * Route the session's /dev/fuse traffic through this module (call right
 * after fuse_session_mount(), before the session loop); the session's
 * userdata is its struct atr_fs.
 * @return 0 or a negative errno
 */
int fuse_io_attach(struct fuse_session *se);

#endif
