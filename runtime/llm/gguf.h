/* SPDX-License-Identifier: MIT */
/*
 * GGUF files (llama.cpp's model format), version 3 (and 2, which has the
 * same little-endian layout): a memory-mapped reader, conversion of the
 * common tensor types to f32, and a small writer.
 *
 * Layout (little-endian), from the published format description:
 *
 *	"GGUF"  u32 version  u64 tensor_count  u64 metadata_kv_count
 *	metadata_kv_count x { string key, u32 value_type, value }
 *	tensor_count x { string name, u32 n_dims, u64 dims[n_dims],
 *			 u32 ggml_type, u64 offset }
 *	padding to general.alignment (32 when absent)
 *	tensor data; each tensor at data_start + offset, offset a multiple
 *	of the alignment
 *
 * A string is a u64 length and that many bytes (no NUL). A value is one
 * of the scalar types below, a string, or an array: u32 element type, u64
 * count, the elements. dims[0] is the fastest-varying dimension: a matrix
 * of R rows of C columns has dims { C, R }.
 *
 * The reader never trusts the file: every length, count and offset is
 * checked against the mapping with overflow-checked arithmetic before it
 * is used, allocations are bounded by the file's size, and a bad file
 * fails gguf_open() with -EINVAL and a message naming the problem
 * (llm_last_error_message()).
 */
#ifndef JAL_LLM_GGUF_H
#define JAL_LLM_GGUF_H

#include <stdio.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GGUF_MAGIC		"GGUF"
#define GGUF_VERSION		3
#define GGUF_DEFAULT_ALIGNMENT	32
#define GGUF_MAX_DIMS		4

/* Metadata value types. */
enum gguf_value_type {
	GGUF_VAL_UINT8 = 0,
	GGUF_VAL_INT8 = 1,
	GGUF_VAL_UINT16 = 2,
	GGUF_VAL_INT16 = 3,
	GGUF_VAL_UINT32 = 4,
	GGUF_VAL_INT32 = 5,
	GGUF_VAL_FLOAT32 = 6,
	GGUF_VAL_BOOL = 7,
	GGUF_VAL_STRING = 8,
	GGUF_VAL_ARRAY = 9,
	GGUF_VAL_UINT64 = 10,
	GGUF_VAL_INT64 = 11,
	GGUF_VAL_FLOAT64 = 12,
	GGUF_VAL_COUNT
};

/*
 * ggml tensor types. The reader knows the block size and bytes of every
 * type listed in the format description (so files mixing in other types
 * still open), but converts only the "supported" ones (gguf_type_supported()).
 */
enum ggml_type {
	GGML_TYPE_F32 = 0,
	GGML_TYPE_F16 = 1,
	GGML_TYPE_Q4_0 = 2,
	GGML_TYPE_Q4_1 = 3,
	GGML_TYPE_Q5_0 = 6,
	GGML_TYPE_Q5_1 = 7,
	GGML_TYPE_Q8_0 = 8,
	GGML_TYPE_Q8_1 = 9,
	GGML_TYPE_Q2_K = 10,
	GGML_TYPE_Q3_K = 11,
	GGML_TYPE_Q4_K = 12,
	GGML_TYPE_Q5_K = 13,
	GGML_TYPE_Q6_K = 14,
	GGML_TYPE_Q8_K = 15,
	GGML_TYPE_BF16 = 30,
};

/* Elements per block of the block-quantised types. */
#define GGML_QK8_0	32
#define GGML_QK4_0	32
#define GGML_QK_K	256

/* Bytes per block. */
#define GGML_Q8_0_BYTES	34	/* f16 d, int8 qs[32] */
#define GGML_Q4_0_BYTES	18	/* f16 d, u8 qs[16] */
#define GGML_Q4_K_BYTES	144	/* f16 d, f16 dmin, u8 scales[12], u8 qs[128] */
#define GGML_Q6_K_BYTES	210	/* u8 ql[128], u8 qh[64], int8 scales[16], f16 d */

