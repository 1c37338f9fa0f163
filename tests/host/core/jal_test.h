/* SPDX-License-Identifier: MIT */
/*
 * Host unit tests of the Jalapeño chip model: a fake platform (guest
 * "physical memory" in an anonymous mapping, an IRQ counter, a counting
 * clock), a page-table builder that is independent of the core's MMU,
 * and helpers to build command buffers and kernels and run them.
 */
#ifndef JAL_TEST_H
#define JAL_TEST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jalapeno_hw.h"
#include "jal_core.h"

#define PAGE		4096ull
#define MiB		(1024ull * 1024)

/* Default layout of context 1 (set up by fake_default()). */
#define CTX		1u
#define CMDBUF_VA	0x100000ull	/* 1 MiB + 1 page, read-only */
#define CMDBUF_SIZE	(1 * MiB + PAGE)
#define CODE_VA		0x400000ull	/* 1 MiB, read-only */
#define ARGS_VA		0x600000ull	/* 1 page */
#define RING_ENTRIES	64u
#define DATA_VA		0x10000000ull	/* tests map their data from here */
#define RW		(JAL_PTE_READ | JAL_PTE_WRITE)
/* Device memory of a fake_new() chip (fake_new_cfg() picks its own). */
#define TEST_VRAM_SIZE	(64 * MiB)

struct fake_queue {
	uint64_t ring;			/* PA */
	uint64_t compl;			/* PA */
	uint32_t size;
	uint32_t tail;
};

struct fake {
	uint8_t *mem;
	uint64_t mem_size;
	uint64_t next_pa;
	/* DMA into [fail_lo, fail_hi) fails. */
	uint64_t fail_lo, fail_hi;
	struct jal_device *dev;
	atomic_uint irqs[JAL_MSIX_NUM_VECTORS];
	/* CLOCK_MONOTONIC ns of each vector's last signal (for benchmarks). */
	atomic_ullong irq_ns[JAL_MSIX_NUM_VECTORS];
	atomic_ullong clock;
	atomic_uint logs;
	atomic_uint worker_starts;
	atomic_uint worker_stops;
	bool verbose;
	uint64_t ctx_table;
	uint64_t root[JAL_NUM_CONTEXTS];
	struct fake_queue q[JAL_NUM_QUEUES];
	uint64_t seqno;
	uint64_t rng;
	uint8_t *vram;			/* the chip's device memory */
	uint64_t vram_size;
};

/*
 * Platform and device. fake_new() makes a chip with TEST_VRAM_SIZE of
 * device memory and two compute threads; JAL_TEST_BASELINE=1 in the
 * environment makes it use the baseline-ISA kernels (default: the best the
 * CPU has).
 */
struct fake *fake_new(uint64_t mem_size);
struct fake *fake_new_cfg(uint64_t mem_size, const struct jal_device_config *cfg);
void fake_test_config(struct jal_device_config *cfg);
const struct jal_platform_ops *fake_platform_ops(void);
void fake_free(struct fake *f);
void fake_default(struct fake *f);
uint32_t rd(struct fake *f, uint32_t off);
void wr(struct fake *f, uint32_t off, uint32_t val);
uint64_t now_ms(void);
uint64_t now_ns(void);
uint64_t rnd(struct fake *f);

/* Guest physical memory. */
uint64_t page_alloc(struct fake *f, uint64_t npages);
void *host_pa(struct fake *f, uint64_t pa);

/* Address spaces built by the test, walked by the test's own code. */
void ctx_setup(struct fake *f, unsigned int ctx);
void map_page(struct fake *f, unsigned int ctx, uint64_t va, uint64_t pa,
	      uint64_t flags);
uint64_t *leaf_pte(struct fake *f, unsigned int ctx, uint64_t va);
/* The level-1 entry of @va (NULL if its level-2 entry is not valid). */
uint64_t *dir_pte(struct fake *f, unsigned int ctx, uint64_t va, bool alloc);
/*
 * Map [va, va + size) to device memory at offset @off: 4 KiB pages
 * (@reversed: in descending order, so no two neighbours are contiguous)
 * or, with map_vram_huge(), 2 MiB pages (va, off and size 2 MiB aligned).
 */
void map_vram(struct fake *f, unsigned int ctx, uint64_t va, uint64_t off,
	      uint64_t size, uint64_t flags, bool reversed);
void map_vram_huge(struct fake *f, unsigned int ctx, uint64_t va, uint64_t off,
		   uint64_t size, uint64_t flags);
/*
 * Map [va, va + size) to fresh pages; @reversed puts them in descending
 * physical order so no two neighbours are contiguous. Returns the PA of
 * the lowest page allocated.
 */
uint64_t map_range(struct fake *f, unsigned int ctx, uint64_t va, uint64_t size,
		   uint64_t flags, bool reversed);

