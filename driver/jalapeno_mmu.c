// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: per-file device address spaces.
 *
 * Each open file owns one address space: a three-level page table in
 * coherent DMA memory and a drm_mm VA allocator. Contexts of the file
 * point their hardware context entry at the page-table root. BOs are
 * mapped when they are created and unmapped when they are freed; their
 * pages are released only once no job that was submitted before the
 * unmap can still run (see jal_vm_defer_release()). Contiguous memory
 * (device memory above all) is mapped with 2 MiB level-1 leaves
 * (JAL_PTE_HUGE) where the alignment allows.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/dma-mapping.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>

#include "jalapeno_drv.h"
#include "jalapeno_hw.h"
#include "jalapeno_mmu.h"

#define JAL_PT_BITS		9
#define JAL_PT_INDEX(va, level)	\
	(((va) >> (JAL_PAGE_SHIFT + (level) * JAL_PT_BITS)) & (JAL_PT_ENTRIES - 1))
/* VA covered by one leaf table. */
#define JAL_LEAF_SPAN		(JAL_PAGE_SIZE << JAL_PT_BITS)

static void jal_vm_reap_work(struct work_struct *work);
static void jal_vm_release_work(struct work_struct *work);

static struct device *jal_vm_dma_dev(struct jal_vm *vm)
{
	return &vm->jdev->pdev->dev;
}

static struct jal_pt *jal_pt_create(struct jal_vm *vm, bool directory)
{
	struct jal_pt *pt;

	pt = kzalloc(sizeof(*pt), GFP_KERNEL);
	if (!pt)
		return NULL;

	pt->entries = dma_alloc_coherent(jal_vm_dma_dev(vm), JAL_PAGE_SIZE,
					 &pt->dma, GFP_KERNEL);
	if (!pt->entries)
		goto err_free;

	if (directory) {
		pt->next = kcalloc(JAL_PT_ENTRIES, sizeof(*pt->next),
				   GFP_KERNEL);
		if (!pt->next)
			goto err_free_entries;
	}
	return pt;

err_free_entries:
	dma_free_coherent(jal_vm_dma_dev(vm), JAL_PAGE_SIZE, pt->entries,
			  pt->dma);
err_free:
	kfree(pt);
	return NULL;
}

static void jal_pt_destroy(struct jal_vm *vm, struct jal_pt *pt)
{
	unsigned int i;

	if (pt->next) {
		for (i = 0; i < JAL_PT_ENTRIES; i++)
			if (pt->next[i])
				jal_pt_destroy(vm, pt->next[i]);
		kfree(pt->next);
	}
	dma_free_coherent(jal_vm_dma_dev(vm), JAL_PAGE_SIZE, pt->entries,
			  pt->dma);
	kfree(pt);
}

/*
 * Returns the leaf table covering @va, creating the missing levels when
 * @create is set. NULL if it does not exist (or cannot be allocated).
 * Intermediate and leaf tables stay until the address space is freed,
 * which bounds their memory by the VA range ever used.
 */
static struct jal_pt *jal_vm_leaf(struct jal_vm *vm, u64 va, bool create)
{
	struct jal_pt *parent = vm->root;
	unsigned int level;

	lockdep_assert_held(&vm->lock);

	for (level = JAL_PT_LEVELS - 1; level > 0; level--) {
		unsigned int idx = JAL_PT_INDEX(va, level);
		struct jal_pt *child = parent->next[idx];

		if (!child) {
			if (!create)
				return NULL;
			/* A 2 MiB leaf is here: only its own mapping uses it. */
			if (drm_WARN_ON_ONCE(&vm->jdev->drm,
					     jal_mem_rd64(&parent->entries[idx]) &
					     JAL_PTE_VALID))
				return NULL;
			child = jal_pt_create(vm, level > 1);
			if (!child)
				return NULL;
			parent->next[idx] = child;
			jal_mem_wr64(&parent->entries[idx],
				     child->dma | JAL_PTE_VALID);
		}
		parent = child;
	}
	return parent;
}

/*
 * Returns the level-1 table in which a 2 MiB leaf for @va goes (creating
 * it if missing), NULL if a leaf table already covers @va (its 4 KiB
 * entries are used then: a table the chip may still be walking is never
 * freed before the address space is), or an ERR_PTR() on allocation
 * failure.
 */
static struct jal_pt *jal_vm_huge_dir(struct jal_vm *vm, u64 va)
{
	unsigned int idx = JAL_PT_INDEX(va, 2);
	struct jal_pt *dir = vm->root->next[idx];

