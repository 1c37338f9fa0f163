// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: device coredumps of hung jobs.
 *
 * When the timeout handler resets a queue because of a job, it hands
 * devcoredump a text dump (/sys/class/devcoredump/devcdN/data, freed on
 * any write to it or after five minutes): why, the chip's registers as
 * they were before the reset, every queue's ring pointers, the job and
 * its context, and the job's command buffer as hex words.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/devcoredump.h>
#include <linux/iosys-map.h>
#include <linux/ktime.h>
#include <linux/seq_buf.h>
#include <linux/vmalloc.h>

#include <drm/drm_drv.h>
#include <drm/drm_gem.h>
#include <drm/drm_print.h>

#include "jalapeno_coredump.h"
#include "jalapeno_ctx.h"
#include "jalapeno_drv.h"
#include "jalapeno_gem.h"
#include "jalapeno_hw.h"
#include "jalapeno_job.h"
#include "jalapeno_vram.h"

static const struct {
	const char *name;
	u32 reg;
} jal_coredump_reg_names[JAL_COREDUMP_NUM_REGS] = {
	{ "VERSION", JAL_REG_VERSION },
	{ "CAPS", JAL_REG_CAPS },
	{ "DEV_CTRL", JAL_REG_DEV_CTRL },
	{ "DEV_STATUS", JAL_REG_DEV_STATUS },
	{ "IRQ_STATUS", JAL_REG_IRQ_STATUS },
	{ "IRQ_MASK", JAL_REG_IRQ_MASK },
	{ "STEP_LIMIT_LO", JAL_REG_STEP_LIMIT_LO },
	{ "STEP_LIMIT_HI", JAL_REG_STEP_LIMIT_HI },
	{ "CTX_TABLE_LO", JAL_REG_CTX_TABLE_LO },
	{ "CTX_TABLE_HI", JAL_REG_CTX_TABLE_HI },
	{ "FAULT_STATUS", JAL_REG_FAULT_STATUS },
	{ "FAULT_CTX", JAL_REG_FAULT_CTX },
	{ "FAULT_QUEUE", JAL_REG_FAULT_QUEUE },
	{ "FAULT_REASON", JAL_REG_FAULT_REASON },
	{ "FAULT_ADDR_LO", JAL_REG_FAULT_ADDR_LO },
	{ "FAULT_COUNT", JAL_REG_FAULT_COUNT },
};

/* Text besides the command buffer's hex words. */
#define JAL_COREDUMP_TEXT	8192

/**
 * jal_coredump_capture() - read the registers a coredump shows
 * @q: the hung queue; its lock is held and the caller is inside
 *	drm_dev_enter(), before the queue is reset.
 * @regs: out.
 */
void jal_coredump_capture(struct jal_queue *q, struct jal_coredump_regs *regs)
{
	struct jal_device *jdev = q->jdev;
	unsigned int i;

	lockdep_assert_held(&q->lock);

	for (i = 0; i < JAL_COREDUMP_NUM_REGS; i++)
		regs->global[i] = jal_rreg(jdev, jal_coredump_reg_names[i].reg);
	for (i = 0; i < JAL_NUM_QUEUES; i++) {
		struct jal_queue *qi = &jdev->queues[i];

		regs->q_head[i] = jal_qrreg(qi, JAL_Q_HEAD);
		regs->q_tail[i] = jal_qrreg(qi, JAL_Q_TAIL);
		regs->q_status[i] = jal_qrreg(qi, JAL_Q_STATUS);
		regs->q_compl[i] = jal_mem_rd64(&qi->compl->seqno);
	}
}

/* The BO of @job's list that holds its command buffer, or NULL. */
static struct drm_gem_object *jal_coredump_cmdbuf_bo(struct jal_job *job,
						     u64 *offset)
{
	u32 i;

	for (i = 0; i < job->bo_count; i++) {
		struct drm_gem_object *obj = job->bos[i];
		u64 start;

		/* Device memory cannot be read by the CPU. */
		if (!obj || jal_gem_is_vram_bo(obj))
			continue;
		start = to_jal_bo(obj)->mapping.node.start;
		if (job->cmdbuf_va >= start &&
		    job->cmdbuf_va + job->cmdbuf_size <= start + obj->size) {
			*offset = job->cmdbuf_va - start;
			return obj;
		}
	}
	return NULL;
}

