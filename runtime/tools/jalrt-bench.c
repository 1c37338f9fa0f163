// SPDX-License-Identifier: MIT
/*
 * jalrt-bench: figures of the whole stack (library, driver, chip), one
 * "key value unit" line each, for scripts/bench.sh:
 *
 *   jalrt-bench null [-n JOBS]          null-job round trip and job rate
 *   jalrt-bench copy [-s MiB] [-n REPS] DMA copy bandwidth between host
 *                                       and device memory
 *   jalrt-bench llm MODEL [--precision P] [-n STEPS] [-r REPS]
 *                   [--per-token] [--host-memory]
 *                                       greedy decode rate from BOS, the
 *                                       best of REPS generations
 *   jalrt-bench batch MODEL [--precision P] [-n STEPS] [--seqs 1,4,16,64]
 *                   [--prompt 128,512] [--loop K]
 *                                       batched steps (jalrt_llm_batch_*):
 *                                       aggregate decode rate of each
 *                                       number of sequences, one job per
 *                                       step and K steps per job
 *                                       (jalrt_llm_batch_decode()), and
 *                                       the prefill rate of each
 *                                       prompt length in one step, with
 *                                       jalrt_llm_generate()'s rates of one
 *                                       sequence as the baselines
 *
 * Figures only: nothing here passes or fails on speed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jalrt.h"
#include "jalrt_llm.h"

#ifdef JALRT_BENCH_SIM
/* tests/host/runtime builds this tool on the chip model in-process. */
#include "sim_backend.h"
#define open_device(index, dev)	((void)(index), sim_open(1ull << 30, true, (dev)))
#else
#define open_device(index, dev)	jalrt_device_open((index), (dev))
#endif

#define TIMEOUT_NS	(600 * 1000000000LL)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "jalrt-bench: %s: %s\n", what,
		*jalrt_last_error_message() ? jalrt_last_error_message() : jalrt_strerror(err));
	exit(EXIT_FAILURE);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static long arg_long(int argc, char **argv, const char *flag, long def)
{
	int i;

	for (i = 0; i < argc - 1; i++)
		if (!strcmp(argv[i], flag))
			return strtol(argv[i + 1], NULL, 0);
	return def;
}

static const char *arg_str(int argc, char **argv, const char *flag, const char *def)
{
	int i;

	for (i = 0; i < argc - 1; i++)
		if (!strcmp(argv[i], flag))
			return argv[i + 1];
	return def;
}

/* --precision, else the file's (int4 for a Q4_0 GGUF file, int8 for Q8_0, else f32) */
static enum jalrt_precision arg_precision(int argc, char **argv)
{
	const char *name = arg_str(argc, argv, "--precision", NULL);
	enum jalrt_precision prec;

	if (name ? jalrt_precision_parse(name, &prec) : jalrt_llm_file_precision(argv[1], &prec))
		die("precision", -EINVAL);
	return prec;
}

static bool arg_flag(int argc, char **argv, const char *flag)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strcmp(argv[i], flag))
			return true;
	return false;
}

/* Round trip: submit one NOP job and wait, JOBS times; rate: JOBS in flight. */
static int bench_null(struct jalrt_device *dev, int argc, char **argv)
{
	long n = arg_long(argc, argv, "-n", 2000), i;
	struct jalrt_context *ctx;
	struct jalrt_cmdbuf *cb;
	struct jalrt_fence *f = NULL;
	uint64_t *lat, t0;
	int ret;

	if (n < 10)
		n = 10;
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		die("out of memory", -ENOMEM);
	ret = jalrt_context_create(dev, JALRT_PRIORITY_NORMAL, &ctx);
	if (!ret)
		ret = jalrt_cmdbuf_create(dev, &cb);
	if (!ret)
		ret = jalrt_cmdbuf_nop(cb);
	if (ret)
		die("setup", ret);
	/* Warm up (first submit writes the command buffer). */
	for (i = 0; i < 10 && !ret; i++)
		ret = jalrt_submit_sync(ctx, cb, NULL, 0, TIMEOUT_NS);
	for (i = 0; i < n && !ret; i++) {
		t0 = now_ns();
		ret = jalrt_submit_sync(ctx, cb, NULL, 0, TIMEOUT_NS);
		lat[i] = now_ns() - t0;
	}
	if (ret)
		die("null job", ret);
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	printf("null_rtt_median_us %.1f us\n", lat[n / 2] / 1e3);
	printf("null_rtt_p90_us %.1f us\n", lat[n * 9 / 10] / 1e3);

	t0 = now_ns();
	for (i = 0; i < n && !ret; i++) {
		jalrt_fence_destroy(f);
		ret = jalrt_submit(ctx, cb, NULL, 0, NULL, 0, &f);
	}
	if (!ret)
		ret = jalrt_fence_wait(f, TIMEOUT_NS);
	if (ret)
		die("pipelined null jobs", ret);
	printf("null_jobs_per_s %.0f jobs/s\n", n / ((now_ns() - t0) * 1e-9));
	jalrt_fence_destroy(f);
	jalrt_cmdbuf_destroy(cb);
	jalrt_context_destroy(ctx);
	free(lat);
	return 0;
}

