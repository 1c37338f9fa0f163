// SPDX-License-Identifier: MIT
/*
 * Kernel builder: encodes struct jal_insn, resolves labels, and checks
 * every instruction the way the chip will, so that mistakes are reported
 * on the host with a precise message instead of a BAD_INSN job failure.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jalrt_internal.h"

/* Largest (highest - lowest) element index of one operand, see the brief. */
#define JALRT_MAX_OPERAND_SPAN	((uint64_t)(JALRT_MAX_OPERAND_BYTES / 4) - 1)

struct jalrt_fixup {
	uint32_t insn;
	uint32_t label;
};

#define JALRT_LABEL_UNBOUND	UINT32_MAX

struct jalrt_kernel_builder {
	struct jal_insn *insns;
	uint32_t count;
	uint32_t cap;
	unsigned int num_args;

	uint32_t *labels;	/* instruction index, or JALRT_LABEL_UNBOUND */
	uint32_t num_labels;
	uint32_t cap_labels;

	struct jalrt_fixup *fixups;
	uint32_t num_fixups;
	uint32_t cap_fixups;

	/* First failure, replayed by jalrt_kb_code()/finalize(). */
	int error;
	char errmsg[256];
};

/* ---- instruction validation ------------------------------------------ */

/*
 * Which fields each opcode uses. Like the chip, the builder requires every
 * field an opcode does not use to be zero, so that they can be given a
 * meaning later without changing what old kernels do.
 */
#define F_R(i)		(1u << (i))
#define F_DIM(i)	(1u << (4 + (i)))
#define F_STRIDE(i)	(1u << (8 + (i)))
#define F_IMM(i)	(1u << (12 + (i)))
#define F_BRANCH	(1u << 16)	/* imm[2] is a target index */
#define F_R012		(F_R(0) | F_R(1) | F_R(2))
#define F_STRIDE012	(F_STRIDE(0) | F_STRIDE(1) | F_STRIDE(2))
#define F_IMM64		(F_IMM(0) | F_IMM(1))
#define F_IMM0123	(F_IMM64 | F_IMM(2) | F_IMM(3))
#define F_STRIDE0123	(F_STRIDE012 | F_STRIDE(3))
#define F_DIM123	(F_DIM(1) | F_DIM(2) | F_DIM(3))
/* JAL_INSN_F_ROWS: the row count in dim[3], row pitches of d and a. */
#define F_ROWS		(F_DIM(3) | F_STRIDE(0) | F_STRIDE(1))

/* dtypes an opcode accepts (bit per enum jal_dtype); 0: dtype must be 0 */
#define DT(d)		(1u << (d))
#define DT_F32		DT(JAL_DTYPE_F32)
#define DT_WEIGHTS	(DT(JAL_DTYPE_F32) | DT(JAL_DTYPE_BF16) | DT(JAL_DTYPE_Q8) | \
			 DT(JAL_DTYPE_S24) | DT(JAL_DTYPE_Q4))
#define DT_TABLE	(DT(JAL_DTYPE_F32) | DT(JAL_DTYPE_BF16) | DT(JAL_DTYPE_Q8))
/* The paged ops' dtype is that of their KV pools. */
#define DT_KV		(DT(JAL_DTYPE_F32) | DT(JAL_DTYPE_BF16))

struct jalrt_op_desc {
	const char *name;
	uint32_t fields;
	uint32_t dtypes;
	/* Extra fields used with JAL_DTYPE_Q8 / JAL_DTYPE_S24 weights. */
	uint32_t q8_fields;
	uint32_t s24_fields;
	/* Fields used with JAL_INSN_F_ROWS instead of @fields; 0: no rows. */
	uint32_t rows_fields;
};

static const struct jalrt_op_desc *op_desc(unsigned int opcode)
{
	static const struct jalrt_op_desc nop = { "NOP", 0, 0, 0, 0, 0 },
		halt = { "HALT", 0, 0, 0, 0, 0 },
		li = { "LI", F_R(0) | F_IMM64, 0, 0, 0, 0 },
		addi = { "ADDI", F_R(0) | F_R(1) | F_IMM64, 0, 0, 0, 0 },
		add = { "ADD", F_R012, 0, 0, 0, 0 },
		muli = { "MULI", F_R(0) | F_R(1) | F_IMM64, 0, 0, 0, 0 },
		jump = { "JUMP", F_IMM(2) | F_BRANCH, 0, 0, 0, 0 },
		bne = { "BNE", F_R(1) | F_R(2) | F_IMM(2) | F_BRANCH, 0, 0, 0, 0 },
		bltu = { "BLTU", F_R(1) | F_R(2) | F_IMM(2) | F_BRANCH, 0, 0, 0, 0 },
		beq = { "BEQ", F_R(1) | F_R(2) | F_IMM(2) | F_BRANCH, 0, 0, 0, 0 },
		ld32 = { "LD32", F_R(0) | F_R(1) | F_IMM64, 0, 0, 0, 0 },
		ld64 = { "LD64", F_R(0) | F_R(1) | F_IMM64, 0, 0, 0, 0 },
		st32 = { "ST32", F_R(0) | F_R(1) | F_IMM64, 0, 0, 0, 0 },
		st64 = { "ST64", F_R(0) | F_R(1) | F_IMM64, 0, 0, 0, 0 },
		vadd = { "VADD", F_R012 | F_DIM(0) | F_STRIDE012, DT_F32, 0, 0, 0 },
		vmul = { "VMUL", F_R012 | F_DIM(0) | F_STRIDE012, DT_F32, 0, 0, 0 },
		vscale = { "VSCALE", F_R(0) | F_R(1) | F_DIM(0) | F_STRIDE(0) | F_STRIDE(1) |
				     F_IMM(0), DT_F32, 0, 0, 0 },
		matvec = { "MATVEC", F_R012 | F_DIM(0) | F_DIM(1) | F_STRIDE012, DT_WEIGHTS,
			   F_R(3) | F_DIM(2), F_R(3), 0 },
		matmul = { "MATMUL", F_R012 | F_DIM(0) | F_DIM(1) | F_DIM(2) | F_STRIDE012,
			   DT_WEIGHTS, F_R(3) | F_DIM(3), F_R(3), 0 },
		rmsnorm = { "RMSNORM", F_R012 | F_DIM(0) | F_IMM(0), DT_F32, 0, 0,
			    F_R012 | F_DIM(0) | F_IMM(0) | F_ROWS },
		softmax = { "SOFTMAX", F_R(0) | F_R(1) | F_DIM(0), DT_F32, 0, 0,
			    F_R(0) | F_R(1) | F_DIM(0) | F_ROWS },
		rope = { "ROPE", F_R(0) | F_R(1) | F_DIM(0) | F_DIM(1) | F_DIM(2) | F_IMM(0),
			 DT_F32, 0, 0, F_R012 | F_DIM(0) | F_DIM(1) | F_IMM(0) | F_ROWS },
		silu_mul = { "SILU_MUL", F_R012 | F_DIM(0), DT_F32, 0, 0,
			     F_R012 | F_DIM(0) | F_STRIDE(2) | F_ROWS },
		attention = { "ATTENTION", F_R012 | F_R(3) | F_DIM(0) | F_DIM(1) | F_DIM(2) |
					   F_DIM(3) | F_STRIDE(2) | F_STRIDE(3), DT_F32, 0, 0, 0 },
		embed = { "EMBED", F_R(0) | F_R(1) | F_DIM(0) | F_DIM(1) | F_DIM(2) | F_STRIDE(1),
			  DT_TABLE, F_R(3) | F_STRIDE(3), 0,
			  F_R012 | F_DIM(0) | F_DIM(2) | F_ROWS },
		argmax = { "ARGMAX", F_R(0) | F_R(1) | F_DIM(0), DT_F32, 0, 0,
			   F_R(0) | F_R(1) | F_DIM(0) | F_DIM(3) | F_STRIDE(1) },
		sample = { "SAMPLE", F_R012 | F_DIM(0) | F_IMM(0) | F_IMM(1), DT_F32, 0, 0,
			   F_R012 | F_R(3) | F_DIM(0) | F_DIM(3) | F_STRIDE(1) },
		paged_attention = { "PAGED_ATTENTION", F_R012 | F_R(3) | F_DIM(0) | F_DIM123 |
						       F_STRIDE0123 | F_IMM0123, DT_KV, 0, 0, 0 },
		paged_kv_store = { "PAGED_KV_STORE", F_R012 | F_R(3) | F_DIM123 | F_STRIDE0123 |
						     F_IMM0123, DT_KV, 0, 0, 0 };

	switch (opcode) {
	case JAL_OP_NOP: return &nop;
	case JAL_OP_HALT: return &halt;
	case JAL_OP_LI: return &li;
	case JAL_OP_ADDI: return &addi;
	case JAL_OP_ADD: return &add;
	case JAL_OP_MULI: return &muli;
	case JAL_OP_JUMP: return &jump;
	case JAL_OP_BNE: return &bne;
	case JAL_OP_BLTU: return &bltu;
	case JAL_OP_BEQ: return &beq;
	case JAL_OP_LD32: return &ld32;
	case JAL_OP_LD64: return &ld64;
	case JAL_OP_ST32: return &st32;
	case JAL_OP_ST64: return &st64;
	case JAL_OP_VADD: return &vadd;
	case JAL_OP_VMUL: return &vmul;
	case JAL_OP_VSCALE: return &vscale;
	case JAL_OP_MATVEC: return &matvec;
	case JAL_OP_MATMUL: return &matmul;
	case JAL_OP_RMSNORM: return &rmsnorm;
	case JAL_OP_SOFTMAX: return &softmax;
	case JAL_OP_ROPE: return &rope;
	case JAL_OP_SILU_MUL: return &silu_mul;
	case JAL_OP_ATTENTION: return &attention;
	case JAL_OP_EMBED: return &embed;
	case JAL_OP_ARGMAX: return &argmax;
	case JAL_OP_SAMPLE: return &sample;
	case JAL_OP_PAGED_ATTENTION: return &paged_attention;
	case JAL_OP_PAGED_KV_STORE: return &paged_kv_store;
	default: return NULL;
	}
}

const char *jalrt_opcode_name(unsigned int opcode)
{
	const struct jalrt_op_desc *d = op_desc(opcode);

	return d ? d->name : "unknown";
}

