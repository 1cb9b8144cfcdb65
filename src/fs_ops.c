// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * FUSE low-level operations, built the way libfuse's passthrough_ll example
 * is: every inode is an O_PATH fd, every call is an *at() call relative to
 * one, no path is rebuilt per call. This file is the only caller of
 * fuse_reply_*: helpers return 0 or a negative errno and each operation
 * replies once, at its end.
 *
 * On an encrypted volume, a plaintext name is turned into its backing name
 * (backing_name()) before it touches the disk, file data goes through the
 * content module under the inode's lock, and the volume's own files
 * (anything names_is_bookkeeping() says) can never be reached. On a plain
 * volume names and data pass through, and only atrestfs.conf in the root is
 * hidden.
 */
#include "fs_ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "content.h"
#include "dirid.h"
#include "fs_inode.h"
#include "log.h"
#include "names.h"
#include "tlsbuf.h"
#include "volume.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "fuse_ino_t too small to hold a pointer");

#define XATTR_PREFIX "user.atrestfs."
#define PROC_FD_LEN 64

/* The fixed "directory" ID under which xattr names and symlink targets are
 * encrypted: they must survive renames into other directories. */
static const uint8_t fixed_id[NAMES_DIRID_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

struct atr_fh {
	int fd;
	bool append;
};

struct atr_dir {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
};

/* The backing name of one plaintext name in one directory. */
struct bname {
	char name[NAME_MAX + 1]; /* what is on disk */
	char enc[NAMES_ENC_MAX + 1]; /* full encoded name (long names) */
	bool is_long;
};

static struct atr_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_inode *ino_of(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return fs_table_root(fs_of(req)->table);
	return (struct fs_inode *)(uintptr_t)ino;
}

static void proc_path(int fd, char buf[PROC_FD_LEN])
{
	snprintf(buf, PROC_FD_LEN, "/proc/self/fd/%d", fd);
}

static bool is_dot(const char *n)
{
	return !strcmp(n, ".") || !strcmp(n, "..");
}

/* ---- directory IDs and names ---- */

static int dir_id(struct fs_inode *dir, uint8_t id[NAMES_DIRID_LEN])
{
	int r = 0;

	pthread_rwlock_rdlock(&dir->lock);
	if (dir->has_dirid) {
		memcpy(id, dir->dirid, NAMES_DIRID_LEN);
		pthread_rwlock_unlock(&dir->lock);
		return 0;
	}
	pthread_rwlock_unlock(&dir->lock);
	pthread_rwlock_wrlock(&dir->lock);
	if (!dir->has_dirid) {
		r = dirid_read(dir->fd, dir->dirid);
		if (!r)
			dir->has_dirid = true;
	}
	if (!r)
		memcpy(id, dir->dirid, NAMES_DIRID_LEN);
	pthread_rwlock_unlock(&dir->lock);
	return r == -ENOENT ? -EIO : r;
}

/*
 * The names a plain volume keeps for itself in its root: the config (and
 * its temp file), and the directory ID name, whose presence would make the
 * next plain mount take the volume for a disguised encrypted one.
 */
static bool plain_reserved(const char *name)
{
	return !strncmp(name, VOLUME_CONFIG_NAME, strlen(VOLUME_CONFIG_NAME)) ||
	       !strncmp(name, NAMES_DIRID_FILE, strlen(NAMES_DIRID_FILE));
}

static int backing_name(struct atr_fs *fs, struct fs_inode *dir,
			const char *name, struct bname *b)
{
	uint8_t id[NAMES_DIRID_LEN];
	size_t len = strlen(name);
	int r;

	b->is_long = false;
	if (!fs->encrypted) {
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		if (dir == fs_table_root(fs->table) && plain_reserved(name))
			return -EPERM;
		memcpy(b->name, name, len + 1);
		return 0;
	}
	r = dir_id(dir, id);
	if (r)
		return r;
	r = names_encrypt(fs->nctx, id, name, b->enc);
	if (r)
		return r;
	if (!names_needs_long(b->enc)) {
		strcpy(b->name, b->enc);
		return 0;
	}
	b->is_long = true;
	return names_long_entry(b->enc, b->name);
}

/* The .name file beside a long entry, written durably before the entry. */
static int write_long_name(struct fs_inode *dir, const struct bname *b,
			   bool *created)
{
	char path[NAME_MAX + 8];
	size_t len = strlen(b->enc);
	int fd, r = 0;

	*created = false;
	if (!b->is_long)
		return 0;
	snprintf(path, sizeof(path), "%s%s", b->name, NAMES_LONG_SUFFIX);
	fd = openat(dir->fd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0444);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno; /* same name, same text */
	if (write(fd, b->enc, len) != (ssize_t)len || fsync(fd))
		r = errno ? -errno : -EIO;
	close(fd);
	if (r)
		unlinkat(dir->fd, path, 0);
	else
		*created = true;
	return r;
}

static void remove_long_name(struct fs_inode *dir, const struct bname *b)
{
	char path[NAME_MAX + 8];

	if (!b->is_long)
		return;
	snprintf(path, sizeof(path), "%s%s", b->name, NAMES_LONG_SUFFIX);
	unlinkat(dir->fd, path, 0);
}

/* Plaintext name of backing entry @p entry in @p dir; -errno to skip it. */
static int plain_name(struct atr_fs *fs, struct fs_inode *dir,
		      const char *entry, char *out)
{
	char enc[NAMES_ENC_MAX + 1], path[NAME_MAX + 8];
	uint8_t id[NAMES_DIRID_LEN];
	const char *src = entry;
	ssize_t n;
	int fd, r;

	if (!fs->encrypted) {
		if (dir == fs_table_root(fs->table) && plain_reserved(entry))
			return -ENOENT;
		strcpy(out, entry);
		return 0;
	}
	if (is_dot(entry)) {
		strcpy(out, entry);
		return 0;
	}
	if (names_is_bookkeeping(entry))
		return -ENOENT;
	r = dir_id(dir, id);
	if (r)
		return r;
	if (names_is_long_entry(entry)) {
		snprintf(path, sizeof(path), "%s%s", entry, NAMES_LONG_SUFFIX);
		fd = openat(dir->fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -EIO;
		n = read(fd, enc, sizeof(enc) - 1);
		close(fd);
		if (n <= 0)
			return -EIO;
		enc[n] = '\0';
		/* The .name file must be the one this entry was named after. */
		if (names_long_entry(enc, path) || strcmp(path, entry)) {
			log_warn("skipping entry %.64s: its .name file belongs "
				 "to another name", entry);
			return -EIO;
		}
		src = enc;
	}
	r = names_decrypt(fs->nctx, id, src, out);
	if (r)
		log_warn("skipping entry %.64s: its name does not decrypt",
			 entry);
	return r;
}

/* ---- attributes ---- */

static int content_of(struct atr_fs *fs, struct fs_inode *inode, int fd);

/* A file's size is what its content state says: a file left dirty by a
 * crash is recovered (its torn tail cut) before its size is reported. */
static void load_content(struct atr_fs *fs, struct fs_inode *inode)
{
	char path[PROC_FD_LEN];
	int fd;

	proc_path(inode->fd, path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* the size formula below is the fallback */
	(void)content_of(fs, inode, fd);
	close(fd);
}

static void fix_attr(struct atr_fs *fs, struct fs_inode *inode,
		     struct stat *st)
{
	off_t p;

	if (!fs->encrypted)
		return;
	if (S_ISREG(st->st_mode) && inode && !inode->cf && st->st_size > 0)
		load_content(fs, inode);
	if (S_ISREG(st->st_mode) && inode && inode->cf) {
		/* Loaded (maybe recovered after a crash): it knows its size. */
		pthread_rwlock_rdlock(&inode->lock);
		p = content_size(inode->cf);
		pthread_rwlock_unlock(&inode->lock);
		st->st_size = p < 0 ? 0 : p;
	} else if (S_ISREG(st->st_mode)) {
		p = content_plain_size(st->st_size);
		if (p < 0) /* cut short: report the whole blocks */
			p = st->st_size > CONTENT_HEADER_LEN
				    ? (st->st_size - CONTENT_HEADER_LEN) /
					      CONTENT_CBLOCK * CONTENT_BLOCK
				    : 0;
		st->st_size = p;
	} else if (S_ISLNK(st->st_mode)) {
		/* Length of base64url(tag || target) minus the tag. */
		st->st_size = (off_t)names_target_len((size_t)st->st_size);
	}
}

static int do_getattr(struct atr_fs *fs, struct fs_inode *inode,
		      struct stat *st)
{
	if (fstatat(inode->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	fix_attr(fs, inode, st);
	return 0;
}

static int do_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent), *inode;
	struct bname b;
	struct stat st;
	int fd, r;

	memset(e, 0, sizeof(*e));
	r = backing_name(fs, dir, name, &b);
	if (r)
		return r == -EPERM ? -ENOENT : r;
	fd = openat(dir->fd, b.name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		r = -errno;
		close(fd);
		return r;
	}
	inode = fs_table_get(fs->table, fd, st.st_dev, st.st_ino);
	if (!inode)
		return -ENOMEM;
	fix_attr(fs, inode, &st);
	e->ino = (uintptr_t)inode;
	e->attr = st;
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	return 0;
}

static void atr_init(void *userdata, struct fuse_conn_info *conn)
{
	struct atr_fs *fs = userdata;

	/* Large requests: one 1 MiB write is one backing pwrite. */
	conn->max_write = 1024 * 1024;
	conn->max_readahead = 1024 * 1024;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	/* The kernel merges small writes: 2x-2.5x on small writes, measured
	 * (doc/daemon.md). It then owns sizes and O_APPEND offsets. */
	fs->writeback = conn->capable & FUSE_CAP_WRITEBACK_CACHE;
	if (fs->writeback)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
}

static void atr_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r = do_lookup(req, parent, name, &e);

	if (r == -ENOENT && fs_of(req)->timeout > 0) {
		/* A negative entry: cached like a positive one. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs_of(req)->timeout;
		return (void)fuse_reply_entry(req, &e);
	}
	if (r)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_entry(req, &e);
}

static void atr_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	if (ino != FUSE_ROOT_ID)
		fs_table_forget(fs_of(req)->table, ino_of(req, ino), nlookup);
	fuse_reply_none(req);
}

static void atr_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		if (forgets[i].ino != FUSE_ROOT_ID)
			fs_table_forget(fs_of(req)->table,
					ino_of(req, forgets[i].ino),
					forgets[i].nlookup);
	fuse_reply_none(req);
}

static void atr_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct stat st;
	int r = do_getattr(fs_of(req), ino_of(req, ino), &st);

	(void)fi;
	if (r)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_attr(req, &st, fs_of(req)->timeout);
}

/* The content state of a regular file, made on first use. */
static int content_of(struct atr_fs *fs, struct fs_inode *inode, int fd)
{
	int r = 0;

	if (inode->cf)
		return 0;
	pthread_rwlock_wrlock(&inode->lock);
	if (!inode->cf)
		r = content_file_open(fs->cctx, fd, &inode->cf);
	pthread_rwlock_unlock(&inode->lock);
	return r;
}

static int do_truncate(struct atr_fs *fs, struct fs_inode *inode,
		       struct fuse_file_info *fi, off_t size)
{
	char path[PROC_FD_LEN];
	int fd = fi ? ((struct atr_fh *)(uintptr_t)fi->fh)->fd : -1, r;
	bool own = fd < 0;

	if (own) {
		proc_path(inode->fd, path);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			return -errno;
	}
	if (!fs->encrypted) {
		r = ftruncate(fd, size) ? -errno : 0;
	} else {
		r = content_of(fs, inode, fd);
		if (!r) {
			pthread_rwlock_wrlock(&inode->lock);
			r = content_truncate(inode->cf, fd, size);
			/* truncate(2) by path: no release will follow. */
			if (!r && own)
				r = content_commit(inode->cf, fd);
			pthread_rwlock_unlock(&inode->lock);
		}
	}
	if (own)
		close(fd);
	return r;
}

static void atr_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int valid, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = ino_of(req, ino);
	char path[PROC_FD_LEN];
	struct stat st;
	int r = 0;

	proc_path(inode->fd, path);
	if (valid & FUSE_SET_ATTR_MODE) {
		if (chmod(path, attr->st_mode))
			goto err_errno;
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = valid & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = valid & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;
		if (fchownat(inode->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			goto err_errno;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		r = do_truncate(fs, inode, fi, attr->st_size);
		if (r)
			goto err;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = { { 0, UTIME_OMIT }, { 0, UTIME_OMIT } };
		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		if (utimensat(AT_FDCWD, path, tv, 0))
			goto err_errno;
	}
	r = do_getattr(fs, inode, &st);
	if (r)
		goto err;
	return (void)fuse_reply_attr(req, &st, fs->timeout);
err_errno:
	r = -errno;
err:
	fuse_reply_err(req, -r);
}

/* ---- creating entries ---- */

/* Reply with the entry for @p name in @p parent after it was made. */
static void reply_new_entry(fuse_req_t req, fuse_ino_t parent,
			    const char *name, int r)
{
	struct fuse_entry_param e;

	if (!r)
		r = do_lookup(req, parent, name, &e);
	if (r)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_entry(req, &e);
}

static int fsync_dir(struct fs_inode *dir)
{
	char path[PROC_FD_LEN];
	int fd, r = 0;

	proc_path(dir->fd, path);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

/*
 * mkdir on an encrypted volume: the directory is made under a temporary
 * bookkeeping name, gets its ID file (fsynced), and only then appears under
 * its real name, so no crash leaves a directory without an ID.
 */
static int make_dir(struct atr_fs *fs, struct fs_inode *dir,
		    const struct bname *b, mode_t mode)
{
	static unsigned long counter;
	char tmp[64];
	uint8_t id[NAMES_DIRID_LEN];
	int fd, r;

	if (!fs->encrypted)
		return mkdirat(dir->fd, b->name, mode) ? -errno : 0;
	/* Unique per daemon; a leftover of a crash is bookkeeping, hidden. */
	snprintf(tmp, sizeof(tmp), ".atrestfs.mkdir.%d.%lu", (int)getpid(),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
	if (mkdirat(dir->fd, tmp, mode))
		return -errno;
	fd = openat(dir->fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto err_rmdir;
	}
	r = dirid_create(fd, id);
	close(fd);
	if (r)
		goto err_rmdir;
	if (renameat2(dir->fd, tmp, dir->fd, b->name, RENAME_NOREPLACE)) {
		r = -errno;
		goto err_unlink;
	}
	return fsync_dir(dir);
err_unlink:
	fd = openat(dir->fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		unlinkat(fd, NAMES_DIRID_FILE, 0);
		close(fd);
	}
err_rmdir:
	unlinkat(dir->fd, tmp, AT_REMOVEDIR);
	return r;
}

static void atr_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct bname b;
	bool made = false;
	int r = backing_name(fs, dir, name, &b);

	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r) {
		r = make_dir(fs, dir, &b, mode);
		if (r && made)
			remove_long_name(dir, &b);
	}
	reply_new_entry(req, parent, name, r);
}

static void atr_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct bname b;
	bool made = false;
	int r;

	/* Device nodes and sockets have no place in a cache's data dir. */
	if (fs->encrypted && !S_ISFIFO(mode) && !S_ISREG(mode))
		return (void)fuse_reply_err(req, EPERM);
	r = backing_name(fs, dir, name, &b);
	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r && mknodat(dir->fd, b.name, mode, rdev)) {
		r = -errno;
		if (made)
			remove_long_name(dir, &b);
	}
	reply_new_entry(req, parent, name, r);
}

static void atr_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	char enc[NAMES_TARGET_ENC_MAX + 1];
	const char *target = link;
	struct bname b;
	bool made = false;
	int r = backing_name(fs, dir, name, &b);

	if (!r && fs->encrypted) {
		r = names_encrypt_target(fs->nctx, fixed_id, link, enc);
		target = enc;
	}
	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r && symlinkat(target, dir->fd, b.name)) {
		r = -errno;
		if (made)
			remove_long_name(dir, &b);
	}
	reply_new_entry(req, parent, name, r);
}

static void atr_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct atr_fs *fs = fs_of(req);
	char buf[PATH_MAX + 1], plain[NAMES_TARGET_MAX + 1];
	ssize_t n = readlinkat(ino_of(req, ino)->fd, "", buf, sizeof(buf) - 1);
	int r;

	if (n < 0)
		return (void)fuse_reply_err(req, errno);
	buf[n] = '\0';
	if (!fs->encrypted)
		return (void)fuse_reply_readlink(req, buf);
	r = names_decrypt_target(fs->nctx, fixed_id, buf, plain);
	if (r) {
		log_warn("symlink target of inode %llu does not decrypt",
			 (unsigned long long)ino_of(req, ino)->ino);
		return (void)fuse_reply_err(req, EIO);
	}
	fuse_reply_readlink(req, plain);
}

