/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: compute kernels, compiled once per instruction-set
 * variant. Not a normal header: a jal_kern_*.c file defines
 *
 *   JAL_K(name)	the variant's name for a function (name##_avx2, ...)
 *   JAL_K_NAME		its name string
 *   JAL_K_WIDE		1: eight lanes are one 256-bit vector, 0: two of 128
 *   JAL_K_MR, JAL_K_NR	MATMUL register tile: W rows x X rows (NR 1..4)
 *
 * and includes this file once, after selecting the target ISA. See
 * jal_kern.h for what every kernel computes. The eight lanes of the
 * summation order are a struct of vectors (struct jal_l8) that GCC keeps
 * in registers; arrays of them it would keep in memory, so the register
 * tiles below are spelled out with macros.
 */
#include <math.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "jal_kern.h"

#define JAL_KERN_IMPL_H_INSIDE
#define JAL_AI static inline __attribute__((always_inline))
#define JAL_KMIN(a, b)	((a) < (b) ? (a) : (b))
#define JAL_KMAX(a, b)	((a) > (b) ? (a) : (b))

#if JAL_K_WIDE
typedef float jal_vf __attribute__((vector_size(32)));
typedef int32_t jal_vi __attribute__((vector_size(32)));
typedef uint32_t jal_vu __attribute__((vector_size(32)));
typedef uint16_t jal_vh __attribute__((vector_size(16)));
typedef int8_t jal_vb __attribute__((vector_size(8)));
typedef uint64_t jal_vq __attribute__((vector_size(32)));

struct jal_l8 {
	jal_vf v;
};

JAL_AI struct jal_l8 l_zero(void)
{
	struct jal_l8 r = { { 0 } };

	return r;
}

JAL_AI struct jal_l8 l_set1(float s)
{
	struct jal_l8 r = { { s, s, s, s, s, s, s, s } };

	return r;
}

JAL_AI struct jal_l8 l_ld(const float *p)
{
	struct jal_l8 r;

	memcpy(&r.v, p, sizeof(r.v));
	return r;
}

JAL_AI void l_st(float *p, struct jal_l8 a)
{
	memcpy(p, &a.v, sizeof(a.v));
}

/*
 * GCC lowers the widening conversions of small vectors poorly (byte by
 * byte), so the x86 variants say what they mean with intrinsics.
 */
JAL_AI struct jal_l8 l_ld_bf16(const uint16_t *p)
{
	struct jal_l8 r;
#if defined(__AVX2__)
	__m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));

	r.v = (jal_vf)_mm256_slli_epi32(u, 16);
#else
	jal_vh h;

	memcpy(&h, p, sizeof(h));
	r.v = (jal_vf)(__builtin_convertvector(h, jal_vu) << 16);
#endif
	return r;
}

JAL_AI struct jal_l8 l_ld_q8(const int8_t *p)
{
	struct jal_l8 r;
#if defined(__AVX2__)
	__m256i i = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));

	r.v = (jal_vf)_mm256_cvtepi32_ps(i);
#else
	jal_vb b;

	memcpy(&b, p, sizeof(b));
	r.v = __builtin_convertvector(__builtin_convertvector(b, jal_vi), jal_vf);
#endif
	return r;
}

/* Four column pairs (8 bytes each) as the eight lanes. */
JAL_AI struct jal_l8 l_ld_pairs(const float *p0, const float *p1,
				const float *p2, const float *p3)
{
	uint64_t a, b, c, d;
	jal_vq q;
	struct jal_l8 r;

	memcpy(&a, p0, 8);
	memcpy(&b, p1, 8);
	memcpy(&c, p2, 8);
	memcpy(&d, p3, 8);
	q = (jal_vq){ a, b, c, d };
	r.v = (jal_vf)q;
	return r;
}

JAL_AI struct jal_l8 l_add(struct jal_l8 a, struct jal_l8 b)
{
	a.v += b.v;
	return a;
}

JAL_AI struct jal_l8 l_mul(struct jal_l8 a, struct jal_l8 b)
{
	a.v *= b.v;
	return a;
}

JAL_AI struct jal_l8 l_div(struct jal_l8 a, struct jal_l8 b)
{
	a.v /= b.v;
	return a;
}

/* Lane-wise "b > a ? b : a" (a NaN in b never wins). */
JAL_AI struct jal_l8 l_gtsel(struct jal_l8 a, struct jal_l8 b)
{
	jal_vi gt = b.v > a.v;

	a.v = (jal_vf)(((jal_vi)b.v & gt) | ((jal_vi)a.v & ~gt));
	return a;
}

JAL_AI float l_lane(struct jal_l8 a, unsigned int i)
{
	return a.v[i];
}
#else
typedef float jal_vf __attribute__((vector_size(16)));
typedef int32_t jal_vi __attribute__((vector_size(16)));
typedef uint32_t jal_vu __attribute__((vector_size(16)));
typedef uint16_t jal_vh __attribute__((vector_size(8)));
typedef int8_t jal_vb __attribute__((vector_size(4)));
typedef uint64_t jal_vq __attribute__((vector_size(16)));

struct jal_l8 {
	jal_vf lo, hi;
};

JAL_AI struct jal_l8 l_zero(void)
{
	struct jal_l8 r = { { 0 }, { 0 } };

	return r;
}

JAL_AI struct jal_l8 l_set1(float s)
{
	struct jal_l8 r = { { s, s, s, s }, { s, s, s, s } };

	return r;
}

JAL_AI struct jal_l8 l_ld(const float *p)
{
	struct jal_l8 r;

	memcpy(&r.lo, p, sizeof(r.lo));
	memcpy(&r.hi, p + 4, sizeof(r.hi));
	return r;
}

JAL_AI void l_st(float *p, struct jal_l8 a)
{
	memcpy(p, &a.lo, sizeof(a.lo));
	memcpy(p + 4, &a.hi, sizeof(a.hi));
}

#if defined(__SSE2__)
/* A bf16 is the high half of an f32: interleave with zero halves. */
JAL_AI struct jal_l8 l_ld_bf16(const uint16_t *p)
{
	__m128i h = _mm_loadu_si128((const __m128i *)p), z = _mm_setzero_si128();
	struct jal_l8 r = {
		(jal_vf)_mm_unpacklo_epi16(z, h), (jal_vf)_mm_unpackhi_epi16(z, h),
	};

	return r;
}

