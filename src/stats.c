// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Counters with per-thread slots. A FUSE worker thread increments only
 * its own slot (a relaxed load and store: the owner is the only writer,
 * so no atomic read-modify-write and no cache line shared with other
 * workers); a status query takes the list lock and sums every slot with
 * relaxed loads. When a worker thread exits (libfuse retires idle ones)
 * its slot is folded into the totals of retired threads.
 */
#include "stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct slot {
	int64_t v[STATS_N];
	struct slot *next; /* protected by lock */
} __attribute__((aligned(64)));

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot *slots;	  /* protected by lock */
static int64_t retired[STATS_N]; /* protected by lock */
static struct stats_failures fails; /* protected by lock */
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static __thread struct slot *mine;
/* A thread that could not get a slot counts here, atomically. */
static int64_t fallback[STATS_N];

static void slot_retire(void *arg)
{
	struct slot *s = arg, **pp;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < STATS_N; i++)
		retired[i] += s->v[i];
	for (pp = &slots; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	free(s);
}

static void key_make(void)
{
	pthread_key_create(&key, slot_retire);
}

static struct slot *slot_get(void)
{
	struct slot *s;

	pthread_once(&key_once, key_make);
	s = aligned_alloc(64, sizeof(*s));
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&lock);
	s->next = slots;
	slots = s;
	pthread_mutex_unlock(&lock);
	pthread_setspecific(key, s);
	return s;
}

void stats_add(enum stats_counter c, int64_t n)
{
	struct slot *s = mine;

	if (__builtin_expect(!s, 0)) {
		s = mine = slot_get();
		if (!s) {
			__atomic_fetch_add(&fallback[c], n, __ATOMIC_RELAXED);
			return;
		}
	}
	__atomic_store_n(&s->v[c], s->v[c] + n, __ATOMIC_RELAXED);
}

void stats_io(enum stats_counter bytes, off_t off, size_t n)
{
	if (!n)
		return;
	stats_add(bytes, (int64_t)n);
	stats_add(bytes + (STATS_BLOCKS_READ - STATS_BYTES_READ),
		  (int64_t)((off + (off_t)n - 1) / STATS_BLOCK -
			    off / STATS_BLOCK + 1));
}

void stats_snapshot(int64_t out[STATS_N])
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < STATS_N; i++) {
		out[i] = retired[i] +
			 __atomic_load_n(&fallback[i], __ATOMIC_RELAXED);
		for (struct slot *s = slots; s; s = s->next)
			out[i] += __atomic_load_n(&s->v[i], __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&lock);
}

void stats_auth_failure(int fd)
{
	char proc[64], path[PATH_MAX];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = fd >= 0 ? readlink(proc, path, sizeof(path) - 1) : -1;
	path[n > 0 ? n : 0] = '\0';
	pthread_mutex_lock(&lock);
	fails.count++;
	fails.last = time(NULL);
	memcpy(fails.path, path, (size_t)(n > 0 ? n : 0) + 1);
	pthread_mutex_unlock(&lock);
}

void stats_failures(struct stats_failures *out)
{
	pthread_mutex_lock(&lock);
	*out = fails;
	pthread_mutex_unlock(&lock);
}
