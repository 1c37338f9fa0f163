// SPDX-License-Identifier: MIT
/*
 * Device memory: its registers, JAL_PTE_VRAM leaves of 4 KiB and 2 MiB
 * (JAL_PTE_HUGE), commands and compute operands moving between host and
 * device memory, faults (device offsets out of range, malformed huge
 * entries, permissions), the in-place fast path giving the same results
 * as scattered pages and host memory, MMU invalidation of the range cache,
 * and device reset clearing the memory. Device memory is checked through
 * the core's own view of it (jal_device_vram()).
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"

#define HUGE		JAL_HUGE_PAGE_SIZE
#define VA_HUGE		0x40000000ull	/* 2 MiB pages */
#define VA_SMALL	0x60000000ull	/* 4 KiB pages */
#define VA_HOST		0x70000000ull	/* host memory */

FIXTURE(vram) {
	struct fake *f;
};

FIXTURE_SETUP(vram)
{
	self->f = fake_new(96 * MiB);
	fake_default(self->f);
}

FIXTURE_TEARDOWN(vram)
{
	fake_free(self->f);
}

static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

TEST(registers_report_the_configured_size)
{
	struct jal_device_config cfg;
	struct fake *f;

	fake_test_config(&cfg);
	cfg.vram_size = (5ull << 30) + 2 * PAGE;	/* lazily backed: free */
	f = fake_new_cfg(16 * MiB, &cfg);
	EXPECT_EQ(0x40002000u, rd(f, JAL_REG_VRAM_SIZE_LO));
	EXPECT_EQ(1, rd(f, JAL_REG_VRAM_SIZE_HI));
	EXPECT_TRUE(rd(f, JAL_REG_CAPS) & JAL_CAP_VRAM);
	EXPECT_TRUE(rd(f, JAL_REG_CAPS) & JAL_CAP_LLM);
	/* Read-only: writes are logged and ignored. */
	wr(f, JAL_REG_VRAM_SIZE_LO, 5);
	EXPECT_EQ(0x40002000u, rd(f, JAL_REG_VRAM_SIZE_LO));
	fake_free(f);

	/* No device memory: no capability, and VRAM leaves fault. */
	cfg.vram_size = 0;
	f = fake_new_cfg(16 * MiB, &cfg);
	EXPECT_FALSE(rd(f, JAL_REG_CAPS) & JAL_CAP_VRAM);
	EXPECT_EQ(0, rd(f, JAL_REG_VRAM_SIZE_LO));
	fake_default(f);
	map_vram(f, CTX, VA_SMALL, 0, PAGE, RW, false);
	{
		struct cmdbuf cb = { 0 };
		struct result r;

		cb_write_value(&cb, VA_SMALL + 8, 1);
		r = run_cb(f, CTX, &cb);
		EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
		EXPECT_EQ(VA_SMALL + 8, r.fault_addr);
	}
	fake_free(f);

	/* Sizes must be whole pages, threads within the limit. */
	cfg.vram_size = PAGE + 1;
	EXPECT_NULL(jal_device_create(fake_platform_ops(), NULL, &cfg));
	cfg.vram_size = 0;
	cfg.compute_threads = JAL_COMPUTE_THREADS_MAX + 1;
	EXPECT_NULL(jal_device_create(fake_platform_ops(), NULL, &cfg));
}

