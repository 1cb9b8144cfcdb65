/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File content format of an encrypted volume (no FUSE in here); every byte
 * is described in doc/file-format.md, "File content".
 *
 *   [0, 512)      u16 version (2 or 3) || 16-byte file ID, written once
 *   [512, 1536)   two commit slots, one per 512-byte sector
 *   [1536, H)     two journal slots of 32 + K * 4128 bytes
 *   [H, ...)      block i at H + 4128 i: nonce || GCM(<= 4096) || tag
 *   AAD(i)        = file ID || u64 block number (big endian)
 *
 * The volume's format decides K, the blocks one journal record holds:
 * format 2, one (H = 9856); format 3, up to 256 consecutive blocks, a whole
 * 1 MiB request (H = 2115136). Everything that maps sizes therefore takes
 * the volume's content context.
 *
 * Power loss: an authenticated block is never overwritten in place without
 * its new bytes first being complete in a journal slot, and the commit
 * record (size, "dirty" flag, sequence number, HMAC) alternates between two
 * sectors, so under the ordered-prefix model of doc/daemon.md a torn write
 * leaves either the old or the new version of every block. A file whose
 * last commit is clean must have exactly the committed size (a cut or an
 * extension reads EIO); a dirty one is recovered at open: journalled blocks
 * are restored and a torn tail is cut back to its last consistent block.
 *
 * Callers serialise access per file: content_read() under a shared lock,
 * everything that writes under an exclusive one (a reader must never see
 * half a block). The functions take the backing fd per call so that any
 * open descriptor of the file can be used.
 */
#ifndef ATRESTFS_CONTENT_H
#define ATRESTFS_CONTENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CONTENT_FORMAT_MIN 2 /* oldest volume format read and written */
#define CONTENT_FORMAT_MAX 3 /* newest; what create makes */
#define CONTENT_BLOCK 4096
#define CONTENT_FILE_ID_LEN 16
#define CONTENT_OVERHEAD 32 /* nonce + tag per block */
#define CONTENT_CBLOCK (CONTENT_BLOCK + CONTENT_OVERHEAD)
#define CONTENT_COMMIT_OFF 512 /* commit slot s at 512 + 512 s */
#define CONTENT_COMMIT_LEN 64
#define CONTENT_JOURNAL_OFF 1536 /* journal slot s at 1536 + slot length * s */
#define CONTENT_JOURNAL_HDR 32
/* Blocks per journal record: format 2 one, format 3 a 1 MiB request. */
#define CONTENT_JOURNAL_BLOCKS(format) ((format) >= 3 ? 256 : 1)
#define CONTENT_JOURNAL_MAX 256
#define CONTENT_JOURNAL_SLOT(format)                                           \
	(CONTENT_JOURNAL_HDR + CONTENT_JOURNAL_BLOCKS(format) * CONTENT_CBLOCK)
/* Where block 0 starts: 9856 in format 2, 2115136 in format 3. */
#define CONTENT_HEADER_LEN(format)                                             \
	((off_t)CONTENT_JOURNAL_OFF + 2 * (off_t)CONTENT_JOURNAL_SLOT(format))
/* What a file with a header and no content occupies: header + commits. */
#define CONTENT_EMPTY_LEN CONTENT_JOURNAL_OFF

/** Volume-wide content state: the content and xattr subkeys. Opaque. */
struct content_ctx;

/** Per-file state: file ID and file key, loaded from the header. Opaque. */
struct content_file;

/**
 * Make a content context from the volume's 32-byte content subkey and its
 * 32-byte xattr subkey (both copied into locked memory; the caller wipes
 * its own copies) for a volume of format @p format (CONTENT_FORMAT_MIN ..
 * CONTENT_FORMAT_MAX, else -EINVAL): it fixes the file layout.
 */
int content_ctx_new(const uint8_t key[32], const uint8_t xattr_key[32],
		    int format, struct content_ctx **out);
void content_ctx_free(struct content_ctx *ctx);

/**
 * Per-file state for the backing file @p fd: reads the header and the
 * commit records if the file is non-empty. A file whose last commit is
 * dirty is recovered here (journalled blocks restored, a torn tail cut
 * back; this needs a writable @p fd, or the file is reopened read-write
 * through /proc). A file found damaged (cut, extended, no commit record
 * for its data) opens, and every read or write of it gives -EIO. A short or
 * unknown header gives -EIO.
 */
int content_file_open(struct content_ctx *ctx, int fd, struct content_file **out);
void content_file_free(struct content_file *f);

/**
 * Plaintext size for a backing file of @p csize bytes (-EIO if impossible),
 * assuming it is consistent (content_size() knows better for an open one).
 */
