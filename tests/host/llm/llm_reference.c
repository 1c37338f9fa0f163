// SPDX-License-Identifier: MIT
/*
 * Host tests of runtime/llm/reference.c: the forward pass against a plain
 * double-precision transcription of the transformer written here, the
 * int8 mode's quantised products (runq.c's matmul, the chip's
 * JAL_INSN_F_Q8X) against a naive transcription of the ISA's text, the
 * generation loop's run.c semantics, and the sampler (xorshift* values
 * computed independently, top-p confined to the nucleus).
 */
#include <math.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "checkpoint.h"
#include "quant.h"
#include "reference.h"
#include "tokenizer.h"

/* ------------------------------------------------------------------ */
/* An independent forward pass: double accumulation, naive loops.      */
/* ------------------------------------------------------------------ */

struct naive {
	const struct llm_checkpoint *ck;
	double *kc, *vc;	/* [layer][pos][kv_dim] */
};

static int naive_init(struct naive *n, const struct llm_checkpoint *ck)
{
	const struct llm_config *c = &ck->config;
	size_t cache = (size_t)c->n_layers * c->seq_len * (c->dim / c->n_heads) * c->n_kv_heads;

	n->ck = ck;
	n->kc = calloc(cache, sizeof(double));
	n->vc = calloc(cache, sizeof(double));
	return n->kc && n->vc ? 0 : -ENOMEM;
}

static void naive_fini(struct naive *n)
{
	free(n->kc);
	free(n->vc);
}

/* y[r] = sum_c m[r][c] * x[c] for a row-major rows x cols float matrix. */
static void naive_matvec(double *y, const float *m, const double *x, int rows, int cols)
{
	for (int r = 0; r < rows; r++) {
		double acc = 0;

		for (int col = 0; col < cols; col++)
			acc += (double)m[(size_t)r * cols + col] * x[col];
		y[r] = acc;
	}
}

static void naive_rmsnorm(double *y, const double *x, const float *g, int n)
{
	double ms = 0;

	for (int i = 0; i < n; i++)
		ms += x[i] * x[i];
	ms = 1.0 / sqrt(ms / n + 1e-5);
	for (int i = 0; i < n; i++)
		y[i] = g[i] * x[i] * ms;
}

/* Logits of @token at @pos, as in the llama2 paper's equations. */
static void naive_forward(struct naive *n, int token, int pos, double *logits)
{
	const struct llm_config *c = &n->ck->config;
	const struct llm_weights *w = &n->ck->weights;
	int dim = c->dim, hid = c->hidden_dim, hs = dim / c->n_heads;
	int kvd = hs * c->n_kv_heads, group = c->n_heads / c->n_kv_heads;
	double *x = calloc(dim, sizeof(double)), *h = calloc(dim, sizeof(double));
	double *q = calloc(dim, sizeof(double)), *o = calloc(dim, sizeof(double));
	double *a = calloc(hid, sizeof(double)), *b = calloc(hid, sizeof(double));
	double *t = calloc(dim, sizeof(double)), *sc = calloc(pos + 1, sizeof(double));

	for (int i = 0; i < dim; i++)
		x[i] = w->token_embedding[(size_t)token * dim + i];
	for (int l = 0; l < c->n_layers; l++) {
		double *k = n->kc + ((size_t)l * c->seq_len + pos) * kvd;
		double *v = n->vc + ((size_t)l * c->seq_len + pos) * kvd;

		naive_rmsnorm(h, x, w->rms_att + (size_t)l * dim, dim);
		naive_matvec(q, w->wq + (size_t)l * dim * dim, h, dim, dim);
		naive_matvec(k, w->wk + (size_t)l * kvd * dim, h, kvd, dim);
		naive_matvec(v, w->wv + (size_t)l * kvd * dim, h, kvd, dim);
		/* RoPE: rotate pair (2j, 2j+1) of every head by pos * 10000^(-2j/hs). */
		for (int i = 0; i < dim; i += 2) {
			double ang = pos * pow(10000.0, -(double)(i % hs) / hs);
			double cs = cos(ang), sn = sin(ang), q0 = q[i], q1 = q[i + 1];

			q[i] = q0 * cs - q1 * sn;
			q[i + 1] = q0 * sn + q1 * cs;
			if (i < kvd) {
				double k0 = k[i], k1 = k[i + 1];

				k[i] = k0 * cs - k1 * sn;
				k[i + 1] = k0 * sn + k1 * cs;
			}
		}
		for (int hd = 0; hd < c->n_heads; hd++) {
			int kvh = hd / group;
			double mx = -INFINITY, sum = 0;

			for (int p = 0; p <= pos; p++) {
				const double *kp = n->kc + ((size_t)l * c->seq_len + p) * kvd + kvh * hs;
				double s = 0;

				for (int i = 0; i < hs; i++)
					s += q[hd * hs + i] * kp[i];
				sc[p] = s / sqrt(hs);
				mx = fmax(mx, sc[p]);
			}
			for (int p = 0; p <= pos; p++) {
				sc[p] = exp(sc[p] - mx);
				sum += sc[p];
			}
			for (int i = 0; i < hs; i++) {
				double acc = 0;

				for (int p = 0; p <= pos; p++)
					acc += sc[p] / sum *
					       n->vc[((size_t)l * c->seq_len + p) * kvd + kvh * hs + i];
				o[hd * hs + i] = acc;
			}
		}
		naive_matvec(t, w->wo + (size_t)l * dim * dim, o, dim, dim);
		for (int i = 0; i < dim; i++)
			x[i] += t[i];
		naive_rmsnorm(h, x, w->rms_ffn + (size_t)l * dim, dim);
		naive_matvec(a, w->w1 + (size_t)l * hid * dim, h, hid, dim);
		naive_matvec(b, w->w3 + (size_t)l * hid * dim, h, hid, dim);
		for (int i = 0; i < hid; i++)
			a[i] = a[i] / (1 + exp(-a[i])) * b[i];
		naive_matvec(t, w->w2 + (size_t)l * dim * hid, a, dim, hid);
		for (int i = 0; i < dim; i++)
			x[i] += t[i];
	}
	naive_rmsnorm(h, x, w->rms_final, dim);
	naive_matvec(logits, w->wcls, h, c->vocab_size, dim);
	free(x);
	free(h);
	free(q);
	free(o);
	free(a);
	free(b);
	free(t);
	free(sc);
}

