// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: register access, device and queue
 * bring-up, interrupts.
 *
 * Register access rule: outside probe and remove, BAR0 is only touched
 * inside drm_dev_enter()/drm_dev_exit(), so nothing reaches the device
 * after drm_dev_unplug() returned.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/dma-mapping.h>
#include <linux/errno.h>
#include <linux/interrupt.h>
#include <linux/iopoll.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>

#include <drm/drm_drv.h>
#include <drm/drm_managed.h>
#include <drm/drm_print.h>

#include "jalapeno_drv.h"
#include "jalapeno_hw.h"

#include "jalapeno_status.c.inc"

#define JAL_RESET_TIMEOUT_US	100000

/**
 * jal_rreg() - read a 32-bit register
 * @jdev: device.
 * @reg: BAR0 offset.
 *
 * Return: the register value.
 */
u32 jal_rreg(struct jal_device *jdev, u32 reg)
{
	return readl(jdev->regs + reg);
}

/**
 * jal_wreg() - write a 32-bit register
 * @jdev: device.
 * @reg: BAR0 offset.
 * @val: value.
 *
 * writel() orders earlier writes to coherent DMA memory before the
 * register write, which descriptor and page-table updates rely on.
 */
void jal_wreg(struct jal_device *jdev, u32 reg, u32 val)
{
	writel(val, jdev->regs + reg);
}

/**
 * jal_qrreg() - read a register of a queue
 * @q: queue.
 * @reg: JAL_Q_* offset.
 *
 * Return: the register value.
 */
u32 jal_qrreg(struct jal_queue *q, u32 reg)
{
	return jal_rreg(q->jdev, JAL_REG_Q(q->index, reg));
}

/**
 * jal_qwreg() - write a register of a queue
 * @q: queue.
 * @reg: JAL_Q_* offset.
 * @val: value.
 */
void jal_qwreg(struct jal_queue *q, u32 reg, u32 val)
{
	jal_wreg(q->jdev, JAL_REG_Q(q->index, reg), val);
}

/* 64-bit registers latch when their high half is written. */
static void jal_wreg64(struct jal_device *jdev, u32 lo, u32 hi, u64 val)
{
	jal_wreg(jdev, lo, lower_32_bits(val));
	jal_wreg(jdev, hi, upper_32_bits(val));
}

/**
 * jal_hw_status_name() - name of a JAL_STATUS_* value
 * @status: descriptor status or fault reason.
 *
 * Return: a static string.
 */
const char *jal_hw_status_name(u32 status)
{
	if (status < JAL_STATUS_COUNT)
		return jal_status_info[status].desc;
	return "unknown status";
}

/**
 * jal_hw_status_errno() - the errno a job's fence carries for a status
 * @status: descriptor status.
 *
 * Return: 0 for JAL_STATUS_OK, else a negative errno (-EIO for a value
 * the chip should never write).
 */
int jal_hw_status_errno(u32 status)
{
	if (status < JAL_STATUS_COUNT)
		return -jal_status_info[status].err;
	return -EIO;
}

/**
 * jal_hw_write_ctx_entry() - fill or clear a context table entry
 * @jdev: device.
 * @hw_ctx: slot.
 * @pt_root: bus address of the page-table root.
 * @valid: false clears the entry.
 *
 * Caller holds &jal_device.ctx_table_lock, is inside drm_dev_enter() (the
 * table is freed on unbind) and invalidates the slot's TLB afterwards.
 */
void jal_hw_write_ctx_entry(struct jal_device *jdev, u32 hw_ctx,
			    dma_addr_t pt_root, bool valid)
{
	struct jal_ctx_entry *e = &jdev->ctx_table[hw_ctx];

	lockdep_assert_held(&jdev->ctx_table_lock);

	jal_mem_wr64(&e->pt_root, valid ? (u64)pt_root | JAL_CTX_VALID : 0);
	jal_mem_wr64(&e->reserved, 0);
}

/**
 * jal_hw_mmu_invalidate() - drop the chip's cached translations of a slot
 * @jdev: device.
 * @hw_ctx: slot.
 *
 * The chip has dropped the cache when the register write completes. A
 * no-op after unplug (the chip is reset then and does no DMA).
 */
