// SPDX-License-Identifier: MIT
/*
 * libjalrt kernel builder, ISA 1.1: the encoding of every new opcode's
 * helper, field by field at the byte offsets documented in jalapeno_hw.h
 * (not through the struct), and the host-side validation that rejects
 * what the chip would fail with BAD_INSN.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "kselftest_harness.h"

#include "fake_backend.h"

static uint32_t rd32(const void *p, unsigned int off)
{
	const uint8_t *b = (const uint8_t *)p + off;

	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

#define OPC(p)		(((const uint8_t *)(p))[0])
#define DTYPE(p)	(((const uint8_t *)(p))[1])
#define FLAGS(p)	(rd32(p, 2) & 0xffff)
#define REG(p, i)	(((const uint8_t *)(p))[4 + (i)])
#define DIM(p, i)	rd32(p, 8 + 4 * (i))
#define STRIDE(p, i)	rd32(p, 24 + 4 * (i))
#define IMM(p, i)	rd32(p, 40 + 4 * (i))
#define RSVD(p, i)	rd32(p, 56 + 4 * (i))

static uint32_t fbits(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

FIXTURE(kb) {
	struct jalrt_kernel_builder *kb;
};

FIXTURE_SETUP(kb)
{
	ASSERT_EQ(0, jalrt_kb_create(8, &self->kb));
}

FIXTURE_TEARDOWN(kb)
{
	jalrt_kb_destroy(self->kb);
}

/* The only instruction emitted so far, linked. */
static const struct jal_insn *last(struct __test_metadata *_metadata,
				   struct jalrt_kernel_builder *kb)
{
	const struct jal_insn *code;
	uint32_t n;

	ASSERT_EQ(0, jalrt_kb_code(kb, &code, &n)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_LT(0, n);
	return &code[n - 1];
}

TEST(opcode_and_dtype_numbers_match_the_header)
{
	EXPECT_EQ(0x0b, JAL_OP_BEQ);
	EXPECT_EQ(0x0c, JAL_OP_LD32);
	EXPECT_EQ(0x0f, JAL_OP_ST64);
	EXPECT_EQ(0x21, JAL_OP_MATMUL);
	EXPECT_EQ(0x30, JAL_OP_RMSNORM);
	EXPECT_EQ(0x37, JAL_OP_SAMPLE);
	EXPECT_EQ(1, JAL_DTYPE_BF16);
	EXPECT_EQ(2, JAL_DTYPE_Q8);
	EXPECT_EQ(3, JAL_DTYPE_S24);
}

TEST_F(kb, scalar_memory_and_beq)
{
	const struct jal_insn *in;
	uint32_t l;

	ASSERT_EQ(0, jalrt_kb_ld32(self->kb, 3, 4, 0x10));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x0c, OPC(in));
	EXPECT_EQ(3, REG(in, 0));
	EXPECT_EQ(4, REG(in, 1));
	EXPECT_EQ(0x10, IMM(in, 0));
	EXPECT_EQ(0, IMM(in, 1));
	ASSERT_EQ(0, jalrt_kb_st64(self->kb, 5, 6, (uint64_t)-8));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x0f, OPC(in));
	EXPECT_EQ(5, REG(in, 0));
	EXPECT_EQ(6, REG(in, 1));
	EXPECT_EQ(0xfffffff8u, IMM(in, 0));
	EXPECT_EQ(0xffffffffu, IMM(in, 1));
	ASSERT_EQ(0, jalrt_kb_ld64(self->kb, 1, 2, 0));
	EXPECT_EQ(0x0d, OPC(last(_metadata, self->kb)));
	ASSERT_EQ(0, jalrt_kb_st32(self->kb, 1, 2, 4));
	EXPECT_EQ(0x0e, OPC(last(_metadata, self->kb)));

	ASSERT_EQ(0, jalrt_kb_new_label(self->kb, &l));
	ASSERT_EQ(0, jalrt_kb_beq(self->kb, 7, 9, l));
	ASSERT_EQ(0, jalrt_kb_bind(self->kb, l));
	ASSERT_EQ(0, jalrt_kb_halt(self->kb));
	{
		const struct jal_insn *code;
		uint32_t n;

		ASSERT_EQ(0, jalrt_kb_code(self->kb, &code, &n));
		in = &code[4];
		EXPECT_EQ(0x0b, OPC(in));
		EXPECT_EQ(0, REG(in, 0));
		EXPECT_EQ(7, REG(in, 1));
		EXPECT_EQ(9, REG(in, 2));
		EXPECT_EQ(5, IMM(in, 2));
	}
	EXPECT_EQ(-EINVAL, jalrt_kb_ld32(self->kb, 32, 0, 0));
}

