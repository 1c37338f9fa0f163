/* SPDX-License-Identifier: MIT */
/*
 * int8 (Q8) quantisation, shared by libjalrt and the CPU reference:
 * llama2.c runq.c's symmetric per-group scheme, and the rules of
 * libjalrt's int8 precision (the group each matrix gets, and which
 * matrix-vector products quantise their input vector too).
 *
 * libjalrt's jalrt_quantize_q8() and jalrt_q8_group_for() are these
 * functions, jalrt_llm_load() applies these rules, and so does the
 * reference's int8 mode (reference.h): one copy of the code, so the chip's
 * int8 model and the reference's cannot drift apart.
 */
#ifndef JAL_LLM_QUANT_H
#define JAL_LLM_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* runq.c's group size; int8 precision's default (jalrt_llm_options.q8_group 0). */
#define LLM_Q8_GROUP_DEFAULT	64

/*
 * The chip's limits of a MATVEC with quantised input (JAL_Q8X_MAX_GROUP
 * and JAL_Q8X_MAX_COLS of jalapeno_hw.h: runtime/llm does not include the
 * device headers, llm.c checks at compile time that the values agree).
 */
#define LLM_Q8X_MAX_GROUP	65536u
#define LLM_Q8X_MAX_COLS	65536u

/**
 * llm_quantize_q8() - runq.c's quantize() of @n groups of @group values
 * @q: out: @n * @group int8 values.
 * @scales: out: @n scales.
 * @src: @n * @group floats.
 * @n: groups.
 * @group: values per group, > 0.
 *
 * Per group: amax = the largest |x| (a NaN never wins), scale = amax / 127
 * (f32 division), q = roundf(x / scale) (half away from zero) clamped to
 * +-127, and 0 where the scale is 0 (an all-zero group) or the quotient is
 * NaN. So q * scale is within half a step of x, and the largest magnitude
 * of a group is exact up to f32 rounding. Weights (at load time) and the
 * chip's quantised MATVEC inputs (JAL_INSN_F_Q8X) are quantised exactly
 * like this.
 */
void llm_quantize_q8(int8_t *q, float *scales, const float *src, size_t n, size_t group);

/**
 * llm_q8_group_for() - the largest power of two <= @preferred that divides
 *	@cols (1 at worst; 1 for @preferred 0)
 */
uint32_t llm_q8_group_for(uint32_t cols, uint32_t preferred);

/**
 * llm_int8_group() - the group int8 precision gives a matrix with rows of
 *	@cols: llm_q8_group_for(@cols, @q8_group), @q8_group 0 meaning
 *	LLM_Q8_GROUP_DEFAULT (64 for 768 columns, 32 for 288, 4 for 172)
 */
uint32_t llm_int8_group(uint32_t cols, uint32_t q8_group);

/**
 * llm_int8_quantizes_x() - whether int8 precision quantises the input of a
 *	matrix-vector product with Q8 weights of @cols columns in groups of
 *	@group
 *
 * The chip's MATVEC with JAL_INSN_F_Q8X takes groups that are a multiple
 * of 4, up to LLM_Q8X_MAX_GROUP, and rows up to LLM_Q8X_MAX_COLS; a matrix
 * outside that (a row length that is not a multiple of 4, or a preferred
 * group below 4) keeps the plain Q8 MATVEC: f32 input, weights decoded to
 * f32.
 */
bool llm_int8_quantizes_x(uint32_t cols, uint32_t group);

/*
 * int4 (Q4): the chip's JAL_DTYPE_Q4, GGUF Q4_0's layout. A group is
 * LLM_Q4_GROUP consecutive values of a row with one f32 scale; a value
 * is stored as a nibble n = w + 8 (w in -8..7), byte j of a group holding
 * value j in bits 3..0 and value j + 16 in bits 7..4.
 */
#define LLM_Q4_GROUP		32u

/**
 * llm_quantize_q4() - the int4 quantiser (GGUF Q4_0's rule, rounded)
 * @w: out: @n * 32 values in -8..7.
 * @scales: out: @n scales.
 * @src: @n * 32 floats.
 * @n: groups.
 *
 * Per group: m = the value of largest magnitude (the first such; a NaN
 * never wins), scale = m / -8 (f32 division: the sign puts m at -8, the
 * end with one more step), w = roundf(x / scale) (half away from zero)
 * clamped to -8..7, and 0 where the scale is 0 or the quotient is NaN.
 * Values of the other sign than m as large as |m| clamp to 7.
 */
void llm_quantize_q4(int8_t *w, float *scales, const float *src, size_t n);

/** llm_q4_pack() - @n groups of values in -8..7 to the Q4 nibble layout (16 bytes each) */
void llm_q4_pack(uint8_t *dst, const int8_t *w, size_t n);

/** llm_q4_unpack() - the inverse: @n groups of 16 bytes to values in -8..7 */
void llm_q4_unpack(int8_t *w, const uint8_t *src, size_t n);

/**
 * llm_int4_uses_q4() - whether int4 precision stores a matrix with rows of
 *	@cols as Q4: a multiple of 32 columns, at most LLM_Q8X_MAX_COLS (the
 *	chip's limits of a Q4 MATVEC); any other matrix is stored as int8
 *	precision stores it (llm_int8_group(), llm_int8_quantizes_x()).
 */
bool llm_int4_uses_q4(uint32_t cols);

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_QUANT_H */
