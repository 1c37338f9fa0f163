// SPDX-License-Identifier: MIT
/*
 * Operands beyond the chip's 256 MiB extent (a 128256 x 4096 classifier
 * is 2 GiB at f32, 512 MiB at Q8):
 * - the kernel builder splits such a MATVEC / MATMUL into instructions
 *   over blocks of rows, moving the weight, scale and destination
 *   registers on with ADDI and back at the end;
 * - on the chip model in-process, a Q8 matrix just over the limit gives,
 *   split, every row the CPU reference's bits (llm_matvec_q8x in the
 *   chip's order), as MATVEC and as MATMUL;
 * - EMBED of a table beyond the limit is accepted: the chip reads one row;
 * - a graph larger than device memory keeps its first 256 MiB arenas in
 *   device memory and the rest in host memory, computing across them.
 */
#include <math.h>

#include "kselftest_harness.h"

#include "jalrt.h"
#include "jalrt_graph.h"
#include "sim_backend.h"

#include "reference.h"

#define LIMIT	(256ull << 20)

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s;
}

TEST(builder_splits_weights_over_the_limit)
{
	/* 70000 x 1024 f32: 273 MiB; 65536 rows fit (65535 * 4096 + 4096 bytes) */
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_F32, .rd = 0, .rw = 1, .rx = 2,
		.rows = JALRT_DIM(70000), .cols = JALRT_DIM(1024),
	};
	struct jalrt_kernel_builder *kb = NULL;
	const struct jal_insn *code;
	uint32_t n;

	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	ASSERT_EQ(0, jalrt_kb_matvec_op(kb, &op)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_kb_code(kb, &code, &n));
	ASSERT_EQ(6, n);
	EXPECT_EQ(JAL_OP_MATVEC, code[0].opcode);
	EXPECT_EQ(65536, code[0].dim[0]);
	EXPECT_EQ(JAL_OP_ADDI, code[1].opcode);
	EXPECT_EQ(1, code[1].r[0]);
	EXPECT_EQ(65536ull * 4096, code[1].imm[0] | (uint64_t)code[1].imm[1] << 32);
	EXPECT_EQ(JAL_OP_ADDI, code[2].opcode);
	EXPECT_EQ(0, code[2].r[0]);
	EXPECT_EQ(65536ull * 4, code[2].imm[0] | (uint64_t)code[2].imm[1] << 32);
	EXPECT_EQ(JAL_OP_MATVEC, code[3].opcode);
	EXPECT_EQ(70000 - 65536, code[3].dim[0]);
	EXPECT_EQ(1024, code[3].dim[1]);
	/* and back: the caller's registers keep their VAs */
	EXPECT_EQ(-(65536ull * 4096), code[4].imm[0] | (uint64_t)code[4].imm[1] << 32);
	EXPECT_EQ(-(65536ull * 4), code[5].imm[0] | (uint64_t)code[5].imm[1] << 32);
	jalrt_kb_destroy(kb);

	/* one matrix under the limit stays one instruction */
	op.rows = JALRT_DIM(65536);
	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	ASSERT_EQ(0, jalrt_kb_matvec_op(kb, &op));
	EXPECT_EQ(1, jalrt_kb_count(kb));
	jalrt_kb_destroy(kb);

	/* a single row over the limit cannot be split: refused, not looped on */
	op.rows = JALRT_DIM(2);
	op.cols = JALRT_DIM(70000000);
	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "spans more than 256 MiB"))
		TH_LOG("%s", jalrt_last_error_message());
	jalrt_kb_destroy(kb);
	/* nor a row whose scales are: Q8 in groups of 1 (280 MB of scales a row) */
	op.dtype = JAL_DTYPE_Q8;
	op.raux = 3;
	op.group = 1;
	ASSERT_EQ(0, jalrt_kb_create(4, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "256 MiB"))
		TH_LOG("%s", jalrt_last_error_message());
	jalrt_kb_destroy(kb);
	op.dtype = JAL_DTYPE_F32;
	op.raux = 0;
	op.group = 0;
	op.cols = JALRT_DIM(1024);

	/* registers that alias cannot move apart */
	op.rows = JALRT_DIM(70000);
	op.rd = 1;
	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "cannot be split"))
		TH_LOG("%s", jalrt_last_error_message());
	jalrt_kb_destroy(kb);
}

TEST(builder_takes_an_embedding_table_over_the_limit)
{
	/* Llama 3's table at f32: 2 GiB; EMBED reads one row of 16 KiB */
	struct jalrt_embed_op op = {
		.dtype = JAL_DTYPE_F32, .rd = 0, .rtable = 1, .dim = JALRT_DIM(4096),
		.row = JALRT_DIM_REG(2), .rows = JALRT_DIM(128256),
	};
	struct jalrt_kernel_builder *kb = NULL;

	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	EXPECT_EQ(0, jalrt_kb_embed(kb, &op)) TH_LOG("%s", jalrt_last_error_message());
	jalrt_kb_destroy(kb);
}

