// SPDX-License-Identifier: MIT
/*
 * Host tests of the command-line tools jalrt-gen-model and jalrt-ref-run
 * (built by runtime/Makefile into runtime/build, or $JAL_LLM_TOOLS_DIR):
 * their output is checked against the library and against llama2.c's
 * known output. Tests skip when the tools are not built.
 */
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "checkpoint.h"
#include "reference.h"
#include "tokenizer.h"

/*
 * Run @argv with stdout and stderr captured in @dir/out and @dir/err;
 * return the exit status (or -1 if it did not exit normally).
 */
static int run_tool(const char *dir, char *const argv[], char **out, char **err)
{
	char out_path[128], err_path[128];
	size_t size;
	pid_t pid;
	int status;

	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	snprintf(err_path, sizeof(err_path), "%s/err", dir);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	*out = llm_read_file(out_path, &size);
	*err = llm_read_file(err_path, &size);
	if (!*out || !*err)
		return -1;
	return WEXITSTATUS(status);
}

FIXTURE(tools) {
	char dir[64];
	char gen_model[PATH_MAX];
	char ref_run[PATH_MAX];
	char *out, *err;
};

FIXTURE_SETUP(tools)
{
	self->out = self->err = NULL;
	snprintf(self->dir, sizeof(self->dir), "/tmp/jal-llm-test-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	llm_tool_path(self->gen_model, sizeof(self->gen_model), "jalrt-gen-model");
	llm_tool_path(self->ref_run, sizeof(self->ref_run), "jalrt-ref-run");
	if (access(self->gen_model, X_OK) || access(self->ref_run, X_OK))
		SKIP(return, "jalrt-gen-model / jalrt-ref-run not built (set JAL_LLM_TOOLS_DIR)");
}

FIXTURE_TEARDOWN(tools)
{
	free(self->out);
	free(self->err);
	nftw(self->dir, llm_rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Run a tool, replacing the previous output. */
#define RUN(...) ({								\
	char *const _argv[] = { __VA_ARGS__, NULL };				\
	free(self->out);							\
	free(self->err);							\
	self->out = self->err = NULL;						\
	run_tool(self->dir, _argv, &self->out, &self->err);			\
})

TEST_F(tools, gen_model_writes_what_the_library_writes)
{
	struct llm_config c = {
		.dim = 64, .hidden_dim = 128, .n_layers = 2, .n_heads = 8, .n_kv_heads = 2,
		.vocab_size = 200, .seq_len = 32, .shared_classifier = false,
	};
	struct llm_checkpoint *ckpt = NULL;
	char tool_file[128], lib_file[128];
	size_t tool_size, lib_size;
	void *tool_bytes, *lib_bytes;

	snprintf(tool_file, sizeof(tool_file), "%s/tool.bin", self->dir);
	snprintf(lib_file, sizeof(lib_file), "%s/lib.bin", self->dir);
	ASSERT_EQ(0, RUN(self->gen_model, "--dim", "64", "--hidden", "128", "--layers", "2",
			 "--heads", "8", "--kv-heads", "2", "--vocab", "200", "--seq", "32",
			 "--seed", "5", "--unshared", "-o", tool_file)) TH_LOG("%s", self->err);
	ASSERT_EQ(0, llm_checkpoint_open(tool_file, &ckpt));
	EXPECT_EQ(64, ckpt->config.dim);
	EXPECT_EQ(128, ckpt->config.hidden_dim);
	EXPECT_EQ(2, ckpt->config.n_layers);
	EXPECT_EQ(8, ckpt->config.n_heads);
	EXPECT_EQ(2, ckpt->config.n_kv_heads);
	EXPECT_EQ(200, ckpt->config.vocab_size);
	EXPECT_EQ(32, ckpt->config.seq_len);
	EXPECT_FALSE(ckpt->config.shared_classifier);
	llm_checkpoint_close(ckpt);

	ASSERT_EQ(0, llm_checkpoint_write_random(lib_file, &c, 5));
	tool_bytes = llm_read_file(tool_file, &tool_size);
	lib_bytes = llm_read_file(lib_file, &lib_size);
	ASSERT_NE(NULL, tool_bytes);
	ASSERT_NE(NULL, lib_bytes);
	ASSERT_EQ(lib_size, tool_size);
	EXPECT_EQ(0, memcmp(lib_bytes, tool_bytes, lib_size));
	free(tool_bytes);
	free(lib_bytes);

	/* The defaults are the 15M shape. */
	ASSERT_EQ(0, RUN(self->gen_model, "-o", tool_file));
	ASSERT_EQ(0, llm_checkpoint_open(tool_file, &ckpt));
	EXPECT_EQ(288, ckpt->config.dim);
	EXPECT_EQ(768, ckpt->config.hidden_dim);
	EXPECT_EQ(32000, ckpt->config.vocab_size);
	EXPECT_EQ(256, ckpt->config.seq_len);
	EXPECT_TRUE(ckpt->config.shared_classifier);
	llm_checkpoint_close(ckpt);
}

TEST_F(tools, gen_model_rejects_bad_arguments)
{
	char file[128];

	snprintf(file, sizeof(file), "%s/x.bin", self->dir);
	EXPECT_EQ(1, RUN(self->gen_model, "--heads", "6", "--kv-heads", "4", "-o", file));
	EXPECT_NE(NULL, strstr(self->err, "multiple of n_kv_heads")) TH_LOG("%s", self->err);
	EXPECT_EQ(2, RUN(self->gen_model, "--dim", "abc", "-o", file));
	EXPECT_EQ(2, RUN(self->gen_model, "--dim", "-4", "-o", file));
	EXPECT_EQ(2, RUN(self->gen_model, "--dim", "64"));
	EXPECT_NE(NULL, strstr(self->err, "-o FILE"));
	EXPECT_EQ(2, RUN(self->gen_model, "--bogus", "-o", file));
	EXPECT_EQ(2, RUN(self->gen_model, "-o", file, "extra"));
	EXPECT_NE(0, access(file, F_OK));
}

TEST_F(tools, ref_run_prints_llama2c_text_and_speed)
{
	static const char expected[] =
		"I dreamed, as I sense the nodes, a gentle hum of probability.";
	char model[PATH_MAX], tok[PATH_MAX];

	LLM_REQUIRE_MODEL(model, "aidreams260k.bin");
	LLM_REQUIRE_MODEL(tok, "tok512.bin");
	ASSERT_EQ(0, RUN(self->ref_run, model, "-z", tok, "-t", "0", "-n", "128", "-i",
			 "I dreamed")) TH_LOG("%s", self->err);
	TH_LOG("%s", self->out);
	EXPECT_EQ(0, strncmp(expected, self->out, strlen(expected)));
	EXPECT_EQ('\n', self->out[strlen(self->out) - 1]);
	EXPECT_NE(NULL, strstr(self->err, "achieved tok/s: "));
}

/* --ids prints the same tokens the text mode prints, as numbers. */
TEST_F(tools, ref_run_ids_match_the_text)
{
	char model[PATH_MAX], tok_path[PATH_MAX], *text = NULL, rebuilt[8192] = "";
	struct llm_tokenizer *tok = NULL;
	int prev = LLM_TOKEN_BOS, count = 0;
	char *p, *end;

	LLM_REQUIRE_MODEL(model, "aidreams260k.bin");
	LLM_REQUIRE_MODEL(tok_path, "tok512.bin");
	ASSERT_EQ(0, llm_tokenizer_open(tok_path, 512, &tok));
	ASSERT_EQ(0, RUN(self->ref_run, model, "-z", tok_path, "-t", "0.9", "-p", "0.8", "-s",
			 "77", "-n", "100", "-i", "The sky"));
	text = strdup(self->out);
	ASSERT_NE(NULL, text);
	ASSERT_EQ(0, RUN(self->ref_run, model, "-z", tok_path, "-t", "0.9", "-p", "0.8", "-s",
			 "77", "-n", "100", "-i", "The sky", "--ids"));
	for (p = self->out; *p && *p != '\n'; p = end) {
		long id = strtol(p, &end, 10);
		const char *piece;

		ASSERT_NE(p, end);
		ASSERT_TRUE(id >= 0 && id < 512);
		piece = llm_tokenizer_decode(tok, prev, (int)id);
		if (llm_piece_is_printable(piece))
			strncat(rebuilt, piece, sizeof(rebuilt) - strlen(rebuilt) - 1);
		prev = (int)id;
		count++;
	}
	strcat(rebuilt, "\n");
	EXPECT_STREQ(text, rebuilt);
	EXPECT_GT(count, 3);
	EXPECT_LE(count, 100);
	free(text);
	llm_tokenizer_close(tok);
}

TEST_F(tools, ref_run_ids_without_a_tokenizer_match_the_library)
{
	const struct llm_config c = {
		.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
		.vocab_size = 700, .seq_len = 40, .shared_classifier = true,
	};
	struct llm_checkpoint *ckpt = NULL;
	struct llm_ref *ref = NULL;
	char file[128], expected[4096] = "";
	int token = LLM_TOKEN_BOS, pos;
	float *logits;

	snprintf(file, sizeof(file), "%s/m.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(file, &c, 99));
	/* Greedy ids straight from the library, stopping at BOS as run.c does. */
	ASSERT_EQ(0, llm_checkpoint_open(file, &ckpt));
	ASSERT_EQ(0, llm_ref_create(ckpt, &ref));
	for (pos = 0; pos < 25; pos++) {
		char num[16];

		ASSERT_EQ(0, llm_ref_forward(ref, token, pos, &logits));
		token = llm_sample_argmax(logits, 700);
		if (token == LLM_TOKEN_BOS)
			break;
		snprintf(num, sizeof(num), pos ? " %d" : "%d", token);
		strcat(expected, num);
	}
	strcat(expected, "\n");
	llm_ref_destroy(ref);
	llm_checkpoint_close(ckpt);

	/* No tokenizer.bin anywhere: --ids without a prompt needs none. */
	ASSERT_EQ(0, RUN(self->ref_run, file, "-t", "0", "-n", "25", "--ids")) TH_LOG("%s", self->err);
	EXPECT_STREQ(expected, self->out);
	/* Sampling with a seed is reproducible; another seed differs. */
	ASSERT_EQ(0, RUN(self->ref_run, file, "-t", "1", "-s", "3", "--ids"));
	expected[0] = '\0';
	strncat(expected, self->out, sizeof(expected) - 1);
	ASSERT_EQ(0, RUN(self->ref_run, file, "-t", "1", "-s", "3", "--ids"));
	EXPECT_STREQ(expected, self->out);
	ASSERT_EQ(0, RUN(self->ref_run, file, "-t", "1", "-s", "4", "--ids"));
	EXPECT_STRNE(expected, self->out);
}

/* --int8 (with --chip-order: jalrt-run --precision int8) is the library's int8 mode. */
TEST_F(tools, ref_run_int8_is_the_library_int8_mode)
{
	const struct llm_config c = {
		.dim = 64, .hidden_dim = 96, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
		.vocab_size = 700, .seq_len = 40, .shared_classifier = true,
	};
	struct llm_checkpoint *ckpt = NULL;
	struct llm_ref *ref = NULL;
	char file[128], expected[4096] = "";
	int token = LLM_TOKEN_BOS, pos;
	float *logits;

	snprintf(file, sizeof(file), "%s/m.bin", self->dir);
	ASSERT_EQ(0, llm_checkpoint_write_random(file, &c, 98));
	ASSERT_EQ(0, llm_checkpoint_open(file, &ckpt));
	ASSERT_EQ(0, llm_ref_create(ckpt, &ref));
	ASSERT_EQ(0, llm_ref_set_order(ref, LLM_REF_ORDER_CHIP));
	ASSERT_EQ(0, llm_ref_set_precision(ref, LLM_REF_PRECISION_INT8, 0));
	for (pos = 0; pos < 25; pos++) {
		char num[16];

		ASSERT_EQ(0, llm_ref_forward(ref, token, pos, &logits));
		token = llm_sample_argmax(logits, 700);
		if (token == LLM_TOKEN_BOS)
			break;
		snprintf(num, sizeof(num), pos ? " %d" : "%d", token);
		strcat(expected, num);
	}
	strcat(expected, "\n");
	llm_ref_destroy(ref);
	llm_checkpoint_close(ckpt);

	ASSERT_EQ(0, RUN(self->ref_run, file, "-t", "0", "-n", "25", "--ids", "--int8",
			 "--chip-order")) TH_LOG("%s", self->err);
	EXPECT_STREQ(expected, self->out);
}

TEST_F(tools, ref_run_reports_errors)
{
	char model[PATH_MAX], tok[PATH_MAX];

	LLM_REQUIRE_MODEL(model, "aidreams260k.bin");
	LLM_REQUIRE_MODEL(tok, "tok512.bin");
	EXPECT_EQ(1, RUN(self->ref_run, "/nonexistent/model.bin", "-z", tok));
	EXPECT_NE(NULL, strstr(self->err, "No such file")) TH_LOG("%s", self->err);
	EXPECT_EQ(1, RUN(self->ref_run, model, "-z", "/nonexistent/tok.bin"));
	EXPECT_NE(NULL, strstr(self->err, "tokenizer")) TH_LOG("%s", self->err);
	/* A tokenizer for another vocabulary size. */
	EXPECT_EQ(1, RUN(self->ref_run, model, "-z", model));
	EXPECT_EQ(1, RUN(self->ref_run, model, "-z", tok, "-m", "chat"));
	EXPECT_EQ(1, RUN(self->ref_run, model, "-z", tok, "-x", "1"));
	EXPECT_EQ(1, RUN(self->ref_run, model, "-z", tok, "-t", "hot"));
	EXPECT_EQ(1, RUN(self->ref_run, model, "-z", tok, "-n"));
	EXPECT_EQ(1, RUN(self->ref_run));
	EXPECT_NE(NULL, strstr(self->err, "usage"));
	/* run.c's clamps: negative temperature is greedy, top-p 7 is 0.9. */
	EXPECT_EQ(0, RUN(self->ref_run, model, "-z", tok, "-t", "-1", "-p", "7", "-n", "16",
			 "-i", "I dreamed"));
	EXPECT_EQ(0, strncmp("I dreamed, as I sense", self->out, 21)) TH_LOG("%s", self->out);
}

TEST_HARNESS_MAIN
