/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: Q8X MATVEC with AVX2; part of jal_kern_impl.h,
 * included only where the target has AVX2 and not what jal_kern_zmv.h
 * needs (the avx2 variant).
 *
 * Without VNNI, bytes are multiplied by a multiply-add of unsigned by
 * signed bytes into 16-bit pairs, which saturates: |w| (128 for -128) as
 * the unsigned operand and q with w's sign as the signed one keep each
 * pair within 2 * 128 * 127 = 32512 (q is never -128), so the pairs are
 * exact, and a 16-bit multiply-add by ones widens them to four products
 * per 32-bit lane (no offset weights, so no bias). Integer sums are exact
 * in any order, and the float part of each group is the same operations
 * as the baseline's, group g into lane g % 8, so the bits are the same
 * (see jal_kern.h).
 *
 * Groups of 4 and 8 go four rows at a time: the sums of eight groups (32
 * or 64 bytes of a row) land in the lanes of their groups after at most
 * a pairing of lanes and a permute, each row keeps its eight lanes, and
 * the four rows' final lane trees are shuffles of all four at once.
 * Larger groups go in panels of eight rows (as in jal_kern_zmv.h): the
 * rows' sums of a group are transposed so that row r's is in lane r, and
 * the float part and the final lane tree are vertical, one instruction a
 * group for all eight rows. The transposes add unpacked lanes:
 * horizontal adds would take fewer instructions but several times as
 * long.
 */
#ifndef JAL_KERN_IMPL_H_INSIDE
#error "jal_kern_ymv.h is part of jal_kern_impl.h"
#endif

/* All bits set in the first @n (at most 8) 32-bit lanes. */
JAL_AI __m256i jal_ymv_mask(size_t n)
{
	return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n),
				  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/*
 * 32 bytes at @p, or the first @n (a multiple of 4) with zeros after
 * them: a masked load touches nothing past them.
 */
JAL_AI __m256i jal_ymv_ld(const int8_t *p, size_t n)
{
	if (n >= 32)
		return _mm256_loadu_si256((const __m256i *)p);
	return _mm256_maskload_epi32((const int *)p, jal_ymv_mask(n / 4));
}

/* Lane i: the exact sum of w * q over bytes 4i..4i + 3. */
JAL_AI __m256i jal_ymv_quads(__m256i w, __m256i q)
{
	__m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(w),
					     _mm256_sign_epi8(q, w));

	return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/* Per 128-bit half: lane i the sum of that half of the i-th of a..d. */
JAL_AI __m256i jal_ymv_sum4(__m256i a, __m256i b, __m256i c, __m256i d)
{
	/* (a0 + a2, b0 + b2, a1 + a3, b1 + b3) in each half; c, d alike */
	__m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b),
				      _mm256_unpackhi_epi32(a, b));
	__m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d),
				      _mm256_unpackhi_epi32(c, d));

	return _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd),
				_mm256_unpackhi_epi64(ab, cd));
}

/* Lane i: the whole of the i-th vector, from sum4() of 0..3 and of 4..7. */
JAL_AI __m256i jal_ymv_sum8(__m256i lo, __m256i hi)
{
	return _mm256_add_epi32(_mm256_blend_epi32(lo, hi, 0xf0),
				_mm256_permute2x128_si256(lo, hi, 0x21));
}

/*
 * Rows up to this long are prefetched: the kernels below read a few rows
 * at a time, 32 or 64 bytes of each in turn, which the hardware
 * prefetchers do not follow well (weights streaming from memory arrived
 * at 10 to 16 GB/s instead of 20 to 30). The rows that a kernel reads
 * next but one are one range of memory, prefetched a few lines a step,
 * and so are their scales. Longer rows went as fast without.
 */
#define JAL_YMV_PREFETCH_PITCH	2048

/*
 * Lines to prefetch at each of @steps steps so that @rows rows are in by
 * the last one, or 0 for long rows.
 */
JAL_AI size_t jal_ymv_pfn(size_t pitch, size_t rows, size_t steps)
{
	if (pitch > JAL_YMV_PREFETCH_PITCH)
		return 0;
	return ((rows * pitch + 63) / 64 + steps) / steps;
}

