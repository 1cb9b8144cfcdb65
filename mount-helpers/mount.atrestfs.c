// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mount.atrestfs: the mount(8) helper, so that an fstab line of type
 * "atrestfs" mounts a volume:
 *
 *   /var/lib/cache-vol  /var/lib/redis  atrestfs  defaults,_netdev,nofail  0 0
 *
 * mount(8) runs `mount.atrestfs SPEC DIR [-sfnv] [-o OPTIONS]`. The options
 * that only mean something to mount(8), systemd or the admin (_netdev,
 * nofail, noauto, x-*, comment=, ...) are dropped here so they never reach
 * the kernel or libfuse; the rest go to `atrestfs mount`, which is exec()ed
 * so that its exit status and its message are mount(8)'s. It returns only
 * once the filesystem is mounted (atrestfs goes to the background after the
 * mount is up) or with the reason it is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ATRESTFS_BINDIR
#define ATRESTFS_BINDIR "/usr/local/bin"
#endif

/* Options for mount(8), systemd and people, never for the filesystem. */
static bool userspace_only(const char *o)
{
	static const char *const exact[] = { "_netdev", "nofail", "noauto",
					     "auto", "user", "users", "nouser",
					     "owner", "group", "defaults",
					     "loop", NULL };

	for (const char *const *e = exact; *e; e++)
		if (!strcmp(o, *e))
			return true;
	return !strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8) ||
	       !strncmp(o, "user=", 5);
}

/* Append the kept options of comma-separated @p in to @p out. */
static int filter_options(const char *in, char *out, size_t cap, bool verbose)
{
	char *copy = strdup(in), *save = NULL, *o;
	size_t len = strlen(out);

	if (!copy)
		return -ENOMEM;
	for (o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!*o)
			continue;
		if (userspace_only(o)) {
			if (verbose)
				fprintf(stderr, "mount.atrestfs: dropping "
						"userspace option %s\n", o);
			continue;
		}
		if (len + strlen(o) + 2 > cap) {
			free(copy);
			return -E2BIG;
		}
		if (len)
			out[len++] = ',';
		strcpy(out + len, o);
		len += strlen(o);
	}
	free(copy);
	return 0;
}

/* The last "encryption=..." token of comma-separated @p list into @p out. */
static void last_encryption(const char *list, char *out, size_t cap)
{
	for (const char *t = list; t && *t; t = strchr(t, ',') ? strchr(t, ',') + 1 : NULL) {
		size_t len = strcspn(t, ",");

		if (len >= 11 && !strncmp(t, "encryption=", 11) && len < cap)
			snprintf(out, cap, "%.*s", (int)len, t);
	}
}

/* Whether comma-separated @p list already states "encryption=" itself (an
 * "atrestfs.encryption=" is left to the daemon, which refuses a mismatch). */
static bool has_encryption(const char *list)
{
	for (const char *t = list; t && *t; t = strchr(t, ',') ? strchr(t, ',') + 1 : NULL)
		if (!strncmp(t, "encryption=", 11))
			return true;
	return false;
}

/* Whether two paths name the same file (exact strings when unresolvable). */
static bool same_path(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	if (realpath(a, ra) && realpath(b, rb))
		return !strcmp(ra, rb);
	return !strcmp(a, b);
}

/*
 * libmount keeps "encryption=" for itself (the legacy loop-device option)
 * and never hands it to a helper, yet it is how the older fstab lines state
 * that a volume is plain ("atrestfs.encryption=off" gets through, for both
 * types, and needs none of this). So it is read back from where mount(8) took it: its own
 * command line (-o ..., -T FILE / --fstab FILE), else LIBMOUNT_FSTAB, else
 * /etc/fstab, in the entry for this volume and mount point. Getting it
 * wrong can only fail closed: the daemon refuses a plain volume without
 * encryption=off and an encrypted one with it.
 */
