// SPDX-License-Identifier: MIT
/*
 * sim_bench: decode tok/s of the LLM API on the chip model run in-process
 * (sim_backend.c), weights in device memory and in host memory: what the
 * chip does without QEMU, the guest or the driver in the way. Figures
 * only.
 *
 *   sim_bench MODEL [STEPS [PRECISION]]
 *
 * PRECISION (f32, bf16, int8 or sparse) limits the run to one, in device
 * memory: what a profiler wants to look at.
 */
#include <stdio.h>
#include <stdlib.h>

#include "jalrt_llm.h"
#include "sim_backend.h"

int main(int argc, char **argv)
{
	int steps = argc > 2 ? atoi(argv[2]) : 256, bos = JALRT_LLM_TOKEN_BOS;
	enum jalrt_precision only = JALRT_PRECISION_F32;
	struct jalrt_device *dev;

	if (argc < 2 || argc > 4 || steps < 1 ||
	    (argc > 3 && jalrt_precision_parse(argv[3], &only))) {
		fprintf(stderr, "usage: sim_bench MODEL [STEPS [f32|bf16|int8|sparse]]\n");
		return 2;
	}
	if (sim_open(1ull << 30, true, &dev)) {
		fprintf(stderr, "sim_bench: %s\n", jalrt_last_error_message());
		return 1;
	}
	for (unsigned int host = 0; host < (argc > 3 ? 1 : 2); host++) {
		for (unsigned int p = JALRT_PRECISION_F32; p <= JALRT_PRECISION_SPARSE; p++) {
			if (argc > 3 && p != only)
				continue;
			struct jalrt_llm_options o = {
				.precision = p, .flags = host ? JALRT_LLM_HOST_MEMORY : 0,
			};
			struct jalrt_llm_generate_params g = {
				.prompt = &bos, .n_prompt = 1, .steps = steps,
			};
			struct jalrt_llm_stats st, best = { 0 };
			struct jalrt_llm_info info;
			struct jalrt_llm *llm;

			if (jalrt_llm_load(dev, argv[1], NULL, &o, &llm)) {
				fprintf(stderr, "sim_bench: %s\n", jalrt_last_error_message());
				return 1;
			}
			jalrt_llm_query(llm, &info);
			for (int r = 0; r < 2; r++) {
				if (jalrt_llm_generate(llm, &g, &st)) {
					fprintf(stderr, "sim_bench: %s\n", jalrt_last_error_message());
					return 1;
				}
				if (st.tokens_per_second > best.tokens_per_second)
					best = st;
			}
			printf("%-7s %-6s memory: %8.1f tok/s (%d positions)\n",
			       jalrt_precision_name(p), info.in_vram ? "device" : "host",
			       best.tokens_per_second, best.positions);
			jalrt_llm_destroy(llm);
		}
	}
	jalrt_device_close(dev);
	return 0;
}
