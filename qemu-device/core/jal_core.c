// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: device lifetime, locking and host services.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* pthread_setname_np */
#endif
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "jal_internal.h"

static const char *const jal_status_names[JAL_STATUS_COUNT] = {
	[JAL_STATUS_OK] = "OK",
	[JAL_STATUS_BAD_DESC] = "BAD_DESC",
	[JAL_STATUS_BAD_CTX] = "BAD_CTX",
	[JAL_STATUS_MMU_UNMAPPED] = "MMU_UNMAPPED",
	[JAL_STATUS_MMU_PERM] = "MMU_PERM",
	[JAL_STATUS_BAD_CMD] = "BAD_CMD",
	[JAL_STATUS_BAD_INSN] = "BAD_INSN",
	[JAL_STATUS_STEP_LIMIT] = "STEP_LIMIT",
	[JAL_STATUS_ABORTED] = "ABORTED",
	[JAL_STATUS_BUS_ERROR] = "BUS_ERROR",
};

const char *jal_status_name(enum jal_status status)
{
	if ((unsigned int)status < JAL_STATUS_COUNT)
		return jal_status_names[status];
	return "?";
}

void jal_log(struct jal_device *dev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (!dev->ops->log_guest_error)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dev->ops->log_guest_error(dev->opaque, "jalapeno: %s\n", msg);
}

void jal_lock(struct jal_device *dev)
{
	pthread_mutex_lock(&dev->lock);
}

/*
 * Drop the lock, then signal the interrupt vectors raised while it was
 * held: the binding may need its own locks (the BQL) to deliver them, and
 * a vCPU holding those may be waiting for ours.
 */
void jal_unlock(struct jal_device *dev)
{
	uint32_t vectors = dev->irq_pending;
	unsigned int v;

	dev->irq_pending = 0;
	pthread_mutex_unlock(&dev->lock);
	for (v = 0; vectors; v++, vectors >>= 1)
		if ((vectors & 1) && dev->ops->raise_irq)
			dev->ops->raise_irq(dev->opaque, v);
}

int jal_dma_read(struct jal_device *dev, uint64_t pa, void *buf, size_t len)
{
	if (!len)
		return 0;
	if (pa + len < pa)
		return -1;
	return dev->ops->dma_read(dev->opaque, pa, buf, len) < 0 ? -1 : 0;
}

int jal_dma_write(struct jal_device *dev, uint64_t pa, const void *buf,
		  size_t len)
{
	if (!len)
		return 0;
	if (pa + len < pa)
		return -1;
	return dev->ops->dma_write(dev->opaque, pa, buf, len) < 0 ? -1 : 0;
}

uint64_t jal_now(struct jal_device *dev)
{
	return dev->ops->now_ns ? dev->ops->now_ns(dev->opaque) : 0;
}

static void jal_worker_free(struct jal_worker *w)
{
	unsigned int i;

	free(w->dma_buf);
	free(w->code);
	for (i = 0; i < 3; i++)
		free(w->vec[i]);
	free(w->xbuf);
	free(w->scratch);
}

static int jal_worker_alloc(struct jal_worker *w)
{
	unsigned int i;

	w->dma_buf = malloc(JAL_DMA_CHUNK);
	w->code = malloc(JAL_MAX_CODE_SIZE);
	for (i = 0; i < 3; i++)
		w->vec[i] = malloc(JAL_VEC_CHUNK * sizeof(float));
	w->xbuf = malloc(JAL_XBUF_ELEMS * sizeof(float));
	w->scratch = malloc(JAL_SCRATCH_ELEMS * sizeof(float));
	if (!w->dma_buf || !w->code || !w->vec[0] || !w->vec[1] ||
	    !w->vec[2] || !w->xbuf || !w->scratch) {
		jal_worker_free(w);
		return -1;
	}
	return 0;
}

struct jal_device *jal_device_create(const struct jal_platform_ops *ops,
				     void *opaque)
{
	struct jal_device *dev;
	sigset_t all, old;
	int err;

	if (!ops || !ops->dma_read || !ops->dma_write) {
		errno = EINVAL;
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->ops = ops;
	dev->opaque = opaque;
	if (jal_worker_alloc(&dev->worker)) {
		free(dev);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&dev->lock, NULL);
	pthread_cond_init(&dev->work_cond, NULL);
	pthread_cond_init(&dev->idle_cond, NULL);
	atomic_init(&dev->abort, false);
	atomic_init(&dev->mmu_gen, 0);
	dev->running_queue = JAL_NO_QUEUE;
	jal_regs_reset(dev);

	/*
	 * The worker must not take the host's signals (QEMU's threads block
	 * them all); it inherits the mask in force at creation.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&dev->thread, NULL, jal_worker_main, dev);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_cond_destroy(&dev->idle_cond);
		pthread_cond_destroy(&dev->work_cond);
		pthread_mutex_destroy(&dev->lock);
		jal_worker_free(&dev->worker);
		free(dev);
		errno = err;
		return NULL;
	}
#ifdef __linux__
	pthread_setname_np(dev->thread, "jalapeno");
#endif
	return dev;
}

void jal_device_destroy(struct jal_device *dev)
{
	if (!dev)
		return;
	jal_lock(dev);
	dev->stopping = true;
	atomic_store(&dev->abort, true);
	pthread_cond_broadcast(&dev->work_cond);
	pthread_mutex_unlock(&dev->lock);
	pthread_join(dev->thread, NULL);

	pthread_cond_destroy(&dev->idle_cond);
	pthread_cond_destroy(&dev->work_cond);
	pthread_mutex_destroy(&dev->lock);
	jal_worker_free(&dev->worker);
	free(dev);
}

void jal_device_reset(struct jal_device *dev)
{
	jal_lock(dev);
	jal_device_reset_locked(dev);
	jal_unlock(dev);
}

bool jal_irq_asserted(struct jal_device *dev)
{
	bool level;

	jal_lock(dev);
	level = (dev->irq_status & ~dev->irq_mask) != 0;
	pthread_mutex_unlock(&dev->lock);
	return level;
}
