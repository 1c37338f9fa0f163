// SPDX-License-Identifier: MIT
/*
 * JAL_DTYPE_Q4 through the chip: MATVEC against a plain C reference of
 * the ISA (x quantized per group of 32 as Q8X does, exact integer sums
 * with the 4-bit weights, the groups' float parts in lanes g % 8), MATMUL
 * rows bit for bit equal to MATVEC of the same row whatever the batch,
 * weights in device and in host memory, and the operand checks: bad
 * group size or columns, the Q8X flag, misaligned or short operands.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"

#define VRAM_VA		0x40000000ull	/* device memory, 2 MiB pages */
#define VRAM_LEN	(32 * MiB)
#define HOST_VA		0x80000000ull	/* host memory, scattered pages */
#define HOST_LEN	(16 * MiB)

FIXTURE(q4) {
	struct fake *f;
	struct jal_arena mem;
};

FIXTURE_SETUP(q4)
{
	self->f = fake_new(96 * MiB);
	jal_arena_setup(&self->mem, self->f, VRAM_VA, VRAM_LEN, HOST_VA, HOST_LEN);
}

FIXTURE_TEARDOWN(q4)
{
	fake_free(self->f);
}

static uint64_t q4_alloc(FIXTURE_DATA(q4) *self, bool vram, uint64_t bytes)
{
	return jal_arena_alloc(&self->mem, vram, bytes);
}

static float q4_rndf(struct fake *f)
{
	return (float)(int32_t)(rnd(f) >> 32) / 2147483648.0f;
}

/* x quantized per group of 32 as the ISA says (runq.c's quantize()). */
static void ref_quantize(int8_t *q, float *s, const float *x, size_t k)
{
	size_t g, i;

	for (g = 0; g < k / 32; g++) {
		float amax = 0.0f;

		for (i = 0; i < 32; i++)
			if (fabsf(x[g * 32 + i]) > amax)
				amax = fabsf(x[g * 32 + i]);
		s[g] = amax / 127.0f;
		for (i = 0; i < 32; i++) {
			float v = s[g] == 0.0f ? 0.0f : roundf(x[g * 32 + i] / s[g]);

			q[g * 32 + i] = v != v ? 0 : v > 127.0f ? 127 : v < -127.0f ? -127 :
					(int8_t)v;
		}
	}
}

