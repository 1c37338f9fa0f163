// SPDX-License-Identifier: MIT
/*
 * libjalrt's batched steps (jalrt_llm_batch_*) on the chip model
 * (sim_backend.c), against the same model's single-sequence path:
 *
 * - batch invariance: at f32, bf16, int8 and sparse, 1, 2, 7 and 18
 *   sequences with different prompts, scheduled as a continuous-batching
 *   server would (chunked prefill beside decode rows, sequences joining
 *   and leaving between steps, rows of different sequences interleaved in
 *   a different order every step): every sampling row's logits equal
 *   jalrt_llm_forward()'s for its sequence alone and every greedy token
 *   jalrt_llm_generate()'s, bit for bit; also on aidreams260k when
 *   ../shared/models has it;
 * - on-chip sampling with per-row temperature, top-p and rng state gives
 *   jalrt_llm_generate()'s sampled tokens for the same seed;
 * - the block pool: blocks taken as sequences grow and returned when they
 *   are freed, -ENOSPC without side effects, correct results in reused
 *   blocks;
 * - bad arguments fail with -EINVAL and a message, changing nothing.
 *
 * Models are seeded random ones written at test time
 * (llm_checkpoint_write_random(), jalrt-gen-model's generator).
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

#define TEST_TIMEOUT_S		600
#define BATCH_TEST(name)	TEST_F_TIMEOUT(llm_batch, name, TEST_TIMEOUT_S)
#define MAX_SEQS		18
#define MAX_POS			64
#define BOS			1

FIXTURE(llm_batch) {
	struct jalrt_device *dev;
	char dir[64];
	char model[PATH_MAX];
	uint64_t rng;
};

FIXTURE_SETUP(llm_batch)
{
	/* Odd sizes, grouped KV heads, its own classifier (llm_test's shape). */
	struct llm_config cfg = {
		.dim = 96, .hidden_dim = 196, .n_layers = 3, .n_heads = 6, .n_kv_heads = 2,
		.vocab_size = 300, .seq_len = MAX_POS, .shared_classifier = false,
	};

	self->dir[0] = 0;
	ASSERT_EQ(0, test_device_open(&self->dev)) TH_LOG("%s", jalrt_last_error_message());
	snprintf(self->dir, sizeof(self->dir), "/tmp/jalrt-batch.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->model, sizeof(self->model), "%s/gen.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(self->model, &cfg, 7));
	self->rng = 0x9e3779b97f4a7c15ull;
}

FIXTURE_TEARDOWN(llm_batch)
{
	if (self->dir[0]) {
		unlink(self->model);
		rmdir(self->dir);
	}
	jalrt_device_close(self->dev);
}

static unsigned int rnd(FIXTURE_DATA(llm_batch) *self, unsigned int n)
{
	self->rng ^= self->rng << 13;
	self->rng ^= self->rng >> 7;
	self->rng ^= self->rng << 17;
	return (unsigned int)((self->rng >> 11) % n);
}

