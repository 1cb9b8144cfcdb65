// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Secure allocations. Each large one is a private anonymous mapping, so that
 * mlock() and MADV_DONTDUMP apply to it alone and never to a neighbour on the
 * heap; the size lives in a header in front of the caller's bytes. Small
 * ones (keys: every open file has one) are slots in locked, non-dumpable
 * pool chunks of the same kind, so that 100,000 open files cost a few
 * hundred mappings instead of one each (vm.max_map_count would cap them)
 * and no mmap/mlock/munlock/munmap per file. A slot is wiped when it is
 * freed and goes back to the pool; chunks are kept for reuse.
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

/* A pool slot's header. Its first word is SLOT_SIZE; a mapping's header
 * has map_len there, whole pages, so secmem_free() tells them apart. */
struct secmem_slot {
	size_t slot;
	struct secmem_slot *next_free; /* protected by list_lock */
	size_t pad[2];
};

_Static_assert(sizeof(struct secmem_hdr) == sizeof(struct secmem_slot),
	       "both headers put the user area at the same offset");

#define SLOT_SIZE 128 /* header included: up to 96 bytes for the caller */
#define CHUNK_SIZE (64 * 1024)

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secmem_slot *free_slots; /* protected by list_lock */
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

/* A locked, non-dumpable mapping of @p len bytes, on the live list. */
static struct secmem_hdr *map_locked(size_t len)
{
	struct secmem_hdr *h;

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
	return h;
}

/* A free pool slot (a new chunk when none is left), or NULL. */
static struct secmem_slot *slot_get(void)
{
	struct secmem_slot *sl;
	struct secmem_hdr *chunk;
	uint8_t *p;

	pthread_mutex_lock(&list_lock);
	sl = free_slots;
	if (sl)
		free_slots = sl->next_free;
	pthread_mutex_unlock(&list_lock);
	if (sl)
		goto out;
	/* The chunk's own header takes its first slot. */
	_Static_assert(sizeof(struct secmem_hdr) <= SLOT_SIZE, "chunk header");
	chunk = map_locked(CHUNK_SIZE);
	if (!chunk)
		return NULL;
	p = (uint8_t *)chunk;
	sl = (struct secmem_slot *)(p + SLOT_SIZE);
	pthread_mutex_lock(&list_lock);
	for (size_t off = 2 * SLOT_SIZE; off + SLOT_SIZE <= CHUNK_SIZE; off += SLOT_SIZE) {
		struct secmem_slot *f = (struct secmem_slot *)(p + off);

		f->slot = SLOT_SIZE;
		f->next_free = free_slots;
		free_slots = f;
	}
	pthread_mutex_unlock(&list_lock);
out:
	sl->slot = SLOT_SIZE;
	sl->next_free = NULL;
	return sl;
}

void *secmem_alloc(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len;
	struct secmem_hdr *h;

	if (n <= SLOT_SIZE - sizeof(struct secmem_slot)) {
		struct secmem_slot *sl = slot_get();

		return sl ? sl + 1 : NULL; /* zeroed: new, or wiped on free */
	}
	if (n > SIZE_MAX - sizeof(*h) - page)
		return NULL;
	len = (n + sizeof(*h) + page - 1) / page * page;
	h = map_locked(len);
	return h ? h + 1 : NULL;
}

void secmem_free(void *p)
{
	struct secmem_hdr *h;
	size_t len;

	if (!p)
		return;
	if (((struct secmem_slot *)p - 1)->slot == SLOT_SIZE) {
		struct secmem_slot *sl = (struct secmem_slot *)p - 1;

		secmem_wipe(p, SLOT_SIZE - sizeof(*sl));
		pthread_mutex_lock(&list_lock);
		sl->next_free = free_slots;
		free_slots = sl;
		pthread_mutex_unlock(&list_lock);
		return;
	}
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
