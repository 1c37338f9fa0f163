// SPDX-License-Identifier: MIT
/*
 * Garbage in, no crash: random descriptors, command streams, kernels and
 * register traffic. Every job must end with a defined status, the device
 * must keep working afterwards, and (under the harness's timeout) nothing
 * may hang. Run under -fsanitize=address,undefined as well.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "jal_test.h"

#define DATA_SIZE	(4 * MiB)
#define RO_VA		(DATA_VA + 8 * MiB)
/* Device memory: 2 MiB pages, then scattered 4 KiB pages. */
#define VRAM_VA		(DATA_VA + 16 * MiB)
#define VRAM_SIZE	(6 * MiB)
#define ITERATIONS	3000

FIXTURE(fuzz) {
	struct fake *f;
};

FIXTURE_SETUP(fuzz)
{
	struct fake *f = fake_new(256 * MiB);
	uint8_t *junk = malloc(MiB);
	uint64_t i;

	self->f = f;
	f->rng ^= (uint64_t)getpid() << 17;	/* TH_LOG prints the seed */
	fake_default(f);
	map_range(f, CTX, DATA_VA, DATA_SIZE, RW, true);
	map_range(f, CTX, RO_VA, MiB, JAL_PTE_READ, false);
	map_vram_huge(f, CTX, VRAM_VA, 0, 4 * MiB, RW);
	map_vram(f, CTX, VRAM_VA + 4 * MiB, 8 * MiB, 2 * MiB, RW, true);
	/* A device page outside device memory. */
	*leaf_pte(f, CTX, VRAM_VA + 5 * MiB) |= TEST_VRAM_SIZE;
	/* A hole in the middle of the data. */
	*leaf_pte(f, CTX, DATA_VA + MiB + 5 * PAGE) = 0;
	for (i = 0; i < MiB; i++)
		junk[i] = (uint8_t)rnd(f);
	host_write(f, CTX, CMDBUF_VA, junk, MiB);
	host_write(f, CTX, CODE_VA, junk, MiB);
	free(junk);
	wr(f, JAL_REG_STEP_LIMIT_LO, 20000);
	wr(f, JAL_REG_STEP_LIMIT_HI, 0);
}

FIXTURE_TEARDOWN(fuzz)
{
	fake_free(self->f);
}

static uint64_t pick(struct fake *f, const uint64_t *v, unsigned int n)
{
	return v[rnd(f) % n];
}

/* Mostly plausible device VAs, sometimes anything. */
static uint64_t fuzz_va(struct fake *f)
{
	switch (rnd(f) % 8) {
	case 0:
		return rnd(f);
	case 1:
		return rnd(f) & ((1ull << 39) - 1);
	case 2:
		return RO_VA + (rnd(f) % MiB);
	case 3:
		return (1ull << 39) - (rnd(f) % 64);
	case 4:
	case 5:
		return VRAM_VA + (rnd(f) % (VRAM_SIZE + 64 * 1024)) -
		       (rnd(f) % 2) * 4096;
	default:
		return DATA_VA + (rnd(f) % (DATA_SIZE + 64 * 1024)) -
		       (rnd(f) % 2) * 4096;
	}
}

static uint64_t fuzz_size(struct fake *f)
{
	switch (rnd(f) % 6) {
	case 0:
		return rnd(f);
	case 1:
		return rnd(f) % (8 * MiB);
	default:
		return rnd(f) % 70000;
	}
}

/* Wait for all queues; a queue that stopped on a ring error is reset. */
static void settle(struct __test_metadata *_metadata, struct fake *f)
{
	unsigned int q;

	for (q = 0; q < JAL_NUM_QUEUES; q++) {
		if (!wait_queue(f, q, 30000)) {
			ASSERT_NE(0, rd(f, JAL_REG_Q(q, JAL_Q_STATUS)) &
				     JAL_Q_STATUS_ERROR);
			queue_setup(f, q, RING_ENTRIES, q);
		}
	}
}

/* Every descriptor of the last @n submissions on @q got a real status. */
static void check_statuses(struct __test_metadata *_metadata, struct fake *f,
			   unsigned int q, const uint32_t *idx, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		ASSERT_LT(desc_at(f, q, idx[i])->status, JAL_STATUS_COUNT);
}

/*
 * After the storm: reset, then build a fresh context table, page tables
 * and rings (the fuzzing may have pointed the device's writes anywhere in
 * guest memory, the old ones included) and run one real job.
 */
