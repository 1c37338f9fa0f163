// SPDX-License-Identifier: MIT
/*
 * Host tests of runtime/llm/checkpoint.c: loading llama2.c checkpoints,
 * rejecting every kind of malformed file with a clear error, and the
 * seeded random checkpoint writer behind jalrt-gen-model.
 */
#include <math.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "checkpoint.h"

/* The shape of llama2.c's stories15M.bin. */
static const int32_t shape_15m[7] = { 288, 768, 6, 6, 6, 32000, 256 };

LLM_TMPDIR_FIXTURE(ckpt)

/* Write an image with this header and float count; return the open code. */
static int open_image(const char *dir, const int32_t header[7], uint64_t floats,
		      struct llm_checkpoint **ckpt)
{
	char path[128];
	size_t size;
	void *img = llm_test_checkpoint_image(header, floats, &size);
	int ret;

	if (!img)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/model.bin", dir);
	ret = llm_write_file(path, img, size);
	free(img);
	if (ret)
		return ret;
	return llm_checkpoint_open(path, ckpt);
}

static uint64_t floats_of(const int32_t h[7])
{
	bool shared = h[5] > 0;

	return llm_test_weight_floats(h[0], h[1], h[2], h[3], h[4], shared ? h[5] : -h[5], h[6],
				      shared);
}

TEST_F(ckpt, valid_image_maps_every_tensor_in_run_c_order)
{
	/* dim 16, hidden 24, 2 layers, 4 heads, 2 kv heads, vocab 10, seq 8 */
	const int32_t header[7] = { 16, 24, 2, 4, 2, -10, 8 };
	struct llm_checkpoint *ckpt = NULL;
	const struct llm_weights *w;
	const float *base;

	ASSERT_EQ(0, open_image(self->dir, header, floats_of(header), &ckpt));
	EXPECT_EQ(16, ckpt->config.dim);
	EXPECT_EQ(24, ckpt->config.hidden_dim);
	EXPECT_EQ(2, ckpt->config.n_layers);
	EXPECT_EQ(4, ckpt->config.n_heads);
	EXPECT_EQ(2, ckpt->config.n_kv_heads);
	EXPECT_EQ(10, ckpt->config.vocab_size);
	EXPECT_EQ(8, ckpt->config.seq_len);
	EXPECT_FALSE(ckpt->config.shared_classifier);
	EXPECT_EQ(4, ckpt->config.head_size);
	EXPECT_EQ(8, ckpt->config.kv_dim);
	EXPECT_EQ(2, ckpt->config.kv_mul);
	EXPECT_EQ(28 + 4 * floats_of(header), ckpt->size);

	/* Offsets in floats, from run.c's memory_map_weights(). */
	w = &ckpt->weights;
	base = (const float *)((const char *)ckpt->data + 28);
	EXPECT_EQ(0, w->token_embedding - base);
	EXPECT_EQ(160, w->rms_att - base);
	EXPECT_EQ(192, w->wq - base);
	EXPECT_EQ(192 + 512, w->wk - base);
	EXPECT_EQ(704 + 256, w->wv - base);
	EXPECT_EQ(960 + 256, w->wo - base);
	EXPECT_EQ(1216 + 512, w->rms_ffn - base);
	EXPECT_EQ(1728 + 32, w->w1 - base);
	EXPECT_EQ(1760 + 768, w->w2 - base);
	EXPECT_EQ(2528 + 768, w->w3 - base);
	EXPECT_EQ(3296 + 768, w->rms_final - base);
	/* rms_final (16), then freq_cis real and imag (8 * 2 each). */
	EXPECT_EQ(4064 + 16 + 32, w->wcls - base);
	EXPECT_EQ(floats_of(header), (uint64_t)(w->wcls - base) + 160);
	llm_checkpoint_close(ckpt);
}

TEST_F(ckpt, shared_classifier_is_the_embedding)
{
	const int32_t header[7] = { 16, 24, 2, 4, 4, 10, 8 };
	struct llm_checkpoint *ckpt = NULL;

	ASSERT_EQ(0, open_image(self->dir, header, floats_of(header), &ckpt));
	EXPECT_TRUE(ckpt->config.shared_classifier);
	EXPECT_EQ(10, ckpt->config.vocab_size);
	EXPECT_EQ(1, ckpt->config.kv_mul);
	EXPECT_EQ(ckpt->weights.token_embedding, ckpt->weights.wcls);
	llm_checkpoint_close(ckpt);
}