const char *jalrt_dtype_name(unsigned int dtype)
{
	static const char *const names[JAL_DTYPE_COUNT] = {
		[JAL_DTYPE_F32] = "F32", [JAL_DTYPE_BF16] = "BF16",
		[JAL_DTYPE_Q8] = "Q8", [JAL_DTYPE_S24] = "S24", [JAL_DTYPE_Q4] = "Q4",
	};

	return dtype < JAL_DTYPE_COUNT ? names[dtype] : "unknown";
}

/* Fields @d uses with @dtype, over rows or not. */
static uint32_t op_fields(const struct jalrt_op_desc *d, unsigned int dtype, bool rows)
{
	uint32_t fields = rows ? d->rows_fields : d->fields;

	/* Q4's scales and group are in Q8's fields */
	if (dtype == JAL_DTYPE_Q8 || dtype == JAL_DTYPE_Q4)
		return fields | d->q8_fields;
	if (dtype == JAL_DTYPE_S24)
		return fields | d->s24_fields;
	return fields;
}

/*
 * Highest element index an operand of @n elements and @stride touches
 * must stay within the 256 MiB operand limit.
 */
static bool span_ok(uint64_t n, uint64_t stride)
{
	return n == 0 || (n - 1) * stride <= JALRT_MAX_OPERAND_SPAN;
}

