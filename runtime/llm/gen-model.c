// SPDX-License-Identifier: MIT
/*
 * jalrt-gen-model: write a seeded random llama2.c checkpoint of any shape,
 * so that tests and benchmarks can use model shapes nobody ships (e.g.
 * the 15M "stories" shape, or grouped KV heads) without downloading one.
 *
 *   jalrt-gen-model [--dim N] [--hidden N] [--layers N] [--heads N]
 *                   [--kv-heads N] [--vocab N] [--seq N] [--seed N]
 *                   [--shared | --unshared] -o FILE
 *
 * Defaults are the shape of llama2.c's stories15M.bin (dim 288, hidden
 * 768, 6 layers, 6 heads, 6 KV heads, vocab 32000, seq 256, shared
 * classifier) with seed 1.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

static const char usage_text[] =
	"usage: jalrt-gen-model [options] -o FILE\n"
	"  --dim N        width of the residual stream (288)\n"
	"  --hidden N     width of the feed-forward layer (768)\n"
	"  --layers N     transformer blocks (6)\n"
	"  --heads N      query heads (6)\n"
	"  --kv-heads N   key/value heads, dividing --heads (6)\n"
	"  --vocab N      tokens (32000)\n"
	"  --seq N        positions (256)\n"
	"  --seed N       generator seed, any 64-bit value (1)\n"
	"  --shared       classifier = token embedding (default)\n"
	"  --unshared     separate classifier weights\n"
	"  -o FILE        output checkpoint\n";

static int parse_int(const char *opt, const char *arg, int *out)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(arg, &end, 0);
	if (errno || end == arg || *end || value <= 0 || value > INT_MAX) {
		fprintf(stderr, "jalrt-gen-model: %s needs a positive integer, not '%s'\n", opt, arg);
		return -1;
	}
	*out = (int)value;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_DIM = 256, OPT_HIDDEN, OPT_LAYERS, OPT_HEADS, OPT_KV_HEADS, OPT_VOCAB,
	       OPT_SEQ, OPT_SEED, OPT_SHARED, OPT_UNSHARED, OPT_HELP };
	static const struct option options[] = {
		{ "dim", required_argument, NULL, OPT_DIM },
		{ "hidden", required_argument, NULL, OPT_HIDDEN },
		{ "layers", required_argument, NULL, OPT_LAYERS },
		{ "heads", required_argument, NULL, OPT_HEADS },
		{ "kv-heads", required_argument, NULL, OPT_KV_HEADS },
		{ "vocab", required_argument, NULL, OPT_VOCAB },
		{ "seq", required_argument, NULL, OPT_SEQ },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "shared", no_argument, NULL, OPT_SHARED },
		{ "unshared", no_argument, NULL, OPT_UNSHARED },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct llm_config config = {
		.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6,
		.vocab_size = 32000, .seq_len = 256, .shared_classifier = true,
	};
	const char *output = NULL;
	uint64_t seed = 1;
	size_t size;
	int opt, bad = 0;

	while ((opt = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_DIM:
			bad |= parse_int("--dim", optarg, &config.dim);
			break;
		case OPT_HIDDEN:
			bad |= parse_int("--hidden", optarg, &config.hidden_dim);
			break;
		case OPT_LAYERS:
			bad |= parse_int("--layers", optarg, &config.n_layers);
			break;
		case OPT_HEADS:
			bad |= parse_int("--heads", optarg, &config.n_heads);
			break;
		case OPT_KV_HEADS:
			bad |= parse_int("--kv-heads", optarg, &config.n_kv_heads);
			break;
		case OPT_VOCAB:
			bad |= parse_int("--vocab", optarg, &config.vocab_size);
			break;
		case OPT_SEQ:
			bad |= parse_int("--seq", optarg, &config.seq_len);
			break;
		case OPT_SEED: {
			char *end;

			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				fprintf(stderr, "jalrt-gen-model: --seed needs an unsigned integer, not '%s'\n",
					optarg);
				bad = 1;
			}
			break;
		}
		case OPT_SHARED:
			config.shared_classifier = true;
			break;
		case OPT_UNSHARED:
			config.shared_classifier = false;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			return 0;
		default:
			bad = 1;
			break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jalrt-gen-model: unexpected argument '%s'\n", argv[optind]);
		bad = 1;
	}
	if (!bad && !output) {
		fprintf(stderr, "jalrt-gen-model: no output file (-o FILE)\n");
		bad = 1;
	}
	if (bad) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (llm_config_init(&config) || llm_checkpoint_file_size(&config, &size) ||
	    llm_checkpoint_write_random(output, &config, seed)) {
		fprintf(stderr, "jalrt-gen-model: %s\n", llm_last_error_message());
		return 1;
	}
	printf("%s: dim %d, hidden %d, %d layers, %d heads, %d kv heads, vocab %d, seq %d, %s classifier, seed %" PRIu64 ", %zu bytes\n",
	       output, config.dim, config.hidden_dim, config.n_layers, config.n_heads,
	       config.n_kv_heads, config.vocab_size, config.seq_len,
	       config.shared_classifier ? "shared" : "separate", seed, size);
	return 0;
}
