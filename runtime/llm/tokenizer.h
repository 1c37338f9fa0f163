/* SPDX-License-Identifier: MIT */
/*
 * Tokenizers of two kinds behind one struct llm_tokenizer:
 *
 * - sentencepiece-style (llama2.c's tokenizer.bin, and GGUF files whose
 *   tokenizer.ggml.model is "llama"): the encode/decode rules of llama2.c's
 *   run.c, a byte-pair encoder over a sentencepiece vocabulary whose "▁"
 *   was replaced by a space, merging by score, with <0xNN> byte fallback.
 *
 * - byte-level BPE (GGUF "gpt2": Llama 3, Qwen2): tokens spelled in
 *   GPT-2's byte-to-character alphabet, merged by the rank of
 *   tokenizer.ggml.merges within the words of a pre-tokenizer
 *   (tokenizer.ggml.pre "llama-bpe" or "qwen2", written out in C).
 *
 * tokenizer.bin (little-endian): int32 max_token_length, then for each
 * token: f32 merge score, int32 byte length, that many bytes (no NUL).
 * The file does not say how many tokens it has; the model does.
 *
 * Chat templates (llm_chat_*) are at the end: the conversations of the
 * template families models ship, rendered as text for the encoder.
 */
#ifndef JAL_LLM_TOKENIZER_H
#define JAL_LLM_TOKENIZER_H

#include <stdio.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct llm_tokenizer;

/* What encodes: llm_tokenizer_kind(). */
enum llm_tokenizer_kind {
	LLM_TOKENIZER_SPM,	/* llama2.c / sentencepiece "llama" */
	LLM_TOKENIZER_BPE,	/* byte-level BPE "gpt2" */
};

/* The pre-tokenizer (word splitting) of a byte-level BPE vocabulary. */
enum llm_pretokenizer {
	LLM_PRE_LLAMA3,		/* "llama-bpe": digits in runs of up to 3 */
	LLM_PRE_QWEN2,		/* "qwen2": each digit alone */
};

/* llama.cpp's token types (tokenizer.ggml.token_type). */
enum llm_token_type {
	LLM_TOKEN_TYPE_UNDEFINED = 0,
	LLM_TOKEN_TYPE_NORMAL = 1,
	LLM_TOKEN_TYPE_UNKNOWN = 2,
	LLM_TOKEN_TYPE_CONTROL = 3,
	LLM_TOKEN_TYPE_USER_DEFINED = 4,
	LLM_TOKEN_TYPE_UNUSED = 5,
	LLM_TOKEN_TYPE_BYTE = 6,
};

/**
 * struct llm_vocab_desc - a vocabulary as GGUF files describe it
 * @kind: SPM or BPE.
 * @pre: BPE only.
 * @n_tokens: entries of @tokens (and of @token_lens, @scores, @types).
 * @tokens, @token_lens: the strings as stored (SPM: with U+2581 for a
 *	space; BPE: in the byte alphabet), not necessarily NUL-terminated.
 * @scores: SPM merge scores, or NULL (all 0).
 * @types: enum llm_token_type of each, or NULL (all normal).
 * @n_merges, @merges, @merge_lens: BPE: "LEFT RIGHT" strings, best first.
 * @bos, @eos, @eot: special ids, -1 for none (SPM: -1 means 1 and 2).
 * @no_bos: tokenizer.ggml.add_bos_token is false (Qwen2): LLM_ENCODE_BOS
 *	adds nothing.
 * @no_prefix: SPM: tokenizer.ggml.add_space_prefix is false: no dummy
 *	prefix space.
 * @chat_template, @chat_template_len: tokenizer.ggml.chat_template (the
 *	Jinja text, copied), or NULL.
 *
 * SPM byte fallback uses the <0xNN> tokens wherever they are (a
 * tokenizer.bin's are at byte + 3, run.c's assumption).
 */
struct llm_vocab_desc {
	enum llm_tokenizer_kind kind;
	enum llm_pretokenizer pre;
	int n_tokens;
	const char *const *tokens;
	const size_t *token_lens;
	const float *scores;
	const int32_t *types;
	int n_merges;
	const char *const *merges;
	const size_t *merge_lens;
	int bos, eos, eot;
	bool no_bos;
	bool no_prefix;
	const char *chat_template;
	size_t chat_template_len;
};

/**
 * llm_tokenizer_create() - a tokenizer from a described vocabulary
 * Return: 0; -EINVAL with a message (a merge naming a token that does not
 * exist, a special id out of range, a BPE vocabulary without the 256 byte
 * characters, ...); -ENOMEM.
 */
