// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * File content of an encrypted volume: the header, the block layout, and
 * reading, writing and truncating any byte range through a backing fd.
 *
 * Every request touches the backing file with one pread (read) or one
 * pwrite (write) of all its blocks at once, assembled in a per-thread
 * buffer (scratch.c), so that a 1 MiB FUSE write is one system call and no
 * allocation.
 * The backing size is cached in the per-file state: the daemon is the only
 * writer of the volume while it is mounted, and every change of size goes
 * through here (under the caller's exclusive lock).
 *
 * Writes are ordered for the power-loss model of doc/daemon.md (writes
 * since the last fsync persist as an ordered prefix, the one in flight as
 * any subset of its sectors): first the commit record turns "dirty", then
 * space is reserved (so ENOSPC/EFBIG come before anything changed), then
 * each run of existing blocks goes to a journal slot before it is
 * overwritten in place, and new blocks go last. Everything that can fail on
 * bad data (reading a partial block) happens before the first write.
 *
 * A journal record holds one block in format 2 and a run of up to 256 in
 * format 3, so a 1 MiB overwrite is two pwrites instead of 512; each
 * journalled block opens on its own (its own GCM tag and associated data),
 * so a torn record loses only blocks whose in-place write had not begun.
 * A run of holes (a preallocated file being written) needs no copy: its
 * format-3 hole record names it, and torn in place it goes back to holes.
 */
#include "content.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "scratch.h"
#include "secmem.h"
#include "stats.h"

#define AAD_LEN (CONTENT_FILE_ID_LEN + 8)

#define COMMIT_DIRTY 1u

/* Journal record flags (format 3, u32 at offset 28): a hole record, whose
 * header is followed by an HMAC instead of blocks. */
#define JOURNAL_HOLE 1u
#define JOURNAL_HOLE_LEN (CONTENT_JOURNAL_HDR + CRYPTO_MAC_LEN)

struct content_ctx {
	uint8_t *key;  /* secmem, 32 bytes: content subkey */
	uint8_t *xkey; /* secmem, 32 bytes: xattr subkey */
	/* The volume's layout, fixed by its format (content.h). */
	int format;      /* 2 or 3; also the version in each file header */
	uint32_t jmax;   /* blocks per journal record */
	off_t jslot;     /* one journal slot: 32 + jmax * 4128 */
	off_t hlen;      /* where block 0 starts */
	off_t max_size;  /* largest plaintext size */
};

struct content_file {
	uint8_t *key;                    /* secmem, 64: block key, commit key */
	uint8_t id[CONTENT_FILE_ID_LEN]; /* valid when has_header */
	bool has_header;
	off_t csize; /* backing size, the daemon being the only writer */
	struct content_ctx *ctx;
	/* The last commit record (seq 0: none yet). */
	uint64_t seq;
	off_t committed;
	bool dirty;
	uint8_t craw[2][CONTENT_COMMIT_LEN]; /* both slots as on disk */
	uint64_t jseq;     /* last journal record written or found */
	uint64_t cjseq;    /* journal seq in the last commit record */
	off_t jres;        /* bytes reserved this session in each journal slot */
	bool damaged;      /* every access gives EIO */
	bool may_have_holes; /* below csize, past the header; false when known */
	off_t resv;        /* [hlen, resv) known allocated; <= csize (reserve()) */
	off_t blksize;       /* the backing file system's allocation unit */
	ino_t ino;         /* for log lines */
};

/* ---- sizes ---- */

off_t content_plain_size(const struct content_ctx *ctx, off_t csize)
{
	off_t body, rem;

	if (csize == 0)
		return 0;
	if (csize < CONTENT_EMPTY_LEN)
		return -EIO;
	if (csize <= ctx->hlen)
		return 0; /* header and commits, maybe journal: no content */
	body = csize - ctx->hlen;
	rem = body % CONTENT_CBLOCK;
	if (rem && rem <= CONTENT_OVERHEAD)
		return -EIO; /* a block cannot be empty: cut short */
	return body / CONTENT_CBLOCK * CONTENT_BLOCK +
	       (rem ? rem - CONTENT_OVERHEAD : 0);
}

off_t content_cipher_size(const struct content_ctx *ctx, off_t psize)
{
	off_t rem = psize % CONTENT_BLOCK;

	if (psize == 0)
		return 0;
	return ctx->hlen + psize / CONTENT_BLOCK * CONTENT_CBLOCK +
	       (rem ? rem + CONTENT_OVERHEAD : 0);
}

off_t content_max_size(const struct content_ctx *ctx)
{
	return ctx->max_size;
}

off_t content_size(const struct content_file *f)
{
	return content_plain_size(f->ctx, f->csize);
}

/* Backing size of a file with a header and @p psize plaintext bytes. */
static off_t csize_with_header(const struct content_file *f, off_t psize)
{
	return psize ? content_cipher_size(f->ctx, psize) : CONTENT_EMPTY_LEN;
}

/* Every change of the cached backing size goes through here: a cut also
 * cuts what reserve() knows to be allocated. */
static void set_csize(struct content_file *f, off_t csize)
{
	f->csize = csize;
	if (f->resv > csize)
		f->resv = csize;
}

off_t content_stat_size(const struct content_ctx *ctx, off_t csize)
{
	off_t p = content_plain_size(ctx, csize);

	if (p >= 0)
		return p;
	/* Cut short: report the whole blocks. */
	return csize > ctx->hlen ? (csize - ctx->hlen) / CONTENT_CBLOCK *
					   CONTENT_BLOCK
				 : 0;
}

/* ---- contexts ---- */

int content_ctx_new(const uint8_t key[32], const uint8_t xattr_key[32],
		    int format, struct content_ctx **out)
{
	struct content_ctx *ctx;

	if (format < CONTENT_FORMAT_MIN || format > CONTENT_FORMAT_MAX)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->format = format;
	ctx->jmax = CONTENT_JOURNAL_BLOCKS(format);
	ctx->jslot = CONTENT_JOURNAL_SLOT(format);
	ctx->hlen = CONTENT_HEADER_LEN(format);
	ctx->max_size = (INT64_MAX - ctx->hlen) / CONTENT_CBLOCK * CONTENT_BLOCK;
	ctx->key = secmem_alloc(32);
	ctx->xkey = secmem_alloc(32);
	if (!ctx->key || !ctx->xkey) {
		content_ctx_free(ctx);
		return -ENOMEM;
	}
	memcpy(ctx->key, key, 32);
	memcpy(ctx->xkey, xattr_key, 32);
	*out = ctx;
	return 0;
}

void content_ctx_free(struct content_ctx *ctx)
{
	if (!ctx)
		return;
	secmem_free(ctx->key);
	secmem_free(ctx->xkey);
	free(ctx);
}

/* Block key and commit-record key of the file, both bound to its ID. */
static int derive_file_key(struct content_file *f)
{
	static const char info[] = "atrestfs file";
	static const char info_commit[] = "atrestfs commit";
	int r;

	r = crypto_hkdf(f->ctx->key, 32, f->id, sizeof(f->id),
			(const uint8_t *)info, strlen(info), f->key, 32);
	if (!r)
		r = crypto_hkdf(f->ctx->key, 32, f->id, sizeof(f->id),
				(const uint8_t *)info_commit,
				strlen(info_commit), f->key + 32, 32);
	return r;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* ---- single blocks ---- */

static void block_aad(const struct content_file *f, uint64_t b,
		      uint8_t aad[AAD_LEN])
{
	memcpy(aad, f->id, CONTENT_FILE_ID_LEN);
	for (int i = 0; i < 8; i++)
		aad[CONTENT_FILE_ID_LEN + i] = (uint8_t)(b >> (56 - 8 * i));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Decrypt stored block @p b (@p clen bytes at @p c) into @p plain: a hole
 * reads as zeros. @return plaintext length or -EIO.
 */
static ssize_t open_block_q(const struct content_file *f, uint64_t b,
			    const uint8_t *c, size_t clen, uint8_t *plain,
			    bool quiet)
{
	uint8_t aad[AAD_LEN];
	size_t plen;

	if (clen <= CONTENT_OVERHEAD || clen > CONTENT_CBLOCK) {
		if (quiet)
			return -EIO;
		log_warn("block %llu is cut short (%zu bytes)",
			 (unsigned long long)b, clen);
		return -EIO;
	}
	plen = clen - CONTENT_OVERHEAD;
	if (all_zero(c, clen)) {
		memset(plain, 0, plen);
		return (ssize_t)plen;
	}
	block_aad(f, b, aad);
	if (crypto_gcm_open(f->key, c, CRYPTO_NONCE_LEN, aad, sizeof(aad),
			    c + CRYPTO_NONCE_LEN, plen, plain,
			    c + CRYPTO_NONCE_LEN + plen)) {
		if (!quiet)
			log_warn("block %llu of inode %llu (file ID "
				 "%02x%02x%02x%02x...) failed authentication: "
				 "returning EIO",
				 (unsigned long long)b,
				 (unsigned long long)f->ino, f->id[0],
				 f->id[1], f->id[2], f->id[3]);
		return -EIO;
	}
	return (ssize_t)plen;
}

static ssize_t open_block(const struct content_file *f, uint64_t b,
			  const uint8_t *c, size_t clen, uint8_t *plain)
{
	return open_block_q(f, b, c, clen, plain, false);
}

/* Encrypt @p plen bytes as block @p b into @p c (plen + 32 bytes). */
static int seal_block(const struct content_file *f, uint64_t b,
		      const uint8_t *plain, size_t plen, const uint8_t *nonce,
		      uint8_t *c)
{
	uint8_t aad[AAD_LEN];

	block_aad(f, b, aad);
	memcpy(c, nonce, CRYPTO_NONCE_LEN);
	return crypto_gcm_seal(f->key, c, CRYPTO_NONCE_LEN, aad, sizeof(aad),
			       plain, plen, c + CRYPTO_NONCE_LEN,
			       c + CRYPTO_NONCE_LEN + plen);
}

static off_t block_off(const struct content_file *f, uint64_t b)
{
	return f->ctx->hlen + (off_t)b * CONTENT_CBLOCK;
}

/* Read and decrypt one whole stored block into @p plain (4096 bytes). */
static ssize_t read_block(struct content_file *f, int fd, uint64_t b,
			  uint8_t *plain)
{
	uint8_t c[CONTENT_CBLOCK];
	off_t start = block_off(f, b);
	size_t want;
	ssize_t n;

	if (start >= f->csize)
		return 0;
	want = (size_t)(f->csize - start < CONTENT_CBLOCK ? f->csize - start
							  : CONTENT_CBLOCK);
	n = pread(fd, c, want, start);
	if (n < 0)
		return -errno;
	if ((size_t)n != want)
		return -EIO;
	n = open_block(f, b, c, want, plain);
	if (n == -EIO)
		stats_auth_failure(fd);
	return n;
}

/* Seal a new version of block @p b, @p new_len bytes long: its old bytes
 * (zero-extended or cut), read and checked now, before anything is written. */
static int reseal_block(struct content_file *f, int fd, uint64_t b,
			size_t new_len, uint8_t *c)
{
	uint8_t plain[CONTENT_BLOCK], nonce[CRYPTO_NONCE_LEN];
	ssize_t old;
	int r;

	old = read_block(f, fd, b, plain);
	if (old < 0)
		return (int)old;
	if ((size_t)old < new_len)
		memset(plain + old, 0, new_len - (size_t)old);
	r = crypto_random(nonce, sizeof(nonce));
	if (!r)
		r = seal_block(f, b, plain, new_len, nonce, c);
	secmem_wipe(plain, sizeof(plain));
	return r;
}

static int pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	ssize_t w = pwrite(fd, p, n, off);

	if (w == (ssize_t)n)
		return 0;
	return w < 0 ? -errno : -EIO;
}

/* pwrite/ftruncate on a read-only descriptor: reopen it read-write. */
static int writable_fd(int fd)
{
	char p[64];
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && (fl & O_ACCMODE) == O_RDWR)
		return dup(fd);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open(p, O_RDWR | O_CLOEXEC);
}

/* ---- commit records ---- */

/*
 * Commit record, 64 bytes at the start of sector 1 + slot: u64 seq (slot =
 * seq % 2) || u64 plaintext size || u32 flags || u64 journal seq || 4 zero
 * bytes || HMAC of file ID || bytes 0..31 under the file's commit key. Torn
 * or forged slots fail the HMAC; the valid one with the higher seq wins.
 * Journal records up to its journal seq are history; later ones are writes
 * since the record.
 */
static int commit_mac(const struct content_file *f, const uint8_t rec[32],
		      uint8_t mac[CRYPTO_MAC_LEN])
{
	uint8_t in[CONTENT_FILE_ID_LEN + 32];

	memcpy(in, f->id, CONTENT_FILE_ID_LEN);
	memcpy(in + CONTENT_FILE_ID_LEN, rec, 32);
	return crypto_hmac(f->key + 32, 32, in, sizeof(in), mac);
}

/* Parse slot @p slot: 1 when valid (fills seq/size/flags), 0 when not. */
static int commit_parse(const struct content_file *f, int slot,
			const uint8_t rec[CONTENT_COMMIT_LEN], uint64_t *seq,
			off_t *size, uint32_t *flags, uint64_t *jseq)
{
	uint8_t mac[CRYPTO_MAC_LEN];
	uint64_t sq = get_u64(rec), sz = get_u64(rec + 8);
	uint32_t fl = get_u32(rec + 16);

	if (sq == 0 || sq % 2 != (uint64_t)slot || sz > (uint64_t)f->ctx->max_size ||
	    (fl & ~COMMIT_DIRTY) || !all_zero(rec + 28, 4))
		return 0;
	if (commit_mac(f, rec, mac) || !crypto_memeq(mac, rec + 32, sizeof(mac)))
		return 0;
	*seq = sq;
	*size = (off_t)sz;
	*flags = fl;
	*jseq = get_u64(rec + 20);
	return 1;
}

/* Write the next commit record; the slot it replaces is kept in craw. */
static int commit_write(struct content_file *f, int fd, off_t size, bool dirty)
{
	uint8_t rec[CONTENT_COMMIT_LEN] = { 0 };
	uint64_t seq = f->seq + 1;
	int slot = (int)(seq % 2), r;

	put_u64(rec, seq);
	put_u64(rec + 8, (uint64_t)size);
	put_u32(rec + 16, dirty ? COMMIT_DIRTY : 0);
	put_u64(rec + 20, f->jseq);
	r = commit_mac(f, rec, rec + 32);
	if (!r)
		r = pwrite_all(fd, rec, sizeof(rec),
			       CONTENT_COMMIT_OFF + 512 * slot);
	if (r)
		return r;
	memcpy(f->craw[slot], rec, sizeof(rec));
	f->seq = seq;
	f->committed = size;
	f->dirty = dirty;
	f->cjseq = f->jseq;
	return 0;
}

/* Undo the last commit_write() after a failed operation: the old bytes of
 * its slot go back, so the file is as it was. */
static void commit_undo(struct content_file *f, int fd, const uint8_t old[CONTENT_COMMIT_LEN],
			uint64_t seq, off_t committed, bool dirty, uint64_t cjseq)
{
	int slot = (int)(f->seq % 2);

	if (f->seq == seq)
		return;
	f->cjseq = cjseq;
	if (pwrite_all(fd, old, CONTENT_COMMIT_LEN,
		       CONTENT_COMMIT_OFF + 512 * slot) == 0)
		memcpy(f->craw[slot], old, CONTENT_COMMIT_LEN);
	f->seq = seq;
	f->committed = committed;
	f->dirty = dirty;
}

int content_commit(struct content_file *f, int fd)
{
	int r;

	/* Sparse no more (a gap filled since)? Then writes inside the file
	 * need no space reserved again. */
	if (f->may_have_holes && f->csize > f->ctx->hlen &&
	    lseek(fd, f->ctx->hlen, SEEK_HOLE) >= f->csize) {
		f->may_have_holes = false;
		f->resv = f->csize;
	}
	/* Overwrites that kept the size left only journal records, which
	 * carry their own authentication: nothing to commit for them. */
	if (!f->has_header || !f->dirty || f->damaged)
		return 0;
	r = commit_write(f, fd, content_size(f), false);
	/* fsync is allowed on a read-only descriptor; the record is ours to
	 * write anyway. */
	if (r == -EBADF) {
		int wfd = writable_fd(fd);

		if (wfd < 0)
			return -errno;
		r = commit_write(f, wfd, content_size(f), false);
		close(wfd);
	}
	return r;
}

/* A fresh file ID and its keys, for a file without header, before the
 * first block is sealed; the header itself is written by create_header(). */
static int new_file_id(struct content_file *f)
{
	int r;

	if (f->has_header)
		return 0;
	r = crypto_random(f->id, sizeof(f->id));
	if (!r)
		r = derive_file_key(f);
	return r;
}

/* The header of an empty file: its ID and a commit record (size 0). */
static int create_header(struct content_file *f, int fd, bool dirty)
{
	uint8_t h[CONTENT_EMPTY_LEN] = { 0, (uint8_t)f->ctx->format };
	int r;

	memcpy(h + 2, f->id, sizeof(f->id));
	/* Both commit slots first (the first record goes to slot 1, seq 1),
	 * then sector 0: whoever sees a version in sector 0 may rely on a
	 * commit record being there; a torn creation leaves sector 0 zero. */
	f->seq = 0;
	memset(f->craw, 0, sizeof(f->craw));
	put_u64(h + CONTENT_COMMIT_OFF + 512, 1);
	put_u32(h + CONTENT_COMMIT_OFF + 512 + 16, dirty ? COMMIT_DIRTY : 0);
	r = commit_mac(f, h + CONTENT_COMMIT_OFF + 512,
		       h + CONTENT_COMMIT_OFF + 512 + 32);
	if (!r)
		r = pwrite_all(fd, h + CONTENT_COMMIT_OFF,
			       sizeof(h) - CONTENT_COMMIT_OFF, CONTENT_COMMIT_OFF);
	if (!r)
		r = pwrite_all(fd, h, CONTENT_COMMIT_OFF, 0);
	if (r) {
		if (ftruncate(fd, 0) == 0)
			set_csize(f, 0);
		return r;
	}
	memcpy(f->craw[1], h + CONTENT_COMMIT_OFF + 512, CONTENT_COMMIT_LEN);
	f->seq = 1;
	f->committed = 0;
	f->dirty = dirty;
	f->has_header = true;
	set_csize(f, CONTENT_EMPTY_LEN);
	f->jseq = 0;
	f->cjseq = 0;
	f->jres = 0;
	return 0;
}

int content_file_id(struct content_file *f, int fd,
		    uint8_t id[CONTENT_FILE_ID_LEN])
{
	int r;

	if (f->damaged)
		return -EIO;
	if (!f->has_header) {
		r = new_file_id(f);
		if (!r)
			r = create_header(f, fd, false);
		if (r)
			return r;
	}
	memcpy(id, f->id, CONTENT_FILE_ID_LEN);
	return 0;
}

/* ---- journal ---- */

/* Where journal slot @p slot (0 or 1; a record's seq % 2) starts. */
static off_t journal_off(const struct content_file *f, uint64_t slot)
{
	return CONTENT_JOURNAL_OFF + (off_t)(slot % 2) * f->ctx->jslot;
}

/*
 * Journal record, in slot seq % 2: u64 seq || u64 first block || u32
 * stored length of the last block || u32 block count (format 3: 1 .. K;
 * format 2: zero, one block) || 8 zero bytes || the stored blocks exactly
 * as they then go in place, back to back, all but the last full (4128
 * bytes). Each block's own GCM tag (AAD = file ID || its block number)
 * authenticates it, so a torn record still yields the blocks it got whole.
 *
 * @p c holds the @p n stored blocks (@p clen bytes) and has
 * CONTENT_JOURNAL_HDR writable bytes in front of it: the header goes there
 * for the time of the write, so that the record is one pwrite without a
 * copy of the blocks, and those bytes are put back afterwards.
 */
static int journal_write(struct content_file *f, int fd, uint64_t b,
			 uint32_t n, uint8_t *c, size_t clen)
{
	uint8_t save[CONTENT_JOURNAL_HDR], *rec = c - CONTENT_JOURNAL_HDR;
	uint64_t seq = f->jseq + 1;
	off_t at = journal_off(f, seq);
	int r;

	memcpy(save, rec, sizeof(save));
	memset(rec, 0, CONTENT_JOURNAL_HDR);
	put_u64(rec, seq);
	put_u64(rec + 8, b);
	put_u32(rec + 16, (uint32_t)(clen - (size_t)(n - 1) * CONTENT_CBLOCK));
	if (f->ctx->format >= 3)
		put_u32(rec + 20, n);
	f->jseq = seq;
	r = pwrite_all(fd, rec, CONTENT_JOURNAL_HDR + clen, at);
	memcpy(rec, save, sizeof(save));
	return r;
}

/*
 * Hole record (format 3), in slot seq % 2: u64 seq || u64 first block ||
 * u32 4128 || u32 block count (1 .. K) || 4 zero bytes || u32 flags (bit 0,
 * JOURNAL_HOLE) || HMAC-SHA256(commit key, file ID || bytes 0..31). It
 * stands for a run of full blocks that were holes (no stored byte
 * allocated) before this overwrite: torn in place, they go back to holes,
 * their committed content. Without block bytes there is no GCM tag, so
 * the HMAC is what keeps a forged record from zeroing blocks at recovery.
 * The flag sits where a commit record (same key, same MAC input layout)
 * has zero bytes, so neither can pass for the other.
 */
static int journal_write_hole(struct content_file *f, int fd, uint64_t b,
			      uint32_t n)
{
	uint8_t rec[JOURNAL_HOLE_LEN] = { 0 };
	uint64_t seq = f->jseq + 1;
	off_t at = journal_off(f, seq);
	int r;

	put_u64(rec, seq);
	put_u64(rec + 8, b);
	put_u32(rec + 16, CONTENT_CBLOCK);
	put_u32(rec + 20, n);
	put_u32(rec + 28, JOURNAL_HOLE);
	r = commit_mac(f, rec, rec + CONTENT_JOURNAL_HDR);
	if (r)
		return r;
	f->jseq = seq;
	return pwrite_all(fd, rec, sizeof(rec), at);
}

/* Are the backing bytes [@p from, @p to) all zero? (Read: a partial file
 * system block at the edge of a run, shared with a neighbour block.) */
static bool range_zero(int fd, off_t from, off_t to)
{
	uint8_t buf[CONTENT_CBLOCK];

	while (from < to) {
		size_t want = to - from < (off_t)sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, from);

		if (n != (ssize_t)want || !all_zero(buf, want))
			return false;
		from += n;
	}
	return true;
}

