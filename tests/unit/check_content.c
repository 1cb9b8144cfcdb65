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
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
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
	ck_assert_int_eq(content_ctx_new(key, key, &ctx), 0);
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

/* A close, as the daemon's release does it: commit, then free. */
static void close_cf(struct content_file *f)
{
	ck_assert_int_eq(content_commit(f, fd), 0);
	content_file_free(f);
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
	close_cf(f);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, content_cipher_size((off_t)n));
	ck_assert_int_eq(content_plain_size(st.st_size), (off_t)n);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, n + 100, 0), (ssize_t)n);
	ck_assert(!memcmp(w, r, n));
	close_cf(f);
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
	close_cf(f);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), (ssize_t)sizeof(r));
	ck_assert(!memcmp(r, base, sizeof(r)));
	/* Reads at unaligned offsets and lengths. */
	ck_assert_int_eq(content_read(f, fd, r, 10, 4090), 10);
	ck_assert(!memcmp(r, base + 4090, 10));
	close_cf(f);
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
	close_cf(f);
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
	close_cf(f);
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
	close_cf(f);
}
END_TEST

static void file_id(uint8_t id[16])
{
	ck_assert_int_eq(pread(fd, id, 16, 2), 16);
}

/* Format 2 keeps the header (and so the ID xattr values are bound to)
 * when a file is truncated to zero. */
START_TEST(truncate_to_zero_keeps_header_and_id)
{
	uint8_t a[10] = "0123456789", id1[16], id2[16], r[20];
	struct content_file *f = open_cf();
	struct stat st;

	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	file_id(id1);
	ck_assert_int_eq(content_truncate(f, fd, 0), 0);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, CONTENT_EMPTY_LEN);
	ck_assert_int_eq(content_size(f), 0);
	close_cf(f);
	f = open_cf();
	ck_assert_int_eq(content_size(f), 0);
	ck_assert_int_eq(content_read(f, fd, r, 20, 0), 0);
	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	file_id(id2);
	ck_assert(!memcmp(id1, id2, 16));
	close_cf(f);
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
			close_cf(f);
			f = open_cf();
			ck_assert_int_eq(content_size(f), size);
		}
	}
	ck_assert_int_eq(content_read(f, fd, r, MAX, 0), size);
	ck_assert(!memcmp(r, ref, (size_t)size));
	close_cf(f);
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
	close_cf(f);
	damage();
	if (content_file_open(ctx, fd, &f) != 0)
		return; /* refusing the header is an error too */
	ck_assert_int_eq(content_read(f, fd, r, len, off), -EIO);
	close_cf(f);
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
	ck_assert_int_eq(pread(fd, a, CB, H), CB);
	ck_assert_int_eq(pread(fd, b, CB, H + CB), CB);
	ck_assert_int_eq(pwrite(fd, b, CB, H), CB);
	ck_assert_int_eq(pwrite(fd, a, CB, H + CB), CB);
}
static void cut_mid_block(void) { ck_assert_int_eq(ftruncate(fd, H + 3 * CB + 1000), 0); }
static void bad_version(void) { uint8_t v = 9; ck_assert_int_eq(pwrite(fd, &v, 1, 1), 1); }

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
	close_cf(f);
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
	ck_assert_int_eq(pread(fd2, blk, CB, H + CB), CB);
	ck_assert_int_eq(pwrite(fd, blk, CB, H + CB), CB);
	ck_assert_int_eq(content_read(f, fd, r, 4096, 4096), -EIO);
	ck_assert_int_eq(content_read(f, fd, r, 4096, 0), 4096); /* others still fine */
	close_cf(f);
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
	ck_assert_int_eq(pwrite(fd, z, CB, H + CB), CB);
	ck_assert_int_eq(content_read(f, fd, r, 4096, 4096), 4096);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(r[i], 0);
	close_cf(f);
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
	close_cf(f);
}
END_TEST

/*
 * On-disk layout pinned by an independent implementation (Python
 * "cryptography": HKDF-SHA256 and AES-GCM with a 16-byte nonce) under the
 * fixture's content key 0x42 * 32, file ID a0..af:
 * A = header || block 0 ("atrestfs block 0", nonce 10..1f);
 * B = block 1 ("block one!", nonce 20..2f), stored after a hole block 0.
 */
#define KAT_ID "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
#define KAT_A "101112131415161718191a1b1c1d1e1f0a6fb65310f21a030b9bc489" \
	"ac5c0d782ed4d81fb4ed8d5ebdd87fc61d9f6c89"
#define KAT_B "202122232425262728292a2b2c2d2e2fb4da113ae75748503108275112917ee2" \
	"b82b8b5766a3a78036f1"
/* Commit records (seq, size, clean) under HKDF(content key, salt = file ID,
 * info "atrestfs commit"), computed with Python's hmac. */
