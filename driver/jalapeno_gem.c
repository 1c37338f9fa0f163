// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: buffer objects.
 *
 * BOs are shmem GEM objects, pinned and mapped into the creating file's
 * address space at creation. See struct jal_bo for their lifetime. BOs
 * in device memory (DRM_JALAPENO_BO_VRAM) are struct jal_vram_bo, see
 * jalapeno_vram.c; the ioctls here serve both kinds.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/dma-resv.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_print.h>
#include <drm/drm_utils.h>
#include <drm/drm_vma_manager.h>

#include <drm/jalapeno_accel.h>

#include "jalapeno_drv.h"
#include "jalapeno_gem.h"
#include "jalapeno_mmu.h"
#include "jalapeno_vram.h"

static_assert(offsetof(struct jal_bo, base) == 0);

/*
 * Device removal: drop the DMA mapping of the pages (the sg table and its
 * page reference); the pin keeps the pages for CPU mappings. Called with
 * the address space's lock held.
 */
static void jal_bo_release_dma(struct jal_vm_mapping *m)
{
	struct jal_bo *bo = container_of(m, struct jal_bo, mapping);
	struct drm_gem_shmem_object *shmem = &bo->base;

	dma_resv_lock(shmem->base.resv, NULL);
	if (shmem->sgt) {
		dma_unmap_sgtable(shmem->base.dev->dev, shmem->sgt,
				  DMA_BIDIRECTIONAL, 0);
		sg_free_table(shmem->sgt);
		kfree(shmem->sgt);
		shmem->sgt = NULL;
		drm_gem_shmem_put_pages(shmem);
	}
	dma_resv_unlock(shmem->base.resv);
}

static void jal_bo_destroy(struct jal_bo *bo)
{
	if (bo->pinned)
		drm_gem_shmem_unpin(&bo->base);
	/* Unmaps the sg table, puts the pages and kfree()s @bo. */
	drm_gem_shmem_free(&bo->base);
}

static void jal_bo_deferred_release(struct jal_vm_deferred *d)
{
	struct jal_bo *bo = container_of(d, struct jal_bo, deferred);
	struct jal_vm *vm = bo->vm;

	jal_vm_remove(vm, &bo->mapping);
	jal_bo_destroy(bo);
	jal_vm_put(vm);
}

static void jal_gem_free(struct drm_gem_object *obj)
{
	struct jal_bo *bo = to_jal_bo(obj);

	if (!bo->vm) {
		jal_bo_destroy(bo);
		return;
	}

	/*
	 * New jobs must not reach the pages from now on; jobs that may
	 * already be using them are waited for without blocking here (this
	 * can run from a scheduler's free_job).
	 */
	jal_vm_unmap(bo->vm, &bo->mapping);
	bo->deferred.release = jal_bo_deferred_release;
	jal_vm_defer_release(bo->vm, &bo->deferred);
}

/**
 * jal_gem_open() - &drm_gem_object_funcs.open of both kinds of BO
 * @obj: the BO.
 * @file: the file a handle is being created on.
 *
 * A BO is mapped in the address space of the file that created it and
 * nowhere else, so only that file may hold handles to it. Other files
 * reach BOs through GEM_OPEN of a flink name or through PRIME import of
 * an export of this device (which the PRIME core resolves to the same
 * object without asking the driver); both are refused here.
 *
 * Return: 0, or -EOPNOTSUPP on a file other than the creator.
 */
int jal_gem_open(struct drm_gem_object *obj, struct drm_file *file)
{
	struct jal_file *jfile = file->driver_priv;
	struct jal_vm *vm = jal_gem_is_vram_bo(obj) ? to_jal_vram_bo(obj)->vm :
						     to_jal_bo(obj)->vm;

	if (vm != jfile->vm) {
		drm_dbg(obj->dev, "a BO of another file cannot get a handle here\n");
		return -EOPNOTSUPP;
	}
	return 0;
}

