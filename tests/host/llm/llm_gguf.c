// SPDX-License-Identifier: MIT
/*
 * Host tests of runtime/llm/gguf.c: GGUF images built byte by byte here
 * (independently of the library's writer) are parsed, looked up and
 * rejected with the right message when malformed; conversions to f32
 * against hand-computed blocks; the writer round trip.
 */
#include <inttypes.h>
#include <math.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "gguf.h"

/* ---- a byte builder ------------------------------------------------------- */

struct img {
	uint8_t buf[8192];
	size_t len;
};

static void put(struct img *m, const void *p, size_t n)
{
	memcpy(m->buf + m->len, p, n);
	m->len += n;
}

static void u32(struct img *m, uint32_t v) { put(m, &v, 4); }
static void u64(struct img *m, uint64_t v) { put(m, &v, 8); }
static void str(struct img *m, const char *s) { u64(m, strlen(s)); put(m, s, strlen(s)); }
static void pad_to(struct img *m, size_t a) { while (m->len % a) m->buf[m->len++] = 0; }

static void header(struct img *m, uint32_t version, uint64_t nt, uint64_t nkv)
{
	m->len = 0;
	put(m, "GGUF", 4);
	u32(m, version);
	u64(m, nt);
	u64(m, nkv);
}

static void tensor_info(struct img *m, const char *name, uint32_t n_dims, const uint64_t *dims,
			uint32_t type, uint64_t offset)
{
	uint32_t d;

	str(m, name);
	u32(m, n_dims);
	for (d = 0; d < n_dims; d++)
		u64(m, dims[d]);
	u32(m, type);
	u64(m, offset);
}

/*
 * A valid image: 5 metadata entries (string, u32, f32, string array, i32
 * array) and two tensors: "a" f32 [3 x 2] at 0 and "b" f16 [4] at 32.
 * Returns the offset of the data section.
 */
static size_t good_image(struct img *m)
{
	const uint64_t da[2] = { 3, 2 }, db[1] = { 4 };
	size_t data;
	float f = 0.5f;
	int i;

	header(m, 3, 2, 5);
	str(m, "general.architecture"); u32(m, GGUF_VAL_STRING); str(m, "llama");
	str(m, "llama.block_count"); u32(m, GGUF_VAL_UINT32); u32(m, 7);
	str(m, "llama.rope.freq_base"); u32(m, GGUF_VAL_FLOAT32); put(m, &f, 4);
	str(m, "tokenizer.ggml.tokens"); u32(m, GGUF_VAL_ARRAY); u32(m, GGUF_VAL_STRING); u64(m, 3);
	str(m, "<unk>"); str(m, ""); str(m, "\xe2\x96\x81the");
	str(m, "ints"); u32(m, GGUF_VAL_ARRAY); u32(m, GGUF_VAL_INT32); u64(m, 2);
	u32(m, (uint32_t)-5); u32(m, 9);
	tensor_info(m, "a", 2, da, GGML_TYPE_F32, 0);
	tensor_info(m, "b", 1, db, GGML_TYPE_F16, 32);
	pad_to(m, 32);
	data = m->len;
	for (i = 0; i < 6; i++) {
		float v = (float)i + 0.25f;

		put(m, &v, 4);
	}
	pad_to(m, 32);
	for (i = 0; i < 4; i++) {
		uint16_t h = (uint16_t)(0x3c00 + i);	/* 1, 1+2^-10, ... */

		put(m, &h, 2);
	}
	return data;
}

static int parse(const struct img *m, struct gguf_file **g)
{
	/* a private copy: the parser may be handed any alignment */
	return gguf_parse(m->buf, m->len, g);
}