#define KAT_C1_16 "000000000000000100000000000000100000000000000000000000000000000091fd1b07" \
	"8486d4274cb2a720b1d7df2f4541ba326d3e0747e8b7d99252ec96be"
#define KAT_C1_4106 "0000000000000001000000000000100a000000000000000000000000000000003fa4a60f" \
	"bf70c166840458c41297a31e9e588acbd60ea712632aca7ad152a474"
#define KAT_C2_16 "000000000000000200000000000000100000000000000000000000000000000032da4ba8" \
	"6a2c5f8a53cda1c412de5f99c07e030aab8dfbc6b53d0137ec2a8575"

/* A format-2 file by hand: version, ID, commit record @p crec in slot
 * @p slot, nothing else. */
static void kat_header(const char *crec, int slot)
{
	uint8_t v[2] = { 0, 2 }, *id = hex(KAT_ID, NULL), *c = hex(crec, NULL);

	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, v, 2, 0), 2);
	ck_assert_int_eq(pwrite(fd, id, 16, 2), 16);
	ck_assert_int_eq(pwrite(fd, c, 64, 512 + 512 * slot), 64);
	ck_assert_int_eq(ftruncate(fd, H), 0);
	free(id);
	free(c);
}

START_TEST(known_answer_layout)
{
	size_t la, lb;
	uint8_t *a = hex(KAT_A, &la), *b = hex(KAT_B, &lb);
	uint8_t r[4200];
	struct content_file *f;

	ck_assert_int_eq(H, 9856);
	ck_assert_int_eq(la, 16 + 32);
	kat_header(KAT_C1_16, 1);
	ck_assert_int_eq(pwrite(fd, a, la, H), (ssize_t)la);
	f = open_cf();
	ck_assert_int_eq(content_size(f), 16);
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), 16);
	ck_assert(!memcmp(r, "atrestfs block 0", 16));
	content_file_free(f);
	/* The same with seq 2 in slot 0. */
	kat_header(KAT_C2_16, 0);
	ck_assert_int_eq(pwrite(fd, a, la, H), (ssize_t)la);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), 16);
	content_file_free(f);
	/* Seq 1 in slot 0 is in the wrong slot: no commit, data: EIO. */
	kat_header(KAT_C1_16, 0);
	ck_assert_int_eq(pwrite(fd, a, la, H), (ssize_t)la);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), -EIO);
	content_file_free(f);

	/* Block number 1 in the associated data; block 0 a hole. */
	kat_header(KAT_C1_4106, 1);
	ck_assert_int_eq(pwrite(fd, b, lb, H + CB), (ssize_t)lb);
	f = open_cf();
	ck_assert_int_eq(content_size(f), 4096 + 10);
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), 4096 + 10);
	for (int i = 0; i < 4096; i++)
		ck_assert_int_eq(r[i], 0);
	ck_assert(!memcmp(r + 4096, "block one!", 10));
	content_file_free(f);

	/* The same block at index 0 must not open. */
	kat_header(KAT_C1_16, 1);
	ck_assert_int_eq(pwrite(fd, b, lb, H), (ssize_t)lb);
	ck_assert_int_eq(ftruncate(fd, H + lb), 0);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), -EIO);
	content_file_free(f);
	free(a);
	free(b);
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
	close_cf(f);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, H + CB + (5000 - 4096) + 32);
	ck_assert_int_eq(pread(fd, c, 2, 0), 2);
	ck_assert_int_eq(c[0], 0);
	ck_assert_int_eq(c[1], 2);
	file_id(id);
	memset(ck, 0x42, sizeof(ck));
	/* The close wrote a clean commit record (seq 2: the first write made
	 * seq 1, dirty) in slot 0: HMAC(commit key, ID || first 32 bytes). */
	{
		uint8_t mk[32], rec[64], in[48], mac[32];

		ck_assert_int_eq(crypto_hkdf(ck, 32, id, 16, (const uint8_t *)"atrestfs commit",
					     15, mk, 32), 0);
		ck_assert_int_eq(pread(fd, rec, 64, 512), 64);
		ck_assert_int_eq(rec[7], 2);                      /* seq */
		ck_assert_int_eq(rec[14] << 8 | rec[15], 5000);   /* size */
		ck_assert_int_eq(rec[19], 0);                     /* clean */
		memcpy(in, id, 16);
		memcpy(in + 16, rec, 32);
		ck_assert_int_eq(crypto_hmac(mk, 32, in, 48, mac), 0);
		ck_assert(!memcmp(mac, rec + 32, 32));
		ck_assert_int_eq(pread(fd, rec, 64, 1024), 64);
		ck_assert_int_eq(rec[7], 1);
		ck_assert_int_eq(rec[19], 1); /* dirty */
	}
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
	close_cf(f);
	f = open_cf();
	ck_assert_int_eq(content_size(f), big + 3);
	close_cf(f);
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
	close_cf(f);
}
END_TEST

