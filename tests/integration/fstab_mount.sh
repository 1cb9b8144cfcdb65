#!/usr/bin/env bash
# fstab through mount(8): an encrypted keyfile volume of type atrestfs mounts
# with `mount -T FSTAB MNT` and `mount -a -T FSTAB`, does I/O, unmounts with
# umount(8); no userspace-only option reaches the kernel; encryption=off on
# an encrypted volume makes mount(8) fail with the refusal; type
# fuse.atrestfs works through mount.fuse3; atrestfs.encryption=off and every
# other option of ours get through both types; a guarded, unmounted mount
# point cannot be written.
source "$(dirname "$0")/../lib/common.sh"
[ -x "$MOUNT_HELPER" ] || fail "mount helper not built: $MOUNT_HELPER"
install_mount_helper
VOL=$WORK/vol MNT=$WORK/mnt FSTAB=$WORK/fstab
mkdir -p "$MNT"
_mounts+=("$MNT")
make_keyfile_volume "$VOL" "$WORK/key"

# 1. Type atrestfs through mount(8), with every kind of userspace option.
echo "$VOL $MNT atrestfs defaults,_netdev,nofail,noauto,x-systemd.device-timeout=5s,comment=cache,user 0 0" >"$FSTAB"
mount -T "$FSTAB" "$MNT" || fail "mount -T failed"
mountpoint -q "$MNT" || fail "not mounted"
line=$(grep " $MNT " /proc/mounts)
echo "kernel mount: $line"
for o in _netdev nofail noauto x-systemd comment defaults "user[,= ]" encryption; do
	grep -qE "[ ,]$o" <<<"$(awk '{print " " $4}' <<<"$line")" && fail "option $o reached the kernel: $line"
done
[ "$(awk '{print $3}' <<<"$line")" = fuse.atrestfs ] || fail "type: $line"
echo "through fstab" >"$MNT/file"
umount "$MNT" || fail "umount(8) failed"
not_mounted "$MNT" || fail "still mounted after umount"
sed -i 's/,noauto//' "$FSTAB"
mount -a -T "$FSTAB" || fail "mount -a failed"
[ "$(cat "$MNT/file")" = "through fstab" ] || fail "data after mount -a"
umount "$MNT"

# mount -a again does not mount a second time over the first.
mount -a -T "$FSTAB" || fail "mount -a failed"
mount -a -T "$FSTAB" || fail "second mount -a failed"
[ "$(grep -c " $MNT " /proc/mounts)" = 1 ] || fail "mount -a stacked mounts: $(grep " $MNT " /proc/mounts)"
umount "$MNT"
not_mounted "$MNT" || fail "still mounted after umount"

# The helper's own flags: -f mounts nothing, -v says what it drops and
# runs, -N is refused, a missing argument is a usage error.
out=$("$MOUNT_HELPER" "$VOL" "$MNT" -fv -o rw,_netdev,x-systemd.automount,allow_other 2>&1) || fail "-f failed: $out"
not_mounted "$MNT" || fail "-f (fake) mounted"
grep -q "dropping userspace option _netdev" <<<"$out" && grep -q "mount $VOL $MNT -o rw,allow_other$" <<<"$out" ||
	fail "-v output: $out"
out=$("$MOUNT_HELPER" -N /proc/1/ns/mnt "$VOL" "$MNT" 2>&1) && fail "-N accepted"
grep -q "namespace" <<<"$out" || fail "-N message: $out"
"$MOUNT_HELPER" "$VOL" 2>/dev/null && fail "one argument accepted"
not_mounted "$MNT" || fail "helper flag checks left a mount"

# 2. encryption=off on an encrypted volume: mount(8) fails with the reason.
echo "$VOL $MNT atrestfs encryption=off 0 0" >"$FSTAB"
if out=$(mount -T "$FSTAB" "$MNT" 2>&1); then fail "encryption=off mounted an encrypted volume"; fi
grep -q "encryption=off" <<<"$out" && grep -q "plaintext" <<<"$out" || fail "message: $out"
not_mounted "$MNT" || fail "refused mount left a mount"
echo "refused as expected: $out"
# With nofail, mount(8) itself succeeds (boot goes on), but still nothing is mounted.
echo "$VOL $MNT atrestfs encryption=off,nofail 0 0" >"$FSTAB"
mount -T "$FSTAB" "$MNT" >/dev/null 2>&1 || true
not_mounted "$MNT" || fail "nofail refused mount left a mount"

