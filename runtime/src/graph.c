// SPDX-License-Identifier: MIT
/*
 * Graphs: tensors, their layout in device memory, uploads with weight
 * conversion, and programs that lower ops on tensors to chip instructions.
 *
 * Memory: arenas (one BO each). The device arenas hold the tensors the
 * chip computes on, in declaration order, a new one whenever the next
 * tensor would take the current one past ARENA_CHUNK bytes (a tensor
 * larger than that has one of its own); each goes to device memory (VRAM)
 * when the chip has it and the driver can allocate it, else to host
 * memory (same results, operands fetched over PCIe), so a model larger
 * than the device memory still has as much of it there as fits rather
 * than all of it in host memory. The host arena holds the
 * JALRT_TENSOR_HOST tensors the CPU reads and writes while the chip runs
 * (token streams, counters). A few BOs keep the job's BO list and the
 * number of mappings small whatever the number of tensors.
 *
 * Uploads to device memory stream through a host staging buffer: tensors
 * are converted chunk by chunk straight into it, and each time it is
 * full one job copies everything it holds into place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jalrt_internal.h"
#include "jalrt_graph.h"

#define ARENA_HOST		0
#define ARENA_DEVICE		1	/* the first device arena */
#define MAX_ARENAS		256
/* Device arenas close at this size: the unit that goes to VRAM or not. */
#define ARENA_CHUNK		(256ull << 20)
#define TENSOR_ALIGN		256u
#define STAGING_BYTES		(4ull << 20)
/* COPY commands per upload job: well inside the 1 MiB command buffer. */
#define STAGING_MAX_COPIES	8192u

/* Scratch registers for operand addresses: r26..r30, r31 for offsets. */
#define SCRATCH_FIRST		(JALRT_PROGRAM_MAX_SCALAR + 1)
#define SCRATCH_SLOTS		5
#define SCRATCH_TMP		31

struct jalrt_tensor {
	struct jalrt_graph *g;
	char name[48];
	enum jalrt_dtype dtype;
	unsigned int ndim;
	uint32_t dims[JALRT_TENSOR_MAX_DIMS];
	uint64_t elements;
	uint64_t rows, cols;	/* matrix view */
	uint32_t group;
	unsigned int arena;
	uint64_t offset;	/* in the arena */
	uint64_t bytes;
	uint64_t aux_offset;	/* Q8 scales / S24 index bytes, from the tensor start */
	const float *src_f32;	/* initial contents, until allocation */
	const void *src_bytes;
};

struct jalrt_arena {
	struct jalrt_buffer *buf;
	uint64_t size;
	bool vram;
};

struct jalrt_graph {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	uint32_t flags;
	struct jalrt_tensor **tensors;
	uint32_t num_tensors;
	uint32_t cap_tensors;
	struct jalrt_arena arenas[MAX_ARENAS];
	unsigned int num_arenas;	/* the host arena and the device ones */
	bool allocated;
	uint64_t upload_bytes;
	uint64_t upload_ns;
};

struct jalrt_program {
	struct jalrt_graph *g;
	struct jalrt_kernel_builder *kb;
	struct jalrt_kernel *kernel;
	unsigned int num_args;
	unsigned int next_scalar;
	int error;
	char errmsg[256];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Bytes of one element as stored (Q8 values; S24 counts per column, see below). */
static uint64_t elem_bytes(enum jalrt_dtype dtype)
{
	switch (dtype) {
	case JALRT_DTYPE_BF16:
		return 2;
	case JALRT_DTYPE_Q8:
		return 1;
	case JALRT_DTYPE_U64:
		return 8;
	default:
		return 4;
	}
}

static bool is_float_dtype(enum jalrt_dtype dtype)
{
	return dtype == JALRT_DTYPE_F32 || dtype == JALRT_DTYPE_BF16 ||
	       dtype == JALRT_DTYPE_Q8 || dtype == JALRT_DTYPE_S24 || dtype == JALRT_DTYPE_Q4;
}

static const char *tname(const struct jalrt_tensor *t)
{
	return t->name[0] ? t->name : "(unnamed)";
}

/* ---- graphs and tensors -------------------------------------------------- */

JALRT_API int jalrt_graph_create(struct jalrt_context *ctx, uint32_t flags,
				 struct jalrt_graph **out)
{
	struct jalrt_graph *g;

	if (!ctx || !out)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, ctx ? "graph" : "context");
	*out = NULL;
	if (flags & ~JALRT_GRAPH_FLAGS)
		return jalrt_set_error(-EINVAL, "%s: unknown flags 0x%x", __func__,
				       flags & ~JALRT_GRAPH_FLAGS);
	g = calloc(1, sizeof(*g));
	if (!g)
		return jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
	jalrt_context_get(ctx);
	g->ctx = ctx;
	g->dev = ctx->dev;
	g->flags = flags;
	g->num_arenas = 2;	/* the host arena and the first device arena */
	*out = g;
	return 0;
}

JALRT_API int jalrt_graph_destroy(struct jalrt_graph *g)
{
	uint32_t i;

	if (!g)
		return 0;
	for (i = 0; i < g->num_tensors; i++)
		free(g->tensors[i]);
	free(g->tensors);
	for (i = 0; i < g->num_arenas; i++)
		jalrt_buffer_free(g->arenas[i].buf);
	jalrt_context_put(g->ctx);
	free(g);
	return 0;
}

