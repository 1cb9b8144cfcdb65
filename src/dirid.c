// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Directory IDs. The ID file must be on disk before any name is encrypted
 * under it, or a crash could leave entries nobody can decrypt: it is
 * written under a temporary bookkeeping name, fsynced, renamed into place
 * without replacing anything (an existing ID must never change, or every
 * name in the directory would be lost), and the directory is fsynced.
 *
 * The file is read from a backing directory that may have been tampered
 * with, so anything but a regular file of exactly NAMES_DIRID_LEN bytes is
 * refused, and only a regular file is opened for reading (bkfile.c), so a
 * FIFO or device node planted under its name is never opened.
 */
#include "dirid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkfile.h"
#include "crypto.h"
#include "log.h"

/* Bookkeeping (has a '.'); a crash may leave it behind, never in use. */
#define DIRID_TMP NAMES_DIRID_FILE ".tmp"
#define DIRID_MODE 0444

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

/* Move the temp file to the final name; -EEXIST if that name is taken. */
static int publish(int dirfd)
{
	if (!renameat2(dirfd, DIRID_TMP, dirfd, NAMES_DIRID_FILE,
		       RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* No RENAME_NOREPLACE on this file system: link() never replaces
	 * either, and the temp name is dropped afterwards. */
	if (linkat(dirfd, DIRID_TMP, dirfd, NAMES_DIRID_FILE, 0))
		return -errno;
	unlinkat(dirfd, DIRID_TMP, 0);
	return 0;
}

int dirid_create(int dirfd, uint8_t id[NAMES_DIRID_LEN])
{
	uint8_t fresh[NAMES_DIRID_LEN];
	int fd, r;

	/* Cheap early refusal; RENAME_NOREPLACE is what makes it certain. */
	if (!faccessat(dirfd, NAMES_DIRID_FILE, F_OK, AT_SYMLINK_NOFOLLOW))
		return -EEXIST;
	r = crypto_random(fresh, sizeof(fresh));
	if (r)
		return r;
	if (unlinkat(dirfd, DIRID_TMP, 0) && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, DIRID_TMP,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    DIRID_MODE);
	if (fd < 0) {
		r = -errno;
		log_err("cannot create a directory ID file: %s", strerror(-r));
		return r;
	}
	/* The umask must not decide the mode of a format file. */
	r = fchmod(fd, DIRID_MODE) ? -errno : 0;
	if (!r)
		r = write_all(fd, fresh, sizeof(fresh));
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r)
		r = publish(dirfd);
	if (r) {
		unlinkat(dirfd, DIRID_TMP, 0);
		if (r != -EEXIST)
			log_err("cannot write a directory ID file: %s",
				strerror(-r));
		return r;
	}
	if (fsync(dirfd)) {
		r = -errno;
		log_err("cannot sync a directory after writing its ID: %s",
			strerror(-r));
		return r;
	}
	memcpy(id, fresh, sizeof(fresh));
	return 0;
}

int dirid_read(int dirfd, uint8_t id[NAMES_DIRID_LEN])
{
	uint8_t buf[NAMES_DIRID_LEN];
	size_t n;
	int r;

	r = bkfile_read(dirfd, NAMES_DIRID_FILE, buf, sizeof(buf), &n);
	if (r == -ENOENT) {
		log_err("directory has no ID file %s: its names cannot be read",
			NAMES_DIRID_FILE);
		return r;
	}
	if (r == -EIO || r == -EFBIG || (!r && n != NAMES_DIRID_LEN)) {
		log_err("directory ID file %s is malformed (not a regular file "
			"of exactly %d bytes)", NAMES_DIRID_FILE, NAMES_DIRID_LEN);
		return -EIO;
	}
	if (r) {
		log_err("cannot read directory ID file %s: %s",
			NAMES_DIRID_FILE, strerror(-r));
		return r;
	}
	memcpy(id, buf, NAMES_DIRID_LEN);
	return 0;
}
