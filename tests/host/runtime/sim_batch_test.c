// SPDX-License-Identifier: MIT
/*
 * libjalrt's batch helpers on the chip model (sim_backend.c): MATMUL with
 * JAL_INSN_F_Q8X, the row-batched LLM ops and the paged KV cache ops,
 * each built with the kernel builder and run for real, against the
 * single-row helpers in the same kernel, bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"

#include "jalrt.h"
#include "sim_backend.h"

#define MAX_BUFS	16
#define TIMEOUT_NS	(30ll * 1000 * 1000 * 1000)

FIXTURE(batch) {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_buffer *bufs[MAX_BUFS];
	unsigned int nbufs;
	uint64_t rng;
};

FIXTURE_SETUP(batch)
{
	ASSERT_EQ(0, sim_open(256ull << 20, true, &self->dev))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_NORMAL, &self->ctx));
	self->rng = 0x9e3779b97f4a7c15ull;
}

FIXTURE_TEARDOWN(batch)
{
	unsigned int i;

	for (i = 0; i < self->nbufs; i++)
		jalrt_buffer_free(self->bufs[i]);
	jalrt_context_destroy(self->ctx);
	jalrt_device_close(self->dev);
}

static uint64_t rnd(FIXTURE_DATA(batch) *self)
{
	self->rng ^= self->rng << 13;
	self->rng ^= self->rng >> 7;
	self->rng ^= self->rng << 17;
	return self->rng;
}

/* In [-1, 1). */
static float rndf(FIXTURE_DATA(batch) *self)
{
	return (float)(int32_t)(rnd(self) >> 32) / 2147483648.0f;
}

static void fill(FIXTURE_DATA(batch) *self, float *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = rndf(self);
}

/*
 * A buffer of @size bytes holding @init (NULL: zeros), in device memory
 * when @vram; its index in self->bufs goes to *@idx, its VA is returned.
 */
static uint64_t buf_new(struct __test_metadata *_metadata, FIXTURE_DATA(batch) *self,
			uint64_t size, const void *init, bool vram, unsigned int *idx)
{
	struct jalrt_buffer *b;

	if (self->nbufs >= MAX_BUFS || jalrt_buffer_alloc(self->dev, size,
							   vram ? JALRT_BUFFER_VRAM : 0, &b)) {
		TH_LOG("buffer of %llu: %s", (unsigned long long)size,
		       jalrt_last_error_message());
		abort();
	}
	if (init && jalrt_buffer_write(self->ctx, b, 0, init, size)) {
		TH_LOG("%s", jalrt_last_error_message());
		abort();
	}
	if (idx)
		*idx = self->nbufs;
	self->bufs[self->nbufs++] = b;
	return jalrt_buffer_va(b);
}

static void buf_get(FIXTURE_DATA(batch) *self, unsigned int idx, void *dst, uint64_t size)
{
	if (jalrt_buffer_read(self->ctx, self->bufs[idx], 0, dst, size))
		abort();
}

/* Finalize @kb and run it with @args; every buffer of the fixture is used. */
static int run(FIXTURE_DATA(batch) *self, struct jalrt_kernel_builder *kb,
	       const uint64_t *args, unsigned int nargs)
{
	struct jalrt_kernel *k;
	int ret;

	ret = jalrt_kb_finalize(kb, self->dev, &k);
	if (!ret)
		ret = jalrt_dispatch_sync(self->ctx, k, args, nargs, self->bufs, self->nbufs,
					  TIMEOUT_NS);
	jalrt_kernel_destroy(k);
	jalrt_kb_destroy(kb);
	return ret;
}

static unsigned int differ(const void *a, const void *b, size_t words)
{
	const uint32_t *x = a, *y = b;
	unsigned int bad = 0;
	size_t i;

	for (i = 0; i < words; i++)
		bad += x[i] != y[i];
	return bad;
}

/*
 * MATMUL with Q8X of B rows whose magnitudes differ by up to 2^40, then
 * the MATVEC of each row: the same bits.
 */
