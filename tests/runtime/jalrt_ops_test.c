// SPDX-License-Identifier: MIT
/*
 * ISA 1.1 instructions on the real device (run in the guest), each
 * against the host reference of chip_ref.c on random shapes including odd
 * sizes: MATVEC and MATMUL with F32/BF16/Q8/S24 weights, MATVEC with
 * quantised x (JAL_INSN_F_Q8X, also against the CPU reference's int8
 * product), RMSNORM,
 * SOFTMAX, ROPE, SILU_MUL, ATTENTION, EMBED, ARGMAX, SAMPLE, scalar
 * loads/stores and BEQ; weights in device memory; and bad operands,
 * rejected by the builder and, for raw kernels that bypass it, by the
 * chip (the job fails with -EINVAL). Skipped without a device, or one
 * without JAL_CAP_LLM.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "chip_ref.h"
#include "jalrt.h"
#include "jalrt_graph.h"
#include "reference.h"
#include "test_device.h"

#define TIMEOUT_NS		(120 * 1000000000LL)
#define OPS_TEST(name)		TEST_F_TIMEOUT(dev, name, 300)

FIXTURE(dev) {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_device_info info;
};

FIXTURE_SETUP(dev)
{
	int ret = test_device_open(&self->dev);

	if (ret == -ENODEV)
		SKIP(return, "no Jalapeño device: %s", jalrt_last_error_message());
	ASSERT_EQ(0, ret) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_device_query(self->dev, &self->info));
	if (!(self->info.caps & JAL_CAP_LLM))
		SKIP(return, "the device has no LLM instructions (caps 0x%x)", self->info.caps);
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_NORMAL, &self->ctx));
}

FIXTURE_TEARDOWN(dev)
{
	jalrt_context_destroy(self->ctx);
	jalrt_device_close(self->dev);
}

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

/* Values in [-scale, scale). */
static void fill(float *p, size_t n, uint32_t seed, float scale)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float)((lcg(&seed) >> 8) / 8388608.0 - 1.0) * scale;
}

/* A host buffer of @bytes (at least 4), NULL on failure. */
static struct jalrt_buffer *buf(struct __test_metadata *_metadata, struct jalrt_device *dev,
				size_t bytes)
{
	struct jalrt_buffer *b = NULL;

	EXPECT_EQ(0, jalrt_buffer_alloc(dev, bytes ? bytes : 4, 0, &b))
		TH_LOG("%s", jalrt_last_error_message());
	return b;
}

#define MAX_BUFS	8

/* Run @kb (finalized here) with the VAs of @bufs as r0.. and @extra after them. */
static int run(struct __test_metadata *_metadata, struct jalrt_context *ctx,
	       struct jalrt_device *dev, struct jalrt_kernel_builder *kb,
	       struct jalrt_buffer **bufs, unsigned int nbufs, const uint64_t *extra,
	       unsigned int nextra)
{
	struct jalrt_kernel *k = NULL;
	uint64_t args[JAL_MAX_ARGS];
	unsigned int i;
	int ret;

	ret = jalrt_kb_finalize(kb, dev, &k);
	jalrt_kb_destroy(kb);
	if (ret) {
		TH_LOG("finalize: %s", jalrt_last_error_message());
		return ret;
	}
	for (i = 0; i < nbufs; i++)
		args[i] = jalrt_buffer_va(bufs[i]);
	for (i = 0; i < nextra; i++)
		args[nbufs + i] = extra[i];
	ret = jalrt_dispatch_sync(ctx, k, args, nbufs + nextra, bufs, nbufs, TIMEOUT_NS);
	if (ret)
		TH_LOG("job: %s", jalrt_last_error_message());
	jalrt_kernel_destroy(k);
	return ret;
}

static void free_bufs(struct jalrt_buffer **b, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		jalrt_buffer_free(b[i]);
}

/* Count bitwise differences, logging the first few. */
static int compare(struct __test_metadata *_metadata, const char *what, const float *got,
		   const float *want, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		if (!memcmp(&got[i], &want[i], 4))
			continue;
		if (bad++ < 4)
			TH_LOG("%s: [%zu] chip %.9g host %.9g", what, i, got[i], want[i]);
	}
	return bad;
}

/* ---- matrix ops ---------------------------------------------------------- */

struct wshape {
	uint32_t rows, cols, group;
};

/* Weights of @dtype in the chip layout: data then aux (Q8 scales / S24 index). */
static size_t weight_bytes(unsigned int dtype, const struct wshape *s, size_t *aux_off)
{
	size_t n = (size_t)s->rows * s->cols;

	switch (dtype) {
	case JAL_DTYPE_BF16:
		*aux_off = 0;
		return n * 2;
	case JAL_DTYPE_Q8:
		*aux_off = (n + 3) & ~(size_t)3;
		return *aux_off + n / s->group * 4;
	case JAL_DTYPE_S24:
		*aux_off = n;
		return n + n / 4;
	case JAL_DTYPE_Q4:	/* two values a byte, then a scale per 32 */
		*aux_off = (n / 2 + 3) & ~(size_t)3;
		return *aux_off + n / 32 * 4;
	default:
		*aux_off = 0;
		return n * 4;
	}
}

static void convert(unsigned int dtype, const struct wshape *s, const float *src, uint8_t *dst,
		    size_t aux_off)
{
	size_t n = (size_t)s->rows * s->cols;

	switch (dtype) {
	case JAL_DTYPE_BF16:
		jalrt_convert_bf16((uint16_t *)dst, src, n);
		break;
	case JAL_DTYPE_Q8:
		jalrt_quantize_q8((int8_t *)dst, (float *)(dst + aux_off), src, s->rows, s->cols,
				  s->group);
		break;
	case JAL_DTYPE_S24:
		jalrt_sparsify_s24((uint16_t *)dst, dst + aux_off, src, s->rows, s->cols);
		break;
	case JAL_DTYPE_Q4:
		jalrt_quantize_q4(dst, (float *)(dst + aux_off), src, s->rows, s->cols);
		break;
	default:
		memcpy(dst, src, n * 4);
	}
}

