#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Random file-system operations applied to two trees at once.

Every operation runs on the atrestfs mount and on a plain reference
directory; results (data read, errno) must agree, and the two trees are
compared in full every --check-every operations and at the end.

usage: randops.py MOUNT REFERENCE --ops N --seed S [--check-every K]
exit 0 when identical, 1 with the first difference otherwise.
"""
import argparse
import errno
import os
import random
import stat
import sys

BLOCK = 4096


class Mismatch(Exception):
    pass


def tree(root):
    """Names, types, sizes, link counts and contents below root."""
    out = {}
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for n in sorted(dirs):
            out[os.path.join(rel, n)] = ("dir",)
        for n in sorted(files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[os.path.join(rel, n)] = ("link", os.readlink(p))
            else:
                with open(p, "rb") as f:
                    data = f.read()
                if len(data) != st.st_size:
                    raise Mismatch("%s: st_size %d but read %d bytes" % (p, st.st_size, len(data)))
                out[os.path.join(rel, n)] = ("file", st.st_nlink, data)
    return out


def compare(a, b):
    ta, tb = tree(a), tree(b)
    if ta.keys() != tb.keys():
        raise Mismatch("names differ: only in mount %s, only in reference %s"
                       % (sorted(ta.keys() - tb.keys())[:5], sorted(tb.keys() - ta.keys())[:5]))
    for k in ta:
        if ta[k] != tb[k]:
            va, vb = ta[k], tb[k]
            if va[0] == "file" and vb[0] == "file":
                da, db = va[2], vb[2]
                first = next((i for i in range(min(len(da), len(db))) if da[i] != db[i]), min(len(da), len(db)))
                raise Mismatch("%s differs: nlink %d/%d size %d/%d first differing byte %d"
                               % (k, va[1], vb[1], len(da), len(db), first))
            raise Mismatch("%s differs: %r vs %r" % (k, va[:2], vb[:2]))
    return len(ta)


def run(fn, *args):
    try:
        return ("ok", fn(*args))
    except OSError as e:
        return ("err", e.errno)


class Runner:
    def __init__(self, roots, rng):
        self.roots = roots
        self.rng = rng
        self.files = []
        self.dirs = [""]
        self.count = 0

    def both(self, fn, *rel):
        """Run fn on each root with the relative paths made absolute."""
        res = []
        for r in self.roots:
            res.append(run(fn, *[os.path.join(r, p) if isinstance(p, str) else p for p in rel]))
        if res[0] != res[1]:
            raise Mismatch("op %d %s%r: mount %r, reference %r"
                           % (self.count, fn.__name__, rel, res[0], res[1]))
        return res[0]

    def newname(self):
        d = self.rng.choice(self.dirs)
        return os.path.join(d, "f%d" % self.rng.randrange(60))

    def data(self, n):
        return self.rng.randbytes(n)

    def size(self):
        r = self.rng.random()
        if r < 0.3:
            return self.rng.randrange(1, 64)
        if r < 0.6:
            return self.rng.choice([BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK])
        if r < 0.95:
            return self.rng.randrange(1, 3 * BLOCK)
        return self.rng.randrange(1, 300 * 1024)

    def offset(self, p):
        cur = os.path.getsize(os.path.join(self.roots[1], p))
        r = self.rng.random()
        if r < 0.5:
            return self.rng.randrange(0, cur + 1)
        if r < 0.8:
            return cur
        return cur + self.rng.randrange(1, 5 * BLOCK)

    def op(self):
        self.count += 1
        rng = self.rng
        live = [f for f in self.files if os.path.exists(os.path.join(self.roots[1], f))]
        self.files = live
        k = rng.random()
        if k < 0.30 or not live:
            p = rng.choice(live) if live and rng.random() < 0.7 else self.newname()
            off = self.offset(p) if os.path.exists(os.path.join(self.roots[1], p)) else 0
            buf = self.data(self.size())

            def write(path, o=off, b=buf):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    os.pwrite(fd, b, o)
                finally:
                    os.close(fd)
            if self.both(write, p)[0] == "ok" and p not in self.files:
                self.files.append(p)
        elif k < 0.45:
            p = rng.choice(live)
            off = rng.randrange(0, os.path.getsize(os.path.join(self.roots[1], p)) + 100)
            n = self.size()

            def read(path, o=off, m=n):
                with open(path, "rb") as f:
                    f.seek(o)
                    return f.read(m)
            self.both(read, p)
        elif k < 0.55:
            p = rng.choice(live)
            buf = self.data(self.size())

            def append(path, b=buf):
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                try:
                    os.write(fd, b)
                finally:
                    os.close(fd)
            self.both(append, p)
        elif k < 0.65:
            p = rng.choice(live)
            cur = os.path.getsize(os.path.join(self.roots[1], p))
            n = rng.choice([0, rng.randrange(0, cur + 1), cur + rng.randrange(1, 3 * BLOCK),
                            (cur // BLOCK) * BLOCK, max(0, cur - 1)])
            self.both(os.truncate, p, n)
        elif k < 0.72:
            p = rng.choice(live)
            q = self.newname()
            self.both(os.rename, p, q)
            self.files.append(q)
        elif k < 0.76:
            p = rng.choice(live)
            q = self.newname()
            if self.both(os.link, p, q)[0] == "ok":
                self.files.append(q)
        elif k < 0.82:
            self.both(os.unlink, rng.choice(live))
        elif k < 0.87:
            if len(self.dirs) < 12:
                d = os.path.join(rng.choice(self.dirs), "d%d" % rng.randrange(20))
                if self.both(os.mkdir, d)[0] == "ok":
                    self.dirs.append(d)
        elif k < 0.90:
            if len(self.dirs) > 1:
                d = rng.choice(self.dirs[1:])
                if self.both(os.rmdir, d)[0] == "ok":
                    self.dirs = [x for x in self.dirs if x != d and not x.startswith(d + "/")]
        elif k < 0.95:
            p = rng.choice(live)

            def sync(path):
                fd = os.open(path, os.O_RDWR)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            self.both(sync, p)
        else:
            p = rng.choice(live)
            s = os.stat(os.path.join(self.roots[1], p)).st_size

            def size_of(path):
                return os.stat(path).st_size
            r = self.both(size_of, p)
            if r != ("ok", s):
                raise Mismatch("stat size of %s: %r vs %d" % (p, r, s))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mount")
    ap.add_argument("reference")
    ap.add_argument("--ops", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--check-every", type=int, default=300)
    ap.add_argument("--compare-only", action="store_true")
    a = ap.parse_args()
    try:
        if a.compare_only:
            n = compare(a.mount, a.reference)
            print("compare: %d entries identical" % n)
            return 0
        r = Runner([a.mount, a.reference], random.Random(a.seed))
        for i in range(1, a.ops + 1):
            r.op()
            if i % a.check_every == 0:
                compare(a.mount, a.reference)
        n = compare(a.mount, a.reference)
        print("randops: %d operations (seed %d), %d entries identical" % (a.ops, a.seed, n))
    except Mismatch as e:
        print("MISMATCH: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
