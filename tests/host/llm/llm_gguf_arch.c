// SPDX-License-Identifier: MIT
/*
 * Hyperparameters and architectures from GGUF files, on the chip model
 * (tests/host/runtime's sim backend, in-process) against the CPU
 * reference in the chip's order:
 * - a file's RoPE base and RMS epsilon: the chip's logits equal the
 *   reference's bit for bit (the reference takes them from the file too);
 * - RoPE scaling: Llama 3's bands, linear scaling and a file's
 *   rope_freqs.weight divisors become a frequency table (checked against
 *   a formula written here), the chip's ROPE uses
 *   it (JAL_INSN_F_ROPE_FREQS), single-sequence and batched, and the
 *   logits and greedy tokens equal the reference's;
 * - qwen2: Q, K and V biases from the file, added on the chip (single and
 *   batched) and in the reference: equal logits and tokens, at int8 too;
 *   its files keep Hugging Face's Q and K row order (NeoX RoPE), which
 *   the writer and the loader translate;
 * - every shape key read under the architecture's prefix; an unknown
 *   architecture or scaling type is an error that names it;
 * - jalrt-gen-model writes such files (--arch qwen2, --rope-scaling).
 */
#include <math.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "jalrt.h"
#include "jalrt_llm.h"
#include "sim_backend.h"

#include "gguf-model.h"
#include "reference.h"

#define VOCAB	256
#define POS	12

LLM_SIM_FIXTURE(arch);

/* head size 16: 8 pairs, whose wavelengths span Llama 3's bands below. */
static struct llm_config shape(void)
{
	struct llm_config c = {
		.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
		.vocab_size = VOCAB, .seq_len = 32, .shared_classifier = false,
	};

	return c;
}

static int forced(int pos)
{
	return pos ? (37 * pos + 11) % VOCAB : LLM_TOKEN_BOS;
}

/* The chip's logits of POS teacher-forced positions, at @precision. */
static int chip_logits_at(struct jalrt_device *dev, const char *path, unsigned int precision,
			  float *out)
{
	struct jalrt_llm_options o = { .precision = precision };
	struct jalrt_llm *llm = NULL;
	int pos, ret;

	ret = jalrt_llm_load(dev, path, NULL, &o, &llm);
	for (pos = 0; !ret && pos < POS; pos++)
		ret = jalrt_llm_forward(llm, forced(pos), pos, out + pos * VOCAB);
	jalrt_llm_destroy(llm);
	return ret;
}

static int chip_logits(struct jalrt_device *dev, const char *path, float *out)
{
	return chip_logits_at(dev, path, JALRT_PRECISION_F32, out);
}

/* The reference's, chip order, from the file loaded whole (int8: its int8 mode). */
static int ref_logits_at(const char *path, bool int8, float *out)
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
	if (!ret && int8)
		ret = llm_ref_set_precision(ref, LLM_REF_PRECISION_INT8, 0);
	for (pos = 0; !ret && pos < POS; pos++) {
		ret = llm_ref_forward(ref, forced(pos), pos, &logits);
		if (!ret)
			memcpy(out + pos * VOCAB, logits, VOCAB * sizeof(float));
	}
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
	return ret;
}

static int ref_logits(const char *path, float *out)
{
	return ref_logits_at(path, false, out);
}

/* The reference's logits of each greedy position (ref_greedy()). */
static float ref_step_logits[32][VOCAB];

/* Greedy tokens from BOS over the whole context: the reference's. */
static void ref_greedy(struct __test_metadata *_metadata, const char *path, int n, int *tokens)
{
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *ref = NULL;
	float *logits;
	int pos;

	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	ASSERT_EQ(0, llm_ref_create(ck, &ref));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	tokens[0] = LLM_TOKEN_BOS;
	for (pos = 0; pos + 1 < n; pos++) {
		ASSERT_EQ(0, llm_ref_forward(ref, tokens[pos], pos, &logits));
		memcpy(ref_step_logits[pos], logits, sizeof(ref_step_logits[pos]));
		tokens[pos + 1] = llm_sample_argmax(logits, VOCAB);
	}
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
}