static int insn_error(uint32_t index, const struct jal_insn *insn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int insn_error(uint32_t index, const struct jal_insn *insn, const char *fmt, ...)
{
	char detail[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return jalrt_set_error(-EINVAL, "kernel instruction %u (%s, opcode 0x%02x): %s", index,
			       jalrt_opcode_name(insn->opcode), insn->opcode, detail);
}

static int check_vector_extents(const struct jal_insn *in, uint32_t index, unsigned int ops)
{
	static const char *const names[] = { "destination", "a", "b" };
	unsigned int i;

	if (in->flags & JAL_INSN_F_DIM_REG(0))
		return 0;	/* known only at run time; the chip checks it */
	for (i = 0; i < ops; i++)
		if (!span_ok(in->dim[0], in->stride[i]))
			return insn_error(index, in,
					  "%s operand of %u elements with stride %u spans more than 256 MiB",
					  names[i], in->dim[0], in->stride[i]);
	return 0;
}

/* Is dim[i] a constant (not taken from a register)? */
static bool dim_const(const struct jal_insn *in, unsigned int i)
{
	return !(in->flags & JAL_INSN_F_DIM_REG(i));
}

/*
 * Bytes from the first to the end of the last element of @count items of
 * @item_bytes, @pitch_bytes apart, compared with the operand limit; 128-bit
 * so that no 32 x 32-bit product can wrap.
 */
static bool extent_ok(uint64_t count, uint64_t pitch_bytes, uint64_t item_bytes)
{
	unsigned __int128 span;

	if (!count)
		return true;
	span = (unsigned __int128)(count - 1) * pitch_bytes + item_bytes;
	return span <= JALRT_MAX_OPERAND_BYTES;
}

/* Bytes of one weight element (S24: one stored value; Q4: the unit of its pitch, a byte). */
static uint64_t weight_bytes(unsigned int dtype)
{
	switch (dtype) {
	case JAL_DTYPE_BF16:
	case JAL_DTYPE_S24:
		return 2;
	case JAL_DTYPE_Q8:
	case JAL_DTYPE_Q4:
		return 1;
	default:
		return 4;
	}
}

/*
 * The weight operand of MATVEC/MATMUL: @rows x @cols of in->dtype with row
 * pitch stride[1], Q8 group in dim[@group_dim]. Only constant shapes are
 * checked; the chip checks the rest when the instruction runs.
 */
static int check_weights(const struct jal_insn *in, uint32_t index, unsigned int group_dim)
{
	bool rows_c = dim_const(in, 0), cols_c = dim_const(in, 1);
	uint64_t rows = in->dim[0], cols = in->dim[1], pitch = in->stride[1];
	uint64_t row_len = cols, esize = weight_bytes(in->dtype);

	if (in->dtype == JAL_DTYPE_S24) {
		if (cols_c && cols % 4)
			return insn_error(index, in, "S24 weights need a multiple of 4 columns, not %llu",
					  (unsigned long long)cols);
		row_len = cols / 2;
	}
	if (in->dtype == JAL_DTYPE_Q4) {
		/* rows of bytes (two columns each); groups and row length as the chip */
		if (dim_const(in, group_dim) && in->dim[group_dim] != JAL_Q4_GROUP)
			return insn_error(index, in, "Q4 group size (dim[%u]) is %u, not %u",
					  group_dim, in->dim[group_dim], JAL_Q4_GROUP);
		if (cols_c && (cols % JAL_Q4_GROUP || cols > JAL_Q8X_MAX_COLS))
			return insn_error(index, in,
					  "Q4 weights need a multiple of %u columns up to %u, not %llu",
					  JAL_Q4_GROUP, JAL_Q8X_MAX_COLS, (unsigned long long)cols);
		row_len = cols / 2;
		esize = 1;
	}
	if (in->dtype == JAL_DTYPE_Q8 && dim_const(in, group_dim)) {
		uint64_t group = in->dim[group_dim];

		if (!group)
			return insn_error(index, in, "Q8 group size (dim[%u]) is 0", group_dim);
		if (cols_c && cols % group)
			return insn_error(index, in,
					  "%llu columns are not a multiple of the Q8 group size %llu",
					  (unsigned long long)cols, (unsigned long long)group);
	}
	if (cols_c && pitch && pitch < row_len)
		return insn_error(index, in, "row pitch %llu is smaller than a row (%llu %s)",
				  (unsigned long long)pitch, (unsigned long long)row_len,
				  in->dtype == JAL_DTYPE_S24 ? "values" : "columns");
	if (rows_c && cols_c && rows && cols) {
		if (!extent_ok(rows, (pitch ? pitch : row_len) * esize, row_len * esize))
			return insn_error(index, in,
					  "%s matrix of %llu x %llu (row pitch %llu) spans more than 256 MiB",
					  jalrt_dtype_name(in->dtype), (unsigned long long)rows,
					  (unsigned long long)cols,
					  (unsigned long long)(pitch ? pitch : row_len));
		/* Q8 scales: one f32 per group; S24 indices: one byte per 4 columns. */
		if ((in->dtype == JAL_DTYPE_Q8 || in->dtype == JAL_DTYPE_Q4) &&
		    dim_const(in, group_dim) && in->dim[group_dim] &&
		    !extent_ok(rows, cols / in->dim[group_dim] * 4, cols / in->dim[group_dim] * 4))
			return insn_error(index, in, "%s scales span more than 256 MiB",
					  jalrt_dtype_name(in->dtype));
		if (in->dtype == JAL_DTYPE_S24 && !extent_ok(rows, cols / 4, cols / 4))
			return insn_error(index, in, "S24 index bytes span more than 256 MiB");
	}
	return 0;
}

/* JAL_INSN_F_Q8X (group size in dim[@group_dim]), then the weights. */
static int check_q8x(const struct jal_insn *in, uint32_t index, unsigned int group_dim)
{
	uint32_t group = in->dim[group_dim];

	if (in->flags & JAL_INSN_F_Q8X) {
		/* The chip quantises x into on-chip buffers of these sizes. */
		if (dim_const(in, group_dim) && (group % 4 || group > JAL_Q8X_MAX_GROUP))
			return insn_error(index, in,
					  "JAL_INSN_F_Q8X needs a Q8 group that is a multiple of 4 up to %u, not %u",
					  JAL_Q8X_MAX_GROUP, group);
		if (dim_const(in, 1) && in->dim[1] > JAL_Q8X_MAX_COLS)
			return insn_error(index, in,
					  "JAL_INSN_F_Q8X quantises at most %u columns, not %u",
					  JAL_Q8X_MAX_COLS, in->dim[1]);
	}
	return check_weights(in, index, group_dim);
}

static int check_matvec(const struct jal_insn *in, uint32_t index)
{
	uint64_t rows = in->dim[0], cols = in->dim[1];

	if (dim_const(in, 0) && !extent_ok(rows, (uint64_t)in->stride[0] * 4, 4))
		return insn_error(index, in,
				  "destination of %llu rows with stride %u spans more than 256 MiB",
				  (unsigned long long)rows, in->stride[0]);
	if (dim_const(in, 1) && !extent_ok(cols, (uint64_t)in->stride[2] * 4, 4))
		return insn_error(index, in,
				  "x of %llu elements with stride %u spans more than 256 MiB",
				  (unsigned long long)cols, in->stride[2]);
	return check_q8x(in, index, 2);
}

static int check_matmul(const struct jal_insn *in, uint32_t index)
{
	uint64_t m = in->dim[0], k = in->dim[1], n = in->dim[2];
	uint64_t dp = in->stride[0], xp = in->stride[2];

	if (dim_const(in, 0) && dp && dp < m)
		return insn_error(index, in, "row pitch %llu of D is smaller than its %llu columns",
				  (unsigned long long)dp, (unsigned long long)m);
	if (dim_const(in, 1) && xp && xp < k)
		return insn_error(index, in, "row pitch %llu of X is smaller than its %llu columns",
				  (unsigned long long)xp, (unsigned long long)k);
	if (dim_const(in, 0) && dim_const(in, 2) && m &&
	    !extent_ok(n, (dp ? dp : m) * 4, m * 4))
		return insn_error(index, in, "D of %llu x %llu spans more than 256 MiB",
				  (unsigned long long)n, (unsigned long long)m);
	if (dim_const(in, 1) && dim_const(in, 2) && k &&
	    !extent_ok(n, (xp ? xp : k) * 4, k * 4))
		return insn_error(index, in, "X of %llu x %llu spans more than 256 MiB",
				  (unsigned long long)n, (unsigned long long)k);
	return check_q8x(in, index, 3);
}

/* Contiguous f32 operands of dim[0] elements (RMSNORM, SOFTMAX, ...). */
static int check_dense(const struct jal_insn *in, uint32_t index, bool nonempty)
{
	if (!dim_const(in, 0))
		return 0;
	if (nonempty && !in->dim[0])
		return insn_error(index, in, "needs at least one element (dim[0] is 0)");
	if (!extent_ok(in->dim[0], 4, 4))
		return insn_error(index, in, "%u elements span more than 256 MiB", in->dim[0]);
	return 0;
}

static float insn_f32(uint32_t bits)
{
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

static int check_rope(const struct jal_insn *in, uint32_t index)
{
	uint64_t n = in->dim[0], hs = in->dim[1];
	int ret = check_dense(in, index, false);

	if (ret)
		return ret;
	if (dim_const(in, 0) && n % 2)
		return insn_error(index, in, "%llu elements: RoPE rotates pairs, n must be even",
				  (unsigned long long)n);
	if (dim_const(in, 1) && (!hs || hs % 2))
		return insn_error(index, in, "head size %llu is not a positive even number",
				  (unsigned long long)hs);
	if (dim_const(in, 0) && dim_const(in, 1) && hs && n % hs)
		return insn_error(index, in, "head size %llu does not divide the %llu elements",
				  (unsigned long long)hs, (unsigned long long)n);
	if (in->flags & JAL_INSN_F_ROPE_FREQS) {
		/* the chip holds the table in a buffer of 32768 pairs */
		if (dim_const(in, 1) && hs > 65536)
			return insn_error(index, in,
					  "head size %llu: a ROPE frequency table holds at most 32768 pairs",
					  (unsigned long long)hs);
		return 0;
	}
	if (!isfinite(insn_f32(in->imm[0])) || !(insn_f32(in->imm[0]) > 0.0f))
		return insn_error(index, in, "theta %g is not a positive number",
				  insn_f32(in->imm[0]));
	return 0;
}

static int check_attention(const struct jal_insn *in, uint32_t index)
{
	uint64_t heads = in->dim[0], hs = in->dim[1], kvh = in->dim[2];

	if (dim_const(in, 1) && !hs)
		return insn_error(index, in, "head size is 0");
	if (dim_const(in, 2) && !kvh)
		return insn_error(index, in, "no KV heads (dim[2] is 0)");
	if (dim_const(in, 0) && !heads)
		return insn_error(index, in, "no query heads (dim[0] is 0)");
	if (dim_const(in, 0) && dim_const(in, 2) && kvh && heads % kvh)
		return insn_error(index, in, "%llu KV heads do not divide %llu query heads",
				  (unsigned long long)kvh, (unsigned long long)heads);
	if (dim_const(in, 3) && !in->dim[3])
		return insn_error(index, in, "attends to 0 positions (dim[3] must be >= 1)");
	if (dim_const(in, 1) && hs > JAL_ATTENTION_MAX_HEAD_SIZE)
		return insn_error(index, in, "head size %llu is above the chip's %u",
				  (unsigned long long)hs, JAL_ATTENTION_MAX_HEAD_SIZE);
	if (dim_const(in, 1) && dim_const(in, 2)) {
		uint64_t row = kvh * hs;

		if ((in->stride[2] && in->stride[2] < row) ||
		    (in->stride[3] && in->stride[3] < row))
			return insn_error(index, in,
					  "K/V pitch %u/%u is less than a position's %llu floats",
					  in->stride[2], in->stride[3], (unsigned long long)row);
	}
	if (dim_const(in, 0) && dim_const(in, 1) && !extent_ok(heads * hs, 4, 4))
		return insn_error(index, in, "query of %llu x %llu spans more than 256 MiB",
				  (unsigned long long)heads, (unsigned long long)hs);
	return 0;
}

static int check_embed(const struct jal_insn *in, uint32_t index)
{
	uint64_t dim = in->dim[0], row = in->dim[1], rows = in->dim[2], pitch = in->stride[1];

	if (dim_const(in, 1) && dim_const(in, 2) && row >= rows)
		return insn_error(index, in, "row %llu is outside the table of %llu rows",
				  (unsigned long long)row, (unsigned long long)rows);
	if (dim_const(in, 0) && pitch && pitch < dim)
		return insn_error(index, in, "row pitch %llu is smaller than a row (%llu)",
				  (unsigned long long)pitch, (unsigned long long)dim);
	if (in->dtype == JAL_DTYPE_Q8) {
		if (!in->stride[3])
			return insn_error(index, in, "Q8 group size (stride[3]) is 0");
		if (dim_const(in, 0) && dim % in->stride[3])
			return insn_error(index, in, "row of %llu is not a multiple of the Q8 group %u",
					  (unsigned long long)dim, in->stride[3]);
	}
	/*
	 * Only the selected row is read, so the limit is the row's, not the
	 * table's (a 128256 x 4096 f32 table is 2 GiB).
	 */
	if (dim_const(in, 0) && dim && !extent_ok(1, 0, dim * weight_bytes(in->dtype)))
		return insn_error(index, in, "a table row of %llu elements spans more than 256 MiB",
				  (unsigned long long)dim);
	return check_dense(in, index, false);
}

static int check_sample(const struct jal_insn *in, uint32_t index)
{
	float t = insn_f32(in->imm[0]), p = insn_f32(in->imm[1]);

	/* Rows: memory operands, each row's parameters checked by the chip. */
	if (in->flags & JAL_INSN_F_ROWS)
		return check_dense(in, index, true);
	if (!isfinite(t) || t < 0.0f)
		return insn_error(index, in, "temperature %g is not a finite value >= 0", t);
	if (isnan(p))
		return insn_error(index, in, "top-p is NaN");
	/* Both are written: the chip refuses to make one of them ambiguous. */
	if (in->r[0] == in->r[2])
		return insn_error(index, in, "result and rng state are both r%u", in->r[0]);
	if (dim_const(in, 0) && in->dim[0] > JAL_SAMPLE_MAX_LOGITS)
		return insn_error(index, in, "%u logits, the chip samples at most %u", in->dim[0],
				  JAL_SAMPLE_MAX_LOGITS);
	return check_dense(in, index, true);
}

/*
 * JAL_INSN_F_ROWS: the row count and the pitches of the operands that
 * advance by rows (d, a; b for SILU_MUL), each at least a row of dim[0].
 */
static int check_rows(const struct jal_insn *in, uint32_t index)
{
	static const char *const names[3] = { "d", "a", "b" };
	uint64_t n = in->dim[0], rows = in->dim[3];
	unsigned int k;

	if (dim_const(in, 3) && rows > JAL_ROWS_MAX)
		return insn_error(index, in, "%llu rows, the chip takes at most %u",
				  (unsigned long long)rows, JAL_ROWS_MAX);
	for (k = 0; k < 3; k++) {
		uint64_t pitch = in->stride[k];

		/* EMBED's stride[1] is its table's pitch, checked with the table. */
		if (!pitch || (k == 1 && in->opcode == JAL_OP_EMBED) || !dim_const(in, 0))
			continue;
		if (pitch < n)
			return insn_error(index, in, "row pitch %llu of %s is less than a row of %llu",
					  (unsigned long long)pitch, names[k], (unsigned long long)n);
		if (dim_const(in, 3) && !extent_ok(rows, pitch * 4, n * 4))
			return insn_error(index, in, "%s of %llu rows spans more than 256 MiB",
					  names[k], (unsigned long long)rows);
	}
	return 0;
}

/* PAGED_ATTENTION and PAGED_KV_STORE: pools, tables, heads, rows. */
static int check_paged(const struct jal_insn *in, uint32_t index)
{
	uint64_t hs = in->dim[1], kvh = in->dim[2];
	uint64_t esize = in->dtype == JAL_DTYPE_BF16 ? 2 : 4;

	if (in->imm[0] >= JAL_NUM_REGS || in->imm[1] >= JAL_NUM_REGS)
		return insn_error(index, in,
				  "imm[0] = %u (per-row u32s) and imm[1] = %u (block tables) must name registers",
				  in->imm[0], in->imm[1]);
	if (!in->imm[2])
		return insn_error(index, in, "KV blocks of 0 positions (imm[2])");
	if (!in->imm[3])
		return insn_error(index, in, "KV pools of 0 blocks (imm[3])");
	if (!in->stride[2] || in->stride[2] > JAL_PAGED_MAX_BLOCKS)
		return insn_error(index, in, "block tables of %u entries, not 1..%u",
				  in->stride[2], JAL_PAGED_MAX_BLOCKS);
	if (in->stride[3] && in->stride[3] < in->stride[2])
		return insn_error(index, in, "block table pitch %u is less than a table of %u",
				  in->stride[3], in->stride[2]);
	if (dim_const(in, 3) && in->dim[3] > JAL_ROWS_MAX)
		return insn_error(index, in, "%u rows, the chip takes at most %u", in->dim[3],
				  JAL_ROWS_MAX);
	if (dim_const(in, 1) && (!hs || hs > JAL_ATTENTION_MAX_HEAD_SIZE))
		return insn_error(index, in, "head size %llu is not in 1..%u",
				  (unsigned long long)hs, JAL_ATTENTION_MAX_HEAD_SIZE);
	if (dim_const(in, 2) && !kvh)
		return insn_error(index, in, "no KV heads (dim[2] is 0)");
	if (in->opcode == JAL_OP_PAGED_ATTENTION && dim_const(in, 0) && dim_const(in, 2) &&
	    kvh && in->dim[0] % kvh)
		return insn_error(index, in, "%llu KV heads do not divide %u query heads",
				  (unsigned long long)kvh, in->dim[0]);
	if (dim_const(in, 1) && dim_const(in, 2) &&
	    !extent_ok(in->imm[2], kvh * hs * esize, kvh * hs * esize))
		return insn_error(index, in, "a KV block of %u positions spans more than 256 MiB",
				  in->imm[2]);
	return 0;
}

/* The opcode's own rules (shapes, extents) once the fields are known good. */
static int check_op(const struct jal_insn *in, uint32_t index)
{
	int ret;

	if (in->flags & JAL_INSN_F_ROWS) {
		ret = check_rows(in, index);
		if (ret)
			return ret;
	}
	switch (in->opcode) {
	case JAL_OP_VADD:
	case JAL_OP_VMUL:
		return check_vector_extents(in, index, 3);
	case JAL_OP_VSCALE:
		return check_vector_extents(in, index, 2);
	case JAL_OP_MATVEC:
		return check_matvec(in, index);
	case JAL_OP_MATMUL:
		return check_matmul(in, index);
	case JAL_OP_RMSNORM:
	case JAL_OP_SILU_MUL:
		return check_dense(in, index, false);
	case JAL_OP_SOFTMAX:
	case JAL_OP_ARGMAX:
		return check_dense(in, index, true);
	case JAL_OP_ROPE:
		return check_rope(in, index);
	case JAL_OP_ATTENTION:
		return check_attention(in, index);
	case JAL_OP_EMBED:
		return check_embed(in, index);
	case JAL_OP_SAMPLE:
		return check_sample(in, index);
	case JAL_OP_PAGED_ATTENTION:
	case JAL_OP_PAGED_KV_STORE:
		return check_paged(in, index);
	default:
		return 0;
	}
}

int jalrt_validate_insn(const struct jal_insn *in, uint32_t index, uint32_t count)
{
	const struct jalrt_op_desc *d = op_desc(in->opcode);
	uint32_t fields;
	unsigned int i;

	if (!d)
		return insn_error(index, in, "unknown opcode");
	if (in->reserved[0] || in->reserved[1])
		return insn_error(index, in, "reserved words are not zero");
	if (in->dtype >= JAL_DTYPE_COUNT)
		return insn_error(index, in, "dtype %u is not defined", in->dtype);
	if (!d->dtypes && in->dtype)
		return insn_error(index, in, "%s has no data operands: dtype must be 0, not %s",
				  d->name, jalrt_dtype_name(in->dtype));
	if (d->dtypes && !(d->dtypes & DT(in->dtype)))
		return insn_error(index, in, "%s does not take dtype %s", d->name,
				  jalrt_dtype_name(in->dtype));
	if (in->flags & ~JAL_INSN_F_VALID_MASK)
		return insn_error(index, in, "undefined flag bits 0x%x set",
				  in->flags & ~JAL_INSN_F_VALID_MASK);
	if ((in->flags & JAL_INSN_F_Q8X) &&
	    ((in->opcode != JAL_OP_MATVEC && in->opcode != JAL_OP_MATMUL) ||
	     in->dtype != JAL_DTYPE_Q8))
		return insn_error(index, in,
				  "flag JAL_INSN_F_Q8X (quantised x) is only defined for MATVEC and MATMUL with Q8 weights, not for %s with %s",
				  d->name, jalrt_dtype_name(in->dtype));
	if ((in->flags & JAL_INSN_F_ROWS) && !d->rows_fields)
		return insn_error(index, in, "flag JAL_INSN_F_ROWS (rows of a batch) is not defined for %s",
				  d->name);
	if ((in->flags & JAL_INSN_F_ROPE_FREQS) && in->opcode != JAL_OP_ROPE)
		return insn_error(index, in,
				  "flag JAL_INSN_F_ROPE_FREQS (frequency table) is only defined for ROPE, not for %s",
				  d->name);
	fields = op_fields(d, in->dtype, in->flags & JAL_INSN_F_ROWS);
	/* ROPE with its own frequencies: the table in r[3], no theta. */
	if (in->flags & JAL_INSN_F_ROPE_FREQS)
		fields = (fields | F_R(3)) & ~F_IMM(0);
	for (i = 0; i < 4; i++) {
		bool dim_reg = in->flags & JAL_INSN_F_DIM_REG(i);

		if (fields & F_R(i)) {
			if (in->r[i] >= JAL_NUM_REGS)
				return insn_error(index, in, "register r[%u] = %u is not r0..r%u",
						  i, in->r[i], JAL_NUM_REGS - 1);
		} else if (in->r[i]) {
			return insn_error(index, in, "r[%u] is not used by %s (%s) and must be 0",
					  i, d->name, jalrt_dtype_name(in->dtype));
		}
		if (fields & F_DIM(i)) {
			if (dim_reg && in->dim[i] >= JAL_NUM_REGS)
				return insn_error(index, in, "dim[%u] names register %u, not r0..r%u",
						  i, in->dim[i], JAL_NUM_REGS - 1);
		} else if (dim_reg) {
			return insn_error(index, in, "DIM_REG flag on dim[%u], which %s does not use",
					  i, d->name);
		} else if (in->dim[i]) {
			return insn_error(index, in, "dim[%u] is not used by %s (%s) and must be 0",
					  i, d->name, jalrt_dtype_name(in->dtype));
		}
		if (!(fields & F_STRIDE(i)) && in->stride[i])
			return insn_error(index, in, "stride[%u] is not used by %s (%s) and must be 0",
					  i, d->name, jalrt_dtype_name(in->dtype));
		if (!(fields & F_IMM(i)) && in->imm[i])
			return insn_error(index, in, "imm[%u] is not used by %s and must be 0", i,
					  d->name);
	}
	if ((fields & F_BRANCH) && count && in->imm[2] > count)
		return insn_error(index, in, "branch target %u is past the end (%u instructions)",
				  in->imm[2], count);
	return check_op(in, index);
}

/* ---- builder ------------------------------------------------------------ */

/* Record @err as the builder's first error (message already set). */
static int kb_fail(struct jalrt_kernel_builder *kb, int err)
{
	if (!kb->error) {
		kb->error = err;
		snprintf(kb->errmsg, sizeof(kb->errmsg), "%s", jalrt_last_error_message());
	}
	return err;
}

/* Replay the builder's first error into this thread's message. */
static int kb_replay_error(const struct jalrt_kernel_builder *kb, const char *fn)
{
	return jalrt_set_error(kb->error, "%s: builder has an earlier error: %s", fn, kb->errmsg);
}

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

JALRT_API int jalrt_kb_create(unsigned int num_args, struct jalrt_kernel_builder **out)
{
	struct jalrt_kernel_builder *kb;

	if (!out)
		return jalrt_set_error(-EINVAL, "jalrt_kb_create: NULL kb");
	*out = NULL;
	if (num_args > JAL_MAX_ARGS)
		return jalrt_set_error(-EINVAL, "jalrt_kb_create: %u arguments, at most %u",
				       num_args, JAL_MAX_ARGS);
	kb = calloc(1, sizeof(*kb));
	if (!kb)
		return jalrt_set_error(-ENOMEM, "jalrt_kb_create: out of memory");
	kb->num_args = num_args;
	*out = kb;
	return 0;
}

JALRT_API int jalrt_kb_destroy(struct jalrt_kernel_builder *kb)
{
	if (!kb)
		return 0;
	free(kb->insns);
	free(kb->labels);
	free(kb->fixups);
	free(kb);
	return 0;
}

JALRT_API uint32_t jalrt_kb_count(const struct jalrt_kernel_builder *kb)
{
	return kb ? kb->count : 0;
}

JALRT_API int jalrt_kb_error(const struct jalrt_kernel_builder *kb)
{
	if (!kb)
		return jalrt_set_error(-EINVAL, "jalrt_kb_error: NULL builder");
	if (kb->error)
		jalrt_set_error(kb->error, "%s", kb->errmsg);
	return kb->error;
}

/* Append without the NULL check; the typed helpers come through here. */
static int kb_append(struct jalrt_kernel_builder *kb, const struct jal_insn *insn)
{
	int ret;

	if (kb->count >= JALRT_KB_MAX_INSNS)
		return kb_fail(kb, jalrt_set_error(-E2BIG,
				"kernel instruction %u: kernels hold at most %zu instructions",
				kb->count, (size_t)JALRT_KB_MAX_INSNS));
	/* Branch targets are checked at link time, when the length is known. */
	ret = jalrt_validate_insn(insn, kb->count, 0);
	if (ret)
		return kb_fail(kb, ret);
	if (grow((void **)&kb->insns, &kb->cap, kb->count + 1, sizeof(*insn)))
		return kb_fail(kb, jalrt_set_error(-ENOMEM, "jalrt_kb_emit: out of memory"));
	kb->insns[kb->count++] = *insn;
	return 0;
}

JALRT_API int jalrt_kb_emit(struct jalrt_kernel_builder *kb, const struct jal_insn *insn)
{
	if (!kb || !insn)
		return jalrt_set_error(-EINVAL, "jalrt_kb_emit: NULL %s",
				       kb ? "instruction" : "builder");
	return kb_append(kb, insn);
}

static struct jal_insn insn_init(unsigned int opcode)
{
	struct jal_insn in;

	memset(&in, 0, sizeof(in));
	in.opcode = (uint8_t)opcode;
	in.dtype = JAL_DTYPE_F32;
	return in;
}

/*
 * Register arguments are unsigned int in the API but u8 in the encoding:
 * check before narrowing so r = 256 is not silently r0.
 */
static int check_regs(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
		      const unsigned int *regs, unsigned int n)
{
	unsigned int i;

	if (!kb)
		return jalrt_set_error(-EINVAL, "%s: NULL builder", fn);
	for (i = 0; i < n; i++)
		if (regs[i] >= JAL_NUM_REGS)
			return kb_fail(kb, jalrt_set_error(-EINVAL,
					"kernel instruction %u (%s): register %u is not r0..r%u",
					kb->count, jalrt_opcode_name(opcode), regs[i],
					JAL_NUM_REGS - 1));
	return 0;
}

static int emit_simple(struct jalrt_kernel_builder *kb, unsigned int opcode)
{
	struct jal_insn in = insn_init(opcode);

	if (!kb)
		return jalrt_set_error(-EINVAL, "jalrt_kb_%s: NULL builder",
				       opcode == JAL_OP_NOP ? "nop" : "halt");
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_nop(struct jalrt_kernel_builder *kb)
{
	return emit_simple(kb, JAL_OP_NOP);
}

JALRT_API int jalrt_kb_halt(struct jalrt_kernel_builder *kb)
{
	return emit_simple(kb, JAL_OP_HALT);
}

static int emit_scalar(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
		       unsigned int rd, unsigned int ra, unsigned int rb, uint64_t imm,
		       unsigned int nregs)
{
	unsigned int regs[3] = { rd, ra, rb };
	struct jal_insn in;
	int ret;

	ret = check_regs(kb, fn, opcode, regs, nregs);
	if (ret)
		return ret;
	in = insn_init(opcode);
	in.r[0] = (uint8_t)rd;
	if (nregs > 1)
		in.r[1] = (uint8_t)ra;
	if (nregs > 2)
		in.r[2] = (uint8_t)rb;
	in.imm[0] = (uint32_t)imm;
	in.imm[1] = (uint32_t)(imm >> 32);
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_li(struct jalrt_kernel_builder *kb, unsigned int rd, uint64_t imm)
{
	return emit_scalar(kb, __func__, JAL_OP_LI, rd, 0, 0, imm, 1);
}

JALRT_API int jalrt_kb_addi(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int rs,
			    uint64_t imm)
{
	return emit_scalar(kb, __func__, JAL_OP_ADDI, rd, rs, 0, imm, 2);
}

JALRT_API int jalrt_kb_add(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			   unsigned int rb)
{
	return emit_scalar(kb, __func__, JAL_OP_ADD, rd, ra, rb, 0, 3);
}

JALRT_API int jalrt_kb_muli(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int rs,
			    uint64_t imm)
{
	return emit_scalar(kb, __func__, JAL_OP_MULI, rd, rs, 0, imm, 2);
}

/* ---- labels ------------------------------------------------------------- */

JALRT_API int jalrt_kb_new_label(struct jalrt_kernel_builder *kb, uint32_t *label)
{
	if (!kb || !label)
		return jalrt_set_error(-EINVAL, "jalrt_kb_new_label: NULL %s",
				       kb ? "label" : "builder");
	if (kb->num_labels == UINT32_MAX - 1 ||
	    grow((void **)&kb->labels, &kb->cap_labels, kb->num_labels + 1,
		 sizeof(*kb->labels)))
		return kb_fail(kb, jalrt_set_error(-ENOMEM, "jalrt_kb_new_label: out of memory"));
	kb->labels[kb->num_labels] = JALRT_LABEL_UNBOUND;
	*label = kb->num_labels++;
	return 0;
}

JALRT_API int jalrt_kb_bind(struct jalrt_kernel_builder *kb, uint32_t label)
{
	if (!kb)
		return jalrt_set_error(-EINVAL, "jalrt_kb_bind: NULL builder");
	if (label >= kb->num_labels)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"jalrt_kb_bind: label %u was not made by jalrt_kb_new_label", label));
	if (kb->labels[label] != JALRT_LABEL_UNBOUND)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"jalrt_kb_bind: label %u is already bound to instruction %u",
				label, kb->labels[label]));
	kb->labels[label] = kb->count;
	return 0;
}

static int emit_branch(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
		       unsigned int ra, unsigned int rb, uint32_t label)
{
	unsigned int regs[2] = { ra, rb };
	struct jal_insn in;
	int ret;

	ret = check_regs(kb, fn, opcode, regs, opcode == JAL_OP_JUMP ? 0 : 2);
	if (ret)
		return ret;
	if (label >= kb->num_labels)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (%s): label %u was not made by jalrt_kb_new_label",
				kb->count, jalrt_opcode_name(opcode), label));
	if (grow((void **)&kb->fixups, &kb->cap_fixups, kb->num_fixups + 1,
		 sizeof(*kb->fixups)))
		return kb_fail(kb, jalrt_set_error(-ENOMEM, "%s: out of memory", fn));
	in = insn_init(opcode);
	if (opcode != JAL_OP_JUMP) {
		in.r[1] = (uint8_t)ra;
		in.r[2] = (uint8_t)rb;
	}
	/* Target filled in at link time; 0 is always a valid placeholder. */
	ret = kb_append(kb, &in);
	if (ret)
		return ret;
	kb->fixups[kb->num_fixups].insn = kb->count - 1;
	kb->fixups[kb->num_fixups].label = label;
	kb->num_fixups++;
	return 0;
}