/* Prefetch @n lines from *pf on, and move *pf past them. */
JAL_AI void jal_ymv_prefetch(const int8_t **pf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		__builtin_prefetch(*pf + 64 * i);
	*pf += 64 * n;
}

/* Groups of 4 and 8: the quads of block j (bytes 32j..) of the first @n. */
JAL_AI __m256i jal_ymv_block(const int8_t *w, const int8_t *q, size_t n, size_t j)
{
	if (n <= 32 * j)
		return _mm256_setzero_si256();
	return jal_ymv_quads(jal_ymv_ld(w + 32 * j, n - 32 * j),
			     jal_ymv_ld(q + 32 * j, n - 32 * j));
}

/*
 * The sums of the eight groups of @size (4 or 8) bytes at w and q, lane
 * j group j, of the first @n bytes (a multiple of @size): groups past
 * them are 0, and nothing past them is read. Groups of 8 are quads
 * paired, which gives groups 0, 1, 4, 5 | 2, 3, 6, 7, then put in order.
 */
JAL_AI __m256i jal_ymv_sums(const int8_t *w, const int8_t *q, size_t n, size_t size)
{
	__m256 lo, hi;
	__m256i s;

	if (size == 4)
		return jal_ymv_block(w, q, n, 0);
	lo = _mm256_castsi256_ps(jal_ymv_block(w, q, n, 0));
	hi = _mm256_castsi256_ps(jal_ymv_block(w, q, n, 1));
	s = _mm256_add_epi32(_mm256_castps_si256(_mm256_shuffle_ps(lo, hi, 0x88)),
			     _mm256_castps_si256(_mm256_shuffle_ps(lo, hi, 0xdd)));
	return _mm256_permute4x64_epi64(s, 0xd8);
}

/* Lanes (0, 1), (2, 3), ... of a, then of b, added: a pairing of lanes. */
JAL_AI __m256 jal_ymv_pairs(__m256 a, __m256 b)
{
	return _mm256_add_ps(_mm256_shuffle_ps(a, b, 0x88),
			     _mm256_shuffle_ps(a, b, 0xdd));
}

/* l_tree() of each of a, b, c, d. */
JAL_AI __m128 jal_ymv_tree4(__m256 a, __m256 b, __m256 c, __m256 d)
{
	__m256 t = jal_ymv_pairs(jal_ymv_pairs(a, b), jal_ymv_pairs(c, d));

	return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/*
 * acc + ((float)sums * ws) * xs over a row's next groups, the first @n
 * bytes of w and q: all eight groups if @n is 8 * @size, else the scales
 * of those there are under @take. A missing group adds +0.0 (its sum and
 * scales are 0), which leaves any lane as it was: lanes start at +0.0
 * and can never be -0.0.
 */
JAL_AI __m256 jal_ymv_rows_step(__m256 acc, const int8_t *w, const int8_t *q,
				const float *ws, __m256 xv, size_t n, size_t size,
				__m256i take)
{
	__m256i sums = jal_ymv_sums(w, q, n, size);
	__m256 wv = n == 8 * size ? _mm256_loadu_ps(ws) : _mm256_maskload_ps(ws, take);

	return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(sums), wv),
						xv));
}

#define JAL_YMV_ROWS_STEP(r)						\
	(a##r = jal_ymv_rows_step(a##r, w##r + b, q + b, ws##r + g, xv, n,	\
				  size, take))

/*
 * Rows 0..last (at most 4) of groups of @size bytes, eight groups a
 * step, lane j of a row's accumulator taking group j of each eight. The
 * rows eight on are prefetched, @pfn lines a step.
 */
