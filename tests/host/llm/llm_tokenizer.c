// SPDX-License-Identifier: MIT
/*
 * Host tests of runtime/llm/tokenizer.c: tokenizer.bin validation, and
 * encode/decode against the ids llama2.c's run.c produces for tok512.bin
 * (recorded from run.c itself) and against hand-made vocabularies whose
 * merges are worked out by hand below.
 */
#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "tokenizer.h"

/* Builds a tokenizer.bin image entry by entry. */
struct tok_image {
	unsigned char buf[8192];
	size_t len;
};

static void tok_begin(struct tok_image *img, int32_t max_len)
{
	memcpy(img->buf, &max_len, 4);
	img->len = 4;
}

static void tok_add_raw(struct tok_image *img, float score, int32_t len, const char *text,
			size_t text_len)
{
	memcpy(img->buf + img->len, &score, 4);
	memcpy(img->buf + img->len + 4, &len, 4);
	memcpy(img->buf + img->len + 8, text, text_len);
	img->len += 8 + text_len;
}

static void tok_add(struct tok_image *img, float score, const char *text)
{
	tok_add_raw(img, score, (int32_t)strlen(text), text, strlen(text));
}

/* <unk>, <s>, </s> and the 256 byte tokens, as llama2.c vocabularies start. */
static void tok_add_specials_and_bytes(struct tok_image *img)
{
	char piece[8];
	int b;

	tok_add(img, 0, "<unk>");
	tok_add(img, 0, "\n<s>\n");
	tok_add(img, 0, "\n</s>\n");
	for (b = 0; b < 256; b++) {
		snprintf(piece, sizeof(piece), "<0x%02X>", b);
		tok_add(img, 0, piece);
	}
}

static struct llm_tokenizer *load_tok512(struct __test_metadata *_metadata)
{
	struct llm_tokenizer *tok = NULL;
	char path[PATH_MAX];

	llm_model_path(path, sizeof(path), "tok512.bin");
	if (!llm_readable(path))
		return NULL;
	EXPECT_EQ(0, llm_tokenizer_open(path, 512, &tok)) TH_LOG("%s", llm_last_error_message());
	return tok;
}

#define REQUIRE_TOK512(tok) do {						\
	tok = load_tok512(_metadata);						\
	if (!tok)								\
		SKIP(return, "tok512.bin not found (set JAL_MODELS_DIR)");	\
} while (0)

/* Encode with BOS and compare with run.c's ids. */
static void expect_encoding(struct __test_metadata *_metadata, struct llm_tokenizer *tok,
			    const char *text, const int *expected, int n_expected)
{
	int ids[256], n, i;

	n = llm_tokenizer_encode(tok, text, true, false, ids, 256);
	ASSERT_EQ(n_expected, n) TH_LOG("text '%s'", text);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(expected[i], ids[i]) TH_LOG("text '%s', token %d", text, i);
	}
}