TEST_F(kb, matvec_with_each_weight_dtype)
{
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_Q8, .rd = 1, .rw = 2, .rx = 3, .raux = 4,
		.rows = JALRT_DIM(96), .cols = JALRT_DIM(64), .group = 32,
	};
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_matvec_op(self->kb, &op)) TH_LOG("%s", jalrt_last_error_message());
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x20, OPC(in));
	EXPECT_EQ(2, DTYPE(in));
	EXPECT_EQ(1, REG(in, 0));
	EXPECT_EQ(2, REG(in, 1));
	EXPECT_EQ(3, REG(in, 2));
	EXPECT_EQ(4, REG(in, 3));
	EXPECT_EQ(96, DIM(in, 0));
	EXPECT_EQ(64, DIM(in, 1));
	EXPECT_EQ(32, DIM(in, 2));
	EXPECT_EQ(0, DIM(in, 3));
	EXPECT_EQ(1, STRIDE(in, 0));
	EXPECT_EQ(0, STRIDE(in, 1));
	EXPECT_EQ(1, STRIDE(in, 2));
	EXPECT_EQ(0, STRIDE(in, 3));

	op.dtype = JAL_DTYPE_S24;
	op.group = 0;
	ASSERT_EQ(0, jalrt_kb_matvec_op(self->kb, &op));
	in = last(_metadata, self->kb);
	EXPECT_EQ(3, DTYPE(in));
	EXPECT_EQ(4, REG(in, 3));
	EXPECT_EQ(0, DIM(in, 2));

	op.dtype = JAL_DTYPE_BF16;
	op.raux = 0;
	op.rows = JALRT_DIM_REG(7);
	ASSERT_EQ(0, jalrt_kb_matvec_op(self->kb, &op));
	in = last(_metadata, self->kb);
	EXPECT_EQ(1, DTYPE(in));
	EXPECT_EQ(0, REG(in, 3));
	EXPECT_EQ(JAL_INSN_F_DIM_REG(0), FLAGS(in));
	EXPECT_EQ(7, DIM(in, 0));
}

