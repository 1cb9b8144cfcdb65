// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * secmem: allocations are zeroed, locked memory that is wiped on free;
 * small ones (per-file keys) share pool chunks, so that many of them cost
 * few mappings (vm.max_map_count caps mappings, not allocations).
 */
#include "testutil.h"
#include "secmem.h"

#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_BUILD 1
#endif
#endif

/* Lines of /proc/self/maps: the process's number of mappings. */
static int mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

START_TEST(many_small_few_mappings)
{
	enum { N = 20000 };
	uint8_t **k = calloc(N, sizeof(*k));
	int before = mappings(), after;

	for (int i = 0; i < N; i++) {
		k[i] = secmem_alloc(64);
		ck_assert_ptr_nonnull(k[i]);
		ck_assert(all_zero(k[i], 64));
		memset(k[i], 0xa5, 64);
	}
	after = mappings();
	/* One mapping each would be 20,000 (or ENOMEM at max_map_count). */
	ck_assert_int_lt(after - before, N / 100);
	for (int i = 1; i < N; i++)
		ck_assert_ptr_ne(k[i], k[i - 1]);
	for (int i = 0; i < N; i++)
		secmem_free(k[i]);
	free(k);
}
END_TEST

START_TEST(freed_slot_is_wiped_and_reused)
{
	uint8_t *a = secmem_alloc(96), *b;

	ck_assert_ptr_nonnull(a);
	memset(a, 0x5a, 96);
	secmem_free(a);
	/* The slot stays mapped in the pool: what it held must be gone. */
	ck_assert(all_zero(a, 96));
	b = secmem_alloc(32);
	ck_assert_ptr_eq(b, a); /* the last freed slot comes back first */
	ck_assert(all_zero(b, 96));
	secmem_free(b);
}
END_TEST

START_TEST(large_allocation_is_its_own_mapping)
{
	int before = mappings();
	uint8_t *p = secmem_alloc(16384);

	ck_assert_ptr_nonnull(p);
	ck_assert(all_zero(p, 16384));
	memset(p, 1, 16384);
	ck_assert_int_ge(mappings(), before); /* may merge with a neighbour */
	secmem_free(p);
	p = secmem_alloc(97); /* just past the slot size: a mapping too */
	ck_assert_ptr_nonnull(p);
	ck_assert(all_zero(p, 97));
	secmem_free(p);
	secmem_free(NULL);
}
END_TEST

START_TEST(slots_are_locked)
{
	uint8_t *p = secmem_alloc(64);
	unsigned char vec;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f;
	char line[256];
	long locked = -1;

	ck_assert_ptr_nonnull(p);
	/* Resident (mincore) and counted in VmLck, unless RLIMIT_MEMLOCK
	 * refused the lock (tolerated by design: then VmLck stays 0). */
	ck_assert_int_eq(mincore((void *)((uintptr_t)p / page * page), 1, &vec), 0);
	ck_assert(vec & 1);
	f = fopen("/proc/self/status", "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmLck:", 6))
			locked = strtol(line + 6, NULL, 10);
	fclose(f);
	ck_assert_int_ge(locked, 0);
#ifndef ASAN_BUILD /* AddressSanitizer makes mlock() a no-op */
	if (geteuid() == 0)
		ck_assert_int_gt(locked, 0);
#endif
	secmem_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secmem");

	ADD_TEST(s, many_small_few_mappings);
	ADD_TEST(s, freed_slot_is_wiped_and_reused);
	ADD_TEST(s, large_allocation_is_its_own_mapping);
	ADD_TEST(s, slots_are_locked);
	return run_suite(s);
}