TEST(tok512_loads)
{
	struct llm_tokenizer *tok, *all = NULL;
	char path[PATH_MAX];

	REQUIRE_TOK512(tok);
	EXPECT_EQ(512, llm_tokenizer_vocab_size(tok));
	EXPECT_EQ(10, llm_tokenizer_max_token_length(tok));
	EXPECT_STREQ("<unk>", llm_tokenizer_token(tok, 0));
	EXPECT_STREQ("<0x00>", llm_tokenizer_token(tok, 3));
	EXPECT_STREQ(" a", llm_tokenizer_token(tok, 262));
	EXPECT_EQ(-3.0f, llm_tokenizer_score(tok, 262));
	EXPECT_EQ(429, llm_tokenizer_lookup(tok, " "));
	EXPECT_EQ(-1, llm_tokenizer_lookup(tok, "no such token"));
	EXPECT_NULL(llm_tokenizer_token(tok, 512));
	EXPECT_NULL(llm_tokenizer_token(tok, -1));
	/* run.c's specials: BOS 1 starts a text and ends the one before; EOS 2 never ends one. */
	EXPECT_EQ(1, llm_tokenizer_bos(tok));
	EXPECT_EQ(2, llm_tokenizer_eos(tok));
	EXPECT_EQ(-1, llm_tokenizer_eot(tok));
	EXPECT_TRUE(llm_tokenizer_is_eog(tok, 1));
	EXPECT_FALSE(llm_tokenizer_is_eog(tok, 2));
	EXPECT_EQ(LLM_TOKENIZER_SPM, llm_tokenizer_kind(tok));

	/* vocab_size 0 reads them all; a mismatched model size is refused. */
	llm_model_path(path, sizeof(path), "tok512.bin");
	ASSERT_EQ(0, llm_tokenizer_open(path, 0, &all));
	EXPECT_EQ(512, llm_tokenizer_vocab_size(all));
	llm_tokenizer_close(all);
	EXPECT_EQ(-EINVAL, llm_tokenizer_open(path, 513, &all));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "ends after 512"));
	EXPECT_EQ(-EINVAL, llm_tokenizer_open(path, 32000, &all));
	EXPECT_EQ(-EINVAL, llm_tokenizer_open(path, 511, &all));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "after its 511 tokens"));
	EXPECT_NULL(all);
	EXPECT_EQ(-ENOENT, llm_tokenizer_open("/nonexistent/tok.bin", 0, &all));
	llm_tokenizer_close(tok);
}

/* Ids recorded from llama2.c's run.c encode(tok512.bin, text, bos=1, eos=0). */
TEST(tok512_encodes_like_run_c)
{
	static const int dreamed[] = { 1, 303, 281, 269, 435, 447, 328 };
	static const int hello[] = { 1, 429, 480, 375, 438, 437, 272, 284, 438, 441 };
	static const int a[] = { 1, 262 };
	static const int spaces[] = { 1, 429, 429, 263, 449, 437, 429, 420, 435, 404, 429 };
	static const int once[] = { 1, 429, 491, 433, 295, 429, 444, 445, 265, 262, 263, 342, 430 };
	/* UTF-8 code points missing from the vocabulary fall back to bytes + 3. */
	static const int utf8[] = { 1, 429, 198, 191, 433, 198, 178, 429, 233, 154, 168, 233, 159,
				    175, 429, 243, 162, 155, 131 };
	static const int ctrl[] = { 1, 263, 405, 12, 439, 261, 430, 13, 433, 430, 449, 438, 259,
				    430 };
	static const int bytes_text[] = { 1, 429, 63, 464, 458, 484, 469, 65 };
	static const int empty[] = { 1 };
	struct llm_tokenizer *tok;

	REQUIRE_TOK512(tok);
	expect_encoding(_metadata, tok, "I dreamed", dreamed, 7);
	expect_encoding(_metadata, tok, "Hello world", hello, 10);
	expect_encoding(_metadata, tok, "a", a, 2);
	expect_encoding(_metadata, tok, "  two  spaces ", spaces, 11);
	expect_encoding(_metadata, tok, "Once upon a time", once, 13);
	expect_encoding(_metadata, tok, "\xc3\xbcn\xc3\xaf \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80",
			utf8, 19);
	expect_encoding(_metadata, tok, "tab\there\nnewline", ctrl, 14);
	/* A literal "<0x41>" is text, not the byte token. */
	expect_encoding(_metadata, tok, "<0x41>", bytes_text, 8);
	/* No dummy prefix for empty text. */
	expect_encoding(_metadata, tok, "", empty, 1);
	llm_tokenizer_close(tok);
}

