// SPDX-License-Identifier: MIT
/*
 * ISA 1.1: every new opcode against a straightforward host reference.
 *
 * Matrix products and RMSNORM's sum of squares follow the documented
 * eight-lane order, so they are compared bit for bit (for all four weight
 * dtypes, in device and host memory, over odd shapes, strides and pitches,
 * including rows longer than the resident x); the run.c-style ops
 * (SOFTMAX, ROPE, SILU_MUL, ATTENTION, SAMPLE) use the same C library
 * functions as the chip and are also compared bit for bit; ATTENTION is
 * also checked against a double-precision evaluation (relative 1e-5).
 * SAMPLE reproduces llama2.c's sampler (argmax, multinomial and top-p)
 * for fixed seeds. Then operand validation (each rule), faults, the
 * watchdog on a loop of large instructions, and that results do not
 * depend on the kernel variant or the number of compute threads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"
#include "jal_kern.h"	/* jal_kernels_select(): which variants can run */

#define VRAM_VA		0x40000000ull	/* device memory, 2 MiB pages */
#define VRAM_LEN	(48 * MiB)
#define HOST_VA		0x80000000ull	/* host memory, scattered pages */
#define HOST_LEN	(24 * MiB)
#define JAL_MAX3(a, b, c) ((a) > (b) ? ((a) > (c) ? (a) : (c)) : ((b) > (c) ? (b) : (c)))
#define JAL_MAX(a, b)	((a) > (b) ? (a) : (b))

FIXTURE(llm) {
	struct fake *f;
	struct jal_arena mem;
};

static void set_step_limit(struct fake *f, uint64_t limit)
{
	wr(f, JAL_REG_STEP_LIMIT_LO, (uint32_t)limit);
	wr(f, JAL_REG_STEP_LIMIT_HI, (uint32_t)(limit >> 32));
}

FIXTURE_SETUP(llm)
{
	self->f = fake_new(160 * MiB);
	jal_arena_setup(&self->mem, self->f, VRAM_VA, VRAM_LEN, HOST_VA, HOST_LEN);
}

FIXTURE_TEARDOWN(llm)
{
	fake_free(self->f);
}

static uint64_t alloc_in(FIXTURE_DATA(llm) *self, bool vram, uint64_t bytes)
{
	return jal_arena_alloc(&self->mem, vram, bytes);
}

static void reset_alloc(FIXTURE_DATA(llm) *self)
{
	jal_arena_reset(&self->mem);
}

static float rndf(struct fake *f)
{
	return (float)(int32_t)(rnd(f) >> 32) / 2147483648.0f;
}

static uint64_t rnd_in(struct fake *f, uint64_t lo, uint64_t hi)
{
	return lo + rnd(f) % (hi - lo + 1);
}

/* f32 -> bf16, round to nearest even (NaNs stay NaN). */
static uint16_t to_bf16(float x)
{
	uint32_t u = f2u(x);

	if ((u & 0x7fffffff) > 0x7f800000)
		return (uint16_t)((u >> 16) | 0x40);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t h)
{
	return u2f((uint32_t)h << 16);
}

static uint32_t run1(struct fake *f, struct jal_insn in, const uint64_t *args,
		     unsigned int nargs)
{
	return run_kernel(f, &in, 1, args, nargs).status;
}

/* ---- weights ---------------------------------------------------------- */

/*
 * A random weight matrix of @rows x @cols in @dtype, as the chip stores
 * it (row pitch @pitch stored elements) and decoded to dense f32 (the
 * reference's view).
 */
struct wmat {
	unsigned int dtype;
	uint32_t rows, cols, pitch, group;
	uint8_t *raw;		/* rows * pitch stored elements */
	size_t raw_bytes;
	uint8_t *aux;		/* Q8 scales / S24 index bytes, dense rows */
	size_t aux_bytes;
	float *dense;		/* rows * cols */
};

static const unsigned int esize[4] = { 4, 2, 1, 2 };

static void wmat_make(struct fake *f, struct wmat *m, unsigned int dtype,
		      uint32_t rows, uint32_t cols, uint32_t extra_pitch,
		      uint32_t group)
{
	uint32_t rowlen = dtype == JAL_DTYPE_S24 ? cols / 2 : cols, r, c;

	memset(m, 0, sizeof(*m));
	m->dtype = dtype;
	m->rows = rows;
	m->cols = cols;
	m->group = group;
	m->pitch = rowlen + extra_pitch;
	m->raw_bytes = ((size_t)(rows - 1) * m->pitch + rowlen) * esize[dtype];
	m->raw = calloc(1, (size_t)rows * m->pitch * esize[dtype] + 64);
	m->dense = calloc((size_t)rows * cols + 1, sizeof(float));
	if (dtype == JAL_DTYPE_Q8)
		m->aux_bytes = (size_t)rows * (cols / group) * 4;
	if (dtype == JAL_DTYPE_S24)
		m->aux_bytes = (size_t)rows * (cols / 4);
	m->aux = calloc(1, m->aux_bytes + 64);
	for (r = 0; r < rows; r++) {
		uint8_t *row = m->raw + (size_t)r * m->pitch * esize[dtype];
		float *dense = m->dense + (size_t)r * cols;

		for (c = 0; c < cols && dtype != JAL_DTYPE_S24; c++) {
			float v = rndf(f);
			uint16_t h;
			int8_t q;

			switch (dtype) {
			case JAL_DTYPE_F32:
				memcpy(row + c * 4, &v, 4);
				dense[c] = v;
				break;
			case JAL_DTYPE_BF16:
				h = to_bf16(v * 4);
				memcpy(row + c * 2, &h, 2);
				dense[c] = from_bf16(h);
				break;
			default:
				q = (int8_t)(rnd(f) % 255 - 127);
				row[c] = (uint8_t)q;
				break;
			}
		}
		if (dtype == JAL_DTYPE_Q8) {
			float *sc = (float *)(m->aux + (size_t)r * (cols / group) * 4);

			for (c = 0; c < cols / group; c++)
				sc[c] = rndf(f) / 64;
			for (c = 0; c < cols; c++)
				dense[c] = (float)(int8_t)row[c] * sc[c / group];
		}
		if (dtype == JAL_DTYPE_S24) {
			static const uint8_t pairs[6] = { 4, 8, 12, 9, 13, 14 };
			uint8_t *idx = m->aux + (size_t)r * (cols / 4);

			for (c = 0; c < cols / 4; c++) {
				uint8_t b = pairs[rnd(f) % 6];
				uint16_t v0 = to_bf16(rndf(f)), v1 = to_bf16(rndf(f));

				idx[c] = b;
				memcpy(row + (2 * c) * 2, &v0, 2);
				memcpy(row + (2 * c + 1) * 2, &v1, 2);
				dense[4 * c + (b & 3)] = from_bf16(v0);
				dense[4 * c + (b >> 2)] = from_bf16(v1);
			}
		}
	}
}

static void wmat_free(struct wmat *m)
{
	free(m->raw);
	free(m->aux);
	free(m->dense);
}

/* Put W (and its scales/indices) into memory; returns the VA of W. */
static uint64_t wmat_place(FIXTURE_DATA(llm) *self, struct wmat *m, bool vram,
			   uint64_t *aux_va)
{
	uint64_t va = alloc_in(self, vram, m->raw_bytes);

	host_write(self->f, CTX, va, m->raw, m->raw_bytes);
	*aux_va = 0;
	if (m->aux_bytes) {
		*aux_va = alloc_in(self, vram, m->aux_bytes);
		host_write(self->f, CTX, *aux_va, m->aux, m->aux_bytes);
	}
	return va;
}

static void fill_rnd(struct fake *f, float *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = rndf(f);
}

/* ---- MATVEC ----------------------------------------------------------- */

struct mv_case {
	unsigned int dtype;
	uint32_t rows, cols, extra_pitch, group, sd, sx;
	bool w_vram, x_vram, d_vram;
	bool q8x;		/* Q8 with JAL_INSN_F_Q8X */
};

/*
 * JAL_INSN_F_Q8X as jalapeno_hw.h defines it, written out plainly: x
 * quantized per group (runq.c), exact integer dot products, the groups'
 * terms summed like a dot product's columns.
 */
static float ref_q8x_row(const int8_t *w, const float *ws, uint32_t group,
			 const float *x, uint32_t cols)
{
	float lanes[8] = { 0 };
	uint32_t g, i;

	for (g = 0; g < cols / group; g++) {
		const float *xg = x + (size_t)g * group;
		float amax = 0.0f, s;
		int32_t dot = 0;

		for (i = 0; i < group; i++)
			if (fabsf(xg[i]) > amax)
				amax = fabsf(xg[i]);
		s = amax / 127.0f;
		for (i = 0; i < group; i++) {
			float v = s == 0.0f ? 0.0f : roundf(xg[i] / s);
			int q = isnan(v) ? 0 : v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v;

			dot += q * w[(size_t)g * group + i];
		}
		lanes[g % 8] += ((float)dot * ws[g]) * s;
	}
	return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
	       ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/* A random layout: extra row pitch, strides of D and x, where W, x and D live. */
static void mv_case_rnd_layout(struct fake *f, struct mv_case *c)
{
	c->extra_pitch = rnd(f) % 3 ? 0 : rnd_in(f, 1, 9);
	c->sd = rnd(f) % 4 ? 1 : rnd_in(f, 2, 3);
	c->sx = rnd(f) % 4 ? 1 : rnd_in(f, 0, 3);
	c->w_vram = rnd(f) % 4;
	c->x_vram = rnd(f) % 2;
	c->d_vram = rnd(f) % 2;
}

static void check_matvec(struct __test_metadata *_metadata,
			 FIXTURE_DATA(llm) *self, const struct mv_case *c)
{
	struct fake *f = self->f;
	struct wmat m;
	uint64_t aux_va, args[4];
	size_t xn = ((size_t)c->cols - 1) * c->sx + 1, dn = ((size_t)c->rows - 1) * c->sd + 1;
	float *x = malloc(xn * 4), *d = malloc(dn * 4), *want = malloc(dn * 4);
	float *xd = malloc(((size_t)c->cols + 1) * 4);
	struct jal_insn in;
	uint32_t i, r, bad = 0;

	reset_alloc(self);
	wmat_make(f, &m, c->dtype, c->rows, c->cols, c->extra_pitch, c->group);
	/* Q8X: the integer extremes too (wmat_make stays within +-127). */
	for (i = 0; c->q8x && i < m.raw_bytes; i += 7)
		m.raw[i] = 0x80;
	args[1] = wmat_place(self, &m, c->w_vram, &aux_va);
	args[3] = aux_va;
	fill_rnd(f, x, xn);
	/* ... and a group of x that is all zeros (its scale is 0). */
	for (i = 0; c->q8x && i < c->group && i < c->cols; i++)
		x[(size_t)i * c->sx] = 0.0f;
	/*
	 * ... and one whose values divided by its scale (1: its largest is
	 * 127) end in exactly one half, where rounding goes away from zero.
	 */
	for (i = c->group; c->q8x && i < 2 * c->group && i < c->cols; i++)
		x[(size_t)i * c->sx] = i == c->group ? 127.0f : (float)((int)(i % 255) - 127) + 0.5f;
	fill_rnd(f, d, dn);
	memcpy(want, d, dn * 4);
	args[2] = alloc_in(self, c->x_vram, xn * 4);
	args[0] = alloc_in(self, c->d_vram, dn * 4);
	host_write(f, CTX, args[2], x, xn * 4);
	host_write(f, CTX, args[0], d, dn * 4);
	for (i = 0; i < c->cols; i++)
		xd[i] = x[(size_t)i * c->sx];
	for (r = 0; r < c->rows; r++)
		want[(size_t)r * c->sd] = c->q8x ?
			ref_q8x_row((const int8_t *)m.raw + (size_t)r * m.pitch,
				    (const float *)m.aux + (size_t)r * (c->cols / c->group),
				    c->group, xd, c->cols) :
			ref_dot(m.dense + (size_t)r * c->cols, xd, c->cols, 1);

	in = i_matvec(0, 1, 2, c->rows, c->cols, c->sd,
		      c->extra_pitch ? m.pitch : 0, c->sx);
	in.dtype = c->dtype;
	if (c->dtype >= JAL_DTYPE_Q8)
		in.r[3] = 3;
	if (c->dtype == JAL_DTYPE_Q8)
		in.dim[2] = c->group;
	if (c->q8x)
		in.flags |= JAL_INSN_F_Q8X;
	ASSERT_EQ(JAL_STATUS_OK, run1(f, in, args, 4));
	host_read(f, CTX, args[0], d, dn * 4);
	for (i = 0; i < dn; i++)
		bad += f2u(d[i]) != f2u(want[i]);
	EXPECT_EQ(0, bad) {
		TH_LOG("dtype %u%s %ux%u pitch+%u group %u sd %u sx %u vram %d%d%d: %u wrong",
		       c->dtype, c->q8x ? " q8x" : "", c->rows, c->cols,
		       c->extra_pitch, c->group, c->sd, c->sx, c->w_vram,
		       c->x_vram, c->d_vram, bad);
	}
	wmat_free(&m);
	free(x);
	free(d);
	free(want);
	free(xd);
}

/* Column counts the dtype allows, near @cols. */
static uint32_t fit_cols(unsigned int dtype, uint32_t cols, uint32_t group)
{
	if (dtype == JAL_DTYPE_S24)
		return (cols + 3) & ~3u;
	if (dtype == JAL_DTYPE_Q8)
		return (cols + group - 1) / group * group;
	return cols;
}

TEST_F_TIMEOUT(llm, matvec_every_dtype_matches_the_reference, 120)
{
	static const struct mv_case fixed[] = {
		{ JAL_DTYPE_F32, 1, 1, 0, 0, 1, 1, true, true, true },
		{ JAL_DTYPE_BF16, 3, 5, 0, 0, 1, 1, true, true, true },
		{ JAL_DTYPE_Q8, 7, 24, 0, 8, 1, 1, true, true, true },
		{ JAL_DTYPE_Q8, 9, 36, 3, 12, 2, 3, true, false, true },
		{ JAL_DTYPE_Q8, 5, 20, 0, 4, 1, 1, false, true, false },
		{ JAL_DTYPE_S24, 6, 4, 0, 0, 1, 1, true, true, true },
		{ JAL_DTYPE_S24, 33, 44, 2, 0, 1, 1, true, true, true },
		{ JAL_DTYPE_S24, 600, 1200, 0, 0, 1, 1, true, true, true },
		{ JAL_DTYPE_F32, 700, 1100, 0, 0, 1, 1, true, true, true },
		{ JAL_DTYPE_BF16, 513, 769, 5, 0, 1, 2, true, true, true },
		{ JAL_DTYPE_Q8, 400, 1024, 0, 32, 1, 1, true, true, true },
		{ JAL_DTYPE_F32, 300, 301, 0, 0, 1, 1, false, false, false },
		{ JAL_DTYPE_BF16, 40, 1000, 0, 0, 0, 1, true, true, true },
		/* Rows longer than the resident x: the streaming path. */
		{ JAL_DTYPE_F32, 3, 70001, 0, 0, 1, 1, true, true, true },
		{ JAL_DTYPE_BF16, 2, 66000, 0, 0, 1, 2, true, false, true },
		{ JAL_DTYPE_Q8, 3, 65540, 0, 4, 1, 1, true, true, true },
		{ JAL_DTYPE_S24, 2, 70000, 4, 0, 1, 1, false, true, true },
	};
	struct fake *f = self->f;
	unsigned int i, dt;

	for (i = 0; i < ARRAY_SIZE(fixed); i++)
		check_matvec(_metadata, self, &fixed[i]);
	/* Random shapes, strides and placements. */
	for (i = 0; i < 48; i++) {
		struct mv_case c = { 0 };
		static const uint32_t groups[] = { 8, 16, 32, 64, 4, 2, 1, 24 };

		dt = i % 4;
		c.dtype = dt;
		c.group = groups[rnd(f) % 8];
		c.rows = rnd_in(f, 1, i < 40 ? 160 : 900);
		c.cols = fit_cols(dt, rnd_in(f, 1, i < 40 ? 300 : 1500), c.group);
		mv_case_rnd_layout(f, &c);
		check_matvec(_metadata, self, &c);
	}
}

/*
 * Q8X: group sizes the fast kernels take (4 and 8 a row at a time; 16, 32
 * and multiples of 64 in panels of 16 rows) and others (12, 20), row
 * counts below, at and between multiples of 16, x strided or gathered, W
 * bounced from host memory.
 */
TEST_F_TIMEOUT(llm, matvec_q8x_matches_the_reference, 120)
{
	static const struct mv_case fixed[] = {
		{ JAL_DTYPE_Q8, 1, 4, 0, 4, 1, 1, true, true, true, true },
		{ JAL_DTYPE_Q8, 5, 172, 0, 4, 1, 1, true, true, true, true },
		{ JAL_DTYPE_Q8, 288, 288, 0, 32, 1, 1, true, true, true, true },
		{ JAL_DTYPE_Q8, 288, 768, 0, 64, 1, 1, true, true, true, true },
		{ JAL_DTYPE_Q8, 37, 96, 3, 12, 2, 3, false, false, true, true },
		{ JAL_DTYPE_Q8, 9, 1280, 0, 128, 1, 1, true, true, false, true },
		{ JAL_DTYPE_Q8, 3, 65536, 0, 64, 1, 1, true, true, true, true },
	};
	static const uint32_t groups[] = { 4, 8, 16, 32, 64, 12, 20, 128 };
	struct fake *f = self->f;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fixed); i++)
		check_matvec(_metadata, self, &fixed[i]);
	for (i = 0; i < 40; i++) {
		struct mv_case c = { .dtype = JAL_DTYPE_Q8, .q8x = true };

		c.group = groups[rnd(f) % ARRAY_SIZE(groups)];
		c.rows = rnd_in(f, 1, 300);
		c.cols = c.group * rnd_in(f, 1, 40);
		mv_case_rnd_layout(f, &c);
		check_matvec(_metadata, self, &c);
	}
}

