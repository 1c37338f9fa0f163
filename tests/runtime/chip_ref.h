/* SPDX-License-Identifier: MIT */
/*
 * Host references of the chip's ISA 1.1 instructions, written from the
 * semantics in jalapeno_hw.h and Documentation/hw/isa.rst (not from the
 * device model's code): dot products in the documented order (8 lanes by
 * column, combined as a tree, weights decoded to f32 first: S24 rows
 * densified), and run.c's formulas for the LLM building blocks.
 */
#ifndef CHIP_REF_H
#define CHIP_REF_H

#include <stddef.h>
#include <stdint.h>

/* sum_k a[k * sa] * b[k] in the chip's order. */
float chip_dot(const float *a, const float *b, size_t n);

/*
 * d[m] = W[m] . x for a weight matrix in the chip's @dtype layout (as
 * jalrt_graph.h's converters produce it): @data the values, @aux the Q8
 * scales or S24 index bytes, packed rows.
 */
void ref_matvec(unsigned int dtype, float *d, const void *data, const void *aux, size_t rows,
		size_t cols, size_t group, const float *x);
/* one row of W as f32 (Q8: q * scale rounded; S24 densified) */
void ref_weight_row(unsigned int dtype, float *row, const void *data, const void *aux,
		    size_t r, size_t cols, size_t group);

/*
 * MATVEC with Q8 weights and JAL_INSN_F_Q8X: x quantised per weight group
 * (s = max |x| / 127; q = roundf(x / s), 0 for s = 0 or a NaN, clamped to
 * +-127), per row and group the exact integer dot product i, then
 * ((float)i * weight scale) * s into lane g % 8, the lanes as a tree.
 */
void ref_matvec_q8x(float *d, const int8_t *w, const float *scales, size_t rows, size_t cols,
		    size_t group, const float *x);

void ref_rmsnorm(float *d, const float *a, const float *w, size_t n, float eps);
void ref_softmax(float *d, const float *a, size_t n);
void ref_rope(float *d, const float *a, size_t n, size_t head_size, uint32_t pos, float theta);
void ref_silu_mul(float *d, const float *a, const float *b, size_t n);
/* k/v: position t at k + t * kpitch; heads/kv heads of head_size */
void ref_attention(float *out, const float *q, const float *k, const float *v, size_t heads,
		   size_t head_size, size_t kv_heads, size_t positions, size_t kpitch,
		   size_t vpitch);
uint32_t ref_argmax(const float *a, size_t n);
/* run.c's sample() on a copy of the logits; advances *state as run.c */
uint32_t ref_sample(const float *logits, size_t n, float temperature, float topp,
		    uint64_t *state);

#endif /* CHIP_REF_H */
