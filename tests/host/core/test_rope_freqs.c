// SPDX-License-Identifier: MIT
/*
 * ROPE with JAL_INSN_F_ROPE_FREQS: the rotation frequency of each pair of
 * a head comes from a table (scaled RoPE), in the single and the
 * JAL_INSN_F_ROWS forms, against a plain C reference of isa.rst's
 * definition, bit for bit; a table holding theta's own frequencies gives
 * the unflagged ROPE's bits; operand and flag validation.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"

#define VRAM_VA		0x40000000ull
#define VRAM_LEN	(16 * MiB)
#define HOST_VA		0x80000000ull
#define HOST_LEN	(4 * MiB)

FIXTURE(rope) {
	struct fake *f;
};

FIXTURE_SETUP(rope)
{
	self->f = fake_new(64 * MiB);
	fake_default(self->f);
	map_vram_huge(self->f, CTX, VRAM_VA, 0, VRAM_LEN, RW);
	map_range(self->f, CTX, HOST_VA, HOST_LEN, RW, true);
}

FIXTURE_TEARDOWN(rope)
{
	fake_free(self->f);
}

static float rndf(struct fake *f)
{
	return (float)(int32_t)(rnd(f) >> 32) / 2147483648.0f;
}

/* isa.rst: angle = (float)pos * freq[j / 2], then run.c's rotation. */
static void ref_rope(float *d, const float *a, uint32_t n, uint32_t hs, uint32_t pos,
		     const float *freq)
{
	uint32_t i;

	for (i = 0; i < n; i += 2) {
		float val = (float)pos * freq[(i % hs) / 2];
		float c = cosf(val), s = sinf(val), v0 = a[i], v1 = a[i + 1];

		d[i] = v0 * c - v1 * s;
		d[i + 1] = v0 * s + v1 * c;
	}
}

static struct jal_insn rope_insn(uint32_t n, uint32_t hs, uint32_t pos)
{
	struct jal_insn in = i_op(JAL_OP_ROPE);

	in.flags = JAL_INSN_F_ROPE_FREQS;
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[3] = 3;
	in.dim[0] = n;
	in.dim[1] = hs;
	in.dim[2] = pos;
	return in;
}

static uint32_t run1(struct fake *f, struct jal_insn in, const uint64_t *args, unsigned int n)
{
	return run_kernel(f, &in, 1, args, n).status;
}

/* A Llama-3-like table: high frequencies kept, low ones divided by 8. */
static void scaled_table(float *freq, uint32_t hs, float theta)
{
	uint32_t j;

	for (j = 0; j < hs / 2; j++) {
		float f = 1.0f / powf(theta, (float)(2 * j) / (float)hs);

		freq[j] = j < hs / 8 ? f : j > hs / 4 ? f / 8.0f : f / (1.0f + (float)j / hs);
	}
}

TEST_F(rope, single_rows_follow_the_table_bit_for_bit)
{
	static const struct { uint32_t n, hs, pos; bool vram; } cases[] = {
		{ 64, 16, 0, true }, { 64, 16, 1, true }, { 96, 32, 4097, false },
		{ 384, 128, 131071, true }, { 2, 2, 7, false }, { 40000, 20000, 12345, true },
	};
	struct fake *f = self->f;
	unsigned int c;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		uint32_t n = cases[c].n, hs = cases[c].hs, i, bad = 0;
		float *a = malloc(n * 4), *want = malloc(n * 4), *got = malloc(n * 4);
		float *freq = malloc(hs / 2 * 4);
		uint64_t base = cases[c].vram ? VRAM_VA : HOST_VA, args[4];

		for (i = 0; i < n; i++)
			a[i] = rndf(f) * 3;
		scaled_table(freq, hs, 500000.0f);
		args[0] = base;
		args[1] = base + n * 4 + 64;
		args[2] = 0;
		args[3] = args[1] + n * 4 + 64;
		host_write(f, CTX, args[1], a, n * 4);
		host_write(f, CTX, args[3], freq, hs / 2 * 4);
		ASSERT_EQ(JAL_STATUS_OK, run1(f, rope_insn(n, hs, cases[c].pos), args, 4));
		host_read(f, CTX, args[0], got, n * 4);
		ref_rope(want, a, n, hs, cases[c].pos, freq);
		for (i = 0; i < n; i++)
			bad += f2u(got[i]) != f2u(want[i]);
		EXPECT_EQ(0, bad) TH_LOG("n %u hs %u pos %u", n, hs, cases[c].pos);
		/* In place, d = a. */
		args[0] = args[1];
		ASSERT_EQ(JAL_STATUS_OK, run1(f, rope_insn(n, hs, cases[c].pos), args, 4));
		host_read(f, CTX, args[1], got, n * 4);
		EXPECT_EQ(0, memcmp(got, want, n * 4));
		free(a);
		free(want);
		free(got);
		free(freq);
	}
}

