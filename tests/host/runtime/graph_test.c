// SPDX-License-Identifier: MIT
/*
 * libjalrt graph API on the fake driver: tensor layout, placement in
 * device memory with the fallbacks to host memory, uploads through the
 * staging buffer (contents checked in the fake's memory, including
 * tensors larger than the staging buffer), and the instructions programs
 * lower their ops to.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "fake_backend.h"
#include "jalrt_graph.h"

#define MiB	(1ull << 20)

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

static float *random_floats(size_t n, uint32_t seed)
{
	float *p = malloc(n * sizeof(float));

	for (size_t i = 0; p && i < n; i++)
		p[i] = (float)((lcg(&seed) >> 8) / 8388608.0 - 1.0);
	return p;
}

/* The fake's memory behind a device VA. */
static void *fake_mem(struct fake_dev *f, uint64_t va)
{
	uint64_t off;
	struct fake_bo *bo = fake_bo_by_va(f, va, &off);

	return bo ? (uint8_t *)bo->mem + off : NULL;
}

static struct jalrt_tensor *tensor2(struct __test_metadata *_metadata, struct jalrt_graph *g,
				    enum jalrt_dtype dt, uint32_t rows, uint32_t cols,
				    uint32_t group, uint32_t flags)
{
	struct jalrt_tensor_desc d = {
		.name = "t", .dtype = dt, .ndim = 2, .dims = { rows, cols }, .group = group,
		.flags = flags,
	};
	struct jalrt_tensor *t = NULL;

	EXPECT_EQ(0, jalrt_graph_tensor(g, &d, &t)) TH_LOG("%s", jalrt_last_error_message());
	return t;
}

FIXTURE(g) {
	struct fake_dev *fake;
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_graph *g;
};

FIXTURE_VARIANT(g) {
	uint64_t vram;
	bool vram_bos;
	bool expect_vram;
};

FIXTURE_VARIANT_ADD(g, with_vram) {
	.vram = 64 * MiB, .vram_bos = true, .expect_vram = true,
};

FIXTURE_VARIANT_ADD(g, without_vram) {
	.vram = 0, .vram_bos = false, .expect_vram = false,
};

/* The chip reports device memory, the driver cannot allocate it yet. */
FIXTURE_VARIANT_ADD(g, driver_without_vram_bos) {
	.vram = 64 * MiB, .vram_bos = false, .expect_vram = false,
};

FIXTURE_SETUP(g)
{
	ASSERT_EQ(0, fake_open_llm(&self->fake, &self->dev, variant->vram, variant->vram_bos));
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_NORMAL, &self->ctx));
	ASSERT_EQ(0, jalrt_graph_create(self->ctx, 0, &self->g));
}

FIXTURE_TEARDOWN(g)
{
	jalrt_graph_destroy(self->g);
	jalrt_context_destroy(self->ctx);
	jalrt_device_close(self->dev);
	EXPECT_EQ(0, fake_live_bos(self->fake));
	fake_free(self->fake);
}

