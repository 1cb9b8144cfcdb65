#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs every Debian 12 package atrestfs needs to build, run and test.
# Idempotent: skips apt entirely when everything is already there.
set -euo pipefail
PKGS=(build-essential autoconf automake libtool pkg-config
      libfuse3-dev fuse3 libssl-dev libtss2-dev libcurl4-openssl-dev
      libjansson-dev check
      swtpm swtpm-tools tpm2-tools redis-server redis-tools memcached python3 attr
      util-linux e2fsprogs curl groff-base man-db clang libclang-rt-14-dev xxd
      strace libseccomp-dev
      debhelper dpkg-dev lintian)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
