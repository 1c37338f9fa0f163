// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: compute operands in device memory.
 *
 * Operands are strided arrays of 4-byte elements reached through the MMU.
 * Vector ops gather a bounded chunk of each input into host buffers,
 * compute, and scatter the results back, so any operand size works with
 * a fixed amount of host memory. Only the elements themselves are
 * accessed: a strided gather reads the covering range only when the
 * stride is at most a page, where every page of that range holds an
 * element, and writes are always element by element unless contiguous.
 */
#include "jal_exec.h"

static void jal_f32_from_le(float *buf, size_t n)
{
#if JAL_HOST_BIG_ENDIAN
	uint32_t *w = (uint32_t *)buf;
	size_t i;

	for (i = 0; i < n; i++)
		w[i] = jal_le32(w[i]);
#else
	(void)buf;
	(void)n;
#endif
}

#define jal_f32_to_le jal_f32_from_le

/*
 * Common checks: 4-byte alignment, an extent of at most JAL_MAX_EXTENT
 * bytes covering @span elements, and a start inside the VA space (so the
 * extent arithmetic below cannot wrap).
 */
static enum jal_status jal_operand_init(struct jal_exec *ex,
					struct jal_operand *op,
					const char *name, uint64_t va,
					uint64_t stride, uint64_t count,
					uint64_t span, bool write)
{
	op->va = va;
	op->stride = stride;
	op->count = count;
	op->write = write;
	op->lo = va;
	op->hi = va;
	if (!count)
		return JAL_STATUS_OK;
	if (va & 3)
		return jal_exec_bad(ex, "operand %s at 0x%llx is not 4-byte aligned",
				    name, (unsigned long long)va);
	if (span > JAL_MAX_EXTENT / 4)
		return jal_exec_bad(ex, "operand %s spans %llu elements, more than %llu bytes",
				    name, (unsigned long long)span,
				    (unsigned long long)JAL_MAX_EXTENT);
	if (va >= JAL_VA_LIMIT) {
		ex->job->fault_addr = va;
		ex->job->fault_write = write;
		return JAL_STATUS_MMU_UNMAPPED;
	}
	op->hi = va + span * 4;
	return JAL_STATUS_OK;
}

enum jal_status jal_operand_vector(struct jal_exec *ex, struct jal_operand *op,
				   const char *name, uint64_t va,
				   uint64_t stride, uint64_t count, bool write)
{
	/* count and stride are below 2^32: the product fits. */
	uint64_t span = count ? (count - 1) * stride + 1 : 0;

	return jal_operand_init(ex, op, name, va, stride, count, span, write);
}

bool jal_operand_overlap(const struct jal_operand *a,
			 const struct jal_operand *b)
{
	return a->lo < b->hi && b->lo < a->hi;
}

enum jal_status jal_read_f32(struct jal_exec *ex, uint64_t va, size_t n,
			     float *buf)
{
	enum jal_status st = jal_mmu_read(ex->job, va, buf, n * 4);

	if (!st)
		jal_f32_from_le(buf, n);
	return st;
}

/* Element addresses: the extent check keeps these far from wrapping. */
static uint64_t jal_elem_va(const struct jal_operand *op, uint64_t i)
{
	return op->va + i * op->stride * 4;
}

static enum jal_status jal_gather_strided(struct jal_exec *ex,
					  const struct jal_operand *op,
					  uint64_t first, size_t n, float *buf)
{
	uint64_t pitch = op->stride * 4;
	float *scratch = ex->w->scratch;
	size_t done = 0;

	while (done < n) {
		size_t m = JAL_MIN(n - done,
				   (size_t)((JAL_SCRATCH_ELEMS - 1) / op->stride + 1));
		uint64_t va = jal_elem_va(op, first + done);
		size_t span = (m - 1) * op->stride + 1;
		enum jal_status st;
		size_t i;

		st = jal_mmu_read(ex->job, va, scratch, span * 4);
		if (st) {
			/*
			 * Report the first element in the faulting page, not
			 * a gap byte before it.
			 */
			uint64_t f = ex->job->fault_addr;

			if (f > va)
				ex->job->fault_addr = va + (f - va + pitch - 1) /
							   pitch * pitch;
			return st;
		}
		for (i = 0; i < m; i++)
			buf[done + i] = scratch[i * op->stride];
		done += m;
	}
	jal_f32_from_le(buf, n);
	return JAL_STATUS_OK;
}

enum jal_status jal_gather_f32(struct jal_exec *ex, const struct jal_operand *op,
			       uint64_t first, size_t n, float *buf)
{
	enum jal_status st;
	size_t i;

	if (!n)
		return JAL_STATUS_OK;
	if (op->stride == 0) {
		st = jal_read_f32(ex, op->va, 1, buf);
		for (i = 1; !st && i < n; i++)
			buf[i] = buf[0];
		return st;
	}
	if (op->stride == 1)
		return jal_read_f32(ex, jal_elem_va(op, first), n, buf);
	if (op->stride * 4 <= JAL_PAGE_SIZE)
		return jal_gather_strided(ex, op, first, n, buf);
	for (i = 0; i < n; i++) {
		st = jal_read_f32(ex, jal_elem_va(op, first + i), 1, &buf[i]);
		if (st)
			return st;
	}
	return JAL_STATUS_OK;
}