JAL_AI void jal_ymv_q8x_rows(float *out, const int8_t *w, size_t pitch,
			     const float *ws, size_t size, const int8_t *q,
			     const float *xs, size_t last, size_t k, size_t pfn)
{
	size_t ng = k / size, g, n, b;
	size_t r1 = JAL_KMIN((size_t)1, last), r2 = JAL_KMIN((size_t)2, last);
	size_t r3 = JAL_KMIN((size_t)3, last);
	const int8_t *w0 = w, *w1 = w + r1 * pitch, *w2 = w + r2 * pitch;
	const int8_t *w3 = w + r3 * pitch;
	const float *ws0 = ws, *ws1 = ws + r1 * ng, *ws2 = ws + r2 * ng;
	const float *ws3 = ws + r3 * ng;
	const int8_t *pf = w + 8 * pitch, *pfs = (const int8_t *)(ws + 8 * ng);
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, xv;
	__m256i take = _mm256_setzero_si256();
	__m128 t;
	float o[4];

	/* Four rows' scales are 16 bytes a group: two lines a step. */
	for (g = 0; g + 8 <= ng; g += 8) {
		n = 8 * size;
		b = g * size;
		xv = _mm256_loadu_ps(xs + g);
		jal_ymv_prefetch(&pf, pfn);
		jal_ymv_prefetch(&pfs, 2);
		JAL_YMV_ROWS_STEP(0);
		JAL_YMV_ROWS_STEP(1);
		JAL_YMV_ROWS_STEP(2);
		JAL_YMV_ROWS_STEP(3);
	}
	if (g < ng) {
		n = (ng - g) * size;
		b = g * size;
		take = jal_ymv_mask(ng - g);
		xv = _mm256_maskload_ps(xs + g, take);
		jal_ymv_prefetch(&pf, pfn);
		jal_ymv_prefetch(&pfs, 2);
		JAL_YMV_ROWS_STEP(0);
		JAL_YMV_ROWS_STEP(1);
		JAL_YMV_ROWS_STEP(2);
		JAL_YMV_ROWS_STEP(3);
	}
	t = jal_ymv_tree4(a0, a1, a2, a3);
	if (last == 3) {
		_mm_storeu_ps(out, t);
		return;
	}
	_mm_storeu_ps(o, t);
	memcpy(out, o, (last + 1) * sizeof(float));
}

#undef JAL_YMV_ROWS_STEP

/*
 * All rows four at a time; fewer than 4 rows left at the end are the
 * last 4 rows again (the overlap is recomputed with the same bits).
 */
JAL_AI void jal_ymv_q8x_all_rows(float *out, const int8_t *w, size_t pitch,
				 const float *ws, size_t size, const int8_t *q,
				 const float *xs, size_t rows, size_t k)
{
	size_t m, ng = k / size, pfn = jal_ymv_pfn(pitch, 4, (ng + 7) / 8);

	if (rows < 4) {
		if (rows)
			jal_ymv_q8x_rows(out, w, pitch, ws, size, q, xs, rows - 1, k, 0);
		return;
	}
	for (m = 0; m < rows; m += 4) {
		m = JAL_KMIN(m, rows - 4);
		jal_ymv_q8x_rows(out + m, w + m * pitch, pitch, ws + m * ng, size, q, xs,
				 3, k, pfn);
	}
}

#define JAL_YMV_Q8X_ROWS(name, size)					\
static void name(float *out, const int8_t *w, size_t pitch,		\
		 const float *ws, size_t group, const int8_t *q,	\
		 const float *xs, const int32_t *bias, size_t rows,	\
		 size_t k)						\
{									\
	(void)group;							\
	(void)bias;							\
	jal_ymv_q8x_all_rows(out, w, pitch, ws, size, q, xs, rows, k);	\
}

JAL_YMV_Q8X_ROWS(jal_ymv_q8x_4, 4)
JAL_YMV_Q8X_ROWS(jal_ymv_q8x_8, 8)

/* Panels: what their steps share. */
struct jal_ymv_panel {
	const int8_t *w;	/* row 0 of the panel */
	size_t pitch, last;	/* rows past last repeat it */
	const int8_t *q;
	size_t group, k, ng;
	size_t step;		/* bytes of a row a step: 32 or 64 */
	const float *ws;	/* row 0's group scales */
	const float *xs;
	const int8_t *pf, *pfs;	/* the next lines to prefetch: of w, of ws */
	size_t pfn;		/* lines of w a step */
	bool q4;		/* Q4 weights (group 32, step 32; pitch in bytes) */
};