TEST(parses_metadata_and_tensors)
{
	struct img *m = calloc(1, sizeof(*m));
	struct gguf_file *g = NULL;
	const struct gguf_tensor *t;
	struct gguf_str s, toks[3];
	uint32_t v32, type;
	uint64_t count;
	const uint8_t *data;
	size_t data_off;
	float f;

	data_off = good_image(m);
	ASSERT_EQ(0, parse(m, &g)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(3, g->version);
	EXPECT_EQ(32, g->alignment);
	EXPECT_EQ(2, g->n_tensors);
	EXPECT_EQ(5, g->n_kv);
	EXPECT_EQ(data_off, g->data_offset);

	ASSERT_EQ(0, gguf_get_str(g, "general.architecture", &s));
	EXPECT_TRUE(gguf_str_eq(s, "llama"));
	ASSERT_EQ(0, gguf_get_u32(g, "llama.block_count", &v32));
	EXPECT_EQ(7, v32);
	ASSERT_EQ(0, gguf_get_f32(g, "llama.rope.freq_base", &f));
	EXPECT_EQ(0.5f, f);
	EXPECT_EQ(-ENOENT, gguf_get_u32(g, "llama.missing", &v32));
	/* wrong types say so */
	EXPECT_EQ(-EINVAL, gguf_get_u32(g, "general.architecture", &v32));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "'general.architecture' has type string"));
	EXPECT_EQ(-EINVAL, gguf_get_str(g, "llama.block_count", &s));

	ASSERT_EQ(0, gguf_get_array(g, "tokenizer.ggml.tokens", &type, &count, &data));
	EXPECT_EQ(GGUF_VAL_STRING, type);
	EXPECT_EQ(3, count);
	ASSERT_EQ(3, gguf_kv_array_strings(gguf_find_kv(g, "tokenizer.ggml.tokens"), toks, 3));
	EXPECT_TRUE(gguf_str_eq(toks[0], "<unk>"));
	EXPECT_EQ(0, toks[1].len);
	EXPECT_TRUE(gguf_str_eq(toks[2], "\xe2\x96\x81the"));
	ASSERT_EQ(0, gguf_get_array(g, "ints", &type, &count, &data));
	EXPECT_EQ(GGUF_VAL_INT32, type);
	EXPECT_EQ(-5, gguf_kv_array_i32(gguf_find_kv(g, "ints"), 0));
	EXPECT_EQ(9, gguf_kv_array_i32(gguf_find_kv(g, "ints"), 1));

	t = gguf_find_tensor(g, "a");
	ASSERT_NE(NULL, t);
	EXPECT_EQ(GGML_TYPE_F32, t->type);
	EXPECT_EQ(2, t->n_dims);
	EXPECT_EQ(3, t->dims[0]);
	EXPECT_EQ(2, t->dims[1]);
	EXPECT_EQ(1, t->dims[2]);
	EXPECT_EQ(6, t->elements);
	EXPECT_EQ(24, t->bytes);
	EXPECT_EQ(0, t->offset);
	EXPECT_EQ((const uint8_t *)m->buf + data_off, t->data);
	memcpy(&f, (const uint8_t *)t->data + 20, 4);
	EXPECT_EQ(5.25f, f);
	t = gguf_find_tensor(g, "b");
	ASSERT_NE(NULL, t);
	EXPECT_EQ(GGML_TYPE_F16, t->type);
	EXPECT_EQ(8, t->bytes);
	EXPECT_EQ((const uint8_t *)m->buf + data_off + 32, t->data);
	EXPECT_EQ(NULL, gguf_find_tensor(g, "c"));
	EXPECT_EQ(NULL, gguf_find_tensor(g, ""));
	gguf_close(g);
	free(m);
}

/* Parse @m, expect -EINVAL and a message containing @msg. */
#define EXPECT_REJECT(m, msg) do {						\
	struct gguf_file *g_ = NULL;						\
	EXPECT_EQ(-EINVAL, parse(m, &g_));					\
	EXPECT_EQ(NULL, g_);							\
	EXPECT_NE(NULL, strstr(llm_last_error_message(), msg))			\
		TH_LOG("message: %s (want '%s')", llm_last_error_message(), msg); \
} while (0)

TEST(rejects_bad_headers)
{
	struct img *m = calloc(1, sizeof(*m));

	good_image(m);
	memcpy(m->buf, "GGUG", 4);
	EXPECT_REJECT(m, "expected \"GGUF\"");
	good_image(m);
	m->buf[4] = 1;
	EXPECT_REJECT(m, "unsupported GGUF version 1");
	good_image(m);
	m->buf[4] = 0;
	m->buf[7] = 3;	/* a big-endian 3 */
	EXPECT_REJECT(m, "big-endian");
	good_image(m);
	m->len = 20;
	EXPECT_REJECT(m, "truncated: the metadata count");
	good_image(m);
	m->len = 3;
	EXPECT_REJECT(m, "too short");
	header(m, 3, 1ull << 40, 0);
	EXPECT_REJECT(m, "absurd tensor count");
	header(m, 3, 0, UINT64_MAX);
	EXPECT_REJECT(m, "absurd metadata count");
	free(m);
}