static void expect_alive(struct __test_metadata *_metadata, struct fake *f)
{
	struct cmdbuf cb = { 0 };
	uint64_t v = 0;
	struct result r;
	unsigned int q;

	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
	memset(f->q, 0, sizeof(f->q));
	f->ctx_table = page_alloc(f, 1);
	wr(f, JAL_REG_CTX_TABLE_LO, (uint32_t)f->ctx_table);
	wr(f, JAL_REG_CTX_TABLE_HI, (uint32_t)(f->ctx_table >> 32));
	ctx_setup(f, CTX);
	map_range(f, CTX, CMDBUF_VA, PAGE, JAL_PTE_READ, false);
	map_range(f, CTX, DATA_VA, PAGE, RW, false);
	for (q = 0; q < JAL_NUM_QUEUES; q++)
		queue_setup(f, q, RING_ENTRIES, q);
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
	cb_write_value(&cb, DATA_VA + 8, 0xa11fe);
	r = run_cb(f, CTX, &cb);
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	host_read(f, CTX, DATA_VA + 8, &v, 8);
	EXPECT_EQ(0xa11fe, v);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
}

TEST_F_TIMEOUT(fuzz, random_descriptors, 300)
{
	static const uint64_t ctxs[] = { CTX, CTX, CTX, 0, 2, 63, 64, 0xffffffff };
	struct fake *f = self->f;
	uint32_t idx[16];
	unsigned int i, j, q;

	for (i = 0; i < ITERATIONS / 16; i++) {
		q = rnd(f) % JAL_NUM_QUEUES;
		for (j = 0; j < 16; j++) {
			struct jal_desc d = {
				.ctx_id = (uint32_t)pick(f, ctxs, 8),
				.flags = rnd(f) % 4 ? rnd(f) % 2 : (uint32_t)rnd(f),
				.seqno = rnd(f),
				.cmdbuf_va = rnd(f) % 4 ? CMDBUF_VA + (rnd(f) % MiB & ~7ull) :
							  fuzz_va(f),
				.cmdbuf_size = rnd(f) % 4 ? (rnd(f) % 4096) & ~3u :
							    (uint32_t)rnd(f),
				.reserved0 = rnd(f) % 16 ? 0 : (uint32_t)rnd(f),
				.status = (uint32_t)rnd(f),
			};

			if (!(rnd(f) % 16))
				d.reserved1[rnd(f) % 2] = rnd(f);
			idx[j] = push_desc(f, q, &d);
		}
		ring_doorbell(f, q);
		settle(_metadata, f);
		check_statuses(_metadata, f, q, idx, 16);
	}
	expect_alive(_metadata, f);
}

static void fuzz_command(struct fake *f, struct cmdbuf *cb)
{
	unsigned int op = rnd(f) % 16 ? rnd(f) % 6 : (uint8_t)rnd(f);
	unsigned int start = cb->len;

	switch (op) {
	case JAL_CMD_NOP:
		cb_nop(cb);
		break;
	case JAL_CMD_COPY:
		cb_copy(cb, fuzz_va(f), fuzz_va(f), fuzz_size(f));
		break;
	case JAL_CMD_FILL:
		cb_fill(cb, fuzz_va(f), (uint32_t)rnd(f), fuzz_size(f));
		break;
	case JAL_CMD_DISPATCH:
		cb_dispatch(cb, rnd(f) % 8 ? CODE_VA + (rnd(f) % 64) * 64 :
			    fuzz_va(f),
			    rnd(f) % 8 ? (rnd(f) % 64) * 64 : (uint32_t)rnd(f),
			    rnd(f) % 8 ? ARGS_VA : fuzz_va(f),
			    rnd(f) % 8 ? (rnd(f) % 17) * 8 : (uint32_t)rnd(f));
		break;
	case JAL_CMD_WRITE_VALUE:
		cb_write_value(cb, fuzz_va(f) & (rnd(f) % 4 ? ~7ull : ~0ull),
			       rnd(f));
		break;
	case JAL_CMD_TIMESTAMP:
		cb_timestamp(cb, fuzz_va(f) & (rnd(f) % 4 ? ~7ull : ~0ull));
		break;
	default:
		cb_u32(cb, (uint32_t)rnd(f));
		break;
	}
	/* Sometimes corrupt a word of what was just written. */
	if (!(rnd(f) % 12) && cb->len > start) {
		uint32_t w = start + (rnd(f) % ((cb->len - start) / 4)) * 4;

		*(uint32_t *)(cb->buf + w) ^= 1u << (rnd(f) % 32);
	}
}

