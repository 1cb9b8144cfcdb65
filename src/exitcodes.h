/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Exit statuses of atrestfs and mount.atrestfs: a stable interface.
 * mount(8), systemd units, atrestfs-rotate and operators' scripts act on
 * these numbers, so a value never changes its meaning and a new one is only
 * ever added after the last (as tpm2-tools' tool_rc.h: do not reorder).
 * doc/atrestfs.8 (EXIT STATUS) and doc/mount.atrestfs.8 list them; the
 * commands use only these names, never a bare number.
 */
#ifndef ATRESTFS_EXITCODES_H
#define ATRESTFS_EXITCODES_H

/* Every command but fsck and status: exactly one of these. */
enum exit_code {
	EXIT_OK = 0,      /* success */
	EXIT_USAGE = 1,   /* bad command line or option value */
	EXIT_REFUSED = 2, /* refused by the rules; nothing was changed */
	EXIT_KEY = 3,     /* the key source did not give the key */
	EXIT_CONFIG = 4,  /* the config (or root record) invalid or tampered */
	EXIT_SYSTEM = 5,  /* out of memory, I/O error, the kernel refused */
};

/* `atrestfs fsck`: bits OR-ed together, as fsck(8). */
#define FSCK_EXIT_OK 0
#define FSCK_EXIT_REPAIRED 1
#define FSCK_EXIT_DAMAGE 4
#define FSCK_EXIT_ERROR 8
#define FSCK_EXIT_USAGE 16

/* `atrestfs status`: its own, since it reports on mounts, not a volume. */
enum status_exit_code {
	STATUS_EXIT_OK = 0,
	STATUS_EXIT_USAGE = 1,
	STATUS_EXIT_NOT_MOUNT = 2, /* the mount point is not an atrestfs mount */
	STATUS_EXIT_PERM = 4,      /* not root */
	STATUS_EXIT_NO_ANSWER = 5, /* a daemon did not answer, or garbage */
};

#endif
