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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "dirid.h"
#include "fs_inode.h"
#include "fs_ops.h"
#include "fuse_io.h"
#include "keyprov.h"
#include "kms_client.h"
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

enum {
	EXIT_USAGE = 1,
	EXIT_REFUSED = 2,
	EXIT_KEY = 3,
	EXIT_CONFIG = 4,
	EXIT_SYSTEM = 5,
};

struct mount_opts {
	char *encryption; /* "on" / "off" */
	char *encryption_fstab; /* the same, spelt atrestfs.encryption= */
	char *key_source; /* TYPE[:ARG] */
	struct pin_opts pin; /* what the fstab line pins (pin.h) */
	char *kms_recheck, *kms_grace, *kms_revoked; /* revoke.h */
	char *kms_retry_time; /* kms_client.h */
	char *volume;
	char *mountpoint;
	int foreground;
	int debug;
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
		o->debug = 1;
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

	if (kp && kp->audit_id)
		kp->audit_id(cfg->key_params, id, sizeof(id));
	/* id is escaped by the key source; vol and uuid are escaped here */
	log_audit("mount volume=\"%s\" uuid=%s key_source=\"%s\" outcome=%s",
		  LOG_ESC(vol), cfg ? LOG_ESC(cfg->uuid) : "-", id, outcome);
}

/* In the watcher child (revoke.h): the subkeys it inherited, wiped. */
/*
 * Every open file costs the daemon a backing fd and every cached inode an
 * O_PATH fd: take as many as a process may have (fs.nr_open), while
 * CAP_SYS_RESOURCE is still there (sandbox_apply() drops it). Failure
 * leaves the limit as it was: the mount works, with fewer open files.
 */
static void raise_nofile(void)
{
	struct rlimit rl, want;
	unsigned long nr_open = 1024 * 1024;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");

	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 1024 * 1024;
		fclose(f);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	want.rlim_cur = want.rlim_max = rl.rlim_max > nr_open ? rl.rlim_max : nr_open;
	if (want.rlim_cur > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &want)) {
		want.rlim_cur = want.rlim_max = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &want))
			log_warn("open files limited to %llu: %s",
				 (unsigned long long)rl.rlim_cur, strerror(errno));
	}
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

static void watcher_forget(void *arg)
{
	struct atr_fs *fs = arg;

	content_ctx_free(fs->cctx);
	names_ctx_free(fs->nctx);
	dirid_ctx_free(fs->dctx);
	fs_root_free(fs);
}

