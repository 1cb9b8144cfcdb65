// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The backing-name layer (bname.h): plaintext names to backing entries and
 * back, the long-name protocol (.name file before the entry, removed after
 * it), the names a volume reserves, the directory-ID check at lookup and
 * the fixed-ID domain of xattr names and symlink targets. fs_ops.c calls
 * it with FUSE's requests already taken apart; it never replies.
 */
#include "bname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "dirid.h"
#include "dirmove.h"
#include "durable.h"
#include "fs_inode.h"
#include "ident.h"
#include "log.h"
#include "longname.h"

static bool is_dot(const char *n)
{
	return !strcmp(n, ".") || !strcmp(n, "..");
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

int bname_get(const struct bname_ctx *c, struct fs_inode *dir,
	      const char *name, struct bname *b)
{
	uint8_t id[NAMES_DIRID_LEN];
	size_t len = strlen(name);
	int r;

	b->is_long = false;
	b->made_long = false;
	b->made_entry = false;
	b->fd = -1;
	if (!c->encrypted) {
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		if (dir == c->root && plain_reserved(name))
			return -EPERM;
		memcpy(b->name, name, len + 1);
		return 0;
	}
	r = fs_inode_dirid(dir, id);
	if (r)
		return r;
	r = names_encrypt(c->nctx, id, name, b->enc);
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
static int write_long(struct fs_inode *dir, struct bname *b)
{
	b->made_long = false;
	if (!b->is_long)
		return 0;
	return longname_write(dir->fd, b->name, b->enc, &b->made_long);
}

static void remove_long(struct fs_inode *dir, const struct bname *b)
{
	if (b->is_long)
		longname_remove(dir->fd, b->name);
}

/*
 * The plaintext name of backing entry @p entry of the directory open at
 * @p dirfd, whose ID is @p id, into @p out; its full encoded name into
 * @p enc. A long entry's encoded name comes from its .name file.
 * @return 0, -EIO when that file is missing or belongs to another name,
 * or what names_decrypt() returns.
 */
static int decrypt_entry(const struct bname_ctx *c, int dirfd,
			 const uint8_t id[NAMES_DIRID_LEN], const char *entry,
			 char *enc, char *out)
{
	if (names_is_long_entry(entry)) {
		if (longname_read(dirfd, entry, enc))
			return -EIO;
	} else if (strlen(entry) <= NAMES_ENC_MAX) {
		strcpy(enc, entry);
	} else {
		return -EINVAL;
	}
	return names_decrypt(c->nctx, id, enc, out);
}

int bname_plain(const struct bname_ctx *c, struct fs_inode *dir,
		const char *entry, char *out)
{
	char enc[NAMES_ENC_MAX + 1];
	uint8_t id[NAMES_DIRID_LEN];
	int r;

	if (!c->encrypted) {
		if (dir == c->root && plain_reserved(entry))
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
	r = fs_inode_dirid(dir, id);
	if (r)
		return r;
	/* A long entry's .name file must be the one it was named after. */
	r = decrypt_entry(c, dir->fd, id, entry, enc, out);
	if (r == -EIO)
		log_warn("skipping entry %.64s: its .name file is missing or "
			 "belongs to another name", entry);
	else if (r)
		log_warn("skipping entry %.64s: its name does not decrypt",
			 entry);
	return r;
}

int bname_plain_path(const struct bname_ctx *c, char *rel, char *out,
		     size_t n)
{
	char enc[NAMES_ENC_MAX + 1], plain[NAMES_MAX + 1];
	uint8_t id[NAMES_DIRID_LEN];
	char *save = NULL, *e, *next;
	int dfd, r;
	size_t o = 0;

	if (!c->encrypted)
		return -EINVAL;
	r = fs_inode_dirid(c->root, id);
	if (r)
		return r;
	dfd = dup(c->root->fd);
	if (dfd < 0)
		return -errno;
	for (e = strtok_r(rel, "/", &save); e; e = next) {
		struct dirid_place place = { id, enc };
		int nfd;

		next = strtok_r(NULL, "/", &save);
		r = decrypt_entry(c, dfd, id, e, enc, plain);
		if (!r && o + strlen(plain) + 2 > n)
			r = -ENAMETOOLONG;
		if (r)
			break;
		o += (size_t)snprintf(out + o, n - o, "/%s", plain);
		if (!next)
			break;
		/* Not looked up by the kernel, maybe: its ID from its file. */
		nfd = openat(dfd, e, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			r = -errno;
			break;
		}
		close(dfd);
		dfd = nfd;
		r = dirid_read(c->dctx, dfd, &place, id);
		if (r)
			break;
	}
	close(dfd);
	return r;
}

int bname_lookup(const struct bname_ctx *c, struct fs_inode *dir,
		 const char *name, struct bname *b, struct stat *st)
{
	int r = bname_get(c, dir, name, b);

	if (r)
		return r == -EPERM ? -ENOENT : r;
	if (fstatat(dir->fd, b->name, st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (b->is_long) {
		char enc[NAMES_ENC_MAX + 1], where[PATH_MAX];

		/* Lookups never need the .name file, but an entry whose file
		 * was swapped must not be usable under this name either. */
		r = longname_read(dir->fd, b->name, enc);
		if (r || strcmp(enc, b->enc)) {
			log_warn("entry '%s' in %s: its long-name file %s%s is "
				 "missing or belongs to another name: EIO",
				 name, log_fd_path(dir->fd, where,
						   sizeof(where)),
				 b->name, NAMES_LONG_SUFFIX);
			return -EIO;
		}
	}
	return 0;
}

int bname_open(struct fs_inode *dir, const struct bname *b, int *fd,
	       struct stat *st)
{
	int r;

	*fd = openat(dir->fd, b->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	/* The attributes of what was opened: the entry may have been
	 * replaced since it was found. */
	if (!fstatat(*fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return 0;
	r = -errno;
	close(*fd);
	*fd = -1;
	return r;
}

void bname_verify_dir(const struct bname_ctx *c, struct fs_inode *parent,
		      struct fs_inode *inode, const char *name,
		      const struct bname *b)
{
	uint8_t pid[NAMES_DIRID_LEN], id[NAMES_DIRID_LEN];
	struct dirid_place place = { pid, b->enc };
	char where[PATH_MAX];
	int r;

	if (!c->encrypted || fs_inode_has_dirid(inode) ||
	    fs_inode_dirid(parent, pid))
		return;
	r = dirid_read(c->dctx, inode->fd, &place, id);
	if (r == -ENOENT)
		r = dirmove_recover(c->dctx, inode, &place, id);
	if (r) {
		log_warn("directory '%s' (backing %s): %s: its entries read as "
			 "EIO", name, log_fd_path(inode->fd, where,
						  sizeof(where)),
			 r == -EBADMSG ? "its ID file belongs to another "
					 "directory (copied, moved or swapped)"
			 : r == -ENOENT ? "it has no ID file"
					: "its ID file is unreadable or "
					  "malformed");
		return;
	}
	fs_inode_set_dirid(inode, id);
}

void bname_undo(const struct bname_ctx *c, struct fs_inode *dir,
		const struct bname *b, bool is_dir)
{
	int fd;

	if (!b->made_entry) {
		if (b->made_long)
			remove_long(dir, b);
		return;
	}
	if (is_dir && c->encrypted) {
		fd = openat(dir->fd, b->name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			unlinkat(fd, NAMES_DIRID_FILE, 0);
			close(fd);
		}
	}
	unlinkat(dir->fd, b->name, is_dir ? AT_REMOVEDIR : 0);
	remove_long(dir, b);
}

/* ---- making entries ---- */

/*
 * Take the creator's identity for the one call that makes an entry: the
 * backing file system then sets owner, group (the parent's when it is
 * set-gid) and set-gid inheritance itself. @p mode (S_IFDIR for a
 * directory) may gain S_ISGID from who->setgid.
 */
static int become(const struct bname_creator *who, mode_t *mode,
		  struct ident_saved *saved)
{
	saved->active = false;
	if (who->setgid && S_ISDIR(*mode))
		*mode |= S_ISGID;
	if (!who->become)
		return 0;
	return ident_become(who->uid, who->gid, saved);
}

/*
 * mkdir: the directory is made under a temporary bookkeeping name (by the
 * creator's identity), and on an encrypted volume gets its ID file bound
 * to its real place (dirid_publish()) before it appears under its real
 * name, so no crash leaves a directory without an ID. A directory that
 * must inherit the mount root's set-gid (which its backing parent, the
 * VOLUME directory, does not have) gets it under the temporary name too,
 * so nobody sees it without.
 */
static int make_dir(const struct bname_ctx *c, struct fs_inode *dir,
		    struct bname *b, const struct bname_new *a)
{
	uint8_t pid[NAMES_DIRID_LEN];
	struct dirid_place place = { pid, b->enc };
	struct ident_saved saved;
	char tmp[DIRID_TMP_NAME_MAX];
	mode_t mode = a->mode | S_IFDIR;
	int r;

	if (c->encrypted && (r = fs_inode_dirid(dir, pid)))
		return r;
	r = become(a->who, &mode, &saved);
	if (r)
		return r;
	if (!c->encrypted && !(mode & S_ISGID)) {
		r = mkdirat(dir->fd, b->name, mode & 07777) ? -errno : 0;
		ident_restore(&saved);
		goto out;
	}
	dirid_tmp_name(tmp);
	r = mkdirat(dir->fd, tmp, mode & 07777) ? -errno : 0;
	ident_restore(&saved);
	if (r)
		return r;
	if ((mode & S_ISGID) &&
	    fchmodat(dir->fd, tmp, mode & 07777, 0)) {
		r = -errno;
		goto err_rmdir;
	}
	if (c->encrypted) {
		r = dirid_publish(c->dctx, dir->fd, tmp, b->name, &place, NULL);
		goto out;
	}
	r = durable_rename_noreplace(dir->fd, tmp, dir->fd, b->name);
	if (!r)
		goto out;
err_rmdir:
	unlinkat(dir->fd, tmp, AT_REMOVEDIR);
	return r;
out:
	b->made_entry = !r;
	return r;
}

/* Every node type ext4 has: the mount is nosuid,nodev, so device nodes and
 * sockets are inert names, as on any such mount. */
static int make_node(const struct bname_ctx *c, struct fs_inode *dir,
		     struct bname *b, const struct bname_new *a)
{
	struct ident_saved saved;
	mode_t mode = a->mode;
	int r = become(a->who, &mode, &saved);

	(void)c;
	if (r)
		return r;
	r = mknodat(dir->fd, b->name, mode, a->rdev) ? -errno : 0;
	ident_restore(&saved);
	b->made_entry = !r;
	return r;
}

static int make_symlink(const struct bname_ctx *c, struct fs_inode *dir,
			struct bname *b, const struct bname_new *a)
{
	char enc[NAMES_TARGET_ENC_MAX + 1];
	struct ident_saved saved;
	mode_t mode = S_IFLNK | 0777;
	const char *target;
	int r = bname_target(c, a->target, enc, &target);

	if (!r)
		r = become(a->who, &mode, &saved);
	if (r)
		return r;
	r = symlinkat(target, dir->fd, b->name) ? -errno : 0;
	ident_restore(&saved);
	b->made_entry = !r;
	return r;
}

/* A new name for an inode that keeps its owner: no identity to take (the
 * kernel checked protected_hardlinks with the caller's). */
static int make_link(const struct bname_ctx *c, struct fs_inode *dir,
		     struct bname *b, const struct bname_new *a)
{
	char path[64];

	(void)c;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", a->fd);
	if (linkat(AT_FDCWD, path, dir->fd, b->name, AT_SYMLINK_FOLLOW))
		return -errno;
	b->made_entry = true;
	return 0;
}

/*
 * Exclusive first, so that we know whether the entry is ours to remove if
 * what follows fails; the kernel only sends create when its lookup found
 * nothing, so an existing file is a race, and the caller opens it. The
 * file made stays open for the caller's handle: a new file is opened
 * without a permission check, whatever its mode, and opening it again
 * would cost a path walk.
 */
static int make_file(const struct bname_ctx *c, struct fs_inode *dir,
		     struct bname *b, const struct bname_new *a)
{
	struct ident_saved saved;
	mode_t mode = a->mode;
	int fd, r = become(a->who, &mode, &saved);

	(void)c;
	if (r)
		return r;
	fd = openat(dir->fd, b->name,
		    a->flags | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    mode & 07777);
	r = fd < 0 ? -errno : 0;
	ident_restore(&saved);
	if (r == -EEXIST && !a->excl)
		return 0;
	if (r)
		return r;
	b->fd = fd;
	b->made_entry = true;
	return 0;
}

typedef int (*make_fn)(const struct bname_ctx *c, struct fs_inode *dir,
		       struct bname *b, const struct bname_new *a);

static const make_fn makers[] = {
	[BNAME_DIR] = make_dir,
	[BNAME_NODE] = make_node,
	[BNAME_SYMLINK] = make_symlink,
	[BNAME_LINK] = make_link,
	[BNAME_FILE] = make_file,
};

/*
 * The long-name protocol of every call that makes an entry: the backing
 * name, then the .name file (durably, before the entry exists), then the
 * entry itself, which sets b->made_entry when it made one; a .name file
 * this call wrote goes again when nothing was made.
 */
int bname_make(const struct bname_ctx *c, struct fs_inode *dir,
	       const char *name, const struct bname_new *what,
	       struct bname *b)
{
	int r = bname_get(c, dir, name, b);

	if (!r)
		r = write_long(dir, b);
	if (r)
		return r;
	r = makers[what->kind](c, dir, b, what);
	if (r && b->made_long)
		remove_long(dir, b);
	return r;
}

int bname_unlink(const struct bname_ctx *c, struct fs_inode *dir,
		 const char *name)
{
	struct bname b;
	int r = bname_get(c, dir, name, &b);

	if (!r && unlinkat(dir->fd, b.name, 0))
		r = -errno;
	if (!r)
		remove_long(dir, &b);
	return r;
}

int bname_rmdir(const struct bname_ctx *c, struct fs_inode *dir,
		const char *name)
{
	struct bname b;
	int r = bname_get(c, dir, name, &b), fd;

	if (!r && c->encrypted) {
		fd = openat(dir->fd, b.name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
		} else {
			r = dirid_dir_empty(fd);
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
		remove_long(dir, &b);
	return r;
}

int bname_rename(const struct bname_ctx *c, struct fs_inode *dir,
		 const char *name, struct fs_inode *ndir, const char *newname,
		 unsigned int flags)
{
	struct dirmove ms = DIRMOVE_INIT, mt = DIRMOVE_INIT;
	struct bname b, nb;
	char saved[64] = "";
	bool moved;
	int r;

	b.made_long = nb.made_long = false;
	r = bname_get(c, dir, name, &b);
	/* 1. The .name file of each name that will exist after: the new
	 * one, and with RENAME_EXCHANGE the old one too. */
	if (!r)
		r = bname_get(c, ndir, newname, &nb);
	if (!r)
		r = write_long(ndir, &nb);
	if (!r && (flags & RENAME_EXCHANGE))
		r = write_long(dir, &b);
	if (!r && c->encrypted) {
		r = dirmove_begin(c->dctx, dir, b.name, b.enc, ndir, nb.enc,
				  &ms);
		if (!r && (flags & RENAME_EXCHANGE))
			r = dirmove_begin(c->dctx, ndir, nb.name, nb.enc, dir,
					  b.enc, &mt);
	}
	if (!r && c->encrypted && !flags)
		r = dirmove_clear_target(dir, b.name, ndir, nb.name, saved);
	if (!r && flags == RENAME_NOREPLACE) /* with its fallbacks */
		r = durable_rename_noreplace(dir->fd, b.name, ndir->fd, nb.name);
	else if (!r && renameat2(dir->fd, b.name, ndir->fd, nb.name, flags))
		r = -errno; /* RENAME_EXCHANGE has no fallback: EINVAL */
	moved = !r;
	dirmove_finish_target(ndir, nb.name, saved, moved);
	/* 2. The rename must be on disk before a binding is dropped. */
	if (moved && (ms.fd >= 0 || mt.fd >= 0)) {
		durable_fsync_dir(ndir->fd);
		if (dir != ndir)
			durable_fsync_dir(dir->fd);
	}
	/* 3. Drop what the names no longer need. */
	dirmove_end(c->dctx, &ms, moved);
	dirmove_end(c->dctx, &mt, moved);
	if (r) {
		if (nb.made_long)
			remove_long(ndir, &nb);
		if (b.made_long)
			remove_long(dir, &b);
		return r;
	}
	if (!(flags & RENAME_EXCHANGE) &&
	    !(dir == ndir && !strcmp(b.name, nb.name)))
		remove_long(dir, &b);
	return 0;
}

/* ---- the fixed-ID domain: xattr names and symlink targets ---- */

int bname_xattr(const struct bname_ctx *c, const char *name, char *out,
		size_t cap)
{
	char enc[NAMES_ENC_MAX + 1];
	size_t n;
	int r;

	if (!c->encrypted) {
		if (strlen(name) >= cap)
			return -ERANGE;
		strcpy(out, name);
		return 0;
	}
	if (strncmp(name, "user.", 5))
		return -EOPNOTSUPP;
	r = names_encrypt(c->nctx, names_fixed_id, name + 5, enc);
	if (r)
		return r == -ENAMETOOLONG ? -ERANGE : r;
	n = strlen(BNAME_XATTR_PREFIX) + strlen(enc);
	if (n >= cap || n > XATTR_NAME_MAX)
		return -ERANGE;
	snprintf(out, cap, "%s%s", BNAME_XATTR_PREFIX, enc);
	return 0;
}

int bname_xattr_plain(const struct bname_ctx *c, const char *stored,
		      char *out)
{
	char plain[NAMES_MAX + 1];
	int r;

	if (!c->encrypted) {
		strcpy(out, stored);
		return 0;
	}
	if (strncmp(stored, BNAME_XATTR_PREFIX, strlen(BNAME_XATTR_PREFIX)))
		return -ENOENT;
	r = names_decrypt(c->nctx, names_fixed_id,
			  stored + strlen(BNAME_XATTR_PREFIX), plain);
	if (r)
		return r;
	/* "user." + name is never longer than the encrypted form. */
	sprintf(out, "user.%s", plain);
	return 0;
}

int bname_target(const struct bname_ctx *c, const char *target, char *enc,
		 const char **out)
{
	*out = target;
	if (!c->encrypted)
		return 0;
	*out = enc;
	return names_encrypt_target(c->nctx, names_fixed_id, target, enc);
}

int bname_target_plain(const struct bname_ctx *c, const char *stored,
		       char *buf, const char **out)
{
	*out = stored;
	if (!c->encrypted)
		return 0;
	*out = buf;
	return names_decrypt_target(c->nctx, names_fixed_id, stored, buf) ?
		       -EIO : 0;
}

off_t bname_target_size(const struct bname_ctx *c, off_t stored_len)
{
	if (!c->encrypted)
		return stored_len;
	/* Length of base64url(tag || target) minus the tag. */
	return (off_t)names_target_len((size_t)stored_len);
}
