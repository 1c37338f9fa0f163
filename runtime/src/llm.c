// SPDX-License-Identifier: MIT
/*
 * llama2.c models on the chip: weights and caches in a graph, and one
 * chip program that runs the whole generation loop.
 *
 * The program (built per sampler setting, cached) takes five arguments:
 *
 *   r0 = first position   r1 = end position (exclusive)   r2 = its token
 *   r3 = xorshift* state  r4 = prompt length (BOS included)
 *
 * (token LLM_CONTINUE: take the token and rng state an earlier dispatch
 * left in memory)
 * and per position: cancel check, EMBED, the unrolled layers (absolute
 * VAs as LI immediates; K and V go straight into the cache row of the
 * position), final RMSNORM, classifier, next token (LD32 from the prompt
 * while in it, else ARGMAX/SAMPLE), ST32 of the token and ST64 of the rng
 * state and the progress counter into host memory, BEQ to the end at
 * BOS, loop while position < end. The on-device loop is one job of two
 * dispatches, (0, 1) and (1, steps) continuing, between device
 * timestamps (run.c times from the end of the first position); per-token
 * mode is one job of (pos, pos + 1) per position.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llm_internal.h"

#include "checkpoint.h"
#include "gguf-model.h"
#include "gguf.h"
#include "quant.h"
#include "tokenizer.h"

/* quant.h restates the chip's limits; it must state them right. */
_Static_assert(LLM_Q8X_MAX_GROUP == JAL_Q8X_MAX_GROUP, "quant.h: JAL_Q8X_MAX_GROUP");
_Static_assert(LLM_Q8X_MAX_COLS == JAL_Q8X_MAX_COLS, "quant.h: JAL_Q8X_MAX_COLS");

#define LLM_NUM_ARGS		5
/* Progress poll interval: streaming latency vs. the host CPU left alone. */
#define LLM_POLL_NS		(1000 * 1000LL)

enum { A_POS, A_END, A_TOK, A_RNG, A_NPROMPT };

/* A_TOK value: continue from the token and rng state in memory. */
#define LLM_CONTINUE		UINT64_MAX

/* Device-clock stamps of the one-job loop: start, first position, end. */
enum { TS_START, TS_FIRST, TS_END, TS_COUNT };

JALRT_API const char *jalrt_precision_name(enum jalrt_precision p)
{
	switch (p) {
	case JALRT_PRECISION_F32: return "f32";
	case JALRT_PRECISION_BF16: return "bf16";
	case JALRT_PRECISION_INT8: return "int8";
	case JALRT_PRECISION_SPARSE: return "sparse";
	case JALRT_PRECISION_INT4: return "int4";
	default: return NULL;
	}
}

JALRT_API int jalrt_precision_parse(const char *name, enum jalrt_precision *p)
{
	unsigned int i;

	if (!name || !p)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, name ? "result" : "name");
	for (i = 0; i <= JALRT_PRECISION_INT4; i++) {
		if (!strcmp(name, jalrt_precision_name(i))) {
			*p = i;
			return 0;
		}
	}
	return jalrt_set_error(-EINVAL, "unknown precision '%s' (f32, bf16, int8, sparse or int4)", name);
}

JALRT_API int jalrt_llm_file_precision(const char *checkpoint, enum jalrt_precision *p)
{
	uint64_t q4 = 0, q8 = 0, other = 0, i;
	struct gguf_file *g = NULL;
	char magic[4] = { 0 };
	FILE *f;
	int ret;

	if (!checkpoint || !p)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       checkpoint ? "result" : "checkpoint");
	*p = JALRT_PRECISION_F32;
	f = fopen(checkpoint, "rb");
	if (!f)
		return jalrt_set_error(-errno, "%s: %s: %s", __func__, checkpoint, strerror(errno));
	ret = fread(magic, 1, sizeof(magic), f) == sizeof(magic) && gguf_is_gguf(magic, 4);
	fclose(f);
	if (!ret)	/* a llama2.c file is f32 */
		return 0;
	ret = gguf_open(checkpoint, &g);
	if (ret)
		return jalrt_set_error(ret, "%s: %s: %s", __func__, checkpoint,
				       llm_last_error_message());
	/* by elements of the matrices: a Q4_0 file's output.weight may be Q6_K */
	for (i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];

		if (t->n_dims < 2)
			continue;
		if (t->type == GGML_TYPE_Q4_0)
			q4 += t->elements;
		else if (t->type == GGML_TYPE_Q8_0)
			q8 += t->elements;
		else
			other += t->elements;
	}
	gguf_close(g);
	if (q4 > q8 && q4 > other)
		*p = JALRT_PRECISION_INT4;
	else if (q8 > q4 && q8 > other)
		*p = JALRT_PRECISION_INT8;
	return 0;
}

/* ---- loading ------------------------------------------------------------- */

/*
 * The description of a tensor NAME[LAYER] (NAME for @layer < 0), named in
 * @full: a matrix of @rows x @cols, or a vector for one row.
 */
static struct jalrt_tensor_desc tensor_desc(char full[48], const char *name, int layer,
					     enum jalrt_dtype dtype, uint32_t rows, uint32_t cols)
{
	struct jalrt_tensor_desc d = { .name = full, .dtype = dtype };

	if (layer >= 0)
		snprintf(full, 48, "%s[%d]", name, layer);
	else
		snprintf(full, 48, "%s", name);
	d.ndim = rows > 1 ? 2 : 1;
	d.dims[0] = rows > 1 ? rows : cols;
	d.dims[1] = rows > 1 ? cols : 0;
	return d;
}

/* Declare a tensor of @dtype and (for weights) give it @src. */
static int add_tensor(struct jalrt_llm *m, const char *name, int layer, enum jalrt_dtype dtype,
		      uint32_t rows, uint32_t cols, const float *src, uint32_t flags,
		      struct jalrt_tensor **out)
{
	char full[48];
	struct jalrt_tensor_desc d = tensor_desc(full, name, layer, dtype, rows, cols);
	int ret;

	d.flags = flags;
	/* quant.h's rule: the reference's int8 mode picks the same groups. */
	if (dtype == JALRT_DTYPE_Q8)
		d.group = llm_int8_group(cols, m->q8_group);
	ret = jalrt_graph_tensor(m->g, &d, out);
	if (!ret && src) {
		ret = jalrt_tensor_set_f32(*out, src);
		m->weight_bytes += jalrt_tensor_bytes(*out);
	}
	return ret;
}