TEST(rejects_bad_metadata)
{
	struct img *m = calloc(1, sizeof(*m));

	/* a key whose length passes the end */
	header(m, 3, 0, 1);
	u64(m, 1000); put(m, "abc", 3);
	put(m, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	EXPECT_REJECT(m, "past the end of the file");
	/* a huge string value */
	header(m, 3, 0, 1);
	str(m, "k"); u32(m, GGUF_VAL_STRING); u64(m, UINT64_MAX);
	EXPECT_REJECT(m, "past the end of the file");
	/* unknown value type */
	header(m, 3, 0, 1);
	str(m, "k"); u32(m, 13); u32(m, 0);
	EXPECT_REJECT(m, "unknown value type 13");
	/* an array whose elements pass the end, overflowing count * size */
	header(m, 3, 0, 1);
	str(m, "k"); u32(m, GGUF_VAL_ARRAY); u32(m, GGUF_VAL_UINT64); u64(m, 1ull << 61);
	EXPECT_REJECT(m, "passes the end of the file");
	/* an array of too many strings */
	header(m, 3, 0, 1);
	str(m, "k"); u32(m, GGUF_VAL_ARRAY); u32(m, GGUF_VAL_STRING); u64(m, 1ull << 40);
	EXPECT_REJECT(m, "strings cannot fit");
	/* a string in an array whose length passes the end */
	header(m, 3, 0, 1);
	str(m, "k"); u32(m, GGUF_VAL_ARRAY); u32(m, GGUF_VAL_STRING); u64(m, 2);
	str(m, "ok"); u64(m, 99);
	EXPECT_REJECT(m, "element 1");
	/* nested arrays */
	header(m, 3, 0, 1);
	str(m, "k"); u32(m, GGUF_VAL_ARRAY); u32(m, GGUF_VAL_ARRAY); u64(m, 0);
	EXPECT_REJECT(m, "array of arrays");
	/* duplicate key */
	header(m, 3, 0, 2);
	str(m, "k"); u32(m, GGUF_VAL_UINT8); put(m, "\1", 1);
	str(m, "k"); u32(m, GGUF_VAL_UINT8); put(m, "\2", 1);
	EXPECT_REJECT(m, "duplicate metadata key 'k'");
	/* empty key */
	header(m, 3, 0, 1);
	str(m, ""); u32(m, GGUF_VAL_UINT8); put(m, "\1", 1);
	EXPECT_REJECT(m, "has length 0");
	/* alignment of the wrong type, or not a power of two */
	header(m, 3, 0, 1);
	str(m, "general.alignment"); u32(m, GGUF_VAL_UINT64); u64(m, 32);
	EXPECT_REJECT(m, "general.alignment has type uint64");
	header(m, 3, 0, 1);
	str(m, "general.alignment"); u32(m, GGUF_VAL_UINT32); u32(m, 48);
	EXPECT_REJECT(m, "not a power of two");
	header(m, 3, 0, 1);
	str(m, "general.alignment"); u32(m, GGUF_VAL_UINT32); u32(m, 0);
	EXPECT_REJECT(m, "not a power of two");
	free(m);
}

TEST(rejects_bad_tensor_infos)
{
	struct img *m = calloc(1, sizeof(*m));
	uint64_t d2[2] = { 32, 2 }, big[2] = { 1ull << 32, 1ull << 32 }, zero[1] = { 0 };
	uint64_t d1[1] = { 8 }, d5[5] = { 1, 1, 1, 1, 1 };

	/* too many dims */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 5, d5, GGML_TYPE_F32, 0);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "has 5 dimensions");
	/* zero dim */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 1, zero, GGML_TYPE_F32, 0);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "dimension 0 of 0");
	/* element count overflow */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 2, big, GGML_TYPE_F32, 0);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "overflows");
	/* unknown type, and its number */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 1, d1, 99, 0);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "tensor 't' has unknown type 99");
	/* a quantised row that is not whole blocks */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 1, d1, GGML_TYPE_Q8_0, 0);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "not a multiple of its block of 32");
	/* misaligned offset */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 1, d1, GGML_TYPE_F32, 4);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "not a multiple of the alignment 32");
	/* data past the end: 2 rows of 32 f32 = 256 bytes, 64 present */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 2, d2, GGML_TYPE_F32, 0);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "passes the end of the file");
	/* an offset that overflows */
	header(m, 3, 1, 0);
	tensor_info(m, "t", 1, d1, GGML_TYPE_F32, UINT64_MAX - 31);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "passes the end of the file");
	/* duplicate names */
	header(m, 3, 2, 0);
	tensor_info(m, "t", 1, d1, GGML_TYPE_F32, 0);
	tensor_info(m, "t", 1, d1, GGML_TYPE_F32, 32);
	pad_to(m, 32); m->len += 64;
	EXPECT_REJECT(m, "duplicate tensor name 't'");
	/* a truncated tensor info */
	header(m, 3, 1, 0);
	tensor_info(m, "tensor_with_a_longer_name", 1, d1, GGML_TYPE_F32, 0);
	m->len -= 6;
	EXPECT_REJECT(m, "truncated: a tensor offset");
	free(m);
}

