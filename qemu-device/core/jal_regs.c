// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: the BAR0 register file.
 *
 * Every register is 32 bits wide and only 4-byte aligned 4-byte accesses
 * are defined. 64-bit values are written LO first, then HI; the HI write
 * latches both halves, reads return the latched value.
 */
#include "jal_internal.h"

#define JAL_IRQ_VALID_MASK	(JAL_IRQ_ERROR | ((1u << JAL_NUM_QUEUES) - 1))

void jal_regs_reset(struct jal_device *dev)
{
	unsigned int q;

	dev->dev_ctrl = 0;
	dev->irq_status = 0;
	dev->irq_mask = 0;
	dev->step_limit = JAL_STEP_LIMIT_DEFAULT;
	dev->step_limit_lo = (uint32_t)JAL_STEP_LIMIT_DEFAULT;
	dev->timestamp_hi = 0;
	dev->ctx_table = 0;
	dev->ctx_table_lo = 0;
	memset(&dev->fault, 0, sizeof(dev->fault));
	dev->fatal = false;
	for (q = 0; q < JAL_NUM_QUEUES; q++) {
		jal_queue_regs_reset(&dev->queue[q]);
		dev->queue[q].ring = 0;
		dev->queue[q].ring_lo = 0;
		dev->queue[q].ring_size = 0;
		dev->queue[q].priority = 0;
		dev->queue[q].compl = 0;
		dev->queue[q].compl_lo = 0;
	}
	memset(dev->rr_last, 0, sizeof(dev->rr_last));
	jal_mmu_invalidate(dev);
}

static unsigned int jal_irq_vector(uint32_t bit)
{
	return bit == JAL_IRQ_ERROR ? JAL_MSIX_VEC_ERROR :
	       (unsigned int)__builtin_ctz(bit);
}

/* The vectors of the unmasked events among IRQ_STATUS @bits. */
static uint32_t jal_irq_fire(const struct jal_device *dev, uint32_t bits)
{
	uint32_t fire = bits & ~dev->irq_mask, vectors = 0;

	while (fire) {
		uint32_t bit = fire & -fire;

		vectors |= 1u << jal_irq_vector(bit);
		fire &= ~bit;
	}
	return vectors;
}

/*
 * Set IRQ_STATUS bits. Every event on an unmasked bit signals its MSI-X
 * vector, even if the bit was already pending: an MSI-X driver need not
 * clear IRQ_STATUS to get the next interrupt.
 */
void jal_irq_raise(struct jal_device *dev, uint32_t bits)
{
	dev->irq_status |= bits;
	dev->irq_pending |= jal_irq_fire(dev, bits);
}

/* The same, but the vectors are signalled twice (JAL_INJECT_DUP_IRQ). */
void jal_irq_raise_twice(struct jal_device *dev, uint32_t bits)
{
	jal_irq_raise(dev, bits);
	dev->irq_again |= jal_irq_fire(dev, bits);
}

void jal_fault_report(struct jal_device *dev, uint32_t ctx, uint32_t queue,
		      enum jal_status reason, uint64_t addr, bool write)
{
	struct jal_fault_record *f = &dev->fault;

	if (!(f->status & JAL_FAULT_STATUS_VALID)) {
		f->status = JAL_FAULT_STATUS_VALID |
			    (write ? JAL_FAULT_STATUS_WRITE : 0);
		f->ctx = ctx;
		f->queue = queue;
		f->reason = reason;
		f->addr = addr;
		f->count = 1;
	} else if (f->count != UINT32_MAX) {
		f->count++;
	}
	jal_irq_raise(dev, JAL_IRQ_ERROR);
}

static uint32_t jal_queue_read(struct jal_device *dev, unsigned int qi,
			       uint32_t reg, bool *ok)
{
	struct jal_queue *q = &dev->queue[qi];

	switch (reg) {
	case JAL_Q_RING_LO:
		return (uint32_t)q->ring;
	case JAL_Q_RING_HI:
		return (uint32_t)(q->ring >> 32);
	case JAL_Q_RING_SIZE:
		return q->ring_size;
	case JAL_Q_HEAD:
		return q->head;
	case JAL_Q_TAIL:
		return q->tail;
	case JAL_Q_CTRL:
		return q->ctrl;
	case JAL_Q_STATUS:
		return (jal_queue_idle_locked(dev, qi) ? JAL_Q_STATUS_IDLE : 0) |
		       (q->error ? JAL_Q_STATUS_ERROR : 0);
	case JAL_Q_PRIORITY:
		return q->priority;
	case JAL_Q_COMPL_LO:
		return (uint32_t)q->compl;
	case JAL_Q_COMPL_HI:
		return (uint32_t)(q->compl >> 32);
	case JAL_Q_COMPLETED:
		return q->completed;
	}
	*ok = false;
	return 0;
}