/* theta's own frequencies as a table: the unflagged ROPE's bits. */
TEST_F(rope, a_table_of_thetas_frequencies_equals_plain_rope)
{
	struct fake *f = self->f;
	const uint32_t n = 256, hs = 64, pos = 301;
	float a[256], got[256], want[256], freq[32], theta = 10000.0f;
	uint64_t args[4] = { VRAM_VA, VRAM_VA + 4096, 0, VRAM_VA + 8192 };
	struct jal_insn plain = i_op(JAL_OP_ROPE);
	uint32_t j;

	for (j = 0; j < n; j++)
		a[j] = rndf(f);
	/* isa.rst's freq for pair j: 1.0f / powf(theta, (float)(2j) / (float)hs) */
	for (j = 0; j < hs / 2; j++)
		freq[j] = 1.0f / powf(theta, (float)(2 * j) / (float)hs);
	host_write(f, CTX, args[1], a, sizeof(a));
	host_write(f, CTX, args[3], freq, sizeof(freq));
	ASSERT_EQ(JAL_STATUS_OK, run1(f, rope_insn(n, hs, pos), args, 4));
	host_read(f, CTX, args[0], got, sizeof(got));
	plain.r[0] = 0;
	plain.r[1] = 1;
	plain.dim[0] = n;
	plain.dim[1] = hs;
	plain.dim[2] = pos;
	memcpy(&plain.imm[0], &theta, 4);
	ASSERT_EQ(JAL_STATUS_OK, run1(f, plain, args, 4));
	host_read(f, CTX, args[0], want, sizeof(want));
	EXPECT_EQ(0, memcmp(got, want, sizeof(got)));
}

/* Rows: each row at its own position, one table for all. */
TEST_F(rope, rows_each_equal_the_single_form)
{
	struct fake *f = self->f;
	const uint32_t n = 48, hs = 16, rows = 5, pitch = 53;
	uint32_t pos[5] = { 0, 9, 2, 65535, 9 }, b, i, bad = 0;
	float a[5 * 53], got[5 * 53], want[48], freq[8];
	uint64_t args[4] = { VRAM_VA, HOST_VA, VRAM_VA + 8192, VRAM_VA + 16384 };
	struct jal_insn in = rope_insn(n, hs, 0);

	for (i = 0; i < ARRAY_SIZE(a); i++)
		a[i] = rndf(f) * 2;
	scaled_table(freq, hs, 10000.0f);
	host_write(f, CTX, args[1], a, sizeof(a));
	host_write(f, CTX, args[2], pos, sizeof(pos));
	host_write(f, CTX, args[3], freq, sizeof(freq));
	in.flags |= JAL_INSN_F_ROWS;
	in.r[2] = 2;
	in.dim[2] = 0;
	in.dim[3] = rows;
	in.stride[1] = pitch;
	ASSERT_EQ(JAL_STATUS_OK, run1(f, in, args, 4));
	host_read(f, CTX, args[0], got, rows * n * 4);
	for (b = 0; b < rows; b++) {
		ref_rope(want, a + b * pitch, n, hs, pos[b], freq);
		for (i = 0; i < n; i++)
			bad += f2u(got[b * n + i]) != f2u(want[i]);
	}
	EXPECT_EQ(0, bad);
}

TEST_F(rope, bad_tables_and_flags_are_rejected)
{
	struct fake *f = self->f;
	float freq[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
	uint64_t args[4] = { VRAM_VA, VRAM_VA + 4096, 0, VRAM_VA + 8192 };
	struct jal_insn base = rope_insn(32, 16, 3), in;

	host_write(f, CTX, args[3], freq, sizeof(freq));
	ASSERT_EQ(JAL_STATUS_OK, run1(f, base, args, 4));
	in = base;
	in.imm[0] = 0x461c4000;		/* theta has no place with a table */
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4));
	in = base;
	in.flags &= ~JAL_INSN_F_ROPE_FREQS;	/* r[3] without the flag */
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4));
	in = i_vop(JAL_OP_VADD, 0, 1, 1, 8, 1, 1, 1);
	in.flags = JAL_INSN_F_ROPE_FREQS;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4));
	in = base;
	in.dim[0] = 131072;
	in.dim[1] = 131072;		/* more pairs than the table buffer */
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4));
	in = base;
	in.dim[1] = 6;			/* odd number of pairs is fine; 6 does not divide 32 */
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 4));
	args[3] = VRAM_VA + 8194;	/* misaligned table */
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, base, args, 4));
	args[3] = 0x7000000000ull;	/* unmapped table */
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run1(f, base, args, 4));
}

TEST_HARNESS_MAIN
