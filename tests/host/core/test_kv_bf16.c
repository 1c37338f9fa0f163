// SPDX-License-Identifier: MIT
/*
 * PAGED_KV_STORE and PAGED_ATTENTION with bf16 KV pools (dtype
 * JAL_DTYPE_BF16), against a plain C reference written from
 * Documentation/hw/isa.rst, bit for bit:
 *
 * - the store rounds each f32 to bf16 to nearest even, keeps NaNs NaN
 *   (quiet) and writes nothing but the row's slot;
 * - attention decodes each bf16 to f32 exactly and then computes what
 *   ATTENTION computes: scores in the chip's dot product order divided by
 *   sqrtf(hs), run.c's softmax, the weighted sum of values in position
 *   order;
 * - pools in device memory (heads shared among compute threads) and in
 *   host memory (bounce buffers), head sizes whose positions do not fit
 *   a decode buffer at once, more positions than one score block;
 * - bad operands fail with BAD_INSN or an MMU status, never a crash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "jal_test.h"
#include "jal_kern.h"	/* jal_kernels_select(): which variants can run */

#define VRAM_VA		0x40000000ull
#define VRAM_LEN	(48 * MiB)
#define HOST_VA		0x80000000ull
#define HOST_LEN	(24 * MiB)

FIXTURE(kvbf16) {
	struct fake *f;
	struct jal_arena mem;
};

FIXTURE_SETUP(kvbf16)
{
	self->f = fake_new(160 * MiB);
	jal_arena_setup(&self->mem, self->f, VRAM_VA, VRAM_LEN, HOST_VA, HOST_LEN);
}

FIXTURE_TEARDOWN(kvbf16)
{
	fake_free(self->f);
}

static uint64_t alloc_in(FIXTURE_DATA(kvbf16) *self, bool vram, uint64_t bytes)
{
	return jal_arena_alloc(&self->mem, vram, bytes);
}

static float rndf(struct fake *f)
{
	return (float)(int32_t)(rnd(f) >> 32) / 2147483648.0f;
}

/*
 * The reference rounding, written out the long way so that it does not
 * share the chip's bit trick: the two bf16 neighbours of x, the nearer
 * one, on a tie the one with an even last bit.
 */
static uint16_t ref_bf16(float x)
{
	uint32_t u = f2u(x), lo = u & 0xffff0000u, rest = u & 0xffffu;
	uint16_t down = (uint16_t)(lo >> 16);

	if (isnan(x))
		return (uint16_t)(down | 0x0040);	/* quiet, same sign */
	if (rest < 0x8000u)
		return down;
	if (rest > 0x8000u)
		return (uint16_t)(down + 1);		/* may carry into inf */
	return (uint16_t)(down + (down & 1));
}

static float from_bf16(uint16_t h)
{
	return u2f((uint32_t)h << 16);
}

static uint32_t run1(struct fake *f, struct jal_insn in, const uint64_t *args,
		     unsigned int nargs)
{
	return run_kernel(f, &in, 1, args, nargs).status;
}

/* r0/r1 rows, r2/r3 pools, r4 per-row u32s, r5 tables. */
static struct jal_insn paged(uint8_t op, uint32_t heads, uint32_t hs, uint32_t kvh,
			     uint32_t rows, uint32_t cap, uint32_t tpitch,
			     uint32_t block, uint32_t pool)
{
	struct jal_insn in = i_op(op);

	in.dtype = JAL_DTYPE_BF16;
	in.r[0] = 0;
	in.r[1] = 1;
	in.r[2] = 2;
	in.r[3] = 3;
	in.dim[0] = op == JAL_OP_PAGED_ATTENTION ? heads : 0;
	in.dim[1] = hs;
	in.dim[2] = kvh;
	in.dim[3] = rows;
	in.stride[2] = cap;
	in.stride[3] = tpitch;
	in.imm[0] = 4;
	in.imm[1] = 5;
	in.imm[2] = block;
	in.imm[3] = pool;
	return in;
}

/* ---- PAGED_KV_STORE ---------------------------------------------------- */

