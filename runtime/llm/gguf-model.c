// SPDX-License-Identifier: MIT
/*
 * llama models in GGUF files <-> llama2.c checkpoints; see gguf-model.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf-model.h"

/* The tensors of a llama model, in llama2.c's order. */
enum gm_tensor {
	GM_EMBD, GM_ATTN_NORM, GM_Q, GM_K, GM_V, GM_O, GM_FFN_NORM, GM_GATE, GM_DOWN, GM_UP,
	GM_OUT_NORM, GM_OUT, GM_BQ, GM_BK, GM_BV, GM_COUNT
};

/* GM_BQ..GM_BV: qwen2's projection biases, only in its files. */
static const char *const gm_names[GM_COUNT] = {
	"token_embd", "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm",
	"ffn_gate", "ffn_down", "ffn_up", "output_norm", "output", "attn_q.bias",
	"attn_k.bias", "attn_v.bias",
};

/* general.architecture values and the prefix of their keys. */
static const char *const gm_archs[] = {
	[LLM_ARCH_LLAMA] = "llama",
	[LLM_ARCH_QWEN2] = "qwen2",
};

static bool gm_is_bias(enum gm_tensor t)
{
	return t == GM_BQ || t == GM_BK || t == GM_BV;
}

void llm_gguf_neox_rows(void *dst, const void *src, uint64_t rows, size_t row_bytes,
			int head_size, bool to_file)
{
	uint64_t half = (uint64_t)head_size / 2, h, i;

	for (h = 0; h + (uint64_t)head_size <= rows; h += (uint64_t)head_size) {
		for (i = 0; i < half; i++) {
			/* file rows h + i and h + half + i are llama2.c's h + 2i, h + 2i + 1 */
			uint64_t f0 = h + i, f1 = h + half + i, m0 = h + 2 * i, m1 = m0 + 1;

			if (to_file) {
				memcpy((char *)dst + f0 * row_bytes, (const char *)src + m0 * row_bytes,
				       row_bytes);
				memcpy((char *)dst + f1 * row_bytes, (const char *)src + m1 * row_bytes,
				       row_bytes);
			} else {
				memcpy((char *)dst + m0 * row_bytes, (const char *)src + f0 * row_bytes,
				       row_bytes);
				memcpy((char *)dst + m1 * row_bytes, (const char *)src + f1 * row_bytes,
				       row_bytes);
			}
		}
	}
}

bool llm_gguf_neox_tensor(const struct llm_config *c, const char *what)
{
	return c->arch == LLM_ARCH_QWEN2 &&
	       (!strcmp(what, "attn_q") || !strcmp(what, "attn_k") ||
		!strcmp(what, "attn_q.bias") || !strcmp(what, "attn_k.bias"));
}

/* Tensor @t of @c is stored in NeoX order (see llm_gguf_neox_rows()). */
static bool gm_neox(const struct llm_config *c, enum gm_tensor t)
{
	return llm_gguf_neox_tensor(c, gm_names[t]);
}

/*
 * qwen2: the file's Q and K tensors (weights and biases) copied into
 * llama2.c's row order, and the file's tensor table pointed at the copies
 * (*@raw, freed with the checkpoint), so that everything after reads
 * them as a llama model's, whatever their type: weight rows are whole
 * blocks (gguf.c checked that), biases must be of a type of 1-element
 * blocks.
 */
static int gm_neox_tensors(struct gguf_file *g, const struct llm_config *c, void **raw)
{
	static const char *const what[] = { "attn_q", "attn_k", "attn_q.bias", "attn_k.bias" };
	uint64_t total = 0, at = 0;
	char name[64];
	int pass, l;
	size_t k;

	*raw = NULL;
	for (pass = 0; pass < 2; pass++) {
		for (l = 0; l < c->n_layers; l++) {
			for (k = 0; k < sizeof(what) / sizeof(what[0]); k++) {
				/* the table is the file's, ours to point elsewhere */
				struct gguf_tensor *t = (struct gguf_tensor *)gguf_find_tensor(
					g, llm_gguf_tensor_name(name, sizeof(name), what[k], l));
				uint64_t rows, row_bytes;

				if (!t)		/* the tensor checks named it already */
					return llm_set_error(-EINVAL, "GGUF model: no tensor %s", name);
				if (t->n_dims == 1 && gguf_type_block(t->type) != 1)
					return llm_set_error(-EINVAL,
							     "GGUF model: bias %s has type %s; F32, F16 or BF16 only",
							     name, gguf_type_name(t->type));
				rows = t->n_dims == 1 ? t->elements : t->dims[1];
				row_bytes = gguf_tensor_bytes(t->type, t->elements / rows);
				if (!pass) {
					total += rows * row_bytes;
					continue;
				}
				llm_gguf_neox_rows((char *)*raw + at, t->data, rows, (size_t)row_bytes,
						   c->head_size, false);
				t->data = (char *)*raw + at;
				at += rows * row_bytes;
			}
		}
		if (!pass && !(*raw = malloc(total ? (size_t)total : 1)))
			return llm_set_error(-ENOMEM, "GGUF model: out of memory");
	}
	return 0;
}

/*
 * @n floats of tensor @t (one layer's) between NeoX and llama2.c order, in
 * place: a matrix by rows of @cols, a bias by elements.
 */
static int gm_neox_in_place(const struct llm_config *c, enum gm_tensor t, float *v, uint64_t n,
			    uint64_t cols, bool to_file)
{
	float *tmp = malloc(n * sizeof(float));

	if (!tmp)
		return llm_set_error(-ENOMEM, "GGUF model: out of memory");
	memcpy(tmp, v, n * sizeof(float));
	if (gm_is_bias(t))
		llm_gguf_neox_rows(v, tmp, n, sizeof(float), c->head_size, to_file);
	else
		llm_gguf_neox_rows(v, tmp, n / cols, cols * sizeof(float), c->head_size, to_file);
	free(tmp);
	return 0;
}

static bool gm_per_layer(enum gm_tensor t)
{
	return t != GM_EMBD && t != GM_OUT_NORM && t != GM_OUT;
}

