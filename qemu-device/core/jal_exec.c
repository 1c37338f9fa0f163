// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: the compute unit's interpreter.
 *
 * DISPATCH reads the whole kernel, validates every instruction against
 * the opcode table before the first one runs (so a kernel either is well
 * formed or does not start), loads the argument block into r0.. and then
 * interprets. Opcode semantics live in the execute handlers named by
 * jal_ops[]; value checks that depend on registers (DIM_REG values,
 * operand alignment and extents) happen when an instruction executes.
 */
#include <stdarg.h>
#include <stdio.h>

#include "jal_exec.h"

enum jal_status jal_exec_bad(struct jal_exec *ex, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	jal_log(ex->job->dev, "ctx %u: kernel 0x%llx insn %u (opcode 0x%02x): %s",
		ex->job->ctx_id, (unsigned long long)ex->code_va, ex->pc,
		ex->pc < ex->count ? ex->code[ex->pc].opcode : 0, msg);
	return JAL_STATUS_BAD_INSN;
}

enum jal_status jal_exec_dim(struct jal_exec *ex, const struct jal_insn *in,
			     unsigned int i, uint64_t *val)
{
	uint64_t v;

	if (!(in->flags & JAL_INSN_F_DIM_REG(i))) {
		*val = in->dim[i];
		return JAL_STATUS_OK;
	}
	v = ex->regs[in->dim[i]];
	if (v > 0xffffffffull)
		return jal_exec_bad(ex, "dim[%u] from r%u is 0x%llx, above 32 bits",
				    i, in->dim[i], (unsigned long long)v);
	*val = v;
	return JAL_STATUS_OK;
}

static enum jal_status jal_exec_steps(struct jal_exec *ex, uint64_t steps)
{
	struct jal_job *job = ex->job;

	job->steps += steps;
	if (job->step_limit && job->steps > job->step_limit) {
		jal_log(job->dev, "ctx %u: kernel 0x%llx insn %u: step limit %llu exceeded",
			job->ctx_id, (unsigned long long)ex->code_va, ex->pc,
			(unsigned long long)job->step_limit);
		return JAL_STATUS_STEP_LIMIT;
	}
	return JAL_STATUS_OK;
}

enum jal_status jal_exec_charge(struct jal_exec *ex, uint64_t elements)
{
	if (ex->row_of_batch)
		return JAL_STATUS_OK;
	return elements >= 4096 ? jal_exec_steps(ex, elements / 4096) :
				  JAL_STATUS_OK;
}

/* Scalar and control-flow opcodes. */

