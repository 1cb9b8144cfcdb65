// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Directory IDs, bound to their place.
 *
 * The ID file must be on disk before any name is encrypted under it, or a
 * crash could leave entries nobody can decrypt: it is written with
 * durable_write_file() and never replaced by a different ID (an ID that
 * changed would lose every name in the directory). What may be rewritten
 * is its binding: tag = HMAC-SHA256(dirid key, "atrestfs dirid" || ID ||
 * parent ID || own encoded name), the root using sixteen zero bytes and
 * no name. Binding to the parent's ID and the encoded name rather than to
 * inode numbers keeps a volume valid across backup and restore.
 *
 * The file is read from a backing directory that may have been tampered
 * with, so anything but a regular file of one of the two exact sizes is
 * refused, and only a regular file is opened for reading (bkfile.c), so a
 * FIFO or device node planted under its name is never opened.
 */
#include "dirid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkfile.h"
#include "crypto.h"
#include "durable.h"
#include "secmem.h"

#define DIRID_MODE 0444
#define DIRID_KEY_LEN 32

/* Format constants: changing either changes every stored binding. */
static const char info_key[] = "atrestfs dirid";
static const char dom_tag[] = "atrestfs dirid";

struct dirid_ctx {
	uint8_t *key; /* secmem, DIRID_KEY_LEN bytes; immutable */
};

int dirid_ctx_new(const uint8_t names_key[64], struct dirid_ctx **out)
{
	struct dirid_ctx *ctx = calloc(1, sizeof(*ctx));
	int r;

	if (!ctx)
		return -ENOMEM;
	ctx->key = secmem_alloc(DIRID_KEY_LEN);
	if (!ctx->key) {
		free(ctx);
		return -ENOMEM;
	}
	r = crypto_hkdf(names_key, 64, NULL, 0, (const uint8_t *)info_key,
			strlen(info_key), ctx->key, DIRID_KEY_LEN);
	if (r) {
		dirid_ctx_free(ctx);
		return r;
	}
	*out = ctx;
	return 0;
}

void dirid_ctx_free(struct dirid_ctx *ctx)
{
	if (!ctx)
		return;
	secmem_free(ctx->key);
	free(ctx);
}

static int bind_tag(struct dirid_ctx *ctx, const uint8_t id[NAMES_DIRID_LEN],
		    const struct dirid_place *place, uint8_t tag[DIRID_TAG_LEN])
{
	static const uint8_t root_parent[NAMES_DIRID_LEN];
	size_t dl = strlen(dom_tag), nl = place->enc ? strlen(place->enc) : 0;
	uint8_t *msg = malloc(dl + 2 * NAMES_DIRID_LEN + nl);
	int r;

	if (!msg)
		return -ENOMEM;
	/* Only the name is variable, and it comes last: no length needed. */
	memcpy(msg, dom_tag, dl);
	memcpy(msg + dl, id, NAMES_DIRID_LEN);
	memcpy(msg + dl + NAMES_DIRID_LEN,
	       place->parent ? place->parent : root_parent, NAMES_DIRID_LEN);
	if (nl)
		memcpy(msg + dl + 2 * NAMES_DIRID_LEN, place->enc, nl);
	r = crypto_hmac(ctx->key, DIRID_KEY_LEN, msg,
			dl + 2 * NAMES_DIRID_LEN + nl, tag);
	free(msg); /* the ID is no secret: nothing to wipe */
	return r;
}

/* ID || tag(place) [|| tag(also)] into @p buf; returns the length. */
static int build(struct dirid_ctx *ctx, const uint8_t id[NAMES_DIRID_LEN],
		 const struct dirid_place *place,
		 const struct dirid_place *also, uint8_t buf[DIRID_FILE_MAX])
{
	int r;

	memcpy(buf, id, NAMES_DIRID_LEN);
	r = bind_tag(ctx, id, place, buf + NAMES_DIRID_LEN);
	if (r || !also)
		return r ? r : DIRID_FILE_LEN;
	r = bind_tag(ctx, id, also, buf + DIRID_FILE_LEN);
	return r ? r : DIRID_FILE_MAX;
}

