// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: job submission and completion.
 *
 * Every context has a drm_sched entity on the scheduler of its hardware
 * queue. run_job writes a descriptor into the queue's ring and rings the
 * doorbell; the chip writes the descriptor's status back and then a
 * completion record with the descriptor's seqno, and interrupts. The
 * completion thread takes every job up to that seqno off the ring and
 * signals its hardware fence, with an error for a failed job, whose
 * context is then banned.
 *
 * Timeouts: the scheduler's timeout handler resets the queue if the timed
 * out job is the one the chip is executing, fails it with -ETIMEDOUT,
 * bans its context and rewrites the remaining jobs into the fresh ring,
 * so that other contexts' jobs continue. A job that merely waits behind
 * another queue's job is left alone.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/completion.h>
#include <linux/dma-resv.h>
#include <linux/interrupt.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_exec.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>
#include <drm/drm_syncobj.h>

#include <drm/jalapeno_accel.h>

#include "jalapeno_coredump.h"
#include "jalapeno_ctx.h"
#include "jalapeno_drv.h"
#include "jalapeno_gem.h"
#include "jalapeno_hw.h"
#include "jalapeno_job.h"
#include "jalapeno_mmu.h"

#define CREATE_TRACE_POINTS
#include "jalapeno_trace.h"

/*
 * May be changed at run time through sysfs; applies to jobs submitted
 * afterwards (step_limit, the chip's own watchdog, is in jalapeno_hw.c).
 */
static unsigned int job_timeout_ms = 5000;
module_param(job_timeout_ms, uint, 0644);
MODULE_PARM_DESC(job_timeout_ms,
		 "Time a job may run before its queue is reset, in ms (0 = no limit; default 5000)");

static long jal_job_timeout_jiffies(void)
{
	unsigned int ms = READ_ONCE(job_timeout_ms);

	return ms ? msecs_to_jiffies(ms) : MAX_SCHEDULE_TIMEOUT;
}

/* Written into a descriptor's status until the chip writes it back. */
#define JAL_DESC_STATUS_PENDING		0xffffffffu

static const char * const jal_queue_names[JAL_NUM_QUEUES] = {
	"jalapeno-q0", "jalapeno-q1", "jalapeno-q2", "jalapeno-q3",
};

static struct jal_job *to_jal_job(struct drm_sched_job *sched_job)
{
	return container_of(sched_job, struct jal_job, base);
}

static const char *jal_fence_get_driver_name(struct dma_fence *fence)
{
	return JAL_DRIVER_NAME;
}

static const char *jal_fence_get_timeline_name(struct dma_fence *fence)
{
	struct jal_fence *f = container_of(fence, struct jal_fence, base);

	return jal_queue_names[f->queue];
}

static const struct dma_fence_ops jal_fence_ops = {
	.get_driver_name = jal_fence_get_driver_name,
	.get_timeline_name = jal_fence_get_timeline_name,
};

static const char *jal_out_fence_get_timeline_name(struct dma_fence *fence)
{
	struct jal_out_fence *f = container_of(fence, struct jal_out_fence,
					       base);

	return jal_queue_names[f->queue];
}

/* Frees the fence and only then lets the module go. */
static void jal_out_fence_release(struct dma_fence *fence)
{
	dma_fence_free(fence);
	module_put(THIS_MODULE);
}

static const struct dma_fence_ops jal_out_fence_ops = {
	.get_driver_name = jal_fence_get_driver_name,
	.get_timeline_name = jal_out_fence_get_timeline_name,
	.release = jal_out_fence_release,
};

/* The scheduler's finished fence signalled: pass its result on. */
static void jal_out_fence_signal(struct dma_fence *finished,
				 struct dma_fence_cb *cb)
{
	struct jal_out_fence *f = container_of(cb, struct jal_out_fence, cb);

	if (finished->error)
		dma_fence_set_error(&f->base, finished->error);
	dma_fence_signal(&f->base);
	/* The callback's reference; may release the fence. */
	dma_fence_put(&f->base);
}

/*
 * Publishes @job's out-fence once the job is armed.
 *
 * Return: a reference to the fence for the caller; the job no longer
 * owns it.
 */
static struct dma_fence *jal_out_fence_publish(struct jal_job *job,
					       u64 seqno)
{
	struct jal_out_fence *f = job->out_fence;
	struct dma_fence *finished = &job->base.s_fence->finished;
	struct dma_fence *ref;

	job->out_fence = NULL;
	__module_get(THIS_MODULE);
	dma_fence_init(&f->base, &jal_out_fence_ops, &f->lock,
		       job->ctx->fence_context, seqno);
	/* Taken first: the callback may drop the initial reference at once. */
	ref = dma_fence_get(&f->base);
	/* The initial reference belongs to the callback. */
	if (dma_fence_add_callback(finished, &f->cb, jal_out_fence_signal))
		jal_out_fence_signal(finished, &f->cb);
	return ref;
}

static void jal_job_write_desc(struct jal_queue *q, struct jal_job *job)
{
	struct jal_desc *d = &q->ring[job->ring_index];

	jal_mem_wr32(&d->ctx_id, job->ctx->hw_id);
	jal_mem_wr32(&d->flags, JAL_DESC_F_IRQ);
	jal_mem_wr64(&d->seqno, job->hw_seqno);
	jal_mem_wr64(&d->cmdbuf_va, job->cmdbuf_va);
	jal_mem_wr32(&d->cmdbuf_size, job->cmdbuf_size);
	jal_mem_wr32(&d->reserved0, 0);
	jal_mem_wr32(&d->status, JAL_DESC_STATUS_PENDING);
	jal_mem_wr32(&d->error_offset, 0);
	jal_mem_wr64(&d->fault_addr, 0);
	jal_mem_wr64(&d->reserved1[0], 0);
	jal_mem_wr64(&d->reserved1[1], 0);
}

/*
 * The job will not (or no longer) touch memory: account it as ended in
 * its context (visible in CTX_STATUS before its fence signals) and in its
 * address space (BOs freed meanwhile may be released). Idempotent.
 *
 * Never done from a callback on the scheduler's finished fence: the
 * scheduler may free the job as soon as that fence is marked signalled,
 * while its callbacks are still running.
 */
static void jal_job_ended(struct jal_job *job)
{
	jal_ctx_job_ended(job->ctx, &job->seq);
	jal_vm_activity_end(job->ctx->vm, &job->activity);
}

/*
 * Charges the time @job held the queue to its file: the chip runs a
 * ring's jobs one after the other, so a job's turn began when it reached
 * the ring or when the previous job ended, whichever was later.
 */
