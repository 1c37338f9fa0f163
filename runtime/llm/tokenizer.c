// SPDX-License-Identifier: MIT
/*
 * Tokenizers (see tokenizer.h): llama2.c's tokenizer.bin with the exact
 * rules of run.c, hardened against bad files; GGUF vocabularies, both
 * sentencepiece-style and byte-level BPE with a hand-written
 * pre-tokenizer; and the chat templates.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "tokenizer.h"
#include "unicode-tables.h"

/* Far beyond any real vocabulary; keeps a bad header from asking for GBs. */
#define LLM_TOKENIZER_MAX_TOKEN_LENGTH	65536
#define LLM_TOKENIZER_MAX_FILE_SIZE	(1u << 30)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/* Open-addressing map from a token's string to its (lowest) id. */
struct llm_str_map {
	int32_t *slot;		/* id, or -1 for empty */
	size_t mask;		/* capacity - 1, a power of two minus one */
};

/* A BPE merge: the pair (left, right) of ids becomes @result at @rank. */
struct llm_merge_slot {
	uint64_t key;		/* left << 32 | right; UINT64_MAX: empty */
	int32_t rank;
	int32_t result;
};

struct llm_tokenizer {
	enum llm_tokenizer_kind kind;
	enum llm_pretokenizer pre;
	int bos, eos, eot;
	bool no_bos;			/* add_bos_token false: LLM_ENCODE_BOS adds none */
	bool run_c;			/* tokenizer.bin: only BOS ends a text */
	bool no_prefix;			/* SPM add_space_prefix false: no dummy prefix */
	char *chat_template;		/* tokenizer.chat_template, or NULL */
	/* SPM from GGUF: byte_token[] from the <0xNN> tokens, not byte + 3 */
	bool spm_bytes_by_name;
	uint8_t *types;			/* enum llm_token_type each, or NULL */
	/* Control and user-defined ids, longest string first, for LLM_ENCODE_SPECIAL. */
	int *specials;
	int n_specials;
	uint8_t special_first[32];	/* bitmap of the specials' first bytes */
	struct llm_str_map map;		/* every token's string */
	/* BPE only */
	struct llm_merge_slot *merges;
	size_t merge_mask;
	int32_t *merge_pairs;		/* left, right of each rank (-1: a repeat) */
	int n_merges;
	char **pieces;			/* decoded bytes of each token */
	char *piece_strings;
	int byte_token[256];		/* BPE: each byte's character; SPM: <0xNN> */
	int vocab_size;
	int max_token_length;
	char **vocab;			/* NUL-terminated strings */
	size_t *vocab_len;		/* strlen() of each, for the merge loop */
	float *scores;
	char *strings;			/* storage behind vocab[] */
	/* Piece of raw byte b: byte_pieces[2 * b], NUL-terminated. */
	char byte_pieces[512];
};

void llm_tokenizer_close(struct llm_tokenizer *tok)
{
	if (!tok)
		return;
	free(tok->vocab);
	free(tok->vocab_len);
	free(tok->scores);
	free(tok->strings);
	free(tok->types);
	free(tok->specials);
	free(tok->map.slot);
	free(tok->merges);
	free(tok->merge_pairs);
	free(tok->chat_template);
	free(tok->pieces);
	free(tok->piece_strings);
	free(tok);
}

/* FNV-1a: simple, and good enough for token strings. */
static uint64_t llm_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* The id of the BPE token spelled @s[0..@len), or -1. */
static int llm_map_find(const struct llm_tokenizer *tok, const char *s, size_t len)
{
	size_t i = (size_t)llm_hash(s, len) & tok->map.mask;

	for (;; i = (i + 1) & tok->map.mask) {
		int32_t id = tok->map.slot[i];

		if (id < 0)
			return -1;
		if (tok->vocab_len[id] == len && !memcmp(tok->vocab[id], s, len))
			return id;
	}
}

/* The map of every token's string; the lowest id keeps a repeated one. */
static int llm_map_build(struct llm_tokenizer *tok)
{
	size_t cap = 16, k;
	int i;

	while (cap < 2 * (size_t)tok->vocab_size)
		cap *= 2;
	tok->map.slot = malloc(cap * sizeof(*tok->map.slot));
	if (!tok->map.slot)
		return -ENOMEM;
	memset(tok->map.slot, 0xff, cap * sizeof(*tok->map.slot));
	tok->map.mask = cap - 1;
	for (i = 0; i < tok->vocab_size; i++) {
		const char *t = tok->vocab[i];
		size_t len = tok->vocab_len[i];

		if (llm_map_find(tok, t, len) >= 0)
			continue;
		for (k = (size_t)llm_hash(t, len) & tok->map.mask; tok->map.slot[k] >= 0;
		     k = (k + 1) & tok->map.mask)
			;
		tok->map.slot[k] = i;
	}
	return 0;
}

/*
 * Walk the entries once to count them and size the string storage, so
 * that the second pass (which copies) cannot run off the data.
 */
static int llm_tokenizer_scan(const unsigned char *data, size_t size, int max_len,
			      int vocab_size, int *count_out, size_t *strings_out)
{
	size_t off = sizeof(int32_t), strings = 0;
	int count = 0;

	while (off < size && (vocab_size <= 0 || count < vocab_size)) {
		int32_t len;

		if (size - off < 2 * sizeof(int32_t))
			return llm_set_error(-EINVAL,
					     "tokenizer entry %d is truncated: %zu bytes left, its score and length need 8",
					     count, size - off);
		memcpy(&len, data + off + sizeof(float), sizeof(len));
		off += 2 * sizeof(int32_t);
		if (len < 0 || len > max_len)
			return llm_set_error(-EINVAL,
					     "tokenizer entry %d has length %d, outside 0..max_token_length %d",
					     count, (int)len, max_len);
		if (size - off < (size_t)len)
			return llm_set_error(-EINVAL,
					     "tokenizer entry %d is truncated: %d bytes of text, %zu left",
					     count, (int)len, size - off);
		off += (size_t)len;
		strings += (size_t)len + 1;
		if (count == INT_MAX)
			return llm_set_error(-EINVAL, "tokenizer has too many entries");
		count++;
	}
	if (vocab_size > 0 && count < vocab_size)
		return llm_set_error(-EINVAL,
				     "tokenizer ends after %d tokens, but the model's vocabulary has %d",
				     count, vocab_size);
	if (off != size)
		return llm_set_error(-EINVAL,
				     "tokenizer has %zu bytes after its %d tokens (a tokenizer for a larger vocabulary?)",
				     size - off, count);
	if (count == 0)
		return llm_set_error(-EINVAL, "tokenizer has no tokens");
	*count_out = count;
	*strings_out = strings;
	return 0;
}

int llm_tokenizer_parse(const void *data, size_t size, int vocab_size,
			struct llm_tokenizer **tok_out)
{
	const unsigned char *bytes = data;
	struct llm_tokenizer *tok;
	size_t strings_size = 0, off;
	int32_t max_len;
	char *str;
	int count = 0, i, ret;

	*tok_out = NULL;
	if (size < sizeof(int32_t))
		return llm_set_error(-EINVAL,
				     "tokenizer is %zu bytes, shorter than its 4-byte header", size);
	memcpy(&max_len, bytes, sizeof(max_len));
	if (max_len <= 0 || max_len > LLM_TOKENIZER_MAX_TOKEN_LENGTH)
		return llm_set_error(-EINVAL,
				     "tokenizer max_token_length is %d, outside 1..%d",
				     (int)max_len, LLM_TOKENIZER_MAX_TOKEN_LENGTH);
	ret = llm_tokenizer_scan(bytes, size, max_len, vocab_size, &count, &strings_size);
	if (ret)
		return ret;

