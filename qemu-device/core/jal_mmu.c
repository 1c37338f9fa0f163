// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: the MMU.
 *
 * Every job access to command buffers, kernel code, arguments and
 * operands goes through the 3-level page table of the job's context. The
 * worker keeps a small direct-mapped TLB; JAL_REG_MMU_INVALIDATE (and
 * anything else that may change translations) bumps dev->mmu_gen, and the
 * worker drops the TLB and re-reads the context entry when it sees a new
 * generation, so a translation that starts after the invalidating write
 * completed never uses stale data.
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

/* Walk the page table for @va and fill @e. */
static enum jal_status jal_mmu_walk(struct jal_job *job, uint64_t va,
				    bool write, struct jal_tlb_entry *e)
{
	uint64_t table = job->pt_root;
	uint64_t pte = 0;
	int level;

	for (level = JAL_PT_LEVELS - 1; level >= 0; level--) {
		unsigned int idx = (va >> (JAL_PAGE_SHIFT + 9 * level)) &
				   (JAL_PT_ENTRIES - 1);

		if (jal_dma_read(job->dev, table + idx * sizeof(pte), &pte,
				 sizeof(pte)))
			return jal_mmu_fault(job, JAL_STATUS_BUS_ERROR, va, write);
		pte = jal_le64(pte);
		/* Access bits of non-leaf entries are ignored. */
		if (!(pte & JAL_PTE_VALID) || (pte & JAL_PTE_RESERVED))
			return jal_mmu_fault(job, JAL_STATUS_MMU_UNMAPPED, va,
					     write);
		table = pte & JAL_PTE_ADDR_MASK;
	}
	e->vpn = va >> JAL_PAGE_SHIFT;
	e->ctx = job->ctx_id;
	e->pa = table;
	e->perms = ((pte & JAL_PTE_READ) ? JAL_TLB_READ : 0) |
		   ((pte & JAL_PTE_WRITE) ? JAL_TLB_WRITE : 0);
	e->valid = true;
	return JAL_STATUS_OK;
}

enum jal_status jal_mmu_translate(struct jal_job *job, uint64_t va, bool write,
				  uint64_t *pa)
{
	struct jal_worker *w = job->w;
	unsigned int gen = atomic_load_explicit(&job->dev->mmu_gen,
						memory_order_acquire);
	uint64_t vpn = va >> JAL_PAGE_SHIFT;
	struct jal_tlb_entry *e;
	enum jal_status st;

	if (gen != job->mmu_gen) {
		jal_tlb_flush(w, gen);
		job->mmu_gen = gen;
		st = jal_mmu_load_ctx(job);
		if (st)
			return jal_mmu_fault(job, st, va, write);
	}
	if (va >= JAL_VA_LIMIT)
		return jal_mmu_fault(job, JAL_STATUS_MMU_UNMAPPED, va, write);

	e = &w->tlb[vpn % JAL_TLB_ENTRIES];
	if (!e->valid || e->vpn != vpn || e->ctx != job->ctx_id) {
		st = jal_mmu_walk(job, va, write, e);
		if (st) {
			e->valid = false;
			return st;
		}
	}
	if (!(e->perms & (write ? JAL_TLB_WRITE : JAL_TLB_READ)))
		return jal_mmu_fault(job, JAL_STATUS_MMU_PERM, va, write);
	*pa = e->pa | (va & JAL_PAGE_MASK);
	return JAL_STATUS_OK;
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
 * physically contiguous pages into one DMA. On a fault, pages before the
 * faulting one may have been transferred.
 */
static enum jal_status jal_mmu_access(struct jal_job *job, uint64_t va,
				      uint8_t *buf, size_t len, bool write)
{
	while (len) {
		size_t run = JAL_MIN(len, JAL_PAGE_SIZE - (va & JAL_PAGE_MASK));
		uint64_t pa, next;
		enum jal_status st;
		int err;

		st = jal_mmu_translate(job, va, write, &pa);
		if (st)
			return st;
		while (run < len && run < JAL_DMA_RUN_MAX) {
			uint64_t fault_addr = job->fault_addr;
			bool fault_write = job->fault_write;

			if (jal_mmu_translate(job, va + run, write, &next)) {
				/* The next round reports it, after this run. */
				job->fault_addr = fault_addr;
				job->fault_write = fault_write;
				break;
			}
			if (next != pa + run)
				break;
			run += JAL_MIN(len - run, JAL_PAGE_SIZE);
		}
		err = jal_dma(job->dev, pa, buf, run, write);
		if (err)
			return jal_mmu_bus_error(job, va, pa, buf, run, write);
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
