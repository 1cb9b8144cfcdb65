// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Bookkeeping files planted by an attacker: a FIFO, a device node, a
 * symlink, a socket, a directory and an oversized file are refused with
 * -EIO/-EFBIG, and none of them is ever opened for reading. open() is
 * wrapped at link time (-Wl,--wrap=open) to count the read opens bkfile.c
 * makes: the only one allowed is the reopen of a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "bkfile.h"
#include "log.h"

static int read_opens;

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	va_list ap;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if ((flags & O_ACCMODE) == O_RDONLY && !(flags & O_PATH))
		read_opens++;
	return __real_open(path, flags, mode);
}

static char tmpdir[64];
static int dfd = -1;

static void setup(void)
{
	strcpy(tmpdir, "/tmp/check_bkfile.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	dfd = __real_open(tmpdir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dfd, 0);
	log_set_level(LOG_LVL_NONE);
	read_opens = 0;
}

static void teardown(void)
{
	char cmd[128];

	close(dfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0400);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(regular_file_read)
{
	char buf[16];
	size_t n;

	put("x.name", "hello");
	ck_assert_int_eq(bkfile_read(dfd, "x.name", buf, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
	ck_assert_int_eq(read_opens, 1);
	/* exactly at the cap is fine, one byte over is refused unread */
	put("y", "0123456789abcdef");
	ck_assert_int_eq(bkfile_read(dfd, "y", buf, 16, &n), 0);
	ck_assert_uint_eq(n, 16);
	ck_assert_int_eq(bkfile_read(dfd, "y", buf, 15, &n), -EFBIG);
	ck_assert_int_eq(read_opens, 2);
	ck_assert_int_eq(bkfile_read(dfd, "absent", buf, 15, &n), -ENOENT);
}
END_TEST

START_TEST(fifo_refused_unopened)
{
	char buf[16];
	size_t n;

	ck_assert_int_eq(mkfifoat(dfd, "f.name", 0600), 0);
	ck_assert_int_eq(bkfile_read(dfd, "f.name", buf, sizeof(buf), &n), -EIO);
	ck_assert_int_eq(read_opens, 0);
}
END_TEST

START_TEST(device_refused_unopened)
{
	char buf[16];
	size_t n;

	/* /dev/zero's numbers: it would happily fill the buffer if opened. */
	ck_assert_int_eq(mknodat(dfd, "c.name", S_IFCHR | 0600, makedev(1, 5)), 0);
	ck_assert_int_eq(bkfile_read(dfd, "c.name", buf, sizeof(buf), &n), -EIO);
	ck_assert_int_eq(mknodat(dfd, "b.name", S_IFBLK | 0600, makedev(7, 0)), 0);
	ck_assert_int_eq(bkfile_read(dfd, "b.name", buf, sizeof(buf), &n), -EIO);
	ck_assert_int_eq(read_opens, 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(link_dir_socket_refused)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[16];
	size_t n;
	int s;

	put("target", "secret");
	ck_assert_int_eq(symlinkat("target", dfd, "l.name"), 0);
	ck_assert_int_eq(bkfile_read(dfd, "l.name", buf, sizeof(buf), &n), -EIO);
	ck_assert_int_eq(mkdirat(dfd, "d.name", 0700), 0);
	ck_assert_int_eq(bkfile_read(dfd, "d.name", buf, sizeof(buf), &n), -EIO);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/s.name", tmpdir);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(bkfile_read(dfd, "s.name", buf, sizeof(buf), &n), -EIO);
	close(s);
	ck_assert_int_eq(read_opens, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bkfile");

	ADD_FIXTURE_TEST(s, regular_file_read, setup, teardown);
	ADD_FIXTURE_TEST(s, fifo_refused_unopened, setup, teardown);
	ADD_FIXTURE_TEST(s, device_refused_unopened, setup, teardown);
	ADD_FIXTURE_TEST(s, link_dir_socket_refused, setup, teardown);
	return run_suite(s);
}
