// SPDX-License-Identifier: MIT
/*
 * Host tests of runtime/llm/gguf-model.c: llama models in GGUF files.
 *
 * - The files the writer (and jalrt-gen-model) produces are read by an
 *   independent reader, the npm package @huggingface/gguf run by Node
 *   (scripts/install-npm.sh installs the pinned version), which must
 *   report the same header, metadata, tensor shapes, types and offsets
 *   as ours. Skips without node/npm.
 * - The same seeded model as .bin and as F32 .gguf gives identical greedy
 *   tokens through the CPU reference; so does aidreams260k converted.
 * - Q and K rows: llama.cpp's permutation of Hugging Face rows composed
 *   with Hugging Face's of the original rows is the identity (so GGUF rows
 *   are llama2.c's), and a file with rows in Hugging Face's order gives
 *   other tokens (the comparison notices a layout mistake).
 * - Hyperparameters from the file; every missing or bad piece named.
 * - The vocabulary of tokenizer.ggml.* encodes like tokenizer.bin.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "gguf-model.h"
#include "reference.h"

static char *run_capture(const char *cmd, int *status);

/* A small model with grouped KV heads and odd-ish sizes (rows of 64 and 96: Q8_0-able). */
static struct llm_config small_config(bool shared)
{
	struct llm_config c = {
		.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
		.vocab_size = 320, .seq_len = 48, .shared_classifier = shared,
	};

	return c;
}

/*
 * @n positions through the reference from BOS: with @forced, position p > 0
 * is fed token (37 p + 11) % vocab (a random model's own greedy choice is
 * the same token over and over, which makes attention moot), else the
 * previous argmax. @out gets each position's argmax and @all_logits (if
 * not NULL) its logits, n * vocab floats.
 */
static int run_logits(const struct llm_checkpoint *ckpt, int n, bool forced, int *out,
		      float *all_logits)
{
	struct llm_ref *ref;
	float *logits;
	int pos, token = LLM_TOKEN_BOS, ret;

	ret = llm_ref_create(ckpt, &ref);
	if (ret)
		return ret;
	for (pos = 0; pos < n; pos++) {
		ret = llm_ref_forward(ref, token, pos, &logits);
		if (ret)
			break;
		if (all_logits)
			memcpy(all_logits + (size_t)pos * ckpt->config.vocab_size, logits,
			       (size_t)ckpt->config.vocab_size * sizeof(float));
		token = llm_sample_argmax(logits, ckpt->config.vocab_size);
		out[pos] = token;
		if (forced)
			token = (37 * (pos + 1) + 11) % ckpt->config.vocab_size;
	}
	llm_ref_destroy(ref);
	return ret;
}

static int greedy(const struct llm_checkpoint *ckpt, int n, int *out)
{
	return run_logits(ckpt, n, false, out, NULL);
}

LLM_TMPDIR_FIXTURE(gm)

static int write_gguf(const char *path, const struct llm_checkpoint *ckpt, uint32_t type,
		      const struct llm_tokenizer *tok)
{
	struct llm_gguf_write_opts o = { .type = type, .tokenizer = tok };

	return llm_gguf_write_model(path, ckpt, &o);
}

TEST_F(gm, bin_and_f32_gguf_give_identical_tokens_and_logits)
{
	for (int shared = 0; shared < 2; shared++) {
		struct llm_config c = small_config(shared);
		struct llm_checkpoint *bin = NULL, *gg = NULL;
		char bpath[128], gpath[128];
		int a[48], b[48];

		snprintf(bpath, sizeof(bpath), "%s/m%d.bin", self->dir, shared);
		snprintf(gpath, sizeof(gpath), "%s/m%d.gguf", self->dir, shared);
		ASSERT_EQ(0, llm_checkpoint_write_random(bpath, &c, 1234));
		ASSERT_EQ(0, llm_checkpoint_open(bpath, &bin));
		ASSERT_EQ(0, write_gguf(gpath, bin, GGML_TYPE_F32, NULL))
			TH_LOG("%s", llm_last_error_message());
		/* llm_checkpoint_open() recognises GGUF by its magic */
		ASSERT_EQ(0, llm_checkpoint_open(gpath, &gg)) TH_LOG("%s", llm_last_error_message());
		ASSERT_NE(NULL, gg->gguf);
		EXPECT_EQ(bin->config.dim, gg->config.dim);
		EXPECT_EQ(bin->config.hidden_dim, gg->config.hidden_dim);
		EXPECT_EQ(bin->config.n_layers, gg->config.n_layers);
		EXPECT_EQ(bin->config.n_heads, gg->config.n_heads);
		EXPECT_EQ(bin->config.n_kv_heads, gg->config.n_kv_heads);
		EXPECT_EQ(bin->config.vocab_size, gg->config.vocab_size);
		EXPECT_EQ(bin->config.seq_len, gg->config.seq_len);
		EXPECT_EQ(bin->config.shared_classifier, gg->config.shared_classifier);
		EXPECT_EQ(10000.0f, gg->config.rope_theta);
		EXPECT_EQ(1e-5f, gg->config.rms_eps);
		/* every weight bit for bit */
		EXPECT_EQ(0, memcmp(bin->weights.wq, gg->weights.wq, 2 * 64 * 64 * 4));
		EXPECT_EQ(0, memcmp(bin->weights.wk, gg->weights.wk, 2 * 32 * 64 * 4));
		EXPECT_EQ(0, memcmp(bin->weights.w2, gg->weights.w2, 2 * 64 * 96 * 4));
		EXPECT_EQ(0, memcmp(bin->weights.wcls, gg->weights.wcls, 320 * 64 * 4));
		EXPECT_EQ(0, memcmp(bin->weights.rms_final, gg->weights.rms_final, 64 * 4));
		float *la = malloc(48 * 320 * sizeof(float)), *lb = malloc(48 * 320 * sizeof(float));

		ASSERT_NE(NULL, la);
		ASSERT_NE(NULL, lb);
		ASSERT_EQ(0, run_logits(bin, 48, true, a, la));
		ASSERT_EQ(0, run_logits(gg, 48, true, b, lb));
		for (int i = 0; i < 48; i++) {
			ASSERT_EQ(a[i], b[i]) TH_LOG("position %d (shared %d)", i, shared);
		}
		/* and the logits bit for bit */
		EXPECT_EQ(0, memcmp(la, lb, 48 * 320 * sizeof(float)));
		free(la);
		free(lb);
		llm_checkpoint_close(bin);
		llm_checkpoint_close(gg);
	}
}

