#!/usr/bin/env bash
# Open files are not capped by the soft RLIMIT_NOFILE the daemon was started
# with (systemd's default is 1024): every open file costs the daemon a
# backing fd and an O_PATH fd, so it raises its own limit (to fs.nr_open
# when it may, else to its hard limit) before the sandbox. Started with a
# soft limit of 256, a mount must serve 600 files open at once.
# The same for RLIMIT_MEMLOCK: each file's key is a slot of a locked 64 KiB
# pool chunk (511 to a chunk), and a failed mlock() leaves the key
# swappable, so the encrypted daemon, started with a soft limit of 64 KiB,
# must raise it (here: to the hard limit) and hold 600 keys locked, more
# than one chunk.
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
		prlimit --nofile=256: --memlock=65536: "$ATRESTFS" mount "$VOL" "$MNT"
	fi
	is_mounted "$MNT" || fail "$kind: not mounted"
	pid=$(atr status --json "$MNT" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
	python3 - "$MNT" "$pid" "$kind" <<'PY' || fail "$kind: 600 files could not be open at once, or their keys were not locked"
import os, sys
fds = [os.open(os.path.join(sys.argv[1], "f%d" % i), os.O_CREAT | os.O_RDWR, 0o644)
       for i in range(600)]
for i, fd in enumerate(fds):
    os.pwrite(fd, b"%d" % i, 0)
status = dict(l.split(":", 1) for l in open("/proc/%s/status" % sys.argv[2]))
limits = [l for l in open("/proc/%s/limits" % sys.argv[2]) if l.startswith("Max locked memory")]
if sys.argv[3] == "encrypted":
    lck = int(status["VmLck"].split()[0])
    print("600 open files: VmLck %d KiB; %s" % (lck, limits[0].strip()))
    assert lck > 64, "600 keys in no more than the 64 KiB soft limit"
for fd in fds:
    os.close(fd)
for i in range(600):
    with open(os.path.join(sys.argv[1], "f%d" % i), "rb") as f:
        assert f.read() == b"%d" % i, i
PY
	atr_umount "$MNT"
done
echo "daemon_nofile: 600 open files served by daemons started with 256"
