#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make bench: throughput figures of the whole stack, one table. Figures
# only: nothing here passes or fails, and every ratio is against a
# baseline measured in the same run.
#
#   scripts/bench.sh [--quick]
#
# - Decode tok/s in the guest through library, driver and chip (one VM
#   boot runs runtime/build/jalrt-bench), greedy from BOS, for
#   aidreams260k and generated models of the 15M "stories" shape (dim 288,
#   hidden 768, 6 layers, 6 heads, vocab 32000, seq 256) and of the 110M
#   shape (dim 768, hidden 2048, 12 layers, 12 heads, seq 1024) at f32, bf16, int8,
#   sparse and int4 weights: the one-job device loop and one job per position;
#   against the host CPU on every thread (tests/baseline/cpu-llm, f32 or
#   int8; int4 rows against int8), and as a share of the host's streaming
#   read bandwidth.
#   tok/s is run.c's: (positions - 1) / time after the first position.
# - Batched steps (jalrt-bench batch, guest) on gen-15M and a generated
#   model of the 110M llama2.c shape at f32, bf16, int8 and int4: aggregate decode
#   of 1, 4, 16 and 64 sequences, prompts of 128 and 512 tokens in one step,
#   the host<->chip overhead per step; against the single-sequence rates of
#   the same run and the host CPU's best (tests/baseline/cpu-llm: every
#   thread, OpenMP loops as llama2.c's runomp, OpenBLAS sgemm for batches,
#   runq.c's int8), with the host's streaming read bandwidth.
# - jalrt-serve in the guest under 16 concurrent streaming HTTP clients on
#   the host (a second boot): aggregate tok/s, time to first token and
#   inter-token latency p50/p99.
# - Big models (a third boot, 8 GiB of device memory; not with --quick):
#   seeded GGUF files in the shapes of TinyLlama-1.1B (Q8_0, Q4_0) and
#   Llama-3-8B (Q4_0), generated once: load time, decode tok/s and the
#   share of the host's streaming read bandwidth.
# - Null-job round trip and pipelined job rate, DMA copy bandwidth (guest).
# - tests/bench, the chip model's per-op benchmark, if present (host).
#
# Models: $JAL_MODELS_DIR or <repo>/../shared/models for aidreams260k.bin
# (its rows are skipped if absent); the 15M-shape model is generated once
# into $JAL_CACHE/bench. --quick runs fewer steps and skips per-token jobs.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1

say() { printf '[bench] %s\n' "$*" >&2; }

make -s -C runtime >/dev/null
bench_dir=$JAL_CACHE/bench
mkdir -p "$bench_dir"
models_dir=${JAL_MODELS_DIR:-$top/../shared/models}

# name path steps
models=()
if [ -f "$models_dir/aidreams260k.bin" ]; then
	models+=("aidreams260k $(cd "$models_dir" && pwd)/aidreams260k.bin 128")
else
	say "no $models_dir/aidreams260k.bin: its rows are skipped"
fi
gen15m=$bench_dir/stories15m-shape.bin
if [ ! -f "$gen15m" ]; then
	say "generating the 15M-shape model"
	runtime/build/jalrt-gen-model --seed 1 -o "$gen15m" >/dev/null
fi
steps15m=256
[ "$quick" = 1 ] && steps15m=64
models+=("gen-15M $gen15m $steps15m")
gen110m=$bench_dir/llama-110m-shape.bin
if [ ! -f "$gen110m" ]; then
	say "generating the 110M-shape model"
	runtime/build/jalrt-gen-model --seed 1 --dim 768 --hidden 2048 --layers 12 --heads 12 \
		--kv-heads 12 --vocab 32000 --seq 1024 -o "$gen110m" >/dev/null
fi
models+=("gen-110M $gen110m $((steps15m / 2))")
precisions=(f32 bf16 int8 sparse int4)

