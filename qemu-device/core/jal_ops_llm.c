// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: the LLM building blocks of ISA 1.1 (RMSNORM,
 * SOFTMAX, ROPE, SILU_MUL, ATTENTION, EMBED, ARGMAX, SAMPLE), and the
 * same over rows of a batch (JAL_INSN_F_ROWS).
 *
 * Their arithmetic follows llama2.c's run.c step by step, so that a
 * model run on the chip tracks its CPU reference closely: sums of
 * exponentials run sequentially in index order, divisions stay divisions,
 * exp/pow/sin/cos are the host C library's expf/powf/sinf/cosf. Dot
 * products (RMSNORM's sum of squares, ATTENTION's scores) use the chip's
 * eight-lane order of jal_kern.h.
 *
 * Vector operands are contiguous and streamed in chunks of JAL_VEC_CHUNK
 * elements (in place when in device memory), several passes where the
 * operation needs them. An output that overlaps an input at another
 * start is staged in host memory until every input was read; an output
 * at the same place as an input is safe chunk by chunk.
 */
#include <math.h>
#include <stdlib.h>

#include "jal_exec.h"
#include "jal_kern.h"

/* run.c's arithmetic, product by product: never fused (see jal_kern.h). */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

static float jal_f32(uint32_t bits)
{
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

static const struct jal_kernels *jal_kern(const struct jal_exec *ex)
{
	return ex->job->dev->kern;
}

/*
 * Contiguous f32 operands of one instruction: d (written, optional) and
 * up to three inputs.
 */
struct jal_vecs {
	struct jal_exec *ex;
	uint64_t n;
	struct jal_span d;
	struct jal_span in[3];
	unsigned int inputs;
	float *staged;
};

static enum jal_status jal_vecs_init(struct jal_exec *ex, struct jal_vecs *v,
				     uint64_t n, const struct jal_insn *in,
				     bool has_d, unsigned int inputs)
{
	static const char *const names[3] = { "a", "b", "c" };
	enum jal_status st = JAL_STATUS_OK;
	unsigned int k;

	memset(v, 0, sizeof(*v));
	v->ex = ex;
	v->n = n;
	v->inputs = inputs;
	if (has_d)
		st = jal_span_init(ex, &v->d, "d", ex->regs[in->r[0]],
				   jal_extent(n, 4, 4), 4, true);
	for (k = 0; !st && k < inputs; k++)
		st = jal_span_init(ex, &v->in[k], names[k], ex->regs[in->r[k + 1]],
				   jal_extent(n, 4, 4), 4, false);
	if (st || !has_d)
		return st;
	for (k = 0; k < inputs; k++) {
		if (!jal_span_overlap(&v->d, &v->in[k]) ||
		    jal_span_same(&v->d, &v->in[k]))
			continue;
		v->staged = malloc(n * sizeof(float));
		if (!v->staged) {
			jal_log(ex->job->dev, "out of host memory staging %llu results",
				(unsigned long long)n);
			return JAL_STATUS_BUS_ERROR;
		}
		break;
	}
	return JAL_STATUS_OK;
}

/* Input @k's elements [first, first + m). */
static const float *jal_vecs_in(struct jal_vecs *v, unsigned int k,
				uint64_t first, size_t m, enum jal_status *st)
{
	return jal_span_f32(v->ex, &v->in[k], first, m, v->ex->w->vec[k], st);
}

/* Results for [first, first + m), in @out (clobbered). */
static enum jal_status jal_vecs_out(struct jal_vecs *v, uint64_t first,
				    float *out, size_t m)
{
	if (v->staged) {
		memcpy(v->staged + first, out, m * sizeof(float));
		return JAL_STATUS_OK;
	}
	return jal_span_put_f32(v->ex, &v->d, first, out, m);
}

static enum jal_status jal_vecs_finish(struct jal_vecs *v, enum jal_status st)
{
	uint64_t done;
	size_t m;

	for (done = 0; !st && v->staged && done < v->n; done += m) {
		if (jal_job_aborted(v->ex->job)) {
			st = JAL_STATUS_ABORTED;
			break;
		}
		m = (size_t)JAL_MIN(v->n - done, (uint64_t)JAL_VEC_CHUNK);
		st = jal_span_put_f32(v->ex, &v->d, done, v->staged + done, m);
	}
	free(v->staged);
	v->staged = NULL;
	return st;
}

/*
 * The chunk loops of the vector ops,
 *
 *	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);)
 *
 * step past the previous chunk of @m elements and set @m to the size of
 * the next. They end at @n, after an error in @st, or when the job is
 * aborted (@st becomes JAL_STATUS_ABORTED), so that a long instruction
 * stops promptly on a reset.
 */
static bool jal_chunk_next(struct jal_exec *ex, uint64_t n, uint64_t *done,
			   size_t *m, enum jal_status *st)
{
	*done += *m;
	if (*st || *done >= n)
		return false;
	if (jal_job_aborted(ex->job)) {
		*st = JAL_STATUS_ABORTED;
		return false;
	}
	*m = (size_t)JAL_MIN(n - *done, (uint64_t)JAL_VEC_CHUNK);
	return true;
}

static float jal_lanes_tree(const float *l)
{
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* RMSNORM: d = b * (a / sqrt(mean(a^2) + eps)), as run.c's rmsnorm. */
enum jal_status jal_op_rmsnorm(struct jal_exec *ex, const struct jal_insn *in)
{
	const struct jal_kernels *k = jal_kern(ex);
	float eps = jal_f32(in->imm[0]), lanes[8] = { 0 }, inv;
	float *out = ex->w->vec[2];
	const float *a, *b;
	struct jal_vecs v;
	enum jal_status st;
	uint64_t n, done;
	size_t m;

	st = jal_exec_dim(ex, in, 0, &n);
	if (!st)
		st = jal_exec_charge(ex, 2 * n);
	if (st || !n)
		return st;
	st = jal_vecs_init(ex, &v, n, in, true, 2);
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_vecs_in(&v, 0, done, m, &st);
		if (!st)
			k->dot_lanes(lanes, a, a, m);
	}
	inv = 1.0f / sqrtf(jal_lanes_tree(lanes) / (float)n + eps);
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_vecs_in(&v, 0, done, m, &st);
		if (!st)
			b = jal_vecs_in(&v, 1, done, m, &st);
		if (st)
			break;
		k->scale_mul(out, a, b, inv, m);
		st = jal_vecs_out(&v, done, out, m);
	}
	return jal_vecs_finish(&v, st);
}

/*
 * run.c's softmax of @n floats in place: the largest first (so expf
 * cannot overflow), then the exponentials summed in index order, then one
 * division each.
 */
static void jal_softmax_buf(const struct jal_kernels *k, float *x, size_t n)
{
	float max = k->max(x, n, x[0]), sum = 0.0f;
	size_t i;

	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	k->div(x, x, sum, n);
}

struct jal_cand {
	float p;
	uint32_t index;
};

/* SAMPLE's probability and candidate buffers, allocated on first use. */
static bool jal_sample_buffers(struct jal_exec *ex)
{
	struct jal_worker *w = ex->w;

	if (!w->sample_prob)
		w->sample_prob = malloc(JAL_SAMPLE_MAX_LOGITS * sizeof(float));
	if (!w->sample_cand)
		w->sample_cand = malloc(JAL_SAMPLE_MAX_LOGITS *
					sizeof(struct jal_cand));
	if (w->sample_prob && w->sample_cand)
		return true;
	jal_log(ex->job->dev, "out of host memory for the logit buffers");
	return false;
}

enum jal_status jal_op_softmax(struct jal_exec *ex, const struct jal_insn *in)
{
	const struct jal_kernels *k = jal_kern(ex);
	float *out = ex->w->vec[2], max = 0.0f, sum = 0.0f;
	struct jal_vecs v;
	enum jal_status st;
	uint64_t n, done;
	const float *a;
	size_t m, i;

	st = jal_exec_dim(ex, in, 0, &n);
	if (st)
		return st;
	if (!n)
		return jal_exec_bad(ex, "SOFTMAX of no elements");
	st = jal_exec_charge(ex, 3 * n);
	if (!st)
		st = jal_vecs_init(ex, &v, n, in, true, 1);
	if (st)
		return st;
	if (n <= JAL_VEC_CHUNK) {
		a = jal_vecs_in(&v, 0, 0, (size_t)n, &st);
		if (!st) {
			memcpy(out, a, n * sizeof(float));
			jal_softmax_buf(k, out, (size_t)n);
			st = jal_vecs_out(&v, 0, out, (size_t)n);
		}
		return jal_vecs_finish(&v, st);
	}
	if (n <= JAL_SAMPLE_MAX_LOGITS && jal_sample_buffers(ex)) {
		/* A vocabulary's logits: all at once in SAMPLE's buffer. */
		float *buf = ex->w->sample_prob;

		for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
			a = jal_vecs_in(&v, 0, done, m, &st);
			if (!st)
				memcpy(buf + done, a, m * sizeof(float));
		}
		if (!st)
			jal_softmax_buf(k, buf, (size_t)n);
		for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
			memcpy(out, buf + done, m * sizeof(float));
			st = jal_vecs_out(&v, done, out, m);
		}
		return jal_vecs_finish(&v, st);
	}
	/* Longer still: three passes, the exponentials computed twice. */
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_vecs_in(&v, 0, done, m, &st);
		if (!st)
			max = k->max(a, m, done ? max : a[0]);
	}
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_vecs_in(&v, 0, done, m, &st);
		for (i = 0; !st && i < m; i++)
			sum += expf(a[i] - max);
	}
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_vecs_in(&v, 0, done, m, &st);
		if (st)
			break;
		for (i = 0; i < m; i++)
			out[i] = expf(a[i] - max);
		k->div(out, out, sum, m);
		st = jal_vecs_out(&v, done, out, m);
	}
	return jal_vecs_finish(&v, st);
}

