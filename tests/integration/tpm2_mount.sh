#!/usr/bin/env bash
# The tpm2 key source against a private swtpm: create/mount/write/remount/
# read with and without a PCR policy; I/O goes on after the TPM is gone;
# PCR 7 extended -> refused with the PCR message; another TPM or a flipped
# blob -> refused with the "another TPM" message; TPM unreachable and a
# truncated blob -> refused; every message with the TSS code; after 20
# mounts and refusals no transient object or session is left in the TPM.
# The TCTI comes from the node only (ATRESTFS_TPM2_TCTI, tpm2_tcti=); the
# PCR list and SRK handle are pinned by the node record.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/swtpm.sh"
command -v tpm2_getcap >/dev/null || skip "tpm2-tools not installed"
start_swtpm tpm
export ATRESTFS_TPM2_TCTI=$TCTI
MNT=$WORK/mnt; mkdir -p "$MNT"

leftover_handles() {
	tpm2_getcap handles-transient; tpm2_getcap handles-loaded-session; tpm2_getcap handles-saved-session
}

# 1. Without and with a PCR policy: create, mount, write, remount, read.
atr create --key-source tpm2 --tpm2-tcti "$TCTI" "$WORK/plainpcr" >/dev/null
atr create --key-source tpm2 --tpm2-tcti "$TCTI" --tpm2-pcrs 7 "$WORK/pcr7" >/dev/null
atr create --key-source tpm2 --tpm2-tcti "$TCTI" --tpm2-pcrs 0,2,7 "$WORK/pcr027" >/dev/null
atr info "$WORK/pcr027" | grep -q "tpm2 pcrs: *0,2,7" || fail "info does not show the PCRs"
grep -q tcti "$WORK/pcr7/atrestfs.conf" && fail "the config records a TCTI"
atr info "$WORK/pcr7" | grep -qi tcti && fail "info shows a TCTI from the volume"
for v in plainpcr pcr7 pcr027; do
	atr_mount "$WORK/$v" "$MNT"
	head -c 300000 /dev/urandom >"$WORK/$v.data"
	cp "$WORK/$v.data" "$MNT/data"
	atr_umount "$MNT"
	atr_mount "$WORK/$v" "$MNT"
	cmp "$MNT/data" "$WORK/$v.data" || fail "$v: data after remount"
	atr_umount "$MNT"
done

# A persistent SRK instead of the re-created primary.
tpm2_createprimary -Q -C o -g sha256 -G ecc256 -c "$WORK/srk.ctx"
tpm2_evictcontrol -Q -C o -c "$WORK/srk.ctx" 0x81000001
tpm2_flushcontext -t
atr create --key-source tpm2 --tpm2-tcti "$TCTI" --tpm2-srk-handle 0x81000001 "$WORK/srk" >/dev/null
atr info "$WORK/srk" | grep -q "tpm2 parent: *0x81000001" || fail "info lacks the SRK handle"
atr_mount "$WORK/srk" "$MNT"; echo srk >"$MNT/f"; atr_umount "$MNT"
atr_mount "$WORK/srk" "$MNT"; [ "$(cat "$MNT/f")" = srk ] || fail "SRK volume data"; atr_umount "$MNT"
tpm2_evictcontrol -Q -C o -c 0x81000001
refuse_mount 3 "no persistent SRK at handle 0x81000001.*0x0000018b" "$WORK/srk"

# 2. The key is taken once: stop the TPM, the mounted volume keeps working.
atr_mount "$WORK/pcr7" "$MNT"
stop_swtpm tpm
echo "written without a TPM" >"$MNT/later"
cmp "$MNT/data" "$WORK/pcr7.data" || fail "read after the TPM stopped"
[ "$(cat "$MNT/later")" = "written without a TPM" ] || fail "write after the TPM stopped"
atr_umount "$MNT"
refuse_mount 3 "TPM unreachable through TCTI .*0x000a000a" "$WORK/pcr7"
start_swtpm tpm  # same state dir: the same TPM again
TCTI_OVERRIDE=$TCTI

