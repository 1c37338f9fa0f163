// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: hardware contexts.
 *
 * A context is a slot of the chip's context table whose entry points at
 * the file's page-table root, plus a scheduler entity on the hardware
 * queue of the context's priority. Context ids are per file.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/capability.h>
#include <linux/dma-fence.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_print.h>

#include <drm/jalapeno_accel.h>

#include "jalapeno_ctx.h"
#include "jalapeno_debugfs.h"
#include "jalapeno_drv.h"
#include "jalapeno_hw.h"
#include "jalapeno_mmu.h"
#include "jalapeno_trace.h"

static void jal_ctx_release(struct kref *ref)
{
	struct jal_ctx *ctx = container_of(ref, struct jal_ctx, ref);
	struct jal_device *jdev = ctx->jdev;
	unsigned long flags;
	bool present;
	int idx;

	if (ctx->hw_id < JAL_NUM_CONTEXTS) {
		/*
		 * Every job of the context has ended (each held a reference),
		 * so the chip no longer uses the slot. After unplug the
		 * context table is gone together with the chip.
		 */
		present = drm_dev_enter(&jdev->drm, &idx);
		spin_lock_irqsave(&jdev->ctx_table_lock, flags);
		jdev->slot_ctx[ctx->hw_id] = NULL;
		if (present)
			jal_hw_write_ctx_entry(jdev, ctx->hw_id, 0, false);
		spin_unlock_irqrestore(&jdev->ctx_table_lock, flags);
		if (present) {
			jal_hw_mmu_invalidate(jdev, ctx->hw_id);
			drm_dev_exit(idx);
		}

		jal_vm_detach_slot(ctx->vm, ctx->hw_id);
		ida_free(&jdev->slot_ida, ctx->hw_id);
	}

	jal_vm_put(ctx->vm);
	jal_usage_put(ctx->usage);
	mutex_destroy(&ctx->submit_lock);
	kfree(ctx);
}

/**
 * jal_ctx_put() - drop a context reference; callable from any context
 * @ctx: context, may be NULL.
 */
void jal_ctx_put(struct jal_ctx *ctx)
{
	if (ctx)
		kref_put(&ctx->ref, jal_ctx_release);
}

/**
 * jal_ctx_lookup() - find a context of a file
 * @jfile: the file.
 * @id: context id.
 *
 * Return: the context with a reference, or NULL.
 */
struct jal_ctx *jal_ctx_lookup(struct jal_file *jfile, u32 id)
{
	struct jal_ctx *ctx;

	xa_lock(&jfile->ctxs);
	ctx = xa_load(&jfile->ctxs, id);
	if (ctx)
		kref_get(&ctx->ref);
	xa_unlock(&jfile->ctxs);
	return ctx;
}

/*
 * Stops new submits and tears the entity down: jobs already handed to
 * the hardware complete; jobs still waiting for dependencies are given
 * up to a second to be scheduled (immediately killed when the process is
 * exiting), then cancelled. Drops the file's reference.
 */
static void jal_ctx_teardown(struct jal_ctx *ctx)
{
	mutex_lock(&ctx->submit_lock);
	WRITE_ONCE(ctx->destroyed, true);
	mutex_unlock(&ctx->submit_lock);
	wake_up_all(&ctx->jobs_wq);

	drm_sched_entity_destroy(&ctx->entity);
	jal_ctx_put(ctx);
}

/**
 * jal_ctx_destroy_all() - tear down every context of a closing file
 * @jfile: the file; no ioctl can run on it any more.
 */
void jal_ctx_destroy_all(struct jal_file *jfile)
{
	struct jal_ctx *ctx;
	unsigned long id;

	xa_for_each(&jfile->ctxs, id, ctx) {
		xa_erase(&jfile->ctxs, id);
		jal_ctx_teardown(ctx);
	}
	xa_destroy(&jfile->ctxs);
}

/**
 * jal_ctx_is_banned() - did a job of the context fail?
 * @ctx: context.
 *
 * Return: true if the context is banned.
 */
