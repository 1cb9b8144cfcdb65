// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The backing-name layer without a mount: a temporary directory is the
 * volume and an inode table over it stands for the daemon. Reserved names
 * of a plain volume; encrypted names and their round trip; long names
 * with their .name files, which every way of making an entry writes first
 * and takes back when the entry is not made; directory IDs checked at
 * lookup (copied, lost, recovered); renames that keep a directory bound
 * to wherever it is, over an empty directory and with RENAME_EXCHANGE;
 * rmdir; the fixed-ID domain of xattr names and symlink targets.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "bname.h"
#include "dirid.h"
#include "fs_inode.h"
#include "log.h"
#include "longname.h"
#include "names.h"

static struct names_ctx *nctx;
static struct dirid_ctx *dctx;
static struct fs_table *table;
static struct bname_ctx c;
static const struct bname_creator who = { .become = false };
static char tdir[64];

/* A fresh inode table over the volume, as a new mount has: nothing cached
 * but the root's ID. */
static void mount_table(void)
{
	static const struct dirid_place top = { NULL, NULL };
	uint8_t id[NAMES_DIRID_LEN];
	int fd;

	if (table)
		fs_table_free(table);
	fd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fs_table_new(fd, &table), 0);
	c.root = fs_table_root(table);
	if (c.encrypted) {
		ck_assert_int_eq(dirid_read(dctx, fd, &top, id), 0);
		fs_inode_set_dirid(c.root, id);
	}
}

static void setup_common(bool encrypted)
{
	static const struct dirid_place top = { NULL, NULL };
	uint8_t key[64], id[NAMES_DIRID_LEN];
	int fd;

	log_set_level(LOG_LVL_NONE);
	memset(key, 0x5a, sizeof(key));
	ck_assert_int_eq(names_ctx_new(key, &nctx), 0);
	ck_assert_int_eq(dirid_ctx_new(key, &dctx), 0);
	strcpy(tdir, "/tmp/check_bname.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	if (encrypted) {
		fd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(dirid_create(dctx, fd, &top, id), 0);
		close(fd);
	}
	c = (struct bname_ctx){ .encrypted = encrypted, .nctx = nctx,
				.dctx = dctx };
	table = NULL;
	mount_table();
}

static void setup_enc(void)
{
	setup_common(true);
}

static void setup_plain(void)
{
	setup_common(false);
}

static void teardown(void)
{
	char cmd[128];

	fs_table_free(table);
	table = NULL;
	names_ctx_free(nctx);
	dirid_ctx_free(dctx);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Look @p name up in @p dir as the daemon does; the inode into @p out. */
static int lookup(struct fs_inode *dir, const char *name,
		  struct fs_inode **out)
{
	struct bname b;
	struct stat st;
	int fd, r = bname_lookup(&c, dir, name, &b, &st);

	if (r)
		return r;
	*out = fs_table_find(table, st.st_dev, st.st_ino);
	if (!*out) {
		ck_assert_int_eq(bname_open(dir, &b, &fd, &st), 0);
		*out = fs_table_get(table, fd, st.st_dev, st.st_ino);
	}
	ck_assert_ptr_nonnull(*out);
	if (S_ISDIR(st.st_mode))
		bname_verify_dir(&c, dir, *out, name, &b);
	return 0;
}

/* Backing entries of @p dir (without . and ..). */
static int entries(struct fs_inode *dir)
{
	int n = 0, fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fdopendir(fd);
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Whether plaintext @p name is listed in @p dir (through bname_plain()). */
static bool listed(struct fs_inode *dir, const char *name)
{
	int fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY);
	DIR *d = fdopendir(fd);
	char plain[NAMES_MAX + 1];
	struct dirent *e;
	bool found = false;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (!bname_plain(&c, dir, e->d_name, plain) &&
		    !strcmp(plain, name))
			found = true;
	closedir(d);
	return found;
}

static bool exists(struct fs_inode *dir, const char *entry)
{
	struct stat st;

	return !fstatat(dir->fd, entry, &st, AT_SYMLINK_NOFOLLOW);
}

/* The .name file beside long entry @p b of @p dir exists. */
static bool has_name_file(struct fs_inode *dir, const struct bname *b)
{
	char f[NAME_MAX + 1];

	longname_file(b->name, f);
	return exists(dir, f);
}

static ssize_t read_all(int dirfd, const char *name, void *buf, size_t n)
{
	int fd = openat(dirfd, name, O_RDONLY);
	ssize_t r;

	ck_assert_int_ge(fd, 0);
	r = read(fd, buf, n);
	close(fd);
	return r;
}

static void write_all(int dirfd, const char *name, const void *buf, size_t n)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	close(fd);
}

