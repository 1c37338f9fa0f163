// SPDX-License-Identifier: MIT
/*
 * int4 weights (JALRT_PRECISION_INT4, the chip's Q4 MATVEC and MATMUL) on
 * the chip model run in-process, against the CPU reference's int4 mode in
 * the chip's order:
 * - a GGUF file of Q4_0 tensors (jalrt-gen-model's writer, then blocks
 *   without a -8, which quantising again would change): the blocks go
 *   to the chip exactly (nibbles as they are, f16 scales widened), the
 *   logits of teacher-forced positions equal the reference's bit for bit,
 *   and greedy tokens agree token for token by jalrt_llm_generate() and in
 *   a batch beside another sequence (one step at a time, then the on-chip
 *   decode loop; the batched row's logits bit for bit: batch invariance);
 * - the same from an f32 llama2.c file, quantised at load (the int4 rule),
 *   with a shared classifier and an FFN width that is not a multiple of
 *   32 (ffn_down falls back to int8);
 * - the weight bytes say which matrices are Q4; a Q4_0 file's default
 *   precision (jalrt_llm_file_precision(), the tools' default) is int4;
 * - a context smaller than the model's (jalrt_llm_options.ctx) sizes the
 *   KV cache for it;
 * - Q4 operands the chip cannot take fail with a message that says why;
 * - opt-in ($JAL_INT4_MODEL, scripts/int4-big-model.sh): a big Q4_0
 *   model, e.g. TinyLlama-1.1B-shaped, token for token;
 * - the int4 rule and nibble order, and Q4_0 blocks split for the chip
 *   decode to what ggml's rule decodes them to.
 */
#include <math.h>
#include <time.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "jalrt.h"
#include "jalrt_graph.h"
#include "jalrt_internal.h"	/* the device's caps, to model an older chip */
#include "jalrt_llm.h"
#include "sim_backend.h"

#include "gguf-model.h"
#include "gguf.h"
#include "quant.h"
#include "reference.h"

#define VOCAB	256
#define STEPS	24

LLM_SIM_FIXTURE(int4);

static struct llm_config shape(int hidden, bool shared)
{
	struct llm_config c = {
		.dim = 64, .hidden_dim = hidden, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
		.vocab_size = VOCAB, .seq_len = 32, .shared_classifier = shared,
	};

	return c;
}

/* Reference state: greedy tokens from BOS and each step's logits. */
struct ref_run {
	int tokens[STEPS + 1];
	float logits[STEPS][VOCAB];
};

static int ref_greedy(const char *path, struct ref_run *r)
{
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *ref = NULL;
	float *logits;
	int pos, ret;

	ret = llm_checkpoint_open(path, &ck);
	if (!ret)
		ret = llm_ref_create(ck, &ref);
	if (!ret)
		ret = llm_ref_set_order(ref, LLM_REF_ORDER_CHIP);
	if (!ret)
		ret = llm_ref_set_precision(ref, LLM_REF_PRECISION_INT4, 0);
	r->tokens[0] = LLM_TOKEN_BOS;
	for (pos = 0; !ret && pos < STEPS; pos++) {
		ret = llm_ref_forward(ref, r->tokens[pos], pos, &logits);
		if (!ret) {
			memcpy(r->logits[pos], logits, sizeof(r->logits[pos]));
			r->tokens[pos + 1] = llm_sample_argmax(logits, VOCAB);
		}
	}
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
	return ret;
}

static int collect(void *opaque, int prev, int token, int pos)
{
	(void)prev;
	((int *)opaque)[pos] = token;
	return 0;
}

/*
 * The chip at int4 against @r: the logits of the reference's own tokens
 * (forward), jalrt_llm_generate()'s tokens, and a batch's tokens and
 * logits with another sequence beside it.
 */
