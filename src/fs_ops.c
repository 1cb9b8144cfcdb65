// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * FUSE low-level operations, built the way libfuse's passthrough_ll example
 * is: every inode is an O_PATH fd, every call is an *at() call relative to
 * one, no path is rebuilt per call. This file is the only caller of
 * fuse_reply_*: helpers return 0 or a negative errno and each operation
 * replies once, at its end.
 *
 * A plaintext name becomes its backing entry through the name layer
 * (bname.h) before it touches the disk, which also keeps the volume's own
 * files out of reach; on an encrypted volume file data goes through the
 * content module under the inode's lock. On a plain volume names and data
 * pass through.
 */
#include "fs_ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "content.h"
#include "fs_inode.h"
#include "fs_root.h"
#include "ident.h"
#include "log.h"
#include "names.h"
#include "scratch.h"
#include "stats.h"

struct atr_fh {
	int fd;
	bool append;
	struct fs_inode *writer; /* counted in its open_writers, or NULL */
};

struct atr_dir {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
};

/*
 * Key revocation while mounted (revoke.h): fs->deny is 0, EROFS (calls
 * that would write or create fail, reads go on) or EACCES (every call
 * fails). Replies and returns true when @p req is refused. forget and
 * release are never refused: they only let go of what the kernel held.
 * Every other operation calls it right after its declarations, whose
 * initializers only look things up, so a refused request does nothing.
 */
static bool denied(fuse_req_t req, bool writes)
{
	int d = __atomic_load_n(&fs_of(req)->deny, __ATOMIC_ACQUIRE);

	if (!d || (!writes && d != EACCES))
		return false;
	/* Each refusal is logged; a busy application makes a flood of
	 * them, which the log's rate limit bounds. */
	log_warn("refused a request with %s: the volume's KMS key counts as "
		 "revoked (kms_recheck)", d == EACCES ? "EACCES" : "EROFS");
	fuse_reply_err(req, d);
	return true;
}

/* ---- attributes ---- */

static int content_of(struct atr_fs *fs, struct fs_inode *inode, int fd);

/* A file's size is what its content state says: a file left dirty by a
 * crash is recovered (its torn tail cut) before its size is reported. */
static void load_content(struct atr_fs *fs, struct fs_inode *inode)
{
	char path[FS_PROC_FD_LEN];
	int fd;

	fs_proc_path(inode->fd, path);
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
		st->st_size = content_stat_size(fs->cctx, st->st_size);
	} else if (S_ISLNK(st->st_mode)) {
		st->st_size = bname_target_size(&fs->names, st->st_size);
	}
}

/* What the mount shows of @p inode with backing attributes @p st. */
static void finish_attr(struct atr_fs *fs, struct fs_inode *inode,
			struct stat *st)
{
	fix_attr(fs, inode, st);
	if (inode == fs_table_root(fs->table)) {
		pthread_mutex_lock(&fs->root_lock);
		st->st_uid = fs->root_attr.uid;
		st->st_gid = fs->root_attr.gid;
		st->st_mode = S_IFDIR | fs->root_attr.mode;
		pthread_mutex_unlock(&fs->root_lock);
	}
}