static const struct wshape f32_shapes[] = {
	{ 1, 1, 0 }, { 3, 7, 0 }, { 17, 33, 0 }, { 64, 288, 0 }, { 5, 1001, 0 },
	{ 300, 96, 0 }, { 2, 5000, 0 },
};
static const struct wshape q8_shapes[] = {
	{ 3, 8, 8 }, { 17, 36, 4 }, { 5, 21, 7 }, { 64, 288, 32 }, { 7, 96, 96 },
	{ 33, 172, 4 }, { 9, 768, 64 },
};
static const struct wshape q4_shapes[] = {
	{ 1, 32, 32 }, { 3, 64, 32 }, { 17, 96, 32 }, { 64, 288, 32 }, { 5, 1024, 32 },
	{ 40, 2048, 32 },
};
static const struct wshape s24_shapes[] = {
	{ 1, 4, 0 }, { 9, 20, 0 }, { 31, 172, 0 }, { 64, 288, 0 }, { 3, 1028, 0 },
	{ 5, 12, 0 },
};

static void shapes_of(unsigned int dtype, const struct wshape **s, size_t *n)
{
	if (dtype == JAL_DTYPE_Q8) {
		*s = q8_shapes;
		*n = sizeof(q8_shapes) / sizeof(q8_shapes[0]);
	} else if (dtype == JAL_DTYPE_S24) {
		*s = s24_shapes;
		*n = sizeof(s24_shapes) / sizeof(s24_shapes[0]);
	} else if (dtype == JAL_DTYPE_Q4) {
		*s = q4_shapes;
		*n = sizeof(q4_shapes) / sizeof(q4_shapes[0]);
	} else {
		*s = f32_shapes;
		*n = sizeof(f32_shapes) / sizeof(f32_shapes[0]);
	}
}

/*
 * Q4 as the ISA defines it: the nibbles n as weights n - 8, x quantised per
 * group of 32 and summed as with JAL_INSN_F_Q8X, so the Q8 reference of
 * the same integers and scales gives its bits.
 */
static void ref_q4(float *d, const uint8_t *w, const float *scales, size_t rows, size_t cols,
		   const float *x)
{
	int8_t *q = malloc(rows * cols + 1);
	size_t i;

	for (i = 0; i < rows * cols; i++) {
		/* byte 16g + j of a row: column 32g + j low, 32g + j + 16 high */
		size_t r = i / cols, c = i % cols, g = c / 32, j = c % 32;
		uint8_t b = w[r * (cols / 2) + g * 16 + j % 16];

		q[i] = (int8_t)((j < 16 ? b & 15 : b >> 4) - 8);
	}
	ref_matvec_q8x(d, q, scales, rows, cols, 32, x);
	free(q);
}

/* MATVEC (batch 0) or MATMUL (batch >= 1) of every shape of @dtype. */
static void matrix_case(struct __test_metadata *_metadata, struct jalrt_device *dev,
			struct jalrt_context *ctx, unsigned int dtype, uint32_t batch)
{
	const struct wshape *shapes;
	size_t nshapes;

	shapes_of(dtype, &shapes, &nshapes);
	for (size_t c = 0; c < nshapes; c++) {
		const struct wshape *s = &shapes[c];
		uint32_t nb = batch ? batch : 1;
		size_t aux_off, wb = weight_bytes(dtype, s, &aux_off);
		float *src = malloc((size_t)s->rows * s->cols * 4), *want = malloc(s->rows * 4);
		struct jalrt_buffer *b[3];
		struct jalrt_kernel_builder *kb;
		struct jalrt_matrix_op op = {
			.dtype = dtype, .rd = 0, .rw = 1, .rx = 2,
			.raux = dtype == JAL_DTYPE_Q8 || dtype == JAL_DTYPE_S24 ||
				dtype == JAL_DTYPE_Q4 ? 3 : 0,
			.rows = JALRT_DIM(s->rows), .cols = JALRT_DIM(s->cols),
			.batch = JALRT_DIM(batch), .group = dtype == JAL_DTYPE_Q8 ? s->group : 0,
		};
		uint64_t aux_va;
		float *x, *d;
		int bad = 0;

		ASSERT_TRUE(src && want);
		fill(src, (size_t)s->rows * s->cols, 1 + (uint32_t)c, 1.0f);
		b[0] = buf(_metadata, dev, (size_t)s->rows * nb * 4);
		b[1] = buf(_metadata, dev, wb);
		b[2] = buf(_metadata, dev, (size_t)s->cols * nb * 4);
		ASSERT_TRUE(b[0] && b[1] && b[2]);
		convert(dtype, s, src, jalrt_buffer_host(b[1]), aux_off);
		x = jalrt_buffer_host(b[2]);
		fill(x, (size_t)s->cols * nb, 100 + (uint32_t)c, 2.0f);
		aux_va = jalrt_buffer_va(b[1]) + aux_off;
		ASSERT_EQ(0, jalrt_kb_create(4, &kb));
		if (batch)
			jalrt_kb_matmul(kb, &op);
		else
			jalrt_kb_matvec_op(kb, &op);
		ASSERT_EQ(0, run(_metadata, ctx, dev, kb, b, 3, &aux_va, 1))
			TH_LOG("dtype %u %ux%u", dtype, s->rows, s->cols);
		d = jalrt_buffer_host(b[0]);
		for (uint32_t n = 0; n < nb; n++) {
			uint8_t *w = jalrt_buffer_host(b[1]);

			if (dtype == JAL_DTYPE_Q4)
				ref_q4(want, w, (const float *)(w + aux_off), s->rows, s->cols,
				       x + (size_t)n * s->cols);
			else
				ref_matvec(dtype, want, w, w + aux_off, s->rows, s->cols, s->group,
					   x + (size_t)n * s->cols);
			bad += compare(_metadata, batch ? "matmul" : "matvec", d + (size_t)n * s->rows,
				       want, s->rows);
		}
		EXPECT_EQ(0, bad) TH_LOG("dtype %u, %u x %u, group %u, batch %u", dtype, s->rows,
					 s->cols, s->group, batch);
		free_bufs(b, 3);
		free(src);
		free(want);
	}
}

OPS_TEST(matvec_every_weight_dtype)
{
	for (unsigned int dt = 0; dt < JAL_DTYPE_COUNT; dt++)
		matrix_case(_metadata, self->dev, self->ctx, dt, 0);
}

OPS_TEST(matmul_every_weight_dtype)
{
	static const uint32_t batches[] = { 1, 3, 5 };

	for (unsigned int dt = 0; dt < JAL_DTYPE_COUNT; dt++)
		for (unsigned int i = 0; i < 3; i++)
			matrix_case(_metadata, self->dev, self->ctx, dt, batches[i]);
}