static void check_chip(struct __test_metadata *_metadata, struct jalrt_device *dev,
		       const char *path, const struct ref_run *r)
{
	struct jalrt_llm_options o = { .precision = JALRT_PRECISION_INT4 };
	struct jalrt_llm_batch_options bo = {
		.max_seqs = 2, .block_size = 4, .flags = JALRT_LLM_BATCH_LOGITS,
	};
	int bos = LLM_TOKEN_BOS, gen[STEPS + 2], mine[STEPS + 1], other[STEPS + 1], out[2];
	struct jalrt_llm_generate_params p = {
		.prompt = &bos, .n_prompt = 1, .steps = STEPS, .seed = 1,
		.on_token = collect, .opaque = gen,
	};
	static float logits[VOCAB];
	int pos, bad = 0, stop = STEPS;
	struct jalrt_llm_batch_row rows[2];
	struct jalrt_llm_batch *b = NULL;
	struct jalrt_llm_seq *s[2];
	struct jalrt_llm_stats st;
	struct jalrt_llm *llm = NULL;

	/* generation ends at BOS: compare up to the first one the reference makes */
	for (pos = 1; pos <= STEPS; pos++) {
		if (r->tokens[pos] == LLM_TOKEN_BOS) {
			stop = pos;
			break;
		}
	}
	ASSERT_EQ(0, jalrt_llm_load(dev, path, NULL, &o, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	for (pos = 0; pos < STEPS; pos++) {
		ASSERT_EQ(0, jalrt_llm_forward(llm, r->tokens[pos], pos, logits))
			TH_LOG("%s", jalrt_last_error_message());
		bad += memcmp(logits, r->logits[pos], sizeof(logits)) != 0;
	}
	EXPECT_EQ(0, bad) TH_LOG("%d positions' logits differ from the reference's", bad);

	memset(gen, 0xff, sizeof(gen));
	ASSERT_EQ(0, jalrt_llm_generate(llm, &p, &st)) TH_LOG("%s", jalrt_last_error_message());
	for (pos = 1; pos <= stop && pos <= st.positions; pos++) {
		EXPECT_EQ(r->tokens[pos], gen[pos]) TH_LOG("jalrt_llm_generate(), position %d", pos);
	}

	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &bo, &b)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &s[0]));
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &s[1]));
	mine[0] = LLM_TOKEN_BOS;
	other[0] = 9;
	bad = 0;
	for (pos = 0; pos < 12; pos++) {
		memset(rows, 0, sizeof(rows));
		rows[0] = (struct jalrt_llm_batch_row){ .seq = s[1], .pos = pos,
							.token = other[pos], .sample = true };
		rows[1] = (struct jalrt_llm_batch_row){ .seq = s[0], .pos = pos,
							.token = mine[pos], .sample = true };
		ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, 2, out))
			TH_LOG("%s", jalrt_last_error_message());
		other[pos + 1] = out[0];
		mine[pos + 1] = out[1];
		ASSERT_EQ(0, jalrt_llm_batch_logits(b, 1, logits));
		bad += memcmp(logits, r->logits[pos], sizeof(logits)) != 0;
	}
	EXPECT_EQ(0, bad) TH_LOG("%d batched positions' logits differ", bad);
	for (; pos < STEPS; pos += 6) {
		int n = STEPS - pos < 6 ? STEPS - pos : 6, loop[12], k;

		memset(rows, 0, sizeof(rows));
		rows[0] = (struct jalrt_llm_batch_row){ .seq = s[1], .pos = pos,
							.token = other[pos] };
		rows[1] = (struct jalrt_llm_batch_row){ .seq = s[0], .pos = pos,
							.token = mine[pos] };
		ASSERT_EQ(0, jalrt_llm_batch_decode(b, rows, 2, n, loop))
			TH_LOG("%s", jalrt_last_error_message());
		for (k = 0; k < n; k++) {
			other[pos + 1 + k] = loop[2 * k];
			mine[pos + 1 + k] = loop[2 * k + 1];
		}
	}
	/* a batch does not stop at BOS: every token is the reference's */
	EXPECT_EQ(0, memcmp(mine, r->tokens, sizeof(mine))) TH_LOG("batched tokens");
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
}

/* Bytes of a Q4 matrix, of the int8-layout table (groups of 32), of an f32 vector. */
static uint64_t q4_bytes(uint64_t rows, uint64_t cols)
{
	return rows * cols / 2 + rows * cols / 32 * 4;
}

/*
 * Move every nibble 0 (weight -8) of the file's Q4_0 blocks to 1 (-7):
 * our writer, as llama.cpp's, puts -8 at each block's largest magnitude,
 * so quantising the decoded values again would give the same blocks.
 * Without a -8 it would not, and only an exact import keeps the values.
 */
