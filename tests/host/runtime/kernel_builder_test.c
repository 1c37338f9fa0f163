// SPDX-License-Identifier: MIT
/*
 * libjalrt kernel builder: instruction encoding field by field (checked
 * against the byte layout documented in jalapeno_hw.h, not against the
 * struct), labels and fixups, and host-side validation.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"

#include "fake_backend.h"

/* Little-endian field readers at the documented byte offsets. */
static uint32_t rd32(const void *p, unsigned int off)
{
	const uint8_t *b = (const uint8_t *)p + off;

	return b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24;
}

#define INSN_OPCODE(p)		(((const uint8_t *)(p))[0])
#define INSN_DTYPE(p)		(((const uint8_t *)(p))[1])
#define INSN_FLAGS(p)		(rd32(p, 2) & 0xffff)
#define INSN_R(p, i)		(((const uint8_t *)(p))[4 + (i)])
#define INSN_DIM(p, i)		rd32(p, 8 + 4 * (i))
#define INSN_STRIDE(p, i)	rd32(p, 24 + 4 * (i))
#define INSN_IMM(p, i)		rd32(p, 40 + 4 * (i))
#define INSN_RSVD(p, i)		rd32(p, 56 + 4 * (i))

/* Link and return instruction @i; fails the test if linking fails. */
static const struct jal_insn *code_at(struct __test_metadata *_metadata,
				      struct jalrt_kernel_builder *kb, uint32_t i)
{
	const struct jal_insn *code;
	uint32_t count;

	ASSERT_EQ(0, jalrt_kb_code(kb, &code, &count)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_LT(i, count);
	return &code[i];
}

static void expect_zero_from(struct __test_metadata *_metadata, const void *in,
			     unsigned int off)
{
	unsigned int i;

	for (i = off; i < 64; i++)
		EXPECT_EQ(0, ((const uint8_t *)in)[i]) TH_LOG("byte %u", i);
}

FIXTURE(kb) {
	struct jalrt_kernel_builder *kb;
};

FIXTURE_SETUP(kb)
{
	ASSERT_EQ(0, jalrt_kb_create(4, &self->kb));
}

FIXTURE_TEARDOWN(kb)
{
	jalrt_kb_destroy(self->kb);
}

TEST(insn_layout_is_64_bytes)
{
	ASSERT_EQ(64, sizeof(struct jal_insn));
	ASSERT_EQ(JAL_MAX_CODE_SIZE / 64, JALRT_KB_MAX_INSNS);
}

TEST_F(kb, li_encoding)
{
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_li(self->kb, 5, 0x1122334455667788ull));
	in = code_at(_metadata, self->kb, 0);
	EXPECT_EQ(JAL_OP_LI, INSN_OPCODE(in));
	EXPECT_EQ(0x02, INSN_OPCODE(in));
	EXPECT_EQ(0, INSN_DTYPE(in));
	EXPECT_EQ(0, INSN_FLAGS(in));
	EXPECT_EQ(5, INSN_R(in, 0));
	EXPECT_EQ(0, INSN_R(in, 1));
	EXPECT_EQ(0, INSN_DIM(in, 0));
	EXPECT_EQ(0x55667788u, INSN_IMM(in, 0));
	EXPECT_EQ(0x11223344u, INSN_IMM(in, 1));
	EXPECT_EQ(0, INSN_IMM(in, 2));
	EXPECT_EQ(0, INSN_RSVD(in, 0));
	EXPECT_EQ(0, INSN_RSVD(in, 1));
}

