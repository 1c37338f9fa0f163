#!/bin/sh
# SPDX-License-Identifier: MIT
#
# On the debug kernel: the ioctl fuzzer with failslab and fail_page_alloc
# failing 2% of the slab and page allocations of its fuzzing processes
# (make-it-fail, set by the fuzzer in those processes only), so that every
# error path of the driver that allocates runs. The fuzzer's own checks
# (isolation, a known-good job after each round) run without failures;
# tests/kernel-log-check.sh and the kmemleak scan afterwards catch what
# the error paths break.
set -eu
dbg=/sys/kernel/debug
[ -d $dbg/failslab ] || mount -t debugfs none $dbg
for f in failslab fail_page_alloc; do
	[ -d $dbg/$f ] || { echo "no $dbg/$f: not a fault-injection kernel"; exit 1; }
	echo Y > $dbg/$f/task-filter
	echo 2 > $dbg/$f/probability
	echo 1 > $dbg/$f/interval
	echo -1 > $dbg/$f/times
	echo 0 > $dbg/$f/verbose
done
echo N > $dbg/fail_page_alloc/ignore-gfp-wait
echo N > $dbg/failslab/ignore-gfp-wait
rc=0
JAL_FUZZ_MAKE_IT_FAIL=1 JAL_FUZZ_SEED=7 JAL_FUZZ_ROUNDS=2 tests/kselftest/build/jalapeno_fuzz || rc=$?
for f in failslab fail_page_alloc; do
	echo 0 > $dbg/$f/probability
done
exit $rc
