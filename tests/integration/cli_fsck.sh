#!/usr/bin/env bash
# atrestfs fsck: a clean volume gives 0; each kind of damage (flipped
# block, cut file, swapped and moved directory IDs, an undecryptable name,
# a swapped long-name file, planted junk, a changed config) gives 4 with
# its message and backing path; --repair gives 1, the mount works again
# and /lost+found holds what could not be read; --json parses; a mounted
# or locked volume is refused with 8; bad arguments give 16.
source "$(dirname "$0")/../lib/common.sh"
VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt
mkdir -p "$MNT"
make_keyfile_volume "$VOL" "$KEY" 2>/dev/null
long=$(printf 'l%.0s' $(seq 200)) long2=$(printf 'k%.0s' $(seq 200))
atr_mount "$VOL" "$MNT"
mkdir "$MNT/A" "$MNT/B" "$MNT/C" "$MNT/A/deep"
head -c $((3 * 4096)) /dev/urandom >"$MNT/A/flip"
head -c $((5 * 4096 + 100)) /dev/urandom >"$MNT/A/cut"
echo b >"$MNT/B/y"; echo c >"$MNT/C/z"; echo d >"$MNT/A/deep/w"
echo keep >"$MNT/keep"; echo one >"$MNT/$long"; echo two >"$MNT/$long2"
echo short >"$MNT/victim"
setfattr -n user.color -v blue "$MNT/keep"
ln -s target "$MNT/link"
cp "$MNT/A/flip" "$WORK/flip.orig"
# The fsck refuses while mounted: by the mount table (8).
out=$(atr fsck "$VOL" 2>&1) && fail "fsck of a mounted volume succeeded"
rc=0; atr fsck "$VOL" >/dev/null 2>&1 || rc=$?
[ $rc = 8 ] || fail "mounted: exit $rc, expected 8"
grep -q "is mounted on $MNT" <<<"$out" || fail "mounted: message: $out"
# Backing paths (relative to the volume) by inode: restore() keeps them.
rel() { (cd "$VOL" && find . -inum "$(stat -c %i "$MNT/$1")" | head -1 | cut -c3-); }
i_flip=$(rel A/flip) i_cut=$(rel A/cut) i_a=$(rel A) i_b=$(rel B) i_c=$(rel C) i_deep=$(rel A/deep) i_victim=$(rel victim) i_keep=$(rel keep)
[ -n "$i_flip" ] && [ -n "$i_deep" ] && [ -n "$i_victim" ] || fail "backing paths not found"
bk() { echo "$VOL/$1"; }
atr_umount "$MNT"
cp -a "$VOL" "$WORK/pristine"
restore() { rm -rf "$VOL"; cp -a "$WORK/pristine" "$VOL"; }

# One bit flipped 100 bytes before the end: inside the last block.
flip() {
	python3 -c "import os,sys; fd=os.open(sys.argv[1],os.O_RDWR); o=os.fstat(fd).st_size-100; b=bytearray(os.pread(fd,1,o)); b[0]^=1; os.pwrite(fd,bytes(b),o)" "$1"
}
# expect_fsck RC PATTERN [ARGS...]: exit RC, PATTERN (ERE) in stdout.
expect_fsck() {
	local want=$1 pat=$2 rc=0
	shift 2
	OUT=$(atr fsck "$@" "$VOL" 2>"$WORK/err") || rc=$?
	[ "$rc" = "$want" ] || fail "fsck $*: exit $rc, expected $want: $OUT $(cat "$WORK/err")"
	grep -qE -- "$pat" <<<"$OUT" || fail "fsck $*: no '$pat' in: $OUT"
}

