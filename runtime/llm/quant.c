// SPDX-License-Identifier: MIT
/*
 * int8 quantisation and the rules of int8 precision; see quant.h.
 *
 * Built with -ffp-contract=off like the rest of runtime/llm (there is
 * nothing to contract here: one division per scale, one per value).
 */
#include <math.h>

#include "quant.h"

#define Q8_MAX	127.0f

void llm_quantize_q8(int8_t *q, float *scales, const float *src, size_t n, size_t group)
{
	size_t g, i;

	for (g = 0; g < n; g++) {
		const float *x = src + g * group;
		float amax = 0.0f, scale;

		/* a > amax is false for a NaN: it never becomes the maximum */
		for (i = 0; i < group; i++) {
			float a = fabsf(x[i]);

			if (a > amax)
				amax = a;
		}
		scale = amax / Q8_MAX;
		scales[g] = scale;
		for (i = 0; i < group; i++) {
			/* An all-zero group has scale 0: its values are 0. */
			float v = scale != 0.0f ? roundf(x[i] / scale) : 0.0f;

			/*
			 * |x| <= amax bounds |v| by 127 up to the rounding of the
			 * division; a NaN (x NaN, or inf / inf) would make the
			 * conversion undefined and means nothing: 0.
			 */
			if (v != v)
				v = 0.0f;
			if (v > Q8_MAX)
				v = Q8_MAX;
			if (v < -Q8_MAX)
				v = -Q8_MAX;
			q[g * group + i] = (int8_t)v;
		}
	}
}

uint32_t llm_q8_group_for(uint32_t cols, uint32_t preferred)
{
	/* 64-bit: doubling past 2^31 must not wrap to a division by 0 */
	uint64_t g = 1;

	while (g * 2 <= preferred && cols % (g * 2) == 0)
		g *= 2;
	return (uint32_t)g;
}

uint32_t llm_int8_group(uint32_t cols, uint32_t q8_group)
{
	return llm_q8_group_for(cols, q8_group ? q8_group : LLM_Q8_GROUP_DEFAULT);
}

bool llm_int8_quantizes_x(uint32_t cols, uint32_t group)
{
	return group && group % 4 == 0 && group <= LLM_Q8X_MAX_GROUP &&
	       cols <= LLM_Q8X_MAX_COLS && cols % group == 0;
}

#define Q4_MIN	-8.0f
#define Q4_MAX	7.0f

void llm_quantize_q4(int8_t *w, float *scales, const float *src, size_t n)
{
	size_t g, i;

	for (g = 0; g < n; g++) {
		const float *x = src + g * LLM_Q4_GROUP;
		float amax = 0.0f, m = 0.0f, scale;

		for (i = 0; i < LLM_Q4_GROUP; i++) {
			float a = fabsf(x[i]);

			if (a > amax) {
				amax = a;
				m = x[i];
			}
		}
		/* m maps to -8 exactly: the negative end has the extra step */
		scale = m / Q4_MIN;
		scales[g] = scale;
		for (i = 0; i < LLM_Q4_GROUP; i++) {
			float v = scale != 0.0f ? roundf(x[i] / scale) : 0.0f;

			/* a NaN quotient means nothing (and would convert undefined) */
			if (v != v)
				v = 0.0f;
			if (v > Q4_MAX)
				v = Q4_MAX;
			if (v < Q4_MIN)
				v = Q4_MIN;
			w[g * LLM_Q4_GROUP + i] = (int8_t)v;
		}
	}
}

void llm_q4_pack(uint8_t *dst, const int8_t *w, size_t n)
{
	size_t g, j;

	for (g = 0; g < n; g++, dst += 16, w += LLM_Q4_GROUP)
		for (j = 0; j < 16; j++)
			dst[j] = (uint8_t)((w[j] + 8) | (w[j + 16] + 8) << 4);
}

void llm_q4_unpack(int8_t *w, const uint8_t *src, size_t n)
{
	size_t g, j;

	for (g = 0; g < n; g++, src += 16, w += LLM_Q4_GROUP) {
		for (j = 0; j < 16; j++) {
			w[j] = (int8_t)((src[j] & 15) - 8);
			w[j + 16] = (int8_t)((src[j] >> 4) - 8);
		}
	}
}

bool llm_int4_uses_q4(uint32_t cols)
{
	return cols && cols % LLM_Q4_GROUP == 0 && cols <= LLM_Q8X_MAX_COLS;
}
