// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno compute kernels: VADD/VMUL/VSCALE (odd sizes, strides,
 * broadcast, in place), MATVEC, scalar registers and branches, dim
 * registers, argument loading. Results are compared with a host reference:
 * bit-exact for element-wise ops, within a rounding bound for MATVEC.
 */
#include <float.h>
#include <math.h>

#include "jal_harness.h"

JAL_FIXTURE(compute);

/* A float BO: @n elements, random contents from @seed. */
static int fbo_new(int fd, size_t n, uint64_t seed, struct jal_bo *bo, float **f)
{
	size_t i;
	int ret;

	ret = jal_bo_new(fd, n * sizeof(float), 0, bo);
	if (ret)
		return ret;
	*f = bo->map;
	for (i = 0; i < n; i++)
		(*f)[i] = jal_randf(&seed);
	return 0;
}

/* Number of floats an operand of @n elements with element @stride spans. */
static size_t span(uint32_t n, uint32_t stride)
{
	return n ? (size_t)(n - 1) * stride + 1 : 1;
}

static float ref_op(uint8_t op, float a, float b, float scale)
{
	switch (op) {
	case JAL_OP_VADD:
		return a + b;
	case JAL_OP_VMUL:
		return a * b;
	default:
		return a * scale;
	}
}

struct vec_case {
	uint8_t op;
	uint32_t n, sd, sa, sb;
	float scale;
};

/*
 * Run one element-wise op over separate random buffers and compare the
 * whole destination, including the elements the op must not touch.
 */
static void check_vec(struct __test_metadata *_metadata, int fd, uint32_t ctx,
		      const struct vec_case *c)
{
	size_t nd = span(c->n, c->sd) + 3, na = span(c->n, c->sa), nb = span(c->n, c->sb);
	struct jal_bo d, a, b;
	float *fd_, *fa, *fb, *ref;
	struct jal_insn code[2];
	uint64_t args[3];
	uint32_t handles[3];
	size_t i;

	ASSERT_EQ(0, fbo_new(fd, nd, 11, &d, &fd_));
	ASSERT_EQ(0, fbo_new(fd, na, 12, &a, &fa));
	ASSERT_EQ(0, fbo_new(fd, nb, 13, &b, &fb));
	ref = malloc(nd * sizeof(float));
	ASSERT_NE(NULL, ref);
	memcpy(ref, fd_, nd * sizeof(float));
	for (i = 0; i < c->n; i++)
		ref[i * c->sd] = ref_op(c->op, fa[i * c->sa], fb[i * c->sb], c->scale);

	if (c->op == JAL_OP_VSCALE)
		code[0] = jal_i_vscale(0, 1, c->n, c->sd, c->sa, c->scale);
	else
		code[0] = jal_i_vec(c->op, 0, 1, 2, c->n, c->sd, c->sa, c->sb);
	code[1] = jal_i_halt();
	args[0] = d.va;
	args[1] = a.va;
	args[2] = b.va;
	handles[0] = d.handle;
	handles[1] = a.handle;
	handles[2] = b.handle;
	ASSERT_EQ(0, jal_dispatch(fd, ctx, code, 2, args, 3, handles, 3));
	ASSERT_EQ(0, jal_ctx_error(fd, ctx));
	for (i = 0; i < nd; i++) {
		if (jal_f2u(ref[i]) != jal_f2u(fd_[i])) {
			TH_LOG("element %zu: want %a got %a", i, ref[i], fd_[i]);
			ASSERT_EQ(jal_f2u(ref[i]), jal_f2u(fd_[i]));
		}
	}
	free(ref);
	jal_bo_free(&d);
	jal_bo_free(&a);
	jal_bo_free(&b);
}

JAL_TEST(compute, vadd_odd_size)
{
	const struct vec_case c = { JAL_OP_VADD, 1027, 1, 1, 1, 0 };

	check_vec(_metadata, self->fd, self->ctx, &c);
}

JAL_TEST(compute, vmul_odd_size)
{
	const struct vec_case c = { JAL_OP_VMUL, 999, 1, 1, 1, 0 };

	check_vec(_metadata, self->fd, self->ctx, &c);
}

