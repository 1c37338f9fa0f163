/* SPDX-License-Identifier: MIT */
/*
 * libjalrt LLM API: llama2.c models (run.c's checkpoint and tokenizer.bin
 * formats) generating text on the chip.
 *
 * jalrt_llm_load() reads a checkpoint, converts its weights to the chosen
 * precision and uploads them (to device memory when the chip has it),
 * with a KV cache and activations beside them. jalrt_llm_generate() then
 * runs the whole generation as ONE job: a chip program that loops over
 * positions (embedding, every layer, classifier, next token = the
 * prompt's while in the prompt, else ARGMAX or on-chip SAMPLE), stores
 * each token and a progress counter in host memory, and stops at BOS
 * (llama2.c's end of text) or after the step count. The host streams the
 * tokens by polling the counter while the job runs. A per-token mode runs
 * the same program one position per job, for comparisons.
 *
 * Conventions are libjalrt's (jalrt.h). A model is used by one thread at
 * a time.
 */
#ifndef JALRT_LLM_H
#define JALRT_LLM_H

#include "jalrt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct jalrt_llm;

/*
 * Weight precision. Norm weights stay f32 and activations are always f32.
 * - F32: the checkpoint's values.
 * - BF16: every matrix and the embedding table in bfloat16.
 * - INT8: every matrix and the embedding table as int8 with one f32
 *   scale per group (llama2.c runq.c's scheme; see @q8_group); as in
 *   runq.c, every matrix-vector product quantises its input to int8 too,
 *   per group in the same way, and sums integer dot products
 *   (JALRT_MATVEC_QUANTIZE_X). A matrix whose group is not a multiple of 4
 *   (a row length that is not, or a @q8_group below 4) takes f32 input.
 * - SPARSE: the matrices of the transformer blocks 2:4 sparse (the 2
 *   largest magnitudes of every 4 kept, as bf16); the embedding table and
 *   classifier in bf16, as pruning them costs much more accuracy. A
 *   matrix whose row length is not a multiple of 4 stays bf16.
 * - INT4: every matrix as 4-bit values in groups of 32 with one f32 scale
 *   each (JALRT_DTYPE_Q4, jalrt_quantize_q4()'s rule); every product
 *   quantises its input to int8 per group of 32 (the chip's Q4 MATVEC).
 *   The embedding table holds the same 4-bit values and scales in the
 *   int8 layout (EMBED reads no Q4; as a shared classifier it then gives
 *   the bits of the Q4 matrix). A matrix whose row length is not a
 *   multiple of 32 (or above 65536) is stored as INT8 stores it.
 */
enum jalrt_precision {
	JALRT_PRECISION_F32 = 0,
	JALRT_PRECISION_BF16 = 1,
	JALRT_PRECISION_INT8 = 2,
	JALRT_PRECISION_SPARSE = 3,
	JALRT_PRECISION_INT4 = 4,
};

/** jalrt_precision_name() - "f32", "bf16", "int8", "sparse", "int4" or NULL */
JALRT_API const char *jalrt_precision_name(enum jalrt_precision precision);
/** jalrt_precision_parse() - the inverse; -EINVAL for an unknown name */
JALRT_API int jalrt_precision_parse(const char *name, enum jalrt_precision *precision);

/**
 * jalrt_llm_file_precision() - the precision a model file is made for
 * @checkpoint: llama2.c or GGUF file.
 * @precision: out: INT4 for a GGUF file whose matrices are mostly Q4_0
 *	(by elements: llama.cpp's Q4_0 files keep output.weight in another
 *	type), INT8 for mostly Q8_0, else F32.
 *
 * The tools' default when no precision is given: a quantised file then
 * runs with its own values (jalrt_llm_load() takes Q4_0 at INT4 and Q8_0
 * at INT8 as they are) rather than decoded to f32.
 * Return: 0, -EINVAL, or the error of opening or parsing the file.
 */