/* A file of very many metadata entries parses in n log n (no quadratic scan). */
TEST(many_metadata_entries)
{
	const uint64_t n = 1000000;
	size_t size = 24 + n * (8 + 8 + 4 + 1);
	uint8_t *buf = malloc(size), *p;
	struct gguf_file *g = NULL;
	uint64_t i;

	ASSERT_NE(NULL, buf);
	memcpy(buf, "GGUF", 4);
	memcpy(buf + 4, &(uint32_t){ 3 }, 4);
	memcpy(buf + 8, &(uint64_t){ 0 }, 8);
	memcpy(buf + 16, &n, 8);
	for (i = 0, p = buf + 24; i < n; i++, p += 21) {
		uint64_t len = 8;
		char key[9];

		snprintf(key, sizeof(key), "%08" PRIx64, (i * 2654435761u) % 100000000);
		memcpy(p, &len, 8);
		memcpy(p + 8, key, 8);
		memcpy(p + 16, &(uint32_t){ GGUF_VAL_UINT8 }, 4);
		p[20] = (uint8_t)i;
	}
	/* keys (i * 2654435761) mod 10^8 are distinct for i < 10^6 */
	ASSERT_EQ(0, gguf_parse(buf, size, &g)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(n, g->n_kv);
	gguf_close(g);
	/* the last key again: a duplicate far from its twin */
	memcpy(buf + 24 + (n - 1) * 21 + 8, buf + 24 + 8, 8);
	EXPECT_EQ(-EINVAL, gguf_parse(buf, size, &g));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "duplicate metadata key"));
	free(buf);
}

TEST(known_but_unsupported_types_open_and_are_named)
{
	struct img *m = calloc(1, sizeof(*m));
	uint64_t d[1] = { 256 };
	struct gguf_file *g = NULL;
	float out[256];

	header(m, 3, 1, 0);
	tensor_info(m, "q5k", 1, d, GGML_TYPE_Q5_K, 0);
	pad_to(m, 32);
	m->len += 176;
	ASSERT_EQ(0, parse(m, &g)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(176, gguf_find_tensor(g, "q5k")->bytes);
	EXPECT_FALSE(gguf_type_supported(GGML_TYPE_Q5_K));
	EXPECT_EQ(-EINVAL, gguf_dequantize(GGML_TYPE_Q5_K, gguf_find_tensor(g, "q5k")->data, out, 256));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "Q5_K (13)"));
	gguf_close(g);
	EXPECT_STREQ("Q4_K", gguf_type_name(12));
	EXPECT_EQ(NULL, gguf_type_name(4));
	EXPECT_EQ(NULL, gguf_type_name(1000));
	free(m);
}

