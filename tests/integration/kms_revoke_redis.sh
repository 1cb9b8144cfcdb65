#!/usr/bin/env bash
# Redis with AOF in a kms_recheck mount: when the fake KMS disables the key,
# Redis reports the write error (aof_last_write_status:err, writes refused
# with MISCONF) and keeps serving reads; when the key is allowed again and
# Redis is restarted on a fresh mount, its data is back and it writes again.
source "$(dirname "$0")/../lib/common.sh"
command -v redis-server >/dev/null || skip "redis-server not installed"
source "$TOP/tests/lib/fake_kms.sh"
PORT=$(free_port) MNT=$WORK/mnt VOL=$WORK/vol
CLI="redis-cli -h 127.0.0.1 -p $PORT"
mkdir -p "$MNT"
start_fake_kms
aof_status() { $CLI INFO persistence | tr -d '\r' | sed -n 's/^aof_last_write_status://p'; }

atr create --key-source kms:alias/x --kms-endpoint "$URL" "$VOL" >/dev/null
# appendfsync everysec: with "always" Redis exits on an fsync error by design
start_redis() {
	bg_start "$WORK/redis.pid" redis-server --bind 127.0.0.1 --port "$PORT" \
		--dir "$MNT" --appendonly yes --appendfsync everysec --save "" \
		--daemonize no --logfile "$WORK/redis.log"
	wait_for 5 eval '$CLI ping 2>/dev/null | grep -q PONG' || fail "redis did not start: $(tail -5 "$WORK/redis.log")"
}
stop_redis() {
	local pid
	pid=$(cat "$WORK/redis.pid")
	$CLI shutdown >/dev/null 2>&1 || $CLI shutdown nosave force >/dev/null 2>&1 || true
	wait_for 10 eval '! kill -0 "$pid" 2>/dev/null' || fail "redis did not stop"
}
atr_mount "$VOL" "$MNT" -o kms_recheck=1
start_redis
for i in $(seq 1 200); do echo "SET key:$i value$i"; done | $CLI >/dev/null
[ "$(aof_status)" = ok ] || fail "AOF status before: $(aof_status)"
# Redis wrote what it acknowledged into the kernel's writeback cache; fsync
# it through the mount so the keys are on the volume before the key goes
# (otherwise the revocation may refuse them, legitimately, and they are lost).
sync "$MNT"/appendonlydir/* || fail "fsync of the AOF files"

mode disabled
# Redis keeps writing into its open AOF; the error comes at its fsync
wait_for 10 eval '$CLI SET probe x >/dev/null; [ "$(aof_status)" = err ]' ||
	fail "no AOF write error: $(aof_status); $(tail -5 "$WORK/redis.log")"
echo "disabled: aof_last_write_status:err"
out=$($CLI SET after revoked 2>&1) || true
grep -q MISCONF <<<"$out" || fail "a write was accepted: $out"
[ "$($CLI GET key:177)" = value177 ] || fail "reads fail while revoked"
echo "disabled: writes refused ($out), reads served"

mode ok
# Redis itself stays in its AOF error state (it clears it only after an
# fsync of new data, and it accepts none); the way back is the documented
# one: stop it, remount (the kernel drops what it cached of the refused
# data), start it again.
sleep 2
$CLI SET after allowed 2>&1 | grep -q MISCONF || fail "redis left its error state by itself (test assumption)"
stop_redis
atr_umount "$MNT"
atr_mount "$VOL" "$MNT" -o kms_recheck=1
start_redis
[ "$($CLI GET key:177)" = value177 ] || fail "key:177 lost after the restart"
[ "$($CLI SET after allowed 2>&1)" = OK ] || fail "writes after the restart: $($CLI SET after allowed 2>&1)"
[ "$(aof_status)" = ok ] || fail "AOF status after the restart: $(aof_status)"
echo "ok again, redis restarted on a fresh mount: $($CLI DBSIZE) keys, writes accepted"
stop_redis
atr_umount "$MNT"
echo "kms revoke with redis: ok"
