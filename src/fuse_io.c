// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /dev/fuse traffic through libfuse's custom I/O hooks, for
 * FUSE_HANDLE_KILLPRIV_V2 (libfuse 3.14 has no capability bit for it).
 *
 * Why: without it the kernel's superblock never gets SB_NOSEC, so every
 * write(2) into the page cache first asks the daemon for
 * security.capability (file_remove_privs()): one synchronous round trip
 * per write, which bounded 4 KiB writes to a few percent of what
 * passthrough_ll reaches (it answers getxattr with ENOSYS, which would
 * switch off extended attributes here). With V2 the kernel marks an inode
 * S_NOSEC once it has seen it without set-id bits or capability (it asks
 * again after every attribute refresh), and instead of clearing set-id
 * bits itself it flags the requests that must clear them: a WRITE with
 * FUSE_WRITE_KILL_SUIDGID (a writer without CAP_FSETID; the writeback
 * cache sends such writes through at once), an OPEN with
 * FUSE_OPEN_KILL_SUIDGID (O_TRUNC), a SETATTR with FATTR_KILL_SUIDGID
 * (truncate, chown). libfuse 3.14 drops the first two flags, so they are
 * read here, from the raw request, and the bits are cleared before the
 * request is handed to libfuse. A security.capability attribute (plain
 * volumes only: an encrypted volume stores only user.* attributes) is
 * still removed by the kernel at its first write after each attribute
 * refresh, and the backing file system removes it from the backing file
 * when the daemon writes there; the mount is nosuid in any case.
 *
 * The INIT reply is the only reply changed: FUSE_HANDLE_KILLPRIV_V2 is
 * added to its flags when the kernel offered it.
 *
 * Every reply leaves through here, written by the worker that handled the
 * request (fs_ops.c replies once, at the end of each operation), so this
 * is also where that worker's cipher contexts forget the file key they
 * used (crypto_forget()): key schedules in OpenSSL's unlocked heap live
 * for one request, not until the thread next encrypts.
 */
#include "fuse_io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crypto.h"
#include "fs_inode.h"
#include "log.h"

/* Set once, by the thread that reads INIT, before any other request can
 * arrive (the kernel sends nothing else until INIT is answered). */
static uint64_t init_unique;     /* atomic */
static int init_offered;         /* atomic */
static int killpriv_v2;          /* atomic: negotiated */

/* Whether the process @pid (the request's caller, acting as @gid) is in
 * group @file_gid: its fs gid or one of its supplementary groups, read
 * from /proc. Unknown (the caller is gone) counts as not in the group, so
 * the bit is dropped: the safe side. */