/* Weights in device memory give the same results (graph API, VRAM or fallback). */
OPS_TEST(matvec_with_weights_in_device_memory)
{
	static const unsigned int dts[] = { JALRT_DTYPE_F32, JALRT_DTYPE_Q8, JALRT_DTYPE_S24 };
	const uint32_t rows = 200, cols = 288;
	float *src = malloc(rows * cols * 4), x[288], out[2][200];

	ASSERT_NE(NULL, src);
	fill(src, rows * cols, 9, 1.0f);
	fill(x, cols, 10, 1.0f);
	for (unsigned int i = 0; i < 3; i++) {
		for (int host = 0; host < 2; host++) {
			struct jalrt_graph *g;
			struct jalrt_tensor *tw, *tx, *td;
			struct jalrt_tensor_desc dw = {
				.name = "w", .dtype = dts[i], .ndim = 2, .dims = { rows, cols },
				.group = dts[i] == JALRT_DTYPE_Q8 ? 32 : 0,
			};
			struct jalrt_tensor_desc dx = {
				.name = "x", .dtype = JALRT_DTYPE_F32, .ndim = 1, .dims = { cols },
			};
			struct jalrt_tensor_desc dd = {
				.name = "d", .dtype = JALRT_DTYPE_F32, .ndim = 1, .dims = { rows },
			};
			struct jalrt_graph_info gi;
			struct jalrt_program *p;

			ASSERT_EQ(0, jalrt_graph_create(self->ctx, host ? JALRT_GRAPH_HOST_MEMORY : 0,
							&g));
			ASSERT_EQ(0, jalrt_graph_tensor(g, &dw, &tw));
			ASSERT_EQ(0, jalrt_graph_tensor(g, &dx, &tx));
			ASSERT_EQ(0, jalrt_graph_tensor(g, &dd, &td));
			ASSERT_EQ(0, jalrt_tensor_set_f32(tw, src));
			ASSERT_EQ(0, jalrt_tensor_set_f32(tx, x));
			ASSERT_EQ(0, jalrt_graph_allocate(g)) TH_LOG("%s", jalrt_last_error_message());
			ASSERT_EQ(0, jalrt_graph_query(g, &gi));
			if (!host && self->info.vram_size)
				TH_LOG("%s weights in %s memory", jalrt_dtype_str(dts[i]),
				       gi.in_vram ? "device" : "host (driver without VRAM BOs)");
			EXPECT_FALSE(host && gi.in_vram);
			ASSERT_EQ(0, jalrt_program_create(g, 0, &p));
			ASSERT_EQ(0, jalrt_op_matvec(p, JALRT_REF(td), tw, JALRT_REF(tx)));
			ASSERT_EQ(0, jalrt_program_finalize(p));
			ASSERT_EQ(0, jalrt_program_run(p, self->ctx, NULL, 0, TIMEOUT_NS))
				TH_LOG("%s", jalrt_last_error_message());
			ASSERT_EQ(0, jalrt_tensor_read(td, 0, out[host], sizeof(out[host])));
			jalrt_program_destroy(p);
			jalrt_graph_destroy(g);
		}
		EXPECT_EQ(0, compare(_metadata, "device vs host memory", out[0], out[1], rows));
	}
	free(src);
}

/* ---- MATVEC with quantised x (JAL_INSN_F_Q8X) ---------------------------- */

/*
 * Rows not a multiple of 4; groups of 4, 8, 12, 32 and 64; from one group
 * to 128, so that several groups share a lane (group g goes to lane g % 8).
 */
static const struct wshape q8x_shapes[] = {
	{ 1, 4, 4 }, { 3, 8, 4 }, { 17, 36, 4 }, { 5, 96, 12 }, { 7, 120, 12 }, { 11, 72, 8 },
	{ 33, 172, 4 }, { 64, 288, 32 }, { 9, 768, 64 }, { 6, 4096, 32 },
};

/*
 * Random x plus what the quantisation must get right: an all-zero group
 * (scale 0: its q are 0, not NaN), a group whose scale is exactly 1
 * holding halves (roundf rounds them away from zero: 2.5 -> 3, -2.5 -> -3,
 * 0.5 -> 1, where round-to-even would give 2, -2, 0) and a NaN (never the
 * group's maximum, quantised to 0).
 */
static void q8x_input(float *x, const struct wshape *s, uint32_t seed)
{
	size_t groups = s->cols / s->group, g = s->group;

	fill(x, s->cols, seed, 2.0f);
	if (groups >= 2)
		memset(x + g, 0, g * sizeof(float));
	if (groups >= 3) {
		x[2 * g] = 127.0f;
		x[2 * g + 1] = 2.5f;
		x[2 * g + 2] = -2.5f;
		x[2 * g + 3] = 0.5f;
	}
	if (groups >= 4)
		x[3 * g + 1] = NAN;
}

OPS_TEST(matvec_q8x_quantizes_x)
{
	for (size_t c = 0; c < sizeof(q8x_shapes) / sizeof(q8x_shapes[0]); c++) {
		const struct wshape *s = &q8x_shapes[c];
		size_t aux_off, wb = weight_bytes(JAL_DTYPE_Q8, s, &aux_off);
		size_t groups = s->cols / s->group;
		float *src = malloc((size_t)s->rows * s->cols * 4), *want = malloc(s->rows * 4);
		float *lref = malloc(s->rows * 4), *xs = malloc(groups * 4);
		int8_t *xq = malloc(s->cols);
		struct jalrt_buffer *b[3];
		struct jalrt_kernel_builder *kb;
		struct jalrt_matrix_op op = {
			.dtype = JAL_DTYPE_Q8, .rd = 0, .rw = 1, .rx = 2, .raux = 3,
			.rows = JALRT_DIM(s->rows), .cols = JALRT_DIM(s->cols), .group = s->group,
			.flags = JAL_INSN_F_Q8X,
		};
		uint64_t aux_va;
		uint8_t *w;
		float *x;

		ASSERT_TRUE(src && want && lref && xs && xq);
		fill(src, (size_t)s->rows * s->cols, 300 + (uint32_t)c, 1.0f);
		b[0] = buf(_metadata, self->dev, (size_t)s->rows * 4);
		b[1] = buf(_metadata, self->dev, wb);
		b[2] = buf(_metadata, self->dev, (size_t)s->cols * 4);
		ASSERT_TRUE(b[0] && b[1] && b[2]);
		w = jalrt_buffer_host(b[1]);
		convert(JAL_DTYPE_Q8, s, src, w, aux_off);
		x = jalrt_buffer_host(b[2]);
		q8x_input(x, s, 400 + (uint32_t)c);
		aux_va = jalrt_buffer_va(b[1]) + aux_off;
		ASSERT_EQ(0, jalrt_kb_create(4, &kb));
		ASSERT_EQ(0, jalrt_kb_matvec_op(kb, &op)) TH_LOG("%s", jalrt_last_error_message());
		ASSERT_EQ(0, run(_metadata, self->ctx, self->dev, kb, b, 3, &aux_va, 1))
			TH_LOG("%u x %u, group %u", s->rows, s->cols, s->group);
		ref_matvec_q8x(want, (const int8_t *)w, (const float *)(w + aux_off), s->rows,
			       s->cols, s->group, x);
		EXPECT_EQ(0, compare(_metadata, "matvec q8x", jalrt_buffer_host(b[0]), want, s->rows))
			TH_LOG("%u x %u, group %u", s->rows, s->cols, s->group);
		/* the CPU reference's int8 product (its int8 mode) is the same */
		llm_matvec_q8x(lref, (const int8_t *)w, (const float *)(w + aux_off), x, s->rows,
			       s->cols, s->group, LLM_REF_ORDER_CHIP, xq, xs);
		EXPECT_EQ(0, compare(_metadata, "llm_matvec_q8x", lref, want, s->rows));
		free_bufs(b, 3);
		free(src);
		free(want);
		free(lref);
		free(xs);
		free(xq);
	}
}