START_TEST(tamper_header_cut_short)
{
	struct content_file *f = open_cf();
	uint8_t a[10] = { 1 }, r[10];

	ck_assert_int_eq(content_write(f, fd, a, 10, 0), 10);
	close_cf(f);
	ck_assert_int_eq(ftruncate(fd, H), 0); /* header only: cut, EIO */
	ck_assert_int_eq(content_file_open(ctx, fd, &f), 0);
	ck_assert_int_eq(content_read(f, fd, r, 10, 0), -EIO);
	content_file_free(f);
	ck_assert_int_eq(ftruncate(fd, 17), 0); /* the ID cut short */
	ck_assert_int_eq(content_file_open(ctx, fd, &f), -EIO);
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
	close_cf(f);
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

/* ---- format 2: durability points, power loss, failed operations ---- */

/*
 * The backing writes of one operation are recorded (link-time wrappers of
 * pwrite, ftruncate and fallocate) so that a power cut can be replayed at
 * every point: the operations before the one in flight persist in order,
 * the one in flight persists any set of its 512-byte sectors (here: every
 * prefix, every suffix and every single sector), the rest is lost.
 */
enum { OP_PWRITE, OP_TRUNC, OP_FALLOC, MAX_OPS = 128 };
struct rec_op {
	int kind;
	off_t off, len; /* OP_TRUNC: len = new size */
	int mode;
	uint8_t *data;
};
static struct rec_op ops[MAX_OPS];
static int nops;
static bool recording;

ssize_t __real_pwrite(int f, const void *b, size_t n, off_t off);
int __real_ftruncate(int f, off_t len);
int __real_fallocate(int f, int mode, off_t off, off_t len);
ssize_t __wrap_pwrite(int f, const void *b, size_t n, off_t off);
int __wrap_ftruncate(int f, off_t len);
int __wrap_fallocate(int f, int mode, off_t off, off_t len);

static void record(int kind, off_t off, off_t len, int mode, const void *b)
{
	if (!recording)
		return;
	ck_assert_int_lt(nops, MAX_OPS);
	ops[nops] = (struct rec_op){ kind, off, len, mode, NULL };
	if (b) {
		ops[nops].data = malloc((size_t)len);
		memcpy(ops[nops].data, b, (size_t)len);
	}
	nops++;
}

ssize_t __wrap_pwrite(int f, const void *b, size_t n, off_t off)
{
	ssize_t r = __real_pwrite(f, b, n, off);

	if (r > 0)
		record(OP_PWRITE, off, r, 0, b);
	return r;
}

int __wrap_ftruncate(int f, off_t len)
{
	int r = __real_ftruncate(f, len);

	if (!r)
		record(OP_TRUNC, 0, len, 0, NULL);
	return r;
}

int __wrap_fallocate(int f, int mode, off_t off, off_t len)
{
	int r = __real_fallocate(f, mode, off, len);

	if (!r)
		record(OP_FALLOC, off, len, mode, NULL);
	return r;
}

static void ops_free(void)
{
	for (int i = 0; i < nops; i++)
		free(ops[i].data);
	nops = 0;
}

static uint8_t *file_bytes(off_t *len)
{
	struct stat st;
	uint8_t *b;

	fstat(fd, &st);
	b = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	*len = st.st_size;
	return b;
}

static void set_file_bytes(const uint8_t *b, off_t len)
{
	ck_assert_int_eq(__real_ftruncate(fd, 0), 0);
	ck_assert_int_eq(__real_pwrite(fd, b, (size_t)len, 0), len);
}

static uint8_t *plain_of(off_t *size)
{
	struct content_file *f = open_cf();
	uint8_t *p;

	*size = content_size(f);
	p = malloc((size_t)*size + 1);
	ck_assert_int_eq(content_read(f, fd, p, (size_t)*size, 0), *size);
	content_file_free(f);
	return p;
}

/* Apply operation @p o, of a pwrite only the sectors in [s_from, s_to) of
 * its own sectors (counted from its first, by absolute alignment). */
static void apply_op(const struct rec_op *o, int s_from, int s_to, bool zero_extend)
{
	if (o->kind == OP_TRUNC) {
		ck_assert_int_eq(__real_ftruncate(fd, o->len), 0);
	} else if (o->kind == OP_FALLOC) {
		struct stat st;

		fstat(fd, &st);
		if (!(o->mode & FALLOC_FL_KEEP_SIZE) && o->off + o->len > st.st_size)
			ck_assert_int_eq(__real_ftruncate(fd, o->off + o->len), 0);
	} else {
		off_t first = o->off / 512, end = o->off + o->len;
		struct stat st;

		fstat(fd, &st);
		if (zero_extend && end > st.st_size)
			ck_assert_int_eq(__real_ftruncate(fd, end), 0);
		for (off_t s = first + s_from; s < first + s_to; s++) {
			off_t a = s * 512 > o->off ? s * 512 : o->off;
			off_t z = (s + 1) * 512 < end ? (s + 1) * 512 : end;

			if (a < z)
				ck_assert_int_eq(__real_pwrite(fd, o->data + (a - o->off),
							       (size_t)(z - a), a), z - a);
		}
	}
}

static int op_sectors(const struct rec_op *o)
{
	if (o->kind != OP_PWRITE)
		return 1;
	return (int)((o->off + o->len + 511) / 512 - o->off / 512);
}

/* The crashed file: opens, reads without EIO, every byte old or new, and
 * nothing before min(old, new size) lost. */
static void check_crashed(const uint8_t *oldp, off_t olds, const uint8_t *newp, off_t news,
			  const char *what, int at, int from, int to)
{
	struct content_file *f;
	uint8_t *p;
	off_t n, min = olds < news ? olds : news, max = olds > news ? olds : news;

	ck_assert_msg(content_file_open(ctx, fd, &f) == 0, "%s: op %d [%d,%d): open", what, at, from, to);
	n = content_size(f);
	ck_assert_msg(n >= min && n <= max, "%s: op %d [%d,%d): size %lld not in [%lld, %lld]", what,
		      at, from, to, (long long)n, (long long)min, (long long)max);
	p = malloc((size_t)n + 1);
	ck_assert_msg(content_read(f, fd, p, (size_t)n, 0) == n, "%s: op %d [%d,%d): read failed", what,
		      at, from, to);
	/* Zeros are also fine where the file was shorter before (a hole left
	 * by a truncate or a write past the end that came first). */
	for (off_t i = 0; i < n; i++)
		ck_assert_msg((i < olds && p[i] == oldp[i]) || (i < news && p[i] == newp[i]) ||
				      (i >= olds && p[i] == 0),
			      "%s: op %d sectors [%d,%d): byte %lld is neither old nor new", what, at,
			      from, to, (long long)i);
	/* After the recovery, a close commits it: a clean file again. */
	close_cf(f);
	f = open_cf();
	ck_assert_int_eq(content_size(f), n);
	ck_assert_int_eq(content_read(f, fd, p, (size_t)n, 0), n);
	content_file_free(f);
	free(p);
}

typedef void (*file_op)(struct content_file *f);

static void torn_case(const char *what, file_op prep, file_op op)
{
	struct content_file *f = open_cf();
	uint8_t *a, *oldp, *newp;
	off_t alen, olds, news;

	if (prep)
		prep(f);
	ck_assert_int_eq(content_commit(f, fd), 0); /* the fsync */
	content_file_free(f);
	a = file_bytes(&alen);
	oldp = plain_of(&olds);
	f = open_cf();
	recording = true;
	op(f);
	recording = false;
	content_file_free(f); /* no commit: power cut before the next fsync */
	newp = plain_of(&news);
	ck_assert_int_gt(nops, 0);
	for (int i = 0; i < nops; i++) {
		int k = op_sectors(&ops[i]);
		struct stat st;
		bool extends;

		/* The file as the op in flight found it. */
		set_file_bytes(a, alen);
		for (int m = 0; m < i; m++)
			apply_op(&ops[m], 0, op_sectors(&ops[m]), false);
		fstat(fd, &st);
		extends = ops[i].kind == OP_PWRITE && ops[i].off + ops[i].len > st.st_size;
		for (int j = 0; j <= k; j++) {
			/* Prefixes, suffixes and single sectors; an extending write
			 * also with its unwritten sectors read back as zeros. */
			int ranges[3][2] = { { 0, j }, { j, k }, { j, j + 1 } };

			for (int v = 0; v < 3; v++)
				for (int z = 0; z <= (int)extends; z++) {
					if ((v == 1 && (j == 0 || j == k)) || (v == 2 && j == k))
						continue; /* the same as a prefix */
					set_file_bytes(a, alen);
					for (int m = 0; m < i; m++)
						apply_op(&ops[m], 0, op_sectors(&ops[m]), false);
					apply_op(&ops[i], ranges[v][0], ranges[v][1], z);
					check_crashed(oldp, olds, newp, news, what, i, ranges[v][0],
						      ranges[v][1]);
				}
		}
	}
	/* Every operation persisted: the new content. */
	set_file_bytes(a, alen);
	for (int m = 0; m < nops; m++)
		apply_op(&ops[m], 0, op_sectors(&ops[m]), false);
	check_crashed(newp, news, newp, news, what, nops, 0, 0);
	ops_free();
	free(a);
	free(oldp);
	free(newp);
}

static void w_at(struct content_file *f, size_t len, off_t off, unsigned seed)
{
	uint8_t *b = malloc(len);

	fill(b, len, seed);
	ck_assert_int_eq(content_write(f, fd, b, len, off), (ssize_t)len);
	free(b);
}
static void prep_4000(struct content_file *f) { w_at(f, 4000, 0, 1); }
static void prep_3blocks(struct content_file *f) { w_at(f, 3 * 4096, 0, 2); }
static void prep_10000(struct content_file *f) { w_at(f, 10000, 0, 3); }
static void op_append_50(struct content_file *f) { w_at(f, 50, 4000, 4); }
static void op_overwrite_block(struct content_file *f) { w_at(f, 4096, 4096, 5); }
static void op_overwrite_span(struct content_file *f) { w_at(f, 9000, 1000, 6); }
static void op_append_10000(struct content_file *f) { w_at(f, 10000, 4000, 7); }
static void op_first_write(struct content_file *f) { w_at(f, 5000, 0, 8); }
static void op_sparse_far(struct content_file *f) { w_at(f, 100, 40000, 9); }
static void op_shrink(struct content_file *f) { ck_assert_int_eq(content_truncate(f, fd, 5000), 0); }
static void op_shrink_to_block(struct content_file *f) { ck_assert_int_eq(content_truncate(f, fd, 4096), 0); }
static void op_grow(struct content_file *f) { ck_assert_int_eq(content_truncate(f, fd, 20000), 0); }
static void op_to_zero(struct content_file *f) { ck_assert_int_eq(content_truncate(f, fd, 0), 0); }
/* Found by the power-loss simulator: a committed size whose last block is
 * a hole (grown by truncate), then an overwrite extending past it. */
static void prep_sparse_tail(struct content_file *f)
{
	w_at(f, 125, 0, 20);
	ck_assert_int_eq(content_truncate(f, fd, 19504), 0);
}
static void op_over_hole(struct content_file *f) { w_at(f, 20000, 4096, 21); }
/* Found by the simulator too: the last block grown by a truncate, then a
 * write over earlier blocks that extends the file, torn half way. */
static void prep_21492(struct content_file *f) { w_at(f, 21492, 0, 23); }
static void op_grow_then_extend(struct content_file *f)
{
	ck_assert_int_eq(content_truncate(f, fd, 23857), 0);
	w_at(f, 19991, 8192, 22);
}
static void op_three_appends(struct content_file *f)
{
	w_at(f, 50, 4000, 10);
	w_at(f, 100, 4050, 11);
	w_at(f, 30, 100, 12);
}

/* Every operation that changes a file, torn at every point. */
static const struct {
	const char *what;
	file_op prep, op;
} torn_cases[] = {
	{ "append 50 (the issue's minimal case)", prep_4000, op_append_50 },
	{ "overwrite 4k", prep_3blocks, op_overwrite_block },
	{ "overwrite spanning blocks", prep_3blocks, op_overwrite_span },
	{ "append new blocks", prep_4000, op_append_10000 },
	{ "first write", NULL, op_first_write },
	{ "sparse write past the end", prep_3blocks, op_sparse_far },
	{ "truncate shrink", prep_10000, op_shrink },
	{ "truncate to a block boundary", prep_10000, op_shrink_to_block },
	{ "truncate grow", prep_10000, op_grow },
	{ "truncate to zero", prep_10000, op_to_zero },
	{ "three writes before the fsync", prep_4000, op_three_appends },
	{ "overwrite past a sparse committed tail", prep_sparse_tail, op_over_hole },
	{ "truncate grow, then an extending overwrite", prep_21492, op_grow_then_extend },
};

START_TEST(torn_writes)
{
	torn_case(torn_cases[_i].what, torn_cases[_i].prep, torn_cases[_i].op);
}
END_TEST

/* A closed (committed) file of @p n bytes; returns its backing size. */
static off_t committed_file(size_t n)
{
	struct content_file *f = open_cf();
	struct stat st;

	w_at(f, n, 0, 13);
	close_cf(f);
	fstat(fd, &st);
	return st.st_size;
}

static void expect_all_eio(const char *what, off_t at)
{
	struct content_file *f;
	uint8_t r[64];

	if (content_file_open(ctx, fd, &f) != 0)
		return; /* refused outright: EIO as well */
	ck_assert_msg(content_read(f, fd, r, sizeof(r), 0) == -EIO, "%s at %lld reads", what,
		      (long long)at);
	ck_assert_msg(content_write(f, fd, r, 1, 0) == -EIO, "%s at %lld writable", what, (long long)at);
	content_file_free(f);
}

/* A closed file cut at any byte reads EIO (block boundaries included). */
START_TEST(cut_at_any_byte_reads_eio)
{
	off_t c = committed_file(3 * 4096 + 100);
	uint8_t *a;
	off_t alen;

	a = file_bytes(&alen);
	ck_assert_int_eq(alen, c);
	for (off_t at = 0; at < c; at++) {
		if (at > 600 && at < H - 8 && at % 97) /* the header region: a sample */
			continue;
		set_file_bytes(a, alen);
		ck_assert_int_eq(__real_ftruncate(fd, at), 0);
		if (at == 0)
			continue; /* an empty backing file is an empty file (threat model) */
		expect_all_eio("cut", at);
	}
	free(a);
}
END_TEST

/* Extended by any bytes, by whole zero blocks or by a valid block of its
 * own: EIO. */
START_TEST(extension_reads_eio)
{
	off_t c = committed_file(2 * 4096);
	uint8_t *a, z[3 * CB] = { 0 };
	off_t alen;

	a = file_bytes(&alen);
	for (off_t n = 1; n <= 3 * CB; n += (n < 40 ? 1 : 511)) {
		set_file_bytes(a, alen);
		ck_assert_int_eq(__real_pwrite(fd, z, (size_t)n, c), n);
		expect_all_eio("zero extension", n);
	}
	set_file_bytes(a, alen);
	ck_assert_int_eq(__real_ftruncate(fd, c + 2 * CB), 0); /* holes */
	expect_all_eio("hole extension", 2 * CB);
	/* Block 1 copied after itself: authentic bytes, wrong place. */
	set_file_bytes(a, alen);
	ck_assert_int_eq(__real_pwrite(fd, a + H + CB, CB, c), CB);
	expect_all_eio("block appended", CB);
	free(a);
}
END_TEST

/* A file closed at 3 blocks, later truncated to 1 and closed again: the
 * old blocks put back authenticate one by one, but the size is wrong. */
START_TEST(old_tail_put_back_reads_eio)
{
	uint8_t *a;
	off_t alen;
	struct content_file *f;

	committed_file(3 * 4096);
	a = file_bytes(&alen);
	f = open_cf();
	ck_assert_int_eq(content_truncate(f, fd, 4096), 0);
	close_cf(f);
	ck_assert_int_eq(__real_pwrite(fd, a + H + CB, 2 * CB, H + CB), 2 * CB);
	expect_all_eio("old tail", 2);
	free(a);
}
END_TEST

static void put_commit(int slot, const char *rec_hex)
{
	uint8_t *c = hex(rec_hex, NULL);

	ck_assert_int_eq(__real_pwrite(fd, c, 64, 512 + 512 * slot), 64);
	free(c);
}

/* Hostile commit records: every malformed field is refused, a torn slot
 * falls back to the other one, random bytes never crash or misread. */
START_TEST(commit_record_hostile)
{
	size_t la;
	uint8_t *blk = hex(KAT_A, &la), *c = hex(KAT_C1_16, NULL), bad[64], r[32];
	struct content_file *f;
	struct { int at; uint8_t x; } edits[] = {
		{ 7, 0x01 },  /* seq 1 -> 0 */
		{ 7, 0x02 },  /* seq 3: wrong slot */
		{ 0, 0x80 },  /* huge seq, MAC wrong */
		{ 8, 0x80 },  /* size past the maximum */
		{ 15, 0x01 }, /* size 17: MAC */
		{ 19, 0x02 }, /* unknown flag */
		{ 16, 0x80 }, /* unknown flag, high bit */
		{ 25, 0x01 }, /* reserved byte */
		{ 40, 0x01 }, /* MAC */
		{ 63, 0x01 }, /* MAC */
	};

	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		kat_header(KAT_C1_16, 1);
		ck_assert_int_eq(__real_pwrite(fd, blk, la, H), (ssize_t)la);
		memcpy(bad, c, 64);
		bad[edits[i].at] ^= edits[i].x;
		ck_assert_int_eq(__real_pwrite(fd, bad, 64, 1024), 64);
		ck_assert_int_eq(content_file_open(ctx, fd, &f), 0);
		ck_assert_msg(content_read(f, fd, r, 16, 0) == -EIO, "edit %zu accepted", i);
		content_file_free(f);
	}
	/* Both slots valid: the higher sequence number wins (seq 2, 16). */
	kat_header(KAT_C1_4106, 1);
	put_commit(0, KAT_C2_16);
	ck_assert_int_eq(__real_pwrite(fd, blk, la, H), (ssize_t)la);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, 16, 0), 16);
	content_file_free(f);
	/* A torn seq 3 in slot 1 (half a sector of new bytes): seq 2 wins. */
	memcpy(bad, c, 64);
	bad[7] = 3;
	ck_assert_int_eq(__real_pwrite(fd, bad, 20, 1024), 20);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, 16, 0), 16);
	content_file_free(f);
	/* Random slots: refused or read, never a crash; slot 0 stays valid. */
	srandom(7);
	for (int i = 0; i < 2000; i++) {
		for (int k = 0; k < 64; k++)
			bad[k] = (uint8_t)random();
		if (i % 3 == 0)
			memcpy(bad, c, 32); /* plausible fields, random MAC */
		ck_assert_int_eq(__real_pwrite(fd, bad, 64, 1024), 64);
		f = open_cf();
		ck_assert_int_eq(content_read(f, fd, r, 16, 0), 16);
		content_file_free(f);
	}
	free(blk);
	free(c);
}
END_TEST