static bool caller_in_group(uint32_t pid, uint32_t gid, gid_t file_gid)
{
	char path[64], line[4096];
	bool in = false;
	FILE *f;

	if (gid == file_gid)
		return true;
	if (pid == 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!in && fgets(line, sizeof(line), f)) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if (g == file_gid) {
				in = true;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return in;
}

/* Clear set-id bits as the kernel's setattr_should_drop_suidgid() does for
 * a caller without CAP_FSETID (the kernel flags only such requests):
 * set-user-ID always, set-group-ID when group-executable or when the
 * caller is not in the file's group. */
static int kill_suidgid(const struct atr_fs *fs, uint64_t nodeid,
			uint32_t pid, uint32_t gid)
{
	struct fs_inode *inode;
	char path[64];
	struct stat st;
	mode_t m;

	if (nodeid == FUSE_ROOT_ID)
		return 0; /* a directory */
	inode = (struct fs_inode *)(uintptr_t)nodeid;
	if (fstatat(inode->fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	m = st.st_mode & 07777;
	if (m & S_ISUID)
		m &= ~(mode_t)S_ISUID;
	if ((m & S_ISGID) &&
	    ((m & S_IXGRP) || !caller_in_group(pid, gid, st.st_gid)))
		m &= ~(mode_t)S_ISGID;
	if (m == (st.st_mode & 07777))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", inode->fd);
	if (chmod(path, m))
		return -errno;
	/* The kernel mirrors only its own older rule in its cached mode (a
	 * set-group-ID without group execute stayed there until the attribute
	 * timeout): make it ask again. Attributes only, no pages (-1). */
	fuse_lowlevel_notify_inval_inode(fs->se, nodeid, -1, 0);
	return 0;
}

/* The requests whose flags ask for set-id bits to be cleared: the 32-bit
 * flags word at @at in the request's argument of at least @len bytes. */
static const struct {
	uint32_t opcode;
	size_t len, at;
	uint32_t bit;
} kill_flags[] = {
	{ FUSE_WRITE, sizeof(struct fuse_write_in),
	  offsetof(struct fuse_write_in, write_flags), FUSE_WRITE_KILL_SUIDGID },
	{ FUSE_OPEN, sizeof(struct fuse_open_in),
	  offsetof(struct fuse_open_in, open_flags), FUSE_OPEN_KILL_SUIDGID },
	{ FUSE_SETATTR, sizeof(struct fuse_setattr_in),
	  offsetof(struct fuse_setattr_in, valid), FATTR_KILL_SUIDGID },
};

/* Look at one request before libfuse does. */
static void inspect(const struct atr_fs *fs, const uint8_t *buf, size_t n)
{
	const struct fuse_in_header *h = (const void *)buf;
	const uint8_t *arg = buf + sizeof(*h);
	size_t alen = n - sizeof(*h);
	uint32_t flags;
	int r;

	if (n < sizeof(*h) || h->len != n)
		return; /* libfuse rejects it */
	if (h->opcode == FUSE_INIT) {
		const struct fuse_init_in *in = (const void *)arg;

		if (alen >= offsetof(struct fuse_init_in, flags2) &&
		    in->major == 7 && in->minor >= 31 &&
		    (in->flags & FUSE_HANDLE_KILLPRIV_V2)) {
			__atomic_store_n(&init_unique, h->unique, __ATOMIC_RELAXED);
			__atomic_store_n(&init_offered, 1, __ATOMIC_RELEASE);
		}
		return;
	}
	/* A revoked key (revoke.h) refuses these requests: nothing changes. */
	if (!__atomic_load_n(&killpriv_v2, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&fs->deny, __ATOMIC_ACQUIRE))
		return;
	for (size_t i = 0; i < sizeof(kill_flags) / sizeof(kill_flags[0]); i++) {
		if (h->opcode != kill_flags[i].opcode || alen < kill_flags[i].len)
			continue;
		memcpy(&flags, arg + kill_flags[i].at, sizeof(flags));
		if (!(flags & kill_flags[i].bit))
			return;
		r = kill_suidgid(fs, h->nodeid, h->pid, h->gid);
		if (r)
			log_warn("inode %llu: set-id bits not cleared: %s",
				 (unsigned long long)h->nodeid, strerror(-r));
		return;
	}
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	if (n > 0)
		inspect(userdata, buf, (size_t)n);
	return n;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	crypto_forget();
	if (__atomic_load_n(&init_offered, __ATOMIC_ACQUIRE) && count >= 2 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, max_background)) {
		struct fuse_out_header *h = iov[0].iov_base;
		struct fuse_init_out *out = iov[1].iov_base;

		if (h->unique == __atomic_load_n(&init_unique, __ATOMIC_RELAXED) &&
		    h->error == 0) {
			out->flags |= FUSE_HANDLE_KILLPRIV_V2;
			__atomic_store_n(&init_offered, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&killpriv_v2, 1, __ATOMIC_RELEASE);
		}
	}
	return writev(fd, iov, count);
}

int fuse_io_attach(struct fuse_session *se)
{
	static const struct fuse_custom_io io = { .read = io_read,
						  .writev = io_writev };

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