static int argmax_f(const float *v, int n)
{
	int best = 0;

	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

/*
 * Run @positions greedy positions from BOS through both implementations
 * (feeding the reference's argmax to both) and return the worst logit
 * error relative to the largest logit. The KV caches are compared too.
 */
static double compare_with_naive_order(struct __test_metadata *_metadata,
				       const struct llm_checkpoint *ck, int positions,
				       enum llm_ref_order order)
{
	const struct llm_config *c = &ck->config;
	struct llm_ref *ref = NULL;
	struct naive nv;
	double *expect = calloc(c->vocab_size, sizeof(double)), worst = 0;
	int token = LLM_TOKEN_BOS, kvd = c->kv_dim;

	if (!expect || naive_init(&nv, ck))
		return INFINITY;
	if (llm_ref_create(ck, &ref) || llm_ref_set_order(ref, order))
		return INFINITY;
	for (int pos = 0; pos < positions; pos++) {
		double scale = 1, err = 0;
		float *logits;

		if (llm_ref_forward(ref, token, pos, &logits))
			return INFINITY;
		naive_forward(&nv, token, pos, expect);
		for (int i = 0; i < c->vocab_size; i++)
			scale = fmax(scale, fabs(expect[i]));
		for (int i = 0; i < c->vocab_size; i++)
			err = fmax(err, fabs(logits[i] - expect[i]) / scale);
		for (int l = 0; l < c->n_layers; l++) {
			size_t off = ((size_t)l * c->seq_len + pos) * kvd;

			for (int i = 0; i < kvd; i++) {
				err = fmax(err, fabs(llm_ref_key_cache(ref)[off + i] - nv.kc[off + i]) /
						fmax(1, fabs(nv.kc[off + i])));
				err = fmax(err, fabs(llm_ref_value_cache(ref)[off + i] - nv.vc[off + i]) /
						fmax(1, fabs(nv.vc[off + i])));
			}
		}
		worst = fmax(worst, err);
		token = argmax_f(logits, c->vocab_size);
	}
	TH_LOG("worst relative error over %d positions: %.3g", positions, worst);
	llm_ref_destroy(ref);
	naive_fini(&nv);
	free(expect);
	return worst;
}

static double compare_with_naive(struct __test_metadata *_metadata,
				 const struct llm_checkpoint *ck, int positions)
{
	return compare_with_naive_order(_metadata, ck, positions, LLM_REF_ORDER_LANES);
}

/* f32 with a few hundred accumulations: well under 1e-4 of the scale. */
#define LOGIT_TOLERANCE 1e-4

TEST(forward_matches_naive_on_aidreams)
{
	struct llm_checkpoint *ck = NULL;
	char path[PATH_MAX];

	LLM_REQUIRE_MODEL(path, "aidreams260k.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	EXPECT_GT(LOGIT_TOLERANCE, compare_with_naive(_metadata, ck, ck->config.seq_len));
	llm_checkpoint_close(ck);
}

TEST(forward_matches_naive_on_grouped_kv_tiny260k)
{
	struct llm_checkpoint *ck = NULL;
	char path[PATH_MAX];

	LLM_REQUIRE_MODEL(path, "tiny260k.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	ASSERT_EQ(2, ck->config.kv_mul);
	/* The full 512 positions: RoPE angles and attention over long spans. */
	EXPECT_GT(LOGIT_TOLERANCE * 10, compare_with_naive(_metadata, ck, 512));
	llm_checkpoint_close(ck);
}

/* The chip's summation order is as accurate: only the rounding differs. */
TEST(chip_order_matches_naive_too)
{
	struct llm_checkpoint *ck = NULL;
	char path[PATH_MAX];

	LLM_REQUIRE_MODEL(path, "tiny260k.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	EXPECT_GT(LOGIT_TOLERANCE * 10,
		  compare_with_naive_order(_metadata, ck, 256, LLM_REF_ORDER_CHIP));
	llm_checkpoint_close(ck);
}

/*
 * The chip order sums in 8 lanes combined as a tree: on a model with one
 * layer whose logits are W x for a known x, check the classifier output
 * against that formula written out here. Every weight is 0 except the
 * embedding (x = embedding row, norms 1) so each block adds 0 to x and the
 * logits are rmsnorm(x) . wcls[v].
 */
TEST(chip_order_is_the_documented_tree)
{
	const struct llm_config shape = {
		.dim = 44, .hidden_dim = 8, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2,
		.vocab_size = 5, .seq_len = 4, .shared_classifier = false,
	};
	struct llm_config cfg = shape;
	struct llm_checkpoint ck;
	struct llm_ref *ref = NULL;
	size_t size;
	float *data, *xn, *logits;
	uint32_t seed = 5;
	int32_t header[7];

	ASSERT_EQ(0, llm_config_init(&cfg));
	ASSERT_EQ(0, llm_checkpoint_file_size(&cfg, &size));
	data = calloc(1, size);
	xn = calloc(cfg.dim, sizeof(float));
	ASSERT_TRUE(data && xn);
	llm_config_to_header(&cfg, header);
	memcpy(data, header, sizeof(header));
	ASSERT_EQ(0, llm_checkpoint_parse(data, size, &ck));
	{
		float *emb = (float *)ck.weights.token_embedding;
		float *wcls = (float *)ck.weights.wcls;
		float *norms[3] = { (float *)ck.weights.rms_att, (float *)ck.weights.rms_ffn,
				    (float *)ck.weights.rms_final };

		for (int i = 0; i < cfg.vocab_size * cfg.dim; i++) {
			seed = seed * 1664525u + 1013904223u;
			emb[i] = (float)((seed >> 8) / 8388608.0 - 1.0) * (i % 3 ? 1e3f : 1e-3f);
			seed = seed * 1664525u + 1013904223u;
			wcls[i] = (float)((seed >> 8) / 8388608.0 - 1.0);
		}
		for (int k = 0; k < 3; k++)
			for (int i = 0; i < cfg.dim; i++)
				norms[k][i] = 1.0f;
	}
	ASSERT_EQ(0, llm_ref_create(&ck, &ref));
	EXPECT_EQ(-EINVAL, llm_ref_set_order(ref, 7));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	ASSERT_EQ(0, llm_ref_forward(ref, 3, 0, &logits));
	/* the final rmsnorm of x, its sum of squares in the same tree */
	{
		const float *x = ck.weights.token_embedding + 3 * cfg.dim;
		float l[8] = { 0 }, ss;

		for (int j = 0; j < cfg.dim; j++)
			l[j % 8] += x[j] * x[j];
		ss = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
		ss = 1.0f / sqrtf(ss / cfg.dim + 1e-5f);
		for (int j = 0; j < cfg.dim; j++)
			xn[j] = 1.0f * (ss * x[j]);
	}
	for (int v = 0; v < cfg.vocab_size; v++) {
		const float *w = ck.weights.wcls + (size_t)v * cfg.dim;
		float l[8] = { 0 }, expect;

		for (int k = 0; k < cfg.dim; k++)
			l[k % 8] += w[k] * xn[k];
		expect = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
		EXPECT_EQ(expect, logits[v]) TH_LOG("logit %d", v);
	}
	llm_ref_destroy(ref);
	free(xn);
	free(data);
}

/* ------------------------------------------------------------------ */
/* int8: quantised products                                             */
/* ------------------------------------------------------------------ */

/*
 * The ISA's quantisation of x, written out from its text: per group amax
 * (a NaN never wins), s = amax / 127, q = 0 if s is 0, else roundf(x / s),
 * 0 for a NaN, clamped to +-127.
 */
static void naive_quantize(int8_t *q, float *s, const float *x, size_t n, size_t group)
{
	for (size_t g = 0; g < n / group; g++) {
		float amax = 0.0f;

		for (size_t i = g * group; i < (g + 1) * group; i++)
			if (fabsf(x[i]) > amax)
				amax = fabsf(x[i]);
		s[g] = amax / 127.0f;
		for (size_t i = g * group; i < (g + 1) * group; i++) {
			float v = s[g] == 0.0f ? 0.0f : roundf(x[i] / s[g]);

			if (isnan(v))
				q[i] = 0;
			else
				q[i] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
		}
	}
}

/*
 * The ISA's MATVEC with JAL_INSN_F_Q8X: t_g = ((float)i_g * wscale) *
 * xscale; @chip: group g into lane g % 8, the lanes as a tree; else one
 * running sum (runq.c).
 */
static void naive_q8x(float *out, const int8_t *w, const float *ws, const float *x, size_t rows,
		      size_t cols, size_t group, bool chip)
{
	size_t groups = cols / group;
	int8_t *xq = malloc(cols);
	float *xs = malloc(groups * sizeof(float));

	naive_quantize(xq, xs, x, cols, group);
	for (size_t r = 0; r < rows; r++) {
		float lane[8] = { 0 }, sum = 0.0f;

		for (size_t g = 0; g < groups; g++) {
			int32_t acc = 0;
			float t;

			for (size_t k = g * group; k < (g + 1) * group; k++)
				acc += (int32_t)xq[k] * w[r * cols + k];
			t = (float)acc * ws[r * groups + g];
			t = t * xs[g];
			if (chip)
				lane[g % 8] += t;
			else
				sum += t;
		}
		out[r] = chip ? ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
				((lane[4] + lane[5]) + (lane[6] + lane[7])) : sum;
	}
	free(xq);
	free(xs);
}

/*
 * By hand: x's groups have scales 1, 0 and 2 exactly, so x / s hits
 * halves, which roundf takes away from zero (2.5 -> 3, -2.5 -> -3, 0.5 ->
 * 1, where rounding to even gives 2, -2, 0); the all-zero group has scale
 * 0 and q 0 (0 / 0 would make every result NaN); the NaN is quantised to
 * 0 and is not the maximum. All the values are exact in f32, so both
 * orders give the same sums.
 */
TEST(q8x_matvec_by_hand)
{
	const float x[12] = { 127.0f, 2.5f, -2.5f, 0.5f, 0, 0, 0, 0, 254.0f, 5.0f, 1.0f, NAN };
	const int8_t w[24] = {
		1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		1, 2, -1, 4, 7, 7, 7, 7, -1, 1, 1, 1,
	};
	const float ws[6] = { 0.5f, 3.0f, 0.25f, 1.0f, 1.0f, 2.0f };
	const int8_t want_q[12] = { 127, 3, -3, 1, 0, 0, 0, 0, 127, 3, 1, 0 };
	int8_t xq[12];
	float xs[3], out[2];

	for (int order = LLM_REF_ORDER_LANES; order <= LLM_REF_ORDER_CHIP; order++) {
		llm_matvec_q8x(out, w, ws, x, 2, 12, 4, order, xq, xs);
		EXPECT_EQ(1.0f, xs[0]);
		EXPECT_EQ(0.0f, xs[1]);
		EXPECT_EQ(2.0f, xs[2]);
		for (int i = 0; i < 12; i++) {
			EXPECT_EQ(want_q[i], xq[i]) TH_LOG("q[%d]", i);
		}
		/* (128 * 0.5) * 1 + (0 * 3) * 0 + (131 * 0.25) * 2 */
		EXPECT_EQ(129.5f, out[0]);
		/* (140 * 1) * 1 + (0 * 1) * 0 + (-123 * 2) * 2 */
		EXPECT_EQ(-352.0f, out[1]);
	}
}

/* Random shapes, groups of 4 to 64, up to 20 groups (lanes reused): bit for bit. */
TEST(q8x_matvec_matches_the_isa_text)
{
	static const struct { size_t rows, cols, group; } shapes[] = {
		{ 1, 4, 4 }, { 7, 80, 4 }, { 5, 96, 12 }, { 3, 256, 32 }, { 4, 64, 64 },
		{ 9, 72, 8 },
	};
	uint32_t seed = 99;

	for (size_t c = 0; c < sizeof(shapes) / sizeof(shapes[0]); c++) {
		size_t rows = shapes[c].rows, cols = shapes[c].cols, group = shapes[c].group;
		size_t groups = cols / group;
		int8_t *w = malloc(rows * cols), *xq = malloc(cols);
		float *ws = malloc(rows * groups * sizeof(float)), *x = malloc(cols * sizeof(float));
		float *xs = malloc(groups * sizeof(float)), got[9], want[9];

		ASSERT_TRUE(w && xq && ws && x && xs);
		for (size_t i = 0; i < rows * cols; i++) {
			seed = seed * 1664525u + 1013904223u;
			w[i] = (int8_t)((int)(seed >> 24) % 255 - 127);
		}
		for (size_t i = 0; i < rows * groups; i++) {
			seed = seed * 1664525u + 1013904223u;
			ws[i] = (float)((seed >> 8) / 16777216.0) * 0.02f;
		}
		for (size_t i = 0; i < cols; i++) {
			seed = seed * 1664525u + 1013904223u;
			x[i] = (float)((seed >> 8) / 8388608.0 - 1.0) * 3.0f;
		}
		if (groups > 1)
			memset(x + group, 0, group * sizeof(float));
		for (int order = LLM_REF_ORDER_LANES; order <= LLM_REF_ORDER_CHIP; order++) {
			llm_matvec_q8x(got, w, ws, x, rows, cols, group, order, xq, xs);
			naive_q8x(want, w, ws, x, rows, cols, group, order == LLM_REF_ORDER_CHIP);
			for (size_t r = 0; r < rows; r++) {
				EXPECT_EQ(0, memcmp(&got[r], &want[r], sizeof(float)))
					TH_LOG("%zu x %zu / %zu, order %d, row %zu: %.9g vs %.9g",
					       rows, cols, group, order, r, got[r], want[r]);
			}
		}
		free(w);
		free(xq);
		free(ws);
		free(x);
		free(xs);
	}
}

/*
 * The int8 mode wired into the forward pass, on a model whose blocks add
 * nothing (as chip_order_is_the_documented_tree): the logits must be the
 * naive quantised product of the quantised classifier with the final
 * rmsnorm of the decoded (q * scale) embedding row. 44 columns give
 * groups of 4: 11 of them, so lanes 0..2 take two each.
 */
TEST(int8_classifier_is_the_documented_product)
{
	const struct llm_config shape = {
		.dim = 44, .hidden_dim = 8, .n_layers = 1, .n_heads = 2, .n_kv_heads = 2,
		.vocab_size = 5, .seq_len = 4, .shared_classifier = false,
	};
	struct llm_config cfg = shape;
	struct llm_checkpoint ck;
	struct llm_ref *ref = NULL;
	size_t size, n;
	float *data, *xn, *logits, *scales, want[5], x[44];
	int8_t *q;
	uint32_t seed = 5;
	int32_t header[7];

	ASSERT_EQ(0, llm_config_init(&cfg));
	ASSERT_EQ(0, llm_checkpoint_file_size(&cfg, &size));
	data = calloc(1, size);
	xn = calloc(cfg.dim, sizeof(float));
	n = (size_t)cfg.vocab_size * cfg.dim;
	q = malloc(n);
	scales = malloc(n / 4 * sizeof(float));
	ASSERT_TRUE(data && xn && q && scales);
	llm_config_to_header(&cfg, header);
	memcpy(data, header, sizeof(header));
	ASSERT_EQ(0, llm_checkpoint_parse(data, size, &ck));
	{
		float *emb = (float *)ck.weights.token_embedding;
		float *wcls = (float *)ck.weights.wcls;
		float *norms[3] = { (float *)ck.weights.rms_att, (float *)ck.weights.rms_ffn,
				    (float *)ck.weights.rms_final };

		for (size_t i = 0; i < n; i++) {
			seed = seed * 1664525u + 1013904223u;
			emb[i] = (float)((seed >> 8) / 8388608.0 - 1.0) * (i % 3 ? 1e3f : 1e-3f);
			seed = seed * 1664525u + 1013904223u;
			wcls[i] = (float)((seed >> 8) / 8388608.0 - 1.0);
		}
		for (int k = 0; k < 3; k++)
			for (int i = 0; i < cfg.dim; i++)
				norms[k][i] = 1.0f;
	}
	ASSERT_EQ(4, llm_int8_group(44, 0));
	ASSERT_EQ(0, llm_ref_create(&ck, &ref));
	EXPECT_EQ(-EINVAL, llm_ref_set_precision(ref, 7, 0));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	ASSERT_EQ(0, llm_ref_set_precision(ref, LLM_REF_PRECISION_INT8, 0));
	ASSERT_EQ(0, llm_ref_forward(ref, 3, 0, &logits));
	/* the embedding row as EMBED decodes it, then the final rmsnorm */
	naive_quantize(q, scales, ck.weights.token_embedding, n, 4);
	for (int j = 0; j < cfg.dim; j++)
		x[j] = (float)q[3 * cfg.dim + j] * scales[(3 * cfg.dim + j) / 4];
	{
		float l[8] = { 0 }, ss;

		for (int j = 0; j < cfg.dim; j++)
			l[j % 8] += x[j] * x[j];
		ss = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
		ss = 1.0f / sqrtf(ss / cfg.dim + 1e-5f);
		for (int j = 0; j < cfg.dim; j++)
			xn[j] = 1.0f * (ss * x[j]);
	}
	naive_quantize(q, scales, ck.weights.wcls, n, 4);
	naive_q8x(want, q, scales, xn, cfg.vocab_size, cfg.dim, 4, true);
	for (int v = 0; v < cfg.vocab_size; v++) {
		EXPECT_EQ(0, memcmp(&want[v], &logits[v], sizeof(float)))
			TH_LOG("logit %d: %.9g vs %.9g", v, logits[v], want[v]);
	}
	llm_ref_destroy(ref);
	free(q);
	free(scales);
	free(xn);
	free(data);
}

LLM_TMPDIR_FIXTURE(gen)

/* A random model: grouped KV (8 heads, 2 KV heads), separate classifier. */
static int write_random_model(const char *dir, const char *name, uint64_t seed, char *path,
			      size_t size, struct llm_checkpoint **ck)
{
	const struct llm_config shape = {
		.dim = 96, .hidden_dim = 200, .n_layers = 3, .n_heads = 8, .n_kv_heads = 2,
		.vocab_size = 300, .seq_len = 48, .shared_classifier = false,
	};
	int ret;

	snprintf(path, size, "%s/%s", dir, name);
	ret = llm_checkpoint_write_random(path, &shape, seed);
	return ret ? ret : llm_checkpoint_open(path, ck);
}

TEST_F(gen, forward_matches_naive_on_a_random_grouped_model)
{
	struct llm_checkpoint *ck = NULL;
	char path[128];

	ASSERT_EQ(0, write_random_model(self->dir, "r.bin", 7, path, sizeof(path), &ck));
	EXPECT_GT(LOGIT_TOLERANCE, compare_with_naive(_metadata, ck, 48));
	llm_checkpoint_close(ck);
}

/*
 * int8 on a random model (groups of 32 and 8, every product quantised):
 * close to f32 but not equal to it; back at F32 the state gives the f32
 * bits again; and with a preferred group of 2 no product can quantise x,
 * so int8 is the f32 forward on the decoded weights, bit for bit.
 */
TEST_F(gen, int8_mode_on_a_random_model)
{
	struct llm_checkpoint *ck = NULL, dec;
	struct llm_ref *r32 = NULL, *r8 = NULL, *rdec = NULL, *r2 = NULL;
	char path[128];
	void *data;
	int token = LLM_TOKEN_BOS, vocab;
	double worst = 0;
	bool differ = false;

	ASSERT_EQ(0, write_random_model(self->dir, "r.bin", 9, path, sizeof(path), &ck));
	vocab = ck->config.vocab_size;
	ASSERT_EQ(0, llm_ref_create(ck, &r32));
	ASSERT_EQ(0, llm_ref_create(ck, &r8));
	ASSERT_EQ(0, llm_ref_create(ck, &r2));
	ASSERT_EQ(0, llm_ref_set_precision(r8, LLM_REF_PRECISION_INT8, 0));
	ASSERT_EQ(0, llm_ref_set_precision(r2, LLM_REF_PRECISION_INT8, 2));
	/* a copy with every matrix and the table quantised in groups of 2 and decoded */
	data = malloc(ck->size);
	ASSERT_NE(NULL, data);
	memcpy(data, ck->data, ck->size);
	ASSERT_EQ(0, llm_checkpoint_parse(data, ck->size, &dec));
	{
		const struct llm_config *c = &ck->config;
		size_t L = c->n_layers, dim = c->dim, hid = c->hidden_dim, kvd = c->kv_dim;
		const struct llm_weights *w = &dec.weights;
		const struct { const float *p; size_t n; } m[] = {
			{ w->token_embedding, (size_t)vocab * dim }, { w->wq, L * dim * dim },
			{ w->wk, L * kvd * dim }, { w->wv, L * kvd * dim }, { w->wo, L * dim * dim },
			{ w->w1, L * hid * dim }, { w->w2, L * dim * hid }, { w->w3, L * hid * dim },
			{ w->wcls, (size_t)vocab * dim },
		};

		for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
			float *f = (float *)m[i].p, *s = malloc(m[i].n / 2 * sizeof(float));
			int8_t *q = malloc(m[i].n);

			ASSERT_TRUE(q && s);
			naive_quantize(q, s, f, m[i].n, 2);
			for (size_t k = 0; k < m[i].n; k++)
				f[k] = (float)q[k] * s[k / 2];
			free(q);
			free(s);
		}
	}
	ASSERT_EQ(0, llm_ref_create(&dec, &rdec));
	for (int order = LLM_REF_ORDER_LANES; order <= LLM_REF_ORDER_CHIP; order++) {
		ASSERT_EQ(0, llm_ref_set_order(r32, order));
		ASSERT_EQ(0, llm_ref_set_order(r8, order));
		ASSERT_EQ(0, llm_ref_set_order(r2, order));
		ASSERT_EQ(0, llm_ref_set_order(rdec, order));
		for (int pos = 0; pos < 16; pos++) {
			float *l32, *l8, *l2, *ldec;
			double scale = 0;
			int best = 0;

			ASSERT_EQ(0, llm_ref_forward(r32, token, pos, &l32));
			ASSERT_EQ(0, llm_ref_forward(r8, token, pos, &l8));
			ASSERT_EQ(0, llm_ref_forward(r2, token, pos, &l2));
			ASSERT_EQ(0, llm_ref_forward(rdec, token, pos, &ldec));
			for (int i = 0; i < vocab; i++)
				scale = fmax(scale, fabs(l32[i]));
			for (int i = 0; i < vocab; i++) {
				worst = fmax(worst, fabs(l8[i] - l32[i]) / scale);
				differ |= l8[i] != l32[i];
				EXPECT_EQ(0, memcmp(&l2[i], &ldec[i], sizeof(float)))
					TH_LOG("order %d pos %d logit %d", order, pos, i);
				if (l32[i] > l32[best])
					best = i;
			}
			token = best;
		}
	}
	TH_LOG("int8 vs f32: worst logit error %.4f of the scale", worst);
	EXPECT_TRUE(differ);
	EXPECT_GT(0.05, worst);
	/* back to f32: the checkpoint's bits (a new sequence from position 0) */
	ASSERT_EQ(0, llm_ref_set_precision(r8, LLM_REF_PRECISION_F32, 0));
	for (int pos = 0; pos < 4; pos++) {
		float *l32, *l8;

		ASSERT_EQ(0, llm_ref_forward(r32, 5 + pos, pos, &l32));
		ASSERT_EQ(0, llm_ref_forward(r8, 5 + pos, pos, &l8));
		EXPECT_EQ(0, memcmp(l32, l8, (size_t)vocab * sizeof(float)));
	}
	llm_ref_destroy(r32);
	llm_ref_destroy(r8);
	llm_ref_destroy(r2);
	llm_ref_destroy(rdec);
	llm_checkpoint_close(ck);
	free(data);
}

/* Collects emitted tokens (and text, given a tokenizer). */
struct collect {
	int ids[1024];
	int n;
	int stop_after;			/* > 0: return 1 after that many */
	int fail_with;			/* < 0: return it on the first token */
	const struct llm_tokenizer *tok;
	char text[8192];
	size_t text_len;
	int prev_check_errors;		/* prev_token != the previous emitted token */
	int pos_check_errors;		/* pos not increasing by one */
};

static int collect_token(void *opaque, int prev_token, int token, int pos)
{
	struct collect *c = opaque;

	if (c->fail_with)
		return c->fail_with;
	if (c->n > 0 && prev_token != c->ids[c->n - 1])
		c->prev_check_errors++;
	if (c->n > 0 && pos != c->n + 1)
		c->pos_check_errors++;
	if (c->n < 1024)
		c->ids[c->n] = token;
	c->n++;
	if (c->tok) {
		const char *piece = llm_tokenizer_decode(c->tok, prev_token, token);

		if (llm_piece_is_printable(piece) &&
		    c->text_len + strlen(piece) < sizeof(c->text)) {
			memcpy(c->text + c->text_len, piece, strlen(piece) + 1);
			c->text_len += strlen(piece);
		}
	}
	return c->stop_after && c->n >= c->stop_after ? 1 : 0;
}

/* Greedy ids of a model from BOS, @steps positions. */
static int greedy_ids(const struct llm_checkpoint *ck, int steps, struct collect *out,
		      struct llm_generate_stats *stats)
{
	struct llm_ref *ref = NULL;
	struct llm_model model;
	struct llm_sampler sampler;
	int bos = LLM_TOKEN_BOS, ret;

	memset(out, 0, sizeof(*out));
	ret = llm_ref_create(ck, &ref);
	if (ret)
		return ret;
	llm_ref_model(ref, &model);
	ret = llm_sampler_init(&sampler, ck->config.vocab_size, 0.0f, 0.9f, 1);
	if (!ret)
		ret = llm_generate(&model, &sampler, &bos, 1, steps, collect_token, out, stats);
	llm_sampler_fini(&sampler);
	llm_ref_destroy(ref);
	return ret;
}

TEST_F(gen, random_model_generates_deterministic_ids)
{
	struct llm_checkpoint *ck = NULL, *other = NULL;
	struct collect *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct llm_generate_stats st;
	char path[128];

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ASSERT_EQ(0, write_random_model(self->dir, "a.bin", 11, path, sizeof(path), &ck));
	ASSERT_EQ(0, greedy_ids(ck, 0, a, &st));
	/* steps 0 means seq_len. */
	EXPECT_EQ(48, st.positions + (st.stopped_at_bos ? 48 - st.positions : 0));
	EXPECT_EQ(st.stopped_at_bos ? st.positions - 1 : st.positions, a->n);
	ASSERT_EQ(0, greedy_ids(ck, 0, b, &st));
	ASSERT_EQ(a->n, b->n);
	EXPECT_EQ(0, memcmp(a->ids, b->ids, a->n * sizeof(int)));

	/* A model from another seed says something else. */
	ASSERT_EQ(0, write_random_model(self->dir, "b.bin", 12, path, sizeof(path), &other));
	ASSERT_EQ(0, greedy_ids(other, 0, b, &st));
	EXPECT_TRUE(a->n != b->n || memcmp(a->ids, b->ids, a->n * sizeof(int)));
	llm_checkpoint_close(other);
	llm_checkpoint_close(ck);
	free(a);
	free(b);
}

/* The README of the shared models quotes llama2.c's output at t = 0. */
TEST(aidreams_greedy_text_matches_llama2c)
{
	static const char expected[] =
		"I dreamed, as I sense the nodes, a gentle hum of probability.";
	struct llm_checkpoint *ck = NULL;
	struct llm_tokenizer *tok = NULL;
	struct llm_ref *ref = NULL;
	struct llm_sampler sampler;
	struct llm_model model;
	struct llm_generate_stats st;
	struct collect *out = calloc(1, sizeof(*out));
	char path[PATH_MAX], tok_path[PATH_MAX];
	int prompt[32], n;

	ASSERT_NE(NULL, out);
	LLM_REQUIRE_MODEL(path, "aidreams260k.bin");
	LLM_REQUIRE_MODEL(tok_path, "tok512.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	ASSERT_EQ(0, llm_tokenizer_open(tok_path, ck->config.vocab_size, &tok));
	n = llm_tokenizer_encode(tok, "I dreamed", true, false, prompt, 32);
	ASSERT_EQ(7, n);
	ASSERT_EQ(0, llm_ref_create(ck, &ref));
	llm_ref_model(ref, &model);
	ASSERT_EQ(0, llm_sampler_init(&sampler, ck->config.vocab_size, 0.0f, 0.9f, 1));
	out->tok = tok;
	ASSERT_EQ(0, llm_generate(&model, &sampler, prompt, n, 128, collect_token, out, &st));
	TH_LOG("%s", out->text);
	EXPECT_EQ(0, strncmp(expected, out->text, strlen(expected)));
	/* The prompt is echoed first, exactly as run.c prints it. */
	for (int i = 1; i < n; i++) {
		EXPECT_EQ(prompt[i], out->ids[i - 1]);
	}
	EXPECT_EQ(n, st.prompt_tokens);
	EXPECT_EQ(st.positions - (n - 1), st.sampled_tokens);
	EXPECT_EQ(0, out->prev_check_errors);
	EXPECT_EQ(0, out->pos_check_errors);
	EXPECT_GT(st.tokens_per_second, 0);
	llm_sampler_fini(&sampler);
	llm_ref_destroy(ref);
	llm_tokenizer_close(tok);
	llm_checkpoint_close(ck);
	free(out);
}

TEST(tiny260k_runs_all_512_positions_deterministically)
{
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *r1 = NULL, *r2 = NULL;
	char path[PATH_MAX];
	int t1 = LLM_TOKEN_BOS, t2 = LLM_TOKEN_BOS;
	float *logits;

	LLM_REQUIRE_MODEL(path, "tiny260k.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	ASSERT_EQ(512, ck->config.seq_len);
	ASSERT_EQ(0, llm_ref_create(ck, &r1));
	ASSERT_EQ(0, llm_ref_create(ck, &r2));
	/* Two independent states, fed their own argmax: bit-identical. */
	for (int pos = 0; pos < 512; pos++) {
		float first[512];

		ASSERT_EQ(0, llm_ref_forward(r1, t1, pos, &logits));
		memcpy(first, logits, sizeof(first));
		for (int i = 0; i < 512; i++) {
			ASSERT_TRUE(isfinite(first[i])) TH_LOG("pos %d logit %d", pos, i);
		}
		ASSERT_EQ(0, llm_ref_forward(r2, t2, pos, &logits));
		ASSERT_EQ(0, memcmp(first, logits, sizeof(first))) TH_LOG("pos %d", pos);
		t1 = argmax_f(first, 512);
		t2 = argmax_f(logits, 512);
	}
	/* Position 512 does not exist. */
	EXPECT_EQ(-EINVAL, llm_ref_forward(r1, t1, 512, &logits));
	llm_ref_destroy(r1);
	llm_ref_destroy(r2);
	llm_checkpoint_close(ck);
}

TEST(tiny260k_generate_fills_the_context)
{
	struct llm_checkpoint *ck = NULL;
	struct collect *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct llm_generate_stats st;
	char path[PATH_MAX];

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	LLM_REQUIRE_MODEL(path, "tiny260k.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	/* More steps than positions is clamped to seq_len, as run.c. */
	ASSERT_EQ(0, greedy_ids(ck, 100000, a, &st));
	EXPECT_EQ(512, st.positions);
	EXPECT_FALSE(st.stopped_at_bos);
	EXPECT_EQ(512, a->n);
	EXPECT_EQ(512, st.sampled_tokens);
	ASSERT_EQ(0, greedy_ids(ck, 512, b, &st));
	ASSERT_EQ(512, b->n);
	EXPECT_EQ(0, memcmp(a->ids, b->ids, 512 * sizeof(int)));
	llm_checkpoint_close(ck);
	free(a);
	free(b);
}

TEST(forward_rejects_bad_tokens_and_positions)
{
	const int32_t header[7] = { 16, 24, 1, 2, 2, 10, 4 };
	struct llm_checkpoint ck;
	struct llm_ref *ref = NULL;
	float *logits;
	size_t size;
	void *img = llm_test_checkpoint_image(header,
					      llm_test_weight_floats(16, 24, 1, 2, 2, 10, 4, true),
					      &size);

	ASSERT_NE(NULL, img);
	ASSERT_EQ(0, llm_checkpoint_parse(img, size, &ck));
	ASSERT_EQ(0, llm_ref_create(&ck, &ref));
	EXPECT_EQ(10, llm_ref_config(ref)->vocab_size);
	EXPECT_EQ(-EINVAL, llm_ref_forward(ref, -1, 0, &logits));
	EXPECT_EQ(-EINVAL, llm_ref_forward(ref, 10, 0, &logits));
	EXPECT_EQ(-EINVAL, llm_ref_forward(ref, 1, -1, &logits));
	EXPECT_EQ(-EINVAL, llm_ref_forward(ref, 1, 4, &logits));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "position 4"));
	EXPECT_EQ(0, llm_ref_forward(ref, 9, 3, &logits));
	llm_ref_destroy(ref);
	llm_ref_destroy(NULL);
	free(img);
}

/* ------------------------------------------------------------------ */
/* The generation loop, on a scripted model                             */
/* ------------------------------------------------------------------ */

/*
 * Vocabulary 8, 7 positions: the argmax after position p is p % 5 + 3,
 * or BOS at position @bos_at. Records the tokens it was fed.
 */
struct script {
	float logits[8];
	int fed[16];
	int bos_at;
	int fail_at;
};

static int script_forward(void *model, int token, int pos, float **logits)
{
	struct script *s = model;

	if (pos == s->fail_at)
		return -EIO;
	s->fed[pos] = token;
	for (int i = 0; i < 8; i++)
		s->logits[i] = 0;
	s->logits[pos == s->bos_at ? LLM_TOKEN_BOS : pos % 5 + 3] = 5;
	*logits = s->logits;
	return 0;
}

static int run_script(struct script *s, const int *prompt, int n_prompt, int steps,
		      struct collect *out, struct llm_generate_stats *st)
{
	struct llm_model model = {
		.forward = script_forward, .model = s, .vocab_size = 8, .seq_len = 7,
	};
	struct llm_sampler sampler;
	int ret;

	if (llm_sampler_init(&sampler, 8, 0.0f, 0.9f, 1))
		return -1;
	ret = llm_generate(&model, &sampler, prompt, n_prompt, steps, collect_token, out, st);
	llm_sampler_fini(&sampler);
	return ret;
}

TEST(generate_follows_run_c)
{
	const int prompt[] = { 1, 4, 6 };
	struct script s = { .bos_at = 5, .fail_at = -1 };
	struct collect *out = calloc(1, sizeof(*out));
	struct llm_generate_stats st;
	const int emitted[] = { 4, 6, 5, 6, 7 }, fed[] = { 1, 4, 6, 5, 6, 7 };

	ASSERT_NE(NULL, out);
	/* Prompt tokens first, then argmax picks, until BOS comes out. */
	ASSERT_EQ(0, run_script(&s, prompt, 3, 10, out, &st));
	ASSERT_EQ(5, out->n);
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(emitted[i], out->ids[i]);
	}
	for (int i = 0; i < 6; i++) {
		EXPECT_EQ(fed[i], s.fed[i]);
	}
	EXPECT_EQ(6, st.positions);
	EXPECT_EQ(4, st.sampled_tokens);
	EXPECT_EQ(5, st.emitted_tokens);
	EXPECT_EQ(3, st.prompt_tokens);
	EXPECT_TRUE(st.stopped_at_bos);
	EXPECT_EQ(0, out->prev_check_errors);
	EXPECT_EQ(0, out->pos_check_errors);

	/* Steps count positions, prompt included: the prompt is cut. */
	memset(out, 0, sizeof(*out));
	ASSERT_EQ(0, run_script(&s, prompt, 3, 2, out, &st));
	EXPECT_EQ(2, out->n);
	EXPECT_EQ(2, st.positions);
	EXPECT_EQ(0, st.sampled_tokens);
	EXPECT_FALSE(st.stopped_at_bos);

	/* 0 (and too many) steps mean seq_len. */
	s.bos_at = -1;
	memset(out, 0, sizeof(*out));
	ASSERT_EQ(0, run_script(&s, prompt, 3, 0, out, &st));
	EXPECT_EQ(7, st.positions);
	EXPECT_EQ(7, out->n);
	memset(out, 0, sizeof(*out));
	ASSERT_EQ(0, run_script(&s, prompt, 3, 99, out, &st));
	EXPECT_EQ(7, st.positions);

	/* The callback stops (not an error) or aborts (its error). */
	memset(out, 0, sizeof(*out));
	out->stop_after = 3;
	ASSERT_EQ(0, run_script(&s, prompt, 3, 7, out, &st));
	EXPECT_EQ(3, out->n);
	EXPECT_EQ(3, st.positions);
	memset(out, 0, sizeof(*out));
	out->fail_with = -EPIPE;
	EXPECT_EQ(-EPIPE, run_script(&s, prompt, 3, 7, out, &st));

	/* A failing forward pass ends it with its error. */
	memset(out, 0, sizeof(*out));
	s.fail_at = 4;
	EXPECT_EQ(-EIO, run_script(&s, prompt, 3, 7, out, &st));
	EXPECT_EQ(4, out->n);
	EXPECT_EQ(4, st.positions);
	free(out);
}

TEST(generate_rejects_bad_prompts)
{
	struct script s = { .bos_at = -1, .fail_at = -1 };
	struct collect *out = calloc(1, sizeof(*out));
	struct llm_model model = {
		.forward = script_forward, .model = &s, .vocab_size = 8, .seq_len = 7,
	};
	struct llm_sampler sampler;
	const int bad[] = { 1, 8 }, negative[] = { -1 };

	ASSERT_NE(NULL, out);
	EXPECT_EQ(-EINVAL, run_script(&s, bad, 0, 5, out, NULL));
	EXPECT_EQ(-EINVAL, run_script(&s, bad, 2, 5, out, NULL));
	EXPECT_EQ(-EINVAL, run_script(&s, negative, 1, 5, out, NULL));
	EXPECT_EQ(0, out->n);
	ASSERT_EQ(0, llm_sampler_init(&sampler, 9, 0.0f, 0.9f, 1));
	EXPECT_EQ(-EINVAL, llm_generate(&model, &sampler, bad, 1, 5, NULL, NULL, NULL));
	llm_sampler_fini(&sampler);
	free(out);
}

/* ------------------------------------------------------------------ */
/* Sampler                                                              */
/* ------------------------------------------------------------------ */

/* Values from a separate Python implementation of xorshift* (seed 42). */
TEST(xorshift_star_matches_run_c)
{
	uint64_t state = 42;

	EXPECT_EQ(1456360119u, llm_random_u32(&state));
	EXPECT_EQ(0x54000020ull, state);
	EXPECT_EQ(3359763283u, llm_random_u32(&state));
	EXPECT_EQ(3393612768u, llm_random_u32(&state));
	EXPECT_EQ(0x1fa08005045006eull, state);
	state = 42;
	/* random_f32: the top 24 bits / 2^24. */
	EXPECT_EQ((float)(1456360119u >> 8) / 16777216.0f, llm_random_f32(&state));
	EXPECT_EQ((float)(3359763283u >> 8) / 16777216.0f, llm_random_f32(&state));
}

TEST(sampler_init_validates)
{
	struct llm_sampler s;

	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 0, 1.0f, 0.9f, 1));
	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 10, -0.5f, 0.9f, 1));
	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 10, NAN, 0.9f, 1));
	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 10, INFINITY, 0.9f, 1));
	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 10, 1.0f, 1.5f, 1));
	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 10, 1.0f, -0.1f, 1));
	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 10, 1.0f, NAN, 1));
	EXPECT_EQ(-EINVAL, llm_sampler_init(&s, 10, 1.0f, 0.9f, 0));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "seed 0"));
	ASSERT_EQ(0, llm_sampler_init(&s, 10, 0.0f, 1.0f, 5));
	EXPECT_EQ(5, s.rng_state);
	llm_sampler_fini(&s);
	llm_sampler_fini(NULL);
}