static int do_getattr(struct atr_fs *fs, struct fs_inode *inode,
		      struct stat *st)
{
	if (fstatat(inode->fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	finish_attr(fs, inode, st);
	return 0;
}

/*
 * The reply to a lookup of @p name in @p dir (backing entry @p b): @p inode,
 * whose lookup count the caller raised, with attributes @p st. A directory
 * gets its ID checked and cached here.
 */
static void fill_entry(struct atr_fs *fs, struct fs_inode *dir,
		       struct fs_inode *inode, const char *name,
		       const struct bname *b, struct stat *st,
		       struct fuse_entry_param *e)
{
	if (S_ISDIR(st->st_mode))
		bname_verify_dir(&fs->names, dir, inode, name, b);
	fix_attr(fs, inode, st);
	e->ino = (uintptr_t)inode;
	e->attr = *st;
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
}

/* The entry for backing entry @p b of @p dir, opened and put in the table
 * (its lookup count raised). */
static int open_entry(struct atr_fs *fs, struct fs_inode *dir,
		      const struct bname *b, struct fs_inode **inode,
		      struct stat *st)
{
	int fd, r = bname_open(dir, b, &fd, st);

	if (r)
		return r;
	*inode = fs_table_get(fs->table, fd, st->st_dev, st->st_ino);
	return *inode ? 0 : -ENOMEM;
}

static int do_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = fs_ino(req, parent), *inode;
	struct bname b;
	struct stat st;
	int r;

	memset(e, 0, sizeof(*e));
	r = bname_lookup(&fs->names, dir, name, &b, &st);
	if (r)
		return r;
	/* An inode the table holds (the kernel looking a cached entry up
	 * again, as before an unlink) needs no new fd: one system call. */
	inode = fs_table_find(fs->table, st.st_dev, st.st_ino);
	if (!inode) {
		r = open_entry(fs, dir, &b, &inode, &st);
		if (r)
			return r;
	}
	fill_entry(fs, dir, inode, name, &b, &st, e);
	return 0;
}

static void atr_init(void *userdata, struct fuse_conn_info *conn)
{
	struct atr_fs *fs = userdata;

	/* The kernel applied the caller's umask before sending the mode;
	 * ours must not be applied a second time. */
	umask(0);
	fs->identity = ident_available();
	fs->names = (struct bname_ctx){ .encrypted = fs->encrypted,
					.nctx = fs->nctx,
					.dctx = fs->dctx,
					.root = fs_table_root(fs->table) };

	/* Large requests: one 1 MiB write is one backing pwrite. */
	conn->max_write = 1024 * 1024;
	conn->max_readahead = FS_OPS_READAHEAD;
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
	int r;

	if (denied(req, false))
		return;
	r = do_lookup(req, parent, name, &e);
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
		fs_table_forget(fs_of(req)->table, fs_ino(req, ino), nlookup);
	fuse_reply_none(req);
}

static void atr_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		if (forgets[i].ino != FUSE_ROOT_ID)
			fs_table_forget(fs_of(req)->table,
					fs_ino(req, forgets[i].ino),
					forgets[i].nlookup);
	fuse_reply_none(req);
}