static void jal_job_account_locked(struct jal_queue *q, struct jal_job *job)
{
	u64 now = ktime_get_ns();
	u64 start = max(job->ring_ns, q->last_retire_ns);

	lockdep_assert_held(&q->lock);

	if (job->ctx->usage && now > start)
		atomic64_add(now - start, &job->ctx->usage->engine_ns[q->index]);
	q->last_retire_ns = now;
}

/* Takes @job off the ring with its final result; q->lock held. */
static void jal_job_retire_locked(struct jal_queue *q, struct jal_job *job,
				  int error, struct list_head *done)
{
	lockdep_assert_held(&q->lock);

	jal_job_account_locked(q, job);
	trace_jal_done(q->index, job->ctx->hw_id, job->seq.seqno, job->hw_seqno,
		       error);
	jal_job_ended(job);
	job->error = error;
	job->state = JAL_JOB_DONE;
	list_move_tail(&job->q_link, done);
	q->num_inflight--;
}

/*
 * Moves every job the chip has finished from q->inflight to @done with
 * its result, and records failures in the jobs' contexts (which bans
 * them) before any fence is signalled.
 */
static void jal_queue_collect_locked(struct jal_queue *q,
				     struct list_head *done)
{
	struct jal_device *jdev = q->jdev;
	struct jal_job *job, *tmp;
	u64 last;

	lockdep_assert_held(&q->lock);

	/* The chip writes the record as a whole; reread until stable. */
	do {
		last = jal_mem_rd64(&q->compl->seqno);
		dma_rmb();
	} while (last != jal_mem_rd64(&q->compl->seqno));
	/* The descriptor write-back happened before the record write. */
	dma_rmb();

	/* A seqno never issued: the record cannot be trusted, nor the chip. */
	if (unlikely(last >= q->next_seqno)) {
		if (!q->record_corrupt)
			jal_job_recover_device(jdev, -1, false,
					       "corrupt completion record");
		q->record_corrupt = true;
		return;
	}

	list_for_each_entry_safe(job, tmp, &q->inflight, q_link) {
		struct jal_desc *d = &q->ring[job->ring_index];
		u32 status, error_offset;
		u64 fault_addr;
		int error;

		if (job->hw_seqno > last)
			break;

		status = jal_mem_rd32(&d->status);
		error_offset = jal_mem_rd32(&d->error_offset);
		fault_addr = jal_mem_rd64(&d->fault_addr);
		error = jal_hw_status_errno(status);
		if (error) {
			char who[64];

			jal_ctx_describe_slot(jdev, job->ctx->hw_id, who,
					      sizeof(who));
			drm_dbg(&jdev->drm,
				"queue %u: job %llu of %s failed: %s (%u), cmd offset %u, VA 0x%llx\n",
				q->index, job->seq.seqno, who,
				jal_hw_status_name(status), status,
				error_offset, fault_addr);
			jal_ctx_job_failed(job->ctx, job->seq.seqno, error, status,
					   fault_addr, error_offset);
		}
		jal_job_retire_locked(q, job, error, done);
	}
}

/*
 * Signals the hardware fences of the jobs on @done. A job may be freed as
 * soon as its fence is signalled, so nothing touches it afterwards.
 */
static void jal_jobs_signal(struct list_head *done)
{
	struct jal_job *job, *tmp;

	list_for_each_entry_safe(job, tmp, done, q_link) {
		struct dma_fence *fence = dma_fence_get(&job->hw_fence->base);
		int error = job->error;

		list_del_init(&job->q_link);
		if (error)
			dma_fence_set_error(fence, error);
		dma_fence_signal(fence);
		dma_fence_put(fence);
	}
}

/**
 * jal_job_queue_complete() - process a queue's completions
 * @q: hardware queue.
 *
 * Called from the queue's interrupt thread; spurious calls are harmless
 * because the completion record is the only source of truth.
 */
static void jal_job_queue_complete(struct jal_queue *q)
{
	LIST_HEAD(done);
	int idx;

	/* The ring and record are freed on unbind; removal fails all jobs. */
	if (!drm_dev_enter(&q->jdev->drm, &idx))
		return;
	mutex_lock(&q->lock);
	jal_queue_collect_locked(q, &done);
	mutex_unlock(&q->lock);
	drm_dev_exit(idx);

	jal_jobs_signal(&done);
}

/**
 * jal_job_fail_all() - fail every job on the rings
 * @jdev: device, already reset so the chip touches no job memory.
 * @error: errno for the fences (-ENODEV on removal).
 *
 * Also marks the queues dead, so run_job writes nothing any more.
 */
void jal_job_fail_all(struct jal_device *jdev, int error)
{
	unsigned int i;

	for (i = 0; i < JAL_NUM_QUEUES; i++) {
		struct jal_queue *q = &jdev->queues[i];
		struct jal_job *job, *tmp;
		LIST_HEAD(done);

		mutex_lock(&q->lock);
		q->dead = true;
		/* Whatever finished before the reset keeps its real result. */
		jal_queue_collect_locked(q, &done);
		list_for_each_entry_safe(job, tmp, &q->inflight, q_link)
			jal_job_retire_locked(q, job, error, &done);
		mutex_unlock(&q->lock);

		jal_jobs_signal(&done);
	}
}

/**
 * jal_job_queue_describe() - the queue's part of the debugfs queues file
 * @q: hardware queue; the caller is inside drm_dev_enter().
 * @m: the file.
 */
void jal_job_queue_describe(struct jal_queue *q, struct seq_file *m)
{
	struct jal_job *job;

	mutex_lock(&q->lock);
	seq_printf(m, "queue %u%s: head %u tail %u (driver %u), status 0x%x, next seqno %llu, completed %llu, %u in flight\n",
		   q->index, q->dead ? " (dead)" : "",
		   jal_qrreg(q, JAL_Q_HEAD), jal_qrreg(q, JAL_Q_TAIL), q->tail,
		   jal_qrreg(q, JAL_Q_STATUS), q->next_seqno,
		   jal_mem_rd64(&q->compl->seqno), q->num_inflight);
	list_for_each_entry(job, &q->inflight, q_link)
		seq_printf(m, "  slot %3u hw_seqno %llu: hw_ctx %u ctx %u seqno %llu, pid %d, cmdbuf 0x%llx+0x%x\n",
			   job->ring_index, job->hw_seqno, job->ctx->hw_id,
			   job->ctx->id, job->seq.seqno, job->ctx->pid,
			   job->cmdbuf_va, job->cmdbuf_size);
	mutex_unlock(&q->lock);
}

