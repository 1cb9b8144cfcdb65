// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Content format tests on real temp files: round trips at every block
 * boundary, writes straddling blocks and past the end (holes), truncates
 * both ways, a random-operation run against an in-memory reference, and
 * every tamper case giving -EIO, never other data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "content.h"
#include "crypto.h"
#include "log.h"

#define H CONTENT_HEADER_LEN
#define CB CONTENT_CBLOCK

static struct content_ctx *ctx;
static char path[64];
static int fd;

static void setup(void)
{
	uint8_t key[32];

	memset(key, 0x42, sizeof(key));
	ck_assert_int_eq(content_ctx_new(key, &ctx), 0);
	strcpy(path, "/tmp/check_content.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	log_set_level(LOG_LVL_NONE); /* tamper tests expect warnings */
}

static void teardown(void)
{
	close(fd);
	unlink(path);
	content_ctx_free(ctx);
}

static struct content_file *open_cf(void)
{
	struct content_file *f;

	ck_assert_int_eq(content_file_open(ctx, fd, &f), 0);
	return f;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* Write n bytes at 0, reopen, read them back, check sizes both ways. */
static void roundtrip(size_t n)
{
	uint8_t *w = malloc(n + 1), *r = malloc(n + 100);
	struct content_file *f = open_cf();
	struct stat st;

	fill(w, n, (unsigned)n);
	ck_assert_int_eq(content_write(f, fd, w, n, 0), (ssize_t)n);
	content_file_free(f);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, content_cipher_size((off_t)n));
	ck_assert_int_eq(content_plain_size(st.st_size), (off_t)n);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, n + 100, 0), (ssize_t)n);
	ck_assert(!memcmp(w, r, n));
	content_file_free(f);
	free(w);
	free(r);
}

START_TEST(roundtrip_sizes)
{
	static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 1 << 20 };

	ck_assert_int_eq(ftruncate(fd, 0), 0);
	roundtrip(sizes[_i]);
}
END_TEST

START_TEST(size_mapping)
{
	ck_assert_int_eq(content_cipher_size(0), 0);
	ck_assert_int_eq(content_cipher_size(1), H + 33);
	ck_assert_int_eq(content_cipher_size(4096), H + CB);
	ck_assert_int_eq(content_cipher_size(4097), H + CB + 33);
	for (off_t p = 0; p < 20000; p += 97)
		ck_assert_int_eq(content_plain_size(content_cipher_size(p)), p);
	ck_assert_int_eq(content_plain_size(5), -EIO);          /* inside header */
	ck_assert_int_eq(content_plain_size(H + 20), -EIO);     /* block < overhead */
	ck_assert_int_eq(content_plain_size(H + CB + 32), -EIO);
}
END_TEST

START_TEST(write_straddling_blocks)
{
	uint8_t base[3 * 4096], patch[5000], r[3 * 4096];
	struct content_file *f = open_cf();

	fill(base, sizeof(base), 1);
	fill(patch, sizeof(patch), 2);
	ck_assert_int_eq(content_write(f, fd, base, sizeof(base), 0), (ssize_t)sizeof(base));
	ck_assert_int_eq(content_write(f, fd, patch, sizeof(patch), 3000), (ssize_t)sizeof(patch));
	memcpy(base + 3000, patch, sizeof(patch));
	content_file_free(f);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), (ssize_t)sizeof(r));
	ck_assert(!memcmp(r, base, sizeof(r)));
	/* Reads at unaligned offsets and lengths. */
	ck_assert_int_eq(content_read(f, fd, r, 10, 4090), 10);
	ck_assert(!memcmp(r, base + 4090, 10));
	content_file_free(f);
}
END_TEST

