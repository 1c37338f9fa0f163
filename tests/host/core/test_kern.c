// SPDX-License-Identifier: MIT
/*
 * The chip model's matrix kernels called directly, every variant the
 * CPU runs (generic, AVX2, AVX-512) against a plain C reference of the
 * ISA's arithmetic written here: MATVEC and MATMUL with Q8X, with Q4
 * (from GGUF Q4_0 blocks), with BF16 and with F32 weights, whose results
 * must be bit-identical across variants and
 * across the number of rows of X (batch invariance). Shapes cover rows
 * that are not a multiple of the kernels' tiles, K not a multiple of
 * their chunks, and every group size the fast paths specialise plus odd
 * ones that take the generic loops.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"
#include "jal_kern.h"

static const char *const variants[] = { "generic", "avx2", "avx512" };

static uint32_t krng = 12345;

static uint32_t knext(void)
{
	krng ^= krng << 13;
	krng ^= krng >> 17;
	krng ^= krng << 5;
	return krng;
}

/* A float in about +-1, with a spread of exponents. */
static float kfloat(void)
{
	float v = (float)(knext() % 20001) / 10000.0f - 1.0f;

	return ldexpf(v, (int)(knext() % 9) - 4);
}

static uint32_t bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

/* The ISA's summation: group g's ((float)sum * ws) * xs into lane g % 8. */
static float ref_q8x(const int8_t *w, const float *ws, const int8_t *q,
		     const float *xs, size_t group, size_t k)
{
	float l[8] = { 0 };
	size_t g, i;

	for (g = 0; g < k / group; g++) {
		int32_t sum = 0;

		for (i = 0; i < group; i++)
			sum += (int32_t)w[g * group + i] * q[g * group + i];
		l[g % 8] += ((float)sum * ws[g]) * xs[g];
	}
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

struct q8x_case {
	size_t rows, k, group, pitch_extra;
};

/* W, its scales and nx quantized rows of X, filled at random (with the int8 extremes). */
struct q8x_data {
	int8_t *w, *q;
	float *ws, *xs;
	int32_t *bias;
	size_t pitch, ng;
};

static void q8x_make(struct q8x_data *t, const struct q8x_case *c, size_t nx)
{
	size_t i, g;

	t->pitch = c->k + c->pitch_extra;
	t->ng = c->k / c->group;
	t->w = malloc(c->rows * t->pitch + 64);
	t->ws = malloc(c->rows * t->ng * 4 + 4);
	t->q = malloc(nx * c->k + 64);
	t->xs = malloc(nx * t->ng * 4 + 4);
	t->bias = malloc(nx * t->ng * 4 + 4);
	for (i = 0; i < c->rows * t->pitch; i++)
		t->w[i] = i % 13 == 0 ? -128 : i % 17 == 0 ? 127 : (int8_t)knext();
	for (i = 0; i < c->rows * t->ng; i++)
		t->ws[i] = i % 11 == 5 ? 0.0f : kfloat();
	for (i = 0; i < nx * c->k; i++)
		t->q[i] = i % 19 == 0 ? -127 : i % 23 == 0 ? 127 :
			  (int8_t)(knext() % 255 - 127);
	for (i = 0; i < nx * t->ng; i++) {
		int32_t sum = 0;

		t->xs[i] = fabsf(kfloat());
		for (g = 0; g < c->group; g++)
			sum += t->q[i * c->group + g];
		t->bias[i] = 128 * sum;
	}
	/* One row of X all zeros, as a zero vector quantizes. */
	if (nx > 2) {
		memset(t->q + 2 * c->k, 0, c->k);
		for (i = 0; i < t->ng; i++)
			t->xs[2 * t->ng + i] = t->bias[2 * t->ng + i] = 0;
	}
}

static void q8x_free(struct q8x_data *t)
{
	free(t->w);
	free(t->ws);
	free(t->q);
	free(t->xs);
	free(t->bias);
}

static const struct q8x_case q8x_cases[] = {
	{ 16, 64, 64, 0 }, { 1, 64, 64, 0 }, { 17, 192, 64, 3 },
	{ 40, 256, 64, 0 }, { 33, 96, 32, 0 }, { 21, 224, 32, 5 },
	{ 19, 48, 16, 0 }, { 35, 80, 16, 1 }, { 15, 40, 8, 0 },
	{ 18, 120, 8, 0 }, { 5, 36, 4, 0 }, { 24, 100, 4, 2 },
	{ 33, 384, 128, 0 }, { 9, 512, 256, 7 }, { 16, 192, 192, 0 },
	{ 18, 120, 12, 0 }, { 7, 60, 20, 1 }, { 32, 2048, 64, 0 },
	{ 48, 768, 32, 0 },
};

static const size_t q8x_batches[] = { 1, 2, 3, 7, 16, 17, 33 };

/*
 * mm_q8x of every variant equals the reference for every batch, bit for
 * bit, and so does mv_q8x (each row of X alone).
 */
TEST(q8x_matmul_and_matvec_match_the_reference_in_every_variant)
{
	unsigned int v, ran = 0;
	size_t ci, bi, n, m;

	for (v = 0; v < ARRAY_SIZE(variants); v++) {
		const struct jal_kernels *kern = jal_kernels_select(variants[v]);

		if (!kern)
			continue;	/* not for this CPU */
		ran++;
		for (ci = 0; ci < ARRAY_SIZE(q8x_cases); ci++) {
			const struct q8x_case *c = &q8x_cases[ci];

			for (bi = 0; bi < ARRAY_SIZE(q8x_batches); bi++) {
				size_t nx = q8x_batches[bi], dp = c->rows + 3, bad = 0, badmv = 0;
				float *d = malloc(nx * dp * 4), *mv = malloc(c->rows * 4);
				struct q8x_data t;

				q8x_make(&t, c, nx);
				for (n = 0; n < nx * dp; n++)
					d[n] = -1.0f;
				kern->mm_q8x(d, dp, t.w, t.pitch, t.ws, c->group, t.q,
					     t.xs, t.bias, c->rows, nx, c->k);
				for (n = 0; n < nx; n++) {
					kern->mv_q8x(mv, t.w, t.pitch, t.ws, c->group,
						     t.q + n * c->k, t.xs + n * t.ng,
						     t.bias + n * t.ng, c->rows, c->k);
					for (m = 0; m < c->rows; m++) {
						float want = ref_q8x(t.w + m * t.pitch,
								     t.ws + m * t.ng,
								     t.q + n * c->k,
								     t.xs + n * t.ng,
								     c->group, c->k);

						bad += bits(d[n * dp + m]) != bits(want);
						badmv += bits(mv[m]) != bits(want);
					}
					/* Nothing written between rows. */
					for (m = c->rows; m < dp; m++)
						bad += d[n * dp + m] != -1.0f;
				}
				EXPECT_EQ(0, bad) {
					TH_LOG("%s mm_q8x %zux%zu group %zu pitch +%zu nx %zu: %zu wrong",
					       variants[v], c->rows, c->k, c->group,
					       c->pitch_extra, nx, bad);
				}
				EXPECT_EQ(0, badmv) {
					TH_LOG("%s mv_q8x %zux%zu group %zu: %zu wrong",
					       variants[v], c->rows, c->k, c->group, badmv);
				}
				q8x_free(&t);
				free(d);
				free(mv);
			}
		}
	}
	EXPECT_LT(0, ran);
}

/* ---- BF16 and F32 MATMUL ------------------------------------------- */

/* The ISA's dot product of a widened bf16 row and x: column c into lane c % 8. */
static float ref_bf16(const uint16_t *w, const float *x, size_t k)
{
	float l[8] = { 0 };
	size_t c;

	for (c = 0; c < k; c++) {
		uint32_t u = (uint32_t)w[c] << 16;
		float f;

		memcpy(&f, &u, 4);
		l[c % 8] += f * x[c];
	}
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

struct mm_case {
	size_t rows, k, wextra, xextra;
};

/*
 * Rows off the 4-row tiles, K off the 16-column steps (tails of 1..15),
 * pitches wider than a row, and more rows than one cache block holds
 * (133 x 768: the kernels block W by about 96 Ki elements).
 */
static const struct mm_case mm_cases[] = {
	{ 4, 16, 0, 0 }, { 1, 8, 0, 0 }, { 3, 5, 1, 2 }, { 5, 24, 0, 0 },
	{ 8, 40, 3, 0 }, { 17, 100, 0, 1 }, { 12, 9, 0, 0 }, { 16, 31, 2, 3 },
	{ 40, 288, 0, 0 }, { 133, 768, 0, 0 }, { 9, 2048, 8, 0 },
	{ 6, 770, 0, 0 },
};

static const size_t mm_batches[] = { 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33 };

/*
 * mm_bf16 and mm_f32 (of the same weights widened) of every variant equal
 * the reference for every batch, bit for bit, and so does mv_bf16 of each
 * row of X: batch invariance of BF16 and F32 MATMUL.
 */
TEST(bf16_and_f32_matmul_match_the_reference_in_every_variant)
{
	unsigned int v, ran = 0;
	size_t ci, bi, n, m, i;

	for (v = 0; v < ARRAY_SIZE(variants); v++) {
		const struct jal_kernels *kern = jal_kernels_select(variants[v]);

		if (!kern)
			continue;
		ran++;
		for (ci = 0; ci < ARRAY_SIZE(mm_cases); ci++) {
			const struct mm_case *c = &mm_cases[ci];
			size_t wp = c->k + c->wextra, xp = c->k + c->xextra;

			for (bi = 0; bi < ARRAY_SIZE(mm_batches); bi++) {
				size_t nx = mm_batches[bi], dp = c->rows + 3;
				size_t bad = 0, badf = 0, badmv = 0;
				uint16_t *w = malloc(c->rows * wp * 2 + 64);
				float *wf = malloc(c->rows * wp * 4 + 64);
				float *x = malloc(nx * xp * 4 + 64);
				float *d = malloc(nx * dp * 4), *df = malloc(nx * dp * 4);
				float *mv = malloc(c->rows * 4);

				for (i = 0; i < c->rows * wp; i++) {
					float f = kfloat();
					uint32_t u;

					/* Some -0.0 and +0.0 weights, and large ones. */
					if (i % 29 == 3)
						f = -0.0f;
					else if (i % 31 == 7)
						f = 0.0f;
					else if (i % 37 == 11)
						f = ldexpf(f, 60);
					memcpy(&u, &f, 4);
					w[i] = (uint16_t)(u >> 16);
					u = (uint32_t)w[i] << 16;
					memcpy(&wf[i], &u, 4);
				}
				for (i = 0; i < nx * xp; i++)
					x[i] = i % 41 == 5 ? -0.0f : kfloat();
				for (n = 0; n < nx * dp; n++)
					d[n] = df[n] = -1.0f;
				kern->mm_bf16(d, dp, w, wp, x, xp, c->rows, nx, c->k);
				kern->mm_f32(df, dp, wf, wp, x, xp, c->rows, nx, c->k);
				for (n = 0; n < nx; n++) {
					kern->mv_bf16(mv, w, wp, x + n * xp, c->rows, c->k);
					for (m = 0; m < c->rows; m++) {
						float want = ref_bf16(w + m * wp, x + n * xp, c->k);

						bad += bits(d[n * dp + m]) != bits(want);
						badf += bits(df[n * dp + m]) != bits(want);
						badmv += bits(mv[m]) != bits(want);
					}
					/* Nothing written between rows. */
					for (m = c->rows; m < dp; m++) {
						bad += d[n * dp + m] != -1.0f;
						badf += df[n * dp + m] != -1.0f;
					}
				}
				EXPECT_EQ(0, bad) {
					TH_LOG("%s mm_bf16 %zux%zu pitch +%zu nx %zu: %zu wrong",
					       variants[v], c->rows, c->k, c->wextra, nx, bad);
				}
				EXPECT_EQ(0, badf) {
					TH_LOG("%s mm_f32 %zux%zu pitch +%zu nx %zu: %zu wrong",
					       variants[v], c->rows, c->k, c->wextra, nx, badf);
				}
				EXPECT_EQ(0, badmv) {
					TH_LOG("%s mv_bf16 %zux%zu: %zu wrong", variants[v],
					       c->rows, c->k, badmv);
				}
				free(w);
				free(wf);
				free(x);
				free(d);
				free(df);
				free(mv);
			}
		}
	}
	EXPECT_LT(0, ran);
}

/* ---- Q4 ------------------------------------------------------------- */

/* IEEE half to float, exactly (GGUF Q4_0's d). */
static float f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
	float f;

	if (e == 31) {
		u = sign | 0x7f800000u | m << 13;
	} else if (e) {
		u = sign | (e + 112) << 23 | m << 13;
	} else {
		/* Zero or subnormal: m * 2^-24, exact in f32. */
		f = ldexpf((float)m, -24);
		return sign ? -f : f;
	}
	memcpy(&f, &u, 4);
	return f;
}

/* A GGUF Q4_0 block: f16 d, then 16 bytes (weight j < 16 in the low nibble of byte j, j + 16 in the high one). */
struct q4_0_block {
	uint16_t d;
	uint8_t qs[16];
};

/*
 * Q4_0 rows to the chip's Q4: the 16 bytes as they are and d as an f32
 * scale. The plain meaning of Q4_0 is what the reference below uses.
 */
static void q4_0_repack(uint8_t *w, size_t pitch, float *ws, const struct q4_0_block *blk,
			size_t rows, size_t k)
{
	size_t r, g, ng = k / 32;

	for (r = 0; r < rows; r++)
		for (g = 0; g < ng; g++) {
			memcpy(w + r * pitch + g * 16, blk[r * ng + g].qs, 16);
			ws[r * ng + g] = f16_to_f32(blk[r * ng + g].d);
		}
}

/* Q4_0 weight j of a block, as GGUF defines it. */
static int q4_0_weight(const struct q4_0_block *b, size_t j)
{
	return j < 16 ? (b->qs[j] & 15) - 8 : (b->qs[j - 16] >> 4) - 8;
}

/* The ISA's Q4 MATVEC of one row from its Q4_0 blocks. */
static float ref_q4(const struct q4_0_block *blk, const int8_t *q, const float *xs, size_t k)
{
	float l[8] = { 0 };
	size_t g, i;

	for (g = 0; g < k / 32; g++) {
		int32_t sum = 0;

		for (i = 0; i < 32; i++)
			sum += q4_0_weight(&blk[g], i) * q[g * 32 + i];
		l[g % 8] += ((float)sum * f16_to_f32(blk[g].d)) * xs[g];
	}
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

struct q4_case {
	size_t rows, k, pitch_extra;
};

static const struct q4_case q4_cases[] = {
	{ 16, 64, 0 }, { 1, 32, 0 }, { 17, 96, 3 }, { 40, 256, 0 }, { 5, 32, 1 },
	{ 33, 160, 0 }, { 15, 768, 16 }, { 48, 2048, 0 }, { 7, 224, 0 },
};

TEST(q4_matmul_matches_the_q4_0_reference_in_every_variant)
{
	unsigned int v, ran = 0;
	size_t ci, bi, n, m, i;

	for (v = 0; v < ARRAY_SIZE(variants); v++) {
		const struct jal_kernels *kern = jal_kernels_select(variants[v]);

		if (!kern)
			continue;
		ran++;
		for (ci = 0; ci < ARRAY_SIZE(q4_cases); ci++) {
			const struct q4_case *c = &q4_cases[ci];
			size_t ng = c->k / 32, pitch = c->k / 2 + c->pitch_extra;

			for (bi = 0; bi < ARRAY_SIZE(q8x_batches); bi++) {
				size_t nx = q8x_batches[bi], dp = c->rows + 2, bad = 0, badmv = 0;
				size_t bad8 = 0;
				struct q4_0_block *blk = malloc(c->rows * ng * sizeof(*blk));
				int8_t *w8 = malloc(c->rows * c->k);
				float *d8 = malloc(nx * dp * 4);
				uint8_t *w = malloc(c->rows * pitch + 64);
				float *ws = malloc(c->rows * ng * 4);
				float *d = malloc(nx * dp * 4), *mv = malloc(dp * 4);
				struct q8x_case qc = { c->rows, c->k, 32, 0 };
				struct q8x_data t;

				/* X as Q8X quantizes it (q, xs, bias), from the Q8X helper. */
				q8x_make(&t, &qc, nx);
				for (i = 0; i < c->rows * ng; i++) {
					size_t j;

					/* Finite d of every size, subnormal and zero ones included. */
					blk[i].d = (uint16_t)(i % 29 == 3 ? 0x0001 : i % 31 == 7 ? 0 :
							      (knext() & 0xfbff));
					for (j = 0; j < 16; j++)
						blk[i].qs[j] = i % 5 == 1 ? (j & 1 ? 0xff : 0x00) :
							       (uint8_t)knext();
				}
				memset(w, 0xa5, c->rows * pitch + 64);
				q4_0_repack(w, pitch, ws, blk, c->rows, c->k);
				for (n = 0; n < nx * dp; n++)
					d[n] = -1.0f;
				kern->mm_q4(d, dp, w, pitch, ws, t.q, t.xs, t.bias, c->rows, nx,
					    c->k);
				/* The same integers as Q8 weights give the same bits under Q8X. */
				for (m = 0; m < c->rows; m++)
					for (i = 0; i < c->k; i++)
						w8[m * c->k + i] = (int8_t)q4_0_weight(&blk[m * ng + i / 32],
										       i % 32);
				kern->mm_q8x(d8, dp, w8, c->k, ws, 32, t.q, t.xs, t.bias, c->rows,
					     nx, c->k);
				for (n = 0; n < nx; n++) {
					kern->mm_q4(mv, 0, w, pitch, ws, t.q + n * c->k, t.xs + n * ng,
						    t.bias + n * ng, c->rows, 1, c->k);
					for (m = 0; m < c->rows; m++) {
						float want = ref_q4(blk + m * ng, t.q + n * c->k,
								    t.xs + n * ng, c->k);

						bad += bits(d[n * dp + m]) != bits(want);
						badmv += bits(mv[m]) != bits(want);
						bad8 += bits(d8[n * dp + m]) != bits(want);
					}
					for (m = c->rows; m < dp; m++)
						bad += d[n * dp + m] != -1.0f;
				}
				EXPECT_EQ(0, bad8) {
					TH_LOG("%s Q4 as Q8X %zux%zu nx %zu: %zu differ", variants[v],
					       c->rows, c->k, nx, bad8);
				}
				EXPECT_EQ(0, bad) {
					TH_LOG("%s mm_q4 %zux%zu pitch +%zu nx %zu: %zu wrong",
					       variants[v], c->rows, c->k, c->pitch_extra, nx, bad);
				}
				EXPECT_EQ(0, badmv) {
					TH_LOG("%s mm_q4 (one row) %zux%zu: %zu wrong", variants[v],
					       c->rows, c->k, badmv);
				}
				q8x_free(&t);
				free(blk);
				free(w8);
				free(d8);
				free(w);
				free(ws);
				free(d);
				free(mv);
			}
		}
	}
	EXPECT_LT(0, ran);
}

TEST_HARNESS_MAIN