	lockdep_assert_held(&vm->lock);

	if (!dir) {
		dir = jal_pt_create(vm, true);
		if (!dir)
			return ERR_PTR(-ENOMEM);
		vm->root->next[idx] = dir;
		jal_mem_wr64(&vm->root->entries[idx], dir->dma | JAL_PTE_VALID);
	}
	return dir->next[JAL_PT_INDEX(va, 1)] ? NULL : dir;
}

static void jal_vm_invalidate_locked(struct jal_vm *vm)
{
	unsigned int slot;

	lockdep_assert_held(&vm->lock);

	for_each_set_bit(slot, vm->hw_slots, JAL_NUM_CONTEXTS)
		jal_hw_mmu_invalidate(vm->jdev, slot);
}

static void jal_vm_clear_range_locked(struct jal_vm *vm, u64 start, u64 end)
{
	u64 va = start;

	lockdep_assert_held(&vm->lock);

	while (va < end) {
		struct jal_pt *dir = vm->root->next[JAL_PT_INDEX(va, 2)];
		unsigned int idx = JAL_PT_INDEX(va, 1);
		struct jal_pt *leaf = dir ? dir->next[idx] : NULL;

		if (leaf) {
			jal_mem_wr64(&leaf->entries[JAL_PT_INDEX(va, 0)], 0);
			va += JAL_PAGE_SIZE;
			continue;
		}
		/* Nothing mapped here, or a 2 MiB leaf of this range. */
		if (dir && jal_mem_rd64(&dir->entries[idx]) & JAL_PTE_HUGE) {
			drm_WARN_ON_ONCE(&vm->jdev->drm,
					 !IS_ALIGNED(va, JAL_HUGE_PAGE_SIZE) ||
					 end - va < JAL_HUGE_PAGE_SIZE);
			jal_mem_wr64(&dir->entries[idx], 0);
		}
		va = round_down(va, JAL_LEAF_SPAN) + JAL_LEAF_SPAN;
	}
}

/**
 * jal_vm_create() - create an empty address space
 * @jdev: the device.
 *
 * Return: the address space with one reference, or an ERR_PTR().
 */
struct jal_vm *jal_vm_create(struct jal_device *jdev)
{
	struct jal_vm *vm;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL);
	if (!vm)
		return ERR_PTR(-ENOMEM);

	kref_init(&vm->ref);
	vm->jdev = jdev;
	mutex_init(&vm->lock);
	spin_lock_init(&vm->activity_lock);
	INIT_LIST_HEAD(&vm->active);
	INIT_LIST_HEAD(&vm->deferred);
	INIT_WORK(&vm->reap_work, jal_vm_reap_work);
	INIT_WORK(&vm->release_work, jal_vm_release_work);

	vm->root = jal_pt_create(vm, true);
	if (!vm->root) {
		mutex_destroy(&vm->lock);
		kfree(vm);
		return ERR_PTR(-ENOMEM);
	}

	drm_mm_init(&vm->mm, jdev->va_start, jdev->va_end - jdev->va_start);
	INIT_LIST_HEAD(&vm->mappings);
	drm_dev_get(&jdev->drm);

	mutex_lock(&jdev->vms_lock);
	list_add_tail(&vm->dev_link, &jdev->vms);
	mutex_unlock(&jdev->vms_lock);
	return vm;
}

/**
 * jal_vm_get() - take a reference
 * @vm: address space.
 */
void jal_vm_get(struct jal_vm *vm)
{
	kref_get(&vm->ref);
}

static void jal_vm_release_work(struct work_struct *work)
{
	struct jal_vm *vm = container_of(work, struct jal_vm, release_work);
	struct jal_device *jdev = vm->jdev;

	drm_WARN_ON(&jdev->drm, !list_empty(&vm->deferred));
	drm_WARN_ON(&jdev->drm, !list_empty(&vm->active));
	drm_WARN_ON(&jdev->drm, !bitmap_empty(vm->hw_slots, JAL_NUM_CONTEXTS));

	drm_mm_takedown(&vm->mm);
	/* Removal frees the page tables of listed VMs; never both. */
	mutex_lock(&jdev->vms_lock);
	list_del(&vm->dev_link);
	if (vm->root)
		jal_pt_destroy(vm, vm->root);
	mutex_unlock(&jdev->vms_lock);
	mutex_destroy(&vm->lock);
	kfree(vm);

	/* May be the last reference: frees the device after unbind. */
	drm_dev_put(&jdev->drm);
}

