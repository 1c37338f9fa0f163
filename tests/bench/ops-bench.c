// SPDX-License-Identifier: MIT
/*
 * Throughput of the chip model's compute instructions, weights in device
 * memory, against OpenBLAS on the same f32 data (single-threaded and with
 * OpenBLAS's default thread count) and against host memcpy bandwidth
 * measured in the same run.
 *
 * The chip runs each instruction in a counted loop inside one kernel
 * (LI/ADDI/BNE around it), so the time per instruction includes the
 * interpreter and operand setup but not job submission. Every time is
 * the best of ROUNDS runs of at least MIN_SECONDS each, chip and OpenBLAS
 * alike, and the whole table is measured --repeat times (the best of each
 * cell is printed), which filters out most interference from other load
 * on the machine; the numbers remain only as steady as the machine.
 *
 * Columns: chip time per instruction; GFLOP/s (2 per multiply-add) and
 * GB/s (weights or operands read once per instruction) of the chip;
 * OpenBLAS times; "vs BLAS" = best OpenBLAS time / chip time (above 1:
 * the chip is faster); "of memcpy" = chip GB/s / memcpy GB/s.
 */
#define _GNU_SOURCE
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "jal_test.h"

#define BENCH_VRAM	(1536 * MiB)
#define WEIGHTS_VA	0x4000000000ull	/* 256 GiB: far from the test layout */
#define MIN_SECONDS	0.025	/* per timed run */
#define ROUNDS		7	/* timed runs; the best counts */

int openblas_get_num_threads(void);
void openblas_set_num_threads(int threads);
char *openblas_get_corename(void);

/* One line of the table: the best of every repetition. */
struct result_row {
	char op[16], shape[40], ref[32];
	double chip, flops, bytes, blas1, blasn;
};

#define MAX_ROWS	64

struct bench {
	struct fake *f;
	uint64_t vram_next;
	uint64_t va_next;
	bool quick;
	int blas_threads;
	double memcpy_gbs;
	struct result_row rows[MAX_ROWS];
	unsigned int nrows, next_row;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *msg)
{
	fprintf(stderr, "ops-bench: %s\n", msg);
	exit(1);
}

/* Device memory at a fresh VA, mapped with 2 MiB pages. */
static uint64_t dev_alloc(struct bench *b, uint64_t size, void **host)
{
	uint64_t len = (size + JAL_HUGE_PAGE_SIZE - 1) & ~(JAL_HUGE_PAGE_SIZE - 1);
	uint64_t va = b->va_next;

	if (!len)
		len = JAL_HUGE_PAGE_SIZE;
	if (b->vram_next + len > b->f->vram_size)
		die("out of device memory");
	map_vram_huge(b->f, CTX, va, b->vram_next, len, RW);
	*host = b->f->vram + b->vram_next;
	b->vram_next += len;
	b->va_next += len + JAL_HUGE_PAGE_SIZE;	/* a hole between buffers */
	return va;
}

static void dev_reset(struct bench *b)
{
	b->vram_next = 0;
	wr(b->f, JAL_REG_MMU_INVALIDATE, JAL_MMU_INVALIDATE_ALL);
}

static uint64_t rng = 0x853c49e6748fea9bull;

static float frand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (float)((int32_t)((rng * 0x2545f4914f6cdd1dull) >> 32)) / 2147483648.0f;
}

static void fill(float *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = frand();
}

/*
 * Run a kernel, timed from the doorbell to the completion interrupt,
 * which the fake platform stamps on the worker thread; meanwhile this
 * thread sleeps instead of polling, so it does not compete for a CPU.
 */
static double run_timed(struct bench *b, const struct jal_insn *code,
			uint32_t count, const uint64_t *args, uint32_t nargs,
			uint32_t *status)
{
	struct fake *f = b->f;
	unsigned int irqs = atomic_load(&f->irqs[0]);
	struct cmdbuf cb = { 0 };
	uint64_t t0;
	uint32_t idx;

	host_write(f, CTX, CODE_VA, code, count * sizeof(*code));
	host_write(f, CTX, ARGS_VA, args, nargs * 8);
	cb_dispatch(&cb, CODE_VA, count * sizeof(*code), ARGS_VA, nargs * 8);
	host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);
	t0 = now_ns();
	idx = submit(f, 0, CTX, CMDBUF_VA, cb.len, JAL_DESC_F_IRQ);
	while (atomic_load(&f->irqs[0]) == irqs)
		usleep(1000);
	*status = desc_at(f, 0, idx)->status;
	return (atomic_load(&f->irq_ns[0]) - t0) * 1e-9;
}

