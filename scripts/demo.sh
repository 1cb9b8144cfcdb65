#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The main job on the embedded default: a keyfile-backed encrypted volume,
# mounted with allow_other, with an unmodified redis-server running as its
# own service user (redis, as Debian's unit runs it) persisting into it
# (AOF + RDB).
# Shows that the disk holds only ciphertext and that Redis gets its data back
# after a restart and a remount. Everything lives in a temporary directory
# and is unmounted and removed at the end (DEMO_KEEP=1 keeps it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/install-deps.sh"
bash "$top/scripts/build.sh" plain
A=$top/build-plain/atrestfs
D=$(mktemp -d /tmp/atrestfs-demo.XXXXXX)
VOL=$D/volume MNT=$D/mnt KEY=$D/volume.key
mkdir -p "$MNT"
chmod 0755 "$D" # the redis user must reach the mount point, not the volume
redis_pid=
cleanup() {
	set +e
	[ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
	mountpoint -q "$MNT" && fusermount3 -u "$MNT"
	# create pinned the volume on this node (/etc/atrestfs): unpin it too
	[ "${DEMO_KEEP:-0}" = 1 ] || { [ -d "$VOL" ] && "$A" pin --remove "$VOL" >/dev/null; rm -rf "$D"; }
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CLI="redis-cli -h 127.0.0.1 -p $PORT"
step() { printf '\n== %s\n' "$*"; }
start_redis() {
	setpriv --reuid redis --regid redis --init-groups --no-new-privs \
		redis-server --bind 127.0.0.1 --port "$PORT" --dir "$MNT" \
		--appendonly yes --appendfsync always --save "1 1" \
		--daemonize no --logfile "" >"$D/redis.log" 2>&1 &
	redis_pid=$!
	for _ in $(seq 50); do $CLI ping >/dev/null 2>&1 && return; sleep 0.1; done
	echo "redis did not start" >&2; exit 1
}
stop_redis() { $CLI shutdown >/dev/null; wait "$redis_pid" || true; redis_pid=; }

step "create an encrypted volume (key source: keyfile), its root owned by redis"
"$A" create --key-source "keyfile:$KEY" --root-owner redis:redis \
	--root-mode 0750 "$VOL"
step "atrestfs info"
"$A" info "$VOL"
step "mount it (allow_other: the redis user works in it)"
"$A" mount "$VOL" "$MNT" -o allow_other
grep " $MNT " /proc/mounts
step "redis-server with its dir in the mount: write 1000 keys"
start_redis
for i in $(seq 1 1000); do echo "SET customer:$i secret-balance-$i"; done | $CLI >/dev/null
$CLI BGSAVE >/dev/null; sleep 1
echo "DBSIZE: $($CLI DBSIZE)"
stop_redis
step "what Redis sees in the mount (its files are its own)"
ls -la "$MNT"
step "the volume directory itself stays root's"
stat -c '%U:%G %a %n' "$VOL" | sed "s|$D/||"
step "what the disk holds (names and bytes are ciphertext)"
find "$VOL" -maxdepth 2 | sed "s|$D/||" | head -8
if grep -rqa "secret-balance" "$VOL"; then echo "PLAINTEXT FOUND ON DISK" >&2; exit 1; fi
echo "grep for 'secret-balance' in the volume: not found (only ciphertext on disk)"
step "unmount, remount, restart redis: data is back"
fusermount3 -u "$MNT"
"$A" mount "$VOL" "$MNT" -o allow_other
start_redis
echo "DBSIZE after remount: $($CLI DBSIZE); customer:777 = $($CLI GET customer:777)"
[ "$($CLI GET customer:777)" = secret-balance-777 ]
stop_redis
fusermount3 -u "$MNT"
step "done: the volume was encrypted at rest the whole time"