static bool jal_is_inject_reg(const struct jal_device *dev, uint32_t off)
{
	return dev->inject_enabled && off >= JAL_REG_INJECT_KIND &&
	       off <= JAL_REG_INJECT_FIRED;
}

static uint32_t jal_inject_read(const struct jal_device *dev, uint32_t off)
{
	const struct jal_inject *in = &dev->inject;

	switch (off) {
	case JAL_REG_INJECT_KIND:
		return in->kind;
	case JAL_REG_INJECT_QUEUE:
		return in->queue;
	case JAL_REG_INJECT_AFTER:
		return in->after;
	case JAL_REG_INJECT_PERIOD:
		return in->period;
	}
	return in->fired;
}

/* Busy time so far, the running job's included; under the lock. */
static uint64_t jal_busy_ns(struct jal_device *dev, uint64_t now)
{
	if (dev->running_queue == JAL_NO_QUEUE)
		return dev->busy_ns;
	return dev->busy_ns + (now - dev->job_start_ns);
}

/* Utilisation since the previous sample, in thousandths. */
static uint32_t jal_util_milli(struct jal_device *dev)
{
	uint64_t now = jal_now(dev), busy = jal_busy_ns(dev, now);
	uint64_t span = now - dev->sample_at_ns;

	if (span >= JAL_TELEMETRY_SAMPLE_NS) {
		uint64_t used = busy - dev->sample_busy_ns;

		dev->util_milli = used >= span ? 1000 :
				  (uint32_t)(used * 1000 / span);
		dev->sample_at_ns = now;
		dev->sample_busy_ns = busy;
	}
	return dev->util_milli;
}

static bool jal_telemetry_read(struct jal_device *dev, uint32_t off,
			       uint32_t *val)
{
	uint64_t busy;

	switch (off) {
	case JAL_REG_BUSY_NS_LO:
		busy = jal_busy_ns(dev, jal_now(dev));
		dev->busy_hi = (uint32_t)(busy >> 32);
		*val = (uint32_t)busy;
		return true;
	case JAL_REG_BUSY_NS_HI:
		*val = dev->busy_hi;
		return true;
	case JAL_REG_CLOCK_MHZ:
		*val = JAL_CLOCK_MHZ;
		return true;
	case JAL_REG_TEMP_MC:
		*val = JAL_TEMP_IDLE_MC + JAL_TEMP_SPAN_MC / 1000 * jal_util_milli(dev);
		return true;
	case JAL_REG_POWER_MW:
		*val = JAL_POWER_IDLE_MW + JAL_POWER_SPAN_MW / 1000 * jal_util_milli(dev);
		return true;
	}
	return false;
}

