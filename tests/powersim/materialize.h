/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Turning a trace and a crash point into the directory a power cut leaves. */
#ifndef POWERSIM_MATERIALIZE_H
#define POWERSIM_MATERIALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

enum mat_policy {
	MAT_KEEP,      /* every write before the cut persists (no loss) */
	MAT_DROP,      /* every write since each file's last fsync vanishes */
	MAT_TEARLAST,  /* all persists but the last write, which is torn */
	MAT_RANDOM,    /* per file: a random ordered prefix, the last one torn or not */
};

/**
 * Build in @p outdir (created, must not exist) the tree a power cut leaves
 * when it strikes after the first @p cut records of @p t, under @p policy
 * with the random choices drawn from @p seed. Prints what was kept, torn
 * and dropped on stdout.
 * @return 0 or -errno (with a message).
 */
int materialize(const struct trace *t, size_t cut, enum mat_policy policy,
		uint64_t seed, const char *outdir);

#endif