# ---- host CPU baselines of the decode rows ------------------------------------
# tests/baseline/cpu-llm, one sequence on every host thread: f32 as
# llama2.c's runomp, int8 as its runq.c (libjalrt's quantisation); bf16
# and sparse rows are compared with its f32. The best of three runs.
make -s -C tests/baseline >/dev/null
cpu_llm=tests/baseline/build/cpu-llm
declare -A cpu
# the CPU baseline has no int4: int4 rows are compared with its int8
ref_precision() { case $1 in int8|int4) echo int8 ;; *) echo f32 ;; esac; }
for m in "${models[@]}"; do
	read -r name path steps <<<"$m"
	for rp in f32 int8; do
		flag=
		[ "$rp" = int8 ] && flag=--int8
		best=0
		for _ in 1 2 3; do
			r=$($cpu_llm decode "$path" $flag --seqs 1 -n "$steps" | awk '{ print $2 }')
			best=$(awk -v a="$best" -v b="${r:-0}" 'BEGIN { print (b > a ? b : a) }')
		done
		cpu[$name $rp]=$(awk -v v="$best" 'BEGIN { printf "%.1f", v }')
	done
done
bandwidth=$($cpu_llm bandwidth | awk '$1 == "cpu_stream_read_gb_per_s" { print $2 }')

# ---- guest: one boot for every figure -----------------------------------------
guest=$bench_dir/guest-bench.sh
{
	echo 'set -u'
	echo 'b=runtime/build/jalrt-bench'
	for m in "${models[@]}"; do
		read -r name path steps <<<"$m"
		for p in "${precisions[@]}"; do
			echo "\$b llm '$path' --precision $p -n $steps -r 2 | sed 's/^/LLM $name $p loop /'"
			if [ "$quick" = 0 ]; then
				echo "\$b llm '$path' --precision $p -n $steps --per-token | sed 's/^/LLM $name $p pertoken /'"
			fi
		done
	done
	echo "\$b null -n 2000 | sed 's/^/SYS /'"
	echo "\$b copy -s 64 -n 3 | sed 's/^/SYS /'"
} >"$guest"
# ---- batched steps and serving: appended to the guest run -----------------------
# jalrt-bench batch on gen-15M and a generated model of the 110M llama2.c
# shape (dim 768, hidden 2048, 12 layers, 12 heads, vocab 32000):
# aggregate decode tok/s of 1, 4, 16 and 64 sequences (one job per step,
# and 16 steps per job with jalrt_llm_batch_decode()), prompts of 128 and
# 512 tokens in one step, with jalrt_llm_generate()'s single-sequence
# rates from the same run.
tok32k=$bench_dir/byte-tokenizer-32000.bin
[ -f "$tok32k" ] || tests/serve/serve_test.py --write-byte-tokenizer "$tok32k" --vocab 32000
batch_steps=32
[ "$quick" = 1 ] && batch_steps=8
# name path prompts
batch_models=("gen-15M $gen15m 128" "gen-110M $gen110m 128,512")
batch_precisions=(f32 bf16 int8 int4)
for m in "${batch_models[@]}"; do
	read -r name path prompts <<<"$m"
	for p in "${batch_precisions[@]}"; do
		echo "\$b batch '$path' --precision $p -n $batch_steps --seqs 1,4,16,64 --prompt $prompts --loop 16 | sed 's/^/BATCH $name $p /'"
	done
done >>"$guest"
http_clients=16
http_requests=4
[ "$quick" = 1 ] && http_requests=1

# ---- host CPU baselines of the batched rows -------------------------------------
# tests/baseline/cpu-llm: llama2.c's forward on every host thread (OpenMP
# loops as runomp, OpenBLAS sgemm for batches, runq.c's int8), and the
# host's streaming read bandwidth.
cpu_out=$bench_dir/cpu.out
say "measuring the CPU baselines"
{
	for m in "${batch_models[@]}"; do
		read -r name path prompts <<<"$m"
		for rp in f32 int8; do
			flag=
			[ "$rp" = int8 ] && flag=--int8
			$cpu_llm decode "$path" $flag -n "$batch_steps" --seqs 1,4,16,64 | sed "s/^/CPU $name $rp /"
			$cpu_llm prefill "$path" $flag --prompt "$prompts" | sed "s/^/CPU $name $rp /"
		done
	done
} >"$cpu_out" 2>&1 || say "CPU baselines ended with $?"

