// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: hardware queues and the worker thread.
 *
 * The worker runs one job at a time. It picks, among the queues that are
 * enabled and have descriptors between HEAD and TAIL, the one with the
 * highest JAL_Q_PRIORITY (round-robin among equal priorities), reads the
 * descriptor at HEAD, runs it without the lock, and then, under the lock,
 * writes back the result, the completion record, HEAD/COMPLETED and the
 * interrupts. A reset that hits the running job sets dev->abort and waits
 * on idle_cond until the worker has let go of the job; an aborted job is
 * dropped without any writeback.
 *
 * Fault injection (JAL_REG_INJECT_*) is decided when a job has finished
 * executing, just before its write-back, so that every kind hits exactly
 * the descriptor the countdown picked.
 */
#include <stdlib.h>

#include "jal_internal.h"

void jal_queue_regs_reset(struct jal_queue *q)
{
	q->head = 0;
	q->tail = 0;
	q->ctrl = 0;
	q->error = false;
	q->completed = 0;
}

static bool jal_ring_size_valid(uint32_t size)
{
	return size && size <= JAL_RING_SIZE_MAX && !(size & (size - 1));
}

static bool jal_queue_has_work(const struct jal_device *dev,
			       const struct jal_queue *q)
{
	return (dev->dev_ctrl & JAL_DEV_CTRL_ENABLE) && !dev->fatal &&
	       (q->ctrl & JAL_Q_CTRL_ENABLE) && !q->error &&
	       q->head != q->tail;
}

bool jal_queue_idle_locked(const struct jal_device *dev, unsigned int q)
{
	return dev->running_queue != (int)q &&
	       !jal_queue_has_work(dev, &dev->queue[q]);
}

/* A queue whose ring cannot be used stops until it is reset. */
static void jal_queue_fail(struct jal_device *dev, unsigned int qi,
			   enum jal_status reason, uint64_t addr,
			   const char *why)
{
	dev->queue[qi].error = true;
	jal_log(dev, "queue %u stopped: %s (address 0x%llx)", qi, why,
		(unsigned long long)addr);
	jal_fault_report(dev, JAL_FAULT_CTX_NONE, qi, reason, addr, false);
}

static int jal_pick_queue(struct jal_device *dev)
{
	int prio;
	unsigned int i;

	for (prio = JAL_QUEUE_PRIORITY_MAX; prio >= 0; prio--) {
		for (i = 1; i <= JAL_NUM_QUEUES; i++) {
			unsigned int qi = (dev->rr_last[prio] + i) % JAL_NUM_QUEUES;
			struct jal_queue *q = &dev->queue[qi];

			if (q->priority != (unsigned int)prio ||
			    !jal_queue_has_work(dev, q))
				continue;
			if (!jal_ring_size_valid(q->ring_size) ||
			    q->head >= q->ring_size || q->tail >= q->ring_size) {
				jal_queue_fail(dev, qi, JAL_STATUS_BAD_DESC, q->ring,
					       "bad ring size or tail");
				continue;
			}
			dev->rr_last[prio] = qi;
			return (int)qi;
		}
	}
	return JAL_NO_QUEUE;
}

static void jal_desc_from_le(struct jal_desc *d)
{
	d->ctx_id = jal_le32(d->ctx_id);
	d->flags = jal_le32(d->flags);
	d->seqno = jal_le64(d->seqno);
	d->cmdbuf_va = jal_le64(d->cmdbuf_va);
	d->cmdbuf_size = jal_le32(d->cmdbuf_size);
	d->reserved0 = jal_le32(d->reserved0);
	d->reserved1[0] = jal_le64(d->reserved1[0]);
	d->reserved1[1] = jal_le64(d->reserved1[1]);
}

/* The part of struct jal_desc the device writes back. */
struct jal_desc_result {
	uint32_t status;
	uint32_t error_offset;
	uint64_t fault_addr;
};

/* A seqno the driver never issued, for JAL_INJECT_BAD_COMPL. */
#define JAL_INJECT_SEQNO_SKEW	(1ull << 40)

/* The descriptor's interrupt, as fault injection wants it. */
static void jal_complete_irq(struct jal_device *dev, unsigned int qi,
			     enum jal_inject_kind inject)
{
	if (inject == JAL_INJECT_DROP_IRQ)
		return;
	if (inject == JAL_INJECT_DUP_IRQ)
		jal_irq_raise_twice(dev, JAL_IRQ_QUEUE(qi));
	else
		jal_irq_raise(dev, JAL_IRQ_QUEUE(qi));
}

