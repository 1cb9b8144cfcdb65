// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `atrestfs status` without a daemon: the mountinfo reader (escapes,
 * lines that do not parse), the counters (block arithmetic, threads that
 * come and go, the failure record), and the client's checks of a reply
 * (every malformed or hostile variant refused with a reason).
 */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"
#include "mountinfo.h"
#include "stats.h"
#include "status.h"
#include "status_cli.h"

struct seen {
	int n;
	struct mountinfo_entry e[8];
};

static int keep(const struct mountinfo_entry *e, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->e[s->n++] = *e;
	return 0;
}

START_TEST(mountinfo_lines)
{
	char path[] = "/tmp/check_status.XXXXXX";
	int fd = mkstemp(path);
	static const char text[] =
		"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
		"40 27 0:45 / /mnt/a\\040b\\134c rw,nosuid shared:1 - fuse.atrestfs "
		"/vol\\040x rw,user_id=0\n"
		"garbage without a separator\n"
		"41 27 x:1 / /bad rw - fuse.atrestfs /v rw\n"
		"42 27 0:46 / /short\n"
		"43 27 0:47 / /mnt/b rw - atrestfs /v2 rw\n";
	struct seen s = { 0 };

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1),
			 (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(mountinfo_each(path, keep, &s), 0);
	unlink(path);
	ck_assert_int_eq(s.n, 3); /* the three well-formed lines */
	ck_assert_str_eq(s.e[1].mnt, "/mnt/a b\\c");
	ck_assert_str_eq(s.e[1].source, "/vol x");
	ck_assert_uint_eq(s.e[1].major, 0);
	ck_assert_uint_eq(s.e[1].minor, 45);
	ck_assert(mountinfo_is_atrestfs(&s.e[1]));
	ck_assert(mountinfo_is_atrestfs(&s.e[2]));
	ck_assert(!mountinfo_is_atrestfs(&s.e[0]));
	ck_assert_int_lt(mountinfo_each("/nonexistent/x", keep, &s), 0);
}
END_TEST

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		stats_add(STATS_OPEN_FILES, 1);
	return NULL;
}

START_TEST(counters)
{
	int64_t v[STATS_N];
	pthread_t t[4];

	stats_io(STATS_BYTES_READ, 0, 4096);	     /* one block */
	stats_io(STATS_BYTES_READ, 4095, 2);	     /* two blocks */
	stats_io(STATS_BYTES_READ, 8192, 0);	     /* nothing */
	stats_io(STATS_BYTES_WRITTEN, 100, 10000);   /* blocks 0..2 */
	stats_add(STATS_INODES, 2);
	stats_add(STATS_INODES, -1);
	/* Threads that exit: their counts are kept. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	stats_snapshot(v);
	ck_assert_int_eq(v[STATS_BYTES_READ], 4098);
	ck_assert_int_eq(v[STATS_BLOCKS_READ], 3);
	ck_assert_int_eq(v[STATS_BYTES_WRITTEN], 10000);
	ck_assert_int_eq(v[STATS_BLOCKS_WRITTEN], 3);
	ck_assert_int_eq(v[STATS_INODES], 1);
	ck_assert_int_eq(v[STATS_OPEN_FILES], 4000);
}
END_TEST

START_TEST(failures)
{
	struct stats_failures *f = malloc(sizeof(*f));
	char path[] = "/tmp/check_status.XXXXXX";
	int fd = mkstemp(path);

	stats_failures(f);
	ck_assert_uint_eq(f->count, 0);
	stats_auth_failure(fd);
	stats_auth_failure(-1); /* unknown file: counted, path empty */
	stats_failures(f);
	ck_assert_uint_eq(f->count, 2);
	ck_assert_str_eq(f->path, "");
	ck_assert_int_gt(f->last, 0);
	stats_auth_failure(fd);
	stats_failures(f);
	ck_assert_str_eq(f->path, path);
	close(fd);
	unlink(path);
	free(f);
}
END_TEST