static void drop_minus_eights(struct __test_metadata *_metadata, const char *path)
{
	struct gguf_file *g = NULL;
	uint8_t *bytes;
	uint64_t t, b, j, changed = 0;
	FILE *f;
	long size;

	f = fopen(path, "r+b");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fseek(f, 0, SEEK_END));
	size = ftell(f);
	bytes = malloc((size_t)size);
	ASSERT_NE(NULL, bytes);
	rewind(f);
	ASSERT_EQ(1, fread(bytes, (size_t)size, 1, f));
	ASSERT_EQ(0, gguf_open(path, &g));
	for (t = 0; t < g->n_tensors; t++) {
		const struct gguf_tensor *gt = &g->tensors[t];
		uint8_t *p = bytes + ((const uint8_t *)gt->data - g->base);

		if (gt->type != GGML_TYPE_Q4_0)
			continue;
		for (b = 0; b < gt->elements / 32; b++, p += GGML_Q4_0_BYTES) {
			for (j = 2; j < GGML_Q4_0_BYTES; j++) {
				if (!(p[j] & 15)) {
					p[j] |= 1;
					changed++;
				}
				if (!(p[j] >> 4)) {
					p[j] |= 1 << 4;
					changed++;
				}
			}
		}
	}
	gguf_close(g);
	EXPECT_LT(1000, changed);
	rewind(f);
	ASSERT_EQ(1, fwrite(bytes, (size_t)size, 1, f));
	fclose(f);
	free(bytes);
}

/* generous timeouts: a shared machine must not fail a correct run */
TEST_F_TIMEOUT(int4, q4_0_file_goes_to_the_chip_exactly, 600)
{
	struct llm_config c = shape(96, false);
	struct llm_gguf_write_opts wo = { .type = GGML_TYPE_Q4_0 };
	struct jalrt_llm_options o = { .precision = JALRT_PRECISION_INT4 };
	struct llm_checkpoint *ck = NULL;
	struct jalrt_llm_info info;
	struct jalrt_llm *llm = NULL;
	struct gguf_file *g = NULL;
	static struct ref_run r;
	uint64_t want;
	char path[128];
	int distinct = 0, i;

	snprintf(path, sizeof(path), "%s/q4.gguf", self->dir);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 21, &ck));
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &wo)) TH_LOG("%s", llm_last_error_message());
	llm_checkpoint_close(ck);
	drop_minus_eights(_metadata, path);

	/* every matrix and the table are Q4_0 in the file */
	ASSERT_EQ(0, gguf_open(path, &g));
	EXPECT_EQ(GGML_TYPE_Q4_0, gguf_find_tensor(g, "token_embd.weight")->type);
	EXPECT_EQ(GGML_TYPE_Q4_0, gguf_find_tensor(g, "output.weight")->type);
	EXPECT_EQ(GGML_TYPE_Q4_0, gguf_find_tensor(g, "blk.1.ffn_down.weight")->type);
	gguf_close(g);

	/*
	 * Weight bytes: the matrices as Q4 (half a byte a weight, a scale per
	 * 32), the table as int8 values with the file's scales, norms f32.
	 */
	want = (uint64_t)VOCAB * 64 + VOCAB * 64 / 32 * 4 +		/* table */
	       q4_bytes(VOCAB, 64) +					/* output */
	       2 * (q4_bytes(64, 64) * 2 + q4_bytes(32, 64) * 2 +	/* q, o, k, v */
		    q4_bytes(96, 64) * 2 + q4_bytes(64, 96)) +		/* ffn */
	       64 * 4 * 5;						/* norms */
	ASSERT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &o, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_query(llm, &info));
	EXPECT_EQ(JALRT_PRECISION_INT4, info.precision);
	EXPECT_EQ(want, info.weight_bytes) TH_LOG("weight bytes %llu",
						  (unsigned long long)info.weight_bytes);
	jalrt_llm_destroy(llm);

	ASSERT_EQ(0, ref_greedy(path, &r)) TH_LOG("%s", llm_last_error_message());
	/* a test of anything only if the tokens are not one repeated token */
	for (i = 1; i <= STEPS; i++)
		distinct += r.tokens[i] != r.tokens[1];
	EXPECT_LT(0, distinct);
	check_chip(_metadata, self->dev, path, &r);
}

