// SPDX-License-Identifier: MIT
/*
 * Compute unit: every f32 op against a host reference over odd sizes and
 * strides (including broadcast and overlapping operands), DIM_REG, scalar
 * ops and branches, the step-limit watchdog, instruction validation (each
 * field), dispatch parameters and operand faults.
 *
 * The reference runs over a host copy of the whole data region ("before")
 * and produces the whole expected region ("after"), reading only "before":
 * that is the "all inputs are read before any output is written" rule, and
 * comparing the whole region also proves nothing else was written.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"

#define REGION		(8 * MiB)
#define WINDOW		((REGION / 3) & ~4095ull)

FIXTURE(exec) {
	struct fake *f;
	uint8_t *before;
	uint8_t *after;
	uint8_t *got;
};

static float rnd_float(struct fake *f)
{
	return (float)(int32_t)(rnd(f) >> 32) / (float)(1 << 29);
}

static void randomize(struct fake *f, uint8_t *buf, uint64_t len)
{
	uint64_t i;

	for (i = 0; i + 4 <= len; i += 4) {
		float v = rnd_float(f);

		memcpy(buf + i, &v, 4);
	}
}

static void set_step_limit(struct fake *f, uint64_t limit)
{
	wr(f, JAL_REG_STEP_LIMIT_LO, (uint32_t)limit);
	wr(f, JAL_REG_STEP_LIMIT_HI, (uint32_t)(limit >> 32));
}

FIXTURE_SETUP(exec)
{
	struct fake *f = fake_new(512 * MiB);

	self->f = f;
	fake_default(f);
	map_range(f, CTX, DATA_VA, REGION, RW, true);
	self->before = malloc(REGION);
	self->after = malloc(REGION);
	self->got = malloc(REGION);
	randomize(f, self->before, REGION);
	host_write(f, CTX, DATA_VA, self->before, REGION);
	/* Keep kernels short unless a test wants otherwise. */
	set_step_limit(f, 1u << 24);
}

FIXTURE_TEARDOWN(exec)
{
	free(self->before);
	free(self->after);
	free(self->got);
	fake_free(self->f);
}

static float ldf(const uint8_t *base, uint64_t off)
{
	float v;

	memcpy(&v, base + off, 4);
	return v;
}

static void stf(uint8_t *base, uint64_t off, float v)
{
	memcpy(base + off, &v, 4);
}

/* One element-wise instruction; offsets are bytes from DATA_VA. */
struct vcase {
	uint8_t op;
	uint32_t n, sd, sa, sb;
	uint64_t od, oa, ob;
	float s;
};

static void ref_vop(const uint8_t *before, uint8_t *after,
		    const struct vcase *c)
{
	uint64_t i;

	for (i = 0; i < c->n; i++) {
		float a = ldf(before, c->oa + i * c->sa * 4), r;
		float b = c->op == JAL_OP_VSCALE ? 0 :
			  ldf(before, c->ob + i * c->sb * 4);

		if (c->op == JAL_OP_VADD)
			r = a + b;
		else if (c->op == JAL_OP_VMUL)
			r = a * b;
		else
			r = a * c->s;
		stf(after, c->od + i * c->sd * 4, r);
	}
}

/* Snapshot the region, run @code with @args, expect OK and @after. */
static void run_and_compare(struct __test_metadata *_metadata,
			    FIXTURE_DATA(exec) *self, const struct jal_insn *code,
			    uint32_t count, const uint64_t *args, uint32_t nargs)
{
	struct result r;

	r = run_kernel(self->f, code, count, args, nargs);
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	host_read(self->f, CTX, DATA_VA, self->got, REGION);
	ASSERT_EQ(0, memcmp(self->after, self->got, REGION));
}

static void check_vcase(struct __test_metadata *_metadata,
			FIXTURE_DATA(exec) *self, const struct vcase *c)
{
	uint64_t args[3] = { DATA_VA + c->od, DATA_VA + c->oa, DATA_VA + c->ob };
	struct jal_insn in;

	host_read(self->f, CTX, DATA_VA, self->before, REGION);
	memcpy(self->after, self->before, REGION);
	ref_vop(self->before, self->after, c);
	if (c->op == JAL_OP_VSCALE)
		in = i_vscale(0, 1, c->n, c->sd, c->sa, c->s);
	else
		in = i_vop(c->op, 0, 1, 2, c->n, c->sd, c->sa, c->sb);
	run_and_compare(_metadata, self, &in, 1, args, 3);
}

