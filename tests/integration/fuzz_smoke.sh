#!/usr/bin/env bash
# Every parser under libFuzzer (ASan+UBSan) for 20 s each: the volume config
# (and the key sources' validators), stored names and symlink targets, KMS
# error bodies, endpoint URLs and AWS shared files, node records (pins), the
# replies `atrestfs status` reads from a daemon. Longer runs:
# scripts/fuzz.sh SECONDS.
source "$(dirname "$0")/../lib/common.sh"
command -v clang >/dev/null || skip "clang not installed"
bash "$TOP/scripts/fuzz.sh" "${FUZZ_SECONDS:-20}" || fail "a fuzz target crashed"
