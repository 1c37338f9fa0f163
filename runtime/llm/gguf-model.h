/* SPDX-License-Identifier: MIT */
/*
 * llama-architecture models in GGUF files, as llama.cpp writes them, and
 * the llama2.c checkpoint layer (checkpoint.h): loading one as a struct
 * llm_checkpoint, and writing a checkpoint (and tokenizer) as GGUF.
 *
 * Tensor names and shapes (dims fastest-varying first; a llama2.c matrix
 * of R rows of C columns is a GGUF tensor of dims { C, R }, the same bytes):
 *
 *	token_embd.weight		{ dim, vocab }		token_embedding
 *	blk.N.attn_norm.weight		{ dim }			rms_att[N]
 *	blk.N.attn_q.weight		{ dim, dim }		wq[N]
 *	blk.N.attn_k.weight		{ dim, kv_dim }		wk[N]
 *	blk.N.attn_v.weight		{ dim, kv_dim }		wv[N]
 *	blk.N.attn_output.weight	{ dim, dim }		wo[N]
 *	blk.N.ffn_norm.weight		{ dim }			rms_ffn[N]
 *	blk.N.ffn_gate.weight		{ dim, hidden }		w1[N]
 *	blk.N.ffn_down.weight		{ hidden, dim }		w2[N]
 *	blk.N.ffn_up.weight		{ dim, hidden }		w3[N]
 *	output_norm.weight		{ dim }			rms_final
 *	output.weight			{ dim, vocab }		wcls (absent: tied)
 *
 * Q and K rows: llama.cpp keeps a llama model's attn_q and attn_k rows in
 * the original (Meta) order, the pairs RoPE rotates adjacent (2i, 2i+1),
 * which is llama2.c's order too. Its converters get there from either
 * side: convert_hf_to_gguf.py permutes Hugging Face's q_proj/k_proj rows
 * (whose RoPE rotates halves: i and i + head_size/2) back to that order,
 * and convert-llama2c-to-ggml copies llama2.c's rows unchanged. So a GGUF
 * file's Q and K are llama2.c's rows as they are: the writer writes them
 * unchanged and the loader reads them unchanged (the host tests check that
 * the permutations compose to the identity and that a .bin and its GGUF
 * give the same tokens).
 *
 * Architectures (general.architecture): llama, and qwen2, whose layers
 * add blk.N.attn_q.bias { dim }, attn_k.bias and attn_v.bias { kv_dim }
 * (llm_weights.bq, .bk, .bv); any other architecture is refused by name,
 * as are bias tensors of a llama file and attn_output.bias.
 *
 * Hyperparameters, under the architecture's prefix (llama.*, qwen2.*):
 * .context_length, .embedding_length, .block_count, .feed_forward_length,
 * .attention.head_count (required); .attention.head_count_kv (default
 * head_count), .rope.freq_base (10000), .attention.layer_norm_rms_epsilon
 * (1e-5), .rope.dimension_count (must be the head size if present); the
 * classifier is tied when output.weight is absent. RoPE scaling:
 * .rope.scaling.type none, linear (.rope.scaling.factor) or llama3 (the
 * factor, .rope.scaling.low_freq_factor, .high_freq_factor,
 * .original_context_length; Llama 3.1's 1, 4, 8192 when absent), and
 * llama.cpp's per-frequency divisors rope_freqs.weight { head_size / 2 }:
 * they become ckpt->rope_freqs (llm_rope_freqs()). Another scaling type
 * is refused by name.
 */
#ifndef JAL_LLM_GGUF_MODEL_H
#define JAL_LLM_GGUF_MODEL_H

#include "checkpoint.h"
#include "gguf.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * llm_checkpoint_from_gguf() - a llama model of an open GGUF file as a
 *	checkpoint
 * @g: the file; the checkpoint takes it over (also on failure: it is
 *	closed then).
 * @ckpt_out: the checkpoint, released with llm_checkpoint_close().
 *
 * Every weight is converted to f32 (types F32, F16, BF16, Q8_0, Q4_0, Q4_K,
 * Q6_K) into one allocation in the llama2.c layout (ckpt->owned); the file
 * stays mapped (ckpt->gguf) for users of the stored tensors.
 *
 * Return: 0; -EINVAL with a message naming the key or tensor at fault (not
 * a llama model, a missing or mis-shaped tensor, an unsupported type or
 * feature); -ENOMEM.
 */
int llm_checkpoint_from_gguf(struct gguf_file *g, struct llm_checkpoint **ckpt_out);

/** llm_checkpoint_open_gguf() - gguf_open() then llm_checkpoint_from_gguf() */
int llm_checkpoint_open_gguf(const char *path, struct llm_checkpoint **ckpt_out);

/**
 * llm_checkpoint_from_gguf_flags() / llm_checkpoint_open_gguf_flags() -
 *	the same with LLM_CHECKPOINT_* flags (checkpoint.h)
 *
 * LLM_CHECKPOINT_GGUF_TENSORS: everything is checked as usual, but no f32
 * copy is made: ckpt->weights stays all NULL and the caller reads each
 * tensor from ckpt->gguf (llm_gguf_tensor_f32(), or as stored). For a
 * caller that converts tensor by tensor (jalrt_llm_load()): an F32 tensor
 * is then used in place and a Q8_0 one at int8 never exists as f32.
 */
