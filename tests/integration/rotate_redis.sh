#!/usr/bin/env bash
# Key rotation by recreating the volume, exactly as doc/operations.md says:
# Redis data on a keyfile volume mounted from fstab; stop Redis; create a new
# volume with a new key; mount it beside the old one; copy; verify; switch
# the fstab line; retire the old volume; Redis gets every key back.
source "$(dirname "$0")/../lib/common.sh"
command -v redis-server >/dev/null || skip "redis-server not installed"
[ -x "$MOUNT_HELPER" ] || fail "mount helper not built"
install_mount_helper
OLD=$WORK/vol-old NEW=$WORK/vol-new MNT=$WORK/redis STAGE=$WORK/stage FSTAB=$WORK/fstab
mkdir -p "$MNT" "$STAGE"
_mounts+=("$MNT" "$STAGE")
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

# The node as it runs today.
atr create --key-source "keyfile:$WORK/key-old" "$OLD" >/dev/null
echo "$OLD $MNT atrestfs defaults,_netdev,nofail 0 0" >"$FSTAB"
mount -T "$FSTAB" "$MNT"
start_redis
for i in $(seq 1 3000); do echo "SET k$i rotated-value-$i"; done | $CLI >/dev/null
$CLI SAVE >/dev/null

# 1. Stop the cache.
stop_redis
# 2. New volume, new key (any key source), mounted on a staging point.
atr create --key-source "keyfile:$WORK/key-new" "$NEW" >/dev/null
atr mount "$NEW" "$STAGE"
# 3. Copy everything, keeping modes, owners, times, links and sparseness.
cp -a --sparse=always "$MNT/." "$STAGE/"
# 4. Verify before anything is switched.
diff -r "$MNT" "$STAGE" || fail "copy differs"
atr_umount "$STAGE"
umount "$MNT"
# 5. Switch the fstab line to the new volume and mount it where Redis looks.
sed -i "s|^$OLD |$NEW |" "$FSTAB"
mount -T "$FSTAB" "$MNT"
grep -q "^$NEW $MNT " /proc/mounts || fail "the new volume is not the one mounted"
# 6. Retire the old volume: its key file and its ciphertext.
rm -rf "$OLD"
shred -u "$WORK/key-old"
# 7. The cache comes back with every key.
start_redis
[ "$($CLI DBSIZE)" = 3000 ] || fail "DBSIZE after rotation: $($CLI DBSIZE)"
[ "$($CLI GET k2999)" = rotated-value-2999 ] || fail "value after rotation"
stop_redis
umount "$MNT"
# The old key no longer opens anything; the new volume has its own UUID.
[ ! -e "$OLD" ] || fail "old volume still there"
grep -rqa rotated-value "$NEW" && fail "plaintext in the new volume"
echo "rotation: 3000 keys moved to a volume with a new key"