TEST_F(g, layout_sizes_and_alignment)
{
	struct jalrt_tensor *a, *b, *q, *s, *u, *h;
	struct jalrt_graph_info gi;

	a = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 3, 5, 0, 0);
	b = tensor2(_metadata, self->g, JALRT_DTYPE_BF16, 3, 5, 0, 0);
	q = tensor2(_metadata, self->g, JALRT_DTYPE_Q8, 4, 64, 32, 0);
	s = tensor2(_metadata, self->g, JALRT_DTYPE_S24, 4, 64, 0, 0);
	u = tensor2(_metadata, self->g, JALRT_DTYPE_U64, 1, 3, 0, JALRT_TENSOR_HOST);
	h = tensor2(_metadata, self->g, JALRT_DTYPE_U32, 2, 3, 0, JALRT_TENSOR_HOST);
	EXPECT_EQ(60, jalrt_tensor_bytes(a));
	EXPECT_EQ(30, jalrt_tensor_bytes(b));
	EXPECT_EQ(256 + 8 * 4, jalrt_tensor_bytes(q));	/* int8 values, then scales */
	EXPECT_EQ(256 + 64, jalrt_tensor_bytes(s));	/* bf16 pairs, then index bytes */
	EXPECT_EQ(24, jalrt_tensor_bytes(u));
	EXPECT_EQ(15, jalrt_tensor_elements(b));
	EXPECT_EQ(32, jalrt_tensor_group(q));
	EXPECT_EQ(0, jalrt_tensor_va(a));	/* not allocated yet */
	ASSERT_EQ(0, jalrt_graph_allocate(self->g)) TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(0, jalrt_tensor_va(a) % 256);
	EXPECT_EQ(jalrt_tensor_va(a) + 256, jalrt_tensor_va(b));
	EXPECT_EQ(jalrt_tensor_va(b) + 256, jalrt_tensor_va(q));
	EXPECT_EQ(jalrt_tensor_va(q) + 512, jalrt_tensor_va(s));
	EXPECT_EQ(0, jalrt_tensor_va(u) % 256);
	EXPECT_EQ(jalrt_tensor_va(u) + 256, jalrt_tensor_va(h));
	ASSERT_EQ(0, jalrt_graph_query(self->g, &gi));
	EXPECT_EQ(variant->expect_vram, gi.in_vram);
	EXPECT_EQ(6, gi.tensors);
	/* host tensors always map; device ones only when in host memory */
	EXPECT_NE(NULL, jalrt_tensor_host(u));
	EXPECT_EQ(variant->expect_vram, jalrt_tensor_host(a) == NULL);
	/* the graph is fixed now */
	EXPECT_EQ(-EBUSY, jalrt_graph_allocate(self->g));
	{
		struct jalrt_tensor_desc d = { .dtype = JALRT_DTYPE_F32, .ndim = 1, .dims = { 4 } };
		struct jalrt_tensor *t;

		EXPECT_EQ(-EBUSY, jalrt_graph_tensor(self->g, &d, &t));
	}
}

TEST_F(g, bad_descriptions)
{
	struct jalrt_tensor_desc d = { .dtype = JALRT_DTYPE_F32, .ndim = 2, .dims = { 4, 8 } };
	struct jalrt_tensor *t;

	d.ndim = 0;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));
	d.ndim = 5;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));
	d.ndim = 2;
	d.dims[1] = 0;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));
	d.dims[1] = 8;
	d.group = 4;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));	/* group on F32 */
	d.dtype = JALRT_DTYPE_Q8;
	d.group = 3;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));	/* does not divide 8 */
	d.dtype = JALRT_DTYPE_S24;
	d.group = 0;
	d.dims[1] = 6;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));	/* 6 % 4 */
	d.dtype = 9;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));
	d.dtype = JALRT_DTYPE_F32;
	d.flags = 0x80;
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(self->g, &d, &t));
	d.flags = 0;
	d.dims[1] = 8;
	ASSERT_EQ(0, jalrt_graph_tensor(self->g, &d, &t));
	EXPECT_EQ(-EINVAL, jalrt_tensor_set_bytes(t, &d, 3));	/* wrong size */
	d.dtype = JALRT_DTYPE_U32;
	ASSERT_EQ(0, jalrt_graph_tensor(self->g, &d, &t));
	EXPECT_EQ(-EINVAL, jalrt_tensor_set_f32(t, (const float *)&d));
}

/*
 * Every weight format, with one tensor bigger than the 4 MiB staging
 * buffer, ends up in place exactly as the converters produce it.
 */
