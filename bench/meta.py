#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Metadata micro-benchmark for bench/run.sh: `meta.py create DIR N` makes N
# empty files in DIR, `meta.py unlink DIR N` removes them again. Prints
# operations per second (one process, no fork per file, so the number is
# the filesystem's, not the shell's).
import os
import sys
import time


def main():
    op, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    names = [os.path.join(d, "f%07d" % i) for i in range(n)]
    t0 = time.monotonic()
    if op == "create":
        for p in names:
            os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    elif op == "unlink":
        for p in names:
            os.unlink(p)
    else:
        sys.exit("meta.py: unknown operation %r" % op)
    dt = time.monotonic() - t0
    print("%.1f" % (n / dt))


if __name__ == "__main__":
    main()