static int collect(void *opaque, int prev, int token, int pos)
{
	(void)prev;
	((int *)opaque)[pos] = token;
	return 0;
}

/*
 * The chip's greedy tokens, by jalrt_llm_generate() and by a batch (the
 * sequence beside another one, one decode row a step, then the on-chip
 * decode loop), against the reference's. Generation stops at BOS; so does the comparison.
 */
static void check_tokens(struct __test_metadata *_metadata, struct jalrt_device *dev,
			 const char *path)
{
	int want[32], gen[32], bat[32], other[32], bos = LLM_TOKEN_BOS, n = 32, pos, out[2];
	struct jalrt_llm_generate_params p = {
		.prompt = &bos, .n_prompt = 1, .steps = n, .seed = 1,
		.on_token = collect, .opaque = gen,
	};
	struct jalrt_llm_batch_options bo = {
		.max_seqs = 2, .block_size = 4, .flags = JALRT_LLM_BATCH_LOGITS,
	};
	static float row_logits[VOCAB];
	int bad_logits = 0;
	struct jalrt_llm_stats st;
	struct jalrt_llm_batch_row rows[2];
	struct jalrt_llm_seq *s[2];
	struct jalrt_llm_batch *b = NULL;
	struct jalrt_llm *llm = NULL;

	ref_greedy(_metadata, path, n, want);
	ASSERT_EQ(0, jalrt_llm_load(dev, path, NULL, NULL, &llm))
		TH_LOG("%s", jalrt_last_error_message());
	memset(gen, 0xff, sizeof(gen));
	gen[0] = LLM_TOKEN_BOS;
	ASSERT_EQ(0, jalrt_llm_generate(llm, &p, &st)) TH_LOG("%s", jalrt_last_error_message());
	for (pos = 1; pos < st.positions + 1 && pos < n && (pos == 1 || want[pos - 1] != LLM_TOKEN_BOS);
	     pos++)
		EXPECT_EQ(want[pos], gen[pos]) TH_LOG("jalrt_llm_generate(), position %d", pos);

	ASSERT_EQ(0, jalrt_llm_batch_create(llm, &bo, &b)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &s[0]));
	ASSERT_EQ(0, jalrt_llm_seq_create(b, &s[1]));
	bat[0] = other[0] = LLM_TOKEN_BOS;
	other[0] = 7;	/* a different sequence beside it */
	/* steps up to position 15, then the on-chip decode loop, 8 at a time */
	for (pos = 0; pos + 1 < n && pos < 16; pos++) {
		memset(rows, 0, sizeof(rows));
		rows[0].seq = s[1];
		rows[0].pos = pos;
		rows[0].token = other[pos];
		rows[0].sample = true;
		rows[1].seq = s[0];
		rows[1].pos = pos;
		rows[1].token = bat[pos];
		rows[1].sample = true;
		ASSERT_EQ(0, jalrt_llm_batch_step(b, rows, 2, out))
			TH_LOG("%s", jalrt_last_error_message());
		other[pos + 1] = out[0];
		bat[pos + 1] = out[1];
		/* the batched row's logits: the reference's, bit for bit */
		ASSERT_EQ(0, jalrt_llm_batch_logits(b, 1, row_logits));
		bad_logits += memcmp(row_logits, ref_step_logits[pos], sizeof(row_logits)) != 0;
	}
	EXPECT_EQ(0, bad_logits) TH_LOG("%d batched positions' logits differ", bad_logits);
	for (; pos + 1 < n; pos += 8) {
		int steps = n - 1 - pos < 8 ? n - 1 - pos : 8, loop[16], k;

		memset(rows, 0, sizeof(rows));
		rows[0].seq = s[1];
		rows[0].pos = pos;
		rows[0].token = other[pos];
		rows[1].seq = s[0];
		rows[1].pos = pos;
		rows[1].token = bat[pos];
		ASSERT_EQ(0, jalrt_llm_batch_decode(b, rows, 2, steps, loop))
			TH_LOG("%s", jalrt_last_error_message());
		for (k = 0; k < steps; k++) {
			other[pos + 1 + k] = loop[2 * k];
			bat[pos + 1 + k] = loop[2 * k + 1];
		}
	}
	EXPECT_EQ(0, memcmp(bat, want, sizeof(want))) TH_LOG("batched tokens");
	jalrt_llm_batch_destroy(b);
	jalrt_llm_destroy(llm);
}

