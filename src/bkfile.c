// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bookkeeping files, read with the type checked before the read. An
 * O_NONBLOCK open alone is not enough: opening a FIFO or a device node
 * already runs code (a driver's open, a writer's wake-up) and a root
 * daemon must not do that on an attacker's say. So the name is opened
 * O_PATH first, which opens nothing, and only a regular file is reopened
 * for reading through its /proc/self/fd link: the same inode, so a rename
 * in between cannot swap it.
 */
#include "bkfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFIFO: return "a FIFO";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symlink";
	case S_IFDIR: return "a directory";
	}
	return "not a regular file";
}

/* Read until @p max + 1 bytes or end of file; -EFBIG past @p max. */
static int read_capped(int fd, char *buf, size_t max, size_t *len)
{
	char extra;
	ssize_t got;
	size_t n = 0;

	for (;;) {
		if (n < max)
			got = read(fd, buf + n, max - n);
		else
			got = read(fd, &extra, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		if (n == max)
			return -EFBIG;
		n += (size_t)got;
	}
	*len = n;
	return 0;
}

int bkfile_read(int dirfd, const char *name, void *buf, size_t max,
		size_t *len)
{
	char proc[64];
	struct stat st;
	int pfd, fd = -1, r;

	*len = 0;
	pfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st)) {
		r = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warn("bookkeeping file %.200s is %s, not a regular file: "
			 "refused (the volume was tampered with)", name,
			 type_name(st.st_mode));
		r = -EIO;
		goto out;
	}
	if (st.st_size < 0 || (size_t)st.st_size > max) {
		r = -EFBIG; /* refused unread */
		goto too_big;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = read_capped(fd, buf, max, len);
too_big:
	if (r == -EFBIG)
		log_warn("bookkeeping file %.200s is longer than %zu bytes: "
			 "refused", name, max);
out:
	if (fd >= 0)
		close(fd);
	close(pfd);
	return r;
}