int cmd_mount(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mount_opts o = { 0 };
	struct volume_expect exp = { .encryption = true };
	struct volume_config *cfg = NULL;
	struct volume_keys *keys = NULL;
	struct node_pins *pins = NULL;
	struct atr_fs fs = { .timeout = 1.0 };
	struct fuse_session *se = NULL;
	struct revoke_opts ropts;
	struct revoke_watch *watch = NULL;
	struct status_server *status = NULL;
	struct unmounter *unmounter = NULL;
	struct fuse_loop_config lcfg = { .clone_fd = 0,
					 .max_idle_threads = 10 };
	char vol[PATH_MAX], mnt[PATH_MAX], ksname[32];
	enum volume_verdict v;
	struct stat st;
	int root_fd = -1, lock_fd = -1, rc = EXIT_SYSTEM, r;

	if (fuse_opt_parse(&args, &o, opt_spec, opt_proc) == -1) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.help) {
		mount_usage(stdout);
		rc = 0;
		goto out;
	}
	if (!o.volume || !o.mountpoint) {
		mount_usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.encryption_fstab) {
		if (o.encryption && strcmp(o.encryption, o.encryption_fstab)) {
			fprintf(stderr, "atrestfs: encryption=%s and "
					"atrestfs.encryption=%s contradict each "
					"other\n", o.encryption,
				o.encryption_fstab);
			rc = EXIT_USAGE;
			goto out;
		}
		free(o.encryption);
		o.encryption = o.encryption_fstab;
		o.encryption_fstab = NULL;
	}
	if (o.encryption) {
		if (!strcmp(o.encryption, "off"))
			exp.encryption = false;
		else if (strcmp(o.encryption, "on")) {
			fprintf(stderr, "atrestfs: encryption=%s: expected on "
					"or off\n", o.encryption);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if (revoke_parse_opts(o.kms_recheck, o.kms_grace, o.kms_revoked,
			      &ropts)) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.kms_retry_time) {
		unsigned secs;

		if (kms_retry_time_parse(o.kms_retry_time, &secs)) {
			rc = EXIT_USAGE;
			goto out;
		}
		kms_set_retry_time(secs);
	}
	if (o.key_source) {
		const struct keyprov *kp;
		const char *ksarg;
		if (keyprov_parse_spec(o.key_source, &kp, &ksarg, ksname,
				       sizeof(ksname))) {
			rc = EXIT_USAGE;
			goto out;
		}
		exp.key_source = ksname;
		o.pin.key_source = o.key_source;
	}
	if (!realpath(o.volume, vol)) {
		fprintf(stderr, "atrestfs: volume %s: %s\n", o.volume,
			strerror(errno));
		rc = EXIT_REFUSED;
		goto out;
	}
	if (!realpath(o.mountpoint, mnt) || stat(mnt, &st) ||
	    !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "atrestfs: mount point %s is not a directory\n",
			o.mountpoint);
		rc = EXIT_USAGE;
		goto out;
	}
	secmem_harden_process();

	/* 1. The config, strictly parsed. */
	r = volume_config_load(vol, &cfg);
	if (r && r != -ENOENT) {
		fprintf(stderr, "atrestfs: refused: the config of %s is "
				"invalid (see above)\n", vol);
		audit(NULL, vol, "refused: invalid config");
		rc = EXIT_CONFIG;
		goto out;
	}
	/* 2. The refusal rules. */
	v = volume_check_mount(cfg, &exp);
	if (v != VOLUME_OK) {
		char why[PATH_MAX + 256];

		fprintf(stderr, "atrestfs: %s\n",
			volume_verdict_explain(v, vol, cfg, &exp, why,
					       sizeof(why)));
		audit(cfg, vol, "refused");
		rc = EXIT_REFUSED;
		goto out;
	}
	log_set_volume(cfg->uuid); /* every line from here on names it */
	if (ropts.interval && (!cfg->encrypted || strcmp(cfg->key_source, "kms"))) {
		fprintf(stderr, "atrestfs: refused: kms_recheck applies to kms "
				"volumes only; %s uses %s\n", vol,
			cfg->encrypted ? cfg->key_source : "no encryption");
		rc = EXIT_USAGE;
		goto out;
	}
	/* One process at a time writes a volume: this daemon or fsck. The
	 * lock lives as long as the daemon (fuse_daemonize keeps the fd). */
	lock_fd = volume_lock(vol, VOLUME_LOCK_WAIT_MS);
	if (lock_fd < 0) {
		if (lock_fd == -EWOULDBLOCK) {
			fprintf(stderr, "atrestfs: refused: %s is in use by "
					"another atrestfs process (mounted, or "
					"being checked by atrestfs fsck)\n",
				vol);
			audit(cfg, vol, "refused: volume in use");
			rc = EXIT_REFUSED;
		} else {
			fprintf(stderr, "atrestfs: %s: %s\n", vol,
				strerror(-lock_fd));
		}
		goto out;
	}
	/* 3. What the node pins for this volume: nothing the volume says is
	 * acted on before it agrees with them. */
	if (pin_resolve(vol, &o.pin, &pins)) {
		audit(cfg, vol, "refused: pins");
		rc = EXIT_REFUSED;
		goto out;
	}
	root_fd = open(vol, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		fprintf(stderr, "atrestfs: %s: %s\n", vol, strerror(errno));
		goto out;
	}
	if (!cfg->encrypted) {
		/* An encrypted volume dressed up as a plain one still has its
		 * root directory ID: never serve its ciphertext as plaintext. */
		if (faccessat(root_fd, NAMES_DIRID_FILE, F_OK,
			      AT_SYMLINK_NOFOLLOW) == 0) {
			fprintf(stderr, "atrestfs: refused: %s holds encrypted "
					"data (directory ID file present) but "
					"its config says plain: the config was "
					"tampered with\n", vol);
			audit(cfg, vol, "refused: plain config on encrypted data");
			rc = EXIT_CONFIG;
			goto out;
		}
		if (pin_check(pins, vol, cfg)) {
			audit(cfg, vol, "refused: pins");
			rc = EXIT_REFUSED;
			goto out;
		}
	} else {
		/* 4. The key, once, in a child; then the MAC over the config. */
		r = unlock_volume_keys(vol, cfg, pins, &keys);
		if (r == PIN_REFUSED) {
			audit(cfg, vol, "refused: pins");
			rc = EXIT_REFUSED;
			goto out;
		}
		if (r == -EBADMSG) {
			fprintf(stderr, "atrestfs: refused: %s: the config MAC "
					"does not match (tampered)\n", vol);
			audit(cfg, vol, "refused: config MAC mismatch");
			rc = EXIT_CONFIG;
			goto out;
		}
		if (r) {
			fprintf(stderr, "atrestfs: refused: the %s key source "
					"could not unlock %s (%s)\n",
				cfg->key_source, vol, strerror(-r));
			audit(cfg, vol, "refused: key not obtained");
			rc = EXIT_KEY;
			goto out;
		}
		fs.encrypted = true;
		if (content_ctx_new(keys->content, keys->xattr, &fs.cctx) ||
		    names_ctx_new(keys->names, &fs.nctx) ||
		    dirid_ctx_new(keys->names, &fs.dctx))
			goto out;
	}
	if (fs_table_new(root_fd, &fs.table))
		goto out;
	root_fd = -1;
	/* The mount root's owner and mode, authenticated when encrypted. */
	r = fs_root_init(&fs, keys ? keys->root_mac : NULL);
	volume_keys_free(keys);
	keys = NULL;
	if (r) {
		fprintf(stderr, "atrestfs: refused: %s: the mount root's "
				"attribute record %s is %s\n", vol,
			ROOTATTR_NAME,
			r == -ENOENT    ? "missing"
			: r == -EBADMSG ? "not authentic (tampered)"
					: "invalid (see above)");
		audit(cfg, vol, "refused: root attribute record");
		rc = EXIT_CONFIG;
		goto out;
	}
	if (fs.encrypted) {
		struct fs_inode *root = fs_table_root(fs.table);
		const struct dirid_place top = { NULL, NULL };

		r = dirid_read(fs.dctx, root->fd, &top, root->dirid);
		if (r) {
			fprintf(stderr, "atrestfs: refused: %s has no readable "
					"root directory ID (%s)%s\n", vol,
				r == -EBADMSG ? "bound to another directory"
					      : strerror(-r),
				" (atrestfs fsck checks the volume)");
			rc = EXIT_CONFIG;
			goto out;
		}
		root->has_dirid = true; /* before any request: no lock yet */
	}

	/* 5. The kernel mount, then the background. */
	if (add_fsname_opt(&args, vol))
		goto out;
	fs.debug = o.debug;
	se = fuse_session_new(&args, &atr_ops, sizeof(atr_ops), &fs);
	if (!se) {
		rc = EXIT_USAGE;
		goto out;
	}
	fs.se = se;
	if (fuse_set_signal_handlers(se))
		goto out;
	if (fuse_session_mount(se, o.mountpoint)) {
		fprintf(stderr, "atrestfs: cannot mount on %s\n", o.mountpoint);
		audit(cfg, vol, "failed: kernel mount");
		goto out_signals;
	}
	/* Where the daemon's lines go, decided (and said) on the terminal. */
	log_daemon_prepare(o.foreground);
	audit(cfg, vol, "mounted");
	r = fuse_io_attach(se);
	if (r) {
		log_err("cannot attach to the FUSE session: %s", strerror(-r));
		goto out_unmount;
	}
	if (fuse_daemonize(o.foreground))
		goto out_unmount;
	if (!o.foreground)
		log_use_syslog(true);
	/* The status socket and the unmount helper (CAP_SYS_ADMIN) are made
	 * before the sandbox too; the mount works without them. */
	status_start(vol, mnt, cfg, pins, &fs, &status);
	if ((r = unmounter_start(mnt, &unmounter)))
		log_err("no unmount helper (%s): an orderly stop will leave "
			"%s to be unmounted by hand", strerror(-r), LOG_ESC(mnt));
	/* The revocation watcher needs sockets: forked before the sandbox. */
	if (ropts.interval) {
		json_t *params = pin_unlock_params(pins, cfg);

		r = params ? revoke_watch_start(keyprov_find(cfg->key_source),
						params, cfg->uuid, &ropts,
						watcher_forget, &fs, &fs.deny,
						&watch)
			   : -ENOMEM;
		json_decref(params);
		if (r) {
			log_err("refusing to serve %s without its KMS watcher: %s",
				LOG_ESC(vol), strerror(-r));
			goto out_unmount;
		}
	}
	raise_nofile();
	raise_readahead(mnt);
	/* 6. From here on, only what serving requests needs. */
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
	rc = fuse_session_loop_mt(se, &lcfg) ? EXIT_SYSTEM : 0;