static void write_model(struct __test_metadata *_metadata, const struct llm_config *c,
			uint64_t seed, const char *path)
{
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_F32 };
	struct llm_checkpoint *ck = NULL;

	ASSERT_EQ(0, llm_checkpoint_random(c, seed, &ck)) TH_LOG("%s", llm_last_error_message());
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &o)) TH_LOG("%s", llm_last_error_message());
	llm_checkpoint_close(ck);
}

static void check_logits(struct __test_metadata *_metadata, struct jalrt_device *dev,
			 const char *path)
{
	static float a[POS * VOCAB], r[POS * VOCAB];

	ASSERT_EQ(0, chip_logits(dev, path, a)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, ref_logits(path, r)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(0, memcmp(a, r, sizeof(a)));
}

TEST_F(arch, rope_base_and_rms_epsilon_from_the_file_on_chip_and_reference)
{
	struct llm_config c = shape();
	static float d[POS * VOCAB], e[POS * VOCAB];
	char p0[128], p1[128];

	c.rope_theta = 500000.0f;
	c.rms_eps = 1e-6f;
	snprintf(p0, sizeof(p0), "%s/default.gguf", self->dir);
	snprintf(p1, sizeof(p1), "%s/theta.gguf", self->dir);
	write_model(_metadata, &c, 3, p1);
	c.rope_theta = 0.0f;
	c.rms_eps = 0.0f;
	write_model(_metadata, &c, 3, p0);
	check_logits(_metadata, self->dev, p1);
	/* and they matter: the reference's logits differ from the defaults' */
	ASSERT_EQ(0, ref_logits(p0, d));
	ASSERT_EQ(0, ref_logits(p1, e));
	EXPECT_NE(0, memcmp(d + VOCAB, e + VOCAB, (POS - 1) * VOCAB * sizeof(float)));
}

/*
 * Meta's llama3 frequency scaling, written out here independently: pair
 * j of a head of 16 at theta 10000, factor 8, bands 1 and 4 of an
 * original context of 64 (wavelengths 16 and 64).
 */
static double llama3_freq(int j, double theta, double factor, double low, double high,
			  double orig)
{
	double f = 1.0 / pow(theta, 2.0 * j / 16.0), wl = 2 * M_PI / f, smooth;

	if (wl < orig / high)
		return f;
	if (wl > orig / low)
		return f / factor;
	smooth = (orig / wl - low) / (high - low);
	return (1 - smooth) * f / factor + smooth * f;
}

TEST_F(arch, llama3_rope_scaling_runs_on_chip_as_on_the_reference)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL;
	int j, kept = 0, divided = 0, blended = 0;
	static float plain[POS * VOCAB], scaled[POS * VOCAB];
	char path[128], base[128];

	c.rope_scaling = LLM_ROPE_SCALING_LLAMA3;
	c.rope_factor = 8.0f;
	c.rope_orig_ctx = 64;
	snprintf(path, sizeof(path), "%s/llama3.gguf", self->dir);
	write_model(_metadata, &c, 9, path);
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(LLM_ROPE_SCALING_LLAMA3, ck->config.rope_scaling);
	EXPECT_EQ(8.0f, ck->config.rope_factor);
	EXPECT_EQ(1.0f, ck->config.rope_low_freq_factor);	/* defaults */
	EXPECT_EQ(4.0f, ck->config.rope_high_freq_factor);
	EXPECT_EQ(64, ck->config.rope_orig_ctx);
	ASSERT_NE(NULL, ck->rope_freqs);
	for (j = 0; j < 8; j++) {
		double want = llama3_freq(j, 10000.0, 8.0, 1.0, 4.0, 64.0);
		double base_f = 1.0 / pow(10000.0, 2.0 * j / 16.0);

		EXPECT_LE(fabs(ck->rope_freqs[j] - want), want * 1e-6) TH_LOG("pair %d", j);
		kept += fabs(want - base_f) < base_f * 1e-9;
		divided += fabs(want - base_f / 8) < base_f * 1e-9;
		blended += fabs(want - base_f) >= base_f * 1e-9 &&
			   fabs(want - base_f / 8) >= base_f * 1e-9;
	}
	/* the shape exercises all three bands */
	EXPECT_LT(0, kept);
	EXPECT_LT(0, divided);
	EXPECT_LT(0, blended);
	llm_checkpoint_close(ck);
	check_logits(_metadata, self->dev, path);
	check_tokens(_metadata, self->dev, path);
	/* the scaling changes the logits */
	c.rope_scaling = LLM_ROPE_SCALING_NONE;
	snprintf(base, sizeof(base), "%s/plain.gguf", self->dir);
	write_model(_metadata, &c, 9, base);
	ASSERT_EQ(0, chip_logits(self->dev, base, plain));
	ASSERT_EQ(0, chip_logits(self->dev, path, scaled));
	EXPECT_NE(0, memcmp(plain + VOCAB, scaled + VOCAB, (POS - 1) * VOCAB * sizeof(float)));
}

