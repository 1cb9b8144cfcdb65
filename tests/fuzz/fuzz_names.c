// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: decoding of stored names and symlink targets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct names_ctx *ctx;
	static const uint8_t id[NAMES_DIRID_LEN] = { 1, 2, 3 };
	char *s = malloc(size + 1), plain[NAMES_TARGET_MAX + 1];

	log_set_level(LOG_LVL_NONE);
	if (!ctx) {
		uint8_t key[64] = { 7 };
		names_ctx_new(key, &ctx);
	}
	memcpy(s, data, size);
	s[size] = '\0';
	names_decrypt(ctx, id, s, plain);
	names_decrypt_target(ctx, id, s, plain);
	names_is_bookkeeping(s);
	names_is_long_entry(s);
	free(s);
	return 0;
}
