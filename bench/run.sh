#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The benchmark of issue #12 (not part of the test suite). Mounts, side by
# side on one backing filesystem (one temp dir):
#   ext4-dir   a plain directory on the backing filesystem
#   pt_wb      libfuse's passthrough_ll example, -o writeback
#   gocryptfs  gocryptfs on a throwaway password file
#   atrestfs   an encrypted keyfile volume
#   atr_plain  a --no-encryption volume (same daemon, no cipher)
# and runs every test across all targets before the next test, the target
# order rotated each round, for BENCH_ROUNDS rounds. Prints the medians,
# the ratio columns (medians of per-round ratios) and which of issue #12's
# targets the run meets; progress goes to stderr. Every FUSE mount has
# allow_other and Redis runs as the redis user, the way the packaged
# service runs on a production mount.
# Needs root (drop_caches, mounts). Every mount and process is cleaned up
# by mount point and PID on exit. Scale with the environment variables
# below.
set -euo pipefail

ROUNDS=${BENCH_ROUNDS:-3}
SEQ_MB=${BENCH_SEQ_MB:-256}          # seq write / read file size
RAND_MB=${BENCH_RAND_MB:-64}         # rand read / write file size
RAND_IO_MB=${BENCH_RAND_IO_MB:-16}   # bytes moved per rand test
SYNC_IO_MB=${BENCH_SYNC_IO_MB:-2}    # bytes moved by rand write + fdatasync
FILES=${BENCH_FILES:-2000}           # create / unlink count
REDIS_N=${BENCH_REDIS_N:-200000}     # redis-benchmark SET requests
SAVE_KEYS=${BENCH_SAVE_KEYS:-1000000} # keys in the SAVE test
NO_INSTALL=${BENCH_NO_INSTALL:-}     # set: skip apt-get
NO_BUILD=${BENCH_NO_BUILD:-}         # set: use the existing build-plain

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$TOP/bench
ATRESTFS=$TOP/build-plain/atrestfs
EXAMPLES=/usr/share/doc/libfuse3-dev/examples

log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (drop_caches, FUSE mounts)"

# --- what it needs ---------------------------------------------------------
if [ -z "$NO_INSTALL" ]; then
	need=()
	for p in fio gocryptfs redis-server redis-tools libfuse3-dev fuse3 \
		 build-essential pkg-config python3; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		log "installing: ${need[*]}"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends "${need[@]}" >&2
	fi
fi
for c in fio gocryptfs redis-server redis-benchmark redis-cli python3 cc \
	setpriv; do
	command -v "$c" >/dev/null || die "$c not found"
done
if [ -z "$NO_BUILD" ]; then
	log "building atrestfs (scripts/build.sh plain)"
	(cd "$TOP" && bash scripts/build.sh plain) >&2
