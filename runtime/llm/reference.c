// SPDX-License-Identifier: MIT
/*
 * CPU reference of llama2.c inference: run.c's forward pass, sampler and
 * generation loop (see reference.h for the one numeric difference).
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

#include "reference.h"

struct llm_ref {
	struct llm_config config;
	enum llm_ref_order order;
	struct llm_weights w;
	/* Activations of the current position. */
	float *x;		/* residual stream (dim) */
	float *xb;		/* normed input / attention output (dim) */
	float *xb2;		/* attention projection (dim) */
	float *hb;		/* FFN gate (hidden_dim) */
	float *hb2;		/* FFN up (hidden_dim) */
	float *q;		/* query (dim) */
	float *att;		/* attention weights (n_heads x seq_len) */
	float *logits;		/* (vocab_size) */
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
	return ((tail[0] + tail[1]) + (tail[2] + tail[3])) +
	       ((tail[4] + tail[5]) + (tail[6] + tail[7]));
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
	return ((tail[0] + tail[1]) + (tail[2] + tail[3])) +
	       ((tail[4] + tail[5]) + (tail[6] + tail[7]));
}
#endif

static inline float llm_ref_dot(const struct llm_ref *ref, const float *restrict a,
				const float *restrict b, size_t n)
{
	return ref->order == LLM_REF_ORDER_CHIP ? llm_chip_dot(a, b, n) : llm_dot(a, b, n);
}

/* out (d) = W (d rows of n) @ x (n): run.c's matmul(out, x, W, n, d). */
static void llm_matvec(const struct llm_ref *ref, float *restrict out, const float *restrict w,
		       const float *restrict x, size_t n, size_t d)
{
	size_t i;

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
	ss += 1e-5f;
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

void llm_ref_destroy(struct llm_ref *ref)
{
	if (!ref)
		return;
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

	for (i = 0; i < head_size; i += 2) {
		float freq = 1.0f / powf(10000.0f, i / (float)head_size);
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

	memcpy(x, w->token_embedding + (size_t)token * dim, dim * sizeof(*x));
	llm_rope_angles(ref, pos);

	for (l = 0; l < (size_t)c->n_layers; l++) {
		size_t layer_off = l * seq_len * kv_dim;
		/* K and V of this position go straight into the cache. */
		float *k = ref->key_cache + layer_off + (size_t)pos * kv_dim;
		float *v = ref->value_cache + layer_off + (size_t)pos * kv_dim;

		llm_rmsnorm(ref, ref->xb, x, w->rms_att + l * dim, c->dim);
		llm_matvec(ref, ref->q, w->wq + l * dim * dim, ref->xb, dim, dim);
		llm_matvec(ref, k, w->wk + l * kv_dim * dim, ref->xb, dim, kv_dim);
		llm_matvec(ref, v, w->wv + l * kv_dim * dim, ref->xb, dim, kv_dim);
		llm_rope_apply(ref, ref->q, c->n_heads);
		llm_rope_apply(ref, k, c->n_kv_heads);

		llm_attention(ref, layer_off, pos);
		llm_matvec(ref, ref->xb2, w->wo + l * dim * dim, ref->xb, dim, dim);
		for (i = 0; i < dim; i++)
			x[i] += ref->xb2[i];

		/* SwiGLU: w2(silu(w1 x) * w3 x) */
		llm_rmsnorm(ref, ref->xb, x, w->rms_ffn + l * dim, c->dim);
		llm_matvec(ref, ref->hb, w->w1 + l * hidden * dim, ref->xb, dim, hidden);
		llm_matvec(ref, ref->hb2, w->w3 + l * hidden * dim, ref->xb, dim, hidden);
		for (i = 0; i < hidden; i++) {
			float val = ref->hb[i];

			val *= 1.0f / (1.0f + expf(-val));
			val *= ref->hb2[i];
			ref->hb[i] = val;
		}
		llm_matvec(ref, ref->xb, w->w2 + l * dim * hidden, ref->hb, hidden, dim);
		for (i = 0; i < dim; i++)
			x[i] += ref->xb[i];
	}

	llm_rmsnorm(ref, x, x, w->rms_final, c->dim);
	llm_matvec(ref, ref->logits, w->wcls, x, dim, (size_t)c->vocab_size);
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
