// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Directory ID files: the binding pinned by a known answer (computed with
 * Python's hmac/hashlib from the format description), refusal of IDs bound
 * elsewhere (copied, moved, swapped, root vs. subdirectory), the two-step
 * rebinding of a rename, planted and malformed files, crash leftovers,
 * durable long-name files, and mkdir with its hidden temporary name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "dirid.h"
#include "log.h"
#include "longname.h"
#include "names.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct dirid_ctx *ctx;
static char tdir[64];
static int tdfd = -1;
static const uint8_t pa[16] = { 2 }, pb[16] = { 3 };
static const struct dirid_place top = { NULL, NULL };

static void setup(void)
{
	uint8_t key[64];

	log_set_level(LOG_LVL_NONE);
	memset(key, 0x33, sizeof(key));
	ck_assert_int_eq(dirid_ctx_new(key, &ctx), 0);
	strcpy(tdir, "/tmp/check_dirid.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tdir));
	tdfd = open(tdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(tdfd, 0);
}

static void teardown(void)
{
	char cmd[128];

	dirid_ctx_free(ctx);
	close(tdfd);
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *name, const void *data, size_t n)
{
	int fd = openat(tdfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static ssize_t get(const char *name, void *buf, size_t n)
{
	int fd = openat(tdfd, name, O_RDONLY);
	ssize_t r;

	ck_assert_int_ge(fd, 0);
	r = read(fd, buf, n);
	close(fd);
	return r;
}

static int entries(void)
{
	int n = 0, fd = dup(tdfd);
	DIR *d = fdopendir(fd);
	struct dirent *e;

	ck_assert_ptr_nonnull(d);
	rewinddir(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Names key 64 x 0x33, ID 01 00.., parent 02 00.., the pinned name of
 * check_names.c; tag = HMAC-SHA256(HKDF(names key, no salt, "atrestfs
 * dirid"), "atrestfs dirid" || ID || parent || name). */
START_TEST(binding_known_answer)
{
	static const char sub_tag[] =
		"46c037a51779ce22605e8455de7fd3d3b76f8281efd43e46657d3c56b9bf4895";
	static const char root_tag[] =
		"dd8de6aef6fe3c91a471f9ce9fd29b7738289cc9aed632460d4b634b11e639c5";
	const struct dirid_place sub = { pa, "BhIRQ_ntBJePBLgHQES1d8p34xO_kOVT" };
	uint8_t file[48] = { 1 }, id[16], *t;

	t = hex(sub_tag, NULL);
	memcpy(file + 16, t, 32);
	free(t);
	put(NAMES_DIRID_FILE, file, sizeof(file));
	ck_assert_int_eq(dirid_read(ctx, tdfd, &sub, id), 0);
	ck_assert(!memcmp(id, file, 16));
	ck_assert_int_eq(dirid_read(ctx, tdfd, &top, id), -EBADMSG);
	t = hex(root_tag, NULL);
	memcpy(file + 16, t, 32);
	free(t);
	put(NAMES_DIRID_FILE, file, sizeof(file));
	ck_assert_int_eq(dirid_read(ctx, tdfd, &top, id), 0);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &sub, id), -EBADMSG);
}
END_TEST

START_TEST(create_and_read)
{
	const struct dirid_place here = { pa, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	uint8_t id[16], id2[16], zero[16] = { 0 };
	struct stat st;
	mode_t old = umask(077);

	ck_assert_int_eq(dirid_read(ctx, tdfd, &here, id), -ENOENT);
	memset(id, 0, sizeof(id));
	ck_assert_int_eq(dirid_create(ctx, tdfd, &here, id), 0);
	umask(old);
	ck_assert(memcmp(id, zero, 16)); /* random, not left empty */
	ck_assert_int_eq(fstatat(tdfd, NAMES_DIRID_FILE, &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_size, DIRID_FILE_LEN);
	ck_assert_int_eq(st.st_mode & 07777, 0444); /* whatever the umask */
	ck_assert_int_eq(entries(), 1);             /* no temp file left */
	ck_assert_int_eq(dirid_read(ctx, tdfd, &here, id2), 0);
	ck_assert(!memcmp(id, id2, 16));
	/* An existing ID is never replaced, and the output is untouched. */
	memset(id2, 0xee, sizeof(id2));
	ck_assert_int_eq(dirid_create(ctx, tdfd, &here, id2), -EEXIST);
	ck_assert_int_eq(id2[0], 0xee);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &here, id2), 0);
	ck_assert(!memcmp(id, id2, 16));
}
END_TEST

/* The same bytes under another parent, another name, or as the root. */
START_TEST(bound_elsewhere_refused)
{
	const struct dirid_place here = { pa, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	const struct dirid_place other_parent = { pb, here.enc };
	const struct dirid_place other_name = { pa, "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	uint8_t id[16], got[16];
	uint8_t file[DIRID_FILE_LEN];

	ck_assert_int_eq(dirid_create(ctx, tdfd, &here, id), 0);
	memset(got, 0, 16);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &other_parent, got), -EBADMSG);
	ck_assert(!memcmp(got, id, 16)); /* handed out for repair only */
	ck_assert_int_eq(dirid_read(ctx, tdfd, &other_name, got), -EBADMSG);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &top, got), -EBADMSG);
	/* Another key: nothing verifies. */
	{
		struct dirid_ctx *c2;
		uint8_t k2[64];

		memset(k2, 0x34, sizeof(k2));
		ck_assert_int_eq(dirid_ctx_new(k2, &c2), 0);
		ck_assert_int_eq(dirid_read(c2, tdfd, &here, got), -EBADMSG);
		dirid_ctx_free(c2);
	}
	/* A flipped bit anywhere: ID or tag. */
	ck_assert_int_eq(get(NAMES_DIRID_FILE, file, sizeof(file)), (ssize_t)sizeof(file));
	for (size_t i = 0; i < sizeof(file); i += 7) {
		file[i] ^= 1;
		ck_assert_int_eq(unlinkat(tdfd, NAMES_DIRID_FILE, 0), 0);
		put(NAMES_DIRID_FILE, file, sizeof(file));
		ck_assert_msg(dirid_read(ctx, tdfd, &here, got) == -EBADMSG, "flip at %zu", i);
		file[i] ^= 1;
	}
}
END_TEST

/* A rename: both places, then the new one only. */
START_TEST(rebind_two_steps)
{
	const struct dirid_place from = { pa, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	const struct dirid_place to = { pb, "CAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	uint8_t id[16], got[16];
	struct stat st;

	ck_assert_int_eq(dirid_create(ctx, tdfd, &from, id), 0);
	ck_assert_int_eq(dirid_rebind(ctx, tdfd, id, &from, &to), 0);
	ck_assert_int_eq(fstatat(tdfd, NAMES_DIRID_FILE, &st, 0), 0);
	ck_assert_int_eq(st.st_size, DIRID_FILE_MAX);
	ck_assert_int_eq(st.st_mode & 07777, 0444);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &from, got), 0);
	ck_assert(!memcmp(got, id, 16));
	ck_assert_int_eq(dirid_read(ctx, tdfd, &to, got), 0);
	ck_assert_int_eq(dirid_rebind(ctx, tdfd, id, &to, NULL), 0);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &to, got), 0);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &from, got), -EBADMSG);
	ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(crash_leftover)
{
	uint8_t id[16], id2[16];

	/* A temp file left by a crash does not block creation. */
	put(NAMES_DIRID_FILE ".tmp", "junk", 4);
	ck_assert_int_eq(dirid_create(ctx, tdfd, &top, id), 0);
	ck_assert_int_eq(entries(), 1);
	ck_assert_int_eq(unlinkat(tdfd, NAMES_DIRID_FILE, 0), 0);
	ck_assert_int_eq(dirid_create(ctx, tdfd, &top, id2), 0);
	ck_assert(memcmp(id, id2, 16)); /* a fresh ID each time */
}
END_TEST

START_TEST(malformed_files)
{
	static const size_t sizes[] = { 0, 1, 16, 17, 47, 49, 79, 81, 4096 };
	uint8_t buf[4096] = { 0 }, id[16], before[16];

	memset(before, 0x5a, sizeof(before));
	for (size_t i = 0; i < N(sizes); i++) {
		put(NAMES_DIRID_FILE, buf, sizes[i]);
		memcpy(id, before, 16);
		ck_assert_msg(dirid_read(ctx, tdfd, &top, id) == -EIO,
			      "%zu-byte file accepted", sizes[i]);
		ck_assert(!memcmp(id, before, 16));
		/* ...and dirid_create still refuses to replace it. */
		ck_assert_int_eq(dirid_create(ctx, tdfd, &top, id), -EEXIST);
	}
	ck_assert_int_eq(unlinkat(tdfd, NAMES_DIRID_FILE, 0), 0);
	/* Planted non-files under the name: directory, symlink, FIFO. */
	ck_assert_int_eq(mkdirat(tdfd, NAMES_DIRID_FILE, 0700), 0);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &top, id), -EIO);
	ck_assert_int_eq(unlinkat(tdfd, NAMES_DIRID_FILE, AT_REMOVEDIR), 0);
	put("real", buf, 48);
	ck_assert_int_eq(symlinkat("real", tdfd, NAMES_DIRID_FILE), 0);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &top, id), -EIO);
	ck_assert_int_eq(dirid_create(ctx, tdfd, &top, id), -EEXIST);
	ck_assert_int_eq(unlinkat(tdfd, NAMES_DIRID_FILE, 0), 0);
	ck_assert_int_eq(mkfifoat(tdfd, NAMES_DIRID_FILE, 0600), 0);
	ck_assert_int_eq(dirid_read(ctx, tdfd, &top, id), -EIO); /* no hang */
	ck_assert_int_eq(unlinkat(tdfd, NAMES_DIRID_FILE, 0), 0);
}
END_TEST

