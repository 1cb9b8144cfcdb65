#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the libFuzzer targets in tests/fuzz/ (clang, ASan+UBSan) into
# build-fuzz/ and runs each for SECONDS (default 60). Exits non-zero on the
# first crash, leaving the reproducer in build-fuzz/. Usage: fuzz.sh [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
out=$top/build-fuzz
mkdir -p "$out"
srcs=$(ls "$top"/src/*.c "$top"/src/kms/*.c | grep -v -e /main.c)
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -I$top/src"
libs=$(pkg-config --cflags --libs fuse3 libcrypto tss2-esys tss2-mu tss2-rc tss2-tctildr libcurl jansson libseccomp)
for t in "$top"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$t" .c)
	# shellcheck disable=SC2086
	clang $flags -o "$out/$name" "$t" $srcs $libs -lpthread
	mkdir -p "$out/$name.corpus"
	[ -d "$top/tests/fuzz/seeds/$name" ] && cp "$top/tests/fuzz/seeds/$name"/* "$out/$name.corpus/"
	echo "== $name: ${secs}s"
	(cd "$out" && ASAN_OPTIONS=detect_leaks=1 "./$name" -max_total_time="$secs" \
		-max_len=70000 -print_final_stats=0 "$name.corpus" 2>"$name.log") ||
		{ tail -30 "$out/$name.log"; echo "$name: CRASH (reproducer in $out)"; exit 1; }
	grep -E "^#[0-9]+.*DONE" "$out/$name.log" | tail -1 || true
done
echo "fuzz: no crash"