JAL_TEST(compute, vscale_odd_sizes)
{
	const struct vec_case c[] = {
		{ JAL_OP_VSCALE, 4097, 1, 1, 0, -1.375f },
		{ JAL_OP_VSCALE, 1, 1, 1, 0, 0.1f },
		{ JAL_OP_VSCALE, 61, 1, 1, 0, 3.0e10f },
	};
	unsigned int k;

	for (k = 0; k < JAL_ARRAY_SIZE(c); k++)
		check_vec(_metadata, self->fd, self->ctx, &c[k]);
}

JAL_TEST(compute, vector_strides)
{
	const struct vec_case c[] = {
		{ JAL_OP_VADD, 333, 2, 3, 5, 0 },
		{ JAL_OP_VMUL, 100, 7, 1, 2, 0 },
		{ JAL_OP_VSCALE, 257, 3, 4, 0, 0.5f },
	};
	unsigned int k;

	for (k = 0; k < JAL_ARRAY_SIZE(c); k++)
		check_vec(_metadata, self->fd, self->ctx, &c[k]);
}

/* Stride 0 broadcasts one element of an input. */
JAL_TEST(compute, vector_broadcast_stride0)
{
	const struct vec_case c[] = {
		{ JAL_OP_VMUL, 500, 1, 1, 0, 0 },
		{ JAL_OP_VADD, 77, 1, 0, 1, 0 },
		{ JAL_OP_VADD, 9, 2, 0, 0, 0 },
		{ JAL_OP_VSCALE, 13, 1, 0, 0, 2.5f },
	};
	unsigned int k;

	for (k = 0; k < JAL_ARRAY_SIZE(c); k++)
		check_vec(_metadata, self->fd, self->ctx, &c[k]);
}

/* dim[0] == 0: nothing is written. */
JAL_TEST(compute, vector_zero_length_noop)
{
	const struct vec_case c[] = {
		{ JAL_OP_VADD, 0, 1, 1, 1, 0 },
		{ JAL_OP_VSCALE, 0, 1, 1, 1, 4.0f },
	};
	unsigned int k;

	for (k = 0; k < JAL_ARRAY_SIZE(c); k++)
		check_vec(_metadata, self->fd, self->ctx, &c[k]);
}

/* One million elements (4 MiB per operand, > 256 steps). */
JAL_SLOW_TEST(compute, vadd_large)
{
	const struct vec_case c = { JAL_OP_VADD, (1u << 20) + 3, 1, 1, 1, 0 };

	check_vec(_metadata, self->fd, self->ctx, &c);
}

/*
 * In place: d == a, and d shifted one element against a in both
 * directions. Results must be as if all inputs were read first.
 */
JAL_TEST(compute, vector_in_place)
{
	const uint32_t n = 301;
	const int shifts[] = { 0, 1, -1, 5 };
	struct jal_bo buf, b;
	float *fbuf, *fb, *orig, *ref;
	struct jal_insn code[1];
	uint64_t args[3];
	uint32_t handles[2];
	unsigned int k;
	size_t i, len = n + 16;

	ASSERT_EQ(0, fbo_new(self->fd, 2, 0, &b, &fb));
	orig = malloc(len * sizeof(float));
	ref = malloc(len * sizeof(float));
	ASSERT_NE(NULL, orig);
	ASSERT_NE(NULL, ref);
	for (k = 0; k < JAL_ARRAY_SIZE(shifts); k++) {
		const size_t abase = 8, dbase = 8 + shifts[k];
		uint8_t op = k % 2 ? JAL_OP_VMUL : JAL_OP_VADD;

		ASSERT_EQ(0, fbo_new(self->fd, len, 20 + k, &buf, &fbuf));
		memcpy(orig, fbuf, len * sizeof(float));
		memcpy(ref, orig, len * sizeof(float));
		/* b is broadcast so only the aliasing of d and a matters */
		for (i = 0; i < n; i++)
			ref[dbase + i] = ref_op(op, orig[abase + i], fb[0], 0);

		code[0] = jal_i_vec(op, 0, 1, 2, n, 1, 1, 0);
		args[0] = buf.va + dbase * 4;
		args[1] = buf.va + abase * 4;
		args[2] = b.va;
		handles[0] = buf.handle;
		handles[1] = b.handle;
		ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, code, 1, args, 3, handles, 2));
		ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
		for (i = 0; i < len; i++) {
			if (jal_f2u(ref[i]) != jal_f2u(fbuf[i])) {
				TH_LOG("shift %d element %zu: want %a got %a", shifts[k], i,
				       ref[i], fbuf[i]);
				ASSERT_EQ(jal_f2u(ref[i]), jal_f2u(fbuf[i]));
			}
		}
		jal_bo_free(&buf);
	}
	free(orig);
	free(ref);
}

