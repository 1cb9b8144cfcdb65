#!/usr/bin/env bash
# `atrestfs status`: an encrypted and a plain mount listed with their
# fields; the counters follow writes and reads (exact byte counts); a
# tampered block shows as an authentication failure naming the file (a
# hostile name, escaped); non-root is refused by the command and by the
# daemon; hostile requests get nothing; --json parses, --prometheus passes
# a strict format check; a kms_recheck mount goes allowed -> revoked when
# the fake KMS disables the key; the exit codes for "not an atrestfs
# mount" and "daemon not answering".
source "$(dirname "$0")/../lib/common.sh"
source "$TOP/tests/lib/fake_kms.sh"
E=$WORK/mnt-enc P=$WORK/mnt-plain K=$WORK/mnt-kms
VE=$WORK/vol-enc VP=$WORK/vol-plain VK=$WORK/vol-kms KEY=$WORK/key
mkdir -p "$E" "$P" "$K"
make_keyfile_volume "$VE" "$KEY"
atr create --no-encryption "$VP" >/dev/null
atr_mount "$VE" "$E"
atr_mount "$VP" "$P" -o encryption=off

# jf MNT EXPR: a field of MNT's --json entry (python expression on d)
jf() { atr status --json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(eval(sys.argv[1]))' "$2"; }
daemon_of() {
	for p in $(pgrep -f "$ATRESTFS"); do
		if tr '\0' ' ' </proc/$p/cmdline 2>/dev/null | grep -q " $1 "; then echo "$p"; fi
	done | awk 'NR == 1' # the daemon; its helper children come later
}
# Unmount and wait for the daemon to let go of the volume (a loaded
# machine may take longer than the mount's own wait for the volume lock).
umount_wait() {
	local pid
	pid=$(daemon_of "$1")
	atr_umount "$1"
	wait_for 60 eval '! kill -0 "$pid" 2>/dev/null' || fail "daemon $pid still running after unmount"
}

# 1. Both mounts listed, with their fields.
out=$(atr status "$E")
uuid=$(atr info "$VE" | awk '/^uuid:/ {print $2}')
for want in "^$E\$" "volume: +$VE\$" "uuid: +$uuid\$" "format: +3\$" "encrypted: +yes\$" \
	"key source: +keyfile path=$KEY\$" "daemon pid: +$(daemon_of "$E")\$" \
	"mounted since: +$(date -u +%Y-%m-%d)T" "auth failures: +0\$" "open files: +0\$"; do
	grep -qE "$want" <<<"$out" || fail "status $E lacks /$want/: $out"
done
out=$(atr status "$P")
for want in "volume: +$VP\$" "encrypted: +no\$" "key source: +none\$" "daemon pid: +$(daemon_of "$P")\$"; do
	grep -qE "$want" <<<"$out" || fail "status $P lacks /$want/: $out"
done
all=$(atr status) || true # other mounts of this machine may not answer
grep -qx "$E" <<<"$all" && grep -qx "$P" <<<"$all" || fail "status without a mount point lists: $all"
echo "listed: encrypted and plain mounts with their fields"

# 2. Counters: exact bytes written and read back (a fresh mount has no
# cached pages, so the read reaches the daemon).
head -c 10000 /dev/urandom >"$WORK/data"
for m in "$E" "$P"; do
	w0=$(jf "$m" "d['bytes_written']") b0=$(jf "$m" "d['blocks_written']")
	dd if="$WORK/data" of="$m/f" bs=10000 conv=fsync status=none
	[ "$(jf "$m" "d['bytes_written']")" = $((w0 + 10000)) ] || fail "$m: bytes_written $w0 -> $(jf "$m" "d['bytes_written']"), expected +10000"
	[ "$(jf "$m" "d['blocks_written']")" -ge $((b0 + 3)) ] || fail "$m: blocks_written $b0 -> $(jf "$m" "d['blocks_written']")"
done
umount_wait "$E"
atr_mount "$VE" "$E"
exec 8<"$E/f"
[ "$(jf "$E" "d['open_files']")" = 1 ] || fail "open_files with one file open: $(jf "$E" "d['open_files']")"
[ "$(jf "$E" "d['cached_inodes']")" -ge 1 ] || fail "cached_inodes: $(jf "$E" "d['cached_inodes']")"
cmp - "$WORK/data" <&8 || fail "read back"
exec 8<&-
[ "$(jf "$E" "d['bytes_read']")" = 10000 ] || fail "bytes_read $(jf "$E" "d['bytes_read']"), expected 10000"
[ "$(jf "$E" "d['blocks_read']")" = 3 ] || fail "blocks_read $(jf "$E" "d['blocks_read']"), expected 3"
[ "$(jf "$E" "d['open_files']")" = 0 ] || fail "open_files after close"
echo "counters: 10000 bytes written and read, 3 blocks read; open_files 1 -> 0"

# 3. A tampered block: an authentication failure naming the file, whose
# name is hostile (newline, escape sequence, quote, backslash).
bad=$'bad\nname\e[31m"q\\'
head -c $((3 * 4096)) /dev/urandom >"$E/$bad"
umount_wait "$E"
H=$(content_header_len "$VE")
F=$(find "$VE" -type f -size "$((H + 3 * 4128))c")
[ -n "$F" ] || fail "backing file not found"
python3 -c 'import os,sys; fd=os.open(sys.argv[1], os.O_RDWR); o=int(sys.argv[2])+4128+100; b=bytearray(os.pread(fd,1,o)); b[0]^=1; os.pwrite(fd,bytes(b),o)' "$F" "$H"
atr_mount "$VE" "$E"
t0=$(date +%s)
! cat "$E/$bad" >/dev/null 2>&1 || fail "tampered block read"
out=$(atr status "$E")
esc='/bad\x0aname\x1b[31m\"q\\'
grep -qE "auth failures: +[1-9]" <<<"$out" || fail "no auth failure counted: $out"
grep -qF "in $esc (mount path)" <<<"$out" || fail "failing path not shown escaped: $out"
! grep -q $'\e' <<<"$out" || fail "raw escape byte in the output"
[ "$(jf "$E" "d['last_auth_failure']['path']")" = "$esc" ] || fail "json path: $(jf "$E" "d['last_auth_failure']")"
[ "$(jf "$E" "d['last_auth_failure']['time']")" -ge "$t0" ] || fail "failure time"
echo "tampered block: $(grep "auth failures" <<<"$out" | sed 's/^ *//')"

# 4. Root only: the command, and the daemon itself (a non-root peer that
# can reach the socket, through CAP_DAC_OVERRIDE, is refused by SO_PEERCRED).
rc=0
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$ATRESTFS" status "$E" 2>&1) || rc=$?
[ "$rc" = 4 ] && grep -q "only root" <<<"$out" || fail "non-root status: rc $rc: $out"
major_minor=$(findmnt -rn -o MAJ:MIN -M "$E")
sock=/run/atrestfs/$major_minor.sock
[ -S "$sock" ] || fail "no socket $sock"
# The name is the mount's device number, which the kernel hands to the next
# FUSE mount once this one is gone (other tests may mount meanwhile): the
# socket is told apart by its inode.
sock_ino=$(stat -c %i "$sock")
[ "$(stat -c %a:%U /run/atrestfs)" = 700:root ] || fail "/run/atrestfs is $(stat -c %a:%U /run/atrestfs)"
# ask REQUEST: what the daemon answers (it may close before reading it all)
ASK_PY='import socket,sys; s=socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1]); b=b""
try: s.sendall(sys.argv[2].encode())
except OSError: pass
while True:
    try: c=s.recv(65536)
    except OSError: break
    if not c: break
    b+=c
print(b.decode().strip())'
ask() { python3 -c "$ASK_PY" "$sock" "$1"; }
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+dac_override --ambient-caps=+dac_override \
	python3 -c "$ASK_PY" "$sock" $'status 1\n')