static void atr_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		     const char *name)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	char path[PROC_FD_LEN];
	struct bname b;
	bool made = false;
	int r = backing_name(fs, dir, name, &b);

	proc_path(ino_of(req, ino)->fd, path);
	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r && linkat(AT_FDCWD, path, dir->fd, b.name, AT_SYMLINK_FOLLOW)) {
		r = -errno;
		if (made)
			remove_long_name(dir, &b);
	}
	reply_new_entry(req, parent, name, r);
}

static void atr_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct bname b;
	int r = backing_name(fs, dir, name, &b);

	if (!r && unlinkat(dir->fd, b.name, 0))
		r = -errno;
	if (!r)
		remove_long_name(dir, &b);
	fuse_reply_err(req, r == -EPERM ? EPERM : -r);
}

/* Only the ID file may remain for an encrypted directory to be empty. */
static int check_empty(int dfd)
{
	int fd = dup(dfd);
	struct dirent *d;
	DIR *dp;
	int r = 0;

	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	while ((d = readdir(dp))) {
		if (is_dot(d->d_name) || !strcmp(d->d_name, NAMES_DIRID_FILE))
			continue;
		r = -ENOTEMPTY;
		break;
	}
	closedir(dp);
	return r;
}

static void atr_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct bname b;
	int r = backing_name(fs, dir, name, &b), fd;

	if (!r && fs->encrypted) {
		fd = openat(dir->fd, b.name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
		} else {
			r = check_empty(fd);
			if (!r && unlinkat(fd, NAMES_DIRID_FILE, 0) &&
			    errno != ENOENT)
				r = -errno;
			close(fd);
		}
	}
	if (!r && unlinkat(dir->fd, b.name, AT_REMOVEDIR))
		r = -errno;
	if (!r)
		remove_long_name(dir, &b);
	fuse_reply_err(req, -r);
}

