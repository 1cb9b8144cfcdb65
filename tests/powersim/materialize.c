// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The offline half of the power-loss simulator: from one recorded trace,
 * build the tree that a power cut at a chosen point would leave, under the
 * model agreed for atrestfs (doc/daemon.md, "Testing power loss"):
 *
 *  - names and metadata (create, mkdir, rename, link, unlink, chmod,
 *    xattrs) are durable as soon as they happen, in order;
 *  - a file's data writes and truncates since its last fsync/fdatasync
 *    persist as an ordered prefix (possibly empty), and the last write of
 *    that prefix (the one in flight) may persist as any subset of its
 *    512-byte sectors; a write that extends the file either brings the
 *    new size with it (a zero-filled gap where its sectors were lost) or
 *    extends the file only as far as its last persisted sector;
 *  - whatever a completed fsync covered is never lost.
 *
 * Each crash state is built in a fresh directory, so one workload run
 * yields as many crash states as wanted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "materialize.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define SECTOR 512u

struct mfile {
	uint8_t *buf;   /* content as the crash leaves it */
	uint64_t size, cap;
	int fd;         /* in the output tree, open from its creation on */
	const char *created_as;
	size_t *ops;    /* record indexes of data ops and fsyncs before the cut */
	size_t nops, capops;
};

struct rng {
	uint64_t s;
};