JALRT_API int jalrt_llm_file_precision(const char *checkpoint,
				       enum jalrt_precision *precision);

/* Keep everything in host memory even if the chip has device memory. */
#define JALRT_LLM_HOST_MEMORY		(1u << 0)
#define JALRT_LLM_FLAGS			JALRT_LLM_HOST_MEMORY

/**
 * struct jalrt_llm_options - how to load a model
 * @precision: enum jalrt_precision.
 * @q8_group: INT8: preferred elements per scale (0 = 64, as runq.c); each
 *	matrix uses the largest power of two <= it that divides its row
 *	length.
 * @priority: of the model's context (enum jalrt_priority).
 * @flags: JALRT_LLM_*.
 * @ctx: positions to run (0 = the model's context; more means the
 *	model's): the single-sequence KV cache, prompt and positions are
 *	sized for it and jalrt_llm_info.seq_len reports it. A model of a long
 *	context (Llama 3's 8192) need not hold a cache it will not use.
 */
struct jalrt_llm_options {
	unsigned int precision;
	uint32_t q8_group;
	unsigned int priority;
	uint32_t flags;
	uint32_t ctx;
};

/**
 * jalrt_llm_load() - load a model onto a device
 * @dev: device; needs JAL_CAP_LLM.
 * @checkpoint: llama2.c model file, or a GGUF file of a llama or qwen2
 *	model (llama.cpp's format, recognised by its magic;
 *	Documentation/runtime.rst "Model files"): hyperparameters (RoPE base,
 *	RMS epsilon, heads, KV heads, context, tied classifier, RoPE scaling:
 *	linear, llama3 or rope_freqs.weight, run by ROPE with a frequency
 *	table) from its metadata; qwen2's Q, K, V biases added on the chip; F32, F16, BF16,
 *	Q8_0, Q4_0, Q4_K and Q6_K tensors, converted to @opts' precision;
 *	at INT8, Q8_0 tensors are used as they are (groups of 32, the file's
 *	scales); at INT4, Q4_0 tensors too (the chip's Q4 layout is Q4_0's,
 *	the scales widened from f16 exactly) and Q8_0 ones stay int8 as at
 *	INT8.
 * @tokenizer: tokenizer.bin for text in and out, or NULL: token ids only,
 *	or a GGUF file's own vocabulary (tokenizer.ggml.*) when it has one.
 * @opts: options, or NULL for f32 defaults.
 * @llm: out: the model.
 *
 * Return: 0; -EOPNOTSUPP if the chip lacks the LLM instructions (or, at
 * INT4, the 4-bit ones, JAL_CAP_Q4); -EINVAL
 * (bad options, bad file: the message says what); -errno of opening a file;
 * -ENOMEM; or the error of an allocation or upload.
 */
JALRT_API int jalrt_llm_load(struct jalrt_device *dev, const char *checkpoint,
			     const char *tokenizer, const struct jalrt_llm_options *opts,
			     struct jalrt_llm **llm);

/** jalrt_llm_destroy() - free a model (or NULL). Return: 0. */
JALRT_API int jalrt_llm_destroy(struct jalrt_llm *llm);

/**
 * struct jalrt_llm_info - a loaded model
 * @dim: .. @seq_len: the checkpoint's shape (vocab_size always positive).
 * @shared_classifier: the classifier is the embedding table.
 * @precision: the precision it was loaded with.
 * @weight_bytes: bytes of converted weights on the device.
 * @device_bytes: bytes of the device arena (weights, KV cache, activations).
 * @in_vram: they are in device memory (else host memory).
 * @upload_ns: time conversion and upload took.
 * @program_insns: instructions of the generation program (0 until built).
 * @vram_bytes: of @device_bytes, those in device memory (the first 256 MiB
 *	arenas that fit there: @in_vram when it is all of them).
 */
struct jalrt_llm_info {
	int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
	bool shared_classifier;
	unsigned int precision;
	uint64_t weight_bytes;
	uint64_t device_bytes;
	bool in_vram;
	uint64_t upload_ns;
	uint32_t program_insns;
	uint64_t vram_bytes;
};

