#!/usr/bin/env bash
# atrestfs-rotate, the one-command key rotation: refuses while Redis still
# uses the mount and when its preconditions do not hold (changing nothing),
# rolls back when the new volume cannot be created, and otherwise moves the
# Redis data to a new volume with a new key, switches only its own fstab
# line, retires the old volume and key, and Redis gets every key back.
source "$(dirname "$0")/../lib/common.sh"
command -v redis-server >/dev/null || skip "redis-server not installed"
command -v fuser >/dev/null || skip "fuser (psmisc) not installed"
[ -x "$MOUNT_HELPER" ] || fail "mount helper not built"
install_mount_helper
ROTATE="$TOP/tools/atrestfs-rotate"
export ATRESTFS
OLD=$WORK/vol-old NEW=$WORK/vol-new NEWER=$WORK/vol-newer MNT=$WORK/redis FSTAB=$WORK/fstab
mkdir -p "$MNT"
_mounts+=("$MNT")
PORT=$(free_port)
CLI="redis-cli -h 127.0.0.1 -p $PORT"
start_redis() {
	bg_start "$WORK/redis.pid" redis-server --bind 127.0.0.1 --port "$PORT" --dir "$MNT" \
		--appendonly yes --appendfsync always --daemonize no --logfile "$WORK/redis.log"
	for _ in $(seq 50); do $CLI ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
	fail "redis did not start"
}
stop_redis() {
	$CLI shutdown >/dev/null 2>&1 || true
	local pid; pid=$(cat "$WORK/redis.pid")
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	fail "redis did not stop"
}
state() { # what a refused or rolled-back run must leave exactly as it was
	sha256sum "$FSTAB"
	findmnt -n -o SOURCE,FSTYPE --mountpoint "$MNT"
	(cd "$OLD" && find . -printf '%p %s %T@\n' | sort | sha256sum)
	ls -A "$WORK"
}
# rotate EXPECTED_RC PATTERN ARGS...: run atrestfs-rotate, check its exit
# status and that PATTERN (extended regex) is in what it said.
rotate() {
	local want=$1 pat=$2 got=0
	shift 2
	out=$(bash "$ROTATE" --fstab "$FSTAB" "$@" 2>&1) || got=$?
	echo "$out"
	[ "$got" = "$want" ] || fail "atrestfs-rotate $*: exit $got, expected $want"
	grep -qE "$pat" <<<"$out" || fail "atrestfs-rotate $*: no '$pat' in: $out"
}

# The node as it runs today: an fstab with other lines that must not change.
atr create --key-source "keyfile:$WORK/key-old" "$OLD" >/dev/null
cat >"$FSTAB" <<EOF
# static file system information
UUID=0a1b2c3d /boot ext4 defaults 0 2
$OLD $MNT atrestfs defaults,_netdev,nofail,key_source=keyfile,x-systemd.mount-timeout=30s 0 0
tmpfs /scratch tmpfs size=1m 0 0
EOF
others=$(grep -v "^$OLD " "$FSTAB")
mount -T "$FSTAB" "$MNT"
start_redis
for i in $(seq 1 2000); do echo "SET k$i value-$i"; done | $CLI >/dev/null
$CLI SAVE >/dev/null
truncate -s 5M "$MNT/sparse" && printf 'tail' >>"$MNT/sparse"
ln -s dump.rdb "$MNT/link"

# Refusals: nothing may change.
fstab_before=$(sha256sum "$FSTAB")
rotate 2 "in use" "$MNT" "$NEW" --key-source "keyfile:$WORK/key-new"
[ "$($CLI DBSIZE)" = 2000 ] || fail "redis disturbed by a refused rotation"
[ "$(sha256sum "$FSTAB")" = "$fstab_before" ] && [ ! -e "$NEW" ] &&
	[ "$(findmnt -n -o SOURCE --mountpoint "$MNT")" = "$OLD" ] || fail "refused rotation changed something"
stop_redis
before=$(state)
rotate 2 "exactly one" "$WORK" "$NEW" --key-source "keyfile:$WORK/key-new"
rotate 2 "encrypted volume" "$MNT" "$NEW" --no-encryption --key-source "keyfile:$WORK/key-new"
rotate 2 "absolute" "$MNT" vol-new --key-source "keyfile:$WORK/key-new"
rotate 2 "old volume" "$MNT" "$OLD" --key-source "keyfile:$WORK/key-new"
rotate 1 "usage" "$MNT" "$NEW"
[ "$(state)" = "$before" ] || fail "a refused rotation changed something"

