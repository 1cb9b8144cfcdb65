/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-thread scratch buffers for the FUSE request path: grown to the
 * largest request a thread has seen, reused for every later one, freed when
 * the thread ends. One slot per use that can be live at the same time.
 */
#ifndef ATRESTFS_SCRATCH_H
#define ATRESTFS_SCRATCH_H

#include <stddef.h>
#include <stdint.h>

enum scratch_slot {
	SCRATCH_CIPHER, /* content.c: a request's ciphertext blocks */
	SCRATCH_REPLY,  /* fs_ops.c: a read's plaintext reply */
	SCRATCH_SLOTS,
};

/** The calling thread's buffer @p slot, at least @p size bytes; NULL if OOM. */
uint8_t *scratch_get(enum scratch_slot slot, size_t size);

#endif