/** gguf_type_name() - "F32", "Q8_0", ... or NULL for an unknown number */
const char *gguf_type_name(uint32_t type);
/** gguf_type_block() - elements per block (1 for F32/F16/BF16), 0 if unknown */
uint32_t gguf_type_block(uint32_t type);
/** gguf_type_block_bytes() - bytes per block, 0 if unknown */
uint32_t gguf_type_block_bytes(uint32_t type);
/** gguf_type_supported() - F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K */
bool gguf_type_supported(uint32_t type);
/** gguf_value_type_name() - "uint8" .. "float64", or NULL */
const char *gguf_value_type_name(uint32_t type);

/* A string in the file: not NUL-terminated. */
struct gguf_str {
	const char *ptr;
	uint64_t len;
};

/**
 * struct gguf_kv - one metadata entry
 * @key: its name.
 * @type: enum gguf_value_type.
 * @array_type: for GGUF_VAL_ARRAY, the element type (never ARRAY).
 * @count: for arrays the element count, else 1.
 * @data: the value as stored (after the type fields): scalars and arrays
 *	of scalars as little-endian bytes (possibly unaligned), a string as
 *	its u64 length then bytes, an array of strings as such strings.
 * @bytes: bytes at @data.
 */
struct gguf_kv {
	struct gguf_str key;
	uint32_t type;
	uint32_t array_type;
	uint64_t count;
	const uint8_t *data;
	uint64_t bytes;
};

/**
 * struct gguf_tensor - one tensor
 * @name: its name.
 * @type: enum ggml_type (possibly one gguf_type_supported() rejects).
 * @n_dims: 1..GGUF_MAX_DIMS.
 * @dims: sizes, fastest-varying first; unused ones 1.
 * @elements: product of the dims.
 * @offset: relative to the data section, as stored.
 * @data: pointer into the mapping.
 * @bytes: bytes of its data.
 */
struct gguf_tensor {
	struct gguf_str name;
	uint32_t type;
	uint32_t n_dims;
	uint64_t dims[GGUF_MAX_DIMS];
	uint64_t elements;
	uint64_t offset;
	const void *data;
	uint64_t bytes;
};

/**
 * struct gguf_file - an open file
 * @version: 2 or 3.
 * @alignment: of the data section and of every tensor offset.
 * @n_kv / @kv: the metadata, in file order.
 * @n_tensors / @tensors: the tensors, in file order.
 * @data_offset: file offset of the data section.
 * @base / @size: the mapping (or caller memory) and its length.
 */
struct gguf_file {
	uint32_t version;
	uint32_t alignment;
	uint64_t n_kv;
	struct gguf_kv *kv;
	uint64_t n_tensors;
	struct gguf_tensor *tensors;
	uint64_t data_offset;
	const uint8_t *base;
	size_t size;
	/* private */
	bool mapped;
	struct gguf_tensor **by_name;	/* sorted, for lookups */
};

/**
 * gguf_is_gguf() - whether @data starts with the GGUF magic
 * @size: bytes at @data (fewer than 4: false).
 */
bool gguf_is_gguf(const void *data, size_t size);

/**
 * gguf_parse() - validate a GGUF image in memory
 * @data: the file's bytes; must outlive the result.
 * @size: bytes at @data.
 * @out: the file, freed with gguf_close() (which does not free @data).
 *
 * Return: 0; -EINVAL (message names the problem); -ENOMEM.
 */
int gguf_parse(const void *data, size_t size, struct gguf_file **out);

/**
 * gguf_open() - map a GGUF file read-only and validate it
 * @path: file name.
 * @out: the file, released with gguf_close().
 *
 * Return: 0; -errno of open/fstat/mmap; -EINVAL for a file that is not
 * valid GGUF (the message names the file and the problem); -ENOMEM.
 */
int gguf_open(const char *path, struct gguf_file **out);

/** gguf_close() - unmap (if mapped) and free; NULL is fine */
void gguf_close(struct gguf_file *g);

/** gguf_find_kv() - the entry of @key, or NULL */
const struct gguf_kv *gguf_find_kv(const struct gguf_file *g, const char *key);

