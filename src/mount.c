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
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "dirid.h"
#include "fs_inode.h"
#include "fs_ops.h"
#include "keyprov.h"
#include "log.h"
#include "names.h"
#include "secmem.h"
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
	char *key_source; /* TYPE[:ARG] */
	char *volume;
	char *mountpoint;
	int foreground;
	int debug;
	int help;
};

enum { KEY_FG, KEY_DEBUG, KEY_HELP };

static const struct fuse_opt opt_spec[] = {
	{ "encryption=%s", offsetof(struct mount_opts, encryption), 0 },
	{ "key_source=%s", offsetof(struct mount_opts, key_source), 0 },
	FUSE_OPT_KEY("-f", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
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
	}
	return 1; /* everything else is libfuse's or the kernel's */
}

static void mount_usage(FILE *out)
{
	fputs("usage: atrestfs mount VOLUME MOUNTPOINT [-o OPTIONS] [-f] [-d]\n"
	      "  -o encryption=off       the volume is a plain one (without it,"
	      " encryption is expected)\n"
	      "  -o key_source=TYPE[:ARG] insist on a key source type; "
	      "keyfile:PATH overrides the path\n"
	      "  -f                      stay in the foreground\n"
	      "  -d                      debug output (implies -f)\n"
	      "  other -o options (allow_other, default_permissions, ro, ...)"
	      " go to FUSE.\n",
	      out);
}

/* The whole unlock step: key in, subkeys out, key wiped. */
static int unlock_volume(const struct volume_config *cfg, const char *arg,
			 struct volume_keys **keys)
{
	const struct keyprov *kp = keyprov_find(cfg->key_source);
	uint8_t *vkey;
	int r;

	if (!kp || !kp->unlock) {
		fprintf(stderr, "atrestfs: key source %s is not available in "
				"this build\n", cfg->key_source);
		return -ENOTSUP;
	}
	vkey = secmem_alloc(KEYPROV_KEY_LEN);
	if (!vkey)
		return -ENOMEM;
	r = kp->unlock(cfg->key_params, arg, cfg->uuid, vkey);
	if (!r)
		r = volume_derive_keys(vkey, cfg->uuid_bin, keys);
	secmem_free(vkey);
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
	log_audit("mount volume=%s uuid=%s key_source=%s outcome=%s", vol,
		  cfg ? cfg->uuid : "-", id, outcome);
}

int cmd_mount(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct mount_opts o = { 0 };
	struct volume_expect exp = { .encryption = true };
	struct volume_config *cfg = NULL;
	struct volume_keys *keys = NULL;
	struct atr_fs fs = { .timeout = 1.0 };
	struct fuse_session *se = NULL;
	struct fuse_loop_config lcfg = { .clone_fd = 0,
					 .max_idle_threads = 10 };
	char vol[PATH_MAX], ksname[32], fsname_opt[PATH_MAX + 64];
	const char *ksarg = NULL;
	enum volume_verdict v;
	struct stat st;
	int root_fd = -1, rc = EXIT_SYSTEM, r;

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
	if (o.key_source) {
		const struct keyprov *kp;
		if (keyprov_parse_spec(o.key_source, &kp, &ksarg, ksname,
				       sizeof(ksname))) {
			rc = EXIT_USAGE;
			goto out;
		}
		exp.key_source = ksname;
	}
	if (!realpath(o.volume, vol)) {
		fprintf(stderr, "atrestfs: volume %s: %s\n", o.volume,
			strerror(errno));
		rc = EXIT_REFUSED;
		goto out;
	}
	if (stat(o.mountpoint, &st) || !S_ISDIR(st.st_mode)) {
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
	} else {
		/* 3. The key, once; then the MAC over the config. */
		r = unlock_volume(cfg, ksarg, &keys);
		if (r) {
			fprintf(stderr, "atrestfs: refused: the %s key source "
					"could not unlock %s (%s)\n",
				cfg->key_source, vol, strerror(-r));
			audit(cfg, vol, "refused: key not obtained");
			rc = EXIT_KEY;
			goto out;
		}
		if (volume_config_verify(cfg, keys)) {
			fprintf(stderr, "atrestfs: refused: %s: the config MAC "
					"does not match (tampered)\n", vol);
			audit(cfg, vol, "refused: config MAC mismatch");
			rc = EXIT_CONFIG;
			goto out;
		}
		fs.encrypted = true;
		if (content_ctx_new(keys->content, keys->xattr, &fs.cctx) ||
		    names_ctx_new(keys->names, &fs.nctx))
			goto out;
		volume_keys_free(keys);
		keys = NULL;
	}
	if (fs_table_new(root_fd, &fs.table))
		goto out;
	root_fd = -1;
	if (fs.encrypted) {
		uint8_t id[NAMES_DIRID_LEN];
		if (dirid_read(fs_table_root(fs.table)->fd, id)) {
			fprintf(stderr, "atrestfs: refused: %s has no readable "
					"root directory ID\n", vol);
			rc = EXIT_CONFIG;
			goto out;
		}
	}

	/* 4. The kernel mount, then the background. */
	snprintf(fsname_opt, sizeof(fsname_opt),
		 "-ofsname=%s,subtype=atrestfs,default_permissions", vol);
	if (fuse_opt_add_arg(&args, fsname_opt))
		goto out;
	fs.debug = o.debug;
	se = fuse_session_new(&args, &atr_ops, sizeof(atr_ops), &fs);
	if (!se) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (fuse_set_signal_handlers(se))
		goto out;
	if (fuse_session_mount(se, o.mountpoint)) {
		fprintf(stderr, "atrestfs: cannot mount on %s\n", o.mountpoint);
		audit(cfg, vol, "failed: kernel mount");
		goto out_signals;
	}
	audit(cfg, vol, "mounted");
	if (fuse_daemonize(o.foreground))
		goto out_unmount;
	if (!o.foreground)
		log_use_syslog(true);
	rc = fuse_session_loop_mt(se, &lcfg) ? EXIT_SYSTEM : 0;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fs_table_free(fs.table);
	content_ctx_free(fs.cctx);
	names_ctx_free(fs.nctx);
	volume_keys_free(keys);
	volume_config_free(cfg);
	if (root_fd >= 0)
		close(root_fd);
	fuse_opt_free_args(&args);
	free(o.encryption);
	free(o.key_source);
	free(o.volume);
	free(o.mountpoint);
	return rc;
}
