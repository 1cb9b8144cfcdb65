#!/usr/bin/env bash
# Shared writable mmap reads back identically after remount; a sparse file
# keeps its holes (SEEK_HOLE/SEEK_DATA, st_blocks, backing file) and reads
# zeros there.
source "$(dirname "$0")/../lib/common.sh"
mount_fresh encrypted

python3 - "$MNT/mapped" "$WORK/expect" <<'PY'
import mmap, os, random, sys
path, expect = sys.argv[1], sys.argv[2]
size = 3 * 1024 * 1024 + 123
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, size)
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
rng = random.Random(7)
for _ in range(400):
    off = rng.randrange(0, size - 5000)
    m[off:off + 4999] = rng.randbytes(4999)
m.flush()
m.close()
os.close(fd)
with open(path, "rb") as f, open(expect, "wb") as e:
    e.write(f.read())
PY
remount
cmp "$MNT/mapped" "$WORK/expect" || fail "mmap-written file differs after remount"

# Sparse: 1 MiB data, 100 MiB hole, 4 KiB data.
python3 - "$MNT/sparse" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(fd, b"A" * (1 << 20), 0)
os.pwrite(fd, b"B" * 4096, (101 << 20))
os.close(fd)
PY
remount
python3 - "$MNT/sparse" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
st = os.fstat(fd)
assert st.st_size == (101 << 20) + 4096, st.st_size
hole = os.lseek(fd, 0, os.SEEK_HOLE)
assert (1 << 20) <= hole < (2 << 20), "first hole at %d" % hole
data = os.lseek(fd, hole, os.SEEK_DATA)
assert (100 << 20) <= data <= (101 << 20), "data resumes at %d" % data
assert os.pread(fd, 4096, 50 << 20) == b"\0" * 4096, "hole does not read zeros"
assert os.pread(fd, 10, (101 << 20)) == b"B" * 10
assert st.st_blocks * 512 < (8 << 20), "file is not sparse: %d blocks" % st.st_blocks
PY
[ $? -eq 0 ] || fail "sparse checks"
backing=$(find "$VOL" -type f -size +50M)
[ -n "$backing" ] || fail "no large backing file"
[ "$(du -k "$backing" | cut -f1)" -lt 8192 ] || fail "backing file is not sparse"
atr_umount "$MNT"
echo "mmap and sparse files: ok"