/*
 * Typed getters. Each returns 0 and sets *out; -ENOENT (no message) when
 * the key is absent; -EINVAL with a message naming the key when its type
 * does not fit:
 * - gguf_get_u64(): any integer type with a value >= 0 (bool too).
 * - gguf_get_u32(): the same, value <= UINT32_MAX.
 * - gguf_get_i64(): any integer type whose value fits.
 * - gguf_get_f32(): float32, or float64 (rounded).
 * - gguf_get_bool(): bool.
 * - gguf_get_str(): string (pointer into the mapping, not NUL-terminated).
 * - gguf_get_array(): an array; *type, *count and *data (the elements as
 *   stored) set.
 */
int gguf_get_u64(const struct gguf_file *g, const char *key, uint64_t *out);
int gguf_get_u32(const struct gguf_file *g, const char *key, uint32_t *out);
int gguf_get_i64(const struct gguf_file *g, const char *key, int64_t *out);
int gguf_get_f32(const struct gguf_file *g, const char *key, float *out);
int gguf_get_bool(const struct gguf_file *g, const char *key, bool *out);
int gguf_get_str(const struct gguf_file *g, const char *key, struct gguf_str *out);
int gguf_get_array(const struct gguf_file *g, const char *key, uint32_t *type,
		   uint64_t *count, const uint8_t **data);

/**
 * gguf_str_eq() - whether @s equals the C string @c
 */
bool gguf_str_eq(struct gguf_str s, const char *c);

/**
 * gguf_kv_array_strings() - the strings of a string-array entry
 * @kv: an entry of type ARRAY of STRING.
 * @out: @max entries; the first min(count, max) are set.
 *
 * Return: the count, or -EINVAL if @kv is not an array of strings.
 */
int64_t gguf_kv_array_strings(const struct gguf_kv *kv, struct gguf_str *out, uint64_t max);

/**
 * gguf_kv_array_f32() / gguf_kv_array_i32() - elements @i of arrays of
 *	float32 / int32 (callers check type and count first)
 */
float gguf_kv_array_f32(const struct gguf_kv *kv, uint64_t i);
int32_t gguf_kv_array_i32(const struct gguf_kv *kv, uint64_t i);

/** gguf_find_tensor() - the tensor named @name, or NULL */
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *g, const char *name);

/* ---- conversion ---------------------------------------------------------- */

/** gguf_f16_to_f32() - IEEE half to float (exact; subnormals, inf, NaN) */
float gguf_f16_to_f32(uint16_t h);
/** gguf_f32_to_f16() - float to IEEE half, round to nearest even */
uint16_t gguf_f32_to_f16(float f);
/** gguf_bf16_to_f32() - bfloat16 to float (exact) */
float gguf_bf16_to_f32(uint16_t h);

/**
 * gguf_dequantize() - f32 values of @n elements of a tensor of @type
 * @type: a type gguf_type_supported() accepts.
 * @src: the stored bytes (any alignment), starting at a block boundary.
 * @dst: @n floats.
 * @n: a multiple of the type's block size.
 *
 * As ggml's reference dequantisers: Q8_0 q * d; Q4_0 (nibble - 8) * d
 * (low nibbles are elements 0..15, high ones 16..31); Q4_K eight groups of
 * 32 with 6-bit scales and mins, d * scale * q - dmin * min; Q6_K sixteen
 * groups of 16, d * scale * (q - 32).
 *
 * Return: 0, or -EINVAL (with a message) for an unsupported type or an @n
 * that is not a whole number of blocks.
 */
int gguf_dequantize(uint32_t type, const void *src, float *dst, uint64_t n);

/**
 * gguf_q8_0_split() - Q8_0 blocks as int8 values and f32 scales (groups of
 *	32): the layout of libjalrt's Q8 tensors and the chip's
 * @src: @n / 32 blocks.
 * @q: out: @n values.
 * @scales: out: @n / 32 scales, each the block's f16 d exactly.
 * @n: a multiple of 32.
 *
 * q * scale is then exactly what gguf_dequantize() gives.
 */