static enum jal_status jal_op_nop(struct jal_exec *ex, const struct jal_insn *in)
{
	(void)ex;
	(void)in;
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_halt(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	(void)in;
	ex->halted = true;
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_li(struct jal_exec *ex, const struct jal_insn *in)
{
	ex->regs[in->r[0]] = jal_insn_imm64(in);
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_addi(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	ex->regs[in->r[0]] = ex->regs[in->r[1]] + jal_insn_imm64(in);
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_add(struct jal_exec *ex, const struct jal_insn *in)
{
	ex->regs[in->r[0]] = ex->regs[in->r[1]] + ex->regs[in->r[2]];
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_muli(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	ex->regs[in->r[0]] = ex->regs[in->r[1]] * jal_insn_imm64(in);
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_jump(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	ex->next_pc = in->imm[2];
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_bne(struct jal_exec *ex, const struct jal_insn *in)
{
	if (ex->regs[in->r[1]] != ex->regs[in->r[2]])
		ex->next_pc = in->imm[2];
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_bltu(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	if (ex->regs[in->r[1]] < ex->regs[in->r[2]])
		ex->next_pc = in->imm[2];
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_beq(struct jal_exec *ex, const struct jal_insn *in)
{
	if (ex->regs[in->r[1]] == ex->regs[in->r[2]])
		ex->next_pc = in->imm[2];
	return JAL_STATUS_OK;
}

/*
 * Scalar memory: address R[r[1]] + imm64 (wrapping), naturally aligned,
 * through the MMU like every other access.
 */
static enum jal_status jal_scalar_addr(struct jal_exec *ex,
				       const struct jal_insn *in,
				       unsigned int size, uint64_t *va)
{
	*va = ex->regs[in->r[1]] + jal_insn_imm64(in);
	if (*va % size)
		return jal_exec_bad(ex, "%u-byte access at 0x%llx is not aligned",
				    size, (unsigned long long)*va);
	return JAL_STATUS_OK;
}

static enum jal_status jal_op_load(struct jal_exec *ex,
				   const struct jal_insn *in, unsigned int size)
{
	uint64_t va, v64 = 0;
	uint32_t v32 = 0;
	enum jal_status st;

	st = jal_scalar_addr(ex, in, size, &va);
	if (!st)
		st = jal_mmu_read(ex->job, va, size == 4 ? (void *)&v32 :
					   (void *)&v64, size);
	if (!st)
		ex->regs[in->r[0]] = size == 4 ? jal_le32(v32) : jal_le64(v64);
	return st;
}

static enum jal_status jal_op_store(struct jal_exec *ex,
				    const struct jal_insn *in, unsigned int size)
{
	uint32_t v32 = jal_le32((uint32_t)ex->regs[in->r[0]]);
	uint64_t v64 = jal_le64(ex->regs[in->r[0]]), va;
	enum jal_status st;

	st = jal_scalar_addr(ex, in, size, &va);
	if (!st)
		st = jal_mmu_write(ex->job, va, size == 4 ? (void *)&v32 :
					    (void *)&v64, size);
	return st;
}

static enum jal_status jal_op_ld32(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	return jal_op_load(ex, in, 4);
}

static enum jal_status jal_op_ld64(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	return jal_op_load(ex, in, 8);
}

static enum jal_status jal_op_st32(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	return jal_op_store(ex, in, 4);
}

static enum jal_status jal_op_st64(struct jal_exec *ex,
				   const struct jal_insn *in)
{
	return jal_op_store(ex, in, 8);
}

/* Multiply-adds below which helpers cost more than they save. */
#define JAL_SHARE_MACS		(1u << 16)

bool jal_exec_share(struct jal_exec *ex, uint64_t macs)
{
	return ex->job->dev->compute_threads > 1 && macs >= JAL_SHARE_MACS;
}

#define R01		(JAL_FLD_R(0) | JAL_FLD_R(1))
#define R012		(R01 | JAL_FLD_R(2))
#define R0123		(R012 | JAL_FLD_R(3))
#define DIM01		(JAL_FLD_DIM(0) | JAL_FLD_DIM(1))
#define DIM012		(DIM01 | JAL_FLD_DIM(2))
#define DIM0123		(DIM012 | JAL_FLD_DIM(3))
#define STRIDE012	(JAL_FLD_STRIDE(0) | JAL_FLD_STRIDE(1) | JAL_FLD_STRIDE(2))
#define STRIDE0123	(STRIDE012 | JAL_FLD_STRIDE(3))
#define IMM0123		(JAL_FLD_IMM64 | JAL_FLD_IMM(2) | JAL_FLD_IMM(3))
#define BRANCH		(JAL_FLD_R(1) | JAL_FLD_R(2) | JAL_FLD_IMM(2) | \
			 JAL_FLD_TARGET)
#define DT_F32		JAL_DTYPES(JAL_DTYPE_F32)
#define DT_WEIGHTS	(JAL_DTYPES(JAL_DTYPE_F32) | JAL_DTYPES(JAL_DTYPE_BF16) | \
			 JAL_DTYPES(JAL_DTYPE_Q8) | JAL_DTYPES(JAL_DTYPE_S24) | \
			 JAL_DTYPES(JAL_DTYPE_Q4))
#define DT_TABLE	(JAL_DTYPES(JAL_DTYPE_F32) | JAL_DTYPES(JAL_DTYPE_BF16) | \
			 JAL_DTYPES(JAL_DTYPE_Q8))
/* The paged ops' dtype is that of their KV pools. */
#define DT_KV		(JAL_DTYPES(JAL_DTYPE_F32) | JAL_DTYPES(JAL_DTYPE_BF16))

/*
 * JAL_INSN_F_ROWS: the row count in dim[3], row pitches in stride[]; see
 * jal_op_rows() in jal_ops_llm.c for what each register holds.
 */
#define ROWS		JAL_FLD_DIM(3)
#define PITCH01		(JAL_FLD_STRIDE(0) | JAL_FLD_STRIDE(1))

static const struct jal_op_info jal_ops[256] = {
	[JAL_OP_NOP] = { "NOP", 0, 0, NULL, jal_op_nop },
	[JAL_OP_HALT] = { "HALT", 0, 0, NULL, jal_op_halt },
	[JAL_OP_LI] = { "LI", JAL_FLD_R(0) | JAL_FLD_IMM64, 0, NULL, jal_op_li },
	[JAL_OP_ADDI] = { "ADDI", R01 | JAL_FLD_IMM64, 0, NULL, jal_op_addi },
	[JAL_OP_ADD] = { "ADD", R012, 0, NULL, jal_op_add },
	[JAL_OP_MULI] = { "MULI", R01 | JAL_FLD_IMM64, 0, NULL, jal_op_muli },
	[JAL_OP_JUMP] = { "JUMP", JAL_FLD_IMM(2) | JAL_FLD_TARGET, 0, NULL,
			  jal_op_jump },
	[JAL_OP_BNE] = { "BNE", BRANCH, 0, NULL, jal_op_bne },
	[JAL_OP_BLTU] = { "BLTU", BRANCH, 0, NULL, jal_op_bltu },
	[JAL_OP_BEQ] = { "BEQ", BRANCH, 0, NULL, jal_op_beq },
	[JAL_OP_LD32] = { "LD32", R01 | JAL_FLD_IMM64, 0, NULL, jal_op_ld32 },
	[JAL_OP_LD64] = { "LD64", R01 | JAL_FLD_IMM64, 0, NULL, jal_op_ld64 },
	[JAL_OP_ST32] = { "ST32", R01 | JAL_FLD_IMM64, 0, NULL, jal_op_st32 },
	[JAL_OP_ST64] = { "ST64", R01 | JAL_FLD_IMM64, 0, NULL, jal_op_st64 },
	[JAL_OP_VADD] = { "VADD", R012 | JAL_FLD_DIM(0) | STRIDE012,
			  JAL_DTYPES(JAL_DTYPE_F32), NULL, jal_f32_vadd },
	[JAL_OP_VMUL] = { "VMUL", R012 | JAL_FLD_DIM(0) | STRIDE012,
			  JAL_DTYPES(JAL_DTYPE_F32), NULL, jal_f32_vmul },
	[JAL_OP_VSCALE] = { "VSCALE", R01 | JAL_FLD_DIM(0) | JAL_FLD_STRIDE(0) |
			    JAL_FLD_STRIDE(1) | JAL_FLD_IMM(0),
			    JAL_DTYPES(JAL_DTYPE_F32), NULL, jal_f32_vscale },
	[JAL_OP_MATVEC] = { "MATVEC", R0123 | DIM012 | STRIDE012, DT_WEIGHTS,
			    jal_check_matvec, jal_op_matvec },
	[JAL_OP_MATMUL] = { "MATMUL", R0123 | DIM0123 | STRIDE012, DT_WEIGHTS,
			    jal_check_matmul, jal_op_matmul },
	[JAL_OP_RMSNORM] = { "RMSNORM", R012 | JAL_FLD_DIM(0) | JAL_FLD_IMM(0),
			     DT_F32, NULL, jal_op_rmsnorm,
			     R012 | JAL_FLD_DIM(0) | JAL_FLD_IMM(0) | ROWS | PITCH01 },
	[JAL_OP_SOFTMAX] = { "SOFTMAX", R01 | JAL_FLD_DIM(0), DT_F32, NULL,
			     jal_op_softmax, R01 | JAL_FLD_DIM(0) | ROWS | PITCH01 },
	[JAL_OP_ROPE] = { "ROPE", R01 | DIM012 | JAL_FLD_IMM(0), DT_F32, NULL,
			  jal_op_rope, R012 | DIM01 | JAL_FLD_IMM(0) | ROWS | PITCH01 },
	[JAL_OP_SILU_MUL] = { "SILU_MUL", R012 | JAL_FLD_DIM(0), DT_F32, NULL,
			      jal_op_silu_mul,
			      R012 | JAL_FLD_DIM(0) | JAL_FLD_STRIDE(2) | ROWS |
			      PITCH01 },
	[JAL_OP_ATTENTION] = { "ATTENTION", R0123 | DIM0123 | JAL_FLD_STRIDE(2) |
			       JAL_FLD_STRIDE(3), DT_F32, NULL,
			       jal_op_attention },
	[JAL_OP_EMBED] = { "EMBED", R01 | JAL_FLD_R(3) | DIM012 |
			   JAL_FLD_STRIDE(1) | JAL_FLD_STRIDE(3), DT_TABLE,
			   jal_check_embed, jal_op_embed,
			   R0123 | JAL_FLD_DIM(0) | JAL_FLD_DIM(2) | PITCH01 |
			   JAL_FLD_STRIDE(3) | ROWS },
	[JAL_OP_ARGMAX] = { "ARGMAX", R01 | JAL_FLD_DIM(0), DT_F32, NULL,
			    jal_op_argmax,
			    R01 | JAL_FLD_DIM(0) | JAL_FLD_STRIDE(1) | ROWS },
	[JAL_OP_SAMPLE] = { "SAMPLE", R012 | JAL_FLD_DIM(0) | JAL_FLD_IMM(0) |
			    JAL_FLD_IMM(1), DT_F32, jal_check_sample,
			    jal_op_sample,
			    R0123 | JAL_FLD_DIM(0) | JAL_FLD_STRIDE(1) | ROWS },
	[JAL_OP_PAGED_ATTENTION] = { "PAGED_ATTENTION", R0123 | DIM0123 |
				     STRIDE0123 | IMM0123, DT_KV,
				     jal_check_paged, jal_op_paged_attention },
	[JAL_OP_PAGED_KV_STORE] = { "PAGED_KV_STORE", R0123 | JAL_FLD_DIM(1) |
				    JAL_FLD_DIM(2) | JAL_FLD_DIM(3) |
				    STRIDE0123 | IMM0123, DT_KV,
				    jal_check_paged, jal_op_paged_kv_store },
};

static enum jal_status jal_insn_check(struct jal_exec *ex,
				      const struct jal_insn *in)
{
	const struct jal_op_info *op = &jal_ops[in->opcode];
	bool rows = in->flags & JAL_INSN_F_ROWS;
	uint32_t fields = rows ? op->rows_fields : op->fields;
	unsigned int i;

	if (!op->execute)
		return jal_exec_bad(ex, "unknown opcode");
	if (rows && !fields)
		return jal_exec_bad(ex, "%s does not take JAL_INSN_F_ROWS", op->name);
	if (op->dtypes ? in->dtype >= 32 || !(op->dtypes & (1u << in->dtype)) :
			 in->dtype != 0)
		return jal_exec_bad(ex, "%s does not support dtype %u", op->name,
				    in->dtype);
	if (in->flags & ~JAL_INSN_F_VALID_MASK)
		return jal_exec_bad(ex, "undefined flags 0x%x", in->flags);
	if ((in->flags & JAL_INSN_F_Q8X) &&
	    ((in->opcode != JAL_OP_MATVEC && in->opcode != JAL_OP_MATMUL) ||
	     in->dtype != JAL_DTYPE_Q8))
		return jal_exec_bad(ex, "Q8X is a flag of MATVEC and MATMUL with Q8 weights, not of %s",
				    op->name);
	if ((in->flags & JAL_INSN_F_ROPE_FREQS) && in->opcode != JAL_OP_ROPE)
		return jal_exec_bad(ex, "ROPE_FREQS is a flag of ROPE, not of %s", op->name);
	/* ROPE's frequency table is r[3], with the flag only. */
	if (in->flags & JAL_INSN_F_ROPE_FREQS)
		fields = (fields | JAL_FLD_R(3)) & ~JAL_FLD_IMM(0);
	if (in->reserved[0] || in->reserved[1])
		return jal_exec_bad(ex, "reserved fields are not zero");
	for (i = 0; i < 4; i++) {
		bool dim_reg = in->flags & JAL_INSN_F_DIM_REG(i);

		if (fields & JAL_FLD_R(i)) {
			if (in->r[i] >= JAL_NUM_REGS)
				return jal_exec_bad(ex, "r[%u] = %u is not a register",
						    i, in->r[i]);
		} else if (in->r[i]) {
			return jal_exec_bad(ex, "%s does not use r[%u]", op->name, i);
		}
		if (fields & JAL_FLD_DIM(i)) {
			if (dim_reg && in->dim[i] >= JAL_NUM_REGS)
				return jal_exec_bad(ex, "dim[%u] = %u is not a register",
						    i, in->dim[i]);
		} else if (in->dim[i] || dim_reg) {
			return jal_exec_bad(ex, "%s does not use dim[%u]", op->name, i);
		}
		if (!(fields & JAL_FLD_STRIDE(i)) && in->stride[i])
			return jal_exec_bad(ex, "%s does not use stride[%u]", op->name,
					    i);
		if (!(fields & JAL_FLD_IMM(i)) && in->imm[i])
			return jal_exec_bad(ex, "%s does not use imm[%u]", op->name, i);
	}
	if ((fields & JAL_FLD_TARGET) && in->imm[2] > ex->count)
		return jal_exec_bad(ex, "branch target %u beyond the kernel end %u",
				    in->imm[2], ex->count);
	return op->check ? op->check(ex, in) : JAL_STATUS_OK;
}

static void jal_insn_from_le(struct jal_insn *in)
{
	unsigned int i;

	in->flags = jal_le16(in->flags);
	for (i = 0; i < 4; i++) {
		in->dim[i] = jal_le32(in->dim[i]);
		in->stride[i] = jal_le32(in->stride[i]);
		in->imm[i] = jal_le32(in->imm[i]);
	}
	in->reserved[0] = jal_le32(in->reserved[0]);
	in->reserved[1] = jal_le32(in->reserved[1]);
}

static enum jal_status jal_dispatch_bad(struct jal_job *job, const char *what)
{
	jal_log(job->dev, "ctx %u: DISPATCH at offset %u: %s", job->ctx_id,
		job->error_offset, what);
	return JAL_STATUS_BAD_CMD;
}

enum jal_status jal_exec_dispatch(struct jal_job *job,
				  const struct jal_cmd_dispatch *cmd)
{
	struct jal_exec ex = {
		.job = job,
		.w = job->w,
		.code = job->w->code,
		.count = cmd->code_size / sizeof(struct jal_insn),
		.code_va = cmd->code_va,
	};
	uint64_t args[JAL_MAX_ARGS];
	enum jal_status st;
	uint32_t i;

	if (cmd->code_va & 7)
		return jal_dispatch_bad(job, "code VA is not 8-byte aligned");
	if (cmd->code_size % sizeof(struct jal_insn) ||
	    cmd->code_size > JAL_MAX_CODE_SIZE)
		return jal_dispatch_bad(job, "bad code size");
	if (cmd->args_size % 8 || cmd->args_size > sizeof(args))
		return jal_dispatch_bad(job, "bad argument block size");

	st = jal_mmu_read(job, cmd->code_va, job->w->code, cmd->code_size);
	if (st)
		return st;
	for (i = 0; i < ex.count; i++) {
		jal_insn_from_le(&job->w->code[i]);
		ex.pc = i;
		st = jal_insn_check(&ex, &job->w->code[i]);
		if (st)
			return st;
	}
	st = jal_mmu_read(job, cmd->args_va, args, cmd->args_size);
	if (st)
		return st;
	for (i = 0; i < cmd->args_size / 8; i++)
		ex.regs[i] = jal_le64(args[i]);

	ex.pc = 0;
	while (ex.pc < ex.count) {
		const struct jal_insn *in = &ex.code[ex.pc];

		if (jal_job_aborted(job))
			return JAL_STATUS_ABORTED;
		st = jal_exec_steps(&ex, 1);
		if (st)
			return st;
		ex.next_pc = ex.pc + 1;
		if (in->flags & JAL_INSN_F_ROWS)
			st = jal_op_rows(&ex, in, jal_ops[in->opcode].execute);
		else
			st = jal_ops[in->opcode].execute(&ex, in);
		if (st)
			return st;
		if (ex.halted)
			break;
		ex.pc = ex.next_pc;
	}
	return JAL_STATUS_OK;
}