START_TEST(write_past_eof_leaves_holes)
{
	uint8_t a[100], b[50], r[200];
	struct content_file *f = open_cf();
	off_t far = 40 * 4096 + 7;
	struct stat st;

	fill(a, sizeof(a), 3);
	fill(b, sizeof(b), 4);
	ck_assert_int_eq(content_write(f, fd, a, sizeof(a), 0), 100);
	ck_assert_int_eq(content_write(f, fd, b, sizeof(b), far), 50);
	ck_assert_int_eq(content_size(f), far + 50);
	/* The old partial block was padded: it still decrypts. */
	ck_assert_int_eq(content_read(f, fd, r, 200, 0), 200);
	ck_assert(!memcmp(r, a, 100));
	for (int i = 100; i < 200; i++)
		ck_assert_int_eq(r[i], 0);
	ck_assert_int_eq(content_read(f, fd, r, 100, 20 * 4096), 100);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(r[i], 0);
	ck_assert_int_eq(content_read(f, fd, r, 100, far), 50);
	ck_assert(!memcmp(r, b, 50));
	fstat(fd, &st);
	ck_assert_msg(st.st_blocks * 512 < 16 * 4096, "backing file not sparse");
	ck_assert_int_eq(lseek(fd, H + 5 * CB, SEEK_HOLE), H + 5 * CB);
	content_file_free(f);
}
END_TEST

START_TEST(write_inside_last_partial_block)
{
	uint8_t a[10], r[200];
	struct content_file *f = open_cf();

	fill(a, 10, 5);
	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	ck_assert_int_eq(content_write(f, fd, a, 10, 150), 10); /* gap in the same block */
	ck_assert_int_eq(content_read(f, fd, r, 200, 0), 160);
	ck_assert(!memcmp(r, a, 10));
	for (int i = 10; i < 150; i++)
		ck_assert_int_eq(r[i], 0);
	ck_assert(!memcmp(r + 150, a, 10));
	content_file_free(f);
}
END_TEST

START_TEST(truncate_up_and_down)
{
	static const off_t sizes[] = { 5000, 4096, 4095, 1, 12288, 12289, 70000, 8191, 0, 3 };
	uint8_t ref[80000], r[80000];
	off_t cur = 20000;
	struct content_file *f = open_cf();

	fill(ref, 20000, 6);
	memset(ref + 20000, 0, sizeof(ref) - 20000);
	ck_assert_int_eq(content_write(f, fd, ref, 20000, 0), 20000);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		off_t n = sizes[i];
		ck_assert_int_eq(content_truncate(f, fd, n), 0);
		if (n < cur)
			memset(ref + n, 0, (size_t)(cur - n));
		cur = n;
		ck_assert_int_eq(content_size(f), n);
		ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), n);
		ck_assert_msg(!memcmp(r, ref, (size_t)n), "truncate to %lld", (long long)n);
	}
	content_file_free(f);
}
END_TEST

static void file_id(uint8_t id[16])
{
	ck_assert_int_eq(pread(fd, id, 16, 2), 16);
}

START_TEST(truncate_to_zero_gives_fresh_id)
{
	uint8_t a[10] = "0123456789", id1[16], id2[16];
	struct content_file *f = open_cf();
	struct stat st;

	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	file_id(id1);
	ck_assert_int_eq(content_truncate(f, fd, 0), 0);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, 0); /* an empty file has no header */
	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	file_id(id2);
	ck_assert(memcmp(id1, id2, 16) != 0);
	content_file_free(f);
}
END_TEST

