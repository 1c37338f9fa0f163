// SPDX-License-Identifier: MIT
/*
 * Batched steps: many sequences of one model advanced by one chip job per
 * step, with their KV caches in blocks of a shared pool (paged KV cache).
 *
 * The step program is built once per batch and takes three arguments,
 *
 *   r0 = B, the rows of the step     r1 = S, the rows that sample
 *   r2 = K, steps (the decode loop only)
 *
 * and runs straight through (no loop): EMBED(ROWS) of the rows' tokens,
 * per layer RMSNORM(ROWS), MATMUL q/k/v, ROPE(ROWS) at each row's
 * position, PAGED_KV_STORE of every row's k and v, PAGED_ATTENTION of
 * every row over its sequence's positions up to its own, MATMUL wo, the
 * residual add, RMSNORM(ROWS), MATMUL w1/w3, SILU_MUL(ROWS), MATMUL w2,
 * the residual add; then EMBED(ROWS) of an f32 table gathers the S
 * sampling rows of x, and the final RMSNORM, the classifier MATMUL and
 * SAMPLE(ROWS) run on those only. Every instruction gives each row the
 * bits its single-row form gives (the ISA's batch invariance), and the
 * order of operations is llm.c's emit_layer(), so a row's logits are
 * jalrt_llm_forward()'s for its sequence alone.
 *
 * jalrt_llm_batch_decode() runs a second program, built on first use: the
 * same body in a loop of K steps over B decode rows (S = B, each row its
 * own sampling row) that after each step copies every row's token into
 * its input and to the output array and advances its position and length
 * (scalar loads and stores), as jalrt_llm_generate()'s device loop feeds
 * its own tokens back: K positions per sequence for one job.
 *
 * Memory: the K and V pools of all layers in one buffer and the
 * activations of max_rows rows in another, in device memory when the
 * model is; the per-row arrays (tokens, positions, lengths, block tables,
 * sampling rows and their samplers, results, timestamps, logits) in one
 * host buffer the host fills before each step, which the job copies to a
 * mirror in device memory first (the chip reads host memory through
 * bounce buffers, page by page, at every instruction that uses it) and
 * whose results it copies back at the end. The program's operand
 * addresses are LI immediates, as llm.c's; it is a program of the model's
 * graph so that recording it names the weights' buffers for the job.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_internal.h"

enum { BA_ROWS, BA_SAMPLES, BA_STEPS, BA_NUM };

/* Temporaries of the program for operand addresses (jalrt_program_scalar). */
#define BP_TEMPS		6

#define IO_ALIGN		64u
#define ACT_ALIGN		256u

/* Byte offsets of the per-row arrays in the host buffer. */
struct batch_io {
	uint64_t tokens, positions, lengths, tables, picks, params, rng, results, stamps, logits;
	uint64_t outs;		/* the decode loop's tokens, step by step */
	uint64_t size;
};

/* Byte offsets of the activations (max_rows rows each) in their buffer. */
struct batch_act {
	uint64_t x, xb, xb2, q, k, v, hb, hb2, xs, logits;
	uint64_t size;
};

struct jalrt_llm_seq {
	bool live;
	int len;		/* positions whose K and V are stored */
	uint32_t n_blocks;
	uint32_t *blocks;	/* its block table, table_entries long */
	/* while a step is checked: the step's stamp and the next position */
	uint64_t stamp;
	int next;
};

struct jalrt_llm_batch {
	struct jalrt_llm *m;
	unsigned int max_seqs, max_rows, block_size, blocks;
	uint32_t table_entries;	/* blocks of a whole context */
	unsigned int kv_dtype;	/* of the pools: JAL_DTYPE_F32 or _BF16 */
	uint64_t block_bytes;	/* one block of one pool */
	uint32_t flags;

	struct jalrt_llm_seq *seqs;
	uint32_t *tables;	/* max_seqs * table_entries */
	uint32_t *free_blocks;	/* a stack: freed blocks are reused first */
	unsigned int n_free;
	unsigned int live_seqs;

	struct jalrt_buffer *kv, *act, *io;
	struct jalrt_buffer *rows_dev;	/* io's arrays in device memory, or NULL */
	bool in_vram;
	struct batch_act a;
	struct batch_io o;
	struct jalrt_program *prog;
	struct jalrt_program *loop;	/* the decode loop, built on first use */
	struct jalrt_cmdbuf *cb;
	uint64_t stamp;

	/* the last successful step */
	uint64_t steps;
	unsigned int last_rows, last_samples;
	int *last_pick;		/* max_rows: a row's sampling index, or -1 */
	bool logits_valid;	/* the last job was a step and kept its logits */
	unsigned int last_steps;
	uint64_t last_device_ns, last_step_ns;
};

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static uint64_t place(uint64_t *size, uint64_t bytes, uint64_t align)
{
	uint64_t at = align_up(*size, align);

	*size = at + bytes;
	return at;
}

static void *io_host(const struct jalrt_llm_batch *b, uint64_t off)
{
	return (char *)jalrt_buffer_host(b->io) + off;
}

/* Where the program finds the per-row arrays. */
static uint64_t rows_va(const struct jalrt_llm_batch *b)
{
	return jalrt_buffer_va(b->rows_dev ? b->rows_dev : b->io);
}

/* ---- creation ---------------------------------------------------------- */

/* Bytes of a KV pool element (anything but bf16 is rejected as f32's size). */
static uint64_t kv_esize(unsigned int kv_dtype)
{
	return kv_dtype == JAL_DTYPE_BF16 ? 2 : 4;
}

