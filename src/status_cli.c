// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The client side of `atrestfs status`. Which mounts exist comes from
 * /proc/self/mountinfo, never from a daemon; what a daemon says is checked
 * field by field (types, ranges, printable ASCII strings of bounded
 * length) and copied into a fresh object, so that nothing unchecked
 * reaches the output. A reply that fails a check counts as no answer.
 */
#include "status_cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "mountinfo.h"
#include "status.h"

#define STR_MAX (4 * PATH_MAX + 4) /* what log_esc() can make of a path */
#define FIELD_STR_MAX 1024	   /* key source parameters */

enum fmt { TEXT, JSON, PROM };

struct mount {
	struct mountinfo_entry e;
	json_t *st;	 /* the checked reply, or NULL */
	char why[256]; /* when st is NULL */
};

struct mounts {
	struct mount *v;
	size_t n;
};

static int collect(const struct mountinfo_entry *e, void *arg)
{
	struct mounts *m = arg;
	struct mount *v;

	if (!mountinfo_is_atrestfs(e))
		return 0;
	v = realloc(m->v, (m->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	m->v = v;
	memset(&v[m->n], 0, sizeof(v[m->n]));
	v[m->n++].e = *e;
	return 0;
}

/* ---- checking the reply ---- */

static bool printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e ||
		    n >= max)
			return false;
	return true;
}

/* Copy string field @p k of @p in into @p out (max chars); NULL allowed
 * when @p nullable. false when missing or not acceptable. */
static bool take_str(json_t *out, json_t *in, const char *k, size_t max,
		     bool nullable)
{
	json_t *v = json_object_get(in, k);

	if (nullable && json_is_null(v))
		return !json_object_set_new(out, k, json_null());
	if (!json_is_string(v) || !printable(json_string_value(v), max))
		return false;
	return !json_object_set_new(out, k, json_string(json_string_value(v)));
}

static bool take_int(json_t *out, json_t *in, const char *k, bool nullable)
{
	json_t *v = json_object_get(in, k);

	if (nullable && json_is_null(v))
		return !json_object_set_new(out, k, json_null());
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	return !json_object_set_new(out, k, json_integer(json_integer_value(v)));
}

static bool one_of(json_t *v, const char *const *set)
{
	for (; json_is_string(v) && *set; set++)
		if (!strcmp(json_string_value(v), *set))
			return true;
	return false;
}

static json_t *check_key_source(json_t *in)
{
	json_t *out = json_object(), *v, *e;
	const char *k;
	size_t i;

	if (!out || !json_is_object(in) ||
	    !take_str(out, in, "type", 32, false))
		goto bad;
	json_object_foreach(in, k, v) {
		if (!strcmp(k, "type"))
			continue;
		if (!printable(k, 64) || json_object_size(out) > 16)
			goto bad;
		if (json_is_string(v) || json_is_integer(v)) {
			if (json_is_string(v) ? !take_str(out, in, k, FIELD_STR_MAX, false)
					      : !take_int(out, in, k, false))
				goto bad;
		} else if (json_is_array(v) && json_array_size(v) <= 32) {
			json_t *a = json_array();

			json_array_foreach(v, i, e) {
				if (!json_is_integer(e) || json_integer_value(e) < 0)
					break;
				json_array_append_new(a, json_integer(json_integer_value(e)));
			}
			if (i != json_array_size(v)) {
				json_decref(a);
				goto bad;
			}
			json_object_set_new(out, k, a);
		} else {
			goto bad;
		}
	}
	return out;
bad:
	json_decref(out);
	return NULL;
}

static bool fill_failure(json_t *o, json_t *v)
{
	static const char *const kinds[] = { "mount", "backing", NULL };

	return take_str(o, v, "path", STR_MAX, false) &&
	       one_of(json_object_get(v, "path_kind"), kinds) &&
	       take_str(o, v, "path_kind", 16, false) &&
	       take_int(o, v, "time", false);
}

