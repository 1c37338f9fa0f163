// SPDX-License-Identifier: MIT
/*
 * Batches with a bf16 KV cache (jalrt_llm_batch_options.kv_dtype =
 * JAL_DTYPE_BF16) on the chip model (sim_backend.c):
 *
 * - every sampling row's logits equal, bit for bit, the CPU reference's
 *   (reference.c in the chip's summation order with its bf16 KV cache),
 *   and so every greedy token, for f32 and int8 weights, with sequences
 *   prefilled in chunks beside decode rows and joining at different steps;
 *   greedy tokens with the pools in host memory (bounce buffers), and on
 *   aidreams260k when ../shared/models has it;
 * - batch invariance: a sequence's tokens are the same alone and in any
 *   batch, through single steps and the on-chip decode loop;
 * - the cache really is bf16: its logits differ from an f32 cache's, and
 *   a byte budget holds twice the blocks;
 * - any other kv_dtype fails with -EINVAL and a message.
 *
 * Models are seeded random ones written at test time (and aidreams260k).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "jalrt.h"
#include "jalrt_llm.h"
#include "test_device.h"

#include "checkpoint.h"
#include "reference.h"

#define KV_TEST(name)	TEST_F_TIMEOUT(llm_kv, name, 600)
#define MAX_POS		48
#define VOCAB		300
#define NSEQ		5
#define BOS		1

FIXTURE(llm_kv) {
	struct jalrt_device *dev;
	char dir[64];
	char model[PATH_MAX];
};

FIXTURE_SETUP(llm_kv)
{
	/* Odd sizes, grouped KV heads, its own classifier. */
	struct llm_config cfg = {
		.dim = 96, .hidden_dim = 196, .n_layers = 3, .n_heads = 6, .n_kv_heads = 2,
		.vocab_size = VOCAB, .seq_len = MAX_POS, .shared_classifier = false,
	};

	self->dir[0] = 0;
	ASSERT_EQ(0, test_device_open(&self->dev)) TH_LOG("%s", jalrt_last_error_message());
	snprintf(self->dir, sizeof(self->dir), "/tmp/jalrt-kv.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->model, sizeof(self->model), "%s/gen.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(self->model, &cfg, 11));
}

FIXTURE_TEARDOWN(llm_kv)
{
	if (self->dir[0]) {
		unlink(self->model);
		rmdir(self->dir);
	}
	jalrt_device_close(self->dev);
}