/*
 * Row @r's quads over @span bytes (32 or 64) from byte @off, or over 16
 * bytes if @half. Rows past the last repeat it: a panel of fewer than
 * eight rows reads only its own.
 */
JAL_AI __m256i jal_ymv_panel_row(const struct jal_ymv_panel *p, size_t r,
				 size_t off, size_t span, bool half)
{
	const int8_t *wr = p->w + JAL_KMIN(r, p->last) * p->pitch + off;
	const int8_t *q = p->q + off;
	__m256i acc;

	if (p->q4) {
		/*
		 * The group's 16 bytes: low nibbles columns 0..15, high ones
		 * 16..31, so (lo, hi) is the group in column order; less 8
		 * they are the signed weights quads() takes.
		 */
		__m128i v = _mm_loadu_si128((const __m128i *)(p->w + JAL_KMIN(r, p->last) *
							     p->pitch + off / 2));
		__m256i n = _mm256_inserti128_si256(_mm256_castsi128_si256(v),
						    _mm_srli_epi16(v, 4), 1);

		n = _mm256_sub_epi8(_mm256_and_si256(n, _mm256_set1_epi8(15)),
				    _mm256_set1_epi8(8));
		return jal_ymv_quads(n, _mm256_loadu_si256((const __m256i *)q));
	}
	if (half)
		return jal_ymv_quads(_mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)wr)),
				     _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)q)));
	acc = jal_ymv_quads(_mm256_loadu_si256((const __m256i *)wr),
			    _mm256_loadu_si256((const __m256i *)q));
	if (span > 32) {
		__m256i w1 = _mm256_loadu_si256((const __m256i *)(wr + 32));
		__m256i q1 = _mm256_loadu_si256((const __m256i *)(q + 32));

		acc = _mm256_add_epi32(acc, jal_ymv_quads(w1, q1));
	}
	return acc;
}

/*
 * The eight rows' quads over the step at @off (and the lines of the rows
 * two panels on that go with it prefetched), summed in each 128-bit
 * half: lane i of the low half is row i's low half, of the high half
 * row i's high half, rows 0..3 in the result and 4..7 in *hi.
 */
JAL_AI __m256i jal_ymv_panel_halves(struct jal_ymv_panel *p, size_t off,
				    bool half, __m256i *hi)
{
	size_t span = p->step;

#define JAL_YMV_ROW(r)	jal_ymv_panel_row(p, r, off, span, half)
	jal_ymv_prefetch(&p->pf, p->pfn);
	*hi = jal_ymv_sum4(JAL_YMV_ROW(4), JAL_YMV_ROW(5), JAL_YMV_ROW(6), JAL_YMV_ROW(7));
	return jal_ymv_sum4(JAL_YMV_ROW(0), JAL_YMV_ROW(1), JAL_YMV_ROW(2), JAL_YMV_ROW(3));
#undef JAL_YMV_ROW
}

/*
 * acc += group g's ((float)sum * ws) * xs for the panel's rows, if the
 * rows have a group g: nothing of a missing group may be read.
 */
JAL_AI void jal_ymv_panel_group(const struct jal_ymv_panel *p, __m256 *acc,
				size_t g, __m256i sums, __m256 ws)
{
	__m256 t;

	if (g >= p->ng)
		return;
	t = _mm256_mul_ps(_mm256_cvtepi32_ps(sums), ws);
	*acc = _mm256_add_ps(*acc, _mm256_mul_ps(t, _mm256_set1_ps(p->xs[g])));
}

/* Scales g0..g0 + 3 of row @r, those there are (under @take). */
JAL_AI __m128 jal_ymv_panel_ws(const struct jal_ymv_panel *p, size_t r,
			       size_t g0, __m128i take)
{
	const float *ws = p->ws + JAL_KMIN(r, p->last) * p->ng + g0;

	return p->ng - g0 >= 4 ? _mm_loadu_ps(ws) : _mm_maskload_ps(ws, take);
}

/*
 * The weight scales of groups g0..g0 + 3 (those there are), a register a
 * group, lane r row r: rows r and r + 4 share a register, then a 4x4
 * transpose in each 128-bit half. The scales of the rows two panels on
 * are 32 bytes a group: two lines for the four.
 */
