#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds atrestfs out of tree in build-NAME. Usage: build.sh [NAME]
# (default "plain"; a NAME containing "sanitize" enables ASan+UBSan).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
flavour=${1:-plain}
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || autoreconf -fi >/dev/null
mkdir -p "build-$flavour"
cd "build-$flavour"
if [ ! -f Makefile ] || [ Makefile -ot ../Makefile.in ]; then
	extra=()
	case $flavour in *sanitize*) extra=(--enable-sanitizers);; esac
	../configure -q CFLAGS="-O2 -g" "${extra[@]}"
fi
make -s -j"$(nproc)" all