TEST_F(g, uploads_convert_every_format)
{
	enum { R = 48, C = 96, BR = 1536, BC = 1024 };
	float *src = random_floats(R * C, 1), *big = random_floats((size_t)BR * BC, 2);
	uint16_t bf[R * C], sv[R * C / 2];
	uint8_t sidx[R * C / 4];
	int8_t q[R * C], *bq = malloc((size_t)BR * BC);
	float scales[R * C / 32], *bscales = malloc((size_t)BR * BC / 64 * 4);
	uint32_t raw[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct jalrt_tensor *tf, *tb, *tq, *ts, *tbig, *traw, *tzero;
	uint8_t *mem;

	ASSERT_TRUE(src && big && bq && bscales);
	tf = tensor2(_metadata, self->g, JALRT_DTYPE_F32, R, C, 0, 0);
	tb = tensor2(_metadata, self->g, JALRT_DTYPE_BF16, R, C, 0, 0);
	tq = tensor2(_metadata, self->g, JALRT_DTYPE_Q8, R, C, 32, 0);
	ts = tensor2(_metadata, self->g, JALRT_DTYPE_S24, R, C, 0, 0);
	tbig = tensor2(_metadata, self->g, JALRT_DTYPE_Q8, BR, BC, 64, 0);
	traw = tensor2(_metadata, self->g, JALRT_DTYPE_U32, 1, 7, 0, 0);
	tzero = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 1000, 0, 0);
	ASSERT_EQ(0, jalrt_tensor_set_f32(tf, src));
	ASSERT_EQ(0, jalrt_tensor_set_f32(tb, src));
	ASSERT_EQ(0, jalrt_tensor_set_f32(tq, src));
	ASSERT_EQ(0, jalrt_tensor_set_f32(ts, src));
	ASSERT_EQ(0, jalrt_tensor_set_f32(tbig, big));
	ASSERT_EQ(0, jalrt_tensor_set_bytes(traw, raw, sizeof(raw)));
	ASSERT_EQ(0, jalrt_graph_allocate(self->g)) TH_LOG("%s", jalrt_last_error_message());

	jalrt_convert_bf16(bf, src, R * C);
	jalrt_quantize_q8(q, scales, src, R, C, 32);
	jalrt_sparsify_s24(sv, sidx, src, R, C);
	jalrt_quantize_q8(bq, bscales, big, BR, BC, 64);

	mem = fake_mem(self->fake, jalrt_tensor_va(tf));
	ASSERT_NE(NULL, mem);
	EXPECT_EQ(0, memcmp(mem, src, sizeof(float) * R * C));
	EXPECT_EQ(0, memcmp(fake_mem(self->fake, jalrt_tensor_va(tb)), bf, sizeof(bf)));
	mem = fake_mem(self->fake, jalrt_tensor_va(tq));
	EXPECT_EQ(0, memcmp(mem, q, sizeof(q)));
	EXPECT_EQ(0, memcmp(mem + R * C, scales, sizeof(scales)));
	mem = fake_mem(self->fake, jalrt_tensor_va(ts));
	EXPECT_EQ(0, memcmp(mem, sv, sizeof(sv)));
	EXPECT_EQ(0, memcmp(mem + R * C, sidx, sizeof(sidx)));
	mem = fake_mem(self->fake, jalrt_tensor_va(tbig));
	EXPECT_EQ(0, memcmp(mem, bq, (size_t)BR * BC));
	EXPECT_EQ(0, memcmp(mem + (size_t)BR * BC, bscales, (size_t)BR * BC / 64 * 4));
	EXPECT_EQ(0, memcmp(fake_mem(self->fake, jalrt_tensor_va(traw)), raw, sizeof(raw)));
	mem = fake_mem(self->fake, jalrt_tensor_va(tzero));
	for (int i = 0; i < 4000; i++)
		ASSERT_EQ(0, mem[i]);

	/* reads and writes through the staging path (or directly) */
	{
		float back[10], two[2] = { 1.5f, -2.5f };

		ASSERT_EQ(0, jalrt_tensor_write(tf, 8, two, sizeof(two)));
		ASSERT_EQ(0, jalrt_tensor_read(tf, 0, back, sizeof(back)));
		EXPECT_EQ(src[0], back[0]);
		EXPECT_EQ(1.5f, back[2]);
		EXPECT_EQ(-2.5f, back[3]);
		EXPECT_EQ(src[4], back[4]);
		EXPECT_EQ(-ERANGE, jalrt_tensor_read(tf, R * C * 4 - 4, back, 8));
	}
	free(src);
	free(big);
	free(bq);
	free(bscales);
}

