// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-thread identity switching. setfsuid()/setfsgid() are per thread in
 * glibc (plain system calls), unlike setuid()/setgroups(), which glibc
 * broadcasts to every thread of the process; capget()/capset() are used as
 * raw system calls for the same reason. Supplementary groups are not
 * switched: the only decision on creation that depends on them (dropping
 * S_ISGID from a new file in a set-gid directory) is made by the kernel at
 * the FUSE mount with the caller's real groups, and the thread keeps
 * CAP_FSETID so the backing file system does not make it a second time
 * with the daemon's groups.
 *
 * When fsuid leaves 0 the kernel drops the file-system capabilities from
 * the effective set; the thread raises back only those that let it create
 * in a directory it does not own (the VOLUME directory is root 0700, and
 * every permission has already been checked by the kernel under
 * default_permissions) and device nodes (vfs_mknod checked the caller's
 * CAP_MKNOD).
 */
#include "ident.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define CAP_BIT(c) (1u << ((c) & 31))
/* All below 32, so in the first word of the capability sets. */
#define KEEP_CAPS                                                            \
	(CAP_BIT(CAP_DAC_OVERRIDE) | CAP_BIT(CAP_DAC_READ_SEARCH) |          \
	 CAP_BIT(CAP_FSETID) | CAP_BIT(CAP_MKNOD))
_Static_assert(CAP_MKNOD < 32 && CAP_FSETID < 32 && CAP_DAC_OVERRIDE < 32 &&
		       CAP_DAC_READ_SEARCH < 32,
	       "kept capabilities must be in the first word");

static int caps_get(struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(SYS_capget, &h, d) ? -errno : 0;
}

static int
caps_set(const struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

bool ident_available(void)
{
	return geteuid() == 0;
}

/* setfsuid() reports no error: the change took if reading it back agrees. */
static bool set_fsuid(uid_t uid)
{
	setfsuid(uid);
	return (uid_t)setfsuid((uid_t)-1) == uid;
}

static bool set_fsgid(gid_t gid)
{
	setfsgid(gid);
	return (gid_t)setfsgid((gid_t)-1) == gid;
}

/* The process's own ids, which a thread has whenever it is not switched:
 * fsuid and fsgid follow the effective ids, the daemon never changes those,
 * and ident_restore() always goes back. */
static pthread_once_t own_once = PTHREAD_ONCE_INIT;
static uid_t own_uid;
static gid_t own_gid;

static void own_ids(void)
{
	own_uid = geteuid();
	own_gid = getegid();
}

int ident_become(uid_t uid, gid_t gid, struct ident_saved *s)
{
	struct __user_cap_data_struct now[_LINUX_CAPABILITY_U32S_3];
	int r;

	s->active = false;
	/* The caller is the daemon's own user (a root service): nothing to
	 * switch, and no system call to find that out. Otherwise what is
	 * restored is the thread's identity, the process's own. */
	pthread_once(&own_once, own_ids);
	if (uid == own_uid && gid == own_gid)
		return 0;
	memset(s, 0, sizeof(*s));
	s->fsuid = own_uid;
	s->fsgid = own_gid;
	/* 1. The caller's group, then user. */
	r = caps_get(s->caps);
	if (r)
		return r;
	if (!set_fsgid(gid))
		return -EPERM;
	s->active = true;
	if (uid == s->fsuid)
		return 0;
	if (!set_fsuid(uid)) {
		ident_restore(s);
		return -EPERM;
	}
	/* 2. Raise back what creating needs (dropped by the fsuid change). */
	r = caps_get(now);
	if (!r) {
		now[0].effective |= s->caps[0].permitted & KEEP_CAPS;
		r = caps_set(now);
	}
	if (r) {
		ident_restore(s);
		return r;
	}
	return 0;
}

void ident_restore(struct ident_saved *s)
{
	if (!s->active)
		return;
	/* fsuid first: going back to 0 needs no capability. */
	if (!set_fsuid(s->fsuid) || !set_fsgid(s->fsgid) || caps_set(s->caps)) {
		log_err("cannot restore the daemon's identity on a worker "
			"thread: stopping");
		abort();
	}
	s->active = false;
}