/* Check @d and fill the shape fields of @t; 0 or -EINVAL/-E2BIG. */
static int tensor_shape(struct jalrt_tensor *t, const struct jalrt_tensor_desc *d)
{
	const char *fn = "jalrt_graph_tensor";
	uint64_t n = 1, main_bytes;
	unsigned int i;

	if (d->flags & ~JALRT_TENSOR_FLAGS)
		return jalrt_set_error(-EINVAL, "%s: %s: unknown flags 0x%x", fn, tname(t),
				       d->flags & ~JALRT_TENSOR_FLAGS);
	if (!is_float_dtype(d->dtype) && d->dtype != JALRT_DTYPE_U32 &&
	    d->dtype != JALRT_DTYPE_U64)
		return jalrt_set_error(-EINVAL, "%s: %s: dtype %d is not defined", fn, tname(t),
				       (int)d->dtype);
	if (d->ndim < 1 || d->ndim > JALRT_TENSOR_MAX_DIMS)
		return jalrt_set_error(-EINVAL, "%s: %s: %u dimensions, 1..%u allowed", fn,
				       tname(t), d->ndim, JALRT_TENSOR_MAX_DIMS);
	for (i = 0; i < d->ndim; i++) {
		if (!d->dims[i])
			return jalrt_set_error(-EINVAL, "%s: %s: dims[%u] is 0", fn, tname(t), i);
		n *= d->dims[i];
		/* 2^40 elements is far beyond any device; it keeps byte sizes exact. */
		if (n > (1ull << 40))
			return jalrt_set_error(-E2BIG, "%s: %s: too many elements", fn, tname(t));
	}
	t->dtype = d->dtype;
	t->ndim = d->ndim;
	memcpy(t->dims, d->dims, sizeof(t->dims));
	t->elements = n;
	t->cols = d->dims[d->ndim - 1];
	t->rows = n / t->cols;
	t->group = d->group;

	if (d->dtype == JALRT_DTYPE_Q8) {
		if (!d->group || t->cols % d->group)
			return jalrt_set_error(-EINVAL,
					       "%s: %s: Q8 group size %u does not divide the %llu columns",
					       fn, tname(t), d->group, (unsigned long long)t->cols);
	} else if (d->dtype == JALRT_DTYPE_Q4) {
		/* the chip's Q4 group is fixed */
		if ((d->group && d->group != JAL_Q4_GROUP) || t->cols % JAL_Q4_GROUP)
			return jalrt_set_error(-EINVAL,
					       "%s: %s: Q4 needs groups of %u and a multiple of %u columns, not group %u of %llu columns",
					       fn, tname(t), JAL_Q4_GROUP, JAL_Q4_GROUP, d->group,
					       (unsigned long long)t->cols);
		t->group = JAL_Q4_GROUP;
	} else if (d->group) {
		return jalrt_set_error(-EINVAL, "%s: %s: only Q8 and Q4 tensors have a group size",
				       fn, tname(t));
	}
	if (d->dtype == JALRT_DTYPE_S24 && t->cols % 4)
		return jalrt_set_error(-EINVAL, "%s: %s: S24 needs a multiple of 4 columns, not %llu",
				       fn, tname(t), (unsigned long long)t->cols);

	switch (d->dtype) {
	case JALRT_DTYPE_Q8:
		main_bytes = n;
		t->aux_offset = JALRT_ALIGN(main_bytes, 4);
		t->bytes = t->aux_offset + n / d->group * 4;
		break;
	case JALRT_DTYPE_Q4:
		main_bytes = n / 2;
		t->aux_offset = JALRT_ALIGN(main_bytes, 4);
		t->bytes = t->aux_offset + n / JAL_Q4_GROUP * 4;
		break;
	case JALRT_DTYPE_S24:
		main_bytes = n;		/* n / 2 bf16 values */
		t->aux_offset = main_bytes;
		t->bytes = main_bytes + n / 4;
		break;
	default:
		t->bytes = n * elem_bytes(d->dtype);
		break;
	}
	return 0;
}

JALRT_API int jalrt_graph_tensor(struct jalrt_graph *g, const struct jalrt_tensor_desc *d,
				 struct jalrt_tensor **out)
{
	struct jalrt_tensor *t;
	struct jalrt_arena *a;
	int ret;

	if (!g || !d || !out)
		return jalrt_set_error(-EINVAL, "jalrt_graph_tensor: NULL %s",
				       !g ? "graph" : !d ? "description" : "tensor");
	*out = NULL;
	if (g->allocated)
		return jalrt_set_error(-EBUSY, "jalrt_graph_tensor: the graph is already allocated");
	t = calloc(1, sizeof(*t));
	if (!t)
		return jalrt_set_error(-ENOMEM, "jalrt_graph_tensor: out of memory");
	t->g = g;
	if (d->name)
		snprintf(t->name, sizeof(t->name), "%s", d->name);
	ret = tensor_shape(t, d);
	if (ret) {
		free(t);
		return ret;
	}
	if (g->num_tensors == g->cap_tensors) {
		uint32_t cap = g->cap_tensors ? g->cap_tensors * 2 : 32;
		struct jalrt_tensor **nt = realloc(g->tensors, cap * sizeof(*nt));

		if (!nt) {
			free(t);
			return jalrt_set_error(-ENOMEM, "jalrt_graph_tensor: out of memory");
		}
		g->tensors = nt;
		g->cap_tensors = cap;
	}
	/* Lay out now: the arena only grows, or a new device arena starts. */
	t->arena = d->flags & JALRT_TENSOR_HOST ? ARENA_HOST : g->num_arenas - 1;
	a = &g->arenas[t->arena];
	t->offset = JALRT_ALIGN(a->size, (uint64_t)TENSOR_ALIGN);
	if (t->arena != ARENA_HOST && a->size && t->offset + t->bytes > ARENA_CHUNK &&
	    g->num_arenas < MAX_ARENAS) {
		t->arena = g->num_arenas++;
		a = &g->arenas[t->arena];
		t->offset = 0;
	}
	a->size = t->offset + t->bytes;
	g->tensors[g->num_tensors++] = t;
	*out = t;
	return 0;
}

static int check_settable(const char *fn, const struct jalrt_tensor *t)
{
	if (!t)
		return jalrt_set_error(-EINVAL, "%s: NULL tensor", fn);
	if (t->g->allocated)
		return jalrt_set_error(-EBUSY, "%s: %s: the graph is already allocated", fn,
				       tname(t));
	return 0;
}

JALRT_API int jalrt_tensor_set_f32(struct jalrt_tensor *t, const float *src)
{
	int ret = check_settable(__func__, t);

	if (ret)
		return ret;
	if (!src)
		return jalrt_set_error(-EINVAL, "%s: NULL source", __func__);
	if (!is_float_dtype(t->dtype))
		return jalrt_set_error(-EINVAL, "%s: %s is a %s tensor, not a float one", __func__,
				       tname(t), jalrt_dtype_str(t->dtype));
	t->src_f32 = src;
	t->src_bytes = NULL;
	return 0;
}

JALRT_API int jalrt_tensor_set_bytes(struct jalrt_tensor *t, const void *data, uint64_t size)
{
	int ret = check_settable(__func__, t);

	if (ret)
		return ret;
	if (!data)
		return jalrt_set_error(-EINVAL, "%s: NULL data", __func__);
	if (size != t->bytes)
		return jalrt_set_error(-EINVAL, "%s: %s takes %llu bytes, not %llu", __func__,
				       tname(t), (unsigned long long)t->bytes,
				       (unsigned long long)size);
	t->src_bytes = data;
	t->src_f32 = NULL;
	return 0;
}

/*
 * Convert elements [first, first + n) of @t's f32 source into its stored
 * form: the main part at @main (the bytes of those elements), the Q8
 * scales / S24 index bytes of those elements at @aux. @first and @n are
 * multiples of the group (Q8) or of 4 (S24).
 */
static void convert_range(const struct jalrt_tensor *t, uint64_t first, uint64_t n, void *main,
			  void *aux)
{
	const float *src = t->src_f32 + first;

	switch (t->dtype) {
	case JALRT_DTYPE_F32:
		memcpy(main, src, n * 4);
		break;
	case JALRT_DTYPE_BF16:
		jalrt_convert_bf16(main, src, n);
		break;
	case JALRT_DTYPE_Q8:
		/* Groups never cross rows, so a range is "rows" of one group. */
		jalrt_quantize_q8(main, aux, src, n / t->group, t->group, t->group);
		break;
	case JALRT_DTYPE_Q4:
		jalrt_quantize_q4(main, aux, src, n / JAL_Q4_GROUP, JAL_Q4_GROUP);
		break;
	case JALRT_DTYPE_S24:
		jalrt_sparsify_s24(main, aux, src, n / 4, 4);
		break;
	default:
		break;
	}
}

