// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * revoke.c's decisions: the mount options (strict), which key-source
 * errors mean "revoked" and which only "unreachable", and the grace rule
 * that turns a series of reports into the verdict the daemon acts on.
 */
#include <errno.h>
#include <stdio.h>

#include "testutil.h"
#include "revoke.h"

START_TEST(options)
{
	struct revoke_opts o;

	ck_assert_int_eq(revoke_parse_opts(NULL, NULL, NULL, &o), 0);
	ck_assert_uint_eq(o.interval, 0); /* off by default */
	ck_assert_int_eq(revoke_parse_opts("60", NULL, NULL, &o), 0);
	ck_assert_uint_eq(o.interval, 60);
	ck_assert_uint_eq(o.grace, 60 * REVOKE_GRACE_INTERVALS);
	ck_assert(!o.deny_all);
	ck_assert_int_eq(revoke_parse_opts("1", "0", "deny_all", &o), 0);
	ck_assert_uint_eq(o.grace, 0);
	ck_assert(o.deny_all);
	ck_assert_int_eq(revoke_parse_opts("1", NULL, "deny_writes", &o), 0);
	ck_assert(!o.deny_all);
	ck_assert_int_eq(revoke_parse_opts("86400", "86400", NULL, &o), 0);
}
END_TEST

START_TEST(bad_options)
{
	static const char *const bad[][3] = {
		{ "0", NULL, NULL },	  { "", NULL, NULL },
		{ "-1", NULL, NULL },	  { " 5", NULL, NULL },
		{ "+5", NULL, NULL },	  { "5s", NULL, NULL },
		{ "86401", NULL, NULL },  { "99999999999999999999", NULL, NULL },
		{ "5", "x", NULL },	  { "5", "-1", NULL },
		{ "5", NULL, "deny" },	  { "5", NULL, "" },
		{ NULL, "5", NULL },	  { NULL, NULL, "deny_all" },
	};
	struct revoke_opts o;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(revoke_parse_opts(bad[i][0], bad[i][1], bad[i][2],
						&o) == -EINVAL,
			      "case %zu accepted", i);
}
END_TEST

START_TEST(classify)
{
	ck_assert_int_eq(revoke_classify(0), REVOKE_ALLOWED);
	ck_assert_int_eq(revoke_classify(-EKEYREVOKED), REVOKE_REVOKED);
	ck_assert_int_eq(revoke_classify(-ENOENT), REVOKE_REVOKED);
	ck_assert_int_eq(revoke_classify(-EACCES), REVOKE_REVOKED);
	ck_assert_int_eq(revoke_classify(-EKEYREJECTED), REVOKE_REVOKED);
	ck_assert_int_eq(revoke_classify(-EAGAIN), REVOKE_UNREACHABLE);
	ck_assert_int_eq(revoke_classify(-EHOSTUNREACH), REVOKE_UNREACHABLE);
	ck_assert_int_eq(revoke_classify(-ECONNREFUSED), REVOKE_UNREACHABLE);
	ck_assert_int_eq(revoke_classify(-ETIMEDOUT), REVOKE_UNREACHABLE);
	ck_assert_int_eq(revoke_classify(-EPROTO), REVOKE_UNREACHABLE);
}
END_TEST

START_TEST(grace)
{
	double last = 100;

	/* unreachable within the grace: nothing changes */
	ck_assert(!revoke_judge(REVOKE_UNREACHABLE, 105, &last, 10, false));
	ck_assert(!revoke_judge(REVOKE_UNREACHABLE, 110, &last, 10, false));
	/* past it: revoked */
	ck_assert(revoke_judge(REVOKE_UNREACHABLE, 110.5, &last, 10, false));
	/* allowed again resets the clock */
	ck_assert(!revoke_judge(REVOKE_ALLOWED, 120, &last, 10, true));
	ck_assert(last == 120);
	ck_assert(!revoke_judge(REVOKE_UNREACHABLE, 125, &last, 10, false));
	/* revoked at once, and unreachable then keeps it revoked */
	ck_assert(revoke_judge(REVOKE_REVOKED, 126, &last, 10, false));
	ck_assert(revoke_judge(REVOKE_UNREACHABLE, 127, &last, 10, true));
	ck_assert(last == 120);
	/* grace 0: the first unreachable after an allowed one counts */
	ck_assert(revoke_judge(REVOKE_UNREACHABLE, 120.01, &last, 0, false));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("revoke");

	/* the refusals print their reasons; keep the test output short */
	if (!freopen("/dev/null", "w", stderr))
		return 1;
	ADD_TEST(s, options);
	ADD_TEST(s, bad_options);
	ADD_TEST(s, classify);
	ADD_TEST(s, grace);
	return run_suite(s);
}