/* The first file system block boundary at or after block @p b. */
static off_t fs_block_up(const struct content_file *f, uint64_t b)
{
	return (block_off(f, b) + f->blksize - 1) / f->blksize * f->blksize;
}

/*
 * Where the first data after block @p b starts, asked before the operation
 * reserves its space: a fallocate turns holes into unwritten extents, which
 * SEEK_DATA reports as data wherever the page cache holds them (the holes
 * were read). 0 when not asked (no hole record possible).
 */
static off_t holes_until(const struct content_file *f, int fd, uint64_t b, off_t old_csize)
{
	off_t next;

	if (f->ctx->format < 3 || !f->may_have_holes)
		return 0;
	next = lseek(fd, fs_block_up(f, b), SEEK_DATA);
	if (next < 0)
		return errno == ENXIO ? old_csize : 0;
	return next;
}

/*
 * Is the run of @p n blocks from @p b, about to be overwritten in place by
 * @p len stored bytes, all holes that a hole record can stand for? Format
 * 3, full blocks before (the run inside the @p old_csize backing bytes) and
 * after, and every stored byte of it zero: the whole file system blocks
 * inside the run by SEEK_DATA (no data allocated there; up to @p hole_to
 * known from before the space was reserved, holes_until()), the partial
 * ones at its edges by reading them (a 4128-byte block shares them with
 * its neighbours: a sequential writer has just written the one before).
 * Asked only in a file that may have holes.
 */