static struct jalrt_llm *load(struct __test_metadata *_metadata, struct jalrt_device *dev,
			      const char *path, unsigned int precision)
{
	struct jalrt_llm_options o = { .precision = precision };
	struct jalrt_llm *llm = NULL;

	EXPECT_EQ(0, jalrt_llm_load(dev, path, NULL, &o, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	return llm;
}

/* Sequence i's prompt: BOS and i + 2 tokens of its own. */
static int prompt_of(int i, int *p)
{
	int n = i + 3, j;

	p[0] = BOS;
	for (j = 1; j < n; j++)
		p[j] = (i * 37 + j * 11) % (VOCAB - 3) + 3;
	return n;
}

/*
 * What the reference says sequence @i does greedily over @positions
 * positions with a bf16 (or f32) cache: tokens[p] the token at p,
 * logits[p] the logits of p.
 */
struct ref_seq {
	int n_prompt;
	int tokens[MAX_POS + 1];
	float logits[MAX_POS][VOCAB];
};

static void ref_seq_run(struct __test_metadata *_metadata, const char *model,
			enum llm_ref_precision precision, enum llm_ref_kv kv, int i,
			int positions, struct ref_seq *r)
{
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *ref = NULL;
	float *logits;
	int pos;

	ASSERT_EQ(0, llm_checkpoint_open(model, &ck));
	ASSERT_EQ(0, llm_ref_create(ck, &ref));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	ASSERT_EQ(0, llm_ref_set_precision(ref, precision, 0));
	ASSERT_EQ(0, llm_ref_set_kv(ref, kv));
	r->n_prompt = prompt_of(i, r->tokens);
	for (pos = 0; pos < positions; pos++) {
		ASSERT_EQ(0, llm_ref_forward(ref, r->tokens[pos], pos, &logits));
		memcpy(r->logits[pos], logits, sizeof(r->logits[pos]));
		if (pos + 1 >= r->n_prompt)
			r->tokens[pos + 1] = llm_sample_argmax(logits, VOCAB);
	}
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
}

/*
 * Run sequences [0, n) greedily in one batch of @kv_dtype: sequence i
 * joins at step @join[i], prefills its prompt in chunks of up to @chunk
 * rows beside the others' decode rows, and stops at @positions. Rows of
 * different sequences alternate. got[i] gets the tokens, and with
 * @logits the logits of each sampling row.
 */
struct run {
	int tokens[MAX_POS + 1];
	float logits[MAX_POS][VOCAB];
	int len;
	struct jalrt_llm_seq *seq;
};

static void batch_run(struct __test_metadata *_metadata, struct jalrt_llm *llm,
		      unsigned int kv_dtype, int n, const int *join, int chunk, int positions,
		      struct run *got)
{
	struct jalrt_llm_batch_options o = {
		.max_seqs = NSEQ, .max_rows = 16, .block_size = 4, .kv_dtype = kv_dtype,
		.flags = JALRT_LLM_BATCH_LOGITS,
	};
	struct jalrt_llm_batch_row rows[16];
	struct jalrt_llm_batch *b = NULL;
	int out[16], which[16], n_prompt[NSEQ], step, i, r, done = 0;

	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	for (i = 0; i < n; i++) {
		got[i].len = 0;
		got[i].seq = NULL;
		n_prompt[i] = prompt_of(i, got[i].tokens);
	}
	for (step = 0; done < n; step++) {
		int nr = 0, more = 1;

		ASSERT_LT(step, 400);
		/* Round robin: one row per sequence per pass, up to @chunk each. */
		for (int pass = 0; more && pass < chunk; pass++) {
			more = 0;
			for (i = 0; i < n && nr < 16; i++) {
				struct run *s = &got[i];
				int pos = s->len + pass;

				if (join[i] > step || s->len >= positions)
					continue;
				if (!s->seq)
					ASSERT_EQ(0, jalrt_llm_seq_create(b, &s->seq));
				/* Decode rows are one a step; prompt rows up to @chunk. */
				if (pos >= positions || (pass && pos >= n_prompt[i]))
					continue;
				memset(&rows[nr], 0, sizeof(rows[nr]));
				rows[nr].seq = s->seq;
				rows[nr].pos = pos;
				rows[nr].token = s->tokens[pos];
				rows[nr].sample = pos + 1 >= n_prompt[i];
				which[nr++] = i;
				more = 1;
			}
		}
		if (!nr)
			continue;
		ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, nr, out))
			TH_LOG("%s", jalrt_last_error_message());
		for (r = 0; r < nr; r++) {
			struct run *s = &got[which[r]];

			if (rows[r].sample) {
				s->tokens[rows[r].pos + 1] = out[r];
				ASSERT_EQ(0, jalrt_llm_batch_logits(b, r, s->logits[rows[r].pos]));
			}
			s->len = rows[r].pos + 1;
			if (s->len == positions) {
				ASSERT_EQ(0, jalrt_llm_seq_free(b, s->seq));
				done++;
			}
		}
	}
	jalrt_llm_batch_destroy(b);
}

static void check_against_reference(struct __test_metadata *_metadata, FIXTURE_DATA(llm_kv) *self,
				    unsigned int precision, enum llm_ref_precision ref_precision)
{
	static const int together[NSEQ] = { 0, 0, 0, 0, 0 };
	static const int staggered[NSEQ] = { 0, 3, 4, 9, 17 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, precision);
	struct ref_seq *want = calloc(NSEQ, sizeof(*want));
	struct run *a = calloc(NSEQ, sizeof(*a)), *c = calloc(NSEQ, sizeof(*c));
	struct run *alone = calloc(1, sizeof(*alone));
	int i, pos, bad = 0;

	ASSERT_NE(NULL, llm);
	batch_run(_metadata, llm, JAL_DTYPE_BF16, NSEQ, together, 16, MAX_POS, a);
	batch_run(_metadata, llm, JAL_DTYPE_BF16, NSEQ, staggered, 2, MAX_POS, c);
	for (i = 0; i < NSEQ; i++) {
		ref_seq_run(_metadata, self->model, ref_precision, LLM_REF_KV_BF16, i, MAX_POS,
			    &want[i]);
		for (pos = want[i].n_prompt - 1; pos < MAX_POS; pos++) {
			bad += memcmp(a[i].logits[pos], want[i].logits[pos], VOCAB * 4) != 0;
			bad += memcmp(c[i].logits[pos], want[i].logits[pos], VOCAB * 4) != 0;
		}
		EXPECT_EQ(0, memcmp(a[i].tokens, want[i].tokens, sizeof(int) * (MAX_POS + 1)))
			TH_LOG("sequence %d: batch tokens differ from the reference's", i);
		EXPECT_EQ(0, memcmp(c[i].tokens, want[i].tokens, sizeof(int) * (MAX_POS + 1)))
			TH_LOG("sequence %d: staggered batch tokens differ from the reference's", i);
	}
	EXPECT_EQ(0, bad) TH_LOG("%d positions' logits differ from the reference's", bad);
	/* The last sequence alone in its batch. */
	{
		int join[NSEQ] = { 0 };

		batch_run(_metadata, llm, JAL_DTYPE_BF16, 1, join, 3, MAX_POS, alone);
		EXPECT_EQ(0, memcmp(alone->tokens, a[0].tokens, sizeof(int) * (MAX_POS + 1)));
	}
	free(want);
	free(a);
	free(c);
	free(alone);
	jalrt_llm_destroy(llm);
}

