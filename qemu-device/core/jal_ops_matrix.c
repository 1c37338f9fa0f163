// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: MATVEC and MATMUL for F32, BF16, Q8, S24 and Q4
 * weights.
 *
 * Both are one engine: D[n][m] = W[m] . X[n] for n < N rows of X (N = 1
 * for MATVEC, whose x and d have element strides). Every result is the
 * dot product of jal_kern.h's summation order, so a MATMUL row equals the
 * MATVEC of the same vector bit for bit, whatever the blocking, the
 * kernel variant or the number of threads.
 *
 * The fast path keeps a block of X rows resident (the whole x for
 * MATVEC; with Q8X quantized, each row as MATVEC quantizes x), uses W in
 * place when it is one run of device memory (else reads blocks of rows
 * into a bounce buffer), and writes results straight
 * into D when D is one run of device memory that overlaps no input (else
 * through a bounded output buffer, or a staging copy of all of D when it
 * overlaps an input, so every input is read before any result lands).
 * Rows are split over the compute threads when there is enough work.
 * Rows longer than JAL_XBUF_ELEMS take a slow path that streams them.
 */
#include <math.h>
#include <stdlib.h>

#include "jal_exec.h"
#include "jal_kern.h"

/* The summation order needs every product rounded (see jal_kern.h). */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

/*
 * Multiply-adds per claim, at most (tens of milliseconds): threads check
 * for an abort between claims, and resets must take effect promptly.
 */
#define JAL_MM_BLOCK_MACS	(4u << 20)
/*
 * Rows of X that one pass over W takes at most, in floats: they stay in
 * the L2 cache while blocks of W rows stream past them.
 */
#define JAL_MM_XTILE_FLOATS	(32u << 10)

/* The weight operand. */
struct jal_weights {
	unsigned int dtype;
	uint64_t rows, cols;		/* M, K (logical columns) */
	uint64_t group;			/* Q8, Q4 */
	bool q8x;			/* x quantized: Q8 with JAL_INSN_F_Q8X, Q4 */
	unsigned int esize;		/* bytes per stored element */
	uint64_t rowlen;		/* stored elements per row */
	uint64_t pitch;			/* elements between rows */
	uint64_t abytes;		/* scales / index bytes per row */
	struct jal_span w, aux;
};

static const unsigned int jal_esize[JAL_DTYPE_COUNT] = {
	[JAL_DTYPE_F32] = 4, [JAL_DTYPE_BF16] = 2, [JAL_DTYPE_Q8] = 1,
	[JAL_DTYPE_S24] = 2, [JAL_DTYPE_Q4] = 1,	/* Q4: bytes of two weights */
};

static const char *const jal_dtype_names[JAL_DTYPE_COUNT] = {
	"F32", "BF16", "Q8", "S24", "Q4",
};

/* Fields only some dtypes use must be zero for the others. */
static enum jal_status jal_check_weight_fields(struct jal_exec *ex,
					       const struct jal_insn *in,
					       unsigned int group_dim)
{
	if (in->dtype != JAL_DTYPE_Q8 && in->dtype != JAL_DTYPE_Q4 &&
	    (in->dim[group_dim] || (in->flags & JAL_INSN_F_DIM_REG(group_dim))))
		return jal_exec_bad(ex, "dim[%u] (Q8 group size) is not used with %s",
				    group_dim, jal_dtype_names[in->dtype]);
	if ((in->dtype == JAL_DTYPE_F32 || in->dtype == JAL_DTYPE_BF16) && in->r[3])
		return jal_exec_bad(ex, "r[3] is not used with %s",
				    jal_dtype_names[in->dtype]);
	return JAL_STATUS_OK;
}

enum jal_status jal_check_matvec(struct jal_exec *ex, const struct jal_insn *in)
{
	return jal_check_weight_fields(ex, in, 2);
}

enum jal_status jal_check_matmul(struct jal_exec *ex, const struct jal_insn *in)
{
	return jal_check_weight_fields(ex, in, 3);
}

/* Shape of W (no memory access yet). */
static enum jal_status jal_weights_shape(struct jal_exec *ex,
					 const struct jal_insn *in,
					 unsigned int group_dim,
					 struct jal_weights *m)
{
	enum jal_status st;

