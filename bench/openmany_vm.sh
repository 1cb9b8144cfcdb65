#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# 100,000 files open at once on an encrypted atrestfs volume, measured in a
# VM (issue #12; not part of the test suite). A container cannot: its hard
# RLIMIT_NOFILE is fixed below the 200k+ descriptors the daemon needs (two
# per open file) and CAP_SYS_RESOURCE is not there to raise it. So this
# boots Debian's kernel under QEMU (KVM when /dev/kvm works, TCG otherwise,
# much slower; nested KVM that opens but hangs the guest's early boot, as
# on some cloud hosts, falls back to TCG) with a minimal initramfs: busybox, the atrestfs binary of
# build-plain with the libraries ldd names, fuse.ko, bench/openmany_vm.c
# built static, bench/openmany_vm.init as /init, and a keyfile volume made
# here with N files in it (created natively by an unprivileged uid: under
# emulation that step alone takes most of an hour). In the VM, as real
# root, the init raises the descriptor limits and mounts the volume from
# the root tmpfs with allow_other; the unprivileged uid opens all N files,
# writes and (page cache dropped) reads one byte through each and closes
# them, while the daemon's RSS, VmLck, descriptors and mappings are read at
# 0, N/10, N/2 and N open files; then it unmounts and checks the daemon's
# exit and log.
#
# Results (a table, then TSV) on stdout, progress on stderr. Exits
# non-zero when anything in the VM failed (mount refused, an open failed,
# a byte read back wrong, the daemon died or logged an error) or the VM did
# not finish. Installs qemu-system-x86 and busybox-static with apt-get and
# downloads (does not install) the linux-image package that
# linux-image-amd64 names; everything goes to a temporary directory that is
# removed on exit, QEMU is stopped by PID.
#
# Environment: OPENVM_N (files, default 100000), OPENVM_MEM_MB (VM memory,
# 4096), OPENVM_CPUS (2), OPENVM_TIMEOUT (seconds for the VM, 3600),
# OPENVM_ACCEL (kvm or tcg; default: kvm when the VM's init starts under
# it within OPENVM_BOOT_WAIT s, 120, else tcg), OPENVM_KERNEL_DEB
# (a linux-image .deb to use instead of downloading one), OPENVM_TSV (also
# write the TSV to this file), BENCH_NO_INSTALL (no apt-get),
# BENCH_NO_BUILD (use the existing build-plain), BENCH_ATRESTFS (this
# atrestfs binary instead of build-plain's).
set -euo pipefail

N=${OPENVM_N:-100000}
MEM_MB=${OPENVM_MEM_MB:-4096}
CPUS=${OPENVM_CPUS:-2}
TIMEOUT=${OPENVM_TIMEOUT:-3600}
OPEN_UID=1000
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "OPENVM_N must be a positive number"

# --- what it needs ----------------------------------------------------------
bench_install qemu-system-x86 busybox-static build-essential fuse3 python3
for c in qemu-system-x86_64 busybox cc dpkg-deb ldd timeout fusermount3 python3; do
	command -v "$c" >/dev/null || die "$c not found"
done
[[ "$(ldd "$(command -v busybox)" 2>&1 || true)" == *"not a dynamic"* ]] ||
	die "busybox is not the static one (busybox-static)"