/* The rotation of pair j (even) of a head, as run.c computes it. */
static void jal_rope_angle(uint64_t j, uint64_t hs, float pos, float theta,
			   float *c, float *s)
{
	float freq = 1.0f / powf(theta, (float)j / (float)hs);
	float val = pos * freq;

	*c = cosf(val);
	*s = sinf(val);
}

/*
 * JAL_INSN_F_ROPE_FREQS: the pair's frequency is given (scaled RoPE);
 * the angle is formed as without the flag, position times frequency.
 */
static void jal_rope_freq_angle(float freq, float pos, float *c, float *s)
{
	float val = pos * freq;

	*c = cosf(val);
	*s = sinf(val);
}

enum jal_status jal_op_rope(struct jal_exec *ex, const struct jal_insn *in)
{
	float theta = jal_f32(in->imm[0]), pos_f, *out = ex->w->vec[2];
	float *cosv = ex->w->scratch, *sinv = ex->w->scratch + JAL_SCRATCH_ELEMS / 2;
	bool freqs = in->flags & JAL_INSN_F_ROPE_FREQS;
	uint64_t n, hs, pos, done, j;
	bool table;
	struct jal_vecs v;
	enum jal_status st;
	const float *a;
	size_t m, i;

	st = jal_exec_dim(ex, in, 0, &n);
	if (!st)
		st = jal_exec_dim(ex, in, 1, &hs);
	if (!st)
		st = jal_exec_dim(ex, in, 2, &pos);
	if (st)
		return st;
	if (!hs || hs % 2 || n % 2 || n % hs)
		return jal_exec_bad(ex, "ROPE of %llu elements with head size %llu (both even, head size > 0 dividing n)",
				    (unsigned long long)n, (unsigned long long)hs);
	/* The frequencies are read into the table's place: it must hold them. */
	if (freqs && hs / 2 > JAL_SCRATCH_ELEMS / 2)
		return jal_exec_bad(ex, "ROPE_FREQS with head size %llu, more than %u",
				    (unsigned long long)hs, JAL_SCRATCH_ELEMS);
	st = jal_exec_charge(ex, n);
	if (st || !n)
		return st;
	if (freqs) {
		struct jal_span fs;

		st = jal_span_init(ex, &fs, "frequencies", ex->regs[in->r[3]],
				   hs / 2 * 4, 4, false);
		if (!st)
			st = jal_span_read(ex, &fs, 0, cosv, hs / 2 * 4);
		if (st)
			return st;
		jal_le_to_host(cosv, (size_t)(hs / 2), 4);
	}
	st = jal_vecs_init(ex, &v, n, in, true, 1);
	if (st)
		return st;
	pos_f = (float)pos;
	/* The angles depend only on the pair's place in its head. */
	table = hs / 2 <= JAL_SCRATCH_ELEMS / 2;
	for (j = 0; table && j < hs; j += 2) {
		if (freqs)
			jal_rope_freq_angle(cosv[j / 2], pos_f, &cosv[j / 2], &sinv[j / 2]);
		else
			jal_rope_angle(j, hs, pos_f, theta, &cosv[j / 2], &sinv[j / 2]);
	}
	/* JAL_VEC_CHUNK is even, so no pair straddles two chunks. */
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_vecs_in(&v, 0, done, m, &st);
		if (st)
			break;
		for (i = 0; i < m; i += 2) {
			float c, s, v0 = a[i], v1 = a[i + 1];

			j = (done + i) % hs;
			if (table) {
				c = cosv[j / 2];
				s = sinv[j / 2];
			} else {
				jal_rope_angle(j, hs, pos_f, theta, &c, &s);
			}
			out[i] = v0 * c - v1 * s;
			out[i + 1] = v0 * s + v1 * c;
		}
		st = jal_vecs_out(&v, done, out, m);
	}
	return jal_vecs_finish(&v, st);
}

enum jal_status jal_op_silu_mul(struct jal_exec *ex, const struct jal_insn *in)
{
	float *out = ex->w->vec[2];
	const float *a, *b;
	struct jal_vecs v;
	enum jal_status st;
	uint64_t n, done;
	size_t m, i;

	st = jal_exec_dim(ex, in, 0, &n);
	if (!st)
		st = jal_exec_charge(ex, n);
	if (st || !n)
		return st;
	st = jal_vecs_init(ex, &v, n, in, true, 2);
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_vecs_in(&v, 0, done, m, &st);
		if (!st)
			b = jal_vecs_in(&v, 1, done, m, &st);
		if (st)
			break;
		for (i = 0; i < m; i++) {
			float val = a[i];

			val *= 1.0f / (1.0f + expf(-val));
			out[i] = val * b[i];
		}
		st = jal_vecs_out(&v, done, out, m);
	}
	return jal_vecs_finish(&v, st);
}

/* ARGMAX and SAMPLE at temperature 0: run.c's argmax, streamed. */
static enum jal_status jal_argmax(struct jal_exec *ex, const struct jal_span *s,
				  uint64_t n, uint64_t *index)
{
	const struct jal_kernels *k = jal_kern(ex);
	float max = 0.0f, *buf = ex->w->vec[0];
	enum jal_status st = JAL_STATUS_OK;
	const float *a;
	uint64_t done;
	size_t m, i;

	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_span_f32(ex, s, done, m, buf, &st);
		if (!st)
			max = k->max(a, m, done ? max : a[0]);
	}
	*index = 0;
	if (st || isnan(max))
		return st;	/* a NaN first element is never beaten */
	/* The first element equal to the largest (run.c keeps the first). */
	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		a = jal_span_f32(ex, s, done, m, buf, &st);
		for (i = 0; !st && i < m; i++) {
			if (a[i] == max) {
				*index = done + i;
				return JAL_STATUS_OK;
			}
		}
	}
	return st;
}

enum jal_status jal_op_argmax(struct jal_exec *ex, const struct jal_insn *in)
{
	struct jal_span s;
	enum jal_status st;
	uint64_t n, index;

	st = jal_exec_dim(ex, in, 0, &n);
	if (st)
		return st;
	if (!n)
		return jal_exec_bad(ex, "ARGMAX of no elements");
	st = jal_exec_charge(ex, n);
	if (!st)
		st = jal_span_init(ex, &s, "a", ex->regs[in->r[1]],
				   jal_extent(n, 4, 4), 4, false);
	if (!st)
		st = jal_argmax(ex, &s, n, &index);
	if (!st)
		ex->regs[in->r[0]] = index;
	return st;
}

enum jal_status jal_check_sample(struct jal_exec *ex, const struct jal_insn *in)
{
	float t = jal_f32(in->imm[0]), p = jal_f32(in->imm[1]);

	/* Rows: memory operands, each row's parameters checked as it runs. */
	if (in->flags & JAL_INSN_F_ROWS)
		return JAL_STATUS_OK;
	if (in->r[0] == in->r[2])
		return jal_exec_bad(ex, "SAMPLE result and state in the same register r%u",
				    in->r[0]);
	if (!isfinite(t) || t < 0.0f)
		return jal_exec_bad(ex, "SAMPLE temperature %g is not finite and >= 0",
				    (double)t);
	if (isnan(p))
		return jal_exec_bad(ex, "SAMPLE top-p is NaN");
	return JAL_STATUS_OK;
}

/* llama2.c's xorshift64* generator. */
static uint32_t jal_random_u32(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * 0x2545f4914f6cdd1dull) >> 32);
}

static float jal_random_f32(uint64_t *state)
{
	return (float)(jal_random_u32(state) >> 8) / 16777216.0f;
}

static uint64_t jal_sample_mult(const float *p, uint64_t n, float coin)
{
	float cdf = 0.0f;
	uint64_t i;

	for (i = 0; i < n; i++) {
		cdf += p[i];
		if (coin < cdf)
			return i;
	}
	return n - 1;	/* rounding left the cdf short of the coin */
}

/* Descending probability, ties by ascending index: a total order. */
static int jal_cand_cmp(const void *a, const void *b)
{
	const struct jal_cand *x = a, *y = b;

	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* run.c's sample_topp (with the reference's fallback when none qualify). */
static uint64_t jal_sample_topp(const float *p, uint64_t n, float topp,
				struct jal_cand *cand, float coin)
{
	const float cutoff = (1.0f - topp) / (float)(n - 1);
	float cumulative = 0.0f, r, cdf = 0.0f;
	uint64_t n0 = 0, last, i;