static uint64_t extent(uint64_t n, uint64_t stride)
{
	return n ? ((n - 1) * stride + 1) * 4 : 0;
}

TEST_F_TIMEOUT(exec, elementwise_ops_match_the_reference, 120)
{
	static const uint8_t ops[] = { JAL_OP_VADD, JAL_OP_VMUL, JAL_OP_VSCALE };
	static const uint32_t sizes[] = {
		1, 3, 7, 8, 9, 31, 1000, 16383, 16384, 16385, 40001,
	};
	static const uint32_t strides[][3] = {
		{ 1, 1, 1 }, { 2, 3, 1 }, { 1, 0, 2 }, { 3, 1, 0 },
		{ 5, 7, 11 }, { 1, 1024, 1 }, { 1025, 1, 1100 }, { 2, 2, 2 },
	};
	unsigned int o, n, s, cases = 0;

	for (o = 0; o < 3; o++) {
		for (n = 0; n < ARRAY_SIZE(sizes); n++) {
			for (s = 0; s < ARRAY_SIZE(strides); s++) {
				struct vcase c = {
					.op = ops[o], .n = sizes[n],
					.sd = strides[s][0], .sa = strides[s][1],
					.sb = strides[s][2],
					.od = 0x104, .oa = WINDOW + 0x208,
					.ob = 2 * WINDOW + 0x30c, .s = -1.75f,
				};

				if (extent(c.n, c.sd) > WINDOW - 0x400 ||
				    extent(c.n, c.sa) > WINDOW - 0x400 ||
				    extent(c.n, c.sb) > WINDOW - 0x400)
					continue;
				if (c.op == JAL_OP_VSCALE)
					c.sb = 0;
				check_vcase(_metadata, self, &c);
				cases++;
			}
		}
	}
	TH_LOG("%u cases", cases);
}

TEST_F(exec, overlapping_operands_read_inputs_first)
{
	static const struct vcase cases[] = {
		/* In place, same layout: streamed. */
		{ JAL_OP_VADD, 40001, 1, 1, 1, 0, 0, 400000 },
		{ JAL_OP_VMUL, 20000, 3, 3, 1, 8, 8, 8 },
		/* Shifted by one element either way: staged. */
		{ JAL_OP_VADD, 40001, 1, 1, 1, 4, 0, 400000 },
		{ JAL_OP_VADD, 40001, 1, 1, 1, 0, 4, 400000 },
		{ JAL_OP_VSCALE, 50000, 1, 1, 0, 4000, 0, 0, 3.0f },
		/* Different strides over the same bytes. */
		{ JAL_OP_VMUL, 30000, 2, 1, 3, 0, 0, 0 },
		{ JAL_OP_VMUL, 30000, 1, 2, 1, 0, 0, 40 },
		/* A broadcast input inside the output. */
		{ JAL_OP_VADD, 40000, 1, 1, 0, 0, 800000, 4 * 20000 },
		/* Output stride 0: the last element wins. */
		{ JAL_OP_VADD, 40000, 0, 1, 1, 4 * 39999, 0, 400000 },
		{ JAL_OP_VSCALE, 100, 0, 1, 0, 0, 0, 0, 2.0f },
		/* Small overlaps fit one chunk. */
		{ JAL_OP_VADD, 100, 1, 1, 1, 4, 0, 8 },
		{ JAL_OP_VSCALE, 1000, 1, 2, 0, 0, 4, 0, 0.5f },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		check_vcase(_metadata, self, &cases[i]);
		if (_metadata->exit_code) {
			TH_LOG("case %u", i);
			return;
		}
	}
}

TEST_F(exec, zero_length_vector_ops_touch_nothing)
{
	struct jal_insn code[4];
	uint64_t args[2] = { 2, 0x7ffffffff0ull };	/* misaligned, unmapped */

	code[0] = i_vop(JAL_OP_VADD, 0, 1, 1, 0, 1, 1, 1);
	code[1] = i_vscale(1, 0, 0, 7, 7, 1.0f);
	code[2] = i_matvec(0, 1, 0, 0, 100, 1, 0, 1);
	code[3] = i_vop(JAL_OP_VMUL, 1, 1, 1, 0, 0, 0, 0);
	memcpy(self->after, self->before, REGION);
	run_and_compare(_metadata, self, code, 4, args, 2);
}