static void atr_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent), *ndir = ino_of(req, newparent);
	struct bname b, nb;
	bool made = false;
	int r = backing_name(fs, dir, name, &b);

	if (!r)
		r = backing_name(fs, ndir, newname, &nb);
	if (!r)
		r = write_long_name(ndir, &nb, &made);
	if (r)
		return (void)fuse_reply_err(req, -r);
	if (renameat2(dir->fd, b.name, ndir->fd, nb.name, flags)) {
		r = -errno;
		if (made)
			remove_long_name(ndir, &nb);
		return (void)fuse_reply_err(req, -r);
	}
	if (flags & RENAME_EXCHANGE) {
		/* Both names still exist: the other .name file is needed too. */
		write_long_name(dir, &b, &made);
	} else if (!(dir == ndir && !strcmp(b.name, nb.name))) {
		remove_long_name(dir, &b);
	}
	fuse_reply_err(req, 0);
}

/* ---- files ---- */

static int open_backing(struct atr_fs *fs, struct fs_inode *inode, int flags,
			struct fuse_file_info *fi)
{
	char path[PROC_FD_LEN];
	struct atr_fh *fh;
	int fd, r = 0;

	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	/* With writeback caching the kernel places appends and may read pages
	 * of a write-only file; without it, encrypted appends are ours. */
	fh->append = (flags & O_APPEND) && !fs->writeback;
	if (fs->writeback) {
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	if (fs->encrypted) {
		/* Partial blocks need read-modify-write; appends are placed
		 * by us, at the plaintext end; O_TRUNC is content_truncate. */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~(O_APPEND | O_TRUNC);
	}
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
	proc_path(inode->fd, path);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		free(fh);
		return r;
	}
	fh->fd = fd;
	if (fs->encrypted) {
		r = content_of(fs, inode, fd);
		if (!r && (fi->flags & O_TRUNC)) {
			pthread_rwlock_wrlock(&inode->lock);
			r = content_truncate(inode->cf, fd, 0);
			pthread_rwlock_unlock(&inode->lock);
		}
		if (r) {
			close(fd);
			free(fh);
			return r;
		}
	}
	fi->fh = (uintptr_t)fh;
	/* The daemon is the volume's only writer: cached pages stay valid. */
	fi->keep_cache = 1;
	return 0;
}

