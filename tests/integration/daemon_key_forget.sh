#!/usr/bin/env bash
# No file key outlives the request that used it in unlocked memory (#12):
# the worker threads' cipher contexts hold a key schedule while they
# encrypt or decrypt, and forget it before the reply. The test learns a
# file's key on its own (unwraps the keyfile's volume key, derives the
# content key and the per-file key from the file ID in the backing file's
# header, as doc/file-format.md says), makes the daemon decrypt and encrypt
# with it (O_DIRECT reads and writes: every call is a request), then
# searches the daemon's memory: the key (and its schedule, which starts
# with it) may be in the locked pool, where the open file keeps it, and
# nowhere else. The scan is shown to work: it finds the key in the pool.
# The same for the names key (AES-SIV: its CMAC and CTR halves), which
# the workers key their SIV contexts with for the names of a request.
source "$(dirname "$0")/../lib/common.sh"
python3 -c 'import cryptography' 2>/dev/null || skip "python3 cryptography (a moto dependency) missing"
SCAN=$TOP/tests/tools/memscan.py
mount_fresh encrypted
pid=$("$ATRESTFS" status --json "$MNT" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])') ||
	fail "no daemon PID from atrestfs status"
head -c $((256 * 1024)) /dev/urandom >"$WORK/data"
cp "$WORK/data" "$MNT/f"
sync
back=$(find "$VOL" -type f ! -name 'atrestfs.*' ! -name '.atrestfs.*')
[ "$(wc -l <<<"$back")" = 1 ] || fail "expected one backing file, found: $back"

# The file key: keyfile -> volume key -> content key -> file key; and
# the names key, from the volume key.
read -r FK NK < <(python3 - "$KEY" "$VOL/atrestfs.conf" "$back" <<'EOF'
import base64, json, sys, uuid
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
c = json.load(open(sys.argv[2]))
kek = HKDF(hashes.SHA256(), 32, c["uuid"].encode(), b"atrestfs keyfile wrap").derive(open(sys.argv[1], "rb").read())
vkey = aes_key_unwrap_with_padding(kek, base64.b64decode(c["key_source"]["wrapped_key"]))
content = HKDF(hashes.SHA256(), 32, uuid.UUID(c["uuid"]).bytes, b"atrestfs content").derive(vkey)
hdr = open(sys.argv[3], "rb").read(18)  # u16 version, 16-byte file ID
names = HKDF(hashes.SHA256(), 64, uuid.UUID(c["uuid"]).bytes, b"atrestfs names").derive(vkey)
print(HKDF(hashes.SHA256(), 32, hdr[2:18], b"atrestfs file").derive(content).hex(), names.hex())
EOF
)
[ ${#FK} = 64 ] && [ ${#NK} = 128 ] || fail "could not derive the file and names keys"
# The portable AES key schedule stores the key as host-order 32-bit words.
swap() { python3 -c 'import sys; k=bytes.fromhex(sys.argv[1]); print(b"".join(k[i:i+4][::-1] for i in range(0, 32, 4)).hex())' "$1"; }
SWAPPED=$(swap "$FK")
NK1=${NK:0:64} NK2=${NK:64:64}
PATS=("key=$FK" "key_words=$SWAPPED" "names1=$NK1" "names1_words=$(swap "$NK1")"
	"names2=$NK2" "names2_words=$(swap "$NK2")")

# Requests that decrypt and encrypt under the file key, on several workers.
python3 - "$MNT/f" "$WORK/data" <<'EOF' || fail "O_DIRECT reads and writes through the mount"
import mmap, os, sys, threading
want = open(sys.argv[2], "rb").read()
def work(seed):
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_DIRECT)
    buf = mmap.mmap(-1, 65536)
    for i in range(40):
        off = ((seed * 7 + i) % 4) * 65536
        assert os.preadv(fd, [buf], off) == 65536 and buf[:] == want[off:off + 65536]
        assert os.pwritev(fd, [buf], off) == 65536
    os.close(fd)
t = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for x in t: x.start()
for x in t: x.join()
EOF
cmp "$WORK/data" "$MNT/f" || fail "content changed"
# Requests that encrypt and decrypt names (create, lookup, readdir,
# rename, unlink), on several workers.
python3 - "$MNT" <<'EOF' || fail "name operations through the mount"
import os, sys, threading
def work(n):
    d = os.path.join(sys.argv[1], "d%d" % n)
    os.mkdir(d)
    for i in range(30):
        p = os.path.join(d, "name %d of %d" % (i, n))
        os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        os.rename(p, p + " renamed")
    assert len(os.listdir(d)) == 30
    for i in range(0, 30, 2):
        os.unlink(os.path.join(d, "name %d of %d renamed" % (i, n)))
t = [threading.Thread(target=work, args=(n,)) for n in range(4)]
for x in t: x.start()
for x in t: x.join()
EOF
# The file stays open: its key is held (in the pool) while the scan runs.
exec 3<"$MNT/f"

all=$(python3 "$SCAN" "$pid" "${PATS[@]}")
grep -q "^key found" <<<"$all" ||
	fail "the scan does not find the file key in the daemon at all (key derivation or header layout changed?): $all"
grep -q "^names1 found" <<<"$all" && grep -q "^names2 found" <<<"$all" ||
	fail "the scan does not find the names key in the daemon at all (key derivation changed?): $all"
out=$(python3 "$SCAN" --unlocked "$pid" "${PATS[@]}")
echo "daemon $pid, all memory: $(tr '\n' ' ' <<<"$all")"
echo "daemon $pid, unlocked memory: $(tr '\n' ' ' <<<"$out")"
grep -q "^scanned [1-9]" <<<"$out" || fail "the scan read nothing: $out"
grep -q " found" <<<"$out" && fail "the file or names key is in the daemon's unlocked memory after its requests: $out"
exec 3<&-
atr_umount "$MNT"
echo "no file or names key in unlocked memory after the requests that used them"
