#!/usr/bin/env bash
# The KMS failures moto cannot produce, from a small fake KMS: disabled key,
# invalid state, not found, asymmetric key and InvalidKeyUsage at create,
# throttling then success, 500s, garbage, an oversized answer, an XML error
# body. Each gives its own message and a clean refusal, never a crash.
source "$(dirname "$0")/../lib/common.sh"
PORT=$(free_port) MODE=$WORK/mode MNT=$WORK/mnt VOL=$WORK/vol
mkdir -p "$MNT"
echo ok >"$MODE"
bg_start "$WORK/fake.pid" python3 "$TOP/tests/fakes/fake_kms.py" "$PORT" "$MODE"
for _ in $(seq 50); do curl -s -o /dev/null -X POST "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=AKIAFAKE AWS_SECRET_ACCESS_KEY=fake AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
URL=http://127.0.0.1:$PORT

expect() {  # expect RC PATTERN CMD...: exit status and message
	local rc=$1 pat=$2 out got=0
	shift 2
	out=$("$@" 2>&1) || got=$?
	[ "$got" = "$rc" ] || fail "$*: exit $got, expected $rc ($out)"
	grep -qE "$pat" <<<"$out" || fail "$*: message lacks '$pat': $out"
	[ "$got" -lt 128 ] || fail "$*: crashed"
	not_mounted "$MNT" || fail "$*: left a mount"
	echo "$(cat "$MODE"): $(grep -E "$pat" <<<"$out" | head -1)"
}

atr create --key-source kms:alias/x --kms-endpoint "$URL" "$VOL" >/dev/null
atr_mount "$VOL" "$MNT"; echo data >"$MNT/f"; atr_umount "$MNT"

for m in "disabled:disabled" "invalid_state:not usable in its current state" \
	 "not_found:no such KMS key" "error500:server error \\(HTTP 500" \
	 "garbage:not a JSON object" "oversized:larger than" \
	 "xml_denied:secret access key is wrong"; do
	echo "${m%%:*}" >"$MODE"
	expect 3 "${m#*:}" "$ATRESTFS" mount "$VOL" "$MNT" -o kms_retry_time=1
done

echo throttle_then_ok >"$MODE"
atr_mount "$VOL" "$MNT" 2>"$WORK/throttle.err"
grep -q "KMS is throttling requests.*retrying" "$WORK/throttle.err" ||
	fail "no throttling seen: $(cat "$WORK/throttle.err")"
[ "$(cat "$MNT/f")" = data ] || fail "data after throttled mount"
atr_umount "$MNT"
echo "throttle_then_ok: $(head -1 "$WORK/throttle.err"), then mounted"

echo asymmetric >"$MODE"
expect 3 "only a symmetric encryption key" "$ATRESTFS" create --key-source kms:alias/rsa --kms-endpoint "$URL" "$WORK/v2"
[ ! -e "$WORK/v2" ] || fail "refused create left a directory"
echo invalid_key_usage >"$MODE"
expect 3 "cannot make data keys" "$ATRESTFS" create --key-source kms:alias/hmac --kms-endpoint "$URL" "$WORK/v3"

# The encryption context of another volume: refused before KMS is asked.
echo ok >"$MODE"
edit_config "$VOL" 'c["key_source"]["encryption_context"]["atrestfs:volume"]="0c6e7a7e-0000-4000-8000-000000000001"'
expect 3 "encryption context names volume 0c6e7a7e-0000-4000-8000-000000000001, not this volume" "$ATRESTFS" mount "$VOL" "$MNT"
echo "kms fake: every failure refused with its message"