/** jalrt_llm_query() - fill @info. Return: 0 or -EINVAL. */
JALRT_API int jalrt_llm_query(const struct jalrt_llm *llm, struct jalrt_llm_info *info);

/* ---- tokens and text (need a tokenizer) -------------------------------- */

#define JALRT_LLM_TOKEN_BOS		1

/**
 * jalrt_llm_encode() - run.c's encode(): optional BOS, the dummy-prefix
 *	space, code points, then merges by score
 * @tokens: out: @max ids; strlen(@text) + 3 is always enough.
 * Return: the number of tokens, -ENOSPC if @max is too small, -ENOTSUP
 * without a tokenizer, or -EINVAL.
 */
JALRT_API int jalrt_llm_encode(struct jalrt_llm *llm, const char *text, bool bos, int *tokens,
			       size_t max);

/**
 * jalrt_llm_decode() - the text of @token after @prev, as run.c's decode()
 * Return: a string owned by the model (valid until it is destroyed), or
 * NULL without a tokenizer or for an id out of range.
 */
JALRT_API const char *jalrt_llm_decode(struct jalrt_llm *llm, int prev, int token);

/**
 * jalrt_llm_is_end() - whether @token ends a text: BOS for llama2.c
 *	vocabularies (run.c's rule), EOS or the end of a turn (Llama 3's
 *	<|eot_id|>, ChatML's <|im_end|>) for a GGUF file's own
 */
JALRT_API bool jalrt_llm_is_end(const struct jalrt_llm *llm, int token);

/**
 * jalrt_llm_chat_template() - the chat template of the model's vocabulary:
 *	"llama2", "llama3" or "chatml" (picked from a GGUF file's
 *	tokenizer.chat_template by its markers), else "plain"
 */
JALRT_API const char *jalrt_llm_chat_template(const struct jalrt_llm *llm);

/**
 * jalrt_llm_encode_chat() - a conversation in the model's chat template,
 *	encoded, ending with the assistant's turn opened
 * @roles, @contents: @n messages; roles "system", "developer", "user",
 *	"assistant".
 * @tokens_out: out: the malloc()ed ids.
 *
 * The template's turn markers become their special tokens; the messages'
 * text never does.
 * Return: the number of ids; -EINVAL (an unknown role, Llama 2 turns not
 * alternating), -ENOTSUP without a tokenizer, -ENOMEM.
 */
JALRT_API int jalrt_llm_encode_chat(struct jalrt_llm *llm, const char *const *roles,
				    const char *const *contents, size_t n, int **tokens_out);

/**
 * jalrt_llm_piece_printable() - jalrt_llm_piece_is_printable() for the
 *	model's vocabulary: for a byte-level BPE one (Llama 3, Qwen2) a lone
 *	byte of 0x80 and up is part of a character split across tokens and
 *	is printable
 */
JALRT_API bool jalrt_llm_piece_printable(const struct jalrt_llm *llm, const char *piece);

/**
 * jalrt_llm_piece_is_printable() - whether run.c's safe_printf() would
 *	print @piece (not empty, not a lone control byte)
 */
JALRT_API bool jalrt_llm_piece_is_printable(const char *piece);

/* ---- generation ------------------------------------------------------- */

/**
 * jalrt_llm_token_fn - called for every generated token, in order
 * @opaque: the caller's pointer.
 * @prev: the token before it.
 * @token: the token: the prompt's (after the first) and then sampled ones,
 *	never the BOS that ends a text.
 * @pos: its position (1 for the first).
 *
 * Return: 0 to go on, > 0 to stop (the chip stops at its next position;
 * not an error), < 0 to abort with that error.
 */
typedef int (*jalrt_llm_token_fn)(void *opaque, int prev, int token, int pos);