/* ---- MATMUL ----------------------------------------------------------- */

struct mm_case {
	unsigned int dtype;
	uint32_t m, k, n, extra_w, extra_x, extra_d, group;
	bool vram;
};

static void check_matmul(struct __test_metadata *_metadata,
			 FIXTURE_DATA(llm) *self, const struct mm_case *c)
{
	struct fake *f = self->f;
	uint32_t xp = c->k + c->extra_x, dp = c->m + c->extra_d, i, j, bad = 0;
	size_t xn = ((size_t)c->n - 1) * xp + c->k, dn = ((size_t)c->n - 1) * dp + c->m;
	float *x = malloc(xn * 4), *d = malloc(dn * 4), *want = malloc(dn * 4);
	uint64_t aux_va, args[4];
	struct jal_insn in;
	struct wmat m;

	reset_alloc(self);
	wmat_make(f, &m, c->dtype, c->m, c->k, c->extra_w, c->group);
	args[1] = wmat_place(self, &m, c->vram, &aux_va);
	args[3] = aux_va;
	fill_rnd(f, x, xn);
	fill_rnd(f, d, dn);
	memcpy(want, d, dn * 4);
	args[2] = alloc_in(self, c->vram, xn * 4);
	args[0] = alloc_in(self, c->vram, dn * 4);
	host_write(f, CTX, args[2], x, xn * 4);
	host_write(f, CTX, args[0], d, dn * 4);
	for (j = 0; j < c->n; j++)
		for (i = 0; i < c->m; i++)
			want[(size_t)j * dp + i] = ref_dot(m.dense + (size_t)i * c->k,
							   x + (size_t)j * xp, c->k, 1);
	in = i_op(JAL_OP_MATMUL);
	in.dtype = c->dtype;
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[2] = 2;
	in.dim[0] = c->m;
	in.dim[1] = c->k;
	in.dim[2] = c->n;
	in.stride[0] = c->extra_d ? dp : 0;
	in.stride[1] = c->extra_w ? m.pitch : 0;
	in.stride[2] = c->extra_x ? xp : 0;
	if (c->dtype >= JAL_DTYPE_Q8)
		in.r[3] = 3;
	if (c->dtype == JAL_DTYPE_Q8)
		in.dim[3] = c->group;
	ASSERT_EQ(JAL_STATUS_OK, run1(f, in, args, 4));
	host_read(f, CTX, args[0], d, dn * 4);
	for (i = 0; i < dn; i++)
		bad += f2u(d[i]) != f2u(want[i]);
	EXPECT_EQ(0, bad) {
		TH_LOG("dtype %u %ux%ux%u pitches +%u +%u +%u group %u vram %d: %u wrong",
		       c->dtype, c->m, c->k, c->n, c->extra_w, c->extra_x, c->extra_d,
		       c->group, c->vram, bad);
	}
	wmat_free(&m);
	free(x);
	free(d);
	free(want);
}

TEST_F_TIMEOUT(llm, matmul_every_dtype_matches_the_reference, 120)
{
	static const struct mm_case fixed[] = {
		{ JAL_DTYPE_F32, 1, 1, 1, 0, 0, 0, 0, true },
		{ JAL_DTYPE_F32, 130, 300, 9, 0, 0, 0, 0, true },
		{ JAL_DTYPE_F32, 67, 301, 13, 3, 5, 7, 0, false },
		{ JAL_DTYPE_BF16, 96, 288, 17, 0, 0, 0, 0, true },
		{ JAL_DTYPE_Q8, 77, 96, 6, 1, 2, 3, 32, true },
		{ JAL_DTYPE_Q8, 33, 60, 5, 0, 0, 0, 6, false },
		{ JAL_DTYPE_S24, 50, 132, 11, 2, 0, 1, 0, true },
		{ JAL_DTYPE_F32, 256, 512, 64, 0, 0, 0, 0, true },
		{ JAL_DTYPE_F32, 5, 70000, 3, 0, 0, 0, 0, true },
		{ JAL_DTYPE_S24, 2, 65544, 2, 0, 8, 0, 0, true },
	};
	struct fake *f = self->f;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fixed); i++)
		check_matmul(_metadata, self, &fixed[i]);
	for (i = 0; i < 24; i++) {
		static const uint32_t groups[] = { 8, 32, 4, 3 };
		struct mm_case c = { 0 };

		c.dtype = i % 4;
		c.group = groups[rnd(f) % 4];
		c.m = rnd_in(f, 1, 150);
		c.k = fit_cols(c.dtype, rnd_in(f, 1, 400), c.group);
		c.n = rnd_in(f, 1, 20);
		c.extra_w = rnd(f) % 3 ? 0 : rnd_in(f, 1, 5);
		c.extra_x = rnd(f) % 3 ? 0 : rnd_in(f, 1, 5);
		c.extra_d = rnd(f) % 3 ? 0 : rnd_in(f, 1, 5);
		c.vram = rnd(f) % 4;
		check_matmul(_metadata, self, &c);
	}
}

TEST_F(llm, matmul_rows_equal_matvec_and_k0_gives_zeros)
{
	struct fake *f = self->f;
	uint64_t args[4], aux_va;
	float out_mm[5 * 40], out_mv[40], z[8];
	struct jal_insn code[2];
	unsigned int n, i;
	struct wmat m;

	wmat_make(f, &m, JAL_DTYPE_Q8, 40, 64, 0, 16);
	args[1] = wmat_place(self, &m, true, &aux_va);
	args[3] = aux_va;
	args[2] = alloc_in(self, true, 5 * 64 * 4);
	args[0] = alloc_in(self, true, 5 * 40 * 4);
	for (i = 0; i < 5 * 64; i++) {
		float v = rndf(f);

		host_write(f, CTX, args[2] + i * 4, &v, 4);
	}
	code[0] = i_op(JAL_OP_MATMUL);
	code[0].dtype = JAL_DTYPE_Q8;
	code[0].r[1] = 1;
	code[0].r[2] = 2;
	code[0].r[3] = 3;
	code[0].dim[0] = 40;
	code[0].dim[1] = 64;
	code[0].dim[2] = 5;
	code[0].dim[3] = 16;
	ASSERT_EQ(JAL_STATUS_OK, run1(f, code[0], args, 4));
	host_read(f, CTX, args[0], out_mm, sizeof(out_mm));
	for (n = 0; n < 5; n++) {
		uint64_t a[4] = { args[0], args[1], args[2] + n * 64 * 4, args[3] };

		code[1] = i_matvec(0, 1, 2, 40, 64, 1, 0, 1);
		code[1].dtype = JAL_DTYPE_Q8;
		code[1].r[3] = 3;
		code[1].dim[2] = 16;
		ASSERT_EQ(JAL_STATUS_OK, run1(f, code[1], a, 4));
		host_read(f, CTX, args[0], out_mv, sizeof(out_mv));
		EXPECT_EQ(0, memcmp(out_mv, out_mm + n * 40, sizeof(out_mv)));
	}
	/* K = 0: D is +0.0, W and X are not touched (unmapped here). */
	code[0] = i_op(JAL_OP_MATMUL);
	code[0].r[1] = 1;
	code[0].r[2] = 1;
	code[0].dim[0] = 8;
	code[0].dim[2] = 1;
	args[1] = 0x7000000000ull;
	host_write(f, CTX, args[0], out_mm, 32);
	ASSERT_EQ(JAL_STATUS_OK, run1(f, code[0], args, 2));
	host_read(f, CTX, args[0], z, 32);
	for (i = 0; i < 8; i++)
		EXPECT_EQ(0u, f2u(z[i]));
	/* M = 0 or N = 0: nothing at all. */
	code[0].dim[0] = 0;
	code[0].dim[1] = 5;
	EXPECT_EQ(JAL_STATUS_OK, run1(f, code[0], args, 2));
	wmat_free(&m);
}

/*
 * Batch invariance: every row of a MATMUL of B rows is the MATVEC of that
 * row, bit for bit, for every dtype (and Q8 with Q8X, X quantized per
 * row), whatever B and whatever else is in the batch: rows of X are
 * scaled by powers of two from 2^-30 to 2^29 and one is all zeros.
 */
struct batch_case {
	unsigned int dtype;
	bool q8x;
	uint32_t m, k, group, extra_w, extra_x, extra_d;
	bool vram;
};

static void check_batch_invariance(struct __test_metadata *_metadata,
				   FIXTURE_DATA(llm) *self,
				   const struct batch_case *c, uint32_t B)
{
	struct fake *f = self->f;
	uint32_t xp = c->k + c->extra_x, dp = c->m + c->extra_d, b, i, bad = 0;
	size_t xn = (size_t)B * xp, dn = (size_t)B * dp;
	float *x = malloc(xn * 4), *d = malloc(dn * 4), *mv = malloc(dn * 4);
	struct jal_insn *code = calloc(1 + 3 * B, sizeof(*code)), *in;
	uint64_t aux_va, args[5];
	struct wmat m;

	reset_alloc(self);
	wmat_make(f, &m, c->dtype, c->m, c->k, c->extra_w, c->group);
	args[1] = wmat_place(self, &m, c->vram, &aux_va);
	args[3] = aux_va;
	fill_rnd(f, x, xn);
	for (b = 0; b < B; b++) {
		float scale = ldexpf(1.0f, (int)((b * 37) % 60) - 30);

		for (i = 0; i < c->k; i++)
			x[(size_t)b * xp + i] = b == 2 ? 0.0f : x[(size_t)b * xp + i] * scale;
	}
	args[2] = alloc_in(self, c->vram, xn * 4);
	args[0] = alloc_in(self, c->vram, dn * 4);
	args[4] = alloc_in(self, !c->vram, dn * 4);
	host_write(f, CTX, args[2], x, xn * 4);

	in = &code[0];
	*in = i_op(JAL_OP_MATMUL);
	in->dtype = c->dtype;
	in->flags = c->q8x ? JAL_INSN_F_Q8X : 0;
	in->r[1] = 1;
	in->r[2] = 2;
	in->r[3] = c->dtype >= JAL_DTYPE_Q8 ? 3 : 0;
	in->dim[0] = c->m;
	in->dim[1] = c->k;
	in->dim[2] = B;
	in->dim[3] = c->dtype == JAL_DTYPE_Q8 ? c->group : 0;
	in->stride[0] = dp;
	in->stride[1] = m.pitch;
	in->stride[2] = xp;
	for (b = 0; b < B; b++) {
		code[1 + 3 * b] = i_addi(5, 2, (uint64_t)b * xp * 4);
		code[2 + 3 * b] = i_addi(6, 4, (uint64_t)b * dp * 4);
		in = &code[3 + 3 * b];
		*in = i_matvec(6, 1, 5, c->m, c->k, 1, m.pitch, 1);
		in->dtype = c->dtype;
		in->flags = c->q8x ? JAL_INSN_F_Q8X : 0;
		in->r[3] = c->dtype >= JAL_DTYPE_Q8 ? 3 : 0;
		in->dim[2] = c->dtype == JAL_DTYPE_Q8 ? c->group : 0;
	}
	ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, code, 1 + 3 * B, args, 5).status);
	host_read(f, CTX, args[0], d, dn * 4);
	host_read(f, CTX, args[4], mv, dn * 4);
	for (b = 0; b < B; b++)
		for (i = 0; i < c->m; i++)
			bad += f2u(d[(size_t)b * dp + i]) != f2u(mv[(size_t)b * dp + i]);
	EXPECT_EQ(0, bad) {
		TH_LOG("dtype %u q8x %d %ux%u group %u B %u vram %d: %u rows differ from MATVEC",
		       c->dtype, c->q8x, c->m, c->k, c->group, B, c->vram, bad);
	}
	wmat_free(&m);
	free(code);
	free(x);
	free(d);
	free(mv);
}

