#!/usr/bin/env bash
# Where the daemon's lines go, in a private mount namespace with a /dev of
# its own (the nodes a mount needs, and a /dev/log or none):
# 1. no /dev/log: a daemonized mount's lines (failed authentication of a
#    tampered block) reach the stderr it was started with; a flood of
#    thousands of failed reads gives a bounded number of lines and a
#    "N similar messages suppressed" count; every line names the volume
#    UUID; the audit line goes to stderr too;
# 2. on a terminal without /dev/log, the mount says the daemon's lines will
#    be lost with the terminal; with stderr a pipe, the pipe is not held
#    (out=$(atrestfs mount ...) returns) and the mount says the daemon
#    cannot log anywhere; lines to a file carry a UTC time, to the journal
#    (JOURNAL_STREAM) not;
# 3. a private syslog receiver on /dev/log gets the audit line and the
#    daemon's lines; restarted while mounted, later lines are not lost
#    (they go to the kept stderr, with a note).
if [ -z "${ATR_LOGS_NS:-}" ]; then
	command -v unshare >/dev/null || { echo "SKIP: unshare(1) missing" >&2; exit 77; }
	exec unshare -m --propagation private env ATR_LOGS_NS=1 bash "$0" "$@"
fi
source "$(dirname "$0")/../lib/common.sh"

DEV=$WORK/dev
mkdir -p "$DEV/pts"
cp -a /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/fuse "$DEV/"
ln -s /proc/self/fd "$DEV/fd"
for i in 0 1 2; do ln -s "/proc/self/fd/$i" "$DEV/$(echo stdin stdout stderr | cut -d' ' -f$((i + 1)))"; done
ln -s pts/ptmx "$DEV/ptmx"
mount --bind "$DEV" /dev
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
on_exit "umount -l /dev/pts"
[ ! -e /dev/log ] || fail "a /dev/log in the private /dev"

B=4096 C=4128
VOL=$WORK/vol MNT=$WORK/mnt
mkdir -p "$MNT"
make_keyfile_volume "$VOL" "$WORK/key"
H=$(content_header_len "$VOL")
UUID=$(atr info "$VOL" | awk '/^uuid:/ {print $2}')
atr_mount "$VOL" "$MNT"
head -c $((3 * B)) /dev/urandom >"$MNT/f"
atr_umount "$MNT"
f=$(find "$VOL" -type f -size "$((H + 3 * C))c")
[ -n "$f" ] || fail "backing file not found"
python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDWR); o=$H+$C+100; b=bytearray(os.pread(fd,1,o)); b[0]^=1; os.pwrite(fd,bytes(b),o)" "$f"

# The daemon serving $MNT (by its command line and binary), killed on exit.
daemon_pid() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$(readlink -f "$ATRESTFS")" ] || continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q " $MNT" && { echo "${p#/proc/}"; return; }
	done
}
mount_logged() {  # mount_logged STDERR-FILE: daemonized, stderr there
	atr_mount "$VOL" "$MNT" 2>"$1"
	PID=$(daemon_pid)
	[ -n "$PID" ] || fail "no daemon for $MNT"
	on_exit "kill $PID"
}
umount_wait() {
	atr_umount "$MNT"
	for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || return 0; sleep 0.1; done
	fail "daemon $PID still running after unmount"
}
# fail_reads N: N reads of the tampered block, each must fail with EIO
fail_reads() {
	python3 - "$MNT/f" "$1" <<'PY'
import errno, os, sys
for _ in range(int(sys.argv[2])):
    fd = os.open(sys.argv[1], os.O_RDONLY)
    try:
        os.pread(fd, 4096, 4096)
        sys.exit("read of the tampered block succeeded")
    except OSError as e:
        if e.errno != errno.EIO:
            raise
    finally:
        os.close(fd)
PY
}

# 1. No /dev/log: stderr, bounded under a flood, the volume on every line.
mount_logged "$WORK/d1.err"
grep -q "audit: mount volume=.*uuid=$UUID .*outcome=mounted" "$WORK/d1.err" ||
	fail "no audit line on stderr: $(cat "$WORK/d1.err")"
fail_reads 1
for _ in $(seq 50); do grep -q "failed authentication" "$WORK/d1.err" && break; sleep 0.1; done
grep -qE "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z atrestfs\[$PID\]: volume $UUID: block 1 of inode .* failed authentication" "$WORK/d1.err" ||
	fail "the daemon's line is not on its stderr: $(cat "$WORK/d1.err")"
t0=$(date +%s)
fail_reads 3000
secs=$(($(date +%s) - t0 + 1))
umount_wait
lines=$(grep -c "failed authentication: returning EIO" "$WORK/d1.err")
max=$((10 + 2 + secs / 6))
[ "$lines" -ge 10 ] && [ "$lines" -le "$max" ] ||
	fail "$lines lines for 3001 failed reads in $secs s, expected 10 to $max"
n=$(sed -n 's/.*volume '"$UUID"': \([0-9]*\) similar messages suppressed: "block %llu of inode.*/\1/p' "$WORK/d1.err" |
	awk '{s += $1} END {print s + 0}')
