/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: per-file device address spaces.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_MMU_H__
#define __JALAPENO_MMU_H__

#include <linux/bitmap.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

#include <drm/drm_mm.h>

#include <drm/jalapeno_hw.h>

struct jal_device;
struct seq_file;

/**
 * struct jal_pt - one page-table page
 * @entries: JAL_PT_ENTRIES little-endian entries (coherent DMA memory).
 * @dma: bus address of @entries, what the parent entry points at.
 * @next: for directory levels, the child tables by index (NULL where the
 *	entry is invalid); NULL for leaf tables.
 */
struct jal_pt {
	__u64 *entries;
	dma_addr_t dma;
	struct jal_pt **next;
};

/**
 * struct jal_vm_mapping - a VA range of an address space
 * @node: the drm_mm allocation (may include unmapped guard pages).
 * @mapped: bytes from @node.start that have valid PTEs; 0 once unmapped.
 *	Under &jal_vm.lock.
 * @link: entry in &jal_vm.mappings while @node is allocated.
 * @release_dma: if set, called (under &jal_vm.lock) when the device is
 *	removed, to drop the DMA mappings of the memory behind the mapping.
 * @vram: the mapping is of device memory; counted in
 *	&jal_vm.vram_mappings while @mapped.
 */
struct jal_vm_mapping {
	struct drm_mm_node node;
	u64 mapped;
	struct list_head link;
	void (*release_dma)(struct jal_vm_mapping *m);
	bool vram;
};

/**
 * struct jal_vm_activity - marks a job that may access an address space
 * @link: entry in &jal_vm.active.
 * @seq: order of the job's submission in this address space.
 */
struct jal_vm_activity {
	struct list_head link;
	u64 seq;
};

/**
 * struct jal_vm_deferred - a release that waits for older jobs
 * @link: entry in &jal_vm.deferred.
 * @seq: the last job sequence number when the release was requested; the
 *	release runs once no job with a sequence number <= @seq is active.
 * @release: called from process context (jal_wq or the caller of
 *	jal_vm_defer_release()) without any VM lock held.
 */
struct jal_vm_deferred {
	struct list_head link;
	u64 seq;
	void (*release)(struct jal_vm_deferred *d);
};

/**
 * struct jal_vm - a device address space (one per open file)
 * @ref: references: the file, every BO mapped in it (until the BO's
 *	deferred release), every context on it.
 * @jdev: the device; the VM holds a drm_dev reference.
 * @dev_link: entry in &jal_device.vms.
 * @lock: protects @mm, @mappings, @dead, the page tables,
 *	&jal_vm_mapping.mapped and @hw_slots updates. Sleeps (page-table
 *	allocation), so it is never taken in fence-signalling context.
 *	Nests inside &jal_device.vms_lock and outside BO reservation locks.
 * @mm: VA allocator for [jdev->va_start, jdev->va_end).
 * @mappings: every mapping with an allocated VA range.
 * @dead: the device was removed: page tables are freed, nothing maps.
 * @root: top-level page table (level 2); NULL once @dead.
 * @hw_slots: hardware context slots whose entry points at @root; their
 *	TLBs are invalidated after page-table changes. Set under @lock,
 *	cleared atomically on context release.
 * @activity_lock: protects @active, @last_seq and @deferred. Irq-safe: it
 *	is taken from dma_fence callbacks.
 * @active: jobs pushed and not yet finished, in @seq order.
 * @last_seq: sequence number of the last job that began.
 * @deferred: releases waiting for @active to drain, in @seq order.
 * @reap_work: runs ready deferred releases on jal_wq.
 * @release_work: frees the VM on jal_wq once @ref drops to zero.
 * @vram_mappings: mappings of device memory in place (changed under
 *	@lock, read locklessly): a device reset clears device memory, which
 *	the contexts of this address space then lose.
 */
struct jal_vm {
	struct kref ref;
	struct jal_device *jdev;
	struct list_head dev_link;

	struct mutex lock; /* mm, mappings, page tables, hw_slots, dead */
	struct drm_mm mm;
	struct list_head mappings;
	bool dead;
	struct jal_pt *root;
	DECLARE_BITMAP(hw_slots, JAL_NUM_CONTEXTS);

	spinlock_t activity_lock; /* active, last_seq, deferred; irq-safe */
	struct list_head active;
	u64 last_seq;
	struct list_head deferred;
	struct work_struct reap_work;

	struct work_struct release_work;
	atomic_t vram_mappings;
};

struct jal_vm *jal_vm_create(struct jal_device *jdev);
void jal_vm_describe(struct jal_vm *vm, struct seq_file *m);
bool jal_vm_maps_vram(struct jal_vm *vm);
void jal_vm_get(struct jal_vm *vm);
void jal_vm_put(struct jal_vm *vm);

int jal_vm_map(struct jal_vm *vm, struct jal_vm_mapping *m, u64 size,
	       u64 guard, struct sg_table *sgt, bool readonly);
int jal_vm_map_contig(struct jal_vm *vm, struct jal_vm_mapping *m, u64 size,
		      u64 guard, u64 addr, bool vram, bool readonly);
void jal_vm_unmap(struct jal_vm *vm, struct jal_vm_mapping *m);
void jal_vm_remove(struct jal_vm *vm, struct jal_vm_mapping *m);
bool jal_vm_range_is_mapped(struct jal_vm *vm, u64 va, u64 size);
dma_addr_t jal_vm_root_dma(struct jal_vm *vm);
void jal_vm_unplug_all(struct jal_device *jdev);

void jal_vm_attach_slot(struct jal_vm *vm, u32 hw_ctx);
void jal_vm_detach_slot(struct jal_vm *vm, u32 hw_ctx);

void jal_vm_activity_begin(struct jal_vm *vm, struct jal_vm_activity *act);
void jal_vm_activity_end(struct jal_vm *vm, struct jal_vm_activity *act);
void jal_vm_defer_release(struct jal_vm *vm, struct jal_vm_deferred *d);

#endif /* __JALAPENO_MMU_H__ */
