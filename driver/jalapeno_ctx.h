/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: hardware contexts.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_CTX_H__
#define __JALAPENO_CTX_H__

#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <drm/gpu_scheduler.h>

struct drm_device;
struct drm_file;
struct jal_device;
struct jal_file;
struct jal_queue;
struct jal_vm;
struct seq_file;

/**
 * struct jal_ctx_seq - a job's place in its context's order
 * @link: entry in &jal_ctx.unfinished while the job has not ended.
 * @seqno: the job's per-context seqno.
 */
struct jal_ctx_seq {
	struct list_head link;
	u64 seqno;
};

/**
 * struct jal_ctx - a context: a hardware context slot plus a scheduler
 *	entity on the queue of its priority
 * @ref: references: the file's xarray entry (until destroy), every job
 *	of the context (until free_job), lookups in progress.
 * @jdev: the device.
 * @vm: the file's address space (reference held).
 * @usage: the file's usage counters (reference held), NULL for a kernel
 *	context.
 * @queue: hardware queue = priority.
 * @sched: &queue->sched, the entity's one-entry scheduler list.
 * @entity: scheduler entity; torn down by jal_ctx_teardown().
 * @fence_context: dma-fence context of the jobs' out-fences, whose
 *	seqnos are the jobs' per-context seqnos.
 * @id: file-local id (0 until published).
 * @hw_id: hardware context slot, < &jal_device.num_contexts.
 * @priority: DRM_JALAPENO_PRIORITY_*.
 * @pid: creating process, for fault reports (0 for a kernel context).
 * @comm: creating process name, for fault reports.
 * @kernel: a context of the driver's own (see jal_ctx_create_kernel()):
 *	never banned, not reachable through any file.
 * @submit_lock: serialises submits on this context (drm_sched requires
 *	job arm and push to be atomic per entity, and seqnos must follow
 *	push order) against each other and against teardown. Sleeps;
 *	never taken from fence-signalling paths.
 * @destroyed: set under @submit_lock once the entity is being torn down.
 * @num_jobs: jobs pushed to the entity and not yet freed; submit waits
 *	while it is at JAL_MAX_CTX_JOBS, so that a fast submitter cannot
 *	queue unbounded kernel memory.
 * @jobs_wq: woken when @num_jobs drops or the context is destroyed.
 * @status_lock: protects the fields below; irq-safe because job end is
 *	recorded from dma_fence callbacks.
 * @lost: a device reset cut a running job of the context, which it did
 *	not cause; @banned is set too, CTX_STATUS reports LOST.
 * @banned: a job failed; new submits get -ECANCELED and queued jobs are
 *	cancelled instead of run.
 * @submitted: seqno of the last submitted job.
 * @unfinished: submitted jobs that have not ended, in seqno order (jobs
 *	may end out of order: a job cancelled before reaching the ring can
 *	end before older jobs that are still running).
 * @completed: highest seqno s such that jobs 1..s have all ended.
 * @error_seqno: seqno of the first failed job, 0 if none.
 * @error: its negative errno.
 * @hw_status: its JAL_STATUS_*.
 * @fault_addr: its faulting VA.
 * @error_offset: its failing command's offset in the command buffer.
 */
struct jal_ctx {
	struct kref ref;
	struct jal_device *jdev;
	struct jal_vm *vm;
	struct jal_usage *usage;
	struct jal_queue *queue;
	struct drm_gpu_scheduler *sched;
	struct drm_sched_entity entity;
	u64 fence_context;
	u32 id;
	u32 hw_id;
	u32 priority;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	bool kernel;

	struct mutex submit_lock; /* arm+push order, destroyed */
	bool destroyed;
	atomic_t num_jobs;
	wait_queue_head_t jobs_wq;

	spinlock_t status_lock; /* fields below; irq-safe */
	bool lost;
	bool banned;
	u64 submitted;
	struct list_head unfinished;
	u64 completed;
	u64 error_seqno;
	int error;
	u32 hw_status;
	u64 fault_addr;
	u32 error_offset;
};

struct jal_ctx *jal_ctx_lookup(struct jal_file *jfile, u32 id);
void jal_ctx_put(struct jal_ctx *ctx);
void jal_ctx_destroy_all(struct jal_file *jfile);
struct jal_ctx *jal_ctx_create_kernel(struct jal_device *jdev,
				      struct jal_vm *vm, u32 priority);
void jal_ctx_destroy_kernel(struct jal_ctx *ctx);

bool jal_ctx_is_banned(struct jal_ctx *ctx);
void jal_ctx_job_failed(struct jal_ctx *ctx, u64 seqno, int error,
			u32 hw_status, u64 fault_addr, u32 error_offset);
void jal_ctx_job_lost(struct jal_ctx *ctx, u64 seqno);
void jal_ctx_lose_device_memory(struct jal_device *jdev);
u64 jal_ctx_job_begin(struct jal_ctx *ctx, struct jal_ctx_seq *seq);
void jal_ctx_job_ended(struct jal_ctx *ctx, struct jal_ctx_seq *seq);
void jal_ctx_describe_slot(struct jal_device *jdev, u32 hw_id, char *buf,
			   size_t len);
void jal_ctx_describe(struct jal_device *jdev, u32 slot, struct seq_file *m);

int jal_ioctl_ctx_create(struct drm_device *dev, void *data,
			 struct drm_file *file);
int jal_ioctl_ctx_destroy(struct drm_device *dev, void *data,
			  struct drm_file *file);
int jal_ioctl_ctx_status(struct drm_device *dev, void *data,
			 struct drm_file *file);

#endif /* __JALAPENO_CTX_H__ */
