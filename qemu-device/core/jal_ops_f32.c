// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: f32 compute opcodes (VADD, VMUL, VSCALE, MATVEC).
 *
 * Results are as if every input element was read before any output was
 * written. Element-wise ops stream chunks of JAL_VEC_CHUNK elements; that
 * is only unsafe when the output overlaps an input other than exactly (same
 * start, same stride), and then the results are staged in host memory
 * (bounded by the output's 256 MiB extent limit) until all inputs are read.
 *
 * MATVEC accumulates each row in f32 in 8 interleaved partial sums (column
 * k goes to sum k % 8, in increasing k), added as
 * ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)); products are rounded
 * to f32 before they are added (no fused multiply-add). That order is
 * part of the model so results are reproducible bit for bit.
 */
#include <stdlib.h>

#include "jal_exec.h"

typedef void (*jal_f32_kernel)(float *restrict d, const float *restrict a,
			       const float *restrict b, size_t n, float imm);

/*
 * The kernels walk blocks of a fixed 8 elements plus a tail: GCC's -O2
 * vectorizer (very cheap cost model) turns the fixed inner loop into SIMD
 * but leaves a plain loop with an unknown trip count alone.
 */
#define JAL_BLOCK	8

static void jal_f32_add_kernel(float *restrict d, const float *restrict a,
			       const float *restrict b, size_t n, float imm)
{
	size_t i, j;

	(void)imm;
	for (i = 0; i + JAL_BLOCK <= n; i += JAL_BLOCK)
		for (j = 0; j < JAL_BLOCK; j++)
			d[i + j] = a[i + j] + b[i + j];
	for (; i < n; i++)
		d[i] = a[i] + b[i];
}

static void jal_f32_mul_kernel(float *restrict d, const float *restrict a,
			       const float *restrict b, size_t n, float imm)
{
	size_t i, j;

	(void)imm;
	for (i = 0; i + JAL_BLOCK <= n; i += JAL_BLOCK)
		for (j = 0; j < JAL_BLOCK; j++)
			d[i + j] = a[i + j] * b[i + j];
	for (; i < n; i++)
		d[i] = a[i] * b[i];
}

static void jal_f32_scale_kernel(float *restrict d, const float *restrict a,
				 const float *restrict b, size_t n, float imm)
{
	size_t i, j;

	(void)b;
	for (i = 0; i + JAL_BLOCK <= n; i += JAL_BLOCK)
		for (j = 0; j < JAL_BLOCK; j++)
			d[i + j] = a[i + j] * imm;
	for (; i < n; i++)
		d[i] = a[i] * imm;
}