/* More pieces than one upload job's command buffer takes: several jobs. */
TEST_F(g, many_small_tensors_upload)
{
	enum { N = 9000 };
	static struct jalrt_tensor *t[N];
	static float src[N][8];

	for (int i = 0; i < N; i++) {
		for (int j = 0; j < 8; j++)
			src[i][j] = (float)(i * 8 + j);
		t[i] = tensor2(_metadata, self->g, i % 2 ? JALRT_DTYPE_Q8 : JALRT_DTYPE_F32, 1, 8,
			       i % 2 ? 8 : 0, 0);
		ASSERT_NE(NULL, t[i]);
		ASSERT_EQ(0, jalrt_tensor_set_f32(t[i], src[i]));
	}
	ASSERT_EQ(0, jalrt_graph_allocate(self->g)) TH_LOG("%s", jalrt_last_error_message());
	for (int i = 0; i < N; i += 997) {
		uint8_t *mem = fake_mem(self->fake, jalrt_tensor_va(t[i]));
		int8_t q[8];
		float sc;

		if (i % 2) {
			jalrt_quantize_q8(q, &sc, src[i], 1, 8, 8);
			EXPECT_EQ(0, memcmp(mem, q, 8));
			EXPECT_EQ(0, memcmp(mem + 8, &sc, 4));
		} else {
			EXPECT_EQ(0, memcmp(mem, src[i], 32));
		}
	}
}

TEST(full_device_memory_falls_back_to_host)
{
	struct fake_dev *fake;
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_graph *g;
	struct jalrt_graph_info gi;
	struct jalrt_tensor_desc d = { .dtype = JALRT_DTYPE_F32, .ndim = 1, .dims = { 1 << 20 } };
	struct jalrt_tensor *t;

	/* 1 MiB of device memory for a 4 MiB arena */
	ASSERT_EQ(0, fake_open_llm(&fake, &dev, MiB, true));
	ASSERT_EQ(0, jalrt_context_create(dev, JALRT_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jalrt_graph_create(ctx, 0, &g));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &d, &t));
	ASSERT_EQ(0, jalrt_graph_allocate(g));
	ASSERT_EQ(0, jalrt_graph_query(g, &gi));
	EXPECT_FALSE(gi.in_vram);
	EXPECT_NE(NULL, jalrt_tensor_host(t));
	jalrt_graph_destroy(g);
	/* and JALRT_GRAPH_HOST_MEMORY asks for host memory outright */
	fake->vram_left = 64 * MiB;
	ASSERT_EQ(0, jalrt_graph_create(ctx, JALRT_GRAPH_HOST_MEMORY, &g));
	ASSERT_EQ(0, jalrt_graph_tensor(g, &d, &t));
	ASSERT_EQ(0, jalrt_graph_allocate(g));
	ASSERT_EQ(0, jalrt_graph_query(g, &gi));
	EXPECT_FALSE(gi.in_vram);
	jalrt_graph_destroy(g);
	jalrt_context_destroy(ctx);
	jalrt_device_close(dev);
	fake_free(fake);
}