/* Each byte to the top of a 32-bit lane, then an arithmetic shift down. */
JAL_AI struct jal_l8 l_ld_q8(const int8_t *p)
{
	__m128i b = _mm_loadl_epi64((const __m128i *)p);
	__m128i w = _mm_unpacklo_epi8(b, b);
	struct jal_l8 r = {
		(jal_vf)_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpacklo_epi16(w, w), 24)),
		(jal_vf)_mm_cvtepi32_ps(_mm_srai_epi32(_mm_unpackhi_epi16(w, w), 24)),
	};

	return r;
}
#else
JAL_AI jal_vf l_bf16_4(const uint16_t *p)
{
	jal_vh h;

	memcpy(&h, p, sizeof(h));
	return (jal_vf)(__builtin_convertvector(h, jal_vu) << 16);
}

JAL_AI struct jal_l8 l_ld_bf16(const uint16_t *p)
{
	struct jal_l8 r = { l_bf16_4(p), l_bf16_4(p + 4) };

	return r;
}

JAL_AI jal_vf l_q8_4(const int8_t *p)
{
	jal_vb b;

	memcpy(&b, p, sizeof(b));
	return __builtin_convertvector(__builtin_convertvector(b, jal_vi), jal_vf);
}

JAL_AI struct jal_l8 l_ld_q8(const int8_t *p)
{
	struct jal_l8 r = { l_q8_4(p), l_q8_4(p + 4) };

	return r;
}
#endif

JAL_AI struct jal_l8 l_ld_pairs(const float *p0, const float *p1,
				const float *p2, const float *p3)
{
	uint64_t a, b, c, d;
	jal_vq lo, hi;
	struct jal_l8 r;

	memcpy(&a, p0, 8);
	memcpy(&b, p1, 8);
	memcpy(&c, p2, 8);
	memcpy(&d, p3, 8);
	lo = (jal_vq){ a, b };
	hi = (jal_vq){ c, d };
	r.lo = (jal_vf)lo;
	r.hi = (jal_vf)hi;
	return r;
}

JAL_AI struct jal_l8 l_add(struct jal_l8 a, struct jal_l8 b)
{
	a.lo += b.lo;
	a.hi += b.hi;
	return a;
}

JAL_AI struct jal_l8 l_mul(struct jal_l8 a, struct jal_l8 b)
{
	a.lo *= b.lo;
	a.hi *= b.hi;
	return a;
}

JAL_AI struct jal_l8 l_div(struct jal_l8 a, struct jal_l8 b)
{
	a.lo /= b.lo;
	a.hi /= b.hi;
	return a;
}

JAL_AI jal_vf l_gtsel4(jal_vf a, jal_vf b)
{
	jal_vi gt = b > a;

	return (jal_vf)(((jal_vi)b & gt) | ((jal_vi)a & ~gt));
}

JAL_AI struct jal_l8 l_gtsel(struct jal_l8 a, struct jal_l8 b)
{
	a.lo = l_gtsel4(a.lo, b.lo);
	a.hi = l_gtsel4(a.hi, b.hi);
	return a;
}

JAL_AI float l_lane(struct jal_l8 a, unsigned int i)
{
	return i < 4 ? a.lo[i] : a.hi[i - 4];
}
#endif

/* acc + a * b with the product rounded first (no contraction: see above). */
JAL_AI struct jal_l8 l_mac(struct jal_l8 acc, struct jal_l8 a, struct jal_l8 b)
{
	return l_add(acc, l_mul(a, b));
}

JAL_AI float l_tree(struct jal_l8 a)
{
	return ((l_lane(a, 0) + l_lane(a, 1)) + (l_lane(a, 2) + l_lane(a, 3))) +
	       ((l_lane(a, 4) + l_lane(a, 5)) + (l_lane(a, 6) + l_lane(a, 7)));
}

/* The first n < 8 floats at p, zero-padded. */
JAL_AI struct jal_l8 l_ld_part(const float *p, size_t n)
{
	float t[8] = { 0 };

	memcpy(t, p, n * sizeof(float));
	return l_ld(t);
}

JAL_AI struct jal_l8 l_ld_bf16_part(const uint16_t *p, size_t n)
{
	uint16_t t[8] = { 0 };

	memcpy(t, p, n * sizeof(uint16_t));
	return l_ld_bf16(t);
}

/* Register tiles: RI* repeat over W rows i, RJ* over X rows j. */
#define JAL_RI1(F, a)	F(0, a)
#define JAL_RI2(F, a)	JAL_RI1(F, a) F(1, a)
#define JAL_RI4(F, a)	JAL_RI2(F, a) F(2, a) F(3, a)
#define JAL_RI8(F, a)	JAL_RI4(F, a) F(4, a) F(5, a) F(6, a) F(7, a)
#define JAL_RJ1(F, a)	F(a, 0)
#define JAL_RJ2(F, a)	JAL_RJ1(F, a) F(a, 1)
#define JAL_RJ3(F, a)	JAL_RJ2(F, a) F(a, 2)
#define JAL_RJ4(F, a)	JAL_RJ3(F, a) F(a, 3)

#define JAL_T_ZERO(i, j)	struct jal_l8 acc##i##_##j = l_zero();
#define JAL_T_ZROW(i, RJ)	RJ(JAL_T_ZERO, i)
#define JAL_T_LDW(i, k)		struct jal_l8 w##i = l_ld(w + (i) * wp + (k));
#define JAL_T_LDWT(i, k)	struct jal_l8 w##i = l_ld_part(w + (i) * wp + (k), kr);
#define JAL_T_LDX(k, j)		struct jal_l8 x##j = l_ld(x + (j) * xp + (k));
#define JAL_T_LDXT(k, j)	struct jal_l8 x##j = l_ld_part(x + (j) * xp + (k), kr);
#define JAL_T_MAC(i, j)		acc##i##_##j = l_mac(acc##i##_##j, w##i, x##j);
#define JAL_T_PF4(i, k)		__builtin_prefetch(w + ((i) + 4) * wp + (k));
#define JAL_T_PF8(i, k)		__builtin_prefetch(w + ((i) + 8) * wp + (k));
#define JAL_T_MROW(i, RJ)	RJ(JAL_T_MAC, i)
#define JAL_T_ST(i, j)		d[(j) * dp + (i)] = l_tree(acc##i##_##j);
#define JAL_T_SROW(i, RJ)	RJ(JAL_T_ST, i)

