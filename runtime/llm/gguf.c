// SPDX-License-Identifier: MIT
/*
 * GGUF reader and conversions to f32; see gguf.h for the format.
 *
 * Parsing walks the mapping with a cursor that checks every read against
 * the end first (overflow-checked), so no header field can make it read
 * outside the file. The only allocations are the kv and tensor tables,
 * whose counts are first bounded by what the remaining bytes could hold
 * (a kv entry takes at least 13 bytes, a tensor info at least 32).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF reader reads little-endian files in place"
#endif

/* Bounds of what a sane file holds; far above any real model. */
#define GGUF_MAX_KEY_LEN	65535u
#define GGUF_MIN_KV_BYTES	13u	/* key length, type, a 1-byte value */
#define GGUF_MIN_TENSOR_BYTES	32u	/* name length, n_dims, 1 dim, type, offset */
#define GGUF_MAX_ALIGNMENT	(1u << 20)

struct gguf_type_info {
	const char *name;
	uint32_t block;
	uint32_t bytes;
	bool supported;
};

/* From the format description's ggml_type list; ids not listed are unknown. */
static const struct gguf_type_info gguf_types[] = {
	[0] = { "F32", 1, 4, true },
	[1] = { "F16", 1, 2, true },
	[2] = { "Q4_0", 32, 18, true },
	[3] = { "Q4_1", 32, 20, false },
	[6] = { "Q5_0", 32, 22, false },
	[7] = { "Q5_1", 32, 24, false },
	[8] = { "Q8_0", 32, 34, true },
	[9] = { "Q8_1", 32, 36, false },
	[10] = { "Q2_K", 256, 84, false },
	[11] = { "Q3_K", 256, 110, false },
	[12] = { "Q4_K", 256, 144, true },
	[13] = { "Q5_K", 256, 176, false },
	[14] = { "Q6_K", 256, 210, true },
	[15] = { "Q8_K", 256, 292, false },
	[16] = { "IQ2_XXS", 256, 66, false },
	[17] = { "IQ2_XS", 256, 74, false },
	[18] = { "IQ3_XXS", 256, 98, false },
	[19] = { "IQ1_S", 256, 50, false },
	[20] = { "IQ4_NL", 32, 18, false },
	[21] = { "IQ3_S", 256, 110, false },
	[22] = { "IQ2_S", 256, 82, false },
	[23] = { "IQ4_XS", 256, 136, false },
	[24] = { "I8", 1, 1, false },
	[25] = { "I16", 1, 2, false },
	[26] = { "I32", 1, 4, false },
	[27] = { "I64", 1, 8, false },
	[28] = { "F64", 1, 8, false },
	[29] = { "IQ1_M", 256, 56, false },
	[30] = { "BF16", 1, 2, true },
	[34] = { "TQ1_0", 256, 54, false },
	[35] = { "TQ2_0", 256, 66, false },
	[39] = { "MXFP4", 32, 17, false },
};

static const struct gguf_type_info *gguf_type(uint32_t type)
{
	if (type >= sizeof(gguf_types) / sizeof(gguf_types[0]) || !gguf_types[type].name)
		return NULL;
	return &gguf_types[type];
}

const char *gguf_type_name(uint32_t type)
{
	const struct gguf_type_info *t = gguf_type(type);

	return t ? t->name : NULL;
}

uint32_t gguf_type_block(uint32_t type)
{
	const struct gguf_type_info *t = gguf_type(type);

	return t ? t->block : 0;
}

uint32_t gguf_type_block_bytes(uint32_t type)
{
	const struct gguf_type_info *t = gguf_type(type);

	return t ? t->bytes : 0;
}

bool gguf_type_supported(uint32_t type)
{
	const struct gguf_type_info *t = gguf_type(type);

	return t && t->supported;
}

uint64_t gguf_tensor_bytes(uint32_t type, uint64_t elements)
{
	const struct gguf_type_info *t = gguf_type(type);
	uint64_t bytes;

	if (!t || elements % t->block)
		return 0;
	if (__builtin_mul_overflow(elements / t->block, (uint64_t)t->bytes, &bytes))
		return 0;
	return bytes;
}

static const char *const gguf_value_names[GGUF_VAL_COUNT] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
	"string", "array", "uint64", "int64", "float64",
};

/* Bytes of a scalar value type, 0 for string/array/unknown. */
static const uint8_t gguf_value_sizes[GGUF_VAL_COUNT] = {
	1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8,
};

const char *gguf_value_type_name(uint32_t type)
{
	return type < GGUF_VAL_COUNT ? gguf_value_names[type] : NULL;
}

bool gguf_is_gguf(const void *data, size_t size)
{
	return size >= 4 && !memcmp(data, GGUF_MAGIC, 4);
}