static float jal_f32_from_bits(uint32_t bits)
{
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/*
 * Output stride 0: only the last element's result survives, but every
 * input element is still read (so faults are reported as for any other
 * stride), in bounded chunks.
 */
static enum jal_status jal_f32_elementwise_last(struct jal_exec *ex,
						const struct jal_operand *d,
						const struct jal_operand *src,
						unsigned int inputs,
						jal_f32_kernel kernel, float imm)
{
	float last[2] = { 0, 0 }, out;
	enum jal_status st;
	unsigned int k;

	for (k = 0; k < inputs; k++) {
		uint64_t n = src[k].stride ? src[k].count : 1;
		uint64_t done;
		size_t m = 0;

		for (done = 0; done < n; done += m) {
			if (jal_job_aborted(ex->job))
				return JAL_STATUS_ABORTED;
			m = (size_t)JAL_MIN(n - done, (uint64_t)JAL_VEC_CHUNK);
			st = jal_gather_f32(ex, &src[k], done, m, ex->w->vec[k]);
			if (st)
				return st;
		}
		last[k] = ex->w->vec[k][m - 1];
	}
	kernel(&out, &last[0], &last[1], 1, imm);
	return jal_scatter_f32(ex, d, 0, 1, &out);
}

static enum jal_status jal_f32_elementwise(struct jal_exec *ex,
					   const struct jal_insn *in,
					   unsigned int inputs,
					   jal_f32_kernel kernel, float imm)
{
	static const char *const names[2] = { "a", "b" };
	struct jal_worker *w = ex->w;
	struct jal_operand d, src[2];
	float *staged = NULL;
	bool hazard = false;
	enum jal_status st;
	uint64_t n, done;
	unsigned int k;
	size_t m;

	st = jal_exec_dim(ex, in, 0, &n);
	if (!st)
		st = jal_exec_charge(ex, n);
	if (st || !n)
		return st;
	st = jal_operand_vector(ex, &d, "d", ex->regs[in->r[0]], in->stride[0],
				n, true);
	for (k = 0; !st && k < inputs; k++)
		st = jal_operand_vector(ex, &src[k], names[k],
					ex->regs[in->r[k + 1]],
					in->stride[k + 1], n, false);
	if (st)
		return st;
	if (!d.stride)
		return jal_f32_elementwise_last(ex, &d, src, inputs, kernel, imm);

	for (k = 0; k < inputs; k++)
		if (jal_operand_overlap(&d, &src[k]) &&
		    (src[k].va != d.va || src[k].stride != d.stride))
			hazard = true;
	if (hazard && n > JAL_VEC_CHUNK) {
		/* d.stride >= 1 and the extent limit bound n to 64 Mi. */
		staged = malloc(n * sizeof(float));
		if (!staged) {
			jal_log(ex->job->dev, "out of host memory staging %llu results",
				(unsigned long long)n);
			return JAL_STATUS_BUS_ERROR;
		}
	}

	for (done = 0; done < n; done += m) {
		float *out = staged ? staged + done : w->vec[2];

		if (jal_job_aborted(ex->job)) {
			st = JAL_STATUS_ABORTED;
			goto out;
		}
		m = (size_t)JAL_MIN(n - done, (uint64_t)JAL_VEC_CHUNK);
		for (k = 0; k < inputs; k++) {
			st = jal_gather_f32(ex, &src[k], done, m, w->vec[k]);
			if (st)
				goto out;
		}
		kernel(out, w->vec[0], w->vec[1], m, imm);
		if (!staged) {
			st = jal_scatter_f32(ex, &d, done, m, out);
			if (st)
				goto out;
		}
	}
	for (done = 0; staged && done < n; done += m) {
		if (jal_job_aborted(ex->job)) {
			st = JAL_STATUS_ABORTED;
			goto out;
		}
		m = (size_t)JAL_MIN(n - done, (uint64_t)JAL_VEC_CHUNK);
		st = jal_scatter_f32(ex, &d, done, m, staged + done);
		if (st)
			goto out;
	}
out:
	free(staged);
	return st;
}

enum jal_status jal_f32_vadd(struct jal_exec *ex, const struct jal_insn *in)
{
	return jal_f32_elementwise(ex, in, 2, jal_f32_add_kernel, 0.0f);
}

enum jal_status jal_f32_vmul(struct jal_exec *ex, const struct jal_insn *in)
{
	return jal_f32_elementwise(ex, in, 2, jal_f32_mul_kernel, 0.0f);
}

enum jal_status jal_f32_vscale(struct jal_exec *ex, const struct jal_insn *in)
{
	return jal_f32_elementwise(ex, in, 1, jal_f32_scale_kernel,
				   jal_f32_from_bits(in->imm[0]));
}

/* MATVEC */

#define JAL_LANES	8

static void jal_f32_dot_acc(float *restrict acc, const float *restrict w,
			    const float *restrict x, size_t n)
{
	float s[JAL_LANES];
	size_t k, j;

	for (j = 0; j < JAL_LANES; j++)
		s[j] = acc[j];
	for (k = 0; k + JAL_LANES <= n; k += JAL_LANES)
		for (j = 0; j < JAL_LANES; j++)
			s[j] += w[k + j] * x[k + j];
	for (j = 0; k + j < n; j++)
		s[j] += w[k + j] * x[k + j];
	for (j = 0; j < JAL_LANES; j++)
		acc[j] = s[j];
}

static float jal_f32_dot_sum(const float *acc)
{
	return ((acc[0] + acc[1]) + (acc[2] + acc[3])) +
	       ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

struct jal_matvec {
	struct jal_exec *ex;
	struct jal_operand d, w, x;
	uint64_t rows, cols;
	bool x_resident;	/* all of x is in ex->w->xbuf */
	float *staged;		/* all results, when d overlaps an input */
	uint64_t out_first;	/* row of out[0] */
	size_t out_n;
	float last;		/* the surviving result when d.stride == 0 */
};

/* Hand the buffered results in ex->w->vec[2] to their destination. */
static enum jal_status jal_matvec_flush(struct jal_matvec *mv)
{
	float *out = mv->ex->w->vec[2];
	enum jal_status st = JAL_STATUS_OK;

	if (!mv->out_n)
		return st;
	if (!mv->d.stride)
		mv->last = out[mv->out_n - 1];
	else if (mv->staged)
		memcpy(mv->staged + mv->out_first, out, mv->out_n * sizeof(float));
	else
		st = jal_scatter_f32(mv->ex, &mv->d, mv->out_first, mv->out_n, out);
	mv->out_first += mv->out_n;
	mv->out_n = 0;
	return st;
}

static enum jal_status jal_matvec_push(struct jal_matvec *mv, float v)
{
	mv->ex->w->vec[2][mv->out_n++] = v;
	return mv->out_n == JAL_VEC_CHUNK ? jal_matvec_flush(mv) :
					    JAL_STATUS_OK;
}

/* One row, in column blocks (x streamed too unless resident). */
static enum jal_status jal_matvec_row(struct jal_matvec *mv, uint64_t row,
				      float *result)
{
	struct jal_exec *ex = mv->ex;
	float acc[JAL_LANES] = { 0 };
	uint64_t k0;
	enum jal_status st;

	for (k0 = 0; k0 < mv->cols; k0 += JAL_VEC_CHUNK) {
		size_t kb = (size_t)JAL_MIN(mv->cols - k0, (uint64_t)JAL_VEC_CHUNK);
		const float *xp = mv->ex->w->xbuf + k0;

		if (jal_job_aborted(ex->job))
			return JAL_STATUS_ABORTED;
		st = jal_read_f32(ex, mv->w.va + (row * mv->w.stride + k0) * 4, kb,
				  ex->w->vec[0]);
		if (!st && !mv->x_resident) {
			st = jal_gather_f32(ex, &mv->x, k0, kb, ex->w->vec[1]);
			xp = ex->w->vec[1];
		}
		if (st)
			return st;
		jal_f32_dot_acc(acc, ex->w->vec[0], xp, kb);
	}
	*result = jal_f32_dot_sum(acc);
	return JAL_STATUS_OK;
}

static enum jal_status jal_matvec_rows(struct jal_matvec *mv)
{
	struct jal_exec *ex = mv->ex;
	enum jal_status st;
	uint64_t row = 0;
	size_t i;

	/* Dense matrices with short rows are read several rows at a time. */
	bool batch = mv->x_resident && mv->w.stride == mv->cols &&
		     mv->cols <= JAL_VEC_CHUNK / 2;

	while (row < mv->rows) {
		if (jal_job_aborted(ex->job))
			return JAL_STATUS_ABORTED;
		if (batch) {
			size_t nb = (size_t)JAL_MIN(mv->rows - row,
						    JAL_VEC_CHUNK / mv->cols);
			float *wbuf = ex->w->vec[0];

			st = jal_read_f32(ex, mv->w.va + row * mv->cols * 4,
					  nb * mv->cols, wbuf);
			for (i = 0; !st && i < nb; i++) {
				float acc[JAL_LANES] = { 0 };

				jal_f32_dot_acc(acc, wbuf + i * mv->cols, ex->w->xbuf,
						mv->cols);
				st = jal_matvec_push(mv, jal_f32_dot_sum(acc));
			}
			row += nb;
		} else {
			float v;

			st = jal_matvec_row(mv, row, &v);
			if (!st)
				st = jal_matvec_push(mv, v);
			row++;
		}
		if (st)
			return st;
	}
	return jal_matvec_flush(mv);
}

/* Columns == 0: every result is an empty sum, +0.0; W and x are unused. */
static enum jal_status jal_matvec_zero(struct jal_matvec *mv)
{
	float *out = mv->ex->w->vec[2];
	uint64_t done, rows = mv->d.stride ? mv->rows : 1;
	enum jal_status st = JAL_STATUS_OK;
	size_t m;

	memset(out, 0, JAL_VEC_CHUNK * sizeof(float));
	for (done = 0; !st && done < rows; done += m) {
		if (jal_job_aborted(mv->ex->job))
			return JAL_STATUS_ABORTED;
		m = (size_t)JAL_MIN(rows - done, (uint64_t)JAL_VEC_CHUNK);
		st = jal_scatter_f32(mv->ex, &mv->d, done, m, out);
	}
	return st;
}

enum jal_status jal_f32_matvec(struct jal_exec *ex, const struct jal_insn *in)
{
	struct jal_matvec mv = { .ex = ex };
	uint64_t pitch, done;
	enum jal_status st;
	size_t m;

	st = jal_exec_dim(ex, in, 0, &mv.rows);
	if (!st)
		st = jal_exec_dim(ex, in, 1, &mv.cols);
	if (st)
		return st;
	pitch = in->stride[1] ? in->stride[1] : mv.cols;
	if (pitch < mv.cols)
		return jal_exec_bad(ex, "row pitch %llu is less than %llu columns",
				    (unsigned long long)pitch,
				    (unsigned long long)mv.cols);
	st = jal_exec_charge(ex, mv.rows * mv.cols);
	if (st || !mv.rows)
		return st;
	st = jal_operand_vector(ex, &mv.d, "d", ex->regs[in->r[0]],
				in->stride[0], mv.rows, true);
	if (st)
		return st;
	if (!mv.cols)
		return jal_matvec_zero(&mv);
	st = jal_operand_matrix(ex, &mv.w, "W", ex->regs[in->r[1]], mv.rows,
				mv.cols, pitch);
	if (!st)
		st = jal_operand_vector(ex, &mv.x, "x", ex->regs[in->r[2]],
					in->stride[2], mv.cols, false);
	if (st)
		return st;

	if (mv.d.stride && mv.rows > JAL_VEC_CHUNK &&
	    (jal_operand_overlap(&mv.d, &mv.w) ||
	     jal_operand_overlap(&mv.d, &mv.x))) {
		mv.staged = malloc(mv.rows * sizeof(float));
		if (!mv.staged) {
			jal_log(ex->job->dev, "out of host memory staging %llu results",
				(unsigned long long)mv.rows);
			return JAL_STATUS_BUS_ERROR;
		}
	}
	mv.x_resident = mv.cols <= JAL_XBUF_ELEMS;
	if (mv.x_resident)
		st = jal_gather_f32(ex, &mv.x, 0, mv.cols, ex->w->xbuf);
	if (!st)
		st = jal_matvec_rows(&mv);
	if (!st && !mv.d.stride)
		st = jal_scatter_f32(ex, &mv.d, 0, 1, &mv.last);
	for (done = 0; !st && mv.staged && done < mv.rows; done += m) {
		if (jal_job_aborted(ex->job)) {
			st = JAL_STATUS_ABORTED;
			break;
		}
		m = (size_t)JAL_MIN(mv.rows - done, (uint64_t)JAL_VEC_CHUNK);
		st = jal_scatter_f32(ex, &mv.d, done, m, mv.staged + done);
	}
	free(mv.staged);
	return st;
}