/* Run @op in a loop in one kernel; seconds per instruction, the best. */
static double chip_time(struct bench *b, const struct jal_insn *op,
			const uint64_t *args, unsigned int nargs)
{
	struct jal_insn code[6];
	uint64_t a[16] = { 0 }, iters = 1;
	double best = 1e30, dt;
	uint32_t status;
	int round;

	memcpy(a, args, nargs * 8);
	/*
	 * Round -2 warms up (first touches of the operands' pages, helpers
	 * woken): timed cold, it would make the calibration pick so few
	 * iterations that the job's submission dominates the figure.
	 */
	for (round = -2; round < (b->quick ? 3 : ROUNDS); round++) {
		code[0] = i_li(20, iters);
		code[1] = i_li(21, 0);
		code[2] = *op;
		code[3] = i_addi(21, 21, 1);
		code[4] = i_bne(21, 20, 2);
		code[5] = i_op(JAL_OP_HALT);
		dt = run_timed(b, code, 6, a, 16, &status);
		if (status != JAL_STATUS_OK) {
			fprintf(stderr, "opcode 0x%02x: status %u\n", op->opcode,
				status);
			die("kernel failed");
		}
		if (round == -2)
			continue;
		if (round < 0) {
			/*
			 * Calibrate until the job takes long enough that its
			 * submission does not count, then aim at MIN_SECONDS.
			 */
			if (dt < MIN_SECONDS / 8 && iters < (1ull << 40)) {
				iters *= 8;
				round--;
				continue;
			}
			iters = (uint64_t)(iters * MIN_SECONDS / dt) + 1;
			if (b->quick)
				iters = iters / 4 + 1;
			continue;
		}
		if (dt / iters < best)
			best = dt / iters;
	}
	return best;
}

typedef void (*host_fn)(void *arg);

/*
 * The same for a host function, with OpenBLAS at @threads threads. Its
 * threads busy-wait for a while after a call: let them go to sleep before
 * anything else is measured.
 */