/* Where element @first's main and aux bytes are, relative to the tensor. */
static uint64_t main_off(const struct jalrt_tensor *t, uint64_t first)
{
	if (t->dtype == JALRT_DTYPE_Q4)
		return first / 2;	/* first is a whole number of groups */
	return t->dtype == JALRT_DTYPE_S24 ? first : first * elem_bytes(t->dtype);
}

static uint64_t aux_off(const struct jalrt_tensor *t, uint64_t first)
{
	if (t->dtype == JALRT_DTYPE_Q8 || t->dtype == JALRT_DTYPE_Q4)
		return t->aux_offset + first / t->group * 4;
	if (t->dtype == JALRT_DTYPE_S24)
		return t->aux_offset + first / 4;
	return 0;
}

static bool has_aux(const struct jalrt_tensor *t)
{
	return t->dtype == JALRT_DTYPE_Q8 || t->dtype == JALRT_DTYPE_S24 ||
	       t->dtype == JALRT_DTYPE_Q4;
}

/* Elements per conversion step: whole groups. */
static uint64_t unit_of(const struct jalrt_tensor *t)
{
	if (t->dtype == JALRT_DTYPE_Q8 || t->dtype == JALRT_DTYPE_Q4)
		return t->group;
	if (t->dtype == JALRT_DTYPE_S24)
		return 4;
	return 1;
}

/* Stored bytes of @n elements, aux included. */
static uint64_t stored_bytes(const struct jalrt_tensor *t, uint64_t n)
{
	return main_off(t, n) + (has_aux(t) ? aux_off(t, n) - t->aux_offset : 0);
}

/* ---- staging uploads ----------------------------------------------------- */

struct stager {
	struct jalrt_graph *g;
	struct jalrt_buffer *staging;
	struct jalrt_cmdbuf *cb;
	uint64_t used;
	unsigned int copies;
};

static int stager_flush(struct stager *s);

/* Make room for @bytes in pieces (at most two, 8-byte aligned) without a flush in between. */
static int stager_ensure(struct stager *s, uint64_t bytes)
{
	if (JALRT_ALIGN(s->used, 8ull) + bytes + 16 > jalrt_buffer_size(s->staging) ||
	    s->copies + 2 > STAGING_MAX_COPIES)
		return stager_flush(s);
	return 0;
}

static int stager_flush(struct stager *s)
{
	int ret = 0;

	if (s->copies)
		ret = jalrt_submit_sync(s->g->ctx, s->cb, NULL, 0, JALRT_TIMEOUT_INFINITE);
	jalrt_cmdbuf_reset(s->cb);
	s->used = 0;
	s->copies = 0;
	return ret;
}

/*
 * Space for @bytes in the staging buffer, destined for @dst_off in device
 * arena @arena; the COPY is recorded now and runs at the next flush.
 */
static int stager_reserve(struct stager *s, unsigned int arena, uint64_t dst_off,
			  uint64_t bytes, void **p)
{
	struct jalrt_arena *a = &s->g->arenas[arena];
	uint64_t at;
	int ret;

	/* Flush when the staging buffer, or the command buffer, is full. */
	if (JALRT_ALIGN(s->used, 8ull) + bytes > jalrt_buffer_size(s->staging) ||
	    s->copies >= STAGING_MAX_COPIES) {
		ret = stager_flush(s);
		if (ret)
			return ret;
	}
	at = JALRT_ALIGN(s->used, 8ull);
	ret = jalrt_cmdbuf_copy(s->cb, a->buf, dst_off, s->staging, at, bytes);
	if (ret)
		return ret;
	s->copies++;
	s->used = at + bytes;
	*p = (uint8_t *)jalrt_buffer_host(s->staging) + at;
	return 0;
}

/* Upload @t's initial contents into device memory through @s. */
static int upload_staged(struct stager *s, const struct jalrt_tensor *t)
{
	uint64_t cap = jalrt_buffer_size(s->staging);
	uint64_t unit = unit_of(t), per_unit = stored_bytes(t, unit);
	/* Leave room for the 8-byte alignment of two pieces. */
	uint64_t chunk = (cap - 32) / per_unit * unit, first, base = t->offset;
	int ret;

	if (t->src_bytes) {
		for (first = 0; first < t->bytes; first += cap - 32) {
			uint64_t n = t->bytes - first < cap - 32 ? t->bytes - first : cap - 32;
			void *p;

			ret = stager_ensure(s, n);
			if (!ret)
				ret = stager_reserve(s, t->arena, base + first, n, &p);
			if (ret)
				return ret;
			memcpy(p, (const uint8_t *)t->src_bytes + first, n);
		}
		return 0;
	}
	for (first = 0; first < t->elements; first += chunk) {
		uint64_t n = t->elements - first < chunk ? t->elements - first : chunk;
		void *main, *aux = NULL;

		/* Both pieces in one fill: a flush between them would send garbage. */
		ret = stager_ensure(s, stored_bytes(t, n));
		if (!ret)
			ret = stager_reserve(s, t->arena, base + main_off(t, first), main_off(t, n),
					     &main);
		if (!ret && has_aux(t))
			ret = stager_reserve(s, t->arena, base + aux_off(t, first),
					     aux_off(t, n) - t->aux_offset, &aux);
		if (ret)
			return ret;
		convert_range(t, first, n, main, aux);
	}
	return 0;
}

/* Host memory: convert straight into the mapping. */
static void upload_direct(const struct jalrt_tensor *t, uint8_t *arena)
{
	uint8_t *base = arena + t->offset;

	if (t->src_bytes)
		memcpy(base, t->src_bytes, t->bytes);
	else
		convert_range(t, 0, t->elements, base, base + t->aux_offset);
}

static int alloc_arena(struct jalrt_graph *g, unsigned int which)
{
	struct jalrt_arena *a = &g->arenas[which];
	uint64_t size = a->size ? a->size : 1;
	int ret;

	if (which != ARENA_HOST && !(g->flags & JALRT_GRAPH_HOST_MEMORY) &&
	    g->dev->info.vram_size >= size) {
		ret = jalrt_buffer_alloc(g->dev, size, JALRT_BUFFER_VRAM, &a->buf);
		if (!ret) {
			a->vram = true;
			return 0;
		}
		/*
		 * No device memory after all (a driver without it says -EINVAL,
		 * a full one -ENOMEM/-ENOSPC): host memory computes the same.
		 */
	}
	a->vram = false;
	return jalrt_buffer_alloc(g->dev, size, 0, &a->buf);
}