struct mv_case {
	uint32_t rows, cols, sd, pitch, sx;
};

/* MATVEC against a double-precision reference with a rounding bound. */
static void check_matvec(struct __test_metadata *_metadata, int fd, uint32_t ctx,
			 const struct mv_case *c)
{
	uint32_t pitch = c->pitch ? c->pitch : c->cols;
	size_t nd = span(c->rows, c->sd) + 2, nw = (size_t)(c->rows - 1) * pitch + c->cols;
	size_t nx = span(c->cols, c->sx);
	struct jal_bo d, w, x;
	float *fd_, *fw, *fx, *before;
	struct jal_insn code[1];
	uint64_t args[3];
	uint32_t handles[3];
	size_t m, k, i;

	ASSERT_EQ(0, fbo_new(fd, nd, 31, &d, &fd_));
	ASSERT_EQ(0, fbo_new(fd, nw, 32, &w, &fw));
	ASSERT_EQ(0, fbo_new(fd, nx, 33, &x, &fx));
	before = malloc(nd * sizeof(float));
	ASSERT_NE(NULL, before);
	memcpy(before, fd_, nd * sizeof(float));

	code[0] = jal_i_matvec(0, 1, 2, c->rows, c->cols, c->sd, c->pitch, c->sx);
	args[0] = d.va;
	args[1] = w.va;
	args[2] = x.va;
	handles[0] = d.handle;
	handles[1] = w.handle;
	handles[2] = x.handle;
	ASSERT_EQ(0, jal_dispatch(fd, ctx, code, 1, args, 3, handles, 3));
	ASSERT_EQ(0, jal_ctx_error(fd, ctx));

	for (m = 0; m < c->rows; m++) {
		double sum = 0, mag = 0, tol;

		for (k = 0; k < c->cols; k++) {
			double p = (double)fw[m * pitch + k] * fx[k * c->sx];

			sum += p;
			mag += fabs(p);
		}
		tol = (c->cols + 2) * FLT_EPSILON * mag + FLT_MIN;
		if (fabs(fd_[m * c->sd] - sum) > tol) {
			TH_LOG("row %zu: want %g got %g (tolerance %g)", m, sum,
			       fd_[m * c->sd], tol);
			ASSERT_GE(tol, fabs(fd_[m * c->sd] - sum));
		}
	}
	/* Elements between and after the strided outputs are untouched. */
	for (i = 0; i < nd; i++)
		if (c->sd == 0 || i % c->sd || i / c->sd >= c->rows)
			ASSERT_EQ(jal_f2u(before[i]), jal_f2u(fd_[i]));
	free(before);
	jal_bo_free(&d);
	jal_bo_free(&w);
	jal_bo_free(&x);
}

JAL_TEST(compute, matvec_odd_dims)
{
	const struct mv_case c = { 37, 53, 1, 0, 1 };

	check_matvec(_metadata, self->fd, self->ctx, &c);
}

JAL_TEST(compute, matvec_pitch_and_strides)
{
	const struct mv_case c[] = {
		{ 19, 31, 3, 40, 2 },
		{ 8, 8, 1, 8, 1 },	/* explicit pitch == cols */
		{ 5, 7, 2, 7, 0 },	/* broadcast x */
		{ 1, 1, 1, 0, 1 },
	};
	unsigned int k;

	for (k = 0; k < JAL_ARRAY_SIZE(c); k++)
		check_matvec(_metadata, self->fd, self->ctx, &c[k]);
}

JAL_SLOW_TEST(compute, matvec_large)
{
	const struct mv_case c = { 256, 1024, 1, 0, 1 };

	check_matvec(_metadata, self->fd, self->ctx, &c);
}

/*
 * A loop over rows with LI, ADDI and BNE: row r of d = row r of a + row r
 * of b, with the three row pointers advanced by ADDI.
 */