static bool run_is_hole(const struct content_file *f, int fd, uint64_t b,
			uint32_t n, size_t len, off_t old_csize, off_t hole_to)
{
	off_t s = block_off(f, b), e = block_off(f, b + n), a, z, next;

	if (f->ctx->format < 3 || !f->may_have_holes ||
	    len != (size_t)n * CONTENT_CBLOCK || e > old_csize)
		return false;
	a = fs_block_up(f, b);
	z = e / f->blksize * f->blksize;
	if (a < z) {
		next = z <= hole_to ? z : lseek(fd, a, SEEK_DATA);
		if (next < 0 ? errno != ENXIO : next < z)
			return false;
	} else {
		a = z = e; /* no whole file system block inside: read it all */
	}
	return range_zero(fd, s, a) && range_zero(fd, z, e);
}

/*
 * Reserve room for records of @p n blocks in both slots (records alternate
 * between them), before the first byte of an operation is written. Each
 * slot is reserved only as far as it is used: a file whose overwrites are
 * small keeps the rest of a format-3 slot (1 MiB) a hole.
 */
static int journal_reserve(struct content_file *f, int fd, uint32_t n)
{
	off_t need = CONTENT_JOURNAL_HDR + (off_t)n * CONTENT_CBLOCK;

	if (need <= f->jres)
		return 0;
	for (int s = 0; s < 2; s++)
		if (fallocate(fd, FALLOC_FL_KEEP_SIZE,
			      journal_off(f, (uint64_t)s),
			      need) &&
		    errno != EOPNOTSUPP)
			return -errno;
	f->jres = need;
	return 0;
}

