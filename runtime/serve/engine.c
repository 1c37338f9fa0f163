// SPDX-License-Identifier: MIT
/*
 * The serving engine (jalrt_serve.h): a request queue in front of one
 * worker thread that owns the model and its batch. The worker is a
 * continuous-batching scheduler: every loop it retires cancelled
 * requests, plans one step (a decode row per running request, then
 * prefill chunks of joining requests within the row budget, admitting
 * waiting ones while their KV blocks fit, preempting the youngest when the
 * running ones outgrow the pool), runs it with jalrt_llm_batch_step() and
 * routes each sampled token through emit() (detokenizing, stop strings,
 * streaming), retiring a request at once when it ends.
 *
 * Locking: one mutex (engine->lock) guards the queue, every request's
 * state and the counters; the stream callback runs under it. The model
 * and the batch are touched by the worker alone (planning and bookkeeping
 * under the lock, the step outside it); other threads read the pool's
 * figures from the counters the worker keeps.
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

const unsigned int jalrt_serve_step_bounds[JALRT_SERVE_STEP_BUCKETS] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
};

#define DEFAULT_PARALLEL	16
#define DEFAULT_MAX_ROWS	128

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
	uint64_t t_submit, t_start, t_first, t_last, t_end;
	double tokens_per_second;
	pthread_cond_t done;

	/* the scheduler's (worker, lock held) */
	struct jalrt_llm_seq *seq;	/* in the batch while running */
	int fed;			/* positions of @seq stored */
	uint64_t rng;			/* sampler state for the next sampling row */
	uint64_t order;			/* admission order (kept across preemptions) */
	bool preempted;			/* waiting to be recomputed */
	unsigned int preemptions;
	int step_rows;			/* rows in the step being run */
	int step_last;			/* index of its last row */
	enum jalrt_serve_finish ending;	/* why it ends after the step */
};

struct jalrt_serve_engine {
	struct jalrt_llm *llm;
	struct jalrt_llm_batch *batch;
	int ctx;
	unsigned int parallel, max_queue, token_delay_us, max_rows, block_size, decode_steps;
	int step_gate_fd;		/* worker only; -1 once open for good */
	pthread_mutex_t lock;
	pthread_cond_t work;	/* queue not empty, or stopping */
	pthread_cond_t idle;	/* worker finished a request */
	pthread_t worker;
	struct jalrt_serve_request *head, *tail;	/* preempted ones first */
	unsigned int queued;	/* all waiting */
	unsigned int requeued;	/* of which preempted */
	struct jalrt_serve_request **run;	/* running, oldest (lowest order) first */
	unsigned int n_run;
	uint64_t next_order;
	struct jalrt_llm_batch_row *rows;	/* the step's */
	int *out;
	struct jalrt_serve_request **step_reqs;	/* requests of the step */
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

/* The token at position @pos of @r: its prompt's, then the generated ones. */
static int token_at(const struct jalrt_serve_request *r, int pos)
{
	return pos < r->n_prompt ? r->prompt[pos] : r->tokens[pos - r->n_prompt];
}

/* Positions whose tokens are known: the prompt and the generated tokens. */
static int known(const struct jalrt_serve_request *r)
{
	return r->n_prompt + r->n_tokens;
}

/* ---- the scheduler: the worker's, engine lock held unless said ---------- */

static unsigned int free_blocks(struct jalrt_serve_engine *e)
{
	struct jalrt_llm_batch_info bi;

	return jalrt_llm_batch_query(e->batch, &bi) ? 0 : bi.free_blocks;
}

/* The pool's figures for jalrt_serve_engine_stats(), which may not touch the batch. */
static void update_pool(struct jalrt_serve_engine *e)
{
	struct jalrt_llm_batch_info bi;
	unsigned int i;
	int used = 0;

	if (jalrt_llm_batch_query(e->batch, &bi))
		return;
	for (i = 0; i < e->n_run; i++)
		used += e->run[i]->fed;
	e->st.kv_blocks_used = (int)bi.used_blocks;
	e->st.kv_blocks_total = (int)bi.blocks;
	e->st.kv_dtype = bi.kv_dtype;
	e->st.kv_bytes = bi.kv_bytes;
	e->st.kv_used = used;
	e->st.kv_total = (int)(bi.blocks * bi.block_size);
}

static void dequeue(struct jalrt_serve_engine *e, struct jalrt_serve_request *r,
		    struct jalrt_serve_request *prev)
{
	if (prev)
		prev->next = r->next;
	else
		e->head = r->next;
	if (e->tail == r)
		e->tail = prev;
	r->next = NULL;
	e->queued--;
	if (r->preempted) {
		r->preempted = false;
		e->requeued--;
	}
}

/* Requests cancelled while waiting end now; running ones leave the batch. */
static void reap_cancelled(struct jalrt_serve_engine *e)
{
	struct jalrt_serve_request *r, *prev = NULL, *next;
	unsigned int i;

	for (r = e->head; r; r = next) {
		next = r->next;
		if (!r->cancelled) {
			prev = r;
			continue;
		}
		dequeue(e, r, prev);
		finish_request(e, r, JALRT_SERVE_FINISH_CANCELLED);
		put_request(r);
		pthread_cond_broadcast(&e->idle);
	}
	for (i = e->n_run; i-- > 0;) {
		r = e->run[i];
		if (!r->cancelled)
			continue;
		jalrt_llm_seq_free(e->batch, r->seq);
		r->seq = NULL;
		memmove(&e->run[i], &e->run[i + 1], (e->n_run - i - 1) * sizeof(*e->run));
		e->n_run--;
		finish_request(e, r, JALRT_SERVE_FINISH_CANCELLED);
		put_request(r);
		pthread_cond_broadcast(&e->idle);
	}
}

/* Ends running request @r: its sequence freed, its final event. */
static void retire(struct jalrt_serve_engine *e, struct jalrt_serve_request *r,
		   enum jalrt_serve_finish finish)
{
	unsigned int i;

