// SPDX-License-Identifier: MIT
/*
 * Command processor: COPY (sizes, alignment, overlap, large scattered
 * buffers), FILL, WRITE_VALUE, TIMESTAMP, malformed commands and command
 * buffers that fault part way. References are computed with memmove and
 * friends on host copies of the buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"

FIXTURE(cmd) {
	struct fake *f;
	uint8_t *ref;
	uint8_t *got;
};

FIXTURE_SETUP(cmd)
{
	self->f = fake_new(320 * MiB);
	fake_default(self->f);
	self->ref = malloc(64 * MiB);
	self->got = malloc(64 * MiB);
}

FIXTURE_TEARDOWN(cmd)
{
	free(self->ref);
	free(self->got);
	fake_free(self->f);
}

static void random_fill(struct fake *f, uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(rnd(f) >> 32);
}

TEST_F(cmd, copy_any_size_and_alignment)
{
	static const uint64_t sizes[] = {
		0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 4095, 4096, 4097, 12345,
		3 * 4096 + 7,
	};
	static const uint64_t offs[] = { 0, 1, 3, 4093 };
	struct fake *f = self->f;
	uint64_t src = DATA_VA, dst = DATA_VA + 8 * PAGE, len = 8 * PAGE;
	unsigned int s, i, j;

	map_range(f, CTX, src, len, JAL_PTE_READ, true);
	map_range(f, CTX, dst, len, RW, true);
	random_fill(f, self->ref, len);
	host_write(f, CTX, src, self->ref, len);
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (i = 0; i < 4; i++) {
			for (j = 0; j < 4; j++) {
				struct cmdbuf cb = { 0 };
				struct result r;

				memset(self->got, 0xee, len);
				host_write(f, CTX, dst, self->got, len);
				memcpy(self->got + offs[j], self->ref + offs[i],
				       sizes[s]);
				cb_copy(&cb, src + offs[i], dst + offs[j], sizes[s]);
				r = run_cb(f, CTX, &cb);
				ASSERT_EQ(JAL_STATUS_OK, r.status);
				host_read(f, CTX, dst, self->got + len, len);
				ASSERT_EQ(0, memcmp(self->got, self->got + len, len)) {
					TH_LOG("size %llu src+%llu dst+%llu",
					       (unsigned long long)sizes[s],
					       (unsigned long long)offs[i],
					       (unsigned long long)offs[j]);
				}
			}
		}
	}
}

TEST_F(cmd, copy_overlapping_ranges_like_memmove)
{
	static const struct { uint64_t src, dst, size; } cases[] = {
		{ 0, 5, 100 }, { 5, 0, 100 }, { 0, 0, 4096 },
		{ 0, 1, 3 * MiB }, { 1, 0, 3 * MiB },
		{ 3, MiB + 5, 3 * MiB - 8 }, { MiB + 5, 3, 3 * MiB - 8 },
		{ 100, 4096 + 99, 2 * 4096 },
	};
	struct fake *f = self->f;
	uint64_t base = DATA_VA, len = 4 * MiB;
	unsigned int i;

	map_range(f, CTX, base, len, RW, true);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cmdbuf cb = { 0 };
		struct result r;

		random_fill(f, self->ref, len);
		host_write(f, CTX, base, self->ref, len);
		memmove(self->ref + cases[i].dst, self->ref + cases[i].src,
			cases[i].size);
		cb_copy(&cb, base + cases[i].src, base + cases[i].dst, cases[i].size);
		r = run_cb(f, CTX, &cb);
		ASSERT_EQ(JAL_STATUS_OK, r.status);
		host_read(f, CTX, base, self->got, len);
		EXPECT_EQ(0, memcmp(self->ref, self->got, len)) {
			TH_LOG("case %u", i);
		}
	}
}

TEST_F_TIMEOUT(cmd, copy_64_mib_between_scattered_pages, 120)
{
	struct fake *f = self->f;
	uint64_t len = 64 * MiB + 12, src = DATA_VA, dst = DATA_VA + 128 * MiB;
	struct cmdbuf cb = { 0 };
	struct result r;
	uint64_t t0;

	map_range(f, CTX, src, len, JAL_PTE_READ, false);
	map_range(f, CTX, dst, len + 8, RW, true);
	random_fill(f, self->ref, 64 * MiB);
	host_write(f, CTX, src, self->ref, 64 * MiB);
	host_write(f, CTX, src + 64 * MiB, "0123456789ab", 12);
	cb_copy(&cb, src, dst + 4, len);
	t0 = now_ms();
	r = run_cb(f, CTX, &cb);
	TH_LOG("64 MiB copy took %llu ms", (unsigned long long)(now_ms() - t0));
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	host_read(f, CTX, dst + 4, self->got, 64 * MiB);
	EXPECT_EQ(0, memcmp(self->ref, self->got, 64 * MiB));
	host_read(f, CTX, dst + 4 + 64 * MiB, self->got, 12);
	EXPECT_EQ(0, memcmp("0123456789ab", self->got, 12));
	host_read(f, CTX, dst, self->got, 4);
	EXPECT_EQ(0, *(uint32_t *)self->got);
}

TEST_F(cmd, fill_repeats_the_pattern_bytes)
{
	static const uint64_t sizes[] = { 0, 1, 2, 3, 5, 4096, 4099, 70001 };
	static const uint64_t offs[] = { 0, 1, 2, 3, 4095 };
	struct fake *f = self->f;
	uint64_t dst = DATA_VA, len = 32 * PAGE;
	unsigned int s, o, i;

	map_range(f, CTX, dst, len, RW, true);
	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		for (o = 0; o < 5; o++) {
			struct cmdbuf cb = { 0 };
			struct result r;

			random_fill(f, self->ref, len);
			host_write(f, CTX, dst, self->ref, len);
			for (i = 0; i < sizes[s]; i++)
				self->ref[offs[o] + i] = "\x11\x22\x33\x44"[i % 4];
			cb_fill(&cb, dst + offs[o], 0x44332211, sizes[s]);
			r = run_cb(f, CTX, &cb);
			ASSERT_EQ(JAL_STATUS_OK, r.status);
			host_read(f, CTX, dst, self->got, len);
			ASSERT_EQ(0, memcmp(self->ref, self->got, len)) {
				TH_LOG("size %llu offset %llu",
				       (unsigned long long)sizes[s],
				       (unsigned long long)offs[o]);
			}
		}
	}
}

TEST_F_TIMEOUT(cmd, fill_large_region, 60)
{
	struct fake *f = self->f;
	uint64_t len = 40 * MiB + 6, i;
	struct cmdbuf cb = { 0 };
	struct result r;

	map_range(f, CTX, DATA_VA, len, RW, true);
	cb_fill(&cb, DATA_VA + 2, 0xdeadbeef, len - 2);
	r = run_cb(f, CTX, &cb);
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	host_read(f, CTX, DATA_VA, self->got, len);
	EXPECT_EQ(0, self->got[0]);
	EXPECT_EQ(0, self->got[1]);
	for (i = 2; i < len; i++)
		ASSERT_EQ((0xdeadbeefu >> (8 * ((i - 2) % 4))) & 0xff, self->got[i]);
}

TEST_F(cmd, write_value_and_timestamp)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	uint64_t v[4], t0, t1;
	struct result r;

	map_range(f, CTX, DATA_VA, PAGE, RW, false);
	cb_write_value(&cb, DATA_VA, 0x0123456789abcdefull);
	cb_timestamp(&cb, DATA_VA + 8);
	cb_write_value(&cb, DATA_VA + 16, ~0ull);
	cb_timestamp(&cb, DATA_VA + 24);
	t0 = rd(f, JAL_REG_TIMESTAMP_LO);
	t0 |= (uint64_t)rd(f, JAL_REG_TIMESTAMP_HI) << 32;
	r = run_cb(f, CTX, &cb);
	ASSERT_EQ(JAL_STATUS_OK, r.status);
	t1 = rd(f, JAL_REG_TIMESTAMP_LO);
	t1 |= (uint64_t)rd(f, JAL_REG_TIMESTAMP_HI) << 32;
	host_read(f, CTX, DATA_VA, v, sizeof(v));
	EXPECT_EQ(0x0123456789abcdefull, v[0]);
	EXPECT_EQ(~0ull, v[2]);
	EXPECT_LT(t0, v[1]);
	EXPECT_LT(v[1], v[3]);
	EXPECT_LT(v[3], t1);

	/* Destinations must be 8-byte aligned. */
	cb.len = 0;
	cb_write_value(&cb, DATA_VA + 32, 1);
	cb_write_value(&cb, DATA_VA + 44, 2);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_BAD_CMD, r.status);
	EXPECT_EQ(24, r.error_offset);
	EXPECT_EQ(0, r.fault_addr);
	cb.len = 0;
	cb_timestamp(&cb, DATA_VA + 4);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_BAD_CMD, r.status);
	EXPECT_EQ(0, r.error_offset);
	host_read(f, CTX, DATA_VA + 32, v, 32);
	EXPECT_EQ(1, v[0]);
	EXPECT_EQ(0, v[1]);
	EXPECT_EQ(0, v[2]);
}