/* One row: byte j of group g holds column j (bits 3..0) and j + 16 (bits 7..4), each + 8. */
static float ref_q4_row(const uint8_t *w, const float *ws, const float *x, size_t k)
{
	int8_t *q = malloc(k);
	float *s = malloc(k / 32 * 4), l[8] = { 0 };
	size_t g, j;

	ref_quantize(q, s, x, k);
	for (g = 0; g < k / 32; g++) {
		int32_t sum = 0;

		for (j = 0; j < 32; j++) {
			uint8_t b = w[g * 16 + j % 16];
			int n = j < 16 ? b & 15 : b >> 4;

			sum += (n - 8) * q[g * 32 + j];
		}
		l[g % 8] += ((float)sum * ws[g]) * s[g];
	}
	free(q);
	free(s);
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

/* A Q4 matrix in memory: bytes at w_va (pitch bytes a row), scales at s_va. */
struct q4mat {
	uint32_t rows, cols, pitch;
	uint8_t *w;
	float *ws;
	uint64_t w_va, s_va;
};

static void q4mat_make(FIXTURE_DATA(q4) *self, struct q4mat *m, uint32_t rows,
		       uint32_t cols, uint32_t extra, bool vram)
{
	struct fake *f = self->f;
	size_t i, ng = cols / 32;

	m->rows = rows;
	m->cols = cols;
	m->pitch = cols / 2 + extra;
	m->w = malloc((size_t)rows * m->pitch);
	m->ws = malloc(rows * ng * 4);
	for (i = 0; i < (size_t)rows * m->pitch; i++)
		m->w[i] = i % 9 == 4 ? 0x0f : i % 11 == 2 ? 0xf0 : (uint8_t)rnd(f);
	for (i = 0; i < rows * ng; i++)
		m->ws[i] = i % 13 == 6 ? 0.0f : q4_rndf(f) * 0.01f;
	m->w_va = q4_alloc(self, vram, (uint64_t)rows * m->pitch);
	m->s_va = q4_alloc(self, vram, rows * ng * 4);
	host_write(f, CTX, m->w_va, m->w, (size_t)rows * m->pitch);
	host_write(f, CTX, m->s_va, m->ws, rows * ng * 4);
}

static void q4mat_free(struct q4mat *m)
{
	free(m->w);
	free(m->ws);
}

/* MATVEC d = W x with Q4 weights: r0 = d, r1 = W, r2 = x, r3 = scales. */
static struct jal_insn i_q4_matvec(const struct q4mat *m, uint32_t sd, uint32_t sx)
{
	struct jal_insn in = i_matvec(0, 1, 2, m->rows, m->cols, sd, m->pitch, sx);

	in.dtype = JAL_DTYPE_Q4;
	in.r[3] = 3;
	in.dim[2] = JAL_Q4_GROUP;
	return in;
}

static struct jal_insn i_q4_matmul(const struct q4mat *m, uint32_t B, uint32_t dp,
				   uint32_t xp)
{
	struct jal_insn in = i_op(JAL_OP_MATMUL);

	in.dtype = JAL_DTYPE_Q4;
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[2] = 2;
	in.r[3] = 3;
	in.dim[0] = m->rows;
	in.dim[1] = m->cols;
	in.dim[2] = B;
	in.dim[3] = JAL_Q4_GROUP;
	in.stride[0] = dp;
	in.stride[1] = m->pitch;
	in.stride[2] = xp;
	return in;
}

TEST_F(q4, matvec_matches_the_reference)
{
	static const struct { uint32_t rows, cols, extra, sx; bool vram; } cases[] = {
		{ 37, 96, 0, 1, true }, { 16, 32, 0, 1, false }, { 70, 1024, 8, 2, true },
		{ 19, 2048, 0, 1, false }, { 1, 64, 1, 3, true }, { 300, 768, 0, 1, true },
	};
	unsigned int c;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		struct fake *f = self->f;
		uint32_t rows = cases[c].rows, cols = cases[c].cols, sx = cases[c].sx, i, bad = 0;
		float *x = malloc((size_t)cols * sx * 4), *xd = malloc(cols * 4);
		float *d = malloc(rows * 4);
		uint64_t args[4];
		struct q4mat m;

		jal_arena_reset(&self->mem);
		q4mat_make(self, &m, rows, cols, cases[c].extra, cases[c].vram);
		for (i = 0; i < cols * sx; i++)
			x[i] = q4_rndf(f) * (i % 97 == 5 ? 1000.0f : 1.0f);
		/* A group of zeros: its scale is 0 and so are its q. */
		for (i = 0; i < 32 * sx && cols >= 64; i++)
			x[32 * sx + i] = 0.0f;
		for (i = 0; i < cols; i++)
			xd[i] = x[i * sx];
		args[0] = q4_alloc(self, cases[c].vram, rows * 4);
		args[1] = m.w_va;
		args[2] = q4_alloc(self, !cases[c].vram, (size_t)cols * sx * 4);
		args[3] = m.s_va;
		host_write(f, CTX, args[2], x, (size_t)cols * sx * 4);
		ASSERT_EQ(JAL_STATUS_OK,
			  run_kernel(f, (struct jal_insn[]){ i_q4_matvec(&m, 1, sx) }, 1, args, 4).status);
		host_read(f, CTX, args[0], d, rows * 4);
		for (i = 0; i < rows; i++)
			bad += f2u(d[i]) != f2u(ref_q4_row(m.w + (size_t)i * m.pitch,
							    m.ws + i * (cols / 32), xd, cols));
		EXPECT_EQ(0, bad) {
			TH_LOG("Q4 MATVEC %ux%u pitch +%u x stride %u vram %d: %u rows wrong",
			       rows, cols, cases[c].extra, sx, cases[c].vram, bad);
		}
		q4mat_free(&m);
		free(x);
		free(xd);
		free(d);
	}
}