JALRT_API int jalrt_kb_jump(struct jalrt_kernel_builder *kb, uint32_t label)
{
	return emit_branch(kb, __func__, JAL_OP_JUMP, 0, 0, label);
}

JALRT_API int jalrt_kb_bne(struct jalrt_kernel_builder *kb, unsigned int ra, unsigned int rb,
			   uint32_t label)
{
	return emit_branch(kb, __func__, JAL_OP_BNE, ra, rb, label);
}

JALRT_API int jalrt_kb_bltu(struct jalrt_kernel_builder *kb, unsigned int ra, unsigned int rb,
			    uint32_t label)
{
	return emit_branch(kb, __func__, JAL_OP_BLTU, ra, rb, label);
}

JALRT_API int jalrt_kb_beq(struct jalrt_kernel_builder *kb, unsigned int ra, unsigned int rb,
			   uint32_t label)
{
	return emit_branch(kb, __func__, JAL_OP_BEQ, ra, rb, label);
}

JALRT_API int jalrt_kb_ld32(struct jalrt_kernel_builder *kb, unsigned int rd,
			    unsigned int rbase, uint64_t offset)
{
	return emit_scalar(kb, __func__, JAL_OP_LD32, rd, rbase, 0, offset, 2);
}

JALRT_API int jalrt_kb_ld64(struct jalrt_kernel_builder *kb, unsigned int rd,
			    unsigned int rbase, uint64_t offset)
{
	return emit_scalar(kb, __func__, JAL_OP_LD64, rd, rbase, 0, offset, 2);
}

