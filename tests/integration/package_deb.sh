#!/usr/bin/env bash
# The Debian package, as an operator meets it: dpkg-buildpackage builds it
# from a copy of the tree (the checkout stays as it is), lintian finds no
# error, `dpkg -i` installs it, a keyfile volume made by the installed
# atrestfs mounts from an fstab line (a private file, mount -T) through the
# installed /sbin/mount.atrestfs with allow_other, a non-root service user
# writes and reads through it, umount(8) unmounts it, and `dpkg --purge`
# leaves none of the package's files: only the volume and, while it holds
# the volume's node record, /etc/atrestfs (an empty one goes). Also: the
# release tarball holds the whole tree, and `make install` stays under its
# prefix (the mount helper included). The package is never left installed;
# an atrestfs package installed before the test is not touched (skip).
source "$(dirname "$0")/../lib/common.sh"
for t in dpkg-buildpackage dh lintian setpriv; do
	command -v "$t" >/dev/null || skip "$t is not installed (bash scripts/install-deps.sh)"
done
status=$(dpkg-query -W -f='${Status}' atrestfs 2>/dev/null || true)
case $status in
"" | *not-installed) ;;
*) skip "the atrestfs package is on this machine ($status): not purging it for a test";;
esac
# Only the installed files from here on: no build directory in PATH, the
# node records where the package's atrestfs keeps them (/etc/atrestfs).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset ATRESTFS_NODE_DIR
NODE=/etc/atrestfs
VOL=$WORK/vol KEY=$WORK/key MNT=$WORK/mnt FSTAB=$WORK/fstab RECORD=
# The service user must reach the mount point.
chmod 0711 "$WORK"

# dpkg waits for no one: retry while another dpkg or apt holds its lock.
dpkg_run() {
	local i rc out
	for i in $(seq 60); do
		rc=0
		out=$(dpkg "$@" 2>&1) || rc=$?
		grep -q "lock.*locked\|locked by another" <<<"$out" || break
		sleep 2
	done
	printf '%s\n' "$out"
	return $rc
}

T0=$(date +%s)
elapsed() { echo "$1: $(($(date +%s) - T0)) s"; }

# 1. Build from a copy of the tree (what git has plus new, unignored
# files); tree.list is what the release tarball must hold: the tracked files.
SRC=$WORK/src/atrestfs
mkdir -p "$SRC"
existing() { while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done; true; }
if git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$TOP" && git ls-files -co --exclude-standard -z | existing | tar --null -cf - -T -) |
		tar -xf - -C "$SRC"
	(cd "$TOP" && git ls-files -c -z | existing | tr '\0' '\n') >"$WORK/tree.all"
else
	tar -C "$TOP" --exclude='./build-*' --exclude=./debian/build -cf - . | tar -xf - -C "$SRC"
	(cd "$SRC" && find . -type f | sed 's|^\./||') >"$WORK/tree.all"