# A plain volume: encryption=off reaches the daemon from an fstab line and
# from mount(8)'s command line (as systemd runs it), though libmount keeps
# that option from helpers.
PLAIN=$WORK/plain
atr create --no-encryption "$PLAIN" >/dev/null
echo "$PLAIN $MNT atrestfs defaults,encryption=off,nofail 0 0" >"$FSTAB"
mount -T "$FSTAB" "$MNT" || fail "plain volume from fstab"
echo plain >"$MNT/p" && umount "$MNT"
: >"$FSTAB"
mount -T "$FSTAB" -t atrestfs -o _netdev,encryption=off "$PLAIN" "$MNT" || fail "plain volume from the command line"
[ "$(cat "$MNT/p")" = plain ] || fail "plain data"
umount "$MNT"
if out=$(mount -T "$FSTAB" -t atrestfs "$PLAIN" "$MNT" 2>&1); then fail "plain volume mounted without encryption=off"; fi
grep -q "plain volume" <<<"$out" || fail "message: $out"
not_mounted "$MNT" || fail "refused plain mount left a mount"

# 3. fuse.atrestfs through mount.fuse3, which runs `atrestfs` from the
# standard PATH mount(8) gives helpers: the built binary is put there for
# this test only (an installed one is set aside and restored).
bin=/usr/local/bin/atrestfs
if [ -e "$bin" ] || [ -L "$bin" ]; then
	mv "$bin" "$WORK/atrestfs.orig"; on_exit "mv -f '$WORK/atrestfs.orig' '$bin'"
else
	on_exit "rm -f '$bin'"
fi
ln -s "$ATRESTFS" "$bin"
echo "$VOL $MNT fuse.atrestfs defaults,_netdev 0 0" >"$FSTAB"
mount -T "$FSTAB" "$MNT" || fail "fuse.atrestfs via mount.fuse3 failed"
[ "$(cat "$MNT/file")" = "through fstab" ] || fail "data via fuse.atrestfs"
umount "$MNT"
not_mounted "$MNT" || fail "fuse.atrestfs still mounted"

# 3b. atrestfs.encryption=off: the spelling libmount passes on, through
# both types, with `mount -a`; encryption=off itself is lost on the way to
# mount.fuse3, so the plain volume is refused there (failing closed).
for type in atrestfs fuse.atrestfs; do
	echo "$PLAIN $MNT $type defaults,atrestfs.encryption=off,nofail 0 0" >"$FSTAB"
	mount -a -T "$FSTAB" || fail "$type: plain volume with atrestfs.encryption=off"
	[ "$(cat "$MNT/p")" = plain ] || fail "$type: plain data"
	umount "$MNT"
	echo "$VOL $MNT $type atrestfs.encryption=off 0 0" >"$FSTAB"
	if out=$(mount -a -T "$FSTAB" 2>&1); then fail "$type: atrestfs.encryption=off mounted an encrypted volume"; fi
	grep -q "encrypted but the mount says encryption=off" <<<"$out" || fail "$type: message: $out"
	echo "$VOL $MNT $type encryption=on,atrestfs.encryption=off 0 0" >"$FSTAB"
	if out=$(mount -a -T "$FSTAB" 2>&1); then fail "$type: contradicting spellings mounted"; fi
	not_mounted "$MNT" || fail "$type: refused mount left a mount"
	echo "$type: atrestfs.encryption=off reaches the daemon"
done
echo "$PLAIN $MNT fuse.atrestfs encryption=off 0 0" >"$FSTAB"
if out=$(mount -a -T "$FSTAB" 2>&1); then fail "fuse.atrestfs kept encryption=off (the refusal below is stale)"; fi
grep -q "in fstab atrestfs.encryption=off" <<<"$out" || fail "the refusal does not name the fstab spelling: $out"
not_mounted "$MNT" || fail "refused mount left a mount"

