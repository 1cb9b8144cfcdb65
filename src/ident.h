/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Caller identity for the FUSE worker threads: around the one system call
 * that creates a backing entry, the thread takes the caller's fsuid and
 * fsgid, so the backing file system gives the entry the owner, group and
 * set-gid inheritance it gives any local process (doc/daemon.md says why).
 * Everything here acts on the calling thread only.
 */
#ifndef ATRESTFS_IDENT_H
#define ATRESTFS_IDENT_H

#include <linux/capability.h>
#include <stdbool.h>
#include <sys/types.h>

/** What ident_become() changed, for ident_restore(). */
struct ident_saved {
	bool active;
	uid_t fsuid;
	gid_t fsgid;
	struct __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3];
};

/**
 * True when the process can switch identities (it runs as root). Without
 * that, entries are owned by the daemon's user, as in any FUSE file system
 * run by a user.
 */
bool ident_available(void);

/**
 * Make the calling thread's file-system identity @p uid / @p gid, keeping
 * only the capabilities that bypass permission checks the kernel already
 * made at the mount (DAC override and search, FSETID, MKNOD): never CHOWN
 * or FOWNER.
 * @param saved filled for ident_restore(); saved->active tells whether
 *        anything was changed
 * @return 0 or a negative errno (then nothing is changed)
 */
int ident_become(uid_t uid, gid_t gid, struct ident_saved *saved);

/** Undo ident_become(); aborts if the thread's identity cannot be restored. */
void ident_restore(struct ident_saved *saved);

#endif
