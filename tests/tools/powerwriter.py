#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Power-loss workload, checker and crash loop for atrestfs.

  powerwriter.py write MNT LOG --seed S [--ops N] [--files K] [--scenario]
      appends, overwrites (in place, partial blocks, across block
      boundaries), truncates, fsync and fdatasync on K files in MNT (or
      --scenario: a fixed sequence on one file); every operation goes to
      LOG (JSON lines) with its data and its start and end times
      (CLOCK_MONOTONIC ns, the clock of the simulator's trace).

  powerwriter.py crashes --log LOG --trace TRACE --powersim BIN
                 --atrestfs BIN --work DIR --points N --seed S [--state DIR]
                 [--exhaustive] [--sabotage] [--mount-opt ARG]...
      materialises N crash states (--exhaustive: every cut) of TRACE (powersim materialize), mounts
      each with atrestfs and checks it against LOG (see check_file); prints
      a summary; exit 0 when no state breaks the model, 1 otherwise.

A crash after trace record c-1 (the cut keeps records 0..c-1, completed at
time T) is judged with what the writer knew: a file's fsync/fdatasync that
returned before T is guaranteed; an operation that started before T may
or may not have reached the disk; one that started after T cannot have.
"""
import argparse
import base64
import errno
import json
import os
import random
import shutil
import subprocess
import sys
import time

BLOCK = 4096
MAX_SIZE = 160 * 1024


def now():
    return time.monotonic_ns()


# ---------------------------------------------------------------- writer

def pick_len(rng):
    r = rng.random()
    if r < 0.3:
        return rng.randint(1, 100)
    if r < 0.7:
        return rng.randint(100, BLOCK + 200)
    return rng.randint(BLOCK, 3 * BLOCK + 100)


def pick_off(rng, size):
    """Offsets inside the file, often at or around block boundaries."""
    if size == 0:
        return 0
    r = rng.random()
    if r < 0.4:
        b = rng.randint(0, size // BLOCK) * BLOCK
        return max(0, min(size - 1, b + rng.randint(-20, 20)))
    return rng.randint(0, size - 1)


def random_ops(rng, names, sizes, count):
    """(file, op, offset or size, length) chosen at random."""
    for _ in range(count):
        n = rng.choice(names)
        size = sizes[n]
        r = rng.random()
        if r < 0.30 or size == 0:
            yield n, "write", size, pick_len(rng)
        elif r < 0.55:
            yield n, "write", pick_off(rng, size), pick_len(rng)
        elif r < 0.65 or size > MAX_SIZE:
            if size > MAX_SIZE or rng.random() < 0.7:
                off = rng.randint(0, size)
                if rng.random() < 0.3:
                    off = off // BLOCK * BLOCK
            else:
                off = size + rng.randint(1, 2 * BLOCK)
            yield n, "truncate", off, 0
        elif r < 0.82:
            yield n, "fsync", 0, 0
        else:
            yield n, "fdatasync", 0, 0


# A fixed sequence on one file for an exhaustive run: the last, partial
# block changes length (appends, truncates down and up) while other blocks
# are overwritten between the syncs, which is where a format has to know
# which version of its tail block is the committed one.
SCENARIO = [
    ("write", 0, 22210), ("fsync", 0, 0),
    ("truncate", 23032, 0), ("write", 12388, 16000), ("fdatasync", 0, 0),
    ("write", 40000, 700), ("write", 12388, 100), ("write", 16484, 100),
    ("write", 4196, 100), ("fdatasync", 0, 0),
    ("write", 22900, 5000), ("truncate", 15000, 0), ("write", 14990, 30),
    ("write", 100, 8000), ("fsync", 0, 0),
    ("truncate", 30000, 0), ("write", 29990, 20), ("write", 5000, 10),
    ("fdatasync", 0, 0),
    ("write", 0, 3), ("truncate", 4096, 0), ("write", 4000, 200), ("fsync", 0, 0),
]


def cmd_write(a):
    rng = random.Random(a.seed)
    log = open(a.log, "w")
    names = ["f%d" % i for i in range(1 if a.scenario else a.files)]
    fds, sizes = {}, {}

    def rec(d):
        log.write(json.dumps(d) + "\n")

    for n in names:
        t0 = now()
        fds[n] = os.open(os.path.join(a.mnt, n), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        sizes[n] = 0
        rec({"op": "create", "f": n, "t0": t0, "t1": now()})
    dfd = os.open(a.mnt, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
    if a.scenario:
        ops = (("f0",) + op for op in SCENARIO)
    else:
        ops = random_ops(rng, names, sizes, a.ops)
    for n, op, off, length in ops:
        fd = fds[n]
        d = {"op": op, "f": n}
        t0 = now()
        if op == "write":
            data = rng.randbytes(length)
            os.pwrite(fd, data, off)
            sizes[n] = max(sizes[n], off + length)
            d.update(off=off, data=base64.b64encode(data).decode())
        elif op == "truncate":
            os.ftruncate(fd, off)
            sizes[n] = off
            d.update(size=off)
        elif op == "fsync":
            os.fsync(fd)
        else:
            os.fdatasync(fd)
        d.update(t0=t0, t1=now())
        rec(d)
    for n in names:
        os.close(fds[n])
    log.close()
    return 0


# ---------------------------------------------------------------- checker

def load_log(path):
    ops = []
    for line in open(path):
        d = json.loads(line)
        if "data" in d:
            d["data"] = base64.b64decode(d["data"])
        ops.append(d)
    return ops


def apply(content, d):
    """Apply one logged operation to a bytearray; the range it touched."""
    if d["op"] == "write":
        off, data = d["off"], d["data"]
        if len(content) < off:
            content.extend(bytes(off - len(content)))
        content[off:off + len(data)] = data
        return (off, off + len(data))
    if d["op"] == "truncate":
        old, new = len(content), d["size"]
        if new < old:
            del content[new:]
        else:
            content.extend(bytes(new - old))
        return (min(old, new), max(old, new))
    return None


def states_at(ops, fname, t_cut):
    """(guaranteed state, later states, ranges touched after it, existence
    guaranteed) for file fname with a crash at t_cut."""
    mine = [d for d in ops if d["f"] == fname and d["t0"] < t_cut]
    if not mine:
        return None
    base_i = -1
    for i, d in enumerate(mine):
        if d["op"] in ("fsync", "fdatasync") and d["t1"] < t_cut:
            base_i = i
    content = bytearray()
    for d in mine[:base_i + 1]:
        apply(content, d)
    base = bytes(content)
    later, dirty = [], []
    for d in mine[base_i + 1:]:
        rng = apply(content, d)
        if rng:
            later.append(bytes(content))
            dirty.append(rng)
    return base, later, dirty, base_i >= 0


def merge(ranges, limit):
    out = []
    for a, b in sorted(ranges):
        b = min(b, limit)
        if a >= b:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def read_all(path):
    """Contents in 4 KiB reads: (bytes, offset of the first EIO or None)."""
    fd = os.open(path, os.O_RDONLY)
    parts, off, eio = [], 0, None
    try:
        while True:
            try:
                b = os.pread(fd, BLOCK, off)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                eio = off
                break
            if not b:
                break
            parts.append(b)
            off += len(b)
    finally:
        os.close(fd)
    return b"".join(parts), eio


def check_file(path, st):
    """Problems of one file against its states, each (kind, message);
    and the bytes read, of them fsynced."""
    base, later, dirty, must_exist = st
    states = [base] + later
    if not os.path.exists(path):
        if must_exist:
            return [("fsynced file missing", "missing, though fsynced with %d bytes"
                     % len(base))], 0, 0
        return [], 0, 0
    try:
        r, eio = read_all(path)
    except OSError as e:
        return [("open failed (%s)" % errno.errorcode.get(e.errno, e.errno),
                 "open failed: %s" % e)], 0, 0
    if eio is not None:
        fsynced = eio < len(base)
        kind = "EIO in fsynced bytes" if fsynced else "EIO after the fsynced bytes"
        return [(kind, "EIO reading at offset %d (fsynced length %d)"
                 % (eio, len(base)))], eio, min(eio, len(base))
    probs = []
    size = len(r)
    lo, hi = min(len(s) for s in states), max(len(s) for s in states)
    if size < lo:
        probs.append(("fsynced bytes cut off", "%d bytes long, shorter than every allowed "
                      "state (fsynced %d, shortest %d)" % (size, len(base), lo)))
    if size > hi:
        probs.append(("longer than written", "%d bytes long, longer than any state written (%d)"
                      % (size, hi)))
    # Outside the ranges touched since the fsync, only the fsynced bytes.
    segs = merge(dirty + [(len(base), hi)], size)
    pos = 0
    for a, b in segs + [[size, size]]:
        if pos < a and r[pos:a] != base[pos:a]:
            i = next(i for i in range(pos, a) if i >= len(base) or r[i] != base[i])
            probs.append(("fsynced bytes destroyed",
                          "fsynced byte %d destroyed (untouched since the fsync)" % i))
            break
        pos = b
    for a, b in segs:
        if any(r[a:b] == s[a:b] for s in states):
            continue
        for i in range(a, b):
            ok = any(i < len(s) and r[i] == s[i] for s in states) or \
                (r[i] == 0 and any(i >= len(s) for s in states))
            if not ok:
                kind = "fsynced bytes destroyed" if i < len(base) else "content never written"
                probs.append((kind, "byte %d holds a value no state had (fsynced length %d)"
                              % (i, len(base))))
                break
    return probs, size, min(size, len(base))


def crash_points(a, rng, lo, recs, kinds):
    """(cut, policy, seed): drawn at random, or with --exhaustive every cut
    once as it was and once as random, and every write torn twice."""
    if a.exhaustive:
        for cut in range(lo, len(recs) + 1):
            yield cut, "keep", 0
            yield cut, "random", rng.getrandbits(32)
            if kinds[cut - 1] == "W":
                yield cut, "tear-last", rng.getrandbits(32)
                yield cut, "tear-last", rng.getrandbits(32)
        return
    tears = [i + 1 for i in range(lo, len(recs)) if kinds[i] == "W"]
    for _ in range(a.points):
        r = rng.random()
        if r < 0.25 and tears:
            cut, policy = rng.choice(tears), "tear-last"
        else:
            cut = rng.randint((lo + len(recs)) // 2 if a.sabotage else lo, len(recs))
            policy = "drop" if r < 0.4 else "random"
        yield cut, policy, rng.getrandbits(32)


def sabotage(rng, ops, names, t_cut, mnt, p):
    """Break the model on purpose (the checker's negative control): change
    an fsynced byte to a value no state had, or cut fsynced bytes off."""
    for n in rng.sample(names, len(names)):
        st = states_at(ops, n, t_cut)
        if st is None:
            continue
        states = [st[0]] + st[1]
        shortest = min(len(x) for x in states)
        if shortest == 0:
            continue
        path = os.path.join(mnt, n)
        if p % 2:
            os.truncate(path, shortest - 1)
        else:
            i = rng.randrange(shortest)
            v = next(v for v in range(256) if all(x[i] != v for x in states))
            fd = os.open(path, os.O_WRONLY)
            os.pwrite(fd, bytes([v]), i)
            os.close(fd)
        return
    raise RuntimeError("sabotage: no file has fsynced bytes at this crash point")


def mount_fg(a, state, mnt):
    """atrestfs in the foreground, its messages kept: (process, log file)."""
    dlog = open(os.path.join(a.work, "daemon.log"), "w+")
    proc = subprocess.Popen([a.atrestfs, "mount", state, mnt, "-f"] + a.mount_opt,
                            stdout=dlog, stderr=subprocess.STDOUT)
    for _ in range(400):
        if os.path.ismount(mnt) or proc.poll() is not None:
            break
        time.sleep(0.01)
    else:
        proc.kill()
        proc.wait()
    return proc, dlog


def dlog_text(dlog):
    dlog.flush()
    dlog.seek(0)
    return dlog.read().strip()


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, **kw)


def cmd_crashes(a):
    ops = load_log(a.log)
    names = sorted({d["f"] for d in ops})
    out = run([a.powersim, "info", a.trace])
    if out.returncode:
        print(out.stdout)
        return 2
    recs = [line.split("\t") for line in out.stdout.splitlines()]
    times = [int(x[1]) for x in recs]
    kinds = [x[2] for x in recs]
    t_first = ops[0]["t0"]
    lo = next(i for i, t in enumerate(times) if t > t_first) + 1
    rng = random.Random(a.seed)
    mnt = os.path.join(a.work, "cmnt")
    state = a.state or os.path.join(a.work, "cstate")
    os.makedirs(mnt, exist_ok=True)
    stats = dict(points=0, files=0, bytes=0, fsynced=0, torn=0, violations=0)
    bad = []
    for p, (cut, policy, mseed) in enumerate(crash_points(a, rng, lo, recs, kinds)):
        t_cut = times[cut - 1]
        shutil.rmtree(state, ignore_errors=True)
        m = run([a.powersim, "materialize", a.trace, state, "--cut", str(cut),
                 "--policy", policy, "--seed", str(mseed)])
        if m.returncode:
            print(m.stdout)
            return 2
        stats["torn"] += m.stdout.count("torn")
        repro = "powersim materialize TRACE OUT --cut %d --policy %s --seed %d" % (cut, policy, mseed)
        daemon, dlog = mount_fg(a, state, mnt)
        probs = []
        if daemon.poll() is not None:
            probs.append(("mount failed", "mount failed: %s" % dlog_text(dlog)))
        else:
            try:
                if a.sabotage:
                    sabotage(rng, ops, names, t_cut, mnt, p)
                for n in names:
                    st = states_at(ops, n, t_cut)
                    if st is None:
                        continue
                    pr, nb, nf = check_file(os.path.join(mnt, n), st)
                    stats["files"] += 1
                    stats["bytes"] += nb
                    stats["fsynced"] += nf
                    probs += [(k, "%s: %s" % (n, x)) for k, x in pr]
            finally:
                u = run(["fusermount3", "-u", mnt])
                if u.returncode:
                    print("cannot unmount %s: %s" % (mnt, u.stdout))
                    return 2
                daemon.wait(timeout=30)
            # What the daemon said (why it returned EIO) goes with the report.
            if probs:
                probs += [("", "daemon: " + x) for x in dlog_text(dlog).splitlines()[:3]]
        stats["points"] += 1
        if probs:
            stats["violations"] += 1
            bad.append((p, repro, probs, m.stdout.strip()))
            if len(bad) <= a.show:
                print("VIOLATION at crash point %d (%s):" % (p, repro))
                for _, x in probs[:6]:
                    print("    " + x)
                for x in m.stdout.strip().splitlines()[1:5]:
                    print("    state: " + x)
    print("crash points: %(points)d, files checked: %(files)d, bytes read: %(bytes)d "
          "(fsynced: %(fsynced)d), torn writes: %(torn)d, "
          "crash points with violations: %(violations)d" % stats)
    kinds_bad = {}
    for _, _, probs, _ in bad:
        for k, _ in probs:
            if k:
                kinds_bad[k] = kinds_bad.get(k, 0) + 1
    for k, v in sorted(kinds_bad.items(), key=lambda kv: -kv[1]):
        print("  %5d x %s" % (v, k))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("mnt")
    w.add_argument("log")
    w.add_argument("--seed", type=int, required=True)
    w.add_argument("--ops", type=int, default=1000)
    w.add_argument("--files", type=int, default=4)
    w.add_argument("--scenario", action="store_true",
                   help="the fixed tail-block sequence on one file instead of random operations")
    c = sub.add_parser("crashes")
    for opt in ("--log", "--trace", "--powersim", "--atrestfs", "--work"):
        c.add_argument(opt, required=True)
    c.add_argument("--points", type=int, default=500)
    c.add_argument("--seed", type=int, required=True)
    c.add_argument("--state", help="where each crash state is built (default "
                   "WORK/cstate); the volume's own path keeps node pins valid")
    c.add_argument("--show", type=int, default=5)
    c.add_argument("--exhaustive", action="store_true",
                   help="every cut of the trace instead of --points random ones")
    c.add_argument("--sabotage", action="store_true",
                   help="break every crash state on purpose: each must be reported")
    c.add_argument("--mount-opt", action="append", default=[],
                   help="extra argument for atrestfs mount (repeat)")
    a = ap.parse_args()
    return cmd_write(a) if a.cmd == "write" else cmd_crashes(a)


if __name__ == "__main__":
    sys.exit(main())
