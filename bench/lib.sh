# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# What bench/run.sh and bench/scale.sh share: installing and building what
# they need, the work directory, the targets side by side on one backing
# filesystem, and the cleanup of every mount and process by mount point and
# PID. Sourced, not run. Environment: BENCH_NO_INSTALL (skip apt-get),
# BENCH_NO_BUILD (use the existing build-plain), BENCH_ATRESTFS (measure
# this atrestfs binary, no build), TMPDIR (the backing filesystem).
#
# Targets, each a directory in DIR[NAME], FUSE ones with their daemon's
# PID in DPID[NAME]:
#   ext4-dir   a plain directory on the backing filesystem
#   pt_wb      libfuse's passthrough_ll example, -o writeback
#   gocryptfs  gocryptfs on a throwaway password file
#   atrestfs   an encrypted keyfile volume
#   atr_plain  a --no-encryption volume (same daemon, no cipher)
# Every FUSE mount has allow_other, as a production mount for a service
# user has.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$TOP/bench
# BENCH_ATRESTFS: an atrestfs binary to measure instead of build-plain's
ATRESTFS=${BENCH_ATRESTFS:-$TOP/build-plain/atrestfs}
EXAMPLES=/usr/share/doc/libfuse3-dev/examples

log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (drop_caches, FUSE mounts)"

