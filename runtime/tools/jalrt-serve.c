// SPDX-License-Identifier: MIT
/*
 * jalrt-serve: an OpenAI-compatible HTTP server for a llama2.c model on
 * the Jalapeño chip (Documentation/serving.rst).
 *
 *   jalrt-serve MODEL [-z TOKENIZER] [--precision P] [--host ADDR]
 *               [--port N] [--parallel N] [--max-rows N] [--kv-blocks N]
 *               [--kv-mib N] [--kv-type f32|bf16] [--block-size N] [--decode-steps N]
 *               [--queue N] [--ctx N]
 *               [--api-key KEY] [--model-name NAME] [--device N]
 *               [--host-memory] [--token-delay-us N] [--step-gate FIFO]
 *
 * HTTP is libmicrohttpd's (a thread per connection), JSON is json-c's;
 * generation is the serving engine's (jalrt_serve.h): one worker thread
 * owns the model and runs the requests by continuous batching (up to
 * --parallel sequences per chip step), client threads submit to it and
 * stream its tokens.
 *
 * Endpoints: POST /v1/completions, POST /v1/chat/completions (both with
 * "stream": true as server-sent events), GET /v1/models[/ID], GET /health,
 * GET /metrics (Prometheus text). SIGTERM or SIGINT: stop accepting
 * connections, finish the accepted requests, exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "jalrt.h"
#include "jalrt_llm.h"
#include "jalrt_serve.h"
#include "run_flags.h"
#ifdef JALRT_SERVE_SIM
#include "sim_backend.h"
#endif

#define MAX_BODY		(1u << 20)
#define POLL_MS			100
#define DRAIN_TIMEOUT_MS	60000

static const char usage_text[] =
	"usage: jalrt-serve <checkpoint> [options]\n"
	"example: jalrt-serve model.bin -z tokenizer.bin --port 8080\n"
	"options:\n"
	"  -z <string>            path to the tokenizer, default tokenizer.bin\n"
	"  --precision <p>        f32, bf16, int8, sparse or int4 weights\n"
	"                         (default: int4 for a Q4_0 file, int8 for Q8_0, else f32)\n"
	"  --host <addr>          address to listen on, default 127.0.0.1\n"
	"  --port <n>             port, default 8080 (0: any free port)\n"
	"  --parallel <n>         maximum running sequences (continuous batching:\n"
	"                         all advance in one chip step), default 16\n"
	"  --max-rows <n>         row budget of a step (decode rows and prompt\n"
	"                         chunks together), default 128 (at least --parallel)\n"
	"  --kv-blocks <n>        KV cache blocks, default enough for --parallel\n"
	"                         whole contexts (at least one context)\n"
	"  --kv-mib <n>           KV cache budget in MiB instead of --kv-blocks\n"
	"  --kv-type <t>          KV cache elements: f32 (default) or bf16 (half the\n"
	"                         bytes: --kv-mib holds twice the blocks)\n"
	"  --block-size <n>       positions per KV block, default 16\n"
	"  --decode-steps <n>     up to n decode steps per chip job while no waiting\n"
	"                         request could join (1-64), default 1\n"
	"  --queue <n>            requests waiting beyond the running ones before\n"
	"                         HTTP 429, default 64\n"
	"  --ctx <n>              positions per sequence (prompt + completion),\n"
	"                         default and maximum: the model's seq_len\n"
	"  --api-key <key>        require \"Authorization: Bearer <key>\" on /v1/\n"
	"  --model-name <name>    the model's id in the API, default the file's\n"
	"                         name without .bin or .gguf\n"
	"  --device <n>           device index, default 0\n"
	"  --host-memory          keep the model in host memory\n"
	"  --token-delay-us <n>   pause the engine after each token (slow motion)\n"
	"  --step-gate <fifo>     testing aid: read a byte from this FIFO before\n"
	"                         each chip job (end of file: no more gate)\n";

/* --step-gate: the FIFO the test writes a byte a step to (see jalrt_serve.h). */
static int open_step_gate(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == 0) {	/* 0 means "no gate" to the engine */
		fd = fcntl(0, F_DUPFD_CLOEXEC, 1);
		close(0);
	}
	if (fd < 0) {
		fprintf(stderr, "jalrt-serve: cannot open the step gate %s: %s\n", path,
			strerror(errno));
		exit(EXIT_FAILURE);
	}
	return fd;
}

static void usage_error(const char *why, const char *arg)
{
	if (why)
		fprintf(stderr, "jalrt-serve: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
	fputs(usage_text, stderr);
	exit(EXIT_FAILURE);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "jalrt-serve: %s: %s\n", what,
		*jalrt_last_error_message() ? jalrt_last_error_message() : jalrt_strerror(err));
	exit(EXIT_FAILURE);
}

/* ---- server state -------------------------------------------------------- */

struct server {
	struct jalrt_llm *llm;
	struct jalrt_serve_engine *engine;
	const char *model_id;
	const char *api_key;
	int vocab_size;
	int ctx;
	time_t started;
	atomic_bool draining;
	atomic_uint_least64_t next_id;

	pthread_mutex_t lock;		/* what follows */
	uint64_t by_status[600];
	uint64_t disconnects;
	unsigned int active;		/* HTTP requests not yet completed */
	pthread_cond_t active_cond;
};

struct buf {
	char *data;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
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

static int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	return buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Per HTTP request (MHD's con_cls). */
struct conn {
	struct server *srv;
	struct buf body;
	bool too_big;
};

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result send_buf(struct server *srv, struct MHD_Connection *c, unsigned int status,
			       const char *type, const char *data, size_t len,
			       const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES && status < 600) {
		pthread_mutex_lock(&srv->lock);
		srv->by_status[status]++;
		pthread_mutex_unlock(&srv->lock);
	}
	return ret;
}

static enum MHD_Result send_json(struct server *srv, struct MHD_Connection *c, unsigned int status,
				 struct json_object *obj)
{
	size_t len;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	enum MHD_Result ret;
	char *body = malloc(len + 1);

