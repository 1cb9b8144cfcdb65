/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef ATRESTFS_FS_OPS_H
#define ATRESTFS_FS_OPS_H
#endif
