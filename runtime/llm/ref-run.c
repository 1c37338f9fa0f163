// SPDX-License-Identifier: MIT
/*
 * jalrt-ref-run: llama2.c's "run" command on the CPU reference, with the
 * same arguments, defaults and output, so that its results (and speed)
 * can be compared with llama2.c's and with the chip's.
 *
 *   jalrt-ref-run MODEL [-t TEMP] [-p TOPP] [-s SEED] [-n STEPS]
 *                 [-i PROMPT] [-z TOKENIZER] [-m generate] [--ids]
 *                 [--chip-order] [--int8 | --int4]
 *
 * Prints the prompt and its continuation (as run.c: piece by piece,
 * skipping unprintable raw bytes) and a newline on stdout, then
 * "achieved tok/s: X" on stderr. With --ids it prints the token ids it
 * would have printed as text instead (space-separated, one line); then a
 * tokenizer is only needed for a text prompt, so random models from
 * jalrt-gen-model can run without one. --chip-order sums dot products in
 * the Jalapeño chip's order (reference.h), so that greedy ids equal
 * jalrt-run's for f32 weights; --int8 computes as libjalrt's int8
 * precision (runq.c's quantised products), equal to jalrt-run
 * --precision int8 with --chip-order; --int4 likewise as its int4
 * precision (a GGUF file's Q4_0 tensors as they are).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "gguf-model.h"
#include "reference.h"
#include "run_flags.h"
#include "tokenizer.h"

static const char usage_text[] =
	"usage: jalrt-ref-run <checkpoint> [options]\n"
	"example: jalrt-ref-run model.bin -n 256 -i \"Once upon a time\"\n"
	"options:\n"
	"  -t <float>  temperature in [0,inf], default 1.0\n"
	"  -p <float>  p value in top-p (nucleus) sampling in [0,1], default 0.9\n"
	"  -s <int>    random seed, default time(NULL)\n"
	"  -n <int>    number of steps to run for, default 256; 0 = max_seq_len\n"
	"  -i <string> input prompt\n"
	"  -z <string> path to the tokenizer, default tokenizer.bin\n"
	"  -m <string> mode: generate (the only one here)\n"
	"  --ids       print token ids instead of text\n"
	"  --chip-order  sum dot products in the chip's order\n"
	"  --int8      int8 weights and quantised products, as libjalrt's int8\n"
	"  --int4      4-bit weights and quantised products, as libjalrt's int4\n";

static void usage_error(const char *why, const char *arg)
{
	if (why)
		fprintf(stderr, "jalrt-ref-run: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
	fputs(usage_text, stderr);
	exit(EXIT_FAILURE);
}



static void die(const char *what)
{
	fprintf(stderr, "jalrt-ref-run: %s%s%s\n", what, *llm_last_error_message() ? ": " : "",
		llm_last_error_message());
	exit(EXIT_FAILURE);
}

struct printer {
	const struct llm_tokenizer *tok;	/* NULL: print ids */
	bool first;
};

static int print_token(void *opaque, int prev_token, int token, int pos)
{
	struct printer *p = opaque;

	(void)pos;
	if (!p->tok) {
		printf(p->first ? "%d" : " %d", token);
		p->first = false;
	} else {
		const char *piece = llm_tokenizer_decode(p->tok, prev_token, token);

		if (llm_tokenizer_piece_is_printable(p->tok, piece) && fputs(piece, stdout) == EOF)
			return -EIO;
	}
	/* Stream: the point of watching generation is seeing it happen. */
	fflush(stdout);
	return ferror(stdout) ? llm_set_error(-EIO, "cannot write to stdout") : 0;
}

