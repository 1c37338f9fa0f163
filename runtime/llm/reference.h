/* SPDX-License-Identifier: MIT */
/*
 * The CPU reference of llama2.c inference: the forward pass, the sampler
 * and the generation loop of llama2.c's run.c, structured exactly like it
 * so that the chip's results can be checked against it.
 *
 * Numerics: every step is run.c's (rmsnorm with the model's eps, RoPE
 * with its theta per head on q and k: 1e-5 and 10000 for llama2.c files,
 * a GGUF file's own; grouped KV heads, softmax attention, SwiGLU, final
 * rmsnorm, classifier). A GGUF model may add qwen2's Q, K and V biases
 * (after the projections, before RoPE) and scaled RoPE (the checkpoint's
 * rope_freqs table instead of theta's frequencies, as the chip's ROPE
 * with JAL_INSN_F_ROPE_FREQS). There is one deliberate difference: dot
 * products over more than LLM_REF_DOT_LANES elements (the matrix-vector
 * products and attention scores) accumulate in LLM_REF_DOT_LANES
 * interleaved partial sums, added up in lane order at the end, instead of
 * one running sum. That is the kind of reordering run.c gets from -Ofast,
 * and it is what lets the loops vectorize without -ffast-math; the result
 * is still fully determined by the source, so SSE and AVX builds agree to
 * the bit (unless the build contracts a*b+c into FMA: build with
 * -ffp-contract=off for results that are identical across machines). The
 * logits stay within ~1e-5 (relative to the largest) of an exact
 * evaluation; greedy decoding matches run.c token for token on the test
 * models. Compiling reference.c with -DLLM_REF_SEQUENTIAL_DOT restores
 * run.c's single running sum and with it run.c's exact bits (about 3-4x
 * slower).
 *
 * An int8 mode (llm_ref_set_precision()) computes what libjalrt's int8
 * precision computes, with the same quantisation code (quant.h) and
 * llama2.c runq.c's matrix-vector products.
 */
#ifndef JAL_LLM_REFERENCE_H
#define JAL_LLM_REFERENCE_H

#include "checkpoint.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Partial sums of a dot product (1 with LLM_REF_SEQUENTIAL_DOT). */
#ifdef LLM_REF_SEQUENTIAL_DOT
#define LLM_REF_DOT_LANES	1
#else
#define LLM_REF_DOT_LANES	16
#endif

/* ------------------------------------------------------------------ */
/* Forward pass                                                         */
/* ------------------------------------------------------------------ */

struct llm_ref;

/**
 * llm_ref_create() - the run state of a model: activations and KV cache
 * @ckpt: the weights; must outlive the result.
 * @ref_out: the state, freed with llm_ref_destroy().
 *
 * A state is used by one thread at a time; any number of states may share
 * one checkpoint (the weights are read-only).
 *
 * Return: 0, or -ENOMEM (the KV cache is 2 * n_layers * seq_len * kv_dim
 * floats).
 */
int llm_ref_create(const struct llm_checkpoint *ckpt, struct llm_ref **ref_out);

/*
 * Summation orders of the reference's dot products (matrix-vector products
 * and attention scores):
 * - LLM_REF_ORDER_LANES: LLM_REF_DOT_LANES interleaved partial sums (the
 *   default, see the top of this file).
 * - LLM_REF_ORDER_CHIP: the Jalapeño chip's order (Documentation/hw/isa.rst,
 *   MATVEC): products rounded to f32, column k added to partial sum k % 8
 *   in increasing k, the sums combined as ((s0 + s1) + (s2 + s3)) +
 *   ((s4 + s5) + (s6 + s7)); rmsnorm's sum of squares too, as the chip's
 *   RMSNORM sums it. The chip's SOFTMAX, ROPE, SILU_MUL and ATTENTION
 *   arithmetic is run.c's otherwise, so with this order the logits equal
 *   the chip's bit for bit for f32 weights.
 */
enum llm_ref_order {
	LLM_REF_ORDER_LANES = 0,
	LLM_REF_ORDER_CHIP = 1,
};

/**
 * llm_ref_set_order() - choose the summation order of later forwards
 * @ref: the state.
 * @order: enum llm_ref_order.
 *
 * Return: 0, or -EINVAL for an unknown order.
 */
int llm_ref_set_order(struct llm_ref *ref, enum llm_ref_order order);

