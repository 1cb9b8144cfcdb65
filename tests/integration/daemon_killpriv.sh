#!/usr/bin/env bash
# A write(2) costs the daemon nothing beyond its WRITE request (issue #12).
# Without FUSE_HANDLE_KILLPRIV_V2 the kernel asks for security.capability
# (a synchronous GETXATTR) before every write into the page cache; the
# daemon negotiates V2 (src/fuse_io.c) and clears set-id bits itself where
# the kernel flags a request. On an encrypted and a plain volume, each
# mounted in the foreground with -d (the request log):
# 1. 200 pwrite()s of 4 KiB into one open file make fewer than 20 GETXATTR
#    requests (at most one per attribute refresh; it was one per write);
# 2. set-id bits as ext4 clears them: an unprivileged write, truncate or
#    O_TRUNC open clears set-user-ID and group-executable set-group-ID,
#    and set-group-ID without group execute when the writer is not in the
#    file's group (by its gid or a supplementary group);
#    root's keep them (CAP_FSETID); a second write after chmod u+s clears
#    again (the kernel asks afresh once the mode changed).
source "$(dirname "$0")/../lib/common.sh"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is not installed"
chmod 0711 "$WORK"
U=(setpriv --reuid=40001 --regid=40001 --clear-groups)
G=(setpriv --reuid=40001 --regid=0 --clear-groups)            # group root
S=(setpriv --reuid=40001 --regid=40001 --groups=40002,0)      # root as extra

# mount_debug NAME ARGS...: VOLUME NAME mounted on $WORK/NAME.mnt with -d.
mount_debug() {
	local name=$1 i
	shift
	mkdir -p "$WORK/$name.mnt"
	_mounts+=("$WORK/$name.mnt")
	bg_start "$WORK/$name.pid" "$ATRESTFS" mount "$WORK/$name" \
		"$WORK/$name.mnt" -d -o allow_other "$@" >"$WORK/$name.log" 2>&1
	for i in $(seq 300); do
		is_mounted "$WORK/$name.mnt" && return 0
		kill -0 "$(cat "$WORK/$name.pid")" 2>/dev/null ||
			fail "$name: daemon exited: $(tail -3 "$WORK/$name.log")"
		sleep 0.1
	done
	fail "$name: not mounted after 30 s"
}
count() { grep -c "opcode: $2 " "$WORK/$1.log" || true; }

# mode_after NAME MODE CMD...: a fresh file f with MODE, CMD run, its mode.
mode_after() {
	local m=$WORK/$1.mnt mode=$2
	shift 2
	rm -f "$m/f"
	echo data >"$m/f"
	chmod "$mode" "$m/f"
	"$@" || fail "$1: '$*' failed"
	stat -c %a "$m/f"
}

# expect_mode NAME MODE EXPECTED MESSAGE CMD...: fail with MESSAGE unless
# a fresh file with MODE has EXPECTED after CMD.
expect_mode() {
	local v=$1 mode=$2 want=$3 msg=$4
	shift 4
	[ "$(mode_after "$v" "$mode" "$@")" = "$want" ] || fail "$v: $msg"
}

make_keyfile_volume "$WORK/enc" "$WORK/key"
atr create --no-encryption "$WORK/plain" >/dev/null
mount_debug enc
mount_debug plain -o encryption=off

for v in enc plain; do
	m=$WORK/$v.mnt
	chmod 0777 "$m"
	# 1. The request mix of 200 small writes.
	before=$(count "$v" GETXATTR)
	python3 - "$m/w" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644)
for i in range(200):
    os.pwrite(fd, b"x" * 4096, i * 8192)
os.close(fd)
PY
	n=$(($(count "$v" GETXATTR) - before))
	echo "$v: 200 writes, $n GETXATTR requests"
	[ "$n" -lt 20 ] || fail "$v: 200 writes asked for security.capability $n times"
	[ "$(stat -c %s "$m/w")" = $((199 * 8192 + 4096)) ] ||
		fail "$v: file size after the writes: $(stat -c %s "$m/w")"

	# 2. Set-id bits.
	expect_mode "$v" 6777 777 "an unprivileged write kept set-id bits" \
		"${U[@]}" sh -c "echo x >>'$m/f'"
	expect_mode "$v" 2777 777 "an unprivileged write kept set-group-ID with group execute" \
		"${U[@]}" sh -c "echo x >>'$m/f'"
	# Without group execute, set-group-ID goes only for a non-member
	# (ext4 since 6.x: setattr_should_drop_sgid()); the file is root's.
	expect_mode "$v" 2767 767 "a write by a non-member of the group kept set-group-ID" \
		"${U[@]}" sh -c "echo x >>'$m/f'"
	expect_mode "$v" 2767 2767 "a write by a member of the group cleared set-group-ID" \
		"${G[@]}" sh -c "echo x >>'$m/f'"
	expect_mode "$v" 2767 2767 "a write by a supplementary member cleared set-group-ID" \
		"${S[@]}" sh -c "echo x >>'$m/f'"
	expect_mode "$v" 6767 2767 "a member's write: set-user-ID kept or set-group-ID cleared" \
		"${G[@]}" sh -c "echo x >>'$m/f'"
	expect_mode "$v" 6777 777 "an unprivileged truncate kept set-id bits" \
		"${U[@]}" truncate -s 100 "$m/f"
	expect_mode "$v" 6777 777 "an unprivileged O_TRUNC open kept set-id bits" \
		"${U[@]}" sh -c "echo y >'$m/f'"
	expect_mode "$v" 6777 6777 "root's write cleared set-id bits (it has CAP_FSETID)" \
		sh -c "echo x >>'$m/f'"
	expect_mode "$v" 6777 6777 "root's truncate cleared set-id bits" \
		truncate -s 100 "$m/f"
	[ "$(mode_after "$v" 4777 sh -c "${U[*]} sh -c 'echo x >>$m/f' &&
		chmod 4777 '$m/f' && ${U[*]} sh -c 'echo x >>$m/f'")" = 777 ] ||
		fail "$v: a second unprivileged write after chmod u+s kept set-user-ID"
	[ "$(cat "$m/f")" = "$(printf 'data\nx\nx')" ] ||
		fail "$v: content after the writes: $(cat "$m/f" | od -c | head -3)"
done
for v in enc plain; do
	atr_umount "$WORK/$v.mnt"
done
echo "daemon_killpriv: ok"