	tok = calloc(1, sizeof(*tok));
	if (!tok)
		goto nomem;
	tok->vocab_size = count;
	tok->max_token_length = max_len;
	tok->vocab = calloc((size_t)count, sizeof(*tok->vocab));
	tok->vocab_len = calloc((size_t)count, sizeof(*tok->vocab_len));
	tok->scores = calloc((size_t)count, sizeof(*tok->scores));
	tok->strings = malloc(strings_size);
	if (!tok->vocab || !tok->vocab_len || !tok->scores || !tok->strings)
		goto nomem;

	off = sizeof(int32_t);
	str = tok->strings;
	for (i = 0; i < count; i++) {
		int32_t len;

		memcpy(&tok->scores[i], bytes + off, sizeof(float));
		memcpy(&len, bytes + off + sizeof(float), sizeof(len));
		off += 2 * sizeof(int32_t);
		memcpy(str, bytes + off, (size_t)len);
		str[len] = '\0';
		off += (size_t)len;
		tok->vocab[i] = str;
		/* A NUL inside the bytes ends the string, as in run.c. */
		tok->vocab_len[i] = strlen(str);
		str += len + 1;
	}
	if (llm_map_build(tok))
		goto nomem;
	for (i = 0; i < 256; i++) {
		tok->byte_pieces[2 * i] = (char)i;
		tok->byte_pieces[2 * i + 1] = '\0';
	}
	tok->kind = LLM_TOKENIZER_SPM;
	tok->run_c = true;
	tok->bos = LLM_TOKEN_BOS;
	tok->eos = LLM_TOKEN_EOS;
	tok->eot = -1;
	*tok_out = tok;
	return 0;

nomem:
	llm_tokenizer_close(tok);
	return llm_set_error(-ENOMEM, "out of memory loading a tokenizer of %d tokens", count);
}

int llm_tokenizer_open(const char *path, int vocab_size, struct llm_tokenizer **tok_out)
{
	struct stat st;
	size_t done = 0;
	char *buf;
	int fd, ret;

	*tok_out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return llm_set_error(ret, "cannot open tokenizer %s: %s", path, strerror(-ret));
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return llm_set_error(ret, "cannot stat tokenizer %s: %s", path, strerror(-ret));
	}
	if (!S_ISREG(st.st_mode) || st.st_size > LLM_TOKENIZER_MAX_FILE_SIZE) {
		close(fd);
		return llm_set_error(-EINVAL, "tokenizer %s is not a regular file of at most 1 GiB",
				     path);
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return llm_set_error(-ENOMEM, "out of memory reading tokenizer %s", path);
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			close(fd);
			free(buf);
			return llm_set_error(ret, "cannot read tokenizer %s: %s", path,
					     n < 0 ? strerror(-ret) : "file shrank while reading");
		}
		done += (size_t)n;
	}
	close(fd);
	ret = llm_tokenizer_parse(buf, done, vocab_size, tok_out);
	free(buf);
	if (ret) {
		char detail[400];

		snprintf(detail, sizeof(detail), "%s", llm_last_error_message());
		llm_set_error(ret, "%s: %s", path, detail);
	}
	return ret;
}

int llm_tokenizer_vocab_size(const struct llm_tokenizer *tok)
{
	return tok->vocab_size;
}

int llm_tokenizer_max_token_length(const struct llm_tokenizer *tok)
{
	return tok->max_token_length;
}

const char *llm_tokenizer_token(const struct llm_tokenizer *tok, int id)
{
	if (id < 0 || id >= tok->vocab_size)
		return NULL;
	return tok->vocab[id];
}

float llm_tokenizer_score(const struct llm_tokenizer *tok, int id)
{
	if (id < 0 || id >= tok->vocab_size)
		return 0.0f;
	return tok->scores[id];
}

/* ---- lookups and accessors ------------------------------------------------ */

int llm_tokenizer_lookup(const struct llm_tokenizer *tok, const char *str)
{
	return llm_map_find(tok, str, strlen(str));
}

enum llm_tokenizer_kind llm_tokenizer_kind(const struct llm_tokenizer *tok)
{
	return tok->kind;
}

const char *llm_tokenizer_chat_template(const struct llm_tokenizer *tok)
{
	return tok->chat_template;
}

enum llm_pretokenizer llm_tokenizer_pre(const struct llm_tokenizer *tok)
{
	return tok->pre;
}

bool llm_tokenizer_adds_bos(const struct llm_tokenizer *tok)
{
	return !tok->no_bos;
}

int llm_tokenizer_n_merges(const struct llm_tokenizer *tok)
{
	return tok->n_merges;
}

bool llm_tokenizer_merge(const struct llm_tokenizer *tok, int rank, int *left, int *right)
{
	if (rank < 0 || rank >= tok->n_merges || tok->merge_pairs[2 * rank] < 0)
		return false;
	*left = tok->merge_pairs[2 * rank];
	*right = tok->merge_pairs[2 * rank + 1];
	return true;
}

int llm_tokenizer_bos(const struct llm_tokenizer *tok)
{
	return tok->bos;
}

int llm_tokenizer_eos(const struct llm_tokenizer *tok)
{
	return tok->eos;
}

int llm_tokenizer_eot(const struct llm_tokenizer *tok)
{
	return tok->eot;
}

bool llm_tokenizer_is_eog(const struct llm_tokenizer *tok, int id)
{
	if (id < 0)
		return false;
	/* run.c: a llama2.c model starts its next text with BOS, and that ends this one */
	if (tok->kind == LLM_TOKENIZER_SPM && id == tok->bos)
		return true;
	return !tok->run_c && (id == tok->eos || id == tok->eot);
}

int llm_tokenizer_token_type(const struct llm_tokenizer *tok, int id)
{
	if (id < 0 || id >= tok->vocab_size)
		return LLM_TOKEN_TYPE_UNDEFINED;
	return tok->types ? tok->types[id] : LLM_TOKEN_TYPE_NORMAL;
}

/* ---- merging pairs --------------------------------------------------------- */

/*
 * A pair of adjacent symbols that can merge. Both encoders take the
 * lowest key (BPE: the merge's rank; SPM: minus the result's score), the
 * leftmost of equal ones: a heap of these with stale entries skipped when
 * they surface does in O(n log n) what rescanning every pair after each
 * merge (run.c) does in O(n^2), with the same result.
 */
struct llm_heap_entry {
	float key;
	int32_t pos;		/* the left symbol's first position */
	int32_t left, right;	/* the ids the pair had when pushed */
	int32_t result;
};

struct llm_bpe_work {
	int32_t *id, *prev, *next;	/* the symbols of a word, a linked list */
	struct llm_heap_entry *heap;
	size_t heap_n;
	char *mapped;			/* a word in the byte alphabet */
};

static bool llm_heap_less(const struct llm_heap_entry *a, const struct llm_heap_entry *b)
{
	return a->key < b->key || (a->key == b->key && a->pos < b->pos);
}

static void llm_heap_push(struct llm_bpe_work *w, struct llm_heap_entry e)
{
	size_t i = w->heap_n++;

	while (i && llm_heap_less(&e, &w->heap[(i - 1) / 2])) {
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = e;
}

static struct llm_heap_entry llm_heap_pop(struct llm_bpe_work *w)
{
	struct llm_heap_entry top = w->heap[0], last = w->heap[--w->heap_n];
	size_t i = 0, n = w->heap_n;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && llm_heap_less(&w->heap[c + 1], &w->heap[c]))
			c++;
		if (!llm_heap_less(&w->heap[c], &last))
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	if (n)
		w->heap[i] = last;
	return top;
}