# 1. Clean.
expect_fsck 0 "0 problems"
# 2. A flipped bit in block 1.
F=$(bk "$i_flip")
flip "$F"
expect_fsck 4 "^content: $F \(/A/flip\): 1 block\(s\) fail authentication \(first: block [0-9]+\)"
restore
# 3. A file cut in the middle of a block.
F=$(bk "$i_cut"); truncate -s $(( $(stat -c %s "$F") - 1000 )) "$F"
expect_fsck 4 "^content: $F \(/A/cut\): cut or extended"
restore
# 3b. ...and cut at a block boundary (the last block dropped whole).
F=$(bk "$i_cut"); truncate -s $(( $(stat -c %s "$F") - 132 )) "$F"
expect_fsck 4 "^content: $F \(/A/cut\): cut or extended: backing size [0-9]+ does not match the committed size of 20580 bytes"
restore
# 3c. An xattr value copied from another file.
python3 -c 'import os,sys; [os.setxattr(sys.argv[2], n, os.getxattr(sys.argv[1], n)) for n in os.listxattr(sys.argv[1]) if n.startswith("user.atrestfs.")]' "$(bk "$i_keep")" "$(bk "$i_victim")"
expect_fsck 4 "^xattr: $(bk "$i_victim") \(/victim\): value of extended attribute user.color does not authenticate"
restore
# 4. Two directory ID files swapped.
BA=$(bk "$i_a") BB=$(bk "$i_b")
mv "$BA/.atrestfs.dirid" "$WORK/t"; mv "$BB/.atrestfs.dirid" "$BA/.atrestfs.dirid"; mv "$WORK/t" "$BB/.atrestfs.dirid"
expect_fsck 4 "^dirid: $BA \(/A\): directory ID file belongs to another directory"
grep -qE "^dirid: $BB \(/B\): " <<<"$OUT" || fail "swapped: B not reported: $OUT"
restore
# 5. C's ID file moved over B's.
BB=$(bk "$i_b") BC=$(bk "$i_c")
chmod u+w "$BB/.atrestfs.dirid"; mv "$BC/.atrestfs.dirid" "$BB/.atrestfs.dirid"
expect_fsck 4 "^dirid: $BB \(/B\): directory ID file belongs to another directory"
grep -qE "^dirid: $BC \(/C\): directory has no ID file" <<<"$OUT" || fail "moved: C not reported: $OUT"
restore
# 6. A name that does not decrypt (an entry renamed to another valid name).
V=$(bk "$i_victim"); mv "$V" "$VOL/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
expect_fsck 4 "^name: $VOL/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA \(plaintext path unknown\): name does not decrypt"
restore
# 7. Two long-name files swapped.
read -r n1 n2 <<<"$(ls "$VOL"/atrestfs.long.*.name | tr '\n' ' ')"
mv "$n1" "$WORK/t"; mv "$n2" "$n1"; mv "$WORK/t" "$n2"
expect_fsck 4 "^long-name: ${n1%.name} \(plaintext path unknown\): its long-name file belongs to another entry"
restore
# 8. Planted junk.
echo junk >"$(bk "$i_deep")/junk.txt"
expect_fsck 4 "^junk: $(bk "$i_deep")/junk.txt .*not a file atrestfs writes"
restore
# 9. The config changed: MAC mismatch, nothing else checked.
edit_config "$VOL" 'c["created"]="2020-01-01T00:00:00Z"'
expect_fsck 4 "^config: $VOL/atrestfs.conf .*config MAC does not match"
restore
# 9b. The mount root's attribute record changed: its own MAC fails.
python3 -c "import os,sys; fd=os.open(sys.argv[1],os.O_RDWR); b=bytearray(os.pread(fd,1,0)); b[0]^=1; os.pwrite(fd,bytes(b),0)" "$VOL/atrestfs.root"
expect_fsck 4 "^root-attributes: $VOL/atrestfs.root .*not authentic"
restore

# 10. --json: one document, each problem with kind, backing, path, message.
F=$(bk "$i_flip")
flip "$F"
echo junk >"$VOL/planted"
rc=0; atr fsck --json "$VOL" >"$WORK/out.json" 2>/dev/null || rc=$?
[ $rc = 4 ] || fail "--json: exit $rc"
python3 -m json.tool "$WORK/out.json" >/dev/null || fail "--json output does not parse: $(cat "$WORK/out.json")"
python3 - "$WORK/out.json" "$F" <<'PY' || fail "--json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == 4, d
kinds = {(p["kind"], p["backing"], p["path"]) for p in d["problems"]}
assert ("content", sys.argv[2], "/A/flip") in kinds, kinds
assert any(k == "name" and b.endswith("/planted") and p is None for k, b, p in kinds), kinds
assert all(set(p) >= {"kind", "backing", "path", "message", "repaired"} for p in d["problems"])
PY
restore

