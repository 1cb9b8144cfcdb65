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

#define CB CONTENT_CBLOCK

/* Every test runs on both volume formats (the fixtures set them). */
static int fmt;
static off_t H; /* where block 0 starts in format fmt */
static struct content_ctx *ctx;
static char path[64];
static int fd;

static void setup(void)
{
	uint8_t key[32];

	memset(key, 0x42, sizeof(key));
	ck_assert_int_eq(content_ctx_new(key, key, fmt, &ctx), 0);
	H = CONTENT_HEADER_LEN(fmt);
	strcpy(path, "/tmp/check_content.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	log_set_level(LOG_LVL_NONE); /* tamper tests expect warnings */
}

static void setup2(void)
{
	fmt = 2;
	setup();
}

static void setup3(void)
{
	fmt = 3;
	setup();
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
	ck_assert_int_eq(st.st_size, content_cipher_size(ctx, (off_t)n));
	ck_assert_int_eq(content_plain_size(ctx, st.st_size), (off_t)n);
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
	ck_assert_int_eq(content_cipher_size(ctx, 0), 0);
	ck_assert_int_eq(content_cipher_size(ctx, 1), H + 33);
	ck_assert_int_eq(content_cipher_size(ctx, 4096), H + CB);
	ck_assert_int_eq(content_cipher_size(ctx, 4097), H + CB + 33);
	for (off_t p = 0; p < 20000; p += 97)
		ck_assert_int_eq(content_plain_size(ctx, content_cipher_size(ctx, p)), p);
	ck_assert_int_eq(content_plain_size(ctx, 5), -EIO);          /* inside header */
	ck_assert_int_eq(content_plain_size(ctx, H + 20), -EIO);     /* block < overhead */
	ck_assert_int_eq(content_plain_size(ctx, H + CB + 32), -EIO);
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

/* A file by hand: version, ID, commit record @p crec in slot
 * @p slot, nothing else. */
static void kat_header(const char *crec, int slot)
{
	uint8_t v[2] = { 0, (uint8_t)fmt }, *id = hex(KAT_ID, NULL), *c = hex(crec, NULL);

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

	ck_assert_int_eq(H, fmt == 2 ? 9856 : 2115136);
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
	ck_assert_int_eq(c[1], fmt);
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
	ck_assert_int_eq(st.st_size, content_cipher_size(ctx, big + 3));
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
	ck_assert_int_eq(content_write(f, fd, a, 10, content_max_size(ctx) - 5), -EFBIG);
	ck_assert_int_eq(content_write(f, fd, a, 10, INT64_MAX - 3), -EFBIG);
	ck_assert_int_eq(content_write(f, fd, a, 10, -1), -EINVAL);
	ck_assert_int_eq(content_truncate(f, fd, content_max_size(ctx) + 1), -EFBIG);
	ck_assert_int_eq(content_truncate(f, fd, -1), -EINVAL);
	ck_assert_int_eq(content_read(f, fd, a, 10, -1), -EINVAL);
	ck_assert_int_le(content_cipher_size(ctx, content_max_size(ctx)), INT64_MAX);
	ck_assert_int_gt(content_cipher_size(ctx, content_max_size(ctx)), 0);
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
enum { OP_PWRITE, OP_TRUNC, OP_FALLOC, MAX_OPS = 1024 };
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

/* The file as @p b, zero pages left holes: a format-3 file is mostly its
 * 2 MiB journal slots, and the crash tests rebuild it thousands of times. */
static void put_bytes_from(const uint8_t *b, off_t from, off_t len)
{
	static const uint8_t zero[4096];

	for (off_t at = from; at < len; at += 4096) {
		size_t n = len - at < 4096 ? (size_t)(len - at) : 4096;

		if (memcmp(b + at, zero, n))
			ck_assert_int_eq(__real_pwrite(fd, b + at, n, at), (ssize_t)n);
	}
}

static void set_file_bytes(const uint8_t *b, off_t len)
{
	ck_assert_int_eq(__real_ftruncate(fd, 0), 0);
	ck_assert_int_eq(__real_ftruncate(fd, len), 0);
	put_bytes_from(b, 0, len);
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
		if (!((i < olds && p[i] == oldp[i]) || (i < news && p[i] == newp[i]) ||
		      (i >= olds && p[i] == 0))) /* ck_assert per byte is slow */
			ck_abort_msg("%s: op %d sectors [%d,%d): byte %lld is neither old nor new",
				     what, at, from, to, (long long)i);
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
static void prep_7blocks(struct content_file *f) { w_at(f, 7 * 4096, 0, 24); }
/* Five existing blocks: one journal record in format 3, five in format 2. */
static void op_overwrite_5(struct content_file *f) { w_at(f, 5 * 4096 - 300, 4096 + 100, 25); }
static void op_three_appends(struct content_file *f)
{
	w_at(f, 50, 4000, 10);
	w_at(f, 100, 4050, 11);
	w_at(f, 30, 100, 12);
}
/* Block 0 data, blocks 1..7 committed holes (what fio's preallocation
 * leaves): an overwrite of holes only is a hole record in format 3. */
static void prep_sparse_8(struct content_file *f)
{
	w_at(f, 100, 0, 50);
	ck_assert_int_eq(content_truncate(f, fd, 8 * 4096), 0);
}
static void op_over_holes(struct content_file *f) { w_at(f, 4 * 4096, 2 * 4096, 51); }
static void op_over_mixed(struct content_file *f) { w_at(f, 3 * 4096, 0, 52); }
/* Two hole records in a row: the second run's first file system block
 * holds the end of the first run's last block. */
static void op_over_holes_twice(struct content_file *f)
{
	w_at(f, 2 * 4096, 2 * 4096, 58);
	w_at(f, 2 * 4096, 4 * 4096, 59);
}
/* The committed size ends in a hole (block 3); a write past the end
 * reseals it as a full block, then an overwrite of it keeps the size (the
 * dirty record stays at the committed size). */
static void prep_sparse_partial(struct content_file *f)
{
	w_at(f, 125, 0, 53);
	ck_assert_int_eq(content_truncate(f, fd, 3 * 4096 + 100), 0);
}
static void op_fill_hole_at_size(struct content_file *f)
{
	w_at(f, 4096, 5 * 4096, 54);
	w_at(f, 4096, 3 * 4096, 55);
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
	{ "overwrite of five blocks (one multi-block record)", prep_7blocks, op_overwrite_5 },
	{ "overwrite of committed holes (a hole record)", prep_sparse_8, op_over_holes },
	{ "overwrite of data and holes (a data record)", prep_sparse_8, op_over_mixed },
	{ "two overwrites of holes in a row", prep_sparse_8, op_over_holes_twice },
	{ "extend, then fill the hole holding the committed size", prep_sparse_partial,
	  op_fill_hole_at_size },
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
	set_file_bytes(a, alen);
	for (off_t at = 0; at < c; at++) {
		/* The header region: a sample (format 3's is 2 MiB). */
		if (at > 600 && at < H - 8 && at % (fmt == 2 ? 97 : 9973))
			continue;
		/* Nothing below writes (a damaged file refuses writes): the
		 * cut-off tail is all there is to put back afterwards. */
		ck_assert_int_eq(__real_ftruncate(fd, at), 0);
		if (at > 0) /* an empty backing file is an empty file (threat model) */
			expect_all_eio("cut", at);
		ck_assert_int_eq(__real_ftruncate(fd, alen), 0);
		put_bytes_from(a, at, alen);
	}
	{
		off_t blen;
		uint8_t *b = file_bytes(&blen);

		ck_assert(blen == alen && !memcmp(a, b, (size_t)alen));
		free(b);
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
	size_t jlen = CONTENT_JOURNAL_SLOT(fmt);
	uint8_t *a, *junk = malloc(jlen), r[8192];
	off_t alen, n;

	w_at(f, 8000, 0, 14);
	w_at(f, 100, 7000, 15); /* journalled: dirty, two records */
	content_file_free(f);
	a = file_bytes(&alen);
	srandom(9);
	for (int i = 0; i < 300; i++) {
		set_file_bytes(a, alen);
		for (size_t k = 0; k < jlen; k++)
			junk[k] = (uint8_t)random();
		if (i % 2) { /* plausible header, junk block */
			memset(junk, 0, 32);
			junk[7] = (uint8_t)(1 + i % 2);
			junk[15] = 1;
			junk[18] = 0x10;
			junk[19] = 0x20;
			junk[23] = fmt == 2 ? 0 : (uint8_t)(1 + i % 3);
		}
		ck_assert_int_eq(__real_pwrite(fd, junk, jlen,
					       CONTENT_JOURNAL_OFF + (i % 2) * (off_t)jlen),
				 (ssize_t)jlen);
		f = open_cf();
		n = content_size(f);
		ck_assert_int_eq(n, 8000);
		ck_assert_int_eq(content_read(f, fd, r, 8000, 0), 8000);
		content_file_free(f);
	}
	free(a);
	free(junk);
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

/* ---- format 3: multi-block journal records ---- */

/*
 * A format-3 journal record built by hand (the fixture's content key,
 * file ID a0..af): header seq 1, first block 0, last stored length 0x31,
 * count 2; block 0 = 4096 x 'A' (nonce 30..3f), block 1 = "journal block
 * one" (nonce 40..4f). Its SHA-256 and the clean commit record (seq 1, size
 * 4113) were computed independently with Python's cryptography and hmac.
 */
#define KAT_JHDR "0000000000000001000000000000000000000031000000020000000000000000"
#define KAT_JSHA "42fc8397609080921c7a670b874546113db3d61b73d9db5017ab01756b486625"
#define KAT_C1_4113 "0000000000000001000000000000101100000000000000000000000000000000b9638862" \
	"870acbbe3745dc000bdbb2630634714f7cdead534b6dac5fa34c8eda"
#define KAT_JLEN (32 + CB + 49)

static void kat_seal(uint64_t b, uint8_t nonce0, const void *pt, size_t n, uint8_t *out)
{
	uint8_t ck[32], key[32], aad[24], *id = hex(KAT_ID, NULL);

	memset(ck, 0x42, sizeof(ck));
	ck_assert_int_eq(crypto_hkdf(ck, 32, id, 16, (const uint8_t *)"atrestfs file", 13, key,
				     32), 0);
	for (int i = 0; i < 16; i++)
		out[i] = (uint8_t)(nonce0 + i);
	memcpy(aad, id, 16);
	for (int i = 0; i < 8; i++)
		aad[16 + i] = (uint8_t)(b >> (56 - 8 * i));
	ck_assert_int_eq(crypto_gcm_seal(key, out, 16, aad, 24, pt, n, out + 16, out + 16 + n), 0);
	free(id);
}

/* The hand-built record, with header bytes 20..31 replaced by @p tail. */
static uint8_t *kat_journal(const uint8_t tail[12])
{
	uint8_t *rec = malloc(KAT_JLEN), *h = hex(KAT_JHDR, NULL), a[4096], sum[32];

	memcpy(rec, h, 32);
	memset(a, 'A', sizeof(a));
	kat_seal(0, 0x30, a, sizeof(a), rec + 32);
	kat_seal(1, 0x40, "journal block one", 17, rec + 32 + CB);
	ck_assert_int_eq(crypto_sha256(rec, KAT_JLEN, sum), 0);
	free(h);
	h = hex(KAT_JSHA, NULL);
	ck_assert(!memcmp(sum, h, 32));
	free(h);
	if (tail)
		memcpy(rec + 20, tail, 12);
	return rec;
}

/* A clean file of 4113 bytes whose two blocks are torn in place, with the
 * record (header tail @p tail) in journal slot 1: what the open makes. */
static struct content_file *kat_torn_file(const uint8_t tail[12])
{
	uint8_t *rec = kat_journal(tail), junk[CB + 49];
	struct content_file *f;

	kat_header(KAT_C1_4113, 1);
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(__real_pwrite(fd, junk, sizeof(junk), H), (ssize_t)sizeof(junk));
	ck_assert_int_eq(__real_pwrite(fd, rec, KAT_JLEN,
				       CONTENT_JOURNAL_OFF + CONTENT_JOURNAL_SLOT(3)),
			 KAT_JLEN);
	free(rec);
	ck_assert_int_eq(content_file_open(ctx, fd, &f), 0);
	return f;
}

START_TEST(journal_known_answer)
{
	static const struct {
		uint8_t tail[12];
		bool b0, b1; /* restored */
	} cases[] = {
		{ { 0, 0, 0, 2 }, true, true },           /* as built */
		{ { 0, 0, 0, 0 }, false, false },         /* count 0 */
		{ { 0, 0, 1, 1 }, false, false },         /* count 257 > K */
		{ { 0xff, 0xff, 0xff, 0xff }, false, false }, /* count 2^32 - 1 */
		{ { 0, 0, 0, 2, 0, 0, 0, 1 }, false, false }, /* reserved byte */
		{ { 0, 0, 0, 3 }, true, false },          /* block 1 read as full: fails */
		{ { 0, 0, 0, 1 }, false, false },         /* block 0 read as the last (0x31) */
	};
	uint8_t r[4200], *rec = kat_journal(NULL), c[KAT_JLEN];
	struct content_file *f;

	ck_assert_int_eq(H, 2115136);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = kat_torn_file(cases[i].tail);
		ck_assert_int_eq(content_size(f), 4113);
		ck_assert_msg((content_read(f, fd, r, 4096, 0) == 4096) == cases[i].b0,
			      "case %zu: block 0", i);
		ck_assert_msg((content_read(f, fd, r, 17, 4096) == 17) == cases[i].b1,
			      "case %zu: block 1", i);
		if (cases[i].b0 && cases[i].b1) {
			ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), 4113);
			for (int k = 0; k < 4096; k++)
				ck_assert_int_eq(r[k], 'A');
			ck_assert(!memcmp(r + 4096, "journal block one", 17));
			/* Put back in place byte for byte. */
			ck_assert_int_eq(pread(fd, c, CB + 49, H), CB + 49);
			ck_assert(!memcmp(c, rec + 32, CB + 49));
		}
		content_file_free(f);
	}
	/* Seq 1 belongs in slot 1: the same record in slot 0 is refused. */
	f = kat_torn_file(NULL);
	content_file_free(f);
	kat_header(KAT_C1_4113, 1);
	memset(c, 0x5a, sizeof(c));
	ck_assert_int_eq(__real_pwrite(fd, c, CB + 49, H), CB + 49);
	ck_assert_int_eq(__real_pwrite(fd, rec, KAT_JLEN, CONTENT_JOURNAL_OFF), KAT_JLEN);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, 4096, 0), -EIO);
	content_file_free(f);
	free(rec);
}
END_TEST

/* The count field: format 2 records hold one block and a count of zero,
 * format 3 ones 1 .. 256. Anything else makes the record void, so a block
 * torn in place then reads EIO instead of coming back from it. */
START_TEST(journal_count_field)
{
	const uint32_t good = fmt == 2 ? 0 : 1;
	const uint32_t bad[] = { fmt == 2 ? 1 : 0, 257, 0x01000000, 0xffffffff };
	uint8_t *a, junk[100], cnt[4], r[4096];
	off_t alen, slot1 = CONTENT_JOURNAL_OFF + CONTENT_JOURNAL_SLOT(fmt);
	struct content_file *f;

	committed_file(2 * 4096);
	f = open_cf();
	w_at(f, 4096, 4096, 30); /* overwrite block 1: journal seq 1, slot 1 */
	content_file_free(f);    /* the commit stays clean: the record is the mark */
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(__real_pwrite(fd, junk, sizeof(junk), H + CB + 1000), (ssize_t)sizeof(junk));
	a = file_bytes(&alen);
	ck_assert_int_eq(pread(fd, cnt, 4, slot1 + 20), 4);
	ck_assert_int_eq(cnt[0] << 24 | cnt[1] << 16 | cnt[2] << 8 | cnt[3], good);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, 4096, 4096), 4096);
	content_file_free(f);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set_file_bytes(a, alen);
		for (int k = 0; k < 4; k++)
			cnt[k] = (uint8_t)(bad[i] >> (24 - 8 * k));
		ck_assert_int_eq(__real_pwrite(fd, cnt, 4, slot1 + 20), 4);
		f = open_cf();
		ck_assert_msg(content_read(f, fd, r, 4096, 4096) == -EIO, "count %u accepted",
			      (unsigned)bad[i]);
		ck_assert_int_eq(content_read(f, fd, r, 4096, 0), 4096);
		content_file_free(f);
	}
	free(a);
}
END_TEST