TEST_F_TIMEOUT(llm, matmul_rows_equal_matvec_for_every_dtype_and_batch, 180)
{
	static const struct batch_case cases[] = {
		{ JAL_DTYPE_F32, false, 70, 200, 0, 0, 0, 0, true },
		{ JAL_DTYPE_F32, false, 37, 33, 0, 3, 5, 2, false },
		{ JAL_DTYPE_BF16, false, 70, 200, 0, 1, 0, 3, true },
		{ JAL_DTYPE_Q8, false, 70, 192, 16, 0, 0, 0, true },
		{ JAL_DTYPE_Q8, false, 21, 60, 6, 2, 1, 0, false },
		{ JAL_DTYPE_Q8, true, 70, 256, 64, 0, 0, 0, true },
		{ JAL_DTYPE_Q8, true, 53, 192, 32, 3, 4, 1, false },
		{ JAL_DTYPE_Q8, true, 40, 128, 16, 0, 2, 0, true },
		{ JAL_DTYPE_Q8, true, 19, 96, 8, 0, 0, 5, true },
		{ JAL_DTYPE_Q8, true, 35, 40, 4, 1, 0, 0, false },
		{ JAL_DTYPE_Q8, true, 18, 120, 12, 0, 0, 0, true },
		{ JAL_DTYPE_Q8, true, 33, 384, 128, 0, 0, 0, true },
		/* MATMUL's register tiles: rows and K off their 16 x 64. */
		{ JAL_DTYPE_Q8, true, 29, 320, 64, 1, 2, 3, false },
		{ JAL_DTYPE_Q8, true, 17, 768, 256, 0, 0, 0, true },
		{ JAL_DTYPE_Q8, true, 47, 160, 32, 0, 1, 0, true },
		{ JAL_DTYPE_S24, false, 70, 200, 0, 2, 0, 1, true },
	};
	static const uint32_t batches[] = { 1, 2, 3, 7, 16, 33, 64 };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		for (j = 0; j < ARRAY_SIZE(batches); j++)
			check_batch_invariance(_metadata, self, &cases[i], batches[j]);
}

/* ---- element-wise LLM ops --------------------------------------------- */

static float lanes_tree(const float *l)
{
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

static void ref_rmsnorm(float *d, const float *a, const float *b, uint32_t n,
			float eps)
{
	float lanes[8] = { 0 }, inv;
	uint32_t i;

	for (i = 0; i < n; i++)
		lanes[i % 8] += a[i] * a[i];
	inv = 1.0f / sqrtf(lanes_tree(lanes) / (float)n + eps);
	for (i = 0; i < n; i++)
		d[i] = b[i] * (inv * a[i]);
}

static void ref_softmax(float *x, uint32_t n)
{
	float max = x[0], sum = 0.0f;
	uint32_t i;

	for (i = 1; i < n; i++)
		if (x[i] > max)
			max = x[i];
	for (i = 0; i < n; i++) {
		x[i] = expf(x[i] - max);
		sum += x[i];
	}
	for (i = 0; i < n; i++)
		x[i] /= sum;
}

static void ref_rope(float *d, const float *a, uint32_t n, uint32_t hs,
		     uint32_t pos, float theta)
{
	uint32_t i;

	for (i = 0; i < n; i += 2) {
		uint32_t j = i % hs;
		float freq = 1.0f / powf(theta, (float)j / (float)hs);
		float val = (float)pos * freq, c = cosf(val), s = sinf(val);

		d[i] = a[i] * c - a[i + 1] * s;
		d[i + 1] = a[i] * s + a[i + 1] * c;
	}
}

static void ref_silu(float *d, const float *a, const float *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		float v = a[i];

		v *= 1.0f / (1.0f + expf(-v));
		d[i] = v * b[i];
	}
}

/*
 * One vector op over n elements with d, a, b at @off_d/@off_a/@off_b
 * floats into one buffer (so in-place and overlapping layouts are easy).
 */
struct vcase {
	uint8_t op;
	uint32_t n, hs, pos;
	int64_t off_d, off_a, off_b;
	bool vram;
	float imm;
};

static void check_vector(struct __test_metadata *_metadata,
			 FIXTURE_DATA(llm) *self, const struct vcase *c)
{
	struct fake *f = self->f;
	int64_t lo = c->off_d, hi;
	size_t len, i;
	uint32_t bad = 0;
	float *before, *want, *got, *a, *b;
	uint64_t base, args[3];
	struct jal_insn in = i_op(c->op);

	lo = c->off_a < lo ? c->off_a : lo;
	lo = c->off_b < lo ? c->off_b : lo;
	hi = JAL_MAX3(c->off_d, c->off_a, c->off_b) + c->n;
	len = (size_t)(hi - lo);
	before = malloc(len * 4);
	want = malloc(len * 4);
	got = malloc(len * 4);
	a = malloc((size_t)c->n * 4 + 4);
	b = malloc((size_t)c->n * 4 + 4);
	reset_alloc(self);
	base = alloc_in(self, c->vram, len * 4);
	fill_rnd(f, before, len);
	for (i = 0; i < len && c->op == JAL_OP_SOFTMAX; i++)
		before[i] *= 20;
	host_write(f, CTX, base, before, len * 4);
	memcpy(want, before, len * 4);
	memcpy(a, before + (c->off_a - lo), (size_t)c->n * 4);
	memcpy(b, before + (c->off_b - lo), (size_t)c->n * 4);
	args[0] = base + (uint64_t)(c->off_d - lo) * 4;
	args[1] = base + (uint64_t)(c->off_a - lo) * 4;
	args[2] = base + (uint64_t)(c->off_b - lo) * 4;
	in.r[0] = 0;
	in.r[1] = 1;
	in.dim[0] = c->n;
	switch (c->op) {
	case JAL_OP_RMSNORM:
		in.r[2] = 2;
		in.imm[0] = f2u(c->imm);
		ref_rmsnorm(want + (c->off_d - lo), a, b, c->n, c->imm);
		break;
	case JAL_OP_SOFTMAX:
		ref_softmax(a, c->n);
		memcpy(want + (c->off_d - lo), a, (size_t)c->n * 4);
		break;
	case JAL_OP_ROPE:
		in.dim[1] = c->hs;
		in.dim[2] = c->pos;
		in.imm[0] = f2u(c->imm);
		ref_rope(want + (c->off_d - lo), a, c->n, c->hs, c->pos, c->imm);
		break;
	default:
		in.r[2] = 2;
		ref_silu(want + (c->off_d - lo), a, b, c->n);
		break;
	}
	ASSERT_EQ(JAL_STATUS_OK, run1(f, in, args, 3));
	host_read(f, CTX, base, got, len * 4);
	for (i = 0; i < len; i++)
		bad += f2u(got[i]) != f2u(want[i]);
	EXPECT_EQ(0, bad) {
		TH_LOG("op 0x%02x n %u hs %u offsets %lld %lld %lld vram %d: %u wrong",
		       c->op, c->n, c->hs, (long long)c->off_d, (long long)c->off_a,
		       (long long)c->off_b, c->vram, bad);
	}
	free(before);
	free(want);
	free(got);
	free(a);
	free(b);
}

TEST_F_TIMEOUT(llm, rmsnorm_softmax_rope_silu_match_run_c, 60)
{
	static const uint8_t ops[] = {
		JAL_OP_RMSNORM, JAL_OP_SOFTMAX, JAL_OP_ROPE, JAL_OP_SILU_MUL,
	};
	static const uint32_t sizes[] = { 2, 8, 10, 288, 770, 4096, 16386, 40002 };
	struct fake *f = self->f;
	unsigned int o, s, l;

	for (o = 0; o < ARRAY_SIZE(ops); o++) {
		for (s = 0; s < ARRAY_SIZE(sizes); s++) {
			/* Separate, in place, and overlapping at another start. */
			for (l = 0; l < 3; l++) {
				struct vcase c = {
					.op = ops[o], .n = sizes[s],
					.off_d = 0, .off_a = 2 * sizes[s] + 8,
					.off_b = 4 * sizes[s] + 32,
					.vram = (s + l) % 2, .imm = 1e-5f,
				};

				if (c.op == JAL_OP_ROPE) {
					c.hs = sizes[s] % 4 ? 2 : (sizes[s] % 48 ? 4 : 48);
					if (sizes[s] == 4096)
						c.hs = 128;
					c.pos = (uint32_t)rnd_in(f, 0, 5000);
					c.imm = 10000.0f;
				}
				if (l == 1)
					c.off_d = c.off_a;
				if (l == 2)
					c.off_d = c.off_a + 3 - 2 * (s % 2);
				check_vector(_metadata, self, &c);
			}
		}
	}
	/* Beyond the logit buffer: SOFTMAX in three streamed passes. */
	{
		struct vcase c = {
			.op = JAL_OP_SOFTMAX, .n = JAL_SAMPLE_MAX_LOGITS + 3,
			.off_a = JAL_SAMPLE_MAX_LOGITS + 16, .vram = true,
		};

		check_vector(_metadata, self, &c);
		c.off_d = c.off_a;
		check_vector(_metadata, self, &c);
	}
}

/* ---- ATTENTION -------------------------------------------------------- */

struct att_case {
	uint32_t heads, hs, kv_heads, len, kpitch, vpitch;
	bool vram, in_place;
};

static void check_attention(struct __test_metadata *_metadata,
			    FIXTURE_DATA(llm) *self, const struct att_case *c)
{
	struct fake *f = self->f;
	uint32_t kvd = c->kv_heads * c->hs, kp = c->kpitch ? c->kpitch : kvd;
	uint32_t vp = c->vpitch ? c->vpitch : kvd, h, t, i, bad = 0;
	size_t qn = (size_t)c->heads * c->hs, kn = (size_t)(c->len - 1) * kp + kvd;
	size_t vn = (size_t)(c->len - 1) * vp + kvd;
	float *q = malloc(qn * 4), *k = malloc(kn * 4), *v = malloc(vn * 4);
	float *want = malloc(qn * 4), *got = malloc(qn * 4), *s = malloc(c->len * 4);
	double max_rel = 0;
	uint64_t args[4];
	struct jal_insn in = i_op(JAL_OP_ATTENTION);

	reset_alloc(self);
	fill_rnd(f, q, qn);
	fill_rnd(f, k, kn);
	fill_rnd(f, v, vn);
	for (i = 0; i < qn; i++)
		q[i] *= 3;
	args[1] = alloc_in(self, c->vram, qn * 4);
	args[0] = c->in_place ? args[1] : alloc_in(self, c->vram, qn * 4);
	args[2] = alloc_in(self, c->vram, kn * 4);
	args[3] = alloc_in(self, c->vram, vn * 4);
	host_write(f, CTX, args[1], q, qn * 4);
	host_write(f, CTX, args[2], k, kn * 4);
	host_write(f, CTX, args[3], v, vn * 4);
	for (h = 0; h < c->heads; h++) {
		uint32_t g = h / (c->heads / c->kv_heads);
		const float *qh = q + (size_t)h * c->hs;
		float *out = want + (size_t)h * c->hs;

		for (t = 0; t < c->len; t++)
			s[t] = ref_dot(qh, k + (size_t)t * kp + g * c->hs, c->hs, 1) /
			       sqrtf((float)c->hs);
		ref_softmax(s, c->len);
		for (i = 0; i < c->hs; i++)
			out[i] = 0.0f;
		for (t = 0; t < c->len; t++)
			for (i = 0; i < c->hs; i++)
				out[i] += s[t] * v[(size_t)t * vp + g * c->hs + i];
		/* And against double precision, from scratch. */
		for (i = 0; i < c->hs; i++) {
			double num = 0, den = 0, mx = -1e300, sc, mag = 0;

			for (t = 0; t < c->len; t++) {
				double dot = 0;
				uint32_t j;

				for (j = 0; j < c->hs; j++)
					dot += (double)qh[j] * k[(size_t)t * kp + g * c->hs + j];
				s[t] = (float)(dot / sqrt(c->hs));
				mx = s[t] > mx ? s[t] : mx;
			}
			for (t = 0; t < c->len; t++) {
				sc = exp(s[t] - mx);
				den += sc;
				num += sc * v[(size_t)t * vp + g * c->hs + i];
				mag += sc * fabs(v[(size_t)t * vp + g * c->hs + i]);
			}
			sc = fabs(out[i] - num / den) / (mag / den + 1e-30);
			max_rel = sc > max_rel ? sc : max_rel;
		}
	}
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[2] = 2;
	in.r[3] = 3;
	in.dim[0] = c->heads;
	in.dim[1] = c->hs;
	in.dim[2] = c->kv_heads;
	in.dim[3] = 4;	/* the positions come from r4 */
	in.flags = JAL_INSN_F_DIM_REG(3);
	in.stride[2] = c->kpitch;
	in.stride[3] = c->vpitch;
	{
		uint64_t a[5] = { args[0], args[1], args[2], args[3], c->len };

		ASSERT_EQ(JAL_STATUS_OK, run1(f, in, a, 5));
	}
	host_read(f, CTX, args[0], got, qn * 4);
	for (i = 0; i < qn; i++)
		bad += f2u(got[i]) != f2u(want[i]);
	EXPECT_EQ(0, bad) {
		TH_LOG("H %u hs %u G %u T %u pitches %u %u vram %d in place %d: %u wrong",
		       c->heads, c->hs, c->kv_heads, c->len, c->kpitch, c->vpitch,
		       c->vram, c->in_place, bad);
	}
	EXPECT_LT(max_rel, 1e-5);
	free(q);
	free(k);
	free(v);
	free(want);
	free(got);
	free(s);
}

TEST_F_TIMEOUT(llm, attention_with_grouped_heads_matches_the_reference, 90)
{
	static const struct att_case cases[] = {
		{ 1, 1, 1, 1, 0, 0, true, false },
		{ 4, 8, 2, 5, 0, 0, true, false },
		{ 6, 48, 6, 37, 0, 0, false, false },
		{ 8, 64, 2, 300, 0, 0, true, true },
		{ 12, 36, 4, 129, 150, 160, true, false },
		{ 4, 33, 1, 70, 40, 33, false, true },
		/* More positions than one score block: recomputed passes. */
		{ 2, 16, 1, 20000, 0, 0, true, false },
		{ 2, 8, 2, 17000, 0, 20, false, false },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_attention(_metadata, self, &cases[i]);
}

/* ---- EMBED, ARGMAX ----------------------------------------------------- */

TEST_F(llm, embed_decodes_the_indexed_row)
{
	struct fake *f = self->f;
	static const struct { unsigned int dtype; uint32_t dim, rows, extra, group; }
	cases[] = {
		{ JAL_DTYPE_F32, 288, 50, 0, 0 }, { JAL_DTYPE_BF16, 301, 9, 7, 0 },
		{ JAL_DTYPE_Q8, 288, 20, 0, 32 }, { JAL_DTYPE_Q8, 18, 5, 3, 6 },
		{ JAL_DTYPE_F32, 20000, 3, 0, 0 }, { JAL_DTYPE_Q8, 20000, 2, 1, 5 },
	};
	unsigned int i, r;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t aux_va, args[4];
		struct wmat m;
		float *got = malloc(cases[i].dim * 4);
		struct jal_insn in = i_op(JAL_OP_EMBED);

		reset_alloc(self);
		wmat_make(f, &m, cases[i].dtype, cases[i].rows, cases[i].dim,
			  cases[i].extra, cases[i].group);
		args[1] = wmat_place(self, &m, i % 2, &aux_va);
		args[3] = aux_va;
		args[0] = alloc_in(self, i % 3, cases[i].dim * 4);
		in.dtype = cases[i].dtype;
		in.r[1] = 1;
		in.dim[0] = cases[i].dim;
		in.dim[1] = 2;		/* row index in r2 */
		in.dim[2] = cases[i].rows;
		in.flags = JAL_INSN_F_DIM_REG(1);
		in.stride[1] = cases[i].extra ? m.pitch : 0;
		if (cases[i].dtype == JAL_DTYPE_Q8) {
			in.r[3] = 3;
			in.stride[3] = cases[i].group;
		}
		for (r = 0; r < cases[i].rows; r += 1 + cases[i].rows / 4) {
			uint64_t a[4] = { args[0], args[1], r, args[3] };

			ASSERT_EQ(JAL_STATUS_OK, run1(f, in, a, 4));
			host_read(f, CTX, args[0], got, cases[i].dim * 4);
			EXPECT_EQ(0, memcmp(got, m.dense + (size_t)r * cases[i].dim,
					    cases[i].dim * 4)) {
				TH_LOG("case %u row %u", i, r);
			}
		}
		/* The row index is bounds-checked against dim[2]. */
		{
			uint64_t a[4] = { args[0], args[1], cases[i].rows, args[3] };

			EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, a, 4));
			a[2] = 1ull << 32;	/* not a 32-bit dim at all */
			EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, a, 4));
		}
		wmat_free(&m);
		free(got);
	}
}