static int check_options(const struct jalrt_llm_batch *b,
			 const struct jalrt_llm_batch_options *o)
{
	const struct llm_config *c = &b->m->cfg;
	uint64_t widest = (uint64_t)c->vocab_size;
	uint64_t kv_row = (uint64_t)c->kv_dim * kv_esize(o->kv_dtype);
	const char *fn = "jalrt_llm_batch_create";

	if (o->flags & ~JALRT_LLM_BATCH_FLAGS)
		return jalrt_set_error(-EINVAL, "%s: unknown flags 0x%x", fn,
				       o->flags & ~JALRT_LLM_BATCH_FLAGS);
	if (o->kv_dtype != JAL_DTYPE_F32 && o->kv_dtype != JAL_DTYPE_BF16)
		return jalrt_set_error(-EINVAL,
				       "%s: KV dtype %u: the KV cache is f32 (JAL_DTYPE_F32) or bf16 (JAL_DTYPE_BF16)",
				       fn, o->kv_dtype);
	if (b->max_seqs > JAL_ROWS_MAX || b->max_rows > JAL_ROWS_MAX)
		return jalrt_set_error(-EINVAL, "%s: %u sequences / %u rows, at most %u", fn,
				       b->max_seqs, b->max_rows, JAL_ROWS_MAX);
	if (b->table_entries > JAL_PAGED_MAX_BLOCKS)
		return jalrt_set_error(-EINVAL,
				       "%s: blocks of %u positions: a context of %d needs %u, at most %u",
				       fn, b->block_size, c->seq_len, b->table_entries,
				       JAL_PAGED_MAX_BLOCKS);
	if (b->block_size * kv_row > JALRT_MAX_OPERAND_BYTES)
		return jalrt_set_error(-EINVAL, "%s: a block of %u positions exceeds %llu bytes", fn,
				       b->block_size, (unsigned long long)JALRT_MAX_OPERAND_BYTES);
	if ((uint64_t)c->hidden_dim > widest)
		widest = (uint64_t)c->hidden_dim;
	if ((uint64_t)c->dim > widest)
		widest = (uint64_t)c->dim;
	if (b->max_rows * widest * 4 > JALRT_MAX_OPERAND_BYTES)
		return jalrt_set_error(-EINVAL,
				       "%s: %u rows of %llu floats exceed an operand's %llu bytes", fn,
				       b->max_rows, (unsigned long long)widest,
				       (unsigned long long)JALRT_MAX_OPERAND_BYTES);
	if (!b->blocks)
		return jalrt_set_error(-EINVAL, "%s: a KV budget of %llu bytes holds no block of %llu",
				       fn, (unsigned long long)o->kv_bytes,
				       (unsigned long long)(2 * c->n_layers * b->block_bytes));
	return 0;
}

static int set_sizes(struct jalrt_llm_batch *b, const struct jalrt_llm_batch_options *o)
{
	const struct llm_config *c = &b->m->cfg;
	uint64_t blocks;

	b->max_seqs = o->max_seqs ? o->max_seqs : 16;
	b->max_rows = o->max_rows ? o->max_rows : b->max_seqs;
	b->block_size = o->block_size ? o->block_size : JALRT_LLM_BATCH_BLOCK_SIZE;
	b->flags = o->flags;
	b->table_entries = (uint32_t)(((uint64_t)c->seq_len + b->block_size - 1) / b->block_size);
	b->kv_dtype = o->kv_dtype;
	/* bf16 halves a block, so a budget of bytes holds twice the blocks. */
	b->block_bytes = (uint64_t)b->block_size * (uint64_t)c->kv_dim * kv_esize(o->kv_dtype);
	if (o->kv_blocks)
		blocks = o->kv_blocks;
	else if (o->kv_bytes)
		blocks = o->kv_bytes / (2 * (uint64_t)c->n_layers * b->block_bytes);
	else
		blocks = (uint64_t)b->max_seqs * b->table_entries;
	if (blocks > UINT32_MAX)
		return jalrt_set_error(-EINVAL, "jalrt_llm_batch_create: %llu KV blocks are too many",
				       (unsigned long long)blocks);
	b->blocks = (unsigned int)blocks;
	return check_options(b, o);
}

static void lay_out(struct jalrt_llm_batch *b)
{
	const struct llm_config *c = &b->m->cfg;
	uint64_t r = b->max_rows, dim = (uint64_t)c->dim * 4 * r, kv = (uint64_t)c->kv_dim * 4 * r;
	uint64_t hid = (uint64_t)c->hidden_dim * 4 * r, voc = (uint64_t)c->vocab_size * 4 * r;
	struct batch_act *a = &b->a;
	struct batch_io *o = &b->o;

	a->size = 0;
	a->x = place(&a->size, dim, ACT_ALIGN);
	a->xb = place(&a->size, dim, ACT_ALIGN);
	a->xb2 = place(&a->size, dim, ACT_ALIGN);
	a->q = place(&a->size, dim, ACT_ALIGN);
	a->k = place(&a->size, kv, ACT_ALIGN);
	a->v = place(&a->size, kv, ACT_ALIGN);
	a->hb = place(&a->size, hid, ACT_ALIGN);
	a->hb2 = place(&a->size, hid, ACT_ALIGN);
	a->xs = place(&a->size, dim, ACT_ALIGN);
	a->logits = place(&a->size, voc, ACT_ALIGN);

	o->size = 0;
	o->tokens = place(&o->size, r * 4, IO_ALIGN);
	o->positions = place(&o->size, r * 4, IO_ALIGN);
	o->lengths = place(&o->size, r * 4, IO_ALIGN);
	o->tables = place(&o->size, r * b->table_entries * 4, IO_ALIGN);
	o->picks = place(&o->size, r * 4, IO_ALIGN);
	o->params = place(&o->size, r * 8, IO_ALIGN);
	o->rng = place(&o->size, r * 8, IO_ALIGN);
	/* inputs above, rng states in and out, outputs below; the device's */
	o->results = place(&o->size, r * 4, IO_ALIGN);
	o->outs = place(&o->size, r * JALRT_LLM_BATCH_MAX_STEPS * 4, IO_ALIGN);
	/* the host's only */
	o->stamps = place(&o->size, 16, IO_ALIGN);
	o->logits = place(&o->size, b->flags & JALRT_LLM_BATCH_LOGITS ? voc : 0, IO_ALIGN);
}

/* In device memory when @vram and the chip has room, else in host memory. */
static int alloc_buffer(struct jalrt_llm_batch *b, uint64_t size, bool vram,
			struct jalrt_buffer **buf)
{
	struct jalrt_device *dev = b->m->dev;

	if (vram && dev->info.vram_size >= size &&
	    !jalrt_buffer_alloc(dev, size, JALRT_BUFFER_VRAM, buf))
		return 0;
	/* As the graph does: host memory computes the same, only slower. */
	if (vram)
		b->in_vram = false;
	return jalrt_buffer_alloc(dev, size, 0, buf);
}

