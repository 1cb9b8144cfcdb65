#!/usr/bin/env bash
# The mounted daemon runs confined: no_new_privs, a seccomp filter, and only
# the capabilities doc/daemon.md lists, on every thread (the worker threads
# the session loop starts under load included), for an encrypted and a
# plain volume; and it still serves.
source "$(dirname "$0")/../lib/common.sh"
# CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID SETGID SETUID MKNOD
KEPT=00000000080000df

daemon_pid() {
	for p in $(pgrep -f "$ATRESTFS"); do
		tr '\0' ' ' </proc/$p/cmdline | grep -q " $1" && echo "$p"
	done | awk "NR == 1" || true
}

check_confined() {
	local pid=$1 t n=0
	for t in /proc/$pid/task/*; do
		n=$((n + 1))
		grep -q "^NoNewPrivs:[[:space:]]1$" "$t/status" || fail "$t: no_new_privs not set"
		grep -q "^Seccomp:[[:space:]]2$" "$t/status" || fail "$t: no seccomp filter"
		for s in CapEff CapPrm CapBnd; do
			grep -q "^$s:[[:space:]]$KEPT$" "$t/status" ||
				fail "$t: $(grep "^$s:" "$t/status"), expected $KEPT"
		done
		grep -q "^CapInh:[[:space:]]0000000000000000$" "$t/status" || fail "$t: inheritable caps left"
		grep -q "^CapAmb:[[:space:]]0000000000000000$" "$t/status" || fail "$t: ambient caps left"
	done
	echo "daemon $pid: $n threads, each NoNewPrivs 1, Seccomp 2, CapEff=CapBnd=$KEPT"
}

for kind in encrypted plain; do
	mount_fresh $kind
	pid=$(daemon_pid "$MNT")
	[ -n "$pid" ] || fail "daemon pid not found"
	# Work in parallel so that the loop starts more worker threads.
	for i in 1 2 3 4; do
		(mkdir -p "$MNT/d$i" && for j in $(seq 50); do
			echo "$i $j" >"$MNT/d$i/f$j"; cat "$MNT/d$i/f$j" >/dev/null
		done) &
	done
	wait
	mkfifo "$MNT/fifo"; ln -s d1/f1 "$MNT/link"; chown 1234:1234 "$MNT/d1/f2"
	chmod 0600 "$MNT/d1/f3"; setfattr -n user.x -v y "$MNT/d1/f4"
	[ "$(cat "$MNT/link")" = "1 1" ] || fail "read through the sandboxed daemon"
	[ "$(stat -c %u "$MNT/d1/f2")" = 1234 ] || fail "chown under the sandbox"
	check_confined "$pid"
	atr_umount "$MNT"
	for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && fail "daemon did not exit after unmount"
	rm -rf "$WORK/vol" "$WORK/key"
done
echo "sandboxed daemon checks passed"