static struct jalrt_llm *load_flags(struct __test_metadata *_metadata, struct jalrt_device *dev,
				    const char *path, unsigned int precision, uint32_t flags)
{
	struct jalrt_llm_options o = { .precision = precision, .flags = flags };
	struct jalrt_llm *llm = NULL;

	EXPECT_EQ(0, jalrt_llm_load(dev, path, NULL, &o, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	return llm;
}

static struct jalrt_llm *load(struct __test_metadata *_metadata, struct jalrt_device *dev,
			      const char *path, unsigned int precision)
{
	return load_flags(_metadata, dev, path, precision, 0);
}

/* ---- one sequence alone: the single-sequence path's answers -------------- */

/*
 * A sequence and what jalrt_llm_generate() / _forward() give for it:
 * tokens[p] is the token at position p (the prompt's, then generated
 * ones) and tokens[positions] the one after the last (BOS if the model
 * ended its text there); logits[p] those of position p.
 */
struct ref_seq {
	int n_prompt;
	int positions;
	int tokens[MAX_POS + 1];
	float temperature, topp;
	uint64_t seed;
	float *logits;
};

static int collect(void *opaque, int prev, int token, int pos)
{
	struct ref_seq *r = opaque;

	(void)prev;
	if (pos <= MAX_POS)
		r->tokens[pos] = token;
	return 0;
}

/* Generate @r (prompt in tokens[], @steps positions) alone; logits if @vocab. */
static void ref_run(struct __test_metadata *_metadata, struct jalrt_llm *llm, struct ref_seq *r,
		    int steps, int vocab)
{
	struct jalrt_llm_generate_params p = {
		.prompt = r->tokens, .n_prompt = r->n_prompt, .steps = steps,
		.temperature = r->temperature, .topp = r->topp, .seed = r->seed,
		.on_token = collect, .opaque = r,
	};
	struct jalrt_llm_stats st;
	int prompt[MAX_POS], pos;

	memcpy(prompt, r->tokens, sizeof(prompt));
	p.prompt = prompt;
	ASSERT_EQ(0, jalrt_llm_generate(llm, &p, &st)) TH_LOG("%s", jalrt_last_error_message());
	r->positions = st.positions;
	if (st.stopped_at_bos)
		r->tokens[r->positions] = BOS;
	if (!vocab)
		return;
	r->logits = malloc((size_t)r->positions * vocab * sizeof(float));
	ASSERT_NE(NULL, r->logits);
	for (pos = 0; pos < r->positions; pos++)
		ASSERT_EQ(0, jalrt_llm_forward(llm, r->tokens[pos], pos,
					       r->logits + (size_t)pos * vocab))
			TH_LOG("%s", jalrt_last_error_message());
}

/* @n sequences with prompts of different lengths of random tokens. */
static struct ref_seq *make_refs(struct __test_metadata *_metadata, FIXTURE_DATA(llm_batch) *self,
				 struct jalrt_llm *llm, int n, int vocab, int seq_len,
				 bool logits)
{
	struct ref_seq *refs = calloc((size_t)n, sizeof(*refs));
	int i, k;

	if (!refs)
		return NULL;
	for (i = 0; i < n; i++) {
		struct ref_seq *r = &refs[i];
		int gen = 4 + (int)rnd(self, 12);

		r->n_prompt = 1 + (int)rnd(self, 14);
		r->tokens[0] = BOS;
		for (k = 1; k < r->n_prompt; k++)
			r->tokens[k] = 2 + (int)rnd(self, (unsigned int)vocab - 2);
		r->topp = 0.9f;
		r->seed = 1;
		ref_run(_metadata, llm, r, r->n_prompt + gen < seq_len ? r->n_prompt + gen : seq_len,
			logits ? vocab : 0);
	}
	return refs;
}

static void free_refs(struct ref_seq *refs, int n)
{
	int i;

	for (i = 0; refs && i < n; i++)
		free(refs[i].logits);
	free(refs);
}

/* ---- a continuous-batching scheduler, in miniature ----------------------- */

struct sched_seq {
	struct ref_seq *ref;
	struct jalrt_llm_seq *seq;
	int pos;		/* next position */
	uint64_t rng;
	bool done;
};

struct sched {
	struct jalrt_llm *llm;
	struct jalrt_llm_batch *batch;
	struct sched_seq seqs[MAX_SEQS];
	int n, joined, vocab;
	unsigned int max_live, max_rows, chunk;
	bool all_rows_logits;	/* prefill rows sample too, on alternate positions */
	int steps, compared_logits, compared_tokens;
	unsigned int max_step_rows;
};

/* Rows @s's next step would give sequence @i (prefill: a chunk). */
static int rows_wanted(const struct sched *s, int i, int step)
{
	const struct sched_seq *q = &s->seqs[i];
	int left = q->ref->n_prompt - q->pos;

	if (left <= 1)
		return 1;
	/* chunks of 1..chunk positions, varying by step and sequence */
	left = left < (int)s->chunk ? left : (int)s->chunk;
	return 1 + (step + i) % left;
}

static void make_row(const struct sched *s, struct sched_seq *q, int pos,
		     struct jalrt_llm_batch_row *row)
{
	const struct ref_seq *r = q->ref;

	memset(row, 0, sizeof(*row));
	row->seq = q->seq;
	row->pos = pos;
	row->token = r->tokens[pos];
	/* the last prompt position and decode positions pick the next token */
	row->sample = pos >= r->n_prompt - 1 || (s->all_rows_logits && pos % 2 == 0);
	row->temperature = pos >= r->n_prompt - 1 ? r->temperature : 0.0f;
	row->topp = r->topp;
	row->rng = q->rng;
}

/*
 * One step's rows: decode rows first, then prefill chunks while the row
 * budget lasts; the sequences' rows merged in a random order (each
 * sequence's own rows stay in position order).
 */
static int plan_step(FIXTURE_DATA(llm_batch) *self, struct sched *s, int step,
		     struct jalrt_llm_batch_row *rows)
{
	int want[MAX_SEQS] = { 0 }, made[MAX_SEQS] = { 0 }, left = 0, budget = (int)s->max_rows;
	int pass, i, n = 0;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < s->joined; i++) {
			const struct sched_seq *q = &s->seqs[i];
			bool decode = q->pos >= q->ref->n_prompt - 1;
			int w;

			if (q->done || decode != (pass == 0))
				continue;
			w = rows_wanted(s, i, step);
			w = w < budget ? w : budget;
			want[i] = w;
			budget -= w;
			left += w;
		}
	}
	while (left) {
		unsigned int pick = rnd(self, (unsigned int)left);

		for (i = 0; i < s->joined; i++) {
			if (pick < (unsigned int)(want[i] - made[i]))
				break;
			pick -= (unsigned int)(want[i] - made[i]);
		}
		make_row(s, &s->seqs[i], s->seqs[i].pos + made[i], &rows[n++]);
		made[i]++;
		left--;
	}
	return n;
}

static unsigned int live(const struct sched *s)
{
	unsigned int n = 0;
	int i;

	for (i = 0; i < s->joined; i++)
		n += !s->seqs[i].done;
	return n;
}

/* Every sampling row's token and logits against its sequence alone. */
static void check_step(struct __test_metadata *_metadata, struct sched *s,
		       const struct jalrt_llm_batch_row *rows, const int *out, int n, bool logits)
{
	float *got = malloc((size_t)s->vocab * sizeof(float));
	int i;

	ASSERT_NE(NULL, got);
	for (i = 0; i < n; i++) {
		const struct jalrt_llm_batch_row *row = &rows[i];
		const struct ref_seq *r = NULL;
		int k, which = -1;

		for (k = 0; k < s->joined; k++)
			if (s->seqs[k].seq == row->seq && !s->seqs[k].done)
				which = k;
		ASSERT_LE(0, which);
		r = s->seqs[which].ref;
		if (!row->sample) {
			EXPECT_EQ(-1, out[i]);
			continue;
		}
		if (logits && r->logits) {
			ASSERT_EQ(0, jalrt_llm_batch_logits(s->batch, i, got))
				TH_LOG("%s", jalrt_last_error_message());
			EXPECT_EQ(0, memcmp(got, r->logits + (size_t)row->pos * s->vocab,
					    (size_t)s->vocab * sizeof(float)))
				TH_LOG("step %d row %d (position %d of sequence %d): logits differ",
				       s->steps, i, row->pos, which);
			s->compared_logits++;
		}
		if (row->pos >= r->n_prompt - 1) {
			EXPECT_EQ(r->tokens[row->pos + 1], out[i])
				TH_LOG("step %d row %d: position %d", s->steps, i, row->pos);
			s->compared_tokens++;
		}
	}
	free(got);
}