TEST_F(batch, matmul_q8x_rows_equal_matvec_q8x)
{
	enum { M = 40, K = 256, G = 32 };
	static const uint32_t batches[] = { 1, 3, 16 };
	int8_t w[M * K];
	float scales[M * K / G];
	unsigned int i, j;

	for (i = 0; i < M * K; i++)
		w[i] = (int8_t)(rnd(self) % 255 - 127);
	for (i = 0; i < M * K / G; i++)
		scales[i] = rndf(self) / 64;
	for (j = 0; j < sizeof(batches) / sizeof(batches[0]); j++) {
		uint32_t B = batches[j], b;
		float *x = malloc((size_t)B * K * 4), *d = malloc((size_t)B * M * 4);
		float *mv = malloc((size_t)B * M * 4);
		struct jalrt_matrix_op op = {
			.dtype = JAL_DTYPE_Q8, .rd = 0, .rw = 1, .rx = 2, .raux = 3,
			.rows = JALRT_DIM(M), .cols = JALRT_DIM(K), .batch = JALRT_DIM(B),
			.group = G, .flags = JAL_INSN_F_Q8X,
		};
		struct jalrt_kernel_builder *kb;
		unsigned int di, mvi;
		uint64_t args[5];

		self->nbufs = 0;
		fill(self, x, (size_t)B * K);
		for (b = 0; b < B; b++)
			for (i = 0; i < K; i++)
				x[b * K + i] *= ldexpf(1.0f, (int)(b * 11 % 41) - 20);
		args[0] = buf_new(_metadata, self, (size_t)B * M * 4, NULL, true, &di);
		args[1] = buf_new(_metadata, self, sizeof(w), w, true, NULL);
		args[2] = buf_new(_metadata, self, (size_t)B * K * 4, x, j % 2, NULL);
		args[3] = buf_new(_metadata, self, sizeof(scales), scales, true, NULL);
		args[4] = buf_new(_metadata, self, (size_t)B * M * 4, NULL, false, &mvi);
		ASSERT_EQ(0, jalrt_kb_create(5, &kb));
		ASSERT_EQ(0, jalrt_kb_matmul(kb, &op)) TH_LOG("%s", jalrt_last_error_message());
		op.rd = 6;
		op.rx = 5;
		op.batch = JALRT_DIM(0);
		for (b = 0; b < B; b++) {
			jalrt_kb_addi(kb, 5, 2, (uint64_t)b * K * 4);
			jalrt_kb_addi(kb, 6, 4, (uint64_t)b * M * 4);
			jalrt_kb_matvec_op(kb, &op);
		}
		ASSERT_EQ(0, run(self, kb, args, 5)) TH_LOG("%s", jalrt_last_error_message());
		buf_get(self, di, d, (size_t)B * M * 4);
		buf_get(self, mvi, mv, (size_t)B * M * 4);
		EXPECT_EQ(0, differ(d, mv, (size_t)B * M)) TH_LOG("B = %u", B);
		for (i = 0; i < self->nbufs; i++)
			jalrt_buffer_free(self->bufs[i]);
		self->nbufs = 0;
		free(x);
		free(d);
		free(mv);
	}
}

/*
 * Each row-batched helper against its single-row helper on every row.
 * Registers: r0 = d rows / results, r1 = a rows / the table, r2 = b /
 * weights / positions / token ids / states, r3 = SAMPLE's parameters,
 * r4 = the single-row results (dense rows; then B u32), r7 = the
 * single-row SAMPLE states, r11 = B.
 */
enum { N = 64, B = 7, PITCH = N + 4, TABLE = 23 };

struct rows_bufs {
	uint64_t args[12];
	unsigned int out, one, states, one_states;
};

static void rows_setup(struct __test_metadata *_metadata, FIXTURE_DATA(batch) *self,
		       struct rows_bufs *rb)
{
	float *a = malloc(B * PITCH * 4), *wt = malloc(B * PITCH * 4), params[2 * B];
	float *table = malloc(TABLE * N * 4);
	uint32_t ids[B];
	uint64_t states[B];
	unsigned int b, i;

