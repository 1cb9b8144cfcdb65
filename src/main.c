// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The atrestfs command line: create, info, fsck, mount (and the short mount form
 * `atrestfs VOLUME MOUNTPOINT` that mount.fuse3 uses).
 *
 * create writes the config last: its presence is what makes a directory a
 * volume, so a create that fails half-way leaves no volume behind, and
 * anything it made itself is removed again.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirid.h"
#include "exitcodes.h"
#include "fsck.h"
#include "jsonsafe.h"
#include "keyprov.h"
#include "log.h"
#include "mount.h"
#include "mountpoint.h"
#include "pin.h"
#include "rootattr.h"
#include "status_cli.h"
#include "secmem.h"
#include "unlock.h"
#include "volume.h"

static void usage(FILE *out)
{
	fputs("usage: atrestfs create [--no-encryption] --key-source SPEC "
	      "[OPTIONS] VOLUME\n"
	      "       atrestfs info VOLUME\n"
	      "       atrestfs fsck [--repair] [--json] [--key-source SPEC] "
	      "VOLUME\n"
	      "       atrestfs pin [--replace | --remove] VOLUME\n"
	      "       atrestfs mount VOLUME MOUNTPOINT [-o OPTIONS] [-f] [-d]\n"
	      "       atrestfs VOLUME MOUNTPOINT [-o OPTIONS] [-f] [-d]\n"
	      "       atrestfs guard-mountpoint [--release] DIR\n"
	      "       atrestfs status [--json | --prometheus] [MOUNTPOINT]\n"
	      "       atrestfs --version\n"
	      "Key sources (SPEC): keyfile:PATH, tpm2, kms:KEY\n"
	      "See atrestfs(8).\n",
	      out);
}

static void create_usage(FILE *out)
{
	const struct keyprov *kp;

	fputs("usage: atrestfs create [--no-encryption] --key-source SPEC "
	      "[--format N] VOLUME\n", out);
	for (size_t i = 0; (kp = keyprov_at(i)); i++)
		fputs(kp->usage, out);
	fputs("  --no-encryption             a plain pass-through volume "
	      "(fixed forever)\n"
	      "  --root-owner USER:GROUP     owner of the mount root (default "
	      "root:root)\n"
	      "  --root-mode MODE            octal mode of the mount root "
	      "(default 0755)\n"
	      "  --format N                  on-disk format: 3 (default) or 2, "
	      "for nodes whose\n"
	      "                              atrestfs predates format 3\n",
	      out);
}

/* 0 when @p dir is missing (then made) or an empty directory. */
static int prepare_dir(const char *dir, bool *made)
{
	struct stat st;
	char conf[4096];
	int fd, r;

	*made = false;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT) {
			fprintf(stderr, "atrestfs: %s: %s\n", dir,
				strerror(errno));
			return EXIT_SYSTEM;
		}
		if (mkdir(dir, 0700) != 0) {
			fprintf(stderr, "atrestfs: cannot create %s: %s\n", dir,
				strerror(errno));
			return EXIT_SYSTEM;
		}
		*made = true;
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "atrestfs: %s is not a directory\n", dir);
		return EXIT_REFUSED;
	}
	snprintf(conf, sizeof(conf), "%s/%s", dir, VOLUME_CONFIG_NAME);
	if (access(conf, F_OK) == 0) {
		fprintf(stderr, "atrestfs: refused: %s is already an atrestfs "
				"volume; to change its key, create a new "
				"volume\n", dir);
		return EXIT_REFUSED;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = fd < 0 ? -errno : mountpoint_dir_empty(fd);
	if (fd >= 0)
		close(fd);
	if (r == 1)
		return 0;
	if (r == 0) {
		fprintf(stderr, "atrestfs: refused: %s is not empty: an "
				"existing directory is never adopted\n", dir);
		return EXIT_REFUSED;
	}
	fprintf(stderr, "atrestfs: %s: %s\n", dir, strerror(-r));
	return EXIT_SYSTEM;
}

/*
 * The mount root's owner and mode go into their own record (rootattr.h):
 * the VOLUME directory keeps its own (0700 when create makes it).
 */
