/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: the arithmetic of compute instructions.
 *
 * The kernels work on host pointers (device memory used in place, or the
 * bounce buffers operands in host memory were read into) and implement
 * the ISA's summation order exactly, so every variant gives the same bits:
 *
 * - A dot product over k columns accumulates f32 products (rounded, no
 *   fused multiply-add) in eight lanes, column c going to lane c % 8 in
 *   increasing c, lanes starting at +0.0, and adds the lanes as
 *   ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Padding a partial
 *   last block of eight with zeros in both operands changes nothing: a
 *   lane that starts at +0.0 can never become -0.0, and adding +0.0 to
 *   anything else is exact.
 * - Weights are decoded to f32 first: BF16 exactly; a Q8 weight is the
 *   f32 product q * scale, rounded; an S24 row is the dense row its
 *   index bytes describe (the two stored values at their columns, +0.0
 *   in the other two of every group of four).
 * - Q8X sums exact integer dot products per group and accumulates the
 *   groups' ((float)sum * weight scale) * x scale like columns: group g
 *   into lane g % 8. Q4 does the same with its 4-bit weights (groups of
 *   32, x quantized as Q8X quantizes it).
 *
 * The same source (jal_kern_impl.h) is compiled for the baseline ISA and,
 * on x86-64, for AVX2 and AVX-512; jal_kernels_select() picks the best the
 * CPU supports. The files build with FP contraction off (and the AVX2 one
 * without FMA), so products stay rounded and every variant gives the same
 * bits; tests/host/core checks that.
 */
#ifndef JAL_KERN_H
#define JAL_KERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * S24 index byte (first column in bits 1..0, second in bits 3..2) -> 0,
 * or JAL_S24_BAD for a byte with bits 7..4 set or first column >= second.
 */
#define JAL_S24_BAD		0x80u
extern const uint8_t jal_s24_lut[256];
/*
 * Decoding tables for valid index bytes, filled by jal_kernels_select():
 * for two groups whose bytes are b0 and b1, jal_s24_perm[b0 | b1 << 4]
 * gives for each of the 8 columns the lane of its value among the four
 * stored ones (0..3) or 4 for a zero; jal_s24_mask[b][0 or 1] has all
 * bits set in the columns of a group that hold its first (second) value.
 */
extern int32_t jal_s24_perm[256][8];
extern uint32_t jal_s24_mask[16][2][4];
/*
 * jal_s24_code[b] numbers the six valid index bytes b < 16 0..5, the
 * others JAL_S24_NOCODE. jal_s24_ctl16 + 64 * (c0 + 6 c1 + 36 c2 + 216 c3)
 * is the byte shuffle that turns the value words of four groups with
 * codes c0..c3 (the group's first value in the low half), repeated in
 * all four 128-bit lanes, into their sixteen columns as f32.
 */
#define JAL_S24_NOCODE		0x40u
extern uint8_t jal_s24_code[16];
extern uint8_t jal_s24_ctl16[1296 * 64];

struct jal_kernels {
	const char *name;