static void jal_vm_release(struct kref *ref)
{
	struct jal_vm *vm = container_of(ref, struct jal_vm, ref);

	/*
	 * The last reference can go from a scheduler's free_job, i.e. from
	 * the scheduler workqueue, and the final drm_dev_put() tears the
	 * schedulers down, so the actual release always runs on jal_wq.
	 */
	queue_work(jal_wq, &vm->release_work);
}

/**
 * jal_vm_put() - drop a reference; callable from any context
 * @vm: address space, may be NULL.
 */
void jal_vm_put(struct jal_vm *vm)
{
	if (vm)
		kref_put(&vm->ref, jal_vm_release);
}

/**
 * jal_vm_map() - allocate a VA range and map a scatter-gather table there
 * @vm: address space.
 * @m: mapping to fill; @m->node must be zeroed.
 * @size: bytes to map, a multiple of the device page size.
 * @guard: extra unmapped VA bytes after the mapping, so that an overrun
 *	faults instead of reaching the next BO.
 * @sgt: DMA-mapped pages, at least @size bytes.
 * @readonly: map without JAL_PTE_WRITE.
 *
 * Return: 0, -ENOMEM when the VA range or memory is exhausted, -EINVAL for
 * an unsuitable @sgt.
 */
int jal_vm_map(struct jal_vm *vm, struct jal_vm_mapping *m, u64 size,
	       u64 guard, struct sg_table *sgt, bool readonly)
{
	struct jal_device *jdev = vm->jdev;
	u64 flags = JAL_PTE_VALID | JAL_PTE_READ;
	struct scatterlist *sg;
	u64 va, end;
	int ret;
	int i;

	if (!readonly)
		flags |= JAL_PTE_WRITE;

	mutex_lock(&vm->lock);
	if (vm->dead) {
		ret = -ENODEV;
		goto out_unlock;
	}
	ret = drm_mm_insert_node_in_range(&vm->mm, &m->node, size + guard,
					  jdev->page_size, 0, jdev->va_start,
					  jdev->va_end, DRM_MM_INSERT_BEST);
	if (ret) {
		/* -ENOSPC: the address space is full. */
		ret = -ENOMEM;
		goto out_unlock;
	}

	va = m->node.start;
	end = va + size;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		dma_addr_t addr = sg_dma_address(sg);
		u64 len = sg_dma_len(sg);
		u64 off;

		/* Page aligned, and below 2^52 as the PTE format requires. */
		if (drm_WARN_ON_ONCE(&jdev->drm,
				     (addr | len) & (JAL_PAGE_SIZE - 1) ||
				     (addr + len - 1) &
				     ~(JAL_PTE_ADDR_MASK | (JAL_PAGE_SIZE - 1)))) {
			ret = -EINVAL;
			goto err_unmap;
		}

		for (off = 0; off < len && va < end; off += JAL_PAGE_SIZE) {
			struct jal_pt *leaf = jal_vm_leaf(vm, va, true);

			if (!leaf) {
				ret = -ENOMEM;
				goto err_unmap;
			}
			jal_mem_wr64(&leaf->entries[JAL_PT_INDEX(va, 0)],
				     (addr + off) | flags);
			va += JAL_PAGE_SIZE;
		}
	}
	if (drm_WARN_ON_ONCE(&jdev->drm, va != end)) {
		ret = -EINVAL;
		goto err_unmap;
	}

	m->mapped = size;
	list_add_tail(&m->link, &vm->mappings);
	/* The chip may hold stale (negative or recycled) translations. */
	jal_vm_invalidate_locked(vm);
	mutex_unlock(&vm->lock);
	return 0;

err_unmap:
	jal_vm_clear_range_locked(vm, m->node.start, va);
	/* A job of this address space may have seen the partial mapping. */
	jal_vm_invalidate_locked(vm);
	drm_mm_remove_node(&m->node);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

