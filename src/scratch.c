// SPDX-License-Identifier: GPL-2.0-or-later
/* Per-thread scratch buffers: a pthread key whose destructor frees them. */
#include "scratch.h"

#include <pthread.h>
#include <stdlib.h>

struct scratch {
	uint8_t *p[SCRATCH_SLOTS];
	size_t len[SCRATCH_SLOTS];
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void free_buffers(void *v)
{
	struct scratch *b = v;

	for (int i = 0; i < SCRATCH_SLOTS; i++)
		free(b->p[i]);
	free(b);
}

static void make_key(void)
{
	pthread_key_create(&key, free_buffers);
}

uint8_t *scratch_get(enum scratch_slot slot, size_t size)
{
	struct scratch *b;

	pthread_once(&once, make_key);
	b = pthread_getspecific(key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		pthread_setspecific(key, b);
	}
	if (b->len[slot] < size) {
		uint8_t *n = realloc(b->p[slot], size);
		if (!n)
			return NULL;
		b->p[slot] = n;
		b->len[slot] = size;
	}
	return b->p[slot];
}