struct copy_case {
	const char *name;
	bool dst_vram, src_vram;
};

static int bench_copy(struct jalrt_device *dev, int argc, char **argv)
{
	static const struct copy_case cases[] = {
		{ "host_to_host", false, false },
		{ "host_to_device", true, false },
		{ "device_to_host", false, true },
		{ "device_to_device", true, true },
	};
	uint64_t bytes = (uint64_t)arg_long(argc, argv, "-s", 64) << 20;
	long reps = arg_long(argc, argv, "-n", 5), r;
	struct jalrt_device_info info;
	struct jalrt_context *ctx;
	unsigned int c;
	int ret;

	jalrt_device_query(dev, &info);
	ret = jalrt_context_create(dev, JALRT_PRIORITY_NORMAL, &ctx);
	if (ret)
		die("context", ret);
	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct jalrt_buffer *dst = NULL, *src = NULL, *ts = NULL;
		struct jalrt_cmdbuf *cb = NULL;
		uint64_t best = UINT64_MAX, wall;
		const uint64_t *stamp;

		bool vram = cases[c].dst_vram || cases[c].src_vram;

		if (vram && info.vram_size < 2 * bytes + (1 << 20)) {
			printf("copy_%s n/a (no device memory)\n", cases[c].name);
			continue;
		}
		ret = jalrt_buffer_alloc(dev, bytes, cases[c].dst_vram ? JALRT_BUFFER_VRAM : 0,
					 &dst);
		if (!ret)
			ret = jalrt_buffer_alloc(dev, bytes,
						 cases[c].src_vram ? JALRT_BUFFER_VRAM : 0, &src);
		if (!ret)
			ret = jalrt_buffer_alloc(dev, 16, 0, &ts);
		if (!ret)
			ret = jalrt_cmdbuf_create(dev, &cb);
		/* The device clock brackets the copy: no submit overhead in the figure. */
		if (!ret)
			ret = jalrt_cmdbuf_timestamp(cb, ts, 0);
		if (!ret)
			ret = jalrt_cmdbuf_copy(cb, dst, 0, src, 0, bytes);
		if (!ret)
			ret = jalrt_cmdbuf_timestamp(cb, ts, 8);
		if (ret) {
			if (vram) {
				printf("copy_%s n/a (%s)\n", cases[c].name, jalrt_last_error_message());
				jalrt_cmdbuf_destroy(cb);
				jalrt_buffer_free(dst);
				jalrt_buffer_free(src);
				jalrt_buffer_free(ts);
				continue;
			}
			die("copy setup", ret);
		}
		stamp = jalrt_buffer_host(ts);
		wall = now_ns();
		for (r = 0; r < reps; r++) {
			ret = jalrt_submit_sync(ctx, cb, NULL, 0, TIMEOUT_NS);
			if (ret)
				die("copy job", ret);
			if (stamp[1] - stamp[0] < best)
				best = stamp[1] - stamp[0];
		}
		wall = now_ns() - wall;
		printf("copy_%s %.2f GB/s\n", cases[c].name, bytes / (double)best);
		printf("copy_%s_wall %.2f GB/s\n", cases[c].name,
		       bytes * (double)reps / (double)wall);
		jalrt_cmdbuf_destroy(cb);
		jalrt_buffer_free(dst);
		jalrt_buffer_free(src);
		jalrt_buffer_free(ts);
	}
	jalrt_context_destroy(ctx);
	return 0;
}

