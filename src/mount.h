/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `atrestfs mount`: option parsing, the fail-closed mount flow (load the
 * config, apply the refusal rules, unlock the key once, verify the config
 * MAC, derive subkeys, wipe the volume key) and the FUSE session.
 */
#ifndef ATRESTFS_MOUNT_H
#define ATRESTFS_MOUNT_H

/**
 * Run `atrestfs mount VOLUME MOUNTPOINT [-o OPTS] [-f]`; argv[0] is "mount"
 * (or the program name for the `atrestfs VOLUME MOUNTPOINT` form).
 * @return the process exit code.
 */
int cmd_mount(int argc, char **argv);

#endif