/* Values whose rounding is easy to get wrong. */
static const uint32_t special[] = {
	0x00000000, 0x80000000, 0x3f800000, 0x3f808000, 0x3f818000, 0x3f808001,
	0x3f80ffff, 0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f800000, 0xff800000,
	0x7fc00000, 0x7f800001, 0xff800001, 0x7fa00000, 0x00000001, 0x00008000,
	0x00018000, 0x807fffff, 0x3effffff, 0xbf7f7fff,
};

static void check_store(struct __test_metadata *_metadata, FIXTURE_DATA(kvbf16) *self,
			bool vram)
{
	struct fake *f = self->f;
	const uint32_t hs = 16, kvh = 3, rowlen = hs * kvh, block = 4, pool = 9, cap = 5;
	const uint32_t rows = 4, kpitch = rowlen + 5;
	uint32_t tab[4 * 5], pos[4] = { 0, 7, 19, 11 };
	size_t poolh = (size_t)pool * block * rowlen, i;
	uint16_t *before = malloc(poolh * 2), *kgot = malloc(poolh * 2), *vgot = malloc(poolh * 2);
	float *k = malloc((size_t)rows * kpitch * 4), *v = malloc((size_t)rows * rowlen * 4);
	uint32_t b, bad = 0;
	uint64_t args[6];

	for (i = 0; i < ARRAY_SIZE(tab); i++)
		tab[i] = (uint32_t)((i * 7 + 3) % pool);
	for (i = 0; i < poolh; i++)
		before[i] = (uint16_t)rnd(f);
	for (i = 0; i < (size_t)rows * kpitch; i++)
		k[i] = i < ARRAY_SIZE(special) ? u2f(special[i]) : rndf(f) * 1000.0f;
	for (i = 0; i < (size_t)rows * rowlen; i++)
		v[i] = i % 5 ? u2f((uint32_t)rnd(f)) : u2f(special[i % ARRAY_SIZE(special)]);
	/* Rows 0 and 3 both write block tab[0]: different slots. */
	args[0] = alloc_in(self, vram, (size_t)rows * kpitch * 4);
	args[1] = alloc_in(self, !vram, (size_t)rows * rowlen * 4);
	args[2] = alloc_in(self, vram, poolh * 2);
	args[3] = alloc_in(self, vram, poolh * 2);
	args[4] = alloc_in(self, true, sizeof(pos));
	args[5] = alloc_in(self, !vram, sizeof(tab));
	host_write(f, CTX, args[0], k, (size_t)rows * kpitch * 4);
	host_write(f, CTX, args[1], v, (size_t)rows * rowlen * 4);
	host_write(f, CTX, args[2], before, poolh * 2);
	host_write(f, CTX, args[3], before, poolh * 2);
	host_write(f, CTX, args[4], pos, sizeof(pos));
	host_write(f, CTX, args[5], tab, sizeof(tab));
	{
		struct jal_insn in = paged(JAL_OP_PAGED_KV_STORE, 0, hs, kvh, rows, cap, cap,
					   block, pool);

		in.stride[0] = kpitch;
		ASSERT_EQ(JAL_STATUS_OK, run1(f, in, args, 6));
	}
	host_read(f, CTX, args[2], kgot, poolh * 2);
	host_read(f, CTX, args[3], vgot, poolh * 2);
	for (b = 0; b < rows; b++) {
		uint32_t blk = tab[b * cap + pos[b] / block];
		size_t slot = ((size_t)blk * block + pos[b] % block) * rowlen;

		for (i = 0; i < rowlen; i++) {
			uint16_t kw = ref_bf16(k[b * kpitch + i]), vw = ref_bf16(v[b * rowlen + i]);

			if (kgot[slot + i] != kw || vgot[slot + i] != vw) {
				if (bad++ < 5)
					TH_LOG("row %u elem %zu: k %08x -> %04x (want %04x), v %08x -> %04x (want %04x)",
					       b, i, f2u(k[b * kpitch + i]), kgot[slot + i], kw,
					       f2u(v[b * rowlen + i]), vgot[slot + i], vw);
			}
			kgot[slot + i] = vgot[slot + i] = before[slot + i];
		}
	}
	/* Nothing else changed. */
	for (i = 0; i < poolh; i++)
		bad += kgot[i] != before[i] || vgot[i] != before[i];
	EXPECT_EQ(0, bad);
	free(before);
	free(kgot);
	free(vgot);
	free(k);
	free(v);
}