	for (i = 0; i < n; i++) {
		if (p[i] >= cutoff) {
			cand[n0].index = (uint32_t)i;
			cand[n0].p = p[i];
			n0++;
		}
	}
	if (!n0)
		return jal_sample_mult(p, n, coin);
	qsort(cand, n0, sizeof(*cand), jal_cand_cmp);
	last = n0 - 1;
	for (i = 0; i < n0; i++) {
		cumulative += cand[i].p;
		if (cumulative > topp) {
			last = i;
			break;
		}
	}
	r = coin * cumulative;
	for (i = 0; i <= last; i++) {
		cdf += cand[i].p;
		if (r < cdf)
			return cand[i].index;
	}
	return cand[last].index;
}

enum jal_status jal_op_sample(struct jal_exec *ex, const struct jal_insn *in)
{
	float temp = jal_f32(in->imm[0]), topp = jal_f32(in->imm[1]), coin;
	struct jal_worker *w = ex->w;
	uint64_t n, q, index, state = ex->regs[in->r[2]];
	struct jal_span s;
	enum jal_status st;

	st = jal_exec_dim(ex, in, 0, &n);
	if (st)
		return st;
	if (!n || n > JAL_SAMPLE_MAX_LOGITS)
		return jal_exec_bad(ex, "SAMPLE of %llu logits (1..%u)",
				    (unsigned long long)n, JAL_SAMPLE_MAX_LOGITS);
	st = jal_exec_charge(ex, 4 * n);
	if (!st)
		st = jal_span_init(ex, &s, "logits", ex->regs[in->r[1]],
				   jal_extent(n, 4, 4), 4, false);
	if (st)
		return st;
	if (temp == 0.0f) {
		st = jal_argmax(ex, &s, n, &index);
		if (!st)
			ex->regs[in->r[0]] = index;
		return st;
	}
	if (!jal_sample_buffers(ex))
		return JAL_STATUS_BUS_ERROR;
	st = jal_span_read(ex, &s, 0, w->sample_prob, n * 4);
	if (st)
		return st;
	jal_le_to_host(w->sample_prob, n, 4);
	for (q = 0; q < n; q++)
		w->sample_prob[q] /= temp;
	jal_softmax_buf(jal_kern(ex), w->sample_prob, (size_t)n);
	coin = jal_random_f32(&state);
	if (topp <= 0.0f || topp >= 1.0f)
		index = jal_sample_mult(w->sample_prob, n, coin);
	else
		index = jal_sample_topp(w->sample_prob, n, topp, w->sample_cand,
					coin);
	ex->regs[in->r[2]] = state;
	ex->regs[in->r[0]] = index;
	return JAL_STATUS_OK;
}

enum jal_status jal_check_embed(struct jal_exec *ex, const struct jal_insn *in)
{
	if (in->dtype != JAL_DTYPE_Q8 && (in->r[3] || in->stride[3]))
		return jal_exec_bad(ex, "r[3] and stride[3] (Q8 scales) are not used with dtype %u",
				    in->dtype);
	return JAL_STATUS_OK;
}

/* VA of item @index of @bytes each after @base, or an MMU fault. */
static enum jal_status jal_index_va(struct jal_exec *ex, uint64_t base,
				    uint64_t index, uint64_t bytes, uint64_t *va)
{
	unsigned __int128 a = (unsigned __int128)index * bytes + base;

	if (a >= JAL_VA_LIMIT) {
		ex->job->fault_addr = a > UINT64_MAX ? UINT64_MAX : (uint64_t)a;
		ex->job->fault_write = false;
		return JAL_STATUS_MMU_UNMAPPED;
	}
	*va = (uint64_t)a;
	return JAL_STATUS_OK;
}

enum jal_status jal_op_embed(struct jal_exec *ex, const struct jal_insn *in)
{
	static const unsigned int esize[3] = { 4, 2, 1 };
	const struct jal_kernels *k = jal_kern(ex);
	unsigned int es = esize[in->dtype];
	uint64_t dim, row, rows, pitch, group = 0, va, sva = 0, done;
	uint8_t *raw = (uint8_t *)ex->w->scratch;
	float *out = ex->w->vec[2], *sc = ex->w->vec[1];
	struct jal_span table, scales = { 0 };
	struct jal_vecs v;
	enum jal_status st;
	size_t m, i;

	st = jal_exec_dim(ex, in, 0, &dim);
	if (!st)
		st = jal_exec_dim(ex, in, 1, &row);
	if (!st)
		st = jal_exec_dim(ex, in, 2, &rows);
	if (st)
		return st;
	pitch = in->stride[1] ? in->stride[1] : dim;
	if (pitch < dim)
		return jal_exec_bad(ex, "row pitch %llu is less than the row (%llu)",
				    (unsigned long long)pitch,
				    (unsigned long long)dim);
	if (in->dtype == JAL_DTYPE_Q8) {
		group = in->stride[3];
		if (!group || dim % group)
			return jal_exec_bad(ex, "Q8 group size %llu does not divide the row of %llu",
					    (unsigned long long)group,
					    (unsigned long long)dim);
	}
	if (row >= rows)
		return jal_exec_bad(ex, "row %llu is outside the table of %llu rows",
				    (unsigned long long)row,
				    (unsigned long long)rows);
	st = jal_exec_charge(ex, dim);
	if (st || !dim)
		return st;
	st = jal_vecs_init(ex, &v, dim, in, true, 0);
	if (!st && ex->regs[in->r[1]] % es)
		st = jal_exec_bad(ex, "table at 0x%llx is not %u-byte aligned",
				  (unsigned long long)ex->regs[in->r[1]], es);
	if (!st)
		st = jal_index_va(ex, ex->regs[in->r[1]], row, pitch * es, &va);
	if (!st)
		st = jal_span_init(ex, &table, "table row", va,
				   jal_extent(dim, es, es), es, false);
	if (!st && group) {
		if (ex->regs[in->r[3]] % 4)
			st = jal_exec_bad(ex, "scales at 0x%llx are not 4-byte aligned",
					  (unsigned long long)ex->regs[in->r[3]]);
		if (!st)
			st = jal_index_va(ex, ex->regs[in->r[3]], row,
					  dim / group * 4, &sva);
		if (!st)
			st = jal_span_init(ex, &scales, "scales", sva,
					   jal_extent(dim / group, 4, 4), 4, false);
	}
	if (st)
		return jal_vecs_finish(&v, st);
	if (!v.staged && (jal_span_overlap(&v.d, &table) ||
			  jal_span_overlap(&v.d, &scales))) {
		v.staged = malloc(dim * sizeof(float));
		if (!v.staged) {
			jal_log(ex->job->dev, "out of host memory staging %llu results",
				(unsigned long long)dim);
			return JAL_STATUS_BUS_ERROR;
		}
	}
	for (done = 0, m = 0; jal_chunk_next(ex, dim, &done, &m, &st);) {
		st = jal_span_read(ex, &table, done * es, raw, m * es);
		if (st)
			break;
		jal_le_to_host(raw, m, es);
		if (in->dtype == JAL_DTYPE_F32) {
			memcpy(out, raw, m * 4);
		} else if (in->dtype == JAL_DTYPE_BF16) {
			k->dec_bf16(out, (const uint16_t *)raw, m);
		} else {
			/* Scales of the groups this chunk touches. */
			uint64_t g0 = done / group, g1 = (done + m - 1) / group;

			st = jal_span_read(ex, &scales, g0 * 4, sc,
					   (g1 - g0 + 1) * 4);
			if (st)
				break;
			jal_le_to_host(sc, g1 - g0 + 1, 4);
			for (i = 0; i < m; i++)
				out[i] = (float)((const int8_t *)raw)[i] *
					 sc[(done + i) / group - g0];
		}
		st = jal_vecs_out(&v, done, out, m);
	}
	return jal_vecs_finish(&v, st);
}

/* ATTENTION */

struct jal_att {
	struct jal_exec *ex;
	uint64_t heads, hs, kv_heads, len;	/* H, head size, G, T */
	uint64_t kpitch, vpitch;		/* floats between positions */
	float scale;				/* sqrtf(head size) */
	struct jal_span out, q, k, v;
	/*
	 * PAGED_ATTENTION: positions t of the row are in blocks of @block
	 * positions, kblk[t / block] and vblk[t / block]; 0 for ATTENTION.
	 */
	uint64_t block;
	struct jal_span *kblk, *vblk;
	/*
	 * PAGED_ATTENTION with bf16 pools: positions are decoded to f32 into
	 * @dec (the calling thread's JAL_PANEL_ELEMS floats) before use.
	 */
	bool kv_bf16;
	float *dec;
	bool kv_in_place;			/* every K and V position */
	float *staged;				/* all of out */
	struct jal_claim heads_left;
	atomic_bool bad;			/* a part hit a memory error */
};

/*
 * The bf16 form of jal_att_rows(): at most as many positions as @a->dec
 * holds, decoded exactly (bf16 is the top half of an f32), so that the
 * scores and the weighted sum see the same f32 values an f32 pool holding
 * the decoded keys and values would give them. Out of place the raw
 * values come through the worker's bounce buffer (worker only, as there).
 */
