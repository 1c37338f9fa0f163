// SPDX-License-Identifier: MIT
/*
 * Fake platform and helpers for the chip model's host unit tests.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "jal_test.h"

static void die(const char *msg)
{
	fprintf(stderr, "test infrastructure: %s\n", msg);
	abort();
}

static bool fake_dma_ok(struct fake *f, uint64_t pa, size_t len)
{
	if (pa >= f->mem_size || len > f->mem_size - pa)
		return false;
	return pa + len <= f->fail_lo || pa >= f->fail_hi;
}

static int fake_dma_read(void *opaque, uint64_t pa, void *buf, size_t len)
{
	struct fake *f = opaque;

	if (!fake_dma_ok(f, pa, len))
		return -1;
	memcpy(buf, f->mem + pa, len);
	return 0;
}

static int fake_dma_write(void *opaque, uint64_t pa, const void *buf, size_t len)
{
	struct fake *f = opaque;

	if (!fake_dma_ok(f, pa, len))
		return -1;
	memcpy(f->mem + pa, buf, len);
	return 0;
}

static void fake_raise_irq(void *opaque, unsigned int vector)
{
	struct fake *f = opaque;

	if (vector >= JAL_MSIX_NUM_VECTORS)
		die("bad interrupt vector");
	atomic_store(&f->irq_ns[vector], now_ns());
	atomic_fetch_add(&f->irqs[vector], 1);
}

/* A clock that advances on every read, so timestamps order events. */
static uint64_t fake_now_ns(void *opaque)
{
	struct fake *f = opaque;

	return atomic_fetch_add(&f->clock, 1000) + 1000;
}

static void fake_log(void *opaque, const char *fmt, ...)
{
	struct fake *f = opaque;
	va_list ap;

	atomic_fetch_add(&f->logs, 1);
	if (!f->verbose)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void fake_worker_start(void *opaque)
{
	atomic_fetch_add(&((struct fake *)opaque)->worker_starts, 1);
}

static void fake_worker_stop(void *opaque)
{
	atomic_fetch_add(&((struct fake *)opaque)->worker_stops, 1);
}

static const struct jal_platform_ops fake_ops = {
	.dma_read = fake_dma_read,
	.dma_write = fake_dma_write,
	.raise_irq = fake_raise_irq,
	.now_ns = fake_now_ns,
	.log_guest_error = fake_log,
	.worker_start = fake_worker_start,
	.worker_stop = fake_worker_stop,
};

const struct jal_platform_ops *fake_platform_ops(void)
{
	return &fake_ops;
}

void fake_test_config(struct jal_device_config *cfg)
{
	const char *base = getenv("JAL_TEST_BASELINE");

	jal_device_config_default(cfg);
	cfg->vram_size = TEST_VRAM_SIZE;
	cfg->compute_threads = 2;
	cfg->kernels = base && *base && strcmp(base, "0") ? "generic" : NULL;
}

struct fake *fake_new(uint64_t mem_size)
{
	struct jal_device_config cfg;

	fake_test_config(&cfg);
	return fake_new_cfg(mem_size, &cfg);
}

struct fake *fake_new_cfg(uint64_t mem_size, const struct jal_device_config *cfg)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f)
		die("out of memory");
	f->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->mem == MAP_FAILED)
		die("cannot map guest memory");
	f->mem_size = mem_size;
	f->next_pa = PAGE;	/* PA 0 stays unused */
	f->fail_lo = f->fail_hi = 0;
	f->verbose = getenv("JAL_TEST_VERBOSE") != NULL;
	f->rng = 0x9e3779b97f4a7c15ull;
	atomic_init(&f->clock, 1000000);
	f->dev = jal_device_create(&fake_ops, f, cfg);
	if (!f->dev)
		die("jal_device_create failed");
	f->vram = jal_device_vram(f->dev, &f->vram_size);
	return f;
}