/*
 * The graph op with JALRT_MATVEC_QUANTIZE_X, weights in device memory,
 * against the same reference; and the combinations it refuses.
 */
OPS_TEST(graph_matvec_quantize_x)
{
	const uint32_t rows = 45, cols = 288, group = 32;
	float *src = malloc(rows * cols * 4), x[288], out[45], want[45];
	uint8_t *stored = malloc(rows * cols + rows * cols / group * 4);
	struct jalrt_graph *g;
	struct jalrt_tensor *tw, *tf, *t6, *tx, *td, *tx12;
	struct jalrt_tensor_desc dw = {
		.name = "w", .dtype = JALRT_DTYPE_Q8, .ndim = 2, .dims = { rows, cols },
		.group = group,
	};
	struct jalrt_tensor_desc df = {
		.name = "w_f32", .dtype = JALRT_DTYPE_F32, .ndim = 2, .dims = { rows, cols },
	};
	struct jalrt_tensor_desc d6 = {
		.name = "w_group6", .dtype = JALRT_DTYPE_Q8, .ndim = 2, .dims = { 4, 12 },
		.group = 6,
	};
	struct jalrt_tensor_desc dx = {
		.name = "x", .dtype = JALRT_DTYPE_F32, .ndim = 1, .dims = { cols },
	};
	struct jalrt_tensor_desc dx12 = {
		.name = "x12", .dtype = JALRT_DTYPE_F32, .ndim = 1, .dims = { 12 },
	};
	struct jalrt_tensor_desc dd = {
		.name = "d", .dtype = JALRT_DTYPE_F32, .ndim = 1, .dims = { rows },
	};
	struct jalrt_program *p;
	const struct wshape s = { rows, cols, group };

	ASSERT_TRUE(src && stored);
	fill(src, rows * cols, 21, 1.0f);
	q8x_input(x, &s, 22);
	ASSERT_EQ(0, jalrt_graph_create(self->ctx, 0, &g));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &dw, &tw));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &df, &tf));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &d6, &t6));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &dx, &tx));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &dx12, &tx12));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &dd, &td));
	ASSERT_EQ(0, jalrt_tensor_set_f32(tw, src));
	ASSERT_EQ(0, jalrt_tensor_set_f32(tx, x));
	ASSERT_EQ(0, jalrt_graph_allocate(g)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_program_create(g, 0, &p));
	ASSERT_EQ(0, jalrt_op_matvec_flags(p, JALRT_REF(td), tw, JALRT_REF(tx),
					   JALRT_MATVEC_QUANTIZE_X))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_program_finalize(p));
	ASSERT_EQ(0, jalrt_program_run(p, self->ctx, NULL, 0, TIMEOUT_NS))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_tensor_read(td, 0, out, sizeof(out)));
	/* the stored weights, as uploaded: int8 values, then the scales */
	ASSERT_EQ(0, jalrt_tensor_read(tw, 0, stored, jalrt_tensor_bytes(tw)));
	ref_matvec_q8x(want, (const int8_t *)stored, (const float *)(stored + rows * cols), rows,
		       cols, group, x);
	EXPECT_EQ(0, compare(_metadata, "graph q8x", out, want, rows));
	jalrt_program_destroy(p);

	/* not with f32 weights, not with groups of 6, no unknown flags */
	ASSERT_EQ(0, jalrt_program_create(g, 0, &p));
	EXPECT_EQ(-EINVAL, jalrt_op_matvec_flags(p, JALRT_REF(td), tf, JALRT_REF(tx),
						 JALRT_MATVEC_QUANTIZE_X));
	TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-EINVAL, jalrt_op_matvec_flags(p, JALRT_REF_AT(td, 0), t6, JALRT_REF(tx12),
						 JALRT_MATVEC_QUANTIZE_X));
	TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-EINVAL, jalrt_op_matvec_flags(p, JALRT_REF(td), tw, JALRT_REF(tx), 1u << 7));
	EXPECT_EQ(-EINVAL, jalrt_program_finalize(p));
	jalrt_program_destroy(p);
	jalrt_graph_destroy(g);
	free(src);
	free(stored);
}

/* ---- LLM building blocks -------------------------------------------------- */

static const uint32_t vec_sizes[] = { 1, 2, 7, 64, 172, 1000, 4099, 70001 };

