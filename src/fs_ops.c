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

#include "bkfile.h"
#include "content.h"
#include "dirid.h"
#include "durable.h"
#include "fs_inode.h"
#include "ident.h"
#include "log.h"
#include "longname.h"
#include "names.h"
#include "secmem.h"
#include "stats.h"
#include "tlsbuf.h"
#include "volume.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uintptr_t),
	       "fuse_ino_t too small to hold a pointer");

#define XATTR_PREFIX "user.atrestfs."
#define PROC_FD_LEN 64

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

/*
 * Key revocation while mounted (revoke.h): fs->deny is 0, EROFS (calls
 * that would write or create fail, reads go on) or EACCES (every call
 * fails). Replies and returns true when @p req is refused. forget and
 * release are never refused: they only let go of what the kernel held.
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
		/* The ID file and its temp file (a crash during a rebind). */
		if (is_dot(d->d_name) ||
		    !strncmp(d->d_name, NAMES_DIRID_FILE,
			     strlen(NAMES_DIRID_FILE)))
			continue;
		r = -ENOTEMPTY;
		break;
	}
	closedir(dp);
	return r;
}

/*
 * An empty directory without its ID file is what a crash between moving
 * its ID file aside and the rename onto it leaves (clear_target_dir()): no
 * name was ever encrypted under a missing ID, so a new one, bound to the
 * directory's place, loses nothing.
 */
static int recover_dir_id(struct atr_fs *fs, struct fs_inode *dir,
			  const struct dirid_place *place,
			  uint8_t id[NAMES_DIRID_LEN])
{
	int fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = check_empty(fd);
	if (!r) {
		r = dirid_create(fs->dctx, fd, place, id);
		if (!r)
			log_warn("an empty directory had lost its ID file (an "
				 "interrupted rename): given a new one");
	}
	close(fd);
	return r ? -ENOENT : 0;
}

/*
 * The ID of a directory, checked against its place when it was looked up
 * (do_lookup()) or mounted (the root). A directory whose ID file is
 * missing, malformed or bound elsewhere has none: its entries read as EIO.
 */
static int dir_id(struct fs_inode *dir, uint8_t id[NAMES_DIRID_LEN])
{
	int r = 0;

	pthread_rwlock_rdlock(&dir->lock);
	if (dir->has_dirid)
		memcpy(id, dir->dirid, NAMES_DIRID_LEN);
	else
		r = -EIO;
	pthread_rwlock_unlock(&dir->lock);
	return r;
}

/* The backing path of @p fd, for messages. */
static const char *backing_path(int fd, char *buf, size_t n)
{
	char path[PROC_FD_LEN];
	ssize_t len;

	proc_path(fd, path);
	len = readlink(path, buf, n - 1);
	if (len < 0)
		len = 0;
	buf[len] = '\0';
	return buf;
}

/* Check the ID of directory @p name (open at @p fd) found in @p parent and
 * remember it, or log why it cannot be used. */
static void verify_dir_id(struct atr_fs *fs, struct fs_inode *parent,
			  struct fs_inode *inode, const char *name,
			  const char *enc)
{
	uint8_t pid[NAMES_DIRID_LEN], id[NAMES_DIRID_LEN];
	struct dirid_place place = { pid, enc };
	char where[PATH_MAX];
	int r;

	pthread_rwlock_rdlock(&inode->lock);
	r = inode->has_dirid;
	pthread_rwlock_unlock(&inode->lock);
	if (r || dir_id(parent, pid))
		return;
	r = dirid_read(fs->dctx, inode->fd, &place, id);
	if (r == -ENOENT)
		r = recover_dir_id(fs, inode, &place, id);
	if (r) {
		log_warn("directory '%s' (backing %s): %s: its entries read as "
			 "EIO", name, backing_path(inode->fd, where,
						   sizeof(where)),
			 r == -EBADMSG ? "its ID file belongs to another "
					 "directory (copied, moved or swapped)"
			 : r == -ENOENT ? "it has no ID file"
					: "its ID file is unreadable or "
					  "malformed");
		return;
	}
	pthread_rwlock_wrlock(&inode->lock);
	memcpy(inode->dirid, id, NAMES_DIRID_LEN);
	inode->has_dirid = true;
	pthread_rwlock_unlock(&inode->lock);
}

