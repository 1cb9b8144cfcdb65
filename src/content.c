// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * File content of an encrypted volume: the header, the block layout, and
 * reading, writing and truncating any byte range through a backing fd.
 *
 * Every request touches the backing file with one pread (read) or one
 * pwrite (write) of all its blocks at once, assembled in a per-thread
 * buffer (tlsbuf.c), so that a 1 MiB FUSE write is one system call and no
 * allocation.
 * The backing size is cached in the per-file state: the daemon is the only
 * writer of the volume while it is mounted, and every change of size goes
 * through here (under the caller's exclusive lock).
 */
#include "content.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "secmem.h"
#include "tlsbuf.h"

#define AAD_LEN (CONTENT_FILE_ID_LEN + 8)

struct content_ctx {
	uint8_t *key; /* secmem, 32 bytes */
};

struct content_file {
	uint8_t *key;                    /* secmem; valid when has_header */
	uint8_t id[CONTENT_FILE_ID_LEN]; /* valid when has_header */
	bool has_header;
	off_t csize; /* backing size, the daemon being the only writer */
	struct content_ctx *ctx;
};

/* ---- sizes ---- */

off_t content_plain_size(off_t csize)
{
	off_t body, rem;

	if (csize == 0)
		return 0;
	if (csize < CONTENT_HEADER_LEN)
		return -EIO;
	body = csize - CONTENT_HEADER_LEN;
	rem = body % CONTENT_CBLOCK;
	if (rem && rem <= CONTENT_OVERHEAD)
		return -EIO; /* a block cannot be empty: cut short */
	return body / CONTENT_CBLOCK * CONTENT_BLOCK +
	       (rem ? rem - CONTENT_OVERHEAD : 0);
}

off_t content_cipher_size(off_t psize)
{
	off_t rem = psize % CONTENT_BLOCK;

	if (psize == 0)
		return 0;
	return CONTENT_HEADER_LEN + psize / CONTENT_BLOCK * CONTENT_CBLOCK +
	       (rem ? rem + CONTENT_OVERHEAD : 0);
}

off_t content_size(const struct content_file *f)
{
	return content_plain_size(f->csize);
}

off_t content_fd_plain_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	return content_plain_size(st.st_size);
}

/* ---- contexts ---- */

int content_ctx_new(const uint8_t key[32], struct content_ctx **out)
{
	struct content_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->key = secmem_alloc(32);
	if (!ctx->key) {
		free(ctx);
		return -ENOMEM;
	}
	memcpy(ctx->key, key, 32);
	*out = ctx;
	return 0;
}

void content_ctx_free(struct content_ctx *ctx)
{
	if (!ctx)
		return;
	secmem_free(ctx->key);
	free(ctx);
}

static int derive_file_key(struct content_file *f)
{
	static const char info[] = "atrestfs file";

	return crypto_hkdf(f->ctx->key, 32, f->id, sizeof(f->id),
			   (const uint8_t *)info, strlen(info), f->key, 32);
}

int content_file_open(struct content_ctx *ctx, int fd,
		      struct content_file **out)
{
	struct content_file *f;
	uint8_t hdr[CONTENT_HEADER_LEN];
	struct stat st;
	int r = 0;

	if (fstat(fd, &st))
		return -errno;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->ctx = ctx;
	f->csize = st.st_size;
	f->key = secmem_alloc(32);
	if (!f->key) {
		r = -ENOMEM;
		goto err;
	}
	if (st.st_size > 0) {
		if (content_plain_size(st.st_size) < 0) {
			log_warn("backing file (inode %llu) has an impossible "
				 "size %lld: truncated or corrupt",
				 (unsigned long long)st.st_ino,
				 (long long)st.st_size);
		}
		if (st.st_size < CONTENT_HEADER_LEN ||
		    pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
			r = -EIO;
			log_warn("file header of inode %llu is cut short",
				 (unsigned long long)st.st_ino);
			goto err;
		}
		if (hdr[0] != 0 || hdr[1] != CONTENT_VERSION) {
			r = -EIO;
			log_warn("file header of inode %llu has unknown version "
				 "%u", (unsigned long long)st.st_ino,
				 hdr[0] << 8 | hdr[1]);
			goto err;
		}
		memcpy(f->id, hdr + 2, sizeof(f->id));
		f->has_header = true;
		r = derive_file_key(f);
		if (r)
			goto err;
	}
	*out = f;
	return 0;
err:
	content_file_free(f);
	return r;
}

void content_file_free(struct content_file *f)
{
	if (!f)
		return;
	secmem_free(f->key);
	free(f);
}