	fill(self, a, B * PITCH);
	fill(self, wt, B * PITCH);
	fill(self, table, TABLE * N);
	for (b = 0; b < B; b++) {
		for (i = 0; i < N; i++)
			a[b * PITCH + i] *= ldexpf(1.0f, (int)(b * 7 % 30) - 15);
		ids[b] = (uint32_t)(rnd(self) % TABLE);
		states[b] = rnd(self) | 1;
		params[2 * b] = b % 3 ? 0.8f : 0.0f;
		params[2 * b + 1] = b % 2 ? 0.9f : 1.0f;
	}
	memset(rb, 0, sizeof(*rb));
	self->nbufs = 0;
	rb->args[0] = buf_new(_metadata, self, B * PITCH * 4, NULL, true, &rb->out);
	rb->args[1] = buf_new(_metadata, self, B * PITCH * 4, a, true, NULL);
	rb->args[2] = buf_new(_metadata, self, B * PITCH * 4, wt, false, NULL);
	rb->args[3] = buf_new(_metadata, self, sizeof(params), params, true, NULL);
	rb->args[4] = buf_new(_metadata, self, B * N * 4 + B * 4, NULL, true, &rb->one);
	rb->args[5] = buf_new(_metadata, self, sizeof(ids), ids, true, NULL);
	rb->args[6] = buf_new(_metadata, self, TABLE * N * 4, table, true, NULL);
	rb->args[7] = buf_new(_metadata, self, sizeof(states), states, true, &rb->one_states);
	rb->args[8] = buf_new(_metadata, self, sizeof(states), states, true, &rb->states);
	rb->args[11] = B;
	free(a);
	free(wt);
	free(table);
}

TEST_F(batch, row_batched_helpers_equal_the_single_row_helpers)
{
	static const uint8_t ops[] = {
		JAL_OP_RMSNORM, JAL_OP_SOFTMAX, JAL_OP_ROPE, JAL_OP_SILU_MUL,
		JAL_OP_EMBED, JAL_OP_ARGMAX, JAL_OP_SAMPLE,
	};
	const struct jalrt_rows rows = {
		.count = JALRT_DIM_REG(11), .d_pitch = PITCH, .a_pitch = PITCH,
	};
	unsigned int o, b;

	for (o = 0; o < sizeof(ops); o++) {
		struct jalrt_rows r = rows;
		struct jalrt_embed_op e = {
			.dtype = JAL_DTYPE_F32, .rd = 0, .rtable = 6, .dim = JALRT_DIM(N),
			.rows = JALRT_DIM(TABLE),
		};
		uint32_t ids[B], res[B], res1[B];
		uint64_t st[B], st1[B];
		float got[B * PITCH], want[B * N];
		bool picks = ops[o] == JAL_OP_ARGMAX || ops[o] == JAL_OP_SAMPLE;
		struct jalrt_kernel_builder *kb;
		struct rows_bufs rb;
		unsigned int bad = 0, i;
		int ret = -1;

		rows_setup(_metadata, self, &rb);
		ASSERT_EQ(0, jalrt_kb_create(12, &kb));
		switch (ops[o]) {
		case JAL_OP_RMSNORM:
			ret = jalrt_kb_rmsnorm_rows(kb, 0, 1, 2, JALRT_DIM(N), 1e-5f, &r);
			break;
		case JAL_OP_SOFTMAX:
			ret = jalrt_kb_softmax_rows(kb, 0, 1, JALRT_DIM(N), &r);
			break;
		case JAL_OP_ROPE:
			ret = jalrt_kb_rope_rows(kb, 0, 1, 5, JALRT_DIM(N), JALRT_DIM(16),
						 10000.0f, &r);
			break;
		case JAL_OP_SILU_MUL:
			r.b_pitch = PITCH;
			ret = jalrt_kb_silu_mul_rows(kb, 0, 1, 2, JALRT_DIM(N), &r);
			break;
		case JAL_OP_EMBED:
			r.a_pitch = 0;
			ret = jalrt_kb_embed_rows(kb, &e, 5, &r);
			break;
		case JAL_OP_ARGMAX:
			r.d_pitch = 0;
			ret = jalrt_kb_argmax_rows(kb, 0, 1, JALRT_DIM(N), &r);
			break;
		case JAL_OP_SAMPLE:
			r.d_pitch = 0;
			ret = jalrt_kb_sample_rows(kb, 0, 1, 8, 3, JALRT_DIM(N), &r);
			break;
		}
		ASSERT_EQ(0, ret) TH_LOG("%s", jalrt_last_error_message());

		buf_get(self, 5, ids, sizeof(ids));
		for (b = 0; b < B; b++) {
			jalrt_kb_addi(kb, 9, 1, (uint64_t)b * PITCH * 4);
			jalrt_kb_addi(kb, 10, 4, (uint64_t)b * N * 4);
			jalrt_kb_addi(kb, 12, 2, (uint64_t)b * PITCH * 4);
			switch (ops[o]) {
			case JAL_OP_RMSNORM:
				jalrt_kb_rmsnorm(kb, 10, 9, 2, JALRT_DIM(N), 1e-5f);
				break;
			case JAL_OP_SOFTMAX:
				jalrt_kb_softmax(kb, 10, 9, JALRT_DIM(N));
				break;
			case JAL_OP_ROPE:
				jalrt_kb_ld32(kb, 13, 5, b * 4);
				jalrt_kb_rope(kb, 10, 9, JALRT_DIM(N), JALRT_DIM(16),
					      JALRT_DIM_REG(13), 10000.0f);
				break;
			case JAL_OP_SILU_MUL:
				jalrt_kb_silu_mul(kb, 10, 9, 12, JALRT_DIM(N));
				break;
			case JAL_OP_EMBED:
				e.rd = 10;
				e.row = JALRT_DIM(ids[b]);
				jalrt_kb_embed(kb, &e);
				break;
			case JAL_OP_ARGMAX:
				jalrt_kb_argmax(kb, 14, 9, JALRT_DIM(N));
				jalrt_kb_st32(kb, 14, 4, B * N * 4 + b * 4);
				break;
			case JAL_OP_SAMPLE: {
				float p[2];

				jalrt_buffer_read(self->ctx, self->bufs[3], b * 8, p, 8);
				jalrt_kb_ld64(kb, 15, 7, b * 8);
				jalrt_kb_sample(kb, 14, 9, 15, JALRT_DIM(N), p[0], p[1]);
				jalrt_kb_st32(kb, 14, 4, B * N * 4 + b * 4);
				jalrt_kb_st64(kb, 15, 7, b * 8);
				break;
			}
			}
		}
		ASSERT_EQ(0, run(self, kb, rb.args, 12)) TH_LOG("op 0x%x: %s", ops[o],
							       jalrt_last_error_message());
		if (picks) {
			buf_get(self, rb.out, res, sizeof(res));
			jalrt_buffer_read(self->ctx, self->bufs[rb.one], B * N * 4, res1,
					  sizeof(res1));
			bad = differ(res, res1, B);
			buf_get(self, rb.states, st, sizeof(st));
			buf_get(self, rb.one_states, st1, sizeof(st1));
			bad += differ(st, st1, 2 * B);
		} else {
			buf_get(self, rb.out, got, sizeof(got));
			buf_get(self, rb.one, want, sizeof(want));
			for (b = 0; b < B; b++)
				for (i = 0; i < N; i++)
					bad += differ(&got[b * PITCH + i], &want[b * N + i], 1);
		}
		EXPECT_EQ(0, bad) TH_LOG("op 0x%x", ops[o]);
		for (i = 0; i < self->nbufs; i++)
			jalrt_buffer_free(self->bufs[i]);
		self->nbufs = 0;
	}
}