bool jal_ctx_is_banned(struct jal_ctx *ctx)
{
	unsigned long flags;
	bool banned;

	spin_lock_irqsave(&ctx->status_lock, flags);
	banned = ctx->banned;
	spin_unlock_irqrestore(&ctx->status_lock, flags);
	return banned;
}

/**
 * jal_ctx_job_failed() - record a job failure and ban the context
 * @ctx: context.
 * @seqno: the job's per-context seqno.
 * @error: negative errno the job's fence carries.
 * @hw_status: JAL_STATUS_* reported by the chip.
 * @fault_addr: faulting VA, if any.
 * @error_offset: offset of the failing command.
 *
 * Only the first failure is kept. Must run before the job's fence is
 * signalled, so that a waiter sees the ban.
 */
void jal_ctx_job_failed(struct jal_ctx *ctx, u64 seqno, int error,
			u32 hw_status, u64 fault_addr, u32 error_offset)
{
	unsigned long flags;

	spin_lock_irqsave(&ctx->status_lock, flags);
	if (!ctx->error_seqno) {
		ctx->error_seqno = seqno;
		ctx->error = error;
		ctx->hw_status = hw_status;
		ctx->fault_addr = fault_addr;
		ctx->error_offset = error_offset;
	}
	/* The driver's own jobs only fail their fence; later ones still run. */
	if (!ctx->kernel)
		ctx->banned = true;
	spin_unlock_irqrestore(&ctx->status_lock, flags);

	trace_jal_fault(ctx->hw_id, seqno, hw_status, fault_addr, error);
	jal_fault_log_add(ctx->jdev, ctx, seqno, error, hw_status, fault_addr,
			  error_offset);
}

/**
 * jal_ctx_job_lost() - a device reset cut a running job the context did
 *	not cause
 * @ctx: context.
 * @seqno: the job's per-context seqno.
 *
 * The job fails with -ECANCELED (JAL_STATUS_ABORTED) and the context is
 * closed to new jobs, since they may need the lost job's results.
 */
void jal_ctx_job_lost(struct jal_ctx *ctx, u64 seqno)
{
	unsigned long flags;

	jal_ctx_job_failed(ctx, seqno, -ECANCELED, JAL_STATUS_ABORTED, 0, 0);
	spin_lock_irqsave(&ctx->status_lock, flags);
	if (!ctx->kernel)
		ctx->lost = true;
	spin_unlock_irqrestore(&ctx->status_lock, flags);
}

/**
 * jal_ctx_lose_device_memory() - a device reset cleared device memory
 * @jdev: device, being reset.
 *
 * Every user context whose address space maps device memory has lost
 * data it did not lose through a job of its own (weights, KV caches):
 * it becomes LOST (-ECANCELED, JAL_STATUS_ABORTED, no failed job), so its
 * queued jobs are cancelled rather than run on zeroed memory.
 */
void jal_ctx_lose_device_memory(struct jal_device *jdev)
{
	unsigned long flags, sflags;
	unsigned int slot;

	spin_lock_irqsave(&jdev->ctx_table_lock, flags);
	for (slot = 0; slot < jdev->num_contexts; slot++) {
		struct jal_ctx *ctx = jdev->slot_ctx[slot];

		if (!ctx || ctx->kernel || !jal_vm_maps_vram(ctx->vm))
			continue;
		spin_lock_irqsave(&ctx->status_lock, sflags);
		if (!ctx->banned) {
			ctx->error = -ECANCELED;
			ctx->hw_status = JAL_STATUS_ABORTED;
		}
		ctx->banned = true;
		ctx->lost = true;
		spin_unlock_irqrestore(&ctx->status_lock, sflags);
	}
	spin_unlock_irqrestore(&jdev->ctx_table_lock, flags);
}

/**
 * jal_ctx_describe() - a line of the debugfs contexts file
 * @jdev: device.
 * @slot: hardware context slot; nothing is printed for a free one.
 * @m: the file.
 */