	memset(m, 0, sizeof(*m));
	m->dtype = in->dtype;
	m->esize = jal_esize[in->dtype];
	st = jal_exec_dim(ex, in, 0, &m->rows);
	if (!st)
		st = jal_exec_dim(ex, in, 1, &m->cols);
	if (!st && (m->dtype == JAL_DTYPE_Q8 || m->dtype == JAL_DTYPE_Q4))
		st = jal_exec_dim(ex, in, group_dim, &m->group);
	if (st)
		return st;
	m->rowlen = m->cols;
	if (m->dtype == JAL_DTYPE_Q4) {
		if (m->group != JAL_Q4_GROUP)
			return jal_exec_bad(ex, "Q4 group size %llu is not %u",
					    (unsigned long long)m->group, JAL_Q4_GROUP);
		if (m->cols % JAL_Q4_GROUP)
			return jal_exec_bad(ex, "Q4 needs a multiple of %u columns, not %llu",
					    JAL_Q4_GROUP, (unsigned long long)m->cols);
		if (m->cols > JAL_Q8X_MAX_COLS)
			return jal_exec_bad(ex, "Q4 rows of %llu columns are longer than %u",
					    (unsigned long long)m->cols,
					    JAL_Q8X_MAX_COLS);
		/* Two weights a byte; x is always quantized, as with Q8X. */
		m->rowlen = m->cols / 2;
		m->abytes = m->cols / JAL_Q4_GROUP * 4;
		m->q8x = true;
	} else if (m->dtype == JAL_DTYPE_Q8) {
		if (!m->group || m->cols % m->group)
			return jal_exec_bad(ex, "Q8 group size %llu does not divide %llu columns",
					    (unsigned long long)m->group,
					    (unsigned long long)m->cols);
		m->abytes = m->cols / m->group * 4;
		m->q8x = in->flags & JAL_INSN_F_Q8X;
		if (m->q8x && (m->group % 4 || m->group > JAL_Q8X_MAX_GROUP))
			return jal_exec_bad(ex, "Q8X group size %llu is not a multiple of 4 up to %u",
					    (unsigned long long)m->group,
					    JAL_Q8X_MAX_GROUP);
		if (m->q8x && m->cols > JAL_Q8X_MAX_COLS)
			return jal_exec_bad(ex, "Q8X rows of %llu columns are longer than %u",
					    (unsigned long long)m->cols,
					    JAL_Q8X_MAX_COLS);
	} else if (m->dtype == JAL_DTYPE_S24) {
		if (m->cols % 4)
			return jal_exec_bad(ex, "S24 needs a multiple of 4 columns, not %llu",
					    (unsigned long long)m->cols);
		m->rowlen = m->cols / 2;
		m->abytes = m->cols / 4;
	}
	m->pitch = in->stride[1] ? in->stride[1] : m->rowlen;
	if (m->pitch < m->rowlen)
		return jal_exec_bad(ex, "row pitch %llu of W is less than a row (%llu)",
				    (unsigned long long)m->pitch,
				    (unsigned long long)m->rowlen);
	return JAL_STATUS_OK;
}

static enum jal_status jal_weights_map(struct jal_exec *ex,
				       const struct jal_insn *in,
				       struct jal_weights *m)
{
	enum jal_status st;

	st = jal_span_init(ex, &m->w, "W", ex->regs[in->r[1]],
			   jal_extent(m->rows, m->pitch * m->esize,
				      m->rowlen * m->esize),
			   m->esize, false);
	if (!st && m->abytes)
		st = jal_span_init(ex, &m->aux,
				   m->dtype == JAL_DTYPE_S24 ? "indices" : "scales",
				   ex->regs[in->r[3]],
				   jal_extent(m->rows, m->abytes, m->abytes),
				   m->dtype == JAL_DTYPE_S24 ? 1 : 4, false);
	return st;
}

/* One block of work for the compute threads: rows of W times rows of X. */
struct jal_mm_work {
	struct jal_device *dev;
	const struct jal_weights *m;
	uint64_t rows;			/* W rows in this block */
	const uint8_t *w;		/* row 0 of the block */
	const uint8_t *aux;
	size_t wpitch;			/* elements */
	const float *x;			/* nx rows, xpitch floats apart */
	size_t xpitch, nx;
	float *d;			/* d[n * dpitch + m] */
	size_t dpitch;
	/*
	 * Q8X: the nx rows of X quantized, cols values a row, and their
	 * group scales and biases, cols / group a row (see jal_kernels).
	 */
	const int8_t *q8x;
	const float *q8x_scales;
	const int32_t *q8x_bias;
	/*
	 * Written by the compute threads: a line of their own, so that
	 * claims do not take the fields above from the other threads' caches.
	 */
	struct jal_claim rows_left __attribute__((aligned(64)));
	atomic_bool bad;		/* an S24 index byte was invalid */
};

