// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * AWS credential and region resolution, in the order the SDKs use, so that
 * a node configured for the AWS CLI mounts its volume with no extra setup.
 * The shared files are parsed strictly enough to be safe (bounded lines,
 * no interpretation beyond "[section]" and "key = value").
 */
#include "aws_creds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "http.h"
#include "jsonsafe.h"
#include "log.h"
#include "secmem.h"

#define FILE_MAX (256 * 1024)
#define IMDS_DEFAULT "http://169.254.169.254"

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int aws_ini_get(const char *text, const char *section, const char *key,
		char *out, size_t n)
{
	const char *p = text;
	bool in = false;
	int r = -ENOENT;

	while (*p) {
		char line[4096], *l, *eq;
		size_t len = strcspn(p, "\n");

		if (len >= sizeof(line))
			return -EINVAL;
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (p[len] == '\n');
		l = trim(line);
		if (!*l || *l == '#' || *l == ';')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');
			if (!end)
				return -EINVAL;
			*end = '\0';
			in = !strcmp(trim(l + 1), section);
			if (in && !key)
				r = 0;
			continue;
		}
		if (!key)
			continue;
		eq = strchr(l, '=');
		if (!eq)
			continue; /* continuation lines of nested values */
		*eq = '\0';
		if (in && !strcmp(trim(l), key)) {
			char *v = trim(eq + 1);
			if (strlen(v) >= n)
				return -EINVAL;
			strcpy(out, v);
			r = 0;
		}
	}
	return r;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(FILE_MAX + 1);
	n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!buf || n > FILE_MAX) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static void home_path(const char *env, const char *rel, char *out, size_t n)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v && *v)
		snprintf(out, n, "%s", v);
	else
		snprintf(out, n, "%s/%s", home ? home : "/root", rel);
}

static const char *profile_name(const char *profile)
{
	const char *p = profile && *profile ? profile : getenv("AWS_PROFILE");

	return p && *p ? p : "default";
}

static void config_section(const char *profile, char *out, size_t n)
{
	/* The config file names non-default profiles "[profile NAME]". */
	if (!strcmp(profile, "default"))
		snprintf(out, n, "default");
	else
		snprintf(out, n, "profile %s", profile);
}

static int config_get(const char *profile, const char *key, char *out, size_t n)
{
	char path[4096], section[300];
	char *text;
	int r;

	home_path("AWS_CONFIG_FILE", ".aws/config", path, sizeof(path));
	text = read_text(path);
	if (!text)
		return -ENOENT;
	config_section(profile, section, sizeof(section));
	r = aws_ini_get(text, section, key, out, n);
	free(text);
	return r;
}

/*
 * Static keys of @p section in one shared file: 0 with keys, -ENOENT with
 * none, -ENODATA when the section is there without keys, -EINVAL when the
 * file is malformed or has half a key pair.
 */
static int keys_from(const char *env, const char *rel, const char *section,
		     struct aws_creds *c)
{
	char path[4096];
	char *text;
	int r, s;

	home_path(env, rel, path, sizeof(path));
	text = read_text(path);
	if (!text)
		return -ENOENT;
	r = aws_ini_get(text, section, "aws_access_key_id", c->akid,
			sizeof(c->akid));
	s = aws_ini_get(text, section, "aws_secret_access_key", c->secret,
			sizeof(c->secret));
	if (!r && !s && aws_ini_get(text, section, "aws_session_token",
				    c->token, sizeof(c->token)))
		c->token[0] = '\0';
	if (r == -ENOENT && s == -ENOENT)
		r = aws_ini_get(text, section, NULL, NULL, 0) ? -ENOENT : -ENODATA;
	else if (r || s || !c->akid[0] || !c->secret[0])
		r = -EINVAL;
	secmem_wipe(text, strlen(text));
	free(text);
	if (r == -EINVAL)
		log_err("%s: profile [%s] is malformed or has only half of "
			"aws_access_key_id/aws_secret_access_key", path, section);
	return r;
}

/*
 * The profile's static keys: 0, -ENOENT to go on to the instance role, or
 * -ENOKEY (logged) when the profile cannot work: malformed, named but
 * absent, or of a kind atrestfs does not resolve (role_arn, SSO, a
 * credential process). Those are refused rather than silently replaced by
 * the instance role, which is what the SDKs do too.
 */