TEST_F_TIMEOUT(int4, f32_model_quantised_at_load, 600)
{
	/* hidden 80: ffn_down's rows of 80 are not whole groups of 32 */
	struct llm_config c = shape(80, true);
	struct jalrt_llm_options o = { .precision = JALRT_PRECISION_INT4 };
	struct jalrt_llm_info info;
	struct jalrt_llm *llm = NULL;
	static struct ref_run r;
	uint64_t want;
	char path[128];

	snprintf(path, sizeof(path), "%s/m.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(path, &c, 5));
	/* ffn_down at int8 (groups of llm_int8_group(80) = 16), the rest Q4 */
	want = (uint64_t)VOCAB * 64 + VOCAB * 64 / 32 * 4 +
	       2 * (q4_bytes(64, 64) * 2 + q4_bytes(32, 64) * 2 + q4_bytes(80, 64) * 2 +
		    64 * 80 + 64 * 80 / llm_int8_group(80, 0) * 4) +
	       64 * 4 * 5;
	ASSERT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &o, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_query(llm, &info));
	EXPECT_EQ(want, info.weight_bytes) TH_LOG("weight bytes %llu",
						  (unsigned long long)info.weight_bytes);
	jalrt_llm_destroy(llm);

	ASSERT_EQ(0, ref_greedy(path, &r)) TH_LOG("%s", llm_last_error_message());
	check_chip(_metadata, self->dev, path, &r);
}

/* The reference's int4 values are not the int8 ones: the mode is its own. */
TEST_F(int4, int4_logits_are_not_int8_ones)
{
	struct llm_config c = shape(96, false);
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *ref = NULL;
	static float a[VOCAB], b[VOCAB];
	float *logits, err = 0.0f, range = 0.0f;
	int i;

	ASSERT_EQ(0, llm_checkpoint_random(&c, 3, &ck));
	ASSERT_EQ(0, llm_ref_create(ck, &ref));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	ASSERT_EQ(0, llm_ref_set_precision(ref, LLM_REF_PRECISION_INT4, 0));
	ASSERT_EQ(0, llm_ref_forward(ref, 5, 0, &logits));
	memcpy(a, logits, sizeof(a));
	ASSERT_EQ(0, llm_ref_set_precision(ref, LLM_REF_PRECISION_F32, 0));
	ASSERT_EQ(0, llm_ref_forward(ref, 5, 0, &logits));
	memcpy(b, logits, sizeof(b));
	/* close to f32 (4 bits are coarse: a loose bound), yet not equal */
	for (i = 0; i < VOCAB; i++) {
		err = fmaxf(err, fabsf(a[i] - b[i]));
		range = fmaxf(range, fabsf(b[i]));
	}
	EXPECT_NE(0, memcmp(a, b, sizeof(a)));
	EXPECT_LT(err, range * 0.5f) TH_LOG("int4 error %g of %g", err, range);
	EXPECT_EQ(-EINVAL, llm_ref_set_precision(ref, (enum llm_ref_precision)7, 0));
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
}

TEST_F(int4, precision_names)
{
	enum jalrt_precision p = JALRT_PRECISION_F32;

	EXPECT_STREQ("int4", jalrt_precision_name(JALRT_PRECISION_INT4));
	EXPECT_EQ(0, jalrt_precision_parse("int4", &p));
	EXPECT_EQ(JALRT_PRECISION_INT4, p);
	EXPECT_EQ(-EINVAL, jalrt_precision_parse("int3", &p));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "int4"));
}

/*
 * A Q4_0 tensor whose rows are not whole groups of 32: the file is
 * refused, naming the tensor, before anything reaches the chip.
 */
TEST_F(int4, a_q4_0_tensor_of_partial_groups_is_refused)
{
	static const char name[] = "blk.0.attn_q.weight";
	struct llm_config c = shape(96, false);
	struct llm_gguf_write_opts wo = { .type = GGML_TYPE_Q4_0 };
	struct jalrt_llm_options o = { .precision = JALRT_PRECISION_INT4 };
	struct llm_checkpoint *ck = NULL;
	struct jalrt_llm *llm = NULL;
	uint8_t *bytes, *at = NULL;
	uint64_t cols = 48;
	char path[128];
	long size, i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.gguf", self->dir);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 4, &ck));
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &wo));
	llm_checkpoint_close(ck);
	f = fopen(path, "r+b");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(0, fseek(f, 0, SEEK_END));
	size = ftell(f);
	bytes = malloc((size_t)size);
	ASSERT_NE(NULL, bytes);
	rewind(f);
	ASSERT_EQ(1, fread(bytes, (size_t)size, 1, f));
	/* the tensor info: name, then n_dims (u32), then dims[0] (u64): 64 columns */
	for (i = 0; i + (long)sizeof(name) + 12 < size && !at; i++)
		if (!memcmp(bytes + i, name, sizeof(name) - 1))
			at = bytes + i + sizeof(name) - 1 + 4;
	ASSERT_NE(NULL, at);
	EXPECT_EQ(64, at[0]);
	memcpy(at, &cols, 8);
	rewind(f);
	ASSERT_EQ(1, fwrite(bytes, (size_t)size, 1, f));
	fclose(f);
	free(bytes);
	EXPECT_EQ(-EINVAL, jalrt_llm_load(self->dev, path, NULL, &o, &llm));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), name))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "not a multiple of its block of 32"))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(NULL, llm);
}