grep -q "permission denied: only root" <<<"$out" || fail "daemon answered a non-root peer: $out"
echo "non-root: refused by the command (exit 4) and by the daemon"
# Hostile requests: refused; the daemon still answers afterwards.
[ "$(ask $'status 2\n')" = '{"error": "bad request"}' ] || fail "bad request answered: $(ask $'status 2\n')"
[ "$(ask "$(head -c 100000 /dev/zero | tr '\0' x)")" = '{"error": "bad request"}' ] || fail "oversized request answered"
[ "$(ask "")" = '{"error": "bad request"}' ] || fail "an empty request answered"
jf "$E" "d['pid']" >/dev/null || fail "no answer after hostile requests"
echo "hostile requests: refused, daemon still answers"

# 5. --json and --prometheus formats.
atr status --json "$E" | python3 -m json.tool >/dev/null || fail "--json does not parse"
atr status --prometheus "$E" >"$WORK/prom"
atr status --prometheus "$P" >>"$WORK/prom.p"
python3 - "$WORK/prom" <<'PY' || fail "--prometheus format: $(cat "$WORK/prom")"
# Strict check of the text exposition format (node_exporter textfile).
import re, sys
name = r"atrestfs_[a-zA-Z0-9_]+"
lab = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r"^(%s)\{(%s(?:,%s)*)\} (-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)$" % (name, lab, lab))
help_, type_ = re.compile(r"^# HELP (%s) \S.*$" % name), re.compile(r"^# TYPE (%s) (counter|gauge)$" % name)
seen, cur, types, n = set(), None, {}, 0
for line in open(sys.argv[1]).read().split("\n")[:-1]:
    if m := help_.match(line):
        assert m[1] not in seen, "HELP twice: " + line; seen.add(m[1]); cur = m[1]
    elif m := type_.match(line):
        assert m[1] == cur and m[1] not in types, "TYPE out of place: " + line; types[m[1]] = m[2]
    elif m := sample.match(line):
        assert m[1] == cur and cur in types, "sample outside its family: " + line
        assert types[cur] != "counter" or cur.endswith("_total"), "counter without _total: " + cur
        assert 'mountpoint="' in m[2] and 'uuid="' in m[2], "labels: " + line; n += 1
    else:
        raise SystemExit("bad line: %r" % line)