/* ---- parsing ------------------------------------------------------------- */

struct gguf_cursor {
	const uint8_t *base;
	uint64_t pos, size;
};

static bool cur_has(const struct gguf_cursor *c, uint64_t n)
{
	return n <= c->size - c->pos;
}

static int cur_bytes(struct gguf_cursor *c, void *out, uint64_t n, const char *what)
{
	if (!cur_has(c, n)) {
		/* callers stop at the error; zeros keep the compiler sure of that */
		memset(out, 0, n);
		return llm_set_error(-EINVAL,
				     "truncated: %s at offset %" PRIu64 " needs %" PRIu64
				     " bytes, the file ends at %" PRIu64,
				     what, c->pos, n, c->size);
	}
	memcpy(out, c->base + c->pos, n);
	c->pos += n;
	return 0;
}

static int cur_u32(struct gguf_cursor *c, uint32_t *v, const char *what)
{
	return cur_bytes(c, v, 4, what);
}

static int cur_u64(struct gguf_cursor *c, uint64_t *v, const char *what)
{
	return cur_bytes(c, v, 8, what);
}

static int cur_str(struct gguf_cursor *c, struct gguf_str *s, const char *what)
{
	uint64_t len, at = c->pos;

	if (cur_u64(c, &len, what))
		return -EINVAL;
	if (!cur_has(c, len))
		return llm_set_error(-EINVAL,
				     "%s at offset %" PRIu64 " has length %" PRIu64
				     ", past the end of the file (%" PRIu64 " bytes)",
				     what, at, len, c->size);
	s->ptr = (const char *)c->base + c->pos;
	s->len = len;
	c->pos += len;
	return 0;
}

/* Skip one value of @type (not an array) for key @key. */
static int cur_skip_value(struct gguf_cursor *c, uint32_t type, const struct gguf_str *key)
{
	struct gguf_str s;

	if (type == GGUF_VAL_STRING)
		return cur_str(c, &s, "a string value");
	if (!cur_has(c, gguf_value_sizes[type]))
		return llm_set_error(-EINVAL, "truncated: the value of '%.*s' passes the end of the file",
				     (int)(key->len > 200 ? 200 : key->len), key->ptr);
	c->pos += gguf_value_sizes[type];
	return 0;
}

#define KEYFMT(k)	(int)((k)->len > 200 ? 200 : (k)->len), (k)->ptr

static int parse_kv(struct gguf_cursor *c, struct gguf_kv *kv, uint64_t index)
{
	uint64_t i, at = c->pos, bytes;
	uint32_t type;

	if (cur_str(c, &kv->key, "a metadata key"))
		return -EINVAL;
	if (kv->key.len == 0 || kv->key.len > GGUF_MAX_KEY_LEN)
		return llm_set_error(-EINVAL, "metadata key #%" PRIu64 " at offset %" PRIu64
				     " has length %" PRIu64 " (1..%u)",
				     index, at, kv->key.len, GGUF_MAX_KEY_LEN);
	if (memchr(kv->key.ptr, '\0', kv->key.len))
		return llm_set_error(-EINVAL, "metadata key #%" PRIu64 " contains a NUL byte", index);
	if (cur_u32(c, &type, "a metadata value type"))
		return -EINVAL;
	if (type >= GGUF_VAL_COUNT)
		return llm_set_error(-EINVAL, "metadata '%.*s' has unknown value type %u (0..12)",
				     KEYFMT(&kv->key), type);
	kv->type = type;
	kv->array_type = 0;
	kv->count = 1;
	kv->data = c->base + c->pos;
	if (type == GGUF_VAL_ARRAY) {
		uint32_t et;
		uint64_t n;

		if (cur_u32(c, &et, "an array element type") || cur_u64(c, &n, "an array length"))
			return -EINVAL;
		if (et >= GGUF_VAL_COUNT)
			return llm_set_error(-EINVAL,
					     "metadata '%.*s' is an array of unknown type %u",
					     KEYFMT(&kv->key), et);
		if (et == GGUF_VAL_ARRAY)
			return llm_set_error(-EINVAL,
					     "metadata '%.*s' is an array of arrays (not supported)",
					     KEYFMT(&kv->key));
		kv->array_type = et;
		kv->count = n;
		kv->data = c->base + c->pos;
		if (et == GGUF_VAL_STRING) {
			/* each string takes >= 8 bytes: bounds the loop by the file */
			if (n > (c->size - c->pos) / 8)
				return llm_set_error(-EINVAL,
						     "metadata '%.*s': %" PRIu64
						     " strings cannot fit in the %" PRIu64
						     " bytes left",
						     KEYFMT(&kv->key), n, c->size - c->pos);
			for (i = 0; i < n; i++) {
				struct gguf_str s;

				if (cur_str(c, &s, "an array string")) {
					char detail[300];

					snprintf(detail, sizeof(detail), "%s", llm_last_error_message());
					return llm_set_error(-EINVAL, "metadata '%.*s' element %" PRIu64
							     ": %s", KEYFMT(&kv->key), i, detail);
				}
			}
		} else {
			if (__builtin_mul_overflow(n, (uint64_t)gguf_value_sizes[et], &bytes) ||
			    !cur_has(c, bytes))
				return llm_set_error(-EINVAL,
						     "metadata '%.*s': an array of %" PRIu64
						     " %s passes the end of the file",
						     KEYFMT(&kv->key), n, gguf_value_names[et]);
			c->pos += bytes;
		}
	} else if (cur_skip_value(c, type, &kv->key)) {
		return -EINVAL;
	}
	kv->bytes = (uint64_t)(c->base + c->pos - kv->data);
	return 0;
}

