// SPDX-License-Identifier: MIT
/*
 * cpu-llm: the best a user could run on the host's own cores instead of
 * the chip, for make bench's baselines. One "key value unit" line each:
 *
 *   cpu-llm bandwidth                   streaming read bandwidth, all threads
 *   cpu-llm decode MODEL [--int8] [--seqs 1,4,16,64] [-n STEPS]
 *                                       aggregate greedy decode tok/s of B
 *                                       sequences from BOS
 *   cpu-llm prefill MODEL [--int8] [--prompt 128,512]
 *                                       tok/s of one prompt in one pass
 *
 * The forward pass is llama2.c's (run.c / runq.c), on all threads:
 * - f32, one sequence: a matrix-vector product per weight matrix with the
 *   rows split over OpenMP threads, as llama2.c's `make runomp` builds it;
 * - f32, several rows (sequences or prompt positions): OpenBLAS's sgemm,
 *   so every weight read serves every row, as a CPU serving engine batches;
 * - int8 (--int8): runq.c's scheme (weights and activations quantised per
 *   group of 64 or less, exact integer dot products per group), rows of W
 *   split over OpenMP threads and each weight row used for every row of X
 *   while it is in cache;
 * - attention per (row, head) over OpenMP threads.
 * The weights are the file's (a llama2.c .bin); tokens only need to be
 * real tokens of the vocabulary, so decode is greedy from BOS and a prompt
 * is BOS followed by tokens 3, 4, 5, ...
 *
 * Figures only: nothing here passes or fails on speed.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "quant.h"

#define MAX_LIST	8

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "cpu-llm: out of memory (%zu x %zu bytes)\n", n, size);
		exit(EXIT_FAILURE);
	}
	return p;
}

/* ---- int8 weights (runq.c) ---------------------------------------------- */

struct qmatrix {
	int8_t *q;
	float *scales;		/* one per group */
	int rows, cols, group;
};

static void qmatrix_init(struct qmatrix *m, const float *w, int rows, int cols)
{
	m->rows = rows;
	m->cols = cols;
	m->group = (int)llm_int8_group((uint32_t)cols, 0);
	m->q = xcalloc((size_t)rows * cols, 1);
	m->scales = xcalloc((size_t)rows * cols / m->group, sizeof(float));
	llm_quantize_q8(m->q, m->scales, w, (size_t)rows * cols / m->group, m->group);
}

/* ---- one weight matrix in the precision of the run ---------------------- */

struct matrix {
	const float *f;		/* f32: rows x cols, row-major */
	struct qmatrix q;	/* int8 */
	int rows, cols;
};

struct layer {
	struct matrix wq, wk, wv, wo, w1, w2, w3;
	const float *rms_att, *rms_ffn;
};

struct model {
	struct llm_config c;
	struct layer *layers;
	struct matrix wcls;
	const float *embedding, *rms_final;
	bool int8;
};

static void matrix_init(struct matrix *m, const float *w, int rows, int cols, bool int8)
{
	m->f = w;
	m->rows = rows;
	m->cols = cols;
	if (int8)
		qmatrix_init(&m->q, w, rows, cols);
}

static void model_init(struct model *md, const struct llm_checkpoint *ck, bool int8)
{
	const struct llm_config *c = &ck->config;
	const struct llm_weights *w = &ck->weights;
	size_t dd = (size_t)c->dim * c->dim, dk = (size_t)c->dim * c->kv_dim;
	size_t dh = (size_t)c->dim * c->hidden_dim;
	int l;

	md->c = *c;
	md->int8 = int8;
	md->embedding = w->token_embedding;
	md->rms_final = w->rms_final;
	md->layers = xcalloc((size_t)c->n_layers, sizeof(*md->layers));
	for (l = 0; l < c->n_layers; l++) {
		struct layer *ly = &md->layers[l];

		matrix_init(&ly->wq, w->wq + l * dd, c->dim, c->dim, int8);
		matrix_init(&ly->wk, w->wk + l * dk, c->kv_dim, c->dim, int8);
		matrix_init(&ly->wv, w->wv + l * dk, c->kv_dim, c->dim, int8);
		matrix_init(&ly->wo, w->wo + l * dd, c->dim, c->dim, int8);
		matrix_init(&ly->w1, w->w1 + l * dh, c->hidden_dim, c->dim, int8);
		matrix_init(&ly->w2, w->w2 + l * dh, c->dim, c->hidden_dim, int8);
		matrix_init(&ly->w3, w->w3 + l * dh, c->hidden_dim, c->dim, int8);
		ly->rms_att = w->rms_att + (size_t)l * c->dim;
		ly->rms_ffn = w->rms_ffn + (size_t)l * c->dim;
	}
	matrix_init(&md->wcls, w->wcls, c->vocab_size, c->dim, int8);
}