static void jal_complete(struct jal_device *dev, unsigned int qi,
			 uint64_t desc_pa, uint32_t next_head,
			 const struct jal_desc *desc, const struct jal_job *job,
			 enum jal_status st, enum jal_inject_kind inject)
{
	struct jal_queue *q = &dev->queue[qi];
	struct jal_desc_result res = {
		.status = jal_le32(st),
		.error_offset = jal_le32(st ? job->error_offset : 0),
		.fault_addr = jal_le64(st ? job->fault_addr : 0),
	};
	struct jal_completion rec = {
		.seqno = jal_le64(desc->seqno +
				  (inject == JAL_INJECT_BAD_COMPL ?
				   JAL_INJECT_SEQNO_SKEW : 0)),
		.head = jal_le32(next_head),
	};
	uint64_t res_pa = desc_pa + offsetof(struct jal_desc, status);

	if (jal_dma_write(dev, res_pa, &res, sizeof(res))) {
		jal_queue_fail(dev, qi, JAL_STATUS_BUS_ERROR, res_pa,
			       "cannot write back descriptor");
		return;
	}
	if (q->compl && jal_dma_write(dev, q->compl, &rec, sizeof(rec))) {
		jal_queue_fail(dev, qi, JAL_STATUS_BUS_ERROR, q->compl,
			       "cannot write completion record");
		return;
	}
	q->head = next_head;
	q->completed = (uint32_t)desc->seqno;
	if (desc->flags & JAL_DESC_F_IRQ)
		jal_complete_irq(dev, qi, inject);
	if (st != JAL_STATUS_OK)
		jal_fault_report(dev, job->ctx_id, qi, st, job->fault_addr,
				 job->fault_write);
}

static const char *const jal_inject_names[JAL_INJECT_COUNT] = {
	[JAL_INJECT_OFF] = "off",
	[JAL_INJECT_HANG] = "hang",
	[JAL_INJECT_DROP_IRQ] = "dropped interrupt",
	[JAL_INJECT_DUP_IRQ] = "duplicated interrupt",
	[JAL_INJECT_BAD_COMPL] = "bad completion record",
	[JAL_INJECT_FATAL] = "fatal error",
};

/*
 * Count down one descriptor finished on queue @qi: the fault to inject
 * into it, or JAL_INJECT_OFF. The one that finds the countdown at 0 gets
 * the fault; then the countdown restarts from PERIOD, or injection stops.
 */
static enum jal_inject_kind jal_inject_take(struct jal_device *dev,
					    unsigned int qi, uint64_t seqno)
{
	struct jal_inject *in = &dev->inject;

	if (!in->armed ||
	    (in->queue != JAL_INJECT_ANY_QUEUE && in->queue != qi))
		return JAL_INJECT_OFF;
	if (in->countdown) {
		in->countdown--;
		return JAL_INJECT_OFF;
	}
	in->countdown = in->period;
	in->armed = in->period != 0;
	if (in->fired != UINT32_MAX)
		in->fired++;
	jal_log(dev, "injected %s into queue %u seqno %llu (fault %u)",
		jal_inject_names[in->kind], qi, (unsigned long long)seqno,
		in->fired);
	return (enum jal_inject_kind)in->kind;
}

/*
 * JAL_INJECT_HANG: hold on to the job, as "running", until a device reset
 * (or the device's destruction) sets dev->abort; a queue reset leaves it
 * alone. The job is then dropped like any aborted job. Waits without the
 * lock, on work_cond, which resets broadcast.
 */
static void jal_hang(struct jal_device *dev)
{
	dev->hung = true;
	while (!atomic_load(&dev->abort) && !dev->stopping)
		pthread_cond_wait(&dev->work_cond, &dev->lock);
	dev->hung = false;
}

/*
 * JAL_INJECT_FATAL: the job is not finished and the chip stops (no queue
 * runs) until a device reset.
 */
static void jal_go_fatal(struct jal_device *dev, const struct jal_job *job)
{
	dev->fatal = true;
	jal_fault_report(dev, job->ctx_id, job->queue, JAL_STATUS_ABORTED, 0,
			 false);
}

/* Write back a job that ran to its end, unless a fault replaces that. */
static void jal_finish(struct jal_device *dev, unsigned int qi,
		       uint64_t desc_pa, uint32_t next_head,
		       const struct jal_desc *desc, const struct jal_job *job,
		       enum jal_status st)
{
	enum jal_inject_kind inject = jal_inject_take(dev, qi, desc->seqno);