START_TEST(random_ops_against_reference)
{
	enum { MAX = 200000 };
	uint8_t *ref = calloc(1, MAX), *buf = malloc(MAX), *r = malloc(MAX);
	struct content_file *f = open_cf();
	off_t size = 0;

	srandom(12345);
	for (int op = 0; op < 3000; op++) {
		int k = (int)(random() % 10);
		off_t off = random() % (size + 9000);
		size_t len = 1 + (size_t)(random() % (k < 2 ? 20000 : 5000));

		if (off + (off_t)len > MAX)
			continue;
		if (k < 6) {
			fill(buf, len, (unsigned)op);
			ck_assert_int_eq(content_write(f, fd, buf, len, off), (ssize_t)len);
			memcpy(ref + off, buf, len);
			if (off + (off_t)len > size)
				size = off + (off_t)len;
		} else if (k < 8) {
			off_t n = random() % (size + 9000);
			if (n > MAX)
				continue;
			ck_assert_int_eq(content_truncate(f, fd, n), 0);
			if (n < size)
				memset(ref + n, 0, (size_t)(size - n));
			size = n;
		} else {
			ssize_t want = off >= size ? 0
				       : (ssize_t)(len < (size_t)(size - off) ? len : (size_t)(size - off));
			ck_assert_int_eq(content_read(f, fd, r, len, off), want);
			ck_assert_msg(!memcmp(r, ref + off, (size_t)want), "op %d read", op);
		}
		if (op % 500 == 0) { /* a fresh view from disk, like a remount */
			content_file_free(f);
			f = open_cf();
			ck_assert_int_eq(content_size(f), size);
		}
	}
	ck_assert_int_eq(content_read(f, fd, r, MAX, 0), size);
	ck_assert(!memcmp(r, ref, (size_t)size));
	content_file_free(f);
	free(ref); free(buf); free(r);
}
END_TEST

/* Four full blocks written, then the file handed to @p damage. */
static void expect_eio_after(void (*damage)(void), off_t off, size_t len)
{
	uint8_t w[4 * 4096], r[4 * 4096];
	struct content_file *f = open_cf();

	fill(w, sizeof(w), 9);
	ck_assert_int_eq(content_write(f, fd, w, sizeof(w), 0), (ssize_t)sizeof(w));
	content_file_free(f);
	damage();
	if (content_file_open(ctx, fd, &f) != 0)
		return; /* refusing the header is an error too */
	ck_assert_int_eq(content_read(f, fd, r, len, off), -EIO);
	content_file_free(f);
}

static void flip(off_t at)
{
	uint8_t b;
	ck_assert_int_eq(pread(fd, &b, 1, at), 1);
	b ^= 0x10;
	ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
}
static void flip_ct(void) { flip(H + CB + 100); }
static void flip_nonce(void) { flip(H + 2 * CB + 3); }
static void flip_tag(void) { flip(H + 2 * CB - 1); }
static void flip_file_id(void) { flip(5); }
static void swap_blocks(void)
{
	uint8_t a[CB], b[CB];
	pread(fd, a, CB, H);
	pread(fd, b, CB, H + CB);
	pwrite(fd, b, CB, H);
	pwrite(fd, a, CB, H + CB);
}
static void cut_mid_block(void) { ck_assert_int_eq(ftruncate(fd, H + 3 * CB + 1000), 0); }
static void bad_version(void) { uint8_t v = 9; pwrite(fd, &v, 1, 1); }

START_TEST(tamper_bit_flip_ciphertext) { expect_eio_after(flip_ct, 4096, 4096); }
END_TEST
START_TEST(tamper_nonce) { expect_eio_after(flip_nonce, 2 * 4096, 10); }
END_TEST
START_TEST(tamper_tag) { expect_eio_after(flip_tag, 4096, 1); }
END_TEST
START_TEST(tamper_file_id) { expect_eio_after(flip_file_id, 0, 4096); }
END_TEST
START_TEST(tamper_swap_within_file) { expect_eio_after(swap_blocks, 0, 4096); }
END_TEST
START_TEST(tamper_truncated_mid_block) { expect_eio_after(cut_mid_block, 3 * 4096, 4096); }
END_TEST

START_TEST(tamper_unknown_version_refused)
{
	struct content_file *f;
	uint8_t w[100] = { 1 };

	f = open_cf();
	ck_assert_int_eq(content_write(f, fd, w, 100, 0), 100);
	content_file_free(f);
	bad_version();
	ck_assert_int_eq(content_file_open(ctx, fd, &f), -EIO);
}
END_TEST