/**
 * jal_vm_map_contig() - allocate a VA range and map contiguous memory there
 * @vm: address space.
 * @m: mapping to fill; @m->node must be zeroed.
 * @size: bytes to map, a multiple of the device page size.
 * @guard: extra unmapped VA bytes after the mapping (see jal_vm_map()).
 * @addr: page-aligned start: a DMA address of host memory, or with @vram
 *	an offset into device memory.
 * @vram: map device memory (JAL_PTE_VRAM leaves).
 * @readonly: map without JAL_PTE_WRITE.
 *
 * Every 2 MiB page whose VA and address are both 2 MiB aligned gets one
 * level-1 leaf (JAL_PTE_HUGE) instead of 512 4 KiB leaves. So that this
 * happens, a mapping of 2 MiB or more whose @addr is 2 MiB aligned is
 * placed at a 2 MiB aligned VA.
 *
 * Return: 0, -ENOMEM when the VA range or memory is exhausted, -EINVAL for
 * an unsuitable @addr.
 */
int jal_vm_map_contig(struct jal_vm *vm, struct jal_vm_mapping *m, u64 size,
		      u64 guard, u64 addr, bool vram, bool readonly)
{
	struct jal_device *jdev = vm->jdev;
	u64 flags = JAL_PTE_VALID | JAL_PTE_READ;
	u64 align = jdev->page_size;
	u64 va, end;
	int ret;

	/* Page aligned, and below 2^52 as the PTE format requires. */
	if (drm_WARN_ON_ONCE(&jdev->drm,
			     !size || (addr | size) & (JAL_PAGE_SIZE - 1) ||
			     (addr + size - 1) &
			     ~(JAL_PTE_ADDR_MASK | (JAL_PAGE_SIZE - 1))))
		return -EINVAL;

	if (!readonly)
		flags |= JAL_PTE_WRITE;
	if (vram)
		flags |= JAL_PTE_VRAM;
	if (size >= JAL_HUGE_PAGE_SIZE && IS_ALIGNED(addr, JAL_HUGE_PAGE_SIZE))
		align = max_t(u64, align, JAL_HUGE_PAGE_SIZE);

	mutex_lock(&vm->lock);
	if (vm->dead) {
		ret = -ENODEV;
		goto out_unlock;
	}
	ret = drm_mm_insert_node_in_range(&vm->mm, &m->node, size + guard,
					  align, 0, jdev->va_start,
					  jdev->va_end, DRM_MM_INSERT_BEST);
	if (ret) {
		/* -ENOSPC: the address space is full. */
		ret = -ENOMEM;
		goto out_unlock;
	}

	va = m->node.start;
	end = va + size;
	while (va < end) {
		u64 target = addr + (va - m->node.start);
		u64 pte = target | flags;
		struct jal_pt *pt;

		if (IS_ALIGNED(va | target, JAL_HUGE_PAGE_SIZE) &&
		    end - va >= JAL_HUGE_PAGE_SIZE) {
			pt = jal_vm_huge_dir(vm, va);
			if (IS_ERR(pt)) {
				ret = PTR_ERR(pt);
				goto err_unmap;
			}
			if (pt) {
				jal_mem_wr64(&pt->entries[JAL_PT_INDEX(va, 1)],
					     pte | JAL_PTE_HUGE);
				va += JAL_HUGE_PAGE_SIZE;
				continue;
			}
		}

		pt = jal_vm_leaf(vm, va, true);
		if (!pt) {
			ret = -ENOMEM;
			goto err_unmap;
		}
		jal_mem_wr64(&pt->entries[JAL_PT_INDEX(va, 0)], pte);
		va += JAL_PAGE_SIZE;
	}

	m->mapped = size;
	m->vram = vram;
	if (vram)
		atomic_inc(&vm->vram_mappings);
	list_add_tail(&m->link, &vm->mappings);
	/* The chip may hold stale (negative or recycled) translations. */
	jal_vm_invalidate_locked(vm);
	mutex_unlock(&vm->lock);
	return 0;

err_unmap:
	jal_vm_clear_range_locked(vm, m->node.start, va);
	/* A job of this address space may have seen the partial mapping. */
	jal_vm_invalidate_locked(vm);
	drm_mm_remove_node(&m->node);
out_unlock:
	mutex_unlock(&vm->lock);
	return ret;
}

/**
 * jal_vm_unmap() - clear a mapping's PTEs and flush the chip's TLBs
 * @vm: address space.
 * @m: mapping; its VA range stays allocated until jal_vm_remove().
 *
 * After this returns no new device access can reach the pages, but a job
 * that was already running may still hold a translation in flight; the
 * pages must stay alive until such jobs ended (jal_vm_defer_release()).
 */
