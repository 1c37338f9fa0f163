// SPDX-License-Identifier: MIT
/*
 * The serving engine's API (jalrt_serve.h) on the chip model in-process
 * (sim_backend.c): validation, streaming events against the final text,
 * stop strings across token boundaries, the queue limit, cancel while
 * queued and while running, release mid-run, drain on shutdown, and the
 * continuous-batching scheduler: many threads submitting at once, greedy
 * and sampled, each request getting token for token what
 * jalrt_llm_generate() gives it alone while steps carry many sequences; a
 * KV pool of one context forcing preemptions, every request still
 * completing as alone; cancellation returning a request's KV blocks.
 *
 * States are waited for on the stream callback's condition variable or
 * with jalrt_serve_wait(), never by sleeping.
 *
 *   engine_test MODEL TOKENIZER        (TAP, kselftest's "# Totals:" line)
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jalrt.h"
#include "jalrt_llm.h"
#include "jalrt_serve.h"
#include "sim_backend.h"

static int n_tests, n_pass, n_fail;

static bool check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool check(bool cond, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	cond ? n_pass++ : n_fail++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

/* What the stream callback saw. */
struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char text[8192];
	size_t len;
	int tokens[512];
	int n_tokens;
	int finals;
	enum jalrt_serve_finish finish;
	bool released;
	int after_release;
};

