/* SPDX-License-Identifier: MIT */
/*
 * What llm.c (loading, single-sequence generation) and llm_batch.c
 * (batched steps over paged KV caches) share: the loaded model and the
 * rule that picks a matrix-vector product's flags, so that both paths
 * emit the same arithmetic for every weight.
 */
#ifndef JALRT_LLM_INTERNAL_H
#define JALRT_LLM_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include "jalrt_internal.h"
#include "jalrt_graph.h"
#include "jalrt_llm.h"

#include "checkpoint.h"

struct llm_layer {
	struct jalrt_tensor *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3;
	struct jalrt_tensor *bq, *bk, *bv;	/* qwen2's biases, else NULL */
	struct jalrt_tensor *kc, *vc;
};

/* A generation program for one sampler setting. */
struct llm_prog {
	struct jalrt_program *prog;
	float temperature, topp;
};

struct jalrt_llm {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct llm_checkpoint *ckpt;
	struct llm_tokenizer *tok;
	struct llm_config cfg;
	unsigned int precision;
	uint32_t q8_group;
	struct jalrt_graph *g;
	uint64_t weight_bytes;

	struct jalrt_tensor *emb, *wcls, *rms_final;
	/* scaled RoPE: head_size / 2 rotation frequencies, else NULL */
	struct jalrt_tensor *rope_freqs;
	struct llm_layer *layers;
	struct jalrt_tensor *x, *xb, *xb2, *q, *hb, *hb2, *logits;
	/* host-visible I/O */
	struct jalrt_tensor *prompt, *out, *progress, *rng, *cancel, *logits_host;
	struct jalrt_tensor *stamps;

	/* weights of a GGUF file converted for the upload, freed after it */
	void **bufs;
	size_t n_bufs;

	struct llm_prog progs[2];	/* [0] greedy, [1] the last sampling one */
	struct jalrt_cmdbuf *cb;
	uint32_t program_insns;
};

static inline uint64_t llm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * JALRT_MATVEC_* flags of d = W x for weights @w of @cols columns: at
 * int8, x is quantised too (runq.c's matmul, JAL_INSN_F_Q8X) wherever the
 * chip can do that for the matrix's group; quant.h decides, for the
 * reference's int8 mode too.
 */
JALRT_HIDDEN uint32_t llm_matvec_flags(const struct jalrt_llm *m, const struct jalrt_tensor *w,
				       uint32_t cols);

#endif /* JALRT_LLM_INTERNAL_H */
