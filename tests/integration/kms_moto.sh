#!/usr/bin/env bash
# The kms key source against a local KMS (moto_server): create with an
# alias, mount, write, remount, read; the same with moto checking
# signatures (an IAM user's keys; assumed-role keys with a session token);
# credentials from a shared credentials file profile and from a strict
# IMDSv2 alone; a wrong encryption context and an edited CiphertextBlob are
# refused; the mounted volume keeps working after KMS stops, and a mount
# with KMS unreachable fails closed.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/moto.sh"
start_moto
MNT=$WORK/mnt VOL=$WORK/vol; mkdir -p "$MNT"

roundtrip() {   # mount, append a line, unmount, remount, check all lines
	atr_mount "$VOL" "$MNT"
	echo "$1" >>"$MNT/log"
	atr_umount "$MNT"
	atr_mount "$VOL" "$MNT"
	grep -qx "$1" "$MNT/log" || fail "line '$1' lost"
	atr_umount "$MNT"
}

KEY_ID=$(awsl kms create-key --description atrestfs-test --query KeyMetadata.KeyId --output text)
awsl kms create-alias --alias-name alias/cache-test --target-key-id "$KEY_ID"
# A key in another region, found only through the instance metadata.
KEY_ID2=$(awsl --region eu-west-3 kms create-key --query KeyMetadata.KeyId --output text)
awsl --region eu-west-3 kms create-alias --alias-name alias/imds-test --target-key-id "$KEY_ID2"
atr create --key-source kms:alias/cache-test --kms-endpoint "$KMS_URL" "$VOL" >/dev/null
atr info "$VOL" | grep -q "kms key: *arn:aws:kms:us-east-1:123456789012:key/$KEY_ID" || fail "info lacks the key ARN"
roundtrip "plain moto"

# Identities for signature checking, made while moto accepts anything.
awsl iam create-user --user-name cachenode >/dev/null
read -r U_AKID U_SECRET <<<"$(awsl iam create-access-key --user-name cachenode \
	--query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text)"
POLICY='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'
awsl iam put-user-policy --user-name cachenode --policy-name kms --policy-document "$POLICY"
awsl iam create-role --role-name node --assume-role-policy-document \
	'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}' >/dev/null
awsl iam put-role-policy --role-name node --policy-name kms --policy-document "$POLICY"
read -r R_AKID R_SECRET R_TOKEN <<<"$(awsl sts assume-role --role-arn arn:aws:iam::123456789012:role/node \
	--role-session-name node1 --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)"
curl -s -X POST -H 'Content-Type: text/plain' --data 0 "$KMS_URL/moto-api/reset-auth" >/dev/null

export AWS_ACCESS_KEY_ID=$U_AKID AWS_SECRET_ACCESS_KEY=$U_SECRET
roundtrip "iam user"
AWS_SECRET_ACCESS_KEY=wrong-secret-0000000000000000000000000000 refuse_mount 3 "secret access key is wrong|SignatureDoesNotMatch" "$VOL"
export AWS_ACCESS_KEY_ID=$R_AKID AWS_SECRET_ACCESS_KEY=$R_SECRET AWS_SESSION_TOKEN=$R_TOKEN
roundtrip "assumed role"
# create itself (DescribeKey, GenerateDataKey) signed with a session token
atr create --key-source kms:alias/cache-test --kms-endpoint "$KMS_URL" "$WORK/vol-role" >/dev/null
VOL=$WORK/vol-role roundtrip "created by an assumed role"
AWS_SESSION_TOKEN= atr create --key-source kms:alias/cache-test --kms-endpoint "$KMS_URL" \
	"$WORK/vol-notoken" 2>"$WORK/create.err" && fail "create without the session token succeeded"
grep -q "not valid" "$WORK/create.err" || fail "create refusal: $(cat "$WORK/create.err")"
[ ! -e "$WORK/vol-notoken" ] || fail "refused create left a volume"
AWS_SESSION_TOKEN= refuse_mount 3 "not valid|InvalidClientTokenId" "$VOL"
unset AWS_SESSION_TOKEN

# A profile in a shared credentials file, nothing in the environment.
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
printf '[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n[node]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$U_AKID" "$U_SECRET" >"$WORK/credentials"
AWS_SHARED_CREDENTIALS_FILE=$WORK/credentials AWS_PROFILE=node atr_mount "$VOL" "$MNT"
atr_umount "$MNT"

# IMDSv2 alone (strict fake): role credentials with a session token, with
# signature checking still on; at create, the region comes from IMDS too.
IMDS_PORT=$(free_port)
FAKE_AKID=$R_AKID FAKE_SECRET=$R_SECRET FAKE_TOKEN=$R_TOKEN FAKE_REGION=eu-west-3 \
	bg_start "$WORK/imds.pid" python3 "$TOP/tests/fakes/strict_imds.py" "$IMDS_PORT"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$IMDS_PORT/" && break; sleep 0.1; done
(
	export HOME=$WORK/nohome AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:$IMDS_PORT
	unset AWS_EC2_METADATA_DISABLED AWS_DEFAULT_REGION AWS_REGION AWS_ACCESS_KEY_ID \
		AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE \
		AWS_CONFIG_FILE
	roundtrip "imds"
	atr create --key-source kms:alias/imds-test --kms-endpoint "$KMS_URL" "$WORK/vol-imds" >/dev/null
	atr info "$WORK/vol-imds" | grep -q "kms key: *arn:aws:kms:eu-west-3:123456789012:key/$KEY_ID2" ||
		fail "IMDS region not used: $(atr info "$WORK/vol-imds")"
	VOL=$WORK/vol-imds roundtrip "imds region"
	# A named profile that does not exist is refused, not replaced by IMDS.
	AWS_PROFILE=nosuch refuse_mount 3 "profile nosuch is in neither" "$VOL"
)
export AWS_ACCESS_KEY_ID=$U_AKID AWS_SECRET_ACCESS_KEY=$U_SECRET

# Config edits: another encryption context, a changed CiphertextBlob.
cp -a "$VOL" "$WORK/vol.orig"
# Another volume's context is refused before KMS is asked.
edit_config "$VOL" 'c["key_source"]["encryption_context"]["atrestfs:volume"]="00000000-0000-4000-8000-000000000000"'
refuse_mount 3 "encryption context names volume 00000000-0000-4000-8000-000000000000, not this volume" "$VOL"
rm -rf "$VOL"; cp -a "$WORK/vol.orig" "$VOL"
edit_config "$VOL" 'b=bytearray(base64.b64decode(c["key_source"]["ciphertext_blob"])); b[-5]^=1; c["key_source"]["ciphertext_blob"]=base64.b64encode(bytes(b)).decode()'
refuse_mount 3 "InvalidCiphertext" "$VOL"
rm -rf "$VOL"; cp -a "$WORK/vol.orig" "$VOL"

# The key is taken once: KMS goes away, the mount keeps working; a new
# mount without KMS fails closed.
atr_mount "$VOL" "$MNT"
stop_moto
echo "after kms stopped" >>"$MNT/log"
grep -qx "plain moto" "$MNT/log" || fail "read after KMS stopped"
atr_umount "$MNT"
refuse_mount 3 "unreachable|Connection refused" "$VOL"
echo "kms: all cases hold"
