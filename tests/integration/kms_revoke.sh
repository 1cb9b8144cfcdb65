#!/usr/bin/env bash
# Key revocation while mounted (-o kms_recheck): with a fake KMS switched
# under a mounted volume, a disabled key or a denied Decrypt makes writes
# fail with EROFS within about two intervals while reads go on, and "ok"
# again resumes them; a KMS that is down for less than kms_grace changes
# nothing, for longer it counts as revoked; throttling counts as
# unreachable, never as revoked; a watcher that dies leaves the
# mount refusing writes; kms_revoked=deny_all refuses reads too (EACCES). Without the option no Decrypt follows the mount.
source "$(dirname "$0")/../lib/common.sh"
source "$TOP/tests/lib/fake_kms.sh"
MNT=$WORK/mnt VOL=$WORK/vol LOG=$WORK/daemon.log
mkdir -p "$MNT"
start_fake_kms

now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
writes_work() { { echo x >"$MNT/probe"; } 2>/dev/null; }
# a write fails with this message (strerror of the expected errno)
write_fails() { ! (echo x >"$MNT/probe") 2>"$WORK/werr" && grep -q "$1" "$WORK/werr"; }
erofs() { write_fails "Read-only file system"; }

atr create --key-source kms:alias/x --kms-endpoint "$URL" "$VOL" >/dev/null
UUID=$("$ATRESTFS" info "$VOL" | awk '/^uuid:/ {print $2}')
[ -n "$UUID" ] || fail "no uuid in atrestfs info"

# 1. Bad options: refused with a message, nothing mounted.
refused() {  # refused PATTERN MOUNT-ARGS...
	local pat=$1 out rc=0
	shift
	out=$("$ATRESTFS" mount "$@" 2>&1) || rc=$?
	[ "$rc" = 1 ] || fail "mount $*: exit $rc, expected 1 ($out)"
	grep -qE "$pat" <<<"$out" || fail "mount $*: message lacks '$pat': $out"
	not_mounted "$MNT" || fail "mount $*: left a mount"
}
refused "kms_recheck=0: expected a whole number of seconds" "$VOL" "$MNT" -o kms_recheck=0
refused "kms_recheck=1x: expected a whole number" "$VOL" "$MNT" -o kms_recheck=1x
refused "kms_recheck=99999999: expected" "$VOL" "$MNT" -o kms_recheck=99999999
refused "kms_grace=-1: expected" "$VOL" "$MNT" -o kms_recheck=1,kms_grace=-1
refused "kms_revoked=never: expected deny_writes or deny_all" "$VOL" "$MNT" -o kms_recheck=1,kms_revoked=never
refused "only apply with kms_recheck" "$VOL" "$MNT" -o kms_grace=5
atr create --key-source "keyfile:$WORK/key" "$WORK/kvol" >/dev/null 2>&1
refused "kms_recheck applies to kms volumes only; .* uses keyfile" "$WORK/kvol" "$MNT" -o kms_recheck=1
echo "bad options: refused"

# 2. Off by default: the mount's one Decrypt, then none.
atr_mount "$VOL" "$MNT"
echo data >"$MNT/f"
n0=$(decrypts)
sleep 2.5
[ "$(decrypts)" = "$n0" ] || fail "Decrypt calls after a mount without kms_recheck: $n0 -> $(decrypts)"
atr_umount "$MNT"
echo "option off: $n0 Decrypt call(s), none in 2.5 s after the mount"

# Mount in the foreground (in the background of this script) to see its log.
fg_mount() {
	: >"$LOG"
	_mounts+=("$MNT")
	bg_start "$WORK/daemon.pid" "$ATRESTFS" mount "$VOL" "$MNT" -f -o "$1" 2>"$LOG"
	wait_for 10 mountpoint -q "$MNT" || fail "no mount: $(cat "$LOG")"
}
fg_umount() {
	local pid
	pid=$(cat "$WORK/daemon.pid")
	atr_umount "$MNT"
	# the daemon reaps its watcher and exits
	wait_for 10 eval '! kill -0 "$pid" 2>/dev/null' || fail "daemon $pid still running after unmount"
}

# 3. Disabled, allowed again, denied, allowed again.
fg_mount kms_recheck=1,kms_grace=8
writes_work || fail "writes with the key allowed"
# The watcher: the daemon's child, no capability, its own seccomp filter,
# nothing open but its pipes.
# (The daemon's other child is the unmount helper, with CAP_SYS_ADMIN alone.)
wpid=$(for p in $(pgrep -P "$(cat "$WORK/daemon.pid")"); do
	grep -qE "^CapEff:\s+0+200000$" "/proc/$p/status" || echo "$p"
done)
[ -n "$wpid" ] && [ "$(wc -w <<<"$wpid")" = 1 ] || fail "no single watcher process: '$wpid'"
grep -qE "^CapEff:\s+0+$" "/proc/$wpid/status" || fail "watcher has capabilities: $(grep ^Cap "/proc/$wpid/status")"
grep -qE "^Seccomp:\s+2$" "/proc/$wpid/status" || fail "watcher has no seccomp filter"
grep -qE "^NoNewPrivs:\s+1$" "/proc/$wpid/status" || fail "watcher without no_new_privs"
for fd in "/proc/$wpid/fd/"*; do
	[ "${fd##*/}" -le 2 ] || [[ "$(readlink "$fd")" == pipe:* ]] || fail "watcher holds $(readlink "$fd")"
