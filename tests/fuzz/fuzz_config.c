// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the volume config parser (and the key sources' validators). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "volume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct volume_config *cfg = NULL;

	log_set_level(LOG_LVL_NONE);
	if (volume_config_parse((const char *)data, size, &cfg) == 0) {
		char *again = volume_config_dump(cfg);
		free(again);
	}
	volume_config_free(cfg);
	return 0;
}
