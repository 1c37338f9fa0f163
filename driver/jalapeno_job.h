/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: job submission and completion.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_JOB_H__
#define __JALAPENO_JOB_H__

#include <linux/dma-fence.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include <drm/gpu_scheduler.h>

#include "jalapeno_ctx.h"
#include "jalapeno_mmu.h"

struct drm_device;
struct drm_file;
struct drm_gem_object;
struct jal_ctx;
struct jal_device;
struct jal_queue;
struct seq_file;

/* Limits of one submit, to bound the kernel memory a submit pins. */
#define JAL_MAX_SUBMIT_BOS		4096
#define JAL_MAX_SUBMIT_SYNCOBJS		1024
/* Jobs one context may have queued or running before submit waits. */
#define JAL_MAX_CTX_JOBS		256
/*
 * How long a job of the driver's own may run before its queue is reset,
 * whatever job_timeout_ms says: zeroing all of device memory takes well
 * under a second.
 */
#define JAL_KERNEL_JOB_TIMEOUT_MS	10000

/**
 * struct jal_fence - hardware fence of one job
 * @base: the fence; signalled when the chip finished the descriptor or
 *	the driver gave up on it (reset, cancel, unplug).
 * @lock: the fence's own lock, so that a fence may outlive the device.
 * @queue: hardware queue index, for the timeline name.
 */
struct jal_fence {
	struct dma_fence base;
	spinlock_t lock; /* dma_fence internal, this fence only */
	u32 queue;
};

/**
 * struct jal_out_fence - the fence a job hands out (syncobjs, BO
 *	reservations, the driver's own waits)
 * @base: signalled with the job's scheduler fence, with its error; first
 *	member, because dma_fence_free() frees the fence's address.
 * @lock: the fence's own lock.
 * @cb: callback on the scheduler's finished fence.
 * @queue: hardware queue index, for the timeline name.
 *
 * A fence handed out may outlive the device and the driver (a sync_file
 * can be kept open for ever). The scheduler's fences cannot: their
 * timeline name is read from the scheduler inside &struct jal_device,
 * freed on unbind, and they hold the job's hardware fence, whose ops are
 * this module's. This fence points at nothing of the device (its names
 * are static strings), is decoupled from the scheduler's fence once that
 * signalled, and holds a reference to the module until it is released.
 */
struct jal_out_fence {
	struct dma_fence base;
	spinlock_t lock; /* dma_fence internal, this fence only */
	struct dma_fence_cb cb;
	u32 queue;
};

/**
 * enum jal_job_state - where a job is relative to the ring
 * @JAL_JOB_PENDING: not written to the ring (yet).
 * @JAL_JOB_INFLIGHT: in &jal_queue.inflight, owned by the chip.
 * @JAL_JOB_DONE: taken off the ring; its result is final.
 */
enum jal_job_state {
	JAL_JOB_PENDING,
	JAL_JOB_INFLIGHT,
	JAL_JOB_DONE,
};

/**
 * struct jal_job - one submitted command buffer
 * @base: scheduler job.
 * @jdev: device.
 * @ctx: context (reference held until free_job).
 * @queue: the context's hardware queue.
 * @bos: BOs the job lists (references held until free_job).
 * @bo_count: entries in @bos.
 * @cmdbuf_va: command buffer VA.
 * @cmdbuf_size: command buffer bytes.
 * @seq: per-context seqno and place in the context's unfinished list.
 * @hw_fence: preallocated at submit so run_job never allocates;
 *	initialised by run_job.
 * @hw_fence_live: @hw_fence was initialised (then it is refcounted).
 * @out_fence: preallocated at submit; owned by the job until the push
 *	publishes it (then NULL here).
 * @pushed: counted in &jal_ctx.num_jobs.
 * @state: enum jal_job_state, under &jal_queue.lock.
 * @hw_seqno: descriptor seqno (= hardware fence seqno).
 * @ring_index: ring slot of the descriptor.
 * @ring_ns: when run_job wrote the descriptor (ktime_get_ns()).
 * @q_link: entry in &jal_queue.inflight or in a local completion list.
 * @error: result: 0 or the negative errno the fence gets.
 * @kernel_deadline: set by run_job: jiffies after which a job of a
 *	kernel context may time out (see JAL_KERNEL_JOB_TIMEOUT_MS).
 * @activity: marks the job active in the address space from submit until
 *	the chip is done with it (or it is dropped without running).
 */
struct jal_job {
	struct drm_sched_job base;
	struct jal_device *jdev;
	struct jal_ctx *ctx;
	struct jal_queue *queue;
	struct drm_gem_object **bos;
	u32 bo_count;
	u64 cmdbuf_va;
	u32 cmdbuf_size;
	struct jal_ctx_seq seq;

	struct jal_fence *hw_fence;
	bool hw_fence_live;
	struct jal_out_fence *out_fence;
	bool pushed;

	enum jal_job_state state;
	u64 hw_seqno;
	u32 ring_index;
	u64 ring_ns;
	struct list_head q_link;
	int error;
	unsigned long kernel_deadline;

	struct jal_vm_activity activity;
};

int jal_job_sched_init(struct jal_device *jdev);
int jal_job_irq_init(struct jal_device *jdev);
void jal_job_fail_all(struct jal_device *jdev, int error);
void jal_job_recover_init(struct jal_device *jdev);
void jal_job_recover_device(struct jal_device *jdev, int queue, bool blame,
			    const char *why);
void jal_job_pci_reset_prepare(struct jal_device *jdev);
void jal_job_pci_reset_done(struct jal_device *jdev);
void jal_job_queue_describe(struct jal_queue *q, struct seq_file *m);

struct dma_fence *jal_job_submit_kernel(struct jal_ctx *ctx, u64 cmdbuf_va,
					u32 cmdbuf_size);

int jal_ioctl_submit(struct drm_device *dev, void *data,
		     struct drm_file *file);

#endif /* __JALAPENO_JOB_H__ */