TEST(alignment_from_metadata)
{
	struct img *m = calloc(1, sizeof(*m));
	uint64_t d[1] = { 2 };
	struct gguf_file *g = NULL;
	size_t data;

	header(m, 3, 2, 1);
	str(m, "general.alignment"); u32(m, GGUF_VAL_UINT32); u32(m, 8);
	tensor_info(m, "x", 1, d, GGML_TYPE_F32, 0);
	tensor_info(m, "y", 1, d, GGML_TYPE_F32, 8);
	pad_to(m, 8);
	data = m->len;
	m->len += 16;
	ASSERT_EQ(0, parse(m, &g)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(8, g->alignment);
	EXPECT_EQ(data, g->data_offset);
	EXPECT_EQ(m->buf + data + 8, (const uint8_t *)gguf_find_tensor(g, "y")->data);
	gguf_close(g);
	free(m);
}

LLM_TMPDIR_FIXTURE(files)

TEST_F(files, open_maps_the_file_and_names_it_in_errors)
{
	struct img *m = calloc(1, sizeof(*m));
	struct gguf_file *g = NULL;
	char path[128];

	good_image(m);
	snprintf(path, sizeof(path), "%s/m.gguf", self->dir);
	ASSERT_EQ(0, llm_write_file(path, m->buf, m->len));
	ASSERT_EQ(0, gguf_open(path, &g)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(2, g->n_tensors);
	EXPECT_NE((const uint8_t *)m->buf, g->base);
	gguf_close(g);

	m->len -= 4;	/* tensor b's data now passes the end */
	ASSERT_EQ(0, llm_write_file(path, m->buf, m->len));
	EXPECT_EQ(-EINVAL, gguf_open(path, &g));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), path));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "tensor 'b'"));
	EXPECT_EQ(-ENOENT, gguf_open("/nonexistent/x.gguf", &g));
	free(m);
}

/* ---- conversions ---------------------------------------------------------- */

TEST(f16_and_bf16_conversions)
{
	EXPECT_EQ(1.0f, gguf_f16_to_f32(0x3c00));
	EXPECT_EQ(-2.0f, gguf_f16_to_f32(0xc000));
	EXPECT_EQ(65504.0f, gguf_f16_to_f32(0x7bff));
	EXPECT_EQ(0x1p-24f, gguf_f16_to_f32(0x0001));		/* smallest subnormal */
	EXPECT_EQ(0x3ffp-24f, gguf_f16_to_f32(0x03ff));
	EXPECT_EQ(0x1p-14f, gguf_f16_to_f32(0x0400));
	EXPECT_TRUE(isinf(gguf_f16_to_f32(0xfc00)) && gguf_f16_to_f32(0xfc00) < 0);
	EXPECT_TRUE(isnan(gguf_f16_to_f32(0x7e00)));
	EXPECT_TRUE(signbit(gguf_f16_to_f32(0x8000)));

	EXPECT_EQ(0x3c00, gguf_f32_to_f16(1.0f));
	EXPECT_EQ(0x3555, gguf_f32_to_f16(1.0f / 3.0f));	/* 0x3555.4 rounds down */
	EXPECT_EQ(0x3c00, gguf_f32_to_f16(1.0f + 0x1p-11f));	/* a tie: to even */
	EXPECT_EQ(0x3c02, gguf_f32_to_f16(1.0f + 3 * 0x1p-11f));	/* a tie: to even, up */
	EXPECT_EQ(0x7c00, gguf_f32_to_f16(65520.0f));		/* rounds to inf */
	EXPECT_EQ(0x7bff, gguf_f32_to_f16(65519.0f));
	EXPECT_EQ(0x0001, gguf_f32_to_f16(0x1p-24f));
	EXPECT_EQ(0x0000, gguf_f32_to_f16(0x1p-25f));		/* a tie: to even 0 */
	EXPECT_EQ(0x0002, gguf_f32_to_f16(0x3p-25f));		/* 1.5: to even 2 */
	EXPECT_EQ(0x0400, gguf_f32_to_f16(0x3ffp-24f + 0x1p-25f));	/* rounds to normal */
	EXPECT_EQ(0x7e00, gguf_f32_to_f16(NAN) & 0x7e00);
	EXPECT_EQ(0x8000, gguf_f32_to_f16(-0.0f));
	/* every finite half survives the round trip */
	for (uint32_t h = 0; h < 0x10000; h++)
		if ((h & 0x7c00) != 0x7c00)
			ASSERT_EQ(h, gguf_f32_to_f16(gguf_f16_to_f32((uint16_t)h)));

	EXPECT_EQ(1.0f, gguf_bf16_to_f32(0x3f80));
	EXPECT_EQ(-3.0f, gguf_bf16_to_f32(0xc040));
	EXPECT_EQ(0x1.02p0f, gguf_bf16_to_f32(0x3f81));
}