TEST(argmax_and_multinomial_edges)
{
	const float p[] = { 0.1f, 0.4f, 0.4f, 0.1f };

	/* The first of equal maxima. */
	EXPECT_EQ(1, llm_sample_argmax(p, 4));
	EXPECT_EQ(0, llm_sample_mult(p, 4, 0.0f));
	EXPECT_EQ(0, llm_sample_mult(p, 4, 0.0999f));
	EXPECT_EQ(1, llm_sample_mult(p, 4, 0.1001f));
	EXPECT_EQ(2, llm_sample_mult(p, 4, 0.5001f));
	EXPECT_EQ(3, llm_sample_mult(p, 4, 0.95f));
	/* A coin past the rounded total takes the last token. */
	EXPECT_EQ(3, llm_sample_mult(p, 4, 1.5f));
}

TEST(topp_picks_within_the_nucleus)
{
	/* Sorted: 0.5 (2), 0.3 (0), 0.1 (4), 0.05 (1), 0.05 (3). */
	const float p[] = { 0.3f, 0.05f, 0.5f, 0.05f, 0.1f };
	const float one[] = { 1.0f }, nans[] = { NAN, NAN };
	struct llm_prob_index scratch[5];
	int hits[5] = { 0 };

	/* topp 0.7: 0.5 + 0.3 > 0.7, nucleus {2, 0}, r = coin * 0.8. */
	EXPECT_EQ(2, llm_sample_topp(p, 5, 0.7f, scratch, 0.0f));
	EXPECT_EQ(2, llm_sample_topp(p, 5, 0.7f, scratch, 0.62f));	/* r 0.496 */
	EXPECT_EQ(0, llm_sample_topp(p, 5, 0.7f, scratch, 0.63f));	/* r 0.504 */
	EXPECT_EQ(0, llm_sample_topp(p, 5, 0.7f, scratch, 0.9999f));
	for (int i = 0; i < 10000; i++)
		hits[llm_sample_topp(p, 5, 0.7f, scratch, (i + 0.5f) / 10000)]++;
	EXPECT_EQ(0, hits[1] + hits[3] + hits[4]);
	EXPECT_EQ(6250, hits[2]);
	EXPECT_EQ(3750, hits[0]);
	/* topp 0.85: nucleus {2, 0, 4}, total 0.9. */
	EXPECT_EQ(4, llm_sample_topp(p, 5, 0.85f, scratch, 0.95f));	/* r 0.855 */
	/* Equal probabilities sort by index: 1 before 3. */
	EXPECT_EQ(1, llm_sample_topp(p, 5, 0.99f, scratch, 0.92f));
	EXPECT_EQ(3, llm_sample_topp(p, 5, 0.99f, scratch, 0.97f));
	/* One token, or only NaNs: no candidates, fall back, no crash. */
	EXPECT_EQ(0, llm_sample_topp(one, 1, 0.9f, scratch, 0.5f));
	EXPECT_EQ(1, llm_sample_topp(nans, 2, 0.9f, scratch, 0.5f));
}