static int alloc_memory(struct jalrt_llm_batch *b)
{
	const struct llm_config *c = &b->m->cfg;
	struct jalrt_graph_info gi;
	unsigned int i;
	int ret;

	b->seqs = calloc(b->max_seqs, sizeof(*b->seqs));
	b->tables = calloc((size_t)b->max_seqs * b->table_entries, sizeof(*b->tables));
	b->free_blocks = calloc(b->blocks, sizeof(*b->free_blocks));
	b->last_pick = calloc(b->max_rows, sizeof(*b->last_pick));
	if (!b->seqs || !b->tables || !b->free_blocks || !b->last_pick)
		return jalrt_set_error(-ENOMEM, "jalrt_llm_batch_create: out of memory");
	for (i = 0; i < b->max_seqs; i++)
		b->seqs[i].blocks = b->tables + (size_t)i * b->table_entries;
	/* Block 0 on top of the stack: the pool fills from its start. */
	for (i = 0; i < b->blocks; i++)
		b->free_blocks[i] = b->blocks - 1 - i;
	b->n_free = b->blocks;

	jalrt_graph_query(b->m->g, &gi);
	b->in_vram = gi.in_vram;
	lay_out(b);
	ret = alloc_buffer(b, 2 * (uint64_t)c->n_layers * b->blocks * b->block_bytes, b->in_vram,
			   &b->kv);
	if (!ret)
		ret = alloc_buffer(b, b->a.size, b->in_vram, &b->act);
	if (!ret)
		ret = jalrt_buffer_alloc(b->m->dev, b->o.size, 0, &b->io);
	/* no mirror without device memory: the chip reads io itself */
	if (!ret && b->in_vram && b->m->dev->info.vram_size >= b->o.stamps &&
	    jalrt_buffer_alloc(b->m->dev, b->o.stamps, JALRT_BUFFER_VRAM, &b->rows_dev))
		b->rows_dev = NULL;
	if (!ret)
		ret = jalrt_cmdbuf_create(b->m->dev, &b->cb);
	return ret;
}

/* ---- the step program -------------------------------------------------- */

struct bprog {
	struct jalrt_llm_batch *b;
	struct jalrt_program *p;
	struct jalrt_kernel_builder *kb;
	unsigned int n_res;	/* B * dim, for the residual adds */
	unsigned int t[BP_TEMPS];
};

static void li_act(struct bprog *bp, unsigned int reg, uint64_t off)
{
	jalrt_kb_li(bp->kb, reg, jalrt_buffer_va(bp->b->act) + off);
}

static void li_io(struct bprog *bp, unsigned int reg, uint64_t off)
{
	jalrt_kb_li(bp->kb, reg, rows_va(bp->b) + off);
}

/*
 * Registers @rw and @raux = the VAs of weights @w and of their Q8 scales
 * or S24 index bytes (jalrt_tensor_desc's storage layout: after the
 * values, 4-byte aligned for scales). Return: the aux register, or 0.
 */
static unsigned int li_weights(struct bprog *bp, struct jalrt_tensor *w, unsigned int rw,
			       unsigned int raux)
{
	uint64_t va = jalrt_tensor_va(w), n = jalrt_tensor_elements(w);

	jalrt_kb_li(bp->kb, rw, va);
	switch (jalrt_tensor_dtype(w)) {
	case JALRT_DTYPE_Q8:
		jalrt_kb_li(bp->kb, raux, va + align_up(n, 4));
		return raux;
	case JALRT_DTYPE_S24:
		jalrt_kb_li(bp->kb, raux, va + n);
		return raux;
	case JALRT_DTYPE_Q4:	/* two values a byte */
		jalrt_kb_li(bp->kb, raux, va + align_up(n / 2, 4));
		return raux;
	default:
		return 0;
	}
}

/* Activation rows @d = W rows @x, @count rows of @cols in, @out_rows out. */
static void emit_matmul(struct bprog *bp, uint64_t d, struct jalrt_tensor *w, uint32_t out_rows,
			uint32_t cols, uint64_t x, unsigned int count)
{
	struct jalrt_matrix_op op = { 0 };

	li_act(bp, bp->t[0], d);
	li_act(bp, bp->t[2], x);
	op.dtype = jalrt_tensor_dtype(w);
	op.rd = bp->t[0];
	op.rw = bp->t[1];
	op.rx = bp->t[2];
	op.raux = li_weights(bp, w, bp->t[1], bp->t[3]);
	op.rows = JALRT_DIM(out_rows);
	op.cols = JALRT_DIM(cols);
	op.batch = JALRT_DIM_REG(count);
	op.group = op.dtype == JALRT_DTYPE_Q8 || op.dtype == JALRT_DTYPE_Q4 ?
		   jalrt_tensor_group(w) : 0;
	/* llm.c's rule, so that each row is its single-row MATVEC */
	op.flags = llm_matvec_flags(bp->b->m, w, cols) & JALRT_MATVEC_QUANTIZE_X ?
		   JAL_INSN_F_Q8X : 0;
	jalrt_kb_matmul(bp->kb, &op);
}

static void emit_rmsnorm(struct bprog *bp, uint64_t d, uint64_t a, struct jalrt_tensor *w,
			 unsigned int count)
{
	const struct llm_config *c = &bp->b->m->cfg;
	struct jalrt_rows rows = { .count = JALRT_DIM_REG(count) };

	li_act(bp, bp->t[0], d);
	li_act(bp, bp->t[1], a);
	jalrt_kb_li(bp->kb, bp->t[2], jalrt_tensor_va(w));
	jalrt_kb_rmsnorm_rows(bp->kb, bp->t[0], bp->t[1], bp->t[2], JALRT_DIM(c->dim),
			      c->rms_eps, &rows);
}

/* x += rows at @d, over all B rows (dense rows: one element-wise add). */
static void emit_residual(struct bprog *bp, uint64_t d)
{
	li_act(bp, bp->t[0], bp->b->a.x);
	li_act(bp, bp->t[1], d);
	jalrt_kb_vadd(bp->kb, bp->t[0], bp->t[0], bp->t[1], JALRT_DIM_REG(bp->n_res));
}

static void emit_rope(struct bprog *bp, uint64_t a, uint32_t n)
{
	const struct llm_config *c = &bp->b->m->cfg;
	struct jalrt_rows rows = { .count = JALRT_DIM_REG(BA_ROWS) };

	li_act(bp, bp->t[0], a);
	li_io(bp, bp->t[2], bp->b->o.positions);
	if (bp->b->m->rope_freqs) {
		/* scaled RoPE: llm.c's frequency table */
		jalrt_kb_li(bp->kb, bp->t[3], jalrt_tensor_va(bp->b->m->rope_freqs));
		jalrt_kb_rope_rows_freqs(bp->kb, bp->t[0], bp->t[0], bp->t[2], bp->t[3],
					 JALRT_DIM(n), JALRT_DIM(c->head_size), &rows);
		return;
	}
	jalrt_kb_rope_rows(bp->kb, bp->t[0], bp->t[0], bp->t[2], JALRT_DIM(n),
			   JALRT_DIM(c->head_size), c->rope_theta, &rows);
}

