#!/usr/bin/env bash
# Any POSIX backing file system: under a shim that takes away
# renameat2() flags and O_TMPFILE (and, in a second round, hard links),
# create (config, root directory ID, keyfile), mkdir, create, long names,
# directory renames and a second mkdir of the same name all work through
# their fallbacks, and a normal remount reads everything back.
source "$(dirname "$0")/../lib/common.sh"
command -v cc >/dev/null || skip "no C compiler for the shim"
SHIM=$WORK/no_rename_flags.so
cc -shared -fPIC -O2 -o "$SHIM" "$TOP/tests/tools/no_rename_flags.c" ||
	fail "cannot build the shim"
long=$(printf 'L%.0s' $(seq 220))

for round in noflags nolink; do
	VOL=$WORK/vol-$round KEY=$WORK/key-$round MNT=$WORK/mnt-$round
	LOG=$WORK/shim-$round.log
	mkdir -p "$MNT"
	export ATR_SHIM_LOG=$LOG
	nolink=0; [ $round = nolink ] && nolink=1
	ATR_SHIM_NO_LINK=$nolink LD_PRELOAD=$SHIM atr create --key-source "keyfile:$KEY" "$VOL" >/dev/null ||
		fail "$round: create failed without rename flags"
	grep -q "renameat2 flags refused" "$LOG" || fail "$round: the shim was not in the way of create"
	[ $round = nolink ] && { grep -q "linkat refused" "$LOG" || fail "nolink: link fallback not reached"; }
	[ "$(stat -c %a "$KEY")" = 400 ] || fail "$round: keyfile mode $(stat -c %a "$KEY")"
	: >"$LOG"
	_mounts+=("$MNT")
	ATR_SHIM_NO_LINK=$nolink LD_PRELOAD=$SHIM "$ATRESTFS" mount "$VOL" "$MNT" ||
		fail "$round: mount failed"
	mkdir "$MNT/a" "$MNT/a/b" "$MNT/$long"
	echo hello >"$MNT/a/b/f"
	echo longfile >"$MNT/a/$long"
	echo deep >"$MNT/$long/x"
	mkdir "$MNT/a" 2>/dev/null && fail "$round: mkdir of an existing name succeeded"
	mv "$MNT/a" "$MNT/c"
	mv "$MNT/c/b" "$MNT/$long/b2"
	# A rename that must not replace (mv -n uses RENAME_NOREPLACE).
	echo other >"$MNT/other"
	python3 -c 'import ctypes,os,sys; l=ctypes.CDLL(None,use_errno=True); r=l.renameat2(-100,sys.argv[1].encode(),-100,sys.argv[2].encode(),1); sys.exit(0 if r!=0 and ctypes.get_errno()==17 else 1)' "$MNT/other" "$MNT/c/$long" ||
		fail "$round: RENAME_NOREPLACE onto an existing name did not give EEXIST"
	python3 -c 'import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); sys.exit(l.renameat2(-100,sys.argv[1].encode(),-100,sys.argv[2].encode(),1))' "$MNT/other" "$MNT/other2" ||
		fail "$round: RENAME_NOREPLACE to a free name failed"
	[ "$(cat "$MNT/other2")" = other ] && [ "$(cat "$MNT/c/$long")" = longfile ] || fail "$round: after no-replace renames"
	( set -o noclobber; echo x >"$MNT/c/$long" ) 2>/dev/null && fail "$round: O_EXCL create replaced a file"
	grep -q "renameat2 flags refused" "$LOG" || fail "$round: the daemon never met the shim"
	[ "$(cat "$MNT/$long/b2/f")" = hello ] || fail "$round: moved file unreadable"
	atr_umount "$MNT"
	atr_mount "$VOL" "$MNT"   # no shim
	[ "$(cat "$MNT/c/$long")" = longfile ] && [ "$(cat "$MNT/$long/x")" = deep ] &&
		[ "$(cat "$MNT/$long/b2/f")" = hello ] || fail "$round: contents after a normal remount"
	[ "$(ls "$MNT" | sort | tr '\n' ' ')" = "$long c other2 " ] || fail "$round: listing $(ls "$MNT")"
	[ -z "$(find "$VOL" -name '*.tmp' -o -name '.atrestfs.mkdir.*')" ] || fail "$round: temporary files left"
	atr_umount "$MNT"
	echo "$round: create, mkdir, create, long names and renames work through the fallbacks"
done