int dirid_create(struct dirid_ctx *ctx, int dirfd,
		 const struct dirid_place *place, uint8_t id[NAMES_DIRID_LEN])
{
	uint8_t fresh[NAMES_DIRID_LEN], buf[DIRID_FILE_MAX];
	int r;

	r = crypto_random(fresh, sizeof(fresh));
	if (r)
		return r;
	r = build(ctx, fresh, place, NULL, buf);
	if (r < 0)
		return r;
	r = durable_write_file(dirfd, NAMES_DIRID_FILE, buf, (size_t)r,
			       DIRID_MODE, false);
	if (!r)
		memcpy(id, fresh, sizeof(fresh));
	return r;
}

int dirid_rebind(struct dirid_ctx *ctx, int dirfd,
		 const uint8_t id[NAMES_DIRID_LEN],
		 const struct dirid_place *place,
		 const struct dirid_place *also)
{
	uint8_t buf[DIRID_FILE_MAX];
	int r = build(ctx, id, place, also, buf);

	if (r < 0)
		return r;
	return durable_write_file(dirfd, NAMES_DIRID_FILE, buf, (size_t)r,
				  DIRID_MODE, true);
}

int dirid_read(struct dirid_ctx *ctx, int dirfd,
	       const struct dirid_place *place, uint8_t id[NAMES_DIRID_LEN])
{
	uint8_t buf[DIRID_FILE_MAX], want[DIRID_TAG_LEN];
	size_t n;
	int r;

	/* Only a regular file is opened for reading (bkfile.c). */
	r = bkfile_read(dirfd, NAMES_DIRID_FILE, buf, sizeof(buf), &n);
	if (r == -EFBIG)
		return -EIO;
	if (r)
		return r;
	if (n != DIRID_FILE_LEN && n != DIRID_FILE_MAX)
		return -EIO;
	r = bind_tag(ctx, buf, place, want);
	if (r)
		return r;
	memcpy(id, buf, NAMES_DIRID_LEN);
	for (size_t off = NAMES_DIRID_LEN; off < n; off += DIRID_TAG_LEN)
		if (crypto_memeq(buf + off, want, DIRID_TAG_LEN))
			return 0;
	return -EBADMSG;
}

void dirid_tmp_name(char tmp[DIRID_TMP_NAME_MAX])
{
	static unsigned long counter;

	/* Unique per process; a leftover of a crash is bookkeeping, hidden. */
	snprintf(tmp, DIRID_TMP_NAME_MAX, ".atrestfs.mkdir.%d.%lu",
		 (int)getpid(),
		 __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
}

int dirid_publish(struct dirid_ctx *ctx, int parentfd, const char *tmp,
		  const char *name, const struct dirid_place *place,
		  uint8_t *id)
{
	uint8_t fresh[NAMES_DIRID_LEN];
	int fd, r;

	fd = openat(parentfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto err_rmdir;
	}
	r = dirid_create(ctx, fd, place, fresh);
	if (r) {
		close(fd);
		goto err_rmdir;
	}
	r = durable_rename_noreplace(parentfd, tmp, parentfd, name);
	if (r) {
		unlinkat(fd, NAMES_DIRID_FILE, 0);
		close(fd);
		goto err_rmdir;
	}
	close(fd);
	if (id)
		memcpy(id, fresh, sizeof(fresh));
	return durable_fsync_dir(parentfd);
err_rmdir:
	unlinkat(parentfd, tmp, AT_REMOVEDIR);
	return r;
}

int dirid_mkdir(struct dirid_ctx *ctx, int parentfd, const char *name,
		const struct dirid_place *place, mode_t mode, uint8_t *id)
{
	char tmp[DIRID_TMP_NAME_MAX];

	dirid_tmp_name(tmp);
	if (mkdirat(parentfd, tmp, mode))
		return -errno;
	return dirid_publish(ctx, parentfd, tmp, name, place, id);
}

int dirid_dir_empty(int dirfd)
{
	int fd = dup(dirfd);
	struct dirent *d;
	DIR *dp;
	int r = 0;

	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	while ((d = readdir(dp))) {
		/* The ID file and its temp file (a crash during a rebind). */
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
		    !strncmp(d->d_name, NAMES_DIRID_FILE,
			     strlen(NAMES_DIRID_FILE)))
			continue;
		r = -ENOTEMPTY;
		break;
	}
	closedir(dp);
	return r;
}