/* BF16 rows of W, widened as they are loaded. */
#define JAL_T_LDWB(i, k)	struct jal_l8 w##i = l_ld_bf16(w + (i) * wp + (k));
#define JAL_T_LDWBT(i, k)	struct jal_l8 w##i = l_ld_bf16_part(w + (i) * wp + (k), kr);

/*
 * d[j * dp + i] = w[i] . x[j] for a tile of RI rows of W (elements of
 * type WT, loaded by LDW, the last partial block by LDWT) and RJ rows of
 * X; k columns, the last partial block of eight zero-padded.
 */
#define JAL_TILE_W(name, RI, RJ, WT, LDW, LDWT)				\
JAL_AI void name(float *d, size_t dp, const WT *w, size_t wp,		\
		 const float *x, size_t xp, size_t k)			\
{									\
	size_t kk, kr = k & 7;						\
									\
	RI(JAL_T_ZROW, RJ)						\
	for (kk = 0; kk + 8 <= k; kk += 8) {				\
		RI(LDW, kk)						\
		RJ(JAL_T_LDX, kk)					\
		RI(JAL_T_MROW, RJ)					\
	}								\
	if (kr) {							\
		RI(LDWT, kk)						\
		RJ(JAL_T_LDXT, kk)					\
		RI(JAL_T_MROW, RJ)					\
	}								\
	RI(JAL_T_SROW, RJ)						\
}
#define JAL_TILE(name, RI, RJ)						\
	JAL_TILE_W(name, RI, RJ, float, JAL_T_LDW, JAL_T_LDWT)
#define JAL_TILE_BF16(name, RI, RJ)					\
	JAL_TILE_W(name, RI, RJ, uint16_t, JAL_T_LDWB, JAL_T_LDWBT)

#if JAL_K_NR == 4
#define JAL_RJN		JAL_RJ4
#elif JAL_K_NR == 3
#define JAL_RJN		JAL_RJ3
#elif JAL_K_NR == 2
#define JAL_RJN		JAL_RJ2
#else
#define JAL_RJN		JAL_RJ1
#endif
#if JAL_K_MR == 4
#define JAL_RIM		JAL_RI4
#elif JAL_K_MR == 2
#define JAL_RIM		JAL_RI2
#else
#define JAL_RIM		JAL_RI1
#endif

/*
 * The same for one X row, prefetching the rows of the next tile: a
 * matrix streamed from memory otherwise waits for every row's first lines.
 */
#define JAL_TILE_PF(name, RI, PF)					\
JAL_AI void name(float *d, const float *w, size_t wp, const float *x,	\
		 size_t k)						\
{									\
	size_t kk, kr = k & 7, dp = 0, xp = 0;				\
									\
	RI(JAL_T_ZROW, JAL_RJ1)						\
	for (kk = 0; kk + 8 <= k; kk += 8) {				\
		if (!(kk & 15)) {					\
			RI(PF, kk)					\
		}							\
		RI(JAL_T_LDW, kk)					\
		JAL_RJ1(JAL_T_LDX, kk)					\
		RI(JAL_T_MROW, JAL_RJ1)					\
	}								\
	if (kr) {							\
		RI(JAL_T_LDWT, kk)					\
		JAL_RJ1(JAL_T_LDXT, kk)					\
		RI(JAL_T_MROW, JAL_RJ1)					\
	}								\
	RI(JAL_T_SROW, JAL_RJ1)						\
	(void)dp;							\
	(void)xp;							\
}

JAL_TILE_PF(jal_tile_41pf, JAL_RI4, JAL_T_PF4)
#if JAL_K_WIDE
/* Eight rows: more lines in flight for short rows (32 registers or 16). */
JAL_TILE_PF(jal_tile_81pf, JAL_RI8, JAL_T_PF8)
#endif

#if defined(__AVX512F__) && JAL_K_MR == 4 && JAL_K_NR == 4
/*
 * AVX-512: the 4 x 4 tile with two W rows per 512-bit register (lanes
 * 0..7 and 8..15) against an X row broadcast to both halves. Each half is
 * still one dot product's eight lanes, so the bits are those of the
 * 256-bit tiles; the wide registers just do two at once.
 */
typedef float jal_v16 __attribute__((vector_size(64)));

/*
 * Vector extensions rather than intrinsics: the AVX-512 intrinsics with
 * an undefined pass-through trip GCC 12's -Wmaybe-uninitialized under
 * QEMU's -ftrivial-auto-var-init=zero.
 */
JAL_AI jal_v16 jal_z_rows(const float *a, const float *b)
{
	jal_vf lo, hi;

	memcpy(&lo, a, sizeof(lo));
	memcpy(&hi, b, sizeof(hi));
	return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
				       11, 12, 13, 14, 15);
}

/* Eight floats in both halves. */
JAL_AI jal_v16 jal_z_both(const float *p)
{
	jal_vf v;

	memcpy(&v, p, sizeof(v));
	return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3,
				       4, 5, 6, 7);
}

JAL_AI jal_v16 jal_z_mac(jal_v16 acc, jal_v16 w, jal_v16 x)
{
	return acc + w * x;
}

JAL_AI void jal_z_store(float *d, jal_v16 acc)
{
	struct jal_l8 lo, hi;

	lo.v = __builtin_shufflevector(acc, acc, 0, 1, 2, 3, 4, 5, 6, 7);
	hi.v = __builtin_shufflevector(acc, acc, 8, 9, 10, 11, 12, 13, 14, 15);
	d[0] = l_tree(lo);
	d[1] = l_tree(hi);
}

#define JAL_Z_STEP(p, q, x0, x1, x2, x3) do {				\
	jal_v16 xv_;							\
									\
	xv_ = jal_z_both(x0);		\
	a0 = jal_z_mac(a0, p, xv_);					\
	b0 = jal_z_mac(b0, q, xv_);					\
	xv_ = jal_z_both(x1);		\
	a1 = jal_z_mac(a1, p, xv_);					\
	b1 = jal_z_mac(b1, q, xv_);					\
	xv_ = jal_z_both(x2);		\
	a2 = jal_z_mac(a2, p, xv_);					\
	b2 = jal_z_mac(b2, q, xv_);					\
	xv_ = jal_z_both(x3);		\
	a3 = jal_z_mac(a3, p, xv_);					\
	b3 = jal_z_mac(b3, q, xv_);					\
} while (0)