static uint64_t ref_argmax(const float *p, uint32_t n)
{
	float max_p = p[0];
	uint64_t max_i = 0, i;

	for (i = 1; i < n; i++) {
		if (p[i] > max_p) {
			max_i = i;
			max_p = p[i];
		}
	}
	return max_i;
}

TEST_F(llm, argmax_is_the_first_largest)
{
	struct fake *f = self->f;
	static const uint32_t sizes[] = { 1, 7, 8, 9, 32000, 40001 };
	uint64_t va = alloc_in(self, true, 40001 * 4), args[2] = { 0, va };
	float *p = malloc(40001 * 4);
	struct jal_insn code[2];
	unsigned int s, trial;
	struct result r;

	code[0] = i_op(JAL_OP_ARGMAX);
	code[0].r[0] = 5;
	code[0].r[1] = 1;
	code[1] = i_op(JAL_OP_ST64);
	code[1].r[0] = 5;
	code[1].r[1] = 0;
	args[0] = alloc_in(self, false, 8);
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (trial = 0; trial < 6; trial++) {
			uint32_t n = sizes[s], i;
			uint64_t got = ~0ull;

			fill_rnd(f, p, n);
			if (trial == 1)		/* ties: the first wins */
				for (i = 0; i < n; i++)
					p[i] = (float)(rnd(f) % 3);
			if (trial == 2)		/* NaNs never win... */
				for (i = 1; i < n; i += 2)
					p[i] = NAN;
			if (trial == 3)		/* ...unless first */
				p[0] = NAN;
			if (trial == 4)		/* -0 then +0 */
				for (i = 0; i < n; i++)
					p[i] = i % 2 ? 0.0f : -0.0f;
			if (trial == 5)
				p[n - 1] = INFINITY;
			host_write(f, CTX, va, p, n * 4);
			code[0].dim[0] = n;
			r = run_kernel(f, code, 2, args, 2);
			ASSERT_EQ(JAL_STATUS_OK, r.status);
			host_read(f, CTX, args[0], &got, 8);
			EXPECT_EQ(ref_argmax(p, n), got) {
				TH_LOG("n %u trial %u", n, trial);
			}
		}
	}
	code[0].dim[0] = 0;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, code, 1, args, 2).status);
	free(p);
}

/* ---- SAMPLE: llama2.c run.c's sampler ---------------------------------- */

struct prob_index {
	float prob;
	int index;
};

static uint32_t ref_random_u32(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * 0x2545F4914F6CDD1Dull) >> 32);
}

static float ref_random_f32(uint64_t *state)
{
	return (ref_random_u32(state) >> 8) / 16777216.0f;
}

static int ref_sample_mult(const float *p, int n, float coin)
{
	float cdf = 0.0f;
	int i;

	for (i = 0; i < n; i++) {
		cdf += p[i];
		if (coin < cdf)
			return i;
	}
	return n - 1;
}

static int ref_compare(const void *a, const void *b)
{
	const struct prob_index *x = a, *y = b;

	if (x->prob > y->prob)
		return -1;
	if (x->prob < y->prob)
		return 1;
	return x->index - y->index;
}

static int ref_sample_topp(const float *p, int n, float topp,
			   struct prob_index *pi, float coin)
{
	const float cutoff = (1.0f - topp) / (n - 1);
	float cumulative = 0.0f, r, cdf = 0.0f;
	int n0 = 0, last, i;

	for (i = 0; i < n; i++) {
		if (p[i] >= cutoff) {
			pi[n0].index = i;
			pi[n0].prob = p[i];
			n0++;
		}
	}
	if (!n0)
		return ref_sample_mult(p, n, coin);
	qsort(pi, n0, sizeof(*pi), ref_compare);
	last = n0 - 1;
	for (i = 0; i < n0; i++) {
		cumulative += pi[i].prob;
		if (cumulative > topp) {
			last = i;
			break;
		}
	}
	r = coin * cumulative;
	for (i = 0; i <= last; i++) {
		cdf += pi[i].prob;
		if (r < cdf)
			return pi[i].index;
	}
	return pi[last].index;
}

static int ref_sample(float *logits, int n, float temp, float topp,
		      uint64_t *state, struct prob_index *pi)
{
	float coin;
	int q;

	if (temp == 0.0f)
		return (int)ref_argmax(logits, n);
	for (q = 0; q < n; q++)
		logits[q] /= temp;
	ref_softmax(logits, n);
	coin = ref_random_f32(state);
	if (topp <= 0 || topp >= 1)
		return ref_sample_mult(logits, n, coin);
	return ref_sample_topp(logits, n, topp, pi, coin);
}

TEST_F_TIMEOUT(llm, sample_reproduces_run_c, 60)
{
	static const float temps[] = { 0.0f, 1.0f, 0.8f, 0.3f, 1.5f };
	static const float topps[] = { 0.9f, 0.0f, 1.0f, 0.5f, 0.99f, -1.0f, 0.001f };
	static const uint32_t sizes[] = { 1, 2, 33, 512, 32000 };
	struct fake *f = self->f;
	uint64_t lva = alloc_in(self, true, 32000 * 4), out = alloc_in(self, true, 16);
	float *logits = malloc(32000 * 4), *work = malloc(32000 * 4);
	struct prob_index *pi = malloc(32000 * sizeof(*pi));
	unsigned int s, t, p, k, checks = 0, spread[2] = { 0 };
	struct jal_insn code[3];

	code[0] = i_op(JAL_OP_SAMPLE);
	code[0].r[0] = 5;
	code[0].r[1] = 1;
	code[0].r[2] = 2;
	code[1] = i_op(JAL_OP_ST64);
	code[1].r[0] = 5;
	code[1].r[1] = 0;
	code[2] = i_op(JAL_OP_ST64);
	code[2].r[0] = 2;
	code[2].r[1] = 0;
	code[2].imm[0] = 8;
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (t = 0; t < ARRAY_SIZE(temps); t++) {
			for (p = 0; p < ARRAY_SIZE(topps); p++) {
				uint64_t seed = rnd(f) | 1, state = seed, got[2];
				uint64_t args[3] = { out, lva, seed };
				uint32_t n = sizes[s];
				int want;

				fill_rnd(f, logits, n);
				for (k = 0; k < n; k++)
					logits[k] *= 8;
				host_write(f, CTX, lva, logits, n * 4);
				memcpy(work, logits, n * 4);
				want = ref_sample(work, n, temps[t], topps[p], &state, pi);
				code[0].dim[0] = n;
				code[0].imm[0] = f2u(temps[t]);
				code[0].imm[1] = f2u(topps[p]);
				ASSERT_EQ(JAL_STATUS_OK,
					  run_kernel(f, code, 3, args, 3).status);
				host_read(f, CTX, out, got, 16);
				EXPECT_EQ((uint64_t)want, got[0]) {
					TH_LOG("n %u temp %g top-p %g seed %llu", n,
					       temps[t], topps[p],
					       (unsigned long long)seed);
				}
				EXPECT_EQ(state, got[1]);
				/* The logits are left as they were. */
				host_read(f, CTX, lva, work, n * 4);
				EXPECT_EQ(0, memcmp(work, logits, n * 4));
				checks++;
				spread[want > 0]++;
			}
		}
	}
	/* Sequences: one state threaded through many draws. */
	for (s = 0, k = 0; s < 200; s++) {
		uint64_t state = 0x1234567 + s, chip = state, got[2];
		uint64_t args[3] = { out, lva, 0 };

		fill_rnd(f, logits, 33);
		host_write(f, CTX, lva, logits, 33 * 4);
		memcpy(work, logits, 33 * 4);
		args[2] = chip;
		code[0].dim[0] = 33;
		code[0].imm[0] = f2u(1.0f);
		code[0].imm[1] = f2u(s % 2 ? 0.9f : 1.0f);
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, code, 3, args, 3).status);
		host_read(f, CTX, out, got, 16);
		k += got[0] == (uint64_t)ref_sample(work, 33, 1.0f,
						     s % 2 ? 0.9f : 1.0f, &state, pi);
		EXPECT_EQ(state, got[1]);
	}
	EXPECT_EQ(200, k);
	TH_LOG("%u draws, %u gave index 0", checks, spread[0]);
	EXPECT_GT(spread[1], checks / 2);
	free(logits);
	free(work);
	free(pi);
}

/* ---- scalar: BEQ, LD/ST ------------------------------------------------ */

/* ---- JAL_INSN_F_ROWS ---------------------------------------------------- */

/* A kernel being built. */
struct prog {
	struct jal_insn code[4096];
	uint32_t n;
};

static void emit(struct prog *p, struct jal_insn in)
{
	if (p->n >= ARRAY_SIZE(p->code)) {
		fprintf(stderr, "test kernel too long\n");
		abort();
	}
	p->code[p->n++] = in;
}

/* ST32 / ST64 / LD64 of register @rv at R[@ra] + @off. */
static struct jal_insn i_mem(uint8_t op, uint8_t rv, uint8_t ra, uint64_t off)
{
	struct jal_insn in = i_op(op);

	in.r[0] = rv;
	in.r[1] = ra;
	in.imm[0] = (uint32_t)off;
	in.imm[1] = (uint32_t)(off >> 32);
	return in;
}

/*
 * One row-batched instruction of @B rows against the single-row
 * instruction on each row, bit for bit. Registers of the batch: r0 = d
 * (rows @pd apart) or the results, r1 = a (rows @pa apart) or the table,
 * r2 = b / weights / positions / token ids / states, r3 = Q8 scales or
 * SAMPLE's parameters; the single-row results go to r4 (dense rows),
 * SAMPLE's single-row states live at r7.
 */
struct rows_case {
	uint8_t op;
	uint32_t n, B, extra_a, extra_d, extra_b;
	unsigned int dtype;	/* EMBED's table */
	bool vram, dim_reg;
};

#define ROWS_TABLE	37	/* EMBED table rows */

static void check_rows(struct __test_metadata *_metadata,
		       FIXTURE_DATA(llm) *self, const struct rows_case *c)
{
	struct fake *f = self->f;
	uint32_t n = c->n, B = c->B, pa = n + c->extra_a, pd = n + c->extra_d;
	uint32_t pb = n + c->extra_b, b, i, bad = 0;
	size_t an = (size_t)B * pa, dn = (size_t)B * pd, bn = (size_t)B * pb;
	float *a = malloc(an * 4 + 4), *bv = malloc(bn * 4 + 4);
	float *got = malloc(dn * 4 + 4), *want = malloc((size_t)B * n * 4 + 4);
	uint32_t *ids = malloc(B * 4), *res = malloc(B * 4), *res1 = malloc(B * 4);
	uint64_t *states = malloc(B * 8), *st_rows = malloc(B * 8), *st_one = malloc(B * 8);
	float *params = malloc(B * 8);
	struct prog *p = calloc(1, sizeof(*p));
	struct jal_insn in;
	uint64_t args[8] = { 0 };
	struct wmat m = { 0 };
	bool d_rows = c->op != JAL_OP_ARGMAX && c->op != JAL_OP_SAMPLE;

	reset_alloc(self);
	fill_rnd(f, a, an);
	fill_rnd(f, bv, bn);
	/* Rows of wildly different magnitudes. */
	for (b = 0; b < B; b++)
		for (i = 0; i < n; i++)
			a[(size_t)b * pa + i] *= ldexpf(1.0f, (int)((b * 13) % 40) - 20);
	for (b = 0; b < B; b++) {
		ids[b] = c->op == JAL_OP_EMBED ? (uint32_t)rnd_in(f, 0, ROWS_TABLE - 1) :
			 (uint32_t)rnd_in(f, 0, 4095);
		states[b] = rnd(f) | 1;
		params[2 * b] = (float[]){ 0.0f, 1.0f, 0.7f, 1.3f }[b % 4];
		params[2 * b + 1] = (float[]){ 0.9f, 0.0f, 1.0f, 0.5f, 0.95f }[b % 5];
	}
	args[1] = alloc_in(self, c->vram, an * 4);
	host_write(f, CTX, args[1], a, an * 4);
	if (c->op == JAL_OP_EMBED) {
		wmat_make(f, &m, c->dtype, ROWS_TABLE, n, c->extra_a, 8);
		args[1] = wmat_place(self, &m, c->vram, &args[3]);
	}
	args[0] = alloc_in(self, !c->vram, d_rows ? dn * 4 : B * 4);
	args[4] = alloc_in(self, c->vram, (size_t)B * n * 4 + B * 4);
	args[7] = alloc_in(self, c->vram, B * 8);
	host_write(f, CTX, args[7], states, B * 8);
	if (c->op == JAL_OP_RMSNORM || c->op == JAL_OP_SILU_MUL) {
		args[2] = alloc_in(self, c->vram, bn * 4);
		host_write(f, CTX, args[2], bv, bn * 4);
	} else if (c->op == JAL_OP_ROPE || c->op == JAL_OP_EMBED) {
		args[2] = alloc_in(self, c->vram, B * 4);
		host_write(f, CTX, args[2], ids, B * 4);
	} else if (c->op == JAL_OP_SAMPLE) {
		args[2] = alloc_in(self, c->vram, B * 8);
		host_write(f, CTX, args[2], states, B * 8);
		args[3] = alloc_in(self, c->vram, B * 8);
		host_write(f, CTX, args[3], params, B * 8);
	}

	/* The batch. */
	in = i_op(c->op);
	in.flags = JAL_INSN_F_ROWS;
	for (i = 0; i < 4; i++)
		in.r[i] = i;
	in.dim[0] = n;
	in.dim[3] = B;
	if (c->dim_reg) {
		emit(p, i_li(11, B));
		in.flags |= JAL_INSN_F_DIM_REG(3);
		in.dim[3] = 11;
	}
	in.stride[1] = c->extra_a ? pa : 0;
	if (d_rows)
		in.stride[0] = c->extra_d ? pd : 0;
	switch (c->op) {
	case JAL_OP_RMSNORM:
		in.imm[0] = f2u(1e-5f);
		break;
	case JAL_OP_ROPE:
		in.r[2] = 2;
		in.dim[1] = n % 16 == 0 ? 16 : n % 8 == 0 ? 8 : 2;
		in.imm[0] = f2u(10000.0f);
		break;
	case JAL_OP_SILU_MUL:
		in.stride[2] = c->extra_b ? pb : 0;
		break;
	case JAL_OP_EMBED:
		in.dtype = c->dtype;
		in.stride[1] = c->extra_a ? m.pitch : 0;
		in.dim[2] = ROWS_TABLE;
		if (c->dtype == JAL_DTYPE_Q8)
			in.stride[3] = 8;
		else
			in.r[3] = 0;
		break;
	default:
		break;
	}
	if (c->op != JAL_OP_SAMPLE && c->op != JAL_OP_EMBED)
		in.r[3] = 0;
	if (c->op == JAL_OP_SOFTMAX || c->op == JAL_OP_ARGMAX)
		in.r[2] = 0;
	emit(p, in);

	/* The same rows one by one. */
	for (b = 0; b < B; b++) {
		struct jal_insn one = in;

		one.flags = 0;
		one.dim[3] = 0;
		one.stride[0] = 0;
		one.stride[1] = c->op == JAL_OP_EMBED ? in.stride[1] : 0;
		one.stride[2] = 0;
		emit(p, i_addi(5, 1, (uint64_t)b * pa * 4));
		emit(p, i_addi(6, 4, (uint64_t)b * n * 4));
		emit(p, i_addi(10, 2, (uint64_t)b * pb * 4));
		one.r[0] = 6;
		one.r[1] = 5;
		switch (c->op) {
		case JAL_OP_RMSNORM:
			one.r[2] = 2;	/* the same weights for every row */
			break;
		case JAL_OP_SILU_MUL:
			one.r[2] = 10;
			break;
		case JAL_OP_ROPE:
			one.r[2] = 0;
			one.dim[2] = ids[b];
			break;
		case JAL_OP_EMBED:
			one.r[1] = 1;
			one.r[2] = 0;
			one.dim[1] = ids[b];
			break;
		case JAL_OP_ARGMAX:
			one.r[0] = 8;
			break;
		case JAL_OP_SAMPLE:
			one.r[0] = 8;
			one.r[2] = 9;
			one.r[3] = 0;
			one.imm[0] = f2u(params[2 * b]);
			one.imm[1] = f2u(params[2 * b + 1]);
			emit(p, i_mem(JAL_OP_LD64, 9, 7, (uint64_t)b * 8));
			break;
		default:
			break;
		}
		emit(p, one);
		if (!d_rows)
			emit(p, i_mem(JAL_OP_ST32, 8, 4, (uint64_t)B * n * 4 + b * 4));
		if (c->op == JAL_OP_SAMPLE)
			emit(p, i_mem(JAL_OP_ST64, 9, 7, (uint64_t)b * 8));
	}
	ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, p->code, p->n, args, 8).status);

	if (d_rows) {
		host_read(f, CTX, args[0], got, dn * 4);
		host_read(f, CTX, args[4], want, (size_t)B * n * 4);
		for (b = 0; b < B; b++)
			for (i = 0; i < n; i++)
				bad += f2u(got[(size_t)b * pd + i]) !=
				       f2u(want[(size_t)b * n + i]);
	} else {
		host_read(f, CTX, args[0], res, B * 4);
		host_read(f, CTX, args[4] + (size_t)B * n * 4, res1, B * 4);
		for (b = 0; b < B; b++)
			bad += res[b] != res1[b];
	}
	if (c->op == JAL_OP_SAMPLE) {
		host_read(f, CTX, args[2], st_rows, B * 8);
		host_read(f, CTX, args[7], st_one, B * 8);
		for (b = 0; b < B; b++) {
			bad += st_rows[b] != st_one[b];
			/* A row at temperature 0 leaves its state alone. */
			bad += (params[2 * b] == 0.0f) != (st_rows[b] == states[b]);
		}
	}
	EXPECT_EQ(0, bad) {
		TH_LOG("op 0x%x n %u B %u extra %u/%u/%u dtype %u vram %d: %u differ",
		       c->op, n, B, c->extra_a, c->extra_d, c->extra_b, c->dtype,
		       c->vram, bad);
	}
	if (c->op == JAL_OP_EMBED)
		wmat_free(&m);
	free(a);
	free(bv);
	free(got);
	free(want);
	free(ids);
	free(res);
	free(res1);
	free(states);
	free(st_rows);
	free(st_one);
	free(params);
	free(p);
}