/* Keep @buf until the upload (jalrt_graph_allocate()), then free it. */
static int keep_buf(struct jalrt_llm *m, void *buf)
{
	void **bufs = realloc(m->bufs, (m->n_bufs + 1) * sizeof(*bufs));

	if (!bufs) {
		free(buf);
		return jalrt_set_error(-ENOMEM, "jalrt_llm_load: out of memory");
	}
	m->bufs = bufs;
	m->bufs[m->n_bufs++] = buf;
	return 0;
}

/*
 * Declare a weight of @dtype with groups of @group whose stored bytes the
 * caller writes into *@buf (kept until the upload).
 */
static int add_stored(struct jalrt_llm *m, const char *name, int layer, enum jalrt_dtype dtype,
		      uint32_t rows, uint32_t cols, uint32_t group, struct jalrt_tensor **out,
		      void **buf)
{
	char full[48];
	struct jalrt_tensor_desc d = tensor_desc(full, name, layer, dtype, rows, cols);
	int ret;

	d.ndim = 2;	/* even of one row: stored bytes are a matrix's */
	d.dims[0] = rows;
	d.dims[1] = cols;
	d.group = group;
	ret = jalrt_graph_tensor(m->g, &d, out);
	if (ret)
		return ret;
	*buf = calloc(1, jalrt_tensor_bytes(*out));
	if (!*buf)
		return jalrt_set_error(-ENOMEM, "jalrt_llm_load: out of memory for %s", full);
	return keep_buf(m, *buf);
}

/*
 * int4's embedding table: 4-bit values in the Q8 layout (EMBED reads no
 * Q4), from a Q4_0 tensor exactly or quantised by the int4 rule from f32.
 */
static int add_int4_table(struct jalrt_llm *m, const char *name, uint32_t rows, uint32_t cols,
			  const struct gguf_tensor *gt, const float *src,
			  struct jalrt_tensor **out)
{
	uint64_t n = (uint64_t)rows * cols, g;
	int8_t *q;
	float *scales;
	void *buf;
	int ret = add_stored(m, name, -1, JALRT_DTYPE_Q8, rows, cols, LLM_Q4_GROUP, out, &buf);

	if (ret)
		return ret;
	q = buf;
	scales = (float *)((char *)buf + ((n + 3) & ~(uint64_t)3));
	for (g = 0; g < n / LLM_Q4_GROUP; g++) {
		if (src) {
			llm_quantize_q4(q + g * LLM_Q4_GROUP, scales + g, src + g * LLM_Q4_GROUP, 1);
		} else {
			uint8_t packed[LLM_Q4_GROUP / 2];

			gguf_q4_0_split((const uint8_t *)gt->data + g * GGML_Q4_0_BYTES,
					LLM_Q4_GROUP, packed, scales + g);
			llm_q4_unpack(q + g * LLM_Q4_GROUP, packed, 1);
		}
	}
	ret = jalrt_tensor_set_bytes(*out, buf, jalrt_tensor_bytes(*out));
	if (!ret)
		m->weight_bytes += jalrt_tensor_bytes(*out);
	return ret;
}

/*
 * A weight: as add_tensor(), with the values of @src, or for a GGUF file
 * (opened with LLM_CHECKPOINT_GGUF_TENSORS: @src NULL) of its tensor
 * @what (@layer; llama.cpp's name), converted one tensor at a time (an F32
 * one used in place). At int8 (and int4) a Q8_0 tensor goes to the chip as
 * it is, in groups of 32 with the file's scales: its values are then
 * exactly the file's, rather than the file's decoded and quantised again;
 * at int4 a Q4_0 tensor does the same as Q4 (or, for the table, as int8
 * values in -8..7).
 */
static int add_weight(struct jalrt_llm *m, const char *name, int layer, enum jalrt_dtype dtype,
		      uint32_t rows, uint32_t cols, const float *src, const char *what,
		      struct jalrt_tensor **out)
{
	const struct gguf_tensor *gt = NULL;
	char gname[64];
	uint64_t n = (uint64_t)rows * cols;
	float *owned = NULL;
	bool int4_table, q8_0, q4_0;
	void *buf;
	int ret;

	if (m->ckpt->gguf)
		gt = gguf_find_tensor(m->ckpt->gguf,
				      llm_gguf_tensor_name(gname, sizeof(gname), what, layer));
	/* at int4 the only int8 matrix of 32-column groups is the table */
	int4_table = m->precision == JALRT_PRECISION_INT4 && dtype == JALRT_DTYPE_Q8 &&
		     llm_int4_uses_q4(cols);
	q8_0 = gt && gt->type == GGML_TYPE_Q8_0 && gt->elements == n &&
	       (dtype == JALRT_DTYPE_Q8 || dtype == JALRT_DTYPE_Q4);
	q4_0 = gt && gt->type == GGML_TYPE_Q4_0 && gt->elements == n &&
	       (dtype == JALRT_DTYPE_Q4 || int4_table);

	if (!src && (!gt || gt->elements != n))	/* the loader checked every shape */
		return jalrt_set_error(-EINVAL, "jalrt_llm_load: no tensor %s", gname);
	if (q4_0 && int4_table)
		return add_int4_table(m, name, rows, cols, gt, NULL, out);
	if (q4_0) {
		ret = add_stored(m, name, layer, JALRT_DTYPE_Q4, rows, cols, LLM_Q4_GROUP, out,
				 &buf);
		if (ret)
			return ret;
		/* the Q4 layout: n / 2 bytes of nibbles, padded to 4, then n / 32 scales */
		gguf_q4_0_split(gt->data, n, buf,
				(float *)((char *)buf + ((n / 2 + 3) & ~(uint64_t)3)));
		ret = jalrt_tensor_set_bytes(*out, buf, jalrt_tensor_bytes(*out));
		if (!ret)
			m->weight_bytes += jalrt_tensor_bytes(*out);
		return ret;
	}
	if (!q8_0) {
		if (!src) {
			src = llm_gguf_tensor_f32(gt, &owned);
			if (!src)
				return jalrt_set_error(-ENOMEM, "jalrt_llm_load: %s",
						       llm_last_error_message());
			if (owned && (ret = keep_buf(m, owned)))
				return ret;
		}
		if (int4_table)
			return add_int4_table(m, name, rows, cols, NULL, src, out);
		return add_tensor(m, name, layer, dtype, rows, cols, src, 0, out);
	}