TEST_F(q4, matmul_rows_equal_the_reference_and_matvec)
{
	static const uint32_t batches[] = { 1, 2, 5, 16, 17, 40 };
	unsigned int b, vram;

	for (vram = 0; vram < 2; vram++)
		for (b = 0; b < ARRAY_SIZE(batches); b++) {
			struct fake *f = self->f;
			uint32_t B = batches[b], rows = 53, cols = 320, xp = cols + 3, dp = rows + 5;
			float *x = malloc((size_t)B * xp * 4), *d = malloc((size_t)B * dp * 4);
			float *mv = malloc(rows * 4);
			uint32_t n, i, bad = 0, badmv = 0;
			uint64_t args[4], dmv;
			struct q4mat m;

			jal_arena_reset(&self->mem);
			q4mat_make(self, &m, rows, cols, 2, vram);
			for (i = 0; i < B * xp; i++)
				x[i] = ldexpf(q4_rndf(f), (int)(i / xp % 40) - 20);
			args[0] = q4_alloc(self, vram, (size_t)B * dp * 4);
			args[1] = m.w_va;
			args[2] = q4_alloc(self, vram, (size_t)B * xp * 4);
			args[3] = m.s_va;
			dmv = q4_alloc(self, !vram, rows * 4);
			host_write(f, CTX, args[2], x, (size_t)B * xp * 4);
			ASSERT_EQ(JAL_STATUS_OK,
				  run_kernel(f, (struct jal_insn[]){ i_q4_matmul(&m, B, dp, xp) },
					     1, args, 4).status);
			host_read(f, CTX, args[0], d, (size_t)B * dp * 4);
			for (n = 0; n < B; n++) {
				uint64_t mvargs[4] = { dmv, m.w_va, args[2] + (uint64_t)n * xp * 4,
						       m.s_va };

				ASSERT_EQ(JAL_STATUS_OK,
					  run_kernel(f, (struct jal_insn[]){ i_q4_matvec(&m, 1, 1) },
						     1, mvargs, 4).status);
				host_read(f, CTX, dmv, mv, rows * 4);
				for (i = 0; i < rows; i++) {
					uint32_t want = f2u(ref_q4_row(m.w + (size_t)i * m.pitch,
								       m.ws + i * (cols / 32),
								       x + (size_t)n * xp, cols));

					bad += f2u(d[(size_t)n * dp + i]) != want;
					badmv += f2u(mv[i]) != f2u(d[(size_t)n * dp + i]);
				}
			}
			EXPECT_EQ(0, bad) {
				TH_LOG("Q4 MATMUL B %u vram %u: %u results differ from the reference",
				       B, vram, bad);
			}
			EXPECT_EQ(0, badmv) {
				TH_LOG("Q4 MATMUL B %u vram %u: %u rows differ from MATVEC", B, vram,
				       badmv);
			}
			q4mat_free(&m);
			free(x);
			free(d);
			free(mv);
		}
}

/* D over X (and over W): every input is read before a result lands. */
TEST_F(q4, matmul_results_may_overwrite_the_inputs)
{
	struct fake *f = self->f;
	uint32_t rows = 40, cols = 96, B = 5, n, i, bad = 0, vram;

	for (vram = 0; vram < 2; vram++) {
		float *x = malloc((size_t)B * cols * 4), *d = malloc((size_t)B * rows * 4);
		uint64_t args[4];
		struct q4mat m;
		struct jal_insn in;

		jal_arena_reset(&self->mem);
		q4mat_make(self, &m, rows, cols, 0, vram);
		for (i = 0; i < B * cols; i++)
			x[i] = q4_rndf(f);
		args[1] = m.w_va;
		args[2] = q4_alloc(self, vram, (size_t)B * cols * 4);
		args[3] = m.s_va;
		host_write(f, CTX, args[2], x, (size_t)B * cols * 4);
		/* D starts 8 bytes into X: its rows overlap X's. */
		args[0] = args[2] + 8;
		in = i_q4_matmul(&m, B, 0, 0);
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, &in, 1, args, 4).status);
		host_read(f, CTX, args[0], d, (size_t)B * rows * 4);
		for (n = 0; n < B; n++)
			for (i = 0; i < rows; i++)
				bad += f2u(d[n * rows + i]) !=
				       f2u(ref_q4_row(m.w + (size_t)i * m.pitch,
						      m.ws + i * (cols / 32), x + (size_t)n * cols,
						      cols));
		/* And D over W itself (MATVEC, one row of X). */
		in = i_q4_matvec(&m, 1, 1);
		args[0] = m.w_va;
		args[2] = q4_alloc(self, vram, cols * 4);
		host_write(f, CTX, args[2], x, cols * 4);
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, &in, 1, args, 4).status);
		host_read(f, CTX, m.w_va, d, rows * 4);
		for (i = 0; i < rows; i++)
			bad += f2u(d[i]) != f2u(ref_q4_row(m.w + (size_t)i * m.pitch,
							   m.ws + i * (cols / 32), x, cols));
		EXPECT_EQ(0, bad) {
			TH_LOG("vram %u: %u results wrong", vram, bad);
		}
		q4mat_free(&m);
		free(x);
		free(d);
	}
}