static void atr_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct stat st;
	int r;

	(void)fi;
	if (denied(req, false))
		return;
	r = do_getattr(fs_of(req), fs_ino(req, ino), &st);
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
	char path[FS_PROC_FD_LEN];
	int fd = fi ? ((struct atr_fh *)(uintptr_t)fi->fh)->fd : -1, r;
	bool own = fd < 0;

	if (own) {
		fs_proc_path(inode->fd, path);
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

/* utimensat(2) on the inode's own fd: no path walk through /proc. */
static int set_times(struct fs_inode *inode, const struct timespec tv[2])
{
	char path[FS_PROC_FD_LEN];

	if (!utimensat(inode->fd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return 0;
	if (errno != EINVAL)
		return -errno;
	/* A kernel whose utimensat(2) lacks AT_EMPTY_PATH. */
	fs_proc_path(inode->fd, path);
	return utimensat(AT_FDCWD, path, tv, 0) ? -errno : 0;
}

/*
 * Under the writeback cache the kernel keeps a regular file's mtime and
 * ctime itself and writes them back with a SETATTR of just those two
 * whenever a name of the file changes: once per unlink, synchronously.
 * When the file has no name left (@p st: st_nlink 0) and its mtime on disk
 * is the one sent, the call would only move the backing ctime of an inode
 * nobody can reach again (the kernel shows its own times for it while it
 * is open): nothing to do.
 */
static bool times_unseen(const struct stat *attr, const struct stat *st)
{
	return st->st_nlink == 0 &&
	       st->st_mtim.tv_sec == attr->st_mtim.tv_sec &&
	       st->st_mtim.tv_nsec == attr->st_mtim.tv_nsec;
}

static void atr_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int valid, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = fs_ino(req, ino);
	char path[FS_PROC_FD_LEN];
	struct stat st;
	int r = 0;

	if (denied(req, true))
		return;
	if ((valid & FUSE_SET_ATTR_MTIME) &&
	    !(valid & ~(FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_CTIME))) {
		/* The times write-back: its reply needs this stat anyway. */
		if (fstatat(inode->fd, "", &st,
			    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			goto err_errno;
		if (times_unseen(attr, &st)) {
			finish_attr(fs, inode, &st);
			return (void)fuse_reply_attr(req, &st, fs->timeout);
		}
	}
	fs_proc_path(inode->fd, path);
	/*
	 * chown(f, -1, -1) arrives with nothing to set (a regular file under
	 * the writeback cache: a bare ctime, which no call can set). ext4
	 * still updates ctime: the backing entry gets the same no-op chown.
	 */
	if (!(valid & ~FUSE_SET_ATTR_CTIME) &&
	    fchownat(inode->fd, "", (uid_t)-1, (gid_t)-1,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		goto err_errno;
	/*
	 * The kernel checked the caller's right to each change (default_
	 * permissions) and computed the resulting mode, set-id bits included:
	 * the owner first, as chown drops set-id bits, then that mode.
	 */
	if (inode == fs_table_root(fs->table) &&
	    (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
		      FUSE_SET_ATTR_MODE))) {
		r = fs_root_setattr(fs, attr, valid);
		if (r)
			goto err;
		valid &= ~(FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
			   FUSE_SET_ATTR_MODE);
	}
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = valid & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = valid & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;
		if (fchownat(inode->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			goto err_errno;
	}
	if (valid & FUSE_SET_ATTR_MODE) {
		if (chmod(path, attr->st_mode))
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
		r = set_times(inode, tv);
		if (r)
			goto err;
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

/*
 * The caller is the creator of what it makes in @p dir: its ids, and in
 * the mount root the root's own set-gid and group, which the root's
 * backing directory (the VOLUME directory) never has.
 */
static void creator_of(fuse_req_t req, struct fs_inode *dir,
		       struct bname_creator *who)
{
	struct atr_fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	who->become = fs->identity;
	who->uid = ctx->uid;
	who->gid = ctx->gid;
	who->setgid = dir == fs_table_root(fs->table) &&
		      fs_root_setgid(fs, &who->gid);
}

/*
 * Reply with the entry for @p name in @p parent after it was made (@p r is
 * 0); an entry that cannot be looked up is removed again, so a failed
 * create leaves nothing behind.
 */
static void reply_new_entry(fuse_req_t req, fuse_ino_t parent,
			    const char *name, const struct bname *b,
			    bool is_dir, int r)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = fs_ino(req, parent), *inode;
	struct fuse_entry_param e;
	struct stat st;

	memset(&e, 0, sizeof(e));
	/* The backing name is known: no second encryption, no stat by name
	 * before the open. */
	if (!r) {
		r = open_entry(fs, dir, b, &inode, &st);
		if (r)
			bname_undo(&fs->names, dir, b, is_dir);
	}
	if (r)
		return (void)fuse_reply_err(req, -r);
	fill_entry(fs, dir, inode, name, b, &st, &e);
	fuse_reply_entry(req, &e);
}

/* mkdir, mknod, symlink: make the entry as its caller (bname_make owns the
 * long-name protocol), then answer with it. */
static void make_entry(fuse_req_t req, fuse_ino_t parent, const char *name,
		       struct bname_new *what, bool is_dir)
{
	struct fs_inode *dir = fs_ino(req, parent);
	struct bname_creator who;
	struct bname b;
	int r;

	if (denied(req, true))
		return;
	creator_of(req, dir, &who);
	what->who = &who;
	r = bname_make(&fs_of(req)->names, dir, name, what, &b);
	reply_new_entry(req, parent, name, &b, is_dir, r);
}

static void atr_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	struct bname_new what = { .kind = BNAME_DIR, .mode = mode };

	make_entry(req, parent, name, &what, true);
}

static void atr_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	struct bname_new what = { .kind = BNAME_NODE, .mode = mode,
				  .rdev = rdev };

	make_entry(req, parent, name, &what, false);
}

static void atr_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	struct bname_new what = { .kind = BNAME_SYMLINK, .target = link };

	make_entry(req, parent, name, &what, false);
}

static void atr_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = fs_ino(req, ino);
	char buf[PATH_MAX + 1], plain[NAMES_TARGET_MAX + 1];
	const char *target;
	ssize_t n;

	if (denied(req, false))
		return;
	n = readlinkat(inode->fd, "", buf, sizeof(buf) - 1);
	if (n < 0)
		return (void)fuse_reply_err(req, errno);
	buf[n] = '\0';
	if (bname_target_plain(&fs->names, buf, plain, &target)) {
		log_warn("symlink target of inode %llu does not decrypt",
			 (unsigned long long)inode->ino);
		return (void)fuse_reply_err(req, EIO);
	}
	fuse_reply_readlink(req, target);
}

static void atr_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent,
		     const char *name)
{
	struct bname_new what = { .kind = BNAME_LINK,
				  .fd = fs_ino(req, ino)->fd };
	struct bname b;
	int r;

	if (denied(req, true))
		return;
	r = bname_make(&fs_of(req)->names, fs_ino(req, parent), name, &what,
		       &b);
	reply_new_entry(req, parent, name, &b, false, r);
}

static void atr_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (denied(req, true))
		return;
	fuse_reply_err(req, -bname_unlink(&fs_of(req)->names,
					  fs_ino(req, parent), name));
}

static void atr_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (denied(req, true))
		return;
	fuse_reply_err(req, -bname_rmdir(&fs_of(req)->names,
					 fs_ino(req, parent), name));
}

