#!/usr/bin/env bash
# The shipped systemd examples say what they mean: each line of
# mount-helpers/systemd/fstab.example leaves only daemon options after the
# helper, systemd's fstab generator turns them into mount units ordered as
# documented (TPM device first, KMS as a remote mount, bounded timeouts),
# and the redis-server drop-in requires the mount.
source "$(dirname "$0")/../lib/common.sh"
[ -x "$MOUNT_HELPER" ] || fail "mount helper not built: $MOUNT_HELPER"
EX=$TOP/mount-helpers/systemd/fstab.example
DROPIN=$TOP/mount-helpers/systemd/redis-server.service.d/atrestfs.conf
mkdir -p "$WORK/mnt"

lines=$(grep -v '^#' "$EX" | grep .)
[ "$(wc -l <<<"$lines")" = 3 ] || fail "expected three example lines"
while read -r spec dir type opts pass1 pass2; do
	[ "$type" = atrestfs ] && [ "$pass1 $pass2" = "0 0" ] || fail "example line: $spec $dir $type"
	out=$("$MOUNT_HELPER" "$WORK/vol" "$WORK/mnt" -fv -o "$opts" 2>&1) || fail "helper -f: $out"
	kept=$(sed -n 's/.* -o //p' <<<"$out")
	[ "$kept" = "$(tr , '\n' <<<"$opts" | grep -E '^(uuid|key_source|tpm2_|kms_)' | paste -sd,)" ] ||
		fail "options left for the daemon from '$opts': '$kept'"
done <<<"$lines"
not_mounted "$WORK/mnt" || fail "-f mounted"

gen=/lib/systemd/system-generators/systemd-fstab-generator
[ -x "$gen" ] || gen=/usr/lib/systemd/system-generators/systemd-fstab-generator
if [ -x "$gen" ]; then
	unit() { # unit N: the mount unit systemd makes of example line N
		rm -rf "$WORK/gen" && mkdir -p "$WORK/gen/n" "$WORK/gen/e" "$WORK/gen/l"
		sed -n "${1}p" <<<"$lines" >"$WORK/gen/fstab"
		SYSTEMD_FSTAB=$WORK/gen/fstab SYSTEMD_PROC_CMDLINE="" "$gen" \
			"$WORK/gen/n" "$WORK/gen/e" "$WORK/gen/l" || fail "generator failed on line $1"
		cat "$WORK/gen/n/var-lib-redis.mount"
	}
	u=$(unit 1)
	grep -qx "RequiresMountsFor=/etc/atrestfs" <<<"$u" && grep -qx "TimeoutSec=30s" <<<"$u" &&
		grep -qx "Type=atrestfs" <<<"$u" || fail "keyfile unit: $u"
	u=$(unit 2)
	grep -qx "Requires=dev-tpmrm0.device" <<<"$u" && grep -qx "After=dev-tpmrm0.device" <<<"$u" ||
		fail "tpm2 unit not ordered after the TPM: $u"
	u=$(unit 3)
	[ -e "$WORK/gen/n/remote-fs.target.wants/var-lib-redis.mount" ] || fail "kms line is not a remote mount"
	grep -qx "TimeoutSec=1min" <<<"$u" || fail "kms unit timeout: $u"
	for n in 1 2 3; do
		unit "$n" >/dev/null
		[ -e "$WORK/gen/n/local-fs.target.requires/var-lib-redis.mount" ] &&
			fail "line $n: a failed volume would stop the boot (no nofail)"
	done
else
	echo "no systemd-fstab-generator: unit checks not run"
fi

grep -qx "RequiresMountsFor=/var/lib/redis" "$DROPIN" || fail "drop-in lacks RequiresMountsFor="
grep -qx "\[Unit\]" "$DROPIN" || fail "drop-in lacks [Unit]"
echo "systemd examples: helper options, generated units and drop-in hold"