struct jrec {
	bool valid;        /* header in range, newer than the last commit */
	bool hole;         /* a hole record: the run was holes, no bytes */
	uint64_t seq, block; /* block: the first of the run */
	uint32_t n;        /* blocks in the run */
	size_t last;       /* stored length of the last block */
	uint8_t *c;        /* the n stored blocks (malloc) */
	uint8_t ok[CONTENT_JOURNAL_MAX]; /* per block: opens under its AAD */
};

/* One journalled block: its stored bytes and length, and its record; c is
 * NULL for a block of a hole record (it goes back to a hole). */
struct jblk {
	uint64_t block;
	const uint8_t *c;
	size_t clen;
	uint64_t seq;
};

static size_t jrec_len(const struct jrec *r, uint32_t i)
{
	return i + 1 == r->n ? r->last : CONTENT_CBLOCK;
}

static void journal_free(struct jrec j[2])
{
	for (int s = 0; s < 2; s++) {
		if (j[s].c) {
			secmem_wipe(j[s].c, (size_t)(j[s].n - 1) * CONTENT_CBLOCK +
						    j[s].last);
			free(j[s].c);
		}
		j[s].c = NULL;
	}
}

/*
 * Read both journal slots. The header is read first: a record at or below
 * the commit's journal seq is history and its blocks are not read (an open
 * reads the bulk of a format-3 slot only after a crash or after overwrites
 * since the last commit). A block counts only if it opens under its own
 * associated data; an all-zero block is never a journalled one (a slot's
 * unwritten hole, or a torn record's missing part).
 */
static int journal_load(struct content_file *f, int fd, struct jrec j[2])
{
	uint8_t hdr[JOURNAL_HOLE_LEN], mac[CRYPTO_MAC_LEN], plain[CONTENT_BLOCK];
	uint64_t maxb = (uint64_t)f->ctx->max_size / CONTENT_BLOCK;
	int r = 0;

	memset(j, 0, 2 * sizeof(*j));
	for (int s = 0; s < 2; s++) {
		off_t at = journal_off(f, (uint64_t)s);
		ssize_t n = pread(fd, hdr, sizeof(hdr), at); /* a hole record whole */
		uint64_t seq, b;
		uint32_t last, cnt, flags = 0;
		size_t len;

		if (n < 0)
			return -errno;
		if (n < CONTENT_JOURNAL_HDR)
			continue;
		seq = get_u64(hdr);
		b = get_u64(hdr + 8);
		last = get_u32(hdr + 16);
		cnt = get_u32(hdr + 20);
		if (f->ctx->format < 3) {
			if (cnt != 0)
				continue; /* format 2 has one block, count 0 */
			cnt = 1;
		} else {
			flags = get_u32(hdr + 28);
		}
		if (seq == 0 || seq % 2 != (uint64_t)s || last <= CONTENT_OVERHEAD ||
		    last > CONTENT_CBLOCK || cnt == 0 || cnt > f->ctx->jmax ||
		    !all_zero(hdr + 24, flags ? 4 : 8) || (flags & ~JOURNAL_HOLE) ||
		    b > maxb || cnt > maxb - b)
			continue;
		len = flags ? CRYPTO_MAC_LEN : (size_t)(cnt - 1) * CONTENT_CBLOCK + last;
		if (flags && (last != CONTENT_CBLOCK || n < JOURNAL_HOLE_LEN))
			continue; /* a hole record: full blocks and its HMAC */
		if (at + CONTENT_JOURNAL_HDR + (off_t)len > f->csize)
			continue; /* cut short */
		if (seq > f->jseq)
			f->jseq = seq;
		if (seq <= f->cjseq)
			continue; /* before the last commit record: history */
		if (flags) {
			r = commit_mac(f, hdr, mac);
			if (r)
				break;
			if (!crypto_memeq(mac, hdr + CONTENT_JOURNAL_HDR, sizeof(mac)))
				continue; /* forged, or torn */
			j[s].hole = true;
			j[s].n = cnt;
			j[s].last = last;
			j[s].seq = seq;
			j[s].block = b;
			j[s].valid = true;
			memset(j[s].ok, 1, cnt);
			continue;
		}
		j[s].c = malloc(len);
		if (!j[s].c)
			return -ENOMEM;
		j[s].n = cnt;
		j[s].last = last;
		n = pread(fd, j[s].c, len, at + CONTENT_JOURNAL_HDR);
		if (n < 0) {
			r = -errno;
			break;
		}
		if ((size_t)n != len)
			continue;
		j[s].seq = seq;
		j[s].block = b;
		j[s].valid = true;
		for (uint32_t i = 0; i < cnt; i++) {
			const uint8_t *c = j[s].c + (size_t)i * CONTENT_CBLOCK;
			size_t clen = jrec_len(&j[s], i);

			j[s].ok[i] = !all_zero(c, clen) &&
				     open_block_q(f, b + i, c, clen, plain, true) >= 0;
		}
	}
	secmem_wipe(plain, sizeof(plain));
	return r;
}

/* The newest journalled copy of block @p b that opens: 1 (in @p out) or 0. */
static int journal_find(const struct jrec j[2], uint64_t b, struct jblk *out)
{
	int found = 0;

	for (int s = 0; s < 2; s++) {
		uint64_t i = b - j[s].block;

		if (!j[s].valid || b < j[s].block || i >= j[s].n || !j[s].ok[i] ||
		    (found && j[s].seq < out->seq))
			continue;
		out->block = b;
		out->c = j[s].hole ? NULL : j[s].c + i * CONTENT_CBLOCK;
		out->clen = jrec_len(&j[s], (uint32_t)i);
		out->seq = j[s].seq;
		found = 1;
	}
	return found;
}

/* ---- opening and recovery ---- */

/* Is the stored block @p b valid at stored length @p clen? A hole counts
 * only with @p hole_ok (inside the committed size a hole is content). */
static bool block_valid_at(struct content_file *f, int fd, uint64_t b,
			   size_t clen, bool hole_ok)
{
	uint8_t c[CONTENT_CBLOCK], plain[CONTENT_BLOCK];
	ssize_t n;

	if (clen <= CONTENT_OVERHEAD || clen > CONTENT_CBLOCK)
		return false;
	n = pread(fd, c, clen, block_off(f, b));
	if (n != (ssize_t)clen)
		return false;
	if (all_zero(c, clen))
		return hole_ok;
	n = open_block_q(f, b, c, clen, plain, true);
	secmem_wipe(plain, sizeof(plain));
	return n >= 0;
}

struct recovery {
	off_t size;        /* consistent plaintext size */
	int nfix;          /* journalled blocks to put back in place */
	struct jblk fix[2 * CONTENT_JOURNAL_MAX];
	bool damaged;      /* committed bytes missing: never cut */
};

static void recover_add(struct recovery *rc, const struct jblk *jb)
{
	/* At most one fix per journalled block, and both records hold at
	 * most 2 K blocks. */
	if (rc->nfix < (int)(sizeof(rc->fix) / sizeof(rc->fix[0])))
		rc->fix[rc->nfix++] = *jb;
}

/*
 * Find the last consistent state of a dirty file: journalled blocks whose
 * in-place copy is torn come back from the journal; from the block holding
 * the committed size on, blocks count while they authenticate, and the
 * file ends after the first partial one (or before the first that does not
 * authenticate or is a hole).
 */
static void recover_scan(struct content_file *f, int fd, const struct jrec j[2],
			 struct recovery *rc)
{
	off_t c = f->csize, S = f->committed;
	uint64_t k0 = (uint64_t)S / CONTENT_BLOCK, b;
	struct jblk jb;

