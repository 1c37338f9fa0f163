// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: device memory (VRAM) and its BOs.
 *
 * A chip with JAL_CAP_VRAM has JAL_REG_VRAM_SIZE bytes of memory of its
 * own that the host cannot reach through a BAR: jobs reach it through
 * JAL_PTE_VRAM leaves. A DRM_JALAPENO_BO_VRAM BO is one contiguous range
 * of it, taken from a per-device drm_mm allocator and mapped into the
 * creating file's address space (with 2 MiB leaves where possible).
 *
 * Zeroing: device memory is zero only after a device reset, and a range
 * freed by one file may be handed to another, so every range is zeroed
 * when it is allocated, before it is mapped into the new owner's address
 * space. The chip cannot be told to clear memory, so the driver runs a
 * FILL job of its own: a kernel context (one hardware slot, on the
 * highest priority queue) in a kernel address space, into which the
 * range is mapped just for that job. BO_CREATE waits for the job.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/dma-fence.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/slab.h>

#include <drm/drm_device.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include <drm/jalapeno_accel.h>

#include "jalapeno_ctx.h"
#include "jalapeno_drv.h"
#include "jalapeno_gem.h"
#include "jalapeno_hw.h"
#include "jalapeno_job.h"
#include "jalapeno_mmu.h"
#include "jalapeno_vram.h"

/* Runs when the DRM device is released, i.e. after the last BO. */
static void jal_vram_mm_fini(struct drm_device *drm, void *arg)
{
	struct jal_vram *vram = arg;

	/* Warns about any range still allocated: that would be a leak. */
	drm_mm_takedown(&vram->mm);
}

/*
 * Allocates @size bytes of device memory. Ranges of 2 MiB or more are
 * 2 MiB aligned so that they can be mapped with 2 MiB leaves; if no such
 * hole is left, any hole will do (mapped with 4 KiB leaves).
 */
static int jal_vram_alloc(struct jal_device *jdev, struct drm_mm_node *node,
			  u64 size)
{
	struct jal_vram *vram = &jdev->vram;
	int ret = -ENOSPC;

	mutex_lock(&vram->lock);
	if (size >= JAL_HUGE_PAGE_SIZE)
		ret = drm_mm_insert_node_generic(&vram->mm, node, size,
						 JAL_HUGE_PAGE_SIZE, 0,
						 DRM_MM_INSERT_BEST);
	if (ret)
		ret = drm_mm_insert_node_generic(&vram->mm, node, size,
						 jdev->page_size, 0,
						 DRM_MM_INSERT_BEST);
	mutex_unlock(&vram->lock);
	return ret;
}

static void jal_vram_free(struct jal_device *jdev, struct drm_mm_node *node)
{
	struct jal_vram *vram = &jdev->vram;

	mutex_lock(&vram->lock);
	if (drm_mm_node_allocated(node))
		drm_mm_remove_node(node);
	mutex_unlock(&vram->lock);
}

/*
 * Zeroes [@offset, @offset + @size) of device memory with a FILL job of
 * the kernel context and waits for the job.
 *
 * Return: 0 once the chip wrote the zeros, else a negative errno and the
 * range's contents are undefined.
 */
static int jal_vram_zero(struct jal_device *jdev, u64 offset, u64 size)
{
	struct jal_vram *vram = &jdev->vram;
	struct jal_vm_mapping m = {};
	struct jal_cmd_fill *fill;
	struct dma_fence *done;
	int ret;

	if (mutex_lock_interruptible(&vram->zero_lock))
		return -ERESTARTSYS;
	if (!vram->zero_ctx) {
		ret = -ENODEV;
		goto out_unlock;
	}

	/* Mapped for this job only, so a wrong FILL would fault. */
	ret = jal_vm_map_contig(vram->zero_vm, &m, size, 0, offset, true,
				false);
	if (ret)
		goto out_unlock;

	fill = vram->cmdbuf;
	jal_mem_wr32(&fill->hdr, JAL_CMD_HDR(JAL_CMD_FILL, sizeof(*fill) / 4));
	jal_mem_wr32(&fill->pattern, 0);
	jal_mem_wr64(&fill->dst_va, m.node.start);
	jal_mem_wr64(&fill->size, size);

	done = jal_job_submit_kernel(vram->zero_ctx,
				     vram->cmdbuf_mapping.node.start,
				     sizeof(*fill));
	if (IS_ERR(done)) {
		ret = PTR_ERR(done);
	} else {
		/*
		 * Not interruptible: the command buffer and the mapping must
		 * stay until the chip is done with them. The job timeout
		 * bounds the wait.
		 */
		dma_fence_wait(done, false);
		ret = dma_fence_get_status(done);
		if (ret > 0)
			ret = 0;
		dma_fence_put(done);
	}
	if (ret && ret != -ENODEV)
		drm_err_ratelimited(&jdev->drm,
				    "zeroing 0x%llx bytes of device memory at 0x%llx failed: %d\n",
				    size, offset, ret);

	jal_vm_unmap(vram->zero_vm, &m);
	jal_vm_remove(vram->zero_vm, &m);
out_unlock:
	mutex_unlock(&vram->zero_lock);
	return ret;
}