TEST(encode_options_and_capacity)
{
	struct llm_tokenizer *tok;
	int ids[16];

	REQUIRE_TOK512(tok);
	/* Without BOS, with EOS. */
	ASSERT_EQ(7, llm_tokenizer_encode(tok, "I dreamed", false, true, ids, 16));
	EXPECT_EQ(303, ids[0]);
	EXPECT_EQ(328, ids[5]);
	EXPECT_EQ(2, ids[6]);
	EXPECT_EQ(0, llm_tokenizer_encode(tok, "", false, false, ids, 16));
	/* Too small an array is refused, not overrun. */
	ids[3] = -12345;
	EXPECT_EQ(-ENOSPC, llm_tokenizer_encode(tok, "I dreamed", true, false, ids, 3));
	EXPECT_EQ(-12345, ids[3]);
	EXPECT_EQ(7, llm_tokenizer_encode(tok, "I dreamed", true, false, ids, 7));
	EXPECT_EQ(-EINVAL, llm_tokenizer_encode(tok, NULL, true, false, ids, 16));
	EXPECT_EQ(12, llm_tokenizer_max_tokens(9));
	llm_tokenizer_close(tok);
}

TEST(decode_like_run_c)
{
	struct llm_tokenizer *tok;

	REQUIRE_TOK512(tok);
	/* After BOS the dummy-prefix space goes; elsewhere it stays. */
	EXPECT_STREQ("a", llm_tokenizer_decode(tok, 1, 262));
	EXPECT_STREQ(" a", llm_tokenizer_decode(tok, 300, 262));
	EXPECT_STREQ("", llm_tokenizer_decode(tok, 1, 429));
	/* Raw bytes: <0x0A> is a newline, <0x41> an 'A', <0x00> empty. */
	EXPECT_STREQ("\n", llm_tokenizer_decode(tok, 300, 13));
	EXPECT_STREQ("A", llm_tokenizer_decode(tok, 300, 0x41 + 3));
	EXPECT_STREQ("", llm_tokenizer_decode(tok, 300, 3));
	EXPECT_STREQ("\xe2", llm_tokenizer_decode(tok, 300, 0xe2 + 3));
	/* run.c's safe_printf() drops that lone byte; so does a llama2.c vocabulary. */
	EXPECT_FALSE(llm_tokenizer_piece_is_printable(tok, "\xe2"));
	EXPECT_TRUE(llm_tokenizer_piece_is_printable(tok, "ab"));
	EXPECT_STREQ("<unk>", llm_tokenizer_decode(tok, 300, 0));
	EXPECT_NULL(llm_tokenizer_decode(tok, 1, 512));
	EXPECT_NULL(llm_tokenizer_decode(tok, 1, -1));
	llm_tokenizer_close(tok);
}

/* decode(encode(text)) gives the text back, UTF-8 byte fallback included. */
TEST(encode_decode_round_trip)
{
	static const char *const texts[] = {
		"I dreamed",
		"Once upon a time, there was a little girl named Lily.",
		"  leading and trailing  ",
		"line one\nline two\ttabbed",
		"numbers 0123456789 and symbols !@#$%^&*()_+-=[]{};':\",./<>?",
		/* "ünîçødé 日本語 😀" ("d" is octal-escaped: \xb8d would be one escape) */
		"\xc3\xbc\xc3\xb1\xc3\xae\xc3\xa7\xc3\xb8\144\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80",
		"<0x41> <s> </s>",
		"x",
	};
	struct llm_tokenizer *tok;
	unsigned int t;

	REQUIRE_TOK512(tok);
	for (t = 0; t < ARRAY_SIZE(texts); t++) {
		int ids[256], n, i;
		char out[512] = "";

		n = llm_tokenizer_encode(tok, texts[t], true, false, ids, 256);
		ASSERT_GT(n, 1);
		ASSERT_EQ(1, ids[0]);
		for (i = 1; i < n; i++) {
			const char *piece = llm_tokenizer_decode(tok, ids[i - 1], ids[i]);

			ASSERT_NE(NULL, piece);
			ASSERT_LT(strlen(out) + strlen(piece), sizeof(out));
			strcat(out, piece);
		}
		EXPECT_STREQ(texts[t], out);
		/* Merges only shorten: never more tokens than bytes + 2. */
		EXPECT_LE(n, (int)strlen(texts[t]) + 2);
	}
	llm_tokenizer_close(tok);
}

