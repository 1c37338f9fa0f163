/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: MATVEC of decoded weights (BF16, Q8, S24) and of
 * Q8X with AVX-512; part of jal_kern_impl.h, included only where the
 * target has AVX-512F, BW, VL and VNNI (the avx512 variant).
 *
 * Decoding costs several instructions per eight weights in the 256-bit
 * kernels, more than the multiply-add itself, so these decode sixteen
 * columns of a row into one 512-bit register: BF16 and Q8 with one
 * widening load, S24 with one byte shuffle from a table of controls. The
 * products of two rows are then regrouped so that one register
 * holds columns 0..7 of both rows and another columns 8..15, which are
 * added to the accumulator in that order. Each half of the accumulator
 * is one dot product's eight lanes, columns in increasing order, so the
 * bits are those of the 256-bit kernels (see jal_kern.h).
 */
#ifndef JAL_KERN_IMPL_H_INSIDE
#error "jal_kern_zmv.h is part of jal_kern_impl.h"
#endif

/* Columns 0..7 of rows a and b; columns 8..15 of both. */
JAL_AI __m512 jal_zmv_lo(__m512 a, __m512 b)
{
	return _mm512_shuffle_f32x4(a, b, 0x44);
}

JAL_AI __m512 jal_zmv_hi(__m512 a, __m512 b)
{
	return _mm512_shuffle_f32x4(a, b, 0xee);
}

/* acc (two rows' lanes) += the products of rows a and b, in column order. */
JAL_AI __m512 jal_zmv_add2(__m512 acc, __m512 a, __m512 b)
{
	acc = _mm512_add_ps(acc, jal_zmv_lo(a, b));
	return _mm512_add_ps(acc, jal_zmv_hi(a, b));
}

/* Sixteen BF16 weights as f32. */
JAL_AI __m512 jal_zmv_bf16(const void *w)
{
	__m256i h = _mm256_loadu_si256((const __m256i *)w);

	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Sixteen Q8 weights times their scale. */
JAL_AI __m512 jal_zmv_q8(const int8_t *w, __m512 s)
{
	__m128i b = _mm_loadu_si128((const __m128i *)w);

	return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(b)), s);
}

/* Sixteen f32 weights (jal_zmv_bf16()'s counterpart). */
JAL_AI __m512 jal_zmv_f32(const void *w)
{
	return _mm512_loadu_ps(w);
}

/*
 * Four rows of @esize-byte weights that @ld turns into f32 sixteen at a
 * time, k a multiple of 16, @pitch in bytes. Rather than the 256-bit
 * tiles' 8 columns, a register holds 16 of one row: half the loads and
 * multiplies. The next rows' lines are prefetched as the current ones
 * stream past.
 */
JAL_AI void jal_zmv_rows4(float *out, const uint8_t *w, size_t pitch,
			  size_t esize, const float *x, size_t k,
			  __m512 (*ld)(const void *))
{
	const uint8_t *w0 = w, *w1 = w + pitch, *w2 = w + 2 * pitch;
	const uint8_t *w3 = w + 3 * pitch;
	__m512 a = _mm512_setzero_ps(), b = a;
	size_t kk, at;

	for (kk = 0; kk < k; kk += 16) {
		__m512 xv = _mm512_loadu_ps(x + kk);

		at = kk * esize;
		if (!(at & 63)) {
			__builtin_prefetch(w0 + 4 * pitch + at);
			__builtin_prefetch(w1 + 4 * pitch + at);
			__builtin_prefetch(w2 + 4 * pitch + at);
			__builtin_prefetch(w3 + 4 * pitch + at);
		}
		a = jal_zmv_add2(a, _mm512_mul_ps(ld(w0 + at), xv),
				 _mm512_mul_ps(ld(w1 + at), xv));
		b = jal_zmv_add2(b, _mm512_mul_ps(ld(w2 + at), xv),
				 _mm512_mul_ps(ld(w3 + at), xv));
	}
	/* Each half is a row's eight lanes: jal_z_store()'s layout. */
	jal_z_store(out, (jal_v16)a);
	jal_z_store(out + 2, (jal_v16)b);
}

JAL_AI void jal_zmv_f32_4(float *out, const float *w, size_t pitch,
			  const float *x, size_t k)
{
	jal_zmv_rows4(out, (const uint8_t *)w, pitch * 4, 4, x, k, jal_zmv_f32);
}

JAL_AI void jal_zmv_bf16_4(float *out, const uint16_t *w, size_t pitch,
			   const float *x, size_t k)
{
	jal_zmv_rows4(out, (const uint8_t *)w, pitch * 2, 2, x, k, jal_zmv_bf16);
}

/* Q8, four rows, group (and so k) a multiple of 16. */
JAL_AI void jal_zmv_q8_4(float *out, const int8_t *w, size_t pitch,
			 const float *scales, size_t group, const float *x,
			 size_t k)
{
	const int8_t *w0 = w, *w1 = w + pitch, *w2 = w + 2 * pitch;
	const int8_t *w3 = w + 3 * pitch;
	size_t spitch = k / group, g, kk;
	__m512 a = _mm512_setzero_ps(), b = a;

	for (g = 0; g < spitch; g++) {
		__m512 s0 = _mm512_set1_ps(scales[g]);
		__m512 s1 = _mm512_set1_ps(scales[spitch + g]);
		__m512 s2 = _mm512_set1_ps(scales[2 * spitch + g]);
		__m512 s3 = _mm512_set1_ps(scales[3 * spitch + g]);

		for (kk = g * group; kk < (g + 1) * group; kk += 16) {
			__m512 xv = _mm512_loadu_ps(x + kk);

			if (!(kk & 63)) {
				__builtin_prefetch(w0 + 4 * pitch + kk);
				__builtin_prefetch(w1 + 4 * pitch + kk);
				__builtin_prefetch(w2 + 4 * pitch + kk);
				__builtin_prefetch(w3 + 4 * pitch + kk);
			}
			a = jal_zmv_add2(a, _mm512_mul_ps(jal_zmv_q8(w0 + kk, s0), xv),
					 _mm512_mul_ps(jal_zmv_q8(w1 + kk, s1), xv));
			b = jal_zmv_add2(b, _mm512_mul_ps(jal_zmv_q8(w2 + kk, s2), xv),
					 _mm512_mul_ps(jal_zmv_q8(w3 + kk, s3), xv));
		}
	}
	/* Each half is a row's eight lanes: jal_z_store()'s layout. */
	jal_z_store(out, (jal_v16)a);
	jal_z_store(out + 2, (jal_v16)b);
}

/*
 * S24: the four groups' value words of 16 columns in every 128-bit lane,
 * then one byte shuffle whose control depends on the four index bytes
 * (jal_s24_ctl16: lane g moves group g's values to the high halves of
 * their columns' 32-bit lanes and zeroes everything else). The offsets
 * of the controls come from the index bytes by a byte shuffle (to their
 * codes) and two multiply-adds, a block of columns at a time, which also
 * checks the bytes.
 */
#define JAL_ZMV_S24_COLS	256

/*
 * Control offsets (bytes into jal_s24_ctl16) of the groups of 16 columns
 * among @n (at most 64) index bytes, a last partial group completed with
 * valid dummies; false if one of the @n is invalid.
 */
JAL_AI bool jal_zmv_s24_offsets(uint32_t *off, const uint8_t *idx, size_t n)
{
	const __m512i code = _mm512_broadcast_i32x4(
		_mm_loadu_si128((const __m128i *)jal_s24_code));
	__mmask64 take = n >= 64 ? ~0ull : (1ull << n) - 1;
	__m512i b = _mm512_mask_loadu_epi8(_mm512_set1_epi8(0x4), take, idx);
	__m512i c = _mm512_shuffle_epi8(code, b);
	/*
	 * c0 + 6 c1 per byte pair, then (c0 + 6 c1) + 36 (c2 + 6 c3); an
	 * invalid byte's code taken as 0, so that even a block the caller
	 * will reject never points outside the table.
	 */
	__m512i cv = _mm512_and_si512(c, _mm512_set1_epi8(7));
	__m512i w = _mm512_maddubs_epi16(_mm512_set1_epi16(6 << 8 | 1), cv);
	__m512i d = _mm512_madd_epi16(w, _mm512_set1_epi32(36 << 16 | 1));

	_mm512_storeu_si512(off, _mm512_slli_epi32(d, 6));
	/* Bits 7..4 of a byte, or of its code (JAL_S24_NOCODE). */
	return !_mm512_mask_test_epi8_mask(take, _mm512_or_si512(b, c),
					   _mm512_set1_epi8((char)0xf0));
}

/*
 * The value words of a row's next 16 columns, or of its last @cols < 16
 * (read under a mask, so nothing past the row is touched).
 */
JAL_AI __m128i jal_zmv_s24_vals(const uint16_t *v, size_t cols)
{
	if (cols == 16)
		return _mm_loadu_si128((const __m128i *)v);
	return _mm_maskz_loadu_epi16((__mmask8)((1u << (cols / 2)) - 1), v);
}