static double host_time(struct bench *b, host_fn fn, void *arg, int threads)
{
	double best = 1e30, t, dt;
	uint64_t iters = 1, i;
	int round;

	openblas_set_num_threads(threads);
	for (round = -1; round < (b->quick ? 3 : ROUNDS); round++) {
		t = now_s();
		for (i = 0; i < iters; i++)
			fn(arg);
		dt = now_s() - t;
		if (round < 0) {
			iters = (uint64_t)(MIN_SECONDS / (dt > 1e-7 ? dt : 1e-7)) + 1;
			if (b->quick)
				iters = iters / 4 + 1;
			continue;
		}
		if (dt / iters < best)
			best = dt / iters;
	}
	if (threads > 1) {
		openblas_set_num_threads(1);
		usleep(300000);
	}
	return best;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

/* Record a measurement; repetitions keep the best of each time. */
static void row(struct bench *b, const char *op, const char *shape,
		double chip, double flops, double bytes, double blas1,
		double blasn, const char *ref)
{
	struct result_row *r = &b->rows[b->next_row++];

	if (b->next_row > b->nrows) {
		snprintf(r->op, sizeof(r->op), "%s", op);
		snprintf(r->shape, sizeof(r->shape), "%s", shape);
		snprintf(r->ref, sizeof(r->ref), "%s", ref);
		r->chip = chip;
		r->flops = flops;
		r->bytes = bytes;
		r->blas1 = blas1;
		r->blasn = blasn;
		b->nrows = b->next_row;
		return;
	}
	r->chip = dmin(r->chip, chip);
	r->blas1 = dmin(r->blas1, blas1);
	r->blasn = dmin(r->blasn, blasn);
}

static void print_table(struct bench *b)
{
	unsigned int i;

	printf("%-10s %-22s %10s %8s %8s %10s %10s %8s %7s %s\n", "op", "shape",
	       "chip us", "GFLOP/s", "GB/s", "BLAS1 us", "BLASn us", "vs BLAS",
	       "memcpy", "reference");
	for (i = 0; i < b->nrows; i++) {
		struct result_row *r = &b->rows[i];
		double best = dmin(r->blas1, r->blasn);
		double gbs = r->bytes / r->chip / 1e9;

		printf("%-10s %-22s %10.1f %8.1f %8.1f %10.1f %10.1f %7.2fx %7.2f %s\n",
		       r->op, r->shape, r->chip * 1e6, r->flops / r->chip / 1e9,
		       gbs, r->blas1 * 1e6, r->blasn * 1e6, best / r->chip,
		       gbs / b->memcpy_gbs, r->ref);
	}
}

/* memcpy between two 256 MiB buffers, GB/s of bytes copied. */
struct copy_arg {
	void *dst, *src;
	size_t len;
};

static void host_copy(void *arg)
{
	struct copy_arg *c = arg;

	memcpy(c->dst, c->src, c->len);
}

/* MATVEC / sgemv */

struct gemv_arg {
	const float *w, *x;
	float *y;
	int m, k;
};

static void host_sgemv(void *arg)
{
	struct gemv_arg *g = arg;

	cblas_sgemv(CblasRowMajor, CblasNoTrans, g->m, g->k, 1.0f, g->w, g->k,
		    g->x, 1, 0.0f, g->y, 1);
}

static uint16_t bf16_of(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return (uint16_t)(u >> 16);
}

/* The dtypes, and Q8 with JAL_INSN_F_Q8X (x quantized too) as one more. */
#define MV_KINDS	(JAL_DTYPE_COUNT + 1)
#define MV_Q8X		JAL_DTYPE_COUNT
static const char *const dtype_name[MV_KINDS] = {
	[JAL_DTYPE_F32] = "f32", [JAL_DTYPE_BF16] = "bf16", [JAL_DTYPE_Q8] = "q8",
	[JAL_DTYPE_S24] = "s24", [JAL_DTYPE_Q4] = "q4", [MV_Q8X] = "q8x",
};

/* Q4 weights: random bytes (two weights each), scales for groups of 32. */
static void fill_q4(void *w, void *aux, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n / 2; i++)
		((uint8_t *)w)[i] = (uint8_t)(frand() * 256);
	fill(aux, n / 32);
}

static double bench_matvec(struct bench *b, int m, int k, unsigned int kind,
			   double *bytes)
{
	unsigned int dtype = kind == MV_Q8X ? JAL_DTYPE_Q8 : kind;
	uint64_t n = (uint64_t)m * k, wva, sva = 0, xva, dva, wbytes = 0, abytes = 0;
	void *w, *aux = NULL, *x, *d;
	struct jal_insn in;
	uint64_t args[4];
	uint64_t i;
	double t;

	dev_reset(b);
	switch (dtype) {
	case JAL_DTYPE_F32:
		wbytes = n * 4;
		break;
	case JAL_DTYPE_BF16:
		wbytes = n * 2;
		break;
	case JAL_DTYPE_Q8:
		wbytes = n;
		abytes = n / 32 * 4;
		break;
	case JAL_DTYPE_Q4:
		wbytes = n / 2;
		abytes = n / 32 * 4;
		break;
	default:
		wbytes = n;		/* n / 2 values of 2 bytes */
		abytes = n / 4;
		break;
	}
	wva = dev_alloc(b, wbytes, &w);
	if (abytes)
		sva = dev_alloc(b, abytes, &aux);
	xva = dev_alloc(b, (uint64_t)k * 4, &x);
	dva = dev_alloc(b, (uint64_t)m * 4, &d);
	fill(x, k);
	switch (dtype) {
	case JAL_DTYPE_F32:
		fill(w, n);
		break;
	case JAL_DTYPE_BF16:
		for (i = 0; i < n; i++)
			((uint16_t *)w)[i] = bf16_of(frand());
		break;
	case JAL_DTYPE_Q8:
		for (i = 0; i < n; i++)
			((int8_t *)w)[i] = (int8_t)(frand() * 127);
		fill(aux, n / 32);
		break;
	case JAL_DTYPE_Q4:
		fill_q4(w, aux, n);
		break;
	default:
		for (i = 0; i < n / 2; i++)
			((uint16_t *)w)[i] = bf16_of(frand());
		for (i = 0; i < n / 4; i++)
			((uint8_t *)aux)[i] = "\x04\x08\x0c\x09\x0d\x0e"[i % 6];
		break;
	}
	in = i_matvec(0, 1, 2, m, k, 1, 0, 1);
	in.dtype = dtype;
	if (abytes)
		in.r[3] = 3;
	if (dtype == JAL_DTYPE_Q8 || dtype == JAL_DTYPE_Q4)
		in.dim[2] = 32;
	if (kind == MV_Q8X)
		in.flags |= JAL_INSN_F_Q8X;
	args[0] = dva;
	args[1] = wva;
	args[2] = xva;
	args[3] = sva;
	t = chip_time(b, &in, args, 4);
	*bytes = wbytes + abytes + k * 4.0;
	return t;
}