	ret = add_stored(m, name, layer, JALRT_DTYPE_Q8, rows, cols, GGML_QK8_0, out, &buf);
	if (ret)
		return ret;
	/* the Q8 layout: n int8 values, padded to 4 bytes, then n / 32 f32 scales */
	gguf_q8_0_split(gt->data, n, buf, (float *)((char *)buf + ((n + 3) & ~(uint64_t)3)));
	ret = jalrt_tensor_set_bytes(*out, buf, jalrt_tensor_bytes(*out));
	if (!ret)
		m->weight_bytes += jalrt_tensor_bytes(*out);
	return ret;
}

/* Free the converted weights once uploaded. */
static void free_bufs(struct jalrt_llm *m)
{
	size_t i;

	for (i = 0; i < m->n_bufs; i++)
		free(m->bufs[i]);
	free(m->bufs);
	m->bufs = NULL;
	m->n_bufs = 0;
}

/* The dtype of a matrix of @cols columns at this precision. */
static enum jalrt_dtype matrix_dtype(const struct jalrt_llm *m, uint32_t cols, bool block)
{
	switch (m->precision) {
	case JALRT_PRECISION_BF16:
		return JALRT_DTYPE_BF16;
	case JALRT_PRECISION_INT8:
		return JALRT_DTYPE_Q8;
	case JALRT_PRECISION_SPARSE:
		return block && cols % 4 == 0 ? JALRT_DTYPE_S24 : JALRT_DTYPE_BF16;
	case JALRT_PRECISION_INT4:
		/* EMBED reads no Q4: the table is int8 (see add_weight()) */
		return block && llm_int4_uses_q4(cols) ? JALRT_DTYPE_Q4 : JALRT_DTYPE_Q8;
	default:
		return JALRT_DTYPE_F32;
	}
}

static int declare_tensors(struct jalrt_llm *m)
{
	const struct llm_config *c = &m->cfg;
	const struct llm_weights *w = &m->ckpt->weights;
	uint32_t dim = c->dim, hid = c->hidden_dim, kvd = c->kv_dim, seq = c->seq_len;
	uint32_t vocab = c->vocab_size;
	enum jalrt_dtype table = matrix_dtype(m, dim, false);
	/* a GGUF file opened without an f32 copy: each weight from its tensor */
	bool file = !w->token_embedding;
	int l, ret;

	/* The embedding table is the classifier too when the model shares them. */
	ret = add_weight(m, "token_embedding", -1, table, vocab, dim,
			 file ? NULL : w->token_embedding, "token_embd", &m->emb);
	if (!ret && c->shared_classifier)
		m->wcls = m->emb;
	else if (!ret)	/* int4: a classifier of its own is a Q4 matrix like the others */
		ret = add_weight(m, "wcls", -1,
				 m->precision == JALRT_PRECISION_INT4 ? matrix_dtype(m, dim, true) :
				 table, vocab, dim, file ? NULL : w->wcls, "output", &m->wcls);
	if (!ret)
		ret = add_weight(m, "rms_final", -1, JALRT_DTYPE_F32, 1, dim,
				 file ? NULL : w->rms_final, "output_norm", &m->rms_final);
	/* computed at load from the file's scaling, not a tensor of it */
	if (!ret && m->ckpt->rope_freqs)
		ret = add_tensor(m, "rope_freqs", -1, JALRT_DTYPE_F32, 1, (uint32_t)c->head_size / 2,
				 m->ckpt->rope_freqs, 0, &m->rope_freqs);
	for (l = 0; !ret && l < c->n_layers; l++) {
		struct llm_layer *ly = &m->layers[l];
		size_t dd = (size_t)dim * dim, kd = (size_t)kvd * dim, hd = (size_t)hid * dim;

		ret = add_weight(m, "rms_att", l, JALRT_DTYPE_F32, 1, dim,
				 file ? NULL : w->rms_att + l * dim, "attn_norm", &ly->rms_att);
		if (!ret)
			ret = add_weight(m, "wq", l, matrix_dtype(m, dim, true), dim, dim,
					 file ? NULL : w->wq + l * dd, "attn_q", &ly->wq);
		if (!ret)
			ret = add_weight(m, "wk", l, matrix_dtype(m, dim, true), kvd, dim,
					 file ? NULL : w->wk + l * kd, "attn_k", &ly->wk);
		if (!ret)
			ret = add_weight(m, "wv", l, matrix_dtype(m, dim, true), kvd, dim,
					 file ? NULL : w->wv + l * kd, "attn_v", &ly->wv);
		if (!ret && c->arch == LLM_ARCH_QWEN2)
			ret = add_weight(m, "bq", l, JALRT_DTYPE_F32, 1, dim,
					 file ? NULL : w->bq + (size_t)l * dim, "attn_q.bias", &ly->bq);
		if (!ret && c->arch == LLM_ARCH_QWEN2)
			ret = add_weight(m, "bk", l, JALRT_DTYPE_F32, 1, kvd,
					 file ? NULL : w->bk + (size_t)l * kvd, "attn_k.bias", &ly->bk);
		if (!ret && c->arch == LLM_ARCH_QWEN2)
			ret = add_weight(m, "bv", l, JALRT_DTYPE_F32, 1, kvd,
					 file ? NULL : w->bv + (size_t)l * kvd, "attn_v.bias", &ly->bv);
		if (!ret)
			ret = add_weight(m, "wo", l, matrix_dtype(m, dim, true), dim, dim,
					 file ? NULL : w->wo + l * dd, "attn_output", &ly->wo);
		if (!ret)
			ret = add_weight(m, "rms_ffn", l, JALRT_DTYPE_F32, 1, dim,
					 file ? NULL : w->rms_ffn + l * dim, "ffn_norm", &ly->rms_ffn);
		if (!ret)
			ret = add_weight(m, "w1", l, matrix_dtype(m, dim, true), hid, dim,
					 file ? NULL : w->w1 + l * hd, "ffn_gate", &ly->w1);
		if (!ret)
			ret = add_weight(m, "w2", l, matrix_dtype(m, hid, true), dim, hid,
					 file ? NULL : w->w2 + l * hd, "ffn_down", &ly->w2);
		if (!ret)
			ret = add_weight(m, "w3", l, matrix_dtype(m, dim, true), hid, dim,
					 file ? NULL : w->w3 + l * hd, "ffn_up", &ly->w3);
		/* One row per position: the program addresses row R[pos]. */
		if (!ret)
			ret = add_tensor(m, "key_cache", l, JALRT_DTYPE_F32, seq, kvd, NULL, 0,
					 &ly->kc);
		if (!ret)
			ret = add_tensor(m, "value_cache", l, JALRT_DTYPE_F32, seq, kvd, NULL, 0,
					 &ly->vc);
	}
	if (!ret)
		ret = add_tensor(m, "x", -1, JALRT_DTYPE_F32, 1, dim, NULL, 0, &m->x);
	if (!ret)
		ret = add_tensor(m, "xb", -1, JALRT_DTYPE_F32, 1, dim, NULL, 0, &m->xb);
	if (!ret)
		ret = add_tensor(m, "xb2", -1, JALRT_DTYPE_F32, 1, dim, NULL, 0, &m->xb2);
	if (!ret)
		ret = add_tensor(m, "q", -1, JALRT_DTYPE_F32, 1, dim, NULL, 0, &m->q);
	if (!ret)
		ret = add_tensor(m, "hb", -1, JALRT_DTYPE_F32, 1, hid, NULL, 0, &m->hb);
	if (!ret)
		ret = add_tensor(m, "hb2", -1, JALRT_DTYPE_F32, 1, hid, NULL, 0, &m->hb2);
	if (!ret)
		ret = add_tensor(m, "logits", -1, JALRT_DTYPE_F32, 1, vocab, NULL, 0, &m->logits);
	/*
	 * Host side. The prompt has seq_len + 1 entries: with a prompt longer
	 * than the run, the last position still reads the token after it.
	 */
	if (!ret)
		ret = add_tensor(m, "prompt", -1, JALRT_DTYPE_U32, 1, seq + 1, NULL,
				 JALRT_TENSOR_HOST, &m->prompt);
	if (!ret)
		ret = add_tensor(m, "tokens_out", -1, JALRT_DTYPE_U32, 1, seq, NULL,
				 JALRT_TENSOR_HOST, &m->out);
	if (!ret)
		ret = add_tensor(m, "progress", -1, JALRT_DTYPE_U64, 1, 1, NULL, JALRT_TENSOR_HOST,
				 &m->progress);
	if (!ret)
		ret = add_tensor(m, "rng_state", -1, JALRT_DTYPE_U64, 1, 1, NULL,
				 JALRT_TENSOR_HOST, &m->rng);
	if (!ret)
		ret = add_tensor(m, "cancel", -1, JALRT_DTYPE_U32, 1, 1, NULL, JALRT_TENSOR_HOST,
				 &m->cancel);
	if (!ret)
		ret = add_tensor(m, "logits_out", -1, JALRT_DTYPE_F32, 1, vocab, NULL,
				 JALRT_TENSOR_HOST, &m->logits_host);
	if (!ret)
		ret = add_tensor(m, "stamps", -1, JALRT_DTYPE_U64, 1, TS_COUNT, NULL,
				 JALRT_TENSOR_HOST, &m->stamps);
	return ret;
}