/* d[m] = sum_k W[m][k] * x[k], in the documented order. */
struct mcase {
	uint32_t rows, cols, sd, pitch, sx;
	uint64_t od, ow, ox;
};

static void ref_matvec(const uint8_t *before, uint8_t *after,
		       const struct mcase *c)
{
	uint64_t pitch = c->pitch ? c->pitch : c->cols, m;
	float *x = malloc(c->cols * 4 + 4);
	uint64_t k;

	for (k = 0; k < c->cols; k++)
		x[k] = ldf(before, c->ox + k * c->sx * 4);
	for (m = 0; m < c->rows; m++) {
		const float *w = (const float *)(before + c->ow + m * pitch * 4);

		stf(after, c->od + m * c->sd * 4, ref_dot(w, x, c->cols, 1));
	}
	free(x);
}

static void check_mcase(struct __test_metadata *_metadata,
			FIXTURE_DATA(exec) *self, const struct mcase *c)
{
	uint64_t args[3] = { DATA_VA + c->od, DATA_VA + c->ow, DATA_VA + c->ox };
	struct jal_insn in = i_matvec(0, 1, 2, c->rows, c->cols, c->sd,
				      c->pitch, c->sx);

	host_read(self->f, CTX, DATA_VA, self->before, REGION);
	memcpy(self->after, self->before, REGION);
	ref_matvec(self->before, self->after, c);
	run_and_compare(_metadata, self, &in, 1, args, 3);
}

TEST_F_TIMEOUT(exec, matvec_matches_the_reference, 120)
{
	static const struct mcase cases[] = {
		{ 1, 1, 1, 0, 1 }, { 3, 5, 1, 0, 1 }, { 17, 33, 1, 0, 1 },
		{ 64, 4096, 1, 0, 1 }, { 5, 70001, 1, 0, 1 },
		{ 20000, 3, 1, 0, 1 }, { 100, 100, 1, 130, 1 },
		{ 7, 9, 3, 0, 2 }, { 40, 5000, 1, 0, 0 }, { 9, 20000, 2, 20001, 3 },
		{ 3, 8200, 0, 0, 1 }, { 2000, 7, 1, 7, 1100 },
		{ 1, 16385, 1, 0, 1 }, { 16385, 1, 1, 1, 1 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct mcase c = cases[i];

		c.od = 0x40;
		c.ox = WINDOW + 0x80;
		c.ow = 2 * WINDOW + 0xc4;
		check_mcase(_metadata, self, &c);
		if (_metadata->exit_code) {
			TH_LOG("case %u", i);
			return;
		}
	}
}

TEST_F(exec, matvec_overlaps_zero_columns_and_precision)
{
	static const struct mcase cases[] = {
		{ 64, 64, 1, 0, 1, 0, 100000, 0 },	/* d is x */
		{ 50, 50, 1, 0, 1, 4, 100000, 0 },	/* d overlaps x */
		{ 20000, 3, 1, 0, 1, 8, 8, 900000 },	/* d is W, > 1 chunk */
		{ 30, 0, 1, 0, 1, 0, 0, 0 },		/* no columns: zeros */
		{ 30, 0, 0, 0, 1, 8, 8, 8 },
	};
	struct fake *f = self->f;
	uint64_t args[3] = { DATA_VA, DATA_VA + 1000000, DATA_VA + 2000000 };
	struct jal_insn in;
	unsigned int i, k, m;
	float got[37];

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		check_mcase(_metadata, self, &cases[i]);
		if (_metadata->exit_code) {
			TH_LOG("case %u", i);
			return;
		}
	}
	/* Against a double-precision sum: f32 accumulation is close. */
	host_read(f, CTX, DATA_VA + 1000000, self->before, 37 * 1500 * 4);
	in = i_matvec(0, 1, 2, 37, 1500, 1, 0, 1);
	ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, &in, 1, args, 3).status);
	host_read(f, CTX, DATA_VA, got, sizeof(got));
	for (m = 0; m < 37; m++) {
		double sum = 0, mag = 0;

		for (k = 0; k < 1500; k++) {
			float x;

			host_read(f, CTX, args[2] + k * 4, &x, 4);
			sum += (double)ldf(self->before, (m * 1500 + k) * 4) * x;
			mag += fabs((double)ldf(self->before, (m * 1500 + k) * 4) * x);
		}
		EXPECT_LE(fabs(got[m] - sum), mag * 1e-5 + 1e-6);
	}
}

