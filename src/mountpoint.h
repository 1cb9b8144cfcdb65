/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `atrestfs guard-mountpoint`: make an empty mount-point directory
 * unwritable while nothing is mounted on it, so that a cache service started
 * after a failed mount cannot write plaintext onto the node's disk.
 */
#ifndef ATRESTFS_MOUNTPOINT_H
#define ATRESTFS_MOUNTPOINT_H

/** Run `atrestfs guard-mountpoint [--release] DIR`; returns the exit code. */
int cmd_guard_mountpoint(int argc, char **argv);

/**
 * Whether the directory open at @p fd has no entries but "." and "..".
 * @return 1 empty, 0 not empty, or a negative errno.
 */
int mountpoint_dir_empty(int fd);

#endif