START_TEST(tamper_block_from_other_file)
{
	char p2[] = "/tmp/check_content2.XXXXXX";
	int fd2 = mkstemp(p2);
	uint8_t w[2 * 4096], blk[CB], r[4096];
	struct content_file *f = open_cf(), *g;

	fill(w, sizeof(w), 11);
	ck_assert_int_eq(content_file_open(ctx, fd2, &g), 0);
	ck_assert_int_eq(content_write(f, fd, w, sizeof(w), 0), (ssize_t)sizeof(w));
	ck_assert_int_eq(content_write(g, fd2, w, sizeof(w), 0), (ssize_t)sizeof(w));
	/* Same key, same index, same plaintext: only the file ID differs. */
	pread(fd2, blk, CB, H + CB);
	pwrite(fd, blk, CB, H + CB);
	ck_assert_int_eq(content_read(f, fd, r, 4096, 4096), -EIO);
	ck_assert_int_eq(content_read(f, fd, r, 4096, 0), 4096); /* others still fine */
	content_file_free(f);
	content_file_free(g);
	close(fd2);
	unlink(p2);
}
END_TEST

START_TEST(zeroed_block_reads_as_hole)
{
	uint8_t w[3 * 4096], z[CB] = { 0 }, r[4096];
	struct content_file *f = open_cf();

	fill(w, sizeof(w), 12);
	ck_assert_int_eq(content_write(f, fd, w, sizeof(w), 0), (ssize_t)sizeof(w));
	pwrite(fd, z, CB, H + CB);
	ck_assert_int_eq(content_read(f, fd, r, 4096, 4096), 4096);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(r[i], 0);
	content_file_free(f);
}
END_TEST

START_TEST(seek_data_and_hole)
{
	uint8_t a[4096];
	struct content_file *f = open_cf();

	fill(a, sizeof(a), 13);
	ck_assert_int_eq(content_write(f, fd, a, 4096, 0), 4096);
	ck_assert_int_eq(content_write(f, fd, a, 4096, 100 * 4096), 4096);
	ck_assert_int_eq(content_seek(f, fd, 0, SEEK_DATA), 0);
	off_t hole = content_seek(f, fd, 0, SEEK_HOLE);
	ck_assert_int_ge(hole, 4096);
	ck_assert_int_le(hole, 2 * 4096);
	off_t data = content_seek(f, fd, hole, SEEK_DATA);
	ck_assert_int_ge(data, 98 * 4096);
	ck_assert_int_le(data, 100 * 4096);
	ck_assert_int_eq(content_seek(f, fd, 100 * 4096 + 10, SEEK_HOLE), 101 * 4096);
	ck_assert_int_eq(content_seek(f, fd, 101 * 4096, SEEK_DATA), -ENXIO);
	content_file_free(f);
}
END_TEST

/*
 * On-disk layout pinned by an independent implementation (Python
 * "cryptography": HKDF-SHA256 and AES-GCM with a 16-byte nonce) under the
 * fixture's content key 0x42 * 32, file ID a0..af:
 * A = header || block 0 ("atrestfs block 0", nonce 10..1f);
 * B = block 1 ("block one!", nonce 20..2f), stored after a hole block 0.
 */
#define KAT_HDR "0001a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
#define KAT_A KAT_HDR "101112131415161718191a1b1c1d1e1f0a6fb65310f21a030b9bc489" \
	"ac5c0d782ed4d81fb4ed8d5ebdd87fc61d9f6c89"
#define KAT_B "202122232425262728292a2b2c2d2e2fb4da113ae75748503108275112917ee2" \
	"b82b8b5766a3a78036f1"