int llm_tokenizer_create(const struct llm_vocab_desc *desc, struct llm_tokenizer **tok_out);

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

/** llm_tokenizer_kind() - SPM or BPE */
enum llm_tokenizer_kind llm_tokenizer_kind(const struct llm_tokenizer *tok);

/**
 * llm_tokenizer_chat_template() - the vocabulary's tokenizer.chat_template
 *	(Jinja text, NUL-terminated), or NULL; see llm_chat_template_detect()
 */
const char *llm_tokenizer_chat_template(const struct llm_tokenizer *tok);

/** llm_tokenizer_pre() - a BPE vocabulary's pre-tokenizer */
enum llm_pretokenizer llm_tokenizer_pre(const struct llm_tokenizer *tok);

/** llm_tokenizer_adds_bos() - whether LLM_ENCODE_BOS adds BOS (add_bos_token) */
bool llm_tokenizer_adds_bos(const struct llm_tokenizer *tok);

/**
 * llm_tokenizer_n_merges() / llm_tokenizer_merge() - a BPE vocabulary's
 *	merges, by rank: the pair of ids merged at @rank; false for a rank out
 *	of range or a repeat of an earlier pair (which never applies)
 */
int llm_tokenizer_n_merges(const struct llm_tokenizer *tok);
bool llm_tokenizer_merge(const struct llm_tokenizer *tok, int rank, int *left, int *right);

/**
 * llm_tokenizer_bos() / _eos() / _eot() - special ids
 *
 * BOS and EOS are 1 and 2 for a llama2.c tokenizer; EOT (the chat
 * templates' end of a turn, Llama 3's <|eot_id|>) is -1 when the
 * vocabulary has none.
 */
int llm_tokenizer_bos(const struct llm_tokenizer *tok);
int llm_tokenizer_eos(const struct llm_tokenizer *tok);
int llm_tokenizer_eot(const struct llm_tokenizer *tok);

/**
 * llm_tokenizer_is_eog() - whether @id ends generated text
 *
 * A llama2.c tokenizer.bin: BOS only (run.c's rule: the model starts its
 * next text with it). A GGUF vocabulary: EOS or EOT, and BOS too for a
 * sentencepiece one (llama2.c models converted to GGUF still end with it).
 */
bool llm_tokenizer_is_eog(const struct llm_tokenizer *tok, int id);

/** llm_tokenizer_token_type() - enum llm_token_type of @id (UNDEFINED if out of range) */
int llm_tokenizer_token_type(const struct llm_tokenizer *tok, int id);

/*
 * Worst-case token count of encoding text of @text_len bytes (without
 * LLM_ENCODE_SPECIAL; with it, a sentencepiece vocabulary may need up to
 * 2 * @text_len + 2: a dummy prefix after every special token).
 */
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

/* llm_tokenizer_encode_flags() flags */
/* Start with BOS, if the vocabulary's model wants one (add_bos_token). */
#define LLM_ENCODE_BOS		(1u << 0)
#define LLM_ENCODE_EOS		(1u << 1)	/* end with EOS */
/*
 * Control and user-defined tokens spelled out in the text ("<|eot_id|>",
 * "<s>") become those tokens, for text a chat template rendered; without
 * this flag they are text like any other (what users send must not forge
 * a turn).
 */
#define LLM_ENCODE_SPECIAL	(1u << 2)

/**
 * llm_tokenizer_encode_flags() - llm_tokenizer_encode() with LLM_ENCODE_*
 *
 * SPM: as llm_tokenizer_encode(); with LLM_ENCODE_SPECIAL each stretch of
 * text after a special token gets its own dummy-prefix space, as llama.cpp
 * and Hugging Face's (legacy) Llama tokenizer do.
 * BPE: the pre-tokenizer's words, each encoded by merging its byte
 * characters' adjacent pairs lowest rank first (leftmost on ties); with
 * "llama-bpe" a word that is itself a token is that token (Llama 3's
 * ignore_merges). Never a dummy prefix.
 *
 * Return: as llm_tokenizer_encode().
 */
int llm_tokenizer_encode_flags(const struct llm_tokenizer *tok, const char *text,
			       unsigned int flags, int *tokens, size_t max_tokens);

/**
 * llm_pretokenize() - the words a BPE pre-tokenizer splits @text into
 * @pre: the rules.
 * @text, @len: the bytes (malformed UTF-8 is one "other" character a byte).
 * @ends: out: the end offset of each word, the first @max of them.
 *
 * Return: the number of words (also those beyond @max).
 */
size_t llm_pretokenize(enum llm_pretokenizer pre, const char *text, size_t len, size_t *ends,
		       size_t max);