enum jalrt_llm_mode {
	JALRT_LLM_DEVICE_LOOP = 0,	/* one job loops over all positions */
	JALRT_LLM_PER_TOKEN = 1,	/* one job per position */
};

/**
 * struct jalrt_llm_generate_params - what to generate
 * @prompt: token ids, BOS first (as jalrt_llm_encode(.., bos = true, ..));
 *	{ BOS } for unconditional generation.
 * @n_prompt: their number, >= 1.
 * @steps: positions to run, the prompt's included (run.c's -n); <= 0 or
 *	more than seq_len means seq_len.
 * @temperature: 0 = greedy (ARGMAX); else on-chip sampling.
 * @topp: top-p in (0, 1), else the whole distribution.
 * @seed: xorshift* seed, not 0.
 * @mode: enum jalrt_llm_mode.
 * @on_token: callback, may be NULL.
 * @opaque: for @on_token.
 */
struct jalrt_llm_generate_params {
	const int *prompt;
	int n_prompt;
	int steps;
	float temperature;
	float topp;
	uint64_t seed;
	unsigned int mode;
	jalrt_llm_token_fn on_token;
	void *opaque;
};

/**
 * struct jalrt_llm_stats - what one generation did
 * @positions: positions run (run.c's final pos).
 * @emitted: tokens passed to the callback.
 * @stopped_at_bos: the model ended its text.
 * @submits: jobs submitted.
 * @elapsed_ns: from the end of the first position to the end, as run.c
 *	times it (the device loop reads it from the device clock: the host
 *	may not see the first position end).
 * @tokens_per_second: (positions - 1) / elapsed, run.c's "achieved
 *	tok/s"; 0 for fewer than 2 positions.
 * @total_ns: from the submit of the first job to the end.
 */
struct jalrt_llm_stats {
	int positions;
	int emitted;
	bool stopped_at_bos;
	unsigned int submits;
	uint64_t elapsed_ns;
	double tokens_per_second;
	uint64_t total_ns;
};

/**
 * jalrt_llm_generate() - generate on the chip
 * @llm: model.
 * @params: what to generate.
 * @stats: filled in if not NULL (also after a failure, as far as it got).
 *
 * Starts from an empty KV cache (position 0) every time.
 * Return: 0; -EINVAL for bad parameters; the callback's negative value;
 * a job error (-ETIMEDOUT: the generation ran longer than the driver's
 * job timeout allows one job, see Documentation/runtime.rst).
 */
JALRT_API int jalrt_llm_generate(struct jalrt_llm *llm,
				 const struct jalrt_llm_generate_params *params,
				 struct jalrt_llm_stats *stats);

/**
 * jalrt_llm_forward() - run one position and read its logits
 * @llm: model; positions 0..@pos-1 must have run before (by earlier
 *	forwards or a generation), as for run.c's forward().
 * @token: the token at @pos.
 * @pos: 0 <= pos < seq_len.
 * @logits: out: vocab_size floats.
 *
 * One job (the generation program for one greedy position, then a copy
 * of the logits to host memory).
 * Return: 0, -EINVAL or a job error.
 */
JALRT_API int jalrt_llm_forward(struct jalrt_llm *llm, int token, int pos, float *logits);

/* ---- batched steps (continuous batching) ------------------------------ */

/*
 * A batch advances many sequences of one model by ONE chip job per step,
 * sharing every weight read among them. Each sequence keeps its KV cache
 * in blocks of a pool shared by all sequences of the batch (paged KV
 * cache): blocks are handed out as a sequence grows and returned when it
 * is freed. A step is a list of rows, each one position of one sequence:
 * a decode step is one row per sequence, a prefill chunk several
 * consecutive positions of one sequence, and both mix freely in a step.
 *
 * Batch invariance: a row's logits and token are bit for bit what
 * jalrt_llm_forward() and jalrt_llm_generate() give for its sequence
 * alone (with an f32 KV cache; with bf16 what the same batch gives it
 * alone), whatever else is in the step (see Documentation/runtime.rst,
 * "Batched steps"). A batch uses the model's context and weights; the
 * model's own KV cache is separate, so jalrt_llm_generate() and batches
 * of one model do not disturb each other (one thread at a time).
 */