	rc->size = 0;
	rc->nfix = 0;
	rc->damaged = false;
	/* 1. Journalled blocks inside the committed region (full blocks). */
	for (int s = 0; s < 2; s++) {
		for (uint32_t i = 0; j[s].valid && i < j[s].n; i++) {
			b = j[s].block + i;
			if (b >= k0 || !journal_find(j, b, &jb) || jb.seq != j[s].seq)
				continue;
			/* A hole record's block that is still all zero is
			 * the hole it was. */
			if (block_valid_at(f, fd, b, CONTENT_CBLOCK, !jb.c))
				continue;
			if (jb.clen != CONTENT_CBLOCK) {
				rc->damaged = true;
				return;
			}
			recover_add(rc, &jb);
		}
	}
	/* 2. The tail, from the block holding the committed size. */
	for (b = k0;; b++) {
		off_t at = block_off(f, b);
		size_t avail = at < c ? (size_t)(c - at < CONTENT_CBLOCK ? c - at : CONTENT_CBLOCK) : 0;
		bool jr = journal_find(j, b, &jb);
		size_t plen;

		if (avail > CONTENT_OVERHEAD && block_valid_at(f, fd, b, avail, false)) {
			plen = avail - CONTENT_OVERHEAD;
		} else if (b == k0 && S % CONTENT_BLOCK &&
			   avail >= (size_t)(S % CONTENT_BLOCK) + CONTENT_OVERHEAD &&
			   block_valid_at(f, fd, b, (size_t)(S % CONTENT_BLOCK) +
							CONTENT_OVERHEAD, true)) {
			/* The committed version (a hole too: sparse files). */
			plen = (size_t)(S % CONTENT_BLOCK);
		} else if (jr && !jb.c && b == k0 && S % CONTENT_BLOCK && at < c) {
			/* Torn over a hole (a hole record): back to the hole
			 * it was, the committed version. */
			plen = (size_t)(S % CONTENT_BLOCK);
			recover_add(rc, &jb);
		} else if (jr && jb.c && at < c) {
			plen = jb.clen - CONTENT_OVERHEAD;
			recover_add(rc, &jb);
		} else {
			rc->size = (off_t)b * CONTENT_BLOCK;
			break;
		}
		rc->size = (off_t)b * CONTENT_BLOCK + (off_t)plen;
		if (plen < CONTENT_BLOCK)
			break;
	}
	if (rc->size < S)
		rc->damaged = true;
}

/*
 * Block @p b of a hole record back to a hole: punched (zeros where the file
 * system cannot punch), as far as the backing file reaches. The space is
 * no longer known allocated: the high-water mark of reserve() comes down.
 */
static int recover_hole(struct content_file *f, int fd, uint64_t b)
{
	static const uint8_t zero[CONTENT_CBLOCK];
	off_t at = block_off(f, b);
	off_t len = f->csize - at < CONTENT_CBLOCK ? f->csize - at : CONTENT_CBLOCK;

	if (len <= 0)
		return 0;
	f->may_have_holes = true;
	if (f->resv > at)
		f->resv = at;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, len) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	return pwrite_all(fd, zero, (size_t)len, at);
}

/* Apply a recovery: journalled blocks back in place (a hole record's as
 * holes), the tail cut. */
static int recover_apply(struct content_file *f, int fd, const struct recovery *rc)
{
	off_t want = csize_with_header(f, rc->size);
	int r;

	for (int i = 0; i < rc->nfix; i++) {
		if (rc->fix[i].c)
			r = pwrite_all(fd, rc->fix[i].c, rc->fix[i].clen,
				       block_off(f, rc->fix[i].block));
		else
			r = recover_hole(f, fd, rc->fix[i].block);
		if (r)
			return r;
	}
	if (f->csize != want && ftruncate(fd, want))
		return -errno;
	set_csize(f, want);
	return 0;
}


/*
 * Read header and commit records, then judge the file: empty, consistent
 * with a clean commit, recoverable (dirty), or damaged. With @p repair a
 * dirty file is recovered on disk. @p out (optional) gets the findings.
 * @return 0 (also for damaged files: f->damaged), 1 when repaired, -errno.
 */
static int load_file(struct content_file *f, int fd, bool repair,
		     struct content_check *out)
{
	uint8_t h[CONTENT_EMPTY_LEN];
	struct stat st;
	ssize_t n;
	uint64_t seq[2] = { 0, 0 };
	off_t size[2] = { 0, 0 };
	uint32_t flags[2] = { 0, 0 };
	uint64_t jseq[2] = { 0, 0 };
	int valid[2], w, r = 0;
	/* The journal records and the fixes found (up to 2 K blocks each). */
	struct load_state {
		struct jrec j[2];
		struct recovery rc;
	} *ls = NULL;
	struct jrec *j;
	struct recovery *rc;

	if (fstat(fd, &st))
		return -errno;
	f->ino = st.st_ino;
	set_csize(f, st.st_size);
	f->blksize = st.st_blksize > 0 ? st.st_blksize : 4096;
	out->committed_size = -1;
	out->backing_before = out->backing_after = st.st_size;
	if (st.st_size == 0)
		return 0;
	n = pread(fd, h, sizeof(h), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(h))
		memset(h + n, 0, sizeof(h) - (size_t)n);
	/* A header whose creation was torn: the commit sectors may be there,
	 * sector 0 is not. Nothing was ever written after it. */
	if (st.st_size <= CONTENT_EMPTY_LEN && st.st_size >= CONTENT_COMMIT_OFF &&
	    st.st_size % 512 == 0 && all_zero(h, CONTENT_COMMIT_OFF)) {
		out->torn_tail = true;
		out->size = 0;
		if (!repair) {
			set_csize(f, 0);
			return 0;
		}
		w = writable_fd(fd);
		if (w < 0)
			return -errno;
		r = ftruncate(w, 0) ? -errno : 0;
		close(w);
		if (r)
			return r;
		set_csize(f, 0);
		out->backing_after = 0;
		return 1;
	}
	if (n < 2 + CONTENT_FILE_ID_LEN || h[0] != 0 || h[1] != f->ctx->format) {
		out->bad_header = true;
		log_warn("file header of inode %llu is cut short or has an "
			 "unknown version (%u)", (unsigned long long)st.st_ino,
			 n >= 2 ? (unsigned)(h[0] << 8 | h[1]) : 0u);
		return -EIO;
	}
	memcpy(f->id, h + 2, sizeof(f->id));
	r = derive_file_key(f);
	if (r)
		return r;
	f->has_header = true;
	for (int s = 0; s < 2; s++) {
		memcpy(f->craw[s], h + CONTENT_COMMIT_OFF + 512 * s, CONTENT_COMMIT_LEN);
		valid[s] = commit_parse(f, s, f->craw[s], &seq[s], &size[s], &flags[s],
					&jseq[s]);
	}
	w = valid[0] && (!valid[1] || seq[0] > seq[1]) ? 0 : valid[1] ? 1 : -1;
	if (w < 0) {
		/* Sector 0 is written after the commit slots: cut or forged. */
		out->no_commit = true;
		f->damaged = true;
		log_warn("inode %llu (file ID %02x%02x%02x%02x...) has no valid "
			 "commit record: returning EIO",
			 (unsigned long long)st.st_ino, f->id[0], f->id[1],
			 f->id[2], f->id[3]);
		return 0;
	}
	f->seq = seq[w];
	f->committed = size[w];
	f->dirty = flags[w] & COMMIT_DIRTY;
	f->jseq = f->cjseq = jseq[w];
	/* Holes in the blocks (sparse files) need space reserved before they
	 * are written; one look per open says whether there are any, and
	 * where the first one starts (all before it is allocated). */
	if (st.st_size > f->ctx->hlen) {
		off_t hole = lseek(fd, f->ctx->hlen, SEEK_HOLE);

		f->may_have_holes = hole < st.st_size;
		f->resv = hole > f->ctx->hlen ? hole : 0;
	}
	out->committed_size = f->committed;
	out->dirty = f->dirty;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	j = ls->j;
	rc = &ls->rc;
	r = journal_load(f, fd, j);
	if (r)
		goto out;
	if (!f->dirty) {
		/* Clean: the size is the committed one; overwrites since the
		 * record (same size) may have left a block torn, which its
		 * journal record puts back. */
		off_t p = content_plain_size(f->ctx, st.st_size);

		uint64_t nb = p > 0 ? (uint64_t)(p + CONTENT_BLOCK - 1) / CONTENT_BLOCK : 0;
		struct jblk jb;

		rc->size = p;
		for (int s = 0; s < 2; s++) {
			for (uint32_t i = 0; j[s].valid && i < j[s].n; i++) {
				uint64_t b = j[s].block + i;
				off_t at = block_off(f, b);
				size_t len;

				if (b >= nb || !journal_find(j, b, &jb) || jb.seq != j[s].seq)
					continue;
				len = (size_t)(st.st_size - at < CONTENT_CBLOCK
						       ? st.st_size - at
						       : CONTENT_CBLOCK);
				if (jb.clen != len || block_valid_at(f, fd, b, len, !jb.c))
					continue;
				recover_add(rc, &jb);
			}
		}
		out->size = p < 0 ? 0 : p;
		if (p != f->committed) {
			out->size_mismatch = true;
			f->damaged = true;
			log_warn("inode %llu (file ID %02x%02x%02x%02x...) was "
				 "closed at %lld bytes but its backing file is "
				 "%lld bytes (cut or extended): returning EIO",
				 (unsigned long long)st.st_ino, f->id[0], f->id[1],
				 f->id[2], f->id[3], (long long)f->committed,
				 (long long)st.st_size);
			goto out;
		}
		if (rc->nfix == 0)
			goto out;
		goto fix;
	}
	/* Dirty: written since its last durability point. */
	recover_scan(f, fd, j, rc);
	out->size = rc->size;
	if (rc->damaged) {
		out->size_mismatch = true;
		f->damaged = true;
		log_warn("inode %llu lost committed data (%lld bytes committed, "
			 "%lld consistent): returning EIO",
			 (unsigned long long)st.st_ino, (long long)f->committed,
			 (long long)rc->size);
		goto out;
	}
	if (rc->nfix == 0 && csize_with_header(f, rc->size) == st.st_size &&
	    (rc->size || st.st_size <= f->ctx->hlen))
		goto out; /* consistent as it is */
fix:
	out->torn_tail = true;
	if (!repair) {
		r = 0;
		goto out;
	}
	{
		int wfd = writable_fd(fd);

		if (wfd < 0) {
			r = -errno;
			goto out;
		}
		r = recover_apply(f, wfd, rc);
		close(wfd);
	}
	if (r)
		goto out;
	log_warn("inode %llu had a torn tail or a torn block after a crash: "
		 "recovered at %lld bytes (%lld committed)",
		 (unsigned long long)st.st_ino, (long long)rc->size,
		 (long long)f->committed);
	out->backing_after = f->csize;
	r = 1;
out:
	if (ls) {
		journal_free(ls->j);
		free(ls);
	}
	return r;
}

