#!/usr/bin/env bash
# Several writers to disjoint and to overlapping ranges of one file, and many
# files written at once, then verified (also after remount).
source "$(dirname "$0")/../lib/common.sh"
mount_fresh encrypted
python3 - "$MNT" <<'PY' || fail "concurrency check failed"
import os, sys, threading, random
mnt = sys.argv[1]
path = os.path.join(mnt, "shared")
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
N, CH = 8, 37 * 1024 + 11          # chunks straddle block boundaries
def disjoint(i):
    for r in range(20):
        os.pwrite(fd, bytes([i + 1]) * CH, i * CH)
ts = [threading.Thread(target=disjoint, args=(i,)) for i in range(N)]
[t.start() for t in ts]; [t.join() for t in ts]
data = os.pread(fd, N * CH + 10, 0)
assert len(data) == N * CH, len(data)
for i in range(N):
    assert data[i * CH:(i + 1) * CH] == bytes([i + 1]) * CH, "disjoint range %d" % i

# Overlapping: every writer writes whole aligned 8 KiB records of one byte
# value; each record must end up uniform (one writer's), never mixed or EIO.
REC = 8192
def overlap(i):
    rng = random.Random(i)
    for _ in range(300):
        k = rng.randrange(64)
        os.pwrite(fd, bytes([0x40 + i]) * REC, k * REC)
        os.pread(fd, REC, rng.randrange(64) * REC)
ts = [threading.Thread(target=overlap, args=(i,)) for i in range(N)]
[t.start() for t in ts]; [t.join() for t in ts]
for k in range(64):
    rec = os.pread(fd, REC, k * REC)
    assert len(set(rec)) == 1, "record %d mixed: %r" % (k, set(rec))
os.close(fd)

# Many files at once.
def many(i):
    for j in range(40):
        with open(os.path.join(mnt, "t%d_%d" % (i, j)), "wb") as f:
            f.write(bytes([j]) * (1000 * j + i))
ts = [threading.Thread(target=many, args=(i,)) for i in range(N)]
[t.start() for t in ts]; [t.join() for t in ts]
for i in range(N):
    for j in range(40):
        with open(os.path.join(mnt, "t%d_%d" % (i, j)), "rb") as f:
            assert f.read() == bytes([j]) * (1000 * j + i), (i, j)
print("concurrency ok")
PY
sha_before=$(cat "$MNT"/t* "$MNT/shared" | sha256sum)
remount
[ "$(cat "$MNT"/t* "$MNT/shared" | sha256sum)" = "$sha_before" ] || fail "content changed across remount"
atr_umount "$MNT"