KV_TEST(f32_weights_bf16_cache_rows_equal_the_reference)
{
	check_against_reference(_metadata, self, JALRT_PRECISION_F32, LLM_REF_PRECISION_F32);
}

KV_TEST(int8_weights_bf16_cache_rows_equal_the_reference)
{
	check_against_reference(_metadata, self, JALRT_PRECISION_INT8, LLM_REF_PRECISION_INT8);
}

/*
 * The cache is rounded: an f32 cache gives other logits (the reference
 * agrees on both), and the f32 batch still equals the f32 reference.
 */
KV_TEST(bf16_cache_differs_from_f32_cache)
{
	static const int join[NSEQ] = { 0, 1, 2, 3, 4 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct run *f = calloc(NSEQ, sizeof(*f)), *h = calloc(NSEQ, sizeof(*h));
	struct ref_seq *want = calloc(1, sizeof(*want));
	int pos, differ = 0;

	ASSERT_NE(NULL, llm);
	batch_run(_metadata, llm, JAL_DTYPE_F32, 2, join, 4, MAX_POS, f);
	batch_run(_metadata, llm, JAL_DTYPE_BF16, 2, join, 4, MAX_POS, h);
	ref_seq_run(_metadata, self->model, LLM_REF_PRECISION_F32, LLM_REF_KV_F32, 1, MAX_POS,
		    want);
	for (pos = want->n_prompt - 1; pos < MAX_POS; pos++) {
		EXPECT_EQ(0, memcmp(f[1].logits[pos], want->logits[pos], VOCAB * 4))
			TH_LOG("f32 cache, position %d", pos);
		differ += memcmp(f[1].logits[pos], h[1].logits[pos], VOCAB * 4) != 0;
	}
	EXPECT_LT(0, differ);
	free(f);
	free(h);
	free(want);
	jalrt_llm_destroy(llm);
}

/* The on-chip decode loop with a bf16 cache gives the steps' tokens. */
KV_TEST(decode_loop_with_bf16_cache_equals_steps)
{
	struct jalrt_llm_batch_options o = {
		.max_seqs = 3, .max_rows = 16, .block_size = 4, .kv_dtype = JAL_DTYPE_BF16,
	};
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct ref_seq *want = calloc(3, sizeof(*want));
	struct jalrt_llm_batch_row rows[16];
	struct jalrt_llm_seq *seq[3];
	struct jalrt_llm_batch *b;
	int out[16 * 8], i, k, nr = 0, steps = 8, first[3];

	ASSERT_NE(NULL, llm);
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	for (i = 0; i < 3; i++) {
		ref_seq_run(_metadata, self->model, LLM_REF_PRECISION_F32, LLM_REF_KV_BF16, i,
			    MAX_POS, &want[i]);
		ASSERT_EQ(0, jalrt_llm_seq_create(b, &seq[i]));
		for (k = 0; k < want[i].n_prompt; k++) {
			memset(&rows[nr], 0, sizeof(rows[nr]));
			rows[nr].seq = seq[i];
			rows[nr].pos = k;
			rows[nr].token = want[i].tokens[k];
			rows[nr].sample = k + 1 == want[i].n_prompt;
			if (rows[nr].sample)
				first[i] = nr;
			nr++;
		}
	}
	ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, nr, out)) TH_LOG("%s", jalrt_last_error_message());
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(want[i].tokens[want[i].n_prompt], out[first[i]]);
		memset(&rows[i], 0, sizeof(rows[i]));
		rows[i].seq = seq[i];
		rows[i].pos = want[i].n_prompt;
		rows[i].token = out[first[i]];
	}
	ASSERT_EQ(0, jalrt_llm_batch_decode(b, rows, 3, steps, out))
		TH_LOG("%s", jalrt_last_error_message());
	for (k = 0; k < steps; k++)
		for (i = 0; i < 3; i++)
			EXPECT_EQ(want[i].tokens[want[i].n_prompt + 1 + k], out[k * 3 + i])
				TH_LOG("sequence %d, decode step %d", i, k);
	jalrt_llm_batch_destroy(b);
	free(want);
	jalrt_llm_destroy(llm);
}