static void bench_matvecs(struct bench *b, int m, int k)
{
	struct gemv_arg g = { .m = m, .k = k };
	double blas1, blasn, t[MV_KINDS], bytes[MV_KINDS];
	char shape[64];
	unsigned int dt;

	for (dt = 0; dt < MV_KINDS; dt++)
		t[dt] = bench_matvec(b, m, k, dt, &bytes[dt]);
	g.w = malloc((size_t)m * k * 4);
	g.x = malloc((size_t)k * 4);
	g.y = malloc((size_t)m * 4);
	fill((float *)g.w, (size_t)m * k);
	fill((float *)g.x, k);
	blas1 = host_time(b, host_sgemv, &g, 1);
	blasn = host_time(b, host_sgemv, &g, b->blas_threads);
	for (dt = 0; dt < MV_KINDS; dt++) {
		snprintf(shape, sizeof(shape), "%dx%d %s", m, k, dtype_name[dt]);
		row(b, "MATVEC", shape, t[dt], 2.0 * m * k, bytes[dt], blas1, blasn,
		    "sgemv f32");
	}
	free((void *)g.w);
	free((void *)g.x);
	free(g.y);
}

/* MATMUL / sgemm: D (n x m) = X (n x k) W^T. */
struct gemm_arg {
	const float *w, *x;
	float *d;
	int m, k, n;
};

static void host_sgemm(void *arg)
{
	struct gemm_arg *g = arg;

	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, g->n, g->m, g->k,
		    1.0f, g->x, g->k, g->w, g->k, 0.0f, g->d, g->m);
}

/*
 * MATMUL of @n rows with f32 weights, or (@kind MV_Q8X) Q8 weights in
 * groups of 32 with X quantized per row, or (JAL_DTYPE_Q4) 4-bit ones
 * the same way; OpenBLAS runs sgemm on f32 W of the same shape always.
 */