#define GOOD                                                                   \
	"{\"version\":1,\"pid\":42,\"volume\":\"/v\",\"mountpoint\":\"/m\","  \
	"\"uuid\":\"6f1c2a4e-0b7d-4c59-9a3e-2d1f8b7c6e5a\",\"format\":2,"      \
	"\"encrypted\":true,\"key_source\":{\"type\":\"tpm2\",\"pcrs\":[7]},"  \
	"\"mounted_since\":1,\"bytes_read\":2,\"bytes_written\":3,"            \
	"\"blocks_read\":1,\"blocks_written\":1,\"auth_failures\":1,"          \
	"\"last_auth_failure\":{\"path\":\"/a\\\\x0ab\",\"path_kind\":"        \
	"\"mount\",\"time\":5},\"open_files\":0,\"cached_inodes\":3,"          \
	"\"kms_recheck\":{\"state\":\"revoked\",\"since\":4,"                  \
	"\"last_check\":null,\"interval\":60}}\n"

static json_t *parse(const char *s, char *why)
{
	return status_cli_parse_reply(s, strlen(s), "/mnt/x\ny", why, 256);
}

START_TEST(reply_good)
{
	char why[256];
	json_t *o = parse(GOOD, why);

	ck_assert_ptr_nonnull(o);
	/* the mount point comes from the mount table, escaped */
	ck_assert_str_eq(json_string_value(json_object_get(o, "mountpoint")),
			 "/mnt/x\\x0ay");
	ck_assert_int_eq(json_integer_value(json_object_get(o, "pid")), 42);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(o, "kms_recheck"), "state")),
			 "revoked");
	json_decref(o);
}
END_TEST

/* GOOD with the first @p from replaced by @p to. */
static char *variant(const char *from, const char *to)
{
	const char *at = strstr(GOOD, from);
	char *s;

	ck_assert_ptr_nonnull(at);
	s = malloc(strlen(GOOD) + strlen(to) + 1);
	sprintf(s, "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
	return s;
}

START_TEST(reply_bad)
{
	static const char *const swaps[][2] = {
		{ "\"version\":1", "\"version\":2" },
		{ "\"pid\":42", "\"pid\":-1" },
		{ "\"pid\":42", "\"pid\":\"42\"" },
		{ "\"volume\":\"/v\"", "\"volume\":\"/v\\u001b[31m\"" },
		{ "\"volume\":\"/v\"", "\"volume\":\"/v\\u00e9\"" },
		{ "\"volume\":\"/v\",", "" },
		{ "\"encrypted\":true", "\"encrypted\":1" },
		{ "\"type\":\"tpm2\"", "\"type\":7" },
		{ "[7]", "[\"x\"]" },
		{ "[7]", "{}" },
		{ "\"path_kind\":\"mount\"", "\"path_kind\":\"other\"" },
		{ "\"state\":\"revoked\"", "\"state\":\"fine\"" },
		{ "\"last_check\":null", "\"last_check\":-5" },
		{ "\"kms_recheck\":{", "\"kms_recheck\":[{" },
		{ "\"uuid\":", "\"pid\":1,\"uuid\":" }, /* a duplicate key */
		{ "}\n", "" },			     /* cut short */
		{ "}\n", "}" },			     /* no newline */
	};
	char why[256];

	for (size_t i = 0; i < sizeof(swaps) / sizeof(swaps[0]); i++) {
		char *s = variant(swaps[i][0], swaps[i][1]);
		json_t *o = parse(s, why);

		ck_assert_msg(!o, "variant %zu accepted", i);
		ck_assert_msg(strstr(why, "malformed") || strstr(why, "not answering"),
			      "variant %zu: %s", i, why);
		free(s);
	}
	ck_assert_ptr_null(parse("", why));
	ck_assert_ptr_null(parse("not json\n", why));
	ck_assert_ptr_null(parse("{\"error\": \"permission denied\"}\n", why));
	ck_assert_str_eq(why, "the daemon refused: permission denied");
	/* an error text that is not printable is not repeated */
	ck_assert_ptr_null(parse("{\"error\": \"\\u001b]0;x\"}\n", why));
	ck_assert_str_eq(why, "the daemon's reply is malformed");
}
END_TEST

START_TEST(reply_oversized)
{
	size_t n = STATUS_REPLY_MAX + 2;
	char *big = malloc(n), why[256];

	memset(big, ' ', n);
	big[n - 1] = '\n';
	ck_assert_ptr_null(status_cli_parse_reply(big, n, "/m", why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "oversized"));
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");

	ADD_TEST(s, mountinfo_lines);
	ADD_TEST(s, counters);
	ADD_TEST(s, failures);
	ADD_TEST(s, reply_good);
	ADD_TEST(s, reply_bad);
	ADD_TEST(s, reply_oversized);
	return run_suite(s);
}