JALRT_API int jalrt_graph_allocate(struct jalrt_graph *g)
{
	struct stager s = { .g = g };
	uint64_t start = now_ns();
	uint32_t i;
	int ret = 0;

	if (!g)
		return jalrt_set_error(-EINVAL, "%s: NULL graph", __func__);
	if (g->allocated)
		return jalrt_set_error(-EBUSY, "%s: the graph is already allocated", __func__);
	/* in order: the first arenas (the first tensors declared) get the VRAM */
	for (i = 0; !ret && i < g->num_arenas; i++)
		ret = alloc_arena(g, i);
	if (ret)
		goto fail;

	g->upload_bytes = 0;
	for (i = ARENA_DEVICE; i < g->num_arenas && !g->arenas[i].vram; i++)
		;
	if (i < g->num_arenas) {
		/* A new device-memory BO reads as zeros (uapi): no FILL needed. */
		ret = jalrt_cmdbuf_create(g->dev, &s.cb);
		if (!ret)
			ret = jalrt_buffer_alloc(g->dev, STAGING_BYTES, 0, &s.staging);
	}
	for (i = 0; !ret && i < g->num_tensors; i++) {
		struct jalrt_tensor *t = g->tensors[i];
		struct jalrt_arena *a = &g->arenas[t->arena];

		if (!t->src_f32 && !t->src_bytes)
			continue;
		if (a->vram)
			ret = upload_staged(&s, t);
		else
			upload_direct(t, jalrt_buffer_host(a->buf));
		g->upload_bytes += t->bytes;
		t->src_f32 = NULL;
		t->src_bytes = NULL;
	}
	if (!ret && s.cb)
		ret = stager_flush(&s);
	jalrt_cmdbuf_destroy(s.cb);
	jalrt_buffer_free(s.staging);
	if (ret)
		goto fail;
	g->allocated = true;
	g->upload_ns = now_ns() - start;
	return 0;

fail:
	for (i = 0; i < g->num_arenas; i++) {
		jalrt_buffer_free(g->arenas[i].buf);
		g->arenas[i].buf = NULL;
		g->arenas[i].vram = false;
	}
	return ret;
}

JALRT_API int jalrt_graph_query(const struct jalrt_graph *g, struct jalrt_graph_info *info)
{
	unsigned int i;

	if (!g || !info)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, g ? "info" : "graph");
	info->tensors = g->num_tensors;
	info->device_bytes = 0;
	info->vram_bytes = 0;
	info->device_arenas = g->num_arenas - ARENA_DEVICE;
	for (i = ARENA_DEVICE; i < g->num_arenas; i++) {
		info->device_bytes += g->arenas[i].size;
		if (g->arenas[i].vram)
			info->vram_bytes += g->arenas[i].size;
	}
	info->host_bytes = g->arenas[ARENA_HOST].size;
	info->in_vram = info->vram_bytes && info->vram_bytes == info->device_bytes;
	info->upload_bytes = g->upload_bytes;
	info->upload_ns = g->upload_ns;
	return 0;
}

JALRT_API uint64_t jalrt_tensor_elements(const struct jalrt_tensor *t)
{
	return t ? t->elements : 0;
}

JALRT_API uint64_t jalrt_tensor_bytes(const struct jalrt_tensor *t)
{
	return t ? t->bytes : 0;
}

JALRT_API enum jalrt_dtype jalrt_tensor_dtype(const struct jalrt_tensor *t)
{
	return t ? t->dtype : JALRT_DTYPE_F32;
}

JALRT_API uint32_t jalrt_tensor_group(const struct jalrt_tensor *t)
{
	return t ? t->group : 0;
}

JALRT_API uint64_t jalrt_tensor_va(const struct jalrt_tensor *t)
{
	if (!t || !t->g->allocated)
		return 0;
	return jalrt_buffer_va(t->g->arenas[t->arena].buf) + t->offset;
}

JALRT_API void *jalrt_tensor_host(const struct jalrt_tensor *t)
{
	uint8_t *host;

	if (!t || !t->g->allocated)
		return NULL;
	host = jalrt_buffer_host(t->g->arenas[t->arena].buf);
	return host ? host + t->offset : NULL;
}

static int tensor_io(const char *fn, struct jalrt_tensor *t, uint64_t offset, void *p,
		     uint64_t size, bool write)
{
	struct jalrt_buffer *buf;

	if (!t || (!p && size))
		return jalrt_set_error(-EINVAL, "%s: NULL %s", fn, t ? "data" : "tensor");
	if (!t->g->allocated)
		return jalrt_set_error(-EINVAL, "%s: %s: the graph is not allocated yet", fn,
				       tname(t));
	if (offset > t->bytes || size > t->bytes - offset)
		return jalrt_set_error(-ERANGE, "%s: %s: range [%llu, +%llu) is outside its %llu bytes",
				       fn, tname(t), (unsigned long long)offset,
				       (unsigned long long)size, (unsigned long long)t->bytes);
	buf = t->g->arenas[t->arena].buf;
	if (write)
		return jalrt_buffer_write(t->g->ctx, buf, t->offset + offset, p, size);
	return jalrt_buffer_read(t->g->ctx, buf, t->offset + offset, p, size);
}

JALRT_API int jalrt_tensor_write(struct jalrt_tensor *t, uint64_t offset, const void *src,
				 uint64_t size)
{
	return tensor_io(__func__, t, offset, (void *)src, size, true);
}

JALRT_API int jalrt_tensor_read(struct jalrt_tensor *t, uint64_t offset, void *dst,
				uint64_t size)
{
	return tensor_io(__func__, t, offset, dst, size, false);
}

/* ---- programs ------------------------------------------------------------ */

JALRT_API int jalrt_program_create(struct jalrt_graph *g, unsigned int num_args,
				   struct jalrt_program **out)
{
	struct jalrt_program *p;
	int ret;

	if (!g || !out)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, g ? "program" : "graph");
	*out = NULL;
	if (!g->allocated)
		return jalrt_set_error(-EINVAL, "%s: allocate the graph first (ops embed addresses)",
				       __func__);
	if (num_args > JAL_MAX_ARGS)
		return jalrt_set_error(-EINVAL, "%s: %u arguments, at most %u", __func__, num_args,
				       JAL_MAX_ARGS);
	p = calloc(1, sizeof(*p));
	if (!p)
		return jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
	ret = jalrt_kb_create(num_args, &p->kb);
	if (ret) {
		free(p);
		return ret;
	}
	p->g = g;
	p->num_args = num_args;
	p->next_scalar = num_args;
	*out = p;
	return 0;
}

JALRT_API int jalrt_program_destroy(struct jalrt_program *p)
{
	if (!p)
		return 0;
	jalrt_kernel_destroy(p->kernel);
	jalrt_kb_destroy(p->kb);
	free(p);
	return 0;
}