static int mk(struct fs_inode *dir, const char *name, enum bname_kind kind,
	      mode_t mode, struct bname *b)
{
	struct bname_new what = { .kind = kind, .who = &who, .mode = mode,
				  .excl = true };
	int r = bname_make(&c, dir, name, &what, b);

	if (b->fd >= 0)
		close(b->fd);
	return r;
}

static void long_name(char *out, char ch)
{
	memset(out, ch, 200);
	out[200] = '\0';
}

START_TEST(plain_reserved_names)
{
	struct fs_inode *root = c.root, *sub;
	char big[NAME_MAX + 2], plain[NAMES_MAX + 1];
	struct bname b;

	ck_assert_int_eq(bname_get(&c, root, "atrestfs.conf", &b), -EPERM);
	ck_assert_int_eq(bname_get(&c, root, ".atrestfs.dirid", &b), -EPERM);
	ck_assert_int_eq(mk(root, "atrestfs.x", BNAME_NODE, S_IFREG | 0600, &b),
			 -EPERM);
	ck_assert(!exists(root, "atrestfs.x"));
	ck_assert_int_eq(bname_plain(&c, root, "atrestfs.conf", plain),
			 -ENOENT);
	/* Reserved only in the root, and otherwise passed through. */
	ck_assert_int_eq(mk(root, "d", BNAME_DIR, 0700, &b), 0);
	ck_assert_str_eq(b.name, "d");
	ck_assert_int_eq(lookup(root, "d", &sub), 0);
	ck_assert_int_eq(mk(sub, "atrestfs.conf", BNAME_NODE, S_IFREG | 0600,
			    &b), 0);
	ck_assert_int_eq(bname_plain(&c, sub, "atrestfs.conf", plain), 0);
	ck_assert_str_eq(plain, "atrestfs.conf");
	memset(big, 'a', NAME_MAX + 1);
	big[NAME_MAX + 1] = '\0';
	ck_assert_int_eq(bname_get(&c, root, big, &b), -ENAMETOOLONG);
}
END_TEST

START_TEST(encrypted_round_trip)
{
	struct fs_inode *root = c.root, *f;
	char plain[NAMES_MAX + 1];
	struct bname b;

	ck_assert_int_eq(mk(root, "hello", BNAME_NODE, S_IFREG | 0600, &b), 0);
	ck_assert(!b.is_long);
	ck_assert_str_ne(b.name, "hello");
	ck_assert(exists(root, b.name));
	ck_assert(!exists(root, "hello"));
	ck_assert(listed(root, "hello"));
	ck_assert_int_eq(lookup(root, "hello", &f), 0);
	ck_assert_int_eq(lookup(root, "other", &f), -ENOENT);
	/* The volume's own files never show. */
	ck_assert_int_eq(bname_plain(&c, root, NAMES_DIRID_FILE, plain),
			 -ENOENT);
	ck_assert_int_eq(mk(root, "hello", BNAME_NODE, S_IFREG | 0600, &b),
			 -EEXIST);
	ck_assert_int_eq(bname_unlink(&c, root, "hello"), 0);
	ck_assert_int_eq(entries(root), 1); /* the ID file */
}
END_TEST