TEST_F(gm, converted_aidreams_generates_the_same_text)
{
	char bin_path[PATH_MAX], tok_path[PATH_MAX], gpath[128];
	struct llm_checkpoint *bin = NULL, *gg = NULL, *q8 = NULL;
	struct llm_tokenizer *tok = NULL;
	int a[64], b[64], c[64], same = 0;

	LLM_REQUIRE_MODEL(bin_path, "aidreams260k.bin");
	LLM_REQUIRE_MODEL(tok_path, "tok512.bin");
	ASSERT_EQ(0, llm_checkpoint_open(bin_path, &bin));
	ASSERT_EQ(0, llm_tokenizer_open(tok_path, 512, &tok));
	snprintf(gpath, sizeof(gpath), "%s/a.gguf", self->dir);
	ASSERT_EQ(0, write_gguf(gpath, bin, GGML_TYPE_F32, tok));
	ASSERT_EQ(0, llm_checkpoint_open(gpath, &gg)) TH_LOG("%s", llm_last_error_message());
	ASSERT_EQ(0, greedy(bin, 64, a));
	ASSERT_EQ(0, greedy(gg, 64, b));
	for (int i = 0; i < 64; i++) {
		ASSERT_EQ(a[i], b[i]) TH_LOG("position %d", i);
	}

	/* Q8_0 (w2's rows of 172 fall back to F16): a close model, mostly the same text */
	snprintf(gpath, sizeof(gpath), "%s/a8.gguf", self->dir);
	ASSERT_EQ(0, write_gguf(gpath, bin, GGML_TYPE_Q8_0, tok));
	ASSERT_EQ(0, llm_checkpoint_open(gpath, &q8)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(GGML_TYPE_Q8_0, gguf_find_tensor(q8->gguf, "blk.0.attn_q.weight")->type);
	EXPECT_EQ(GGML_TYPE_F16, gguf_find_tensor(q8->gguf, "blk.0.ffn_down.weight")->type);
	EXPECT_EQ(GGML_TYPE_F32, gguf_find_tensor(q8->gguf, "blk.0.ffn_norm.weight")->type);
	ASSERT_EQ(0, greedy(q8, 64, c));
	for (int i = 0; i < 64; i++)
		same += a[i] == c[i];
	EXPECT_GE(same, 32) TH_LOG("Q8_0 agrees on %d of 64 greedy tokens", same);
	llm_checkpoint_close(bin);
	llm_checkpoint_close(gg);
	llm_checkpoint_close(q8);
	llm_tokenizer_close(tok);
}

TEST_F(gm, f16_and_q8_0_weights_within_their_rounding)
{
	struct llm_config c = small_config(false);
	struct llm_checkpoint *src = NULL, *h = NULL, *q = NULL;
	char path[128];
	size_t n = 2 * 64 * 64, i;

	ASSERT_EQ(0, llm_checkpoint_random(&c, 99, &src));
	snprintf(path, sizeof(path), "%s/h.gguf", self->dir);
	ASSERT_EQ(0, write_gguf(path, src, GGML_TYPE_F16, NULL));
	ASSERT_EQ(0, llm_checkpoint_open(path, &h));
	snprintf(path, sizeof(path), "%s/q.gguf", self->dir);
	ASSERT_EQ(0, write_gguf(path, src, GGML_TYPE_Q8_0, NULL));
	ASSERT_EQ(0, llm_checkpoint_open(path, &q));
	for (i = 0; i < n; i++) {
		float x = src->weights.wq[i];

		/* f16: relative error <= 2^-11, absolute 2^-25 below 2^-14 (subnormals) */
		ASSERT_LE(fabsf(h->weights.wq[i] - x), fabsf(x) * 0x1p-11f + 0x1p-25f);
	}
	for (i = 0; i < n; i += 32) {
		float amax = 0.0f;

		for (int j = 0; j < 32; j++)
			amax = fmaxf(amax, fabsf(src->weights.wq[i + j]));
		for (int j = 0; j < 32; j++)
			/* half a step of amax / 127, plus f16 rounding of the scale */
			ASSERT_LE(fabsf(q->weights.wq[i + j] - src->weights.wq[i + j]),
				  amax / 127.0f * 0.5f + amax * 0x1p-10f);
	}
	/* norms stay f32: exact */
	EXPECT_EQ(0, memcmp(src->weights.rms_att, q->weights.rms_att, 2 * 64 * 4));
	llm_checkpoint_close(src);
	llm_checkpoint_close(h);
	llm_checkpoint_close(q);
}

/*
 * Row permutations of a Q/K matrix of @heads heads of @hs rows each:
 * - hf_permute: what Hugging Face's conversion script does to the original
 *   rows (w.view(heads, hs/2, 2, cols).transpose(1, 2)): row h*hs + 2j + t
 *   moves to h*hs + t*hs/2 + j.
 * - llamacpp_permute: what convert_hf_to_gguf.py does to Hugging Face rows
 *   (reshape(heads, 2, hs/2, cols).swapaxes(1, 2)): row h*hs + t*hs/2 + j
 *   moves to h*hs + 2j + t.
 * Written from those expressions, independently of runtime/llm.
 */
static void hf_permute(float *dst, const float *src, int heads, int hs, int cols)
{
	for (int h = 0; h < heads; h++)
		for (int j = 0; j < hs / 2; j++)
			for (int t = 0; t < 2; t++)
				memcpy(dst + (size_t)(h * hs + t * hs / 2 + j) * cols,
				       src + (size_t)(h * hs + 2 * j + t) * cols, cols * sizeof(float));
}

static void llamacpp_permute(float *dst, const float *src, int heads, int hs, int cols)
{
	/* source index as a view [h][t][j] of HF rows; destination [h][j][t] */
	for (int h = 0; h < heads; h++)
		for (int t = 0; t < 2; t++)
			for (int j = 0; j < hs / 2; j++)
				memcpy(dst + (size_t)(h * hs + 2 * j + t) * cols,
				       src + (size_t)(h * hs + t * hs / 2 + j) * cols, cols * sizeof(float));
}

TEST_F(gm, q_and_k_rows_are_llama2c_order)
{
	struct llm_config c = small_config(true);
	struct llm_checkpoint *src = NULL, *hf = NULL;
	size_t qn = 64 * 64, kn = 32 * 64;
	float *wq, *wk, *tmp;
	char path[128];
	int a[48], b[48];
	float *la = malloc(48 * 320 * sizeof(float)), *lb = malloc(48 * 320 * sizeof(float));
	float maxdiff = 0.0f;

	ASSERT_NE(NULL, la);
	ASSERT_NE(NULL, lb);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 5, &src));
	tmp = malloc(qn * sizeof(float));
	ASSERT_NE(NULL, tmp);
	/* HF(original) then llama.cpp(HF) gives the original rows back */
	hf_permute(tmp, src->weights.wq, 4, 16, 64);
	EXPECT_NE(0, memcmp(tmp, src->weights.wq, qn * sizeof(float)));
	{
		float *back = malloc(qn * sizeof(float));

		ASSERT_NE(NULL, back);
		llamacpp_permute(back, tmp, 4, 16, 64);
		EXPECT_EQ(0, memcmp(back, src->weights.wq, qn * sizeof(float)));
		free(back);
	}
	free(tmp);

	/* A file with HF-order Q and K rows (the permutation forgotten) is another model. */
	wq = (float *)src->weights.wq;	/* the random image is ours to change */
	wk = (float *)src->weights.wk;
	ASSERT_EQ(0, run_logits(src, 48, true, a, la));
	tmp = malloc(qn * sizeof(float));
	ASSERT_NE(NULL, tmp);
	for (int l = 0; l < 2; l++) {
		memcpy(tmp, wq + l * qn, qn * sizeof(float));
		hf_permute(wq + l * qn, tmp, 4, 16, 64);
		memcpy(tmp, wk + l * kn, kn * sizeof(float));
		hf_permute(wk + l * kn, tmp, 2, 16, 64);
	}
	free(tmp);
	snprintf(path, sizeof(path), "%s/hf.gguf", self->dir);
	ASSERT_EQ(0, write_gguf(path, src, GGML_TYPE_F32, NULL));
	ASSERT_EQ(0, llm_checkpoint_open(path, &hf));
	ASSERT_EQ(0, run_logits(hf, 48, true, b, lb));
	/*
	 * Position 0 attends to itself only (and RoPE is the identity there):
	 * Q and K cannot matter. Later positions must differ (logits: a random
	 * model's argmax hardly depends on attention).
	 */
	EXPECT_EQ(0, memcmp(la, lb, 320 * sizeof(float)));
	for (int i = 320; i < 48 * 320; i++)
		maxdiff = fmaxf(maxdiff, fabsf(la[i] - lb[i]));
	EXPECT_GT(maxdiff, 1e-6f) TH_LOG("HF-order Q/K rows gave the same logits");
	free(la);
	free(lb);
	llm_checkpoint_close(src);
	llm_checkpoint_close(hf);
}