static void atr_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = open_backing(fs_of(req), ino_of(req, ino), fi->flags, fi);

	if (r)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_open(req, fi);
}

static void atr_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct fuse_entry_param e;
	struct bname b;
	bool made = false;
	int fd, r = backing_name(fs, dir, name, &b);

	if (!r)
		r = write_long_name(dir, &b, &made);
	if (r)
		return (void)fuse_reply_err(req, -r);
	fd = openat(dir->fd, b.name,
		    O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW |
			    (fi->flags & O_EXCL),
		    mode);
	if (fd < 0) {
		r = -errno;
		if (made)
			remove_long_name(dir, &b);
		return (void)fuse_reply_err(req, -r);
	}
	close(fd);
	r = do_lookup(req, parent, name, &e);
	if (r)
		return (void)fuse_reply_err(req, -r);
	r = open_backing(fs, ino_of(req, e.ino), fi->flags, fi);
	if (r) {
		fs_table_forget(fs->table, ino_of(req, e.ino), 1);
		return (void)fuse_reply_err(req, -r);
	}
	fuse_reply_create(req, &e, fi);
}

static struct atr_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct atr_fh *)(uintptr_t)fi->fh;
}

static void atr_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = ino_of(req, ino);
	uint8_t *read_buf = tlsbuf_get(TLSBUF_REPLY, size);
	ssize_t n;

	if (!read_buf)
		return (void)fuse_reply_err(req, ENOMEM);
	if (fs->encrypted) {
		pthread_rwlock_rdlock(&inode->lock);
		n = content_read(inode->cf, fh_of(fi)->fd, read_buf, size, off);
		pthread_rwlock_unlock(&inode->lock);
	} else {
		n = pread(fh_of(fi)->fd, read_buf, size, off);
		if (n < 0)
			n = -errno;
	}
	if (n < 0)
		return (void)fuse_reply_err(req, (int)-n);
	fuse_reply_buf(req, (const char *)read_buf, (size_t)n);
}