/* Overwriting 1 MiB of committed blocks: one journal record and one write
 * in place in format 3 (two per block in format 2). */
START_TEST(overwrite_pwrites)
{
	int pw = 0;
	struct content_file *f;

	committed_file(2 << 20);
	f = open_cf();
	recording = true;
	w_at(f, 1 << 20, 1 << 20, 31);
	recording = false;
	for (int i = 0; i < nops; i++)
		pw += ops[i].kind == OP_PWRITE;
	ck_assert_int_eq(pw, fmt == 2 ? 512 : 2);
	ops_free();
	close_cf(f);
}
END_TEST

/* The in-place write of a run torn: the blocks it got whole stay new, the
 * one torn comes back from the journal, the ones it never reached stay
 * old: each block on its own. */
START_TEST(torn_run_restored_per_block)
{
	uint8_t *old, *nw, *p;
	off_t olen, nlen, n;
	struct content_file *f;

	committed_file(8 * 4096);
	old = file_bytes(&olen);
	f = open_cf();
	w_at(f, 6 * 4096, 4096, 32); /* blocks 1..6: one record */
	content_file_free(f);        /* power cut before any commit */
	nw = file_bytes(&nlen);
	ck_assert_int_eq(olen, nlen);
	/* Blocks 1, 2 new; block 3 half new; 4..6 old (the write's tail lost). */
	ck_assert_int_eq(__real_pwrite(fd, old + H + 3 * CB + 2048, 4 * CB - 2048, H + 3 * CB + 2048),
			 4 * CB - 2048);
	p = plain_of(&n);
	ck_assert_int_eq(n, 8 * 4096);
	{
		uint8_t *o = malloc(8 * 4096), *w = malloc(6 * 4096);

		fill(o, 8 * 4096, 13); /* committed_file's content */
		fill(w, 6 * 4096, 32);
		ck_assert(!memcmp(p, o, 4096));
		ck_assert(!memcmp(p + 4096, w, 3 * 4096));
		ck_assert(!memcmp(p + 4 * 4096, o + 4 * 4096, 4 * 4096));
		free(o);
		free(w);
	}
	free(old);
	free(nw);
	free(p);
}
END_TEST

