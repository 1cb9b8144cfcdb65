#!/usr/bin/env bash
# Format 2 on a real mount: a closed file cut at a block boundary or
# extended by a zero block reads EIO (the sizes alone are consistent, only
# the commit record tells), an xattr value moved to another file or
# directory reads EIO, a torn tail left by a crash is cut back without EIO
# and keeps every fsynced byte, and a truncate that fails (EFBIG) or a
# write that fails (ENOSPC) leaves the backing file byte for byte unchanged.
# Run on both content formats: a volume made with `create --format 2` (one
# block per journal record, what older releases read) and one of format 3
# (the default); FORMAT=2 or 3 runs one.
if [ -z "${FORMAT:-}" ]; then
	for f in 2 3; do
		FORMAT=$f bash "$0" || exit $?
	done
	exit 0
fi
source "$(dirname "$0")/../lib/common.sh"
VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt
mkdir -p "$MNT"
atr create --format "$FORMAT" --key-source "keyfile:$KEY" "$VOL" >/dev/null
[ "$(atr info "$VOL" | awk '/^format:/ {print $2}')" = "$FORMAT" ] ||
	fail "create --format $FORMAT made: $(atr info "$VOL" | grep '^format:')"
atr_mount "$VOL" "$MNT"
B=4096 H=$(content_header_len "$VOL") C=4128
# Distinct sizes identify the backing files: whole blocks only.
head -c $((3 * B)) /dev/urandom >"$MNT/cut"
head -c $((4 * B)) /dev/urandom >"$MNT/ext"
head -c $((5 * B)) /dev/urandom >"$MNT/xa"
head -c $((6 * B)) /dev/urandom >"$MNT/xb"
head -c $((7 * B)) /dev/urandom >"$MNT/big"
mkdir "$MNT/d1" "$MNT/d2"
python3 - "$MNT" <<'PY' || fail "setting xattrs"
import os, sys
m = sys.argv[1]
for p, v in (("xa", b"value of a"), ("xb", b"value of b"), ("d1", b"dir one"), ("d2", b"dir two")):
    os.setxattr(os.path.join(m, p), "user.tag", v)
PY
atr_umount "$MNT"
backing() { find "$VOL" -type f -size "$((H + $1 * C))c"; }
CUT=$(backing 3) EXT=$(backing 4) XA=$(backing 5) XB=$(backing 6) BIG=$(backing 7)
[ -n "$CUT" ] && [ -n "$EXT" ] && [ -n "$XA" ] && [ -n "$XB" ] && [ -n "$BIG" ] ||
	fail "backing files not found"

# Backing directories of d1 and d2: the two that hold the xattr.
mapfile -t DIRS < <(find "$VOL" -mindepth 1 -type d)
[ "${#DIRS[@]}" = 2 ] || fail "expected two backing directories"
python3 - "$CUT" "$EXT" "$XA" "$XB" "${DIRS[0]}" "${DIRS[1]}" <<'PY' || fail "tampering"
import os, sys
cut, ext, xa, xb, d1, d2 = sys.argv[1:]
C = 4128
os.truncate(cut, os.path.getsize(cut) - C)           # one block less: a valid size
with open(ext, "ab") as f:                            # one zero block more
    f.write(bytes(C))
def move(src, dst):
    names = [n for n in os.listxattr(src) if n.startswith("user.atrestfs.")]
    assert len(names) == 1, names
    os.setxattr(dst, names[0], os.getxattr(src, names[0]))
move(xa, xb)
move(d1, d2)
PY
atr_mount "$VOL" "$MNT"
expect_eio() {
	local out
	if out=$(cat "$1" 2>&1 >/dev/null); then
		fail "reading $1 succeeded"
	fi
	grep -q "Input/output error" <<<"$out" || fail "reading $1: expected EIO, got: $out"
}
expect_eio "$MNT/cut"
expect_eio "$MNT/ext"
python3 - "$MNT" <<'PY' || fail "xattr checks"
import errno, os, sys
m = sys.argv[1]
assert os.getxattr(os.path.join(m, "xa"), "user.tag") == b"value of a"
def value(p):
    try:
        return os.getxattr(os.path.join(m, p), "user.tag")
    except OSError as e:
        assert e.errno == errno.EIO, e
        return "EIO"
assert value("xb") == "EIO", "moved xattr value readable on xb"
# The directories' backing names do not say which is which: one of them
# got the other's value and reads EIO, the other still reads its own.
got = sorted(str(value(d)) for d in ("d1", "d2"))
assert got in (["EIO", "b'dir one'"], ["EIO", "b'dir two'"]), got
PY
cat "$MNT/xa" "$MNT/big" >/dev/null || fail "undamaged files unreadable"