/* Rows and columns of one copy (1 row for vectors). */
static void gm_shape(const struct llm_config *c, enum gm_tensor t, uint64_t *rows, uint64_t *cols)
{
	uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden_dim, kvd = (uint64_t)c->kv_dim;
	uint64_t vocab = (uint64_t)c->vocab_size;

	*cols = dim;
	switch (t) {
	case GM_EMBD: case GM_OUT: *rows = vocab; break;
	case GM_Q: case GM_O: *rows = dim; break;
	case GM_K: case GM_V: *rows = kvd; break;
	case GM_BK: case GM_BV: *rows = 1; *cols = kvd; break;
	case GM_GATE: case GM_UP: *rows = hid; break;
	case GM_DOWN: *rows = dim; *cols = hid; break;
	default: *rows = 1; break;
	}
}

char *llm_gguf_tensor_name(char *buf, size_t size, const char *what, int layer)
{
	/* "attn_q.bias" and the like name the whole suffix */
	const char *suffix = strchr(what, '.') ? "" : ".weight";

	if (layer >= 0)
		snprintf(buf, size, "blk.%d.%s%s", layer, what, suffix);
	else
		snprintf(buf, size, "%s%s", what, suffix);
	return buf;
}

static char *gm_name(char *buf, size_t size, enum gm_tensor t, int layer)
{
	return llm_gguf_tensor_name(buf, size, gm_names[t], gm_per_layer(t) ? layer : -1);
}

/* ---- loading -------------------------------------------------------------- */

/* A required (or, with @def, optional) positive int hyperparameter. */
static int gm_int(const struct gguf_file *g, const char *key, int def, int *out)
{
	uint64_t v;
	int ret = gguf_get_u64(g, key, &v);

	if (ret == -ENOENT) {
		if (def > 0) {
			*out = def;
			return 0;
		}
		return llm_set_error(-EINVAL, "GGUF model: metadata '%s' is missing", key);
	}
	if (ret)
		return ret;
	if (v == 0 || v > INT32_MAX)
		return llm_set_error(-EINVAL, "GGUF model: '%s' is %" PRIu64 ", outside 1..%d", key,
				     v, INT32_MAX);
	*out = (int)v;
	return 0;
}

static int gm_float(const struct gguf_file *g, const char *key, float def, float *out)
{
	int ret = gguf_get_f32(g, key, out);

	if (ret == -ENOENT) {
		*out = def;
		return 0;
	}
	if (!ret && (!(*out > 0.0f) || isinf(*out)))
		return llm_set_error(-EINVAL, "GGUF model: '%s' is %g, not a positive number", key,
				     (double)*out);
	return ret;
}

/* "<arch>.<key>" in @buf. */
static const char *gm_key(char *buf, size_t size, const struct llm_config *c, const char *key)
{
	snprintf(buf, size, "%s.%s", gm_archs[c->arch], key);
	return buf;
}

/* <arch>.rope.scaling.*: none, linear (a factor) or llama3 (its bands). */
static int gm_rope_scaling(const struct gguf_file *g, struct llm_config *c)
{
	struct gguf_str st;
	uint64_t orig;
	char k[96];
	int ret;

	ret = gguf_get_str(g, gm_key(k, sizeof(k), c, "rope.scaling.type"), &st);
	if (ret == -ENOENT || (!ret && gguf_str_eq(st, "none")))
		return 0;
	if (ret)
		return ret;
	if (gguf_str_eq(st, "linear"))
		c->rope_scaling = LLM_ROPE_SCALING_LINEAR;
	else if (gguf_str_eq(st, "llama3"))
		c->rope_scaling = LLM_ROPE_SCALING_LLAMA3;
	else
		return llm_set_error(-EINVAL,
				     "GGUF model: RoPE scaling '%.*s' is not supported (none, linear, llama3)",
				     (int)(st.len > 32 ? 32 : st.len), st.ptr);
	if (gm_float(g, gm_key(k, sizeof(k), c, "rope.scaling.factor"), 0.0f, &c->rope_factor))
		return -EINVAL;
	if (!c->rope_factor)
		return llm_set_error(-EINVAL, "GGUF model: RoPE scaling without %s", k);
	if (c->rope_scaling != LLM_ROPE_SCALING_LLAMA3)
		return 0;
	/* absent: 0, which llm_config_init() makes Llama 3.1's values */
	if (gm_float(g, gm_key(k, sizeof(k), c, "rope.scaling.low_freq_factor"), 0.0f,
		     &c->rope_low_freq_factor) ||
	    gm_float(g, gm_key(k, sizeof(k), c, "rope.scaling.high_freq_factor"), 0.0f,
		     &c->rope_high_freq_factor))
		return -EINVAL;
	ret = gguf_get_u64(g, gm_key(k, sizeof(k), c, "rope.scaling.original_context_length"),
			   &orig);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && (orig == 0 || orig > INT32_MAX))
		return llm_set_error(-EINVAL, "GGUF model: '%s' is %" PRIu64, k, orig);
	c->rope_orig_ctx = ret ? 0 : (int)orig;
	return 0;
}

