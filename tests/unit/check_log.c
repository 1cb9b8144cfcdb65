// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * log_esc(): what a volume config or another untrusted source says is
 * printed on one line, with no byte a terminal or a log reader would act
 * on, and cut to the buffer.
 */
#include "testutil.h"
#include "log.h"

static void ck_esc(const char *in, const char *want)
{
	char buf[64];

	ck_assert_str_eq(log_esc(in, buf, sizeof(buf)), want);
}

START_TEST(plain_text_unchanged)
{
	ck_esc("keyfile:/etc/atrestfs/vol.key", "keyfile:/etc/atrestfs/vol.key");
	ck_esc("", "");
	ck_esc(NULL, "(null)");
}
END_TEST

START_TEST(controls_and_escapes)
{
	ck_esc("a\nb", "a\\x0ab");
	ck_esc("x\r\tb", "x\\x0d\\x09b");
	ck_esc("\x1b[2Jred", "\\x1b[2Jred");
	ck_esc("del\x7f", "del\\x7f");
	ck_esc("csi\xc2\x9b", "csi\\xc2\\x9b"); /* C1 CSI, UTF-8 encoded */
	ck_esc("q\"uote\\", "q\\\"uote\\\\");
}
END_TEST

START_TEST(cut_to_buffer)
{
	char buf[16], big[200];

	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_esc(big, buf, sizeof(buf));
	ck_assert_uint_lt(strlen(buf), sizeof(buf));
	ck_assert_str_eq(buf, "\\x0a\\x0a\\x0a...");
	ck_assert_str_eq(log_esc("abc", buf, 4), "...");
	/* the macro's temporary is big enough for a whole config string */
	memset(big, 'a', sizeof(big) - 1);
	ck_assert_str_eq(LOG_ESC(big), big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");

	ADD_TEST(s, plain_text_unchanged);
	ADD_TEST(s, controls_and_escapes);
	ADD_TEST(s, cut_to_buffer);
	return run_suite(s);
}