TEST_F(vram, copy_and_fill_move_data_between_host_and_device_memory)
{
	struct fake *f = self->f;
	size_t len = 5 * MiB + 12345;
	uint8_t *src = malloc(len), *got = malloc(len), *want = malloc(len);
	struct cmdbuf cb = { 0 };
	uint32_t pattern = 0xa1b2c3d4;
	size_t i;

	/* Host pages, VRAM in scattered 4 KiB pages, VRAM in 2 MiB pages. */
	map_range(f, CTX, VA_HOST, 8 * MiB, RW, true);
	map_vram(f, CTX, VA_SMALL, 32 * MiB, 8 * MiB, RW, true);
	map_vram_huge(f, CTX, VA_HUGE, 0, 16 * MiB, RW);
	fill_pattern(src, len, 7);
	host_write(f, CTX, VA_HOST + 3, src, len);

	cb_copy(&cb, VA_HOST + 3, VA_SMALL + 5, len);		/* host -> 4K VRAM */
	cb_copy(&cb, VA_SMALL + 5, VA_HUGE + 1, len);		/* 4K VRAM -> huge */
	cb_copy(&cb, VA_HUGE + 1, VA_HUGE + 1001, len);		/* overlap, up */
	cb_copy(&cb, VA_HUGE + 1001, VA_HUGE + 500, len);	/* overlap, down */
	cb_fill(&cb, VA_HUGE + 500 + len - 7, pattern, 7);	/* tail */
	cb_copy(&cb, VA_HUGE + 500, VA_HOST + 3, len);		/* huge -> host */
	ASSERT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);

	memcpy(want, src, len);
	for (i = 0; i < 7; i++)
		want[len - 7 + i] = (uint8_t)(pattern >> (8 * (i & 3)));
	host_read(f, CTX, VA_HOST + 3, got, len);
	EXPECT_EQ(0, memcmp(want, got, len));
	/* The device's own view: offset 500 of its memory. */
	EXPECT_EQ(0, memcmp(want, f->vram + 500, len));
	host_read(f, CTX, VA_SMALL + 5, got, len);
	EXPECT_EQ(0, memcmp(src, got, len));
	/* 4 KiB VRAM pages in reverse order: the first page is the last. */
	EXPECT_EQ(0, memcmp(src, f->vram + 32 * MiB + 8 * MiB - PAGE + 5,
			    PAGE - 5));
	free(src);
	free(got);
	free(want);
}

static uint64_t *top_pte(struct fake *f, unsigned int ctx, uint64_t va)
{
	return host_pa(f, f->root[ctx] + ((va >> 30) & 511) * 8);
}

TEST_F(vram, malformed_or_out_of_range_entries_fault)
{
	struct fake *f = self->f;
	uint64_t vs = f->vram_size, *pte, *dir, good;
	struct cmdbuf cb = { 0 };
	struct result r;

	cb_write_value(&cb, VA_SMALL + 0x10, 0x1122334455667788ull);

	/* A 4 KiB leaf: its whole page must be inside device memory. */
	map_vram(f, CTX, VA_SMALL, vs - PAGE, PAGE, RW, false);
	ASSERT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);
	EXPECT_EQ(0x1122334455667788ull, *(uint64_t *)(f->vram + vs - PAGE + 0x10));
	pte = leaf_pte(f, CTX, VA_SMALL);
	good = *pte;
	*pte = (vs | JAL_PTE_VALID | JAL_PTE_VRAM | RW);
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(VA_SMALL + 0x10, r.fault_addr);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, rd(f, JAL_REG_FAULT_REASON));
	*pte = ((1ull << 50) | JAL_PTE_VALID | JAL_PTE_VRAM | RW);
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
	/* JAL_PTE_HUGE is only defined for level-1 entries. */
	*pte = good | JAL_PTE_HUGE;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
	*pte = good;

	/* Level 1: VRAM without HUGE is not a leaf and not allowed. */
	dir = dir_pte(f, CTX, VA_SMALL, false);
	good = *dir;
	*dir = good | JAL_PTE_VRAM;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
	/* A huge leaf: 2 MiB aligned and wholly inside device memory. */
	*dir = (vs - HUGE) | JAL_PTE_VALID | JAL_PTE_HUGE | JAL_PTE_VRAM | RW;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);
	EXPECT_EQ(0x1122334455667788ull,
		  *(uint64_t *)(f->vram + vs - HUGE + (VA_SMALL & (HUGE - 1)) + 0x10));
	*dir = (vs - HUGE + PAGE) | JAL_PTE_VALID | JAL_PTE_HUGE | JAL_PTE_VRAM | RW;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(VA_SMALL + 0x10, r.fault_addr);
	*dir = vs | JAL_PTE_VALID | JAL_PTE_HUGE | JAL_PTE_VRAM | RW;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
	/* Read-only huge page: writes are permission faults. */
	*dir = JAL_PTE_VALID | JAL_PTE_HUGE | JAL_PTE_VRAM | JAL_PTE_READ;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_PERM, r.status);
	EXPECT_EQ(VA_SMALL + 0x10, r.fault_addr);
	*dir = good;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);

	/* Level 2 (1 GiB): neither HUGE nor VRAM is defined there. */
	pte = top_pte(f, CTX, VA_SMALL);
	good = *pte;
	*pte = good | JAL_PTE_HUGE;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
	*pte = good | JAL_PTE_VRAM;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
	*pte = good;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);
}