static uint32_t jal_reg_read(struct jal_device *dev, uint32_t off, bool *ok)
{
	uint32_t telemetry;
	uint64_t now;

	if (jal_is_inject_reg(dev, off))
		return jal_inject_read(dev, off);
	if (jal_telemetry_read(dev, off, &telemetry))
		return telemetry;
	if (off >= JAL_REG_QUEUE_BASE &&
	    off < JAL_REG_Q(JAL_NUM_QUEUES, 0))
		return jal_queue_read(dev, (off - JAL_REG_QUEUE_BASE) /
				      JAL_QUEUE_STRIDE,
				      (off - JAL_REG_QUEUE_BASE) %
				      JAL_QUEUE_STRIDE, ok);
	if (off >= JAL_REG_DOORBELL_BASE &&
	    off < JAL_REG_DOORBELL(JAL_NUM_QUEUES) && !(off & 7))
		return 0;	/* write-only */

	switch (off) {
	case JAL_REG_ID:
		return JAL_ID_MAGIC;
	case JAL_REG_VERSION:
		return JAL_VERSION_MAJOR << 16 | JAL_VERSION_MINOR;
	case JAL_REG_CAPS:
		return JAL_CAP_DMA | JAL_CAP_COMPUTE_F32 | JAL_CAP_TIMESTAMP |
		       JAL_CAP_MSIX | JAL_CAP_LLM | JAL_CAP_TELEMETRY | JAL_CAP_Q4 |
		       (dev->vram_size ? JAL_CAP_VRAM : 0) |
		       (dev->inject_enabled ? JAL_CAP_FAULT_INJECT : 0);
	case JAL_REG_NUM_QUEUES:
		return JAL_NUM_QUEUES;
	case JAL_REG_NUM_CONTEXTS:
		return JAL_NUM_CONTEXTS;
	case JAL_REG_VA_BITS:
		return JAL_VA_BITS;
	case JAL_REG_MAX_CMDBUF:
		return JAL_MAX_CMDBUF_SIZE;
	case JAL_REG_MAX_CODE:
		return JAL_MAX_CODE_SIZE;
	case JAL_REG_DEV_CTRL:
		return dev->dev_ctrl;
	case JAL_REG_DEV_STATUS:
		return JAL_DEV_STATUS_READY |
		       (dev->running_queue != JAL_NO_QUEUE ?
			JAL_DEV_STATUS_BUSY : 0) |
		       (dev->fatal ? JAL_DEV_STATUS_FATAL : 0);
	case JAL_REG_IRQ_STATUS:
		return dev->irq_status;
	case JAL_REG_IRQ_MASK:
		return dev->irq_mask;
	case JAL_REG_STEP_LIMIT_LO:
		return (uint32_t)dev->step_limit;
	case JAL_REG_STEP_LIMIT_HI:
		return (uint32_t)(dev->step_limit >> 32);
	case JAL_REG_TIMESTAMP_LO:
		now = jal_now(dev);
		dev->timestamp_hi = (uint32_t)(now >> 32);
		return (uint32_t)now;
	case JAL_REG_TIMESTAMP_HI:
		return dev->timestamp_hi;
	case JAL_REG_VRAM_SIZE_LO:
		return (uint32_t)dev->vram_size;
	case JAL_REG_VRAM_SIZE_HI:
		return (uint32_t)(dev->vram_size >> 32);
	case JAL_REG_CTX_TABLE_LO:
		return (uint32_t)dev->ctx_table;
	case JAL_REG_CTX_TABLE_HI:
		return (uint32_t)(dev->ctx_table >> 32);
	case JAL_REG_MMU_INVALIDATE:
	case JAL_REG_FAULT_ACK:
		return 0;	/* write-only */
	case JAL_REG_FAULT_STATUS:
		return dev->fault.status;
	case JAL_REG_FAULT_CTX:
		return dev->fault.ctx;
	case JAL_REG_FAULT_QUEUE:
		return dev->fault.queue;
	case JAL_REG_FAULT_REASON:
		return dev->fault.reason;
	case JAL_REG_FAULT_ADDR_LO:
		return (uint32_t)dev->fault.addr;
	case JAL_REG_FAULT_ADDR_HI:
		return (uint32_t)(dev->fault.addr >> 32);
	case JAL_REG_FAULT_COUNT:
		return dev->fault.count;
	}
	*ok = false;
	return 0;
}

uint64_t jal_mmio_read(struct jal_device *dev, uint64_t offset,
		       unsigned int size)
{
	bool ok = true;
	uint32_t val;

	if (size != 4 || (offset & 3) || offset >= JAL_BAR_REGS_SIZE) {
		jal_log(dev, "bad register read: offset 0x%llx size %u",
			(unsigned long long)offset, size);
		return 0;
	}
	jal_lock(dev);
	val = jal_reg_read(dev, (uint32_t)offset, &ok);
	jal_unlock(dev);
	if (!ok)
		jal_log(dev, "read of undefined register 0x%llx",
			(unsigned long long)offset);
	return val;
}

static void jal_work_added(struct jal_device *dev)
{
	pthread_cond_signal(&dev->work_cond);
}

