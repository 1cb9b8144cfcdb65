#!/usr/bin/env bash
# Every refusal rule through a real `atrestfs mount`: non-zero exit, a
# message naming the reason, nothing mounted, nothing written to the volume.
source "$(dirname "$0")/../lib/common.sh"
MNT=$WORK/mnt; mkdir -p "$MNT"
atr create --key-source "keyfile:$WORK/key" "$WORK/enc" >/dev/null
atr create --no-encryption "$WORK/plain" >/dev/null
mkdir "$WORK/empty" "$WORK/notvol"; echo data >"$WORK/notvol/file"

# refuse EXPECTED_RC PATTERN VOLUME [MOUNT ARGS...]
refuse() {
	local rc=$1 pat=$2 vol=$3
	shift 3
	local before after out got=0
	before=$(cd "$vol" && find . -printf '%p %s %T@\n' | sort | sha256sum)
	out=$("$ATRESTFS" mount "$vol" "$MNT" "$@" 2>&1) || got=$?
	[ "$got" = "$rc" ] || fail "mount $vol $*: exit $got, expected $rc ($out)"
	grep -qiE "$pat" <<<"$out" || fail "mount $vol $*: message '$out' lacks '$pat'"
	not_mounted "$MNT" || { fusermount3 -u "$MNT"; fail "mount $vol $* left a mount"; }
	after=$(cd "$vol" && find . -printf '%p %s %T@\n' | sort | sha256sum)
	[ "$before" = "$after" ] || fail "mount $vol $* changed the volume"
	echo "refused as expected: $out"
}
refuse 2 "encrypted.*encryption=off" "$WORK/enc" -o encryption=off
refuse 2 "plain.*create a new volume" "$WORK/plain"
refuse 2 "plain.*create a new volume" "$WORK/plain" -o encryption=on
refuse 2 "key source.*fixed at creation" "$WORK/enc" -o key_source=kms:alias/x
refuse 2 "key source.*fixed at creation" "$WORK/enc" -o key_source=tpm2
refuse 2 "not an atrestfs volume" "$WORK/empty"
refuse 2 "not an atrestfs volume" "$WORK/notvol"
refuse 2 "not an atrestfs volume" "$WORK/notvol" -o encryption=off

# Wrong keyfile.
head -c 32 /dev/urandom >"$WORK/otherkey"; chmod 0400 "$WORK/otherkey"
refuse 3 "does not unlock" "$WORK/enc" -o "key_source=keyfile:$WORK/otherkey"
# Keyfile gone.
mv "$WORK/key" "$WORK/key.away"
refuse 3 "keyfile" "$WORK/enc"
mv "$WORK/key.away" "$WORK/key"

# Tampered config: change a field (MAC mismatch), unknown field, newer format.
cp -a "$WORK/enc" "$WORK/enc.orig"
conf=$WORK/enc/atrestfs.conf
edit_conf() { chmod u+w "$conf"; python3 -c "$1" "$conf"; chmod 0400 "$conf"; }
edit_conf 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["created"]="2001-01-01T00:00:00Z"; open(p,"w").write(json.dumps(c))'
refuse 4 "MAC|tampered" "$WORK/enc"
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"
edit_conf 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["extra"]=1; open(p,"w").write(json.dumps(c))'
refuse 4 "unknown|extra" "$WORK/enc"
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"
edit_conf 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["format"]=2; open(p,"w").write(json.dumps(c))'
refuse 4 "format" "$WORK/enc"
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"
edit_conf 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); c["encryption"]=False; open(p,"w").write(json.dumps(c))'
refuse 4 "unknown|not allowed|plain" "$WORK/enc" -o encryption=off
# Rewritten as a well-formed plain config: the directory ID file still says
# the volume holds encrypted data, so it is never served as pass-through.
edit_conf 'import json,sys; p=sys.argv[1]; c=json.load(open(p)); json.dump({k: c[k] for k in ("format","uuid","created")} | {"encryption": False}, open(p,"w"))'
refuse 4 "encrypted" "$WORK/enc" -o encryption=off
rm -rf "$WORK/enc"; cp -a "$WORK/enc.orig" "$WORK/enc"

# Mount point missing.
out=$("$ATRESTFS" mount "$WORK/enc" "$WORK/nowhere" 2>&1) && fail "mount on a missing mount point succeeded"
echo "refused: $out"

# The good mounts still work after all that.
atr_mount "$WORK/enc" "$MNT"; atr_umount "$MNT"
atr_mount "$WORK/plain" "$MNT" -o encryption=off; atr_umount "$MNT"
echo "all refusal rules hold"
