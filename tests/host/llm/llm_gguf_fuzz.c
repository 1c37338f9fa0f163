// SPDX-License-Identifier: MIT
/*
 * A bounded random-mutation fuzz harness of the GGUF reader and the llama
 * model loader: seeded, replayable, no crash allowed (build with
 * `make SANITIZE=1` for ASan/UBSan to check every access too).
 *
 * Base files: llama models written by the library (F32, Q8_0 and F16, one
 * with a vocabulary) and a hand-made file with every metadata value type
 * and the Q4_0/Q4_K/Q6_K/BF16 tensor types. Each iteration takes one base,
 * applies 1-8 mutations (bit flips, interesting byte/u32/u64 values mostly
 * in the header, metadata and tensor infos, truncation, extension, chunk
 * copies), then parses an exact-size heap copy and, when that succeeds,
 * walks everything: every key through every typed getter, string arrays,
 * every tensor looked up and converted, the model loader and vocabulary.
 *
 *   JAL_FUZZ_SEED=S     seed (default 1)
 *   JAL_FUZZ_ITERS=N    iterations (default 3000)
 *   JAL_FUZZ_ONLY=I     replay iteration I alone
 *
 * An iteration's mutations depend only on (seed, iteration), so a failure
 * replays with the seed and iteration the test prints (also when the
 * process dies: a signal handler and the sanitizers' death callback print
 * them).
 */
#include <signal.h>

#include "kselftest_harness.h"
#include "llm_test_util.h"

#include "gguf-model.h"

static uint64_t fuzz_seed = 1;
static volatile long fuzz_iter = -1;

static void say_where(void)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg),
			 "\nllm_gguf_fuzz: died in iteration %ld; replay: JAL_FUZZ_SEED=%llu JAL_FUZZ_ONLY=%ld\n",
			 fuzz_iter, (unsigned long long)fuzz_seed, fuzz_iter);

	if (n > 0 && write(2, msg, (size_t)n) < 0)
		return;
}

static void on_signal(int sig)
{
	say_where();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The sanitizers call this before they exit, if linked in. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct base {
	uint8_t *data;
	size_t size;
	size_t meta_end;	/* header, metadata and tensor infos end here */
};

/* A tokenizer.bin of @n tokens in memory, parsed. */
static struct llm_tokenizer *small_tokenizer(int n)
{
	uint8_t buf[4096], *p = buf;
	struct llm_tokenizer *tok = NULL;
	uint32_t max = 8;
	int i;

	memcpy(p, &max, 4);
	p += 4;
	for (i = 0; i < n; i++) {
		char s[16];
		float score = (float)(i % 7) - 3.0f;
		uint32_t len = (uint32_t)snprintf(s, sizeof(s), i < 3 ? "" : i % 2 ? " t%d" : "<0x%02X>",
						  i);

		memcpy(p, &score, 4);
		memcpy(p + 4, &len, 4);
		memcpy(p + 8, s, len);
		p += 8 + len;
	}
	if (llm_tokenizer_parse(buf, (size_t)(p - buf), n, &tok))
		return NULL;
	return tok;
}

static int load_base(const char *path, struct base *b)
{
	struct gguf_file *g = NULL;

	b->data = llm_read_file(path, &b->size);
	if (!b->data || gguf_parse(b->data, b->size, &g))
		return -1;
	b->meta_end = g->data_offset;
	gguf_close(g);
	return 0;
}

/* A file with every value type and the quantised tensor types. */
static int write_misc(const char *path)
{
	struct gguf_writer *w = gguf_writer_create(32);
	const float f[3] = { 1.5f, -2.0f, 0.0f };
	const int32_t i32[2] = { -7, 9 };
	const char *strs[2] = { "a", "\xe2\x96\x81" "bc" };
	const uint64_t lens[2] = { 1, 5 };
	static const struct { const char *name; uint32_t type; uint64_t d0, d1; } t[] = {
		{ "q40", GGML_TYPE_Q4_0, 64, 2 },
		{ "q4k", GGML_TYPE_Q4_K, 256, 1 },
		{ "q6k", GGML_TYPE_Q6_K, 256, 2 },
		{ "bf", GGML_TYPE_BF16, 8, 3 },
		{ "h", GGML_TYPE_F16, 5, 1 },
		{ "q80", GGML_TYPE_Q8_0, 32, 1 },
	};
	uint8_t data[2048];
	FILE *fp;
	size_t i;
	int ret;

	if (!w)
		return -1;
	ret = gguf_writer_str(w, "general.architecture", "llama") ||
	      gguf_writer_u32(w, "u32", 5) || gguf_writer_f32(w, "f32", 0.25f) ||
	      gguf_writer_bool(w, "b", true) ||
	      gguf_writer_array(w, "fa", GGUF_VAL_FLOAT32, f, 3) ||
	      gguf_writer_array(w, "ia", GGUF_VAL_INT32, i32, 2) ||
	      gguf_writer_str_array(w, "sa", strs, lens, 2);
	for (i = 0; i < sizeof(t) / sizeof(t[0]) && !ret; i++) {
		uint64_t dims[2] = { t[i].d0, t[i].d1 };

		ret = gguf_writer_tensor(w, t[i].name, t[i].type, 2, dims);
	}
	fp = fopen(path, "wb");
	if (ret || !fp)
		return -1;
	ret = gguf_writer_begin(w, fp);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 131 + 7);
	for (i = 0; i < sizeof(t) / sizeof(t[0]) && !ret; i++)
		ret = gguf_writer_data(w, fp, data, gguf_tensor_bytes(t[i].type, t[i].d0 * t[i].d1));
	fclose(fp);
	gguf_writer_destroy(w);
	return ret;
}