out_unmount:
	status_stop(status);
	log_flush();
	revoke_watch_stop(watch);
	unmounter_finish(unmounter);
	fuse_session_unmount(se);
	/* Unmounted: a new mount or fsck may start while we clean up. */
	close(lock_fd);
	lock_fd = -1;
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fs_root_free(&fs);
	fs_table_free(fs.table);
	content_ctx_free(fs.cctx);
	names_ctx_free(fs.nctx);
	dirid_ctx_free(fs.dctx);
	volume_keys_free(keys);
	volume_config_free(cfg);
	pin_free(pins);
	if (root_fd >= 0)
		close(root_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	fuse_opt_free_args(&args);
	free(o.encryption);
	free(o.encryption_fstab);
	free(o.key_source);
	free(o.kms_recheck);
	free(o.kms_grace);
	free(o.kms_revoked);
	free(o.kms_retry_time);
	free(o.volume);
	free(o.mountpoint);
	free((char *)o.pin.uuid);
	free((char *)o.pin.tpm2_tcti);
	free((char *)o.pin.tpm2_pcrs);
	free((char *)o.pin.tpm2_srk);
	free((char *)o.pin.kms_region);
	free((char *)o.pin.kms_endpoint);
	free((char *)o.pin.kms_profile);
	return rc;
}
