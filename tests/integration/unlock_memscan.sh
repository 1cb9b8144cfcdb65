#!/usr/bin/env bash
# The mounted daemon holds no volume key: for each key source (keyfile,
# kms against moto_server, tpm2 against swtpm) the test learns the volume
# key on its own (unwraps the keyfile's wrapped key in python, calls KMS
# Decrypt with the aws CLI, unseals with tpm2-tools in a separate process),
# then searches every readable mapping of the mounted daemon for the 32-byte
# key, its base64 and its hex text: none may be there. The scan is shown to
# work: it finds the volume UUID in the same daemon, and the key in a
# process that does hold it.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/moto.sh"
source "$(dirname "$0")/../lib/swtpm.sh"
command -v tpm2_unseal >/dev/null || skip "tpm2-tools not installed"
python3 -c 'import cryptography' 2>/dev/null || skip "python3 cryptography (a moto dependency) missing"
SCAN=$TOP/tests/tools/memscan.py
MNT=$WORK/mnt; mkdir -p "$MNT"
cfg() { python3 -c 'import json,sys; c=json.load(open(sys.argv[1]+"/atrestfs.conf")); print(eval(sys.argv[2]))' "$1" "$2"; }

# The daemon serving $1: the process whose command line names this
# test's own mount point.
daemon_pid() {
	local p args
	for p in /proc/[0-9]*; do
		args=$(tr '\0' '\n' 2>/dev/null <"$p/cmdline") || continue
		grep -qxF "$1" <<<"$args" && grep -qx mount <<<"$args" && { echo "${p#/proc/}"; return 0; }
	done
	return 1
}

# scan PID KEYHEX [NAME=HEX...]: the scan's lines for the key's three forms.
scan() {
	local pid=$1 k=$2
	shift 2
	python3 "$SCAN" "$pid" "key=$k" \
		"key_base64=$(xxd -r -p <<<"$k" | base64 -w0 | xxd -p | tr -d '\n')" \
		"key_hex=$(printf %s "$k" | xxd -p | tr -d '\n')" "$@"
}

# check NAME VOL KEYHEX: mount VOL, scan the daemon, unmount.
check() {
	local name=$1 vol=$2 k=$3 pid out
	[ "${#k}" = 64 ] || fail "$name: the test did not learn a 32-byte key ($k)"
	atr_mount "$vol" "$MNT"
	echo "$name" >"$MNT/f"; sync
	pid=$(daemon_pid "$MNT") || fail "$name: no daemon found for $MNT"
	out=$(scan "$pid" "$k" "uuid=$(printf %s "$(cfg "$vol" 'c["uuid"]')" | xxd -p | tr -d '\n')")
	echo "$name daemon $pid: $(tr '\n' ' ' <<<"$out")"
	grep -q "^uuid found" <<<"$out" || fail "$name: the scan did not see the daemon's memory: $out"
	grep -q "^key.* found" <<<"$out" && fail "$name: the volume key is in the mounted daemon: $out"
	atr_umount "$MNT"
}

# The scan finds a key where one is held (so the checks below can fail).
K0=$(head -c 32 /dev/urandom | xxd -p | tr -d '\n')
python3 -c 'import base64,sys,time; k=bytes.fromhex(sys.argv[1]); b=base64.b64encode(k); h=k.hex().encode(); print("ready", flush=True); time.sleep(60)' "$K0" >"$WORK/holder.out" &
HOLDER=$!; _pids+=("$HOLDER")
for _ in $(seq 50); do grep -q ready "$WORK/holder.out" && break; sleep 0.1; done
out=$(scan "$HOLDER" "$K0")
for f in key key_base64 key_hex; do
	grep -q "^$f found" <<<"$out" || fail "the scan misses $f in a process that holds it: $out"
done
kill "$HOLDER"

# keyfile: unwrap RFC 5649 under HKDF(keyfile, salt=uuid) ourselves.
atr create --key-source "keyfile:$WORK/key" "$WORK/kf" >/dev/null 2>&1
KF=$(python3 - "$WORK/key" "$WORK/kf/atrestfs.conf" <<'EOF'
import base64, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
c = json.load(open(sys.argv[2]))
kek = HKDF(hashes.SHA256(), 32, c["uuid"].encode(), b"atrestfs keyfile wrap").derive(open(sys.argv[1], "rb").read())
print(aes_key_unwrap_with_padding(kek, base64.b64decode(c["key_source"]["wrapped_key"])).hex())
EOF
)
check keyfile "$WORK/kf" "$KF"

# kms: Decrypt with the aws CLI (the data key is the volume key).
start_moto
KEY_ID=$(awsl kms create-key --query KeyMetadata.KeyId --output text)
atr create --key-source "kms:$KEY_ID" --kms-endpoint "$KMS_URL" "$WORK/kms" >/dev/null
cfg "$WORK/kms" 'c["key_source"]["ciphertext_blob"]' | base64 -d >"$WORK/blob"
KK=$(awsl kms decrypt --ciphertext-blob "fileb://$WORK/blob" \
	--encryption-context "atrestfs:volume=$(cfg "$WORK/kms" 'c["uuid"]')" \
	--query Plaintext --output text | base64 -d | xxd -p | tr -d '\n')
check kms "$WORK/kms" "$KK"
stop_moto

# tpm2: sealed under a persistent SRK made by tpm2-tools, unsealed by them.
start_swtpm tpm
export ATRESTFS_TPM2_TCTI=$TCTI
tpm2_createprimary -Q -C o -g sha256 -G ecc256 -c "$WORK/srk.ctx"
tpm2_evictcontrol -Q -C o -c "$WORK/srk.ctx" 0x81000001
tpm2_flushcontext -t
atr create --key-source tpm2 --tpm2-tcti "$TCTI" --tpm2-srk-handle 0x81000001 "$WORK/tpmvol" >/dev/null
cfg "$WORK/tpmvol" 'c["key_source"]["public"]' | base64 -d >"$WORK/seal.pub"
cfg "$WORK/tpmvol" 'c["key_source"]["private"]' | base64 -d >"$WORK/seal.priv"
tpm2_load -Q -C 0x81000001 -u "$WORK/seal.pub" -r "$WORK/seal.priv" -c "$WORK/seal.ctx"
KT=$(tpm2_unseal -c "$WORK/seal.ctx" | xxd -p | tr -d '\n')
tpm2_flushcontext -t
check tpm2 "$WORK/tpmvol" "$KT"
echo "memory scan: no volume key in the mounted daemon for keyfile, kms and tpm2"