TEST(safe_print_skips_unprintable_bytes)
{
	char buf[64] = "";
	FILE *f;

	EXPECT_FALSE(llm_piece_is_printable(NULL));
	EXPECT_FALSE(llm_piece_is_printable(""));
	EXPECT_FALSE(llm_piece_is_printable("\x07"));
	EXPECT_FALSE(llm_piece_is_printable("\x08"));
	EXPECT_FALSE(llm_piece_is_printable("\x7f"));
	EXPECT_FALSE(llm_piece_is_printable("\xe2"));
	EXPECT_TRUE(llm_piece_is_printable("\n"));
	EXPECT_TRUE(llm_piece_is_printable("\t"));
	EXPECT_TRUE(llm_piece_is_printable(" "));
	EXPECT_TRUE(llm_piece_is_printable("a"));
	EXPECT_TRUE(llm_piece_is_printable("~"));
	/* Longer pieces always print, whatever they contain. */
	EXPECT_TRUE(llm_piece_is_printable("\x07\x07"));
	EXPECT_TRUE(llm_piece_is_printable("\xe6\x97\xa5"));

	f = fmemopen(buf, sizeof(buf), "w");
	ASSERT_NE(NULL, f);
	EXPECT_EQ(0, llm_safe_print(f, "ab"));
	EXPECT_EQ(0, llm_safe_print(f, "\x08"));
	EXPECT_EQ(0, llm_safe_print(f, NULL));
	EXPECT_EQ(0, llm_safe_print(f, "\n"));
	EXPECT_EQ(0, llm_safe_print(f, "\x01"));
	EXPECT_EQ(0, llm_safe_print(f, "c"));
	fclose(f);
	EXPECT_STREQ("ab\nc", buf);
}

/*
 * Merge order on a hand-made vocabulary: " " a b c, then "ab" (score 1),
 * "bc" (score 5), "abc" (score 0), " a" (score -1), "aa" (score 3).
 */
static struct llm_tokenizer *make_merge_vocab(struct __test_metadata *_metadata)
{
	struct llm_tokenizer *tok = NULL;
	struct tok_image img;

	tok_begin(&img, 6);
	tok_add_specials_and_bytes(&img);
	tok_add(&img, -100, " ");	/* 259 */
	tok_add(&img, -100, "a");	/* 260 */
	tok_add(&img, -100, "b");	/* 261 */
	tok_add(&img, -100, "c");	/* 262 */
	tok_add(&img, 1, "ab");		/* 263 */
	tok_add(&img, 5, "bc");		/* 264 */
	tok_add(&img, 0, "abc");	/* 265 */
	tok_add(&img, -1, " a");	/* 266 */
	tok_add(&img, 3, "aa");		/* 267 */
	EXPECT_EQ(0, llm_tokenizer_parse(img.buf, img.len, 268, &tok))
		TH_LOG("%s", llm_last_error_message());
	return tok;
}