TEST_F(ckpt, truncated_files_are_rejected)
{
	const int32_t header[7] = { 16, 24, 2, 4, 2, 10, 8 };
	uint64_t floats = floats_of(header);
	struct llm_checkpoint *ckpt = NULL;
	char path[128];
	size_t size, cut[] = { 0, 1, 27, 28, 29, 100 };
	void *img = llm_test_checkpoint_image(header, floats, &size);
	unsigned int i;

	ASSERT_NE(NULL, img);
	snprintf(path, sizeof(path), "%s/short.bin", self->dir);
	/* A header cut short, a header without weights, weights cut short. */
	for (i = 0; i < ARRAY_SIZE(cut); i++) {
		ASSERT_EQ(0, llm_write_file(path, img, cut[i]));
		EXPECT_EQ(-EINVAL, llm_checkpoint_open(path, &ckpt));
		EXPECT_NULL(ckpt);
		EXPECT_NE(NULL, strstr(llm_last_error_message(), "short.bin"));
	}
	/* One float missing at the end. */
	ASSERT_EQ(0, llm_write_file(path, img, size - 4));
	EXPECT_EQ(-EINVAL, llm_checkpoint_open(path, &ckpt));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "truncated"));
	TH_LOG("%s", llm_last_error_message());
	free(img);
}

TEST_F(ckpt, wrong_sizes_are_rejected)
{
	const int32_t header[7] = { 16, 24, 2, 4, 2, 10, 8 };
	struct llm_checkpoint *ckpt = NULL;
	int32_t flipped[7];

	/* Trailing data: not this model. */
	EXPECT_EQ(-EINVAL, open_image(self->dir, header, floats_of(header) + 1, &ckpt));
	/* A shared-classifier file with the unshared sign, and vice versa. */
	memcpy(flipped, header, sizeof(flipped));
	flipped[5] = -header[5];
	EXPECT_EQ(-EINVAL, open_image(self->dir, flipped, floats_of(header), &ckpt));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "opposite sign"));
	TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(-EINVAL, open_image(self->dir, header, floats_of(flipped), &ckpt));
	EXPECT_NULL(ckpt);
}

/* Each bad header field gives -EINVAL and names the problem. */
TEST_F(ckpt, bad_headers_are_rejected)
{
	static const struct {
		int32_t header[7];
		const char *says;
	} cases[] = {
		{ { 0, 24, 2, 4, 2, 10, 8 }, "dim" },
		{ { -16, 24, 2, 4, 2, 10, 8 }, "dim" },
		{ { 16, 0, 2, 4, 2, 10, 8 }, "hidden_dim" },
		{ { 16, -24, 2, 4, 2, 10, 8 }, "hidden_dim" },
		{ { 16, 24, 0, 4, 2, 10, 8 }, "n_layers" },
		{ { 16, 24, 2, 0, 2, 10, 8 }, "n_heads" },
		{ { 16, 24, 2, 4, 0, 10, 8 }, "n_kv_heads" },
		{ { 16, 24, 2, 4, -2, 10, 8 }, "n_kv_heads" },
		{ { 16, 24, 2, 4, 2, 0, 8 }, "vocab_size" },
		{ { 16, 24, 2, 4, 2, INT32_MIN, 8 }, "vocab_size" },
		{ { 16, 24, 2, 4, 2, 10, 0 }, "seq_len" },
		{ { 16, 24, 2, 4, 2, 10, -8 }, "seq_len" },
		{ { 18, 24, 2, 4, 2, 10, 8 }, "multiple of n_heads" },
		{ { 16, 24, 2, 4, 3, 10, 8 }, "multiple of n_kv_heads" },
		{ { 16, 24, 2, 4, 8, 10, 8 }, "multiple of n_kv_heads" },
		{ { 12, 24, 2, 4, 2, 10, 8 }, "odd" },
		/* Sizes that overflow 64-bit arithmetic. */
		{ { 1 << 30, 1 << 30, 1 << 30, 2, 2, 10, 8 }, "do not fit" },
		{ { 2, INT32_MAX, INT32_MAX, 1, 1, INT32_MAX, 8 }, "do not fit" },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct llm_checkpoint *ckpt = NULL;
		/* A few KB of weights: the header must fail before sizes matter. */
		int ret = open_image(self->dir, cases[i].header, 1024, &ckpt);

		EXPECT_EQ(-EINVAL, ret) TH_LOG("case %u", i);
		EXPECT_NULL(ckpt);
		EXPECT_NE(NULL, strstr(llm_last_error_message(), cases[i].says))
			TH_LOG("case %u said: %s", i, llm_last_error_message());
	}
}

