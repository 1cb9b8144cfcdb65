/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The volume key's whole life: at create, made by the key source, the
 * subkeys derived and the key wiped; at mount (and for offline tools such
 * as fsck), the pins checked, the key obtained in a short-lived child
 * process, the subkeys derived, the key wiped, the config MAC verified.
 * Nothing else in atrestfs holds the volume key: everyone gets subkeys.
 *
 * The key-source code (keyfile read, tss2, libcurl and jansson for KMS)
 * runs only in the child, which hands exactly KEYPROV_KEY_LEN bytes back
 * over a pipe into secure memory and exits: the caller, a long-lived
 * daemon, never holds a TPM context, an HTTP client, a KMS answer or the
 * buffers they leave behind.
 */
#ifndef ATRESTFS_UNLOCK_H
#define ATRESTFS_UNLOCK_H

#include <stdint.h>

#include "keyprov.h"
#include "pin.h"
#include "volume.h"

/**
 * Unlock an encrypted volume.
 * 1. @p cfg is checked against @p pins (pin_check()): a mismatch is refused
 *    before any key source is contacted.
 * 2. The key source named by the pins is asked for the volume key in a
 *    child process.
 * 3. The subkeys are derived, the volume key wiped, the config MAC checked.
 * Every refusal prints its reason.
 * @param voldir the resolved volume directory (for messages)
 * @param cfg the loaded, strictly parsed config of an encrypted volume
 * @param pins from pin_resolve()
 * @param keys out: the subkeys (secure memory; volume_keys_free())
 * @return 0; PIN_REFUSED (pin.h) the config does not match the pins;
 *   -EBADMSG config MAC mismatch; -ENOTSUP source not built in; another
 *   negative errno: the key source did not give the key
 */
int unlock_volume_keys(const char *voldir, const struct volume_config *cfg,
		       const struct node_pins *pins, struct volume_keys **keys);

/**
 * At create: the volume key made (or had made) by @p kp, in the same kind
 * of throwaway child, which hands back the key and the source's parameters
 * (JSON text, parsed strictly here); the subkeys derived, the key wiped.
 * @param cfg a new config: gets the source's name and parameters
 * @param keys out: the subkeys (secure memory; volume_keys_free())
 * @return 0, or what keyprov_enroll() returns
 */
int unlock_enroll(const struct keyprov *kp, const char *arg,
		  const struct kp_options *opt, struct volume_config *cfg,
		  struct volume_keys **keys);

#endif
