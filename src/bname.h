/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The backing-name layer: how a plaintext name in a directory of the mount
 * becomes an entry in the backing directory, and back (no FUSE in here).
 *
 * Encrypted volume: an entry is names_encrypt() of its name under its
 * directory's ID (the directory-ID cache of fs_inode.h, filled when a
 * directory is looked up and checked against its place, dirid.h); an
 * encoded name too long for the backing file system is stored under a
 * hashed entry with a .name file beside it (longname.h), written durably
 * before the entry and removed after it. Bookkeeping names
 * (names_is_bookkeeping()) can never be reached. Extended attribute names
 * and symlink targets are encrypted under the fixed ID (names_fixed_id), as
 * they must survive renames into other directories.
 *
 * Plain volume: names pass through, except the names the volume keeps for
 * itself in its root ("atrestfs.*", ".atrestfs.*"), which read as absent and
 * cannot be made.
 *
 * Every function returns 0 or a negative errno.
 */
#ifndef ATRESTFS_BNAME_H
#define ATRESTFS_BNAME_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "names.h"

struct dirid_ctx;
struct fs_inode;

/** What the name layer needs of a mount. */
struct bname_ctx {
	bool encrypted;
	struct names_ctx *nctx; /* encrypted volumes only */
	struct dirid_ctx *dctx; /* encrypted volumes only */
	struct fs_inode *root;  /* the mount root's directory */
};

/** The backing name of one plaintext name in one directory. */
struct bname {
	char name[NAME_MAX + 1];     /* the entry on disk */
	char enc[NAMES_ENC_MAX + 1]; /* full encoded name (encrypted only) */
	bool is_long;                /* a hashed entry with a .name file */
	bool made_long;              /* this call wrote the .name file */
	bool made_entry;             /* this call made the entry */
	/* BNAME_FILE: the file this call made, open with the flags asked
	 * for (the caller's to close); -1 otherwise. */
	int fd;
};

/**
 * Who makes an entry. The one call that makes it runs with this identity
 * (ident_become()), so the backing file system sets owner, group and
 * set-gid inheritance itself.
 */
struct bname_creator {
	bool become; /* take uid/gid (ident_available()); else stay */
	uid_t uid;
	gid_t gid;
	/* A directory made here gets S_ISGID: the mount root's own set-gid,
	 * which its backing directory (the VOLUME directory) never has. */
	bool setgid;
};

/**
 * The backing name of @p name in directory @p dir into @p b.
 * @return 0; -EPERM for a name a plain volume reserves; -ENAMETOOLONG;
 * -EINVAL for an invalid name; -EIO when @p dir has no usable ID.
 */
int bname_get(const struct bname_ctx *c, struct fs_inode *dir,
	      const char *name, struct bname *b);

/**
 * The plaintext name of backing entry @p entry of @p dir into @p out
 * (NAMES_MAX + 1 bytes). "." and ".." pass.
 * @return 0, or a negative errno for an entry not to show: a bookkeeping
 * or reserved name (-ENOENT), an entry whose .name file is missing or
 * swapped (-EIO, logged) or whose name does not decrypt (logged).
 */
int bname_plain(const struct bname_ctx *c, struct fs_inode *dir,
		const char *entry, char *out);

/**
 * The mount path ("/a/b", into @p out of @p n bytes) of the backing path
 * @p rel relative to the volume (cut up in place) on an encrypted volume:
 * each component decrypted under its directory's ID, read from the
 * directory's ID file and checked against its place. Logs nothing: for
 * status reports, not the hot path.
 * @return 0, -ENAMETOOLONG, or a negative errno when a component cannot be
 * decrypted or a directory's ID not read.
 */
int bname_plain_path(const struct bname_ctx *c, char *rel, char *out,
		     size_t n);

/**
 * Find the entry for @p name in @p dir: its backing name into @p b and its
 * attributes (as on disk) into @p st, without opening it (an inode the
 * daemon holds already needs no new fd). A long entry must have the .name
 * file of this very name.
 * @return 0; -ENOENT (a reserved name too); -EIO for a long entry whose
 * .name file is missing or swapped (logged); what bname_get() returns.
 */
int bname_lookup(const struct bname_ctx *c, struct fs_inode *dir,
		 const char *name, struct bname *b, struct stat *st);

/**
 * Open backing entry @p b of @p dir (from bname_lookup() or bname_make()):
 * an O_PATH | O_NOFOLLOW fd into @p fd and the attributes of what it opened
 * into @p st.
 * @return 0 or a negative errno (-ENOENT when the entry is gone).
 */
int bname_open(struct fs_inode *dir, const struct bname *b, int *fd,
	       struct stat *st);

/**
 * A directory @p inode was just looked up as @p name (backing name @p b)
 * in @p parent: unless its ID is cached already, read its ID file, check
 * that it is bound to this place and cache it (an empty directory that lost
 * its ID file gets a new one, dirmove_recover()). A directory whose ID file
 * is missing, malformed or bound elsewhere is logged and gets no ID: its
 * entries read as EIO.
 */