TEST(dequantize_f16_bf16_tensors)
{
	const uint16_t h[3] = { 0x3c00, 0xc000, 0x3800 }, b[3] = { 0x3f80, 0xc040, 0x4120 };
	float out[3];

	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_F16, h, out, 3));
	EXPECT_EQ(1.0f, out[0]);
	EXPECT_EQ(-2.0f, out[1]);
	EXPECT_EQ(0.5f, out[2]);
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_BF16, b, out, 3));
	EXPECT_EQ(1.0f, out[0]);
	EXPECT_EQ(-3.0f, out[1]);
	EXPECT_EQ(10.0f, out[2]);
}

TEST(dequantize_q8_0_block)
{
	uint8_t blk[2 * 34];
	float out[64];
	int i;

	/* block 0: d = 0.5 (0x3800), q = i - 16; block 1: d = -2 (0xc000), q = 127, -128 ... */
	blk[0] = 0x00; blk[1] = 0x38;
	for (i = 0; i < 32; i++)
		blk[2 + i] = (uint8_t)(int8_t)(i - 16);
	blk[34] = 0x00; blk[35] = 0xc0;
	for (i = 0; i < 32; i++)
		blk[36 + i] = (uint8_t)(i % 2 ? -128 : 127);
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_Q8_0, blk, out, 64));
	for (i = 0; i < 32; i++)
		EXPECT_EQ(0.5f * (i - 16), out[i]);
	EXPECT_EQ(-254.0f, out[32]);
	EXPECT_EQ(256.0f, out[33]);
	/* split into the chip's layout: values, then one f32 scale per block */
	{
		int8_t q[64];
		float sc[2];

		gguf_q8_0_split(blk, 64, q, sc);
		EXPECT_EQ(0.5f, sc[0]);
		EXPECT_EQ(-2.0f, sc[1]);
		for (i = 0; i < 64; i++)
			EXPECT_EQ(out[i], (float)q[i] * sc[i / 32]);
	}
	EXPECT_EQ(-EINVAL, gguf_dequantize(GGML_TYPE_Q8_0, blk, out, 40));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "not whole blocks"));
}

TEST(dequantize_q4_0_block)
{
	uint8_t blk[18];
	float out[32];
	int i;

	/* d = 2 (0x4000); byte j: low nibble j, high nibble 15 - j */
	blk[0] = 0x00; blk[1] = 0x40;
	for (i = 0; i < 16; i++)
		blk[2 + i] = (uint8_t)(i | ((15 - i) << 4));
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_Q4_0, blk, out, 32));
	/* low nibbles are elements 0..15, high ones 16..31; value (q - 8) * d */
	for (i = 0; i < 16; i++) {
		EXPECT_EQ(2.0f * (i - 8), out[i]);
		EXPECT_EQ(2.0f * (15 - i - 8), out[16 + i]);
	}
}

