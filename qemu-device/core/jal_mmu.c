// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: the MMU.
 *
 * Every job access to command buffers, kernel code, arguments and
 * operands goes through the 3-level page table of the job's context. A
 * leaf maps host memory (DMA through the platform) or, with JAL_PTE_VRAM,
 * device memory (the core's own allocation, accessed directly); a level-1
 * entry with JAL_PTE_HUGE is a 2 MiB leaf. A leaf that points outside
 * device memory is treated as unmapped.
 *
 * The worker keeps a direct-mapped TLB for 4 KiB pages, one for 2 MiB
 * pages and a range cache that remembers which operand ranges are one
 * contiguous run of device memory (so compute instructions can use them
 * in place). JAL_REG_MMU_INVALIDATE (and anything else that may change
 * translations) bumps dev->mmu_gen, and the worker drops all three and
 * re-reads the context entry when it sees a new generation, so a
 * translation that starts after the invalidating write completed never
 * uses stale data.
 */
#include "jal_internal.h"

void jal_mmu_invalidate(struct jal_device *dev)
{
	atomic_fetch_add_explicit(&dev->mmu_gen, 1, memory_order_release);
}

static void jal_tlb_flush(struct jal_worker *w, unsigned int gen)
{
	unsigned int i;

	for (i = 0; i < JAL_TLB_ENTRIES; i++)
		w->tlb[i].valid = false;
	for (i = 0; i < JAL_HUGE_TLB_ENTRIES; i++)
		w->huge_tlb[i].valid = false;
	for (i = 0; i < JAL_SPAN_ENTRIES; i++)
		w->spans[i].valid = false;
	w->tlb_gen = gen;
}

static enum jal_status jal_mmu_load_ctx(struct jal_job *job)
{
	struct jal_device *dev = job->dev;
	struct jal_ctx_entry e;
	uint64_t root;

	if (job->ctx_id >= JAL_NUM_CONTEXTS) {
		jal_log(dev, "context id %u out of range", job->ctx_id);
		return JAL_STATUS_BAD_CTX;
	}
	if (!job->ctx_table || (job->ctx_table & JAL_PAGE_MASK)) {
		jal_log(dev, "context table 0x%llx not set or not 4 KiB aligned",
			(unsigned long long)job->ctx_table);
		return JAL_STATUS_BAD_CTX;
	}
	if (jal_dma_read(dev, job->ctx_table + job->ctx_id * sizeof(e), &e,
			 sizeof(e))) {
		jal_log(dev, "cannot read context entry %u", job->ctx_id);
		return JAL_STATUS_BUS_ERROR;
	}
	root = jal_le64(e.pt_root);
	if (!(root & JAL_CTX_VALID)) {
		jal_log(dev, "context %u is not valid", job->ctx_id);
		return JAL_STATUS_BAD_CTX;
	}
	if (e.reserved || (root & ~(JAL_PTE_ADDR_MASK | JAL_CTX_VALID))) {
		jal_log(dev, "context %u entry has reserved bits set (0x%llx)",
			job->ctx_id, (unsigned long long)root);
		return JAL_STATUS_BAD_CTX;
	}
	job->pt_root = root & JAL_PTE_ADDR_MASK;
	return JAL_STATUS_OK;
}

enum jal_status jal_mmu_begin(struct jal_job *job)
{
	unsigned int gen = atomic_load_explicit(&job->dev->mmu_gen,
						memory_order_acquire);

	if (job->w->tlb_gen != gen)
		jal_tlb_flush(job->w, gen);
	job->mmu_gen = gen;
	return jal_mmu_load_ctx(job);
}

static enum jal_status jal_mmu_fault(struct jal_job *job, enum jal_status st,
				     uint64_t va, bool write)
{
	job->fault_addr = va;
	job->fault_write = write;
	return st;
}

/* Drop the caches if an invalidation happened since the last look. */
static enum jal_status jal_mmu_sync(struct jal_job *job)
{
	unsigned int gen = atomic_load_explicit(&job->dev->mmu_gen,
						memory_order_acquire);

	if (gen == job->mmu_gen)
		return JAL_STATUS_OK;
	jal_tlb_flush(job->w, gen);
	job->mmu_gen = gen;
	return jal_mmu_load_ctx(job);
}

/*
 * A leaf of @size bytes: in device memory its whole page must lie inside
 * it (anything else is as good as unmapped).
 */
static bool jal_leaf_ok(const struct jal_job *job, uint64_t pte, uint64_t size)
{
	uint64_t addr = pte & JAL_PTE_ADDR_MASK;

	if (!(pte & JAL_PTE_VRAM))
		return true;
	return addr < job->dev->vram_size && size <= job->dev->vram_size - addr;
}

static void jal_tlb_fill(struct jal_tlb_entry *e, const struct jal_job *job,
			 uint64_t vpn, uint64_t pte)
{
	e->vpn = vpn;
	e->ctx = job->ctx_id;
	e->addr = pte & JAL_PTE_ADDR_MASK;
	e->vram = pte & JAL_PTE_VRAM;
	e->perms = ((pte & JAL_PTE_READ) ? JAL_TLB_READ : 0) |
		   ((pte & JAL_PTE_WRITE) ? JAL_TLB_WRITE : 0);
	e->valid = true;
}

/*
 * Walk the page table for @va and fill the TLB entry for it: @small for a
 * 4 KiB leaf, @huge for a 2 MiB one (level-1 entry with JAL_PTE_HUGE).
 * Returns the entry filled.
 */
static enum jal_status jal_mmu_walk(struct jal_job *job, uint64_t va,
				    bool write, struct jal_tlb_entry *small,
				    struct jal_tlb_entry *huge,
				    struct jal_tlb_entry **filled)
{
	uint64_t table = job->pt_root;
	uint64_t pte = 0;
	int level;

	for (level = JAL_PT_LEVELS - 1; level >= 0; level--) {
		unsigned int idx = (va >> (JAL_PAGE_SHIFT + 9 * level)) &
				   (JAL_PT_ENTRIES - 1);
		bool huge_leaf;

		if (jal_dma_read(job->dev, table + idx * sizeof(pte), &pte,
				 sizeof(pte)))
			return jal_mmu_fault(job, JAL_STATUS_BUS_ERROR, va, write);
		pte = jal_le64(pte);
		/*
		 * Access bits of non-leaf entries are ignored; the memory-kind
		 * and size bits are only defined where the header says.
		 */
		huge_leaf = level == 1 && (pte & JAL_PTE_HUGE);
		if (!(pte & JAL_PTE_VALID) || (pte & JAL_PTE_RESERVED) ||
		    ((pte & JAL_PTE_HUGE) && level != 1) ||
		    ((pte & JAL_PTE_VRAM) && level && !huge_leaf))
			return jal_mmu_fault(job, JAL_STATUS_MMU_UNMAPPED, va,
					     write);
		if (huge_leaf) {
			if ((pte & JAL_PTE_ADDR_MASK & JAL_HUGE_MASK) ||
			    !jal_leaf_ok(job, pte, JAL_HUGE_PAGE_SIZE))
				return jal_mmu_fault(job, JAL_STATUS_MMU_UNMAPPED,
						     va, write);
			jal_tlb_fill(huge, job, va >> 21, pte);
			*filled = huge;
			return JAL_STATUS_OK;
		}
		table = pte & JAL_PTE_ADDR_MASK;
	}
	if (!jal_leaf_ok(job, pte, JAL_PAGE_SIZE))
		return jal_mmu_fault(job, JAL_STATUS_MMU_UNMAPPED, va, write);
	jal_tlb_fill(small, job, va >> JAL_PAGE_SHIFT, pte);
	*filled = small;
	return JAL_STATUS_OK;
}

enum jal_status jal_mmu_translate(struct jal_job *job, uint64_t va, bool write,
				  struct jal_xlate *x)
{
	struct jal_worker *w = job->w;
	uint64_t vpn = va >> JAL_PAGE_SHIFT, hvpn = va >> 21;
	struct jal_tlb_entry *e, *h;
	enum jal_status st;
	uint64_t mask;

	st = jal_mmu_sync(job);
	if (st)
		return jal_mmu_fault(job, st, va, write);
	if (va >= JAL_VA_LIMIT)
		return jal_mmu_fault(job, JAL_STATUS_MMU_UNMAPPED, va, write);

	e = &w->tlb[vpn % JAL_TLB_ENTRIES];
	h = &w->huge_tlb[hvpn % JAL_HUGE_TLB_ENTRIES];
	if (e->valid && e->vpn == vpn && e->ctx == job->ctx_id) {
		mask = JAL_PAGE_MASK;
	} else if (h->valid && h->vpn == hvpn && h->ctx == job->ctx_id) {
		e = h;
		mask = JAL_HUGE_MASK;
	} else {
		st = jal_mmu_walk(job, va, write, e, h, &e);
		if (st)
			return st;
		mask = e == h ? JAL_HUGE_MASK : JAL_PAGE_MASK;
	}
	if (!(e->perms & (write ? JAL_TLB_WRITE : JAL_TLB_READ)))
		return jal_mmu_fault(job, JAL_STATUS_MMU_PERM, va, write);
	x->addr = e->addr | (va & mask);
	x->page_end = (va | mask) + 1;
	x->vram = e->vram;
	return JAL_STATUS_OK;
}

static unsigned int jal_span_slot(uint64_t va, uint32_t ctx)
{
	uint64_t h = ((va >> 2) ^ ((uint64_t)ctx << 40)) * 0x9e3779b97f4a7c15ull;

	return (unsigned int)(h >> 40) % JAL_SPAN_ENTRIES;
}

/*
 * Extend what @s knows about the run of device memory at s->va until it
 * covers @len bytes or ends, page by page (a 2 MiB page at a time where
 * the mapping has them). Faults are not reported here: the caller's slow
 * path meets them in order.
 */
static void jal_span_walk(struct jal_job *job, struct jal_span_entry *s,
			  uint64_t len)
{
	uint64_t fault_addr = job->fault_addr, cur = s->va + s->len;
	uint64_t end = s->va + len;
	bool fault_write = job->fault_write;
	struct jal_xlate x;

	while (cur < end) {
		uint8_t perms = 0;

		if (!jal_mmu_translate(job, cur, false, &x))
			perms |= JAL_TLB_READ;
		if (!jal_mmu_translate(job, cur, true, &x))
			perms |= JAL_TLB_WRITE;
		if (!perms)
			break;	/* unmapped: do not remember it as "not a run" */
		if (!x.vram || (s->len && x.addr != s->off + s->len)) {
			s->bad_len = JAL_MIN(s->bad_len, len);
			break;
		}
		if (!s->len) {
			s->off = x.addr;
			s->perms = perms;
		}
		s->perms &= perms;
		s->len = JAL_MIN(x.page_end, end) - s->va;
		cur = s->va + s->len;
	}
	job->fault_addr = fault_addr;
	job->fault_write = fault_write;
}

uint8_t *jal_mmu_span(struct jal_job *job, uint64_t va, uint64_t len,
		      bool write)
{
	uint8_t need = write ? JAL_TLB_WRITE : JAL_TLB_READ;
	struct jal_span_entry *s;

	if (JAL_HOST_BIG_ENDIAN || !job->dev->vram || !len ||
	    va >= JAL_VA_LIMIT || len > JAL_VA_LIMIT - va)
		return NULL;
	if (jal_mmu_sync(job))
		return NULL;
	s = &job->w->spans[jal_span_slot(va, job->ctx_id)];
	if (!s->valid || s->va != va || s->ctx != job->ctx_id) {
		s->valid = true;
		s->va = va;
		s->ctx = job->ctx_id;
		s->len = 0;
		s->bad_len = UINT64_MAX;
		s->perms = 0;
	}
	if (len > s->len && len < s->bad_len)
		jal_span_walk(job, s, len);
	if (len > s->len || (s->perms & need) != need)
		return NULL;
	return job->dev->vram + s->off;
}

/* Longest physically contiguous run moved by one DMA call. */
#define JAL_DMA_RUN_MAX		(1u << 20)

static int jal_dma(struct jal_device *dev, uint64_t pa, uint8_t *buf,
		   size_t len, bool write)
{
	return write ? jal_dma_write(dev, pa, buf, len) :
		       jal_dma_read(dev, pa, buf, len);
}

/*
 * A merged run failed: redo it page by page so the fault names the first
 * page the host could not access.
 */
static enum jal_status jal_mmu_bus_error(struct jal_job *job, uint64_t va,
					 uint64_t pa, uint8_t *buf, size_t run,
					 bool write)
{
	size_t off = 0, n;

	while (off < run) {
		n = JAL_MIN(run - off, JAL_PAGE_SIZE - ((va + off) & JAL_PAGE_MASK));
		if (jal_dma(job->dev, pa + off, buf + off, n, write))
			break;
		off += n;
	}
	return jal_mmu_fault(job, JAL_STATUS_BUS_ERROR,
			     off < run ? va + off : va, write);
}

/*
 * Move @len bytes between @buf and device VA @va page by page, merging
 * pages that are contiguous in the same memory into one transfer: a DMA
 * for host memory, a memcpy for device memory. On a fault, pages before
 * the faulting one may have been transferred.
 */
static enum jal_status jal_mmu_access(struct jal_job *job, uint64_t va,
				      uint8_t *buf, size_t len, bool write)
{
	struct jal_device *dev = job->dev;

	while (len) {
		struct jal_xlate x, next;
		enum jal_status st;
		size_t run;
		int err;

		st = jal_mmu_translate(job, va, write, &x);
		if (st)
			return st;
		run = JAL_MIN(len, x.page_end - va);
		while (run < len && (x.vram || run < JAL_DMA_RUN_MAX)) {
			uint64_t fault_addr = job->fault_addr;
			bool fault_write = job->fault_write;

			if (jal_mmu_translate(job, va + run, write, &next)) {
				/* The next round reports it, after this run. */
				job->fault_addr = fault_addr;
				job->fault_write = fault_write;
				break;
			}
			if (next.vram != x.vram || next.addr != x.addr + run)
				break;
			run += JAL_MIN(len - run, next.page_end - (va + run));
		}
		if (x.vram) {
			/* jal_mmu_walk checked the pages are inside. */
			if (write)
				memcpy(dev->vram + x.addr, buf, run);
			else
				memcpy(buf, dev->vram + x.addr, run);
		} else {
			err = jal_dma(dev, x.addr, buf, run, write);
			if (err)
				return jal_mmu_bus_error(job, va, x.addr, buf, run,
							 write);
		}
		va += run;
		buf += run;
		len -= run;
	}
	return JAL_STATUS_OK;
}

enum jal_status jal_mmu_read(struct jal_job *job, uint64_t va, void *buf,
			     size_t len)
{
	return jal_mmu_access(job, va, buf, len, false);
}

enum jal_status jal_mmu_write(struct jal_job *job, uint64_t va,
			      const void *buf, size_t len)
{
	return jal_mmu_access(job, va, (uint8_t *)buf, len, true);
}
