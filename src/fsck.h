/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * `atrestfs fsck`: an offline check of an encrypted volume (config MAC,
 * every directory ID and its binding, every name and long name, every
 * file's blocks, symlink targets and extended attributes), with an
 * optional repair that cuts torn tails back and moves whatever cannot be
 * read into /lost+found of the volume, never deleting ciphertext.
 */
#ifndef ATRESTFS_FSCK_H
#define ATRESTFS_FSCK_H

#include <stdbool.h>

#include "exitcodes.h" /* FSCK_EXIT_* */


#define FSCK_LOST_FOUND "lost+found"

struct fsck_opts {
	const char *volume;
	const char *key_source; /* type named with --key-source, or NULL */
	const char *key_spec;   /* the whole --key-source SPEC, or NULL */
	bool repair;
	bool json;
	unsigned long progress_every; /* entries between progress lines */
};

/**
 * Check (and with o->repair, repair) the volume o->volume. Refuses a
 * volume that is mounted or locked by another atrestfs process. Problems
 * go to stdout (one line each, or one JSON document with o->json);
 * progress and operational errors to stderr.
 * @return the fsck(8)-style exit code (FSCK_EXIT_* bits, exitcodes.h).
 */
int fsck_run(const struct fsck_opts *o);

#endif