# A failed truncate (past the largest size): the backing file unchanged.
before=$(sha256sum <"$BIG")
python3 - "$MNT/big" <<'PY' || fail "truncate past the maximum did not fail with EFBIG"
import errno, os, sys
try:
    os.truncate(sys.argv[1], 2**63 - 4096)
except OSError as e:
    sys.exit(0 if e.errno in (errno.EFBIG, errno.EINVAL) else 1)
sys.exit(1)
PY
[ "$(sha256sum <"$BIG")" = "$before" ] || fail "a failed truncate changed the backing file"

# A crash with a torn tail: the daemon is killed after an fsync and an
# unsynced append (the file stays dirty); junk is appended to the backing
# file as a torn write would leave it. The file reads back cut, every
# fsynced byte intact, no EIO.
head -c 5000 /dev/urandom >"$WORK/synced"
python3 "$TOP/tests/tools/dirty_append.py" "$MNT/aof" "$WORK/synced" "$WORK/ready" &
writer=$!
on_exit "kill $writer 2>/dev/null"
for i in $(seq 100); do
	[ -e "$WORK/ready" ] && break
	sleep 0.1
done
[ -e "$WORK/ready" ] || fail "writer did not get its append to the daemon"
[ "$(find "$VOL" -type f -size "$((H + C + 954 + 32))c" | wc -l)" = 1 ] ||
	fail "the unsynced append did not reach the backing file"
dpid=$(for p in $(pgrep -f "$ATRESTFS"); do if tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -q " $MNT"; then echo "$p"; fi; done | awk "NR == 1" || true)
[ -n "$dpid" ] || fail "daemon pid not found"
kill -9 "$dpid"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
AOF=$(find "$VOL" -type f -size +$((H + C))c -size -$((H + 2 * C))c | head -1)
[ -n "$AOF" ] || fail "backing file of aof not found"
head -c 700 /dev/urandom >>"$AOF"
atr_mount "$VOL" "$MNT"
size=$(stat -c %s "$MNT/aof")
[ "$size" = 5000 ] || [ "$size" = 5050 ] || fail "recovered size $size"
cmp -n 5000 "$MNT/aof" "$WORK/synced" || fail "fsynced bytes of aof lost"
cat "$MNT/aof" >/dev/null || fail "recovered aof unreadable"
atr_umount "$MNT"

# ENOSPC: a volume on a small tmpfs, filled up; a write that cannot get its
# space fails and leaves the backing file as it was.
SMALL=$WORK/small
mkdir -p "$SMALL"
mount -t tmpfs -o size=2m tmpfs "$SMALL"
on_exit "umount -l $SMALL"
atr create --format "$FORMAT" --key-source "keyfile:$KEY" "$SMALL/vol" >/dev/null
mkdir -p "$WORK/mnt2"
atr_mount "$SMALL/vol" "$WORK/mnt2"
head -c 4000 /dev/urandom >"$WORK/f.expect"
cp "$WORK/f.expect" "$WORK/mnt2/f"
# The kernel sends cp's RELEASE without waiting for it, and the daemon
# writes the clean commit record there: a remount makes sure it is on the
# backing file before the checksum below is taken.
atr_umount "$WORK/mnt2"
atr_mount "$SMALL/vol" "$WORK/mnt2"
F=$(find "$SMALL/vol" -type f -size "$((H + 4000 + 32))c" | head -1)
[ -n "$F" ] || fail "backing file on tmpfs not found"
dd if=/dev/zero of="$SMALL/filler" bs=4k 2>/dev/null || true
before=$(sha256sum <"$F")
python3 - "$WORK/mnt2/f" 2>"$WORK/enospc.err" <<'PY' && fail "a write on a full backing file system succeeded"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.pwrite(fd, os.urandom(256 * 1024), 4000)
    os.fsync(fd)
finally:
    try:
        os.close(fd)
    except OSError:
        pass
PY
grep -q "No space left" "$WORK/enospc.err" || fail "expected ENOSPC: $(cat "$WORK/enospc.err")"
[ "$(sha256sum <"$F")" = "$before" ] || fail "a failed write (ENOSPC) changed the backing file"
rm -f "$SMALL/filler"
atr_umount "$WORK/mnt2"
atr_mount "$SMALL/vol" "$WORK/mnt2"
cmp "$WORK/mnt2/f" "$WORK/f.expect" || fail "file changed by a failed write"
atr_umount "$WORK/mnt2"
echo "format $FORMAT: cut and extension at durability points, moved xattrs, torn tail, failed ops: all hold"
