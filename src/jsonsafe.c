// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Strict readers for hostile JSON, and the wiping allocator (see
 * jsonsafe.h). Kept apart from every parser so that each parser is a short
 * list of its fields and the rules for a well-formed field exist once.
 */
#include "jsonsafe.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "secmem.h"

static int refuse(const char *what, const char *key, const char *why)
{
	log_err("invalid %s: field \"%.64s\" %s", what, LOG_ESC(key), why);
	return -EINVAL;
}

int jsonsafe_only_keys(const json_t *obj, const char *const *known,
		       const char *what)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		log_err("invalid %s: not a JSON object", what);
		return -EINVAL;
	}
	json_object_foreach((json_t *)obj, key, v) {
		const char *const *k = known;

		while (*k && strcmp(*k, key))
			k++;
		if (!*k) {
			log_err("invalid %s: unknown field \"%.64s\"", what,
				LOG_ESC(key));
			return -EINVAL;
		}
	}
	return 0;
}

int jsonsafe_get_str(const json_t *obj, const char *key, size_t cap,
		     const char **out, const char *what)
{
	json_t *v = json_object_get(obj, key);
	char why[64];

	if (!v)
		return refuse(what, key, "is missing");
	if (!json_is_string(v))
		return refuse(what, key, "must be a string");
	/* jansson keeps strings with NUL bytes: strlen() would cut them. */
	if (json_string_length(v) >= cap ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(why, sizeof(why), "is longer than %zu bytes or holds "
			 "a NUL byte", cap - 1);
		return refuse(what, key, why);
	}
	if (out)
		*out = json_string_value(v);
	return 0;
}

int jsonsafe_opt_str(const json_t *obj, const char *key, size_t cap,
		     const char **out, const char *what)
{
	if (out)
		*out = NULL;
	if (!json_object_get(obj, key))
		return 0;
	return jsonsafe_get_str(obj, key, cap, out, what);
}

int jsonsafe_copy_str(const json_t *obj, const char *key, char *buf,
		      size_t cap, const char *what)
{
	const char *s;
	int r = jsonsafe_get_str(obj, key, cap, &s, what);

	if (!r)
		memcpy(buf, s, strlen(s) + 1);
	return r;
}

long jsonsafe_get_b64(const json_t *obj, const char *key, uint8_t *buf,
		      size_t min, size_t max, const char *what)
{
	json_t *v = json_object_get(obj, key);
	char why[64];
	long n;

	if (!json_is_string(v))
		n = -EINVAL;
	else
		n = crypto_b64_decode(json_string_value(v),
				      json_string_length(v), buf, max);
	if (n >= 0 && (size_t)n >= min)
		return n;
	if (min == max)
		snprintf(why, sizeof(why), "is not base64 of %zu bytes", min);
	else
		snprintf(why, sizeof(why), "is not base64 of %zu to %zu bytes",
			 min, max);
	return refuse(what, key, why);
}

/* Blocks come from plain malloc(), so json_dumps() text stays free()able. */
static void wipe_free(void *p)
{
	if (!p)
		return;
	secmem_wipe(p, malloc_usable_size(p));
	free(p);
}

void jsonsafe_install_allocator(void)
{
	json_set_alloc_funcs(malloc, wipe_free);
}