void jal_ctx_describe(struct jal_device *jdev, u32 slot, struct seq_file *m)
{
	unsigned long flags, sflags;
	struct jal_ctx *ctx;

	spin_lock_irqsave(&jdev->ctx_table_lock, flags);
	ctx = jdev->slot_ctx[slot];
	if (ctx) {
		spin_lock_irqsave(&ctx->status_lock, sflags);
		seq_printf(m, "%4u %4u %5d %-16s %5u %-6s %9llu %9llu %4d\n",
			   slot, ctx->id, ctx->pid, ctx->comm, ctx->priority,
			   ctx->lost ? "lost" : ctx->banned ? "banned" : "active",
			   ctx->submitted,
			   ctx->completed, atomic_read(&ctx->num_jobs));
		spin_unlock_irqrestore(&ctx->status_lock, sflags);
	}
	spin_unlock_irqrestore(&jdev->ctx_table_lock, flags);
}

/**
 * jal_ctx_job_begin() - number a job being pushed
 * @ctx: context; the caller holds &jal_ctx.submit_lock.
 * @seq: the job's marker, ended with jal_ctx_job_ended().
 *
 * Return: the job's seqno.
 */
u64 jal_ctx_job_begin(struct jal_ctx *ctx, struct jal_ctx_seq *seq)
{
	unsigned long flags;

	lockdep_assert_held(&ctx->submit_lock);

	spin_lock_irqsave(&ctx->status_lock, flags);
	seq->seqno = ++ctx->submitted;
	list_add_tail(&seq->link, &ctx->unfinished);
	spin_unlock_irqrestore(&ctx->status_lock, flags);
	return seq->seqno;
}

/**
 * jal_ctx_job_ended() - a job of the context ended, well or not
 * @ctx: context.
 * @seq: the job's marker; ending twice (or a never begun marker with an
 *	initialised empty @seq->link) is harmless.
 *
 * Callable from any context.
 */
void jal_ctx_job_ended(struct jal_ctx *ctx, struct jal_ctx_seq *seq)
{
	struct jal_ctx_seq *first;
	unsigned long flags;

	spin_lock_irqsave(&ctx->status_lock, flags);
	if (!list_empty(&seq->link)) {
		list_del_init(&seq->link);
		first = list_first_entry_or_null(&ctx->unfinished,
						 struct jal_ctx_seq, link);
		ctx->completed = first ? first->seqno - 1 : ctx->submitted;
	}
	spin_unlock_irqrestore(&ctx->status_lock, flags);
}

/**
 * jal_ctx_describe_slot() - name the owner of a hardware context slot
 * @jdev: device.
 * @hw_id: slot from a fault record.
 * @buf: output.
 * @len: size of @buf.
 *
 * For log messages; callable from any context.
 */
void jal_ctx_describe_slot(struct jal_device *jdev, u32 hw_id, char *buf,
			   size_t len)
{
	struct jal_ctx *ctx;
	unsigned long flags;

	if (hw_id >= JAL_NUM_CONTEXTS) {
		snprintf(buf, len, "hw ctx %u (none)", hw_id);
		return;
	}

	spin_lock_irqsave(&jdev->ctx_table_lock, flags);
	ctx = jdev->slot_ctx[hw_id];
	if (ctx)
		snprintf(buf, len, "hw ctx %u (ctx %u of pid %d [%s])", hw_id,
			 ctx->id, ctx->pid, ctx->comm);
	else
		snprintf(buf, len, "hw ctx %u (unused)", hw_id);
	spin_unlock_irqrestore(&jdev->ctx_table_lock, flags);
}

/*
 * Creates a context in @vm whose jobs' engine time goes to @usage (NULL
 * for the driver's own): a hardware slot pointing at its page table
 * and a scheduler entity on the queue of @priority. A kernel context's
 * entity goes before the others of that queue.
 *
 * Return: the context with one reference, or an ERR_PTR(): -ENOSPC when
 * all hardware contexts are in use, -ENOMEM.
 */