JAL_TEST(compute, loop_li_addi_bne)
{
	const uint32_t rows = 7, cols = 129;
	const struct jal_insn code[] = {
		jal_i_li(3, 0),
		jal_i_li(4, rows),
		jal_i_vec(JAL_OP_VADD, 0, 1, 2, cols, 1, 1, 1),	/* 2: loop */
		jal_i_addi(0, 0, cols * 4),
		jal_i_addi(1, 1, cols * 4),
		jal_i_addi(2, 2, cols * 4),
		jal_i_addi(3, 3, 1),
		jal_i_bne(3, 4, 2),
		jal_i_halt(),
	};
	struct jal_bo d, a, b;
	float *fd_, *fa, *fb, *ref;
	uint64_t args[3];
	uint32_t handles[3];
	size_t i, n = rows * cols;

	ASSERT_EQ(0, fbo_new(self->fd, n + cols, 41, &d, &fd_));
	ASSERT_EQ(0, fbo_new(self->fd, n, 42, &a, &fa));
	ASSERT_EQ(0, fbo_new(self->fd, n, 43, &b, &fb));
	ref = malloc((n + cols) * sizeof(float));
	ASSERT_NE(NULL, ref);
	memcpy(ref, fd_, (n + cols) * sizeof(float));
	for (i = 0; i < n; i++)
		ref[i] = fa[i] + fb[i];
	args[0] = d.va;
	args[1] = a.va;
	args[2] = b.va;
	handles[0] = d.handle;
	handles[1] = a.handle;
	handles[2] = b.handle;
	ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, code, JAL_ARRAY_SIZE(code), args, 3,
				  handles, 3));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	ASSERT_EQ(0, memcmp(ref, fd_, (n + cols) * sizeof(float)));
	free(ref);
}

/*
 * Rows addressed as base + i * pitch with MULI and ADD, walked from the
 * last row down with a wrapping ADDI of -1, until BLTU says i >= rows:
 * d_row(i) = a_row(i) * (i + 1) where the scale comes from a per-row
 * broadcast factor table f[i].
 */
JAL_TEST(compute, loop_muli_add_bltu_wrapping)
{
	const uint32_t rows = 6, cols = 33;
	const struct jal_insn code[] = {
		jal_i_addi(4, 3, -1ull),			/* i = rows - 1 */
		jal_i_muli(6, 4, cols * 4),			/* 1: off = i * pitch */
		jal_i_add(7, 0, 6),				/* d row */
		jal_i_add(8, 1, 6),				/* a row */
		jal_i_muli(9, 4, 4),
		jal_i_add(9, 2, 9),				/* &f[i] */
		jal_i_vec(JAL_OP_VMUL, 7, 8, 9, cols, 1, 1, 0),
		jal_i_addi(4, 4, -1ull),			/* i-- (wraps below 0) */
		jal_i_bltu(4, 3, 1),				/* while i < rows */
	};
	struct jal_bo d, a, f;
	float *fd_, *fa, *ff, *ref;
	uint64_t args[4];
	uint32_t handles[3], r, c;

	ASSERT_EQ(0, fbo_new(self->fd, rows * cols, 51, &d, &fd_));
	ASSERT_EQ(0, fbo_new(self->fd, rows * cols, 52, &a, &fa));
	ASSERT_EQ(0, fbo_new(self->fd, rows, 53, &f, &ff));
	for (r = 0; r < rows; r++)
		ff[r] = (float)(r + 1);
	ref = malloc(rows * cols * sizeof(float));
	ASSERT_NE(NULL, ref);
	for (r = 0; r < rows; r++)
		for (c = 0; c < cols; c++)
			ref[r * cols + c] = fa[r * cols + c] * ff[r];
	args[0] = d.va;
	args[1] = a.va;
	args[2] = f.va;
	args[3] = rows;
	handles[0] = d.handle;
	handles[1] = a.handle;
	handles[2] = f.handle;
	ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, code, JAL_ARRAY_SIZE(code), args, 4,
				  handles, 3));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	ASSERT_EQ(0, memcmp(ref, fd_, rows * cols * sizeof(float)));
	free(ref);
}

/*
 * JUMP skips an instruction, HALT stops before the rest, a branch to the
 * instruction count ends the kernel and a not-taken branch falls through.
 * Each VSCALE writes its own slot of d with a distinct scale.
 */
