// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The recording half of the power-loss simulator: a FUSE pass-through
 * (high-level API, single-threaded so that the trace order is the order
 * the operations took effect) over an empty backing directory. Everything
 * that changes the tree is carried out on the backing directory, so the
 * program on top sees an ordinary filesystem, and appended to the trace
 * with its completion time. Nothing is ever fsynced for real: durability
 * is decided afterwards, offline, by materialize.c.
 *
 * Regular files get an identity ("id") when they are created, kept across
 * renames and links by the backing inode number, so that data operations
 * find their file no matter under which name they arrive.
 */
#define FUSE_USE_VERSION 35
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "simfs.h"
#include "trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

struct idmap {
	ino_t ino;
	uint64_t id;
};

static int g_base = -1;      /* backing directory */
static int g_trace = -1;     /* trace file, appended */
static struct idmap *g_ids;  /* backing inode -> file id */
static size_t g_nids, g_capids;
static uint64_t g_next_id = 1;
static int g_failed;         /* a trace write failed: refuse everything */

/* "/a/b" -> "a/b", "/" -> "." for the *at() calls on g_base. */
static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int put_all(const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(g_trace, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Append one record; a lost record would make every later crash state a
 * lie, so a failure stops the simulated filesystem (EIO from then on). */
static void log_op(uint32_t op, uint64_t id, uint64_t off, uint64_t len,
		   uint32_t mode, const char *path, const char *p2,
		   const void *data, size_t dlen)
{
	struct trace_rec r = {
		.magic = TRACE_MAGIC, .op = op, .t_ns = now_ns(), .id = id,
		.off = off, .len = len, .mode = mode,
		.plen = path ? (uint32_t)strlen(path) : 0,
		.p2len = p2 ? (uint32_t)strlen(p2) : 0,
		.dlen = (uint32_t)dlen,
	};

	if (g_failed)
		return;
	if (put_all(&r, sizeof(r)) || put_all(path, r.plen) ||
	    put_all(p2, r.p2len) || put_all(data, dlen)) {
		fprintf(stderr, "powersim: cannot write the trace: %s\n", strerror(errno));
		g_failed = 1;
	}
}

static uint64_t id_of_ino(ino_t ino, int assign_new)
{
	for (size_t i = 0; i < g_nids; i++) {
		if (g_ids[i].ino != ino)
			continue;
		if (assign_new)
			g_ids[i].id = g_next_id++;
		return g_ids[i].id;
	}
	if (!assign_new)
		return 0;
	if (g_nids == g_capids) {
		size_t cap = g_capids ? g_capids * 2 : 256;
		struct idmap *p = realloc(g_ids, cap * sizeof(*p));
		if (!p)
			return 0;
		g_ids = p;
		g_capids = cap;
	}
	g_ids[g_nids].ino = ino;
	g_ids[g_nids].id = g_next_id++;
	return g_ids[g_nids++].id;
}

static uint64_t id_of_fd(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : id_of_ino(st.st_ino, 0);
}

#define CHECK_OK() do { if (g_failed) return -EIO; } while (0)

static void *sim_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* A write as large as the program above issues it (atrestfs writes up
	 * to 1 MiB at once) stays one record: one write in flight. */
	conn->max_write = 1 << 20;
	/* Inode numbers of the backing tree: stable ids for the kernel. */
	cfg->use_ino = 1;
	cfg->nullpath_ok = 0;
	/* Every write reaches us as it is issued (no page cache merging). */
	cfg->direct_io = 1;
	cfg->attr_timeout = 0;
	cfg->entry_timeout = 0;
	cfg->negative_timeout = 0;
	return NULL;
}

static int sim_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	int r = fi ? fstat((int)fi->fh, st)
		   : fstatat(g_base, rel(path), st, AT_SYMLINK_NOFOLLOW);
	return r ? -errno : 0;
}

