// SPDX-License-Identifier: MIT
/*
 * Weight formats of the chip: bfloat16, int8 with per-group scales (Q8)
 * and 2:4 structured sparsity (S24), plus the way back to f32 for host
 * references.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "jalrt_internal.h"
#include "jalrt_graph.h"

#include "quant.h"

JALRT_API const char *jalrt_dtype_str(enum jalrt_dtype dtype)
{
	switch (dtype) {
	case JALRT_DTYPE_F32: return "f32";
	case JALRT_DTYPE_BF16: return "bf16";
	case JALRT_DTYPE_Q8: return "q8";
	case JALRT_DTYPE_S24: return "s24";
	case JALRT_DTYPE_Q4: return "q4";
	case JALRT_DTYPE_U32: return "u32";
	case JALRT_DTYPE_U64: return "u64";
	default: return "?";
	}
}

JALRT_API uint16_t jalrt_f32_to_bf16(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x40);	/* quiet NaN, sign kept */
	/* Round to nearest, ties to even: add 0x7fff plus the kept LSB. */
	u += 0x7fffu + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

JALRT_API float jalrt_bf16_to_f32(uint16_t h)
{
	uint32_t u = (uint32_t)h << 16;
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

JALRT_API int jalrt_convert_bf16(uint16_t *dst, const float *src, size_t n)
{
	size_t i;

	if (n && (!dst || !src))
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, dst ? "source" : "destination");
	for (i = 0; i < n; i++)
		dst[i] = jalrt_f32_to_bf16(src[i]);
	return 0;
}

JALRT_API uint32_t jalrt_q8_group_for(uint32_t cols, uint32_t preferred)
{
	return llm_q8_group_for(cols, preferred);
}

/* runtime/llm's quantizer: the CPU reference's int8 mode runs the same code. */
JALRT_API int jalrt_quantize_q8(int8_t *q, float *scales, const float *src, size_t rows,
				size_t cols, size_t group)
{
	if (!group || cols % group)
		return jalrt_set_error(-EINVAL,
				       "%s: %zu columns are not a multiple of the group size %zu",
				       __func__, cols, group);
	if (rows && cols && (!q || !scales || !src))
		return jalrt_set_error(-EINVAL, "%s: NULL array", __func__);
	llm_quantize_q8(q, scales, src, rows * cols / group, group);
	return 0;
}

/* quant.h's int4 rule: the CPU reference's int4 mode runs the same code. */
JALRT_API int jalrt_quantize_q4(uint8_t *packed, float *scales, const float *src, size_t rows,
				size_t cols)
{
	int8_t w[LLM_Q4_GROUP];
	size_t g, groups = rows * cols / LLM_Q4_GROUP;

	if (cols % LLM_Q4_GROUP)
		return jalrt_set_error(-EINVAL, "%s: %zu columns are not a multiple of 32",
				       __func__, cols);
	if (rows && cols && (!packed || !scales || !src))
		return jalrt_set_error(-EINVAL, "%s: NULL array", __func__);
	/* a group at a time: no scratch of the matrix's size */
	for (g = 0; g < groups; g++) {
		llm_quantize_q4(w, scales + g, src + g * LLM_Q4_GROUP, 1);
		llm_q4_pack(packed + g * (LLM_Q4_GROUP / 2), w, 1);
	}
	return 0;
}

JALRT_API int jalrt_sparsify_s24(uint16_t *values, uint8_t *index, const float *src,
				 size_t rows, size_t cols)
{
	size_t groups, g;

	if (cols % 4)
		return jalrt_set_error(-EINVAL, "%s: %zu columns are not a multiple of 4",
				       __func__, cols);
	if (rows && cols && (!values || !index || !src))
		return jalrt_set_error(-EINVAL, "%s: NULL array", __func__);
	groups = rows * cols / 4;
	for (g = 0; g < groups; g++) {
		const float *x = src + g * 4;
		unsigned int first = 0, second = 1, i, lo, hi;

		/* The two largest magnitudes; strict > keeps the lower column on ties. */
		if (fabsf(x[1]) > fabsf(x[0])) {
			first = 1;
			second = 0;
		}
		for (i = 2; i < 4; i++) {
			if (fabsf(x[i]) > fabsf(x[first])) {
				second = first;
				first = i;
			} else if (fabsf(x[i]) > fabsf(x[second])) {
				second = i;
			}
		}
		lo = first < second ? first : second;
		hi = first < second ? second : first;
		values[g * 2] = jalrt_f32_to_bf16(x[lo]);
		values[g * 2 + 1] = jalrt_f32_to_bf16(x[hi]);
		index[g] = (uint8_t)(lo | hi << 2);
	}
	return 0;
}

JALRT_API int jalrt_dequantize(enum jalrt_dtype dtype, float *dst, const void *data,
			       const void *aux, size_t rows, size_t cols, size_t group)
{
	size_t n = rows * cols, i;

	if (n && (!dst || !data))
		return jalrt_set_error(-EINVAL, "%s: NULL array", __func__);
	switch (dtype) {
	case JALRT_DTYPE_F32:
		if (n)
			memcpy(dst, data, n * sizeof(float));
		return 0;
	case JALRT_DTYPE_BF16:
		for (i = 0; i < n; i++)
			dst[i] = jalrt_bf16_to_f32(((const uint16_t *)data)[i]);
		return 0;
	case JALRT_DTYPE_Q8:
		if (!group || cols % group || (n && !aux))
			return jalrt_set_error(-EINVAL, "%s: bad Q8 group or NULL scales", __func__);
		for (i = 0; i < n; i++)
			dst[i] = ((const int8_t *)data)[i] * ((const float *)aux)[i / group];
		return 0;
	case JALRT_DTYPE_Q4:
		if (cols % LLM_Q4_GROUP || (n && !aux))
			return jalrt_set_error(-EINVAL, "%s: Q4 columns not a multiple of 32, or NULL scales",
					       __func__);
		for (i = 0; i < n; i += LLM_Q4_GROUP) {
			int8_t w[LLM_Q4_GROUP];
			size_t j;

			llm_q4_unpack(w, (const uint8_t *)data + i / 2, 1);
			for (j = 0; j < LLM_Q4_GROUP; j++)
				dst[i + j] = (float)w[j] * ((const float *)aux)[i / LLM_Q4_GROUP];
		}
		return 0;
	case JALRT_DTYPE_S24:
		if (cols % 4 || (n && !aux))
			return jalrt_set_error(-EINVAL, "%s: bad S24 shape or NULL index", __func__);
		for (i = 0; i < n / 4; i++) {
			uint8_t idx = ((const uint8_t *)aux)[i];
			const uint16_t *v = (const uint16_t *)data + i * 2;

			memset(dst + i * 4, 0, 4 * sizeof(float));
			dst[i * 4 + (idx & 3)] = jalrt_bf16_to_f32(v[0]);
			dst[i * 4 + ((idx >> 2) & 3)] = jalrt_bf16_to_f32(v[1]);
		}
		return 0;
	default:
		return jalrt_set_error(-EINVAL, "%s: %s is not a weight dtype", __func__,
				       jalrt_dtype_str(dtype));
	}
}