TEST_F(arch, linear_rope_scaling_divides_every_frequency)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL;
	char path[128];
	int j;

	c.rope_scaling = LLM_ROPE_SCALING_LINEAR;
	c.rope_factor = 4.0f;
	snprintf(path, sizeof(path), "%s/linear.gguf", self->dir);
	write_model(_metadata, &c, 4, path);
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck));
	ASSERT_NE(NULL, ck->rope_freqs);
	for (j = 0; j < 8; j++)
		EXPECT_EQ(1.0f / powf(10000.0f, (float)(2 * j) / 16.0f) / 4.0f, ck->rope_freqs[j]);
	llm_checkpoint_close(ck);
	check_logits(_metadata, self->dev, path);
}

/* A file's per-frequency divisors (llama.cpp's rope_freqs.weight). */
TEST(rope_freqs_factors_divide_the_base_frequencies)
{
	struct llm_config c = shape();
	float factors[8] = { 1, 1, 2, 3, 4, 8, 8, 1 }, out[8];
	int j;

	ASSERT_EQ(0, llm_config_init(&c));
	EXPECT_TRUE(llm_rope_freqs(&c, factors, out));
	for (j = 0; j < 8; j++)
		EXPECT_EQ(1.0f / powf(10000.0f, (float)(2 * j) / 16.0f) / factors[j], out[j]);
	/* all ones, no scaling: the plain frequencies, no table needed */
	for (j = 0; j < 8; j++)
		factors[j] = 1.0f;
	EXPECT_FALSE(llm_rope_freqs(&c, factors, out));
	EXPECT_FALSE(llm_rope_freqs(&c, NULL, out));
}

/* ... and read from a file, as llama.cpp's Llama 3 files carry them. */
TEST_F(arch, rope_freqs_tensor_of_a_file_runs_on_chip_as_on_the_reference)
{
	float factors[8] = { 1, 1, 1.5f, 2, 4, 8, 8, 8 };
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_F32, .rope_factors = factors };
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL, *rd = NULL;
	char path[128];
	int j;

	snprintf(path, sizeof(path), "%s/factors.gguf", self->dir);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 8, &ck));
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &o)) TH_LOG("%s", llm_last_error_message());
	ASSERT_EQ(0, llm_checkpoint_open(path, &rd)) TH_LOG("%s", llm_last_error_message());
	ASSERT_NE(NULL, rd->rope_freqs);
	for (j = 0; j < 8; j++)
		EXPECT_EQ(1.0f / powf(10000.0f, (float)(2 * j) / 16.0f) / factors[j],
			  rd->rope_freqs[j]);
	llm_checkpoint_close(rd);
	check_logits(_metadata, self->dev, path);
	check_tokens(_metadata, self->dev, path);
	/* a divisor of 0 is refused, by index */
	factors[3] = 0.0f;
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &o));
	EXPECT_EQ(-EINVAL, llm_checkpoint_open(path, &rd));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "rope_freqs.weight[3]"))
		TH_LOG("%s", llm_last_error_message());
	llm_checkpoint_close(ck);
}