static int sim_access(const char *path, int mask)
{
	return faccessat(g_base, rel(path), mask, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int sim_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n = readlinkat(g_base, rel(path), buf, size - 1);

	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int sim_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct stat st;

	CHECK_OK();
	if (!S_ISREG(mode))
		return -EPERM; /* nothing on a volume needs devices or fifos */
	(void)rdev;
	int fd = openat(g_base, rel(path), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	fstat(fd, &st);
	close(fd);
	log_op(TR_CREATE, id_of_ino(st.st_ino, 1), 0, 0, mode & 07777, path, NULL, NULL, 0);
	return 0;
}

static int sim_mkdir(const char *path, mode_t mode)
{
	CHECK_OK();
	if (mkdirat(g_base, rel(path), mode))
		return -errno;
	log_op(TR_MKDIR, 0, 0, 0, mode & 07777, path, NULL, NULL, 0);
	return 0;
}

static int sim_unlink(const char *path)
{
	CHECK_OK();
	if (unlinkat(g_base, rel(path), 0))
		return -errno;
	log_op(TR_UNLINK, 0, 0, 0, 0, path, NULL, NULL, 0);
	return 0;
}

static int sim_rmdir(const char *path)
{
	CHECK_OK();
	if (unlinkat(g_base, rel(path), AT_REMOVEDIR))
		return -errno;
	log_op(TR_RMDIR, 0, 0, 0, 0, path, NULL, NULL, 0);
	return 0;
}

static int sim_symlink(const char *target, const char *path)
{
	CHECK_OK();
	if (symlinkat(target, g_base, rel(path)))
		return -errno;
	log_op(TR_SYMLINK, 0, 0, 0, 0, path, target, NULL, 0);
	return 0;
}

static int sim_rename(const char *from, const char *to, unsigned int flags)
{
	CHECK_OK();
	if (renameat2(g_base, rel(from), g_base, rel(to), flags))
		return -errno;
	log_op(TR_RENAME, 0, 0, 0, flags, from, to, NULL, 0);
	return 0;
}

static int sim_link(const char *from, const char *to)
{
	CHECK_OK();
	if (linkat(g_base, rel(from), g_base, rel(to), 0))
		return -errno;
	log_op(TR_LINK, 0, 0, 0, 0, from, to, NULL, 0);
	return 0;
}

static int sim_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	CHECK_OK();
	if (fi ? fchmod((int)fi->fh, mode) : fchmodat(g_base, rel(path), mode, 0))
		return -errno;
	log_op(TR_CHMOD, 0, 0, 0, mode & 07777, path, NULL, NULL, 0);
	return 0;
}

static int sim_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	int r = fi ? fchown((int)fi->fh, uid, gid)
		   : fchownat(g_base, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW);
	return r ? -errno : 0;
}

static int sim_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	uint64_t id;
	int r;

	CHECK_OK();
	if (fi) {
		r = ftruncate((int)fi->fh, size);
		id = id_of_fd((int)fi->fh);
	} else {
		int fd = openat(g_base, rel(path), O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = ftruncate(fd, size);
		id = id_of_fd(fd);
		close(fd);
	}
	if (r)
		return -errno;
	log_op(TR_TRUNCATE, id, (uint64_t)size, 0, 0, path, NULL, NULL, 0);
	return 0;
}

static int sim_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int r = fi ? futimens((int)fi->fh, tv)
		   : utimensat(g_base, rel(path), tv, AT_SYMLINK_NOFOLLOW);
	return r ? -errno : 0;
}

/* O_APPEND is dropped on the backing fd: the kernel has already placed
 * the write, and the trace must hold the offset the data really went to.
 * O_DIRECT too: our buffers are not aligned, and durability is simulated. */
static int open_flags(int flags)
{
	return (flags & ~(O_APPEND | O_DIRECT | O_CREAT | O_EXCL | O_NOCTTY)) | O_CLOEXEC;
}

static int sim_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct stat st;
	int fd;

	CHECK_OK();
	fd = openat(g_base, rel(path), open_flags(fi->flags) | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -errno;
	fstat(fd, &st);
	fi->fh = (uint64_t)fd;
	log_op(TR_CREATE, id_of_ino(st.st_ino, 1), 0, 0, mode & 07777, path, NULL, NULL, 0);
	return 0;
}

static int sim_open(const char *path, struct fuse_file_info *fi)
{
	int fd;

	CHECK_OK();
	fd = openat(g_base, rel(path), open_flags(fi->flags));
	if (fd < 0)
		return -errno;
	fi->fh = (uint64_t)fd;
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY)
		log_op(TR_TRUNCATE, id_of_fd(fd), 0, 0, 0, path, NULL, NULL, 0);
	return 0;
}

static int sim_read(const char *path, char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)path;
	ssize_t n = pread((int)fi->fh, buf, size, off);
	return n < 0 ? -errno : (int)n;
}

static int sim_write(const char *path, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	ssize_t n;

	CHECK_OK();
	n = pwrite((int)fi->fh, buf, size, off);
	if (n < 0)
		return -errno;
	/* Only what reached the backing file is in the trace. */
	log_op(TR_WRITE, id_of_fd((int)fi->fh), (uint64_t)off, 0, 0, path, NULL,
	       buf, (size_t)n);
	return (int)n;
}

static int sim_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	return fstatvfs(g_base, sv) ? -errno : 0;
}

static int sim_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int sim_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	CHECK_OK();
	/* The backing directory is scratch space: durability is simulated. */
	log_op(TR_FSYNC, id_of_fd((int)fi->fh), 0, 0, (uint32_t)datasync, path,
	       NULL, NULL, 0);
	return 0;
}

static int sim_fallocate(const char *path, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	CHECK_OK();
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if (fallocate((int)fi->fh, mode, off, len))
		return -errno;
	log_op(TR_FALLOCATE, id_of_fd((int)fi->fh), (uint64_t)off, (uint64_t)len,
	       (uint32_t)mode, path, NULL, NULL, 0);
	return 0;
}