OPS_TEST(rmsnorm_softmax_silu_mul)
{
	for (unsigned int c = 0; c < sizeof(vec_sizes) / sizeof(vec_sizes[0]); c++) {
		uint32_t n = vec_sizes[c];
		struct jalrt_buffer *b[6];
		struct jalrt_kernel_builder *kb;
		float *a, *w, *want = malloc(n * 4), *in_a = malloc(n * 4);

		ASSERT_TRUE(want && in_a);
		for (int i = 0; i < 6; i++)
			b[i] = buf(_metadata, self->dev, (size_t)n * 4);
		a = jalrt_buffer_host(b[0]);
		w = jalrt_buffer_host(b[1]);
		fill(a, n, 3 + c, 6.0f);
		fill(w, n, 4 + c, 1.5f);
		memcpy(in_a, a, n * 4);
		/* r0 a, r1 w, r2 rmsnorm out, r3 softmax out, r4 silu out, r5 in-place softmax */
		memcpy(jalrt_buffer_host(b[5]), a, n * 4);
		ASSERT_EQ(0, jalrt_kb_create(6, &kb));
		jalrt_kb_rmsnorm(kb, 2, 0, 1, JALRT_DIM(n), 1e-5f);
		jalrt_kb_softmax(kb, 3, 0, JALRT_DIM(n));
		jalrt_kb_silu_mul(kb, 4, 0, 1, JALRT_DIM(n));
		jalrt_kb_softmax(kb, 5, 5, JALRT_DIM(n));
		ASSERT_EQ(0, run(_metadata, self->ctx, self->dev, kb, b, 6, NULL, 0));
		ref_rmsnorm(want, in_a, w, n, 1e-5f);
		EXPECT_EQ(0, compare(_metadata, "rmsnorm", jalrt_buffer_host(b[2]), want, n))
			TH_LOG("n=%u", n);
		ref_softmax(want, in_a, n);
		EXPECT_EQ(0, compare(_metadata, "softmax", jalrt_buffer_host(b[3]), want, n))
			TH_LOG("n=%u", n);
		EXPECT_EQ(0, compare(_metadata, "softmax in place", jalrt_buffer_host(b[5]), want, n));
		ref_silu_mul(want, in_a, w, n);
		EXPECT_EQ(0, compare(_metadata, "silu_mul", jalrt_buffer_host(b[4]), want, n))
			TH_LOG("n=%u", n);
		free_bufs(b, 6);
		free(want);
		free(in_a);
	}
}

OPS_TEST(rope_at_positions)
{
	static const struct { uint32_t n, hs, pos; } cases[] = {
		{ 64, 16, 0 }, { 64, 16, 1 }, { 288, 48, 77 }, { 96, 96, 255 }, { 2, 2, 5 },
		{ 32, 8, 100000 }, { 1000, 10, 511 },
	};

	for (unsigned int c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t n = cases[c].n;
		struct jalrt_buffer *b[2];
		struct jalrt_kernel_builder *kb;
		float *want = malloc(n * 4), *in = malloc(n * 4);
		uint64_t pos = cases[c].pos;

		ASSERT_TRUE(want && in);
		b[0] = buf(_metadata, self->dev, n * 4);
		b[1] = buf(_metadata, self->dev, n * 4);
		fill(in, n, 5 + c, 2.0f);
		memcpy(jalrt_buffer_host(b[0]), in, n * 4);
		memcpy(jalrt_buffer_host(b[1]), in, n * 4);
		/* out of place from a register position, and in place */
		ASSERT_EQ(0, jalrt_kb_create(3, &kb));
		jalrt_kb_rope(kb, 1, 0, JALRT_DIM(n), JALRT_DIM(cases[c].hs), JALRT_DIM_REG(2),
			      10000.0f);
		jalrt_kb_rope(kb, 0, 0, JALRT_DIM(n), JALRT_DIM(cases[c].hs),
			      JALRT_DIM(cases[c].pos), 10000.0f);
		ASSERT_EQ(0, run(_metadata, self->ctx, self->dev, kb, b, 2, &pos, 1));
		ref_rope(want, in, n, cases[c].hs, cases[c].pos, 10000.0f);
		EXPECT_EQ(0, compare(_metadata, "rope", jalrt_buffer_host(b[1]), want, n))
			TH_LOG("n=%u hs=%u pos=%u", n, cases[c].hs, cases[c].pos);
		EXPECT_EQ(0, compare(_metadata, "rope in place", jalrt_buffer_host(b[0]), want, n));
		free_bufs(b, 2);
		free(want);
		free(in);
	}
}

OPS_TEST(attention_grouped_and_strided)
{
	static const struct { uint32_t heads, hs, kvh, positions, kpad, vpad; } cases[] = {
		{ 4, 16, 4, 1, 0, 0 }, { 8, 8, 2, 5, 0, 0 }, { 6, 10, 3, 37, 4, 12 },
		{ 6, 48, 6, 256, 0, 0 }, { 1, 3, 1, 2, 1, 0 }, { 8, 64, 1, 100, 0, 64 },
	};

	for (unsigned int c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint32_t qn = cases[c].heads * cases[c].hs, kvn = cases[c].kvh * cases[c].hs;
		uint32_t kp = kvn + cases[c].kpad, vp = kvn + cases[c].vpad, t = cases[c].positions;
		struct jalrt_attention_op op = {
			.rout = 0, .rq = 1, .rk = 2, .rv = 3, .n_heads = JALRT_DIM(cases[c].heads),
			.head_size = JALRT_DIM(cases[c].hs), .n_kv_heads = JALRT_DIM(cases[c].kvh),
			.positions = JALRT_DIM_REG(4), .k_pitch = cases[c].kpad ? kp : 0,
			.v_pitch = cases[c].vpad ? vp : 0,
		};
		struct jalrt_buffer *b[4];
		struct jalrt_kernel_builder *kb;
		float *want = malloc(qn * 4);
		uint64_t positions = t;

		ASSERT_NE(NULL, want);
		b[0] = buf(_metadata, self->dev, qn * 4);
		b[1] = buf(_metadata, self->dev, qn * 4);
		b[2] = buf(_metadata, self->dev, (size_t)kp * t * 4);
		b[3] = buf(_metadata, self->dev, (size_t)vp * t * 4);
		fill(jalrt_buffer_host(b[1]), qn, 7 + c, 1.0f);
		fill(jalrt_buffer_host(b[2]), (size_t)kp * t, 8 + c, 1.0f);
		fill(jalrt_buffer_host(b[3]), (size_t)vp * t, 9 + c, 1.0f);
		ASSERT_EQ(0, jalrt_kb_create(5, &kb));
		jalrt_kb_attention(kb, &op);
		ASSERT_EQ(0, run(_metadata, self->ctx, self->dev, kb, b, 4, &positions, 1));
		ref_attention(want, jalrt_buffer_host(b[1]), jalrt_buffer_host(b[2]),
			      jalrt_buffer_host(b[3]), cases[c].heads, cases[c].hs, cases[c].kvh, t,
			      kp, vp);
		EXPECT_EQ(0, compare(_metadata, "attention", jalrt_buffer_host(b[0]), want, qn))
			TH_LOG("case %u", c);
		free_bufs(b, 4);
		free(want);
	}
}