static void atr_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = ino_of(req, ino);
	ssize_t n;

	if (fs->encrypted) {
		pthread_rwlock_wrlock(&inode->lock);
		if (fh_of(fi)->append)
			off = content_size(inode->cf);
		n = off < 0 ? off
			    : content_write(inode->cf, fh_of(fi)->fd, buf,
					    size, off);
		pthread_rwlock_unlock(&inode->lock);
	} else {
		n = pwrite(fh_of(fi)->fd, buf, size, off);
		if (n < 0)
			n = -errno;
	}
	if (n < 0)
		return (void)fuse_reply_err(req, (int)-n);
	fuse_reply_write(req, (size_t)n);
}

static void atr_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = dup(fh_of(fi)->fd);

	(void)ino;
	/* Closing a duplicate reports the backing fs's deferred errors. */
	if (fd < 0 || close(fd))
		return (void)fuse_reply_err(req, errno);
	fuse_reply_err(req, 0);
}

static void atr_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct fs_inode *inode = ino_of(req, ino);

	/* A durability point: a written file is committed at its size, so a
	 * cut or an extension from now on reads EIO. */
	if (fs_of(req)->encrypted && inode->cf) {
		pthread_rwlock_wrlock(&inode->lock);
		if (content_commit(inode->cf, fh_of(fi)->fd))
			log_warn("inode %llu: commit record not written at "
				 "close", (unsigned long long)inode->ino);
		pthread_rwlock_unlock(&inode->lock);
	}
	close(fh_of(fi)->fd);
	free(fh_of(fi));
	fuse_reply_err(req, 0);
}

