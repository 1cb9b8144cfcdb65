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

struct volume_config;
struct volume_keys;

/**
 * The unlock step of a mount, shared with fsck: the volume's key source
 * (with @p arg, the path override of -o key_source=TYPE:ARG, or NULL)
 * gives the volume key once, the subkeys are derived into @p keys and the
 * volume key is wiped. The config MAC is the caller's next step.
 * @return 0 or a negative errno (the key source logged why).
 */
int mount_unlock_volume(const struct volume_config *cfg, const char *arg,
			struct volume_keys **keys);

#endif
