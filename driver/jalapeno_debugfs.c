// SPDX-License-Identifier: GPL-2.0-only
/*
 * Jalapeño accelerator driver: the fault log and debugfs.
 *
 * debugfs files of a device, in /sys/kernel/debug/accel/<PCI address>/:
 *
 *   queues       each hardware queue: ring pointers, the completion
 *                record and every job on the ring
 *   contexts     each hardware context slot in use: owner, queue, state
 *   vms          each address space and its mappings
 *   faults       the last JAL_FAULT_LOG_ENTRIES failed jobs
 *   reset_queue  write a queue number: hand the queue to its scheduler's
 *                timeout handler, which resets it if a job is running
 *   reset_device write anything: reset the whole chip (jalapeno_job.c)
 *   inject       read: device resets and the fault-injection registers;
 *                write "KIND QUEUE AFTER PERIOD" (KIND off, hang,
 *                drop_irq, dup_irq, bad_compl or fatal; QUEUE -1 for
 *                any) to program them, on a chip with
 *                JAL_CAP_FAULT_INJECT
 *
 * They are for people and may change; tools use fdinfo and the uapi.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */

#include <linux/debugfs.h>
#include <linux/ktime.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>

#include "jalapeno_ctx.h"
#include "jalapeno_debugfs.h"
#include "jalapeno_drv.h"
#include "jalapeno_hw.h"
#include "jalapeno_job.h"
#include "jalapeno_mmu.h"

/**
 * jal_fault_log_add() - remember a failed job for the faults file
 * @jdev: device.
 * @ctx: the job's context.
 * @seqno: the job's per-context seqno.
 * @error: negative errno of its fence.
 * @hw_status: JAL_STATUS_*.
 * @addr: faulting VA, if any.
 * @offset: failing command's offset.
 *
 * Callable from any context.
 */
void jal_fault_log_add(struct jal_device *jdev, struct jal_ctx *ctx,
		       u64 seqno, int error, u32 hw_status, u64 addr,
		       u32 offset)
{
	struct jal_fault_log *log = &jdev->faults;
	struct jal_fault_entry *e;
	unsigned long flags;

	spin_lock_irqsave(&log->lock, flags);
	e = &log->entries[log->count++ % JAL_FAULT_LOG_ENTRIES];
	e->time_ns = ktime_get_ns();
	e->pid = ctx->pid;
	memcpy(e->comm, ctx->comm, sizeof(e->comm));
	e->ctx_id = ctx->id;
	e->hw_ctx = ctx->hw_id;
	e->queue = ctx->priority;
	e->seqno = seqno;
	e->error = error;
	e->hw_status = hw_status;
	e->addr = addr;
	e->offset = offset;
	spin_unlock_irqrestore(&log->lock, flags);
}