/*
 * Merge the pair of @e into its left symbol unless it is stale (a
 * neighbour merged since it was queued); returns whether it merged.
 */
static bool llm_pair_merge(struct llm_bpe_work *w, const struct llm_heap_entry *e)
{
	int32_t p = e->pos, q = w->next[p];

	if (w->id[p] != e->left || q < 0 || w->id[q] != e->right)
		return false;
	w->id[p] = e->result;
	w->id[q] = -1;
	w->next[p] = w->next[q];
	if (w->next[q] >= 0)
		w->prev[w->next[q]] = p;
	return true;
}

/* ---- the sentencepiece-style encoder (run.c's) ---------------------------- */

/* The byte tokens follow <unk>, <s>, </s> in llama2.c vocabularies. */
#define LLM_BYTE_TOKEN_OFFSET	3

/* Queue the pair at symbol @p if its concatenation is a token run.c would take. */
static void llm_spm_queue(const struct llm_tokenizer *tok, struct llm_bpe_work *w, int32_t p,
			  char *buf)
{
	size_t len_a, len_b;
	int32_t q;
	int id;

	if (p < 0 || (q = w->next[p]) < 0)
		return;
	len_a = tok->vocab_len[w->id[p]];
	len_b = tok->vocab_len[w->id[q]];
	/* No token is longer, so no lookup can succeed. */
	if (len_a + len_b > (size_t)tok->max_token_length)
		return;
	memcpy(buf, tok->vocab[w->id[p]], len_a);
	memcpy(buf + len_a, tok->vocab[w->id[q]], len_b);
	id = llm_map_find(tok, buf, len_a + len_b);
	/* run.c starts its search at -1e10: a score at or below never merges. */
	if (id >= 0 && tok->scores[id] > -1e10f)
		llm_heap_push(w, (struct llm_heap_entry){ -tok->scores[id], p, w->id[p], w->id[q],
							  id });
}

/*
 * run.c's merge loop over @work[@from..*@n_io): the adjacent pair whose
 * concatenation is the token of the highest score (the leftmost of equal
 * ones) merges, until no pair is a token.
 */
static int llm_spm_merge(const struct llm_tokenizer *tok, int *work, size_t from, size_t *n_io,
			 char *buf)
{
	size_t m = *n_io - from, i, k;
	struct llm_bpe_work w = { 0 };
	int32_t p;

	if (m < 2)
		return 0;
	w.id = malloc(m * sizeof(*w.id));
	w.prev = malloc(m * sizeof(*w.prev));
	w.next = malloc(m * sizeof(*w.next));
	/* m - 1 pairs at first, then at most two per merge. */
	w.heap = malloc(3 * m * sizeof(*w.heap));
	if (!w.id || !w.prev || !w.next || !w.heap) {
		free(w.id);
		free(w.prev);
		free(w.next);
		free(w.heap);
		return llm_set_error(-ENOMEM, "out of memory merging %zu tokens", m);
	}
	for (i = 0; i < m; i++) {
		w.id[i] = work[from + i];
		w.prev[i] = (int32_t)i - 1;
		w.next[i] = i + 1 < m ? (int32_t)i + 1 : -1;
	}
	for (i = 0; i + 1 < m; i++)
		llm_spm_queue(tok, &w, (int32_t)i, buf);
	while (w.heap_n) {
		struct llm_heap_entry e = llm_heap_pop(&w);

		if (llm_pair_merge(&w, &e)) {
			llm_spm_queue(tok, &w, w.prev[e.pos], buf);
			llm_spm_queue(tok, &w, e.pos, buf);
		}
	}
	for (k = from, p = 0; p >= 0; p = w.next[p])
		work[k++] = w.id[p];
	*n_io = k;
	free(w.id);
	free(w.prev);
	free(w.next);
	free(w.heap);
	return 0;
}

/*
 * run.c's encode() of @text[0..@len) appended to @work[*n..]: the dummy
 * prefix if @prefix, code points (or their bytes), then merges by score
 * over @work[@merge_from..] (run.c merges from BOS on; a fragment after a
 * special token starts at its own first token so that it never merges
 * with the special). @buf holds 2 * max_token_length + 3 bytes.
 */
static int llm_spm_fragment(const struct llm_tokenizer *tok, const char *text, size_t len,
			    bool prefix, int *work, size_t *n_io, size_t merge_from, char *buf)
{
	size_t n = *n_io, str_len = 0, k, i;

	if (prefix && len && !tok->no_prefix) {
		int id = llm_map_find(tok, " ", 1);

		if (id >= 0)
			work[n++] = id;
	}
	/* One code point at a time: a lead or ASCII byte plus continuations. */
	for (k = 0; k < len; k++) {
		unsigned char c = (unsigned char)text[k];
		int id;

		if ((c & 0xc0) != 0x80)
			str_len = 0;
		buf[str_len++] = (char)c;
		buf[str_len] = '\0';
		/* Stop at 4 bytes so stray continuations cannot overrun buf. */
		if (k + 1 < len && ((unsigned char)text[k + 1] & 0xc0) == 0x80 && str_len < 4)
			continue;

		id = llm_map_find(tok, buf, str_len);
		if (id >= 0) {
			work[n++] = id;
		} else {
			for (i = 0; i < str_len; i++) {
				unsigned char byte = (unsigned char)buf[i];
				int byte_id = tok->spm_bytes_by_name ? tok->byte_token[byte] :
					      byte + LLM_BYTE_TOKEN_OFFSET;

				if (byte_id < 0)
					return llm_set_error(-EINVAL,
							     "byte 0x%02x is not in the vocabulary, nor its fallback token <0x%02X>",
							     byte, byte);
				if (byte_id >= tok->vocab_size)
					return llm_set_error(-EINVAL,
							     "byte 0x%02x is not in the vocabulary and its fallback token %d is beyond its %d tokens",
							     byte, byte_id, tok->vocab_size);
				work[n++] = byte_id;
			}
		}
		str_len = 0;
	}

	*n_io = n;
	return llm_spm_merge(tok, work, merge_from, n_io, buf);
}

/* ---- the byte-level BPE encoder ------------------------------------------- */

/*
 * GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves,
 * the other 68 (controls, space, 0x7f-0xa0, 0xad) for U+0100 + their
 * order, so that every byte is a visible character.
 */
static uint32_t llm_byte_char(unsigned int b)
{
	unsigned int i, k = 0;

	if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff))
		return b;
	for (i = 0; i < b; i++)
		if (!((i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || (i >= 0xae && i <= 0xff)))
			k++;
	return 0x100 + k;
}

/* UTF-8 of @cp (< 0x800 here) into @out; returns the length. */
static size_t llm_utf8_put(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	out[0] = (char)(0xc0 | (cp >> 6));
	out[1] = (char)(0x80 | (cp & 0x3f));
	return 2;
}

/*
 * The code point at @s[@i] (of @len bytes) and its byte length in *@n.
 * Malformed UTF-8 is one byte at a time, as U+FFFD (which is "other").
 */