/* A chip without JAL_CAP_Q4 (before the int4 kernels): a load error that says so. */
TEST_F(int4, a_chip_without_q4_refuses_int4)
{
	struct llm_config c = shape(96, false);
	struct jalrt_llm_options o = { .precision = JALRT_PRECISION_INT4 };
	struct jalrt_llm *llm = NULL;
	uint32_t caps = self->dev->info.caps;
	char path[128];

	snprintf(path, sizeof(path), "%s/m.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(path, &c, 1));
	/* the sim reports the bit; take it away as an older chip would */
	self->dev->info.caps &= ~JAL_CAP_Q4;
	EXPECT_EQ(-EOPNOTSUPP, jalrt_llm_load(self->dev, path, NULL, &o, &llm));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "JAL_CAP_Q4"))
		TH_LOG("%s", jalrt_last_error_message());
	o.precision = JALRT_PRECISION_INT8;
	EXPECT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &o, &llm));
	jalrt_llm_destroy(llm);
	self->dev->info.caps = caps;
}

/* The tools' default precision: the file's own quantisation. */
TEST_F(int4, file_precision_follows_the_tensors)
{
	static const struct {
		uint32_t type;
		enum jalrt_precision want;
	} cases[] = {
		{ GGML_TYPE_Q4_0, JALRT_PRECISION_INT4 }, { GGML_TYPE_Q8_0, JALRT_PRECISION_INT8 },
		{ GGML_TYPE_F16, JALRT_PRECISION_F32 }, { GGML_TYPE_F32, JALRT_PRECISION_F32 },
	};
	struct llm_config c = shape(96, false);
	struct llm_checkpoint *ck = NULL;
	enum jalrt_precision p;
	char path[128];

	ASSERT_EQ(0, llm_checkpoint_random(&c, 2, &ck));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct llm_gguf_write_opts wo = { .type = cases[i].type };

		snprintf(path, sizeof(path), "%s/p%zu.gguf", self->dir, i);
		ASSERT_EQ(0, llm_gguf_write_model(path, ck, &wo));
		p = (enum jalrt_precision)99;
		ASSERT_EQ(0, jalrt_llm_file_precision(path, &p));
		EXPECT_EQ(cases[i].want, p) TH_LOG("type %u", cases[i].type);
	}
	llm_checkpoint_close(ck);
	/* a llama2.c file is f32; a missing one is an error that names it */
	snprintf(path, sizeof(path), "%s/m.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(path, &c, 2));
	ASSERT_EQ(0, jalrt_llm_file_precision(path, &p));
	EXPECT_EQ(JALRT_PRECISION_F32, p);
	snprintf(path, sizeof(path), "%s/none.gguf", self->dir);
	EXPECT_EQ(-ENOENT, jalrt_llm_file_precision(path, &p));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "none.gguf"));
}