/* Operand checks: each breaks one rule and must end with @want, nothing crashing. */
TEST_F(q4, bad_operands_fail_cleanly)
{
	struct fake *f = self->f;
	struct q4mat m;
	uint64_t args[4];
	struct jal_insn in;
	float x[128] = { 1.0f };

	q4mat_make(self, &m, 8, 128, 0, true);
	args[0] = q4_alloc(self, true, 64 * 4);
	args[1] = m.w_va;
	args[2] = q4_alloc(self, true, sizeof(x));
	args[3] = m.s_va;
	host_write(f, CTX, args[2], x, sizeof(x));

	in = i_q4_matvec(&m, 1, 1);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, &in, 1, args, 4).status);

#define Q4_BAD(want, what, edit)						\
	do {									\
		uint64_t a[4] = { args[0], args[1], args[2], args[3] };		\
		in = i_q4_matvec(&m, 1, 1);					\
		edit;								\
		EXPECT_EQ(want, run_kernel(f, &in, 1, a, 4).status) {		\
			TH_LOG("%s", what);					\
		}								\
	} while (0)

	Q4_BAD(JAL_STATUS_BAD_INSN, "group 16", in.dim[2] = 16);
	Q4_BAD(JAL_STATUS_BAD_INSN, "group 64", in.dim[2] = 64);
	Q4_BAD(JAL_STATUS_BAD_INSN, "group 0", in.dim[2] = 0);
	Q4_BAD(JAL_STATUS_BAD_INSN, "48 columns", in.dim[1] = 48);
	Q4_BAD(JAL_STATUS_BAD_INSN, "more than JAL_Q8X_MAX_COLS columns",
	       in.dim[1] = JAL_Q8X_MAX_COLS + 32; in.stride[1] = 0; in.dim[0] = 1);
	Q4_BAD(JAL_STATUS_BAD_INSN, "Q8X flag with Q4", in.flags = JAL_INSN_F_Q8X);
	Q4_BAD(JAL_STATUS_BAD_INSN, "pitch shorter than a row", in.stride[1] = 63);
	Q4_BAD(JAL_STATUS_BAD_INSN, "misaligned scales", a[3] += 2);
	Q4_BAD(JAL_STATUS_BAD_INSN, "misaligned x", a[2] += 1);
	Q4_BAD(JAL_STATUS_MMU_UNMAPPED, "W past the end of device memory",
	       a[1] = VRAM_VA + VRAM_LEN - 64 * 8 + 64);
	Q4_BAD(JAL_STATUS_MMU_UNMAPPED, "scales past the end of host memory",
	       a[3] = HOST_VA + HOST_LEN - 8);
	/* MATMUL checks the same way. */
	in = i_q4_matmul(&m, 3, 0, 0);
	in.dim[3] = 8;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, &in, 1, args, 4).status);
	in = i_q4_matmul(&m, 3, 0, 0);
	in.dim[1] = 100;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, &in, 1, args, 4).status);
	/* Q4 is not a dtype of EMBED. */
	in = i_op(JAL_OP_EMBED);
	in.dtype = JAL_DTYPE_Q4;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, &in, 1, args, 4).status);
	/* And the chip still works. */
	in = i_q4_matvec(&m, 1, 1);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, &in, 1, args, 4).status);
	q4mat_free(&m);
#undef Q4_BAD
}

TEST_HARNESS_MAIN