JAL_AI void jal_tile_mn(float *d, size_t dp, const float *w, size_t wp,
			const float *x, size_t xp, size_t k)
{
	const float *w0 = w, *w1 = w + wp, *w2 = w + 2 * wp, *w3 = w + 3 * wp;
	const float *x0 = x, *x1 = x + xp, *x2 = x + 2 * xp, *x3 = x + 3 * xp;
	jal_v16 a0 = { 0 }, a1 = a0, a2 = a0, a3 = a0;
	jal_v16 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
	size_t kk, kr = k & 7;

	for (kk = 0; kk + 8 <= k; kk += 8) {
		/*
		 * The next four rows of W, a line of each every 16 columns:
		 * the first rows of X bring a block of W in from memory, and
		 * four rows read in turn streamed at 5 GB/s without.
		 */
		if (!(kk & 15)) {
			__builtin_prefetch(w0 + 4 * wp + kk);
			__builtin_prefetch(w1 + 4 * wp + kk);
			__builtin_prefetch(w2 + 4 * wp + kk);
			__builtin_prefetch(w3 + 4 * wp + kk);
		}
		JAL_Z_STEP(jal_z_rows(w0 + kk, w1 + kk), jal_z_rows(w2 + kk, w3 + kk),
			   x0 + kk, x1 + kk, x2 + kk, x3 + kk);
	}
	if (kr) {
		float t[8][8] = { { 0 } };
		unsigned int i;

		for (i = 0; i < 4; i++) {
			memcpy(t[i], w + i * wp + kk, kr * sizeof(float));
			memcpy(t[4 + i], x + i * xp + kk, kr * sizeof(float));
		}
		JAL_Z_STEP(jal_z_rows(t[0], t[1]), jal_z_rows(t[2], t[3]),
			   t[4], t[5], t[6], t[7]);
	}
	jal_z_store(d, a0);
	jal_z_store(d + 2, b0);
	jal_z_store(d + dp, a1);
	jal_z_store(d + dp + 2, b1);
	jal_z_store(d + 2 * dp, a2);
	jal_z_store(d + 2 * dp + 2, b2);
	jal_z_store(d + 3 * dp, a3);
	jal_z_store(d + 3 * dp + 2, b3);
}
#else
JAL_TILE(jal_tile_mn, JAL_RIM, JAL_RJN)
#endif
JAL_TILE(jal_tile_1n, JAL_RI1, JAL_RJN)
JAL_TILE(jal_tile_41, JAL_RI4, JAL_RJ1)
JAL_TILE(jal_tile_11, JAL_RI1, JAL_RJ1)
JAL_TILE_BF16(jal_tileb_mn, JAL_RIM, JAL_RJN)
JAL_TILE_BF16(jal_tileb_1n, JAL_RI1, JAL_RJN)
JAL_TILE_BF16(jal_tileb_41, JAL_RI4, JAL_RJ1)
JAL_TILE_BF16(jal_tileb_11, JAL_RI1, JAL_RJ1)

/* The wide MATVEC kernels (AVX-512 with VNNI; AVX2 for Q8X). */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
	defined(__AVX512VNNI__)
#define JAL_K_ZMV	1
#include "jal_kern_zmv.h"
#else
#define JAL_K_ZMV	0
#endif
#if !JAL_K_ZMV && defined(__AVX2__)
#define JAL_K_YMV	1
#include "jal_kern_ymv.h"
#else
#define JAL_K_YMV	0
#endif

static void JAL_K(mv_f32)(float *out, const float *w, size_t pitch,
			  const float *x, size_t rows, size_t k)
{
	size_t m = 0;

#if JAL_K_WIDE
	if (k <= 512)
		for (; m + 16 <= rows; m += 8)
			jal_tile_81pf(out + m, w + m * pitch, pitch, x, k);
#endif
#if JAL_K_ZMV
	if (!(k & 15))
		for (; m + 4 <= rows; m += 4)
			jal_zmv_f32_4(out + m, w + m * pitch, pitch, x, k);
#endif
	for (; m + 8 <= rows; m += 4)
		jal_tile_41pf(out + m, w + m * pitch, pitch, x, k);
	for (; m + 4 <= rows; m += 4)
		jal_tile_41(out + m, 0, w + m * pitch, pitch, x, 0, k);
	for (; m < rows; m++)
		jal_tile_11(out + m, 0, w + m * pitch, pitch, x, 0, k);
}

/* Rows of W kept hot in L2 while the X rows stream past them. */
#define JAL_MM_BLOCK_FLOATS	(48u << 10)

static void JAL_K(mm_f32)(float *d, size_t dp, const float *w, size_t wp,
			  const float *x, size_t xp, size_t rows, size_t nx,
			  size_t k)
{
	size_t block = JAL_KMAX(JAL_K_MR, JAL_MM_BLOCK_FLOATS / (k ? k : 1));
	size_t m0, m1, m, n;

	block -= block % JAL_K_MR;
	for (m0 = 0; m0 < rows; m0 = m1) {
		m1 = JAL_KMIN(rows, m0 + block);
		for (n = 0; n + JAL_K_NR <= nx; n += JAL_K_NR) {
			for (m = m0; m + JAL_K_MR <= m1; m += JAL_K_MR)
				jal_tile_mn(d + n * dp + m, dp, w + m * wp, wp,
					    x + n * xp, xp, k);
			for (; m < m1; m++)
				jal_tile_1n(d + n * dp + m, dp, w + m * wp, wp,
					    x + n * xp, xp, k);
		}
		for (; n < nx; n++) {
			for (m = m0; m + 4 <= m1; m += 4)
				jal_tile_41(d + n * dp + m, 0, w + m * wp, wp,
					    x + n * xp, 0, k);
			for (; m < m1; m++)
				jal_tile_11(d + n * dp + m, 0, w + m * wp, wp,
					    x + n * xp, 0, k);
		}
	}
}

/*
 * MATMUL BF16: mm_f32's blocking with the weights widened in registers
 * (with AVX-512, jal_kern_zmv.h's tiles), so that W is read as bf16 once
 * per block of X rows instead of decoded to an f32 panel per tile of X.
 * Every tile keeps the summation order, so row n of d is mv_bf16 of row
 * n of X bit for bit.
 */