static int bench_llm(struct jalrt_device *dev, int argc, char **argv)
{
	struct jalrt_llm_options opts = { 0 };
	struct jalrt_llm_generate_params gp = { 0 };
	struct jalrt_llm_stats st;
	struct jalrt_llm_info info;
	struct jalrt_llm *llm;
	int bos = JALRT_LLM_TOKEN_BOS, ret;
	uint64_t load_ns;
	long reps, r;

	if (argc < 2)
		die("usage: jalrt-bench llm MODEL [--precision P] [-n STEPS]", -EINVAL);
	opts.precision = arg_precision(argc, argv);
	if (arg_flag(argc, argv, "--host-memory"))
		opts.flags |= JALRT_LLM_HOST_MEMORY;
	load_ns = now_ns();
	ret = jalrt_llm_load(dev, argv[1], NULL, &opts, &llm);
	if (ret)
		die("load", ret);
	load_ns = now_ns() - load_ns;
	jalrt_llm_query(llm, &info);
	gp.prompt = &bos;
	gp.n_prompt = 1;
	gp.steps = (int)arg_long(argc, argv, "-n", 256);
	gp.mode = arg_flag(argc, argv, "--per-token") ? JALRT_LLM_PER_TOKEN : JALRT_LLM_DEVICE_LOOP;
	reps = arg_long(argc, argv, "-r", 1);
	for (r = 0; r < (reps > 0 ? reps : 1); r++) {
		struct jalrt_llm_stats one;

		ret = jalrt_llm_generate(llm, &gp, &one);
		if (ret)
			die("generate", ret);
		if (!r || one.tokens_per_second > st.tokens_per_second)
			st = one;
	}
	printf("llm_tok_per_s %.2f tok/s\n", st.tokens_per_second);
	printf("llm_positions %d positions\n", st.positions);
	printf("llm_jobs %u jobs\n", st.submits);
	printf("llm_weights %.2f MiB\n", info.weight_bytes / 1048576.0);
	/* "part": the first arenas in device memory, the rest in host memory */
	printf("llm_memory %s\n", info.in_vram ? "device" : info.vram_bytes ? "part" : "host");
	printf("llm_vram %.2f MiB\n", info.vram_bytes / 1048576.0);
	printf("llm_upload %.1f ms\n", info.upload_ns / 1e6);
	/* the whole jalrt_llm_load(): reading, converting and uploading */
	printf("llm_load %.1f ms\n", load_ns / 1e6);
	jalrt_llm_destroy(llm);
	return 0;
}

/* What S sequences decoding together achieved. */
struct batch_fig {
	double tok_per_s;
	double step_us, device_us, overhead_us;
};

static struct jalrt_llm_batch *batch_new(struct jalrt_llm *llm, unsigned int seqs,
					 unsigned int rows, int positions)
{
	struct jalrt_llm_batch_options o = { .max_seqs = seqs, .max_rows = rows };
	struct jalrt_llm_batch *b;
	int ret;

	/* blocks for what the run stores, not whole contexts */
	o.kv_blocks = seqs * (unsigned int)((positions + JALRT_LLM_BATCH_BLOCK_SIZE - 1) /
					    JALRT_LLM_BATCH_BLOCK_SIZE);
	ret = jalrt_llm_batch_create(llm, &o, &b);
	if (ret)
		die("batch", ret);
	return b;
}

/*
 * Greedy decode of @seqs sequences from BOS, @steps steps after the first:
 * one job per step, or with @loop > 0 jalrt_llm_batch_decode() jobs of
 * @loop steps.
 */
static struct batch_fig batch_decode(struct jalrt_llm *llm, int seqs, int steps, int loop)
{
	struct jalrt_llm_batch *b = batch_new(llm, (unsigned int)seqs, (unsigned int)seqs,
					      steps + 1);
	struct jalrt_llm_batch_row *rows = calloc((size_t)seqs, sizeof(*rows));
	int *outs = calloc((size_t)seqs * (loop > 0 ? loop : 1), sizeof(*outs));
	struct jalrt_llm_batch_info info;
	struct batch_fig f = { 0 };
	uint64_t start = 0, dev_ns = 0, host_ns = 0;
	int i, s, k, jobs = 0, ret;