TEST_F_TIMEOUT(fuzz, random_command_streams, 300)
{
	struct fake *f = self->f;
	uint64_t args[16];
	unsigned int i, j, n;

	for (i = 0; i < ITERATIONS; i++) {
		struct cmdbuf cb = { 0 };
		struct result r;

		for (j = 0; j < 16; j++)
			args[j] = fuzz_va(f) & ~3ull;
		host_write(f, CTX, ARGS_VA, args, sizeof(args));
		n = 1 + rnd(f) % 8;
		for (j = 0; j < n; j++)
			fuzz_command(f, &cb);
		r = run_cb(f, CTX, &cb);
		ASSERT_LT(r.status, JAL_STATUS_COUNT);
		if (r.status == JAL_STATUS_OK)
			continue;
		ASSERT_LT(r.error_offset, cb.len);
	}
	expect_alive(_metadata, f);
}

/* Make fuzz_insn() pick the ISA 1.1 opcodes only. */
static bool fuzz_llm;

static struct jal_insn fuzz_insn(struct fake *f, uint32_t count)
{
	static const uint8_t ops[] = {
		JAL_OP_NOP, JAL_OP_HALT, JAL_OP_LI, JAL_OP_ADDI, JAL_OP_ADD,
		JAL_OP_MULI, JAL_OP_JUMP, JAL_OP_BNE, JAL_OP_BLTU, JAL_OP_VADD,
		JAL_OP_VMUL, JAL_OP_VSCALE, JAL_OP_MATVEC, JAL_OP_VADD,
		JAL_OP_VMUL, JAL_OP_MATVEC,
		/* ISA 1.1 */
		JAL_OP_BEQ, JAL_OP_LD32, JAL_OP_LD64, JAL_OP_ST32, JAL_OP_ST64,
		JAL_OP_MATMUL, JAL_OP_RMSNORM, JAL_OP_SOFTMAX, JAL_OP_ROPE,
		JAL_OP_SILU_MUL, JAL_OP_ATTENTION, JAL_OP_EMBED, JAL_OP_ARGMAX,
		JAL_OP_SAMPLE, JAL_OP_MATVEC, JAL_OP_MATMUL,
	};
	/* The ISA 1.0 ones most of the time, so kernels still get to run. */
	struct jal_insn in = i_op(ops[fuzz_llm ? 16 + rnd(f) % 16 :
				      rnd(f) % 8 ? rnd(f) % 16 : 16 + rnd(f) % 16]);
	unsigned int i;

