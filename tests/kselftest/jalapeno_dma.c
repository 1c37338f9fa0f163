// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno DMA commands: COPY and FILL on small, odd-sized, unaligned,
 * page-crossing, overlapping and large (64 MiB) buffers. Small cases are
 * checked byte for byte against a host model of the same commands.
 */
#include "jal_harness.h"

JAL_FIXTURE(dma);

/* Host model of FILL: byte i of the range gets byte (i % 4) of @pattern. */
static void ref_fill(uint8_t *ref, uint64_t off, uint32_t pattern, uint64_t size)
{
	uint64_t i;

	for (i = 0; i < size; i++)
		ref[off + i] = (uint8_t)(pattern >> (8 * (i % 4)));
}

static void fill_random(void *buf, size_t len, uint64_t seed)
{
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)jal_rand(&seed);
}

/* First differing byte offset, or -1. */
static long first_diff(const void *a, const void *b, size_t len)
{
	const uint8_t *x = a, *y = b;
	size_t i;

	for (i = 0; i < len; i++)
		if (x[i] != y[i])
			return (long)i;
	return -1;
}

JAL_TEST(dma, fill_small_odd_sizes_and_offsets)
{
	const uint32_t sizes[] = { 1, 2, 3, 4, 5, 7, 13, 31 };
	const uint32_t pattern = 0x44332211;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *ref;
	unsigned int s, o, slot = 0;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	fill_random(bo.map, bo.size, 1);
	ref = malloc(bo.size);
	ASSERT_NE(NULL, ref);
	memcpy(ref, bo.map, bo.size);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (s = 0; s < JAL_ARRAY_SIZE(sizes); s++) {
		for (o = 0; o < 4; o++, slot++) {
			uint64_t off = 64 * slot + o;

			jal_emit_fill(&cb, bo.va + off, pattern + slot, sizes[s]);
			ref_fill(ref, off, pattern + slot, sizes[s]);
		}
	}
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);
	ASSERT_EQ(-1, first_diff(ref, bo.map, bo.size));
	free(ref);
}

/* Byte i of the fill is byte i % 4 of the pattern, counted from dst. */
JAL_TEST(dma, fill_pattern_byte_order)
{
	const uint8_t want[] = { 0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33 };
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *b;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	b = bo.map;
	memset(b, 0xee, 64);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, bo.va + 1, 0x44332211, 7);
	jal_emit_fill(&cb, bo.va + 34, 0x44332211, 7);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);
	ASSERT_EQ(0xee, b[0]);
	ASSERT_EQ(0, memcmp(b + 1, want, sizeof(want)));
	ASSERT_EQ(0xee, b[8]);
	ASSERT_EQ(0xee, b[33]);
	ASSERT_EQ(0, memcmp(b + 34, want, sizeof(want)));
	ASSERT_EQ(0xee, b[41]);
}

JAL_TEST(dma, copy_small_odd_sizes_and_offsets)
{
	const uint32_t sizes[] = { 1, 2, 3, 5, 8, 9, 15, 17, 63 };
	struct jal_cmdbuf cb;
	struct jal_bo src, dst;
	uint32_t handles[2];
	uint8_t *ref;
	unsigned int s, o, slot = 0;

	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &src));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &dst));
	fill_random(src.map, src.size, 2);
	fill_random(dst.map, dst.size, 3);
	ref = malloc(dst.size);
	ASSERT_NE(NULL, ref);
	memcpy(ref, dst.map, dst.size);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (s = 0; s < JAL_ARRAY_SIZE(sizes); s++) {
		for (o = 0; o < 7; o++, slot++) {
			uint64_t so = 128 * slot + o, d = 128 * slot + (6 - o);

			jal_emit_copy(&cb, src.va + so, dst.va + d, sizes[s]);
			memcpy(ref + d, (uint8_t *)src.map + so, sizes[s]);
		}
	}
	handles[0] = src.handle;
	handles[1] = dst.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 2);
	ASSERT_EQ(-1, first_diff(ref, dst.map, dst.size));
	free(ref);
}

/* Copies and fills whose source and destination straddle page borders. */
JAL_TEST(dma, page_crossing_copy_and_fill)
{
	struct jal_cmdbuf cb;
	struct jal_bo src, dst;
	uint32_t handles[2];
	uint8_t *ref;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4 * 4096, 0, &src));
	ASSERT_EQ(0, jal_bo_new(self->fd, 5 * 4096, 0, &dst));
	fill_random(src.map, src.size, 4);
	fill_random(dst.map, dst.size, 5);
	ref = malloc(dst.size);
	ASSERT_NE(NULL, ref);
	memcpy(ref, dst.map, dst.size);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_copy(&cb, src.va + 4090, dst.va + 3, 8200);
	memcpy(ref + 3, (uint8_t *)src.map + 4090, 8200);
	jal_emit_copy(&cb, src.va + 1, dst.va + 3 * 4096 - 5, 4107);
	memcpy(ref + 3 * 4096 - 5, (uint8_t *)src.map + 1, 4107);
	jal_emit_fill(&cb, dst.va + 4096 * 4 - 3, 0xa1b2c3d4, 6);
	ref_fill(ref, 4096 * 4 - 3, 0xa1b2c3d4, 6);
	jal_emit_fill(&cb, dst.va + 8193, 0x01020304, 4096 + 4095);
	ref_fill(ref, 8193, 0x01020304, 4096 + 4095);
	handles[0] = src.handle;
	handles[1] = dst.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 2);
	ASSERT_EQ(-1, first_diff(ref, dst.map, dst.size));
	free(ref);
}

