#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs inside the test guest (scripts/vm.sh, from the repo root, driver
# loaded): every guest suite, each framed by run_suite's markers so that
# scripts/check.sh on the host can count them, then the kernel-log scan.
set -u
. scripts/suite.sh

for t in tests/kselftest/build/jalapeno_*; do
	[ -x "$t" ] && run_suite "kselftest/$(basename "$t")" "$t"
done
for t in tests/runtime/build/*; do
	[ -x "$t" ] && [ -f "$t" ] && run_suite "runtime/$(basename "$t")" "$t"
done
run_suite serve tests/serve/serve_test.py
run_suite kernel-log tests/kernel-log-check.sh