static void atr_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	struct fs_inode *inode = ino_of(req, ino);
	int fd = fh_of(fi)->fd, r = 0;

	/* The commit record (size, clean) goes down with the blocks: the
	 * header, journal and every block live in the one backing file. */
	if (fs_of(req)->encrypted && inode->cf) {
		pthread_rwlock_wrlock(&inode->lock);
		r = content_commit(inode->cf, fd);
		pthread_rwlock_unlock(&inode->lock);
		if (r)
			return (void)fuse_reply_err(req, -r);
	}
	if (datasync ? fdatasync(fd) : fsync(fd))
		return (void)fuse_reply_err(req, errno);
	fuse_reply_err(req, 0);
}

static void atr_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			  off_t offset, off_t length, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = ino_of(req, ino);
	int r = 0;

	if (!fs->encrypted) {
		r = fallocate(fh_of(fi)->fd, mode, offset, length) ? errno : 0;
		return (void)fuse_reply_err(req, r);
	}
	if (mode)
		return (void)fuse_reply_err(req, EOPNOTSUPP);
	/* Reserving space for ciphertext not yet written is not possible
	 * block by block: grow the file (holes) as mode 0 promises. */
	pthread_rwlock_wrlock(&inode->lock);
	if (offset + length > content_size(inode->cf))
		r = content_truncate(inode->cf, fh_of(fi)->fd, offset + length);
	pthread_rwlock_unlock(&inode->lock);
	fuse_reply_err(req, -r);
}

static void atr_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		      struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = ino_of(req, ino);
	off_t r;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return (void)fuse_reply_err(req, EINVAL);
	if (!fs->encrypted) {
		r = lseek(fh_of(fi)->fd, off, whence);
		if (r < 0)
			return (void)fuse_reply_err(req, errno);
		return (void)fuse_reply_lseek(req, r);
	}
	pthread_rwlock_rdlock(&inode->lock);
	r = content_seek(inode->cf, fh_of(fi)->fd, off, whence);
	pthread_rwlock_unlock(&inode->lock);
	if (r < 0)
		return (void)fuse_reply_err(req, (int)-r);
	fuse_reply_lseek(req, r);
}

/* ---- directories ---- */

static void atr_opendir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct atr_dir *d = calloc(1, sizeof(*d));
	int fd, r;

	if (!d)
		return (void)fuse_reply_err(req, ENOMEM);
	fd = openat(ino_of(req, ino)->fd, ".", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		r = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		return (void)fuse_reply_err(req, r);
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void atr_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			off_t offset, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, ino);
	struct atr_dir *d = (struct atr_dir *)(uintptr_t)fi->fh;
	char name[NAMES_MAX + 1];
	size_t rem = size;
	char *buf = calloc(1, size), *p = buf;
	int err = 0;

	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		struct stat st;
		size_t entsize;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		if (plain_name(fs, dir, d->entry->d_name, name)) {
			/* Not ours to show: bookkeeping or undecryptable. */
			d->offset = d->entry->d_off;
			d->entry = NULL;
			continue;
		}
		memset(&st, 0, sizeof(st));
		st.st_ino = d->entry->d_ino;
		st.st_mode = (mode_t)d->entry->d_type << 12;
		entsize = fuse_add_direntry(req, p, rem, name, &st,
					    d->entry->d_off);
		if (entsize > rem)
			break;
		p += entsize;
		rem -= entsize;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void atr_releasedir(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_file_info *fi)
{
	struct atr_dir *d = (struct atr_dir *)(uintptr_t)fi->fh;

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void atr_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	int fd = dirfd(((struct atr_dir *)(uintptr_t)fi->fh)->dp);

	(void)ino;
	if (datasync ? fdatasync(fd) : fsync(fd))
		return (void)fuse_reply_err(req, errno);
	fuse_reply_err(req, 0);
}