/* Their sixteen columns (control at @off) times x. */
JAL_AI __m512 jal_zmv_s24_prod(__m128i vals, uint32_t off, __m512 xv)
{
	__m512i w = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(vals),
					_mm512_load_si512(jal_s24_ctl16 + off));

	return _mm512_mul_ps(_mm512_castsi512_ps(w), xv);
}

#define JAL_ZMV_S24_ROW(r, cols)					\
	jal_zmv_s24_prod(jal_zmv_s24_vals(v + (r) * pitch + kk / 2, cols),	\
			 off[r][i / 16], xv)

/* Four rows, k a multiple of 4; false for an invalid index byte. */
JAL_AI bool jal_zmv_s24_4(float *out, const uint16_t *v, size_t pitch,
			  const uint8_t *idx, const float *x, size_t k)
{
	/*
	 * Written before it is read: not to be zero-filled on every call
	 * (QEMU builds with -ftrivial-auto-var-init=zero).
	 */
	uint32_t off[4][JAL_ZMV_S24_COLS / 16] __attribute__((uninitialized));
	size_t ipitch = k / 4, c0, kk, n = 0, i = 0;
	__m512 a = _mm512_setzero_ps(), b = a, xv;
	bool ok = true;
	unsigned int r;

	for (c0 = 0; c0 < k; c0 += JAL_ZMV_S24_COLS) {
		n = JAL_KMIN(k - c0, (size_t)JAL_ZMV_S24_COLS);
		for (r = 0; r < 4; r++) {
			ok &= jal_zmv_s24_offsets(off[r], idx + r * ipitch + c0 / 4,
						  n / 4);
			/* The next rows' values: 128 columns a line. */
			__builtin_prefetch(v + (r + 4) * pitch + c0 / 2);
			__builtin_prefetch(v + (r + 4) * pitch + c0 / 2 + 32);
		}
		for (i = 0; i + 16 <= n; i += 16) {
			kk = c0 + i;
			xv = _mm512_loadu_ps(x + kk);
			a = jal_zmv_add2(a, JAL_ZMV_S24_ROW(0, 16), JAL_ZMV_S24_ROW(1, 16));
			b = jal_zmv_add2(b, JAL_ZMV_S24_ROW(2, 16), JAL_ZMV_S24_ROW(3, 16));
		}
	}
	if (i < n) {
		/* The row's last 4, 8 or 12 columns. */
		kk = c0 - JAL_ZMV_S24_COLS + i;
		n -= i;
		xv = _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), x + kk);
		a = jal_zmv_add2(a, JAL_ZMV_S24_ROW(0, n), JAL_ZMV_S24_ROW(1, n));
		b = jal_zmv_add2(b, JAL_ZMV_S24_ROW(2, n), JAL_ZMV_S24_ROW(3, n));
	}
	/* Each half is a row's eight lanes: jal_z_store()'s layout. */
	jal_z_store(out, (jal_v16)a);
	jal_z_store(out + 2, (jal_v16)b);
	return ok;
}

/*
 * Q8X with VNNI: the weights offset to unsigned bytes (w ^ 0x80 is
 * w + 128) times the quantized x, four products summed into each 32-bit
 * lane by one instruction (the offset comes off again with the groups'
 * biases, which start the sums). Integer sums are exact in any order,
 * and the float part of each group is the same operations as the
 * baseline's, so the bits are the same.
 *
 * Groups of 4 and 8 go eight rows at a time, eight groups of each row a
 * step, two rows a register: rows r and r + 4 share accumulator r, its
 * low half row r's eight lanes and its high half row r + 4's. The sums
 * of eight groups of two rows land there directly (groups of 4: one
 * multiply-add on 32 bytes of each row; groups of 8: 64 bytes of each,
 * lanes paired), so that the float part is one instruction for two rows,
 * and the eight rows' final lane trees are shuffles of all four
 * accumulators at once.
 */

/* Lane j: lanes 2j and 2j + 1 of a (lanes 0..15) then b (16..31), added. */
JAL_AI __m512i jal_zmv_pairs(__m512i a, __m512i b)
{
	const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16,
					      14, 12, 10, 8, 6, 4, 2, 0);
	const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));

	return _mm512_add_epi32(_mm512_permutex2var_epi32(a, even, b),
				_mm512_permutex2var_epi32(a, odd, b));
}

/* The same for floats, within each 128-bit block (a0 + a1, a2 + a3, b0 + b1, b2 + b3). */
JAL_AI __m512 jal_zmv_pairs_ps(__m512 a, __m512 b)
{
	return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xdd));
}

/* 32 bytes at @p, or the first @n < 32 with zeros after them (nothing past them read). */
JAL_AI __m256i jal_zmv_ld32(const int8_t *p, size_t n)
{
	if (n >= 32)
		return _mm256_loadu_si256((const __m256i *)p);
	return _mm256_maskz_loadu_epi8((__mmask32)((1u << n) - 1), p);
}

/* 64 bytes at @p, or the first @n < 64 with zeros after them. */
JAL_AI __m512i jal_zmv_ld64(const int8_t *p, size_t n)
{
	if (n >= 64)
		return _mm512_loadu_si512(p);
	return _mm512_maskz_loadu_epi8((1ull << n) - 1, p);
}

/* Eight floats at @p, or those under @take (the others 0) in a last step. */
JAL_AI __m256 jal_zmv_ld8(const float *p, bool full, __mmask8 take)
{
	if (full)
		return _mm256_loadu_ps(p);
	return _mm256_maskz_loadu_ps(take, p);
}

/*
 * Rows up to this long are prefetched: a block reads 32 or 64 bytes of
 * each of its rows in turn, which the hardware prefetchers do not follow
 * well (as in jal_kern_ymv.h). The rows of the block after next are one
 * range of memory, prefetched a few lines a step, and so are their
 * scales.
 */
#define JAL_ZMV_ROWS_PREFETCH_PITCH	2048

/* Lines to prefetch at each of @steps steps to cover @bytes, or 0 for long rows. */
JAL_AI size_t jal_zmv_pfn(size_t pitch, size_t bytes, size_t steps)
{
	if (pitch > JAL_ZMV_ROWS_PREFETCH_PITCH)
		return 0;
	return ((bytes + 63) / 64 + steps) / steps;
}

/* Prefetch @n lines from *pf on, and move *pf past them. */
JAL_AI void jal_zmv_prefetch(const int8_t **pf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		__builtin_prefetch(*pf + 64 * i);
	*pf += 64 * n;
}

/*
 * acc (rows a and b) + ((float)sums * ws) * xs over the rows' next eight
 * groups of @size bytes, the first @n bytes from @wa, @wb: all eight if
 * @full, else those under @take (the others have sums, biases and scales
 * 0, so they add +0.0, which leaves a lane as it was: lanes start at
 * +0.0 and can never be -0.0). @qv holds the groups' q bytes, @nb their
 * negated biases in the lanes their sums will take, @xv their x scales
 * for both rows.
 */
JAL_AI __m512 jal_zmv_rows_step(__m512 acc, const int8_t *wa, const int8_t *wb,
				const float *wsa, const float *wsb, __m512i qv,
				__m512i nb, __m512 xv, size_t n, size_t size,
				bool full, __mmask8 take)
{
	const __m512i offset = _mm512_set1_epi8((char)0x80);
	__m512i s, w;
	__m512 wv;

	if (size == 4) {
		w = _mm512_inserti64x4(_mm512_castsi256_si512(jal_zmv_ld32(wa, n)),
				       jal_zmv_ld32(wb, n), 1);
		s = _mm512_dpbusd_epi32(nb, _mm512_xor_si512(w, offset), qv);
	} else {
		s = jal_zmv_pairs(_mm512_dpbusd_epi32(nb, _mm512_xor_si512(jal_zmv_ld64(wa, n),
									   offset), qv),
				  _mm512_dpbusd_epi32(nb, _mm512_xor_si512(jal_zmv_ld64(wb, n),
									   offset), qv));
	}
	wv = _mm512_insertf32x8(_mm512_castps256_ps512(jal_zmv_ld8(wsa, full, take)),
				jal_zmv_ld8(wsb, full, take), 1);
	return _mm512_add_ps(acc, _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(s), wv), xv));
}

/* What the rows of a block share in a step: q, biases and x scales of groups g.. */
JAL_AI void jal_zmv_rows_shared(const int8_t *q, const float *xs, const int32_t *bias,
				size_t g, size_t n, size_t size, bool full, __mmask8 take,
				__m512i *qv, __m512i *nb, __m512 *xv)
{
	__m256i b = full ? _mm256_loadu_si256((const __m256i *)(bias + g)) :
		_mm256_maskz_loadu_epi32(take, bias + g);
	__m256 x = jal_zmv_ld8(xs + g, full, take);

	b = _mm256_sub_epi32(_mm256_setzero_si256(), b);
	*xv = _mm512_insertf32x8(_mm512_castps256_ps512(x), x, 1);
	if (size == 4) {
		__m256i qh = jal_zmv_ld32(q + g * size, n);

		*qv = _mm512_inserti64x4(_mm512_castsi256_si512(qh), qh, 1);
		*nb = _mm512_inserti64x4(_mm512_castsi256_si512(b), b, 1);
	} else {
		*qv = jal_zmv_ld64(q + g * size, n);
		/* Group j's sum is lanes 2j and 2j + 1: the bias starts lane 2j. */
		*nb = _mm512_cvtepu32_epi64(b);
	}
}