/* splitmix64: tiny, and the same choices for the same seed everywhere. */
static uint64_t rnd(struct rng *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(struct rng *g, uint64_t n)
{
	return n ? rnd(g) % n : 0;
}

static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

static int grow(struct mfile *f, uint64_t size)
{
	if (size > f->cap) {
		uint64_t cap = f->cap ? f->cap : 4096;
		while (cap < size)
			cap *= 2;
		uint8_t *p = realloc(f->buf, cap);
		if (!p)
			return -ENOMEM;
		f->buf = p;
		f->cap = cap;
	}
	if (size > f->size)
		memset(f->buf + f->size, 0, size - f->size);
	return 0;
}

static int set_size(struct mfile *f, uint64_t size)
{
	int r = grow(f, size);
	if (!r)
		f->size = size;
	return r;
}

/* A write, or the sectors of it that @p keep (bit per sector, NULL = all)
 * selects; @p size_full: an extending write brings its whole new size. */
static int apply_write(struct mfile *f, const struct trace_ent *e,
		       const uint8_t *keep, int size_full)
{
	uint64_t off = e->rec->off, len = e->rec->dlen, end = off + len;
	uint64_t first = off / SECTOR, last_end = 0;
	int r;

	if (!len)
		return 0;
	if (!keep) {
		if ((r = grow(f, end)))
			return r;
		memcpy(f->buf + off, e->data, len);
		if (end > f->size)
			f->size = end;
		return 0;
	}
	if ((r = grow(f, end)))
		return r;
	for (uint64_t s = first; s * SECTOR < end; s++) {
		uint64_t a = s * SECTOR > off ? s * SECTOR : off;
		uint64_t b = (s + 1) * SECTOR < end ? (s + 1) * SECTOR : end;
		if (!(keep[(s - first) / 8] & (1u << ((s - first) % 8))))
			continue;
		memcpy(f->buf + a, e->data + (a - off), b - a);
		last_end = b;
	}
	if (size_full && end > f->size)
		f->size = end;
	else if (last_end > f->size)
		f->size = last_end;
	return 0;
}

static int apply_op(struct mfile *f, const struct trace_ent *e)
{
	const struct trace_rec *rec = e->rec;

	switch (rec->op) {
	case TR_WRITE:
		return apply_write(f, e, NULL, 1);
	case TR_TRUNCATE:
		if (rec->off < f->size) {
			f->size = rec->off;
			return 0;
		}
		return set_size(f, rec->off);
	case TR_FALLOCATE:
		if (rec->mode & FALLOC_FL_PUNCH_HOLE) {
			uint64_t a = rec->off, b = rec->off + rec->len;
			if (b > f->size)
				b = f->size;
			if (a < b)
				memset(f->buf + a, 0, b - a);
			return 0;
		}
		if (!(rec->mode & FALLOC_FL_KEEP_SIZE) && rec->off + rec->len > f->size)
			return set_size(f, rec->off + rec->len);
		return 0;
	}
	return 0;
}

/* Replay one name/metadata record in the output tree. */
static int replay_name(int base, const char *outdir, const struct trace_ent *e,
		       struct mfile *files, uint64_t nfiles)
{
	const struct trace_rec *rec = e->rec;
	char full[PATH_MAX];
	struct stat st;
	int r = 0, fd;

	switch (rec->op) {
	case TR_CREATE:
		if (rec->id == 0 || rec->id >= nfiles)
			return -EINVAL;
		fd = openat(base, rel(e->path), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			    rec->mode);
		if (fd < 0 || fstat(fd, &st))
			return -errno;
		if (files[rec->id].fd >= 0)
			close(files[rec->id].fd);
		files[rec->id].fd = fd;
		files[rec->id].created_as = e->path;
		return 0;
	case TR_MKDIR:
		r = mkdirat(base, rel(e->path), rec->mode);
		break;
	case TR_SYMLINK:
		r = symlinkat(e->p2, base, rel(e->path));
		break;
	case TR_LINK:
		r = linkat(base, rel(e->path), base, rel(e->p2), 0);
		break;
	case TR_UNLINK:
		r = unlinkat(base, rel(e->path), 0);
		break;
	case TR_RMDIR:
		r = unlinkat(base, rel(e->path), AT_REMOVEDIR);
		break;
	case TR_RENAME:
		r = renameat2(base, rel(e->path), base, rel(e->p2), rec->mode);
		break;
	case TR_CHMOD:
		r = fchmodat(base, rel(e->path), rec->mode, 0);
		break;
	case TR_SETXATTR:
	case TR_RMXATTR:
		snprintf(full, sizeof(full), "%s/%s", outdir, rel(e->path));
		r = rec->op == TR_SETXATTR
			    ? lsetxattr(full, e->p2, e->data, rec->dlen, (int)rec->mode)
			    : lremovexattr(full, e->p2);
		break;
	default:
		return 0;
	}
	return r ? -errno : 0;
}

static const char *policy_name(enum mat_policy p)
{
	static const char *const n[] = { "keep", "drop", "tear-last", "random" };
	return n[p];
}

int materialize(const struct trace *t, size_t cut, enum mat_policy policy,
		uint64_t seed, const char *outdir)
{
	struct rng g = { seed };
	struct mfile *files = NULL;
	uint64_t nfiles = 1;
	size_t last_write = SIZE_MAX;
	uint8_t *keep = NULL;
	struct rlimit rl;
	int base = -1, r = 0;

	if (cut > t->n)
		cut = t->n;
	/* One open fd per file of the trace, from its creation to the end. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (size_t i = 0; i < cut; i++)
		if (t->ent[i].rec->id >= nfiles)
			nfiles = t->ent[i].rec->id + 1;
	files = calloc(nfiles, sizeof(*files));
	if (!files)
		return -ENOMEM;
	for (uint64_t id = 0; id < nfiles; id++)
		files[id].fd = -1;

	/* 1. Names and metadata, in order, as they were. */
	if (mkdir(outdir, 0755)) {
		r = -errno;
		fprintf(stderr, "powersim: %s: %s\n", outdir, strerror(errno));
		goto out;
	}
	base = open(outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base < 0) {
		r = -errno;
		goto out;
	}
	for (size_t i = 0; i < cut; i++) {
		const struct trace_ent *e = &t->ent[i];
		uint32_t op = e->rec->op;

		if (trace_is_data(op) || op == TR_FSYNC) {
			struct mfile *f = &files[e->rec->id];
			if (e->rec->id == 0) {
				fprintf(stderr, "powersim: record %zu: data of an unknown file\n", i);
				r = -EINVAL;
				goto out;
			}
			if (f->nops == f->capops) {
				f->capops = f->capops ? f->capops * 2 : 64;
				size_t *p = realloc(f->ops, f->capops * sizeof(*p));
				if (!p) {
					r = -ENOMEM;
					goto out;
				}
				f->ops = p;
			}
			f->ops[f->nops++] = i;
			if (op == TR_WRITE)
				last_write = i;
			continue;
		}
		r = replay_name(base, outdir, e, files, nfiles);
		if (r) {
			fprintf(stderr, "powersim: replaying record %zu (%c %s): %s\n", i,
				(char)op, e->path, strerror(-r));
			goto out;
		}
	}
	printf("cut %zu of %zu records, policy %s, seed %" PRIu64 "\n", cut, t->n,
	       policy_name(policy), seed);

	/* 2. Each file's data: what its last fsync covered, then a prefix. */
	for (uint64_t id = 1; id < nfiles; id++) {
		struct mfile *f = &files[id];
		size_t synced = 0, pending, k, i;
		int tear = 0, size_full = 1;

		for (i = 0; i < f->nops; i++)
			if (t->ent[f->ops[i]].rec->op == TR_FSYNC)
				synced = i + 1;
		pending = f->nops - synced;
		for (i = 0; i < synced; i++)
			if ((r = apply_op(f, &t->ent[f->ops[i]])))
				goto out;
		switch (policy) {
		case MAT_KEEP:
			k = pending;
			break;
		case MAT_DROP:
			k = 0;
			break;
		case MAT_TEARLAST:
			k = pending;
			tear = pending && f->ops[f->nops - 1] == last_write;
			break;
		default:
			/* Drop all, keep all and a prefix: each a third of the time. */
			switch (rnd_below(&g, 3)) {
			case 0: k = 0; break;
			case 1: k = pending; break;
			default: k = rnd_below(&g, pending + 1); break;
			}
			tear = k && t->ent[f->ops[synced + k - 1]].rec->op == TR_WRITE &&
			       rnd_below(&g, 2);
			break;
		}
		for (i = 0; i + (tear ? 1 : 0) < k; i++)
			if ((r = apply_op(f, &t->ent[f->ops[synced + i]])))
				goto out;
		if (tear) {
			const struct trace_ent *e = &t->ent[f->ops[synced + k - 1]];
			uint64_t off = e->rec->off, end = off + e->rec->dlen;
			uint64_t nsec = (end - 1) / SECTOR - off / SECTOR + 1, kept = 0;

			free(keep);
			keep = calloc((size_t)(nsec + 7) / 8, 1);
			if (!keep) {
				r = -ENOMEM;
				goto out;
			}
			for (uint64_t s = 0; s < nsec; s++)
				if (rnd_below(&g, 2)) {
					keep[s / 8] |= (uint8_t)(1u << (s % 8));
					kept++;
				}
			if (kept == nsec) { /* torn means not all of it */
				uint64_t s = rnd_below(&g, nsec);
				keep[s / 8] &= (uint8_t)~(1u << (s % 8));
				kept--;
			}
			size_full = (int)rnd_below(&g, 2);
			if ((r = apply_write(f, e, keep, size_full)))
				goto out;
			printf("file %" PRIu64 " (created as %s): %zu ops fsynced, %zu of %zu "
			       "later ops kept, the last one torn: write of %" PRIu64
			       " bytes at %" PRIu64 " kept %" PRIu64 " of %" PRIu64
			       " sectors, size %s\n", id, f->created_as ? f->created_as : "?",
			       synced, k, pending, (uint64_t)e->rec->dlen, off, kept, nsec,
			       size_full ? "extended" : "up to the last kept sector");
		} else if (pending) {
			printf("file %" PRIu64 " (created as %s): %zu ops fsynced, %zu of %zu "
			       "later ops kept\n", id, f->created_as ? f->created_as : "?",
			       synced, k, pending);
		}
		/* 3. Out to the tree, through the fd of its creation. */
		if (f->fd >= 0) {
			uint64_t done = 0;
			while (done < f->size) {
				ssize_t n = pwrite(f->fd, f->buf + done, f->size - done, (off_t)done);
				if (n <= 0) {
					r = n < 0 ? -errno : -EIO;
					goto out;
				}
				done += (uint64_t)n;
			}
			if (ftruncate(f->fd, (off_t)f->size)) {
				r = -errno;
				goto out;
			}
		}
	}
out:
	if (files) {
		for (uint64_t id = 0; id < nfiles; id++) {
			if (files[id].fd >= 0)
				close(files[id].fd);
			free(files[id].buf);
			free(files[id].ops);
		}
		free(files);
	}
	free(keep);
	if (base >= 0)
		close(base);
	if (r)
		fprintf(stderr, "powersim: materialising cut %zu: %s\n", cut, strerror(-r));
	return r;
}