static const float *jal_att_rows_bf16(struct jal_att *a, const struct jal_span *s,
				      uint64_t g, uint64_t first, uint64_t p,
				      size_t *n, size_t *pitch,
				      enum jal_status *st)
{
	const struct jal_kernels *k = jal_kern(a->ex);
	uint16_t *raw = (uint16_t *)a->ex->w->wbuf;
	uint64_t t;

	*n = (size_t)JAL_MIN((uint64_t)*n, JAL_PANEL_ELEMS / a->hs);
	*pitch = (size_t)a->hs;
	for (t = 0; t < *n; t++) {
		uint64_t off = (first + t) * p + g * a->hs;
		float *dst = a->dec + t * a->hs;

		if (s->ptr) {
			k->dec_bf16(dst, (const uint16_t *)s->ptr + off, (size_t)a->hs);
			continue;
		}
		*st = jal_span_read(a->ex, s, off * 2, raw, a->hs * 2);
		if (*st)
			return NULL;
		jal_le_to_host(raw, (size_t)a->hs, 2);
		k->dec_bf16(dst, raw, (size_t)a->hs);
	}
	return a->dec;
}

/*
 * Keys (or values) of KV head @g for positions from @t0 on, at most *@n
 * of them: as many as are contiguous (*@n is lowered to that), in place
 * or read into the worker's bounce buffer (worker only).
 */
static const float *jal_att_rows(struct jal_att *a, bool values, uint64_t g,
				 uint64_t t0, size_t *n, size_t *pitch,
				 enum jal_status *st)
{
	const struct jal_span *s = values ? &a->v : &a->k;
	uint64_t p = values ? a->vpitch : a->kpitch, first = t0, t;
	float *buf = (float *)a->ex->w->wbuf;

	if (a->block) {
		s = values ? &a->vblk[t0 / a->block] : &a->kblk[t0 / a->block];
		first = t0 % a->block;
		*n = (size_t)JAL_MIN((uint64_t)*n, a->block - first);
	}
	*st = JAL_STATUS_OK;
	if (a->kv_bf16)
		return jal_att_rows_bf16(a, s, g, first, p, n, pitch, st);
	if (s->ptr) {
		*pitch = (size_t)p;
		return (const float *)s->ptr + first * p + g * a->hs;
	}
	*pitch = (size_t)a->hs;
	for (t = 0; !*st && t < *n; t++)
		*st = jal_span_read(a->ex, s, ((first + t) * p + g * a->hs) * 4,
				    buf + t * a->hs, a->hs * 4);
	jal_le_to_host(buf, *n * a->hs, 4);
	return buf;
}

/* Positions per block: what the scores and the bounce buffer hold. */
static size_t jal_att_block(const struct jal_att *a)
{
	size_t b = JAL_ATT_SCORE_BLOCK;

	if (!a->kv_in_place)
		b = JAL_MIN(b, JAL_WBUF_BYTES / 4 / a->hs);
	return b;
}

/*
 * s[0..n) = scores of positions [t0, t0 + n) for query @qh, a contiguous
 * run of positions at a time (every score is its own dot product).
 */
static enum jal_status jal_att_scores(struct jal_att *a, const float *qh,
				      uint64_t g, uint64_t t0, size_t n,
				      float *s)
{
	const struct jal_kernels *k = jal_kern(a->ex);
	enum jal_status st;
	const float *rows;
	size_t pitch, run;

	for (; n; n -= run, t0 += run, s += run) {
		run = n;
		if (a->kv_bf16 && a->kblk[t0 / a->block].ptr) {
			/*
			 * A bf16 block in place: MATVEC's bf16 kernel, whose
			 * results are those of the decoded rows (isa.rst), without
			 * decoding them first.
			 */
			uint64_t first = t0 % a->block;

			run = (size_t)JAL_MIN((uint64_t)run, a->block - first);
			k->mv_bf16(s, (const uint16_t *)a->kblk[t0 / a->block].ptr +
				   first * a->kpitch + g * a->hs, (size_t)a->kpitch, qh, run,
				   (size_t)a->hs);
		} else {
			rows = jal_att_rows(a, false, g, t0, &run, &pitch, &st);
			if (st)
				return st;
			k->mv_f32(s, rows, pitch, qh, run, (size_t)a->hs);
		}
		k->div(s, s, a->scale, run);	/* run.c divides by sqrtf(head size) */
	}
	return JAL_STATUS_OK;
}

/*
 * acc += sum over the block of p[t] * v[t], in order of t (pv adds each
 * product to acc in turn, so runs of positions give the same bits).
 */
static enum jal_status jal_att_values(struct jal_att *a, float *acc,
				      const float *p, uint64_t g, uint64_t t0,
				      size_t n)
{
	enum jal_status st;
	const float *rows;
	size_t pitch, run;

	for (; n; n -= run, t0 += run, p += run) {
		run = n;
		rows = jal_att_rows(a, true, g, t0, &run, &pitch, &st);
		if (st)
			return st;
		jal_kern(a->ex)->pv(acc, p, rows, pitch, run, (size_t)a->hs);
	}
	return JAL_STATUS_OK;
}

/*
 * One head: run.c's scores, softmax and weighted sum of values. Scores
 * of more than one block are recomputed in each pass instead of stored
 * (the same bits each time).
 */
static enum jal_status jal_att_head(struct jal_att *a, struct jal_tscratch *ts,
				    uint64_t h)
{
	uint64_t g = h / (a->heads / a->kv_heads), T = a->len, t0;
	const struct jal_kernels *k = jal_kern(a->ex);
	size_t blk = jal_att_block(a), n, i;
	float *s = ts->att_s, *acc = ts->att_acc, max = 0.0f, sum = 0.0f;
	const float *qh;
	enum jal_status st;

	if (a->q.ptr) {
		qh = (const float *)a->q.ptr + h * a->hs;
	} else {
		st = jal_span_read(a->ex, &a->q, h * a->hs * 4, ts->att_q,
				   a->hs * 4);
		if (st)
			return st;
		jal_le_to_host(ts->att_q, a->hs, 4);
		qh = ts->att_q;
	}
	memset(acc, 0, a->hs * sizeof(float));
	if (T <= blk) {
		n = (size_t)T;
		st = jal_att_scores(a, qh, g, 0, n, s);
		if (st)
			return st;
		jal_softmax_buf(k, s, n);
		st = jal_att_values(a, acc, s, g, 0, n);
	} else {
		for (t0 = 0; t0 < T; t0 += n) {
			if (atomic_load_explicit(&a->ex->job->dev->abort,
						 memory_order_relaxed))
				return JAL_STATUS_ABORTED;
			n = (size_t)JAL_MIN(T - t0, (uint64_t)blk);
			st = jal_att_scores(a, qh, g, t0, n, s);
			if (st)
				return st;
			max = k->max(s, n, t0 ? max : s[0]);
		}
		for (t0 = 0; t0 < T; t0 += n) {
			if (atomic_load_explicit(&a->ex->job->dev->abort,
						 memory_order_relaxed))
				return JAL_STATUS_ABORTED;
			n = (size_t)JAL_MIN(T - t0, (uint64_t)blk);
			st = jal_att_scores(a, qh, g, t0, n, s);
			if (st)
				return st;
			for (i = 0; i < n; i++)
				sum += expf(s[i] - max);
		}
		for (t0 = 0, st = JAL_STATUS_OK; !st && t0 < T; t0 += n) {
			if (atomic_load_explicit(&a->ex->job->dev->abort,
						 memory_order_relaxed))
				return JAL_STATUS_ABORTED;
			n = (size_t)JAL_MIN(T - t0, (uint64_t)blk);
			st = jal_att_scores(a, qh, g, t0, n, s);
			if (st)
				return st;
			for (i = 0; i < n; i++)
				s[i] = expf(s[i] - max);
			k->div(s, s, sum, n);
			st = jal_att_values(a, acc, s, g, t0, n);
		}
	}
	if (st)
		return st;
	if (a->staged) {
		memcpy(a->staged + h * a->hs, acc, a->hs * sizeof(float));
		return JAL_STATUS_OK;
	}
	return jal_span_put_f32(a->ex, &a->out, h * a->hs, acc, (size_t)a->hs);
}

/* Heads split over the compute threads: everything is in place here. */
static void jal_att_part(void *arg, unsigned int thread)
{
	struct jal_att *a = arg;
	struct jal_tscratch *ts = &a->ex->job->dev->worker.ts[thread];
	uint64_t h, end;

	while (jal_claim(&a->heads_left, thread, &h, &end)) {
		if (atomic_load_explicit(&a->ex->job->dev->abort,
					 memory_order_relaxed) ||
		    jal_att_head(a, ts, h) != JAL_STATUS_OK) {
			atomic_store(&a->bad, true);
			return;
		}
	}
}