static void recover_encryption(const char *spec, const char *dir, char *opts,
			       size_t cap, bool verbose)
{
	char path[64], args[8192], comm[32] = "", *fstab = getenv("LIBMOUNT_FSTAB");
	char found[64] = "";
	struct mntent *m;
	ssize_t n = 0;
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)getppid());
	if ((f = fopen(path, "r"))) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
	}
	if (!strcmp(comm, "mount\n")) {
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)getppid());
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, args, sizeof(args) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n < 0)
			n = 0;
		args[n] = '\0'; /* a cut command line ends in a string too */
	}
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(args + i) + 1) {
		const char *a = args + i;
		ssize_t next_i = i + (ssize_t)strlen(a) + 1;
		const char *next = next_i < n ? args + next_i : NULL;

		if ((!strcmp(a, "-T") || !strcmp(a, "--fstab")) && next)
			fstab = (char *)next;
		else if (!strncmp(a, "--fstab=", 8))
			fstab = (char *)a + 8;
		else if ((!strcmp(a, "-o") || !strcmp(a, "--options")) && next)
			last_encryption(next, found, sizeof(found));
		else if (!strncmp(a, "-o", 2) && a[2])
			last_encryption(a + 2, found, sizeof(found));
		else if (!strncmp(a, "--options=", 10))
			last_encryption(a + 10, found, sizeof(found));
	}
	if (!found[0] && (f = setmntent(fstab ? fstab : "/etc/fstab", "r"))) {
		while ((m = getmntent(f))) {
			if (!same_path(m->mnt_dir, dir) ||
			    !same_path(m->mnt_fsname, spec))
				continue;
			found[0] = '\0'; /* the last matching line counts */
			last_encryption(m->mnt_opts, found, sizeof(found));
		}
		endmntent(f);
	}
	if (!found[0] || has_encryption(opts))
		return;
	if (verbose)
		fprintf(stderr, "mount.atrestfs: %s recovered from the mount "
				"request\n", found);
	if (strlen(opts) + strlen(found) + 2 <= cap) {
		if (*opts)
			strcat(opts, ",");
		strcat(opts, found);
	}
}

/* atrestfs beside this helper (a build tree), else the configured one. */
static void find_atrestfs(char *out, size_t cap)
{
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		char *slash;
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(out, cap, "%s/atrestfs", self);
			if (access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, cap, "%s/atrestfs", ATRESTFS_BINDIR);
	if (access(out, X_OK) == 0)
		return;
	snprintf(out, cap, "atrestfs"); /* from PATH */
}

static void usage(void)
{
	fputs("usage: mount.atrestfs VOLUME MOUNTPOINT [-sfnv] [-o OPTIONS]\n"
	      "Called by mount(8) for fstab entries of type atrestfs; see "
	      "mount.atrestfs(8).\n", stderr);
}

int main(int argc, char **argv)
{
	char opts[8192] = "", bin[PATH_MAX];
	const char *spec = NULL, *dir = NULL;
	bool fake = false, verbose = false;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage();
			return 0;
		}
		if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v) {
				usage();
				return 1;
			}
			if (filter_options(v, opts, sizeof(opts), verbose)) {
				fputs("mount.atrestfs: options too long\n", stderr);
				return 1;
			}
			continue;
		}
		if (!strcmp(a, "-t")) { /* type: we know it already */
			i++;
			continue;
		}
		if (!strcmp(a, "-N")) {
			fputs("mount.atrestfs: mounting in another namespace "
			      "(-N) is not supported\n", stderr);
			return 1;
		}
		if (a[0] == '-' && a[1]) {
			for (const char *f = a + 1; *f; f++) {
				switch (*f) {
				case 'f': fake = true; break;
				case 'v': verbose = true; break;
				case 's': /* sloppy: we ignore nothing anyway */
				case 'n': /* no mtab: there is none */
					break;
				default:
					fprintf(stderr, "mount.atrestfs: unknown "
							"flag -%c\n", *f);
					return 1;
				}
			}
			continue;
		}
		if (!spec)
			spec = a;
		else if (!dir)
			dir = a;
		else {
			usage();
			return 1;
		}
	}
	if (!spec || !dir) {
		usage();
		return 1;
	}
	recover_encryption(spec, dir, opts, sizeof(opts), verbose);
	find_atrestfs(bin, sizeof(bin));
	if (verbose)
		fprintf(stderr, "mount.atrestfs: %s mount %s %s%s%s\n", bin,
			spec, dir, *opts ? " -o " : "", opts);
	if (fake)
		return 0;
	if (*opts)
		execlp(bin, "atrestfs", "mount", spec, dir, "-o", opts,
		       (char *)NULL);
	else
		execlp(bin, "atrestfs", "mount", spec, dir, (char *)NULL);
	fprintf(stderr, "mount.atrestfs: cannot run %s: %s\n", bin,
		strerror(errno));
	return 1;
}
