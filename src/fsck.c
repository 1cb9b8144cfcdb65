// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * atrestfs fsck: check a volume offline, and repair what can be repaired
 * without deleting ciphertext.
 *
 * The volume is unlocked exactly as a mount does it (unlock_volume_keys:
 * the node's pins, the key source in a child, the config MAC), after
 * making sure no daemon
 * serves it: the volume lock (flock on the volume directory, held by every
 * mounted daemon) and /proc/self/mountinfo both have to agree. Then the
 * tree is walked from the root with *at() calls, checking what a mount
 * would trip over: each directory ID and its binding to its place, each
 * name and long name, each file's blocks, each symlink target and each
 * extended attribute. Every problem is reported with its backing path and,
 * when the names above it decrypt, its plaintext path.
 *
 * Repair never deletes: a torn tail is cut back to the last consistent
 * state (the content module decides what that is), and an entry that
 * cannot be read where it is (a name that does not decrypt, a swapped
 * long-name file, a directory whose ID is bound elsewhere, a damaged file,
 * planted junk) is moved into /lost+found, under its backing name as the
 * plaintext name, where the mount shows it. A directory moved there is
 * rebound to its new place, so whatever inside it still decrypts becomes
 * readable again. Entries already in /lost+found are never moved again.
 */
#include "fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <jansson.h>

#include "content.h"
#include "crypto.h"
#include "dirid.h"
#include "durable.h"
#include "keyprov.h"
#include "log.h"
#include "longname.h"
#include "names.h"
#include "pin.h"
#include "rootattr.h"
#include "secmem.h"
#include "unlock.h"
#include "volume.h"

#define XATTR_PREFIX "user.atrestfs."

struct fsck {
	const struct fsck_opts *o;
	char vol[PATH_MAX];
	struct content_ctx *cctx;
	struct names_ctx *nctx;
	struct dirid_ctx *dctx;
	uint8_t root_id[NAMES_DIRID_LEN];
	/* lost+found, made on first use */
	int lf_fd;
	uint8_t lf_id[NAMES_DIRID_LEN];
	char lf_backing[NAMES_ENC_MAX + 1];
	json_t *problems;
	unsigned long dirs, files, entries;
	int status; /* FSCK_EXIT_* bits */
	bool tty;
};

/* ---- reporting ---- */

static void progress(struct fsck *f)
{
	unsigned long every = f->o->progress_every ? f->o->progress_every : 1000;

	f->entries++;
	if (f->entries % every)
		return;
	if (f->tty)
		fprintf(stderr, "\ratrestfs fsck: %lu entries checked", f->entries);
	else
		fprintf(stderr, "atrestfs fsck: %lu entries checked\n",
			f->entries);
}

/*
 * Record a problem: @p kind is a short machine word, @p bpath the backing
 * path relative to the volume, @p ppath the plaintext path (NULL when the
 * names above it do not decrypt). Returns the record, so that a repair can
 * be added to it with fixed().
 */
static json_t *problem(struct fsck *f, const char *kind, const char *bpath,
		       const char *ppath, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static json_t *problem(struct fsck *f, const char *kind, const char *bpath,
		       const char *ppath, const char *fmt, ...)
{
	char msg[1024], *backing = NULL;
	json_t *p;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&backing, "%s%s%s", f->vol, *bpath ? "/" : "", bpath) < 0)
		backing = NULL;
	if (!backing) {
		f->status |= FSCK_EXIT_ERROR | FSCK_EXIT_DAMAGE;
		return NULL;
	}
	p = json_pack("{s:s, s:s, s:o, s:s, s:b}", "kind", kind, "backing",
		      backing, "path",
		      ppath ? json_string(*ppath ? ppath : "/") : json_null(),
		      "message", msg, "repaired", 0);
	if (p)
		json_array_append_new(f->problems, p);
	f->status |= FSCK_EXIT_DAMAGE; /* until fixed() says otherwise */
	if (!f->o->json) {
		if (f->tty)
			fputs("\r", stderr);
		printf("%s: %s (%s): %s\n", kind, backing,
		       ppath ? (*ppath ? ppath : "/") : "plaintext path unknown",
		       msg);
		fflush(stdout);
	}
	free(backing);
	return p;
}