/* Rows [r, r + n) of the block through a panel of f32 rows (Q8, S24). */
static void jal_mm_decoded(struct jal_mm_work *wk, float *panel,
			   uint64_t r, uint64_t n)
{
	const struct jal_kernels *k = wk->dev->kern;
	const struct jal_weights *m = wk->m;
	size_t cols = m->cols, i;

	for (i = 0; i < n; i++) {
		const uint8_t *row = wk->w + (r + i) * wk->wpitch * m->esize;

		if (m->dtype == JAL_DTYPE_Q8)
			k->dec_q8(panel + i * cols, (const int8_t *)row,
				  (const float *)(wk->aux + (r + i) * m->abytes),
				  m->group, cols);
		else if (!k->dec_s24(panel + i * cols, (const uint16_t *)row,
				     wk->aux + (r + i) * m->abytes, cols))
			atomic_store_explicit(&wk->bad, true, memory_order_relaxed);
	}
	if (wk->nx == 1)
		k->mv_f32(wk->d + r, panel, cols, wk->x, n, cols);
	else
		k->mm_f32(wk->d + r, wk->dpitch, panel, cols, wk->x, wk->xpitch,
			  n, wk->nx, cols);
}

/* Q8X rows [r, r + n) of the block, W at @w, scales at @ws, for every row of X. */
static void jal_mm_q8x(struct jal_mm_work *wk, const uint8_t *w,
		       const float *ws, uint64_t r, uint64_t n)
{
	wk->dev->kern->mm_q8x(wk->d + r, wk->dpitch, (const int8_t *)w,
			      wk->wpitch, ws, (size_t)wk->m->group, wk->q8x,
			      wk->q8x_scales, wk->q8x_bias, (size_t)n, wk->nx,
			      (size_t)wk->m->cols);
}

static void jal_mm_rows(struct jal_mm_work *wk, struct jal_tscratch *ts,
			uint64_t r, uint64_t n)
{
	const struct jal_kernels *k = wk->dev->kern;
	const struct jal_weights *m = wk->m;
	const uint8_t *w = wk->w + r * wk->wpitch * m->esize;
	size_t cols = m->cols, per;

	switch (m->dtype) {
	case JAL_DTYPE_F32:
		if (wk->nx == 1)
			k->mv_f32(wk->d + r, (const float *)w, wk->wpitch, wk->x,
				  n, cols);
		else
			k->mm_f32(wk->d + r, wk->dpitch, (const float *)w,
				  wk->wpitch, wk->x, wk->xpitch, n, wk->nx, cols);
		return;
	case JAL_DTYPE_BF16:
		if (wk->nx == 1)
			k->mv_bf16(wk->d + r, (const uint16_t *)w, wk->wpitch,
				   wk->x, n, cols);
		else
			k->mm_bf16(wk->d + r, wk->dpitch, (const uint16_t *)w,
				   wk->wpitch, wk->x, wk->xpitch, n, wk->nx, cols);
		return;
	case JAL_DTYPE_Q4:
		k->mm_q4(wk->d + r, wk->dpitch, w, wk->wpitch,
			 (const float *)(wk->aux + r * m->abytes), wk->q8x,
			 wk->q8x_scales, wk->q8x_bias, (size_t)n, wk->nx, cols);
		return;
	case JAL_DTYPE_Q8:
		if (wk->q8x) {
			jal_mm_q8x(wk, w, (const float *)(wk->aux + r * m->abytes),
				   r, n);
			return;
		}
		if (wk->nx == 1 && m->group % 8 == 0) {
			k->mv_q8(wk->d + r, (const int8_t *)w, wk->wpitch,
				 (const float *)(wk->aux + r * m->abytes),
				 m->group, wk->x, n, cols);
			return;
		}
		break;
	default:
		if (wk->nx == 1) {
			if (!k->mv_s24(wk->d + r, (const uint16_t *)w, wk->wpitch,
				       wk->aux + r * m->abytes, wk->x, n, cols))
				atomic_store_explicit(&wk->bad, true,
						      memory_order_relaxed);
			return;
		}
		break;
	}
	/* Several X rows (or odd Q8 groups): decode to f32 first. */
	per = JAL_MAX(1, JAL_PANEL_ELEMS / JAL_MAX(cols, 1));
	while (n) {
		size_t now = (size_t)JAL_MIN(n, (uint64_t)per);

		jal_mm_decoded(wk, ts->panel, r, now);
		r += now;
		n -= now;
	}
}

static void jal_mm_part(void *arg, unsigned int thread)
{
	struct jal_mm_work *wk = arg;
	struct jal_tscratch *ts = &wk->dev->worker.ts[thread];
	uint64_t r, end;

	while (jal_claim(&wk->rows_left, thread, &r, &end)) {
		if (atomic_load_explicit(&wk->dev->abort, memory_order_relaxed))
			return;
		jal_mm_rows(wk, ts, r, end - r);
	}
}

