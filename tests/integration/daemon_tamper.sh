#!/usr/bin/env bash
# Tampering with the backing files of a mounted volume: a flipped byte, two
# blocks swapped within a file, the blocks of two files swapped (headers kept,
# so each block meets another file ID), a file truncated mid-block. Each read
# of a damaged range gives EIO, never other data, and the daemon keeps
# serving the undamaged files.
source "$(dirname "$0")/../lib/common.sh"
mount_fresh encrypted
B=4096 H=$(content_header_len "$VOL")
# Distinct sizes identify the backing files: size -> H + full*4128 + (rem+32).
head -c $((4 * B)) /dev/urandom >"$MNT/flip"
head -c $((5 * B)) /dev/urandom >"$MNT/swap"
head -c $((6 * B)) /dev/urandom >"$MNT/xa"
head -c $((6 * B)) /dev/urandom >"$MNT/xb"
head -c $((7 * B)) /dev/urandom >"$MNT/trunc"
head -c $((3 * B + 77)) /dev/urandom >"$MNT/good"
cp "$MNT/good" "$WORK/good.expect"
sync
backing() { find "$VOL" -type f -size "$((H + $1 * 4128))c"; }
F=$(backing 4) S=$(backing 5) T=$(backing 7)
read -r XA XB <<<"$(backing 6 | tr '\n' ' ')"
[ -n "$F" ] && [ -n "$S" ] && [ -n "$T" ] && [ -n "$XA" ] && [ -n "$XB" ] || fail "backing files not found"

python3 - "$H" "$F" "$S" "$XA" "$XB" "$T" <<'PY'
import os, sys
H, C = int(sys.argv[1]), 4128
flip, swap, xa, xb, trunc = sys.argv[2:]
def blk(path, i):
    with open(path, "rb") as f:
        f.seek(H + i * C); return f.read(C)
def put(path, i, data):
    fd = os.open(path, os.O_WRONLY); os.pwrite(fd, data, H + i * C); os.close(fd)
fd = os.open(flip, os.O_RDWR)                       # one bit in block 1's ciphertext
b = bytearray(os.pread(fd, 1, H + C + 100)); b[0] ^= 1; os.pwrite(fd, bytes(b), H + C + 100); os.close(fd)
b0, b1 = blk(swap, 0), blk(swap, 1); put(swap, 0, b1); put(swap, 1, b0)
for i in range(6):
    a, b = blk(xa, i), blk(xb, i); put(xa, i, b); put(xb, i, a)
os.truncate(trunc, H + 3 * C + 1000)
PY
echo 3 >/proc/sys/vm/drop_caches   # make reads reach the daemon, not the page cache

expect_eio() {   # file offset length
	local out
	if out=$(dd if="$1" bs=4096 skip="$2" count="$3" status=none 2>&1 >/dev/null); then
		fail "reading $1 blocks $2+$3 succeeded"
	fi
	grep -q "Input/output error" <<<"$out" || fail "reading $1: expected EIO, got: $out"
}
expect_eio "$MNT/flip" 0 4
expect_eio "$MNT/flip" 1 1
dd if="$MNT/flip" bs=4096 count=1 status=none >/dev/null || fail "undamaged block 0 of flip unreadable"
expect_eio "$MNT/swap" 0 1
expect_eio "$MNT/swap" 1 1
expect_eio "$MNT/xa" 0 6
expect_eio "$MNT/xb" 2 1
expect_eio "$MNT/trunc" 3 1
cmp "$MNT/good" "$WORK/good.expect" || fail "undamaged file changed"
mountpoint -q "$MNT" || fail "daemon died"
echo more >"$MNT/after" && [ "$(cat "$MNT/after")" = more ] || fail "daemon stopped serving"

# A long name's .name file copied over another's: the entry it no longer
# matches is hidden, never shown under the other's name.
la=$(printf 'a%.0s' $(seq 200)) lb=$(printf 'b%.0s' $(seq 200))
echo A >"$MNT/$la"; echo B >"$MNT/$lb"
atr_umount "$MNT"
read -r na nb <<<"$(ls "$VOL"/atrestfs.long.*.name | tr '\n' ' ')"
chmod u+w "$nb"; cp "$na" "$nb"
atr_mount "$VOL" "$MNT"
[ "$(ls "$MNT" | grep -c '^[ab]\{200\}$')" = 1 ] || fail "a forged .name file shows two entries: $(ls "$MNT" | cut -c1-10)"
[ "$(ls "$MNT" | sort | uniq -d)" = "" ] || fail "duplicate names listed"
atr_umount "$MNT"
echo "tampering detected: flip, swap, cross-file swap, truncation, forged long name"