/*
 * Weights of the reference's forward pass:
 * - LLM_REF_PRECISION_F32: the checkpoint's (the default).
 * - LLM_REF_PRECISION_INT8: what jalrt_llm_load() makes of the model with
 *   JALRT_PRECISION_INT8, by the same code (quant.h): every matrix and the
 *   embedding table quantised by llm_quantize_q8() in groups chosen by
 *   llm_int8_group(), the embedding rows decoded as (float)q * scale; each
 *   matrix-vector product whose group allows it (llm_int8_quantizes_x())
 *   is llm_matvec_q8x() (runq.c's matmul: x quantised too), the others
 *   take f32 input and the decoded weights. Norms, attention and the rest
 *   stay f32.
 * - LLM_REF_PRECISION_INT4: what jalrt_llm_load() makes of the model with
 *   JALRT_PRECISION_INT4: every matrix (and the embedding table) of a
 *   row length llm_int4_uses_q4() accepts holds 4-bit values in groups of
 *   32, taken exactly from the file's Q4_0 tensors (Q8_0 ones: their int8
 *   values, as at INT8 in libjalrt) or quantised by llm_quantize_q4();
 *   its products are llm_matvec_q8x() with groups of 32, which is the
 *   chip's Q4 MATVEC bit for bit (the chip quantises x per group of 32
 *   and sums the groups as JAL_INSN_F_Q8X does). Other matrices are as at
 *   INT8.
 * With LLM_REF_ORDER_CHIP the logits equal the chip's bit for bit in
 * any precision.
 */
enum llm_ref_precision {
	LLM_REF_PRECISION_F32 = 0,
	LLM_REF_PRECISION_INT8 = 1,
	LLM_REF_PRECISION_INT4 = 2,
};

/**
 * llm_ref_set_precision() - choose the weights of later forwards
 * @ref: the state; positions run before keep their K and V rows in the
 *	cache, so choose before the first forward of a sequence.
 * @precision: enum llm_ref_precision.
 * @q8_group: INT8 (and INT4's int8 matrices): the preferred group size,
 *	as jalrt_llm_options' (0 = LLM_Q8_GROUP_DEFAULT); ignored for F32.
 *
 * INT8 quantises a copy of the weights (about a quarter of the
 * checkpoint's size, plus f32 copies of the matrices whose products take
 * f32 input).
 *
 * Return: 0, -EINVAL for an unknown precision, or -ENOMEM (the state is
 * back at F32 then).
 */
int llm_ref_set_precision(struct llm_ref *ref, enum llm_ref_precision precision,
			  uint32_t q8_group);

/*
 * Element type of the reference's KV cache:
 * - LLM_REF_KV_F32: f32, as run.c (the default).
 * - LLM_REF_KV_BF16: every key (after RoPE) and value is rounded to bf16
 *   (llm_round_bf16()) as it is stored and attention reads the rounded
 *   values: what the chip's PAGED_KV_STORE and PAGED_ATTENTION compute
 *   with bf16 pools, i.e. libjalrt's batches with kv_dtype JAL_DTYPE_BF16.
 *   The cache itself stays f32 holding bf16 values (llm_ref_key_cache()).
 */
enum llm_ref_kv {
	LLM_REF_KV_F32 = 0,
	LLM_REF_KV_BF16 = 1,
};

/**
 * llm_ref_set_kv() - choose the KV cache type of later forwards
 * @ref: the state; choose before the first forward of a sequence (the
 *	positions already stored keep their values).
 * @kv: enum llm_ref_kv.
 * Return: 0, or -EINVAL for an unknown type.
 */
int llm_ref_set_kv(struct llm_ref *ref, enum llm_ref_kv kv);

/**
 * llm_round_bf16() - @x rounded to bf16 (to nearest, ties to even; a
 *	value past the largest bf16 becomes infinity; a NaN stays a NaN of
 *	the same sign with its quiet bit set), as an f32
 */
float llm_round_bf16(float x);