/*
 * Rows at @a (@n floats each, dense) += @bias, every row: llm.c's VADD
 * per row, in a loop over the B rows (VADD has no row form, and a loop
 * of a few scalar instructions a row costs next to nothing).
 */
static void emit_bias_rows(struct bprog *bp, uint64_t a, struct jalrt_tensor *bias, uint32_t n)
{
	uint32_t label = 0;

	li_act(bp, bp->t[0], a);
	jalrt_kb_li(bp->kb, bp->t[1], jalrt_tensor_va(bias));
	jalrt_kb_li(bp->kb, bp->t[2], 0);
	jalrt_kb_new_label(bp->kb, &label);
	jalrt_kb_bind(bp->kb, label);
	jalrt_kb_vadd(bp->kb, bp->t[0], bp->t[0], bp->t[1], JALRT_DIM(n));
	jalrt_kb_addi(bp->kb, bp->t[0], bp->t[0], (uint64_t)n * 4);
	jalrt_kb_addi(bp->kb, bp->t[2], bp->t[2], 1);
	jalrt_kb_bltu(bp->kb, bp->t[2], BA_ROWS, label);
}

/* The pools of layer @l and the block tables, in t[3..5]. */
static struct jalrt_kv_pool li_pool(struct bprog *bp, int l)
{
	const struct jalrt_llm_batch *b = bp->b;
	uint64_t pool = (uint64_t)b->blocks * b->block_bytes;
	uint64_t k = jalrt_buffer_va(b->kv) + 2 * (uint64_t)l * pool;
	struct jalrt_kv_pool kv = {
		.rk = bp->t[3], .rv = bp->t[4], .rtables = bp->t[5],
		.block_size = b->block_size, .blocks = b->blocks,
		.table_entries = b->table_entries, .table_pitch = b->table_entries,
		.dtype = b->kv_dtype,
	};

	jalrt_kb_li(bp->kb, kv.rk, k);
	jalrt_kb_li(bp->kb, kv.rv, k + pool);
	li_io(bp, kv.rtables, b->o.tables);
	return kv;
}

/* Store every row's k and v, then let every row attend up to its position. */
static void emit_attention(struct bprog *bp, int l)
{
	const struct llm_config *c = &bp->b->m->cfg;
	const struct batch_act *a = &bp->b->a;
	struct jalrt_paged_kv_store_op st = {
		.rk = bp->t[0], .rv = bp->t[1], .rpositions = bp->t[2],
		.head_size = JALRT_DIM(c->head_size), .n_kv_heads = JALRT_DIM(c->n_kv_heads),
		.rows = JALRT_DIM_REG(BA_ROWS),
	};
	struct jalrt_paged_attention_op at = {
		.rout = bp->t[0], .rq = bp->t[1], .rlengths = bp->t[2],
		.n_heads = JALRT_DIM(c->n_heads), .head_size = JALRT_DIM(c->head_size),
		.n_kv_heads = JALRT_DIM(c->n_kv_heads), .rows = JALRT_DIM_REG(BA_ROWS),
	};

	st.pool = li_pool(bp, l);
	at.pool = st.pool;
	li_act(bp, st.rk, a->k);
	li_act(bp, st.rv, a->v);
	li_io(bp, st.rpositions, bp->b->o.positions);
	jalrt_kb_paged_kv_store(bp->kb, &st);
	li_act(bp, at.rout, a->xb);
	li_act(bp, at.rq, a->q);
	li_io(bp, at.rlengths, bp->b->o.lengths);
	jalrt_kb_paged_attention(bp->kb, &at);
}

/* llm.c's emit_layer() over B rows, in the same order. */
static void emit_layer(struct bprog *bp, int l)
{
	const struct llm_config *c = &bp->b->m->cfg;
	const struct llm_layer *ly = &bp->b->m->layers[l];
	const struct batch_act *a = &bp->b->a;
	struct jalrt_rows rows = { .count = JALRT_DIM_REG(BA_ROWS) };
	uint32_t dim = (uint32_t)c->dim, kvd = (uint32_t)c->kv_dim, hid = (uint32_t)c->hidden_dim;

	emit_rmsnorm(bp, a->xb, a->x, ly->rms_att, BA_ROWS);
	emit_matmul(bp, a->q, ly->wq, dim, dim, a->xb, BA_ROWS);
	emit_matmul(bp, a->k, ly->wk, kvd, dim, a->xb, BA_ROWS);
	emit_matmul(bp, a->v, ly->wv, kvd, dim, a->xb, BA_ROWS);
	if (ly->bq) {
		emit_bias_rows(bp, a->q, ly->bq, dim);
		emit_bias_rows(bp, a->k, ly->bk, kvd);
		emit_bias_rows(bp, a->v, ly->bv, kvd);
	}
	emit_rope(bp, a->q, dim);
	emit_rope(bp, a->k, kvd);
	emit_attention(bp, l);
	emit_matmul(bp, a->xb2, ly->wo, dim, dim, a->xb, BA_ROWS);
	emit_residual(bp, a->xb2);
	emit_rmsnorm(bp, a->xb, a->x, ly->rms_ffn, BA_ROWS);
	emit_matmul(bp, a->hb, ly->w1, hid, dim, a->xb, BA_ROWS);
	emit_matmul(bp, a->hb2, ly->w3, hid, dim, a->xb, BA_ROWS);
	li_act(bp, bp->t[0], a->hb);
	li_act(bp, bp->t[1], a->hb2);
	jalrt_kb_silu_mul_rows(bp->kb, bp->t[0], bp->t[0], bp->t[1], JALRT_DIM(hid), &rows);
	emit_matmul(bp, a->xb, ly->w2, dim, hid, a->hb, BA_ROWS);
	emit_residual(bp, a->xb);
}

static void emit_embed(struct bprog *bp)
{
	const struct jalrt_llm *m = bp->b->m;
	struct jalrt_rows rows = { .count = JALRT_DIM_REG(BA_ROWS) };
	struct jalrt_embed_op op = { 0 };

	op.dtype = jalrt_tensor_dtype(m->emb);
	op.rd = bp->t[0];
	op.rtable = bp->t[1];
	op.rscales = li_weights(bp, m->emb, bp->t[1], bp->t[3]);
	op.dim = JALRT_DIM((uint32_t)m->cfg.dim);
	op.row = JALRT_DIM(0);
	op.rows = JALRT_DIM((uint32_t)m->cfg.vocab_size);
	op.group = op.dtype == JALRT_DTYPE_Q8 ? jalrt_tensor_group(m->emb) : 0;
	li_act(bp, op.rd, bp->b->a.x);
	li_io(bp, bp->t[2], bp->b->o.tokens);
	jalrt_kb_embed_rows(bp->kb, &op, bp->t[2], &rows);
}