static void bench_matmul(struct bench *b, int m, int k, int n, unsigned int kind)
{
	struct gemm_arg g = { .m = m, .k = k, .n = n };
	uint64_t wn = (uint64_t)m * k, i, wbytes = wn * 4, abytes = 0;
	double blas1, blasn, t;
	uint64_t args[4] = { 0 };
	struct jal_insn in;
	void *w, *x, *d, *aux;
	char shape[64];

	bool quant = kind == MV_Q8X || kind == JAL_DTYPE_Q4;

	dev_reset(b);
	if (quant) {
		wbytes = kind == MV_Q8X ? wn : wn / 2;
		abytes = wn / 32 * 4;
		args[3] = dev_alloc(b, abytes, &aux);
		fill(aux, wn / 32);
	}
	args[1] = dev_alloc(b, wbytes, &w);
	args[2] = dev_alloc(b, (uint64_t)n * k * 4, &x);
	args[0] = dev_alloc(b, (uint64_t)n * m * 4, &d);
	if (kind == MV_Q8X)
		for (i = 0; i < wn; i++)
			((int8_t *)w)[i] = (int8_t)(frand() * 127);
	else if (kind == JAL_DTYPE_Q4)
		fill_q4(w, aux, wn);
	else
		fill(w, wn);
	fill(x, (size_t)n * k);
	in = i_op(JAL_OP_MATMUL);
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[2] = 2;
	in.dim[0] = m;
	in.dim[1] = k;
	in.dim[2] = n;
	if (quant) {
		in.dtype = kind == MV_Q8X ? JAL_DTYPE_Q8 : JAL_DTYPE_Q4;
		in.flags = kind == MV_Q8X ? JAL_INSN_F_Q8X : 0;
		in.r[3] = 3;
		in.dim[3] = 32;
	}
	t = chip_time(b, &in, args, 4);
	g.w = quant ? malloc(wn * 4) : w;
	if (quant)
		fill((float *)g.w, wn);
	g.x = x;
	g.d = malloc((size_t)n * m * 4);
	blas1 = host_time(b, host_sgemm, &g, 1);
	blasn = host_time(b, host_sgemm, &g, b->blas_threads);
	free(g.d);
	if (quant)
		free((void *)g.w);
	snprintf(shape, sizeof(shape), "%dx%dx%d %s", m, k, n, dtype_name[kind]);
	row(b, "MATMUL", shape, t, 2.0 * m * k * n,
	    wbytes + abytes + 4.0 * ((double)n * k + (double)n * m), blas1, blasn,
	    "sgemm f32");
}

/* RMSNORM / sdot + C. */
struct vec_arg {
	const float *a, *b;
	float *d;
	int n;
};

static void host_rmsnorm(void *arg)
{
	struct vec_arg *v = arg;
	float ss = cblas_sdot(v->n, v->a, 1, v->a, 1), s;
	int i;

	s = 1.0f / sqrtf(ss / v->n + 1e-5f);
	for (i = 0; i < v->n; i++)
		v->d[i] = v->b[i] * (s * v->a[i]);
}

static void host_softmax(void *arg)
{
	struct vec_arg *v = arg;
	float max = v->a[0], sum = 0.0f;
	int i;

	for (i = 1; i < v->n; i++)
		if (v->a[i] > max)
			max = v->a[i];
	for (i = 0; i < v->n; i++) {
		v->d[i] = expf(v->a[i] - max);
		sum += v->d[i];
	}
	for (i = 0; i < v->n; i++)
		v->d[i] /= sum;
}

static void bench_vector(struct bench *b, uint8_t op, int n)
{
	struct vec_arg v = { .n = n };
	double blas1, blasn, t;
	uint64_t args[3];
	struct jal_insn in;
	void *a, *w, *d;
	char shape[64];

	dev_reset(b);
	args[0] = dev_alloc(b, (uint64_t)n * 4, &d);
	args[1] = dev_alloc(b, (uint64_t)n * 4, &a);
	args[2] = dev_alloc(b, (uint64_t)n * 4, &w);
	fill(a, n);
	fill(w, n);
	in = i_op(op);
	in.r[0] = 0;
	in.r[1] = 1;
	in.dim[0] = n;
	if (op == JAL_OP_RMSNORM) {
		in.r[2] = 2;
		in.imm[0] = f2u(1e-5f);
	}
	t = chip_time(b, &in, args, 3);
	v.a = a;
	v.b = w;
	v.d = malloc((size_t)n * 4);
	blas1 = host_time(b, op == JAL_OP_RMSNORM ? host_rmsnorm : host_softmax,
			  &v, 1);
	blasn = op == JAL_OP_RMSNORM ?
		host_time(b, host_rmsnorm, &v, b->blas_threads) : blas1;
	free(v.d);
	snprintf(shape, sizeof(shape), "n=%d", n);
	if (op == JAL_OP_RMSNORM)
		row(b, "RMSNORM", shape, t, 4.0 * n, 12.0 * n, blas1, blasn,
		    "sdot + C loop");
	else
		row(b, "SOFTMAX", shape, t, 4.0 * n, 8.0 * n, blas1, blasn,
		    "C loop (run.c)");
}

/* ATTENTION / per head: sgemv scores, C softmax, sgemv^T values. */
struct att_arg {
	const float *q, *k, *v;
	float *out, *s;
	int heads, hs, kv_heads, len;
};

