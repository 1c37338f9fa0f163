// SPDX-License-Identifier: MIT
/*
 * CPU reference of llama2.c inference: run.c's forward pass, sampler and
 * generation loop (see reference.h for the one numeric difference), and
 * runq.c's int8 matrix-vector products for libjalrt's int8 precision.
 *
 * The hot loops vectorize at -O2 without -ffast-math: the dot products
 * keep LLM_REF_DOT_LANES independent partial sums (so SIMD changes
 * nothing), and the other loops are element-wise. No threads: this is a
 * single-core baseline.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf-model.h"
#include "gguf.h"
#include "quant.h"
#include "reference.h"

/* The weight matrices of a forward pass, in the order it uses them. */
enum llm_ref_mat {
	LLM_MAT_WQ,
	LLM_MAT_WK,
	LLM_MAT_WV,
	LLM_MAT_WO,
	LLM_MAT_W1,
	LLM_MAT_W2,
	LLM_MAT_W3,
	LLM_MAT_WCLS,
	LLM_NUM_MATS
};

/*
 * One kind of weight matrix: @count copies (one per layer) of @rows x
 * @cols, one after the other as in the checkpoint. A product takes f32
 * input and @f (the checkpoint's values or, at int8, the quantised ones
 * decoded as the chip decodes them), or, with @quantize_x, quantised
 * input and @q with one scale per @group values of a row in @scales.
 */
struct llm_ref_matrix {
	const float *f;
	int8_t *q;
	float *scales;
	float *decoded;		/* int8: the storage of @f */
	size_t rows, cols, count;
	uint32_t group;
	bool quantize_x;
};

struct llm_ref {
	struct llm_config config;
	enum llm_ref_order order;
	enum llm_ref_precision precision;
	enum llm_ref_kv kv;
	struct llm_weights w;
	/* int4: the file whose Q4_0 and Q8_0 tensors are taken as they are */
	const struct gguf_file *gguf;
	struct llm_ref_matrix mat[LLM_NUM_MATS];
	const float *embedding;	/* the table token rows are copied from */
	float *embedding_int8;	/* int8: the table quantised and decoded */
	/* int8: the input of a product quantised (max(dim, hidden_dim) each) */
	int8_t *xq;
	float *xs;
	/* Activations of the current position. */
	float *x;		/* residual stream (dim) */
	float *xb;		/* normed input / attention output (dim) */
	float *xb2;		/* attention projection (dim) */
	float *hb;		/* FFN gate (hidden_dim) */
	float *hb2;		/* FFN up (hidden_dim) */
	float *q;		/* query (dim) */
	float *att;		/* attention weights (n_heads x seq_len) */
	float *logits;		/* (vocab_size) */
	/* The model's scaled frequencies (head_size / 2), or NULL: theta's. */
	const float *rope_freqs;
	/* RoPE rotation of the current position (head_size / 2 each). */
	float *rope_cos;
	float *rope_sin;
	/* (n_layers x seq_len x kv_dim) each. */
	float *key_cache;
	float *value_cache;
};