off_t content_plain_size(const struct content_ctx *ctx, off_t csize);

/** Plaintext size of an open file (from the cached backing size). */
off_t content_size(const struct content_file *f);

/** Backing size for a plaintext size. */
off_t content_cipher_size(const struct content_ctx *ctx, off_t psize);

/**
 * Largest plaintext size whose backing size still fits in an off_t; writes
 * and truncates beyond it give -EFBIG.
 */
off_t content_max_size(const struct content_ctx *ctx);

/**
 * The size to report for a backing file of @p csize bytes that is not
 * open: content_plain_size(), or for a file cut short its whole blocks.
 */
off_t content_stat_size(const struct content_ctx *ctx, off_t csize);

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
 * content_max_size()).
 */
ssize_t content_write(struct content_file *f, int fd, const void *buf,
		      size_t size, off_t off);

/**
 * Set the plaintext size to @p size (shrink or grow; -EFBIG past the max).
 * Like content_write(), an error that the backing file system reports
 * before anything is written (EFBIG, ENOSPC) leaves the file unchanged.
 */
int content_truncate(struct content_file *f, int fd, off_t size);

/**
 * Durability point (fsync, release of a written file, unmount): if the
 * file changed since its last commit, write a clean commit record with its
 * size, so that from now on a cut or an extension reads -EIO. The caller
 * fsyncs afterwards when it wants the record on disk.
 */
int content_commit(struct content_file *f, int fd);

/**
 * The stable 16-byte file ID that extended attribute values of this file
 * are bound to. A file without a header (empty) gets one (with a clean
 * commit for size 0), which is why @p fd must be writable then.
 */
int content_file_id(struct content_file *f, int fd,
		    uint8_t id[CONTENT_FILE_ID_LEN]);

/** What content_check_file() found. */
struct content_check {
	bool bad_header;      /**< unknown version or header cut short */
	bool no_commit;       /**< data but no valid commit record */
	bool dirty;           /**< last commit dirty: written, not closed */
	bool size_mismatch;   /**< cut or extended against a clean commit,
				   or cut below a dirty commit's size */
	bool torn_tail;       /**< a torn, uncommitted tail (or journalled
				   block) was found: cut back / restored
				   when repairing */
	off_t committed_size; /**< size in the last commit record (-1: none) */
	off_t size;           /**< consistent plaintext size found */
	off_t backing_before; /**< backing size before, and after a repair */
	off_t backing_after;
	uint64_t bad_blocks;  /**< blocks failing authentication */
	uint64_t first_bad_block;
	bool has_file_id;     /**< the header was readable: */
	uint8_t file_id[CONTENT_FILE_ID_LEN]; /**< what xattrs are bound to */
};

/**
 * Check a whole backing file offline (atrestfs fsck): header, commit
 * records, journal, and every block up to the consistent size. With
 * @p repair, a torn tail is cut back and journalled blocks are restored
 * (what a mount would do on first open); nothing else is changed, so no
 * authentic ciphertext is ever deleted.
 * @return 0 when the file is clean, 1 when @p repair fixed it and nothing
 * else is wrong, 2 when damage remains (described in @p out: bad header,
 * no commit, size mismatch, bad blocks), or a negative errno when the
 * check itself failed (I/O error, out of memory).
 */
int content_check_file(struct content_ctx *ctx, int fd, bool repair,
		       struct content_check *out);

/**
 * Translate SEEK_DATA/SEEK_HOLE on the plaintext to the backing file.
 * @return the plaintext offset or a negative errno (-ENXIO past the end,
 * -EINVAL for any other @p whence).
 */
off_t content_seek(struct content_file *f, int fd, off_t off, int whence);

/**
 * Seal a small value that is not file content (extended attribute values):
 * nonce || GCM(value) || tag, @p len + CONTENT_OVERHEAD bytes into @p out,
 * under the xattr subkey, with @p aad bound in (the caller puts the stored
 * name and the owner's file or directory ID there).
 */
int content_blob_seal(struct content_ctx *ctx, const void *aad, size_t aad_len,
		      const void *in, size_t len, uint8_t *out);

/** The size of @p len bytes sealed by content_blob_seal(). */
size_t content_blob_sealed_len(size_t len);

/**
 * The size of the value sealed in @p sealed_len bytes.
 * @return it, or -EIO when too short to be a sealed value.
 */
ssize_t content_blob_plain_len(size_t sealed_len);

/** Open a sealed value; @p out gets content_blob_plain_len(@p len) bytes. */
int content_blob_open(struct content_ctx *ctx, const void *aad, size_t aad_len,
		      const uint8_t *in, size_t len, void *out);

#endif
