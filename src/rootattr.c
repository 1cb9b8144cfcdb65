// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The mount root's attribute record. A fixed-size binary record is parsed
 * by length first, so nothing in it can make the parser read further; the
 * MAC is compared in constant time before any field is used. The record is
 * replaced atomically, so a crash leaves either the old or the new one.
 */
#include "rootattr.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"

static const uint8_t magic[8] = { 'A', 'T', 'R', 'R', 'O', 'O', 'T', '1' };
#define TMP_NAME ROOTATTR_NAME ".tmp"

_Static_assert(ROOTATTR_MAC_LEN == ROOTATTR_PLAIN_LEN + CRYPTO_MAC_LEN,
	       "record layout");

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static bool valid(const struct rootattr *a)
{
	return !(a->mode & ~(mode_t)07777) && a->uid != (uid_t)-1 &&
	       a->gid != (gid_t)-1;
}

int rootattr_encode(const struct rootattr *a, const uint8_t *key,
		    uint8_t out[ROOTATTR_MAX], size_t *len)
{
	int r;

	if (!valid(a))
		return -EINVAL;
	memcpy(out, magic, sizeof(magic));
	put32(out + 8, a->uid);
	put32(out + 12, a->gid);
	put32(out + 16, a->mode);
	*len = ROOTATTR_PLAIN_LEN;
	if (!key)
		return 0;
	r = crypto_hmac(key, ROOTATTR_KEY_LEN, out, ROOTATTR_PLAIN_LEN,
			out + ROOTATTR_PLAIN_LEN);
	if (r)
		return r;
	*len = ROOTATTR_MAC_LEN;
	return 0;
}

int rootattr_decode(const uint8_t *buf, size_t len, const uint8_t *key,
		    struct rootattr *a)
{
	uint8_t mac[CRYPTO_MAC_LEN];
	struct rootattr t;
	int r;

	if (len != (key ? ROOTATTR_MAC_LEN : ROOTATTR_PLAIN_LEN) ||
	    memcmp(buf, magic, sizeof(magic))) {
		log_err("the mount root's attribute record %s is malformed "
			"(%zu bytes, expected %d with magic ATRROOT1)",
			ROOTATTR_NAME, len,
			key ? ROOTATTR_MAC_LEN : ROOTATTR_PLAIN_LEN);
		return -EINVAL;
	}
	if (key) {
		r = crypto_hmac(key, ROOTATTR_KEY_LEN, buf, ROOTATTR_PLAIN_LEN,
				mac);
		if (r)
			return r;
		if (!crypto_memeq(mac, buf + ROOTATTR_PLAIN_LEN, sizeof(mac))) {
			log_err("the mount root's attribute record %s does not "
				"authenticate (tampered)", ROOTATTR_NAME);
			return -EBADMSG;
		}
	}
	t.uid = get32(buf + 8);
	t.gid = get32(buf + 12);
	t.mode = get32(buf + 16);
	if (!valid(&t)) {
		log_err("the mount root's attribute record %s holds an invalid "
			"owner or mode", ROOTATTR_NAME);
		return -EINVAL;
	}
	*a = t;
	return 0;
}

int rootattr_load(int dirfd, const uint8_t *key, struct rootattr *a)
{
	uint8_t buf[ROOTATTR_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, r;

	fd = openat(dirfd, ROOTATTR_NAME,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP)
			r = -EINVAL;
		if (r != -ENOENT)
			log_err("cannot open %s: %s", ROOTATTR_NAME,
				strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		log_err("%s is not a regular file", ROOTATTR_NAME);
		return -EINVAL;
	}
	/* One byte more than the largest record, so a longer file is caught;
	 * a regular file this small is read whole by one call. */
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	return rootattr_decode(buf, (size_t)n, key, a);
}

int rootattr_store(int dirfd, const uint8_t *key, const struct rootattr *a)
{
	uint8_t buf[ROOTATTR_MAX];
	size_t len;
	int fd, sfd, r;

	r = rootattr_encode(a, key, buf, &len);
	if (r)
		return r;
	if (unlinkat(dirfd, TMP_NAME, 0) && errno != ENOENT)
		return -errno;
	fd = openat(dirfd, TMP_NAME,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Root's, 0600, whatever the umask and the caller's fsuid. */
	errno = 0;
	if (fchown(fd, 0, 0) || fchmod(fd, 0600) ||
	    write(fd, buf, len) != (ssize_t)len || fsync(fd))
		r = errno ? -errno : -EIO;
	if (close(fd) && !r)
		r = -errno;
	if (!r && renameat(dirfd, TMP_NAME, dirfd, ROOTATTR_NAME))
		r = -errno;
	if (r) {
		unlinkat(dirfd, TMP_NAME, 0);
		log_err("cannot write %s: %s", ROOTATTR_NAME, strerror(-r));
		return r;
	}
	/* The rename is durable once the directory is. */
	sfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0 || fsync(sfd))
		r = -errno;
	if (sfd >= 0)
		close(sfd);
	return r;
}

/* A decimal id below 2^32 - 1, or -EINVAL. */
static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || *end || *out >= UINT32_MAX)
		return -EINVAL;
	return 0;
}

int rootattr_parse_owner(const char *spec, uid_t *uid, gid_t *gid)
{
	const char *colon = strchr(spec, ':');
	char user[256];
	const char *group;
	unsigned long id;
	struct passwd *pw;
	struct group *gr;

	if (!colon || colon == spec || !colon[1] ||
	    (size_t)(colon - spec) >= sizeof(user) || strchr(colon + 1, ':'))
		return -EINVAL;
	memcpy(user, spec, (size_t)(colon - spec));
	user[colon - spec] = '\0';
	group = colon + 1;
	if (!parse_id(user, &id)) {
		*uid = (uid_t)id;
	} else {
		pw = getpwnam(user);
		if (!pw)
			return -ENOENT;
		*uid = pw->pw_uid;
	}
	if (!parse_id(group, &id)) {
		*gid = (gid_t)id;
	} else {
		gr = getgrnam(group);
		if (!gr)
			return -ENOENT;
		*gid = gr->gr_gid;
	}
	return 0;
}

int rootattr_parse_mode(const char *s, mode_t *mode)
{
	unsigned long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return -EINVAL;
		v = v * 8 + (unsigned long)(*p - '0');
	}
	if (v > 07777)
		return -EINVAL;
	*mode = (mode_t)v;
	return 0;
}
