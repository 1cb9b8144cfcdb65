// SPDX-License-Identifier: GPL-2.0-or-later
/* placeholder: being written */
#include "mount.h"
int main(int argc, char **argv) { return cmd_mount(argc, argv); }