# A failure half-way (the new key file cannot be written): rolled back.
rotate 3 "untouched" "$MNT" "$NEW" --key-source "keyfile:$WORK/no-such-dir/key"
[ "$(state)" = "$before" ] || fail "a failed rotation was not rolled back"
[ ! -e "$NEW" ] || fail "a failed rotation left the new volume"

# The rotation itself, retiring the old volume and its key.
rotate 0 "now volume" --retire "$MNT" "$NEW" --key-source "keyfile:$WORK/key-new"
grep -q "^$NEW[[:space:]]$MNT[[:space:]]atrestfs[[:space:]]defaults,_netdev,nofail,key_source=keyfile,x-systemd.mount-timeout=30s[[:space:]]0 0$" "$FSTAB" ||
	fail "fstab line not switched: $(cat "$FSTAB")"
[ "$(grep -v "^$NEW" "$FSTAB")" = "$others" ] || fail "other fstab lines changed: $(cat "$FSTAB")"
[ "$(findmnt -n -o SOURCE --mountpoint "$MNT")" = "$NEW" ] || fail "the new volume is not the one mounted"
[ ! -e "$OLD" ] && [ ! -e "$WORK/key-old" ] || fail "old volume or key not retired"
[ ! -e "$ATRESTFS_NODE_DIR/volumes/$(printf %s "$OLD" | sha256sum | cut -d' ' -f1).json" ] ||
	fail "the retired volume's node record is left"
[ "$(stat -c %b "$MNT/sparse")" -lt 2048 ] || fail "sparse file lost its holes: $(stat -c %b "$MNT/sparse") blocks"
[ "$(tail -c 4 "$MNT/sparse")" = tail ] || fail "sparse file content"
[ "$(readlink "$MNT/link")" = dump.rdb ] || fail "symlink not kept"
start_redis
[ "$($CLI DBSIZE)" = 2000 ] || fail "DBSIZE after rotation: $($CLI DBSIZE)"
[ "$($CLI GET k1999)" = value-1999 ] || fail "value after rotation"
$CLI SET after-rotation yes >/dev/null
stop_redis
grep -rqa "value-1999" "$NEW" && fail "plaintext in the new volume"

# Routine: once more, keeping the old volume this time, from a line that
# pins its volume completely (as create prints it): the new line pins the
# new volume; then the fstab mount path is the one that works after a reboot.
pins=$(atr pin "$NEW" | awk '$2 == "/MOUNTPOINT" { print $4 }')
sed -i "s|,key_source=keyfile,|,${pins%,nofail},|" "$FSTAB"
grep -q "^$NEW[[:space:]].*,uuid=.*,key_source=keyfile:$WORK/key-new,x-systemd" "$FSTAB" || fail "pins not in the line: $(cat "$FSTAB")"
rotate 0 "is kept" "$MNT" "$NEWER" --key-source "keyfile:$WORK/key-newer"
newer_uuid=$(atr info "$NEWER" | sed -n 's/^uuid: *//p')
grep -q "^$NEWER[[:space:]]$MNT[[:space:]]atrestfs[[:space:]]defaults,_netdev,nofail,uuid=$newer_uuid,key_source=keyfile:$WORK/key-newer,x-systemd.mount-timeout=30s[[:space:]]0 0$" "$FSTAB" ||
	fail "the switched line does not pin the new volume: $(cat "$FSTAB")"
[ -d "$NEW" ] && [ -e "$WORK/key-new" ] || fail "the kept volume was removed"
umount "$MNT"
mount -T "$FSTAB" "$MNT"
[ "$(findmnt -n -o SOURCE --mountpoint "$MNT")" = "$NEWER" ] || fail "fstab does not mount the newest volume"
start_redis
[ "$($CLI DBSIZE)" = 2001 ] || fail "DBSIZE after the second rotation: $($CLI DBSIZE)"
stop_redis
umount "$MNT"
echo "rotate command: refusals, rollback and two rotations with 2000 Redis keys hold"
