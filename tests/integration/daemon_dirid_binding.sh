#!/usr/bin/env bash
# Directory IDs bound to their place, on a real mount: an ID file copied
# over another directory's, two ID files swapped, a whole directory moved
# onto another's entry, and long-name files swapped (within a directory
# and from another one) each read as EIO and are logged with the name;
# directories renamed through the mount stay readable after a remount.
source "$(dirname "$0")/../lib/common.sh"
VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt LOG=$WORK/daemon.log
mkdir -p "$MNT"
make_keyfile_volume "$VOL" "$KEY" 2>/dev/null

# Foreground daemon in the background, so its log can be read.
mount_logged() {
	: >"$LOG"
	_mounts+=("$MNT")
	bg_start "$WORK/pid" "$ATRESTFS" mount -f "$VOL" "$MNT" 2>>"$LOG"
	for _ in $(seq 100); do mountpoint -q "$MNT" && return 0; sleep 0.1; done
	fail "mount did not come up: $(cat "$LOG")"
}
expect_eio() {   # command... : must fail with EIO
	local out
	out=$("$@" 2>&1) && fail "$* succeeded: $out"
	grep -q "Input/output error" <<<"$out" || fail "$*: expected EIO, got: $out"
}
# Backing directory of plaintext top-level directory $1 (by inode).
backing_of() { find "$VOL" -maxdepth 1 -inum "$(stat -c %i "$MNT/$1")"; }

mount_logged
mkdir "$MNT/A" "$MNT/B" "$MNT/A/sub"
echo a >"$MNT/A/x"; echo b >"$MNT/B/y"
long=$(printf 'n%.0s' $(seq 200)) long2=$(printf 'm%.0s' $(seq 200))
echo one >"$MNT/A/$long"; echo two >"$MNT/A/$long2"; echo three >"$MNT/B/$long"
BA=$(backing_of A) BB=$(backing_of B)
[ -d "$BA" ] && [ -d "$BB" ] || fail "backing directories not found"
# Renames through the mount rebind: same directory, across directories.
mkdir "$MNT/R"; echo r >"$MNT/R/f"
mv "$MNT/R" "$MNT/R2"; mv "$MNT/R2" "$MNT/A/sub/R3"; mv "$MNT/A/sub/R3" "$MNT/$long2"
atr_umount "$MNT"
cp -a "$VOL" "$WORK/pristine"
restore() { rm -rf "$VOL"; cp -a "$WORK/pristine" "$VOL"; }

mount_logged
[ "$(cat "$MNT/$long2/f")" = r ] || fail "a renamed directory is unreadable after remount"
[ "$(cat "$MNT/A/x")" = a ] && [ "$(cat "$MNT/B/y")" = b ] || fail "pristine volume unreadable"
atr_umount "$MNT"

# 1. A's ID file copied over B's: B's entries must not become A's.
chmod u+w "$BB/.atrestfs.dirid"; cp "$BA/.atrestfs.dirid" "$BB/.atrestfs.dirid"
mount_logged
expect_eio ls "$MNT/B"
expect_eio cat "$MNT/B/x"
expect_eio cat "$MNT/B/y"
[ "$(cat "$MNT/A/x")" = a ] || fail "A damaged by B's copy"
grep -q "directory 'B' (backing $BB).*belongs to another directory" "$LOG" || fail "no log naming B: $(cat "$LOG")"
atr_umount "$MNT"; restore

# 2. The two ID files swapped.
mv "$BA/.atrestfs.dirid" "$WORK/ida"; mv "$BB/.atrestfs.dirid" "$BA/.atrestfs.dirid"; mv "$WORK/ida" "$BB/.atrestfs.dirid"
mount_logged
expect_eio ls "$MNT/A"
expect_eio ls "$MNT/B"
expect_eio cat "$MNT/B/x"
atr_umount "$MNT"; restore

# 3. Directory A moved whole onto B's entry (B's name, A's ID file and names).
rm -rf "$BB"; mv "$BA" "$BB"
mount_logged
expect_eio ls "$MNT/B"
expect_eio cat "$MNT/B/x"
atr_umount "$MNT"; restore

# 4. A subdirectory's ID file moved up to replace the root's: refused at mount.
chmod u+w "$VOL/.atrestfs.dirid"; cp "$BA/.atrestfs.dirid" "$VOL/.atrestfs.dirid"
out=$("$ATRESTFS" mount "$VOL" "$MNT" 2>&1) && fail "mount with a foreign root ID succeeded"
grep -q "root directory ID (bound to another directory)" <<<"$out" || fail "root refusal: $out"
restore

# 5. Long-name files: swapped within A, and B's brought into A.
read -r na1 na2 <<<"$(ls "$BA"/atrestfs.long.*.name | tr '\n' ' ')"
mv "$na1" "$WORK/t"; mv "$na2" "$na1"; mv "$WORK/t" "$na2"
mount_logged
expect_eio cat "$MNT/A/$long"
expect_eio stat "$MNT/A/$long2"
grep -q "entry '$long' in $BA: its long-name file .* belongs to another name" "$LOG" || fail "no log for the swapped .name: $(cat "$LOG")"
atr_umount "$MNT"; restore
nb=$(ls "$BB"/atrestfs.long.*.name)
# A's entry for $long has B's .name file (same plaintext, other directory).
na=$(ls "$BA"/atrestfs.long.*.name | head -1)
chmod u+w "$na"; cp "$nb" "$na"
mount_logged
n=$( { cat "$MNT/A/$long" 2>&1 >/dev/null; cat "$MNT/A/$long2" 2>&1 >/dev/null; } | grep -c "Input/output error" || true)
[ "$n" = 1 ] || fail "a .name file from B: $n of A's two long names read EIO, expected 1"
grep -q "belongs to another name" "$LOG" || fail "no log for the foreign .name: $(cat "$LOG")"
[ "$(cat "$MNT/B/$long")" = three ] || fail "B's long name damaged"
atr_umount "$MNT"
echo "directory IDs and long-name files bound to their place"
