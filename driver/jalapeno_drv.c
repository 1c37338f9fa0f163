// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: PCI binding, DRM driver, files, queries.
 *
 * Lifetime overview: the PCI binding owns the registers and interrupts
 * (devres); the DRM device (and with it the schedulers, rings and context
 * table, all drmm-managed) lives until the last open file and address
 * space are gone. Removal unplugs the DRM device, resets the chip and
 * fails every job on the rings with -ENODEV; files stay usable for close.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/atomic.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include <drm/drm_accel.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include <drm/jalapeno_accel.h>

#include "jalapeno_ctx.h"
#include "jalapeno_debugfs.h"
#include "jalapeno_drv.h"
#include "jalapeno_gem.h"
#include "jalapeno_hw.h"
#include "jalapeno_hwmon.h"
#include "jalapeno_job.h"
#include "jalapeno_mmu.h"
#include "jalapeno_vram.h"

struct workqueue_struct *jal_wq;

/*
 * DRM devices not yet released. Module exit waits for zero, because the
 * final release of an unbound device runs driver code (on jal_wq) after
 * the last file was closed.
 */
static atomic_t jal_live_devices = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(jal_live_devices_wq);

static int jal_ioctl_query(struct drm_device *dev, void *data,
			   struct drm_file *file)
{
	struct jal_device *jdev = to_jal_device(dev);
	struct drm_jalapeno_query *args = data;
	struct drm_jalapeno_device_info info = {};
	u32 size;

	if (args->type != DRM_JALAPENO_QUERY_DEVICE_INFO) {
		drm_dbg(dev, "QUERY: unknown type %u\n", args->type);
		return -EINVAL;
	}

	info.vendor_id = jdev->pdev->vendor;
	info.device_id = jdev->pdev->device;
	info.revision = jdev->pdev->revision;
	info.hw_version = jdev->hw_version;
	info.caps = jdev->caps;
	info.num_queues = JAL_NUM_QUEUES;
	info.num_contexts = jdev->num_contexts;
	info.va_start = jdev->va_start;
	info.va_end = jdev->va_end;
	info.max_cmdbuf_size = jdev->max_cmdbuf_size;
	info.max_code_size = jdev->max_code_size;
	info.page_size = jdev->page_size;
	info.vram_size = jdev->vram_size;

	if (!args->size) {
		args->size = sizeof(info);
		return 0;
	}

	size = min_t(u32, args->size, sizeof(info));
	if (copy_to_user(u64_to_user_ptr(args->data), &info, size))
		return -EFAULT;
	args->size = size;
	return 0;
}

/**
 * jal_usage_get() - take a reference to a file's usage counters
 * @usage: counters.
 *
 * Return: @usage.
 */
struct jal_usage *jal_usage_get(struct jal_usage *usage)
{
	kref_get(&usage->ref);
	return usage;
}

static void jal_usage_release(struct kref *ref)
{
	kfree(container_of(ref, struct jal_usage, ref));
}

/**
 * jal_usage_put() - drop a reference; callable from any context
 * @usage: counters, may be NULL.
 */
void jal_usage_put(struct jal_usage *usage)
{
	if (usage)
		kref_put(&usage->ref, jal_usage_release);
}

static const char * const jal_engine_names[JAL_NUM_QUEUES] = {
	[DRM_JALAPENO_PRIORITY_LOW] = "low",
	[DRM_JALAPENO_PRIORITY_NORMAL] = "normal",
	[DRM_JALAPENO_PRIORITY_HIGH] = "high",
	[DRM_JALAPENO_PRIORITY_REALTIME] = "realtime",
};

/* drm-total/shared/active/resident-{host,vram} of the file's BOs. */
static void jal_show_memory_stats(struct drm_printer *p, struct drm_file *file)
{
	struct drm_memory_stats host = {}, vram = {};
	struct drm_gem_object *obj;
	int id;

	spin_lock(&file->table_lock);
	idr_for_each_entry(&file->object_idr, obj, id) {
		struct drm_memory_stats *s = jal_gem_is_vram_bo(obj) ? &vram :
								      &host;

		/* Every BO is pinned and private to its file. */
		s->private += obj->size;
		s->resident += obj->size;
		if (!dma_resv_test_signaled(obj->resv, DMA_RESV_USAGE_BOOKKEEP))
			s->active += obj->size;
	}
	spin_unlock(&file->table_lock);

	drm_print_memory_stats(p, &host, DRM_GEM_OBJECT_RESIDENT, "host");
	drm_print_memory_stats(p, &vram, DRM_GEM_OBJECT_RESIDENT, "vram");
}