/*
 * Sampling real logits at temperature 1.2, top-p 0.6: every pick must be
 * in the nucleus computed here in double precision.
 */
TEST(topp_sampling_of_a_model_stays_in_the_nucleus)
{
	const float temperature = 1.2f, topp = 0.6f;
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *ref = NULL;
	char path[PATH_MAX];
	float *logits, saved[512], work[512];
	int token = LLM_TOKEN_BOS, outside = 0, distinct = 0;

	LLM_REQUIRE_MODEL(path, "aidreams260k.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	ASSERT_EQ(0, llm_ref_create(ck, &ref));
	for (int pos = 0; pos < 8; pos++) {
		double prob[512], max = -INFINITY, sum = 0, cum = 0;
		bool in_nucleus[512] = { false }, seen[512] = { false };
		int order[512];

		ASSERT_EQ(0, llm_ref_forward(ref, token, pos, &logits));
		memcpy(saved, logits, sizeof(saved));
		for (int i = 0; i < 512; i++)
			max = fmax(max, saved[i] / (double)temperature);
		for (int i = 0; i < 512; i++)
			sum += prob[i] = exp(saved[i] / (double)temperature - max);
		for (int i = 0; i < 512; i++) {
			prob[i] /= sum;
			order[i] = i;
		}
		/* Selection sort by descending probability, until past topp. */
		for (int i = 0; i < 512 && cum <= topp; i++) {
			for (int j = i + 1; j < 512; j++)
				if (prob[order[j]] > prob[order[i]]) {
					int t = order[i];

					order[i] = order[j];
					order[j] = t;
				}
			in_nucleus[order[i]] = true;
			cum += prob[order[i]];
		}
		for (uint64_t seed = 1; seed <= 200; seed++) {
			struct llm_sampler s;
			int pick;

			ASSERT_EQ(0, llm_sampler_init(&s, 512, temperature, topp, seed * 7919));
			memcpy(work, saved, sizeof(work));
			pick = llm_sampler_sample(&s, work);
			llm_sampler_fini(&s);
			ASSERT_GE(pick, 0);
			ASSERT_LT(pick, 512);
			outside += !in_nucleus[pick];
			if (!seen[pick]) {
				seen[pick] = true;
				distinct++;
			}
		}
		token = argmax_f(saved, 512);
	}
	EXPECT_EQ(0, outside);
	/* And it does sample: more than one token per position on average. */
	EXPECT_GT(distinct, 8);
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
}

TEST(seeded_sampling_is_reproducible)
{
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *ref = NULL;
	struct llm_model model;
	struct collect *out[3];
	char path[PATH_MAX];
	const uint64_t seeds[3] = { 42, 42, 43 };
	int bos = LLM_TOKEN_BOS;

	LLM_REQUIRE_MODEL(path, "aidreams260k.bin");
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	for (int r = 0; r < 3; r++) {
		struct llm_sampler s;

		out[r] = calloc(1, sizeof(*out[r]));
		ASSERT_NE(NULL, out[r]);
		/* A fresh state each run; the KV cache must not leak between runs. */
		ASSERT_EQ(0, llm_ref_create(ck, &ref));
		llm_ref_model(ref, &model);
		ASSERT_EQ(0, llm_sampler_init(&s, 512, 1.0f, 0.9f, seeds[r]));
		ASSERT_EQ(0, llm_generate(&model, &s, &bos, 1, 128, collect_token, out[r], NULL));
		llm_sampler_fini(&s);
		llm_ref_destroy(ref);
	}
	ASSERT_GT(out[0]->n, 10);
	ASSERT_EQ(out[0]->n, out[1]->n);
	EXPECT_EQ(0, memcmp(out[0]->ids, out[1]->ids, out[0]->n * sizeof(int)));
	EXPECT_TRUE(out[0]->n != out[2]->n ||
		    memcmp(out[0]->ids, out[2]->ids, out[0]->n * sizeof(int)));
	for (int r = 0; r < 3; r++)
		free(out[r]);
	llm_checkpoint_close(ck);
}

TEST_HARNESS_MAIN
