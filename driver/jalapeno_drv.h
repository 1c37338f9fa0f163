/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: device and file state.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_DRV_H__
#define __JALAPENO_DRV_H__

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <drm/drm_device.h>
#include <drm/drm_file.h>

#include <drm/jalapeno_hw.h>

#include "jalapeno_hw.h"
#include "jalapeno_vram.h"

#define JAL_DRIVER_NAME		"jalapeno"
#define JAL_DRIVER_DESC		"Jalapeno LLM inference accelerator"
#define JAL_DRIVER_MAJOR	1
#define JAL_DRIVER_MINOR	0

/* Device VA range handed out to BOs; VA pages below it stay unmapped. */
#define JAL_VA_START		0x100000ull

struct jal_ctx;
struct jal_vm;

/**
 * struct jal_irq_vector - one interrupt vector and the events it serves
 * @jdev: owning device.
 * @mask: JAL_IRQ_* bits of JAL_REG_IRQ_STATUS this vector handles.
 * @pending: bits the hard handler acknowledged and the thread has yet to
 *	process; set with atomic_or(), taken with atomic_xchg().
 * @irq: Linux interrupt number.
 * @exclusive: true for an MSI-X vector that nothing else shares, so it is
 *	never reported as unhandled.
 */
struct jal_irq_vector {
	struct jal_device *jdev;
	u32 mask;
	atomic_t pending;
	int irq;
	bool exclusive;
};

/* Failed jobs the debugfs faults file keeps. */
#define JAL_FAULT_LOG_ENTRIES	16

/**
 * struct jal_fault_entry - one failed job, as the faults file shows it
 * @time_ns: ktime_get_ns() when the failure was recorded.
 * @pid: process that created the context (0 for the driver's own).
 * @comm: its name.
 * @ctx_id: file-local context id.
 * @hw_ctx: hardware context slot.
 * @queue: hardware queue.
 * @seqno: the job's per-context seqno.
 * @error: negative errno of its fence.
 * @hw_status: JAL_STATUS_*.
 * @addr: faulting VA, if any.
 * @offset: failing command's offset in the command buffer.
 */
struct jal_fault_entry {
	u64 time_ns;
	pid_t pid;
	char comm[TASK_COMM_LEN];
	u32 ctx_id;
	u32 hw_ctx;
	u32 queue;
	u64 seqno;
	int error;
	u32 hw_status;
	u64 addr;
	u32 offset;
};

/**
 * struct jal_fault_log - the last failed jobs of a device
 * @lock: protects @count and @entries; irq-safe, since failures are
 *	recorded from fence-signalling paths.
 * @count: failures recorded so far; entry @count % JAL_FAULT_LOG_ENTRIES
 *	is the next to be written.
 * @entries: ring of the last JAL_FAULT_LOG_ENTRIES failures.
 */
struct jal_fault_log {
	spinlock_t lock; /* count, entries; irq-safe */
	u64 count;
	struct jal_fault_entry entries[JAL_FAULT_LOG_ENTRIES];
};

/**
 * struct jal_device - one Jalapeño PCI function
 * @drm: DRM device; embedded, allocated with devm_drm_dev_alloc(), freed on
 *	the last drm_dev_put() (open files and address spaces hold references).
 * @pdev: the PCI device.
 * @regs: BAR0 mapping; only touched inside drm_dev_enter()/drm_dev_exit().
 * @hw_version: JAL_REG_VERSION.
 * @caps: JAL_REG_CAPS.
 * @num_contexts: hardware context slots in use, at most JAL_NUM_CONTEXTS.
 * @va_start: first device VA given to BOs.
 * @va_end: end (exclusive) of the device VA range.
 * @max_cmdbuf_size: largest command buffer the chip accepts.
 * @max_code_size: largest kernel instruction stream the chip accepts.
 * @page_size: BO size granule (the larger of CPU and device page sizes).
 * @vram_size: bytes of device memory usable for BOs (JAL_REG_VRAM_SIZE
 *	rounded down to @page_size), 0 without JAL_CAP_VRAM.
 * @vram: device-memory allocator and zeroing.
 * @step_limit_lock: serialises writes of JAL_REG_STEP_LIMIT and
 *	@step_limit (run_job of several queues may race).
 * @step_limit: value last written to JAL_REG_STEP_LIMIT.
 * @queues: hardware queues, index = priority.
 * @reset_wq: ordered workqueue for scheduler timeouts, so that queue
 *	recoveries never run concurrently.
 * @ctx_table: chip context table (JAL_NUM_CONTEXTS entries, coherent DMA).
 * @ctx_table_dma: its bus address.
 * @ctx_table_lock: protects @ctx_table entries and @slot_ctx. A spinlock
 *	because context release runs from fence-signalling paths' workers;
 *	never held across anything that sleeps.
 * @slot_ida: allocator of hardware context slots (internally locked).
 * @slot_ctx: context owning each slot, for fault reports; under
 *	@ctx_table_lock, cleared before the context is freed.
 * @vms_lock: protects @vms; page tables are freed under it on removal
 *	and on address-space release, so removal waits for a release in
 *	progress. Outermost lock of the address-space code.
 * @vms: every address space of the device (&jal_vm.dev_link).
 * @recover_work: whole-device recovery, on @reset_wq.
 * @recover_lock: protects the request below; irq-safe (interrupt
 *	threads and completion paths ask for recovery).
 * @recover_why: the pending request's reason, NULL if none.
 * @recover_queue: the queue the chip is stuck on, or -1.
 * @recover_blame: the job running on @recover_queue caused the reset.
 * @device_resets: whole-device resets so far (written by the recovery
 *	work only).
 * @park_work: holds @reset_wq during a PCI reset of the function.
 * @parked: @park_work runs, so nothing else on @reset_wq does.
 * @unpark: lets @park_work end.
 * @pci_reset_entered: between reset_prepare and reset_done, the device
 *	was present (inside drm_dev_enter(), section @pci_reset_idx).
 * @pci_reset_idx: that section's cookie.
 * @pci_reset_busy: queues whose running job the PCI reset cuts.
 * @telemetry_lock: serialises reads of the 64-bit telemetry registers
 *	(reading LO latches HI).
 * @faults: the last failed jobs, for debugfs.
 * @irq_vectors: interrupt vectors in use.
 * @num_irq_vectors: number of entries of @irq_vectors in use.
 */
