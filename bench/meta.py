#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Metadata micro-benchmark for bench/run.sh and bench/scale.sh:
# `meta.py create DIR N` makes N empty files in DIR, `meta.py stat DIR N`
# lstat()s them, `meta.py unlink DIR N` removes them again. Prints
# operations per second (one process, no fork per file, so the number is
# the filesystem's, not the shell's). A 4th argument EVERY drops the
# kernel's dentries and inodes after every EVERY operations, outside the
# timing (needs root), so that a daemon holding a descriptor per cached
# inode is measured at directory sizes above its RLIMIT_NOFILE. An operation that fails stops it:
# "FAILED@I:ERRNO" is printed and the exit status is 3.
import errno
import os
import sys
import time


def forget_inodes():
    """Drop the kernel's dentries and inodes (a FUSE daemon gets FORGETs)."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")


def main():
    op, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    every = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    names = [os.path.join(d, "f%07d" % i) for i in range(n)]
    if op == "create":
        def do(p):
            os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    elif op == "stat":
        do = os.lstat
    elif op == "unlink":
        do = os.unlink
    else:
        sys.exit("meta.py: unknown operation %r" % op)
    dt = 0.0
    t0 = time.monotonic()
    for i, p in enumerate(names):
        if every and i and i % every == 0:
            dt += time.monotonic() - t0
            forget_inodes()
            t0 = time.monotonic()
        try:
            do(p)
        except OSError as e:
            # the failure is a result: which entry, which error
            print("meta.py: %s failed at entry %d of %d: %s" % (
                op, i, n, errno.errorcode.get(e.errno, e.errno)),
                file=sys.stderr)
            print("FAILED@%d:%s" % (i, errno.errorcode.get(e.errno, e.errno)))
            sys.exit(3)
    dt += time.monotonic() - t0
    print("%.1f" % (n / dt))


if __name__ == "__main__":
    main()
