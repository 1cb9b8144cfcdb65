#!/usr/bin/env bash
# Several users on one mount (allow_other), as the packaged cache services
# use it: tests/tools/multiuser_ops.py runs the same operations as root and
# two unprivileged uids (setpriv) on an encrypted atrestfs mount, a plain
# one and a plain ext4 directory, and the three outputs must be identical:
# ownership, modes, umask, set-gid inheritance, sticky deletion, chown/chmod/
# utimes/truncate permissions (EPERM/EACCES), set-id clearing, every node
# type, rename cases (onto an empty directory, EXCHANGE, NOREPLACE),
# SEEK_DATA/SEEK_HOLE right after writes. Then what only atrestfs has: the
# VOLUME directory stays root:root 0700 while the mount root is chowned and
# chmodded, that survives a remount, the mount is nosuid,nodev whatever
# -o says, the root's record refuses the mount when tampered with, and an
# empty directory that lost its ID (an interrupted rename) is recovered.
source "$(dirname "$0")/../lib/common.sh"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
# The unprivileged users must be able to reach the mounts and the helper.
chmod 0711 "$WORK"
OPS=$WORK/multiuser_ops.py
install -m 0644 "$TOP/tests/tools/multiuser_ops.py" "$OPS"

# 1. The reference: an ext4 directory (a small loop image if $WORK is not
#    on ext4).
REF=$WORK/ext4
mkdir -p "$REF"
if [ "$(stat -f -c %T "$WORK")" != ext2/ext3 ]; then
	truncate -s 32M "$WORK/ext4.img"
	mkfs.ext4 -q -F "$WORK/ext4.img" || skip "mkfs.ext4 failed"
	mount -o loop "$WORK/ext4.img" "$REF" 2>/dev/null ||
		skip "no ext4 reference: $WORK is not ext4 and loop mounts fail here"
	on_exit "umount '$REF'"
fi
mkdir "$REF/t"

# 2. The two atrestfs mounts, asked for suid and dev.
EV=$WORK/evol EM=$WORK/emnt PV=$WORK/pvol PM=$WORK/pmnt
mkdir -p "$EM" "$PM"
atr create --key-source "keyfile:$WORK/key" "$EV" >/dev/null 2>&1
atr create --no-encryption "$PV" >/dev/null
atr_mount "$EV" "$EM" -o allow_other,suid,dev
atr_mount "$PV" "$PM" -o allow_other,encryption=off
for m in "$EM" "$PM"; do
	opts=$(awk -v m="$m" '$2 == m { print $4 }' /proc/mounts)
	grep -qw nosuid <<<"$opts" && grep -qw nodev <<<"$opts" ||
		fail "$m is not nosuid,nodev: $opts"
done
[ "$(stat -c '%a %u:%g' "$EM")" = "755 0:0" ] ||
	fail "default mount root is not root:root 0755: $(stat -c '%a %u:%g' "$EM")"

# 3. The same sequence everywhere, compared.
python3 "$OPS" run "$REF/t" >"$WORK/ext4.out" || fail "the sequence failed on ext4"
python3 "$OPS" run "$EM" >"$WORK/enc.out" || fail "the sequence failed on the encrypted mount"
python3 "$OPS" run "$PM" >"$WORK/plain.out" || fail "the sequence failed on the plain mount"
diff -u "$WORK/ext4.out" "$WORK/enc.out" || fail "encrypted mount differs from ext4 (above)"
diff -u "$WORK/ext4.out" "$WORK/plain.out" || fail "plain mount differs from ext4 (above)"
# Some answers spelled out, so that ext4 itself is held to them.
for want in "a_f0620: file mode=0620 uid=40001 gid=40001" \
	"a_d0777: dir mode=0777 uid=40001 gid=40001" \
	"shared/b_f: file mode=0755 uid=40002 gid=40010" \
	"shared/b_d: dir mode=2755 uid=40002 gid=40010" \
	"B unlink A's file in sticky root: EPERM" \
	"a_suid after B's write: file mode=0777" \
	"A rename dir onto empty dir: ok" \
	"A NOREPLACE onto existing: EEXIST" \
	"a_s: sock mode=0755 uid=40001" \
	"r_b: blk mode=0600 uid=0 gid=0 nlink=1 rdev=7,0" \
	"a_in_root: file mode=0640 uid=40001 gid=40010" \
	"a_dir_in_root: dir mode=2750 uid=40001 gid=40010" \
	"B list root 02750 (other): EACCES"; do
	grep -qF "$want" "$WORK/enc.out" || fail "encrypted: expected '$want'"
done
grep -qE "D0=0 H0=4096 .* D4096=12288 .* H12298=16384 D16384=1048576 .* D1052672=ENXIO" \
	"$WORK/enc.out" || fail "SEEK_DATA/SEEK_HOLE answers: $(grep sparse "$WORK/enc.out")"
echo "same $(wc -l <"$WORK/ext4.out")-line output on ext4, encrypted and plain"