static bool fill_kms(json_t *o, json_t *v)
{
	static const char *const states[] = { "allowed", "revoked",
					      "unreachable", NULL };

	return one_of(json_object_get(v, "state"), states) &&
	       take_str(o, v, "state", 16, false) &&
	       take_int(o, v, "since", false) &&
	       take_int(o, v, "last_check", true) &&
	       take_int(o, v, "interval", false);
}

/* Sub-object @p k: null, or an object that @p fill copies checked. */
static bool take_obj(json_t *out, json_t *in, const char *k,
		     bool (*fill)(json_t *o, json_t *v))
{
	json_t *v = json_object_get(in, k), *o;

	if (json_is_null(v))
		return !json_object_set_new(out, k, json_null());
	o = json_object();
	if (!o || json_object_set_new(out, k, o))
		return false;
	return json_is_object(v) && fill(o, v);
}

/* The daemon's reply @p in, checked, as a new object; NULL if bad. */
static json_t *check(json_t *in, const struct mountinfo_entry *e)
{
	static const char *const ints[] = {
		"pid", "format", "mounted_since", "bytes_read", "bytes_written",
		"blocks_read", "blocks_written", "auth_failures", "open_files",
		"cached_inodes", NULL
	};
	json_t *out = json_object(), *v, *o;
	char esc[STR_MAX];

	if (!out || !json_is_object(in) ||
	    json_integer_value(json_object_get(in, "version")) != 1 ||
	    !take_str(out, in, "volume", STR_MAX, false) ||
	    !take_str(out, in, "uuid", 64, false) ||
	    !json_is_boolean(json_object_get(in, "encrypted")))
		goto bad;
	/* The mount point as this node's mount table has it. */
	json_object_set_new(out, "mountpoint",
			    json_string(log_esc(e->mnt, esc, sizeof(esc))));
	json_object_set_new(out, "encrypted",
			    json_boolean(json_is_true(json_object_get(in, "encrypted"))));
	for (int i = 0; ints[i]; i++)
		if (!take_int(out, in, ints[i], false))
			goto bad;
	v = json_object_get(in, "key_source");
	if (json_is_null(v))
		json_object_set_new(out, "key_source", json_null());
	else if ((o = check_key_source(v)))
		json_object_set_new(out, "key_source", o);
	else
		goto bad;
	if (!take_obj(out, in, "last_auth_failure", fill_failure) ||
	    !take_obj(out, in, "kms_recheck", fill_kms))
		goto bad;
	return out;
bad:
	json_decref(out);
	return NULL;
}

/* ---- asking a daemon ---- */

static int wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int n;

	do
		n = poll(&p, 1, STATUS_IO_TIMEOUT_MS * 2);
	while (n < 0 && errno == EINTR);
	return n > 0 ? 0 : -ETIMEDOUT;
}

