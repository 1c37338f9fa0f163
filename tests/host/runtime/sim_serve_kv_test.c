// SPDX-License-Identifier: MIT
/*
 * The serving engine (runtime/serve/engine.c) with a bf16 KV cache
 * (jalrt_serve_options.kv_dtype, jalrt-serve --kv-type bf16) on the chip
 * model, aidreams260k:
 * - the stats say bf16 and a byte budget holds twice the f32 blocks;
 * - requests submitted together, continuously batched, each get the CPU
 *   reference's greedy tokens with its bf16 KV cache, token for token,
 *   also with a pool of one context (requests queue, may be preempted);
 * - a KV type the chip does not have fails the engine's creation.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "jalrt.h"
#include "jalrt_llm.h"
#include "jalrt_serve.h"
#include "test_device.h"

#include "checkpoint.h"
#include "reference.h"

#define NREQ		6
#define MAX_TOKENS	40

FIXTURE(serve_kv) {
	struct jalrt_device *dev;
	struct jalrt_llm *llm;
	char model[PATH_MAX];
};

FIXTURE_SETUP(serve_kv)
{
	const char *dir = getenv("JAL_MODELS_DIR");
	char tok[PATH_MAX];

	self->dev = NULL;
	self->llm = NULL;
	if (dir && *dir) {
		snprintf(self->model, sizeof(self->model), "%s/aidreams260k.bin", dir);
		snprintf(tok, sizeof(tok), "%s/tok512.bin", dir);
	} else {
		snprintf(self->model, sizeof(self->model), "%s/../shared/models/aidreams260k.bin",
			 JAL_REPO_DIR);
		snprintf(tok, sizeof(tok), "%s/../shared/models/tok512.bin", JAL_REPO_DIR);
	}
	if (access(self->model, R_OK) || access(tok, R_OK))
		SKIP(return, "aidreams260k.bin or tok512.bin not found (set JAL_MODELS_DIR)");
	ASSERT_EQ(0, test_device_open(&self->dev)) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_llm_load(self->dev, self->model, tok, NULL, &self->llm))
		TH_LOG("%s", jalrt_last_error_message());
}

FIXTURE_TEARDOWN(serve_kv)
{
	jalrt_llm_destroy(self->llm);
	jalrt_device_close(self->dev);
}

/* Request i's prompt: BOS and i + 1 tokens of its own. */
static int prompt_of(int i, int *p)
{
	int j;

	p[0] = 1;
	for (j = 1; j < i + 2; j++)
		p[j] = (i * 53 + j * 29) % 500 + 3;
	return i + 2;
}

/* The reference's greedy continuation with its bf16 cache. */
static void ref_tokens(struct __test_metadata *_metadata, const char *model, int i, int *out)
{
	struct llm_checkpoint *ck = NULL;
	struct llm_ref *ref = NULL;
	int p[16], n = prompt_of(i, p), pos, k = 0, tok;
	float *logits;

	ASSERT_EQ(0, llm_checkpoint_open(model, &ck));
	ASSERT_EQ(0, llm_ref_create(ck, &ref));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	ASSERT_EQ(0, llm_ref_set_kv(ref, LLM_REF_KV_BF16));
	for (pos = 0; k < MAX_TOKENS; pos++) {
		ASSERT_EQ(0, llm_ref_forward(ref, pos < n ? p[pos] : out[k - 1], pos, &logits));
		if (pos + 1 < n)
			continue;
		tok = llm_sample_argmax(logits, ck->config.vocab_size);
		if (tok == 1)	/* BOS ends a text: the engine stops there, without it */
			break;
		out[k++] = tok;
	}
	while (k < MAX_TOKENS)
		out[k++] = -1;
	llm_ref_destroy(ref);
	llm_checkpoint_close(ck);
}

static void run_requests(struct __test_metadata *_metadata, FIXTURE_DATA(serve_kv) *self,
			 const struct jalrt_serve_options *o)
{
	struct jalrt_serve_request *req[NREQ];
	struct jalrt_serve_engine *e = NULL;
	int p[NREQ][16], got[MAX_TOKENS], want[MAX_TOKENS], i, n;

	ASSERT_EQ(0, jalrt_serve_engine_create(self->llm, o, &e));
	for (i = 0; i < NREQ; i++) {
		struct jalrt_serve_params sp = {
			.prompt = p[i], .n_prompt = prompt_of(i, p[i]), .max_tokens = MAX_TOKENS,
		};

		ASSERT_EQ(0, jalrt_serve_submit(e, &sp, &req[i]));
	}
	for (i = 0; i < NREQ; i++) {
		ASSERT_EQ(0, jalrt_serve_wait(req[i], 600000));
		memset(got, 0xff, sizeof(got));
		n = jalrt_serve_tokens(req[i], got, MAX_TOKENS);
		ASSERT_LT(0, n);
		ref_tokens(_metadata, self->model, i, want);
		EXPECT_EQ(0, memcmp(got, want, sizeof(got))) TH_LOG("request %d", i);
		jalrt_serve_release(req[i]);
	}
	jalrt_serve_engine_destroy(e);
}

TEST_F_TIMEOUT(serve_kv, bf16_requests_get_the_reference_tokens, 600)
{
	struct jalrt_serve_options o = { .parallel = 4, .kv_dtype = JAL_DTYPE_BF16 };

	run_requests(_metadata, self, &o);
	/* one context's blocks: requests wait, and may be preempted */
	o.kv_blocks = 1;
	o.block_size = 4;
	run_requests(_metadata, self, &o);
}

TEST_F(serve_kv, stats_show_bf16_and_twice_the_blocks)
{
	struct jalrt_serve_options o = { .parallel = 2, .kv_bytes = 1 << 20 };
	struct jalrt_serve_engine *e = NULL;
	struct jalrt_serve_stats f, h;

	ASSERT_EQ(0, jalrt_serve_engine_create(self->llm, &o, &e));
	jalrt_serve_engine_stats(e, &f);
	jalrt_serve_engine_destroy(e);
	o.kv_dtype = JAL_DTYPE_BF16;
	ASSERT_EQ(0, jalrt_serve_engine_create(self->llm, &o, &e));
	jalrt_serve_engine_stats(e, &h);
	jalrt_serve_engine_destroy(e);
	EXPECT_EQ(JAL_DTYPE_F32, f.kv_dtype);
	EXPECT_EQ(JAL_DTYPE_BF16, h.kv_dtype);
	EXPECT_EQ(2 * f.kv_blocks_total, h.kv_blocks_total);
	EXPECT_EQ(f.kv_bytes, h.kv_bytes);
	EXPECT_GE(1u << 20, h.kv_bytes);

	o.kv_dtype = JAL_DTYPE_Q8;
	EXPECT_EQ(-EINVAL, jalrt_serve_engine_create(self->llm, &o, &e));
}

TEST_HARNESS_MAIN