void jal_hw_mmu_invalidate(struct jal_device *jdev, u32 hw_ctx)
{
	int idx;

	if (!drm_dev_enter(&jdev->drm, &idx))
		return;
	jal_wreg(jdev, JAL_REG_MMU_INVALIDATE, hw_ctx);
	drm_dev_exit(idx);
}

/**
 * jal_hw_queue_program() - point a queue at its ring and enable it
 * @q: queue, whose HEAD and TAIL are 0 (after a reset).
 */
void jal_hw_queue_program(struct jal_queue *q)
{
	struct jal_device *jdev = q->jdev;

	jal_wreg64(jdev, JAL_REG_Q(q->index, JAL_Q_RING_LO),
		   JAL_REG_Q(q->index, JAL_Q_RING_HI), q->ring_dma);
	jal_qwreg(q, JAL_Q_RING_SIZE, JAL_RING_ENTRIES);
	jal_wreg64(jdev, JAL_REG_Q(q->index, JAL_Q_COMPL_LO),
		   JAL_REG_Q(q->index, JAL_Q_COMPL_HI), q->compl_dma);
	jal_qwreg(q, JAL_Q_PRIORITY, q->index);
	jal_qwreg(q, JAL_Q_CTRL, JAL_Q_CTRL_ENABLE);
}

/**
 * jal_hw_queue_reset() - abort a queue's job and clear the queue
 * @q: queue.
 *
 * The running job of the queue, if any, ends without write-back; HEAD,
 * TAIL and COMPLETED become 0 and the queue is disabled. Returns once the
 * chip no longer touches the aborted job's memory.
 */
void jal_hw_queue_reset(struct jal_queue *q)
{
	jal_qwreg(q, JAL_Q_CTRL, JAL_Q_CTRL_RESET);
}

/**
 * jal_hw_quiesce() - let the running job finish, start no other
 * @jdev: device, inside drm_dev_enter().
 * @timeout_us: how long the running job may take.
 *
 * Disables every queue (the chip finishes the job it runs and fetches no
 * more descriptors) and waits for the chip to be idle.
 *
 * Return: 0 once idle, -ETIMEDOUT if a job still runs (it hangs).
 */
int jal_hw_quiesce(struct jal_device *jdev, u32 timeout_us)
{
	unsigned int i;
	u32 status;

	for (i = 0; i < JAL_NUM_QUEUES; i++)
		jal_qwreg(&jdev->queues[i], JAL_Q_CTRL, 0);
	return readl_poll_timeout(jdev->regs + JAL_REG_DEV_STATUS, status,
				  !(status & JAL_DEV_STATUS_BUSY) ||
				  (status & JAL_DEV_STATUS_FATAL), 100,
				  timeout_us);
}

/**
 * jal_hw_queue_is_busy() - is the chip executing a job of this queue?
 * @q: queue with jobs on its ring.
 *
 * The chip runs one job at a time, so a queue with pending jobs may just
 * be waiting for another queue's job. With the queue briefly disabled,
 * JAL_Q_STATUS_IDLE tells whether one of its jobs is executing. A queue
 * stopped on a ring error counts as busy: it needs a reset too.
 *
 * Return: true if a reset of @q would abort a running job (or is needed).
 */
bool jal_hw_queue_is_busy(struct jal_queue *q)
{
	u32 status;

	jal_qwreg(q, JAL_Q_CTRL, 0);
	status = jal_qrreg(q, JAL_Q_STATUS);
	jal_qwreg(q, JAL_Q_CTRL, JAL_Q_CTRL_ENABLE);

	return (status & JAL_Q_STATUS_ERROR) || !(status & JAL_Q_STATUS_IDLE);
}

/*
 * May be changed at run time through sysfs; applies to jobs started
 * afterwards (the chip samples JAL_REG_STEP_LIMIT when it starts a job).
 */
static u64 jal_step_limit = JAL_STEP_LIMIT_DEFAULT;
module_param_named(step_limit, jal_step_limit, ullong, 0644);
MODULE_PARM_DESC(step_limit,
		 "Instruction steps one job may execute (JAL_REG_STEP_LIMIT, 0 = unlimited)");