/* ATTENTION's and PAGED_ATTENTION's heads: H query heads over G KV heads. */
static enum jal_status jal_att_check_heads(struct jal_exec *ex, uint64_t heads,
					   uint64_t hs, uint64_t kv_heads)
{
	if (!hs || hs > JAL_ATTENTION_MAX_HEAD_SIZE)
		return jal_exec_bad(ex, "head size %llu is not in 1..%u",
				    (unsigned long long)hs,
				    JAL_ATTENTION_MAX_HEAD_SIZE);
	if (!kv_heads || heads % kv_heads)
		return jal_exec_bad(ex, "%llu KV heads do not divide %llu query heads",
				    (unsigned long long)kv_heads,
				    (unsigned long long)heads);
	return JAL_STATUS_OK;
}

/*
 * Every head of one query: split over the compute threads when q and the
 * whole KV cache are in place (out must then be in place too, or
 * staged), else one after the other on the worker; staged results go to
 * out at the end. @work: multiply-adds, to decide on sharing.
 */
static enum jal_status jal_att_heads(struct jal_att *a, uint64_t work)
{
	struct jal_exec *ex = a->ex;
	enum jal_status st = JAL_STATUS_OK;
	uint64_t h, done, c;

	atomic_init(&a->bad, false);
	if (a->q.ptr && a->kv_in_place) {
		jal_claim_init(&a->heads_left, a->heads, 1);
		jal_pool_run(&ex->job->dev->pool, jal_exec_share(ex, work / 2),
			     jal_att_part, a);
		if (jal_job_aborted(ex->job))
			st = JAL_STATUS_ABORTED;
		else if (atomic_load(&a->bad))
			st = JAL_STATUS_BUS_ERROR;	/* not reachable in place */
	} else {
		for (h = 0; !st && h < a->heads; h++) {
			if (jal_job_aborted(ex->job))
				st = JAL_STATUS_ABORTED;
			else
				st = jal_att_head(a, &ex->w->ts[0], h);
		}
	}
	for (done = 0; !st && a->staged && done < a->heads * a->hs; done += c) {
		c = JAL_MIN(a->heads * a->hs - done, (uint64_t)JAL_VEC_CHUNK);
		st = jal_span_put_f32(ex, &a->out, done, a->staged + done, (size_t)c);
	}
	return st;
}

enum jal_status jal_op_attention(struct jal_exec *ex, const struct jal_insn *in)
{
	struct jal_att a = { .ex = ex };
	uint64_t rowlen, work;
	enum jal_status st;
	bool parallel;

	st = jal_exec_dim(ex, in, 0, &a.heads);
	if (!st)
		st = jal_exec_dim(ex, in, 1, &a.hs);
	if (!st)
		st = jal_exec_dim(ex, in, 2, &a.kv_heads);
	if (!st)
		st = jal_exec_dim(ex, in, 3, &a.len);
	if (st)
		return st;
	st = jal_att_check_heads(ex, a.heads, a.hs, a.kv_heads);
	if (st)
		return st;
	if (!a.len)
		return jal_exec_bad(ex, "ATTENTION over no positions");
	rowlen = a.kv_heads * a.hs;
	a.kpitch = in->stride[2] ? in->stride[2] : rowlen;
	a.vpitch = in->stride[3] ? in->stride[3] : rowlen;
	if (a.kpitch < rowlen || a.vpitch < rowlen)
		return jal_exec_bad(ex, "KV cache position pitch %llu/%llu is less than %llu",
				    (unsigned long long)a.kpitch,
				    (unsigned long long)a.vpitch,
				    (unsigned long long)rowlen);
	work = (uint64_t)JAL_MIN((unsigned __int128)a.heads * a.hs * a.len * 2,
				 (unsigned __int128)UINT64_MAX);
	st = jal_exec_charge(ex, work);
	if (st || !a.heads)
		return st;
	st = jal_span_init(ex, &a.out, "out", ex->regs[in->r[0]],
			   jal_extent(a.heads * a.hs, 4, 4), 4, true);
	if (!st)
		st = jal_span_init(ex, &a.q, "q", ex->regs[in->r[1]],
				   jal_extent(a.heads * a.hs, 4, 4), 4, false);
	if (!st)
		st = jal_span_init(ex, &a.k, "K", ex->regs[in->r[2]],
				   jal_extent(a.len, a.kpitch * 4, rowlen * 4), 4,
				   false);
	if (!st)
		st = jal_span_init(ex, &a.v, "V", ex->regs[in->r[3]],
				   jal_extent(a.len, a.vpitch * 4, rowlen * 4), 4,
				   false);
	if (st)
		return st;
	a.scale = sqrtf((float)a.hs);
	a.kv_in_place = a.k.ptr && a.v.ptr;
	parallel = a.q.ptr && a.kv_in_place;
	/*
	 * Heads read only their own query, so out == q is safe; any other
	 * overlap, and out not in place while heads run in parallel, stage.
	 */
	if (jal_span_overlap(&a.out, &a.k) || jal_span_overlap(&a.out, &a.v) ||
	    (jal_span_overlap(&a.out, &a.q) && !jal_span_same(&a.out, &a.q)) ||
	    (parallel && !a.out.ptr)) {
		a.staged = malloc(a.heads * a.hs * sizeof(float));
		if (!a.staged) {
			jal_log(ex->job->dev, "out of host memory staging %llu results",
				(unsigned long long)(a.heads * a.hs));
			return JAL_STATUS_BUS_ERROR;
		}
	}
	st = jal_att_heads(&a, work);
	free(a.staged);
	return st;
}

/*
 * PAGED_ATTENTION and PAGED_KV_STORE: B rows, each of its own sequence,
 * whose KV cache is in pools of blocks of @block positions (a position:
 * G * hs floats, as one position of ATTENTION's cache); row b's block
 * table, @cap u32 block indices at entry b * @tpitch of the tables (0:
 * one table for all rows), lists its blocks in position order.
 * PAGED_ATTENTION runs ATTENTION's head code with the positions looked
 * up block by block, so a row's results are those of ATTENTION over a
 * contiguous cache holding the same keys and values, bit for bit; the
 * heads of all rows are the work items the compute threads share.
 */
struct jal_paged {
	struct jal_exec *ex;
	uint64_t rows;				/* B */
	uint64_t hs, kv_heads, rowlen;		/* rowlen = G * hs floats */
	uint64_t block, pool;			/* positions a block, blocks a pool */
	unsigned int esize;			/* bytes of a pool element */
	uint64_t block_bytes;
	uint64_t cap, tpitch;			/* table entries */
	uint64_t kpool, vpool;			/* VAs of the pools */
	struct jal_span counts;			/* u32 lengths or positions */
	struct jal_span tables;
	uint32_t *table;			/* @cap entries of one row */
};

enum jal_status jal_check_paged(struct jal_exec *ex, const struct jal_insn *in)
{
	if (in->imm[0] >= JAL_NUM_REGS || in->imm[1] >= JAL_NUM_REGS)
		return jal_exec_bad(ex, "imm[0] = %u and imm[1] = %u do not both name registers",
				    in->imm[0], in->imm[1]);
	if (!in->imm[2])
		return jal_exec_bad(ex, "KV blocks of no positions");
	if (!in->imm[3])
		return jal_exec_bad(ex, "KV pools of no blocks");
	if (!in->stride[2] || in->stride[2] > JAL_PAGED_MAX_BLOCKS)
		return jal_exec_bad(ex, "block tables of %u entries (1..%u)",
				    in->stride[2], JAL_PAGED_MAX_BLOCKS);
	if (in->stride[3] && in->stride[3] < in->stride[2])
		return jal_exec_bad(ex, "block table pitch %u is less than a table of %u",
				    in->stride[3], in->stride[2]);
	return JAL_STATUS_OK;
}

/*
 * The fields both opcodes share: dim[1] = head size, dim[2] = G, dim[3] =
 * B; r[2], r[3] = K and V pools; stride[2], stride[3] = table size and
 * pitch; imm[0], imm[1] = registers of the per-row u32 array and of the
 * tables; imm[2] = block size, imm[3] = blocks a pool.
 */
