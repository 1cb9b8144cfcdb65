/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The mounted daemon's status channel, read by `atrestfs status`
 * (status_cli.h): a unix stream socket STATUS_DIR/MAJ:MIN.sock, named by
 * the device number of the mount (as /proc/self/mountinfo lists it), in a
 * root-only directory outside every mount. The daemon answers from one
 * thread, to peers with uid 0 only (SO_PEERCRED). One exchange per
 * connection: the client sends STATUS_REQUEST, the daemon replies one JSON
 * object (at most STATUS_REPLY_MAX bytes) and closes. doc/daemon.md lists
 * the fields.
 */
#ifndef ATRESTFS_STATUS_H
#define ATRESTFS_STATUS_H

#include <stddef.h>

#define STATUS_DIR "/run/atrestfs"
#define STATUS_REQUEST "status 1\n"
#define STATUS_REPLY_MAX 65536
#define STATUS_IO_TIMEOUT_MS 2000

struct atr_fs;
struct node_pins;
struct revoke_watch;
struct status_server;
struct volume_config;

/**
 * The socket path of the mount with device number @p major:@p minor.
 * @return 0, or -ENAMETOOLONG when @p n is too small
 */
int status_socket_path(unsigned major, unsigned minor, char *buf, size_t n);

/**
 * Create the socket (and STATUS_DIR, 0700 root) for the atrestfs mount on
 * top at @p mnt (canonical) of volume @p vol (canonical), and let the
 * sandbox allow accept4() on it. Call it after the mount and before
 * sandbox_apply(); nothing is served until status_listen().
 * @return 0 or a negative errno (logged; the mount goes on without it)
 */
int status_start(const char *vol, const char *mnt,
		 const struct volume_config *cfg, const struct node_pins *pins,
		 struct atr_fs *fs, struct status_server **out);

/**
 * Serve from a thread of its own, started after sandbox_apply(); @p watch
 * (or NULL) gives the kms_recheck state. @return 0 or a negative errno
 */
int status_listen(struct status_server *s, struct revoke_watch *watch);

/** Stop serving, remove the socket and free @p s (NULL: no-op). */
void status_stop(struct status_server *s);

#endif
