#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Fails if the kernel log shows a warning, bug, oops, lockdep or
# sanitizer report (not the lockdep banner of a debug kernel): a test run
# must leave the kernel clean, whatever the tests themselves reported.
pattern='WARNING:|BUG:|Oops|general protection|possible recursive locking|circular locking dependency|inconsistent lock state|DEBUG_LOCKS_WARN_ON|UBSAN|KASAN|refcount_t:|list_add corruption|list_del corruption|kernel BUG|Call Trace:|INFO: task .* blocked'
if dmesg | grep -E "$pattern"; then
	echo "kernel-log: the lines above are a kernel bug report"
	dmesg | tail -n 80
	exit 1
fi
echo "kernel-log: clean ($(dmesg | wc -l) lines)"
