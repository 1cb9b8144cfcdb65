/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jansson, used on hostile documents and around secrets. The strict parsers
 * (volume config, each key source's fields, the node record) declare their
 * fields with these readers instead of walking objects by hand: an unknown
 * member, a missing or mistyped one, a string with a NUL byte or over its
 * cap, a base64 value of the wrong length are all refused the same way, with
 * one message naming the document (@p what) and the field.
 *
 * Every reader returns 0 (or a length) or -EINVAL after logging
 * "invalid WHAT: ...". Field names and values are escaped before printing.
 */
#ifndef ATRESTFS_JSONSAFE_H
#define ATRESTFS_JSONSAFE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/**
 * Refuse any member of the object @p obj that @p known does not name.
 * @param known the allowed member names, NULL-terminated
 * @return 0, or -EINVAL (also when @p obj is not an object)
 */
int jsonsafe_only_keys(const json_t *obj, const char *const *known,
		       const char *what);

/**
 * The string member @p key of @p obj: present, a string without NUL bytes,
 * shorter than @p cap bytes.
 * @param out the value (owned by @p obj); may be NULL to only check it
 */
int jsonsafe_get_str(const json_t *obj, const char *key, size_t cap,
		     const char **out, const char *what);

/** jsonsafe_get_str() for an optional member: absent, *@p out is NULL. */
int jsonsafe_opt_str(const json_t *obj, const char *key, size_t cap,
		     const char **out, const char *what);

/** jsonsafe_get_str() copied into @p buf of @p cap bytes (NUL-terminated). */
int jsonsafe_copy_str(const json_t *obj, const char *key, char *buf,
		      size_t cap, const char *what);

/**
 * The standard-base64 string member @p key of @p obj, decoded into @p buf.
 * @param min, max the decoded length allowed; @p buf holds @p max bytes
 * @return the decoded length, or -EINVAL
 */
long jsonsafe_get_b64(const json_t *obj, const char *key, uint8_t *buf,
		      size_t min, size_t max, const char *what);

/**
 * Make jansson wipe every block it frees: a KMS Decrypt answer carries the
 * plaintext data key through jansson's buffers. Process-wide: call it first
 * thing in main(), before any JSON value exists.
 */
void jsonsafe_install_allocator(void);

#endif
