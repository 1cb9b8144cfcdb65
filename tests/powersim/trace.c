// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading a power-loss trace back (the writer side lives in simfs.c). The
 * trace is our own output, but it is still checked record by record so
 * that a cut-off trace (simulator killed) says so instead of replaying
 * garbage.
 */
#include "trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int trace_is_data(uint32_t op)
{
	return op == TR_WRITE || op == TR_TRUNCATE || op == TR_FALLOCATE;
}

int trace_load(const char *file, struct trace *t)
{
	struct stat st;
	size_t pos = 0, cap = 0, slen = 0, scap = 0;
	int fd, r = 0;

	memset(t, 0, sizeof(*t));
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		r = -errno;
		fprintf(stderr, "powersim: %s: %s\n", file, strerror(errno));
		goto out;
	}
	t->maplen = (size_t)st.st_size;
	if (t->maplen) {
		t->map = mmap(NULL, t->maplen, PROT_READ, MAP_PRIVATE, fd, 0);
		if (t->map == MAP_FAILED) {
			r = -errno;
			t->map = NULL;
			goto out;
		}
	}
	/* Strings are copied NUL-terminated; offsets first, pointers last
	 * (the string buffer moves while it grows). */
	while (pos < t->maplen) {
		const struct trace_rec *rec = (const void *)((char *)t->map + pos);
		size_t need;

		if (t->maplen - pos < sizeof(*rec) || rec->magic != TRACE_MAGIC) {
			fprintf(stderr, "powersim: %s: bad record at byte %zu\n", file, pos);
			r = -EINVAL;
			goto out;
		}
		need = sizeof(*rec) + (size_t)rec->plen + rec->p2len + rec->dlen;
		if (t->maplen - pos < need) {
			fprintf(stderr, "powersim: %s: record at byte %zu is cut off\n", file, pos);
			r = -EINVAL;
			goto out;
		}
		if (t->n == cap) {
			cap = cap ? cap * 2 : 1024;
			void *p = realloc(t->ent, cap * sizeof(*t->ent));
			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			t->ent = p;
		}
		if (slen + rec->plen + rec->p2len + 2 > scap) {
			scap = (scap + rec->plen + rec->p2len + 2) * 2;
			char *p = realloc(t->strings, scap);
			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			t->strings = p;
		}
		struct trace_ent *e = &t->ent[t->n++];
		const char *body = (const char *)(rec + 1);
		e->rec = rec;
		e->path = (const char *)(uintptr_t)slen;
		memcpy(t->strings + slen, body, rec->plen);
		slen += rec->plen;
		t->strings[slen++] = 0;
		e->p2 = (const char *)(uintptr_t)slen;
		memcpy(t->strings + slen, body + rec->plen, rec->p2len);
		slen += rec->p2len;
		t->strings[slen++] = 0;
		e->data = (const uint8_t *)body + rec->plen + rec->p2len;
		pos += need;
	}
	for (size_t i = 0; i < t->n; i++) {
		t->ent[i].path = t->strings + (uintptr_t)t->ent[i].path;
		t->ent[i].p2 = t->strings + (uintptr_t)t->ent[i].p2;
	}
out:
	if (fd >= 0)
		close(fd);
	if (r)
		trace_free(t);
	return r;
}

void trace_free(struct trace *t)
{
	if (t->map)
		munmap(t->map, t->maplen);
	free(t->ent);
	free(t->strings);
	memset(t, 0, sizeof(*t));
}
