// SPDX-License-Identifier: MIT
/*
 * Weight conversions of libjalrt's graph API: bfloat16 rounding against
 * known bit patterns, int8 quantisation (runq.c's scheme) against its
 * error bound, 2:4 sparsification against a brute-force choice of the two
 * largest magnitudes, and the way back to f32.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "jalrt_graph.h"

static float from_bits(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

static float rndf(uint32_t *s)
{
	return (float)((lcg(s) >> 8) / 8388608.0 - 1.0);
}

TEST(bf16_rounds_to_nearest_even)
{
	EXPECT_EQ(0x3f80, jalrt_f32_to_bf16(1.0f));
	EXPECT_EQ(0xbf80, jalrt_f32_to_bf16(-1.0f));
	EXPECT_EQ(0x0000, jalrt_f32_to_bf16(0.0f));
	EXPECT_EQ(0x8000, jalrt_f32_to_bf16(-0.0f));
	/* halfway between 0x3f80 and 0x3f81: to even (down) */
	EXPECT_EQ(0x3f80, jalrt_f32_to_bf16(from_bits(0x3f808000)));
	/* halfway between 0x3f81 and 0x3f82: to even (up) */
	EXPECT_EQ(0x3f82, jalrt_f32_to_bf16(from_bits(0x3f818000)));
	/* just above halfway: up */
	EXPECT_EQ(0x3f81, jalrt_f32_to_bf16(from_bits(0x3f808001)));
	/* just below: down */
	EXPECT_EQ(0x3f80, jalrt_f32_to_bf16(from_bits(0x3f807fff)));
	/* infinities stay, the largest float rounds up to infinity */
	EXPECT_EQ(0x7f80, jalrt_f32_to_bf16(INFINITY));
	EXPECT_EQ(0xff80, jalrt_f32_to_bf16(-INFINITY));
	EXPECT_EQ(0x7f80, jalrt_f32_to_bf16(from_bits(0x7f7fffff)));
	/* NaN stays NaN (quiet), also a NaN whose payload is in the low bits */
	EXPECT_TRUE(isnan(jalrt_bf16_to_f32(jalrt_f32_to_bf16(NAN))));
	EXPECT_TRUE(isnan(jalrt_bf16_to_f32(jalrt_f32_to_bf16(from_bits(0x7f800001)))));
	/* subnormals round like everything else */
	EXPECT_EQ(0x0001, jalrt_f32_to_bf16(from_bits(0x00010000)));
	EXPECT_EQ(1.0f, jalrt_bf16_to_f32(0x3f80));
	EXPECT_EQ(from_bits(0x40490000), jalrt_bf16_to_f32(0x4049));
}

TEST(bf16_relative_error_is_at_most_2_pow_minus_8)
{
	uint32_t s = 7;
	uint16_t h[1000];
	float x[1000];

	for (int i = 0; i < 1000; i++)
		x[i] = rndf(&s) * powf(2.0f, (float)(i % 40 - 20));
	ASSERT_EQ(0, jalrt_convert_bf16(h, x, 1000));
	for (int i = 0; i < 1000; i++) {
		float y = jalrt_bf16_to_f32(h[i]);

		/* 8 significant bits: half an ulp is at most 2^-8 of the value */
		EXPECT_LE(fabsf(y - x[i]), fabsf(x[i]) * (1.0f / 256)) TH_LOG("x=%g y=%g", x[i], y);
		/* the result is the bf16 value nearest x: its neighbours are further */
		EXPECT_LE(fabsf(y - x[i]), fabsf(jalrt_bf16_to_f32(h[i] + 1) - x[i]));
		EXPECT_LE(fabsf(y - x[i]), fabsf(jalrt_bf16_to_f32(h[i] - 1) - x[i]));
	}
}

TEST(q8_group_for_picks_a_power_of_two_divisor)
{
	EXPECT_EQ(32, jalrt_q8_group_for(288, 64));
	EXPECT_EQ(64, jalrt_q8_group_for(768, 64));
	EXPECT_EQ(32, jalrt_q8_group_for(96, 32));
	EXPECT_EQ(32, jalrt_q8_group_for(96, 48));
	EXPECT_EQ(4, jalrt_q8_group_for(172, 64));
	EXPECT_EQ(1, jalrt_q8_group_for(301, 64));
	EXPECT_EQ(1, jalrt_q8_group_for(64, 0));
}

