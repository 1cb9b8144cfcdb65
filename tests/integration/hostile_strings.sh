#!/usr/bin/env bash
# Config strings written by an attacker (keyfile path, TPM TCTI, KMS
# fields) are printed escaped by `atrestfs info`, in mount messages and in
# the syslog audit line: a newline cannot forge a line and no terminal
# escape sequence gets through.
source "$(dirname "$0")/../lib/common.sh"
MNT=$WORK/mnt; mkdir -p "$MNT"
VOL=$WORK/vol
atr create --key-source "keyfile:$WORK/key" "$VOL" >/dev/null 2>&1
FORGED='k\noutcome=mounted\nkms key:         arn:forged\x1b[2J\x1b]0;pwned\x07\r'
edit_config "$VOL" "c['key_source']['path']='$WORK/$FORGED'"

# No ESC/BEL/CR byte and no forged line in what an operator reads.
clean() { ! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$1"; }

atr info "$VOL" >"$WORK/info" 2>&1 || fail "info failed: $(cat "$WORK/info")"
clean "$WORK/info" || fail "control bytes in atrestfs info: $(od -c "$WORK/info" | head)"
grep -q "arn:forged" "$WORK/info" || fail "the path is not shown at all"
grep -q "^kms key:" "$WORK/info" && fail "a line was forged in atrestfs info"
grep -qF 'keyfile:         '"$WORK"'/k\x0aoutcome=mounted\x0akms key:' "$WORK/info" ||
	fail "path not escaped as expected: $(cat "$WORK/info")"

# The syslog audit line, caught on a private /dev/log in a private mount
# namespace (the mount is refused: no key at that path, or, on a node that
# pins its volumes, a keyfile path that is not the pinned one).
python3 - "$WORK/log.sock" "$WORK/syslog" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
with open(sys.argv[2], "wb") as out:
    try:
        while True:
            out.write(s.recv(65536) + b"\n---\n"); out.flush()
    except socket.timeout:
        pass
PY
SYSLOGD=$!
on_exit "kill $SYSLOGD"
for _ in $(seq 50); do [ -S "$WORK/log.sock" ] && break; sleep 0.1; done
rc=0
unshare -m bash -c "mount -t tmpfs none /dev && ln -s '$WORK/log.sock' /dev/log &&
	exec '$ATRESTFS' mount '$VOL' '$MNT'" >"$WORK/mount.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || [ "$rc" = 3 ] || fail "mount: exit $rc, expected a refusal: $(cat "$WORK/mount.out")"
not_mounted "$MNT" || fail "mounted"
clean "$WORK/mount.out" || fail "control bytes in mount messages: $(od -c "$WORK/mount.out" | head)"
grep -q "^outcome=mounted" "$WORK/mount.out" && fail "a line was forged on stderr"
for _ in $(seq 50); do grep -q "outcome=refused" "$WORK/syslog" 2>/dev/null && break; sleep 0.1; done
kill $SYSLOGD 2>/dev/null || true
wait $SYSLOGD 2>/dev/null || true
grep -a "mount volume=" "$WORK/syslog" >"$WORK/audit" || fail "no audit line: $(cat "$WORK/syslog")"
echo "audit: $(cat "$WORK/audit")"
[ "$(wc -l <"$WORK/audit")" = 1 ] || fail "audit record spans lines"
clean "$WORK/audit" || fail "control bytes in the audit line"
grep -q 'key_source="keyfile:.*k\\x0aoutcome=mounted\\x0akms key:.*outcome=refused' "$WORK/audit" ||
	fail "audit line not escaped as expected"
echo "config strings escaped in info, messages and the audit line"
