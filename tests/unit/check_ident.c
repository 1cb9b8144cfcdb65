// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Per-thread identity switching: the thread takes the caller's fsuid and
 * fsgid and keeps exactly the capabilities creating needs, another thread
 * of the process is not affected, and restoring gives back the very same
 * identity and capability sets. Needs root (as the daemon does); without
 * it only the refusal is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"
#include "ident.h"
#include "log.h"

#define BIT(c) (1u << (c))

static void caps_now(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };

	ck_assert_int_eq(syscall(SYS_capget, &h, d), 0);
}

static uid_t fsuid_now(void)
{
	return (uid_t)setfsuid((uid_t)-1);
}

static gid_t fsgid_now(void)
{
	return (gid_t)setfsgid((gid_t)-1);
}

START_TEST(become_and_restore)
{
	struct __user_cap_data_struct before[2], during[2], after[2];
	struct ident_saved s;

	if (!ident_available()) {
		ck_assert_int_eq(ident_become(geteuid() + 1, getegid() + 1, &s),
				 -EPERM);
		ck_assert(!s.active);
		return;
	}
	caps_now(before);
	ck_assert_int_eq(ident_become(40001, 40002, &s), 0);
	ck_assert(s.active);
	ck_assert_uint_eq(fsuid_now(), 40001);
	ck_assert_uint_eq(fsgid_now(), 40002);
	caps_now(during);
	/* What creating needs is kept... */
	ck_assert(during[0].effective & BIT(CAP_DAC_OVERRIDE));
	ck_assert(during[0].effective & BIT(CAP_DAC_READ_SEARCH));
	ck_assert(during[0].effective & BIT(CAP_FSETID));
	ck_assert(during[0].effective & BIT(CAP_MKNOD));
	/* ...and what would let it act as an owner is not. */
	ck_assert(!(during[0].effective & BIT(CAP_CHOWN)));
	ck_assert(!(during[0].effective & BIT(CAP_FOWNER)));
	ident_restore(&s);
	ck_assert(!s.active);
	ck_assert_uint_eq(fsuid_now(), 0);
	ck_assert_uint_eq(fsgid_now(), 0);
	caps_now(after);
	ck_assert_mem_eq(before, after, sizeof(before));
}
END_TEST

START_TEST(same_identity_changes_nothing)
{
	struct ident_saved s;

	ck_assert_int_eq(ident_become(fsuid_now(), fsgid_now(), &s), 0);
	ck_assert(!s.active);
	ident_restore(&s); /* a no-op */
	ck_assert_uint_eq(fsuid_now(), geteuid());
}
END_TEST

static pthread_barrier_t barrier;

static void *other_thread(void *arg)
{
	uid_t *seen = arg;

	pthread_barrier_wait(&barrier); /* the main thread has switched */
	*seen = fsuid_now();
	pthread_barrier_wait(&barrier);
	return NULL;
}

/* A thread that already runs keeps its identity (new threads would inherit
 * the switched one: the daemon never creates threads while switched). */
START_TEST(other_threads_unaffected)
{
	struct ident_saved s;
	pthread_t t;
	uid_t seen = 12345;

	if (!ident_available())
		return;
	pthread_barrier_init(&barrier, NULL, 2);
	ck_assert_int_eq(pthread_create(&t, NULL, other_thread, &seen), 0);
	ck_assert_int_eq(ident_become(40001, 40001, &s), 0);
	pthread_barrier_wait(&barrier);
	pthread_barrier_wait(&barrier);
	ident_restore(&s);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&barrier);
	ck_assert_uint_eq(seen, 0);
}
END_TEST

START_TEST(entry_made_as_caller_in_root_only_dir)
{
	char dir[] = "/tmp/check_ident.XXXXXX", path[64];
	struct ident_saved s;
	struct stat st;
	int fd;

	if (!ident_available())
		return;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_eq(ident_become(40001, 40003, &s), 0);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0640);
	ident_restore(&s);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, 40001);
	ck_assert_uint_eq(st.st_gid, 40003);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ident");

	log_set_level(LOG_LVL_NONE);
	ADD_TEST(s, become_and_restore);
	ADD_TEST(s, same_identity_changes_nothing);
	ADD_TEST(s, other_threads_unaffected);
	ADD_TEST(s, entry_made_as_caller_in_root_only_dir);
	return run_suite(s);
}