TEST_F_TIMEOUT(llm, row_batched_ops_equal_the_single_row_ops, 120)
{
	static const uint8_t ops[] = {
		JAL_OP_RMSNORM, JAL_OP_SOFTMAX, JAL_OP_ROPE, JAL_OP_SILU_MUL,
		JAL_OP_EMBED, JAL_OP_ARGMAX, JAL_OP_SAMPLE,
	};
	static const uint32_t batches[] = { 1, 2, 3, 7, 16, 33 };
	static const uint32_t sizes[] = { 2, 64, 288, 1000 };
	struct fake *f = self->f;
	unsigned int o, j, s;

	for (o = 0; o < ARRAY_SIZE(ops); o++) {
		for (j = 0; j < ARRAY_SIZE(batches); j++) {
			for (s = 0; s < ARRAY_SIZE(sizes); s++) {
				struct rows_case c = {
					.op = ops[o], .n = sizes[s], .B = batches[j],
					.dtype = (j + s) % 3,
					.vram = (j + s) % 2, .dim_reg = j % 2,
				};

				c.extra_a = rnd(f) % 2 ? 0 : rnd_in(f, 1, 9) * 2;
				c.extra_d = rnd(f) % 2 ? 0 : rnd_in(f, 1, 9) * 2;
				c.extra_b = rnd(f) % 2 ? 0 : rnd_in(f, 1, 9) * 2;
				if (c.op == JAL_OP_EMBED && c.dtype == JAL_DTYPE_Q8)
					c.n = (c.n + 7) & ~7u;
				check_rows(_metadata, self, &c);
			}
		}
	}
}

/*
 * Per-row data is checked as each row runs: a token id outside the table
 * or a NaN top-p in row 2 fails the instruction after rows 0 and 1 were
 * done; the whole batch is charged to the watchdog up front.
 */
TEST_F(llm, row_batched_ops_check_each_rows_data)
{
	struct fake *f = self->f;
	uint64_t d = alloc_in(self, true, 4 * 64 * 4), tab = alloc_in(self, true, 8 * 64 * 4);
	uint64_t ids = alloc_in(self, true, 16), st = alloc_in(self, true, 32);
	uint64_t par = alloc_in(self, true, 32), res = alloc_in(self, true, 16);
	uint32_t id[4] = { 1, 7, 8, 0 }, out[4] = { 99, 99, 99, 99 };
	float par_v[8] = { 1.0f, 0.9f, 0.0f, 0.0f, 1.0f, NAN, 1.0f, 0.9f };
	float got[64], table[8 * 64];
	uint64_t states[4] = { 1, 2, 3, 4 };
	uint64_t args[4] = { d, tab, ids, 0 };
	struct jal_insn in = i_op(JAL_OP_EMBED);
	unsigned int i;

	fill_rnd(f, table, 8 * 64);
	host_write(f, CTX, tab, table, sizeof(table));
	host_write(f, CTX, ids, id, sizeof(id));
	in.flags = JAL_INSN_F_ROWS;
	in.r[1] = 1;
	in.r[2] = 2;
	in.dim[0] = 64;
	in.dim[2] = 8;
	in.dim[3] = 4;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4));
	host_read(f, CTX, d + 64 * 4, got, sizeof(got));
	EXPECT_EQ(0, memcmp(got, table + 7 * 64, sizeof(got)));
	in.dim[3] = 2;
	EXPECT_EQ(JAL_STATUS_OK, run1(f, in, args, 4));

	/* SAMPLE: a NaN top-p in row 2. */
	for (i = 0; i < 64 * 4; i++)
		table[i] = (float)(i % 64) / 64;
	host_write(f, CTX, tab, table, 4 * 64 * 4);
	host_write(f, CTX, st, states, sizeof(states));
	host_write(f, CTX, par, par_v, sizeof(par_v));
	host_write(f, CTX, res, out, sizeof(out));
	in = i_op(JAL_OP_SAMPLE);
	in.flags = JAL_INSN_F_ROWS;
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[2] = 2;
	in.r[3] = 3;
	in.dim[0] = 64;
	in.dim[3] = 4;
	{
		uint64_t a[4] = { res, tab, st, par };

		EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, a, 4));
	}
	host_read(f, CTX, res, out, sizeof(out));
	EXPECT_NE(99u, out[0]);
	EXPECT_EQ(63u, out[1]);	/* temperature 0: the largest */
	EXPECT_EQ(99u, out[2]);
	host_read(f, CTX, st, states, sizeof(states));
	EXPECT_NE(1u, states[0]);
	EXPECT_EQ(2u, states[1]);
	EXPECT_EQ(3u, states[2]);

	/* 4096 rows of 4096 elements: 3 * 4096 steps (SOFTMAX) plus one. */
	in = i_op(JAL_OP_SOFTMAX);
	in.flags = JAL_INSN_F_ROWS;
	in.r[1] = 1;
	in.dim[0] = 4096;
	in.dim[3] = 4096;
	in.stride[1] = 0;
	set_step_limit(f, 3 * 4096);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, run1(f, in, args, 2));
	in.dim[3] = 1;
	set_step_limit(f, 4);
	EXPECT_EQ(JAL_STATUS_OK, run1(f, in, args, 2));
	set_step_limit(f, 0);
}

/* ---- PAGED_ATTENTION and PAGED_KV_STORE --------------------------------- */

/*
 * Pools of @pool blocks of @block positions, rows' tables listing blocks
 * in a random order, the slots no row uses NaN (so reading one shows);
 * every row against ATTENTION over a contiguous cache with the same keys
 * and values, bit for bit. @shared: one table for all rows and lengths
 * 1, 2, ... (the positions of a prompt).
 */
struct paged_case {
	uint32_t heads, hs, kv_heads, block, rows, cap, extra_tpitch;
	bool shared, vram;
	bool full;	/* every row attends to its whole table */
};

static void paged_insn(struct jal_insn *in, uint8_t op, const struct paged_case *c,
		       uint32_t tpitch, uint32_t pool)
{
	*in = i_op(op);
	in->r[0] = 0;
	in->r[1] = 1;
	in->r[2] = 2;
	in->r[3] = 3;
	in->dim[0] = op == JAL_OP_PAGED_ATTENTION ? c->heads : 0;
	in->dim[1] = c->hs;
	in->dim[2] = c->kv_heads;
	in->dim[3] = c->rows;
	in->stride[2] = c->cap;
	in->stride[3] = tpitch;
	in->imm[0] = 4;
	in->imm[1] = 5;
	in->imm[2] = c->block;
	in->imm[3] = pool;
}

static void check_paged_attention(struct __test_metadata *_metadata,
				  FIXTURE_DATA(llm) *self,
				  const struct paged_case *c)
{
	struct fake *f = self->f;
	uint32_t rowlen = c->kv_heads * c->hs, qlen = c->heads * c->hs;
	uint32_t tpitch = c->shared ? 0 : c->cap + c->extra_tpitch;
	uint32_t tables = c->shared ? 1 : c->rows, pool = tables * c->cap + 3;
	uint32_t positions = c->cap * c->block, b, j, t, i, bad = 0;
	size_t blockf = (size_t)c->block * rowlen, cachef = (size_t)positions * rowlen;
	float *kp = malloc(pool * blockf * 4), *vp = malloc(pool * blockf * 4);
	float *kc = malloc(tables * cachef * 4), *vc = malloc(tables * cachef * 4);
	float *q = malloc((size_t)c->rows * qlen * 4);
	float *got = malloc((size_t)c->rows * qlen * 4), *want = malloc((size_t)c->rows * qlen * 4);
	uint32_t *len = malloc(c->rows * 4), *perm = malloc(pool * 4);
	uint32_t *tab = calloc((size_t)tables * (c->cap + c->extra_tpitch), 4);
	struct prog *p = calloc(1, sizeof(*p));
	uint64_t args[13];
	struct jal_insn in;

	reset_alloc(self);
	for (i = 0; i < pool * blockf; i++)
		kp[i] = vp[i] = NAN;
	for (i = 0; i < pool; i++)
		perm[i] = i;
	for (i = pool - 1; i > 0; i--) {
		uint32_t k = (uint32_t)rnd_in(f, 0, i), x = perm[i];

		perm[i] = perm[k];
		perm[k] = x;
	}
	fill_rnd(f, kc, tables * cachef);
	fill_rnd(f, vc, tables * cachef);
	fill_rnd(f, q, (size_t)c->rows * qlen);
	for (i = 0; i < (size_t)c->rows * qlen; i++)
		q[i] *= 4;
	for (b = 0; b < tables; b++) {
		for (j = 0; j < c->cap; j++) {
			uint32_t blk = perm[b * c->cap + j];

			tab[(size_t)b * (c->cap + c->extra_tpitch) + j] = blk;
			memcpy(kp + blk * blockf, kc + b * cachef + j * blockf, blockf * 4);
			memcpy(vp + blk * blockf, vc + b * cachef + j * blockf, blockf * 4);
		}
	}
	for (b = 0; b < c->rows; b++)
		len[b] = c->full ? positions : c->shared ? b % positions + 1 :
			 (uint32_t)rnd_in(f, 1, positions);
	/* Slots past a row's length hold NaN: they must not be read. */
	for (b = 0; b < tables; b++) {
		uint32_t most = 0;

		for (j = 0; j < c->rows; j++)
			if (c->shared || j == b)
				most = len[j] > most ? len[j] : most;
		for (t = most; t < positions; t++) {
			uint32_t blk = tab[(size_t)b * (c->cap + c->extra_tpitch) + t / c->block];

			for (i = 0; i < rowlen; i++) {
				kp[blk * blockf + (t % c->block) * rowlen + i] = NAN;
				vp[blk * blockf + (t % c->block) * rowlen + i] = NAN;
			}
		}
	}
	args[0] = alloc_in(self, c->vram, (size_t)c->rows * qlen * 4);
	args[1] = alloc_in(self, c->vram, (size_t)c->rows * qlen * 4);
	args[2] = alloc_in(self, c->vram, pool * blockf * 4);
	args[3] = alloc_in(self, c->vram, pool * blockf * 4);
	args[4] = alloc_in(self, c->vram, c->rows * 4);
	args[5] = alloc_in(self, c->vram, (size_t)tables * (c->cap + c->extra_tpitch) * 4);
	args[6] = alloc_in(self, true, tables * cachef * 4);
	args[7] = alloc_in(self, true, (size_t)c->rows * qlen * 4);
	args[12] = alloc_in(self, true, tables * cachef * 4);
	host_write(f, CTX, args[1], q, (size_t)c->rows * qlen * 4);
	host_write(f, CTX, args[2], kp, pool * blockf * 4);
	host_write(f, CTX, args[3], vp, pool * blockf * 4);
	host_write(f, CTX, args[4], len, c->rows * 4);
	host_write(f, CTX, args[5], tab, (size_t)tables * (c->cap + c->extra_tpitch) * 4);
	host_write(f, CTX, args[6], kc, tables * cachef * 4);
	host_write(f, CTX, args[12], vc, tables * cachef * 4);

	paged_insn(&in, JAL_OP_PAGED_ATTENTION, c, tpitch, pool);
	emit(p, in);
	for (b = 0; b < c->rows; b++) {
		uint64_t cache = (c->shared ? 0 : b) * cachef * 4;

		emit(p, i_addi(8, 1, (uint64_t)b * qlen * 4));
		emit(p, i_addi(9, 7, (uint64_t)b * qlen * 4));
		emit(p, i_addi(10, 6, cache));
		emit(p, i_addi(11, 12, cache));
		emit(p, i_li(13, len[b]));
		in = i_op(JAL_OP_ATTENTION);
		in.r[0] = 9;
		in.r[1] = 8;
		in.r[2] = 10;
		in.r[3] = 11;
		in.dim[0] = c->heads;
		in.dim[1] = c->hs;
		in.dim[2] = c->kv_heads;
		in.dim[3] = 13;
		in.flags = JAL_INSN_F_DIM_REG(3);
		emit(p, in);
	}
	ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, p->code, p->n, args, 13).status);
	host_read(f, CTX, args[0], got, (size_t)c->rows * qlen * 4);
	host_read(f, CTX, args[7], want, (size_t)c->rows * qlen * 4);
	for (i = 0; i < (size_t)c->rows * qlen; i++)
		bad += f2u(got[i]) != f2u(want[i]) || isnan(got[i]);
	EXPECT_EQ(0, bad) {
		TH_LOG("H %u hs %u G %u block %u rows %u cap %u shared %d vram %d: %u differ",
		       c->heads, c->hs, c->kv_heads, c->block, c->rows, c->cap,
		       c->shared, c->vram, bad);
	}
	free(kp);
	free(vp);
	free(kc);
	free(vc);
	free(q);
	free(got);
	free(want);
	free(len);
	free(perm);
	free(tab);
	free(p);
}