TEST(buffers_in_device_memory_have_no_mapping)
{
	struct fake_dev *fake;
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_buffer *b;
	uint8_t data[5000], back[5000];

	ASSERT_EQ(0, fake_open_llm(&fake, &dev, 16 * MiB, true));
	ASSERT_EQ(0, jalrt_context_create(dev, JALRT_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jalrt_buffer_alloc(dev, sizeof(data), JALRT_BUFFER_VRAM, &b));
	EXPECT_TRUE(jalrt_buffer_is_vram(b));
	EXPECT_EQ(NULL, jalrt_buffer_host(b));
	EXPECT_EQ(-EPERM, jalrt_buffer_upload(b, 0, data, 4));
	EXPECT_EQ(-EPERM, jalrt_buffer_download(b, 0, data, 4));
	for (unsigned int i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	ASSERT_EQ(0, jalrt_buffer_write(ctx, b, 0, data, sizeof(data)));
	ASSERT_EQ(0, jalrt_buffer_read(ctx, b, 0, back, sizeof(back)));
	EXPECT_EQ(0, memcmp(data, back, sizeof(data)));
	EXPECT_EQ(-ERANGE, jalrt_buffer_write(ctx, b, 1, data, sizeof(data)));
	EXPECT_EQ(-EINVAL, jalrt_buffer_write(NULL, b, 0, data, 4));
	jalrt_buffer_free(b);
	/* device memory runs out: the driver's error comes through */
	EXPECT_EQ(-ENOSPC, jalrt_buffer_alloc(dev, 32 * MiB, JALRT_BUFFER_VRAM, &b));
	jalrt_context_destroy(ctx);
	jalrt_device_close(dev);
	EXPECT_EQ(0, fake_live_bos(fake));
	fake_free(fake);
}

/* ---- lowering ------------------------------------------------------------ */

static const struct jal_insn *prog_code(struct __test_metadata *_metadata,
					struct jalrt_program *p, uint32_t *n)
{
	const struct jal_insn *code = NULL;

	EXPECT_EQ(0, jalrt_kb_code(jalrt_program_builder(p), &code, n))
		TH_LOG("%s", jalrt_last_error_message());
	return code;
}

static uint64_t li_value(const struct jal_insn *in)
{
	return (uint64_t)in->imm[1] << 32 | in->imm[0];
}

TEST_F(g, matvec_lowers_to_addresses_and_one_instruction)
{
	struct jalrt_tensor *w, *x, *d, *cache;
	struct jalrt_program *p;
	const struct jal_insn *c;
	unsigned int pos;
	uint32_t n;

	w = tensor2(_metadata, self->g, JALRT_DTYPE_Q8, 40, 64, 16, 0);
	x = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 64, 0, 0);
	d = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 40, 0, 0);
	cache = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 10, 40, 0, 0);
	ASSERT_EQ(0, jalrt_graph_allocate(self->g));
	ASSERT_EQ(0, jalrt_program_create(self->g, 2, &p));
	ASSERT_EQ(0, jalrt_program_scalar(p, &pos));
	EXPECT_EQ(2, pos);
	ASSERT_EQ(0, jalrt_op_matvec(p, JALRT_REF(d), w, JALRT_REF(x)));
	c = prog_code(_metadata, p, &n);
	ASSERT_EQ(5, n);
	/* d, W, x, then the scales right after the int8 values */
	EXPECT_EQ(JAL_OP_LI, c[0].opcode);
	EXPECT_EQ(jalrt_tensor_va(d), li_value(&c[0]));
	EXPECT_EQ(jalrt_tensor_va(w), li_value(&c[1]));
	EXPECT_EQ(jalrt_tensor_va(x), li_value(&c[2]));
	EXPECT_EQ(jalrt_tensor_va(w) + 40 * 64, li_value(&c[3]));
	EXPECT_EQ(JAL_OP_MATVEC, c[4].opcode);
	EXPECT_EQ(JAL_DTYPE_Q8, c[4].dtype);
	EXPECT_EQ(c[0].r[0], c[4].r[0]);
	EXPECT_EQ(c[1].r[0], c[4].r[1]);
	EXPECT_EQ(c[2].r[0], c[4].r[2]);
	EXPECT_EQ(c[3].r[0], c[4].r[3]);
	EXPECT_EQ(40, c[4].dim[0]);
	EXPECT_EQ(64, c[4].dim[1]);
	EXPECT_EQ(16, c[4].dim[2]);
	/* scratch registers are above the scalars */
	EXPECT_LT(JALRT_PROGRAM_MAX_SCALAR, c[0].r[0]);

	/* row R[pos] of the cache: LI base; MULI t, pos, row bytes; ADD */
	ASSERT_EQ(0, jalrt_op_vadd(p, JALRT_REF_ROW(cache, pos), JALRT_REF(d), JALRT_REF(d), 40));
	c = prog_code(_metadata, p, &n);
	ASSERT_EQ(5 + 6, n);
	EXPECT_EQ(JAL_OP_LI, c[5].opcode);
	EXPECT_EQ(jalrt_tensor_va(cache), li_value(&c[5]));
	EXPECT_EQ(JAL_OP_MULI, c[6].opcode);
	EXPECT_EQ(pos, c[6].r[1]);
	EXPECT_EQ(40 * 4, li_value(&c[6]));
	EXPECT_EQ(JAL_OP_ADD, c[7].opcode);
	EXPECT_EQ(c[5].r[0], c[7].r[0]);
	EXPECT_EQ(c[6].r[0], c[7].r[2]);
	EXPECT_EQ(JAL_OP_VADD, c[10].opcode);
	EXPECT_EQ(40, c[10].dim[0]);

	EXPECT_EQ(0, jalrt_program_finalize(p)) TH_LOG("%s", jalrt_last_error_message());
	EXPECT_NE(NULL, jalrt_program_kernel(p));
	EXPECT_EQ(-EBUSY, jalrt_op_vadd(p, JALRT_REF(d), JALRT_REF(d), JALRT_REF(d), 40));
	jalrt_program_destroy(p);
}