static int gm_config(const struct gguf_file *g, struct llm_config *c)
{
	const struct gguf_tensor *embd;
	struct gguf_str arch;
	uint64_t rope_dims, kv_vocab;
	char k[96];
	int ret;
	size_t a;

	memset(c, 0, sizeof(*c));
	ret = gguf_get_str(g, "general.architecture", &arch);
	if (ret == -ENOENT)
		return llm_set_error(-EINVAL, "GGUF model: no general.architecture");
	if (ret)
		return ret;
	for (a = 0; a < sizeof(gm_archs) / sizeof(gm_archs[0]); a++)
		if (gguf_str_eq(arch, gm_archs[a]))
			break;
	if (a == sizeof(gm_archs) / sizeof(gm_archs[0]))
		return llm_set_error(-EINVAL,
				     "GGUF model: architecture '%.*s' is not supported (llama, qwen2)",
				     (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
	c->arch = (int)a;
	/* Every hyperparameter under the architecture's own prefix. */
	if (gm_int(g, gm_key(k, sizeof(k), c, "embedding_length"), 0, &c->dim) ||
	    gm_int(g, gm_key(k, sizeof(k), c, "feed_forward_length"), 0, &c->hidden_dim) ||
	    gm_int(g, gm_key(k, sizeof(k), c, "block_count"), 0, &c->n_layers) ||
	    gm_int(g, gm_key(k, sizeof(k), c, "attention.head_count"), 0, &c->n_heads) ||
	    gm_int(g, gm_key(k, sizeof(k), c, "attention.head_count_kv"), c->n_heads,
		   &c->n_kv_heads) ||
	    gm_int(g, gm_key(k, sizeof(k), c, "context_length"), 0, &c->seq_len) ||
	    gm_float(g, gm_key(k, sizeof(k), c, "rope.freq_base"), LLM_ROPE_THETA_DEFAULT,
		     &c->rope_theta) ||
	    gm_float(g, gm_key(k, sizeof(k), c, "attention.layer_norm_rms_epsilon"),
		     LLM_RMS_EPS_DEFAULT, &c->rms_eps))
		return -EINVAL;
	ret = gm_rope_scaling(g, c);
	if (ret)
		return ret;
	embd = gguf_find_tensor(g, "token_embd.weight");
	if (!embd)
		return llm_set_error(-EINVAL, "GGUF model: no tensor token_embd.weight");
	if (embd->n_dims != 2 || embd->dims[1] > INT32_MAX)
		return llm_set_error(-EINVAL, "GGUF model: token_embd.weight has %u dims (%" PRIu64
				     " x %" PRIu64 "), expected { dim, vocab }",
				     embd->n_dims, embd->dims[0], embd->dims[1]);
	c->vocab_size = (int)embd->dims[1];
	ret = gguf_get_u64(g, gm_key(k, sizeof(k), c, "vocab_size"), &kv_vocab);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && kv_vocab != (uint64_t)c->vocab_size)
		return llm_set_error(-EINVAL,
				     "GGUF model: %s is %" PRIu64 ", token_embd.weight has %d rows",
				     k, kv_vocab, c->vocab_size);
	c->shared_classifier = !gguf_find_tensor(g, "output.weight");
	if (llm_config_init(c))
		return -EINVAL;
	ret = gguf_get_u64(g, gm_key(k, sizeof(k), c, "rope.dimension_count"), &rope_dims);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret && rope_dims != (uint64_t)c->head_size)
		return llm_set_error(-EINVAL,
				     "GGUF model: RoPE on %" PRIu64 " of a head's %d dims is not supported (all of it only)",
				     rope_dims, c->head_size);
	return 0;
}

/*
 * The model's rotation frequencies when its RoPE is scaled: from the
 * scaling keys, or from rope_freqs.weight (llama.cpp's per-frequency
 * divisors, head_size / 2 of them), into ckpt->rope_freqs.
 */
static int gm_rope_freqs(const struct gguf_file *g, struct llm_checkpoint *ckpt)
{
	const struct llm_config *c = &ckpt->config;
	const struct gguf_tensor *t = gguf_find_tensor(g, "rope_freqs.weight");
	float *owned = NULL, *out;
	const float *factors = NULL;
	int j;

	if (!t && c->rope_scaling == LLM_ROPE_SCALING_NONE)
		return 0;
	if (t) {
		if (t->elements != (uint64_t)c->head_size / 2 || !gguf_type_supported(t->type))
			return llm_set_error(-EINVAL,
					     "GGUF model: rope_freqs.weight has %" PRIu64 " values of type %s, expected %d supported ones (head size / 2)",
					     t->elements, gguf_type_name(t->type) ? gguf_type_name(t->type) : "unknown",
					     c->head_size / 2);
		factors = llm_gguf_tensor_f32(t, &owned);
		if (!factors)
			return -ENOMEM;
		for (j = 0; j < c->head_size / 2; j++) {
			if (!(factors[j] > 0.0f) || isinf(factors[j])) {
				free(owned);
				return llm_set_error(-EINVAL,
						     "GGUF model: rope_freqs.weight[%d] is %g, not a positive number",
						     j, (double)factors[j]);
			}
		}
	}
	out = malloc((size_t)c->head_size / 2 * sizeof(float));
	if (!out) {
		free(owned);
		return llm_set_error(-ENOMEM, "GGUF model: out of memory");
	}
	if (llm_rope_freqs(c, factors, out))
		ckpt->rope_freqs = out;
	else
		free(out);	/* factors of 1: the plain frequencies */
	free(owned);
	return 0;
}

int llm_checkpoint_from_gguf(struct gguf_file *g, struct llm_checkpoint **ckpt_out)
{
	return llm_checkpoint_from_gguf_flags(g, 0, ckpt_out);
}

int llm_checkpoint_from_gguf_flags(struct gguf_file *g, unsigned int flags,
				   struct llm_checkpoint **ckpt_out)
{
	static const char *const biases[] = { "attn_q", "attn_k", "attn_v", "attn_output" };
	struct llm_checkpoint *ckpt = NULL;
	void *reordered = NULL;	/* qwen2's Q and K, gm_neox_tensors() */
	struct llm_config c;
	uint64_t count[GM_COUNT], total = 0, bytes;
	float *base = NULL, *dst[GM_COUNT];
	char name[64];
	int t, l, ret;
	size_t i;