/*
 * The sampling rows: gather their x (EMBED of an f32 table: x itself,
 * indexed by row), then the final norm, the classifier and the sampler on
 * those S rows only.
 */
static void emit_head(struct bprog *bp)
{
	const struct jalrt_llm_batch *b = bp->b;
	const struct llm_config *c = &b->m->cfg;
	struct jalrt_rows rows = { .count = JALRT_DIM_REG(BA_SAMPLES) };
	struct jalrt_embed_op gather = {
		.dtype = JAL_DTYPE_F32, .rd = bp->t[0], .rtable = bp->t[1],
		.dim = JALRT_DIM((uint32_t)c->dim), .row = JALRT_DIM(0),
		.rows = JALRT_DIM(b->max_rows),
	};

	li_act(bp, gather.rd, b->a.xs);
	li_act(bp, gather.rtable, b->a.x);
	li_io(bp, bp->t[2], b->o.picks);
	jalrt_kb_embed_rows(bp->kb, &gather, bp->t[2], &rows);
	emit_rmsnorm(bp, b->a.xs, b->a.xs, b->m->rms_final, BA_SAMPLES);
	emit_matmul(bp, b->a.logits, b->m->wcls, (uint32_t)c->vocab_size, (uint32_t)c->dim,
		    b->a.xs, BA_SAMPLES);
	li_io(bp, bp->t[0], b->o.results);
	li_act(bp, bp->t[1], b->a.logits);
	li_io(bp, bp->t[2], b->o.rng);
	li_io(bp, bp->t[3], b->o.params);
	jalrt_kb_sample_rows(bp->kb, bp->t[0], bp->t[1], bp->t[2], bp->t[3],
			     JALRT_DIM((uint32_t)c->vocab_size), &rows);
}

/* Registers of the decode loop. */
struct bloop {
	unsigned int step, row, at, out, tmp;
	uint32_t step_label, row_label;
};

static int loop_regs(struct bprog *bp, struct bloop *lp)
{
	int ret = jalrt_program_scalar(bp->p, &lp->step);

	if (!ret)
		ret = jalrt_program_scalar(bp->p, &lp->row);
	if (!ret)
		ret = jalrt_program_scalar(bp->p, &lp->at);
	if (!ret)
		ret = jalrt_program_scalar(bp->p, &lp->out);
	if (!ret)
		ret = jalrt_program_scalar(bp->p, &lp->tmp);
	if (!ret)
		ret = jalrt_kb_new_label(bp->kb, &lp->step_label);
	if (!ret)
		ret = jalrt_kb_new_label(bp->kb, &lp->row_label);
	return ret;
}

/* u32 at R[@at] + @off += 1 */
static void emit_inc32(struct bprog *bp, const struct bloop *lp, uint64_t off)
{
	jalrt_kb_ld32(bp->kb, lp->tmp, lp->at, off);
	jalrt_kb_addi(bp->kb, lp->tmp, lp->tmp, 1);
	jalrt_kb_st32(bp->kb, lp->tmp, lp->at, off);
}

/*
 * After a step of the decode loop, for every row b (sampling row b: the
 * picks are the identity): token b = result b, also to the output array;
 * position and length b one further. Then the next step, K in all.
 */
static void emit_feedback(struct bprog *bp, const struct bloop *lp)
{
	const struct batch_io *o = &bp->b->o;

	jalrt_kb_li(bp->kb, lp->at, rows_va(bp->b));
	jalrt_kb_li(bp->kb, lp->row, 0);
	jalrt_kb_bind(bp->kb, lp->row_label);
	jalrt_kb_ld32(bp->kb, lp->tmp, lp->at, o->results);
	jalrt_kb_st32(bp->kb, lp->tmp, lp->at, o->tokens);
	jalrt_kb_st32(bp->kb, lp->tmp, lp->out, 0);
	emit_inc32(bp, lp, o->positions);
	emit_inc32(bp, lp, o->lengths);
	jalrt_kb_addi(bp->kb, lp->at, lp->at, 4);
	jalrt_kb_addi(bp->kb, lp->out, lp->out, 4);
	jalrt_kb_addi(bp->kb, lp->row, lp->row, 1);
	jalrt_kb_bltu(bp->kb, lp->row, BA_ROWS, lp->row_label);
	jalrt_kb_addi(bp->kb, lp->step, lp->step, 1);
	jalrt_kb_bltu(bp->kb, lp->step, BA_STEPS, lp->step_label);
}

/* The step program, or with @loop the decode loop around the same body. */
static int build_program(struct jalrt_llm_batch *b, bool loop, struct jalrt_program **out)
{
	struct bprog bp = { .b = b };
	struct bloop lp = { 0 };
	unsigned int i;
	int l, ret;

	ret = jalrt_program_create(b->m->g, BA_NUM, &bp.p);
	if (ret)
		return ret;
	bp.kb = jalrt_program_builder(bp.p);
	ret = jalrt_program_scalar(bp.p, &bp.n_res);
	for (i = 0; !ret && i < BP_TEMPS; i++)
		ret = jalrt_program_scalar(bp.p, &bp.t[i]);
	if (!ret && loop)
		ret = loop_regs(&bp, &lp);
	if (!ret) {
		/* The builder keeps its first error; finalize reports it. */
		jalrt_kb_muli(bp.kb, bp.n_res, BA_ROWS, (uint64_t)b->m->cfg.dim);
		if (loop) {
			jalrt_kb_li(bp.kb, lp.step, 0);
			jalrt_kb_li(bp.kb, lp.out, rows_va(b) + b->o.outs);
			jalrt_kb_bind(bp.kb, lp.step_label);
		}
		emit_embed(&bp);
		for (l = 0; l < b->m->cfg.n_layers; l++)
			emit_layer(&bp, l);
		emit_head(&bp);
		if (loop)
			emit_feedback(&bp, &lp);
		jalrt_kb_halt(bp.kb);
		ret = jalrt_kb_error(bp.kb);
	}
	if (!ret)
		ret = jalrt_program_finalize(bp.p);
	if (ret) {
		jalrt_program_destroy(bp.p);
		return ret;
	}
	*out = bp.p;
	return 0;
}