/* Positions forward, rng states back, finished sequences leave. */
static void advance(struct __test_metadata *_metadata, struct sched *s,
		    const struct jalrt_llm_batch_row *rows, int n)
{
	int i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < s->joined; k++) {
			struct sched_seq *q = &s->seqs[k];

			if (q->seq != rows[i].seq || q->done)
				continue;
			q->pos++;
			if (rows[i].sample && rows[i].pos >= q->ref->n_prompt - 1)
				q->rng = rows[i].rng;
			break;
		}
	}
	for (k = 0; k < s->joined; k++) {
		struct sched_seq *q = &s->seqs[k];

		if (q->done || q->pos < q->ref->positions)
			continue;
		EXPECT_EQ(q->pos, jalrt_llm_seq_length(s->batch, q->seq));
		ASSERT_EQ(0, jalrt_llm_seq_free(s->batch, q->seq));
		q->done = true;
	}
}

/* Run every sequence of @refs to its end through the batch. */
static void run_sched(struct __test_metadata *_metadata, FIXTURE_DATA(llm_batch) *self,
		      struct sched *s, struct ref_seq *refs, int n)
{
	struct jalrt_llm_batch_row *rows = calloc(s->max_rows, sizeof(*rows));
	int *out = calloc(s->max_rows, sizeof(*out));
	struct jalrt_llm_batch_info info;
	int step, nr;

	ASSERT_TRUE(rows && out);
	s->n = n;
	for (step = 0; s->joined < n || live(s); step++) {
		int joins = 0;

		/* join: up to max_live, up to 3 new sequences every other step */
		while (s->joined < n && live(s) < s->max_live && joins < 3 &&
		       (step % 2 == 0 || !live(s))) {
			struct sched_seq *q = &s->seqs[s->joined];

			q->ref = &refs[s->joined];
			q->rng = q->ref->seed;
			ASSERT_EQ(0, jalrt_llm_seq_create(s->batch, &q->seq))
				TH_LOG("%s", jalrt_last_error_message());
			s->joined++;
			joins++;
		}
		nr = plan_step(self, s, step, rows);
		ASSERT_LT(0, nr);
		ASSERT_EQ(0, jalrt_llm_batch_step(s->batch, rows, nr, out))
			TH_LOG("step %d: %s", step, jalrt_last_error_message());
		s->max_step_rows = s->max_step_rows > (unsigned int)nr ? s->max_step_rows :
				   (unsigned int)nr;
		check_step(_metadata, s, rows, out, nr, true);
		advance(_metadata, s, rows, nr);
		s->steps++;
	}
	ASSERT_EQ(0, jalrt_llm_batch_query(s->batch, &info));
	EXPECT_EQ(0u, info.live_seqs);
	EXPECT_EQ(0u, info.used_blocks);
	EXPECT_EQ(info.blocks, info.free_blocks);
	free(rows);
	free(out);
}

/*
 * @n sequences at @precision through a batch of at most @max_live at once,
 * every sampling row's logits and token against the sequence alone.
 */
static void batch_equals_alone_flags(struct __test_metadata *_metadata,
				     FIXTURE_DATA(llm_batch) *self, const char *path,
				     unsigned int precision, int n, unsigned int max_live,
				     uint32_t flags)
{
	struct jalrt_llm_batch_options o = {
		.max_seqs = max_live, .max_rows = 4 * max_live + 4, .block_size = 4,
		.flags = JALRT_LLM_BATCH_LOGITS,
	};
	struct jalrt_llm *llm = load_flags(_metadata, self->dev, path, precision, flags);
	struct sched *s = calloc(1, sizeof(*s));
	struct jalrt_llm_batch_info bi;
	struct jalrt_llm_info mi;
	struct ref_seq *refs;

	ASSERT_NE(NULL, llm);
	ASSERT_NE(NULL, s);
	ASSERT_EQ(0, jalrt_llm_query(llm, &mi));
	refs = make_refs(_metadata, self, llm, n, mi.vocab_size, mi.seq_len < MAX_POS ?
			 mi.seq_len : MAX_POS, true);
	ASSERT_NE(NULL, refs);
	s->llm = llm;
	s->vocab = mi.vocab_size;
	s->max_live = max_live;
	s->max_rows = o.max_rows;
	s->chunk = 8;
	s->all_rows_logits = true;
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &s->batch))
		TH_LOG("%s", jalrt_last_error_message());
	run_sched(_metadata, self, s, refs, n);
	ASSERT_EQ(0, jalrt_llm_batch_query(s->batch, &bi));
	EXPECT_EQ(mi.in_vram, bi.in_vram);
	TH_LOG("%s, %d sequences (%u at once): %d steps of up to %u rows, %d logits and %d tokens equal (%s memory)",
	       jalrt_precision_name(precision), n, max_live, s->steps, s->max_step_rows,
	       s->compared_logits, s->compared_tokens, bi.in_vram ? "device" : "host");
	EXPECT_LT(0, s->compared_logits);
	EXPECT_LT(0, s->compared_tokens);
	jalrt_llm_batch_destroy(s->batch);
	free_refs(refs, n);
	free(s);
	jalrt_llm_destroy(llm);
}

static void batch_equals_alone(struct __test_metadata *_metadata, FIXTURE_DATA(llm_batch) *self,
			       const char *path, unsigned int precision, int n,
			       unsigned int max_live)
{
	batch_equals_alone_flags(_metadata, self, path, precision, n, max_live, 0);
}