bench_build

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/atrestfs-openvm.XXXXXX")
chmod 0711 "$WORK" # the opener's uid reaches the host mount in it
QPID=""
HOST_MNT=""
cleanup() {
	local rc=$?
	set +e
	if [ -n "$HOST_MNT" ] && grep -qF " $HOST_MNT fuse" /proc/self/mounts; then
		fusermount3 -u "$HOST_MNT" 2>/dev/null || umount -l "$HOST_MNT"
	fi
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill "$QPID"
		wait "$QPID" 2>/dev/null
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the kernel: Debian's, unpacked here, not installed ---------------------
if [ -n "${OPENVM_KERNEL_DEB:-}" ]; then
	deb=$OPENVM_KERNEL_DEB
else
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ && !n++ {print $2}')
	[ -n "$pkg" ] || die "apt-cache names no kernel for linux-image-amd64 (apt-get update?)"
	log "downloading $pkg"
	# apt's sandbox user cannot write into the private work directory
	(cd "$WORK" && apt-get download "$pkg" 2>&1 |
		{ grep -v "unsandboxed" || true; } >&2) ||
		die "cannot download $pkg"
	deb=$(ls "$WORK"/linux-image-*.deb)
fi
dpkg-deb -x "$deb" "$WORK/kernel" || die "cannot unpack $deb"
rm -f "$WORK"/linux-image-*.deb
vmlinuz=$(find "$WORK/kernel/boot" -name 'vmlinuz-*' | head -1)
config=$(find "$WORK/kernel/boot" -name 'config-*' | head -1)
if [ -z "$vmlinuz" ] || [ -z "$config" ]; then
	die "no vmlinuz or config in $deb"
fi
kver=${vmlinuz##*/vmlinuz-}

# --- the volume, made here ---------------------------------------------------
# Creating the files is not what is measured, and under TCG it alone took
# most of an hour: the volume and its N files (created by the unprivileged
# uid, as in the VM) are made natively on this host and go into the
# initramfs; the VM mounts them with the UUID and key file pinned by
# mount options (no node record there).
R=$WORK/root
mkdir -p "$R"/{bin,dev,proc,sys,tmp,etc,root,back,lib/modules,usr/sbin}
cc -static -O2 -Wall -Wextra -Werror -o "$R/bin/openmany_vm" \
	"$TOP/bench/openmany_vm.c" || die "cannot build openmany_vm"
export ATRESTFS_NODE_DIR=$WORK/node
"$ATRESTFS" create --key-source "keyfile:$WORK/vol.key" "$R/back/vol" \
	>"$WORK/create.out" 2>&1 || die "atrestfs create: $(cat "$WORK/create.out")"
uuid=$(grep -o 'uuid=[0-9a-f-]*' "$WORK/create.out" | head -1 | cut -d= -f2)
[ -n "$uuid" ] || die "no UUID in: $(cat "$WORK/create.out")"
HOST_MNT=$WORK/mnt
mkdir "$HOST_MNT"
# host_mount / host_umount: the volume on $HOST_MNT, its daemon's PID in hpid
host_mount() {
	"$ATRESTFS" mount "$R/back/vol" "$HOST_MNT" -o allow_other 2>"$WORK/mount.err" ||
		die "cannot mount the new volume here: $(cat "$WORK/mount.err")"
	hpid=$("$ATRESTFS" status --json "$HOST_MNT" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
}
host_umount() {
	fusermount3 -u "$HOST_MNT" || die "cannot unmount $HOST_MNT"
	for _ in $(seq 600); do
		kill -0 "$hpid" 2>/dev/null || return 0
		sleep 0.1
	done
	die "the host's daemon (PID $hpid) did not exit"
}
# The daemon holds a descriptor per inode the kernel caches, and a
# container's hard RLIMIT_NOFILE may be as low as 20,000: a fresh mount per
# batch lets the kernel forget them (no drop_caches on a shared host).
batch=$(($(ulimit -Hn) / 2))
[ "$batch" -le 50000 ] || batch=50000
log "creating $N files (uid $OPEN_UID) on this host, $batch per mount"
host_mount
mkdir "$HOST_MNT/open"
chown "$OPEN_UID:$OPEN_UID" "$HOST_MNT/open"
create_s=0
for ((first = 0; first < N; first += batch)); do
	last=$((first + batch < N ? first + batch : N))
	[ "$first" -eq 0 ] || host_mount
	"$R/bin/openmany_vm" --create "$HOST_MNT/open" "$last" "$OPEN_UID" \
		"$first" >"$WORK/create.tsv" ||
		die "creating the files failed: $(cat "$WORK/create.tsv")"
	host_umount
	read -r _ _ s _ <"$WORK/create.tsv"
	create_s=$(awk -v a="$create_s" -v b="$s" 'BEGIN {print a + b}')
done
HOST_MNT=""
create_us=$(awk -v s="$create_s" -v n="$N" 'BEGIN {printf "%.1f", s * 1e6 / n}')
install -m 0400 "$WORK/vol.key" "$R/root/vol.key"

# --- the initramfs ----------------------------------------------------------
mknod "$R/dev/console" c 5 1
cp "$(command -v busybox)" "$R/bin/busybox"
cp "$ATRESTFS" "$R/usr/sbin/atrestfs"
# the daemon's shared libraries, at the paths the dynamic loader looks at,
# and libgcc_s, which glibc loads at run time for pthread_cancel (the
# daemon aborts at unmount without it)
{
	ldd "$ATRESTFS" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}'
	ldconfig -p | awk '$1 == "libgcc_s.so.1" && /x86-64/ && !n++ {print $NF}'
} | while read -r lib; do
	install -D -m 0755 "$(readlink -f "$lib")" "$R$lib"
done
[ -e "$R/lib/x86_64-linux-gnu/libgcc_s.so.1" ] ||
	die "libgcc_s.so.1 not found by ldconfig"
case $(grep -E '^CONFIG_FUSE_FS=' "$config") in
CONFIG_FUSE_FS=y) log "kernel $kver: FUSE is built in" ;;
CONFIG_FUSE_FS=m)
	ko=$(find "$WORK/kernel/lib/modules" -name 'fuse.ko*' | head -1)
	[ -n "$ko" ] || die "kernel $kver: FUSE is a module but fuse.ko is missing"
	case $ko in
	*.ko) cp "$ko" "$R/lib/modules/fuse.ko" ;;
	*.ko.xz) xz -dc "$ko" >"$R/lib/modules/fuse.ko" ;;
	*.ko.zst) zstd -qdc "$ko" >"$R/lib/modules/fuse.ko" ;;
	*) die "cannot unpack $ko" ;;
	esac
	log "kernel $kver: FUSE is a module (fuse.ko)"
	;;
