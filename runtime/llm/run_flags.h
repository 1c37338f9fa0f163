/* SPDX-License-Identifier: MIT */
/*
 * llama2.c run's command-line flags (-t -p -s -n -i -z -m), parsed the
 * same way for jalrt-run (on the chip) and jalrt-ref-run (CPU reference),
 * so that both tools give a flag one meaning.
 */
#ifndef JALRT_LLM_RUN_FLAGS_H
#define JALRT_LLM_RUN_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

/* Reports a usage error (why: arg) and exits; the tool supplies it. */
typedef void (*run_usage_fn)(const char *why, const char *arg);

struct run_flags {
	const char *tokenizer;	/* -z, default "tokenizer.bin" */
	bool tokenizer_given;
	const char *prompt;	/* -i, NULL for none */
	double temperature;	/* -t, default 1.0 */
	double topp;		/* -p, default 0.9 */
	long long steps;	/* -n, default 256; 0 means the model's seq_len */
	long long seed;		/* -s, default 0: the time */
	uint64_t rng_seed;	/* set by run_flags_finish() */
};

void run_flags_init(struct run_flags *f);
/*
 * Parses the run.c flag at argv[*i] and its value, advancing *i past the
 * value. Anything that is not one of run.c's flags is a usage error.
 */
void run_flags_parse(struct run_flags *f, int argc, char **argv, int *i,
		     run_usage_fn usage);
/* Applies run.c's overrides: seed 0 = time, clamped temperature/top-p/steps. */
void run_flags_finish(struct run_flags *f);

/*
 * The tokenizer file for @model: -z's, else none (NULL) for a GGUF file,
 * which carries its own vocabulary, else tokenizer.bin.
 */
const char *run_flags_tokenizer(const struct run_flags *f, const char *model);

/* Strict number parsing: the whole string, no NaN; usage error otherwise. */
double run_parse_double(const char *what, const char *arg, run_usage_fn usage);
long long run_parse_ll(const char *what, const char *arg, run_usage_fn usage);

#endif
