/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: register access, queues, interrupts.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_DRV_HW_H__
#define __JALAPENO_DRV_HW_H__

#include <linux/io.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/types.h>

#include <drm/gpu_scheduler.h>

struct jal_completion;
struct jal_desc;
struct jal_device;

/* Descriptors per hardware ring; one slot always stays empty. */
#define JAL_RING_ENTRIES	256

/**
 * struct jal_queue - one hardware queue and its scheduler
 * @jdev: owning device.
 * @index: queue number, which is also its priority.
 * @sched: DRM scheduler feeding this queue; credits = ring slots.
 * @ring: descriptor ring (coherent DMA, @JAL_RING_ENTRIES entries).
 * @ring_dma: bus address of @ring.
 * @compl: completion record the chip writes after each descriptor.
 * @compl_dma: bus address of @compl.
 * @fence_context: dma_fence context of the hardware fences.
 * @lock: protects @tail, @next_seqno, @inflight, @dead, @last_retire_ns,
 *	@record_corrupt and every descriptor write. Taken by run_job (scheduler workqueue), the
 *	completion thread, the timeout handler and device removal; all of
 *	them may sleep, and no fence is signalled while it is held, so
 *	fence callbacks can never recurse into it.
 * @tail: next ring slot the driver writes.
 * @next_seqno: seqno of the next descriptor; never reused, so the
 *	completion record identifies jobs across queue resets.
 * @inflight: jobs written to the ring and not yet completed, in ring
 *	order (linked by &jal_job.q_link).
 * @num_inflight: length of @inflight; written under @lock, read locklessly
 *	by other queues' timeout handlers as a hint.
 * @dead: set on device removal; nothing is written to the ring after it.
 * @last_retire_ns: when the last job left @inflight (ktime_get_ns()), for
 *	the files' engine time.
 * @record_corrupt: the completion record held a seqno never issued; it
 *	is ignored until a device reset rewrote it.
 */
struct jal_queue {
	struct jal_device *jdev;
	u32 index;
	struct drm_gpu_scheduler sched;

	struct jal_desc *ring;
	dma_addr_t ring_dma;
	struct jal_completion *compl;
	dma_addr_t compl_dma;
	u64 fence_context;

	struct mutex lock; /* ring, inflight list; see above */
	u32 tail;
	u64 next_seqno;
	struct list_head inflight;
	u32 num_inflight;
	bool dead;
	u64 last_retire_ns;
	bool record_corrupt;
};

u32 jal_rreg(struct jal_device *jdev, u32 reg);
void jal_wreg(struct jal_device *jdev, u32 reg, u32 val);

u32 jal_qrreg(struct jal_queue *q, u32 reg);
void jal_qwreg(struct jal_queue *q, u32 reg, u32 val);

/*
 * The chip's memory structures are little endian and declared with plain
 * __u32/__u64 fields in the shared header; these convert on access.
 */
static inline void jal_mem_wr32(__u32 *p, u32 v)
{
	WRITE_ONCE(*p, (__force __u32)cpu_to_le32(v));
}

static inline void jal_mem_wr64(__u64 *p, u64 v)
{
	WRITE_ONCE(*p, (__force __u64)cpu_to_le64(v));
}

static inline u32 jal_mem_rd32(const __u32 *p)
{
	return le32_to_cpu((__force __le32)READ_ONCE(*p));
}

static inline u64 jal_mem_rd64(const __u64 *p)
{
	return le64_to_cpu((__force __le64)READ_ONCE(*p));
}

int jal_hw_init(struct jal_device *jdev);
void jal_hw_enable(struct jal_device *jdev);
void jal_hw_fini(struct jal_device *jdev);

void jal_hw_queue_program(struct jal_queue *q);
void jal_hw_queue_reset(struct jal_queue *q);
bool jal_hw_queue_is_busy(struct jal_queue *q);
int jal_hw_quiesce(struct jal_device *jdev, u32 timeout_us);
int jal_hw_device_reset(struct jal_device *jdev);
void jal_hw_sync_step_limit(struct jal_device *jdev);
void jal_hw_mmu_invalidate(struct jal_device *jdev, u32 hw_ctx);
void jal_hw_write_ctx_entry(struct jal_device *jdev, u32 hw_ctx,
			    dma_addr_t pt_root, bool valid);

const char *jal_hw_status_name(u32 status);
int jal_hw_status_errno(u32 status);

#endif /* __JALAPENO_DRV_HW_H__ */