TEST_F(arch, qwen2_biases_on_chip_as_on_the_reference)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL;
	static float a[POS * VOCAB], z[POS * VOCAB];
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_F32 };
	char path[128], zero[128];

	c.arch = LLM_ARCH_QWEN2;
	c.rope_theta = 1000000.0f;
	c.rms_eps = 1e-6f;
	snprintf(path, sizeof(path), "%s/qwen2.gguf", self->dir);
	write_model(_metadata, &c, 5, path);
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(LLM_ARCH_QWEN2, ck->config.arch);
	EXPECT_EQ(2, ck->config.n_kv_heads);
	EXPECT_EQ(32, ck->config.seq_len);
	EXPECT_FALSE(ck->config.shared_classifier);
	EXPECT_EQ(1000000.0f, ck->config.rope_theta);
	EXPECT_EQ(1e-6f, ck->config.rms_eps);
	ASSERT_NE(NULL, ck->weights.bq);
	ASSERT_NE(NULL, ck->weights.bk);
	ASSERT_NE(NULL, ck->weights.bv);
	check_logits(_metadata, self->dev, path);
	check_tokens(_metadata, self->dev, path);
	/* the biases matter: the same model with zero biases differs */
	memset((void *)ck->weights.bq, 0, sizeof(float) * 2 * 64);
	memset((void *)ck->weights.bk, 0, sizeof(float) * 2 * 32);
	memset((void *)ck->weights.bv, 0, sizeof(float) * 2 * 32);
	snprintf(zero, sizeof(zero), "%s/zero.gguf", self->dir);
	ASSERT_EQ(0, llm_gguf_write_model(zero, ck, &o));
	llm_checkpoint_close(ck);
	ASSERT_EQ(0, chip_logits(self->dev, path, a));
	ASSERT_EQ(0, chip_logits(self->dev, zero, z));
	EXPECT_NE(0, memcmp(a, z, sizeof(a)));
}

/*
 * qwen2's Q and K rows are Hugging Face's in its files (RoPE on halves,
 * llama.cpp's NeoX): row i of a head there is llama2.c's row 2i, row
 * i + head_size / 2 its row 2i + 1 (written out here from that rule).
 * The writer stores them so, the loader brings them back, for F32 and
 * Q8_0 files (whose rows are whole blocks), weights and biases.
 */