fi
grep -v '^\.' "$WORK/tree.all" | sort >"$WORK/tree.list"
(cd "$SRC" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" \
	dpkg-buildpackage -us -uc -b >"$WORK/build.log" 2>&1) ||
	{ tail -30 "$WORK/build.log"; fail "dpkg-buildpackage failed"; }
echo "dpkg-buildpackage done (nocheck: the suite runs the unit tests)"
DEB=$(ls "$WORK"/src/atrestfs_*.deb)
CHANGES=$(ls "$WORK"/src/atrestfs_*.changes)
[ "$(wc -w <<<"$DEB")" = 1 ] || fail "expected one atrestfs_*.deb: $DEB"

elapsed built
# 2. lintian: no error (any tag is shown).
lint=$(lintian "$CHANGES" 2>&1 | grep -v 'running with root privileges') || true
echo "lintian: ${lint:-no tags}"
grep -q '^E: ' <<<"$lint" && fail "lintian errors: $lint"

elapsed "lintian done"
# 3. The package holds what an operator needs, where mount(8) looks.
contents=$(dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/bin/atrestfs /sbin/mount.atrestfs /usr/sbin/atrestfs-rotate \
	/usr/share/man/man8/atrestfs.8.gz /usr/share/man/man8/mount.atrestfs.8.gz \
	/usr/share/man/man8/atrestfs-rotate.8.gz /usr/share/doc/atrestfs/operations.md.gz \
	/usr/share/doc/atrestfs/README.md.gz /usr/share/doc/atrestfs/copyright \
	/usr/share/doc/atrestfs/examples/fstab.example \
	/usr/share/doc/atrestfs/examples/redis-server.service.d/atrestfs.conf; do
	grep -qx "$f" <<<"$contents" || fail "$f is not in the package"
done
for f in "$SRC"/doc/*.md; do
	grep -qx "/usr/share/doc/atrestfs/$(basename "$f").gz" <<<"$contents" ||
		fail "doc/$(basename "$f") is not in the package"
done

# 4. The release tarball is the tree, and make install keeps to its prefix
# (configure's default for the helper; the package passed /sbin).
make -s -C "$SRC/debian/build" dist >/dev/null 2>&1 || fail "make dist failed"
tar -tzf "$SRC"/debian/build/atrestfs-*.tar.gz | grep -v '/$' | sed 's|^[^/]*/||' |
	sort >"$WORK/dist.list"
missing=$(comm -23 "$WORK/tree.list" "$WORK/dist.list")
[ -z "$missing" ] || fail "not in the release tarball (EXTRA_DIST): $missing"
mkdir "$WORK/cfg"
cfgout=$(cd "$WORK/cfg" && "$SRC/configure" --prefix="$WORK/prefix" 2>&1) ||
	fail "configure --prefix failed: $(tail -5 <<<"$cfgout")"
helperdir=$(printf 'print:\n\t@echo $(mounthelperdir)\n' | make -s -C "$WORK/cfg" -f Makefile -f - print)
[ "$helperdir" = "$WORK/prefix/sbin" ] || fail "with --prefix, mount.atrestfs would go to $helperdir"
grep -q "where mount(8) does not look" <<<"$cfgout" || fail "configure does not say the helper is out of mount(8)'s reach"

elapsed "tarball and prefix checked"
# 5. Install. Files of the package lying around unowned (a make install,
# another test's link) are set aside and put back at the end.
mkdir "$WORK/aside"
node_existed=no
[ -d "$NODE" ] && node_existed=yes
installed=no
cleanup_pkg() {
	is_mounted "$MNT" && { umount "$MNT" || fusermount3 -u "$MNT" || umount -l "$MNT"; }
	[ -n "$RECORD" ] && rm -f "$RECORD"
	[ "$installed" = yes ] && dpkg_run --purge atrestfs >/dev/null
	(cd "$WORK/aside" && find . -type f -o -type l) | while read -r f; do
		mv -f "$WORK/aside/$f" "${f#.}"
	done
	if [ "$node_existed" = yes ]; then
		install -d -m 0700 "$NODE" "$NODE/volumes"
	else
		rmdir "$NODE/volumes" "$NODE"
	fi
}
on_exit cleanup_pkg
while read -r f; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		[ -d "$f" ] && [ ! -L "$f" ] && continue
		echo "setting aside an unowned $f"
		mkdir -p "$WORK/aside$(dirname "$f")"
		mv "$f" "$WORK/aside$f"
	fi
done < <(dpkg-deb -c "$DEB" | grep -v '^d' | awk '{print $6}' | sed 's|^\./|/|' | tee "$WORK/pkgfiles")
installed=yes
dpkg_run -i "$DEB" || fail "dpkg -i failed"
listed=$(dpkg -L atrestfs) || fail "dpkg -L after install"
while read -r f; do
	grep -qx "$f" <<<"$listed" || fail "dpkg -L lacks $f"
done <"$WORK/pkgfiles"
for f in /usr/bin/atrestfs /sbin/mount.atrestfs; do
	[ -x "$f" ] || fail "$f is not installed"
done
man -w atrestfs >/dev/null 2>&1 || fail "man atrestfs does not find the page"

elapsed installed
# 6. A keyfile volume, made and mounted by the installed files only.
mkdir -p "$MNT"
out=$(/usr/bin/atrestfs create --key-source "keyfile:$KEY" --root-owner nobody:nogroup "$VOL" 2>&1) ||
	fail "installed atrestfs create: $out"
RECORD=$(sed -n 's/^pinned on this node in //p' <<<"$out")
[ -f "$RECORD" ] && [[ $RECORD == $NODE/volumes/* ]] || fail "no node record under $NODE: $out"
line=$(grep ' /MOUNTPOINT atrestfs ' <<<"$out") || fail "create printed no fstab line: $out"
line=${line/ \/MOUNTPOINT atrestfs / $MNT atrestfs }
line=${line/ atrestfs uuid=/ atrestfs allow_other,_netdev,uuid=}
echo "$line" >"$FSTAB"
echo "fstab: $line"
mout=$(mount -v --fstab "$FSTAB" "$MNT" 2>&1) || fail "mount --fstab: $mout"
is_mounted "$MNT" || fail "mount(8) returned but $MNT is not mounted"
grep -q "mount.atrestfs: /usr/bin/atrestfs mount $VOL $MNT" <<<"$mout" ||
	fail "not the installed helper and binary: $mout"
findmnt -rn -o FSTYPE,OPTIONS -M "$MNT" | grep -q '^fuse.atrestfs .*allow_other' ||
	fail "mount: $(findmnt -rn -M "$MNT")"

# 7. The service user's data goes through and is only ciphertext on disk.
secret="package-test-$RANDOM$RANDOM"
setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	sh -c 'umask 077; mkdir "$1/d" && printf %s "$2" >"$1/d/data"' sh "$MNT" "$secret" ||
	fail "nobody cannot write through the mount"
got=$(setpriv --reuid=nobody --regid=nogroup --clear-groups -- cat "$MNT/d/data") ||
	fail "nobody cannot read back"
[ "$got" = "$secret" ] || fail "read back '$got'"
[ "$(stat -c %U "$MNT/d/data")" = nobody ] || fail "owner: $(stat -c %U "$MNT/d/data")"
grep -rqF "$secret" "$VOL" && fail "plaintext on the volume"
umount "$MNT" || fail "umount(8) failed"
not_mounted "$MNT" || fail "still mounted after umount"

elapsed "mounted, used, unmounted"
# 8. Purge: none of the package's files is left, the volume is untouched,
# the node record stays (it pins the volume).
before=$(cd "$VOL" && find . -printf '%p %s %T@\n' | sort | sha256sum)
pout=$(dpkg_run --purge atrestfs) || fail "dpkg --purge: $pout"
installed=no
dpkg -L atrestfs >/dev/null 2>&1 && fail "dpkg -L still lists atrestfs"
[ -z "$(dpkg-query -W -f='${Status}' atrestfs 2>/dev/null | grep -v not-installed)" ] ||
	fail "dpkg still knows atrestfs: $(dpkg-query -W -f='${Status}' atrestfs)"
ls /var/lib/dpkg/info/atrestfs.* >/dev/null 2>&1 && fail "dpkg info files left: $(ls /var/lib/dpkg/info/atrestfs.*)"
while read -r f; do
	if [ -e "$f" ] || [ -L "$f" ]; then fail "$f left after purge"; fi
done <"$WORK/pkgfiles"
[ -d /usr/share/doc/atrestfs ] && fail "/usr/share/doc/atrestfs left after purge"
[ "$(cd "$VOL" && find . -printf '%p %s %T@\n' | sort | sha256sum)" = "$before" ] ||
	fail "purge changed the volume"
[ -f "$RECORD" ] || fail "purge removed the volume's node record"
grep -q "kept /etc/atrestfs" <<<"$pout" || fail "purge did not say it kept $NODE: $pout"
echo "purged; kept: $RECORD"

# 9. Without records, a purge removes /etc/atrestfs (only checked when
# nothing but our record is in it; the cleanup puts a pre-existing one back).
rm -f "$RECORD"
RECORD=
if [ -z "$(find "$NODE" -mindepth 1 ! -path "$NODE/volumes")" ]; then
	installed=yes
	dpkg_run -i "$DEB" >/dev/null || fail "second dpkg -i failed"
	dpkg_run --purge atrestfs >/dev/null || fail "second dpkg --purge failed"
	installed=no
	[ -e "$NODE" ] && fail "purge left an empty $NODE"
	echo "an empty $NODE goes with the purge"
else
	echo "not checked: $NODE holds other records"
fi
elapsed "purged"
echo "package: build, lintian, install, fstab mount, purge all hold"
