// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `atrestfs mount`: fail closed. Every check that can refuse the mount runs
 * in the foreground, before the kernel mount and before daemonizing, so a
 * refusal is an exit status and a message on stderr, and nothing is mounted
 * or written. Only then is the volume key obtained (once), the config MAC
 * checked, the subkeys derived and the volume key wiped.
 */
#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "dirid.h"
#include "exitcodes.h"
#include "fs_inode.h"
#include "fs_ops.h"
#include "fuse_io.h"
#include "keyprov.h"
#include "log.h"
#include "mountinfo.h"
#include "names.h"
#include "pin.h"
#include "revoke.h"
#include "sandbox.h"
#include "secmem.h"
#include "status.h"
#include "unlock.h"
#include "unmounter.h"
#include "volume.h"

/* Every format a config may name has its content layout. */
_Static_assert(VOLUME_FORMAT_MIN == CONTENT_FORMAT_MIN &&
		       VOLUME_FORMAT == CONTENT_FORMAT_MAX,
	       "volume formats and content layouts out of step");

struct mount_opts {
	char *encryption; /* "on" / "off" */
	char *encryption_fstab; /* the same, spelt atrestfs.encryption= */
	char *key_source; /* TYPE[:ARG] */
	struct pin_opts pin; /* what the fstab line pins (pin.h) */
	char *kms_recheck, *kms_grace, *kms_revoked; /* revoke.h */
	char *kms_retry_time; /* the kms source's --kms-retry-time */
	char *volume;
	char *mountpoint;
	int foreground;
	int help;
};

enum { KEY_FG, KEY_DEBUG, KEY_HELP, KEY_SETID };

static const struct fuse_opt opt_spec[] = {
	{ "encryption=%s", offsetof(struct mount_opts, encryption), 0 },
	/* libmount keeps "encryption=" (a loop-device option) from every
	 * helper, mount.fuse3 included; this spelling gets through. */
	{ "atrestfs.encryption=%s",
	  offsetof(struct mount_opts, encryption_fstab), 0 },
	{ "key_source=%s", offsetof(struct mount_opts, key_source), 0 },
	{ "kms_recheck=%s", offsetof(struct mount_opts, kms_recheck), 0 },
	{ "kms_grace=%s", offsetof(struct mount_opts, kms_grace), 0 },
	{ "kms_revoked=%s", offsetof(struct mount_opts, kms_revoked), 0 },
	{ "kms_retry_time=%s", offsetof(struct mount_opts, kms_retry_time), 0 },
#define PIN_OPT(name) \
	{ #name "=%s", offsetof(struct mount_opts, pin.name), 0 }
	PIN_OPT(uuid),
	PIN_OPT(tpm2_tcti),
	PIN_OPT(tpm2_pcrs),
	PIN_OPT(tpm2_srk),
	PIN_OPT(kms_region),
	PIN_OPT(kms_endpoint),
	PIN_OPT(kms_profile),
#undef PIN_OPT
	FUSE_OPT_KEY("-f", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("suid", KEY_SETID),
	FUSE_OPT_KEY("dev", KEY_SETID),
	FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct mount_opts *o = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->volume)
			o->volume = strdup(arg);
		else if (!o->mountpoint)
			o->mountpoint = strdup(arg);
		else {
			fprintf(stderr, "atrestfs: unexpected argument '%s'\n",
				arg);
			return -1;
		}
		return 0;
	case KEY_FG:
		o->foreground = 1;
		return 0;
	case KEY_DEBUG:
		o->foreground = 1;
		return 1; /* libfuse prints its request trace too */
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_SETID:
		/* Dropped, never refused: mount.fuse3 passes them itself. The
		 * mount is always nosuid,nodev (added below). */
		return 0;
	}
	return 1; /* everything else is libfuse's or the kernel's */
}