/* Hostile journal slots in a dirty file are ignored unless authentic. */
START_TEST(journal_record_hostile)
{
	struct content_file *f = open_cf();
	uint8_t *a, junk[CONTENT_JOURNAL_SLOT], r[8192];
	off_t alen, n;

	w_at(f, 8000, 0, 14);
	w_at(f, 100, 7000, 15); /* journalled: dirty, two records */
	content_file_free(f);
	a = file_bytes(&alen);
	srandom(9);
	for (int i = 0; i < 300; i++) {
		set_file_bytes(a, alen);
		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)random();
		if (i % 2) { /* plausible header, junk block */
			memset(junk, 0, 32);
			junk[7] = (uint8_t)(1 + i % 2);
			junk[15] = 1;
			junk[18] = 0x10;
			junk[19] = 0x20;
		}
		ck_assert_int_eq(__real_pwrite(fd, junk, sizeof(junk),
					       CONTENT_JOURNAL_OFF + (i % 2) * CONTENT_JOURNAL_SLOT),
				 (ssize_t)sizeof(junk));
		f = open_cf();
		n = content_size(f);
		ck_assert_int_eq(n, 8000);
		ck_assert_int_eq(content_read(f, fd, r, 8000, 0), 8000);
		content_file_free(f);
	}
	free(a);
}
END_TEST

