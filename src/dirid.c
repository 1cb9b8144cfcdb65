// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Directory IDs. The ID file must be on disk before any name is encrypted
 * under it, or a crash could leave entries nobody can decrypt: it is
 * written under a temporary name, fsynced, renamed into place without
 * replacing anything, and the directory is fsynced.
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

#define DIRID_TMP NAMES_DIRID_FILE ".tmp"

int dirid_create(int dirfd, uint8_t id[NAMES_DIRID_LEN])
{
	int fd, r;

	r = crypto_random(id, NAMES_DIRID_LEN);
	if (r)
		return r;
	unlinkat(dirfd, DIRID_TMP, 0); /* left by a crash: never in use */
	fd = openat(dirfd, DIRID_TMP, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0444);
	if (fd < 0)
		return -errno;
	if (write(fd, id, NAMES_DIRID_LEN) != NAMES_DIRID_LEN || fsync(fd)) {
		r = errno ? -errno : -EIO;
		close(fd);
		goto err;
	}
	close(fd);
	if (renameat2(dirfd, DIRID_TMP, dirfd, NAMES_DIRID_FILE,
		      RENAME_NOREPLACE)) {
		r = -errno;
		goto err;
	}
	if (fsync(dirfd))
		return -errno;
	return 0;
err:
	unlinkat(dirfd, DIRID_TMP, 0);
	return r;
}

int dirid_read(int dirfd, uint8_t id[NAMES_DIRID_LEN])
{
	uint8_t buf[NAMES_DIRID_LEN + 1];
	ssize_t n;
	int fd;

	fd = openat(dirfd, NAMES_DIRID_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		log_err("directory ID file missing (%s): the directory cannot "
			"be read", strerror(-r));
		return r;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	if (n != NAMES_DIRID_LEN) {
		log_err("directory ID file is malformed (%zd bytes, expected "
			"%d)", n, NAMES_DIRID_LEN);
		return -EIO;
	}
	memcpy(id, buf, NAMES_DIRID_LEN);
	return 0;
}