	*ckpt_out = NULL;
	ret = gm_config(g, &c);
	if (ret)
		goto fail;
	/* qwen2 has Q, K and V biases (checked with the tensors); no other */
	for (i = c.arch == LLM_ARCH_QWEN2 ? 3 : 0; i < sizeof(biases) / sizeof(biases[0]); i++) {
		snprintf(name, sizeof(name), "blk.0.%s.bias", biases[i]);
		if (gguf_find_tensor(g, name)) {
			ret = llm_set_error(-EINVAL, "GGUF model: bias tensors (%s) are not supported",
					    name);
			goto fail;
		}
	}
	/* Check every tensor before allocating anything. */
	for (t = 0; t < GM_COUNT; t++) {
		uint64_t rows, cols, copies = gm_per_layer(t) ? (uint64_t)c.n_layers : 1;

		gm_shape(&c, t, &rows, &cols);
		count[t] = rows * cols * copies;	/* llm_config_init() bounded these */
		if ((t == GM_OUT && c.shared_classifier) ||
		    (gm_is_bias(t) && c.arch != LLM_ARCH_QWEN2)) {
			count[t] = 0;
			continue;
		}
		total += count[t];
		for (l = 0; l < (int)copies; l++) {
			const struct gguf_tensor *gt;

			gm_name(name, sizeof(name), t, l);
			gt = gguf_find_tensor(g, name);
			if (!gt) {
				ret = llm_set_error(-EINVAL, "GGUF model: no tensor %s", name);
				goto fail;
			}
			if (gt->dims[0] != cols || gt->dims[1] != rows || gt->dims[2] != 1 ||
			    gt->dims[3] != 1) {
				ret = llm_set_error(-EINVAL,
						    "GGUF model: tensor %s is %" PRIu64 " x %" PRIu64 " x %" PRIu64 " x %" PRIu64
						    ", expected %" PRIu64 " x %" PRIu64
						    " (dim %d, hidden %d, kv_dim %d, vocab %d)",
						    name, gt->dims[0], gt->dims[1], gt->dims[2], gt->dims[3],
						    cols, rows, c.dim, c.hidden_dim, c.kv_dim, c.vocab_size);
				goto fail;
			}
			if (!gguf_type_supported(gt->type)) {
				ret = llm_set_error(-EINVAL,
						    "GGUF model: tensor %s has type %s (%u), which is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)",
						    name, gguf_type_name(gt->type), gt->type);
				goto fail;
			}
		}
	}
	if (c.arch == LLM_ARCH_QWEN2) {
		ret = gm_neox_tensors(g, &c, &reordered);
		if (ret)
			goto fail;
	}
	if (flags & LLM_CHECKPOINT_GGUF_TENSORS) {
		/* checked; the caller reads the tensors from the file */
		ckpt = calloc(1, sizeof(*ckpt));
		if (!ckpt) {
			ret = llm_set_error(-ENOMEM, "GGUF model: out of memory");
			goto fail;
		}
		ckpt->config = c;
		ret = gm_rope_freqs(g, ckpt);
		if (ret)
			goto fail;
		ckpt->data = g->base;
		ckpt->size = g->size;
		ckpt->mapped = true;
		ckpt->gguf = g;
		ckpt->reordered = reordered;
		*ckpt_out = ckpt;
		return 0;
	}
	if (__builtin_mul_overflow(total, (uint64_t)sizeof(float), &bytes) || bytes > SIZE_MAX) {
		ret = llm_set_error(-EINVAL, "GGUF model: %" PRIu64 " weights do not fit in memory",
				    total);
		goto fail;
	}
	base = malloc(bytes ? (size_t)bytes : 1);
	ckpt = calloc(1, sizeof(*ckpt));
	if (!base || !ckpt) {
		ret = llm_set_error(-ENOMEM, "GGUF model: out of memory for %" PRIu64
				    " MiB of f32 weights", bytes >> 20);
		goto fail;
	}
	{
		float *p = base;

		for (t = 0; t < GM_COUNT; t++) {
			dst[t] = p;
			p += count[t];
		}
	}
	for (t = 0; t < GM_COUNT; t++) {
		uint64_t rows, cols, copies = gm_per_layer(t) ? (uint64_t)c.n_layers : 1;

		if (!count[t])
			continue;
		gm_shape(&c, t, &rows, &cols);
		for (l = 0; l < (int)copies; l++) {
			const struct gguf_tensor *gt = gguf_find_tensor(g, gm_name(name, sizeof(name),
										   t, l));

			ret = gguf_dequantize(gt->type, gt->data, dst[t] + (uint64_t)l * rows * cols,
					      rows * cols);
			if (ret)
				goto fail;
		}
	}
	ckpt->config = c;
	ckpt->weights.token_embedding = dst[GM_EMBD];
	ckpt->weights.rms_att = dst[GM_ATTN_NORM];
	ckpt->weights.wq = dst[GM_Q];
	ckpt->weights.wk = dst[GM_K];
	ckpt->weights.wv = dst[GM_V];
	ckpt->weights.wo = dst[GM_O];
	ckpt->weights.rms_ffn = dst[GM_FFN_NORM];
	ckpt->weights.w1 = dst[GM_GATE];
	ckpt->weights.w2 = dst[GM_DOWN];
	ckpt->weights.w3 = dst[GM_UP];
	ckpt->weights.rms_final = dst[GM_OUT_NORM];
	ckpt->weights.wcls = c.shared_classifier ? dst[GM_EMBD] : dst[GM_OUT];
	if (c.arch == LLM_ARCH_QWEN2) {
		ckpt->weights.bq = dst[GM_BQ];
		ckpt->weights.bk = dst[GM_BK];
		ckpt->weights.bv = dst[GM_BV];
	}
	ret = gm_rope_freqs(g, ckpt);
	if (ret)
		goto fail;
	ckpt->data = g->base;
	ckpt->size = g->size;
	ckpt->mapped = true;
	ckpt->owned = base;
	ckpt->gguf = g;
	ckpt->reordered = reordered;
	*ckpt_out = ckpt;
	return 0;

fail:
	free(reordered);
	if (ckpt)
		free(ckpt->rope_freqs);
	free(base);
	free(ckpt);
	gguf_close(g);
	return ret ? ret : -EINVAL;
}

int llm_checkpoint_open_gguf(const char *path, struct llm_checkpoint **ckpt_out)
{
	return llm_checkpoint_open_gguf_flags(path, 0, ckpt_out);
}

int llm_checkpoint_open_gguf_flags(const char *path, unsigned int flags,
				   struct llm_checkpoint **ckpt_out)
{
	struct gguf_file *g;
	int ret;

	*ckpt_out = NULL;
	ret = gguf_open(path, &g);
	if (ret)
		return ret;
	ret = llm_checkpoint_from_gguf_flags(g, flags, ckpt_out);
	if (ret) {
		char detail[400];

		snprintf(detail, sizeof(detail), "%s", llm_last_error_message());
		llm_set_error(ret, "%s: %s", path, detail);
	}
	return ret;
}

const float *llm_gguf_tensor_f32(const struct gguf_tensor *t, float **owned)
{
	float *buf;

	*owned = NULL;
	if (t->type == GGML_TYPE_F32 && !((uintptr_t)t->data % sizeof(float)))
		return t->data;
	if (t->elements > SIZE_MAX / sizeof(float) ||
	    !(buf = malloc(t->elements ? (size_t)t->elements * sizeof(float) : 1))) {
		llm_set_error(-ENOMEM, "out of memory converting %.*s",
			      (int)(t->name.len > 64 ? 64 : t->name.len), t->name.ptr);
		return NULL;
	}
	if (gguf_dequantize(t->type, t->data, buf, t->elements)) {
		free(buf);
		return NULL;
	}
	*owned = buf;
	return buf;
}

/* ---- the vocabulary ------------------------------------------------------- */

#define GM_SPACE	"\xe2\x96\x81"	/* U+2581, sentencepiece's space */

/* An optional special id: -1 when absent; -EINVAL for a bad value. */
static int gm_special_id(const struct gguf_file *g, const char *key, int *out)
{
	uint64_t v;
	int ret = gguf_get_u64(g, key, &v);

	*out = -1;
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	if (v > INT32_MAX)
		return llm_set_error(-EINVAL, "GGUF vocabulary: %s is %" PRIu64 ", not a token id",
				     key, v);
	*out = (int)v;
	return 0;
}