TEST(q8_matches_runq_and_its_error_bound)
{
	enum { R = 5, C = 96, G = 32 };
	float x[R * C], back[R * C], scales[R * C / G];
	int8_t q[R * C];
	uint32_t s = 3;

	for (int i = 0; i < R * C; i++)
		x[i] = rndf(&s) * (1 + i % 7);
	/* an all-zero group and one with a single non-zero value */
	memset(x + G, 0, G * sizeof(float));
	memset(x + 2 * G, 0, G * sizeof(float));
	x[2 * G + 5] = -3.0f;
	ASSERT_EQ(0, jalrt_quantize_q8(q, scales, x, R, C, G));
	for (int g = 0; g < R * C / G; g++) {
		float wmax = 0;

		for (int i = 0; i < G; i++)
			wmax = fmaxf(wmax, fabsf(x[g * G + i]));
		EXPECT_EQ(wmax / 127.0f, scales[g]);
		for (int i = 0; i < G; i++) {
			int k = g * G + i;

			EXPECT_LE(abs(q[k]), 127);
			/* round(x / scale): within half a step */
			if (scales[g] > 0) {
				EXPECT_LE(fabsf(q[k] * scales[g] - x[k]), scales[g] * 0.5f * 1.0001f);
			} else {
				EXPECT_EQ(0, q[k]);
			}
		}
	}
	EXPECT_EQ(0.0f, scales[1]);
	EXPECT_EQ(-127, q[2 * G + 5]);
	EXPECT_EQ(0, jalrt_dequantize(JALRT_DTYPE_Q8, back, q, scales, R, C, G));
	for (int i = 0; i < R * C; i++)
		EXPECT_EQ(q[i] * scales[i / G], back[i]);
	EXPECT_EQ(-EINVAL, jalrt_quantize_q8(q, scales, x, R, C, 40));
	EXPECT_EQ(-EINVAL, jalrt_quantize_q8(q, scales, x, R, C, 0));
}

TEST(s24_keeps_the_two_largest_magnitudes)
{
	enum { R = 3, C = 20 };
	float x[R * C], back[R * C];
	uint16_t v[R * C / 2];
	uint8_t idx[R * C / 4];
	uint32_t s = 11;

	for (int i = 0; i < R * C; i++)
		x[i] = rndf(&s);
	/* ties: equal magnitudes keep the lower columns */
	x[0] = 0.5f;
	x[1] = -0.5f;
	x[2] = 0.5f;
	x[3] = 0.25f;
	/* all zero */
	x[4] = x[5] = x[6] = x[7] = 0.0f;
	ASSERT_EQ(0, jalrt_sparsify_s24(v, idx, x, R, C));
	for (int g = 0; g < R * C / 4; g++) {
		const float *p = x + g * 4;
		int lo = idx[g] & 3, hi = (idx[g] >> 2) & 3;
		int best = 0, second;

		EXPECT_EQ(0, idx[g] >> 4);
		EXPECT_LT(lo, hi);
		/* brute force: the first largest, then the first largest of the rest */
		for (int i = 1; i < 4; i++)
			if (fabsf(p[i]) > fabsf(p[best]))
				best = i;
		second = best == 0 ? 1 : 0;
		for (int i = 0; i < 4; i++)
			if (i != best && fabsf(p[i]) > fabsf(p[second]))
				second = i;
		EXPECT_EQ(best < second ? best : second, lo) TH_LOG("group %d", g);
		EXPECT_EQ(best < second ? second : best, hi) TH_LOG("group %d", g);
		EXPECT_EQ(jalrt_f32_to_bf16(p[lo]), v[g * 2]);
		EXPECT_EQ(jalrt_f32_to_bf16(p[hi]), v[g * 2 + 1]);
	}
	EXPECT_EQ(0 | 1 << 2, idx[0]);
	EXPECT_EQ(0 | 1 << 2, idx[1]);
	ASSERT_EQ(0, jalrt_dequantize(JALRT_DTYPE_S24, back, v, idx, R, C, 0));
	for (int g = 0; g < R * C / 4; g++) {
		int kept = 0;

		for (int i = 0; i < 4; i++) {
			int k = g * 4 + i;

			if (i == (idx[g] & 3) || i == ((idx[g] >> 2) & 3)) {
				EXPECT_EQ(jalrt_bf16_to_f32(jalrt_f32_to_bf16(x[k])), back[k]);
				kept++;
			} else {
				EXPECT_EQ(0.0f, back[k]);
			}
		}
		EXPECT_EQ(2, kept);
	}
	EXPECT_EQ(-EINVAL, jalrt_sparsify_s24(v, idx, x, 1, 18));
}

TEST(dequantize_rejects_what_is_not_a_weight)
{
	float out[4];
	uint32_t in[4] = { 0 };

	EXPECT_EQ(-EINVAL, jalrt_dequantize(JALRT_DTYPE_U32, out, in, NULL, 1, 4, 0));
	EXPECT_EQ(-EINVAL, jalrt_dequantize(JALRT_DTYPE_Q8, out, in, NULL, 1, 4, 4));
	EXPECT_EQ(-EINVAL, jalrt_dequantize(JALRT_DTYPE_S24, out, in, in, 1, 3, 0));
	EXPECT_EQ(0, jalrt_dequantize(JALRT_DTYPE_BF16, out, in, NULL, 1, 4, 0));
	EXPECT_STREQ("q8", jalrt_dtype_str(JALRT_DTYPE_Q8));
}

TEST_HARNESS_MAIN
