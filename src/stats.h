/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mounted daemon's counters, for `atrestfs status` (status.h): bytes
 * and blocks read and written, open files, cached inodes, and the
 * authentication failures with the last failing file. The hot path
 * (every read and write request) pays one thread-local add, no lock and
 * no shared cache line: each thread owns a slot that only it writes; a
 * status query sums the slots.
 */
#ifndef ATRESTFS_STATS_H
#define ATRESTFS_STATS_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Plaintext block size the block counters count in (CONTENT_BLOCK). */
#define STATS_BLOCK 4096

enum stats_counter {
	STATS_BYTES_READ,
	STATS_BYTES_WRITTEN,
	STATS_BLOCKS_READ,    /* 4096-byte blocks a read request covered */
	STATS_BLOCKS_WRITTEN, /* 4096-byte blocks a write request covered */
	STATS_OPEN_FILES,     /* open file handles (open/create - release) */
	STATS_INODES,         /* entries in the inode table, root excluded */
	STATS_N
};

/** Add @p n (may be negative for the gauges) to counter @p c. */
void stats_add(enum stats_counter c, int64_t n);

/** A read or write of @p n bytes at @p off: bytes and blocks counted. */
void stats_io(enum stats_counter bytes, off_t off, size_t n);

/** The sums over every thread, past and present. */
void stats_snapshot(int64_t out[STATS_N]);

struct stats_failures {
	uint64_t count;
	time_t last; /* wall clock, 0: none yet */
	char path[PATH_MAX]; /* the last failing backing file, as the
			      * kernel names it ("" when unknown) */
};

/**
 * A block failed authentication in the backing file open at @p fd (the
 * rare path: takes a lock, reads /proc/self/fd/FD).
 */
void stats_auth_failure(int fd);

/** The failure record as it is now. */
void stats_failures(struct stats_failures *out);

#endif