/* A string array's entries as pointers and lengths. */
static int gm_strings(const struct gguf_kv *kv, const char *key, const char ***ptrs,
		      size_t **lens)
{
	struct gguf_str *s;
	uint64_t i, n = kv->count;

	*ptrs = NULL;
	*lens = NULL;
	if (kv->type != GGUF_VAL_ARRAY || kv->array_type != GGUF_VAL_STRING)
		return llm_set_error(-EINVAL, "GGUF vocabulary: %s is not an array of strings", key);
	if (n > INT32_MAX)
		return llm_set_error(-EINVAL, "GGUF vocabulary: %s has %" PRIu64 " entries", key, n);
	s = calloc(n ? n : 1, sizeof(*s));
	*ptrs = calloc(n ? n : 1, sizeof(**ptrs));
	*lens = calloc(n ? n : 1, sizeof(**lens));
	if (!s || !*ptrs || !*lens) {
		free(s);
		return llm_set_error(-ENOMEM, "out of memory");
	}
	gguf_kv_array_strings(kv, s, n);
	for (i = 0; i < n; i++) {
		(*ptrs)[i] = s[i].ptr;
		(*lens)[i] = (size_t)s[i].len;
	}
	free(s);
	return 0;
}

int llm_tokenizer_from_gguf(const struct gguf_file *g, int vocab_size,
			    struct llm_tokenizer **tok_out)
{
	const struct gguf_kv *toks = gguf_find_kv(g, "tokenizer.ggml.tokens");
	const struct gguf_kv *scores = gguf_find_kv(g, "tokenizer.ggml.scores");
	const struct gguf_kv *types = gguf_find_kv(g, "tokenizer.ggml.token_type");
	const struct gguf_kv *merges = gguf_find_kv(g, "tokenizer.ggml.merges");
	struct llm_vocab_desc d = { 0 };
	struct gguf_str model, pre, tmpl;
	bool add_bos = true, add_prefix = true;
	float *sc = NULL;
	int32_t *ty = NULL;
	const char **mptrs = NULL, **tptrs = NULL;
	size_t *mlens = NULL, *tlens = NULL;
	uint64_t n, i;
	int ret;

	*tok_out = NULL;
	if (!toks)
		return 0;
	ret = gguf_get_str(g, "tokenizer.ggml.model", &model);
	if (ret && ret != -ENOENT)
		return ret;
	if (ret == -ENOENT || (!gguf_str_eq(model, "llama") && !gguf_str_eq(model, "gpt2")))
		return llm_set_error(-EINVAL, "GGUF vocabulary: tokenizer model '%.*s' is not supported (llama or gpt2)",
				     ret ? 4 : (int)(model.len > 32 ? 32 : model.len),
				     ret ? "none" : model.ptr);
	d.kind = gguf_str_eq(model, "gpt2") ? LLM_TOKENIZER_BPE : LLM_TOKENIZER_SPM;
	if (d.kind == LLM_TOKENIZER_BPE) {
		/* The word-splitting rules: only those written out in tokenizer.c. */
		ret = gguf_get_str(g, "tokenizer.ggml.pre", &pre);
		if (ret && ret != -ENOENT)
			return ret;
		if (!ret && (gguf_str_eq(pre, "llama-bpe") || gguf_str_eq(pre, "llama3")))
			d.pre = LLM_PRE_LLAMA3;
		else if (!ret && gguf_str_eq(pre, "qwen2"))
			d.pre = LLM_PRE_QWEN2;
		else
			return llm_set_error(-EINVAL, "GGUF vocabulary: BPE pre-tokenizer '%.*s' is not supported (llama-bpe or qwen2)",
					     ret ? 4 : (int)(pre.len > 32 ? 32 : pre.len),
					     ret ? "none" : pre.ptr);
		if (!merges)
			return llm_set_error(-EINVAL, "GGUF vocabulary: a gpt2 (BPE) vocabulary needs tokenizer.ggml.merges");
	}
	n = toks->count;
	if (toks->type == GGUF_VAL_ARRAY && n != (uint64_t)vocab_size)
		return llm_set_error(-EINVAL, "GGUF vocabulary: %" PRIu64 " tokens, the model has %d",
				     n, vocab_size);
	if (scores && (scores->type != GGUF_VAL_ARRAY || scores->array_type != GGUF_VAL_FLOAT32 ||
		       scores->count != n))
		return llm_set_error(-EINVAL,
				     "GGUF vocabulary: tokenizer.ggml.scores is not %" PRIu64 " float32", n);
	if (types && (types->type != GGUF_VAL_ARRAY || types->array_type != GGUF_VAL_INT32 ||
		      types->count != n))
		return llm_set_error(-EINVAL,
				     "GGUF vocabulary: tokenizer.ggml.token_type is not %" PRIu64 " int32", n);
	ret = gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos);
	if (ret && ret != -ENOENT)
		return ret;
	d.no_bos = !ret && !add_bos;
	ret = gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &add_prefix);
	if (ret && ret != -ENOENT)
		return ret;
	d.no_prefix = !ret && !add_prefix;
	/* Kept with the vocabulary: its markers are this vocabulary's special tokens. */
	ret = gguf_get_str(g, "tokenizer.chat_template", &tmpl);
	if (ret && ret != -ENOENT)
		return ret;
	if (!ret) {
		d.chat_template = tmpl.ptr;
		d.chat_template_len = (size_t)tmpl.len;
	}
	ret = gm_special_id(g, "tokenizer.ggml.bos_token_id", &d.bos) ||
	      gm_special_id(g, "tokenizer.ggml.eos_token_id", &d.eos) ||
	      gm_special_id(g, "tokenizer.ggml.eot_token_id", &d.eot) ? -EINVAL : 0;
	if (ret)
		return ret;
	ret = gm_strings(toks, "tokenizer.ggml.tokens", &tptrs, &tlens);
	d.tokens = tptrs;
	d.token_lens = tlens;
	if (!ret && merges && d.kind == LLM_TOKENIZER_BPE)
		ret = gm_strings(merges, "tokenizer.ggml.merges", &mptrs, &mlens);
	if (ret)
		goto out;
	d.n_tokens = (int)n;
	d.merges = mptrs;
	d.merge_lens = mlens;
	d.n_merges = merges && mptrs ? (int)merges->count : 0;
	sc = scores ? malloc((n ? n : 1) * sizeof(*sc)) : NULL;
	ty = types ? malloc((n ? n : 1) * sizeof(*ty)) : NULL;
	if ((scores && !sc) || (types && !ty)) {
		ret = llm_set_error(-ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (sc)
			sc[i] = gguf_kv_array_f32(scores, i);
		if (ty)
			ty[i] = gguf_kv_array_i32(types, i);
	}
	d.scores = sc;
	d.types = ty;
	/*
	 * Files that name no EOT (older converters' Llama 3, ChatML models whose
	 * EOS is another token) still end a chat turn with their template's
	 * token: the first control token with one of these names, as llama.cpp does.
	 */
	for (i = 0; i < n && d.eot < 0; i++) {
		static const char *const eot_names[] = { "<|eot_id|>", "<|im_end|>", "<|end|>",
							 "<end_of_turn>" };
		size_t k;

		for (k = 0; k < sizeof(eot_names) / sizeof(eot_names[0]); k++)
			if (d.token_lens[i] == strlen(eot_names[k]) &&
			    !memcmp(d.tokens[i], eot_names[k], d.token_lens[i]) &&
			    (!ty || ty[i] == LLM_TOKEN_TYPE_CONTROL))
				d.eot = (int)i;
	}
	ret = llm_tokenizer_create(&d, tok_out);
	if (ret) {
		char detail[300];

		snprintf(detail, sizeof(detail), "%s", llm_last_error_message());
		llm_set_error(ret, "GGUF vocabulary: %s", detail);
	}
out:
	free(tptrs);
	free(tlens);
	free(mptrs);
	free(mlens);
	free(sc);
	free(ty);
	return ret;
}