void jal_vm_unmap(struct jal_vm *vm, struct jal_vm_mapping *m)
{
	mutex_lock(&vm->lock);
	if (m->mapped && !vm->dead) {
		jal_vm_clear_range_locked(vm, m->node.start,
					  m->node.start + m->mapped);
		jal_vm_invalidate_locked(vm);
	}
	if (m->mapped && m->vram)
		atomic_dec(&vm->vram_mappings);
	m->mapped = 0;
	mutex_unlock(&vm->lock);
}

/**
 * jal_vm_remove() - give a mapping's VA range back
 * @vm: address space.
 * @m: mapping, unmapped or never mapped.
 */
void jal_vm_remove(struct jal_vm *vm, struct jal_vm_mapping *m)
{
	mutex_lock(&vm->lock);
	drm_WARN_ON(&vm->jdev->drm, m->mapped);
	if (drm_mm_node_allocated(&m->node)) {
		list_del(&m->link);
		drm_mm_remove_node(&m->node);
	}
	mutex_unlock(&vm->lock);
}

/**
 * jal_vm_range_is_mapped() - is [@va, @va + @size) inside one mapping?
 * @vm: address space.
 * @va: start.
 * @size: bytes, non-zero.
 *
 * Return: true if one live mapping covers the whole range.
 */
bool jal_vm_range_is_mapped(struct jal_vm *vm, u64 va, u64 size)
{
	struct drm_mm_node *node;
	bool ok = false;

	if (!size || va + size < va)
		return false;

	mutex_lock(&vm->lock);
	node = __drm_mm_interval_first(&vm->mm, va, va);
	if (drm_mm_node_allocated(node)) {
		struct jal_vm_mapping *m =
			container_of(node, struct jal_vm_mapping, node);

		ok = va >= node->start &&
		     va + size <= node->start + m->mapped;
	}
	mutex_unlock(&vm->lock);
	return ok;
}

/**
 * jal_vm_root_dma() - bus address of the page-table root
 * @vm: address space, inside drm_dev_enter() (so not yet torn down).
 *
 * Return: what a context entry points at.
 */
dma_addr_t jal_vm_root_dma(struct jal_vm *vm)
{
	return vm->root->dma;
}

/**
 * jal_vm_unplug_all() - release every address space's DMA memory
 * @jdev: device being removed: unplugged and reset, so the chip does no
 *	more DMA.
 *
 * Frees all page tables and lets every mapping release its DMA mappings
 * (&jal_vm_mapping.release_dma), so that nothing is mapped for the device
 * once it is unbound; the address spaces themselves live on, dead, until
 * their files are closed. Mappings made afterwards fail with -ENODEV.
 */
void jal_vm_unplug_all(struct jal_device *jdev)
{
	struct jal_vm_mapping *m;
	struct jal_vm *vm;

	mutex_lock(&jdev->vms_lock);
	list_for_each_entry(vm, &jdev->vms, dev_link) {
		mutex_lock(&vm->lock);
		vm->dead = true;
		if (vm->root) {
			jal_pt_destroy(vm, vm->root);
			vm->root = NULL;
		}
		list_for_each_entry(m, &vm->mappings, link) {
			m->mapped = 0;
			if (m->release_dma)
				m->release_dma(m);
		}
		mutex_unlock(&vm->lock);
	}
	mutex_unlock(&jdev->vms_lock);
}

/**
 * jal_vm_maps_vram() - does the address space map device memory?
 * @vm: address space.
 *
 * Return: true while a device-memory mapping is in place.
 */
bool jal_vm_maps_vram(struct jal_vm *vm)
{
	return atomic_read(&vm->vram_mappings);
}

/**
 * jal_vm_describe() - the address space's part of the debugfs vms file
 * @vm: address space.
 * @m: the file.
 */
void jal_vm_describe(struct jal_vm *vm, struct seq_file *m)
{
	struct jal_vm_mapping *mapping;
	unsigned int n = 0;

	mutex_lock(&vm->lock);
	list_for_each_entry(mapping, &vm->mappings, link)
		n++;
	seq_printf(m, "vm %p%s: %u mappings, hw slots %*pbl\n", vm,
		   vm->dead ? " (dead)" : "", n, JAL_NUM_CONTEXTS,
		   vm->hw_slots);
	list_for_each_entry(mapping, &vm->mappings, link)
		seq_printf(m, "  [0x%010llx, 0x%010llx) mapped 0x%llx\n",
			   mapping->node.start,
			   mapping->node.start + mapping->node.size,
			   mapping->mapped);
	mutex_unlock(&vm->lock);
}

/**
 * jal_vm_attach_slot() - note that a hardware context uses this VM
 * @vm: address space.
 * @hw_ctx: slot whose TLB must be invalidated on page-table changes.
 */