/* A byte budget holds twice the bf16 blocks; the pools take half the bytes. */
KV_TEST(bf16_cache_holds_twice_the_blocks)
{
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct jalrt_llm_batch_options o = { .max_seqs = 2, .block_size = 8, .kv_bytes = 1 << 20 };
	struct jalrt_llm_batch_info f, h;
	struct jalrt_llm_batch *b;
	/* a block: 8 positions of kv_dim 32, K and V, 3 layers */
	uint64_t f32_block = 2ull * 3 * 8 * 32 * 4;

	ASSERT_NE(NULL, llm);
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b));
	ASSERT_EQ(0, jalrt_llm_batch_query(b, &f));
	jalrt_llm_batch_destroy(b);
	o.kv_dtype = JAL_DTYPE_BF16;
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_batch_query(b, &h));
	jalrt_llm_batch_destroy(b);
	EXPECT_EQ(JAL_DTYPE_F32, f.kv_dtype);
	EXPECT_EQ(JAL_DTYPE_BF16, h.kv_dtype);
	EXPECT_EQ((1u << 20) / f32_block, f.blocks);
	EXPECT_EQ((1u << 20) / (f32_block / 2), h.blocks);
	EXPECT_EQ(f.blocks * f32_block, f.kv_bytes);
	EXPECT_EQ(h.blocks * f32_block / 2, h.kv_bytes);
	/* The same number of blocks in half the bytes. */
	o.kv_bytes = 0;
	o.kv_blocks = 10;
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b));
	ASSERT_EQ(0, jalrt_llm_batch_query(b, &h));
	EXPECT_EQ(10, h.blocks);
	EXPECT_EQ(10 * f32_block / 2, h.kv_bytes);
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
}

/*
 * Greedy tokens of @n sequences over @positions positions, one decode
 * row each per step after a prefill step of all prompts (any model:
 * tokens only), against the reference's with its bf16 cache.
 */
