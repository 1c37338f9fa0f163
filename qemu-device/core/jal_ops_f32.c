// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: f32 element-wise opcodes (VADD, VMUL, VSCALE).
 *
 * Results are as if every input element was read before any output was
 * written. Element-wise ops stream chunks of JAL_VEC_CHUNK elements; that
 * is only unsafe when the output overlaps an input other than exactly (same
 * start, same stride), and then the results are staged in host memory
 * (bounded by the output's 256 MiB extent limit) until all inputs are read.
 * MATVEC lives with MATMUL in jal_ops_matrix.c.
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