TEST_F_TIMEOUT(llm, paged_attention_rows_equal_attention_over_a_contiguous_cache, 120)
{
	static const struct paged_case cases[] = {
		{ 1, 8, 1, 1, 1, 5, 0, false, true },
		{ 8, 32, 2, 16, 5, 8, 0, false, true },
		{ 8, 32, 2, 16, 5, 8, 3, false, false },
		{ 6, 48, 3, 7, 9, 6, 1, false, true },
		{ 32, 64, 8, 16, 4, 20, 0, false, true },
		{ 4, 16, 4, 16, 33, 4, 0, true, true },
		{ 12, 64, 4, 32, 3, 40, 2, false, true },
		{ 2, 5, 1, 3, 16, 11, 0, true, false },
		/* 90000 blocks of one position: rows in groups of 65536 blocks. */
		{ 2, 2, 1, 1, 3, 30000, 0, false, true, true },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_paged_attention(_metadata, self, &cases[i]);
}

/*
 * PAGED_KV_STORE writes each row's k and v to its slot and nothing else
 * (k rows with a pitch in device memory, v rows and the V pool in host
 * memory); a position past the row's table or a table entry outside the
 * pool is rejected.
 */
TEST_F(llm, paged_kv_store_fills_each_rows_slot)
{
	static const struct paged_case c = { 4, 16, 2, 4, 3, 5, 1, false, true };
	struct fake *f = self->f;
	uint32_t rowlen = c.kv_heads * c.hs, tp = c.cap + c.extra_tpitch, pool = 16;
	uint32_t kp_rows = rowlen + 3, b, i, bad = 0;
	size_t poolf = (size_t)pool * c.block * rowlen;
	uint32_t tab[3 * 6] = { 3, 9, 0, 14, 1, 77, 5, 2, 11, 4, 16, 77, 15, 6, 7, 10, 12, 77 };
	uint32_t pos[3] = { 6, 0, 19 };
	float *before = malloc(poolf * 4), *kgot = malloc(poolf * 4), *vgot = malloc(poolf * 4);
	float k[3 * (8 * 4 + 3)], v[3 * 32];
	uint64_t args[6];
	struct jal_insn in;

	fill_rnd(f, before, poolf);
	fill_rnd(f, k, ARRAY_SIZE(k));
	fill_rnd(f, v, ARRAY_SIZE(v));
	args[0] = alloc_in(self, true, sizeof(k));
	args[1] = alloc_in(self, false, sizeof(v));
	args[2] = alloc_in(self, true, poolf * 4);
	args[3] = alloc_in(self, false, poolf * 4);
	args[4] = alloc_in(self, true, sizeof(pos));
	args[5] = alloc_in(self, true, sizeof(tab));
	host_write(f, CTX, args[0], k, sizeof(k));
	host_write(f, CTX, args[1], v, sizeof(v));
	host_write(f, CTX, args[2], before, poolf * 4);
	host_write(f, CTX, args[3], before, poolf * 4);
	host_write(f, CTX, args[4], pos, sizeof(pos));
	host_write(f, CTX, args[5], tab, sizeof(tab));
	paged_insn(&in, JAL_OP_PAGED_KV_STORE, &c, tp, pool);
	in.stride[0] = kp_rows;
	ASSERT_EQ(JAL_STATUS_OK, run1(f, in, args, 6));
	host_read(f, CTX, args[2], kgot, poolf * 4);
	host_read(f, CTX, args[3], vgot, poolf * 4);
	for (b = 0; b < 3; b++) {
		uint32_t blk = tab[b * tp + pos[b] / c.block];
		size_t slot = ((size_t)blk * c.block + pos[b] % c.block) * rowlen;

		for (i = 0; i < rowlen; i++) {
			bad += f2u(kgot[slot + i]) != f2u(k[b * kp_rows + i]);
			bad += f2u(vgot[slot + i]) != f2u(v[b * rowlen + i]);
			kgot[slot + i] = vgot[slot + i] = before[slot + i];
		}
	}
	for (i = 0; i < poolf; i++)
		bad += f2u(kgot[i]) != f2u(before[i]) || f2u(vgot[i]) != f2u(before[i]);
	EXPECT_EQ(0, bad);

	/* Position 20 is past the table of 5 blocks of 4. */
	pos[1] = 20;
	host_write(f, CTX, args[4], pos, sizeof(pos));
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	/* Row 1's entry 4 (block 16) is outside the pool of 16. */
	pos[1] = 18;
	host_write(f, CTX, args[4], pos, sizeof(pos));
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	free(before);
	free(kgot);
	free(vgot);
}

/* Shapes, tables and pools PAGED_ATTENTION must reject, never crash on. */
TEST_F(llm, paged_attention_rejects_bad_tables_and_pools)
{
	static const struct paged_case c = { 4, 8, 2, 4, 2, 3, 0, false, true };
	struct fake *f = self->f;
	uint32_t rowlen = c.kv_heads * c.hs, pool = 6;
	uint32_t tab[6] = { 0, 1, 2, 3, 4, 5 }, len[2] = { 5, 12 };
	uint64_t args[6];
	struct jal_insn in, base;
	float *zero = calloc((size_t)pool * c.block * rowlen, 4);

	args[0] = alloc_in(self, true, 2 * 32 * 4);
	args[1] = alloc_in(self, true, 2 * 32 * 4);
	args[2] = alloc_in(self, true, (size_t)pool * c.block * rowlen * 4);
	args[3] = alloc_in(self, false, (size_t)pool * c.block * rowlen * 4);
	args[4] = alloc_in(self, true, sizeof(len));
	args[5] = alloc_in(self, true, sizeof(tab));
	host_write(f, CTX, args[1], zero, 2 * 32 * 4);
	host_write(f, CTX, args[2], zero, (size_t)pool * c.block * rowlen * 4);
	host_write(f, CTX, args[3], zero, (size_t)pool * c.block * rowlen * 4);
	host_write(f, CTX, args[4], len, sizeof(len));
	host_write(f, CTX, args[5], tab, sizeof(tab));
	paged_insn(&base, JAL_OP_PAGED_ATTENTION, &c, 3, pool);
	ASSERT_EQ(JAL_STATUS_OK, run1(f, base, args, 6));

#define EXPECT_STATUS(st, ...) do { in = base; __VA_ARGS__; \
		EXPECT_EQ(st, run1(f, in, args, 6)) { TH_LOG("%s", #__VA_ARGS__); } } while (0)
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.imm[2] = 0);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.imm[3] = 0);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.imm[0] = 32);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.stride[2] = 0);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.stride[2] = JAL_PAGED_MAX_BLOCKS + 1);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.stride[3] = 2);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.dim[2] = 3);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.dim[1] = 0);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.dim[3] = JAL_ROWS_MAX + 1);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.stride[1] = 31);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.flags = JAL_INSN_F_ROWS);
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.imm[2] = 0x40000000);
	/* Only 4 of the pool's 6 blocks: row 1's third block (5) is outside. */
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.imm[3] = 4);
	/* A table of 2 blocks of 4 cannot hold row 1's 12 positions. */
	EXPECT_STATUS(JAL_STATUS_BAD_INSN, in.stride[2] = 2);
	/* Pools and tables in unmapped memory fault. */
	EXPECT_STATUS(JAL_STATUS_MMU_UNMAPPED, in.r[2] = 6);
	EXPECT_STATUS(JAL_STATUS_MMU_UNMAPPED, in.imm[1] = 7);
	{
		uint32_t bad_len[2] = { 0, 1 };

		host_write(f, CTX, args[4], bad_len, sizeof(bad_len));
		EXPECT_STATUS(JAL_STATUS_BAD_INSN, (void)0);
		host_write(f, CTX, args[4], len, sizeof(len));
	}
	{
		uint32_t huge[6] = { 0, 1, 2, 0xfffffffeu, 4, 5 };

		host_write(f, CTX, args[5], huge, sizeof(huge));
		/* Inside a pool of 2^32 - 1 blocks, but past the VA space. */
		EXPECT_STATUS(JAL_STATUS_MMU_UNMAPPED, in.imm[3] = 0xffffffffu);
		host_write(f, CTX, args[5], tab, sizeof(tab));
	}
#undef EXPECT_STATUS
	free(zero);
}

TEST_F(llm, beq_and_scalar_loads_and_stores)
{
	struct fake *f = self->f;
	uint64_t v = alloc_in(self, true, 64), h = alloc_in(self, false, 64);
	uint64_t args[2] = { v, h }, got[4], pattern = 0x8877665544332211ull;
	struct jal_insn code[12];
	struct result r;
	uint32_t w;

	host_write(f, CTX, v, &pattern, 8);
	code[0] = i_op(JAL_OP_LD64);		/* r2 = *(u64 *)v */
	code[0].r[0] = 2;
	code[0].r[1] = 0;
	code[1] = i_op(JAL_OP_LD32);		/* r3 = *(u32 *)(v + 4) */
	code[1].r[0] = 3;
	code[1].r[1] = 0;
	code[1].imm[0] = 4;
	code[2] = i_op(JAL_OP_ST64);		/* *(u64 *)h = r2 */
	code[2].r[0] = 2;
	code[2].r[1] = 1;
	code[3] = i_op(JAL_OP_ST32);		/* *(u32 *)(h + 12) = r2 */
	code[3].r[0] = 2;
	code[3].r[1] = 1;
	code[3].imm[0] = 12;
	code[4] = i_li(4, 0x88776655);
	code[5] = i_beq(3, 4, 7);		/* taken */
	code[6] = i_op(JAL_OP_HALT);
	code[7] = i_op(JAL_OP_ST64);		/* *(u64 *)(h + 16) = r3 */
	code[7].r[0] = 3;
	code[7].r[1] = 1;
	code[7].imm[0] = 16;
	code[8] = i_beq(3, 2, 11);		/* not taken */
	code[9] = i_addi(1, 1, 24);		/* imm64 wraps through r1 + imm */
	code[10] = i_op(JAL_OP_ST64);
	code[10].r[0] = 4;
	code[10].r[1] = 1;
	code[10].imm[0] = 0;
	code[11] = i_op(JAL_OP_HALT);
	memset(got, 0, sizeof(got));
	host_write(f, CTX, h, got, sizeof(got));
	ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, code, 12, args, 2).status);
	host_read(f, CTX, h, got, sizeof(got));
	EXPECT_EQ(pattern, got[0]);
	memcpy(&w, (uint8_t *)got + 12, 4);
	EXPECT_EQ(0x44332211u, w);
	EXPECT_EQ(0x88776655ull, got[2]);
	EXPECT_EQ(0x88776655ull, got[3]);

	/* Misaligned: BAD_INSN; unmapped and read-only: MMU faults. */
	code[0].imm[0] = 4;
	r = run_kernel(f, code, 1, args, 2);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, r.status);
	code[1].imm[0] = 2;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, &code[1], 1, args, 2).status);
	code[0].imm[0] = 0;
	code[0].r[1] = 5;			/* r5 = 0: null page */
	r = run_kernel(f, code, 1, args, 2);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(0, r.fault_addr);
	code[0] = i_op(JAL_OP_ST32);
	code[0].r[1] = 0;
	code[0].imm[0] = (uint32_t)(CODE_VA - v);
	code[0].imm[1] = (uint32_t)((CODE_VA - v) >> 32);
	r = run_kernel(f, code, 1, args, 2);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	EXPECT_EQ(CODE_VA, r.fault_addr);
}

/* ---- validation -------------------------------------------------------- */

struct bad_case {
	const char *what;
	struct jal_insn in;
	uint32_t status;
};

TEST_F(llm, bad_operands_are_rejected)
{
	struct fake *f = self->f;
	uint64_t big = alloc_in(self, true, 16 * MiB), args[6];
	struct bad_case bad[128];
	struct jal_insn base;
	unsigned int n = 0, i;
	uint8_t idx[8] = { 4, 4, 4, 4, 4, 4, 4, 4 };

	args[0] = big;
	args[1] = big + MiB;
	args[2] = big + 2 * MiB;
	args[3] = big + 3 * MiB;
	args[4] = 12;
	args[5] = big + 1;
	host_write(f, CTX, args[3], idx, sizeof(idx));

#define CASE(desc, st, ...) do { \
		base = i_op(0); \
		__VA_ARGS__; \
		bad[n].what = desc; \
		bad[n].in = base; \
		bad[n].status = st; \
		n++; \
	} while (0)
