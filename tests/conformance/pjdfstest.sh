#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the pjdfstest POSIX conformance suite against ext4 and atrestfs.
#
#   tests/conformance/pjdfstest.sh PJDFSTEST_DIR [TARGET...]
#
# PJDFSTEST_DIR is a built pjdfstest tree (the directory that holds the
# `pjdfstest` binary and `tests/`); it is not part of this repository and is
# built by its own instructions. TARGET is any of:
#   ext4       a fresh ext4 file system on a loop device (the reference)
#   encrypted  a keyfile-encrypted atrestfs volume
#   plain      a --no-encryption atrestfs volume
# (default: all three). The atrestfs mounts use allow_other, as a service
# mount does, because pjdfstest acts as several uids. Each target's root is
# made 0755 root:root, like a fresh ext4 root. Per target it prints the
# subtest counts and the failing subtests by file; the log of each run is
# kept in $PJDFSTEST_LOGS (default: a temporary directory, printed).
#
# It is not part of tests/run-all.sh: CI has no copy of pjdfstest. It must
# run as root. Exit status: 0 when every subtest passed everywhere.
source "$(dirname "$0")/../lib/common.sh"

[ $# -ge 1 ] || { echo "usage: $0 PJDFSTEST_DIR [ext4|encrypted|plain]..." >&2; exit 2; }
PJD=$(cd "$1" && pwd) || fail "no directory $1"
shift
[ -x "$PJD/pjdfstest" ] && [ -d "$PJD/tests" ] ||
	fail "$PJD has no built pjdfstest binary and tests/ directory"
[ "$(id -u)" = 0 ] || fail "pjdfstest must run as root"
command -v prove >/dev/null || fail "prove (perl) not found"
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(ext4 encrypted plain)
LOGS=${PJDFSTEST_LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/pjdfstest-logs.XXXXXX")}
mkdir -p "$LOGS"

# A loop-mounted ext4 image under $WORK, mounted on $1.
mount_ext4() {
	local img=$WORK/ext4.img loopdev
	truncate -s 512M "$img"
	mkfs.ext4 -q -F "$img"
	loopdev=$(losetup --find --show "$img")
	on_exit "losetup -d $loopdev"
	mkdir -p "$1"
	mount "$loopdev" "$1"
	on_exit "umount '$1'"
}

# Sum of the TAP plans, the passed subtests (as TAP counts them: `ok`, plus
# `not ok # TODO`, which pjdfstest marks as a known difference of Linux that
# ext4 shows too) and the TODO and SKIP counts, from a verbose prove log. A
# test file that dies before its plan is done counts its missing subtests as
# failed.
count_log() {
	awk '
		/^[0-9]+\.\.[0-9]+/ { split($1, p, "\\.\\."); planned += p[2] }
		/^ok [0-9]+/ { passed++; if ($0 ~ /# *SKIP/) skipped++ }
		/^not ok [0-9]+.*# *TODO/ { passed++; todo++ }
		END { printf "%d %d %d %d\n", planned, passed, todo, skipped }' "$1"
}

# Failing subtests by file, from prove's summary report.
failures_of() {
	sed -n '/^Test Summary Report/,$p' "$1" |
		grep -E '^\S+\.t |Failed tests?:|TODO passed:|Parse errors:|Wstat|^\s+[0-9]' || true
}

total_failed=0 total_passed=0
for target in "${TARGETS[@]}"; do
	dir=$WORK/mnt-$target
	mkdir -p "$dir"
	case $target in
	ext4) mount_ext4 "$dir" ;;
	encrypted)
		make_keyfile_volume "$WORK/vol-$target" "$WORK/key-$target"
		atr_mount "$WORK/vol-$target" "$dir" -o allow_other ;;
	plain)
		atr create --no-encryption "$WORK/vol-$target" >/dev/null
		atr_mount "$WORK/vol-$target" "$dir" -o allow_other,encryption=off ;;
	*) fail "unknown target $target (ext4, encrypted or plain)" ;;
	esac
	chown root:root "$dir"
	chmod 0755 "$dir"
	log=$LOGS/$target.log
	start=$(date +%s)
	(cd "$dir" && prove -r -v "$PJD/tests") >"$log" 2>&1 || true
	secs=$(( $(date +%s) - start ))
	read -r planned ok todo skipped < <(count_log "$log")
	failed=$((planned - ok))
	total_failed=$((total_failed + failed))
	total_passed=$((total_passed + ok))
	echo "== $target: $ok/$planned subtests passed ($todo of them TODO, $skipped skipped), $failed failed, ${secs}s; log $log"
	failures_of "$log" | sed 's/^/   /'
	if [ "$target" = ext4 ]; then
		umount "$dir"
	else
		atr_umount "$dir"
	fi
done
echo "pjdfstest: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