OPS_TEST(embed_rows_of_every_table_dtype)
{
	static const unsigned int dts[] = { JAL_DTYPE_F32, JAL_DTYPE_BF16, JAL_DTYPE_Q8 };
	const struct wshape s = { 37, 72, 8 };

	for (unsigned int i = 0; i < 3; i++) {
		size_t aux_off, wb = weight_bytes(dts[i], &s, &aux_off);
		float *src = malloc(s.rows * s.cols * 4), want[72];
		struct jalrt_embed_op op = {
			.dtype = dts[i], .rd = 0, .rtable = 1,
			.rscales = dts[i] == JAL_DTYPE_Q8 ? 2 : 0, .dim = JALRT_DIM(s.cols),
			.row = JALRT_DIM_REG(3), .rows = JALRT_DIM(s.rows),
			.group = dts[i] == JAL_DTYPE_Q8 ? s.group : 0,
		};
		struct jalrt_buffer *b[2];

		ASSERT_NE(NULL, src);
		fill(src, s.rows * s.cols, 11, 3.0f);
		b[1] = buf(_metadata, self->dev, wb);
		convert(dts[i], &s, src, jalrt_buffer_host(b[1]), aux_off);
		for (uint64_t row = 0; row < s.rows; row += 12) {
			struct jalrt_kernel_builder *kb;
			uint64_t extra[2] = { jalrt_buffer_va(b[1]) + aux_off, row };
			uint8_t *w = jalrt_buffer_host(b[1]);

			b[0] = buf(_metadata, self->dev, s.cols * 4);
			ASSERT_EQ(0, jalrt_kb_create(4, &kb));
			jalrt_kb_embed(kb, &op);
			ASSERT_EQ(0, run(_metadata, self->ctx, self->dev, kb, b, 2, extra, 2));
			ref_weight_row(dts[i], want, w, w + aux_off, row, s.cols, s.group);
			EXPECT_EQ(0, compare(_metadata, "embed", jalrt_buffer_host(b[0]), want, s.cols))
				TH_LOG("dtype %u row %llu", dts[i], (unsigned long long)row);
			jalrt_buffer_free(b[0]);
		}
		jalrt_buffer_free(b[1]);
		free(src);
	}
}

OPS_TEST(argmax_and_sample)
{
	static const uint32_t sizes[] = { 1, 2, 300, 512, 32000 };
	static const struct { float t, p; } samplers[] = {
		{ 0.0f, 0.9f }, { 1.0f, 0.9f }, { 0.7f, 0.0f }, { 1.0f, 1.0f }, { 2.0f, 0.3f },
		{ 0.05f, 0.99f },
	};

	for (unsigned int c = 0; c < sizeof(sizes) / sizeof(sizes[0]); c++) {
		uint32_t n = sizes[c];
		struct jalrt_buffer *b[2];
		float *l;

		b[0] = buf(_metadata, self->dev, n * 4);
		b[1] = buf(_metadata, self->dev, 64 * 8);
		l = jalrt_buffer_host(b[0]);
		fill(l, n, 13 + c, 8.0f);
		if (n > 5) {
			/* a tie for the maximum: the first one wins */
			l[n / 3] = 9.5f;
			l[n / 2] = 9.5f;
		}
		for (unsigned int s = 0; s < sizeof(samplers) / sizeof(samplers[0]); s++) {
			struct jalrt_kernel_builder *kb;
			uint64_t seed = 0x1234567ull + s * 1000 + c, state = seed;
			const uint64_t *out = jalrt_buffer_host(b[1]);
			unsigned int draws = 16;

			/* r0 logits, r1 out; r2 rng state; 16 draws, then argmax, then the state */
			ASSERT_EQ(0, jalrt_kb_create(3, &kb));
			for (unsigned int d = 0; d < draws; d++) {
				jalrt_kb_sample(kb, 4, 0, 2, JALRT_DIM(n), samplers[s].t,
						samplers[s].p);
				jalrt_kb_st64(kb, 4, 1, d * 8);
			}
			jalrt_kb_argmax(kb, 5, 0, JALRT_DIM(n));
			jalrt_kb_st64(kb, 5, 1, draws * 8);
			jalrt_kb_st64(kb, 2, 1, (draws + 1) * 8);
			ASSERT_EQ(0, run(_metadata, self->ctx, self->dev, kb, b, 2, &seed, 1));
			for (unsigned int d = 0; d < draws; d++) {
				uint32_t want = ref_sample(l, n, samplers[s].t, samplers[s].p,
							   &state);

				EXPECT_EQ(want, out[d]) TH_LOG("n=%u t=%g p=%g draw %u", n, samplers[s].t,
							       samplers[s].p, d);
			}
			EXPECT_EQ(ref_argmax(l, n), out[draws]);
			if (n > 5) {
				EXPECT_EQ(n / 3, out[draws]);
			}
			/* temperature 0 leaves the state alone, as run.c */
			EXPECT_EQ(state, out[draws + 1]);
		}
		free_bufs(b, 2);
	}
}

/* A copy loop with LD32/ST32 that stops at a sentinel (BEQ), and LD64/ST64. */
OPS_TEST(scalar_loads_stores_and_beq)
{
	struct jalrt_buffer *b[2];
	struct jalrt_kernel_builder *kb;
	uint32_t *src, *dst, loop, done, i;
	uint64_t *src64;

	b[0] = buf(_metadata, self->dev, 4096);
	b[1] = buf(_metadata, self->dev, 4096);
	src = jalrt_buffer_host(b[0]);
	dst = jalrt_buffer_host(b[1]);
	for (i = 0; i < 100; i++)
		src[i] = 1000 + i * 3;
	src[57] = 0xdeadbeef;	/* sentinel */
	src64 = (uint64_t *)(src + 512);
	src64[0] = 0x0123456789abcdefull;
	/* r0 src, r1 dst; r2 = index bytes, r3 value, r4 sentinel, r5 count */
	ASSERT_EQ(0, jalrt_kb_create(2, &kb));
	jalrt_kb_new_label(kb, &loop);
	jalrt_kb_new_label(kb, &done);
	jalrt_kb_li(kb, 2, 0);
	jalrt_kb_li(kb, 4, 0xdeadbeef);
	jalrt_kb_li(kb, 5, 0);
	jalrt_kb_bind(kb, loop);
	jalrt_kb_add(kb, 6, 0, 2);
	jalrt_kb_ld32(kb, 3, 6, 0);
	jalrt_kb_beq(kb, 3, 4, done);
	jalrt_kb_add(kb, 6, 1, 2);
	jalrt_kb_st32(kb, 3, 6, 0);
	jalrt_kb_addi(kb, 2, 2, 4);
	jalrt_kb_addi(kb, 5, 5, 1);
	jalrt_kb_jump(kb, loop);
	jalrt_kb_bind(kb, done);
	jalrt_kb_st64(kb, 5, 1, 1024);
	jalrt_kb_ld64(kb, 7, 0, 2048);
	jalrt_kb_st64(kb, 7, 1, 2048);
	/* a negative offset wraps: r8 = dst + 2000, store at r8 - 968 */
	jalrt_kb_addi(kb, 8, 1, 2000);
	jalrt_kb_st32(kb, 5, 8, (uint64_t)(1032 - 2000));
	ASSERT_EQ(0, run(_metadata, self->ctx, self->dev, kb, b, 2, NULL, 0));
	for (i = 0; i < 57; i++)
		EXPECT_EQ(1000 + i * 3, dst[i]);
	EXPECT_EQ(0, dst[57]);
	EXPECT_EQ(57, *(uint64_t *)(dst + 256));
	EXPECT_EQ(0x0123456789abcdefull, *(uint64_t *)(dst + 512));
	EXPECT_EQ(57, dst[258]);
	free_bufs(b, 2);
}