TEST_F(kb, scalar_alu_encoding)
{
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_addi(self->kb, 1, 2, (uint64_t)-4));
	ASSERT_EQ(0, jalrt_kb_add(self->kb, 3, 4, 31));
	ASSERT_EQ(0, jalrt_kb_muli(self->kb, 6, 7, 12345));
	ASSERT_EQ(3, jalrt_kb_count(self->kb));

	in = code_at(_metadata, self->kb, 0);
	EXPECT_EQ(0x03, INSN_OPCODE(in));
	EXPECT_EQ(1, INSN_R(in, 0));
	EXPECT_EQ(2, INSN_R(in, 1));
	EXPECT_EQ(0, INSN_R(in, 2));
	EXPECT_EQ(0xfffffffcu, INSN_IMM(in, 0));
	EXPECT_EQ(0xffffffffu, INSN_IMM(in, 1));

	in = code_at(_metadata, self->kb, 1);
	EXPECT_EQ(0x04, INSN_OPCODE(in));
	EXPECT_EQ(3, INSN_R(in, 0));
	EXPECT_EQ(4, INSN_R(in, 1));
	EXPECT_EQ(31, INSN_R(in, 2));
	EXPECT_EQ(0, INSN_IMM(in, 0));
	expect_zero_from(_metadata, in, 8);

	in = code_at(_metadata, self->kb, 2);
	EXPECT_EQ(0x05, INSN_OPCODE(in));
	EXPECT_EQ(6, INSN_R(in, 0));
	EXPECT_EQ(7, INSN_R(in, 1));
	EXPECT_EQ(12345, INSN_IMM(in, 0));
	EXPECT_EQ(0, INSN_IMM(in, 1));
}

TEST_F(kb, nop_halt_encoding)
{
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_nop(self->kb));
	ASSERT_EQ(0, jalrt_kb_halt(self->kb));
	in = code_at(_metadata, self->kb, 0);
	EXPECT_EQ(0x00, INSN_OPCODE(in));
	expect_zero_from(_metadata, in, 1);
	in = code_at(_metadata, self->kb, 1);
	EXPECT_EQ(0x01, INSN_OPCODE(in));
	expect_zero_from(_metadata, in, 1);
}

TEST_F(kb, vector_encoding)
{
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_vadd(self->kb, 0, 1, 2, JALRT_DIM(1000)));
	ASSERT_EQ(0, jalrt_kb_vmul_strided(self->kb, 3, 4, 5, JALRT_DIM_REG(9), 2, 0, 3));
	ASSERT_EQ(0, jalrt_kb_vscale(self->kb, 6, 7, 2.5f, JALRT_DIM(16)));
	ASSERT_EQ(0, jalrt_kb_vscale_strided(self->kb, 8, 8, -1.0f, JALRT_DIM_REG(31), 4, 4));

	in = code_at(_metadata, self->kb, 0);
	EXPECT_EQ(0x10, INSN_OPCODE(in));
	EXPECT_EQ(0, INSN_DTYPE(in));
	EXPECT_EQ(0, INSN_FLAGS(in));
	EXPECT_EQ(0, INSN_R(in, 0));
	EXPECT_EQ(1, INSN_R(in, 1));
	EXPECT_EQ(2, INSN_R(in, 2));
	EXPECT_EQ(1000, INSN_DIM(in, 0));
	EXPECT_EQ(0, INSN_DIM(in, 1));
	EXPECT_EQ(1, INSN_STRIDE(in, 0));
	EXPECT_EQ(1, INSN_STRIDE(in, 1));
	EXPECT_EQ(1, INSN_STRIDE(in, 2));
	EXPECT_EQ(0, INSN_STRIDE(in, 3));
	EXPECT_EQ(0, INSN_IMM(in, 0));

	in = code_at(_metadata, self->kb, 1);
	EXPECT_EQ(0x11, INSN_OPCODE(in));
	EXPECT_EQ(JAL_INSN_F_DIM_REG(0), INSN_FLAGS(in));
	EXPECT_EQ(1, INSN_FLAGS(in));
	EXPECT_EQ(9, INSN_DIM(in, 0));
	EXPECT_EQ(3, INSN_R(in, 0));
	EXPECT_EQ(4, INSN_R(in, 1));
	EXPECT_EQ(5, INSN_R(in, 2));
	EXPECT_EQ(2, INSN_STRIDE(in, 0));
	EXPECT_EQ(0, INSN_STRIDE(in, 1));
	EXPECT_EQ(3, INSN_STRIDE(in, 2));

	in = code_at(_metadata, self->kb, 2);
	EXPECT_EQ(0x12, INSN_OPCODE(in));
	EXPECT_EQ(6, INSN_R(in, 0));
	EXPECT_EQ(7, INSN_R(in, 1));
	EXPECT_EQ(0, INSN_R(in, 2));
	EXPECT_EQ(16, INSN_DIM(in, 0));
	EXPECT_EQ(0x40200000u, INSN_IMM(in, 0));	/* 2.5f */
	EXPECT_EQ(1, INSN_STRIDE(in, 0));
	EXPECT_EQ(1, INSN_STRIDE(in, 1));
	EXPECT_EQ(0, INSN_STRIDE(in, 2));

	in = code_at(_metadata, self->kb, 3);
	EXPECT_EQ(0xbf800000u, INSN_IMM(in, 0));	/* -1.0f */
	EXPECT_EQ(1, INSN_FLAGS(in));
	EXPECT_EQ(31, INSN_DIM(in, 0));
	EXPECT_EQ(4, INSN_STRIDE(in, 0));
	EXPECT_EQ(4, INSN_STRIDE(in, 1));
}