	if (!rows || !outs)
		die("batch", -ENOMEM);
	for (i = 0; i < seqs; i++) {
		ret = jalrt_llm_seq_create(b, &rows[i].seq);
		if (ret)
			die("sequence", ret);
		rows[i].token = JALRT_LLM_TOKEN_BOS;
		rows[i].sample = true;
	}
	/* Position 0 first, untimed, as run.c times from the end of the first. */
	for (s = 0; s <= steps; s += k, jobs += s > 0) {
		if (s == 1)
			start = now_ns();
		k = s && loop > 0 ? (steps + 1 - s < loop ? steps + 1 - s : loop) : 1;
		if (s && loop > 0)
			ret = jalrt_llm_batch_decode(b, rows, seqs, k, outs);
		else
			ret = jalrt_llm_batch_step(b, rows, seqs, outs);
		if (ret)
			die("step", ret);
		jalrt_llm_batch_query(b, &info);
		if (s) {
			dev_ns += info.last_device_ns;
			host_ns += info.last_host_ns;
		}
		for (i = 0; i < seqs; i++) {
			rows[i].pos = s + k;
			rows[i].token = outs[(k - 1) * seqs + i];
		}
	}
	if (steps) {
		uint64_t elapsed = now_ns() - start;

		f.tok_per_s = (double)seqs * steps / (elapsed * 1e-9);
		/* per job: a step, or a loop of them */
		f.step_us = elapsed / 1e3 / jobs;
		f.device_us = dev_ns / 1e3 / jobs;
		f.overhead_us = host_ns / 1e3 / jobs;
	}
	jalrt_llm_batch_destroy(b);
	free(rows);
	free(outs);
	return f;
}

/* One sequence's @n-token prompt (BOS, then ids 2..) in one step. */
static struct batch_fig batch_prefill(struct jalrt_llm *llm, const int *prompt, int n)
{
	struct jalrt_llm_batch *b = batch_new(llm, 1, (unsigned int)n, n);
	struct jalrt_llm_batch_row *rows = calloc((size_t)n, sizeof(*rows));
	int *out = calloc((size_t)n, sizeof(*out)), i, ret;
	struct jalrt_llm_batch_info info;
	struct jalrt_llm_seq *seq;
	struct batch_fig f = { 0 };

	if (!rows || !out)
		die("batch", -ENOMEM);
	ret = jalrt_llm_seq_create(b, &seq);
	if (ret)
		die("sequence", ret);
	for (i = 0; i < n; i++) {
		rows[i].seq = seq;
		rows[i].pos = i;
		rows[i].token = prompt[i];
	}
	rows[n - 1].sample = true;
	ret = jalrt_llm_batch_step(b, rows, n, out);
	if (ret)
		die("prefill", ret);
	jalrt_llm_batch_query(b, &info);
	f.step_us = info.last_step_ns / 1e3;
	f.device_us = info.last_device_ns / 1e3;
	f.overhead_us = info.last_host_ns / 1e3;
	f.tok_per_s = n / (info.last_step_ns * 1e-9);
	jalrt_llm_batch_destroy(b);
	free(rows);
	free(out);
	return f;
}

/* jalrt_llm_generate()'s rate for one sequence, the best of two. */
static double single_rate(struct jalrt_llm *llm, const int *prompt, int n_prompt, int steps)
{
	struct jalrt_llm_generate_params gp = {
		.prompt = prompt, .n_prompt = n_prompt, .steps = steps,
	};
	double best = 0;
	int r, ret;

	for (r = 0; r < 2; r++) {
		struct jalrt_llm_stats st;

		ret = jalrt_llm_generate(llm, &gp, &st);
		if (ret)
			die("generate", ret);
		if (st.tokens_per_second > best)
			best = st.tokens_per_second;
	}
	return best;
}

/* The figures of @seqs sequences: one job per step, then @loop steps a job. */
static void print_batch_decode(struct jalrt_llm *llm, int seqs, int steps, int loop)
{
	struct batch_fig f = batch_decode(llm, seqs, steps, 0);

	printf("batch_decode_%d_tok_per_s %.2f tok/s\n", seqs, f.tok_per_s);
	printf("batch_decode_%d_step_us %.1f us\n", seqs, f.step_us);
	printf("batch_decode_%d_device_us %.1f us\n", seqs, f.device_us);
	printf("batch_decode_%d_overhead_us %.1f us\n", seqs, f.overhead_us);
	f = batch_decode(llm, seqs, steps, loop);
	printf("batch_loop_%d_tok_per_s %.2f tok/s\n", seqs, f.tok_per_s);
	printf("batch_loop_%d_job_us %.1f us\n", seqs, f.step_us);
	printf("batch_loop_%d_overhead_us %.1f us\n", seqs, f.overhead_us);
}

/*
 * An @n-token prompt (BOS, then pseudo-random ids) in one step, and through
 * the single-sequence device loop (its rate: (n - 1) positions after the
 * first) as the baseline.
 */