/**
 * llm_matvec_q8x() - out = W x with int8 weights and x quantised too:
 *	llama2.c runq.c's matmul, the chip's MATVEC with JAL_INSN_F_Q8X
 * @out: @rows results.
 * @wq: @rows x @cols int8 weights.
 * @wscales: one scale per @group consecutive values of a row.
 * @x: @cols floats.
 * @rows: rows.
 * @cols: columns, a multiple of @group.
 * @group: values per scale, at most LLM_Q8X_MAX_GROUP.
 * @order: LLM_REF_ORDER_LANES sums the groups in one running sum, as
 *	runq.c; LLM_REF_ORDER_CHIP adds group g to lane g % 8 (lanes from
 *	+0.0) and returns ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)),
 *	as the chip.
 * @xq: scratch: @cols int8 (x quantised).
 * @xs: scratch: @cols / @group floats (x's scales).
 *
 * x is quantised per group by llm_quantize_q8(), as the weights; each
 * row's group g contributes ((float)i * wscale) * xscale, i the exact
 * integer dot product of the group, each product rounded to f32.
 */
void llm_matvec_q8x(float *out, const int8_t *wq, const float *wscales, const float *x,
		    size_t rows, size_t cols, size_t group, enum llm_ref_order order,
		    int8_t *xq, float *xs);

/** llm_ref_destroy() - free a run state */
void llm_ref_destroy(struct llm_ref *ref);

/** llm_ref_config() - the shape of the model (cannot fail) */
const struct llm_config *llm_ref_config(const struct llm_ref *ref);

/**
 * llm_ref_forward() - run one position, as run.c's forward()
 * @ref: the state; positions 0..@pos-1 must have been run before (their
 *	K and V rows are read from the cache).
 * @token: the token at @pos, 0 <= token < vocab_size.
 * @pos: the position, 0 <= pos < seq_len.
 * @logits: set to the vocab_size logits, owned by @ref and valid until
 *	the next forward (the sampler may modify them in place, as run.c's).
 *
 * Return: 0, or -EINVAL for a token or position out of range.
 */
int llm_ref_forward(struct llm_ref *ref, int token, int pos, float **logits);

/**
 * llm_ref_key_cache() / llm_ref_value_cache() - the KV cache, for
 *	comparisons: [n_layers][seq_len][kv_dim] floats
 */
const float *llm_ref_key_cache(const struct llm_ref *ref);
const float *llm_ref_value_cache(const struct llm_ref *ref);

/* ------------------------------------------------------------------ */
/* Sampler                                                              */
/* ------------------------------------------------------------------ */

/* A candidate of top-p sampling. */
struct llm_prob_index {
	float prob;
	int index;
};

/**
 * struct llm_sampler - run.c's Sampler
 * @vocab_size: logits per step.
 * @temperature: 0 picks the argmax; otherwise logits are divided by it
 *	before the softmax.
 * @topp: nucleus size; in (0, 1) samples from the smallest set of most
 *	likely tokens whose probabilities add up to more than @topp, else
 *	from the whole distribution.
 * @rng_state: xorshift* state, advanced once per sampled token (never
 *	when @temperature is 0).
 * @probindex: scratch space of top-p, @vocab_size entries.
 */
struct llm_sampler {
	int vocab_size;
	float temperature;
	float topp;
	uint64_t rng_state;
	struct llm_prob_index *probindex;
};

/**
 * llm_sampler_init() - set up a sampler as run.c's build_sampler()
 * @sampler: the sampler, released with llm_sampler_fini().
 * @vocab_size: positive.
 * @temperature: >= 0 (run.c's command line turns negatives into 0).
 * @topp: in [0, 1] (run.c's command line turns others into 0.9).
 * @seed: the initial rng state, as run.c (which uses time() for 0): not 0,
 *	because xorshift would then return 0 forever.
 *
 * Return: 0, -EINVAL (with a message) for an out-of-range argument, or
 * -ENOMEM.
 */
int llm_sampler_init(struct llm_sampler *sampler, int vocab_size, float temperature,
		     float topp, uint64_t seed);

/** llm_sampler_fini() - free a sampler's scratch space */
void llm_sampler_fini(struct llm_sampler *sampler);

/**
 * llm_sampler_sample() - pick the next token from @logits, as run.c's
 *	sample()
 *
 * With a temperature, @logits is overwritten by the probabilities.
 * Return: a token id in [0, vocab_size).
 */
int llm_sampler_sample(struct llm_sampler *sampler, float *logits);

/* xorshift*: run.c's random_u32() and random_f32() ([0, 1), 24 bits). */
uint32_t llm_random_u32(uint64_t *state);
float llm_random_f32(uint64_t *state);

/* run.c's building blocks, exposed for tests and for the chip path. */
void llm_softmax(float *x, int size);
int llm_sample_argmax(const float *probabilities, int n);
int llm_sample_mult(const float *probabilities, int n, float coin);

