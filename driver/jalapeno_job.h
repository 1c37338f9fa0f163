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

/* Limits of one submit, to bound the kernel memory a submit pins. */
#define JAL_MAX_SUBMIT_BOS		4096
#define JAL_MAX_SUBMIT_SYNCOBJS		1024
/* Jobs one context may have queued or running before submit waits. */
#define JAL_MAX_CTX_JOBS		256

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
 * @pushed: counted in &jal_ctx.num_jobs.
 * @state: enum jal_job_state, under &jal_queue.lock.
 * @hw_seqno: descriptor seqno (= hardware fence seqno).
 * @ring_index: ring slot of the descriptor.
 * @q_link: entry in &jal_queue.inflight or in a local completion list.
 * @error: result: 0 or the negative errno the fence gets.
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
	bool pushed;

	enum jal_job_state state;
	u64 hw_seqno;
	u32 ring_index;
	struct list_head q_link;
	int error;

	struct jal_vm_activity activity;
};

extern u64 jal_step_limit;

int jal_job_sched_init(struct jal_device *jdev);
void jal_job_queue_complete(struct jal_queue *q);
void jal_job_fail_all(struct jal_device *jdev, int error);

struct dma_fence *jal_job_submit_kernel(struct jal_ctx *ctx, u64 cmdbuf_va,
					u32 cmdbuf_size);

int jal_ioctl_submit(struct drm_device *dev, void *data,
		     struct drm_file *file);

#endif /* __JALAPENO_JOB_H__ */