static void all_sizes(struct __test_metadata *_metadata, FIXTURE_DATA(llm_batch) *self,
		      unsigned int precision)
{
	static const struct { int n; unsigned int max_live; } sizes[] = {
		{ 1, 1 }, { 2, 2 }, { 7, 4 }, { 18, 16 },
	};
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		batch_equals_alone(_metadata, self, self->model, precision, sizes[i].n,
				   sizes[i].max_live);
}

BATCH_TEST(f32_every_row_equals_its_sequence_alone)
{
	all_sizes(_metadata, self, JALRT_PRECISION_F32);
}

BATCH_TEST(bf16_every_row_equals_its_sequence_alone)
{
	all_sizes(_metadata, self, JALRT_PRECISION_BF16);
}

BATCH_TEST(int8_every_row_equals_its_sequence_alone)
{
	all_sizes(_metadata, self, JALRT_PRECISION_INT8);
}

BATCH_TEST(sparse_every_row_equals_its_sequence_alone)
{
	all_sizes(_metadata, self, JALRT_PRECISION_SPARSE);
}

/*
 * Q4 MATMULs over prompt chunks and rows of other sequences (dim 96: three
 * groups of 32; w2's 196 columns fall back to int8): batch invariance.
 */
BATCH_TEST(int4_every_row_equals_its_sequence_alone)
{
	all_sizes(_metadata, self, JALRT_PRECISION_INT4);
}

/* The model in host memory: the batch's pools and activations too. */
BATCH_TEST(host_memory_rows_equal_their_sequence_alone)
{
	batch_equals_alone_flags(_metadata, self, self->model, JALRT_PRECISION_INT8, 7, 4,
				 JALRT_LLM_HOST_MEMORY);
}

BATCH_TEST(aidreams_every_row_equals_its_sequence_alone)
{
	char path[PATH_MAX];
	const char *dir = getenv("JAL_MODELS_DIR");

	if (dir && *dir)
		snprintf(path, sizeof(path), "%s/aidreams260k.bin", dir);
	else
		snprintf(path, sizeof(path), "%s/../shared/models/aidreams260k.bin", JAL_REPO_DIR);
	if (access(path, R_OK))
		SKIP(return, "aidreams260k.bin not found (set JAL_MODELS_DIR)");
	batch_equals_alone(_metadata, self, path, JALRT_PRECISION_F32, 7, 4);
	batch_equals_alone(_metadata, self, path, JALRT_PRECISION_INT8, 7, 7);
}

/* ---- sampling -------------------------------------------------------------- */

BATCH_TEST(sampling_rows_equal_the_single_sequence_sampler)
{
	static const struct { float t, p; uint64_t seed; } cases[] = {
		{ 1.0f, 0.9f, 42 }, { 0.8f, 0.0f, 7 }, { 1.3f, 0.5f, 99 }, { 0.0f, 0.9f, 1 },
		{ 1.0f, 1.0f, 12345 }, { 0.5f, 0.95f, 3 },
	};
	const int n = (int)(sizeof(cases) / sizeof(cases[0]));
	/* blocks of 5: a context of 64 ends in a partial block */
	struct jalrt_llm_batch_options o = { .max_seqs = 4, .max_rows = 12, .block_size = 5 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct sched *s = calloc(1, sizeof(*s));
	struct ref_seq *refs = calloc((size_t)n, sizeof(*refs));
	int i, k;

	ASSERT_NE(NULL, llm);
	ASSERT_TRUE(s && refs);
	for (i = 0; i < n; i++) {
		struct ref_seq *r = &refs[i];

		r->n_prompt = 2 + i;
		r->tokens[0] = BOS;
		for (k = 1; k < r->n_prompt; k++)
			r->tokens[k] = 2 + (int)rnd(self, 298);
		r->temperature = cases[i].t;
		r->topp = cases[i].p;
		r->seed = cases[i].seed;
		ref_run(_metadata, llm, r, 40, 0);
	}
	s->llm = llm;
	s->vocab = 300;
	s->max_live = o.max_seqs;
	s->max_rows = o.max_rows;
	s->chunk = 3;
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &s->batch))
		TH_LOG("%s", jalrt_last_error_message());
	run_sched(_metadata, self, s, refs, n);
	TH_LOG("%d sequences, %d steps: %d sampled tokens equal", n, s->steps, s->compared_tokens);
	EXPECT_LT(n * 20, s->compared_tokens);
	jalrt_llm_batch_destroy(s->batch);
	free_refs(refs, n);
	free(s);
	jalrt_llm_destroy(llm);
}

/* ---- the block pool -------------------------------------------------------- */

/* Prefill @n tokens of @r into @seq in one step, greedy; returns its token. */
static int prefill(struct jalrt_llm_batch *b, struct jalrt_llm_seq *seq, const struct ref_seq *r,
		   int from, int n)
{
	struct jalrt_llm_batch_row rows[MAX_POS];
	int out[MAX_POS], i, ret;

	for (i = 0; i < n; i++) {
		memset(&rows[i], 0, sizeof(rows[i]));
		rows[i].seq = seq;
		rows[i].pos = from + i;
		rows[i].token = r->tokens[from + i];
		rows[i].sample = i == n - 1;
	}
	ret = jalrt_llm_batch_step(b, rows, n, out);
	return ret ? ret : out[n - 1];
}

static void expect_pool(struct __test_metadata *_metadata, struct jalrt_llm_batch *b,
			unsigned int used, unsigned int live_seqs)
{
	struct jalrt_llm_batch_info info;

	ASSERT_EQ(0, jalrt_llm_batch_query(b, &info));
	EXPECT_EQ(used, info.used_blocks);
	EXPECT_EQ(info.blocks - used, info.free_blocks);
	EXPECT_EQ(live_seqs, info.live_seqs);
}

