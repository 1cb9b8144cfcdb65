#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The packaged Redis, run the way Debian's redis-server.service runs it (user
# and group redis, UMask=007, no new privileges, no capabilities, Debian's
# /etc/redis/redis.conf with only dir/port/pidfile/logfile/daemonize/
# supervised/bind changed, AOF on), keeps its data in an encrypted mount
# with allow_other whose root was chowned to redis:redis through the mount.
# Every key survives a Redis restart, a remount, and (appendfsync always) a
# kill -9; the entries Redis made are redis-owned on the volume with the
# modes the same Redis gives them in a plain directory; the VOLUME directory
# stays root:root 0700 whatever happened to the mount root.
source "$(dirname "$0")/../lib/common.sh"
command -v redis-server >/dev/null || skip "redis-server not installed"
[ -r /etc/redis/redis.conf ] || skip "no Debian /etc/redis/redis.conf"
id redis >/dev/null 2>&1 || skip "no redis user (redis-server package)"

VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt REF=$WORK/ref RUN=$WORK/run
mkdir -p "$MNT" "$REF" "$RUN"
chmod 0711 "$WORK" # the service user reaches its run dir, nothing else
chown redis:redis "$RUN" "$REF"
chmod 0750 "$REF"
make_keyfile_volume "$VOL" "$KEY"
atr_mount "$VOL" "$MNT" -o allow_other
# What an administrator does for a service's data directory.
chown redis:redis "$MNT"
chmod 0750 "$MNT"
[ "$(stat -c '%U:%G %a' "$VOL")" = "root:root 700" ] ||
	fail "chown/chmod of the mount root changed VOLUME: $(stat -c '%U:%G %a' "$VOL")"

PORT=$(free_port)
CLI="redis-cli -h 127.0.0.1 -p $PORT"

# Debian's config, with the settings a second instance must change.
# $1 = data dir, $2 = appendfsync policy ("" keeps Debian's).
write_conf() {
	{
		cat /etc/redis/redis.conf
		echo "dir $1"
		echo "port $PORT"
		echo "bind 127.0.0.1"
		echo "pidfile $RUN/redis.pid"
		echo "logfile $RUN/redis.log"
		echo "daemonize no"
		echo "supervised no"
		echo "appendonly yes"
		[ -z "$2" ] || echo "appendfsync $2"
	} >"$RUN/redis.conf"
	chmod 0644 "$RUN/redis.conf"
}

# As redis-server.service: User=redis Group=redis UMask=007
# NoNewPrivileges=true CapabilityBoundingSet= (empty).
start_redis() {
	: >"$RUN/redis.log"
	chown redis:redis "$RUN/redis.log"
	bg_start "$WORK/redis.pid" bash -c 'umask 007; exec setpriv --reuid=redis \
		--regid=redis --init-groups --nnp --inh-caps=-all --bounding-set=-all \
		redis-server "$1"' _ "$RUN/redis.conf"
	local pid
	pid=$(cat "$WORK/redis.pid")
	for _ in $(seq 100); do
		$CLI ping 2>/dev/null | grep -q PONG && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "redis did not start: $(tail -5 "$RUN/redis.log")"
}
stop_redis() {
	$CLI shutdown >/dev/null 2>&1 || true
	local pid
	pid=$(cat "$WORK/redis.pid")
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	fail "redis did not stop"
}
# Keys $1..$2 with values that must never reach the disk in the clear.
set_keys() {
	seq "$1" "$2" | awk '{ print "SET key:" $1 " PLAINMARKERvalue" $1 }' |
		$CLI >"$WORK/set.out"
	[ "$(grep -c '^OK$' "$WORK/set.out")" = $(($2 - $1 + 1)) ] ||
		fail "SET failed: $(grep -v '^OK$' "$WORK/set.out" | head -3)"
}
# Every key 1..$1 has its value, and there is nothing else.
check_keys() {
	[ "$($CLI DBSIZE)" = "$1" ] || fail "$2: DBSIZE $($CLI DBSIZE), expected $1"
	seq 1 "$1" | awk '{ print "GET key:" $1 }' | $CLI >"$WORK/get.out"
	seq 1 "$1" | awk '{ print "PLAINMARKERvalue" $1 }' | cmp -s - "$WORK/get.out" ||
		fail "$2: a value differs"
	echo "$2: all $1 keys back"
}
wait_bg() {
	for _ in $(seq 200); do
		$CLI INFO persistence | grep -q "^$1:0" && return 0
		sleep 0.1
	done
	fail "$1 did not finish"
}