/*
 * out[r] = W x[r] for r < nrows. The activation rows are quantised first
 * for int8 (into @xq / @xs, sized for the widest matrix).
 */
static void matmul(float *out, const float *x, int nrows, const struct matrix *m,
		   bool int8, int8_t *xq, float *xs)
{
	int rows = m->rows, cols = m->cols;

	if (int8) {
		int g = m->q.group, ng = cols / g;

		for (int r = 0; r < nrows; r++)
			llm_quantize_q8(xq + (size_t)r * cols, xs + (size_t)r * ng,
					x + (size_t)r * cols, (size_t)ng, (size_t)g);
		#pragma omp parallel for schedule(static)
		for (int i = 0; i < rows; i++) {
			const int8_t *wrow = m->q.q + (size_t)i * cols;
			const float *ws = m->q.scales + (size_t)i * ng;

			for (int r = 0; r < nrows; r++) {
				const int8_t *xr = xq + (size_t)r * cols;
				const float *xsr = xs + (size_t)r * ng;
				float val = 0.0f;

				for (int gi = 0; gi < ng; gi++) {
					int32_t acc = 0;

					for (int k = 0; k < g; k++)
						acc += (int32_t)wrow[gi * g + k] * xr[gi * g + k];
					val += (float)acc * ws[gi] * xsr[gi];
				}
				out[(size_t)r * rows + i] = val;
			}
		}
		return;
	}
	if (nrows > 1) {
		/*
		 * Each thread multiplies its slice of W's rows with a one-thread
		 * sgemm: OpenBLAS's own thread pool and OpenMP's would otherwise
		 * compete for the same cores (each spins while the other runs).
		 */
		#pragma omp parallel
		{
			int nt = omp_get_num_threads(), t = omp_get_thread_num();
			int r0 = (int)((long)rows * t / nt), r1 = (int)((long)rows * (t + 1) / nt);

			if (r1 > r0)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nrows, r1 - r0,
					    cols, 1.0f, x, cols, m->f + (size_t)r0 * cols, cols, 0.0f,
					    out + r0, rows);
		}
		return;
	}
	#pragma omp parallel for schedule(static)
	for (int i = 0; i < rows; i++) {
		const float *wrow = m->f + (size_t)i * cols;
		float val = 0.0f;

		for (int k = 0; k < cols; k++)
			val += wrow[k] * x[k];
		out[i] = val;
	}
}

/* ---- activations of one pass over nrows rows ---------------------------- */

struct state {
	int max_rows, max_pos, n_seqs;
	float *x, *xb, *xb2, *hb, *hb2, *q, *k, *v, *att, *logits;
	float *key_cache, *value_cache;	/* [layer][seq][pos][kv_dim] */
	int8_t *xq;
	float *xs;
	int *seq, *pos, *token;		/* per row */
};