BATCH_TEST(blocks_are_taken_returned_and_reused)
{
	struct jalrt_llm_batch_options o = {
		.max_seqs = 3, .max_rows = 32, .block_size = 4, .kv_blocks = 7,
	};
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct jalrt_llm_seq *a, *b2, *c;
	struct jalrt_llm_batch *b;
	struct ref_seq *refs;

	ASSERT_NE(NULL, llm);
	refs = make_refs(_metadata, self, llm, 3, 300, MAX_POS, false);
	ASSERT_NE(NULL, refs);
	for (int i = 0; i < 3; i++) {
		static const int n_prompt[] = { 10, 13, 20 };

		refs[i].n_prompt = n_prompt[i];
		for (int k = 1; k < refs[i].n_prompt; k++)
			refs[i].tokens[k] = 2 + (int)rnd(self, 298);
		ref_run(_metadata, llm, &refs[i], refs[i].n_prompt + 1, 0);
	}
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	expect_pool(_metadata, b, 0, 0);
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &a));
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &b2));
	EXPECT_EQ(3, jalrt_llm_seq_blocks_needed(b, a, 10));
	/* a: 10 positions in blocks of 4 = 3 of the 7 blocks */
	EXPECT_EQ(refs[0].tokens[10], prefill(b, a, &refs[0], 0, 10))
		TH_LOG("%s", jalrt_last_error_message());
	expect_pool(_metadata, b, 3, 2);
	EXPECT_EQ(10, jalrt_llm_seq_length(b, a));

	/* c needs 5 blocks for 20 positions, 4 are free */
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &c));
	EXPECT_EQ(5, jalrt_llm_seq_blocks_needed(b, c, 20));
	EXPECT_EQ(-ENOSPC, prefill(b, c, &refs[2], 0, 20));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "KV blocks"));
	/* nothing changed: no blocks taken, no length */
	expect_pool(_metadata, b, 3, 3);
	EXPECT_EQ(0, jalrt_llm_seq_length(b, c));

	/* preempt a: its blocks return at once */
	ASSERT_EQ(0, jalrt_llm_seq_free(b, a));
	expect_pool(_metadata, b, 0, 2);
	EXPECT_EQ(-EINVAL, jalrt_llm_seq_length(b, a));
	/* c in a's blocks (its keys and values still there) and two more */
	EXPECT_EQ(refs[2].tokens[20], prefill(b, c, &refs[2], 0, 20))
		TH_LOG("%s", jalrt_last_error_message());
	expect_pool(_metadata, b, 5, 2);
	/* b2 wants 4 blocks for 13 positions, 2 are left */
	EXPECT_EQ(4, jalrt_llm_seq_blocks_needed(b, b2, 13));
	EXPECT_EQ(-ENOSPC, prefill(b, b2, &refs[1], 0, 13));
	expect_pool(_metadata, b, 5, 2);
	/* chunked prefill: 8 positions fit in the 2 blocks, the other 5 do not */
	EXPECT_LE(0, prefill(b, b2, &refs[1], 0, 8)) TH_LOG("%s", jalrt_last_error_message());
	expect_pool(_metadata, b, 7, 2);
	EXPECT_EQ(-ENOSPC, prefill(b, b2, &refs[1], 8, 5));
	ASSERT_EQ(0, jalrt_llm_seq_free(b, c));
	expect_pool(_metadata, b, 2, 1);
	EXPECT_EQ(refs[1].tokens[13], prefill(b, b2, &refs[1], 8, 5))
		TH_LOG("%s", jalrt_last_error_message());
	expect_pool(_metadata, b, 4, 1);
	ASSERT_EQ(0, jalrt_llm_seq_free(b, b2));
	expect_pool(_metadata, b, 0, 0);
	jalrt_llm_batch_destroy(b);
	free_refs(refs, 3);
	jalrt_llm_destroy(llm);
}

/* The model's own KV cache and the batch's pool are separate. */
BATCH_TEST(single_generation_between_steps_disturbs_nothing)
{
	struct jalrt_llm_batch_options o = { .max_seqs = 2, .max_rows = 16 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_INT8);
	struct jalrt_llm_batch *b;
	struct jalrt_llm_seq *seq;
	struct ref_seq *refs;
	int pos, tok;

	ASSERT_NE(NULL, llm);
	refs = make_refs(_metadata, self, llm, 2, 300, MAX_POS, false);
	ASSERT_NE(NULL, refs);
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &seq));
	tok = prefill(b, seq, &refs[0], 0, refs[0].n_prompt);
	for (pos = refs[0].n_prompt; pos < refs[0].positions; pos++) {
		struct ref_seq other = refs[1];

		EXPECT_EQ(refs[0].tokens[pos], tok) TH_LOG("position %d", pos);
		/* another sequence alone on the same model, between two steps */
		ref_run(_metadata, llm, &other, refs[1].positions, 0);
		EXPECT_EQ(0, memcmp(other.tokens, refs[1].tokens, sizeof(other.tokens)));
		tok = prefill(b, seq, &refs[0], pos, 1);
	}
	EXPECT_EQ(refs[0].tokens[pos], tok);
	EXPECT_EQ(refs[0].positions, jalrt_llm_seq_length(b, seq));
	jalrt_llm_batch_destroy(b);
	free_refs(refs, 2);
	jalrt_llm_destroy(llm);
}

/*
 * Preemption by recomputation: a sampled sequence freed half-way and run
 * again in a new one (its prompt and generated tokens as one prefill
 * chunk, then its saved rng state) goes on exactly as alone.
 */