static void atr_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(ino_of(req, ino)->fd, &sv))
		return (void)fuse_reply_err(req, errno);
	sv.f_namemax = NAMES_MAX;
	fuse_reply_statfs(req, &sv);
}

/* ---- extended attributes ---- */

/*
 * Encrypted volume: only the user namespace, stored as
 * "user.atrestfs." + encrypted name, the value sealed with the name bound.
 */
static int xattr_backing_name(struct atr_fs *fs, const char *name, char *out,
			      size_t cap)
{
	char enc[NAMES_ENC_MAX + 1];
	int r;

	if (!fs->encrypted) {
		if (strlen(name) >= cap)
			return -ERANGE;
		strcpy(out, name);
		return 0;
	}
	if (strncmp(name, "user.", 5))
		return -EOPNOTSUPP;
	r = names_encrypt(fs->nctx, fixed_id, name + 5, enc);
	if (r)
		return r == -ENAMETOOLONG ? -ERANGE : r;
	if (strlen(XATTR_PREFIX) + strlen(enc) >= cap ||
	    strlen(XATTR_PREFIX) + strlen(enc) > XATTR_NAME_MAX)
		return -ERANGE;
	snprintf(out, cap, "%s%s", XATTR_PREFIX, enc);
	return 0;
}

/*
 * What an xattr value is bound to: the stored name and its owner's ID (a
 * regular file's stable file ID, a directory's ID), so that a value copied
 * to another name or another file or directory reads EIO.
 */
static int xattr_aad(struct atr_fs *fs, struct fs_inode *inode,
		     const char *bname, uint8_t **aad, size_t *len)
{
	size_t n = strlen(bname);
	uint8_t id[CONTENT_FILE_ID_LEN];
	char path[PROC_FD_LEN];
	struct stat st;
	int fd, r;

	_Static_assert(CONTENT_FILE_ID_LEN == NAMES_DIRID_LEN, "ID lengths");
	if (fstat(inode->fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		r = dir_id(inode, id);
	} else if (S_ISREG(st.st_mode)) {
		proc_path(inode->fd, path);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		r = content_of(fs, inode, fd);
		if (!r) {
			pthread_rwlock_wrlock(&inode->lock);
			r = content_file_id(inode->cf, fd, id);
			pthread_rwlock_unlock(&inode->lock);
		}
		close(fd);
	} else {
		return -EOPNOTSUPP;
	}
	if (r)
		return r;
	*aad = malloc(n + sizeof(id));
	if (!*aad)
		return -ENOMEM;
	memcpy(*aad, bname, n);
	memcpy(*aad + n, id, sizeof(id));
	*len = n + sizeof(id);
	return 0;
}

static void atr_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	struct atr_fs *fs = fs_of(req);
	char path[PROC_FD_LEN], bname[XATTR_NAME_MAX + 1];
	uint8_t *sealed = NULL;
	const void *v = value;
	size_t len = size;
	int r = xattr_backing_name(fs, name, bname, sizeof(bname));

	if (r)
		return (void)fuse_reply_err(req, -r);
	if (fs->encrypted) {
		uint8_t *aad = NULL;
		size_t aad_len = 0;

		r = xattr_aad(fs, ino_of(req, ino), bname, &aad, &aad_len);
		if (r)
			return (void)fuse_reply_err(req, -r);
		sealed = malloc(size + CONTENT_OVERHEAD);
		if (!sealed) {
			free(aad);
			return (void)fuse_reply_err(req, ENOMEM);
		}
		r = content_blob_seal(fs->cctx, aad, aad_len, value, size,
				      sealed);
		free(aad);
		v = sealed;
		len = size + CONTENT_OVERHEAD;
	}
	proc_path(ino_of(req, ino)->fd, path);
	if (!r && setxattr(path, bname, v, len, flags))
		r = -errno;
	free(sealed);
	fuse_reply_err(req, -r);
}