static struct jal_ctx *jal_ctx_new(struct jal_device *jdev, struct jal_vm *vm,
				   struct jal_usage *usage, u32 priority,
				   bool kernel)
{
	unsigned long flags;
	struct jal_ctx *ctx;
	int ret;
	int idx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return ERR_PTR(-ENOMEM);

	kref_init(&ctx->ref);
	ctx->jdev = jdev;
	jal_vm_get(vm);
	ctx->vm = vm;
	ctx->usage = usage ? jal_usage_get(usage) : NULL;
	ctx->priority = priority;
	ctx->queue = &jdev->queues[priority];
	ctx->sched = &ctx->queue->sched;
	ctx->hw_id = U32_MAX;
	ctx->fence_context = dma_fence_context_alloc(1);
	ctx->kernel = kernel;
	if (kernel) {
		strscpy(ctx->comm, "kernel");
	} else {
		ctx->pid = task_tgid_nr(current);
		get_task_comm(ctx->comm, current);
	}
	mutex_init(&ctx->submit_lock);
	spin_lock_init(&ctx->status_lock);
	INIT_LIST_HEAD(&ctx->unfinished);
	atomic_set(&ctx->num_jobs, 0);
	init_waitqueue_head(&ctx->jobs_wq);

	ret = ida_alloc_max(&jdev->slot_ida, jdev->num_contexts - 1,
			    GFP_KERNEL);
	if (ret < 0) {
		drm_dbg(&jdev->drm, "no free hardware context (%d)\n", ret);
		jal_ctx_put(ctx);
		return ERR_PTR(ret);
	}
	ctx->hw_id = ret;

	/* The context table and the page tables are freed on unbind. */
	if (!drm_dev_enter(&jdev->drm, &idx)) {
		jal_ctx_put(ctx);
		return ERR_PTR(-ENODEV);
	}
	jal_vm_attach_slot(ctx->vm, ctx->hw_id);
	spin_lock_irqsave(&jdev->ctx_table_lock, flags);
	jal_hw_write_ctx_entry(jdev, ctx->hw_id, jal_vm_root_dma(ctx->vm),
			       true);
	jdev->slot_ctx[ctx->hw_id] = ctx;
	spin_unlock_irqrestore(&jdev->ctx_table_lock, flags);
	/* Drop whatever the slot's previous owner left in the TLB. */
	jal_hw_mmu_invalidate(jdev, ctx->hw_id);
	drm_dev_exit(idx);

	ret = drm_sched_entity_init(&ctx->entity,
				    kernel ? DRM_SCHED_PRIORITY_KERNEL :
					     DRM_SCHED_PRIORITY_NORMAL,
				    &ctx->sched, 1, NULL);
	if (ret) {
		jal_ctx_put(ctx);
		return ERR_PTR(ret);
	}
	return ctx;
}

/**
 * jal_ctx_create_kernel() - create a context for the driver's own jobs
 * @jdev: device.
 * @vm: the driver's address space the jobs run in.
 * @priority: hardware queue.
 *
 * A kernel context is never banned (a failed job only fails its fence)
 * and no file can reach it. It holds a hardware slot until
 * jal_ctx_destroy_kernel() and its last job are done.
 *
 * Return: the context or an ERR_PTR().
 */
struct jal_ctx *jal_ctx_create_kernel(struct jal_device *jdev,
				      struct jal_vm *vm, u32 priority)
{
	return jal_ctx_new(jdev, vm, NULL, priority, true);
}

/**
 * jal_ctx_destroy_kernel() - tear down a kernel context
 * @ctx: context from jal_ctx_create_kernel(); its reference is dropped.
 *
 * The caller makes sure no job is being submitted on it concurrently.
 */
void jal_ctx_destroy_kernel(struct jal_ctx *ctx)
{
	jal_ctx_teardown(ctx);
}

/**
 * jal_ioctl_ctx_create() - DRM_IOCTL_JALAPENO_CTX_CREATE
 * @dev: DRM device.
 * @data: struct drm_jalapeno_ctx_create.
 * @file: DRM file.
 *
 * Return: 0, -EINVAL for bad fields, -EPERM for REALTIME without
 * CAP_SYS_NICE, -ENOSPC when all hardware contexts are in use, -ENOMEM.
 */
int jal_ioctl_ctx_create(struct drm_device *dev, void *data,
			 struct drm_file *file)
{
	struct jal_device *jdev = to_jal_device(dev);
	struct jal_file *jfile = file->driver_priv;
	struct drm_jalapeno_ctx_create *args = data;
	struct jal_ctx *ctx;
	int ret;