JALRT_API int jalrt_kb_st32(struct jalrt_kernel_builder *kb, unsigned int rs,
			    unsigned int rbase, uint64_t offset)
{
	return emit_scalar(kb, __func__, JAL_OP_ST32, rs, rbase, 0, offset, 2);
}

JALRT_API int jalrt_kb_st64(struct jalrt_kernel_builder *kb, unsigned int rs,
			    unsigned int rbase, uint64_t offset)
{
	return emit_scalar(kb, __func__, JAL_OP_ST64, rs, rbase, 0, offset, 2);
}

/* ---- vector and matrix ops ---------------------------------------------- */

static int set_dim(struct jalrt_kernel_builder *kb, struct jal_insn *in, unsigned int i,
		   struct jalrt_dim dim, const char *what)
{
	if (dim.from_reg) {
		if (dim.value >= JAL_NUM_REGS)
			return kb_fail(kb, jalrt_set_error(-EINVAL,
					"kernel instruction %u (%s): %s taken from register %u, not r0..r%u",
					kb->count, jalrt_opcode_name(in->opcode), what, dim.value,
					JAL_NUM_REGS - 1));
		in->flags |= JAL_INSN_F_DIM_REG(i);
	}
	in->dim[i] = dim.value;
	return 0;
}

static int emit_vector(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
		       unsigned int rd, unsigned int ra, unsigned int rb, struct jalrt_dim n,
		       uint32_t sd, uint32_t sa, uint32_t sb, uint32_t imm0)
{
	unsigned int regs[3] = { rd, ra, rb };
	unsigned int nregs = opcode == JAL_OP_VSCALE ? 2 : 3;
	struct jal_insn in;
	int ret;

	ret = check_regs(kb, fn, opcode, regs, nregs);
	if (ret)
		return ret;
	in = insn_init(opcode);
	in.r[0] = (uint8_t)rd;
	in.r[1] = (uint8_t)ra;
	in.stride[0] = sd;
	in.stride[1] = sa;
	if (nregs == 3) {
		in.r[2] = (uint8_t)rb;
		in.stride[2] = sb;
	}
	in.imm[0] = imm0;
	ret = set_dim(kb, &in, 0, n, "element count");
	if (ret)
		return ret;
	return kb_append(kb, &in);
}

static uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

JALRT_API int jalrt_kb_vadd(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			    unsigned int rb, struct jalrt_dim n)
{
	return emit_vector(kb, __func__, JAL_OP_VADD, rd, ra, rb, n, 1, 1, 1, 0);
}

JALRT_API int jalrt_kb_vmul(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			    unsigned int rb, struct jalrt_dim n)
{
	return emit_vector(kb, __func__, JAL_OP_VMUL, rd, ra, rb, n, 1, 1, 1, 0);
}

JALRT_API int jalrt_kb_vscale(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			      float scale, struct jalrt_dim n)
{
	return emit_vector(kb, __func__, JAL_OP_VSCALE, rd, ra, 0, n, 1, 1, 0, f32_bits(scale));
}

JALRT_API int jalrt_kb_vadd_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, unsigned int rb, struct jalrt_dim n,
				    uint32_t sd, uint32_t sa, uint32_t sb)
{
	return emit_vector(kb, __func__, JAL_OP_VADD, rd, ra, rb, n, sd, sa, sb, 0);
}

JALRT_API int jalrt_kb_vmul_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, unsigned int rb, struct jalrt_dim n,
				    uint32_t sd, uint32_t sa, uint32_t sb)
{
	return emit_vector(kb, __func__, JAL_OP_VMUL, rd, ra, rb, n, sd, sa, sb, 0);
}

JALRT_API int jalrt_kb_vscale_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				      unsigned int ra, float scale, struct jalrt_dim n,
				      uint32_t sd, uint32_t sa)
{
	return emit_vector(kb, __func__, JAL_OP_VSCALE, rd, ra, 0, n, sd, sa, 0, f32_bits(scale));
}

JALRT_API int jalrt_kb_matvec_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				      unsigned int rw, unsigned int rx, struct jalrt_dim rows,
				      struct jalrt_dim cols, uint32_t sd, uint32_t row_pitch,
				      uint32_t sx)
{
	unsigned int regs[3] = { rd, rw, rx };
	struct jal_insn in;
	int ret;

	ret = check_regs(kb, __func__, JAL_OP_MATVEC, regs, 3);
	if (ret)
		return ret;
	in = insn_init(JAL_OP_MATVEC);
	in.r[0] = (uint8_t)rd;
	in.r[1] = (uint8_t)rw;
	in.r[2] = (uint8_t)rx;
	in.stride[0] = sd;
	in.stride[1] = row_pitch;
	in.stride[2] = sx;
	ret = set_dim(kb, &in, 0, rows, "row count");
	if (!ret)
		ret = set_dim(kb, &in, 1, cols, "column count");
	if (ret)
		return ret;
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_matvec(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int rw,
			      unsigned int rx, struct jalrt_dim rows, struct jalrt_dim cols)
{
	return jalrt_kb_matvec_strided(kb, rd, rw, rx, rows, cols, 1, 0, 1);
}

/* ---- ISA 1.1 ops ----------------------------------------------------------- */

/* Registers of an instruction in r[0..3] order, checked before narrowing. */
static int set_regs(struct jalrt_kernel_builder *kb, const char *fn, struct jal_insn *in,
		    const unsigned int *regs, unsigned int n)
{
	unsigned int i;
	int ret = check_regs(kb, fn, in->opcode, regs, n);

	if (ret)
		return ret;
	for (i = 0; i < n; i++)
		in->r[i] = (uint8_t)regs[i];
	return 0;
}

static int check_dtype_arg(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
			   uint32_t dtype)
{
	if (dtype >= JAL_DTYPE_COUNT)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"%s: kernel instruction %u (%s): dtype %u is not defined", fn,
				kb->count, jalrt_opcode_name(opcode), dtype));
	return 0;
}