static void on_event(void *opaque, const struct jalrt_serve_event *ev)
{
	struct seen *s = opaque;

	pthread_mutex_lock(&s->lock);
	if (s->released)
		s->after_release++;
	if (ev->text_len && s->len + ev->text_len < sizeof(s->text)) {
		memcpy(s->text + s->len, ev->text, ev->text_len);
		s->len += ev->text_len;
		s->text[s->len] = '\0';
	}
	if (ev->token >= 0 && s->n_tokens < 512)
		s->tokens[s->n_tokens++] = ev->token;
	if (ev->finish != JALRT_SERVE_FINISH_NONE) {
		s->finals++;
		s->finish = ev->finish;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Waits (at most 60 s) until @s has streamed @n tokens or ended; the tokens seen. */
static int wait_tokens(struct seen *s, int n)
{
	struct timespec until;
	int got;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 60;
	pthread_mutex_lock(&s->lock);
	while (s->n_tokens < n && !s->finals &&
	       pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
		;
	got = s->n_tokens;
	pthread_mutex_unlock(&s->lock);
	return got;
}

/*
 * The engine's step gate (jalrt_serve_options.step_gate_fd): the worker
 * takes a chip job only for a byte written here, so that a test holds
 * requests running or queued for exactly as long as it needs, whatever
 * the machine's speed.
 */
struct step_gate {
	int rd, wr;
};

static void gate_init(struct step_gate *g, struct jalrt_serve_options *o)
{
	int fds[2];

	if (pipe(fds)) {
		perror("engine_test: step gate");
		exit(EXIT_FAILURE);
	}
	g->rd = fds[0];
	g->wr = fds[1];
	o->step_gate_fd = g->rd;
}

static void gate_steps(struct step_gate *g, int n)
{
	for (; n > 0; n--)
		if (write(g->wr, "s", 1) != 1) {
			perror("engine_test: step gate");
			exit(EXIT_FAILURE);
		}
}

/* No more gate: the worker reads end of file and runs freely. */
static void gate_release(struct step_gate *g)
{
	if (g->wr >= 0)
		close(g->wr);
	g->wr = -1;
}

/* After jalrt_serve_engine_destroy(). */
static void gate_close(struct step_gate *g)
{
	gate_release(g);
	close(g->rd);
}

/* Polls (with a bound) until @n requests are running or queued. */
static bool wait_arrivals(struct jalrt_serve_engine *e, unsigned int n)
{
	struct jalrt_serve_stats st;
	int polls;

	for (polls = 0; polls < 60000; polls++) {
		jalrt_serve_engine_stats(e, &st);
		if (st.running + st.queued >= n)
			return true;
		usleep(1000);	/* the poll interval, not a wait for a state */
	}
	return false;
}

static struct jalrt_llm *llm;
static int prompt[64], n_prompt;

static struct jalrt_serve_params params(struct seen *s, int max_tokens)
{
	struct jalrt_serve_params p = {
		.prompt = prompt, .n_prompt = n_prompt, .max_tokens = max_tokens,
		.temperature = 0, .top_p = 1, .seed = 1, .on_event = on_event, .opaque = s,
	};

	if (s) {
		pthread_mutex_init(&s->lock, NULL);
		pthread_cond_init(&s->cond, NULL);
	}
	return p;
}

struct thread_arg {
	struct jalrt_serve_engine *e;
	const char *want;
	int ok;
};

static void *submitter(void *arg)
{
	struct thread_arg *t = arg;
	int i;

	for (i = 0; i < 4; i++) {
		struct seen s = { 0 };
		struct jalrt_serve_params p = params(&s, 24);
		struct jalrt_serve_request *r;
		const char *text;

		if (jalrt_serve_submit(t->e, &p, &r))
			continue;
		jalrt_serve_wait(r, -1);
		text = jalrt_serve_text(r, NULL);
		if (text && !strcmp(text, t->want) && !strcmp(s.text, t->want) && s.finals == 1)
			t->ok++;
		jalrt_serve_release(r);
	}
	return NULL;
}

/* ---- continuous batching: against jalrt_llm_generate() alone ------------- */

#define N_CASES		8
#define CASE_TOKENS	96

/* A request and the tokens jalrt_llm_generate() gives it alone. */
struct ref_case {
	int prompt[16], n_prompt;
	float temperature, top_p;
	uint64_t seed;
	int max_tokens;
	int want[128], n_want;
	enum jalrt_serve_finish finish;
};

static struct ref_case cases[N_CASES];

static int collect(void *opaque, int prev, int token, int pos)
{
	struct ref_case *c = opaque;

	(void)prev;
	if (pos >= c->n_prompt && c->n_want < 128)
		c->want[c->n_want++] = token;
	return 0;
}

/* Greedy and sampled requests on four prompts, each generated alone. */
static bool make_cases(void)
{
	static const char *const texts[] = { "I dreamed", "The nodes", "A gentle hum", "Lily" };
	int i;

	for (i = 0; i < N_CASES; i++) {
		struct ref_case *c = &cases[i];
		struct jalrt_llm_generate_params gp = { 0 };
		struct jalrt_llm_stats st;

		c->n_prompt = jalrt_llm_encode(llm, texts[i % 4], true, c->prompt, 16);
		c->temperature = i < 4 ? 0.0f : 0.9f;
		c->top_p = 0.9f;
		c->seed = 1000 + (uint64_t)i;
		c->max_tokens = CASE_TOKENS;
		gp.prompt = c->prompt;
		gp.n_prompt = c->n_prompt;
		gp.steps = c->n_prompt + c->max_tokens - 1;
		gp.temperature = c->temperature;
		gp.topp = c->top_p;
		gp.seed = c->seed;
		gp.on_token = collect;
		gp.opaque = c;
		if (c->n_prompt < 1 || jalrt_llm_generate(llm, &gp, &st))
			return false;
		c->finish = st.stopped_at_bos ? JALRT_SERVE_FINISH_STOP : JALRT_SERVE_FINISH_LENGTH;
	}
	return true;
}

static struct jalrt_serve_params case_params(const struct ref_case *c, struct seen *s)
{
	struct jalrt_serve_params p = {
		.prompt = c->prompt, .n_prompt = c->n_prompt, .max_tokens = c->max_tokens,
		.temperature = c->temperature, .top_p = c->top_p, .seed = c->seed,
		.on_event = on_event, .opaque = s,
	};

	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	return p;
}

/* @r, done, streamed and finished exactly as @c alone. */
static bool same_as_alone(struct jalrt_serve_request *r, const struct seen *s,
			  const struct ref_case *c)
{
	struct jalrt_serve_result res;
	int ids[128], n = jalrt_serve_tokens(r, ids, 128);
	const char *text = jalrt_serve_text(r, NULL);

	jalrt_serve_result(r, &res);
	return res.state == JALRT_SERVE_DONE && res.finish == c->finish && n == c->n_want &&
	       !memcmp(ids, c->want, sizeof(int) * (size_t)n) && s->n_tokens == n &&
	       !memcmp(s->tokens, c->want, sizeof(int) * (size_t)n) && s->finals == 1 &&
	       text && !strcmp(text, s->text);
}

struct case_thread {
	struct jalrt_serve_engine *e;
	int first, ok, done;
};

/* Submits cases first, first + 1 at once, waits for both. */
static void *case_submitter(void *arg)
{
	struct case_thread *t = arg;
	struct seen *s = calloc(2, sizeof(*s));
	struct jalrt_serve_request *r[2] = { NULL, NULL };
	struct jalrt_serve_params p;
	int k;

	for (k = 0; k < 2 && s; k++) {
		p = case_params(&cases[(t->first + k) % N_CASES], &s[k]);
		if (jalrt_serve_submit(t->e, &p, &r[k]))
			r[k] = NULL;
	}
	for (k = 0; k < 2 && s; k++) {
		if (!r[k])
			continue;
		if (!jalrt_serve_wait(r[k], 120000))
			t->done++;
		t->ok += same_as_alone(r[k], &s[k], &cases[(t->first + k) % N_CASES]);
		jalrt_serve_release(r[k]);
	}
	free(s);
	return NULL;
}

static void test_batching(unsigned int decode_steps)
{
	struct jalrt_serve_options o = {
		.parallel = 16, .max_queue = 64, .decode_steps = decode_steps,
	};
	struct step_gate gate;
	struct jalrt_serve_engine *e;
	struct jalrt_serve_request *h;
	struct jalrt_serve_stats st;
	struct case_thread t[16];
	struct seen hs = { 0 };
	struct jalrt_serve_params p;
	pthread_t th[16];
	int i, ok = 0, done = 0;

	gate_init(&gate, &o);
	if (!check(!jalrt_serve_engine_create(llm, &o, &e),
		   "batching engine (16 sequences, decode loops of %u) created", decode_steps)) {
		gate_close(&gate);
		return;
	}
	/*
	 * A holder request runs, and the engine takes no further step until
	 * all the others are submitted: the steps carry several sequences
	 * whatever the threads' timing.
	 */
	p = case_params(&cases[0], &hs);
	gate_steps(&gate, 1);
	check(!jalrt_serve_submit(e, &p, &h) && wait_tokens(&hs, 1) >= 1,
	      "a holder request streams its first token");
	for (i = 0; i < 16; i++) {
		t[i] = (struct case_thread){ .e = e, .first = i };
		pthread_create(&th[i], NULL, case_submitter, &t[i]);
	}
	check(wait_arrivals(e, 33), "32 requests submitted beside the holder");
	gate_release(&gate);
	for (i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		ok += t[i].ok;
		done += t[i].done;
	}
	check(done == 32 && ok == 32,
	      "16 threads x 2 requests (greedy and sampled): %d of 32 done, %d equal jalrt_llm_generate() alone",
	      done, ok);
	jalrt_serve_wait(h, 120000);
	check(same_as_alone(h, &hs, &cases[0]), "the holder request equals it alone too");
	jalrt_serve_release(h);
	jalrt_serve_engine_stats(e, &st);
	check(st.max_step_seqs > 1 && st.step_seqs[0] < st.step_seqs[JALRT_SERVE_STEP_BUCKETS] &&
	      st.steps < st.completion_tokens,
	      "steps carried several sequences: up to %u in one, %llu steps for %llu tokens, %.0f tok/s",
	      st.max_step_seqs, (unsigned long long)st.steps,
	      (unsigned long long)st.completion_tokens, st.tokens_per_second);
	if (decode_steps > 1)
		check(st.jobs < st.steps, "decode loops: %llu jobs for %llu steps",
		      (unsigned long long)st.jobs, (unsigned long long)st.steps);
	else
		check(st.jobs == st.steps, "one job per step: %llu", (unsigned long long)st.jobs);
	check(st.running == 0 && st.queued == 0 && st.kv_blocks_used == 0 && st.kv_used == 0 &&
	      st.kv_blocks_total > 0 && st.parallel == 16 && st.finished[JALRT_SERVE_FINISH_ERROR] == 0,
	      "idle after: no sequence, no KV block in use (%d in the pool)", st.kv_blocks_total);
	jalrt_serve_engine_destroy(e);
	gate_close(&gate);
}

/* A pool of one context: requests preempt each other and still end as alone. */
static void test_preemption(unsigned int decode_steps)
{
	struct jalrt_serve_options o = {
		.parallel = 8, .max_queue = 64, .kv_blocks = 1, .block_size = 4,
		.decode_steps = decode_steps,
	};
	struct step_gate gate;
	struct jalrt_serve_request *r[N_CASES];
	struct jalrt_serve_engine *e;
	struct jalrt_serve_result res;
	struct jalrt_serve_stats st;
	struct jalrt_serve_params p;
	struct seen *s = calloc(N_CASES, sizeof(*s));
	int i, ok = 0, preempted = 0;

	gate_init(&gate, &o);
	if (!check(s && !jalrt_serve_engine_create(llm, &o, &e),
		   "engine with a KV pool of one context (decode loops of %u)", decode_steps)) {
		gate_close(&gate);
		free(s);
		return;
	}
	jalrt_serve_engine_stats(e, &st);
	check(st.kv_blocks_total == (st.ctx + 3) / 4,
	      "the pool is raised to one context: %d blocks of 4 for %d positions",
	      st.kv_blocks_total, st.ctx);
	for (i = 0; i < N_CASES; i++) {
		p = case_params(&cases[i], &s[i]);
		if (jalrt_serve_submit(e, &p, &r[i]))
			r[i] = NULL;
	}
	/* All of them at once: together they outgrow the pool. */
	gate_release(&gate);
	for (i = 0; i < N_CASES; i++) {
		if (!r[i] || jalrt_serve_wait(r[i], 120000))
			continue;
		ok += same_as_alone(r[i], &s[i], &cases[i]);
		jalrt_serve_result(r[i], &res);
		preempted += res.preemptions > 0;
	}
	jalrt_serve_engine_stats(e, &st);
	check(ok == N_CASES, "%d of %d requests (%d preempted at least once) equal jalrt_llm_generate() alone",
	      ok, N_CASES, preempted);
	check(st.preemptions > 0 && preempted > 0 && st.finished[JALRT_SERVE_FINISH_ERROR] == 0,
	      "%llu preemptions, no request failed", (unsigned long long)st.preemptions);
	check(st.kv_blocks_used == 0 && st.running == 0 && st.queued == 0 && st.preempted == 0,
	      "idle after: every block back");
	for (i = 0; i < N_CASES; i++)
		jalrt_serve_release(r[i]);
	jalrt_serve_engine_destroy(e);
	gate_close(&gate);
	free(s);
}

/* Cancelling a running request returns its blocks; the others go on as alone. */
static void test_cancel_frees_blocks(void)
{
	struct jalrt_serve_options o = { .parallel = 4 };
	struct step_gate gate;
	struct jalrt_serve_engine *e;
	struct jalrt_serve_request *a, *b;
	struct jalrt_serve_result res;
	struct jalrt_serve_stats st, st2;
	struct jalrt_serve_params p;
	struct seen sa = { 0 }, sb = { 0 };
	int used;

	gate_init(&gate, &o);
	if (!check(!jalrt_serve_engine_create(llm, &o, &e), "engine for cancellation")) {
		gate_close(&gate);
		return;
	}
	p = case_params(&cases[1], &sa);
	jalrt_serve_submit(e, &p, &a);
	p = case_params(&cases[5], &sb);
	jalrt_serve_submit(e, &p, &b);
	/* 20 steps (the first takes both prompts): A has 20 tokens, and runs */
	gate_steps(&gate, 20);
	wait_tokens(&sa, 20);
	jalrt_serve_engine_stats(e, &st);
	used = st.kv_blocks_used;
	jalrt_serve_cancel(a);
	gate_release(&gate);
	jalrt_serve_wait(a, 60000);
	jalrt_serve_engine_stats(e, &st2);
	jalrt_serve_result(a, &res);
	check(st.kv_blocks_used >= 2 && res.finish == JALRT_SERVE_FINISH_CANCELLED &&
	      res.completion_tokens >= 20 && res.completion_tokens < CASE_TOKENS && sa.finals == 1,
	      "A cancelled after %d tokens (%d KV blocks in use before)", res.completion_tokens,
	      st.kv_blocks_used);
	jalrt_serve_wait(b, 60000);
	check(same_as_alone(b, &sb, &cases[5]), "B, beside it, equals it alone");
	jalrt_serve_engine_stats(e, &st);
	check(st2.kv_blocks_used < used && st.kv_blocks_used == 0 && st.running == 0 &&
	      st.finished[JALRT_SERVE_FINISH_CANCELLED] == 1,
	      "A's blocks returned at its cancellation (%d in use after it, %d before), none after B",
	      st2.kv_blocks_used, used);
	jalrt_serve_release(a);
	jalrt_serve_release(b);
	jalrt_serve_engine_destroy(e);
	gate_close(&gate);
}

int main(int argc, char **argv)
{
	struct jalrt_serve_options o = { .max_queue = 4 };
	struct step_gate gate;
	struct jalrt_serve_engine *e;
	struct jalrt_serve_request *r, *a, *b, *c;
	struct jalrt_serve_result res;
	struct jalrt_serve_stats st;
	struct jalrt_device *dev;
	struct seen s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	struct jalrt_serve_params p;
	char ref[8192], stop[16];
	int ids[64], n, i, ret;

	if (argc != 3) {
		fprintf(stderr, "usage: engine_test MODEL TOKENIZER\n");
		return 2;
	}
	printf("TAP version 13\n");
	if (sim_open(256ull << 20, true, &dev) ||
	    jalrt_llm_load(dev, argv[1], argv[2], NULL, &llm)) {
		printf("not ok 1 - load %s: %s\n1..1\n# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0\n",
		       argv[1], jalrt_last_error_message());
		return 1;
	}
	n_prompt = jalrt_llm_encode(llm, "I dreamed", true, prompt, 64);
	ret = jalrt_serve_engine_create(llm, &o, &e);
	check(!ret, "engine created");

	/* Validation. */
	p = params(NULL, 8);
	p.n_prompt = 0;
	check(jalrt_serve_submit(e, &p, &r) == -EINVAL, "no prompt: -EINVAL");
	p = params(NULL, 0);
	check(jalrt_serve_submit(e, &p, &r) == -EINVAL, "max_tokens 0: -EINVAL");
	p = params(NULL, 8);
	p.temperature = -1;
	check(jalrt_serve_submit(e, &p, &r) == -EINVAL, "negative temperature: -EINVAL");
	p = params(NULL, 8);
	p.stop = (const char *const[]){ "" };
	p.n_stop = 1;
	check(jalrt_serve_submit(e, &p, &r) == -EINVAL, "an empty stop string: -EINVAL");
	p = params(NULL, 8);
	p.stop = (const char *const[]){ "a", "b", "c", "d", "e" };
	p.n_stop = 5;
	check(jalrt_serve_submit(e, &p, &r) == -EINVAL, "five stop strings: -EINVAL");
	p = params(NULL, 128);
	check(jalrt_serve_submit(e, &p, &r) == -E2BIG, "prompt + max_tokens over the context: -E2BIG");

	/* One greedy request: the events add up to the final text. */
	p = params(&s0, 40);
	ret = jalrt_serve_submit(e, &p, &r);
	check(!ret && !jalrt_serve_wait(r, 60000), "a greedy request completes");
	jalrt_serve_result(r, &res);
	n = jalrt_serve_tokens(r, ids, 64);
	snprintf(ref, sizeof(ref), "%s", jalrt_serve_text(r, NULL));
	check(res.state == JALRT_SERVE_DONE && res.finish == JALRT_SERVE_FINISH_LENGTH &&
	      res.completion_tokens == 40 && n == 40 && res.prompt_tokens == n_prompt &&
	      res.ttft_ns > 0 && res.total_ns >= res.ttft_ns,
	      "result: length, 40 tokens, prompt %d, TTFT %.2f ms", n_prompt, res.ttft_ns / 1e6);
	check(s0.finals == 1 && s0.finish == JALRT_SERVE_FINISH_LENGTH && s0.n_tokens == 40 &&
	      !memcmp(s0.tokens, ids, sizeof(int) * 40) && !strcmp(s0.text, ref),
	      "events: every token once, one final event, their text is the final text");
	jalrt_serve_release(r);

	/* A stop string that spans token boundaries: never streamed. */
	check(strlen(ref) > 20, "reference text: \"%s\"", ref);
	memcpy(stop, ref + 12, 6);
	stop[6] = '\0';
	p = params(&s1, 40);
	p.stop = (const char *const[]){ "\xe2\x82\xac never", stop };
	p.n_stop = 2;
	ret = jalrt_serve_submit(e, &p, &r);
	jalrt_serve_wait(r, 60000);
	jalrt_serve_result(r, &res);
	n = (int)(strstr(ref, stop) - ref);
	check(!ret && res.finish == JALRT_SERVE_FINISH_STOP &&
	      !strncmp(jalrt_serve_text(r, NULL), ref, (size_t)n) &&
	      strlen(jalrt_serve_text(r, NULL)) == (size_t)n && !strcmp(s1.text, jalrt_serve_text(r, NULL)),
	      "stop \"%s\": text and stream end before it, finish stop", stop);
	check(res.completion_tokens < 40, "the generation stopped at the stop string (%d tokens)",
	      res.completion_tokens);
	jalrt_serve_release(r);
	jalrt_serve_engine_destroy(e);

	/* Queue limit, cancel queued, cancel running, release mid-run: one at a time. */
	o.parallel = 1;
	o.max_queue = 1;
	gate_init(&gate, &o);
	jalrt_serve_engine_create(llm, &o, &e);
	memset(&s1, 0, sizeof(s1));
	p = params(&s1, 100);
	jalrt_serve_submit(e, &p, &a);
	gate_steps(&gate, 1);
	wait_tokens(&s1, 1);	/* A runs, and waits at the gate */
	jalrt_serve_result(a, &res);
	check(res.state == JALRT_SERVE_RUNNING, "A runs");
	p = params(&s2, 4);
	ret = jalrt_serve_submit(e, &p, &b);
	p = params(&s3, 4);
	check(!ret && jalrt_serve_submit(e, &p, &c) == -EAGAIN, "B queued, C over the limit: -EAGAIN");
	jalrt_serve_cancel(b);
	jalrt_serve_cancel(a);
	gate_release(&gate);
	jalrt_serve_wait(a, 60000);
	jalrt_serve_wait(b, 60000);
	jalrt_serve_result(a, &res);
	check(res.finish == JALRT_SERVE_FINISH_CANCELLED && res.completion_tokens < 100 &&
	      s1.finals == 1 && s1.finish == JALRT_SERVE_FINISH_CANCELLED,
	      "A cancelled while running: stopped early (%d tokens), final event cancelled",
	      res.completion_tokens);
	jalrt_serve_result(b, &res);
	check(res.finish == JALRT_SERVE_FINISH_CANCELLED && res.completion_tokens == 0 &&
	      s2.finals == 1, "B cancelled while queued: never ran, one final event");
	jalrt_serve_release(a);
	jalrt_serve_release(b);

	memset(&s1, 0, sizeof(s1));
	p = params(&s1, 100);
	jalrt_serve_submit(e, &p, &a);
	n = wait_tokens(&s1, 1);	/* A has streamed a token */
	pthread_mutex_lock(&s1.lock);
	s1.released = true;
	pthread_mutex_unlock(&s1.lock);
	jalrt_serve_release(a);	/* cancels it; no callback after this */
	memset(&s2, 0, sizeof(s2));
	p = params(&s2, 3);
	ret = jalrt_serve_submit(e, &p, &b);
	jalrt_serve_wait(b, 60000);
	jalrt_serve_result(b, &res);
	check(n > 0 && s1.after_release == 0 && !ret && res.finish == JALRT_SERVE_FINISH_LENGTH,
	      "release mid-run: no events after it, the next request runs");
	jalrt_serve_release(b);
	jalrt_serve_engine_stats(e, &st);
	check(st.submitted == 4 && st.rejected_full == 1 &&
	      st.finished[JALRT_SERVE_FINISH_CANCELLED] == 3 &&
	      st.finished[JALRT_SERVE_FINISH_LENGTH] == 1 && st.queued == 0 && st.running == 0,
	      "stats: 4 submitted, 1 rejected, 3 cancelled, 1 length, idle");

	jalrt_serve_engine_destroy(e);
	gate_close(&gate);
	o.step_gate_fd = 0;

	/* Drain: accepted requests finish, later submits fail. */
	o.max_queue = 4;
	jalrt_serve_engine_create(llm, &o, &e);
	memset(&s1, 0, sizeof(s1));
	memset(&s2, 0, sizeof(s2));
	p = params(&s1, 5);
	ret = jalrt_serve_submit(e, &p, &a);
	p = params(&s2, 5);
	ret = ret ? ret : jalrt_serve_submit(e, &p, &b);
	if (!check(!ret, "two requests accepted before the shutdown"))
		return 1;
	jalrt_serve_engine_shutdown(e, true);
	jalrt_serve_result(a, &res);
	n = res.finish;
	jalrt_serve_result(b, &res);
	check(n == JALRT_SERVE_FINISH_LENGTH && res.finish == JALRT_SERVE_FINISH_LENGTH,
	      "shutdown(drain): running and queued requests finish");
	p = params(NULL, 5);
	check(jalrt_serve_submit(e, &p, &c) == -ESHUTDOWN, "after shutdown: -ESHUTDOWN");
	jalrt_serve_release(a);
	jalrt_serve_release(b);
	jalrt_serve_engine_destroy(e);

	/* 8 threads x 4 requests at once: each as the request alone. */
	{
		struct jalrt_serve_options big = { .max_queue = 64 };
		struct thread_arg t[8];
		pthread_t th[8];
		char want[8192];
		int total = 0;

		jalrt_serve_engine_create(llm, &big, &e);
		memset(&s0, 0, sizeof(s0));
		p = params(&s0, 24);
		jalrt_serve_submit(e, &p, &r);
		jalrt_serve_wait(r, -1);
		snprintf(want, sizeof(want), "%s", jalrt_serve_text(r, NULL));
		jalrt_serve_release(r);
		for (i = 0; i < 8; i++) {
			t[i] = (struct thread_arg){ .e = e, .want = want };
			pthread_create(&th[i], NULL, submitter, &t[i]);
		}
		for (i = 0; i < 8; i++) {
			pthread_join(th[i], NULL);
			total += t[i].ok;
		}
		check(total == 32, "8 threads x 4 requests: %d of 32 equal the request alone", total);
		jalrt_serve_engine_destroy(e);
	}

	if (check(make_cases(), "references: %d requests generated alone by jalrt_llm_generate()",
		  N_CASES)) {
		test_batching(1);
		test_preemption(1);
		test_batching(8);
		test_preemption(8);
		test_cancel_frees_blocks();
	}

	jalrt_llm_destroy(llm);
	jalrt_device_close(dev);
	printf("1..%d\n# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", n_tests, n_pass,
	       n_fail);
	return n_fail ? 1 : 0;
}