TEST_F(gm, hyperparameters_come_from_the_file)
{
	struct llm_config c = small_config(true);
	struct llm_checkpoint *src = NULL, *gg = NULL;
	char path[128];

	c.rope_theta = 500000.0f;
	c.rms_eps = 1e-6f;
	c.seq_len = 40;
	ASSERT_EQ(0, llm_checkpoint_random(&c, 3, &src));
	EXPECT_EQ(500000.0f, src->config.rope_theta);
	snprintf(path, sizeof(path), "%s/h.gguf", self->dir);
	ASSERT_EQ(0, write_gguf(path, src, GGML_TYPE_F32, NULL));
	ASSERT_EQ(0, llm_checkpoint_open(path, &gg)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(500000.0f, gg->config.rope_theta);
	EXPECT_EQ(1e-6f, gg->config.rms_eps);
	EXPECT_EQ(40, gg->config.seq_len);
	EXPECT_EQ(2, gg->config.n_kv_heads);
	EXPECT_TRUE(gg->config.shared_classifier);
	llm_checkpoint_close(src);
	llm_checkpoint_close(gg);
}

/* A GGUF file with these metadata entries and the small model's tensors. */
struct kvspec {
	const char *key;
	int kind;	/* 0 u32, 1 f32, 2 string */
	double num;
	const char *str;
};

static int write_custom(const char *path, const struct kvspec *kv, int n_kv, const char *skip,
			const char *reshape, uint32_t type_of_q)
{
	struct gguf_writer *w = gguf_writer_create(32);
	char name[64];
	float *buf;
	FILE *f;
	int i, l, ret = 0;
	static const char *const per_layer[] = { "attn_norm", "attn_q", "attn_k", "attn_v",
		"attn_output", "ffn_norm", "ffn_gate", "ffn_down", "ffn_up" };

	if (!w)
		return -1;
	for (i = 0; i < n_kv; i++) {
		if (kv[i].kind == 0)
			ret |= gguf_writer_u32(w, kv[i].key, (uint32_t)kv[i].num);
		else if (kv[i].kind == 1)
			ret |= gguf_writer_f32(w, kv[i].key, (float)kv[i].num);
		else
			ret |= gguf_writer_str(w, kv[i].key, kv[i].str);
	}
	/* tensors: shapes from the config; contents irrelevant (zeros) */
	struct { char name[64]; uint64_t dims[2]; int nd; uint32_t type; } t[32];
	int nt = 0;
#define ADD(nm, d0, d1, nd_, ty) do { snprintf(t[nt].name, 64, "%s", nm); t[nt].dims[0] = d0; \
	t[nt].dims[1] = d1; t[nt].nd = nd_; t[nt].type = ty; nt++; } while (0)
	ADD("token_embd.weight", 64, 320, 2, GGML_TYPE_F32);
	for (l = 0; l < 2; l++) {
		for (i = 0; i < 9; i++) {
			uint64_t rows = i == 0 || i == 5 ? 1 : i == 2 || i == 3 ? 32 :
					i == 6 || i == 8 ? 96 : 64;
			uint64_t cols = i == 7 ? 96 : 64;

			llm_gguf_tensor_name(name, sizeof(name), per_layer[i], l);
			ADD(name, cols, rows, rows > 1 ? 2 : 1, i == 1 ? type_of_q : GGML_TYPE_F32);
			if (reshape && !strcmp(name, reshape))
				t[nt - 1].dims[1] += 1;
		}
	}
	ADD("output_norm.weight", 64, 1, 1, GGML_TYPE_F32);
	for (i = 0; i < nt; i++) {
		if (skip && !strcmp(t[i].name, skip))
			continue;
		ret |= gguf_writer_tensor(w, t[i].name, t[i].type, (uint32_t)t[i].nd, t[i].dims);
	}
	buf = calloc(64 * 321 * 4, 1);
	f = fopen(path, "wb");
	if (!buf || !f)
		return -1;
	ret |= gguf_writer_begin(w, f);
	for (i = 0; i < nt; i++) {
		uint64_t e = t[i].dims[0] * (t[i].nd > 1 ? t[i].dims[1] : 1);

		if (skip && !strcmp(t[i].name, skip))
			continue;
		ret |= gguf_writer_data(w, f, buf, gguf_tensor_bytes(t[i].type, e));
	}
	fclose(f);
	free(buf);
	gguf_writer_destroy(w);
	return ret;
}