START_TEST(known_answer_layout)
{
	size_t la, lb, lh;
	uint8_t *a = hex(KAT_A, &la), *b = hex(KAT_B, &lb), *h = hex(KAT_HDR, &lh);
	uint8_t r[4200], z[CB] = { 0 };
	struct content_file *f;

	ck_assert_int_eq(la, H + 16 + 32);
	ck_assert_int_eq(pwrite(fd, a, la, 0), (ssize_t)la);
	f = open_cf();
	ck_assert_int_eq(content_size(f), 16);
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), 16);
	ck_assert(!memcmp(r, "atrestfs block 0", 16));
	content_file_free(f);

	/* Block number 1 in the associated data; block 0 a hole. */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, h, lh, 0), (ssize_t)lh);
	ck_assert_int_eq(pwrite(fd, z, CB, H), CB);
	ck_assert_int_eq(pwrite(fd, b, lb, H + CB), (ssize_t)lb);
	f = open_cf();
	ck_assert_int_eq(content_size(f), 4096 + 10);
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), 4096 + 10);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(r[i], 0);
	ck_assert(!memcmp(r + 4096, "block one!", 10));
	content_file_free(f);

	/* The same block at index 0 must not open. */
	ck_assert_int_eq(pwrite(fd, b, lb, H), (ssize_t)lb);
	ck_assert_int_eq(ftruncate(fd, H + lb), 0);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), -EIO);
	content_file_free(f);
	free(a);
	free(b);
	free(h);
}
END_TEST

/* What content_write stores opens by hand with the documented layout. */
START_TEST(written_layout_opens_by_hand)
{
	uint8_t w[5000], key[32], ck[32], id[16], aad[24], c[CB], p[4096];
	struct content_file *f = open_cf();
	struct stat st;

	fill(w, sizeof(w), 21);
	ck_assert_int_eq(content_write(f, fd, w, sizeof(w), 0), (ssize_t)sizeof(w));
	content_file_free(f);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, H + CB + (5000 - 4096) + 32);
	ck_assert_int_eq(pread(fd, c, 2, 0), 2);
	ck_assert_int_eq(c[0], 0);
	ck_assert_int_eq(c[1], 1);
	file_id(id);
	memset(ck, 0x42, sizeof(ck));
	ck_assert_int_eq(crypto_hkdf(ck, 32, id, 16, (const uint8_t *)"atrestfs file",
				     13, key, 32), 0);
	for (uint64_t blk = 0; blk < 2; blk++) {
		size_t plen = blk ? 5000 - 4096 : 4096;

		memcpy(aad, id, 16);
		for (int i = 0; i < 8; i++)
			aad[16 + i] = (uint8_t)(blk >> (56 - 8 * i));
		ck_assert_int_eq(pread(fd, c, plen + 32, H + (off_t)blk * CB),
				 (ssize_t)(plen + 32));
		ck_assert_int_eq(crypto_gcm_open(key, c, 16, aad, 24, c + 16, plen, p,
						 c + 16 + plen), 0);
		ck_assert(!memcmp(p, w + blk * 4096, plen));
	}
}
END_TEST

START_TEST(truncate_grow_stays_sparse)
{
	uint8_t a[10] = "abcdefghij", r[4096];
	struct content_file *f = open_cf();
	off_t big = 64 << 20;
	struct stat st;

	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	ck_assert_int_eq(content_truncate(f, fd, big + 3), 0);
	ck_assert_int_eq(content_size(f), big + 3);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, content_cipher_size(big + 3));
	ck_assert_msg(st.st_blocks * 512 < 1 << 20, "grown file not sparse");
	ck_assert_int_eq(content_read(f, fd, r, 4096, 0), 4096);
	ck_assert(!memcmp(r, a, 10));
	for (int i = 10; i < 4096; i++)
		ck_assert_int_eq(r[i], 0);
	/* The new partial last block is a hole too: zeros, 3 bytes. */
	ck_assert_int_eq(content_read(f, fd, r, 4096, big), 3);
	ck_assert(!r[0] && !r[1] && !r[2]);
	content_file_free(f);
	f = open_cf();
	ck_assert_int_eq(content_size(f), big + 3);
	content_file_free(f);
}
END_TEST

