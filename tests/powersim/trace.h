/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The power-loss simulator's trace: every operation that changes the
 * backing tree, in the order the pass-through layer carried it out, with
 * the data of every write. A trace starts from an empty directory, so
 * replaying it (in full or up to a crash point) rebuilds the tree.
 *
 * On disk: a sequence of records, each a struct trace_rec followed by
 * plen bytes of path, p2len bytes of second path (rename/link target,
 * symlink target, xattr name) and dlen bytes of data (write payload,
 * xattr value). Native byte order: a trace never leaves the machine that
 * made it.
 */
#ifndef POWERSIM_TRACE_H
#define POWERSIM_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_MAGIC 0x50575254u /* "TRWP" */

enum trace_op {
	/* file data: subject to loss until the file's next fsync */
	TR_WRITE = 'W',     /* id, off, dlen bytes of data */
	TR_TRUNCATE = 'T',  /* id, off = new size */
	TR_FALLOCATE = 'A', /* id, mode, off, len */
	TR_FSYNC = 'S',     /* id, mode = datasync */
	/* namespace and metadata: durable as soon as they happen */
	TR_CREATE = 'C',    /* id, path, mode */
	TR_MKDIR = 'D',     /* path, mode */
	TR_SYMLINK = 'L',   /* path, p2 = target */
	TR_LINK = 'H',      /* path = existing, p2 = new */
	TR_UNLINK = 'U',    /* path */
	TR_RMDIR = 'R',     /* path */
	TR_RENAME = 'N',    /* path, p2, mode = renameat2 flags */
	TR_CHMOD = 'M',     /* path, mode */
	TR_SETXATTR = 'X',  /* path, p2 = name, data = value, mode = flags */
	TR_RMXATTR = 'Y',   /* path, p2 = name */
	TR_FSYNCDIR = 'F',  /* path (informational: names are durable anyway) */
};

struct trace_rec {
	uint32_t magic;
	uint32_t op;    /* enum trace_op */
	uint64_t t_ns;  /* CLOCK_MONOTONIC when the operation completed */
	uint64_t id;    /* file identity (regular files), 0 otherwise */
	uint64_t off;
	uint64_t len;   /* fallocate length */
	uint32_t mode;
	uint32_t plen;
	uint32_t p2len;
	uint32_t dlen;
};

/* One record of a loaded trace, pointing into the mapped file. */
struct trace_ent {
	const struct trace_rec *rec;
	const char *path;   /* NUL-terminated copies */
	const char *p2;
	const uint8_t *data;
};

struct trace {
	struct trace_ent *ent;
	size_t n;
	void *map;
	size_t maplen;
	char *strings;
};

/**
 * Load the trace in @p file.
 * @return 0, or -errno (-EINVAL for a malformed trace, with a message).
 */
int trace_load(const char *file, struct trace *t);
void trace_free(struct trace *t);

/** True for the operations that change a file's data. */
int trace_is_data(uint32_t op);

#endif
