// SPDX-License-Identifier: MIT
/*
 * jalrt_llm_load() of GGUF files on the chip model, run in-process by
 * tests/host/runtime's sim backend (no guest):
 * - a seeded model as .bin and as F32 .gguf gives the same logits on the
 *   chip, bit for bit, and equal to the CPU reference in the chip's order;
 * - the file's RoPE base and RMS epsilon reach the chip's program;
 * - at int8, Q8_0 tensors go to the chip as they are (groups of 32, the
 *   file's scales): the chip's int8 logits equal the reference's int8
 *   products on exactly those values;
 * - the vocabulary of the file is used when no tokenizer is given.
 */
#include <math.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "jalrt.h"
#include "jalrt_llm.h"
#include "sim_backend.h"

#include "gguf-model.h"
#include "quant.h"
#include "reference.h"

LLM_SIM_FIXTURE(chip);

static struct llm_config shape(void)
{
	struct llm_config c = {
		.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
		.vocab_size = 256, .seq_len = 16, .shared_classifier = false,
	};

	return c;
}

#define POS	8

static int forced(int pos)
{
	return pos ? (37 * pos + 11) % 256 : LLM_TOKEN_BOS;
}

/* The chip's logits of POS teacher-forced positions. */
static int chip_logits(struct jalrt_device *dev, const char *path, unsigned int precision,
		       float *out)
{
	struct jalrt_llm_options o = { .precision = precision };
	struct jalrt_llm *llm = NULL;
	int pos, ret;

	ret = jalrt_llm_load(dev, path, NULL, &o, &llm);
	for (pos = 0; !ret && pos < POS; pos++)
		ret = jalrt_llm_forward(llm, forced(pos), pos, out + pos * 256);
	jalrt_llm_destroy(llm);
	return ret;
}

/* The reference's (chip order). */
static int ref_logits(const struct llm_checkpoint *ckpt, bool int8, uint32_t group, float *out)
{
	struct llm_ref *ref;
	float *logits;
	int pos, ret;

	ret = llm_ref_create(ckpt, &ref);
	if (ret)
		return ret;
	llm_ref_set_order(ref, LLM_REF_ORDER_CHIP);
	if (int8)
		ret = llm_ref_set_precision(ref, LLM_REF_PRECISION_INT8, group);
	for (pos = 0; !ret && pos < POS; pos++) {
		ret = llm_ref_forward(ref, forced(pos), pos, &logits);
		if (!ret)
			memcpy(out + pos * 256, logits, 256 * sizeof(float));
	}
	llm_ref_destroy(ref);
	return ret;
}

TEST_F(chip, bin_and_gguf_give_the_same_logits)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL;
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_F32 };
	float a[POS * 256], b[POS * 256], r[POS * 256];
	char bin[128], gg[128];

	snprintf(bin, sizeof(bin), "%s/m.bin", self->dir);
	snprintf(gg, sizeof(gg), "%s/m.gguf", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(bin, &c, 77));
	ASSERT_EQ(0, llm_checkpoint_open(bin, &ck));
	ASSERT_EQ(0, llm_gguf_write_model(gg, ck, &o));
	ASSERT_EQ(0, chip_logits(self->dev, bin, JALRT_PRECISION_F32, a))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, chip_logits(self->dev, gg, JALRT_PRECISION_F32, b))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, ref_logits(ck, false, 0, r));
	EXPECT_EQ(0, memcmp(a, b, sizeof(a)));
	EXPECT_EQ(0, memcmp(a, r, sizeof(a)));
	llm_checkpoint_close(ck);
}

/*
 * jalrt_llm_load() converts a GGUF file tensor by tensor (no f32 copy of
 * the model): F16 tensors, and F32 ones the file leaves unaligned
 * (general.alignment 1), give what the reference computes on the model
 * loaded whole.
 */
TEST_F(chip, tensors_convert_one_by_one)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL, *h = NULL;
	struct llm_gguf_write_opts o16 = { .type = GGML_TYPE_F16 };
	struct llm_gguf_write_opts o1 = { .type = GGML_TYPE_F32, .alignment = 1 };
	float a[POS * 256], r[POS * 256];
	char p16[128], p1[128];
	struct gguf_file *g = NULL;
	bool unaligned = false;

	snprintf(p16, sizeof(p16), "%s/h.gguf", self->dir);
	snprintf(p1, sizeof(p1), "%s/u.gguf", self->dir);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 21, &ck));
	ASSERT_EQ(0, llm_gguf_write_model(p16, ck, &o16));

	ASSERT_EQ(0, llm_checkpoint_open(p16, &h));
	ASSERT_EQ(0, chip_logits(self->dev, p16, JALRT_PRECISION_F32, a))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, ref_logits(h, false, 0, r));
	EXPECT_EQ(0, memcmp(a, r, sizeof(a)));

	/* general.name's length moves the data section off a multiple of 4 */
	for (int k = 1; k <= 4 && !unaligned; k++) {
		static const char *const names[] = { "", "a", "ab", "abc", "abcd" };

		o1.name = names[k];
		ASSERT_EQ(0, llm_gguf_write_model(p1, ck, &o1));
		ASSERT_EQ(0, gguf_open(p1, &g));
		for (uint64_t i = 0; i < g->n_tensors; i++)
			unaligned |= (uintptr_t)g->tensors[i].data % 4 != 0;
		gguf_close(g);
	}
	ASSERT_TRUE(unaligned);
	ASSERT_EQ(0, chip_logits(self->dev, p1, JALRT_PRECISION_F32, a))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, ref_logits(ck, false, 0, r));
	EXPECT_EQ(0, memcmp(a, r, sizeof(a)));
	llm_checkpoint_close(ck);
	llm_checkpoint_close(h);
}

