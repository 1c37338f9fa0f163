// SPDX-License-Identifier: MIT
/*
 * The serving engine's API (jalrt_serve.h) on the chip model in-process
 * (sim_backend.c): validation, streaming events against the final text,
 * stop strings across token boundaries, the queue limit, cancel while
 * queued and while running, release mid-run, drain on shutdown, and many
 * threads submitting at once getting what one request gets alone.
 *
 *   engine_test MODEL TOKENIZER        (TAP, kselftest's "# Totals:" line)
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	pthread_mutex_unlock(&s->lock);
}

static struct jalrt_llm *llm;
static int prompt[64], n_prompt;

static struct jalrt_serve_params params(struct seen *s, int max_tokens)
{
	struct jalrt_serve_params p = {
		.prompt = prompt, .n_prompt = n_prompt, .max_tokens = max_tokens,
		.temperature = 0, .top_p = 1, .seed = 1, .on_event = on_event, .opaque = s,
	};

	if (s)
		pthread_mutex_init(&s->lock, NULL);
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

int main(int argc, char **argv)
{
	struct jalrt_serve_options o = { .max_queue = 4 };
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
	o.token_delay_us = 20000;
	jalrt_serve_engine_create(llm, &o, &e);
	memset(&s1, 0, sizeof(s1));
	p = params(&s1, 100);
	jalrt_serve_submit(e, &p, &a);
	for (i = 0; i < 3000; i++) {	/* until A runs: at most 30 s */
		jalrt_serve_result(a, &res);
		if (res.state == JALRT_SERVE_RUNNING)
			break;
		usleep(10000);	/* poll interval */
	}
	check(res.state == JALRT_SERVE_RUNNING, "A runs");
	p = params(&s2, 4);
	ret = jalrt_serve_submit(e, &p, &b);
	p = params(&s3, 4);
	check(!ret && jalrt_serve_submit(e, &p, &c) == -EAGAIN, "B queued, C over the limit: -EAGAIN");
	jalrt_serve_cancel(b);
	jalrt_serve_cancel(a);
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
	for (i = 0; i < 3000; i++) {	/* until A has streamed a token */
		pthread_mutex_lock(&s1.lock);
		n = s1.n_tokens;
		pthread_mutex_unlock(&s1.lock);
		if (n)
			break;
		usleep(10000);	/* poll interval */
	}
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

	jalrt_llm_destroy(llm);
	jalrt_device_close(dev);
	printf("1..%d\n# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", n_tests, n_pass,
	       n_fail);
	return n_fail ? 1 : 0;
}