static int str_cmp(struct gguf_str a, struct gguf_str b)
{
	uint64_t n = a.len < b.len ? a.len : b.len;
	int r = memcmp(a.ptr, b.ptr, n);

	if (r)
		return r;
	return (a.len > b.len) - (a.len < b.len);
}

static int tensor_ptr_cmp(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;

	return str_cmp(x->name, y->name);
}

static int kv_ptr_cmp(const void *a, const void *b)
{
	const struct gguf_kv *x = *(const struct gguf_kv *const *)a;
	const struct gguf_kv *y = *(const struct gguf_kv *const *)b;

	return str_cmp(x->key, y->key);
}

static int parse_tensor_info(struct gguf_cursor *c, struct gguf_tensor *t, uint64_t index)
{
	const struct gguf_type_info *ti;
	uint64_t at = c->pos;
	uint32_t d;

	if (cur_str(c, &t->name, "a tensor name"))
		return -EINVAL;
	if (t->name.len == 0 || t->name.len > GGUF_MAX_KEY_LEN)
		return llm_set_error(-EINVAL, "tensor #%" PRIu64 " at offset %" PRIu64
				     " has a name of length %" PRIu64 " (1..%u)",
				     index, at, t->name.len, GGUF_MAX_KEY_LEN);
	if (cur_u32(c, &t->n_dims, "a tensor's dimension count"))
		return -EINVAL;
	if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
		return llm_set_error(-EINVAL, "tensor '%.*s' has %u dimensions (1..%d)",
				     KEYFMT(&t->name), t->n_dims, GGUF_MAX_DIMS);
	t->elements = 1;
	for (d = 0; d < GGUF_MAX_DIMS; d++) {
		t->dims[d] = 1;
		if (d >= t->n_dims)
			continue;
		if (cur_u64(c, &t->dims[d], "a tensor dimension"))
			return -EINVAL;
		if (t->dims[d] == 0 || t->dims[d] > INT64_MAX)
			return llm_set_error(-EINVAL, "tensor '%.*s' has dimension %u of %" PRIu64,
					     KEYFMT(&t->name), d, t->dims[d]);
		if (__builtin_mul_overflow(t->elements, t->dims[d], &t->elements) ||
		    t->elements > INT64_MAX)
			return llm_set_error(-EINVAL,
					     "tensor '%.*s': its element count overflows 63 bits",
					     KEYFMT(&t->name));
	}
	if (cur_u32(c, &t->type, "a tensor type") || cur_u64(c, &t->offset, "a tensor offset"))
		return -EINVAL;
	ti = gguf_type(t->type);
	if (!ti)
		return llm_set_error(-EINVAL, "tensor '%.*s' has unknown type %u",
				     KEYFMT(&t->name), t->type);
	if (t->dims[0] % ti->block)
		return llm_set_error(-EINVAL,
				     "tensor '%.*s' of type %s has rows of %" PRIu64
				     " elements, not a multiple of its block of %u",
				     KEYFMT(&t->name), ti->name, t->dims[0], ti->block);
	t->bytes = gguf_tensor_bytes(t->type, t->elements);
	if (!t->bytes)
		return llm_set_error(-EINVAL, "tensor '%.*s': its byte size overflows",
				     KEYFMT(&t->name));
	return 0;
}

void gguf_close(struct gguf_file *g)
{
	if (!g)
		return;
	if (g->mapped)
		munmap((void *)g->base, g->size);
	free(g->kv);
	free(g->tensors);
	free(g->by_name);
	free(g);
}