/*
 * The names a plain volume keeps for itself in its root: "atrestfs.*" (the
 * config, the mount root's attributes, their temp files) and ".atrestfs.*"
 * (temporary directories, and the directory ID name, whose presence would
 * make the next plain mount take the volume for a disguised encrypted one).
 */
static bool plain_reserved(const char *name)
{
	return !strncmp(name, "atrestfs.", strlen("atrestfs.")) ||
	       !strncmp(name, ".atrestfs.", strlen(".atrestfs."));
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
	*created = false;
	if (!b->is_long)
		return 0;
	return longname_write(dir->fd, b->name, b->enc, created);
}

static void remove_long_name(struct fs_inode *dir, const struct bname *b)
{
	if (b->is_long)
		longname_remove(dir->fd, b->name);
}

/* Plaintext name of backing entry @p entry in @p dir; -errno to skip it. */
static int plain_name(struct atr_fs *fs, struct fs_inode *dir,
		      const char *entry, char *out)
{
	char enc[NAMES_ENC_MAX + 1];
	uint8_t id[NAMES_DIRID_LEN];
	const char *src = entry;
	int r;

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
		/* The .name file must be the one this entry was named after. */
		if (longname_read(dir->fd, entry, enc)) {
			log_warn("skipping entry %.64s: its .name file is "
				 "missing or belongs to another name", entry);
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

/* ---- the mount root's own attributes ---- */

int fs_root_init(struct atr_fs *fs, const uint8_t *key)
{
	struct fs_inode *root = fs_table_root(fs->table);

	pthread_mutex_init(&fs->root_lock, NULL);
	if (key) {
		fs->root_key = secmem_alloc(ROOTATTR_KEY_LEN);
		if (!fs->root_key)
			return -ENOMEM;
		memcpy(fs->root_key, key, ROOTATTR_KEY_LEN);
	}
	return rootattr_load(root->fd, fs->root_key, &fs->root_attr);
}

void fs_root_free(struct atr_fs *fs)
{
	secmem_free(fs->root_key);
	fs->root_key = NULL;
}

/* True (with the root's group in @p gid) when the mount root is set-gid. */
static bool fs_root_setgid(struct atr_fs *fs, gid_t *gid)
{
	bool sgid;

	pthread_mutex_lock(&fs->root_lock);
	sgid = fs->root_attr.mode & S_ISGID;
	if (sgid)
		*gid = fs->root_attr.gid;
	pthread_mutex_unlock(&fs->root_lock);
	return sgid;
}

/*
 * chown/chmod of the mount root change its record, never the VOLUME
 * directory. The record is durable before the reply, as a chmod on ext4
 * is once the caller fsyncs; the kernel already decided what is allowed.
 */
static int fs_root_setattr(struct atr_fs *fs, const struct stat *attr,
			   int valid)
{
	struct fs_inode *root = fs_table_root(fs->table);
	char path[PROC_FD_LEN];
	struct rootattr a;
	struct stat st;
	int r;

	pthread_mutex_lock(&fs->root_lock);
	a = fs->root_attr;
	if (valid & FUSE_SET_ATTR_UID)
		a.uid = attr->st_uid;
	if (valid & FUSE_SET_ATTR_GID)
		a.gid = attr->st_gid;
	if (valid & FUSE_SET_ATTR_MODE)
		a.mode = attr->st_mode & 07777;
	r = fstatat(root->fd, "", &st, AT_EMPTY_PATH) ? -errno : 0;
	if (!r)
		r = rootattr_store(root->fd, fs->root_key, &a);
	if (!r) {
		/* A chmod changes ctime, not the directory's mtime, which
		 * replacing the record in VOLUME just did. */
		struct timespec tv[2] = { { 0, UTIME_OMIT }, st.st_mtim };

		proc_path(root->fd, path);
		utimensat(AT_FDCWD, path, tv, 0);
		fs->root_attr = a;
	}
	pthread_mutex_unlock(&fs->root_lock);
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
	if (inode == fs_table_root(fs->table)) {
		pthread_mutex_lock(&fs->root_lock);
		st->st_uid = fs->root_attr.uid;
		st->st_gid = fs->root_attr.gid;
		st->st_mode = S_IFDIR | fs->root_attr.mode;
		pthread_mutex_unlock(&fs->root_lock);
	}
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
	if (fs->encrypted && b.is_long) {
		char enc[NAMES_ENC_MAX + 1], where[PATH_MAX];

		/* Lookups never need the .name file, but an entry whose file
		 * was swapped must not be usable under this name either. */
		r = longname_read(dir->fd, b.name, enc);
		if (r || strcmp(enc, b.enc)) {
			log_warn("entry '%s' in %s: its long-name file %s%s is "
				 "missing or belongs to another name: EIO",
				 name, backing_path(dir->fd, where,
						    sizeof(where)),
				 b.name, NAMES_LONG_SUFFIX);
			close(fd);
			return -EIO;
		}
	}
	inode = fs_table_get(fs->table, fd, st.st_dev, st.st_ino);
	if (!inode)
		return -ENOMEM;
	if (fs->encrypted && S_ISDIR(st.st_mode))
		verify_dir_id(fs, dir, inode, name, b.enc);
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

	/* The kernel applied the caller's umask before sending the mode;
	 * ours must not be applied a second time. */
	umask(0);
	fs->identity = ident_available();

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
	if (denied(req, false))
		return;
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
	if (denied(req, false))
		return;
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
	if (denied(req, true))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = ino_of(req, ino);
	char path[PROC_FD_LEN];
	struct stat st;
	int r = 0;

	proc_path(inode->fd, path);
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

/*
 * Take the caller's identity for the one call that creates an entry in
 * @p dir: the backing file system then sets owner, group (the parent's
 * when it is set-gid) and set-gid inheritance itself. The mount root's
 * backing directory is the VOLUME directory, never set-gid: its own
 * set-gid is applied here. @p mode is the new entry's mode (S_IFDIR for a
 * directory) and may gain S_ISGID.
 */
static int creator_become(fuse_req_t req, struct fs_inode *dir,
			  mode_t *mode, struct ident_saved *saved)
{
	struct atr_fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t gid = ctx->gid;

	saved->active = false;
	if (dir == fs_table_root(fs->table) && fs_root_setgid(fs, &gid) &&
	    S_ISDIR(*mode))
		*mode |= S_ISGID;
	if (!fs->identity)
		return 0;
	return ident_become(ctx->uid, gid, saved);
}

/* Remove an entry this request made, when it cannot be handed out. */
static void undo_create(struct atr_fs *fs, struct fs_inode *dir,
			const struct bname *b, bool is_dir)
{
	int fd;

	if (is_dir && fs->encrypted) {
		fd = openat(dir->fd, b->name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			unlinkat(fd, NAMES_DIRID_FILE, 0);
			close(fd);
		}
	}
	unlinkat(dir->fd, b->name, is_dir ? AT_REMOVEDIR : 0);
	remove_long_name(dir, b);
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
	struct fuse_entry_param e;

	if (!r) {
		r = do_lookup(req, parent, name, &e);
		if (r)
			undo_create(fs_of(req), ino_of(req, parent), b, is_dir);
	}
	if (r)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_entry(req, &e);
}

static int set_dir_mode(struct fs_inode *dir, const char *name, mode_t mode)
{
	return fchmodat(dir->fd, name, mode & 07777, 0) ? -errno : 0;
}

/*
 * mkdir: the directory is made under a temporary bookkeeping name (by the
 * caller's identity), and on an encrypted volume gets its ID file bound to
 * its real place (dirid_publish()) before it appears under its real name,
 * so no crash leaves a directory without an ID. A directory that must
 * inherit the mount root's set-gid (which its backing parent, the VOLUME
 * directory, does not have) gets it under the temporary name too, so
 * nobody sees it without.
 */
static int make_dir(fuse_req_t req, struct fs_inode *dir,
		    const struct bname *b, mode_t mode)
{
	struct atr_fs *fs = fs_of(req);
	uint8_t pid[NAMES_DIRID_LEN];
	struct dirid_place place = { pid, b->enc };
	struct ident_saved saved;
	char tmp[DIRID_TMP_NAME_MAX];
	int r;

	if (fs->encrypted && (r = dir_id(dir, pid)))
		return r;
	mode |= S_IFDIR;
	r = creator_become(req, dir, &mode, &saved);
	if (r)
		return r;
	if (!fs->encrypted && !(mode & S_ISGID)) {
		r = mkdirat(dir->fd, b->name, mode & 07777) ? -errno : 0;
		ident_restore(&saved);
		return r;
	}
	dirid_tmp_name(tmp);
	r = mkdirat(dir->fd, tmp, mode & 07777) ? -errno : 0;
	ident_restore(&saved);
	if (r)
		return r;
	if ((mode & S_ISGID) && (r = set_dir_mode(dir, tmp, mode)))
		goto err_rmdir;
	if (fs->encrypted)
		return dirid_publish(fs->dctx, dir->fd, tmp, b->name, &place,
				     NULL);
	r = durable_rename_noreplace(dir->fd, tmp, dir->fd, b->name);
	if (!r)
		return 0;
err_rmdir:
	unlinkat(dir->fd, tmp, AT_REMOVEDIR);
	return r;
}

static void atr_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	if (denied(req, true))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct bname b;
	bool made = false;
	int r = backing_name(fs, dir, name, &b);

	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r) {
		r = make_dir(req, dir, &b, mode);
		if (r && made)
			remove_long_name(dir, &b);
	}
	reply_new_entry(req, parent, name, &b, true, r);
}

static void atr_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	if (denied(req, true))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct ident_saved saved;
	struct bname b;
	bool made = false;
	int r;

	/* Every node type ext4 has: the mount is nosuid,nodev, so device
	 * nodes and sockets are inert names, as on any such mount. */
	r = backing_name(fs, dir, name, &b);
	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r)
		r = creator_become(req, dir, &mode, &saved);
	if (!r) {
		r = mknodat(dir->fd, b.name, mode, rdev) ? -errno : 0;
		ident_restore(&saved);
	}
	if (r && made)
		remove_long_name(dir, &b);
	reply_new_entry(req, parent, name, &b, false, r);
}