BATCH_TEST(preempted_sequence_recomputes_the_same_tokens)
{
	struct jalrt_llm_batch_options o = { .max_seqs = 1, .max_rows = 64, .block_size = 4 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_BF16);
	struct ref_seq r = { .n_prompt = 5, .temperature = 0.9f, .topp = 0.8f, .seed = 2024 };
	struct jalrt_llm_batch_row rows[64];
	struct jalrt_llm_batch *b;
	struct jalrt_llm_seq *seq;
	int out[64], pos, cut, k, n;
	uint64_t rng = r.seed;

	ASSERT_NE(NULL, llm);
	r.tokens[0] = BOS;
	for (k = 1; k < r.n_prompt; k++)
		r.tokens[k] = 2 + (int)rnd(self, 298);
	ref_run(_metadata, llm, &r, 30, 0);
	ASSERT_LT(12, r.positions);
	cut = r.positions / 2;
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	for (int attempt = 0; attempt < 2; attempt++) {
		/* positions of the first chunk: the prompt, or every token known */
		int from = attempt ? cut + 1 : r.n_prompt;

		/*
		 * The chunk's last row samples with the state saved after the
		 * last token generated (the first attempt stopped after the
		 * token at position cut).
		 */
		ASSERT_EQ(0, jalrt_llm_seq_create(b, &seq));
		for (k = 0; k < from; k++) {
			memset(&rows[k], 0, sizeof(rows[k]));
			rows[k].seq = seq;
			rows[k].pos = k;
			rows[k].token = r.tokens[k];
		}
		rows[from - 1].sample = true;
		rows[from - 1].temperature = r.temperature;
		rows[from - 1].topp = r.topp;
		rows[from - 1].rng = rng;
		n = from;
		for (pos = from - 1; pos < (attempt ? r.positions : cut); pos++) {
			ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, n, out))
				TH_LOG("%s", jalrt_last_error_message());
			EXPECT_EQ(r.tokens[pos + 1], out[n - 1])
				TH_LOG("attempt %d, position %d", attempt, pos);
			/* the next step: one decode row with the state this one left */
			rows[0] = rows[n - 1];
			rows[0].pos = pos + 1;
			rows[0].token = out[n - 1];
			rng = rows[0].rng;
			n = 1;
		}
		/* preempted: blocks back at once, recomputed from its tokens */
		ASSERT_EQ(0, jalrt_llm_seq_free(b, seq));
	}
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
}

/* ---- the decode loop: several steps in one job ------------------------------ */

/*
 * Prompts of all @n sequences in one step, then decode loops of varying
 * lengths over the sequences still running, each token against the
 * sequence alone.
 */
static void decode_loop_equals_alone(struct __test_metadata *_metadata,
				     FIXTURE_DATA(llm_batch) *self, unsigned int precision)
{
	static const struct { float t, p; uint64_t seed; } cases[] = {
		{ 0.0f, 0.9f, 1 }, { 1.0f, 0.9f, 42 }, { 0.8f, 0.0f, 7 }, { 1.3f, 0.5f, 99 },
		{ 0.0f, 0.9f, 1 },
	};
	const int n = (int)(sizeof(cases) / sizeof(cases[0]));
	struct jalrt_llm_batch_options o = { .max_seqs = 5, .max_rows = 64, .block_size = 4 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, precision);
	struct jalrt_llm_batch_row rows[64], dec[5];
	struct jalrt_llm_seq *seqs[5];
	struct jalrt_llm_batch_info info;
	int pos[5], out[64 * 5], nr = 0, i, k, round, compared = 0;
	struct jalrt_llm_batch *b;
	struct ref_seq *refs = calloc((size_t)n, sizeof(*refs));

	ASSERT_NE(NULL, llm);
	ASSERT_NE(NULL, refs);
	for (i = 0; i < n; i++) {
		refs[i].n_prompt = 1 + 3 * i;
		refs[i].tokens[0] = BOS;
		for (k = 1; k < refs[i].n_prompt; k++)
			refs[i].tokens[k] = 2 + (int)rnd(self, 298);
		refs[i].temperature = cases[i].t;
		refs[i].topp = cases[i].p;
		refs[i].seed = cases[i].seed;
		ref_run(_metadata, llm, &refs[i], 40, 0);
	}
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, jalrt_llm_seq_create(b, &seqs[i]));
		for (k = 0; k < refs[i].n_prompt; k++) {
			struct jalrt_llm_batch_row *r = &rows[nr++];

			memset(r, 0, sizeof(*r));
			r->seq = seqs[i];
			r->pos = k;
			r->token = refs[i].tokens[k];
			r->sample = k == refs[i].n_prompt - 1;
			r->temperature = refs[i].temperature;
			r->topp = refs[i].topp;
			r->rng = refs[i].seed;
		}
	}
	ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, nr, out)) TH_LOG("%s", jalrt_last_error_message());
	for (i = 0, nr = 0; i < n; i++) {
		nr += refs[i].n_prompt;
		EXPECT_EQ(refs[i].tokens[refs[i].n_prompt], out[nr - 1]);
		pos[i] = refs[i].n_prompt;
		dec[i] = rows[nr - 1];
		dec[i].pos = pos[i];
		dec[i].token = out[nr - 1];
	}
	for (round = 0;; round++) {
		struct jalrt_llm_batch_row run[5];
		int idx[5], m = 0, steps = 1 + (round * 5) % 9;

		for (i = 0; i < n; i++) {
			if (!seqs[i])
				continue;
			if (pos[i] >= refs[i].positions) {
				ASSERT_EQ(0, jalrt_llm_seq_free(b, seqs[i]));
				seqs[i] = NULL;
				continue;
			}
			idx[m] = i;
			run[m++] = dec[i];
		}
		if (!m)
			break;
		ASSERT_EQ(0, jalrt_llm_batch_decode(b, run, m, steps, out))
			TH_LOG("%s", jalrt_last_error_message());
		ASSERT_EQ(0, jalrt_llm_batch_query(b, &info));
		EXPECT_EQ((unsigned int)steps, info.last_steps);
		for (k = 0; k < steps; k++) {
			for (int r = 0; r < m; r++) {
				const struct ref_seq *ref = &refs[idx[r]];
				int p = pos[idx[r]] + k + 1;

				if (p > ref->positions)
					continue;
				EXPECT_EQ(ref->tokens[p], out[k * m + r])
					TH_LOG("sequence %d, position %d, step %d of %d", idx[r], p, k,
					       steps);
				compared++;
			}
		}
		for (int r = 0; r < m; r++) {
			i = idx[r];
			pos[i] += steps;
			dec[i] = run[r];
			dec[i].pos = pos[i];
			dec[i].token = out[(steps - 1) * m + r];
			EXPECT_EQ(pos[i], jalrt_llm_seq_length(b, seqs[i]));
		}
	}
	ASSERT_EQ(0, jalrt_llm_batch_query(b, &info));
	EXPECT_EQ(0u, info.used_blocks);
	TH_LOG("%s: %d sequences, %d decoded tokens equal", jalrt_precision_name(precision), n,
	       compared);
	EXPECT_LT(n * 20, compared);
	jalrt_llm_batch_destroy(b);
	free_refs(refs, n);
	jalrt_llm_destroy(llm);
}

