#!/usr/bin/env bash
# The node's trust anchor: nothing the volume says decides what runs, what
# is opened, which host is contacted or which key is accepted before it
# agrees with what the node pinned. A cmd: TCTI planted in a config runs
# nothing; another volume's config (its keyfile planted under a hidden name
# in the backing directory) is refused before any unlock, with and without
# its UUID edited; a KMS endpoint redirected to a second listener gets zero
# requests; mount options that contradict the record, stray options, an
# unpinned volume and a record that is not root-only are refused with a
# message naming the mismatch; the printed fstab line pins a volume on its
# own; `atrestfs pin` is the recovery path and never replaces a differing
# record unasked.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/moto.sh"
MNT=$WORK/mnt V=$WORK/victim; mkdir -p "$MNT"
conf_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]+"/atrestfs.conf"))[sys.argv[2]])' "$1" "$2"; }
atr create --key-source "keyfile:$WORK/vkey" "$V" >"$WORK/create.out" 2>/dev/null
V_UUID=$(conf_of "$V" uuid)
echo secret >"$WORK/secret"
atr_mount "$V" "$MNT"; cp "$WORK/secret" "$MNT/s"; atr_umount "$MNT"
cp -a "$V" "$WORK/victim.orig"
restore() { rm -rf "$V"; cp -a "$WORK/victim.orig" "$V"; }

# 1. A cmd: TCTI planted in the config (type switched to tpm2) runs nothing.
python3 - "$WORK/tpm2.json" "$WORK/marker" <<'EOF'
import base64, json, struct, sys
# A well-formed keyed-hash TPM2B_PUBLIC (userWithAuth, no policy) and
# TPM2B_PRIVATE: enough to get past every parser to the TCTI.
pub = struct.pack(">HHIHHH", 8, 0x000b, 0x40, 0, 0x0010, 0)
pub = struct.pack(">H", len(pub)) + pub
priv = struct.pack(">H", 16) + bytes(16)
b = lambda x: base64.b64encode(x).decode()
json.dump({"type": "tpm2", "tcti": "cmd:touch " + sys.argv[2], "pcrs": [],
           "public": b(pub), "private": b(priv),
           "parent_name": b(b"\x00\x0b" + bytes(32))}, open(sys.argv[1], "w"))
EOF
edit_config "$V" "c['key_source']=json.load(open('$WORK/tpm2.json'))"
out=$("$ATRESTFS" mount "$V" "$MNT" 2>&1) && fail "a volume with a planted TCTI mounted"
[ ! -e "$WORK/marker" ] || fail "the TCTI from the volume ran a command"
grep -q "key_source.tcti is refused" <<<"$out" || fail "planted TCTI message: $out"
refuse_mount 4 "key_source.tcti is refused" "$V"
refuse_mount 4 "key_source.tcti is refused" "$V" -o key_source=tpm2
ATRESTFS_TPM2_TCTI="swtpm:port=1" refuse_mount 4 "key_source.tcti is refused" "$V"
[ ! -e "$WORK/marker" ] || fail "the TCTI from the volume ran a command"
# Without the tcti field the type switch itself is a mismatch.
edit_config "$V" "del c['key_source']['tcti']"
refuse_mount 2 "key source is \"?tpm2\"? in the volume config but \"?keyfile" "$V"
refuse_mount 2 "key_source=tpm2, but the node record .* pins keyfile" "$V" -o key_source=tpm2
restore

# 2. Another volume's config, its keyfile planted under a hidden name.
atr create --key-source "keyfile:$V/.k" "$WORK/attacker" >/dev/null 2>&1
atr pin --remove "$WORK/attacker" >/dev/null   # the attacker's own node
chmod 0644 "$V/.k"   # if anything read it, the keyfile check would say so
chmod u+w "$V/atrestfs.conf"; cp "$WORK/attacker/atrestfs.conf" "$V/atrestfs.conf"
out=$("$ATRESTFS" mount "$V" "$MNT" 2>&1) && fail "swapped config mounted"
grep -q "the volume UUID is $(conf_of "$WORK/attacker" uuid) in the volume config but $V_UUID" <<<"$out" ||
	fail "swap message: $out"
