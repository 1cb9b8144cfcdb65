/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * AWS credentials and region, found the way the AWS SDKs and CLI find them:
 * the environment, then the shared credentials and config files (profile),
 * then the EC2 instance metadata service (IMDSv2). Secrets live in secmem.
 */
#ifndef ATRESTFS_AWS_CREDS_H
#define ATRESTFS_AWS_CREDS_H

#include <stddef.h>

struct aws_creds {
	char akid[128];
	char secret[256];
	char token[4096]; /* empty without a session token */
	char source[32];  /* "environment", "shared files", "instance role" */
};

/**
 * Resolve credentials into @p out (secmem_alloc()ed by the caller).
 * @param profile the --kms-profile / recorded profile, or NULL
 * @return 0, or -ENOKEY with a message (nothing found, or a named profile
 * that is absent, malformed or not made of static keys), -EINVAL for
 * oversized environment values.
 */
int aws_creds_resolve(const char *profile, struct aws_creds *out);

/**
 * Resolve the region: @p given, AWS_REGION, AWS_DEFAULT_REGION, the config
 * file's profile, IMDS. @return 0 or -ENOENT (with a message).
 */
int aws_region_resolve(const char *given, const char *profile, char *out,
		       size_t n);

/**
 * Parse one "key = value" of section @p section from INI text (the AWS
 * shared file format); with @p key NULL, only ask whether the section
 * exists (@p out unused). Exposed for the unit tests.
 * @return 0, -ENOENT when absent, -EINVAL on malformed input.
 */
int aws_ini_get(const char *text, const char *section, const char *key,
		char *out, size_t n);

#endif