JALRT_API int jalrt_program_scalar(struct jalrt_program *p, unsigned int *reg)
{
	if (!p || !reg)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, p ? "reg" : "program");
	if (p->next_scalar > JALRT_PROGRAM_MAX_SCALAR)
		return jalrt_set_error(-ENOSPC,
				       "%s: out of scalar registers (r%u..r%u, the rest are scratch)",
				       __func__, p->num_args, JALRT_PROGRAM_MAX_SCALAR);
	*reg = p->next_scalar++;
	return 0;
}

JALRT_API struct jalrt_kernel_builder *jalrt_program_builder(struct jalrt_program *p)
{
	return p ? p->kb : NULL;
}

JALRT_API struct jalrt_kernel *jalrt_program_kernel(const struct jalrt_program *p)
{
	return p ? p->kernel : NULL;
}

static int prog_fail(struct jalrt_program *p, int err)
{
	if (!p->error) {
		p->error = err;
		snprintf(p->errmsg, sizeof(p->errmsg), "%s", jalrt_last_error_message());
	}
	return err;
}

/* Common entry checks of an op; returns 0 or a recorded error. */
static int op_begin(struct jalrt_program *p, const char *fn)
{
	if (!p)
		return jalrt_set_error(-EINVAL, "%s: NULL program", fn);
	if (p->kernel)
		return prog_fail(p, jalrt_set_error(-EBUSY, "%s: the program is finalized", fn));
	return 0;
}

/* Allowed dtypes of an operand, as a mask of 1 << dtype. */
#define M(d)		(1u << (d))
#define M_F32		M(JALRT_DTYPE_F32)
#define M_INT		(M(JALRT_DTYPE_U32) | M(JALRT_DTYPE_U64) | M(JALRT_DTYPE_F32))

/*
 * Check operand @r of @n elements (n = 0: at least one element) and
 * allowed dtypes @mask.
 */
static int check_ref(struct jalrt_program *p, const char *fn, const char *what,
		     const struct jalrt_ref *r, uint64_t n, uint32_t mask)
{
	const struct jalrt_tensor *t = r->t;

	if (!t)
		return prog_fail(p, jalrt_set_error(-EINVAL, "%s: NULL tensor for %s", fn, what));
	if (t->g != p->g)
		return prog_fail(p, jalrt_set_error(-EXDEV, "%s: %s (%s) is a tensor of another graph",
						    fn, what, tname(t)));
	if (!(mask & M(t->dtype)))
		return prog_fail(p, jalrt_set_error(-EINVAL, "%s: %s (%s) is %s, which this operand does not take",
						    fn, what, tname(t), jalrt_dtype_str(t->dtype)));
	if (r->index >= JAL_NUM_REGS || r->index < -1)
		return prog_fail(p, jalrt_set_error(-EINVAL, "%s: %s: index register %d is not r0..r31",
						    fn, what, r->index));
	if (r->index >= SCRATCH_FIRST)
		return prog_fail(p, jalrt_set_error(-EINVAL,
						    "%s: %s: index register r%d is a scratch register of the program",
						    fn, what, r->index));
	if (!n)
		n = 1;
	if (r->offset > t->elements || n > t->elements - r->offset)
		return prog_fail(p, jalrt_set_error(-ERANGE,
						    "%s: %s: elements [%llu, +%llu) are outside %s (%llu elements)",
						    fn, what, (unsigned long long)r->offset,
						    (unsigned long long)n, tname(t),
						    (unsigned long long)t->elements));
	return 0;
}

static int check_reg(struct jalrt_program *p, const char *fn, const char *what, unsigned int reg)
{
	if (reg >= SCRATCH_FIRST)
		return prog_fail(p, jalrt_set_error(-EINVAL,
						    "%s: %s register r%u is not a scalar (r0..r%u)",
						    fn, what, reg, JALRT_PROGRAM_MAX_SCALAR));
	return 0;
}

/* Emit: scratch slot @slot = address of @r (+ @extra bytes). */
static int emit_addr(struct jalrt_program *p, unsigned int slot, const struct jalrt_ref *r,
		     uint64_t extra)
{
	const struct jalrt_tensor *t = r->t;
	unsigned int reg = SCRATCH_FIRST + slot;
	uint64_t esz = elem_bytes(t->dtype);
	uint64_t va = jalrt_tensor_va(t) + r->offset * esz + extra;
	int ret;

	ret = jalrt_kb_li(p->kb, reg, va);
	if (!ret && r->index >= 0) {
		uint64_t step = (r->stride ? r->stride : t->cols) * esz;

		ret = jalrt_kb_muli(p->kb, SCRATCH_TMP, (unsigned int)r->index, step);
		if (!ret)
			ret = jalrt_kb_add(p->kb, reg, reg, SCRATCH_TMP);
	}
	return ret ? prog_fail(p, ret) : 0;
}

static int emit_done(struct jalrt_program *p, int ret)
{
	return ret ? prog_fail(p, ret) : 0;
}

/*
 * The operand preamble of an element-wise op: check that each of the
 * @count operands holds @n f32 elements, then load their addresses into
 * scratch slots 0, 1, ... in the same order.
 */
static int bind_f32(struct jalrt_program *p, const char *fn, uint32_t n, unsigned int count,
		    const char *const names[], const struct jalrt_ref refs[])
{
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < count; i++)
		ret = check_ref(p, fn, names[i], &refs[i], n, M_F32);
	for (i = 0; !ret && i < count; i++)
		ret = emit_addr(p, i, &refs[i], 0);
	return ret;
}

static const char *const dab_names[] = { "d", "a", "b" };

static int op_vector(struct jalrt_program *p, const char *fn, unsigned int opcode,
		     struct jalrt_ref d, struct jalrt_ref a, struct jalrt_ref b, float s,
		     uint32_t n)
{
	const struct jalrt_ref refs[] = { d, a, b };
	int ret = op_begin(p, fn);

	if (!ret)
		ret = bind_f32(p, fn, n, opcode == JAL_OP_VSCALE ? 2 : 3, dab_names, refs);
	if (ret)
		return ret;
	switch (opcode) {
	case JAL_OP_VADD:
		ret = jalrt_kb_vadd(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1, SCRATCH_FIRST + 2,
				    JALRT_DIM(n));
		break;
	case JAL_OP_VMUL:
		ret = jalrt_kb_vmul(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1, SCRATCH_FIRST + 2,
				    JALRT_DIM(n));
		break;
	case JAL_OP_SILU_MUL:
		ret = jalrt_kb_silu_mul(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1,
					SCRATCH_FIRST + 2, JALRT_DIM(n));
		break;
	default:
		ret = jalrt_kb_vscale(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1, s, JALRT_DIM(n));
		break;
	}
	return emit_done(p, ret);
}

JALRT_API int jalrt_op_vadd(struct jalrt_program *p, struct jalrt_ref d, struct jalrt_ref a,
			    struct jalrt_ref b, uint32_t n)
{
	return op_vector(p, __func__, JAL_OP_VADD, d, a, b, 0.0f, n);
}