# 11. --repair on all kinds of damage at once: 1, then the mount works.
F=$(bk "$i_flip") BA=$(bk "$i_a") BB=$(bk "$i_b") BC=$(bk "$i_c") V=$(bk "$i_victim")
flip "$F"
mv "$BB/.atrestfs.dirid" "$WORK/t"; mv "$BC/.atrestfs.dirid" "$BB/.atrestfs.dirid"; mv "$WORK/t" "$BC/.atrestfs.dirid"
mv "$V" "$VOL/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
read -r n1 n2 <<<"$(ls "$VOL"/atrestfs.long.*.name | tr '\n' ' ')"
mv "$n1" "$WORK/t"; mv "$n2" "$n1"; mv "$WORK/t" "$n2"
echo junk >"$BA/junk.txt"
find "$VOL" -type f -not -name '.atrestfs.dirid' | wc -l >"$WORK/nfiles"
expect_fsck 1 "repaired: moved to /lost\+found/" --repair
grep -q " 0 left" <<<"$OUT" || fail "repair left damage: $OUT"
# Nothing deleted: every file of the damaged volume is still there.
[ "$(find "$VOL" -type f -not -name '.atrestfs.dirid' | wc -l)" = "$(cat "$WORK/nfiles")" ] ||
	fail "repair changed the number of files"