JAL_AI void jal_ymv_panel_scales(struct jal_ymv_panel *p, size_t g0,
				 __m256 *s0, __m256 *s1, __m256 *s2, __m256 *s3)
{
	__m128i take = _mm256_castsi256_si128(jal_ymv_mask(p->ng - g0));
	__m256 z0, z1, z2, z3, t0, t1, t2, t3;

	jal_ymv_prefetch(&p->pfs, 2);
#define JAL_YMV_WS2(a, b)						\
	_mm256_insertf128_ps(_mm256_castps128_ps256(jal_ymv_panel_ws(p, a, g0, take)), \
			     jal_ymv_panel_ws(p, b, g0, take), 1)
	z0 = JAL_YMV_WS2(0, 4);
	z1 = JAL_YMV_WS2(1, 5);
	z2 = JAL_YMV_WS2(2, 6);
	z3 = JAL_YMV_WS2(3, 7);
#undef JAL_YMV_WS2
	t0 = _mm256_unpacklo_ps(z0, z1);
	t1 = _mm256_unpackhi_ps(z0, z1);
	t2 = _mm256_unpacklo_ps(z2, z3);
	t3 = _mm256_unpackhi_ps(z2, z3);
	*s0 = _mm256_shuffle_ps(t0, t2, 0x44);
	*s1 = _mm256_shuffle_ps(t0, t2, 0xee);
	*s2 = _mm256_shuffle_ps(t1, t3, 0x44);
	*s3 = _mm256_shuffle_ps(t1, t3, 0xee);
}

/* Groups g and g + 1 of 16 bytes: the low and the high halves. */
JAL_AI void jal_ymv_panel_16(struct jal_ymv_panel *p, size_t g,
			     __m256 *a0, __m256 *a1, __m256 s0, __m256 s1)
{
	__m256i lo, hi;

	if (g >= p->ng)
		return;
	lo = jal_ymv_panel_halves(p, 16 * g, g + 1 == p->ng, &hi);
	jal_ymv_panel_group(p, a0, g, _mm256_permute2x128_si256(lo, hi, 0x20), s0);
	jal_ymv_panel_group(p, a1, g + 1, _mm256_permute2x128_si256(lo, hi, 0x31), s1);
}

/*
 * Group g of 32 bytes or more, a step at a time: the halves of the steps
 * added up, then the two halves of the sums.
 */
JAL_AI void jal_ymv_panel_32(struct jal_ymv_panel *p, size_t g,
			     __m256 *a0, __m256 s0)
{
	size_t off, end;
	__m256i lo, hi, h;

	if (g >= p->ng)
		return;
	off = g * p->group;
	end = off + p->group;
	lo = jal_ymv_panel_halves(p, off, false, &hi);
	for (off += p->step; off < end; off += p->step) {
		lo = _mm256_add_epi32(lo, jal_ymv_panel_halves(p, off, false, &h));
		hi = _mm256_add_epi32(hi, h);
	}
	jal_ymv_panel_group(p, a0, g, jal_ymv_sum8(lo, hi), s0);
}

/*
 * Rows 0..last (at most 8) into out; @group 16 or a multiple of 32, in
 * steps of @step bytes of each row (32 or 64; 16 groups take two a
 * step), @pfn lines of the rows two panels on prefetched a step. Eight
 * groups a round, so that group g0 + j goes to accumulator j; four at a
 * time, so that their scales take four registers.
 */