static int from_files(const char *profile, bool named, struct aws_creds *c)
{
	static const char *const unsupported[] = {
		"role_arn", "credential_process", "sso_session",
		"sso_start_url", "web_identity_token_file", NULL
	};
	char section[300], v[8];
	int r1, r2;

	r1 = keys_from("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials",
		       profile, c);
	if (!r1)
		return 0;
	config_section(profile, section, sizeof(section));
	r2 = keys_from("AWS_CONFIG_FILE", ".aws/config", section, c);
	if (!r2)
		return 0;
	if (r1 == -EINVAL || r2 == -EINVAL)
		return -ENOKEY;
	for (const char *const *k = unsupported; *k; k++) {
		if (config_get(profile, *k, v, sizeof(v)) != -ENOENT) {
			log_err("AWS profile %s uses %s, which atrestfs does not "
				"resolve: give it static keys, or use the "
				"environment or the instance role", profile, *k);
			return -ENOKEY;
		}
	}
	if (named && r1 == -ENOENT && r2 == -ENOENT) {
		log_err("AWS profile %s is in neither the shared credentials "
			"file nor the config file", profile);
		return -ENOKEY;
	}
	return -ENOENT;
}

/*
 * IMDSv2: one session token (PUT), then every GET carries it. The token
 * is kept for the one resolution that asked for it, then wiped.
 */
struct imds {
	char base[512];
	char hdr[600]; /* "X-aws-ec2-metadata-token: ..." */
};

static int imds_open(struct imds *m)
{
	const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
	const char *put_hdrs[] = { "X-aws-ec2-metadata-token-ttl-seconds: 300",
				   NULL };
	char url[600];
	struct http_req req = { .method = "PUT", .url = url,
				.headers = put_hdrs, .timeout_ms = 2000 };
	struct http_resp resp;
	int r;

	if (dis && !strcasecmp(dis, "true"))
		return -ENOENT;
	if (!base || !*base)
		base = IMDS_DEFAULT;
	if (strlen(base) >= sizeof(m->base) || (strncmp(base, "http://", 7) &&
						strncmp(base, "https://", 8))) {
		log_err("AWS_EC2_METADATA_SERVICE_ENDPOINT is not an http(s) URL");
		return -EINVAL;
	}
	snprintf(m->base, sizeof(m->base), "%s", base);
	/* "http://169.254.169.254/" and "http://169.254.169.254" alike */
	if (m->base[strlen(m->base) - 1] == '/')
		m->base[strlen(m->base) - 1] = '\0';
	snprintf(url, sizeof(url), "%s/latest/api/token", m->base);
	r = http_do(&req, &resp);
	if (r)
		return r;
	if (resp.status != 200 || resp.len == 0 || resp.len >= 256 ||
	    strlen(resp.body) != resp.len || strpbrk(resp.body, "\r\n")) {
		http_resp_free(&resp);
		return -ENOENT;
	}
	snprintf(m->hdr, sizeof(m->hdr), "X-aws-ec2-metadata-token: %s",
		 resp.body);
	http_resp_free(&resp);
	return 0;
}

static void imds_close(struct imds *m)
{
	secmem_wipe(m->hdr, sizeof(m->hdr));
}

static int imds_get(struct imds *m, const char *path, char *out, size_t n)
{
	const char *get_hdrs[] = { m->hdr, NULL };
	char url[1024];
	struct http_req req = { .method = "GET", .url = url,
				.headers = get_hdrs, .timeout_ms = 2000 };
	struct http_resp resp;
	int r;

	snprintf(url, sizeof(url), "%s%s", m->base, path);
	r = http_do(&req, &resp);
	if (r)
		return r;
	if (resp.status != 200 || resp.len >= n ||
	    strlen(resp.body) != resp.len) {
		http_resp_free(&resp);
		return -ENOENT;
	}
	memcpy(out, resp.body, resp.len + 1);
	http_resp_free(&resp);
	return 0;
}

#define IMDS_DOC "instance metadata credentials"