JALRT_API int jalrt_llm_batch_create(struct jalrt_llm *m,
				     const struct jalrt_llm_batch_options *opts,
				     struct jalrt_llm_batch **out)
{
	struct jalrt_llm_batch_options def = { 0 };
	struct jalrt_llm_batch *b;
	int ret;

	if (!m || !out)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, m ? "batch" : "llm");
	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
	b->m = m;
	ret = set_sizes(b, opts ? opts : &def);
	if (!ret)
		ret = alloc_memory(b);
	if (!ret)
		ret = build_program(b, false, &b->prog);
	if (ret) {
		jalrt_llm_batch_destroy(b);
		return ret;
	}
	*out = b;
	return 0;
}

JALRT_API int jalrt_llm_batch_destroy(struct jalrt_llm_batch *b)
{
	if (!b)
		return 0;
	jalrt_program_destroy(b->prog);
	jalrt_program_destroy(b->loop);
	jalrt_cmdbuf_destroy(b->cb);
	jalrt_buffer_free(b->rows_dev);
	jalrt_buffer_free(b->io);
	jalrt_buffer_free(b->act);
	jalrt_buffer_free(b->kv);
	free(b->last_pick);
	free(b->free_blocks);
	free(b->tables);
	free(b->seqs);
	free(b);
	return 0;
}

/* ---- sequences and blocks ---------------------------------------------- */

/* The live sequence @s of @b, or NULL for anything else (freed, foreign). */
static struct jalrt_llm_seq *find_seq(const struct jalrt_llm_batch *b,
				      const struct jalrt_llm_seq *s)
{
	uintptr_t p = (uintptr_t)s, base = (uintptr_t)b->seqs;
	size_t i;

	if (!s || p < base || (p - base) % sizeof(*s))
		return NULL;
	i = (p - base) / sizeof(*s);
	if (i >= b->max_seqs || !b->seqs[i].live)
		return NULL;
	return &b->seqs[i];
}

/* Blocks a sequence of @len positions holds. */
static uint32_t blocks_for(const struct jalrt_llm_batch *b, int len)
{
	return (uint32_t)(((uint64_t)len + b->block_size - 1) / b->block_size);
}

JALRT_API int jalrt_llm_seq_create(struct jalrt_llm_batch *b, struct jalrt_llm_seq **out)
{
	unsigned int i;

	if (!b || !out)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, b ? "seq" : "batch");
	*out = NULL;
	for (i = 0; i < b->max_seqs && b->seqs[i].live; i++)
		;
	if (i == b->max_seqs)
		return jalrt_set_error(-ENOSPC, "%s: the batch has its %u sequences", __func__,
				       b->max_seqs);
	b->seqs[i].live = true;
	b->seqs[i].len = 0;
	b->seqs[i].n_blocks = 0;
	b->live_seqs++;
	*out = &b->seqs[i];
	return 0;
}

JALRT_API int jalrt_llm_seq_free(struct jalrt_llm_batch *b, struct jalrt_llm_seq *seq)
{
	struct jalrt_llm_seq *s;

	if (!b)
		return jalrt_set_error(-EINVAL, "%s: NULL batch", __func__);
	if (!seq)
		return 0;
	s = find_seq(b, seq);
	if (!s)
		return jalrt_set_error(-EINVAL, "%s: not a live sequence of this batch", __func__);
	while (s->n_blocks)
		b->free_blocks[b->n_free++] = s->blocks[--s->n_blocks];
	s->live = false;
	s->len = 0;
	b->live_seqs--;
	return 0;
}

JALRT_API int jalrt_llm_seq_length(const struct jalrt_llm_batch *b,
				   const struct jalrt_llm_seq *seq)
{
	const struct jalrt_llm_seq *s = b ? find_seq(b, seq) : NULL;

	if (!s)
		return jalrt_set_error(-EINVAL, "%s: not a live sequence of this batch", __func__);
	return s->len;
}

JALRT_API int jalrt_llm_seq_blocks_needed(const struct jalrt_llm_batch *b,
					  const struct jalrt_llm_seq *seq, int rows)
{
	const struct jalrt_llm_seq *s = b ? find_seq(b, seq) : NULL;

	if (!s)
		return jalrt_set_error(-EINVAL, "%s: not a live sequence of this batch", __func__);
	if (rows < 0 || rows > b->m->cfg.seq_len - s->len)
		return jalrt_set_error(-EINVAL, "%s: %d more positions after %d exceed the context of %d",
				       __func__, rows, s->len, b->m->cfg.seq_len);
	return (int)(blocks_for(b, s->len + rows) - s->n_blocks);
}

/* ---- steps ------------------------------------------------------------- */

static int check_sampler(const char *fn, int i, const struct jalrt_llm_batch_row *r)
{
	if (!(r->temperature >= 0.0f) || r->temperature > 1e30f)
		return jalrt_set_error(-EINVAL, "%s: row %d: temperature %g is not a finite value >= 0",
				       fn, i, r->temperature);
	if (r->topp != r->topp)
		return jalrt_set_error(-EINVAL, "%s: row %d: top-p is NaN", fn, i);
	if (r->temperature != 0.0f && !r->rng)
		return jalrt_set_error(-EINVAL,
				       "%s: row %d: rng state 0 would make xorshift return 0 forever",
				       fn, i);
	return 0;
}

static int check_row(struct jalrt_llm_batch *b, const char *fn, int i,
		     const struct jalrt_llm_batch_row *r)
{
	const struct llm_config *c = &b->m->cfg;
	struct jalrt_llm_seq *s = find_seq(b, r->seq);

	if (!s)
		return jalrt_set_error(-EINVAL, "%s: row %d: not a live sequence of this batch", fn,
				       i);
	if (s->stamp != b->stamp) {
		s->stamp = b->stamp;
		s->next = s->len;
	}
	if (r->token < 0 || r->token >= c->vocab_size)
		return jalrt_set_error(-EINVAL, "%s: row %d: token %d is outside the vocabulary of %d",
				       fn, i, r->token, c->vocab_size);
	if (r->pos < 0 || r->pos >= c->seq_len)
		return jalrt_set_error(-EINVAL, "%s: row %d: position %d is outside the context of %d",
				       fn, i, r->pos, c->seq_len);
	if (r->pos != s->next)
		return jalrt_set_error(-EINVAL,
				       "%s: row %d: position %d, but its sequence's next position is %d",
				       fn, i, r->pos, s->next);
	s->next++;
	return r->sample ? check_sampler(fn, i, r) : 0;
}

