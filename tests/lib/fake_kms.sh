# SPDX-License-Identifier: GPL-2.0-or-later
# The fake KMS (tests/fakes/fake_kms.py) on 127.0.0.1, switched while a
# volume is mounted, for the kms_recheck tests.
#   start_fake_kms     sets URL and MODE (its mode file, "ok") and the AWS
#                      test environment
#   mode NAME          switch it (ok, disabled, access_denied, down, ...)
#   decrypts           the number of Decrypt calls it has answered so far
#   wait_for SECONDS CMD...   until CMD succeeds (checked every 0.1 s)

start_fake_kms() {
	local port
	port=$(free_port)
	MODE=$WORK/mode URL=http://127.0.0.1:$port
	echo ok >"$MODE"
	bg_start "$WORK/fake_kms.pid" python3 "$TOP/tests/fakes/fake_kms.py" "$port" "$MODE"
	export AWS_ACCESS_KEY_ID=AKIAFAKE AWS_SECRET_ACCESS_KEY=fake AWS_DEFAULT_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true
	wait_for 5 curl -s -o /dev/null "$URL/_ctl/decrypts" || fail "the fake KMS did not start"
}
mode() { curl -sf "$URL/_ctl/mode/$1" >/dev/null || fail "fake KMS: mode $1"; }
decrypts() { curl -sf "$URL/_ctl/decrypts"; }
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}