/* Q8 weights of 65600 x 4096 (268.7 MB > 256 MiB) with quantised x, on the chip. */
/* The chip tests: 300 MB of data and a scalar reference need a timeout for a busy machine. */
FIXTURE(big) {
	int unused;
};

FIXTURE_SETUP(big)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(big)
{
}

TEST_F_TIMEOUT(big, chip_runs_a_split_matrix_bit_for_bit, 600)
{
	const uint32_t rows = 65600, cols = 4096, group = 64, batch = 2;
	uint64_t n = (uint64_t)rows * cols, aux_off = (n + 3) & ~3ull;
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_Q8, .rd = 0, .rw = 1, .rx = 2, .raux = 3,
		.rows = JALRT_DIM(rows), .cols = JALRT_DIM(cols), .group = group,
		.flags = JAL_INSN_F_Q8X,
	};
	struct jalrt_buffer *b[3] = { NULL };
	struct jalrt_kernel_builder *kb = NULL;
	struct jalrt_kernel *k = NULL;
	struct jalrt_context *ctx = NULL;
	struct jalrt_device *dev = NULL;
	float *want = malloc((size_t)rows * sizeof(float)), *xs = malloc(cols / group * 4);
	int8_t *xq = malloc(cols);
	uint64_t args[4];
	uint32_t seed = 7, i, r;
	uint8_t *w;
	float *x, *d;
	int pass, bad;

	ASSERT_TRUE(want && xs && xq);
	ASSERT_LT(LIMIT, n);
	ASSERT_EQ(0, sim_open(0, false, &dev));
	ASSERT_EQ(0, jalrt_context_create(dev, 0, &ctx));
	ASSERT_EQ(0, jalrt_buffer_alloc(dev, (size_t)rows * batch * 4, 0, &b[0]));
	ASSERT_EQ(0, jalrt_buffer_alloc(dev, aux_off + n / group * 4, 0, &b[1]));
	ASSERT_EQ(0, jalrt_buffer_alloc(dev, (size_t)cols * batch * 4, 0, &b[2]));
	w = jalrt_buffer_host(b[1]);
	for (i = 0; i < n; i += 4) {
		uint32_t v = lcg(&seed);

		memcpy(w + i, &v, 4);
	}
	for (i = 0; i < n / group; i++)
		((float *)(w + aux_off))[i] = (float)(lcg(&seed) >> 8) / 16777216.0f * 0.01f;
	x = jalrt_buffer_host(b[2]);
	for (i = 0; i < cols * batch; i++)
		x[i] = (float)(lcg(&seed) >> 8) / 8388608.0f - 1.0f;

	for (pass = 0; pass < 2; pass++) {
		op.batch = JALRT_DIM(pass ? batch : 0);
		ASSERT_EQ(0, jalrt_kb_create(4, &kb));
		ASSERT_EQ(0, pass ? jalrt_kb_matmul(kb, &op) : jalrt_kb_matvec_op(kb, &op))
			TH_LOG("%s", jalrt_last_error_message());
		/* split: two products and the register moves */
		EXPECT_LT(1, jalrt_kb_count(kb));
		ASSERT_EQ(0, jalrt_kb_finalize(kb, dev, &k)) TH_LOG("%s", jalrt_last_error_message());
		jalrt_kb_destroy(kb);
		for (i = 0; i < 3; i++)
			args[i] = jalrt_buffer_va(b[i]);
		args[3] = jalrt_buffer_va(b[1]) + aux_off;
		memset(jalrt_buffer_host(b[0]), 0xff, (size_t)rows * batch * 4);
		ASSERT_EQ(0, jalrt_dispatch_sync(ctx, k, args, 4, b, 3, -1))
			TH_LOG("%s", jalrt_last_error_message());
		jalrt_kernel_destroy(k);
		d = jalrt_buffer_host(b[0]);
		for (uint32_t row = 0; row < (pass ? batch : 1); row++) {
			llm_matvec_q8x(want, (const int8_t *)w, (const float *)(w + aux_off),
				       x + (size_t)row * cols, rows, cols, group, LLM_REF_ORDER_CHIP,
				       xq, xs);
			bad = 0;
			for (r = 0; r < rows; r++)
				bad += memcmp(&want[r], &d[(size_t)row * rows + r], 4) != 0;
			EXPECT_EQ(0, bad) TH_LOG("%s row %u: %d of %u outputs differ",
						 pass ? "MATMUL" : "MATVEC", row, bad, rows);
			/* the rows on both sides of the block boundary are real results */
			EXPECT_TRUE(isfinite(d[(size_t)row * rows + 65535]) &&
				    isfinite(d[(size_t)row * rows + 65536]));
		}
	}
	for (i = 0; i < 3; i++)
		jalrt_buffer_free(b[i]);
	jalrt_context_destroy(ctx);
	jalrt_device_close(dev);
	free(want);
	free(xs);
	free(xq);
}