/*
 * Memory of context CTX for compute tests: @vram_len bytes of device memory
 * (2 MiB pages from offset 0) at @vram_va and @host_len bytes of scattered
 * host pages at @host_va, with no step limit (fake_default() first). Operands
 * are bump-allocated from either, 64-byte aligned; jal_arena_reset() starts
 * both over.
 */
struct jal_arena {
	uint64_t vram_va, vram_end, host_va, host_end;
	uint64_t vnext, hnext;
};

void jal_arena_setup(struct jal_arena *a, struct fake *f, uint64_t vram_va,
		     uint64_t vram_len, uint64_t host_va, uint64_t host_len);
uint64_t jal_arena_alloc(struct jal_arena *a, bool vram, uint64_t bytes);
void jal_arena_reset(struct jal_arena *a);
uint8_t *va_host(struct fake *f, unsigned int ctx, uint64_t va);
void host_write(struct fake *f, unsigned int ctx, uint64_t va, const void *buf,
		size_t len);
void host_read(struct fake *f, unsigned int ctx, uint64_t va, void *buf,
	       size_t len);

/* Queues. */
void queue_setup(struct fake *f, unsigned int q, uint32_t entries,
		 uint32_t priority);
struct jal_desc *desc_at(struct fake *f, unsigned int q, uint32_t idx);
struct jal_completion *compl_rec(struct fake *f, unsigned int q);
uint32_t push_desc(struct fake *f, unsigned int q, const struct jal_desc *d);
void ring_doorbell(struct fake *f, unsigned int q);
uint32_t submit(struct fake *f, unsigned int q, uint32_t ctx, uint64_t cmdbuf_va,
		uint32_t size, uint32_t flags);
bool wait_queue(struct fake *f, unsigned int q, unsigned int timeout_ms);
bool wait_busy(struct fake *f, unsigned int timeout_ms);
/*
 * Interrupts are signalled just after the lock that published the
 * completion is dropped: wait (up to 5 s) until @vector was raised @want
 * times, then return the count.
 */
unsigned int wait_irqs(struct fake *f, unsigned int vector, unsigned int want);

/* Command buffers. */
struct cmdbuf {
	uint32_t len;
	uint8_t buf[64 * 1024];
};
void cb_u32(struct cmdbuf *cb, uint32_t v);
void cb_u64(struct cmdbuf *cb, uint64_t v);
void cb_nop(struct cmdbuf *cb);
void cb_copy(struct cmdbuf *cb, uint64_t src, uint64_t dst, uint64_t size);
void cb_fill(struct cmdbuf *cb, uint64_t dst, uint32_t pattern, uint64_t size);
void cb_write_value(struct cmdbuf *cb, uint64_t dst, uint64_t value);
void cb_timestamp(struct cmdbuf *cb, uint64_t dst);
void cb_dispatch(struct cmdbuf *cb, uint64_t code_va, uint32_t code_size,
		 uint64_t args_va, uint32_t args_size);

/* Result of one job. */
struct result {
	uint32_t status;
	uint32_t error_offset;
	uint64_t fault_addr;
};

/* Write @cb at CMDBUF_VA of @ctx, run it on queue 0, wait. */
struct result run_cb(struct fake *f, unsigned int ctx, const struct cmdbuf *cb);

/* Kernels. */
struct jal_insn i_op(uint8_t op);
struct jal_insn i_li(uint8_t rd, uint64_t imm);
struct jal_insn i_addi(uint8_t rd, uint8_t ra, uint64_t imm);
struct jal_insn i_add(uint8_t rd, uint8_t ra, uint8_t rb);
struct jal_insn i_muli(uint8_t rd, uint8_t ra, uint64_t imm);
struct jal_insn i_jump(uint32_t target);
struct jal_insn i_bne(uint8_t ra, uint8_t rb, uint32_t target);
struct jal_insn i_bltu(uint8_t ra, uint8_t rb, uint32_t target);
struct jal_insn i_beq(uint8_t ra, uint8_t rb, uint32_t target);
struct jal_insn i_vop(uint8_t op, uint8_t rd, uint8_t ra, uint8_t rb,
		      uint32_t n, uint32_t sd, uint32_t sa, uint32_t sb);
struct jal_insn i_vscale(uint8_t rd, uint8_t ra, uint32_t n, uint32_t sd,
			 uint32_t sa, float s);
struct jal_insn i_matvec(uint8_t rd, uint8_t rw, uint8_t rx, uint32_t rows,
			 uint32_t cols, uint32_t sd, uint32_t pitch, uint32_t sx);
/* Run a kernel from CODE_VA with @nargs arguments at ARGS_VA. */
struct result run_kernel(struct fake *f, const struct jal_insn *code,
			 uint32_t count, const uint64_t *args, uint32_t nargs);

/* Floats. */
uint32_t f2u(float x);
float u2f(uint32_t u);
/* The documented MATVEC summation order, for bit-exact references. */
float ref_dot(const float *w, const float *x, uint64_t n, uint64_t xstride);

#endif /* JAL_TEST_H */
