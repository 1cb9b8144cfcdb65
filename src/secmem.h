/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Memory for secrets: zeroed, mlock()ed (failure tolerated: over the limit
 * we still wipe), excluded from core dumps, and wiped on free.
 */
#ifndef ATRESTFS_SECMEM_H
#define ATRESTFS_SECMEM_H

#include <stddef.h>

/**
 * Allocate @p n bytes of zeroed, locked, non-dumpable memory.
 * @return the memory, or NULL when out of memory.
 */
void *secmem_alloc(size_t n);

/** Wipe and release memory from secmem_alloc(); NULL is allowed. */
void secmem_free(void *p);

/** Wipe @p n bytes in a way the compiler cannot elide. */
void secmem_wipe(void *p, size_t n);

/**
 * Make the whole process unsuitable for leaking keys: not dumpable (no core
 * files, no ptrace by other users) and no core size.
 * @return 0 or a negative errno.
 */
int secmem_harden_process(void);

#endif
