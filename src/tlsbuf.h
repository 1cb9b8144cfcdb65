/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-thread scratch buffers for the FUSE request path: grown to the
 * largest request a thread has seen, reused for every later one, freed when
 * the thread ends. One slot per use that can be live at the same time.
 */
#ifndef ATRESTFS_TLSBUF_H
#define ATRESTFS_TLSBUF_H

#include <stddef.h>
#include <stdint.h>

enum tlsbuf_slot {
	TLSBUF_CIPHER, /* content.c: a request's ciphertext blocks */
	TLSBUF_REPLY,  /* fs_ops.c: a read's plaintext reply */
	TLSBUF_JOURNAL, /* content.c: one journal record */
	TLSBUF_SLOTS,
};

/** The calling thread's buffer @p slot, at least @p size bytes; NULL if OOM. */
uint8_t *tlsbuf_get(enum tlsbuf_slot slot, size_t size);

#endif