START_TEST(limits_and_bad_whence)
{
	uint8_t a[10] = { 0 };
	struct content_file *f = open_cf();

	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	ck_assert_int_eq(content_seek(f, fd, 0, SEEK_SET), -EINVAL);
	ck_assert_int_eq(content_seek(f, fd, 0, SEEK_END), -EINVAL);
	ck_assert_int_eq(content_seek(f, fd, -1, SEEK_DATA), -EINVAL);
	ck_assert_int_eq(content_seek(f, fd, 10, SEEK_DATA), -ENXIO);
	ck_assert_int_eq(content_write(f, fd, a, 10, CONTENT_MAX_SIZE - 5), -EFBIG);
	ck_assert_int_eq(content_write(f, fd, a, 10, INT64_MAX - 3), -EFBIG);
	ck_assert_int_eq(content_write(f, fd, a, 10, -1), -EINVAL);
	ck_assert_int_eq(content_truncate(f, fd, CONTENT_MAX_SIZE + 1), -EFBIG);
	ck_assert_int_eq(content_truncate(f, fd, -1), -EINVAL);
	ck_assert_int_eq(content_read(f, fd, a, 10, -1), -EINVAL);
	ck_assert_int_le(content_cipher_size(CONTENT_MAX_SIZE), INT64_MAX);
	ck_assert_int_gt(content_cipher_size(CONTENT_MAX_SIZE), 0);
	ck_assert_int_eq(content_size(f), 10); /* nothing changed */
	content_file_free(f);
}
END_TEST

START_TEST(tamper_header_cut_short)
{
	struct content_file *f = open_cf();
	uint8_t a[10] = { 1 };

	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	content_file_free(f);
	ck_assert_int_eq(ftruncate(fd, H - 1), 0);
	ck_assert_int_eq(content_file_open(ctx, fd, &f), -EIO);
	ck_assert_int_eq(ftruncate(fd, H), 0); /* header only: no block */
	ck_assert_int_eq(content_file_open(ctx, fd, &f), 0);
	ck_assert_int_eq(content_size(f), 0);
	content_file_free(f);
}
END_TEST

/* Nothing of a block that fails authentication reaches the caller. */
START_TEST(tamper_leaks_no_plaintext)
{
	uint8_t w[3 * 4096], r[3 * 4096];
	struct content_file *f = open_cf();
	int same = 0;

	fill(w, sizeof(w), 22);
	ck_assert_int_eq(content_write(f, fd, w, sizeof(w), 0), (ssize_t)sizeof(w));
	flip(H + CB + 2000);
	memset(r, 0xaa, sizeof(r));
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), -EIO);
	for (int i = 4096; i < 2 * 4096; i++)
		same += r[i] == w[i];
	ck_assert_msg(same < 200, "%d bytes of the forged block reached the buffer", same);
	memset(r, 0xaa, sizeof(r));
	ck_assert_int_eq(content_read(f, fd, r, 100, 4096 + 10), -EIO);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(r[i], 0xaa);
	content_file_free(f);
}
END_TEST

/*
 * The caller's locking contract (shared for reads, exclusive for writes):
 * readers on several threads, each with its own per-thread buffer, always
 * see whole blocks of one generation while a writer rewrites them.
 */
enum { CONC_BLOCKS = 64, CONC_GENS = 60 };
static pthread_rwlock_t conc_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct content_file *conc_f;
static volatile int conc_done;