static bool jal_queue_write(struct jal_device *dev, unsigned int qi,
			    uint32_t reg, uint32_t val)
{
	struct jal_queue *q = &dev->queue[qi];

	switch (reg) {
	case JAL_Q_RING_LO:
		q->ring_lo = val;
		return true;
	case JAL_Q_RING_HI:
		q->ring = (uint64_t)val << 32 | q->ring_lo;
		return true;
	case JAL_Q_RING_SIZE:
		q->ring_size = val;
		if (!val || val > JAL_RING_SIZE_MAX || (val & (val - 1)))
			jal_log(dev, "queue %u: ring size %u is not a power of 2 in 1..%u",
				qi, val, JAL_RING_SIZE_MAX);
		return true;
	case JAL_Q_TAIL:
		q->tail = val;
		jal_work_added(dev);
		return true;
	case JAL_Q_CTRL:
		if (val & ~(JAL_Q_CTRL_ENABLE | JAL_Q_CTRL_RESET))
			jal_log(dev, "queue %u: undefined CTRL bits 0x%x", qi, val);
		if (val & JAL_Q_CTRL_RESET) {
			jal_queue_reset_locked(dev, qi);
			return true;
		}
		q->ctrl = val & JAL_Q_CTRL_ENABLE;
		jal_work_added(dev);
		return true;
	case JAL_Q_PRIORITY:
		if (val > JAL_QUEUE_PRIORITY_MAX) {
			jal_log(dev, "queue %u: priority %u > %u ignored", qi, val,
				JAL_QUEUE_PRIORITY_MAX);
			return true;
		}
		q->priority = val;
		jal_work_added(dev);
		return true;
	case JAL_Q_COMPL_LO:
		q->compl_lo = val;
		return true;
	case JAL_Q_COMPL_HI:
		q->compl = (uint64_t)val << 32 | q->compl_lo;
		return true;
	}
	return false;
}

static void jal_irq_mask_write(struct jal_device *dev, uint32_t val)
{
	uint32_t unmasked = dev->irq_mask & ~val;

	if (val & ~JAL_IRQ_VALID_MASK)
		jal_log(dev, "undefined IRQ_MASK bits 0x%x", val);
	dev->irq_mask = val & JAL_IRQ_VALID_MASK;
	/* Events that arrived while masked are signalled on unmask. */
	jal_irq_raise(dev, unmasked & dev->irq_status);
}

/*
 * Writing KIND (re)starts injection: the countdown is loaded from AFTER as
 * it is now, FIRED is cleared. An unknown kind is taken as OFF.
 */
static void jal_inject_kind_write(struct jal_device *dev, uint32_t val)
{
	struct jal_inject *in = &dev->inject;

	if (val >= JAL_INJECT_COUNT) {
		jal_log(dev, "unknown INJECT_KIND %u: injection off", val);
		val = JAL_INJECT_OFF;
	}
	in->kind = val;
	in->countdown = in->after;
	in->fired = 0;
	in->armed = val != JAL_INJECT_OFF;
}

static void jal_inject_write(struct jal_device *dev, uint32_t off,
			     uint32_t val)
{
	struct jal_inject *in = &dev->inject;

	switch (off) {
	case JAL_REG_INJECT_KIND:
		jal_inject_kind_write(dev, val);
		return;
	case JAL_REG_INJECT_QUEUE:
		if (val >= JAL_NUM_QUEUES && val != JAL_INJECT_ANY_QUEUE) {
			jal_log(dev, "INJECT_QUEUE %u (not < %u or ANY) ignored",
				val, JAL_NUM_QUEUES);
			return;
		}
		in->queue = val;
		return;
	case JAL_REG_INJECT_AFTER:
		in->after = val;
		return;
	case JAL_REG_INJECT_PERIOD:
		in->period = val;
		return;
	}
	jal_log(dev, "write 0x%x to read-only register 0x%x ignored", val, off);
}

