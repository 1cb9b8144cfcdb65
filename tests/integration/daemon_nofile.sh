#!/usr/bin/env bash
# Open files are not capped by the soft RLIMIT_NOFILE the daemon was started
# with (systemd's default is 1024): every open file costs the daemon a
# backing fd and an O_PATH fd, so it raises its own limit (to fs.nr_open
# when it may, else to its hard limit) before the sandbox. Started with a
# soft limit of 256, a mount must serve 600 files open at once.
source "$(dirname "$0")/../lib/common.sh"
command -v prlimit >/dev/null || skip "prlimit (util-linux) is not installed"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 2000 ] || skip "hard RLIMIT_NOFILE is $hard"

for kind in encrypted plain; do
	VOL=$WORK/$kind MNT=$WORK/$kind.mnt
	mkdir -p "$MNT"
	if [ $kind = plain ]; then
		atr create --no-encryption "$VOL" >/dev/null
		_mounts+=("$MNT")
		prlimit --nofile=256: "$ATRESTFS" mount "$VOL" "$MNT" -o encryption=off
	else
		make_keyfile_volume "$VOL" "$WORK/key"
		_mounts+=("$MNT")
		prlimit --nofile=256: "$ATRESTFS" mount "$VOL" "$MNT"
	fi
	is_mounted "$MNT" || fail "$kind: not mounted"
	python3 - "$MNT" <<'PY' || fail "$kind: 600 files could not be open at once"
import os, sys
fds = [os.open(os.path.join(sys.argv[1], "f%d" % i), os.O_CREAT | os.O_RDWR, 0o644)
       for i in range(600)]
for i, fd in enumerate(fds):
    os.pwrite(fd, b"%d" % i, 0)
for fd in fds:
    os.close(fd)
for i in range(600):
    with open(os.path.join(sys.argv[1], "f%d" % i), "rb") as f:
        assert f.read() == b"%d" % i, i
PY
	atr_umount "$MNT"
done
echo "daemon_nofile: 600 open files served by daemons started with 256"