void fake_free(struct fake *f)
{
	if (!f)
		return;
	jal_device_destroy(f->dev);
	munmap(f->mem, f->mem_size);
	free(f);
}

uint32_t rd(struct fake *f, uint32_t off)
{
	return (uint32_t)jal_mmio_read(f->dev, off, 4);
}

void wr(struct fake *f, uint32_t off, uint32_t val)
{
	jal_mmio_write(f->dev, off, val, 4);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t rnd(struct fake *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 0x2545f4914f6cdd1dull;
}

uint64_t page_alloc(struct fake *f, uint64_t npages)
{
	uint64_t pa = f->next_pa;

	if (npages > (f->mem_size - pa) / PAGE)
		die("guest memory exhausted");
	f->next_pa += npages * PAGE;
	memset(f->mem + pa, 0, npages * PAGE);
	return pa;
}

void *host_pa(struct fake *f, uint64_t pa)
{
	if (pa >= f->mem_size)
		die("PA outside guest memory");
	return f->mem + pa;
}

void ctx_setup(struct fake *f, unsigned int ctx)
{
	struct jal_ctx_entry *e;

	if (!f->ctx_table)
		die("no context table");
	f->root[ctx] = page_alloc(f, 1);
	e = host_pa(f, f->ctx_table + ctx * sizeof(*e));
	e->pt_root = f->root[ctx] | JAL_CTX_VALID;
	e->reserved = 0;
}

uint64_t *dir_pte(struct fake *f, unsigned int ctx, uint64_t va, bool alloc)
{
	uint64_t *e;

	if (!f->root[ctx])
		die("context has no page table");
	e = host_pa(f, f->root[ctx] + ((va >> 30) & 511) * 8);
	if (!(*e & JAL_PTE_VALID)) {
		if (!alloc)
			return NULL;
		*e = page_alloc(f, 1) | JAL_PTE_VALID;
	}
	return host_pa(f, (*e & JAL_PTE_ADDR_MASK) + ((va >> 21) & 511) * 8);
}

static uint64_t *pte_slot(struct fake *f, unsigned int ctx, uint64_t va,
			  bool alloc)
{
	uint64_t *e = dir_pte(f, ctx, va, alloc);

	if (!e)
		return NULL;
	if (!(*e & JAL_PTE_VALID) || (*e & JAL_PTE_HUGE)) {
		if (!alloc)
			return NULL;
		*e = page_alloc(f, 1) | JAL_PTE_VALID;
	}
	return host_pa(f, (*e & JAL_PTE_ADDR_MASK) + ((va >> 12) & 511) * 8);
}

void map_page(struct fake *f, unsigned int ctx, uint64_t va, uint64_t pa,
	      uint64_t flags)
{
	*pte_slot(f, ctx, va, true) = (pa & JAL_PTE_ADDR_MASK) | JAL_PTE_VALID |
				      flags;
}

/* The leaf entry of @va: a level-0 entry, or a huge level-1 entry. */
uint64_t *leaf_pte(struct fake *f, unsigned int ctx, uint64_t va)
{
	uint64_t *e = dir_pte(f, ctx, va, false);

	if (e && (*e & JAL_PTE_HUGE))
		return e;
	return pte_slot(f, ctx, va, false);
}

uint64_t map_range(struct fake *f, unsigned int ctx, uint64_t va, uint64_t size,
		   uint64_t flags, bool reversed)
{
	uint64_t n = (size + PAGE - 1) / PAGE, i;
	uint64_t pa = page_alloc(f, n);

	for (i = 0; i < n; i++)
		map_page(f, ctx, va + i * PAGE,
			 pa + (reversed ? n - 1 - i : i) * PAGE, flags);
	return pa;
}

void map_vram(struct fake *f, unsigned int ctx, uint64_t va, uint64_t off,
	      uint64_t size, uint64_t flags, bool reversed)
{
	uint64_t n = (size + PAGE - 1) / PAGE, i;

	for (i = 0; i < n; i++)
		map_page(f, ctx, va + i * PAGE,
			 off + (reversed ? n - 1 - i : i) * PAGE,
			 flags | JAL_PTE_VRAM);
}

void map_vram_huge(struct fake *f, unsigned int ctx, uint64_t va, uint64_t off,
		   uint64_t size, uint64_t flags)
{
	uint64_t i;

	if ((va | off | size) & (JAL_HUGE_PAGE_SIZE - 1))
		die("huge mapping not 2 MiB aligned");
	for (i = 0; i < size; i += JAL_HUGE_PAGE_SIZE)
		*dir_pte(f, ctx, va + i, true) = (off + i) | JAL_PTE_VALID |
						 JAL_PTE_HUGE | JAL_PTE_VRAM |
						 flags;
}

/* Host view of a mapped VA: guest memory or device memory, any page size. */
uint8_t *va_host(struct fake *f, unsigned int ctx, uint64_t va)
{
	uint64_t *pte = leaf_pte(f, ctx, va), addr, mask = PAGE - 1;

	if (!pte || !(*pte & JAL_PTE_VALID))
		return NULL;
	if (*pte & JAL_PTE_HUGE)
		mask = JAL_HUGE_PAGE_SIZE - 1;
	addr = (*pte & JAL_PTE_ADDR_MASK) + (va & mask);
	if (*pte & JAL_PTE_VRAM)
		return addr < f->vram_size ? f->vram + addr : NULL;
	return host_pa(f, addr);
}

static void host_access(struct fake *f, unsigned int ctx, uint64_t va,
			void *buf, size_t len, bool write)
{
	uint8_t *p = buf;

	while (len) {
		size_t n = PAGE - (va & (PAGE - 1));
		uint8_t *h = va_host(f, ctx, va);

		if (!h)
			die("host access to unmapped VA");
		n = n < len ? n : len;
		if (write)
			memcpy(h, p, n);
		else
			memcpy(p, h, n);
		va += n;
		p += n;
		len -= n;
	}
}

void host_write(struct fake *f, unsigned int ctx, uint64_t va, const void *buf,
		size_t len)
{
	host_access(f, ctx, va, (void *)buf, len, true);
}

void host_read(struct fake *f, unsigned int ctx, uint64_t va, void *buf,
	       size_t len)
{
	host_access(f, ctx, va, buf, len, false);
}

void queue_setup(struct fake *f, unsigned int q, uint32_t entries,
		 uint32_t priority)
{
	struct fake_queue *fq = &f->q[q];
	uint64_t bytes = entries * sizeof(struct jal_desc);

	fq->ring = page_alloc(f, (bytes + PAGE - 1) / PAGE);
	fq->compl = page_alloc(f, 1);
	fq->size = entries;
	fq->tail = 0;
	wr(f, JAL_REG_Q(q, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	wr(f, JAL_REG_Q(q, JAL_Q_RING_LO), (uint32_t)fq->ring);
	wr(f, JAL_REG_Q(q, JAL_Q_RING_HI), (uint32_t)(fq->ring >> 32));
	wr(f, JAL_REG_Q(q, JAL_Q_RING_SIZE), entries);
	wr(f, JAL_REG_Q(q, JAL_Q_COMPL_LO), (uint32_t)fq->compl);
	wr(f, JAL_REG_Q(q, JAL_Q_COMPL_HI), (uint32_t)(fq->compl >> 32));
	wr(f, JAL_REG_Q(q, JAL_Q_PRIORITY), priority);
	wr(f, JAL_REG_Q(q, JAL_Q_CTRL), JAL_Q_CTRL_ENABLE);
}

void fake_default(struct fake *f)
{
	unsigned int q;

	f->ctx_table = page_alloc(f, 1);
	wr(f, JAL_REG_CTX_TABLE_LO, (uint32_t)f->ctx_table);
	wr(f, JAL_REG_CTX_TABLE_HI, (uint32_t)(f->ctx_table >> 32));
	ctx_setup(f, CTX);
	map_range(f, CTX, CMDBUF_VA, CMDBUF_SIZE, JAL_PTE_READ, false);
	map_range(f, CTX, CODE_VA, JAL_MAX_CODE_SIZE, JAL_PTE_READ, false);
	map_range(f, CTX, ARGS_VA, PAGE, JAL_PTE_READ, false);
	for (q = 0; q < JAL_NUM_QUEUES; q++)
		queue_setup(f, q, RING_ENTRIES, q);
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
}

struct jal_desc *desc_at(struct fake *f, unsigned int q, uint32_t idx)
{
	return host_pa(f, f->q[q].ring + (uint64_t)idx * sizeof(struct jal_desc));
}

struct jal_completion *compl_rec(struct fake *f, unsigned int q)
{
	return host_pa(f, f->q[q].compl);
}

uint32_t push_desc(struct fake *f, unsigned int q, const struct jal_desc *d)
{
	struct fake_queue *fq = &f->q[q];
	uint32_t idx = fq->tail;

	*desc_at(f, q, idx) = *d;
	fq->tail = (fq->tail + 1) % fq->size;
	return idx;
}

void ring_doorbell(struct fake *f, unsigned int q)
{
	wr(f, JAL_REG_DOORBELL(q), f->q[q].tail);
}

uint32_t submit(struct fake *f, unsigned int q, uint32_t ctx, uint64_t cmdbuf_va,
		uint32_t size, uint32_t flags)
{
	struct jal_desc d = {
		.ctx_id = ctx,
		.flags = flags,
		.seqno = ++f->seqno,
		.cmdbuf_va = cmdbuf_va,
		.cmdbuf_size = size,
		.status = 0xdeadbeef,
		.error_offset = 0xdeadbeef,
		.fault_addr = 0xdeadbeefdeadbeefull,
	};
	uint32_t idx = push_desc(f, q, &d);

	ring_doorbell(f, q);
	return idx;
}

bool wait_queue(struct fake *f, unsigned int q, unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	for (;;) {
		uint32_t status = rd(f, JAL_REG_Q(q, JAL_Q_STATUS));

		if (status & JAL_Q_STATUS_ERROR)
			return false;
		if ((status & JAL_Q_STATUS_IDLE) &&
		    rd(f, JAL_REG_Q(q, JAL_Q_HEAD)) == f->q[q].tail)
			return true;
		if (now_ms() > end)
			return false;
		usleep(20);
	}
}

bool wait_busy(struct fake *f, unsigned int timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (!(rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_BUSY)) {
		if (now_ms() > end)
			return false;
		usleep(20);
	}
	return true;
}

unsigned int wait_irqs(struct fake *f, unsigned int vector, unsigned int want)
{
	uint64_t end = now_ms() + 5000;

	while (atomic_load(&f->irqs[vector]) < want && now_ms() < end)
		usleep(20);
	return atomic_load(&f->irqs[vector]);
}

void cb_u32(struct cmdbuf *cb, uint32_t v)
{
	if (cb->len + 4 > sizeof(cb->buf))
		die("command buffer builder overflow");
	memcpy(cb->buf + cb->len, &v, 4);
	cb->len += 4;
}

void cb_u64(struct cmdbuf *cb, uint64_t v)
{
	cb_u32(cb, (uint32_t)v);
	cb_u32(cb, (uint32_t)(v >> 32));
}

void cb_nop(struct cmdbuf *cb)
{
	cb_u32(cb, JAL_CMD_HDR(JAL_CMD_NOP, 1));
}

void cb_copy(struct cmdbuf *cb, uint64_t src, uint64_t dst, uint64_t size)
{
	cb_u32(cb, JAL_CMD_HDR(JAL_CMD_COPY, 8));
	cb_u32(cb, 0);
	cb_u64(cb, src);
	cb_u64(cb, dst);
	cb_u64(cb, size);
}

void cb_fill(struct cmdbuf *cb, uint64_t dst, uint32_t pattern, uint64_t size)
{
	cb_u32(cb, JAL_CMD_HDR(JAL_CMD_FILL, 6));
	cb_u32(cb, pattern);
	cb_u64(cb, dst);
	cb_u64(cb, size);
}

void cb_write_value(struct cmdbuf *cb, uint64_t dst, uint64_t value)
{
	cb_u32(cb, JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, 6));
	cb_u32(cb, 0);
	cb_u64(cb, dst);
	cb_u64(cb, value);
}

void cb_timestamp(struct cmdbuf *cb, uint64_t dst)
{
	cb_u32(cb, JAL_CMD_HDR(JAL_CMD_TIMESTAMP, 4));
	cb_u32(cb, 0);
	cb_u64(cb, dst);
}

void cb_dispatch(struct cmdbuf *cb, uint64_t code_va, uint32_t code_size,
		 uint64_t args_va, uint32_t args_size)
{
	cb_u32(cb, JAL_CMD_HDR(JAL_CMD_DISPATCH, 8));
	cb_u32(cb, 0);
	cb_u64(cb, code_va);
	cb_u32(cb, code_size);
	cb_u32(cb, args_size);
	cb_u64(cb, args_va);
}

struct result run_cb(struct fake *f, unsigned int ctx, const struct cmdbuf *cb)
{
	struct result r = { 0xffffffffu, 0xffffffffu, ~0ull };
	struct jal_desc *d;
	uint32_t idx;

	host_write(f, ctx, CMDBUF_VA, cb->buf, cb->len);
	idx = submit(f, 0, ctx, CMDBUF_VA, cb->len, 0);
	if (!wait_queue(f, 0, 60000))
		return r;
	d = desc_at(f, 0, idx);
	r.status = d->status;
	r.error_offset = d->error_offset;
	r.fault_addr = d->fault_addr;
	return r;
}

struct jal_insn i_op(uint8_t op)
{
	struct jal_insn in;

	memset(&in, 0, sizeof(in));
	in.opcode = op;
	return in;
}

struct jal_insn i_li(uint8_t rd, uint64_t imm)
{
	struct jal_insn in = i_op(JAL_OP_LI);

	in.r[0] = rd;
	in.imm[0] = (uint32_t)imm;
	in.imm[1] = (uint32_t)(imm >> 32);
	return in;
}

struct jal_insn i_addi(uint8_t rd, uint8_t ra, uint64_t imm)
{
	struct jal_insn in = i_li(rd, imm);

	in.opcode = JAL_OP_ADDI;
	in.r[1] = ra;
	return in;
}

struct jal_insn i_add(uint8_t rd, uint8_t ra, uint8_t rb)
{
	struct jal_insn in = i_op(JAL_OP_ADD);

	in.r[0] = rd;
	in.r[1] = ra;
	in.r[2] = rb;
	return in;
}

struct jal_insn i_muli(uint8_t rd, uint8_t ra, uint64_t imm)
{
	struct jal_insn in = i_addi(rd, ra, imm);

	in.opcode = JAL_OP_MULI;
	return in;
}

struct jal_insn i_jump(uint32_t target)
{
	struct jal_insn in = i_op(JAL_OP_JUMP);

	in.imm[2] = target;
	return in;
}

struct jal_insn i_bne(uint8_t ra, uint8_t rb, uint32_t target)
{
	struct jal_insn in = i_op(JAL_OP_BNE);

	in.r[1] = ra;
	in.r[2] = rb;
	in.imm[2] = target;
	return in;
}

struct jal_insn i_bltu(uint8_t ra, uint8_t rb, uint32_t target)
{
	struct jal_insn in = i_bne(ra, rb, target);

	in.opcode = JAL_OP_BLTU;
	return in;
}

struct jal_insn i_beq(uint8_t ra, uint8_t rb, uint32_t target)
{
	struct jal_insn in = i_bne(ra, rb, target);

	in.opcode = JAL_OP_BEQ;
	return in;
}

struct jal_insn i_vop(uint8_t op, uint8_t rd, uint8_t ra, uint8_t rb,
		      uint32_t n, uint32_t sd, uint32_t sa, uint32_t sb)
{
	struct jal_insn in = i_op(op);

	in.dtype = JAL_DTYPE_F32;
	in.r[0] = rd;
	in.r[1] = ra;
	in.r[2] = rb;
	in.dim[0] = n;
	in.stride[0] = sd;
	in.stride[1] = sa;
	in.stride[2] = sb;
	return in;
}

struct jal_insn i_vscale(uint8_t rd, uint8_t ra, uint32_t n, uint32_t sd,
			 uint32_t sa, float s)
{
	struct jal_insn in = i_vop(JAL_OP_VSCALE, rd, ra, 0, n, sd, sa, 0);

	in.imm[0] = f2u(s);
	return in;
}

struct jal_insn i_matvec(uint8_t rd, uint8_t rw, uint8_t rx, uint32_t rows,
			 uint32_t cols, uint32_t sd, uint32_t pitch, uint32_t sx)
{
	struct jal_insn in = i_vop(JAL_OP_MATVEC, rd, rw, rx, rows, sd, pitch, sx);

	in.dim[1] = cols;
	return in;
}

struct result run_kernel(struct fake *f, const struct jal_insn *code,
			 uint32_t count, const uint64_t *args, uint32_t nargs)
{
	struct cmdbuf cb = { 0 };

	host_write(f, CTX, CODE_VA, code, count * sizeof(*code));
	if (nargs)
		host_write(f, CTX, ARGS_VA, args, nargs * 8);
	cb_dispatch(&cb, CODE_VA, count * sizeof(*code), ARGS_VA, nargs * 8);
	return run_cb(f, CTX, &cb);
}

uint32_t f2u(float x)
{
	uint32_t u;

	memcpy(&u, &x, 4);
	return u;
}

float u2f(uint32_t u)
{
	float x;

	memcpy(&x, &u, 4);
	return x;
}

float ref_dot(const float *w, const float *x, uint64_t n, uint64_t xstride)
{
	float lane[8] = { 0 };
	uint64_t k;

	for (k = 0; k < n; k++) {
		float p = w[k] * x[k * xstride];

		lane[k % 8] = lane[k % 8] + p;
	}
	return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
	       ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

void jal_arena_setup(struct jal_arena *a, struct fake *f, uint64_t vram_va,
		     uint64_t vram_len, uint64_t host_va, uint64_t host_len)
{
	fake_default(f);
	map_vram_huge(f, CTX, vram_va, 0, vram_len, RW);
	map_range(f, CTX, host_va, host_len, RW, true);
	wr(f, JAL_REG_STEP_LIMIT_LO, 0);
	wr(f, JAL_REG_STEP_LIMIT_HI, 0);
	*a = (struct jal_arena){
		.vram_va = vram_va, .vram_end = vram_va + vram_len,
		.host_va = host_va, .host_end = host_va + host_len,
	};
	jal_arena_reset(a);
}

uint64_t jal_arena_alloc(struct jal_arena *a, bool vram, uint64_t bytes)
{
	uint64_t *next = vram ? &a->vnext : &a->hnext;
	uint64_t end = vram ? a->vram_end : a->host_end;
	uint64_t va = *next;

	*next = (va + bytes + 63) & ~63ull;
	if (*next > end) {
		fprintf(stderr, "test region exhausted\n");
		abort();
	}
	return va;
}

void jal_arena_reset(struct jal_arena *a)
{
	a->vnext = a->vram_va;
	a->hnext = a->host_va;
}
