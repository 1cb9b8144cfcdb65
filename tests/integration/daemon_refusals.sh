#!/usr/bin/env bash
# Every refusal rule through a real `atrestfs mount`: non-zero exit, a
# message naming the reason, nothing mounted, nothing written to the volume.
source "$(dirname "$0")/../lib/common.sh"
MNT=$WORK/mnt; mkdir -p "$MNT"
atr create --key-source "keyfile:$WORK/key" "$WORK/enc" >/dev/null
atr create --no-encryption "$WORK/plain" >/dev/null
mkdir "$WORK/empty" "$WORK/notvol"; echo data >"$WORK/notvol/file"

refuse_mount 2 "encrypted.*encryption=off" "$WORK/enc" -o encryption=off
refuse_mount 2 "plain.*create a new volume" "$WORK/plain"
refuse_mount 2 "plain.*create a new volume" "$WORK/plain" -o encryption=on
refuse_mount 2 "key source.*fixed at creation" "$WORK/enc" -o key_source=kms:alias/x
refuse_mount 2 "key source.*fixed at creation" "$WORK/enc" -o key_source=tpm2
refuse_mount 2 "not an atrestfs volume" "$WORK/empty"
refuse_mount 2 "not an atrestfs volume" "$WORK/notvol"
refuse_mount 2 "not an atrestfs volume" "$WORK/notvol" -o encryption=off

# Wrong keyfile.
head -c 32 /dev/urandom >"$WORK/otherkey"; chmod 0400 "$WORK/otherkey"
refuse_mount 3 "does not unlock" "$WORK/enc" -o "key_source=keyfile:$WORK/otherkey"
# Keyfile gone.
mv "$WORK/key" "$WORK/key.away"
refuse_mount 3 "keyfile" "$WORK/enc"
mv "$WORK/key.away" "$WORK/key"

# Tampered config: change a field (MAC mismatch), unknown field, newer format.
cp -a "$WORK/enc" "$WORK/enc.orig"
edit_config "$WORK/enc" 'c["created"]="2001-01-01T00:00:00Z"'
refuse_mount 4 "MAC|tampered" "$WORK/enc"
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"
edit_config "$WORK/enc" 'c["extra"]=1'
refuse_mount 4 "unknown|extra" "$WORK/enc"
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"
edit_config "$WORK/enc" 'c["format"]=4'
refuse_mount 4 "format 4 is newer" "$WORK/enc"
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"
# Format 1 (the previous on-disk format): refused with how to copy it over.
edit_config "$WORK/enc" 'c["format"]=1'
refuse_mount 4 "format 1.*atrestfs-rotate" "$WORK/enc"
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"
edit_config "$WORK/enc" 'c["encryption"]=False'
refuse_mount 4 "unknown|not allowed|plain" "$WORK/enc" -o encryption=off
# Rewritten as a well-formed plain config: the directory ID file still says
# the volume holds encrypted data, so it is never served as pass-through.
edit_config "$WORK/enc" 'c={k: c[k] for k in ("format","uuid","created")} | {"encryption": False}'
refuse_mount 4 "encrypted" "$WORK/enc" -o encryption=off
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"

# Mount point missing.
out=$("$ATRESTFS" mount "$WORK/enc" "$WORK/nowhere" 2>&1) && fail "mount on a missing mount point succeeded"
echo "refused: $out"

# The good mounts still work after all that.
atr_mount "$WORK/enc" "$MNT"; atr_umount "$MNT"
atr_mount "$WORK/plain" "$MNT" -o encryption=off; atr_umount "$MNT"
echo "all refusal rules hold"