/* A failed write, truncate or fallocate leaves the backing file byte for
 * byte as it was: the size limit makes the growth fail half way. */
static void no_trace(const char *what, off_t limit, int (*op)(struct content_file *f))
{
	struct rlimit old, rl;
	uint8_t *a, *b;
	off_t alen, blen;
	struct content_file *f;
	int r;

	a = file_bytes(&alen);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	rl = old;
	rl.rlim_cur = (rlim_t)limit;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	f = open_cf();
	r = op(f);
	content_file_free(f);
	setrlimit(RLIMIT_FSIZE, &old);
	ck_assert_msg(r < 0, "%s did not fail", what);
	b = file_bytes(&blen);
	ck_assert_msg(blen == alen && !memcmp(a, b, (size_t)alen), "%s left a trace (%lld -> %lld bytes)",
		      what, (long long)alen, (long long)blen);
	free(a);
	free(b);
}
static int nt_append(struct content_file *f)
{
	uint8_t b[20000] = { 1 };
	return (int)content_write(f, fd, b, sizeof(b), 4000);
}
static int nt_far(struct content_file *f)
{
	uint8_t b[10] = { 1 };
	return (int)content_write(f, fd, b, sizeof(b), 1 << 20);
}
static int nt_grow(struct content_file *f) { return content_truncate(f, fd, 1 << 20); }