/* JAL_INSN_F_Q8X is bit 4 of the flags, next to the DIM_REG bits. */
TEST_F(kb, matvec_q8x_encoding_and_rules)
{
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_Q8, .rd = 1, .rw = 2, .rx = 3, .raux = 4,
		.rows = JALRT_DIM(9), .cols = JALRT_DIM(36), .group = 12,
		.flags = JAL_INSN_F_Q8X,
	};
	const struct jal_insn *in;
	struct jal_insn raw;

	EXPECT_EQ(0x10, JAL_INSN_F_Q8X);
	ASSERT_EQ(0, jalrt_kb_matvec_op(self->kb, &op)) TH_LOG("%s", jalrt_last_error_message());
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x20, OPC(in));
	EXPECT_EQ(2, DTYPE(in));
	EXPECT_EQ(0x10, FLAGS(in));
	EXPECT_EQ(9, DIM(in, 0));
	EXPECT_EQ(36, DIM(in, 1));
	EXPECT_EQ(12, DIM(in, 2));
	EXPECT_EQ(4, REG(in, 3));
	/* with a run-time row count: both flag kinds */
	op.rows = JALRT_DIM_REG(5);
	op.cols = JALRT_DIM(48);
	ASSERT_EQ(0, jalrt_kb_matvec_op(self->kb, &op));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x10 | JAL_INSN_F_DIM_REG(0), FLAGS(in));
	/* a group from a register is the chip's to check */
	raw = *in;
	raw.flags |= JAL_INSN_F_DIM_REG(2);
	raw.dim[2] = 6;
	EXPECT_EQ(0, jalrt_kb_emit(self->kb, &raw)) TH_LOG("%s", jalrt_last_error_message());
	op.rows = JALRT_DIM(9);
	op.group = 4;
	ASSERT_EQ(0, jalrt_kb_error(self->kb));

	/* groups of 6 and of 2 (multiples of 2 dividing the row, not of 4) */
	op.group = 6;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "multiple of 4"))
		TH_LOG("%s", jalrt_last_error_message());
	op.group = 2;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	/* rows longer than the chip quantises, in groups within its limit */
	op.cols = JALRT_DIM(JAL_Q8X_MAX_COLS + 4);
	op.group = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	op.cols = JALRT_DIM(48);
	/* other dtypes, MATMUL, stray flag bits */
	op.dtype = JAL_DTYPE_F32;
	op.raux = 0;
	op.group = 0;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "Q8X"));
	op.dtype = JAL_DTYPE_BF16;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	op.dtype = JAL_DTYPE_S24;
	op.raux = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	/* MATMUL quantises each row of X: group in dim[3], the same rules */
	op.dtype = JAL_DTYPE_Q8;
	op.group = 4;
	op.batch = JALRT_DIM(2);
	{
		struct jalrt_kernel_builder *mm;

		ASSERT_EQ(0, jalrt_kb_create(8, &mm));
		ASSERT_EQ(0, jalrt_kb_matmul(mm, &op)) TH_LOG("%s", jalrt_last_error_message());
		in = last(_metadata, mm);
		EXPECT_EQ(0x21, OPC(in));
		EXPECT_EQ(0x10, FLAGS(in));
		EXPECT_EQ(2, DIM(in, 2));
		EXPECT_EQ(4, DIM(in, 3));
		jalrt_kb_destroy(mm);
	}
	op.group = 6;
	EXPECT_EQ(-EINVAL, jalrt_kb_matmul(self->kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "multiple of 4"));
	op.group = 4;
	op.flags = JAL_INSN_F_Q8X | JAL_INSN_F_DIM_REG(1);
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "only JAL_INSN_F_Q8X"));
	/* raw: on an element-wise op */
	memset(&raw, 0, sizeof(raw));
	raw.opcode = JAL_OP_VADD;
	raw.flags = JAL_INSN_F_Q8X;
	raw.dim[0] = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &raw));
}

TEST_F(kb, matmul_encoding)
{
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_F32, .rd = 1, .rw = 2, .rx = 3,
		.rows = JALRT_DIM(5), .cols = JALRT_DIM(7), .batch = JALRT_DIM(3),
		.d_stride = 8, .x_stride = 9,
	};
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_matmul(self->kb, &op)) TH_LOG("%s", jalrt_last_error_message());
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x21, OPC(in));
	EXPECT_EQ(5, DIM(in, 0));
	EXPECT_EQ(7, DIM(in, 1));
	EXPECT_EQ(3, DIM(in, 2));
	EXPECT_EQ(0, DIM(in, 3));
	EXPECT_EQ(8, STRIDE(in, 0));
	EXPECT_EQ(0, STRIDE(in, 1));
	EXPECT_EQ(9, STRIDE(in, 2));
	op.dtype = JAL_DTYPE_Q8;
	op.raux = 4;
	op.group = 7;
	ASSERT_EQ(0, jalrt_kb_matmul(self->kb, &op));
	in = last(_metadata, self->kb);
	EXPECT_EQ(7, DIM(in, 3));
	EXPECT_EQ(4, REG(in, 3));
	/* D's pitch below its row length */
	op.d_stride = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_matmul(self->kb, &op));
}