/* ---- bad operands --------------------------------------------------------- */

OPS_TEST(builder_rejects_bad_operands)
{
	struct jalrt_kernel_builder *kb;
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_S24, .rd = 0, .rw = 1, .rx = 2, .raux = 3,
		.rows = JALRT_DIM(4), .cols = JALRT_DIM(10),
	};
	struct jalrt_kernel *k = NULL;

	ASSERT_EQ(0, jalrt_kb_create(4, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(kb, &op));
	TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-EINVAL, jalrt_kb_rope(kb, 0, 0, JALRT_DIM(10), JALRT_DIM(4), JALRT_DIM(0),
					 10000.0f));
	EXPECT_EQ(-EINVAL, jalrt_kb_sample(kb, 0, 1, 2, JALRT_DIM(10), -0.5f, 0.9f));
	/* quantised x: F32 weights, a Q8 group of 6 (not a multiple of 4) */
	op.dtype = JAL_DTYPE_F32;
	op.raux = 0;
	op.cols = JALRT_DIM(12);
	op.flags = JAL_INSN_F_Q8X;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(kb, &op));
	TH_LOG("%s", jalrt_last_error_message());
	op.dtype = JAL_DTYPE_Q8;
	op.raux = 3;
	op.group = 6;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(kb, &op));
	TH_LOG("%s", jalrt_last_error_message());
	op.batch = JALRT_DIM(2);
	EXPECT_EQ(-EINVAL, jalrt_kb_matmul(kb, &op));
	TH_LOG("%s", jalrt_last_error_message());
	/* the kernel is never placed on the device */
	EXPECT_EQ(-EINVAL, jalrt_kb_finalize(kb, self->dev, &k));
	EXPECT_EQ(NULL, k);
	jalrt_kb_destroy(kb);
}

/*
 * Raw kernels that bypass the builder: the chip fails the job with
 * BAD_INSN (-EINVAL), each on its own context since a failed job bans it.
 */
static int run_raw(struct __test_metadata *_metadata, struct jalrt_device *dev,
		   const struct jal_insn *code, uint32_t count, struct jalrt_buffer *data,
		   const uint64_t *args, unsigned int nargs, uint32_t *hw_status)
{
	struct jalrt_buffer *cbuf = buf(_metadata, dev, count * sizeof(*code));
	struct jalrt_buffer *abuf = buf(_metadata, dev, 16 * 8);
	struct jalrt_context *ctx = NULL;
	struct jalrt_cmdbuf *cb = NULL;
	struct jalrt_fence *f = NULL;
	struct jalrt_job_error err;
	struct jal_cmd_dispatch cmd = { 0 };
	int ret;

	memcpy(jalrt_buffer_host(cbuf), code, count * sizeof(*code));
	memcpy(jalrt_buffer_host(abuf), args, nargs * 8);
	cmd.hdr = JAL_CMD_HDR(JAL_CMD_DISPATCH, sizeof(cmd) / 4);
	cmd.code_va = jalrt_buffer_va(cbuf);
	cmd.code_size = count * sizeof(*code);
	cmd.args_va = jalrt_buffer_va(abuf);
	cmd.args_size = nargs * 8;
	ret = jalrt_context_create(dev, JALRT_PRIORITY_NORMAL, &ctx);
	if (!ret)
		ret = jalrt_cmdbuf_create(dev, &cb);
	if (!ret)
		ret = jalrt_cmdbuf_emit_raw(cb, &cmd, sizeof(cmd));
	if (!ret)
		ret = jalrt_cmdbuf_use_buffer(cb, cbuf);
	if (!ret)
		ret = jalrt_cmdbuf_use_buffer(cb, abuf);
	if (!ret)
		ret = jalrt_cmdbuf_use_buffer(cb, data);
	if (!ret)
		ret = jalrt_submit(ctx, cb, NULL, 0, NULL, 0, &f);
	if (!ret) {
		ret = jalrt_fence_wait(f, TIMEOUT_NS);
		if (!jalrt_fence_error(f, &err))
			*hw_status = err.hw_status;
	}
	jalrt_fence_destroy(f);
	jalrt_cmdbuf_destroy(cb);
	jalrt_context_destroy(ctx);
	jalrt_buffer_free(cbuf);
	jalrt_buffer_free(abuf);
	return ret;
}

static struct jal_insn insn(uint8_t op, uint8_t dtype)
{
	struct jal_insn in;

	memset(&in, 0, sizeof(in));
	in.opcode = op;
	in.dtype = dtype;
	return in;
}

/* An instruction the device must refuse; args[4] is r4 for DIM_REG cases. */
struct bad_case {
	const char *what;
	struct jal_insn in;
	uint64_t args[5];
	bool static_bad;	/* the library can tell without the registers */
};

/*
 * MATVEC of 2 rows of @cols: d at @va, W at @va + 0x1000, x at @va +
 * 0x2000 and, for Q8 and S24, scales or index bytes at @aux (r[3]).
 */