/*
 * After a queue reset: rewrite the jobs still on the ring from slot 0
 * (cancelling those of banned contexts), reprogram and restart the queue.
 */
static void jal_queue_restart_locked(struct jal_queue *q,
				     struct list_head *done)
{
	struct jal_job *job, *tmp;

	lockdep_assert_held(&q->lock);

	q->tail = 0;
	list_for_each_entry_safe(job, tmp, &q->inflight, q_link) {
		if (jal_ctx_is_banned(job->ctx)) {
			jal_job_retire_locked(q, job, -ECANCELED, done);
			continue;
		}
		job->ring_index = q->tail;
		jal_job_write_desc(q, job);
		q->tail = (q->tail + 1) % JAL_RING_ENTRIES;
	}

	jal_hw_queue_program(q);
	if (q->tail)
		jal_wreg(q->jdev, JAL_REG_DOORBELL(q->index), q->tail);
}

static struct dma_fence *jal_job_run(struct drm_sched_job *sched_job)
{
	struct jal_job *job = to_jal_job(sched_job);
	struct jal_queue *q = job->queue;
	struct jal_device *jdev = q->jdev;
	struct jal_fence *hw_fence = job->hw_fence;
	struct dma_fence *fence;
	int idx;

	/* A dependency failed or the job was cancelled: skip it. */
	if (unlikely(sched_job->s_fence->finished.error)) {
		jal_job_ended(job);
		return NULL;
	}
	if (jal_ctx_is_banned(job->ctx)) {
		jal_job_ended(job);
		return ERR_PTR(-ECANCELED);
	}
	if (!drm_dev_enter(&jdev->drm, &idx)) {
		jal_job_ended(job);
		return ERR_PTR(-ENODEV);
	}

	mutex_lock(&q->lock);
	if (q->dead) {
		jal_job_ended(job);
		fence = ERR_PTR(-ENODEV);
		goto out_unlock;
	}
	/* The scheduler's credit limit keeps one slot free. */
	if (drm_WARN_ON_ONCE(&jdev->drm,
			     q->num_inflight >= JAL_RING_ENTRIES - 1)) {
		jal_job_ended(job);
		fence = ERR_PTR(-EBUSY);
		goto out_unlock;
	}

	jal_hw_sync_step_limit(jdev);

	job->hw_seqno = q->next_seqno++;
	dma_fence_init(&hw_fence->base, &jal_fence_ops, &hw_fence->lock,
		       q->fence_context, job->hw_seqno);
	job->hw_fence_live = true;

	job->kernel_deadline = jiffies +
			       msecs_to_jiffies(JAL_KERNEL_JOB_TIMEOUT_MS);
	job->ring_ns = ktime_get_ns();
	job->ring_index = q->tail;
	jal_job_write_desc(q, job);
	q->tail = (q->tail + 1) % JAL_RING_ENTRIES;
	list_add_tail(&job->q_link, &q->inflight);
	q->num_inflight++;
	job->state = JAL_JOB_INFLIGHT;

	trace_jal_run(q->index, job->ctx->hw_id, job->seq.seqno, job->hw_seqno,
		      job->ring_index);
	/* writel() orders the descriptor writes before the doorbell. */
	jal_wreg(jdev, JAL_REG_DOORBELL(q->index), q->tail);

	/* The job keeps the initial reference; this one goes to drm_sched. */
	fence = dma_fence_get(&hw_fence->base);

out_unlock:
	mutex_unlock(&q->lock);
	drm_dev_exit(idx);
	return fence;
}

/*
 * drm_sched_job_timedout() took @sched_job off the pending list; put it
 * back so that free_job runs once it finished. If it already finished
 * before (its completion could not free it while it was off the list),
 * kick the free worker.
 */
static void jal_job_timeout_requeue(struct drm_sched_job *sched_job,
				    struct dma_fence *finished)
{
	struct drm_gpu_scheduler *sched = sched_job->sched;

	spin_lock(&sched->job_list_lock);
	list_add(&sched_job->list, &sched->pending_list);
	spin_unlock(&sched->job_list_lock);

	/* @sched_job may be freed from here on. */
	if (dma_fence_is_signaled(finished)) {
		drm_sched_wqueue_stop(sched);
		drm_sched_wqueue_start(sched);
	}
}

static enum drm_gpu_sched_stat
jal_job_timedout(struct drm_sched_job *sched_job)
{
	struct jal_job *job = to_jal_job(sched_job);
	struct jal_queue *q = job->queue;
	struct jal_device *jdev = q->jdev;
	enum drm_gpu_sched_stat stat = DRM_GPU_SCHED_STAT_NOMINAL;
	struct jal_coredump_regs regs;
	struct dma_fence *finished;
	bool guilty = false, stuck = false;
	char who[64];
	LIST_HEAD(done);
	int idx;

	finished = dma_fence_get(&sched_job->s_fence->finished);

	/*
	 * The user's job_timeout_ms is for user jobs: the driver's own
	 * (zeroing device memory for BO_CREATE) may run for
	 * JAL_KERNEL_JOB_TIMEOUT_MS after reaching the ring. The scheduler
	 * re-arms its timer on return.
	 */
	if (job->ctx->kernel && time_before(jiffies, job->kernel_deadline))
		goto out_requeue;

	if (!drm_dev_enter(&jdev->drm, &idx)) {
		/* Removal fails every job; nothing to recover. */
		stat = DRM_GPU_SCHED_STAT_ENODEV;
		goto out_requeue;
	}

	mutex_lock(&q->lock);
	jal_queue_collect_locked(q, &done);
	if (job->state == JAL_JOB_INFLIGHT &&
	    list_first_entry(&q->inflight, struct jal_job, q_link) == job &&
	    jal_hw_queue_is_busy(q)) {
		jal_coredump_capture(q, &regs);
		/* Returns once the chip stopped touching the job's memory. */
		jal_hw_queue_reset(q);
		stuck = !(jal_qrreg(q, JAL_Q_STATUS) & JAL_Q_STATUS_IDLE);
		jal_queue_collect_locked(q, &done);
		guilty = job->state == JAL_JOB_INFLIGHT;
		trace_jal_reset(q->index, guilty);
		if (guilty) {
			jal_ctx_describe_slot(jdev, job->ctx->hw_id, who,
					      sizeof(who));
			jal_ctx_job_failed(job->ctx, job->seq.seqno, -ETIMEDOUT,
					   JAL_STATUS_ABORTED, 0, 0);
			jal_job_retire_locked(q, job, -ETIMEDOUT, &done);
		}
		/*
		 * A chip that a queue reset does not stop needs a device
		 * reset, which rewrites every ring; the job that hung it has
		 * been failed above.
		 */
		if (stuck)
			jal_job_recover_device(jdev, q->index, false,
					       "a queue reset did not stop the chip");
		else
			jal_queue_restart_locked(q, &done);
	}
	mutex_unlock(&q->lock);
	drm_dev_exit(idx);

	if (guilty) {
		drm_err(&jdev->drm,
			"queue %u: job %llu of %s timed out after %u ms; queue reset\n",
			q->index, job->seq.seqno, who, READ_ONCE(job_timeout_ms));
		/* @job stays ours until it is requeued below. */
		jal_coredump_job(job, &regs, "job timed out; queue reset");
	}

out_requeue:
	jal_job_timeout_requeue(sched_job, finished);
	/* Only now may @done's jobs (maybe including @job) be freed. */
	jal_jobs_signal(&done);
	dma_fence_put(finished);
	return stat;
}