TEST_F(kvbf16, store_rounds_to_nearest_even_into_device_memory_pools)
{
	check_store(_metadata, self, true);
}

TEST_F(kvbf16, store_rounds_to_nearest_even_into_host_memory_pools)
{
	check_store(_metadata, self, false);
}

/* The reference rounding itself, on values with known answers. */
TEST(reference_rounding_known_values)
{
	EXPECT_EQ(0x3f80, ref_bf16(u2f(0x3f808000)));	/* tie, even stays */
	EXPECT_EQ(0x3f82, ref_bf16(u2f(0x3f818000)));	/* tie, odd goes up */
	EXPECT_EQ(0x3f81, ref_bf16(u2f(0x3f808001)));
	EXPECT_EQ(0x7f80, ref_bf16(u2f(0x7f7f8000)));	/* rounds to inf */
	EXPECT_EQ(0x7fc0, ref_bf16(u2f(0x7f800001)));	/* sNaN made quiet */
	EXPECT_EQ(0xff80, ref_bf16(u2f(0xff800000)));
}

/* ---- PAGED_ATTENTION --------------------------------------------------- */

/* ATTENTION of one query head over decoded positions, as isa.rst says. */
static void ref_head(const float *q, const float *k, const float *v, size_t pitch,
		     uint32_t hs, uint32_t len, float *out)
{
	float *s = malloc((size_t)len * 4), max, sum = 0.0f, scale = sqrtf((float)hs);
	uint32_t t, i;

	for (t = 0; t < len; t++)
		s[t] = ref_dot(k + (size_t)t * pitch, q, hs, 1) / scale;
	max = s[0];
	for (t = 1; t < len; t++)
		if (s[t] > max)
			max = s[t];
	for (t = 0; t < len; t++) {
		s[t] = expf(s[t] - max);
		sum += s[t];
	}
	for (t = 0; t < len; t++)
		s[t] = s[t] / sum;
	for (i = 0; i < hs; i++)
		out[i] = 0.0f;
	for (t = 0; t < len; t++)
		for (i = 0; i < hs; i++)
			out[i] += s[t] * v[(size_t)t * pitch + i];
	free(s);
}

struct att_case {
	uint32_t heads, hs, kvh, block, rows, cap;
	bool vram;
};

