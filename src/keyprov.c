// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The key-source registry: maps the name in "--key-source NAME[:ARG]" and in
 * the config's key_source.type to its vtable. A source whose functions are
 * missing is known by name (so its volumes are recognised) but reports
 * itself unavailable instead of crashing.
 */
#include "keyprov.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const struct keyprov *const registry[] = { &kp_keyfile, &kp_tpm2,
						  &kp_kms };

const struct keyprov *keyprov_find(const char *name)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

const struct keyprov *keyprov_at(size_t i)
{
	return i < sizeof(registry) / sizeof(registry[0]) ? registry[i] : NULL;
}

const char *kp_option(const struct kp_options *o, const char *name)
{
	const char *v = NULL;

	for (unsigned i = 0; o && i < o->n; i++)
		if (!strcmp(o->v[i].name, name))
			v = o->v[i].value;
	return v;
}

int kp_option_add(struct kp_options *o, const char *name, const char *value)
{
	if (o->n >= KP_OPTIONS_MAX)
		return -E2BIG;
	o->v[o->n].name = name;
	o->v[o->n++].value = value;
	return 0;
}

int keyprov_setup_all(const struct kp_options *opt)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (registry[i]->setup && registry[i]->setup(opt))
			return -EINVAL;
	return 0;
}

int keyprov_parse_spec(const char *spec, const struct keyprov **kp,
		       const char **arg, char *name_buf, size_t name_len)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);

	if (n == 0 || n >= name_len) {
		log_err("invalid key source \"%s\": expected keyfile:PATH, "
			"tpm2 or kms:KEY", spec);
		return -EINVAL;
	}
	memcpy(name_buf, spec, n);
	name_buf[n] = '\0';
	*kp = keyprov_find(name_buf);
	if (!*kp) {
		log_err("unknown key source \"%s\": expected keyfile, tpm2 or "
			"kms", name_buf);
		return -EINVAL;
	}
	*arg = colon ? colon + 1 : NULL;
	if (*arg && !**arg)
		*arg = NULL;
	return 0;
}

static int unavailable(const struct keyprov *kp, const char *what)
{
	log_err("key source %s is not available in this build (it cannot %s)",
		kp->name, what);
	return -ENOTSUP;
}

int keyprov_enroll(const struct keyprov *kp, const char *arg,
		   const struct kp_options *opt, const char *volume_uuid,
		   uint8_t *key, json_t **params)
{
	static const struct kp_options none;

	if (!kp->enroll)
		return unavailable(kp, "create volumes");
	return kp->enroll(arg, opt ? opt : &none, volume_uuid, key, params);
}

int keyprov_unlock(const struct keyprov *kp, const json_t *params,
		   const char *arg, const char *volume_uuid, uint8_t *key)
{
	if (!kp->unlock)
		return unavailable(kp, "unlock volumes");
	return kp->unlock(params, arg, volume_uuid, key);
}

int keyprov_validate(const struct keyprov *kp, const json_t *params)
{
	if (!kp->validate)
		return unavailable(kp, "check its part of the volume config");
	return kp->validate(params);
}

void keyprov_describe(const struct keyprov *kp, const json_t *params,
		      FILE *out)
{
	if (kp->describe)
		kp->describe(params, out);
	else
		fprintf(out, "details:         not shown (key source %s is "
			     "not available in this build)\n", kp->name);
}

void keyprov_audit_id(const struct keyprov *kp, const json_t *params,
		      char *buf, size_t n)
{
	if (kp->audit_id)
		kp->audit_id(params, buf, n);
	else if (n)
		snprintf(buf, n, "%s", kp->name);
}