static int write_root(const char *dir, const struct rootattr *root,
		      const uint8_t *key)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (dfd < 0) {
		fprintf(stderr, "atrestfs: %s: %s\n", dir, strerror(errno));
		return EXIT_SYSTEM;
	}
	r = rootattr_store(dfd, key, root);
	close(dfd);
	if (r) {
		fprintf(stderr, "atrestfs: cannot write the mount root's "
				"attributes into %s: %s\n", dir, strerror(-r));
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

static int create_encrypted(const char *dir, struct volume_config *cfg,
			    const struct keyprov *kp, const char *arg,
			    const struct kp_options *opt,
			    const struct rootattr *root)
{
	uint8_t root_id[NAMES_DIRID_LEN];
	const struct dirid_place top = { NULL, NULL };
	struct volume_keys *keys = NULL;
	struct dirid_ctx *dctx = NULL;
	int dfd = -1, rc = EXIT_SYSTEM;

	/* 1. The key source makes the key; only its subkeys come back. */
	if (unlock_enroll(kp, arg, opt, cfg, &keys)) {
		rc = EXIT_KEY;
		goto out;
	}
	/* 2. The root directory's ID, durable before the config exists. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || dirid_ctx_new(keys->names, &dctx) ||
	    dirid_create(dctx, dfd, &top, root_id)) {
		fprintf(stderr, "atrestfs: cannot write the root directory "
				"ID in %s\n", dir);
		goto out;
	}
	/* 3. The mount root's attributes, under their own subkey. */
	rc = write_root(dir, root, keys->root_mac);
	if (rc)
		goto out;
	rc = EXIT_SYSTEM;
	/* 4. MAC over the config, then the config itself, last. */
	if (volume_config_seal(cfg, keys) || volume_config_store(dir, cfg)) {
		fprintf(stderr, "atrestfs: cannot write %s/%s\n", dir,
			VOLUME_CONFIG_NAME);
		goto out;
	}
	rc = EXIT_OK;
out:
	if (dfd >= 0)
		close(dfd);
	dirid_ctx_free(dctx);
	volume_keys_free(keys);
	return rc;
}

/* Where the pins are, and the fstab line that states them all. */
static void print_pins(const char *vol, const struct volume_config *cfg,
		       const char *where, const char *tcti)
{
	char opts[8192], esc[4 * PATH_MAX];
	size_t o = 0;

	printf("pinned on this node in %s\n", where);
	if (pin_fstab_options(cfg, opts, sizeof(opts))) {
		printf("(no fstab line: a pinned value cannot be an fstab "
		       "option; the node record pins it)\n");
		return;
	}
	/* The TCTI is where the TPM is, not a pin: stated when it can be. */
	if (tcti && !strpbrk(tcti, ", \t\n\\") &&
	    strlen(opts) + strlen(tcti) + 12 < sizeof(opts)) {
		strcat(opts, ",tpm2_tcti=");
		strcat(opts, tcti);
	} else if (tcti) {
		printf("(the TCTI has a comma or white space: give it at mount "
		       "as ATRESTFS_TPM2_TCTI)\n");
	}
	/* fstab fields escape white space and backslashes in octal. */
	for (const char *c = vol; *c && o + 5 < sizeof(esc); c++)
		o += (size_t)(strchr(" \t\n\\", *c)
				      ? snprintf(esc + o, 5, "\\%03o",
						 (unsigned char)*c)
				      : snprintf(esc + o, 2, "%c", *c));
	printf("fstab line (replace /MOUNTPOINT):\n%s /MOUNTPOINT atrestfs "
	       "%s,nofail 0 0\n", esc, opts);
}

/*
 * create's long options: its own, then every key source's (as 's'), so
 * that a new source option needs no change here. Ends with the NULL entry.
 */
static void create_options(const struct option *own, size_t n_own,
			   struct option *out, size_t cap)
{
	const struct keyprov *kp;
	size_t n = 0;

	for (size_t i = 0; i < n_own; i++)
		out[n++] = own[i];
	for (size_t i = 0; (kp = keyprov_at(i)); i++)
		for (const char *const *o = kp->options; o && *o; o++) {
			assert(n + 1 < cap); /* longopts is sized for it */
			out[n++] = (struct option){ *o, required_argument, NULL,
						    's' };
		}
	out[n] = (struct option){ NULL, 0, NULL, 0 };
}

static int cmd_create(int argc, char **argv)
{
	static const struct option own[] = {
		{ "no-encryption", no_argument, NULL, 'n' },
		{ "key-source", required_argument, NULL, 'k' },
		{ "root-owner", required_argument, NULL, 'O' },
		{ "root-mode", required_argument, NULL, 'M' },
		{ "format", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option longopts[sizeof(own) / sizeof(*own) + 4 * KP_OPTIONS_MAX];
	struct kp_options opt = { 0 };
	struct rootattr root = { 0, 0, ROOTATTR_DEFAULT_MODE };
	const char *spec = NULL, *arg = NULL, *dir;
	const struct keyprov *kp = NULL;
	struct volume_config *cfg = NULL;
	bool plain = false, made;
	int format = VOLUME_FORMAT;
	char name[32], conf[4096], rdir[PATH_MAX], where[PATH_MAX];
	int c, i, rc, r;

	create_options(own, sizeof(own) / sizeof(*own), longopts,
		       sizeof(longopts) / sizeof(*longopts));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, &i)) != -1) {
		switch (c) {
		case 'n': plain = true; break;
		case 'k': spec = optarg; break;
		case 's':
			if (kp_option_add(&opt, longopts[i].name, optarg)) {
				fputs("atrestfs: too many key-source options\n",
				      stderr);
				return EXIT_USAGE;
			}
			break;
		case 'O':
			r = rootattr_parse_owner(optarg, &root.uid, &root.gid);
			if (r) {
				fprintf(stderr, "atrestfs: --root-owner %s: %s\n",
					optarg, r == -ENOENT
							? "no such user or group"
							: "expected USER:GROUP "
							  "(names or numeric ids)");
				return EXIT_USAGE;
			}
			break;
		case 'M':
			if (rootattr_parse_mode(optarg, &root.mode)) {
				fprintf(stderr, "atrestfs: --root-mode %s: expected "
						"an octal mode from 0 to 7777\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'F':
			if (strcmp(optarg, "2") && strcmp(optarg, "3")) {
				fprintf(stderr, "atrestfs: --format %s: this "
						"version creates format 3 (the "
						"default) or 2 (readable by "
						"older releases)\n",
					optarg);
				return EXIT_USAGE;
			}
			format = optarg[0] - '0';
			break;
		case 'h': create_usage(stdout); return EXIT_OK;
		default: create_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		create_usage(stderr);
		return EXIT_USAGE;
	}
	dir = argv[optind];
	if (keyprov_setup_all(&opt))
		return EXIT_USAGE;
	if (plain && spec) {
		fputs("atrestfs: --no-encryption and --key-source exclude each "
		      "other: a plain volume has no key\n", stderr);
		return EXIT_USAGE;
	}
	if (!plain && !spec) {
		fputs("atrestfs: an encrypted volume needs --key-source "
		      "(keyfile:PATH, tpm2 or kms:KEY); --no-encryption makes "
		      "a plain one\n", stderr);
		return EXIT_USAGE;
	}
	if (spec && keyprov_parse_spec(spec, &kp, &arg, name, sizeof(name)))
		return EXIT_USAGE;

	rc = prepare_dir(dir, &made);
	if (rc)
		return rc;
	if (volume_config_new(!plain, &cfg)) {
		rc = EXIT_SYSTEM;
		goto out;
	}
	cfg->format = format;
	if (plain) {
		rc = write_root(dir, &root, NULL);
		if (!rc)
			rc = volume_config_store(dir, cfg) ? EXIT_SYSTEM
							   : EXIT_OK;
	} else {
		rc = create_encrypted(dir, cfg, kp, arg, &opt, &root);
	}
	/* The node's own record of what it just made: the trust anchor. */
	if (rc == EXIT_OK && (!realpath(dir, rdir) ||
			      pin_record_store(rdir, cfg, where, sizeof(where)))) {
		fprintf(stderr, "atrestfs: cannot pin %s on this node; nothing "
				"was created\n", dir);
		snprintf(conf, sizeof(conf), "%s/%s", dir, VOLUME_CONFIG_NAME);
		unlink(conf);
		rc = EXIT_SYSTEM;
	}
	if (rc == EXIT_OK) {
		char ks[512] = "";

		if (!plain)
			keyprov_audit_id(kp, cfg->key_params, ks, sizeof(ks));
		printf("created %s volume %s in %s%s%s\n",
		       plain ? "plain (unencrypted)" : "encrypted", cfg->uuid,
		       dir, plain ? "" : ", key source ", ks);
		print_pins(rdir, cfg, where, kp_option(&opt, "tpm2-tcti"));
	}
out:
	if (rc != EXIT_OK) {
		/* Undo only what this create made: the directory was empty. */
		snprintf(conf, sizeof(conf), "%s/%s", dir, NAMES_DIRID_FILE);
		unlink(conf);
		snprintf(conf, sizeof(conf), "%s/%s", dir, ROOTATTR_NAME);
		unlink(conf);
		if (made)
			rmdir(dir);
	}
	volume_config_free(cfg);
	return rc;
}

/*
 * `atrestfs pin VOLUME`: (re)write the node record from the volume's config,
 * for a node rebuilt with its disk kept. It contacts no key source: the
 * operator checks what it prints (`atrestfs info` shows the same) before
 * trusting it, and the next mount verifies the config MAC.
 */
static int cmd_pin(int argc, char **argv)
{
	struct volume_config *cfg = NULL;
	struct node_pins *pins = NULL;
	char vol[PATH_MAX], where[PATH_MAX];
	bool replace = false, remove = false;
	int i, r, rc = EXIT_SYSTEM;

	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--replace"))
			replace = true;
		else if (!strcmp(argv[i], "--remove"))
			remove = true;
		else
			break;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: atrestfs pin [--replace | --remove] VOLUME\n"
		     "Writes (or removes) this node's record of VOLUME: its UUID "
		     "and key source.");
		return EXIT_OK;
	}
	if (i != argc - 1 || (replace && remove)) {
		fputs("usage: atrestfs pin [--replace | --remove] VOLUME\n",
		      stderr);
		return EXIT_USAGE;
	}
	if (!realpath(argv[i], vol)) {
		/* The record of a volume already deleted can still go. */
		if (!remove || errno != ENOENT || argv[i][0] != '/' ||
		    strlen(argv[i]) >= sizeof(vol)) {
			fprintf(stderr, "atrestfs: %s: %s\n", argv[i],
				strerror(errno));
			return EXIT_REFUSED;
		}
		strcpy(vol, argv[i]);
	}
	if (remove) {
		r = pin_record_remove(vol, where, sizeof(where));
		if (r)
			fprintf(stderr, "atrestfs: cannot remove %s: %s\n",
				where, strerror(-r));
		else
			printf("removed the node record %s\n", where);
		return r ? EXIT_SYSTEM : EXIT_OK;
	}
	r = volume_config_load(vol, &cfg);
	if (r) {
		fprintf(stderr, "atrestfs: refused: %s has no valid config (%s)\n",
			vol, strerror(-r));
		return r == -ENOENT ? EXIT_REFUSED : EXIT_CONFIG;
	}
	/* An existing record that disagrees is replaced only on request. */
	r = pin_resolve(vol, NULL, &pins);
	if (!r && pin_has_record(pins))
		r = pin_check(pins, vol, cfg);
	if (r && !replace) {
		fprintf(stderr, "atrestfs: refused: %s is pinned differently "
				"on this node (see above); check the volume, "
				"then `atrestfs pin --replace %s`\n", vol, vol);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (pin_record_store(vol, cfg, where, sizeof(where)))
		goto out;
	printf("volume %s, uuid %s, %s", vol, cfg->uuid,
	       cfg->encrypted ? "key source " : "plain (unencrypted)\n");
	if (cfg->encrypted) {
		char ks[512];

		keyprov_audit_id(keyprov_find(cfg->key_source), cfg->key_params,
				 ks, sizeof(ks));
		printf("%s\n", ks);
	}
	print_pins(vol, cfg, where, NULL);
	rc = EXIT_OK;
out:
	pin_free(pins);
	volume_config_free(cfg);
	return rc;
}

static int cmd_info(int argc, char **argv)
{
	struct volume_config *cfg;
	const struct keyprov *kp;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: atrestfs info VOLUME\n"
		     "Prints the volume config, everything but secrets.");
		return EXIT_OK;
	}
	if (argc != 2) {
		fputs("usage: atrestfs info VOLUME\n", stderr);
		return EXIT_USAGE;
	}
	r = volume_config_load(argv[1], &cfg);
	if (r == -ENOENT) {
		char why[4096 + 256];

		fprintf(stderr, "atrestfs: %s\n",
			volume_verdict_explain(VOLUME_NOT_A_VOLUME, argv[1],
					       NULL, NULL, why, sizeof(why)));
		return EXIT_REFUSED;
	}
	if (r == -EINVAL || r == -EFBIG || r == -EIO) {
		fprintf(stderr, "atrestfs: refused: the config of %s is "
				"invalid (see above)\n", argv[1]);
		return EXIT_CONFIG;
	}
	if (r) {
		fprintf(stderr, "atrestfs: cannot read the config of %s: %s\n",
			argv[1], strerror(-r));
		return EXIT_SYSTEM;
	}
	printf("volume:          %s\n", LOG_ESC(argv[1]));
	printf("format:          %d\n", cfg->format);
	printf("uuid:            %s\n", LOG_ESC(cfg->uuid));
	printf("created:         %s\n", LOG_ESC(cfg->created));
	printf("encryption:      %s\n", cfg->encrypted ? "yes" : "no");
	if (cfg->encrypted) {
		printf("cipher:          %s, %d-byte blocks\n", VOLUME_CIPHER,
		       VOLUME_BLOCK_SIZE);
		printf("names:           %s\n", VOLUME_NAME_SCHEME);
		printf("key source:      %s\n", LOG_ESC(cfg->key_source));
		kp = keyprov_find(cfg->key_source);
		if (kp)
			keyprov_describe(kp, cfg->key_params, stdout);
		printf("config mac:      HMAC-SHA256 (checked at mount)\n");
	}
	volume_config_free(cfg);
	return EXIT_OK;
}