static struct bad_case matvec_case(const char *what, unsigned int dtype, uint32_t cols,
				   uint32_t group, uint64_t va, uint64_t aux)
{
	struct bad_case c = { .what = what, .in = insn(JAL_OP_MATVEC, dtype) };

	c.in.r[0] = 0;
	c.in.r[1] = 1;
	c.in.r[2] = 2;
	c.in.dim[0] = 2;
	c.in.dim[1] = cols;
	c.in.dim[2] = group;
	c.in.stride[0] = c.in.stride[2] = 1;
	c.args[0] = va;
	c.args[1] = va + 0x1000;
	c.args[2] = va + 0x2000;
	if (dtype == JAL_DTYPE_Q8 || dtype == JAL_DTYPE_S24) {
		c.in.r[3] = 3;
		c.args[3] = aux;
	}
	return c;
}

OPS_TEST(device_rejects_bad_operands)
{
	struct jalrt_buffer *data = buf(_metadata, self->dev, 1 << 16);
	uint64_t va = jalrt_buffer_va(data);
	struct bad_case cases[11];
	unsigned int n = 0;
	uint8_t *bytes;

	ASSERT_NE(NULL, data);
	memset(cases, 0, sizeof(cases));
	bytes = jalrt_buffer_host(data);
	/* S24 weights whose index byte names the same column twice (bytes at +0x8000) */
	memset(bytes + 0x8000, 0x5, 64);	/* 0b0101: first 1, second 1 */
	cases[n++] = matvec_case("S24 index byte with first == second", JAL_DTYPE_S24, 8, 0,
				 va, va + 0x8000);
	cases[n].what = "EMBED row from a register past the table";
	cases[n].in = insn(JAL_OP_EMBED, JAL_DTYPE_F32);
	cases[n].in.r[0] = 0;
	cases[n].in.r[1] = 1;
	cases[n].in.dim[0] = 4;
	cases[n].in.dim[1] = 2;
	cases[n].in.dim[2] = 10;
	cases[n].in.flags = JAL_INSN_F_DIM_REG(1);
	cases[n].args[0] = va;
	cases[n].args[1] = va + 0x1000;
	cases[n].args[2] = 10;
	n++;
	cases[n].what = "SOFTMAX of 0 elements from a register";
	cases[n].in = insn(JAL_OP_SOFTMAX, JAL_DTYPE_F32);
	cases[n].in.r[0] = 0;
	cases[n].in.r[1] = 1;
	cases[n].in.dim[0] = 2;
	cases[n].in.flags = JAL_INSN_F_DIM_REG(0);
	cases[n].args[0] = va;
	cases[n].args[1] = va;
	cases[n].args[2] = 0;
	n++;
	cases[n].what = "ATTENTION with KV heads not dividing the heads";
	cases[n].in = insn(JAL_OP_ATTENTION, JAL_DTYPE_F32);
	cases[n].in.r[0] = 0;
	cases[n].in.r[1] = 1;
	cases[n].in.r[2] = 2;
	cases[n].in.r[3] = 3;
	cases[n].in.dim[0] = 6;
	cases[n].in.dim[1] = 4;
	cases[n].in.dim[2] = 4;
	cases[n].in.dim[3] = 1;
	cases[n].args[0] = va;
	cases[n].args[1] = va + 0x1000;
	cases[n].args[2] = va + 0x2000;
	cases[n].args[3] = va + 0x3000;
	cases[n].static_bad = true;
	n++;
	cases[n] = matvec_case("Q8 group not dividing the columns (from a register)",
			       JAL_DTYPE_Q8, 4, 4, va, va + 0x3000);
	cases[n].in.flags = JAL_INSN_F_DIM_REG(1);	/* r4 = 10 columns */
	cases[n].args[4] = 10;
	n++;
	cases[n].what = "misaligned LD32";
	cases[n].in = insn(JAL_OP_LD32, 0);
	cases[n].in.r[0] = 5;
	cases[n].in.r[1] = 0;
	cases[n].in.imm[0] = 2;
	cases[n].args[0] = va;
	n++;
	cases[n].what = "BF16 on RMSNORM";
	cases[n].in = insn(JAL_OP_RMSNORM, JAL_DTYPE_BF16);
	cases[n].in.r[1] = 1;
	cases[n].in.r[2] = 2;
	cases[n].in.dim[0] = 4;
	cases[n].args[0] = va;
	cases[n].args[1] = va;
	cases[n].args[2] = va;
	cases[n].static_bad = true;
	n++;
	cases[n].what = "ROPE with an odd length";
	cases[n].in = insn(JAL_OP_ROPE, JAL_DTYPE_F32);
	cases[n].in.r[1] = 1;
	cases[n].in.dim[0] = 5;
	cases[n].in.dim[1] = 2;
	cases[n].in.imm[0] = 0x461c4000;	/* 10000.0f */
	cases[n].args[0] = va;
	cases[n].args[1] = va;
	cases[n].static_bad = true;
	n++;
	cases[n] = matvec_case("Q8X on F32 weights", JAL_DTYPE_F32, 12, 0, va, 0);
	cases[n].in.flags = JAL_INSN_F_Q8X;
	cases[n++].static_bad = true;
	cases[n] = matvec_case("Q8X with a Q8 group of 6", JAL_DTYPE_Q8, 12, 6, va, va + 0x3000);
	cases[n].in.flags = JAL_INSN_F_Q8X;
	cases[n++].static_bad = true;
	cases[n].what = "Q8X with a Q8 group of 6 from a register";
	cases[n].in = cases[n - 1].in;
	cases[n].in.flags |= JAL_INSN_F_DIM_REG(2);
	cases[n].in.dim[2] = 4;		/* r4 = 6 */
	memcpy(cases[n].args, cases[n - 1].args, sizeof(cases[n].args));
	cases[n].args[4] = 6;
	n++;

	for (unsigned int c = 0; c < n; c++) {
		uint32_t hw = 0;
		struct jal_insn code[2] = { cases[c].in, insn(JAL_OP_HALT, 0) };

		/* what is wrong without knowing the registers, the library sees too */
		if (cases[c].static_bad) {
			struct jalrt_kernel *k = NULL;

			EXPECT_EQ(-EINVAL, jalrt_kernel_create(self->dev, code, 2, 5, &k))
				TH_LOG("%s", cases[c].what);
			jalrt_kernel_destroy(k);
		}
		EXPECT_EQ(-EINVAL, run_raw(_metadata, self->dev, code, 2, data, cases[c].args, 5,
					   &hw))
			TH_LOG("%s", cases[c].what);
		EXPECT_EQ(JAL_STATUS_BAD_INSN, hw) TH_LOG("%s: status %s", cases[c].what,
							  jalrt_hw_status_name(hw));
	}
	jalrt_buffer_free(data);
}

TEST_HARNESS_MAIN