TEST_F(exec, dims_from_registers)
{
	struct fake *f = self->f;
	struct jal_insn code[6];
	uint64_t args[4] = { DATA_VA, DATA_VA + 400000, DATA_VA + 800000 };
	struct vcase v = { JAL_OP_VADD, 1234, 1, 1, 1, 0, 400000, 800000 };
	struct mcase m = { 13, 77, 1, 0, 1, 200000, 400000, 800000 };
	struct result r;

	host_read(f, CTX, DATA_VA, self->before, REGION);
	memcpy(self->after, self->before, REGION);
	ref_vop(self->before, self->after, &v);
	memcpy(self->before, self->after, REGION);
	ref_matvec(self->before, self->after, &m);

	code[0] = i_li(7, 1234);
	code[1] = i_vop(JAL_OP_VADD, 0, 1, 2, 7, 1, 1, 1);
	code[1].flags = JAL_INSN_F_DIM_REG(0);
	code[2] = i_li(8, 13);
	code[3] = i_addi(9, 8, 64);
	code[4] = i_addi(0, 0, 200000);
	code[5] = i_matvec(0, 1, 2, 8, 9, 1, 0, 1);
	code[5].flags = JAL_INSN_F_DIM_REG(0) | JAL_INSN_F_DIM_REG(1);
	run_and_compare(_metadata, self, code, 6, args, 3);

	/* A register holding more than 32 bits is rejected when used. */
	code[0] = i_li(7, 1ull << 32);
	r = run_kernel(f, code, 2, args, 3);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, r.status);
	EXPECT_EQ(0, r.error_offset);
	code[0] = i_li(7, 0);		/* zero from a register: no-op */
	r = run_kernel(f, code, 2, args, 3);
	EXPECT_EQ(JAL_STATUS_OK, r.status);
}

TEST_F(exec, scalar_ops_and_branches)
{
	struct fake *f = self->f;
	uint64_t high = 0x4000000000ull - 0x10000, n = 700;
	uint64_t args[4] = { DATA_VA, DATA_VA + 400000, n, DATA_VA + 800000 };
	struct jal_insn code[20];
	float hv = 1.5f, got;
	struct vcase v = { JAL_OP_VADD, 700, 1, 1, 0, 0, 400000, 800000 };

	map_range(f, CTX, high, PAGE, RW, false);
	host_write(f, CTX, high + 12, &hv, 4);
	host_read(f, CTX, DATA_VA, self->before, REGION);
	memcpy(self->after, self->before, REGION);
	ref_vop(self->before, self->after, &v);

	code[0] = i_muli(4, 2, 4);			/* r4 = n * 4 */
	code[1] = i_add(4, 4, 0);			/* r4 = d end */
	code[2] = i_jump(4);
	code[3] = i_vop(JAL_OP_VADD, 9, 9, 9, 1, 1, 1, 1);	/* skipped */
	code[4] = i_vop(JAL_OP_VADD, 0, 1, 3, 1, 1, 1, 1);
	code[5] = i_addi(0, 0, 4);
	code[6] = i_addi(1, 1, 4);
	code[7] = i_bne(0, 4, 4);
	code[8] = i_li(10, high + 12);			/* needs imm[1] */
	code[9] = i_li(11, 0);
	code[10] = i_li(12, 3);
	code[11] = i_vscale(10, 10, 1, 1, 1, 2.0f);
	code[12] = i_addi(11, 11, 1);
	code[13] = i_bltu(11, 12, 11);
	code[14] = i_li(13, ~0ull);
	code[15] = i_addi(13, 13, 2);			/* wraps to 1 */
	code[16] = i_bltu(12, 13, 19);			/* 3 < 1: not taken */
	code[17] = i_bne(13, 11, 19);			/* 1 != 3: taken */
	code[18] = i_vop(JAL_OP_VADD, 9, 9, 9, 1, 1, 1, 1);	/* skipped */
	code[19] = i_op(JAL_OP_HALT);
	run_and_compare(_metadata, self, code, 20, args, 4);
	host_read(f, CTX, high + 12, &got, 4);
	EXPECT_EQ(12.0f, got);

	/* A branch to the end ends the kernel; so does running off it. */
	code[0] = i_jump(2);
	code[1] = i_vop(JAL_OP_VADD, 9, 9, 9, 1, 1, 1, 1);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 2, NULL, 0).status);
	code[0] = i_op(JAL_OP_NOP);
	code[1] = i_op(JAL_OP_NOP);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 2, NULL, 0).status);
	/* An empty kernel is fine too. */
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 0, NULL, 0).status);
	/* Registers start at zero: r9 = 0 is an unmapped null pointer. */
	code[0] = i_vop(JAL_OP_VADD, 9, 9, 9, 1, 1, 1, 1);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_kernel(f, code, 1, NULL, 0).status);
}