/**
 * llm_sample_topp() - run.c's sample_topp()
 * @probabilities: @n probabilities summing to ~1.
 * @n: count.
 * @topp: in (0, 1).
 * @scratch: @n entries.
 * @coin: uniform in [0, 1).
 *
 * Candidates below (1 - topp) / (n - 1) cannot be in the nucleus and are
 * dropped before sorting by descending probability (ties by index, so
 * the result does not depend on the qsort implementation); the list is cut
 * after the first candidate whose cumulative probability exceeds @topp,
 * and @coin scaled by that cumulative sum picks within it.
 * Unlike run.c, an empty candidate list (only with NaNs, or n == 1) falls
 * back to llm_sample_mult() instead of reading before the array.
 *
 * Return: the token id.
 */
int llm_sample_topp(const float *probabilities, int n, float topp,
		    struct llm_prob_index *scratch, float coin);

/* ------------------------------------------------------------------ */
/* Generation                                                           */
/* ------------------------------------------------------------------ */

/**
 * struct llm_model - anything that can run forward passes: the CPU
 *	reference here, the chip later
 * @forward: as llm_ref_forward(), with @model as its state.
 * @model: passed to @forward.
 * @vocab_size: logits per forward.
 * @seq_len: positions available.
 */
struct llm_model {
	int (*forward)(void *model, int token, int pos, float **logits);
	void *model;
	int vocab_size;
	int seq_len;
};

/** llm_ref_model() - wrap a reference state as a struct llm_model */
void llm_ref_model(struct llm_ref *ref, struct llm_model *model);

/**
 * llm_token_fn - called for every token generate() emits
 * @opaque: the caller's pointer.
 * @prev_token: the token before it (for llm_tokenizer_decode()).
 * @token: the token.
 * @pos: its position.
 *
 * Return: 0 to go on, > 0 to stop generating (not an error), < 0 to abort
 * with that error.
 */
typedef int (*llm_token_fn)(void *opaque, int prev_token, int token, int pos);

/**
 * struct llm_generate_stats - what a generate() call did
 * @positions: forward passes run (run.c's final pos).
 * @prompt_tokens: tokens of the prompt, BOS included.
 * @sampled_tokens: tokens chosen by the sampler (BOS stop included).
 * @emitted_tokens: tokens passed to the callback.
 * @stopped_at_bos: generation ended because BOS was sampled.
 * @elapsed_ns: from the end of the first position to the end, as run.c
 *	times it (so the first forward's warm-up is excluded).
 * @tokens_per_second: (positions - 1) / elapsed, run.c's "achieved tok/s";
 *	0 when fewer than 2 positions ran.
 */
struct llm_generate_stats {
	int positions;
	int prompt_tokens;
	int sampled_tokens;
	int emitted_tokens;
	bool stopped_at_bos;
	uint64_t elapsed_ns;
	double tokens_per_second;
};

/**
 * llm_generate() - run.c's generate() loop on token ids
 * @model: the forward pass.
 * @sampler: picks tokens after the prompt.
 * @prompt: tokens to start with, as llm_tokenizer_encode(.., bos=true, ..)
 *	returns them: BOS first, then the prompt text; { BOS } alone for
 *	unconditional generation. At least one, each in [0, vocab_size).
 * @n_prompt: their number.
 * @steps: positions to run, the prompt's included; <= 0 or more than
 *	seq_len means seq_len (run.c's command-line rule).
 * @on_token: called for every emitted token (may be NULL).
 * @opaque: passed to @on_token.
 * @stats: filled in if not NULL (also on failure, as far as it got).
 *
 * Position pos feeds token pos (the prompt's while it lasts, then the last
 * sampled one); the next token is the prompt's following one or, past the
 * prompt, the sampler's pick. Generation stops after @steps positions, or
 * as soon as the next token is BOS (which is not emitted): llama2.c's
 * models mark the end of a text with BOS. So the callback sees the prompt
 * (minus its first token) and then the continuation, exactly what run.c
 * prints.
 *
 * Return: 0; -EINVAL for a bad prompt; the error of a failing forward
 * pass or callback.
 */
int llm_generate(const struct llm_model *model, struct llm_sampler *sampler,
		 const int *prompt, int n_prompt, int steps, llm_token_fn on_token,
		 void *opaque, struct llm_generate_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_REFERENCE_H */
