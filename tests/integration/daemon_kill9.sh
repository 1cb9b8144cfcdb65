#!/usr/bin/env bash
# kill -9 of the daemon under write load: the dead mount is cleaned up, the
# volume mounts again, everything fsynced before the kill reads back intact
# and nothing reads as wrong data.
source "$(dirname "$0")/../lib/common.sh"
mount_fresh encrypted
head -c $((8 << 20)) /dev/urandom >"$WORK/durable"
cp "$WORK/durable" "$MNT/durable" && sync "$MNT/durable"
python3 - "$MNT" <<'PY' &
import os, sys
for i in range(100000):
    try:
        with open(os.path.join(sys.argv[1], "load%d" % (i % 20)), "ab") as f:
            f.write(os.urandom(70000))
    except OSError:
        break
PY
loadpid=$!
# Kill under load: once the writer has started (a busy machine may take
# longer than a fixed sleep), plus a moment of writing.
for _ in $(seq 100); do compgen -G "$MNT/load*" >/dev/null && break; sleep 0.1; done
sleep 1
# The daemon's PID: the process that holds /dev/fuse for this mount.
# (Another daemon of the same binary may be listed last: no match for it
# must not end the test under set -e.)
dpid=$(for p in $(pgrep -f "$ATRESTFS"); do tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -q " $MNT" && echo "$p"; done | awk "NR == 1" || true)
[ -n "$dpid" ] || fail "daemon pid not found"
kill -9 "$dpid"
wait "$loadpid" 2>/dev/null || true
fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
not_mounted "$MNT" || fail "dead mount still there"
atr_mount "$WORK/vol" "$MNT"
cmp "$MNT/durable" "$WORK/durable" || fail "fsynced file damaged by kill -9"
for f in "$MNT"/load*; do
	# A file may be short (lost unsynced writes) but must never return bad data.
	cat "$f" >/dev/null || fail "$f unreadable after kill -9"
done
atr_umount "$MNT"
echo "kill -9: volume intact, fsynced data intact"