#define JAL_MM_BF16_BLOCK_ELEMS	(96u << 10)

static void JAL_K(mm_bf16)(float *d, size_t dp, const uint16_t *w, size_t wp,
			   const float *x, size_t xp, size_t rows, size_t nx,
			   size_t k)
{
	size_t block = JAL_KMAX(4, JAL_MM_BF16_BLOCK_ELEMS / (k ? k : 1));
	size_t m0, m1, m, n;

	block -= block % 4;
	for (m0 = 0; m0 < rows; m0 = m1) {
		m1 = JAL_KMIN(rows, m0 + block);
		m = m0;
#if JAL_K_ZMV
		m = m0 + jal_zmm_bf16(d + m0, dp, w + m0 * wp, wp, x, xp, m1 - m0,
				      nx, k);
#endif
		for (n = 0; n + JAL_K_NR <= nx; n += JAL_K_NR) {
			size_t mm = m;

			for (; mm + JAL_K_MR <= m1; mm += JAL_K_MR)
				jal_tileb_mn(d + n * dp + mm, dp, w + mm * wp, wp,
					     x + n * xp, xp, k);
			for (; mm < m1; mm++)
				jal_tileb_1n(d + n * dp + mm, dp, w + mm * wp, wp,
					     x + n * xp, xp, k);
		}
		for (; n < nx; n++) {
			size_t mm = m;

			for (; mm + 4 <= m1; mm += 4)
				jal_tileb_41(d + n * dp + mm, 0, w + mm * wp, wp,
					     x + n * xp, 0, k);
			for (; mm < m1; mm++)
				jal_tileb_11(d + n * dp + mm, 0, w + mm * wp, wp,
					     x + n * xp, 0, k);
		}
	}
}

/* BF16 rows, four at a time. */
#define JAL_B_ZERO(i, a)	struct jal_l8 acc##i = l_zero();
#define JAL_B_MAC(i, k)		acc##i = l_mac(acc##i, l_ld_bf16(w + (i) * pitch + (k)), xv);
#define JAL_B_MACT(i, k)	acc##i = l_mac(acc##i, l_ld_bf16_part(w + (i) * pitch + (k), kr), xv);
#define JAL_B_ST(i, a)		out[i] = l_tree(acc##i);
/* Prefetch the rows of the next block, one line (64 bytes) at a time. */
#define JAL_B_PF(i, k)		__builtin_prefetch(w + ((i) + 4) * pitch + (k));

#define JAL_MV_BF16(name, RI)						\
JAL_AI void name(float *out, const uint16_t *w, size_t pitch,		\
		 const float *x, size_t k)				\
{									\
	size_t kk, kr = k & 7;						\
	struct jal_l8 xv;						\
									\
	RI(JAL_B_ZERO, 0)						\
	for (kk = 0; kk + 8 <= k; kk += 8) {				\
		if (!(kk & 31)) {					\
			RI(JAL_B_PF, kk)				\
		}							\
		xv = l_ld(x + kk);					\
		RI(JAL_B_MAC, kk)					\
	}								\
	if (kr) {							\
		xv = l_ld_part(x + kk, kr);				\
		RI(JAL_B_MACT, kk)					\
	}								\
	RI(JAL_B_ST, 0)							\
}

JAL_MV_BF16(jal_bf16_4, JAL_RI4)
JAL_MV_BF16(jal_bf16_1, JAL_RI1)

static void JAL_K(mv_bf16)(float *out, const uint16_t *w, size_t pitch,
			   const float *x, size_t rows, size_t k)
{
	size_t m = 0;

#if JAL_K_ZMV
	if (!(k & 15))
		for (; m + 4 <= rows; m += 4)
			jal_zmv_bf16_4(out + m, w + m * pitch, pitch, x, k);
#endif
	for (; m + 4 <= rows; m += 4)
		jal_bf16_4(out + m, w + m * pitch, pitch, x, k);
	for (; m < rows; m++)
		jal_bf16_1(out + m, w + m * pitch, pitch, x, k);
}

/* Q8 rows, four at a time, one scale per row and group (group % 8 == 0). */
#define JAL_Q_SCALE(i, g)	struct jal_l8 s##i = l_set1(scales[(i) * spitch + (g)]);
#define JAL_Q_MAC(i, k)		acc##i = l_mac(acc##i, l_mul(l_ld_q8(w + (i) * pitch + (k)), s##i), xv);

#define JAL_MV_Q8(name, RI)						\
JAL_AI void name(float *out, const int8_t *w, size_t pitch,		\
		 const float *scales, size_t group, const float *x,	\
		 size_t k)						\
{									\
	size_t spitch = k / group, g, kk;				\
	struct jal_l8 xv;						\
									\
	RI(JAL_B_ZERO, 0)						\
	for (g = 0; g < spitch; g++) {					\
		RI(JAL_Q_SCALE, g)					\
		for (kk = g * group; kk < (g + 1) * group; kk += 8) {	\
			if (!(kk & 63)) {				\
				RI(JAL_B_PF, kk)			\
			}						\
			xv = l_ld(x + kk);				\
			RI(JAL_Q_MAC, kk)				\
		}							\
	}								\
	RI(JAL_B_ST, 0)							\
}

JAL_MV_Q8(jal_q8_4, JAL_RI4)
JAL_MV_Q8(jal_q8_1, JAL_RI1)

static void JAL_K(mv_q8)(float *out, const int8_t *w, size_t pitch,
			 const float *scales, size_t group, const float *x,
			 size_t rows, size_t k)
{
	size_t m = 0, spitch = k / group;

#if JAL_K_ZMV
	if (!(group & 15))
		for (; m + 4 <= rows; m += 4)
			jal_zmv_q8_4(out + m, w + m * pitch, pitch,
				     scales + m * spitch, group, x, k);
#endif
	for (; m + 4 <= rows; m += 4)
		jal_q8_4(out + m, w + m * pitch, pitch, scales + m * spitch,
			 group, x, k);
	for (; m < rows; m++)
		jal_q8_1(out + m, w + m * pitch, pitch, scales + m * spitch,
			 group, x, k);
}

/*
 * Q8X, any group size that is a multiple of 4: exact integer sums (the
 * compiler may vectorize them), the float part one group at a time.
 */
