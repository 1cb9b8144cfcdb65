#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The daemon holds a descriptor per cached inode, so it raises its soft
# RLIMIT_NOFILE to the hard limit: started with a soft limit of 256 (as a
# service manager's low default), it still takes 1000 files in one
# directory, all of them cached and stat-able. On main before the fix the
# ~250th create failed with EMFILE.
source "$(dirname "$0")/../lib/common.sh"

N=1000
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge $((N * 2 + 256)) ] ||
	skip "hard RLIMIT_NOFILE $(ulimit -Hn) is too low for $N cached files"

VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt
mkdir -p "$MNT"
make_keyfile_volume "$VOL" "$KEY"
hard=$(ulimit -Hn)
ulimit -Sn 256
_mounts+=("$MNT")
bg_start "$WORK/pid" "$ATRESTFS" mount "$VOL" "$MNT" -f
ulimit -Sn "$hard"
pid=$(cat "$WORK/pid")
for _ in $(seq 100); do
	is_mounted "$MNT" && break
	kill -0 "$pid" 2>/dev/null || fail "the daemon exited before mounting"
	sleep 0.1
done
is_mounted "$MNT" || fail "not mounted"

mkdir "$MNT/d"
out=$(python3 - "$MNT/d" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    p = os.path.join(d, "f%04d" % i)
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    with open(p, "w") as f:
        f.write(str(i))
for i in range(n):
    with open(os.path.join(d, "f%04d" % i)) as f:
        assert f.read() == str(i), i
print("ok")
PY
) || fail "$N files in one directory under a soft limit of 256: $out"
[ "$out" = ok ] || fail "unexpected output: $out"
[ "$(find "$MNT/d" -type f | wc -l)" = "$N" ] || fail "not $N files listed"
read -r soft hardd < <(awk '/^Max open files/{print $4, $5}' "/proc/$pid/limits")
[ "$soft" = "$hardd" ] ||
	fail "the daemon kept a soft open file limit of $soft (hard $hardd)"

echo "ok: $N cached files with the daemon started under a soft limit of 256"