JALRT_API int jalrt_llm_load(struct jalrt_device *dev, const char *checkpoint,
			     const char *tokenizer, const struct jalrt_llm_options *opts,
			     struct jalrt_llm **out)
{
	struct jalrt_llm_options def = { 0 };
	struct jalrt_llm *m;
	int ret;

	if (!dev || !checkpoint || !out)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       !dev ? "device" : !checkpoint ? "checkpoint" : "llm");
	*out = NULL;
	if (!opts)
		opts = &def;
	if (!jalrt_precision_name(opts->precision))
		return jalrt_set_error(-EINVAL, "%s: precision %u is not f32/bf16/int8/sparse/int4",
				       __func__, opts->precision);
	if (opts->flags & ~JALRT_LLM_FLAGS)
		return jalrt_set_error(-EINVAL, "%s: unknown flags 0x%x", __func__,
				       opts->flags & ~JALRT_LLM_FLAGS);
	if (!(dev->info.caps & JAL_CAP_LLM))
		return jalrt_set_error(-EOPNOTSUPP,
				       "%s: the device (version %u.%u, caps 0x%x) lacks the LLM instructions (JAL_CAP_LLM)",
				       __func__, dev->info.hw_version >> 16,
				       dev->info.hw_version & 0xffff, dev->info.caps);

	/* an older chip has no 4-bit product: say so rather than fail a job */
	if (opts->precision == JALRT_PRECISION_INT4 && !(dev->info.caps & JAL_CAP_Q4))
		return jalrt_set_error(-EOPNOTSUPP,
				       "%s: the device (caps 0x%x) lacks int4 weights (JAL_CAP_Q4); use int8",
				       __func__, dev->info.caps);

	m = calloc(1, sizeof(*m));
	if (!m)
		return jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
	m->dev = jalrt_device_get(dev);
	m->precision = opts->precision;
	m->q8_group = opts->q8_group;	/* 0: LLM_Q8_GROUP_DEFAULT */

	/* GGUF: no f32 copy of the model; declare_tensors() converts per tensor */
	ret = llm_checkpoint_open_flags(checkpoint, LLM_CHECKPOINT_GGUF_TENSORS, &m->ckpt);
	if (ret) {
		jalrt_set_error(ret, "%s: %s: %s", __func__, checkpoint, llm_last_error_message());
		goto fail;
	}
	m->cfg = m->ckpt->config;
	/* everything position-sized (the KV cache above all) follows the context asked for */
	if (opts->ctx && opts->ctx < (uint32_t)m->cfg.seq_len)
		m->cfg.seq_len = (int)opts->ctx;
	if (m->cfg.vocab_size > (1 << 24) || m->cfg.seq_len > (1 << 24)) {
		ret = jalrt_set_error(-E2BIG, "%s: %s: vocabulary or context too large", __func__,
				      checkpoint);
		goto fail;
	}
	if (tokenizer) {
		ret = llm_tokenizer_open(tokenizer, m->cfg.vocab_size, &m->tok);
		if (ret) {
			jalrt_set_error(ret, "%s: %s: %s", __func__, tokenizer,
					llm_last_error_message());
			goto fail;
		}
	} else if (m->ckpt->gguf) {
		/* a GGUF file's own vocabulary (tokenizer.ggml.*), if it has one */
		ret = llm_tokenizer_from_gguf(m->ckpt->gguf, m->cfg.vocab_size, &m->tok);
		if (ret) {
			jalrt_set_error(ret, "%s: %s: %s", __func__, checkpoint,
					llm_last_error_message());
			goto fail;
		}
	}
	m->layers = calloc((size_t)m->cfg.n_layers, sizeof(*m->layers));
	if (!m->layers) {
		ret = jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
		goto fail;
	}
	ret = jalrt_context_create(dev, opts->priority, &m->ctx);
	if (!ret)
		ret = jalrt_graph_create(m->ctx, opts->flags & JALRT_LLM_HOST_MEMORY ?
					 JALRT_GRAPH_HOST_MEMORY : 0, &m->g);
	if (!ret)
		ret = declare_tensors(m);
	if (!ret)
		ret = jalrt_graph_allocate(m->g);
	free_bufs(m);
	if (!ret)
		ret = jalrt_cmdbuf_create(dev, &m->cb);
	if (ret)
		goto fail;
	*out = m;
	return 0;