START_TEST(failed_ops_leave_no_trace)
{
	off_t c = committed_file(4000);

	no_trace("append past the size limit", c + 100, nt_append);
	no_trace("write far past the size limit", c + 100, nt_far);
	no_trace("truncate past the size limit", c + 100, nt_grow);
	/* An empty file: the header cannot be written either. */
	ck_assert_int_eq(__real_ftruncate(fd, 0), 0);
	no_trace("first write past the size limit", 1000, nt_append);
}
END_TEST

/* A partial write into a block that fails authentication: -EIO and no
 * byte written (the read comes before any write). */
START_TEST(failed_rmw_leaves_no_trace)
{
	off_t c = committed_file(3 * 4096);
	uint8_t *a, *b, x[10] = { 7 };
	off_t alen, blen;
	struct content_file *f;

	(void)c;
	ck_assert_int_eq(__real_pwrite(fd, x, 1, H + CB + 100), 1);
	a = file_bytes(&alen);
	f = open_cf();
	ck_assert_int_eq(content_write(f, fd, x, 10, 4096 + 5), -EIO);
	ck_assert_int_eq(content_truncate(f, fd, 4096 + 5), -EIO);
	content_file_free(f);
	b = file_bytes(&blen);
	ck_assert(blen == alen && !memcmp(a, b, (size_t)alen));
	free(a);
	free(b);
}
END_TEST