static void atr_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	int r;

	if (denied(req, true))
		return;
	r = bname_rename(&fs_of(req)->names, fs_ino(req, parent), name,
			 fs_ino(req, newparent), newname, flags);
	fuse_reply_err(req, -r);
}

/* ---- files ---- */

/* The flags of a backing fd for a handle opened with @p flags. */
static int backing_flags(struct atr_fs *fs, int flags)
{
	/* With writeback caching the kernel places appends and may read pages
	 * of a write-only file. */
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
	/* O_DIRECT is the kernel's business on our side (no page cache, one
	 * request per call); on the backing file it would demand alignment
	 * that ciphertext offsets and libfuse's buffers never have (EINVAL). */
	return flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW | O_DIRECT);
}

/* Make backing fd @p fd (taken over: closed on failure) the handle in
 * @p fi of @p inode, opened with @p fi->flags. */
static int attach_handle(struct atr_fs *fs, struct fs_inode *inode, int fd,
			 struct fuse_file_info *fi)
{
	struct atr_fh *fh;
	int r;

	fh = calloc(1, sizeof(*fh));
	if (!fh) {
		close(fd);
		return -ENOMEM;
	}
	/* Without writeback caching, encrypted appends are ours. */
	fh->append = (fi->flags & O_APPEND) && !fs->writeback;
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
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fh->writer = inode;
		__atomic_add_fetch(&inode->open_writers, 1, __ATOMIC_RELAXED);
	}
	fi->fh = (uintptr_t)fh;
	stats_add(STATS_OPEN_FILES, 1);
	/* The daemon is the volume's only writer: cached pages stay valid. */
	fi->keep_cache = 1;
	return 0;
}

static int open_backing(struct atr_fs *fs, struct fs_inode *inode,
			struct fuse_file_info *fi)
{
	char path[FS_PROC_FD_LEN];
	int fd;