	if (args->flags || args->reserved) {
		drm_dbg(dev, "CTX_CREATE: flags 0x%x / reserved 0x%x not zero\n",
			args->flags, args->reserved);
		return -EINVAL;
	}
	if (args->priority > DRM_JALAPENO_PRIORITY_REALTIME) {
		drm_dbg(dev, "CTX_CREATE: bad priority %u\n", args->priority);
		return -EINVAL;
	}
	if (args->priority == DRM_JALAPENO_PRIORITY_REALTIME &&
	    !capable(CAP_SYS_NICE))
		return -EPERM;

	ctx = jal_ctx_new(jdev, jfile->vm, jfile->usage, args->priority,
			  false);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	/* Our own reference: once published, the id may be destroyed. */
	kref_get(&ctx->ref);
	ret = xa_alloc(&jfile->ctxs, &ctx->id, ctx, xa_limit_32b, GFP_KERNEL);
	if (ret) {
		kref_put(&ctx->ref, jal_ctx_release);
		jal_ctx_teardown(ctx);
		return ret == -EBUSY ? -ENOSPC : ret;
	}
	args->ctx_id = ctx->id;
	jal_ctx_put(ctx);
	return 0;
}

/**
 * jal_ioctl_ctx_destroy() - DRM_IOCTL_JALAPENO_CTX_DESTROY
 * @dev: DRM device.
 * @data: struct drm_jalapeno_ctx_destroy.
 * @file: DRM file.
 *
 * Return: 0, -EINVAL for a non-zero reserved field, -ENOENT for an
 * unknown id.
 */
int jal_ioctl_ctx_destroy(struct drm_device *dev, void *data,
			  struct drm_file *file)
{
	struct jal_file *jfile = file->driver_priv;
	struct drm_jalapeno_ctx_destroy *args = data;
	struct jal_ctx *ctx;

	if (args->reserved) {
		drm_dbg(dev, "CTX_DESTROY: reserved not zero\n");
		return -EINVAL;
	}

	/*
	 * Ids start at 1: index 0 of an allocating xarray is reserved, and
	 * erasing it would hand id 0 out next.
	 */
	if (!args->ctx_id)
		return -ENOENT;
	ctx = xa_erase(&jfile->ctxs, args->ctx_id);
	if (!ctx)
		return -ENOENT;

	jal_ctx_teardown(ctx);
	return 0;
}

/**
 * jal_ioctl_ctx_status() - DRM_IOCTL_JALAPENO_CTX_STATUS
 * @dev: DRM device.
 * @data: struct drm_jalapeno_ctx_status.
 * @file: DRM file.
 *
 * Return: 0, -EINVAL for a non-zero reserved field, -ENOENT for an
 * unknown id.
 */
int jal_ioctl_ctx_status(struct drm_device *dev, void *data,
			 struct drm_file *file)
{
	struct jal_file *jfile = file->driver_priv;
	struct drm_jalapeno_ctx_status *args = data;
	unsigned long flags;
	struct jal_ctx *ctx;

	if (args->reserved) {
		drm_dbg(dev, "CTX_STATUS: reserved not zero\n");
		return -EINVAL;
	}

	ctx = jal_ctx_lookup(jfile, args->ctx_id);
	if (!ctx)
		return -ENOENT;

	spin_lock_irqsave(&ctx->status_lock, flags);
	if (ctx->lost)
		args->state = DRM_JALAPENO_CTX_LOST;
	else if (ctx->banned)
		args->state = DRM_JALAPENO_CTX_BANNED;
	else
		args->state = DRM_JALAPENO_CTX_ACTIVE;
	args->submitted = ctx->submitted;
	args->completed = ctx->completed;
	args->error_seqno = ctx->error_seqno;
	args->error = ctx->error;
	args->hw_status = ctx->hw_status;
	args->fault_addr = ctx->fault_addr;
	args->error_offset = ctx->error_offset;
	spin_unlock_irqrestore(&ctx->status_lock, flags);

	jal_ctx_put(ctx);
	return 0;
}