done
n0=$(decrypts)
wait_for 5 eval '[ "$(decrypts)" -ge $((n0 + 2)) ]' || fail "the watcher does not call Decrypt"
exec 7>>"$MNT/held" # a file open for writing before the revocation
for m in disabled access_denied; do
	mode "$m"
	t=$(now)
	wait_for 4 erofs || fail "$m: writes still work after 4 s: $(cat "$LOG")"
	echo "$m: writes fail with EROFS after $(since "$t") s"
	[ "$(cat "$MNT/f")" = data ] || fail "$m: reads fail"
	! mkdir "$MNT/d" 2>/dev/null || fail "$m: mkdir worked"
	! rm "$MNT/f" 2>/dev/null || fail "$m: unlink worked"
	! touch "$MNT/f" 2>/dev/null || fail "$m: setattr worked"
	! { echo more >>"$MNT/f"; } 2>/dev/null || fail "$m: append worked"
	ls "$MNT" | grep -qx f || fail "$m: readdir"
	# through the kernel's writeback cache, the error shows at fsync
	! python3 -c 'import os; os.write(7, b"x\n"); os.fsync(7)' 2>"$WORK/ferr" || fail "$m: fsync of a held file worked"
	grep -q "Read-only file system" "$WORK/ferr" || fail "$m: fsync: $(cat "$WORK/ferr")"
	mode ok
	t=$(now)
	wait_for 4 writes_work || fail "$m then ok: writes do not resume: $(cat "$LOG")"
	echo "ok again: writes resume after $(since "$t") s"
done
exec 7>&-
grep -q "volume $UUID: KMS key revoked: the KMS key is disabled" "$LOG" ||
	fail "no log line for the disabled key: $(cat "$LOG")"
grep -q "volume $UUID: KMS key revoked: access denied" "$LOG" ||
	fail "no log line for the denied key: $(cat "$LOG")"
[ "$(grep -c "KMS allows the key again" "$LOG")" = 2 ] || fail "resume lines: $(cat "$LOG")"
grep -q "volume $UUID: refused a request with EROFS: the volume's KMS key counts as revoked" "$LOG" ||
	fail "refused requests not logged: $(cat "$LOG")"

# 4. Throttled (the watcher's Decrypt answered ThrottlingException): no
# verdict, so it counts as unreachable, never as revoked, and writes go on
# within the grace.
# writes_hold TENTHS WHAT: writes keep working for TENTHS tenths of a second
writes_hold() {
	local t
	t=$(now)
	while [ "$(since "$t" | tr -d .)" -lt "$1" ]; do
		writes_work || fail "$2 $(since "$t") s (grace 8 s): writes fail"
		sleep 0.1
	done
}
mode throttle
writes_hold 30 throttled
mode ok
grep -q "KMS unreachable (Resource temporarily unavailable)" "$LOG" || fail "throttling not seen as unreachable: $(cat "$LOG")"
! grep -q "counted as revoked" "$LOG" && [ "$(grep -c "KMS key revoked" "$LOG")" = 2 ] ||
	fail "throttling counted as revoked: $(cat "$LOG")"
echo "throttled for 3 s: unreachable, writes went on"
# two checks that allow the key again: the grace below starts afresh
n0=$(decrypts)
wait_for 5 eval '[ "$(decrypts)" -ge $((n0 + 2)) ]' || fail "the watcher stopped asking"
writes_work || fail "after throttling: writes fail"

# Down for less than the grace: nothing changes; for longer: revoked.
mode down
# (with kms_recheck=1 the watcher asks once per check: no retry)
writes_hold 40 down
mode ok
sleep 2.5
writes_work || fail "after a short outage: writes fail"
grep -q "KMS unreachable" "$LOG" || fail "the short outage was not noticed: $(cat "$LOG")"
! grep -q "longer than kms_grace" "$LOG" || fail "short outage counted as revoked"
echo "down for 4 s with kms_grace=8: writes went on"
mode down
t=$(now)
wait_for 15 erofs || fail "down past the grace: writes still work: $(cat "$LOG")"
echo "down: writes fail with EROFS after $(since "$t") s (kms_grace=8)"
grep -q "volume $UUID: KMS unreachable for longer than kms_grace=8s" "$LOG" || fail "no log line: $(cat "$LOG")"
[ "$(cat "$MNT/f")" = data ] || fail "down: reads fail"
mode ok
wait_for 5 writes_work || fail "KMS back: writes do not resume"
# A watcher that dies (here: killed by its pid) leaves the mount fail-closed.
kill -9 "$wpid"
wait_for 4 erofs || fail "watcher killed: writes still work: $(cat "$LOG")"
grep -q "volume $UUID: the KMS watcher stopped; writes now fail" "$LOG" || fail "no log line: $(cat "$LOG")"
[ "$(cat "$MNT/f")" = data ] || fail "watcher killed: reads fail"
echo "watcher killed: writes fail with EROFS, reads go on"
fg_umount
echo "log: $(grep -c "volume $UUID" "$LOG") state-change lines"

# 5. deny_all: reads fail too, with EACCES.
fg_mount kms_recheck=1,kms_revoked=deny_all
mode disabled
wait_for 4 write_fails "Permission denied" || fail "deny_all: writes still work"
! cat "$MNT/f" 2>"$WORK/rerr" || fail "deny_all: reads work"
grep -q "Permission denied" "$WORK/rerr" || fail "deny_all: $(cat "$WORK/rerr")"
mode ok
wait_for 4 eval '[ "$(cat "$MNT/f" 2>/dev/null)" = data ]' || fail "deny_all: reads do not resume"
fg_umount
echo "deny_all: reads and writes refused with EACCES, then resumed"
echo "kms revoke: ok"
