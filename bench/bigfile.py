#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# One large file for bench/scale.sh: `bigfile.py write|read PATH GIB [PID]`
# writes (1 MiB writes of random bytes, an fsync at the end) or reads the
# file and prints one TSV line per GiB: "step<TAB>MiB/s<TAB>daemon VmRSS
# KiB" (the RSS is "NA" without a PID). The write's final fsync is a line
# of its own ("fsync", seconds).
import os
import sys
import time

MIB = 1 << 20


def rss_kib(pid):
    if pid is None:
        return "NA"
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return line.split()[1]
    return "NA"


def main():
    op, path, gib = sys.argv[1], sys.argv[2], int(sys.argv[3])
    pid = int(sys.argv[4]) if len(sys.argv) > 4 else None
    if op == "write":
        buf = os.urandom(MIB)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    elif op == "read":
        fd = os.open(path, os.O_RDONLY)
    else:
        sys.exit("bigfile.py: unknown operation %r" % op)
    for step in range(1, gib + 1):
        t0 = time.monotonic()
        for _ in range(1024):
            if op == "write":
                if os.write(fd, buf) != MIB:
                    sys.exit("bigfile.py: short write")
            elif len(os.read(fd, MIB)) != MIB:
                sys.exit("bigfile.py: short read at GiB %d" % step)
        dt = time.monotonic() - t0
        print("%d\t%.1f\t%s" % (step, 1024 / dt, rss_kib(pid)), flush=True)
    if op == "write":
        t0 = time.monotonic()
        os.fsync(fd)
        print("fsync\t%.2f\t%s" % (time.monotonic() - t0, rss_kib(pid)),
              flush=True)
    os.close(fd)


if __name__ == "__main__":
    main()