	for (i = 0; i < e->n_run && e->run[i] != r; i++)
		;
	if (i < e->n_run) {
		memmove(&e->run[i], &e->run[i + 1], (e->n_run - i - 1) * sizeof(*e->run));
		e->n_run--;
	}
	jalrt_llm_seq_free(e->batch, r->seq);
	r->seq = NULL;
	if (r->n_tokens >= 2 && r->t_last > r->t_first) {
		r->tokens_per_second = (r->n_tokens - 1) * 1e9 / (double)(r->t_last - r->t_first);
		e->st.last_tokens_per_second = r->tokens_per_second;
	}
	finish_request(e, r, finish);
	put_request(r);
	pthread_cond_broadcast(&e->idle);
}

/*
 * Preemption by recomputation: the youngest running request gives its
 * blocks back and waits at the head of the queue; when it runs again, its
 * prompt and generated tokens are prefilled and its last row samples with
 * the rng state it had, so it goes on as if never interrupted.
 */
static void preempt_youngest(struct jalrt_serve_engine *e)
{
	struct jalrt_serve_request *r = e->run[--e->n_run];

	jalrt_llm_seq_free(e->batch, r->seq);
	r->seq = NULL;
	r->fed = 0;
	r->preempted = true;
	r->preemptions++;
	r->state = JALRT_SERVE_QUEUED;
	r->next = e->head;
	e->head = r;
	if (!e->tail)
		e->tail = r;
	e->queued++;
	e->requeued++;
	e->st.preemptions++;
}

/* Rows of @r's next @chunk positions, appended to the step. */
static void add_rows(struct jalrt_serve_engine *e, struct jalrt_serve_request *r, int chunk,
		     int *n)
{
	int k, last = known(r) - 1;

	for (k = 0; k < chunk; k++) {
		struct jalrt_llm_batch_row *row = &e->rows[*n];
		int pos = r->fed + k;

		row->seq = r->seq;
		row->token = token_at(r, pos);
		row->pos = pos;
		row->sample = pos == last;
		row->temperature = r->temperature;
		row->topp = r->top_p;
		row->rng = r->rng;
		e->step_reqs[*n] = r;
		(*n)++;
	}
	r->step_rows = chunk;
	r->step_last = *n - 1;
}

/* The rows of @want (>= 1) for @r that fit @free_b blocks beside its own; 0 if none. */
static int fit(struct jalrt_serve_engine *e, const struct jalrt_serve_request *r, int want,
	       int free_b)
{
	int bs = (int)e->block_size, slack = (bs - r->fed % bs) % bs;
	long long room = slack + (long long)free_b * bs;

	return want < room ? want : (int)room;
}

/*
 * Plans the next step into e->rows: a decode row for every running
 * request whose tokens are all stored but the last (preempting the
 * youngest while their blocks do not fit), then prefill chunks of running
 * requests, oldest first, then of waiting requests admitted while the
 * blocks of all their known tokens fit and a sequence is free, all within
 * the row budget. Returns the number of rows.
 */
static int plan_step(struct jalrt_serve_engine *e)
{
	struct jalrt_serve_request *r;
	int n = 0, budget = (int)e->max_rows, free_b, need, chunk;
	unsigned int i;

	for (;;) {
		need = 0;
		for (i = 0; i < e->n_run; i++) {
			r = e->run[i];
			r->step_rows = 0;
			if (known(r) - r->fed == 1)
				need += jalrt_llm_seq_blocks_needed(e->batch, r->seq, 1);
		}
		free_b = (int)free_blocks(e);
		if (need <= free_b || e->n_run <= 1)
			break;
		preempt_youngest(e);
	}
	for (i = 0; i < e->n_run && budget > 0; i++) {
		r = e->run[i];
		if (known(r) - r->fed != 1 || need > free_b)
			continue;
		add_rows(e, r, 1, &n);
		budget--;
	}
	free_b -= need;
	for (i = 0; i < e->n_run && budget > 0; i++) {
		r = e->run[i];
		if (r->step_rows || known(r) - r->fed <= 1)
			continue;
		chunk = fit(e, r, known(r) - r->fed < budget ? known(r) - r->fed : budget, free_b);
		if (chunk <= 0)
			continue;
		free_b -= jalrt_llm_seq_blocks_needed(e->batch, r->seq, chunk);
		add_rows(e, r, chunk, &n);
		budget -= chunk;
	}
	while (e->head && e->n_run < e->parallel && budget > 0) {
		struct jalrt_llm_seq *seq;

		r = e->head;
		if (jalrt_llm_seq_create(e->batch, &seq))
			break;
		need = jalrt_llm_seq_blocks_needed(e->batch, seq, known(r));
		if (need < 0 || need > free_b) {
			jalrt_llm_seq_free(e->batch, seq);
			break;
		}
		dequeue(e, r, NULL);
		r->seq = seq;
		r->fed = 0;
		r->state = JALRT_SERVE_RUNNING;
		if (!r->order) {
			r->order = ++e->next_order;
			r->t_start = now_ns();
			e->st.prompt_tokens += (uint64_t)r->n_prompt;
		}
		for (i = e->n_run; i > 0 && e->run[i - 1]->order > r->order; i--)
			e->run[i] = e->run[i - 1];
		e->run[i] = r;
		e->n_run++;
		chunk = fit(e, r, known(r) < budget ? known(r) : budget, free_b);
		free_b -= jalrt_llm_seq_blocks_needed(e->batch, r->seq, chunk);
		add_rows(e, r, chunk, &n);
		budget -= chunk;
	}
	return n;
}

/*
 * A token @r's last row sampled: stored, detokenized and streamed through
 * emit(). Returns why @r ends with it, or JALRT_SERVE_FINISH_NONE.
 */
static enum jalrt_serve_finish take_token(struct jalrt_serve_engine *e,
					  struct jalrt_serve_request *r, int token)
{
	int prev = token_at(r, known(r) - 1);
	const char *piece;