/*
 * Undoes jal_vram_zero_init(), also a partial one. Runs on unbind (after
 * jal_pci_remove()) or when probe fails, before the DRM device can be
 * released: the kernel address space holds a reference to it.
 */
static void jal_vram_zero_fini(void *arg)
{
	struct jal_device *jdev = arg;
	struct jal_vram *vram = &jdev->vram;
	struct jal_ctx *ctx;

	/* Waits for a zeroing in progress; later ones find no context. */
	mutex_lock(&vram->zero_lock);
	ctx = vram->zero_ctx;
	vram->zero_ctx = NULL;
	mutex_unlock(&vram->zero_lock);

	if (ctx)
		jal_ctx_destroy_kernel(ctx);

	/* Every zeroing job has ended, so the chip reads none of this. */
	if (vram->zero_vm) {
		jal_vm_unmap(vram->zero_vm, &vram->cmdbuf_mapping);
		jal_vm_remove(vram->zero_vm, &vram->cmdbuf_mapping);
		jal_vm_put(vram->zero_vm);
		vram->zero_vm = NULL;
	}
	if (vram->cmdbuf) {
		dma_free_coherent(&jdev->pdev->dev, vram->cmdbuf_size,
				  vram->cmdbuf, vram->cmdbuf_dma);
		vram->cmdbuf = NULL;
	}
}

/* The kernel address space, command buffer and context for zeroing. */
static int jal_vram_zero_init(struct jal_device *jdev)
{
	struct jal_vram *vram = &jdev->vram;
	struct jal_ctx *ctx;
	struct jal_vm *vm;
	int ret;

	ret = devm_add_action_or_reset(&jdev->pdev->dev, jal_vram_zero_fini,
				       jdev);
	if (ret)
		return ret;

	vm = jal_vm_create(jdev);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	vram->zero_vm = vm;

	vram->cmdbuf_size = jdev->page_size;
	vram->cmdbuf = dma_alloc_coherent(&jdev->pdev->dev, vram->cmdbuf_size,
					  &vram->cmdbuf_dma, GFP_KERNEL);
	if (!vram->cmdbuf)
		return -ENOMEM;

	ret = jal_vm_map_contig(vm, &vram->cmdbuf_mapping, vram->cmdbuf_size,
				0, vram->cmdbuf_dma, false, true);
	if (ret)
		return ret;

	ctx = jal_ctx_create_kernel(jdev, vm, JAL_QUEUE_PRIORITY_MAX);
	if (IS_ERR(ctx)) {
		drm_err(&jdev->drm,
			"cannot create the device-memory zeroing context: %ld\n",
			PTR_ERR(ctx));
		return PTR_ERR(ctx);
	}
	mutex_lock(&vram->zero_lock);
	vram->zero_ctx = ctx;
	mutex_unlock(&vram->zero_lock);
	return 0;
}

/**
 * jal_vram_init() - set up device-memory allocation
 * @jdev: device with its schedulers and context table; &jal_device.vram_size
 *	read from the chip.
 *
 * Without device memory only the locks are initialised. The kernel
 * context for zeroing takes one hardware context slot.
 *
 * Return: 0 or a negative errno.
 */
int jal_vram_init(struct jal_device *jdev)
{
	struct jal_vram *vram = &jdev->vram;
	int ret;

	ret = drmm_mutex_init(&jdev->drm, &vram->lock);
	if (ret)
		return ret;
	ret = drmm_mutex_init(&jdev->drm, &vram->zero_lock);
	if (ret)
		return ret;
	if (!jdev->vram_size)
		return 0;

	drm_mm_init(&vram->mm, 0, jdev->vram_size);
	ret = drmm_add_action_or_reset(&jdev->drm, jal_vram_mm_fini, vram);
	if (ret)
		return ret;

	return jal_vram_zero_init(jdev);
}

static void jal_vram_bo_destroy(struct jal_vram_bo *bo)
{
	jal_vram_free(to_jal_device(bo->base.dev), &bo->node);
	drm_gem_object_release(&bo->base);
	kfree(bo);
}