atr_mount "$VOL" "$MNT"
ls "$MNT/lost+found" >"$WORK/lf"
[ "$(cat "$MNT/keep")" = keep ] || fail "after repair: an undamaged file changed"
[ "$(getfattr --absolute-names --only-values -n user.color "$MNT/keep")" = blue ] || fail "after repair: xattr lost"
[ "$(cat "$MNT/A/deep/w")" = d ] || fail "after repair: A/deep unreadable"
grep -qx "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$WORK/lf" || fail "lost+found lacks the undecryptable entry: $(cat "$WORK/lf")"
[ "$(ls "$MNT/lost+found" | grep -c '^atrestfs\.long\.')" -ge 2 ] || fail "lost+found lacks the long entries: $(cat "$WORK/lf")"
grep -qx "junk.txt" "$WORK/lf" || fail "lost+found lacks the junk: $(cat "$WORK/lf")"
# The swapped directories are in lost+found, bound there; their entries,
# named under the other ID, are beside them, and their content reads.
[ -d "$MNT/lost+found/$(basename "$BB")" ] && [ -d "$MNT/lost+found/$(basename "$BC")" ] ||
	fail "the directories with swapped IDs are not in lost+found: $(cat "$WORK/lf")"
{ grep -lx b "$MNT"/lost+found/* 2>/dev/null || true; } | grep -q . || fail "B's file content not readable in lost+found: $(cat "$WORK/lf")"
{ grep -lx c "$MNT"/lost+found/* 2>/dev/null || true; } | grep -q . || fail "C's file content not readable in lost+found"
# The damaged file is there too, its good block still readable.
fl=$(basename "$F")
cmp -n 4096 "$MNT/lost+found/$fl" "$WORK/flip.orig" || fail "the damaged file's first block"
[ ! -e "$MNT/A/flip" ] || fail "damaged file still in place"
atr_umount "$MNT"
# What is left is inside lost+found (the damaged block, and the junk and
# long-name files, which were never atrestfs content): reported, not moved.
expect_fsck 4 "^content: .* \(/lost\+found/$fl\): 1 block\(s\) fail authentication" --repair
grep -q " (0 repaired, [0-9]* left)" <<<"$OUT" || fail "second repair moved something: $OUT"
! grep -E "^[a-z-]+: " <<<"$OUT" | grep -v "(/lost+found/" || fail "second repair: damage outside lost+found: $OUT"
restore

# 11b. A torn tail left by a crash (the daemon killed with an unsynced
#      append in the file, junk after it as a torn write leaves it): 4,
#      then --repair cuts it back (1) and the fsynced bytes read back.
atr_mount "$VOL" "$MNT"
head -c 5000 /dev/urandom >"$WORK/synced"
python3 "$TOP/tests/tools/dirty_append.py" "$MNT/aof" "$WORK/synced" "$WORK/ready" &
writer=$!
on_exit "kill $writer 2>/dev/null"
for _ in $(seq 100); do [ -e "$WORK/ready" ] && break; sleep 0.1; done
[ -e "$WORK/ready" ] || fail "torn tail: the writer did not get its append to the daemon"
aof=$(rel aof)
dpid=$(for p in $(pgrep -f "$ATRESTFS"); do tr '\0' ' ' </proc/$p/cmdline | grep -q " $MNT" && echo "$p"; done | awk "NR == 1" || true)
[ -n "$dpid" ] || fail "daemon pid not found"
kill -9 "$dpid"
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null || true
fusermount3 -u -z "$MNT" 2>/dev/null || umount -l "$MNT"
head -c 700 /dev/urandom >>"$VOL/$aof"
expect_fsck 4 "^content: $VOL/$aof \(/aof\): torn tail past the last consistent state"
expect_fsck 1 "^content: $VOL/$aof \(/aof\): torn tail cut back to 50[05]0 bytes" --repair
grep -q "repaired: cut back to its last consistent state" <<<"$OUT" || fail "torn tail: no repair line: $OUT"
expect_fsck 0 "0 problems"
atr_mount "$VOL" "$MNT"
cmp -n 5000 "$MNT/aof" "$WORK/synced" || fail "torn tail: fsynced bytes lost"
atr_umount "$MNT"
restore

# 12. Locked by another process while not mounted (fsck, or a daemon
#     finishing after its unmount): fsck gives 8; a mount waits for it
#     (it was refused after 5 s, which an operator's immediate remount
#     met under load) and mounts once the lock is free.
bg_start "$WORK/lockpid" bash -c 'exec 9<"$1"; flock 9; exec sleep 15' _ "$VOL"
for _ in $(seq 50); do flock -n "$VOL" true 2>/dev/null || break; sleep 0.1; done
flock -n "$VOL" true 2>/dev/null && fail "the test could not take the lock"
rc=0; out=$(atr fsck "$VOL" 2>&1) || rc=$?
[ $rc = 8 ] && grep -q "in use by another atrestfs process" <<<"$out" || fail "locked: exit $rc: $out"
rc=0; out=$(atr mount "$VOL" "$MNT" 2>&1) || rc=$?
_mounts+=("$MNT")
[ $rc = 0 ] && grep -q "not mounted but still held.*waiting" <<<"$out" ||
	fail "mount of a volume held but not mounted: exit $rc: $out"
is_mounted "$MNT" || fail "mount after the wait: not mounted"
#     Mounted: a second mount of the volume is refused (after 5 s).
mkdir -p "$WORK/mnt2"
rc=0; out=$(atr mount "$VOL" "$WORK/mnt2" 2>&1) || rc=$?
[ $rc = 2 ] && grep -q "in use by another atrestfs process" <<<"$out" ||
	fail "second mount of a mounted volume: exit $rc: $out"
grep -q "waiting" <<<"$out" && fail "second mount of a mounted volume waited: $out"
atr_umount "$MNT"

# 13. Progress on stderr for a larger tree.
atr_mount "$VOL" "$MNT"
mkdir "$MNT/many"; (cd "$MNT/many" && touch $(seq 60))
# A deep tree: the walk must not run out of stack (backing path > PATH_MAX).
(cd "$MNT" && for _ in $(seq 300); do mkdir d && cd d; done && echo bottom >f)
atr_umount "$MNT"
expect_fsck 0 "0 problems" --progress 20
grep -q "atrestfs fsck: 60 entries checked" "$WORK/err" || fail "no progress lines: $(cat "$WORK/err")"
grep -qE "[0-9]{3,} directories" <<<"$OUT" || fail "the deep tree was not walked: $OUT"

# 14. Bad arguments and volumes.
for args in "" "--bogus $VOL" "$VOL $VOL" "--progress x $VOL" "--key-source nosuch $VOL"; do
	rc=0; out=$(atr fsck $args 2>&1) || rc=$?
	[ $rc = 16 ] || fail "fsck $args: exit $rc, expected 16 ($out)"
	[ -n "$out" ] || fail "fsck $args: no message"
done
rc=0; out=$(atr fsck "$WORK/nonexistent" 2>&1) || rc=$?
[ $rc = 8 ] && grep -q "No such file" <<<"$out" || fail "missing volume: exit $rc: $out"
mkdir "$WORK/notvol"
rc=0; out=$(atr fsck "$WORK/notvol" 2>&1) || rc=$?
[ $rc = 8 ] && grep -q "not an atrestfs volume" <<<"$out" || fail "not a volume: exit $rc: $out"
rc=0; out=$(atr fsck --key-source keyfile:"$WORK/nokey" "$VOL" 2>&1) || rc=$?
[ $rc = 8 ] && grep -q "could not be unlocked" <<<"$out" || fail "wrong keyfile: exit $rc: $out"
atr create --no-encryption "$WORK/plain" >/dev/null
rc=0; out=$(atr fsck "$WORK/plain" 2>&1) || rc=$?
[ $rc = 0 ] && grep -q "plain volume: there is nothing encrypted to check" <<<"$out" || fail "plain volume: exit $rc: $out"
echo "fsck: clean 0, each damage 4, repair 1 with lost+found, json, refusals 8, usage 16"