static void query(struct mount *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf = malloc(STATUS_REPLY_MAX + 1);
	size_t got = 0;
	json_t *in = NULL;
	json_error_t jerr;
	int fd = -1;

	if (!buf || status_socket_path(m->e.major, m->e.minor, sa.sun_path,
				       sizeof(sa.sun_path))) {
		snprintf(m->why, sizeof(m->why), "out of memory");
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(m->why, sizeof(m->why),
			 "the daemon is not answering (%s: %s)", sa.sun_path,
			 errno == ENOENT ? "no status socket" : strerror(errno));
		goto out;
	}
	if (write(fd, STATUS_REQUEST, strlen(STATUS_REQUEST)) !=
	    (ssize_t)strlen(STATUS_REQUEST)) {
		snprintf(m->why, sizeof(m->why),
			 "the daemon is not answering (%s)", strerror(errno));
		goto out;
	}
	/* At most STATUS_REPLY_MAX bytes, within the deadline. */
	while (got <= STATUS_REPLY_MAX && !wait_fd(fd, POLLIN)) {
		ssize_t k = read(fd, buf + got, STATUS_REPLY_MAX + 1 - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	if (!got || got > STATUS_REPLY_MAX || buf[got - 1] != '\n') {
		snprintf(m->why, sizeof(m->why), "the daemon is not answering "
			 "(%s reply)", got > STATUS_REPLY_MAX ? "oversized"
			 : got ? "incomplete" : "no");
		goto out;
	}
	in = json_loadb(buf, got, JSON_REJECT_DUPLICATES, &jerr);
	if (json_is_string(json_object_get(in, "error")) &&
	    printable(json_string_value(json_object_get(in, "error")), 200)) {
		snprintf(m->why, sizeof(m->why), "the daemon refused: %s",
			 json_string_value(json_object_get(in, "error")));
		goto out;
	}
	m->st = check(in, &m->e);
	if (!m->st)
		snprintf(m->why, sizeof(m->why),
			 "the daemon's reply is malformed");
out:
	json_decref(in);
	if (fd >= 0)
		close(fd);
	free(buf);
}

/* ---- output ---- */

static long long num(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *when(json_t *o, const char *k, char *buf, size_t n)
{
	time_t t = (time_t)num(o, k);
	struct tm tm;

	if (!json_is_integer(json_object_get(o, k)) || !gmtime_r(&t, &tm))
		return "never";
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static void print_text(const struct mount *m)
{
	char esc[STR_MAX], t[32];
	json_t *s = m->st, *v;
	const char *k;

	if (!s) {
		printf("%s\n  error:           %s\n",
		       log_esc(m->e.mnt, esc, sizeof(esc)), m->why);
		return;
	}
	printf("%s\n", str(s, "mountpoint"));
	printf("  volume:          %s\n", str(s, "volume"));
	printf("  uuid:            %s\n", str(s, "uuid"));
	printf("  format:          %lld\n", num(s, "format"));
	printf("  encrypted:       %s\n",
	       json_is_true(json_object_get(s, "encrypted")) ? "yes" : "no");
	v = json_object_get(s, "key_source");
	if (json_is_object(v)) {
		json_t *p;

		printf("  key source:      %s", str(v, "type"));
		json_object_foreach(v, k, p) {
			char *d;

			if (!strcmp(k, "type"))
				continue;
			d = json_dumps(p, JSON_ENCODE_ANY | JSON_COMPACT);
			printf(" %s=%s", k,
			       json_is_string(p) ? json_string_value(p)
						 : d ? d : "?");
			free(d);
		}
		printf("\n");
	} else {
		printf("  key source:      none\n");
	}
	printf("  daemon pid:      %lld\n", num(s, "pid"));
	printf("  mounted since:   %s\n", when(s, "mounted_since", t, sizeof(t)));
	printf("  read:            %lld bytes, %lld blocks\n",
	       num(s, "bytes_read"), num(s, "blocks_read"));
	printf("  written:         %lld bytes, %lld blocks\n",
	       num(s, "bytes_written"), num(s, "blocks_written"));
	printf("  auth failures:   %lld", num(s, "auth_failures"));
	v = json_object_get(s, "last_auth_failure");
	if (json_is_object(v))
		printf(", last at %s in %s (%s path)",
		       when(v, "time", t, sizeof(t)), str(v, "path"),
		       str(v, "path_kind"));
	printf("\n  open files:      %lld\n", num(s, "open_files"));
	printf("  cached inodes:   %lld\n", num(s, "cached_inodes"));
	v = json_object_get(s, "kms_recheck");
	if (json_is_object(v)) {
		printf("  kms key:         %s since %s", str(v, "state"),
		       when(v, "since", t, sizeof(t)));
		printf(", last check %s (every %llds)\n",
		       when(v, "last_check", t, sizeof(t)), num(v, "interval"));
	}
}

/* A Prometheus label value: backslash, quote and newline escaped (the
 * strings are printable ASCII already, escaped by log_esc()). */
static void prom_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			putchar('\\');
		putchar(*s);
	}
}

static void prom_labels(const char *name, const struct mount *m,
			const char *extra)
{
	char esc[STR_MAX];

	printf("%s{mountpoint=\"", name);
	prom_label(m->st ? str(m->st, "mountpoint")
			 : log_esc(m->e.mnt, esc, sizeof(esc)));
	fputs("\",uuid=\"", stdout);
	prom_label(m->st ? str(m->st, "uuid") : "");
	printf("\"%s}", extra ? extra : "");
}

struct metric {
	const char *name, *type, *help;
	const char *field; /* in the reply; NULL: computed */
	const char *sub;   /* the sub-object it is in, or NULL */
};

static const struct metric metrics[] = {
	{ "atrestfs_up", "gauge", "1 when the mount's daemon answered", NULL, NULL },
	{ "atrestfs_encrypted", "gauge", "1 for an encrypted volume", NULL, NULL },
	{ "atrestfs_start_time_seconds", "gauge", "When the volume was mounted (Unix time)", "mounted_since", NULL },
	{ "atrestfs_read_bytes_total", "counter", "Plaintext bytes read through the mount", "bytes_read", NULL },
	{ "atrestfs_written_bytes_total", "counter", "Plaintext bytes written through the mount", "bytes_written", NULL },
	{ "atrestfs_read_blocks_total", "counter", "4096-byte blocks covered by reads", "blocks_read", NULL },
	{ "atrestfs_written_blocks_total", "counter", "4096-byte blocks covered by writes", "blocks_written", NULL },
	{ "atrestfs_auth_failures_total", "counter", "Blocks that failed authentication (read as EIO)", "auth_failures", NULL },
	{ "atrestfs_last_auth_failure_time_seconds", "gauge", "When a block last failed authentication (Unix time)", "time", "last_auth_failure" },
	{ "atrestfs_open_files", "gauge", "Files open through the mount", "open_files", NULL },
	{ "atrestfs_cached_inodes", "gauge", "Inodes the daemon holds for the kernel", "cached_inodes", NULL },
	{ "atrestfs_kms_key_state", "gauge", "kms_recheck: 1 for the key's current state", NULL, "kms_recheck" },
	{ "atrestfs_kms_state_since_seconds", "gauge", "kms_recheck: when the key entered its state (Unix time)", "since", "kms_recheck" },
	{ "atrestfs_kms_last_check_time_seconds", "gauge", "kms_recheck: the last check (Unix time)", "last_check", "kms_recheck" },
};

static void print_prom(const struct mounts *ms)
{
	static const char *const states[] = { "allowed", "revoked",
					      "unreachable" };

	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		const struct metric *x = &metrics[i];

		printf("# HELP %s %s\n# TYPE %s %s\n", x->name, x->help,
		       x->name, x->type);
		for (size_t j = 0; j < ms->n; j++) {
			const struct mount *m = &ms->v[j];
			json_t *o = m->st;

			if (!strcmp(x->name, "atrestfs_up")) {
				prom_labels(x->name, m, NULL);
				printf(" %d\n", o ? 1 : 0);
				continue;
			}
			if (!o)
				continue;
			if (x->sub)
				o = json_object_get(o, x->sub);
			if (!json_is_object(o))
				continue;
			if (!strcmp(x->name, "atrestfs_encrypted")) {
				prom_labels(x->name, m, NULL);
				printf(" %d\n", json_is_true(json_object_get(o, "encrypted")));
			} else if (!x->field) {
				for (int s = 0; s < 3; s++) {
					char l[64];

					snprintf(l, sizeof(l), ",state=\"%s\"", states[s]);
					prom_labels(x->name, m, l);
					printf(" %d\n", !strcmp(str(o, "state"), states[s]));
				}
			} else if (json_is_integer(json_object_get(o, x->field))) {
				prom_labels(x->name, m, NULL);
				printf(" %lld\n", num(o, x->field));
			}
		}
	}
}

static void usage(FILE *out)
{
	fputs("usage: atrestfs status [--json | --prometheus] [MOUNTPOINT]\n"
	      "Asks the daemon of each atrestfs mount (or of MOUNTPOINT) what "
	      "it serves:\nvolume, key source, counters, authentication "
	      "failures, KMS key state.\n"
	      "  --json        one JSON array, one object per mount\n"
	      "  --prometheus  node_exporter textfile format\n"
	      "Root only. Exit status: 0 ok, 1 usage, 2 not an atrestfs mount,"
	      "\n4 not root, 5 a daemon did not answer.\n", out);
}

/* The canonical form of @p p, also for a dead mount (ENOTCONN). */
static int canonical(const char *p, char *out)
{
	char dir[PATH_MAX], tmp[PATH_MAX], *slash;

	if (realpath(p, out))
		return 0;
	if (errno != ENOTCONN || strlen(p) >= sizeof(tmp))
		return -errno;
	strcpy(tmp, p);
	while ((slash = strrchr(tmp, '/')) && !slash[1] && slash != tmp)
		*slash = '\0';
	slash = strrchr(tmp, '/');
	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else {
		*slash = '\0';
		snprintf(dir, sizeof(dir), "%s", slash == tmp ? "/" : tmp);
	}
	if (!realpath(dir, out))
		return -errno;
	if (strlen(out) + strlen(slash ? slash + 1 : tmp) + 2 > PATH_MAX)
		return -ENAMETOOLONG;
	if (strcmp(out, "/"))
		strcat(out, "/");
	strcat(out, slash ? slash + 1 : tmp);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct mounts ms = { NULL, 0 };
	int fmt = TEXT;
	char path[PATH_MAX], esc[STR_MAX];
	int c, r, rc = STATUS_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': fmt = fmt == PROM ? -1 : JSON; break;
		case 'p': fmt = fmt == JSON ? -1 : PROM; break;
		case 'h': usage(stdout); return STATUS_EXIT_OK;
		default: usage(stderr); return STATUS_EXIT_USAGE;
		}
	}
	if (fmt < 0 || argc - optind > 1) {
		usage(stderr);
		return STATUS_EXIT_USAGE;
	}
	if (geteuid() != 0) {
		fputs("atrestfs status: only root can query a mount's status "
		      "(its channel is root-only)\n", stderr);
		return STATUS_EXIT_PERM;
	}
	if (optind < argc) {
		struct mount *m = calloc(1, sizeof(*m));

		if (!m)
			return STATUS_EXIT_NO_ANSWER;
		ms.v = m;
		r = canonical(argv[optind], path);
		if (!r)
			r = mountinfo_top(path, &m->e);
		if (r != 1 || !mountinfo_is_atrestfs(&m->e)) {
			fprintf(stderr, "atrestfs status: %s is not an atrestfs "
					"mount%s%s\n",
				log_esc(argv[optind], esc, sizeof(esc)),
				r < 0 ? ": " : "", r < 0 ? strerror(-r) : "");
			free(m);
			return STATUS_EXIT_NOT_MOUNT;
		}
		ms.n = 1;
	} else if ((r = mountinfo_each(NULL, collect, &ms)) < 0) {
		fprintf(stderr, "atrestfs status: cannot read the mount table: "
				"%s\n", strerror(-r));
		free(ms.v);
		return STATUS_EXIT_NO_ANSWER;
	}
	for (size_t i = 0; i < ms.n; i++) {
		query(&ms.v[i]);
		if (!ms.v[i].st) {
			fprintf(stderr, "atrestfs status: %s: %s\n",
				log_esc(ms.v[i].e.mnt, esc, sizeof(esc)),
				ms.v[i].why);
			rc = STATUS_EXIT_NO_ANSWER;
		}
	}
	if (fmt == PROM) {
		print_prom(&ms);
	} else if (fmt == JSON) {
		json_t *a = json_array();
		char *text;

		for (size_t i = 0; i < ms.n; i++)
			json_array_append_new(a, ms.v[i].st
				? json_incref(ms.v[i].st) : json_pack("{s:s, s:s}", "mountpoint",
					    log_esc(ms.v[i].e.mnt, esc, sizeof(esc)),
					    "error", ms.v[i].why));
		text = json_dumps(a, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		puts(text ? text : "[]");
		free(text);
		json_decref(a);
	} else if (!ms.n) {
		puts("no atrestfs mounts");
	} else {
		for (size_t i = 0; i < ms.n; i++)
			print_text(&ms.v[i]);
	}
	for (size_t i = 0; i < ms.n; i++)
		json_decref(ms.v[i].st);
	free(ms.v);
	return rc;
}