static const uint64_t interesting[] = {
	0, 1, 2, 3, 4, 7, 8, 12, 31, 32, 33, 63, 64, 127, 128, 255, 256, 4096, 65535, 65536,
	0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull, 0x7fffffffffffffffull,
	0x8000000000000000ull, 0xffffffffffffffffull, 0xfffffffffffffff0ull,
};

#define N_INTERESTING (sizeof(interesting) / sizeof(interesting[0]))

/* Mutate @buf (of @size, capacity @cap) in place; returns the new size. */
static size_t mutate(uint8_t *buf, size_t size, size_t cap, size_t meta_end, uint64_t *rng)
{
	int n = 1 + (int)(splitmix(rng) % 8), k;

	for (k = 0; k < n && size > 0; k++) {
		uint64_t r = splitmix(rng);
		/* mostly in the parsed part, sometimes anywhere */
		size_t span = (r & 7) ? (meta_end < size ? meta_end : size) : size;
		size_t pos = (size_t)(splitmix(rng) % span);
		uint64_t v = interesting[splitmix(rng) % N_INTERESTING];

		switch ((r >> 3) % 9) {
		case 0:
		case 1:
			buf[pos] ^= (uint8_t)(1u << (splitmix(rng) % 8));
			break;
		case 2:
			buf[pos] = (uint8_t)v;
			break;
		case 3:
			if (pos + 4 <= size) {
				uint32_t x = (uint32_t)v;

				memcpy(buf + pos, &x, 4);
			}
			break;
		case 4:
			if (pos + 8 <= size)
				memcpy(buf + pos, &v, 8);
			break;
		case 5:
			/* nudge a little-endian u64 length or count */
			if (pos + 8 <= size) {
				uint64_t x;

				memcpy(&x, buf + pos, 8);
				x += (splitmix(rng) % 33) - 16;
				memcpy(buf + pos, &x, 8);
			}
			break;
		case 6:
			size = pos;		/* truncate */
			break;
		case 7:
			/* extend with random bytes */
			while (size < cap && (splitmix(rng) % 64))
				buf[size++] = (uint8_t)splitmix(rng);
			break;
		case 8: {
			/* copy a chunk over another place */
			size_t from = (size_t)(splitmix(rng) % size), len = 1 + splitmix(rng) % 32;

			if (from + len <= size && pos + len <= size)
				memmove(buf + pos, buf + from, len);
			break;
		}
		}
	}
	return size;
}