int gguf_parse(const void *data, size_t size, struct gguf_file **out)
{
	struct gguf_cursor c = { .base = data, .pos = 0, .size = size };
	struct gguf_file *g;
	char magic[4];
	uint64_t i, data_start;
	uint32_t alignment = GGUF_DEFAULT_ALIGNMENT;
	const struct gguf_kv *akv;
	int ret = -EINVAL;

	*out = NULL;
	if (size < 4 || memcmp(data, GGUF_MAGIC, 4)) {
		if (size < 4)
			return llm_set_error(-EINVAL, "not a GGUF file: %zu bytes, too short for the magic",
					     size);
		memcpy(magic, data, 4);
		return llm_set_error(-EINVAL,
				     "not a GGUF file: magic %02x %02x %02x %02x, expected \"GGUF\"",
				     (uint8_t)magic[0], (uint8_t)magic[1], (uint8_t)magic[2],
				     (uint8_t)magic[3]);
	}
	c.pos = 4;
	g = calloc(1, sizeof(*g));
	if (!g)
		return llm_set_error(-ENOMEM, "out of memory reading GGUF");
	g->base = data;
	g->size = size;
	if (cur_u32(&c, &g->version, "the version"))
		goto fail;
	if (g->version != 2 && g->version != 3) {
		llm_set_error(-EINVAL, "unsupported GGUF version %u (2 and 3 are supported)%s",
			      g->version, g->version > 0xffff ? "; a big-endian file?" :
			      g->version == 1 ? "; version 1 files must be re-converted" : "");
		goto fail;
	}
	if (cur_u64(&c, &g->n_tensors, "the tensor count") ||
	    cur_u64(&c, &g->n_kv, "the metadata count"))
		goto fail;
	if (g->n_kv > (c.size - c.pos) / GGUF_MIN_KV_BYTES) {
		llm_set_error(-EINVAL, "absurd metadata count %" PRIu64 " for a file of %zu bytes",
			      g->n_kv, size);
		goto fail;
	}
	if (g->n_tensors > (c.size - c.pos) / GGUF_MIN_TENSOR_BYTES) {
		llm_set_error(-EINVAL, "absurd tensor count %" PRIu64 " for a file of %zu bytes",
			      g->n_tensors, size);
		goto fail;
	}
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(*g->kv));
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->tensors));
	g->by_name = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->by_name));
	if (!g->kv || !g->tensors || !g->by_name) {
		ret = llm_set_error(-ENOMEM, "out of memory for %" PRIu64 " tensors and %" PRIu64
				    " metadata entries", g->n_tensors, g->n_kv);
		goto fail;
	}
	for (i = 0; i < g->n_kv; i++) {
		if (parse_kv(&c, &g->kv[i], i))
			goto fail;
	}
	/*
	 * Duplicate keys make lookups ambiguous: refuse them. Sorted, so that
	 * a file of millions of tiny entries costs n log n, not n^2.
	 */
	if (g->n_kv > 1) {
		const struct gguf_kv **keys = calloc(g->n_kv, sizeof(*keys));

		if (!keys) {
			ret = llm_set_error(-ENOMEM, "out of memory for %" PRIu64 " metadata keys",
					    g->n_kv);
			goto fail;
		}
		for (i = 0; i < g->n_kv; i++)
			keys[i] = &g->kv[i];
		qsort(keys, g->n_kv, sizeof(*keys), kv_ptr_cmp);
		for (i = 1; i < g->n_kv; i++) {
			if (!str_cmp(keys[i - 1]->key, keys[i]->key)) {
				llm_set_error(-EINVAL, "duplicate metadata key '%.*s'",
					      KEYFMT(&keys[i]->key));
				free(keys);
				goto fail;
			}
		}
		free(keys);
	}
	akv = gguf_find_kv(g, "general.alignment");
	if (akv) {
		uint32_t a;

		if (akv->type != GGUF_VAL_UINT32) {
			llm_set_error(-EINVAL, "general.alignment has type %s, expected uint32",
				      gguf_value_names[akv->type]);
			goto fail;
		}
		memcpy(&a, akv->data, 4);
		if (a == 0 || (a & (a - 1)) || a > GGUF_MAX_ALIGNMENT) {
			llm_set_error(-EINVAL,
				      "general.alignment %u is not a power of two up to %u", a,
				      GGUF_MAX_ALIGNMENT);
			goto fail;
		}
		alignment = a;
	}
	g->alignment = alignment;
	for (i = 0; i < g->n_tensors; i++) {
		if (parse_tensor_info(&c, &g->tensors[i], i))
			goto fail;
		g->by_name[i] = &g->tensors[i];
	}
	/* The data section starts at the next multiple of the alignment. */
	data_start = c.pos + (alignment - c.pos % alignment) % alignment;
	if (data_start > c.size && g->n_tensors) {
		llm_set_error(-EINVAL, "truncated: the data section would start at %" PRIu64
			      ", past the end of the file (%zu bytes)", data_start, size);
		goto fail;
	}
	g->data_offset = data_start;
	for (i = 0; i < g->n_tensors; i++) {
		struct gguf_tensor *t = &g->tensors[i];
		uint64_t end;

		if (t->offset % alignment) {
			llm_set_error(-EINVAL,
				      "tensor '%.*s' has offset %" PRIu64
				      ", not a multiple of the alignment %u",
				      KEYFMT(&t->name), t->offset, alignment);
			goto fail;
		}
		if (__builtin_add_overflow(data_start, t->offset, &end) ||
		    __builtin_add_overflow(end, t->bytes, &end) || end > c.size) {
			llm_set_error(-EINVAL,
				      "tensor '%.*s' (%s, %" PRIu64 " bytes at data offset %" PRIu64
				      ") passes the end of the file (%zu bytes; data starts at %"
				      PRIu64 ")",
				      KEYFMT(&t->name), gguf_type_name(t->type), t->bytes,
				      t->offset, size, data_start);
			goto fail;
		}
		t->data = g->base + data_start + t->offset;
	}
	qsort(g->by_name, g->n_tensors, sizeof(*g->by_name), tensor_ptr_cmp);
	for (i = 1; i < g->n_tensors; i++) {
		if (!str_cmp(g->by_name[i - 1]->name, g->by_name[i]->name)) {
			llm_set_error(-EINVAL, "duplicate tensor name '%.*s'",
				      KEYFMT(&g->by_name[i]->name));
			goto fail;
		}
	}
	*out = g;
	return 0;

