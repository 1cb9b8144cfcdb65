# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The tests of bench/run.sh, shared with bench/profile.sh; sourced after
# bench/lib.sh. Each test: test_NAME TARGET_DIR TARGET prints one value;
# TESTS lists them as name|unit|direction. Sizes from the environment:
SEQ_MB=${BENCH_SEQ_MB:-256}          # seq write / read file size
RAND_MB=${BENCH_RAND_MB:-64}         # rand read / write file size
RAND_IO_MB=${BENCH_RAND_IO_MB:-16}   # bytes moved per rand test
SYNC_IO_MB=${BENCH_SYNC_IO_MB:-2}    # bytes moved by rand write + fdatasync
FILES=${BENCH_FILES:-2000}           # create / unlink count
REDIS_N=${BENCH_REDIS_N:-200000}     # redis-benchmark SET requests
SAVE_KEYS=${BENCH_SAVE_KEYS:-1000000} # keys in the SAVE test

declare -A CPU THR

# --- helpers ---------------------------------------------------------------
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