/*
 * Stored bytes of a row of @in's weights and of its scales / index bytes
 * (0 for F32 and BF16).
 */
static void weight_row_bytes(const struct jal_insn *in, unsigned int group_dim, uint64_t *row,
			     uint64_t *aux)
{
	uint64_t cols = in->dim[1], group = in->dim[group_dim];

	*aux = 0;
	switch (in->dtype) {
	case JAL_DTYPE_Q4:
		*row = cols / 2;
		*aux = cols / JAL_Q4_GROUP * 4;
		break;
	case JAL_DTYPE_Q8:
		*row = cols;
		*aux = group ? cols / group * 4 : 0;
		break;
	case JAL_DTYPE_S24:
		*row = cols;		/* cols / 2 bf16 values */
		*aux = cols / 4;
		break;
	default:
		*row = cols * weight_bytes(in->dtype);
		break;
	}
}

/*
 * Append a MATVEC / MATMUL, as several over blocks of rows when its
 * weights (or their scales) span more than the chip's 256 MiB operand
 * limit: a 128256 x 4096 classifier is 2 GiB at f32 and 512 MiB at Q8.
 * Each block's instruction reads the weights and scales of its rows and
 * writes its rows of d (MATMUL: its columns of D, whose row pitch then
 * stays the full row); ADDIs move the weight, scale and destination
 * registers from block to block and back at the end, so the caller's
 * registers keep their values. Rows are independent, so the result is
 * bit for bit the single instruction's. Register dims (known only when
 * the kernel runs) are left to the chip's check.
 */
static int append_row_blocks(struct jalrt_kernel_builder *kb, struct jal_insn *in, bool aux)
{
	bool mm = in->opcode == JAL_OP_MATMUL;
	unsigned int group_dim = mm ? 3 : 2;
	uint64_t rows = in->dim[0], row, aux_row, pitch, d_step, block, done, n, moved = 0;
	unsigned int rd = in->r[0], rw = in->r[1], rx = in->r[2], raux = in->r[3];
	int ret = 0;

	if (!dim_const(in, 0) || !dim_const(in, 1) || !dim_const(in, group_dim) || !rows ||
	    !in->dim[1])
		return kb_append(kb, in);
	weight_row_bytes(in, group_dim, &row, &aux_row);
	pitch = in->stride[1] ? in->stride[1] * weight_bytes(in->dtype) : row;
	if (pitch < row || (!row && !aux_row))
		return kb_append(kb, in);	/* bad pitch: the check says why */
	if (extent_ok(rows, pitch, row) && (!aux || extent_ok(rows, aux_row, aux_row)))
		return kb_append(kb, in);
	/* the registers move: they must be distinct, and x's must not move */
	if (rd == rw || rx == rw || rx == rd || (aux && (raux == rw || raux == rd || raux == rx)))
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (%s): %s weights of %llu rows span more than 256 MiB, and with shared registers they cannot be split into row blocks",
				kb->count, jalrt_opcode_name(in->opcode), jalrt_dtype_name(in->dtype),
				(unsigned long long)rows));
	/* a single row over the limit cannot be split: the check says so */
	if (row > JALRT_MAX_OPERAND_BYTES || aux_row > JALRT_MAX_OPERAND_BYTES)
		return kb_append(kb, in);
	block = (JALRT_MAX_OPERAND_BYTES - row) / pitch + 1;
	if (aux && aux_row && JALRT_MAX_OPERAND_BYTES / aux_row < block)
		block = JALRT_MAX_OPERAND_BYTES / aux_row;
	if (mm && !in->stride[0])
		in->stride[0] = (uint32_t)rows;	/* D's rows stay whole rows */
	d_step = mm ? 4 : (uint64_t)in->stride[0] * 4;
	for (done = 0; !ret && done < rows; done += n) {
		struct jal_insn piece = *in;

		n = rows - done < block ? rows - done : block;
		piece.dim[0] = (uint32_t)n;
		ret = kb_append(kb, &piece);
		if (ret || done + n == rows)
			break;
		ret = jalrt_kb_addi(kb, rw, rw, n * pitch);
		if (!ret && aux)
			ret = jalrt_kb_addi(kb, raux, raux, n * aux_row);
		if (!ret)
			ret = jalrt_kb_addi(kb, rd, rd, n * d_step);
		moved += n;
	}
	/* back to where the caller had them (two's complement steps) */
	if (!ret && moved)
		ret = jalrt_kb_addi(kb, rw, rw, -(moved * pitch));
	if (!ret && moved && aux)
		ret = jalrt_kb_addi(kb, raux, raux, -(moved * aux_row));
	if (!ret && moved)
		ret = jalrt_kb_addi(kb, rd, rd, -(moved * d_step));
	return ret;
}

/* MATVEC and MATMUL share their operand description. */
static int emit_matrix(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
		       const struct jalrt_matrix_op *op)
{
	bool aux = op && (op->dtype == JAL_DTYPE_Q8 || op->dtype == JAL_DTYPE_S24 ||
			  op->dtype == JAL_DTYPE_Q4);
	unsigned int regs[4];
	struct jal_insn in;
	int ret;

	if (!kb || !op)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", fn, kb ? "operation" : "builder");
	ret = check_dtype_arg(kb, fn, opcode, op->dtype);
	if (ret)
		return ret;
	if (!aux && (op->raux || op->group))
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (%s): %s weights take no scale/index register or group",
				kb->count, jalrt_opcode_name(opcode), jalrt_dtype_name(op->dtype)));
	if (op->dtype == JAL_DTYPE_S24 && op->group)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (%s): S24 weights have no group size",
				kb->count, jalrt_opcode_name(opcode)));
	if (op->dtype == JAL_DTYPE_Q4 && op->group && op->group != JAL_Q4_GROUP)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (%s): Q4 groups are %u columns, not %u",
				kb->count, jalrt_opcode_name(opcode), JAL_Q4_GROUP, op->group));
	/* DIM_REG flags follow the dims; a stray one would make a constant a register. */
	if (op->flags & ~JAL_INSN_F_Q8X)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (%s): flags 0x%x: only JAL_INSN_F_Q8X may be given",
				kb->count, jalrt_opcode_name(opcode), op->flags));
	in = insn_init(opcode);
	in.dtype = (uint8_t)op->dtype;
	/* Q8X's operand rules are the chip's: jalrt_validate_insn() checks them. */
	in.flags = (uint16_t)op->flags;
	regs[0] = op->rd;
	regs[1] = op->rw;
	regs[2] = op->rx;
	regs[3] = op->raux;
	ret = set_regs(kb, fn, &in, regs, aux ? 4 : 3);
	if (ret)
		return ret;
	ret = set_dim(kb, &in, 0, op->rows, "row count");
	if (!ret)
		ret = set_dim(kb, &in, 1, op->cols, "column count");
	if (ret)
		return ret;
	in.stride[1] = op->w_pitch;
	if (opcode == JAL_OP_MATVEC) {
		/* 0 means the plain stride 1, as jalrt_kb_matvec(). */
		in.stride[0] = op->d_stride ? op->d_stride : 1;
		in.stride[2] = op->x_stride ? op->x_stride : 1;
		in.dim[2] = op->dtype == JAL_DTYPE_Q8 ? op->group :
			    op->dtype == JAL_DTYPE_Q4 ? JAL_Q4_GROUP : 0;
	} else {
		in.stride[0] = op->d_stride;
		in.stride[2] = op->x_stride;
		ret = set_dim(kb, &in, 2, op->batch, "batch count");
		if (ret)
			return ret;
		in.dim[3] = op->dtype == JAL_DTYPE_Q8 ? op->group :
			    op->dtype == JAL_DTYPE_Q4 ? JAL_Q4_GROUP : 0;
	}
	return append_row_blocks(kb, &in, aux);
}

JALRT_API int jalrt_kb_matvec_op(struct jalrt_kernel_builder *kb,
				 const struct jalrt_matrix_op *op)
{
	return emit_matrix(kb, __func__, JAL_OP_MATVEC, op);
}

JALRT_API int jalrt_kb_matmul(struct jalrt_kernel_builder *kb, const struct jalrt_matrix_op *op)
{
	return emit_matrix(kb, __func__, JAL_OP_MATMUL, op);
}

JALRT_API int jalrt_kb_rmsnorm(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			       unsigned int rw, struct jalrt_dim n, float eps)
{
	unsigned int regs[3] = { rd, ra, rw };
	struct jal_insn in = insn_init(JAL_OP_RMSNORM);
	int ret = set_regs(kb, __func__, &in, regs, 3);

	if (!ret)
		ret = set_dim(kb, &in, 0, n, "element count");
	if (ret)
		return ret;
	in.imm[0] = f32_bits(eps);
	return kb_append(kb, &in);
}

/* Ops whose operands are r[0], r[1] and an element count in dim[0]. */
static int emit_unary_count(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
			    unsigned int rd, unsigned int ra, struct jalrt_dim n)
{
	unsigned int regs[2] = { rd, ra };
	struct jal_insn in = insn_init(opcode);
	int ret = set_regs(kb, fn, &in, regs, 2);

	if (!ret)
		ret = set_dim(kb, &in, 0, n, "element count");
	return ret ? ret : kb_append(kb, &in);
}

JALRT_API int jalrt_kb_softmax(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			       struct jalrt_dim n)
{
	return emit_unary_count(kb, __func__, JAL_OP_SOFTMAX, rd, ra, n);
}

/*
 * A ROPE of @n elements in heads of @head_size at @pos, R[@rd] from R[@ra],
 * built into @in; the caller sets the frequencies (theta or a table).
 */
static int rope_insn(struct jalrt_kernel_builder *kb, const char *fn, struct jal_insn *in,
		     unsigned int rd, unsigned int ra, struct jalrt_dim n,
		     struct jalrt_dim head_size, struct jalrt_dim pos)
{
	unsigned int regs[2] = { rd, ra };
	int ret;

	*in = insn_init(JAL_OP_ROPE);
	ret = set_regs(kb, fn, in, regs, 2);
	if (!ret)
		ret = set_dim(kb, in, 0, n, "element count");
	if (!ret)
		ret = set_dim(kb, in, 1, head_size, "head size");
	if (!ret)
		ret = set_dim(kb, in, 2, pos, "position");
	return ret;
}