JAL_AI void jal_ymv_q8x_panel(float *out, const int8_t *w, size_t pitch,
			      const float *ws, size_t group, const int8_t *q,
			      const float *xs, size_t last, size_t k, size_t step,
			      size_t pfn, bool q4)
{
	struct jal_ymv_panel p = {
		.w = w, .pitch = pitch, .last = last, .q = q, .group = group,
		.k = k, .ng = k / group, .step = step, .ws = ws, .xs = xs,
		.pf = w + 16 * pitch, .pfs = (const int8_t *)(ws + 16 * (k / group)),
		.pfn = pfn, .q4 = q4,
	};
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m256 a4 = a0, a5 = a0, a6 = a0, a7 = a0;
	__m256 s0, s1, s2, s3;
	float t[8];
	size_t g0;

	for (g0 = 0; g0 < p.ng; g0 += 8) {
		jal_ymv_panel_scales(&p, g0, &s0, &s1, &s2, &s3);
		if (group == 16) {
			jal_ymv_panel_16(&p, g0, &a0, &a1, s0, s1);
			jal_ymv_panel_16(&p, g0 + 2, &a2, &a3, s2, s3);
		} else {
			jal_ymv_panel_32(&p, g0, &a0, s0);
			jal_ymv_panel_32(&p, g0 + 1, &a1, s1);
			jal_ymv_panel_32(&p, g0 + 2, &a2, s2);
			jal_ymv_panel_32(&p, g0 + 3, &a3, s3);
		}
		if (g0 + 4 >= p.ng)
			break;
		jal_ymv_panel_scales(&p, g0 + 4, &s0, &s1, &s2, &s3);
		if (group == 16) {
			jal_ymv_panel_16(&p, g0 + 4, &a4, &a5, s0, s1);
			jal_ymv_panel_16(&p, g0 + 6, &a6, &a7, s2, s3);
		} else {
			jal_ymv_panel_32(&p, g0 + 4, &a4, s0);
			jal_ymv_panel_32(&p, g0 + 5, &a5, s1);
			jal_ymv_panel_32(&p, g0 + 6, &a6, s2);
			jal_ymv_panel_32(&p, g0 + 7, &a7, s3);
		}
	}
	/* l_tree(), a lane per row. */
	a0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
			   _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
	if (last == 7) {
		_mm256_storeu_ps(out, a0);
		return;
	}
	_mm256_storeu_ps(t, a0);
	memcpy(out, t, (last + 1) * sizeof(float));
}

/*
 * All rows in panels; fewer than 8 rows left at the end are the last 8
 * rows again (the overlap is recomputed with the same bits).
 */
JAL_AI void jal_ymv_q8x_panels(float *out, const int8_t *w, size_t pitch,
			       const float *ws, size_t group, const int8_t *q,
			       const float *xs, size_t rows, size_t k, size_t step,
			       bool q4)
{
	size_t m, ng = k / group, pfn = jal_ymv_pfn(pitch, 8, (k + step - 1) / step);

	if (rows < 8) {
		if (rows)
			jal_ymv_q8x_panel(out, w, pitch, ws, group, q, xs, rows - 1, k,
					  step, 0, q4);
		return;
	}
	for (m = 0; m < rows; m += 8) {
		m = JAL_KMIN(m, rows - 8);
		jal_ymv_q8x_panel(out + m, w + m * pitch, pitch, ws + m * ng, group, q,
				  xs, 7, k, step, pfn, q4);
	}
}

/* @size: the group size, as a constant where it is one. */
#define JAL_YMV_Q8X_PANELS(name, size, step)				\
static void name(float *out, const int8_t *w, size_t pitch,		\
		 const float *ws, size_t group, const int8_t *q,	\
		 const float *xs, const int32_t *bias, size_t rows,	\
		 size_t k)						\
{									\
	(void)group;							\
	(void)bias;							\
	jal_ymv_q8x_panels(out, w, pitch, ws, size, q, xs, rows, k, step, false); \
}

JAL_YMV_Q8X_PANELS(jal_ymv_q8x_16, 16, 32)
JAL_YMV_Q8X_PANELS(jal_ymv_q8x_32, 32, 32)
JAL_YMV_Q8X_PANELS(jal_ymv_q8x_64, 64, 64)
JAL_YMV_Q8X_PANELS(jal_ymv_q8x_wide, group, 64)

/* Q4: the panels of groups of 32 with each group's 16 bytes widened to its 32 weights. */
static void jal_ymv_q4(float *out, const uint8_t *w, size_t pitch, const float *ws,
		       const int8_t *q, const float *xs, size_t rows, size_t k)
{
	jal_ymv_q8x_panels(out, (const int8_t *)w, pitch, ws, 32, q, xs, rows, k, 32, true);
}