say "running the guest benchmarks (one VM boot)"
out=$bench_dir/guest.out
# A generation is one job: give long ones room beyond the default 5 s.
JAL_DRIVER_PARAMS="job_timeout_ms=600000 ${JAL_DRIVER_PARAMS:-}" \
	scripts/vm.sh --timeout 3600 bash "$guest" >"$out" 2>&1 || say "guest run ended with $?"

# ---- serving: a second boot, the clients on the host --------------------------
# jalrt-serve in the guest with its port forwarded; tests/serve/http_load.py
# on the host, as users reach the card, so the clients take no guest CPU.
say "serving under an HTTP load of $http_clients clients (a second VM boot)"
http_out=$bench_dir/http.out
serve_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid scripts/vm.sh --timeout 1800 --forward "$serve_port:8080" \
	"runtime/build/jalrt-serve '$gen15m' -z '$tok32k' --precision int8 --host 0.0.0.0 --port 8080 --parallel $http_clients" \
	>"$bench_dir/serve.out" 2>&1 &
serve_vm=$!
tests/serve/http_load.py --url "http://127.0.0.1:$serve_port" --clients "$http_clients" \
	--requests "$http_requests" --max-tokens 64 --wait-s 1200 >"$http_out" 2>&1 ||
	say "the HTTP load ended with $? (see $http_out and $bench_dir/serve.out)"
kill -TERM -- "-$serve_vm" 2>/dev/null || true
wait "$serve_vm" 2>/dev/null || true