struct jalrt_llm_batch;
struct jalrt_llm_seq;

/* Keep the logits of every sampling row of the last step for jalrt_llm_batch_logits(). */
#define JALRT_LLM_BATCH_LOGITS		(1u << 0)
#define JALRT_LLM_BATCH_FLAGS		JALRT_LLM_BATCH_LOGITS

/* Positions of a KV block when struct jalrt_llm_batch_options asks for 0. */
#define JALRT_LLM_BATCH_BLOCK_SIZE	16
/* Most steps one jalrt_llm_batch_decode() runs. */
#define JALRT_LLM_BATCH_MAX_STEPS	64

/**
 * struct jalrt_llm_batch_options - how big a batch is
 * @max_seqs: live sequences at once (0 = 16).
 * @max_rows: rows per step, decode rows and prefill-chunk rows together
 *	(0 = @max_seqs); at most 65536.
 * @block_size: positions per KV block (0 = JALRT_LLM_BATCH_BLOCK_SIZE).
 * @kv_blocks: blocks in the pool; 0 = as many as @kv_bytes holds, or
 *	without @kv_bytes enough for @max_seqs sequences of the model's
 *	whole context.
 * @kv_bytes: memory budget of the K and V pools of all layers, used when
 *	@kv_blocks is 0 (0 = none).
 * @kv_dtype: element type of the KV cache: JAL_DTYPE_F32 (0) or
 *	JAL_DTYPE_BF16 (half the bytes a block, so @kv_bytes holds twice the
 *	blocks). With bf16 every stored key and value is rounded to nearest
 *	even; a row's tokens are still the same whatever the batch, and equal
 *	the CPU reference's with its bf16 KV cache (reference.h,
 *	llm_ref_set_kv_dtype()), but not jalrt_llm_forward()'s (whose cache
 *	is f32). Anything else is -EINVAL.
 * @flags: JALRT_LLM_BATCH_*.
 */
struct jalrt_llm_batch_options {
	unsigned int max_seqs;
	unsigned int max_rows;
	unsigned int block_size;
	unsigned int kv_blocks;
	uint64_t kv_bytes;
	unsigned int kv_dtype;
	uint32_t flags;
};

/**
 * jalrt_llm_batch_create() - make a batch for a loaded model
 * @llm: the model (outlives the batch).
 * @opts: sizes, or NULL for the defaults.
 * @batch: out: the batch.
 *
 * Allocates the K and V pools of every layer (in device memory when the
 * model is there), the block tables, the per-row arrays and the
 * activations of @opts->max_rows rows, and builds the step program once:
 * the number of rows is an argument of each dispatch.
 * Return: 0; -EINVAL (bad options: the message says which); -ENOMEM; or
 * the error of an allocation or of building the program.
 */
JALRT_API int jalrt_llm_batch_create(struct jalrt_llm *llm,
				     const struct jalrt_llm_batch_options *opts,
				     struct jalrt_llm_batch **batch);

/**
 * jalrt_llm_batch_destroy() - free a batch and all its sequences (or NULL)
 * Return: 0.
 */
JALRT_API int jalrt_llm_batch_destroy(struct jalrt_llm_batch *batch);

/**
 * jalrt_llm_seq_create() - start an empty sequence (no positions yet)
 * @batch: the batch.
 * @seq: out: the sequence, owned by @batch; valid until it is freed.
 *
 * Takes no KV block yet: steps take them as the sequence grows.
 * Return: 0, -EINVAL, or -ENOSPC when @batch has max_seqs live sequences.
 */
JALRT_API int jalrt_llm_seq_create(struct jalrt_llm_batch *batch, struct jalrt_llm_seq **seq);

