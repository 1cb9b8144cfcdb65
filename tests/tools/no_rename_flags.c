// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LD_PRELOAD shim: a backing file system without the optional features.
 * renameat2() with any flag fails with EINVAL (as on file systems without
 * RENAME_NOREPLACE/RENAME_EXCHANGE), open with O_TMPFILE fails with
 * EOPNOTSUPP, and with ATR_SHIM_NO_LINK=1 linkat() fails with EPERM (no
 * hard links). Each refusal appends a line to $ATR_SHIM_LOG, so a test can
 * tell that the fallback really ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void note(const char *what)
{
	const char *log = getenv("ATR_SHIM_LOG");
	int fd, e = errno;

	if (!log)
		return;
	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, what, strlen(what)) < 0) {
			/* nothing to do: the log is only a witness */
		}
		close(fd);
	}
	errno = e;
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd,
	      const char *newpath, unsigned int flags)
{
	if (flags) {
		note("renameat2 flags refused\n");
		errno = EINVAL;
		return -1;
	}
	return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd,
			    newpath, 0);
}

int linkat(int olddirfd, const char *oldpath, int newdirfd,
	   const char *newpath, int flags)
{
	const char *no = getenv("ATR_SHIM_NO_LINK");

	if (no && !strcmp(no, "1")) {
		note("linkat refused\n");
		errno = EPERM;
		return -1;
	}
	return (int)syscall(SYS_linkat, olddirfd, oldpath, newdirfd, newpath,
			    flags);
}

static int open_at(int dirfd, const char *path, int flags, va_list ap)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE))
		mode = (mode_t)va_arg(ap, int);
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		note("O_TMPFILE refused\n");
		errno = EOPNOTSUPP;
		return -1;
	}
	return (int)syscall(SYS_openat, dirfd, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_at(dirfd, path, flags, ap);
	va_end(ap);
	return r;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	int r;

	va_start(ap, flags);
	r = open_at(AT_FDCWD, path, flags, ap);
	va_end(ap);
	return r;
}