static void tokens_equal_reference(struct __test_metadata *_metadata, struct jalrt_device *dev,
				   const char *path, uint32_t flags, int n, int positions)
{
	struct jalrt_llm_options lo = { .precision = JALRT_PRECISION_F32, .flags = flags };
	struct jalrt_llm_batch_options o = {
		.max_seqs = (unsigned int)n, .max_rows = 64, .kv_dtype = JAL_DTYPE_BF16,
	};
	struct jalrt_llm_batch_row rows[64];
	struct jalrt_llm_seq *seq[8];
	struct jalrt_llm_batch *b = NULL;
	struct jalrt_llm *llm = NULL;
	struct llm_checkpoint *ck = NULL;
	struct jalrt_llm_info info;
	int *want, *got, out[64], i, pos, nr, vocab, diff = 0;
	struct llm_ref *ref = NULL;
	float *logits;

	ASSERT_LE(n, 8);
	ASSERT_EQ(0, jalrt_llm_load(dev, path, NULL, &lo, &llm)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_query(llm, &info));
	vocab = info.vocab_size;
	ASSERT_LE(positions, info.seq_len);
	want = calloc((size_t)n * (positions + 1), sizeof(int));
	got = calloc((size_t)n * (positions + 1), sizeof(int));
	/* prompts: BOS and i + 2 tokens */
	for (i = 0; i < n; i++) {
		want[i * (positions + 1)] = got[i * (positions + 1)] = BOS;
		for (pos = 1; pos < i + 3; pos++)
			want[i * (positions + 1) + pos] = got[i * (positions + 1) + pos] =
				(i * 37 + pos * 11) % (vocab - 3) + 3;
	}
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	for (i = 0; i < n; i++) {
		int *t = want + i * (positions + 1);

		ASSERT_EQ(0, llm_ref_create(ck, &ref));
		ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
		ASSERT_EQ(0, llm_ref_set_kv(ref, LLM_REF_KV_BF16));
		for (pos = 0; pos < positions; pos++) {
			ASSERT_EQ(0, llm_ref_forward(ref, t[pos], pos, &logits));
			if (pos + 1 >= i + 3)
				t[pos + 1] = llm_sample_argmax(logits, vocab);
		}
		llm_ref_destroy(ref);
	}
	llm_checkpoint_close(ck);

	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	/* the prompts in one step, then one decode row per sequence a step */
	for (i = 0, nr = 0; i < n; i++) {
		ASSERT_EQ(0, jalrt_llm_seq_create(b, &seq[i]));
		for (pos = 0; pos < i + 3; pos++, nr++) {
			memset(&rows[nr], 0, sizeof(rows[nr]));
			rows[nr].seq = seq[i];
			rows[nr].pos = pos;
			rows[nr].token = got[i * (positions + 1) + pos];
			rows[nr].sample = pos == i + 2;
		}
	}
	ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, nr, out)) TH_LOG("%s", jalrt_last_error_message());
	for (i = 0, nr = 0; i < n; i++) {
		nr += i + 3;
		got[i * (positions + 1) + i + 3] = out[nr - 1];
	}
	for (pos = 3; pos < positions; pos++) {
		for (i = nr = 0; i < n; i++) {
			if (pos < i + 3)
				continue;
			memset(&rows[nr], 0, sizeof(rows[nr]));
			rows[nr].seq = seq[i];
			rows[nr].pos = pos;
			rows[nr].token = got[i * (positions + 1) + pos];
			rows[nr].sample = true;
			nr++;
		}
		ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, nr, out))
			TH_LOG("%s", jalrt_last_error_message());
		for (i = nr = 0; i < n; i++)
			if (pos >= i + 3)
				got[i * (positions + 1) + pos + 1] = out[nr++];
	}
	for (i = 0; i < n * (positions + 1); i++)
		diff += got[i] != want[i];
	EXPECT_EQ(0, diff) TH_LOG("%d of %d tokens differ from the reference's", diff,
				  n * (positions + 1));
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
	free(want);
	free(got);
}

/* The batch's pools in host memory: the chip reads bf16 through bounce buffers. */
KV_TEST(host_memory_bf16_cache_tokens_equal_the_reference)
{
	tokens_equal_reference(_metadata, self->dev, self->model, JALRT_LLM_HOST_MEMORY, 4,
			       MAX_POS);
}

/* A trained model (aidreams260k, when ../shared/models has it). */
KV_TEST(aidreams_bf16_cache_tokens_equal_the_reference)
{
	char path[PATH_MAX];
	const char *dir = getenv("JAL_MODELS_DIR");

	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/aidreams260k.bin", dir);
	else
		snprintf(path, sizeof(path), "%s/../shared/models/aidreams260k.bin", JAL_REPO_DIR);
	if (access(path, R_OK))
		SKIP(return, "aidreams260k.bin not found (set JAL_MODELS_DIR)");
	tokens_equal_reference(_metadata, self->dev, path, 0, 5, 128);
}

KV_TEST(other_kv_dtypes_fail_with_einval)
{
	static const unsigned int bad[] = { JAL_DTYPE_Q8, JAL_DTYPE_S24, 4, 77, ~0u };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct jalrt_llm_batch_options o = { .max_seqs = 2 };
	struct jalrt_llm_batch *b = (struct jalrt_llm_batch *)&o;
	unsigned int i;

	ASSERT_NE(NULL, llm);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.kv_dtype = bad[i];
		EXPECT_EQ(-EINVAL, jalrt_llm_batch_create(llm, &o, &b));
		EXPECT_EQ(NULL, b);
		EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "bf16"))
			TH_LOG("message: %s", jalrt_last_error_message());
		b = (struct jalrt_llm_batch *)&o;
	}
	jalrt_llm_destroy(llm);
}

TEST_HARNESS_MAIN
