/* SPDX-License-Identifier: MIT */
/*
 * llama2.c checkpoints: the model file format of llama2.c's run.c.
 *
 * Layout (little-endian): seven int32 header fields
 *
 *	dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 *
 * where a negative vocab_size means the file carries its own classifier
 * matrix and a positive one that the classifier is the token embedding
 * table; then f32 tensors, each row-major with the output index first
 * (a matrix that maps n inputs to d outputs is d rows of n):
 *
 *	token_embedding	[vocab_size][dim]
 *	rms_att		[n_layers][dim]
 *	wq		[n_layers][dim][dim]
 *	wk		[n_layers][kv_dim][dim]
 *	wv		[n_layers][kv_dim][dim]
 *	wo		[n_layers][dim][dim]
 *	rms_ffn		[n_layers][dim]
 *	w1		[n_layers][hidden_dim][dim]
 *	w2		[n_layers][dim][hidden_dim]
 *	w3		[n_layers][hidden_dim][dim]
 *	rms_final	[dim]
 *	freq_cis_real	[seq_len][head_size / 2]	(unused: RoPE is computed)
 *	freq_cis_imag	[seq_len][head_size / 2]	(unused)
 *	wcls		[vocab_size][dim]		(only if vocab_size < 0)
 *
 * with head_size = dim / n_heads and kv_dim = n_kv_heads * head_size.
 * The file must hold exactly these bytes: anything shorter or longer is
 * a different model, and run.c would silently read garbage.
 */
#ifndef JAL_LLM_CHECKPOINT_H
#define JAL_LLM_CHECKPOINT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct gguf_file;

/* Bytes of the header: seven int32 fields. */
#define LLM_CHECKPOINT_HEADER_SIZE	28

/* run.c's fixed hyperparameters; GGUF files may carry others. */
#define LLM_ROPE_THETA_DEFAULT		10000.0f
#define LLM_RMS_EPS_DEFAULT		1e-5f

/*
 * Architectures (a GGUF file's general.architecture): llama, and qwen2,
 * which is llama with biases added to the Q, K and V projections.
 */
enum llm_arch {
	LLM_ARCH_LLAMA = 0,
	LLM_ARCH_QWEN2 = 1,
};

/* RoPE scaling (<arch>.rope.scaling.type), see llm_rope_freqs(). */
enum llm_rope_scaling {
	LLM_ROPE_SCALING_NONE = 0,
	LLM_ROPE_SCALING_LINEAR = 1,	/* every frequency divided by the factor */
	LLM_ROPE_SCALING_LLAMA3 = 2,	/* Llama 3.1's low/high frequency bands */
};

/* The first token of every sequence in llama2.c's vocabularies. */
#define LLM_TOKEN_BOS			1
#define LLM_TOKEN_EOS			2

/**
 * struct llm_config - shape of a model
 * @dim: width of the residual stream.
 * @hidden_dim: width of the feed-forward layer.
 * @n_layers: transformer blocks.
 * @n_heads: query heads; dim is a multiple of it.
 * @n_kv_heads: key/value heads; n_heads is a multiple of it (grouped KV
 *	when smaller).
 * @vocab_size: tokens (always positive here; see @shared_classifier).
 * @seq_len: positions the model was built for; the KV cache holds this
 *	many.
 * @shared_classifier: the classifier is the token embedding table (the
 *	header's vocab_size was positive).
 * @head_size: dim / n_heads; even, since RoPE rotates pairs.
 * @kv_dim: n_kv_heads * head_size, the width of one K or V row.
 * @kv_mul: n_heads / n_kv_heads, query heads per KV head.
 * @rope_theta: RoPE base (llama.rope.freq_base of a GGUF file); 0 before
 *	llm_config_init() means LLM_ROPE_THETA_DEFAULT, run.c's.
 * @rms_eps: RMSNORM epsilon (llama.attention.layer_norm_rms_epsilon); 0
 *	before llm_config_init() means LLM_RMS_EPS_DEFAULT, run.c's.
 * @arch: enum llm_arch (0: llama; llama2.c files are llama).
 * @rope_scaling: enum llm_rope_scaling.
 * @rope_factor: LINEAR and LLAMA3: the scaling factor (> 0).
 * @rope_low_freq_factor, @rope_high_freq_factor, @rope_orig_ctx: LLAMA3's
 *	band limits and original context; 0 before llm_config_init() means
 *	Llama 3.1's 1, 4 and 8192.
 */
