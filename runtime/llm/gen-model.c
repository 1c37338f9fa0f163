// SPDX-License-Identifier: MIT
/*
 * jalrt-gen-model: write a seeded random llama2.c checkpoint of any shape,
 * so that tests and benchmarks can use model shapes nobody ships (e.g.
 * the 15M "stories" shape, or grouped KV heads) without downloading one;
 * or the same model as a GGUF file (llama.cpp's format), or convert an
 * existing checkpoint (llama2.c's or GGUF) to either format.
 *
 *   jalrt-gen-model [--dim N] [--hidden N] [--layers N] [--heads N]
 *                   [--kv-heads N] [--vocab N] [--seq N] [--seed N]
 *                   [--shared | --unshared] [--rope-theta F] [--rms-eps F]
 *                   [--arch llama|qwen2] [--rope-scaling none|linear|llama3]
 *                   [--rope-factor F] [--rope-low-freq F] [--rope-high-freq F]
 *                   [--rope-orig-ctx N] [--format bin|gguf] [--type f32|f16|q8_0|q4_0]
 *                   [--tokenizer FILE] [--from FILE] -o FILE
 *
 * --tokenizer takes a llama2.c tokenizer.bin or any GGUF file with a
 * vocabulary (sentencepiece or byte-level BPE), which is copied.
 *
 * Defaults are the shape of llama2.c's stories15M.bin (dim 288, hidden
 * 768, 6 layers, 6 heads, 6 KV heads, vocab 32000, seq 256, shared
 * classifier) with seed 1. The format is GGUF for --format gguf or an
 * output name ending in .gguf; the same seed and shape give the same
 * weights in both formats.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "gguf-model.h"

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
	"  --rope-theta F RoPE base, GGUF only (10000)\n"
	"  --rms-eps F    RMS norm epsilon, GGUF only (1e-5)\n"
	"  --arch A       llama (default) or qwen2 (random Q, K, V biases), GGUF only\n"
	"  --rope-scaling S  none (default), linear or llama3, GGUF only\n"
	"  --rope-factor F   the scaling factor (8 for llama3, else required)\n"
	"  --rope-low-freq F, --rope-high-freq F, --rope-orig-ctx N\n"
	"                 llama3's bands and original context (1, 4, 8192)\n"
	"  --format F     bin (llama2.c) or gguf (default: gguf for a .gguf output)\n"
	"  --type T       GGUF weights: f32 (default), f16, q8_0 or q4_0\n"
	"  --tokenizer F  GGUF: include this vocabulary as tokenizer.ggml.* (a tokenizer.bin,\n"
	"                 or a GGUF file's own, e.g. a Llama 3 byte-level BPE one)\n"
	"  --from FILE    convert this checkpoint (.bin or .gguf) instead of generating one\n"
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

/* A tokenizer.bin, or the vocabulary of a GGUF file (told apart by the magic). */
static int open_vocabulary(const char *path, int vocab_size, struct llm_tokenizer **tok)
{
	struct gguf_file *g = NULL;
	char magic[4] = { 0 };
	FILE *f = fopen(path, "rb");
	int ret;

	if (f) {
		if (fread(magic, 1, 4, f) != 4)
			magic[0] = 0;
		fclose(f);
	}
	if (memcmp(magic, "GGUF", 4))
		return llm_tokenizer_open(path, vocab_size, tok);
	ret = gguf_open(path, &g);
	if (!ret)
		ret = llm_tokenizer_from_gguf(g, vocab_size, tok);
	gguf_close(g);
	if (!ret && !*tok)
		ret = llm_set_error(-EINVAL, "%s has no vocabulary (tokenizer.ggml.tokens)", path);
	return ret;
}