JAL_AI void jal_q8x_row(float *out, const int8_t *w, const float *ws,
			size_t group, const int8_t *q, const float *xs,
			size_t k)
{
	float lanes[8] = { 0 };
	size_t g, i;

	for (g = 0; g < k / group; g++) {
		const int8_t *wg = w + g * group, *qg = q + g * group;
		int32_t sum = 0;

		for (i = 0; i < group; i++)
			sum += (int32_t)wg[i] * qg[i];
		lanes[g % 8] += ((float)sum * ws[g]) * xs[g];
	}
	*out = l_tree(l_ld(lanes));
}

static void JAL_K(mv_q8x)(float *out, const int8_t *w, size_t pitch,
			  const float *ws, size_t group, const int8_t *q,
			  const float *xs, const int32_t *bias, size_t rows,
			  size_t k)
{
	size_t m;

#if JAL_K_ZMV || JAL_K_YMV
	/* The wide kernels (VNNI or AVX2) take the group sizes the runtime chooses. */
#if JAL_K_ZMV
#define JAL_Q8X_WIDE(size)	jal_zmv_q8x_##size
#else
#define JAL_Q8X_WIDE(size)	jal_ymv_q8x_##size
#endif
	void (*wide)(float *, const int8_t *, size_t, const float *, size_t,
		     const int8_t *, const float *, const int32_t *, size_t,
		     size_t) =
		group == 4 ? JAL_Q8X_WIDE(4) : group == 8 ? JAL_Q8X_WIDE(8) :
		group == 16 ? JAL_Q8X_WIDE(16) : group == 32 ? JAL_Q8X_WIDE(32) :
		group == 64 ? JAL_Q8X_WIDE(64) :
		group % 64 == 0 ? JAL_Q8X_WIDE(wide) : NULL;
#undef JAL_Q8X_WIDE

	if (wide) {
		wide(out, w, pitch, ws, group, q, xs, bias, rows, k);
		return;
	}
#endif
	(void)bias;	/* the plain loops multiply signed bytes directly */
	for (m = 0; m < rows; m++)
		jal_q8x_row(out + m, w + m * pitch, ws + m * (k / group), group,
			    q, xs, k);
}

/*
 * MATMUL Q8X: each row of X its MATVEC (mv_q8x), the rows of W a few at a
 * time, so that they stay in the core's caches while the rows of X pass;
 * with VNNI, register tiles of W rows times X rows (jal_kern_zmv.h).
 */
#define JAL_MM_Q8X_SUB_ROWS	16u

static void JAL_K(mm_q8x)(float *d, size_t dp, const int8_t *w, size_t pitch,
			  const float *ws, size_t group, const int8_t *q,
			  const float *xs, const int32_t *bias, size_t rows,
			  size_t nx, size_t k)
{
	size_t ng = k / group, sub, i, j;

#if JAL_K_ZMV
	void (*tiled)(float *, size_t, const int8_t *, size_t, const float *,
		      size_t, const int8_t *, const float *, const int32_t *,
		      size_t, size_t, size_t) =
		group == 4 ? jal_zmm_q8x_4 : group == 8 ? jal_zmm_q8x_8 :
		group == 16 ? jal_zmm_q8x_16 : group == 32 ? jal_zmm_q8x_32 :
		group == 64 ? jal_zmm_q8x_64 :
		group % 64 == 0 ? jal_zmm_q8x_wide : NULL;

	/* One row of X: MATVEC's panels stream W faster than a tile transposes it. */
	if (tiled && nx > 1) {
		tiled(d, dp, w, pitch, ws, group, q, xs, bias, rows, nx, k);
		return;
	}
#endif
	for (i = 0; i < rows; i += sub) {
		sub = JAL_KMIN(rows - i, (size_t)JAL_MM_Q8X_SUB_ROWS);
		if (nx == 1)
			sub = rows;
		for (j = 0; j < nx; j++)
			JAL_K(mv_q8x)(d + j * dp + i, w + i * pitch, pitch,
				      ws + i * ng, group, q + j * k, xs + j * ng,
				      bias + j * ng, sub, k);
	}
}

/*
 * Q4: one row, a group at a time, the plain definition (byte i of a
 * group: column i in bits 3..0, column i + 16 in bits 7..4, each + 8).
 */
JAL_AI float jal_q4_row(const uint8_t *w, const float *ws, const int8_t *q,
			const float *xs, size_t k)
{
	float lanes[8] = { 0 };
	size_t g, i;

	for (g = 0; g < k / 32; g++) {
		const uint8_t *b = w + g * 16;
		const int8_t *qg = q + g * 32;
		int32_t sum = 0;

		for (i = 0; i < 16; i++)
			sum += ((int32_t)(b[i] & 15) - 8) * qg[i] +
			       ((int32_t)(b[i] >> 4) - 8) * qg[i + 16];
		lanes[g % 8] += ((float)sum * ws[g]) * xs[g];
	}
	return l_tree(l_ld(lanes));
}

static void JAL_K(mm_q4)(float *d, size_t dp, const uint8_t *w, size_t pitch,
			 const float *ws, const int8_t *q, const float *xs,
			 const int32_t *bias, size_t rows, size_t nx, size_t k)
{
	size_t ng = k / 32, i, j, m, sub;

#if JAL_K_ZMV
	if (rows) {
		jal_zmm_q4_all(d, dp, w, pitch, ws, q, xs, bias, rows, nx, k);
		return;
	}
#endif
	(void)bias;	/* the plain loop subtracts 8 from each weight */
	(void)m;
	/* A few rows of W at a time for every row of X, while they are in the cache. */
	for (i = 0; i < rows; i += sub) {
		sub = JAL_KMIN(rows - i, (size_t)JAL_MM_Q8X_SUB_ROWS);
		if (nx == 1)
			sub = rows;
		for (j = 0; j < nx; j++)
#if JAL_K_YMV
			jal_ymv_q4(d + j * dp + i, w + i * pitch, pitch, ws + i * ng,
				   q + j * k, xs + j * ng, sub, k);
#else
			for (m = i; m < i + sub; m++)
				d[j * dp + m] = jal_q4_row(w + m * pitch, ws + m * ng,
							   q + j * k, xs + j * ng, k);
#endif
	}
}