enum jal_status jal_scatter_f32(struct jal_exec *ex,
				const struct jal_operand *op, uint64_t first,
				size_t n, float *buf)
{
	enum jal_status st;
	size_t i;

	if (!n)
		return JAL_STATUS_OK;
	jal_f32_to_le(buf, n);
	if (op->stride == 0)	/* every element lands on the same spot */
		return jal_mmu_write(ex->job, op->va, &buf[n - 1], 4);
	if (op->stride == 1)
		return jal_mmu_write(ex->job, jal_elem_va(op, first), buf, n * 4);
	for (i = 0; i < n; i++) {
		st = jal_mmu_write(ex->job, jal_elem_va(op, first + i), &buf[i], 4);
		if (st)
			return st;
	}
	return JAL_STATUS_OK;
}

/*
 * Operands of the matrix and LLM instructions: byte ranges used in place
 * when they are one run of device memory (jal_mmu_span()), else moved
 * through the MMU in pieces.
 */
enum jal_status jal_span_init(struct jal_exec *ex, struct jal_span *s,
			      const char *name, uint64_t va, uint64_t len,
			      unsigned int align, bool write)
{
	s->va = va;
	s->len = len;
	s->ptr = NULL;
	s->write = write;
	if (!len)
		return JAL_STATUS_OK;
	if (va % align)
		return jal_exec_bad(ex, "operand %s at 0x%llx is not %u-byte aligned",
				    name, (unsigned long long)va, align);
	if (len > JAL_MAX_EXTENT)
		return jal_exec_bad(ex, "operand %s spans %llu bytes, more than %llu",
				    name, (unsigned long long)len,
				    (unsigned long long)JAL_MAX_EXTENT);
	if (va >= JAL_VA_LIMIT) {
		ex->job->fault_addr = va;
		ex->job->fault_write = write;
		return JAL_STATUS_MMU_UNMAPPED;
	}
	s->ptr = jal_mmu_span(ex->job, va, len, write);
	return JAL_STATUS_OK;
}

/* Bytes of @count items @pitch bytes apart, @item bytes each; 0 if too big. */
uint64_t jal_extent(uint64_t count, uint64_t pitch, uint64_t item)
{
	uint64_t elems;

	if (!count || !item)
		return 0;
	if (pitch && count - 1 > (JAL_MAX_EXTENT + 1) / pitch)
		return JAL_MAX_EXTENT + 1;
	elems = (count - 1) * pitch;
	if (item > JAL_MAX_EXTENT + 1 || elems > JAL_MAX_EXTENT + 1)
		return JAL_MAX_EXTENT + 1;
	return elems + item;
}

enum jal_status jal_span_read(struct jal_exec *ex, const struct jal_span *s,
			      uint64_t off, void *buf, size_t n)
{
	if (s->ptr) {
		memcpy(buf, s->ptr + off, n);
		return JAL_STATUS_OK;
	}
	return jal_mmu_read(ex->job, s->va + off, buf, n);
}

enum jal_status jal_span_write(struct jal_exec *ex, const struct jal_span *s,
			       uint64_t off, const void *buf, size_t n)
{
	if (s->ptr) {
		memcpy(s->ptr + off, buf, n);
		return JAL_STATUS_OK;
	}
	return jal_mmu_write(ex->job, s->va + off, buf, n);
}

const float *jal_span_f32(struct jal_exec *ex, const struct jal_span *s,
			  uint64_t first, size_t n, float *buf,
			  enum jal_status *st)
{
	if (s->ptr) {
		*st = JAL_STATUS_OK;
		return (const float *)(s->ptr + first * 4);
	}
	*st = jal_mmu_read(ex->job, s->va + first * 4, buf, n * 4);
	jal_f32_from_le(buf, n);
	return buf;
}

enum jal_status jal_span_put_f32(struct jal_exec *ex, const struct jal_span *s,
				 uint64_t first, float *buf, size_t n)
{
	jal_f32_to_le(buf, n);
	return jal_span_write(ex, s, first * 4, buf, n * 4);
}

bool jal_span_overlap(const struct jal_span *a, const struct jal_span *b)
{
	if (!a->len || !b->len)
		return false;
	if (a->va < b->va + b->len && b->va < a->va + a->len)
		return true;
	return a->ptr && b->ptr && a->ptr < b->ptr + b->len &&
	       b->ptr < a->ptr + a->len;
}

bool jal_span_same(const struct jal_span *a, const struct jal_span *b)
{
	return a->va == b->va || (a->ptr && a->ptr == b->ptr);
}

void jal_le_to_host(void *buf, size_t n, unsigned int esize)
{
#if JAL_HOST_BIG_ENDIAN
	uint8_t *p = buf, t;
	size_t i;

	for (i = 0; esize > 1 && i < n; i++, p += esize) {
		if (esize == 2) {
			t = p[0]; p[0] = p[1]; p[1] = t;
		} else if (esize == 4) {
			uint32_t v;

			memcpy(&v, p, 4);
			v = jal_le32(v);
			memcpy(p, &v, 4);
		}
	}
#else
	(void)buf;
	(void)n;
	(void)esize;
#endif
}