TEST_F(exec, arguments_land_in_registers)
{
	struct fake *f = self->f;
	uint64_t args[16], i;
	struct jal_insn code[2];
	float x = 5.0f, got;
	struct cmdbuf cb = { 0 };

	for (i = 0; i < 16; i++)
		args[i] = 0xbad0000000ull + i;
	args[14] = DATA_VA + 64;
	args[15] = DATA_VA + 128;
	host_write(f, CTX, DATA_VA + 64, &x, 4);
	code[0] = i_vscale(15, 14, 1, 1, 1, 3.0f);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 1, args, 16).status);
	host_read(f, CTX, DATA_VA + 128, &got, 4);
	EXPECT_EQ(15.0f, got);

	/* Two dispatches in one job each start from fresh registers. */
	code[0] = i_vscale(1, 0, 1, 1, 1, 2.0f);
	host_write(f, CTX, CODE_VA, code, sizeof(code[0]));
	host_write(f, CTX, ARGS_VA, (uint64_t[]){ DATA_VA + 64, DATA_VA + 256 }, 16);
	cb_dispatch(&cb, CODE_VA, 64, ARGS_VA, 16);
	cb_dispatch(&cb, CODE_VA, 64, ARGS_VA, 8);	/* r1 = 0 now */
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
	host_read(f, CTX, DATA_VA + 256, &got, 4);
	EXPECT_EQ(10.0f, got);
}

TEST_F(exec, bad_dispatch_parameters)
{
	static const struct { uint64_t code_va; uint32_t code_size, args_size; }
	cases[] = {
		{ CODE_VA + 4, 64, 0 }, { CODE_VA, 63, 0 }, { CODE_VA, 96, 0 },
		{ CODE_VA, JAL_MAX_CODE_SIZE + 64, 0 }, { CODE_VA, 64, 12 },
		{ CODE_VA, 64, 136 }, { CODE_VA, 64, 0xfffffff8 },
	};
	struct fake *f = self->f;
	struct jal_insn nop = i_op(JAL_OP_NOP);
	unsigned int i;

	host_write(f, CTX, CODE_VA, &nop, sizeof(nop));
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cmdbuf cb = { 0 };
		struct result r;

		cb_nop(&cb);
		cb_dispatch(&cb, cases[i].code_va, cases[i].code_size, ARGS_VA,
			    cases[i].args_size);
		r = run_cb(f, CTX, &cb);
		EXPECT_EQ(JAL_STATUS_BAD_CMD, r.status) {
			TH_LOG("case %u", i);
		}
		EXPECT_EQ(4, r.error_offset);
	}
}

TEST_F(exec, code_and_arguments_are_read_through_the_mmu)
{
	struct fake *f = self->f;
	struct jal_insn nop = i_op(JAL_OP_NOP);
	struct cmdbuf cb = { 0 };
	struct result r;

	cb_dispatch(&cb, CODE_VA + JAL_MAX_CODE_SIZE - 64, 128, ARGS_VA, 0);
	host_write(f, CTX, CODE_VA + JAL_MAX_CODE_SIZE - 64, &nop, sizeof(nop));
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(CODE_VA + JAL_MAX_CODE_SIZE, r.fault_addr);
	cb.len = 0;
	cb_dispatch(&cb, CODE_VA, 64, ARGS_VA + PAGE - 8, 16);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(ARGS_VA + PAGE, r.fault_addr);
	/* Code must be readable: a write-only page is a permission fault. */
	map_range(f, CTX, DATA_VA + REGION, PAGE, JAL_PTE_WRITE, false);
	cb.len = 0;
	cb_dispatch(&cb, DATA_VA + REGION, 64, ARGS_VA, 0);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	/* The largest kernel: 16384 instructions. */
	cb.len = 0;
	cb_dispatch(&cb, CODE_VA, JAL_MAX_CODE_SIZE, ARGS_VA, 0);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_OK, r.status);
}

