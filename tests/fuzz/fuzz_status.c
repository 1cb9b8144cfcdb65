// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the checks `atrestfs status` applies to a daemon's
 * reply, and the text and JSON output of whatever passes them. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "status_cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	json_t *o = status_cli_parse_reply((const char *)data, size,
					   "/mnt/\x1b[31m", why, sizeof(why));
	char *text = o ? json_dumps(o, JSON_ENSURE_ASCII) : NULL;

	free(text);
	json_decref(o);
	return 0;
}
