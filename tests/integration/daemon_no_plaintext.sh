#!/usr/bin/env bash
# A marker in file content, file names, directory names, symlink targets and
# extended attributes appears nowhere in the volume: not in any byte of any
# backing file, not in any backing name.
source "$(dirname "$0")/../lib/common.sh"
mount_fresh encrypted
M=ZQXMARKERQXZ
mkdir -p "$MNT/dir$M/sub$M"
printf 'content %s\n%.0s' "$M" $(seq 1 500) >"$MNT/dir$M/file$M"
head -c 5000 /dev/zero | tr '\0' 'x' >>"$MNT/dir$M/file$M"
echo "$M" >"$MNT/short"
ln -s "target$M/elsewhere" "$MNT/dir$M/link$M"
long=$(printf "long%s%0200d" "$M" 0)
echo "$M" >"$MNT/$long"
if command -v setfattr >/dev/null; then setfattr -n "user.x$M" -v "value$M" "$MNT/short"; fi
[ "$(readlink "$MNT/dir$M/link$M")" = "target$M/elsewhere" ] || fail "readlink"
[ "$(cat "$MNT/$long")" = "$M" ] || fail "long name"
remount
[ "$(cat "$MNT/short")" = "$M" ] || fail "content after remount"
atr_umount "$MNT"
find "$VOL" | grep -q "$M" && fail "marker in a backing name"
grep -rqa "$M" "$VOL" && fail "marker in backing content"
for f in $(find "$VOL" -type l); do readlink "$f" | grep -q "$M" && fail "marker in a backing symlink"; done
if command -v getfattr >/dev/null; then getfattr -R -d -m - "$VOL" 2>/dev/null | grep -q "$M" && fail "marker in a backing xattr"; fi
echo "no plaintext on disk"