/* ---- writing -------------------------------------------------------------- */

/* llama.cpp's token types */
enum { GM_TOK_NORMAL = 1, GM_TOK_UNKNOWN = 2, GM_TOK_CONTROL = 3, GM_TOK_BYTE = 6 };

static int gm_write_vocab(struct gguf_writer *w, const struct llm_tokenizer *tok)
{
	int n = llm_tokenizer_vocab_size(tok), i, ret = -ENOMEM;
	char **strs = calloc((size_t)n, sizeof(*strs));
	uint64_t *lens = calloc((size_t)n, sizeof(*lens));
	float *scores = calloc((size_t)n, sizeof(*scores));
	int32_t *types = calloc((size_t)n, sizeof(*types));

	if (!strs || !lens || !scores || !types)
		goto out;
	for (i = 0; i < n; i++) {
		const char *t = llm_tokenizer_token(tok, i);
		size_t len = strlen(t), j, o = 0;
		unsigned int byte;
		char *d;

		/* As llama.cpp's llama2.c converter names and types them. */
		if (i == 0 || i == 1 || i == 2) {
			t = i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>";
			len = strlen(t);
			types[i] = i == 0 ? GM_TOK_UNKNOWN : GM_TOK_CONTROL;
		} else if (len == 0) {
			types[i] = GM_TOK_CONTROL;
		} else if (len == 6 && sscanf(t, "<0x%02X>", &byte) == 1) {
			types[i] = GM_TOK_BYTE;
		} else {
			types[i] = GM_TOK_NORMAL;
		}
		d = malloc(3 * len + 1);
		if (!d)
			goto out;
		for (j = 0; j < len; j++) {
			if (t[j] == ' ') {
				memcpy(d + o, GM_SPACE, 3);
				o += 3;
			} else {
				d[o++] = t[j];
			}
		}
		strs[i] = d;
		lens[i] = o;
		scores[i] = llm_tokenizer_score(tok, i);
	}
	ret = gguf_writer_str(w, "tokenizer.ggml.model", "llama") ||
	      gguf_writer_str_array(w, "tokenizer.ggml.tokens", (const char *const *)strs, lens,
				    (uint64_t)n) ||
	      gguf_writer_array(w, "tokenizer.ggml.scores", GGUF_VAL_FLOAT32, scores, (uint64_t)n) ||
	      gguf_writer_array(w, "tokenizer.ggml.token_type", GGUF_VAL_INT32, types, (uint64_t)n) ||
	      gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", LLM_TOKEN_BOS) ||
	      gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", LLM_TOKEN_EOS) ||
	      gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", 0) ? -ENOMEM : 0;
	if (!ret && llm_tokenizer_chat_template(tok))
		ret = gguf_writer_str(w, "tokenizer.chat_template", llm_tokenizer_chat_template(tok));
out:
	for (i = 0; strs && i < n; i++)
		free(strs[i]);
	free(strs);
	free(lens);
	free(scores);
	free(types);
	return ret ? llm_set_error(ret, "out of memory writing the vocabulary") : 0;
}

/*
 * A byte-level BPE vocabulary as llama.cpp's converter writes one: the
 * tokens as stored, their types, the merges in rank order ("LEFT RIGHT"),
 * the pre-tokenizer and the special ids.
 */
static int gm_write_bpe_vocab(struct gguf_writer *w, const struct llm_tokenizer *tok)
{
	int n = llm_tokenizer_vocab_size(tok), n_merges = llm_tokenizer_n_merges(tok), i, k = 0;
	const char **strs = calloc((size_t)n, sizeof(*strs));
	uint64_t *lens = calloc((size_t)n, sizeof(*lens));
	int32_t *types = calloc((size_t)n, sizeof(*types));
	char **merges = calloc((size_t)n_merges + 1, sizeof(*merges));
	uint64_t *mlens = calloc((size_t)n_merges + 1, sizeof(*mlens));
	int ret = -ENOMEM;

	if (!strs || !lens || !types || !merges || !mlens)
		goto out;
	for (i = 0; i < n; i++) {
		strs[i] = llm_tokenizer_token(tok, i);
		lens[i] = strlen(strs[i]);
		types[i] = llm_tokenizer_token_type(tok, i);
	}
	for (i = 0; i < n_merges; i++) {
		int left, right;
		size_t ll, lr;

		/* A repeated pair never applies: leaving it out keeps the ranks' order. */
		if (!llm_tokenizer_merge(tok, i, &left, &right))
			continue;
		ll = strlen(llm_tokenizer_token(tok, left));
		lr = strlen(llm_tokenizer_token(tok, right));
		merges[k] = malloc(ll + lr + 2);
		if (!merges[k])
			goto out;
		memcpy(merges[k], llm_tokenizer_token(tok, left), ll);
		merges[k][ll] = ' ';
		memcpy(merges[k] + ll + 1, llm_tokenizer_token(tok, right), lr + 1);
		mlens[k++] = ll + lr + 1;
	}
	ret = gguf_writer_str(w, "tokenizer.ggml.model", "gpt2") ||
	      gguf_writer_str(w, "tokenizer.ggml.pre",
			      llm_tokenizer_pre(tok) == LLM_PRE_QWEN2 ? "qwen2" : "llama-bpe") ||
	      gguf_writer_str_array(w, "tokenizer.ggml.tokens", strs, lens, (uint64_t)n) ||
	      gguf_writer_array(w, "tokenizer.ggml.token_type", GGUF_VAL_INT32, types, (uint64_t)n) ||
	      gguf_writer_str_array(w, "tokenizer.ggml.merges", (const char *const *)merges, mlens,
				    (uint64_t)k) ? -ENOMEM : 0;
	if (!ret && llm_tokenizer_bos(tok) >= 0)
		ret = gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)llm_tokenizer_bos(tok));
	if (!ret && llm_tokenizer_eos(tok) >= 0)
		ret = gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)llm_tokenizer_eos(tok));
	if (!ret && llm_tokenizer_eot(tok) >= 0)
		ret = gguf_writer_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)llm_tokenizer_eot(tok));
	if (!ret && !llm_tokenizer_adds_bos(tok))
		ret = gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", false);
	if (!ret && llm_tokenizer_chat_template(tok))
		ret = gguf_writer_str(w, "tokenizer.chat_template", llm_tokenizer_chat_template(tok));
