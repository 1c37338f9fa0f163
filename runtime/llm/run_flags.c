// SPDX-License-Identifier: MIT
/*
 * llama2.c run's command-line flags, shared by jalrt-run and
 * jalrt-ref-run. See run_flags.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_flags.h"

void run_flags_init(struct run_flags *f)
{
	memset(f, 0, sizeof(*f));
	f->tokenizer = "tokenizer.bin";
	f->temperature = 1.0;
	f->topp = 0.9;
	f->steps = 256;
}

double run_parse_double(const char *what, const char *arg, run_usage_fn usage)
{
	char *end;
	double value;

	errno = 0;
	value = strtod(arg, &end);
	if (errno || end == arg || *end || isnan(value))
		usage(what, arg);
	return value;
}

long long run_parse_ll(const char *what, const char *arg, run_usage_fn usage)
{
	char *end;
	long long value;

	errno = 0;
	value = strtoll(arg, &end, 10);
	if (errno || end == arg || *end)
		usage(what, arg);
	return value;
}

void run_flags_parse(struct run_flags *f, int argc, char **argv, int *i,
		     run_usage_fn usage)
{
	const char *opt = argv[*i], *arg;

	/* run.c's form: a two-character flag and its value. */
	if (opt[0] != '-' || strlen(opt) != 2)
		usage("unknown argument", opt);
	if (*i + 1 >= argc)
		usage("missing value for", opt);
	arg = argv[++*i];
	switch (opt[1]) {
	case 't':
		f->temperature = run_parse_double("bad temperature", arg, usage);
		break;
	case 'p':
		f->topp = run_parse_double("bad top-p", arg, usage);
		break;
	case 's':
		f->seed = run_parse_ll("bad seed", arg, usage);
		break;
	case 'n':
		f->steps = run_parse_ll("bad step count", arg, usage);
		break;
	case 'i':
		f->prompt = arg;
		break;
	case 'z':
		f->tokenizer = arg;
		f->tokenizer_given = true;
		break;
	case 'm':
		if (strcmp(arg, "generate"))
			usage("only generate mode is supported, not", arg);
		break;
	default:
		usage("unknown option", opt);
	}
}

const char *run_flags_tokenizer(const struct run_flags *f, const char *model)
{
	char magic[4] = { 0 };
	FILE *m;

	if (f->tokenizer_given)
		return f->tokenizer;
	/* By content, not name: what the loader itself goes by. */
	m = fopen(model, "rb");
	if (m) {
		if (fread(magic, 1, sizeof(magic), m) != sizeof(magic))
			magic[0] = 0;
		fclose(m);
	}
	return memcmp(magic, "GGUF", 4) ? f->tokenizer : NULL;
}

void run_flags_finish(struct run_flags *f)
{
	f->rng_seed = (uint64_t)f->seed;
	if (f->rng_seed == 0)
		f->rng_seed = (unsigned int)time(NULL);
	if (f->temperature < 0.0)
		f->temperature = 0.0;
	if (f->topp < 0.0 || f->topp > 1.0)
		f->topp = 0.9;
	if (f->steps < 0)
		f->steps = 0;
}