static void print_batch_prefill(struct jalrt_llm *llm, int vocab_size, int n)
{
	int *prompt = malloc((size_t)n * sizeof(*prompt)), i;
	struct batch_fig f;

	if (!prompt)
		die("prompt", -ENOMEM);
	prompt[0] = JALRT_LLM_TOKEN_BOS;
	for (i = 1; i < n; i++)
		prompt[i] = 2 + (int)((i * 2654435761u) % (unsigned int)(vocab_size - 2));
	printf("batch_single_prefill_%d_tok_per_s %.2f tok/s\n", n,
	       single_rate(llm, prompt, n, n));
	f = batch_prefill(llm, prompt, n);
	printf("batch_prefill_%d_tok_per_s %.2f tok/s\n", n, f.tok_per_s);
	printf("batch_prefill_%d_step_us %.1f us\n", n, f.step_us);
	printf("batch_prefill_%d_device_us %.1f us\n", n, f.device_us);
	printf("batch_prefill_%d_overhead_us %.1f us\n", n, f.overhead_us);
	free(prompt);
}

/* Calls @fn for each positive number of the comma-separated @list. */
static void for_each_number(const char *list, const char *what,
			    void (*fn)(struct jalrt_llm *llm, int n, int a, int b),
			    struct jalrt_llm *llm, int a, int b)
{
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int n = atoi(tok);

		if (n < 1)
			die(what, -EINVAL);
		fn(llm, n, a, b);
	}
}

static void decode_fn(struct jalrt_llm *llm, int seqs, int steps, int loop)
{
	print_batch_decode(llm, seqs, steps, loop);
}

static void prefill_fn(struct jalrt_llm *llm, int n, int vocab_size, int seq_len)
{
	if (n > seq_len)
		die("--prompt: beyond the model's context", -EINVAL);
	print_batch_prefill(llm, vocab_size, n);
}

static int bench_batch(struct jalrt_device *dev, int argc, char **argv)
{
	struct jalrt_llm_options opts = { 0 };
	int steps, loop, bos = JALRT_LLM_TOKEN_BOS, ret;
	struct jalrt_llm_info info;
	struct jalrt_llm *llm;

	if (argc < 2)
		die("usage: jalrt-bench batch MODEL [--precision P] [-n STEPS] [--seqs LIST] [--prompt LIST]",
		    -EINVAL);
	opts.precision = arg_precision(argc, argv);
	ret = jalrt_llm_load(dev, argv[1], NULL, &opts, &llm);
	if (ret)
		die("load", ret);
	jalrt_llm_query(llm, &info);
	steps = (int)arg_long(argc, argv, "-n", 64);
	loop = (int)arg_long(argc, argv, "--loop", 16);
	if (loop < 1 || loop > JALRT_LLM_BATCH_MAX_STEPS)
		die("--loop", -EINVAL);
	if (steps < 1 || steps >= info.seq_len)
		die("steps beyond the model's context", -EINVAL);

	/* the baseline: one sequence through jalrt_llm_generate() */
	printf("batch_single_decode_tok_per_s %.2f tok/s\n",
	       single_rate(llm, &bos, 1, steps + 1));
	for_each_number(arg_str(argc, argv, "--seqs", "1,4,16,64"), "--seqs", decode_fn, llm,
			steps, loop);
	for_each_number(arg_str(argc, argv, "--prompt", "128"), "--prompt", prefill_fn, llm,
			info.vocab_size, info.seq_len);
	printf("batch_loop_steps %d steps\n", loop);
	printf("batch_memory %s\n", info.in_vram ? "device" : "host");
	jalrt_llm_destroy(llm);
	return 0;
}

int main(int argc, char **argv)
{
	struct jalrt_device *dev;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: jalrt-bench null|copy|llm|batch [options]\n");
		return 2;
	}
	ret = open_device((unsigned int)arg_long(argc, argv, "--device", 0), &dev);
	if (ret)
		die("open", ret);
	if (!strcmp(argv[1], "null"))
		ret = bench_null(dev, argc - 1, argv + 1);
	else if (!strcmp(argv[1], "copy"))
		ret = bench_copy(dev, argc - 1, argv + 1);
	else if (!strcmp(argv[1], "llm"))
		ret = bench_llm(dev, argc - 1, argv + 1);
	else if (!strcmp(argv[1], "batch"))
		ret = bench_batch(dev, argc - 1, argv + 1);
	else
		die("unknown benchmark", -EINVAL);
	jalrt_device_close(dev);
	return ret ? EXIT_FAILURE : EXIT_SUCCESS;
}