	for (i = 0; i < 4; i++) {
		in.r[i] = rnd(f) % 16;
		in.dim[i] = rnd(f) % 4 ? rnd(f) % 3000 : (uint32_t)rnd(f);
		in.stride[i] = rnd(f) % 4 ? rnd(f) % 4 : (uint32_t)rnd(f) % 5000;
		in.imm[i] = rnd(f) % 2 ? (uint32_t)rnd(f) % (count + 1) :
					 (uint32_t)rnd(f);
	}
	/* Then clear what the opcode does not use, most of the time. */
	if (rnd(f) % 64) {
		switch (in.opcode) {
		case JAL_OP_NOP:
		case JAL_OP_HALT:
			in = i_op(in.opcode);
			break;
		case JAL_OP_LI:
			in = i_li(in.r[0], rnd(f) % 2 ? fuzz_va(f) : rnd(f) % 100);
			break;
		case JAL_OP_ADDI:
		case JAL_OP_MULI:
			in = i_addi(in.r[0], in.r[1], rnd(f) % 64);
			if (rnd(f) % 2)
				in.opcode = JAL_OP_MULI;
			break;
		case JAL_OP_ADD:
			in = i_add(in.r[0], in.r[1], in.r[2]);
			break;
		case JAL_OP_JUMP:
			in = i_jump(in.imm[2] % (count + 1));
			break;
		case JAL_OP_BNE:
		case JAL_OP_BLTU:
			in = i_bne(in.r[1], in.r[2], in.imm[2] % (count + 1));
			if (rnd(f) % 2)
				in.opcode = JAL_OP_BLTU;
			break;
		case JAL_OP_VSCALE:
			in = i_vscale(in.r[0], in.r[1], in.dim[0], in.stride[0],
				      in.stride[1], (float)in.imm[0]);
			break;
		case JAL_OP_MATVEC:
			in = i_matvec(in.r[0], in.r[1], in.r[2], in.dim[0] % 300,
				      in.dim[1], in.stride[0], in.stride[1],
				      in.stride[2]);
			in.dtype = rnd(f) % JAL_DTYPE_COUNT;
			if (in.dtype >= JAL_DTYPE_Q8)
				in.r[3] = rnd(f) % 16;
			if (in.dtype == JAL_DTYPE_Q8)
				in.dim[2] = 1u << (rnd(f) % 7);
			break;
		case JAL_OP_BEQ:
			in = i_beq(in.r[1], in.r[2], in.imm[2] % (count + 1));
			break;
		case JAL_OP_LD32:
		case JAL_OP_LD64:
		case JAL_OP_ST32:
		case JAL_OP_ST64:
			in.dim[0] = in.dim[1] = in.dim[2] = in.dim[3] = 0;
			memset(in.stride, 0, sizeof(in.stride));
			in.r[2] = in.r[3] = 0;
			in.imm[0] = rnd(f) % 2 ? (uint32_t)rnd(f) % 64 : (uint32_t)rnd(f);
			in.imm[1] = rnd(f) % 4 ? 0 : (uint32_t)rnd(f);
			in.imm[2] = in.imm[3] = 0;
			break;
		case JAL_OP_MATMUL:
			in.dtype = rnd(f) % JAL_DTYPE_COUNT;
			in.dim[0] %= 200;
			in.dim[2] %= 9;
			if (in.dtype != JAL_DTYPE_Q8)
				in.dim[3] = 0;
			else
				in.dim[3] = 1u << (rnd(f) % 7);
			if (in.dtype < JAL_DTYPE_Q8)
				in.r[3] = 0;
			in.stride[3] = 0;
			memset(in.imm, 0, sizeof(in.imm));
			break;
		case JAL_OP_RMSNORM:
		case JAL_OP_SILU_MUL:
		case JAL_OP_SOFTMAX:
		case JAL_OP_ARGMAX:
		case JAL_OP_ROPE:
		case JAL_OP_SAMPLE:
			memset(in.stride, 0, sizeof(in.stride));
			in.r[3] = 0;
			in.dim[3] = 0;
			if (in.opcode != JAL_OP_ROPE) {
				in.dim[1] = in.dim[2] = 0;
			} else {
				in.r[2] = 0;
				in.dim[0] &= ~1u;
				in.dim[1] = 2u << (rnd(f) % 6);
				in.dim[0] -= in.dim[0] % in.dim[1];
			}
			if (in.opcode == JAL_OP_SOFTMAX || in.opcode == JAL_OP_ARGMAX)
				in.r[2] = 0;
			in.imm[2] = in.imm[3] = 0;
			if (in.opcode != JAL_OP_SAMPLE) {
				in.imm[1] = 0;
			} else {
				in.imm[0] = f2u((float)(rnd(f) % 3) * 0.5f);
				in.imm[1] = f2u((float)(rnd(f) % 4) * 0.33f);
			}
			if (in.opcode != JAL_OP_RMSNORM && in.opcode != JAL_OP_ROPE &&
			    in.opcode != JAL_OP_SAMPLE)
				in.imm[0] = 0;
			break;
		case JAL_OP_ATTENTION:
			in.dim[0] = 1 + rnd(f) % 8;
			in.dim[1] = 1 + rnd(f) % 70;
			in.dim[2] = rnd(f) % 2 ? 1 : in.dim[0];
			in.dim[3] = rnd(f) % 300;
			in.stride[0] = in.stride[1] = 0;
			memset(in.imm, 0, sizeof(in.imm));
			break;
		case JAL_OP_EMBED:
			in.dtype = rnd(f) % 3;
			in.r[2] = 0;
			in.dim[3] = 0;
			in.stride[0] = in.stride[2] = 0;
			if (in.dtype != JAL_DTYPE_Q8)
				in.r[3] = in.stride[3] = 0;
			else
				in.stride[3] = 1u << (rnd(f) % 5);
			memset(in.imm, 0, sizeof(in.imm));
			break;
		default:
			in = i_vop(in.opcode, in.r[0], in.r[1], in.r[2], in.dim[0],
				   in.stride[0], in.stride[1], in.stride[2]);
			break;
		}
		if (in.opcode >= JAL_OP_VADD && !(rnd(f) % 6)) {
			unsigned int d = in.opcode >= JAL_OP_MATMUL ? rnd(f) % 4 : 0;

			in.flags = JAL_INSN_F_DIM_REG(d);
			in.dim[d] = rnd(f) % 16;
		}
	}
	return in;
}

