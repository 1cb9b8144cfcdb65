// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The strict JSON readers: unknown members, missing and mistyped fields,
 * NUL bytes and caps, base64 lengths. And the wiping allocator: free() is
 * wrapped at link time (-Wl,--wrap=free) to look at every block jansson
 * frees through it, which must hold no byte of the secret any more.
 */
#include <errno.h>
#include <malloc.h>

#include "testutil.h"
#include "jsonsafe.h"
#include "log.h"

#define MARK "S3CRET-MARKER-0123456789"

static int watching, frees_seen, marks_seen;

void __real_free(void *p);
void __wrap_free(void *p);
void __wrap_free(void *p)
{
	if (watching && p) {
		size_t n = malloc_usable_size(p);

		frees_seen++;
		if (n >= sizeof(MARK) - 1 && memmem(p, n, MARK, sizeof(MARK) - 1))
			marks_seen++;
	}
	__real_free(p);
}

static const char *const known[] = { "a", "b", NULL };
static const char *const W = "test document";

static json_t *doc(const char *text)
{
	json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);

	ck_assert_ptr_nonnull(j);
	return j;
}

static void quiet(void)
{
	log_set_level(LOG_LVL_NONE);
}

START_TEST(only_keys)
{
	json_t *ok = doc("{\"a\": 1, \"b\": \"x\"}"), *extra = doc("{\"a\": 1, \"c\": 2}");
	json_t *arr = doc("[1]");

	ck_assert_int_eq(jsonsafe_only_keys(ok, known, W), 0);
	ck_assert_int_eq(jsonsafe_only_keys(extra, known, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_only_keys(arr, known, W), -EINVAL);
	json_decref(ok);
	json_decref(extra);
	json_decref(arr);
}
END_TEST

START_TEST(get_str)
{
	json_t *j = doc("{\"s\": \"abc\", \"n\": 5, \"z\": \"a\\u0000b\"}");
	const char *v = NULL;
	char buf[4];

	ck_assert_int_eq(jsonsafe_get_str(j, "s", 4, &v, W), 0);
	ck_assert_str_eq(v, "abc");
	ck_assert_int_eq(jsonsafe_get_str(j, "s", 3, NULL, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_get_str(j, "n", 64, NULL, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_get_str(j, "z", 64, NULL, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_get_str(j, "missing", 64, NULL, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_opt_str(j, "missing", 64, &v, W), 0);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(jsonsafe_opt_str(j, "n", 64, &v, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_copy_str(j, "s", buf, sizeof(buf), W), 0);
	ck_assert_str_eq(buf, "abc");
	json_decref(j);
}
END_TEST

START_TEST(get_b64)
{
	/* "AAEC" = 00 01 02; "AAE=" = 00 01; "A" is not base64 */
	json_t *j = doc("{\"three\": \"AAEC\", \"two\": \"AAE=\", \"bad\": \"A\","
			" \"num\": 1}");
	uint8_t buf[3];

	ck_assert_int_eq(jsonsafe_get_b64(j, "three", buf, 3, 3, W), 3);
	ck_assert_int_eq(buf[2], 2);
	ck_assert_int_eq(jsonsafe_get_b64(j, "two", buf, 1, 3, W), 2);
	ck_assert_int_eq(jsonsafe_get_b64(j, "two", buf, 3, 3, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_get_b64(j, "three", buf, 1, 2, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_get_b64(j, "bad", buf, 0, 3, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_get_b64(j, "num", buf, 0, 3, W), -EINVAL);
	ck_assert_int_eq(jsonsafe_get_b64(j, "missing", buf, 0, 3, W), -EINVAL);
	json_decref(j);
}
END_TEST

START_TEST(allocator_wipes)
{
	json_t *j;

	jsonsafe_install_allocator();
	watching = 1;
	j = json_pack("{s:s}", "Plaintext", MARK MARK);
	json_decref(j);
	watching = 0;
	ck_assert_int_gt(frees_seen, 0);
	ck_assert_int_eq(marks_seen, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonsafe");

	ADD_FIXTURE_TEST(s, only_keys, quiet, NULL);
	ADD_FIXTURE_TEST(s, get_str, quiet, NULL);
	ADD_FIXTURE_TEST(s, get_b64, quiet, NULL);
	ADD_FIXTURE_TEST(s, allocator_wipes, quiet, NULL);
	return run_suite(s);
}