TEST_F(chip, rope_base_and_rms_epsilon_reach_the_chip)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL;
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_F32 };
	float a[POS * 256], b[POS * 256], e[POS * 256];
	char p0[128], p1[128], p2[128];

	snprintf(p0, sizeof(p0), "%s/d.gguf", self->dir);
	snprintf(p1, sizeof(p1), "%s/t.gguf", self->dir);
	snprintf(p2, sizeof(p2), "%s/e.gguf", self->dir);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 5, &ck));
	ASSERT_EQ(0, llm_gguf_write_model(p0, ck, &o));
	ck->config.rope_theta = 1000.0f;
	ASSERT_EQ(0, llm_gguf_write_model(p1, ck, &o));
	ck->config.rope_theta = 10000.0f;
	ck->config.rms_eps = 0.5f;
	ASSERT_EQ(0, llm_gguf_write_model(p2, ck, &o));
	ASSERT_EQ(0, chip_logits(self->dev, p0, JALRT_PRECISION_F32, a));
	ASSERT_EQ(0, chip_logits(self->dev, p1, JALRT_PRECISION_F32, b));
	ASSERT_EQ(0, chip_logits(self->dev, p2, JALRT_PRECISION_F32, e));
	/* position 0: RoPE is the identity there; the base changes only later ones */
	EXPECT_EQ(0, memcmp(a, b, 256 * sizeof(float)));
	EXPECT_NE(0, memcmp(a + 256, b + 256, (POS - 1) * 256 * sizeof(float)));
	/* epsilon changes every position */
	EXPECT_NE(0, memcmp(a, e, 256 * sizeof(float)));
	llm_checkpoint_close(ck);
}

TEST_F(chip, q8_0_weights_go_to_the_chip_as_they_are)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL, *q8 = NULL;
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_Q8_0 };
	struct jalrt_llm_options lo = { .precision = JALRT_PRECISION_INT8 };
	struct jalrt_llm_info info;
	struct jalrt_llm *llm = NULL;
	float a[POS * 256], r[POS * 256];
	char path[128];
	uint64_t n32 = 0;

	ASSERT_EQ(0, llm_checkpoint_random(&c, 11, &ck));
	snprintf(path, sizeof(path), "%s/q.gguf", self->dir);
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &o));
	ASSERT_EQ(0, llm_checkpoint_open(path, &q8));

	/*
	 * Weight bytes at int8: every matrix and the table as int8 values plus
	 * one f32 scale per 32 (the file's groups), not the 64 the int8
	 * precision would choose for rows of 64 and 96 columns.
	 */
	n32 = 2ull * 256 * 64 +					/* embedding + output */
	      2 * (64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 96 * 64);	/* two layers */
	ASSERT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &lo, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_query(llm, &info));
	EXPECT_EQ(n32 + n32 / 32 * 4 + 64 * 4 * 5, info.weight_bytes)
		TH_LOG("weight bytes %llu", (unsigned long long)info.weight_bytes);
	jalrt_llm_destroy(llm);

	/*
	 * The reference's int8 mode with groups of 32 quantises the decoded
	 * Q8_0 values again: max|q * d| / 127 is d again (up to rounding) and
	 * q comes back, so its products are the chip's on the file's values.
	 */
	ASSERT_EQ(0, chip_logits(self->dev, path, JALRT_PRECISION_INT8, a));
	ASSERT_EQ(0, ref_logits(q8, true, 32, r));
	{
		float maxerr = 0.0f, range = 0.0f;

		for (int i = 0; i < POS * 256; i++) {
			maxerr = fmaxf(maxerr, fabsf(a[i] - r[i]));
			range = fmaxf(range, fabsf(r[i]));
		}
		EXPECT_LE(maxerr, range * 1e-5f) TH_LOG("max error %g of %g", maxerr, range);
	}
	llm_checkpoint_close(ck);
	llm_checkpoint_close(q8);
}

TEST_F(chip, the_file_vocabulary_serves_when_no_tokenizer_is_given)
{
	char bin_path[PATH_MAX], tok_path[PATH_MAX], gg[128];
	struct llm_checkpoint *ck = NULL;
	struct llm_tokenizer *tok = NULL;
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_F32 };
	struct jalrt_llm *llm = NULL;
	int ids[32], n;

	LLM_REQUIRE_MODEL(bin_path, "aidreams260k.bin");
	LLM_REQUIRE_MODEL(tok_path, "tok512.bin");
	ASSERT_EQ(0, llm_checkpoint_open(bin_path, &ck));
	ASSERT_EQ(0, llm_tokenizer_open(tok_path, 512, &tok));
	o.tokenizer = tok;
	snprintf(gg, sizeof(gg), "%s/a.gguf", self->dir);
	ASSERT_EQ(0, llm_gguf_write_model(gg, ck, &o));
	ASSERT_EQ(0, jalrt_llm_load(self->dev, gg, NULL, NULL, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	n = jalrt_llm_encode(llm, "I dreamed", true, ids, 32);
	ASSERT_GT(n, 1);
	{
		int want[32], m = llm_tokenizer_encode(tok, "I dreamed", true, false, want, 32);

		ASSERT_EQ(m, n);
		for (int i = 0; i < n; i++)
			EXPECT_EQ(want[i], ids[i]);
	}
	EXPECT_STREQ(llm_tokenizer_decode(tok, ids[1], ids[2]), jalrt_llm_decode(llm, ids[1], ids[2]));
	jalrt_llm_destroy(llm);
	llm_tokenizer_close(tok);
	llm_checkpoint_close(ck);
}

TEST_HARNESS_MAIN