/*
 * &drm_driver.show_fdinfo, after the core's drm-driver and drm-client-id
 * (Documentation/gpu/drm-usage-stats.rst): one engine per hardware queue,
 * named by its priority, and host and device memory as regions.
 */
static void jal_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	struct jal_file *jfile = file->driver_priv;
	unsigned int i;

	for (i = 0; i < JAL_NUM_QUEUES; i++)
		drm_printf(p, "drm-engine-%s:\t%llu ns\n", jal_engine_names[i],
			   (u64)atomic64_read(&jfile->usage->engine_ns[i]));
	jal_show_memory_stats(p, file);
}

static int jal_open(struct drm_device *dev, struct drm_file *file)
{
	struct jal_device *jdev = to_jal_device(dev);
	struct jal_file *jfile;
	int ret = 0;
	int idx;

	if (!drm_dev_enter(dev, &idx))
		return -ENODEV;

	jfile = kzalloc(sizeof(*jfile), GFP_KERNEL);
	if (!jfile) {
		ret = -ENOMEM;
		goto out_exit;
	}

	jfile->jdev = jdev;
	jfile->usage = kzalloc(sizeof(*jfile->usage), GFP_KERNEL);
	if (!jfile->usage) {
		ret = -ENOMEM;
		kfree(jfile);
		goto out_exit;
	}
	kref_init(&jfile->usage->ref);
	jfile->vm = jal_vm_create(jdev);
	if (IS_ERR(jfile->vm)) {
		ret = PTR_ERR(jfile->vm);
		jal_usage_put(jfile->usage);
		kfree(jfile);
		goto out_exit;
	}
	xa_init_flags(&jfile->ctxs, XA_FLAGS_ALLOC1);
	file->driver_priv = jfile;

out_exit:
	drm_dev_exit(idx);
	return ret;
}

/*
 * Handles (and so BOs) are already gone when this runs. Works after
 * unplug: contexts only tear down scheduler entities.
 */
static void jal_postclose(struct drm_device *dev, struct drm_file *file)
{
	struct jal_file *jfile = file->driver_priv;

	jal_ctx_destroy_all(jfile);
	jal_vm_put(jfile->vm);
	jal_usage_put(jfile->usage);
	kfree(jfile);
}

static const struct drm_ioctl_desc jal_ioctls[] = {
	DRM_IOCTL_DEF_DRV(JALAPENO_QUERY, jal_ioctl_query, 0),
	DRM_IOCTL_DEF_DRV(JALAPENO_BO_CREATE, jal_ioctl_bo_create, 0),
	DRM_IOCTL_DEF_DRV(JALAPENO_BO_INFO, jal_ioctl_bo_info, 0),
	DRM_IOCTL_DEF_DRV(JALAPENO_CTX_CREATE, jal_ioctl_ctx_create, 0),
	DRM_IOCTL_DEF_DRV(JALAPENO_CTX_DESTROY, jal_ioctl_ctx_destroy, 0),
	DRM_IOCTL_DEF_DRV(JALAPENO_SUBMIT, jal_ioctl_submit, 0),
	DRM_IOCTL_DEF_DRV(JALAPENO_BO_WAIT, jal_ioctl_bo_wait, 0),
	DRM_IOCTL_DEF_DRV(JALAPENO_CTX_STATUS, jal_ioctl_ctx_status, 0),
};

/*
 * DRM core ioctls that work on the file's DRM master. Accel files never
 * have one (drm_open_helper() sets a master up for primary nodes only),
 * yet the 6.12 core dispatches GET_UNIQUE and GET_MAGIC to handlers that
 * dereference file->master unconditionally: an oops for any user that can
 * open the node. The others are refused by the core already; all of them
 * are meaningless without a master, so the driver refuses them first.
 */
static bool jal_ioctl_needs_master(unsigned int cmd)
{
	if (_IOC_TYPE(cmd) != DRM_IOCTL_BASE)
		return false;

	switch (_IOC_NR(cmd)) {
	case _IOC_NR(DRM_IOCTL_GET_UNIQUE):
	case _IOC_NR(DRM_IOCTL_GET_MAGIC):
	case _IOC_NR(DRM_IOCTL_AUTH_MAGIC):
	case _IOC_NR(DRM_IOCTL_SET_MASTER):
	case _IOC_NR(DRM_IOCTL_DROP_MASTER):
		return true;
	default:
		return false;
	}
}

static long jal_drm_ioctl(struct file *filp, unsigned int cmd,
			  unsigned long arg)
{
	if (jal_ioctl_needs_master(cmd))
		return -EOPNOTSUPP;
	return drm_ioctl(filp, cmd, arg);
}

