#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The scaling measurements of issue #12 (not part of the test suite), on
# the targets of bench/lib.sh side by side on one backing filesystem:
#   rand   4 KiB random write, then read with cold caches, with 1, 2, 4
#          and 8 concurrent fio jobs (one file each), aggregate IOPS
#   meta   create, lstat (cold: caches dropped first) and unlink of N
#          empty files in one directory for N = 1k, 10k, 100k; us per op
#          (the kernel's inode cache dropped every 5000 ops, untimed)
#   open   100k files open at once (RLIMIT_NOFILE raised for the daemons
#          as far as allowed; the opener spreads its descriptors over
#          child processes) on a freshly mounted daemon: how many opened,
#          the error that stopped it, the daemon's RSS per cached inode and
#          per open file and its memory mappings (/proc/PID/status, maps)
#   big    a 20 GiB file written (fsync at the end) and read back cold,
#          MiB/s and the daemon's RSS per 1 GiB step
# Progress on stderr; results as TSV (part, target, param, metric, value,
# unit) on stdout and in a file, then a table per part. Every mount and
# process is cleaned up by mount point and PID on exit. The environment
# variables below pick the parts, the targets and the sizes (a quick run:
# SCALE_DIR_SIZES="100 1000" SCALE_OPEN=2000 SCALE_BIG_GIB=2
# SCALE_RUNTIME=2); BENCH_NO_INSTALL and BENCH_NO_BUILD as in bench/run.sh.
set -euo pipefail

PARTS=${SCALE_PARTS:-rand meta open big}
ALL="ext4-dir pt_wb gocryptfs atrestfs atr_plain"
JOBS=${SCALE_JOBS:-1 2 4 8}                   # concurrent fio jobs
RAND_MB=${SCALE_RAND_MB:-64}                  # file per fio job
RUNTIME=${SCALE_RUNTIME:-5}                   # seconds per fio run
RAND_TARGETS=${SCALE_RAND_TARGETS:-$ALL}
DIR_SIZES=${SCALE_DIR_SIZES:-1000 10000 100000}
META_TARGETS=${SCALE_META_TARGETS:-$ALL}
# The kernel's dentries and inodes are dropped after every META_EVERY
# operations (outside the timing; 0: never): atrestfs and passthrough_ll
# hold a descriptor per cached inode, so without it a directory larger than
# the daemon's RLIMIT_NOFILE fails with EMFILE (SCALE_META_EVERY=0 shows it).
META_EVERY=${SCALE_META_EVERY:-5000}
OPEN_N=${SCALE_OPEN:-100000}                  # files open at once
OPEN_TARGETS=${SCALE_OPEN_TARGETS:-atrestfs atr_plain pt_wb}
BIG_GIB=${SCALE_BIG_GIB:-20}
BIG_TARGETS=${SCALE_BIG_TARGETS:-atrestfs ext4-dir}

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The daemons inherit this (a service raises it with LimitNOFILE=); a
# daemon holds a descriptor per cached inode besides each open one. Raising
# the hard limit needs CAP_SYS_RESOURCE: without it the limit stays and is
# reported (daemon_nofile), and the open part shows where it stops.
nofile=$((3 * OPEN_N + 4096))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$nofile" ]; then
	ulimit -Hn "$nofile" 2>/dev/null ||
		log "cannot raise RLIMIT_NOFILE to $nofile (no CAP_SYS_RESOURCE?): keeping $(ulimit -Hn)"
fi
ulimit -Sn "$(ulimit -Hn)"