#if LLM_REF_DOT_LANES == 1
/* sum a[i] * b[i] with one running sum: run.c's loop, bit for bit. */
static inline float llm_dot(const float *restrict a, const float *restrict b, size_t n)
{
	float sum = 0.0f;
	size_t i;

	for (i = 0; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}
#else
/*
 * sum a[i] * b[i] in 16 lanes: lane k sums the products k, k + 16,
 * k + 32, ... (in that order), then the lanes are added in lane order,
 * then the tail products. For n <= 16 that is run.c's running sum again
 * (0 + p0 + p1 + ...), bit for bit.
 *
 * The lanes are gcc vector-extension accumulators rather than a float[16]
 * because gcc -O2 leaves such an array in memory; the vectors stay in
 * registers on any target. With AVX two 8-wide accumulators hold the same
 * 16 lanes as four 4-wide ones, so the result does not depend on the ISA.
 * Loads go through memcpy() since rows need not be 16-byte aligned.
 */
#ifdef __AVX__
typedef float llm_vec __attribute__((vector_size(32)));
#else
typedef float llm_vec __attribute__((vector_size(16)));
#endif
#define LLM_VEC_FLOATS	(sizeof(llm_vec) / sizeof(float))

static inline llm_vec llm_load(const float *p)
{
	llm_vec v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline float llm_dot(const float *restrict a, const float *restrict b, size_t n)
{
	float sum = 0.0f;
	size_t i = 0, k;
#ifdef __AVX__
	llm_vec acc0 = { 0 }, acc1 = { 0 };

	for (; i + 16 <= n; i += 16) {
		acc0 += llm_load(a + i) * llm_load(b + i);
		acc1 += llm_load(a + i + 8) * llm_load(b + i + 8);
	}
	for (k = 0; k < LLM_VEC_FLOATS; k++)
		sum += acc0[k];
	for (k = 0; k < LLM_VEC_FLOATS; k++)
		sum += acc1[k];
#else
	llm_vec acc0 = { 0 }, acc1 = { 0 }, acc2 = { 0 }, acc3 = { 0 };

	for (; i + 16 <= n; i += 16) {
		acc0 += llm_load(a + i) * llm_load(b + i);
		acc1 += llm_load(a + i + 4) * llm_load(b + i + 4);
		acc2 += llm_load(a + i + 8) * llm_load(b + i + 8);
		acc3 += llm_load(a + i + 12) * llm_load(b + i + 12);
	}
	for (k = 0; k < LLM_VEC_FLOATS; k++)
		sum += acc0[k];
	for (k = 0; k < LLM_VEC_FLOATS; k++)
		sum += acc1[k];
	for (k = 0; k < LLM_VEC_FLOATS; k++)
		sum += acc2[k];
	for (k = 0; k < LLM_VEC_FLOATS; k++)
		sum += acc3[k];
#endif
	for (; i < n; i++)
		sum += a[i] * b[i];
	return sum;
}
#endif

/* The chip's combination of its 8 partial sums. */
static inline float llm_chip_tree(const float l[8])
{
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/*
 * sum a[i] * b[i] in the chip's order: 8 partial sums, element i to sum
 * i % 8, combined as a tree. Two 4-wide (or one 8-wide) accumulators hold
 * the 8 sums, so the loop vectorizes without changing a bit.
 */
#ifdef __AVX__
typedef float llm_chip_vec __attribute__((vector_size(32)));

static inline float llm_chip_dot(const float *restrict a, const float *restrict b, size_t n)
{
	llm_chip_vec acc = { 0 }, va, vb;
	float tail[8] = { 0 }, ta[8] = { 0 }, tb[8] = { 0 };
	size_t i = 0, k;

	for (; i + 8 <= n; i += 8) {
		memcpy(&va, a + i, sizeof(va));
		memcpy(&vb, b + i, sizeof(vb));
		acc += va * vb;
	}
	/* The tail, zero-padded: adding +0.0 * 0 to a lane changes nothing. */
	memcpy(ta, a + i, (n - i) * sizeof(float));
	memcpy(tb, b + i, (n - i) * sizeof(float));
	for (k = 0; k < 8; k++)
		tail[k] = acc[k] + ta[k] * tb[k];
	return llm_chip_tree(tail);
}
#else
typedef float llm_chip_vec __attribute__((vector_size(16)));

static inline float llm_chip_dot(const float *restrict a, const float *restrict b, size_t n)
{
	llm_chip_vec lo = { 0 }, hi = { 0 }, va, vb;
	float tail[8], ta[8] = { 0 }, tb[8] = { 0 };
	size_t i = 0, k;

	for (; i + 8 <= n; i += 8) {
		memcpy(&va, a + i, sizeof(va));
		memcpy(&vb, b + i, sizeof(vb));
		lo += va * vb;
		memcpy(&va, a + i + 4, sizeof(va));
		memcpy(&vb, b + i + 4, sizeof(vb));
		hi += va * vb;
	}
	memcpy(ta, a + i, (n - i) * sizeof(float));
	memcpy(tb, b + i, (n - i) * sizeof(float));
	for (k = 0; k < 4; k++) {
		tail[k] = lo[k] + ta[k] * tb[k];
		tail[k + 4] = hi[k] + ta[k + 4] * tb[k + 4];
	}
	return llm_chip_tree(tail);
}
#endif

static inline float llm_ref_dot(const struct llm_ref *ref, const float *restrict a,
				const float *restrict b, size_t n)
{
	return ref->order == LLM_REF_ORDER_CHIP ? llm_chip_dot(a, b, n) : llm_dot(a, b, n);
}

void llm_matvec_q8x(float *restrict out, const int8_t *restrict wq,
		    const float *restrict wscales, const float *restrict x, size_t rows,
		    size_t cols, size_t group, enum llm_ref_order order, int8_t *restrict xq,
		    float *restrict xs)
{
	size_t groups = cols / group, i, g, k;

	/* x exactly as the weights were quantised (runq.c's quantize()) */
	llm_quantize_q8(xq, xs, x, groups, group);
	for (i = 0; i < rows; i++) {
		const int8_t *row = wq + i * cols;
		const float *rs = wscales + i * groups;
		float lane[8] = { 0 }, sum = 0.0f;

		for (g = 0; g < groups; g++) {
			const int8_t *a = row + g * group, *b = xq + g * group;
			int32_t ival = 0;
			float t;

			/* exact: at most 65536 products of +-127 * +-127 */
			for (k = 0; k < group; k++)
				ival += a[k] * b[k];
			/* runq.c's ((float)ival * w scale) * x scale, two roundings */
			t = ((float)ival * rs[g]) * xs[g];
			if (order == LLM_REF_ORDER_CHIP)
				lane[g % 8] += t;
			else
				sum += t;
		}
		if (order == LLM_REF_ORDER_CHIP)
			sum = llm_chip_tree(lane);
		out[i] = sum;
	}
}

/*
 * out (d) = W (d rows of n) @ x (n) with the copy of @layer of @m: run.c's
 * matmul(out, x, W, n, d), or runq.c's for int8 with quantised input.
 */
static void llm_matvec(struct llm_ref *ref, float *restrict out, const struct llm_ref_matrix *m,
		       size_t layer, const float *restrict x)
{
	size_t n = m->cols, d = m->rows, i;
	const float *w;

	if (m->quantize_x) {
		llm_matvec_q8x(out, m->q + layer * d * n, m->scales + layer * d * (n / m->group), x,
			       d, n, m->group, ref->order, ref->xq, ref->xs);
		return;
	}
	w = m->f + layer * d * n;
	if (ref->order == LLM_REF_ORDER_CHIP) {
		for (i = 0; i < d; i++)
			out[i] = llm_chip_dot(w + i * n, x, n);
		return;
	}
	for (i = 0; i < d; i++)
		out[i] = llm_dot(w + i * n, x, n);
}

static void llm_rmsnorm(const struct llm_ref *ref, float *out, const float *x,
			const float *weight, int size)
{
	float ss = 0.0f;
	int j;

	/* The chip sums the squares like any dot product. */
	if (ref->order == LLM_REF_ORDER_CHIP) {
		ss = llm_chip_dot(x, x, (size_t)size);
	} else {
		for (j = 0; j < size; j++)
			ss += x[j] * x[j];
	}
	ss /= size;
	ss += ref->config.rms_eps;	/* the model's (1e-5 for llama2.c files) */
	ss = 1.0f / sqrtf(ss);
	for (j = 0; j < size; j++)
		out[j] = weight[j] * (ss * x[j]);
}

void llm_softmax(float *x, int size)
{
	float max_val = x[0], sum = 0.0f;
	int i;

	/* Subtract the max so that expf() cannot overflow. */
	for (i = 1; i < size; i++)
		if (x[i] > max_val)
			max_val = x[i];
	for (i = 0; i < size; i++) {
		x[i] = expf(x[i] - max_val);
		sum += x[i];
	}
	for (i = 0; i < size; i++)
		x[i] /= sum;
}

/* Back to the checkpoint's weights, freeing the int8 ones. */
static void llm_ref_use_f32(struct llm_ref *ref)
{
	const struct llm_config *c = &ref->config;
	const struct llm_weights *w = &ref->w;
	size_t dim = (size_t)c->dim, hid = (size_t)c->hidden_dim, kvd = (size_t)c->kv_dim;
	size_t layers = (size_t)c->n_layers;
	const struct {
		const float *f;
		size_t rows, cols, count;
	} shape[LLM_NUM_MATS] = {
		[LLM_MAT_WQ] = { w->wq, dim, dim, layers },
		[LLM_MAT_WK] = { w->wk, kvd, dim, layers },
		[LLM_MAT_WV] = { w->wv, kvd, dim, layers },
		[LLM_MAT_WO] = { w->wo, dim, dim, layers },
		[LLM_MAT_W1] = { w->w1, hid, dim, layers },
		[LLM_MAT_W2] = { w->w2, dim, hid, layers },
		[LLM_MAT_W3] = { w->w3, hid, dim, layers },
		[LLM_MAT_WCLS] = { w->wcls, (size_t)c->vocab_size, dim, 1 },
	};
	int i;

	for (i = 0; i < LLM_NUM_MATS; i++) {
		struct llm_ref_matrix *m = &ref->mat[i];

		free(m->q);
		free(m->scales);
		free(m->decoded);
		memset(m, 0, sizeof(*m));
		m->f = shape[i].f;
		m->rows = shape[i].rows;
		m->cols = shape[i].cols;
		m->count = shape[i].count;
	}
	free(ref->embedding_int8);
	free(ref->xq);
	free(ref->xs);
	ref->embedding_int8 = NULL;
	ref->xq = NULL;
	ref->xs = NULL;
	ref->embedding = w->token_embedding;
	ref->precision = LLM_REF_PRECISION_F32;
}

/* The chip's decoding of Q8 weights: (float)q * scale, one rounding. */
static void llm_decode_q8(float *dst, const int8_t *q, const float *scales, size_t n,
			  size_t group)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = (float)q[i] * scales[i / group];
}

/*
 * @m quantised (@n values in m->q, their group scales in m->scales): a
 * product that quantises its input keeps them; any other gets the decoded
 * values in m->f instead, as the chip decodes such weights before the dot
 * product.
 */
static int llm_ref_matrix_settle(struct llm_ref_matrix *m, size_t n)
{
	if (m->quantize_x) {
		m->f = NULL;
		return 0;
	}
	m->decoded = malloc((n ? n : 1) * sizeof(float));
	if (!m->decoded)
		return -ENOMEM;
	llm_decode_q8(m->decoded, m->q, m->scales, n, m->group);
	m->f = m->decoded;
	free(m->q);
	free(m->scales);
	m->q = NULL;
	m->scales = NULL;
	return 0;
}

/*
 * Quantise @m (f32) as libjalrt's int8 precision does (quant.h: group,
 * quantiser, whether the product quantises its input); keep the int8
 * values for a product with quantised input, else (or with @decode) the
 * decoded values in @m->f.
 */
static int llm_ref_quantize(struct llm_ref_matrix *m, uint32_t q8_group, bool decode)
{
	size_t n = m->rows * m->cols * m->count;

	m->group = llm_int8_group((uint32_t)m->cols, q8_group);
	m->quantize_x = llm_int8_quantizes_x((uint32_t)m->cols, m->group) && !decode;
	m->q = malloc(n ? n : 1);
	m->scales = malloc((n / m->group ? n / m->group : 1) * sizeof(float));
	if (!m->q || !m->scales)
		return -ENOMEM;
	llm_quantize_q8(m->q, m->scales, m->f, n / m->group, m->group);
	return llm_ref_matrix_settle(m, n);
}

/*
 * The end of switching to a quantised precision: @ret is the matrices'
 * quantisation; then the quantised activations' scratch of @xmax values
 * and the decoded table @emb as the embedding. On failure everything goes
 * back to f32.
 */
static int llm_ref_use_quantized(struct llm_ref *ref, struct llm_ref_matrix *emb, int ret,
				 size_t xmax, enum llm_ref_precision precision)
{
	ref->xq = malloc(xmax);
	ref->xs = malloc(xmax * sizeof(float));
	if (ret || !ref->xq || !ref->xs) {
		free(emb->q);
		free(emb->scales);
		llm_ref_use_f32(ref);
		return llm_set_error(-ENOMEM, "out of memory for the %s weights",
				     precision == LLM_REF_PRECISION_INT4 ? "int4" : "int8");
	}
	ref->embedding = ref->embedding_int8;
	ref->precision = precision;
	return 0;
}

static int llm_ref_use_int8(struct llm_ref *ref, uint32_t q8_group)
{
	const struct llm_config *c = &ref->config;
	struct llm_ref_matrix emb = {
		.f = ref->w.token_embedding, .rows = (size_t)c->vocab_size,
		.cols = (size_t)c->dim, .count = 1,
	};
	size_t xmax = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
	int ret, i;

	llm_ref_use_f32(ref);
	/* The table as EMBED reads it: decoded; a shared classifier is quantised alike. */
	ret = llm_ref_quantize(&emb, q8_group, true);
	ref->embedding_int8 = emb.decoded;
	for (i = 0; !ret && i < LLM_NUM_MATS; i++)
		ret = llm_ref_quantize(&ref->mat[i], q8_group, false);
	return llm_ref_use_quantized(ref, &emb, ret, xmax, LLM_REF_PRECISION_INT8);
}

/*
 * int4's values of copy @layer of tensor @what (GGUF name; @n elements in
 * groups of 32): a Q4_0 or Q8_0 tensor of the file exactly (as
 * jalrt_llm_load()'s add_weight()), else @f quantised by the int4 rule.
 */
static void llm_ref_int4_values(const struct llm_ref *ref, const char *what, int layer,
				const float *f, size_t n, int8_t *q, float *scales)
{
	const struct gguf_tensor *gt = NULL;
	char name[64];
	size_t g;

	if (ref->gguf)
		gt = gguf_find_tensor(ref->gguf, llm_gguf_tensor_name(name, sizeof(name), what,
								       layer));
	if (gt && gt->elements == n && gt->type == GGML_TYPE_Q4_0) {
		for (g = 0; g < n / LLM_Q4_GROUP; g++) {
			uint8_t packed[LLM_Q4_GROUP / 2];

			gguf_q4_0_split((const uint8_t *)gt->data + g * GGML_Q4_0_BYTES,
					LLM_Q4_GROUP, packed, scales + g);
			llm_q4_unpack(q + g * LLM_Q4_GROUP, packed, 1);
		}
	} else if (gt && gt->elements == n && gt->type == GGML_TYPE_Q8_0) {
		gguf_q8_0_split(gt->data, n, q, scales);
	} else {
		llm_quantize_q4(q, scales, f, n / LLM_Q4_GROUP);
	}
}

/* int4: @m (@what in the file) in groups of 32, or as int8 if its rows do not allow Q4. */
static int llm_ref_quantize_int4(const struct llm_ref *ref, struct llm_ref_matrix *m,
				 const char *what, uint32_t q8_group, bool decode)
{
	size_t per = m->rows * m->cols, n = per * m->count, l;

	if (!llm_int4_uses_q4((uint32_t)m->cols))
		return llm_ref_quantize(m, q8_group, decode);
	m->group = LLM_Q4_GROUP;
	m->quantize_x = !decode;
	m->q = malloc(n ? n : 1);
	m->scales = malloc((n / LLM_Q4_GROUP ? n / LLM_Q4_GROUP : 1) * sizeof(float));
	if (!m->q || !m->scales)
		return -ENOMEM;
	for (l = 0; l < m->count; l++)
		llm_ref_int4_values(ref, what, m->count > 1 ? (int)l : -1, m->f + l * per, per,
				    m->q + l * per, m->scales + l * (per / LLM_Q4_GROUP));
	return llm_ref_matrix_settle(m, n);
}

static int llm_ref_use_int4(struct llm_ref *ref, uint32_t q8_group)
{
	static const char *const names[LLM_NUM_MATS] = {
		[LLM_MAT_WQ] = "attn_q", [LLM_MAT_WK] = "attn_k", [LLM_MAT_WV] = "attn_v",
		[LLM_MAT_WO] = "attn_output", [LLM_MAT_W1] = "ffn_gate",
		[LLM_MAT_W2] = "ffn_down", [LLM_MAT_W3] = "ffn_up", [LLM_MAT_WCLS] = "output",
	};
	const struct llm_config *c = &ref->config;
	struct llm_ref_matrix emb = {
		.f = ref->w.token_embedding, .rows = (size_t)c->vocab_size,
		.cols = (size_t)c->dim, .count = 1,
	};
	size_t xmax = (size_t)(c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
	int ret, i;

	llm_ref_use_f32(ref);
	/* The table as EMBED reads it: decoded. */
	ret = llm_ref_quantize_int4(ref, &emb, "token_embd", q8_group, true);
	ref->embedding_int8 = emb.decoded;
	for (i = 0; !ret && i < LLM_NUM_MATS; i++)
		ret = llm_ref_quantize_int4(ref, &ref->mat[i],
					    i == LLM_MAT_WCLS && c->shared_classifier ?
					    "token_embd" : names[i], q8_group, false);
	return llm_ref_use_quantized(ref, &emb, ret, xmax, LLM_REF_PRECISION_INT4);
}

void llm_ref_destroy(struct llm_ref *ref)
{
	if (!ref)
		return;
	llm_ref_use_f32(ref);
	free(ref->x);
	free(ref->xb);
	free(ref->xb2);
	free(ref->hb);
	free(ref->hb2);
	free(ref->q);
	free(ref->att);
	free(ref->logits);
	free(ref->rope_cos);
	free(ref->rope_sin);
	free(ref->key_cache);
	free(ref->value_cache);
	free(ref);
}

/* calloc of a product of counts; NULL on overflow too. */
static float *llm_alloc_floats(size_t a, size_t b, size_t c)
{
	size_t ab, n;

	if (llm_mul_overflow(a, b, &ab) || llm_mul_overflow(ab, c, &n))
		return NULL;
	return calloc(n, sizeof(float));
}

int llm_ref_create(const struct llm_checkpoint *ckpt, struct llm_ref **ref_out)
{
	const struct llm_config *c = &ckpt->config;
	struct llm_ref *ref;

	*ref_out = NULL;
	ref = calloc(1, sizeof(*ref));
	if (!ref)
		return llm_set_error(-ENOMEM, "out of memory for the run state");
	ref->config = *c;
	ref->w = ckpt->weights;
	ref->gguf = ckpt->gguf;
	ref->rope_freqs = ckpt->rope_freqs;
	if (c->arch == LLM_ARCH_QWEN2 && (!ref->w.bq || !ref->w.bk || !ref->w.bv)) {
		free(ref);
		return llm_set_error(-EINVAL, "a qwen2 model without its Q, K and V biases");
	}
	ref->x = llm_alloc_floats(1, 1, (size_t)c->dim);
	ref->xb = llm_alloc_floats(1, 1, (size_t)c->dim);
	ref->xb2 = llm_alloc_floats(1, 1, (size_t)c->dim);
	ref->hb = llm_alloc_floats(1, 1, (size_t)c->hidden_dim);
	ref->hb2 = llm_alloc_floats(1, 1, (size_t)c->hidden_dim);
	ref->q = llm_alloc_floats(1, 1, (size_t)c->dim);
	ref->att = llm_alloc_floats(1, (size_t)c->n_heads, (size_t)c->seq_len);
	ref->logits = llm_alloc_floats(1, 1, (size_t)c->vocab_size);
	ref->rope_cos = llm_alloc_floats(1, 1, (size_t)c->head_size / 2);
	ref->rope_sin = llm_alloc_floats(1, 1, (size_t)c->head_size / 2);
	ref->key_cache = llm_alloc_floats((size_t)c->n_layers, (size_t)c->seq_len,
					  (size_t)c->kv_dim);
	ref->value_cache = llm_alloc_floats((size_t)c->n_layers, (size_t)c->seq_len,
					    (size_t)c->kv_dim);
	if (!ref->x || !ref->xb || !ref->xb2 || !ref->hb || !ref->hb2 || !ref->q ||
	    !ref->att || !ref->logits || !ref->rope_cos || !ref->rope_sin ||
	    !ref->key_cache || !ref->value_cache) {
		llm_ref_destroy(ref);
		return llm_set_error(-ENOMEM,
				     "out of memory for the run state (KV cache of %d layers x %d positions x %d)",
				     c->n_layers, c->seq_len, c->kv_dim);
	}
	llm_ref_use_f32(ref);
	*ref_out = ref;
	return 0;
}

int llm_ref_set_order(struct llm_ref *ref, enum llm_ref_order order)
{
	if (order != LLM_REF_ORDER_LANES && order != LLM_REF_ORDER_CHIP)
		return llm_set_error(-EINVAL, "unknown summation order %d", (int)order);
	ref->order = order;
	return 0;
}

int llm_ref_set_precision(struct llm_ref *ref, enum llm_ref_precision precision,
			  uint32_t q8_group)
{
	switch (precision) {
	case LLM_REF_PRECISION_F32:
		llm_ref_use_f32(ref);
		return 0;
	case LLM_REF_PRECISION_INT8:
		return llm_ref_use_int8(ref, q8_group);
	case LLM_REF_PRECISION_INT4:
		return llm_ref_use_int4(ref, q8_group);
	default:
		return llm_set_error(-EINVAL, "unknown precision %d", (int)precision);
	}
}

int llm_ref_set_kv(struct llm_ref *ref, enum llm_ref_kv kv)
{
	if (kv != LLM_REF_KV_F32 && kv != LLM_REF_KV_BF16)
		return llm_set_error(-EINVAL, "unknown KV cache type %d", (int)kv);
	ref->kv = kv;
	return 0;
}

float llm_round_bf16(float x)
{
	uint32_t u;

	memcpy(&u, &x, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u) {
		u = (u | 0x00400000u) & 0xffff0000u;	/* NaN: quiet, same sign */
	} else {
		u += 0x7fffu + ((u >> 16) & 1u);	/* to nearest, ties to even */
		u &= 0xffff0000u;
	}
	memcpy(&x, &u, sizeof(x));
	return x;
}

const struct llm_config *llm_ref_config(const struct llm_ref *ref)
{
	return &ref->config;
}

const float *llm_ref_key_cache(const struct llm_ref *ref)
{
	return ref->key_cache;
}

const float *llm_ref_value_cache(const struct llm_ref *ref)
{
	return ref->value_cache;
}

/*
 * The rotation of each pair (2j, 2j+1) of a head at @pos. run.c computes
 * these same expressions for every pair of every head in every layer;
 * they only depend on j and pos, so once per position gives equal bits.
 */
static void llm_rope_angles(struct llm_ref *ref, int pos)
{
	int head_size = ref->config.head_size, i;
	float theta = ref->config.rope_theta;	/* the model's base (10000: run.c's) */

	for (i = 0; i < head_size; i += 2) {
		/* scaled RoPE: the table the chip's ROPE_FREQS gets too */
		float freq = ref->rope_freqs ? ref->rope_freqs[i / 2] :
			     1.0f / powf(theta, i / (float)head_size);
		float val = pos * freq;

		ref->rope_cos[i / 2] = cosf(val);
		ref->rope_sin[i / 2] = sinf(val);
	}
}

/* Rotate each head of @vec (n_heads * head_size floats) in place. */
static void llm_rope_apply(const struct llm_ref *ref, float *vec, int n_heads)
{
	int head_size = ref->config.head_size, h, i;

	for (h = 0; h < n_heads; h++) {
		float *head = vec + (size_t)h * head_size;

		for (i = 0; i < head_size; i += 2) {
			float fcr = ref->rope_cos[i / 2], fci = ref->rope_sin[i / 2];
			float v0 = head[i], v1 = head[i + 1];

			head[i] = v0 * fcr - v1 * fci;
			head[i + 1] = v0 * fci + v1 * fcr;
		}
	}
}

/* Multi-head attention of one layer over positions 0..pos into xb. */
static void llm_attention(struct llm_ref *ref, size_t layer_off, int pos)
{
	const struct llm_config *c = &ref->config;
	size_t head_size = (size_t)c->head_size, kv_dim = (size_t)c->kv_dim;
	float scale = sqrtf(c->head_size);
	int h, t;

	for (h = 0; h < c->n_heads; h++) {
		const float *q = ref->q + h * head_size;
		size_t kv_off = layer_off + (size_t)(h / c->kv_mul) * head_size;
		float *att = ref->att + (size_t)h * c->seq_len;
		float *xb = ref->xb + h * head_size;
		size_t i;

		for (t = 0; t <= pos; t++) {
			const float *k = ref->key_cache + kv_off + (size_t)t * kv_dim;

			/* run.c divides (not multiplies by the inverse). */
			att[t] = llm_ref_dot(ref, q, k, head_size) / scale;
		}
		llm_softmax(att, pos + 1);

		memset(xb, 0, head_size * sizeof(*xb));
		for (t = 0; t <= pos; t++) {
			const float *v = ref->value_cache + kv_off + (size_t)t * kv_dim;
			float a = att[t];

			for (i = 0; i < head_size; i++)
				xb[i] += a * v[i];
		}
	}
}

int llm_ref_forward(struct llm_ref *ref, int token, int pos, float **logits)
{
	const struct llm_config *c = &ref->config;
	const struct llm_weights *w = &ref->w;
	size_t dim = (size_t)c->dim, hidden = (size_t)c->hidden_dim;
	size_t kv_dim = (size_t)c->kv_dim, seq_len = (size_t)c->seq_len;
	float *x = ref->x;
	size_t l, i;

	if (token < 0 || token >= c->vocab_size)
		return llm_set_error(-EINVAL, "token %d is outside the vocabulary of %d",
				     token, c->vocab_size);
	if (pos < 0 || pos >= c->seq_len)
		return llm_set_error(-EINVAL, "position %d is outside the model's %d positions",
				     pos, c->seq_len);

	memcpy(x, ref->embedding + (size_t)token * dim, dim * sizeof(*x));
	llm_rope_angles(ref, pos);

	for (l = 0; l < (size_t)c->n_layers; l++) {
		size_t layer_off = l * seq_len * kv_dim;
		/* K and V of this position go straight into the cache. */
		float *k = ref->key_cache + layer_off + (size_t)pos * kv_dim;
		float *v = ref->value_cache + layer_off + (size_t)pos * kv_dim;

		llm_rmsnorm(ref, ref->xb, x, w->rms_att + l * dim, c->dim);
		llm_matvec(ref, ref->q, &ref->mat[LLM_MAT_WQ], l, ref->xb);
		llm_matvec(ref, k, &ref->mat[LLM_MAT_WK], l, ref->xb);
		llm_matvec(ref, v, &ref->mat[LLM_MAT_WV], l, ref->xb);
		/* qwen2: the projections' biases, before RoPE */
		for (i = 0; w->bq && i < dim; i++)
			ref->q[i] += w->bq[l * dim + i];
		for (i = 0; w->bk && i < kv_dim; i++) {
			k[i] += w->bk[l * kv_dim + i];
			v[i] += w->bv[l * kv_dim + i];
		}
		llm_rope_apply(ref, ref->q, c->n_heads);
		llm_rope_apply(ref, k, c->n_kv_heads);
		/* A bf16 cache keeps the rounded values; attention reads those. */
		for (i = 0; ref->kv == LLM_REF_KV_BF16 && i < kv_dim; i++) {
			k[i] = llm_round_bf16(k[i]);
			v[i] = llm_round_bf16(v[i]);
		}

		llm_attention(ref, layer_off, pos);
		llm_matvec(ref, ref->xb2, &ref->mat[LLM_MAT_WO], l, ref->xb);
		for (i = 0; i < dim; i++)
			x[i] += ref->xb2[i];

		/* SwiGLU: w2(silu(w1 x) * w3 x) */
		llm_rmsnorm(ref, ref->xb, x, w->rms_ffn + l * dim, c->dim);
		llm_matvec(ref, ref->hb, &ref->mat[LLM_MAT_W1], l, ref->xb);
		llm_matvec(ref, ref->hb2, &ref->mat[LLM_MAT_W3], l, ref->xb);
		for (i = 0; i < hidden; i++) {
			float val = ref->hb[i];

			val *= 1.0f / (1.0f + expf(-val));
			val *= ref->hb2[i];
			ref->hb[i] = val;
		}
		llm_matvec(ref, ref->xb, &ref->mat[LLM_MAT_W2], l, ref->hb);
		for (i = 0; i < dim; i++)
			x[i] += ref->xb[i];
	}

	llm_rmsnorm(ref, x, x, w->rms_final, c->dim);
	llm_matvec(ref, ref->logits, &ref->mat[LLM_MAT_WCLS], 0, x);
	*logits = ref->logits;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Sampler                                                              */
/* ------------------------------------------------------------------ */

uint32_t llm_random_u32(uint64_t *state)
{
	/* xorshift*, https://en.wikipedia.org/wiki/Xorshift#xorshift* */
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * 0x2545f4914f6cdd1dull) >> 32);
}

float llm_random_f32(uint64_t *state)
{
	return (llm_random_u32(state) >> 8) / 16777216.0f;
}

int llm_sample_argmax(const float *probabilities, int n)
{
	float max_p = probabilities[0];
	int max_i = 0, i;

	/* Strictly greater: the first of equal maxima wins. */
	for (i = 1; i < n; i++) {
		if (probabilities[i] > max_p) {
			max_i = i;
			max_p = probabilities[i];
		}
	}
	return max_i;
}

int llm_sample_mult(const float *probabilities, int n, float coin)
{
	float cdf = 0.0f;
	int i;

	for (i = 0; i < n; i++) {
		cdf += probabilities[i];
		if (coin < cdf)
			return i;
	}
	return n - 1;	/* rounding left the cdf short of coin */
}

static int llm_compare_prob_desc(const void *a, const void *b)
{
	const struct llm_prob_index *x = a, *y = b;

	if (x->prob > y->prob)
		return -1;
	if (x->prob < y->prob)
		return 1;
	/* glibc's qsort is a stable merge sort; ties by index match it. */
	return (x->index > y->index) - (x->index < y->index);
}

int llm_sample_topp(const float *probabilities, int n, float topp,
		    struct llm_prob_index *scratch, float coin)
{
	/* Below this, a token cannot be among the most likely summing to topp. */
	const float cutoff = (1.0f - topp) / (n - 1);
	float cumulative = 0.0f, r, cdf = 0.0f;
	int n0 = 0, last, i;

	for (i = 0; i < n; i++) {
		if (probabilities[i] >= cutoff) {
			scratch[n0].index = i;
			scratch[n0].prob = probabilities[i];
			n0++;
		}
	}
	if (n0 == 0)
		return llm_sample_mult(probabilities, n, coin);
	qsort(scratch, (size_t)n0, sizeof(*scratch), llm_compare_prob_desc);

	last = n0 - 1;	/* if rounding keeps the sum <= topp, take all */
	for (i = 0; i < n0; i++) {
		cumulative += scratch[i].prob;
		if (cumulative > topp) {
			last = i;
			break;
		}
	}

	r = coin * cumulative;
	for (i = 0; i <= last; i++) {
		cdf += scratch[i].prob;
		if (r < cdf)
			return scratch[i].index;
	}
	return scratch[last].index;
}

int llm_sampler_init(struct llm_sampler *sampler, int vocab_size, float temperature,
		     float topp, uint64_t seed)
{
	memset(sampler, 0, sizeof(*sampler));
	if (vocab_size <= 0)
		return llm_set_error(-EINVAL, "sampler: vocab_size %d is not positive", vocab_size);
	if (!(temperature >= 0.0f) || isinf(temperature))
		return llm_set_error(-EINVAL, "sampler: temperature %g is not a finite value >= 0",
				     temperature);
	if (!(topp >= 0.0f && topp <= 1.0f))
		return llm_set_error(-EINVAL, "sampler: top-p %g is outside [0, 1]", topp);
	if (seed == 0)
		return llm_set_error(-EINVAL,
				     "sampler: seed 0 would make xorshift return 0 forever");
	sampler->probindex = calloc((size_t)vocab_size, sizeof(*sampler->probindex));
	if (!sampler->probindex)
		return llm_set_error(-ENOMEM, "out of memory for the sampler");
	sampler->vocab_size = vocab_size;
	sampler->temperature = temperature;
	sampler->topp = topp;
	sampler->rng_state = seed;
	return 0;
}

void llm_sampler_fini(struct llm_sampler *sampler)
{
	if (!sampler)
		return;
	free(sampler->probindex);
	sampler->probindex = NULL;
}

int llm_sampler_sample(struct llm_sampler *sampler, float *logits)
{
	int n = sampler->vocab_size, q;
	float coin;

	if (sampler->temperature == 0.0f)
		return llm_sample_argmax(logits, n);
	for (q = 0; q < n; q++)
		logits[q] /= sampler->temperature;
	llm_softmax(logits, n);
	coin = llm_random_f32(&sampler->rng_state);
	if (sampler->topp <= 0.0f || sampler->topp >= 1.0f)
		return llm_sample_mult(logits, n, coin);
	return llm_sample_topp(logits, n, sampler->topp, sampler->probindex, coin);
}

/* ------------------------------------------------------------------ */
/* Generation                                                           */
/* ------------------------------------------------------------------ */

static int llm_ref_forward_op(void *model, int token, int pos, float **logits)
{
	return llm_ref_forward(model, token, pos, logits);
}

void llm_ref_model(struct llm_ref *ref, struct llm_model *model)
{
	model->forward = llm_ref_forward_op;
	model->model = ref;
	model->vocab_size = ref->config.vocab_size;
	model->seq_len = ref->config.seq_len;
}

int llm_generate(const struct llm_model *model, struct llm_sampler *sampler,
		 const int *prompt, int n_prompt, int steps, llm_token_fn on_token,
		 void *opaque, struct llm_generate_stats *stats)
{
	struct llm_generate_stats st = { .prompt_tokens = n_prompt };
	uint64_t start = 0;
	int token, next, pos = 0, ret = 0, i;
	float *logits;

	if (n_prompt < 1)
		return llm_set_error(-EINVAL, "generate: the prompt needs at least one token (BOS)");
	for (i = 0; i < n_prompt; i++)
		if (prompt[i] < 0 || prompt[i] >= model->vocab_size)
			return llm_set_error(-EINVAL,
					     "generate: prompt token %d (#%d) is outside the vocabulary of %d",
					     prompt[i], i, model->vocab_size);
	if (sampler->vocab_size != model->vocab_size)
		return llm_set_error(-EINVAL, "generate: the sampler is for %d tokens, the model has %d",
				     sampler->vocab_size, model->vocab_size);
	if (steps <= 0 || steps > model->seq_len)
		steps = model->seq_len;

	token = prompt[0];
	while (pos < steps) {
		ret = model->forward(model->model, token, pos, &logits);
		if (ret)
			break;
		if (pos < n_prompt - 1) {
			next = prompt[pos + 1];
		} else {
			next = llm_sampler_sample(sampler, logits);
			st.sampled_tokens++;
		}
		pos++;
		/* BOS delimits texts: the model says it is done. */
		if (next == LLM_TOKEN_BOS) {
			st.stopped_at_bos = true;
			break;
		}
		st.emitted_tokens++;
		if (on_token) {
			ret = on_token(opaque, token, next, pos);
			if (ret) {
				/* > 0: the caller has enough; not an error. */
				if (ret > 0)
					ret = 0;
				break;
			}
		}
		token = next;
		/* As run.c: time from the end of the first position. */
		if (!start)
			start = llm_now_ns();
	}
	st.positions = pos;
	if (start) {
		st.elapsed_ns = llm_now_ns() - start;
		if (pos > 1 && st.elapsed_ns)
			st.tokens_per_second = (pos - 1) / (st.elapsed_ns * 1e-9);
	}
	if (stats)
		*stats = st;
	return ret;
}