static void atr_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	if (denied(req, true))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	char enc[NAMES_TARGET_ENC_MAX + 1];
	const char *target = link;
	struct ident_saved saved;
	mode_t mode = S_IFLNK | 0777;
	struct bname b;
	bool made = false;
	int r = backing_name(fs, dir, name, &b);

	if (!r && fs->encrypted) {
		r = names_encrypt_target(fs->nctx, names_fixed_id, link, enc);
		target = enc;
	}
	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r)
		r = creator_become(req, dir, &mode, &saved);
	if (!r) {
		r = symlinkat(target, dir->fd, b.name) ? -errno : 0;
		ident_restore(&saved);
	}
	if (r && made)
		remove_long_name(dir, &b);
	reply_new_entry(req, parent, name, &b, false, r);
}

static void atr_readlink(fuse_req_t req, fuse_ino_t ino)
{
	if (denied(req, false))
		return;
	struct atr_fs *fs = fs_of(req);
	char buf[PATH_MAX + 1], plain[NAMES_TARGET_MAX + 1];
	ssize_t n = readlinkat(ino_of(req, ino)->fd, "", buf, sizeof(buf) - 1);
	int r;

	if (n < 0)
		return (void)fuse_reply_err(req, errno);
	buf[n] = '\0';
	if (!fs->encrypted)
		return (void)fuse_reply_readlink(req, buf);
	r = names_decrypt_target(fs->nctx, names_fixed_id, buf, plain);
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
	if (denied(req, true))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	char path[PROC_FD_LEN];
	struct bname b;
	bool made = false;
	int r = backing_name(fs, dir, name, &b);

	proc_path(ino_of(req, ino)->fd, path);
	if (!r)
		r = write_long_name(dir, &b, &made);
	/* A new name for an inode that keeps its owner: no identity to take
	 * (the kernel checked protected_hardlinks with the caller's). */
	if (!r && linkat(AT_FDCWD, path, dir->fd, b.name, AT_SYMLINK_FOLLOW)) {
		r = -errno;
		if (made)
			remove_long_name(dir, &b);
	}
	reply_new_entry(req, parent, name, &b, false, r);
}