TEST_F(cmd, malformed_commands_stop_the_buffer)
{
	struct fake *f = self->f;
	enum { UNKNOWN, UNKNOWN_FF, HDR_RESERVED, LEN0, NOP_LEN2, COPY_SHORT,
	       COPY_LONG, PAST_END, COPY_RSVD, WV_RSVD, TS_RSVD, DISPATCH_RSVD,
	       CASES };
	unsigned int c;

	map_range(f, CTX, DATA_VA, PAGE, RW, false);
	for (c = 0; c < CASES; c++) {
		struct cmdbuf cb = { 0 };
		uint64_t v[2] = { 0, 0 };
		struct result r;

		host_write(f, CTX, DATA_VA, v, sizeof(v));
		cb_write_value(&cb, DATA_VA, 1);
		switch (c) {
		case UNKNOWN:
			cb_u32(&cb, JAL_CMD_HDR(0x06, 1));
			break;
		case UNKNOWN_FF:
			cb_u32(&cb, JAL_CMD_HDR(0xff, 8));
			break;
		case HDR_RESERVED:
			cb_u32(&cb, JAL_CMD_HDR(JAL_CMD_NOP, 1) | 0x100);
			break;
		case LEN0:
			cb_u32(&cb, JAL_CMD_HDR(JAL_CMD_NOP, 0));
			break;
		case NOP_LEN2:
			cb_u32(&cb, JAL_CMD_HDR(JAL_CMD_NOP, 2));
			cb_u32(&cb, 0);
			break;
		case COPY_SHORT:
		case COPY_LONG:
			cb_copy(&cb, DATA_VA, DATA_VA + 8, 8);
			*(uint32_t *)(cb.buf + 24) =
				JAL_CMD_HDR(JAL_CMD_COPY, c == COPY_SHORT ? 7 : 9);
			if (c == COPY_LONG)
				cb_u32(&cb, 0);
			break;
		case PAST_END:
			cb_copy(&cb, DATA_VA, DATA_VA + 8, 8);
			cb.len -= 8;
			break;
		case COPY_RSVD:
			cb_copy(&cb, DATA_VA, DATA_VA + 8, 8);
			*(uint32_t *)(cb.buf + 28) = 1;
			break;
		case WV_RSVD:
			cb_write_value(&cb, DATA_VA + 8, 1);
			*(uint32_t *)(cb.buf + 28) = 0x80000000;
			break;
		case TS_RSVD:
			cb_timestamp(&cb, DATA_VA + 8);
			*(uint32_t *)(cb.buf + 28) = 2;
			break;
		case DISPATCH_RSVD:
			cb_dispatch(&cb, CODE_VA, 0, ARGS_VA, 0);
			*(uint32_t *)(cb.buf + 28) = 4;
			break;
		}
		if (c != PAST_END)
			cb_write_value(&cb, DATA_VA + 8, 2);
		r = run_cb(f, CTX, &cb);
		EXPECT_EQ(JAL_STATUS_BAD_CMD, r.status) {
			TH_LOG("case %u", c);
		}
		EXPECT_EQ(24, r.error_offset) {
			TH_LOG("case %u", c);
		}
		host_read(f, CTX, DATA_VA, v, sizeof(v));
		EXPECT_EQ(1, v[0]);
		EXPECT_EQ(0, v[1]) {
			TH_LOG("case %u", c);
		}
	}
	EXPECT_EQ(CASES, rd(f, JAL_REG_FAULT_COUNT));
	EXPECT_EQ(JAL_STATUS_BAD_CMD, rd(f, JAL_REG_FAULT_REASON));
}

