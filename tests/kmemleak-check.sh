#!/bin/sh
# SPDX-License-Identifier: MIT
#
# On the debug kernel, after the suites: a kmemleak scan. Fails on any
# unreferenced object allocated by the driver or the DRM, dma-buf and
# scheduler code it uses; other reports (boot-time noise of unrelated
# subsystems) are printed but do not fail the run.
set -eu
dbg=/sys/kernel/debug
[ -e $dbg/kmemleak ] || mount -t debugfs none $dbg
[ -e $dbg/kmemleak ] || { echo "kmemleak: not a kmemleak kernel"; exit 1; }
# Objects must stay unreferenced across two scans to be reported.
echo scan > $dbg/kmemleak
echo scan > $dbg/kmemleak
report=$(cat $dbg/kmemleak)
ours=$(printf '%s\n' "$report" | awk '
	/^unreferenced object/ { if (obj != "" && hit) print obj; obj = $0; hit = 0; next }
	{ obj = obj "\n" $0 }
	/jal_|jalapeno|drm_|dma_fence|dma_buf|sync_file|drm_sched|gpu_sched/ { hit = 1 }
	END { if (obj != "" && hit) print obj }')
if [ -n "$ours" ]; then
	printf '%s\n' "$ours"
	echo "kmemleak: the objects above leaked from the driver or the DRM core"
	exit 1
fi
echo "kmemleak: nothing of ours ($(printf '%s\n' "$report" | grep -c '^unreferenced object') unrelated reports)"