/* A fresh file ID and its header, for an empty file's first byte. */
static int write_header(struct content_file *f, int fd)
{
	uint8_t hdr[CONTENT_HEADER_LEN] = { 0, CONTENT_VERSION };
	int r;

	r = crypto_random(f->id, sizeof(f->id));
	if (r)
		return r;
	r = derive_file_key(f);
	if (r)
		return r;
	memcpy(hdr + 2, f->id, sizeof(f->id));
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return errno ? -errno : -EIO;
	f->has_header = true;
	if (f->csize < CONTENT_HEADER_LEN)
		f->csize = CONTENT_HEADER_LEN;
	return 0;
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
static ssize_t open_block(const struct content_file *f, uint64_t b,
			  const uint8_t *c, size_t clen, uint8_t *plain)
{
	uint8_t aad[AAD_LEN];
	size_t plen;

	if (clen <= CONTENT_OVERHEAD || clen > CONTENT_CBLOCK) {
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
		log_warn("block %llu of file %02x%02x%02x%02x... failed "
			 "authentication: returning EIO",
			 (unsigned long long)b, f->id[0], f->id[1], f->id[2],
			 f->id[3]);
		return -EIO;
	}
	return (ssize_t)plen;
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

static off_t block_off(uint64_t b)
{
	return CONTENT_HEADER_LEN + (off_t)b * CONTENT_CBLOCK;
}

/* Read and decrypt one whole stored block into @p plain (4096 bytes). */
static ssize_t read_block(struct content_file *f, int fd, uint64_t b,
			  uint8_t *plain)
{
	uint8_t c[CONTENT_CBLOCK];
	off_t start = block_off(b);
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
	return open_block(f, b, c, want, plain);
}

/* Re-encrypt block @p b with plaintext length @p new_len (zero-extended). */
static int resize_block(struct content_file *f, int fd, uint64_t b,
			size_t new_len)
{
	uint8_t plain[CONTENT_BLOCK], c[CONTENT_CBLOCK],
		nonce[CRYPTO_NONCE_LEN];
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
	if (r)
		return r;
	if (pwrite(fd, c, new_len + CONTENT_OVERHEAD, block_off(b)) !=
	    (ssize_t)(new_len + CONTENT_OVERHEAD))
		return errno ? -errno : -EIO;
	if (block_off(b) + (off_t)(new_len + CONTENT_OVERHEAD) > f->csize)
		f->csize = block_off(b) + (off_t)(new_len + CONTENT_OVERHEAD);
	return 0;
}

/* ---- byte ranges ---- */

ssize_t content_read(struct content_file *f, int fd, void *buf, size_t size,
		     off_t off)
{
	off_t psize = content_plain_size(f->csize), end, cstart;
	uint64_t b0, b1;
	size_t clen, done = 0;
	uint8_t *c, plain[CONTENT_BLOCK];
	bool used_plain = false;
	ssize_t n;

	if (psize < 0 && f->csize < CONTENT_HEADER_LEN)
		return -EIO;
	if (psize < 0) {
		/* Cut short: serve the whole blocks, the rest fails below. */
		psize = (f->csize - CONTENT_HEADER_LEN) / CONTENT_CBLOCK *
			CONTENT_BLOCK + CONTENT_BLOCK;
	}
	if (off < 0)
		return -EINVAL;
	if (off >= psize || size == 0)
		return 0;
	end = off + (off_t)size < psize ? off + (off_t)size : psize;
	b0 = (uint64_t)off / CONTENT_BLOCK;
	b1 = (uint64_t)(end - 1) / CONTENT_BLOCK;
	cstart = block_off(b0);
	clen = (size_t)(b1 - b0 + 1) * CONTENT_CBLOCK;
	if (cstart + (off_t)clen > f->csize)
		clen = (size_t)(f->csize - cstart);
	c = tlsbuf_get(TLSBUF_CIPHER, clen);
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

ssize_t content_write(struct content_file *f, int fd, const void *buf,
		      size_t size, off_t off)
{
	const uint8_t *src = buf;
	off_t psize, end;
	uint64_t b0, b1, nblocks;
	uint8_t *c, *nonces, plain[CONTENT_BLOCK];
	size_t clen = 0;
	ssize_t n;
	int r;

	if (off < 0 || size > SSIZE_MAX)
		return -EINVAL;
	if (size == 0)
		return 0;
	if (off > CONTENT_MAX_SIZE || (off_t)size > CONTENT_MAX_SIZE - off)
		return -EFBIG;
	psize = content_plain_size(f->csize);
	if (psize < 0)
		return -EIO;
	if (!f->has_header) {
		r = write_header(f, fd);
		if (r)
			return r;
	}
	/* 1. The old last block becomes a middle block: pad it to full. */
	if (psize % CONTENT_BLOCK &&
	    (uint64_t)off / CONTENT_BLOCK > (uint64_t)psize / CONTENT_BLOCK) {
		r = resize_block(f, fd, (uint64_t)psize / CONTENT_BLOCK,
				 CONTENT_BLOCK);
		if (r)
			goto fail;
		psize = content_plain_size(f->csize);
	}
	end = off + (off_t)size;
	b0 = (uint64_t)off / CONTENT_BLOCK;
	b1 = (uint64_t)(end - 1) / CONTENT_BLOCK;
	nblocks = b1 - b0 + 1;
	c = tlsbuf_get(TLSBUF_CIPHER, nblocks * CONTENT_CBLOCK + nblocks * CRYPTO_NONCE_LEN);
	if (!c)
		return -ENOMEM;
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
		const uint8_t *p;

		if (pstart < psize)
			old_len = psize - pstart < CONTENT_BLOCK
					  ? (size_t)(psize - pstart)
					  : CONTENT_BLOCK;
		new_len = to > old_len ? to : old_len;
		if (from == 0 && to == new_len) {
			p = src + (pstart + (off_t)from - off);
		} else {
			if (old_len) {
				n = read_block(f, fd, b, plain);
				if (n < 0) {
					r = (int)n;
					goto fail;
				}
			}
			if (old_len < from)
				memset(plain + old_len, 0, from - old_len);
			memcpy(plain + from, src + (pstart + (off_t)from - off),
			       to - from);
			p = plain;
		}
		r = seal_block(f, b, p, new_len,
			       nonces + (b - b0) * CRYPTO_NONCE_LEN, c + clen);
		if (r)
			goto fail;
		clen += new_len + CONTENT_OVERHEAD;
	}
	secmem_wipe(plain, sizeof(plain));

	/* 3. One write for the whole range; a gap before it stays a hole. */
	n = pwrite(fd, c, clen, block_off(b0));
	if (n != (ssize_t)clen) {
		r = n < 0 ? -errno : -EIO;
		goto fail;
	}
	if (block_off(b0) + (off_t)clen > f->csize)
		f->csize = block_off(b0) + (off_t)clen;
	return (ssize_t)size;
fail:
	secmem_wipe(plain, sizeof(plain));
	{
		/* Whatever reached the disk, the cached size follows it. */
		struct stat st;
		if (fstat(fd, &st) == 0)
			f->csize = st.st_size;
	}
	return r;
}

int content_truncate(struct content_file *f, int fd, off_t size)
{
	off_t psize = content_plain_size(f->csize);
	uint64_t last;
	int r;

	if (size < 0)
		return -EINVAL;
	if (size > CONTENT_MAX_SIZE)
		return -EFBIG;
	if (psize < 0)
		psize = 0; /* a damaged tail is cut away or rewritten */
	if (size == 0) {
		if (ftruncate(fd, 0))
			return -errno;
		f->csize = 0;
		f->has_header = false; /* the next write gets a fresh ID */
		return 0;
	}
	if (size == psize)
		return 0;
	if (!f->has_header) {
		r = write_header(f, fd);
		if (r)
			return r;
	}
	if (size > psize) {
		/* Grow: zero-extend the old last block, the rest is holes. */
		if (psize % CONTENT_BLOCK) {
			last = (uint64_t)psize / CONTENT_BLOCK;
			r = resize_block(f, fd, last,
					 (uint64_t)size / CONTENT_BLOCK > last
						 ? CONTENT_BLOCK
						 : (size_t)(size % CONTENT_BLOCK));
			if (r)
				return r;
		}
	} else if (size % CONTENT_BLOCK) {
		/* Shrink into a block: re-encrypt it at its new length. */
		r = resize_block(f, fd, (uint64_t)size / CONTENT_BLOCK,
				 (size_t)(size % CONTENT_BLOCK));
		if (r)
			return r;
	}
	if (ftruncate(fd, content_cipher_size(size)))
		return -errno;
	f->csize = content_cipher_size(size);
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
	off_t s = block_off(b), e = block_off(b + 1), next;
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
	for (ssize_t i = 0; i < n; i++)
		if (buf[i])
			return 0;
	return 1;
}

/* The plaintext block holding backing offset @p c (the header: block 0). */
static uint64_t block_at(off_t c)
{
	return c < CONTENT_HEADER_LEN
		       ? 0
		       : (uint64_t)(c - CONTENT_HEADER_LEN) / CONTENT_CBLOCK;
}

/*
 * Block by block, as ext4 answers at its own block size: the backing
 * file's holes are only a guide, since a ciphertext block (4096 + 32
 * bytes) straddles backing blocks; a block is only looked at (one pread)
 * where a backing data region starts or ends inside it.
 */
off_t content_seek(struct content_file *f, int fd, off_t off, int whence)
{
	off_t psize = content_plain_size(f->csize), r, pos;
	uint64_t b;
	int h;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (psize < 0)
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
			r = lseek(fd, block_off(b), SEEK_DATA);
			if (r < 0)
				return errno == ENXIO ? -ENXIO : -errno;
			if (block_at(r) > b) {
				b = block_at(r);
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
		r = lseek(fd, block_off(b), SEEK_HOLE);
		if (r < 0)
			return -errno;
		b = block_at(r) > b ? block_at(r) : b + 1;
	}
}

int content_blob_seal(struct content_ctx *ctx, const void *aad,
		      size_t aad_len, const void *in, size_t len, uint8_t *out)
{
	int r = crypto_random(out, CRYPTO_NONCE_LEN);

	if (r)
		return r;
	return crypto_gcm_seal(ctx->key, out, CRYPTO_NONCE_LEN, aad, aad_len,
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
	return crypto_gcm_open(ctx->key, in, CRYPTO_NONCE_LEN, aad, aad_len,
			       in + CRYPTO_NONCE_LEN, plen, out,
			       in + CRYPTO_NONCE_LEN + plen)
		       ? -EIO
		       : 0;
}
