// SPDX-License-Identifier: MIT
/*
 * sim_bench: decode tok/s of the LLM API on the chip model run in-process
 * (sim_backend.c), weights in device memory and in host memory: what the
 * chip does without QEMU, the guest or the driver in the way. Figures
 * only.
 *
 *   sim_bench MODEL [STEPS [PRECISION [ROUNDS]]]
 *
 * Every configuration is loaded first and the rounds then generate with
 * each in turn, the best round counting: on a shared machine whose speed
 * drifts, interleaving keeps the ratios between configurations honest.
 * PRECISION (f32, bf16, int8, sparse or all) limits the run to one, in
 * device memory (what a profiler wants to look at).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jalrt_llm.h"
#include "sim_backend.h"

#define SIM_BENCH_CONFIGS	(2 * (JALRT_PRECISION_SPARSE + 1))

struct sim_config {
	struct jalrt_llm *llm;
	struct jalrt_llm_info info;
	struct jalrt_llm_stats best;
};

static int fail(void)
{
	fprintf(stderr, "sim_bench: %s\n", jalrt_last_error_message());
	return 1;
}

int main(int argc, char **argv)
{
	int steps = argc > 2 ? atoi(argv[2]) : 256, bos = JALRT_LLM_TOKEN_BOS;
	int rounds = argc > 4 ? atoi(argv[4]) : 2;
	bool all = argc < 4 || !strcmp(argv[3], "all");
	struct jalrt_llm_generate_params g = {
		.prompt = &bos, .n_prompt = 1, .steps = steps,
	};
	struct sim_config cfg[SIM_BENCH_CONFIGS] = { 0 };
	enum jalrt_precision only = JALRT_PRECISION_F32;
	struct jalrt_device *dev;
	unsigned int n = 0, i;

	if (argc < 2 || argc > 5 || steps < 1 || rounds < 1 ||
	    (!all && jalrt_precision_parse(argv[3], &only))) {
		fprintf(stderr, "usage: sim_bench MODEL [STEPS [f32|bf16|int8|sparse|all [ROUNDS]]]\n");
		return 2;
	}
	if (sim_open(1ull << 30, true, &dev))
		return fail();
	for (unsigned int host = 0; host < (all ? 2 : 1); host++) {
		for (unsigned int p = JALRT_PRECISION_F32; p <= JALRT_PRECISION_SPARSE; p++) {
			struct jalrt_llm_options o = {
				.precision = p, .flags = host ? JALRT_LLM_HOST_MEMORY : 0,
			};

			if (!all && p != only)
				continue;
			if (jalrt_llm_load(dev, argv[1], NULL, &o, &cfg[n].llm))
				return fail();
			jalrt_llm_query(cfg[n].llm, &cfg[n].info);
			n++;
		}
	}
	for (int r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++) {
			struct jalrt_llm_stats st;

			if (jalrt_llm_generate(cfg[i].llm, &g, &st))
				return fail();
			if (st.tokens_per_second > cfg[i].best.tokens_per_second)
				cfg[i].best = st;
		}
	}
	for (i = 0; i < n; i++) {
		printf("%-7s %-6s memory: %8.1f tok/s (%d positions)\n",
		       jalrt_precision_name(cfg[i].info.precision),
		       cfg[i].info.in_vram ? "device" : "host",
		       cfg[i].best.tokens_per_second, cfg[i].best.positions);
		jalrt_llm_destroy(cfg[i].llm);
	}
	jalrt_device_close(dev);
	return 0;
}