TEST_F(exec, step_limit_stops_runaway_kernels)
{
	struct fake *f = self->f;
	struct jal_insn code[16];
	struct cmdbuf cb = { 0 };
	uint64_t args[3] = { DATA_VA, DATA_VA + 100000, DATA_VA + 200000 };
	struct result r;
	unsigned int i;

	code[0] = i_jump(0);
	set_step_limit(f, 1000000);
	r = run_kernel(f, code, 1, NULL, 0);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, r.status);
	EXPECT_EQ(0, r.error_offset);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, rd(f, JAL_REG_FAULT_REASON));

	/* One step per instruction... */
	for (i = 0; i < 10; i++)
		code[i] = i_op(JAL_OP_NOP);
	set_step_limit(f, 10);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 10, NULL, 0).status);
	set_step_limit(f, 9);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, run_kernel(f, code, 10, NULL, 0).status);
	/* ...plus one per 4096 elements... */
	code[0] = i_vop(JAL_OP_VADD, 0, 1, 2, 8192, 1, 1, 1);
	code[1] = i_op(JAL_OP_HALT);
	set_step_limit(f, 4);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 2, args, 3).status);
	set_step_limit(f, 3);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, run_kernel(f, code, 2, args, 3).status);
	code[0] = i_matvec(0, 1, 2, 64, 4096, 1, 0, 1);
	set_step_limit(f, 65);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 1, args, 3).status);
	set_step_limit(f, 64);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, run_kernel(f, code, 1, args, 3).status);
	/* ...counted over the whole job. */
	for (i = 0; i < 6; i++)
		code[i] = i_op(JAL_OP_NOP);
	host_write(f, CTX, CODE_VA, code, 6 * sizeof(code[0]));
	cb_nop(&cb);
	cb_dispatch(&cb, CODE_VA, 6 * 64, 0, 0);
	cb_dispatch(&cb, CODE_VA, 6 * 64, 0, 0);
	set_step_limit(f, 12);
	EXPECT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);
	set_step_limit(f, 11);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, r.status);
	EXPECT_EQ(36, r.error_offset);
	/* The default limit is large but finite. */
	set_step_limit(f, (uint32_t)JAL_STEP_LIMIT_DEFAULT);
	code[0] = i_jump(0);
	r = run_kernel(f, code, 1, NULL, 0);
	EXPECT_EQ(JAL_STATUS_STEP_LIMIT, r.status);
}

/* Instruction mutations that validation must reject. */
struct bad_insn {
	const char *what;
	struct jal_insn in;
};

static struct jal_insn vadd3(void)
{
	return i_vop(JAL_OP_VADD, 0, 1, 2, 16, 1, 1, 1);
}

