// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The directory-ID rename protocol (dirmove.h): what keeps a directory's
 * ID file bound to wherever a crash leaves the directory during a rename.
 * The name layer (bname.c) runs it around its renameat2.
 */
#include "dirmove.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_inode.h"
#include "log.h"

int dirmove_recover(struct dirid_ctx *dctx, struct fs_inode *dir,
		    const struct dirid_place *place,
		    uint8_t id[NAMES_DIRID_LEN])
{
	int fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = dirid_dir_empty(fd);
	if (!r) {
		r = dirid_create(dctx, fd, place, id);
		if (!r)
			log_warn("an empty directory had lost its ID file (an "
				 "interrupted rename): given a new one");
	}
	close(fd);
	return r ? -ENOENT : 0;
}

/*
 * The target's ID file is moved into the target's parent: put back if the
 * rename fails (the kernel holds the target locked meanwhile, so nothing
 * was made in it), dropped once it succeeded. A crash in between leaves an
 * empty directory without an ID (dirmove_recover()) and a hidden leftover.
 */
int dirmove_clear_target(struct fs_inode *dir, const char *name,
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
	r = dirid_dir_empty(fd);
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

void dirmove_finish_target(struct fs_inode *ndir, const char *newname,
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

int dirmove_begin(struct dirid_ctx *dctx, struct fs_inode *from,
		  const char *fname, const char *fenc, struct fs_inode *to,
		  const char *tenc, struct dirmove *m)
{
	char where[PATH_MAX];
	struct stat st;
	int r;

	m->fd = -1;
	if (fstatat(from->fd, fname, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno; /* rename says ENOENT */
	if (!S_ISDIR(st.st_mode))
		return 0;
	r = fs_inode_dirid(from, m->from_id);
	if (!r)
		r = fs_inode_dirid(to, m->to_id);
	if (r)
		return r;
	m->from = (struct dirid_place){ m->from_id, fenc };
	m->to = (struct dirid_place){ m->to_id, tenc };
	m->fd = openat(from->fd, fname,
		       O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	r = dirid_read(dctx, m->fd, &m->from, m->id);
	if (r) {
		log_warn("cannot rename directory %s: its ID file is not bound "
			 "to it: EIO",
			 log_fd_path(m->fd, where, sizeof(where)));
		r = -EIO;
	} else {
		r = dirid_rebind(dctx, m->fd, m->id, &m->from, &m->to);
	}
	if (r) {
		close(m->fd);
		m->fd = -1;
	}
	return r;
}

void dirmove_end(struct dirid_ctx *dctx, struct dirmove *m, bool moved)
{
	char where[PATH_MAX];

	if (m->fd < 0)
		return;
	/* On failure the file keeps both bindings, still valid here. */
	if (dirid_rebind(dctx, m->fd, m->id, moved ? &m->to : &m->from, NULL))
		log_warn("directory %s keeps its ID bound to two places",
			 log_fd_path(m->fd, where, sizeof(where)));
	close(m->fd);
	m->fd = -1;
}
