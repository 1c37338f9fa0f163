// SPDX-License-Identifier: MIT
/*
 * jalrt-run: llama2.c's "run" command on the Jalapeño chip.
 *
 *   jalrt-run MODEL [-t TEMP] [-p TOPP] [-s SEED] [-n STEPS] [-i PROMPT]
 *             [-z TOKENIZER] [-m generate] [--ids] [--precision P]
 *             [--per-token] [--host-memory] [--device N] [--info]
 *
 * The flags, defaults and output are run.c's: the prompt and its
 * continuation on stdout (piece by piece, unprintable raw bytes skipped),
 * a newline, then "achieved tok/s: X" on stderr. -n counts positions as
 * run.c does (an empty prompt yields N tokens after BOS; 0 = seq_len).
 * Additions:
 *   --ids          print the generated token ids (space-separated, one
 *                  line) instead of text; a tokenizer is then only needed
 *                  for a text prompt
 *   --precision P  weights in f32, bf16, int8, sparse or int4 (default: the
 *                  file's, jalrt_llm_file_precision(): int4 for a Q4_0 GGUF
 *                  file, int8 for Q8_0, else f32)
 *   --ctx N        a KV cache of N positions rather than the model's context
 *   --per-token    one job per position instead of one for the generation
 *   --host-memory  keep the model in host memory even with device memory
 *   --device N     the N-th Jalapeño device (default 0)
 *   --info         describe the loaded model on stderr
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jalrt.h"
#include "jalrt_llm.h"
#include "run_flags.h"

static const char usage_text[] =
	"usage: jalrt-run <checkpoint> [options]\n"
	"example: jalrt-run model.bin -n 256 -i \"Once upon a time\"\n"
	"options:\n"
	"  -t <float>  temperature in [0,inf], default 1.0\n"
	"  -p <float>  p value in top-p (nucleus) sampling in [0,1], default 0.9\n"
	"  -s <int>    random seed, default time(NULL)\n"
	"  -n <int>    number of steps to run for, default 256; 0 = max_seq_len\n"
	"  -i <string> input prompt\n"
	"  -z <string> path to the tokenizer, default tokenizer.bin (a GGUF model's own)\n"
	"  -m <string> mode: generate (the only one here)\n"
	"  --ids                  print token ids instead of text\n"
	"  --precision <p>        f32, bf16, int8, sparse or int4 weights\n"
	"                         (default: int4 for a Q4_0 file, int8 for Q8_0, else f32)\n"
	"  --ctx <n>              positions to hold a KV cache for (default: the model's)\n"
	"  --per-token            one job per position (default: one job in all)\n"
	"  --host-memory          keep the model in host memory\n"
	"  --device <n>           device index, default 0\n"
	"  --info                 describe the loaded model on stderr\n";

static void usage_error(const char *why, const char *arg)
{
	if (why)
		fprintf(stderr, "jalrt-run: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
	fputs(usage_text, stderr);
	exit(EXIT_FAILURE);
}



static void die(const char *what, int err)
{
	fprintf(stderr, "jalrt-run: %s: %s\n", what,
		*jalrt_last_error_message() ? jalrt_last_error_message() : jalrt_strerror(err));
	if (err == -ETIMEDOUT)
		fprintf(stderr,
			"jalrt-run: a generation is one job: raise the driver's limit (/sys/module/jalapeno/parameters/job_timeout_ms) or use fewer steps (-n)\n");
	exit(EXIT_FAILURE);
}

struct printer {
	struct jalrt_llm *llm;
	bool ids;
	bool first;
};

static int print_token(void *opaque, int prev, int token, int pos)
{
	struct printer *p = opaque;

	(void)pos;
	if (p->ids) {
		printf(p->first ? "%d" : " %d", token);
		p->first = false;
	} else {
		const char *piece = jalrt_llm_decode(p->llm, prev, token);

		if (jalrt_llm_piece_printable(p->llm, piece))
			fputs(piece, stdout);
	}
	fflush(stdout);
	return ferror(stdout) ? -EIO : 0;
}

int main(int argc, char **argv)
{
	const char *checkpoint_path;
	bool ids = false, info = false;
	long long device = 0;
	struct run_flags rf;
	struct jalrt_llm_options opts = { 0 };
	struct jalrt_llm_generate_params gp = { 0 };
	struct jalrt_llm_stats stats;
	struct printer printer = { .first = true };
	struct jalrt_device *dev;
	struct jalrt_llm *llm;
	enum jalrt_precision precision;
	bool precision_given = false;
	int bos = JALRT_LLM_TOKEN_BOS, *prompt_tokens = &bos, n_prompt = 1, i, ret;

	if (argc < 2 || argv[1][0] == '-')
		usage_error(argc < 2 ? NULL : "the checkpoint comes first", NULL);
	checkpoint_path = argv[1];
	run_flags_init(&rf);
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i], *arg;

		if (!strcmp(opt, "--ids")) {
			ids = true;
			continue;
		}
		if (!strcmp(opt, "--per-token")) {
			gp.mode = JALRT_LLM_PER_TOKEN;
			continue;
		}
		if (!strcmp(opt, "--host-memory")) {
			opts.flags |= JALRT_LLM_HOST_MEMORY;
			continue;
		}
		if (!strcmp(opt, "--info")) {
			info = true;
			continue;
		}
		if (!strcmp(opt, "--precision") || !strcmp(opt, "--device") ||
		    !strcmp(opt, "--ctx")) {
			if (i + 1 >= argc)
				usage_error("missing value for", opt);
			arg = argv[++i];
			if (opt[2] == 'c') {
				long long ctx = run_parse_ll("bad context", arg, usage_error);

				if (ctx < 1 || ctx > INT_MAX)
					usage_error("bad context", arg);
				opts.ctx = (uint32_t)ctx;
			} else if (opt[2] == 'd') {
				device = run_parse_ll("bad device index", arg, usage_error);
				if (device < 0 || device > INT_MAX)
					usage_error("bad device index", arg);
			} else if (jalrt_precision_parse(arg, &precision)) {
				usage_error("unknown precision (f32, bf16, int8, sparse, int4)", arg);
			} else {
				opts.precision = precision;
				precision_given = true;
			}
			continue;
		}
		run_flags_parse(&rf, argc, argv, &i, usage_error);
	}

	run_flags_finish(&rf);
	if (rf.steps > INT_MAX)
		rf.steps = INT_MAX;

	/* a quantised file runs on its own values unless told otherwise */
	if (!precision_given) {
		ret = jalrt_llm_file_precision(checkpoint_path, &precision);
		if (ret)
			die("cannot read the model", ret);
		opts.precision = precision;
	}
	ret = jalrt_device_open((unsigned int)device, &dev);
	if (ret)
		die("cannot open the device", ret);
	ret = jalrt_llm_load(dev, checkpoint_path,
			     !ids || rf.prompt || rf.tokenizer_given ?
			     run_flags_tokenizer(&rf, checkpoint_path) : NULL, &opts, &llm);
	if (ret)
		die("cannot load the model", ret);
	if (info) {
		struct jalrt_llm_info mi;

		jalrt_llm_query(llm, &mi);
		fprintf(stderr,
			"model: dim %d, hidden %d, %d layers, %d heads, %d kv heads, vocab %d, seq %d; %s weights %.1f MiB in %s memory, uploaded in %.1f ms\n",
			mi.dim, mi.hidden_dim, mi.n_layers, mi.n_heads, mi.n_kv_heads,
			mi.vocab_size, mi.seq_len, jalrt_precision_name(mi.precision),
			mi.weight_bytes / 1048576.0, mi.in_vram ? "device" : "host",
			mi.upload_ns / 1e6);
	}
	if (!ids || rf.prompt || rf.tokenizer_given) {
		const char *text = rf.prompt ? rf.prompt : "";
		size_t max = strlen(text) + 3;

		if (max > INT_MAX)
			usage_error("prompt too long", NULL);
		prompt_tokens = malloc(max * sizeof(*prompt_tokens));
		if (!prompt_tokens)
			die("out of memory", -ENOMEM);
		n_prompt = jalrt_llm_encode(llm, text, true, prompt_tokens, max);
		if (n_prompt < 0)
			die(n_prompt == -ENOTSUP ? "cannot encode the prompt (the GGUF file has no vocabulary: name a tokenizer with -z)" :
			    "cannot encode the prompt", n_prompt);
	}

	printer.llm = llm;
	printer.ids = ids;
	gp.prompt = prompt_tokens;
	gp.n_prompt = n_prompt;
	gp.steps = (int)rf.steps;
	gp.temperature = (float)rf.temperature;
	gp.topp = (float)rf.topp;
	gp.seed = rf.rng_seed;
	gp.on_token = print_token;
	gp.opaque = &printer;
	ret = jalrt_llm_generate(llm, &gp, &stats);
	printf("\n");
	fflush(stdout);
	if (ret)
		die("generation failed", ret);
	if (ferror(stdout)) {
		fprintf(stderr, "jalrt-run: cannot write to stdout\n");
		return EXIT_FAILURE;
	}
	if (stats.positions > 1)
		fprintf(stderr, "achieved tok/s: %f\n", stats.tokens_per_second);
	if (info)
		fprintf(stderr, "%d positions, %u job(s), %.1f ms in all%s\n", stats.positions,
			stats.submits, stats.total_ns / 1e6,
			stats.stopped_at_bos ? ", stopped at BOS" : "");

	if (prompt_tokens != &bos)
		free(prompt_tokens);
	jalrt_llm_destroy(llm);
	jalrt_device_close(dev);
	return EXIT_SUCCESS;
}