	if (jalrt_llm_is_end(e->llm, token))
		return JALRT_SERVE_FINISH_STOP;	/* the model ended its text or turn */
	if (r->cancelled)
		return JALRT_SERVE_FINISH_CANCELLED;
	if (r->n_tokens == r->cap_tokens) {
		int cap = r->cap_tokens ? r->cap_tokens * 2 : 64, *t;

		t = realloc(r->tokens, (size_t)cap * sizeof(*t));
		if (!t) {
			r->error = -ENOMEM;
			return JALRT_SERVE_FINISH_ERROR;
		}
		r->tokens = t;
		r->cap_tokens = cap;
	}
	r->tokens[r->n_tokens++] = token;
	r->t_last = now_ns();
	e->st.completion_tokens++;
	if (r->n_tokens == 1) {
		uint64_t ttft;
		int i;

		r->t_first = r->t_last;
		ttft = r->t_first - r->t_submit;
		for (i = 0; i < JALRT_SERVE_TTFT_BUCKETS; i++)
			if (ttft <= (uint64_t)(jalrt_serve_ttft_bounds[i] * 1e9))
				e->st.ttft_count[i]++;
		e->st.ttft_count[JALRT_SERVE_TTFT_BUCKETS]++;
		e->st.ttft_sum_ns += ttft;
	}
	piece = jalrt_llm_decode(e->llm, prev, token);
	if (piece && jalrt_llm_piece_printable(e->llm, piece) &&
	    buf_add(&r->raw, piece, strlen(piece))) {
		r->error = -ENOMEM;
		return JALRT_SERVE_FINISH_ERROR;
	}
	if (emit(r, token, false))
		return JALRT_SERVE_FINISH_STOP;	/* a stop string */
	if (r->error)
		return JALRT_SERVE_FINISH_ERROR;
	if (r->n_tokens >= r->max_tokens)
		return JALRT_SERVE_FINISH_LENGTH;
	return JALRT_SERVE_FINISH_NONE;
}

static void histogram(uint64_t *count, uint64_t *sum, unsigned int v)
{
	int i;

	for (i = 0; i < JALRT_SERVE_STEP_BUCKETS; i++)
		if (v <= jalrt_serve_step_bounds[i])
			count[i]++;
	count[JALRT_SERVE_STEP_BUCKETS]++;
	*sum += v;
}

/*
 * After @steps steps of @n rows (@steps > 1: a decode loop, every row a
 * sequence's decode row, its tokens at e->out[k * @n + row]): positions
 * forward, rng states back, every sampled token to its request in order
 * (none after the one that ends it), ended requests out. Returns the
 * tokens taken.
 */
static int step_done(struct jalrt_serve_engine *e, int n, int steps)
{
	unsigned int i, seqs = 0;
	int taken = 0, k;

	for (i = 0; i < e->n_run; i++) {
		struct jalrt_serve_request *r = e->run[i];
		const struct jalrt_llm_batch_row *row;
		enum jalrt_serve_finish f = JALRT_SERVE_FINISH_NONE;

		if (!r->step_rows)
			continue;
		seqs++;
		row = &e->rows[r->step_last];
		r->fed += r->step_rows * steps;
		r->step_rows = 0;
		if (!row->sample)
			continue;
		r->rng = row->rng;
		for (k = 0; k < steps && f == JALRT_SERVE_FINISH_NONE; k++) {
			f = take_token(e, r, e->out[k * n + r->step_last]);
			taken++;
		}
		r->ending = f;
	}
	for (i = e->n_run; i-- > 0;)
		if (e->run[i]->ending != JALRT_SERVE_FINISH_NONE)
			retire(e, e->run[i], e->run[i]->ending);
	e->st.jobs++;
	for (k = 0; k < steps; k++) {
		e->st.steps++;
		histogram(e->st.step_rows, &e->st.step_rows_sum, (unsigned int)n);
		histogram(e->st.step_seqs, &e->st.step_seqs_sum, seqs);
	}
	if (seqs > e->st.max_step_seqs)
		e->st.max_step_seqs = seqs;
	return taken;
}

/*
 * Steps the planned @n rows may run as one decode loop: > 1 only with
 * decode_steps > 1, nobody waiting who could join now, every running
 * request in the step with one decode row, at most the tokens any of them still may generate,
 * and the blocks of all those positions free.
 */
static int loop_steps(struct jalrt_serve_engine *e, int n)
{
	int k = (int)e->decode_steps, need = 0;
	unsigned int i;

	if (k <= 1 || (e->head && e->n_run < e->parallel) || n != (int)e->n_run)
		return 1;
	for (i = 0; i < e->n_run; i++) {
		struct jalrt_serve_request *r = e->run[i];

		if (r->step_rows != 1 || !e->rows[r->step_last].sample || r->cancelled)
			return 1;
		if (r->max_tokens - r->n_tokens < k)
			k = r->max_tokens - r->n_tokens;
	}
	if (k <= 1)
		return 1;
	for (i = 0; i < e->n_run; i++)
		need += jalrt_llm_seq_blocks_needed(e->batch, e->run[i]->seq, k);
	return need <= (int)free_blocks(e) ? k : 1;
}

/* The step failed (@err): its requests end with that error. */
static void step_failed(struct jalrt_serve_engine *e, int err)
{
	unsigned int i;

	for (i = e->n_run; i-- > 0;) {
		struct jalrt_serve_request *r = e->run[i];

		if (!r->step_rows)
			continue;
		r->step_rows = 0;
		r->error = err;
		retire(e, r, JALRT_SERVE_FINISH_ERROR);
	}
}

/*
 * The testing aid struct jalrt_serve_options.step_gate_fd: one byte a job.
 * Called without the lock, so that submits, cancels and stats go on while
 * the worker waits here.
 */
static void wait_at_step_gate(struct jalrt_serve_engine *e)
{
	char c;
	ssize_t got;

	if (e->step_gate_fd <= 0)
		return;
	do
		got = read(e->step_gate_fd, &c, 1);
	while (got < 0 && errno == EINTR);
	if (got != 1)
		e->step_gate_fd = -1;
}

static void *worker_main(void *arg)
{
	struct jalrt_serve_engine *e = arg;
	struct jalrt_llm_batch_info bi;
	uint64_t t0, t1, t2;
	int n, ret, taken, steps;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		reap_cancelled(e);
		update_pool(e);
		if (!e->n_run && !e->head) {
			if (e->stop_worker)
				break;
			pthread_cond_broadcast(&e->idle);
			pthread_cond_wait(&e->work, &e->lock);
			continue;
		}
		t0 = now_ns();
		n = plan_step(e);
		if (!n) {
			/* Running requests got no blocks at all: make room. */
			if (e->n_run > 1) {
				preempt_youngest(e);
			} else if (e->n_run) {
				e->run[0]->step_rows = 1;
				step_failed(e, -ENOSPC);
			} else if (e->head) {
				struct jalrt_serve_request *r = e->head;

				dequeue(e, r, NULL);
				r->error = -ENOSPC;
				finish_request(e, r, JALRT_SERVE_FINISH_ERROR);
				put_request(r);
			}
			continue;
		}
		steps = loop_steps(e, n);
		update_pool(e);
		pthread_mutex_unlock(&e->lock);
		wait_at_step_gate(e);
		t1 = now_ns();
		if (steps > 1)
			ret = jalrt_llm_batch_decode(e->batch, e->rows, n, steps, e->out);
		else
			ret = jalrt_llm_batch_step(e->batch, e->rows, n, e->out);
		t2 = now_ns();
		pthread_mutex_lock(&e->lock);
		if (ret == -ENOSPC && e->n_run > 1) {
			/* The plan counts blocks first; never seen, but recoverable. */
			unsigned int i;

			for (i = 0; i < e->n_run; i++)
				e->run[i]->step_rows = 0;
			preempt_youngest(e);
			continue;
		}
		if (ret) {
			step_failed(e, ret);
			continue;
		}
		jalrt_llm_batch_query(e->batch, &bi);
		e->st.decode_ns += bi.last_step_ns;
		e->st.step_device_ns += bi.last_device_ns;
		e->st.step_host_ns += bi.last_host_ns;
		taken = step_done(e, n, steps);
		update_pool(e);
		e->st.sched_ns += (now_ns() - t0) - (t2 - t1);
		e->st.busy_ns += now_ns() - t0;
		if (e->st.busy_ns)
			e->st.tokens_per_second = e->st.completion_tokens * 1e9 / (double)e->st.busy_ns;
		if (taken && e->token_delay_us) {
			pthread_mutex_unlock(&e->lock);
			usleep(e->token_delay_us);
			pthread_mutex_lock(&e->lock);
		}
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* The engine's batch: @parallel sequences, the row budget, the KV pool. */
static int create_batch(struct jalrt_serve_engine *e, const struct jalrt_serve_options *o)
{
	unsigned int min_blocks = ((unsigned int)e->ctx + e->block_size - 1) / e->block_size;
	struct jalrt_llm_batch_options bo = {
		.max_seqs = e->parallel, .max_rows = e->max_rows, .block_size = e->block_size,
		.kv_blocks = o->kv_blocks, .kv_bytes = o->kv_bytes, .kv_dtype = o->kv_dtype,
	};
	struct jalrt_llm_batch_info bi;
	int ret;

	if (!bo.kv_blocks && !bo.kv_bytes)
		bo.kv_blocks = e->parallel * min_blocks;
	if (bo.kv_blocks && bo.kv_blocks < min_blocks)
		bo.kv_blocks = min_blocks;
	for (;;) {
		ret = jalrt_llm_batch_create(e->llm, &bo, &e->batch);
		if (!ret) {
			jalrt_llm_batch_query(e->batch, &bi);
			if (bi.blocks >= min_blocks)
				return 0;
			/* a byte budget below one context: one context */
			jalrt_llm_batch_destroy(e->batch);
			e->batch = NULL;
			bo.kv_blocks = min_blocks;
			continue;
		}
		if ((ret != -ENOMEM && ret != -ENOSPC) || bo.kv_blocks == min_blocks)
			return ret;
		/* the pool does not fit: fewer blocks, down to one context's */
		if (!bo.kv_blocks)
			bo.kv_blocks = e->parallel * min_blocks;
		bo.kv_blocks = bo.kv_blocks / 2 > min_blocks ? bo.kv_blocks / 2 : min_blocks;
	}
}

static void engine_free(struct jalrt_serve_engine *e)
{
	jalrt_llm_batch_destroy(e->batch);
	free(e->run);
	free(e->rows);
	free(e->out);
	free(e->step_reqs);
	free(e);
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
	if (o.ctx < 0 || o.max_rows > 65536)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->llm = llm;
	e->ctx = o.ctx == 0 || o.ctx > info.seq_len ? info.seq_len : o.ctx;
	e->parallel = o.parallel ? o.parallel : DEFAULT_PARALLEL;
	e->max_rows = o.max_rows ? o.max_rows : DEFAULT_MAX_ROWS;
	if (e->max_rows < e->parallel)
		e->max_rows = e->parallel;
	e->block_size = o.block_size ? o.block_size : JALRT_LLM_BATCH_BLOCK_SIZE;
	e->max_queue = o.max_queue ? o.max_queue : 64;
	e->token_delay_us = o.token_delay_us;
	e->step_gate_fd = o.step_gate_fd;
	e->decode_steps = o.decode_steps > JALRT_LLM_BATCH_MAX_STEPS ? JALRT_LLM_BATCH_MAX_STEPS :
			  o.decode_steps;
	e->run = calloc(e->parallel, sizeof(*e->run));
	e->rows = calloc(e->max_rows, sizeof(*e->rows));
	e->out = calloc((size_t)e->max_rows * (e->decode_steps > 1 ? e->decode_steps : 1),
			sizeof(*e->out));
	e->step_reqs = calloc(e->max_rows, sizeof(*e->step_reqs));
	if (!e->run || !e->rows || !e->out || !e->step_reqs) {
		engine_free(e);
		return -ENOMEM;
	}
	ret = create_batch(e, &o);
	if (ret) {
		engine_free(e);
		return ret;
	}
	e->st.parallel = e->parallel;
	e->st.max_rows = e->max_rows;
	e->st.block_size = e->block_size;
	update_pool(e);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->work, NULL);
	pthread_cond_init(&e->idle, NULL);
	ret = pthread_create(&e->worker, NULL, worker_main, e);
	if (ret) {
		pthread_cond_destroy(&e->idle);
		pthread_cond_destroy(&e->work);
		pthread_mutex_destroy(&e->lock);
		engine_free(e);
		return -ret;
	}
	*engine = e;
	return 0;
}

int jalrt_serve_engine_shutdown(struct jalrt_serve_engine *e, bool drain)
{
	struct jalrt_serve_request *r;
	unsigned int i;

	pthread_mutex_lock(&e->lock);
	e->shutdown = true;
	if (!drain) {
		for (r = e->head; r; r = r->next)
			r->cancelled = true;
		for (i = 0; i < e->n_run; i++)
			e->run[i]->cancelled = true;
		pthread_cond_broadcast(&e->work);
	}
	while (e->head || e->n_run)
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
	engine_free(e);
}

void jalrt_serve_engine_stats(struct jalrt_serve_engine *e, struct jalrt_serve_stats *stats)
{
	pthread_mutex_lock(&e->lock);
	*stats = e->st;
	stats->queued = e->queued;
	stats->preempted = e->requeued;
	stats->running = e->n_run;
	stats->parallel = e->parallel;
	stats->max_queue = e->max_queue;
	stats->ctx = e->ctx;
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
	r->rng = r->seed;
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
	else if (e->queued - e->requeued >= e->max_queue)
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
	res->preemptions = r->preemptions;
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
