// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A strict reader of /proc/self/mountinfo (proc(5)): "ID PARENT MAJ:MIN
 * ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS". Mount
 * points and sources carry octal escapes for space, tab, newline and
 * backslash; they are undone before anything is compared.
 */
#include "mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool mountinfo_is_atrestfs(const struct mountinfo_entry *e)
{
	return !strcmp(e->fstype, "fuse.atrestfs") ||
	       !strcmp(e->fstype, "atrestfs");
}

void mountinfo_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static int copy(char *dst, size_t n, char *src)
{
	if (!src)
		return -1;
	mountinfo_unescape(src);
	if (strlen(src) >= n)
		return -1;
	strcpy(dst, src);
	return 0;
}

/* One line into @p e; -1 when it does not have the documented shape. */
static int parse(char *line, struct mountinfo_entry *e)
{
	char *sep = strstr(line, " - "), *f[5], *save = NULL, *end;
	int i = 0;

	if (!sep)
		return -1;
	*sep = '\0';
	for (char *t = strtok_r(line, " ", &save); t && i < 5;
	     t = strtok_r(NULL, " ", &save))
		f[i++] = t;
	if (i < 5)
		return -1;
	e->major = (unsigned)strtoul(f[2], &end, 10);
	if (end == f[2] || *end != ':')
		return -1;
	e->minor = (unsigned)strtoul(end + 1, &end, 10);
	if (*end)
		return -1;
	save = NULL;
	if (copy(e->mnt, sizeof(e->mnt), f[4]) ||
	    copy(e->fstype, sizeof(e->fstype), strtok_r(sep + 3, " ", &save)) ||
	    copy(e->source, sizeof(e->source), strtok_r(NULL, " ", &save)))
		return -1;
	return 0;
}

int mountinfo_each(const char *path,
		   int (*cb)(const struct mountinfo_entry *e, void *arg),
		   void *arg)
{
	FILE *fp = fopen(path ? path : "/proc/self/mountinfo", "re");
	struct mountinfo_entry *e = malloc(sizeof(*e));
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!fp || !e) {
		r = fp ? -ENOMEM : -errno;
		goto out;
	}
	while (!r && getline(&line, &cap, fp) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (!parse(line, e))
			r = cb(e, arg);
	}
out:
	free(line);
	free(e);
	if (fp)
		fclose(fp);
	return r;
}

struct top {
	const char *mnt;
	struct mountinfo_entry *out;
	int found;
};

static int top_cb(const struct mountinfo_entry *e, void *arg)
{
	struct top *t = arg;

	if (!strcmp(e->mnt, t->mnt)) {
		*t->out = *e;
		t->found = 1;
	}
	return 0;
}

int mountinfo_top(const char *mnt, struct mountinfo_entry *out)
{
	struct top t = { mnt, out, 0 };
	int r = mountinfo_each(NULL, top_cb, &t);

	return r < 0 ? r : t.found;
}