#define BASE_KV \
	{ "general.architecture", 2, 0, "llama" }, \
	{ "llama.embedding_length", 0, 64, NULL }, \
	{ "llama.feed_forward_length", 0, 96, NULL }, \
	{ "llama.block_count", 0, 2, NULL }, \
	{ "llama.attention.head_count", 0, 4, NULL }, \
	{ "llama.attention.head_count_kv", 0, 2, NULL }, \
	{ "llama.context_length", 0, 16, NULL }

/* Expect opening @path to fail with a message containing @msg. */
#define EXPECT_LOAD_FAILS(path, msg) do {					\
	struct llm_checkpoint *c_ = NULL;					\
	EXPECT_EQ(-EINVAL, llm_checkpoint_open(path, &c_));			\
	EXPECT_EQ(NULL, c_);							\
	EXPECT_NE(NULL, strstr(llm_last_error_message(), msg))			\
		TH_LOG("message: %s (want '%s')", llm_last_error_message(), msg); \
} while (0)

TEST_F(gm, bad_models_are_named)
{
	char path[128];
	struct llm_checkpoint *ok = NULL;

	snprintf(path, sizeof(path), "%s/x.gguf", self->dir);
	{
		const struct kvspec kv[] = { BASE_KV };

		ASSERT_EQ(0, write_custom(path, kv, 7, NULL, NULL, GGML_TYPE_F32));
		ASSERT_EQ(0, llm_checkpoint_open(path, &ok)) TH_LOG("%s", llm_last_error_message());
		EXPECT_EQ(16, ok->config.seq_len);
		EXPECT_EQ(10000.0f, ok->config.rope_theta);	/* defaults */
		EXPECT_EQ(1e-5f, ok->config.rms_eps);
		llm_checkpoint_close(ok);
		ASSERT_EQ(0, write_custom(path, kv, 7, "blk.1.ffn_up.weight", NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "no tensor blk.1.ffn_up.weight");
		ASSERT_EQ(0, write_custom(path, kv, 7, NULL, "blk.0.attn_k.weight", GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "tensor blk.0.attn_k.weight is 64 x 33");
		ASSERT_EQ(0, write_custom(path, kv, 7, NULL, NULL, GGML_TYPE_Q4_1));
		EXPECT_LOAD_FAILS(path, "blk.0.attn_q.weight has type Q4_1 (3), which is not supported");
		ASSERT_EQ(0, write_custom(path, kv, 7, "token_embd.weight", NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "no tensor token_embd.weight");
	}
	{
		const struct kvspec kv[] = { BASE_KV, { "llama.rope.dimension_count", 0, 8, NULL } };

		ASSERT_EQ(0, write_custom(path, kv, 8, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "RoPE on 8 of a head's 16 dims");
	}
	{
		const struct kvspec kv[] = { BASE_KV, { "llama.vocab_size", 0, 32000, NULL } };

		ASSERT_EQ(0, write_custom(path, kv, 8, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "llama.vocab_size is 32000, token_embd.weight has 320 rows");
	}
	{
		const struct kvspec kv[] = { BASE_KV, { "llama.rope.scaling.type", 2, 0, "yarn" } };

		ASSERT_EQ(0, write_custom(path, kv, 8, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "RoPE scaling 'yarn' is not supported");
	}
	{
		const struct kvspec kv[] = { BASE_KV, { "llama.rope.freq_base", 1, -1.0, NULL } };

		ASSERT_EQ(0, write_custom(path, kv, 8, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "'llama.rope.freq_base' is -1");
	}
	{
		/* architecture other than llama */
		struct kvspec kv[] = { BASE_KV };

		kv[0].str = "gpt2";
		ASSERT_EQ(0, write_custom(path, kv, 7, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "architecture 'gpt2' is not supported");
		/* a required key missing */
		kv[0].str = "llama";
		ASSERT_EQ(0, write_custom(path, kv, 6, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "'llama.context_length' is missing");
		/* of the wrong type */
		kv[3].kind = 2;
		kv[3].str = "two";
		ASSERT_EQ(0, write_custom(path, kv, 7, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "'llama.block_count' has type string");
		/* a shape llm_config_init() refuses */
		kv[3].kind = 0;
		kv[4].num = 3;
		ASSERT_EQ(0, write_custom(path, kv, 7, NULL, NULL, GGML_TYPE_F32));
		EXPECT_LOAD_FAILS(path, "dim 64 is not a multiple of n_heads 3");
	}
	/* the path is named */
	EXPECT_NE(NULL, strstr(llm_last_error_message(), path));
}

TEST_F(gm, vocabulary_from_the_file_encodes_like_tokenizer_bin)
{
	char bin_path[PATH_MAX], tok_path[PATH_MAX], gpath[128];
	struct llm_checkpoint *bin = NULL, *gg = NULL;
	struct llm_tokenizer *tok = NULL, *gtok = NULL;
	static const char *const texts[] = { "I dreamed", "Once upon a time, a  dog\nran.", "" };
	int a[64], b[64], na, nb;

	LLM_REQUIRE_MODEL(bin_path, "aidreams260k.bin");
	LLM_REQUIRE_MODEL(tok_path, "tok512.bin");
	ASSERT_EQ(0, llm_checkpoint_open(bin_path, &bin));
	ASSERT_EQ(0, llm_tokenizer_open(tok_path, 512, &tok));
	snprintf(gpath, sizeof(gpath), "%s/a.gguf", self->dir);
	ASSERT_EQ(0, write_gguf(gpath, bin, GGML_TYPE_F32, tok));
	ASSERT_EQ(0, llm_checkpoint_open(gpath, &gg));
	ASSERT_EQ(0, llm_tokenizer_from_gguf(gg->gguf, 512, &gtok))
		TH_LOG("%s", llm_last_error_message());
	ASSERT_NE(NULL, gtok);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		na = llm_tokenizer_encode(tok, texts[i], true, false, a, 64);
		nb = llm_tokenizer_encode(gtok, texts[i], true, false, b, 64);
		ASSERT_EQ(na, nb);
		for (int j = 0; j < na; j++) {
			ASSERT_EQ(a[j], b[j]) TH_LOG("'%s' token %d", texts[i], j);
		}
	}
	for (int id = 3; id < 512; id++)
		ASSERT_STREQ(llm_tokenizer_decode(tok, 5, id), llm_tokenizer_decode(gtok, 5, id));
	{
		struct llm_tokenizer *bad = NULL;

		EXPECT_EQ(-EINVAL, llm_tokenizer_from_gguf(gg->gguf, 500, &bad));
		EXPECT_EQ(NULL, bad);
		EXPECT_NE(NULL, strstr(llm_last_error_message(), "512 tokens, the model has 500"));
	}
	llm_tokenizer_close(gtok);
	llm_tokenizer_close(tok);
	llm_checkpoint_close(bin);
	llm_checkpoint_close(gg);
}

/* ---- the cross-check with @huggingface/gguf ----------------------------- */

/* Run @cmd with the shell; its stdout in a malloc()ed string, or NULL. */
static char *run_capture(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	size_t n;

	if (!p || !out) {
		free(out);
		if (p)
			pclose(p);
		return NULL;
	}
	while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *bigger = realloc(out, cap * 2);

			if (!bigger)
				break;
			out = bigger;
			cap *= 2;
		}
	}
	out[len] = '\0';
	*status = pclose(p);
	return out;
}

static void dump_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void dump_add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < *cap - *len)
			break;
		*cap *= 2;
		*buf = realloc(*buf, *cap);
	}
	*len += (size_t)n;
}

static void dump_value(char **b, size_t *l, size_t *c, uint32_t type, const uint8_t *p)
{
	union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
		uint64_t u64; int64_t i64; float f; double d; } v;

	switch (type) {
	case GGUF_VAL_UINT8: memcpy(&v.u8, p, 1); dump_add(b, l, c, "%u", v.u8); break;
	case GGUF_VAL_INT8: memcpy(&v.i8, p, 1); dump_add(b, l, c, "%d", v.i8); break;
	case GGUF_VAL_UINT16: memcpy(&v.u16, p, 2); dump_add(b, l, c, "%u", v.u16); break;
	case GGUF_VAL_INT16: memcpy(&v.i16, p, 2); dump_add(b, l, c, "%d", v.i16); break;
	case GGUF_VAL_UINT32: memcpy(&v.u32, p, 4); dump_add(b, l, c, "%u", v.u32); break;
	case GGUF_VAL_INT32: memcpy(&v.i32, p, 4); dump_add(b, l, c, "%d", v.i32); break;
	case GGUF_VAL_UINT64: memcpy(&v.u64, p, 8); dump_add(b, l, c, "%" PRIu64, v.u64); break;
	case GGUF_VAL_INT64: memcpy(&v.i64, p, 8); dump_add(b, l, c, "%" PRId64, v.i64); break;
	case GGUF_VAL_BOOL: dump_add(b, l, c, "%s", p[0] ? "true" : "false"); break;
	case GGUF_VAL_FLOAT32:
		memcpy(&v.f, p, 4);
		if (v.f == truncf(v.f) && fabsf(v.f) < 1e15f) {
			dump_add(b, l, c, "%lld", (long long)v.f);
		} else {
			memcpy(&v.u32, p, 4);
			dump_add(b, l, c, "f:%08x", v.u32);
		}
		break;
	default:
		dump_add(b, l, c, "?");
		break;
	}
}

/* Our reader's view in gguf_dump.js's format. */
static char *our_dump(const struct gguf_file *g)
{
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap);
	uint64_t i, j;

	b[0] = '\0';
	dump_add(&b, &len, &cap, "version %u\ntensor_count %" PRIu64 "\nkv_count %" PRIu64
		 "\ndata_offset %" PRIu64 "\n", g->version, g->n_tensors, g->n_kv, g->data_offset);
	for (i = 0; i < g->n_kv; i++) {
		const struct gguf_kv *kv = &g->kv[i];
		uint32_t et = kv->type == GGUF_VAL_ARRAY ? kv->array_type : kv->type;
		const uint8_t *p = kv->data;

		dump_add(&b, &len, &cap, "kv %.*s ", (int)kv->key.len, kv->key.ptr);
		if (kv->type == GGUF_VAL_ARRAY)
			dump_add(&b, &len, &cap, "[%" PRIu64 "]", kv->count);
		for (j = 0; j < kv->count; j++) {
			if (kv->type == GGUF_VAL_ARRAY)
				dump_add(&b, &len, &cap, " ");
			if (et == GGUF_VAL_STRING) {
				uint64_t sl;

				memcpy(&sl, p, 8);
				dump_add(&b, &len, &cap, "s:");
				for (uint64_t k = 0; k < sl; k++)
					dump_add(&b, &len, &cap, "%02x", p[8 + k]);
				p += 8 + sl;
			} else {
				static const uint8_t sizes[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

				dump_value(&b, &len, &cap, et, p);
				p += sizes[et];
			}
		}
		dump_add(&b, &len, &cap, "\n");
	}
	for (i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];

		dump_add(&b, &len, &cap, "tensor %.*s n_dims %u", (int)t->name.len, t->name.ptr,
			 t->n_dims);
		for (j = 0; j < t->n_dims; j++)
			dump_add(&b, &len, &cap, " %" PRIu64, t->dims[j]);
		dump_add(&b, &len, &cap, " type %u offset %" PRIu64 "\n", t->type, t->offset);
	}
	return b;
}

/*
 * The node_modules directory scripts/install-npm.sh installs the pinned
 * @huggingface/gguf into ($JAL_CACHE/npm, $JAL_CACHE defaulting as in
 * scripts/config.sh), after running it; NULL (and why in @why) when node
 * 20 or the package is not there.
 */
static char *node_modules(char *why, size_t size)
{
	char script[PATH_MAX], pkg[PATH_MAX], *dir = malloc(PATH_MAX), cmd[PATH_MAX + 32];
	const char *cache = getenv("JAL_CACHE"), *xdg = getenv("XDG_CACHE_HOME");
	int status = 0;

	if (!dir)
		return NULL;
	if (system("node -e 'process.exit(+process.versions.node.split(\".\")[0] >= 20 ? 0 : 1)' >/dev/null 2>&1")) {
		snprintf(why, size, "node 20 or later not found");
		free(dir);
		return NULL;
	}
	snprintf(script, sizeof(script), "%s/scripts/install-npm.sh", JAL_REPO_DIR);
	if (llm_readable(script)) {
		snprintf(cmd, sizeof(cmd), "bash '%s' >&2", script);
		status = system(cmd);
	}
	if (cache && *cache)
		snprintf(dir, PATH_MAX, "%s/npm/node_modules", cache);
	else if (xdg && *xdg)
		snprintf(dir, PATH_MAX, "%s/jalapeno/npm/node_modules", xdg);
	else
		snprintf(dir, PATH_MAX, "%s/.cache/jalapeno/npm/node_modules", getenv("HOME"));
	snprintf(pkg, sizeof(pkg), "%s/@huggingface/gguf/package.json", dir);
	if (!llm_readable(pkg)) {
		snprintf(why, size, "@huggingface/gguf is not in %.40s (scripts/install-npm.sh %s, %d)",
			 dir, llm_readable(script) ? "present" : "missing", status);
		free(dir);
		return NULL;
	}
	return dir;
}

/* Compare the two dumps of @path; 0 if equal, else log the first difference. */
static int cross_check(struct __test_metadata *_metadata, const char *modules, const char *path)
{
	char cmd[PATH_MAX * 3];
	struct gguf_file *g = NULL;
	char *theirs, *ours, *a, *b;
	int status, line = 1;

	snprintf(cmd, sizeof(cmd), "NODE_PATH='%s' node '%s/tests/host/llm/gguf_dump.js' '%s'",
		 modules, JAL_REPO_DIR, path);
	theirs = run_capture(cmd, &status);
	if (!theirs || status) {
		TH_LOG("%s failed (status %d)", cmd, status);
		free(theirs);
		return -1;
	}
	if (gguf_open(path, &g)) {
		TH_LOG("our reader: %s", llm_last_error_message());
		free(theirs);
		return -1;
	}
	ours = our_dump(g);
	gguf_close(g);
	for (a = theirs, b = ours; *a && *a == *b; a++, b++)
		line += *a == '\n';
	if (*a || *b) {
		char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');

		if (ea)
			*ea = '\0';
		if (eb)
			*eb = '\0';
		TH_LOG("%s: line %d differs: @huggingface/gguf '...%.120s' ours '...%.120s'", path,
		       line, a, b);
		free(theirs);
		free(ours);
		return -1;
	}
	TH_LOG("%s: %d lines agree", path, line - 1);
	free(theirs);
	free(ours);
	return 0;
}

TEST_F(gm, gen_model_writes_the_same_model_as_bin_and_gguf)
{
	char tool[PATH_MAX], cmd[PATH_MAX * 4], bin[128], gg[128], q8[128];
	struct llm_checkpoint *a = NULL, *b = NULL, *q = NULL;
	const char *shape = "--dim 48 --hidden 64 --layers 2 --heads 3 --kv-heads 1 --vocab 96 --seq 12 --unshared --seed 9";
	char *out;
	int status;

	llm_tool_path(tool, sizeof(tool), "jalrt-gen-model");
	if (!llm_readable(tool))
		SKIP(return, "jalrt-gen-model not built (make -C runtime)");
	snprintf(bin, sizeof(bin), "%s/g.bin", self->dir);
	snprintf(gg, sizeof(gg), "%s/g.gguf", self->dir);
	snprintf(q8, sizeof(q8), "%s/g8", self->dir);
	snprintf(cmd, sizeof(cmd), "%s %s -o %s && %s %s -o %s && %s %s --format gguf --type q8_0 --rope-theta 20000 -o %s",
		 tool, shape, bin, tool, shape, gg, tool, shape, q8);
	out = run_capture(cmd, &status);
	ASSERT_EQ(0, status) TH_LOG("%s", out ? out : "");
	EXPECT_NE(NULL, strstr(out, "GGUF F32"));
	EXPECT_NE(NULL, strstr(out, "GGUF Q8_0"));
	free(out);
	ASSERT_EQ(0, llm_checkpoint_open(bin, &a));
	ASSERT_EQ(0, llm_checkpoint_open(gg, &b)) TH_LOG("%s", llm_last_error_message());
	ASSERT_EQ(0, llm_checkpoint_open(q8, &q)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(NULL, a->gguf);
	EXPECT_NE(NULL, b->gguf);
	EXPECT_FALSE(b->config.shared_classifier);
	EXPECT_EQ(1, b->config.n_kv_heads);
	EXPECT_EQ(0, memcmp(a->weights.token_embedding, b->weights.token_embedding, 96 * 48 * 4));
	EXPECT_EQ(0, memcmp(a->weights.wk, b->weights.wk, 2 * 16 * 48 * 4));
	EXPECT_EQ(0, memcmp(a->weights.w2, b->weights.w2, 2 * 48 * 64 * 4));
	EXPECT_EQ(0, memcmp(a->weights.wcls, b->weights.wcls, 96 * 48 * 4));
	EXPECT_EQ(0, memcmp(a->weights.rms_final, b->weights.rms_final, 48 * 4));
	EXPECT_EQ(20000.0f, q->config.rope_theta);
	/* rows of 64 are Q8_0; rows of 48 are no whole blocks: F16, as llama.cpp */
	EXPECT_EQ(GGML_TYPE_Q8_0, gguf_find_tensor(q->gguf, "blk.1.ffn_down.weight")->type);
	EXPECT_EQ(GGML_TYPE_F16, gguf_find_tensor(q->gguf, "output.weight")->type);
	/* .bin -> .gguf -> .bin: the same bytes */
	{
		char back[128];
		size_t n1, n2;
		void *d1, *d2;

		snprintf(back, sizeof(back), "%s/back.bin", self->dir);
		snprintf(cmd, sizeof(cmd), "%s --from %s -o %s 2>&1", tool, gg, back);
		out = run_capture(cmd, &status);
		EXPECT_EQ(0, status) TH_LOG("%s", out ? out : "");
		free(out);
		d1 = llm_read_file(bin, &n1);
		d2 = llm_read_file(back, &n2);
		ASSERT_NE(NULL, d1);
		ASSERT_NE(NULL, d2);
		ASSERT_EQ(n1, n2);
		EXPECT_EQ(0, memcmp(d1, d2, n1));
		free(d1);
		free(d2);
		/* a RoPE base run.c does not have cannot become a .bin */
		snprintf(cmd, sizeof(cmd), "%s --from %s -o %s 2>&1", tool, q8, back);
		out = run_capture(cmd, &status);
		EXPECT_NE(0, status);
		EXPECT_NE(NULL, strstr(out, "cannot hold RoPE base 20000"));
		free(out);
	}
	/* GGUF-only options are refused for .bin output */
	snprintf(cmd, sizeof(cmd), "%s %s --type q8_0 -o %s/x.bin 2>&1", tool, shape, self->dir);
	out = run_capture(cmd, &status);
	EXPECT_NE(0, status);
	EXPECT_NE(NULL, strstr(out, "are for GGUF output"));
	free(out);
	llm_checkpoint_close(a);
	llm_checkpoint_close(b);
	llm_checkpoint_close(q);
}

TEST_F(gm, huggingface_gguf_reads_our_files_alike)
{
	char why[256], tok_path[PATH_MAX], path[128], cmd[PATH_MAX * 2];
	struct llm_tokenizer *tok = NULL;
	struct llm_checkpoint *src = NULL;
	struct llm_config c = small_config(false);
	char *modules = node_modules(why, sizeof(why));
	char *out;
	int status;

	if (!modules)
		SKIP(return, "%s", why);
	llm_model_path(tok_path, sizeof(tok_path), "tok512.bin");
	if (llm_readable(tok_path))
		ASSERT_EQ(0, llm_tokenizer_open(tok_path, 0, &tok));
	c.vocab_size = tok ? llm_tokenizer_vocab_size(tok) : 320;
	c.rope_theta = 250000.0f;
	ASSERT_EQ(0, llm_checkpoint_random(&c, 42, &src));
	for (int t = 0; t < 4; t++) {
		uint32_t type = t == 0 ? GGML_TYPE_F32 : t == 1 ? GGML_TYPE_Q8_0 :
				t == 2 ? GGML_TYPE_F16 : GGML_TYPE_Q4_0;
		struct llm_gguf_write_opts o = { .type = type, .tokenizer = tok,
						 .alignment = t == 2 ? 64 : 0 };

		snprintf(path, sizeof(path), "%s/x%d.gguf", self->dir, t);
		ASSERT_EQ(0, llm_gguf_write_model(path, src, &o));
		EXPECT_EQ(0, cross_check(_metadata, modules, path));
	}
	/* jalrt-gen-model's output too (shared classifier, its defaults) */
	llm_tool_path(cmd, sizeof(cmd), "jalrt-gen-model");
	for (int t = 0; t < 2 && llm_readable(cmd); t++) {
		char run[PATH_MAX * 2 + 256];

		snprintf(path, sizeof(path), "%s/gen%d.gguf", self->dir, t);
		snprintf(run, sizeof(run),
			 "%s --dim 32 --hidden 64 --layers 1 --heads 2 --kv-heads 1 --vocab 100 --seq 8 --type %s -o %s >/dev/null",
			 cmd, t ? "q4_0" : "q8_0", path);
		out = run_capture(run, &status);
		free(out);
		ASSERT_EQ(0, status);
		EXPECT_EQ(0, cross_check(_metadata, modules, path));
	}
	llm_checkpoint_close(src);
	llm_tokenizer_close(tok);
	free(modules);
}

TEST_HARNESS_MAIN