TEST_F(exec, invalid_instructions_are_rejected_before_running)
{
	struct fake *f = self->f;
	struct bad_insn bad[64];
	struct jal_insn tail[2];
	unsigned int n = 0, i;
	uint64_t args[3] = { DATA_VA, DATA_VA + 100000, DATA_VA + 200000 };

#define BAD(desc, base, field, value) do { \
		bad[n].what = desc; \
		bad[n].in = base; \
		bad[n].in.field = value; \
		n++; \
	} while (0)
	BAD("opcode 0x06", vadd3(), opcode, 0x06);
	BAD("opcode 0x07", vadd3(), opcode, 0x07);
	BAD("opcode 0x0b (BEQ with VADD's fields)", vadd3(), opcode, 0x0b);
	BAD("opcode 0x13", vadd3(), opcode, 0x13);
	BAD("opcode 0x22", vadd3(), opcode, 0x22);
	BAD("opcode 0x38", vadd3(), opcode, 0x38);
	BAD("opcode 0xff", vadd3(), opcode, 0xff);
	BAD("dtype 1", vadd3(), dtype, 1);
	BAD("dtype 0xff", vadd3(), dtype, 0xff);
	BAD("dtype on NOP", i_op(JAL_OP_NOP), dtype, 1);
	BAD("flag bit 4", vadd3(), flags, 0x10);
	BAD("flag bit 15", vadd3(), flags, 0x8000);
	BAD("DIM_REG on unused dim 1", vadd3(), flags, JAL_INSN_F_DIM_REG(1));
	BAD("DIM_REG on unused dim 3", vadd3(), flags, JAL_INSN_F_DIM_REG(3));
	BAD("DIM_REG on LI", i_li(1, 0), flags, JAL_INSN_F_DIM_REG(0));
	BAD("reserved[0]", vadd3(), reserved[0], 1);
	BAD("reserved[1]", i_op(JAL_OP_HALT), reserved[1], 0x80000000);
	BAD("r[0] = 32", vadd3(), r[0], 32);
	BAD("r[1] = 255", vadd3(), r[1], 255);
	BAD("r[2] = 40", vadd3(), r[2], 40);
	BAD("LI r[0] = 32", i_li(0, 1), r[0], 32);
	BAD("unused r[3]", vadd3(), r[3], 1);
	BAD("unused r[0] of BNE", i_bne(1, 2, 0), r[0], 1);
	BAD("unused r[2] of VSCALE", i_vscale(0, 1, 4, 1, 1, 1.0f), r[2], 1);
	BAD("unused r[1] of LI", i_li(0, 1), r[1], 1);
	BAD("unused dim[1]", vadd3(), dim[1], 1);
	BAD("unused dim[2] of MATVEC", i_matvec(0, 1, 2, 2, 2, 1, 0, 1), dim[2], 1);
	BAD("unused dim[0] of ADD", i_add(1, 2, 3), dim[0], 1);
	BAD("unused stride[3]", vadd3(), stride[3], 1);
	BAD("unused stride[2] of VSCALE", i_vscale(0, 1, 4, 1, 1, 1.0f), stride[2], 1);
	BAD("unused stride[0] of JUMP", i_jump(0), stride[0], 1);
	BAD("unused imm[0] of VADD", vadd3(), imm[0], 1);
	BAD("unused imm[1] of VSCALE", i_vscale(0, 1, 4, 1, 1, 1.0f), imm[1], 1);
	BAD("unused imm[3] of JUMP", i_jump(0), imm[3], 1);
	BAD("unused imm[2] of LI", i_li(0, 1), imm[2], 1);
	BAD("unused imm[0] of BNE", i_bne(1, 2, 0), imm[0], 1);
	BAD("JUMP past the end", i_jump(0), imm[2], 4);
	BAD("BNE past the end", i_bne(1, 2, 0), imm[2], 0xffffffff);
	BAD("BLTU past the end", i_bltu(1, 2, 0), imm[2], 4);
	bad[n].what = "DIM_REG register 32";
	bad[n].in = vadd3();
	bad[n].in.flags = JAL_INSN_F_DIM_REG(0);
	bad[n++].in.dim[0] = 32;
#undef BAD

	for (i = 0; i < n; i++) {
		/* A valid store first: it must not run. */
		struct jal_insn code[3] = {
			i_vscale(0, 1, 4, 1, 1, 0.0f), bad[i].in, i_op(JAL_OP_HALT),
		};
		struct result r;

		host_read(f, CTX, DATA_VA, self->before, 64);
		r = run_kernel(f, code, 3, args, 3);
		EXPECT_EQ(JAL_STATUS_BAD_INSN, r.status) {
			TH_LOG("%s", bad[i].what);
		}
		EXPECT_EQ(0, r.error_offset);
		EXPECT_EQ(0, r.fault_addr);
		host_read(f, CTX, DATA_VA, self->got, 64);
		EXPECT_EQ(0, memcmp(self->before, self->got, 64)) {
			TH_LOG("%s: ran before validation finished", bad[i].what);
		}
	}
	EXPECT_EQ(JAL_STATUS_BAD_INSN, rd(f, JAL_REG_FAULT_REASON));
	/* Instructions after HALT are validated too. */
	tail[0] = i_op(JAL_OP_HALT);
	tail[1] = i_op(0x99);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, tail, 2, NULL, 0).status);
}