static void mount_usage(FILE *out)
{
	fputs("usage: atrestfs mount VOLUME MOUNTPOINT [-o OPTIONS] [-f] [-d]\n"
	      "  -o encryption=off       the volume is a plain one (without it,"
	      " encryption is expected)\n"
	      "     (atrestfs.encryption=off: the same, the spelling that an"
	      " fstab line keeps)\n"
	      "  -o key_source=TYPE[:ARG] the key source this node pins: "
	      "keyfile:PATH, tpm2, kms:KEY_ARN\n"
	      "  -o uuid=UUID            the volume this node expects\n"
	      "  -o tpm2_pcrs=7+8  tpm2_srk=HANDLE  tpm2_tcti=TCTI\n"
	      "  -o kms_region=R  kms_endpoint=URL  kms_profile=P\n"
	      "  -o kms_recheck=SECONDS [kms_grace=SECONDS] "
	      "[kms_revoked=deny_writes|deny_all]\n"
	      "     (kms volumes: ask KMS again at each interval; a revoked key"
	      " stops writes)\n"
	      "  -o kms_retry_time=SECONDS  retry a throttled or failing KMS "
	      "for this long (default 60)\n"
	      "     (pins come from these and the node record that create "
	      "writes; see atrestfs(8))\n"
	      "  -f                      stay in the foreground\n"
	      "  -d                      debug output (implies -f)\n"
	      "  other -o options (allow_other, default_permissions, ro, ...)"
	      " go to FUSE.\n",
	      out);
}

/*
 * "-o fsname=VOL,...": a comma or backslash in VOL is escaped, or a volume
 * directory named "v,dev,suid" would add mount options of its own.
 */
static int add_fsname_opt(struct fuse_args *args, const char *vol)
{
	char *fsname = NULL, *opts = NULL, *arg = NULL;
	int r = -1;

	if (asprintf(&fsname, "fsname=%s", vol) < 0) {
		fsname = NULL;
		goto out;
	}
	if (fuse_opt_add_opt_escaped(&opts, fsname) ||
	    fuse_opt_add_opt(&opts, "subtype=atrestfs,default_permissions,"
				    "nosuid,nodev"))
		goto out;
	if (asprintf(&arg, "-o%s", opts) < 0) {
		arg = NULL;
		goto out;
	}
	r = fuse_opt_add_arg(args, arg);
out:
	free(fsname);
	free(opts);
	free(arg);
	return r;
}

static void audit(const struct volume_config *cfg, const char *vol,
		  const char *outcome)
{
	const struct keyprov *kp = cfg && cfg->encrypted
					   ? keyprov_find(cfg->key_source)
					   : NULL;
	char id[512] = "none";

	if (kp)
		keyprov_audit_id(kp, cfg->key_params, id, sizeof(id));
	/* id is escaped by the key source; vol and uuid are escaped here */
	log_audit("mount volume=\"%s\" uuid=%s key_source=\"%s\" outcome=%s",
		  LOG_ESC(vol), cfg ? LOG_ESC(cfg->uuid) : "-", id, outcome);
}

/*
 * Raise resource limit @p res to @p want, soft and hard, while
 * CAP_SYS_RESOURCE is still there (sandbox_apply() drops it); without it,
 * the soft limit to the hard one. A hard limit above @p want is kept.
 * Failure leaves the limit as it was: the mount works, with less.
 */
static void raise_limit(int res, rlim_t want, const char *what)
{
	struct rlimit rl, to;

	if (getrlimit(res, &rl))
		return;
	to.rlim_cur = to.rlim_max = rl.rlim_max > want ? rl.rlim_max : want;
	if (to.rlim_cur > rl.rlim_cur && setrlimit(res, &to)) {
		to.rlim_cur = to.rlim_max = rl.rlim_max;
		if (setrlimit(res, &to))
			log_warn("%s limited to %llu: %s", what,
				 (unsigned long long)rl.rlim_cur, strerror(errno));
	}
}

/*
 * Every open file costs the daemon a backing fd and every cached inode an
 * O_PATH fd: take as many as a process may have (fs.nr_open).
 */
static void raise_nofile(void)
{
	unsigned long nr_open = 1024 * 1024;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 1024 * 1024;
		fclose(f);
	}
	raise_limit(RLIMIT_NOFILE, nr_open, "open files");
}

/*
 * Every cached inode of an encrypted volume holds its file's key in a
 * locked pool slot (src/secmem.c: 128 bytes, 511 to a 64 KiB chunk), and
 * secmem carries on unlocked when mlock() fails: under the usual 8 MiB
 * RLIMIT_MEMLOCK (systemd's and the kernel's default) the keys past about
 * 65,000 files would be swappable. So no limit, as for the descriptors;
 * what it locks stays bounded by them (one slot per cached inode, each of
 * which holds a descriptor). Raised before the volume key is taken.
 */
static void raise_memlock(void)
{
	raise_limit(RLIMIT_MEMLOCK, RLIM_INFINITY, "locked memory");
}

