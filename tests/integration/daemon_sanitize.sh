#!/usr/bin/env bash
# The daemon built with ASan+UBSan, in the foreground, through a random
# operation run, a remount and an unmount: it must exit 0 with no sanitizer
# report (leaks included) on stderr.
source "$(dirname "$0")/../lib/common.sh"
SAN=${ATRESTFS_SANITIZE_BUILD:-$TOP/build-sanitize}/atrestfs
[ -x "$SAN" ] || skip "no sanitizer build at $SAN (tests/run-all.sh makes one)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
VOL=$WORK/vol MNT=$WORK/mnt
mkdir -p "$MNT" "$WORK/ref"
"$SAN" create --key-source "keyfile:$WORK/key" "$VOL" >/dev/null 2>"$WORK/create.err"
_mounts+=("$MNT")
run_daemon() {
	"$SAN" mount "$VOL" "$MNT" -f 2>"$WORK/daemon.err" &
	DPID=$!
	for _ in $(seq 100); do mountpoint -q "$MNT" && return 0; sleep 0.1; done
	fail "sanitized daemon did not mount: $(cat "$WORK/daemon.err")"
}
stop_daemon() {
	fusermount3 -u "$MNT"
	wait "$DPID" || fail "sanitized daemon exited $?: $(tail -30 "$WORK/daemon.err")"
	if grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$WORK/daemon.err"; then
		fail "sanitizer report: $(head -40 "$WORK/daemon.err")"
	fi
}
run_daemon
python3 "$TOP/tests/tools/randops.py" "$MNT" "$WORK/ref" --ops 1500 --seed 9 || fail "randops under ASan"
ln -s target "$MNT/link"; ln -s target "$WORK/ref/link"
setfattr -n user.a -v b "$MNT/d0" 2>/dev/null || true
stop_daemon
run_daemon
python3 "$TOP/tests/tools/randops.py" "$MNT" "$WORK/ref" --compare-only || fail "after remount under ASan"
stop_daemon
grep -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$WORK/create.err" && fail "sanitizer report in create"
echo "sanitized daemon: clean"
