#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Fleet boot (issue #14; a measurement, not part of the test suite): NODES
# kms volumes, each mounted by its own `atrestfs mount` (its own unlock
# child, its own Decrypt, its own FUSE daemon), all started at the same
# moment against the fake KMS (tests/fakes/fake_kms.py) limited to RATE
# requests per second, as KMS's request quota throttles a region. Prints
# the number of Decrypt calls, the throttled answers, the time until every
# volume is mounted and the slowest and median per-node times. Every mount
# and process is cleaned up by mount point and PID on exit.
#   FLEET_NODES (100)  FLEET_RATE (10 requests/s)  FLEET_RETRY (60 s;
#   "none": no kms_retry_time option, for a binary that predates it)
#   ATRESTFS (the binary; default build-plain/atrestfs)
set -euo pipefail

NODES=${FLEET_NODES:-100}
RATE=${FLEET_RATE:-10}
RETRY=${FLEET_RETRY:-60}
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ATRESTFS=${ATRESTFS:-$TOP/build-plain/atrestfs}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/atrestfs-fleet.XXXXXX")
export ATRESTFS_NODE_DIR=$WORK/node
export AWS_ACCESS_KEY_ID=AKIAFAKE AWS_SECRET_ACCESS_KEY=fake AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
KMS_PID=

cleanup() {
	set +e
	for ((i = 0; i < NODES; i++)); do
		findmnt -rn -M "$WORK/m$i" >/dev/null 2>&1 && { fusermount3 -u "$WORK/m$i" || umount -l "$WORK/m$i"; }
	done
	[ -n "$KMS_PID" ] && kill "$KMS_PID"
	rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
echo ok >"$WORK/mode"
python3 "$TOP/tests/fakes/fake_kms.py" "$PORT" "$WORK/mode" &
KMS_PID=$!
for _ in $(seq 50); do curl -sf "$URL/_ctl/calls" >/dev/null && break; sleep 0.1; done

echo "creating $NODES kms volumes..." >&2
for ((i = 0; i < NODES; i++)); do
	mkdir "$WORK/m$i"
	"$ATRESTFS" create --key-source kms:alias/fleet --kms-endpoint "$URL" "$WORK/v$i" >/dev/null
done

curl -sf "$URL/_ctl/ratelimit/$RATE" >/dev/null
curl -sf "$URL/_ctl/reset" >/dev/null
echo "mounting $NODES volumes at once, KMS limited to $RATE requests/s, kms_retry_time=$RETRY..." >&2
opt=(-o "kms_retry_time=$RETRY")
[ "$RETRY" != none ] || opt=()
start=$(date +%s.%N)
pids=()
for ((i = 0; i < NODES; i++)); do
	(
		t0=$(date +%s.%N)
		rc=0
		"$ATRESTFS" mount "$WORK/v$i" "$WORK/m$i" "${opt[@]}" 2>"$WORK/err$i" || rc=$?
		echo "$rc $(date +%s.%N) $t0" >"$WORK/t$i"
	) &
	pids+=($!)
done
wait "${pids[@]}"
calls=$(curl -sf "$URL/_ctl/decrypts")
throttled=$(curl -sf "$URL/_ctl/throttled")
mounted=0
for ((i = 0; i < NODES; i++)); do
	findmnt -rn -M "$WORK/m$i" >/dev/null && mounted=$((mounted + 1))
done
python3 - "$WORK" "$NODES" "$start" "$calls" "$throttled" "$mounted" "$RATE" "$RETRY" <<'PY'
import statistics, sys
work, nodes, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
calls, throttled, mounted, rate, retry = sys.argv[4:9]
per, ends, failed = [], [], 0
for i in range(nodes):
    rc, end, t0 = open(f"{work}/t{i}").read().split()
    per.append(float(end) - float(t0))
    ends.append(float(end))
    failed += rc != "0"
print(f"nodes={nodes} rate_limit={rate}/s kms_retry_time={retry}s")
print(f"mounted={mounted} failed={failed}")
print(f"decrypt_calls={calls} throttled={throttled}")
print(f"all_mounted_after={max(ends) - start:.1f}s")
print(f"per_node_max={max(per):.1f}s per_node_median={statistics.median(per):.1f}s")
PY
