// SPDX-License-Identifier: MIT
/*
 * jalrt-ref-run: llama2.c's "run" command on the CPU reference, with the
 * same arguments, defaults and output, so that its results (and speed)
 * can be compared with llama2.c's and with the chip's.
 *
 *   jalrt-ref-run MODEL [-t TEMP] [-p TOPP] [-s SEED] [-n STEPS]
 *                 [-i PROMPT] [-z TOKENIZER] [-m generate] [--ids]
 *                 [--chip-order]
 *
 * Prints the prompt and its continuation (as run.c: piece by piece,
 * skipping unprintable raw bytes) and a newline on stdout, then
 * "achieved tok/s: X" on stderr. With --ids it prints the token ids it
 * would have printed as text instead (space-separated, one line); then a
 * tokenizer is only needed for a text prompt, so random models from
 * jalrt-gen-model can run without one. --chip-order sums dot products in
 * the Jalapeño chip's order (reference.h), so that greedy ids equal
 * jalrt-run's for f32 weights.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "reference.h"
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
	"  --chip-order  sum dot products in the chip's order\n";

static void usage_error(const char *why, const char *arg)
{
	if (why)
		fprintf(stderr, "jalrt-ref-run: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
	fputs(usage_text, stderr);
	exit(EXIT_FAILURE);
}

static double parse_double(const char *opt, const char *arg)
{
	char *end;
	double value;

	errno = 0;
	value = strtod(arg, &end);
	if (errno || end == arg || *end || isnan(value))
		usage_error(opt, arg);
	return value;
}

static long long parse_ll(const char *opt, const char *arg)
{
	char *end;
	long long value;

	errno = 0;
	value = strtoll(arg, &end, 10);
	if (errno || end == arg || *end)
		usage_error(opt, arg);
	return value;
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
	} else if (llm_safe_print(stdout, llm_tokenizer_decode(p->tok, prev_token, token))) {
		return -EIO;
	}
	/* Stream: the point of watching generation is seeing it happen. */
	fflush(stdout);
	return ferror(stdout) ? llm_set_error(-EIO, "cannot write to stdout") : 0;
}

int main(int argc, char **argv)
{
	const char *checkpoint_path, *tokenizer_path = "tokenizer.bin", *prompt = NULL;
	bool ids = false, tokenizer_given = false, chip_order = false;
	double temperature = 1.0, topp = 0.9;
	long long steps = 256, seed = 0;
	struct llm_checkpoint *ckpt;
	struct llm_tokenizer *tok = NULL;
	struct llm_ref *ref;
	struct llm_model model;
	struct llm_sampler sampler;
	struct llm_generate_stats stats;
	struct printer printer = { .first = true };
	int bos = LLM_TOKEN_BOS, *prompt_tokens = &bos, n_prompt = 1, i, ret;
	uint64_t rng_seed;

	if (argc < 2 || argv[1][0] == '-')
		usage_error(argc < 2 ? NULL : "the checkpoint comes first", NULL);
	checkpoint_path = argv[1];
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i], *arg;

		if (!strcmp(opt, "--ids")) {
			ids = true;
			continue;
		}
		if (!strcmp(opt, "--chip-order")) {
			chip_order = true;
			continue;
		}
		/* run.c's form: a two-character flag and its value. */
		if (opt[0] != '-' || strlen(opt) != 2)
			usage_error("unknown argument", opt);
		if (i + 1 >= argc)
			usage_error("missing value for", opt);
		arg = argv[++i];
		switch (opt[1]) {
		case 't':
			temperature = parse_double("bad temperature", arg);
			break;
		case 'p':
			topp = parse_double("bad top-p", arg);
			break;
		case 's':
			seed = parse_ll("bad seed", arg);
			break;
		case 'n':
			steps = parse_ll("bad step count", arg);
			break;
		case 'i':
			prompt = arg;
			break;
		case 'z':
			tokenizer_path = arg;
			tokenizer_given = true;
			break;
		case 'm':
			if (strcmp(arg, "generate"))
				usage_error("only generate mode is supported, not", arg);
			break;
		default:
			usage_error("unknown option", opt);
		}
	}

	/* run.c's parameter overrides. */
	rng_seed = (uint64_t)seed;
	if (rng_seed == 0)
		rng_seed = (unsigned int)time(NULL);
	if (temperature < 0.0)
		temperature = 0.0;
	if (topp < 0.0 || topp > 1.0)
		topp = 0.9;
	if (steps < 0)
		steps = 0;

	if (llm_checkpoint_open(checkpoint_path, &ckpt))
		die("cannot load the model");
	if (steps == 0 || steps > ckpt->config.seq_len)
		steps = ckpt->config.seq_len;

	if (!ids || prompt || tokenizer_given) {
		if (llm_tokenizer_open(tokenizer_path, ckpt->config.vocab_size, &tok))
			die("cannot load the tokenizer");
	}
	if (tok) {
		const char *text = prompt ? prompt : "";
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
	llm_ref_model(ref, &model);
	if (llm_sampler_init(&sampler, ckpt->config.vocab_size, (float)temperature, (float)topp,
			     rng_seed))
		die("cannot set up the sampler");

	ret = llm_generate(&model, &sampler, prompt_tokens, n_prompt, (int)steps, print_token,
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