JALRT_API int jalrt_op_vmul(struct jalrt_program *p, struct jalrt_ref d, struct jalrt_ref a,
			    struct jalrt_ref b, uint32_t n)
{
	return op_vector(p, __func__, JAL_OP_VMUL, d, a, b, 0.0f, n);
}

JALRT_API int jalrt_op_vscale(struct jalrt_program *p, struct jalrt_ref d, struct jalrt_ref a,
			      float scale, uint32_t n)
{
	return op_vector(p, __func__, JAL_OP_VSCALE, d, a, a, scale, n);
}

JALRT_API int jalrt_op_silu_mul(struct jalrt_program *p, struct jalrt_ref d,
				struct jalrt_ref a, struct jalrt_ref b, uint32_t n)
{
	return op_vector(p, __func__, JAL_OP_SILU_MUL, d, a, b, 0.0f, n);
}

/* Weights are used whole: their stored layout has no element offsets. */
static int check_weights(struct jalrt_program *p, const char *fn, struct jalrt_tensor *w,
			 uint32_t mask)
{
	struct jalrt_ref r = JALRT_REF(w);

	if (w && w->rows > UINT32_MAX)
		return prog_fail(p, jalrt_set_error(-E2BIG, "%s: %s has more than 2^32 rows", fn,
						    tname(w)));
	return check_ref(p, fn, "W", &r, 0, mask);
}

/*
 * JALRT_MATVEC_QUANTIZE_X is the chip's JAL_INSN_F_Q8X: Q8 weights, a
 * group it can quantise x in, a row it can hold. Checked here against the
 * tensor so the message names it (the builder would only say "dim[2]").
 */
static int check_quantize_x(struct jalrt_program *p, const char *fn,
			    const struct jalrt_tensor *w)
{
	if (w->dtype != JALRT_DTYPE_Q8)
		return prog_fail(p, jalrt_set_error(-EINVAL,
				 "%s: JALRT_MATVEC_QUANTIZE_X needs Q8 weights, and %s is %s", fn,
				 tname(w), jalrt_dtype_str(w->dtype)));
	if (w->group % 4 || w->group > JAL_Q8X_MAX_GROUP)
		return prog_fail(p, jalrt_set_error(-EINVAL,
				 "%s: JALRT_MATVEC_QUANTIZE_X needs a Q8 group that is a multiple of 4 up to %u, and %s has groups of %u",
				 fn, JAL_Q8X_MAX_GROUP, tname(w), w->group));
	if (w->cols > JAL_Q8X_MAX_COLS)
		return prog_fail(p, jalrt_set_error(-EINVAL,
				 "%s: JALRT_MATVEC_QUANTIZE_X takes rows of at most %u columns, and %s has %llu",
				 fn, JAL_Q8X_MAX_COLS, tname(w), (unsigned long long)w->cols));
	return 0;
}

static int op_matrix(struct jalrt_program *p, const char *fn, unsigned int opcode,
		     struct jalrt_ref d, struct jalrt_tensor *w, struct jalrt_ref x,
		     uint32_t batch, uint32_t flags)
{
	uint32_t wmask = M(JALRT_DTYPE_F32) | M(JALRT_DTYPE_BF16) | M(JALRT_DTYPE_Q8) |
			 M(JALRT_DTYPE_S24) | M(JALRT_DTYPE_Q4);
	struct jalrt_matrix_op op = { 0 };
	struct jalrt_ref wr = JALRT_REF(w);
	uint64_t nb = opcode == JAL_OP_MATMUL ? batch : 1;
	int ret = op_begin(p, fn);

	if (!ret)
		ret = check_weights(p, fn, w, wmask);
	if (!ret && (flags & ~JALRT_MATVEC_FLAGS))
		ret = prog_fail(p, jalrt_set_error(-EINVAL, "%s: unknown flags 0x%x", fn,
						   flags & ~JALRT_MATVEC_FLAGS));
	if (!ret && (flags & JALRT_MATVEC_QUANTIZE_X))
		ret = check_quantize_x(p, fn, w);
	/* Q4 always quantises x, into the chip's buffer of Q8X's size */
	if (!ret && w->dtype == JALRT_DTYPE_Q4 && w->cols > JAL_Q8X_MAX_COLS)
		ret = prog_fail(p, jalrt_set_error(-EINVAL,
				"%s: Q4 weights take rows of at most %u columns, and %s has %llu",
				fn, JAL_Q8X_MAX_COLS, tname(w), (unsigned long long)w->cols));
	if (!ret && opcode == JAL_OP_MATMUL && !batch)
		ret = prog_fail(p, jalrt_set_error(-EINVAL, "%s: batch of 0", fn));
	if (!ret)
		ret = check_ref(p, fn, "d", &d, w->rows * nb, M_F32);
	if (!ret)
		ret = check_ref(p, fn, "x", &x, w->cols * nb, M_F32);
	if (!ret)
		ret = emit_addr(p, 0, &d, 0);
	if (!ret)
		ret = emit_addr(p, 1, &wr, 0);
	if (!ret)
		ret = emit_addr(p, 2, &x, 0);
	if (!ret && has_aux(w))
		ret = emit_addr(p, 3, &wr, w->aux_offset);
	if (ret)
		return ret;
	op.dtype = w->dtype;
	op.rd = SCRATCH_FIRST;
	op.rw = SCRATCH_FIRST + 1;
	op.rx = SCRATCH_FIRST + 2;
	op.raux = has_aux(w) ? SCRATCH_FIRST + 3 : 0;
	op.rows = JALRT_DIM((uint32_t)w->rows);
	op.cols = JALRT_DIM(w->dims[w->ndim - 1]);
	op.group = w->dtype == JALRT_DTYPE_Q8 || w->dtype == JALRT_DTYPE_Q4 ? w->group : 0;
	op.flags = flags & JALRT_MATVEC_QUANTIZE_X ? JAL_INSN_F_Q8X : 0;
	if (opcode == JAL_OP_MATMUL) {
		op.batch = JALRT_DIM(batch);
		return emit_done(p, jalrt_kb_matmul(p->kb, &op));
	}
	return emit_done(p, jalrt_kb_matvec_op(p->kb, &op));
}

JALRT_API int jalrt_op_matvec(struct jalrt_program *p, struct jalrt_ref d,
			      struct jalrt_tensor *w, struct jalrt_ref x)
{
	return op_matrix(p, __func__, JAL_OP_MATVEC, d, w, x, 0, 0);
}

JALRT_API int jalrt_op_matvec_flags(struct jalrt_program *p, struct jalrt_ref d,
				    struct jalrt_tensor *w, struct jalrt_ref x, uint32_t flags)
{
	return op_matrix(p, __func__, JAL_OP_MATVEC, d, w, x, 0, flags);
}

