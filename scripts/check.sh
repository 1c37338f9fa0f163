#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make check: every suite, host and guest, then one line "N passed, N
# failed" summed over all of them; exits non-zero on any failure or if no
# test ran at all.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh
. scripts/suite.sh

log=$(mktemp /tmp/jal-check.XXXXXX)
trap 'rm -f "$log"' EXIT

{
	run_suite host-core make -s -C tests/host/core run KSFT_DIR="$JAL_KSFT_DIR"
	run_suite host-runtime make -s -C tests/host/runtime run KSFT_DIR="$JAL_KSFT_DIR"
	run_suite host-llm make -s -C tests/host/llm run KSFT_DIR="$JAL_KSFT_DIR"
	run_suite install tests/install/install_test.sh
	run_suite fuzz-cmd make -s -C tests/host/core fuzz-cmd KSFT_DIR="$JAL_KSFT_DIR"
	run_suite qemu-qtest make -s -C tests/host/core qtest QEMU="$JAL_QEMU"
	run_suite lint scripts/lint.sh
	# One guest boot runs every guest suite (kselftests, runtime tests,
	# kernel log scan) and frames each with the same markers.
	# The chip has its fault-injection registers on, for jalapeno_recover.
	JAL_VM_DEVICE="-device jalapeno,fault-injection=on" \
		scripts/vm.sh tests/run-guest.sh || echo "vm: exit $?"
} 2>&1 | tee "$log"

echo
read -r passed failed < <(count_results "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
