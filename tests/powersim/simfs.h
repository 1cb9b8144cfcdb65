/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The recording FUSE pass-through of the power-loss simulator. */
#ifndef POWERSIM_SIMFS_H
#define POWERSIM_SIMFS_H

/**
 * Serve @p backing (must be empty) at @p mountpoint in the foreground until
 * unmounted, appending every change to the trace file @p trace.
 * @return the process exit status (0 when the trace is complete).
 */
int simfs_run(const char *backing, const char *mountpoint, const char *trace);

#endif