	if (!body) {
		json_object_put(obj);
		return MHD_NO;
	}
	memcpy(body, s, len);
	body[len] = '\n';
	ret = send_buf(srv, c, status, "application/json", body, len + 1, NULL);
	free(body);
	json_object_put(obj);
	return ret;
}

static struct json_object *error_object(const char *type, const char *param, const char *code,
					const char *message)
{
	struct json_object *err = json_object_new_object(), *top = json_object_new_object();

	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(err, "type", json_object_new_string(type));
	json_object_object_add(err, "param", param ? json_object_new_string(param) : NULL);
	json_object_object_add(err, "code", code ? json_object_new_string(code) : NULL);
	json_object_object_add(top, "error", err);
	return top;
}

/* OpenAI's error body: {"error": {"message", "type", "param", "code"}}. */
static enum MHD_Result send_error(struct server *srv, struct MHD_Connection *c, unsigned int status,
				  const char *type, const char *param, const char *code,
				  const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static enum MHD_Result send_error(struct server *srv, struct MHD_Connection *c, unsigned int status,
				  const char *type, const char *param, const char *code,
				  const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_json(srv, c, status, error_object(type, param, code, msg));
}

#define BAD_REQUEST(srv, c, param, ...) \
	send_error(srv, c, MHD_HTTP_BAD_REQUEST, "invalid_request_error", param, NULL, __VA_ARGS__)

/* ---- request parsing ----------------------------------------------------- */

struct gen {
	bool chat;
	bool stream;
	bool include_usage;
	bool return_token_ids;
	int max_tokens;			/* -1: not given */
	double temperature, top_p;
	uint64_t seed;
	const char *stop[JALRT_SERVE_MAX_STOP];
	unsigned int n_stop;
	int *prompt;
	int n_prompt;
	char id[48];
	time_t created;
};

/* The error of a request that failed validation: status, param, message. */
struct verr {
	unsigned int status;
	const char *param;
	const char *code;
	char msg[512];
};

static int fail(struct verr *v, unsigned int status, const char *param, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(struct verr *v, unsigned int status, const char *param, const char *code,
		const char *fmt, ...)
{
	va_list ap;

	v->status = status;
	v->param = param;
	v->code = code;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_null(struct json_object *o)
{
	return !o || json_object_is_type(o, json_type_null);
}

static bool is_number(struct json_object *o)
{
	return json_object_is_type(o, json_type_int) || json_object_is_type(o, json_type_double);
}

/* Optional number field in [lo, hi]. */
static int get_number(struct json_object *req, const char *key, double lo, double hi,
		      double *out, struct verr *v)
{
	struct json_object *o = json_object_object_get(req, key);
	double x;

	if (is_null(o))
		return 0;
	if (!is_number(o))
		return fail(v, 400, key, "invalid_type", "'%s' must be a number", key);
	x = json_object_get_double(o);
	if (!(x >= lo && x <= hi))
		return fail(v, 400, key, "invalid_value", "'%s' must be between %g and %g, not %g",
			    key, lo, hi, x);
	*out = x;
	return 0;
}

/* Optional integer field in [lo, hi]; 1 when present. */
static int get_int(struct json_object *req, const char *key, int64_t lo, int64_t hi,
		   int64_t *out, struct verr *v)
{
	struct json_object *o = json_object_object_get(req, key);
	int64_t x;

	if (is_null(o))
		return 0;
	if (!json_object_is_type(o, json_type_int))
		return fail(v, 400, key, "invalid_type", "'%s' must be an integer", key);
	x = json_object_get_int64(o);
	if (x < lo || x > hi)
		return fail(v, 400, key, "invalid_value",
			    "'%s' must be between %" PRId64 " and %" PRId64 ", not %" PRId64,
			    key, lo, hi, x);
	*out = x;
	return 1;
}

static int get_bool(struct json_object *req, const char *key, bool *out, struct verr *v)
{
	struct json_object *o = json_object_object_get(req, key);

	if (is_null(o))
		return 0;
	if (!json_object_is_type(o, json_type_boolean))
		return fail(v, 400, key, "invalid_type", "'%s' must be a boolean", key);
	*out = json_object_get_boolean(o);
	return 0;
}

static int encode_text(struct server *srv, const char *text, struct gen *g, struct verr *v)
{
	size_t max = strlen(text) + 3;
	int n;

	g->prompt = malloc(max * sizeof(*g->prompt));
	if (!g->prompt)
		return fail(v, 500, NULL, NULL, "out of memory");
	n = jalrt_llm_encode(srv->llm, text, true, g->prompt, max);
	if (n < 0)
		return fail(v, 400, g->chat ? "messages" : "prompt", NULL,
			    "cannot encode the prompt: %s", jalrt_strerror(n));
	g->n_prompt = n;
	return 0;
}

/* Completions: "prompt" is a string, an array of one string, or token ids. */
static int parse_prompt(struct server *srv, struct json_object *req, struct gen *g, struct verr *v)
{
	struct json_object *p = json_object_object_get(req, "prompt");
	size_t i, n;

	if (is_null(p))
		return fail(v, 400, "prompt", NULL, "'prompt' is required");
	if (json_object_is_type(p, json_type_string))
		return encode_text(srv, json_object_get_string(p), g, v);
	if (!json_object_is_type(p, json_type_array))
		return fail(v, 400, "prompt", "invalid_type",
			    "'prompt' must be a string or an array of token ids");
	n = json_object_array_length(p);
	if (n == 1 && json_object_is_type(json_object_array_get_idx(p, 0), json_type_string))
		return encode_text(srv, json_object_get_string(json_object_array_get_idx(p, 0)),
				   g, v);
	if (n == 0)
		return fail(v, 400, "prompt", "invalid_value", "'prompt' is empty");
	if (n > INT_MAX - 1)
		return fail(v, 400, "prompt", "invalid_value", "'prompt' is too long");
	g->prompt = malloc((n + 1) * sizeof(*g->prompt));
	if (!g->prompt)
		return fail(v, 500, NULL, NULL, "out of memory");
	g->n_prompt = 0;
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(p, i);
		int64_t id;

		if (!json_object_is_type(t, json_type_int))
			return fail(v, 400, "prompt", "invalid_type",
				    "'prompt' must be a string, an array of one string, or an array of token ids (one prompt per request)");
		id = json_object_get_int64(t);
		if (id < 0 || id >= srv->vocab_size)
			return fail(v, 400, "prompt", "invalid_value",
				    "token id %" PRId64 " is out of range [0, %d)", id,
				    srv->vocab_size);
		/* llama2.c models expect BOS first. */
		if (i == 0 && id != JALRT_LLM_TOKEN_BOS)
			g->prompt[g->n_prompt++] = JALRT_LLM_TOKEN_BOS;
		g->prompt[g->n_prompt++] = (int)id;
	}
	return 0;
}

/*
 * Chat: the messages in the model's chat template (jalrt_llm_encode_chat():
 * Llama 2, Llama 3 or ChatML from a GGUF file's tokenizer.chat_template,
 * else the plain one of Documentation/serving.rst). A content array's
 * text parts are joined.
 */
static int parse_messages(struct server *srv, struct json_object *req, struct gen *g,
			  struct verr *v)
{
	struct json_object *msgs = json_object_object_get(req, "messages");
	const char **roles = NULL, **contents = NULL;
	struct buf *joined = NULL;
	size_t i, n;
	int ret = 0;

	if (is_null(msgs))
		return fail(v, 400, "messages", NULL, "'messages' is required");
	if (!json_object_is_type(msgs, json_type_array) || !(n = json_object_array_length(msgs)))
		return fail(v, 400, "messages", "invalid_type",
			    "'messages' must be a non-empty array");
	roles = calloc(n, sizeof(*roles));
	contents = calloc(n, sizeof(*contents));
	joined = calloc(n, sizeof(*joined));
	if (!roles || !contents || !joined) {
		ret = fail(v, 500, NULL, NULL, "out of memory");
		goto out;
	}
	for (i = 0; i < n && !ret; i++) {
		struct json_object *m = json_object_array_get_idx(msgs, i), *role, *content;
		const char *r;

		if (!json_object_is_type(m, json_type_object)) {
			ret = fail(v, 400, "messages", "invalid_type", "messages[%zu] must be an object", i);
			break;
		}
		role = json_object_object_get(m, "role");
		content = json_object_object_get(m, "content");
		r = json_object_is_type(role, json_type_string) ? json_object_get_string(role) : "";
		if (strcmp(r, "system") && strcmp(r, "developer") && strcmp(r, "user") &&
		    strcmp(r, "assistant")) {
			ret = fail(v, 400, "messages", "invalid_value",
				   "messages[%zu].role must be \"system\", \"developer\", \"user\" or \"assistant\"",
				   i);
			break;
		}
		roles[i] = r;
		if (json_object_is_type(content, json_type_string)) {
			contents[i] = json_object_get_string(content);
		} else if (json_object_is_type(content, json_type_array)) {
			size_t j, np = json_object_array_length(content);

			for (j = 0; j < np; j++) {
				struct json_object *part = json_object_array_get_idx(content, j);
				struct json_object *type = json_object_object_get(part, "type");
				struct json_object *t = json_object_object_get(part, "text");

				if (!json_object_is_type(type, json_type_string) ||
				    strcmp(json_object_get_string(type), "text") ||
				    !json_object_is_type(t, json_type_string)) {
					ret = fail(v, 400, "messages", "invalid_value",
						   "messages[%zu].content[%zu]: only {\"type\": \"text\", \"text\": ...} parts are supported",
						   i, j);
					break;
				}
				buf_add(&joined[i], json_object_get_string(t),
					(size_t)json_object_get_string_len(t));
			}
			if (!ret && buf_add(&joined[i], "", 0))
				ret = fail(v, 500, NULL, NULL, "out of memory");
			contents[i] = joined[i].data ? joined[i].data : "";
		} else if (!is_null(content) || strcmp(r, "assistant")) {
			ret = fail(v, 400, "messages", "invalid_type",
				   "messages[%zu].content must be a string or an array of text parts",
				   i);
		} else {
			contents[i] = "";
		}
	}
	if (!ret) {
		int count = jalrt_llm_encode_chat(srv->llm, roles, contents, n, &g->prompt);

		if (count < 0)
			ret = fail(v, count == -ENOMEM ? 500 : 400, "messages", NULL,
				   "cannot encode the messages: %s", jalrt_last_error_message());
		else
			g->n_prompt = count;
	}
out:
	for (i = 0; joined && i < n; i++)
		free(joined[i].data);
	free(joined);
	free(roles);
	free(contents);
	return ret;
}

/* Parameters both endpoints share, then the prompt. */
static int parse_gen(struct server *srv, struct json_object *req, struct gen *g, struct verr *v)
{
	struct json_object *model, *stop, *so, *o;
	int64_t x;
	int ret;

	if (!json_object_is_type(req, json_type_object))
		return fail(v, 400, NULL, NULL, "the request body must be a JSON object");
	model = json_object_object_get(req, "model");
	if (is_null(model))
		return fail(v, 400, "model", NULL, "'model' is required");
	if (!json_object_is_type(model, json_type_string))
		return fail(v, 400, "model", "invalid_type", "'model' must be a string");
	if (strcmp(json_object_get_string(model), srv->model_id))
		return fail(v, 404, "model", "model_not_found",
			    "The model '%s' does not exist (this server has '%s')",
			    json_object_get_string(model), srv->model_id);

	if (get_bool(req, "stream", &g->stream, v) ||
	    get_bool(req, "return_token_ids", &g->return_token_ids, v) ||
	    get_number(req, "temperature", 0, 2, &g->temperature, v) ||
	    get_number(req, "top_p", 0, 1, &g->top_p, v))
		return -1;
	so = json_object_object_get(req, "stream_options");
	if (!is_null(so)) {
		if (!json_object_is_type(so, json_type_object))
			return fail(v, 400, "stream_options", "invalid_type",
				    "'stream_options' must be an object");
		if (get_bool(so, "include_usage", &g->include_usage, v))
			return -1;
	}
	g->max_tokens = -1;
	ret = get_int(req, "max_tokens", 1, INT_MAX, &x, v);
	if (ret < 0)
		return -1;
	if (ret)
		g->max_tokens = (int)x;
	if (g->chat) {
		ret = get_int(req, "max_completion_tokens", 1, INT_MAX, &x, v);
		if (ret < 0)
			return -1;
		if (ret)
			g->max_tokens = (int)x;
	}
	ret = get_int(req, "seed", INT64_MIN, INT64_MAX, &x, v);
	if (ret < 0)
		return -1;
	g->seed = ret ? (uint64_t)x : (uint64_t)time(NULL) ^ (atomic_fetch_add(&srv->next_id, 1) * 0x9e3779b97f4a7c15ull);
	ret = get_int(req, "n", 1, 1, &x, v);
	if (ret < 0)
		return fail(v, 400, "n", "invalid_value", "only n = 1 is supported");
	/* What this server does not do: refused rather than ignored. */
	o = json_object_object_get(req, "logprobs");
	if (!is_null(o) && !(json_object_is_type(o, json_type_boolean) && !json_object_get_boolean(o)))
		return fail(v, 400, "logprobs", "unsupported_parameter", "'logprobs' is not supported");
	o = json_object_object_get(req, "echo");
	if (!is_null(o) && !(json_object_is_type(o, json_type_boolean) && !json_object_get_boolean(o)))
		return fail(v, 400, "echo", "unsupported_parameter", "'echo' is not supported");
	o = json_object_object_get(req, "best_of");
	if (!is_null(o) && !(json_object_is_type(o, json_type_int) && json_object_get_int64(o) == 1))
		return fail(v, 400, "best_of", "unsupported_parameter", "only best_of = 1 is supported");
	o = json_object_object_get(req, "suffix");
	if (!is_null(o))
		return fail(v, 400, "suffix", "unsupported_parameter", "'suffix' is not supported");
	o = json_object_object_get(req, "tools");
	if (!is_null(o))
		return fail(v, 400, "tools", "unsupported_parameter", "'tools' is not supported");

	stop = json_object_object_get(req, "stop");
	if (json_object_is_type(stop, json_type_string)) {
		g->stop[g->n_stop++] = json_object_get_string(stop);
	} else if (json_object_is_type(stop, json_type_array)) {
		size_t i, n = json_object_array_length(stop);

		if (n > JALRT_SERVE_MAX_STOP)
			return fail(v, 400, "stop", "invalid_value",
				    "'stop' takes at most %d strings", JALRT_SERVE_MAX_STOP);
		for (i = 0; i < n; i++) {
			o = json_object_array_get_idx(stop, i);
			if (!json_object_is_type(o, json_type_string))
				return fail(v, 400, "stop", "invalid_type",
					    "'stop' must be a string or an array of strings");
			g->stop[g->n_stop++] = json_object_get_string(o);
		}
	} else if (!is_null(stop)) {
		return fail(v, 400, "stop", "invalid_type",
			    "'stop' must be a string or an array of strings");
	}
	for (unsigned int i = 0; i < g->n_stop; i++)
		if (!g->stop[i][0] || strlen(g->stop[i]) > JALRT_SERVE_MAX_STOP_LEN)
			return fail(v, 400, "stop", "invalid_value",
				    "stop strings must have 1 to %d bytes", JALRT_SERVE_MAX_STOP_LEN);

	if ((g->chat ? parse_messages(srv, req, g, v) : parse_prompt(srv, req, g, v)))
		return -1;
	if (g->n_prompt >= srv->ctx)
		return fail(v, 400, g->chat ? "messages" : "prompt", "context_length_exceeded",
			    "This model's maximum context length is %d tokens. However, your prompt is %d tokens.",
			    srv->ctx, g->n_prompt);
	if (g->max_tokens < 0) {
		/* OpenAI's defaults: 16 for completions, the rest of the context for chat */
		g->max_tokens = srv->ctx - g->n_prompt;
		if (!g->chat && g->max_tokens > 16)
			g->max_tokens = 16;
	} else if (g->max_tokens > srv->ctx - g->n_prompt) {
		return fail(v, 400, "max_tokens", "context_length_exceeded",
			    "This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the prompt, %d for the completion).",
			    srv->ctx, g->n_prompt + g->max_tokens, g->n_prompt, g->max_tokens);
	}
	return 0;
}

/* ---- generation ---------------------------------------------------------- */

/* Between the engine's worker (events) and the connection's thread. */
struct stream {
	struct server *srv;
	struct gen g;
	struct jalrt_serve_request *req;
	int fd;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct buf text;		/* text from the engine not yet sent */
	int *tokens;			/* token ids not yet sent */
	int n_tokens, cap_tokens;
	bool done;
	enum jalrt_serve_finish finish;

	/* the connection thread's */
	struct buf out;			/* SSE bytes for MHD */
	size_t out_off;
	bool started, ended;
};

static void on_event(void *opaque, const struct jalrt_serve_event *ev)
{
	struct stream *s = opaque;

	pthread_mutex_lock(&s->lock);
	if (ev->text_len)
		buf_add(&s->text, ev->text, ev->text_len);
	if (ev->token >= 0) {
		if (s->n_tokens == s->cap_tokens) {
			int cap = s->cap_tokens ? s->cap_tokens * 2 : 32;
			int *t = realloc(s->tokens, (size_t)cap * sizeof(*t));

			if (t) {
				s->tokens = t;
				s->cap_tokens = cap;
			}
		}
		if (s->n_tokens < s->cap_tokens)
			s->tokens[s->n_tokens++] = ev->token;
	}
	if (ev->finish != JALRT_SERVE_FINISH_NONE) {
		s->done = true;
		s->finish = ev->finish;
	}
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void stream_free(struct stream *s)
{
	if (!s)
		return;
	jalrt_serve_release(s->req);	/* cancels it if unfinished; no events after */
	free(s->g.prompt);
	free(s->text.data);
	free(s->tokens);
	free(s->out.data);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The peer closed its end (the client is gone). */
static bool peer_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	if (fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void count_disconnect(struct server *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->disconnects++;
	pthread_mutex_unlock(&srv->lock);
}

/*
 * Waits until the engine has news for @s or the client is gone (then
 * cancels the request and returns false). @s->lock held.
 */
static bool wait_news(struct stream *s, size_t have_text, int have_tokens)
{
	while (!s->done && s->text.len == have_text && s->n_tokens == have_tokens) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += POLL_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT &&
		    peer_gone(s->fd)) {
			pthread_mutex_unlock(&s->lock);
			jalrt_serve_cancel(s->req);
			count_disconnect(s->srv);
			pthread_mutex_lock(&s->lock);
			return false;
		}
	}
	return true;
}

static const char *finish_reason(enum jalrt_serve_finish f)
{
	return f == JALRT_SERVE_FINISH_LENGTH ? "length" : "stop";
}

static struct json_object *usage_object(const struct jalrt_serve_result *r)
{
	struct json_object *u = json_object_new_object();

	json_object_object_add(u, "prompt_tokens", json_object_new_int(r->prompt_tokens));
	json_object_object_add(u, "completion_tokens", json_object_new_int(r->completion_tokens));
	json_object_object_add(u, "total_tokens",
			       json_object_new_int(r->prompt_tokens + r->completion_tokens));
	return u;
}

static struct json_object *token_array(const int *ids, int n)
{
	struct json_object *a = json_object_new_array_ext(n);
	int i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_int(ids[i]));
	return a;
}

static struct json_object *response_head(struct stream *s, bool chunk)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(s->g.id));
	json_object_object_add(o, "object", json_object_new_string(
		s->g.chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion"));
	json_object_object_add(o, "created", json_object_new_int64(s->g.created));
	json_object_object_add(o, "model", json_object_new_string(s->srv->model_id));
	return o;
}

/* One SSE event "data: JSON\n\n" into s->out; takes @o. */
static void sse_add(struct stream *s, struct json_object *o)
{
	size_t len;
	const char *j = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	buf_add(&s->out, "data: ", 6);
	buf_add(&s->out, j, len);
	buf_add(&s->out, "\n\n", 2);
	json_object_put(o);
}

/* A chunk with text (or just the role), or the final one with @finish. */
static void sse_chunk(struct stream *s, const char *text, size_t len, const int *ids, int n_ids,
		      bool role, const char *finish)
{
	struct json_object *o = response_head(s, true), *choices = json_object_new_array();
	struct json_object *ch = json_object_new_object();

	json_object_object_add(ch, "index", json_object_new_int(0));
	if (s->g.chat) {
		struct json_object *delta = json_object_new_object();

		if (role)
			json_object_object_add(delta, "role", json_object_new_string("assistant"));
		if (len || role)
			json_object_object_add(delta, "content",
					       json_object_new_string_len(text ? text : "", (int)len));
		json_object_object_add(ch, "delta", delta);
		json_object_object_add(ch, "logprobs", NULL);
	} else {
		json_object_object_add(ch, "text",
				       json_object_new_string_len(text ? text : "", (int)len));
		json_object_object_add(ch, "logprobs", NULL);
	}
	if (s->g.return_token_ids && n_ids)
		json_object_object_add(ch, "token_ids", token_array(ids, n_ids));
	json_object_object_add(ch, "finish_reason", finish ? json_object_new_string(finish) : NULL);
	json_object_array_add(choices, ch);
	json_object_object_add(o, "choices", choices);
	if (s->g.include_usage)
		json_object_object_add(o, "usage", NULL);
	sse_add(s, o);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *s = cls;
	size_t n;

	(void)pos;
	while (s->out_off == s->out.len) {
		size_t text_len;
		int n_tok, *tok = NULL;
		char *text = NULL;
		bool done;
		enum jalrt_serve_finish finish;

		s->out.len = s->out_off = 0;
		if (s->ended)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!s->started) {
			s->started = true;
			if (s->g.chat) {
				sse_chunk(s, NULL, 0, NULL, 0, true, NULL);
				continue;
			}
		}
		if (peer_gone(s->fd)) {
			jalrt_serve_cancel(s->req);
			count_disconnect(s->srv);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		pthread_mutex_lock(&s->lock);
		if (!wait_news(s, 0, 0)) {
			pthread_mutex_unlock(&s->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		/* Take what arrived. */
		text = s->text.data;
		text_len = s->text.len;
		s->text.data = NULL;
		s->text.len = s->text.cap = 0;
		tok = s->tokens;
		n_tok = s->n_tokens;
		s->tokens = NULL;
		s->n_tokens = s->cap_tokens = 0;
		done = s->done;
		finish = s->finish;
		pthread_mutex_unlock(&s->lock);

		if (text_len || (n_tok && s->g.return_token_ids))
			sse_chunk(s, text, text_len, tok, n_tok, false, NULL);
		free(text);
		free(tok);
		if (done) {
			struct jalrt_serve_result r;

			jalrt_serve_result(s->req, &r);
			if (finish == JALRT_SERVE_FINISH_ERROR) {
				char msg[256];

				snprintf(msg, sizeof(msg), "the generation failed: %s",
					 jalrt_strerror(r.error));
				sse_add(s, error_object("server_error", NULL, NULL, msg));
			} else {
				sse_chunk(s, NULL, 0, NULL, 0, false, finish_reason(finish));
				if (s->g.include_usage) {
					struct json_object *o = response_head(s, true);

					json_object_object_add(o, "choices", json_object_new_array());
					json_object_object_add(o, "usage", usage_object(&r));
					sse_add(s, o);
				}
			}
			buf_add(&s->out, "data: [DONE]\n\n", 14);
			s->ended = true;
		}
	}
	n = s->out.len - s->out_off;
	if (n > max)
		n = max;
	memcpy(out, s->out.data + s->out_off, n);
	s->out_off += n;
	return (ssize_t)n;
}

static void stream_read_free(void *cls)
{
	stream_free(cls);
}

static struct json_object *completion_body(struct stream *s, const char *text, size_t len,
					   const struct jalrt_serve_result *r)
{
	struct json_object *o = response_head(s, false), *choices = json_object_new_array();
	struct json_object *ch = json_object_new_object();

	json_object_object_add(ch, "index", json_object_new_int(0));
	if (s->g.chat) {
		struct json_object *msg = json_object_new_object();

		json_object_object_add(msg, "role", json_object_new_string("assistant"));
		json_object_object_add(msg, "content", json_object_new_string_len(text, (int)len));
		json_object_object_add(ch, "message", msg);
	} else {
		json_object_object_add(ch, "text", json_object_new_string_len(text, (int)len));
	}
	json_object_object_add(ch, "logprobs", NULL);
	json_object_object_add(ch, "finish_reason",
			       json_object_new_string(finish_reason(r->finish)));
	if (s->g.return_token_ids) {
		int n = jalrt_serve_tokens(s->req, NULL, 0), *ids = calloc((size_t)n + 1, sizeof(int));

		if (ids) {
			n = jalrt_serve_tokens(s->req, ids, n);
			json_object_object_add(ch, "token_ids", token_array(ids, n));
			free(ids);
		}
	}
	json_object_array_add(choices, ch);
	json_object_object_add(o, "choices", choices);
	json_object_object_add(o, "usage", usage_object(r));
	return o;
}

static enum MHD_Result handle_generate(struct server *srv, struct MHD_Connection *c,
				       struct conn *cs, bool chat)
{
	struct verr v = { 0 };
	struct json_object *req;
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	struct stream *s;
	const union MHD_ConnectionInfo *ci;
	struct jalrt_serve_params p = { 0 };
	enum MHD_Result ret;
	int err;

	if (cs->too_big)
		return send_error(srv, c, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error", NULL,
				  NULL, "the request body exceeds %u bytes", MAX_BODY);
	tok = json_tokener_new();
	if (!tok)
		return MHD_NO;
	req = json_tokener_parse_ex(tok, cs->body.data ? cs->body.data : "", (int)cs->body.len);
	jerr = json_tokener_get_error(tok);
	if (!req && jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	if (req && json_tokener_get_parse_end(tok) < cs->body.len) {
		const char *rest = cs->body.data + json_tokener_get_parse_end(tok);

		while (*rest == ' ' || *rest == '\n' || *rest == '\r' || *rest == '\t')
			rest++;
		if (*rest) {
			json_object_put(req);
			req = NULL;
			jerr = json_tokener_error_parse_unexpected;
		}
	}
	json_tokener_free(tok);
	if (!req)
		return send_error(srv, c, MHD_HTTP_BAD_REQUEST, "invalid_request_error", NULL, NULL,
				  "We could not parse the JSON body of your request (%s)",
				  json_tokener_error_desc(jerr));

	s = calloc(1, sizeof(*s));
	if (!s) {
		json_object_put(req);
		return MHD_NO;
	}
	s->srv = srv;
	s->fd = -1;
	s->g.chat = chat;
	s->g.temperature = 1.0;
	s->g.top_p = 1.0;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (parse_gen(srv, req, &s->g, &v)) {
		json_object_put(req);
		stream_free(s);
		return send_json(srv, c, v.status,
				 error_object(v.status >= 500 ? "server_error" : "invalid_request_error",
					      v.param, v.code, v.msg));
	}
	snprintf(s->g.id, sizeof(s->g.id), "%s-%016" PRIx64, chat ? "chatcmpl" : "cmpl",
		 (uint64_t)atomic_fetch_add(&srv->next_id, 1));
	s->g.created = time(NULL);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		s->fd = ci->connect_fd;

	p.prompt = s->g.prompt;
	p.n_prompt = s->g.n_prompt;
	p.max_tokens = s->g.max_tokens;
	p.temperature = (float)s->g.temperature;
	p.top_p = (float)s->g.top_p;
	p.seed = s->g.seed;
	p.stop = s->g.stop;
	p.n_stop = s->g.n_stop;
	p.on_event = on_event;
	p.opaque = s;
	err = jalrt_serve_submit(srv->engine, &p, &s->req);
	/* The stop strings point into the request's JSON: the engine copied them. */
	json_object_put(req);
	memset(s->g.stop, 0, sizeof(s->g.stop));
	if (err) {
		stream_free(s);
		if (err == -EAGAIN)
			return send_error(srv, c, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limit_error", NULL,
					  "rate_limit_exceeded",
					  "the server's queue is full; retry later");
		if (err == -ESHUTDOWN)
			return send_error(srv, c, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", NULL,
					  NULL, "the server is shutting down");
		return send_error(srv, c, err == -ENOMEM ? 500 : 400,
				  err == -ENOMEM ? "server_error" : "invalid_request_error", NULL,
				  NULL, "cannot submit the request: %s", jalrt_strerror(err));
	}

	if (s->g.stream) {
		struct MHD_Response *resp;

		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s,
							 stream_read_free);
		if (!resp) {
			stream_free(s);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		if (ret == MHD_YES) {
			pthread_mutex_lock(&srv->lock);
			srv->by_status[200]++;
			pthread_mutex_unlock(&srv->lock);
		}
		return ret;
	}

	/* Not streamed: wait here (this connection's thread) for the end. */
	pthread_mutex_lock(&s->lock);
	while (!s->done) {
		size_t have = s->text.len;
		int have_tok = s->n_tokens;

		if (!wait_news(s, have, have_tok)) {
			pthread_mutex_unlock(&s->lock);
			stream_free(s);
			return MHD_NO;	/* the client is gone: close */
		}
	}
	pthread_mutex_unlock(&s->lock);
	{
		struct jalrt_serve_result r;
		size_t len = 0;
		const char *text;

		jalrt_serve_result(s->req, &r);
		if (r.finish == JALRT_SERVE_FINISH_ERROR) {
			ret = send_error(srv, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error", NULL,
					 NULL, "the generation failed: %s", jalrt_strerror(r.error));
		} else {
			text = jalrt_serve_text(s->req, &len);
			ret = send_json(srv, c, MHD_HTTP_OK, completion_body(s, text, len, &r));
		}
	}
	stream_free(s);
	return ret;
}

/* ---- other endpoints ----------------------------------------------------- */

static struct json_object *model_object(struct server *srv)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "id", json_object_new_string(srv->model_id));
	json_object_object_add(m, "object", json_object_new_string("model"));
	json_object_object_add(m, "created", json_object_new_int64(srv->started));
	json_object_object_add(m, "owned_by", json_object_new_string("jalapeno"));
	json_object_object_add(m, "max_model_len", json_object_new_int(srv->ctx));
	return m;
}

static enum MHD_Result handle_metrics(struct server *srv, struct MHD_Connection *c)
{
	static const char *const finishes[] = { "stop", "length", "cancelled", "error" };
	struct jalrt_serve_stats st;
	struct buf b = { 0 };
	uint64_t by_status[600], disconnects;
	enum MHD_Result ret;
	unsigned int i;

	jalrt_serve_engine_stats(srv->engine, &st);
	pthread_mutex_lock(&srv->lock);
	memcpy(by_status, srv->by_status, sizeof(by_status));
	disconnects = srv->disconnects;
	pthread_mutex_unlock(&srv->lock);

#define HELP(name, type, help) buf_printf(&b, "# HELP " name " " help "\n# TYPE " name " " type "\n")
	HELP("jalrt_serve_http_requests_total", "counter", "HTTP responses sent, by status code.");
	for (i = 100; i < 600; i++)
		if (by_status[i])
			buf_printf(&b, "jalrt_serve_http_requests_total{code=\"%u\"} %" PRIu64 "\n",
				   i, by_status[i]);
	HELP("jalrt_serve_requests_total", "counter",
	     "Generation requests ended, by finish reason (cancelled: client gone).");
	for (i = 0; i < 4; i++)
		buf_printf(&b, "jalrt_serve_requests_total{finish=\"%s\"} %" PRIu64 "\n",
			   finishes[i], st.finished[JALRT_SERVE_FINISH_STOP + i]);
	HELP("jalrt_serve_requests_rejected_total", "counter",
	     "Generation requests refused with 429 (queue full).");
	buf_printf(&b, "jalrt_serve_requests_rejected_total %" PRIu64 "\n", st.rejected_full);
	HELP("jalrt_serve_client_disconnects_total", "counter",
	     "Clients that went away before their response ended.");
	buf_printf(&b, "jalrt_serve_client_disconnects_total %" PRIu64 "\n", disconnects);
	HELP("jalrt_serve_prompt_tokens_total", "counter", "Prompt tokens of requests that ran.");
	buf_printf(&b, "jalrt_serve_prompt_tokens_total %" PRIu64 "\n", st.prompt_tokens);
	HELP("jalrt_serve_generation_tokens_total", "counter", "Tokens generated.");
	buf_printf(&b, "jalrt_serve_generation_tokens_total %" PRIu64 "\n", st.completion_tokens);
	HELP("jalrt_serve_decode_seconds_total", "counter",
	     "Time the batched steps took (host clock, round trips included).");
	buf_printf(&b, "jalrt_serve_decode_seconds_total %.6f\n", st.decode_ns / 1e9);
	HELP("jalrt_serve_tokens_per_second", "gauge",
	     "Decode rate of the last finished request (tokens after the first over their time).");
	buf_printf(&b, "jalrt_serve_tokens_per_second %.3f\n", st.last_tokens_per_second);
	HELP("jalrt_serve_throughput_tokens_per_second", "gauge",
	     "Aggregate decode rate: tokens generated over the time the engine was busy.");
	buf_printf(&b, "jalrt_serve_throughput_tokens_per_second %.3f\n", st.tokens_per_second);
	HELP("jalrt_serve_busy_seconds_total", "counter", "Time the engine had requests to run.");
	buf_printf(&b, "jalrt_serve_busy_seconds_total %.6f\n", st.busy_ns / 1e9);
	HELP("jalrt_serve_queue_length", "gauge", "Requests waiting to run (preempted ones included).");
	buf_printf(&b, "jalrt_serve_queue_length %u\n", st.queued);
	HELP("jalrt_serve_queue_limit", "gauge", "Waiting requests beyond which submits get 429.");
	buf_printf(&b, "jalrt_serve_queue_limit %u\n", st.max_queue);
	HELP("jalrt_serve_running_sequences", "gauge", "Sequences in the batch now.");
	buf_printf(&b, "jalrt_serve_running_sequences %u\n", st.running);
	HELP("jalrt_serve_max_running_sequences", "gauge", "The engine's limit of running sequences (--parallel).");
	buf_printf(&b, "jalrt_serve_max_running_sequences %u\n", st.parallel);
	HELP("jalrt_serve_step_max_rows", "gauge", "The row budget of a step (--max-rows).");
	buf_printf(&b, "jalrt_serve_step_max_rows %u\n", st.max_rows);
	HELP("jalrt_serve_kv_blocks_used", "gauge", "KV cache blocks held by running sequences.");
	buf_printf(&b, "jalrt_serve_kv_blocks_used %d\n", st.kv_blocks_used);
	HELP("jalrt_serve_kv_blocks_free", "gauge", "KV cache blocks free.");
	buf_printf(&b, "jalrt_serve_kv_blocks_free %d\n", st.kv_blocks_total - st.kv_blocks_used);
	HELP("jalrt_serve_kv_cache_bytes", "gauge",
	     "Bytes of the KV cache pool (--kv-type: 2 an element for bf16, 4 for f32).");
	buf_printf(&b, "jalrt_serve_kv_cache_bytes %" PRIu64 "\n", st.kv_bytes);
	HELP("jalrt_serve_kv_cache_info", "gauge", "The KV cache's element type (--kv-type).");
	buf_printf(&b, "jalrt_serve_kv_cache_info{dtype=\"%s\"} 1\n",
		   st.kv_dtype == JAL_DTYPE_BF16 ? "bf16" : "f32");
	HELP("jalrt_serve_kv_block_size", "gauge", "Positions per KV cache block.");
	buf_printf(&b, "jalrt_serve_kv_block_size %u\n", st.block_size);
	HELP("jalrt_serve_kv_positions_used", "gauge", "Positions stored by running sequences.");
	buf_printf(&b, "jalrt_serve_kv_positions_used %d\n", st.kv_used);
	HELP("jalrt_serve_preemptions_total", "counter",
	     "Sequences preempted for KV blocks (recomputed later).");
	buf_printf(&b, "jalrt_serve_preemptions_total %" PRIu64 "\n", st.preemptions);
	HELP("jalrt_serve_preempted_sequences", "gauge", "Preempted requests waiting to run again.");
	buf_printf(&b, "jalrt_serve_preempted_sequences %u\n", st.preempted);
	HELP("jalrt_serve_steps_total", "counter", "Batched steps run.");
	buf_printf(&b, "jalrt_serve_steps_total %" PRIu64 "\n", st.steps);
	HELP("jalrt_serve_jobs_total", "counter",
	     "Chip jobs run: one per step, or one per decode loop (--decode-steps).");
	buf_printf(&b, "jalrt_serve_jobs_total %" PRIu64 "\n", st.jobs);
	HELP("jalrt_serve_step_rows", "histogram", "Rows per step (decode rows and prompt-chunk rows).");
	for (i = 0; i < JALRT_SERVE_STEP_BUCKETS; i++)
		buf_printf(&b, "jalrt_serve_step_rows_bucket{le=\"%u\"} %" PRIu64 "\n",
			   jalrt_serve_step_bounds[i], st.step_rows[i]);
	buf_printf(&b, "jalrt_serve_step_rows_bucket{le=\"+Inf\"} %" PRIu64 "\n",
		   st.step_rows[JALRT_SERVE_STEP_BUCKETS]);
	buf_printf(&b, "jalrt_serve_step_rows_sum %" PRIu64 "\n", st.step_rows_sum);
	buf_printf(&b, "jalrt_serve_step_rows_count %" PRIu64 "\n", st.step_rows[JALRT_SERVE_STEP_BUCKETS]);
	HELP("jalrt_serve_step_sequences", "histogram", "Sequences per step (the batch size).");
	for (i = 0; i < JALRT_SERVE_STEP_BUCKETS; i++)
		buf_printf(&b, "jalrt_serve_step_sequences_bucket{le=\"%u\"} %" PRIu64 "\n",
			   jalrt_serve_step_bounds[i], st.step_seqs[i]);
	buf_printf(&b, "jalrt_serve_step_sequences_bucket{le=\"+Inf\"} %" PRIu64 "\n",
		   st.step_seqs[JALRT_SERVE_STEP_BUCKETS]);
	buf_printf(&b, "jalrt_serve_step_sequences_sum %" PRIu64 "\n", st.step_seqs_sum);
	buf_printf(&b, "jalrt_serve_step_sequences_count %" PRIu64 "\n", st.step_seqs[JALRT_SERVE_STEP_BUCKETS]);
	HELP("jalrt_serve_step_max_sequences", "gauge", "Most sequences in one step so far.");
	buf_printf(&b, "jalrt_serve_step_max_sequences %u\n", st.max_step_seqs);
	HELP("jalrt_serve_step_device_seconds_total", "counter", "The steps' time on the chip (device clock).");
	buf_printf(&b, "jalrt_serve_step_device_seconds_total %.6f\n", st.step_device_ns / 1e9);
	HELP("jalrt_serve_step_host_seconds_total", "counter",
	     "The steps' host<->chip overhead (rows written, submit, completion, tokens read).");
	buf_printf(&b, "jalrt_serve_step_host_seconds_total %.6f\n", st.step_host_ns / 1e9);
	HELP("jalrt_serve_schedule_seconds_total", "counter",
	     "The engine's own time around the steps (planning, detokenizing, streaming).");
	buf_printf(&b, "jalrt_serve_schedule_seconds_total %.6f\n", st.sched_ns / 1e9);
	HELP("jalrt_serve_time_to_first_token_seconds", "histogram",
	     "From submit to the first generated token.");
	for (i = 0; i < JALRT_SERVE_TTFT_BUCKETS; i++)
		buf_printf(&b, "jalrt_serve_time_to_first_token_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			   jalrt_serve_ttft_bounds[i], st.ttft_count[i]);
	buf_printf(&b, "jalrt_serve_time_to_first_token_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
		   st.ttft_count[JALRT_SERVE_TTFT_BUCKETS]);
	buf_printf(&b, "jalrt_serve_time_to_first_token_seconds_sum %.6f\n", st.ttft_sum_ns / 1e9);
	buf_printf(&b, "jalrt_serve_time_to_first_token_seconds_count %" PRIu64 "\n",
		   st.ttft_count[JALRT_SERVE_TTFT_BUCKETS]);
#undef HELP
	if (!b.data)
		return MHD_NO;
	ret = send_buf(srv, c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data,
		       b.len, NULL);
	free(b.data);
	return ret;
}

static bool authorized(struct server *srv, struct MHD_Connection *c)
{
	const char *h;
	size_t n;

	if (!srv->api_key)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(srv->api_key);
	return strlen(h) == n && !memcmp(h, srv->api_key, n);
}

static enum MHD_Result dispatch(struct server *srv, struct MHD_Connection *c, struct conn *cs,
				const char *url, const char *method)
{
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool post = !strcmp(method, MHD_HTTP_METHOD_POST);

	if (!strcmp(url, "/health")) {
		if (!get)
			goto not_allowed_get;
		if (atomic_load(&srv->draining))
			return send_buf(srv, c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
					"{\"status\":\"draining\"}\n", 21, NULL);
		return send_buf(srv, c, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}\n", 16,
				NULL);
	}
	if (!strcmp(url, "/metrics")) {
		if (!get)
			goto not_allowed_get;
		return handle_metrics(srv, c);
	}
	if (strncmp(url, "/v1/", 4))
		goto not_found;
	if (!authorized(srv, c))
		return send_error(srv, c, MHD_HTTP_UNAUTHORIZED, "invalid_request_error", NULL,
				  "invalid_api_key",
				  "Incorrect or missing API key: send \"Authorization: Bearer <key>\"");
	if (!strcmp(url, "/v1/completions") || !strcmp(url, "/v1/chat/completions")) {
		if (!post)
			return send_error(srv, c, MHD_HTTP_METHOD_NOT_ALLOWED,
					  "invalid_request_error", NULL, "method_not_allowed",
					  "%s is not allowed on %s (use POST)", method, url);
		return handle_generate(srv, c, cs, url[4] == 'c' && url[5] == 'h');
	}
	if (!strcmp(url, "/v1/models")) {
		struct json_object *list, *data;

		if (!get)
			goto not_allowed_get;
		list = json_object_new_object();
		data = json_object_new_array();
		json_object_array_add(data, model_object(srv));
		json_object_object_add(list, "object", json_object_new_string("list"));
		json_object_object_add(list, "data", data);
		return send_json(srv, c, MHD_HTTP_OK, list);
	}
	if (!strncmp(url, "/v1/models/", 11)) {
		if (!get)
			goto not_allowed_get;
		if (strcmp(url + 11, srv->model_id))
			return send_error(srv, c, MHD_HTTP_NOT_FOUND, "invalid_request_error", "model",
					  "model_not_found", "The model '%s' does not exist",
					  url + 11);
		return send_json(srv, c, MHD_HTTP_OK, model_object(srv));
	}
not_found:
	return send_error(srv, c, MHD_HTTP_NOT_FOUND, "invalid_request_error", NULL, "unknown_url",
			  "Unknown request URL: %s %s", method, url);
not_allowed_get:
	return send_error(srv, c, MHD_HTTP_METHOD_NOT_ALLOWED, "invalid_request_error", NULL,
			  "method_not_allowed", "%s is not allowed on %s (use GET)", method, url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct conn *cs = *con_cls;

	(void)version;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return MHD_NO;
		cs->srv = srv;
		*con_cls = cs;
		pthread_mutex_lock(&srv->lock);
		srv->active++;
		pthread_mutex_unlock(&srv->lock);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (cs->body.len + *upload_data_size > MAX_BODY)
			cs->too_big = true;
		else if (buf_add(&cs->body, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return dispatch(srv, c, cs, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct conn *cs = *con_cls;

	(void)c;
	(void)toe;
	if (!cs)
		return;
	free(cs->body.data);
	free(cs);
	*con_cls = NULL;
	pthread_mutex_lock(&srv->lock);
	srv->active--;
	pthread_cond_broadcast(&srv->active_cond);
	pthread_mutex_unlock(&srv->lock);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("jalrt-serve: libmicrohttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ---- main ---------------------------------------------------------------- */

/* Binds and listens ourselves, for a clear message when the port is taken. */
static int listen_on(const char *host, long long port, char *where, size_t where_len)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	char addr[INET6_ADDRSTRLEN];
	int fd, one = 1;

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
	} else {
		usage_error("--host takes a numeric IPv4 or IPv6 address, not", host);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("jalrt-serve: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
		fprintf(stderr, "jalrt-serve: cannot listen on %s port %lld: %s%s\n", host, port,
			strerror(errno),
			errno == EADDRINUSE ? " (another server uses it: choose one with --port)" : "");
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6)
		snprintf(where, where_len, "[%s]:%u",
			 inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr)),
			 ntohs(sin6->sin6_port));
	else
		snprintf(where, where_len, "%s:%u",
			 inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr)),
			 ntohs(sin->sin_port));
	return fd;
}

static char *default_model_id(const char *path)
{
	const char *base = strrchr(path, '/');
	char *id = strdup(base ? base + 1 : path);
	size_t n;

	if (!id)
		return NULL;
	n = strlen(id);
	if (n > 4 && !strcmp(id + n - 4, ".bin"))
		id[n - 4] = '\0';
	else if (n > 5 && !strcmp(id + n - 5, ".gguf"))
		id[n - 5] = '\0';
	return id;
}

/* The command line, as parsed. */
struct serve_args {
	const char *checkpoint, *host, *model_name, *step_gate;
	long long port, parallel, queue, ctx, device, delay;
	long long max_rows, kv_blocks, kv_mib, block_size, decode_steps;
	struct jalrt_llm_options opts;
	bool precision_given;
	unsigned int kv_dtype;
	struct run_flags rf;
};

/* The options that take a number: one table, with their ranges. */
static long long *number_option(struct serve_args *a, const char *opt, long long *lo,
				long long *hi)
{
	const struct {
		const char *name;
		size_t offset;
		long long lo, hi;
	} nums[] = {
		{ "--port", offsetof(struct serve_args, port), 0, 65535 },
		{ "--parallel", offsetof(struct serve_args, parallel), 1, 4096 },
		{ "--max-rows", offsetof(struct serve_args, max_rows), 1, 65536 },
		{ "--kv-blocks", offsetof(struct serve_args, kv_blocks), 1, 1 << 24 },
		{ "--kv-mib", offsetof(struct serve_args, kv_mib), 1, 1 << 20 },
		{ "--block-size", offsetof(struct serve_args, block_size), 1, 65536 },
		{ "--decode-steps", offsetof(struct serve_args, decode_steps), 1,
		  JALRT_LLM_BATCH_MAX_STEPS },
		{ "--queue", offsetof(struct serve_args, queue), 1, 1 << 20 },
		{ "--ctx", offsetof(struct serve_args, ctx), 2, INT_MAX },
		{ "--device", offsetof(struct serve_args, device), 0, INT_MAX },
		{ "--token-delay-us", offsetof(struct serve_args, delay), 0, 10000000 },
	};
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (strcmp(opt, nums[i].name))
			continue;
		*lo = nums[i].lo;
		*hi = nums[i].hi;
		return (long long *)((char *)a + nums[i].offset);
	}
	return NULL;
}

/* An option with a value other than a number; false if @opt is none of them. */
static bool text_option(struct serve_args *a, struct server *srv, const char *opt,
			const char *arg)
{
	enum jalrt_precision precision;

	if (!strcmp(opt, "--precision")) {
		if (jalrt_precision_parse(arg, &precision))
			usage_error("unknown precision (f32, bf16, int8, sparse, int4)", arg);
		a->opts.precision = precision;
		a->precision_given = true;
	} else if (!strcmp(opt, "--kv-type")) {
		if (!strcmp(arg, "f32"))
			a->kv_dtype = JAL_DTYPE_F32;
		else if (!strcmp(arg, "bf16"))
			a->kv_dtype = JAL_DTYPE_BF16;
		else
			usage_error("unknown KV cache type (f32, bf16)", arg);
	} else if (!strcmp(opt, "--host")) {
		a->host = arg;
	} else if (!strcmp(opt, "--step-gate")) {
		a->step_gate = arg;
	} else if (!strcmp(opt, "--api-key")) {
		if (!*arg)
			usage_error("--api-key needs a non-empty key", NULL);
		srv->api_key = arg;
	} else if (!strcmp(opt, "--model-name")) {
		if (!*arg || strchr(arg, '/'))
			usage_error("--model-name needs a name without '/'", arg);
		a->model_name = arg;
	} else {
		return false;
	}
	return true;
}

static void parse_args(int argc, char **argv, struct serve_args *a, struct server *srv)
{
	int i;

	*a = (struct serve_args){
		.host = "127.0.0.1", .port = 8080, .parallel = 16, .queue = 64,
		.decode_steps = 1,
	};
	if (argc < 2 || argv[1][0] == '-')
		usage_error(argc < 2 ? NULL : "the checkpoint comes first", NULL);
	a->checkpoint = argv[1];
	run_flags_init(&a->rf);
	for (i = 2; i < argc; i++) {
		const char *opt = argv[i], *arg;
		long long *num, lo, hi;

		if (!strcmp(opt, "--host-memory")) {
			a->opts.flags |= JALRT_LLM_HOST_MEMORY;
			continue;
		}
		if (!strcmp(opt, "-z")) {
			run_flags_parse(&a->rf, argc, argv, &i, usage_error);
			continue;
		}
		if (strncmp(opt, "--", 2)) {
			if (strlen(opt) == 2 && strchr("tpsnim", opt[1]))
				usage_error("generation parameters are per request here, not a flag", opt);
			usage_error("unknown option", opt);
		}
		if (i + 1 >= argc)
			usage_error("missing value for", opt);
		arg = argv[++i];
		if (text_option(a, srv, opt, arg))
			continue;
		num = number_option(a, opt, &lo, &hi);
		if (!num)
			usage_error("unknown option", opt);
		*num = run_parse_ll(opt, arg, usage_error);
		if (*num < lo || *num > hi)
			usage_error("value out of range for", opt);
	}
}

/* Opens the device and loads the model; exits with a message on failure. */
static struct jalrt_device *load_model(const struct serve_args *a, struct server *srv,
				       struct jalrt_llm_info *info)
{
	struct jalrt_llm_options opts = a->opts;
	enum jalrt_precision precision;
	struct jalrt_device *dev;
	int ret;

	/* a quantised file serves its own values unless told otherwise */
	if (!a->precision_given) {
		ret = jalrt_llm_file_precision(a->checkpoint, &precision);
		if (ret)
			die("cannot read the model", ret);
		opts.precision = precision;
	}
	/* requests are at most --ctx positions long: so is the model's own cache */
	opts.ctx = (uint32_t)a->ctx;
#ifdef JALRT_SERVE_SIM
	ret = sim_open(256ull << 20, true, &dev);
#else
	ret = jalrt_device_open((unsigned int)a->device, &dev);
#endif
	if (ret)
		die("cannot open the device", ret);
	/* -z's, else a GGUF model's own vocabulary, else tokenizer.bin */
	ret = jalrt_llm_load(dev, a->checkpoint, run_flags_tokenizer(&a->rf, a->checkpoint),
			     &opts, &srv->llm);
	if (ret)
		die("cannot load the model", ret);
	jalrt_llm_query(srv->llm, info);
	if (a->ctx > info->seq_len) {
		fprintf(stderr, "jalrt-serve: --ctx %lld exceeds the model's context, %d\n", a->ctx,
			info->seq_len);
		exit(EXIT_FAILURE);
	}
	srv->ctx = a->ctx ? (int)a->ctx : info->seq_len;
	srv->vocab_size = info->vocab_size;
	srv->model_id = a->model_name ? strdup(a->model_name) : default_model_id(a->checkpoint);
	if (!srv->model_id)
		die("out of memory", -ENOMEM);
	return dev;
}

static void start_engine(const struct serve_args *a, struct server *srv)
{
	struct jalrt_serve_options eo = {
		.parallel = (unsigned int)a->parallel,
		.max_queue = (unsigned int)a->queue,
		.ctx = srv->ctx,
		.token_delay_us = (unsigned int)a->delay,
		.step_gate_fd = a->step_gate ? open_step_gate(a->step_gate) : 0,
		.max_rows = (unsigned int)a->max_rows,
		.kv_blocks = (unsigned int)a->kv_blocks,
		.kv_bytes = (uint64_t)a->kv_mib << 20,
		.block_size = (unsigned int)a->block_size,
		.decode_steps = (unsigned int)a->decode_steps,
		.kv_dtype = a->kv_dtype,
	};
	int ret = jalrt_serve_engine_create(srv->llm, &eo, &srv->engine);

	if (ret)
		die("cannot start the engine", ret);
}

static struct MHD_Daemon *start_http(struct server *srv, int fd, const char *where)
{
	struct MHD_Daemon *d;

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     on_request, srv,
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd,
			     MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)300,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "jalrt-serve: cannot start the HTTP server on %s\n", where);
		exit(EXIT_FAILURE);
	}
	return d;
}

static void print_listening(const struct server *srv, const struct jalrt_llm_info *info,
			    const char *where, long long queue)
{
	struct jalrt_serve_stats est;

	jalrt_serve_engine_stats(srv->engine, &est);
	fprintf(stderr,
		"jalrt-serve: listening on http://%s (model %s: %d layers, dim %d, vocab %d, ctx %d, %s weights in %s memory; %u running, %u rows a step, %d %s KV blocks of %u, queue %lld%s)\n",
		where, srv->model_id, info->n_layers, info->dim, info->vocab_size, srv->ctx,
		jalrt_precision_name(info->precision), info->in_vram ? "device" : "host",
		est.parallel, est.max_rows, est.kv_blocks_total,
		est.kv_dtype == JAL_DTYPE_BF16 ? "bf16" : "f32", est.block_size, queue,
		srv->api_key ? ", API key required" : "");
}

/*
 * SIGTERM or SIGINT: no new connections, the accepted requests finish (up
 * to DRAIN_TIMEOUT_MS for their responses to be sent), then everything stops.
 */
static void drain(struct server *srv, struct MHD_Daemon *d, int sig)
{
	struct timespec until;
	int fd;

	fprintf(stderr, "jalrt-serve: %s: draining (no new connections; finishing accepted requests)\n",
		strsignal(sig));
	atomic_store(&srv->draining, true);
	fd = MHD_quiesce_daemon(d);
	if (fd >= 0)
		close(fd);
	jalrt_serve_engine_shutdown(srv->engine, true);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DRAIN_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&srv->lock);
	while (srv->active &&
	       pthread_cond_timedwait(&srv->active_cond, &srv->lock, &until) != ETIMEDOUT)
		;
	if (srv->active)
		fprintf(stderr, "jalrt-serve: %u responses still open after %d s: closing them\n",
			srv->active, DRAIN_TIMEOUT_MS / 1000);
	pthread_mutex_unlock(&srv->lock);
	MHD_stop_daemon(d);
}