/* More than K blocks: records of at most 256, each followed by its write
 * in place, slots alternating; torn in the second run's write in place,
 * or in the third record, every byte reads old or new. */
START_TEST(overwrite_longer_than_a_record)
{
	const size_t nb = 600;
	uint8_t *a, *oldp, *newp, hdr[32];
	off_t alen, olds, news;
	struct content_file *f;
	int pw[8], npw = 0;
	static const uint32_t runs[3] = { 256, 256, 88 };

	committed_file(nb * 4096);
	a = file_bytes(&alen);
	oldp = plain_of(&olds);
	f = open_cf();
	recording = true;
	w_at(f, nb * 4096, 0, 33);
	recording = false;
	content_file_free(f);
	newp = plain_of(&news);
	for (int i = 0; i < nops; i++)
		if (ops[i].kind == OP_PWRITE) {
			ck_assert_int_lt(npw, 8);
			pw[npw++] = i;
		}
	ck_assert_int_eq(npw, 6);
	for (int r = 0, b = 0; r < 3; b += (int)runs[r], r++) {
		const struct rec_op *j = &ops[pw[2 * r]], *w = &ops[pw[2 * r + 1]];

		ck_assert_int_eq(j->off, CONTENT_JOURNAL_OFF + ((r + 1) % 2) * CONTENT_JOURNAL_SLOT(3));
		ck_assert_int_eq(j->len, 32 + (off_t)runs[r] * CB);
		memcpy(hdr, j->data, 32);
		ck_assert_int_eq(hdr[7], r + 1);                     /* seq */
		ck_assert_int_eq(hdr[14] << 8 | hdr[15], b);         /* first block */
		ck_assert_int_eq(hdr[18] << 8 | hdr[19], CB);        /* last length */
		ck_assert_int_eq(hdr[22] << 8 | hdr[23], runs[r]);   /* count */
		ck_assert_int_eq(w->off, H + (off_t)b * CB);
		ck_assert_int_eq(w->len, (off_t)runs[r] * CB);
		ck_assert(!memcmp(w->data, j->data + 32, (size_t)w->len));
	}
	/* Torn: the second run's write in place, a prefix, a suffix and a
	 * single sector; the third record, a prefix. */
	{
		int k = op_sectors(&ops[pw[3]]);
		int cut[4][3] = { { pw[3], 0, k / 2 }, { pw[3], k / 3, k }, { pw[3], 700, 701 },
				  { pw[4], 0, op_sectors(&ops[pw[4]]) / 2 } };

		for (int c = 0; c < 4; c++) {
			set_file_bytes(a, alen);
			for (int m = 0; m < cut[c][0]; m++)
				apply_op(&ops[m], 0, op_sectors(&ops[m]), false);
			apply_op(&ops[cut[c][0]], cut[c][1], cut[c][2], false);
			check_crashed(oldp, olds, newp, news, "600 blocks", cut[c][0], cut[c][1],
				      cut[c][2]);
		}
	}
	ops_free();
	free(a);
	free(oldp);
	free(newp);
}
END_TEST