TEST(dequantize_q4_k_block)
{
	uint8_t blk[144];
	float out[256];
	/* sub-block scales and mins (6 bits) chosen to use the high bits too */
	const uint8_t sc[8] = { 1, 2, 3, 63, 17, 40, 5, 33 }, mn[8] = { 0, 4, 63, 1, 20, 9, 48, 2 };
	int j, l;

	memset(blk, 0, sizeof(blk));
	blk[0] = 0x00; blk[1] = 0x38;	/* d = 0.5 */
	blk[2] = 0x00; blk[3] = 0x34;	/* dmin = 0.25 */
	/*
	 * The 12 scale bytes: for j < 4, byte j = scale j (6 bits) and byte
	 * j + 4 = min j, their top 2 bits carrying the top bits of scale and
	 * min j + 4; byte j + 8 = low 4 bits of scale j + 4 | low 4 bits of
	 * min j + 4 << 4.
	 */
	for (j = 0; j < 4; j++) {
		blk[4 + j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
		blk[4 + j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
		blk[4 + j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
	}
	/* qs: 4 chunks of 32 bytes; chunk c holds sub-blocks 2c (low) and 2c+1 (high) */
	for (j = 0; j < 128; j++)
		blk[16 + j] = (uint8_t)((j % 16) | (((j * 7) % 16) << 4));
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_Q4_K, blk, out, 256));
	for (j = 0; j < 8; j++) {
		for (l = 0; l < 32; l++) {
			int byte = (j / 2) * 32 + l;
			int q = j % 2 ? ((byte * 7) % 16) : byte % 16;
			float want = 0.5f * sc[j] * q - 0.25f * mn[j];

			ASSERT_EQ(want, out[j * 32 + l]) TH_LOG("sub-block %d element %d", j, l);
		}
	}
	/* spot checks written out: sub-block 0 element 3 = 0.5*1*3 - 0; sub-block 3
	 * element 0 (byte 32, high nibble 224 % 16 = 0) = -0.25; sub-block 6 element 1
	 * (byte 97, low nibble 1) = 0.5*5*1 - 0.25*48 */
	EXPECT_EQ(1.5f, out[3]);
	EXPECT_EQ(-0.25f, out[96]);
	EXPECT_EQ(2.5f - 12.0f, out[193]);
}

TEST(dequantize_q6_k_block)
{
	uint8_t blk[210];
	float out[256];
	int8_t sc[16];
	int i;

	memset(blk, 0, sizeof(blk));
	for (i = 0; i < 16; i++)
		sc[i] = (int8_t)(i % 2 ? -(i + 1) : i + 1);
	memcpy(blk + 192, sc, 16);
	blk[208] = 0x00; blk[209] = 0x38;	/* d = 0.5 */
	/*
	 * Element e of a 128-half h (e = 32 * k + l, k = 0..3, l = 0..31):
	 * low 4 bits in ql[64h + l + 32 * (k % 2)], low nibble for k < 2 else
	 * high; top 2 bits in qh[32h + l] bits 2k..2k+1; scale sc[8h + 2k + l / 16].
	 * Set the 6-bit value q(e) = (e * 5 + 3) % 64 for every element.
	 */
	for (int e = 0; e < 256; e++) {
		int h = e / 128, k = (e % 128) / 32, l = e % 32, q = (e * 5 + 3) % 64;
		uint8_t *lo = &blk[64 * h + l + 32 * (k % 2)];

		*lo |= (uint8_t)(k < 2 ? (q & 15) : (q & 15) << 4);
		blk[128 + 32 * h + l] |= (uint8_t)((q >> 4) << (2 * k));
	}
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_Q6_K, blk, out, 256));
	for (int e = 0; e < 256; e++) {
		int h = e / 128, k = (e % 128) / 32, l = e % 32, q = (e * 5 + 3) % 64;
		float want = 0.5f * sc[8 * h + 2 * k + l / 16] * (q - 32);

		ASSERT_EQ(want, out[e]) TH_LOG("element %d", e);
	}
	/* written out: element 0, q = 3, scale 1: 0.5 * (3 - 32) */
	EXPECT_EQ(-14.5f, out[0]);
	/* element 255: q = (1275 + 3) % 64 = 62, scale sc[15] = -16: 0.5 * -16 * 30 */
	EXPECT_EQ(-240.0f, out[255]);
}

TEST(quantize_q8_0_as_llama_cpp)
{
	float x[32], back[32];
	uint8_t blk[34];
	int i;

	for (i = 0; i < 32; i++)
		x[i] = (float)(i - 10) * 0.125f;
	gguf_quantize_q8_0(blk, x, 32);
	/* d = 2.625 / 127 as f16; the largest magnitude becomes 127 */
	EXPECT_EQ(gguf_f32_to_f16(2.625f / 127.0f), (uint16_t)(blk[0] | blk[1] << 8));
	EXPECT_EQ(127, (int8_t)blk[2 + 31]);
	EXPECT_EQ(0, (int8_t)blk[2 + 10]);
	ASSERT_EQ(0, gguf_dequantize(GGML_TYPE_Q8_0, blk, back, 32));
	for (i = 0; i < 32; i++)
		EXPECT_LE(fabsf(back[i] - x[i]), 2.625f / 127.0f * 0.51f + 1e-3f);
	/* an all-zero block: d 0, q 0 */
	memset(x, 0, sizeof(x));
	gguf_quantize_q8_0(blk, x, 32);
	for (i = 0; i < 34; i++)
		EXPECT_EQ(0, blk[i]);
}

