/* SPDX-License-Identifier: MIT */
/*
 * jalrt serving engine: many client threads, one model on the chip.
 *
 * A request is an object: jalrt_serve_submit() queues token ids with
 * per-request sampling parameters and stop strings and returns a handle;
 * the engine streams the request's text through a callback, and the
 * submitter waits for it, cancels it, reads its result and counts, and
 * releases it. Every function is thread-safe: any number of threads
 * submit to one engine.
 *
 * One worker thread owns the model (struct jalrt_llm is used by one
 * thread at a time) and runs a continuous-batching scheduler on libjalrt's
 * batched steps (jalrt_llm_batch_*): up to @parallel sequences share ONE
 * chip job per step. Each step has one decode row per running request and,
 * within a row budget (@max_rows), chunks of the prompts of requests that
 * joined (chunked prefill); a request joins when the KV blocks of its
 * tokens fit the pool's free blocks, and leaves at once when it ends (the
 * model's BOS, max_tokens, a stop string, cancellation), its blocks
 * returned. When the running requests need more blocks than are free, the
 * youngest is preempted: its blocks are freed and it waits at the head of
 * the queue to be recomputed from its prompt and generated tokens with its
 * sampler's state, so it goes on with exactly the tokens it would have had.
 * The batched steps are bit-exact, so a request's tokens are those it gets
 * alone (jalrt_llm_generate() with the same prompt, sampler and seed),
 * whatever runs beside it.
 *
 * The API is the scheduler's boundary: requests, callbacks, cancellation,
 * queue limits, results and statistics keep their meaning whatever the
 * worker's internals (engine.c's worker_main() and what it calls), so
 * servers built on this header need no change.
 *
 * Conventions are libjalrt's: 0 or a negative errno.
 */
#ifndef JALRT_SERVE_H
#define JALRT_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jalrt_llm.h"

