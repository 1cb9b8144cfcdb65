#!/usr/bin/env bash
# `atrestfs create` and `info` as a user meets them: a volume is created in a
# new or empty directory and nowhere else; creating over a volume or a
# non-empty directory is refused; bad command lines get usage errors; info
# shows everything but secrets; every command has --help.
source "$(dirname "$0")/../lib/common.sh"
expect() {  # expect RC PATTERN CMD...
	local rc=$1 pat=$2 out got=0
	shift 2
	out=$("$@" 2>&1) || got=$?
	[ "$got" = "$rc" ] || fail "$*: exit $got, expected $rc ($out)"
	grep -qE "$pat" <<<"$out" || fail "$*: output lacks '$pat': $out"
}
V=$WORK/vol K=$WORK/key
expect 0 "created encrypted volume" atr create --key-source "keyfile:$K" "$V"
[ "$(stat -c %a "$K")" = 400 ] || fail "keyfile mode"
[ "$(stat -c %a "$V/atrestfs.conf")" = 400 ] || fail "config mode"
expect 2 "already an atrestfs volume" atr create --key-source "keyfile:$K" "$V"
expect 2 "already an atrestfs volume" atr create --no-encryption "$V"
mkdir "$WORK/full"; echo x >"$WORK/full/data"
expect 2 "not empty.*never adopted" atr create --key-source "keyfile:$K" "$WORK/full"
[ "$(ls "$WORK/full")" = data ] || fail "a refused create touched the directory"
mkdir "$WORK/empty"; chmod 0750 "$WORK/empty"
expect 0 "created plain" atr create --no-encryption "$WORK/empty"
[ "$(stat -c %a "$WORK/empty")" = 750 ] || fail "create changed an empty directory's mode"
echo x >"$WORK/file"
expect 2 "not a directory" atr create --no-encryption "$WORK/file"
expect 1 "exclude each other" atr create --no-encryption --key-source "keyfile:$K" "$WORK/v2"
expect 1 "needs --key-source" atr create "$WORK/v2"
expect 1 "unknown key source" atr create --key-source floppy:/x "$WORK/v2"
expect 3 "needs a path" atr create --key-source keyfile "$WORK/v2"
[ ! -e "$WORK/v2" ] || fail "a failed create left its directory"
expect 1 "usage" atr create --key-source "keyfile:$K"
expect 1 "usage" atr
expect 1 "usage" atr info
expect 2 "not an atrestfs volume" atr info "$WORK/full"
out=$(atr info "$V")
for f in "uuid:" "created:" "encryption: *yes" "cipher: *AES-256-GCM" "names: *AES-256-SIV" "key source: *keyfile" "keyfile: *$K"; do
	grep -qE "$f" <<<"$out" || fail "info lacks $f: $out"
done
wrapped=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_source"]["wrapped_key"])' "$V/atrestfs.conf")
grep -qF "$wrapped" <<<"$out" && fail "info prints the wrapped key"
expect 0 "encryption: *no" atr info "$WORK/empty"
for c in "" create info mount guard-mountpoint; do
	expect 0 "usage" atr $c --help
done
expect 0 "atrestfs [0-9]" atr --version
echo "create/info: all cases hold"
