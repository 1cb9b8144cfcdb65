// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * log_esc(): what a volume config or another untrusted source says is
 * printed on one line, with no byte a terminal or a log reader would act
 * on, and cut to the buffer. The rate limit per call site, and the volume
 * named on every line.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

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

/* Run @p fn with stderr going to a temporary file; its text in @p out. */
static void capture(void (*fn)(void), char *out, size_t n)
{
	char path[] = "/tmp/check_log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	ssize_t got;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	got = pread(fd, out, n - 1, 0);
	close(fd);
	ck_assert_int_ge(got, 0);
	out[got] = '\0';
}

static size_t count(const char *hay, const char *needle)
{
	size_t k = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		k++;
	return k;
}

static void flood(void)
{
	log_set_volume("7c3a1f0e-5b2d-4e8f-9a61-0d4c2b7e9f13");
	log_info("before serving %d", 1); /* not limited yet */
	log_serve();
	for (int i = 0; i < 1000; i++)
		log_warn("block %d failed authentication", i);
	log_err("another site %s", "logs");
	log_flush();
}

/*
 * Once the daemon serves, each call site gets LOG_BURST lines, the rest
 * is counted and reported in one line at the next admitted line or at
 * log_flush(); other sites are not affected; every line names the volume.
 */
START_TEST(flood_is_rate_limited)
{
	static char out[1 << 16];

	capture(flood, out, sizeof(out));
	ck_assert_uint_eq(count(out, "failed authentication\n"), LOG_BURST);
	ck_assert_uint_eq(count(out, "atrestfs: volume 7c3a1f0e-5b2d-4e8f-9a61-0d4c2b7e9f13: "), LOG_BURST + 3);
	ck_assert_ptr_nonnull(strstr(out, "before serving 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "another site logs\n"));
	ck_assert_ptr_nonnull(strstr(out, "990 similar messages suppressed: "
					  "\"block %d failed authentication\"\n"));
}
END_TEST

static void hostile_volume(void)
{
	log_set_volume("x\nforged line");
	log_err("one line");
	log_set_volume(NULL);
	log_err("no volume");
}

START_TEST(volume_prefix_escaped)
{
	char out[1024];

	capture(hostile_volume, out, sizeof(out));
	ck_assert_str_eq(out, "atrestfs: volume x\\x0aforged line: one line\n"
			      "atrestfs: no volume\n");
}
END_TEST

static bool prepared;

static void prepare_fg(void)
{
	prepared = log_daemon_prepare(true);
}

/*
 * Whether the daemon will have somewhere to write: in the foreground its
 * stderr, when that is not /dev/null; when it is, the mount warns (here on
 * that very /dev/null: the verdict is what can be checked).
 */
START_TEST(prepare_says_where)
{
	char out[1024];
	int null = open("/dev/null", O_WRONLY), saved = dup(2);

	capture(prepare_fg, out, sizeof(out));
	ck_assert(prepared);
	ck_assert_str_eq(out, "");
	ck_assert_int_ge(null, 0);
	dup2(null, 2);
	prepared = log_daemon_prepare(true);
	dup2(saved, 2);
	close(null);
	close(saved);
	ck_assert(!prepared);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");

	ADD_TEST(s, plain_text_unchanged);
	ADD_TEST(s, controls_and_escapes);
	ADD_TEST(s, cut_to_buffer);
	ADD_TEST(s, flood_is_rate_limited);
	ADD_TEST(s, volume_prefix_escaped);
	ADD_TEST(s, prepare_says_where);
	return run_suite(s);
}