fail:
	gguf_close(g);
	return ret;
}

int gguf_open(const char *path, struct gguf_file **out)
{
	struct gguf_file *g;
	struct stat st;
	void *map;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return llm_set_error(ret, "cannot open %s: %s", path, strerror(-ret));
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return llm_set_error(ret, "cannot stat %s: %s", path, strerror(-ret));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return llm_set_error(-EINVAL, "%s is not a regular file", path);
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return llm_set_error(-EFBIG, "%s is too large to map", path);
	}
	if (st.st_size < 24) {
		close(fd);
		return llm_set_error(-EINVAL, "%s: truncated: %jd bytes, shorter than a GGUF header (24)",
				     path, (intmax_t)st.st_size);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	ret = -errno;
	close(fd);
	if (map == MAP_FAILED)
		return llm_set_error(ret, "cannot map %s: %s", path, strerror(-ret));
	ret = gguf_parse(map, (size_t)st.st_size, &g);
	if (ret) {
		char detail[400];

		snprintf(detail, sizeof(detail), "%s", llm_last_error_message());
		llm_set_error(ret, "%s: %s", path, detail);
		munmap(map, (size_t)st.st_size);
		return ret;
	}
	g->mapped = true;
	*out = g;
	return 0;
}

/* ---- lookups ------------------------------------------------------------- */

bool gguf_str_eq(struct gguf_str s, const char *c)
{
	size_t n = strlen(c);

	return s.len == n && !memcmp(s.ptr, c, n);
}

