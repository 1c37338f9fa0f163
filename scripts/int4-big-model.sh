#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Opt-in check of a big int4 model on the chip model in-process (no
# guest): a seeded Q4_0 GGUF model of TinyLlama-1.1B's shape (dim 2048,
# hidden 5632, 22 layers, 32 heads, 4 KV heads, vocab 32000, context
# 2048, its own classifier), written once by jalrt-gen-model into the
# cache, then llm_int4's a_big_q4_0_model_from_the_environment: greedy
# tokens from BOS on the chip against the CPU reference's int4 mode,
# token for token and logits bit for bit. It also prints
# sim_jalrt_bench's decode rate of the model at int4 and int8.
#
# Not part of make check: the reference's f32 copy of the model takes
# about 4.5 GB and the run a minute on two cores.
#
# Environment: JAL_INT4_MODEL, another Q4_0 file to check instead.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh

model=${JAL_INT4_MODEL:-$JAL_CACHE/models/tinyllama-shape-q4_0.gguf}
if [ ! -f "$model" ]; then
	mkdir -p "$(dirname "$model")"
	make -s -C runtime "$top/runtime/build/jalrt-gen-model" >/dev/null
	runtime/build/jalrt-gen-model --dim 2048 --hidden 5632 --layers 22 --heads 32 \
		--kv-heads 4 --vocab 32000 --seq 2048 --unshared --format gguf --type q4_0 \
		-o "$model.tmp"
	mv "$model.tmp" "$model"
fi
make -s -C tests/host/llm "$top/tests/host/llm/build/llm_int4"
JAL_INT4_MODEL=$model tests/host/llm/build/llm_int4 -r int4.a_big_q4_0_model_from_the_environment
make -s -C tests/host/runtime "$top/tests/host/runtime/build/sim_jalrt_bench"
for p in int4 int8; do
	echo "# sim_jalrt_bench llm, $p:"
	tests/host/runtime/build/sim_jalrt_bench llm "$model" --precision "$p" -n 16 -r 1 | sed 's/^/#   /'
done
