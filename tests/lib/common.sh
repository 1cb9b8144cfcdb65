# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for tests/integration/*.sh. Each script sources this file,
# runs under `set -e`, gets a private work directory $WORK, and cleans up by
# PID and mount point in an EXIT trap: never by process name.
#
#   fail MSG      print MSG with the caller's line and exit 1
#   skip MSG      exit 77 (the runner counts it as skipped and says why)
#   atr ...       the atrestfs binary under test ($ATRESTFS)
#   atr_mount VOL MNT [ARGS]   mount (daemonised), remembered for cleanup
#   atr_umount MNT             unmount; fails the test if it does not go
#   on_exit CMD   run CMD during cleanup (in reverse order)
#   bg_start PIDFILE CMD...   start a background process, killed on exit
set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${ATRESTFS_BUILD:-$TOP/build-plain}
ATRESTFS=${ATRESTFS:-$BUILD/atrestfs}
MOUNT_HELPER=${MOUNT_HELPER:-$BUILD/mount.atrestfs}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/atrestfs-test.XXXXXX")
export TSS2_LOG=all+none
# The node records that create writes (the trust anchor, see atrestfs(8)
# PINNING) go to this test's own directory, not to /etc/atrestfs.
export ATRESTFS_NODE_DIR=$WORK/node

_cleanup_cmds=()
_mounts=()
_pids=()

on_exit() { _cleanup_cmds+=("$*"); }

# True when $1 is in the mount table, even when its daemon is gone
# (mountpoint(1) cannot stat a dead FUSE mount and says it is not one).
is_mounted() { findmnt -rn -M "$1" >/dev/null 2>&1; }

_cleanup() {
	local rc=$?
	set +e
	local i
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[$i]}" >/dev/null 2>&1
	done
	for m in "${_mounts[@]}"; do
		if is_mounted "$m"; then
			fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${_pids[@]}"; do
		kill "$p" 2>/dev/null && sleep 0.1 && kill -9 "$p" 2>/dev/null
	done
	rm -rf "$WORK"
	exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $* (at ${BASH_SOURCE[1]}:${BASH_LINENO[0]})" >&2
	exit 1
}

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

atr() { "$ATRESTFS" "$@"; }

# Mount VOL on MNT; extra arguments go to `atrestfs mount`.
atr_mount() {
	local vol=$1 mnt=$2
	shift 2
	_mounts+=("$mnt")
	"$ATRESTFS" mount "$vol" "$mnt" "$@"
	mountpoint -q "$mnt" || fail "atrestfs mount returned but $mnt is not mounted"
}

# The daemon goes on after the kernel's unmount (it answers the last
# RELEASEs and closes the volume), holding the volume lock; on a loaded
# machine that can outlast a new mount's wait for the lock, so wait for the
# daemon (its PID from `atrestfs status`) to exit, up to 60 s.
atr_umount() {
	local mnt=$1 i pid
	pid=$("$ATRESTFS" status --json "$mnt" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])' 2>/dev/null) || pid=
	for i in 1 2 3 4 5 6 7 8 9 10; do
		fusermount3 -u "$mnt" 2>/dev/null && break
		sleep 0.3
	done
	is_mounted "$mnt" && fail "could not unmount $mnt"
	[ -n "$pid" ] || return 0
	for i in $(seq 600); do
		# gone, or a zombie (it has let go of everything)
		case $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) in
		'' | Z) return 0 ;;
		esac
		sleep 0.1
	done
	fail "the daemon (pid $pid) of $mnt still runs 60 s after its unmount"
}

# Start CMD in the background with its PID in PIDFILE; killed on exit.
bg_start() {
	local pidfile=$1
	shift
	"$@" &
	local pid=$!
	_pids+=("$pid")
	echo "$pid" >"$pidfile"
}

# A keyfile-backed encrypted volume at $1 with its key at $2.
make_keyfile_volume() {
	atr create --key-source "keyfile:$2" "$1" >/dev/null
}

# Where block 0 starts in the backing files of volume $1 (the header
# length of its format, doc/file-format.md): 9856 in format 2, 2115136 in
# format 3. Every block then takes 4128 bytes.
content_header_len() {
	local f
	f=$(atr info "$1" | awk '/^format:/ {print $2}')
	case $f in
	2) echo 9856 ;;
	3) echo 2115136 ;;
	*) fail "volume $1 has format '$f': no content layout known to the tests" ;;
	esac
}

# True when no FUSE filesystem is mounted on $1.
not_mounted() { ! is_mounted "$1"; }

# A fresh volume mounted at $MNT: VOL, KEY and MNT are set for the caller.
# $1 = "encrypted" (keyfile) or "plain".
mount_fresh() {
	VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt
	mkdir -p "$MNT"
	if [ "${1:-encrypted}" = plain ]; then
		atr create --no-encryption "$VOL" >/dev/null
		atr_mount "$VOL" "$MNT" -o encryption=off
	else
		make_keyfile_volume "$VOL" "$KEY"
		atr_mount "$VOL" "$MNT"
	fi
}

# Remount $VOL on $MNT with the same options as mount_fresh($1).
remount() {
	atr_umount "$MNT"
	if [ "${1:-encrypted}" = plain ]; then
		atr_mount "$VOL" "$MNT" -o encryption=off
	else
		atr_mount "$VOL" "$MNT"
	fi
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Make the built mount.atrestfs the one mount(8) finds (/sbin), for this
# test only: an existing helper is put aside and restored on exit.
install_mount_helper() {
	local target=/sbin/mount.atrestfs
	if [ -e "$target" ] || [ -L "$target" ]; then
		mv "$target" "$WORK/mount.atrestfs.orig"
		on_exit "mv -f '$WORK/mount.atrestfs.orig' '$target'"
	else
		on_exit "rm -f '$target'"
	fi
	ln -s "$MOUNT_HELPER" "$target"
}

# refuse_mount RC PATTERN VOLUME [MOUNT ARGS...]: `atrestfs mount VOLUME
# $MNT` must exit RC with PATTERN (extended regex) in its message, leave
# nothing mounted and change nothing in VOLUME.
refuse_mount() {
	local rc=$1 pat=$2 vol=$3 out got=0 before
	shift 3
	before=$(cd "$vol" && find . -printf '%p %s %T@\n' | sort | sha256sum)
	out=$("$ATRESTFS" mount "$vol" "$MNT" "$@" 2>&1) || got=$?
	[ "$got" = "$rc" ] || fail "mount $vol $*: exit $got, expected $rc ($out)"
	grep -qE "$pat" <<<"$out" || fail "mount $vol $*: message lacks '$pat': $out"
	not_mounted "$MNT" || fail "mount $vol $* left a mount"
	[ "$(cd "$vol" && find . -printf '%p %s %T@\n' | sort | sha256sum)" = "$before" ] ||
		fail "mount $vol $* changed the volume"
	echo "refused as expected: $(grep -E "$pat" <<<"$out" | head -1)"
}

# edit_config VOLUME 'PYTHON': run PYTHON on the config loaded as dict `c`
# (json and base64 imported) and write it back, as an attacker would.
edit_config() {
	local conf=$1/atrestfs.conf
	chmod u+w "$conf"
	python3 -c "import json,sys,base64; p=sys.argv[1]; c=json.load(open(p)); $2; open(p,'w').write(json.dumps(c))" "$conf"
	chmod 0400 "$conf"
}