/* Blocks the checked step takes from the pool. */
static uint64_t step_blocks(const struct jalrt_llm_batch *b)
{
	uint64_t need = 0;
	unsigned int i;

	for (i = 0; i < b->max_seqs; i++) {
		const struct jalrt_llm_seq *s = &b->seqs[i];

		if (s->live && s->stamp == b->stamp)
			need += blocks_for(b, s->next) - s->n_blocks;
	}
	return need;
}

static void take_blocks(struct jalrt_llm_batch *b)
{
	unsigned int i;

	for (i = 0; i < b->max_seqs; i++) {
		struct jalrt_llm_seq *s = &b->seqs[i];

		if (!s->live || s->stamp != b->stamp)
			continue;
		while (s->n_blocks < blocks_for(b, s->next))
			s->blocks[s->n_blocks++] = b->free_blocks[--b->n_free];
	}
}

/*
 * The per-row arrays of the step (every row sampling if @all); returns
 * the number of sampling rows.
 */
static unsigned int write_rows(struct jalrt_llm_batch *b, const struct jalrt_llm_batch_row *rows,
			       int n_rows, bool all)
{
	uint32_t *tokens = io_host(b, b->o.tokens), *pos = io_host(b, b->o.positions);
	uint32_t *len = io_host(b, b->o.lengths), *tables = io_host(b, b->o.tables);
	uint32_t *picks = io_host(b, b->o.picks);
	float *params = io_host(b, b->o.params);
	uint64_t *rng = io_host(b, b->o.rng);
	size_t table_bytes = (size_t)b->table_entries * sizeof(*tables);
	unsigned int n = 0;
	int i;

	for (i = 0; i < n_rows; i++) {
		const struct jalrt_llm_batch_row *r = &rows[i];
		const struct jalrt_llm_seq *s = find_seq(b, r->seq);

		tokens[i] = (uint32_t)r->token;
		pos[i] = (uint32_t)r->pos;
		len[i] = (uint32_t)r->pos + 1;
		memcpy(tables + (size_t)i * b->table_entries, s->blocks, table_bytes);
		b->last_pick[i] = -1;
		if (!r->sample && !all)
			continue;
		b->last_pick[i] = (int)n;
		picks[n] = (uint32_t)i;
		params[2 * n] = r->temperature;
		params[2 * n + 1] = r->topp;
		rng[n] = r->rng;
		n++;
	}
	return n;
}

static int record_step(struct jalrt_llm_batch *b, struct jalrt_program *p, int n_rows,
		       unsigned int n_samples, int steps)
{
	uint64_t args[BA_NUM] = { (uint64_t)n_rows, n_samples, (uint64_t)steps };
	uint64_t vocab_bytes = (uint64_t)b->m->cfg.vocab_size * 4;
	int ret;

	jalrt_cmdbuf_reset(b->cb);
	/* the inputs, rng states included */
	ret = b->rows_dev ? jalrt_cmdbuf_copy(b->cb, b->rows_dev, 0, b->io, 0, b->o.results) : 0;
	if (!ret)
		ret = jalrt_cmdbuf_timestamp(b->cb, b->io, b->o.stamps);
	if (!ret)
		ret = jalrt_program_record(p, b->cb, args, BA_NUM);
	if (!ret)
		ret = jalrt_cmdbuf_use_buffer(b->cb, b->kv);
	if (!ret)
		ret = jalrt_cmdbuf_use_buffer(b->cb, b->act);
	if (!ret)
		ret = jalrt_cmdbuf_use_buffer(b->cb, b->io);
	if (!ret)
		ret = jalrt_cmdbuf_timestamp(b->cb, b->io, b->o.stamps + 8);
	/* back: rng states and results (adjacent), the decode loop's tokens */
	if (!ret && b->rows_dev)
		ret = jalrt_cmdbuf_copy(b->cb, b->io, b->o.rng, b->rows_dev, b->o.rng,
					b->o.outs - b->o.rng);
	if (!ret && b->rows_dev && p == b->loop)
		ret = jalrt_cmdbuf_copy(b->cb, b->io, b->o.outs, b->rows_dev, b->o.outs,
					(uint64_t)n_rows * (uint64_t)steps * 4);
	if (!ret && (b->flags & JALRT_LLM_BATCH_LOGITS) && n_samples && p == b->prog)
		ret = jalrt_cmdbuf_copy(b->cb, b->io, b->o.logits, b->act, b->a.logits,
					n_samples * vocab_bytes);
	return ret;
}

/* After the job: tokens and rng states out, lengths forward. */
static void finish_step(struct jalrt_llm_batch *b, struct jalrt_llm_batch_row *rows, int n_rows,
			int *out_tokens)
{
	const uint32_t *results = io_host(b, b->o.results);
	const uint64_t *rng = io_host(b, b->o.rng);
	unsigned int i;
	int r;

	for (r = 0; r < n_rows; r++) {
		int j = b->last_pick[r];

		if (out_tokens)
			out_tokens[r] = j < 0 ? -1 : (int)results[j];
		if (j >= 0)
			rows[r].rng = rng[j];
	}
	for (i = 0; i < b->max_seqs; i++) {
		struct jalrt_llm_seq *s = &b->seqs[i];

		if (s->live && s->stamp == b->stamp)
			s->len = s->next;
	}
}

/* Submit the recorded job of @steps steps and wait; the stats of the last job. */
static int run_job(struct jalrt_llm_batch *b, struct jalrt_program *p, int n_rows,
		   unsigned int n_samples, int steps, uint64_t start)
{
	const uint64_t *stamps = io_host(b, b->o.stamps);
	int ret = record_step(b, p, n_rows, n_samples, steps);

	if (!ret)
		ret = jalrt_submit_sync(b->m->ctx, b->cb, NULL, 0, JALRT_TIMEOUT_INFINITE);
	if (ret)
		return ret;
	b->steps += (uint64_t)steps;
	b->last_rows = (unsigned int)n_rows;
	b->last_samples = n_samples;
	b->last_steps = (unsigned int)steps;
	b->last_device_ns = stamps[1] - stamps[0];
	b->last_step_ns = llm_now() - start;
	return 0;
}