void jal_vm_attach_slot(struct jal_vm *vm, u32 hw_ctx)
{
	mutex_lock(&vm->lock);
	set_bit(hw_ctx, vm->hw_slots);
	mutex_unlock(&vm->lock);
}

/**
 * jal_vm_detach_slot() - a hardware context stopped using this VM
 * @vm: address space.
 * @hw_ctx: slot.
 *
 * Lockless: the slot's context entry is invalid by now and its TLB gets
 * invalidated when the slot is reused, so missing one invalidation is
 * harmless.
 */
void jal_vm_detach_slot(struct jal_vm *vm, u32 hw_ctx)
{
	clear_bit(hw_ctx, vm->hw_slots);
}

/* Whether the oldest deferred release may run; activity_lock held. */
static bool jal_vm_reap_ready_locked(struct jal_vm *vm)
{
	struct jal_vm_deferred *d;
	struct jal_vm_activity *act;

	lockdep_assert_held(&vm->activity_lock);

	d = list_first_entry_or_null(&vm->deferred, struct jal_vm_deferred,
				     link);
	if (!d)
		return false;
	act = list_first_entry_or_null(&vm->active, struct jal_vm_activity,
				       link);
	return !act || act->seq > d->seq;
}

static void jal_vm_reap_work(struct work_struct *work)
{
	struct jal_vm *vm = container_of(work, struct jal_vm, reap_work);
	struct jal_vm_deferred *d;
	unsigned long flags;

	for (;;) {
		spin_lock_irqsave(&vm->activity_lock, flags);
		if (!jal_vm_reap_ready_locked(vm)) {
			spin_unlock_irqrestore(&vm->activity_lock, flags);
			break;
		}
		d = list_first_entry(&vm->deferred, struct jal_vm_deferred,
				     link);
		list_del_init(&d->link);
		spin_unlock_irqrestore(&vm->activity_lock, flags);

		d->release(d);
	}

	/* Reference taken when the work was queued. */
	jal_vm_put(vm);
}

/**
 * jal_vm_activity_begin() - a job that may access @vm is being submitted
 * @vm: address space.
 * @act: the job's marker, ended with jal_vm_activity_end().
 */
void jal_vm_activity_begin(struct jal_vm *vm, struct jal_vm_activity *act)
{
	unsigned long flags;

	spin_lock_irqsave(&vm->activity_lock, flags);
	act->seq = ++vm->last_seq;
	list_add_tail(&act->link, &vm->active);
	spin_unlock_irqrestore(&vm->activity_lock, flags);
}

/**
 * jal_vm_activity_end() - the job can no longer access @vm
 * @vm: address space; the caller still holds a reference.
 * @act: the marker passed to jal_vm_activity_begin(), or one with an
 *	initialised empty @act->link; ending twice is harmless.
 *
 * Callable from any context.
 */
void jal_vm_activity_end(struct jal_vm *vm, struct jal_vm_activity *act)
{
	unsigned long flags;
	bool ready;

	spin_lock_irqsave(&vm->activity_lock, flags);
	if (list_empty(&act->link)) {
		spin_unlock_irqrestore(&vm->activity_lock, flags);
		return;
	}
	list_del_init(&act->link);
	ready = jal_vm_reap_ready_locked(vm);
	spin_unlock_irqrestore(&vm->activity_lock, flags);

	if (ready) {
		jal_vm_get(vm);
		if (!queue_work(jal_wq, &vm->reap_work))
			jal_vm_put(vm);
	}
}

/**
 * jal_vm_defer_release() - run a release once older jobs have ended
 * @vm: address space.
 * @d: the release; @d->release is called exactly once, right here if no
 *	job is active in @vm, else later from jal_wq.
 *
 * Jobs submitted after this call cannot reach memory that was unmapped
 * before it, so only jobs that are already active are waited for. Never
 * blocks, so it is safe from a scheduler's free_job.
 */
void jal_vm_defer_release(struct jal_vm *vm, struct jal_vm_deferred *d)
{
	unsigned long flags;
	bool idle;

	spin_lock_irqsave(&vm->activity_lock, flags);
	d->seq = vm->last_seq;
	idle = list_empty(&vm->active);
	if (!idle)
		list_add_tail(&d->link, &vm->deferred);
	spin_unlock_irqrestore(&vm->activity_lock, flags);

	if (idle)
		d->release(d);
}