static void jal_job_destroy(struct jal_job *job)
{
	u32 i;

	if (job->bos) {
		for (i = 0; i < job->bo_count; i++)
			if (job->bos[i])
				drm_gem_object_put(job->bos[i]);
		kvfree(job->bos);
	}
	kfree(job->out_fence);
	if (job->hw_fence) {
		if (job->hw_fence_live)
			dma_fence_put(&job->hw_fence->base);
		else
			kfree(job->hw_fence);
	}
	if (job->pushed && atomic_dec_return(&job->ctx->num_jobs) <
			   JAL_MAX_CTX_JOBS)
		wake_up(&job->ctx->jobs_wq);
	jal_ctx_put(job->ctx);
	kfree(job);
}

static void jal_job_free(struct drm_sched_job *sched_job)
{
	struct jal_job *job = to_jal_job(sched_job);

	/* For jobs that never reached run_job (killed with their entity). */
	jal_job_ended(job);
	drm_sched_job_cleanup(sched_job);
	jal_job_destroy(job);
}

static const struct drm_sched_backend_ops jal_sched_ops = {
	.run_job = jal_job_run,
	.timedout_job = jal_job_timedout,
	.free_job = jal_job_free,
};

static void jal_job_sched_fini(struct drm_device *drm, void *arg)
{
	struct jal_queue *q = arg;

	drm_sched_fini(&q->sched);
}

/**
 * jal_job_sched_init() - create one scheduler per hardware queue
 * @jdev: device; &jal_device.reset_wq must exist.
 *
 * The schedulers live until the DRM device is released, after the last
 * file and address space are gone, because contexts' entities use them.
 *
 * Return: 0 or a negative errno.
 */