static enum jal_status jal_paged_init(struct jal_exec *ex,
				      const struct jal_insn *in,
				      struct jal_paged *pg, uint64_t heads,
				      const char *counts)
{
	enum jal_status st;

	memset(pg, 0, sizeof(*pg));
	pg->ex = ex;
	st = jal_exec_dim(ex, in, 1, &pg->hs);
	if (!st)
		st = jal_exec_dim(ex, in, 2, &pg->kv_heads);
	if (!st)
		st = jal_exec_dim(ex, in, 3, &pg->rows);
	if (!st)
		st = jal_att_check_heads(ex, heads, pg->hs, pg->kv_heads);
	if (st)
		return st;
	if (pg->rows > JAL_ROWS_MAX)
		return jal_exec_bad(ex, "%llu rows, more than %u",
				    (unsigned long long)pg->rows, JAL_ROWS_MAX);
	pg->rowlen = pg->kv_heads * pg->hs;
	pg->block = in->imm[2];
	pg->pool = in->imm[3];
	/* dtype is that of the pools (F32 or BF16, checked statically). */
	pg->esize = in->dtype == JAL_DTYPE_BF16 ? 2 : 4;
	pg->block_bytes = jal_extent(pg->block, pg->rowlen * pg->esize,
				     pg->rowlen * pg->esize);
	if (pg->block_bytes > JAL_MAX_EXTENT)
		return jal_exec_bad(ex, "a KV block of %llu positions of %llu elements is larger than %llu bytes",
				    (unsigned long long)pg->block,
				    (unsigned long long)pg->rowlen,
				    (unsigned long long)JAL_MAX_EXTENT);
	pg->cap = in->stride[2];
	pg->tpitch = in->stride[3];
	pg->kpool = ex->regs[in->r[2]];
	pg->vpool = ex->regs[in->r[3]];
	if (!pg->rows)
		return JAL_STATUS_OK;
	st = jal_span_init(ex, &pg->counts, counts, ex->regs[in->imm[0]],
			   pg->rows * 4, 4, false);
	if (!st)
		st = jal_span_init(ex, &pg->tables, "block tables",
				   ex->regs[in->imm[1]],
				   pg->tpitch ? jal_extent(pg->rows, pg->tpitch * 4,
							   pg->cap * 4) :
						pg->cap * 4,
				   4, false);
	if (st)
		return st;
	pg->table = malloc(pg->cap * sizeof(uint32_t));
	if (!pg->table) {
		jal_log(ex->job->dev, "out of host memory for a block table");
		return JAL_STATUS_BUS_ERROR;
	}
	return JAL_STATUS_OK;
}

static uint32_t jal_paged_count(struct jal_paged *pg, uint64_t b,
				enum jal_status *st)
{
	uint32_t v = 0;

	*st = jal_span_read(pg->ex, &pg->counts, b * 4, &v, 4);
	return jal_le32(v);
}

/*
 * Entries [first, first + n) of row @b's block table as the spans of
 * their K and V blocks; an entry outside the pool is BAD_INSN.
 */
static enum jal_status jal_paged_blocks(struct jal_paged *pg, uint64_t b,
					uint64_t first, uint64_t n,
					struct jal_span *kblk,
					struct jal_span *vblk, bool write)
{
	struct jal_exec *ex = pg->ex;
	enum jal_status st;
	uint64_t j, va;

	st = jal_span_read(ex, &pg->tables, (b * pg->tpitch + first) * 4,
			   pg->table, n * 4);
	for (j = 0; !st && j < n; j++) {
		uint32_t idx = jal_le32(pg->table[j]);

		if (idx >= pg->pool)
			return jal_exec_bad(ex, "row %llu: block table entry %llu is block %u, outside the pool of %llu",
					    (unsigned long long)b,
					    (unsigned long long)(first + j), idx,
					    (unsigned long long)pg->pool);
		st = jal_index_va(ex, pg->kpool, idx, pg->block_bytes, &va);
		if (!st)
			st = jal_span_init(ex, &kblk[j], "K block", va,
					   pg->block_bytes, pg->esize, write);
		if (!st)
			st = jal_index_va(ex, pg->vpool, idx, pg->block_bytes, &va);
		if (!st)
			st = jal_span_init(ex, &vblk[j], "V block", va,
					   pg->block_bytes, pg->esize, write);
	}
	return st;
}

/* Row pitch of an operand of B rows of @row floats (stride 0: @row). */
static enum jal_status jal_paged_rows(struct jal_exec *ex, struct jal_span *s,
				      const char *name, uint64_t va,
				      uint64_t rows, uint32_t stride,
				      uint64_t row, bool write, uint64_t *pitch)
{
	*pitch = stride ? stride : row;
	if (*pitch < row)
		return jal_exec_bad(ex, "row pitch %llu of %s is less than a row of %llu",
				    (unsigned long long)*pitch, name,
				    (unsigned long long)row);
	return jal_span_init(ex, s, name, va, jal_extent(rows, *pitch * 4, row * 4),
			     4, write);
}

/* One row of a PAGED_ATTENTION. */
struct jal_paged_row {
	uint64_t len;				/* positions it attends */
	uint64_t blk;				/* its first block's span */
	struct jal_span q;
};

/*
 * A group of PAGED_ATTENTION rows whose blocks are resolved: its work
 * items are (row, head) pairs, so the heads of all its rows are shared
 * among the compute threads, not only those of one row.
 */
struct jal_paged_att {
	struct jal_exec *ex;
	uint64_t heads, hs, kv_heads, rowlen, block;
	float scale;
	bool kv_bf16;				/* bf16 pools */
	struct jal_paged_row *rows;		/* the group's first row */
	struct jal_span *kblk, *vblk;		/* the group's blocks */
	float *staged;				/* the group's first output row */
	bool in_place;				/* every query and block */
	struct jal_claim items;
	atomic_bool bad;
};

/* Item @item of the group: ATTENTION's head code on a view of its row. */
static enum jal_status jal_paged_head(struct jal_paged_att *pa,
				      struct jal_tscratch *ts, uint64_t item)
{
	uint64_t b = item / pa->heads;
	const struct jal_paged_row *row = &pa->rows[b];
	struct jal_att a = {
		.ex = pa->ex, .heads = pa->heads, .hs = pa->hs,
		.kv_heads = pa->kv_heads, .len = row->len,
		.kpitch = pa->rowlen, .vpitch = pa->rowlen, .scale = pa->scale,
		.q = row->q, .block = pa->block, .kblk = pa->kblk + row->blk,
		.vblk = pa->vblk + row->blk, .kv_in_place = pa->in_place,
		.staged = pa->staged + b * pa->heads * pa->hs,
		/* MATMUL's panel is free while a PAGED_ATTENTION runs. */
		.kv_bf16 = pa->kv_bf16, .dec = ts->panel,
	};

	return jal_att_head(&a, ts, item % pa->heads);
}

static void jal_paged_part(void *arg, unsigned int thread)
{
	struct jal_paged_att *pa = arg;
	struct jal_tscratch *ts = &pa->ex->job->dev->worker.ts[thread];
	uint64_t i, end;

	while (jal_claim(&pa->items, thread, &i, &end)) {
		for (; i < end; i++) {
			if (atomic_load_explicit(&pa->ex->job->dev->abort,
						 memory_order_relaxed) ||
			    jal_paged_head(pa, ts, i) != JAL_STATUS_OK) {
				atomic_store(&pa->bad, true);
				return;
			}
		}
	}
}

/* The group's @rows rows, @work multiply-adds in all. */
static enum jal_status jal_paged_group(struct jal_paged_att *pa, uint64_t rows,
				       uint64_t work)
{
	struct jal_exec *ex = pa->ex;
	enum jal_status st = JAL_STATUS_OK;
	uint64_t i;

	if (!pa->in_place) {
		/* Bounce buffers and MMU walks: the worker's alone. */
		for (i = 0; !st && i < rows * pa->heads; i++)
			st = jal_job_aborted(ex->job) ? JAL_STATUS_ABORTED :
			     jal_paged_head(pa, &ex->w->ts[0], i);
		return st;
	}
	jal_claim_init(&pa->items, rows * pa->heads, 1);
	atomic_init(&pa->bad, false);
	jal_pool_run(&ex->job->dev->pool, jal_exec_share(ex, work / 2),
		     jal_paged_part, pa);
	if (jal_job_aborted(ex->job))
		return JAL_STATUS_ABORTED;
	if (atomic_load(&pa->bad))
		return JAL_STATUS_BUS_ERROR;	/* not reachable in place */
	return JAL_STATUS_OK;
}

/*
 * Rows from @first on, as many as JAL_PAGED_MAX_BLOCKS block spans hold
 * (at least one: a row has at most that many blocks): their blocks and
 * queries resolved into @pa, *@rows of them, @work multiply-adds.
 */
static enum jal_status jal_paged_resolve(struct jal_paged_att *pa,
					 struct jal_paged *pg,
					 const struct jal_span *q_rows,
					 uint64_t qpitch, uint64_t first,
					 uint64_t *rows, uint64_t *work)
{
	struct jal_exec *ex = pa->ex;
	enum jal_status st = JAL_STATUS_OK;
	uint64_t blk = 0, n, j, qlen = pa->heads * pa->hs;

	pa->in_place = true;
	*work = 0;
	for (*rows = 0; !st && first + *rows < pg->rows; (*rows)++) {
		struct jal_paged_row *row = &pa->rows[*rows];

		n = (row->len + pg->block - 1) / pg->block;
		if (blk + n > JAL_PAGED_MAX_BLOCKS)
			break;
		if (jal_job_aborted(ex->job))
			return JAL_STATUS_ABORTED;
		row->blk = blk;
		st = jal_paged_blocks(pg, first + *rows, 0, n, pa->kblk + blk,
				      pa->vblk + blk, false);
		for (j = 0; !st && j < n; j++)
			pa->in_place &= pa->kblk[blk + j].ptr && pa->vblk[blk + j].ptr;
		if (!st)
			st = jal_span_init(ex, &row->q, "q",
					   q_rows->va + (first + *rows) * qpitch * 4,
					   qlen * 4, 4, false);
		pa->in_place &= row->q.ptr != NULL;
		blk += n;
		*work = (uint64_t)JAL_MIN((unsigned __int128)*work +
					  (unsigned __int128)qlen * row->len * 2,
					  (unsigned __int128)UINT64_MAX);
	}
	return st;
}

