#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The benchmark of issue #12 (not part of the test suite). Mounts the five
# targets of bench/lib.sh (ext4-dir, pt_wb, gocryptfs, atrestfs, atr_plain)
# side by side on one backing filesystem (one temp dir) and runs every test
# across all targets before the next test, the target order rotated each
# round, for BENCH_ROUNDS rounds. Prints the medians, the ratio columns
# (medians of per-round ratios) and which of issue #12's targets the run
# meets; progress goes to stderr. Every FUSE mount has
# allow_other and Redis runs as the redis user, the way the packaged
# service runs on a production mount. BENCH_NO_INSTALL and BENCH_NO_BUILD
# skip apt-get and the build (bench/lib.sh).
# Needs root (drop_caches, mounts). Every mount and process is cleaned up
# by mount point and PID on exit. Scale with BENCH_ROUNDS and the
# environment variables at the top of bench/tests.sh.
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-3}
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH/tests.sh"
bench_setup
RAW=$(mktemp "${TMPDIR:-/tmp}/atrestfs-bench-raw.XXXXXX.tsv")
SUMMARY=${RAW%-raw.*}-summary.${RAW##*-raw.}
mount_targets

printf 'round\ttest\ttarget\tvalue\tunit\tbetter\n' >"$RAW"
n=${#TARGETS[@]}
for ((r = 0; r < ROUNDS; r++)); do
	order=()
	for ((i = 0; i < n; i++)); do order+=("${TARGETS[$(((i + r) % n))]}"); done
	for spec in "${TESTS[@]}"; do
		IFS='|' read -r test unit better <<<"$spec"
		for t in "${order[@]}"; do
			log "round $((r + 1))/$ROUNDS $test $t"
			# not in $(...): the test sets CPU/THR and PIDS here
			"test_$test" "${DIR[$t]}" "$t" >"$WORK/value"
			v=$(cat "$WORK/value")
			[ -n "$v" ] || die "$test on $t gave no value"
			printf '%d\t%s\t%s\t%s\t%s\t%s\n' "$r" "$test" "$t" "$v" \
				"$unit" "$better" >>"$RAW"
		done
		if [ "$test" = seq_write ]; then
			for t in "${order[@]}"; do
				printf '%d\t%s\t%s\t%s\t%s\t%s\n' "$r" cpu_s_per_gib "$t" \
					"${CPU[$t]:-NA}" "CPU-s/GiB" lower >>"$RAW"
				printf '%d\t%s\t%s\t%s\t%s\t%s\n' "$r" daemon_threads "$t" \
					"${THR[$t]:-NA}" threads info >>"$RAW"
			done
		fi
	done
done

echo "atrestfs benchmark, $ROUNDS rounds, $(date -u +%Y-%m-%d), $(nproc) cores;" \
	"ratio = metric(A) / metric(B), median of per-round ratios;" \
	"'better' says which way the metric (and so the ratio) is better for A"
python3 "$BENCH/report.py" "$RAW" "$SUMMARY"
echo "raw TSV: $RAW"
echo "summary TSV: $SUMMARY"
