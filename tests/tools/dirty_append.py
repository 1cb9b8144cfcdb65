#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Leave a file dirty in a mounted volume, for crash tests.

usage: dirty_append.py FILE SYNCED READY

Appends the bytes of SYNCED to FILE and fsyncs them, appends 50 more bytes
without an fsync and pushes them to the daemon (sync_file_range, no
fsync), then creates READY and sleeps, holding the file open, until the
test kills the daemon under it.
"""
import ctypes
import os
import sys
import time

path, synced, ready = sys.argv[1:4]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.write(fd, open(synced, "rb").read())
os.fsync(fd)
os.write(fd, b"x" * 50)
libc = ctypes.CDLL(None, use_errno=True)
libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_longlong,
                                 ctypes.c_longlong, ctypes.c_uint]
if libc.sync_file_range(fd, 0, 0, 2 | 4) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
open(ready, "w").close()
time.sleep(60)
