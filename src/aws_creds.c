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
			continue;
		}
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

/* The config file names non-default profiles "[profile NAME]". */
static int config_get(const char *profile, const char *key, char *out, size_t n)
{
	char path[4096], section[300];
	char *text;
	int r;

	home_path("AWS_CONFIG_FILE", ".aws/config", path, sizeof(path));
	text = read_text(path);
	if (!text)
		return -ENOENT;
	if (!strcmp(profile, "default"))
		snprintf(section, sizeof(section), "default");
	else
		snprintf(section, sizeof(section), "profile %s", profile);
	r = aws_ini_get(text, section, key, out, n);
	free(text);
	return r;
}

static int from_files(const char *profile, struct aws_creds *c)
{
	char path[4096];
	char *text;
	int r;

	home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", path,
		  sizeof(path));
	text = read_text(path);
	if (text) {
		r = aws_ini_get(text, profile, "aws_access_key_id", c->akid,
				sizeof(c->akid));
		if (!r)
			r = aws_ini_get(text, profile, "aws_secret_access_key",
					c->secret, sizeof(c->secret));
		if (!r && aws_ini_get(text, profile, "aws_session_token",
				      c->token, sizeof(c->token)))
			c->token[0] = '\0';
		secmem_wipe(text, strlen(text));
		free(text);
		if (!r)
			return 0;
	}
	/* The config file may hold keys too. */
	r = config_get(profile, "aws_access_key_id", c->akid, sizeof(c->akid));
	if (!r)
		r = config_get(profile, "aws_secret_access_key", c->secret,
			       sizeof(c->secret));
	if (!r && config_get(profile, "aws_session_token", c->token,
			     sizeof(c->token)))
		c->token[0] = '\0';
	return r;
}

/* IMDSv2: a session token first, every GET with it. */
static int imds_get(const char *path, char *out, size_t n)
{
	const char *base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
	char url[1024], token[512], hdr[600];
	const char *put_hdrs[] = { "X-aws-ec2-metadata-token-ttl-seconds: 300",
				   NULL };
	const char *get_hdrs[] = { hdr, NULL };
	struct http_req req = { .method = "PUT", .url = url,
				.headers = put_hdrs, .timeout_ms = 2000 };
	struct http_resp resp;
	int r;

	if (dis && !strcasecmp(dis, "true"))
		return -ENOENT;
	if (!base || !*base)
		base = IMDS_DEFAULT;
	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	r = http_do(&req, &resp);
	if (r)
		return r;
	if (resp.status != 200 || resp.len == 0 || resp.len >= sizeof(token)) {
		http_resp_free(&resp);
		return -ENOENT;
	}
	strcpy(token, resp.body);
	http_resp_free(&resp);
	snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", token);
	snprintf(url, sizeof(url), "%s%s", base, path);
	req.method = "GET";
	req.headers = get_hdrs;
	r = http_do(&req, &resp);
	secmem_wipe(token, sizeof(token));
	secmem_wipe(hdr, sizeof(hdr));
	if (r)
		return r;
	if (resp.status != 200 || resp.len >= n) {
		http_resp_free(&resp);
		return -ENOENT;
	}
	memcpy(out, resp.body, resp.len + 1);
	http_resp_free(&resp);
	return 0;
}

static int copy_field(json_t *o, const char *k, char *out, size_t n)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || json_string_length(v) >= n)
		return -EINVAL;
	strcpy(out, json_string_value(v));
	return 0;
}

static int from_imds(struct aws_creds *c)
{
	char role[256], path[400];
	char *doc = secmem_alloc(16384);
	json_t *o = NULL;
	int r;

	if (!doc)
		return -ENOMEM;
	r = imds_get("/latest/meta-data/iam/security-credentials/", role,
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
	r = imds_get(path, doc, 16384);
	if (r)
		goto out;
	o = json_loads(doc, 0, NULL);
	if (!o || copy_field(o, "AccessKeyId", c->akid, sizeof(c->akid)) ||
	    copy_field(o, "SecretAccessKey", c->secret, sizeof(c->secret)) ||
	    copy_field(o, "Token", c->token, sizeof(c->token))) {
		log_err("instance metadata credentials are malformed");
		r = -EINVAL;
	}
out:
	json_decref(o);
	secmem_free(doc);
	return r;
}

int aws_creds_resolve(const char *profile, struct aws_creds *c)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID");
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
	const char *token = getenv("AWS_SESSION_TOKEN");

	memset(c, 0, sizeof(*c));
	if (akid && *akid && secret && *secret) {
		if (strlen(akid) >= sizeof(c->akid) ||
		    strlen(secret) >= sizeof(c->secret) ||
		    (token && strlen(token) >= sizeof(c->token)))
			return -EINVAL;
		strcpy(c->akid, akid);
		strcpy(c->secret, secret);
		if (token)
			strcpy(c->token, token);
		strcpy(c->source, "environment");
		return 0;
	}
	if (!from_files(profile_name(profile), c)) {
		strcpy(c->source, "shared files");
		return 0;
	}
	memset(c, 0, sizeof(*c));
	if (!from_imds(c)) {
		strcpy(c->source, "instance role");
		return 0;
	}
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
	if (!imds_get("/latest/meta-data/placement/region", out, n))
		return 0;
	log_err("no AWS region: give --kms-region, set AWS_REGION, or put "
		"region in the config file");
	return -ENOENT;
}
