#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The debug-kernel lane of make check: builds (or reuses) the debug guest
# kernel, builds jalapeno.ko for it from a copy of driver/ (so the
# in-tree build for Debian's kernel stays as it is), and runs every guest
# suite on it, plus an allocation-failure stress suite and a kmemleak
# scan, all named debug/... for check.sh to count. Any KASAN, lockdep,
# kmemleak or WARN report fails a suite.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh

scripts/build-debug-kernel.sh
build=$JAL_DEBUG_KERNEL_DIR/driver-build
rm -rf "$build" && mkdir -p "$build"
cp -r driver uapi "$build/"
make -s -C "$build/driver" KDIR="$JAL_DEBUG_KERNEL_DIR/src" >/dev/null
mkdir -p "$JAL_DEBUG_KERNEL_DIR/driver"
cp "$build/driver/jalapeno.ko" "$JAL_DEBUG_KERNEL_DIR/driver/jalapeno.ko"

. scripts/suite.sh
log=$(mktemp /tmp/jal-check-debug.XXXXXX)
trap 'rm -f "$log"' EXIT
JAL_GUEST_KERNEL=debug JAL_VM_DEVICE="-device jalapeno,fault-injection=on" \
	scripts/vm.sh tests/run-guest.sh --debug 2>&1 | tee "$log" || true
echo
read -r passed failed < <(count_results "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
