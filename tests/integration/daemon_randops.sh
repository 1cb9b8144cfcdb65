#!/usr/bin/env bash
# 10,000 random operations on an encrypted mount and on a plain reference
# directory, compared every 300 operations, then again after unmount and
# remount; a shorter run on a plain (--no-encryption) volume.
source "$(dirname "$0")/../lib/common.sh"
RANDOPS="python3 $TOP/tests/tools/randops.py"

for kind in encrypted plain; do
	rm -rf "$WORK"/vol "$WORK"/key "$WORK"/ref "$WORK"/mnt
	mount_fresh "$kind"
	mkdir "$WORK/ref"
	ops=10000; [ "$kind" = plain ] && ops=2000
	$RANDOPS "$MNT" "$WORK/ref" --ops "$ops" --seed 42 --check-every 300 || fail "$kind: mount and reference differ"
	remount "$kind"
	$RANDOPS "$MNT" "$WORK/ref" --compare-only || fail "$kind: differs after remount"
	atr_umount "$MNT"
done
echo "randops: encrypted and plain volumes identical to the reference"