/**
 * llm_tokenizer_decode() - the text of @token following @prev_token, as
 *	run.c's decode()
 *
 * After BOS the leading space of a piece is dropped (sentencepiece strips
 * the dummy prefix), and a raw-byte token "<0xHH>" becomes that single
 * byte (so the piece of <0x00> is the empty string).
 *
 * BPE: the token's bytes (a lone byte of a multi-byte character is that
 * byte: concatenated pieces are the text exactly); control tokens (BOS,
 * <|eot_id|>, ...) are the empty string; @prev_token does not matter.
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
 * llm_tokenizer_piece_is_printable() - whether to show @piece of @tok
 *
 * A llama2.c-style vocabulary: llm_piece_is_printable() (run.c's rule).
 * Byte-level BPE: a lone byte of 0x80 and up is part of a character split
 * across tokens and must be shown (CJK, emoji); only "" and lone control
 * bytes other than whitespace are not.
 */
bool llm_tokenizer_piece_is_printable(const struct llm_tokenizer *tok, const char *piece);

/**
 * llm_safe_print() - write @piece to @out if llm_piece_is_printable()
 * Return: 0, or -EIO if the write failed.
 */
int llm_safe_print(FILE *out, const char *piece);

/* ---- chat templates -------------------------------------------------------- */

/* The conversation formats llm_chat_render() writes. */
enum llm_chat_template {
	LLM_CHAT_PLAIN,		/* llama2.c models: "User: ...\nAssistant:" */
	LLM_CHAT_LLAMA2,	/* <s>[INST] <<SYS>>\n..\n<</SYS>>\n\n.. [/INST] .. </s> */
	LLM_CHAT_LLAMA3,	/* <|start_header_id|>role<|end_header_id|>\n\n..<|eot_id|> */
	LLM_CHAT_CHATML,	/* <|im_start|>role\n..<|im_end|>\n */
};

/**
 * llm_chat_template_detect() - the family of a Jinja chat template
 * @jinja: tokenizer.chat_template, or NULL.
 *
 * By the markers each family's template contains, not by running it:
 * "<|start_header_id|>" is Llama 3, "<|im_start|>" ChatML, "[INST]"
 * Llama 2; anything else (and NULL) the plain template.
 */
enum llm_chat_template llm_chat_template_detect(const char *jinja);

/** llm_chat_template_name() - "plain", "llama2", "llama3" or "chatml" */
const char *llm_chat_template_name(enum llm_chat_template t);

/**
 * llm_chat_template_eot() - the text of the token that ends an assistant
 *	turn ("</s>", "<|eot_id|>", "<|im_end|>"), or NULL (plain)
 */
const char *llm_chat_template_eot(enum llm_chat_template t);

/** struct llm_chat_message - a message: role "system", "user" or "assistant" */
struct llm_chat_message {
	const char *role;
	const char *content;
};

/**
 * llm_chat_render() - a conversation as the template's text
 * @t: the template.
 * @msgs, @n: the messages; role "developer" counts as "system".
 * @out: out: the malloc()ed NUL-terminated text, ending with the
 *	assistant's turn opened for generation.
 *
 * LLAMA2, LLAMA3: the text starts with BOS spelled out ("<s>",
 * "<|begin_of_text|>"): encode it with LLM_ENCODE_SPECIAL and without
 * LLM_ENCODE_BOS. PLAIN: encode with LLM_ENCODE_BOS, without SPECIAL.
 * CHATML has no BOS. Contents are trimmed of surrounding whitespace for
 * LLAMA2 and LLAMA3, as their templates do.
 *
 * Return: 0; -EINVAL (with a message) for an unknown role or, in LLAMA2, a
 * conversation that does not alternate user/assistant after the system
 * message; -ENOMEM.
 */
int llm_chat_render(enum llm_chat_template t, const struct llm_chat_message *msgs, size_t n,
		    char **out);

/**
 * llm_chat_encode() - llm_chat_render() then the encoding of the text
 * @tok: the vocabulary.
 * @tokens_out: out: the malloc()ed ids.
 *
 * PLAIN: with BOS, as text. The others: the template's own markers
 * ("<|eot_id|>", "<s>") are their special tokens, and nothing in a
 * message's text is (it cannot forge a turn); otherwise the ids are those
 * of encoding the rendered text with LLM_ENCODE_SPECIAL.
 *
 * Return: the number of ids, or as llm_chat_render() and
 * llm_tokenizer_encode_flags().
 */
int llm_chat_encode(const struct llm_tokenizer *tok, enum llm_chat_template t,
		    const struct llm_chat_message *msgs, size_t n, int **tokens_out);

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_TOKENIZER_H */