static bool jal_reg_write(struct jal_device *dev, uint32_t off, uint32_t val)
{
	if (jal_is_inject_reg(dev, off)) {
		jal_inject_write(dev, off, val);
		return true;
	}
	if (off >= JAL_REG_QUEUE_BASE && off < JAL_REG_Q(JAL_NUM_QUEUES, 0))
		return jal_queue_write(dev, (off - JAL_REG_QUEUE_BASE) /
				       JAL_QUEUE_STRIDE,
				       (off - JAL_REG_QUEUE_BASE) %
				       JAL_QUEUE_STRIDE, val);
	if (off >= JAL_REG_DOORBELL_BASE &&
	    off < JAL_REG_DOORBELL(JAL_NUM_QUEUES) && !(off & 7)) {
		dev->queue[(off - JAL_REG_DOORBELL_BASE) / 8].tail = val;
		jal_work_added(dev);
		return true;
	}

	switch (off) {
	case JAL_REG_DEV_CTRL:
		if (val & ~(JAL_DEV_CTRL_ENABLE | JAL_DEV_CTRL_RESET))
			jal_log(dev, "undefined DEV_CTRL bits 0x%x", val);
		if (val & JAL_DEV_CTRL_RESET) {
			jal_device_reset_locked(dev);
			return true;
		}
		dev->dev_ctrl = val & JAL_DEV_CTRL_ENABLE;
		jal_work_added(dev);
		return true;
	case JAL_REG_IRQ_STATUS:
		dev->irq_status &= ~val;
		return true;
	case JAL_REG_IRQ_MASK:
		jal_irq_mask_write(dev, val);
		return true;
	case JAL_REG_STEP_LIMIT_LO:
		dev->step_limit_lo = val;
		return true;
	case JAL_REG_STEP_LIMIT_HI:
		dev->step_limit = (uint64_t)val << 32 | dev->step_limit_lo;
		return true;
	case JAL_REG_CTX_TABLE_LO:
		dev->ctx_table_lo = val;
		return true;
	case JAL_REG_CTX_TABLE_HI:
		dev->ctx_table = (uint64_t)val << 32 | dev->ctx_table_lo;
		if (dev->ctx_table & JAL_PAGE_MASK)
			jal_log(dev, "context table 0x%llx is not 4 KiB aligned",
				(unsigned long long)dev->ctx_table);
		jal_mmu_invalidate(dev);
		return true;
	case JAL_REG_MMU_INVALIDATE:
		if (val >= JAL_NUM_CONTEXTS && val != JAL_MMU_INVALIDATE_ALL)
			jal_log(dev, "MMU_INVALIDATE of context %u (not < %u)",
				val, JAL_NUM_CONTEXTS);
		/*
		 * Invalidating a context drops the whole cache: cheap and
		 * never stale.
		 */
		jal_mmu_invalidate(dev);
		return true;
	case JAL_REG_FAULT_ACK:
		memset(&dev->fault, 0, sizeof(dev->fault));
		return true;
	case JAL_REG_ID:
	case JAL_REG_VERSION:
	case JAL_REG_CAPS:
	case JAL_REG_NUM_QUEUES:
	case JAL_REG_NUM_CONTEXTS:
	case JAL_REG_VA_BITS:
	case JAL_REG_MAX_CMDBUF:
	case JAL_REG_MAX_CODE:
	case JAL_REG_DEV_STATUS:
	case JAL_REG_TIMESTAMP_LO:
	case JAL_REG_TIMESTAMP_HI:
	case JAL_REG_VRAM_SIZE_LO:
	case JAL_REG_VRAM_SIZE_HI:
	case JAL_REG_FAULT_STATUS:
	case JAL_REG_FAULT_CTX:
	case JAL_REG_FAULT_QUEUE:
	case JAL_REG_FAULT_REASON:
	case JAL_REG_FAULT_ADDR_LO:
	case JAL_REG_FAULT_ADDR_HI:
	case JAL_REG_FAULT_COUNT:
		jal_log(dev, "write 0x%x to read-only register 0x%x ignored",
			val, off);
		return true;
	}
	return false;
}

void jal_mmio_write(struct jal_device *dev, uint64_t offset, uint64_t value,
		    unsigned int size)
{
	bool ok;

	if (size != 4 || (offset & 3) || offset >= JAL_BAR_REGS_SIZE) {
		jal_log(dev, "bad register write: offset 0x%llx size %u value 0x%llx",
			(unsigned long long)offset, size,
			(unsigned long long)value);
		return;
	}
	jal_lock(dev);
	ok = jal_reg_write(dev, (uint32_t)offset, (uint32_t)value);
	jal_unlock(dev);
	if (!ok)
		jal_log(dev, "write 0x%x to undefined register 0x%llx ignored",
			(uint32_t)value, (unsigned long long)offset);
}
