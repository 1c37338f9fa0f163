// SPDX-License-Identifier: MIT
/*
 * llama2.c tokenizer: loading tokenizer.bin, and encode/decode with the
 * exact rules of run.c (see tokenizer.h), hardened against bad files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "tokenizer.h"

/* Far beyond any real vocabulary; keeps a bad header from asking for GBs. */
#define LLM_TOKENIZER_MAX_TOKEN_LENGTH	65536
#define LLM_TOKENIZER_MAX_FILE_SIZE	(1u << 30)

/* A vocabulary entry in string order, for binary search. */
struct llm_token_index {
	const char *str;
	int id;
};

struct llm_tokenizer {
	int vocab_size;
	int max_token_length;
	char **vocab;			/* NUL-terminated strings */
	size_t *vocab_len;		/* strlen() of each, for the merge loop */
	float *scores;
	struct llm_token_index *sorted;	/* by strcmp(), then id */
	char *strings;			/* storage behind vocab[] */
	/* Piece of raw byte b: byte_pieces[2 * b], NUL-terminated. */
	char byte_pieces[512];
};

static int llm_compare_token_index(const void *a, const void *b)
{
	const struct llm_token_index *x = a, *y = b;
	int order = strcmp(x->str, y->str);

	/* Ties by id make the lookup deterministic: the lowest id wins. */
	if (order)
		return order;
	return (x->id > y->id) - (x->id < y->id);
}

void llm_tokenizer_close(struct llm_tokenizer *tok)
{
	if (!tok)
		return;
	free(tok->vocab);
	free(tok->vocab_len);
	free(tok->scores);
	free(tok->sorted);
	free(tok->strings);
	free(tok);
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
	tok->sorted = calloc((size_t)count, sizeof(*tok->sorted));
	tok->strings = malloc(strings_size);
	if (!tok->vocab || !tok->vocab_len || !tok->scores || !tok->sorted || !tok->strings)
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
		tok->sorted[i].str = str;
		tok->sorted[i].id = i;
		str += len + 1;
	}
	qsort(tok->sorted, (size_t)count, sizeof(*tok->sorted), llm_compare_token_index);
	for (i = 0; i < 256; i++) {
		tok->byte_pieces[2 * i] = (char)i;
		tok->byte_pieces[2 * i + 1] = '\0';
	}
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

int llm_tokenizer_lookup(const struct llm_tokenizer *tok, const char *str)
{
	size_t lo = 0, hi = (size_t)tok->vocab_size;

	/* Lower bound: the first entry not below @str, i.e. the lowest id. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(tok->sorted[mid].str, str) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < (size_t)tok->vocab_size && !strcmp(tok->sorted[lo].str, str))
		return tok->sorted[lo].id;
	return -1;
}

/* The byte tokens follow <unk>, <s>, </s> in llama2.c vocabularies. */
#define LLM_BYTE_TOKEN_OFFSET	3

int llm_tokenizer_encode(const struct llm_tokenizer *tok, const char *text, bool bos,
			 bool eos, int *tokens, size_t max_tokens)
{
	size_t text_len, n = 0, str_len = 0, i;
	int *work;
	char *buf;
	const unsigned char *c;

	if (!text)
		return llm_set_error(-EINVAL, "cannot encode NULL text");
	text_len = strlen(text);
	if (text_len > (size_t)INT_MAX - 3)
		return llm_set_error(-EINVAL, "text of %zu bytes is too long to encode", text_len);
	work = malloc(llm_tokenizer_max_tokens(text_len) * sizeof(*work));
	/* Two tokens merged, or one code point of up to 4 bytes, plus NUL. */
	buf = malloc((size_t)tok->max_token_length * 2 + 3);
	if (!work || !buf) {
		free(work);
		free(buf);
		return llm_set_error(-ENOMEM, "out of memory encoding %zu bytes", text_len);
	}

	if (bos)
		work[n++] = LLM_TOKEN_BOS;
	if (text[0] != '\0') {
		int prefix = llm_tokenizer_lookup(tok, " ");

		if (prefix >= 0)
			work[n++] = prefix;
	}

	/* One code point at a time: a lead or ASCII byte plus continuations. */
	for (c = (const unsigned char *)text; *c; c++) {
		int id;

		if ((*c & 0xc0) != 0x80)
			str_len = 0;
		buf[str_len++] = (char)*c;
		buf[str_len] = '\0';
		/* Stop at 4 bytes so stray continuations cannot overrun buf. */
		if ((c[1] & 0xc0) == 0x80 && str_len < 4)
			continue;

		id = llm_tokenizer_lookup(tok, buf);
		if (id >= 0) {
			work[n++] = id;
		} else {
			for (i = 0; i < str_len; i++) {
				unsigned char byte = (unsigned char)buf[i];
				int byte_id = byte + LLM_BYTE_TOKEN_OFFSET;

				if (byte_id >= tok->vocab_size) {
					free(work);
					free(buf);
					return llm_set_error(-EINVAL,
							     "byte 0x%02x is not in the vocabulary and its fallback token %d is beyond its %d tokens",
							     byte, byte_id, tok->vocab_size);
				}
				work[n++] = byte_id;
			}
		}
		str_len = 0;
	}

	/* Merge the best-scoring adjacent pair until none is a token. */
	for (;;) {
		float best_score = -1e10f;
		size_t best_idx = SIZE_MAX;
		int best_id = -1;

		for (i = 0; i + 1 < n; i++) {
			size_t len_a = tok->vocab_len[work[i]];
			size_t len_b = tok->vocab_len[work[i + 1]];
			int id;

			/* No token is longer, so no lookup can succeed. */
			if (len_a + len_b > (size_t)tok->max_token_length)
				continue;
			memcpy(buf, tok->vocab[work[i]], len_a);
			memcpy(buf + len_a, tok->vocab[work[i + 1]], len_b);
			buf[len_a + len_b] = '\0';
			id = llm_tokenizer_lookup(tok, buf);
			if (id >= 0 && tok->scores[id] > best_score) {
				best_score = tok->scores[id];
				best_id = id;
				best_idx = i;
			}
		}
		if (best_idx == SIZE_MAX)
			break;
		work[best_idx] = best_id;
		memmove(&work[best_idx + 1], &work[best_idx + 2],
			(n - best_idx - 2) * sizeof(*work));
		n--;
	}
	if (eos)
		work[n++] = LLM_TOKEN_EOS;
	free(buf);

	if (n > max_tokens) {
		free(work);
		return llm_set_error(-ENOSPC, "encoding needs %zu tokens, the array holds %zu",
				     n, max_tokens);
	}
	memcpy(tokens, work, n * sizeof(*work));
	free(work);
	return (int)n;
}

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
	piece = tok->vocab[token];
	/* sentencepiece drops the dummy-prefix space after BOS. */
	if (prev_token == LLM_TOKEN_BOS && piece[0] == ' ')
		piece++;
	/* strncmp above stops at the NUL, so short pieces are safe. */
	byte = strlen(piece) == 6 ? llm_parse_byte_token(piece) : -1;
	if (byte >= 0)
		piece = &tok->byte_pieces[2 * byte];
	return piece;
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

int llm_safe_print(FILE *out, const char *piece)
{
	if (!llm_piece_is_printable(piece))
		return 0;
	if (fputs(piece, out) == EOF)
		return llm_set_error(-EIO, "cannot write generated text");
	return 0;
}