static uint32_t llm_utf8_get(const unsigned char *s, size_t len, size_t i, size_t *n)
{
	unsigned char c = s[i];
	uint32_t cp, min;
	size_t need, k;

	if (c < 0x80) {
		*n = 1;
		return c;
	}
	if ((c & 0xe0) == 0xc0)
		need = 1, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		need = 2, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		need = 3, cp = c & 0x07, min = 0x10000;
	else
		goto bad;
	if (len - i <= need)
		goto bad;
	for (k = 1; k <= need; k++) {
		if ((s[i + k] & 0xc0) != 0x80)
			goto bad;
		cp = cp << 6 | (s[i + k] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*n = need + 1;
	return cp;
bad:
	*n = 1;
	return 0xfffd;
}

static bool llm_cp_in(const struct llm_cp_range *r, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < r[mid].first)
			hi = mid;
		else if (cp > r[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* The classes the pre-tokenizer regex distinguishes. */
enum { CP_END, CP_LETTER, CP_NUMBER, CP_SPACE, CP_OTHER };

static int llm_cp_class(uint32_t cp)
{
	if (cp < 0x80) {	/* the common case, without a search */
		if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
			return CP_LETTER;
		if (cp >= '0' && cp <= '9')
			return CP_NUMBER;
		if (cp == ' ' || (cp >= '\t' && cp <= '\r'))
			return CP_SPACE;
		return CP_OTHER;
	}
	if (llm_cp_in(llm_cp_letter, ARRAY_SIZE(llm_cp_letter), cp))
		return CP_LETTER;
	if (llm_cp_in(llm_cp_number, ARRAY_SIZE(llm_cp_number), cp))
		return CP_NUMBER;
	if (llm_cp_in(llm_cp_space, ARRAY_SIZE(llm_cp_space), cp))
		return CP_SPACE;
	return CP_OTHER;
}

/* A cursor over the text's code points. */
struct llm_cps {
	const unsigned char *s;
	size_t len;
};

static int llm_class_at(const struct llm_cps *t, size_t i, uint32_t *cp, size_t *n)
{
	size_t dummy;
	uint32_t c;

	if (i >= t->len) {
		*n = 0;
		if (cp)
			*cp = 0;
		return CP_END;
	}
	c = llm_utf8_get(t->s, t->len, i, n ? n : &dummy);
	if (cp)
		*cp = c;
	return llm_cp_class(c);
}

/* The end of the run of code points of class @cls starting at @i. */
static size_t llm_run(const struct llm_cps *t, size_t i, int cls)
{
	size_t n;

	while (llm_class_at(t, i, NULL, &n) == cls)
		i += n;
	return i;
}

static bool llm_is_crlf(const struct llm_cps *t, size_t i)
{
	return i < t->len && (t->s[i] == '\r' || t->s[i] == '\n');
}

/*
 * The end of the pre-tokenizer's word that starts at @i: the first
 * alternative of Llama 3's regex that matches there, written out (Qwen2's
 * differs only in \p{N} taking one digit):
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 */
static size_t llm_pre_word(const struct llm_cps *t, size_t i, enum llm_pretokenizer pre)
{
	const unsigned char *s = t->s;
	size_t n, n1, j, k, last_nl;
	uint32_t cp, cp1;
	int cls = llm_class_at(t, i, &cp, &n);
	int cls1 = llm_class_at(t, i + n, &cp1, &n1);

	/* Contractions, ASCII letters in either case. */
	if (cp == '\'' && i + 1 < t->len) {
		unsigned char a = s[i + 1] | 0x20, b = i + 2 < t->len ? s[i + 2] | 0x20 : 0;

		if (a == 's' || a == 't' || a == 'm' || a == 'd')
			return i + 2;
		if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
			return i + 3;
	}
	/* Letters, after at most one character that is no newline, letter or digit. */
	if (cls == CP_LETTER)
		return llm_run(t, i, CP_LETTER);
	if (cls != CP_NUMBER && cp != '\r' && cp != '\n' && cls1 == CP_LETTER)
		return llm_run(t, i + n, CP_LETTER);
	if (cls == CP_NUMBER) {
		int max = pre == LLM_PRE_QWEN2 ? 1 : 3;

		for (j = i, k = 0; k < (size_t)max && llm_class_at(t, j, NULL, &n) == CP_NUMBER; k++)
			j += n;
		return j;
	}
	/* Punctuation and symbols, after at most one space, then newlines. */
	if (cls == CP_OTHER || (cp == ' ' && cls1 == CP_OTHER)) {
		j = llm_run(t, cls == CP_OTHER ? i : i + 1, CP_OTHER);
		while (llm_is_crlf(t, j))
			j++;
		return j;
	}
	/* Whitespace: up to its last newline; else all of it unless a word follows. */
	j = llm_run(t, i, CP_SPACE);
	last_nl = SIZE_MAX;
	for (k = i; k < j; k++)
		if (s[k] == '\r' || s[k] == '\n')
			last_nl = k;
	if (last_nl != SIZE_MAX)
		return last_nl + 1;
	if (j == t->len)
		return j;
	/* Leave the last whitespace character to the word after it. */
	for (k = j - 1; k > i && (s[k] & 0xc0) == 0x80; k--)
		;
	return k > i ? k : j;
}

static const struct llm_merge_slot *llm_merge_find(const struct llm_tokenizer *tok, int left,
						   int right)
{
	uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & tok->merge_mask;

	for (;; i = (i + 1) & tok->merge_mask) {
		if (tok->merges[i].key == key)
			return &tok->merges[i];
		if (tok->merges[i].key == UINT64_MAX)
			return NULL;
	}
}

/* Queue the pair that starts at symbol @p, if it is a merge. */
static void llm_bpe_queue(const struct llm_tokenizer *tok, struct llm_bpe_work *w, int32_t p)
{
	const struct llm_merge_slot *m;
	int32_t q;

	if (p < 0 || (q = w->next[p]) < 0)
		return;
	m = llm_merge_find(tok, w->id[p], w->id[q]);
	if (m)
		llm_heap_push(w, (struct llm_heap_entry){ (float)m->rank, p, w->id[p], w->id[q],
							  m->result });
}

/* One word's tokens appended to @out[*n..]. */
static void llm_bpe_word(const struct llm_tokenizer *tok, struct llm_bpe_work *w,
			 const unsigned char *word, size_t len, int *out, size_t *n)
{
	size_t i;
	int32_t p;

	if (tok->pre == LLM_PRE_LLAMA3) {
		size_t m = 0;
		int id;

		for (i = 0; i < len; i++)
			m += llm_utf8_put(llm_byte_char(word[i]), w->mapped + m);
		id = llm_map_find(tok, w->mapped, m);
		if (id >= 0) {
			out[(*n)++] = id;
			return;
		}
	}
	for (i = 0; i < len; i++) {
		w->id[i] = tok->byte_token[word[i]];
		w->prev[i] = (int32_t)i - 1;
		w->next[i] = i + 1 < len ? (int32_t)i + 1 : -1;
	}
	w->heap_n = 0;
	for (i = 0; i + 1 < len; i++)
		llm_bpe_queue(tok, w, (int32_t)i);
	while (w->heap_n) {
		struct llm_heap_entry e = llm_heap_pop(w);

		if (llm_pair_merge(w, &e)) {
			llm_bpe_queue(tok, w, w->prev[e.pos]);
			llm_bpe_queue(tok, w, e.pos);
		}
	}
	for (p = 0; p >= 0; p = w->next[p])
		out[(*n)++] = w->id[p];
}

/* The BPE tokens of @text[0..@len) appended to @out[*n..]. */
static void llm_bpe_fragment(const struct llm_tokenizer *tok, struct llm_bpe_work *w,
			     const char *text, size_t len, int *out, size_t *n)
{
	struct llm_cps t = { (const unsigned char *)text, len };
	size_t i = 0;

	while (i < len) {
		size_t end = llm_pre_word(&t, i, tok->pre);

		llm_bpe_word(tok, w, t.s + i, end - i, out, n);
		i = end;
	}
}

size_t llm_pretokenize(enum llm_pretokenizer pre, const char *text, size_t len, size_t *ends,
		       size_t max)
{
	struct llm_cps t = { (const unsigned char *)text, len };
	size_t i = 0, n = 0;

	while (i < len) {
		i = llm_pre_word(&t, i, pre);
		if (n < max)
			ends[n] = i;
		n++;
	}
	return n;
}

/* ---- encoding ------------------------------------------------------------- */

/* The longest special token spelled at @text[@i..@len), or -1. */
static int llm_special_at(const struct llm_tokenizer *tok, const char *text, size_t len, size_t i,
			  const uint8_t *quoted)
{
	unsigned char c = (unsigned char)text[i];
	int k;

	if (!(tok->special_first[c >> 3] & (1u << (c & 7))) || (quoted && quoted[i]))
		return -1;
	for (k = 0; k < tok->n_specials; k++) {
		int id = tok->specials[k];
		size_t l = tok->vocab_len[id], j;

		if (!l || l > len - i || memcmp(text + i, tok->vocab[id], l))
			continue;
		/* Not if it runs into quoted text: part of it is a message's. */
		for (j = 0; quoted && j < l && !quoted[i + j]; j++)
			;
		if (!quoted || j == l)
			return id;
	}
	return -1;
}

/*
 * llm_tokenizer_encode_flags() with @quoted (or NULL): the bytes of @text
 * where it is non-zero (a chat message's) never start or end a special
 * token, so that only the template's own markers are specials.
 */
static int llm_encode(const struct llm_tokenizer *tok, const char *text, unsigned int flags,
		      const uint8_t *quoted, int *tokens, size_t max_tokens)
{
	struct llm_bpe_work w = { 0 };
	size_t text_len, n = 0, start = 0, i;
	bool bpe = tok->kind == LLM_TOKENIZER_BPE, first = true;
	int *work = NULL, ret = 0;
	char *buf = NULL;

	if (!text)
		return llm_set_error(-EINVAL, "cannot encode NULL text");
	text_len = strlen(text);
	if (text_len > (size_t)INT_MAX - 3)
		return llm_set_error(-EINVAL, "text of %zu bytes is too long to encode", text_len);
	/*
	 * One token a byte, BOS and EOS; with specials, a sentencepiece
	 * vocabulary adds a dummy prefix after each, so allow two a byte.
	 */
	work = malloc((2 * text_len + 4) * sizeof(*work));
	if (bpe) {
		size_t cap = text_len ? text_len : 1;

		w.id = malloc(cap * sizeof(*w.id));
		w.prev = malloc(cap * sizeof(*w.prev));
		w.next = malloc(cap * sizeof(*w.next));
		/* cap - 1 pairs at first, then at most two per merge. */
		w.heap = malloc(cap * 3 * sizeof(*w.heap));
		w.mapped = malloc(cap * 2 + 1);
		if (!w.id || !w.prev || !w.next || !w.heap || !w.mapped)
			goto nomem;
	} else {
		/* Two tokens merged, or one code point of up to 4 bytes, plus NUL. */
		buf = malloc((size_t)tok->max_token_length * 2 + 3);
		if (!buf)
			goto nomem;
	}
	if (!work)
		goto nomem;

	if ((flags & LLM_ENCODE_BOS) && !tok->no_bos) {
		if (tok->bos < 0) {
			ret = llm_set_error(-EINVAL, "the vocabulary has no BOS token");
			goto out;
		}
		work[n++] = tok->bos;
	}
	/* Text between special tokens (all of it without LLM_ENCODE_SPECIAL). */
	for (i = 0; i <= text_len; i++) {
		int special = -1;

		if (i < text_len && !((flags & LLM_ENCODE_SPECIAL) && tok->n_specials &&
				      (special = llm_special_at(tok, text, text_len, i, quoted)) >= 0))
			continue;
		if (i > start || (first && i == text_len)) {
			if (bpe) {
				llm_bpe_fragment(tok, &w, text + start, i - start, work, &n);
			} else {
				ret = llm_spm_fragment(tok, text + start, i - start, true, work, &n,
						       first ? 0 : n, buf);
				if (ret)
					goto out;
			}
		}
		first = false;
		if (special >= 0) {
			work[n++] = special;
			i += tok->vocab_len[special] - 1;
			start = i + 1;
		}
	}
	if (flags & LLM_ENCODE_EOS) {
		if (tok->eos < 0) {
			ret = llm_set_error(-EINVAL, "the vocabulary has no EOS token");
			goto out;
		}
		work[n++] = tok->eos;
	}
	if (n > max_tokens) {
		ret = llm_set_error(-ENOSPC, "encoding needs %zu tokens, the array holds %zu",
				    n, max_tokens);
		goto out;
	}
	if (n)
		memcpy(tokens, work, n * sizeof(*work));
	ret = (int)n;
	goto out;
nomem:
	ret = llm_set_error(-ENOMEM, "out of memory encoding %zu bytes", text_len);
out:
	free(work);
	free(buf);
	free(w.id);
	free(w.prev);
	free(w.next);
	free(w.heap);
	free(w.mapped);
	return ret;
}

int llm_tokenizer_encode_flags(const struct llm_tokenizer *tok, const char *text,
			       unsigned int flags, int *tokens, size_t max_tokens)
{
	return llm_encode(tok, text, flags, NULL, tokens, max_tokens);
}

int llm_tokenizer_encode(const struct llm_tokenizer *tok, const char *text, bool bos,
			 bool eos, int *tokens, size_t max_tokens)
{
	return llm_tokenizer_encode_flags(tok, text, (bos ? LLM_ENCODE_BOS : 0) |
					  (eos ? LLM_ENCODE_EOS : 0), tokens, max_tokens);
}

/* ---- decoding ------------------------------------------------------------- */

/* "<0xHH>", the sentencepiece spelling of a raw byte; -1 if not one. */
static int llm_parse_byte_token(const char *piece)
{
	int value = 0, i;

	if (strncmp(piece, "<0x", 3) || piece[5] != '>' || piece[6] != '\0')
		return -1;
	for (i = 3; i < 5; i++) {
		char ch = piece[i];

		value <<= 4;
		if (ch >= '0' && ch <= '9')
			value |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			value |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			value |= ch - 'A' + 10;
		else
			return -1;
	}
	return value;
}

const char *llm_tokenizer_decode(const struct llm_tokenizer *tok, int prev_token, int token)
{
	const char *piece;
	int byte;

	if (token < 0 || token >= tok->vocab_size)
		return NULL;
	/* What generates text never shows BOS or an end of turn. */
	if (tok->types && tok->types[token] == LLM_TOKEN_TYPE_CONTROL)
		return "";
	if (tok->kind == LLM_TOKENIZER_BPE)
		return tok->pieces[token];
	piece = tok->vocab[token];
	/* sentencepiece drops the dummy-prefix space after BOS. */
	if (prev_token == tok->bos && piece[0] == ' ')
		piece++;
	/* strncmp above stops at the NUL, so short pieces are safe. */
	byte = strlen(piece) == 6 ? llm_parse_byte_token(piece) : -1;
	if (byte >= 0)
		piece = &tok->byte_pieces[2 * byte];
	return piece;
}

/* ---- vocabularies described by GGUF files ---------------------------------- */

#define LLM_SPM_SPACE	"\xe2\x96\x81"	/* U+2581, sentencepiece's space */

/* The specials of LLM_ENCODE_SPECIAL: longest first, so "<|x|>y" beats "<|x|>". */
static int llm_compare_special(const void *a, const void *b, void *arg)
{
	const struct llm_tokenizer *tok = arg;
	int x = *(const int *)a, y = *(const int *)b;
	size_t lx = tok->vocab_len[x], ly = tok->vocab_len[y];

	if (lx != ly)
		return lx < ly ? 1 : -1;
	return (x > y) - (x < y);
}

/* Special ids, token types and the specials list, shared by both kinds. */
static int llm_tokenizer_finish(struct llm_tokenizer *tok, const struct llm_vocab_desc *d)
{
	static const char *const names[] = { "BOS", "EOS", "EOT" };
	const int ids[] = { d->bos, d->eos, d->eot };
	int i, n = 0;

	for (i = 0; i < 3; i++)
		if (ids[i] < -1 || ids[i] >= tok->vocab_size)
			return llm_set_error(-EINVAL, "the %s token id %d is outside the %d tokens",
					     names[i], ids[i], tok->vocab_size);
	if (d->bos >= 0 || tok->kind == LLM_TOKENIZER_BPE)
		tok->bos = d->bos;
	if (d->eos >= 0 || tok->kind == LLM_TOKENIZER_BPE)
		tok->eos = d->eos;
	tok->eot = d->eot;
	tok->no_bos = d->no_bos;
	tok->no_prefix = d->no_prefix;
	tok->run_c = false;
	if (d->chat_template) {
		tok->chat_template = strndup(d->chat_template, d->chat_template_len);
		if (!tok->chat_template)
			return llm_set_error(-ENOMEM, "out of memory loading a vocabulary");
	}
	if (tok->kind == LLM_TOKENIZER_SPM) {
		/* Wherever the vocabulary has them (llama2.c's are at 3 + byte). */
		for (i = 0; i < 256; i++) {
			char name[8];

			snprintf(name, sizeof(name), "<0x%02X>", (unsigned int)i);
			tok->byte_token[i] = llm_map_find(tok, name, 6);
		}
		tok->spm_bytes_by_name = true;
	}
	if (!d->types)
		return 0;
	tok->types = malloc((size_t)tok->vocab_size);
	tok->specials = malloc((size_t)tok->vocab_size * sizeof(*tok->specials));
	if (!tok->types || !tok->specials)
		return llm_set_error(-ENOMEM, "out of memory loading a vocabulary");
	for (i = 0; i < tok->vocab_size; i++) {
		int32_t t = d->types[i];

		if (t < LLM_TOKEN_TYPE_UNDEFINED || t > LLM_TOKEN_TYPE_BYTE)
			return llm_set_error(-EINVAL, "token %d has type %d, not one of llama.cpp's 0..6",
					     i, (int)t);
		tok->types[i] = (uint8_t)t;
		if ((t == LLM_TOKEN_TYPE_CONTROL || t == LLM_TOKEN_TYPE_USER_DEFINED) &&
		    tok->vocab_len[i]) {
			unsigned char c = (unsigned char)tok->vocab[i][0];

			tok->specials[n++] = i;
			tok->special_first[c >> 3] |= (uint8_t)(1u << (c & 7));
		}
	}
	tok->n_specials = n;
	qsort_r(tok->specials, (size_t)n, sizeof(*tok->specials), llm_compare_special, tok);
	return 0;
}

/* SPM: the vocabulary as a tokenizer.bin image (U+2581 as a space), then parsed. */
static int llm_spm_create(const struct llm_vocab_desc *d, struct llm_tokenizer **tok_out)
{
	uint64_t size = 4;
	uint32_t max_len = 1;
	uint8_t *img, *p;
	int i, ret;

	for (i = 0; i < d->n_tokens; i++) {
		uint64_t len = 0, j;

		for (j = 0; j < d->token_lens[i]; j++, len++)
			if (d->token_lens[i] - j >= 3 && !memcmp(d->tokens[i] + j, LLM_SPM_SPACE, 3))
				j += 2;
		if (len > LLM_TOKENIZER_MAX_TOKEN_LENGTH)
			return llm_set_error(-EINVAL, "token %d is %" PRIu64 " bytes long, more than %d",
					     i, len, LLM_TOKENIZER_MAX_TOKEN_LENGTH);
		if (len > max_len)
			max_len = (uint32_t)len;
		size += 8 + len;
	}
	if (size > SIZE_MAX || !(img = malloc((size_t)size)))
		return llm_set_error(-ENOMEM, "out of memory loading a vocabulary");
	p = img;
	memcpy(p, &max_len, 4);
	p += 4;
	for (i = 0; i < d->n_tokens; i++) {
		float score = d->scores ? d->scores[i] : 0.0f;
		uint32_t len = 0;
		uint8_t *lenp = p + 4;
		size_t j;

		memcpy(p, &score, 4);
		p += 8;
		for (j = 0; j < d->token_lens[i]; j++, len++) {
			if (d->token_lens[i] - j >= 3 && !memcmp(d->tokens[i] + j, LLM_SPM_SPACE, 3)) {
				*p++ = ' ';
				j += 2;
			} else {
				*p++ = (uint8_t)d->tokens[i][j];
			}
		}
		memcpy(lenp, &len, 4);
	}
	ret = llm_tokenizer_parse(img, (size_t)size, d->n_tokens, tok_out);
	free(img);
	if (!ret)
		ret = llm_tokenizer_finish(*tok_out, d);
	if (ret) {
		llm_tokenizer_close(*tok_out);
		*tok_out = NULL;
	}
	return ret;
}

static size_t llm_pow2_at_least(size_t n)
{
	size_t c = 16;

	while (c < n)
		c *= 2;
	return c;
}

/* The GPT-2 alphabet's characters (all below U+0144) back to their bytes, -1 for others. */
struct llm_char_bytes {
	int16_t byte[0x144];
};

static void llm_char_bytes_init(struct llm_char_bytes *r)
{
	unsigned int b;

	for (b = 0; b < ARRAY_SIZE(r->byte); b++)
		r->byte[b] = -1;
	for (b = 0; b < 256; b++)
		r->byte[llm_byte_char(b)] = (int16_t)b;
}

static int llm_char_byte(const struct llm_char_bytes *r, uint32_t cp)
{
	return cp < ARRAY_SIZE(r->byte) ? r->byte[cp] : -1;
}

static int llm_bpe_create(const struct llm_vocab_desc *d, struct llm_tokenizer **tok_out)
{
	struct llm_char_bytes rev;
	struct llm_tokenizer *tok;
	size_t strings = 0, cap, off = 0, poff = 0;
	int i, ret;

	*tok_out = NULL;
	llm_char_bytes_init(&rev);
	if (d->pre != LLM_PRE_LLAMA3 && d->pre != LLM_PRE_QWEN2)
		return llm_set_error(-EINVAL, "unknown BPE pre-tokenizer %d", (int)d->pre);
	if (d->n_merges <= 0 || !d->merges)
		return llm_set_error(-EINVAL, "a BPE vocabulary needs merges (tokenizer.ggml.merges)");
	/* The heap orders by a float key: ranks stay exact below 2^24. */
	if (d->n_merges > (1 << 24))
		return llm_set_error(-EINVAL, "%d merges are more than the %d supported",
				     d->n_merges, 1 << 24);
	for (i = 0; i < d->n_tokens; i++) {
		if (d->token_lens[i] > LLM_TOKENIZER_MAX_TOKEN_LENGTH)
			return llm_set_error(-EINVAL, "token %d is %zu bytes long, more than %d",
					     i, d->token_lens[i], LLM_TOKENIZER_MAX_TOKEN_LENGTH);
		strings += d->token_lens[i] + 1;
	}
	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return llm_set_error(-ENOMEM, "out of memory loading a vocabulary");
	tok->kind = LLM_TOKENIZER_BPE;
	tok->pre = d->pre;
	tok->vocab_size = d->n_tokens;
	tok->vocab = calloc((size_t)d->n_tokens, sizeof(*tok->vocab));
	tok->vocab_len = calloc((size_t)d->n_tokens, sizeof(*tok->vocab_len));
	tok->scores = calloc((size_t)d->n_tokens, sizeof(*tok->scores));
	tok->pieces = calloc((size_t)d->n_tokens, sizeof(*tok->pieces));
	tok->strings = malloc(strings);
	/* A piece is never longer than its token (each character 1 to 4 bytes). */
	tok->piece_strings = malloc(strings);
	if (!tok->vocab || !tok->vocab_len || !tok->scores || !tok->pieces || !tok->strings ||
	    !tok->piece_strings)
		goto nomem;

	for (i = 0; i < d->n_tokens; i++) {
		const unsigned char *t = (const unsigned char *)d->tokens[i];
		size_t len = d->token_lens[i], j, n, plen;
		bool bytes = true;
		char *piece;

		tok->vocab[i] = tok->strings + off;
		memcpy(tok->vocab[i], t, len);
		tok->vocab[i][len] = '\0';
		tok->vocab_len[i] = len;
		off += len + 1;
		/* The bytes it stands for; a token outside the alphabet is its text. */
		piece = tok->piece_strings + poff;
		plen = 0;
		for (j = 0; j < len; j += n) {
			int b = llm_char_byte(&rev, llm_utf8_get(t, len, j, &n));

			if (b < 0) {
				bytes = false;
				break;
			}
			piece[plen++] = (char)b;
		}
		if (!bytes) {
			memcpy(piece, t, len);
			plen = len;
		}
		piece[plen] = '\0';
		tok->pieces[i] = piece;
		poff += plen + 1;
		if (plen > (size_t)tok->max_token_length)
			tok->max_token_length = (int)plen;
	}
	if (llm_map_build(tok))
		goto nomem;
	for (i = 0; i < 256; i++) {
		char c[3];
		size_t l = llm_utf8_put(llm_byte_char((unsigned int)i), c);

		tok->byte_token[i] = llm_map_find(tok, c, l);
		if (tok->byte_token[i] < 0) {
			ret = llm_set_error(-EINVAL,
					    "the BPE vocabulary has no token for byte 0x%02x (character U+%04X)",
					    i, llm_byte_char((unsigned int)i));
			goto fail;
		}
	}

	cap = llm_pow2_at_least(2 * (size_t)d->n_merges);
	tok->merges = malloc(cap * sizeof(*tok->merges));
	if (!tok->merges)
		goto nomem;
	tok->merge_mask = cap - 1;
	for (size_t k = 0; k < cap; k++)
		tok->merges[k].key = UINT64_MAX;
	tok->merge_pairs = malloc((size_t)d->n_merges * 2 * sizeof(*tok->merge_pairs));
	if (!tok->merge_pairs)
		goto nomem;
	memset(tok->merge_pairs, 0xff, (size_t)d->n_merges * 2 * sizeof(*tok->merge_pairs));
	tok->n_merges = d->n_merges;
	for (i = 0; i < d->n_merges; i++) {
		const char *m = d->merges[i], *sp;
		size_t len = d->merge_lens[i], k;
		int left, right, result;
		uint64_t key;
		char *both;

		/* From the second byte on: a token may be a lone space in other alphabets. */
		sp = len > 1 ? memchr(m + 1, ' ', len - 1) : NULL;
		if (!sp) {
			ret = llm_set_error(-EINVAL, "merge %d ('%.*s') is not two tokens separated by a space",
					    i, (int)(len > 40 ? 40 : len), m);
			goto fail;
		}
		left = llm_map_find(tok, m, (size_t)(sp - m));
		right = llm_map_find(tok, sp + 1, len - (size_t)(sp - m) - 1);
		both = malloc(len);
		if (!both)
			goto nomem;
		memcpy(both, m, (size_t)(sp - m));
		memcpy(both + (sp - m), sp + 1, len - (size_t)(sp - m) - 1);
		result = llm_map_find(tok, both, len - 1);
		free(both);
		if (left < 0 || right < 0 || result < 0) {
			ret = llm_set_error(-EINVAL, "merge %d ('%.*s') names %s that is not in the vocabulary",
					    i, (int)(len > 40 ? 40 : len), m,
					    left < 0 || right < 0 ? "a token" : "a result");
			goto fail;
		}
		key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
		k = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & tok->merge_mask;
		for (; tok->merges[k].key != UINT64_MAX; k = (k + 1) & tok->merge_mask)
			if (tok->merges[k].key == key)
				break;
		if (tok->merges[k].key == key)
			continue;	/* a repeated pair keeps its best rank */
		tok->merges[k] = (struct llm_merge_slot){ key, i, result };
		tok->merge_pairs[2 * i] = left;
		tok->merge_pairs[2 * i + 1] = right;
	}
	if (tok->max_token_length < 1)
		tok->max_token_length = 1;
	ret = llm_tokenizer_finish(tok, d);
	if (ret)
		goto fail;
	*tok_out = tok;
	return 0;
nomem:
	ret = llm_set_error(-ENOMEM, "out of memory loading a vocabulary of %d tokens", d->n_tokens);
fail:
	llm_tokenizer_close(tok);
	return ret;
}

int llm_tokenizer_create(const struct llm_vocab_desc *d, struct llm_tokenizer **tok_out)
{
	*tok_out = NULL;
	if (d->n_tokens <= 0 || !d->tokens || !d->token_lens)
		return llm_set_error(-EINVAL, "the vocabulary has no tokens");
	if (d->kind == LLM_TOKENIZER_SPM)
		return llm_spm_create(d, tok_out);
	if (d->kind == LLM_TOKENIZER_BPE)
		return llm_bpe_create(d, tok_out);
	return llm_set_error(-EINVAL, "unknown tokenizer kind %d", (int)d->kind);
}

bool llm_piece_is_printable(const char *piece)
{
	unsigned char byte;

	if (!piece || piece[0] == '\0')
		return false;
	if (piece[1] != '\0')
		return true;
	byte = (unsigned char)piece[0];
	/* isprint() || isspace() of the C locale. */
	return (byte >= 0x20 && byte <= 0x7e) || byte == ' ' || (byte >= '\t' && byte <= '\r');
}

bool llm_tokenizer_piece_is_printable(const struct llm_tokenizer *tok, const char *piece)
{
	if (tok->kind != LLM_TOKENIZER_BPE || !piece || !piece[0] || piece[1])
		return llm_piece_is_printable(piece);
	return (unsigned char)piece[0] >= 0x80 || llm_piece_is_printable(piece);
}

int llm_safe_print(FILE *out, const char *piece)
{
	if (!llm_piece_is_printable(piece))
		return 0;
	if (fputs(piece, out) == EOF)
		return llm_set_error(-EIO, "cannot write generated text");
	return 0;
}
/* ---- chat templates ------------------------------------------------------- */

enum llm_chat_template llm_chat_template_detect(const char *jinja)
{
	if (!jinja)
		return LLM_CHAT_PLAIN;
	/* Most specific first: a Llama 3 template may mention other markers. */
	if (strstr(jinja, "<|start_header_id|>"))
		return LLM_CHAT_LLAMA3;
	if (strstr(jinja, "<|im_start|>"))
		return LLM_CHAT_CHATML;
	if (strstr(jinja, "[INST]"))
		return LLM_CHAT_LLAMA2;
	return LLM_CHAT_PLAIN;
}

const char *llm_chat_template_name(enum llm_chat_template t)
{
	switch (t) {
	case LLM_CHAT_LLAMA2: return "llama2";
	case LLM_CHAT_LLAMA3: return "llama3";
	case LLM_CHAT_CHATML: return "chatml";
	default: return "plain";
	}
}

const char *llm_chat_template_eot(enum llm_chat_template t)
{
	switch (t) {
	case LLM_CHAT_LLAMA2: return "</s>";
	case LLM_CHAT_LLAMA3: return "<|eot_id|>";
	case LLM_CHAT_CHATML: return "<|im_end|>";
	default: return NULL;
	}
}

/* Rendered text, and which of its bytes are quoted (a message's, not the template's). */
struct llm_sbuf {
	char *data;
	uint8_t *quoted;
	size_t len, cap;
	bool failed, quoting;
};

static void llm_sbuf_add(struct llm_sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *q;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d)
			b->data = d;
		q = d ? realloc(b->quoted, cap) : NULL;
		if (!q) {
			b->failed = true;
			return;
		}
		b->quoted = q;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	memset(b->quoted + b->len, b->quoting, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* A message's text: quoted. */
static void llm_sbuf_quote(struct llm_sbuf *b, const char *s, size_t n)
{
	b->quoting = true;
	llm_sbuf_add(b, s, n);
	b->quoting = false;
}

static void llm_sbuf_str(struct llm_sbuf *b, const char *s)
{
	llm_sbuf_add(b, s, strlen(s));
}

/* A message's text without leading and trailing whitespace (Jinja's trim, Python's strip). */
static void llm_sbuf_trimmed(struct llm_sbuf *b, const char *s, size_t n)
{
	while (n && (*s == ' ' || (*s >= '\t' && *s <= '\r')))
		s++, n--;
	while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
		n--;
	llm_sbuf_quote(b, s, n);
}

/* "system" (also for "developer"), "user", "assistant", or NULL. */
static const char *llm_chat_role(const char *role)
{
	if (!role)
		return NULL;
	if (!strcmp(role, "system") || !strcmp(role, "developer"))
		return "system";
	if (!strcmp(role, "user"))
		return "user";
	if (!strcmp(role, "assistant"))
		return "assistant";
	return NULL;
}

/*
 * Llama 2 chat, as its Jinja template: an optional system message folded
 * into the first user turn, then alternating turns, each user turn
 * "<s>[INST] TEXT [/INST]" and each assistant turn " TEXT </s>".
 */
static int llm_chat_llama2(struct llm_sbuf *b, const struct llm_chat_message *msgs, size_t n)
{
	const char *system = NULL;
	size_t i = 0, k;

	if (n && !strcmp(llm_chat_role(msgs[0].role), "system"))
		system = msgs[i++].content;
	for (k = 0; i < n; i++, k++) {
		const char *role = llm_chat_role(msgs[i].role);
		const char *c = msgs[i].content ? msgs[i].content : "";
		bool user = !strcmp(role, "user");

		if (user != (k % 2 == 0))
			return llm_set_error(-EINVAL,
					     "the Llama 2 template needs user and assistant messages alternating, starting with user (message %zu is %s)",
					     i, role);
		if (user) {
			struct llm_sbuf content = { 0 };

			if (k == 0 && system) {
				llm_sbuf_str(&content, "<<SYS>>\n");
				llm_sbuf_str(&content, system);
				llm_sbuf_str(&content, "\n<</SYS>>\n\n");
			}
			llm_sbuf_str(&content, c);
			if (content.failed) {
				free(content.data);
				free(content.quoted);
				b->failed = true;
				return 0;
			}
			/* <<SYS>> is text, not a token: all of it is quoted. */
			llm_sbuf_str(b, "<s>[INST] ");
			llm_sbuf_trimmed(b, content.data, content.len);
			llm_sbuf_str(b, " [/INST]");
			free(content.data);
			free(content.quoted);
		} else {
			llm_sbuf_str(b, " ");
			llm_sbuf_trimmed(b, c, strlen(c));
			llm_sbuf_str(b, " </s>");
		}
	}
	return 0;
}

static int llm_chat_render_buf(enum llm_chat_template t, const struct llm_chat_message *msgs,
			       size_t n, struct llm_sbuf *out)
{
	struct llm_sbuf b = { 0 };
	size_t i;
	int ret = 0;

	for (i = 0; i < n; i++)
		if (!llm_chat_role(msgs[i].role))
			return llm_set_error(-EINVAL,
					     "message %zu has role '%.32s', not system, developer, user or assistant",
					     i, msgs[i].role ? msgs[i].role : "(none)");
	llm_sbuf_add(&b, "", 0);
	switch (t) {
	case LLM_CHAT_LLAMA2:
		ret = llm_chat_llama2(&b, msgs, n);
		break;
	case LLM_CHAT_LLAMA3:
		llm_sbuf_str(&b, "<|begin_of_text|>");
		for (i = 0; i < n; i++) {
			const char *c = msgs[i].content ? msgs[i].content : "";

			llm_sbuf_str(&b, "<|start_header_id|>");
			llm_sbuf_str(&b, llm_chat_role(msgs[i].role));
			llm_sbuf_str(&b, "<|end_header_id|>\n\n");
			llm_sbuf_trimmed(&b, c, strlen(c));
			llm_sbuf_str(&b, "<|eot_id|>");
		}
		llm_sbuf_str(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
		break;
	case LLM_CHAT_CHATML:
		for (i = 0; i < n; i++) {
			const char *c = msgs[i].content ? msgs[i].content : "";

			llm_sbuf_str(&b, "<|im_start|>");
			llm_sbuf_str(&b, llm_chat_role(msgs[i].role));
			llm_sbuf_str(&b, "\n");
			llm_sbuf_quote(&b, c, strlen(c));
			llm_sbuf_str(&b, "<|im_end|>\n");
		}
		llm_sbuf_str(&b, "<|im_start|>assistant\n");
		break;
	default:
		/* System text and a blank line; "User: ..." and "Assistant: ..." lines. */
		for (i = 0; i < n; i++) {
			const char *role = llm_chat_role(msgs[i].role);

			const char *c = msgs[i].content ? msgs[i].content : "";

			if (!strcmp(role, "user"))
				llm_sbuf_str(&b, "User: ");
			else if (!strcmp(role, "assistant"))
				llm_sbuf_str(&b, "Assistant: ");
			llm_sbuf_quote(&b, c, strlen(c));
			llm_sbuf_str(&b, strcmp(role, "system") ? "\n" : "\n\n");
		}
		llm_sbuf_str(&b, "Assistant:");
		break;
	}
	if (!ret && b.failed)
		ret = llm_set_error(-ENOMEM, "out of memory rendering a chat");
	if (ret) {
		free(b.data);
		free(b.quoted);
		return ret;
	}
	*out = b;
	return 0;
}

int llm_chat_render(enum llm_chat_template t, const struct llm_chat_message *msgs, size_t n,
		    char **out)
{
	struct llm_sbuf b;
	int ret;

	*out = NULL;
	ret = llm_chat_render_buf(t, msgs, n, &b);
	if (ret)
		return ret;
	free(b.quoted);
	*out = b.data;
	return 0;
}

int llm_chat_encode(const struct llm_tokenizer *tok, enum llm_chat_template t,
		    const struct llm_chat_message *msgs, size_t n, int **tokens_out)
{
	struct llm_sbuf b;
	size_t max;
	int *tokens, ret;

	*tokens_out = NULL;
	ret = llm_chat_render_buf(t, msgs, n, &b);
	if (ret)
		return ret;
	max = 2 * b.len + 4;	/* as llm_encode()'s bound with specials */
	tokens = malloc(max * sizeof(*tokens));
	if (!tokens) {
		ret = llm_set_error(-ENOMEM, "out of memory encoding a chat");
	} else {
		/* The plain template is text; the others spell out BOS and their markers. */
		ret = llm_encode(tok, b.data, t == LLM_CHAT_PLAIN ? LLM_ENCODE_BOS :
				 LLM_ENCODE_SPECIAL, b.quoted, tokens, max);
	}
	free(b.data);
	free(b.quoted);
	if (ret < 0) {
		free(tokens);
		return ret;
	}
	*tokens_out = tokens;
	return ret;
}