#ifdef __cplusplus
extern "C" {
#endif

struct jalrt_serve_engine;
struct jalrt_serve_request;

/* Stop strings per request (OpenAI's limit) and their longest length. */
#define JALRT_SERVE_MAX_STOP		4
#define JALRT_SERVE_MAX_STOP_LEN	256

/**
 * struct jalrt_serve_options - engine limits
 * @parallel: maximum sequences running at once, the batch's max_seqs
 *	(0 = 16; jalrt_serve_engine_stats() reports the effective value).
 * @max_queue: new requests waiting before a submit fails with -EAGAIN
 *	(0 = 64); preempted requests waiting to run again do not count.
 * @ctx: positions a sequence may use, prompt and generation together
 *	(0 or more than the model's seq_len = seq_len).
 * @token_delay_us: testing aid: the worker pauses this long after each
 *	step that generated tokens (0 in service).
 * @step_gate_fd: testing aid: when > 0, the worker reads one byte from
 *	this descriptor (a pipe or FIFO the test writes to) before each chip
 *	job, so a test hands out steps one by one and holds requests running
 *	or queued exactly as long as it needs, whatever the machine's speed.
 *	End of file or a read error opens the gate for good. While the worker
 *	waits at the gate it takes no step, so jalrt_serve_engine_destroy()
 *	with requests running waits for the test to open it. 0 in service
 *	(standard input is never a gate).
 * @max_rows: the row budget of a step: decode rows and prefill-chunk rows
 *	together (0 = 128; at least @parallel).
 * @kv_blocks: KV blocks in the pool (0 = from @kv_bytes, or without it
 *	enough for @parallel sequences of @ctx positions); at least one whole
 *	context's, so that every request that fits the context can run.
 * @kv_bytes: memory budget of the KV pool when @kv_blocks is 0 (0 = none).
 * @kv_dtype: element type of the KV cache, JAL_DTYPE_F32 (0) or
 *	JAL_DTYPE_BF16 (half the bytes a block: @kv_bytes holds twice the
 *	blocks; see jalrt_llm_batch_options).
 * @block_size: positions per KV block (0 = JALRT_LLM_BATCH_BLOCK_SIZE).
 * @decode_steps: when every running request is decoding and no waiting
 *	one could join (none waits, or @parallel run), run up to this many
 *	steps as ONE job (jalrt_llm_batch_decode(): the
 *	same tokens, one host<->chip round trip); 0 or 1 = one step per job
 *	(at most JALRT_LLM_BATCH_MAX_STEPS). A request then ends, is
 *	cancelled or lets a new one in only between jobs.
 */
struct jalrt_serve_options {
	unsigned int parallel;
	unsigned int max_queue;
	int ctx;
	unsigned int token_delay_us;
	int step_gate_fd;
	unsigned int max_rows;
	unsigned int kv_blocks;
	uint64_t kv_bytes;
	unsigned int block_size;
	unsigned int decode_steps;
	unsigned int kv_dtype;
};

/* Why a request ended. */
enum jalrt_serve_finish {
	JALRT_SERVE_FINISH_NONE = 0,	/* not yet */
	JALRT_SERVE_FINISH_STOP,	/* the model ended its text, or a stop string */
	JALRT_SERVE_FINISH_LENGTH,	/* max_tokens (or the context) reached */
	JALRT_SERVE_FINISH_CANCELLED,	/* jalrt_serve_cancel() or release before the end */
	JALRT_SERVE_FINISH_ERROR,	/* the generation failed (result.error) */
};

/** jalrt_serve_finish_name() - "stop", "length", "cancelled", "error" or "none" */
const char *jalrt_serve_finish_name(enum jalrt_serve_finish finish);

enum jalrt_serve_state {
	JALRT_SERVE_QUEUED = 0,		/* waiting (again after a preemption) */
	JALRT_SERVE_RUNNING,		/* in the batch */
	JALRT_SERVE_DONE,
};

/**
 * struct jalrt_serve_event - what the stream callback receives
 * @token: the generated token id (>= 0), or -1 for the final event.
 * @text: text that became final with this event (UTF-8, invalid bytes
 *	replaced by U+FFFD); may be empty while text is held back because it
 *	could be the start of a stop string or of a multi-byte character.
 *	Not NUL-terminated; valid during the call only.
 * @text_len: its length.
 * @finish: JALRT_SERVE_FINISH_NONE for tokens; why it ended for the
 *	final event (exactly one per request, also for a request cancelled
 *	while queued or failed).
 */
struct jalrt_serve_event {
	int token;
	const char *text;
	size_t text_len;
	enum jalrt_serve_finish finish;
};

/*
 * Called from the worker thread with the engine's lock held: it must be
 * quick, must not block, and must not call jalrt_serve_* functions.
 * It is never called after jalrt_serve_release() returns.
 */
typedef void (*jalrt_serve_event_fn)(void *opaque, const struct jalrt_serve_event *ev);

/**
 * struct jalrt_serve_params - one request
 * @prompt: token ids, BOS first (jalrt_llm_encode(.., bos = true, ..)); copied.
 * @n_prompt: their number, 1 <= n_prompt < ctx.
 * @max_tokens: tokens to generate at most, >= 1; n_prompt + max_tokens
 *	must fit in the context (else -E2BIG).
 * @temperature: 0 = greedy.
 * @top_p: nucleus sampling in (0, 1), else the whole distribution.
 * @seed: sampler seed (0 is replaced by 1).
 * @stop: up to JALRT_SERVE_MAX_STOP non-empty strings (copied): the text
 *	ends before the first occurrence of any of them, which is not
 *	returned (OpenAI's rule).
 * @n_stop: their number.
 * @on_event: stream callback, or NULL.
 * @opaque: for @on_event.
 */
struct jalrt_serve_params {
	const int *prompt;
	int n_prompt;
	int max_tokens;
	float temperature;
	float top_p;
	uint64_t seed;
	const char *const *stop;
	unsigned int n_stop;
	jalrt_serve_event_fn on_event;
	void *opaque;
};

/**
 * struct jalrt_serve_result - a request's state and counts
 * @state: enum jalrt_serve_state.
 * @finish: enum jalrt_serve_finish (NONE until done).
 * @error: the generation's negative errno for FINISH_ERROR, else 0.
 * @prompt_tokens: n_prompt.
 * @completion_tokens: tokens generated so far (stop-string tokens included).
 * @queue_ns: submit to start of its generation (its first step).
 * @ttft_ns: submit to the first generated token (0 if none).
 * @total_ns: submit to the end (0 until done).
 * @tokens_per_second: its decode rate: tokens after the first over the
 *	time from the first to the last (0 for fewer than 2 tokens).
 * @preemptions: times it was preempted and recomputed.
 */
struct jalrt_serve_result {
	enum jalrt_serve_state state;
	enum jalrt_serve_finish finish;
	int error;
	int prompt_tokens;
	int completion_tokens;
	uint64_t queue_ns;
	uint64_t ttft_ns;
	uint64_t total_ns;
	double tokens_per_second;
	unsigned int preemptions;
};

/* Time-to-first-token histogram: upper bounds in seconds, plus +Inf. */
#define JALRT_SERVE_TTFT_BUCKETS	10
extern const double jalrt_serve_ttft_bounds[JALRT_SERVE_TTFT_BUCKETS];

/* Rows (and sequences) per step histograms: upper bounds, plus +Inf. */
#define JALRT_SERVE_STEP_BUCKETS	10
extern const unsigned int jalrt_serve_step_bounds[JALRT_SERVE_STEP_BUCKETS];

/**
 * struct jalrt_serve_stats - engine counters (cumulative) and gauges
 * @submitted: requests accepted.
 * @rejected_full: submits refused with -EAGAIN.
 * @finished: requests ended, by enum jalrt_serve_finish.
 * @prompt_tokens: sum over requests that ran (counted once, at their
 *	first step; recomputation after a preemption is not counted again).
 * @completion_tokens: tokens generated.
 * @decode_ns: time the steps took (host clock: jalrt_llm_batch_step()
 *	calls, their host<->chip round trips included).
 * @last_tokens_per_second: decode rate of the last finished request that
 *	generated 2 tokens or more (struct jalrt_serve_result's).
 * @queued: requests waiting, new and preempted ones.
 * @running: sequences running now (holding a sequence of the batch).
 * @parallel: effective maximum of @running.
 * @max_queue: the queue limit.
 * @ctx: positions per sequence.
 * @kv_used: KV cache positions in use (the running sequences' lengths).
 * @kv_total: KV cache positions (blocks times block size).
 * @ttft_count: histogram of time to first token: requests whose TTFT
 *	was <= jalrt_serve_ttft_bounds[i] (cumulative, Prometheus' way);
 *	[JALRT_SERVE_TTFT_BUCKETS] is +Inf.
 * @ttft_sum_ns: sum of the TTFTs counted.
 * @draining: shutdown started.
 * @steps: steps run (positions every sequence in them advanced).
 * @step_rows: histogram of rows per step (cumulative: steps with at most
 *	jalrt_serve_step_bounds[i] rows; [JALRT_SERVE_STEP_BUCKETS] is +Inf).
 * @step_rows_sum: rows over all steps.
 * @step_seqs: histogram of sequences per step, as @step_rows.
 * @step_seqs_sum: sequences over all steps.
 * @max_step_seqs: most sequences in one step so far.
 * @step_device_ns: the steps' dispatch time by the device clock.
 * @step_host_ns: the steps' host<->chip overhead (step time minus device
 *	time: rows written, submit, completion, tokens read).
 * @sched_ns: the worker's own time around the steps (planning, admission,
 *	detokenizing and streaming the tokens).
 * @busy_ns: time the worker had requests to run (from the start of a
 *	loop to the end of its step).
 * @tokens_per_second: aggregate decode rate: @completion_tokens over
 *	@busy_ns.
 * @preemptions: sequences preempted (freed to be recomputed).
 * @preempted: preempted requests waiting now (part of @queued).
 * @max_rows: the row budget of a step.
 * @block_size: positions per KV block.
 * @kv_blocks_used: KV blocks held by running sequences.
 * @kv_blocks_total: KV blocks in the pool.
 * @jobs: chip jobs run: one per step, or per decode loop of several steps.
 * @kv_dtype: element type of the KV cache (JAL_DTYPE_F32 or _BF16).
 * @kv_bytes: bytes of the KV pool (K and V of every layer).
 */
struct jalrt_serve_stats {
	uint64_t submitted;
	uint64_t rejected_full;
	uint64_t finished[JALRT_SERVE_FINISH_ERROR + 1];
	uint64_t prompt_tokens;
	uint64_t completion_tokens;
	uint64_t decode_ns;
	double last_tokens_per_second;
	unsigned int queued;
	unsigned int running;
	unsigned int parallel;
	unsigned int max_queue;
	int ctx;
	int kv_used;
	int kv_total;
	uint64_t ttft_count[JALRT_SERVE_TTFT_BUCKETS + 1];
	uint64_t ttft_sum_ns;
	bool draining;
	uint64_t steps;
	uint64_t step_rows[JALRT_SERVE_STEP_BUCKETS + 1];
	uint64_t step_rows_sum;
	uint64_t step_seqs[JALRT_SERVE_STEP_BUCKETS + 1];
	uint64_t step_seqs_sum;
	unsigned int max_step_seqs;
	uint64_t step_device_ns;
	uint64_t step_host_ns;
	uint64_t sched_ns;
	uint64_t busy_ns;
	double tokens_per_second;
	uint64_t preemptions;
	unsigned int preempted;
	unsigned int max_rows;
	unsigned int block_size;
	int kv_blocks_used;
	int kv_blocks_total;
	uint64_t jobs;
	unsigned int kv_dtype;
	uint64_t kv_bytes;
};

/**
 * jalrt_serve_engine_create() - start an engine on a loaded model
 * @llm: the model; the engine's worker is its only user until the engine
 *	is destroyed (the caller keeps ownership and destroys it after).
 *	jalrt_llm_encode() only reads the tokenizer and may be called by
 *	other threads meanwhile.
 * @opts: limits, or NULL for the defaults.
 * @engine: out.
 * Creates the engine's batch (jalrt_llm_batch_create(): the KV pool and
 * the step program); when the pool does not fit, fewer blocks are tried
 * down to one context's.
 * Return: 0, -EINVAL, -ENOMEM, the batch's error or pthread_create()'s.
 */
int jalrt_serve_engine_create(struct jalrt_llm *llm, const struct jalrt_serve_options *opts,
			      struct jalrt_serve_engine **engine);

/**
 * jalrt_serve_engine_shutdown() - stop accepting requests
 * @drain: true: finish every queued and running request, then return;
 *	false: cancel them (each still gets its final event) and return
 *	when the worker is idle.
 * Submits fail with -ESHUTDOWN from now on. Return: 0.
 */
int jalrt_serve_engine_shutdown(struct jalrt_serve_engine *engine, bool drain);

/**
 * jalrt_serve_engine_destroy() - shut down (cancelling), join the worker,
 *	free (or NULL). Release every request first.
 */
void jalrt_serve_engine_destroy(struct jalrt_serve_engine *engine);

/** jalrt_serve_engine_stats() - a consistent snapshot of the counters */
void jalrt_serve_engine_stats(struct jalrt_serve_engine *engine, struct jalrt_serve_stats *stats);

/**
 * jalrt_serve_submit() - queue a request
 * @req: out: the handle; the caller releases it with jalrt_serve_release().
 * Return: 0; -EINVAL (bad parameters); -E2BIG (prompt plus max_tokens do
 * not fit the context); -EAGAIN (the queue is full); -ESHUTDOWN; -ENOMEM.
 */
int jalrt_serve_submit(struct jalrt_serve_engine *engine, const struct jalrt_serve_params *params,
		       struct jalrt_serve_request **req);

/**
 * jalrt_serve_cancel() - stop a request: if queued it never runs; if
 *	running, it leaves the batch at the next step (no token after the
 *	one in flight), its KV blocks returned. Idempotent; no
 *	effect on a finished request.
 */
void jalrt_serve_cancel(struct jalrt_serve_request *req);

/**
 * jalrt_serve_wait() - wait until the request is done
 * @timeout_ms: < 0 forever.
 * Return: 0 when done, -ETIMEDOUT.
 */
int jalrt_serve_wait(struct jalrt_serve_request *req, int timeout_ms);

/** jalrt_serve_result() - the request's state and counts now */
void jalrt_serve_result(struct jalrt_serve_request *req, struct jalrt_serve_result *result);

/**
 * jalrt_serve_text() - the request's final text (stop strings removed,
 *	UTF-8), valid once done until release; NULL before. @len: out, or NULL.
 */
const char *jalrt_serve_text(struct jalrt_serve_request *req, size_t *len);

/**
 * jalrt_serve_tokens() - the generated token ids so far (a copy).
 * @ids: out: up to @max ids. Return: the number generated (may exceed @max).
 */
int jalrt_serve_tokens(struct jalrt_serve_request *req, int *ids, int max);

/**
 * jalrt_serve_release() - drop the caller's handle (or NULL): a request
 *	that has not finished is cancelled; the callback is not called again.
 */
void jalrt_serve_release(struct jalrt_serve_request *req);

#ifdef __cplusplus
}
#endif

#endif /* JALRT_SERVE_H */