const struct gguf_kv *gguf_find_kv(const struct gguf_file *g, const char *key)
{
	uint64_t i;

	for (i = 0; i < g->n_kv; i++)
		if (gguf_str_eq(g->kv[i].key, key))
			return &g->kv[i];
	return NULL;
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *g, const char *name)
{
	struct gguf_str key = { name, strlen(name) };
	uint64_t lo = 0, hi = g->n_tensors;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		int r = str_cmp(g->by_name[mid]->name, key);

		if (!r)
			return g->by_name[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The integer value of a scalar entry; false if it is not an integer. */
static bool kv_int(const struct gguf_kv *kv, int64_t *s, uint64_t *u, bool *is_signed)
{
	const uint8_t *p = kv->data;
	union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
		uint64_t u64; int64_t i64; } v;

	*is_signed = false;
	switch (kv->type) {
	case GGUF_VAL_UINT8: case GGUF_VAL_BOOL:
		memcpy(&v.u8, p, 1); *u = v.u8; break;
	case GGUF_VAL_UINT16: memcpy(&v.u16, p, 2); *u = v.u16; break;
	case GGUF_VAL_UINT32: memcpy(&v.u32, p, 4); *u = v.u32; break;
	case GGUF_VAL_UINT64: memcpy(&v.u64, p, 8); *u = v.u64; break;
	case GGUF_VAL_INT8: memcpy(&v.i8, p, 1); *s = v.i8; *is_signed = true; break;
	case GGUF_VAL_INT16: memcpy(&v.i16, p, 2); *s = v.i16; *is_signed = true; break;
	case GGUF_VAL_INT32: memcpy(&v.i32, p, 4); *s = v.i32; *is_signed = true; break;
	case GGUF_VAL_INT64: memcpy(&v.i64, p, 8); *s = v.i64; *is_signed = true; break;
	default:
		return false;
	}
	return true;
}

static int type_error(const struct gguf_kv *kv, const char *want)
{
	return llm_set_error(-EINVAL, "metadata '%.*s' has type %s%s%s, expected %s",
			     KEYFMT(&kv->key), gguf_value_names[kv->type],
			     kv->type == GGUF_VAL_ARRAY ? " of " : "",
			     kv->type == GGUF_VAL_ARRAY ? gguf_value_names[kv->array_type] : "",
			     want);
}

int gguf_get_u64(const struct gguf_file *g, const char *key, uint64_t *out)
{
	const struct gguf_kv *kv = gguf_find_kv(g, key);
	int64_t s = 0;
	uint64_t u = 0;
	bool sig;

	if (!kv)
		return -ENOENT;
	if (!kv_int(kv, &s, &u, &sig))
		return type_error(kv, "an integer");
	if (sig && s < 0)
		return llm_set_error(-EINVAL, "metadata '%s' is %" PRId64 ", expected >= 0", key, s);
	*out = sig ? (uint64_t)s : u;
	return 0;
}

int gguf_get_u32(const struct gguf_file *g, const char *key, uint32_t *out)
{
	uint64_t v;
	int ret = gguf_get_u64(g, key, &v);

	if (ret)
		return ret;
	if (v > UINT32_MAX)
		return llm_set_error(-EINVAL, "metadata '%s' is %" PRIu64 ", too large", key, v);
	*out = (uint32_t)v;
	return 0;
}

int gguf_get_i64(const struct gguf_file *g, const char *key, int64_t *out)
{
	const struct gguf_kv *kv = gguf_find_kv(g, key);
	int64_t s = 0;
	uint64_t u = 0;
	bool sig;

	if (!kv)
		return -ENOENT;
	if (!kv_int(kv, &s, &u, &sig))
		return type_error(kv, "an integer");
	if (!sig && u > INT64_MAX)
		return llm_set_error(-EINVAL, "metadata '%s' is %" PRIu64 ", too large", key, u);
	*out = sig ? s : (int64_t)u;
	return 0;
}

int gguf_get_f32(const struct gguf_file *g, const char *key, float *out)
{
	const struct gguf_kv *kv = gguf_find_kv(g, key);

	if (!kv)
		return -ENOENT;
	if (kv->type == GGUF_VAL_FLOAT32) {
		memcpy(out, kv->data, 4);
	} else if (kv->type == GGUF_VAL_FLOAT64) {
		double d;

		memcpy(&d, kv->data, 8);
		*out = (float)d;
	} else {
		return type_error(kv, "float32");
	}
	return 0;
}

int gguf_get_bool(const struct gguf_file *g, const char *key, bool *out)
{
	const struct gguf_kv *kv = gguf_find_kv(g, key);

	if (!kv)
		return -ENOENT;
	if (kv->type != GGUF_VAL_BOOL)
		return type_error(kv, "bool");
	*out = kv->data[0] != 0;
	return 0;
}

int gguf_get_str(const struct gguf_file *g, const char *key, struct gguf_str *out)
{
	const struct gguf_kv *kv = gguf_find_kv(g, key);
	uint64_t len;

	if (!kv)
		return -ENOENT;
	if (kv->type != GGUF_VAL_STRING)
		return type_error(kv, "string");
	memcpy(&len, kv->data, 8);
	out->ptr = (const char *)kv->data + 8;
	out->len = len;
	return 0;
}

int gguf_get_array(const struct gguf_file *g, const char *key, uint32_t *type, uint64_t *count,
		   const uint8_t **data)
{
	const struct gguf_kv *kv = gguf_find_kv(g, key);

	if (!kv)
		return -ENOENT;
	if (kv->type != GGUF_VAL_ARRAY)
		return type_error(kv, "an array");
	*type = kv->array_type;
	*count = kv->count;
	*data = kv->data;
	return 0;
}

int64_t gguf_kv_array_strings(const struct gguf_kv *kv, struct gguf_str *out, uint64_t max)
{
	const uint8_t *p = kv->data;
	uint64_t i;

	if (kv->type != GGUF_VAL_ARRAY || kv->array_type != GGUF_VAL_STRING)
		return type_error(kv, "an array of strings");
	/* parse_kv() checked every length against the file */
	for (i = 0; i < kv->count && i < max; i++) {
		uint64_t len;

		memcpy(&len, p, 8);
		out[i].ptr = (const char *)p + 8;
		out[i].len = len;
		p += 8 + len;
	}
	return (int64_t)kv->count;
}

float gguf_kv_array_f32(const struct gguf_kv *kv, uint64_t i)
{
	float v;

	memcpy(&v, kv->data + 4 * i, 4);
	return v;
}

int32_t gguf_kv_array_i32(const struct gguf_kv *kv, uint64_t i)
{
	int32_t v;

	memcpy(&v, kv->data + 4 * i, 4);
	return v;
}

/* ---- conversion ---------------------------------------------------------- */

float gguf_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	uint32_t bits;
	float f;

	if (exp == 0x1f) {
		bits = sign | 0x7f800000u | (man << 13);	/* inf, NaN (payload kept) */
	} else if (exp) {
		bits = sign | ((exp + 112) << 23) | (man << 13);
	} else {
		/* zero or subnormal: man * 2^-24, exact in f32 */
		f = (float)man * 0x1p-24f;
		return sign ? -f : f;
	}
	memcpy(&f, &bits, 4);
	return f;
}