/* The data fallocates recorded since the last call (journal slots aside). */
static int data_fallocates(void)
{
	int n = 0;

	for (int i = 0; i < nops; i++)
		n += ops[i].kind == OP_FALLOC && ops[i].off >= H;
	ops_free();
	return n;
}

/* A sparse file's range reserved once is not reserved again while the file
 * is open, until a cut gives the space back. */
START_TEST(reserved_range_not_reserved_again)
{
	struct content_file *f = open_cf();

	w_at(f, 10, 0, 40);
	ck_assert_int_eq(content_truncate(f, fd, 64 * 4096), 0); /* holes */
	recording = true;
	w_at(f, 8 * 4096, 0, 41);
	ck_assert_int_eq(data_fallocates(), 1);
	w_at(f, 4096, 4096, 42); /* inside what that reserved */
	w_at(f, 100, 3 * 4096 + 5, 43);
	ck_assert_int_eq(data_fallocates(), 0);
	w_at(f, 4096, 20 * 4096, 44); /* past it: reserved */
	ck_assert_int_eq(data_fallocates(), 1);
	/* Cut and grown again: the blocks are holes once more. */
	ck_assert_int_eq(content_truncate(f, fd, 4096), 0);
	ck_assert_int_eq(content_truncate(f, fd, 64 * 4096), 0);
	ops_free();
	w_at(f, 4096, 4096, 45);
	ck_assert_int_eq(data_fallocates(), 1);
	recording = false;
	close_cf(f);
	/* Reopened: what lies before the first hole is known allocated. */
	f = open_cf();
	recording = true;
	w_at(f, 4096, 4096, 46);
	ck_assert_int_eq(data_fallocates(), 0);
	w_at(f, 4096, 30 * 4096, 47);
	ck_assert_int_eq(data_fallocates(), 1);
	recording = false;
	close_cf(f);
}
END_TEST