int content_file_open(struct content_ctx *ctx, int fd,
		      struct content_file **out)
{
	struct content_check chk;
	struct content_file *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ctx = ctx;
	f->key = secmem_alloc(64);
	if (!f->key) {
		free(f);
		return -ENOMEM;
	}
	memset(&chk, 0, sizeof(chk));
	r = load_file(f, fd, true, &chk);
	if (r < 0) {
		content_file_free(f);
		return r;
	}
	*out = f;
	return 0;
}

void content_file_free(struct content_file *f)
{
	if (!f)
		return;
	secmem_free(f->key);
	free(f);
}

int content_check_file(struct content_ctx *ctx, int fd, bool repair,
		       struct content_check *out)
{
	struct content_file f = { .ctx = ctx };
	uint8_t plain[CONTENT_BLOCK];
	uint64_t nb;
	int r;

	memset(out, 0, sizeof(*out));
	f.key = secmem_alloc(64);
	if (!f.key)
		return -ENOMEM;
	r = load_file(&f, fd, repair, out);
	if (f.has_header) { /* fsck checks xattr values against it */
		out->has_file_id = true;
		memcpy(out->file_id, f.id, sizeof(f.id));
	}
	if (r < 0) {
		if (r == -EIO && out->bad_header)
			r = 2;
		goto out;
	}
	if (f.damaged) {
		r = 2;
		goto out;
	}
	/* Every block up to the consistent size (a tail left unrepaired is
	 * reported as such, not as bad blocks: a mount would cut it back). */
	if (out->torn_tail && !repair)
		set_csize(&f, csize_with_header(&f, out->size));
	nb = (uint64_t)(content_size(&f) + CONTENT_BLOCK - 1) / CONTENT_BLOCK;
	for (uint64_t b = 0; b < nb; b++) {
		ssize_t n = read_block(&f, fd, b, plain);

		if (n == -EIO) {
			if (!out->bad_blocks++)
				out->first_bad_block = b;
		} else if (n < 0) {
			r = (int)n;
			goto out;
		}
	}
	secmem_wipe(plain, sizeof(plain));
	if (out->bad_blocks || (out->torn_tail && !repair))
		r = 2;
out:
	secmem_free(f.key);
	return r;
}

/* ---- byte ranges ---- */

ssize_t content_read(struct content_file *f, int fd, void *buf, size_t size,
		     off_t off)
{
	off_t psize = content_size(f), end, cstart;
	uint64_t b0, b1;
	size_t clen, done = 0;
	uint8_t *c, plain[CONTENT_BLOCK];
	bool used_plain = false;
	ssize_t n;

	if (f->damaged || (psize < 0 && f->csize < f->ctx->hlen))
		return -EIO;
	if (psize < 0) {
		/* Cut short: serve the whole blocks, the rest fails below. */
		psize = (f->csize - f->ctx->hlen) / CONTENT_CBLOCK *
			CONTENT_BLOCK + CONTENT_BLOCK;
	}
	if (off < 0)
		return -EINVAL;
	if (off >= psize || size == 0)
		return 0;
	end = off + (off_t)size < psize ? off + (off_t)size : psize;
	b0 = (uint64_t)off / CONTENT_BLOCK;
	b1 = (uint64_t)(end - 1) / CONTENT_BLOCK;
	cstart = block_off(f, b0);
	clen = (size_t)(b1 - b0 + 1) * CONTENT_CBLOCK;
	if (cstart + (off_t)clen > f->csize)
		clen = (size_t)(f->csize - cstart);
	c = scratch_get(SCRATCH_CIPHER, clen);
	if (!c)
		return -ENOMEM;
	n = pread(fd, c, clen, cstart);
	if (n < 0)
		return -errno;
	if ((size_t)n != clen)
		return -EIO;

	for (uint64_t b = b0; b <= b1; b++) {
		size_t boff = (size_t)(b - b0) * CONTENT_CBLOCK;
		size_t blen = clen - boff < CONTENT_CBLOCK ? clen - boff
							   : CONTENT_CBLOCK;
		off_t pstart = (off_t)b * CONTENT_BLOCK;
		size_t from = b == b0 ? (size_t)(off - pstart) : 0;
		size_t to = b == b1 ? (size_t)(end - pstart) : CONTENT_BLOCK;
		bool whole = from == 0 && to == CONTENT_BLOCK &&
			     blen == CONTENT_CBLOCK;
		/* Whole blocks decrypt straight into the caller's buffer. */
		uint8_t *dst = whole ? (uint8_t *)buf + done : plain;

		used_plain |= !whole;
		n = open_block(f, b, c + boff, blen, dst);
		if (n == -EIO)
			stats_auth_failure(fd);
		if (n >= 0 && (size_t)n < to)
			n = -EIO; /* a short block in the middle */
		if (n < 0)
			goto out;
		if (!whole)
			memcpy((uint8_t *)buf + done, plain + from, to - from);
		done += to - from;
	}
	n = (ssize_t)done;
out:
	if (used_plain)
		secmem_wipe(plain, sizeof(plain));
	return n;
}

/*
 * The writes of one operation, in the order the power-loss model needs:
 * dirty mark, space reservation, then each run of existing blocks
 * journalled and overwritten, then the new blocks. @p c holds the stored
 * blocks b0..b1 back to back (@p clen bytes); @p pad (if @p pad_len) is
 * block @p pad_b. Both have CONTENT_JOURNAL_HDR spare bytes in front (see
 * journal_write()).
 */
struct plan {
	uint64_t pad_b;
	uint8_t *pad;
	size_t pad_len;
	uint64_t b0, b1;
	uint8_t *c;
	size_t clen;
	off_t res_from, res_to; /* range bytes to reserve (may grow the file) */
	off_t grow_to;     /* sparse growth by ftruncate (0: none) */
	off_t commit_size; /* for the dirty mark: the size before (or after a shrink) */
	bool shrink;       /* the dirty mark carries the new, smaller size */
	bool same_size;    /* only overwrites: journal records suffice */
};

/* Before anything is written: reserve the bytes this plan writes, so that
 * ENOSPC and EFBIG come now (the file unchanged), not half way. */