fail:
	jalrt_llm_destroy(m);
	return ret;
}

JALRT_API int jalrt_llm_destroy(struct jalrt_llm *m)
{
	unsigned int i;

	if (!m)
		return 0;
	for (i = 0; i < JALRT_ARRAY_SIZE(m->progs); i++)
		jalrt_program_destroy(m->progs[i].prog);
	jalrt_cmdbuf_destroy(m->cb);
	jalrt_graph_destroy(m->g);
	jalrt_context_destroy(m->ctx);
	free_bufs(m);
	free(m->layers);
	llm_tokenizer_close(m->tok);
	llm_checkpoint_close(m->ckpt);
	jalrt_device_put(m->dev);
	free(m);
	return 0;
}

JALRT_API int jalrt_llm_query(const struct jalrt_llm *m, struct jalrt_llm_info *info)
{
	struct jalrt_graph_info gi;

	if (!m || !info)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, m ? "info" : "llm");
	jalrt_graph_query(m->g, &gi);
	memset(info, 0, sizeof(*info));
	info->dim = m->cfg.dim;
	info->hidden_dim = m->cfg.hidden_dim;
	info->n_layers = m->cfg.n_layers;
	info->n_heads = m->cfg.n_heads;
	info->n_kv_heads = m->cfg.n_kv_heads;
	info->vocab_size = m->cfg.vocab_size;
	info->seq_len = m->cfg.seq_len;
	info->shared_classifier = m->cfg.shared_classifier;
	info->precision = m->precision;
	info->weight_bytes = m->weight_bytes;
	info->device_bytes = gi.device_bytes;
	info->in_vram = gi.in_vram;
	info->vram_bytes = gi.vram_bytes;
	info->upload_ns = gi.upload_ns;
	info->program_insns = m->program_insns;
	return 0;
}

/* ---- text ---------------------------------------------------------------- */

JALRT_API int jalrt_llm_encode(struct jalrt_llm *m, const char *text, bool bos, int *tokens,
			       size_t max)
{
	int ret;

	if (!m || !text || (max && !tokens))
		return jalrt_set_error(-EINVAL, "%s: NULL argument", __func__);
	if (!m->tok)
		return jalrt_set_error(-ENOTSUP, "%s: the model was loaded without a tokenizer",
				       __func__);
	ret = llm_tokenizer_encode(m->tok, text, bos, false, tokens, max);
	if (ret < 0)
		return jalrt_set_error(ret, "%s: %s", __func__, llm_last_error_message());
	return ret;
}

JALRT_API const char *jalrt_llm_decode(struct jalrt_llm *m, int prev, int token)
{
	if (!m || !m->tok)
		return NULL;
	return llm_tokenizer_decode(m->tok, prev, token);
}

JALRT_API bool jalrt_llm_is_end(const struct jalrt_llm *m, int token)
{
	/* without a vocabulary, run.c's rule: the model starts its next text with BOS */
	if (!m || !m->tok)
		return token == LLM_TOKEN_BOS;
	return llm_tokenizer_is_eog(m->tok, token);
}

/* The vocabulary's chat format, by its tokenizer.chat_template's markers. */
static enum llm_chat_template chat_template(const struct jalrt_llm *m)
{
	return m && m->tok ? llm_chat_template_detect(llm_tokenizer_chat_template(m->tok)) :
			     LLM_CHAT_PLAIN;
}

JALRT_API const char *jalrt_llm_chat_template(const struct jalrt_llm *m)
{
	return llm_chat_template_name(chat_template(m));
}

JALRT_API int jalrt_llm_encode_chat(struct jalrt_llm *m, const char *const *roles,
				    const char *const *contents, size_t n, int **tokens_out)
{
	struct llm_chat_message *msgs;
	size_t i;
	int ret;

	if (!m || !tokens_out || (n && (!roles || !contents)))
		return jalrt_set_error(-EINVAL, "%s: NULL argument", __func__);
	*tokens_out = NULL;
	if (!m->tok)
		return jalrt_set_error(-ENOTSUP, "%s: the model was loaded without a tokenizer",
				       __func__);
	msgs = calloc(n ? n : 1, sizeof(*msgs));
	if (!msgs)
		return jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
	for (i = 0; i < n; i++) {
		msgs[i].role = roles[i];
		msgs[i].content = contents[i];
	}
	ret = llm_chat_encode(m->tok, chat_template(m), msgs, n, tokens_out);
	free(msgs);
	if (ret < 0)
		return jalrt_set_error(ret, "%s: %s", __func__, llm_last_error_message());
	return ret;
}

JALRT_API bool jalrt_llm_piece_printable(const struct jalrt_llm *m, const char *piece)
{
	if (!m || !m->tok)
		return llm_piece_is_printable(piece);
	return llm_tokenizer_piece_is_printable(m->tok, piece);
}

JALRT_API bool jalrt_llm_piece_is_printable(const char *piece)
{
	return llm_piece_is_printable(piece);
}

/* ---- the generation program ---------------------------------------------- */

JALRT_HIDDEN uint32_t llm_matvec_flags(const struct jalrt_llm *m, const struct jalrt_tensor *w,
				       uint32_t cols)
{
	/* at int4 the int8 matrices too (Q4 ones quantise x without the flag) */
	if ((m->precision == JALRT_PRECISION_INT8 || m->precision == JALRT_PRECISION_INT4) &&
	    jalrt_tensor_dtype(w) == JALRT_DTYPE_Q8 &&
	    llm_int8_quantizes_x(cols, jalrt_tensor_group(w)))
		return JALRT_MATVEC_QUANTIZE_X;
	return 0;
}

/* d = W x for a matrix of @cols columns (see llm_matvec_flags()). */
static int matvec(const struct jalrt_llm *m, struct jalrt_program *p, struct jalrt_ref d,
		  struct jalrt_tensor *w, struct jalrt_ref x, uint32_t cols)
{
	return jalrt_op_matvec_flags(p, d, w, x, llm_matvec_flags(m, w, cols));
}