/* Q4 shapes the chip cannot run are refused when declared or emitted. */
TEST_F(int4, bad_q4_operands_fail_clearly)
{
	struct jalrt_context *ctx = NULL;
	struct jalrt_graph *g = NULL;
	struct jalrt_tensor *t = NULL, *w = NULL, *x = NULL, *d = NULL;
	struct jalrt_tensor_desc bad_group = {
		.name = "bad_group", .dtype = JALRT_DTYPE_Q4, .ndim = 2, .dims = { 4, 64 },
		.group = 16,
	};
	struct jalrt_tensor_desc bad_cols = {
		.name = "bad_cols", .dtype = JALRT_DTYPE_Q4, .ndim = 2, .dims = { 4, 48 },
	};
	struct jalrt_tensor_desc wd = {
		.name = "w", .dtype = JALRT_DTYPE_Q4, .ndim = 2, .dims = { 4, 64 },
	};
	struct jalrt_tensor_desc vd = { .name = "v", .dtype = JALRT_DTYPE_F32, .ndim = 1 };
	struct jalrt_program *p = NULL;
	struct jalrt_kernel_builder *kb = NULL;
	struct jalrt_matrix_op op = {
		.dtype = JAL_DTYPE_Q4, .rd = 1, .rw = 2, .rx = 3, .raux = 4,
		.rows = JALRT_DIM(4), .cols = JALRT_DIM(64), .group = 64,
	};

	ASSERT_EQ(0, jalrt_context_create(self->dev, 0, &ctx));
	ASSERT_EQ(0, jalrt_graph_create(ctx, 0, &g));
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(g, &bad_group, &t));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "Q4 needs groups of 32"))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-EINVAL, jalrt_graph_tensor(g, &bad_cols, &t));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "48 columns"))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_graph_tensor(g, &wd, &w));
	EXPECT_EQ(32, jalrt_tensor_group(w));
	EXPECT_EQ(4 * 64 / 2 + 4 * 2 * 4, jalrt_tensor_bytes(w));
	vd.dims[0] = 64;
	ASSERT_EQ(0, jalrt_graph_tensor(g, &vd, &x));
	vd.dims[0] = 4;
	ASSERT_EQ(0, jalrt_graph_tensor(g, &vd, &d));
	ASSERT_EQ(0, jalrt_graph_allocate(g));
	ASSERT_EQ(0, jalrt_program_create(g, 0, &p));
	/* the chip quantises x for Q4 itself: the Q8X flag is for Q8 weights */
	EXPECT_EQ(-EINVAL, jalrt_op_matvec_flags(p, JALRT_REF(d), w, JALRT_REF(x),
						  JALRT_MATVEC_QUANTIZE_X));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "needs Q8 weights"))
		TH_LOG("%s", jalrt_last_error_message());
	jalrt_program_destroy(p);

	/* the kernel builder: a group other than 32 */
	ASSERT_EQ(0, jalrt_kb_create(0, &kb));
	EXPECT_EQ(-EINVAL, jalrt_kb_matvec_op(kb, &op));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "Q4 groups are 32 columns, not 64"))
		TH_LOG("%s", jalrt_last_error_message());
	jalrt_kb_destroy(kb);
	jalrt_graph_destroy(g);
	jalrt_context_destroy(ctx);
}

/*
 * jalrt_llm_options.ctx: a context below the model's sizes the KV cache
 * (and the positions) for it, and the positions it has are the full
 * context's, bit for bit.
 */
TEST_F(int4, a_smaller_context_shrinks_the_kv_cache)
{
	struct llm_config c = shape(96, false);
	struct jalrt_llm_options full = { .precision = JALRT_PRECISION_INT4 };
	struct jalrt_llm_options small = { .precision = JALRT_PRECISION_INT4, .ctx = 8 };
	struct jalrt_llm_info fi, si;
	struct jalrt_llm *a = NULL, *b = NULL;
	static float la[VOCAB], lb[VOCAB];
	char path[128];
	int pos;

	snprintf(path, sizeof(path), "%s/m.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(path, &c, 8));
	ASSERT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &full, &a));
	ASSERT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &small, &b));
	ASSERT_EQ(0, jalrt_llm_query(a, &fi));
	ASSERT_EQ(0, jalrt_llm_query(b, &si));
	EXPECT_EQ(32, fi.seq_len);
	EXPECT_EQ(8, si.seq_len);
	/* two layers' K and V of 32 f32 a position: 24 positions fewer */
	EXPECT_LE(si.device_bytes + 2 * 2 * 24 * 32 * 4, fi.device_bytes)
		TH_LOG("device bytes %llu and %llu", (unsigned long long)si.device_bytes,
		       (unsigned long long)fi.device_bytes);
	for (pos = 0; pos < 8; pos++) {
		ASSERT_EQ(0, jalrt_llm_forward(a, (pos * 31 + 1) % VOCAB, pos, la));
		ASSERT_EQ(0, jalrt_llm_forward(b, (pos * 31 + 1) % VOCAB, pos, lb));
		EXPECT_EQ(0, memcmp(la, lb, sizeof(la))) TH_LOG("position %d", pos);
	}
	EXPECT_EQ(-EINVAL, jalrt_llm_forward(b, 1, 8, lb));
	jalrt_llm_destroy(a);
	jalrt_llm_destroy(b);
	/* more than the model's is the model's */
	small.ctx = 1000;
	ASSERT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &small, &b));
	ASSERT_EQ(0, jalrt_llm_query(b, &si));
	EXPECT_EQ(32, si.seq_len);
	jalrt_llm_destroy(b);
}