/* ---- hole records (format 3) ---- */

#define KAT_HOLE_HDR "0000000000000001000000000000000100001020000000020000000000000001"
/* HMAC-SHA256 under the commit key of KAT_ID, computed with Python's hmac. */
#define KAT_HOLE_MAC "89f20965ab20781185d243c58d9e69f9f7a06168d2a3104c9f3bd173616ff194"

/* A hole record's HMAC as doc/file-format.md has it, computed here on its
 * own: commit key of file @p id, over @p id || the 32-byte header. */
static void hole_mac(const uint8_t id[16], const uint8_t hdr[32], uint8_t mac[32])
{
	uint8_t ck[32], key[32], in[48];

	memset(ck, 0x42, sizeof(ck));
	ck_assert_int_eq(crypto_hkdf(ck, 32, id, 16, (const uint8_t *)"atrestfs commit", 15, key,
				     32), 0);
	memcpy(in, id, 16);
	memcpy(in + 16, hdr, 32);
	ck_assert_int_eq(crypto_hmac(key, 32, in, sizeof(in), mac), 0);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The pwrites recorded, in order, into @p pw (at most @p max). */
static int pwrites(int *pw, int max)
{
	int n = 0;

	for (int i = 0; i < nops; i++)
		if (ops[i].kind == OP_PWRITE) {
			ck_assert_int_lt(n, max);
			pw[n++] = i;
		}
	return n;
}

/* Overwriting a run of committed holes writes a 64-byte hole record (header
 * and HMAC) instead of a copy of the blocks; a run holding data keeps its
 * data record; format 2 never writes one. */
START_TEST(hole_record_for_hole_run)
{
	struct content_file *f = open_cf();
	uint8_t id[16], mac[32], *w = malloc(4 * 4096), r[4 * 4096];
	int pw[600], n;

	prep_sparse_8(f);
	close_cf(f);
	file_id(id);
	f = open_cf();
	recording = true;
	op_over_holes(f); /* blocks 2..5, all holes */
	n = pwrites(pw, (int)(sizeof(pw) / sizeof(pw[0])));
	if (fmt == 2) {
		ck_assert_int_eq(n, 8); /* a data record per block */
		for (int i = 0; i < n; i += 2)
			ck_assert_int_eq(ops[pw[i]].len, 32 + CB);
	} else {
		const struct rec_op *j = &ops[pw[0]], *ip = &ops[pw[1]];

		ck_assert_int_eq(n, 2);
		ck_assert_int_eq(be32(j->data), 0);
		ck_assert_int_ge(be32(j->data + 4), 1);      /* seq, in its slot */
		ck_assert_int_eq(j->off, CONTENT_JOURNAL_OFF +
						 (be32(j->data + 4) % 2) * CONTENT_JOURNAL_SLOT(fmt));
		ck_assert_int_eq(j->len, 64);
		ck_assert_int_eq(be32(j->data + 12), 2);     /* first block */
		ck_assert_int_eq(be32(j->data + 16), CB);    /* full blocks */
		ck_assert_int_eq(be32(j->data + 20), 4);     /* count */
		ck_assert_int_eq(be32(j->data + 24), 0);
		ck_assert_int_eq(be32(j->data + 28), 1);     /* the hole flag */
		hole_mac(id, j->data, mac);
		ck_assert(!memcmp(mac, j->data + 32, 32));
		ck_assert_int_eq(ip->off, H + 2 * CB);
		ck_assert_int_eq(ip->len, 4 * CB);
	}
	ops_free();
	op_over_mixed(f); /* blocks 0..2: data, hole, data */
	n = pwrites(pw, (int)(sizeof(pw) / sizeof(pw[0])));
	ck_assert_int_eq(n, fmt == 2 ? 6 : 2);
	ck_assert_int_eq(ops[pw[0]].len, 32 + (fmt == 2 ? 1 : 3) * (off_t)CB);
	ck_assert_int_eq(be32(ops[pw[0]].data + 28), 0);
	ops_free();
	recording = false;
	close_cf(f);
	f = open_cf();
	fill(w, 4 * 4096, 51);
	ck_assert_int_eq(content_read(f, fd, r, 3 * 4096, 3 * 4096), 3 * 4096);
	ck_assert(!memcmp(r, w + 4096, 3 * 4096));
	content_file_free(f);
	free(w);

	/* fio's pattern: 1 MiB after 1 MiB into a preallocated file. Each
	 * run's first file system block holds the end of the block just
	 * written before it (4128-byte blocks): still a hole record. */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	f = open_cf();
	w_at(f, 100, 0, 57);
	ck_assert_int_eq(content_truncate(f, fd, 4 << 20), 0);
	close_cf(f);
	f = open_cf();
	recording = true;
	for (int i = 1; i <= 3; i++) {
		w_at(f, 1 << 20, (off_t)i << 20, 57 + i);
		n = pwrites(pw, (int)(sizeof(pw) / sizeof(pw[0])));
		ck_assert_int_eq(n, fmt == 2 ? 512 : 2);
		if (fmt == 3)
			ck_assert_msg(ops[pw[0]].len == 64, "MiB %d: a %lld-byte record", i,
				      (long long)ops[pw[0]].len);
		ops_free();
	}
	recording = false;
	close_cf(f);
}
END_TEST

/* The in-place write over holes torn after its hole record: the blocks it
 * got whole are new, the torn one goes back to a hole (zeros, punched, no
 * EIO), the ones it never reached stay holes; fsck finds it first. */
START_TEST(torn_over_holes_reads_zeros)
{
	struct content_file *f = open_cf();
	struct content_check chk;
	uint8_t *w = malloc(4 * 4096), r[8 * 4096], z[CB];
	off_t n;

	prep_sparse_8(f);
	close_cf(f);
	f = open_cf();
	op_over_holes(f);       /* hole record, then blocks 2..5 in place */
	content_file_free(f);   /* power cut: the record is the only mark */
	/* Block 3 half written, blocks 4 and 5 never. */
	ck_assert_int_eq(__real_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					  H + 3 * CB + 2048, 3 * CB - 2048), 0);
	ck_assert_int_eq(content_check_file(ctx, fd, false, &chk), 2); /* to repair */
	ck_assert(chk.torn_tail);
	ck_assert(!chk.size_mismatch);
	/* fsck --repair: recovered, then nothing left to find. */
	ck_assert_int_eq(content_check_file(ctx, fd, true, &chk), 1);
	ck_assert(!chk.size_mismatch && !chk.bad_blocks);
	f = open_cf();
	n = content_size(f);
	ck_assert_int_eq(n, 8 * 4096);
	ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 0), 8 * 4096);
	fill(w, 4 * 4096, 51);
	ck_assert(!memcmp(r + 2 * 4096, w, 4096));
	for (int i = 3 * 4096; i < 8 * 4096; i++)
		ck_assert_int_eq(r[i], 0);
	ck_assert_int_eq(pread(fd, z, CB, H + 3 * CB), CB);
	for (int i = 0; i < CB; i++)
		ck_assert_int_eq(z[i], 0);
	close_cf(f);
	/* Recovered and committed: a clean, consistent file. */
	ck_assert_int_eq(content_check_file(ctx, fd, false, &chk), 0);
	ck_assert(!chk.torn_tail && !chk.size_mismatch);
	free(w);
}
END_TEST