/* Overlapping COPY ranges behave as memmove, in both directions. */
JAL_TEST(dma, copy_overlapping_is_memmove)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *ref;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4 * 4096, 0, &bo));
	fill_random(bo.map, bo.size, 6);
	ref = malloc(bo.size);
	ASSERT_NE(NULL, ref);
	memcpy(ref, bo.map, bo.size);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_copy(&cb, bo.va + 100, bo.va + 1101, 6000);	/* forward overlap */
	memmove(ref + 1101, ref + 100, 6000);
	jal_emit_copy(&cb, bo.va + 9000, bo.va + 7999, 5000);	/* backward overlap */
	memmove(ref + 7999, ref + 9000, 5000);
	jal_emit_copy(&cb, bo.va + 3, bo.va + 4, 9001);		/* shift by one byte */
	memmove(ref + 4, ref + 3, 9001);
	jal_emit_copy(&cb, bo.va + 50, bo.va + 50, 333);	/* onto itself */
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);
	ASSERT_EQ(-1, first_diff(ref, bo.map, bo.size));
	free(ref);
}

JAL_TEST(dma, zero_size_is_noop)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *ref;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	fill_random(bo.map, bo.size, 7);
	ref = malloc(bo.size);
	ASSERT_NE(NULL, ref);
	memcpy(ref, bo.map, bo.size);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_copy(&cb, bo.va, bo.va + 1000, 0);
	jal_emit_fill(&cb, bo.va + 7, 0, 0);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);
	ASSERT_EQ(0, memcmp(ref, bo.map, bo.size));
	free(ref);
}

/* Commands in one buffer run in order, each seeing the previous results. */
JAL_TEST(dma, commands_run_in_order)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *ref;

	ASSERT_EQ(0, jal_bo_new(self->fd, 3 * 4096, 0, &bo));
	memset(bo.map, 0, bo.size);
	ref = calloc(1, bo.size);
	ASSERT_NE(NULL, ref);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, bo.va, 0xaaaaaaaa, 4096);		/* A = p1 */
	jal_emit_copy(&cb, bo.va, bo.va + 4096, 4096);		/* B = A */
	jal_emit_fill(&cb, bo.va, 0x55555555, 2048);		/* A = p2 (half) */
	jal_emit_copy(&cb, bo.va + 1024, bo.va + 8192, 2048);	/* C = A[1K..3K) */
	jal_emit_write_value(&cb, bo.va + 8192, 7);
	ref_fill(ref, 0, 0xaaaaaaaa, 4096);
	memcpy(ref + 4096, ref, 4096);
	ref_fill(ref, 0, 0x55555555, 2048);
	memcpy(ref + 8192, ref + 1024, 2048);
	*(uint64_t *)(ref + 8192) = 7;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);
	ASSERT_EQ(-1, first_diff(ref, bo.map, bo.size));
	free(ref);
}

/* Thousands of small commands in one job. */
JAL_TEST(dma, many_commands_one_job)
{
	const unsigned int n = 2500;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *ref;
	unsigned int k;

	ASSERT_EQ(0, jal_bo_new(self->fd, n * 8, 0, &bo));
	fill_random(bo.map, bo.size, 8);
	ref = malloc(bo.size);
	ASSERT_NE(NULL, ref);
	memcpy(ref, bo.map, bo.size);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < n; k++) {
		jal_emit_fill(&cb, bo.va + 8 * k + k % 3, 0x10000 * k + k, 1 + k % 5);
		ref_fill(ref, 8 * k + k % 3, 0x10000 * k + k, 1 + k % 5);
	}
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);
	ASSERT_EQ(-1, first_diff(ref, bo.map, bo.size));
	free(ref);
}

#define LARGE (64 * JAL_MIB)

/*
 * FILL 64 MiB (minus odd edges): check one word in every 4 KiB page, at a
 * page-dependent offset, plus the edges byte by byte.
 */