int jal_job_sched_init(struct jal_device *jdev)
{
	long timeout = jal_job_timeout_jiffies();
	unsigned int i;
	int ret;

	for (i = 0; i < JAL_NUM_QUEUES; i++) {
		struct jal_queue *q = &jdev->queues[i];
		const struct drm_sched_init_args args = {
			.ops = &jal_sched_ops,
			.timeout_wq = jdev->reset_wq,
			.num_rqs = DRM_SCHED_PRIORITY_COUNT,
			.credit_limit = JAL_RING_ENTRIES - 1,
			.timeout = timeout,
			.name = jal_queue_names[i],
			.dev = jdev->drm.dev,
		};

		ret = drm_sched_init(&q->sched, &args);
		if (ret) {
			drm_err(&jdev->drm, "queue %u: scheduler init failed: %d\n",
				i, ret);
			return ret;
		}
		ret = drmm_add_action_or_reset(&jdev->drm, jal_job_sched_fini,
					       q);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * A new job of @ctx for the command buffer at @cmdbuf_va. Takes over the
 * caller's context reference, also on failure. The caller initialises
 * the scheduler job.
 */
static struct jal_job *jal_job_new(struct jal_ctx *ctx, u64 cmdbuf_va,
				   u32 cmdbuf_size)
{
	struct jal_job *job;

	job = kzalloc(sizeof(*job), GFP_KERNEL);
	if (!job) {
		jal_ctx_put(ctx);
		return ERR_PTR(-ENOMEM);
	}
	job->ctx = ctx;
	job->jdev = ctx->jdev;
	job->queue = ctx->queue;
	job->cmdbuf_va = cmdbuf_va;
	job->cmdbuf_size = cmdbuf_size;
	job->state = JAL_JOB_PENDING;
	INIT_LIST_HEAD(&job->q_link);
	INIT_LIST_HEAD(&job->activity.link);
	INIT_LIST_HEAD(&job->seq.link);

	job->hw_fence = kzalloc(sizeof(*job->hw_fence), GFP_KERNEL);
	if (!job->hw_fence) {
		jal_job_destroy(job);
		return ERR_PTR(-ENOMEM);
	}
	spin_lock_init(&job->hw_fence->lock);
	job->hw_fence->queue = ctx->queue->index;

	job->out_fence = kzalloc(sizeof(*job->out_fence), GFP_KERNEL);
	if (!job->out_fence) {
		jal_job_destroy(job);
		return ERR_PTR(-ENOMEM);
	}
	spin_lock_init(&job->out_fence->lock);
	job->out_fence->queue = ctx->queue->index;
	return job;
}

/*
 * Arms @job and pushes it to its context's entity. On success the job
 * belongs to the scheduler, *@done holds a reference to its out-fence
 * and *@seqno is its per-context seqno. On failure nothing was armed and
 * the caller still owns the job.
 */
static int jal_job_push(struct jal_job *job, struct dma_fence **done,
			u64 *seqno)
{
	struct jal_ctx *ctx = job->ctx;
	int ret = 0;
	int idx;

	mutex_lock(&ctx->submit_lock);
	if (ctx->destroyed)
		ret = -ENOENT;
	else if (jal_ctx_is_banned(ctx))
		ret = -ECANCELED;
	else if (!drm_dev_enter(&ctx->jdev->drm, &idx))
		ret = -ENODEV;
	if (ret) {
		mutex_unlock(&ctx->submit_lock);
		return ret;
	}

	/* Nothing may fail from here on. */
	/* job_timeout_ms may have changed; the push arms the timer with it. */
	WRITE_ONCE(ctx->sched->timeout, jal_job_timeout_jiffies());
	drm_sched_job_arm(&job->base);
	*seqno = jal_ctx_job_begin(ctx, &job->seq);
	*done = jal_out_fence_publish(job, *seqno);
	trace_jal_submit(ctx->queue->index, ctx->hw_id, ctx->id, *seqno,
			 job->bo_count);

	jal_vm_activity_begin(ctx->vm, &job->activity);
	atomic_inc(&ctx->num_jobs);
	job->pushed = true;

	/* The job belongs to the scheduler now and may vanish any time. */
	drm_sched_entity_push_job(&job->base);
	drm_dev_exit(idx);
	mutex_unlock(&ctx->submit_lock);
	return 0;
}

/**
 * jal_job_submit_kernel() - run a command buffer of the driver's own
 * @ctx: kernel context (jal_ctx_create_kernel()).
 * @cmdbuf_va: command buffer VA in @ctx's address space.
 * @cmdbuf_size: command buffer bytes.
 *
 * The job lists no BOs: the caller keeps its memory alive until the
 * returned fence has signalled.
 *
 * Return: a reference to the job's out-fence, or an ERR_PTR():
 * -ENODEV after unplug, -ENOMEM.
 */
struct dma_fence *jal_job_submit_kernel(struct jal_ctx *ctx, u64 cmdbuf_va,
					u32 cmdbuf_size)
{
	struct dma_fence *done;
	struct jal_job *job;
	u64 seqno;
	int ret;

	kref_get(&ctx->ref);
	job = jal_job_new(ctx, cmdbuf_va, cmdbuf_size);
	if (IS_ERR(job))
		return ERR_CAST(job);

	ret = drm_sched_job_init(&job->base, &ctx->entity, 1, ctx, 0);
	if (ret) {
		jal_job_destroy(job);
		return ERR_PTR(ret);
	}

	ret = jal_job_push(job, &done, &seqno);
	if (ret) {
		drm_sched_job_cleanup(&job->base);
		jal_job_destroy(job);
		return ERR_PTR(ret);
	}
	return done;
}

static int jal_job_add_in_syncobjs(struct jal_job *job, struct drm_file *file,
				   u64 user_handles, u32 count)
{
	u32 *handles;
	u32 i;
	int ret = 0;

	if (!count)
		return 0;

	handles = kvmalloc_array(count, sizeof(*handles), GFP_KERNEL);
	if (!handles)
		return -ENOMEM;

	if (copy_from_user(handles, u64_to_user_ptr(user_handles),
			   count * sizeof(*handles))) {
		ret = -EFAULT;
		goto out_free;
	}

	for (i = 0; i < count; i++) {
		/* -ENOENT for an unknown handle, -EINVAL if it has no fence. */
		ret = drm_sched_job_add_syncobj_dependency(&job->base, file,
							   handles[i], 0);
		if (ret)
			break;
	}

out_free:
	kvfree(handles);
	return ret;
}

static int jal_submit_check_args(struct jal_device *jdev,
				 const struct drm_jalapeno_submit *args)
{
	struct drm_device *dev = &jdev->drm;

	if (args->flags || args->reserved) {
		drm_dbg(dev, "SUBMIT: flags 0x%x / reserved 0x%llx not zero\n",
			args->flags, args->reserved);
		return -EINVAL;
	}
	if (!args->cmdbuf_size || args->cmdbuf_size % 4 ||
	    args->cmdbuf_size > jdev->max_cmdbuf_size) {
		drm_dbg(dev, "SUBMIT: bad command buffer size %u\n",
			args->cmdbuf_size);
		return -EINVAL;
	}
	if (args->cmdbuf_va % 8) {
		drm_dbg(dev, "SUBMIT: command buffer VA 0x%llx not 8-byte aligned\n",
			args->cmdbuf_va);
		return -EINVAL;
	}
	if (args->bo_count > JAL_MAX_SUBMIT_BOS ||
	    args->in_syncobj_count > JAL_MAX_SUBMIT_SYNCOBJS) {
		drm_dbg(dev, "SUBMIT: %u BOs / %u syncobjs is too many\n",
			args->bo_count, args->in_syncobj_count);
		return -EINVAL;
	}
	return 0;
}

/*
 * The context of a submit, once it may take another job: its older jobs
 * are throttled (JAL_MAX_CTX_JOBS) and the command buffer lies inside
 * one BO of its address space.
 *
 * Return: the context with a reference, or an ERR_PTR(): -ENOENT,
 * -ECANCELED for a banned context, -EINVAL, -ERESTARTSYS.
 */
static struct jal_ctx *jal_submit_get_ctx(struct jal_file *jfile,
					  const struct drm_jalapeno_submit *args)
{
	struct jal_ctx *ctx;
	int ret;

	ctx = jal_ctx_lookup(jfile, args->ctx_id);
	if (!ctx)
		return ERR_PTR(-ENOENT);
	if (jal_ctx_is_banned(ctx)) {
		ret = -ECANCELED;
		goto err_put;
	}
	/* Throttle: wait for older jobs of the context to be freed. */
	ret = wait_event_interruptible(ctx->jobs_wq,
				       atomic_read(&ctx->num_jobs) <
				       JAL_MAX_CTX_JOBS ||
				       READ_ONCE(ctx->destroyed));
	if (ret)
		goto err_put;
	if (!jal_vm_range_is_mapped(ctx->vm, args->cmdbuf_va,
				    args->cmdbuf_size)) {
		drm_dbg(&jfile->jdev->drm,
			"SUBMIT: command buffer 0x%llx+0x%x is not inside one BO\n",
			args->cmdbuf_va, args->cmdbuf_size);
		ret = -EINVAL;
		goto err_put;
	}
	return ctx;

err_put:
	jal_ctx_put(ctx);
	return ERR_PTR(ret);
}

/* Looks up the BOs the job lists; each must be one of this driver's. */
static int jal_job_lookup_bos(struct jal_job *job, struct drm_file *file,
			      u64 user_handles, u32 count)
{
	u32 i;
	int ret;

	if (!count)
		return 0;

	/* Partially filled on error; jal_job_destroy() copes. */
	job->bo_count = count;
	ret = drm_gem_objects_lookup(file, u64_to_user_ptr(user_handles),
				     count, &job->bos);
	if (ret)
		return ret;
	for (i = 0; i < job->bo_count; i++)
		if (!jal_gem_is_bo(job->bos[i]))
			return -EINVAL;
	return 0;
}

/*
 * Locks the job's BOs, pushes the job and publishes its out-fence in the
 * BOs' reservation objects and in @out_syncobj (may be NULL).
 */
static int jal_job_lock_and_push(struct jal_job *job,
				 struct drm_syncobj *out_syncobj, u64 *seqno)
{
	bool locked = job->bo_count;
	struct drm_gem_object *obj;
	struct dma_fence *done;
	struct drm_exec exec;
	int ret;

	if (locked) {
		drm_exec_init(&exec, DRM_EXEC_INTERRUPTIBLE_WAIT |
			      DRM_EXEC_IGNORE_DUPLICATES, job->bo_count);
		drm_exec_until_all_locked(&exec) {
			ret = drm_exec_prepare_array(&exec, job->bos,
						     job->bo_count, 1);
			drm_exec_retry_on_contention(&exec);
			if (ret)
				goto out_fini;
		}
	}

	ret = jal_job_push(job, &done, seqno);
	if (ret)
		goto out_fini;

	if (locked)
		drm_exec_for_each_locked_object(&exec, obj)
			dma_resv_add_fence(obj->resv, done,
					   DMA_RESV_USAGE_WRITE);
	if (out_syncobj)
		drm_syncobj_replace_fence(out_syncobj, done);
	dma_fence_put(done);

out_fini:
	if (locked)
		drm_exec_fini(&exec);
	return ret;
}

/*
 * Builds the job of a checked submit on @ctx (whose reference it takes
 * over) and pushes it.
 */
static int jal_submit(struct drm_file *file, struct jal_ctx *ctx,
		      struct drm_jalapeno_submit *args)
{
	struct jal_file *jfile = file->driver_priv;
	struct drm_syncobj *out_syncobj = NULL;
	struct jal_job *job;
	int ret;

	job = jal_job_new(ctx, args->cmdbuf_va, args->cmdbuf_size);
	if (IS_ERR(job))
		return PTR_ERR(job);

	ret = drm_sched_job_init(&job->base, &ctx->entity, 1, jfile,
				 file->client_id);
	if (ret) {
		jal_job_destroy(job);
		return ret;
	}

	ret = jal_job_lookup_bos(job, file, args->bo_handles, args->bo_count);
	if (!ret)
		ret = jal_job_add_in_syncobjs(job, file, args->in_syncobjs,
					      args->in_syncobj_count);
	if (!ret && args->out_syncobj) {
		out_syncobj = drm_syncobj_find(file, args->out_syncobj);
		if (!out_syncobj)
			ret = -ENOENT;
	}
	if (!ret)
		ret = jal_job_lock_and_push(job, out_syncobj, &args->seqno);

	if (out_syncobj)
		drm_syncobj_put(out_syncobj);
	if (ret) {
		drm_sched_job_cleanup(&job->base);
		jal_job_destroy(job);
	}
	return ret;
}

/**
 * jal_ioctl_submit() - DRM_IOCTL_JALAPENO_SUBMIT
 * @dev: DRM device.
 * @data: struct drm_jalapeno_submit.
 * @file: DRM file.
 *
 * Return: 0, or the errors listed for struct drm_jalapeno_submit.
 */
int jal_ioctl_submit(struct drm_device *dev, void *data,
		     struct drm_file *file)
{
	struct drm_jalapeno_submit *args = data;
	struct jal_ctx *ctx;
	int ret;

	ret = jal_submit_check_args(to_jal_device(dev), args);
	if (ret)
		return ret;

	ctx = jal_submit_get_ctx(file->driver_priv, args);
	if (IS_ERR(ctx))
		return PTR_ERR(ctx);

	return jal_submit(file, ctx, args);
}

/*
 * Whole-device recovery, for what a queue reset cannot mend: a chip that
 * a queue reset does not stop, a fatal error, a completion record that
 * cannot be trusted, or an operator's request (debugfs reset_device).
 * It runs on the ordered reset workqueue, so never beside a queue's
 * timeout handling, with every scheduler stopped:
 *
 * 1. the chip finishes the job it runs (quiesce); only a job that does
 *    not finish in JAL_RECOVER_QUIESCE_MS is cut;
 * 2. the whole chip is reset and programmed again;
 * 3. the reset clears device memory: every context whose address space
 *    maps some is LOST (its queued jobs are cancelled, not run on zeros);
 * 4. on every ring, jobs the chip wrote back keep their result; a cut
 *    job fails: with -EIO if it caused the reset (its context is
 *    banned), else with -ECANCELED and its context is LOST; every job
 *    that had not started is written to the fresh ring and runs.
 */
#define JAL_RECOVER_QUIESCE_MS	1000

/**
 * jal_job_recover_device() - ask for a reset of the whole chip
 * @jdev: device.
 * @queue: the queue the chip is stuck on, or -1 if not known.
 * @blame: the job running on @queue caused it and fails; false if that
 *	job was failed already (or @queue is -1).
 * @why: for the log.
 *
 * Callable from any context; requests made before the reset starts are
 * served by it.
 */
void jal_job_recover_device(struct jal_device *jdev, int queue, bool blame,
			    const char *why)
{
	unsigned long flags;

	spin_lock_irqsave(&jdev->recover_lock, flags);
	if (!jdev->recover_why || (jdev->recover_queue < 0 && queue >= 0)) {
		jdev->recover_why = why;
		jdev->recover_queue = queue;
		jdev->recover_blame = blame && queue >= 0;
	}
	spin_unlock_irqrestore(&jdev->recover_lock, flags);
	queue_work(jdev->reset_wq, &jdev->recover_work);
}

/*
 * After the device reset: retire what the chip wrote back, fail the job
 * it was running on @q if @running (guilty if @blame, else lost), then
 * rewrite the rest into the empty ring.
 */
static void jal_queue_recover_locked(struct jal_queue *q, bool running,
				     bool blame, struct list_head *done)
{
	struct jal_job *job, *tmp;
	u64 last_done = q->next_seqno - 1;

	lockdep_assert_held(&q->lock);

	list_for_each_entry_safe(job, tmp, &q->inflight, q_link) {
		u32 status = jal_mem_rd32(&q->ring[job->ring_index].status);
		int error;

		if (status != JAL_DESC_STATUS_PENDING) {
			error = jal_hw_status_errno(status);
			if (error)
				jal_ctx_job_failed(job->ctx, job->seq.seqno, error,
						   status, 0, 0);
			jal_job_retire_locked(q, job, error, done);
		} else if (running) {
			running = false;
			if (blame)
				jal_ctx_job_failed(job->ctx, job->seq.seqno,
						   -EIO, JAL_STATUS_ABORTED, 0, 0);
			else
				jal_ctx_job_lost(job->ctx, job->seq.seqno);
			jal_job_retire_locked(q, job, blame ? -EIO : -ECANCELED,
					      done);
		} else if (job->hw_seqno <= last_done) {
			last_done = job->hw_seqno - 1;
		}
	}
	/* The chip counts on from the oldest job still to run. */
	jal_mem_wr64(&q->compl->seqno, last_done);
	q->record_corrupt = false;
	jal_queue_restart_locked(q, done);
}

/*
 * Step 1 of a recovery: stop the schedulers, let the chip finish its job
 * where it can, and silence the interrupts.
 *
 * Return: the queues whose running job the reset will cut (@queue's, if
 * it is stuck and the job on it was not failed yet).
 */
static u32 jal_recover_stop(struct jal_device *jdev, int queue, bool blame)
{
	unsigned int i;
	u32 busy = 0;

	for (i = 0; i < JAL_NUM_QUEUES; i++)
		drm_sched_wqueue_stop(&jdev->queues[i].sched);
	if (jal_hw_quiesce(jdev, JAL_RECOVER_QUIESCE_MS * USEC_PER_MSEC)) {
		for (i = 0; i < JAL_NUM_QUEUES; i++)
			if (!(jal_qrreg(&jdev->queues[i], JAL_Q_STATUS) &
			      JAL_Q_STATUS_IDLE))
				busy |= BIT(i);
	}
	if (queue >= 0 && !blame)
		busy &= ~BIT(queue);	/* its running job was failed already */
	if (queue >= 0 && blame)
		busy |= BIT(queue);

	jal_wreg(jdev, JAL_REG_IRQ_MASK, ~0u);
	for (i = 0; i < jdev->num_irq_vectors; i++)
		synchronize_irq(jdev->irq_vectors[i].irq);
	return busy;
}

/* Steps 2 to 4: reset the chip, settle every ring, start again. */
static void jal_recover_restart(struct jal_device *jdev, u32 busy, int queue,
				bool blame, const char *why)
{
	struct list_head done[JAL_NUM_QUEUES];
	unsigned int i;
	int ret;

	ret = jal_hw_device_reset(jdev);
	/* The reset cleared device memory: its users cannot go on. */
	jal_ctx_lose_device_memory(jdev);

	for (i = 0; i < JAL_NUM_QUEUES; i++) {
		struct jal_queue *q = &jdev->queues[i];

		INIT_LIST_HEAD(&done[i]);
		mutex_lock(&q->lock);
		jal_queue_recover_locked(q, busy & BIT(i), blame && queue == i,
					 &done[i]);
		mutex_unlock(&q->lock);
	}
	if (!ret)
		jal_hw_enable(jdev);
	jdev->device_resets++;
	trace_jal_reset(JAL_NUM_QUEUES, busy && blame);
	drm_err(&jdev->drm, "device reset (%s)%s\n", why,
		ret ? ": the chip did not come back" : "");

	for (i = 0; i < JAL_NUM_QUEUES; i++) {
		jal_jobs_signal(&done[i]);
		drm_sched_wqueue_start(&jdev->queues[i].sched);
	}
}

static void jal_job_recover_work(struct work_struct *work)
{
	struct jal_device *jdev = container_of(work, struct jal_device,
					       recover_work);
	unsigned long flags;
	const char *why;
	int queue, idx;
	bool blame;
	u32 busy;

	spin_lock_irqsave(&jdev->recover_lock, flags);
	why = jdev->recover_why;
	queue = jdev->recover_queue;
	blame = jdev->recover_blame;
	jdev->recover_why = NULL;
	spin_unlock_irqrestore(&jdev->recover_lock, flags);
	if (!why || !drm_dev_enter(&jdev->drm, &idx))
		return;

	busy = jal_recover_stop(jdev, queue, blame);
	jal_recover_restart(jdev, busy, queue, blame, why);
	drm_dev_exit(idx);
}

/*
 * Holds the ordered reset workqueue while the PCI core resets the
 * function, so that no timeout handling or recovery touches the chip.
 */
static void jal_job_park_work(struct work_struct *work)
{
	struct jal_device *jdev = container_of(work, struct jal_device,
					       park_work);

	complete(&jdev->parked);
	wait_for_completion(&jdev->unpark);
}

/**
 * jal_job_pci_reset_prepare() - the PCI core is about to reset the chip
 * @jdev: device.
 *
 * Parks the reset workqueue (pending recoveries run first), then stops
 * the schedulers and quiesces the chip as a recovery does; files stay
 * open. jal_job_pci_reset_done() must follow.
 */
void jal_job_pci_reset_prepare(struct jal_device *jdev)
{
	reinit_completion(&jdev->parked);
	reinit_completion(&jdev->unpark);
	queue_work(jdev->reset_wq, &jdev->park_work);
	wait_for_completion(&jdev->parked);

	jdev->pci_reset_busy = 0;
	jdev->pci_reset_entered = drm_dev_enter(&jdev->drm,
						&jdev->pci_reset_idx);
	if (jdev->pci_reset_entered)
		jdev->pci_reset_busy = jal_recover_stop(jdev, -1, false);
}

/**
 * jal_job_pci_reset_done() - the PCI core reset the chip
 * @jdev: device.
 *
 * Settles and restarts the rings as a recovery does (a job the reset cut
 * fails and its context is LOST; jobs that had not started run), then
 * lets the reset workqueue go on.
 */
void jal_job_pci_reset_done(struct jal_device *jdev)
{
	if (jdev->pci_reset_entered) {
		jal_recover_restart(jdev, jdev->pci_reset_busy, -1, false,
				    "PCI function reset");
		drm_dev_exit(jdev->pci_reset_idx);
		jdev->pci_reset_entered = false;
	}
	complete(&jdev->unpark);
}

/**
 * jal_job_recover_init() - set up whole-device recovery
 * @jdev: device.
 */
void jal_job_recover_init(struct jal_device *jdev)
{
	spin_lock_init(&jdev->recover_lock);
	INIT_WORK(&jdev->recover_work, jal_job_recover_work);
	INIT_WORK(&jdev->park_work, jal_job_park_work);
	init_completion(&jdev->parked);
	init_completion(&jdev->unpark);
}

/*
 * Interrupts. They live beside job completion because that is all they
 * do: a queue's vector completes the queue's jobs, the error vector logs
 * the chip's fault record and hands a stopped queue to its scheduler's
 * timeout handler. jalapeno_hw.c only accesses the hardware.
 */

/* The error interrupt: log the fault record, recover stopped queues. */
static void jal_job_handle_error(struct jal_device *jdev)
{
	u32 status, hw_ctx, queue, reason, count;
	char who[64];
	unsigned int i;
	u64 addr;
	int idx;

	if (!drm_dev_enter(&jdev->drm, &idx))
		return;

	if (jal_rreg(jdev, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_FATAL) {
		queue = jal_rreg(jdev, JAL_REG_FAULT_QUEUE);
		jal_job_recover_device(jdev, queue < JAL_NUM_QUEUES ? queue : -1,
				       true, "the chip reported a fatal error");
	}

	status = jal_rreg(jdev, JAL_REG_FAULT_STATUS);
	if (status & JAL_FAULT_STATUS_VALID) {
		hw_ctx = jal_rreg(jdev, JAL_REG_FAULT_CTX);
		queue = jal_rreg(jdev, JAL_REG_FAULT_QUEUE);
		reason = jal_rreg(jdev, JAL_REG_FAULT_REASON);
		addr = jal_rreg(jdev, JAL_REG_FAULT_ADDR_LO) |
		       (u64)jal_rreg(jdev, JAL_REG_FAULT_ADDR_HI) << 32;
		count = jal_rreg(jdev, JAL_REG_FAULT_COUNT);
		jal_wreg(jdev, JAL_REG_FAULT_ACK, 1);

		jal_ctx_describe_slot(jdev, hw_ctx, who, sizeof(who));
		if (reason == JAL_STATUS_MMU_UNMAPPED ||
		    reason == JAL_STATUS_MMU_PERM)
			drm_err_ratelimited(&jdev->drm,
					    "MMU fault: %s, queue %u, %s at VA 0x%llx: %s (faults since last report: %u)\n",
					    who, queue,
					    status & JAL_FAULT_STATUS_WRITE ?
					    "write" : "read",
					    addr, jal_hw_status_name(reason),
					    count);
		else
			drm_err_ratelimited(&jdev->drm,
					    "job error: %s, queue %u: %s (%u), address 0x%llx (errors since last report: %u)\n",
					    who, queue,
					    jal_hw_status_name(reason), reason,
					    addr, count);
	}

	for (i = 0; i < JAL_NUM_QUEUES; i++) {
		struct jal_queue *q = &jdev->queues[i];

		if (jal_qrreg(q, JAL_Q_STATUS) & JAL_Q_STATUS_ERROR) {
			drm_err_ratelimited(&jdev->drm,
					    "queue %u stopped on a ring error, recovering\n",
					    i);
			/* The timeout handler resets and restarts it. */
			drm_sched_fault(&q->sched);
		}
	}

	drm_dev_exit(idx);
}

static irqreturn_t jal_job_irq_handler(int irq, void *arg)
{
	struct jal_irq_vector *vec = arg;
	struct jal_device *jdev = vec->jdev;
	u32 status = 0;
	int idx;

	if (drm_dev_enter(&jdev->drm, &idx)) {
		status = jal_rreg(jdev, JAL_REG_IRQ_STATUS) & vec->mask;
		if (status)
			jal_wreg(jdev, JAL_REG_IRQ_STATUS, status);
		drm_dev_exit(idx);
	}

	/*
	 * An MSI-X vector serves only its own events; the completion record
	 * says what finished, so process them even if the status bit was
	 * already cleared by an earlier pass.
	 */
	if (vec->exclusive)
		status = vec->mask;
	if (!status)
		return IRQ_NONE;

	atomic_or(status, &vec->pending);
	return IRQ_WAKE_THREAD;
}

static irqreturn_t jal_job_irq_thread(int irq, void *arg)
{
	struct jal_irq_vector *vec = arg;
	struct jal_device *jdev = vec->jdev;
	u32 pending = atomic_xchg(&vec->pending, 0);
	unsigned int i;

	trace_jal_irq(irq, pending);

	for (i = 0; i < JAL_NUM_QUEUES; i++)
		if (pending & JAL_IRQ_QUEUE(i))
			jal_job_queue_complete(&jdev->queues[i]);

	if (pending & JAL_IRQ_ERROR)
		jal_job_handle_error(jdev);

	return IRQ_HANDLED;
}

/**
 * jal_job_irq_init() - allocate interrupt vectors and install handlers
 * @jdev: device.
 *
 * One MSI-X vector per queue plus one for errors; if that is not
 * available, a single MSI or (shared) INTx vector serving everything.
 *
 * Return: 0 or a negative errno.
 */
int jal_job_irq_init(struct jal_device *jdev)
{
	struct pci_dev *pdev = jdev->pdev;
	u32 all = JAL_IRQ_ERROR;
	unsigned long flags = 0;
	unsigned int i;
	int nvec;
	int ret;

	for (i = 0; i < JAL_NUM_QUEUES; i++)
		all |= JAL_IRQ_QUEUE(i);

	nvec = pci_alloc_irq_vectors(pdev, JAL_MSIX_NUM_VECTORS,
				     JAL_MSIX_NUM_VECTORS, PCI_IRQ_MSIX);
	if (nvec == JAL_MSIX_NUM_VECTORS) {
		for (i = 0; i < JAL_NUM_QUEUES; i++)
			jdev->irq_vectors[JAL_MSIX_VEC_QUEUE(i)].mask =
				JAL_IRQ_QUEUE(i);
		jdev->irq_vectors[JAL_MSIX_VEC_ERROR].mask = JAL_IRQ_ERROR;
	} else {
		nvec = pci_alloc_irq_vectors(pdev, 1, 1,
					     PCI_IRQ_MSI | PCI_IRQ_INTX);
		if (nvec < 0) {
			drm_err(&jdev->drm, "no interrupt available: %d\n",
				nvec);
			return nvec;
		}
		jdev->irq_vectors[0].mask = all;
		if (!pdev->msi_enabled)
			flags = IRQF_SHARED;
		drm_info(&jdev->drm, "MSI-X unavailable, using one %s vector\n",
			 pdev->msi_enabled ? "MSI" : "INTx");
	}

	for (i = 0; i < nvec; i++) {
		struct jal_irq_vector *vec = &jdev->irq_vectors[i];

		vec->jdev = jdev;
		vec->exclusive = pdev->msix_enabled;
		atomic_set(&vec->pending, 0);
		vec->irq = pci_irq_vector(pdev, i);
		if (vec->irq < 0)
			return vec->irq;

		ret = devm_request_threaded_irq(&pdev->dev, vec->irq,
						jal_job_irq_handler, jal_job_irq_thread,
						flags, JAL_DRIVER_NAME, vec);
		if (ret) {
			drm_err(&jdev->drm, "cannot request IRQ %d: %d\n",
				vec->irq, ret);
			return ret;
		}
		jdev->num_irq_vectors = i + 1;
	}
	return 0;
}
