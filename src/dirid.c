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
 * refused, and it is opened non-blocking so a FIFO planted under its name
 * cannot hang the daemon.
 */
#include "dirid.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	uint8_t buf[NAMES_DIRID_LEN + 1];
	struct stat st;
	ssize_t n = 0, got;
	int fd, r;

	fd = openat(dirfd, NAMES_DIRID_FILE,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT) {
			log_err("directory has no ID file %s: its names cannot "
				"be read", NAMES_DIRID_FILE);
			return r;
		}
		if (r == -ELOOP) /* a symlink planted in its place */
			goto malformed;
		log_err("cannot open directory ID file %s: %s",
			NAMES_DIRID_FILE, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size != NAMES_DIRID_LEN)
		goto malformed_fd;
	/* Read one byte more than expected, so a file that grew is caught. */
	while ((size_t)n < sizeof(buf)) {
		got = read(fd, buf + n, sizeof(buf) - (size_t)n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += got;
	}
	if (n != NAMES_DIRID_LEN)
		goto malformed_fd;
	close(fd);
	memcpy(id, buf, NAMES_DIRID_LEN);
	return 0;
malformed_fd:
	close(fd);
malformed:
	log_err("directory ID file %s is malformed (not a regular file of "
		"exactly %d bytes)", NAMES_DIRID_FILE, NAMES_DIRID_LEN);
	return -EIO;
}