#ifdef CONFIG_COMPAT
/* The compat layer calls the same handlers (compat_drm_getunique()). */
static long jal_drm_compat_ioctl(struct file *filp, unsigned int cmd,
				 unsigned long arg)
{
	if (jal_ioctl_needs_master(cmd))
		return -EOPNOTSUPP;
	return drm_compat_ioctl(filp, cmd, arg);
}
#else
#define jal_drm_compat_ioctl NULL
#endif

/* DEFINE_DRM_ACCEL_FOPS() with the ioctl entries above. */
static const struct file_operations jal_accel_fops = {
	.owner = THIS_MODULE,
	.open = accel_open,
	.release = drm_release,
	.unlocked_ioctl = jal_drm_ioctl,
	.compat_ioctl = jal_drm_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.mmap = drm_gem_mmap,
	.show_fdinfo = drm_show_fdinfo,
	.fop_flags = FOP_UNSIGNED_OFFSET,
};

static const struct drm_driver jal_drm_driver = {
	.driver_features = DRIVER_COMPUTE_ACCEL | DRIVER_GEM | DRIVER_SYNCOBJ,
	.open = jal_open,
	.postclose = jal_postclose,
	.show_fdinfo = jal_show_fdinfo,
	.gem_create_object = jal_gem_create_object,
	.gem_prime_import = jal_gem_prime_import,
	.ioctls = jal_ioctls,
	.num_ioctls = ARRAY_SIZE(jal_ioctls),
	.fops = &jal_accel_fops,
	.name = JAL_DRIVER_NAME,
	.desc = JAL_DRIVER_DESC,
	.major = JAL_DRIVER_MAJOR,
	.minor = JAL_DRIVER_MINOR,
};

static void jal_device_released(struct drm_device *drm, void *arg)
{
	if (atomic_dec_and_test(&jal_live_devices))
		wake_up_all(&jal_live_devices_wq);
}

static void jal_destroy_reset_wq(struct drm_device *drm, void *arg)
{
	destroy_workqueue(arg);
}

static void jal_destroy_slot_ida(struct drm_device *drm, void *arg)
{
	ida_destroy(arg);
}

static int jal_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct jal_device *jdev;
	int ret;

	jdev = devm_drm_dev_alloc(&pdev->dev, &jal_drm_driver,
				  struct jal_device, drm);
	if (IS_ERR(jdev))
		return PTR_ERR(jdev);
	jdev->pdev = pdev;
	pci_set_drvdata(pdev, jdev);

	/* Registered first, so it runs last on release. */
	atomic_inc(&jal_live_devices);
	ret = drmm_add_action_or_reset(&jdev->drm, jal_device_released, NULL);
	if (ret)
		return ret;

	spin_lock_init(&jdev->ctx_table_lock);
	spin_lock_init(&jdev->step_limit_lock);
	spin_lock_init(&jdev->faults.lock);
	INIT_LIST_HEAD(&jdev->vms);
	ret = drmm_mutex_init(&jdev->drm, &jdev->vms_lock);
	if (ret)
		return ret;
	ida_init(&jdev->slot_ida);
	ret = drmm_add_action_or_reset(&jdev->drm, jal_destroy_slot_ida,
				       &jdev->slot_ida);
	if (ret)
		return ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	pci_set_master(pdev);

	/* Page-table entries hold 52-bit addresses. */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(52));
	if (ret) {
		drm_err(&jdev->drm, "no usable DMA mask: %d\n", ret);
		return ret;
	}
	/* The chip maps pages, not segments: any segment length works. */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);

	if (pci_resource_len(pdev, JAL_BAR_REGS) < JAL_BAR_REGS_SIZE) {
		drm_err(&jdev->drm, "BAR%d too small\n", JAL_BAR_REGS);
		return -ENODEV;
	}
	jdev->regs = pcim_iomap_region(pdev, JAL_BAR_REGS, JAL_DRIVER_NAME);
	if (IS_ERR(jdev->regs))
		return PTR_ERR(jdev->regs);

	/* Before the schedulers: their teardown must run first. */
	jdev->reset_wq = alloc_ordered_workqueue("jalapeno-reset", 0);
	if (!jdev->reset_wq)
		return -ENOMEM;
	ret = drmm_add_action_or_reset(&jdev->drm, jal_destroy_reset_wq,
				       jdev->reset_wq);
	if (ret)
		return ret;

	ret = jal_hw_init(jdev);
	if (ret)
		return ret;

	ret = jal_job_sched_init(jdev);
	if (ret)
		return ret;
	jal_job_recover_init(jdev);

	/* Needs the schedulers: zeroing runs jobs of a kernel context. */
	ret = jal_vram_init(jdev);
	if (ret)
		return ret;

	ret = jal_job_irq_init(jdev);
	if (ret)
		goto err_free_vms;
	ret = jal_hwmon_init(jdev);
	if (ret)
		goto err_free_vms;

	jal_hw_enable(jdev);
	jal_debugfs_init(jdev);

	ret = drm_dev_register(&jdev->drm, 0);
	if (ret) {
		jal_hw_fini(jdev);
		goto err_free_vms;
	}

	/* What PCI error recovery restores after a slot reset. */
	pci_save_state(pdev);

	drm_info(&jdev->drm,
		 "Jalapeno %u.%u, caps 0x%x, %u contexts, VA [0x%llx, 0x%llx), %llu MiB device memory\n",
		 jdev->hw_version >> 16, jdev->hw_version & 0xffff, jdev->caps,
		 jdev->num_contexts, jdev->va_start, jdev->va_end,
		 jdev->vram_size >> 20);
	return 0;