static void fsck_usage(FILE *out)
{
	fputs("usage: atrestfs fsck [--repair] [--json] [--key-source SPEC] "
	      "VOLUME\n"
	      "Checks an unmounted encrypted volume: config MAC, directory "
	      "IDs, names,\n"
	      "long names, file blocks, symlinks and extended attributes.\n"
	      "  --repair             cut torn tails back, move unreadable "
	      "entries into\n"
	      "                       /lost+found (nothing is deleted)\n"
	      "  --json               one JSON document on stdout\n"
	      "  --key-source SPEC    as mount's -o key_source (keyfile:PATH "
	      "overrides the path)\n"
	      "  --progress N         a progress line on stderr every N "
	      "entries (default 1000)\n"
	      "Exit status: 0 clean, 1 repaired, 4 damage left, 8 operational "
	      "error,\n16 usage error (OR-ed, as fsck(8)).\n",
	      out);
}

static int cmd_fsck(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "key-source", required_argument, NULL, 'k' },
		{ "progress", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fsck_opts o = { 0 };
	const struct keyprov *kp;
	const char *arg;
	char name[32], *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o.repair = true; break;
		case 'j': o.json = true; break;
		case 'k':
			if (keyprov_parse_spec(optarg, &kp, &arg, name,
					       sizeof(name)))
				return FSCK_EXIT_USAGE;
			o.key_source = name;
			o.key_spec = optarg;
			break;
		case 'p':
			errno = 0;
			o.progress_every = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || !o.progress_every) {
				fprintf(stderr, "atrestfs fsck: --progress "
						"%s: expected a positive "
						"number of entries\n", optarg);
				return FSCK_EXIT_USAGE;
			}
			break;
		case 'h': fsck_usage(stdout); return FSCK_EXIT_OK;
		default: fsck_usage(stderr); return FSCK_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "atrestfs fsck: %s\n",
			optind < argc ? "exactly one VOLUME expected"
				      : "the VOLUME to check is missing");
		fsck_usage(stderr);
		return FSCK_EXIT_USAGE;
	}
	o.volume = argv[optind];
	return fsck_run(&o);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	jsonsafe_install_allocator();
	secmem_harden_process();
	if (!cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		puts("atrestfs " PACKAGE_VERSION);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "create"))
		return cmd_create(argc - 1, argv + 1);
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "fsck"))
		return cmd_fsck(argc - 1, argv + 1);
	if (!strcmp(cmd, "pin"))
		return cmd_pin(argc - 1, argv + 1);
	if (!strcmp(cmd, "mount"))
		return cmd_mount(argc - 1, argv + 1);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "guard-mountpoint"))
		return cmd_guard_mountpoint(argc - 1, argv + 1);
	/* `atrestfs VOLUME MOUNTPOINT ...`: argv[0] stands for "mount". */
	if (cmd[0] != '-')
		return cmd_mount(argc, argv);
	usage(stderr);
	return EXIT_USAGE;
}