TEST_F(ckpt, missing_and_special_files)
{
	struct llm_checkpoint *ckpt = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/none.bin", self->dir);
	EXPECT_EQ(-ENOENT, llm_checkpoint_open(path, &ckpt));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "none.bin"));
	EXPECT_EQ(-EINVAL, llm_checkpoint_open(self->dir, &ckpt));
	EXPECT_EQ(-EINVAL, llm_checkpoint_open("/dev/null", &ckpt));
	EXPECT_NULL(ckpt);
	llm_checkpoint_close(NULL);
}

TEST(parse_checks_alignment_and_size)
{
	const int32_t header[7] = { 16, 24, 2, 4, 2, 10, 8 };
	struct llm_checkpoint ckpt;
	size_t size;
	unsigned char *img = llm_test_checkpoint_image(header, floats_of(header), &size);
	unsigned char *shifted = malloc(size + 4);

	ASSERT_NE(NULL, img);
	ASSERT_NE(NULL, shifted);
	ASSERT_EQ(0, llm_checkpoint_parse(img, size, &ckpt));
	EXPECT_FALSE(ckpt.mapped);
	EXPECT_EQ(img, ckpt.data);
	EXPECT_EQ(-EINVAL, llm_checkpoint_parse(img, size - 1, &ckpt));
	EXPECT_EQ(-EINVAL, llm_checkpoint_parse(img, 0, &ckpt));
	memcpy(shifted + 1, img, size);
	EXPECT_EQ(-EINVAL, llm_checkpoint_parse(shifted + 1, size, &ckpt));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "aligned"));
	free(shifted);
	free(img);
}

TEST(config_helpers_round_trip)
{
	struct llm_config c;
	int32_t back[7];
	size_t size;

	ASSERT_EQ(0, llm_config_from_header(shape_15m, &c));
	EXPECT_TRUE(c.shared_classifier);
	EXPECT_EQ(48, c.head_size);
	llm_config_to_header(&c, back);
	EXPECT_EQ(0, memcmp(shape_15m, back, sizeof(back)));
	ASSERT_EQ(0, llm_checkpoint_file_size(&c, &size));
	/* stories15M.bin is 60816028 bytes. */
	EXPECT_EQ(60816028, size);
	EXPECT_EQ(28 + 4 * llm_test_weight_floats(288, 768, 6, 6, 6, 32000, 256, true), size);
	c.shared_classifier = false;
	llm_config_to_header(&c, back);
	EXPECT_EQ(-32000, back[5]);
}

TEST(shipped_models_load)
{
	static const struct {
		const char *name;
		int32_t shape[7];
	} models[] = {
		{ "aidreams260k.bin", { 64, 172, 4, 4, 4, 512, 128 } },
		{ "tiny260k.bin", { 64, 172, 5, 8, 4, 512, 512 } },
	};
	unsigned int i, found = 0;

	for (i = 0; i < 2; i++) {
		struct llm_checkpoint *ckpt = NULL;
		const struct llm_config *c;
		char path[PATH_MAX];

		llm_model_path(path, sizeof(path), models[i].name);
		if (!llm_readable(path))
			continue;
		found++;
		ASSERT_EQ(0, llm_checkpoint_open(path, &ckpt)) TH_LOG("%s", llm_last_error_message());
		c = &ckpt->config;
		EXPECT_EQ(models[i].shape[0], c->dim);
		EXPECT_EQ(models[i].shape[1], c->hidden_dim);
		EXPECT_EQ(models[i].shape[2], c->n_layers);
		EXPECT_EQ(models[i].shape[3], c->n_heads);
		EXPECT_EQ(models[i].shape[4], c->n_kv_heads);
		EXPECT_EQ(models[i].shape[5], c->vocab_size);
		EXPECT_EQ(models[i].shape[6], c->seq_len);
		EXPECT_EQ(28 + 4 * llm_test_weight_floats(c->dim, c->hidden_dim, c->n_layers,
							    c->n_heads, c->n_kv_heads, c->vocab_size,
							    c->seq_len, c->shared_classifier),
			  ckpt->size);
		llm_checkpoint_close(ckpt);
	}
	if (!found)
		SKIP(return, "no shipped test models (set JAL_MODELS_DIR)");
}

/* Statistics of n floats: mean and standard deviation. */
static void moments(const float *x, size_t n, double *mean, double *std)
{
	double sum = 0, sq = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		sum += x[i];
		sq += (double)x[i] * x[i];
	}
	*mean = sum / n;
	*std = sqrt(sq / n - *mean * *mean);
}