#define JAL_ZMV_ROWS_STEP(r)						\
	(a##r = jal_zmv_rows_step(a##r, w##r + g * size, w##r##h + g * size,	\
				  ws##r + g, ws##r##h + g, qv, nb, xv, n, size,	\
				  full, take))

/*
 * Rows 0..last (at most 8) of groups of @size bytes; rows past @last
 * repeat it. The rows 16 on are prefetched, @pfn lines a step.
 */
JAL_AI void jal_zmv_q8x_rows(float *out, const int8_t *w, size_t pitch,
			     const float *ws, size_t size, const int8_t *q,
			     const float *xs, const int32_t *bias, size_t last,
			     size_t k, size_t pfn)
{
	size_t ng = k / size, g, n;
#define JAL_ZMV_ROW_PTRS(r, rh)							\
	const int8_t *w##r = w + JAL_KMIN((size_t)(r), last) * pitch;		\
	const int8_t *w##r##h = w + JAL_KMIN((size_t)(rh), last) * pitch;	\
	const float *ws##r = ws + JAL_KMIN((size_t)(r), last) * ng;		\
	const float *ws##r##h = ws + JAL_KMIN((size_t)(rh), last) * ng
	JAL_ZMV_ROW_PTRS(0, 4);
	JAL_ZMV_ROW_PTRS(1, 5);
	JAL_ZMV_ROW_PTRS(2, 6);
	JAL_ZMV_ROW_PTRS(3, 7);
#undef JAL_ZMV_ROW_PTRS
	const int8_t *pf = w + 16 * pitch, *pfs = (const int8_t *)(ws + 16 * ng);
	size_t pfsn = pfn ? jal_zmv_pfn(0, 8 * ng * sizeof(float), (ng + 7) / 8) : 0;
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, xv, t;
	__m512i qv, nb;
	__mmask8 take = 0xff;
	bool full = true;

	for (g = 0; g + 8 <= ng; g += 8) {
		n = 8 * size;
		jal_zmv_prefetch(&pf, pfn);
		jal_zmv_prefetch(&pfs, pfsn);
		jal_zmv_rows_shared(q, xs, bias, g, n, size, full, take, &qv, &nb, &xv);
		JAL_ZMV_ROWS_STEP(0);
		JAL_ZMV_ROWS_STEP(1);
		JAL_ZMV_ROWS_STEP(2);
		JAL_ZMV_ROWS_STEP(3);
	}
	if (g < ng) {
		full = false;
		take = (__mmask8)((1u << (ng - g)) - 1);
		n = (ng - g) * size;
		jal_zmv_rows_shared(q, xs, bias, g, n, size, full, take, &qv, &nb, &xv);
		JAL_ZMV_ROWS_STEP(0);
		JAL_ZMV_ROWS_STEP(1);
		JAL_ZMV_ROWS_STEP(2);
		JAL_ZMV_ROWS_STEP(3);
	}
	/*
	 * l_tree() of all eight rows: two rounds of pairs leave block 0 with
	 * rows 0..3's ((l0 + l1) + (l2 + l3)), block 1 their ((l4 + l5) +
	 * (l6 + l7)), blocks 2 and 3 the same for rows 4..7.
	 */
	t = jal_zmv_pairs_ps(jal_zmv_pairs_ps(a0, a1), jal_zmv_pairs_ps(a2, a3));
	t = _mm512_add_ps(_mm512_shuffle_f32x4(t, t, 0x88), _mm512_shuffle_f32x4(t, t, 0xdd));
	_mm256_mask_storeu_ps(out, (__mmask8)((2u << last) - 1), _mm512_castps512_ps256(t));
}

#undef JAL_ZMV_ROWS_STEP

/*
 * All rows eight at a time; fewer than 8 rows left at the end are the
 * last 8 rows again (the overlap is recomputed with the same bits).
 */
#define JAL_ZMV_Q8X(name, size)						\
static void name(float *out, const int8_t *w, size_t pitch,		\
		 const float *ws, size_t group, const int8_t *q,	\
		 const float *xs, const int32_t *bias, size_t rows,	\
		 size_t k)						\
{									\
	size_t m, ng = k / (size);					\
	size_t pfn = jal_zmv_pfn(pitch, 8 * pitch, (ng + 7) / 8);	\
									\
	(void)group;							\
	if (rows < 8) {							\
		if (rows)						\
			jal_zmv_q8x_rows(out, w, pitch, ws, size, q, xs, bias, \
					 rows - 1, k, 0);		\
		return;							\
	}								\
	for (m = 0; m < rows; m += 8) {					\
		m = JAL_KMIN(m, rows - 8);				\
		jal_zmv_q8x_rows(out + m, w + m * pitch, pitch, ws + m * ng, \
				 size, q, xs, bias, 7, k, pfn);		\
	}								\
}

JAL_ZMV_Q8X(jal_zmv_q8x_4, 4)
JAL_ZMV_Q8X(jal_zmv_q8x_8, 8)

/*
 * Groups of 16 bytes and more, sixteen rows at a time (a panel). One
 * row's quads of 64 bytes fill a register whose lanes belong to one to
 * four groups; reducing them row by row costs a tree per row. A panel
 * instead adds the registers of its sixteen rows into each other, a
 * transpose that ends with row r's group sum in lane r, so that the float
 * part is one instruction per group for all sixteen rows (lane r of
 * accumulator g % 8 is row r's lane g % 8) and the final lane tree is
 * seven vertical additions.
 */

/* Per 128-bit block: (a0 + a1, a2 + a3, b0 + b1, b2 + b3). */
JAL_AI __m512i jal_zmv_hadd(__m512i a, __m512i b)
{
	__m512 fa = _mm512_castsi512_ps(a), fb = _mm512_castsi512_ps(b);

	return _mm512_add_epi32(
		_mm512_castps_si512(_mm512_shuffle_ps(fa, fb, 0x88)),
		_mm512_castps_si512(_mm512_shuffle_ps(fa, fb, 0xdd)));
}

/* 128-bit blocks (0, 2) of a, (0, 2) of b plus blocks (1, 3) of each. */
JAL_AI __m512i jal_zmv_hadd128(__m512i a, __m512i b)
{
	return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, 0x88),
				_mm512_shuffle_i32x4(a, b, 0xdd));
}

/*
 * Rows up to this long are prefetched two panels ahead. A panel reads 64
 * bytes of each of its rows in turn, which the hardware prefetchers do
 * not follow across short rows (weights streaming from memory arrived at
 * 12 GB/s instead of 25); long rows they stream on their own, and there
 * prefetching slows things down.
 */
#define JAL_ZMV_PREFETCH_PITCH	1024

/*
 * Row @r of a panel: the offset quads of @span bytes from @off (@span a
 * multiple of 64, summed by chaining the multiply-adds), or of @n < 64
 * bytes if @n. Rows past @last repeat row @last: a panel of fewer than
 * sixteen rows reads only its own. @q4: Q4 weights, @off and @n in
 * columns, @span 64: the row's 32 bytes (two groups) become its 64
 * nibbles in column order (each group's low nibbles, then its high
 * ones), unsigned already.
 */
JAL_AI __m512i jal_zmv_panel_row(const int8_t *w, size_t pitch, size_t r,
				 size_t last, const int8_t *q, size_t off,
				 size_t span, size_t n, bool q4)
{
	const __m512i offset = _mm512_set1_epi8((char)0x80);
	const int8_t *wr = w + JAL_KMIN(r, last) * pitch + (q4 ? off / 2 : off);
	__m512i acc = _mm512_setzero_si512(), wv;
	size_t i;

	if (pitch <= JAL_ZMV_PREFETCH_PITCH)
		__builtin_prefetch(wr + 32 * pitch);
	if (q4) {
		__m256i v = n ? _mm256_maskz_loadu_epi8((__mmask32)((1u << (n / 2)) - 1), wr) :
			    _mm256_loadu_si256((const __m256i *)wr);

		/* (lo, hi, lo >> 4, hi >> 4) to (lo, lo >> 4, hi, hi >> 4): columns 0..63. */
		wv = _mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1);
		wv = _mm512_and_si512(_mm512_shuffle_i32x4(wv, wv, 0xd8), _mm512_set1_epi8(15));
		return _mm512_dpbusd_epi32(acc, wv, n ? _mm512_maskz_loadu_epi8((1ull << n) - 1,
										  q + off) :
					   _mm512_loadu_si512(q + off));
	}
	if (n) {
		/* q's bytes past n are masked to 0, so are their products. */
		wv = _mm512_maskz_loadu_epi8((1ull << n) - 1, wr);
		return _mm512_dpbusd_epi32(acc, _mm512_xor_si512(wv, offset),
					   _mm512_maskz_loadu_epi8((1ull << n) - 1,
								   q + off));
	}
	for (i = 0; i < span; i += 64) {
		if (i && pitch <= JAL_ZMV_PREFETCH_PITCH)
			__builtin_prefetch(wr + 32 * pitch + i);
		wv = _mm512_xor_si512(_mm512_loadu_si512(wr + i), offset);
		acc = _mm512_dpbusd_epi32(acc, wv,
					  _mm512_loadu_si512(q + off + i));
	}
	return acc;
}

