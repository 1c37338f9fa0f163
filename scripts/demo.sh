#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make demo: boot the guest with the driver loaded and show the chip at
# work: jalrt-demo (vector ops, matvec, DMA, checked against the host),
# then text generation on the chip with jalrt-run — aidreams260k with its
# tokenizer from ../shared/models when present, else a seeded model
# generated here (printed as token ids: there is no tokenizer for it).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh

models=${JAL_MODELS_DIR:-$top/../shared/models}
if [ -f "$models/aidreams260k.bin" ] && [ -f "$models/tok512.bin" ]; then
	models=$(cd "$models" && pwd)
	gen=$(printf 'runtime/build/jalrt-run %q -z %q -t 0 -n 128 -i "I dreamed"' \
		"$models/aidreams260k.bin" "$models/tok512.bin")
else
	model=$JAL_CACHE/demo/model-dim128-l4.bin
	if [ ! -f "$model" ]; then
		mkdir -p "$(dirname "$model")"
		runtime/build/jalrt-gen-model --dim 128 --hidden 344 --layers 4 \
			--heads 8 --kv-heads 4 --vocab 512 --seq 256 --seed 42 -o "$model"
	fi
	echo "demo: ../shared/models is absent; generating from a seeded random model (token ids)"
	gen=$(printf 'runtime/build/jalrt-run %q --ids -t 0 -n 64' "$model")
fi
scripts/vm.sh "runtime/build/jalrt-demo && echo && $gen"