TEST_F_TIMEOUT(fuzz, random_kernels, 300)
{
	struct fake *f = self->f;
	struct jal_insn code[32];
	uint64_t args[16];
	unsigned int i, j, n, ok = 0, status[JAL_STATUS_COUNT] = { 0 };

	for (i = 0; i < ITERATIONS; i++) {
		struct result r;

		n = 1 + rnd(f) % 32;
		for (j = 0; j < n; j++)
			code[j] = fuzz_insn(f, n);
		/* Flip one bit somewhere in a third of the kernels. */
		if (!(rnd(f) % 3))
			((uint8_t *)code)[rnd(f) % (n * sizeof(code[0]))] ^=
				1u << (rnd(f) % 8);
		for (j = 0; j < 16; j++)
			args[j] = rnd(f) % 4 ? (fuzz_va(f) & ~3ull) : rnd(f) % 5000;
		r = run_kernel(f, code, n, args, 16);
		ASSERT_LT(r.status, JAL_STATUS_COUNT);
		status[r.status]++;
		ok += r.status == JAL_STATUS_OK;
	}
	TH_LOG("ok %u bad_insn %u unmapped %u perm %u step %u", ok,
	       status[JAL_STATUS_BAD_INSN], status[JAL_STATUS_MMU_UNMAPPED],
	       status[JAL_STATUS_MMU_PERM], status[JAL_STATUS_STEP_LIMIT]);
	/* The generator must reach execution, not just validation. */
	EXPECT_GT(ok, ITERATIONS / 20);
	EXPECT_GT(status[JAL_STATUS_MMU_UNMAPPED], 0);
	expect_alive(_metadata, f);
}

/* Short kernels of the ISA 1.1 instructions over device and host memory. */
TEST_F_TIMEOUT(fuzz, random_llm_instructions, 300)
{
	struct fake *f = self->f;
	struct jal_insn code[3];
	uint64_t args[16];
	unsigned int i, j, n, status[JAL_STATUS_COUNT] = { 0 };

	fuzz_llm = true;
	for (i = 0; i < ITERATIONS; i++) {
		struct result r;

		n = 1 + rnd(f) % 3;
		for (j = 0; j < n; j++)
			code[j] = fuzz_insn(f, n);
		if (!(rnd(f) % 4))
			((uint8_t *)code)[rnd(f) % (n * sizeof(code[0]))] ^=
				1u << (rnd(f) % 8);
		for (j = 0; j < 16; j++)
			args[j] = rnd(f) % 4 ? (fuzz_va(f) & ~3ull) : rnd(f) % 300;
		r = run_kernel(f, code, n, args, 16);
		ASSERT_LT(r.status, JAL_STATUS_COUNT);
		status[r.status]++;
	}
	fuzz_llm = false;
	TH_LOG("ok %u bad_insn %u unmapped %u perm %u step %u",
	       status[JAL_STATUS_OK], status[JAL_STATUS_BAD_INSN],
	       status[JAL_STATUS_MMU_UNMAPPED], status[JAL_STATUS_MMU_PERM],
	       status[JAL_STATUS_STEP_LIMIT]);
	EXPECT_GT(status[JAL_STATUS_OK], ITERATIONS / 60);
	EXPECT_GT(status[JAL_STATUS_MMU_UNMAPPED], 0);
	expect_alive(_metadata, f);
}

/*
 * The batch instructions: JAL_INSN_F_ROWS on the LLM ops and the paged KV
 * cache ops, with small random shapes, row counts, pitches, pools and
 * tables over whatever the argument registers point at (mostly junk as
 * token ids, lengths and block indices).
 */