START_TEST(long_names)
{
	struct fs_inode *root = c.root, *f;
	char n1[201], n2[201], text[NAMES_ENC_MAX + 1], nf[NAME_MAX + 1];
	struct bname_new found = { .kind = BNAME_FILE, .who = &who,
				   .mode = 0600 };
	struct bname b1, b2;

	long_name(n1, 'x');
	long_name(n2, 'y');
	ck_assert_int_eq(mk(root, n1, BNAME_FILE, 0600, &b1), 0);
	ck_assert(b1.is_long && b1.made_long && b1.made_entry);
	ck_assert(has_name_file(root, &b1));
	ck_assert(listed(root, n1));
	ck_assert_int_eq(lookup(root, n1, &f), 0);
	/* Exclusive: an existing file is refused; otherwise found as is. */
	ck_assert_int_eq(mk(root, n1, BNAME_FILE, 0600, &b1), -EEXIST);
	ck_assert(has_name_file(root, &b1));
	ck_assert_int_eq(bname_make(&c, root, n1, &found, &b1), 0);
	ck_assert(!b1.made_entry && !b1.made_long);
	/* A .name file holding another name's text: the entry is EIO. */
	ck_assert_int_eq(bname_get(&c, root, n2, &b2), 0);
	longname_file(b1.name, nf);
	ck_assert_int_eq(unlinkat(root->fd, nf, 0), 0);
	write_all(root->fd, nf, b2.enc, strlen(b2.enc));
	mount_table();
	ck_assert_int_eq(lookup(c.root, n1, &f), -EIO);
	ck_assert(!listed(c.root, n1));
	ck_assert_int_eq(longname_read(c.root->fd, b1.name, text), -EBADMSG);
	/* unlink takes the .name file with the entry. */
	ck_assert_int_eq(bname_unlink(&c, c.root, n1), 0);
	ck_assert_int_eq(entries(c.root), 1);
}
END_TEST

/* A file made stays open for its handle, with the flags asked for even
 * when its mode would not let them; a file found is not opened; the name
 * layer finds an entry without opening it, and opens the same entry. */
START_TEST(file_made_stays_open)
{
	struct bname_new what = { .kind = BNAME_FILE, .who = &who,
				  .mode = 0400, .excl = true,
				  .flags = O_RDWR };
	struct fs_inode *root = c.root;
	struct stat made, found, opened;
	struct bname b;
	int fd;

	ck_assert_int_eq(bname_make(&c, root, "f", &what, &b), 0);
	ck_assert(b.made_entry);
	ck_assert_int_ge(b.fd, 0);
	ck_assert_int_eq(fcntl(b.fd, F_GETFL) & O_ACCMODE, O_RDWR);
	ck_assert_int_eq(write(b.fd, "x", 1), 1);
	ck_assert_int_eq(fstat(b.fd, &made), 0);
	ck_assert_uint_eq(made.st_mode & 07777, 0400);
	close(b.fd);
	ck_assert_int_eq(bname_lookup(&c, root, "f", &b, &found), 0);
	ck_assert_uint_eq(found.st_ino, made.st_ino);
	ck_assert_int_eq(found.st_size, 1);
	ck_assert_int_eq(bname_open(root, &b, &fd, &opened), 0);
	ck_assert_uint_eq(opened.st_ino, made.st_ino);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_PATH, O_PATH);
	close(fd);
	what.excl = false;
	ck_assert_int_eq(bname_make(&c, root, "f", &what, &b), 0);
	ck_assert(!b.made_entry);
	ck_assert_int_eq(b.fd, -1);
	ck_assert_int_eq(bname_unlink(&c, root, "f"), 0);
	ck_assert_int_eq(bname_lookup(&c, root, "f", &b, &found), -ENOENT);
	ck_assert_int_eq(bname_open(root, &b, &fd, &opened), -ENOENT);
}
END_TEST

/* A lookup of an inode the table holds finds its entry and counts it. */
START_TEST(lookup_finds_held_inode)
{
	struct fs_inode *f1, *f2;
	struct bname b;
	dev_t dev;
	ino_t ino;

	ck_assert_int_eq(mk(c.root, "g", BNAME_NODE, S_IFREG | 0600, &b), 0);
	ck_assert_int_eq(lookup(c.root, "g", &f1), 0);
	ck_assert_uint_eq(f1->nlookup, 1);
	ck_assert_int_eq(lookup(c.root, "g", &f2), 0);
	ck_assert_ptr_eq(f1, f2);
	ck_assert_uint_eq(f1->nlookup, 2);
	dev = f1->dev;
	ino = f1->ino;
	ck_assert_ptr_null(fs_table_find(table, dev, ino + 1));
	fs_table_forget(table, f1, 2); /* freed: no longer found */
	ck_assert_ptr_null(fs_table_find(table, dev, ino));
}
END_TEST