/* ---- writer --------------------------------------------------------------- */

TEST_F(files, writer_round_trip)
{
	const char *toks[3] = { "a", "", "ccc" };
	const uint64_t lens[3] = { 1, 0, 3 };
	const float scores[3] = { 0.0f, -1.0f, 2.5f };
	float w[2 * 32];
	uint64_t d2[2] = { 32, 2 }, d1[1] = { 3 };
	uint8_t q[2 * 34];
	struct gguf_writer *wr;
	struct gguf_file *g = NULL;
	struct gguf_str s[3];
	char path[128];
	float f;
	uint32_t u;
	FILE *fp;
	int i;

	for (i = 0; i < 64; i++)
		w[i] = (float)i;
	gguf_quantize_q8_0(q, w, 64);
	snprintf(path, sizeof(path), "%s/w.gguf", self->dir);
	wr = gguf_writer_create(64);
	ASSERT_NE(NULL, wr);
	ASSERT_EQ(0, gguf_writer_str(wr, "general.architecture", "llama"));
	ASSERT_EQ(0, gguf_writer_u32(wr, "n", 42));
	ASSERT_EQ(0, gguf_writer_f32(wr, "f", 1e-5f));
	ASSERT_EQ(0, gguf_writer_str_array(wr, "toks", toks, lens, 3));
	ASSERT_EQ(0, gguf_writer_array(wr, "scores", GGUF_VAL_FLOAT32, scores, 3));
	ASSERT_EQ(0, gguf_writer_tensor(wr, "v", GGML_TYPE_F32, 1, d1));
	ASSERT_EQ(0, gguf_writer_tensor(wr, "m", GGML_TYPE_Q8_0, 2, d2));
	EXPECT_EQ(-EINVAL, gguf_writer_tensor(wr, "bad", GGML_TYPE_Q8_0, 1, d1));
	fp = fopen(path, "wb");
	ASSERT_NE(NULL, fp);
	ASSERT_EQ(0, gguf_writer_begin(wr, fp));
	EXPECT_EQ(-EINVAL, gguf_writer_data(wr, fp, w, 8));
	ASSERT_EQ(0, gguf_writer_data(wr, fp, w, 12));
	ASSERT_EQ(0, gguf_writer_data(wr, fp, q, 68));
	EXPECT_EQ(-EINVAL, gguf_writer_data(wr, fp, q, 68));
	ASSERT_EQ(0, fclose(fp));
	gguf_writer_destroy(wr);

	ASSERT_EQ(0, gguf_open(path, &g)) TH_LOG("%s", llm_last_error_message());
	EXPECT_EQ(64, g->alignment);
	EXPECT_EQ(0, g->data_offset % 64);
	ASSERT_EQ(0, gguf_get_u32(g, "n", &u));
	EXPECT_EQ(42, u);
	ASSERT_EQ(0, gguf_get_f32(g, "f", &f));
	EXPECT_EQ(1e-5f, f);
	ASSERT_EQ(3, gguf_kv_array_strings(gguf_find_kv(g, "toks"), s, 3));
	EXPECT_TRUE(gguf_str_eq(s[2], "ccc"));
	EXPECT_EQ(2.5f, gguf_kv_array_f32(gguf_find_kv(g, "scores"), 2));
	EXPECT_EQ(0, gguf_find_tensor(g, "v")->offset);
	EXPECT_EQ(64, gguf_find_tensor(g, "m")->offset);
	EXPECT_EQ(0, memcmp(gguf_find_tensor(g, "m")->data, q, 68));
	EXPECT_EQ(0, memcmp(gguf_find_tensor(g, "v")->data, w, 12));
	gguf_close(g);
}

TEST_HARNESS_MAIN