TEST_F(kb, llm_block_encodings)
{
	struct jalrt_attention_op att = {
		.rout = 1, .rq = 2, .rk = 3, .rv = 4, .n_heads = JALRT_DIM(8),
		.head_size = JALRT_DIM(16), .n_kv_heads = JALRT_DIM(4),
		.positions = JALRT_DIM_REG(6), .k_pitch = 64, .v_pitch = 128,
	};
	struct jalrt_embed_op emb = {
		.dtype = JAL_DTYPE_Q8, .rd = 1, .rtable = 2, .rscales = 3,
		.dim = JALRT_DIM(64), .row = JALRT_DIM_REG(5), .rows = JALRT_DIM(512),
		.group = 16,
	};
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_rmsnorm(self->kb, 1, 2, 3, JALRT_DIM(64), 1e-5f));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x30, OPC(in));
	EXPECT_EQ(3, REG(in, 2));
	EXPECT_EQ(64, DIM(in, 0));
	EXPECT_EQ(fbits(1e-5f), IMM(in, 0));
	EXPECT_EQ(0, STRIDE(in, 0));

	ASSERT_EQ(0, jalrt_kb_softmax(self->kb, 1, 2, JALRT_DIM_REG(3)));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x31, OPC(in));
	EXPECT_EQ(JAL_INSN_F_DIM_REG(0), FLAGS(in));

	ASSERT_EQ(0, jalrt_kb_rope(self->kb, 1, 1, JALRT_DIM(64), JALRT_DIM(16),
				   JALRT_DIM_REG(5), 10000.0f));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x32, OPC(in));
	EXPECT_EQ(64, DIM(in, 0));
	EXPECT_EQ(16, DIM(in, 1));
	EXPECT_EQ(5, DIM(in, 2));
	EXPECT_EQ(JAL_INSN_F_DIM_REG(2), FLAGS(in));
	EXPECT_EQ(fbits(10000.0f), IMM(in, 0));

	ASSERT_EQ(0, jalrt_kb_silu_mul(self->kb, 1, 2, 3, JALRT_DIM(172)));
	EXPECT_EQ(0x33, OPC(last(_metadata, self->kb)));

	ASSERT_EQ(0, jalrt_kb_attention(self->kb, &att));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x34, OPC(in));
	EXPECT_EQ(4, REG(in, 3));
	EXPECT_EQ(8, DIM(in, 0));
	EXPECT_EQ(16, DIM(in, 1));
	EXPECT_EQ(4, DIM(in, 2));
	EXPECT_EQ(6, DIM(in, 3));
	EXPECT_EQ(JAL_INSN_F_DIM_REG(3), FLAGS(in));
	EXPECT_EQ(0, STRIDE(in, 0));
	EXPECT_EQ(0, STRIDE(in, 1));
	EXPECT_EQ(64, STRIDE(in, 2));
	EXPECT_EQ(128, STRIDE(in, 3));

	ASSERT_EQ(0, jalrt_kb_embed(self->kb, &emb));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x35, OPC(in));
	EXPECT_EQ(2, DTYPE(in));
	EXPECT_EQ(0, REG(in, 2));
	EXPECT_EQ(3, REG(in, 3));
	EXPECT_EQ(64, DIM(in, 0));
	EXPECT_EQ(5, DIM(in, 1));
	EXPECT_EQ(512, DIM(in, 2));
	EXPECT_EQ(16, STRIDE(in, 3));
	EXPECT_EQ(JAL_INSN_F_DIM_REG(1), FLAGS(in));

	ASSERT_EQ(0, jalrt_kb_argmax(self->kb, 9, 2, JALRT_DIM(512)));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x36, OPC(in));
	EXPECT_EQ(9, REG(in, 0));

	ASSERT_EQ(0, jalrt_kb_sample(self->kb, 9, 2, 3, JALRT_DIM(512), 0.8f, 0.9f));
	in = last(_metadata, self->kb);
	EXPECT_EQ(0x37, OPC(in));
	EXPECT_EQ(3, REG(in, 2));
	EXPECT_EQ(fbits(0.8f), IMM(in, 0));
	EXPECT_EQ(fbits(0.9f), IMM(in, 1));
	EXPECT_EQ(0, RSVD(in, 0));
}

