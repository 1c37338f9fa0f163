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
# sim_jalrt_bench's decode rate of the model at int4 and int8. Then the
# same check on a model with Llama 3's vocabulary and width (vocab 128256,
# dim 4096, one small layer, shared table): its table holds 525 MB of
# int4 values in the int8 layout, more than the chip's 256 MiB operand
# limit, so the classifier runs as row blocks.
#
# Not part of make check: the reference's f32 copy of the model takes
# about 4.5 GB and the run a minute on two cores.
#
# Environment: JAL_INT4_MODEL, another Q4_0 file to check instead.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh

gen() {	# gen FILE ARGS...: a seeded Q4_0 model, once
	local out=$1

	shift
	[ -f "$out" ] && return
	mkdir -p "$(dirname "$out")"
	make -s -C runtime "$top/runtime/build/jalrt-gen-model" >/dev/null
	runtime/build/jalrt-gen-model "$@" --format gguf --type q4_0 -o "$out.tmp"
	mv "$out.tmp" "$out"
}
model=${JAL_INT4_MODEL:-$JAL_CACHE/models/tinyllama-shape-q4_0.gguf}
wide=$JAL_CACHE/models/llama3-vocab-1-layer-q4_0.gguf
[ -n "${JAL_INT4_MODEL:-}" ] || gen "$model" --dim 2048 --hidden 5632 --layers 22 --heads 32 \
	--kv-heads 4 --vocab 32000 --seq 2048 --unshared
make -s -C tests/host/llm "$top/tests/host/llm/build/llm_int4"
JAL_INT4_MODEL=$model tests/host/llm/build/llm_int4 -r int4.a_big_q4_0_model_from_the_environment
make -s -C tests/host/runtime "$top/tests/host/runtime/build/sim_jalrt_bench"
for p in int4 int8; do
	echo "# sim_jalrt_bench llm, $p:"
	tests/host/runtime/build/sim_jalrt_bench llm "$model" --precision "$p" -n 16 -r 1 | sed 's/^/#   /'
done
gen "$wide" --dim 4096 --hidden 256 --layers 1 --heads 32 --kv-heads 8 --vocab 128256 \
	--seq 64 --shared
JAL_INT4_MODEL=$wide tests/host/llm/build/llm_int4 -r int4.a_big_q4_0_model_from_the_environment