JAL_SLOW_TEST(dma, fill_large_64mib)
{
	const uint32_t pattern = 0xc0ffee11;
	const uint64_t start = 3, size = LARGE - 8;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *b;
	uint64_t p, i;

	ASSERT_EQ(0, jal_bo_new(self->fd, LARGE, 0, &bo));
	b = bo.map;
	memset(b, 0x77, 64);
	memset(b + LARGE - 64, 0x77, 64);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, bo.va + start, pattern, size);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);

	for (i = 0; i < start; i++)
		ASSERT_EQ(0x77, b[i]);
	for (i = start + size; i < LARGE; i++)
		ASSERT_EQ(0x77, b[i]);
	for (i = start; i < start + 64; i++)
		ASSERT_EQ((uint8_t)(pattern >> (8 * ((i - start) % 4))), b[i]);
	for (i = start + size - 64; i < start + size; i++)
		ASSERT_EQ((uint8_t)(pattern >> (8 * ((i - start) % 4))), b[i]);
	for (p = 0; p < LARGE / 4096; p++) {
		uint64_t off = p * 4096 + 8 + (p * 52) % 4000;
		uint8_t want[4];

		for (i = 0; i < 4; i++)
			want[i] = (uint8_t)(pattern >> (8 * ((off + i - start) % 4)));
		if (memcmp(b + off, want, 4)) {
			TH_LOG("page %llu offset %llu wrong", (unsigned long long)p,
			       (unsigned long long)off);
			ASSERT_EQ(0, memcmp(b + off, want, 4));
		}
	}
}

/*
 * COPY 64 MiB minus a few bytes between two BOs at different odd offsets:
 * every source byte is distinct per 8-byte word, so a misplaced page or
 * a short copy shows in a full memcmp.
 */
JAL_SLOW_TEST(dma, copy_large_64mib)
{
	const uint64_t so = 3, dof = 5, size = LARGE - 8;
	struct jal_cmdbuf cb;
	struct jal_bo src, dst;
	uint32_t handles[2];
	uint64_t *s64, i;
	uint8_t *d;

	ASSERT_EQ(0, jal_bo_new(self->fd, LARGE, 0, &src));
	ASSERT_EQ(0, jal_bo_new(self->fd, LARGE, 0, &dst));
	s64 = src.map;
	for (i = 0; i < LARGE / 8; i++)
		s64[i] = i * 0x9e3779b97f4a7c15ull;
	d = dst.map;
	memset(d, 0x66, 16);
	memset(d + LARGE - 16, 0x66, 16);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_copy(&cb, src.va + so, dst.va + dof, size);
	handles[0] = src.handle;
	handles[1] = dst.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 2);

	for (i = 0; i < dof; i++)
		ASSERT_EQ(0x66, d[i]);
	for (i = dof + size; i < LARGE; i++)
		ASSERT_EQ(0x66, d[i]);
	if (memcmp(d + dof, (uint8_t *)src.map + so, size)) {
		TH_LOG("first difference at byte %ld of the copy",
		       first_diff(d + dof, (uint8_t *)src.map + so, size));
		ASSERT_EQ(0, memcmp(d + dof, (uint8_t *)src.map + so, size));
	}
}

/* The fill byte of a BO after large_fill_copy_chain's job; see there. */
static uint32_t chain_word(uint64_t off, uint64_t marker)
{
	return off >= marker && off < marker + 8 ? 0x42424242 : 0x01010101;
}

/*
 * FILL 64 MiB, mark its middle, COPY it to a second BO and copy that back
 * one page lower, all in one job; sample a word per page of both BOs.
 */
JAL_SLOW_TEST(dma, large_fill_copy_chain)
{
	struct jal_cmdbuf cb;
	struct jal_bo a, b;
	uint32_t handles[2];
	uint32_t *wa, *wb;
	uint64_t p;

	ASSERT_EQ(0, jal_bo_new(self->fd, LARGE, 0, &a));
	ASSERT_EQ(0, jal_bo_new(self->fd, LARGE, 0, &b));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, a.va, 0x01010101, LARGE);
	jal_emit_write_value(&cb, a.va + LARGE / 2, 0x4242424242424242ull);
	jal_emit_copy(&cb, a.va, b.va, LARGE);
	jal_emit_copy(&cb, b.va + 4096, a.va, LARGE - 4096);
	handles[0] = a.handle;
	handles[1] = b.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 2);

	/* b: the marker at LARGE / 2; a: the marker one page lower. */
	wa = a.map;
	wb = b.map;
	ASSERT_EQ(0x42424242, wb[LARGE / 8]);
	ASSERT_EQ(0x42424242, wb[LARGE / 8 + 1]);
	ASSERT_EQ(0x42424242, wa[(LARGE / 2 - 4096) / 4]);
	ASSERT_EQ(0x42424242, wa[(LARGE / 2 - 4096) / 4 + 1]);
	ASSERT_EQ(0x01010101, wa[LARGE / 8]);
	for (p = 0; p < LARGE / 4096; p++) {
		uint64_t off = p * 4096 + ((p * 52) % 4000 & ~3ull);

		ASSERT_EQ(chain_word(off, LARGE / 2), wb[off / 4]);
		ASSERT_EQ(chain_word(off, LARGE / 2 - 4096), wa[off / 4]);
	}
	ASSERT_EQ(0x01010101, wa[LARGE / 4 - 1]);
}

TEST_HARNESS_MAIN
