// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Secure allocations. Each one is a private anonymous mapping, so that
 * mlock() and MADV_DONTDUMP apply to it alone and never to a neighbour on the
 * heap; the size lives in a header in front of the caller's bytes.
 */
#include "secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/*
 * Memory locks are not inherited across fork(), and the daemon forks after
 * the key has been unwrapped (so that a refused mount still fails in the
 * foreground). Live allocations are therefore kept on a list and locked
 * again in the child.
 */
struct secmem_hdr {
	size_t map_len;
	struct secmem_hdr *prev, *next; /* protected by list_lock */
	size_t pad; /* keeps the user area 16-byte aligned */
};

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secmem_hdr *live; /* protected by list_lock */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void relock_in_child(void)
{
	for (struct secmem_hdr *h = live; h; h = h->next)
		(void)mlock(h, h->map_len);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, relock_in_child);
}

__attribute__((noinline)) void secmem_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

void *secmem_alloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len;
	struct secmem_hdr *h;

	if (n > SIZE_MAX - sizeof(*h) - page)
		return NULL;
	len = (n + sizeof(*h) + page - 1) / page * page;
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	/* Ignore failure if over RLIMIT_MEMLOCK: the wipe on free still holds. */
	(void)mlock(h, len);
	(void)madvise(h, len, MADV_DONTDUMP);
	h->map_len = len;
	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&list_lock);
	h->next = live;
	if (live)
		live->prev = h;
	live = h;
	pthread_mutex_unlock(&list_lock);
	return h + 1;
}

void secmem_free(void *p)
{
	struct secmem_hdr *h;
	size_t len;

	if (!p)
		return;
	h = (struct secmem_hdr *)p - 1;
	pthread_mutex_lock(&list_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		live = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&list_lock);
	len = h->map_len;
	secmem_wipe(h, len);
	munlock(h, len);
	munmap(h, len);
}

int secmem_harden_process(void)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -errno;
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return -errno;
	return 0;
}
