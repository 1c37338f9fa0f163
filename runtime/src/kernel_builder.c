// SPDX-License-Identifier: MIT
/*
 * Kernel builder: encodes struct jal_insn, resolves labels, and checks
 * every instruction the way the chip will, so that mistakes are reported
 * on the host with a precise message instead of a BAD_INSN job failure.
 */
#include <errno.h>
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

struct jalrt_op_desc {
	const char *name;
	uint32_t fields;
};

static const struct jalrt_op_desc *op_desc(unsigned int opcode)
{
	static const struct jalrt_op_desc nop = { "NOP", 0 },
		halt = { "HALT", 0 },
		li = { "LI", F_R(0) | F_IMM64 },
		addi = { "ADDI", F_R(0) | F_R(1) | F_IMM64 },
		add = { "ADD", F_R012 },
		muli = { "MULI", F_R(0) | F_R(1) | F_IMM64 },
		jump = { "JUMP", F_IMM(2) | F_BRANCH },
		bne = { "BNE", F_R(1) | F_R(2) | F_IMM(2) | F_BRANCH },
		bltu = { "BLTU", F_R(1) | F_R(2) | F_IMM(2) | F_BRANCH },
		vadd = { "VADD", F_R012 | F_DIM(0) | F_STRIDE012 },
		vmul = { "VMUL", F_R012 | F_DIM(0) | F_STRIDE012 },
		vscale = { "VSCALE", F_R(0) | F_R(1) | F_DIM(0) | F_STRIDE(0) | F_STRIDE(1) |
				     F_IMM(0) },
		matvec = { "MATVEC", F_R012 | F_DIM(0) | F_DIM(1) | F_STRIDE012 };

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
	case JAL_OP_VADD: return &vadd;
	case JAL_OP_VMUL: return &vmul;
	case JAL_OP_VSCALE: return &vscale;
	case JAL_OP_MATVEC: return &matvec;
	default: return NULL;
	}
}

const char *jalrt_opcode_name(unsigned int opcode)
{
	const struct jalrt_op_desc *d = op_desc(opcode);

	return d ? d->name : "unknown";
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

static int check_matvec(const struct jal_insn *in, uint32_t index)
{
	bool rows_const = !(in->flags & JAL_INSN_F_DIM_REG(0));
	bool cols_const = !(in->flags & JAL_INSN_F_DIM_REG(1));
	uint64_t rows = in->dim[0], cols = in->dim[1], pitch = in->stride[1];

	if (cols_const && pitch && pitch < cols)
		return insn_error(index, in, "row pitch %llu is smaller than the %llu columns",
				  (unsigned long long)pitch, (unsigned long long)cols);
	if (rows_const && !span_ok(rows, in->stride[0]))
		return insn_error(index, in,
				  "destination of %llu rows with stride %u spans more than 256 MiB",
				  (unsigned long long)rows, in->stride[0]);
	if (cols_const && !span_ok(cols, in->stride[2]))
		return insn_error(index, in,
				  "x of %llu elements with stride %u spans more than 256 MiB",
				  (unsigned long long)cols, in->stride[2]);
	if (rows_const && cols_const && rows && cols) {
		uint64_t span = (rows - 1) * (pitch ? pitch : cols) + (cols - 1);

		if (span > JALRT_MAX_OPERAND_SPAN)
			return insn_error(index, in,
					  "matrix of %llu x %llu (row pitch %llu) spans more than 256 MiB",
					  (unsigned long long)rows, (unsigned long long)cols,
					  (unsigned long long)(pitch ? pitch : cols));
	}
	return 0;
}

int jalrt_validate_insn(const struct jal_insn *in, uint32_t index, uint32_t count)
{
	const struct jalrt_op_desc *d = op_desc(in->opcode);
	unsigned int i;

	if (!d)
		return insn_error(index, in, "unknown opcode");
	if (in->reserved[0] || in->reserved[1])
		return insn_error(index, in, "reserved words are not zero");
	if (in->dtype != JAL_DTYPE_F32)
		return insn_error(index, in, "dtype %u is not supported (only F32 = 0)",
				  in->dtype);
	if (in->flags & ~JAL_INSN_F_VALID_MASK)
		return insn_error(index, in, "undefined flag bits 0x%x set",
				  in->flags & ~JAL_INSN_F_VALID_MASK);
	for (i = 0; i < 4; i++) {
		bool dim_reg = in->flags & JAL_INSN_F_DIM_REG(i);

		if (d->fields & F_R(i)) {
			if (in->r[i] >= JAL_NUM_REGS)
				return insn_error(index, in, "register r[%u] = %u is not r0..r%u",
						  i, in->r[i], JAL_NUM_REGS - 1);
		} else if (in->r[i]) {
			return insn_error(index, in, "r[%u] is not used by %s and must be 0", i,
					  d->name);
		}
		if (d->fields & F_DIM(i)) {
			if (dim_reg && in->dim[i] >= JAL_NUM_REGS)
				return insn_error(index, in, "dim[%u] names register %u, not r0..r%u",
						  i, in->dim[i], JAL_NUM_REGS - 1);
		} else if (dim_reg) {
			return insn_error(index, in, "DIM_REG flag on dim[%u], which %s does not use",
					  i, d->name);
		} else if (in->dim[i]) {
			return insn_error(index, in, "dim[%u] is not used by %s and must be 0", i,
					  d->name);
		}
		if (!(d->fields & F_STRIDE(i)) && in->stride[i])
			return insn_error(index, in, "stride[%u] is not used by %s and must be 0", i,
					  d->name);
		if (!(d->fields & F_IMM(i)) && in->imm[i])
			return insn_error(index, in, "imm[%u] is not used by %s and must be 0", i,
					  d->name);
	}
	if ((d->fields & F_BRANCH) && count && in->imm[2] > count)
		return insn_error(index, in, "branch target %u is past the end (%u instructions)",
				  in->imm[2], count);

	switch (in->opcode) {
	case JAL_OP_VADD:
	case JAL_OP_VMUL:
		return check_vector_extents(in, index, 3);
	case JAL_OP_VSCALE:
		return check_vector_extents(in, index, 2);
	case JAL_OP_MATVEC:
		return check_matvec(in, index);
	default:
		return 0;
	}
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