/* Whatever fails after the .name file was written takes it back. */
START_TEST(failed_create_leaves_nothing)
{
	struct fs_inode *root = c.root;
	char n1[201], target[NAMES_TARGET_MAX + 2];
	struct bname_new sym = { .kind = BNAME_SYMLINK, .who = &who,
				 .target = target };
	struct bname_new link = { .kind = BNAME_LINK, .fd = root->fd };
	struct bname b;

	long_name(n1, 'z');
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	ck_assert_int_eq(bname_make(&c, root, n1, &sym, &b), -ENAMETOOLONG);
	ck_assert_int_eq(entries(root), 1);
	/* mknod of a type no backing file system makes by mknod. */
	ck_assert_int_eq(mk(root, n1, BNAME_NODE, S_IFDIR | 0700, &b) < 0, 1);
	ck_assert_int_eq(entries(root), 1);
	/* A made entry that cannot be handed out goes with its .name file. */
	ck_assert_int_eq(mk(root, n1, BNAME_DIR, 0700, &b), 0);
	ck_assert_int_eq(entries(root), 3);
	bname_undo(&c, root, &b, true);
	ck_assert_int_eq(entries(root), 1);
	/* No hard link to a directory. */
	ck_assert_int_eq(bname_make(&c, root, n1, &link, &b) < 0, 1);
	ck_assert_int_eq(entries(root), 1);
}
END_TEST

START_TEST(directories_and_rmdir)
{
	struct fs_inode *root = c.root, *sub, *f;
	struct bname b;

	ck_assert_int_eq(mk(root, "sub", BNAME_DIR, 0750, &b), 0);
	ck_assert_int_eq(lookup(root, "sub", &sub), 0);
	ck_assert(fs_inode_has_dirid(sub));
	ck_assert_int_eq(mk(sub, "in", BNAME_NODE, S_IFREG | 0600, &b), 0);
	ck_assert_int_eq(lookup(sub, "in", &f), 0);
	ck_assert_int_eq(bname_rmdir(&c, root, "sub"), -ENOTEMPTY);
	ck_assert_int_eq(bname_unlink(&c, sub, "in"), 0);
	ck_assert_int_eq(bname_rmdir(&c, root, "sub"), 0);
	ck_assert_int_eq(entries(root), 1);
}
END_TEST