JALRT_API int jalrt_llm_batch_step(struct jalrt_llm_batch *b, struct jalrt_llm_batch_row *rows,
				   int n_rows, int *out_tokens)
{
	uint64_t start = llm_now(), need;
	unsigned int n_samples;
	int i, ret;

	if (!b || !rows || !out_tokens)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       !b ? "batch" : !rows ? "rows" : "out_tokens");
	if (n_rows < 1 || (unsigned int)n_rows > b->max_rows)
		return jalrt_set_error(-EINVAL, "%s: %d rows, the batch takes 1 to %u", __func__,
				       n_rows, b->max_rows);
	b->stamp++;
	for (i = 0; i < n_rows; i++) {
		ret = check_row(b, __func__, i, &rows[i]);
		if (ret)
			return ret;
	}
	need = step_blocks(b);
	if (need > b->n_free)
		return jalrt_set_error(-ENOSPC, "%s: the step needs %llu KV blocks, %u are free",
				       __func__, (unsigned long long)need, b->n_free);
	b->logits_valid = false;	/* none until this step succeeds */
	take_blocks(b);
	n_samples = write_rows(b, rows, n_rows, false);
	ret = run_job(b, b->prog, n_rows, n_samples, 1, start);
	if (ret)
		return ret;
	finish_step(b, rows, n_rows, out_tokens);
	b->logits_valid = true;
	return 0;
}

/* A decode-loop row: a sequence of its own, at its length, K positions ahead. */
static int check_decode_row(struct jalrt_llm_batch *b, int i, const struct jalrt_llm_batch_row *r,
			    int steps)
{
	const char *fn = "jalrt_llm_batch_decode";
	struct jalrt_llm_seq *s = find_seq(b, r->seq);
	int ret;

	if (s && s->stamp == b->stamp)
		return jalrt_set_error(-EINVAL, "%s: row %d: its sequence has a row already", fn, i);
	ret = check_row(b, fn, i, r);
	if (!ret)
		ret = check_sampler(fn, i, r);
	if (ret)
		return ret;
	if (r->pos + steps > b->m->cfg.seq_len)
		return jalrt_set_error(-EINVAL,
				       "%s: row %d: %d steps from position %d exceed the context of %d",
				       fn, i, steps, r->pos, b->m->cfg.seq_len);
	s->next = r->pos + steps;
	return 0;
}

/* The decode loop's tokens out, step by step, and the sequences forward. */
static void finish_decode(struct jalrt_llm_batch *b, struct jalrt_llm_batch_row *rows,
			  int n_rows, int steps, int *out_tokens)
{
	const uint32_t *outs = io_host(b, b->o.outs);
	size_t i, n = (size_t)n_rows * (size_t)steps;

	for (i = 0; i < n; i++)
		out_tokens[i] = (int)outs[i];
	finish_step(b, rows, n_rows, NULL);
}

JALRT_API int jalrt_llm_batch_decode(struct jalrt_llm_batch *b, struct jalrt_llm_batch_row *rows,
				     int n_rows, int steps, int *out_tokens)
{
	uint64_t start = llm_now(), need;
	int i, ret;

	if (!b || !rows || !out_tokens)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       !b ? "batch" : !rows ? "rows" : "out_tokens");
	if (n_rows < 1 || (unsigned int)n_rows > b->max_rows)
		return jalrt_set_error(-EINVAL, "%s: %d rows, the batch takes 1 to %u", __func__,
				       n_rows, b->max_rows);
	if (steps < 1 || steps > JALRT_LLM_BATCH_MAX_STEPS)
		return jalrt_set_error(-EINVAL, "%s: %d steps, 1 to %d", __func__, steps,
				       JALRT_LLM_BATCH_MAX_STEPS);
	b->stamp++;
	for (i = 0; i < n_rows; i++) {
		ret = check_decode_row(b, i, &rows[i], steps);
		if (ret)
			return ret;
	}
	need = step_blocks(b);
	if (need > b->n_free)
		return jalrt_set_error(-ENOSPC, "%s: the steps need %llu KV blocks, %u are free",
				       __func__, (unsigned long long)need, b->n_free);
	if (!b->loop) {
		ret = build_program(b, true, &b->loop);
		if (ret)
			return ret;
	}
	b->logits_valid = false;
	take_blocks(b);
	write_rows(b, rows, n_rows, true);
	ret = run_job(b, b->loop, n_rows, (unsigned int)n_rows, steps, start);
	if (ret)
		return ret;
	finish_decode(b, rows, n_rows, steps, out_tokens);
	return 0;
}

JALRT_API int jalrt_llm_batch_logits(const struct jalrt_llm_batch *b, int row, float *logits)
{
	size_t vocab;
	int j;

	if (!b || !logits)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, b ? "logits" : "batch");
	if (!(b->flags & JALRT_LLM_BATCH_LOGITS))
		return jalrt_set_error(-EINVAL, "%s: the batch was made without JALRT_LLM_BATCH_LOGITS",
				       __func__);
	if (!b->logits_valid || row < 0 || (unsigned int)row >= b->last_rows ||
	    b->last_pick[row] < 0)
		return jalrt_set_error(-EINVAL, "%s: row %d is not a sampling row of the last step",
				       __func__, row);
	j = b->last_pick[row];
	vocab = (size_t)b->m->cfg.vocab_size;
	memcpy(logits, (const float *)io_host(b, b->o.logits) + (size_t)j * vocab,
	       vocab * sizeof(*logits));
	return 0;
}

JALRT_API int jalrt_llm_batch_query(const struct jalrt_llm_batch *b,
				    struct jalrt_llm_batch_info *info)
{
	if (!b || !info)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, b ? "info" : "batch");
	memset(info, 0, sizeof(*info));
	info->max_seqs = b->max_seqs;
	info->max_rows = b->max_rows;
	info->block_size = b->block_size;
	info->kv_dtype = b->kv_dtype;
	info->blocks = b->blocks;
	info->free_blocks = b->n_free;
	info->used_blocks = b->blocks - b->n_free;
	info->live_seqs = b->live_seqs;
	info->kv_bytes = jalrt_buffer_size(b->kv);
	info->device_bytes = info->kv_bytes + jalrt_buffer_size(b->act);
	info->in_vram = b->in_vram;
	info->program_insns = jalrt_kernel_num_insns(jalrt_program_kernel(b->prog));
	info->steps = b->steps;
	info->last_steps = b->last_steps;
	info->last_rows = b->last_rows;
	info->last_sample_rows = b->last_samples;
	info->last_device_ns = b->last_device_ns;
	info->last_step_ns = b->last_step_ns;
	info->last_host_ns = b->last_step_ns > b->last_device_ns ?
			     b->last_step_ns - b->last_device_ns : 0;
	return 0;
}