static void check_attention(struct __test_metadata *_metadata, FIXTURE_DATA(kvbf16) *self,
			    const struct att_case *c)
{
	struct fake *f = self->f;
	uint32_t rowlen = c->kvh * c->hs, qlen = c->heads * c->hs, pool = c->rows * c->cap + 2;
	uint32_t positions = c->cap * c->block, b, t, h, bad = 0;
	size_t blockh = (size_t)c->block * rowlen, cache = (size_t)positions * rowlen, i;
	uint16_t *kp = malloc(pool * blockh * 2), *vp = malloc(pool * blockh * 2);
	float *kc = malloc(c->rows * cache * 4), *vc = malloc(c->rows * cache * 4);
	float *q = malloc((size_t)c->rows * qlen * 4), *want = malloc((size_t)c->rows * qlen * 4);
	float *got = malloc((size_t)c->rows * qlen * 4);
	uint32_t *tab = malloc((size_t)c->rows * c->cap * 4), *len = malloc(c->rows * 4);
	uint64_t args[6];

	jal_arena_reset(&self->mem);
	/* Unused slots hold NaN: reading one would show in the results. */
	for (i = 0; i < pool * blockh; i++)
		kp[i] = vp[i] = 0x7fc1;
	/* Every row its own blocks, shuffled; block 0 and the last unused. */
	for (i = 0; i < (size_t)c->rows * c->cap; i++)
		tab[i] = (uint32_t)i + 1;
	for (i = (size_t)c->rows * c->cap; i > 1; i--) {
		size_t r = rnd(f) % i;
		uint32_t x = tab[i - 1];

		tab[i - 1] = tab[r];
		tab[r] = x;
	}
	for (b = 0; b < c->rows; b++) {
		len[b] = b ? (uint32_t)(1 + rnd(f) % positions) : positions;
		for (t = 0; t < len[b]; t++) {
			uint32_t blk = tab[b * c->cap + t / c->block];

			for (i = 0; i < rowlen; i++) {
				uint16_t kh = ref_bf16(rndf(f) * 2), vh = ref_bf16(rndf(f));

				kp[(size_t)blk * blockh + (t % c->block) * rowlen + i] = kh;
				vp[(size_t)blk * blockh + (t % c->block) * rowlen + i] = vh;
				kc[b * cache + (size_t)t * rowlen + i] = from_bf16(kh);
				vc[b * cache + (size_t)t * rowlen + i] = from_bf16(vh);
			}
		}
	}
	for (i = 0; i < (size_t)c->rows * qlen; i++)
		q[i] = rndf(f) * 4;
	for (b = 0; b < c->rows; b++)
		for (h = 0; h < c->heads; h++) {
			size_t g = h / (c->heads / c->kvh) * c->hs;

			ref_head(q + (size_t)b * qlen + h * c->hs, kc + b * cache + g,
				 vc + b * cache + g, rowlen, c->hs, len[b],
				 want + (size_t)b * qlen + h * c->hs);
		}
	args[0] = alloc_in(self, c->vram, (size_t)c->rows * qlen * 4);
	args[1] = alloc_in(self, c->vram, (size_t)c->rows * qlen * 4);
	args[2] = alloc_in(self, c->vram, pool * blockh * 2);
	args[3] = alloc_in(self, c->vram, pool * blockh * 2);
	args[4] = alloc_in(self, true, c->rows * 4);
	args[5] = alloc_in(self, true, (size_t)c->rows * c->cap * 4);
	host_write(f, CTX, args[1], q, (size_t)c->rows * qlen * 4);
	host_write(f, CTX, args[2], kp, pool * blockh * 2);
	host_write(f, CTX, args[3], vp, pool * blockh * 2);
	host_write(f, CTX, args[4], len, c->rows * 4);
	host_write(f, CTX, args[5], tab, (size_t)c->rows * c->cap * 4);
	ASSERT_EQ(JAL_STATUS_OK,
		  run1(f, paged(JAL_OP_PAGED_ATTENTION, c->heads, c->hs, c->kvh, c->rows, c->cap,
				c->cap, c->block, pool), args, 6));
	host_read(f, CTX, args[0], got, (size_t)c->rows * qlen * 4);
	for (i = 0; i < (size_t)c->rows * qlen; i++)
		bad += f2u(got[i]) != f2u(want[i]) || isnan(got[i]);
	EXPECT_EQ(0, bad) {
		TH_LOG("H %u hs %u G %u block %u rows %u cap %u vram %d: %u of %u differ",
		       c->heads, c->hs, c->kvh, c->block, c->rows, c->cap, c->vram, bad,
		       c->rows * qlen);
	}
	free(kp);
	free(vp);
	free(kc);
	free(vc);
	free(q);
	free(want);
	free(got);
	free(tab);
	free(len);
}