static void jal_coredump_cmdbuf(struct seq_buf *s, struct jal_job *job)
{
	struct iosys_map map;
	struct drm_gem_object *obj;
	u64 offset = 0;
	u32 i, word;

	obj = jal_coredump_cmdbuf_bo(job, &offset);
	if (!obj || drm_gem_vmap_unlocked(obj, &map)) {
		seq_buf_puts(s, "command buffer: not in a host BO the job lists\n");
		return;
	}
	seq_buf_printf(s, "command buffer: %u bytes at 0x%llx\n",
		       job->cmdbuf_size, job->cmdbuf_va);
	for (i = 0; i < job->cmdbuf_size; i += 4) {
		iosys_map_memcpy_from(&word, &map, offset + i, sizeof(word));
		seq_buf_printf(s, "%s%08x", i % 32 ? " " : "  ", word);
		if (i % 32 == 28 || i + 4 == job->cmdbuf_size)
			seq_buf_putc(s, '\n');
	}
	drm_gem_vunmap_unlocked(obj, &map);
}

static void jal_coredump_state(struct seq_buf *s, struct jal_job *job,
			       const struct jal_coredump_regs *regs)
{
	struct jal_ctx *ctx = job->ctx;
	unsigned int i;

	seq_buf_puts(s, "registers:\n");
	for (i = 0; i < JAL_COREDUMP_NUM_REGS; i++)
		seq_buf_printf(s, "  %-14s 0x%08x\n",
			       jal_coredump_reg_names[i].name, regs->global[i]);
	for (i = 0; i < JAL_NUM_QUEUES; i++)
		seq_buf_printf(s, "queue %u: head %u tail %u status 0x%x completed %llu\n",
			       i, regs->q_head[i], regs->q_tail[i],
			       regs->q_status[i], regs->q_compl[i]);
	seq_buf_printf(s, "job: queue %u slot %u hw_seqno %llu seqno %llu, %u BOs\n",
		       job->queue->index, job->ring_index, job->hw_seqno,
		       job->seq.seqno, job->bo_count);
	seq_buf_printf(s, "context: %u (hw_ctx %u) of pid %d [%s], priority %u\n",
		       ctx->id, ctx->hw_id, ctx->pid, ctx->comm, ctx->priority);
}

/**
 * jal_coredump_job() - hand devcoredump a dump of a hung job
 * @job: the job; alive (the caller owns it until it is requeued).
 * @regs: the registers captured before the reset.
 * @reason: one line: why.
 *
 * Sleeps; called from the timeout handler after the queue lock was
 * dropped. Best effort: without memory there is no dump.
 */
void jal_coredump_job(struct jal_job *job,
		      const struct jal_coredump_regs *regs, const char *reason)
{
	struct jal_device *jdev = job->jdev;
	size_t size = JAL_COREDUMP_TEXT + job->cmdbuf_size / 4 * 9 + 64;
	struct timespec64 now;
	struct seq_buf s;
	char *buf;

	buf = vmalloc(size);
	if (!buf)
		return;
	seq_buf_init(&s, buf, size);
	ktime_get_real_ts64(&now);
	seq_buf_printf(&s, "Jalapeno coredump\nreason: %s\ntime: %lld.%09ld\n",
		       reason, (long long)now.tv_sec, now.tv_nsec);
	seq_buf_printf(&s, "driver: %s %d.%d, chip %04x:%04x\n",
		       JAL_DRIVER_NAME, JAL_DRIVER_MAJOR, JAL_DRIVER_MINOR,
		       jdev->pdev->vendor, jdev->pdev->device);
	jal_coredump_state(&s, job, regs);
	jal_coredump_cmdbuf(&s, job);

	dev_coredumpv(jdev->drm.dev, buf, seq_buf_used(&s), GFP_KERNEL);
}
