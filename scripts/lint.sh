#!/bin/bash
# SPDX-License-Identifier: MIT
# Kernel style gate: checkpatch.pl --strict must be silent on driver/ and
# uapi/, and the driver must build warning-free with W=1 and sparse.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh

checkpatch=$JAL_KSRC/scripts/checkpatch.pl
rc=0
# Sources only: the build leaves generated *.mod.c files next to them.
files=$(ls driver/*.[ch] uapi/drm/*.h uapi/drm/*.c.inc | grep -v '\.mod\.c$')
out=$(perl "$checkpatch" --no-tree --strict --terse --show-types \
	-f $files 2>&1 | grep -E 'ERROR|WARNING|CHECK' || true)
if [ -n "$out" ]; then
	echo "$out"
	echo "lint: checkpatch --strict is not clean"
	rc=1
fi

krel=$(cat "$JAL_CACHE/kernel-release")
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r driver uapi "$build/"
if ! out=$(make -s -C "$build/driver" KDIR="/lib/modules/$krel/build" W=1 C=2 CHECK=sparse 2>&1); then
	echo "$out"
	echo "lint: driver build failed"
	rc=1
elif echo "$out" | grep -E 'warning|error' ; then
	echo "lint: W=1/sparse warnings"
	rc=1
fi
[ $rc -eq 0 ] && echo "lint: checkpatch --strict, W=1 and sparse clean"
exit $rc
