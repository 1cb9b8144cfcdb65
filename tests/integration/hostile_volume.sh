#!/usr/bin/env bash
# A backing directory written by an attacker while it was unmounted:
# a comma in the volume path cannot add mount options, and a FIFO or a
# device node planted as a long name's .name file or as a directory ID file
# neither hangs the daemon nor is opened for reading; each is refused as
# tampering (EIO / entry skipped) and logged.
source "$(dirname "$0")/../lib/common.sh"
MNT=$WORK/mnt; mkdir -p "$MNT"

# 1. fsname escaping: the path stays whole, the options stay nosuid,nodev.
VOL="$WORK/vol,allow_other,dev,suid"
atr create --key-source "keyfile:$WORK/key" "$VOL" >/dev/null
atr_mount "$VOL" "$MNT"
line=$(findmnt -n -o SOURCE,OPTIONS --mountpoint "$MNT")
echo "mounted as: $line"
[ "$(findmnt -n -o SOURCE --mountpoint "$MNT")" = "$VOL" ] ||
	fail "the volume path was cut at a comma: $line"
opts=$(findmnt -n -o VFS-OPTIONS --mountpoint "$MNT")
case ",$opts," in *,nosuid,*) ;; *) fail "mounted without nosuid: $opts" ;; esac
case ",$opts," in *,nodev,*) ;; *) fail "mounted without nodev: $opts" ;; esac
grep -q "allow_other" <<<"$(findmnt -n -o FS-OPTIONS --mountpoint "$MNT")" &&
	fail "allow_other injected through the volume path"

# 2. Planted bookkeeping files. A long name (its .name file beside it), a
# directory with its own ID file, and a short-named file as the control.
long=$(printf 'L%.0s' $(seq 200))
echo one >"$MNT/$long"; mkdir "$MNT/sub"; echo two >"$MNT/sub/f"; echo ok >"$MNT/ok"
atr_umount "$MNT"
name=$(cd "$VOL" && ls -d atrestfs.long.*.name)
subdir=$(cd "$VOL" && find . -mindepth 1 -maxdepth 1 -type d -printf '%f\n')
[ -n "$name" ] && [ -n "$subdir" ] || fail "backing layout not as expected"

# Foreground daemon (its log on stderr), traced for open calls.
run_daemon() {
	: >"$WORK/log"
	bg_start "$WORK/pid" "$ATRESTFS" mount "$VOL" "$MNT" -f 2>"$WORK/log"
	for _ in $(seq 100); do mountpoint -q "$MNT" && break; sleep 0.1; done
	mountpoint -q "$MNT" || fail "daemon did not mount: $(cat "$WORK/log")"
	_mounts+=("$MNT")
	strace -qq -f -e trace=open,openat -o "$WORK/trace" -p "$(cat "$WORK/pid")" &
	TRACER=$!
	on_exit "kill $TRACER"
	sleep 0.5 # strace attached to every thread
}
stop_daemon() {
	atr_umount "$MNT"
	wait "$(cat "$WORK/pid")" || true
	kill "$TRACER" 2>/dev/null || true
	wait "$TRACER" 2>/dev/null || true
}
# No open of NAME other than O_PATH (the type check).
never_opened_for_reading() {
	if grep -F "\"$1\"" "$WORK/trace" | grep -v O_PATH | grep -q .; then
		fail "$1 was opened for reading: $(grep -F "\"$1\"" "$WORK/trace")"
	fi
	grep -qF "\"$1\"" "$WORK/trace" || fail "trace does not show $1 being looked at"
}

for kind in fifo chardev; do
	mv "$VOL/$name" "$WORK/name.saved"
	if [ $kind = fifo ]; then mkfifo "$VOL/$name"; else mknod "$VOL/$name" c 1 5; fi
	run_daemon
	out=$(timeout 20 ls "$MNT") || fail "readdir with a $kind .name file failed or hung"
	grep -qx ok <<<"$out" || fail "control entry missing: $out"
	grep -q "$long" <<<"$out" && fail "entry with a $kind .name file listed"
	stop_daemon
	grep -qE "bookkeeping file .*${name}.* is a (FIFO|character device)" "$WORK/log" ||
		fail "the planted $kind is not logged: $(cat "$WORK/log")"
	never_opened_for_reading "$name"
	echo "planted $kind .name: skipped, logged, not opened"
	rm -f "$VOL/$name"; mv "$WORK/name.saved" "$VOL/$name"
done

idf="$VOL/$subdir/.atrestfs.dirid"
mv "$idf" "$WORK/dirid.saved"
mknod "$idf" c 1 5
run_daemon
timeout 20 cat "$MNT/sub/f" >/dev/null 2>"$WORK/err" && fail "file read under a device node as the directory ID"
grep -q "Input/output error" "$WORK/err" || fail "expected EIO, got: $(cat "$WORK/err")"
[ -z "$(timeout 20 ls "$MNT/sub")" ] || fail "names listed under a device node as the directory ID"
stop_daemon
grep -q "is a character device" "$WORK/log" || fail "device node ID file not logged"
never_opened_for_reading ".atrestfs.dirid"
echo "planted device node as a directory ID: EIO, logged, not opened"
rm -f "$idf"; mv "$WORK/dirid.saved" "$idf"

# Restored, everything reads again.
atr_mount "$VOL" "$MNT"
[ "$(cat "$MNT/$long")" = one ] && [ "$(cat "$MNT/sub/f")" = two ] || fail "volume unreadable after restore"
atr_umount "$MNT"
echo "hostile volume checks passed"