/*
 * The kernel starts a FUSE mount's readahead window at its 128 KiB default
 * and only lowers it to what INIT asks for (FS_OPS_READAHEAD), so a cold
 * sequential read arrived as 128 KiB READs, eight per MiB. Raised here,
 * before INIT is answered (the kernel then keeps the smaller of the two):
 * one 1 MiB READ and one backing pread per MiB, a fifth less daemon CPU
 * (doc/daemon.md). Failure (no writable sysfs) leaves the default.
 */
static void raise_readahead(const char *mnt)
{
	struct mountinfo_entry *me = malloc(sizeof(*me));
	char path[64];
	FILE *f;

	if (!me)
		return;
	if (mountinfo_top(mnt, me) == 1 && mountinfo_is_atrestfs(me)) {
		snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb",
			 me->major, me->minor);
		f = fopen(path, "w");
		if (f && fprintf(f, "%d\n", FS_OPS_READAHEAD / 1024) < 0) {
			fclose(f);
			f = NULL;
		}
		if (!f || fclose(f))
			log_info("readahead left at the kernel's default: %s",
				 strerror(errno));
	}
	free(me);
}

/* In the watcher child (revoke.h): the subkeys it inherited, wiped. */
static void watcher_forget(void *arg)
{
	struct atr_fs *fs = arg;

	content_ctx_free(fs->cctx);
	names_ctx_free(fs->nctx);
	dirid_ctx_free(fs->dctx);
	fs_root_free(fs);
}

/* What a mount is made of, filled in by the steps of cmd_mount(). */
struct mount {
	/* 1. The command line. */
	struct mount_opts o;
	struct volume_expect exp;
	struct revoke_opts ropts;
	char ksname[32];
	/* 2. The volume and the mount point, checked; the lock held. */
	char vol[PATH_MAX], mnt[PATH_MAX];
	struct volume_config *cfg;
	struct node_pins *pins;
	int lock_fd;
	struct atr_fs fs; /* the daemon's state (fs_ops.h), subkeys included */
};

/*
 * 1. The options, parsed and checked on their own: nothing is touched yet.
 * @return EXIT_OK (with o.help set: the usage was printed) or EXIT_USAGE
 */
static int parse_options(struct fuse_args *args, struct mount *m)
{
	struct mount_opts *o = &m->o;

	m->exp.encryption = true;
	if (fuse_opt_parse(args, o, opt_spec, opt_proc) == -1)
		return EXIT_USAGE;
	if (o->help) {
		mount_usage(stdout);
		return EXIT_OK;
	}
	if (!o->volume || !o->mountpoint) {
		mount_usage(stderr);
		return EXIT_USAGE;
	}
	if (o->encryption_fstab) {
		if (o->encryption && strcmp(o->encryption, o->encryption_fstab)) {
			fprintf(stderr, "atrestfs: encryption=%s and "
					"atrestfs.encryption=%s contradict each "
					"other\n", o->encryption,
				o->encryption_fstab);
			return EXIT_USAGE;
		}
		free(o->encryption);
		o->encryption = o->encryption_fstab;
		o->encryption_fstab = NULL;
	}
	if (o->encryption) {
		if (!strcmp(o->encryption, "off"))
			m->exp.encryption = false;
		else if (strcmp(o->encryption, "on")) {
			fprintf(stderr, "atrestfs: encryption=%s: expected on "
					"or off\n", o->encryption);
			return EXIT_USAGE;
		}
	}
	if (revoke_parse_opts(o->kms_recheck, o->kms_grace, o->kms_revoked,
			      &m->ropts))
		return EXIT_USAGE;
	if (o->kms_retry_time) {
		/* The kms source's own setting: checked and set by it, before
		 * the unlock child is forked (which inherits it). */
		const struct kp_options ko = {
			1, { { "kms-retry-time", o->kms_retry_time } }
		};

		if (keyprov_setup_all(&ko))
			return EXIT_USAGE;
	}
	if (o->key_source) {
		const struct keyprov *kp;
		const char *ksarg;

		if (keyprov_parse_spec(o->key_source, &kp, &ksarg, m->ksname,
				       sizeof(m->ksname)))
			return EXIT_USAGE;
		m->exp.key_source = m->ksname;
		o->pin.key_source = o->key_source;
	}
	return EXIT_OK;
}