static void atr_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	struct atr_fs *fs = fs_of(req);
	char path[PROC_FD_LEN], bname[XATTR_NAME_MAX + 1];
	uint8_t *buf = NULL, *plain = NULL;
	ssize_t n;
	int r = xattr_backing_name(fs, name, bname, sizeof(bname));

	if (r)
		return (void)fuse_reply_err(req, r == -EOPNOTSUPP ? ENODATA : -r);
	proc_path(ino_of(req, ino)->fd, path);
	n = getxattr(path, bname, NULL, 0);
	if (n < 0)
		return (void)fuse_reply_err(req, errno);
	buf = malloc((size_t)n + 1);
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	n = getxattr(path, bname, buf, (size_t)n);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	if (fs->encrypted) {
		if (n < CONTENT_OVERHEAD) {
			r = -EIO;
			goto out;
		}
		uint8_t *aad = NULL;
		size_t aad_len = 0;

		plain = malloc((size_t)n - CONTENT_OVERHEAD + 1);
		if (!plain) {
			r = -ENOMEM;
			goto out;
		}
		r = xattr_aad(fs, ino_of(req, ino), bname, &aad, &aad_len);
		if (!r)
			r = content_blob_open(fs->cctx, aad, aad_len, buf,
					      (size_t)n, plain);
		free(aad);
		if (r == -EIO)
			log_warn("extended attribute of inode %llu failed "
				 "authentication (moved from another file?): "
				 "returning EIO",
				 (unsigned long long)ino_of(req, ino)->ino);
		if (r)
			goto out;
		n -= CONTENT_OVERHEAD;
		free(buf);
		buf = plain;
		plain = NULL;
	}
	if (size == 0) {
		fuse_reply_xattr(req, (size_t)n);
	} else if ((size_t)n > size) {
		r = -ERANGE;
	} else {
		fuse_reply_buf(req, (const char *)buf, (size_t)n);
	}
out:
	if (r)
		fuse_reply_err(req, -r);
	free(buf);
	free(plain);
}

static void atr_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct atr_fs *fs = fs_of(req);
	char path[PROC_FD_LEN], plain[NAMES_MAX + 1];
	char *raw = NULL, *out = NULL;
	size_t olen = 0;
	ssize_t n;
	int r = 0;

	proc_path(ino_of(req, ino)->fd, path);
	n = listxattr(path, NULL, 0);
	if (n < 0)
		return (void)fuse_reply_err(req, errno);
	raw = malloc((size_t)n + 1);
	out = malloc((size_t)n + 1);
	if (!raw || !out) {
		r = -ENOMEM;
		goto out;
	}
	n = listxattr(path, raw, (size_t)n);
	if (n < 0) {
		r = -errno;
		goto out;
	}
	for (char *p = raw; p < raw + n; p += strlen(p) + 1) {
		if (!fs->encrypted) {
			memcpy(out + olen, p, strlen(p) + 1);
			olen += strlen(p) + 1;
			continue;
		}
		if (strncmp(p, XATTR_PREFIX, strlen(XATTR_PREFIX)) ||
		    names_decrypt(fs->nctx, fixed_id, p + strlen(XATTR_PREFIX),
				  plain))
			continue;
		/* "user." + name is never longer than the encrypted form. */
		olen += (size_t)sprintf(out + olen, "user.%s", plain) + 1;
	}
	if (size == 0)
		fuse_reply_xattr(req, olen);
	else if (olen > size)
		r = -ERANGE;
	else
		fuse_reply_buf(req, out, olen);
out:
	if (r)
		fuse_reply_err(req, -r);
	free(raw);
	free(out);
}

static void atr_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct atr_fs *fs = fs_of(req);
	char path[PROC_FD_LEN], bname[XATTR_NAME_MAX + 1];
	int r = xattr_backing_name(fs, name, bname, sizeof(bname));

	if (r)
		return (void)fuse_reply_err(req, r == -EOPNOTSUPP ? ENODATA : -r);
	proc_path(ino_of(req, ino)->fd, path);
	fuse_reply_err(req, removexattr(path, bname) ? errno : 0);
}

const struct fuse_lowlevel_ops atr_ops = {
	.init = atr_init,
	.lookup = atr_lookup,
	.forget = atr_forget,
	.forget_multi = atr_forget_multi,
	.getattr = atr_getattr,
	.setattr = atr_setattr,
	.readlink = atr_readlink,
	.mknod = atr_mknod,
	.mkdir = atr_mkdir,
	.symlink = atr_symlink,
	.unlink = atr_unlink,
	.rmdir = atr_rmdir,
	.rename = atr_rename,
	.link = atr_link,
	.open = atr_open,
	.create = atr_create,
	.read = atr_read,
	.write = atr_write,
	.flush = atr_flush,
	.release = atr_release,
	.fsync = atr_fsync,
	.opendir = atr_opendir,
	.readdir = atr_readdir,
	.releasedir = atr_releasedir,
	.fsyncdir = atr_fsyncdir,
	.statfs = atr_statfs,
	.setxattr = atr_setxattr,
	.getxattr = atr_getxattr,
	.listxattr = atr_listxattr,
	.removexattr = atr_removexattr,
	.fallocate = atr_fallocate,
	.lseek = atr_lseek,
};