err_free_vms:
	/* The driver's own address spaces: nothing DMA-mapped after unbind. */
	jal_vm_unplug_all(jdev);
	return ret;
}

static void jal_pci_remove(struct pci_dev *pdev)
{
	struct jal_device *jdev = pci_get_drvdata(pdev);

	/* Waits for every drm_dev_enter() section; later ones fail. */
	drm_dev_unplug(&jdev->drm);
	jal_hw_fini(jdev);
	jal_job_fail_all(jdev, -ENODEV);
	/*
	 * Nothing may stay DMA-mapped for the device once it is unbound:
	 * free the page tables and unmap the BOs of files still open (the
	 * rings and context table are device-managed).
	 */
	jal_vm_unplug_all(jdev);
}

static void jal_pci_reset_prepare(struct pci_dev *pdev)
{
	jal_job_pci_reset_prepare(pci_get_drvdata(pdev));
}

static void jal_pci_reset_done(struct pci_dev *pdev)
{
	jal_job_pci_reset_done(pci_get_drvdata(pdev));
}

/*
 * PCI error recovery: the chip is treated as after a function reset,
 * with the same stop and restart as reset_prepare/reset_done.
 */
static pci_ers_result_t jal_pci_error_detected(struct pci_dev *pdev,
					       pci_channel_state_t state)
{
	if (state == pci_channel_io_perm_failure)
		return PCI_ERS_RESULT_DISCONNECT;
	jal_job_pci_reset_prepare(pci_get_drvdata(pdev));
	return PCI_ERS_RESULT_NEED_RESET;
}

static pci_ers_result_t jal_pci_slot_reset(struct pci_dev *pdev)
{
	pci_restore_state(pdev);
	return PCI_ERS_RESULT_RECOVERED;
}

static void jal_pci_resume(struct pci_dev *pdev)
{
	jal_job_pci_reset_done(pci_get_drvdata(pdev));
}

static const struct pci_error_handlers jal_pci_err_handlers = {
	.error_detected = jal_pci_error_detected,
	.slot_reset = jal_pci_slot_reset,
	.resume = jal_pci_resume,
	.reset_prepare = jal_pci_reset_prepare,
	.reset_done = jal_pci_reset_done,
};

static const struct pci_device_id jal_pci_ids[] = {
	{ PCI_DEVICE(JAL_PCI_VENDOR_ID, JAL_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, jal_pci_ids);

static struct pci_driver jal_pci_driver = {
	.name = JAL_DRIVER_NAME,
	.id_table = jal_pci_ids,
	.probe = jal_pci_probe,
	.remove = jal_pci_remove,
	.err_handler = &jal_pci_err_handlers,
	.dev_groups = jal_dev_groups,
};

static int __init jal_init(void)
{
	int ret;

	jal_wq = alloc_workqueue("jalapeno", WQ_UNBOUND, 0);
	if (!jal_wq)
		return -ENOMEM;

	ret = pci_register_driver(&jal_pci_driver);
	if (ret)
		destroy_workqueue(jal_wq);
	return ret;
}

static void __exit jal_exit(void)
{
	pci_unregister_driver(&jal_pci_driver);
	/* Unbound devices may still be finishing their release on jal_wq. */
	wait_event(jal_live_devices_wq, !atomic_read(&jal_live_devices));
	destroy_workqueue(jal_wq);
}

module_init(jal_init);
module_exit(jal_exit);

MODULE_DESCRIPTION(JAL_DRIVER_DESC);
MODULE_AUTHOR("The Jalapeño authors");
MODULE_LICENSE("GPL");