START_TEST(ids_checked_at_lookup)
{
	struct fs_inode *root = c.root, *g, *h, *e;
	uint8_t id[NAMES_DIRID_LEN];
	char buf[128];
	struct bname bg, bh, b;
	ssize_t n;
	int fd;

	ck_assert_int_eq(mk(root, "g", BNAME_DIR, 0700, &bg), 0);
	ck_assert_int_eq(mk(root, "h", BNAME_DIR, 0700, &bh), 0);
	ck_assert_int_eq(mk(root, "e", BNAME_DIR, 0700, &b), 0);
	/* g's ID file copied over h's: h is not where it is bound. */
	fd = openat(root->fd, bg.name, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	n = read_all(fd, NAMES_DIRID_FILE, buf, sizeof(buf));
	close(fd);
	ck_assert_int_gt(n, 0);
	fd = openat(root->fd, bh.name, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unlinkat(fd, NAMES_DIRID_FILE, 0), 0);
	write_all(fd, NAMES_DIRID_FILE, buf, (size_t)n);
	close(fd);
	/* e lost its ID file while empty (an interrupted rename). */
	fd = openat(root->fd, b.name, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(unlinkat(fd, NAMES_DIRID_FILE, 0), 0);
	close(fd);
	mount_table();
	ck_assert_int_eq(lookup(c.root, "g", &g), 0);
	ck_assert(fs_inode_has_dirid(g));
	ck_assert_int_eq(lookup(c.root, "h", &h), 0);
	ck_assert(!fs_inode_has_dirid(h));
	ck_assert_int_eq(fs_inode_dirid(h, id), -EIO);
	ck_assert_int_eq(bname_get(&c, h, "x", &b), -EIO);
	ck_assert_int_eq(lookup(c.root, "e", &e), 0);
	ck_assert(fs_inode_has_dirid(e)); /* given a new one */
	ck_assert_int_eq(mk(e, "x", BNAME_NODE, S_IFREG | 0600, &b),
			 0);
}
END_TEST

START_TEST(rename_keeps_binding)
{
	struct fs_inode *root = c.root, *a, *b2, *moved, *f;
	char n1[201];
	struct bname b, bl;

	long_name(n1, 'r');
	ck_assert_int_eq(mk(root, "a", BNAME_DIR, 0700, &b), 0);
	ck_assert_int_eq(mk(root, "b", BNAME_DIR, 0700, &b), 0);
	ck_assert_int_eq(lookup(root, "a", &a), 0);
	ck_assert_int_eq(lookup(root, "b", &b2), 0);
	ck_assert_int_eq(mk(a, "inner", BNAME_NODE, S_IFREG | 0600, &b), 0);
	/* Into another directory, under a long name. */
	ck_assert_int_eq(bname_rename(&c, root, "a", b2, n1, 0), 0);
	ck_assert_int_eq(bname_get(&c, b2, n1, &bl), 0);
	ck_assert(has_name_file(b2, &bl));
	mount_table();
	ck_assert_int_eq(lookup(c.root, "b", &b2), 0);
	ck_assert_int_eq(lookup(b2, n1, &moved), 0);
	ck_assert(fs_inode_has_dirid(moved));
	ck_assert_int_eq(lookup(moved, "inner", &f), 0);
	/* Back to a short name: the long name's .name file goes. */
	ck_assert_int_eq(bname_rename(&c, b2, n1, c.root, "a", 0), 0);
	ck_assert_int_eq(entries(b2), 1);
	mount_table();
	ck_assert_int_eq(lookup(c.root, "a", &a), 0);
	ck_assert(fs_inode_has_dirid(a));
	ck_assert_int_eq(lookup(a, "inner", &f), 0);
}
END_TEST

START_TEST(rename_over_empty_dir)
{
	struct fs_inode *root = c.root, *x, *y, *f;
	struct bname b;

	ck_assert_int_eq(mk(root, "x", BNAME_DIR, 0700, &b), 0);
	ck_assert_int_eq(mk(root, "y", BNAME_DIR, 0700, &b), 0);
	ck_assert_int_eq(lookup(root, "x", &x), 0);
	ck_assert_int_eq(mk(x, "kept", BNAME_NODE, S_IFREG | 0600, &b), 0);
	ck_assert_int_eq(lookup(root, "y", &y), 0);
	ck_assert_int_eq(mk(y, "full", BNAME_NODE, S_IFREG | 0600, &b), 0);
	ck_assert_int_eq(bname_rename(&c, root, "x", root, "y", 0),
			 -ENOTEMPTY);
	ck_assert_int_eq(bname_unlink(&c, y, "full"), 0);
	ck_assert_int_eq(bname_rename(&c, root, "x", root, "y", 0), 0);
	ck_assert_int_eq(entries(root), 2); /* y and the root's ID file */
	mount_table();
	ck_assert_int_eq(lookup(c.root, "y", &y), 0);
	ck_assert(fs_inode_has_dirid(y));
	ck_assert_int_eq(lookup(y, "kept", &f), 0);
	ck_assert_int_eq(lookup(c.root, "x", &x), -ENOENT);
}
END_TEST

START_TEST(exchange_keeps_both_name_files)
{
	struct fs_inode *root = c.root, *f;
	char n1[201], n2[201], nf[NAME_MAX + 1];
	struct bname b1, b2;
	int r;

	long_name(n1, 'p');
	long_name(n2, 'q');
	ck_assert_int_eq(mk(root, n1, BNAME_NODE, S_IFREG | 0600, &b1), 0);
	ck_assert_int_eq(mk(root, n2, BNAME_DIR, 0700, &b2), 0);
	/* n1's .name file lost: the exchange writes it before renaming. */
	longname_file(b1.name, nf);
	ck_assert_int_eq(unlinkat(root->fd, nf, 0), 0);
	r = bname_rename(&c, root, n1, root, n2, RENAME_EXCHANGE);
	if (r == -EINVAL) /* the backing file system has no exchange */
		return;
	ck_assert_int_eq(r, 0);
	ck_assert(has_name_file(root, &b1));
	ck_assert(has_name_file(root, &b2));
	mount_table();
	ck_assert_int_eq(lookup(c.root, n1, &f), 0);
	ck_assert(fs_inode_has_dirid(f)); /* the directory, bound here */
	ck_assert_int_eq(lookup(c.root, n2, &f), 0);
}
END_TEST

/* A backing path back to the mount path (status reports). */
START_TEST(plain_path)
{
	struct fs_inode *root = c.root, *a, *l;
	char n1[201], rel[PATH_MAX], out[PATH_MAX], want[PATH_MAX];
	struct bname ba, bl, bf;

	long_name(n1, 'm');
	ck_assert_int_eq(mk(root, "a", BNAME_DIR, 0700, &ba), 0);
	ck_assert_int_eq(lookup(root, "a", &a), 0);
	ck_assert_int_eq(mk(a, n1, BNAME_DIR, 0700, &bl), 0);
	ck_assert_int_eq(lookup(a, n1, &l), 0);
	ck_assert_int_eq(mk(l, "f", BNAME_NODE, S_IFREG | 0600, &bf), 0);
	snprintf(rel, sizeof(rel), "%s/%s/%s", ba.name, bl.name, bf.name);
	snprintf(want, sizeof(want), "/a/%s/f", n1);
	ck_assert_int_eq(bname_plain_path(&c, rel, out, sizeof(out)), 0);
	ck_assert_str_eq(out, want);
	snprintf(rel, sizeof(rel), "%s/%s/%s", ba.name, bl.name, bf.name);
	ck_assert_int_eq(bname_plain_path(&c, rel, out, 10), -ENAMETOOLONG);
	/* Not a name of this directory. */
	snprintf(rel, sizeof(rel), "%s/%s", bf.name, bf.name);
	ck_assert_int_ne(bname_plain_path(&c, rel, out, sizeof(out)), 0);
}
END_TEST

START_TEST(fixed_id_domain)
{
	char stored[XATTR_NAME_MAX + 1], plain[NAMES_MAX + 1];
	char enc[NAMES_TARGET_ENC_MAX + 1], buf[NAMES_TARGET_MAX + 1];
	const char *s, *t;

	ck_assert_int_eq(bname_xattr(&c, "user.color", stored, sizeof(stored)),
			 0);
	ck_assert(!strncmp(stored, BNAME_XATTR_PREFIX,
			   strlen(BNAME_XATTR_PREFIX)));
	ck_assert(!strstr(stored, "color"));
	ck_assert_int_eq(bname_xattr_plain(&c, stored, plain), 0);
	ck_assert_str_eq(plain, "user.color");
	ck_assert_int_eq(bname_xattr(&c, "trusted.x", stored, sizeof(stored)),
			 -EOPNOTSUPP);
	ck_assert_int_ne(bname_xattr_plain(&c, "user.plain", plain), 0);
	ck_assert_int_eq(bname_target(&c, "../some/where", enc, &s), 0);
	ck_assert_ptr_eq(s, enc);
	ck_assert(!strstr(enc, "where"));
	ck_assert_int_eq(bname_target_size(&c, (off_t)strlen(enc)),
			 (off_t)strlen("../some/where"));
	ck_assert_int_eq(bname_target_plain(&c, enc, buf, &t), 0);
	ck_assert_str_eq(t, "../some/where");
	enc[5] ^= 1;
	ck_assert_int_eq(bname_target_plain(&c, enc, buf, &t), -EIO);
}
END_TEST

START_TEST(plain_passthrough)
{
	char stored[XATTR_NAME_MAX + 1], plain[NAMES_MAX + 1], enc[8];
	const char *s;

	ck_assert_int_eq(bname_xattr(&c, "trusted.x", stored, sizeof(stored)),
			 0);
	ck_assert_str_eq(stored, "trusted.x");
	ck_assert_int_eq(bname_xattr_plain(&c, stored, plain), 0);
	ck_assert_str_eq(plain, "trusted.x");
	ck_assert_int_eq(bname_target(&c, "t", enc, &s), 0);
	ck_assert_str_eq(s, "t");
	ck_assert_int_eq(bname_target_size(&c, 1), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bname");

	ADD_FIXTURE_TEST(s, plain_reserved_names, setup_plain, teardown);
	ADD_FIXTURE_TEST(s, plain_passthrough, setup_plain, teardown);
	ADD_FIXTURE_TEST(s, encrypted_round_trip, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, long_names, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, failed_create_leaves_nothing, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, file_made_stays_open, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, file_made_stays_open, setup_plain, teardown);
	ADD_FIXTURE_TEST(s, lookup_finds_held_inode, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, directories_and_rmdir, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, ids_checked_at_lookup, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, rename_keeps_binding, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, rename_over_empty_dir, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, exchange_keeps_both_name_files, setup_enc,
			 teardown);
	ADD_FIXTURE_TEST(s, plain_path, setup_enc, teardown);
	ADD_FIXTURE_TEST(s, fixed_id_domain, setup_enc, teardown);
	return run_suite(s);
}