TEST_F(kb, matvec_encoding)
{
	const struct jal_insn *in;

	ASSERT_EQ(0, jalrt_kb_matvec(self->kb, 0, 1, 2, JALRT_DIM(64), JALRT_DIM(128)));
	ASSERT_EQ(0, jalrt_kb_matvec_strided(self->kb, 3, 4, 5, JALRT_DIM_REG(6),
					     JALRT_DIM_REG(7), 2, 256, 3));
	ASSERT_EQ(0, jalrt_kb_matvec_strided(self->kb, 3, 4, 5, JALRT_DIM(8), JALRT_DIM_REG(7),
					     1, 0, 1));

	in = code_at(_metadata, self->kb, 0);
	EXPECT_EQ(0x20, INSN_OPCODE(in));
	EXPECT_EQ(0, INSN_FLAGS(in));
	EXPECT_EQ(0, INSN_R(in, 0));
	EXPECT_EQ(1, INSN_R(in, 1));
	EXPECT_EQ(2, INSN_R(in, 2));
	EXPECT_EQ(64, INSN_DIM(in, 0));
	EXPECT_EQ(128, INSN_DIM(in, 1));
	EXPECT_EQ(1, INSN_STRIDE(in, 0));
	EXPECT_EQ(0, INSN_STRIDE(in, 1));	/* packed rows */
	EXPECT_EQ(1, INSN_STRIDE(in, 2));

	in = code_at(_metadata, self->kb, 1);
	EXPECT_EQ(3, INSN_FLAGS(in));
	EXPECT_EQ(6, INSN_DIM(in, 0));
	EXPECT_EQ(7, INSN_DIM(in, 1));
	EXPECT_EQ(2, INSN_STRIDE(in, 0));
	EXPECT_EQ(256, INSN_STRIDE(in, 1));
	EXPECT_EQ(3, INSN_STRIDE(in, 2));

	in = code_at(_metadata, self->kb, 2);
	EXPECT_EQ(2, INSN_FLAGS(in));
	EXPECT_EQ(8, INSN_DIM(in, 0));
}

