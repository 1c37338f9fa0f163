// SPDX-License-Identifier: MIT
/*
 * A small GGUF writer (gguf.h): metadata is serialized as it is added,
 * tensor infos get offsets in declaration order (each aligned), and the
 * data is streamed afterwards, tensor by tensor.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

struct gguf_wtensor {
	char *name;
	uint32_t type, n_dims;
	uint64_t dims[GGUF_MAX_DIMS];
	uint64_t offset, bytes;
};

struct gguf_writer {
	uint32_t alignment;
	uint8_t *kv;
	size_t kv_len, kv_cap;
	uint64_t n_kv;
	struct gguf_wtensor *t;
	uint64_t n_t, cap_t;
	uint64_t data_size;	/* of the data section so far */
	uint64_t next;		/* tensor whose data comes next */
	uint64_t written;	/* bytes of the data section written */
};

static int buf_put(struct gguf_writer *w, const void *p, size_t n)
{
	if (w->kv_len + n > w->kv_cap) {
		size_t cap = w->kv_cap ? w->kv_cap : 256;
		uint8_t *nb;

		while (cap < w->kv_len + n)
			cap *= 2;
		nb = realloc(w->kv, cap);
		if (!nb)
			return llm_set_error(-ENOMEM, "out of memory writing GGUF metadata");
		w->kv = nb;
		w->kv_cap = cap;
	}
	memcpy(w->kv + w->kv_len, p, n);
	w->kv_len += n;
	return 0;
}

static int put_u32(struct gguf_writer *w, uint32_t v)
{
	return buf_put(w, &v, 4);
}

static int put_u64(struct gguf_writer *w, uint64_t v)
{
	return buf_put(w, &v, 8);
}

static int put_str(struct gguf_writer *w, const char *s, uint64_t len)
{
	return put_u64(w, len) || buf_put(w, s, len) ? -ENOMEM : 0;
}

static int put_key(struct gguf_writer *w, const char *key, uint32_t type)
{
	w->n_kv++;
	return put_str(w, key, strlen(key)) || put_u32(w, type) ? -ENOMEM : 0;
}

struct gguf_writer *gguf_writer_create(uint32_t alignment)
{
	struct gguf_writer *w;

	if (!alignment || (alignment & (alignment - 1))) {
		llm_set_error(-EINVAL, "GGUF alignment %u is not a power of two", alignment);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		llm_set_error(-ENOMEM, "out of memory");
		return NULL;
	}
	w->alignment = alignment;
	if (alignment != GGUF_DEFAULT_ALIGNMENT && gguf_writer_u32(w, "general.alignment", alignment)) {
		gguf_writer_destroy(w);
		return NULL;
	}
	return w;
}

void gguf_writer_destroy(struct gguf_writer *w)
{
	uint64_t i;

	if (!w)
		return;
	for (i = 0; i < w->n_t; i++)
		free(w->t[i].name);
	free(w->t);
	free(w->kv);
	free(w);
}

int gguf_writer_str(struct gguf_writer *w, const char *key, const char *value)
{
	return put_key(w, key, GGUF_VAL_STRING) || put_str(w, value, strlen(value)) ? -ENOMEM : 0;
}

int gguf_writer_u32(struct gguf_writer *w, const char *key, uint32_t value)
{
	return put_key(w, key, GGUF_VAL_UINT32) || put_u32(w, value) ? -ENOMEM : 0;
}

int gguf_writer_f32(struct gguf_writer *w, const char *key, float value)
{
	return put_key(w, key, GGUF_VAL_FLOAT32) || buf_put(w, &value, 4) ? -ENOMEM : 0;
}

int gguf_writer_bool(struct gguf_writer *w, const char *key, bool value)
{
	uint8_t v = value;

	return put_key(w, key, GGUF_VAL_BOOL) || buf_put(w, &v, 1) ? -ENOMEM : 0;
}

int gguf_writer_array(struct gguf_writer *w, const char *key, uint32_t type, const void *values,
		      uint64_t count)
{
	if (type != GGUF_VAL_FLOAT32 && type != GGUF_VAL_INT32 && type != GGUF_VAL_UINT32)
		return llm_set_error(-EINVAL, "GGUF writer: arrays of %s are not supported",
				     gguf_value_type_name(type) ? gguf_value_type_name(type) : "?");
	return put_key(w, key, GGUF_VAL_ARRAY) || put_u32(w, type) || put_u64(w, count) ||
	       buf_put(w, values, count * 4) ? -ENOMEM : 0;
}