START_TEST(mkdir_binds_and_never_replaces)
{
	const struct dirid_place place = { pa, "DAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	uint8_t id[16], got[16];
	int fd;

	ck_assert_int_eq(dirid_mkdir(ctx, tdfd, "d", &place, 0700, id), 0);
	fd = openat(tdfd, "d", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(dirid_read(ctx, fd, &place, got), 0);
	ck_assert(!memcmp(got, id, 16));
	close(fd);
	ck_assert_int_eq(dirid_mkdir(ctx, tdfd, "d", &place, 0700, id), -EEXIST);
	ck_assert_int_eq(entries(), 1); /* no hidden temporary directory */
}
END_TEST

/* A .name file must hash to its entry; another entry's text is refused. */
START_TEST(long_name_files)
{
	char a[NAMES_ENC_MAX + 1], b[NAMES_ENC_MAX + 1], ea[NAME_MAX + 1],
		got[NAMES_ENC_MAX + 1], path[NAME_MAX + 1];
	uint8_t buf[NAMES_ENC_MAX + 1];
	bool made;

	memset(a, 'A', 300);
	a[300] = '\0';
	memset(b, 'B', 300);
	b[300] = '\0';
	ck_assert_int_eq(names_long_entry(a, ea), 0);
	ck_assert_int_eq(longname_read(tdfd, ea, got), -ENOENT);
	ck_assert_int_eq(longname_write(tdfd, ea, a, &made), 0);
	ck_assert(made);
	ck_assert_int_eq(longname_write(tdfd, ea, a, &made), 0);
	ck_assert(!made);
	ck_assert_int_eq(longname_read(tdfd, ea, got), 0);
	ck_assert_str_eq(got, a);
	/* b's text under a's entry: refused, and a write puts it right. */
	longname_file(ea, path);
	ck_assert_int_eq(unlinkat(tdfd, path, 0), 0);
	put(path, b, strlen(b));
	ck_assert_int_eq(longname_read(tdfd, ea, got), -EBADMSG);
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(longname_write(tdfd, ea, a, &made), 0);
	ck_assert_int_eq(longname_read(tdfd, ea, got), 0);
	/* Too short, too long, not a file. */
	ck_assert_int_eq(unlinkat(tdfd, path, 0), 0);
	put(path, a, 200);
	ck_assert_int_eq(longname_read(tdfd, ea, got), -EIO);
	memset(buf, 'A', sizeof(buf));
	put(path, buf, sizeof(buf));
	ck_assert_int_eq(longname_read(tdfd, ea, got), -EIO);
	ck_assert_int_eq(unlinkat(tdfd, path, 0), 0);
	ck_assert_int_eq(mkfifoat(tdfd, path, 0600), 0);
	ck_assert_int_eq(longname_read(tdfd, ea, got), -EIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dirid");

	ADD_FIXTURE_TEST(s, binding_known_answer, setup, teardown);
	ADD_FIXTURE_TEST(s, create_and_read, setup, teardown);
	ADD_FIXTURE_TEST(s, bound_elsewhere_refused, setup, teardown);
	ADD_FIXTURE_TEST(s, rebind_two_steps, setup, teardown);
	ADD_FIXTURE_TEST(s, crash_leftover, setup, teardown);
	ADD_FIXTURE_TEST(s, malformed_files, setup, teardown);
	ADD_FIXTURE_TEST(s, mkdir_binds_and_never_replaces, setup, teardown);
	ADD_FIXTURE_TEST(s, long_name_files, setup, teardown);
	return run_suite(s);
}