TEST_F(kb, labels_forward_and_backward)
{
	uint32_t loop, done, end;
	const struct jal_insn *code;
	uint32_t count;

	ASSERT_EQ(0, jalrt_kb_new_label(self->kb, &loop));
	ASSERT_EQ(0, jalrt_kb_new_label(self->kb, &done));
	ASSERT_EQ(0, jalrt_kb_new_label(self->kb, &end));
	EXPECT_NE(loop, done);
	ASSERT_EQ(0, jalrt_kb_li(self->kb, 4, 0));		/* 0 */
	ASSERT_EQ(0, jalrt_kb_bind(self->kb, loop));		/* -> 1 */
	ASSERT_EQ(0, jalrt_kb_bltu(self->kb, 3, 4, done));	/* 1 */
	ASSERT_EQ(0, jalrt_kb_addi(self->kb, 4, 4, 1));		/* 2 */
	ASSERT_EQ(0, jalrt_kb_bne(self->kb, 4, 3, loop));	/* 3 */
	ASSERT_EQ(0, jalrt_kb_bind(self->kb, done));		/* -> 4 */
	ASSERT_EQ(0, jalrt_kb_jump(self->kb, end));		/* 4 */
	ASSERT_EQ(0, jalrt_kb_nop(self->kb));			/* 5 */
	ASSERT_EQ(0, jalrt_kb_bind(self->kb, end));		/* -> 6 == end: halt */

	ASSERT_EQ(0, jalrt_kb_code(self->kb, &code, &count)) TH_LOG("%s",
		  jalrt_last_error_message());
	ASSERT_EQ(6, count);
	EXPECT_EQ(0x0a, INSN_OPCODE(&code[1]));
	EXPECT_EQ(3, INSN_R(&code[1], 1));
	EXPECT_EQ(4, INSN_R(&code[1], 2));
	EXPECT_EQ(0, INSN_R(&code[1], 0));
	EXPECT_EQ(4, INSN_IMM(&code[1], 2));
	EXPECT_EQ(0, INSN_IMM(&code[1], 0));
	EXPECT_EQ(0x09, INSN_OPCODE(&code[3]));
	EXPECT_EQ(4, INSN_R(&code[3], 1));
	EXPECT_EQ(3, INSN_R(&code[3], 2));
	EXPECT_EQ(1, INSN_IMM(&code[3], 2));
	EXPECT_EQ(0x08, INSN_OPCODE(&code[4]));
	EXPECT_EQ(6, INSN_IMM(&code[4], 2));
	EXPECT_EQ(0, INSN_R(&code[4], 1));

	/* Linking again (after more code) re-resolves consistently. */
	ASSERT_EQ(0, jalrt_kb_halt(self->kb));
	ASSERT_EQ(0, jalrt_kb_code(self->kb, &code, &count));
	EXPECT_EQ(6, INSN_IMM(&code[4], 2));
}

TEST_F(kb, label_errors)
{
	const struct jal_insn *code;
	uint32_t l, count;

	ASSERT_EQ(0, jalrt_kb_new_label(self->kb, &l));
	ASSERT_EQ(0, jalrt_kb_jump(self->kb, l));
	EXPECT_EQ(-EINVAL, jalrt_kb_code(self->kb, &code, &count));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "never bound"))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_kb_bind(self->kb, l));
	EXPECT_EQ(0, jalrt_kb_code(self->kb, &code, &count));
	EXPECT_EQ(1, INSN_IMM(&code[0], 2));

	/* binding twice and unknown labels are errors, and sticky */
	EXPECT_EQ(-EINVAL, jalrt_kb_bind(self->kb, l));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "already bound"));
	EXPECT_EQ(-EINVAL, jalrt_kb_code(self->kb, &code, &count));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "already bound"));
}

TEST(unknown_label)
{
	struct jalrt_kernel_builder *kb;

	ASSERT_EQ(0, jalrt_kb_create(0, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_jump(kb, 0));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "label 0"));
	EXPECT_EQ(-EINVAL, jalrt_kb_bind(kb, 7));
	EXPECT_EQ(0, jalrt_kb_count(kb));
	jalrt_kb_destroy(kb);
}

TEST_F(kb, register_range)
{
	EXPECT_EQ(-EINVAL, jalrt_kb_li(self->kb, 32, 0));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "register 32"))
		TH_LOG("%s", jalrt_last_error_message());
	/* would wrap to r0 if narrowed to u8 before checking */
	EXPECT_EQ(-EINVAL, jalrt_kb_add(self->kb, 0, 256, 1));
	EXPECT_EQ(-EINVAL, jalrt_kb_vadd(self->kb, 0, 1, 99, JALRT_DIM(4)));
	EXPECT_EQ(-EINVAL, jalrt_kb_bne(self->kb, 40, 1, 0));
	EXPECT_EQ(-EINVAL, jalrt_kb_vadd(self->kb, 0, 1, 2, JALRT_DIM_REG(32)));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "register 32"));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec(self->kb, 0, 1, 2, JALRT_DIM(4), JALRT_DIM_REG(33)));
	EXPECT_EQ(0, jalrt_kb_count(self->kb));
	EXPECT_EQ(0, jalrt_kb_li(self->kb, 31, 0));
}

