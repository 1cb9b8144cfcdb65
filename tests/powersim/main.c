// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * powersim: a power-loss simulator for testing what a filesystem's users
 * (here atrestfs) leave on disk when the power goes.
 *
 *   powersim record BACKING MOUNTPOINT TRACE
 *       serve the empty directory BACKING at MOUNTPOINT (foreground, until
 *       unmounted), recording every change into TRACE
 *   powersim info TRACE
 *       one line per record: index, completion time (CLOCK_MONOTONIC ns),
 *       operation letter, file id, offset, length, mode, path, second path
 *   powersim materialize TRACE OUTDIR --cut N [--policy P] [--seed S]
 *       build in OUTDIR (must not exist) the tree a power cut after the
 *       first N records leaves; P is keep, drop, tear-last or random
 *       (default); N may be "end"
 */
#include "materialize.h"
#include "simfs.h"
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
	fprintf(stderr,
		"usage: powersim record BACKING MOUNTPOINT TRACE\n"
		"       powersim info TRACE\n"
		"       powersim materialize TRACE OUTDIR --cut N|end "
		"[--policy keep|drop|tear-last|random] [--seed S]\n");
	return 2;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

static int cmd_info(const char *file)
{
	struct trace t;

	if (trace_load(file, &t))
		return 1;
	for (size_t i = 0; i < t.n; i++) {
		const struct trace_rec *r = t.ent[i].rec;
		printf("%zu\t%" PRIu64 "\t%c\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
		       "\t%" PRIu32 "\t%s\t%s\n", i, r->t_ns, (char)r->op, r->id, r->off,
		       r->op == TR_WRITE ? (uint64_t)r->dlen : r->len, r->mode,
		       t.ent[i].path, t.ent[i].p2);
	}
	trace_free(&t);
	return 0;
}

static int cmd_materialize(int argc, char **argv)
{
	enum mat_policy policy = MAT_RANDOM;
	uint64_t seed = 1, cut = UINT64_MAX;
	int have_cut = 0, r;
	struct trace t;

	for (int i = 2; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		if (!strcmp(argv[i], "--cut")) {
			if (strcmp(v, "end") && parse_u64(v, &cut)) {
				fprintf(stderr, "powersim: bad --cut %s\n", v);
				return 2;
			}
			have_cut = 1;
		} else if (!strcmp(argv[i], "--seed")) {
			if (parse_u64(v, &seed)) {
				fprintf(stderr, "powersim: bad --seed %s\n", v);
				return 2;
			}
		} else if (!strcmp(argv[i], "--policy")) {
			if (!strcmp(v, "keep"))
				policy = MAT_KEEP;
			else if (!strcmp(v, "drop"))
				policy = MAT_DROP;
			else if (!strcmp(v, "tear-last"))
				policy = MAT_TEARLAST;
			else if (!strcmp(v, "random"))
				policy = MAT_RANDOM;
			else {
				fprintf(stderr, "powersim: unknown policy %s\n", v);
				return 2;
			}
		} else {
			return usage();
		}
	}
	if (!have_cut)
		return usage();
	if (trace_load(argv[0], &t))
		return 1;
	r = materialize(&t, cut > t.n ? t.n : (size_t)cut, policy, seed, argv[1]);
	trace_free(&t);
	return r ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "record"))
		return simfs_run(argv[2], argv[3], argv[4]);
	if (argc == 3 && !strcmp(argv[1], "info"))
		return cmd_info(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "materialize"))
		return cmd_materialize(argc - 2, argv + 2);
	return usage();
}