/* Q8X's quantizer, a value at a time. */
JAL_AI void jal_q8x_quantize(int8_t *q, float *xs, int32_t *bias,
			     const float *x, size_t k, size_t group)
{
	size_t g, i;

	for (g = 0; g < k / group; g++) {
		const float *xg = x + g * group;
		int8_t *qg = q + g * group;
		float amax = 0.0f, s;
		int32_t sum = 0;

		for (i = 0; i < group; i++) {
			float a = fabsf(xg[i]);

			if (a > amax)
				amax = a;
		}
		s = amax / 127.0f;
		for (i = 0; i < group; i++) {
			float v = s == 0.0f ? 0.0f : roundf(xg[i] / s);

			qg[i] = v != v ? 0 : v > 127.0f ? 127 : v < -127.0f ? -127 :
				(int8_t)v;
			sum += qg[i];
		}
		xs[g] = s;
		bias[g] = 128 * sum;
	}
}

static void JAL_K(q8x_quantize)(int8_t *q, float *xs, int32_t *bias,
				const float *x, size_t k, size_t group)
{
#if JAL_K_ZMV
	jal_zmv_q8x_quantize(q, xs, bias, x, k, group);
#else
	jal_q8x_quantize(q, xs, bias, x, k, group);
#endif
}

/*
 * S24: eight dense columns (two groups) from four stored values and two
 * index bytes. The values sit in lanes 0..3 of a vector whose lanes 4..7
 * are zero; a permutation per index byte puts each value at its column
 * and a zero everywhere else.
 */
#if defined(__AVX2__)
JAL_AI struct jal_l8 l_ld_s24(const uint16_t *v, const uint8_t *ib)
{
	__m128i h = _mm_loadl_epi64((const __m128i *)v);
	__m128 vals = _mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16));
	__m256i perm = _mm256_loadu_si256((const __m256i *)
					  jal_s24_perm[ib[0] | ib[1] << 4]);
	struct jal_l8 r;

	r.v = (jal_vf)_mm256_permutevar8x32_ps(_mm256_zextps128_ps256(vals), perm);
	return r;
}
#else
typedef uint32_t jal_vu4 __attribute__((vector_size(16)));

/* One group: each value ANDed into the columns its mask selects. */
JAL_AI jal_vf jal_s24_group(const uint16_t *v, unsigned int b)
{
	uint32_t u0 = (uint32_t)v[0] << 16, u1 = (uint32_t)v[1] << 16;
	jal_vu4 m0, m1, a = { u0, u0, u0, u0 }, c = { u1, u1, u1, u1 };

	memcpy(&m0, jal_s24_mask[b][0], sizeof(m0));
	memcpy(&m1, jal_s24_mask[b][1], sizeof(m1));
	return (jal_vf)((a & m0) | (c & m1));
}

JAL_AI struct jal_l8 l_ld_s24(const uint16_t *v, const uint8_t *ib)
{
	struct jal_l8 r;
#if JAL_K_WIDE
	jal_vf lo = jal_s24_group(v, ib[0]), hi = jal_s24_group(v + 2, ib[1]);

	memcpy(&r.v, &lo, sizeof(lo));
	memcpy((char *)&r.v + sizeof(lo), &hi, sizeof(hi));
#else
	r.lo = jal_s24_group(v, ib[0]);
	r.hi = jal_s24_group(v + 2, ib[1]);
#endif
	return r;
}
#endif

/*
 * Whether @n index bytes are all valid (bits 7..4 clear, first column
 * below second); checked before a row block is used, so the decoding
 * loops need not look.
 */
JAL_AI bool jal_s24_valid(const uint8_t *idx, size_t n)
{
	typedef uint8_t jal_vu8 __attribute__((vector_size(16)));
	jal_vu8 bad = { 0 }, b, first, second;
	unsigned int tail = 0;
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		memcpy(&b, idx + i, sizeof(b));
		first = b & 3;
		second = b >> 2;
		bad |= (jal_vu8)(first >= second) | (b & 0xf0);
	}
	for (; i < n; i++)
		tail |= jal_s24_lut[idx[i]];
	for (i = 0; i < sizeof(bad); i++)
		tail |= bad[i];
	return !tail;
}

/* The last group of a row whose column count is 4 mod 8. */
JAL_AI struct jal_l8 l_ld_s24_part(const uint16_t *v, const uint8_t *ib)
{
	float t[8] = { 0 };
	uint32_t u0 = (uint32_t)v[0] << 16, u1 = (uint32_t)v[1] << 16;
	unsigned int b = ib[0];

	memcpy(&t[b & 3], &u0, 4);
	memcpy(&t[(b >> 2) & 3], &u1, 4);
	return l_ld(t);
}

#define JAL_S_MAC(i, k)							\
	acc##i = l_mac(acc##i, l_ld_s24(v + (i) * pitch + (k) / 2,	\
					idx + (i) * ipitch + (k) / 4), xv);
#define JAL_S_MACT(i, k)						\
	acc##i = l_mac(acc##i, l_ld_s24_part(v + (i) * pitch + (k) / 2,	\
					     idx + (i) * ipitch + (k) / 4), xv);

#define JAL_S_PF(i, k)							\
	__builtin_prefetch(v + ((i) + 4) * pitch + (k) / 2);		\
	__builtin_prefetch(idx + ((i) + 4) * ipitch + (k) / 4);

#define JAL_MV_S24(name, RI)						\
JAL_AI void name(float *out, const uint16_t *v, size_t pitch,		\
		 const uint8_t *idx, const float *x, size_t k)		\
{									\
	size_t ipitch = k / 4, kk;					\
	struct jal_l8 xv;						\
									\
	RI(JAL_B_ZERO, 0)						\
	for (kk = 0; kk + 8 <= k; kk += 8) {				\
		if (!(kk & 63)) {					\
			RI(JAL_S_PF, kk)				\
		}							\
		xv = l_ld(x + kk);					\
		RI(JAL_S_MAC, kk)					\
	}								\
	if (kk < k) {							\
		xv = l_ld_part(x + kk, 4);				\
		RI(JAL_S_MACT, kk)					\
	}								\
	RI(JAL_B_ST, 0)							\
}

JAL_MV_S24(jal_s24_4, JAL_RI4)
JAL_MV_S24(jal_s24_1, JAL_RI1)