static int from_imds(struct aws_creds *c)
{
	char role[256], path[400];
	char *doc = secmem_alloc(16384);
	json_t *o = NULL, *code;
	struct imds m = { 0 };
	int r;

	if (!doc)
		return -ENOMEM;
	r = imds_open(&m);
	if (r)
		goto out;
	r = imds_get(&m, "/latest/meta-data/iam/security-credentials/", role,
		     sizeof(role));
	if (r)
		goto out;
	role[strcspn(role, "\r\n")] = '\0';
	if (!*role || strchr(role, '/')) {
		r = -EINVAL;
		goto out;
	}
	snprintf(path, sizeof(path),
		 "/latest/meta-data/iam/security-credentials/%s", role);
	r = imds_get(&m, path, doc, 16384);
	if (r)
		goto out;
	o = json_loads(doc, 0, NULL);
	code = o ? json_object_get(o, "Code") : NULL;
	if (code && (!json_is_string(code) ||
		     strcmp(json_string_value(code), "Success"))) {
		log_err("instance metadata has no usable role credentials "
			"(Code is not Success)");
		r = -EINVAL;
	} else if (!o ||
		   jsonsafe_copy_str(o, "AccessKeyId", c->akid,
				     sizeof(c->akid), IMDS_DOC) ||
		   jsonsafe_copy_str(o, "SecretAccessKey", c->secret,
				     sizeof(c->secret), IMDS_DOC) ||
		   jsonsafe_copy_str(o, "Token", c->token, sizeof(c->token),
				     IMDS_DOC)) {
		log_err("instance metadata credentials are malformed");
		r = -EINVAL;
	}
out:
	imds_close(&m);
	json_decref(o);
	secmem_free(doc);
	return r;
}

/* Credentials go into HTTP headers: visible ASCII only, no separators. */
static bool token_ok(const char *s, bool may_be_empty)
{
	if (!*s)
		return may_be_empty;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || *s == ':')
			return false;
	return true;
}

static int found(struct aws_creds *c, const char *source)
{
	if (!token_ok(c->akid, false) || !token_ok(c->secret, false) ||
	    !token_ok(c->token, true)) {
		secmem_wipe(c, sizeof(*c));
		log_err("AWS credentials from %s contain characters no access "
			"key, secret key or session token has", source);
		return -ENOKEY;
	}
	snprintf(c->source, sizeof(c->source), "%s", source);
	return 0;
}

int aws_creds_resolve(const char *profile, struct aws_creds *c)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");
	int r;

	memset(c, 0, sizeof(*c));
	if (akid && *akid && secret && *secret) {
		if (strlen(akid) >= sizeof(c->akid) ||
		    strlen(secret) >= sizeof(c->secret) ||
		    (token && strlen(token) >= sizeof(c->token))) {
			log_err("AWS credentials in the environment are too long");
			return -EINVAL;
		}
		strcpy(c->akid, akid);
		strcpy(c->secret, secret);
		if (token)
			strcpy(c->token, token);
		return found(c, "environment");
	}
	if ((akid && *akid) || (secret && *secret)) {
		log_err("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set "
			"together");
		return -ENOKEY;
	}
	r = from_files(profile_name(profile),
		       (profile && *profile) || getenv("AWS_PROFILE"), c);
	if (!r)
		return found(c, "shared files");
	secmem_wipe(c, sizeof(*c));
	if (r == -ENOKEY)
		return r;
	if (!from_imds(c))
		return found(c, "instance role");
	secmem_wipe(c, sizeof(*c));
	log_err("no AWS credentials: tried AWS_ACCESS_KEY_ID/"
		"AWS_SECRET_ACCESS_KEY, the shared credentials and config files "
		"(profile %s), and the instance metadata service",
		profile_name(profile));
	return -ENOKEY;
}

int aws_region_resolve(const char *given, const char *profile, char *out,
		       size_t n)
{
	const char *e = getenv("AWS_REGION");
	struct imds m = { 0 };

	if (given && *given) {
		snprintf(out, n, "%s", given);
		return 0;
	}
	if (!e || !*e)
		e = getenv("AWS_DEFAULT_REGION");
	if (e && *e) {
		snprintf(out, n, "%s", e);
		return 0;
	}
	if (!config_get(profile_name(profile), "region", out, n))
		return 0;
	if (!imds_open(&m)) {
		int r = imds_get(&m, "/latest/meta-data/placement/region", out, n);

		imds_close(&m);
		if (!r)
			return 0;
	}
	log_err("no AWS region: give --kms-region, set AWS_REGION, or put "
		"region in the config file");
	return -ENOENT;
}