grep -q "keyfile $V/.k" <<<"$out" && fail "the planted keyfile was read: $out"
not_mounted "$MNT" || fail "swapped config left a mount"
# ... with its UUID edited to the victim's: the keyfile path is pinned too.
edit_config "$V" "c['uuid']='$V_UUID'"
refuse_mount 2 "key_source.path is \"$V/.k\" in the volume config but \"$WORK/vkey\" in the node record" "$V"
out=$("$ATRESTFS" mount "$V" "$MNT" 2>&1) || true
grep -q "keyfile $V/.k" <<<"$out" && fail "the planted keyfile was read: $out"
restore
atr_mount "$V" "$MNT"; cmp "$MNT/s" "$WORK/secret" || fail "victim data"; atr_umount "$MNT"

# A plain volume is pinned too: another plain volume's config is refused.
atr create --no-encryption "$WORK/plainA" >/dev/null
atr create --no-encryption "$WORK/plainB" >/dev/null
A_UUID=$(conf_of "$WORK/plainA" uuid)
chmod u+w "$WORK/plainA/atrestfs.conf"; cp "$WORK/plainB/atrestfs.conf" "$WORK/plainA/atrestfs.conf"
refuse_mount 2 "the volume UUID is $(conf_of "$WORK/plainB" uuid) in the volume config but $A_UUID in the node record" "$WORK/plainA" -o encryption=off

# 3. Mount options against the record; stray and malformed options.
OTHER=$(python3 -c 'import uuid; print(uuid.uuid4())')
refuse_mount 2 "mount option uuid=$OTHER, but the node record .* pins $V_UUID" "$V" -o "uuid=$OTHER"
refuse_mount 2 "uuid=NOT-A-UUID is not a volume UUID" "$V" -o uuid=NOT-A-UUID
refuse_mount 2 "tpm2_pcrs= does not apply to key source keyfile" "$V" -o tpm2_pcrs=7
refuse_mount 2 "kms_region= does not apply to key source keyfile" "$V" -o kms_region=us-east-1
atr_mount "$V" "$MNT" -o "uuid=$V_UUID,key_source=keyfile"; atr_umount "$MNT"
# A key source's own refusal stays a key failure (exit 3), not a pin one.
chmod 0644 "$WORK/vkey"
refuse_mount 3 "keyfile $WORK/vkey is accessible by group or others" "$V"
chmod 0400 "$WORK/vkey"

# 4. Not pinned (node rebuilt, disk kept): refused; the fstab line that
# create printed pins it on its own; `atrestfs pin` writes the record again.
line=$(grep " /MOUNTPOINT atrestfs " "$WORK/create.out") || fail "create printed no fstab line"
opts=$(awk '{print $4}' <<<"$line")
[ "$opts" = "uuid=$V_UUID,key_source=keyfile:$WORK/vkey,nofail" ] || fail "fstab options: $opts"
export ATRESTFS_NODE_DIR=$WORK/rebuilt
refuse_mount 2 "$V is not pinned on this node.*atrestfs pin $V" "$V"
refuse_mount 2 "not pinned on this node" "$V" -o "uuid=$V_UUID"
refuse_mount 2 "not completely pinned: no path in the mount options" "$V" -o "uuid=$V_UUID,key_source=keyfile"
"$MOUNT_HELPER" "$V" "$MNT" -o "$opts"
_mounts+=("$MNT")
cmp "$MNT/s" "$WORK/secret" || fail "data through the fstab options"; atr_umount "$MNT"
atr pin "$V" >"$WORK/pin.out"
grep -q "uuid $V_UUID, key source keyfile:$WORK/vkey" "$WORK/pin.out" || fail "pin output: $(cat "$WORK/pin.out")"
grep -q "$opts" "$WORK/pin.out" || fail "pin prints no fstab line"
atr_mount "$V" "$MNT"; atr_umount "$MNT"
# A record that disagrees is not replaced unasked.
cp "$WORK/attacker/atrestfs.conf" "$WORK/swapped.conf"
chmod u+w "$V/atrestfs.conf"; cp "$WORK/swapped.conf" "$V/atrestfs.conf"
out=$(atr pin "$V" 2>&1) && fail "pin replaced a differing record: $out"
grep -q "pinned differently on this node" <<<"$out" || fail "pin refusal: $out"
restore