static bool JAL_K(mv_s24)(float *out, const uint16_t *v, size_t pitch,
			  const uint8_t *idx, const float *x, size_t rows,
			  size_t k)
{
	size_t m = 0, ipitch = k / 4;

#if JAL_K_ZMV
	bool ok = true;

	/* These check the index bytes they decode. */
	for (; m + 4 <= rows; m += 4)
		ok &= jal_zmv_s24_4(out + m, v + m * pitch, pitch,
				    idx + m * ipitch, x, k);
	if (!ok)
		return false;
#endif
	if (!jal_s24_valid(idx + m * ipitch, (rows - m) * ipitch))
		return false;
	for (; m + 4 <= rows; m += 4)
		jal_s24_4(out + m, v + m * pitch, pitch, idx + m * ipitch, x, k);
	for (; m < rows; m++)
		jal_s24_1(out + m, v + m * pitch, pitch, idx + m * ipitch, x, k);
	return true;
}

static bool JAL_K(dec_s24)(float *dst, const uint16_t *v, const uint8_t *idx,
			   size_t n)
{
	size_t i = 0;

	if (!jal_s24_valid(idx, n / 4))
		return false;
	for (; i + 8 <= n; i += 8)
		l_st(dst + i, l_ld_s24(v + i / 2, idx + i / 4));
	if (i < n) {
		float t[8];

		l_st(t, l_ld_s24_part(v + i / 2, idx + i / 4));
		memcpy(dst + i, t, 4 * sizeof(float));
	}
	return true;
}

static void JAL_K(dec_bf16)(float *dst, const uint16_t *src, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		l_st(dst + i, l_ld_bf16(src + i));
	for (; i < n; i++) {
		uint32_t u = (uint32_t)src[i] << 16;

		memcpy(dst + i, &u, 4);
	}
}

static void JAL_K(dec_q8)(float *dst, const int8_t *src, const float *scales,
			  size_t group, size_t n)
{
	size_t i = 0;

	if (group % 8 == 0) {
		for (; i + 8 <= n; i += 8)
			l_st(dst + i, l_mul(l_ld_q8(src + i),
					    l_set1(scales[i / group])));
	}
	for (; i < n; i++)
		dst[i] = (float)src[i] * scales[i / group];
}

static void JAL_K(dot_lanes)(float *lanes, const float *a, const float *b,
			     size_t n)
{
	struct jal_l8 acc = l_ld(lanes);
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		acc = l_mac(acc, l_ld(a + i), l_ld(b + i));
	if (i < n)
		acc = l_mac(acc, l_ld_part(a + i, n - i), l_ld_part(b + i, n - i));
	l_st(lanes, acc);
}

/* acc[i..i+31] over all t at once, so the sums stay in registers. */
static void JAL_K(pv)(float *acc, const float *p, const float *v, size_t pitch,
		      size_t count, size_t n)
{
	size_t i = 0, t, j;

	for (; i + 32 <= n; i += 32) {
		struct jal_l8 a0 = l_ld(acc + i), a1 = l_ld(acc + i + 8);
		struct jal_l8 a2 = l_ld(acc + i + 16), a3 = l_ld(acc + i + 24);

		for (t = 0; t < count; t++) {
			const float *vt = v + t * pitch + i;
			struct jal_l8 pt = l_set1(p[t]);

			a0 = l_mac(a0, pt, l_ld(vt));
			a1 = l_mac(a1, pt, l_ld(vt + 8));
			a2 = l_mac(a2, pt, l_ld(vt + 16));
			a3 = l_mac(a3, pt, l_ld(vt + 24));
		}
		l_st(acc + i, a0);
		l_st(acc + i + 8, a1);
		l_st(acc + i + 16, a2);
		l_st(acc + i + 24, a3);
	}
	for (; i + 8 <= n; i += 8) {
		struct jal_l8 a0 = l_ld(acc + i);

		for (t = 0; t < count; t++)
			a0 = l_mac(a0, l_set1(p[t]), l_ld(v + t * pitch + i));
		l_st(acc + i, a0);
	}
	for (; i < n; i++) {
		for (t = 0, j = i; t < count; t++, j += pitch)
			acc[i] += p[t] * v[j];
	}
}

static void JAL_K(scale_mul)(float *d, const float *a, const float *b, float s,
			     size_t n)
{
	struct jal_l8 sv = l_set1(s);
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		l_st(d + i, l_mul(l_ld(b + i), l_mul(sv, l_ld(a + i))));
	for (; i < n; i++)
		d[i] = b[i] * (s * a[i]);
}

static void JAL_K(div)(float *d, const float *a, float s, size_t n)
{
	struct jal_l8 sv = l_set1(s);
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		l_st(d + i, l_div(l_ld(a + i), sv));
	for (; i < n; i++)
		d[i] = a[i] / s;
}

static float JAL_K(max)(const float *a, size_t n, float m)
{
	struct jal_l8 mv = l_set1(m);
	size_t i = 0;
	unsigned int j;

	for (; i + 8 <= n; i += 8)
		mv = l_gtsel(mv, l_ld(a + i));
	for (j = 0; j < 8; j++)
		if (l_lane(mv, j) > m)
			m = l_lane(mv, j);
	for (; i < n; i++)
		if (a[i] > m)
			m = a[i];
	return m;
}

const struct jal_kernels JAL_K(jal_kernels) = {
	.name = JAL_K_NAME,
	.mv_f32 = JAL_K(mv_f32),
	.mv_bf16 = JAL_K(mv_bf16),
	.mv_q8 = JAL_K(mv_q8),
	.mv_s24 = JAL_K(mv_s24),
	.mv_q8x = JAL_K(mv_q8x),
	.q8x_quantize = JAL_K(q8x_quantize),
	.mm_q8x = JAL_K(mm_q8x),
	.mm_q4 = JAL_K(mm_q4),
	.mm_f32 = JAL_K(mm_f32),
	.mm_bf16 = JAL_K(mm_bf16),
	.dec_bf16 = JAL_K(dec_bf16),
	.dec_q8 = JAL_K(dec_q8),
	.dec_s24 = JAL_K(dec_s24),
	.dot_lanes = JAL_K(dot_lanes),
	.pv = JAL_K(pv),
	.scale_mul = JAL_K(scale_mul),
	.div = JAL_K(div),
	.max = JAL_K(max),
};