/* Each of these is something the chip would reject with BAD_INSN. */
TEST_F(kb, rejects_bad_operands)
{
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_Q8, .rd = 1, .rw = 2, .rx = 3, .raux = 4,
		.rows = JALRT_DIM(4), .cols = JALRT_DIM(48), .group = 32,
	};
	struct jalrt_attention_op att = {
		.rout = 1, .rq = 2, .rk = 3, .rv = 4, .n_heads = JALRT_DIM(6),
		.head_size = JALRT_DIM(16), .n_kv_heads = JALRT_DIM(4),
		.positions = JALRT_DIM(1),
	};
	struct jalrt_embed_op emb = {
		.dtype = JAL_DTYPE_S24, .rd = 1, .rtable = 2, .dim = JALRT_DIM(8),
		.row = JALRT_DIM(0), .rows = JALRT_DIM(4),
	};
	struct jalrt_kernel_builder *kb;

	/* Q8 group that does not divide the columns */
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "group"));
	op.group = 0;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	/* S24 with columns not a multiple of 4 */
	op.dtype = JAL_DTYPE_S24;
	op.cols = JALRT_DIM(50);
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	/* F32 weights with a scale register */
	op.dtype = JAL_DTYPE_F32;
	op.cols = JALRT_DIM(48);
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	op.dtype = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(self->kb, &op));
	/* RoPE: odd length, odd head size, head size not dividing n */
	EXPECT_EQ(-EINVAL, jalrt_kb_rope(self->kb, 1, 1, JALRT_DIM(63), JALRT_DIM(16),
					 JALRT_DIM(0), 10000.0f));
	EXPECT_EQ(-EINVAL, jalrt_kb_rope(self->kb, 1, 1, JALRT_DIM(64), JALRT_DIM(15),
					 JALRT_DIM(0), 10000.0f));
	EXPECT_EQ(-EINVAL, jalrt_kb_rope(self->kb, 1, 1, JALRT_DIM(60), JALRT_DIM(16),
					 JALRT_DIM(0), 10000.0f));
	EXPECT_EQ(-EINVAL, jalrt_kb_rope(self->kb, 1, 1, JALRT_DIM(64), JALRT_DIM(16),
					 JALRT_DIM(0), NAN));
	/* attention: KV heads not dividing query heads, zero positions */
	EXPECT_EQ(-EINVAL, jalrt_kb_attention(self->kb, &att));
	att.n_kv_heads = JALRT_DIM(3);
	att.positions = JALRT_DIM(0);
	EXPECT_EQ(-EINVAL, jalrt_kb_attention(self->kb, &att));
	/* embedding: S24 tables do not exist; row past the table */
	EXPECT_EQ(-EINVAL, jalrt_kb_embed(self->kb, &emb));
	emb.dtype = JAL_DTYPE_F32;
	emb.row = JALRT_DIM(4);
	EXPECT_EQ(-EINVAL, jalrt_kb_embed(self->kb, &emb));
	/* softmax / argmax of nothing; sampling with a negative temperature */
	EXPECT_EQ(-EINVAL, jalrt_kb_softmax(self->kb, 1, 2, JALRT_DIM(0)));
	EXPECT_EQ(-EINVAL, jalrt_kb_argmax(self->kb, 1, 2, JALRT_DIM(0)));
	EXPECT_EQ(-EINVAL, jalrt_kb_sample(self->kb, 1, 2, 3, JALRT_DIM(8), -1.0f, 0.9f));
	EXPECT_EQ(-EINVAL, jalrt_kb_sample(self->kb, 1, 2, 3, JALRT_DIM(8), INFINITY, 0.9f));
	EXPECT_EQ(-EINVAL, jalrt_kb_sample(self->kb, 3, 2, 3, JALRT_DIM(8), 1.0f, 0.9f));
	EXPECT_EQ(-EINVAL, jalrt_kb_sample(self->kb, 1, 2, 3, JALRT_DIM(JAL_SAMPLE_MAX_LOGITS + 1),
					   1.0f, 0.9f));
	/* K pitch shorter than a position, head size above the limit */
	att.n_kv_heads = JALRT_DIM(2);
	att.positions = JALRT_DIM(1);
	att.k_pitch = 16;
	EXPECT_EQ(-EINVAL, jalrt_kb_attention(self->kb, &att));
	att.k_pitch = 0;
	att.head_size = JALRT_DIM(JAL_ATTENTION_MAX_HEAD_SIZE + 2);
	EXPECT_EQ(-EINVAL, jalrt_kb_attention(self->kb, &att));
	att.head_size = JALRT_DIM(16);
	/* registers out of range */
	EXPECT_EQ(-EINVAL, jalrt_kb_rmsnorm(self->kb, 1, 2, 32, JALRT_DIM(8), 1e-5f));
	EXPECT_EQ(-EINVAL, jalrt_kb_silu_mul(self->kb, 1, 2, 3, JALRT_DIM_REG(40)));
	/* the builder remembers the first error */
	EXPECT_EQ(-EINVAL, jalrt_kb_error(self->kb));

	/* an untouched builder still accepts the good forms */
	ASSERT_EQ(0, jalrt_kb_create(0, &kb));
	att.n_kv_heads = JALRT_DIM(2);
	att.positions = JALRT_DIM(3);
	att.k_pitch = 32;
	EXPECT_EQ(0, jalrt_kb_attention(kb, &att));
	EXPECT_EQ(0, jalrt_kb_error(kb));
	jalrt_kb_destroy(kb);
}