/* JALRT_MATVEC_QUANTIZE_X sets the chip's flag, and only where it is defined. */
TEST_F(g, matvec_quantize_x_lowers_to_the_q8x_flag)
{
	struct jalrt_tensor *w, *w12, *w6, *f, *x, *x12, *d;
	struct jalrt_program *p;
	const struct jal_insn *c;
	uint32_t n;

	w = tensor2(_metadata, self->g, JALRT_DTYPE_Q8, 40, 64, 16, 0);
	w12 = tensor2(_metadata, self->g, JALRT_DTYPE_Q8, 40, 36, 12, 0);
	w6 = tensor2(_metadata, self->g, JALRT_DTYPE_Q8, 40, 36, 6, 0);
	f = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 40, 64, 0, 0);
	x = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 64, 0, 0);
	x12 = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 36, 0, 0);
	d = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 40, 0, 0);
	ASSERT_EQ(0, jalrt_graph_allocate(self->g));
	ASSERT_EQ(0, jalrt_program_create(self->g, 0, &p));
	ASSERT_EQ(0, jalrt_op_matvec_flags(p, JALRT_REF(d), w, JALRT_REF(x),
					   JALRT_MATVEC_QUANTIZE_X))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_op_matvec_flags(p, JALRT_REF(d), w12, JALRT_REF(x12),
					   JALRT_MATVEC_QUANTIZE_X));
	/* no flags: the plain op */
	ASSERT_EQ(0, jalrt_op_matvec_flags(p, JALRT_REF(d), w, JALRT_REF(x), 0));
	c = prog_code(_metadata, p, &n);
	ASSERT_EQ(15, n);
	EXPECT_EQ(JAL_OP_MATVEC, c[4].opcode);
	EXPECT_EQ(JAL_DTYPE_Q8, c[4].dtype);
	EXPECT_EQ(JAL_INSN_F_Q8X, c[4].flags);
	EXPECT_EQ(16, c[4].dim[2]);
	EXPECT_EQ(JAL_INSN_F_Q8X, c[9].flags);
	EXPECT_EQ(12, c[9].dim[2]);
	EXPECT_EQ(0, c[14].flags);
	EXPECT_EQ(0, jalrt_program_finalize(p)) TH_LOG("%s", jalrt_last_error_message());
	jalrt_program_destroy(p);

	ASSERT_EQ(0, jalrt_program_create(self->g, 0, &p));
	/* f32 weights have nothing to quantise x for */
	EXPECT_EQ(-EINVAL, jalrt_op_matvec_flags(p, JALRT_REF(d), f, JALRT_REF(x),
						 JALRT_MATVEC_QUANTIZE_X));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "needs Q8 weights"))
		TH_LOG("%s", jalrt_last_error_message());
	/* groups of 6: not a multiple of 4 */
	EXPECT_EQ(-EINVAL, jalrt_op_matvec_flags(p, JALRT_REF(d), w6, JALRT_REF(x12),
						 JALRT_MATVEC_QUANTIZE_X));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "groups of 6"))
		TH_LOG("%s", jalrt_last_error_message());
	/* unknown flags */
	EXPECT_EQ(-EINVAL, jalrt_op_matvec_flags(p, JALRT_REF(d), w, JALRT_REF(x), 1u << 5));
	/* nothing was emitted; finalize reports the first error */
	EXPECT_EQ(0, jalrt_kb_count(jalrt_program_builder(p)));
	EXPECT_EQ(-EINVAL, jalrt_program_finalize(p));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "needs Q8 weights"));
	jalrt_program_destroy(p);
}

