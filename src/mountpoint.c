// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Guarding a mount point. Root ignores permission bits, so mode 000 would
 * not stop a root cache service from writing into the bare directory when
 * the volume failed to mount. The immutable attribute does: nothing can
 * create an entry in an immutable directory, root included, while mounting
 * on top of it still works and the mounted filesystem is unaffected.
 */
#include "mountpoint.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "exitcodes.h"

int mountpoint_dir_empty(int fd)
{
	int dfd = dup(fd);
	struct dirent *d;
	DIR *dp = dfd >= 0 ? fdopendir(dfd) : NULL;
	int r = 1;

	if (!dp)
		return -errno;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
			r = 0;
			break;
		}
	closedir(dp);
	return r;
}

int cmd_guard_mountpoint(int argc, char **argv)
{
	bool release = false;
	const char *dir = NULL;
	struct stat st, parent;
	char up[4096];
	int fd, flags, rc = EXIT_SYSTEM;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--release"))
			release = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			puts("usage: atrestfs guard-mountpoint [--release] DIR\n"
			     "Makes the empty mount point DIR immutable, so that "
			     "nothing (root included) can write into it while "
			     "the volume is not mounted on it.");
			return EXIT_OK;
		} else if (!dir)
			dir = argv[i];
		else
			dir = NULL, i = argc;
	}
	if (!dir) {
		fputs("usage: atrestfs guard-mountpoint [--release] DIR\n",
		      stderr);
		return EXIT_USAGE;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		fprintf(stderr, "atrestfs: %s: %s\n", dir, strerror(e));
		return e == ENOENT || e == ENOTDIR ? EXIT_USAGE : EXIT_SYSTEM;
	}
	snprintf(up, sizeof(up), "%s/..", dir);
	if (fstat(fd, &st) || stat(up, &parent))
		goto err_errno;
	if (st.st_dev != parent.st_dev) {
		fprintf(stderr, "atrestfs: refused: something is mounted on %s; "
				"guard the bare directory, with nothing mounted\n",
			dir);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (!release && mountpoint_dir_empty(fd) != 1) {
		fprintf(stderr, "atrestfs: refused: %s is not empty: a mount "
				"point that holds data would hide it\n", dir);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags))
		goto err_flags;
	flags = release ? flags & ~FS_IMMUTABLE_FL : flags | FS_IMMUTABLE_FL;
	if (ioctl(fd, FS_IOC_SETFLAGS, &flags))
		goto err_flags;
	printf("%s %s\n", dir,
	       release ? "is writable again"
		       : "is guarded: nothing can be written into it while "
			 "no volume is mounted on it");
	rc = EXIT_OK;
	goto out;
err_flags:
	fprintf(stderr, "atrestfs: cannot %s the immutable attribute of %s: "
			"%s (the filesystem must support it, e.g. ext4, xfs, "
			"btrfs)\n",
		release ? "clear" : "set", dir, strerror(errno));
	goto out;
err_errno:
	fprintf(stderr, "atrestfs: %s: %s\n", dir, strerror(errno));
out:
	close(fd);
	return rc;
}