static struct jalrt_tensor *tensor2(struct __test_metadata *_metadata, struct jalrt_graph *g,
				    const char *name, uint32_t rows, uint32_t cols)
{
	struct jalrt_tensor_desc d = {
		.name = name, .dtype = JALRT_DTYPE_F32, .ndim = 2, .dims = { rows, cols },
	};
	struct jalrt_tensor *t = NULL;

	EXPECT_EQ(0, jalrt_graph_tensor(g, &d, &t)) TH_LOG("%s", jalrt_last_error_message());
	return t;
}

/*
 * A graph larger than device memory: device arenas of 256 MiB each go to
 * device memory while it lasts and to host memory after, and the chip
 * computes across them (W in device memory, x and d in host memory, and a
 * second W in host memory).
 */
TEST_F_TIMEOUT(big, graph_arenas_fill_device_memory_then_host_memory, 600)
{
	const uint32_t rows = 256, cols = 204800;	/* 200 MiB of f32 */
	struct jalrt_device *dev = NULL;
	struct jalrt_context *ctx = NULL;
	struct jalrt_graph *g = NULL;
	struct jalrt_program *p = NULL;
	struct jalrt_tensor *w1, *w2, *x, *d1, *d2;
	struct jalrt_graph_info gi;
	float *host = malloc((size_t)rows * cols * sizeof(float)), got[256];
	uint32_t r, k;
	int bad = 0;

	ASSERT_NE(NULL, host);
	/* 300 MiB of device memory: room for the first arena only */
	ASSERT_EQ(0, sim_open(300ull << 20, true, &dev));
	ASSERT_EQ(0, jalrt_context_create(dev, 0, &ctx));
	ASSERT_EQ(0, jalrt_graph_create(ctx, 0, &g));
	w1 = tensor2(_metadata, g, "w1", rows, cols);
	w2 = tensor2(_metadata, g, "w2", rows, cols);
	x = tensor2(_metadata, g, "x", 1, cols);
	d1 = tensor2(_metadata, g, "d1", 1, rows);
	d2 = tensor2(_metadata, g, "d2", 1, rows);
	ASSERT_EQ(0, jalrt_graph_allocate(g)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_graph_query(g, &gi));
	/* w1 alone; w2, x and the outputs together */
	EXPECT_EQ(2, gi.device_arenas);
	EXPECT_EQ((uint64_t)rows * cols * 4, gi.vram_bytes);
	EXPECT_FALSE(gi.in_vram);
	EXPECT_LT(gi.vram_bytes, gi.device_bytes);

	/* small integers: every sum is exact, so any order gives these bits */
	for (r = 0; r < rows; r++)
		for (k = 0; k < cols; k++)
			host[(size_t)r * cols + k] = (float)((r + k) % 5) - 2.0f;
	ASSERT_EQ(0, jalrt_tensor_write(w1, 0, host, (uint64_t)rows * cols * 4));
	for (r = 0; r < rows; r++)
		for (k = 0; k < cols; k++)
			host[(size_t)r * cols + k] = (float)((r * 3 + k) % 7) - 3.0f;
	ASSERT_EQ(0, jalrt_tensor_write(w2, 0, host, (uint64_t)rows * cols * 4));
	for (k = 0; k < cols; k++)
		host[k] = (float)(k % 3);
	ASSERT_EQ(0, jalrt_tensor_write(x, 0, host, (uint64_t)cols * 4));

	ASSERT_EQ(0, jalrt_program_create(g, 0, &p));
	ASSERT_EQ(0, jalrt_op_matvec(p, JALRT_REF(d1), w1, JALRT_REF(x)));
	ASSERT_EQ(0, jalrt_op_matvec(p, JALRT_REF(d2), w2, JALRT_REF(x)));
	ASSERT_EQ(0, jalrt_program_finalize(p)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_program_run(p, ctx, NULL, 0, -1)) TH_LOG("%s", jalrt_last_error_message());
	for (int m = 0; m < 2; m++) {
		ASSERT_EQ(0, jalrt_tensor_read(m ? d2 : d1, 0, got, sizeof(got)));
		for (r = 0; r < rows; r++) {
			int64_t want = 0;

			for (k = 0; k < cols; k++)
				want += (int64_t)(m ? (int)((r * 3 + k) % 7) - 3 : (int)((r + k) % 5) - 2) *
					(int64_t)(k % 3);
			bad += got[r] != (float)want;
		}
	}
	EXPECT_EQ(0, bad) TH_LOG("%d of %u results differ", bad, 2 * rows);
	jalrt_program_destroy(p);
	jalrt_graph_destroy(g);
	jalrt_context_destroy(ctx);
	jalrt_device_close(dev);
	free(host);
}

TEST_HARNESS_MAIN
