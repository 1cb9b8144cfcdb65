#!/usr/bin/env bash
# Unmodified redis-server persists through an encrypted mount: AOF with
# appendfsync always plus RDB snapshots; Redis restarted, the volume
# unmounted and remounted, every key back; no value on disk in the clear.
source "$(dirname "$0")/../lib/common.sh"
command -v redis-server >/dev/null || skip "redis-server not installed"
mount_fresh encrypted
PORT=$(free_port)
CLI="redis-cli -h 127.0.0.1 -p $PORT"

start_redis() {
	bg_start "$WORK/redis.pid" redis-server --bind 127.0.0.1 --port "$PORT" \
		--dir "$MNT" --appendonly yes --appendfsync always \
		--save "1 1" --dbfilename dump.rdb --daemonize no \
		--logfile "$WORK/redis.log"
	for _ in $(seq 50); do $CLI ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
	fail "redis did not start: $(tail -5 "$WORK/redis.log")"
}
stop_redis() {
	$CLI shutdown >/dev/null 2>&1 || true
	local pid; pid=$(cat "$WORK/redis.pid")
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	fail "redis did not stop"
}

start_redis
for i in $(seq 1 2000); do echo "SET key:$i PLAINMARKERvalue$i"; done | $CLI >/dev/null
$CLI LPUSH biglist $(seq 1 500) >/dev/null
$CLI BGSAVE >/dev/null
for _ in $(seq 100); do [ "$($CLI INFO persistence | grep -c 'rdb_bgsave_in_progress:0')" = 1 ] && break; sleep 0.1; done
stop_redis
[ -s "$MNT/dump.rdb" ] || fail "no RDB file"
ls "$MNT"/appendonly* >/dev/null 2>&1 || fail "no AOF"
grep -rq PLAINMARKER "$VOL" && fail "a Redis value is on disk in the clear"

atr_umount "$MNT"
atr_mount "$VOL" "$MNT"
start_redis
[ "$($CLI DBSIZE)" = 2001 ] || fail "DBSIZE after remount: $($CLI DBSIZE)"
[ "$($CLI GET key:1777)" = PLAINMARKERvalue1777 ] || fail "key:1777 wrong"
[ "$($CLI LLEN biglist)" = 500 ] || fail "list length wrong"
stop_redis

# RDB alone must load too: move the AOF aside.
mkdir "$MNT/aof-aside" && mv "$MNT"/appendonly* "$MNT/aof-aside/"
bg_start "$WORK/redis.pid" redis-server --bind 127.0.0.1 --port "$PORT" --dir "$MNT" \
	--appendonly no --dbfilename dump.rdb --daemonize no --logfile "$WORK/redis.log"
for _ in $(seq 50); do $CLI ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
[ "$($CLI DBSIZE)" = 2001 ] || fail "RDB-only DBSIZE: $($CLI DBSIZE)"
stop_redis
atr_umount "$MNT"
echo "redis: 2001 keys back after restart and remount (AOF and RDB)"