[ "$n" -ge 2900 ] || fail "suppressed count $n: $(tail -3 "$WORK/d1.err")"
grep "Z atrestfs\[$PID\]" "$WORK/d1.err" | grep -v "volume $UUID: " && fail "a daemon line without the volume"
echo "no /dev/log: $lines lines and a count of $n suppressed for 3001 failed reads in $secs s, on stderr"

# 2. A terminal and no /dev/log: the mount says the lines go with it.
python3 - "$ATRESTFS" "$VOL" "$MNT" >"$WORK/tty.out" <<'PY'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "mount", sys.argv[2], sys.argv[3]])
out = b""
while True:  # until the mount command exits (the daemon keeps the terminal)
    if select.select([fd], [], [], 0.1)[0]:
        try:
            out += os.read(fd, 4096)
        except OSError:
            pass
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(st))
PY
_mounts+=("$MNT")
PID=$(daemon_pid)
on_exit "kill $PID"
grep -q "warning: volume $UUID: no syslog (/dev/log): the daemon logs to this terminal" "$WORK/tty.out" ||
	fail "no warning on the terminal: $(cat "$WORK/tty.out")"
umount_wait
echo "terminal without /dev/log: warned"

# Standard error a pipe read to its end, no /dev/log: the pipe is not held
# (the reader gets its end when the mount command exits) and the mount
# says the daemon cannot log anywhere.
out=$(timeout 30 "$ATRESTFS" mount "$VOL" "$MNT" 2>&1) || fail "mount with stderr on a pipe: exit $? ($out)"
_mounts+=("$MNT")
PID=$(daemon_pid)
on_exit "kill $PID"
grep -q "warning: volume $UUID: the daemon cannot log anywhere: no syslog (/dev/log) and standard error is a pipe" <<<"$out" ||
	fail "no warning: $out"
umount_wait
echo "stderr a pipe, no /dev/log: not held, warned"

# Standard error the journal (as systemd names it in JOURNAL_STREAM): the
# lines carry no time of their own (the journal stamps them).
: >"$WORK/journal"
JOURNAL_STREAM=$(stat -c %d:%i "$WORK/journal") atr_mount "$VOL" "$MNT" 2>>"$WORK/journal"
PID=$(daemon_pid)
on_exit "kill $PID"
fail_reads 1
umount_wait
grep -q "^atrestfs\[$PID\]: volume $UUID: block 1 of inode .* failed authentication" "$WORK/journal" ||
	fail "journal lines: $(cat "$WORK/journal")"
echo "stderr the journal: lines without a time stamp"

# 3. A private syslog receiver, restarted while mounted.
receiver() {  # receiver OUTFILE: a datagram syslog on /dev/log
	rm -f /dev/log
	bg_start "$WORK/rx.pid" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "ab") as out:
    while True:
        out.write(s.recv(65536) + b"\n"); out.flush()' "$1"
	for _ in $(seq 50); do [ -S /dev/log ] && return; sleep 0.1; done
	fail "no syslog receiver"
}
receiver "$WORK/syslog1"
mount_logged "$WORK/d3.err"
for _ in $(seq 50); do grep -q "outcome=mounted" "$WORK/syslog1" && break; sleep 0.1; done
grep -qa "^<85>.* atrestfs\[[0-9]*\]: mount volume=.*uuid=$UUID .*outcome=mounted" "$WORK/syslog1" ||
	fail "no audit line in syslog: $(cat "$WORK/syslog1")"
! grep -q "audit:" "$WORK/d3.err" || fail "audit line on stderr with a syslog: $(cat "$WORK/d3.err")"
fail_reads 1
for _ in $(seq 50); do grep -q "failed authentication" "$WORK/syslog1" && break; sleep 0.1; done
grep -qa "^<28>.* atrestfs\[$PID\]: volume $UUID: block 1 of inode .* failed authentication" "$WORK/syslog1" ||
	fail "the daemon's line is not in syslog: $(cat "$WORK/syslog1")"
before=$(grep -c "failed authentication" "$WORK/syslog1")
kill "$(cat "$WORK/rx.pid")"
receiver "$WORK/syslog2"
fail_reads 2
for _ in $(seq 50); do grep -q "failed authentication" "$WORK/d3.err" && break; sleep 0.1; done
grep -q "Z atrestfs\[$PID\]: volume $UUID: syslog went away (Connection refused)" "$WORK/d3.err" ||
	fail "no note of the lost syslog: $(cat "$WORK/d3.err")"
after=$(grep -c "failed authentication" "$WORK/d3.err" || true)
[ "$after" -ge 2 ] || fail "lines after the syslog restart lost: $(cat "$WORK/d3.err")"
[ "$(grep -c "failed authentication" "$WORK/syslog1")" = "$before" ] || fail "syslog1 grew after its restart"
! grep -q "suppressed" "$WORK/d3.err" || fail "lines were suppressed: $(cat "$WORK/d3.err")"
umount_wait
echo "syslog restarted while mounted: $before line(s) in syslog before, $after on stderr after"
echo "daemon logs: ok"