static void jal_hw_write_step_limit_locked(struct jal_device *jdev, u64 limit)
{
	lockdep_assert_held(&jdev->step_limit_lock);

	jal_wreg64(jdev, JAL_REG_STEP_LIMIT_LO, JAL_REG_STEP_LIMIT_HI, limit);
	jdev->step_limit = limit;
}

/**
 * jal_hw_sync_step_limit() - apply a changed step_limit parameter
 * @jdev: device, inside drm_dev_enter().
 *
 * Called before each job is handed to the chip, which samples the limit
 * when it starts a job.
 */
void jal_hw_sync_step_limit(struct jal_device *jdev)
{
	u64 limit = READ_ONCE(jal_step_limit);

	spin_lock(&jdev->step_limit_lock);
	if (limit != jdev->step_limit)
		jal_hw_write_step_limit_locked(jdev, limit);
	spin_unlock(&jdev->step_limit_lock);
}

static int jal_hw_reset(struct jal_device *jdev)
{
	u32 status;
	int ret;

	jal_wreg(jdev, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
	ret = readl_poll_timeout(jdev->regs + JAL_REG_DEV_STATUS, status,
				 status & JAL_DEV_STATUS_READY, 10,
				 JAL_RESET_TIMEOUT_US);
	if (ret)
		drm_err(&jdev->drm, "device reset timed out (status 0x%x)\n",
			status);
	return ret;
}

/* Programs everything a device reset clears; the device is disabled. */
static void jal_hw_program(struct jal_device *jdev)
{
	unsigned int i;

	jal_wreg(jdev, JAL_REG_IRQ_MASK, ~0u);
	spin_lock(&jdev->step_limit_lock);
	jal_hw_write_step_limit_locked(jdev, READ_ONCE(jal_step_limit));
	spin_unlock(&jdev->step_limit_lock);
	jal_wreg64(jdev, JAL_REG_CTX_TABLE_LO, JAL_REG_CTX_TABLE_HI,
		   jdev->ctx_table_dma);
	for (i = 0; i < JAL_NUM_QUEUES; i++)
		jal_hw_queue_program(&jdev->queues[i]);
}

/**
 * jal_hw_device_reset() - reset the whole chip and program it again
 * @jdev: device, inside drm_dev_enter(), interrupts masked by the caller.
 *
 * Ends whatever the chip was doing (without write-back), then programs
 * the context table, step limit and every queue's ring (empty: HEAD and
 * TAIL 0). The caller rewrites the rings and enables the chip.
 *
 * Return: 0 or -ETIMEDOUT if the chip did not come out of reset.
 */
int jal_hw_device_reset(struct jal_device *jdev)
{
	int ret;

	ret = jal_hw_reset(jdev);
	if (ret)
		return ret;
	jal_hw_program(jdev);
	return 0;
}

static int jal_hw_check_identity(struct jal_device *jdev)
{
	u32 id = jal_rreg(jdev, JAL_REG_ID);
	u32 va_bits, num_queues;

	if (id != JAL_ID_MAGIC) {
		drm_err(&jdev->drm, "bad ID register 0x%08x\n", id);
		return -ENODEV;
	}

	jdev->hw_version = jal_rreg(jdev, JAL_REG_VERSION);
	if (jdev->hw_version >> 16 != JAL_VERSION_MAJOR) {
		drm_err(&jdev->drm, "unsupported chip version %u.%u\n",
			jdev->hw_version >> 16, jdev->hw_version & 0xffff);
		return -ENODEV;
	}

	jdev->caps = jal_rreg(jdev, JAL_REG_CAPS);
	num_queues = jal_rreg(jdev, JAL_REG_NUM_QUEUES);
	jdev->num_contexts = min_t(u32, jal_rreg(jdev, JAL_REG_NUM_CONTEXTS),
				   JAL_NUM_CONTEXTS);
	va_bits = min_t(u32, jal_rreg(jdev, JAL_REG_VA_BITS), JAL_VA_BITS);
	jdev->max_cmdbuf_size = jal_rreg(jdev, JAL_REG_MAX_CMDBUF);
	jdev->max_code_size = jal_rreg(jdev, JAL_REG_MAX_CODE);

	if (num_queues < JAL_NUM_QUEUES || !jdev->num_contexts ||
	    va_bits < 24 || !jdev->max_cmdbuf_size) {
		drm_err(&jdev->drm,
			"unusable chip: %u queues, %u contexts, %u VA bits, max command buffer %u\n",
			num_queues, jdev->num_contexts, va_bits,
			jdev->max_cmdbuf_size);
		return -ENODEV;
	}

	jdev->va_start = JAL_VA_START;
	jdev->va_end = 1ull << va_bits;
	jdev->page_size = max_t(u32, PAGE_SIZE, JAL_PAGE_SIZE);

	/* Device memory is handed out in BO-sized (page) units. */
	if (jdev->caps & JAL_CAP_VRAM)
		jdev->vram_size = round_down(jal_rreg(jdev, JAL_REG_VRAM_SIZE_LO) |
					     (u64)jal_rreg(jdev, JAL_REG_VRAM_SIZE_HI) << 32,
					     jdev->page_size);
	else
		jdev->vram_size = 0;
	return 0;
}

/**
 * jal_hw_init() - reset the chip and set up context table and queues
 * @jdev: device with BAR0 mapped.
 *
 * Leaves the device disabled with all interrupts masked.
 *
 * Return: 0 or a negative errno.
 */
int jal_hw_init(struct jal_device *jdev)
{
	unsigned int i;
	int ret;

	ret = jal_hw_check_identity(jdev);
	if (ret)
		return ret;

	ret = jal_hw_reset(jdev);
	if (ret)
		return ret;

	static_assert(JAL_NUM_CONTEXTS * sizeof(struct jal_ctx_entry) <=
		      JAL_PAGE_SIZE);
	/*
	 * Device-managed: freed on unbind, after removal stopped the chip.
	 * Every later access is inside drm_dev_enter(), which fails then.
	 */
	jdev->ctx_table = dmam_alloc_coherent(&jdev->pdev->dev, JAL_PAGE_SIZE,
					      &jdev->ctx_table_dma, GFP_KERNEL);
	if (!jdev->ctx_table)
		return -ENOMEM;

	for (i = 0; i < JAL_NUM_QUEUES; i++) {
		struct jal_queue *q = &jdev->queues[i];

		q->jdev = jdev;
		q->index = i;
		q->next_seqno = 1;
		INIT_LIST_HEAD(&q->inflight);
		q->fence_context = dma_fence_context_alloc(1);
		ret = drmm_mutex_init(&jdev->drm, &q->lock);
		if (ret)
			return ret;

		q->ring = dmam_alloc_coherent(&jdev->pdev->dev,
					      JAL_RING_ENTRIES *
					      sizeof(struct jal_desc),
					      &q->ring_dma, GFP_KERNEL);
		q->compl = dmam_alloc_coherent(&jdev->pdev->dev,
					       sizeof(*q->compl),
					       &q->compl_dma, GFP_KERNEL);
		if (!q->ring || !q->compl)
			return -ENOMEM;
	}

	jal_hw_program(jdev);
	return 0;
}

/**
 * jal_hw_enable() - unmask interrupts and let the chip run
 * @jdev: device, fully initialised.
 */
void jal_hw_enable(struct jal_device *jdev)
{
	jal_wreg(jdev, JAL_REG_IRQ_STATUS, ~0u);
	jal_wreg(jdev, JAL_REG_IRQ_MASK, 0);
	jal_wreg(jdev, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
}

/**
 * jal_hw_fini() - stop the chip on removal
 * @jdev: device, already unplugged.
 *
 * After this the chip does no more DMA and raises no interrupts, and no
 * interrupt handler is running.
 */
void jal_hw_fini(struct jal_device *jdev)
{
	unsigned int i;

	jal_wreg(jdev, JAL_REG_IRQ_MASK, ~0u);
	jal_wreg(jdev, JAL_REG_DEV_CTRL, 0);
	/* Aborts the running job; returns once its memory is let go. */
	jal_hw_reset(jdev);
	jal_wreg(jdev, JAL_REG_IRQ_MASK, ~0u);

	for (i = 0; i < jdev->num_irq_vectors; i++)
		synchronize_irq(jdev->irq_vectors[i].irq);
}
