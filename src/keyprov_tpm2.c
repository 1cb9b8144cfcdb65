// SPDX-License-Identifier: GPL-2.0-or-later
/* placeholder: being written */
#include "keyprov.h"
const struct keyprov kp_tpm2 = { .name = "tpm2" };