/*
 * The sixteen rows' sums over each 128-bit block of the quads at @off:
 * b[j], block i, lane l is row 4j + l's block i.
 */
JAL_AI void jal_zmv_panel_blocks(__m512i *b0, __m512i *b1, __m512i *b2,
				 __m512i *b3, const int8_t *w, size_t pitch,
				 size_t last, const int8_t *q, size_t off,
				 size_t span, size_t n, bool q4)
{
#define JAL_ZMV_ROW(r)	jal_zmv_panel_row(w, pitch, r, last, q, off, span, n, q4)
#define JAL_ZMV_BLOCKS(j)						\
	jal_zmv_hadd(jal_zmv_hadd(JAL_ZMV_ROW(4 * (j)), JAL_ZMV_ROW(4 * (j) + 1)), \
		     jal_zmv_hadd(JAL_ZMV_ROW(4 * (j) + 2), JAL_ZMV_ROW(4 * (j) + 3)))
	*b0 = JAL_ZMV_BLOCKS(0);
	*b1 = JAL_ZMV_BLOCKS(1);
	*b2 = JAL_ZMV_BLOCKS(2);
	*b3 = JAL_ZMV_BLOCKS(3);
#undef JAL_ZMV_BLOCKS
#undef JAL_ZMV_ROW
}

/* What a panel's steps share. */
struct jal_zmv_panel {
	const int8_t *w;	/* row 0 of the panel */
	size_t pitch, last;	/* rows past last repeat it */
	const int8_t *q;
	size_t group, span, k, ng;
	const float *ws;	/* row 0's group scales */
	const float *xs;
	const int32_t *bias;
	bool q4;		/* Q4 weights: nibbles offset by 8, bias / 16 */
};

/* b0..b3 of jal_zmv_panel_blocks() for the span that starts with group g. */
JAL_AI void jal_zmv_panel_span(const struct jal_zmv_panel *p, size_t g,
			       __m512i *b0, __m512i *b1, __m512i *b2, __m512i *b3)
{
	size_t off = g * p->group;

	jal_zmv_panel_blocks(b0, b1, b2, b3, p->w, p->pitch, p->last, p->q,
			     off, p->span, p->k - off < 64 ? p->k - off : 0, p->q4);
}

/*
 * acc += group g's ((float)sum * ws) * xs for the panel's rows, if the
 * rows have a group g: a missing group must not add even +0.0 (a lane at
 * -0.0 would turn +0.0).
 */
JAL_AI void jal_zmv_panel_group(const struct jal_zmv_panel *p, __m512 *acc,
				size_t g, __m512i sums, __m512 ws)
{
	__m512 t;

	if (g >= p->ng)
		return;
	sums = _mm512_sub_epi32(sums, _mm512_set1_epi32(p->q4 ? p->bias[g] >> 4 : p->bias[g]));
	t = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), ws);
	*acc = _mm512_add_ps(*acc, _mm512_mul_ps(t, _mm512_set1_ps(p->xs[g])));
}

/*
 * The weight scales of groups g0..g0 + 7 (those there are), a register a
 * group, lane r row r: sixteen rows of eight transposed. A gather per
 * group would cost twice the rest of the panel.
 */
JAL_AI void jal_zmv_panel_scales(const struct jal_zmv_panel *p, size_t g0,
				 __m512 *s0, __m512 *s1, __m512 *s2, __m512 *s3,
				 __m512 *s4, __m512 *s5, __m512 *s6, __m512 *s7)
{
	__mmask8 take = (__mmask8)(p->ng - g0 < 8 ? (1u << (p->ng - g0)) - 1 : 0xff);
	__m512 z0, z1, z2, z3, z4, z5, z6, z7, t0, t1, t2, t3, t4, t5, t6, t7;

	if (p->ng == 1) {
		/* A group a row (k = group): the rows' scales are adjacent. */
		*s0 = _mm512_maskz_loadu_ps((__mmask16)((2u << p->last) - 1), p->ws);
		*s1 = *s2 = *s3 = *s4 = *s5 = *s6 = *s7 = *s0;
		return;
	}

	/* z: rows (i, i + 4) for i < 4, (i + 4, i + 8) for i >= 4, ... */
#define JAL_ZMV_WS(r)								_mm256_maskz_loadu_ps(take, p->ws + JAL_KMIN((size_t)(r), p->last) * p->ng + g0)
#define JAL_ZMV_WS2(a, b)							_mm512_insertf32x8(_mm512_castps256_ps512(JAL_ZMV_WS(a)), JAL_ZMV_WS(b), 1)
	z0 = JAL_ZMV_WS2(0, 4);
	z1 = JAL_ZMV_WS2(1, 5);
	z2 = JAL_ZMV_WS2(2, 6);
	z3 = JAL_ZMV_WS2(3, 7);
	z4 = JAL_ZMV_WS2(8, 12);
	z5 = JAL_ZMV_WS2(9, 13);
	z6 = JAL_ZMV_WS2(10, 14);
	z7 = JAL_ZMV_WS2(11, 15);
#undef JAL_ZMV_WS2
#undef JAL_ZMV_WS
	/* ... then 4x4 transposes in each 128-bit block ... */
	t0 = _mm512_unpacklo_ps(z0, z1);
	t1 = _mm512_unpackhi_ps(z0, z1);
	t2 = _mm512_unpacklo_ps(z2, z3);
	t3 = _mm512_unpackhi_ps(z2, z3);
	t4 = _mm512_unpacklo_ps(z4, z5);
	t5 = _mm512_unpackhi_ps(z4, z5);
	t6 = _mm512_unpacklo_ps(z6, z7);
	t7 = _mm512_unpackhi_ps(z6, z7);
	z0 = _mm512_shuffle_ps(t0, t2, 0x44);
	z1 = _mm512_shuffle_ps(t0, t2, 0xee);
	z2 = _mm512_shuffle_ps(t1, t3, 0x44);
	z3 = _mm512_shuffle_ps(t1, t3, 0xee);
	z4 = _mm512_shuffle_ps(t4, t6, 0x44);
	z5 = _mm512_shuffle_ps(t4, t6, 0xee);
	z6 = _mm512_shuffle_ps(t5, t7, 0x44);
	z7 = _mm512_shuffle_ps(t5, t7, 0xee);
	/*
	 * ... so that block b of z[j] (j < 4) holds group j + 4 (b % 2) of
	 * rows 4 (b / 2)..+3, and z[j + 4] the same for rows 8 + 4 (b / 2).
	 */
	*s0 = _mm512_shuffle_f32x4(z0, z4, 0x88);
	*s4 = _mm512_shuffle_f32x4(z0, z4, 0xdd);
	*s1 = _mm512_shuffle_f32x4(z1, z5, 0x88);
	*s5 = _mm512_shuffle_f32x4(z1, z5, 0xdd);
	*s2 = _mm512_shuffle_f32x4(z2, z6, 0x88);
	*s6 = _mm512_shuffle_f32x4(z2, z6, 0xdd);
	*s3 = _mm512_shuffle_f32x4(z3, z7, 0x88);
	*s7 = _mm512_shuffle_f32x4(z3, z7, 0xdd);
}

/* Groups g..g + 3 of 16 bytes: block i of the span is group g + i. */
JAL_AI void jal_zmv_panel_16(const struct jal_zmv_panel *p, size_t g,
			     __m512 *a0, __m512 *a1, __m512 *a2, __m512 *a3,
			     __m512 s0, __m512 s1, __m512 s2, __m512 s3)
{
	__m512i b0, b1, b2, b3, lo01, lo23, hi01, hi23;

	if (g >= p->ng)
		return;
	jal_zmv_panel_span(p, g, &b0, &b1, &b2, &b3);
	lo01 = _mm512_shuffle_i32x4(b0, b1, 0x44);
	lo23 = _mm512_shuffle_i32x4(b2, b3, 0x44);
	hi01 = _mm512_shuffle_i32x4(b0, b1, 0xee);
	hi23 = _mm512_shuffle_i32x4(b2, b3, 0xee);
	jal_zmv_panel_group(p, a0, g, _mm512_shuffle_i32x4(lo01, lo23, 0x88), s0);
	jal_zmv_panel_group(p, a1, g + 1, _mm512_shuffle_i32x4(lo01, lo23, 0xdd), s1);
	jal_zmv_panel_group(p, a2, g + 2, _mm512_shuffle_i32x4(hi01, hi23, 0x88), s2);
	jal_zmv_panel_group(p, a3, g + 3, _mm512_shuffle_i32x4(hi01, hi23, 0xdd), s3);
}

