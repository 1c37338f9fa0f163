/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: compute unit internals shared by the interpreter
 * (jal_exec.c), operand access (jal_operand.c) and the per-dtype opcode
 * implementations (jal_ops_f32.c, ...).
 *
 * Adding an opcode: write an execute handler (and, if the generic field
 * checks are not enough, a check handler) and add one line to jal_ops[] in
 * jal_exec.c naming the fields the opcode uses and the dtypes it accepts.
 */
#ifndef JAL_EXEC_H
#define JAL_EXEC_H

#include "jal_internal.h"

struct jal_exec {
	struct jal_job *job;
	struct jal_worker *w;
	uint64_t regs[JAL_NUM_REGS];
	const struct jal_insn *code;
	uint32_t count;			/* instructions */
	uint32_t pc;			/* the instruction being handled */
	uint32_t next_pc;		/* branches change it */
	bool halted;
	uint64_t code_va;
};

/* Fields of struct jal_insn an opcode uses; unused ones must be zero. */
#define JAL_FLD_R(i)		(1u << (i))
#define JAL_FLD_DIM(i)		(1u << (4 + (i)))
#define JAL_FLD_STRIDE(i)	(1u << (8 + (i)))
#define JAL_FLD_IMM(i)		(1u << (12 + (i)))
#define JAL_FLD_TARGET		(1u << 16)	/* imm[2] is an insn index */

#define JAL_FLD_IMM64		(JAL_FLD_IMM(0) | JAL_FLD_IMM(1))
#define JAL_DTYPES(d)		(1u << (d))

struct jal_op_info {
	const char *name;
	uint32_t fields;		/* JAL_FLD_* */
	uint32_t dtypes;		/* JAL_DTYPES(); 0: dtype must be 0 */
	/* Optional extra static validation. */
	enum jal_status (*check)(struct jal_exec *ex, const struct jal_insn *in);
	enum jal_status (*execute)(struct jal_exec *ex,
				   const struct jal_insn *in);
};

/* Log a bad instruction and return JAL_STATUS_BAD_INSN. */
enum jal_status jal_exec_bad(struct jal_exec *ex, const char *fmt, ...)
	JAL_PRINTF(2, 3);
/* dim[i] of @in: the constant, or the register's value with DIM_REG. */
enum jal_status jal_exec_dim(struct jal_exec *ex, const struct jal_insn *in,
			     unsigned int i, uint64_t *val);
/* Account for @elements processed by the current instruction. */
enum jal_status jal_exec_charge(struct jal_exec *ex, uint64_t elements);

static inline uint64_t jal_insn_imm64(const struct jal_insn *in)
{
	return (uint64_t)in->imm[1] << 32 | in->imm[0];
}

/*
 * A strided array of 4-byte elements in device memory: element i is at
 * va + i * stride * 4 (a matrix: row r, column c at va + (r * stride + c)
 * * 4). [lo, hi) is the byte range it covers.
 */
struct jal_operand {
	uint64_t va;
	uint64_t stride;
	uint64_t count;
	uint64_t lo;
	uint64_t hi;
	bool write;
};

enum jal_status jal_operand_vector(struct jal_exec *ex, struct jal_operand *op,
				   const char *name, uint64_t va,
				   uint64_t stride, uint64_t count, bool write);
enum jal_status jal_operand_matrix(struct jal_exec *ex, struct jal_operand *op,
				   const char *name, uint64_t va,
				   uint64_t rows, uint64_t cols, uint64_t pitch);
bool jal_operand_overlap(const struct jal_operand *a,
			 const struct jal_operand *b);
/* Elements [first, first + n) of a vector operand, to/from host floats. */
enum jal_status jal_gather_f32(struct jal_exec *ex, const struct jal_operand *op,
			       uint64_t first, size_t n, float *buf);
/* @buf is clobbered (byte-swapped on big-endian hosts). */
enum jal_status jal_scatter_f32(struct jal_exec *ex,
				const struct jal_operand *op, uint64_t first,
				size_t n, float *buf);
/* Contiguous floats at @va (a matrix row), to host floats. */
enum jal_status jal_read_f32(struct jal_exec *ex, uint64_t va, size_t n,
			     float *buf);

/* jal_ops_f32.c */
enum jal_status jal_f32_vadd(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_f32_vmul(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_f32_vscale(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_f32_matvec(struct jal_exec *ex, const struct jal_insn *in);

#endif /* JAL_EXEC_H */
