/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The inode table of the FUSE daemon: one entry per backing inode, holding
 * an O_PATH fd, the kernel's lookup count and, for regular files of an
 * encrypted volume, the per-file content state. The FUSE inode number is
 * the entry's address, as in libfuse's passthrough_ll.
 */
#ifndef ATRESTFS_FS_INODE_H
#define ATRESTFS_FS_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "names.h"

struct content_file;

struct fs_inode {
	int fd; /* O_PATH | O_NOFOLLOW, owned */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup;           /* protected by the table lock */
	struct fs_inode *hash_next; /* protected by the table lock */
	/*
	 * Content lock: shared for reads, exclusive for writes, truncates
	 * and for setting @cf or @dirid. Taken after the table lock, never
	 * while holding another inode's content lock.
	 */
	pthread_rwlock_t lock;
	struct content_file *cf;         /* protected by lock */
	uint8_t dirid[NAMES_DIRID_LEN];  /* protected by lock */
	bool has_dirid;                  /* protected by lock */
	unsigned open_writers; /* handles open for writing; atomic */
};

struct fs_table;

/** A table whose root is the directory open at @p root_fd (taken over). */
int fs_table_new(int root_fd, struct fs_table **out);
void fs_table_free(struct fs_table *t);

struct fs_inode *fs_table_root(struct fs_table *t);

/**
 * The entry for the backing inode of @p fd (dev/ino from @p st): an existing
 * entry gets its lookup count raised and @p fd is closed; otherwise a new
 * entry takes @p fd over with a lookup count of 1.
 */
struct fs_inode *fs_table_get(struct fs_table *t, int fd, dev_t dev, ino_t ino);

/**
 * The entry for backing inode @p dev / @p ino if the table has one, with its
 * lookup count raised; NULL otherwise. An entry holds its inode open, so
 * the pair cannot name another inode while it is in the table.
 */
struct fs_inode *fs_table_find(struct fs_table *t, dev_t dev, ino_t ino);

/** Lower the lookup count by @p n; frees the entry at zero. */
void fs_table_forget(struct fs_table *t, struct fs_inode *inode, uint64_t n);

/**
 * The directory-ID cache: the ID of directory @p dir, checked against its
 * place when it was looked up or mounted, into @p id.
 * @return 0, or -EIO when it has none (its ID file is missing, malformed
 * or bound elsewhere: its entries read as EIO).
 */
int fs_inode_dirid(struct fs_inode *dir, uint8_t id[NAMES_DIRID_LEN]);

/** True when fs_inode_dirid() would succeed. */
bool fs_inode_has_dirid(struct fs_inode *dir);

/** Remember the checked ID @p id of directory @p dir. */
void fs_inode_set_dirid(struct fs_inode *dir,
			const uint8_t id[NAMES_DIRID_LEN]);

#endif