static struct jal_insn raw(unsigned int opcode)
{
	struct jal_insn in;

	memset(&in, 0, sizeof(in));
	in.opcode = (uint8_t)opcode;
	return in;
}

TEST_F(kb, raw_emit_validation)
{
	struct jal_insn in;

	in = raw(JAL_OP_VADD);
	in.dim[0] = 4;
	in.r[2] = 3;
	EXPECT_EQ(0, jalrt_kb_emit(self->kb, &in));

	in = raw(0x7f);
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "unknown opcode"));

	in = raw(JAL_OP_NOP);
	in.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "reserved"));

	in = raw(JAL_OP_VADD);
	in.dtype = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "dtype"));

	in = raw(JAL_OP_VADD);
	in.flags = 0x10;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "flag"));

	/* DIM_REG on a dimension the opcode does not have */
	in = raw(JAL_OP_LI);
	in.flags = JAL_INSN_F_DIM_REG(0);
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	in = raw(JAL_OP_VADD);
	in.flags = JAL_INSN_F_DIM_REG(1);
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	in = raw(JAL_OP_MATVEC);
	in.flags = JAL_INSN_F_DIM_REG(2);
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));

	in = raw(JAL_OP_ADD);
	in.r[3] = 32;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "r[3]"));

	in = raw(JAL_OP_VADD);
	in.flags = JAL_INSN_F_DIM_REG(0);
	in.dim[0] = 32;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));

	/* fields an opcode does not use must be zero, as on the chip */
	in = raw(JAL_OP_LI);
	in.imm[2] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "imm[2] is not used by LI"))
		TH_LOG("%s", jalrt_last_error_message());
	in = raw(JAL_OP_VSCALE);
	in.stride[2] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "stride[2]"));
	in = raw(JAL_OP_JUMP);
	in.r[0] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	in = raw(JAL_OP_VADD);
	in.dim[1] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "dim[1]"));
	in = raw(JAL_OP_VADD);
	in.imm[0] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));
	in = raw(JAL_OP_HALT);
	in.stride[3] = 1;
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(self->kb, &in));

	EXPECT_EQ(1, jalrt_kb_count(self->kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_error(self->kb));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "unknown opcode"))
		TH_LOG("first error must be kept: %s", jalrt_last_error_message());
}

TEST(operand_extent_limits)
{
	struct jalrt_kernel_builder *kb;
	const uint32_t max_elems = 1u << 26;	/* 256 MiB of f32 */

	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	EXPECT_EQ(0, jalrt_kb_vadd(kb, 0, 1, 2, JALRT_DIM(max_elems)));
	EXPECT_EQ(-EINVAL, jalrt_kb_vadd(kb, 0, 1, 2, JALRT_DIM(max_elems + 1)));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "256 MiB"));
	/* stride 2 halves the count that fits; stride 0 broadcasts */
	EXPECT_EQ(-EINVAL, jalrt_kb_vadd_strided(kb, 0, 1, 2, JALRT_DIM(max_elems), 1, 2, 1));
	EXPECT_EQ(0, jalrt_kb_vadd_strided(kb, 0, 1, 2, JALRT_DIM(max_elems / 2), 1, 2, 1));
	EXPECT_EQ(0, jalrt_kb_vscale_strided(kb, 0, 1, 1.0f, JALRT_DIM(0xffffffffu), 0, 0));
	EXPECT_EQ(-EINVAL, jalrt_kb_vscale_strided(kb, 0, 1, 1.0f, JALRT_DIM(0xffffffffu), 0, 1));
	/* huge stride with n = 1 is one element; n = 0 is a no-op */
	EXPECT_EQ(0, jalrt_kb_vadd_strided(kb, 0, 1, 2, JALRT_DIM(1), 0xffffffffu, 1, 1));
	EXPECT_EQ(0, jalrt_kb_vadd_strided(kb, 0, 1, 2, JALRT_DIM(0), 0xffffffffu, 1, 1));
	/* counts from registers are checked by the chip at run time */
	EXPECT_EQ(0, jalrt_kb_vadd_strided(kb, 0, 1, 2, JALRT_DIM_REG(5), 0xffffffffu, 1, 1));

	/* matvec: matrix span, row pitch */
	EXPECT_EQ(0, jalrt_kb_matvec(kb, 0, 1, 2, JALRT_DIM(4096), JALRT_DIM(16384)));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec(kb, 0, 1, 2, JALRT_DIM(4097), JALRT_DIM(16384)));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "matrix"));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_strided(kb, 0, 1, 2, JALRT_DIM(4), JALRT_DIM(16), 1,
						    15, 1));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "row pitch"));
	EXPECT_EQ(0, jalrt_kb_matvec_strided(kb, 0, 1, 2, JALRT_DIM(4), JALRT_DIM(16), 1, 16, 1));
	EXPECT_EQ(0, jalrt_kb_matvec_strided(kb, 0, 1, 2, JALRT_DIM(4), JALRT_DIM(16), 1, 17, 1));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_strided(kb, 0, 1, 2, JALRT_DIM(4),
						    JALRT_DIM(max_elems + 1), 1, 0, 1));
	jalrt_kb_destroy(kb);
}