/*
 * Hole records by hand over a clean file of four data blocks whose block 1
 * is torn in place: a valid one sends block 1 back to a hole; a bad HMAC,
 * another file's HMAC, a reserved byte, an unknown flag, a last length
 * other than 4128, the wrong slot or a format-2 volume make it void (block
 * 1 reads EIO). A hole record is never a commit record either.
 */
START_TEST(hole_record_hostile)
{
	enum { GOOD, BAD_MAC, OTHER_ID, RESERVED, FLAG, LAST, SLOT, NCASES };
	uint8_t *hh = hex(KAT_HOLE_HDR, NULL), *km = hex(KAT_HOLE_MAC, NULL), *kid = hex(KAT_ID, NULL);
	uint8_t id[16], rec[64], junk[100], r[4096], *a;
	const off_t slot1 = CONTENT_JOURNAL_OFF + CONTENT_JOURNAL_SLOT(fmt);
	off_t alen;
	struct content_file *f;

	/* The layout, pinned: the HMAC computed elsewhere. */
	hole_mac(kid, hh, rec);
	ck_assert(!memcmp(rec, km, 32));
	committed_file(4 * 4096);
	file_id(id);
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(__real_pwrite(fd, junk, sizeof(junk), H + CB + 1000), (ssize_t)sizeof(junk));
	a = file_bytes(&alen);
	for (int c = 0; c < NCASES; c++) {
		uint8_t oid[16];

		set_file_bytes(a, alen);
		memcpy(rec, hh, 32);
		if (fmt == 2)
			rec[23] = 0; /* format 2: count 0, one block */
		if (c == RESERVED)
			rec[25] = 1;
		if (c == FLAG)
			rec[31] = 3;
		if (c == LAST)
			rec[19] = 0x1f;
		if (c == SLOT)
			rec[7] = 2;
		memcpy(oid, id, 16);
		if (c == OTHER_ID)
			oid[0] ^= 1;
		hole_mac(oid, rec, rec + 32);
		if (c == BAD_MAC)
			rec[63] ^= 1;
		ck_assert_int_eq(__real_pwrite(fd, rec, 64, slot1), 64);
		f = open_cf();
		ck_assert_int_eq(content_read(f, fd, r, 4096, 0), 4096);
		ck_assert_int_eq(content_read(f, fd, r, 4096, 2 * 4096), 4096);
		if (c == GOOD && fmt == 3) {
			ck_assert_int_eq(content_read(f, fd, r, 4096, 4096), 4096);
			for (int i = 0; i < 4096; i++)
				ck_assert_int_eq(r[i], 0);
		} else {
			ck_assert_msg(content_read(f, fd, r, 4096, 4096) == -EIO, "case %d accepted", c);
		}
		content_file_free(f);
	}
	/* A valid hole record (seq 3, odd) in commit slot 1 is refused: the
	 * flag sits where a commit record has zero bytes. */
	set_file_bytes(a, alen);
	memcpy(rec, hh, 32);
	rec[7] = 3;
	hole_mac(id, rec, rec + 32);
	ck_assert_int_eq(__real_pwrite(fd, rec, 64, 512 + 512), 64);
	f = open_cf();
	ck_assert_int_eq(content_size(f), 4 * 4096);
	ck_assert_int_eq(content_read(f, fd, r, 4096, 3 * 4096), 4096);
	content_file_free(f);
	free(a);
	free(hh);
	free(km);
	free(kid);
}
END_TEST