/* Mark problem @p p repaired by @p action. */
static void fixed(struct fsck *f, json_t *p, const char *action)
{
	if (p) {
		json_object_set_new(p, "repaired", json_true());
		json_object_set_new(p, "action", json_string(action));
	}
	if (!f->o->json)
		printf("  repaired: %s\n", action);
}

/* An operational error (not damage): the check is incomplete. */
static void oper_error(struct fsck *f, const char *bpath, const char *what,
		       int err)
{
	json_t *p = problem(f, "error", bpath, NULL, "%s: %s", what,
			    strerror(-err));

	if (p)
		json_object_set_new(p, "operational", json_true());
	f->status |= FSCK_EXIT_ERROR;
}

/* "DIR/NAME" (or NAME for the root) in a new string, NULL without memory. */
static char *join(const char *dir, const char *name)
{
	char *out;

	if (asprintf(&out, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return out;
}

/* ---- lost+found ---- */

/* Open /lost+found, making it (bound to the root) if it is missing. */
static int lf_open(struct fsck *f, int root_fd)
{
	const struct dirid_place place = { f->root_id, f->lf_backing };
	struct stat st;
	int r;

	if (f->lf_fd >= 0)
		return 0;
	r = names_encrypt(f->nctx, f->root_id, FSCK_LOST_FOUND, f->lf_backing);
	if (r)
		return r;
	if (fstatat(root_fd, f->lf_backing, &st, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT)
			return -errno;
		r = dirid_mkdir(f->dctx, root_fd, f->lf_backing, &place, 0700,
				NULL);
		if (r)
			return r;
	}
	f->lf_fd = openat(root_fd, f->lf_backing,
			  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (f->lf_fd < 0)
		return -errno;
	r = dirid_read(f->dctx, f->lf_fd, &place, f->lf_id);
	if (r) {
		close(f->lf_fd);
		f->lf_fd = -1;
		return r == -EBADMSG || r == -EIO ? -EIO : r;
	}
	return 0;
}

/* Where an entry lands in lost+found: its backing name and place. */
struct lf_target {
	char plain[NAMES_MAX + 1];
	char enc[NAMES_ENC_MAX + 1];
	char backing[NAME_MAX + 1];
	bool is_long;
};

/* A free plaintext name in lost+found based on @p base. */
static int lf_pick(struct fsck *f, const char *base, struct lf_target *t)
{
	struct stat st;
	int r;

	for (unsigned i = 0; i < 1000; i++) {
		if (i)
			snprintf(t->plain, sizeof(t->plain), "%.240s.%u", base,
				 i);
		else
			snprintf(t->plain, sizeof(t->plain), "%.250s", base);
		r = names_encrypt(f->nctx, f->lf_id, t->plain, t->enc);
		if (r)
			return r;
		t->is_long = names_needs_long(t->enc);
		if (t->is_long)
			r = names_long_entry(t->enc, t->backing);
		else /* not long: at most NAMES_MAX characters */
			strcpy(t->backing, t->enc);
		if (r)
			return r;
		if (fstatat(f->lf_fd, t->backing, &st, AT_SYMLINK_NOFOLLOW))
			return errno == ENOENT ? 0 : -errno;
	}
	return -EEXIST;
}

/*
 * Move entry @p name of the directory at @p dfd into lost+found as
 * plaintext @p base (or a free variant), durably. @p t gets where it went.
 */
static int lf_move(struct fsck *f, int root_fd, int dfd, const char *name,
		   const char *base, struct lf_target *t)
{
	bool made = false;
	int r = lf_open(f, root_fd);

	if (!r)
		r = lf_pick(f, base, t);
	if (!r && t->is_long)
		r = longname_write(f->lf_fd, t->backing, t->enc, &made);
	if (!r)
		r = durable_rename_noreplace(dfd, name, f->lf_fd, t->backing);
	if (r) {
		if (made)
			longname_remove(f->lf_fd, t->backing);
		return r;
	}
	r = durable_fsync_dir(f->lf_fd);
	if (!r)
		r = durable_fsync_dir(dfd);
	return r;
}

/*
 * The repair of an entry that cannot be read where it is. A long entry's
 * .name file goes with it, as its own entry.
 */
static void unreadable(struct fsck *f, int root_fd, int dfd, const char *e,
		       bool in_lf, json_t *p)
{
	char action[PATH_MAX], lname[NAME_MAX + 1];
	struct lf_target t, tn;
	struct stat st;
	int r;

	if (!f->o->repair || in_lf)
		return;
	r = lf_move(f, root_fd, dfd, e, e, &t);
	if (r) {
		oper_error(f, "", "cannot move an entry into /lost+found", r);
		return;
	}
	snprintf(action, sizeof(action), "moved to /%s/%s", FSCK_LOST_FOUND,
		 t.plain);
	longname_file(e, lname);
	if (names_is_long_entry(e) &&
	    !fstatat(dfd, lname, &st, AT_SYMLINK_NOFOLLOW) &&
	    !lf_move(f, root_fd, dfd, lname, lname, &tn))
		snprintf(action + strlen(action), sizeof(action) - strlen(action),
			 " (its long-name file to /%s/%s)", FSCK_LOST_FOUND,
			 tn.plain);
	fixed(f, p, action);
}

/* ---- files ---- */

/*
 * The content of one regular file, as the content module judges it:
 * 0 clean, 1 repaired, 2 damage left, or a negative errno; @p why says
 * what was found, @p c keeps the file ID for the xattr check.
 */
static int check_content(struct fsck *f, int fd, struct content_check *c,
			 char *why, size_t n)
{
	int r = content_check_file(f->cctx, fd, f->o->repair, c);
	size_t l = 0;

	/* The file's key schedule must not stay behind in OpenSSL's heap
	 * while the next thousand files are checked (crypto.h). */
	crypto_forget();
	why[0] = '\0';
#define SAY(...) (l += (size_t)snprintf(why + l, l < n ? n - l : 0, __VA_ARGS__))
	if (c->bad_header)
		SAY("file header is cut short or has an unknown version; ");
	if (c->no_commit)
		SAY("data without a valid commit record (forged or cut); ");
	if (c->size_mismatch)
		SAY("cut or extended: backing size %lld does not match the "
		    "committed size of %lld bytes; ",
		    (long long)c->backing_before, (long long)c->committed_size);
	if (c->bad_blocks)
		SAY("%llu block(s) fail authentication (first: block %llu); ",
		    (unsigned long long)c->bad_blocks,
		    (unsigned long long)c->first_bad_block);
	if (c->torn_tail && f->o->repair)
		SAY("torn tail cut back to %lld bytes (backing %lld -> %lld "
		    "bytes); ", (long long)c->size,
		    (long long)c->backing_before, (long long)c->backing_after);
	else if (c->torn_tail)
		SAY("torn tail past the last consistent state (%lld bytes): "
		    "--repair cuts it back; ", (long long)c->size);
#undef SAY
	if (l >= 2 && l < n)
		why[l - 2] = '\0'; /* the last "; " */
	return r;
}

/* Every extended attribute of the object open at @p fd. */
static void check_xattrs(struct fsck *f, int fd, const uint8_t *owner,
			 const char *bpath, const char *ppath)
{
	char *list = NULL, plain[NAMES_MAX + 1];
	uint8_t *val = NULL, *out = NULL, *aad = NULL;
	ssize_t n, vn;
	size_t al;

	n = flistxattr(fd, NULL, 0);
	if (n <= 0)
		return;
	list = malloc((size_t)n);
	if (!list || (n = flistxattr(fd, list, (size_t)n)) < 0)
		goto out;
	for (char *p = list; p < list + n; p += strlen(p) + 1) {
		if (strncmp(p, "user.", 5))
			continue; /* the system's own: not ours to judge */
		if (strncmp(p, XATTR_PREFIX, strlen(XATTR_PREFIX)) ||
		    names_decrypt(f->nctx, names_fixed_id,
				  p + strlen(XATTR_PREFIX), plain)) {
			problem(f, "xattr", bpath, ppath,
				"extended attribute %.80s was not written by "
				"atrestfs or its name does not decrypt", p);
			continue;
		}
		if (!owner) {
			problem(f, "xattr", bpath, ppath,
				"value of extended attribute user.%s cannot be "
				"checked: its file has no readable header (no "
				"file ID to bind it to)", plain);
			continue;
		}
		vn = fgetxattr(fd, p, NULL, 0);
		free(val);
		free(out);
		free(aad);
		/* Bound to the stored name and the owner's ID (fs_ops). */
		al = strlen(p);
		aad = malloc(al + CONTENT_FILE_ID_LEN);
		if (aad) {
			memcpy(aad, p, al);
			memcpy(aad + al, owner, CONTENT_FILE_ID_LEN);
			al += CONTENT_FILE_ID_LEN;
		}
		val = vn >= 0 ? malloc((size_t)vn + 1) : NULL;
		out = vn >= 0 ? malloc((size_t)vn + 1) : NULL;
		if (!val || !out || !aad ||
		    (vn = fgetxattr(fd, p, val, (size_t)vn)) < 0) {
			oper_error(f, bpath, "cannot read an extended attribute",
				   -ENOMEM);
			continue;
		}
		if (content_blob_plain_len((size_t)vn) < 0 ||
		    content_blob_open(f->cctx, aad, al, val, (size_t)vn, out))
			problem(f, "xattr", bpath, ppath,
				"value of extended attribute user.%s does not "
				"authenticate (damaged, or copied from another "
				"file or attribute)", plain);
		else
			secmem_wipe(out,
				    (size_t)content_blob_plain_len((size_t)vn));
	}
out:
	crypto_forget();
	free(list);
	free(val);
	free(out);
	free(aad);
}

static void check_dir(struct fsck *f, int root_fd, int dfd,
		      const uint8_t id[NAMES_DIRID_LEN], const char *bpath,
		      const char *ppath, bool in_lf);

/* A directory found as entry @p e (stored name @p enc) of @p dfd. */
static void check_subdir(struct fsck *f, int root_fd, int dfd, const char *e,
			 const char *enc, const uint8_t pid[NAMES_DIRID_LEN],
			 const char *bpath, const char *ppath, bool in_lf,
			 bool is_lf)
{
	const struct dirid_place place = { pid, enc };
	uint8_t id[NAMES_DIRID_LEN];
	char *lbpath, *lppath = NULL, *action = NULL;
	struct lf_target t;
	json_t *p;
	int fd, r, bad;

	fd = openat(dfd, e, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		oper_error(f, bpath, "cannot open directory", -errno);
		return;
	}
	r = bad = dirid_read(f->dctx, fd, &place, id);
	if (!r) {
		f->dirs++;
		check_xattrs(f, fd, id, bpath, ppath);
		check_dir(f, root_fd, fd, id, bpath, ppath, is_lf);
		close(fd);
		return;
	}
	if (r != -EBADMSG && r != -EIO && r != -ENOENT) {
		oper_error(f, bpath, "cannot read the directory ID", r);
		close(fd);
		return;
	}
	p = problem(f, "dirid", bpath, ppath,
		    r == -EBADMSG ? "directory ID file belongs to another "
				    "directory (copied, moved or swapped): its "
				    "entries cannot be read here"
		    : r == -ENOENT ? "directory has no ID file: its entries "
				     "cannot be read"
				   : "directory ID file is malformed: its "
				     "entries cannot be read");
	if (!f->o->repair || is_lf) {
		close(fd);
		return;
	}
	/* 1. Into lost+found (unless already there), 2. bound to its new
	 * place: with the ID it holds when that ID is intact (its own
	 * entries decrypt again), else a fresh one after the damaged file is
	 * kept aside, 3. checked there, which sends what still does not
	 * decrypt to lost+found on its own. */
	if (in_lf) {
		t.is_long = false;
		snprintf(t.plain, sizeof(t.plain), "%s",
			 ppath ? strrchr(ppath, '/') + 1 : e);
		snprintf(t.enc, sizeof(t.enc), "%s", enc);
		snprintf(t.backing, sizeof(t.backing), "%s", e);
	} else if ((r = lf_move(f, root_fd, dfd, e, e, &t)) < 0) {
		oper_error(f, bpath, "cannot move into /lost+found", r);
		close(fd);
		return;
	}
	{
		const struct dirid_place there = { f->lf_id, t.enc };
		struct lf_target kept;
		struct stat st;

		if (bad == -EBADMSG) {
			r = dirid_rebind(f->dctx, fd, id, &there, NULL);
		} else {
			r = 0;
			if (!fstatat(fd, NAMES_DIRID_FILE, &st,
				     AT_SYMLINK_NOFOLLOW))
				r = lf_move(f, root_fd, fd, NAMES_DIRID_FILE,
					    "damaged directory ID", &kept);
			if (!r)
				r = dirid_create(f->dctx, fd, &there, id);
		}
		if (r) {
			oper_error(f, bpath, "cannot bind the directory ID", r);
			close(fd);
			return;
		}
	}
	lbpath = join(f->lf_backing, t.backing);
	if (!lbpath || asprintf(&lppath, "/%s/%s", FSCK_LOST_FOUND, t.plain) < 0 ||
	    asprintf(&action, "moved to %s and its ID bound there", lppath) < 0) {
		oper_error(f, bpath, "cannot go on", -ENOMEM);
	} else {
		fixed(f, p, action);
		f->dirs++;
		check_dir(f, root_fd, fd, id, lbpath, lppath, false);
	}
	free(lbpath);
	free(lppath);
	free(action);
	close(fd);
}

/* A regular file: content, then xattrs bound to its file ID. Kept out of
 * line (like check_symlink()) so that its buffers are not in every frame
 * of the directory recursion. */
static __attribute__((noinline)) void
check_file(struct fsck *f, int root_fd, int dfd, const char *e,
	   const char *bpath, const char *ppath, bool in_lf)
{
	struct content_check c;
	char why[512];
	json_t *p;
	int fd, r;

	f->files++;
	fd = openat(dfd, e, (f->o->repair ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
				    O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		oper_error(f, bpath, "cannot open", -errno);
		return;
	}
	r = check_content(f, fd, &c, why, sizeof(why));
	if (r >= 0)
		check_xattrs(f, fd, c.has_file_id ? c.file_id : NULL, bpath,
			     ppath);
	close(fd);
	if (r < 0) {
		oper_error(f, bpath, "cannot check the content", r);
	} else if (r == 1) {
		p = problem(f, "content", bpath, ppath, "%s", why);
		fixed(f, p, "cut back to its last consistent state");
	} else if (r == 2) {
		p = problem(f, "content", bpath, ppath, "%s", why);
		unreadable(f, root_fd, dfd, e, in_lf, p);
	}
}

static __attribute__((noinline)) void
check_symlink(struct fsck *f, int root_fd, int dfd, const char *e,
	      const char *bpath, const char *ppath, bool in_lf)
{
	char target[PATH_MAX + 1], plain[NAMES_TARGET_MAX + 1];
	ssize_t n = readlinkat(dfd, e, target, sizeof(target) - 1);
	json_t *p;

	if (n < 0) {
		oper_error(f, bpath, "cannot read symlink", -errno);
		return;
	}
	target[n] = '\0';
	if (names_decrypt_target(f->nctx, names_fixed_id, target, plain)) {
		p = problem(f, "symlink", bpath, ppath,
			    "symlink target does not decrypt");
		unreadable(f, root_fd, dfd, e, in_lf, p);
		return;
	}
	secmem_wipe(plain, sizeof(plain));
}

/* One entry whose name decrypted: by type. */
static void check_entry(struct fsck *f, int root_fd, int dfd, const char *e,
			const char *enc, const uint8_t pid[NAMES_DIRID_LEN],
			const char *bpath, const char *ppath, bool in_lf,
			bool is_lf)
{
	struct stat st;
	json_t *p;

	if (fstatat(dfd, e, &st, AT_SYMLINK_NOFOLLOW)) {
		oper_error(f, bpath, "cannot stat", -errno);
		return;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		check_subdir(f, root_fd, dfd, e, enc, pid, bpath, ppath, in_lf,
			     is_lf);
		return;
	case S_IFREG:
		check_file(f, root_fd, dfd, e, bpath, ppath, in_lf);
		return;
	case S_IFLNK:
		check_symlink(f, root_fd, dfd, e, bpath, ppath, in_lf);
		return;
	case S_IFIFO:
		return;
	default:
		p = problem(f, "type", bpath, ppath,
			    "a device or socket: atrestfs never makes one");
		unreadable(f, root_fd, dfd, e, in_lf, p);
		return;
	}
}

/* The names of a directory, read before anything is moved out of it. */
static char **list_dir(int dfd, size_t *count, int *err)
{
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;
	struct dirent *d;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;

	*err = 0;
	if (!dp) {
		*err = -errno;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((errno = 0, d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		if (!(v[n] = strdup(d->d_name)))
			break;
		n++;
	}
	if (errno)
		*err = -errno;
	closedir(dp);
	*count = n;
	return v;
}

/* Does the long entry that .name file @p e belongs to exist here? */
static bool name_file_of_entry(int dfd, const char *e)
{
	size_t l = strlen(e), sl = strlen(NAMES_LONG_SUFFIX);
	char entry[NAME_MAX + 1];
	struct stat st;

	if (l <= sl || l > NAME_MAX || strcmp(e + l - sl, NAMES_LONG_SUFFIX))
		return false;
	memcpy(entry, e, l - sl);
	entry[l - sl] = '\0';
	return names_is_long_entry(entry) &&
	       !fstatat(dfd, entry, &st, AT_SYMLINK_NOFOLLOW);
}

/* Entry @p e of the directory at @p dfd (ID @p id), backing path @p cb. */
static void check_name(struct fsck *f, int root_fd, int dfd,
		       const uint8_t id[NAMES_DIRID_LEN], const char *e,
		       const char *cb, const char *ppath, bool in_lf, bool root)
{
	char enc[NAMES_ENC_MAX + 1], plain[NAMES_MAX + 1], *cp = NULL;
	const char *src = e;
	struct stat st;
	bool is_lf;
	json_t *p;
	int r;

	/* Gone since the listing: moved with its long entry. */
	if (fstatat(dfd, e, &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT)
		return;
	if (!strcmp(e, NAMES_DIRID_FILE) ||
	    (root && (!strcmp(e, VOLUME_CONFIG_NAME) ||
		      !strcmp(e, ROOTATTR_NAME))))
		return; /* checked on their own */
	if (names_is_long_entry(e)) {
		r = longname_read(dfd, e, enc);
		if (r) {
			p = problem(f, "long-name", cb, NULL,
				    r == -EBADMSG
					    ? "its long-name file belongs to "
					      "another entry (swapped or copied)"
					    : "its long-name file is missing or "
					      "malformed");
			unreadable(f, root_fd, dfd, e, in_lf, p);
			return;
		}
		src = enc;
	} else if (names_is_bookkeeping(e)) {
		if (name_file_of_entry(dfd, e))
			return; /* checked with its entry */
		p = problem(f, "junk", cb, NULL, "%s",
			    strstr(e, DURABLE_TMP_SUFFIX) ||
					    !strncmp(e, ".atrestfs.mkdir.", 16)
				    ? "left over by an interrupted operation"
				    : "not a file atrestfs writes (planted or "
				      "from another tool)");
		unreadable(f, root_fd, dfd, e, in_lf, p);
		return;
	}
	if (names_decrypt(f->nctx, id, src, plain)) {
		p = problem(f, "name", cb, NULL,
			    "name does not decrypt in this directory (moved in "
			    "from elsewhere, damaged or planted)");
		unreadable(f, root_fd, dfd, e, in_lf, p);
		return;
	}
	if (ppath && asprintf(&cp, "%s/%s", ppath, plain) < 0)
		cp = NULL; /* the plaintext path is then unknown */
	is_lf = root && !strcmp(plain, FSCK_LOST_FOUND);
	check_entry(f, root_fd, dfd, e, src, id, cb, cp, in_lf || is_lf, is_lf);
	free(cp);
}

static void check_dir(struct fsck *f, int root_fd, int dfd,
		      const uint8_t id[NAMES_DIRID_LEN], const char *bpath,
		      const char *ppath, bool in_lf)
{
	size_t n = 0;
	char **names, *cb;
	int err;

	names = list_dir(dfd, &n, &err);
	if (err)
		oper_error(f, bpath, "cannot list directory", err);
	for (size_t i = 0; i < n; i++) {
		progress(f);
		cb = join(bpath, names[i]);
		if (!cb) {
			oper_error(f, bpath, "cannot go on", -ENOMEM);
			break;
		}
		check_name(f, root_fd, dfd, id, names[i], cb, ppath, in_lf,
			   bpath[0] == '\0');
		free(cb);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ---- the command ---- */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] &&
		    s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* 1 (with the mount point in @p mnt) when a FUSE mount serves @p vol. */
static int mounted_at(const char *vol, char *mnt, size_t n)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (!fp)
		return -errno;
	while (!found && getline(&line, &cap, fp) > 0) {
		char *sep = strstr(line, " - "), *fields[5], *save = NULL;
		char *fstype, *source;
		int i = 0;

		if (!sep)
			continue;
		*sep = '\0';
		for (char *t = strtok_r(line, " ", &save); t && i < 5;
		     t = strtok_r(NULL, " ", &save))
			fields[i++] = t;
		fstype = strtok_r(sep + 3, " ", &save);
		source = strtok_r(NULL, " ", &save);
		if (i < 5 || !fstype || !source || strncmp(fstype, "fuse", 4))
			continue;
		unescape(source);
		if (strcmp(source, vol))
			continue;
		unescape(fields[4]);
		snprintf(mnt, n, "%s", fields[4]);
		found = 1;
	}
	free(line);
	fclose(fp);
	return found;
}

/* Config, refusal rules, pins, key, MAC, contexts: the mount's own steps. */
/* The mount root's owner and mode (rootattr.c), under their own MAC. */
static void check_root_record(struct fsck *f, const uint8_t *key)
{
	struct rootattr a;
	int dfd = open(f->vol, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0 || rootattr_load(dfd, key, &a))
		problem(f, "root-attributes", ROOTATTR_NAME, NULL,
			"the mount root's attribute record is missing, "
			"malformed or not authentic: the volume will not "
			"mount (recreate it with atrestfs-rotate)");
	if (dfd >= 0)
		close(dfd);
}

static int unlock(struct fsck *f, struct volume_config **cfg)
{
	struct volume_expect exp = { .encryption = true,
				     .key_source = f->o->key_source };
	const struct pin_opts popt = { .key_source = f->o->key_spec };
	struct volume_keys *keys = NULL;
	struct node_pins *pins = NULL;
	enum volume_verdict v;
	char why[PATH_MAX + 256];
	int r;

	r = volume_config_load(f->vol, cfg);
	if (r == -ENOENT) {
		fprintf(stderr, "atrestfs fsck: %s\n",
			volume_verdict_explain(VOLUME_NOT_A_VOLUME, f->vol,
					       NULL, NULL, why, sizeof(why)));
		return FSCK_EXIT_ERROR;
	}
	if (r) {
		problem(f, "config", VOLUME_CONFIG_NAME, NULL,
			"the volume config is invalid (see above): nothing "
			"else can be checked");
		return FSCK_EXIT_DAMAGE;
	}
	v = volume_check_mount(*cfg, &exp);
	if (!(*cfg)->encrypted) {
		fprintf(stderr, "atrestfs fsck: %s is a plain volume: there is "
				"nothing encrypted to check\n", f->vol);
		return FSCK_EXIT_OK;
	}
	if (v != VOLUME_OK) {
		fprintf(stderr, "atrestfs fsck: %s\n",
			volume_verdict_explain(v, f->vol, *cfg, &exp, why,
					       sizeof(why)));
		return FSCK_EXIT_ERROR;
	}
	r = pin_resolve(f->vol, f->o->key_spec ? &popt : NULL, &pins);
	if (!r)
		r = unlock_volume_keys(f->vol, *cfg, pins, &keys);
	pin_free(pins);
	if (r == -EBADMSG) {
		problem(f, "config", VOLUME_CONFIG_NAME, NULL,
			"the config MAC does not match (tampered or "
			"corrupted): nothing else can be checked");
		return FSCK_EXIT_DAMAGE;
	}
	if (r) {
		/* Pins refused or no key: the reason is above. */
		fprintf(stderr, "atrestfs fsck: %s could not be unlocked "
				"(%s)\n", f->vol,
			r == PIN_REFUSED ? "refused by this node's pins"
				    : strerror(-r));
		return FSCK_EXIT_ERROR;
	}
	check_root_record(f, keys->root_mac);
	r = content_ctx_new(keys->content, keys->xattr, (*cfg)->format, &f->cctx);
	if (!r)
		r = names_ctx_new(keys->names, &f->nctx);
	if (!r)
		r = dirid_ctx_new(keys->names, &f->dctx);
	volume_keys_free(keys);
	if (r) {
		fprintf(stderr, "atrestfs fsck: %s\n", strerror(-r));
		return FSCK_EXIT_ERROR;
	}
	return -1; /* go on */
}

static void summary(struct fsck *f)
{
	size_t i, left = 0, done = 0;
	json_t *p, *doc;

	json_array_foreach(f->problems, i, p) {
		if (json_is_true(json_object_get(p, "repaired")))
			done++;
		else
			left++;
	}
	if (left)
		f->status |= FSCK_EXIT_DAMAGE;
	else
		f->status &= ~FSCK_EXIT_DAMAGE;
	if (done)
		f->status |= FSCK_EXIT_REPAIRED;
	if (f->tty && f->entries >= (f->o->progress_every ? f->o->progress_every : 1000))
		fputs("\n", stderr);
	if (!f->o->json) {
		printf("atrestfs fsck: %s: %lu directories, %lu files, %lu "
		       "entries checked; %zu problems (%zu repaired, %zu "
		       "left)\n", f->vol, f->dirs, f->files, f->entries,
		       done + left, done, left);
		return;
	}
	doc = json_pack("{s:s, s:b, s:i, s:{s:I, s:I, s:I}, s:O}", "volume",
			f->vol, "repair", f->o->repair, "status", f->status,
			"checked", "directories", (json_int_t)f->dirs, "files",
			(json_int_t)f->files, "entries", (json_int_t)f->entries,
			"problems", f->problems);
	if (doc) {
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		fputs("\n", stdout);
		json_decref(doc);
	}
}

int fsck_run(const struct fsck_opts *o)
{
	struct fsck f = { .o = o, .lf_fd = -1 };
	const struct dirid_place top = { NULL, NULL };
	struct volume_config *cfg = NULL;
	char mnt[PATH_MAX];
	int lock_fd = -1, root_fd = -1, r;

	f.tty = isatty(STDERR_FILENO);
	f.problems = json_array();
	if (!f.problems)
		return FSCK_EXIT_ERROR;
	if (!realpath(o->volume, f.vol)) {
		fprintf(stderr, "atrestfs fsck: volume %s: %s\n", o->volume,
			strerror(errno));
		f.status = FSCK_EXIT_ERROR;
		goto out;
	}
	/* 1. Offline only: neither mounted nor locked by a daemon. */
	r = mounted_at(f.vol, mnt, sizeof(mnt));
	if (r == 1) {
		fprintf(stderr, "atrestfs fsck: refused: %s is mounted on %s; "
				"unmount it first (fsck checks a volume "
				"offline)\n", f.vol, mnt);
		f.status = FSCK_EXIT_ERROR;
		goto out;
	}
	lock_fd = volume_lock(f.vol, VOLUME_LOCK_WAIT_MS);
	if (lock_fd < 0) {
		fprintf(stderr, "atrestfs fsck: refused: %s: %s\n", f.vol,
			lock_fd == -EWOULDBLOCK
				? "in use by another atrestfs process (a mount "
				  "or another fsck)"
				: strerror(-lock_fd));
		f.status = FSCK_EXIT_ERROR;
		goto out;
	}
	/* 2. Unlocked the way a mount does it. */
	r = unlock(&f, &cfg);
	if (r >= 0) {
		f.status |= r;
		if (r != FSCK_EXIT_DAMAGE)
			goto out;
		summary(&f);
		goto out;
	}
	/* 3. The tree, from a root bound as the root. */
	root_fd = open(f.vol, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		fprintf(stderr, "atrestfs fsck: %s: %s\n", f.vol,
			strerror(errno));
		f.status = FSCK_EXIT_ERROR;
		goto out;
	}
	r = dirid_read(f.dctx, root_fd, &top, f.root_id);
	if (r) {
		problem(&f, "dirid", "", "",
			"root directory ID %s: no name in the volume can be "
			"read", r == -EBADMSG ? "belongs to another directory"
			: r == -ENOENT ? "is missing" : "is malformed or "
							"unreadable");
	} else {
		/* Each problem is reported here, with its path: the content
		 * module's own warnings would only repeat it. */
		log_set_level(LOG_LVL_ERR);
		f.dirs++;
		check_xattrs(&f, root_fd, f.root_id, "", "");
		check_dir(&f, root_fd, root_fd, f.root_id, "", "", false);
	}
	summary(&f);
out:
	if (f.lf_fd >= 0)
		close(f.lf_fd);
	if (root_fd >= 0)
		close(root_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	content_ctx_free(f.cctx);
	names_ctx_free(f.nctx);
	dirid_ctx_free(f.dctx);
	volume_config_free(cfg);
	json_decref(f.problems);
	return f.status;
}