struct llm_config {
	int dim;
	int hidden_dim;
	int n_layers;
	int n_heads;
	int n_kv_heads;
	int vocab_size;
	int seq_len;
	bool shared_classifier;
	int head_size;
	int kv_dim;
	int kv_mul;
	float rope_theta;
	float rms_eps;
	int arch;
	int rope_scaling;
	float rope_factor;
	float rope_low_freq_factor;
	float rope_high_freq_factor;
	int rope_orig_ctx;
};

/**
 * struct llm_weights - where each tensor of a checkpoint is
 *
 * Shapes as in the file format comment above; per-layer tensors are
 * consecutive, so layer l of wq starts at wq + l * dim * dim. @wcls equals
 * @token_embedding when the classifier is shared. @bq, @bk, @bv: qwen2's
 * projection biases ([n_layers][dim], [n_layers][kv_dim] twice), else NULL.
 */
struct llm_weights {
	const float *token_embedding;
	const float *rms_att;
	const float *wq;
	const float *wk;
	const float *wv;
	const float *wo;
	const float *rms_ffn;
	const float *w1;
	const float *w2;
	const float *w3;
	const float *rms_final;
	const float *wcls;
	const float *bq;
	const float *bk;
	const float *bv;
};

/**
 * struct llm_checkpoint - a loaded checkpoint
 * @config: its shape.
 * @weights: pointers into @data.
 * @data: the whole file (header included), read-only.
 * @size: bytes of @data.
 * @mapped: @data is a mapping owned by this object (llm_checkpoint_open())
 *	rather than caller memory (llm_checkpoint_parse()).
 * @owned: memory freed by llm_checkpoint_close(): a GGUF model's weights
 *	converted to f32 in the layout above, or llm_checkpoint_random()'s
 *	image.
 * @gguf: the GGUF file the model came from (its tensors stay mapped,
 *	e.g. for Q8_0 weights used as they are), else NULL; @data and @size
 *	are then its mapping.
 * @reordered: a qwen2 file's Q and K tensors in llama2.c's row order
 *	(llm_gguf_neox_rows()), which @gguf's tensor table points to; owned.
 * @rope_freqs: head_size / 2 rotation frequencies (llm_rope_freqs()) when
 *	the model's RoPE is scaled (a scaling type, or a GGUF file's
 *	rope_freqs.weight factors), owned; NULL: theta^(-2j / head_size).
 */
struct llm_checkpoint {
	struct llm_config config;
	struct llm_weights weights;
	const void *data;
	size_t size;
	bool mapped;
	void *owned;
	struct gguf_file *gguf;
	float *rope_freqs;
	void *reordered;
};

/**
 * llm_rope_freqs() - the rotation frequency of each pair of a head
 * @c: the model (head_size, rope_theta and the scaling fields).
 * @factors: a GGUF file's rope_freqs.weight (head_size / 2 divisors, as
 *	llama.cpp applies them), or NULL.
 * @out: head_size / 2 frequencies: pair j's base frequency 1.0f /
 *	powf(theta, (float)(2 * j) / (float)head_size) (the chip's ROPE
 *	without a table, run.c's), divided by factors[j], then scaled: LINEAR
 *	divides by @c->rope_factor; LLAMA3 (without @factors, which already
 *	are Llama 3's) keeps wavelengths below orig_ctx / high_freq_factor,
 *	divides those above orig_ctx / low_freq_factor by the factor and
 *	blends in between, as Meta's reference code does (computed in double,
 *	rounded to f32 once).
 *
 * Return: true if any differs from the base frequency (the chip needs the
 * table), else false.
 */
bool llm_rope_freqs(const struct llm_config *c, const float *factors, float *out);

/**
 * llm_config_init() - check a shape and fill in its derived fields
 * @config: dim .. seq_len and shared_classifier set by the caller;
 *	head_size, kv_dim and kv_mul are written.
 *
 * Return: 0, or -EINVAL (with a message) if the shape is not one run.c
 * could run: a non-positive field, dim not a multiple of n_heads, n_heads
 * not a multiple of n_kv_heads, an odd head_size, or a size that does not
 * fit in memory arithmetic.
 */
int llm_config_init(struct llm_config *config);

/**
 * llm_config_from_header() - decode and check a checkpoint header
 * @header: the seven int32 fields as stored.
 * @config: the shape, derived fields included.
 *
 * Return: 0 or -EINVAL (with a message).
 */