/* Commit slot @p slot rewritten by hand: seq, size, flags, journal seq. */
static void put_commit_rec(const uint8_t id[16], uint64_t seq, uint64_t size, uint32_t flags,
			   uint64_t jseq)
{
	uint8_t rec[64] = { 0 };

	for (int i = 0; i < 8; i++) {
		rec[i] = (uint8_t)(seq >> (56 - 8 * i));
		rec[8 + i] = (uint8_t)(size >> (56 - 8 * i));
		rec[20 + i] = (uint8_t)(jseq >> (56 - 8 * i));
	}
	for (int i = 0; i < 4; i++)
		rec[16 + i] = (uint8_t)(flags >> (24 - 8 * i));
	hole_mac(id, rec, rec + 32); /* the same MAC construction */
	ck_assert_int_eq(__real_pwrite(fd, rec, 64, 512 + 512 * (off_t)(seq % 2)), 64);
}

/*
 * Recovery of a dirty file whose block holding the committed size was a
 * full hole in the backing file (grown past it) and is torn under a hole
 * record: it counts as the hole it was, at the committed length, and the
 * file ends there. Without a valid record, committed data is missing: EIO.
 * Built by hand (the daemon reseals such a block before it grows a file).
 */
START_TEST(hole_record_at_committed_size)
{
	const off_t S = 3 * 4096 + 100;
	uint8_t id[16], c[64], rec[64], junk[300], r[4096], *a;
	uint64_t seq[2], cseq, jseq;
	struct content_file *f = open_cf();
	off_t alen;
	int w;

	w_at(f, 125, 0, 56);
	ck_assert_int_eq(content_truncate(f, fd, S), 0);
	close_cf(f);
	file_id(id);
	for (int s = 0; s < 2; s++) {
		ck_assert_int_eq(pread(fd, c, 64, 512 + 512 * s), 64);
		seq[s] = 0;
		for (int i = 0; i < 8; i++)
			seq[s] = seq[s] << 8 | c[i];
	}
	w = seq[0] > seq[1] ? 0 : 1;
	ck_assert_int_eq(pread(fd, c, 64, 512 + 512 * w), 64);
	cseq = seq[w];
	jseq = 0;
	for (int i = 0; i < 8; i++)
		jseq = jseq << 8 | c[20 + i];
	/* Dirty at S, the backing file grown by two blocks (holes). */
	put_commit_rec(id, cseq + 1, (uint64_t)S, 1, jseq);
	ck_assert_int_eq(__real_ftruncate(fd, H + 5 * CB), 0);
	memset(rec, 0, sizeof(rec));
	for (int i = 0; i < 8; i++)
		rec[i] = (uint8_t)((jseq + 1) >> (56 - 8 * i));
	rec[15] = 3;        /* first block */
	rec[18] = CB >> 8;  /* full blocks */
	rec[19] = CB & 0xff;
	rec[23] = 1;        /* count (format 2: the flag makes it void anyway) */
	rec[31] = 1;        /* hole */
	hole_mac(id, rec, rec + 32);
	ck_assert_int_eq(__real_pwrite(fd, rec, 64,
				       CONTENT_JOURNAL_OFF +
					       (off_t)((jseq + 1) % 2) * CONTENT_JOURNAL_SLOT(fmt)),
			 64);
	memset(junk, 0x5a, sizeof(junk));
	ck_assert_int_eq(__real_pwrite(fd, junk, sizeof(junk), H + 3 * CB), (ssize_t)sizeof(junk));
	a = file_bytes(&alen);
	f = open_cf();
	if (fmt == 3) {
		struct stat st;

		ck_assert_int_eq(content_size(f), S);
		ck_assert_int_eq(content_read(f, fd, r, sizeof(r), 3 * 4096), 100);
		for (int i = 0; i < 100; i++)
			ck_assert_int_eq(r[i], 0);
		fstat(fd, &st);
		ck_assert_int_eq(st.st_size, H + 3 * CB + 132);
	} else {
		ck_assert_int_eq(content_read(f, fd, r, 100, 3 * 4096), -EIO);
	}
	content_file_free(f);
	/* The same with the record's HMAC broken: committed data missing. */
	set_file_bytes(a, alen);
	rec[40] ^= 1;
	ck_assert_int_eq(__real_pwrite(fd, rec, 64,
				       CONTENT_JOURNAL_OFF +
					       (off_t)((jseq + 1) % 2) * CONTENT_JOURNAL_SLOT(fmt)),
			 64);
	f = open_cf();
	ck_assert_int_eq(content_read(f, fd, r, 100, 3 * 4096), -EIO);
	content_file_free(f);
	free(a);
}
END_TEST