# Every other option of ours gets through both types intact: with the
# complete pins create prints (a path, ':' and '/') the volume mounts, and
# each option given a value the daemon refuses fails with a message naming
# it, so it reached the daemon.
pins=$(atr pin --replace "$VOL" | sed -n 's/^.* atrestfs \(.*\),nofail 0 0$/\1/p')
[ -n "$pins" ] || fail "no fstab line from atrestfs pin"
for type in atrestfs fuse.atrestfs; do
	echo "$VOL $MNT $type $pins,tpm2_tcti=device:/dev/tpmrm0,_netdev 0 0" >"$FSTAB"
	mount -a -T "$FSTAB" || fail "$type: mount with the complete pins ($pins)"
	[ "$(cat "$MNT/file")" = "through fstab" ] || fail "$type: data with pins"
	umount "$MNT"
	for o in "uuid=0c6e7a7e-0000-4000-8000-000000000001|mount option uuid=0c6e7a7e" \
		 "key_source=tpm2|key source 'tpm2' named by the mount" \
		 "key_source=keyfile:$WORK/other.key|$WORK/other.key" \
		 "tpm2_pcrs=7|tpm2_pcrs= does not apply" "tpm2_srk=0x81000001|tpm2_srk= does not apply" \
		 "kms_region=eu-west-1|kms_region= does not apply" \
		 "kms_endpoint=https://kms.example/|kms_endpoint= does not apply" \
		 "kms_profile=p|kms_profile= does not apply" "kms_recheck=x|kms_recheck=x" \
		 "kms_grace=5|kms_grace and kms_revoked only apply" \
		 "kms_revoked=deny_all|kms_grace and kms_revoked only apply" \
		 "kms_retry_time=x|kms_retry_time=x: expected"; do
		opt=${o%%|*} pat=${o#*|}
		echo "$VOL $MNT $type $opt 0 0" >"$FSTAB"
		if out=$(mount -a -T "$FSTAB" 2>&1); then fail "$type: $opt mounted"; fi
		grep -qF -- "$pat" <<<"$out" || fail "$type: $opt: message lacks '$pat': $out"
		not_mounted "$MNT" || fail "$type: $opt left a mount"
	done
	echo "$type: every option reaches the daemon"
done

# 4. A guarded mount point cannot be written while nothing is mounted.
atr guard-mountpoint "$MNT" >/dev/null
on_exit "chattr -i '$MNT'"
if touch "$MNT/plaintext-leak" 2>/dev/null; then fail "wrote into the guarded, unmounted mount point"; fi
if mkdir "$MNT/dir" 2>/dev/null; then fail "made a directory in the guarded mount point"; fi
echo "$VOL $MNT atrestfs defaults 0 0" >"$FSTAB"
mount -T "$FSTAB" "$MNT" || fail "mount over a guarded mount point"
echo inside >"$MNT/ok" || fail "writing through the mount"
umount "$MNT"
if touch "$MNT/after" 2>/dev/null; then fail "guard lost after unmount"; fi
out=$(atr guard-mountpoint "$VOL" 2>&1) && fail "guarded a non-empty directory"
grep -q "not empty" <<<"$out" || fail "message: $out"

# 5. The documented fallback where the immutable attribute is missing: a
# read-only bind of the bare mount point on itself, the volume on top.
RO=$WORK/ro
mkdir -p "$RO"
_mounts+=("$RO" "$RO")
mount --bind "$RO" "$RO" && mount -o remount,bind,ro "$RO" "$RO"
if touch "$RO/leak" 2>/dev/null; then fail "wrote into the read-only bound mount point"; fi
echo "$VOL $RO atrestfs defaults,nofail 0 0" >"$FSTAB"
mount -T "$FSTAB" "$RO" || fail "mount over the read-only bind"
echo inside >"$RO/ok" || fail "writing through the mount over the bind"
umount "$RO"
if touch "$RO/after" 2>/dev/null; then fail "read-only bind lost after unmount"; fi
umount "$RO"
echo "fstab: all cases hold"
