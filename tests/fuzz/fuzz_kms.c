// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: KMS error bodies, AWS shared-file (INI) text, KMS
 * endpoint URLs (libcurl's parse and the loopback check) and the log
 * escaper. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "kms/aws_creds.h"
#include "kms/kms_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), msg[800], v[256], esc[64];

	log_set_level(LOG_LVL_NONE);
	memcpy(s, data, size);
	s[size] = '\0';
	kms_error(400, s, msg, sizeof(msg));
	kms_error(503, s, msg, sizeof(msg));
	aws_ini_get(s, "default", "aws_access_key_id", v, sizeof(v));
	aws_ini_get(s, "profile x", "region", v, sizeof(v));
	kms_endpoint_check(s);
	log_esc(s, esc, sizeof(esc));
	if (strlen(esc) >= sizeof(esc))
		abort();
	free(s);
	return 0;
}