void gguf_q8_0_split(const void *src, uint64_t n, int8_t *q, float *scales);

/**
 * gguf_quantize_q8_0() - llama.cpp's reference Q8_0 quantiser
 * @dst: @n / 32 blocks of GGML_Q8_0_BYTES.
 * @src: @n floats, @n a multiple of 32.
 *
 * Per block: d = max|x| / 127, q = roundf(x * (1 / d)) (0 for d = 0), d
 * stored as f16.
 */
void gguf_quantize_q8_0(void *dst, const float *src, uint64_t n);

/**
 * gguf_q4_0_split() - Q4_0 blocks as the chip's Q4 layout: the 16 bytes of
 *	nibbles of each block as they are (the chip's order is Q4_0's) and
 *	its f16 d widened to f32, exactly
 * @src: @n / 32 blocks.
 * @packed: out: @n / 2 bytes.
 * @scales: out: @n / 32 scales.
 * @n: a multiple of 32.
 */
void gguf_q4_0_split(const void *src, uint64_t n, uint8_t *packed, float *scales);

/**
 * gguf_quantize_q4_0() - Q4_0 blocks of @n floats (@n a multiple of 32)
 *
 * libjalrt's int4 rule (quant.h llm_quantize_q4()) with the scale as the
 * file stores it: d = f16(m / -8) for m the value of largest magnitude,
 * q = roundf(x / d) clamped to -8..7 (0 for d = 0), nibble q + 8.
 */
void gguf_quantize_q4_0(void *dst, const float *src, uint64_t n);

/* ---- writer --------------------------------------------------------------- */

struct gguf_writer;

/**
 * gguf_writer_create() - start a file's description
 * @alignment: data alignment, a power of two; written as general.alignment
 *	unless it is the default 32.
 * Return: the writer, or NULL (out of memory; message set).
 */
struct gguf_writer *gguf_writer_create(uint32_t alignment);
void gguf_writer_destroy(struct gguf_writer *w);

/* Metadata, in the order added. Return 0 or -ENOMEM. */
int gguf_writer_str(struct gguf_writer *w, const char *key, const char *value);
int gguf_writer_u32(struct gguf_writer *w, const char *key, uint32_t value);
int gguf_writer_f32(struct gguf_writer *w, const char *key, float value);
int gguf_writer_bool(struct gguf_writer *w, const char *key, bool value);
/* Arrays of f32 or i32 (@type GGUF_VAL_FLOAT32 or GGUF_VAL_INT32). */
int gguf_writer_array(struct gguf_writer *w, const char *key, uint32_t type, const void *values,
		      uint64_t count);
/* An array of @count strings of @lens[i] bytes each. */
int gguf_writer_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
			  const uint64_t *lens, uint64_t count);

/**
 * gguf_writer_tensor() - declare the next tensor (data written later, in
 *	this order)
 * @dims: @n_dims sizes, fastest-varying first.
 * Return: 0, -EINVAL (bad type or shape) or -ENOMEM.
 */
int gguf_writer_tensor(struct gguf_writer *w, const char *name, uint32_t type,
		       uint32_t n_dims, const uint64_t *dims);

/**
 * gguf_writer_begin() - write header, metadata, tensor infos and the
 *	padding before the data
 * Return: 0 or -EIO.
 */
int gguf_writer_begin(struct gguf_writer *w, FILE *f);

/**
 * gguf_writer_data() - the data of the next declared tensor
 * @data: exactly its bytes.
 * @bytes: must equal the declared tensor's size.
 * Return: 0, -EINVAL (size mismatch, no tensor left) or -EIO.
 */
int gguf_writer_data(struct gguf_writer *w, FILE *f, const void *data, uint64_t bytes);

/** gguf_tensor_bytes() - bytes of @elements of @type (0 if unknown or partial block) */
uint64_t gguf_tensor_bytes(uint32_t type, uint64_t elements);

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_GGUF_H */