assert n >= 10, "only %d samples" % n
PY
puuid=$(atr info "$VP" | awk '/^uuid:/ {print $2}')
grep -q "^atrestfs_written_bytes_total{mountpoint=\"$P\",uuid=\"$puuid\"} 10000$" "$WORK/prom.p" || fail "prometheus counter: $(grep written_bytes "$WORK/prom.p")"
grep -q '^atrestfs_auth_failures_total{.*} [1-9]' "$WORK/prom" || fail "prometheus auth failures"
grep -q '^atrestfs_encrypted{.*} 0$' "$WORK/prom.p" || fail "prometheus plain mount"
if command -v promtool >/dev/null; then promtool check metrics <"$WORK/prom" || fail "promtool"; fi
echo "formats: --json parses, --prometheus passes the strict check ($(grep -vc '^#' "$WORK/prom") samples)"

# 6. kms_recheck: allowed, then revoked when the key is disabled.
start_fake_kms
atr create --key-source kms:alias/x --kms-endpoint "$URL" "$VK" >/dev/null
atr_mount "$VK" "$K" -o kms_recheck=1,kms_grace=5
[ "$(jf "$K" "d['kms_recheck']['state']")" = allowed ] || fail "kms state: $(jf "$K" "d['kms_recheck']")"
wait_for 10 eval '[ "$(jf "$K" "d[\"kms_recheck\"][\"last_check\"]")" != None ]' || fail "no check seen"
[ "$(jf "$K" "d['key_source']['type']")" = kms ] || fail "key source type"
[ "$(jf "$K" "d['key_source']['endpoint']")" = "$URL" ] || fail "key source endpoint: $(jf "$K" "d['key_source']")"
t0=$(date +%s)
mode disabled
wait_for 10 eval '[ "$(jf "$K" "d[\"kms_recheck\"][\"state\"]")" = revoked ]' || fail "not revoked: $(jf "$K" "d['kms_recheck']")"
[ "$(jf "$K" "d['kms_recheck']['since']")" -ge "$t0" ] || fail "revoked since"
grep -qE "kms key: +revoked since .*, last check .* \(every 1s\)" <<<"$(atr status "$K")" || fail "text: $(atr status "$K")"
mode ok
wait_for 10 eval '[ "$(jf "$K" "d[\"kms_recheck\"][\"state\"]")" = allowed ]' || fail "not allowed again"
echo "kms_recheck: allowed -> revoked -> allowed"

# 7. Exit codes: not an atrestfs mount; a daemon that does not answer.
rc=0; out=$(atr status "$WORK" 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q "is not an atrestfs mount" <<<"$out" || fail "non-mount: rc $rc: $out"
rc=0; atr status --json --prometheus "$E" >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "--json --prometheus: rc $rc"
pid=$(daemon_of "$P")
kill -9 "$pid"
rc=0; out=$(atr status "$P" 2>&1) || rc=$?
[ "$rc" = 5 ] && grep -q "the daemon is not answering" <<<"$out" || fail "dead daemon: rc $rc: $out"
umount -l "$P"
# Unmounted: the socket is gone with the daemon.
atr_umount "$E"
[ ! -e "$sock" ] || [ "$(stat -c %i "$sock" 2>/dev/null)" != "$sock_ino" ] ||
	fail "$sock left after unmount"
echo "exit codes: 2 not a mount, 1 usage, 5 not answering; socket removed at unmount"
echo "status command: ok"