static void *conc_reader(void *arg)
{
	uint8_t *r = malloc(CONC_BLOCKS * 4096);
	long bad = 0, reads = 0;

	(void)arg;
	while (!conc_done || reads == 0) {
		off_t off = (random() % CONC_BLOCKS) * 4096 + random() % 100;
		size_t len = 1 + (size_t)(random() % (CONC_BLOCKS * 4096 - off));
		ssize_t n;

		pthread_rwlock_rdlock(&conc_lock);
		n = content_read(conc_f, fd, r, len, off);
		pthread_rwlock_unlock(&conc_lock);
		reads++;
		if (n != (ssize_t)len) {
			bad++;
			continue;
		}
		/* Each block holds one byte value: its generation. */
		for (size_t i = 1; i < len; i++)
			if ((off + (off_t)i) % 4096 && r[i] != r[i - 1])
				bad++;
	}
	free(r);
	return (void *)bad;
}

START_TEST(concurrent_readers_and_writer)
{
	uint8_t *w = malloc(CONC_BLOCKS * 4096);
	pthread_t t[4];

	conc_f = open_cf();
	conc_done = 0;
	memset(w, 0, CONC_BLOCKS * 4096);
	ck_assert_int_eq(content_write(conc_f, fd, w, CONC_BLOCKS * 4096, 0),
			 CONC_BLOCKS * 4096);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, conc_reader, NULL), 0);
	for (int g = 1; g <= CONC_GENS; g++) {
		int b = g % CONC_BLOCKS, nb = 1 + g % 7;

		if (b + nb > CONC_BLOCKS)
			nb = CONC_BLOCKS - b;
		memset(w, g, (size_t)nb * 4096);
		pthread_rwlock_wrlock(&conc_lock);
		ck_assert_int_eq(content_write(conc_f, fd, w, (size_t)nb * 4096,
					       (off_t)b * 4096), nb * 4096);
		pthread_rwlock_unlock(&conc_lock);
	}
	conc_done = 1;
	for (int i = 0; i < 4; i++) {
		void *bad;

		pthread_join(t[i], &bad);
		ck_assert_int_eq((long)bad, 0);
	}
	content_file_free(conc_f);
	free(w);
}
END_TEST

START_TEST(blob_seal_open_and_tamper)
{
	uint8_t out[64 + CONTENT_OVERHEAD], back[64];

	ck_assert_int_eq(content_blob_seal(ctx, "aad", 3, "value!", 6, out), 0);
	ck_assert_int_eq(content_blob_open(ctx, "aad", 3, out, 6 + CONTENT_OVERHEAD, back), 0);
	ck_assert(!memcmp(back, "value!", 6));
	ck_assert_int_eq(content_blob_open(ctx, "aaX", 3, out, 6 + CONTENT_OVERHEAD, back), -EIO);
	out[20] ^= 1;
	ck_assert_int_eq(content_blob_open(ctx, "aad", 3, out, 6 + CONTENT_OVERHEAD, back), -EIO);
	ck_assert_int_eq(content_blob_open(ctx, "aad", 3, out, 5, back), -EIO);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("content");
	TCase *tc = tcase_create("roundtrip_sizes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, roundtrip_sizes, 0, 7);
	suite_add_tcase(s, tc);
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(size_mapping);
	T(write_straddling_blocks);
	T(write_past_eof_leaves_holes);
	T(write_inside_last_partial_block);
	T(truncate_up_and_down);
	T(truncate_to_zero_gives_fresh_id);
	T(random_ops_against_reference);
	T(tamper_bit_flip_ciphertext);
	T(tamper_nonce);
	T(tamper_tag);
	T(tamper_file_id);
	T(tamper_swap_within_file);
	T(tamper_truncated_mid_block);
	T(tamper_unknown_version_refused);
	T(tamper_block_from_other_file);
	T(zeroed_block_reads_as_hole);
	T(seek_data_and_hole);
	T(blob_seal_open_and_tamper);
	T(known_answer_layout);
	T(written_layout_opens_by_hand);
	T(truncate_grow_stays_sparse);
	T(limits_and_bad_whence);
	T(tamper_header_cut_short);
	T(tamper_leaks_no_plaintext);
	T(concurrent_readers_and_writer);
	return run_suite(s);
}