# 4. The VOLUME directories never changed; their records are root's.
for v in "$EV" "$PV"; do
	[ "$(stat -c '%a %u:%g' "$v")" = "700 0:0" ] ||
		fail "$v is $(stat -c '%a %u:%g' "$v") after chown/chmod of the mount root"
	[ "$(stat -c '%a %u:%g' "$v/atrestfs.root")" = "600 0:0" ] ||
		fail "$v/atrestfs.root is not root 0600"
done
! ls -a "$PM" | grep -q atrestfs || fail "bookkeeping visible in the plain mount"
# Entries the users made are theirs on disk too.
[ "$(stat -c %u "$PV/a_in_root")" = 40001 ] || fail "backing owner of a_in_root"
[ "$(find "$EV" -maxdepth 1 -user 40001 -type s | wc -l)" = 1 ] ||
	fail "the encrypted volume lacks the user's socket"

# 5. Across a remount: the root's owner and mode, and the files'.
atr_umount "$EM"
atr_umount "$PM"
atr_mount "$EV" "$EM" -o allow_other
atr_mount "$PV" "$PM" -o allow_other,encryption=off
for m in "$EM" "$PM"; do
	[ "$(stat -c '%a %u:%g' "$m")" = "2750 40001:40010" ] ||
		fail "$m root after remount: $(stat -c '%a %u:%g' "$m")"
	[ "$(stat -c '%a %u:%g' "$m/shared/b_d")" = "2755 40002:40010" ] ||
		fail "$m/shared/b_d after remount"
done
atr_umount "$EM"
atr_umount "$PM"

# 6. create --root-owner/--root-mode, and bad input to them.
V2=$WORK/v2 M2=$WORK/m2
mkdir -p "$M2"
atr create --no-encryption --root-owner 40002:40010 --root-mode 3770 "$V2" >/dev/null
atr_mount "$V2" "$M2" -o allow_other,encryption=off
[ "$(stat -c '%a %u:%g' "$M2")" = "3770 40002:40010" ] || fail "--root-owner/--root-mode not applied"
atr_umount "$M2"
expect_usage() {  # expect_usage PATTERN OPTIONS...
	local pat=$1 out rc=0
	shift
	out=$(atr create --no-encryption "$@" "$WORK/v3" 2>&1) || rc=$?
	[ "$rc" = 1 ] || fail "create $*: exit $rc, expected 1 ($out)"
	grep -qE "$pat" <<<"$out" || fail "create $*: message lacks '$pat': $out"
	[ ! -e "$WORK/v3" ] || fail "create $* left $WORK/v3"
}
expect_usage "no such user or group" --root-owner no-such-user-x:root
expect_usage "no such user or group" --root-owner root:no-such-group-x
expect_usage "expected USER:GROUP" --root-owner 40001
expect_usage "expected USER:GROUP" --root-owner 1:2:3
expect_usage "octal mode from 0 to 7777" --root-mode 8755
expect_usage "octal mode from 0 to 7777" --root-mode 17777
expect_usage "octal mode from 0 to 7777" --root-mode u+rwx

# 7. The encrypted record is authenticated: changed or missing refuses.
MNT=$EM
cp "$EV/atrestfs.root" "$WORK/root.bak"
printf '\x01' | dd of="$EV/atrestfs.root" bs=1 seek=19 conv=notrunc status=none
refuse_mount 4 "atrestfs.root is not authentic" "$EV"
cp "$WORK/root.bak" "$EV/atrestfs.root"
truncate -s 20 "$EV/atrestfs.root"
refuse_mount 4 "atrestfs.root is invalid" "$EV"
rm "$EV/atrestfs.root"
refuse_mount 4 "atrestfs.root is missing" "$EV"
cp "$WORK/root.bak" "$EV/atrestfs.root"
atr_mount "$EV" "$EM"
[ "$(stat -c '%a %u:%g' "$EM")" = "2750 40001:40010" ] || fail "restored record not used"
atr_umount "$EM"
# 8. What an interrupted rename onto an empty directory leaves (its ID file
#    removed, the rename not done) is recovered: an empty directory gets a
#    new ID; a non-empty one is never given one (its names would be lost).
V4=$WORK/v4 M4=$WORK/m4
mkdir -p "$M4"
atr create --key-source "keyfile:$WORK/key" "$V4" >/dev/null 2>&1
atr_mount "$V4" "$M4"
mkdir "$M4/empty" "$M4/full"
echo data >"$M4/full/f"
atr_umount "$M4"
for d in $(find "$V4" -mindepth 1 -maxdepth 1 -type d); do
	rm "$d/.atrestfs.dirid"
done
atr_mount "$V4" "$M4"
echo new >"$M4/empty/x" || fail "an empty directory without its ID is not recovered"
[ "$(cat "$M4/empty/x")" = new ] || fail "recovered directory does not read back"
! cat "$M4/full/f" >/dev/null 2>&1 || fail "a non-empty directory without its ID got a new one"
[ -z "$(ls "$M4/full")" ] || fail "names under a lost ID were shown"
atr_umount "$M4"
atr_mount "$V4" "$M4"
[ "$(cat "$M4/empty/x")" = new ] || fail "recovered directory lost its entry on remount"
atr_umount "$M4"
echo "multi-user semantics match ext4; the mount root is kept apart from VOLUME"