/* Groups g and g + 1 of 32 bytes: blocks 0, 1 and blocks 2, 3. */
JAL_AI void jal_zmv_panel_32(const struct jal_zmv_panel *p, size_t g,
			     __m512 *a0, __m512 *a1, __m512 s0, __m512 s1)
{
	__m512i b0, b1, b2, b3, s01, s23;

	if (g >= p->ng)
		return;
	jal_zmv_panel_span(p, g, &b0, &b1, &b2, &b3);
	/* Rows 0..3 group g, rows 0..3 group g + 1, rows 4..7 group g, ... */
	s01 = jal_zmv_hadd128(b0, b1);
	s23 = jal_zmv_hadd128(b2, b3);
	jal_zmv_panel_group(p, a0, g, _mm512_shuffle_i32x4(s01, s23, 0x88), s0);
	jal_zmv_panel_group(p, a1, g + 1, _mm512_shuffle_i32x4(s01, s23, 0xdd), s1);
}

/* Group g of 64 bytes or more: all four blocks. */
JAL_AI void jal_zmv_panel_64(const struct jal_zmv_panel *p, size_t g,
			     __m512 *a0, __m512 s0)
{
	__m512i b0, b1, b2, b3;

	if (g >= p->ng)
		return;
	jal_zmv_panel_span(p, g, &b0, &b1, &b2, &b3);
	jal_zmv_panel_group(p, a0, g, jal_zmv_hadd128(jal_zmv_hadd128(b0, b1),
						      jal_zmv_hadd128(b2, b3)), s0);
}

/*
 * Rows 0..last (at most 16) into out; @group 16, 32 or a multiple of 64.
 * Eight groups a round, so that group g0 + j goes to accumulator j.
 */
JAL_AI void jal_zmv_q8x_panel(float *out, const int8_t *w, size_t pitch,
			      const float *ws, size_t group, const int8_t *q,
			      const float *xs, const int32_t *bias,
			      size_t last, size_t k, bool q4)
{
	struct jal_zmv_panel p = {
		.w = w, .pitch = pitch, .last = last, .q = q, .group = group,
		.span = JAL_KMAX(group, (size_t)64), .k = k, .ng = k / group,
		.ws = ws, .xs = xs, .bias = bias, .q4 = q4,
	};
	__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
	__m512 a4 = a0, a5 = a0, a6 = a0, a7 = a0;
	__m512 s0, s1, s2, s3, s4, s5, s6, s7;
	size_t g0;

	for (g0 = 0; g0 < p.ng; g0 += 8) {
		jal_zmv_panel_scales(&p, g0, &s0, &s1, &s2, &s3, &s4, &s5, &s6, &s7);
		if (group == 16) {
			jal_zmv_panel_16(&p, g0, &a0, &a1, &a2, &a3, s0, s1, s2, s3);
			jal_zmv_panel_16(&p, g0 + 4, &a4, &a5, &a6, &a7, s4, s5, s6, s7);
		} else if (group == 32) {
			jal_zmv_panel_32(&p, g0, &a0, &a1, s0, s1);
			jal_zmv_panel_32(&p, g0 + 2, &a2, &a3, s2, s3);
			jal_zmv_panel_32(&p, g0 + 4, &a4, &a5, s4, s5);
			jal_zmv_panel_32(&p, g0 + 6, &a6, &a7, s6, s7);
		} else {
			jal_zmv_panel_64(&p, g0, &a0, s0);
			jal_zmv_panel_64(&p, g0 + 1, &a1, s1);
			jal_zmv_panel_64(&p, g0 + 2, &a2, s2);
			jal_zmv_panel_64(&p, g0 + 3, &a3, s3);
			jal_zmv_panel_64(&p, g0 + 4, &a4, s4);
			jal_zmv_panel_64(&p, g0 + 5, &a5, s5);
			jal_zmv_panel_64(&p, g0 + 6, &a6, s6);
			jal_zmv_panel_64(&p, g0 + 7, &a7, s7);
		}
	}
	/* l_tree(), a lane per row. */
	a0 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
			   _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
	_mm512_mask_storeu_ps(out, (__mmask16)((2u << last) - 1), a0);
}

/*
 * All rows in panels; fewer than 16 rows left at the end are the last 16
 * rows again (the overlap is recomputed with the same bits).
 */
#define JAL_ZMV_Q8X_PANELS(name, size)					\
static void name(float *out, const int8_t *w, size_t pitch,		\
		 const float *ws, size_t group, const int8_t *q,	\
		 const float *xs, const int32_t *bias, size_t rows,	\
		 size_t k)						\
{									\
	size_t m, ng = k / group;					\
									\
	if (rows < 16) {						\
		if (rows)						\
			jal_zmv_q8x_panel(out, w, pitch, ws, size, q, xs, \
					  bias, rows - 1, k, false);	\
		return;							\
	}								\
	for (m = 0; m < rows; m += 16) {				\
		m = JAL_KMIN(m, rows - 16);				\
		jal_zmv_q8x_panel(out + m, w + m * pitch, pitch, ws + m * ng, \
				  size, q, xs, bias, 15, k, false);	\
	}								\
}

JAL_ZMV_Q8X_PANELS(jal_zmv_q8x_16, 16)
JAL_ZMV_Q8X_PANELS(jal_zmv_q8x_32, 32)
JAL_ZMV_Q8X_PANELS(jal_zmv_q8x_64, 64)
JAL_ZMV_Q8X_PANELS(jal_zmv_q8x_wide, group)

/* Lanes 0..@size - 1 of each run of @size (4, 8 or 16): all the run's max or sum. */
JAL_AI __m512 jal_zmv_run_max(__m512 a, size_t size)
{
	a = _mm512_max_ps(a, _mm512_permute_ps(a, 0xb1));
	a = _mm512_max_ps(a, _mm512_permute_ps(a, 0x4e));
	if (size >= 8)
		a = _mm512_max_ps(a, _mm512_shuffle_f32x4(a, a, 0xb1));
	if (size >= 16)
		a = _mm512_max_ps(a, _mm512_shuffle_f32x4(a, a, 0x4e));
	return a;
}

JAL_AI __m512i jal_zmv_run_sum(__m512i a, size_t size)
{
	a = _mm512_add_epi32(a, _mm512_shuffle_epi32(a, (_MM_PERM_ENUM)0xb1));
	a = _mm512_add_epi32(a, _mm512_shuffle_epi32(a, (_MM_PERM_ENUM)0x4e));
	if (size >= 8)
		a = _mm512_add_epi32(a, _mm512_shuffle_i32x4(a, a, 0xb1));
	if (size >= 16)
		a = _mm512_add_epi32(a, _mm512_shuffle_i32x4(a, a, 0x4e));
	return a;
}

/*
 * Groups of 4, 8 or 16: 16 / @size groups a register, each group's max
 * and sum by shuffle trees within its run of lanes (no horizontal
 * reduction per group), its scale computed in all its lanes, and the
 * scales and biases of the register's groups picked out by one permute
 * each. NaNs are 0 before the max, so that none becomes it, as in the
 * scalar loop.
 */
JAL_AI void jal_zmv_q8x_quantize_runs(int8_t *q, float *xs, int32_t *bias,
				      const float *x, size_t k, size_t size)
{
	const __m512 magnitude = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
	const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
	const __m512 qmax = _mm512_set1_ps(127.0f), qmin = _mm512_set1_ps(-127.0f);
	/* Lane j: lane j * size, the first of group j. */
	const __m512i firsts = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10,
								   9, 8, 7, 6, 5, 4, 3, 2,
								   1, 0),
						  _mm512_set1_epi32((int)size));
	size_t i;

	for (i = 0; i < k; i += 16) {
		size_t n = JAL_KMIN(k - i, (size_t)16);
		__mmask16 take = (__mmask16)((1u << n) - 1);
		__mmask8 gtake = (__mmask8)((1u << (n / size)) - 1);
		__m512 xv = _mm512_maskz_loadu_ps(take, x + i), a, s, v, r, away;
		__m512i qi;

		a = _mm512_maskz_and_ps(_mm512_cmp_ps_mask(xv, xv, _CMP_ORD_Q), xv, magnitude);
		s = _mm512_div_ps(jal_zmv_run_max(a, size), qmax);
		v = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_NEQ_UQ),
					xv, s);
		/* roundf(): trunc, plus a step away from zero from one half on. */
		r = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
		away = _mm512_or_ps(one, _mm512_andnot_ps(magnitude, v));
		r = _mm512_mask_add_ps(r, _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_sub_ps(v, r),
									   magnitude),
							     half, _CMP_GE_OQ), r, away);
		/* NaN to 0, then clamp. */
		r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), r);
		r = _mm512_min_ps(_mm512_max_ps(r, qmin), qmax);
		qi = _mm512_cvttps_epi32(r);
		_mm_mask_storeu_epi8(q + i, take, _mm512_cvtepi32_epi8(qi));
		qi = _mm512_slli_epi32(jal_zmv_run_sum(qi, size), 7);
		_mm_mask_storeu_ps(xs + i / size, gtake,
				   _mm512_castps512_ps128(_mm512_permutexvar_ps(firsts, s)));
		_mm_mask_storeu_epi32(bias + i / size, gtake,
				      _mm512_castsi512_si128(_mm512_permutexvar_epi32(firsts, qi)));
	}
}