/* The whole-file check for fsck: clean, torn tail (reported, repaired),
 * bad block, size mismatch. */
START_TEST(check_file_findings)
{
	struct content_check chk;
	struct content_file *f;
	uint8_t junk[700];
	struct stat st;
	off_t c = committed_file(3 * 4096 + 10);

	ck_assert_int_eq(content_check_file(ctx, fd, false, &chk), 0);
	ck_assert_int_eq(chk.size, 3 * 4096 + 10);
	ck_assert(!chk.dirty && !chk.torn_tail && !chk.bad_blocks);
	/* Torn tail: a dirty file with junk after its last block. */
	f = open_cf();
	w_at(f, 10, 3 * 4096 + 10, 16);
	content_file_free(f);
	fstat(fd, &st);
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(__real_pwrite(fd, junk, sizeof(junk), st.st_size), (ssize_t)sizeof(junk));
	ck_assert_int_eq(content_check_file(ctx, fd, false, &chk), 2);
	ck_assert(chk.dirty && chk.torn_tail);
	ck_assert_int_eq(chk.backing_after, st.st_size + (off_t)sizeof(junk)); /* untouched */
	ck_assert_int_eq(content_check_file(ctx, fd, true, &chk), 1);
	ck_assert_int_eq(chk.size, 3 * 4096 + 20);
	ck_assert_int_eq(chk.backing_after, st.st_size);
	ck_assert_int_eq(content_check_file(ctx, fd, true, &chk), 0); /* dirty, consistent */
	/* A bad block in the middle: reported, never "repaired". */
	f = open_cf();
	close_cf(f);
	ck_assert_int_eq(__real_pwrite(fd, junk, 1, H + CB + 7), 1);
	ck_assert_int_eq(content_check_file(ctx, fd, true, &chk), 2);
	ck_assert_int_eq(chk.bad_blocks, 1);
	ck_assert_int_eq(chk.first_bad_block, 1);
	/* Cut against its clean commit. */
	ck_assert_int_eq(__real_ftruncate(fd, c - 5), 0);
	ck_assert_int_eq(content_check_file(ctx, fd, true, &chk), 2);
	ck_assert(chk.size_mismatch);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, c - 5); /* repair never cuts committed data */
}
END_TEST