static int reserve(struct content_file *f, int fd, off_t from, off_t to)
{
	int mode = to > f->csize ? 0 : FALLOC_FL_KEEP_SIZE;
	off_t mark = f->resv > f->ctx->hlen ? f->resv : f->ctx->hlen;

	if (to <= from)
		return 0;
	/* Inside a file without holes the space is already ours, and so is
	 * the rest of its last allocated block (a small append). */
	if (!f->may_have_holes &&
	    (mode || to <= (f->csize + f->blksize - 1) / f->blksize * f->blksize))
		return 0;
	/*
	 * So is a range below the high-water mark: [hlen, resv) was found
	 * allocated at open (data before the first hole) or reserved by a
	 * successful fallocate since, and nothing frees it while the file is
	 * open here: the daemon is the volume's only writer, never punches
	 * holes, and every cut lowers the mark (set_csize()). Rewrites of a
	 * sparse file's reserved region then skip the call.
	 */
	if (from >= f->ctx->hlen && to <= mark)
		return 0;
	if (fallocate(fd, mode, from, to - from) == 0) {
		/* Contiguous with the mark: it moves up (a sequential writer
		 * into holes keeps it at its write position). */
		if (from >= f->ctx->hlen && from <= mark && to > mark)
			f->resv = to;
		return 0;
	}
	if (errno != EOPNOTSUPP)
		return -errno;
	/* No fallocate on this file system: at least the size limit. */
	if (to > f->csize && ftruncate(fd, to))
		return -errno;
	return 0;
}

static int run_plan(struct content_file *f, int fd, const struct plan *p)
{
	uint8_t old[CONTENT_COMMIT_LEN];
	uint64_t oseq = f->seq, ocjseq = f->cjseq;
	off_t ocommitted = f->committed, ocsize = f->csize;
	bool odirty = f->dirty, new_header = false;
	uint64_t existing = (uint64_t)(content_size(f) + CONTENT_BLOCK - 1) / CONTENT_BLOCK;
	uint64_t kfree, jend;
	uint32_t njournal;
	off_t hole_to = 0; /* holes before the reservation: run_is_hole() */
	size_t done = 0;
	int r = 0;

	/* 1. Header for a file that had none (its commit record is dirty). */
	if (!f->has_header) {
		r = create_header(f, fd, true);
		if (r)
			return r;
		new_header = true;
		oseq = f->seq;
		ocsize = 0;
	}
	memcpy(old, f->craw[(f->seq + 1) % 2], sizeof(old));
	/* 2. Dirty mark with the size before this operation, before the
	 * first byte of content or size changes: recovery looks for the last
	 * block at that length (an overwrite that keeps the size is marked by
	 * its journal record, which the open of a clean file looks at). */
	if ((!p->same_size && (!f->dirty || f->committed != p->commit_size)) ||
	    p->shrink) {
		r = commit_write(f, fd, p->commit_size, true);
		if (r)
			goto undo;
	}
	/* Which blocks go through the journal (step 4): those that exist and
	 * hold committed bytes. A block wholly past the committed size of a
	 * dirty file holds no byte a durability point covered: torn, it ends
	 * the file at recovery (recover_scan()), which the promise allows for
	 * writes since that point; such blocks go out with the new ones, in
	 * one write (a sequential rewrite of a preallocated file is one pwrite
	 * per request instead of two per run). */
	kfree = f->dirty ? ((uint64_t)f->committed + CONTENT_BLOCK - 1) / CONTENT_BLOCK
			 : UINT64_MAX;
	jend = existing < kfree ? existing : kfree;
	if (jend > p->b1 + 1)
		jend = p->b1 + 1;
	njournal = p->clen && p->b0 < jend
			   ? (jend - p->b0 < f->ctx->jmax ? (uint32_t)(jend - p->b0)
							  : f->ctx->jmax)
			   : 0;
	if (p->pad_len && njournal == 0)
		njournal = 1;
	if (p->clen && p->b0 < jend)
		hole_to = holes_until(f, fd, p->b0, ocsize);
	/* 3. Space and size next: if that fails, the dirty mark is undone
	 * and the file is byte for byte as it was. */
	if (p->pad_len)
		r = reserve(f, fd, block_off(f, p->pad_b),
			    block_off(f, p->pad_b) + (off_t)p->pad_len);
	if (!r)
		r = reserve(f, fd, p->res_from, p->res_to);
	if (!r && njournal)
		r = journal_reserve(f, fd, njournal);
	if (!r && p->grow_to > f->csize && ftruncate(fd, p->grow_to))
		r = -errno;
	if (r)
		goto undo;
	if (p->grow_to > f->csize || (p->res_to > p->res_from && p->res_from > f->csize))
		f->may_have_holes = true; /* a gap left before the new end */
	if (p->pad_len && block_off(f, p->pad_b) + (off_t)p->pad_len > f->csize)
		set_csize(f, block_off(f, p->pad_b) + (off_t)p->pad_len);
	if (p->res_to > f->csize)
		set_csize(f, p->res_to);
	if (p->grow_to > f->csize)
		set_csize(f, p->grow_to);
	/* 4. Existing blocks that hold committed bytes: each run of up to
	 * K of them to the journal, then in place in one write. */
	if (p->pad_len) {
		r = journal_write(f, fd, p->pad_b, 1, p->pad, p->pad_len);
		if (!r)
			r = pwrite_all(fd, p->pad, p->pad_len, block_off(f, p->pad_b));
		if (r)
			goto fail;
	}
	for (uint64_t b = p->b0; b < jend && done < p->clen;) {
		uint32_t n = jend - b < f->ctx->jmax ? (uint32_t)(jend - b) : f->ctx->jmax;
		/* Only block b1, the last of the range, may be partial. */
		size_t len = p->clen - done < (size_t)n * CONTENT_CBLOCK
				     ? p->clen - done
				     : (size_t)n * CONTENT_CBLOCK;

		if (run_is_hole(f, fd, b, n, len, ocsize, hole_to))
			r = journal_write_hole(f, fd, b, n);
		else
			r = journal_write(f, fd, b, n, p->c + done, len);
		if (!r)
			r = pwrite_all(fd, p->c + done, len, block_off(f, b));
		if (r)
			goto fail;
		done += len;
		b += n;
	}
	/* 5. New blocks (and those past the committed size): one write; a
	 * torn one is cut back at recovery. */
	if (done < p->clen) {
		r = pwrite_all(fd, p->c + done, p->clen - done,
			       block_off(f, p->b0) + (off_t)done);
		if (r)
			goto fail;
	}
	return 0;
undo:
	commit_undo(f, fd, old, oseq, ocommitted, odirty, ocjseq);
	if (new_header) {
		if (ftruncate(fd, 0) == 0) {
			f->has_header = false;
			set_csize(f, 0);
		}
	} else if (ftruncate(fd, ocsize) == 0) {
		set_csize(f, ocsize);
	}
	return r;
fail:
	/* A device error half way: the file stays dirty; the next open
	 * recovers it like after a crash. */
	{
		struct stat st;

		if (fstat(fd, &st) == 0)
			set_csize(f, st.st_size);
	}
	return r;
}

ssize_t content_write(struct content_file *f, int fd, const void *buf,
		      size_t size, off_t off)
{
	const uint8_t *src = buf;
	off_t psize, end;
	uint64_t b0, b1, nblocks;
	uint8_t *c, *nonces, plain[CONTENT_BLOCK];
	uint8_t pad[CONTENT_JOURNAL_HDR + CONTENT_CBLOCK];
	struct plan p = { 0 };
	size_t clen = 0;
	ssize_t n;
	int r = 0;

	if (off < 0 || size > SSIZE_MAX)
		return -EINVAL;
	if (size == 0)
		return 0;
	if (off > f->ctx->max_size || (off_t)size > f->ctx->max_size - off)
		return -EFBIG;
	if (f->damaged)
		return -EIO;
	psize = content_size(f);
	if (psize < 0)
		return -EIO;
	r = new_file_id(f);
	if (r)
		return r;
	/* 1. The old last block becomes a middle block: pad it to full. */
	if (psize % CONTENT_BLOCK &&
	    (uint64_t)off / CONTENT_BLOCK > (uint64_t)psize / CONTENT_BLOCK) {
		p.pad_b = (uint64_t)psize / CONTENT_BLOCK;
		p.pad = pad + CONTENT_JOURNAL_HDR;
		r = reseal_block(f, fd, p.pad_b, CONTENT_BLOCK, p.pad);
		if (r)
			return r;
		p.pad_len = CONTENT_CBLOCK;
	}
	end = off + (off_t)size;
	b0 = (uint64_t)off / CONTENT_BLOCK;
	b1 = (uint64_t)(end - 1) / CONTENT_BLOCK;
	nblocks = b1 - b0 + 1;
	c = scratch_get(SCRATCH_CIPHER, CONTENT_JOURNAL_HDR + nblocks * CONTENT_CBLOCK +
						nblocks * CRYPTO_NONCE_LEN);
	if (!c)
		return -ENOMEM;
	c += CONTENT_JOURNAL_HDR; /* room for a journal record's header */
	nonces = c + nblocks * CONTENT_CBLOCK;
	r = crypto_random(nonces, nblocks * CRYPTO_NONCE_LEN);
	if (r)
		return r;

	/* 2. Encrypt every block of the range; partial ones read-modify-write. */
	for (uint64_t b = b0; b <= b1; b++) {
		off_t pstart = (off_t)b * CONTENT_BLOCK;
		size_t from = b == b0 ? (size_t)(off - pstart) : 0;
		size_t to = b == b1 ? (size_t)(end - pstart) : CONTENT_BLOCK;
		size_t old_len = 0, new_len;
		const uint8_t *pt;

		if (pstart < psize)
			old_len = psize - pstart < CONTENT_BLOCK
					  ? (size_t)(psize - pstart)
					  : CONTENT_BLOCK;
		if (p.pad_len && b == p.pad_b)
			old_len = CONTENT_BLOCK;
		new_len = to > old_len ? to : old_len;
		if (from == 0 && to == new_len) {
			pt = src + (pstart + (off_t)from - off);
		} else {
			if (old_len) {
				n = read_block(f, fd, b, plain);
				if (n < 0) {
					r = (int)n;
					goto out;
				}
			}
			if (old_len < from)
				memset(plain + old_len, 0, from - old_len);
			memcpy(plain + from, src + (pstart + (off_t)from - off),
			       to - from);
			pt = plain;
		}
		r = seal_block(f, b, pt, new_len,
			       nonces + (b - b0) * CRYPTO_NONCE_LEN, c + clen);
		if (r)
			goto out;
		clen += new_len + CONTENT_OVERHEAD;
	}
	secmem_wipe(plain, sizeof(plain));

	/* 3. The writes, in crash-safe order. */
	p.b0 = b0;
	p.b1 = b1;
	p.c = c;
	p.clen = clen;
	p.res_from = block_off(f, b0);
	p.res_to = block_off(f, b0) + (off_t)clen;
	p.same_size = f->has_header && end <= psize;
	p.commit_size = f->has_header ? psize : 0;
	r = run_plan(f, fd, &p);
out:
	secmem_wipe(plain, sizeof(plain));
	return r ? r : (ssize_t)size;
}