#define B JAL_STATUS_BAD_INSN
#define MV(rows, cols) base = i_matvec(0, 1, 2, rows, cols, 1, 0, 1)
	/* Static rules: dtypes, fields used per dtype, SAMPLE immediates. */
	CASE("VADD bf16", B, base = i_vop(JAL_OP_VADD, 0, 1, 2, 4, 1, 1, 1);
	     base.dtype = JAL_DTYPE_BF16);
	CASE("MATVEC dtype 4", B, MV(2, 4); base.dtype = 4);
	CASE("EMBED s24", B, base.opcode = JAL_OP_EMBED; base.dim[0] = 4;
	     base.dim[2] = 1; base.dtype = JAL_DTYPE_S24);
	CASE("RMSNORM q8", B, base.opcode = JAL_OP_RMSNORM; base.r[1] = 1;
	     base.r[2] = 2; base.dim[0] = 4; base.dtype = JAL_DTYPE_Q8);
	CASE("MATVEC f32 with r[3]", B, MV(2, 4); base.r[3] = 3);
	CASE("Q8X on f32 weights", B, MV(2, 4); base.flags = JAL_INSN_F_Q8X);
	CASE("Q8X MATMUL group of 6", B, MV(2, 12); base.opcode = JAL_OP_MATMUL;
	     base.dtype = JAL_DTYPE_Q8; base.r[3] = 3; base.dim[2] = 1;
	     base.dim[3] = 6; base.stride[0] = 0; base.stride[2] = 0;
	     base.flags = JAL_INSN_F_Q8X);
	CASE("Q8X on MATMUL with bf16 weights", B, MV(2, 8);
	     base.opcode = JAL_OP_MATMUL; base.dtype = JAL_DTYPE_BF16;
	     base.dim[2] = 1; base.stride[0] = 0; base.stride[2] = 0;
	     base.flags = JAL_INSN_F_Q8X);
	/* JAL_INSN_F_ROWS: only on the ops that take it, with their fields. */
	CASE("ROWS on MATVEC", B, MV(2, 4); base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS on VADD", B, base = i_vop(JAL_OP_VADD, 0, 1, 2, 4, 1, 1, 1);
	     base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS on ATTENTION", B, base.opcode = JAL_OP_ATTENTION;
	     base.r[1] = 1; base.r[2] = 2; base.r[3] = 3; base.dim[0] = 1;
	     base.dim[1] = 4; base.dim[2] = 1; base.dim[3] = 1;
	     base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS ROPE with a position in dim[2]", B, base.opcode = JAL_OP_ROPE;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 4; base.dim[1] = 2;
	     base.dim[2] = 3; base.dim[3] = 1; base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS SAMPLE with a temperature immediate", B,
	     base.opcode = JAL_OP_SAMPLE; base.r[1] = 1; base.r[2] = 2;
	     base.r[3] = 3; base.dim[0] = 4; base.dim[3] = 1;
	     base.imm[0] = f2u(1.0f); base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS ARGMAX with stride[0]", B, base.opcode = JAL_OP_ARGMAX;
	     base.r[1] = 1; base.dim[0] = 4; base.dim[3] = 1; base.stride[0] = 4;
	     base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS RMSNORM with stride[2]", B, base.opcode = JAL_OP_RMSNORM;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 4; base.dim[3] = 1;
	     base.stride[2] = 4; base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS EMBED with a row index in dim[1]", B, base.opcode = JAL_OP_EMBED;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 4; base.dim[1] = 1;
	     base.dim[2] = 3; base.dim[3] = 1; base.flags = JAL_INSN_F_ROWS);
	CASE("undefined flag bit 6", B, base.opcode = JAL_OP_SOFTMAX;
	     base.r[1] = 1; base.dim[0] = 4; base.flags = JAL_BIT(6));
	CASE("Q8X on VADD", B, base = i_vop(JAL_OP_VADD, 0, 1, 2, 4, 1, 1, 1);
	     base.flags = JAL_INSN_F_Q8X);
	CASE("Q8X group of 6", B, MV(2, 12); base.dtype = JAL_DTYPE_Q8;
	     base.r[3] = 3; base.dim[2] = 6; base.flags = JAL_INSN_F_Q8X);
	CASE("Q8X rows over 65536 columns", B, MV(1, 65540);
	     base.dtype = JAL_DTYPE_Q8; base.r[3] = 3; base.dim[2] = 4;
	     base.flags = JAL_INSN_F_Q8X);
	CASE("MATVEC bf16 with dim[2]", B, MV(2, 4);
	     base.dtype = JAL_DTYPE_BF16; base.dim[2] = 8);
	CASE("MATVEC s24 with dim[2]", B, MV(2, 4); base.dtype = JAL_DTYPE_S24;
	     base.r[3] = 3; base.dim[2] = 8);
	CASE("MATVEC stride[3]", B, MV(2, 4); base.stride[3] = 1);
	CASE("MATMUL q8 group in dim[2] only", B, base.opcode = JAL_OP_MATMUL;
	     base.dtype = JAL_DTYPE_BF16; base.r[1] = 1; base.dim[0] = 2;
	     base.dim[1] = 8; base.dim[2] = 1; base.dim[3] = 8);
	CASE("EMBED f32 with stride[3]", B, base.opcode = JAL_OP_EMBED;
	     base.dim[0] = 4; base.dim[2] = 1; base.stride[3] = 4);
	CASE("SOFTMAX stride", B, base.opcode = JAL_OP_SOFTMAX; base.r[1] = 1;
	     base.dim[0] = 4; base.stride[0] = 1);
	CASE("ROPE dim[3]", B, base.opcode = JAL_OP_ROPE; base.dim[0] = 4;
	     base.dim[1] = 2; base.dim[3] = 1);
	CASE("ATTENTION stride[0]", B, base.opcode = JAL_OP_ATTENTION;
	     base.dim[0] = 1; base.dim[1] = 4; base.dim[2] = 1; base.dim[3] = 1;
	     base.stride[0] = 1);
	CASE("SAMPLE state = result", B, base.opcode = JAL_OP_SAMPLE;
	     base.r[0] = 2; base.r[2] = 2; base.dim[0] = 4);
	CASE("SAMPLE negative temperature", B, base.opcode = JAL_OP_SAMPLE;
	     base.r[0] = 5; base.r[2] = 2; base.dim[0] = 4;
	     base.imm[0] = f2u(-1.0f));
	CASE("SAMPLE infinite temperature", B, base.opcode = JAL_OP_SAMPLE;
	     base.r[0] = 5; base.r[2] = 2; base.dim[0] = 4;
	     base.imm[0] = f2u(INFINITY));
	CASE("SAMPLE NaN top-p", B, base.opcode = JAL_OP_SAMPLE;
	     base.r[0] = 5; base.r[2] = 2; base.dim[0] = 4;
	     base.imm[0] = f2u(1.0f); base.imm[1] = f2u(NAN));
	CASE("LD32 stride", B, base.opcode = JAL_OP_LD32; base.stride[0] = 1);
	CASE("BEQ r[0]", B, base = i_beq(1, 2, 0); base.r[0] = 1);
	CASE("ARGMAX imm", B, base.opcode = JAL_OP_ARGMAX; base.r[1] = 1;
	     base.dim[0] = 4; base.imm[0] = 1);
	/* Dynamic rules: shapes, groups, pitches, alignment, extents. */
	CASE("Q8 group 0", B, MV(2, 8); base.dtype = JAL_DTYPE_Q8; base.r[3] = 3);
	CASE("Q8 group does not divide", B, MV(2, 12); base.dtype = JAL_DTYPE_Q8;
	     base.r[3] = 3; base.dim[2] = 8);
	CASE("S24 cols % 4", B, MV(2, 6); base.dtype = JAL_DTYPE_S24; base.r[3] = 3);
	CASE("S24 pitch below K/2", B, MV(2, 8); base.dtype = JAL_DTYPE_S24;
	     base.r[3] = 3; base.stride[1] = 3);
	CASE("bf16 W misaligned", B, MV(2, 8); base.dtype = JAL_DTYPE_BF16;
	     base.r[1] = 5; base.r[2] = 2);
	CASE("Q8 scales misaligned", B, MV(2, 8); base.dtype = JAL_DTYPE_Q8;
	     base.r[3] = 5; base.dim[2] = 8);
	CASE("f32 x misaligned", B, MV(2, 8); base.r[2] = 5);
	CASE("W beyond 256 MiB", B, MV(0x10000, 0x1001));
	CASE("MATMUL D pitch below M", B, base.opcode = JAL_OP_MATMUL;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 8; base.dim[1] = 8;
	     base.dim[2] = 2; base.stride[0] = 7);
	CASE("MATMUL X pitch below K", B, base.opcode = JAL_OP_MATMUL;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 8; base.dim[1] = 8;
	     base.dim[2] = 2; base.stride[2] = 7);
	CASE("MATMUL N from a 33-bit register", B, base.opcode = JAL_OP_MATMUL;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 8; base.dim[1] = 8;
	     base.dim[2] = 2; base.flags = JAL_INSN_F_DIM_REG(2));
	CASE("SOFTMAX of nothing", B, base.opcode = JAL_OP_SOFTMAX; base.r[1] = 1);
	CASE("SOFTMAX misaligned", B, base.opcode = JAL_OP_SOFTMAX; base.r[1] = 5;
	     base.dim[0] = 3);
	CASE("RMSNORM beyond 256 MiB", B, base.opcode = JAL_OP_RMSNORM;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 0x4000001);
	CASE("ROPE odd n", B, base.opcode = JAL_OP_ROPE; base.r[1] = 1;
	     base.dim[0] = 6; base.dim[1] = 3);
	CASE("ROPE head size 0", B, base.opcode = JAL_OP_ROPE; base.r[1] = 1;
	     base.dim[0] = 6);
	CASE("ROPE head size not dividing n", B, base.opcode = JAL_OP_ROPE;
	     base.r[1] = 1; base.dim[0] = 12; base.dim[1] = 8);
	CASE("ATTENTION KV heads not dividing", B, base.opcode = JAL_OP_ATTENTION;
	     base.r[1] = 1; base.r[2] = 2; base.r[3] = 3; base.dim[0] = 6;
	     base.dim[1] = 4; base.dim[2] = 4; base.dim[3] = 1);
	CASE("ATTENTION no positions", B, base.opcode = JAL_OP_ATTENTION;
	     base.r[1] = 1; base.r[2] = 2; base.r[3] = 3; base.dim[0] = 2;
	     base.dim[1] = 4; base.dim[2] = 1);
	CASE("ATTENTION head size 0", B, base.opcode = JAL_OP_ATTENTION;
	     base.r[1] = 1; base.r[2] = 2; base.r[3] = 3; base.dim[0] = 2;
	     base.dim[2] = 1; base.dim[3] = 1);
	CASE("ATTENTION head size over the limit", B,
	     base.opcode = JAL_OP_ATTENTION; base.r[1] = 1; base.r[2] = 2;
	     base.r[3] = 3; base.dim[0] = 1; base.dim[1] = 16385; base.dim[2] = 1;
	     base.dim[3] = 1);
	CASE("ATTENTION K pitch below a position", B,
	     base.opcode = JAL_OP_ATTENTION; base.r[1] = 1; base.r[2] = 2;
	     base.r[3] = 3; base.dim[0] = 2; base.dim[1] = 4; base.dim[2] = 2;
	     base.dim[3] = 2; base.stride[2] = 7);
	CASE("EMBED row out of range", B, base.opcode = JAL_OP_EMBED;
	     base.r[1] = 1; base.dim[0] = 4; base.dim[1] = 3; base.dim[2] = 3);
	CASE("EMBED pitch below row", B, base.opcode = JAL_OP_EMBED;
	     base.r[1] = 1; base.dim[0] = 4; base.dim[2] = 3; base.stride[1] = 3);
	CASE("EMBED q8 group 0", B, base.opcode = JAL_OP_EMBED;
	     base.dtype = JAL_DTYPE_Q8; base.r[1] = 1; base.r[3] = 3;
	     base.dim[0] = 4; base.dim[2] = 3);
	CASE("EMBED bf16 table misaligned", B, base.opcode = JAL_OP_EMBED;
	     base.dtype = JAL_DTYPE_BF16; base.r[1] = 5; base.dim[0] = 4;
	     base.dim[2] = 3);
	CASE("SAMPLE of nothing", B, base.opcode = JAL_OP_SAMPLE; base.r[0] = 5;
	     base.r[1] = 1; base.r[2] = 2);
	CASE("SAMPLE over the logit limit", B, base.opcode = JAL_OP_SAMPLE;
	     base.r[0] = 5; base.r[1] = 1; base.r[2] = 2;
	     base.dim[0] = JAL_SAMPLE_MAX_LOGITS + 1; base.imm[0] = f2u(1.0f));
	CASE("ROWS more than JAL_ROWS_MAX", B, base.opcode = JAL_OP_SOFTMAX;
	     base.r[1] = 1; base.dim[0] = 4; base.dim[3] = JAL_ROWS_MAX + 1;
	     base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS pitch below a row", B, base.opcode = JAL_OP_SOFTMAX;
	     base.r[1] = 1; base.dim[0] = 8; base.dim[3] = 2; base.stride[1] = 4;
	     base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS rows beyond 256 MiB", B, base.opcode = JAL_OP_SILU_MUL;
	     base.r[1] = 1; base.r[2] = 2; base.dim[0] = 0x100000;
	     base.dim[3] = 65; base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS SAMPLE states misaligned", B, base.opcode = JAL_OP_SAMPLE;
	     base.r[1] = 1; base.r[2] = 5; base.r[3] = 3; base.dim[0] = 4;
	     base.dim[3] = 2; base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS ARGMAX of nothing", B, base.opcode = JAL_OP_ARGMAX;
	     base.r[1] = 1; base.dim[3] = 2; base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS of 33-bit count", B, base.opcode = JAL_OP_SOFTMAX;
	     base.r[1] = 1; base.dim[0] = 4; base.dim[3] = 2;
	     base.flags = JAL_INSN_F_ROWS | JAL_INSN_F_DIM_REG(3));
	/* Memory: operands beyond the VA space or in unmapped memory. */
	CASE("MATVEC W unmapped", JAL_STATUS_MMU_UNMAPPED, MV(2, 8);
	     base.r[1] = 6);
	CASE("ROWS ARGMAX results unmapped", JAL_STATUS_MMU_UNMAPPED,
	     base.opcode = JAL_OP_ARGMAX; base.r[0] = 6; base.r[1] = 1;
	     base.dim[0] = 4; base.dim[3] = 2; base.flags = JAL_INSN_F_ROWS);
	CASE("ROWS ROPE positions beyond the VA space", JAL_STATUS_MMU_UNMAPPED,
	     base.opcode = JAL_OP_ROPE; base.r[1] = 1; base.r[2] = 7;
	     base.dim[0] = 4; base.dim[1] = 2; base.dim[3] = 2;
	     base.flags = JAL_INSN_F_ROWS);
	CASE("ATTENTION K unmapped", JAL_STATUS_MMU_UNMAPPED,
	     base.opcode = JAL_OP_ATTENTION; base.r[1] = 1; base.r[2] = 6;
	     base.r[3] = 3; base.dim[0] = 2; base.dim[1] = 4; base.dim[2] = 1;
	     base.dim[3] = 2);
#undef MV
#undef B
#undef CASE

	for (i = 0; i < n; i++) {
		uint64_t a[8] = { args[0], args[1], args[2], args[3], args[4],
				  args[5], 0x7f00000000ull, 1ull << 40 };
		struct jal_insn code[2] = { bad[i].in, i_op(JAL_OP_HALT) };
		struct result r;

		if (bad[i].in.flags & (JAL_INSN_F_DIM_REG(2) | JAL_INSN_F_DIM_REG(3)))
			a[2] = 1ull << 32;	/* dim[2] or dim[3] = r2: 33 bits */
		r = run_kernel(f, code, 2, a, 8);
		EXPECT_EQ(bad[i].status, r.status) {
			TH_LOG("%s", bad[i].what);
		}
	}

	/* An invalid S24 index byte, found while computing. */
	{
		static const uint8_t wrong[] = { 0x10, 0x00, 0x05, 0x0b, 0x80, 0x07 };
		struct jal_insn in = i_matvec(0, 1, 2, 8, 16, 1, 0, 1);

		in.dtype = JAL_DTYPE_S24;
		in.r[3] = 3;
		for (i = 0; i < ARRAY_SIZE(wrong); i++) {
			uint8_t row[32];

			memset(row, 4, sizeof(row));
			row[5 + i] = wrong[i];
			host_write(f, CTX, args[3], row, sizeof(row));
			EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4)) {
				TH_LOG("index byte 0x%02x", wrong[i]);
			}
			/* And through MATMUL's decoding. */
			in.opcode = JAL_OP_MATMUL;
			in.dim[2] = 2;
			in.stride[0] = 0;
			in.stride[2] = 0;
			EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4));
			in = i_matvec(0, 1, 2, 8, 16, 1, 0, 1);
			in.dtype = JAL_DTYPE_S24;
			in.r[3] = 3;
		}
		/* Every valid byte is accepted. */
		memset(idx, 0, sizeof(idx));
		for (i = 0; i < 32; i++) {
			static const uint8_t ok[6] = { 4, 8, 12, 9, 13, 14 };
			uint8_t b = ok[i % 6];

			host_write(f, CTX, args[3] + i, &b, 1);
		}
		EXPECT_EQ(JAL_STATUS_OK, run1(f, in, args, 4));
	}
}

