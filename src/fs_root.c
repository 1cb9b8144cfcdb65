// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The mount root's attributes (fs_root.h): loaded at mount, reported by
 * getattr, changed by chown/chmod of the mount root, and its set-gid bit
 * applied to what is created in it (its backing directory, the VOLUME
 * directory, never has one).
 */
#include "fs_root.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fs.h"
#include "secmem.h"

int fs_root_init(struct atr_fs *fs, const uint8_t *key)
{
	struct fs_inode *root = fs_table_root(fs->table);

	pthread_mutex_init(&fs->root_lock, NULL);
	if (key) {
		fs->root_key = secmem_alloc(ROOTATTR_KEY_LEN);
		if (!fs->root_key)
			return -ENOMEM;
		memcpy(fs->root_key, key, ROOTATTR_KEY_LEN);
	}
	return rootattr_load(root->fd, fs->root_key, &fs->root_attr);
}

void fs_root_free(struct atr_fs *fs)
{
	secmem_free(fs->root_key);
	fs->root_key = NULL;
}

bool fs_root_setgid(struct atr_fs *fs, gid_t *gid)
{
	bool sgid;

	pthread_mutex_lock(&fs->root_lock);
	sgid = fs->root_attr.mode & S_ISGID;
	if (sgid)
		*gid = fs->root_attr.gid;
	pthread_mutex_unlock(&fs->root_lock);
	return sgid;
}

/*
 * The record is durable before the reply, as a chmod on ext4 is once the
 * caller fsyncs; the kernel already decided what is allowed.
 */
int fs_root_setattr(struct atr_fs *fs, const struct stat *attr,
			   int valid)
{
	struct fs_inode *root = fs_table_root(fs->table);
	char path[FS_PROC_FD_LEN];
	struct rootattr a;
	struct stat st;
	int r;

	pthread_mutex_lock(&fs->root_lock);
	a = fs->root_attr;
	if (valid & FUSE_SET_ATTR_UID)
		a.uid = attr->st_uid;
	if (valid & FUSE_SET_ATTR_GID)
		a.gid = attr->st_gid;
	if (valid & FUSE_SET_ATTR_MODE)
		a.mode = attr->st_mode & 07777;
	r = fstatat(root->fd, "", &st, AT_EMPTY_PATH) ? -errno : 0;
	if (!r)
		r = rootattr_store(root->fd, fs->root_key, &a);
	if (!r) {
		/* A chmod changes ctime, not the directory's mtime, which
		 * replacing the record in VOLUME just did. */
		struct timespec tv[2] = { { 0, UTIME_OMIT }, st.st_mtim };

		fs_proc_path(root->fd, path);
		utimensat(AT_FDCWD, path, tv, 0);
		fs->root_attr = a;
	}
	pthread_mutex_unlock(&fs->root_lock);
	return r;
}