/* The same over holes: three hole records (256, 256, 87 blocks), each
 * followed by its write in place, although the holes were read before
 * (in the page cache, the reserved range is data to SEEK_DATA); torn in
 * the second run's write in place or in the third record, every byte
 * reads old (zeros) or new, no EIO. */
START_TEST(holes_longer_than_a_record)
{
	uint8_t *a, *oldp, *newp;
	off_t alen, olds, news;
	struct content_file *f = open_cf();
	int pw[8], npw;
	static const uint32_t runs[3] = { 256, 256, 87 };

	w_at(f, 100, 0, 60);
	ck_assert_int_eq(content_truncate(f, fd, 600 * 4096), 0);
	close_cf(f);
	a = file_bytes(&alen);
	oldp = plain_of(&olds);
	f = open_cf();
	recording = true;
	w_at(f, 599 * 4096, 4096, 61);
	recording = false;
	content_file_free(f);
	newp = plain_of(&news);
	npw = pwrites(pw, 8);
	ck_assert_int_eq(npw, 6);
	for (int r = 0, b = 1; r < 3; b += (int)runs[r], r++) {
		const struct rec_op *j = &ops[pw[2 * r]], *w = &ops[pw[2 * r + 1]];

		ck_assert_msg(j->len == 64, "run %d: a %lld-byte record", r, (long long)j->len);
		ck_assert_int_eq(be32(j->data + 12), b);
		ck_assert_int_eq(be32(j->data + 20), runs[r]);
		ck_assert_int_eq(be32(j->data + 28), 1);
		ck_assert_int_eq(w->off, H + (off_t)b * CB);
		ck_assert_int_eq(w->len, (off_t)runs[r] * CB);
	}
	{
		int k = op_sectors(&ops[pw[3]]);
		int cut[4][3] = { { pw[3], 0, k / 2 }, { pw[3], k / 3, k }, { pw[3], 700, 701 },
				  { pw[4], 0, 0 } };

		for (int c = 0; c < 4; c++) {
			set_file_bytes(a, alen);
			for (int m = 0; m < cut[c][0]; m++)
				apply_op(&ops[m], 0, op_sectors(&ops[m]), false);
			apply_op(&ops[cut[c][0]], cut[c][1], cut[c][2], false);
			check_crashed(oldp, olds, newp, news, "600 blocks over holes", cut[c][0],
				      cut[c][1], cut[c][2]);
		}
	}
	ops_free();
	free(a);
	free(oldp);
	free(newp);
}
END_TEST

/* One TCase per test and format, named NAME_f2 / NAME_f3. */
static void add(Suite *s, const char *name, const TTest *t, int loop_end, int timeout,
		void (*su)(void), const char *tag)
{
	/* Check keeps the name pointer: one static slot per TCase. */
	static char names[128][64];
	static int used;
	TCase *tc;

	if (used >= 128)
		abort(); /* more TCases than slots: grow names[] */
	snprintf(names[used], sizeof(names[used]), "%s_%s", name, tag);
	tc = tcase_create(names[used++]);
	tcase_add_checked_fixture(tc, su, teardown);
	if (loop_end)
		tcase_add_loop_test(tc, t, 0, loop_end);
	else
		tcase_add_test(tc, t);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
}

static void add_all(Suite *s, void (*su)(void), const char *tag)
{
	add(s, "roundtrip_sizes", roundtrip_sizes, 7, 60, su, tag);
	add(s, "torn_writes", torn_writes, (int)(sizeof(torn_cases) / sizeof(torn_cases[0])),
	    120, su, tag);
#define T(fn) add(s, #fn, fn, 0, 60, su, tag)
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
	T(journal_count_field);
	T(overwrite_pwrites);
	T(reserved_range_not_reserved_again);
	T(hole_record_for_hole_run);
	T(hole_record_hostile);
	T(hole_record_at_committed_size);
	if (su == setup3) {
		T(torn_over_holes_reads_zeros);
		T(holes_longer_than_a_record);
		T(journal_known_answer);
		T(torn_run_restored_per_block);
		T(overwrite_longer_than_a_record);
	}
#undef T
}

int main(void)
{
	Suite *s = suite_create("content");

	add_all(s, setup2, "f2");
	add_all(s, setup3, "f3");
	return run_suite(s);
}