int gguf_writer_str_array(struct gguf_writer *w, const char *key, const char *const *strs,
			  const uint64_t *lens, uint64_t count)
{
	uint64_t i;

	if (put_key(w, key, GGUF_VAL_ARRAY) || put_u32(w, GGUF_VAL_STRING) || put_u64(w, count))
		return -ENOMEM;
	for (i = 0; i < count; i++)
		if (put_str(w, strs[i], lens[i]))
			return -ENOMEM;
	return 0;
}

int gguf_writer_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
		       const uint64_t *dims)
{
	struct gguf_wtensor *t;
	uint64_t elements = 1, pad;
	uint32_t d;

	if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
		return llm_set_error(-EINVAL, "GGUF writer: tensor %s has %u dims", name, n_dims);
	for (d = 0; d < n_dims; d++)
		if (!dims[d] || __builtin_mul_overflow(elements, dims[d], &elements))
			return llm_set_error(-EINVAL, "GGUF writer: tensor %s: bad dims", name);
	if (!gguf_type_name(type) || dims[0] % gguf_type_block(type) ||
	    !gguf_tensor_bytes(type, elements))
		return llm_set_error(-EINVAL, "GGUF writer: tensor %s: type %u does not fit its rows",
				     name, type);
	if (w->n_t == w->cap_t) {
		uint64_t cap = w->cap_t ? 2 * w->cap_t : 16;
		struct gguf_wtensor *nt = realloc(w->t, cap * sizeof(*nt));

		if (!nt)
			return llm_set_error(-ENOMEM, "out of memory");
		w->t = nt;
		w->cap_t = cap;
	}
	t = &w->t[w->n_t];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	if (!t->name)
		return llm_set_error(-ENOMEM, "out of memory");
	t->type = type;
	t->n_dims = n_dims;
	memcpy(t->dims, dims, n_dims * sizeof(dims[0]));
	t->bytes = gguf_tensor_bytes(type, elements);
	pad = (w->alignment - w->data_size % w->alignment) % w->alignment;
	t->offset = w->data_size + pad;
	w->data_size = t->offset + t->bytes;
	w->n_t++;
	return 0;
}

static int wr(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -EIO;
}

static int wr_pad(FILE *f, uint64_t n)
{
	static const uint8_t zeros[64];

	while (n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);

		if (wr(f, zeros, k))
			return -EIO;
		n -= k;
	}
	return 0;
}

int gguf_writer_begin(struct gguf_writer *w, FILE *f)
{
	uint32_t version = GGUF_VERSION;
	uint64_t n_t = w->n_t, pos, i;
	int ret;

	ret = wr(f, GGUF_MAGIC, 4) || wr(f, &version, 4) || wr(f, &n_t, 8) ||
	      wr(f, &w->n_kv, 8) || wr(f, w->kv, w->kv_len);
	pos = 24 + w->kv_len;
	for (i = 0; i < w->n_t && !ret; i++) {
		const struct gguf_wtensor *t = &w->t[i];
		uint64_t len = strlen(t->name);

		ret = wr(f, &len, 8) || wr(f, t->name, len) || wr(f, &t->n_dims, 4) ||
		      wr(f, t->dims, 8 * t->n_dims) || wr(f, &t->type, 4) || wr(f, &t->offset, 8);
		pos += 8 + len + 4 + 8 * t->n_dims + 4 + 8;
	}
	if (!ret)
		ret = wr_pad(f, (w->alignment - pos % w->alignment) % w->alignment);
	w->next = 0;
	w->written = 0;
	return ret ? llm_set_error(-EIO, "cannot write the GGUF header") : 0;
}

int gguf_writer_data(struct gguf_writer *w, FILE *f, const void *data, uint64_t bytes)
{
	const struct gguf_wtensor *t;

	if (w->next >= w->n_t)
		return llm_set_error(-EINVAL, "GGUF writer: data for more tensors than declared");
	t = &w->t[w->next];
	if (bytes != t->bytes)
		return llm_set_error(-EINVAL, "GGUF writer: tensor %s has %" PRIu64
				     " bytes, %" PRIu64 " given", t->name, t->bytes, bytes);
	if (wr_pad(f, t->offset - w->written) || wr(f, data, bytes))
		return llm_set_error(-EIO, "cannot write tensor %s", t->name);
	w->written = t->offset + bytes;
	w->next++;
	return 0;
}
