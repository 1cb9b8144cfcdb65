#!/usr/bin/env bash
# Fleet boot against a throttling KMS (the fake KMS): a mount whose Decrypt
# calls are mostly throttled still succeeds within kms_retry_time; one that
# is throttled for ever, or meets 503s or a dead endpoint, fails after the
# bound with exit 3 and a clear message; errors that are not transient
# (denied, disabled, not found, a wrong ciphertext) are tried exactly once;
# create retries too (--kms-retry-time); a bad value is a usage error.
source "$(dirname "$0")/../lib/common.sh"
source "$TOP/tests/lib/fake_kms.sh"
MNT=$WORK/mnt VOL=$WORK/vol
mkdir -p "$MNT"
start_fake_kms
ctl() { curl -sf "$URL/_ctl/$1"; }

now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
# refused_after RC PATTERN MAX_SECONDS MOUNT-OPTIONS: the mount fails with
# RC and PATTERN within MAX_SECONDS; sets TOOK and OUT
refused_after() {
	local rc=$1 pat=$2 max=$3 got=0 t
	shift 3
	t=$(now)
	OUT=$("$ATRESTFS" mount "$VOL" "$MNT" "$@" 2>&1) || got=$?
	TOOK=$(since "$t")
	[ "$got" = "$rc" ] || fail "mount $*: exit $got, expected $rc ($OUT)"
	grep -qE "$pat" <<<"$OUT" || fail "mount $*: message lacks '$pat': $OUT"
	python3 -c "import sys; sys.exit(float(sys.argv[1]) >= float(sys.argv[2]))" "$TOOK" "$max" ||
		fail "mount $*: took $TOOK s, more than $max s"
	not_mounted "$MNT" || fail "mount $*: left a mount"
}

atr create --key-source kms:alias/x --kms-endpoint "$URL" "$VOL" >/dev/null
atr_mount "$VOL" "$MNT"; echo data >"$MNT/f"; atr_umount "$MNT"

# 1. Bad values: usage errors before anything is asked.
for v in x -1 3601 1.5 ""; do
	ctl reset >/dev/null
	refused_after 1 "kms_retry_time=$v: expected a whole number of seconds from 0 to 3600" 10 -o "kms_retry_time=$v"
	[ "$(ctl calls)" = 0 ] || fail "kms_retry_time=$v: KMS was asked"
done
echo "bad kms_retry_time values: usage errors"

# 2. Four of every five requests throttled: the mount still succeeds.
mode throttle_most
ctl reset >/dev/null
t=$(now)
atr_mount "$VOL" "$MNT" -o kms_retry_time=30 2>"$WORK/most.err"
took=$(since "$t")
[ "$(cat "$MNT/f")" = data ] || fail "data after a throttled mount"
atr_umount "$MNT"
[ "$(ctl throttled)" -ge 4 ] || fail "not throttled: $(ctl throttled) throttled of $(ctl calls)"
grep -q "KMS is throttling requests.*retrying for up to 30 s" "$WORK/most.err" || fail "no retry line: $(cat "$WORK/most.err")"
grep -q "answered after [0-9]* attempts" "$WORK/most.err" || fail "no recovery line: $(cat "$WORK/most.err")"
[ "$(grep -c "retrying" "$WORK/most.err")" = 1 ] || fail "one retry line per call expected: $(cat "$WORK/most.err")"
echo "throttle_most: mounted after $(ctl calls) calls ($(ctl throttled) throttled) in $took s"

# 3. Throttled for ever: fails after the bound, with the reason.
mode throttle
ctl reset >/dev/null
refused_after 3 "giving up after [0-9]+ attempts in [0-9.]+ s \(kms_retry_time=3\): KMS is throttling requests" 7 -o kms_retry_time=3
python3 -c "import sys; sys.exit(float(sys.argv[1]) < 2.9)" "$TOOK" || fail "gave up after $TOOK s, before the bound"
grep -q "could not unlock" <<<"$OUT" || fail "no refusal line: $OUT"
[ "$(ctl calls)" -ge 3 ] || fail "only $(ctl calls) calls in 3 s"
echo "throttle: refused (exit 3) after $TOOK s and $(ctl calls) calls"
# kms_retry_time=0: one attempt
ctl reset >/dev/null
refused_after 3 "KMS is throttling requests" 5 -o kms_retry_time=0
[ "$(ctl calls)" = 1 ] || fail "kms_retry_time=0: $(ctl calls) calls"

# 4. 5xx (a load balancer's 503) and a dead endpoint: retried, bounded.
mode error503
ctl reset >/dev/null
refused_after 3 "giving up after .*KMS server error \(HTTP 503" 6 -o kms_retry_time=2
[ "$(ctl calls)" -ge 2 ] || fail "503 not retried: $(ctl calls) calls"
echo "error503: refused after $TOOK s and $(ctl calls) calls"
mode down
ctl reset >/dev/null
refused_after 3 "giving up after .*unreachable" 6 -o kms_retry_time=2
[ "$(ctl calls)" -ge 2 ] || fail "a dead endpoint not retried: $(ctl calls) calls"
echo "down: refused after $TOOK s and $(ctl calls) calls"

# 5. Not transient: exactly one Decrypt, however long the retry time.
for m in "access_denied:may not use the key" "disabled:key is disabled" \
	 "not_found:no such KMS key" "invalid_state:not usable in its current state"; do
	mode "${m%%:*}"
	ctl reset >/dev/null
	refused_after 3 "${m#*:}" 5 -o kms_retry_time=60
	[ "$(ctl decrypts)" = 1 ] || fail "${m%%:*}: $(ctl decrypts) Decrypt calls, expected 1"
	! grep -q "retrying" <<<"$OUT" || fail "${m%%:*}: retried: $OUT"
done
# InvalidCiphertext: the blob's context part edited (KMS cannot open it)
mode ok
cp -a "$VOL" "$WORK/vol.orig"
edit_config "$VOL" 'b=base64.b64decode(c["key_source"]["ciphertext_blob"]); c["key_source"]["ciphertext_blob"]=base64.b64encode(b[:32]+b"{}").decode()'
ctl reset >/dev/null
refused_after 3 "does not match" 5 -o kms_retry_time=60
[ "$(ctl decrypts)" = 1 ] || fail "InvalidCiphertext: $(ctl decrypts) Decrypt calls, expected 1"
rm -rf "$VOL" && mv "$WORK/vol.orig" "$VOL"
echo "non-transient errors: one Decrypt each"

# 6. create: GenerateDataKey is retried too, within --kms-retry-time.
mode throttle
t=$(now)
out=$(atr create --key-source kms:alias/x --kms-endpoint "$URL" --kms-retry-time 1 "$WORK/v2" 2>&1) && fail "create succeeded while throttled"
grep -q "giving up after .*kms_retry_time=1" <<<"$out" || fail "create message: $out"
[ ! -e "$WORK/v2" ] || fail "a refused create left $WORK/v2"
out=$(atr create --key-source kms:alias/x --kms-retry-time x "$WORK/v2" 2>&1) && fail "--kms-retry-time x accepted"
grep -q "kms_retry_time=x: expected" <<<"$out" || fail "create message: $out"
mode throttle_most
atr create --key-source kms:alias/x --kms-endpoint "$URL" --kms-retry-time 30 "$WORK/v3" >/dev/null 2>&1 ||
	fail "create under throttle_most failed"
echo "create: retried within --kms-retry-time"
echo "kms retry: ok"