# The TPM moved (another port): the node says where, by environment or option.
ATRESTFS_TPM2_TCTI=$TCTI_OVERRIDE atr_mount "$WORK/pcr7" "$MNT"
[ "$(cat "$MNT/later")" = "written without a TPM" ] || fail "data after TPM restart"
atr_umount "$MNT"
ATRESTFS_TPM2_TCTI=swtpm:port=1 atr_mount "$WORK/pcr7" "$MNT" -o "tpm2_tcti=swtpm:port=${TCTI##*port=}"
atr_umount "$MNT"
export ATRESTFS_TPM2_TCTI=$TCTI
# The PCR list and SRK handle are pinned: options that differ are refused.
refuse_mount 2 "tpm2_pcrs=\[7\], but the node record .* pins \[0,2,7\]" "$WORK/pcr027" -o tpm2_pcrs=7
refuse_mount 2 "key_source.srk_handle is \(none\) in the volume config but \"0x81000001\" in the mount options" "$WORK/pcr7" -o tpm2_srk=0x81000001
atr_mount "$WORK/pcr027" "$MNT" -o tpm2_pcrs=0+2+7; atr_umount "$MNT"

# 3. PCR 7 extended: policy fails, named in the message.
tpm2_pcrextend 7:sha256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
refuse_mount 3 "PCR policy not satisfied: PCRs 7 .*0x0000099d" "$WORK/pcr7"
refuse_mount 3 "PCR policy not satisfied: PCRs 0,2,7 .*0x0000099d" "$WORK/pcr027"
atr_mount "$WORK/plainpcr" "$MNT"   # not PCR-bound: still mounts
atr_umount "$MNT"

# A corrupt sealed blob: one bit of the TPM's ciphertext flipped, or the
# structure cut short; and the PCR list edited away from the object's policy.
cp -a "$WORK/plainpcr" "$WORK/flipped"; atr pin "$WORK/flipped" >/dev/null
edit_config "$WORK/flipped" 'k=c["key_source"]; b=bytearray(base64.b64decode(k["private"])); b[-8]^=1; k["private"]=base64.b64encode(bytes(b)).decode()'
refuse_mount 3 "sealed to another TPM, the TPM was cleared, or the sealed blob is corrupt.*0x000001df" "$WORK/flipped"
cp -a "$WORK/plainpcr" "$WORK/cut"; atr pin "$WORK/cut" >/dev/null
edit_config "$WORK/cut" 'k=c["key_source"]; k["public"]=k["public"][:-8]'
refuse_mount 3 "sealed key blob in the config is corrupt" "$WORK/cut"
cp -a "$WORK/pcr027" "$WORK/nopcr"; atr pin "$WORK/nopcr" >/dev/null
edit_config "$WORK/nopcr" 'k=c["key_source"]; k["pcrs"]=[]'
refuse_mount 2 "key_source.pcrs is \[\] in the volume config but \[0,2,7\] in the node record" "$WORK/nopcr"
atr pin --replace "$WORK/nopcr" >/dev/null   # pinned as edited: the TPM object says no
refuse_mount 3 "does not match its PCR list" "$WORK/nopcr"

# 4. Twenty mounts and refusals leave nothing behind in the TPM.
for i in $(seq 1 10); do
	atr_mount "$WORK/plainpcr" "$MNT"; atr_umount "$MNT"
	"$ATRESTFS" mount "$WORK/pcr7" "$MNT" >/dev/null 2>&1 && fail "PCR-bound mount succeeded"
done
left=$(leftover_handles)
[ -z "$left" ] || fail "handles left in the TPM: $left"

# 5. Another TPM (fresh state): the sealed blob does not load.
stop_swtpm tpm
start_swtpm other
export ATRESTFS_TPM2_TCTI=$TCTI
refuse_mount 3 "sealed to another TPM, the TPM was cleared, or the sealed blob is corrupt.*0x000001df" "$WORK/plainpcr"
[ -z "$(leftover_handles)" ] || fail "handles left after the refused load"
echo "tpm2: all cases hold"