static int emit_layer(struct jalrt_llm *m, struct jalrt_program *p, const struct llm_layer *ly,
		      unsigned int pos1)
{
	const struct llm_config *c = &m->cfg;
	struct jalrt_ref x = JALRT_REF(m->x), xb = JALRT_REF(m->xb), q = JALRT_REF(m->q);
	struct jalrt_ref k_row = JALRT_REF_ROW(ly->kc, A_POS);
	struct jalrt_ref v_row = JALRT_REF_ROW(ly->vc, A_POS);
	struct jalrt_ref hb = JALRT_REF(m->hb), hb2 = JALRT_REF(m->hb2);

	jalrt_op_rmsnorm(p, xb, x, JALRT_REF(ly->rms_att), c->dim, c->rms_eps);
	matvec(m, p, q, ly->wq, xb, c->dim);
	matvec(m, p, k_row, ly->wk, xb, c->dim);
	matvec(m, p, v_row, ly->wv, xb, c->dim);
	if (ly->bq) {
		/* qwen2: the projections' biases, before RoPE */
		jalrt_op_vadd(p, q, q, JALRT_REF(ly->bq), c->dim);
		jalrt_op_vadd(p, k_row, k_row, JALRT_REF(ly->bk), c->kv_dim);
		jalrt_op_vadd(p, v_row, v_row, JALRT_REF(ly->bv), c->kv_dim);
	}
	if (m->rope_freqs) {
		jalrt_op_rope_freqs(p, q, q, JALRT_REF(m->rope_freqs), c->dim, c->head_size,
				    JALRT_DIM_REG(A_POS));
		jalrt_op_rope_freqs(p, k_row, k_row, JALRT_REF(m->rope_freqs), c->kv_dim,
				    c->head_size, JALRT_DIM_REG(A_POS));
	} else {
		jalrt_op_rope(p, q, q, c->dim, c->head_size, JALRT_DIM_REG(A_POS), c->rope_theta);
		jalrt_op_rope(p, k_row, k_row, c->kv_dim, c->head_size, JALRT_DIM_REG(A_POS),
			      c->rope_theta);
	}
	jalrt_op_attention(p, xb, q, JALRT_REF(ly->kc), JALRT_REF(ly->vc), c->n_heads,
			   c->head_size, c->n_kv_heads, JALRT_DIM_REG(pos1));
	matvec(m, p, JALRT_REF(m->xb2), ly->wo, xb, c->dim);
	jalrt_op_vadd(p, x, x, JALRT_REF(m->xb2), c->dim);
	jalrt_op_rmsnorm(p, xb, x, JALRT_REF(ly->rms_ffn), c->dim, c->rms_eps);
	matvec(m, p, hb, ly->w1, xb, c->dim);
	matvec(m, p, hb2, ly->w3, xb, c->dim);
	jalrt_op_silu_mul(p, hb, hb, hb2, c->hidden_dim);
	matvec(m, p, xb, ly->w2, hb, c->hidden_dim);
	/* Errors are remembered by the program and reported at finalize. */
	return jalrt_op_vadd(p, x, x, xb, c->dim);
}

/*
 * The one token the chip's loop stops at: BOS for llama2.c-style
 * vocabularies (run.c's rule), else a BPE vocabulary's end of turn or of
 * text; the host stops at any of jalrt_llm_is_end()'s.
 */
static int llm_end_token(const struct jalrt_llm *m)
{
	if (!m->tok || llm_tokenizer_kind(m->tok) == LLM_TOKENIZER_SPM)
		return LLM_TOKEN_BOS;
	if (llm_tokenizer_eot(m->tok) >= 0)
		return llm_tokenizer_eot(m->tok);
	return llm_tokenizer_eos(m->tok) >= 0 ? llm_tokenizer_eos(m->tok) : LLM_TOKEN_BOS;
}

static int build_program(struct jalrt_llm *m, float temperature, float topp,
			 struct jalrt_program **out)
{
	const struct llm_config *c = &m->cfg;
	unsigned int pos1, next, bos, flag, zero;
	uint32_t loop, from_prompt, have_next, done;
	struct jalrt_kernel_builder *kb;
	struct jalrt_program *p;
	int l, ret;

	ret = jalrt_program_create(m->g, LLM_NUM_ARGS, &p);
	if (ret)
		return ret;
	kb = jalrt_program_builder(p);
	ret = jalrt_program_scalar(p, &pos1);
	if (!ret)
		ret = jalrt_program_scalar(p, &next);
	if (!ret)
		ret = jalrt_program_scalar(p, &bos);
	if (!ret)
		ret = jalrt_program_scalar(p, &flag);
	if (!ret)
		ret = jalrt_program_scalar(p, &zero);
	if (!ret)
		ret = jalrt_kb_new_label(kb, &loop);
	if (!ret)
		ret = jalrt_kb_new_label(kb, &from_prompt);
	if (!ret)
		ret = jalrt_kb_new_label(kb, &have_next);
	if (!ret)
		ret = jalrt_kb_new_label(kb, &done);
	if (ret)
		goto out;

	/* The builder and the program keep their first error; check at the end. */
	/* the token that ends the text on the chip: BOS for llama2.c, else EOT or EOS */
	jalrt_kb_li(kb, bos, llm_end_token(m));
	jalrt_kb_li(kb, zero, 0);
	/*
	 * Token LLM_CONTINUE: go on from where an earlier dispatch of this job
	 * stopped, with the token it stored for this position and its rng
	 * state; nothing to do if that token ended the text.
	 */
	jalrt_kb_li(kb, flag, LLM_CONTINUE);
	jalrt_kb_bne(kb, A_TOK, flag, loop);
	jalrt_kb_addi(kb, pos1, A_POS, (uint64_t)-1);
	jalrt_op_load(p, A_TOK, JALRT_REF_ELEM(m->out, pos1));
	jalrt_op_load(p, A_RNG, JALRT_REF(m->rng));
	jalrt_kb_beq(kb, A_TOK, bos, done);
	jalrt_kb_bind(kb, loop);
	/* The host asks to stop by setting the cancel word. */
	jalrt_op_load(p, flag, JALRT_REF(m->cancel));
	jalrt_kb_bne(kb, flag, zero, done);
	jalrt_op_embed(p, JALRT_REF(m->x), m->emb, JALRT_DIM_REG(A_TOK));
	jalrt_kb_addi(kb, pos1, A_POS, 1);
	for (l = 0; l < c->n_layers; l++)
		emit_layer(m, p, &m->layers[l], pos1);
	jalrt_op_rmsnorm(p, JALRT_REF(m->x), JALRT_REF(m->x), JALRT_REF(m->rms_final), c->dim,
			 c->rms_eps);
	matvec(m, p, JALRT_REF(m->logits), m->wcls, JALRT_REF(m->x), c->dim);