# 5. A record anyone else could have written anchors nothing.
rec=$(ls "$WORK/rebuilt/volumes/"*.json)
chmod 0644 "$rec"
refuse_mount 2 "node record $rec is not a regular file owned by root with mode 0600" "$V"
chmod 0600 "$rec"; chmod 0755 "$WORK/rebuilt/volumes"
refuse_mount 2 "node record directory $WORK/rebuilt/volumes must be owned by uid 0 with mode 0700" "$V"
chmod 0700 "$WORK/rebuilt/volumes"
python3 -c 'import json,sys; p=sys.argv[1]; r=json.load(open(p)); r["volume"]="/elsewhere"; json.dump(r,open(p,"w"))' "$rec"
refuse_mount 2 "names another volume path" "$V"
atr pin --replace "$V" >/dev/null
atr_mount "$V" "$MNT"; atr_umount "$MNT"
export ATRESTFS_NODE_DIR=$WORK/node

# 6. KMS: an endpoint redirected to a second listener gets zero requests;
# a swapped key ARN and a region option that contradicts the record are
# refused before KMS is asked.
start_moto
KEY_ID=$(awsl kms create-key --query KeyMetadata.KeyId --output text)
KEY2=$(awsl kms create-key --query KeyMetadata.Arn --output text)
K=$WORK/kmsvol
atr create --key-source "kms:$KEY_ID" --kms-endpoint "$KMS_URL" "$K" >"$WORK/kcreate.out"
atr_mount "$K" "$MNT"; echo kms >"$MNT/k"; atr_umount "$MNT"
cp -a "$K" "$WORK/kms.orig"
RPORT=$(free_port)
python3 - "$RPORT" "$WORK/redirect.log" <<'EOF' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def handle_one_request(self):
        open(sys.argv[2], "a").write("request\n")
        super().handle_one_request()
    def do_POST(self):
        self.send_response(400); self.end_headers()
    do_GET = do_POST
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
_pids+=("$!")
: >"$WORK/redirect.log"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$RPORT/" && break; sleep 0.1; done
[ "$(wc -l <"$WORK/redirect.log")" -ge 1 ] || fail "the second listener does not count"
: >"$WORK/redirect.log"
edit_config "$K" "c['key_source']['endpoint']='http://127.0.0.1:$RPORT'"
refuse_mount 2 "key_source.endpoint is \"http://127.0.0.1:$RPORT\" in the volume config but \"$KMS_URL\"" "$K"
ATRESTFS_NODE_DIR=$WORK/rebuilt2 refuse_mount 2 "not pinned on this node" "$K"
[ ! -s "$WORK/redirect.log" ] || fail "the redirected endpoint got $(wc -l <"$WORK/redirect.log") request(s)"
rm -rf "$K"; cp -a "$WORK/kms.orig" "$K"
edit_config "$K" "c['key_source']['key_arn']='$KEY2'"
refuse_mount 2 "key_source.key_arn is \"$KEY2\" in the volume config" "$K"
rm -rf "$K"; cp -a "$WORK/kms.orig" "$K"
refuse_mount 2 "mount option kms_region=\"eu-west-1\", but the node record .* pins \"us-east-1\"" "$K" -o kms_region=eu-west-1
refuse_mount 2 "kms_endpoint=\"http://127.0.0.1:$RPORT\", but the node record" "$K" -o "kms_endpoint=http://127.0.0.1:$RPORT"
[ ! -s "$WORK/redirect.log" ] || fail "a refused option reached the second listener"
# The KMS fstab line pins key ARN, region and endpoint without a record.
kopts=$(grep " /MOUNTPOINT atrestfs " "$WORK/kcreate.out" | awk '{print $4}')
grep -q "^uuid=[0-9a-f-]*,key_source=kms:arn:aws:kms:us-east-1:123456789012:key/$KEY_ID,kms_region=us-east-1,kms_endpoint=$KMS_URL,nofail$" <<<"$kopts" ||
	fail "kms fstab options: $kopts"
ATRESTFS_NODE_DIR=$WORK/rebuilt2 refuse_mount 2 "not completely pinned: no region in the mount options" "$K" \
	-o "$(sed 's/,kms_region=[^,]*//; s/,nofail//' <<<"$kopts")"
ATRESTFS_NODE_DIR=$WORK/rebuilt2 "$MOUNT_HELPER" "$K" "$MNT" -o "$kopts"
[ "$(cat "$MNT/k")" = kms ] || fail "kms data through the fstab options"; atr_umount "$MNT"
echo "trust anchor: all cases hold"