TEST_F(cmd, command_buffer_fault_part_way)
{
	struct fake *f = self->f;
	uint64_t cbva = DATA_VA + 16 * PAGE, v;
	struct cmdbuf cb = { 0 };
	uint32_t idx;
	struct jal_desc *d;

	map_range(f, CTX, DATA_VA, PAGE, RW, false);
	map_range(f, CTX, cbva, PAGE, JAL_PTE_READ, false);
	/* Commands fill the first page; the second is unmapped. */
	while (cb.len < PAGE - 24)
		cb_nop(&cb);
	cb_write_value(&cb, DATA_VA, 7);
	host_write(f, CTX, cbva, cb.buf, cb.len);
	idx = submit(f, 0, CTX, cbva, 2 * PAGE, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	d = desc_at(f, 0, idx);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, d->status);
	EXPECT_EQ(PAGE, d->error_offset);
	EXPECT_EQ(cbva + PAGE, d->fault_addr);
	EXPECT_EQ(JAL_FAULT_STATUS_VALID, rd(f, JAL_REG_FAULT_STATUS));
	host_read(f, CTX, DATA_VA, &v, 8);
	EXPECT_EQ(7, v);

	/* A command straddling into the unmapped page faults as a whole. */
	cb.len = 0;
	while (cb.len < PAGE - 8)
		cb_nop(&cb);
	cb_write_value(&cb, DATA_VA, 9);
	host_write(f, CTX, cbva, cb.buf, PAGE);
	idx = submit(f, 0, CTX, cbva, 2 * PAGE, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	d = desc_at(f, 0, idx);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, d->status);
	EXPECT_EQ(PAGE - 8, d->error_offset);
	EXPECT_EQ(cbva + PAGE, d->fault_addr);
	host_read(f, CTX, DATA_VA, &v, 8);
	EXPECT_EQ(7, v);
}

TEST_F(cmd, largest_command_buffer)
{
	struct fake *f = self->f;
	static struct cmdbuf cb;
	uint32_t idx, i;
	uint64_t v;

	map_range(f, CTX, DATA_VA, PAGE, RW, false);
	for (i = 0; i < JAL_MAX_CMDBUF_SIZE; i += sizeof(cb.buf)) {
		cb.len = 0;
		while (cb.len < sizeof(cb.buf))
			cb_nop(&cb);
		if (i + sizeof(cb.buf) == JAL_MAX_CMDBUF_SIZE) {
			cb.len -= 24;
			cb_write_value(&cb, DATA_VA, 0x600d);
		}
		host_write(f, CTX, CMDBUF_VA + i, cb.buf, cb.len);
	}
	idx = submit(f, 0, CTX, CMDBUF_VA, JAL_MAX_CMDBUF_SIZE, 0);
	ASSERT_TRUE(wait_queue(f, 0, 20000));
	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, 0, idx)->status);
	host_read(f, CTX, DATA_VA, &v, 8);
	EXPECT_EQ(0x600d, v);
}

TEST_HARNESS_MAIN