	fs_proc_path(inode->fd, path);
	fd = open(path, backing_flags(fs, fi->flags) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return attach_handle(fs, inode, fd, fi);
}

static void atr_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	bool writes = (fi->flags & O_ACCMODE) != O_RDONLY ||
		      (fi->flags & O_TRUNC);
	int r;

	if (denied(req, writes))
		return;
	r = open_backing(fs_of(req), fs_ino(req, ino), fi);
	if (r)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_open(req, fi);
}

/*
 * The entry and handle of file @p b just made in @p dir, open at b->fd
 * (taken over). The O_PATH fd of the table comes from the name, so it is
 * checked to be the file made: one replaced in between (only something
 * writing the backing directory behind the daemon can) is opened as
 * found, like a file found instead of made.
 */
static int handle_made(struct atr_fs *fs, struct fs_inode *dir,
		       const char *name, struct bname *b,
		       struct fuse_file_info *fi, struct fuse_entry_param *e)
{
	struct fs_inode *inode;
	struct stat st, made;
	int fd = b->fd, r;

	b->fd = -1;
	r = open_entry(fs, dir, b, &inode, &st);
	if (r) {
		close(fd);
		return r;
	}
	if (fstat(fd, &made)) {
		r = -errno;
		close(fd);
		fs_table_forget(fs->table, inode, 1);
		return r;
	}
	memset(e, 0, sizeof(*e));
	fill_entry(fs, dir, inode, name, b, &st, e);
	if (made.st_dev != st.st_dev || made.st_ino != st.st_ino) {
		log_warn("file '%s' was replaced in the backing directory "
			 "while it was being created: opening what is there",
			 name);
		close(fd);
		r = open_backing(fs, inode, fi);
	} else {
		r = attach_handle(fs, inode, fd, fi);
	}
	if (r)
		fs_table_forget(fs->table, inode, 1);
	return r;
}

static void atr_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = fs_ino(req, parent);
	struct fuse_entry_param e;
	struct bname_creator who;
	/* A file found instead of made (a race) is opened as it is. */
	struct bname_new what = {
		.kind = BNAME_FILE, .who = &who, .mode = mode,
		.excl = fi->flags & O_EXCL,
		.flags = backing_flags(fs, fi->flags)
	};
	struct bname b;
	int r;

	if (denied(req, true))
		return;
	creator_of(req, dir, &who);
	r = bname_make(&fs->names, dir, name, &what, &b);
	if (r)
		return (void)fuse_reply_err(req, -r);
	if (b.made_entry) {
		r = handle_made(fs, dir, name, &b, fi, &e);
	} else {
		r = do_lookup(req, parent, name, &e);
		if (!r) {
			r = open_backing(fs, fs_ino(req, e.ino), fi);
			if (r)
				fs_table_forget(fs->table, fs_ino(req, e.ino),
						1);
		}
	}
	if (r) {
		bname_undo(&fs->names, dir, &b, false);
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
	struct fs_inode *inode = fs_ino(req, ino);
	uint8_t *read_buf;
	ssize_t n;

	if (denied(req, false))
		return;
	read_buf = scratch_get(SCRATCH_REPLY, size);
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
	stats_io(STATS_BYTES_READ, off, (size_t)n);
	fuse_reply_buf(req, (const char *)read_buf, (size_t)n);
}

static void atr_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = fs_ino(req, ino);
	ssize_t n;

	if (denied(req, true))
		return;
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
	stats_io(STATS_BYTES_WRITTEN, off, (size_t)n);
	fuse_reply_write(req, (size_t)n);
}

/*
 * No flush operation: libfuse answers FLUSH with ENOSYS once and the kernel
 * sends no more, which saves one round trip per close(2) (a third of what an
 * empty create costs). What a flush could report still reaches close(2): the
 * kernel writes the file's dirty pages back (WRITE requests, whose errors it
 * returns) before it would send FLUSH; locks are the kernel's own (no lock
 * operations here), so no lock owner needs a flush; and the close of a
 * backing fd on a local file system reports nothing a pwrite did not.
 */

