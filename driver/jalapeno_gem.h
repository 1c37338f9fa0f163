/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: buffer objects.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_GEM_H__
#define __JALAPENO_GEM_H__

#include <linux/types.h>

#include <drm/drm_gem_shmem_helper.h>

#include "jalapeno_mmu.h"

struct dma_buf;
struct drm_device;
struct drm_file;

/**
 * struct jal_bo - a Jalapeño buffer object
 * @base: shmem GEM object; must stay the first member because
 *	drm_gem_shmem_free() kfree()s it.
 * @vm: address space the BO is mapped in (holds a reference), NULL until
 *	the mapping succeeded.
 * @mapping: the BO's VA range in @vm.
 * @deferred: release of pages and VA once @vm has no older jobs.
 * @flags: DRM_JALAPENO_BO_* given at creation.
 * @pinned: drm_gem_shmem_pin() succeeded and must be undone.
 *
 * Lifetime: created pinned and mapped. When the last GEM reference goes,
 * the PTEs are cleared at once (so later jobs fault), but the pages and
 * the VA range are only released when every job submitted to @vm before
 * that point has finished, because a job may use any VA of its address
 * space, not only the BOs it listed.
 */
struct jal_bo {
	struct drm_gem_shmem_object base;
	struct jal_vm *vm;
	struct jal_vm_mapping mapping;
	struct jal_vm_deferred deferred;
	u32 flags;
	bool pinned;
};

static inline struct jal_bo *to_jal_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct jal_bo, base.base);
}

struct drm_gem_object *jal_gem_create_object(struct drm_device *dev,
					     size_t size);
struct drm_gem_object *jal_gem_prime_import(struct drm_device *dev,
					    struct dma_buf *dma_buf);
bool jal_gem_is_bo(struct drm_gem_object *obj);
int jal_gem_open(struct drm_gem_object *obj, struct drm_file *file);

int jal_ioctl_bo_create(struct drm_device *dev, void *data,
			struct drm_file *file);
int jal_ioctl_bo_info(struct drm_device *dev, void *data,
		      struct drm_file *file);
int jal_ioctl_bo_wait(struct drm_device *dev, void *data,
		      struct drm_file *file);

#endif /* __JALAPENO_GEM_H__ */