/* Everything one MATVEC or MATMUL needs. */
struct jal_mm {
	struct jal_exec *ex;
	const struct jal_insn *in;
	struct jal_weights m;
	uint64_t n;			/* rows of X (1 for MATVEC) */
	bool vec;			/* MATVEC */
	/* MATVEC: x and d as strided vectors. */
	struct jal_operand xv, dv;
	/* MATMUL: X and D as matrices. */
	struct jal_span x, d;
	uint64_t xpitch, dpitch;	/* elements */
	float *staged;			/* all of D, when D overlaps an input */
	float last;			/* MATVEC with d stride 0 */
};

/* MATVEC: the resident x (pointer or gathered into xbuf). */
static enum jal_status jal_mm_x_vector(struct jal_mm *mm, const float **x)
{
	struct jal_exec *ex = mm->ex;
	uint8_t *p = NULL;

	if (mm->xv.stride == 1)
		p = jal_mmu_span(ex->job, mm->xv.va, mm->m.cols * 4, false);
	if (p) {
		*x = (const float *)p;
		return JAL_STATUS_OK;
	}
	*x = ex->w->xbuf;
	return jal_gather_f32(ex, &mm->xv, 0, mm->m.cols, ex->w->xbuf);
}

/* W rows [r, r + n): in place, or read into the bounce buffers. */
static enum jal_status jal_mm_w_block(struct jal_mm *mm, uint64_t r, uint64_t n,
				      struct jal_mm_work *wk)
{
	struct jal_exec *ex = mm->ex;
	const struct jal_weights *m = &mm->m;
	uint64_t rowbytes = m->rowlen * m->esize, i;
	enum jal_status st = JAL_STATUS_OK;

	if (m->w.ptr) {
		wk->w = m->w.ptr + r * m->pitch * m->esize;
		wk->wpitch = (size_t)m->pitch;
	} else {
		wk->w = ex->w->wbuf;
		wk->wpitch = (size_t)m->rowlen;
		/* Only the rows' own bytes, not the gaps between them. */
		if (m->pitch == m->rowlen) {
			st = jal_span_read(ex, &m->w, r * rowbytes, ex->w->wbuf,
					   n * rowbytes);
		} else {
			for (i = 0; !st && i < n; i++)
				st = jal_span_read(ex, &m->w,
						   (r + i) * m->pitch * m->esize,
						   ex->w->wbuf + i * rowbytes,
						   rowbytes);
		}
		if (!st)
			jal_le_to_host(ex->w->wbuf, n * m->rowlen, m->esize);
	}
	if (st || !m->abytes)
		return st;
	if (m->aux.ptr) {
		wk->aux = m->aux.ptr + r * m->abytes;
		return JAL_STATUS_OK;
	}
	wk->aux = ex->w->abuf;
	st = jal_span_read(ex, &m->aux, r * m->abytes, ex->w->abuf, n * m->abytes);
	if (!st && m->dtype != JAL_DTYPE_S24)
		jal_le_to_host(ex->w->abuf, n * m->abytes / 4, 4);
	return st;
}

/* Rows of W a block may hold, given the bounce buffers in use. */
static uint64_t jal_mm_w_rows(const struct jal_mm *mm, uint64_t out_rows)
{
	const struct jal_weights *m = &mm->m;
	uint64_t rows = m->rows;

	if (!m->w.ptr)
		rows = JAL_MIN(rows, JAL_WBUF_BYTES / (m->rowlen * m->esize));
	if (m->abytes && !m->aux.ptr)
		rows = JAL_MIN(rows, JAL_ABUF_BYTES / m->abytes);
	return JAL_MAX(1, JAL_MIN(rows, out_rows));
}

/* Run one block on the compute threads. */
static enum jal_status jal_mm_compute(struct jal_mm *mm, struct jal_mm_work *wk)
{
	struct jal_exec *ex = mm->ex;

	/* Decoding weights costs more per multiply-add than f32 does. */
	static const unsigned int cost[JAL_DTYPE_COUNT] = { 2, 3, 3, 6, 2 };
	unsigned int threads = ex->job->dev->compute_threads;
	/*
	 * Q8X's integer dot products take about what f32 does per weight
	 * in a row panel, and its weights come from memory cold in decode.
	 */
	unsigned int c = mm->m.q8x ? 2 : cost[mm->m.dtype];
	uint64_t block, align;