static void atr_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct fs_inode *inode = fs_ino(req, ino);

	/* A durability point: a written file is committed at its size, so a
	 * cut or an extension from now on reads EIO. */
	if (fs_of(req)->encrypted && inode->cf) {
		pthread_rwlock_wrlock(&inode->lock);
		if (content_commit(inode->cf, fh_of(fi)->fd))
			log_warn("inode %llu: commit record not written at "
				 "close", (unsigned long long)inode->ino);
		pthread_rwlock_unlock(&inode->lock);
	}
	/* The kernel wrote back the file's dirty pages before releasing. */
	if (fh_of(fi)->writer)
		__atomic_sub_fetch(&fh_of(fi)->writer->open_writers, 1,
				   __ATOMIC_RELAXED);
	close(fh_of(fi)->fd);
	free(fh_of(fi));
	stats_add(STATS_OPEN_FILES, -1);
	fuse_reply_err(req, 0);
}

static void atr_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	struct fs_inode *inode = fs_ino(req, ino);
	int fd = fh_of(fi)->fd, r = 0;

	if (denied(req, false))
		return;
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
	struct fs_inode *inode = fs_ino(req, ino);
	int r = 0;

	if (denied(req, true))
		return;
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
	struct fs_inode *inode = fs_ino(req, ino);
	off_t r;

	if (denied(req, false))
		return;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return (void)fuse_reply_err(req, EINVAL);
	/*
	 * With the writeback cache, written data may still sit in the
	 * kernel's dirty pages, and the kernel's lseek asks us without
	 * writing them back first: invalidating the inode's pages writes them
	 * back (other workers serve those writes, so no lock of ours is held
	 * here), after which the backing file is what the kernel knows. Only
	 * pages from @p off on can change the answer, and only a file open
	 * for writing somewhere (a shared mapping keeps its file open) can
	 * have dirty pages: the kernel writes them back before the release.
	 */
	if (fs->writeback && fs->se &&
	    __atomic_load_n(&inode->open_writers, __ATOMIC_RELAXED)) {
		int n = fuse_lowlevel_notify_inval_inode(fs->se, ino, off, 0);

		if (n && n != -ENOENT)
			return (void)fuse_reply_err(req, -n);
	}
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
	struct atr_dir *d;
	uint8_t id[NAMES_DIRID_LEN];
	int fd, r;

	if (denied(req, false))
		return;
	d = calloc(1, sizeof(*d));
	if (!d)
		return (void)fuse_reply_err(req, ENOMEM);
	/* Its names cannot be read without an ID bound to this directory:
	 * say so instead of listing it as empty. */
	if (fs_of(req)->encrypted && fs_inode_dirid(fs_ino(req, ino), id)) {
		free(d);
		return (void)fuse_reply_err(req, EIO);
	}
	fd = openat(fs_ino(req, ino)->fd, ".", O_RDONLY | O_CLOEXEC);
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
	struct fs_inode *dir = fs_ino(req, ino);
	struct atr_dir *d = (struct atr_dir *)(uintptr_t)fi->fh;
	char name[NAMES_MAX + 1];
	size_t rem = size;
	char *buf, *p;
	int err = 0;

	if (denied(req, false))
		return;
	buf = p = calloc(1, size);
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
		if (bname_plain(&fs->names, dir, d->entry->d_name, name)) {
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

	if (denied(req, false))
		return;
	(void)ino;
	if (datasync ? fdatasync(fd) : fsync(fd))
		return (void)fuse_reply_err(req, errno);
	fuse_reply_err(req, 0);
}

static void atr_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (denied(req, false))
		return;
	if (fstatvfs(fs_ino(req, ino)->fd, &sv))
		return (void)fuse_reply_err(req, errno);
	sv.f_namemax = NAMES_MAX;
	fuse_reply_statfs(req, &sv);
}

