// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Long-name files. The entry name is a hash of the text the file holds,
 * so the file authenticates its own place in the directory: the hash
 * check is what refuses a swapped file, and the SIV decryption of the
 * text (under the directory ID) what refuses one brought from elsewhere.
 */
#include "longname.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bkfile.h"
#include "durable.h"

#define LONGNAME_MODE 0444

void longname_file(const char *entry, char *out)
{
	snprintf(out, NAME_MAX + 1, "%s%s", entry, NAMES_LONG_SUFFIX);
}

int longname_read(int dirfd, const char *entry, char *enc)
{
	char path[NAME_MAX + 1], hashed[NAME_MAX + 1];
	size_t n;
	int r;

	enc[0] = '\0';
	longname_file(entry, path);
	/* Only a regular file is opened for reading (bkfile.c). */
	r = bkfile_read(dirfd, path, enc, NAMES_ENC_MAX, &n);
	if (r == -EFBIG || (!r && n <= NAMES_MAX)) {
		enc[0] = '\0';
		return -EIO;
	}
	if (r)
		return r;
	enc[n] = '\0';
	if (strlen(enc) != (size_t)n || names_long_entry(enc, hashed) ||
	    strcmp(hashed, entry)) {
		enc[0] = '\0';
		return -EBADMSG;
	}
	return 0;
}

int longname_write(int dirfd, const char *entry, const char *enc,
		   bool *created)
{
	char path[NAME_MAX + 1], old[NAMES_ENC_MAX + 1];
	int r;

	*created = false;
	longname_file(entry, path);
	r = durable_write_file(dirfd, path, enc, strlen(enc), LONGNAME_MODE,
			       false);
	if (r != -EEXIST) {
		*created = !r;
		return r;
	}
	/* Same entry, same text: a hard link or a name reused. Anything else
	 * there was not written by us for this entry: put the right text. */
	if (!longname_read(dirfd, entry, old) && !strcmp(old, enc))
		return 0;
	return durable_write_file(dirfd, path, enc, strlen(enc), LONGNAME_MODE,
				  true);
}

void longname_remove(int dirfd, const char *entry)
{
	char path[NAME_MAX + 1];

	longname_file(entry, path);
	unlinkat(dirfd, path, 0);
}