static struct jal_insn fuzz_batch_insn(struct fake *f)
{
	static const uint8_t ops[] = {
		JAL_OP_RMSNORM, JAL_OP_SOFTMAX, JAL_OP_ROPE, JAL_OP_SILU_MUL,
		JAL_OP_EMBED, JAL_OP_ARGMAX, JAL_OP_SAMPLE,
		JAL_OP_PAGED_ATTENTION, JAL_OP_PAGED_KV_STORE,
	};
	struct jal_insn in = i_op(ops[rnd(f) % sizeof(ops)]);
	bool paged = in.opcode >= JAL_OP_PAGED_ATTENTION;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		in.r[i] = rnd(f) % 16;
		in.stride[i] = rnd(f) % 2 ? 0 : rnd(f) % 4 ? rnd(f) % 300 :
						     (uint32_t)rnd(f);
	}
	in.dim[0] = rnd(f) % 4 ? rnd(f) % 300 : (uint32_t)rnd(f);
	in.dim[3] = rnd(f) % 8 ? rnd(f) % 40 : (uint32_t)rnd(f);
	if (rnd(f) % 8 == 0) {
		in.flags |= JAL_INSN_F_DIM_REG(3);
		in.dim[3] = rnd(f) % 16;
	}
	if (paged) {
		in.dim[0] = rnd(f) % 9;
		in.dim[1] = 1 + rnd(f) % 40;
		in.dim[2] = 1 + rnd(f) % 4;
		in.stride[2] = 1 + rnd(f) % 8;
		in.stride[3] = rnd(f) % 2 ? 0 : in.stride[2] + rnd(f) % 3;
		in.imm[0] = rnd(f) % 17;
		in.imm[1] = rnd(f) % 17;
		in.imm[2] = rnd(f) % 8 ? 1 + rnd(f) % 16 : (uint32_t)rnd(f);
		in.imm[3] = rnd(f) % 8 ? 1 + rnd(f) % 64 : (uint32_t)rnd(f);
		if (in.opcode == JAL_OP_PAGED_KV_STORE)
			in.dim[0] = 0;
		return in;
	}
	in.flags |= JAL_INSN_F_ROWS;
	switch (in.opcode) {
	case JAL_OP_ROPE:
		in.dim[0] &= ~15u;
		in.dim[1] = 2u << (rnd(f) % 3);
		in.imm[0] = f2u(10000.0f);
		in.stride[2] = in.stride[3] = 0;
		in.r[3] = 0;
		break;
	case JAL_OP_EMBED:
		in.dtype = rnd(f) % 3;
		in.dim[2] = rnd(f) % 50;
		in.stride[2] = 0;
		if (in.dtype == JAL_DTYPE_Q8)
			in.stride[3] = 1u << (rnd(f) % 3);
		else
			in.r[3] = in.stride[3] = 0;
		break;
	case JAL_OP_SAMPLE:
		in.stride[0] = in.stride[2] = in.stride[3] = 0;
		break;
	case JAL_OP_RMSNORM:
		in.imm[0] = f2u(1e-5f);
		/* fall through */
	default:
		in.r[3] = 0;
		in.stride[3] = 0;
		if (in.opcode != JAL_OP_SILU_MUL)
			in.stride[2] = 0;
		if (in.opcode == JAL_OP_SOFTMAX || in.opcode == JAL_OP_ARGMAX)
			in.r[2] = 0;
		if (in.opcode == JAL_OP_ARGMAX)
			in.stride[0] = 0;
		break;
	}
	return in;
}

TEST_F_TIMEOUT(fuzz, random_batch_instructions, 300)
{
	struct fake *f = self->f;
	struct jal_insn code[3];
	uint64_t args[16];
	unsigned int i, j, n, status[JAL_STATUS_COUNT] = { 0 };

	for (i = 0; i < ITERATIONS; i++) {
		struct result r;

		n = 1 + rnd(f) % 3;
		for (j = 0; j < n; j++)
			code[j] = fuzz_batch_insn(f);
		if (!(rnd(f) % 4))
			((uint8_t *)code)[rnd(f) % (n * sizeof(code[0]))] ^=
				1u << (rnd(f) % 8);
		for (j = 0; j < 16; j++)
			args[j] = rnd(f) % 4 ? (fuzz_va(f) & ~7ull) : rnd(f) % 300;
		r = run_kernel(f, code, n, args, 16);
		ASSERT_LT(r.status, JAL_STATUS_COUNT);
		status[r.status]++;
	}
	TH_LOG("ok %u bad_insn %u unmapped %u perm %u step %u",
	       status[JAL_STATUS_OK], status[JAL_STATUS_BAD_INSN],
	       status[JAL_STATUS_MMU_UNMAPPED], status[JAL_STATUS_MMU_PERM],
	       status[JAL_STATUS_STEP_LIMIT]);
	EXPECT_GT(status[JAL_STATUS_OK], 0);
	EXPECT_GT(status[JAL_STATUS_BAD_INSN], 0);
	EXPECT_GT(status[JAL_STATUS_MMU_UNMAPPED], 0);
	expect_alive(_metadata, f);
}

