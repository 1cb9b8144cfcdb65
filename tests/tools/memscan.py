#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Search every readable mapping of a live process for byte strings.

usage: memscan.py [--unlocked] PID NAME=HEX [NAME=HEX ...]

With --unlocked only mappings with no locked pages (smaps "Locked: 0 kB")
are read: where a key must never be, as opposed to secmem's locked pool.
Reads /proc/PID/maps and /proc/PID/mem (root), in 8 MiB chunks that
overlap by the longest pattern, so a match across a chunk border is found.
Prints one line per pattern, "NAME found N" or "NAME absent", then the
number of bytes and mappings read; exits 2 when the process cannot be read
at all, so a scan that saw nothing never passes for a clean one.
"""
import sys

CHUNK = 8 << 20


def locked(pid):
    """The mappings with locked pages, by start address."""
    out, lo = set(), None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            first = line.split()[0]
            if "-" in first and not first.endswith(":"):
                lo = int(first.split("-")[0], 16)
            elif first == "Locked:" and int(line.split()[1]) > 0:
                out.add(lo)
    return out


def regions(pid, unlocked_only):
    skip = locked(pid) if unlocked_only else set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5] if len(parts) > 5 else ""
            if parts[1][0] == "r" and name not in ("[vvar]", "[vsyscall]") \
                    and lo not in skip:
                yield lo, hi


def main():
    args = sys.argv[1:]
    unlocked_only = args[:1] == ["--unlocked"]
    if unlocked_only:
        args = args[1:]
    pid = int(args[0])
    pats = {}
    for a in args[1:]:
        name, hexval = a.split("=", 1)
        pats[name] = bytes.fromhex(hexval)
    longest = max(len(p) for p in pats.values())
    counts = dict.fromkeys(pats, 0)
    total = maps = 0
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for lo, hi in regions(pid, unlocked_only):
            off, tail, ok = lo, b"", False
            while off < hi:
                n = min(CHUNK, hi - off)
                try:
                    mem.seek(off)
                    buf = mem.read(n)
                except OSError:
                    break
                if not buf:
                    break
                ok = True
                data = tail + buf
                for name, p in pats.items():
                    # count only matches that end in the new bytes
                    start = 0
                    while True:
                        i = data.find(p, start)
                        if i < 0:
                            break
                        if i + len(p) > len(tail):
                            counts[name] += 1
                        start = i + 1
                tail = data[-(longest - 1):] if longest > 1 else b""
                total += len(buf)
                off += len(buf)
            maps += ok
    for name in pats:
        print(f"{name} {'found ' + str(counts[name]) if counts[name] else 'absent'}")
    print(f"scanned {total} bytes in {maps} mappings of pid {pid}")
    return 0 if total else 2


if __name__ == "__main__":
    sys.exit(main())