*) die "kernel $kver has no FUSE" ;;
esac
install -m 0755 "$TOP/bench/openmany_vm.init" "$R/init"
printf 'N=%s\nOPEN_UID=%s\nUUID=%s\n' "$N" "$OPEN_UID" "$uuid" >"$R/bench.conf"
printf 'root:x:0:0:root:/root:/bin/sh\nbench:x:%s:%s:bench:/tmp:/bin/sh\n' \
	"$OPEN_UID" "$OPEN_UID" >"$R/etc/passwd"
printf 'root:x:0:\nbench:x:%s:\n' "$OPEN_UID" >"$R/etc/group"
# owners kept: the opener's files are its own in the volume too
(cd "$R" && find . | busybox cpio -o -H newc 2>/dev/null) >"$WORK/initrd" ||
	die "cannot pack the initramfs"
rm -rf "$R" "$WORK/kernel/lib"
log "initramfs: $(($(stat -c %s "$WORK/initrd") / 1024 / 1024)) MiB"

# --- boot -------------------------------------------------------------------
# boot ACCEL: run the VM, its results into result.tsv and its exit status
# (from its init) into $vmrc; the console's other lines go to stderr. Returns
# 2 when the init did not speak within BOOT_WAIT s (nested KVM that opens but
# hangs the guest, as on some cloud hosts: then TCG is tried).
BOOT_WAIT=${OPENVM_BOOT_WAIT:-120}
boot() {
	local accel=$1 cpu line booted="" qrc=0 deadline t rrc
	case $accel in
	kvm) cpu=host,-arch-capabilities ;; # nested KVM refuses that MSR
	tcg) cpu=max ;;
	*) die "OPENVM_ACCEL must be kvm or tcg" ;;
	esac
	log "booting Debian $kver under QEMU ($accel, $CPUS CPUs, $MEM_MB MiB), N=$N"
	rm -f "$WORK/console"
	mkfifo "$WORK/console"
	timeout -k 10 "$TIMEOUT" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" \
		-smp "$CPUS" -m "$MEM_MB" -nodefaults -no-reboot -display none \
		-serial stdio -kernel "$vmlinuz" -initrd "$WORK/initrd" \
		-append "console=ttyS0 quiet panic=-1 oops=panic mitigations=off" \
		</dev/null >"$WORK/console" 2>"$WORK/qemu.err" &
	QPID=$!
	vmrc=""
	: >"$WORK/result.tsv"
	printf 'time\thost_create_s\t%s\ts\ntime\thost_create_us_per_file\t%s\tus\n' \
		"$create_s" "$create_us" >>"$WORK/result.tsv"
	exec 3<"$WORK/console"
	deadline=$((SECONDS + BOOT_WAIT))
	while :; do
		if [ -z "$booted" ]; then
			t=$((deadline - SECONDS))
			[ "$t" -gt 0 ] || t=1
			rrc=0
			IFS= read -r -t "$t" line <&3 || rrc=$?
			if [ "$rrc" -gt 128 ]; then
				log "the VM's init did not start within $BOOT_WAIT s under $accel"
				kill "$QPID" 2>/dev/null
				wait "$QPID" 2>/dev/null
				QPID=""
				exec 3<&-
				return 2
			fi
			[ "$rrc" -eq 0 ] || break
		else
			IFS= read -r line <&3 || break
		fi
		line=${line%$'\r'}
		case $line in
		"ATRVM-RES: "*) printf '%s\n' "${line#ATRVM-RES: }" >>"$WORK/result.tsv" ;;
		"ATRVM-EXIT: "*) vmrc=${line#ATRVM-EXIT: } ;;
		"vm: init started"*) booted=1 ;;
		*) printf '%s\n' "$line" >&2 ;;
		esac
	done
	exec 3<&-
	wait "$QPID" || qrc=$?
	QPID=""
	[ "$qrc" -ne 124 ] || die "the VM did not finish within $TIMEOUT s (OPENVM_TIMEOUT)"
	[ "$qrc" -eq 0 ] || die "QEMU failed (exit $qrc): $(head -c 2000 "$WORK/qemu.err")"
	return 0
}