/**
 * jalrt_llm_seq_free() - end a sequence and return its KV blocks at once
 * @batch: its batch.
 * @seq: the sequence, or NULL (nothing to do).
 *
 * To preempt a sequence when the pool is full, free it and run its
 * tokens again later in a new one (recomputation). The pointer may come
 * back from a later jalrt_llm_seq_create() for another sequence.
 * Return: 0, or -EINVAL if @seq is not a live sequence of @batch.
 */
JALRT_API int jalrt_llm_seq_free(struct jalrt_llm_batch *batch, struct jalrt_llm_seq *seq);

/**
 * jalrt_llm_seq_length() - positions of @seq whose keys and values are
 *	stored: the position its next row must have
 * Return: the length (>= 0), or -EINVAL.
 */
JALRT_API int jalrt_llm_seq_length(const struct jalrt_llm_batch *batch,
				   const struct jalrt_llm_seq *seq);

/**
 * jalrt_llm_seq_blocks_needed() - KV blocks @seq takes from the pool when
 *	a step gives it @rows more positions (for a scheduler's admission
 *	control)
 * Return: the count (>= 0), or -EINVAL (unknown sequence, or more
 * positions than the model's context).
 */
JALRT_API int jalrt_llm_seq_blocks_needed(const struct jalrt_llm_batch *batch,
					  const struct jalrt_llm_seq *seq, int rows);

/**
 * struct jalrt_llm_batch_row - one position of one sequence in a step
 * @seq: a live sequence of the batch.
 * @token: the token at @pos.
 * @pos: its position: the sequence's length for its first row in the
 *	step, one more for each further row of it (rows of one sequence in
 *	increasing position order; other sequences' rows may come between).
 * @sample: pick the next token from this row's logits (the last prompt
 *	row and decode rows); other rows only store their keys and values.
 * @temperature: sampling rows: 0 = greedy (ARGMAX), else as
 *	jalrt_llm_generate() samples on the chip.
 * @topp: sampling rows: top-p in (0, 1), else the whole distribution.
 * @rng: sampling rows with @temperature > 0: the xorshift* state (a
 *	sequence's seed at its first sampling row, not 0); advanced in
 *	place by the step, so a caller passes it on to the sequence's next
 *	sampling row. Each row uses its own: two sampling rows of one
 *	sequence in a step do not chain their states.
 */
struct jalrt_llm_batch_row {
	struct jalrt_llm_seq *seq;
	int token;
	int pos;
	bool sample;
	float temperature;
	float topp;
	uint64_t rng;
};

/**
 * jalrt_llm_batch_step() - advance the sequences of @rows by one chip job
 * @batch: the batch.
 * @rows: the rows (1 up to max_rows), in any order of sequences; the @rng
 *	of sampling rows is updated.
 * @n_rows: their number.
 * @out_tokens: out: @n_rows entries: the token picked by each sampling
 *	row, -1 for the others.
 *
 * One job: EMBED of every row's token, every layer over all rows (the
 * keys and values of all rows are stored in the pool before any row
 * attends, each row to the positions up to its own: causal within a
 * prefill chunk), then the classifier and sampler for the sampling rows
 * only. Blocks the step needs are taken from the pool before the job and
 * the sequences' lengths advance when it succeeds (after a job error a
 * sequence keeps its blocks and its length).
 * Return: 0; -EINVAL for a bad argument (unknown or freed sequence, a
 * position beyond the context or not the next of its sequence, a token
 * outside the vocabulary, too many rows, a bad sampler; the message says
 * which), before anything is submitted; -ENOSPC when the step needs more
 * KV blocks than are free, before anything changes; or a job error.
 */
JALRT_API int jalrt_llm_batch_step(struct jalrt_llm_batch *batch,
				   struct jalrt_llm_batch_row *rows, int n_rows,
				   int *out_tokens);