static double secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Opt-in (scripts/int4-big-model.sh): a big Q4_0 file, e.g. a
 * TinyLlama-1.1B-shaped seeded model, named by $JAL_INT4_MODEL. A few
 * greedy tokens from BOS on the chip model in-process equal the
 * reference's int4 tokens, and every position's logits are the same
 * bits. Too slow and too big (several GB for the reference's f32 copy)
 * for make check, so it skips without the variable. The times it logs
 * are for the report, not checked.
 */
#define BIG_STEPS	6

/* an hour: the time depends on the model and the machine, not on a bug */
TEST_F_TIMEOUT(int4, a_big_q4_0_model_from_the_environment, 3600)
{
	const char *path = getenv("JAL_INT4_MODEL");
	struct jalrt_llm_options o = { .precision = JALRT_PRECISION_INT4, .ctx = BIG_STEPS + 1 };
	int bos = LLM_TOKEN_BOS, gen[BIG_STEPS + 2], want[BIG_STEPS + 1], pos, vocab;
	struct jalrt_llm_generate_params p = {
		.prompt = &bos, .n_prompt = 1, .steps = BIG_STEPS, .seed = 1,
		.on_token = collect, .opaque = gen,
	};
	struct llm_checkpoint *ck = NULL;
	struct jalrt_llm_stats st;
	struct jalrt_llm_info info;
	struct jalrt_llm *llm = NULL;
	struct llm_ref *ref = NULL;
	float *chip, *logits;
	double t0;
	int bad = 0;

	if (!path || !*path)
		SKIP(return, "JAL_INT4_MODEL names no model (scripts/int4-big-model.sh)");
	t0 = secs();
	ASSERT_EQ(0, jalrt_llm_load(self->dev, path, NULL, &o, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_query(llm, &info));
	TH_LOG("chip: loaded %d layers, dim %d, vocab %d in %.1f s; %.1f MiB of weights, arena %.1f MiB in %s memory",
	       info.n_layers, info.dim, info.vocab_size, secs() - t0,
	       info.weight_bytes / 1048576.0, info.device_bytes / 1048576.0,
	       info.in_vram ? "device" : "host");
	vocab = info.vocab_size;
	chip = malloc((size_t)vocab * sizeof(float) * BIG_STEPS);
	ASSERT_NE(NULL, chip);
	memset(gen, 0xff, sizeof(gen));
	gen[0] = LLM_TOKEN_BOS;
	t0 = secs();
	ASSERT_EQ(0, jalrt_llm_generate(llm, &p, &st)) TH_LOG("%s", jalrt_last_error_message());
	TH_LOG("chip: %d positions in %.2f s (%.2f tok/s after the first, in-process model)",
	       st.positions, secs() - t0, st.tokens_per_second);

	t0 = secs();
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck)) TH_LOG("%s", llm_last_error_message());
	ASSERT_EQ(0, llm_ref_create(ck, &ref));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	ASSERT_EQ(0, llm_ref_set_precision(ref, LLM_REF_PRECISION_INT4, 0));
	TH_LOG("reference: ready in %.1f s", secs() - t0);
	want[0] = LLM_TOKEN_BOS;
	t0 = secs();
	for (pos = 0; pos < BIG_STEPS; pos++) {
		ASSERT_EQ(0, llm_ref_forward(ref, want[pos], pos, &logits));
		want[pos + 1] = llm_sample_argmax(logits, vocab);
		ASSERT_EQ(0, jalrt_llm_forward(llm, want[pos], pos, chip + (size_t)pos * vocab));
		bad += memcmp(chip + (size_t)pos * vocab, logits, (size_t)vocab * sizeof(float)) != 0;
	}
	TH_LOG("reference and chip forwards: %.1f s for %d positions", secs() - t0, BIG_STEPS);
	EXPECT_EQ(0, bad) TH_LOG("%d positions' logits differ", bad);
	for (pos = 1; pos <= BIG_STEPS && pos <= st.positions; pos++) {
		if (want[pos - 1] == LLM_TOKEN_BOS && pos > 1)
			break;
		EXPECT_EQ(want[pos], gen[pos]) TH_LOG("position %d", pos);
	}
	TH_LOG("tokens: %d %d %d %d %d %d", want[1], want[2], want[3], want[4], want[5], want[6]);
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
	jalrt_llm_destroy(llm);
	free(chip);
}