static void jal_vram_bo_deferred_release(struct jal_vm_deferred *d)
{
	struct jal_vram_bo *bo = container_of(d, struct jal_vram_bo, deferred);
	struct jal_vm *vm = bo->vm;

	jal_vm_remove(vm, &bo->mapping);
	jal_vram_bo_destroy(bo);
	jal_vm_put(vm);
}

static void jal_vram_bo_free(struct drm_gem_object *obj)
{
	struct jal_vram_bo *bo = to_jal_vram_bo(obj);

	if (!bo->vm) {
		jal_vram_bo_destroy(bo);
		return;
	}

	/*
	 * As for host BOs (jal_gem_free()): new jobs must not reach the
	 * memory from now on, and it goes back to the allocator (where
	 * another file may get it) only after jobs that may be using it
	 * have ended.
	 */
	jal_vm_unmap(bo->vm, &bo->mapping);
	bo->deferred.release = jal_vram_bo_deferred_release;
	jal_vm_defer_release(bo->vm, &bo->deferred);
}

/* The host cannot address device memory. */
static int jal_vram_bo_mmap(struct drm_gem_object *obj,
			    struct vm_area_struct *vma)
{
	return -EINVAL;
}

static struct dma_buf *jal_vram_bo_export(struct drm_gem_object *obj,
					  int flags)
{
	return ERR_PTR(-EOPNOTSUPP);
}

static const struct drm_gem_object_funcs jal_vram_bo_funcs = {
	.free = jal_vram_bo_free,
	.open = jal_gem_open,
	.export = jal_vram_bo_export,
	.mmap = jal_vram_bo_mmap,
};

/**
 * jal_gem_is_vram_bo() - is @obj a device-memory BO of this driver?
 * @obj: GEM object.
 *
 * Return: true for a struct jal_vram_bo.
 */
bool jal_gem_is_vram_bo(struct drm_gem_object *obj)
{
	return obj->funcs == &jal_vram_bo_funcs;
}

/**
 * jal_vram_bo_create() - BO_CREATE with DRM_JALAPENO_BO_VRAM
 * @jdev: device.
 * @file: DRM file.
 * @args: the ioctl argument, flags already checked; handle and va are
 *	filled in.
 * @size: BO size, rounded up to the page size.
 * @guard: unmapped VA bytes after the BO.
 *
 * The device memory is zeroed before it is mapped, so no job of the file
 * can see what an earlier owner left there.
 *
 * Return: 0, -EINVAL without device memory, -ENOSPC when not enough of it
 * is free, -ENOMEM, -ENODEV after unplug, -ERESTARTSYS on a signal.
 */
int jal_vram_bo_create(struct jal_device *jdev, struct drm_file *file,
		       struct drm_jalapeno_bo_create *args, u64 size,
		       u64 guard)
{
	struct jal_file *jfile = file->driver_priv;
	struct drm_device *dev = &jdev->drm;
	struct jal_vram_bo *bo;
	u32 handle;
	int ret;

	if (!jdev->vram_size) {
		drm_dbg(dev, "BO_CREATE: the chip has no device memory\n");
		return -EINVAL;
	}
	if (size > jdev->vram_size) {
		drm_dbg(dev, "BO_CREATE: 0x%llx bytes exceed the device memory\n",
			size);
		return -ENOSPC;
	}

	bo = kzalloc(sizeof(*bo), GFP_KERNEL);
	if (!bo)
		return -ENOMEM;
	drm_gem_private_object_init(dev, &bo->base, size);
	bo->base.funcs = &jal_vram_bo_funcs;
	bo->flags = args->flags;
	/* Device memory is not DMA-mapped: removal has nothing to release. */
	bo->mapping.release_dma = NULL;

	ret = jal_vram_alloc(jdev, &bo->node, size);
	if (ret) {
		drm_dbg(dev, "BO_CREATE: no 0x%llx bytes of device memory free\n",
			size);
		goto out_put;
	}

	ret = jal_vram_zero(jdev, bo->node.start, size);
	if (ret)
		goto out_put;

	/*
	 * From here on the memory goes back through a deferred release: a
	 * failed mapping may have been visible to the file's jobs briefly.
	 */
	jal_vm_get(jfile->vm);
	bo->vm = jfile->vm;
	ret = jal_vm_map_contig(bo->vm, &bo->mapping, size, guard,
				bo->node.start, true,
				args->flags & DRM_JALAPENO_BO_DEVICE_READONLY);
	if (ret)
		goto out_put;

	ret = drm_gem_handle_create(file, &bo->base, &handle);
	if (ret)
		goto out_put;

	args->handle = handle;
	args->va = bo->mapping.node.start;

out_put:
	/* The handle holds the BO now; on error this frees it. */
	drm_gem_object_put(&bo->base);
	return ret;
}
