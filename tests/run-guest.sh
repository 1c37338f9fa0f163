#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs inside the test guest (scripts/vm.sh, from the repo root, driver
# loaded): every guest suite, each framed by run_suite's markers so that
# scripts/check.sh on the host can count them, then the kernel-log scan.
#
# --debug (on the debug kernel, scripts/check-debug.sh): the suites are
# named debug/..., and two more run before the log scan: the ioctl
# fuzzer with slab and page allocations failing at random in its
# processes, and a kmemleak scan.
set -u
. scripts/suite.sh

prefix=
[ "${1:-}" = --debug ] && prefix=debug/

for t in tests/kselftest/build/jalapeno_*; do
	[ -x "$t" ] && run_suite "${prefix}kselftest/$(basename "$t")" "$t"
done
for t in tests/runtime/build/*; do
	[ -x "$t" ] && [ -f "$t" ] && run_suite "${prefix}runtime/$(basename "$t")" "$t"
done
run_suite "${prefix}serve" tests/serve/serve_test.py
if [ -n "$prefix" ]; then
	run_suite debug/fault-injection tests/fault-injection-stress.sh
	run_suite debug/kmemleak tests/kmemleak-check.sh
fi
run_suite "${prefix}jalctl" tests/jalctl/jalctl_test.py
run_suite "${prefix}kernel-log" tests/kernel-log-check.sh