TEST_F(vram, huge_pages_of_host_memory)
{
	struct fake *f = self->f;
	uint64_t pa, *dir;
	uint8_t buf[64];
	struct cmdbuf cb = { 0 };

	/* A 2 MiB aligned run of guest memory. */
	page_alloc(f, (HUGE - f->next_pa % HUGE) % HUGE / PAGE);
	pa = page_alloc(f, HUGE / PAGE);
	ASSERT_EQ(0, pa % HUGE);
	dir = dir_pte(f, CTX, VA_HUGE, true);
	*dir = pa | JAL_PTE_VALID | JAL_PTE_HUGE | RW;
	fill_pattern(buf, sizeof(buf), 3);
	map_range(f, CTX, VA_HOST, PAGE, RW, false);
	host_write(f, CTX, VA_HOST, buf, sizeof(buf));
	cb_copy(&cb, VA_HOST, VA_HUGE + HUGE - 32, 64);	/* crosses the end */
	map_range(f, CTX, VA_HUGE + HUGE, PAGE, RW, false);
	ASSERT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);
	EXPECT_EQ(0, memcmp(buf, host_pa(f, pa + HUGE - 32), 32));
	/* Misaligned host huge page. */
	*dir = (pa + PAGE) | JAL_PTE_VALID | JAL_PTE_HUGE | RW;
	wr(f, JAL_REG_MMU_INVALIDATE, CTX);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run_cb(f, CTX, &cb).status);
}

/*
 * The same MATVEC, MATMUL, SOFTMAX and ATTENTION over weights, inputs and
 * outputs in one run of device memory (in place), in scattered 4 KiB
 * device pages and in host memory: identical bits.
 */
TEST_F_TIMEOUT(vram, in_place_and_scattered_operands_agree, 60)
{
	struct fake *f = self->f;
	size_t len = 4 * MiB;
	uint8_t *data = malloc(len), *out[3];
	uint64_t bases[3] = { VA_HUGE, VA_SMALL, VA_HOST };
	unsigned int p, i;

	map_vram_huge(f, CTX, VA_HUGE, 0, 8 * MiB, RW);
	map_vram(f, CTX, VA_SMALL, 16 * MiB, 8 * MiB, RW, true);
	map_range(f, CTX, VA_HOST, 8 * MiB, RW, true);
	for (i = 0; i < len / 4; i++) {
		float v = (float)(int)(i * 2654435761u % 2001 - 1000) / 997.0f;

		memcpy(data + 4 * i, &v, 4);
	}
	for (p = 0; p < 3; p++) {
		uint64_t b = bases[p], args[8];
		struct jal_insn code[8];

		host_write(f, CTX, b, data, len);
		for (i = 0; i < 8; i++)
			args[i] = b + i * (len / 8);
		args[7] = b + len;		/* outputs */
		code[0] = i_matvec(7, 1, 2, 3000, 300, 1, 0, 1);
		code[1] = i_addi(7, 7, 16384);
		code[2] = i_op(JAL_OP_MATMUL);
		code[2].dtype = JAL_DTYPE_BF16;
		code[2].r[0] = 7;
		code[2].r[1] = 1;
		code[2].r[2] = 3;
		code[2].dim[0] = 700;
		code[2].dim[1] = 256;
		code[2].dim[2] = 5;
		code[3] = i_addi(7, 7, 16384);
		code[4] = i_op(JAL_OP_ATTENTION);
		code[4].r[0] = 7;
		code[4].r[1] = 2;
		code[4].r[2] = 4;
		code[4].r[3] = 5;
		code[4].dim[0] = 8;
		code[4].dim[1] = 64;
		code[4].dim[2] = 4;
		code[4].dim[3] = 500;
		code[5] = i_addi(7, 7, 4096);
		code[6] = i_op(JAL_OP_SOFTMAX);
		code[6].r[0] = 7;
		code[6].r[1] = 6;
		code[6].dim[0] = 30000;
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, code, 7, args, 8).status);
		out[p] = malloc(len / 4);
		host_read(f, CTX, b + len, out[p], len / 4);
	}
	EXPECT_EQ(0, memcmp(out[0], out[1], len / 4));
	EXPECT_EQ(0, memcmp(out[0], out[2], len / 4));
	for (p = 0; p < 3; p++)
		free(out[p]);
	free(data);
}