TEST(merges_pick_the_best_score_then_the_leftmost)
{
	struct llm_tokenizer *tok = make_merge_vocab(_metadata);
	int ids[32];

	ASSERT_NE(NULL, tok);
	/*
	 * " abc": [ " ", a, b, c ]; candidate pairs " a" (-1), ab (1), bc (5):
	 * bc wins -> [ " ", a, bc ]; then " a" (-1) vs "abc" (0): abc wins ->
	 * [ " ", abc ]; " abc" is not a token: done.
	 */
	ASSERT_EQ(3, llm_tokenizer_encode(tok, "abc", true, false, ids, 32));
	EXPECT_EQ(1, ids[0]);
	EXPECT_EQ(259, ids[1]);
	EXPECT_EQ(265, ids[2]);
	/*
	 * " aaa": pairs " a" (-1), aa (3), aa (3): the leftmost aa merges ->
	 * [ " ", aa, a ]; " aa" and "aaa" are not tokens: done.
	 */
	ASSERT_EQ(4, llm_tokenizer_encode(tok, "aaa", true, false, ids, 32));
	EXPECT_EQ(259, ids[1]);
	EXPECT_EQ(267, ids[2]);
	EXPECT_EQ(260, ids[3]);
	/* "d" is not a token: byte fallback 'd' + 3. */
	ASSERT_EQ(3, llm_tokenizer_encode(tok, "d", true, false, ids, 32));
	EXPECT_EQ('d' + 3, ids[2]);
	llm_tokenizer_close(tok);
}

TEST(vocabulary_without_prefix_or_byte_tokens)
{
	struct llm_tokenizer *tok = NULL;
	struct tok_image img;
	int ids[8];

	/* Five tokens, no " ", no byte tokens beyond id 4. */
	tok_begin(&img, 5);
	tok_add(&img, 0, "<unk>");
	tok_add(&img, 0, "<s>");
	tok_add(&img, 0, "</s>");
	tok_add(&img, 0, "a");
	tok_add(&img, 0, "b");
	ASSERT_EQ(0, llm_tokenizer_parse(img.buf, img.len, 0, &tok));
	EXPECT_EQ(5, llm_tokenizer_vocab_size(tok));
	/* No dummy prefix token (run.c would emit -1 here). */
	ASSERT_EQ(3, llm_tokenizer_encode(tok, "ab", true, false, ids, 8));
	EXPECT_EQ(1, ids[0]);
	EXPECT_EQ(3, ids[1]);
	EXPECT_EQ(4, ids[2]);
	/* A byte with no fallback token is an error, not an id beyond the vocabulary. */
	EXPECT_EQ(-EINVAL, llm_tokenizer_encode(tok, "abc", true, false, ids, 8));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "0x63"))
		TH_LOG("%s", llm_last_error_message());
	llm_tokenizer_close(tok);
}

TEST(malformed_tokenizers_are_rejected)
{
	struct llm_tokenizer *tok = NULL;
	struct tok_image img;
	int32_t zero = 0;

	/* Shorter than the header; max_token_length 0 or negative. */
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(&zero, 3, 0, &tok));
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(&zero, 4, 0, &tok));
	tok_begin(&img, -5);
	tok_add(&img, 0, "a");
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, img.len, 0, &tok));
	/* Header only: no tokens. */
	tok_begin(&img, 4);
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, img.len, 0, &tok));
	/* A token longer than max_token_length would overrun run.c's buffer. */
	tok_begin(&img, 2);
	tok_add(&img, 0, "abc");
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, img.len, 0, &tok));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "max_token_length"));
	/* A negative length. */
	tok_begin(&img, 4);
	tok_add_raw(&img, 0, -1, "", 0);
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, img.len, 0, &tok));
	/* Text cut short, score/length cut short. */
	tok_begin(&img, 4);
	tok_add(&img, 0, "ab");
	tok_add(&img, 0, "abcd");
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, img.len - 1, 0, &tok));
	EXPECT_NE(NULL, strstr(llm_last_error_message(), "truncated"));
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, 4 + 10 + 5, 0, &tok));
	EXPECT_EQ(0, llm_tokenizer_parse(img.buf, img.len, 2, &tok));
	EXPECT_EQ(2, llm_tokenizer_vocab_size(tok));
	llm_tokenizer_close(tok);
	tok = NULL;
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, img.len, 3, &tok));
	EXPECT_EQ(-EINVAL, llm_tokenizer_parse(img.buf, img.len, 1, &tok));
	EXPECT_NULL(tok);
	llm_tokenizer_close(NULL);
}

TEST_HARNESS_MAIN