/* Raw instructions go through the same checks as the chip's. */
TEST_F(kb, raw_emit_field_rules)
{
	struct jal_insn in;

	/* a dtype on a scalar op */
	memset(&in, 0, sizeof(in));
	in.opcode = JAL_OP_LD32;
	in.dtype = JAL_DTYPE_BF16;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	/* BF16 on an element-wise op */
	memset(&in, 0, sizeof(in));
	in.opcode = JAL_OP_SILU_MUL;
	in.dtype = JAL_DTYPE_BF16;
	in.dim[0] = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	/* r[3] on an F32 MATVEC, dim[2] on an S24 one */
	memset(&in, 0, sizeof(in));
	in.opcode = JAL_OP_MATVEC;
	in.r[3] = 1;
	in.dim[0] = in.dim[1] = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	in.dtype = JAL_DTYPE_S24;
	in.dim[2] = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	in.dim[2] = 0;
	EXPECT_EQ(0, jalrt_kb_emit(self->kb, &in)) TH_LOG("%s", jalrt_last_error_message());
	/* SAMPLE: imm[2] is not used */
	memset(&in, 0, sizeof(in));
	in.opcode = JAL_OP_SAMPLE;
	in.dim[0] = 4;
	in.imm[2] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	/* EMBED: stride[3] only with Q8 */
	memset(&in, 0, sizeof(in));
	in.opcode = JAL_OP_EMBED;
	in.dim[0] = 4;
	in.dim[2] = 4;
	in.stride[3] = 4;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	/* unknown opcode in the new range */
	memset(&in, 0, sizeof(in));
	in.opcode = 0x38;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
}

TEST_HARNESS_MAIN