/* The ROPE in @in, turned to a frequency table at R[@rfreqs]. */
static int rope_to_freqs(struct jalrt_kernel_builder *kb, const char *fn, struct jal_insn *in,
			 unsigned int rfreqs)
{
	int ret = check_regs(kb, fn, JAL_OP_ROPE, &rfreqs, 1);

	if (ret)
		return ret;
	in->flags |= JAL_INSN_F_ROPE_FREQS;
	in->r[3] = (uint8_t)rfreqs;
	in->imm[0] = 0;
	return 0;
}

JALRT_API int jalrt_kb_rope(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			    struct jalrt_dim n, struct jalrt_dim head_size, struct jalrt_dim pos,
			    float theta)
{
	struct jal_insn in;
	int ret = rope_insn(kb, __func__, &in, rd, ra, n, head_size, pos);

	if (ret)
		return ret;
	in.imm[0] = f32_bits(theta);
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_rope_freqs(struct jalrt_kernel_builder *kb, unsigned int rd,
				  unsigned int ra, unsigned int rfreqs, struct jalrt_dim n,
				  struct jalrt_dim head_size, struct jalrt_dim pos)
{
	struct jal_insn in;
	int ret = rope_insn(kb, __func__, &in, rd, ra, n, head_size, pos);

	if (!ret)
		ret = rope_to_freqs(kb, __func__, &in, rfreqs);
	return ret ? ret : kb_append(kb, &in);
}

JALRT_API int jalrt_kb_silu_mul(struct jalrt_kernel_builder *kb, unsigned int rd,
				unsigned int ra, unsigned int rb, struct jalrt_dim n)
{
	unsigned int regs[3] = { rd, ra, rb };
	struct jal_insn in = insn_init(JAL_OP_SILU_MUL);
	int ret = set_regs(kb, __func__, &in, regs, 3);

	if (!ret)
		ret = set_dim(kb, &in, 0, n, "element count");
	return ret ? ret : kb_append(kb, &in);
}

JALRT_API int jalrt_kb_attention(struct jalrt_kernel_builder *kb,
				 const struct jalrt_attention_op *op)
{
	struct jal_insn in = insn_init(JAL_OP_ATTENTION);
	unsigned int regs[4];
	int ret;

	if (!kb || !op)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       kb ? "operation" : "builder");
	regs[0] = op->rout;
	regs[1] = op->rq;
	regs[2] = op->rk;
	regs[3] = op->rv;
	ret = set_regs(kb, __func__, &in, regs, 4);
	if (!ret)
		ret = set_dim(kb, &in, 0, op->n_heads, "query heads");
	if (!ret)
		ret = set_dim(kb, &in, 1, op->head_size, "head size");
	if (!ret)
		ret = set_dim(kb, &in, 2, op->n_kv_heads, "KV heads");
	if (!ret)
		ret = set_dim(kb, &in, 3, op->positions, "positions");
	if (ret)
		return ret;
	in.stride[2] = op->k_pitch;
	in.stride[3] = op->v_pitch;
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_embed(struct jalrt_kernel_builder *kb, const struct jalrt_embed_op *op)
{
	struct jal_insn in = insn_init(JAL_OP_EMBED);
	unsigned int regs[4];
	bool q8;
	int ret;

	if (!kb || !op)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       kb ? "operation" : "builder");
	ret = check_dtype_arg(kb, __func__, JAL_OP_EMBED, op->dtype);
	if (ret)
		return ret;
	q8 = op->dtype == JAL_DTYPE_Q8;
	if (!q8 && (op->rscales || op->group))
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (EMBED): %s tables take no scale register or group",
				kb->count, jalrt_dtype_name(op->dtype)));
	in.dtype = (uint8_t)op->dtype;
	regs[0] = op->rd;
	regs[1] = op->rtable;
	regs[2] = 0;
	regs[3] = op->rscales;
	ret = set_regs(kb, __func__, &in, regs, q8 ? 4 : 2);
	if (!ret)
		ret = set_dim(kb, &in, 0, op->dim, "row length");
	if (!ret)
		ret = set_dim(kb, &in, 1, op->row, "row index");
	if (!ret)
		ret = set_dim(kb, &in, 2, op->rows, "row count");
	if (ret)
		return ret;
	in.stride[1] = op->row_pitch;
	in.stride[3] = q8 ? op->group : 0;
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_argmax(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			      struct jalrt_dim n)
{
	return emit_unary_count(kb, __func__, JAL_OP_ARGMAX, rd, ra, n);
}

JALRT_API int jalrt_kb_sample(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			      unsigned int rstate, struct jalrt_dim n, float temperature,
			      float topp)
{
	unsigned int regs[3] = { rd, ra, rstate };
	struct jal_insn in = insn_init(JAL_OP_SAMPLE);
	int ret = set_regs(kb, __func__, &in, regs, 3);

	if (!ret)
		ret = set_dim(kb, &in, 0, n, "element count");
	if (ret)
		return ret;
	in.imm[0] = f32_bits(temperature);
	in.imm[1] = f32_bits(topp);
	return kb_append(kb, &in);
}

/* ---- batches: JAL_INSN_F_ROWS and paged KV caches ------------------------ */

/* The row count and pitches of a batched instruction. */
static int set_rows(struct jalrt_kernel_builder *kb, const char *fn, struct jal_insn *in,
		    const struct jalrt_rows *rows)
{
	if (!rows)
		return kb_fail(kb, jalrt_set_error(-EINVAL, "%s: NULL rows", fn));
	if (in->opcode != JAL_OP_SILU_MUL && rows->b_pitch)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"%s: kernel instruction %u (%s) has no b operand to pitch",
				fn, kb->count, jalrt_opcode_name(in->opcode)));
	in->flags |= JAL_INSN_F_ROWS;
	in->stride[0] = rows->d_pitch;
	in->stride[1] = rows->a_pitch;
	in->stride[2] = rows->b_pitch;
	return set_dim(kb, in, 3, rows->count, "row count");
}

/* Element-wise ops of @nregs registers over rows: d, a[, b]. */
static int emit_rows(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
		     const unsigned int *regs, unsigned int nregs, struct jalrt_dim n,
		     uint32_t imm0, const struct jalrt_rows *rows)
{
	struct jal_insn in = insn_init(opcode);
	int ret;

	if (!kb)
		return jalrt_set_error(-EINVAL, "%s: NULL builder", fn);
	ret = set_regs(kb, fn, &in, regs, nregs);
	if (!ret)
		ret = set_dim(kb, &in, 0, n, "element count");
	if (!ret)
		ret = set_rows(kb, fn, &in, rows);
	if (ret)
		return ret;
	in.imm[0] = imm0;
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_rmsnorm_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, unsigned int rw, struct jalrt_dim n,
				    float eps, const struct jalrt_rows *rows)
{
	unsigned int regs[3] = { rd, ra, rw };

	return emit_rows(kb, __func__, JAL_OP_RMSNORM, regs, 3, n, f32_bits(eps), rows);
}

JALRT_API int jalrt_kb_softmax_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, struct jalrt_dim n,
				    const struct jalrt_rows *rows)
{
	unsigned int regs[2] = { rd, ra };

	return emit_rows(kb, __func__, JAL_OP_SOFTMAX, regs, 2, n, 0, rows);
}

JALRT_API int jalrt_kb_silu_mul_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				     unsigned int ra, unsigned int rb, struct jalrt_dim n,
				     const struct jalrt_rows *rows)
{
	unsigned int regs[3] = { rd, ra, rb };

	return emit_rows(kb, __func__, JAL_OP_SILU_MUL, regs, 3, n, 0, rows);
}

/* rope_insn() for @rows rows, each at the position in its u32 at R[@rpos]. */
static int rope_rows_insn(struct jalrt_kernel_builder *kb, const char *fn, struct jal_insn *in,
			  unsigned int rd, unsigned int ra, unsigned int rpos,
			  struct jalrt_dim n, struct jalrt_dim head_size,
			  const struct jalrt_rows *rows)
{
	unsigned int regs[3] = { rd, ra, rpos };
	int ret;

	if (!kb)
		return jalrt_set_error(-EINVAL, "%s: NULL builder", fn);
	*in = insn_init(JAL_OP_ROPE);
	ret = set_regs(kb, fn, in, regs, 3);
	if (!ret)
		ret = set_dim(kb, in, 0, n, "element count");
	if (!ret)
		ret = set_dim(kb, in, 1, head_size, "head size");
	if (!ret)
		ret = set_rows(kb, fn, in, rows);
	return ret;
}

JALRT_API int jalrt_kb_rope_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				 unsigned int ra, unsigned int rpos, struct jalrt_dim n,
				 struct jalrt_dim head_size, float theta,
				 const struct jalrt_rows *rows)
{
	struct jal_insn in;
	int ret = rope_rows_insn(kb, __func__, &in, rd, ra, rpos, n, head_size, rows);

	if (ret)
		return ret;
	in.imm[0] = f32_bits(theta);
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_rope_rows_freqs(struct jalrt_kernel_builder *kb, unsigned int rd,
				       unsigned int ra, unsigned int rpos, unsigned int rfreqs,
				       struct jalrt_dim n, struct jalrt_dim head_size,
				       const struct jalrt_rows *rows)
{
	struct jal_insn in;
	int ret = rope_rows_insn(kb, __func__, &in, rd, ra, rpos, n, head_size, rows);

	if (!ret)
		ret = rope_to_freqs(kb, __func__, &in, rfreqs);
	return ret ? ret : kb_append(kb, &in);
}

JALRT_API int jalrt_kb_embed_rows(struct jalrt_kernel_builder *kb,
				  const struct jalrt_embed_op *op, unsigned int rids,
				  const struct jalrt_rows *rows)
{
	struct jal_insn in = insn_init(JAL_OP_EMBED);
	unsigned int regs[4];
	bool q8;
	int ret;

	if (!kb || !op)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       kb ? "operation" : "builder");
	ret = check_dtype_arg(kb, __func__, JAL_OP_EMBED, op->dtype);
	if (ret)
		return ret;
	q8 = op->dtype == JAL_DTYPE_Q8;
	if (!q8 && (op->rscales || op->group))
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"kernel instruction %u (EMBED): %s tables take no scale register or group",
				kb->count, jalrt_dtype_name(op->dtype)));
	if (op->row.from_reg || op->row.value)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"%s: kernel instruction %u (EMBED): the rows' token ids come from r%u, the row index must be 0",
				__func__, kb->count, rids));
	if (rows && rows->a_pitch)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"%s: kernel instruction %u (EMBED): the table's pitch is op->row_pitch, not a row pitch",
				__func__, kb->count));
	in.dtype = (uint8_t)op->dtype;
	regs[0] = op->rd;
	regs[1] = op->rtable;
	regs[2] = rids;
	regs[3] = op->rscales;
	ret = set_regs(kb, __func__, &in, regs, q8 ? 4 : 3);
	if (!ret)
		ret = set_dim(kb, &in, 0, op->dim, "row length");
	if (!ret)
		ret = set_dim(kb, &in, 2, op->rows, "row count");
	if (!ret)
		ret = set_rows(kb, __func__, &in, rows);
	if (ret)
		return ret;
	in.stride[1] = op->row_pitch;
	in.stride[3] = q8 ? op->group : 0;
	return kb_append(kb, &in);
}