TEST_F(arch, qwen2_files_keep_hugging_faces_q_and_k_order)
{
	struct llm_config c = shape();
	struct llm_gguf_write_opts o = { .type = GGML_TYPE_F32 };
	struct llm_checkpoint *ck = NULL, *rd = NULL;
	const struct gguf_tensor *t;
	struct gguf_file *g = NULL;
	float *file = malloc(64 * 64 * 4), *want = malloc(64 * 64 * 4);
	uint8_t *q8 = malloc(64 * 64 * 2);
	char path[128];
	int h, i, l, bad = 0;

	c.arch = LLM_ARCH_QWEN2;
	snprintf(path, sizeof(path), "%s/order.gguf", self->dir);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 12, &ck));
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &o));
	ASSERT_EQ(0, gguf_open(path, &g));
	for (l = 0; l < 2; l++) {
		char name[64];
		const float *wq = ck->weights.wq + l * 64 * 64, *wk = ck->weights.wk + l * 32 * 64;
		const float *bq = ck->weights.bq + l * 64, *bk = ck->weights.bk + l * 32;

		snprintf(name, sizeof(name), "blk.%d.attn_q.weight", l);
		ASSERT_NE(NULL, t = gguf_find_tensor(g, name));
		memcpy(file, t->data, 64 * 64 * 4);
		for (h = 0; h < 4; h++)
			for (i = 0; i < 8; i++) {
				bad += memcmp(file + (h * 16 + i) * 64, wq + (h * 16 + 2 * i) * 64, 256) != 0;
				bad += memcmp(file + (h * 16 + 8 + i) * 64, wq + (h * 16 + 2 * i + 1) * 64,
					      256) != 0;
			}
		snprintf(name, sizeof(name), "blk.%d.attn_k.weight", l);
		ASSERT_NE(NULL, t = gguf_find_tensor(g, name));
		memcpy(file, t->data, 32 * 64 * 4);
		for (h = 0; h < 2; h++)
			for (i = 0; i < 8; i++) {
				bad += memcmp(file + (h * 16 + i) * 64, wk + (h * 16 + 2 * i) * 64, 256) != 0;
				bad += memcmp(file + (h * 16 + 8 + i) * 64, wk + (h * 16 + 2 * i + 1) * 64,
					      256) != 0;
			}
		snprintf(name, sizeof(name), "blk.%d.attn_q.bias", l);
		ASSERT_NE(NULL, t = gguf_find_tensor(g, name));
		memcpy(file, t->data, 64 * 4);
		for (h = 0; h < 4; h++)
			for (i = 0; i < 8; i++)
				bad += file[h * 16 + i] != bq[h * 16 + 2 * i] ||
				       file[h * 16 + 8 + i] != bq[h * 16 + 2 * i + 1];
		snprintf(name, sizeof(name), "blk.%d.attn_k.bias", l);
		ASSERT_NE(NULL, t = gguf_find_tensor(g, name));
		memcpy(file, t->data, 32 * 4);
		for (h = 0; h < 2; h++)
			for (i = 0; i < 8; i++)
				bad += file[h * 16 + i] != bk[h * 16 + 2 * i] ||
				       file[h * 16 + 8 + i] != bk[h * 16 + 2 * i + 1];
		/* V is not rotated: as it is */
		snprintf(name, sizeof(name), "blk.%d.attn_v.bias", l);
		ASSERT_NE(NULL, t = gguf_find_tensor(g, name));
		bad += memcmp(t->data, ck->weights.bv + l * 32, 32 * 4) != 0;
	}
	EXPECT_EQ(0, bad) TH_LOG("%d rows not in Hugging Face's order", bad);
	gguf_close(g);
	/* and back */
	ASSERT_EQ(0, llm_checkpoint_open(path, &rd)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(0, memcmp(rd->weights.wq, ck->weights.wq, 2 * 64 * 64 * 4));
	EXPECT_EQ(0, memcmp(rd->weights.wk, ck->weights.wk, 2 * 32 * 64 * 4));
	EXPECT_EQ(0, memcmp(rd->weights.bq, ck->weights.bq, 2 * 64 * 4));
	EXPECT_EQ(0, memcmp(rd->weights.bk, ck->weights.bk, 2 * 32 * 4));
	llm_checkpoint_close(rd);

	/* Q8_0: rows are quantised alone, so the loaded rows are llama2.c's quantised */
	o.type = GGML_TYPE_Q8_0;
	ASSERT_EQ(0, llm_gguf_write_model(path, ck, &o));
	ASSERT_EQ(0, llm_checkpoint_open(path, &rd)) TH_LOG("%s", llm_last_error_message());
	gguf_quantize_q8_0(q8, ck->weights.wq, 64 * 64);
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_Q8_0, q8, want, 64 * 64));
	EXPECT_EQ(0, memcmp(rd->weights.wq, want, 64 * 64 * 4));
	llm_checkpoint_close(rd);
	check_logits(_metadata, self->dev, path);
	llm_checkpoint_close(ck);
	free(file);
	free(want);
	free(q8);
}

/* Both at once, int8 weights too: still the reference's logits and tokens. */
TEST_F(arch, qwen2_with_llama3_scaling)
{
	struct llm_config c = shape();
	static float a[POS * VOCAB], r[POS * VOCAB];
	char path[128];

	c.arch = LLM_ARCH_QWEN2;
	c.rope_scaling = LLM_ROPE_SCALING_LLAMA3;
	c.rope_factor = 4.0f;
	c.rope_low_freq_factor = 2.0f;
	c.rope_high_freq_factor = 8.0f;
	c.rope_orig_ctx = 128;
	snprintf(path, sizeof(path), "%s/both.gguf", self->dir);
	write_model(_metadata, &c, 6, path);
	check_logits(_metadata, self->dev, path);
	check_tokens(_metadata, self->dev, path);
	ASSERT_EQ(0, chip_logits_at(self->dev, path, JALRT_PRECISION_INT8, a))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, ref_logits_at(path, true, r));
	EXPECT_EQ(0, memcmp(a, r, sizeof(a))) TH_LOG("int8");
}

