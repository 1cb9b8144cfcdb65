// SPDX-License-Identifier: GPL-2.0-or-later
/* Per-thread scratch buffers: a pthread key whose destructor frees them. */
#include "tlsbuf.h"

#include <pthread.h>
#include <stdlib.h>

struct tlsbuf {
	uint8_t *p[TLSBUF_SLOTS];
	size_t len[TLSBUF_SLOTS];
};

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void tlsbuf_free(void *v)
{
	struct tlsbuf *b = v;

	for (int i = 0; i < TLSBUF_SLOTS; i++)
		free(b->p[i]);
	free(b);
}

static void tlsbuf_init(void)
{
	pthread_key_create(&key, tlsbuf_free);
}

uint8_t *tlsbuf_get(enum tlsbuf_slot slot, size_t size)
{
	struct tlsbuf *b;

	pthread_once(&once, tlsbuf_init);
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