static int jal_debugfs_faults_show(struct seq_file *m, void *unused)
{
	struct jal_device *jdev = m->private;
	struct jal_fault_log *log = &jdev->faults;
	struct jal_fault_entry e;
	unsigned long flags;
	u64 count, i;

	spin_lock_irqsave(&log->lock, flags);
	count = log->count;
	spin_unlock_irqrestore(&log->lock, flags);
	seq_printf(m, "faults: %llu (the last %u kept)\n", count,
		   JAL_FAULT_LOG_ENTRIES);

	i = count > JAL_FAULT_LOG_ENTRIES ? count - JAL_FAULT_LOG_ENTRIES : 0;
	for (; i < count; i++) {
		spin_lock_irqsave(&log->lock, flags);
		if (log->count - i > JAL_FAULT_LOG_ENTRIES) {
			/* Overwritten meanwhile. */
			spin_unlock_irqrestore(&log->lock, flags);
			continue;
		}
		e = log->entries[i % JAL_FAULT_LOG_ENTRIES];
		spin_unlock_irqrestore(&log->lock, flags);
		seq_printf(m,
			   "%llu.%09llu pid %d [%s] ctx %u hw_ctx %u queue %u seqno %llu: error %d, %s (%u), VA 0x%llx, cmd offset %u\n",
			   e.time_ns / NSEC_PER_SEC, e.time_ns % NSEC_PER_SEC,
			   e.pid, e.comm, e.ctx_id, e.hw_ctx, e.queue, e.seqno,
			   e.error, jal_hw_status_name(e.hw_status), e.hw_status,
			   e.addr, e.offset);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(jal_debugfs_faults);

static int jal_debugfs_queues_show(struct seq_file *m, void *unused)
{
	struct jal_device *jdev = m->private;
	unsigned int i;
	int idx;

	if (!drm_dev_enter(&jdev->drm, &idx)) {
		seq_puts(m, "device unplugged\n");
		return 0;
	}
	for (i = 0; i < JAL_NUM_QUEUES; i++)
		jal_job_queue_describe(&jdev->queues[i], m);
	drm_dev_exit(idx);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(jal_debugfs_queues);

static int jal_debugfs_contexts_show(struct seq_file *m, void *unused)
{
	struct jal_device *jdev = m->private;
	unsigned int slot;

	seq_puts(m, "slot ctx   pid comm             queue state  submitted completed jobs\n");
	for (slot = 0; slot < jdev->num_contexts; slot++)
		jal_ctx_describe(jdev, slot, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(jal_debugfs_contexts);

static int jal_debugfs_vms_show(struct seq_file *m, void *unused)
{
	struct jal_device *jdev = m->private;
	struct jal_vm *vm;

	mutex_lock(&jdev->vms_lock);
	list_for_each_entry(vm, &jdev->vms, dev_link)
		jal_vm_describe(vm, m);
	mutex_unlock(&jdev->vms_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(jal_debugfs_vms);

static ssize_t jal_debugfs_reset_queue_write(struct file *file,
					     const char __user *buf,
					     size_t len, loff_t *pos)
{
	struct jal_device *jdev = file->private_data;
	unsigned int queue;
	int ret;

	ret = kstrtouint_from_user(buf, len, 0, &queue);
	if (ret)
		return ret;
	if (queue >= JAL_NUM_QUEUES)
		return -EINVAL;
	drm_sched_fault(&jdev->queues[queue].sched);
	return len;
}

static const struct file_operations jal_debugfs_reset_queue_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = jal_debugfs_reset_queue_write,
	.llseek = noop_llseek,
};

static ssize_t jal_debugfs_reset_device_write(struct file *file,
					      const char __user *buf,
					      size_t len, loff_t *pos)
{
	struct jal_device *jdev = file->private_data;

	jal_job_recover_device(jdev, -1, false, "requested through debugfs");
	return len;
}

static const struct file_operations jal_debugfs_reset_device_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = jal_debugfs_reset_device_write,
	.llseek = noop_llseek,
};

static const char * const jal_inject_names[JAL_INJECT_COUNT] = {
	[JAL_INJECT_OFF] = "off",
	[JAL_INJECT_HANG] = "hang",
	[JAL_INJECT_DROP_IRQ] = "drop_irq",
	[JAL_INJECT_DUP_IRQ] = "dup_irq",
	[JAL_INJECT_BAD_COMPL] = "bad_compl",
	[JAL_INJECT_FATAL] = "fatal",
};

static int jal_debugfs_inject_show(struct seq_file *m, void *unused)
{
	struct jal_device *jdev = m->private;
	u32 kind;
	int idx;

	seq_printf(m, "device resets: %u\n", READ_ONCE(jdev->device_resets));
	if (!(jdev->caps & JAL_CAP_FAULT_INJECT)) {
		seq_puts(m, "fault injection: not available\n");
		return 0;
	}
	if (!drm_dev_enter(&jdev->drm, &idx))
		return -ENODEV;
	kind = jal_rreg(jdev, JAL_REG_INJECT_KIND);
	seq_printf(m, "kind: %s\nqueue: %d\nafter: %u\nperiod: %u\nfired: %u\n",
		   kind < JAL_INJECT_COUNT ? jal_inject_names[kind] : "?",
		   (int)jal_rreg(jdev, JAL_REG_INJECT_QUEUE),
		   jal_rreg(jdev, JAL_REG_INJECT_AFTER),
		   jal_rreg(jdev, JAL_REG_INJECT_PERIOD),
		   jal_rreg(jdev, JAL_REG_INJECT_FIRED));
	drm_dev_exit(idx);
	return 0;
}

static int jal_debugfs_inject_open(struct inode *inode, struct file *file)
{
	return single_open(file, jal_debugfs_inject_show, inode->i_private);
}

/* "KIND QUEUE AFTER PERIOD", KIND by name; QUEUE -1 for any. */
static ssize_t jal_debugfs_inject_write(struct file *file,
					const char __user *ubuf, size_t len,
					loff_t *pos)
{
	struct jal_device *jdev = file_inode(file)->i_private;
	char buf[64], name[16];
	u32 after, period, kind;
	int queue, idx;

	if (!(jdev->caps & JAL_CAP_FAULT_INJECT))
		return -EOPNOTSUPP;
	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%15s %d %u %u", name, &queue, &after, &period) != 4)
		return -EINVAL;
	for (kind = 0; kind < JAL_INJECT_COUNT; kind++)
		if (!strcmp(name, jal_inject_names[kind]))
			break;
	if (kind == JAL_INJECT_COUNT || queue < -1 || queue >= JAL_NUM_QUEUES)
		return -EINVAL;

	if (!drm_dev_enter(&jdev->drm, &idx))
		return -ENODEV;
	jal_wreg(jdev, JAL_REG_INJECT_QUEUE, queue < 0 ? JAL_INJECT_ANY_QUEUE : queue);
	jal_wreg(jdev, JAL_REG_INJECT_AFTER, after);
	jal_wreg(jdev, JAL_REG_INJECT_PERIOD, period);
	jal_wreg(jdev, JAL_REG_INJECT_KIND, kind);
	drm_dev_exit(idx);
	return len;
}

static const struct file_operations jal_debugfs_inject_fops = {
	.owner = THIS_MODULE,
	.open = jal_debugfs_inject_open,
	.read = seq_read,
	.write = jal_debugfs_inject_write,
	.llseek = seq_lseek,
	.release = single_release,
};

/**
 * jal_debugfs_init() - create the device's debugfs files
 * @jdev: device, before drm_dev_register(); the DRM core removes the
 *	files with its debugfs directory when the DRM device is released.
 */
void jal_debugfs_init(struct jal_device *jdev)
{
	struct dentry *root = jdev->drm.debugfs_root;

	if (IS_ERR_OR_NULL(root))
		return;
	debugfs_create_file("queues", 0444, root, jdev,
			    &jal_debugfs_queues_fops);
	debugfs_create_file("contexts", 0444, root, jdev,
			    &jal_debugfs_contexts_fops);
	debugfs_create_file("vms", 0444, root, jdev, &jal_debugfs_vms_fops);
	debugfs_create_file("faults", 0444, root, jdev,
			    &jal_debugfs_faults_fops);
	debugfs_create_file("reset_queue", 0200, root, jdev,
			    &jal_debugfs_reset_queue_fops);
	debugfs_create_file("reset_device", 0200, root, jdev,
			    &jal_debugfs_reset_device_fops);
	debugfs_create_file("inject", 0600, root, jdev,
			    &jal_debugfs_inject_fops);
}