uint16_t gguf_f32_to_f16(float f)
{
	uint32_t x, sign, exp, man;
	uint16_t h;

	memcpy(&x, &f, 4);
	sign = (x >> 16) & 0x8000;
	exp = (x >> 23) & 0xff;
	man = x & 0x7fffff;
	if (exp == 0xff)
		return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
	if (exp > 142)				/* >= 2^16: overflows to inf */
		return (uint16_t)(sign | 0x7c00);
	if (exp < 113) {
		/* f16 subnormal (or 0): value / 2^-24 rounded to nearest even */
		float a = fabsf(f) * 0x1p24f;
		float r = nearbyintf(a);	/* default rounding: nearest even */

		return (uint16_t)(sign | (uint16_t)r);
	}
	/* normal: round the mantissa to 10 bits, nearest even; a carry bumps the exponent */
	h = (uint16_t)(((exp - 112) << 10) | (man >> 13));
	{
		uint32_t rest = man & 0x1fff;

		if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
			h++;
	}
	return (uint16_t)(sign | h);
}

float gguf_bf16_to_f32(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, 4);
	return f;
}

static uint16_t rd16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

static void dequant_q4_k(const uint8_t *b, float *y)
{
	float d = gguf_f16_to_f32(rd16(b)), dmin = gguf_f16_to_f32(rd16(b + 2));
	const uint8_t *scales = b + 4, *q = b + 16;
	int j, l, is = 0;

	for (j = 0; j < GGML_QK_K; j += 64, is += 2, q += 32) {
		uint8_t sc, m;
		float d1, m1, d2, m2;

		get_scale_min_k4(is, scales, &sc, &m);
		d1 = d * sc;
		m1 = dmin * m;
		get_scale_min_k4(is + 1, scales, &sc, &m);
		d2 = d * sc;
		m2 = dmin * m;
		for (l = 0; l < 32; l++)
			*y++ = d1 * (q[l] & 0xf) - m1;
		for (l = 0; l < 32; l++)
			*y++ = d2 * (q[l] >> 4) - m2;
	}
}

static void dequant_q6_k(const uint8_t *b, float *y)
{
	const uint8_t *ql = b, *qh = b + 128;
	const int8_t *sc = (const int8_t *)(b + 192);
	float d = gguf_f16_to_f32(rd16(b + 208));
	int n, l;

	for (n = 0; n < GGML_QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
		for (l = 0; l < 32; l++) {
			int is = l / 16;
			int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
			int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
			int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
			int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;

			y[l] = d * sc[is] * q1;
			y[l + 32] = d * sc[is + 2] * q2;
			y[l + 64] = d * sc[is + 4] * q3;
			y[l + 96] = d * sc[is + 6] * q4;
		}
	}
}