/*
 * The range cache remembers that an operand is one run of device memory;
 * MMU_INVALIDATE must make the chip see a new mapping of the same VA.
 */
TEST_F(vram, invalidation_reaches_the_range_cache)
{
	struct fake *f = self->f;
	uint64_t args[3] = { VA_HOST, VA_HUGE, VA_HOST + PAGE };
	float x[64], w[64 * 64], got, want[3] = { 0 };
	struct jal_insn in = i_matvec(0, 1, 2, 1, 64, 1, 0, 1);
	unsigned int i, round;

	map_range(f, CTX, VA_HOST, 2 * PAGE, RW, false);
	for (i = 0; i < 64; i++)
		x[i] = 1.0f;
	host_write(f, CTX, VA_HOST + PAGE, x, sizeof(x));
	/* Three copies of W with different values at different offsets. */
	for (round = 0; round < 3; round++) {
		for (i = 0; i < 64; i++) {
			w[i] = (float)(round + 1) * (float)i;
			want[round] += w[i];
		}
		memcpy(f->vram + round * 4 * MiB, w, 64 * sizeof(float));
	}
	for (round = 0; round < 3; round++) {
		if (round < 2) {
			map_vram_huge(f, CTX, VA_HUGE, round * 4 * MiB, HUGE, RW);
		} else {
			/* Scattered pages: the first one holds the row. */
			*dir_pte(f, CTX, VA_HUGE, false) = 0;
			map_vram(f, CTX, VA_HUGE, 8 * MiB, PAGE, RW, false);
			map_vram(f, CTX, VA_HUGE + PAGE, 20 * MiB, PAGE, RW, false);
		}
		if (round)
			wr(f, JAL_REG_MMU_INVALIDATE, JAL_MMU_INVALIDATE_ALL);
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, &in, 1, args, 3).status);
		host_read(f, CTX, VA_HOST, &got, 4);
		EXPECT_EQ(want[round], got) {
			TH_LOG("round %u", round);
		}
	}
}

TEST_F(vram, device_reset_clears_device_memory)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	size_t i, nonzero = 0;

	map_vram_huge(f, CTX, VA_HUGE, 0, 4 * MiB, RW);
	cb_fill(&cb, VA_HUGE, 0xdeadbeef, 4 * MiB);
	ASSERT_EQ(JAL_STATUS_OK, run_cb(f, CTX, &cb).status);
	EXPECT_EQ(0xdeadbeef, *(uint32_t *)(f->vram + 4 * MiB - 4));
	/* A queue reset leaves it alone... */
	wr(f, JAL_REG_Q(0, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	EXPECT_EQ(0xdeadbeef, *(uint32_t *)(f->vram + 12));
	/* ...a device reset does not. */
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
	for (i = 0; i < 4 * MiB; i += 4096 - 4)
		nonzero += f->vram[i] != 0;
	EXPECT_EQ(0, nonzero);
}

TEST_HARNESS_MAIN