	/*
	 * Blocks of rows: about two per thread (each claim moves a cache
	 * line between cores, so few claims, but more than one so that a
	 * helper that starts late still takes a share), a multiple of the
	 * rows a kernel takes at a time (16 for Q8X: a panel short of 16
	 * rows recomputes some), and bounded in work; with several X rows
	 * of Q8 or S24 also by the decoding panel (F32 and BF16 have
	 * MATMUL kernels of their own).
	 */
	align = mm->m.q8x ? 16 : 4;
	block = wk->rows / (threads * 2) + 1;
	block = (block + align - 1) & ~(align - 1);
	block = JAL_MIN(block, JAL_MM_BLOCK_MACS / (mm->m.cols * wk->nx) & ~(align - 1));
	if (wk->nx > 1 && !mm->m.q8x && mm->m.dtype != JAL_DTYPE_F32 &&
	    mm->m.dtype != JAL_DTYPE_BF16)
		block = JAL_MIN(block, JAL_MAX(4, JAL_PANEL_ELEMS / mm->m.cols) & ~3ull);
	jal_claim_init(&wk->rows_left, wk->rows, JAL_MAX(block, align));
	atomic_init(&wk->bad, false);
	jal_pool_run(&ex->job->dev->pool,
		     jal_exec_share(ex, wk->rows * mm->m.cols * wk->nx * c / 2),
		     jal_mm_part, wk);
	if (jal_job_aborted(ex->job))
		return JAL_STATUS_ABORTED;
	if (atomic_load(&wk->bad))
		return jal_exec_bad(ex, "S24 index byte with bits 7..4 set or first column >= second");
	return JAL_STATUS_OK;
}

/* Results of MATVEC rows [r, r + n) in @out to d. */
static enum jal_status jal_mv_put(struct jal_mm *mm, uint64_t r, float *out,
				  uint64_t n)
{
	if (!mm->dv.stride) {
		mm->last = out[n - 1];
		return JAL_STATUS_OK;
	}
	if (mm->staged) {
		memcpy(mm->staged + r, out, n * sizeof(float));
		return JAL_STATUS_OK;
	}
	return jal_scatter_f32(mm->ex, &mm->dv, r, (size_t)n, out);
}

/* Results of MATMUL rows n0.. of X, W rows [r, r + m) in @out (pitch m). */
static enum jal_status jal_mm_put(struct jal_mm *mm, uint64_t n0, uint64_t nx,
				  uint64_t r, float *out, uint64_t m)
{
	enum jal_status st = JAL_STATUS_OK;
	uint64_t j;

	for (j = 0; !st && j < nx; j++) {
		if (mm->staged)
			memcpy(mm->staged + (n0 + j) * mm->m.rows + r, out + j * m,
			       m * sizeof(float));
		else
			st = jal_span_put_f32(mm->ex, &mm->d,
					      (n0 + j) * mm->dpitch + r,
					      out + j * m, (size_t)m);
	}
	return st;
}

/*
 * Q8X: quantize @nx rows of X (@xpitch floats apart) into the worker's
 * buffers, once for all rows of W. The bias, 128 times each group's sum
 * of q, lets kernels offset the weights to unsigned bytes (w + 128) and
 * subtract it.
 */
static void jal_mm_q8x_quantize(struct jal_mm *mm, struct jal_mm_work *wk,
				const float *x, size_t xpitch, size_t nx)
{
	struct jal_worker *w = mm->ex->w;
	size_t cols = mm->m.cols, groups = cols / mm->m.group, j;

	for (j = 0; j < nx; j++)
		mm->ex->job->dev->kern->q8x_quantize(w->q8x + j * cols,
						     w->q8x_scales + j * groups,
						     w->q8x_bias + j * groups,
						     x + j * xpitch, cols,
						     (size_t)mm->m.group);
	wk->q8x = w->q8x;
	wk->q8x_scales = w->q8x_scales;
	wk->q8x_bias = w->q8x_bias;
}

/*
 * Rows of X (at most @left) one pass over W takes: f32 rows a cache-sized
 * tile, and 4 rows of W times them one claim; Q8X rows as many as its
 * quantized buffer holds (one byte a value, and every pass over W reads
 * all of W).
 */
static uint64_t jal_mm_x_tile(const struct jal_mm *mm, uint64_t left)
{
	uint64_t K = mm->m.cols;

	if (mm->m.q8x)
		return JAL_MIN(left, JAL_Q8X_BLK_ELEMS / K);
	left = JAL_MIN(left, JAL_MAX(4, JAL_MM_XTILE_FLOATS / K));
	return JAL_MIN(left, JAL_MAX(1, JAL_MM_BLOCK_MACS / 4 / K));
}

/* The fast path: rows of X no longer than JAL_XBUF_ELEMS. */
static enum jal_status jal_mm_fast(struct jal_mm *mm)
{
	struct jal_exec *ex = mm->ex;
	struct jal_worker *w = ex->w;
	struct jal_weights *m = &mm->m;
	uint64_t K = m->cols, n0, nb, r, rb, j;
	bool direct, x_direct = false;
	enum jal_status st = JAL_STATUS_OK;
	const float *x = NULL;
	size_t xpitch = 0;

