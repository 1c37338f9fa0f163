/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: compute unit internals shared by the interpreter
 * (jal_exec.c), operand access (jal_operand.c) and the opcode
 * implementations (jal_ops_f32.c: element-wise; jal_ops_matrix.c: MATVEC,
 * MATMUL; jal_ops_llm.c: the LLM instructions), whose arithmetic is in
 * the kernels of jal_kern.h.
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
	/*
	 * One row of a JAL_INSN_F_ROWS instruction, run by its single-row
	 * handler: the whole instruction was charged before the first row.
	 */
	bool row_of_batch;
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
	/* JAL_FLD_* used with JAL_INSN_F_ROWS; 0: the flag is not allowed. */
	uint32_t rows_fields;
};

/* Execute handler of one row of a JAL_INSN_F_ROWS instruction. */
typedef enum jal_status (*jal_exec_fn)(struct jal_exec *ex,
				       const struct jal_insn *in);

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

/*
 * An operand of the matrix and LLM instructions as the byte range
 * [va, va + len) it covers: @ptr when that is one contiguous run of
 * device memory the access is allowed to (used in place), else NULL and
 * every access goes through the MMU, which reports faults.
 */
struct jal_span {
	uint64_t va;
	uint64_t len;
	uint8_t *ptr;
	bool write;
};

/*
 * Checks @align and the 256 MiB extent limit (BAD_INSN) and a start
 * inside the VA space (MMU_UNMAPPED); len 0 is an operand not accessed.
 */
enum jal_status jal_span_init(struct jal_exec *ex, struct jal_span *s,
			      const char *name, uint64_t va, uint64_t len,
			      unsigned int align, bool write);
/*
 * Bytes from the first of @count items of @item bytes, @pitch bytes
 * apart, to the end of the last; above JAL_MAX_EXTENT (without wrapping)
 * when too large.
 */
uint64_t jal_extent(uint64_t count, uint64_t pitch, uint64_t item);
enum jal_status jal_span_read(struct jal_exec *ex, const struct jal_span *s,
			      uint64_t off, void *buf, size_t n);
enum jal_status jal_span_write(struct jal_exec *ex, const struct jal_span *s,
			       uint64_t off, const void *buf, size_t n);
/* Floats [first, first + n): in place, or read into @buf. */
const float *jal_span_f32(struct jal_exec *ex, const struct jal_span *s,
			  uint64_t first, size_t n, float *buf,
			  enum jal_status *st);
/* Write floats at element @first; @buf is clobbered on big-endian hosts. */
enum jal_status jal_span_put_f32(struct jal_exec *ex, const struct jal_span *s,
				 uint64_t first, float *buf, size_t n);
bool jal_span_overlap(const struct jal_span *a, const struct jal_span *b);
/* Same first byte (so element-wise in-place use is safe). */
bool jal_span_same(const struct jal_span *a, const struct jal_span *b);
/* Little-endian elements of @esize bytes to host order, in place. */
void jal_le_to_host(void *buf, size_t n, unsigned int esize);

/*
 * Whether work of @macs multiply-adds is worth sharing with the compute
 * helpers (jal_pool_run()).
 */
bool jal_exec_share(struct jal_exec *ex, uint64_t macs);

/*
 * Work shared by the compute threads: items [0, count) claimed @block at
 * a time, the worker (thread 0) from the front and helpers from the back.
 * A kernel that runs an instruction again so gives each thread mostly the
 * items it had before, whose data are still in its core's caches, while a
 * helper that comes late or not at all still leaves nothing undone.
 */
struct jal_claim {
	/* Blocks not yet claimed: [lo, hi), lo in bits 31..0, hi above. */
	atomic_uint_fast64_t range;
	uint64_t count;
	uint64_t block;
};

/* @count items (below 2^32 blocks), @block at a time. */
static inline void jal_claim_init(struct jal_claim *c, uint64_t count,
				  uint64_t block)
{
	c->count = count;
	c->block = block;
	atomic_init(&c->range, ((count + block - 1) / block) << 32);
}

static inline bool jal_claim(struct jal_claim *c, unsigned int thread,
			     uint64_t *first, uint64_t *end)
{
	uint64_t r = atomic_load_explicit(&c->range, memory_order_relaxed);
	uint64_t lo, hi, b, n;

	do {
		lo = r & 0xffffffffu;
		hi = r >> 32;
		if (lo >= hi)
			return false;
		if (!thread) {
			b = lo;
			n = r + 1;
		} else {
			b = hi - 1;
			n = r - (1ull << 32);
		}
	} while (!atomic_compare_exchange_weak_explicit(&c->range, &r, n,
							memory_order_relaxed,
							memory_order_relaxed));
	*first = b * c->block;
	*end = JAL_MIN(c->count, *first + c->block);
	return true;
}

/* jal_ops_f32.c */
enum jal_status jal_f32_vadd(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_f32_vmul(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_f32_vscale(struct jal_exec *ex, const struct jal_insn *in);

/* jal_ops_matrix.c */
enum jal_status jal_op_matvec(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_matmul(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_check_matvec(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_check_matmul(struct jal_exec *ex, const struct jal_insn *in);

/* jal_ops_llm.c */
/*
 * A JAL_INSN_F_ROWS instruction, each row run by @row (the opcode's
 * single-row handler) on a view of that row.
 */
enum jal_status jal_op_rows(struct jal_exec *ex, const struct jal_insn *in,
			    jal_exec_fn row);
enum jal_status jal_op_rmsnorm(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_softmax(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_rope(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_silu_mul(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_attention(struct jal_exec *ex,
				 const struct jal_insn *in);
enum jal_status jal_op_embed(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_argmax(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_sample(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_check_embed(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_check_sample(struct jal_exec *ex, const struct jal_insn *in);
enum jal_status jal_op_paged_attention(struct jal_exec *ex,
				       const struct jal_insn *in);
enum jal_status jal_op_paged_kv_store(struct jal_exec *ex,
				      const struct jal_insn *in);
enum jal_status jal_check_paged(struct jal_exec *ex, const struct jal_insn *in);

#endif /* JAL_EXEC_H */