static const struct drm_gem_object_funcs jal_gem_funcs = {
	.free = jal_gem_free,
	.open = jal_gem_open,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.vm_ops = &drm_gem_shmem_vm_ops,
};

/**
 * jal_gem_create_object() - &drm_driver.gem_create_object hook
 * @dev: DRM device.
 * @size: object size (unused).
 *
 * Return: the embedded GEM object of a new, zeroed struct jal_bo.
 */
struct drm_gem_object *jal_gem_create_object(struct drm_device *dev,
					     size_t size)
{
	struct jal_bo *bo;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL);
	if (!bo)
		return ERR_PTR(-ENOMEM);

	bo->base.base.funcs = &jal_gem_funcs;
	return &bo->base.base;
}

/**
 * jal_gem_prime_import() - &drm_driver.gem_prime_import hook
 * @dev: DRM device.
 * @dma_buf: buffer to import.
 *
 * A BO lives in exactly one file's address space, so BOs are neither
 * shared between files nor imported; a file re-importing its own export
 * is resolved by the PRIME core before this hook runs.
 *
 * Return: ERR_PTR(-EOPNOTSUPP).
 */
struct drm_gem_object *jal_gem_prime_import(struct drm_device *dev,
					    struct dma_buf *dma_buf)
{
	return ERR_PTR(-EOPNOTSUPP);
}

/**
 * jal_gem_is_bo() - does @obj belong to this driver?
 * @obj: GEM object.
 *
 * Return: true for a struct jal_bo or a struct jal_vram_bo.
 */
bool jal_gem_is_bo(struct drm_gem_object *obj)
{
	return obj->funcs == &jal_gem_funcs || jal_gem_is_vram_bo(obj);
}

/**
 * jal_ioctl_bo_create() - DRM_IOCTL_JALAPENO_BO_CREATE
 * @dev: DRM device.
 * @data: struct drm_jalapeno_bo_create.
 * @file: DRM file.
 *
 * Return: 0, -EINVAL for bad flags or sizes (or device memory on a chip
 * without it), -ENOMEM when memory or the address space is exhausted,
 * -ENOSPC when device memory is.
 */
int jal_ioctl_bo_create(struct drm_device *dev, void *data,
			struct drm_file *file)
{
	struct jal_device *jdev = to_jal_device(dev);
	struct jal_file *jfile = file->driver_priv;
	struct drm_jalapeno_bo_create *args = data;
	struct drm_gem_shmem_object *shmem;
	u64 va_space = jdev->va_end - jdev->va_start;
	u64 guard = jdev->page_size;
	struct sg_table *sgt;
	struct jal_bo *bo;
	u32 handle;
	u64 size;
	u64 va;
	int ret;
	int idx;

	if (args->flags & ~DRM_JALAPENO_BO_FLAGS) {
		drm_dbg(dev, "BO_CREATE: unknown flags 0x%x\n", args->flags);
		return -EINVAL;
	}
	if (!args->size || args->size > va_space - guard) {
		drm_dbg(dev, "BO_CREATE: bad size 0x%llx\n", args->size);
		return -EINVAL;
	}
	size = round_up(args->size, jdev->page_size);
	if (size + guard > va_space) {
		drm_dbg(dev, "BO_CREATE: size 0x%llx exceeds the VA range\n",
			args->size);
		return -EINVAL;
	}
	if (args->flags & DRM_JALAPENO_BO_VRAM)
		return jal_vram_bo_create(jdev, file, args, size, guard);
	/* Pinned memory: never more than the machine has. */
	if (size >> PAGE_SHIFT > totalram_pages())
		return -ENOMEM;

	/*
	 * Device removal unmaps every BO that is mapped for DMA; one being
	 * created must be complete (or gone) before removal looks.
	 */
	if (!drm_dev_enter(dev, &idx))
		return -ENODEV;