/* Every xattr call, through the backing entry's O_PATH fd (the entry may
 * be a symlink, which the path calls would follow). */
static ssize_t xattr_call(const char *path, uint32_t op, const char *name,
			  void *buf, size_t size, int flags)
{
	char proc[64];
	ssize_t n;
	int fd = openat(g_base, rel(path), O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	switch (op) {
	case TR_SETXATTR:
		n = setxattr(proc, name, buf, size, flags);
		break;
	case TR_RMXATTR:
		n = removexattr(proc, name);
		break;
	case 'g':
		n = getxattr(proc, name, buf, size);
		break;
	default:
		n = listxattr(proc, buf, size);
		break;
	}
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0 && (op == TR_SETXATTR || op == TR_RMXATTR))
		log_op(op, 0, 0, 0, (uint32_t)flags, path, name, buf,
		       op == TR_SETXATTR ? size : 0);
	return n;
}

static int sim_setxattr(const char *path, const char *name, const char *value,
			size_t size, int flags)
{
	CHECK_OK();
	return (int)xattr_call(path, TR_SETXATTR, name, (void *)(uintptr_t)value,
			       size, flags);
}

static int sim_getxattr(const char *path, const char *name, char *value, size_t size)
{
	return (int)xattr_call(path, 'g', name, value, size, 0);
}

static int sim_listxattr(const char *path, char *list, size_t size)
{
	return (int)xattr_call(path, 'l', NULL, list, size, 0);
}

static int sim_removexattr(const char *path, const char *name)
{
	CHECK_OK();
	return (int)xattr_call(path, TR_RMXATTR, name, NULL, 0, 0);
}

static int sim_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd = openat(g_base, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int sim_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		       struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	DIR *d = (DIR *)(uintptr_t)fi->fh;
	struct dirent *e;

	(void)path;
	(void)flags;
	if (off == 0)
		rewinddir(d);
	else
		seekdir(d, off);
	while ((e = readdir(d))) {
		struct stat st = { .st_ino = e->d_ino, .st_mode = (mode_t)e->d_type << 12 };
		if (filler(buf, e->d_name, &st, telldir(d), 0))
			break;
	}
	return 0;
}

static int sim_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	closedir((DIR *)(uintptr_t)fi->fh);
	return 0;
}

static int sim_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	(void)fi;
	CHECK_OK();
	log_op(TR_FSYNCDIR, 0, 0, 0, 0, path, NULL, NULL, 0);
	return 0;
}

static off_t sim_lseek(const char *path, off_t off, int whence, struct fuse_file_info *fi)
{
	(void)path;
	off_t r = lseek((int)fi->fh, off, whence);
	return r < 0 ? -errno : r;
}

static const struct fuse_operations sim_ops = {
	.init = sim_init,
	.getattr = sim_getattr,
	.access = sim_access,
	.readlink = sim_readlink,
	.mknod = sim_mknod,
	.mkdir = sim_mkdir,
	.unlink = sim_unlink,
	.rmdir = sim_rmdir,
	.symlink = sim_symlink,
	.rename = sim_rename,
	.link = sim_link,
	.chmod = sim_chmod,
	.chown = sim_chown,
	.truncate = sim_truncate,
	.utimens = sim_utimens,
	.create = sim_create,
	.open = sim_open,
	.read = sim_read,
	.write = sim_write,
	.statfs = sim_statfs,
	.release = sim_release,
	.fsync = sim_fsync,
	.fallocate = sim_fallocate,
	.setxattr = sim_setxattr,
	.getxattr = sim_getxattr,
	.listxattr = sim_listxattr,
	.removexattr = sim_removexattr,
	.opendir = sim_opendir,
	.readdir = sim_readdir,
	.releasedir = sim_releasedir,
	.fsyncdir = sim_fsyncdir,
	.lseek = sim_lseek,
};

int simfs_run(const char *backing, const char *mountpoint, const char *trace)
{
	struct dirent *e;
	DIR *d;
	int r;

	g_base = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g_base < 0) {
		fprintf(stderr, "powersim: %s: %s\n", backing, strerror(errno));
		return 1;
	}
	/* The trace must explain every byte: start from nothing. */
	d = fdopendir(dup(g_base));
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			fprintf(stderr, "powersim: %s is not empty: the trace must start "
				"from an empty directory\n", backing);
			closedir(d);
			return 1;
		}
	if (d)
		closedir(d);
	g_trace = open(trace, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (g_trace < 0) {
		fprintf(stderr, "powersim: %s: %s\n", trace, strerror(errno));
		return 1;
	}
	char a0[] = "powersim", a2[] = "-f", a3[] = "-s", a4[] = "-o",
	     a5[] = "default_permissions,allow_other,fsname=powersim,subtype=powersim";
	char *argv[] = { a0, (char *)mountpoint, a2, a3, a4, a5, NULL };
	umask(0);
	r = fuse_main(6, argv, &sim_ops, NULL);
	close(g_trace);
	return r ? 1 : (g_failed ? 1 : 0);
}