struct jal_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *regs;

	u32 hw_version;
	u32 caps;
	u32 num_contexts;
	u64 va_start;
	u64 va_end;
	u32 max_cmdbuf_size;
	u32 max_code_size;
	u32 page_size;
	u64 vram_size;
	struct jal_vram vram;
	spinlock_t step_limit_lock; /* JAL_REG_STEP_LIMIT, step_limit */
	u64 step_limit;

	struct jal_queue queues[JAL_NUM_QUEUES];
	struct workqueue_struct *reset_wq;

	struct jal_ctx_entry *ctx_table;
	dma_addr_t ctx_table_dma;
	spinlock_t ctx_table_lock; /* ctx_table entries, slot_ctx */
	struct ida slot_ida;
	struct jal_ctx *slot_ctx[JAL_NUM_CONTEXTS];

	struct mutex vms_lock; /* vms, page-table teardown */
	struct list_head vms;

	struct work_struct recover_work;
	spinlock_t recover_lock; /* recover_why/queue/blame; irq-safe */
	const char *recover_why;
	int recover_queue;
	bool recover_blame;
	u32 device_resets;
	struct work_struct park_work;
	struct completion parked;
	struct completion unpark;
	bool pci_reset_entered;
	int pci_reset_idx;
	u32 pci_reset_busy;

	struct mutex telemetry_lock; /* BUSY_NS LO/HI pairs */
	struct jal_fault_log faults;

	struct jal_irq_vector irq_vectors[JAL_MSIX_NUM_VECTORS];
	unsigned int num_irq_vectors;
};

/**
 * struct jal_usage - what one file's jobs used, for its fdinfo
 * @ref: the file's reference and one per context of the file (jobs, and
 *	with them contexts, may end after the file was closed).
 * @engine_ns: nanoseconds each hardware queue spent on the file's jobs,
 *	from the later of a job reaching the ring and the previous job on
 *	the queue ending, to its own end.
 */
struct jal_usage {
	struct kref ref;
	atomic64_t engine_ns[JAL_NUM_QUEUES];
};

struct jal_usage *jal_usage_get(struct jal_usage *usage);
void jal_usage_put(struct jal_usage *usage);

/**
 * struct jal_file - per open file state
 * @jdev: the device.
 * @vm: this file's device address space; every BO and context of the
 *	file uses it. The file holds one reference.
 * @ctxs: contexts of this file by id (allocating xarray, ids from 1).
 *	The xarray lock serialises insert/erase; lookups take a context
 *	reference under it.
 * @usage: engine time of the file's jobs (reference held).
 */
struct jal_file {
	struct jal_device *jdev;
	struct jal_vm *vm;
	struct xarray ctxs;
	struct jal_usage *usage;
};

static inline struct jal_device *to_jal_device(struct drm_device *drm)
{
	return container_of(drm, struct jal_device, drm);
}

/*
 * Workqueue for deferred releases (address spaces, BOs waiting for their
 * address space to go idle). It is not any scheduler's workqueue, so work
 * on it may wait for jobs, and module exit drains it.
 */
extern struct workqueue_struct *jal_wq;

#endif /* __JALAPENO_DRV_H__ */
