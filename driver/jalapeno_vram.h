/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: device memory (VRAM) and its BOs.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_VRAM_H__
#define __JALAPENO_VRAM_H__

#include <linux/dma-mapping.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include <drm/drm_gem.h>
#include <drm/drm_mm.h>

#include "jalapeno_mmu.h"

struct drm_file;
struct drm_jalapeno_bo_create;
struct jal_ctx;
struct jal_device;

/**
 * struct jal_vram - the chip's device memory
 * @lock: protects @mm.
 * @mm: allocator of device-memory ranges in [0, &jal_device.vram_size);
 *	initialised only if the chip has device memory.
 * @zero_lock: serialises zeroing: protects @zero_ctx, @cmdbuf and the
 *	mappings of @zero_vm. It is held while a zeroing job runs, so it is
 *	never taken in fence-signalling paths.
 * @zero_ctx: kernel context that runs the zeroing jobs; NULL before
 *	jal_vram_init() and after teardown.
 * @zero_vm: the kernel address space @zero_ctx runs in (own reference).
 * @cmdbuf: command buffer of the zeroing jobs (one page, coherent DMA).
 * @cmdbuf_dma: its bus address.
 * @cmdbuf_size: its size.
 * @cmdbuf_mapping: its read-only mapping in @zero_vm.
 */
struct jal_vram {
	struct mutex lock; /* mm */
	struct drm_mm mm;

	struct mutex zero_lock; /* zero_ctx, cmdbuf, zero_vm mappings */
	struct jal_ctx *zero_ctx;
	struct jal_vm *zero_vm;
	void *cmdbuf;
	dma_addr_t cmdbuf_dma;
	size_t cmdbuf_size;
	struct jal_vm_mapping cmdbuf_mapping;
};

/**
 * struct jal_vram_bo - a buffer object in device memory
 * @base: GEM object; not shmem backed and never CPU mapped.
 * @vm: address space the BO is mapped in (holds a reference), NULL until
 *	the device memory was allocated and zeroed.
 * @mapping: the BO's VA range in @vm.
 * @deferred: release of the device memory and VA once @vm has no older
 *	jobs.
 * @node: the BO's device-memory range.
 * @flags: DRM_JALAPENO_BO_* given at creation.
 *
 * Lifetime as for struct jal_bo: when the last GEM reference goes the
 * PTEs are cleared at once, and the device memory is only given back
 * (and may then be handed to another file) when every job submitted to
 * @vm before that point has finished.
 */
struct jal_vram_bo {
	struct drm_gem_object base;
	struct jal_vm *vm;
	struct jal_vm_mapping mapping;
	struct jal_vm_deferred deferred;
	struct drm_mm_node node;
	u32 flags;
};

static inline struct jal_vram_bo *to_jal_vram_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct jal_vram_bo, base);
}

int jal_vram_init(struct jal_device *jdev);
bool jal_gem_is_vram_bo(struct drm_gem_object *obj);
int jal_vram_bo_create(struct jal_device *jdev, struct drm_file *file,
		       struct drm_jalapeno_bo_create *args, u64 size,
		       u64 guard);

#endif /* __JALAPENO_VRAM_H__ */