/* The ID xattr values bind to: made on demand, kept across truncation. */
START_TEST(file_id_stable)
{
	struct content_file *f = open_cf();
	uint8_t id1[16], id2[16];
	struct stat st;

	ck_assert_int_eq(content_file_id(f, fd, id1), 0);
	fstat(fd, &st);
	ck_assert_int_eq(st.st_size, CONTENT_EMPTY_LEN);
	ck_assert_int_eq(content_size(f), 0);
	w_at(f, 5000, 0, 17);
	ck_assert_int_eq(content_truncate(f, fd, 0), 0);
	close_cf(f);
	f = open_cf();
	ck_assert_int_eq(content_file_id(f, fd, id2), 0);
	ck_assert(!memcmp(id1, id2, 16));
	content_file_free(f);
}
END_TEST

/* fsync is allowed on a read-only descriptor: the commit still lands, so
 * an extension afterwards reads EIO. */
START_TEST(commit_through_read_only_fd)
{
	struct content_file *f = open_cf();
	int ro = open(path, O_RDONLY);
	uint8_t z[CB] = { 0 };
	struct stat st;

	ck_assert_int_ge(ro, 0);
	w_at(f, 6000, 0, 18);
	ck_assert_int_eq(content_commit(f, ro), 0);
	content_file_free(f);
	close(ro);
	fstat(fd, &st);
	ck_assert_int_eq(__real_pwrite(fd, z, CB, st.st_size), CB);
	expect_all_eio("extension after a read-only commit", CB);
}
END_TEST

/* Found by the power-loss simulator: a torn creation (commit sectors
 * written, sector 0 not) opened through a read-only descriptor, as a
 * lookup does, is an empty file, not an error. */
START_TEST(torn_creation_through_read_only_fd)
{
	struct content_file *f;
	uint8_t sector[512];
	int ro;

	memset(sector, 0x77, sizeof(sector));
	ck_assert_int_eq(__real_pwrite(fd, sector, 512, 1024), 512);
	ro = open(path, O_RDONLY);
	ck_assert_int_ge(ro, 0);
	ck_assert_int_eq(content_file_open(ctx, ro, &f), 0);
	ck_assert_int_eq(content_size(f), 0);
	content_file_free(f);
	close(ro);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("content");
	TCase *tc = tcase_create("roundtrip_sizes");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, roundtrip_sizes, 0, 7);
	suite_add_tcase(s, tc);
	tc = tcase_create("torn_writes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, torn_writes, 0, (int)(sizeof(torn_cases) / sizeof(torn_cases[0])));
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
#define T(fn) ADD_FIXTURE_TEST(s, fn, setup, teardown)
	T(size_mapping);
	T(write_straddling_blocks);
	T(write_past_eof_leaves_holes);
	T(write_inside_last_partial_block);
	T(truncate_up_and_down);
	T(truncate_to_zero_keeps_header_and_id);
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
	T(cut_at_any_byte_reads_eio);
	T(extension_reads_eio);
	T(old_tail_put_back_reads_eio);
	T(commit_record_hostile);
	T(journal_record_hostile);
	T(failed_ops_leave_no_trace);
	T(failed_rmw_leaves_no_trace);
	T(check_file_findings);
	T(file_id_stable);
	T(commit_through_read_only_fd);
	T(torn_creation_through_read_only_fd);
	return run_suite(s);
}
