// SPDX-License-Identifier: MIT
/*
 * The serving engine (jalrt_serve.h): a request queue in front of one
 * worker thread that owns the model. Today the worker runs one sequence
 * at a time through jalrt_llm_generate(); a batched scheduler replaces
 * worker_main() and run_request() only.
 *
 * Locking: one mutex (engine->lock) guards the queue, every request's
 * state and the counters; the stream callback runs under it. The model is
 * touched by the worker alone, outside the lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jalrt_serve.h"

const double jalrt_serve_ttft_bounds[JALRT_SERVE_TTFT_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
};

struct buf {
	char *data;
	size_t len, cap;
};

struct jalrt_serve_request {
	struct jalrt_serve_engine *engine;
	struct jalrt_serve_request *next;	/* queue */
	unsigned int refs;			/* caller + worker */
	bool released;

	/* parameters */
	int *prompt;
	int n_prompt;
	int max_tokens;
	float temperature, top_p;
	uint64_t seed;
	char *stop[JALRT_SERVE_MAX_STOP];
	unsigned int n_stop;
	size_t max_stop_len;
	jalrt_serve_event_fn on_event;
	void *opaque;

	/* progress */
	enum jalrt_serve_state state;
	enum jalrt_serve_finish finish;
	bool cancelled;
	int error;
	int *tokens;
	int n_tokens, cap_tokens;
	struct buf raw;		/* generated text as decoded */
	size_t emitted;		/* bytes of @raw handed out */
	struct buf out;		/* what was handed out, sanitized */
	uint64_t t_submit, t_start, t_first, t_end;
	double tokens_per_second;
	pthread_cond_t done;
};