/* What a batch helper must refuse before anything reaches the chip. */
TEST_F(batch, batch_helpers_reject_bad_arguments)
{
	struct jalrt_rows r = { .count = JALRT_DIM(4) };
	struct jalrt_embed_op e = {
		.dtype = JAL_DTYPE_F32, .rd = 0, .rtable = 1, .dim = JALRT_DIM(8),
		.rows = JALRT_DIM(3),
	};
	struct jalrt_paged_attention_op pa = {
		.rout = 0, .rq = 1, .rlengths = 4, .n_heads = JALRT_DIM(4),
		.head_size = JALRT_DIM(8), .n_kv_heads = JALRT_DIM(2), .rows = JALRT_DIM(3),
		.pool = { .rk = 2, .rv = 3, .rtables = 5, .block_size = 16, .blocks = 8,
			  .table_entries = 4 },
	};
	struct jalrt_kernel_builder *kb;

	ASSERT_EQ(0, jalrt_kb_create(8, &kb));
	EXPECT_EQ(0, jalrt_kb_softmax_rows(kb, 0, 1, JALRT_DIM(8), &r));
	EXPECT_EQ(0, jalrt_kb_paged_attention(kb, &pa)) TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-EINVAL, jalrt_kb_softmax_rows(kb, 0, 1, JALRT_DIM(8), NULL));
	r.a_pitch = 7;	/* less than a row of 8 */
	EXPECT_EQ(-EINVAL, jalrt_kb_softmax_rows(kb, 0, 1, JALRT_DIM(8), &r));
	r.a_pitch = 0;
	r.b_pitch = 8;	/* SOFTMAX has no b */
	EXPECT_EQ(-EINVAL, jalrt_kb_softmax_rows(kb, 0, 1, JALRT_DIM(8), &r));
	r.b_pitch = 0;
	r.count = JALRT_DIM(JAL_ROWS_MAX + 1);
	EXPECT_EQ(-EINVAL, jalrt_kb_rmsnorm_rows(kb, 0, 1, 2, JALRT_DIM(8), 1e-5f, &r));
	r.count = JALRT_DIM_REG(40);
	EXPECT_EQ(-EINVAL, jalrt_kb_rmsnorm_rows(kb, 0, 1, 2, JALRT_DIM(8), 1e-5f, &r));
	r.count = JALRT_DIM(4);
	r.d_pitch = 8;	/* results are dense u32 */
	EXPECT_EQ(-EINVAL, jalrt_kb_argmax_rows(kb, 0, 1, JALRT_DIM(8), &r));
	r.d_pitch = 0;
	e.row = JALRT_DIM(1);	/* the rows' ids come from a register */
	EXPECT_EQ(-EINVAL, jalrt_kb_embed_rows(kb, &e, 2, &r));
	e.row = JALRT_DIM(0);
	EXPECT_EQ(-EINVAL, jalrt_kb_rope_rows(kb, 0, 1, 2, JALRT_DIM(6), JALRT_DIM(4),
					      10000.0f, &r));
	pa.pool.block_size = 0;
	EXPECT_EQ(-EINVAL, jalrt_kb_paged_attention(kb, &pa));
	pa.pool.block_size = 16;
	pa.pool.blocks = 0;
	EXPECT_EQ(-EINVAL, jalrt_kb_paged_attention(kb, &pa));
	pa.pool.blocks = 8;
	pa.pool.table_pitch = 3;	/* less than a table of 4 */
	EXPECT_EQ(-EINVAL, jalrt_kb_paged_attention(kb, &pa));
	pa.pool.table_pitch = 0;
	pa.pool.table_entries = JAL_PAGED_MAX_BLOCKS + 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_paged_attention(kb, &pa));
	pa.pool.table_entries = 4;
	pa.rlengths = 32;
	EXPECT_EQ(-EINVAL, jalrt_kb_paged_attention(kb, &pa));
	pa.rlengths = 4;
	pa.n_kv_heads = JALRT_DIM(3);
	EXPECT_EQ(-EINVAL, jalrt_kb_paged_attention(kb, &pa));
	jalrt_kb_destroy(kb);
}