accel=${OPENVM_ACCEL:-}
if [ -z "$accel" ]; then
	accel=tcg
	if [ -c /dev/kvm ] && echo quit | timeout 30 qemu-system-x86_64 \
		-accel kvm -machine none -nodefaults -display none \
		-monitor stdio >/dev/null 2>&1; then
		accel=kvm
	fi
fi
rc=0
boot "$accel" || rc=$?
if [ "$rc" -eq 2 ] && [ "$accel" = kvm ] && [ -z "${OPENVM_ACCEL:-}" ]; then
	accel=tcg
	rc=0
	boot tcg || rc=$?
fi
[ "$rc" -eq 0 ] || die "the VM did not boot"
[ "$accel" = kvm ] ||
	log "ran under TCG (software emulation, no working KVM): times are many times those of real hardware"
[ -n "$vmrc" ] || die "the VM stopped without a result (a kernel panic? see above)"
[ "$vmrc" = 0 ] || die "the measurement in the VM failed (see above)"

# --- the report -------------------------------------------------------------
{
	echo "atrestfs: $N files open at once in a VM ($accel, $CPUS CPUs," \
		"$MEM_MB MiB), $(date -u +%Y-%m-%dT%H:%MZ), host load" \
		"$(cut -d' ' -f1-3 /proc/loadavg)"
	awk -F'\t' -v n="$N" '
	$1 == "info" { printf "  %-28s %s\n", $2, $3 }
	$1 == "time" { t[$2] = $3; if ($2 ~ /_us_per_file$/) order[++nt] = $2 }
	$1 == "mem" {
		rows[++nr] = $0
		if ($2 == "start") { r0 = $4; f0 = $7; m0 = $8 }
		if ($2 == "opened") { r1 = $4; f1 = $7; m1 = $8; l1 = $6 }
	}
	END {
		printf "\n| step | open files | RSS KiB | HWM KiB | VmLck KiB | fds | maps | threads |\n"
		printf "|---|---|---|---|---|---|---|---|\n"
		for (i = 1; i <= nr; i++) {
			split(rows[i], c, "\t")
			printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			    c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9]
		}
		printf "\n"
		for (i = 1; i <= nt; i++) {
			k = order[i]
			printf "  %-28s %s us per file (%s s in all)\n", k, t[k],
			    t[substr(k, 1, length(k) - 12) "_s"]
		}
		printf "  %-28s %.0f B\n", "rss_per_open_file", (r1 - r0) * 1024 / n
		printf "  %-28s %.2f\n", "fds_per_open_file", (f1 - f0) / n
		printf "  %-28s %.4f\n", "maps_per_open_file", (m1 - m0) / n
		printf "  %-28s %s KiB (%.1f B per open file)\n", "vmlck_open", l1,
		    l1 * 1024 / n
	}' "$WORK/result.tsv"
	echo
	echo "TSV (info NAME VALUE / time METRIC VALUE UNIT / mem STEP OPEN RSS_KIB HWM_KIB VMLCK_KIB FDS MAPS THREADS):"
	cat "$WORK/result.tsv"
}
[ -z "${OPENVM_TSV:-}" ] || cp "$WORK/result.tsv" "$OPENVM_TSV"