/*
 * PAGED_ATTENTION: r[0] = out rows, r[1] = q rows (H * hs floats, pitches
 * stride[0] and stride[1]), dim[0] = H, lengths (u32, 1 up to the table's
 * positions) at the register imm[0] names. All outputs are staged until
 * every query, key and value was read.
 */
enum jal_status jal_op_paged_attention(struct jal_exec *ex,
				       const struct jal_insn *in)
{
	struct jal_paged_att pa = { .ex = ex };
	struct jal_paged_row *rows = NULL;
	struct jal_span q_rows, out_rows;
	uint64_t qpitch, opitch, b, n, qlen, work, done, c, blocks = 0;
	unsigned __int128 positions = 0;
	struct jal_paged pg = { 0 };
	float *staged = NULL;
	enum jal_status st;

	st = jal_exec_dim(ex, in, 0, &pa.heads);
	if (!st)
		st = jal_paged_init(ex, in, &pg, pa.heads, "lengths");
	if (!st && pg.rows) {
		rows = calloc(pg.rows, sizeof(*rows));
		if (!rows) {
			jal_log(ex->job->dev, "out of host memory for PAGED_ATTENTION");
			st = JAL_STATUS_BUS_ERROR;
		}
	}
	/* Lengths first: they decide the charge. */
	for (b = 0; !st && b < pg.rows; b++) {
		rows[b].len = jal_paged_count(&pg, b, &st);
		if (!st && (!rows[b].len || rows[b].len > pg.cap * pg.block))
			st = jal_exec_bad(ex, "row %llu attends %llu positions; its table holds 1..%llu",
					  (unsigned long long)b,
					  (unsigned long long)rows[b].len,
					  (unsigned long long)(pg.cap * pg.block));
		positions += rows[b].len;
		blocks += (rows[b].len + pg.block - 1) / pg.block;
	}
	if (!st)
		st = jal_exec_charge(ex, (uint64_t)JAL_MIN(positions * pa.heads * pg.hs * 2,
							   (unsigned __int128)UINT64_MAX));
	if (st || !pa.heads || !pg.rows)
		goto out;
	pa.hs = pg.hs;
	pa.kv_heads = pg.kv_heads;
	pa.rowlen = pg.rowlen;
	pa.block = pg.block;
	pa.kv_bf16 = pg.esize == 2;
	pa.scale = sqrtf((float)pa.hs);
	qlen = pa.heads * pa.hs;
	st = jal_paged_rows(ex, &out_rows, "out", ex->regs[in->r[0]], pg.rows,
			    in->stride[0], qlen, true, &opitch);
	if (!st)
		st = jal_paged_rows(ex, &q_rows, "q", ex->regs[in->r[1]], pg.rows,
				    in->stride[1], qlen, false, &qpitch);
	if (st)
		goto out;
	/* Groups of rows hold up to JAL_PAGED_MAX_BLOCKS blocks. */
	blocks = JAL_MIN(blocks, (uint64_t)JAL_PAGED_MAX_BLOCKS);
	pa.kblk = malloc(blocks * sizeof(*pa.kblk));
	pa.vblk = malloc(blocks * sizeof(*pa.vblk));
	staged = malloc(pg.rows * qlen * sizeof(float));
	if (!pa.kblk || !pa.vblk || !staged) {
		jal_log(ex->job->dev, "out of host memory for PAGED_ATTENTION");
		st = JAL_STATUS_BUS_ERROR;
		goto out;
	}
	for (b = 0; !st && b < pg.rows; b += n) {
		pa.rows = rows + b;
		pa.staged = staged + b * qlen;
		st = jal_paged_resolve(&pa, &pg, &q_rows, qpitch, b, &n, &work);
		if (!st)
			st = jal_paged_group(&pa, n, work);
	}
	for (b = 0; !st && b < pg.rows; b++) {
		for (done = 0; !st && done < qlen; done += c) {
			if (jal_job_aborted(ex->job)) {
				st = JAL_STATUS_ABORTED;
				break;
			}
			c = JAL_MIN(qlen - done, (uint64_t)JAL_VEC_CHUNK);
			st = jal_span_put_f32(ex, &out_rows, b * opitch + done,
					      staged + b * qlen + done, (size_t)c);
		}
	}
out:
	free(pa.kblk);
	free(pa.vblk);
	free(staged);
	free(rows);
	free(pg.table);
	return st;
}

/* Copy @len bytes from @src at @soff to @dst at @doff, a chunk at a time. */
static enum jal_status jal_span_copy(struct jal_exec *ex,
				     const struct jal_span *dst, uint64_t doff,
				     const struct jal_span *src, uint64_t soff,
				     uint64_t len)
{
	enum jal_status st = JAL_STATUS_OK;
	uint64_t done;
	size_t m;

	for (done = 0, m = 0; jal_chunk_next(ex, len, &done, &m, &st);) {
		st = jal_span_read(ex, src, soff + done, ex->w->dma_buf, m);
		if (!st)
			st = jal_span_write(ex, dst, doff + done, ex->w->dma_buf, m);
	}
	return st;
}

/* f32 -> bf16, round to nearest even; a NaN stays a NaN (made quiet). */
static uint16_t jal_bf16_round(uint32_t u)
{
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x0040u);
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/*
 * @n floats from @src at byte @soff rounded to bf16 into @dst at byte
 * @doff, a chunk at a time (bf16 pools of PAGED_KV_STORE).
 */
static enum jal_status jal_span_store_bf16(struct jal_exec *ex,
					   const struct jal_span *dst, uint64_t doff,
					   const struct jal_span *src, uint64_t soff,
					   uint64_t n)
{
	uint16_t *h = (uint16_t *)ex->w->vec[0];
	enum jal_status st = JAL_STATUS_OK;
	uint32_t *u = (uint32_t *)ex->w->dma_buf;
	uint64_t done;
	size_t m, i;

	for (done = 0, m = 0; jal_chunk_next(ex, n, &done, &m, &st);) {
		st = jal_span_read(ex, src, soff + done * 4, u, m * 4);
		if (st)
			break;
		for (i = 0; i < m; i++)
			h[i] = jal_le16(jal_bf16_round(jal_le32(u[i])));
		st = jal_span_write(ex, dst, doff + done * 2, h, m * 2);
	}
	return st;
}

/*
 * PAGED_KV_STORE: for each row b, k row b (r[0], pitch stride[0]) and v
 * row b (r[1], pitch stride[1]) of G * hs floats go to slot pos % block of
 * block table_b[pos / block] of the K and V pools, pos the row's u32 at
 * the register imm[0] names.
 */
enum jal_status jal_op_paged_kv_store(struct jal_exec *ex,
				      const struct jal_insn *in)
{
	struct jal_span k_rows, v_rows, kblk, vblk;
	uint64_t kpitch, vpitch, b, pos, slot;
	struct jal_paged pg;
	enum jal_status st;

	/* No query heads: any G divides none. */
	st = jal_paged_init(ex, in, &pg, 0, "positions");
	if (!st)
		st = jal_exec_charge(ex, pg.rows * pg.rowlen * 2);
	if (!st && pg.rows)
		st = jal_paged_rows(ex, &k_rows, "k", ex->regs[in->r[0]], pg.rows,
				    in->stride[0], pg.rowlen, false, &kpitch);
	if (!st && pg.rows)
		st = jal_paged_rows(ex, &v_rows, "v", ex->regs[in->r[1]], pg.rows,
				    in->stride[1], pg.rowlen, false, &vpitch);
	for (b = 0; !st && b < pg.rows; b++) {
		pos = jal_paged_count(&pg, b, &st);
		if (!st && pos / pg.block >= pg.cap)
			st = jal_exec_bad(ex, "row %llu: position %llu is beyond its table of %llu blocks of %llu",
					  (unsigned long long)b,
					  (unsigned long long)pos,
					  (unsigned long long)pg.cap,
					  (unsigned long long)pg.block);
		if (!st)
			st = jal_paged_blocks(&pg, b, pos / pg.block, 1, &kblk,
					      &vblk, true);
		slot = pos % pg.block * pg.rowlen * pg.esize;
		if (!st && pg.esize == 2)
			st = jal_span_store_bf16(ex, &kblk, slot, &k_rows,
						 b * kpitch * 4, pg.rowlen);
		else if (!st)
			st = jal_span_copy(ex, &kblk, slot, &k_rows,
					   b * kpitch * 4, pg.rowlen * 4);
		if (!st && pg.esize == 2)
			st = jal_span_store_bf16(ex, &vblk, slot, &v_rows,
						 b * vpitch * 4, pg.rowlen);
		else if (!st)
			st = jal_span_copy(ex, &vblk, slot, &v_rows,
					   b * vpitch * 4, pg.rowlen * 4);
	}
	free(pg.table);
	return st;
}