TEST_F_TIMEOUT(kvbf16, attention_decodes_exactly_and_sums_as_attention, 300)
{
	static const struct att_case cases[] = {
		{ 1, 8, 1, 1, 1, 5, true },
		{ 8, 32, 2, 16, 5, 8, true },
		{ 8, 32, 2, 16, 5, 8, false },
		{ 6, 48, 3, 7, 4, 6, true },
		{ 4, 6, 4, 3, 9, 4, false },
		/* 8192-float heads: a block's 16 positions decode in two runs. */
		{ 2, 8192, 1, 16, 2, 2, true },
		{ 2, 8192, 1, 16, 1, 2, false },
		/* More positions than a score block: the three-pass softmax. */
		{ 2, 4, 1, 64, 1, 300, true },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		check_attention(_metadata, self, &cases[i]);
}

/*
 * Every compute kernel variant the host has (bf16 scores go through
 * MATVEC's bf16 kernel in place), with 1 and 3 compute threads: the same
 * bits as the C reference.
 */
TEST_F_TIMEOUT(kvbf16, every_kernel_variant_and_thread_count_gives_the_reference, 300)
{
	static const char *const variants[] = { "sse2", "avx2", "avx512" };
	static const struct att_case cases[] = {
		{ 8, 64, 2, 16, 6, 10, true },
		{ 6, 48, 3, 7, 4, 6, false },
	};
	unsigned int v, t, i;

	for (v = 0; v < ARRAY_SIZE(variants); v++) {
		if (!jal_kernels_select(variants[v]))
			continue;	/* not on this CPU */
		for (t = 1; t <= 3; t += 2) {
			struct jal_device_config cfg;

			fake_free(self->f);
			fake_test_config(&cfg);
			cfg.kernels = variants[v];
			cfg.compute_threads = t;
			self->f = fake_new_cfg(160 * MiB, &cfg);
			fake_default(self->f);
			map_vram_huge(self->f, CTX, VRAM_VA, 0, VRAM_LEN, RW);
			map_range(self->f, CTX, HOST_VA, HOST_LEN, RW, true);
			wr(self->f, JAL_REG_STEP_LIMIT_LO, 0);
			wr(self->f, JAL_REG_STEP_LIMIT_HI, 0);
			for (i = 0; i < ARRAY_SIZE(cases); i++)
				check_attention(_metadata, self, &cases[i]);
		}
	}
}

/*
 * A store and an attention in one kernel: the row attends the keys and
 * values it just stored, rounded; the other slots of its blocks were
 * stored by earlier positions.
 */
TEST_F(kvbf16, attention_sees_what_the_store_rounded)
{
	struct fake *f = self->f;
	const uint32_t H = 4, hs = 8, G = 2, rowlen = G * hs, block = 2, cap = 3, pool = 4;
	uint32_t tab[3] = { 2, 0, 3 }, pos = 4, lens = 5, i, h, bad = 0;
	uint16_t kp[4 * 2 * 16] = { 0 }, vp[4 * 2 * 16] = { 0 };
	float kc[5 * 16], vc[5 * 16], k[16], v[16], q[32], want[32], got[32];
	uint64_t args[6];
	struct prog_ {
		struct jal_insn code[8];
	} p;
	uint32_t t;

	for (t = 0; t < 4; t++)
		for (i = 0; i < rowlen; i++) {
			uint16_t kh = ref_bf16(rndf(f)), vh = ref_bf16(rndf(f));

			kp[(tab[t / block] * block + t % block) * rowlen + i] = kh;
			vp[(tab[t / block] * block + t % block) * rowlen + i] = vh;
			kc[t * rowlen + i] = from_bf16(kh);
			vc[t * rowlen + i] = from_bf16(vh);
		}
	for (i = 0; i < rowlen; i++) {
		k[i] = rndf(f) * 3;
		v[i] = rndf(f) * 3;
		kc[4 * rowlen + i] = from_bf16(ref_bf16(k[i]));
		vc[4 * rowlen + i] = from_bf16(ref_bf16(v[i]));
	}
	for (i = 0; i < H * hs; i++)
		q[i] = rndf(f);
	for (h = 0; h < H; h++)
		ref_head(q + h * hs, kc + h / (H / G) * hs, vc + h / (H / G) * hs, rowlen, hs, 5,
			 want + h * hs);
	args[0] = alloc_in(self, true, sizeof(k));
	args[1] = alloc_in(self, true, sizeof(v));
	args[2] = alloc_in(self, true, sizeof(kp));
	args[3] = alloc_in(self, false, sizeof(vp));
	args[4] = alloc_in(self, true, 8);
	args[5] = alloc_in(self, true, sizeof(tab));
	host_write(f, CTX, args[0], k, sizeof(k));
	host_write(f, CTX, args[1], v, sizeof(v));
	host_write(f, CTX, args[2], kp, sizeof(kp));
	host_write(f, CTX, args[3], vp, sizeof(vp));
	host_write(f, CTX, args[4], &pos, 4);
	host_write(f, CTX, args[4] + 4, &lens, 4);
	host_write(f, CTX, args[5], tab, sizeof(tab));
	{
		uint64_t qva = alloc_in(self, true, sizeof(q)), ova = alloc_in(self, true, sizeof(q));

		host_write(f, CTX, qva, q, sizeof(q));
		p.code[0] = paged(JAL_OP_PAGED_KV_STORE, 0, hs, G, 1, cap, 0, block, pool);
		p.code[1] = i_li(0, ova);
		p.code[2] = i_li(1, qva);
		p.code[3] = i_addi(4, 4, 4);	/* the lengths array */
		p.code[4] = paged(JAL_OP_PAGED_ATTENTION, H, hs, G, 1, cap, 0, block, pool);
		ASSERT_EQ(JAL_STATUS_OK, run_kernel(f, p.code, 5, args, 6).status);
		host_read(f, CTX, ova, got, sizeof(got));
	}
	for (i = 0; i < H * hs; i++)
		bad += f2u(got[i]) != f2u(want[i]);
	EXPECT_EQ(0, bad);
}

/* ---- validation -------------------------------------------------------- */

TEST_F(kvbf16, bad_dtypes_alignment_and_pools_are_rejected)
{
	struct fake *f = self->f;
	const uint32_t hs = 8, G = 2, block = 4, pool = 3;
	uint32_t tab[2] = { 0, 1 }, len = 6;
	uint64_t args[6];
	struct jal_insn base = paged(JAL_OP_PAGED_ATTENTION, 4, hs, G, 1, 2, 0, block, pool), in;
	size_t poolb = (size_t)pool * block * G * hs * 2;
	uint16_t *zero = calloc(poolb, 1);

	args[0] = alloc_in(self, true, 4 * hs * 4);
	args[1] = alloc_in(self, true, 4 * hs * 4);
	args[2] = alloc_in(self, true, poolb);
	args[3] = alloc_in(self, true, poolb);
	args[4] = alloc_in(self, true, 4);
	args[5] = alloc_in(self, true, sizeof(tab));
	host_write(f, CTX, args[1], zero, 4 * hs * 4);
	host_write(f, CTX, args[2], zero, poolb);
	host_write(f, CTX, args[3], zero, poolb);
	host_write(f, CTX, args[4], &len, 4);
	host_write(f, CTX, args[5], tab, sizeof(tab));
	ASSERT_EQ(JAL_STATUS_OK, run1(f, base, args, 6));
	/* The pools' dtype is F32 or BF16 only. */
	in = base;
	in.dtype = JAL_DTYPE_Q8;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	in.dtype = JAL_DTYPE_S24;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	in.dtype = 200;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	in = paged(JAL_OP_PAGED_KV_STORE, 0, hs, G, 1, 2, 0, block, pool);
	in.dtype = JAL_DTYPE_Q8;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	/* ATTENTION's contiguous cache stays f32. */
	in = i_op(JAL_OP_ATTENTION);
	in.dtype = JAL_DTYPE_BF16;
	in.r[1] = 1;
	in.r[2] = 2;
	in.r[3] = 3;
	in.dim[0] = 2;
	in.dim[1] = 8;
	in.dim[2] = 1;
	in.dim[3] = 1;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	/* A bf16 pool at an odd address. */
	args[2] += 1;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, base, args, 6));
	args[2] -= 1;
	/* A pool 2-byte aligned but not 4-byte aligned is fine for bf16. */
	args[3] += 2;
	EXPECT_EQ(JAL_STATUS_OK, run1(f, base, args, 6));
	args[3] -= 2;
	/* Table entry outside the pool, pool in unmapped memory. */
	in = base;
	in.imm[3] = 1;
	EXPECT_EQ(JAL_STATUS_BAD_INSN, run1(f, in, args, 6));
	args[2] = 0x7000000000ull;
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run1(f, base, args, 6));
	in = paged(JAL_OP_PAGED_KV_STORE, 0, hs, G, 1, 2, 0, block, pool);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, run1(f, in, args, 6));
	free(zero);
}

TEST_HARNESS_MAIN