void bname_verify_dir(const struct bname_ctx *c, struct fs_inode *parent,
		      struct fs_inode *inode, const char *name,
		      const struct bname *b);

/** What bname_make() makes. */
struct bname_new {
	enum bname_kind {
		/* A directory: made under a hidden temporary name, given its
		 * ID file bound to its place (encrypted), renamed into place
		 * without replacing anything, so no crash leaves a directory
		 * without an ID. */
		BNAME_DIR,
		BNAME_NODE,    /* mknod: any node type, mode with its S_IF* */
		BNAME_SYMLINK, /* to @target, stored as bname_target() */
		BNAME_LINK,    /* a new name of the inode open at @fd */
		/* A regular file, exclusively, left open with @flags in
		 * b->fd. One that exists already is a race with another
		 * creator: with @excl that is -EEXIST, else it is left as
		 * found (0, b->made_entry false, b->fd -1) to be opened. */
		BNAME_FILE,
	} kind;
	const struct bname_creator *who; /* all but BNAME_LINK */
	mode_t mode;        /* permission bits (BNAME_NODE: and type) */
	dev_t rdev;         /* BNAME_NODE */
	const char *target; /* BNAME_SYMLINK */
	int fd;             /* BNAME_LINK */
	bool excl;          /* BNAME_FILE */
	int flags;          /* BNAME_FILE: open(2) flags of b->fd */
};

/**
 * Make entry @p name in @p dir as @p what says, under the long-name
 * protocol: the .name file of a long name is written durably before the
 * entry is made, and removed again when the entry could not be made.
 * @p b gets the backing name and says what was made, for bname_undo().
 * @return 0, -EEXIST, -ENAMETOOLONG (name or symlink target), -EPERM for
 * a name a plain volume reserves, or another negative errno.
 */
int bname_make(const struct bname_ctx *c, struct fs_inode *dir,
	       const char *name, const struct bname_new *what,
	       struct bname *b);

/**
 * Undo what bname_make() made for @p b in @p dir when the entry
 * cannot be handed out: the entry (directory @p is_dir with its ID file)
 * if it made it, and the .name file.
 */
void bname_undo(const struct bname_ctx *c, struct fs_inode *dir,
		const struct bname *b, bool is_dir);

/** Remove the non-directory @p name of @p dir and its .name file. */
int bname_unlink(const struct bname_ctx *c, struct fs_inode *dir,
		 const char *name);

/**
 * Remove directory @p name of @p dir: on an encrypted volume it must hold
 * nothing but its ID file (-ENOTEMPTY), which goes first.
 */
int bname_rmdir(const struct bname_ctx *c, struct fs_inode *dir,
		const char *name);

/**
 * rename(2) of @p name in @p dir to @p newname in @p ndir with renameat2
 * @p flags (0, RENAME_NOREPLACE with its fallbacks, RENAME_EXCHANGE where
 * the backing file system has it): the target's .name file is written
 * first, and a renamed directory keeps its ID bound to wherever a crash
 * leaves it (dirmove.h).
 */
int bname_rename(const struct bname_ctx *c, struct fs_inode *dir,
		 const char *name, struct fs_inode *ndir, const char *newname,
		 unsigned int flags);

#define BNAME_XATTR_PREFIX "user.atrestfs."

/**
 * The stored name of extended attribute @p name into @p out (@p cap
 * bytes): on an encrypted volume only the user namespace, stored as
 * BNAME_XATTR_PREFIX + its name encrypted under the fixed ID.
 * @return 0, -EOPNOTSUPP outside "user.", -ERANGE when too long.
 */
int bname_xattr(const struct bname_ctx *c, const char *name, char *out,
		size_t cap);

/**
 * The attribute name stored as @p stored into @p out (NAMES_MAX + 1
 * bytes, and never longer than @p stored).
 * @return 0, or a negative errno for a stored name not to list.
 */
int bname_xattr_plain(const struct bname_ctx *c, const char *stored,
		      char *out);

/**
 * The stored form of symlink target @p target: itself on a plain volume,
 * else encrypted under the fixed ID into @p enc (NAMES_TARGET_ENC_MAX + 1
 * bytes). @p out points at whichever holds it.
 */
int bname_target(const struct bname_ctx *c, const char *target, char *enc,
		 const char **out);

/**
 * The target stored as @p stored: itself on a plain volume, else decrypted
 * into @p buf (NAMES_TARGET_MAX + 1 bytes). @p out points at whichever
 * holds it. @return 0, or -EIO when it does not decrypt.
 */
int bname_target_plain(const struct bname_ctx *c, const char *stored,
		       char *buf, const char **out);

/** The size a symlink stored with @p stored_len bytes reports. */
off_t bname_target_size(const struct bname_ctx *c, off_t stored_len);

#endif