TEST_F(exec, invalid_operands_are_rejected_when_executed)
{
	struct fake *f = self->f;
	uint64_t base = 0x2000000000ull, far = base + 256 * MiB - 4;
	uint64_t args[4] = { DATA_VA, DATA_VA + 100000, DATA_VA + 2, base };
	struct jal_insn code[3];
	float one = 1.0f, got;
	struct result r;

	/* Misaligned input (r2), misaligned output. */
	code[0] = i_vop(JAL_OP_VADD, 0, 1, 2, 4, 1, 1, 1);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, r.status);
	code[0] = i_vop(JAL_OP_VADD, 2, 1, 1, 4, 1, 1, 1);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, code, 1, args, 3).status);
	code[0] = i_matvec(0, 2, 1, 4, 4, 1, 0, 1);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, code, 1, args, 3).status);

	/* Extents: exactly 256 MiB is fine, 4 bytes more is not. */
	map_range(f, CTX, base, PAGE, RW, false);
	map_range(f, CTX, far & ~(PAGE - 1), PAGE, RW, false);
	host_write(f, CTX, base, &one, 4);
	host_write(f, CTX, far, &one, 4);
	code[0] = i_vop(JAL_OP_VADD, 3, 3, 3, 2, (256 * MiB - 4) / 4,
			(256 * MiB - 4) / 4, (256 * MiB - 4) / 4);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 1, args, 4).status);
	host_read(f, CTX, far, &got, 4);
	EXPECT_EQ(2.0f, got);
	code[0].stride[1] += 1;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, code, 1, args, 4).status);
	code[0] = i_vop(JAL_OP_VADD, 0, 0, 0, 0x4000001, 1, 1, 1);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, code, 1, args, 4).status);
	code[0] = i_vop(JAL_OP_VMUL, 0, 0, 0, 0xffffffff, 0xffffffff, 0, 0);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, code, 1, args, 4).status);
	code[0] = i_matvec(0, 1, 2, 0x10000, 0x1000, 1, 0, 1);	/* W 256 MiB+ */
	args[2] = DATA_VA;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run_kernel(f, code, 1, args, 3).status);
	/* Row pitch below the column count. */
	code[0] = i_matvec(0, 1, 2, 4, 10, 1, 9, 1);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_BAD_INSN, r.status);
	code[0].stride[1] = 10;
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 1, args, 3).status);
	/* Output stride 0 with 2^32-1 broadcast elements: bounded work. */
	code[0] = i_vop(JAL_OP_VADD, 0, 0, 0, 0xffffffff, 0, 0, 0);
	set_step_limit(f, 0);
	EXPECT_EQ(JAL_STATUS_OK, run_kernel(f, code, 1, args, 3).status);
}

TEST_F(exec, operand_faults_name_the_first_bad_element)
{
	struct fake *f = self->f;
	uint64_t va = 0x3000000000ull;
	uint64_t args[3] = { DATA_VA, va, DATA_VA + 4 };
	struct jal_insn code[1];
	struct result r;

	map_range(f, CTX, va, 64 * PAGE, RW, false);
	*leaf_pte(f, CTX, va + 10 * PAGE) = 0;
	/* Contiguous: the page start. */
	code[0] = i_vop(JAL_OP_VADD, 0, 1, 1, 20000, 1, 1, 1);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(va + 10 * PAGE, r.fault_addr);
	/* Stride 3 elements (12 bytes): the first element in the page. */
	code[0] = i_vop(JAL_OP_VADD, 0, 1, 1, 5000, 1, 3, 3);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(va + 10 * PAGE + 8, r.fault_addr);
	EXPECT_EQ(JAL_FAULT_STATUS_VALID, rd(f, JAL_REG_FAULT_STATUS));
	/* A large stride reads element by element. */
	code[0] = i_vop(JAL_OP_VADD, 0, 1, 1, 40, 1, 1500, 1500);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(va + 7 * 6000, r.fault_addr);
	/* Writes: strided output, fault on the first element in the hole. */
	args[0] = va;
	args[1] = DATA_VA;
	code[0] = i_vscale(0, 1, 5000, 3, 1, 1.0f);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(va + 10 * PAGE + 8, r.fault_addr);
	/* Element 0 of MATVEC's W row 3 is in the hole. */
	args[0] = DATA_VA;
	args[1] = va + 10 * PAGE - 3 * 1024 * 4 - 16;
	args[2] = DATA_VA + 40000;
	code[0] = i_matvec(0, 1, 2, 8, 5, 1, 1024, 1);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(va + 10 * PAGE, r.fault_addr);
	/* Read-only output. */
	map_range(f, CTX, va + 100 * PAGE, PAGE, JAL_PTE_READ, false);
	args[0] = va + 100 * PAGE;
	code[0] = i_vscale(0, 2, 4, 1, 1, 1.0f);
	r = run_kernel(f, code, 1, args, 3);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	EXPECT_EQ(va + 100 * PAGE, r.fault_addr);
	EXPECT_EQ(JAL_FAULT_STATUS_VALID, rd(f, JAL_REG_FAULT_STATUS));
}

TEST_HARNESS_MAIN