out:
	for (i = 0; merges && i < k; i++)
		free(merges[i]);
	free(merges);
	free(mlens);
	free(strs);
	free(lens);
	free(types);
	return ret ? llm_set_error(ret, "out of memory writing the vocabulary") : 0;
}

/* The type a tensor is written as. */
static uint32_t gm_type(enum gm_tensor t, uint64_t cols, uint32_t want)
{
	if (t == GM_ATTN_NORM || t == GM_FFN_NORM || t == GM_OUT_NORM || gm_is_bias(t))
		return GGML_TYPE_F32;
	if ((want == GGML_TYPE_Q8_0 || want == GGML_TYPE_Q4_0) && cols % GGML_QK8_0)
		return GGML_TYPE_F16;	/* llama.cpp's fallback (Q8_0 and Q4_0 blocks are 32) */
	return want;
}

/* llama.cpp's general.file_type of an all-@type model */
static uint32_t gm_file_type(uint32_t type)
{
	return type == GGML_TYPE_F32 ? 0 : type == GGML_TYPE_F16 ? 1 :
	       type == GGML_TYPE_Q4_0 ? 2 : 7;
}

static const float *gm_src(const struct llm_checkpoint *ckpt, enum gm_tensor t)
{
	const struct llm_weights *w = &ckpt->weights;

	switch (t) {
	case GM_EMBD: return w->token_embedding;
	case GM_ATTN_NORM: return w->rms_att;
	case GM_Q: return w->wq;
	case GM_K: return w->wk;
	case GM_V: return w->wv;
	case GM_O: return w->wo;
	case GM_FFN_NORM: return w->rms_ffn;
	case GM_GATE: return w->w1;
	case GM_DOWN: return w->w2;
	case GM_UP: return w->w3;
	case GM_OUT_NORM: return w->rms_final;
	case GM_BQ: return w->bq;
	case GM_BK: return w->bk;
	case GM_BV: return w->bv;
	default: return w->wcls;
	}
}

/* Tensor order of llama.cpp's converters: embedding, blocks, output. */
static const enum gm_tensor gm_layer_order[] = {
	GM_ATTN_NORM, GM_Q, GM_K, GM_V, GM_O, GM_FFN_NORM, GM_GATE, GM_DOWN, GM_UP,
};

