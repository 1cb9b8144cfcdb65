// SPDX-License-Identifier: GPL-2.0-or-later
/* placeholder until the FUSE daemon lands */
#include "mount.h"
#include <stdio.h>
int cmd_mount(int argc, char **argv)
{
	(void)argc; (void)argv;
	fputs("atrestfs: mount is not built yet\n", stderr);
	return 1;
}