static void host_attention(void *arg)
{
	struct att_arg *a = arg;
	int kv_dim = a->kv_heads * a->hs, h, t;
	struct vec_arg sm;

	for (h = 0; h < a->heads; h++) {
		int g = h / (a->heads / a->kv_heads);
		float scale = sqrtf(a->hs);

		cblas_sgemv(CblasRowMajor, CblasNoTrans, a->len, a->hs, 1.0f,
			    a->k + g * a->hs, kv_dim, a->q + h * a->hs, 1, 0.0f,
			    a->s, 1);
		for (t = 0; t < a->len; t++)
			a->s[t] /= scale;
		sm.a = a->s;
		sm.d = a->s;
		sm.n = a->len;
		host_softmax(&sm);
		cblas_sgemv(CblasRowMajor, CblasTrans, a->len, a->hs, 1.0f,
			    a->v + g * a->hs, kv_dim, a->s, 1, 0.0f,
			    a->out + h * a->hs, 1);
	}
}

static void bench_attention(struct bench *b, int heads, int hs, int kv_heads,
			    int len)
{
	struct att_arg a = { .heads = heads, .hs = hs, .kv_heads = kv_heads,
			     .len = len };
	uint64_t kv = (uint64_t)len * kv_heads * hs, args[4];
	double blas1, blasn, t;
	void *q, *k, *v, *out;
	struct jal_insn in;
	char shape[64];

	dev_reset(b);
	args[0] = dev_alloc(b, (uint64_t)heads * hs * 4, &out);
	args[1] = dev_alloc(b, (uint64_t)heads * hs * 4, &q);
	args[2] = dev_alloc(b, kv * 4, &k);
	args[3] = dev_alloc(b, kv * 4, &v);
	fill(q, (size_t)heads * hs);
	fill(k, kv);
	fill(v, kv);
	in = i_op(JAL_OP_ATTENTION);
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[2] = 2;
	in.r[3] = 3;
	in.dim[0] = heads;
	in.dim[1] = hs;
	in.dim[2] = kv_heads;
	in.dim[3] = len;
	t = chip_time(b, &in, args, 4);
	a.q = q;
	a.k = k;
	a.v = v;
	a.out = malloc((size_t)heads * hs * 4);
	a.s = malloc((size_t)len * 4);
	blas1 = host_time(b, host_attention, &a, 1);
	blasn = host_time(b, host_attention, &a, b->blas_threads);
	free(a.out);
	free(a.s);
	snprintf(shape, sizeof(shape), "H%d hs%d G%d T%d", heads, hs, kv_heads,
		 len);
	row(b, "ATTENTION", shape, t, 4.0 * heads * hs * len, 8.0 * kv, blas1,
	    blasn, "sgemv x2 per head");
}

static void usage(void)
{
	fprintf(stderr, "usage: ops-bench [--quick] [--repeat N] [--threads N] [--kernels NAME] [--only OP]\n"
		"  --quick         shorter runs, one repetition\n"
		"  --only OP       only MATVEC, MATMUL, RMSNORM, SOFTMAX or ATTENTION\n"
		"  --repeat N      run everything N times, keep the best (default 3)\n"
		"  --threads N     chip compute threads (default: the device's)\n"
		"  --kernels NAME  sse2, avx2 or avx512 (default: the best)\n");
	exit(2);
}

static const char *const bench_ops[] = {
	"MATVEC", "MATMUL", "RMSNORM", "SOFTMAX", "ATTENTION",
};

/* --only takes one of bench_ops (else usage): a typo must not print an empty table. */
static bool known_op(const char *op)
{
	unsigned int i;

	for (i = 0; i < sizeof(bench_ops) / sizeof(bench_ops[0]); i++)
		if (!strcasecmp(op, bench_ops[i]))
			return true;
	return false;
}

static bool wanted(const char *only, const char *op)
{
	return !only || !strcasecmp(only, op);
}