int llm_checkpoint_from_gguf_flags(struct gguf_file *g, unsigned int flags,
				   struct llm_checkpoint **ckpt_out);
int llm_checkpoint_open_gguf_flags(const char *path, unsigned int flags,
				   struct llm_checkpoint **ckpt_out);

/**
 * llm_gguf_tensor_f32() - a checked tensor's values as f32
 * @t: a tensor of a supported type.
 * @owned: out: memory to free() after use, or NULL.
 *
 * Return: the values: in place for a 4-byte aligned F32 tensor (the
 * mapping's), else converted into @owned; NULL (message set) on -ENOMEM or
 * an unsupported type.
 */
const float *llm_gguf_tensor_f32(const struct gguf_tensor *t, float **owned);

/**
 * llm_gguf_tensor_name() - the GGUF name of a llama2.c tensor
 * @buf: out, at least 48 bytes.
 * @what: "token_embd", "attn_norm", "attn_q", "attn_k", "attn_v",
 *	"attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up",
 *	"output_norm" or "output" (".weight" is appended), or a name with
 *	its suffix ("attn_q.bias").
 * @layer: for the blk.N tensors, else ignored (pass -1).
 * Return: @buf.
 */
char *llm_gguf_tensor_name(char *buf, size_t size, const char *what, int layer);

/**
 * llm_gguf_neox_rows() - Q and K rows between a qwen2 file's order and
 *	llama2.c's
 * @dst, @src: @rows rows of @row_bytes bytes each (a bias: one element a
 *	row), whole heads of @head_size rows; they must not overlap.
 * @to_file: llama2.c's order to the file's (the writer), else back.
 *
 * llama.cpp's converter permutes a llama model's Q and K rows into Meta's
 * order, where RoPE turns adjacent pairs (2i, 2i + 1), but keeps qwen2's
 * as Hugging Face has them, where RoPE turns halves (i, i + head_size / 2;
 * llama.cpp's NeoX RoPE). Loading puts file row i of each head at 2i and
 * row i + head_size / 2 at 2i + 1 (the same for Q and K, so every q . k is
 * unchanged): llama2.c's RoPE on those rows is NeoX RoPE on the file's.
 */
void llm_gguf_neox_rows(void *dst, const void *src, uint64_t rows, size_t row_bytes,
			int head_size, bool to_file);

/**
 * llm_gguf_neox_tensor() - whether tensor @what (llm_gguf_tensor_name()'s
 *	names: "attn_q", "attn_k.bias", ...) of a model @c is stored in NeoX
 *	order: qwen2's Q and K weights and biases
 */
bool llm_gguf_neox_tensor(const struct llm_config *c, const char *what);

/**
 * llm_tokenizer_from_gguf() - the vocabulary of tokenizer.ggml.* keys
 *	(model "llama") as a tokenizer
 * @g: the file.
 * @vocab_size: the model's.
 * @tok_out: the tokenizer, or NULL when the file has no vocabulary.
 *
 * The pieces are llama2.c's: sentencepiece's U+2581 becomes a space.
 * Return: 0 (also without a vocabulary); -EINVAL; -ENOMEM.
 */
int llm_tokenizer_from_gguf(const struct gguf_file *g, int vocab_size,
			    struct llm_tokenizer **tok_out);

/**
 * struct llm_gguf_write_opts - how to write a model
 * @type: GGML_TYPE_F32, F16, Q8_0 or Q4_0 for the matrices and the
 *	embedding table (norms are always F32). A matrix whose rows are not
 *	whole Q8_0 / Q4_0 blocks is written F16, as llama.cpp's converter
 *	does. Q4_0 is gguf_quantize_q4_0()'s rule (libjalrt's int4 one).
 * @name: general.name (NULL: "jalapeno").
 * @tokenizer: written as tokenizer.ggml.* (llama2.c pieces: spaces become
 *	U+2581; ids 0, 1, 2 are <unk>, <s>, </s>), or NULL.
 * @alignment: 0 for the default 32.
 * @rope_factors: head_size / 2 f32 written as rope_freqs.weight, the
 *	per-frequency divisors of llama.cpp's Llama 3 files, or NULL.
 */
struct llm_gguf_write_opts {
	uint32_t type;
	const char *name;
	const struct llm_tokenizer *tokenizer;
	uint32_t alignment;
	const float *rope_factors;
};

/**
 * llm_gguf_write_model() - write a checkpoint as a llama GGUF file
 * @path: output, replaced (removed again on failure).
 * @ckpt: the model.
 * @opts: as above.
 * Return: 0, -EINVAL, -ENOMEM or -errno of the write.
 */
int llm_gguf_write_model(const char *path, const struct llm_checkpoint *ckpt,
			 const struct llm_gguf_write_opts *opts);

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_GGUF_MODEL_H */
