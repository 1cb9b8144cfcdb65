/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the Check unit tests: hex decoding and a suite runner. */
#ifndef ATRESTFS_TESTUTIL_H
#define ATRESTFS_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decode a hex string into a malloc()ed buffer; *len gets its length. */
static inline uint8_t *hex(const char *s, size_t *len)
{
	size_t n = strlen(s) / 2;
	uint8_t *b = malloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		b[i] = (uint8_t)v;
	}
	if (len)
		*len = n;
	return b;
}

static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define ADD_TEST(suite, fn)                                                     \
	do {                                                                   \
		TCase *tc_ = tcase_create(#fn);                                \
		tcase_add_test(tc_, fn);                                       \
		tcase_set_timeout(tc_, 60);                                    \
		suite_add_tcase(suite, tc_);                                   \
	} while (0)

/* One TCase per behaviour, with a fixture (setup/teardown may be NULL). */
#define ADD_FIXTURE_TEST(suite, fn, setup, teardown)                           \
	do {                                                                   \
		TCase *tc_ = tcase_create(#fn);                                \
		tcase_add_checked_fixture(tc_, setup, teardown);               \
		tcase_add_test(tc_, fn);                                       \
		tcase_set_timeout(tc_, 60);                                    \
		suite_add_tcase(suite, tc_);                                   \
	} while (0)

#endif