int main(int argc, char **argv)
{
	static const int mv[][2] = {
		{ 288, 288 }, { 768, 288 }, { 288, 768 }, { 32000, 288 },
		{ 4096, 4096 },
	};
	struct jal_device_config cfg;
	struct bench b = { .va_next = WEIGHTS_VA };
	unsigned int i, rep, repeat = 3;
	const char *only = NULL;
	struct copy_arg c;
	int arg;

	jal_device_config_default(&cfg);
	cfg.vram_size = BENCH_VRAM;
	for (arg = 1; arg < argc; arg++) {
		if (!strcmp(argv[arg], "--quick"))
			b.quick = true;
		else if (!strcmp(argv[arg], "--repeat") && arg + 1 < argc)
			repeat = (unsigned int)atoi(argv[++arg]);
		else if (!strcmp(argv[arg], "--kernels") && arg + 1 < argc)
			cfg.kernels = argv[++arg];
		else if (!strcmp(argv[arg], "--only") && arg + 1 < argc &&
			 known_op(argv[arg + 1]))
			only = argv[++arg];
		else if (!strcmp(argv[arg], "--threads") && arg + 1 < argc)
			cfg.compute_threads = (unsigned int)atoi(argv[++arg]);
		else
			usage();
	}
	b.f = fake_new_cfg(256 * MiB, &cfg);
	fake_default(b.f);
	wr(b.f, JAL_REG_STEP_LIMIT_LO, 0);
	wr(b.f, JAL_REG_STEP_LIMIT_HI, 0);
	b.blas_threads = openblas_get_num_threads();

	c.len = 256 * MiB;
	c.src = malloc(c.len);
	c.dst = malloc(c.len);
	memset(c.src, 1, c.len);
	memset(c.dst, 2, c.len);
	b.memcpy_gbs = c.len / host_time(&b, host_copy, &c, 1) / 1e9;
	free(c.src);
	free(c.dst);

	printf("# chip kernels %s, compute threads %u (cpus %ld); OpenBLAS %s, %d threads\n",
	       jal_device_kernels(b.f->dev),
	       cfg.compute_threads ? cfg.compute_threads :
	       (unsigned int)(sysconf(_SC_NPROCESSORS_ONLN) < 4 ?
			      sysconf(_SC_NPROCESSORS_ONLN) : 4),
	       sysconf(_SC_NPROCESSORS_ONLN), openblas_get_corename(),
	       b.blas_threads);
	if (b.quick || !repeat)
		repeat = 1;
	printf("# host memcpy (256 MiB): %.1f GB/s; best of %u repetitions\n",
	       b.memcpy_gbs, repeat);
	for (rep = 0; rep < repeat; rep++) {
		b.next_row = 0;
		if (wanted(only, "MATVEC"))
			for (i = 0; i < sizeof(mv) / sizeof(mv[0]); i++)
				bench_matvecs(&b, mv[i][0], mv[i][1]);
		if (wanted(only, "MATMUL")) {
			static const int batches[] = { 1, 4, 16, 64 };

			bench_matmul(&b, 768, 288, 64, JAL_DTYPE_F32);
			bench_matmul(&b, 288, 768, 64, JAL_DTYPE_F32);
			bench_matmul(&b, 512, 512, 512, JAL_DTYPE_F32);
			/* A batch of B sequences through a 4096 x 4096 layer. */
			for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++) {
				bench_matmul(&b, 4096, 4096, batches[i], JAL_DTYPE_F32);
				bench_matmul(&b, 4096, 4096, batches[i], MV_Q8X);
				bench_matmul(&b, 4096, 4096, batches[i], JAL_DTYPE_Q4);
			}
		}
		if (wanted(only, "RMSNORM")) {
			bench_vector(&b, JAL_OP_RMSNORM, 288);
			bench_vector(&b, JAL_OP_RMSNORM, 4096);
		}
		if (wanted(only, "SOFTMAX")) {
			bench_vector(&b, JAL_OP_SOFTMAX, 512);
			bench_vector(&b, JAL_OP_SOFTMAX, 32000);
		}
		if (wanted(only, "ATTENTION")) {
			bench_attention(&b, 6, 48, 6, 256);
			bench_attention(&b, 12, 64, 12, 1024);
			bench_attention(&b, 32, 128, 8, 2048);
		}
		fprintf(stderr, "# repetition %u of %u done\n", rep + 1, repeat);
	}
	print_table(&b);
	fake_free(b.f);
	return 0;
}