	/*
	 * out[m] = W[m] . x for m < rows, W[m] at w + m * pitch elements, k
	 * columns. Q8: scales of row m at scales + m * (k / group), group a
	 * multiple of 8 dividing k. S24: row m's k / 2 values at v + m *
	 * pitch, its k / 4 index bytes at idx + m * (k / 4); returns false if
	 * an index byte is invalid (out is then undefined).
	 */
	void (*mv_f32)(float *out, const float *w, size_t pitch,
		       const float *x, size_t rows, size_t k);
	void (*mv_bf16)(float *out, const uint16_t *w, size_t pitch,
			const float *x, size_t rows, size_t k);
	void (*mv_q8)(float *out, const int8_t *w, size_t pitch,
		      const float *scales, size_t group, const float *x,
		      size_t rows, size_t k);
	bool (*mv_s24)(float *out, const uint16_t *v, size_t pitch,
		       const uint8_t *idx, const float *x, size_t rows,
		       size_t k);
	/*
	 * Q8X (JAL_INSN_F_Q8X): out[m] for m < rows, W[m] int8 at w + m *
	 * pitch, its group scales at ws + m * (k / group); x quantized to q
	 * (k values) with scales xs per group, and bias[g] = 128 * the sum
	 * of group g's q (kernels may offset the weights by 128 to make them
	 * unsigned and subtract it). group is a multiple of 4.
	 */
	void (*mv_q8x)(float *out, const int8_t *w, size_t pitch,
		       const float *ws, size_t group, const int8_t *q,
		       const float *xs, const int32_t *bias, size_t rows,
		       size_t k);
	/*
	 * Q8X for nx rows of X: d[n * dpitch + m] is mv_q8x of W row m and
	 * X row n (its q at q + n * k, its scales and biases at xs, bias +
	 * n * (k / group)), bit for bit, whatever nx and rows.
	 */
	void (*mm_q8x)(float *d, size_t dpitch, const int8_t *w, size_t pitch,
		       const float *ws, size_t group, const int8_t *q,
		       const float *xs, const int32_t *bias, size_t rows,
		       size_t nx, size_t k);
	/*
	 * Q4 (JAL_DTYPE_Q4) for nx rows of X: d[n * dpitch + m] for W row m
	 * at w + m * pitch bytes (k / 2 bytes, group g's 16 at 16 g: byte j
	 * holds column j in its low nibble and j + 16 in its high one, each
	 * as w + 8), its scales at ws + m * (k / 32); q, xs and bias as for
	 * mm_q8x with groups of 32 (the kernels' offset is the nibbles' 8:
	 * bias / 16). The same bits for any nx and rows (MATVEC is nx = 1).
	 */
	void (*mm_q4)(float *d, size_t dpitch, const uint8_t *w, size_t pitch,
		      const float *ws, const int8_t *q, const float *xs,
		      const int32_t *bias, size_t rows, size_t nx, size_t k);
	/*
	 * x (k values, k a multiple of group) to Q8X's q, xs and bias as
	 * JAL_INSN_F_Q8X defines it (llama2.c's runq.c quantize()): per
	 * group, s = max |x| / 127 and q = roundf(x / s) clamped to +-127,
	 * 0 for a NaN or when s is 0.
	 */
	void (*q8x_quantize)(int8_t *q, float *xs, int32_t *bias,
			     const float *x, size_t k, size_t group);
	/* d[n * dpitch + m] = W[m] . X[n] for m < rows, n < nx. */
	void (*mm_f32)(float *d, size_t dpitch, const float *w, size_t wpitch,
		       const float *x, size_t xpitch, size_t rows, size_t nx,
		       size_t k);
	/*
	 * The same with BF16 weights (pitch in elements), widened in
	 * registers: each row of d has mv_bf16's bits.
	 */
	void (*mm_bf16)(float *d, size_t dpitch, const uint16_t *w,
			size_t wpitch, const float *x, size_t xpitch,
			size_t rows, size_t nx, size_t k);

	/*
	 * Weight rows to f32: Q8 with any group size, from column 0; S24 of
	 * n columns (a multiple of 4), false for an invalid index byte.
	 */
	void (*dec_bf16)(float *dst, const uint16_t *src, size_t n);
	void (*dec_q8)(float *dst, const int8_t *src, const float *scales,
		       size_t group, size_t n);
	bool (*dec_s24)(float *dst, const uint16_t *v, const uint8_t *idx,
			size_t n);

	/*
	 * lanes[0..8) += the lanes of a . b over n elements (n a multiple of
	 * 8 unless it is the last piece of the dot product).
	 */
	void (*dot_lanes)(float *lanes, const float *a, const float *b,
			  size_t n);
	/* acc[i] += sum over t < count, in order, of p[t] * v[t * pitch + i]. */
	void (*pv)(float *acc, const float *p, const float *v, size_t pitch,
		   size_t count, size_t n);
	/* d[i] = b[i] * (s * a[i]) (RMSNORM's last step). */
	void (*scale_mul)(float *d, const float *a, const float *b, float s,
			  size_t n);
	/* d[i] = a[i] / s. */
	void (*div)(float *d, const float *a, float s, size_t n);
	/*
	 * The largest of m and a[0..n) under "a[i] > current" (NaNs never
	 * win; the value, not which of equal values, is what counts).
	 */
	float (*max)(const float *a, size_t n, float m);
};

/* The variants (jal_kern_*.c); jal_kernels_select() picks one. */
extern const struct jal_kernels jal_kernels_generic;
/* GCC's target pragmas build them; other compilers get the generic one. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
extern const struct jal_kernels jal_kernels_avx2;
extern const struct jal_kernels jal_kernels_avx512;
#endif

/*
 * The kernels named @name ("" or NULL: the best the CPU supports), or
 * NULL if there is no such variant for this CPU.
 */
const struct jal_kernels *jal_kernels_select(const char *name);

#endif /* JAL_KERN_H */