BATCH_TEST(decode_loop_equals_the_single_sequence_loop)
{
	decode_loop_equals_alone(_metadata, self, JALRT_PRECISION_F32);
	decode_loop_equals_alone(_metadata, self, JALRT_PRECISION_INT8);
	decode_loop_equals_alone(_metadata, self, JALRT_PRECISION_INT4);
}

BATCH_TEST(decode_loop_bad_arguments_and_pool)
{
	struct jalrt_llm_batch_options o = { .max_seqs = 2, .max_rows = 4, .block_size = 4,
					     .kv_blocks = 3 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct jalrt_llm_batch_row rows[2];
	struct jalrt_llm_batch *b;
	struct jalrt_llm_seq *s;
	int out[2 * JALRT_LLM_BATCH_MAX_STEPS];

	ASSERT_NE(NULL, llm);
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &s));
	memset(rows, 0, sizeof(rows));
	rows[0].seq = s;
	rows[0].token = BOS;
	rows[1] = rows[0];
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_decode(b, rows, 2, 1, out));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "a row already"));
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_decode(b, rows, 1, 0, out));
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_decode(b, rows, 1, JALRT_LLM_BATCH_MAX_STEPS + 1, out));
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_decode(b, rows, 1, 1, NULL));
	rows[0].temperature = 1.0f;
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_decode(b, rows, 1, 1, out));	/* rng 0 */
	rows[0].temperature = 0.0f;
	/* 13 positions need 4 blocks of 4, the pool has 3 */
	EXPECT_EQ(-ENOSPC, jalrt_llm_batch_decode(b, rows, 1, 13, out));
	EXPECT_EQ(0, jalrt_llm_seq_length(b, s));
	EXPECT_EQ(0, jalrt_llm_batch_decode(b, rows, 1, 12, out))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(12, jalrt_llm_seq_length(b, s));
	rows[0].pos = 12;
	rows[0].token = out[11];
	EXPECT_EQ(-ENOSPC, jalrt_llm_batch_decode(b, rows, 1, 1, out));
	/* a context of 64: 52 more steps from 12 would pass its end */
	ASSERT_EQ(0, jalrt_llm_seq_free(b, s));
	jalrt_llm_batch_destroy(b);
	o.kv_blocks = 0;
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b));
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &s));
	rows[0].seq = s;
	rows[0].pos = 0;
	EXPECT_EQ(0, jalrt_llm_batch_decode(b, rows, 1, 60, out));
	rows[0].pos = 60;
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_decode(b, rows, 1, 5, out));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "context"));
	EXPECT_EQ(0, jalrt_llm_batch_decode(b, rows, 1, 4, out));
	EXPECT_EQ(64, jalrt_llm_seq_length(b, s));
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
}

/* ---- bad arguments ----------------------------------------------------------- */

static void expect_einval(struct __test_metadata *_metadata, struct jalrt_llm_batch *b,
			  struct jalrt_llm_batch_row *rows, int n, const char *what)
{
	int out[8] = { 0 };

	EXPECT_EQ(-EINVAL, jalrt_llm_batch_step(b, rows, n, out)) TH_LOG("%s", what);
	EXPECT_NE(0, strlen(jalrt_last_error_message())) TH_LOG("%s: no message", what);
}

