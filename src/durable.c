// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Durable small files and no-replace renames.
 *
 * A format file must never be seen half-written, and must be on disk
 * before anything that depends on it: write a temp file, fsync it, rename
 * it into place, fsync the directory. The rename is where backing file
 * systems differ: RENAME_NOREPLACE is missing on some (older FUSE file
 * systems, NFS, overlay set-ups), so "never replace" falls back to link()
 * (which never replaces either) and, where hard links are missing too, to
 * an existence check before a plain rename. That last step is only safe
 * because one process at a time writes a volume (the daemon or fsck, which
 * exclude each other), and it is what makes any POSIX file system usable.
 */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The errors by which a file system says "no such feature here". */
static bool unsupported(int e)
{
	return e == EINVAL || e == ENOSYS || e == EOPNOTSUPP || e == EPERM;
}

int durable_rename_noreplace(int fromfd, const char *from, int tofd,
			     const char *to)
{
	struct stat st;

	if (!renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE))
		return 0;
	/* EPERM is not a missing flag here: it is a real refusal. */
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return -errno;
	if (fstatat(fromfd, from, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		if (!linkat(fromfd, from, tofd, to, 0)) {
			if (!unlinkat(fromfd, from, 0))
				return 0;
			/* Never leave one inode under both names. */
			int r = -errno;

			unlinkat(tofd, to, 0);
			return r;
		}
		if (errno == EEXIST)
			return -EEXIST;
		if (!unsupported(errno) && errno != EMLINK)
			return -errno;
	}
	if (!fstatat(tofd, to, &st, AT_SYMLINK_NOFOLLOW))
		return -EEXIST;
	if (errno != ENOENT)
		return -errno;
	return renameat(fromfd, from, tofd, to) ? -errno : 0;
}

int durable_fsync_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

int durable_write_file(int dirfd, const char *name, const void *data,
		       size_t len, mode_t mode, bool replace)
{
	char tmp[NAME_MAX + 1];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s%s", name, DURABLE_TMP_SUFFIX) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* Cheap early refusal; the no-replace rename is what makes it sure. */
	if (!replace && !faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW))
		return -EEXIST;
	/* A temp file left by a crash before its rename was never in use. */
	if (unlinkat(dirfd, tmp, 0) && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	/* The umask must not decide the mode of a format file or a key. */
	r = fchmod(fd, mode) ? -errno : 0;
	if (!r)
		r = write_all(fd, data, len);
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r) {
		if (replace)
			r = renameat(dirfd, tmp, dirfd, name) ? -errno : 0;
		else
			r = durable_rename_noreplace(dirfd, tmp, dirfd, name);
	}
	if (r) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return durable_fsync_dir(dirfd);
}