# 1. Reference: the same Redis in a plain directory, for the modes it gives.
write_conf "$REF" ""
start_redis
set_keys 1 10
$CLI BGSAVE >/dev/null
wait_bg rdb_bgsave_in_progress
stop_redis

# 2. Debian's appendfsync (everysec), an AOF rewrite and an RDB snapshot.
write_conf "$MNT" ""
grep -q '^appendfsync everysec' /etc/redis/redis.conf ||
	echo "note: Debian's appendfsync is not everysec here"
start_redis
set_keys 1 1500
$CLI BGREWRITEAOF >/dev/null
wait_bg aof_rewrite_in_progress
set_keys 1501 2000
$CLI BGSAVE >/dev/null
wait_bg rdb_bgsave_in_progress
stop_redis
start_redis
check_keys 2000 "redis restart"
stop_redis

# 3. The entries Redis made, seen through the mount and on the volume.
(cd "$REF" && find . -mindepth 1 -printf '%P %y %m\n' | sed -E 's/[0-9]+\.(base|incr)/N.\1/' | sort) >"$WORK/ref.modes"
(cd "$MNT" && find . -mindepth 1 -printf '%P %y %m\n' | sed -E 's/[0-9]+\.(base|incr)/N.\1/' | sort) >"$WORK/mnt.modes"
diff "$WORK/ref.modes" "$WORK/mnt.modes" >&2 ||
	fail "Redis's entries have other names/types/modes than in a plain directory"
[ "$(cd "$MNT" && find . -mindepth 1 ! -user redis -printf '%P %u:%g\n')" = "" ] ||
	fail "not redis-owned in the mount: $(cd "$MNT" && find . -mindepth 1 ! -user redis -printf '%P %u:%g ')"
# On the volume, user entries are the undotted encrypted names; the dotted
# ones are the daemon's bookkeeping.
n_mnt=$(find "$MNT" -mindepth 1 | wc -l)
n_vol=$(find "$VOL" -mindepth 1 ! -name '*.*' | wc -l)
[ "$n_vol" = "$n_mnt" ] || fail "$n_mnt entries in the mount, $n_vol on the volume"
bad=$(find "$VOL" -mindepth 1 ! -name '*.*' \( ! -user redis -o ! -group redis \) -printf '%P %u:%g\n')
[ -z "$bad" ] || fail "Redis's files are not redis:redis on the volume: $bad"
grep -rq PLAINMARKER "$VOL" && fail "a Redis value is on disk in the clear"
[ "$(stat -c '%U:%G %a' "$VOL")" = "root:root 700" ] ||
	fail "VOLUME is $(stat -c '%U:%G %a' "$VOL")"
echo "ownership: $n_vol entries redis:redis on the volume, modes as in a plain directory"

# 4. Remount: keys, and the mount root's owner and mode, are kept.
atr_umount "$MNT"
atr_mount "$VOL" "$MNT" -o allow_other
[ "$(stat -c '%U:%G %a' "$MNT")" = "redis:redis 750" ] ||
	fail "mount root after remount: $(stat -c '%U:%G %a' "$MNT")"
start_redis
check_keys 2000 "remount"
stop_redis

# 5. appendfsync always: every acknowledged write survives kill -9.
write_conf "$MNT" always
start_redis
set_keys 2001 2500
{ kill -9 "$(cat "$WORK/redis.pid")"; wait "$(cat "$WORK/redis.pid")" || true; } 2>/dev/null
start_redis
check_keys 2500 "appendfsync always, kill -9"
stop_redis
atr_umount "$MNT"
[ "$(stat -c '%U:%G %a' "$VOL")" = "root:root 700" ] ||
	fail "VOLUME is $(stat -c '%U:%G %a' "$VOL") at the end"
echo "redis as redis: 2500 keys through restart, remount and kill -9"