/* The int4 rule on values whose results are known, and the nibble order. */
TEST_F(int4, quantisation_rule_and_layout)
{
	float x[2 * 32], back[2 * 32], scales[2];
	uint8_t packed[32];
	int8_t w[64];
	int i;

	/* group 0: largest magnitude -4 (scale 0.5); group 1: +4 (scale -0.5) */
	for (i = 0; i < 32; i++) {
		x[i] = 0.25f * (float)(i % 9) - 1.0f;	/* -1 .. 1 */
		x[32 + i] = x[i];
	}
	x[3] = -4.0f;
	x[32 + 5] = 4.0f;
	x[32 + 6] = -4.0f;	/* as large, other sign: +8 steps clamps to 7 */
	x[7] = NAN;		/* never the largest; quantises to 0 */
	ASSERT_EQ(0, jalrt_quantize_q4(packed, scales, x, 2, 32));
	EXPECT_EQ(0.5f, scales[0]);
	EXPECT_EQ(-0.5f, scales[1]);
	llm_q4_unpack(w, packed, 2);
	EXPECT_EQ(-8, w[3]);
	EXPECT_EQ(0, w[7]);
	EXPECT_EQ(-8, w[32 + 5]);
	EXPECT_EQ(7, w[32 + 6]);
	for (i = 0; i < 32; i++) {
		if (i == 3 || i == 7)
			continue;
		EXPECT_EQ((int)roundf(x[i] / 0.5f), w[i]) TH_LOG("column %d", i);
	}
	/* byte j: column j in the low nibble, column j + 16 in the high one, + 8 */
	EXPECT_EQ((w[3] + 8) | (w[19] + 8) << 4, packed[3]);
	EXPECT_EQ((w[32 + 6] + 8) | (w[32 + 22] + 8) << 4, packed[16 + 6]);
	ASSERT_EQ(0, jalrt_dequantize(JALRT_DTYPE_Q4, back, packed, scales, 2, 32, 32));
	for (i = 0; i < 64; i++)
		EXPECT_EQ((float)w[i] * scales[i / 32], back[i]);
	/* an all-zero group: scale 0, values 0 */
	memset(x, 0, sizeof(x));
	ASSERT_EQ(0, jalrt_quantize_q4(packed, scales, x, 1, 32));
	EXPECT_EQ(0.0f, scales[0]);
	for (i = 0; i < 16; i++)
		EXPECT_EQ(0x88, packed[i]);
	EXPECT_EQ(-EINVAL, jalrt_quantize_q4(packed, scales, x, 1, 48));
}

/* GGUF Q4_0: our writer's blocks, decoded by ggml's rule and split for the chip, agree. */
TEST_F(int4, q4_0_blocks_split_exactly)
{
	float x[96], dec[96], scales[3], mine[96];
	uint8_t blk[3 * GGML_Q4_0_BYTES], packed[48];
	int8_t w[96];
	int i;

	for (i = 0; i < 96; i++)
		x[i] = sinf((float)i * 0.7f) * (float)(1 + i / 32);
	gguf_quantize_q4_0(blk, x, 96);
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_Q4_0, blk, dec, 96));
	gguf_q4_0_split(blk, 96, packed, scales);
	for (i = 0; i < 3; i++) {
		uint16_t h;

		memcpy(&h, blk + i * GGML_Q4_0_BYTES, 2);
		EXPECT_EQ(gguf_f16_to_f32(h), scales[i]);
		EXPECT_EQ(0, memcmp(packed + 16 * i, blk + i * GGML_Q4_0_BYTES + 2, 16));
	}
	llm_q4_unpack(w, packed, 3);
	ASSERT_EQ(0, jalrt_dequantize(JALRT_DTYPE_Q4, mine, packed, scales, 3, 32, 32));
	for (i = 0; i < 96; i++) {
		EXPECT_EQ(dec[i], mine[i]) TH_LOG("element %d", i);
		/*
		 * within half a step of the source (the f16 scale adds a little),
		 * or a step where +8 steps clamp to 7
		 */
		EXPECT_TRUE(fabsf(dec[i] - x[i]) <= fabsf(scales[i / 32]) * 0.51f ||
			    (mine[i] == 7.0f * scales[i / 32] &&
			     fabsf(dec[i] - x[i]) <= fabsf(scales[i / 32]) * 1.01f))
			TH_LOG("element %d: %g for %g", i, dec[i], x[i]);
	}
}

TEST_HARNESS_MAIN