int main(int argc, char **argv)
{
	const char *checkpoint_path;
	bool ids = false, chip_order = false, int8 = false, int4 = false;
	struct run_flags rf;
	struct llm_checkpoint *ckpt;
	struct llm_tokenizer *tok = NULL;
	struct llm_ref *ref;
	struct llm_model model;
	struct llm_sampler sampler;
	struct llm_generate_stats stats;
	struct printer printer = { .first = true };
	int bos = LLM_TOKEN_BOS, *prompt_tokens = &bos, n_prompt = 1, i, ret;

	if (argc < 2 || argv[1][0] == '-')
		usage_error(argc < 2 ? NULL : "the checkpoint comes first", NULL);
	checkpoint_path = argv[1];
	run_flags_init(&rf);
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i];

		if (!strcmp(opt, "--ids")) {
			ids = true;
			continue;
		}
		if (!strcmp(opt, "--chip-order")) {
			chip_order = true;
			continue;
		}
		if (!strcmp(opt, "--int8")) {
			int8 = true;
			continue;
		}
		if (!strcmp(opt, "--int4")) {
			int4 = true;
			continue;
		}
		run_flags_parse(&rf, argc, argv, &i, usage_error);
	}

	run_flags_finish(&rf);

	if (llm_checkpoint_open(checkpoint_path, &ckpt))
		die("cannot load the model");
	if (rf.steps == 0 || rf.steps > ckpt->config.seq_len)
		rf.steps = ckpt->config.seq_len;

	if (!ids || rf.prompt || rf.tokenizer_given) {
		/* -z's, else a GGUF model's own vocabulary, else tokenizer.bin (as jalrt-run) */
		const char *path = run_flags_tokenizer(&rf, checkpoint_path);

		if (path ? llm_tokenizer_open(path, ckpt->config.vocab_size, &tok) :
			   llm_tokenizer_from_gguf(ckpt->gguf, ckpt->config.vocab_size, &tok))
			die("cannot load the tokenizer");
		if (!tok) {
			fprintf(stderr, "jalrt-ref-run: the GGUF file has no vocabulary: name a tokenizer with -z\n");
			exit(EXIT_FAILURE);
		}
	}
	if (tok) {
		const char *text = rf.prompt ? rf.prompt : "";
		size_t max = llm_tokenizer_max_tokens(strlen(text));

		if (max > INT_MAX)
			usage_error("prompt too long", NULL);
		prompt_tokens = malloc(max * sizeof(*prompt_tokens));
		if (!prompt_tokens)
			die("out of memory");
		n_prompt = llm_tokenizer_encode(tok, text, true, false, prompt_tokens, max);
		if (n_prompt < 0)
			die("cannot encode the prompt");
	}
	printer.tok = ids ? NULL : tok;

	if (llm_ref_create(ckpt, &ref))
		die("cannot set up the model");
	if (chip_order)
		llm_ref_set_order(ref, LLM_REF_ORDER_CHIP);
	if (int8 && llm_ref_set_precision(ref, LLM_REF_PRECISION_INT8, 0))
		die("cannot quantise the model");
	if (int4 && llm_ref_set_precision(ref, LLM_REF_PRECISION_INT4, 0))
		die("cannot quantise the model");
	llm_ref_model(ref, &model);
	if (llm_sampler_init(&sampler, ckpt->config.vocab_size, (float)rf.temperature, (float)rf.topp,
			     rf.rng_seed))
		die("cannot set up the sampler");

	ret = llm_generate(&model, &sampler, prompt_tokens, n_prompt, (int)rf.steps, print_token,
			   &printer, &stats);
	printf("\n");
	fflush(stdout);
	if (ret)
		die("generation failed");
	if (ferror(stdout)) {
		fprintf(stderr, "jalrt-ref-run: cannot write to stdout\n");
		return EXIT_FAILURE;
	}
	if (stats.positions > 1)
		fprintf(stderr, "achieved tok/s: %f\n", stats.tokens_per_second);

	llm_sampler_fini(&sampler);
	llm_ref_destroy(ref);
	if (prompt_tokens != &bos)
		free(prompt_tokens);
	llm_tokenizer_close(tok);
	llm_checkpoint_close(ckpt);
	return EXIT_SUCCESS;
}
