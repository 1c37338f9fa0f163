// SPDX-License-Identifier: MIT
/*
 * MMU: translation through the test's own page tables, faults (unmapped,
 * permission, beyond the VA space, malformed entries, bus errors), fault
 * records, TLB invalidation and context isolation. Every fault test also
 * checks that no byte outside the job's mappings changed.
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"

FIXTURE(mmu) {
	struct fake *f;
	uint8_t *snap;
	uint64_t snap_len;
};

FIXTURE_SETUP(mmu)
{
	self->f = fake_new(128 * MiB);
	fake_default(self->f);
}

FIXTURE_TEARDOWN(mmu)
{
	free(self->snap);
	fake_free(self->f);
}

/* Copy of all guest memory handed out so far. */
static void snapshot(FIXTURE_DATA(mmu) *self)
{
	free(self->snap);
	self->snap_len = self->f->next_pa;
	self->snap = malloc(self->snap_len);
	memcpy(self->snap, self->f->mem, self->snap_len);
}

static bool in_range(uint64_t pa, uint64_t lo, uint64_t len)
{
	return pa >= lo && pa - lo < len;
}

/*
 * Bytes that changed since the snapshot outside [lo, hi), the command
 * buffer of @ctx the test writes, and the queue 0 ring and completion
 * record the device writes.
 */
static uint64_t changed_outside(FIXTURE_DATA(mmu) *self, unsigned int ctx,
				uint64_t lo, uint64_t hi)
{
	struct fake *f = self->f;
	uint64_t cmdbuf = va_host(f, ctx, CMDBUF_VA) - f->mem, pa, n = 0;

	for (pa = 0; pa < self->snap_len; pa++) {
		if (in_range(pa, lo, hi - lo) ||
		    in_range(pa, cmdbuf, ctx == CTX ? CMDBUF_SIZE : PAGE) ||
		    in_range(pa, f->q[0].ring,
			     RING_ENTRIES * sizeof(struct jal_desc)) ||
		    in_range(pa, f->q[0].compl, PAGE))
			continue;
		n += f->mem[pa] != self->snap[pa];
	}
	return n;
}

TEST_F(mmu, scattered_pages_translate)
{
	struct fake *f = self->f;
	uint64_t pa = map_range(f, CTX, DATA_VA, 16 * PAGE, RW, true);
	struct cmdbuf cb = { 0 };
	uint8_t buf[16 * PAGE];
	struct result r;
	unsigned int i;

	/* Descending physical pages: nothing to merge. */
	EXPECT_EQ(va_host(f, CTX, DATA_VA), f->mem + pa + 15 * PAGE);
	EXPECT_EQ(va_host(f, CTX, DATA_VA + PAGE), f->mem + pa + 14 * PAGE);
	snapshot(self);
	cb_fill(&cb, DATA_VA + 3, 0xa1b2c3d4, 16 * PAGE - 5);
	r = run_cb(f, CTX, &cb);
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	host_read(f, CTX, DATA_VA, buf, sizeof(buf));
	EXPECT_EQ(0, buf[0]);
	EXPECT_EQ(0, buf[2]);
	for (i = 3; i < 16 * PAGE - 2; i++)
		ASSERT_EQ((0xa1b2c3d4u >> (8 * ((i - 3) % 4))) & 0xff, buf[i]);
	EXPECT_EQ(0, buf[16 * PAGE - 2]);
	EXPECT_EQ(0, buf[16 * PAGE - 1]);
	EXPECT_EQ(0, changed_outside(self, CTX, pa, pa + 16 * PAGE));
}

TEST_F(mmu, unmapped_page_faults_precisely)
{
	struct fake *f = self->f;
	uint64_t src = DATA_VA, dst = DATA_VA + 16 * PAGE;
	uint64_t dst_pa = map_range(f, CTX, dst, 8 * PAGE, RW, false);
	uint64_t hole_pa;
	struct cmdbuf cb = { 0 };
	uint8_t data[8 * PAGE];
	struct result r;
	unsigned int i;

	map_range(f, CTX, src, 8 * PAGE, RW, false);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	host_write(f, CTX, src, data, sizeof(data));
	hole_pa = *leaf_pte(f, CTX, dst + 5 * PAGE) & JAL_PTE_ADDR_MASK;
	*leaf_pte(f, CTX, dst + 5 * PAGE) = 0;
	snapshot(self);

	cb_nop(&cb);
	cb_copy(&cb, src, dst, 8 * PAGE);
	cb_write_value(&cb, dst, 1);	/* never runs */
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(4, r.error_offset);
	EXPECT_EQ(dst + 5 * PAGE, r.fault_addr);
	EXPECT_EQ(JAL_FAULT_STATUS_VALID | JAL_FAULT_STATUS_WRITE,
		  rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(CTX, rd(f, JAL_REG_FAULT_CTX));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_QUEUE));
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, rd(f, JAL_REG_FAULT_REASON));
	EXPECT_EQ((uint32_t)(dst + 5 * PAGE), rd(f, JAL_REG_FAULT_ADDR_LO));
	EXPECT_EQ(1, wait_irqs(f, JAL_MSIX_VEC_ERROR, 1));
	/* The unmapped page's old frame and everything else are intact. */
	EXPECT_EQ(0, changed_outside(self, CTX, dst_pa, dst_pa + 5 * PAGE));
	EXPECT_EQ(0, memcmp(f->mem + hole_pa, self->snap + hole_pa, PAGE));
	/* Partial writes before the fault are allowed: if done, correct. */
	for (i = 0; i < 5 * PAGE; i++)
		if (f->mem[dst_pa + i])
			ASSERT_EQ(data[i], f->mem[dst_pa + i]);

	/* Reading an unmapped source: a read fault, nothing written. */
	wr(f, JAL_REG_FAULT_ACK, 1);
	*leaf_pte(f, CTX, src + 2 * PAGE) = 0;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	snapshot(self);
	cb.len = 0;
	cb_copy(&cb, src + 100, dst + 6 * PAGE, 3 * PAGE);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(0, r.error_offset);
	EXPECT_EQ(src + 2 * PAGE, r.fault_addr);
	EXPECT_EQ(JAL_FAULT_STATUS_VALID, rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(0, changed_outside(self, CTX, 0, 0));
}

