/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File content format of an encrypted volume (no FUSE in here).
 *
 * A non-empty backing file is a header followed by blocks:
 *
 *   header  = u16 version (big endian, 1) || 16-byte random file ID
 *   block i = 16-byte nonce || AES-256-GCM(ciphertext of <= 4096 bytes) || tag
 *   AAD(i)  = file ID || u64 block number (big endian)
 *
 * Every block but the last holds exactly 4096 plaintext bytes. A block whose
 * stored bytes are all zero is a hole and reads as zeros. The file key is
 * HKDF(content key, salt = file ID, info = "atrestfs file"). An empty file
 * has no header; a file gets a fresh ID when it is created or truncated to
 * zero.
 *
 * Callers serialise access per file: content_read() under a shared lock,
 * content_write()/content_truncate() under an exclusive one (a reader must
 * never see half a block). The functions take the backing fd per call so
 * that any open descriptor of the file can be used.
 */
#ifndef ATRESTFS_CONTENT_H
#define ATRESTFS_CONTENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CONTENT_VERSION 1
#define CONTENT_BLOCK 4096
#define CONTENT_FILE_ID_LEN 16
#define CONTENT_HEADER_LEN (2 + CONTENT_FILE_ID_LEN)
#define CONTENT_OVERHEAD 32 /* nonce + tag per block */
#define CONTENT_CBLOCK (CONTENT_BLOCK + CONTENT_OVERHEAD)
/* Largest plaintext size whose backing size still fits in an off_t. */
#define CONTENT_MAX_SIZE                                                       \
	((off_t)((INT64_MAX - CONTENT_HEADER_LEN) / CONTENT_CBLOCK) *          \
	 CONTENT_BLOCK)

/** Volume-wide content state: the content subkey. Opaque. */
struct content_ctx;

/** Per-file state: file ID and file key, loaded from the header. Opaque. */
struct content_file;

/**
 * Make a content context from the volume's 32-byte content subkey (copied
 * into locked memory; the caller wipes its own copy).
 */
int content_ctx_new(const uint8_t key[32], struct content_ctx **out);
void content_ctx_free(struct content_ctx *ctx);

/**
 * Per-file state for the backing file @p fd: reads and checks the header if
 * the file is non-empty. A short or unknown header gives -EIO.
 */
int content_file_open(struct content_ctx *ctx, int fd, struct content_file **out);
void content_file_free(struct content_file *f);

/** Plaintext size for a backing file of @p csize bytes (-EIO if impossible). */
off_t content_plain_size(off_t csize);

/** Plaintext size of an open file (from the cached backing size). */
off_t content_size(const struct content_file *f);

/** Backing size for a plaintext size. */
off_t content_cipher_size(off_t psize);

/** Plaintext size of backing file @p fd (one fstat). */
off_t content_fd_plain_size(int fd);

/**
 * Read up to @p size plaintext bytes at @p off. Short only at end of file.
 * @return bytes read, or -EIO when a block fails authentication.
 */
ssize_t content_read(struct content_file *f, int fd, void *buf, size_t size,
		     off_t off);

/**
 * Write @p size bytes at @p off: partial first/last blocks are read,
 * modified and re-encrypted; a gap past the old end is left as holes (and
 * the old last block padded to full size first). Writes the header first if
 * the file had none. @return @p size or a negative errno (-EFBIG past
 * CONTENT_MAX_SIZE).
 */
ssize_t content_write(struct content_file *f, int fd, const void *buf,
		      size_t size, off_t off);

/** Set the plaintext size to @p size (shrink or grow; -EFBIG past the max). */
int content_truncate(struct content_file *f, int fd, off_t size);

/**
 * Translate SEEK_DATA/SEEK_HOLE on the plaintext to the backing file.
 * @return the plaintext offset or a negative errno (-ENXIO past the end,
 * -EINVAL for any other @p whence).
 */
off_t content_seek(struct content_file *f, int fd, off_t off, int whence);

/**
 * Seal a small value that is not file content (extended attribute values):
 * nonce || GCM(value) || tag, @p len + CONTENT_OVERHEAD bytes into @p out,
 * under the content key, with @p aad bound in.
 */
int content_blob_seal(struct content_ctx *ctx, const void *aad, size_t aad_len,
		      const void *in, size_t len, uint8_t *out);

/** Open a sealed value; @p out gets @p len - CONTENT_OVERHEAD bytes. */
int content_blob_open(struct content_ctx *ctx, const void *aad, size_t aad_len,
		      const uint8_t *in, size_t len, void *out);

#endif