/* ARGMAX and SAMPLE over rows: results in memory, logits rows in a. */
static int emit_pick_rows(struct jalrt_kernel_builder *kb, const char *fn, unsigned int opcode,
			  const unsigned int *regs, unsigned int nregs, struct jalrt_dim n,
			  const struct jalrt_rows *rows)
{
	if (rows && rows->d_pitch)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"%s: kernel instruction %u (%s): results are dense u32, no d pitch",
				fn, kb->count, jalrt_opcode_name(opcode)));
	return emit_rows(kb, fn, opcode, regs, nregs, n, 0, rows);
}

JALRT_API int jalrt_kb_argmax_rows(struct jalrt_kernel_builder *kb, unsigned int rresults,
				   unsigned int ra, struct jalrt_dim n,
				   const struct jalrt_rows *rows)
{
	unsigned int regs[2] = { rresults, ra };

	if (!kb)
		return jalrt_set_error(-EINVAL, "%s: NULL builder", __func__);
	return emit_pick_rows(kb, __func__, JAL_OP_ARGMAX, regs, 2, n, rows);
}

JALRT_API int jalrt_kb_sample_rows(struct jalrt_kernel_builder *kb, unsigned int rresults,
				   unsigned int ra, unsigned int rstates, unsigned int rparams,
				   struct jalrt_dim n, const struct jalrt_rows *rows)
{
	unsigned int regs[4] = { rresults, ra, rstates, rparams };

	if (!kb)
		return jalrt_set_error(-EINVAL, "%s: NULL builder", __func__);
	return emit_pick_rows(kb, __func__, JAL_OP_SAMPLE, regs, 4, n, rows);
}

/*
 * The fields PAGED_ATTENTION and PAGED_KV_STORE share: r[2], r[3] the
 * pools, dim[1..3] head size, KV heads, rows; stride[2..3] the tables'
 * size and pitch; imm[0..3] the registers of the per-row u32s and of the
 * tables, the block size and the pool's blocks.
 */
static int set_paged(struct jalrt_kernel_builder *kb, const char *fn, struct jal_insn *in,
		     unsigned int r0, unsigned int r1, unsigned int rcounts,
		     struct jalrt_dim head_size, struct jalrt_dim kv_heads,
		     struct jalrt_dim rows, const struct jalrt_kv_pool *pool)
{
	unsigned int regs[6] = { r0, r1, pool->rk, pool->rv, rcounts, pool->rtables };
	int ret = check_regs(kb, fn, in->opcode, regs, 6);

	if (ret)
		return ret;
	if (pool->dtype != JAL_DTYPE_F32 && pool->dtype != JAL_DTYPE_BF16)
		return kb_fail(kb, jalrt_set_error(-EINVAL,
				"%s: kernel instruction %u (%s): KV pools of dtype %u (%s); f32 or bf16 only",
				fn, kb->count, jalrt_opcode_name(in->opcode), pool->dtype,
				jalrt_dtype_name(pool->dtype)));
	in->dtype = (uint8_t)pool->dtype;
	in->r[0] = (uint8_t)r0;
	in->r[1] = (uint8_t)r1;
	in->r[2] = (uint8_t)pool->rk;
	in->r[3] = (uint8_t)pool->rv;
	ret = set_dim(kb, in, 1, head_size, "head size");
	if (!ret)
		ret = set_dim(kb, in, 2, kv_heads, "KV heads");
	if (!ret)
		ret = set_dim(kb, in, 3, rows, "row count");
	in->stride[2] = pool->table_entries;
	in->stride[3] = pool->table_pitch;
	in->imm[0] = rcounts;
	in->imm[1] = pool->rtables;
	in->imm[2] = pool->block_size;
	in->imm[3] = pool->blocks;
	return ret;
}

JALRT_API int jalrt_kb_paged_attention(struct jalrt_kernel_builder *kb,
				       const struct jalrt_paged_attention_op *op)
{
	struct jal_insn in = insn_init(JAL_OP_PAGED_ATTENTION);
	int ret;

	if (!kb || !op)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       kb ? "operation" : "builder");
	ret = set_paged(kb, __func__, &in, op->rout, op->rq, op->rlengths, op->head_size,
			op->n_kv_heads, op->rows, &op->pool);
	if (!ret)
		ret = set_dim(kb, &in, 0, op->n_heads, "query heads");
	if (ret)
		return ret;
	in.stride[0] = op->out_pitch;
	in.stride[1] = op->q_pitch;
	return kb_append(kb, &in);
}

JALRT_API int jalrt_kb_paged_kv_store(struct jalrt_kernel_builder *kb,
				      const struct jalrt_paged_kv_store_op *op)
{
	struct jal_insn in = insn_init(JAL_OP_PAGED_KV_STORE);
	int ret;

	if (!kb || !op)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       kb ? "operation" : "builder");
	ret = set_paged(kb, __func__, &in, op->rk, op->rv, op->rpositions, op->head_size,
			op->n_kv_heads, op->rows, &op->pool);
	if (ret)
		return ret;
	in.stride[0] = op->k_pitch;
	in.stride[1] = op->v_pitch;
	return kb_append(kb, &in);
}

/* ---- linking and placing on a device ------------------------------------ */

JALRT_API int jalrt_kb_code(struct jalrt_kernel_builder *kb, const struct jal_insn **code,
			    uint32_t *count)
{
	uint32_t i;
	int ret;

	if (!kb || !code || !count)
		return jalrt_set_error(-EINVAL, "jalrt_kb_code: NULL %s",
				       !kb ? "builder" : !code ? "code" : "count");
	if (kb->error)
		return kb_replay_error(kb, "jalrt_kb_code");
	for (i = 0; i < kb->num_fixups; i++) {
		const struct jalrt_fixup *f = &kb->fixups[i];
		uint32_t target = kb->labels[f->label];

		if (target == JALRT_LABEL_UNBOUND)
			return jalrt_set_error(-EINVAL,
					       "kernel instruction %u (%s): label %u is never bound",
					       f->insn, jalrt_opcode_name(kb->insns[f->insn].opcode),
					       f->label);
		kb->insns[f->insn].imm[2] = target;
	}
	/* Raw branches carry absolute targets: check them all now. */
	for (i = 0; i < kb->count; i++) {
		ret = jalrt_validate_insn(&kb->insns[i], i, kb->count);
		if (ret)
			return ret;
	}
	*code = kb->insns;
	*count = kb->count;
	return 0;
}

JALRT_API int jalrt_kb_finalize(struct jalrt_kernel_builder *kb, struct jalrt_device *dev,
				struct jalrt_kernel **kernel)
{
	const struct jal_insn *code;
	uint32_t count;
	int ret;

	if (!kb || !dev || !kernel)
		return jalrt_set_error(-EINVAL, "jalrt_kb_finalize: NULL %s",
				       !kb ? "builder" : !dev ? "device" : "kernel");
	*kernel = NULL;
	ret = jalrt_kb_code(kb, &code, &count);
	if (ret)
		return ret;
	return jalrt_kernel_create(dev, code, count, kb->num_args, kernel);
}

JALRT_API int jalrt_kernel_create(struct jalrt_device *dev, const struct jal_insn *code,
				  uint32_t count, unsigned int num_args,
				  struct jalrt_kernel **out)
{
	struct jalrt_kernel *k;
	uint64_t bytes;
	uint32_t i;
	int ret;

	if (!dev || !out)
		return jalrt_set_error(-EINVAL, "jalrt_kernel_create: NULL %s",
				       !dev ? "device" : "kernel");
	*out = NULL;
	if (!count)
		return jalrt_set_error(-EINVAL, "jalrt_kernel_create: kernel has no instructions");
	if (!code)
		return jalrt_set_error(-EINVAL, "jalrt_kernel_create: NULL code");
	if (num_args > JAL_MAX_ARGS)
		return jalrt_set_error(-EINVAL, "jalrt_kernel_create: %u arguments, at most %u",
				       num_args, JAL_MAX_ARGS);
	bytes = (uint64_t)count * sizeof(struct jal_insn);
	if (bytes > dev->info.max_code_size || bytes > JAL_MAX_CODE_SIZE)
		return jalrt_set_error(-E2BIG,
				       "jalrt_kernel_create: %u instructions (%llu bytes) exceed the device limit of %u bytes",
				       count, (unsigned long long)bytes, dev->info.max_code_size);
	for (i = 0; i < count; i++) {
		ret = jalrt_validate_insn(&code[i], i, count);
		if (ret)
			return ret;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return jalrt_set_error(-ENOMEM, "jalrt_kernel_create: out of memory");
	ret = jalrt_buffer_alloc(dev, bytes, JALRT_BUFFER_DEVICE_READONLY, &k->code);
	if (ret) {
		free(k);
		return ret;
	}
	memcpy(jalrt_buffer_host(k->code), code, bytes);
	k->num_insns = count;
	k->num_args = num_args;
	*out = k;
	return 0;
}

JALRT_API int jalrt_kernel_destroy(struct jalrt_kernel *kernel)
{
	if (!kernel)
		return 0;
	jalrt_buffer_free(kernel->code);
	free(kernel);
	return 0;
}

JALRT_API unsigned int jalrt_kernel_num_args(const struct jalrt_kernel *kernel)
{
	return kernel ? kernel->num_args : 0;
}

JALRT_API uint32_t jalrt_kernel_num_insns(const struct jalrt_kernel *kernel)
{
	return kernel ? kernel->num_insns : 0;
}

JALRT_API struct jalrt_buffer *jalrt_kernel_buffer(const struct jalrt_kernel *kernel)
{
	return kernel ? kernel->code : NULL;
}