# bench_install PACKAGE...: apt-get install the named Debian packages that
# are not installed yet (nothing with BENCH_NO_INSTALL).
bench_install() {
	local p need=()
	[ -z "${BENCH_NO_INSTALL:-}" ] || return 0
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || need+=("$p")
	done
	[ ${#need[@]} -gt 0 ] || return 0
	log "installing: ${need[*]}"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${need[@]}" >&2
}

# bench_build: build-plain's atrestfs, unless BENCH_NO_BUILD or
# BENCH_ATRESTFS; then $ATRESTFS must be there.
bench_build() {
	if [ -z "${BENCH_NO_BUILD:-}" ] && [ -z "${BENCH_ATRESTFS:-}" ]; then
		log "building atrestfs (scripts/build.sh plain)"
		(cd "$TOP" && bash scripts/build.sh plain) >&2
	fi
	[ -x "$ATRESTFS" ] ||
		die "no $ATRESTFS (build it: scripts/build.sh plain)"
}

# bench_setup [PACKAGE...]: install (what every bench script needs and the
# named Debian packages), build, make $WORK and arm the cleanup trap.
bench_setup() {
	local c
	bench_install fio gocryptfs redis-server redis-tools libfuse3-dev \
		fuse3 build-essential pkg-config python3 "$@"
	for c in fio gocryptfs redis-server redis-benchmark redis-cli \
		python3 cc setpriv; do
		command -v "$c" >/dev/null || die "$c not found"
	done
	bench_build
	id redis >/dev/null 2>&1 ||
		die "no redis user (the redis-server package makes it)"

	WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/atrestfs-bench.XXXXXX")
	export ATRESTFS_NODE_DIR=$WORK/node
	# The redis user reaches its data directories in the mounts, nothing
	# else.
	chmod 0711 "$WORK"
	mkdir -p "$WORK/logs" "$WORK/ext4-dir" "$WORK/back" "$WORK/mnt"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

MOUNTS=()
PIDS=()
REDIS_PID=""
declare -A DIR DPID
TARGETS=()

bench_cleanup() {
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

# start_fuse NAME CMD...: CMD stays in the foreground on $WORK/mnt/NAME;
# its PID is the daemon whose CPU time, threads and memory are measured.
start_fuse() {
	local name=$1 mnt=$WORK/mnt/$1 i
	shift
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	"$@" >>"$WORK/logs/$name.log" 2>&1 &
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
}

# stop_fuse NAME: unmount NAME and wait for its daemon (for a remount with
# an empty cache).
stop_fuse() {
	local name=$1 mnt=$WORK/mnt/$1 pid=${DPID[$1]} i
	fusermount3 -u "$mnt" || die "cannot unmount $mnt"
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && die "$name (PID $pid) did not exit"
	wait "$pid" 2>/dev/null || true
	unset "DPID[$name]"
}

# mount_NAME: (re)start one target's daemon on its backing directory,
# made on the first call.
mount_pt_wb() {
	if [ ! -x "$WORK/passthrough_ll" ]; then
		log "building passthrough_ll from $EXAMPLES"
		# shellcheck disable=SC2046
		cc -Wall -O2 $(pkg-config fuse3 --cflags) \
			-o "$WORK/passthrough_ll" "$EXAMPLES/passthrough_ll.c" \
			$(pkg-config fuse3 --libs) >&2
		mkdir -p "$WORK/back/pt"
	fi
	start_fuse pt_wb "$WORK/passthrough_ll" -f -o writeback,allow_other \
		-o "source=$WORK/back/pt" "$WORK/mnt/pt_wb"
}
mount_gocryptfs() {
	if [ ! -e "$WORK/gocryptfs.pass" ]; then
		head -c 32 /dev/urandom | base64 >"$WORK/gocryptfs.pass"
		mkdir -p "$WORK/back/gocryptfs"
		gocryptfs -init -q -scryptn 10 -passfile "$WORK/gocryptfs.pass" \
			"$WORK/back/gocryptfs" >&2
	fi
	start_fuse gocryptfs gocryptfs -f -q -allow_other \
		-passfile "$WORK/gocryptfs.pass" \
		"$WORK/back/gocryptfs" "$WORK/mnt/gocryptfs"
}
mount_atrestfs() {
	[ -d "$WORK/back/atrestfs" ] ||
		"$ATRESTFS" create --key-source "keyfile:$WORK/atr.key" \
			"$WORK/back/atrestfs" >/dev/null
	start_fuse atrestfs "$ATRESTFS" mount "$WORK/back/atrestfs" \
		"$WORK/mnt/atrestfs" -o allow_other -f
}
mount_atr_plain() {
	[ -d "$WORK/back/atr_plain" ] ||
		"$ATRESTFS" create --no-encryption "$WORK/back/atr_plain" >/dev/null
	start_fuse atr_plain "$ATRESTFS" mount "$WORK/back/atr_plain" \
		"$WORK/mnt/atr_plain" -o allow_other,encryption=off -f
}

# mount_targets NAME...: set up the named targets (all five when none is
# named) in that order; TARGETS lists those that run.
mount_targets() {
	local t
	[ $# -gt 0 ] || set -- ext4-dir pt_wb gocryptfs atrestfs atr_plain
	for t in "$@"; do
		case $t in
		ext4-dir) DIR[ext4-dir]=$WORK/ext4-dir ;;
		pt_wb)
			if [ ! -f "$EXAMPLES/passthrough_ll.c" ]; then
				log "libfuse3-dev ships no examples/passthrough_ll.c here: skipping pt_wb"
				continue
			fi
			mount_pt_wb
			;;
		gocryptfs | atrestfs | atr_plain) "mount_$t" ;;
		*) die "unknown target $t" ;;
		esac
		TARGETS+=("$t")
	done
	log "targets: ${TARGETS[*]} (backing: $(df -T "$WORK" | awk 'NR==2{print $2}'))"
}

now() { date +%s.%N; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
threads() { awk '/^Threads:/{print $2}' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# fio_run FIELD ARGS...: run one fio job (or group) and print read/write
# bw in MiB/s or IOPS.
fio_run() {
	local field=$1
	shift
	fio --output-format=json --name=b --ioengine=psync "$@" |
		python3 -c 'import json,sys
j=json.load(sys.stdin)["jobs"]; f=sys.argv[1].split(".")
v=sum(x[f[0]][f[1]] for x in j)
print("%.1f" % (v/1048576) if f[1]=="bw_bytes" else "%.0f" % v)' "$field"
}