/*
 * x to Q8X's bytes, 16 values a register (groups of 4 to 16: above). roundf() is trunc plus a step
 * away from zero where the dropped part is at least one half: exact, as
 * v - trunc(v) is representable. max() keeps its second operand when
 * the first is a NaN, as the scalar "if (a > amax)" does.
 */
JAL_AI void jal_zmv_q8x_quantize(int8_t *q, float *xs, int32_t *bias,
				 const float *x, size_t k, size_t group)
{
	const __m512 magnitude = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
	const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
	const __m512 qmax = _mm512_set1_ps(127.0f);
	size_t g, i;

	if (group == 4 || group == 8 || group == 16) {
		jal_zmv_q8x_quantize_runs(q, xs, bias, x, k, group);
		return;
	}
	for (g = 0; g < k / group; g++) {
		const float *xg = x + g * group;
		__m512 amax = _mm512_setzero_ps(), sv;
		__m512i sum = _mm512_setzero_si512();
		__mmask16 take;
		float s;

		for (i = 0; i < group; i += 16) {
			take = (__mmask16)(group - i >= 16 ? 0xffff : (1u << (group - i)) - 1);
			amax = _mm512_max_ps(_mm512_and_ps(_mm512_maskz_loadu_ps(take, xg + i),
							   magnitude), amax);
		}
		s = _mm512_reduce_max_ps(amax) / 127.0f;
		sv = _mm512_set1_ps(s);
		for (i = 0; i < group; i += 16) {
			__m512 v = _mm512_setzero_ps(), r, away;
			__m512i qi;

			take = (__mmask16)(group - i >= 16 ? 0xffff : (1u << (group - i)) - 1);
			if (s != 0.0f)
				v = _mm512_div_ps(_mm512_maskz_loadu_ps(take, xg + i), sv);
			r = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
			away = _mm512_or_ps(one, _mm512_andnot_ps(magnitude, v));
			r = _mm512_mask_add_ps(r, _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_sub_ps(v, r),
										  magnitude),
								     half, _CMP_GE_OQ),
					       r, away);
			/* NaN to 0, then clamp. */
			r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), r);
			r = _mm512_min_ps(_mm512_max_ps(r, _mm512_sub_ps(_mm512_setzero_ps(), qmax)),
					  qmax);
			qi = _mm512_cvttps_epi32(r);
			sum = _mm512_add_epi32(sum, qi);
			_mm_mask_storeu_epi8(q + g * group + i, take, _mm512_cvtepi32_epi8(qi));
		}
		xs[g] = s;
		bias[g] = 128 * _mm512_reduce_add_epi32(sum);
	}
}

/*
 * MATMUL Q8X: sixteen rows of W times up to JAL_ZMM_Q8X_NX rows of X a
 * tile. MATVEC's panels reduce each row's 16-lane products to one sum
 * per group with shuffles, for every row of X again. Here a tile's
 * 16 x 64 bytes of W are transposed once (dword c of all sixteen rows in
 * register c, row r in lane r) and then serve every row of X from
 * registers: a multiply-add with four bytes of q broadcast adds columns
 * 4c..4c+3 of all sixteen rows at once, so a group's sums come out a
 * row a lane with no reduction at all. The float part is MATVEC's
 * ((float)sum * ws) * xs into lane g % 8 in increasing g, kept in
 * memory per row of X, and the final lane tree is the same, so each row
 * of the result has its MATVEC's bits.
 */
#define JAL_ZMM_Q8X_NX		16

/* Sixteen rows of sixteen dwords, transposed in place: r[c] lane i = old r[i] lane c. */
JAL_AI void jal_zmm_transpose16(__m512i *r)
{
	__m512i t[16], u[16];
	size_t i;

	/* Block b of t[2i] and t[2i + 1]: columns 4b, 4b + 1 and 4b + 2, 4b + 3 of rows 2i, 2i + 1. */
#pragma GCC unroll 8
	for (i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
	}
	/* Block b of u[4i + c]: column 4b + c of rows 4i..4i + 3. */
#pragma GCC unroll 4
	for (i = 0; i < 4; i++) {
		u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
		u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
		u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
	}
	/* A 4 x 4 transpose of 128-bit blocks for each c. */
#pragma GCC unroll 4
	for (i = 0; i < 4; i++) {
		__m512i v0 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0x44);
		__m512i v1 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0xee);
		__m512i v2 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0x44);
		__m512i v3 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0xee);

		r[i] = _mm512_shuffle_i32x4(v0, v2, 0x88);
		r[4 + i] = _mm512_shuffle_i32x4(v0, v2, 0xdd);
		r[8 + i] = _mm512_shuffle_i32x4(v1, v3, 0x88);
		r[12 + i] = _mm512_shuffle_i32x4(v1, v3, 0xdd);
	}
}

/* Four bytes of q, in every lane (the compiler folds it into the multiply-add). */
JAL_AI __m512i jal_zmm_q4(const int8_t *q)
{
	int32_t v;

	memcpy(&v, q, 4);
	return _mm512_set1_epi32(v);
}

/* What a tile's chunks share. */
struct jal_zmm_tile {
	const int8_t *q;		/* row 0 of the tile's X rows */
	const float *xs;
	const int32_t *bias;
	const float *ws;		/* row 0 of the tile's W rows */
	size_t nx, k, group, ng;
	__m512i wsidx;			/* lane r: row min(r, last)'s scales */
	/* Per row of X: lanes g % 8 of the sixteen rows; group sums carried across chunks. */
	__m512 (*lanes)[8];
	__m512i *part;
};

/*
 * The 64 (or, at the end of a row, @nd * 4) columns from @c0 of the tile,
 * transposed in @wt, for every row of X. @gd is the group size in dwords
 * when groups divide 64 columns (1..16, a constant after inlining), or 0
 * for groups of a multiple of 64 columns, whose sums cross chunks.
 */
JAL_AI void jal_zmm_q8x_chunk(const struct jal_zmm_tile *t, const __m512i *wt,
			      size_t c0, size_t nd, size_t gd)
{
	size_t s, c, j, g;

	if (!gd) {
		/* One group's 64 columns: the first starts its sums, the last ends them. */
		bool first = c0 % t->group == 0, end = (c0 + 64) % t->group == 0;
		__m512 sv;

		g = c0 / t->group;
		sv = end ? _mm512_i32gather_ps(t->wsidx, t->ws + g, 4) : _mm512_setzero_ps();
		for (j = 0; j < t->nx; j++) {
			const int8_t *qj = t->q + j * t->k + c0;
			__m512i a0 = first ? _mm512_setzero_si512() : t->part[j];
			__m512i a1 = _mm512_setzero_si512();

#pragma GCC unroll 8
			for (c = 0; c < 16; c += 2) {
				a0 = _mm512_dpbusd_epi32(a0, wt[c], jal_zmm_q4(qj + 4 * c));
				a1 = _mm512_dpbusd_epi32(a1, wt[c + 1], jal_zmm_q4(qj + 4 * c + 4));
			}
			a0 = _mm512_add_epi32(a0, a1);
			if (!end) {
				t->part[j] = a0;
				continue;
			}
			a0 = _mm512_sub_epi32(a0, _mm512_set1_epi32(t->bias[j * t->ng + g]));
			t->lanes[j][g % 8] = _mm512_add_ps(t->lanes[j][g % 8],
				_mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a0), sv),
					      _mm512_set1_ps(t->xs[j * t->ng + g])));
		}
		return;
	}
#pragma GCC unroll 16
	for (s = 0; s < 16; s += gd) {
		__m512 sv;

		if (s >= nd)
			break;
		g = c0 / (4 * gd) + s / gd;
		sv = _mm512_i32gather_ps(t->wsidx, t->ws + g, 4);
		for (j = 0; j < t->nx; j++) {
			const int8_t *qj = t->q + j * t->k + c0;
			__m512i a0 = _mm512_setzero_si512(), a1 = a0;

			/* Two chains of multiply-adds when there are several; integer sums are exact in any order. */
#pragma GCC unroll 16
			for (c = s; c < s + gd; c++) {
				if ((c - s) % 2)
					a1 = _mm512_dpbusd_epi32(a1, wt[c], jal_zmm_q4(qj + 4 * c));
				else
					a0 = _mm512_dpbusd_epi32(a0, wt[c], jal_zmm_q4(qj + 4 * c));
			}
			a0 = _mm512_sub_epi32(_mm512_add_epi32(a0, a1),
					      _mm512_set1_epi32(t->bias[j * t->ng + g]));
			t->lanes[j][g % 8] = _mm512_add_ps(t->lanes[j][g % 8],
				_mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a0), sv),
					      _mm512_set1_ps(t->xs[j * t->ng + g])));
		}
	}
}

/*
 * Q4: the 64 columns from @c0 (32 bytes of each row, fewer at the end of
 * a row), transposed in @wt: dwords 4b..4b + 3 hold the low nibbles of
 * group b's bytes (its columns 0..15), dwords 8 + 4b.. the high ones
 * (columns 16..31). The nibbles are w + 8, unsigned already, so the
 * offset to take off is 8 times the group's sum of q: bias / 16.
 */
