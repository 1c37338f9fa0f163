#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every jalapeno kselftest binary inside the guest, one after the
# other, then check the kernel log for warnings, oopses and sanitizer
# reports. The VM runner calls this from the repo root with the driver
# loaded. Prints each binary's TAP output and a summary; exits non-zero
# if any binary failed, no device was found, or the kernel log is dirty.
#
#   tests/kselftest/run-guest.sh [bindir]
#
# bindir defaults to $JAL_KSFT_OUT or tests/kselftest/build (built on the
# host with `make -C tests/kselftest`). JALAPENO_KO (path of jalapeno.ko
# for the rmmod/insmod test) defaults to driver/jalapeno.ko if present.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bindir=${1:-${JAL_KSFT_OUT:-$here/build}}
tests=(jalapeno_basic jalapeno_dma jalapeno_compute jalapeno_queues
       jalapeno_isolation jalapeno_errors jalapeno_devmem jalapeno_reset)

missing=0
for t in "${tests[@]}"; do
	[ -x "$bindir/$t" ] || missing=1
done
if [ "$missing" = 1 ]; then
	# The repo is read-only in the guest: build into /tmp instead.
	echo "# test binaries missing in $bindir; building into /tmp/jal-ksft"
	# The guest's HOME differs from the host's: look for the harness.
	ksft=${KSFT_DIR:-}
	for d in "${JAL_KSFT_DIR:-}" "$HOME/.cache/jalapeno/linux-src/tools/testing/selftests" \
		 /root/.cache/jalapeno/linux-src/tools/testing/selftests; do
		[ -z "$ksft" ] && [ -n "$d" ] && [ -f "$d/kselftest_harness.h" ] && ksft=$d
	done
	if ! make -s -C "$here" O=/tmp/jal-ksft ${ksft:+KSFT_DIR="$ksft"} \
		>/tmp/jal-ksft-build.log 2>&1; then
		cat /tmp/jal-ksft-build.log
		echo "not ok - could not build the tests"
		exit 1
	fi
	bindir=/tmp/jal-ksft
fi

if [ -z "${JALAPENO_KO:-}" ] && [ -f "$repo/driver/jalapeno.ko" ]; then
	export JALAPENO_KO="$repo/driver/jalapeno.ko"
fi

results=()
failed=0

if ! ls /dev/accel/accel* >/dev/null 2>&1 || [ ! -d /sys/module/jalapeno ]; then
	echo "# no accel device node or jalapeno module: every test would skip"
	results+=("not ok - jalapeno device present")
	failed=1
else
	results+=("ok - jalapeno device present")
fi

for t in "${tests[@]}"; do
	echo "# ===================== $t ====================="
	"$bindir/$t"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		results+=("ok - $t")
	else
		results+=("not ok - $t (exit $rc)")
		failed=1
	fi
done

echo "# ===================== kernel log ====================="
# The same scan make check runs (tests/kernel-log-check.sh).
if "$(dirname "$0")/../kernel-log-check.sh"; then
	results+=("ok - kernel log clean")
else
	results+=("not ok - kernel log clean")
	failed=1
fi

echo "# ===================== summary ====================="
echo "TAP version 13"
echo "1..${#results[@]}"
n=0
for r in "${results[@]}"; do
	n=$((n + 1))
	echo "${r/ - / $n }"
done
exit "$failed"