# ---- big models: a third boot with device memory to hold them ---------------------
# Seeded GGUF models in the shapes of TinyLlama-1.1B (Q8_0 and Q4_0) and
# Llama-3-8B (Q4_0), generated once into $JAL_CACHE/bench (1.2, 0.6 and
# 4.4 GB): load time and single-sequence decode rate on the chip, with the
# weight bytes a token as a share of the host's streaming read bandwidth.
# Skipped by --quick.
big_out=$bench_dir/big.out
: >"$big_out"
if [ "$quick" = 0 ]; then
	big_models=()
	big_gen() {	# big_gen NAME TYPE ARGS...: generate once, add to big_models
		local name=$1 type=$2 file=$bench_dir/$1.gguf
		shift 2
		if [ ! -f "$file" ]; then
			say "generating the $name model (once)"
			runtime/build/jalrt-gen-model --seed 1 --format gguf --type "$type" "$@" -o "$file.tmp" >/dev/null &&
				mv "$file.tmp" "$file" || { rm -f "$file.tmp"; say "cannot generate $name"; return; }
		fi
		big_models+=("$name $file")
	}
	tiny=(--dim 2048 --hidden 5632 --layers 22 --heads 32 --kv-heads 4 --vocab 32000 --seq 2048)
	big_gen tinyllama-1.1B-q8_0 q8_0 "${tiny[@]}"
	big_gen tinyllama-1.1B-q4_0 q4_0 "${tiny[@]}"
	big_gen llama3-8B-q4_0 q4_0 --dim 4096 --hidden 14336 --layers 32 --heads 32 --kv-heads 8 \
		--vocab 128256 --seq 2048 --unshared --rope-theta 500000
	{
		echo 'set -u'
		for m in "${big_models[@]}"; do
			read -r name path <<<"$m"
			echo "runtime/build/jalrt-bench llm '$path' -n 16 -r 1 | sed 's/^/BIG $name /'"
		done
	} >"$bench_dir/guest-big.sh"
	if [ ${#big_models[@]} -gt 0 ]; then
		say "running the big models (a third VM boot, 8 GiB of device memory)"
		JAL_VRAM=8G JAL_GUEST_MEM=6G JAL_DRIVER_PARAMS="job_timeout_ms=600000 ${JAL_DRIVER_PARAMS:-}" \
			scripts/vm.sh --timeout 3600 bash "$bench_dir/guest-big.sh" >"$big_out" 2>&1 ||
			say "the big-model run ended with $?"
	fi
fi

get() {	# get MODEL PRECISION MODE KEY -> value
	awk -v m="$1" -v p="$2" -v mode="$3" -v k="$4" \
		'$1 == "LLM" && $2 == m && $3 == p && $4 == mode && $5 == k { print $6 }' "$out"
}
sys() { awk -v k="$1" '$1 == "SYS" && $2 == k { print $3 }' "$out"; }
ratio() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }

# ---- the table ------------------------------------------------------------------
echo
echo "Jalapeño benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) host CPUs, guest under TCG)"
echo
echo "Decode, greedy from BOS (tok/s = (positions - 1) / time after the first position);"
echo "CPU: the host on every thread at the row's precision (f32 for bf16 and sparse, int8 for int4: cpu-llm);"
echo "vs f32: the chip loop against the same model's f32 chip loop; BW: weight bytes a token x"
echo "tok/s as a share of the host's streaming read bandwidth ($bandwidth GB/s, all threads;"
echo "a model whose weights fit in the caches can pass 100%)"
printf '%-13s %-7s %9s %-7s %6s %11s %11s %12s %9s %7s %6s\n' model weights MiB memory steps \
	"chip loop" "per-token" "CPU" "loop/CPU" "vs f32" BW
for m in "${models[@]}"; do
	read -r name path steps <<<"$m"
	f32loop=$(get "$name" f32 loop llm_tok_per_s)
	for p in "${precisions[@]}"; do
		loop=$(get "$name" "$p" loop llm_tok_per_s)
		per=$(get "$name" "$p" pertoken llm_tok_per_s)
		ref=${cpu[$name $(ref_precision "$p")]}
		mib=$(get "$name" "$p" loop llm_weights)
		bw=$(awk -v m="${mib:-}" -v r="${loop:-}" -v b="${bandwidth:-}" 'BEGIN {
			if (m == "" || r == "" || b + 0 == 0) print "-"
			else printf "%.0f%%", 100 * m * 1048576 * r / (b * 1e9) }')
		printf '%-13s %-7s %9s %-7s %6s %11s %11s %12s %9s %7s %6s\n' "$name" "$p" \
			"${mib:--}" "$(get "$name" "$p" loop llm_memory)" \
			"$(get "$name" "$p" loop llm_positions)" "${loop:--}" "${per:--}" \
			"$ref" "$(ratio "$loop" "$ref")" "$(ratio "$loop" "$f32loop")" "$bw"
	done
done
echo
echo "Jobs and DMA (guest, through libjalrt and the driver)"
printf '  null job round trip      %8s us median, %s us p90\n' "$(sys null_rtt_median_us)" \
	"$(sys null_rtt_p90_us)"
printf '  pipelined null jobs      %8s jobs/s\n' "$(sys null_jobs_per_s)"
for c in host_to_host host_to_device device_to_host device_to_device; do
	v=$(sys "copy_$c")
	if [ -z "$v" ] || [ "$v" = n/a ]; then
		why=$(awk -v k="copy_$c" '$1 == "SYS" && $2 == k { $1 = $2 = $3 = ""; print }' "$out")
		printf '  copy %-18s      n/a %s\n' "$c" "${why# }"
		continue
	fi
	printf '  copy %-18s %8s GB/s (device clock), %s GB/s wall, 64 MiB\n' "$c" "$v" \
		"$(sys "copy_${c}_wall")"
done
if grep -q -E '^(jalrt-bench|vm):' "$out"; then
	echo
	echo "Errors reported by the guest run ($out):"
	grep -E '^(jalrt-bench|vm):' "$out" | sed 's/^/  /'
fi

# ---- batched steps and serving: the tables ------------------------------------------
bget() {	# bget MODEL PRECISION KEY
	awk -v m="$1" -v p="$2" -v k="$3" '$1 == "BATCH" && $2 == m && $3 == p && $4 == k { print $5 }' "$out"
}
cget() {	# cget MODEL f32|int8 KEY: the CPU baseline
	awk -v m="$1" -v p="$2" -v k="$3" '$1 == "CPU" && $2 == m && $3 == p && $4 == k { print $5 }' "$cpu_out"
}
cbest() {	# cbest MODEL KEY: the better of the CPU's f32 and int8
	awk -v a="$(cget "$1" f32 "$2")" -v b="$(cget "$1" int8 "$2")" \
		'BEGIN { v = (a + 0 > b + 0) ? a : b; if (v != "") print v }'
}
pct() { awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.1f%%", 100 * a / b }'; }
echo
echo "Batched decode (jalrt_llm_batch_step(): one job per step for all its sequences; guest)"
echo "aggregate greedy tok/s of N sequences over $batch_steps steps; single: jalrt_llm_generate() of one"
echo "sequence; loop: 16 steps per job (jalrt_llm_batch_decode()); CPU 16: the better of the host's"
echo "f32 (OpenMP/OpenBLAS) and int8 (runq.c-style OpenMP) at 16 sequences; overhead: host<->chip"
echo "time at 16 sequences as a share of the step, one job a step / 16 steps a job (target <= 10%)"
printf '%-9s %-5s %8s %8s %8s %8s %8s %7s %8s %8s %8s %8s %13s\n' model prec single "1 seq" \
	"4 seqs" "16 seqs" "64 seqs" 16/1 "16 loop" "64 loop" "CPU 16" chip/CPU overhead
for m in "${batch_models[@]}"; do
	read -r name path prompts <<<"$m"
	c16=$(cbest "$name" cpu_decode_16_tok_per_s)
	for p in "${batch_precisions[@]}"; do
		single=$(bget "$name" "$p" batch_single_decode_tok_per_s)
		d16=$(bget "$name" "$p" batch_decode_16_tok_per_s)
		printf '%-9s %-5s %8s %8s %8s %8s %8s %7s %8s %8s %8s %8s %13s\n' "$name" "$p" \
			"${single:--}" "$(bget "$name" "$p" batch_decode_1_tok_per_s)" \
			"$(bget "$name" "$p" batch_decode_4_tok_per_s)" "${d16:--}" \
			"$(bget "$name" "$p" batch_decode_64_tok_per_s)" "$(ratio "$d16" "$single")" \
			"$(bget "$name" "$p" batch_loop_16_tok_per_s)" \
			"$(bget "$name" "$p" batch_loop_64_tok_per_s)" "${c16:--}" "$(ratio "$d16" "$c16")" \
			"$(pct "$(bget "$name" "$p" batch_decode_16_overhead_us)" \
				"$(bget "$name" "$p" batch_decode_16_step_us)") / $(pct \
				"$(bget "$name" "$p" batch_loop_16_overhead_us)" \
				"$(bget "$name" "$p" batch_loop_16_job_us)")"
	done
	for rp in f32 int8; do
		printf '%-9s %-5s %8s %8s %8s %8s %8s\n' "$name" "CPU $rp" "-" \
			"$(cget "$name" "$rp" cpu_decode_1_tok_per_s)" \
			"$(cget "$name" "$rp" cpu_decode_4_tok_per_s)" \
			"$(cget "$name" "$rp" cpu_decode_16_tok_per_s)" \
			"$(cget "$name" "$rp" cpu_decode_64_tok_per_s)"
	done
done

echo
echo "Prefill: one prompt in one step (tok/s); decode: the same model's single-sequence decode rate"
echo "(target: prefill >= 5x decode); CPU: the better of the host's f32 (sgemm) and int8 for the prompt"
printf '%-9s %-5s %6s %10s %10s %7s %10s %8s\n' model prec prompt prefill decode pre/dec CPU chip/CPU
for m in "${batch_models[@]}"; do
	read -r name path prompts <<<"$m"
	for p in "${batch_precisions[@]}"; do
		single=$(bget "$name" "$p" batch_single_decode_tok_per_s)
		for n in ${prompts//,/ }; do
			pre=$(bget "$name" "$p" "batch_prefill_${n}_tok_per_s")
			cpre=$(cbest "$name" "cpu_prefill_${n}_tok_per_s")
			printf '%-9s %-5s %6s %10s %10s %7s %10s %8s\n' "$name" "$p" "$n" "${pre:--}" \
				"${single:--}" "$(ratio "$pre" "$single")" "${cpre:--}" "$(ratio "$pre" "$cpre")"
		done
	done
done

hget() { awk -v k="$1" '$1 == k { print $2 }' "$http_out"; }
single=$(bget gen-15M int8 batch_single_decode_tok_per_s)
echo
echo "Serving: jalrt-serve (gen-15M, int8, --parallel $http_clients) under $http_clients concurrent streaming"
echo "clients of /v1/completions on the host, up to 64 tokens each (tests/serve/http_load.py)"
printf '  requests %s, errors %s; aggregate %s tok/s (%s the single-sequence decode rate)\n' \
	"$(hget http_requests)" "$(hget http_errors)" "$(hget http_tok_per_s)" \
	"$(ratio "$(hget http_tok_per_s)" "$single")"
printf '  time to first token  p50 %8s ms   p99 %8s ms\n' "$(hget http_ttft_p50_ms)" \
	"$(hget http_ttft_p99_ms)"
printf '  inter-token latency  p50 %8s ms   p99 %8s ms   (one sequence alone: %s ms a token)\n' \
	"$(hget http_itl_p50_ms)" "$(hget http_itl_p99_ms)" \
	"$(awk -v r="${single:-}" 'BEGIN { if (r + 0 > 0) printf "%.1f", 1000 / r; else print "-" }')"


# ---- big models: the table -----------------------------------------------------
bigget() { awk -v m="$1" -v k="$2" '$1 == "BIG" && $2 == m && $3 == k { print $4 }' "$big_out"; }
if [ "$quick" = 0 ] && [ ${#big_models[@]} -gt 0 ]; then
	echo
	echo "Big models: seeded GGUF files in real shapes, their own precision (Q8_0 as int8, Q4_0 as"
	echo "int4); guest with 8 GiB of device memory; load: jalrt_llm_load() from the file in the"
	echo "guest (9p) to the chip; BW: weight bytes a token x tok/s / host streaming read bandwidth"
	printf '%-22s %11s %-7s %9s %9s %9s %6s\n' model "weights MiB" memory "load s" "upload s" tok/s BW
	for m in "${big_models[@]}"; do
		read -r name path <<<"$m"
		mib=$(bigget "$name" llm_weights)
		tps=$(bigget "$name" llm_tok_per_s)
		printf '%-22s %11s %-7s %9s %9s %9s %6s\n' "$name" "${mib:--}" \
			"$(bigget "$name" llm_memory)" \
			"$(awk -v v="$(bigget "$name" llm_load)" 'BEGIN { if (v != "") printf "%.1f", v / 1000; else print "-" }')" \
			"$(awk -v v="$(bigget "$name" llm_upload)" 'BEGIN { if (v != "") printf "%.1f", v / 1000; else print "-" }')" \
			"${tps:--}" \
			"$(awk -v m="${mib:-}" -v r="${tps:-}" -v b="${bandwidth:-}" 'BEGIN {
				if (m == "" || r == "" || b + 0 == 0) print "-"
				else printf "%.0f%%", 100 * m * 1048576 * r / (b * 1e9) }')"
	done
	if grep -q -E '^(jalrt-bench|vm):' "$big_out"; then
		echo "Errors reported by the big-model run ($big_out):"
		grep -E '^(jalrt-bench|vm):' "$big_out" | sed 's/^/  /'
	fi
fi

# ---- the chip model's own per-op benchmark ------------------------------------
if [ -f tests/bench/Makefile ]; then
	echo
	echo "Per-op throughput of the chip model (tests/bench, host)"
	make -s -C tests/bench run ${BENCH_OPS_ARGS:+ARGS="$BENCH_OPS_ARGS"} ||
		echo "  (tests/bench failed with $?)"
fi