	/* Results straight into D (or the staging copy)? */
	if (mm->vec)
		direct = mm->dv.stride == 1 && !mm->staged &&
			 jal_mmu_span(ex->job, mm->dv.va, m->rows * 4, true);
	else
		direct = mm->staged || mm->d.ptr;
	if (!mm->vec)
		x_direct = mm->x.ptr;

	for (n0 = 0; !st && n0 < mm->n; n0 += nb) {
		struct jal_mm_work wk = {
			.dev = ex->job->dev,
			.m = m,
		};

		/* A block of X rows. */
		if (mm->vec) {
			nb = 1;
			st = jal_mm_x_vector(mm, &x);
			xpitch = (size_t)K;
		} else if (x_direct) {
			/* A tile of X in place. */
			nb = jal_mm_x_tile(mm, mm->n - n0);
			x = (const float *)mm->x.ptr + n0 * mm->xpitch;
			xpitch = (size_t)mm->xpitch;
		} else {
			nb = JAL_MIN(jal_mm_x_tile(mm, mm->n - n0), JAL_XBLK_ELEMS / K);
			if (!direct)
				nb = JAL_MIN(nb, 64);
			x = w->xblk;
			xpitch = (size_t)K;
			for (j = 0; !st && j < nb; j++) {
				st = jal_span_read(ex, &mm->x,
						   (n0 + j) * mm->xpitch * 4,
						   w->xblk + j * K, K * 4);
				jal_le_to_host(w->xblk + j * K, K, 4);
			}
		}
		if (st)
			break;
		/* Results go out through obuf: at most 64 rows of X at once. */
		if (!direct)
			nb = JAL_MIN(nb, 64);
		if (m->q8x)
			jal_mm_q8x_quantize(mm, &wk, x, xpitch, (size_t)nb);

		wk.x = x;
		wk.xpitch = xpitch;
		wk.nx = (size_t)nb;

		for (r = 0; !st && r < m->rows; r += rb) {
			rb = jal_mm_w_rows(mm, direct ? m->rows - r :
					   JAL_MIN(m->rows - r, JAL_OBUF_ELEMS / nb));
			st = jal_mm_w_block(mm, r, rb, &wk);
			if (st)
				break;
			wk.rows = rb;
			if (direct && mm->vec) {
				wk.d = (float *)jal_mmu_span(ex->job, mm->dv.va,
							     m->rows * 4, true) + r;
				wk.dpitch = 1;
			} else if (direct) {
				wk.d = mm->staged ?
				       mm->staged + n0 * m->rows + r :
				       (float *)mm->d.ptr + n0 * mm->dpitch + r;
				wk.dpitch = mm->staged ? (size_t)m->rows :
					    (size_t)mm->dpitch;
			} else {
				wk.d = w->obuf;
				wk.dpitch = (size_t)rb;
			}
			st = jal_mm_compute(mm, &wk);
			if (st || direct)
				continue;
			if (mm->vec)
				st = jal_mv_put(mm, r, w->obuf, rb);
			else
				st = jal_mm_put(mm, n0, nb, r, w->obuf, rb);
		}
	}
	return st;
}