static void state_init(struct state *s, const struct llm_config *c, int max_rows,
		       int n_seqs, int max_pos)
{
	size_t cache = (size_t)c->n_layers * n_seqs * max_pos * c->kv_dim;
	size_t widest = (size_t)(c->hidden_dim > c->dim ? c->hidden_dim : c->dim);

	s->max_rows = max_rows;
	s->max_pos = max_pos;
	s->n_seqs = n_seqs;
	s->x = xcalloc((size_t)max_rows * c->dim, sizeof(float));
	s->xb = xcalloc((size_t)max_rows * c->dim, sizeof(float));
	s->xb2 = xcalloc((size_t)max_rows * c->dim, sizeof(float));
	s->hb = xcalloc((size_t)max_rows * c->hidden_dim, sizeof(float));
	s->hb2 = xcalloc((size_t)max_rows * c->hidden_dim, sizeof(float));
	s->q = xcalloc((size_t)max_rows * c->dim, sizeof(float));
	s->k = xcalloc((size_t)max_rows * c->kv_dim, sizeof(float));
	s->v = xcalloc((size_t)max_rows * c->kv_dim, sizeof(float));
	s->att = xcalloc((size_t)max_rows * c->n_heads * max_pos, sizeof(float));
	s->logits = xcalloc((size_t)max_rows * c->vocab_size, sizeof(float));
	s->key_cache = xcalloc(cache, sizeof(float));
	s->value_cache = xcalloc(cache, sizeof(float));
	s->xq = xcalloc((size_t)max_rows * widest, 1);
	s->xs = xcalloc((size_t)max_rows * widest, sizeof(float));
	s->seq = xcalloc((size_t)max_rows, sizeof(int));
	s->pos = xcalloc((size_t)max_rows, sizeof(int));
	s->token = xcalloc((size_t)max_rows, sizeof(int));
}

static void state_free(struct state *s)
{
	float *bufs[] = { s->x, s->xb, s->xb2, s->hb, s->hb2, s->q, s->k, s->v, s->att,
			  s->logits, s->key_cache, s->value_cache, s->xs };

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		free(bufs[i]);
	free(s->xq);
	free(s->seq);
	free(s->pos);
	free(s->token);
}

static void rmsnorm(float *o, const float *x, const float *w, int n, float eps)
{
	float ss = 0.0f;

	for (int j = 0; j < n; j++)
		ss += x[j] * x[j];
	ss = 1.0f / sqrtf(ss / n + eps);
	for (int j = 0; j < n; j++)
		o[j] = w[j] * (ss * x[j]);
}