JAL_TEST(compute, jump_halt_and_branch_to_end)
{
	const struct jal_insn k1[] = {
		jal_i_vscale(0, 1, 4, 1, 1, 1.0f),		/* slot 0 */
		jal_i_jump(3),
		jal_i_vscale(2, 1, 4, 1, 1, 5.0f),		/* skipped */
		jal_i_vscale(3, 1, 4, 1, 1, 2.0f),		/* slot 2 */
		jal_i_li(6, 1),
		jal_i_li(7, 2),
		jal_i_bltu(7, 6, 9),				/* not taken */
		jal_i_vscale(4, 1, 4, 1, 1, 3.0f),		/* slot 3 */
		jal_i_halt(),
		jal_i_vscale(5, 1, 4, 1, 1, 7.0f),		/* after HALT */
	};
	const struct jal_insn k2[] = {
		jal_i_li(6, 1),
		jal_i_li(7, 2),
		jal_i_bne(6, 7, 4),				/* to the end */
		jal_i_vscale(5, 1, 4, 1, 1, 9.0f),		/* not reached */
	};
	struct jal_bo d, a;
	float *fd_, *fa, before[24];
	uint64_t args[6];
	uint32_t handles[2];
	unsigned int i;

	ASSERT_EQ(0, fbo_new(self->fd, 24, 61, &d, &fd_));
	ASSERT_EQ(0, fbo_new(self->fd, 4, 62, &a, &fa));
	memcpy(before, fd_, sizeof(before));
	args[1] = a.va;
	args[0] = d.va;
	for (i = 2; i < 6; i++)
		args[i] = d.va + (i - 1) * 16;
	handles[0] = d.handle;
	handles[1] = a.handle;
	ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, k1, JAL_ARRAY_SIZE(k1), args, 6,
				  handles, 2));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, k2, JAL_ARRAY_SIZE(k2), args, 6,
				  handles, 2));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(jal_f2u(fa[i]), jal_f2u(fd_[i]));			/* ran */
		ASSERT_EQ(jal_f2u(before[4 + i]), jal_f2u(fd_[4 + i]));	/* skipped */
		ASSERT_EQ(jal_f2u(fa[i] * 2.0f), jal_f2u(fd_[8 + i]));		/* ran */
		ASSERT_EQ(jal_f2u(fa[i] * 3.0f), jal_f2u(fd_[12 + i]));		/* ran */
		ASSERT_EQ(jal_f2u(before[16 + i]), jal_f2u(fd_[16 + i]));	/* after end */
	}
}

/*
 * JAL_INSN_F_DIM_REG: the same code run with different lengths taken
 * from a register, for an element-wise op and both MATVEC dims.
 */
JAL_TEST(compute, dim_reg_runtime_shapes)
{
	const uint32_t lens[] = { 1, 5, 100, 0 };
	struct jal_insn vadd = jal_i_vec(JAL_OP_VADD, 0, 1, 2, 3, 1, 1, 1);
	struct jal_insn mv = jal_i_matvec(0, 1, 2, 3, 4, 1, 0, 1);
	struct jal_bo d, a, b;
	float *fd_, *fa, *fb, before[128];
	uint64_t args[5];
	uint32_t handles[3];
	unsigned int k, i;

	vadd.flags = JAL_INSN_F_DIM_REG(0);	/* dim[0] = r3 */
	mv.flags = JAL_INSN_F_DIM_REG(0) | JAL_INSN_F_DIM_REG(1);	/* r3 x r4 */
	ASSERT_EQ(0, fbo_new(self->fd, 128, 71, &d, &fd_));
	ASSERT_EQ(0, fbo_new(self->fd, 128, 72, &a, &fa));
	ASSERT_EQ(0, fbo_new(self->fd, 128, 73, &b, &fb));
	args[0] = d.va;
	args[1] = a.va;
	args[2] = b.va;
	handles[0] = d.handle;
	handles[1] = a.handle;
	handles[2] = b.handle;
	for (k = 0; k < JAL_ARRAY_SIZE(lens); k++) {
		memcpy(before, fd_, sizeof(before));
		args[3] = lens[k];
		ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, &vadd, 1, args, 4, handles, 3));
		ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
		for (i = 0; i < 128; i++)
			ASSERT_EQ(jal_f2u(i < lens[k] ? fa[i] + fb[i] : before[i]),
				  jal_f2u(fd_[i]));
	}

	/* 3 x 2 matrix (pitch = cols) times a 2-vector */
	args[3] = 3;
	args[4] = 2;
	memcpy(before, fd_, sizeof(before));
	ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, &mv, 1, args, 5, handles, 3));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	for (i = 0; i < 3; i++) {
		float want = fa[2 * i] * fb[0] + fa[2 * i + 1] * fb[1];

		ASSERT_GE(4 * FLT_EPSILON * (fabsf(fa[2 * i] * fb[0]) +
					     fabsf(fa[2 * i + 1] * fb[1])) + FLT_MIN,
			  fabsf(want - fd_[i]));
	}
	ASSERT_EQ(jal_f2u(before[3]), jal_f2u(fd_[3]));
}