TEST_F(ckpt, random_writer_is_seeded_and_loadable)
{
	struct llm_config c = {
		.dim = 64, .hidden_dim = 160, .n_layers = 3, .n_heads = 8, .n_kv_heads = 2,
		.vocab_size = 300, .seq_len = 40, .shared_classifier = false,
	};
	char a[128], b[128], d[128];
	struct llm_checkpoint *ckpt = NULL;
	size_t size_a, size_b, size_d;
	void *bytes_a, *bytes_b, *bytes_d;
	double mean, std;
	unsigned int i;

	snprintf(a, sizeof(a), "%s/a.bin", self->dir);
	snprintf(b, sizeof(b), "%s/b.bin", self->dir);
	snprintf(d, sizeof(d), "%s/d.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(a, &c, 42));
	ASSERT_EQ(0, llm_checkpoint_write_random(b, &c, 42));
	ASSERT_EQ(0, llm_checkpoint_write_random(d, &c, 43));
	bytes_a = llm_read_file(a, &size_a);
	bytes_b = llm_read_file(b, &size_b);
	bytes_d = llm_read_file(d, &size_d);
	ASSERT_NE(NULL, bytes_a);
	ASSERT_NE(NULL, bytes_b);
	ASSERT_NE(NULL, bytes_d);
	EXPECT_EQ(28 + 4 * llm_test_weight_floats(64, 160, 3, 8, 2, 300, 40, false), size_a);
	ASSERT_EQ(size_a, size_b);
	ASSERT_EQ(size_a, size_d);
	EXPECT_EQ(0, memcmp(bytes_a, bytes_b, size_a));
	EXPECT_NE(0, memcmp((char *)bytes_a + 28, (char *)bytes_d + 28, size_a - 28));
	free(bytes_a);
	free(bytes_b);
	free(bytes_d);

	ASSERT_EQ(0, llm_checkpoint_open(a, &ckpt));
	EXPECT_EQ(2, ckpt->config.n_kv_heads);
	EXPECT_FALSE(ckpt->config.shared_classifier);
	EXPECT_NE(ckpt->weights.token_embedding, ckpt->weights.wcls);
	/* Matrices ~ N(0, 0.02), norms ~ 1 (+- 0.1). */
	moments(ckpt->weights.wq, 3 * 64 * 64, &mean, &std);
	EXPECT_TRUE(fabs(mean) < 0.002 && fabs(std - 0.02) < 0.002)
		TH_LOG("wq mean %g std %g", mean, std);
	moments(ckpt->weights.wcls, 300 * 64, &mean, &std);
	EXPECT_TRUE(fabs(mean) < 0.002 && fabs(std - 0.02) < 0.002)
		TH_LOG("wcls mean %g std %g", mean, std);
	moments(ckpt->weights.rms_att, 3 * 64, &mean, &std);
	EXPECT_TRUE(fabs(mean - 1) < 0.03 && std > 0.05 && std < 0.15)
		TH_LOG("rms_att mean %g std %g", mean, std);
	/* The unused RoPE tables sit between rms_final and wcls: zeros. */
	for (i = 0; i < 40 * 8; i++) {
		ASSERT_EQ(0.0f, ckpt->weights.rms_final[64 + i]);
	}
	llm_checkpoint_close(ckpt);

	/* A bad shape or an unwritable path fails cleanly. */
	c.n_kv_heads = 3;
	EXPECT_EQ(-EINVAL, llm_checkpoint_write_random(a, &c, 1));
	c.n_kv_heads = 2;
	EXPECT_EQ(-ENOENT, llm_checkpoint_write_random("/nonexistent-dir/x.bin", &c, 1));
}

TEST_F(ckpt, random_writer_makes_the_15m_shape)
{
	struct llm_config c;
	struct llm_checkpoint *ckpt = NULL;
	char path[128];
	struct stat st;

	ASSERT_EQ(0, llm_config_from_header(shape_15m, &c));
	snprintf(path, sizeof(path), "%s/15m.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(path, &c, 1));
	ASSERT_EQ(0, stat(path, &st));
	EXPECT_EQ(60816028, st.st_size);
	ASSERT_EQ(0, llm_checkpoint_open(path, &ckpt));
	EXPECT_EQ(288, ckpt->config.dim);
	EXPECT_EQ(32000, ckpt->config.vocab_size);
	EXPECT_TRUE(ckpt->config.shared_classifier);
	llm_checkpoint_close(ckpt);
}

TEST_HARNESS_MAIN
