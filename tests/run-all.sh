#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite: builds the plain and the sanitizer (ASan+UBSan)
# flavours, runs every Check unit test in both, then every integration test
# in tests/integration/ against the plain build (root, /dev/fuse, swtpm,
# moto_server and redis-server are all real here). Prints Check's summaries
# and a final "N passed, N failed, N skipped" line; exits non-zero on any
# failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/install-deps.sh
passed=0 failed=0 skipped=0
failures=()

for flavour in plain sanitize; do
	echo "=== build ($flavour)"
	if ! bash scripts/build.sh "$flavour"; then
		echo "build ($flavour) FAILED"; exit 1
	fi
	make -s -C "build-$flavour" -j"$(nproc)" check TESTS= >/dev/null || { echo "test build ($flavour) FAILED"; exit 1; }
	for t in build-$flavour/tests/unit/check_*; do
		[ -x "$t" ] || continue
		name="unit/$(basename "$t") ($flavour)"
		export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
		if out=$(CK_FORK=yes "$t" 2>&1); then
			passed=$((passed + 1)); echo "PASS $name: $(grep -E '^[0-9]+%: Checks' <<<"$out")"
		else
			failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name"; echo "$out" | tail -40
		fi
	done
done

export ATRESTFS_BUILD=$top/build-plain
for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name="integration/$(basename "$t" .sh)"
	start=$(date +%s)
	log=$(mktemp)
	timeout 600 bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) passed=$((passed + 1)); echo "PASS $name (${secs}s)";;
	77) skipped=$((skipped + 1)); echo "SKIP $name: $(grep -m1 '^SKIP' "$log")";;
	*) failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name (rc $rc, ${secs}s)"; tail -40 "$log";;
	esac
	rm -f "$log"
done

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