struct jalrt_serve_engine {
	struct jalrt_llm *llm;
	int ctx;
	unsigned int parallel, max_queue, token_delay_us;
	pthread_mutex_t lock;
	pthread_cond_t work;	/* queue not empty, or stopping */
	pthread_cond_t idle;	/* worker finished a request */
	pthread_t worker;
	struct jalrt_serve_request *head, *tail;
	unsigned int queued;
	struct jalrt_serve_request *running;
	int running_pos;
	bool shutdown, drain, stop_worker;
	struct jalrt_serve_stats st;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *jalrt_serve_finish_name(enum jalrt_serve_finish finish)
{
	switch (finish) {
	case JALRT_SERVE_FINISH_STOP: return "stop";
	case JALRT_SERVE_FINISH_LENGTH: return "length";
	case JALRT_SERVE_FINISH_CANCELLED: return "cancelled";
	case JALRT_SERVE_FINISH_ERROR: return "error";
	default: return "none";
	}
}

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Length of the valid UTF-8 sequence at @s (of @n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* Appends @s (@n bytes) to @b with invalid bytes as U+FFFD. */
static int buf_add_utf8(struct buf *b, const char *s, size_t n)
{
	size_t i = 0, len;

	while (i < n) {
		len = utf8_seq((const unsigned char *)s + i, n - i);
		if (!len) {
			if (buf_add(b, "\xef\xbf\xbd", 3))
				return -ENOMEM;
			i++;
			continue;
		}
		if (buf_add(b, s + i, len))
			return -ENOMEM;
		i += len;
	}
	return 0;
}

/* Bytes at the end of @s (@n) that start a multi-byte character not yet complete. */
static size_t utf8_incomplete_tail(const char *s, size_t n)
{
	size_t k;

	for (k = 1; k <= 3 && k <= n; k++) {
		unsigned char c = (unsigned char)s[n - k];
		size_t need;

		if ((c & 0xc0) == 0x80)
			continue;	/* continuation: look further back */
		need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > k ? k : 0;
	}
	return 0;
}

/*
 * Hands out the text of @r->raw that is final: everything up to a stop
 * string (returns true when one was found, the raw text cut there), or up
 * to what could still become one or a multi-byte character (@all: the
 * generation ended, hand out the rest). Calls the callback with @token.
 * Engine lock held.
 */
static bool emit(struct jalrt_serve_request *r, int token, bool all)
{
	size_t end = r->raw.len, hold = 0, start = r->out.len;
	bool stopped = false;
	unsigned int i;

	for (i = 0; i < r->n_stop && r->raw.data; i++) {
		const char *hit = strstr(r->raw.data + r->emitted, r->stop[i]);

		if (hit && (size_t)(hit - r->raw.data) < end) {
			end = (size_t)(hit - r->raw.data);
			stopped = true;
		}
	}
	if (stopped) {
		r->raw.len = end;
		r->raw.data[end] = '\0';
	} else if (!all) {
		for (i = 0; i < r->n_stop; i++) {
			size_t k, sl = strlen(r->stop[i]);

			for (k = sl - 1; k > hold; k--)
				if (k <= end - r->emitted &&
				    !memcmp(r->raw.data + end - k, r->stop[i], k))
					break;
			if (k > hold)
				hold = k;
		}
		end -= hold;
		end -= utf8_incomplete_tail(r->raw.data + r->emitted, end - r->emitted);
	}
	if (end > r->emitted) {
		if (buf_add_utf8(&r->out, r->raw.data + r->emitted, end - r->emitted))
			r->error = -ENOMEM;
		r->emitted = end;
	}
	if (r->on_event && !r->released && (token >= 0 || r->out.len > start)) {
		struct jalrt_serve_event ev = {
			.token = token,
			.text = r->out.data ? r->out.data + start : "",
			.text_len = r->out.len - start,
		};

		r->on_event(r->opaque, &ev);
	}
	return stopped;
}

/* Frees a request once neither the caller nor the worker holds it. Lock held. */
static void put_request(struct jalrt_serve_request *r)
{
	unsigned int i;

	if (--r->refs)
		return;
	free(r->prompt);
	free(r->tokens);
	free(r->raw.data);
	free(r->out.data);
	for (i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	pthread_cond_destroy(&r->done);
	free(r);
}

/* Ends @r: final event, counters, wakes waiters. Lock held. */
static void finish_request(struct jalrt_serve_engine *e, struct jalrt_serve_request *r,
			   enum jalrt_serve_finish finish)
{
	struct jalrt_serve_stats *st = &e->st;

	if (r->finish == JALRT_SERVE_FINISH_NONE)
		r->finish = finish;
	emit(r, -1, true);	/* whatever was held back */
	r->state = JALRT_SERVE_DONE;
	r->t_end = now_ns();
	st->finished[r->finish]++;
	if (r->on_event && !r->released) {
		struct jalrt_serve_event ev = { .token = -1, .text = "", .finish = r->finish };

		r->on_event(r->opaque, &ev);
	}
	pthread_cond_broadcast(&r->done);
}

struct token_ctx {
	struct jalrt_serve_engine *e;
	struct jalrt_serve_request *r;
};

/* jalrt_llm_generate()'s callback, in the worker thread. */
static int on_token(void *opaque, int prev, int token, int pos)
{
	struct token_ctx *c = opaque;
	struct jalrt_serve_engine *e = c->e;
	struct jalrt_serve_request *r = c->r;
	const char *piece;
	int ret = 0;

	if (pos < r->n_prompt)
		return 0;	/* the prompt's own tokens */
	/* The model is the worker's: decode outside the lock. */
	piece = jalrt_llm_decode(e->llm, prev, token);
	pthread_mutex_lock(&e->lock);
	e->running_pos = pos;
	if (r->cancelled) {
		ret = 1;
		goto out;
	}
	if (r->n_tokens == r->cap_tokens) {
		int cap = r->cap_tokens ? r->cap_tokens * 2 : 64, *t;

		t = realloc(r->tokens, (size_t)cap * sizeof(*t));
		if (!t) {
			ret = -ENOMEM;
			goto out;
		}
		r->tokens = t;
		r->cap_tokens = cap;
	}
	r->tokens[r->n_tokens++] = token;
	e->st.completion_tokens++;
	if (r->n_tokens == 1) {
		uint64_t ttft;
		int i;

		r->t_first = now_ns();
		ttft = r->t_first - r->t_submit;
		for (i = 0; i < JALRT_SERVE_TTFT_BUCKETS; i++)
			if (ttft <= (uint64_t)(jalrt_serve_ttft_bounds[i] * 1e9))
				e->st.ttft_count[i]++;
		e->st.ttft_count[JALRT_SERVE_TTFT_BUCKETS]++;
		e->st.ttft_sum_ns += ttft;
	}
	if (piece && jalrt_llm_piece_is_printable(piece) &&
	    buf_add(&r->raw, piece, strlen(piece))) {
		ret = -ENOMEM;
		goto out;
	}
	if (emit(r, token, false)) {
		r->finish = JALRT_SERVE_FINISH_STOP;
		ret = 1;
	}
	if (r->error)
		ret = r->error;
out:
	pthread_mutex_unlock(&e->lock);
	if (!ret && e->token_delay_us)
		usleep(e->token_delay_us);
	return ret;
}

/* Runs one request on the chip. Called without the lock. */
static void run_request(struct jalrt_serve_engine *e, struct jalrt_serve_request *r)
{
	struct token_ctx c = { e, r };
	struct jalrt_llm_generate_params gp = {
		.prompt = r->prompt,
		.n_prompt = r->n_prompt,
		/* run.c's steps: positions 0..steps-1 yield steps tokens after BOS */
		.steps = r->n_prompt + r->max_tokens - 1,
		.temperature = r->temperature,
		.topp = r->top_p,
		.seed = r->seed,
		.mode = JALRT_LLM_DEVICE_LOOP,
		.on_token = on_token,
		.opaque = &c,
	};
	struct jalrt_llm_stats stats = { 0 };
	enum jalrt_serve_finish finish;
	int ret;

	ret = jalrt_llm_generate(e->llm, &gp, &stats);
	pthread_mutex_lock(&e->lock);
	e->st.decode_ns += stats.total_ns;
	r->tokens_per_second = stats.tokens_per_second;
	if (stats.positions > 1)
		e->st.last_tokens_per_second = stats.tokens_per_second;
	if (ret < 0 && !r->cancelled) {
		r->error = ret;
		finish = JALRT_SERVE_FINISH_ERROR;
	} else if (r->finish == JALRT_SERVE_FINISH_STOP) {
		finish = JALRT_SERVE_FINISH_STOP;
	} else if (r->cancelled) {
		finish = JALRT_SERVE_FINISH_CANCELLED;
	} else if (stats.stopped_at_bos) {
		finish = JALRT_SERVE_FINISH_STOP;
	} else {
		finish = JALRT_SERVE_FINISH_LENGTH;
	}
	finish_request(e, r, finish);
	e->running = NULL;
	e->running_pos = 0;
	put_request(r);
	pthread_cond_broadcast(&e->idle);
	pthread_mutex_unlock(&e->lock);
}

static void *worker_main(void *arg)
{
	struct jalrt_serve_engine *e = arg;
	struct jalrt_serve_request *r;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (!e->head && !e->stop_worker)
			pthread_cond_wait(&e->work, &e->lock);
		if (!e->head)
			break;
		r = e->head;
		e->head = r->next;
		if (!e->head)
			e->tail = NULL;
		e->queued--;
		if (r->cancelled) {
			finish_request(e, r, JALRT_SERVE_FINISH_CANCELLED);
			put_request(r);
			pthread_cond_broadcast(&e->idle);
			continue;
		}
		r->state = JALRT_SERVE_RUNNING;
		r->t_start = now_ns();
		e->running = r;
		e->running_pos = r->n_prompt;
		e->st.prompt_tokens += (uint64_t)r->n_prompt;
		pthread_mutex_unlock(&e->lock);
		run_request(e, r);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int jalrt_serve_engine_create(struct jalrt_llm *llm, const struct jalrt_serve_options *opts,
			      struct jalrt_serve_engine **engine)
{
	struct jalrt_serve_options o = { 0 };
	struct jalrt_llm_info info;
	struct jalrt_serve_engine *e;
	int ret;

	if (!llm || !engine || jalrt_llm_query(llm, &info))
		return -EINVAL;
	if (opts)
		o = *opts;
	if (o.ctx < 0)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->llm = llm;
	e->ctx = o.ctx == 0 || o.ctx > info.seq_len ? info.seq_len : o.ctx;
	e->parallel = 1;	/* the FIFO worker: one sequence at a time */
	e->max_queue = o.max_queue ? o.max_queue : 64;
	e->token_delay_us = o.token_delay_us;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work, NULL);
	pthread_cond_init(&e->idle, NULL);
	ret = pthread_create(&e->worker, NULL, worker_main, e);
	if (ret) {
		pthread_cond_destroy(&e->idle);
		pthread_cond_destroy(&e->work);
		pthread_mutex_destroy(&e->lock);
		free(e);
		return -ret;
	}
	*engine = e;
	return 0;
}

int jalrt_serve_engine_shutdown(struct jalrt_serve_engine *e, bool drain)
{
	struct jalrt_serve_request *r;

	pthread_mutex_lock(&e->lock);
	e->shutdown = true;
	if (!drain) {
		for (r = e->head; r; r = r->next)
			r->cancelled = true;
		if (e->running)
			e->running->cancelled = true;
	}
	while (e->head || e->running)
		pthread_cond_wait(&e->idle, &e->lock);
	pthread_mutex_unlock(&e->lock);
	return 0;
}

void jalrt_serve_engine_destroy(struct jalrt_serve_engine *e)
{
	if (!e)
		return;
	jalrt_serve_engine_shutdown(e, false);
	pthread_mutex_lock(&e->lock);
	e->stop_worker = true;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->worker, NULL);
	pthread_cond_destroy(&e->idle);
	pthread_cond_destroy(&e->work);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void jalrt_serve_engine_stats(struct jalrt_serve_engine *e, struct jalrt_serve_stats *stats)
{
	pthread_mutex_lock(&e->lock);
	*stats = e->st;
	stats->queued = e->queued;
	stats->running = e->running ? 1 : 0;
	stats->parallel = e->parallel;
	stats->max_queue = e->max_queue;
	stats->ctx = e->ctx;
	stats->kv_used = e->running ? e->running_pos : 0;
	stats->kv_total = e->ctx * (int)e->parallel;
	stats->draining = e->shutdown;
	pthread_mutex_unlock(&e->lock);
}

int jalrt_serve_submit(struct jalrt_serve_engine *e, const struct jalrt_serve_params *p,
		       struct jalrt_serve_request **out)
{
	struct jalrt_serve_request *r;
	unsigned int i;
	int ret;

	if (!e || !p || !out || !p->prompt || p->n_prompt < 1 || p->max_tokens < 1 ||
	    !(p->temperature >= 0) || p->n_stop > JALRT_SERVE_MAX_STOP || (p->n_stop && !p->stop))
		return -EINVAL;
	for (i = 0; i < p->n_stop; i++)
		if (!p->stop[i] || !p->stop[i][0] || strlen(p->stop[i]) > JALRT_SERVE_MAX_STOP_LEN)
			return -EINVAL;
	if (p->n_prompt >= e->ctx || p->max_tokens > e->ctx - p->n_prompt)
		return -E2BIG;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->engine = e;
	r->refs = 2;
	r->prompt = malloc((size_t)p->n_prompt * sizeof(*r->prompt));
	if (!r->prompt)
		goto nomem;
	memcpy(r->prompt, p->prompt, (size_t)p->n_prompt * sizeof(*r->prompt));
	r->n_prompt = p->n_prompt;
	r->max_tokens = p->max_tokens;
	r->temperature = p->temperature;
	r->top_p = p->top_p;
	r->seed = p->seed ? p->seed : 1;
	for (i = 0; i < p->n_stop; i++) {
		r->stop[i] = strdup(p->stop[i]);
		if (!r->stop[i])
			goto nomem;
		r->n_stop = i + 1;
		if (strlen(r->stop[i]) > r->max_stop_len)
			r->max_stop_len = strlen(r->stop[i]);
	}
	r->on_event = p->on_event;
	r->opaque = p->opaque;
	pthread_cond_init(&r->done, NULL);

	pthread_mutex_lock(&e->lock);
	if (e->shutdown)
		ret = -ESHUTDOWN;
	else if (e->queued >= e->max_queue)
		ret = -EAGAIN;
	else
		ret = 0;
	if (ret) {
		if (ret == -EAGAIN)
			e->st.rejected_full++;
		r->refs = 1;
		put_request(r);
		pthread_mutex_unlock(&e->lock);
		return ret;
	}
	r->t_submit = now_ns();
	r->state = JALRT_SERVE_QUEUED;
	if (e->tail)
		e->tail->next = r;
	else
		e->head = r;
	e->tail = r;
	e->queued++;
	e->st.submitted++;
	pthread_cond_signal(&e->work);
	pthread_mutex_unlock(&e->lock);
	*out = r;
	return 0;

nomem:
	free(r->prompt);
	for (i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	free(r);
	return -ENOMEM;
}

void jalrt_serve_cancel(struct jalrt_serve_request *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->engine->lock);
	if (r->state != JALRT_SERVE_DONE)
		r->cancelled = true;
	pthread_mutex_unlock(&r->engine->lock);
}

int jalrt_serve_wait(struct jalrt_serve_request *r, int timeout_ms)
{
	struct jalrt_serve_engine *e = r->engine;
	struct timespec until;
	int ret = 0;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&e->lock);
	while (r->state != JALRT_SERVE_DONE && !ret) {
		if (timeout_ms < 0)
			pthread_cond_wait(&r->done, &e->lock);
		else if (pthread_cond_timedwait(&r->done, &e->lock, &until) == ETIMEDOUT &&
			 r->state != JALRT_SERVE_DONE)
			ret = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

void jalrt_serve_result(struct jalrt_serve_request *r, struct jalrt_serve_result *res)
{
	uint64_t t;

	pthread_mutex_lock(&r->engine->lock);
	memset(res, 0, sizeof(*res));
	res->state = r->state;
	res->finish = r->state == JALRT_SERVE_DONE ? r->finish : JALRT_SERVE_FINISH_NONE;
	res->error = r->error;
	res->prompt_tokens = r->n_prompt;
	res->completion_tokens = r->n_tokens;
	t = r->t_start ? r->t_start : r->t_end ? r->t_end : now_ns();
	res->queue_ns = t - r->t_submit;
	res->ttft_ns = r->t_first ? r->t_first - r->t_submit : 0;
	res->total_ns = r->t_end ? r->t_end - r->t_submit : 0;
	res->tokens_per_second = r->tokens_per_second;
	pthread_mutex_unlock(&r->engine->lock);
}

const char *jalrt_serve_text(struct jalrt_serve_request *r, size_t *len)
{
	const char *text = NULL;

	pthread_mutex_lock(&r->engine->lock);
	if (r->state == JALRT_SERVE_DONE) {
		text = r->out.data ? r->out.data : "";
		if (len)
			*len = r->out.len;
	}
	pthread_mutex_unlock(&r->engine->lock);
	return text;
}

int jalrt_serve_tokens(struct jalrt_serve_request *r, int *ids, int max)
{
	int n;

	pthread_mutex_lock(&r->engine->lock);
	n = r->n_tokens;
	if (ids && max > 0)
		memcpy(ids, r->tokens, (size_t)(n < max ? n : max) * sizeof(*ids));
	pthread_mutex_unlock(&r->engine->lock);
	return n;
}

void jalrt_serve_release(struct jalrt_serve_request *r)
{
	struct jalrt_serve_engine *e;

	if (!r)
		return;
	e = r->engine;
	pthread_mutex_lock(&e->lock);
	r->released = true;
	if (r->state != JALRT_SERVE_DONE)
		r->cancelled = true;
	put_request(r);
	pthread_mutex_unlock(&e->lock);
}