int llm_config_from_header(const int32_t header[7], struct llm_config *config);

/**
 * llm_config_to_header() - encode a shape as a checkpoint header
 * @config: a shape accepted by llm_config_init().
 * @header: the seven int32 fields (vocab_size negated when the classifier
 *	is not shared).
 */
void llm_config_to_header(const struct llm_config *config, int32_t header[7]);

/**
 * llm_checkpoint_file_size() - bytes of a checkpoint of this shape
 * @config: a shape accepted by llm_config_init().
 * @size: header plus every tensor.
 *
 * Return: 0 or -EOVERFLOW if that does not fit in size_t.
 */
int llm_checkpoint_file_size(const struct llm_config *config, size_t *size);

/**
 * llm_checkpoint_parse() - validate a checkpoint in memory
 * @data: the file's bytes, 4-byte aligned; must outlive @ckpt.
 * @size: bytes at @data.
 * @ckpt: filled in (->mapped false); nothing to release.
 *
 * Return: 0 or -EINVAL (with a message) for a bad header, a size that does
 * not match the header exactly, or misaligned @data.
 */
int llm_checkpoint_parse(const void *data, size_t size, struct llm_checkpoint *ckpt);

/**
 * llm_checkpoint_open() - map a checkpoint file read-only and validate it
 * @path: file name: a llama2.c checkpoint, or a GGUF file (recognised by
 *	its magic; see llm_checkpoint_open_gguf() in gguf-model.h).
 * @ckpt_out: the checkpoint, released with llm_checkpoint_close().
 *
 * Return: 0; -errno of open/fstat/mmap (e.g. -ENOENT); -EINVAL for a file
 * that is not a valid checkpoint (see llm_checkpoint_parse()); -ENOMEM.
 */
int llm_checkpoint_open(const char *path, struct llm_checkpoint **ckpt_out);

/*
 * GGUF files only (ignored for llama2.c checkpoints): check the model but
 * make no f32 copy of its weights (ckpt->weights all NULL); see
 * llm_checkpoint_from_gguf_flags() in gguf-model.h.
 */
#define LLM_CHECKPOINT_GGUF_TENSORS	(1u << 0)

/**
 * llm_checkpoint_open_flags() - llm_checkpoint_open() with LLM_CHECKPOINT_*
 *	flags
 */
int llm_checkpoint_open_flags(const char *path, unsigned int flags,
			      struct llm_checkpoint **ckpt_out);

/** llm_checkpoint_close() - unmap and free a checkpoint from _open() */
void llm_checkpoint_close(struct llm_checkpoint *ckpt);

/**
 * llm_checkpoint_write() - write a checkpoint in llama2.c's format
 * @path: output file, replaced (removed again on failure).
 * @ckpt: any checkpoint (a GGUF model's too); the unused RoPE tables are
 *	written as zeros.
 *
 * Return: 0; -EINVAL if the model's RoPE base or RMS epsilon is not run.c's
 * (the format cannot say so); -errno of a failed write.
 */
int llm_checkpoint_write(const char *path, const struct llm_checkpoint *ckpt);

/**
 * llm_checkpoint_random() - llm_checkpoint_write_random()'s model in memory
 * @config: the shape.
 * @seed: as for llm_checkpoint_write_random(): the same weights.
 * @ckpt_out: the checkpoint (owning its image), for llm_checkpoint_close().
 *
 * Return: 0, -EINVAL for a bad shape, -ENOMEM.
 */
int llm_checkpoint_random(const struct llm_config *config, uint64_t seed,
			  struct llm_checkpoint **ckpt_out);

/**
 * llm_checkpoint_write_random() - write a seeded random checkpoint
 * @path: output file, replaced if it exists.
 * @config: the shape (checked with llm_config_init()).
 * @seed: any value; the same seed and shape give the same bytes on every
 *	machine (the generator uses integer arithmetic only).
 *
 * Matrices and the embedding get weights of mean 0 and standard deviation
 * about 0.02 (a sum of four uniforms, so close to normal), norm weights
 * 1 + small noise; the unused RoPE tables are zero. Good for exercising
 * shapes and timing, not for text.
 *
 * Return: 0; -EINVAL for a bad shape; -errno of a failed write (the
 * partial file is removed).
 */
int llm_checkpoint_write_random(const char *path, const struct llm_config *config,
				uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_CHECKPOINT_H */