fi
[ -x "$ATRESTFS" ] || die "no $ATRESTFS (build it: scripts/build.sh plain)"
id redis >/dev/null 2>&1 || die "no redis user (the redis-server package makes it)"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/atrestfs-bench.XXXXXX")
RAW=$(mktemp "${TMPDIR:-/tmp}/atrestfs-bench-raw.XXXXXX.tsv")
SUMMARY=${RAW%-raw.*}-summary.${RAW##*-raw.}
export ATRESTFS_NODE_DIR=$WORK/node
# The redis user reaches its data directories in the mounts, nothing else.
chmod 0711 "$WORK"
mkdir -p "$WORK/logs"

MOUNTS=()
PIDS=()
REDIS_PID=""
cleanup() {
	local rc=$? m p
	set +e
	# Redis first (it writes into the mounts), then unmount while the
	# daemons live (a dead daemon's mount point fails stat with ENOTCONN,
	# so /proc/self/mounts is asked, not mountpoint), then the daemons.
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID"
	for m in "${MOUNTS[@]}"; do
		if grep -qF " $m fuse" /proc/self/mounts; then
			fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		if kill -0 "$p" 2>/dev/null; then
			sleep 0.5
			kill -9 "$p" 2>/dev/null
		fi
	done
	rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- targets ---------------------------------------------------------------
declare -A DIR DPID
TARGETS=(ext4-dir)
mkdir -p "$WORK/ext4-dir" "$WORK/back" "$WORK/mnt"
DIR[ext4-dir]=$WORK/ext4-dir

# start_fuse NAME CMD...: CMD stays in the foreground on $WORK/mnt/NAME;
# its PID is the daemon whose CPU time and threads are measured.
start_fuse() {
	local name=$1 mnt=$WORK/mnt/$1 i
	shift
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	"$@" >"$WORK/logs/$name.log" 2>&1 &
	PIDS+=("$!")
	DPID[$name]=$!
	for i in $(seq 100); do
		mountpoint -q "$mnt" && break
		kill -0 "${DPID[$name]}" 2>/dev/null ||
			die "$name exited: $(tail -3 "$WORK/logs/$name.log")"
		sleep 0.1
	done
	mountpoint -q "$mnt" || die "$name did not mount within 10 s"
	DIR[$name]=$mnt
	TARGETS+=("$name")
}

if [ -f "$EXAMPLES/passthrough_ll.c" ]; then
	log "building passthrough_ll from $EXAMPLES"
	# shellcheck disable=SC2046
	cc -Wall -O2 $(pkg-config fuse3 --cflags) \
		-o "$WORK/passthrough_ll" "$EXAMPLES/passthrough_ll.c" \
		$(pkg-config fuse3 --libs) >&2
	mkdir -p "$WORK/back/pt"
	start_fuse pt_wb "$WORK/passthrough_ll" -f -o writeback,allow_other \
		-o "source=$WORK/back/pt" "$WORK/mnt/pt_wb"
else
	log "libfuse3-dev ships no examples/passthrough_ll.c here: skipping pt_wb"
fi

head -c 32 /dev/urandom | base64 >"$WORK/gocryptfs.pass"
mkdir -p "$WORK/back/gocryptfs"
gocryptfs -init -q -scryptn 10 -passfile "$WORK/gocryptfs.pass" \
	"$WORK/back/gocryptfs" >&2
start_fuse gocryptfs gocryptfs -f -q -allow_other \
	-passfile "$WORK/gocryptfs.pass" \
	"$WORK/back/gocryptfs" "$WORK/mnt/gocryptfs"

"$ATRESTFS" create --key-source "keyfile:$WORK/atr.key" \
	"$WORK/back/atrestfs" >/dev/null
start_fuse atrestfs "$ATRESTFS" mount "$WORK/back/atrestfs" \
	"$WORK/mnt/atrestfs" -o allow_other -f
"$ATRESTFS" create --no-encryption "$WORK/back/atr_plain" >/dev/null
start_fuse atr_plain "$ATRESTFS" mount "$WORK/back/atr_plain" \
	"$WORK/mnt/atr_plain" -o allow_other,encryption=off -f

log "targets: ${TARGETS[*]} (backing: $(df -T "$WORK" | awk 'NR==2{print $2}'))"

# --- helpers ---------------------------------------------------------------
now() { date +%s.%N; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# fio_run FIELD ARGS...: run one fio job and print read/write bw or iops.
fio_run() {
	local field=$1
	shift
	fio --output-format=json --name=b --ioengine=psync "$@" |
		python3 -c 'import json,sys
j=json.load(sys.stdin)["jobs"][0]; f=sys.argv[1].split(".")
v=j[f[0]][f[1]]; print(v/1048576 if f[1]=="bw_bytes" else v)' "$field"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
threads() { awk '/^Threads:/{print $2}' "/proc/$1/status"; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

REDIS_PORT=""
# redis_start DIR [ARGS...]: a private redis-server on 127.0.0.1, run as
# Debian's redis-server.service runs it (user and group redis, UMask=007,
# no new privileges, no capabilities) in a redis-owned data directory made
# the way an administrator makes one.
redis_start() {
	local dir=$1 i
	shift
	mkdir -p "$dir"
	chown redis:redis "$dir"
	chmod 0750 "$dir"
	REDIS_PORT=$(free_port)
	bash -c 'umask 007; exec setpriv --reuid=redis --regid=redis \
		--init-groups --nnp --inh-caps=-all --bounding-set=-all "$@"' _ \
		redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" \
		--save "" --daemonize no --enable-debug-command local "$@" \
		>>"$WORK/logs/redis.log" 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	for i in $(seq 100); do
		if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
			[ "$(stat -c %U "/proc/$REDIS_PID")" = redis ] ||
				die "redis-server runs as $(stat -c %U "/proc/$REDIS_PID"), not redis"
			return 0
		fi
		sleep 0.1
	done
	die "redis-server on $dir did not answer: $(tail -3 "$WORK/logs/redis.log")"
}
redis_stop() {
	redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
	wait "$REDIS_PID" 2>/dev/null || true
	REDIS_PID=""
}

# Each test: test_NAME TARGET_DIR TARGET -> prints one value.
test_seq_write() {
	local d=$1 t=$2 c0 c1 t0 t1 v
	rm -f "$d/seq.dat"
	# Every target's write starts from the same, empty page cache.
	drop_caches
	[ -n "${DPID[$t]:-}" ] && c0=$(cpu_ticks "${DPID[$t]}")
	t0=$(now)
	fio_run write.bw_bytes --filename="$d/seq.dat" --rw=write --bs=1M \
		--size="${SEQ_MB}M" --end_fsync=1 >/dev/null
	t1=$(now)
	v=$(python3 -c "print($SEQ_MB / ($t1 - $t0))")
	if [ -n "${DPID[$t]:-}" ]; then
		c1=$(cpu_ticks "${DPID[$t]}")
		CPU[$t]=$(python3 -c "print(($c1 - $c0) / $(getconf CLK_TCK) / ($SEQ_MB / 1024))")
		THR[$t]=$(threads "${DPID[$t]}")
	else
		CPU[$t]=NA
		THR[$t]=NA
	fi
	echo "$v"
}
test_seq_read_cold() {
	drop_caches
	fio_run read.bw_bytes --filename="$1/seq.dat" --rw=read --bs=1M \
		--size="${SEQ_MB}M"
}
test_rand_write() {
	fio_run write.iops --filename="$1/rand.dat" --rw=randwrite --bs=4k \
		--size="${RAND_MB}M" --io_size="${RAND_IO_MB}M"
}
test_rand_write_fdatasync() {
	fio_run write.iops --filename="$1/rand.dat" --rw=randwrite --bs=4k \
		--size="${RAND_MB}M" --io_size="${SYNC_IO_MB}M" --fdatasync=1
}
test_rand_read_cold() {
	drop_caches
	fio_run read.iops --filename="$1/rand.dat" --rw=randread --bs=4k \
		--size="${RAND_MB}M" --io_size="${RAND_IO_MB}M"
}
test_create() {
	rm -rf "$1/meta"
	mkdir "$1/meta"
	sync
	python3 "$BENCH/meta.py" create "$1/meta" "$FILES"
}
test_unlink() {
	sync
	python3 "$BENCH/meta.py" unlink "$1/meta" "$FILES"
}
test_redis_set_aof() {
	local d=$1/redis-aof v
	rm -rf "$d"
	redis_start "$d" --appendonly yes --appendfsync everysec
	v=$(redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t set -P 16 \
		-n "$REDIS_N" -r 100000 -q --csv | awk -F'"' '$2=="SET"{print $4}')
	redis_stop
	echo "$v"
}
test_redis_save() {
	local d=$1/redis-save t0 t1
	rm -rf "$d"
	redis_start "$d"
	redis-cli -p "$REDIS_PORT" debug populate "$SAVE_KEYS" >/dev/null
	t0=$(now)
	redis-cli -p "$REDIS_PORT" save | grep -q OK || die "SAVE failed in $d"
	t1=$(now)
	redis_stop
	python3 -c "print($t1 - $t0)"
}

# name|unit|direction (of the metric: which way is better)
TESTS=(
	"seq_write|MiB/s|higher"
	"seq_read_cold|MiB/s|higher"
	"rand_write|IOPS|higher"
	"rand_write_fdatasync|IOPS|higher"
	"rand_read_cold|IOPS|higher"
	"create|ops/s|higher"
	"unlink|ops/s|higher"
	"redis_set_aof|req/s|higher"
	"redis_save|s|lower"
)

# --- the rounds ------------------------------------------------------------
declare -A CPU THR
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