struct mmio_fuzzer {
	struct fake *f;
	uint64_t seed;
	atomic_bool stop;
};

static uint32_t fuzz_offset(uint64_t r)
{
	switch (r % 4) {
	case 0:
		return (uint32_t)(r >> 8) % JAL_BAR_REGS_SIZE & ~3u;
	case 1:
		return JAL_REG_DOORBELL((r >> 8) % 4);
	default:
		return (uint32_t)(r >> 8) % 0x200 & ~3u;
	}
}

static void *mmio_fuzz_thread(void *arg)
{
	struct mmio_fuzzer *m = arg;
	uint64_t r = m->seed;

	while (!atomic_load(&m->stop)) {
		uint32_t off;

		r ^= r >> 12;
		r ^= r << 25;
		r ^= r >> 27;
		off = fuzz_offset(r * 0x2545f4914f6cdd1dull);
		/* Whole-device resets are rare so jobs get to run. */
		if (off == JAL_REG_DEV_CTRL && (r & 0xff))
			continue;
		if ((r >> 40) % 3)
			jal_mmio_read(m->f->dev, off, 4);
		else
			jal_mmio_write(m->f->dev, off, (r >> 20) % 3 ?
				       (uint32_t)(r >> 33) % 64 : (uint32_t)r, 4);
		if ((r >> 50) % 64 == 0)
			jal_mmio_write(m->f->dev, JAL_REG_DEV_CTRL,
				       JAL_DEV_CTRL_ENABLE, 4);
	}
	return NULL;
}

TEST_F_TIMEOUT(fuzz, random_register_traffic_with_jobs_and_resets, 300)
{
	struct fake *f = self->f;
	struct mmio_fuzzer m[2] = { { .f = f, .seed = rnd(f) | 1 },
				    { .f = f, .seed = rnd(f) | 1 } };
	pthread_t t[2];
	struct cmdbuf cb = { 0 };
	struct jal_insn code[3];
	unsigned int i, q;
	uint64_t end;

	/* Jobs with substance: copies, fills and a looping kernel. */
	code[0] = i_vop(JAL_OP_VADD, 0, 0, 0, 2000, 1, 1, 1);
	code[1] = i_addi(1, 1, 1);
	code[2] = i_jump(0);
	host_write(f, CTX, CODE_VA, code, sizeof(code));
	host_write(f, CTX, ARGS_VA, (uint64_t[]){ DATA_VA }, 8);
	cb_copy(&cb, DATA_VA, DATA_VA + MiB + 3 * PAGE, 3 * PAGE);
	cb_fill(&cb, DATA_VA + 2 * MiB, 0x5a5a5a5a, MiB);
	cb_dispatch(&cb, CODE_VA, 3 * 64, ARGS_VA, 8);
	host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, mmio_fuzz_thread, &m[i]));
	end = now_ms() + 3000;
	for (i = 0; now_ms() < end; i++) {
		q = i % JAL_NUM_QUEUES;
		submit(f, q, CTX, CMDBUF_VA, cb.len, JAL_DESC_F_IRQ);
		if (i % 8 == 7) {
			usleep(1000);
			wr(f, JAL_REG_Q(rnd(f) % 4, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
		}
		if (i % 64 == 63) {
			wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
			wr(f, JAL_REG_CTX_TABLE_LO, (uint32_t)f->ctx_table);
			wr(f, JAL_REG_CTX_TABLE_HI, 0);
			wr(f, JAL_REG_STEP_LIMIT_LO, 20000);
			wr(f, JAL_REG_STEP_LIMIT_HI, 0);
			wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
			for (q = 0; q < JAL_NUM_QUEUES; q++)
				queue_setup(f, q, RING_ENTRIES, q);
		}
	}
	for (i = 0; i < 2; i++) {
		atomic_store(&m[i].stop, true);
		pthread_join(t[i], NULL);
	}
	expect_alive(_metadata, f);
}

TEST_HARNESS_MAIN
