/* SPDX-License-Identifier: MIT */
/*
 * The llama2.c tokenizer: the tokenizer.bin format and the encode/decode
 * rules of llama2.c's run.c (a byte-pair encoder over a sentencepiece
 * vocabulary whose "▁" was replaced by a space).
 *
 * tokenizer.bin (little-endian): int32 max_token_length, then for each
 * token: f32 merge score, int32 byte length, that many bytes (no NUL).
 * The file does not say how many tokens it has; the model does.
 */
#ifndef JAL_LLM_TOKENIZER_H
#define JAL_LLM_TOKENIZER_H

#include <stdio.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct llm_tokenizer;

/**
 * llm_tokenizer_parse() - load a tokenizer from memory
 * @data: the tokenizer.bin bytes (copied; need not outlive the result).
 * @size: bytes at @data.
 * @vocab_size: tokens to read: the model's vocab_size, in which case the
 *	data must hold exactly that many; or 0 to take every token present.
 * @tok_out: the tokenizer, freed with llm_tokenizer_close().
 *
 * Every token must be at most max_token_length bytes: run.c's merge
 * buffer is sized by it.
 *
 * Return: 0; -EINVAL (with a message) for a malformed or mismatched file;
 * -ENOMEM.
 */
int llm_tokenizer_parse(const void *data, size_t size, int vocab_size,
			struct llm_tokenizer **tok_out);

/**
 * llm_tokenizer_open() - load a tokenizer.bin file
 * @path: file name.
 * @vocab_size: as for llm_tokenizer_parse().
 * @tok_out: the tokenizer.
 *
 * Return: 0, -errno of open/read, or as llm_tokenizer_parse().
 */
int llm_tokenizer_open(const char *path, int vocab_size, struct llm_tokenizer **tok_out);

/** llm_tokenizer_close() - free a tokenizer */
void llm_tokenizer_close(struct llm_tokenizer *tok);

/** llm_tokenizer_vocab_size() - number of tokens (cannot fail) */
int llm_tokenizer_vocab_size(const struct llm_tokenizer *tok);

/** llm_tokenizer_max_token_length() - the file's max_token_length */
int llm_tokenizer_max_token_length(const struct llm_tokenizer *tok);

/**
 * llm_tokenizer_token() - the vocabulary string of a token
 * Return: the NUL-terminated string, or NULL if @id is out of range.
 */
const char *llm_tokenizer_token(const struct llm_tokenizer *tok, int id);

/**
 * llm_tokenizer_score() - the merge score of a token
 * Return: the score; 0 if @id is out of range.
 */
float llm_tokenizer_score(const struct llm_tokenizer *tok, int id);

/**
 * llm_tokenizer_lookup() - the token whose string is exactly @str
 * Return: its id (the lowest one if the vocabulary repeats a string), or
 * -1 if there is none.
 */
int llm_tokenizer_lookup(const struct llm_tokenizer *tok, const char *str);

/* Worst-case token count of encoding text of @text_len bytes. */
static inline size_t llm_tokenizer_max_tokens(size_t text_len)
{
	return text_len + 3;	/* one per byte, BOS, dummy prefix, EOS */
}

/**
 * llm_tokenizer_encode() - encode text exactly like run.c's encode()
 * @tok: the tokenizer.
 * @text: NUL-terminated UTF-8 (invalid UTF-8 is encoded byte by byte).
 * @bos: start with BOS (token 1).
 * @eos: end with EOS (token 2).
 * @tokens: output array.
 * @max_tokens: its capacity; llm_tokenizer_max_tokens(strlen(text)) is
 *	always enough.
 *
 * The rules, as run.c: optional BOS; if @text is not empty the token of
 * " " (sentencepiece's add_dummy_prefix); each UTF-8 code point (at most
 * four bytes) as its token, or as byte tokens (byte value + 3) if the
 * vocabulary lacks it; then, repeatedly, the adjacent pair whose
 * concatenation is a token with the highest score (leftmost on ties) is
 * merged until no pair is a token; optional EOS.
 * Unlike run.c, a vocabulary without a " " token just gets no prefix
 * token (run.c would emit id -1).
 *
 * Return: the number of tokens; -EINVAL if a byte needs a fallback token
 * beyond the vocabulary; -ENOSPC if @max_tokens is too small; -ENOMEM.
 */
int llm_tokenizer_encode(const struct llm_tokenizer *tok, const char *text, bool bos,
			 bool eos, int *tokens, size_t max_tokens);

/**
 * llm_tokenizer_decode() - the text of @token following @prev_token, as
 *	run.c's decode()
 *
 * After BOS the leading space of a piece is dropped (sentencepiece strips
 * the dummy prefix), and a raw-byte token "<0xHH>" becomes that single
 * byte (so the piece of <0x00> is the empty string).
 *
 * Return: a NUL-terminated piece owned by the tokenizer, or NULL if
 * @token is out of range.
 */
const char *llm_tokenizer_decode(const struct llm_tokenizer *tok, int prev_token, int token);

/**
 * llm_piece_is_printable() - whether run.c's safe_printf() prints @piece
 *
 * False for NULL, for "" and for a single byte that is neither printable
 * ASCII nor whitespace (control codes such as backspace from raw-byte
 * tokens); true for everything else. Locale-independent (the C locale's
 * isprint()/isspace()).
 */
bool llm_piece_is_printable(const char *piece);

/**
 * llm_safe_print() - write @piece to @out if llm_piece_is_printable()
 * Return: 0, or -EIO if the write failed.
 */
int llm_safe_print(FILE *out, const char *piece);

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_TOKENIZER_H */