	/* Next token: the prompt's while in it, else the sampler's. */
	jalrt_kb_bltu(kb, pos1, A_NPROMPT, from_prompt);
	if (temperature == 0.0f)
		jalrt_op_argmax(p, next, JALRT_REF(m->logits), c->vocab_size);
	else
		jalrt_op_sample(p, next, JALRT_REF(m->logits), c->vocab_size, A_RNG,
				temperature, topp);
	jalrt_kb_jump(kb, have_next);
	jalrt_kb_bind(kb, from_prompt);
	jalrt_op_load(p, next, JALRT_REF_ELEM(m->prompt, pos1));
	jalrt_kb_bind(kb, have_next);

	/* Publish: token, rng state, then the counter the host polls. */
	jalrt_op_store(p, JALRT_REF_ELEM(m->out, A_POS), next);
	jalrt_op_store(p, JALRT_REF(m->rng), A_RNG);
	jalrt_kb_addi(kb, A_POS, pos1, 0);
	jalrt_op_store(p, JALRT_REF(m->progress), A_POS);
	jalrt_kb_beq(kb, next, bos, done);
	jalrt_kb_addi(kb, A_TOK, next, 0);
	jalrt_kb_bltu(kb, A_POS, A_END, loop);
	jalrt_kb_bind(kb, done);
	jalrt_kb_halt(kb);

	ret = jalrt_program_finalize(p);
out:
	if (ret) {
		jalrt_program_destroy(p);
		return ret;
	}
	m->program_insns = jalrt_kernel_num_insns(jalrt_program_kernel(p));
	*out = p;
	return 0;
}

/* The program for a sampler setting, built on first use. */
static int get_program(struct jalrt_llm *m, float temperature, float topp,
		       struct jalrt_program **out)
{
	struct llm_prog *slot = &m->progs[temperature == 0.0f ? 0 : 1];
	int ret;

	if (slot->prog && (temperature == 0.0f ||
			   (slot->temperature == temperature && slot->topp == topp))) {
		*out = slot->prog;
		return 0;
	}
	jalrt_program_destroy(slot->prog);
	slot->prog = NULL;
	ret = build_program(m, temperature, topp, &slot->prog);
	if (ret)
		return ret;
	slot->temperature = temperature;
	slot->topp = topp;
	*out = slot->prog;
	return 0;
}

/* ---- running ------------------------------------------------------------- */

static uint64_t load_u64(const struct jalrt_tensor *t)
{
	return __atomic_load_n((const uint64_t *)jalrt_tensor_host(t), __ATOMIC_ACQUIRE);
}

/* Host-side state of one generation. */
struct gen_state {
	struct jalrt_llm *m;
	const struct jalrt_llm_generate_params *params;
	struct jalrt_llm_stats st;
	int seen;		/* tokens of the out buffer handled */
	int prev;		/* token before the next one to emit */
	bool stop;		/* BOS, callback stop or error: emit no more */
	int error;
	uint64_t t_first;	/* end of the first position */
	uint64_t device_elapsed_ns;	/* the same span by the device clock */
};

/* Hand the tokens the chip has published (up to @avail) to the callback. */
static void drain(struct gen_state *s, int avail)
{
	const uint32_t *out = jalrt_tensor_host(s->m->out);

	if (avail > 0 && !s->t_first)
		s->t_first = llm_now();
	while (!s->stop && s->seen < avail) {
		int token = (int)__atomic_load_n(&out[s->seen], __ATOMIC_RELAXED), ret;

		s->seen++;
		s->st.positions = s->seen;
		if (jalrt_llm_is_end(s->m, token)) {
			s->st.stopped_at_bos = true;
			s->stop = true;
			break;
		}
		s->st.emitted++;
		if (s->params->on_token) {
			ret = s->params->on_token(s->params->opaque, s->prev, token, s->seen);
			if (ret) {
				s->stop = true;
				if (ret < 0)
					s->error = jalrt_set_error(ret,
						"jalrt_llm_generate: the token callback failed with %d",
						ret);
			}
		}
		s->prev = token;
	}
}

static int record_run(struct jalrt_llm *m, struct jalrt_program *p, const uint64_t *args,
		      bool copy_logits)
{
	int ret;

	jalrt_cmdbuf_reset(m->cb);
	ret = jalrt_program_record(p, m->cb, args, LLM_NUM_ARGS);
	if (!ret && copy_logits)
		ret = jalrt_graph_record_copy(m->cb, m->logits_host, 0, m->logits, 0,
					      jalrt_tensor_bytes(m->logits));
	return ret;
}

static int run_device_loop(struct gen_state *s, struct jalrt_program *p, int steps)
{
	struct jalrt_llm *m = s->m;
	uint64_t args[LLM_NUM_ARGS];
	struct jalrt_fence *fence = NULL;
	bool canceled = false;
	int ret;

	/*
	 * One job: position 0, then the rest continuing from memory, with the
	 * device clock stamped around them. run.c times from the end of the
	 * first position; the host cannot see that moment reliably (a whole
	 * short generation may end before its first poll), the chip can.
	 */
	args[A_POS] = 0;
	args[A_END] = 1;
	args[A_TOK] = (uint64_t)s->params->prompt[0];
	args[A_RNG] = s->params->seed;
	args[A_NPROMPT] = (uint64_t)s->params->n_prompt;
	memset(jalrt_tensor_host(m->stamps), 0, jalrt_tensor_bytes(m->stamps));
	jalrt_cmdbuf_reset(m->cb);
	ret = jalrt_graph_record_timestamp(m->cb, m->stamps, TS_START * 8);
	if (!ret)
		ret = jalrt_program_record(p, m->cb, args, LLM_NUM_ARGS);
	if (!ret)
		ret = jalrt_graph_record_timestamp(m->cb, m->stamps, TS_FIRST * 8);
	if (!ret && steps > 1) {
		args[A_POS] = 1;
		args[A_END] = (uint64_t)steps;
		args[A_TOK] = LLM_CONTINUE;
		args[A_RNG] = 0;
		ret = jalrt_program_record(p, m->cb, args, LLM_NUM_ARGS);
	}
	if (!ret)
		ret = jalrt_graph_record_timestamp(m->cb, m->stamps, TS_END * 8);
	if (!ret)
		ret = jalrt_submit(m->ctx, m->cb, NULL, 0, NULL, 0, &fence);
	if (ret)
		return ret;
	s->st.submits++;
	for (;;) {
		/* Sleeping in the fence wait doubles as the poll interval. */
		ret = jalrt_fence_wait(fence, LLM_POLL_NS);
		drain(s, (int)load_u64(m->progress));
		if (s->stop && !canceled && ret == -ETIME) {
			/* Ask the chip to stop at its next position. */
			__atomic_store_n((uint32_t *)jalrt_tensor_host(m->cancel), 1,
					 __ATOMIC_RELEASE);
			canceled = true;
		}
		if (ret != -ETIME)
			break;
	}
	jalrt_fence_destroy(fence);
	if (!ret) {
		const uint64_t *ts = jalrt_tensor_host(m->stamps);

		s->device_elapsed_ns = ts[TS_END] - ts[TS_FIRST];
	}
	return ret;
}