int content_truncate(struct content_file *f, int fd, off_t size)
{
	off_t psize;
	/* The new last block, with room for its journal record's header. */
	uint8_t buf[CONTENT_JOURNAL_HDR + CONTENT_CBLOCK];
	uint8_t *blk = buf + CONTENT_JOURNAL_HDR;
	struct plan p = { 0 };
	int r;

	if (size < 0)
		return -EINVAL;
	if (size > f->ctx->max_size)
		return -EFBIG;
	if (f->damaged)
		return -EIO;
	psize = content_size(f);
	if (psize < 0)
		return -EIO;
	if (size == psize)
		return 0;
	r = new_file_id(f);
	if (r)
		return r;
	if (size > psize) {
		/* Grow: zero-extend the old last block, the rest is holes. */
		if (psize % CONTENT_BLOCK) {
			uint64_t last = (uint64_t)psize / CONTENT_BLOCK;
			size_t len = (uint64_t)size / CONTENT_BLOCK > last
					     ? CONTENT_BLOCK
					     : (size_t)(size % CONTENT_BLOCK);

			r = reseal_block(f, fd, last, len, blk);
			if (r)
				return r;
			p.pad_b = last;
			p.pad = blk;
			p.pad_len = len + CONTENT_OVERHEAD;
		}
		p.b0 = 1;
		p.b1 = 0; /* no range */
		p.commit_size = f->has_header ? psize : 0;
		/* Holes stay holes: only the padded block is reserved. */
		p.grow_to = content_cipher_size(f->ctx, size);
		return run_plan(f, fd, &p);
	}
	/* Shrink: the dirty mark carries the new size first, then the new
	 * last block (journalled), then the cut. */
	if (size % CONTENT_BLOCK) {
		r = reseal_block(f, fd, (uint64_t)size / CONTENT_BLOCK,
				 (size_t)(size % CONTENT_BLOCK), blk);
		if (r)
			return r;
		p.pad_b = (uint64_t)size / CONTENT_BLOCK;
		p.pad = blk;
		p.pad_len = (size_t)(size % CONTENT_BLOCK) + CONTENT_OVERHEAD;
	}
	p.b0 = 1;
	p.b1 = 0;
	p.commit_size = size;
	p.shrink = true;
	r = run_plan(f, fd, &p);
	if (r)
		return r;
	if (ftruncate(fd, csize_with_header(f, size)))
		return -errno;
	set_csize(f, csize_with_header(f, size));
	return 0;
}

/*
 * Whether plaintext block @p b of a file is a hole: its stored bytes are
 * past the end, in a backing hole, or all zero (a backing block shared
 * with a written neighbour). 1 hole, 0 data, or a negative errno.
 */
static int block_is_hole(const struct content_file *f, int fd, uint64_t b)
{
	uint8_t buf[CONTENT_CBLOCK];
	off_t s = block_off(f, b), e = block_off(f, b + 1), next;
	ssize_t n;

	if (e > f->csize)
		e = f->csize;
	if (s >= e)
		return 1;
	next = lseek(fd, s, SEEK_DATA);
	if (next < 0)
		return errno == ENXIO ? 1 : -errno;
	if (next >= e)
		return 1;
	n = pread(fd, buf, (size_t)(e - s), s);
	if (n < 0)
		return -errno;
	return all_zero(buf, (size_t)n);
}

/* The plaintext block holding backing offset @p c (the header: block 0). */
static uint64_t block_at(const struct content_file *f, off_t c)
{
	return c < f->ctx->hlen ? 0
				: (uint64_t)(c - f->ctx->hlen) / CONTENT_CBLOCK;
}

/*
 * Block by block, as ext4 answers at its own block size: the backing
 * file's holes are only a guide, since a ciphertext block (4096 + 32
 * bytes) straddles backing blocks; a block is only looked at (one pread)
 * where a backing data region starts or ends inside it.
 */
off_t content_seek(struct content_file *f, int fd, off_t off, int whence)
{
	off_t psize = content_size(f), r, pos;
	uint64_t b;
	int h;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (psize < 0 || f->damaged)
		return -EIO;
	if (off < 0)
		return -EINVAL;
	if (off >= psize)
		return -ENXIO;
	b = (uint64_t)off / CONTENT_BLOCK;
	for (;;) {
		pos = (off_t)b * CONTENT_BLOCK;
		if (pos >= psize)
			return whence == SEEK_DATA ? -ENXIO : psize;
		if (whence == SEEK_DATA) {
			/* Jump over whole backing holes first. */
			r = lseek(fd, block_off(f, b), SEEK_DATA);
			if (r < 0)
				return errno == ENXIO ? -ENXIO : -errno;
			if (block_at(f, r) > b) {
				b = block_at(f, r);
				continue;
			}
		}
		h = block_is_hole(f, fd, b);
		if (h < 0)
			return h;
		if ((whence == SEEK_DATA) != (bool)h)
			return pos > off ? pos : off;
		if (whence == SEEK_DATA) {
			b++;
			continue;
		}
		/* Data: every block wholly before the next backing hole is
		 * data too (a written block is never all zero). */
		r = lseek(fd, block_off(f, b), SEEK_HOLE);
		if (r < 0)
			return -errno;
		b = block_at(f, r) > b ? block_at(f, r) : b + 1;
	}
}

size_t content_blob_sealed_len(size_t len)
{
	return len + CONTENT_OVERHEAD;
}

ssize_t content_blob_plain_len(size_t sealed_len)
{
	return sealed_len < CONTENT_OVERHEAD
		       ? -EIO
		       : (ssize_t)(sealed_len - CONTENT_OVERHEAD);
}

int content_blob_seal(struct content_ctx *ctx, const void *aad,
		      size_t aad_len, const void *in, size_t len, uint8_t *out)
{
	int r = crypto_random(out, CRYPTO_NONCE_LEN);

	if (r)
		return r;
	return crypto_gcm_seal(ctx->xkey, out, CRYPTO_NONCE_LEN, aad, aad_len,
			       in, len, out + CRYPTO_NONCE_LEN,
			       out + CRYPTO_NONCE_LEN + len);
}

int content_blob_open(struct content_ctx *ctx, const void *aad,
		      size_t aad_len, const uint8_t *in, size_t len, void *out)
{
	size_t plen;

	if (len < CONTENT_OVERHEAD)
		return -EIO;
	plen = len - CONTENT_OVERHEAD;
	return crypto_gcm_open(ctx->xkey, in, CRYPTO_NONCE_LEN, aad, aad_len,
			       in + CRYPTO_NONCE_LEN, plen, out,
			       in + CRYPTO_NONCE_LEN + plen)
		       ? -EIO
		       : 0;
}