TEST(raw_branch_targets_checked_at_link)
{
	struct jalrt_kernel_builder *kb;
	const struct jal_insn *code;
	struct jal_insn in;
	uint32_t count;

	ASSERT_EQ(0, jalrt_kb_create(0, &kb));
	in = raw(JAL_OP_JUMP);
	in.imm[2] = 2;		/* == count after the next emit: halts */
	ASSERT_EQ(0, jalrt_kb_emit(kb, &in));
	ASSERT_EQ(0, jalrt_kb_nop(kb));
	EXPECT_EQ(0, jalrt_kb_code(kb, &code, &count));
	EXPECT_EQ(2, count);
	in.imm[2] = 4;
	ASSERT_EQ(0, jalrt_kb_emit(kb, &in));
	EXPECT_EQ(-EINVAL, jalrt_kb_code(kb, &code, &count));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "branch target 4"))
		TH_LOG("%s", jalrt_last_error_message());
	jalrt_kb_destroy(kb);
}

TEST(kernel_length_limit)
{
	struct jalrt_kernel_builder *kb;
	uint32_t i;

	ASSERT_EQ(0, jalrt_kb_create(0, &kb));
	for (i = 0; i < JALRT_KB_MAX_INSNS; i++)
		ASSERT_EQ(0, jalrt_kb_nop(kb));
	EXPECT_EQ(-E2BIG, jalrt_kb_nop(kb));
	EXPECT_EQ(JALRT_KB_MAX_INSNS, jalrt_kb_count(kb));
	jalrt_kb_destroy(kb);
}

TEST(builder_argument_checks)
{
	struct jalrt_kernel_builder *kb = (void *)1;
	const struct jal_insn *code;
	struct jal_insn in = raw(JAL_OP_NOP);
	uint32_t count, l;

	EXPECT_EQ(-EINVAL, jalrt_kb_create(JAL_MAX_ARGS + 1, &kb));
	EXPECT_EQ(NULL, kb);
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "17 arguments"));
	EXPECT_EQ(-EINVAL, jalrt_kb_create(0, NULL));
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(NULL, &in));
	EXPECT_EQ(-EINVAL, jalrt_kb_li(NULL, 0, 0));
	EXPECT_EQ(-EINVAL, jalrt_kb_halt(NULL));
	EXPECT_EQ(-EINVAL, jalrt_kb_vadd(NULL, 0, 1, 2, JALRT_DIM(1)));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec(NULL, 0, 1, 2, JALRT_DIM(1), JALRT_DIM(1)));
	EXPECT_EQ(-EINVAL, jalrt_kb_jump(NULL, 0));
	EXPECT_EQ(-EINVAL, jalrt_kb_new_label(NULL, &l));
	EXPECT_EQ(-EINVAL, jalrt_kb_code(NULL, &code, &count));
	EXPECT_EQ(-EINVAL, jalrt_kb_finalize(NULL, NULL, NULL));
	EXPECT_EQ(0, jalrt_kb_count(NULL));
	EXPECT_EQ(0, jalrt_kb_destroy(NULL));
	ASSERT_EQ(0, jalrt_kb_create(JAL_MAX_ARGS, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_emit(kb, NULL));
	EXPECT_EQ(0, jalrt_kb_error(kb));
	jalrt_kb_destroy(kb);
}