static int run_per_token(struct gen_state *s, struct jalrt_program *p, int steps)
{
	struct jalrt_llm *m = s->m;
	uint64_t args[LLM_NUM_ARGS], rng = s->params->seed;
	const uint32_t *out = jalrt_tensor_host(m->out);
	int pos, token = s->params->prompt[0], ret;

	for (pos = 0; pos < steps && !s->stop; pos++) {
		args[A_POS] = (uint64_t)pos;
		args[A_END] = (uint64_t)pos + 1;
		args[A_TOK] = (uint64_t)token;
		args[A_RNG] = rng;
		args[A_NPROMPT] = (uint64_t)s->params->n_prompt;
		/* The same commands every time: only the arguments change. */
		if (!pos)
			ret = record_run(m, p, args, false);
		else
			ret = jalrt_cmdbuf_set_args(m->cb, 0, 0, args, LLM_NUM_ARGS);
		if (!ret)
			ret = jalrt_submit_sync(m->ctx, m->cb, NULL, 0, JALRT_TIMEOUT_INFINITE);
		if (ret)
			return ret;
		s->st.submits++;
		rng = load_u64(m->rng);
		token = (int)out[pos];
		drain(s, pos + 1);
	}
	return 0;
}

JALRT_API int jalrt_llm_generate(struct jalrt_llm *m,
				 const struct jalrt_llm_generate_params *params,
				 struct jalrt_llm_stats *stats)
{
	struct gen_state s = { .m = m, .params = params };
	struct jalrt_program *p;
	uint64_t start;
	int steps, n_prompt, i, ret;
	uint32_t *prompt;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (!m || !params)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, m ? "params" : "llm");
	if (!params->prompt || params->n_prompt < 1)
		return jalrt_set_error(-EINVAL, "%s: the prompt needs at least one token (BOS)",
				       __func__);
	for (i = 0; i < params->n_prompt; i++)
		if (params->prompt[i] < 0 || params->prompt[i] >= m->cfg.vocab_size)
			return jalrt_set_error(-EINVAL,
					       "%s: prompt token %d (#%d) is outside the vocabulary of %d",
					       __func__, params->prompt[i], i, m->cfg.vocab_size);
	if (!(params->temperature >= 0.0f) || params->temperature > 1e30f)
		return jalrt_set_error(-EINVAL, "%s: temperature %g is not a finite value >= 0",
				       __func__, params->temperature);
	if (params->topp != params->topp)
		return jalrt_set_error(-EINVAL, "%s: top-p is NaN", __func__);
	if (params->temperature != 0.0f && !params->seed)
		return jalrt_set_error(-EINVAL, "%s: seed 0 would make xorshift return 0 forever",
				       __func__);
	if (params->mode > JALRT_LLM_PER_TOKEN)
		return jalrt_set_error(-EINVAL, "%s: unknown mode %u", __func__, params->mode);
	steps = params->steps;
	if (steps <= 0 || steps > m->cfg.seq_len)
		steps = m->cfg.seq_len;

	ret = get_program(m, params->temperature, params->topp, &p);
	if (ret)
		return ret;
	/* The prompt, as far as any position can read it. */
	n_prompt = params->n_prompt < m->cfg.seq_len + 1 ? params->n_prompt : m->cfg.seq_len + 1;
	prompt = jalrt_tensor_host(m->prompt);
	for (i = 0; i < n_prompt; i++)
		prompt[i] = (uint32_t)params->prompt[i];
	memset(jalrt_tensor_host(m->out), 0, jalrt_tensor_bytes(m->out));
	*(uint64_t *)jalrt_tensor_host(m->progress) = 0;
	*(uint32_t *)jalrt_tensor_host(m->cancel) = 0;
	s.prev = params->prompt[0];

	start = llm_now();
	if (params->mode == JALRT_LLM_PER_TOKEN)
		ret = run_per_token(&s, p, steps);
	else
		ret = run_device_loop(&s, p, steps);
	if (!ret)
		ret = s.error;
	s.st.total_ns = llm_now() - start;
	if (s.t_first)
		s.st.elapsed_ns = llm_now() - s.t_first;
	/* The device clock when there is one (device loop), else the host's. */
	if (s.device_elapsed_ns)
		s.st.elapsed_ns = s.device_elapsed_ns;
	if (s.st.positions > 1 && s.st.elapsed_ns)
		s.st.tokens_per_second = (s.st.positions - 1) / (s.st.elapsed_ns * 1e-9);
	if (stats)
		*stats = s.st;
	return ret;
}

JALRT_API int jalrt_llm_forward(struct jalrt_llm *m, int token, int pos, float *logits)
{
	uint64_t args[LLM_NUM_ARGS];
	struct jalrt_program *p;
	int ret;

	if (!m || !logits)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, m ? "logits" : "llm");
	if (token < 0 || token >= m->cfg.vocab_size)
		return jalrt_set_error(-EINVAL, "%s: token %d is outside the vocabulary of %d",
				       __func__, token, m->cfg.vocab_size);
	if (pos < 0 || pos >= m->cfg.seq_len)
		return jalrt_set_error(-EINVAL, "%s: position %d is outside the model's %d",
				       __func__, pos, m->cfg.seq_len);
	ret = get_program(m, 0.0f, 0.0f, &p);
	if (ret)
		return ret;
	*(uint32_t *)jalrt_tensor_host(m->cancel) = 0;
	args[A_POS] = (uint64_t)pos;
	args[A_END] = (uint64_t)pos + 1;
	args[A_TOK] = (uint64_t)token;
	args[A_RNG] = 1;
	args[A_NPROMPT] = 0;
	ret = record_run(m, p, args, true);
	if (!ret)
		ret = jalrt_submit_sync(m->ctx, m->cb, NULL, 0, JALRT_TIMEOUT_INFINITE);
	if (ret)
		return ret;
	memcpy(logits, jalrt_tensor_host(m->logits_host), (size_t)m->cfg.vocab_size * 4);
	return 0;
}
