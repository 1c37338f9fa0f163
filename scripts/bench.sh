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
#   aidreams260k and a generated model of the 15M "stories" shape (dim 288,
#   hidden 768, 6 layers, 6 heads, vocab 32000, seq 256) at f32, bf16, int8
#   and sparse weights: the one-job device loop and one job per position;
#   against the host CPU reference (runtime/build/jalrt-ref-run --ids,
#   natively on the host, f32: the reference has no other precision).
#   tok/s is run.c's: (positions - 1) / time after the first position.
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
precisions=(f32 bf16 int8 sparse)

# ---- host CPU reference ------------------------------------------------------
# The reference models f32 and int8 (libjalrt's quantisation); bf16 and
# sparse rows are compared with its f32.
declare -A cpu
ref_precision() { case $1 in int8) echo int8 ;; *) echo f32 ;; esac; }
for m in "${models[@]}"; do
	read -r name path steps <<<"$m"
	for rp in f32 int8; do
		flag=
		[ "$rp" = int8 ] && flag=--int8
		best=0
		for _ in 1 2 3; do
			r=$(runtime/build/jalrt-ref-run "$path" $flag --ids -t 0 -n "$steps" 2>&1 >/dev/null |
				sed -n 's/^achieved tok\/s: //p')
			best=$(awk -v a="$best" -v b="${r:-0}" 'BEGIN { print (b > a ? b : a) }')
		done
		cpu[$name $rp]=$(awk -v v="$best" 'BEGIN { printf "%.1f", v }')
	done
done

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
# ---- batched steps: appended to the guest run ---------------------------------
# jalrt-bench batch on gen-15M: aggregate decode tok/s of 1, 4, 16 and 64
# sequences (one job per step, and 16 steps per job with
# jalrt_llm_batch_decode()) and a 128-token prompt in one step, with
# jalrt_llm_generate()'s single-sequence rates from the same run.
batch_steps=64
[ "$quick" = 1 ] && batch_steps=16
batch_precisions=(f32 int8)
for p in "${batch_precisions[@]}"; do
	echo "\$b batch '$gen15m' --precision $p -n $batch_steps --seqs 1,4,16,64 --prompt 128 --loop 16 | sed 's/^/BATCH $p /'"
done >>"$guest"

say "running the guest benchmarks (one VM boot)"
out=$bench_dir/guest.out
# A generation is one job: give long ones room beyond the default 5 s.
JAL_DRIVER_PARAMS="job_timeout_ms=600000 ${JAL_DRIVER_PARAMS:-}" \
	scripts/vm.sh --timeout 3600 bash "$guest" >"$out" 2>&1 || say "guest run ended with $?"

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
echo "CPU ref: the host reference at the row's precision (f32 for bf16 and sparse);"
echo "vs f32: the chip loop against the same model's f32 chip loop"
printf '%-13s %-7s %9s %-7s %6s %11s %11s %12s %9s %7s\n' model weights MiB memory steps \
	"chip loop" "per-token" "CPU ref" "loop/CPU" "vs f32"
for m in "${models[@]}"; do
	read -r name path steps <<<"$m"
	f32loop=$(get "$name" f32 loop llm_tok_per_s)
	for p in "${precisions[@]}"; do
		loop=$(get "$name" "$p" loop llm_tok_per_s)
		per=$(get "$name" "$p" pertoken llm_tok_per_s)
		ref=${cpu[$name $(ref_precision "$p")]}
		printf '%-13s %-7s %9s %-7s %6s %11s %11s %12s %9s %7s\n' "$name" "$p" \
			"$(get "$name" "$p" loop llm_weights)" "$(get "$name" "$p" loop llm_memory)" \
			"$(get "$name" "$p" loop llm_positions)" "${loop:--}" "${per:--}" \
			"$ref" "$(ratio "$loop" "$ref")" "$(ratio "$loop" "$f32loop")"
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

# ---- batched steps: the table ---------------------------------------------------
bget() { awk -v p="$1" -v k="$2" '$1 == "BATCH" && $2 == p && $3 == k { print $4 }' "$out"; }
echo
echo "Batched steps, gen-15M (jalrt_llm_batch_step(): one job per step for all its sequences)"
echo "decode: aggregate greedy tok/s of N sequences over $batch_steps steps; single: jalrt_llm_generate()"
echo "of one sequence; 16/64 loop: 16 steps per job (jalrt_llm_batch_decode());"
echo "prefill: a 128-token prompt, one step vs the single device loop;"
echo "overhead: host<->chip time per step at 16 sequences (step minus device clock)"
printf '%-7s %9s %9s %9s %9s %9s %9s %9s %9s %10s %10s %8s %9s\n' weights single "1 seq" \
	"4 seqs" "16 seqs" "64 seqs" "64/single" "16 loop" "64 loop" "prefill 1" "prefill B" \
	"B/1" overhead
for p in "${batch_precisions[@]}"; do
	single=$(bget "$p" batch_single_decode_tok_per_s)
	d64=$(bget "$p" batch_decode_64_tok_per_s)
	pre1=$(bget "$p" batch_single_prefill_tok_per_s)
	preb=$(bget "$p" batch_prefill_tok_per_s)
	ovh=$(bget "$p" batch_decode_16_overhead_us)
	printf '%-7s %9s %9s %9s %9s %9s %9s %9s %9s %10s %10s %8s %9s\n' "$p" "${single:--}" \
		"$(bget "$p" batch_decode_1_tok_per_s)" "$(bget "$p" batch_decode_4_tok_per_s)" \
		"$(bget "$p" batch_decode_16_tok_per_s)" "${d64:--}" "$(ratio "$d64" "$single")" \
		"$(bget "$p" batch_loop_16_tok_per_s)" "$(bget "$p" batch_loop_64_tok_per_s)" \
		"${pre1:--}" "${preb:--}" "$(ratio "$preb" "$pre1")" "${ovh:+$ovh us}"
done

# ---- the chip model's own per-op benchmark ------------------------------------
if [ -f tests/bench/Makefile ]; then
	echo
	echo "Per-op throughput of the chip model (tests/bench, host)"
	make -s -C tests/bench run ${BENCH_OPS_ARGS:+ARGS="$BENCH_OPS_ARGS"} ||
		echo "  (tests/bench failed with $?)"
fi
