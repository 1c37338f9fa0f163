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
 * thread at a time). Today it runs ONE sequence at a time, first in first
 * out, each as one jalrt_llm_generate() call: the chip runs the whole
 * generation as one job and the worker's token callback streams it,
 * applies stop strings and stops the job at the next token when the
 * request is cancelled. @parallel in the options is therefore capped at 1.
 *
 * The API is the scheduler's boundary: a batched scheduler (continuous
 * batching, many sequences advanced by each chip step, KV cache in blocks)
 * replaces only the worker's internals (engine.c's worker_main() and
 * run_request()); requests, callbacks, cancellation, queue limits, results
 * and statistics keep their meaning, so servers built on this header need
 * no change. Fields that describe running sequences and the KV cache are
 * already reported as the single sequence's for that reason.
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
 * @parallel: maximum sequences running at once (0 = 1). The FIFO worker
 *	runs one; larger values are accepted and capped at 1 until a batched
 *	worker lands (jalrt_serve_engine_query() reports the effective value).
 * @max_queue: requests waiting beyond the running ones before a submit
 *	fails with -EAGAIN (0 = 64).
 * @ctx: positions a sequence may use, prompt and generation together
 *	(0 or more than the model's seq_len = seq_len).
 * @token_delay_us: testing aid: the worker pauses this long after each
 *	generated token, so that tests can hold a request running or queued
 *	for as long as they need (0 in service).
 */
struct jalrt_serve_options {
	unsigned int parallel;
	unsigned int max_queue;
	int ctx;
	unsigned int token_delay_us;
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
	JALRT_SERVE_QUEUED = 0,
	JALRT_SERVE_RUNNING,
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
 * @queue_ns: submit to start of its generation.
 * @ttft_ns: submit to the first generated token (0 if none).
 * @total_ns: submit to the end (0 until done).
 * @tokens_per_second: the chip's decode rate for it (jalrt_llm_stats).
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
};

/* Time-to-first-token histogram: upper bounds in seconds, plus +Inf. */
#define JALRT_SERVE_TTFT_BUCKETS	10
extern const double jalrt_serve_ttft_bounds[JALRT_SERVE_TTFT_BUCKETS];

/**
 * struct jalrt_serve_stats - engine counters (cumulative) and gauges
 * @submitted: requests accepted.
 * @rejected_full: submits refused with -EAGAIN.
 * @finished: requests ended, by enum jalrt_serve_finish.
 * @prompt_tokens: sum over requests that ran.
 * @completion_tokens: tokens generated.
 * @decode_ns: time the chip spent generating (jalrt_llm_stats.total_ns).
 * @last_tokens_per_second: decode rate of the last finished generation.
 * @queued: requests waiting.
 * @running: sequences running now.
 * @parallel: effective maximum of @running.
 * @max_queue: the queue limit.
 * @ctx: positions per sequence.
 * @kv_used: KV cache positions in use (the running sequence's positions).
 * @kv_total: KV cache positions (ctx per running slot).
 * @ttft_count: histogram of time to first token: requests whose TTFT
 *	was <= jalrt_serve_ttft_bounds[i] (cumulative, Prometheus' way);
 *	[JALRT_SERVE_TTFT_BUCKETS] is +Inf.
 * @ttft_sum_ns: sum of the TTFTs counted.
 * @draining: shutdown started.
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
};

/**
 * jalrt_serve_engine_create() - start an engine on a loaded model
 * @llm: the model; the engine's worker is its only user until the engine
 *	is destroyed (the caller keeps ownership and destroys it after).
 *	jalrt_llm_encode() only reads the tokenizer and may be called by
 *	other threads meanwhile.
 * @opts: limits, or NULL for the defaults.
 * @engine: out.
 * Return: 0, -EINVAL, -ENOMEM or pthread_create()'s error.
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
 *	running, its generation stops at its next token. Idempotent; no
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