int llm_gguf_write_model(const char *path, const struct llm_checkpoint *ckpt,
			 const struct llm_gguf_write_opts *opts)
{
	static const enum gm_tensor qwen2_biases[] = { GM_BQ, GM_BK, GM_BV };
	const struct llm_config *c = &ckpt->config;
	const char *arch = gm_archs[c->arch == LLM_ARCH_QWEN2 ? LLM_ARCH_QWEN2 : LLM_ARCH_LLAMA];
	struct gguf_writer *w;
	struct {
		enum gm_tensor t;
		int layer;
	} *order = NULL;
	char key[96];
	size_t n_order = 0, k, max_bytes = 0;
	void *buf = NULL;
	float *neox = NULL;	/* a Q or K tensor in its file order */
	uint32_t type = opts->type;
	char name[64];
	FILE *f = NULL;
	int l, ret;

	if (type != GGML_TYPE_F32 && type != GGML_TYPE_F16 && type != GGML_TYPE_Q8_0 &&
	    type != GGML_TYPE_Q4_0)
		return llm_set_error(-EINVAL, "GGUF writer: type %s is not F32, F16, Q8_0 or Q4_0",
				     gguf_type_name(type) ? gguf_type_name(type) : "unknown");
	if (c->arch == LLM_ARCH_QWEN2 && !ckpt->weights.bq)
		return llm_set_error(-EINVAL, "GGUF writer: a qwen2 model without its biases");
	/* a file's own per-frequency factors have no scaling key to say them */
	if (ckpt->rope_freqs && c->rope_scaling == LLM_ROPE_SCALING_NONE && !opts->rope_factors)
		return llm_set_error(-EINVAL,
				     "GGUF writer: RoPE frequency factors (rope_freqs.weight) are not written");
	w = gguf_writer_create(opts->alignment ? opts->alignment : GGUF_DEFAULT_ALIGNMENT);
	if (!w)
		return -EINVAL;
	order = calloc(2 + (size_t)c->n_layers * 12 + 1, sizeof(*order));
	if (!order) {
		ret = llm_set_error(-ENOMEM, "out of memory");
		goto out;
	}
	order[n_order].t = GM_EMBD;
	order[n_order++].layer = -1;
	for (l = 0; l < c->n_layers; l++) {
		for (k = 0; k < sizeof(gm_layer_order) / sizeof(gm_layer_order[0]); k++) {
			order[n_order].t = gm_layer_order[k];
			order[n_order++].layer = l;
			/* qwen2's biases after V, as llama.cpp's converter orders them */
			for (size_t b = 0; gm_layer_order[k] == GM_V && c->arch == LLM_ARCH_QWEN2 &&
			     b < 3; b++) {
				order[n_order].t = qwen2_biases[b];
				order[n_order++].layer = l;
			}
		}
	}
	order[n_order].t = GM_OUT_NORM;
	order[n_order++].layer = -1;
	if (!c->shared_classifier) {
		order[n_order].t = GM_OUT;
		order[n_order++].layer = -1;
	}

#define GM_KEY(name) gm_key(key, sizeof(key), c, name)
	ret = gguf_writer_str(w, "general.architecture", arch) ||
	      gguf_writer_str(w, "general.name", opts->name ? opts->name : "jalapeno") ||
	      gguf_writer_u32(w, "general.file_type", gm_file_type(type)) ||
	      gguf_writer_u32(w, "general.quantization_version", 2) ||
	      gguf_writer_u32(w, GM_KEY("vocab_size"), (uint32_t)c->vocab_size) ||
	      gguf_writer_u32(w, GM_KEY("context_length"), (uint32_t)c->seq_len) ||
	      gguf_writer_u32(w, GM_KEY("embedding_length"), (uint32_t)c->dim) ||
	      gguf_writer_u32(w, GM_KEY("block_count"), (uint32_t)c->n_layers) ||
	      gguf_writer_u32(w, GM_KEY("feed_forward_length"), (uint32_t)c->hidden_dim) ||
	      gguf_writer_u32(w, GM_KEY("rope.dimension_count"), (uint32_t)c->head_size) ||
	      gguf_writer_u32(w, GM_KEY("attention.head_count"), (uint32_t)c->n_heads) ||
	      gguf_writer_u32(w, GM_KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads) ||
	      gguf_writer_f32(w, GM_KEY("rope.freq_base"),
			      c->rope_theta ? c->rope_theta : LLM_ROPE_THETA_DEFAULT) ||
	      gguf_writer_f32(w, GM_KEY("attention.layer_norm_rms_epsilon"),
			      c->rms_eps ? c->rms_eps : LLM_RMS_EPS_DEFAULT) ? -ENOMEM : 0;
	if (!ret && c->rope_scaling != LLM_ROPE_SCALING_NONE)
		ret = gguf_writer_str(w, GM_KEY("rope.scaling.type"),
				      c->rope_scaling == LLM_ROPE_SCALING_LLAMA3 ? "llama3" : "linear") ||
		      gguf_writer_f32(w, GM_KEY("rope.scaling.factor"), c->rope_factor) ? -ENOMEM : 0;
	if (!ret && c->rope_scaling == LLM_ROPE_SCALING_LLAMA3)
		ret = gguf_writer_f32(w, GM_KEY("rope.scaling.low_freq_factor"),
				      c->rope_low_freq_factor) ||
		      gguf_writer_f32(w, GM_KEY("rope.scaling.high_freq_factor"),
				      c->rope_high_freq_factor) ||
		      gguf_writer_u32(w, GM_KEY("rope.scaling.original_context_length"),
				      (uint32_t)c->rope_orig_ctx) ? -ENOMEM : 0;
#undef GM_KEY
	if (!ret && opts->tokenizer && llm_tokenizer_kind(opts->tokenizer) == LLM_TOKENIZER_BPE)
		ret = gm_write_bpe_vocab(w, opts->tokenizer);
	else if (!ret && opts->tokenizer)
		ret = gm_write_vocab(w, opts->tokenizer);
	for (k = 0; k < n_order && !ret; k++) {
		uint64_t rows, cols, dims[2];
		uint32_t tt;

		gm_shape(c, order[k].t, &rows, &cols);
		tt = gm_type(order[k].t, cols, type);
		dims[0] = cols;
		dims[1] = rows;
		ret = gguf_writer_tensor(w, gm_name(name, sizeof(name), order[k].t, order[k].layer), tt,
					 rows > 1 ? 2 : 1, dims);
		if (gguf_tensor_bytes(tt, rows * cols) > max_bytes)
			max_bytes = gguf_tensor_bytes(tt, rows * cols);
	}
	if (!ret && opts->rope_factors) {
		uint64_t dims[1] = { (uint64_t)c->head_size / 2 };

		ret = gguf_writer_tensor(w, "rope_freqs.weight", GGML_TYPE_F32, 1, dims);
	}
	if (ret)
		goto out;
	buf = malloc(max_bytes ? max_bytes : 1);
	if (!buf) {
		ret = llm_set_error(-ENOMEM, "out of memory");
		goto out;
	}
	f = fopen(path, "wb");
	if (!f) {
		ret = -errno;
		llm_set_error(ret, "cannot create %s: %s", path, strerror(-ret));
		goto out;
	}
	ret = gguf_writer_begin(w, f);
	for (k = 0; k < n_order && !ret; k++) {
		uint64_t rows, cols, n, i;
		const float *src;
		uint32_t tt;

		gm_shape(c, order[k].t, &rows, &cols);
		n = rows * cols;
		tt = gm_type(order[k].t, cols, type);
		src = gm_src(ckpt, order[k].t) + (order[k].layer > 0 ? (uint64_t)order[k].layer * n : 0);
		if (gm_neox(c, order[k].t)) {
			/* qwen2's Q and K in Hugging Face's order, as its files have them */
			if (!neox)
				neox = malloc((size_t)((uint64_t)c->dim * c->dim * sizeof(float)));
			if (!neox) {
				ret = llm_set_error(-ENOMEM, "out of memory");
				break;
			}
			memcpy(neox, src, n * sizeof(float));
			ret = gm_neox_in_place(c, order[k].t, neox, n, cols, true);
			if (ret)
				break;
			src = neox;
		}
		if (tt == GGML_TYPE_F32) {
			memcpy(buf, src, n * 4);
		} else if (tt == GGML_TYPE_F16) {
			uint16_t *h = buf;

			for (i = 0; i < n; i++)
				h[i] = gguf_f32_to_f16(src[i]);
		} else if (tt == GGML_TYPE_Q4_0) {
			gguf_quantize_q4_0(buf, src, n);
		} else {
			gguf_quantize_q8_0(buf, src, n);
		}
		ret = gguf_writer_data(w, f, buf, gguf_tensor_bytes(tt, n));
	}
	if (!ret && opts->rope_factors)
		ret = gguf_writer_data(w, f, opts->rope_factors, (uint64_t)c->head_size / 2 * 4);
	if (fclose(f) && !ret)
		ret = llm_set_error(-EIO, "cannot write %s", path);
	if (ret)
		unlink(path);
out:
	free(neox);
	free(buf);
	free(order);
	gguf_writer_destroy(w);
	return ret;
}