	if (inject == JAL_INJECT_HANG)
		jal_hang(dev);
	else if (inject == JAL_INJECT_FATAL)
		jal_go_fatal(dev, job);
	else
		jal_complete(dev, qi, desc_pa, next_head, desc, job, st,
			     inject);
}

/* Called and returns with the lock held; drops it while the job runs. */
static void jal_run_one(struct jal_device *dev, unsigned int qi)
{
	struct jal_queue *q = &dev->queue[qi];
	uint64_t desc_pa = q->ring + (uint64_t)q->head * sizeof(struct jal_desc);
	uint32_t next_head = (q->head + 1) & (q->ring_size - 1);
	struct jal_job job = { 0 };
	struct jal_desc desc;
	enum jal_status st;

	if (jal_dma_read(dev, desc_pa, &desc, sizeof(desc))) {
		jal_queue_fail(dev, qi, JAL_STATUS_BUS_ERROR, desc_pa,
			       "cannot read descriptor");
		return;
	}
	jal_desc_from_le(&desc);

	dev->running_queue = (int)qi;
	dev->job_start_ns = jal_now(dev);
	dev->job_seq++;
	atomic_store(&dev->abort, false);
	job.dev = dev;
	job.w = &dev->worker;
	job.queue = qi;
	job.ctx_table = dev->ctx_table;
	job.step_limit = dev->step_limit;
	jal_unlock(dev);

	st = jal_job_run(&job, &desc);

	jal_lock(dev);
	dev->busy_ns += jal_now(dev) - dev->job_start_ns;
	/* A reset that took the job wants no writeback. */
	if (!atomic_load(&dev->abort))
		jal_finish(dev, qi, desc_pa, next_head, &desc, &job, st);
	dev->running_queue = JAL_NO_QUEUE;
	pthread_cond_broadcast(&dev->idle_cond);
}

void *jal_worker_main(void *arg)
{
	struct jal_device *dev = arg;
	int qi;

	if (dev->ops->worker_start)
		dev->ops->worker_start(dev->opaque);
	jal_lock(dev);
	while (!dev->stopping) {
		qi = jal_pick_queue(dev);
		if (qi == JAL_NO_QUEUE && !dev->irq_pending) {
			pthread_cond_wait(&dev->work_cond, &dev->lock);
			continue;
		}
		if (qi != JAL_NO_QUEUE)
			jal_run_one(dev, (unsigned int)qi);
		if (dev->irq_pending) {
			jal_unlock(dev);	/* delivers the interrupts */
			jal_lock(dev);
		}
	}
	jal_unlock(dev);
	if (dev->ops->worker_stop)
		dev->ops->worker_stop(dev->opaque);
	return NULL;
}

/*
 * Abort the running job, if any, and wait until the worker let go of it.
 * The lock is dropped while waiting; the job sequence number makes sure we
 * do not wait for a job the worker starts after dropping ours.
 */
void jal_abort_and_wait_locked(struct jal_device *dev)
{
	uint64_t seq = dev->job_seq;

	if (dev->running_queue == JAL_NO_QUEUE)
		return;
	atomic_store(&dev->abort, true);
	pthread_cond_broadcast(&dev->work_cond);	/* a hung worker */
	while (dev->running_queue != JAL_NO_QUEUE && dev->job_seq == seq)
		pthread_cond_wait(&dev->idle_cond, &dev->lock);
}

/*
 * A hung job (JAL_INJECT_HANG) survives a queue reset: the caller must
 * not wait for it, and the queue stays busy until a device reset.
 */
void jal_queue_reset_locked(struct jal_device *dev, unsigned int q)
{
	/* Disabled first, so the worker cannot pick the queue again. */
	jal_queue_regs_reset(&dev->queue[q]);
	if (dev->running_queue == (int)q && !dev->hung)
		jal_abort_and_wait_locked(dev);
}

void jal_device_reset_locked(struct jal_device *dev)
{
	jal_regs_reset(dev);
	dev->irq_pending = 0;	/* events from before the reset */
	dev->irq_again = 0;
	jal_abort_and_wait_locked(dev);
	/*
	 * Nothing touches device memory now: the worker waits for the lock
	 * before it picks the next job.
	 */
	jal_vram_clear(dev);
}