/* ---- faults, watchdog, determinism -------------------------------------- */

TEST_F(llm, faults_in_new_ops_name_the_address)
{
	struct fake *f = self->f;
	uint64_t w = alloc_in(self, false, 64 * PAGE);
	uint64_t x = alloc_in(self, true, 4096 * 4), d = alloc_in(self, true, 64 * 4);
	uint64_t args[4] = { d, w, x, 0 };
	struct jal_insn in;
	struct result r;

	/* A hole in W (host memory): row 16 of 1024 floats starts there. */
	*leaf_pte(f, CTX, w + 16 * PAGE) = 0;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	in = i_matvec(0, 1, 2, 40, 1024, 1, 0, 1);
	r = run_kernel(f, &in, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(w + 16 * PAGE, r.fault_addr);
	/* The same through MATMUL (X = 2 rows). */
	in = i_op(JAL_OP_MATMUL);
	in.r[1] = 1;
	in.r[2] = 2;
	in.dim[0] = 40;
	in.dim[1] = 1024;
	in.dim[2] = 2;
	r = run_kernel(f, &in, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(w + 16 * PAGE, r.fault_addr);
	/* SOFTMAX reading it, RMSNORM writing a read-only page. */
	in = i_op(JAL_OP_SOFTMAX);
	in.r[0] = 2;
	in.r[1] = 1;
	in.dim[0] = 20 * 1024;
	r = run_kernel(f, &in, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(w + 16 * PAGE, r.fault_addr);
	in = i_op(JAL_OP_RMSNORM);
	in.r[0] = 0;
	in.r[1] = 2;
	in.r[2] = 2;
	in.dim[0] = 64;
	args[0] = CODE_VA;
	r = run_kernel(f, &in, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	EXPECT_EQ(CODE_VA, r.fault_addr);
	EXPECT_TRUE(rd(f, JAL_REG_FAULT_STATUS) & JAL_FAULT_STATUS_VALID);
}

TEST_F(llm, watchdog_stops_a_loop_of_big_instructions)
{
	struct fake *f = self->f;
	uint64_t w = alloc_in(self, true, 1024 * 1024 * 4);
	uint64_t x = alloc_in(self, true, 1024 * 4), d = alloc_in(self, true, 1024 * 4);
	uint64_t args[3] = { d, w, x }, t0;
	struct jal_insn code[4];
	struct result r;

	code[0] = i_matvec(0, 1, 2, 1024, 1024, 1, 0, 1);
	code[1] = i_op(JAL_OP_ATTENTION);
	code[1].r[1] = 2;
	code[1].r[2] = 1;
	code[1].r[3] = 1;
	code[1].dim[0] = 8;
	code[1].dim[1] = 128;
	code[1].dim[2] = 1;
	code[1].dim[3] = 1000;
	code[2] = i_jump(0);
	/*
	 * A loop costs 1 + 256 steps for MATVEC, 1 + 500 for ATTENTION and 1
	 * for JUMP. Without the jump, two loops' worth ends normally.
	 */
	code[3] = i_op(JAL_OP_HALT);
	set_step_limit(f, 758);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 2, args, 3).status);
	set_step_limit(f, 757);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, run_kernel(f, code, 2, args, 3).status);
	set_step_limit(f, 50000);
	t0 = now_ms();
	r = run_kernel(f, code, 3, args, 3);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, r.status);
	EXPECT_EQ(0, r.error_offset);
	TH_LOG("65 loops of a 4 MiB MATVEC and an 8-head ATTENTION over 1000 positions: %llu ms",
	       (unsigned long long)(now_ms() - t0));
	EXPECT_LT(now_ms() - t0, 20000);
}

/*
 * A queue reset in the middle of a long instruction takes effect
 * promptly: well within the time the instruction itself takes, measured
 * in the same run. The kernel repeats the instruction for ever (watchdog
 * off), so the job is still inside one when the reset comes, however
 * fast the machine is.
 */
TEST_F(llm, reset_aborts_long_instructions_promptly)
{
	struct fake *f = self->f;
	uint64_t w = alloc_in(self, true, 4096ull * 4096 * 2);
	uint64_t x = alloc_in(self, true, 256 * 4096 * 4);
	uint64_t d = alloc_in(self, true, 256 * 4096 * 4);
	uint64_t args[3] = { d, w, x }, t0, alone, took;
	struct jal_insn code[2][2];
	struct cmdbuf cb = { 0 };
	unsigned int which;

	/* 4096 x 4096 bf16 times 256 rows; and ATTENTION over 38 MB of K/V. */
	code[0][0] = i_op(JAL_OP_MATMUL);
	code[0][0].dtype = JAL_DTYPE_BF16;
	code[0][0].r[0] = 0;
	code[0][0].r[1] = 1;
	code[0][0].r[2] = 2;
	code[0][0].dim[0] = 4096;
	code[0][0].dim[1] = 4096;
	code[0][0].dim[2] = 256;
	code[1][0] = i_op(JAL_OP_ATTENTION);
	code[1][0].r[1] = 2;
	code[1][0].r[2] = 1;
	code[1][0].r[3] = 1;
	code[1][0].dim[0] = 64;
	code[1][0].dim[1] = 64;
	code[1][0].dim[2] = 1;
	code[1][0].dim[3] = 150000;
	for (which = 0; which < 2; which++) {
		const char *name = which ? "ATTENTION" : "MATMUL";

		t0 = now_ms();
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, code[which], 1, args, 3).status);
		alone = now_ms() - t0;

		code[which][1] = i_jump(0);
		host_write(f, CTX, CODE_VA, code[which], sizeof(code[which]));
		host_write(f, CTX, ARGS_VA, args, sizeof(args));
		cb.len = 0;
		cb_dispatch(&cb, CODE_VA, sizeof(code[which]), ARGS_VA, sizeof(args));
		host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);
		submit(f, 0, CTX, CMDBUF_VA, cb.len, 0);
		ASSERT_TRUE(wait_busy(f, 5000));
		t0 = now_ms();
		wr(f, JAL_REG_Q(0, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
		took = now_ms() - t0;
		TH_LOG("%s alone: %llu ms; reset during it: %llu ms", name,
		       (unsigned long long)alone, (unsigned long long)took);
		EXPECT_LE(took * 2, alone);
		EXPECT_FALSE(rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_BUSY);
		queue_setup(f, 0, RING_ENTRIES, 0);
	}
}

/*
 * The same kernel on chips with every kernel variant the CPU can run and
 * with one, two and three compute threads: identical bits.
 */
TEST(results_do_not_depend_on_kernels_or_threads)
{
	static const struct { const char *kernels; unsigned int threads; } chips[] = {
		{ "generic", 1 }, { "avx2", 3 }, { "avx512", 2 }, { NULL, 2 },
		{ "generic", 3 },
	};
	uint8_t *out[ARRAY_SIZE(chips)];
	unsigned int c, i, dt, ran = 0;
	size_t len = 4 * MiB;

	for (c = 0; c < ARRAY_SIZE(chips); c++) {
		struct jal_device_config cfg;
		struct jal_insn code[14];
		struct jal_arena mem;
		uint64_t args[8];
		struct fake *f;
		uint8_t *data;

		out[c] = NULL;
		if (!jal_kernels_select(chips[c].kernels))
			continue;	/* not for this CPU */
		fake_test_config(&cfg);
		cfg.kernels = chips[c].kernels;
		cfg.compute_threads = chips[c].threads;
		f = fake_new_cfg(96 * MiB, &cfg);
		jal_arena_setup(&mem, f, VRAM_VA, VRAM_LEN, HOST_VA, HOST_LEN);
		data = malloc(len);
		/*
		 * Every 2-byte half a finite bf16, so the data is finite as
		 * f32, bf16 and scales alike (NaN payloads are unspecified).
		 */
		f->rng = 42;
		for (i = 0; i < len / 2; i++) {
			uint16_t h = to_bf16(rndf(f));

			memcpy(data + 2 * i, &h, 2);
		}
		/* S24 index bytes must be valid: a region of them. */
		for (i = 3 * MiB; i < 3 * MiB + 131072; i++)
			data[i] = "\x04\x08\x0c\x09\x0d\x0e"[i % 6];
		host_write(f, CTX, VRAM_VA, data, len);
		free(data);
		for (i = 0; i < 8; i++)
			args[i] = VRAM_VA + i * MiB / 2;
		args[6] = VRAM_VA + 3 * MiB;	/* the index bytes */
		args[7] = VRAM_VA + 8 * MiB;	/* outputs */
		for (dt = 0; dt < 4; dt++) {
			code[0] = i_op(JAL_OP_MATMUL);
			code[0].dtype = dt;
			code[0].r[0] = 7;
			code[0].r[1] = 1;
			code[0].r[2] = 2;
			code[0].r[3] = dt == JAL_DTYPE_S24 ? 6 : dt == JAL_DTYPE_Q8 ? 3 : 0;
			code[0].dim[0] = 301;
			code[0].dim[1] = 252;
			code[0].dim[2] = 7;
			code[0].dim[3] = dt == JAL_DTYPE_Q8 ? 36 : 0;
			code[1] = i_addi(7, 7, 32 * 1024);
			code[2] = i_matvec(7, 1, 2, 997, 256, 1, 0, 1);
			code[2].dtype = dt;
			code[2].r[3] = code[0].r[3];
			code[2].dim[2] = dt == JAL_DTYPE_Q8 ? 32 : 0;
			/*
			 * Rows longer than the kernels' blocks of columns and
			 * ending within a vector: 268 = 256 + 12; Q8 groups of
			 * 16 (BF16 and Q8 the 16-column kernels' multiple).
			 */
			code[3] = i_addi(7, 7, 4096);
			code[4] = code[2];
			code[4].dim[1] = dt == JAL_DTYPE_BF16 || dt == JAL_DTYPE_Q8 ? 304 : 268;
			code[4].dim[2] = dt == JAL_DTYPE_Q8 ? 16 : 0;
			/* Q8X, groups of 4 and of 32 (rows end mid-block). */
			code[5] = i_addi(7, 7, 4096);
			code[6] = code[2];
			code[6].dim[1] = 300;
			code[6].dim[2] = 4;
			code[7] = i_addi(7, 7, 4096);
			code[8] = code[6];
			code[8].dim[1] = 288;
			code[8].dim[2] = 32;
			code[6].flags |= JAL_INSN_F_Q8X;
			code[8].flags |= JAL_INSN_F_Q8X;
			ASSERT_EQ(JAL_STATUS_OK,
				  run_kernel(f, code, dt == JAL_DTYPE_Q8 ? 9 : 5,
					     args, 8).status);
			args[7] += 128 * 1024;
		}
		code[0] = i_op(JAL_OP_ATTENTION);
		code[0].r[0] = 7;
		code[0].r[1] = 1;
		code[0].r[2] = 2;
		code[0].r[3] = 4;
		code[0].dim[0] = 8;
		code[0].dim[1] = 64;
		code[0].dim[2] = 2;
		code[0].dim[3] = 700;
		code[1] = i_addi(7, 7, 4096);
		code[2] = i_op(JAL_OP_RMSNORM);
		code[2].r[0] = 7;
		code[2].r[1] = 1;
		code[2].r[2] = 2;
		code[2].dim[0] = 4099;
		code[2].imm[0] = f2u(1e-6f);
		/* MATMUL Q8X of 9 rows, groups of 32 (panels of 16 rows and less). */
		code[3] = i_addi(7, 7, 32 * 1024);
		code[4] = i_op(JAL_OP_MATMUL);
		code[4].dtype = JAL_DTYPE_Q8;
		code[4].flags = JAL_INSN_F_Q8X;
		code[4].r[0] = 7;
		code[4].r[1] = 1;
		code[4].r[2] = 2;
		code[4].r[3] = 3;
		code[4].dim[0] = 301;
		code[4].dim[1] = 288;
		code[4].dim[2] = 9;
		code[4].dim[3] = 32;
		/* PAGED_ATTENTION of 3 rows over pools at r2 and r4. */
		code[5] = i_addi(7, 7, 16 * 1024);
		code[6] = i_li(8, VRAM_VA + 6 * MiB);
		code[7] = i_li(9, VRAM_VA + 6 * MiB + 4096);
		code[8] = i_op(JAL_OP_PAGED_ATTENTION);
		code[8].r[0] = 7;
		code[8].r[1] = 1;
		code[8].r[2] = 2;
		code[8].r[3] = 4;
		code[8].dim[0] = 8;
		code[8].dim[1] = 64;
		code[8].dim[2] = 2;
		code[8].dim[3] = 3;
		code[8].stride[2] = 16;
		code[8].stride[3] = 16;
		code[8].imm[0] = 8;
		code[8].imm[1] = 9;
		code[8].imm[2] = 16;
		code[8].imm[3] = 32;
		{
			uint32_t lens[3] = { 150, 37, 200 }, table[3 * 16];

			for (i = 0; i < 3 * 16; i++)
				table[i] = (i / 16 * 11 + i % 16 * 3) % 32;
			host_write(f, CTX, VRAM_VA + 6 * MiB, lens, sizeof(lens));
			host_write(f, CTX, VRAM_VA + 6 * MiB + 4096, table, sizeof(table));
		}
		/* Q4: MATMUL of 9 rows (register tiles) and MATVEC (panels), rows ending mid-tile. */
		code[9] = i_addi(7, 7, 16 * 1024);
		code[10] = code[4];
		code[10].dtype = JAL_DTYPE_Q4;
		code[10].flags = 0;
		code[11] = i_addi(7, 7, 16 * 1024);
		code[12] = i_matvec(7, 1, 2, 997, 224, 1, 0, 1);
		code[12].dtype = JAL_DTYPE_Q4;
		code[12].r[3] = 3;
		code[12].dim[2] = 32;
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, code, 13, args, 8).status);
		out[c] = malloc(MiB);
		host_read(f, CTX, VRAM_VA + 8 * MiB, out[c], MiB);
		TH_LOG("chip %u: %s kernels, %u threads", c,
		       jal_device_kernels(f->dev), chips[c].threads);
		fake_free(f);
		ran++;
	}
	EXPECT_GE(ran, 3);
	/* The last results (PAGED_ATTENTION's) were written at all. */
	if (out[0]) {
		size_t off = 512 * 1024 + 4096 + 32 * 1024 + 16 * 1024, nz = 0;

		for (i = 0; i < 3 * 512 * 4; i++)
			nz += out[0][off + i] != 0;
		EXPECT_LT(3 * 512 * 2, nz);
	}
	for (c = 1; c < ARRAY_SIZE(chips); c++) {
		if (!out[c])
			continue;
		for (i = 0; i < MiB && out[0][i] == out[c][i]; i++)
			;
		EXPECT_EQ(MiB, i) {
			float a, b;

			memcpy(&a, out[0] + (i & ~3u), 4);
			memcpy(&b, out[c] + (i & ~3u), 4);
			TH_LOG("chip %u differs from the baseline at byte 0x%x: %a %a",
			       c, i, a, b);
		}
	}
	for (c = 0; c < ARRAY_SIZE(chips); c++)
		free(out[c]);
}

TEST_HARNESS_MAIN
