#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `atrestfs create` with the keyfile source as an operator meets it: a new
# key file is announced, an existing one is reused only if it is a private
# 32-byte regular file, every refusal has its exit status and leaves nothing
# behind, and `info` refuses a broken or tampered config with status 4 and
# names the field.
source "$(dirname "$0")/../lib/common.sh"
expect() {  # expect RC PATTERN CMD...
	local rc=$1 pat=$2 out got=0
	shift 2
	out=$("$@" 2>&1) || got=$?
	[ "$got" = "$rc" ] || fail "$*: exit $got, expected $rc ($out)"
	grep -qE -- "$pat" <<<"$out" || fail "$*: output lacks '$pat': $out"
}
K=$WORK/key

# A new key file: made 0400 with 32 bytes, and said so on stderr.
out=$(atr create --key-source "keyfile:$K" "$WORK/v1" 2>"$WORK/err")
grep -q "created keyfile $K" "$WORK/err" || fail "no notice of the new keyfile: $(cat "$WORK/err")"
[ "$(stat -c '%a %s %u' "$K")" = "400 32 $(id -u)" ] || fail "keyfile: $(stat -c '%a %s %u' "$K")"
uuid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uuid"])' "$WORK/v1/atrestfs.conf")
grep -q "$uuid" <<<"$out" || fail "create does not print the UUID: $out"
grep -q "keyfile" <<<"$out" || fail "create does not print the key source: $out"
[ "$(stat -c %a "$WORK/v1")" = 700 ] || fail "a new volume directory is not 0700"
wrapped=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_source"]["wrapped_key"])' "$WORK/v1/atrestfs.conf")
grep -qF "$wrapped" <<<"$out$(cat "$WORK/err")" && fail "create printed the wrapped key"
python3 - "$WORK/v1/atrestfs.conf" "$K" <<'EOF' || fail "config content"
import json, sys
c = json.load(open(sys.argv[1]))
assert sorted(c) == sorted(["format", "uuid", "created", "encryption", "cipher", "block_size", "names", "key_source", "mac"]), c
assert c["encryption"] is True and c["format"] == 3
assert sorted(c["key_source"]) == ["path", "type", "wrapped_key"], c["key_source"]
assert c["key_source"]["path"] == sys.argv[2]
EOF

# The same key file for a second volume: reused, unchanged, another UUID.
sum=$(sha256sum <"$K")
atr create --key-source "keyfile:$K" "$WORK/v2" >/dev/null 2>"$WORK/err"
grep -q "created keyfile" "$WORK/err" && fail "an existing keyfile was announced as new"
[ "$(sha256sum <"$K")" = "$sum" ] || fail "an existing keyfile was rewritten"
cmp -s "$WORK/v1/atrestfs.conf" "$WORK/v2/atrestfs.conf" && fail "two volumes, one config"

# Refusals by the key source: status 3, and the directory create made is gone.
cp "$K" "$WORK/loose"; chmod 0644 "$WORK/loose"
expect 3 "accessible by group or others \(mode 0644\): chmod 0400 it" \
	atr create --key-source "keyfile:$WORK/loose" "$WORK/v3"
[ ! -e "$WORK/v3" ] || fail "a refused create left its directory"
head -c 31 /dev/urandom >"$WORK/short"; chmod 0400 "$WORK/short"
expect 3 "has 31 bytes" atr create --key-source "keyfile:$WORK/short" "$WORK/v3"
ln -s "$K" "$WORK/link"
expect 3 "symbolic link" atr create --key-source "keyfile:$WORK/link" "$WORK/v3"
mkfifo -m 0400 "$WORK/fifo"
expect 3 "not a regular file" timeout 10 "$ATRESTFS" create --key-source "keyfile:$WORK/fifo" "$WORK/v3"
[ ! -e "$WORK/v3" ] || fail "a refused create left its directory"
# An existing empty directory stays, empty, with its mode.
mkdir -m 0750 "$WORK/empty"
expect 3 "accessible by group or others" atr create --key-source "keyfile:$WORK/loose" "$WORK/empty"
[ -d "$WORK/empty" ] && [ -z "$(ls -A "$WORK/empty")" ] || fail "a refused create changed an existing directory"
[ "$(stat -c %a "$WORK/empty")" = 750 ] || fail "a refused create changed the directory mode"
expect 1 "unrecognized option|usage" atr create --bogus "$WORK/v3"
# --format: 3 by default, 2 for nodes with an older atrestfs, nothing else.
for f in 1 4 02 x ""; do
	expect 1 "--format $f: this version creates format 3 \(the default\) or 2" \
		atr create --format "$f" --key-source "keyfile:$K" "$WORK/v3"
done
[ ! -e "$WORK/v3" ] || fail "a refused --format left a directory"
atr create --format 2 --key-source "keyfile:$K" "$WORK/v2f" >/dev/null 2>&1
atr info "$WORK/v2f" | grep -qE "^format: +2$" || fail "--format 2: $(atr info "$WORK/v2f")"
atr create --format 3 --no-encryption "$WORK/v3f" >/dev/null
atr info "$WORK/v3f" | grep -qE "^format: +3$" || fail "--format 3: $(atr info "$WORK/v3f")"

# info: the keyfile and the wrapped key's presence, never its value.
out=$(atr info "$WORK/v1")
grep -qE "wrapped key: *present, 40 bytes" <<<"$out" || fail "info: $out"
grep -qF "$wrapped" <<<"$out" && fail "info prints the wrapped key"

# info on broken configs: status 4, the field named.
broken() {  # broken PATTERN PYTHON: edit a copy of v1's config, expect a refusal
	local pat=$1 code=$2 d
	d=$(mktemp -d "$WORK/b.XXXXXX")
	cp -p "$WORK/v1/atrestfs.conf" "$d/"
	chmod u+w "$d/atrestfs.conf"
	python3 - "$d/atrestfs.conf" "$code" <<'EOF'
import json, sys
p, code = sys.argv[1], sys.argv[2]
text = open(p).read()
c = json.loads(text)
exec(code)
open(p, "w").write(text if isinstance(c, str) and c == "raw" else json.dumps(c))
EOF
	expect 4 "$pat" atr info "$d"
}
broken '"extra"' 'c["extra"] = 1'
broken '"block_size"' 'c["block_size"] = "4096"'
broken 'format 4 is newer' 'c["format"] = 4'
broken 'uuid' 'c["uuid"] = c["uuid"].upper()'
broken 'created' 'c["created"] = "2026-02-30T00:00:00Z"'
broken 'key_source' 'c["key_source"]["mode"] = "0400"'
broken 'cipher' 'c["cipher"] = "AES-128-GCM"'
broken 'not valid JSON' 'text = text[:-5]; c = "raw"'
broken 'not valid JSON' 'text = text + "{}"; c = "raw"'
broken 'not valid JSON' 'text = text.replace("\"format\": 3,", "\"format\": 3, \"format\": 3,"); c = "raw"'
d=$WORK/big; mkdir "$d"; head -c 70000 /dev/zero | tr '\0' ' ' >"$d/atrestfs.conf"
expect 4 "limit" atr info "$d"
echo "create with keyfile, and info on broken configs: all cases hold"
