/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading /proc/self/mountinfo: which atrestfs mounts exist, and which FUSE
 * connection (device number) a mount point is served by. The device number
 * names a mount's status socket (status.h) and lets the unmount helper
 * (unmounter.h) check that the mount it is asked to remove is still the
 * daemon's own.
 */
#ifndef ATRESTFS_MOUNTINFO_H
#define ATRESTFS_MOUNTINFO_H

#include <limits.h>
#include <stdbool.h>

struct mountinfo_entry {
	unsigned major, minor;	 /* st_dev of the mounted file system */
	char mnt[PATH_MAX];	 /* mount point, unescaped */
	char fstype[64];
	char source[PATH_MAX]; /* the volume, for atrestfs mounts */
};

/** True for the types an atrestfs mount shows (fuse.atrestfs, atrestfs). */
bool mountinfo_is_atrestfs(const struct mountinfo_entry *e);

/**
 * Call @p cb for every entry of @p path (NULL: /proc/self/mountinfo), in
 * the order listed (a later entry at the same mount point is on top); a
 * nonzero return of @p cb stops the walk and is returned. Lines that do
 * not parse are skipped.
 * @return 0, @p cb's value, or a negative errno when the file cannot be read
 */
int mountinfo_each(const char *path,
		   int (*cb)(const struct mountinfo_entry *e, void *arg),
		   void *arg);

/**
 * The entry on top at mount point @p mnt (as mountinfo spells it: a
 * canonical path), in @p out. @return 1 found, 0 none, or a negative errno
 */
int mountinfo_top(const char *mnt, struct mountinfo_entry *out);

/** Undo mountinfo's octal escapes (\040 for a space) in place. */
void mountinfo_unescape(char *s);

#endif