/*
 * JAL_INSN_F_ROWS: the LLM building blocks over B rows (the B sequences
 * of a decode step, or the B positions of a prompt).
 *
 * Each row runs the opcode's single-row handler on a view of that row:
 * the same instruction with the row's operand addresses, and ROPE's
 * position, EMBED's token id and SAMPLE's state and parameters taken from
 * the row's entry of their arrays. A row's result is therefore the
 * single-row instruction's on that row, bit for bit, whatever B is and
 * whatever else is in the batch, and the arithmetic lives in one place.
 *
 * The whole instruction is checked (row count, pitches, alignment and
 * extent of every operand over all its rows) and charged before the
 * first row runs; rows then run in order, each reading its inputs before
 * writing its results.
 */

/* A per-row array of an opcode: one entry of @size bytes a row. */
struct jal_rows_array {
	uint8_t reg;			/* r[reg] holds its VA */
	uint8_t size;			/* 0: no array */
	uint8_t align;
	bool write;
	const char *name;
};

#define JAL_ROWS_ARRAYS		3

struct jal_rows_info {
	/* Bit k: operand r[k] is a row of dim[0] f32, stride[k] apart. */
	uint8_t pitched;
	/* Elements charged per row, in units of dim[0]. */
	uint8_t cost;
	struct jal_rows_array arrays[JAL_ROWS_ARRAYS];
};

static const struct jal_rows_info jal_rows_info[256] = {
	/* RMSNORM's weights (r[2]) are the same for every row. */
	[JAL_OP_RMSNORM] = { 0x3, 2 },
	[JAL_OP_SOFTMAX] = { 0x3, 3 },
	[JAL_OP_ROPE] = { 0x3, 1, { { 2, 4, 4, false, "positions" } } },
	[JAL_OP_SILU_MUL] = { 0x7, 1 },
	[JAL_OP_EMBED] = { 0x1, 1, { { 2, 4, 4, false, "token ids" } } },
	[JAL_OP_ARGMAX] = { 0x2, 1, { { 0, 4, 4, true, "results" } } },
	[JAL_OP_SAMPLE] = { 0x2, 4, { { 0, 4, 4, true, "results" },
				      { 2, 8, 8, true, "states" },
				      { 3, 8, 4, false, "parameters" } } },
};

/* The instruction over all its rows, and the view of one row. */
struct jal_rows {
	struct jal_exec *ex;
	const struct jal_insn *in;
	const struct jal_rows_info *info;
	uint64_t count;			/* B */
	uint64_t pitch[4];		/* floats between rows of r[k]'s operand */
	struct jal_span arrays[JAL_ROWS_ARRAYS];
	struct jal_exec row_ex;		/* registers r0..r3 = the row's operands */
	struct jal_insn row;		/* the single-row instruction */
};

static enum jal_status jal_rows_read(struct jal_rows *rs, unsigned int i,
				     uint64_t b, uint64_t *val)
{
	uint32_t v32 = 0;
	uint64_t v64 = 0;
	enum jal_status st;

	if (rs->info->arrays[i].size == 4) {
		st = jal_span_read(rs->ex, &rs->arrays[i], b * 4, &v32, 4);
		*val = jal_le32(v32);
	} else {
		st = jal_span_read(rs->ex, &rs->arrays[i], b * 8, &v64, 8);
		*val = jal_le64(v64);
	}
	return st;
}

static enum jal_status jal_rows_write(struct jal_rows *rs, unsigned int i,
				      uint64_t b, uint64_t val)
{
	uint32_t v32 = jal_le32((uint32_t)val);
	uint64_t v64 = jal_le64(val);

	if (rs->info->arrays[i].size == 4)
		return jal_span_write(rs->ex, &rs->arrays[i], b * 4, &v32, 4);
	return jal_span_write(rs->ex, &rs->arrays[i], b * 8, &v64, 8);
}

/*
 * Shape, operands and charge of the whole instruction, and the row view
 * without the per-row parts.
 */
static enum jal_status jal_rows_init(struct jal_rows *rs)
{
	static const char *const names[4] = { "d", "a", "b", "c" };
	struct jal_exec *ex = rs->ex;
	const struct jal_insn *in = rs->in;
	const struct jal_rows_info *info = rs->info;
	uint64_t n, dim;
	struct jal_span s;
	enum jal_status st;
	unsigned int k;

	st = jal_exec_dim(ex, in, 3, &rs->count);
	if (!st)
		st = jal_exec_dim(ex, in, 0, &n);
	if (st)
		return st;
	if (rs->count > JAL_ROWS_MAX)
		return jal_exec_bad(ex, "%llu rows, more than %u",
				    (unsigned long long)rs->count, JAL_ROWS_MAX);
	st = jal_exec_charge(ex, rs->count * n * info->cost);
	if (st || !rs->count)
		return st;

	rs->row = *in;
	/* The rows' view is the single-row form, with its modifiers. */
	rs->row.flags = in->flags & JAL_INSN_F_ROPE_FREQS;
	rs->row.dim[3] = 0;
	for (k = 0; k < 3; k++) {
		st = jal_exec_dim(ex, in, k, &dim);
		if (st)
			return st;
		rs->row.dim[k] = (uint32_t)dim;
	}
	rs->row_ex = *ex;
	rs->row_ex.row_of_batch = true;
	for (k = 0; k < 4; k++) {
		rs->row.r[k] = (uint8_t)k;
		rs->row_ex.regs[k] = ex->regs[in->r[k]];
		if (!(info->pitched & (1u << k)))
			continue;
		rs->row.stride[k] = 0;
		rs->pitch[k] = in->stride[k] ? in->stride[k] : n;
		if (rs->pitch[k] < n)
			return jal_exec_bad(ex, "row pitch %llu of %s is less than a row of %llu",
					    (unsigned long long)rs->pitch[k],
					    names[k], (unsigned long long)n);
		st = jal_span_init(ex, &s, names[k], ex->regs[in->r[k]],
				   jal_extent(rs->count, rs->pitch[k] * 4, n * 4),
				   4, k == 0);
		if (st)
			return st;
	}
	for (k = 0; k < JAL_ROWS_ARRAYS && info->arrays[k].size; k++) {
		const struct jal_rows_array *a = &info->arrays[k];

		st = jal_span_init(ex, &rs->arrays[k], a->name, ex->regs[in->r[a->reg]],
				   rs->count * a->size, a->align, a->write);
		if (st)
			return st;
		/* The row's value goes in a constant or a register instead. */
		rs->row.r[a->reg] = 0;
	}
	return JAL_STATUS_OK;
}

/* The per-row parts of row @b's view. */
static enum jal_status jal_rows_view(struct jal_rows *rs, uint64_t b)
{
	struct jal_insn *row = &rs->row;
	enum jal_status st = JAL_STATUS_OK;
	uint64_t val, params;
	unsigned int k;

	for (k = 0; k < 4; k++)
		if (rs->info->pitched & (1u << k))
			rs->row_ex.regs[k] = rs->ex->regs[rs->in->r[k]] +
					     b * rs->pitch[k] * 4;
	switch (rs->in->opcode) {
	case JAL_OP_ROPE:
		st = jal_rows_read(rs, 0, b, &val);
		row->dim[2] = (uint32_t)val;
		break;
	case JAL_OP_EMBED:
		st = jal_rows_read(rs, 0, b, &val);
		row->dim[1] = (uint32_t)val;
		break;
	case JAL_OP_SAMPLE:
		/* Result in r0, state in r2, as the single-row SAMPLE has them. */
		row->r[2] = 2;
		st = jal_rows_read(rs, 1, b, &rs->row_ex.regs[2]);
		if (!st)
			st = jal_rows_read(rs, 2, b, &params);
		if (st)
			return st;
		row->imm[0] = (uint32_t)params;
		row->imm[1] = (uint32_t)(params >> 32);
		st = jal_check_sample(&rs->row_ex, row);
		break;
	default:
		break;
	}
	return st;
}

/* ARGMAX's and SAMPLE's results (and SAMPLE's advanced state) to memory. */
static enum jal_status jal_rows_results(struct jal_rows *rs, uint64_t b)
{
	enum jal_status st = JAL_STATUS_OK;

	if (rs->in->opcode == JAL_OP_ARGMAX || rs->in->opcode == JAL_OP_SAMPLE)
		st = jal_rows_write(rs, 0, b, rs->row_ex.regs[0]);
	if (!st && rs->in->opcode == JAL_OP_SAMPLE)
		st = jal_rows_write(rs, 1, b, rs->row_ex.regs[2]);
	return st;
}

enum jal_status jal_op_rows(struct jal_exec *ex, const struct jal_insn *in,
			    jal_exec_fn row)
{
	struct jal_rows rs = {
		.ex = ex, .in = in, .info = &jal_rows_info[in->opcode],
	};
	enum jal_status st;
	uint64_t b;

	st = jal_rows_init(&rs);
	for (b = 0; !st && b < rs.count; b++) {
		if (jal_job_aborted(ex->job))
			return JAL_STATUS_ABORTED;
		st = jal_rows_view(&rs, b);
		if (!st)
			st = row(&rs.row_ex, &rs.row);
		if (!st)
			st = jal_rows_results(&rs, b);
	}
	return st;
}