bench_setup
OUT=$(mktemp "${TMPDIR:-/tmp}/atrestfs-scale.XXXXXX.tsv")
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
want=()
has_part rand && want+=($RAND_TARGETS)
has_part meta && want+=($META_TARGETS)
has_part open && want+=($OPEN_TARGETS)
has_part big && want+=($BIG_TARGETS)
[ ${#want[@]} -gt 0 ] || die "SCALE_PARTS names no part (rand meta open big)"
# shellcheck disable=SC2046
mount_targets $(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')

printf 'part\ttarget\tparam\tmetric\tvalue\tunit\n' >"$OUT"
# emit PART TARGET PARAM METRIC VALUE UNIT
emit() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT"
}

# --- rand: 4 KiB random I/O with 1..8 jobs ---------------------------------
if has_part rand; then
	for j in $JOBS; do
		for t in $RAND_TARGETS; do
			d=${DIR[$t]}/scale-rand
			mkdir -p "$d"
			# the write lays the files out; the read starts cold
			for spec in randwrite:write:randwrite_iops \
				randread:read:randread_cold_iops; do
				IFS=: read -r rw field metric <<<"$spec"
				[ "$rw" = randread ] && drop_caches
				log "rand $t $j jobs: $rw"
				v=$(fio_run "$field.iops" --directory="$d" \
					--numjobs="$j" --rw="$rw" --bs=4k \
					--size="${RAND_MB}M" --time_based \
					--runtime="$RUNTIME")
				emit rand "$t" "$j" "$metric" "$v" IOPS
			done
		done
	done
	for t in $RAND_TARGETS; do rm -rf "${DIR[$t]}/scale-rand"; done
fi

# --- meta: create / stat / unlink in one directory of N entries ------------
# meta_op TARGET N OP METRIC DIR: run one meta.py step and emit its cost per
# op, or where it failed (then false).
meta_op() {
	local v rc=0
	v=$(python3 "$BENCH/meta.py" "$3" "$5" "$2" "$META_EVERY") || rc=$?
	if [ "$rc" -eq 3 ]; then
		emit meta "$1" "$2" "$4" "$v" us/op
		return 1
	fi
	[ "$rc" -eq 0 ] || die "meta.py $3 $5 failed ($rc)"
	emit meta "$1" "$2" "$4" "$(python3 -c "print('%.1f' % (1e6 / $v))")" us/op
}
if has_part meta; then
	for n in $DIR_SIZES; do
		for t in $META_TARGETS; do
			d=${DIR[$t]}/scale-meta-$n
			rm -rf "$d"
			mkdir "$d"
			sync
			log "meta $t $n entries: create"
			if meta_op "$t" "$n" create create_us "$d"; then
				drop_caches
				log "meta $t $n entries: stat, cold"
				meta_op "$t" "$n" stat stat_cold_us "$d" || true
				sync
				log "meta $t $n entries: unlink"
				meta_op "$t" "$n" unlink unlink_us "$d" || true
			fi
			# after a failure: forget the cached inodes first
			drop_caches
			rm -rf "$d" || log "meta $t: cannot remove $d"
		done
	done
fi

# --- open: N files open at once on a fresh daemon --------------------------
if has_part open; then
	for t in $OPEN_TARGETS; do
		[ -n "${DPID[$t]:-}" ] || die "open: $t is not a FUSE target"
		d=${DIR[$t]}/scale-open
		rm -rf "$d"
		mkdir "$d"
		log "open $t: creating $OPEN_N files"
		if ! v=$(python3 "$BENCH/meta.py" create "$d" "$OPEN_N" \
			"$META_EVERY"); then
			emit open "$t" "$OPEN_N" create "$v" result
			drop_caches
			rm -rf "$d" || log "open $t: cannot remove $d"
			continue
		fi
		# A new daemon: nothing cached, so the stat step fills its inode
		# table from empty.
		stop_fuse "$t"
		"mount_$t"
		emit open "$t" "$OPEN_N" daemon_nofile \
			"$(awk '/^Max open files/{print $4}' "/proc/${DPID[$t]}/limits")" files
		log "open $t: stat and open $OPEN_N files (daemon PID ${DPID[$t]})"
		python3 "$BENCH/openmany.py" "${DPID[$t]}" "$d" "$OPEN_N" |
			while IFS=$'\t' read -r metric value unit; do
				emit open "$t" "$OPEN_N" "$metric" "$value" "$unit"
			done
		kill -0 "${DPID[$t]}" 2>/dev/null ||
			die "open: the $t daemon died: $(tail -3 "$WORK/logs/$t.log")"
		log "open $t: removing the files"
		drop_caches
		rm -rf "$d" || log "open $t: cannot remove $d"
	done
fi

# --- big: one large file, throughput per GiB --------------------------------
if has_part big; then
	for t in $BIG_TARGETS; do
		f=${DIR[$t]}/scale-big
		pid=${DPID[$t]:-}
		log "big $t: writing $BIG_GIB GiB"
		drop_caches
		# shellcheck disable=SC2086
		python3 "$BENCH/bigfile.py" write "$f" "$BIG_GIB" $pid |
			while IFS=$'\t' read -r step v rss; do
				if [ "$step" = fsync ]; then
					emit big "$t" end write_fsync_s "$v" s
				else
					emit big "$t" "$step" write_mibs "$v" MiB/s
					[ "$rss" = NA ] ||
						emit big "$t" "$step" write_rss "$rss" KiB
				fi
				log "big $t write $step: $v"
			done
		drop_caches
		log "big $t: reading $BIG_GIB GiB, cold"
		# shellcheck disable=SC2086
		python3 "$BENCH/bigfile.py" read "$f" "$BIG_GIB" $pid |
			while IFS=$'\t' read -r step v rss; do
				emit big "$t" "$step" read_mibs "$v" MiB/s
				[ "$rss" = NA ] ||
					emit big "$t" "$step" read_rss "$rss" KiB
				log "big $t read $step: $v"
			done
		rm -f "$f"
	done
fi

echo "atrestfs scaling, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores," \
	"load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$BENCH/scale_report.py" "$OUT"
echo "TSV: $OUT"