TEST_F(mmu, permissions_are_enforced)
{
	struct fake *f = self->f;
	uint64_t ro = DATA_VA, wo = DATA_VA + 4 * PAGE, none = DATA_VA + 8 * PAGE;
	uint64_t rw = DATA_VA + 12 * PAGE;
	struct cmdbuf cb = { 0 };
	struct result r;

	map_range(f, CTX, ro, 2 * PAGE, JAL_PTE_READ, false);
	map_range(f, CTX, wo, 2 * PAGE, JAL_PTE_WRITE, false);
	map_range(f, CTX, none, PAGE, 0, false);
	map_range(f, CTX, rw, 2 * PAGE, RW, false);
	snapshot(self);

	cb_write_value(&cb, ro + 8, 5);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	EXPECT_EQ(ro + 8, r.fault_addr);
	EXPECT_EQ(JAL_FAULT_STATUS_VALID | JAL_FAULT_STATUS_WRITE,
		  rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(JAL_STATUS_MMU_PERM, rd(f, JAL_REG_FAULT_REASON));

	cb.len = 0;
	cb_copy(&cb, wo + 16, rw, 64);		/* write-only source */
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	EXPECT_EQ(wo + 16, r.fault_addr);

	cb.len = 0;
	cb_copy(&cb, ro, wo, 2 * PAGE);		/* allowed both ways */
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_OK, r.status);

	cb.len = 0;
	cb_fill(&cb, none, 0, 4);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	cb.len = 0;
	cb_copy(&cb, none, rw, 4);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	EXPECT_EQ(none, r.fault_addr);
	EXPECT_EQ(4, rd(f, JAL_REG_FAULT_COUNT));
	EXPECT_EQ(0, changed_outside(self, CTX, 0, 0));
}

TEST_F(mmu, addresses_beyond_39_bits_fault)
{
	struct fake *f = self->f;
	uint64_t top = (1ull << 39) - PAGE;
	uint64_t pa = map_range(f, CTX, top, PAGE, RW, false);
	struct cmdbuf cb = { 0 };
	struct result r;

	cb_write_value(&cb, top + PAGE - 8, 0x1122334455667788ull);
	r = run_cb(f, CTX, &cb);
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	EXPECT_EQ(0x1122334455667788ull, *(uint64_t *)(f->mem + pa + PAGE - 8));

	snapshot(self);
	cb.len = 0;
	cb_fill(&cb, top, 0xffffffff, 2 * PAGE);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(1ull << 39, r.fault_addr);
	EXPECT_EQ(0, changed_outside(self, CTX, pa, pa + PAGE));

	cb.len = 0;
	cb_copy(&cb, ~0ull - 3, top, 8);	/* would wrap around */
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(~0ull - 3, r.fault_addr);
	cb.len = 0;
	cb_copy(&cb, top, 1ull << 40, ~0ull);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(1ull << 39, r.fault_addr);
	EXPECT_EQ(0, changed_outside(self, CTX, pa, pa + PAGE));
}

TEST_F(mmu, malformed_entries_fault)
{
	struct fake *f = self->f;
	uint64_t va = DATA_VA, *pte, *dir, good;
	struct cmdbuf cb = { 0 };
	struct result r;

	map_range(f, CTX, va, PAGE, RW, false);
	pte = leaf_pte(f, CTX, va);
	good = *pte;
	cb_write_value(&cb, va, 1);

	*pte = good | (1ull << 5);
	wr(f, JAL_REG_MMU_INVALIDATE, JAL_MMU_INVALIDATE_ALL);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(va, r.fault_addr);

	*pte = good | (1ull << 52);
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);

	/* A leaf whose frame is outside host memory: bus error. */
	*pte = (f->mem_size + 16 * PAGE) | JAL_PTE_VALID | RW;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_BUS_ERROR, r.status);
	EXPECT_EQ(va, r.fault_addr);

	/* Level-1 entry: reserved bit, then pointing outside memory. */
	*pte = good;
	dir = host_pa(f, (*(uint64_t *)host_pa(f, f->root[CTX] +
					       ((va >> 30) & 511) * 8) &
			  JAL_PTE_ADDR_MASK) + ((va >> 21) & 511) * 8);
	good = *dir;
	*dir = good | (1ull << 11);
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	*dir = (f->mem_size * 2) | JAL_PTE_VALID;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_BUS_ERROR, r.status);
	EXPECT_EQ(va, r.fault_addr);
	/* Access bits in non-leaf entries are ignored. */
	*dir = good | RW;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_OK, r.status);
}