/* Touch everything a successfully parsed file offers. */
static void walk(struct gguf_file *g)
{
	uint64_t i;

	for (i = 0; i < g->n_kv; i++) {
		const struct gguf_kv *kv = &g->kv[i];
		char key[256];
		uint64_t u64, count;
		uint32_t u32, type;
		int64_t i64;
		float f;
		bool b;
		struct gguf_str s;
		const uint8_t *data;

		if (kv->key.len >= sizeof(key))
			continue;
		memcpy(key, kv->key.ptr, kv->key.len);
		key[kv->key.len] = '\0';
		if (gguf_find_kv(g, key) != kv)
			abort();	/* keys are unique: lookups find their own entry */
		gguf_get_u64(g, key, &u64);
		gguf_get_u32(g, key, &u32);
		gguf_get_i64(g, key, &i64);
		gguf_get_f32(g, key, &f);
		gguf_get_bool(g, key, &b);
		if (!gguf_get_str(g, key, &s) && s.len && (s.ptr[0] == 1 || s.ptr[s.len - 1] == 1))
			fuzz_iter += 0;	/* read both ends */
		if (!gguf_get_array(g, key, &type, &count, &data)) {
			if (type == GGUF_VAL_STRING) {
				struct gguf_str few[4];
				int64_t n = gguf_kv_array_strings(kv, few, 4);

				for (int64_t j = 0; j < n && j < 4; j++)
					if (few[j].len && few[j].ptr[few[j].len - 1] == 2)
						fuzz_iter += 0;
			} else if ((type == GGUF_VAL_FLOAT32 || type == GGUF_VAL_INT32) && count) {
				f = gguf_kv_array_f32(kv, count - 1);
				(void)gguf_kv_array_i32(kv, 0);
			}
		}
	}
	for (i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		char name[256];

		if (t->name.len < sizeof(name)) {
			memcpy(name, t->name.ptr, t->name.len);
			name[t->name.len] = '\0';
			if (!memchr(name, '\0', t->name.len) && gguf_find_tensor(g, name) != t)
				abort();
		}
		/* convert up to 4096 elements of each (whole blocks) */
		if (gguf_type_supported(t->type)) {
			uint64_t blk = gguf_type_block(t->type), n = t->elements < 4096 ? t->elements : 4096;
			float *out;

			n -= n % blk;
			out = malloc((n ? n : 1) * sizeof(float));
			if (out && gguf_dequantize(t->type, t->data, out, n))
				abort();	/* supported types and whole blocks convert */
			free(out);
		}
	}
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

LLM_TMPDIR_FIXTURE(fuzz)

TEST_F(fuzz, mutated_files_never_crash_the_reader_or_loader)
{
	struct llm_config c = {
		.dim = 32, .hidden_dim = 32, .n_layers = 1, .n_heads = 2, .n_kv_heads = 1,
		.vocab_size = 64, .seq_len = 8, .shared_classifier = false,
	};
	struct base bases[5];
	struct llm_checkpoint *ck = NULL;
	struct llm_tokenizer *tok = small_tokenizer(64);
	long iters = env_long("JAL_FUZZ_ITERS", 3000), only = env_long("JAL_FUZZ_ONLY", -1), i;
	long parsed = 0, loaded = 0, vocab = 0;
	size_t nb = 0, k;
	char path[128];

	fuzz_seed = (uint64_t)env_long("JAL_FUZZ_SEED", 1);
	signal(SIGSEGV, on_signal);
	signal(SIGBUS, on_signal);
	signal(SIGABRT, on_signal);
	signal(SIGFPE, on_signal);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(say_where);

	ASSERT_NE(NULL, tok);
	ASSERT_EQ(0, llm_checkpoint_random(&c, 3, &ck));
	for (k = 0; k < 3; k++) {
		struct llm_gguf_write_opts o = {
			.type = k == 0 ? GGML_TYPE_F32 : k == 1 ? GGML_TYPE_Q8_0 : GGML_TYPE_F16,
			.tokenizer = k == 1 ? tok : NULL,
		};

		snprintf(path, sizeof(path), "%s/b%zu.gguf", self->dir, k);
		ASSERT_EQ(0, llm_gguf_write_model(path, ck, &o));
		ASSERT_EQ(0, load_base(path, &bases[nb++]));
	}
	snprintf(path, sizeof(path), "%s/misc.gguf", self->dir);
	ASSERT_EQ(0, write_misc(path));
	ASSERT_EQ(0, load_base(path, &bases[nb++]));
	llm_checkpoint_close(ck);

	for (i = only >= 0 ? only : 0; i < (only >= 0 ? only + 1 : iters); i++) {
		uint64_t rng = fuzz_seed * 0x100000001b3ull ^ (uint64_t)i * 0x9e3779b97f4a7c15ull;
		const struct base *b = &bases[splitmix(&rng) % nb];
		size_t cap = b->size + 4096, size;
		uint8_t *work = malloc(cap), *exact;
		struct gguf_file *g = NULL;

		ASSERT_NE(NULL, work);
		fuzz_iter = i;
		memcpy(work, b->data, b->size);
		size = mutate(work, b->size, cap, b->meta_end, &rng);
		/* an exact-size copy, so that any read past the end is the sanitizer's */
		exact = malloc(size ? size : 1);
		ASSERT_NE(NULL, exact);
		memcpy(exact, work, size);
		free(work);
		if (!gguf_parse(exact, size, &g)) {
			struct llm_checkpoint *m = NULL;
			struct llm_tokenizer *t = NULL;

			parsed++;
			walk(g);
			if (!llm_tokenizer_from_gguf(g, 64, &t) && t)
				vocab++;
			llm_tokenizer_close(t);
			/* the loader takes the file over */
			if (!llm_checkpoint_from_gguf(g, &m)) {
				loaded++;
				llm_checkpoint_close(m);
				/* and checks alike without the f32 copy (jalrt_llm_load()'s way) */
				ASSERT_EQ(0, gguf_parse(exact, size, &g));
				ASSERT_EQ(0, llm_checkpoint_from_gguf_flags(g, LLM_CHECKPOINT_GGUF_TENSORS, &m));
				ASSERT_EQ(NULL, m->weights.wq);
				for (uint64_t t = 0; t < g->n_tensors; t++) {
					float *owned = NULL;
					const float *v = llm_gguf_tensor_f32(&g->tensors[t], &owned);

					if (v && g->tensors[t].elements && v[0] == 12345.0f)
						fuzz_iter += 0;
					free(owned);
				}
				llm_checkpoint_close(m);
			}
		} else {
			/* every failure explains itself */
			ASSERT_NE(0, strlen(llm_last_error_message())) TH_LOG("iteration %ld", i);
		}
		free(exact);
	}
	fuzz_iter = -1;
	TH_LOG("seed %llu: %ld files, %ld parsed, %ld loaded as models, %ld vocabularies",
	       (unsigned long long)fuzz_seed, only >= 0 ? 1 : iters, parsed, loaded, vocab);
	/* the mutations must leave some files valid, or they test nothing past the header */
	if (only < 0) {
		EXPECT_GT(parsed, iters / 20);
		EXPECT_GT(loaded, 0);
	}
	for (k = 0; k < nb; k++)
		free(bases[k].data);
	llm_tokenizer_close(tok);
}

TEST_HARNESS_MAIN