static void softmax(float *x, int n)
{
	float max = x[0], sum = 0.0f;

	for (int i = 1; i < n; i++)
		if (x[i] > max)
			max = x[i];
	for (int i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	for (int i = 0; i < n; i++)
		x[i] /= sum;
}

static void rope(float *v, int n, int head_size, int pos, float theta)
{
	for (int i = 0; i < n; i += 2) {
		float freq = 1.0f / powf(theta, (float)(i % head_size) / head_size);
		float a = pos * freq, fr = cosf(a), fi = sinf(a);
		float v0 = v[i], v1 = v[i + 1];

		v[i] = v0 * fr - v1 * fi;
		v[i + 1] = v0 * fi + v1 * fr;
	}
}

static float *cache_at(const struct state *s, float *cache, const struct llm_config *c,
		       int l, int seq, int pos)
{
	return cache + (((size_t)l * s->n_seqs + seq) * s->max_pos + pos) * c->kv_dim;
}

/* Row r's attention over its sequence's positions 0..pos[r], all heads. */
static void attention(struct state *s, const struct llm_config *c, int l, int nrows)
{
	int hs = c->head_size;

	#pragma omp parallel for collapse(2) schedule(static)
	for (int r = 0; r < nrows; r++) {
		for (int h = 0; h < c->n_heads; h++) {
			const float *q = s->q + (size_t)r * c->dim + h * hs;
			float *att = s->att + ((size_t)r * c->n_heads + h) * s->max_pos;
			float *xb = s->xb + (size_t)r * c->dim + h * hs;
			int kvh = h / c->kv_mul, n = s->pos[r] + 1;

			for (int t = 0; t < n; t++) {
				const float *k = cache_at(s, s->key_cache, c, l, s->seq[r], t) + kvh * hs;
				float score = 0.0f;

				for (int i = 0; i < hs; i++)
					score += q[i] * k[i];
				att[t] = score / sqrtf((float)hs);
			}
			softmax(att, n);
			memset(xb, 0, (size_t)hs * sizeof(float));
			for (int t = 0; t < n; t++) {
				const float *v = cache_at(s, s->value_cache, c, l, s->seq[r], t) + kvh * hs;

				for (int i = 0; i < hs; i++)
					xb[i] += att[t] * v[i];
			}
		}
	}
}

static void layer_forward(const struct model *md, struct state *s, int l, int nrows)
{
	const struct llm_config *c = &md->c;
	const struct layer *ly = &md->layers[l];
	bool q8 = md->int8;

	for (int r = 0; r < nrows; r++)
		rmsnorm(s->xb + (size_t)r * c->dim, s->x + (size_t)r * c->dim, ly->rms_att,
			c->dim, c->rms_eps);
	matmul(s->q, s->xb, nrows, &ly->wq, q8, s->xq, s->xs);
	matmul(s->k, s->xb, nrows, &ly->wk, q8, s->xq, s->xs);
	matmul(s->v, s->xb, nrows, &ly->wv, q8, s->xq, s->xs);
	for (int r = 0; r < nrows; r++) {
		float *k = s->k + (size_t)r * c->kv_dim, *v = s->v + (size_t)r * c->kv_dim;

		rope(s->q + (size_t)r * c->dim, c->dim, c->head_size, s->pos[r], c->rope_theta);
		rope(k, c->kv_dim, c->head_size, s->pos[r], c->rope_theta);
		memcpy(cache_at(s, s->key_cache, c, l, s->seq[r], s->pos[r]), k,
		       (size_t)c->kv_dim * sizeof(float));
		memcpy(cache_at(s, s->value_cache, c, l, s->seq[r], s->pos[r]), v,
		       (size_t)c->kv_dim * sizeof(float));
	}
	attention(s, c, l, nrows);
	matmul(s->xb2, s->xb, nrows, &ly->wo, q8, s->xq, s->xs);
	for (size_t i = 0; i < (size_t)nrows * c->dim; i++)
		s->x[i] += s->xb2[i];

	for (int r = 0; r < nrows; r++)
		rmsnorm(s->xb + (size_t)r * c->dim, s->x + (size_t)r * c->dim, ly->rms_ffn,
			c->dim, c->rms_eps);
	matmul(s->hb, s->xb, nrows, &ly->w1, q8, s->xq, s->xs);
	matmul(s->hb2, s->xb, nrows, &ly->w3, q8, s->xq, s->xs);
	for (size_t i = 0; i < (size_t)nrows * c->hidden_dim; i++) {
		float a = s->hb[i];

		s->hb[i] = a * (1.0f / (1.0f + expf(-a))) * s->hb2[i];
	}
	matmul(s->xb, s->hb, nrows, &ly->w2, q8, s->xq, s->xs);
	for (size_t i = 0; i < (size_t)nrows * c->dim; i++)
		s->x[i] += s->xb[i];
}

/* One pass over s->token/seq/pos of nrows rows; logits of the last @nlogits. */
static void forward(const struct model *md, struct state *s, int nrows, int nlogits)
{
	const struct llm_config *c = &md->c;
	int first = nrows - nlogits;

	for (int r = 0; r < nrows; r++)
		memcpy(s->x + (size_t)r * c->dim, md->embedding + (size_t)s->token[r] * c->dim,
		       (size_t)c->dim * sizeof(float));
	for (int l = 0; l < c->n_layers; l++)
		layer_forward(md, s, l, nrows);
	for (int r = first; r < nrows; r++)
		rmsnorm(s->xb + (size_t)(r - first) * c->dim, s->x + (size_t)r * c->dim,
			md->rms_final, c->dim, c->rms_eps);
	matmul(s->logits, s->xb, nlogits, &md->wcls, md->int8, s->xq, s->xs);
}

static int argmax(const float *v, int n)
{
	int best = 0;

	for (int i = 1; i < n; i++)
		if (v[i] > v[best])
			best = i;
	return best;
}

/* ---- the modes -------------------------------------------------------------- */

static int parse_list(const char *s, int *out)
{
	int n = 0;

	while (*s && n < MAX_LIST) {
		char *end;
		long v = strtol(s, &end, 10);

		if (end == s || v < 1 || v > 4096)
			return -1;
		out[n++] = (int)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return n;
}

/* Aggregate tok/s of @nseqs sequences decoding @steps positions from BOS. */
static double run_decode(const struct model *md, int nseqs, int steps)
{
	struct state s;
	double t0 = 0.0, rate;

	state_init(&s, &md->c, nseqs, nseqs, steps);
	for (int r = 0; r < nseqs; r++) {
		s.seq[r] = r;
		s.token[r] = LLM_TOKEN_BOS;
	}
	for (int p = 0; p < steps; p++) {
		if (p == 1)
			t0 = now_s();	/* run.c's: time after the first position */
		for (int r = 0; r < nseqs; r++)
			s.pos[r] = p;
		forward(md, &s, nseqs, nseqs);
		for (int r = 0; r < nseqs; r++)
			s.token[r] = argmax(s.logits + (size_t)r * md->c.vocab_size,
					    md->c.vocab_size);
	}
	rate = (double)nseqs * (steps - 1) / (now_s() - t0);
	state_free(&s);
	return rate;
}

/* tok/s of one @n-token prompt in one pass (best of two, after a warm-up). */
static double run_prefill(const struct model *md, int n)
{
	struct state s;
	double best = 0.0;

	state_init(&s, &md->c, n, 1, n);
	for (int r = 0; r < n; r++) {
		s.pos[r] = r;
		s.token[r] = r ? 3 + (r % (md->c.vocab_size - 3)) : LLM_TOKEN_BOS;
	}
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now_s(), rate;

		forward(md, &s, n, 1);
		rate = n / (now_s() - t0);
		if (rep && rate > best)
			best = rate;
	}
	state_free(&s);
	return best;
}

/* Where the bandwidth run's sums go, so that the compiler keeps them. */
static volatile double bandwidth_sink;

/* GB/s of summing a 1 GiB array on every thread (best of five). */
static double run_bandwidth(void)
{
	size_t n = (1ull << 30) / sizeof(double);
	double *a = xcalloc(n, sizeof(double)), best = 0.0;

	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		a[i] = (double)(i & 7);
	for (int rep = 0; rep < 5; rep++) {
		double t0 = now_s(), sum = 0.0, gbs;

		#pragma omp parallel for schedule(static) reduction(+:sum)
		for (size_t i = 0; i < n; i++)
			sum += a[i];
		gbs = (double)n * sizeof(double) / (now_s() - t0) / 1e9;
		bandwidth_sink = sum;
		if (gbs > best)
			best = gbs;
	}
	free(a);
	return best;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cpu-llm bandwidth\n"
		"       cpu-llm decode MODEL [--int8] [--seqs 1,4,16,64] [-n STEPS]\n"
		"       cpu-llm prefill MODEL [--int8] [--prompt 128,512]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int list[MAX_LIST] = { 1, 4, 16, 64 }, nlist = 4, steps = 32;
	struct llm_checkpoint *ck;
	struct model md;
	bool int8 = false, prefill;
	int err;

	openblas_set_num_threads(1);	/* see matmul() */
	if (argc == 2 && !strcmp(argv[1], "bandwidth")) {
		printf("cpu_stream_read_gb_per_s %.2f GB/s\n", run_bandwidth());
		printf("cpu_threads %d threads\n", omp_get_max_threads());
		return 0;
	}
	if (argc < 3 || (strcmp(argv[1], "decode") && strcmp(argv[1], "prefill")))
		usage();
	prefill = !strcmp(argv[1], "prefill");
	if (prefill) {
		list[0] = 128;
		list[1] = 512;
		nlist = 2;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--int8"))
			int8 = true;
		else if ((!strcmp(argv[i], "--seqs") || !strcmp(argv[i], "--prompt")) && i + 1 < argc)
			nlist = parse_list(argv[++i], list);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			steps = atoi(argv[++i]);
		else
			usage();
	}
	if (nlist < 1 || steps < 2)
		usage();
	err = llm_checkpoint_open(argv[2], &ck);
	if (err) {
		fprintf(stderr, "cpu-llm: %s: %s\n", argv[2], llm_last_error_message());
		return 1;
	}
	model_init(&md, ck, int8);
	for (int i = 0; i < nlist; i++) {
		if (prefill) {
			if (list[i] > md.c.seq_len)
				continue;
			printf("cpu_prefill_%d_tok_per_s %.2f tok/s\n", list[i],
			       run_prefill(&md, list[i]));
		} else {
			printf("cpu_decode_%d_tok_per_s %.2f tok/s\n", list[i],
			       run_decode(&md, list[i], steps));
		}
		fflush(stdout);
	}
	return 0;
}
