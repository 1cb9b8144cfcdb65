#!/usr/bin/env bash
# An orderly stop of the daemon (SIGTERM as systemd sends it, SIGHUP)
# unmounts: the mount point is empty again, no "Transport endpoint is not
# connected", the helper is gone and the volume checks clean. A crash
# (SIGKILL) does not: the dead mount stays and fails closed (ENOTCONN),
# so nothing can be written into the directory underneath. An
# administrator's umount still works and the helper exits. A stop while
# something else is mounted on top unmounts nothing (the helper checks
# that the mount at the path is still the daemon's own).
source "$(dirname "$0")/../lib/common.sh"
source "$TOP/tests/lib/fake_kms.sh" # wait_for
VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt
mkdir -p "$MNT"
make_keyfile_volume "$VOL" "$KEY"

# The daemon (its pid file is written by -f in the background) and its
# unmount helper: the child holding CAP_SYS_ADMIN alone.
start() {
	_mounts+=("$MNT")
	bg_start "$WORK/daemon.pid" "$ATRESTFS" mount "$VOL" "$MNT" -f
	wait_for 20 mountpoint -q "$MNT" || fail "no mount"
	dpid=$(cat "$WORK/daemon.pid")
	hpid=$(for p in $(pgrep -P "$dpid"); do
		if grep -qE "^CapEff:\s+0+200000$" "/proc/$p/status"; then echo "$p"; fi
	done)
	[ -n "$hpid" ] || fail "no unmount helper among the daemon's children"
	grep -qE "^Seccomp:\s+2$" "/proc/$hpid/status" || fail "helper without a seccomp filter"
	grep -qE "^NoNewPrivs:\s+1$" "/proc/$hpid/status" || fail "helper without no_new_privs"
	grep -qE "^CapBnd:\s+0+200000$" "/proc/$hpid/status" || fail "helper bounding set: $(grep CapBnd "/proc/$hpid/status")"
}
gone() { wait_for 30 eval "! kill -0 $1 2>/dev/null"; }

# (SIGINT is handled the same way; a background job of this script has it
# ignored, so it is not sent here.)
for sig in TERM HUP; do
	start
	head -c 300000 /dev/urandom >"$WORK/data"
	cp "$WORK/data" "$MNT/file"
	mkdir -p "$MNT/dir" && echo small >"$MNT/dir/s"
	kill -"$sig" "$dpid"
	gone "$dpid" || fail "SIG$sig: daemon still running"
	gone "$hpid" || fail "SIG$sig: helper still running"
	not_mounted "$MNT" || fail "SIG$sig: still mounted: $(findmnt -M "$MNT" 2>&1); ls: $(ls "$MNT" 2>&1)"
	[ -z "$(ls -A "$MNT")" ] || fail "SIG$sig: the mount point is not the empty directory"
	out=$(atr fsck "$VOL") || fail "SIG$sig: fsck: $out"
	grep -q "0 problems" <<<"$out" || fail "SIG$sig: fsck: $out"
	start
	cmp "$MNT/file" "$WORK/data" || fail "SIG$sig: data"
	atr_umount "$MNT"
	gone "$dpid" || fail "SIG$sig: the remounted daemon still running"
	echo "SIG$sig: unmounted, helper gone, fsck clean, data intact"
done

# An administrator's umount: the daemon and its helper exit.
start
atr_umount "$MNT"
gone "$dpid" || fail "umount: daemon still running"
gone "$hpid" || fail "umount: helper still running"
echo "umount: daemon and helper exit"

# Something mounted on top: a stop unmounts nothing (not the daemon's).
start
mount -t tmpfs -o size=1m tmpfs "$MNT"
on_exit "umount '$MNT'"
kill -TERM "$dpid"
gone "$dpid" || fail "stacked: daemon still running"
[ "$(findmnt -rn -o FSTYPE -M "$MNT" | tail -1)" = tmpfs ] || fail "stacked: the tmpfs on top was unmounted"
[ "$(findmnt -rn -o FSTYPE -M "$MNT" | grep -c atrestfs)" = 1 ] || fail "stacked: the atrestfs mount below was unmounted"
umount "$MNT"
umount -l "$MNT"
not_mounted "$MNT" || fail "stacked: cleanup"
echo "stacked: nothing unmounted that is not the daemon's own"

# A crash: SIGKILL leaves the dead mount (fail closed), helper gone too.
start
kill -KILL "$dpid"
gone "$dpid" || fail "SIGKILL: daemon still running"
gone "$hpid" || fail "SIGKILL: helper outlived the daemon"
is_mounted "$MNT" || fail "SIGKILL: the mount was removed"
! ls "$MNT" 2>"$WORK/err" || fail "SIGKILL: the dead mount answered"
grep -q "Transport endpoint is not connected" "$WORK/err" || fail "SIGKILL: $(cat "$WORK/err")"
! touch "$MNT/plain" 2>/dev/null || fail "SIGKILL: a file could be created at the mount point"
umount -l "$MNT"
[ -z "$(ls -A "$MNT")" ] || fail "SIGKILL: something was written underneath"
echo "SIGKILL: the dead mount stays (ENOTCONN), nothing written underneath"
echo "daemon stop: ok"
