// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Inode table: a fixed-size hash on (dev, ino) with chaining. An entry lives
 * exactly as long as the kernel holds lookups on it (fuse_lowlevel.h's
 * contract: every reply_entry/reply_create counts one, forget subtracts).
 */
#include "fs_inode.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "content.h"
#include "log.h"
#include "stats.h"

#define BUCKETS 65536

struct fs_table {
	pthread_mutex_t mutex; /* must be taken before any inode's lock */
	struct fs_inode root;
	struct fs_inode *bucket[BUCKETS]; /* protected by mutex */
};

static size_t hash(dev_t dev, ino_t ino)
{
	return (size_t)((ino * 0x9E3779B97F4A7C15ull) ^ dev) % BUCKETS;
}

static void inode_init(struct fs_inode *i, int fd, dev_t dev, ino_t ino)
{
	i->fd = fd;
	i->dev = dev;
	i->ino = ino;
	i->nlookup = 1;
	pthread_rwlock_init(&i->lock, NULL);
}

int fs_table_new(int root_fd, struct fs_table **out)
{
	struct fs_table *t = calloc(1, sizeof(*t));
	struct stat st;

	if (!t)
		return -ENOMEM;
	if (fstat(root_fd, &st)) {
		free(t);
		return -errno;
	}
	pthread_mutex_init(&t->mutex, NULL);
	inode_init(&t->root, root_fd, st.st_dev, st.st_ino);
	t->root.nlookup = 2; /* never forgotten */
	*out = t;
	return 0;
}

static void inode_free(struct fs_inode *i)
{
	close(i->fd);
	content_file_free(i->cf);
	pthread_rwlock_destroy(&i->lock);
	free(i);
}

void fs_table_free(struct fs_table *t)
{
	if (!t)
		return;
	for (size_t b = 0; b < BUCKETS; b++) {
		struct fs_inode *i = t->bucket[b], *n;
		for (; i; i = n) {
			n = i->hash_next;
			inode_free(i);
		}
	}
	close(t->root.fd);
	content_file_free(t->root.cf);
	pthread_rwlock_destroy(&t->root.lock);
	pthread_mutex_destroy(&t->mutex);
	free(t);
}

struct fs_inode *fs_table_root(struct fs_table *t)
{
	return &t->root;
}

/* The entry for dev/ino, or NULL; the caller holds the table lock. */
static struct fs_inode *find_locked(struct fs_table *t, dev_t dev, ino_t ino)
{
	struct fs_inode *i;

	if (dev == t->root.dev && ino == t->root.ino)
		return &t->root;
	for (i = t->bucket[hash(dev, ino)]; i; i = i->hash_next)
		if (i->dev == dev && i->ino == ino)
			return i;
	return NULL;
}

struct fs_inode *fs_table_find(struct fs_table *t, dev_t dev, ino_t ino)
{
	struct fs_inode *i;

	pthread_mutex_lock(&t->mutex);
	i = find_locked(t, dev, ino);
	if (i)
		i->nlookup++;
	pthread_mutex_unlock(&t->mutex);
	return i;
}

struct fs_inode *fs_table_get(struct fs_table *t, int fd, dev_t dev, ino_t ino)
{
	size_t h = hash(dev, ino);
	struct fs_inode *i;

	pthread_mutex_lock(&t->mutex);
	i = find_locked(t, dev, ino);
	if (i)
		goto found;
	i = calloc(1, sizeof(*i));
	if (i) {
		inode_init(i, fd, dev, ino);
		i->hash_next = t->bucket[h];
		t->bucket[h] = i;
		stats_add(STATS_INODES, 1);
	} else {
		close(fd);
	}
	pthread_mutex_unlock(&t->mutex);
	return i;
found:
	i->nlookup++;
	pthread_mutex_unlock(&t->mutex);
	close(fd);
	return i;
}

void fs_table_forget(struct fs_table *t, struct fs_inode *inode, uint64_t n)
{
	struct fs_inode **pp;

	pthread_mutex_lock(&t->mutex);
	if (inode->nlookup < n) {
		/* stderr is /dev/null once daemonized; the log is not. */
		log_err("INTERNAL ERROR: negative lookup count on inode %llu",
			(unsigned long long)inode->ino);
		abort();
	}
	inode->nlookup -= n;
	if (inode->nlookup || inode == &t->root) {
		pthread_mutex_unlock(&t->mutex);
		return;
	}
	for (pp = &t->bucket[hash(inode->dev, inode->ino)]; *pp;
	     pp = &(*pp)->hash_next) {
		if (*pp == inode) {
			*pp = inode->hash_next;
			break;
		}
	}
	pthread_mutex_unlock(&t->mutex);
	inode_free(inode);
	stats_add(STATS_INODES, -1);
}

/* ---- the directory-ID cache ---- */

int fs_inode_dirid(struct fs_inode *dir, uint8_t id[NAMES_DIRID_LEN])
{
	int r = 0;

	pthread_rwlock_rdlock(&dir->lock);
	if (dir->has_dirid)
		memcpy(id, dir->dirid, NAMES_DIRID_LEN);
	else
		r = -EIO;
	pthread_rwlock_unlock(&dir->lock);
	return r;
}

bool fs_inode_has_dirid(struct fs_inode *dir)
{
	bool has;

	pthread_rwlock_rdlock(&dir->lock);
	has = dir->has_dirid;
	pthread_rwlock_unlock(&dir->lock);
	return has;
}

void fs_inode_set_dirid(struct fs_inode *dir,
			const uint8_t id[NAMES_DIRID_LEN])
{
	pthread_rwlock_wrlock(&dir->lock);
	memcpy(dir->dirid, id, NAMES_DIRID_LEN);
	dir->has_dirid = true;
	pthread_rwlock_unlock(&dir->lock);
}