static void atr_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (denied(req, true))
		return;
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

static void atr_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (denied(req, true))
		return;
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
			if (!r)
				unlinkat(fd, NAMES_DIRID_FILE DURABLE_TMP_SUFFIX,
					 0);
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

/*
 * A directory renamed onto an existing empty one replaces it, as on ext4;
 * the target's backing directory still holds its ID file, so that is moved
 * aside first, into the target's parent under a hidden name @p saved: put
 * back if the rename fails (the kernel holds the target locked meanwhile,
 * so nothing was made in it), dropped once it succeeded. A crash in
 * between leaves an empty directory without an ID, which its next lookup
 * gives a new one (recover_dir_id()), and a hidden leftover.
 */
static int clear_target_dir(struct fs_inode *dir, const char *name,
			    struct fs_inode *ndir, const char *newname,
			    char saved[64])
{
	static unsigned long counter;
	struct stat src, dst;
	int fd, r;

	saved[0] = '\0';
	if (fstatat(ndir->fd, newname, &dst, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISDIR(dst.st_mode) ||
	    fstatat(dir->fd, name, &src, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISDIR(src.st_mode) ||
	    (src.st_dev == dst.st_dev && src.st_ino == dst.st_ino))
		return 0; /* no directory to replace: renameat2 decides */
	fd = openat(ndir->fd, newname,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = check_empty(fd);
	if (!r) {
		snprintf(saved, 64, ".atrestfs.rename.%d.%lu", (int)getpid(),
			 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
		if (renameat(fd, NAMES_DIRID_FILE, ndir->fd, saved)) {
			r = errno == ENOENT ? 0 : -errno;
			saved[0] = '\0';
		}
	}
	close(fd);
	return r;
}

/* After the rename: drop the target's old ID, or put it back. */
static void finish_target_dir(struct fs_inode *ndir, const char *newname,
			      const char *saved, bool renamed)
{
	int fd;

	if (!saved[0])
		return;
	if (renamed) {
		unlinkat(ndir->fd, saved, 0);
		return;
	}
	fd = openat(ndir->fd, newname,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || renameat(ndir->fd, saved, fd, NAMES_DIRID_FILE))
		log_warn("could not put back a directory's ID file after a "
			 "failed rename: it gets a new one on next use");
	if (fd >= 0)
		close(fd);
}

/* A directory being renamed: its ID and both of its places. */
struct moving_dir {
	int fd; /* O_PATH of the directory, or -1 when not a directory */
	uint8_t id[NAMES_DIRID_LEN];
	uint8_t from_id[NAMES_DIRID_LEN], to_id[NAMES_DIRID_LEN];
	struct dirid_place from, to;
};

/*
 * Step 1 of renaming a directory: bind its ID file to the old and the new
 * place at once (durably), so that wherever a crash leaves it, it is bound
 * there. Not a directory: nothing to do (m->fd stays -1).
 */
static int rebind_begin(struct atr_fs *fs, struct fs_inode *from,
			const struct bname *fb, struct fs_inode *to,
			const struct bname *tb, struct moving_dir *m)
{
	char where[PATH_MAX];
	struct stat st;
	int r;

	m->fd = -1;
	if (fstatat(from->fd, fb->name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno; /* rename says ENOENT */
	if (!S_ISDIR(st.st_mode))
		return 0;
	r = dir_id(from, m->from_id);
	if (!r)
		r = dir_id(to, m->to_id);
	if (r)
		return r;
	m->from = (struct dirid_place){ m->from_id, fb->enc };
	m->to = (struct dirid_place){ m->to_id, tb->enc };
	m->fd = openat(from->fd, fb->name,
		       O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	r = dirid_read(fs->dctx, m->fd, &m->from, m->id);
	if (r) {
		log_warn("cannot rename directory %s: its ID file is not bound "
			 "to it: EIO", backing_path(m->fd, where,
						    sizeof(where)));
		r = -EIO;
	} else {
		r = dirid_rebind(fs->dctx, m->fd, m->id, &m->from, &m->to);
	}
	if (r) {
		close(m->fd);
		m->fd = -1;
	}
	return r;
}

/* Step 3 (after the rename is durable): keep only the current place. */
static void rebind_end(struct atr_fs *fs, struct moving_dir *m, bool moved)
{
	char where[PATH_MAX];

	if (m->fd < 0)
		return;
	/* On failure the file keeps both bindings, still valid here. */
	if (dirid_rebind(fs->dctx, m->fd, m->id, moved ? &m->to : &m->from,
			 NULL))
		log_warn("directory %s keeps its ID bound to two places",
			 backing_path(m->fd, where, sizeof(where)));
	close(m->fd);
	m->fd = -1;
}

static void atr_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	if (denied(req, true))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent), *ndir = ino_of(req, newparent);
	struct moving_dir ms = { .fd = -1 }, mt = { .fd = -1 };
	struct bname b, nb;
	char saved[64] = "";
	bool made = false, moved;
	int r = backing_name(fs, dir, name, &b);

	if (!r)
		r = backing_name(fs, ndir, newname, &nb);
	if (!r)
		r = write_long_name(ndir, &nb, &made);
	if (!r && fs->encrypted) {
		r = rebind_begin(fs, dir, &b, ndir, &nb, &ms);
		if (!r && (flags & RENAME_EXCHANGE))
			r = rebind_begin(fs, ndir, &nb, dir, &b, &mt);
	}
	if (!r && fs->encrypted && !flags)
		r = clear_target_dir(dir, b.name, ndir, nb.name, saved);
	if (!r && flags == RENAME_NOREPLACE) /* with its fallbacks */
		r = durable_rename_noreplace(dir->fd, b.name, ndir->fd, nb.name);
	else if (!r && renameat2(dir->fd, b.name, ndir->fd, nb.name, flags))
		r = -errno; /* RENAME_EXCHANGE has no fallback: EINVAL */
	moved = !r;
	finish_target_dir(ndir, nb.name, saved, moved);
	/* 2. The rename must be on disk before a binding is dropped. */
	if (moved && (ms.fd >= 0 || mt.fd >= 0)) {
		durable_fsync_dir(ndir->fd);
		if (dir != ndir)
			durable_fsync_dir(dir->fd);
	}
	rebind_end(fs, &ms, moved);
	rebind_end(fs, &mt, moved);
	if (r) {
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

static void atr_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (denied(req, (fi->flags & O_ACCMODE) != O_RDONLY ||
			       (fi->flags & O_TRUNC)))
		return;
	int r = open_backing(fs_of(req), ino_of(req, ino), fi->flags, fi);

	if (r)
		return (void)fuse_reply_err(req, -r);
	fuse_reply_open(req, fi);
}

static void atr_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	if (denied(req, true))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *dir = ino_of(req, parent);
	struct fuse_entry_param e;
	struct ident_saved saved;
	struct bname b;
	bool made = false, created = true;
	int fd, r = backing_name(fs, dir, name, &b);

	if (!r)
		r = write_long_name(dir, &b, &made);
	if (!r)
		r = creator_become(req, dir, &mode, &saved);
	if (r)
		goto err;
	/* Exclusive first, so that we know whether the entry is ours to
	 * remove if the open fails; the kernel only sends create when its
	 * lookup found nothing, so an existing file is a race, opened below. */
	fd = openat(dir->fd, b.name,
		    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
		    mode & 07777);
	r = fd < 0 ? -errno : 0;
	ident_restore(&saved);
	if (r == -EEXIST && !(fi->flags & O_EXCL)) {
		created = false;
		r = 0;
	}
	if (r)
		goto err;
	if (fd >= 0)
		close(fd);
	r = do_lookup(req, parent, name, &e);
	if (r)
		goto err_created;
	r = open_backing(fs, ino_of(req, e.ino), fi->flags, fi);
	if (r) {
		fs_table_forget(fs->table, ino_of(req, e.ino), 1);
		goto err_created;
	}
	return (void)fuse_reply_create(req, &e, fi);
err_created:
	if (created) {
		undo_create(fs, dir, &b, false);
		made = false;
	}
err:
	if (made)
		remove_long_name(dir, &b);
	fuse_reply_err(req, -r);
}

static struct atr_fh *fh_of(struct fuse_file_info *fi)
{
	return (struct atr_fh *)(uintptr_t)fi->fh;
}

static void atr_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	if (denied(req, false))
		return;
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
	stats_io(STATS_BYTES_READ, off, (size_t)n);
	fuse_reply_buf(req, (const char *)read_buf, (size_t)n);
}

static void atr_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	if (denied(req, true))
		return;
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
	if (denied(req, false))
		return;
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
	if (denied(req, true))
		return;
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
	if (denied(req, false))
		return;
	struct atr_fs *fs = fs_of(req);
	struct fs_inode *inode = ino_of(req, ino);
	off_t r;

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
	if (denied(req, false))
		return;
	struct atr_dir *d = calloc(1, sizeof(*d));
	uint8_t id[NAMES_DIRID_LEN];
	int fd, r;

	if (!d)
		return (void)fuse_reply_err(req, ENOMEM);
	/* Its names cannot be read without an ID bound to this directory:
	 * say so instead of listing it as empty. */
	if (fs_of(req)->encrypted && dir_id(ino_of(req, ino), id)) {
		free(d);
		return (void)fuse_reply_err(req, EIO);
	}
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
	if (denied(req, false))
		return;
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
	if (denied(req, false))
		return;
	int fd = dirfd(((struct atr_dir *)(uintptr_t)fi->fh)->dp);

	(void)ino;
	if (datasync ? fdatasync(fd) : fsync(fd))
		return (void)fuse_reply_err(req, errno);
	fuse_reply_err(req, 0);
}

static void atr_statfs(fuse_req_t req, fuse_ino_t ino)
{
	if (denied(req, false))
		return;
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
	r = names_encrypt(fs->nctx, names_fixed_id, name + 5, enc);
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
	if (denied(req, true))
		return;
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
	if (denied(req, false))
		return;
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
	if (denied(req, false))
		return;
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
		    names_decrypt(fs->nctx, names_fixed_id, p + strlen(XATTR_PREFIX),
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
	if (denied(req, true))
		return;
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