BATCH_TEST(bad_arguments_fail_with_einval_and_change_nothing)
{
	struct jalrt_llm_batch_options o = { .max_seqs = 2, .max_rows = 4 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct jalrt_llm_batch *b, *other;
	struct jalrt_llm_seq *s, *t, *foreign, *dead;
	struct jalrt_llm_batch_row rows[5], good;
	uint64_t fake[16] = { 0 };	/* not a sequence of any batch */
	float logits[300];
	int out[5];

	ASSERT_NE(NULL, llm);
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &other));
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &s));
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &t));
	EXPECT_EQ(-ENOSPC, jalrt_llm_seq_create(b, &dead));
	ASSERT_EQ(0, jalrt_llm_seq_free(b, t));
	dead = t;
	ASSERT_EQ(0, jalrt_llm_seq_create(other, &foreign));

	memset(&good, 0, sizeof(good));
	good.seq = s;
	good.token = BOS;
	rows[0] = good;
	ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, 1, out)) TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-1, out[0]);
	good.pos = 1;
	good.token = 5;

	rows[0] = good;
	rows[0].seq = (struct jalrt_llm_seq *)fake;
	expect_einval(_metadata, b, rows, 1, "unknown sequence");
	rows[0].seq = foreign;
	expect_einval(_metadata, b, rows, 1, "another batch's sequence");
	rows[0].seq = dead;
	expect_einval(_metadata, b, rows, 1, "freed sequence");
	rows[0].seq = NULL;
	expect_einval(_metadata, b, rows, 1, "NULL sequence");
	rows[0] = good;
	rows[0].pos = 2;
	expect_einval(_metadata, b, rows, 1, "a position after a gap");
	rows[0].pos = 0;
	expect_einval(_metadata, b, rows, 1, "a position already stored");
	rows[0].pos = MAX_POS;
	expect_einval(_metadata, b, rows, 1, "a position beyond the context");
	rows[0].pos = -1;
	expect_einval(_metadata, b, rows, 1, "a negative position");
	rows[0] = good;
	rows[1] = good;
	expect_einval(_metadata, b, rows, 2, "the same position twice");
	rows[1].pos = 3;
	expect_einval(_metadata, b, rows, 2, "rows of a sequence not consecutive");
	rows[0] = good;
	rows[0].token = 300;
	expect_einval(_metadata, b, rows, 1, "a token outside the vocabulary");
	rows[0] = good;
	rows[0].sample = true;
	rows[0].temperature = NAN;
	expect_einval(_metadata, b, rows, 1, "a NaN temperature");
	rows[0].temperature = 0.5f;
	rows[0].rng = 0;
	expect_einval(_metadata, b, rows, 1, "rng state 0");
	rows[0].temperature = 0.0f;
	rows[0].topp = NAN;
	expect_einval(_metadata, b, rows, 1, "a NaN top-p");
	for (int i = 0; i < 5; i++) {
		rows[i] = good;
		rows[i].pos = 1 + i;
	}
	expect_einval(_metadata, b, rows, 5, "more rows than max_rows");
	expect_einval(_metadata, b, rows, 0, "no rows");
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_step(b, NULL, 1, out));
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_step(NULL, rows, 1, out));
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_step(b, rows, 1, NULL));
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_logits(b, 0, logits));
	EXPECT_EQ(-EINVAL, jalrt_llm_seq_free(b, foreign));
	EXPECT_EQ(-EINVAL, jalrt_llm_seq_free(b, dead));
	EXPECT_EQ(-EINVAL, jalrt_llm_seq_blocks_needed(b, s, MAX_POS));
	jalrt_llm_batch_destroy(other);

	/* nothing changed: the sequence goes on at position 1 */
	EXPECT_EQ(1, jalrt_llm_seq_length(b, s));
	rows[0] = good;
	rows[0].sample = true;
	EXPECT_EQ(0, jalrt_llm_batch_step(b, rows, 1, out)) TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(2, jalrt_llm_seq_length(b, s));

	/* options */
	o.kv_dtype = JAL_DTYPE_Q8;	/* the KV cache is f32 or bf16 */
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_create(llm, &o, &other));
	o.kv_dtype = 0;
	o.flags = 0x80;
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_create(llm, &o, &other));
	o.flags = 0;
	o.kv_bytes = 16;
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_create(llm, &o, &other));
	EXPECT_EQ(-EINVAL, jalrt_llm_batch_create(NULL, &o, &other));
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
}

/* ---- what a step costs ------------------------------------------------------ */

BATCH_TEST(step_reports_its_device_time_and_host_overhead)
{
	struct jalrt_llm_batch_options o = { .max_seqs = 16, .max_rows = 16 };
	struct jalrt_llm *llm = load(_metadata, self->dev, self->model, JALRT_PRECISION_F32);
	struct jalrt_llm_batch_row rows[16];
	struct jalrt_llm_seq *seqs[16];
	struct jalrt_llm_batch_info info;
	struct jalrt_llm_batch *b;
	uint64_t host = 0, dev = 0;
	int out[16], i, pos;

	ASSERT_NE(NULL, llm);
	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &o, &b)) TH_LOG("%s", jalrt_last_error_message());
	for (i = 0; i < 16; i++)
		ASSERT_EQ(0, jalrt_llm_seq_create(b, &seqs[i]));
	for (pos = 0; pos < 16; pos++) {
		for (i = 0; i < 16; i++) {
			memset(&rows[i], 0, sizeof(rows[i]));
			rows[i].seq = seqs[i];
			rows[i].pos = pos;
			rows[i].token = pos ? out[i] : BOS;
			rows[i].sample = true;
		}
		ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, 16, out))
			TH_LOG("%s", jalrt_last_error_message());
		ASSERT_EQ(0, jalrt_llm_batch_query(b, &info));
		EXPECT_EQ(16u, info.last_rows);
		EXPECT_EQ(16u, info.last_sample_rows);
		EXPECT_LT(0, info.last_device_ns);
		EXPECT_LE(info.last_host_ns, info.last_step_ns);
		host += info.last_host_ns;
		dev += info.last_device_ns;
	}
	EXPECT_EQ(16u, info.steps);
	TH_LOG("16 decode rows per step, %u instructions: %.1f us on the chip, %.1f us host<->chip overhead per step (%s)",
	       info.program_insns, dev / 16e3, host / 16e3,
	       info.in_vram ? "device memory" : "host memory");
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
}

TEST_HARNESS_MAIN