TEST(finalize_places_code_in_readonly_buffer)
{
	struct jalrt_kernel_builder *kb;
	struct jalrt_buffer_info info;
	struct jalrt_kernel *k = NULL;
	const struct jal_insn *code;
	struct jalrt_device *dev;
	struct fake_dev *fake;
	struct fake_bo *bo;
	uint32_t count;

	ASSERT_EQ(0, fake_open(&fake, &dev));
	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_finalize(kb, dev, &k));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "no instructions"));
	ASSERT_EQ(0, jalrt_kb_vadd(kb, 0, 1, 2, JALRT_DIM(8)));
	ASSERT_EQ(0, jalrt_kb_halt(kb));
	ASSERT_EQ(0, jalrt_kb_finalize(kb, dev, &k)) TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(3, jalrt_kernel_num_args(k));
	EXPECT_EQ(2, jalrt_kernel_num_insns(k));
	ASSERT_EQ(0, jalrt_buffer_query(jalrt_kernel_buffer(k), &info));
	EXPECT_EQ(128, info.size);
	EXPECT_EQ(JALRT_BUFFER_DEVICE_READONLY, info.flags);
	bo = fake_bo_by_va(fake, info.va, NULL);
	ASSERT_NE(NULL, bo);
	EXPECT_EQ(DRM_JALAPENO_BO_DEVICE_READONLY, bo->flags);
	ASSERT_EQ(0, jalrt_kb_code(kb, &code, &count));
	EXPECT_EQ(0, memcmp(bo->mem, code, 128));

	jalrt_kernel_destroy(k);
	EXPECT_EQ(0, fake_live_bos(fake));

	/* a builder with an error never reaches the device */
	EXPECT_EQ(-EINVAL, jalrt_kb_li(kb, 77, 0));
	EXPECT_EQ(-EINVAL, jalrt_kb_finalize(kb, dev, &k));
	EXPECT_EQ(NULL, k);

	jalrt_kb_destroy(kb);
	jalrt_device_close(dev);
	fake_free(fake);
}

TEST(kernel_create_validates_raw_code)
{
	struct jalrt_kernel *k = NULL;
	struct jalrt_device *dev;
	struct fake_dev *fake;
	struct jal_insn code[2];

	ASSERT_EQ(0, fake_open(&fake, &dev));
	code[0] = raw(JAL_OP_BNE);
	code[0].imm[2] = 3;
	code[1] = raw(JAL_OP_HALT);
	EXPECT_EQ(-EINVAL, jalrt_kernel_create(dev, code, 2, 0, &k));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "instruction 0"));
	code[0].imm[2] = 2;
	EXPECT_EQ(-EINVAL, jalrt_kernel_create(dev, code, 2, 17, &k));
	EXPECT_EQ(-EINVAL, jalrt_kernel_create(dev, code, 0, 0, &k));
	EXPECT_EQ(-E2BIG, jalrt_kernel_create(dev, code, JALRT_KB_MAX_INSNS + 1, 0, &k));
	ASSERT_EQ(0, jalrt_kernel_create(dev, code, 2, 0, &k));
	EXPECT_EQ(2, jalrt_kernel_num_insns(k));
	EXPECT_EQ(1, fake_live_bos(fake));
	jalrt_kernel_destroy(k);
	EXPECT_EQ(0, fake_live_bos(fake));
	jalrt_device_close(dev);
	fake_free(fake);
}

TEST_HARNESS_MAIN
