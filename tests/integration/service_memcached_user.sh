#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The packaged memcached, started the way Debian's memcached.service starts
# it (its wrapper reading a copy of /etc/memcached.conf: root drops to
# `-u memcache`), keeps its restartable item memory (`-e FILE`) in an
# encrypted mount with allow_other whose root was created memcache-owned
# (create --root-owner/--root-mode). Keys survive a warm restart (SIGUSR1,
# then the same command again) and a remount; the memory file is
# memcache-owned on the volume; VOLUME stays root:root 0700.
source "$(dirname "$0")/../lib/common.sh"
WRAPPER=/usr/share/memcached/scripts/systemd-memcached-wrapper
command -v memcached >/dev/null || skip "memcached not installed"
[ -x "$WRAPPER" ] && [ -r /etc/memcached.conf ] || skip "no Debian memcached wrapper/config"
id memcache >/dev/null 2>&1 || skip "no memcache user (memcached package)"

VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt RUN=$WORK/run
mkdir -p "$MNT" "$RUN"
chmod 0711 "$WORK"
chown memcache:memcache "$RUN"
atr create --key-source "keyfile:$KEY" --root-owner memcache:memcache \
	--root-mode 0750 "$VOL" >/dev/null
atr_mount "$VOL" "$MNT" -o allow_other
[ "$(stat -c '%U:%G %a' "$MNT")" = "memcache:memcache 750" ] ||
	fail "mount root is $(stat -c '%U:%G %a' "$MNT"), expected memcache:memcache 750"
[ "$(stat -c '%U:%G %a' "$VOL")" = "root:root 700" ] || fail "VOLUME is $(stat -c '%U:%G %a' "$VOL")"

PORT=$(free_port)
# Debian's settings; only the port, address, pid file and log are this
# instance's, plus the memory file.
grep -vE '^-(p|l|P) |^logfile ' /etc/memcached.conf >"$RUN/memcached.conf"
printf -- '-p %s\n-l 127.0.0.1\n-P %s\n-e %s\n' "$PORT" "$RUN/memcached.pid" \
	"$MNT/memory_file" >>"$RUN/memcached.conf"
grep -q '^-u memcache' "$RUN/memcached.conf" || fail "Debian's config no longer says -u memcache"

# A minimal text-protocol client: `set N` stores keys 1..N, `check N`
# expects exactly their values back.
cat >"$WORK/mc.py" <<'EOF'
import socket, sys
port, op, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=20)
f = s.makefile("rb")
def val(i): return b"memcached-value-%d" % i + b"x" * (i % 700)
bad = 0
for i in range(1, n + 1):
    k = b"key:%d" % i
    if op == "set":
        v = val(i)
        s.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (k, len(v), v))
        if f.readline() != b"STORED\r\n": bad += 1
    else:
        s.sendall(b"get %s\r\n" % k)
        line = f.readline()
        if line.startswith(b"VALUE "):
            v = f.read(int(line.split()[3]) + 2)[:-2]
            f.readline()  # END
            if v != val(i): bad += 1
        else:
            bad += 1
print(bad)
sys.exit(1 if bad else 0)
EOF

start_mc() {
	bg_start "$WORK/mc.pid" bash -c 'exec "$0" "$1" >>"$2" 2>&1' "$WRAPPER" \
		"$RUN/memcached.conf" "$RUN/mc.log"
	local pid
	pid=$(cat "$WORK/mc.pid")
	for _ in $(seq 100); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "memcached did not start: $(tail -5 "$RUN/mc.log")"
}
# Warm stop: SIGUSR1 makes memcached save its metadata beside the memory
# file and exit 0.
warm_stop() {
	local pid rc=0
	pid=$(cat "$WORK/mc.pid")
	kill -USR1 "$pid"
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "memcached did not stop on SIGUSR1"
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || fail "memcached exited $rc on SIGUSR1: $(tail -3 "$RUN/mc.log")"
	[ -s "$MNT/memory_file.meta" ] || fail "no metadata file after SIGUSR1"
	# memcached refuses the saved memory when it restarts within the
	# second it stopped in (it takes that for a clock gone wrong).
	sleep 1.1
}
check() {
	local bad
	bad=$(python3 "$WORK/mc.py" "$PORT" check "$1") || fail "$2: $bad of $1 keys missing or wrong"
	echo "$2: all $1 keys back"
}

start_mc
python3 "$WORK/mc.py" "$PORT" set 3000 >/dev/null || fail "set failed"
check 3000 "first run"
warm_stop
# The files memcached made belong to memcache, on the volume too.
bad=$(cd "$MNT" && find . -mindepth 1 ! -user memcache -printf '%P %u:%g\n')
[ -z "$bad" ] || fail "not memcache-owned in the mount: $bad"
n_mnt=$(find "$MNT" -mindepth 1 | wc -l)
n_vol=$(find "$VOL" -mindepth 1 ! -name '*.*' -user memcache -group memcache | wc -l)
[ "$n_vol" = "$n_mnt" ] || fail "$n_mnt entries in the mount, $n_vol memcache-owned on the volume"
grep -rq memcached-value- "$VOL" && fail "a value is on disk in the clear"

start_mc
check 3000 "warm restart"
warm_stop
atr_umount "$MNT"
atr_mount "$VOL" "$MNT" -o allow_other
[ "$(stat -c '%U:%G %a' "$MNT")" = "memcache:memcache 750" ] ||
	fail "mount root after remount: $(stat -c '%U:%G %a' "$MNT")"
start_mc
check 3000 "warm restart after remount"
warm_stop
atr_umount "$MNT"
[ "$(stat -c '%U:%G %a' "$VOL")" = "root:root 700" ] || fail "VOLUME is $(stat -c '%U:%G %a' "$VOL")"
echo "memcached as memcache: 3000 keys through two warm restarts and a remount"