/* Replace every @from in the file by @to (same length). */
static void patch_file(struct __test_metadata *_metadata, const char *path, const char *from,
		       const char *to)
{
	size_t size, n = strlen(from), i, hits = 0;
	char *buf = llm_read_file(path, &size);

	ASSERT_NE(NULL, buf);
	for (i = 0; i + n <= size; i++) {
		if (!memcmp(buf + i, from, n)) {
			memcpy(buf + i, to, n);
			hits++;
		}
	}
	ASSERT_LT(0, hits);
	ASSERT_EQ(0, llm_write_file(path, buf, size));
	free(buf);
}

TEST_F(arch, unknown_architecture_and_scaling_are_named)
{
	struct llm_config c = shape();
	struct llm_checkpoint *ck = NULL;
	struct jalrt_llm *llm = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/gemma.gguf", self->dir);
	write_model(_metadata, &c, 1, path);
	/* "llama" in the architecture and every key: a consistent gemma file */
	patch_file(_metadata, path, "llama", "gemma");
	EXPECT_EQ(-EINVAL, llm_checkpoint_open(path, &ck));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "'gemma'"))
		TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(-EINVAL, jalrt_llm_load(self->dev, path, NULL, NULL, &llm));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "'gemma'"))
		TH_LOG("%s", jalrt_last_error_message());

	c.rope_scaling = LLM_ROPE_SCALING_LLAMA3;
	c.rope_factor = 8.0f;
	snprintf(path, sizeof(path), "%s/yarn.gguf", self->dir);
	write_model(_metadata, &c, 1, path);
	patch_file(_metadata, path, "llama3", "yarn42");
	EXPECT_EQ(-EINVAL, llm_checkpoint_open(path, &ck));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "'yarn42'"))
		TH_LOG("%s", llm_last_error_message());

	/* a llama file with qwen2's biases is not a llama model */
	c = shape();
	c.arch = LLM_ARCH_QWEN2;
	snprintf(path, sizeof(path), "%s/llama-bias.gguf", self->dir);
	write_model(_metadata, &c, 1, path);
	patch_file(_metadata, path, "qwen2", "llama");
	EXPECT_EQ(-EINVAL, llm_checkpoint_open(path, &ck));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "bias"))
		TH_LOG("%s", llm_last_error_message());
}

/* jalrt-gen-model writes qwen2 and llama3-scaled files. */
TEST_F(arch, gen_model_writes_qwen2_and_llama3_files)
{
	struct llm_checkpoint *ck = NULL;
	char tool[PATH_MAX], path[128], cmd[PATH_MAX + 512];

	llm_tool_path(tool, sizeof(tool), "jalrt-gen-model");
	if (access(tool, X_OK))
		SKIP(return, "jalrt-gen-model not built");
	snprintf(path, sizeof(path), "%s/gen.gguf", self->dir);
	snprintf(cmd, sizeof(cmd),
		 "%s --dim 64 --hidden 96 --layers 2 --heads 4 --kv-heads 2 --vocab 256 --seq 32 "
		 "--unshared --arch qwen2 --rope-scaling llama3 --rope-factor 8 --rope-orig-ctx 64 "
		 "--rope-theta 500000 -o %s > /dev/null",
		 tool, path);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, llm_checkpoint_open(path, &ck)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(LLM_ARCH_QWEN2, ck->config.arch);
	EXPECT_EQ(LLM_ROPE_SCALING_LLAMA3, ck->config.rope_scaling);
	EXPECT_EQ(64, ck->config.rope_orig_ctx);
	EXPECT_EQ(500000.0f, ck->config.rope_theta);
	EXPECT_NE(NULL, ck->weights.bq);
	EXPECT_NE(NULL, ck->rope_freqs);
	llm_checkpoint_close(ck);
	check_logits(_metadata, self->dev, path);
	check_tokens(_metadata, self->dev, path);
	/* a llama2.c file cannot say qwen2 */
	snprintf(cmd, sizeof(cmd), "%s --arch qwen2 --format bin -o %s/x.bin 2> /dev/null", tool,
		 self->dir);
	EXPECT_NE(0, system(cmd));
}

TEST_HARNESS_MAIN