TEST_F(g, ops_check_their_operands)
{
	struct jalrt_tensor *w, *x, *d, *tok, *tab;
	struct jalrt_program *p;
	unsigned int r;

	w = tensor2(_metadata, self->g, JALRT_DTYPE_S24, 8, 16, 0, 0);
	x = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 16, 0, 0);
	d = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 8, 0, 0);
	tok = tensor2(_metadata, self->g, JALRT_DTYPE_U32, 1, 4, 0, JALRT_TENSOR_HOST);
	tab = tensor2(_metadata, self->g, JALRT_DTYPE_S24, 4, 8, 0, 0);
	ASSERT_EQ(0, jalrt_graph_allocate(self->g));
	ASSERT_EQ(0, jalrt_program_create(self->g, 0, &p));
	ASSERT_EQ(0, jalrt_program_scalar(p, &r));
	/* W x with x too short for W's 16 columns */
	EXPECT_EQ(-ERANGE, jalrt_op_matvec(p, JALRT_REF(d), w, JALRT_REF(d)));
	/* element range past the end */
	EXPECT_EQ(-ERANGE, jalrt_op_vadd(p, JALRT_REF_AT(x, 10), JALRT_REF(x), JALRT_REF(x), 8));
	/* integer tensors are not activations, weights are not outputs */
	EXPECT_EQ(-EINVAL, jalrt_op_vadd(p, JALRT_REF(tok), JALRT_REF(x), JALRT_REF(x), 4));
	EXPECT_EQ(-EINVAL, jalrt_op_rmsnorm(p, JALRT_REF(w), JALRT_REF(x), JALRT_REF(x), 8, 1e-5f));
	/* S24 tables cannot be embedded */
	EXPECT_EQ(-EINVAL, jalrt_op_embed(p, JALRT_REF(d), tab, JALRT_DIM(0)));
	/* scratch registers are not scalars */
	EXPECT_EQ(-EINVAL, jalrt_op_argmax(p, 30, JALRT_REF(x), 16));
	EXPECT_EQ(-EINVAL, jalrt_op_load(p, r, JALRT_REF_ELEM(tok, 29)));
	/* the first error is what finalize reports */
	EXPECT_EQ(-ERANGE, jalrt_program_finalize(p));
	jalrt_program_destroy(p);

	ASSERT_EQ(0, jalrt_program_create(self->g, 0, &p));
	ASSERT_EQ(0, jalrt_program_scalar(p, &r));
	EXPECT_EQ(0, jalrt_op_matvec(p, JALRT_REF(d), w, JALRT_REF(x)));
	EXPECT_EQ(0, jalrt_op_load(p, r, JALRT_REF_ELEM(tok, r)));
	EXPECT_EQ(0, jalrt_op_store(p, JALRT_REF_AT(tok, 3), r));
	EXPECT_EQ(0, jalrt_program_finalize(p)) TH_LOG("%s", jalrt_last_error_message());
	jalrt_program_destroy(p);
	/* not before allocation */
	{
		struct jalrt_graph *g2;

		ASSERT_EQ(0, jalrt_graph_create(self->ctx, 0, &g2));
		EXPECT_EQ(-EINVAL, jalrt_program_create(g2, 0, &p));
		jalrt_graph_destroy(g2);
	}
}

TEST_F(g, record_names_the_graph_memory)
{
	struct jalrt_tensor *x, *h;
	struct jalrt_program *p;
	struct jalrt_cmdbuf *cb;
	struct fake_submit *s;
	uint64_t arg = 7;

	x = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 16, 0, 0);
	h = tensor2(_metadata, self->g, JALRT_DTYPE_F32, 1, 16, 0, JALRT_TENSOR_HOST);
	ASSERT_EQ(0, jalrt_graph_allocate(self->g));
	ASSERT_EQ(0, jalrt_program_create(self->g, 1, &p));
	ASSERT_EQ(0, jalrt_op_vscale(p, JALRT_REF(x), JALRT_REF(x), 2.0f, 16));
	ASSERT_EQ(0, jalrt_program_finalize(p));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	EXPECT_EQ(-EINVAL, jalrt_program_record(p, cb, &arg, 0));
	ASSERT_EQ(0, jalrt_program_record(p, cb, &arg, 1));
	ASSERT_EQ(0, jalrt_graph_record_copy(cb, h, 0, x, 0, 64));
	EXPECT_EQ(-ERANGE, jalrt_graph_record_copy(cb, h, 4, x, 0, 64));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, cb, NULL, 0, 1000000000LL));
	s = fake_last_submit(self->fake, 0);
	/* cmdbuf, kernel code, two arenas */
	EXPECT_EQ(4, s->req.bo_count);
	EXPECT_EQ(1, s->dispatches);
	EXPECT_EQ(7, s->dispatch_args[0]);
	jalrt_cmdbuf_destroy(cb);
	jalrt_program_destroy(p);
}

TEST_HARNESS_MAIN