/* ---- extended attributes ---- */

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
	char path[FS_PROC_FD_LEN];
	struct stat st;
	int fd, r;

	_Static_assert(CONTENT_FILE_ID_LEN == NAMES_DIRID_LEN, "ID lengths");
	if (fstat(inode->fd, &st))
		return -errno;
	if (S_ISDIR(st.st_mode)) {
		r = fs_inode_dirid(inode, id);
	} else if (S_ISREG(st.st_mode)) {
		fs_proc_path(inode->fd, path);
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
	char path[FS_PROC_FD_LEN], bname[XATTR_NAME_MAX + 1];
	uint8_t *sealed = NULL;
	const void *v = value;
	size_t len = size;
	int r;

	if (denied(req, true))
		return;
	r = bname_xattr(&fs->names, name, bname, sizeof(bname));
	if (r)
		return (void)fuse_reply_err(req, -r);
	if (fs->encrypted) {
		uint8_t *aad = NULL;
		size_t aad_len = 0;

		r = xattr_aad(fs, fs_ino(req, ino), bname, &aad, &aad_len);
		if (r)
			return (void)fuse_reply_err(req, -r);
		len = content_blob_sealed_len(size);
		sealed = malloc(len);
		if (!sealed) {
			free(aad);
			return (void)fuse_reply_err(req, ENOMEM);
		}
		r = content_blob_seal(fs->cctx, aad, aad_len, value, size,
				      sealed);
		free(aad);
		v = sealed;
	}
	fs_proc_path(fs_ino(req, ino)->fd, path);
	if (!r && setxattr(path, bname, v, len, flags))
		r = -errno;
	free(sealed);
	fuse_reply_err(req, -r);
}

static void atr_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	struct atr_fs *fs = fs_of(req);
	char path[FS_PROC_FD_LEN], bname[XATTR_NAME_MAX + 1];
	uint8_t *buf = NULL, *plain = NULL;
	ssize_t n;
	int r;

	if (denied(req, false))
		return;
	r = bname_xattr(&fs->names, name, bname, sizeof(bname));
	if (r)
		return (void)fuse_reply_err(req, r == -EOPNOTSUPP ? ENODATA : -r);
	fs_proc_path(fs_ino(req, ino)->fd, path);
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
		ssize_t pn = content_blob_plain_len((size_t)n);
		uint8_t *aad = NULL;
		size_t aad_len = 0;

		if (pn < 0) {
			r = (int)pn;
			goto out;
		}
		plain = malloc((size_t)pn + 1);
		if (!plain) {
			r = -ENOMEM;
			goto out;
		}
		r = xattr_aad(fs, fs_ino(req, ino), bname, &aad, &aad_len);
		if (!r)
			r = content_blob_open(fs->cctx, aad, aad_len, buf,
					      (size_t)n, plain);
		free(aad);
		if (r == -EIO)
			log_warn("extended attribute of inode %llu failed "
				 "authentication (moved from another file?): "
				 "returning EIO",
				 (unsigned long long)fs_ino(req, ino)->ino);
		if (r)
			goto out;
		n = pn;
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
	char path[FS_PROC_FD_LEN];
	char *raw = NULL, *out = NULL;
	size_t olen = 0;
	ssize_t n;
	int r = 0;

	if (denied(req, false))
		return;
	fs_proc_path(fs_ino(req, ino)->fd, path);
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
	/* A listed name is never longer than its stored form. */
	for (char *p = raw; p < raw + n; p += strlen(p) + 1)
		if (!bname_xattr_plain(&fs->names, p, out + olen))
			olen += strlen(out + olen) + 1;
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
	char path[FS_PROC_FD_LEN], bname[XATTR_NAME_MAX + 1];
	int r;

	if (denied(req, true))
		return;
	r = bname_xattr(&fs->names, name, bname, sizeof(bname));
	if (r)
		return (void)fuse_reply_err(req, r == -EOPNOTSUPP ? ENODATA : -r);
	fs_proc_path(fs_ino(req, ino)->fd, path);
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