int gguf_dequantize(uint32_t type, const void *src, float *dst, uint64_t n)
{
	const struct gguf_type_info *ti = gguf_type(type);
	const uint8_t *p = src;
	uint64_t i, b, blocks;

	if (!ti || !ti->supported)
		return llm_set_error(-EINVAL, "cannot convert tensor type %s (%u) to f32",
				     ti ? ti->name : "unknown", type);
	if (n % ti->block)
		return llm_set_error(-EINVAL, "%" PRIu64 " elements of %s are not whole blocks of %u",
				     n, ti->name, ti->block);
	blocks = n / ti->block;
	switch (type) {
	case GGML_TYPE_F32:
		memcpy(dst, src, n * 4);
		break;
	case GGML_TYPE_F16:
		for (i = 0; i < n; i++)
			dst[i] = gguf_f16_to_f32(rd16(p + 2 * i));
		break;
	case GGML_TYPE_BF16:
		for (i = 0; i < n; i++)
			dst[i] = gguf_bf16_to_f32(rd16(p + 2 * i));
		break;
	case GGML_TYPE_Q8_0:
		for (b = 0; b < blocks; b++, p += GGML_Q8_0_BYTES) {
			float d = gguf_f16_to_f32(rd16(p));

			for (i = 0; i < GGML_QK8_0; i++)
				*dst++ = (float)(int8_t)p[2 + i] * d;
		}
		break;
	case GGML_TYPE_Q4_0:
		for (b = 0; b < blocks; b++, p += GGML_Q4_0_BYTES, dst += GGML_QK4_0) {
			float d = gguf_f16_to_f32(rd16(p));

			for (i = 0; i < GGML_QK4_0 / 2; i++) {
				dst[i] = (float)((p[2 + i] & 0xf) - 8) * d;
				dst[i + 16] = (float)((p[2 + i] >> 4) - 8) * d;
			}
		}
		break;
	case GGML_TYPE_Q4_K:
		for (b = 0; b < blocks; b++, p += GGML_Q4_K_BYTES, dst += GGML_QK_K)
			dequant_q4_k(p, dst);
		break;
	case GGML_TYPE_Q6_K:
		for (b = 0; b < blocks; b++, p += GGML_Q6_K_BYTES, dst += GGML_QK_K)
			dequant_q6_k(p, dst);
		break;
	}
	return 0;
}

void gguf_q8_0_split(const void *src, uint64_t n, int8_t *q, float *scales)
{
	const uint8_t *p = src;
	uint64_t b;

	for (b = 0; b < n / GGML_QK8_0; b++, p += GGML_Q8_0_BYTES) {
		scales[b] = gguf_f16_to_f32(rd16(p));
		memcpy(q + b * GGML_QK8_0, p + 2, GGML_QK8_0);
	}
}

void gguf_q4_0_split(const void *src, uint64_t n, uint8_t *packed, float *scales)
{
	const uint8_t *p = src;
	uint64_t b;

	for (b = 0; b < n / GGML_QK4_0; b++, p += GGML_Q4_0_BYTES) {
		scales[b] = gguf_f16_to_f32(rd16(p));
		memcpy(packed + b * (GGML_QK4_0 / 2), p + 2, GGML_QK4_0 / 2);
	}
}

void gguf_quantize_q4_0(void *dst, const float *src, uint64_t n)
{
	uint8_t *p = dst;
	uint64_t b, i;

	for (b = 0; b < n / GGML_QK4_0; b++, p += GGML_Q4_0_BYTES, src += GGML_QK4_0) {
		float amax = 0.0f, m = 0.0f, d;
		int8_t q[GGML_QK4_0];
		uint16_t h;

		for (i = 0; i < GGML_QK4_0; i++) {
			if (fabsf(src[i]) > amax) {
				amax = fabsf(src[i]);
				m = src[i];
			}
		}
		h = gguf_f32_to_f16(m / -8.0f);
		memcpy(p, &h, 2);
		/* the values against the scale the file keeps, not the f32 one */
		d = gguf_f16_to_f32(h);
		for (i = 0; i < GGML_QK4_0; i++) {
			float v = d != 0.0f ? roundf(src[i] / d) : 0.0f;

			if (v != v)
				v = 0.0f;
			q[i] = (int8_t)(v > 7.0f ? 7.0f : v < -8.0f ? -8.0f : v);
		}
		for (i = 0; i < GGML_QK4_0 / 2; i++)
			p[2 + i] = (uint8_t)((q[i] + 8) | (q[i + 16] + 8) << 4);
	}
}

void gguf_quantize_q8_0(void *dst, const float *src, uint64_t n)
{
	uint8_t *p = dst;
	uint64_t b, i;

	for (b = 0; b < n / GGML_QK8_0; b++, p += GGML_Q8_0_BYTES, src += GGML_QK8_0) {
		float amax = 0.0f, d, id;
		uint16_t h;

		for (i = 0; i < GGML_QK8_0; i++) {
			float a = fabsf(src[i]);

			if (a > amax)
				amax = a;
		}
		d = amax / 127.0f;
		id = d != 0.0f ? 1.0f / d : 0.0f;
		h = gguf_f32_to_f16(d);
		memcpy(p, &h, 2);
		for (i = 0; i < GGML_QK8_0; i++) {
			float v = roundf(src[i] * id);

			if (v != v)
				v = 0.0f;
			p[2 + i] = (uint8_t)(int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
		}
	}
}