static void free_options(struct mount_opts *o)
{
	free(o->encryption);
	free(o->encryption_fstab);
	free(o->key_source);
	free(o->kms_recheck);
	free(o->kms_grace);
	free(o->kms_revoked);
	free(o->kms_retry_time);
	free(o->volume);
	free(o->mountpoint);
	free((char *)o->pin.uuid);
	free((char *)o->pin.tpm2_tcti);
	free((char *)o->pin.tpm2_pcrs);
	free((char *)o->pin.tpm2_srk);
	free((char *)o->pin.kms_region);
	free((char *)o->pin.kms_endpoint);
	free((char *)o->pin.kms_profile);
}

static int is_volume_mount(const struct mountinfo_entry *e, void *vol)
{
	return mountinfo_is_atrestfs(e) && !strcmp(e->source, vol);
}

/* Whether an atrestfs mount of @p vol (a canonical path, as every mount
 * names its volume) is listed. */
static bool volume_is_mounted(const char *vol)
{
	return mountinfo_each(NULL, is_volume_mount, (void *)vol) == 1;
}

/*
 * 2. The checks, all in the foreground: the paths, the config, the
 * refusal rules, the lock, the pins. Nothing the volume says is acted on
 * before it agrees with what the node pins.
 */
static int check_volume(struct mount *m)
{
	const char *vol = m->vol;
	enum volume_verdict v;
	struct stat st;
	int r;

	if (!realpath(m->o.volume, m->vol)) {
		fprintf(stderr, "atrestfs: volume %s: %s\n", m->o.volume,
			strerror(errno));
		return EXIT_REFUSED;
	}
	if (!realpath(m->o.mountpoint, m->mnt) || stat(m->mnt, &st) ||
	    !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "atrestfs: mount point %s is not a directory\n",
			m->o.mountpoint);
		return EXIT_USAGE;
	}
	secmem_harden_process();

	/* The config, strictly parsed. */
	r = volume_config_load(vol, &m->cfg);
	if (r && r != -ENOENT) {
		fprintf(stderr, "atrestfs: refused: the config of %s is "
				"invalid (see above)\n", vol);
		audit(NULL, vol, "refused: invalid config");
		return EXIT_CONFIG;
	}
	/* The refusal rules. */
	v = volume_check_mount(m->cfg, &m->exp);
	if (v != VOLUME_OK) {
		char why[PATH_MAX + 256];

		fprintf(stderr, "atrestfs: %s\n",
			volume_verdict_explain(v, vol, m->cfg, &m->exp, why,
					       sizeof(why)));
		audit(m->cfg, vol, "refused");
		return EXIT_REFUSED;
	}
	log_set_volume(m->cfg->uuid); /* every line from here on names it */
	if (m->ropts.interval &&
	    (!m->cfg->encrypted || strcmp(m->cfg->key_source, "kms"))) {
		fprintf(stderr, "atrestfs: refused: kms_recheck applies to kms "
				"volumes only; %s uses %s\n", vol,
			m->cfg->encrypted ? m->cfg->key_source
					  : "no encryption");
		return EXIT_USAGE;
	}
	/* One process at a time writes a volume: this daemon or fsck.
	 * The lock lives as long as the daemon (fuse_daemonize keeps it). */
	m->lock_fd = volume_lock(vol, VOLUME_LOCK_WAIT_MS);
	if (m->lock_fd == -EWOULDBLOCK && !volume_is_mounted(vol)) {
		/* Nothing serves it: a daemon still finishing after its
		 * unmount (last releases, close; seconds under load), or fsck. */
		fprintf(stderr, "atrestfs: %s is not mounted but still held "
				"(a daemon finishing after its unmount, or "
				"atrestfs fsck): waiting up to %d s\n",
			vol, VOLUME_LOCK_SETTLE_MS / 1000);
		m->lock_fd = volume_lock(vol, VOLUME_LOCK_SETTLE_MS);
	}
	if (m->lock_fd == -EWOULDBLOCK) {
		fprintf(stderr, "atrestfs: refused: %s is in use by another "
				"atrestfs process (mounted, or being checked "
				"by atrestfs fsck)\n", vol);
		audit(m->cfg, vol, "refused: volume in use");
		return EXIT_REFUSED;
	}
	if (m->lock_fd < 0) {
		fprintf(stderr, "atrestfs: %s: %s\n", vol, strerror(-m->lock_fd));
		return EXIT_SYSTEM;
	}
	/* What the node pins for this volume. */
	if (pin_resolve(vol, &m->o.pin, &m->pins)) {
		audit(m->cfg, vol, "refused: pins");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/*
 * 3. The key. An encrypted volume: the key, once, in a child (unlock.h),
 * the MAC over the config, the subkeys into the daemon's state. A plain
 * one: proof that it is plain, and the pins.
 */
static int unlock_volume(struct mount *m, int root_fd,
			 struct volume_keys **keys)
{
	const char *vol = m->vol;
	int r;

	if (!m->cfg->encrypted) {
		/* An encrypted volume dressed up as a plain one still has its
		 * root directory ID: never serve its ciphertext as plaintext. */
		if (faccessat(root_fd, NAMES_DIRID_FILE, F_OK,
			      AT_SYMLINK_NOFOLLOW) == 0) {
			fprintf(stderr, "atrestfs: refused: %s holds encrypted "
					"data (directory ID file present) but "
					"its config says plain: the config was "
					"tampered with\n", vol);
			audit(m->cfg, vol, "refused: plain config on encrypted data");
			return EXIT_CONFIG;
		}
		if (pin_check(m->pins, vol, m->cfg)) {
			audit(m->cfg, vol, "refused: pins");
			return EXIT_REFUSED;
		}
		return EXIT_OK;
	}
	r = unlock_volume_keys(vol, m->cfg, m->pins, keys);
	if (r == PIN_REFUSED) {
		audit(m->cfg, vol, "refused: pins");
		return EXIT_REFUSED;
	}
	if (r == -EBADMSG) {
		fprintf(stderr, "atrestfs: refused: %s: the config MAC does "
				"not match (tampered)\n", vol);
		audit(m->cfg, vol, "refused: config MAC mismatch");
		return EXIT_CONFIG;
	}
	if (r) {
		fprintf(stderr, "atrestfs: refused: the %s key source could "
				"not unlock %s (%s)\n", m->cfg->key_source, vol,
			strerror(-r));
		audit(m->cfg, vol, "refused: key not obtained");
		return EXIT_KEY;
	}
	m->fs.encrypted = true;
	if (content_ctx_new((*keys)->content, (*keys)->xattr, m->cfg->format,
			    &m->fs.cctx) ||
	    names_ctx_new((*keys)->names, &m->fs.nctx) ||
	    dirid_ctx_new((*keys)->names, &m->fs.dctx))
		return EXIT_SYSTEM;
	return EXIT_OK;
}

/*
 * 4. The daemon's state: the inode table on the volume directory, the
 * mount root's owner and mode (authenticated when encrypted) and the root
 * directory ID. The volume key is gone when this returns.
 */
static int open_volume(struct mount *m)
{
	const char *vol = m->vol;
	struct volume_keys *keys = NULL;
	int root_fd, rc, r;

	root_fd = open(vol, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		fprintf(stderr, "atrestfs: %s: %s\n", vol, strerror(errno));
		return EXIT_SYSTEM;
	}
	raise_memlock();
	rc = unlock_volume(m, root_fd, &keys);
	if (rc == EXIT_OK && fs_table_new(root_fd, &m->fs.table))
		rc = EXIT_SYSTEM;
	if (rc != EXIT_OK) {
		close(root_fd);
		volume_keys_free(keys);
		return rc;
	}
	r = fs_root_init(&m->fs, keys ? keys->root_mac : NULL);
	volume_keys_free(keys);
	if (r) {
		fprintf(stderr, "atrestfs: refused: %s: the mount root's "
				"attribute record %s is %s\n", vol,
			ROOTATTR_NAME,
			r == -ENOENT    ? "missing"
			: r == -EBADMSG ? "not authentic (tampered)"
					: "invalid (see above)");
		audit(m->cfg, vol, "refused: root attribute record");
		return EXIT_CONFIG;
	}
	if (m->fs.encrypted) {
		struct fs_inode *root = fs_table_root(m->fs.table);
		const struct dirid_place top = { NULL, NULL };

		r = dirid_read(m->fs.dctx, root->fd, &top, root->dirid);
		if (r) {
			fprintf(stderr, "atrestfs: refused: %s has no readable "
					"root directory ID (%s) (atrestfs fsck "
					"checks the volume)\n", vol,
				r == -EBADMSG ? "bound to another directory"
					      : strerror(-r));
			return EXIT_CONFIG;
		}
		root->has_dirid = true; /* before any request: no lock yet */
	}
	return EXIT_OK;
}

/*
 * 5. The session: the kernel mount, the background, the helpers that need
 * privileges (status socket, unmount helper, KMS watcher), the sandbox,
 * then requests until unmounted.
 */
static int serve(struct fuse_args *args, struct mount *m)
{
	struct fuse_loop_config lcfg = { .clone_fd = 0,
					 .max_idle_threads = 10 };
	struct revoke_watch *watch = NULL;
	struct status_server *status = NULL;
	struct unmounter *unmounter = NULL;
	struct fuse_session *se;
	const char *vol = m->vol;
	int rc = EXIT_SYSTEM, r;

	if (add_fsname_opt(args, vol))
		return EXIT_SYSTEM;
	se = fuse_session_new(args, &atr_ops, sizeof(atr_ops), &m->fs);
	if (!se)
		return EXIT_USAGE;
	m->fs.se = se;
	if (fuse_set_signal_handlers(se))
		goto out;
	if (fuse_session_mount(se, m->o.mountpoint)) {
		fprintf(stderr, "atrestfs: cannot mount on %s\n",
			m->o.mountpoint);
		audit(m->cfg, vol, "failed: kernel mount");
		goto out_signals;
	}
	/* Where the daemon's lines go, decided (and said) on the terminal. */
	log_daemon_prepare(m->o.foreground);
	audit(m->cfg, vol, "mounted");
	r = fuse_io_attach(se);
	if (r) {
		log_err("cannot attach to the FUSE session: %s", strerror(-r));
		goto out_unmount;
	}
	if (fuse_daemonize(m->o.foreground))
		goto out_unmount;
	if (!m->o.foreground)
		log_use_syslog(true);
	/* The status socket and the unmount helper (CAP_SYS_ADMIN) are made
	 * before the sandbox too; the mount works without them. */
	status_start(vol, m->mnt, m->cfg, m->pins, &m->fs, &status);
	if ((r = unmounter_start(m->mnt, &unmounter)))
		log_err("no unmount helper (%s): an orderly stop will leave "
			"%s to be unmounted by hand", strerror(-r),
			LOG_ESC(m->mnt));
	/* The revocation watcher needs sockets: forked before the sandbox. */
	if (m->ropts.interval) {
		json_t *params = pin_unlock_params(m->pins, m->cfg);

		r = params ? revoke_watch_start(keyprov_find(m->cfg->key_source),
						params, m->cfg->uuid, &m->ropts,
						watcher_forget, &m->fs,
						&m->fs.deny, &watch)
			   : -ENOMEM;
		json_decref(params);
		if (r) {
			log_err("refusing to serve %s without its KMS watcher: %s",
				LOG_ESC(vol), strerror(-r));
			goto out_unmount;
		}
	}
	raise_nofile();
	raise_readahead(m->o.mountpoint);
	/* From here on, only what serving requests needs. */
	if (sandbox_apply()) {
		log_err("refusing to serve %s without the sandbox", LOG_ESC(vol));
		goto out_unmount;
	}
	if (watch && (r = revoke_watch_listen(watch))) {
		log_err("refusing to serve %s without its KMS watcher: %s",
			LOG_ESC(vol), strerror(-r));
		goto out_unmount;
	}
	log_serve();
	status_listen(status, watch);
	/* A stop signal (libfuse returns its number) is an orderly end. */
	r = fuse_session_loop_mt(se, &lcfg);
	rc = r == 0 || r == SIGTERM || r == SIGINT || r == SIGHUP ? EXIT_OK
								 : EXIT_SYSTEM;
out_unmount:
	log_flush();
	revoke_watch_stop(watch);
	unmounter_finish(unmounter);
	fuse_session_unmount(se);
	/* Unmounted: a new mount or fsck may start while we clean up. */
	close(m->lock_fd);
	m->lock_fd = -1;
	status_stop(status);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	fuse_session_destroy(se);
	m->fs.se = NULL;
	return rc;
}

int cmd_mount(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mount m = { .lock_fd = -1, .fs = { .timeout = 1.0 } };
	int rc;

	/* Each step runs only when the one before it succeeded; open_volume()
	 * takes the key (3) and builds the daemon's state (4). */
	rc = parse_options(&args, &m);
	if (rc == EXIT_OK && !m.o.help && (rc = check_volume(&m)) == EXIT_OK &&
	    (rc = open_volume(&m)) == EXIT_OK)
		rc = serve(&args, &m);

	fs_root_free(&m.fs);
	fs_table_free(m.fs.table);
	content_ctx_free(m.fs.cctx);
	names_ctx_free(m.fs.nctx);
	dirid_ctx_free(m.fs.dctx);
	volume_config_free(m.cfg);
	pin_free(m.pins);
	if (m.lock_fd >= 0)
		close(m.lock_fd);
	fuse_opt_free_args(&args);
	free_options(&m.o);
	return rc;
}