/* All JAL_MAX_ARGS argument words land in r0..r15. */
JAL_TEST(compute, args_fill_registers)
{
	struct jal_insn code[JAL_MAX_ARGS];
	uint64_t args[JAL_MAX_ARGS];
	struct jal_bo d, s;
	float *fd_, *fs, before[JAL_MAX_ARGS];
	uint32_t handles[2];
	unsigned int i;

	ASSERT_EQ(0, fbo_new(self->fd, JAL_MAX_ARGS, 81, &d, &fd_));
	ASSERT_EQ(0, fbo_new(self->fd, 1, 82, &s, &fs));
	memcpy(before, fd_, sizeof(before));
	args[0] = s.va;
	for (i = 1; i < JAL_MAX_ARGS; i++) {
		args[i] = d.va + 4 * i;
		code[i - 1] = jal_i_vscale(i, 0, 1, 1, 1, (float)i);
	}
	code[JAL_MAX_ARGS - 1] = jal_i_nop();
	handles[0] = d.handle;
	handles[1] = s.handle;
	ASSERT_EQ(0, jal_dispatch(self->fd, self->ctx, code, JAL_MAX_ARGS, args, JAL_MAX_ARGS,
				  handles, 2));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	ASSERT_EQ(jal_f2u(before[0]), jal_f2u(fd_[0]));
	for (i = 1; i < JAL_MAX_ARGS; i++)
		ASSERT_EQ(jal_f2u(fs[0] * (float)i), jal_f2u(fd_[i]));
}

/*
 * Two DISPATCH commands and a FILL in one command buffer run in order:
 * c = a + b; a = 2.0 (FILL with the f32 bit pattern); d = c * a.
 */
JAL_TEST(compute, dispatches_and_dma_in_one_job)
{
	const uint32_t n = 200;
	const struct jal_insn add = jal_i_vec(JAL_OP_VADD, 2, 0, 1, n, 1, 1, 1);
	const struct jal_insn mul = jal_i_vec(JAL_OP_VMUL, 3, 2, 0, n, 1, 1, 1);
	struct jal_bo a, b, c, d, prog;
	float *fa, *fb, *fc, *fd_, *orig_a;
	struct jal_cmdbuf cb;
	uint64_t *args;
	uint32_t handles[5];
	unsigned int i;

	ASSERT_EQ(0, fbo_new(self->fd, n, 91, &a, &fa));
	ASSERT_EQ(0, fbo_new(self->fd, n, 92, &b, &fb));
	ASSERT_EQ(0, fbo_new(self->fd, n, 93, &c, &fc));
	ASSERT_EQ(0, fbo_new(self->fd, n, 94, &d, &fd_));
	orig_a = malloc(n * sizeof(float));
	ASSERT_NE(NULL, orig_a);
	memcpy(orig_a, fa, n * sizeof(float));

	/* args at 0, kernel "add" at 4096, kernel "mul" at 4160 */
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &prog));
	args = prog.map;
	args[0] = a.va;
	args[1] = b.va;
	args[2] = c.va;
	args[3] = d.va;
	memcpy((char *)prog.map + 4096, &add, sizeof(add));
	memcpy((char *)prog.map + 4096 + 64, &mul, sizeof(mul));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_dispatch(&cb, prog.va + 4096, 64, prog.va, 32);
	jal_emit_fill(&cb, a.va, jal_f2u(2.0f), n * 4);
	jal_emit_dispatch(&cb, prog.va + 4096 + 64, 64, prog.va, 32);
	handles[0] = prog.handle;
	handles[1] = a.handle;
	handles[2] = b.handle;
	handles[3] = c.handle;
	handles[4] = d.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 5);
	for (i = 0; i < n; i++) {
		float sum = orig_a[i] + fb[i];

		ASSERT_EQ(jal_f2u(sum), jal_f2u(fc[i]));
		ASSERT_EQ(jal_f2u(2.0f), jal_f2u(fa[i]));
		ASSERT_EQ(jal_f2u(sum * 2.0f), jal_f2u(fd_[i]));
	}
	free(orig_a);
}

TEST_HARNESS_MAIN