JAL_AI void jal_zmm_q4_chunk(const struct jal_zmm_tile *t, const __m512i *wt, size_t c0)
{
	size_t b, i, j, g;

#pragma GCC unroll 2
	for (b = 0; b < 2; b++) {
		__m512 sv;

		if (c0 + 32 * b >= t->k)
			break;
		g = c0 / 32 + b;
		sv = _mm512_i32gather_ps(t->wsidx, t->ws + g, 4);
		for (j = 0; j < t->nx; j++) {
			const int8_t *qj = t->q + j * t->k + c0 + 32 * b;
			__m512i a0 = _mm512_setzero_si512(), a1 = a0;

#pragma GCC unroll 4
			for (i = 0; i < 4; i++) {
				a0 = _mm512_dpbusd_epi32(a0, wt[4 * b + i], jal_zmm_q4(qj + 4 * i));
				a1 = _mm512_dpbusd_epi32(a1, wt[8 + 4 * b + i],
							 jal_zmm_q4(qj + 16 + 4 * i));
			}
			a0 = _mm512_sub_epi32(_mm512_add_epi32(a0, a1),
					      _mm512_set1_epi32(t->bias[j * t->ng + g] >> 4));
			t->lanes[j][g % 8] = _mm512_add_ps(t->lanes[j][g % 8],
				_mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a0), sv),
					      _mm512_set1_ps(t->xs[j * t->ng + g])));
		}
	}
}

/*
 * Rows 0..last (at most 15) of W at @w times @nx <= JAL_ZMM_Q8X_NX rows
 * of X (q at @q, k bytes a row), into d[j * dp + r]. Rows past @last
 * repeat it and are not stored. @q4: W is Q4 (@pitch in bytes, groups
 * of 32), else Q8X.
 */
JAL_AI void jal_zmm_q8x_tile(float *d, size_t dp, const int8_t *w, size_t pitch,
			     const float *ws, size_t last, const int8_t *q,
			     const float *xs, const int32_t *bias, size_t nx,
			     size_t k, size_t group, size_t gd, bool q4)
{
	const __m512i offset = _mm512_set1_epi8((char)0x80);
	const __m512i nibble = _mm512_set1_epi8(15);
	/*
	 * Only the rows of X the tile has are used, and set before they are
	 * read: no zeroing of all 9 KiB per tile under QEMU's
	 * -ftrivial-auto-var-init=zero (a sixth of a 768-column tile).
	 */
	__m512 lanes[JAL_ZMM_Q8X_NX][8] __attribute__((uninitialized));
	__m512i part[JAL_ZMM_Q8X_NX] __attribute__((uninitialized));
	__m512i wt[16];
	struct jal_zmm_tile t = {
		.q = q, .xs = xs, .bias = bias, .ws = ws, .nx = nx, .k = k,
		.group = group, .ng = k / group, .lanes = lanes, .part = part,
	};
	size_t c0, r, j, i;

	t.wsidx = _mm512_mullo_epi32(_mm512_min_epu32(_mm512_set_epi32(15, 14, 13, 12, 11, 10,
									9, 8, 7, 6, 5, 4, 3, 2,
									1, 0),
						      _mm512_set1_epi32((int)last)),
				     _mm512_set1_epi32((int)t.ng));
	for (j = 0; j < nx; j++)
		for (i = 0; i < 8; i++)
			lanes[j][i] = _mm512_setzero_ps();
	for (c0 = 0; c0 < k; c0 += 64) {
		size_t nd = JAL_KMIN((k - c0) / 4, (size_t)16);
		__mmask64 take = nd == 16 ? ~0ull : (1ull << (4 * nd)) - 1;

		if (q4) {
			/* Each row's 32 bytes (16 for a last group alone): low nibbles, then high. */
			__mmask32 half = k - c0 >= 64 ? ~0u : 0xffffu;

#pragma GCC unroll 16
			for (r = 0; r < 16; r++) {
				const int8_t *row = w + JAL_KMIN(r, last) * pitch + c0 / 2;
				__m256i v = _mm256_maskz_loadu_epi8(half, row);

				if (!(c0 & 127))
					__builtin_prefetch(w + (16 + r) * pitch + c0 / 2);
				wt[r] = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(v),
									    _mm256_srli_epi16(v, 4), 1),
							 nibble);
			}
			jal_zmm_transpose16(wt);
			jal_zmm_q4_chunk(&t, wt, c0);
			continue;
		}

		/*
		 * Bytes past the row's end are never multiplied: their dwords
		 * are not taken. The same chunk of the next tile's rows is
		 * fetched meanwhile: reading 64 bytes of sixteen rows in turn
		 * is a pattern the hardware prefetchers do not follow (weights
		 * cold in memory came at 3.5 GB/s instead of 20).
		 */
#pragma GCC unroll 16
		for (r = 0; r < 16; r++) {
			const int8_t *row = w + JAL_KMIN(r, last) * pitch + c0;

			__builtin_prefetch(w + (16 + r) * pitch + c0);
			wt[r] = _mm512_xor_si512(_mm512_maskz_loadu_epi8(take, row), offset);
		}
		jal_zmm_transpose16(wt);
		jal_zmm_q8x_chunk(&t, wt, c0, nd, gd);
	}
	for (j = 0; j < nx; j++) {
		__m512 *l = lanes[j];
		__m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[1]),
						       _mm512_add_ps(l[2], l[3])),
					 _mm512_add_ps(_mm512_add_ps(l[4], l[5]),
						       _mm512_add_ps(l[6], l[7])));

		_mm512_mask_storeu_ps(d + j * dp, (__mmask16)((2u << last) - 1), s);
	}
}

/*
 * All rows in tiles of sixteen (fewer than 16 left at the end: the last
 * 16 rows again, the overlap recomputed with the same bits), the rows of
 * X sixteen at a time.
 */
JAL_AI void jal_zmm_q8x_all(float *d, size_t dp, const int8_t *w, size_t pitch,
			    const float *ws, size_t group, const int8_t *q,
			    const float *xs, const int32_t *bias, size_t rows,
			    size_t nx, size_t k, size_t gd, bool q4)
{
	size_t ng = k / group, j0, nj, m;

	for (j0 = 0; j0 < nx; j0 += nj) {
		nj = JAL_KMIN(nx - j0, (size_t)JAL_ZMM_Q8X_NX);
		if (rows < 16) {
			jal_zmm_q8x_tile(d + j0 * dp, dp, w, pitch, ws, rows - 1,
					 q + j0 * k, xs + j0 * ng, bias + j0 * ng, nj,
					 k, group, gd, q4);
			continue;
		}
		for (m = 0; m < rows; m += 16) {
			m = JAL_KMIN(m, rows - 16);
			jal_zmm_q8x_tile(d + j0 * dp + m, dp, w + m * pitch, pitch,
					 ws + m * ng, 15, q + j0 * k, xs + j0 * ng,
					 bias + j0 * ng, nj, k, group, gd, q4);
		}
	}
}

/* One function per group size, so that each chunk's loops unroll with constant registers. */
#define JAL_ZMM_Q8X(name, gd)						\
static void name(float *d, size_t dp, const int8_t *w, size_t pitch,	\
		 const float *ws, size_t group, const int8_t *q,	\
		 const float *xs, const int32_t *bias, size_t rows,	\
		 size_t nx, size_t k)					\
{									\
	if (rows)							\
		jal_zmm_q8x_all(d, dp, w, pitch, ws, group, q, xs, bias,	\
				rows, nx, k, gd, false);		\
}

JAL_ZMM_Q8X(jal_zmm_q8x_4, 1)
JAL_ZMM_Q8X(jal_zmm_q8x_8, 2)
JAL_ZMM_Q8X(jal_zmm_q8x_16, 4)
JAL_ZMM_Q8X(jal_zmm_q8x_32, 8)
JAL_ZMM_Q8X(jal_zmm_q8x_64, 16)
JAL_ZMM_Q8X(jal_zmm_q8x_wide, 0)

/*
 * Q4 (groups of 32): one row of X (MATVEC) in MATVEC's panels, whose
 * reduction costs less than transposing tiles that serve one row only;
 * several in tiles. Either gives the same bits.
 */
static void jal_zmm_q4_all(float *d, size_t dp, const uint8_t *w, size_t pitch,
			   const float *ws, const int8_t *q, const float *xs,
			   const int32_t *bias, size_t rows, size_t nx, size_t k)
{
	const int8_t *wb = (const int8_t *)w;
	size_t m, ng = k / 32;

	if (nx > 1) {
		jal_zmm_q8x_all(d, dp, wb, pitch, ws, 32, q, xs, bias, rows, nx, k, 8,
				true);
		return;
	}
	if (rows < 16) {
		jal_zmv_q8x_panel(d, wb, pitch, ws, 32, q, xs, bias, rows - 1, k, true);
		return;
	}
	for (m = 0; m < rows; m += 16) {
		m = JAL_KMIN(m, rows - 16);
		jal_zmv_q8x_panel(d + m, wb + m * pitch, pitch, ws + m * ng, 32, q, xs,
				  bias, 15, k, true);
	}
}