/**
 * jalrt_llm_batch_decode() - @steps decode steps of the same sequences in
 *	one job, the chip feeding each row's token to its next position
 * @batch: the batch.
 * @rows: one row per sequence (each sequence at most once), at its
 *	length, with the token there; every row samples (its @sample is
 *	ignored) with its sampler, and its @rng is updated.
 * @n_rows: their number, 1 up to max_rows.
 * @steps: positions each sequence advances, 1 to
 *	JALRT_LLM_BATCH_MAX_STEPS (within the model's context).
 * @out_tokens: out: @steps * @n_rows tokens, step k's token of row r at
 *	[k * @n_rows + r].
 *
 * The same tokens as @steps calls of jalrt_llm_batch_step() with a
 * sampling row per sequence, each fed the token the last one picked
 * (as jalrt_llm_generate()'s device loop feeds its own), for one
 * host<->chip round trip instead of @steps. Rows do not stop at BOS: the
 * caller ignores what follows (the sequence still advances by @steps, its
 * blocks for all of them taken up front). No logits are kept.
 * Return: 0; -EINVAL (as jalrt_llm_batch_step(), and a sequence with two
 * rows, @steps out of range); -ENOSPC; or a job error.
 */
JALRT_API int jalrt_llm_batch_decode(struct jalrt_llm_batch *batch,
				     struct jalrt_llm_batch_row *rows, int n_rows, int steps,
				     int *out_tokens);

/**
 * jalrt_llm_batch_logits() - the logits of a sampling row of the last step
 * @batch: a batch made with JALRT_LLM_BATCH_LOGITS.
 * @row: index into the last step's rows.
 * @logits: out: vocab_size floats.
 *
 * Return: 0, or -EINVAL (no such sampling row, no successful step yet
 * or a jalrt_llm_batch_decode() since, or the batch does not keep
 * logits).
 */
JALRT_API int jalrt_llm_batch_logits(const struct jalrt_llm_batch *batch, int row,
				     float *logits);

/**
 * struct jalrt_llm_batch_info - a batch's sizes, pool and last step
 * @max_seqs, @max_rows, @block_size: as created (defaults filled in).
 * @kv_dtype: of the KV pools (JAL_DTYPE_F32 or JAL_DTYPE_BF16).
 * @blocks: KV blocks in the pool.
 * @free_blocks: blocks no sequence holds.
 * @used_blocks: blocks held by live sequences.
 * @live_seqs: sequences created and not freed.
 * @kv_bytes: bytes of the K and V pools of all layers.
 * @device_bytes: bytes of the pools and activations together.
 * @in_vram: they are in device memory (else host memory).
 * @program_insns: instructions of the step program.
 * @steps: successful steps so far (a jalrt_llm_batch_decode() counts its
 *	steps).
 * @last_steps: steps of the last successful job (1 for
 *	jalrt_llm_batch_step()); the figures below are for the whole job.
 * @last_rows: rows of the last successful job.
 * @last_sample_rows: its sampling rows.
 * @last_device_ns: its dispatch by the device clock (timestamps around it).
 * @last_step_ns: the whole jalrt_llm_batch_step() or _decode() call by
 *	the host clock.
 * @last_host_ns: its host↔chip overhead: @last_step_ns minus
 *	@last_device_ns (checking and writing the rows, submit, completion,
 *	reading the tokens).
 */
struct jalrt_llm_batch_info {
	unsigned int max_seqs, max_rows, block_size;
	unsigned int kv_dtype;
	unsigned int blocks, free_blocks, used_blocks, live_seqs;
	uint64_t kv_bytes;
	uint64_t device_bytes;
	bool in_vram;
	uint32_t program_insns;
	uint64_t steps;
	unsigned int last_steps, last_rows, last_sample_rows;
	uint64_t last_device_ns, last_step_ns, last_host_ns;
};

/** jalrt_llm_batch_query() - fill @info. Return: 0 or -EINVAL. */
JALRT_API int jalrt_llm_batch_query(const struct jalrt_llm_batch *batch,
				    struct jalrt_llm_batch_info *info);

#ifdef __cplusplus
}
#endif

#endif /* JALRT_LLM_H */