int main(int argc, char **argv)
{
	enum { OPT_DIM = 256, OPT_HIDDEN, OPT_LAYERS, OPT_HEADS, OPT_KV_HEADS, OPT_VOCAB,
	       OPT_SEQ, OPT_SEED, OPT_SHARED, OPT_UNSHARED, OPT_HELP, OPT_THETA, OPT_EPS,
	       OPT_FORMAT, OPT_TYPE, OPT_TOKENIZER, OPT_FROM, OPT_ARCH, OPT_SCALING,
	       OPT_FACTOR, OPT_LOW, OPT_HIGH, OPT_ORIG };
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
		{ "rope-theta", required_argument, NULL, OPT_THETA },
		{ "rms-eps", required_argument, NULL, OPT_EPS },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "tokenizer", required_argument, NULL, OPT_TOKENIZER },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "arch", required_argument, NULL, OPT_ARCH },
		{ "rope-scaling", required_argument, NULL, OPT_SCALING },
		{ "rope-factor", required_argument, NULL, OPT_FACTOR },
		{ "rope-low-freq", required_argument, NULL, OPT_LOW },
		{ "rope-high-freq", required_argument, NULL, OPT_HIGH },
		{ "rope-orig-ctx", required_argument, NULL, OPT_ORIG },
		{ NULL, 0, NULL, 0 },
	};
	struct llm_config config = {
		.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6,
		.vocab_size = 32000, .seq_len = 256, .shared_classifier = true,
	};
	const char *output = NULL, *format = NULL, *tokenizer = NULL, *from = NULL;
	struct llm_gguf_write_opts gopts = { .type = GGML_TYPE_F32 };
	struct llm_checkpoint *ckpt = NULL;
	struct llm_tokenizer *tok = NULL;
	uint64_t seed = 1;
	size_t size;
	int opt, bad = 0, ret;
	bool gguf, hyper = false;	/* architecture or RoPE scaling given */

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
		case OPT_THETA:
		case OPT_EPS:
		case OPT_FACTOR:
		case OPT_LOW:
		case OPT_HIGH: {
			char *end;
			float v = strtof(optarg, &end);

			if (end == optarg || *end || !(v > 0.0f)) {
				fprintf(stderr, "jalrt-gen-model: --%s needs a positive number, not '%s'\n",
					options[opt - OPT_DIM].name, optarg);
				bad = 1;
			} else if (opt == OPT_THETA) {
				config.rope_theta = v;
			} else if (opt == OPT_EPS) {
				config.rms_eps = v;
			} else if (opt == OPT_FACTOR) {
				config.rope_factor = v;
			} else if (opt == OPT_LOW) {
				config.rope_low_freq_factor = v;
			} else {
				config.rope_high_freq_factor = v;
			}
			hyper |= opt != OPT_THETA && opt != OPT_EPS;
			break;
		}
		case OPT_ORIG:
			bad |= parse_int("--rope-orig-ctx", optarg, &config.rope_orig_ctx);
			hyper = true;
			break;
		case OPT_ARCH:
			if (!strcmp(optarg, "llama")) {
				config.arch = LLM_ARCH_LLAMA;
			} else if (!strcmp(optarg, "qwen2")) {
				config.arch = LLM_ARCH_QWEN2;
			} else {
				fprintf(stderr, "jalrt-gen-model: --arch is llama or qwen2, not '%s'\n",
					optarg);
				bad = 1;
			}
			hyper = true;
			break;
		case OPT_SCALING:
			if (!strcmp(optarg, "none")) {
				config.rope_scaling = LLM_ROPE_SCALING_NONE;
			} else if (!strcmp(optarg, "linear")) {
				config.rope_scaling = LLM_ROPE_SCALING_LINEAR;
			} else if (!strcmp(optarg, "llama3")) {
				config.rope_scaling = LLM_ROPE_SCALING_LLAMA3;
			} else {
				fprintf(stderr, "jalrt-gen-model: --rope-scaling is none, linear or llama3, not '%s'\n",
					optarg);
				bad = 1;
			}
			hyper = true;
			break;
		case OPT_FORMAT:
			format = optarg;
			if (strcmp(format, "bin") && strcmp(format, "gguf")) {
				fprintf(stderr, "jalrt-gen-model: --format is bin or gguf, not '%s'\n",
					optarg);
				bad = 1;
			}
			break;
		case OPT_TYPE:
			if (!strcmp(optarg, "f32")) {
				gopts.type = GGML_TYPE_F32;
			} else if (!strcmp(optarg, "f16")) {
				gopts.type = GGML_TYPE_F16;
			} else if (!strcmp(optarg, "q8_0")) {
				gopts.type = GGML_TYPE_Q8_0;
			} else if (!strcmp(optarg, "q4_0")) {
				gopts.type = GGML_TYPE_Q4_0;
			} else {
				fprintf(stderr, "jalrt-gen-model: --type is f32, f16, q8_0 or q4_0, not '%s'\n",
					optarg);
				bad = 1;
			}
			break;
		case OPT_TOKENIZER:
			tokenizer = optarg;
			break;
		case OPT_FROM:
			from = optarg;
			break;
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
	gguf = format ? !strcmp(format, "gguf") :
	       strlen(output ? output : "") > 5 && !strcmp(output + strlen(output) - 5, ".gguf");
	if (!bad && !gguf && (tokenizer || gopts.type != GGML_TYPE_F32 ||
			      config.rope_theta || config.rms_eps || hyper)) {
		fprintf(stderr, "jalrt-gen-model: --tokenizer, --type, --rope-*, --rms-eps and --arch are for GGUF output\n");
		bad = 1;
	}
	if (!bad && hyper && from) {
		fprintf(stderr, "jalrt-gen-model: --arch and --rope-* describe a generated model, not --from\n");
		bad = 1;
	}
	/* llama3 without a factor: Llama 3.1's */
	if (config.rope_scaling == LLM_ROPE_SCALING_LLAMA3 && !config.rope_factor)
		config.rope_factor = 8.0f;
	if (!bad && config.rope_scaling == LLM_ROPE_SCALING_LINEAR && !config.rope_factor) {
		fprintf(stderr, "jalrt-gen-model: --rope-scaling linear needs --rope-factor\n");
		bad = 1;
	}
	if (bad) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (gguf) {
		ret = from ? llm_checkpoint_open(from, &ckpt) :
			     llm_checkpoint_random(&config, seed, &ckpt);
		if (!ret && tokenizer)
			ret = open_vocabulary(tokenizer, ckpt->config.vocab_size, &tok);
		gopts.tokenizer = tok;
		if (!ret)
			ret = llm_gguf_write_model(output, ckpt, &gopts);
		if (ret) {
			fprintf(stderr, "jalrt-gen-model: %s\n", llm_last_error_message());
			llm_tokenizer_close(tok);
			llm_checkpoint_close(ckpt);
			return 1;
		}
		config = ckpt->config;
		printf("%s: GGUF %s%s%s, dim %d, hidden %d, %d layers, %d heads, %d kv heads, vocab %d, seq %d, %s classifier, %s%s\n",
		       output, config.arch == LLM_ARCH_QWEN2 ? "qwen2 " : "",
		       gguf_type_name(gopts.type),
		       config.rope_scaling == LLM_ROPE_SCALING_LLAMA3 ? " llama3 RoPE" :
		       config.rope_scaling == LLM_ROPE_SCALING_LINEAR ? " linear RoPE" : "",
		       config.dim, config.hidden_dim,
		       config.n_layers, config.n_heads, config.n_kv_heads, config.vocab_size,
		       config.seq_len, config.shared_classifier ? "shared" : "separate",
		       from ? "from " : "random", from ? from : "");
		llm_tokenizer_close(tok);
		llm_checkpoint_close(ckpt);
		return 0;
	}
	if (from) {
		/* any checkpoint (a GGUF model too) as a llama2.c one */
		if (llm_checkpoint_open(from, &ckpt) || llm_checkpoint_write(output, ckpt)) {
			fprintf(stderr, "jalrt-gen-model: %s\n", llm_last_error_message());
			llm_checkpoint_close(ckpt);
			return 1;
		}
		config = ckpt->config;
		llm_checkpoint_file_size(&config, &size);
		printf("%s: llama2.c checkpoint from %s, dim %d, hidden %d, %d layers, %d heads, %d kv heads, vocab %d, seq %d, %s classifier, %zu bytes\n",
		       output, from, config.dim, config.hidden_dim, config.n_layers, config.n_heads,
		       config.n_kv_heads, config.vocab_size, config.seq_len,
		       config.shared_classifier ? "shared" : "separate", size);
		llm_checkpoint_close(ckpt);
		return 0;
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