/*
 * MATMUL BF16: four rows of W times up to eight rows of X a tile. A
 * step widens sixteen columns of each W row and regroups each pair of
 * rows (as MATVEC's jal_zmv_add2() regroups products) into one register
 * of columns 0..7 of both and one of columns 8..15, once for all the
 * rows of X; each row of X then takes its eight columns broadcast to both
 * halves and adds two products to each of its two accumulators, columns
 * 0..7 before 8..15. Every half of an accumulator is one dot product's
 * eight lanes in column order, so the bits are mv_bf16's. The widening
 * and regrouping cost about as much as the multiply-adds of two rows of
 * X, which is why the decoded panel mm_f32 used was slower: there W was
 * decoded, stored and loaded again as f32 for every tile of X rows.
 */
#define JAL_ZMM_BF16_NX		8

/*
 * Columns kk..kk + 15 (or the first @n < 16, the others +0.0) of rows
 * @a and @b: *lo = columns 0..7 of a then of b, *hi = columns 8..15.
 */
JAL_AI void jal_zmm_bf16_pair(__m512 *lo, __m512 *hi, const uint16_t *a,
			      const uint16_t *b, size_t n)
{
	__m512 wa, wb;

	if (n >= 16) {
		wa = jal_zmv_bf16(a);
		wb = jal_zmv_bf16(b);
	} else {
		__mmask16 take = (__mmask16)((1u << n) - 1);

		wa = _mm512_castsi512_ps(_mm512_slli_epi32(
			_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(take, a)), 16));
		wb = _mm512_castsi512_ps(_mm512_slli_epi32(
			_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(take, b)), 16));
	}
	*lo = jal_zmv_lo(wa, wb);
	*hi = jal_zmv_hi(wa, wb);
}

/* x[0..8) in both halves, or its first @n (at most 8; the others +0.0). */
JAL_AI __m512 jal_zmm_xboth(const float *x, size_t n)
{
	float t[8] = { 0 };

	if (n >= 8)
		return (__m512)jal_z_both(x);
	memcpy(t, x, n * sizeof(float));
	return (__m512)jal_z_both(t);
}

/*
 * l_tree() of the four accumulators of rows j and j + 1 of X (@p: W rows
 * 0 and 1, @q: rows 2 and 3, a row a half), stored at @dj and @dj1 (or
 * row j only, @dj1 NULL, @p1 and @q1 its repeats). Pairs of lanes as in
 * jal_zmv_q8x_rows(), which leaves W rows 0, 2, 0, 2 then 1, 3, 1, 3;
 * one permutation puts each row of X's four in order.
 */
JAL_AI void jal_zmm_bf16_store(float *dj, float *dj1, __m512 p0, __m512 q0,
			       __m512 p1, __m512 q1)
{
	const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
	__m512 t = jal_zmv_pairs_ps(jal_zmv_pairs_ps(p0, q0), jal_zmv_pairs_ps(p1, q1));
	__m256 r;

	t = _mm512_add_ps(_mm512_shuffle_f32x4(t, t, 0x88), _mm512_shuffle_f32x4(t, t, 0xdd));
	r = _mm256_permutexvar_ps(order, _mm512_castps512_ps256(t));
	_mm_storeu_ps(dj, _mm256_castps256_ps128(r));
	if (dj1)
		_mm_storeu_ps(dj1, _mm256_extractf128_ps(r, 1));
}

/* Rows of X j < @nx (a constant after inlining); the accumulators of the others go unused. */
#define JAL_ZB_J8(F)	F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7)
#define JAL_ZB_DECL(j)							\
	__m512 p##j = _mm512_setzero_ps(), q##j = p##j;		\
	const float *x##j = x + (nx > (j) ? (j) : 0) * xp;
#define JAL_ZB_MAC(j)							\
	if (nx > (j)) {							\
		__m512 xl_ = jal_zmm_xboth(x##j + kk, xn);		\
		__m512 xh_ = jal_zmm_xboth(x##j + kk + 8, xn > 8 ? xn - 8 : 0); \
									\
		p##j = _mm512_add_ps(p##j, _mm512_mul_ps(l0, xl_));	\
		q##j = _mm512_add_ps(q##j, _mm512_mul_ps(l1, xl_));	\
		p##j = _mm512_add_ps(p##j, _mm512_mul_ps(h0, xh_));	\
		q##j = _mm512_add_ps(q##j, _mm512_mul_ps(h1, xh_));	\
	}
#define JAL_ZB_STEP(n)	do {						\
	size_t xn = (n);						\
	__m512 l0, h0, l1, h1;						\
									\
	jal_zmm_bf16_pair(&l0, &h0, w0 + kk, w1 + kk, xn);		\
	jal_zmm_bf16_pair(&l1, &h1, w2 + kk, w3 + kk, xn);		\
	JAL_ZB_J8(JAL_ZB_MAC)						\
} while (0)
#define JAL_ZB_ST2(a, b)						\
	if (nx > (b))							\
		jal_zmm_bf16_store(d + (a) * dp, d + (b) * dp, p##a, q##a, p##b, q##b); \
	else if (nx > (a))						\
		jal_zmm_bf16_store(d + (a) * dp, NULL, p##a, q##a, p##a, q##a);

/*
 * W rows 0..3 at @w (pitch @wp elements) times X rows 0..nx - 1 (nx <=
 * JAL_ZMM_BF16_NX) into d[j * dp + i]. The next four W rows are
 * prefetched a line a row every 32 columns: the tiles of the first rows
 * of X bring a block of W in from memory.
 */
JAL_AI void jal_zmm_bf16_tile(float *d, size_t dp, const uint16_t *w, size_t wp,
			      const float *x, size_t xp, size_t nx, size_t k)
{
	const uint16_t *w0 = w, *w1 = w + wp, *w2 = w + 2 * wp, *w3 = w + 3 * wp;
	size_t kk;

	JAL_ZB_J8(JAL_ZB_DECL)
	for (kk = 0; kk + 16 <= k; kk += 16) {
		if (!(kk & 31)) {
			__builtin_prefetch(w0 + 4 * wp + kk);
			__builtin_prefetch(w1 + 4 * wp + kk);
			__builtin_prefetch(w2 + 4 * wp + kk);
			__builtin_prefetch(w3 + 4 * wp + kk);
		}
		JAL_ZB_STEP(16);
	}
	if (kk < k)
		JAL_ZB_STEP(k - kk);
	JAL_ZB_ST2(0, 1)
	JAL_ZB_ST2(2, 3)
	JAL_ZB_ST2(4, 5)
	JAL_ZB_ST2(6, 7)
}

#undef JAL_ZB_ST2
#undef JAL_ZB_STEP
#undef JAL_ZB_MAC
#undef JAL_ZB_DECL
#undef JAL_ZB_J8

/* One function per count of X rows, so that each tile's accumulators are registers. */
#define JAL_ZMM_BF16_N(n)						\
static void jal_zmm_bf16_##n(float *d, size_t dp, const uint16_t *w,	\
			     size_t wp, const float *x, size_t xp,	\
			     size_t rows, size_t k)			\
{									\
	size_t m;							\
									\
	for (m = 0; m + 4 <= rows; m += 4)				\
		jal_zmm_bf16_tile(d + m, dp, w + m * wp, wp, x, xp, n, k); \
}

JAL_ZMM_BF16_N(1)
JAL_ZMM_BF16_N(2)
JAL_ZMM_BF16_N(3)
JAL_ZMM_BF16_N(4)
JAL_ZMM_BF16_N(5)
JAL_ZMM_BF16_N(6)
JAL_ZMM_BF16_N(7)
JAL_ZMM_BF16_N(8)

/*
 * Rows 0.. of W (a multiple of 4, those it returns the count of) times
 * all @nx rows of X, eight rows of X at a time over the same rows of W
 * (a block the caller keeps small enough to stay in the cache).
 */
static size_t jal_zmm_bf16(float *d, size_t dp, const uint16_t *w, size_t wp,
			   const float *x, size_t xp, size_t rows, size_t nx,
			   size_t k)
{
	static void (*const tiles[JAL_ZMM_BF16_NX + 1])(float *, size_t,
							const uint16_t *, size_t,
							const float *, size_t,
							size_t, size_t) = {
		NULL, jal_zmm_bf16_1, jal_zmm_bf16_2, jal_zmm_bf16_3,
		jal_zmm_bf16_4, jal_zmm_bf16_5, jal_zmm_bf16_6, jal_zmm_bf16_7,
		jal_zmm_bf16_8,
	};
	size_t j, nj;

	rows &= ~(size_t)3;
	if (!rows)
		return 0;
	for (j = 0; j < nx; j += nj) {
		nj = JAL_KMIN(nx - j, (size_t)JAL_ZMM_BF16_NX);
		tiles[nj](d + j * dp, dp, w, wp, x + j * xp, xp, rows, k);
	}
	return rows;
}
