// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the node record parser, and the pin check and fstab
 * options on whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "pin.h"
#include "volume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char conf[] =
		"{\"format\":2,\"uuid\":\"6f1c2a4e-0b7d-4c59-9a3e-2d1f8b7c6e5a\","
		"\"created\":\"2026-11-30T00:00:00Z\",\"encryption\":true,"
		"\"cipher\":\"AES-256-GCM\",\"block_size\":4096,"
		"\"names\":\"AES-256-SIV\",\"key_source\":{\"type\":\"keyfile\","
		"\"path\":\"/etc/atrestfs/k\",\"wrapped_key\":"
		"\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"},"
		"\"mac\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}";
	static struct volume_config *cfg;
	struct node_pins *p = NULL;
	char opts[4096];

	log_set_level(LOG_LVL_NONE);
	if (!cfg && volume_config_parse(conf, sizeof(conf) - 1, &cfg))
		abort(); /* the fixed config must parse */
	if (pin_record_parse("/var/lib/vol", (const char *)data, size, &p) == 0) {
		pin_check(p, "/var/lib/vol", cfg);
		json_decref(pin_unlock_params(p, cfg));
		pin_fstab_options(cfg, opts, sizeof(opts));
	}
	pin_free(p);
	return 0;
}