TEST_F(mmu, host_bus_errors_name_the_failing_page)
{
	struct fake *f = self->f;
	uint64_t pa = map_range(f, CTX, DATA_VA, 64 * PAGE, RW, false);
	struct cmdbuf cb = { 0 };
	struct result r;

	/* One physically contiguous run, one page of it inaccessible. */
	f->fail_lo = pa + 37 * PAGE;
	f->fail_hi = pa + 38 * PAGE;
	cb_fill(&cb, DATA_VA + 100, 7, 60 * PAGE);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_BUS_ERROR, r.status);
	EXPECT_EQ(DATA_VA + 37 * PAGE, r.fault_addr);
	EXPECT_EQ(JAL_FAULT_STATUS_VALID | JAL_FAULT_STATUS_WRITE,
		  rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(JAL_STATUS_BUS_ERROR, rd(f, JAL_REG_FAULT_REASON));
	EXPECT_EQ(0, f->mem[f->fail_lo]);
}

TEST_F(mmu, invalidation_drops_cached_translations)
{
	struct fake *f = self->f;
	/* Pages whose TLB slots differ from the command buffer's. */
	uint64_t va = DATA_VA + 0x33 * PAGE, out = DATA_VA + 4 * PAGE, v;
	uint64_t p1 = page_alloc(f, 1), p2 = page_alloc(f, 1);
	struct cmdbuf cb = { 0 };
	struct result r;

	map_range(f, CTX, out, PAGE, RW, false);
	*(uint64_t *)host_pa(f, p1) = 0x1111;
	*(uint64_t *)host_pa(f, p2) = 0x2222;
	map_page(f, CTX, va, p1, JAL_PTE_READ);
	cb_copy(&cb, va, out, 8);
	r = run_cb(f, CTX, &cb);
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	host_read(f, CTX, out, &v, 8);
	EXPECT_EQ(0x1111, v);

	/* Without an invalidation the device still uses its cached entry. */
	map_page(f, CTX, va, p2, JAL_PTE_READ);
	r = run_cb(f, CTX, &cb);
	host_read(f, CTX, out, &v, 8);
	EXPECT_EQ(0x1111, v);
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	host_read(f, CTX, out, &v, 8);
	EXPECT_EQ(0x2222, v);

	map_page(f, CTX, va, p1, JAL_PTE_READ);
	wr(f, JAL_REG_MMU_INVALIDATE, JAL_MMU_INVALIDATE_ALL);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_OK, r.status);
	host_read(f, CTX, out, &v, 8);
	EXPECT_EQ(0x1111, v);

	/* Re-latching the context table also drops the cache. */
	*leaf_pte(f, CTX, va) = 0;
	wr(f, JAL_REG_CTX_TABLE_HI, (uint32_t)(f->ctx_table >> 32));
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);

	/* Invalidating an out-of-range context is logged, harmless. */
	v = atomic_load(&f->logs);
	wr(f, JAL_REG_MMU_INVALIDATE, 64);
	EXPECT_EQ(v + 1, atomic_load(&f->logs));
}

TEST_F(mmu, contexts_are_isolated)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	uint64_t pa1, pa2;
	struct result r;

	ctx_setup(f, 2);
	ctx_setup(f, 63);
	map_range(f, 2, CMDBUF_VA, PAGE, JAL_PTE_READ, false);
	map_range(f, 63, CMDBUF_VA, PAGE, JAL_PTE_READ, false);
	pa1 = map_range(f, CTX, DATA_VA, PAGE, RW, false);
	pa2 = map_range(f, 2, DATA_VA, PAGE, RW, false);

	cb_write_value(&cb, DATA_VA, 0xc1);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_OK, r.status);
	cb.len = 0;
	cb_write_value(&cb, DATA_VA, 0xc2);
	r = run_cb(f, 2, &cb);
	EXPECT_EQ(JAL_STATUS_OK, r.status);
	EXPECT_EQ(0xc1, *(uint64_t *)host_pa(f, pa1));
	EXPECT_EQ(0xc2, *(uint64_t *)host_pa(f, pa2));

	snapshot(self);
	r = run_cb(f, 63, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(DATA_VA, r.fault_addr);
	EXPECT_EQ(63, rd(f, JAL_REG_FAULT_CTX));
	EXPECT_EQ(0, changed_outside(self, 63, 0, 0));
}

TEST_HARNESS_MAIN