static float jal_lanes_sum(const float lanes[8])
{
	return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
	       ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/* Elements [k0, k0 + n) of X row @row (MATVEC: of x). */
static enum jal_status jal_mm_slow_x(struct jal_mm *mm, uint64_t row,
				     uint64_t k0, size_t n, float *buf)
{
	enum jal_status st;

	if (mm->vec)
		return jal_gather_f32(mm->ex, &mm->xv, k0, n, buf);
	st = jal_span_read(mm->ex, &mm->x, (row * mm->xpitch + k0) * 4, buf, n * 4);
	jal_le_to_host(buf, n, 4);
	return st;
}

/*
 * One result of a row longer than JAL_XBUF_ELEMS, chunk by chunk of
 * columns: W decoded to f32, x read alongside, the lanes carried over.
 */
static enum jal_status jal_mm_slow_one(struct jal_mm *mm, uint64_t n,
				       uint64_t r, float *result)
{
	struct jal_exec *ex = mm->ex;
	const struct jal_kernels *k = ex->job->dev->kern;
	const struct jal_weights *m = &mm->m;
	float *wf = ex->w->vec[0], *xf = ex->w->vec[1], *sc = ex->w->vec[2];
	uint8_t *raw = (uint8_t *)ex->w->scratch, *ib = (uint8_t *)ex->w->xblk;
	float lanes[8] = { 0 };
	uint64_t k0, chunk = JAL_VEC_CHUNK / 2;	/* columns, a multiple of 8 */
	enum jal_status st;

	for (k0 = 0; k0 < m->cols; k0 += chunk) {
		size_t c = (size_t)JAL_MIN(chunk, m->cols - k0), i;
		uint64_t g0, g1;

		if (jal_job_aborted(ex->job))
			return JAL_STATUS_ABORTED;
		if (m->dtype == JAL_DTYPE_S24) {
			st = jal_span_read(ex, &m->w, (r * m->pitch + k0 / 2) * 2, raw,
					   c);
			if (!st)
				st = jal_span_read(ex, &m->aux, r * m->abytes + k0 / 4,
						   ib, c / 4);
			if (st)
				return st;
			jal_le_to_host(raw, c / 2, 2);
			if (!k->dec_s24(wf, (const uint16_t *)raw, ib, c))
				return jal_exec_bad(ex, "S24 index byte with bits 7..4 set or first column >= second in row %llu",
						    (unsigned long long)r);
		} else {
			st = jal_span_read(ex, &m->w, (r * m->pitch + k0) * m->esize,
					   raw, c * m->esize);
			if (st)
				return st;
			jal_le_to_host(raw, c, m->esize);
		}
		if (m->dtype == JAL_DTYPE_F32) {
			memcpy(wf, raw, c * 4);
		} else if (m->dtype == JAL_DTYPE_BF16) {
			k->dec_bf16(wf, (const uint16_t *)raw, c);
		} else if (m->dtype == JAL_DTYPE_Q8) {
			/* c < JAL_VEC_CHUNK columns touch at most that many groups. */
			g0 = k0 / m->group;
			g1 = (k0 + c - 1) / m->group;
			st = jal_span_read(ex, &m->aux, r * m->abytes + g0 * 4, sc,
					   (g1 - g0 + 1) * 4);
			if (st)
				return st;
			jal_le_to_host(sc, g1 - g0 + 1, 4);
			for (i = 0; i < c; i++)
				wf[i] = (float)((const int8_t *)raw)[i] *
					sc[(k0 + i) / m->group - g0];
		}
		st = jal_mm_slow_x(mm, n, k0, c, xf);
		if (st)
			return st;
		k->dot_lanes(lanes, wf, xf, c);
	}
	*result = jal_lanes_sum(lanes);
	return JAL_STATUS_OK;
}

static enum jal_status jal_mm_slow(struct jal_mm *mm)
{
	struct jal_exec *ex = mm->ex;
	float *out = ex->w->obuf;
	enum jal_status st = JAL_STATUS_OK;
	uint64_t n, r0;
	size_t i;

	for (n = 0; !st && n < mm->n; n++) {
		for (r0 = 0; !st && r0 < mm->m.rows; r0 += i) {
			for (i = 0; !st && i < JAL_OBUF_ELEMS && r0 + i < mm->m.rows; i++)
				st = jal_mm_slow_one(mm, n, r0 + i, &out[i]);
			if (st)
				break;
			if (mm->vec)
				st = jal_mv_put(mm, r0, out, i);
			else
				st = jal_mm_put(mm, n, 1, r0, out, i);
		}
	}
	return st;
}

/* Results for zero columns: +0.0 everywhere, W and X untouched. */
static enum jal_status jal_mm_zero(struct jal_mm *mm)
{
	float *out = mm->ex->w->obuf;
	enum jal_status st = JAL_STATUS_OK;
	uint64_t n, r, c;

	memset(out, 0, JAL_OBUF_ELEMS * sizeof(float));
	if (mm->vec && !mm->dv.stride)
		return jal_scatter_f32(mm->ex, &mm->dv, 0, 1, out);
	for (n = 0; !st && n < mm->n; n++) {
		for (r = 0; !st && r < mm->m.rows; r += c) {
			if (jal_job_aborted(mm->ex->job))
				return JAL_STATUS_ABORTED;
			c = JAL_MIN(mm->m.rows - r, (uint64_t)JAL_OBUF_ELEMS);
			if (mm->vec)
				st = jal_scatter_f32(mm->ex, &mm->dv, r, (size_t)c, out);
			else
				st = jal_span_put_f32(mm->ex, &mm->d,
						      n * mm->dpitch + r, out,
						      (size_t)c);
		}
	}
	return st;
}

static bool jal_mm_overlaps(const struct jal_mm *mm, const struct jal_span *d)
{
	return jal_span_overlap(d, &mm->m.w) || jal_span_overlap(d, &mm->m.aux) ||
	       (!mm->vec && jal_span_overlap(d, &mm->x));
}

static enum jal_status jal_mm_run(struct jal_mm *mm)
{
	struct jal_exec *ex = mm->ex;
	enum jal_status st;
	uint64_t total, done, c;

	if (!mm->m.cols)
		return jal_mm_zero(mm);
	st = jal_weights_map(ex, mm->in, &mm->m);
	if (st)
		return st;

	/* D overlapping an input: stage all of it (bounded by its extent). */
	if (mm->vec) {
		struct jal_span dspan = {
			.va = mm->dv.lo, .len = mm->dv.hi - mm->dv.lo,
		};
		struct jal_span xspan = {
			.va = mm->xv.lo, .len = mm->xv.hi - mm->xv.lo,
		};

		dspan.ptr = jal_mmu_span(ex->job, dspan.va, dspan.len, true);
		if (mm->dv.stride && (jal_mm_overlaps(mm, &dspan) ||
				      jal_span_overlap(&dspan, &xspan)))
			mm->staged = malloc(mm->m.rows * sizeof(float));
		else
			dspan.len = 0;
		total = dspan.len ? mm->m.rows : 0;
	} else {
		total = jal_mm_overlaps(mm, &mm->d) ? mm->n * mm->m.rows : 0;
		if (total)
			mm->staged = malloc(total * sizeof(float));
	}
	if (total && !mm->staged) {
		jal_log(ex->job->dev, "out of host memory staging %llu results",
			(unsigned long long)total);
		return JAL_STATUS_BUS_ERROR;
	}

	st = mm->m.cols <= JAL_XBUF_ELEMS ? jal_mm_fast(mm) : jal_mm_slow(mm);
	if (!st && mm->vec && !mm->dv.stride)
		st = jal_scatter_f32(ex, &mm->dv, 0, 1, &mm->last);
	for (done = 0; !st && mm->staged && done < total; done += c) {
		if (jal_job_aborted(ex->job)) {
			st = JAL_STATUS_ABORTED;
			break;
		}
		if (mm->vec) {
			c = JAL_MIN(total - done, (uint64_t)JAL_VEC_CHUNK);
			st = jal_scatter_f32(ex, &mm->dv, done, (size_t)c,
					     mm->staged + done);
		} else {
			c = mm->m.rows;
			st = jal_span_put_f32(ex, &mm->d, done / c * mm->dpitch,
					      mm->staged + done, (size_t)c);
		}
	}
	free(mm->staged);
	return st;
}

enum jal_status jal_op_matvec(struct jal_exec *ex, const struct jal_insn *in)
{
	struct jal_mm mm = { .ex = ex, .in = in, .n = 1, .vec = true };
	enum jal_status st;

	st = jal_weights_shape(ex, in, 2, &mm.m);
	if (!st)
		st = jal_exec_charge(ex, mm.m.rows * mm.m.cols);
	if (st || !mm.m.rows)
		return st;
	st = jal_operand_vector(ex, &mm.dv, "d", ex->regs[in->r[0]],
				in->stride[0], mm.m.rows, true);
	if (!st && mm.m.cols)
		st = jal_operand_vector(ex, &mm.xv, "x", ex->regs[in->r[2]],
					in->stride[2], mm.m.cols, false);
	if (st)
		return st;
	return jal_mm_run(&mm);
}

/* a * b * c, saturating. */
static uint64_t jal_mul3(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 p = (unsigned __int128)a * b * c;

	return p > UINT64_MAX ? UINT64_MAX : (uint64_t)p;
}

enum jal_status jal_op_matmul(struct jal_exec *ex, const struct jal_insn *in)
{
	struct jal_mm mm = { .ex = ex, .in = in };
	enum jal_status st;

	st = jal_weights_shape(ex, in, 3, &mm.m);
	if (!st)
		st = jal_exec_dim(ex, in, 2, &mm.n);
	if (st)
		return st;
	mm.dpitch = in->stride[0] ? in->stride[0] : mm.m.rows;
	mm.xpitch = in->stride[2] ? in->stride[2] : mm.m.cols;
	if (mm.dpitch < mm.m.rows)
		return jal_exec_bad(ex, "row pitch %llu of D is less than its %llu columns",
				    (unsigned long long)mm.dpitch,
				    (unsigned long long)mm.m.rows);
	if (mm.xpitch < mm.m.cols)
		return jal_exec_bad(ex, "row pitch %llu of X is less than its %llu columns",
				    (unsigned long long)mm.xpitch,
				    (unsigned long long)mm.m.cols);
	st = jal_exec_charge(ex, jal_mul3(mm.m.rows, mm.m.cols, mm.n));
	if (st || !mm.m.rows || !mm.n)
		return st;
	st = jal_span_init(ex, &mm.d, "D", ex->regs[in->r[0]],
			   jal_extent(mm.n, mm.dpitch * 4, mm.m.rows * 4), 4, true);
	if (!st && mm.m.cols)
		st = jal_span_init(ex, &mm.x, "X", ex->regs[in->r[2]],
				   jal_extent(mm.n, mm.xpitch * 4, mm.m.cols * 4),
				   4, false);
	if (st)
		return st;
	return jal_mm_run(&mm);
}