	shmem = drm_gem_shmem_create(dev, size);
	if (IS_ERR(shmem)) {
		drm_dev_exit(idx);
		return PTR_ERR(shmem);
	}
	bo = to_jal_bo(&shmem->base);
	bo->flags = args->flags;
	bo->mapping.release_dma = jal_bo_release_dma;

	ret = drm_gem_shmem_pin(shmem);
	if (ret)
		goto out_put;
	bo->pinned = true;

	sgt = drm_gem_shmem_get_pages_sgt(shmem);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto out_put;
	}

	ret = jal_vm_map(jfile->vm, &bo->mapping, size, guard, sgt,
			 args->flags & DRM_JALAPENO_BO_DEVICE_READONLY);
	if (ret)
		goto out_put;
	jal_vm_get(jfile->vm);
	bo->vm = jfile->vm;
	va = bo->mapping.node.start;

	ret = drm_gem_handle_create(file, &shmem->base, &handle);
	if (ret)
		goto out_put;

	args->handle = handle;
	args->va = va;

out_put:
	/* The handle holds the BO now; on error this frees it. */
	drm_gem_object_put(&shmem->base);
	drm_dev_exit(idx);
	return ret;
}

/**
 * jal_ioctl_bo_info() - DRM_IOCTL_JALAPENO_BO_INFO
 * @dev: DRM device.
 * @data: struct drm_jalapeno_bo_info.
 * @file: DRM file.
 *
 * Return: 0, -ENOENT for an unknown handle.
 */
int jal_ioctl_bo_info(struct drm_device *dev, void *data,
		      struct drm_file *file)
{
	struct drm_jalapeno_bo_info *args = data;
	struct drm_gem_object *obj;
	struct jal_bo *bo;
	int ret;

	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;
	if (jal_gem_is_vram_bo(obj)) {
		struct jal_vram_bo *vbo = to_jal_vram_bo(obj);

		/* Not CPU accessible: no mmap offset. */
		args->flags = vbo->flags;
		args->size = obj->size;
		args->va = vbo->mapping.node.start;
		args->mmap_offset = 0;
		ret = 0;
		goto out_put;
	}
	if (!jal_gem_is_bo(obj)) {
		ret = -EINVAL;
		goto out_put;
	}
	bo = to_jal_bo(obj);

	ret = drm_gem_create_mmap_offset(obj);
	if (ret)
		goto out_put;

	args->flags = bo->flags;
	args->size = obj->size;
	args->va = bo->mapping.node.start;
	args->mmap_offset = drm_vma_node_offset_addr(&obj->vma_node);

out_put:
	drm_gem_object_put(obj);
	return ret;
}

/**
 * jal_ioctl_bo_wait() - DRM_IOCTL_JALAPENO_BO_WAIT
 * @dev: DRM device.
 * @data: struct drm_jalapeno_bo_wait.
 * @file: DRM file.
 *
 * Waits for every job fence on the BO, whatever the job's outcome.
 *
 * Return: 0, -EINVAL for flags, -ENOENT for an unknown handle,
 * -ETIMEDOUT if jobs are still running at the deadline, -ERESTARTSYS on
 * a signal.
 */
int jal_ioctl_bo_wait(struct drm_device *dev, void *data,
		      struct drm_file *file)
{
	struct drm_jalapeno_bo_wait *args = data;
	struct drm_gem_object *obj;
	long timeout;
	long ret;

	if (args->flags) {
		drm_dbg(dev, "BO_WAIT: unknown flags 0x%x\n", args->flags);
		return -EINVAL;
	}

	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj)
		return -ENOENT;

	timeout = drm_timeout_abs_to_jiffies(args->timeout_ns);
	ret = dma_resv_wait_timeout(obj->resv, DMA_RESV_USAGE_BOOKKEEP, true,
				    timeout);
	drm_gem_object_put(obj);

	if (ret == 0)
		return -ETIMEDOUT;
	return ret < 0 ? ret : 0;
}
