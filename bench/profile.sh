#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What bounds one test of bench/run.sh (not part of the test suite):
#   bench/profile.sh TEST [TARGET...]     (targets: atrestfs atr_plain pt_wb)
# runs TEST (a name from bench/tests.sh: seq_write, rand_write, create, ...)
# three times on each FUSE target, each time under one observer:
#   mix     the FUSE requests the kernel sent to that mount (tracepoint
#           fuse:fuse_request_send, filtered by the mount's connection),
#           counted by opcode, and per application operation
#   strace  strace -c -f of the daemon: its system calls
#   perf    perf record -g of the daemon (its threads, new ones too):
#           where its CPU time goes
# A test that needs a file or files made first (seq_read_cold, the random
# tests, unlink) gets them made, untimed and unobserved, before each run.
# PROFILE_WHAT picks the observers; sizes as in bench/run.sh
# (bench/tests.sh). Output on stdout, the raw data in a directory named at
# the end. Needs root; installs perf and strace (BENCH_NO_INSTALL: not).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: bench/profile.sh TEST [TARGET...]" >&2; exit 2; }
TEST=$1
shift
WHAT=${PROFILE_WHAT:-mix strace perf}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH/tests.sh"
declare -F "test_$TEST" >/dev/null || die "no test $TEST (see bench/tests.sh)"
[ $# -gt 0 ] || set -- atrestfs atr_plain pt_wb
targets=("$@")
bench_setup linux-perf strace
for c in perf strace; do
	command -v "$c" >/dev/null || die "$c not found"
done
OUT=$(mktemp -d "${TMPDIR:-/tmp}/atrestfs-profile.XXXXXX")
mount_targets "${targets[@]}"

# The application operations one run of TEST makes (for per-op counts).
case $TEST in
seq_write | seq_read_cold) OPS=$SEQ_MB ;;
rand_write | rand_read_cold) OPS=$((RAND_IO_MB * 256)) ;;
rand_write_fdatasync) OPS=$((SYNC_IO_MB * 256)) ;;
create | unlink) OPS=$FILES ;;
*) OPS=0 ;;
esac

# prepare TARGET: what TEST needs in place, untimed.
prepare() {
	local d=${DIR[$1]}
	case $TEST in
	seq_read_cold) test_seq_write "$d" "$1" >/dev/null ;;
	rand_write | rand_write_fdatasync | rand_read_cold)
		[ -f "$d/rand.dat" ] || test_rand_write "$d" "$1" >/dev/null ;;
	unlink) test_create "$d" "$1" >/dev/null ;;
	esac
	sync
}

# observe NAME CMD...: CMD runs in the background during one run of TEST
# and gets SIGINT after it.
observe() {
	local t=$1 pid
	shift
	prepare "$t"
	"$@" 2>>"$WORK/logs/observer.log" &
	pid=$!
	PIDS+=("$pid")
	sleep 1 # the observer attaches
	"test_$TEST" "${DIR[$t]}" "$t" >"$WORK/value"
	kill -INT "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	log "$TEST on $t: $(cat "$WORK/value")"
}

for t in "${TARGETS[@]}"; do
	pid=${DPID[$t]}
	echo "== $TEST on $t (daemon PID $pid)"
	if [[ " $WHAT " == *" mix "* ]]; then
		# the kernel's dev_t of the mount: major << 20 | minor
		read -r maj min < <(stat -c '%Hd %Ld' "${DIR[$t]}")
		conn=$(((maj << 20) | min))
		observe "$t" perf record -q -a -e fuse:fuse_request_send \
			--filter "connection == $conn" -o "$OUT/$t.mix.data"
		echo "-- FUSE requests (per operation: $OPS operations)"
		perf script -i "$OUT/$t.mix.data" -F trace 2>/dev/null |
			sed -n 's/.*opcode [0-9]* (\(FUSE_[A-Z_]*\)).*/\1/p' |
			sort | uniq -c | sort -rn |
			awk -v ops="$OPS" '{ printf "%10d  %-22s %s\n", $1, $2,
				(ops > 0 ? sprintf("%.2f/op", $1 / ops) : "") }' |
			tee "$OUT/$t.mix.txt"
	fi
	if [[ " $WHAT " == *" strace "* ]]; then
		observe "$t" strace -c -f -p "$pid" -o "$OUT/$t.strace.txt"
		echo "-- strace -c -f of the daemon (the syscalls it made)"
		head -25 "$OUT/$t.strace.txt"
	fi
	if [[ " $WHAT " == *" perf "* ]]; then
		observe "$t" perf record -q -g -p "$pid" -o "$OUT/$t.perf.data"
		echo "-- perf: the daemon's hottest symbols (self time)"
		perf report -i "$OUT/$t.perf.data" --stdio \
			--no-children --sort dso,sym -g none --percent-limit 1.5 \
			2>/dev/null | grep -v '^#' | grep -v '^$' | head -30 |
			tee "$OUT/$t.perf.txt"
	fi
done
# The data outlives the cleanup of $WORK; perf.data files need the
# binaries they name to be read again.
echo "raw data: $OUT"