JALRT_API int jalrt_op_matmul(struct jalrt_program *p, struct jalrt_ref d,
			      struct jalrt_tensor *w, struct jalrt_ref x, uint32_t batch)
{
	return op_matrix(p, __func__, JAL_OP_MATMUL, d, w, x, batch, 0);
}

JALRT_API int jalrt_op_rmsnorm(struct jalrt_program *p, struct jalrt_ref d, struct jalrt_ref a,
			       struct jalrt_ref weight, uint32_t n, float eps)
{
	static const char *const names[] = { "d", "a", "weight" };
	const struct jalrt_ref refs[] = { d, a, weight };
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = bind_f32(p, __func__, n, 3, names, refs);
	if (ret)
		return ret;
	return emit_done(p, jalrt_kb_rmsnorm(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1,
					     SCRATCH_FIRST + 2, JALRT_DIM(n), eps));
}

JALRT_API int jalrt_op_softmax(struct jalrt_program *p, struct jalrt_ref d, struct jalrt_ref a,
			       uint32_t n)
{
	const struct jalrt_ref refs[] = { d, a };
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = bind_f32(p, __func__, n, 2, dab_names, refs);
	if (ret)
		return ret;
	return emit_done(p, jalrt_kb_softmax(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1,
					     JALRT_DIM(n)));
}

/* A run-time dim must name a scalar register, not a scratch one. */
static int check_dim(struct jalrt_program *p, const char *fn, const char *what,
		     struct jalrt_dim dim)
{
	return dim.from_reg ? check_reg(p, fn, what, dim.value) : 0;
}

JALRT_API int jalrt_op_rope(struct jalrt_program *p, struct jalrt_ref d, struct jalrt_ref a,
			    uint32_t n, uint32_t head_size, struct jalrt_dim pos, float theta)
{
	const struct jalrt_ref refs[] = { d, a };
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = check_dim(p, __func__, "position", pos);
	if (!ret)
		ret = bind_f32(p, __func__, n, 2, dab_names, refs);
	if (ret)
		return ret;
	return emit_done(p, jalrt_kb_rope(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1, JALRT_DIM(n),
					  JALRT_DIM(head_size), pos, theta));
}

JALRT_API int jalrt_op_rope_freqs(struct jalrt_program *p, struct jalrt_ref d,
				  struct jalrt_ref a, struct jalrt_ref freqs, uint32_t n,
				  uint32_t head_size, struct jalrt_dim pos)
{
	const struct jalrt_ref refs[] = { d, a };
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = check_dim(p, __func__, "position", pos);
	if (!ret)
		ret = check_ref(p, __func__, "freqs", &freqs, head_size / 2, M_F32);
	if (!ret)
		ret = bind_f32(p, __func__, n, 2, dab_names, refs);
	if (!ret)
		ret = emit_addr(p, 2, &freqs, 0);
	if (ret)
		return ret;
	return emit_done(p, jalrt_kb_rope_freqs(p->kb, SCRATCH_FIRST, SCRATCH_FIRST + 1,
						SCRATCH_FIRST + 2, JALRT_DIM(n),
						JALRT_DIM(head_size), pos));
}

JALRT_API int jalrt_op_attention(struct jalrt_program *p, struct jalrt_ref out,
				 struct jalrt_ref q, struct jalrt_ref k_cache,
				 struct jalrt_ref v_cache, uint32_t n_heads, uint32_t head_size,
				 uint32_t n_kv_heads, struct jalrt_dim positions)
{
	struct jalrt_attention_op op = { 0 };
	uint64_t qn = (uint64_t)n_heads * head_size, kvn = (uint64_t)n_kv_heads * head_size;
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = check_ref(p, __func__, "out", &out, qn, M_F32);
	if (!ret)
		ret = check_ref(p, __func__, "q", &q, qn, M_F32);
	if (!ret)
		ret = check_ref(p, __func__, "K cache", &k_cache, kvn, M_F32);
	if (!ret)
		ret = check_ref(p, __func__, "V cache", &v_cache, kvn, M_F32);
	if (!ret)
		ret = check_dim(p, __func__, "positions", positions);
	if (ret)
		return ret;
	/* Each position is one row of the cache tensor. */
	if (k_cache.t->cols < kvn || v_cache.t->cols < kvn)
		return prog_fail(p, jalrt_set_error(-EINVAL,
				 "%s: cache rows of %llu/%llu floats are shorter than %u KV heads of %u",
				 __func__, (unsigned long long)k_cache.t->cols,
				 (unsigned long long)v_cache.t->cols, n_kv_heads, head_size));
	if (!positions.from_reg &&
	    (positions.value > k_cache.t->rows || positions.value > v_cache.t->rows))
		return prog_fail(p, jalrt_set_error(-ERANGE,
				 "%s: %u positions but the caches have %llu/%llu rows", __func__,
				 positions.value, (unsigned long long)k_cache.t->rows,
				 (unsigned long long)v_cache.t->rows));
	ret = emit_addr(p, 0, &out, 0);
	if (!ret)
		ret = emit_addr(p, 1, &q, 0);
	if (!ret)
		ret = emit_addr(p, 2, &k_cache, 0);
	if (!ret)
		ret = emit_addr(p, 3, &v_cache, 0);
	if (ret)
		return ret;
	op.rout = SCRATCH_FIRST;
	op.rq = SCRATCH_FIRST + 1;
	op.rk = SCRATCH_FIRST + 2;
	op.rv = SCRATCH_FIRST + 3;
	op.n_heads = JALRT_DIM(n_heads);
	op.head_size = JALRT_DIM(head_size);
	op.n_kv_heads = JALRT_DIM(n_kv_heads);
	op.positions = positions;
	op.k_pitch = (uint32_t)k_cache.t->cols;
	op.v_pitch = (uint32_t)v_cache.t->cols;
	return emit_done(p, jalrt_kb_attention(p->kb, &op));
}

JALRT_API int jalrt_op_embed(struct jalrt_program *p, struct jalrt_ref d,
			     struct jalrt_tensor *table, struct jalrt_dim row)
{
	uint32_t mask = M(JALRT_DTYPE_F32) | M(JALRT_DTYPE_BF16) | M(JALRT_DTYPE_Q8);
	struct jalrt_embed_op op = { 0 };
	struct jalrt_ref tr = JALRT_REF(table);
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = check_weights(p, __func__, table, mask);
	if (!ret)
		ret = check_ref(p, __func__, "d", &d, table->cols, M_F32);
	if (!ret)
		ret = check_dim(p, __func__, "row", row);
	if (!ret)
		ret = emit_addr(p, 0, &d, 0);
	if (!ret)
		ret = emit_addr(p, 1, &tr, 0);
	if (!ret && table->dtype == JALRT_DTYPE_Q8)
		ret = emit_addr(p, 3, &tr, table->aux_offset);
	if (ret)
		return ret;
	op.dtype = table->dtype;
	op.rd = SCRATCH_FIRST;
	op.rtable = SCRATCH_FIRST + 1;
	op.rscales = table->dtype == JALRT_DTYPE_Q8 ? SCRATCH_FIRST + 3 : 0;
	op.dim = JALRT_DIM((uint32_t)table->cols);
	op.row = row;
	op.rows = JALRT_DIM((uint32_t)table->rows);
	op.group = table->dtype == JALRT_DTYPE_Q8 ? table->group : 0;
	return emit_done(p, jalrt_kb_embed(p->kb, &op));
}