/*
 * A decode loop over paged caches: B sequences of their own lengths, one
 * PAGED_KV_STORE per step (a finished sequence stores its last position
 * again), then PAGED_ATTENTION of every row against ATTENTION over a
 * contiguous cache of the same keys and values.
 */
TEST_F(batch, paged_decode_loop_attends_as_a_contiguous_cache)
{
	enum { H = 4, HS = 8, KVH = 2, ROW = KVH * HS, BLOCK = 4, CAP = 4, ROWS = 3,
	       POOL = 14, STEPS = 13 };
	static const uint32_t len[ROWS] = { 13, 3, 7 };
	uint32_t tables[ROWS * CAP] = { 5, 0, 9, 12, 3, 13, 1, 2, 11, 7, 6, 10 };
	float kc[ROWS][CAP * BLOCK][ROW], vc[ROWS][CAP * BLOCK][ROW];
	float ks[STEPS][ROWS][ROW], vs[STEPS][ROWS][ROW];
	float q[ROWS * H * HS], got[ROWS * H * HS], want[ROWS * H * HS];
	uint32_t pos[STEPS][ROWS];
	struct jalrt_kv_pool pool = {
		.rk = 2, .rv = 3, .rtables = 5, .block_size = BLOCK, .blocks = POOL,
		.table_entries = CAP, .table_pitch = CAP,
	};
	struct jalrt_paged_kv_store_op store = {
		.rk = 8, .rv = 9, .rpositions = 10, .head_size = JALRT_DIM(HS),
		.n_kv_heads = JALRT_DIM(KVH), .rows = JALRT_DIM(ROWS), .pool = pool,
	};
	struct jalrt_paged_attention_op att = {
		.rout = 0, .rq = 1, .rlengths = 4, .n_heads = JALRT_DIM(H),
		.head_size = JALRT_DIM(HS), .n_kv_heads = JALRT_DIM(KVH),
		.rows = JALRT_DIM(ROWS), .pool = pool,
	};
	struct jalrt_attention_op one = {
		.rout = 17, .rq = 12, .rk = 13, .rv = 14, .n_heads = JALRT_DIM(H),
		.head_size = JALRT_DIM(HS), .n_kv_heads = JALRT_DIM(KVH),
		.positions = JALRT_DIM_REG(15),
	};
	struct jalrt_kernel_builder *kb;
	unsigned int outi, wanti, b, t;
	uint64_t args[12];

	fill(self, &kc[0][0][0], sizeof(kc) / 4);
	fill(self, &vc[0][0][0], sizeof(vc) / 4);
	fill(self, q, ROWS * H * HS);
	for (t = 0; t < STEPS; t++) {
		for (b = 0; b < ROWS; b++) {
			pos[t][b] = t < len[b] ? t : len[b] - 1;
			memcpy(ks[t][b], kc[b][pos[t][b]], sizeof(ks[t][b]));
			memcpy(vs[t][b], vc[b][pos[t][b]], sizeof(vs[t][b]));
		}
	}
	self->nbufs = 0;
	args[0] = buf_new(_metadata, self, sizeof(got), NULL, true, &outi);
	args[1] = buf_new(_metadata, self, sizeof(q), q, true, NULL);
	args[2] = buf_new(_metadata, self, (size_t)POOL * BLOCK * ROW * 4, NULL, true, NULL);
	args[3] = buf_new(_metadata, self, (size_t)POOL * BLOCK * ROW * 4, NULL, false, NULL);
	args[4] = buf_new(_metadata, self, sizeof(len), len, true, NULL);
	args[5] = buf_new(_metadata, self, sizeof(tables), tables, true, NULL);
	args[6] = buf_new(_metadata, self, sizeof(ks), ks, true, NULL);
	args[7] = buf_new(_metadata, self, sizeof(vs), vs, false, NULL);
	args[8] = buf_new(_metadata, self, sizeof(pos), pos, true, NULL);
	args[9] = buf_new(_metadata, self, sizeof(kc), kc, true, NULL);
	args[10] = buf_new(_metadata, self, sizeof(vc), vc, true, NULL);
	args[11] = buf_new(_metadata, self, sizeof(want), NULL, true, &wanti);

	/* The decode loop: step t's k, v rows and positions, then attention. */
	ASSERT_EQ(0, jalrt_kb_create(12, &kb));
	jalrt_kb_addi(kb, 16, 8, 0);
	for (t = 0; t < STEPS; t++) {
		jalrt_kb_addi(kb, 8, 6, (uint64_t)t * ROWS * ROW * 4);
		jalrt_kb_addi(kb, 9, 7, (uint64_t)t * ROWS * ROW * 4);
		jalrt_kb_addi(kb, 10, 16, (uint64_t)t * ROWS * 4);
		ASSERT_EQ(0, jalrt_kb_paged_kv_store(kb, &store))
			TH_LOG("%s", jalrt_last_error_message());
	}
	ASSERT_EQ(0, jalrt_kb_paged_attention(kb, &att)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, run(self, kb, args, 12)) TH_LOG("%s", jalrt_last_error_message());

	/* Each row over its contiguous cache (args[9], args[10]) into args[11]. */
	ASSERT_EQ(0, jalrt_kb_create(12, &kb));
	for (b = 0; b < ROWS; b++) {
		jalrt_kb_addi(kb, 17, 11, (uint64_t)b * H * HS * 4);
		jalrt_kb_addi(kb, 12, 1, (uint64_t)b * H * HS * 4);
		jalrt_kb_addi(kb, 13, 9, (uint64_t)b * CAP * BLOCK * ROW * 4);
		jalrt_kb_addi(kb, 14, 10, (uint64_t)b * CAP * BLOCK * ROW * 4);
		jalrt_kb_li(kb, 15, len[b]);
		ASSERT_EQ(0, jalrt_kb_attention(kb, &one)) TH_LOG("%s", jalrt_last_error_message());
	}
	ASSERT_EQ(0, run(self, kb, args, 12)) TH_LOG("%s", jalrt_last_error_message());
	buf_get(self, outi, got, sizeof(got));
	buf_get(self, wanti, want, sizeof(want));
	EXPECT_EQ(0, differ(got, want, ROWS * H * HS))
		TH_LOG("got %g %g want %g %g", got[0], got[40], want[0], want[40]);
	for (t = 0; t < ROWS * H * HS; t++)
		EXPECT_FALSE(isnan(got[t]));
}

TEST_HARNESS_MAIN