int main(int argc, char **argv)
{
	struct jalrt_llm_info info;
	struct server srv = { 0 };
	struct serve_args a;
	struct jalrt_device *dev;
	struct MHD_Daemon *d;
	char where[96];
	sigset_t sigs;
	int fd, sig;

	parse_args(argc, argv, &a, &srv);
	signal(SIGPIPE, SIG_IGN);
	dev = load_model(&a, &srv, &info);
	srv.started = time(NULL);
	srand((unsigned int)time(NULL) ^ (unsigned int)getpid());
	atomic_store(&srv.next_id, ((uint64_t)rand() << 32) ^ (uint64_t)time(NULL) << 8);
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.active_cond, NULL);

	/* Signals go to sigwait() below, not to any thread. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	fd = listen_on(a.host, a.port, where, sizeof(where));
	if (fd < 0)
		return EXIT_FAILURE;
	start_engine(&a, &srv);
	d = start_http(&srv, fd, where);
	print_listening(&srv, &info, where, a.queue);
	while (sigwait(&sigs, &sig))
		;
	drain(&srv, d, sig);

	jalrt_serve_engine_destroy(srv.engine);
	jalrt_llm_destroy(srv.llm);
	jalrt_device_close(dev);
	pthread_cond_destroy(&srv.active_cond);
	pthread_mutex_destroy(&srv.lock);
	free((char *)srv.model_id);
	fprintf(stderr, "jalrt-serve: stopped\n");
	return EXIT_SUCCESS;
}