JALRT_API int jalrt_op_argmax(struct jalrt_program *p, unsigned int reg, struct jalrt_ref a,
			      uint32_t n)
{
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = check_reg(p, __func__, "result", reg);
	if (!ret)
		ret = check_ref(p, __func__, "a", &a, n, M_F32);
	if (!ret)
		ret = emit_addr(p, 0, &a, 0);
	if (ret)
		return ret;
	return emit_done(p, jalrt_kb_argmax(p->kb, reg, SCRATCH_FIRST, JALRT_DIM(n)));
}

JALRT_API int jalrt_op_sample(struct jalrt_program *p, unsigned int reg, struct jalrt_ref a,
			      uint32_t n, unsigned int state, float temperature, float topp)
{
	int ret = op_begin(p, __func__);

	if (!ret)
		ret = check_reg(p, __func__, "result", reg);
	if (!ret)
		ret = check_reg(p, __func__, "rng state", state);
	if (!ret)
		ret = check_ref(p, __func__, "logits", &a, n, M_F32);
	if (!ret)
		ret = emit_addr(p, 0, &a, 0);
	if (ret)
		return ret;
	return emit_done(p, jalrt_kb_sample(p->kb, reg, SCRATCH_FIRST, state, JALRT_DIM(n),
					    temperature, topp));
}

static int op_scalar_mem(struct jalrt_program *p, const char *fn, unsigned int reg,
			 struct jalrt_ref r, bool store)
{
	int ret = op_begin(p, fn);

	if (!ret)
		ret = check_reg(p, fn, store ? "source" : "destination", reg);
	if (!ret)
		ret = check_ref(p, fn, store ? "destination" : "source", &r, 1, M_INT);
	if (!ret)
		ret = emit_addr(p, 0, &r, 0);
	if (ret)
		return ret;
	if (elem_bytes(r.t->dtype) == 8)
		ret = store ? jalrt_kb_st64(p->kb, reg, SCRATCH_FIRST, 0) :
			      jalrt_kb_ld64(p->kb, reg, SCRATCH_FIRST, 0);
	else
		ret = store ? jalrt_kb_st32(p->kb, reg, SCRATCH_FIRST, 0) :
			      jalrt_kb_ld32(p->kb, reg, SCRATCH_FIRST, 0);
	return emit_done(p, ret);
}

JALRT_API int jalrt_op_load(struct jalrt_program *p, unsigned int reg, struct jalrt_ref src)
{
	return op_scalar_mem(p, __func__, reg, src, false);
}

JALRT_API int jalrt_op_store(struct jalrt_program *p, struct jalrt_ref dst, unsigned int reg)
{
	return op_scalar_mem(p, __func__, reg, dst, true);
}

JALRT_API int jalrt_program_finalize(struct jalrt_program *p)
{
	if (!p)
		return jalrt_set_error(-EINVAL, "%s: NULL program", __func__);
	if (p->error)
		return jalrt_set_error(p->error, "%s: an op failed earlier: %s", __func__,
				       p->errmsg);
	if (p->kernel)
		return 0;
	return jalrt_kb_finalize(p->kb, p->g->dev, &p->kernel);
}

static int use_arenas(struct jalrt_graph *g, struct jalrt_cmdbuf *cb)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < g->num_arenas; i++)
		ret = jalrt_cmdbuf_use_buffer(cb, g->arenas[i].buf);
	return ret;
}

JALRT_API int jalrt_program_record(struct jalrt_program *p, struct jalrt_cmdbuf *cb,
				   const uint64_t *args, unsigned int num_args)
{
	int ret;

	if (!p || !cb)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, p ? "cmdbuf" : "program");
	if (!p->kernel)
		return jalrt_set_error(-EINVAL, "%s: the program is not finalized", __func__);
	ret = jalrt_cmdbuf_dispatch(cb, p->kernel, args, num_args);
	return ret ? ret : use_arenas(p->g, cb);
}

JALRT_API int jalrt_program_run(struct jalrt_program *p, struct jalrt_context *ctx,
				const uint64_t *args, unsigned int num_args, int64_t timeout_ns)
{
	struct jalrt_cmdbuf *cb;
	int ret;

	if (!p || !ctx)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, p ? "context" : "program");
	ret = jalrt_cmdbuf_create(p->g->dev, &cb);
	if (ret)
		return ret;
	ret = jalrt_program_record(p, cb, args, num_args);
	if (!ret)
		ret = jalrt_submit_sync(ctx, cb, NULL, 0, timeout_ns);
	jalrt_cmdbuf_destroy(cb);
	return ret;
}

JALRT_API int jalrt_graph_record_copy(struct jalrt_cmdbuf *cb, struct jalrt_tensor *dst,
				      uint64_t dst_off, struct jalrt_tensor *src,
				      uint64_t src_off, uint64_t size)
{
	if (!cb || !dst || !src)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       !cb ? "cmdbuf" : !dst ? "destination" : "source");
	if (!dst->g->allocated || !src->g->allocated)
		return jalrt_set_error(-EINVAL, "%s: tensors of an unallocated graph", __func__);
	if (dst_off > dst->bytes || size > dst->bytes - dst_off ||
	    src_off > src->bytes || size > src->bytes - src_off)
		return jalrt_set_error(-ERANGE, "%s: %llu bytes do not fit %s at %llu / %s at %llu",
				       __func__, (unsigned long long)size, tname(dst),
				       (unsigned long long)dst_off, tname(src),
				       (unsigned long long)src_off);
	return jalrt_cmdbuf_copy(cb, dst->g->arenas[dst->arena].buf, dst->offset + dst_off,
				 src->g->arenas[src->arena].buf, src->offset + src_off, size);
}

JALRT_API int jalrt_graph_record_timestamp(struct jalrt_cmdbuf *cb, struct jalrt_tensor *dst,
					   uint64_t offset)
{
	if (!cb || !dst)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, cb ? "tensor" : "cmdbuf");
	if (!dst->g->allocated)
		return jalrt_set_error(-EINVAL, "%s: tensor of an unallocated graph", __func__);
	if (offset > dst->bytes || dst->bytes - offset < 8)
		return jalrt_set_error(-ERANGE, "%s: 8 bytes at %llu do not fit %s (%llu bytes)",
				       __func__, (unsigned long long)offset, tname(dst),
				       (unsigned long long)dst->bytes);
	return jalrt_cmdbuf_timestamp(cb, dst->g->arenas[dst->arena].buf, dst->offset + offset);
}
