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
#include <sys/mman.h>
#include <unistd.h>

#include "jal_internal.h"
#include "jal_kern.h"

#include "jalapeno_status.c.inc"

const char *jal_status_name(enum jal_status status)
{
	if ((unsigned int)status < JAL_STATUS_COUNT)
		return jal_status_info[status].name;
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
static void jal_signal_vectors(struct jal_device *dev, uint32_t vectors)
{
	unsigned int v;

	for (v = 0; vectors; v++, vectors >>= 1)
		if ((vectors & 1) && dev->ops->raise_irq)
			dev->ops->raise_irq(dev->opaque, v);
}

void jal_unlock(struct jal_device *dev)
{
	uint32_t vectors = dev->irq_pending, again = dev->irq_again;

	dev->irq_pending = 0;
	dev->irq_again = 0;
	pthread_mutex_unlock(&dev->lock);
	jal_signal_vectors(dev, vectors);
	jal_signal_vectors(dev, again);
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

static void jal_worker_free(struct jal_worker *w, unsigned int threads)
{
	unsigned int i;

	free(w->dma_buf);
	free(w->code);
	for (i = 0; i < 3; i++)
		free(w->vec[i]);
	free(w->xbuf);
	free(w->q8x);
	free(w->q8x_scales);
	free(w->q8x_bias);
	free(w->scratch);
	free(w->wbuf);
	free(w->abuf);
	free(w->xblk);
	free(w->obuf);
	free(w->sample_prob);
	free(w->sample_cand);
	for (i = 0; w->ts && i < threads; i++) {
		free(w->ts[i].panel);
		free(w->ts[i].att_q);
		free(w->ts[i].att_acc);
		free(w->ts[i].att_s);
	}
	free(w->ts);
	memset(w, 0, sizeof(*w));
}

/*
 * The buffers are allocated once, at their largest: the host only backs
 * the pages that get used.
 */
static int jal_worker_alloc(struct jal_worker *w, unsigned int threads)
{
	bool ok;
	unsigned int i;

	w->dma_buf = malloc(JAL_DMA_CHUNK);
	w->code = malloc(JAL_MAX_CODE_SIZE);
	for (i = 0; i < 3; i++)
		w->vec[i] = malloc(JAL_VEC_CHUNK * sizeof(float));
	w->xbuf = malloc(JAL_XBUF_ELEMS * sizeof(float));
	w->q8x = malloc(JAL_Q8X_BLK_ELEMS);
	w->q8x_scales = malloc(JAL_Q8X_BLK_ELEMS / 4 * sizeof(float));
	w->q8x_bias = malloc(JAL_Q8X_BLK_ELEMS / 4 * sizeof(int32_t));
	w->scratch = malloc(JAL_SCRATCH_ELEMS * sizeof(float));
	w->wbuf = malloc(JAL_WBUF_BYTES);
	w->abuf = malloc(JAL_ABUF_BYTES);
	w->xblk = malloc(JAL_XBLK_ELEMS * sizeof(float));
	w->obuf = malloc(JAL_OBUF_ELEMS * sizeof(float));
	w->ts = calloc(threads, sizeof(*w->ts));
	ok = w->dma_buf && w->code && w->vec[0] && w->vec[1] && w->vec[2] &&
	     w->xbuf && w->q8x && w->q8x_scales && w->q8x_bias && w->scratch && w->wbuf && w->abuf && w->xblk &&
	     w->obuf && w->ts;
	for (i = 0; ok && i < threads; i++) {
		struct jal_tscratch *t = &w->ts[i];

		t->panel = malloc(JAL_PANEL_ELEMS * sizeof(float));
		t->att_q = malloc(JAL_ATTENTION_MAX_HEAD_SIZE * sizeof(float));
		t->att_acc = malloc(JAL_ATTENTION_MAX_HEAD_SIZE * sizeof(float));
		t->att_s = malloc(JAL_ATT_SCORE_BLOCK * sizeof(float));
		ok = t->panel && t->att_q && t->att_acc && t->att_s;
	}
	if (!ok) {
		jal_worker_free(w, threads);
		return -1;
	}
	return 0;
}

void jal_device_config_default(struct jal_device_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vram_size = JAL_VRAM_SIZE_DEFAULT;
}

static unsigned int jal_default_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 1)
		cpus = 1;
	return (unsigned int)JAL_MIN(cpus, 4);
}

/*
 * Device memory is an anonymous private mapping: zero-filled, and host
 * memory is only committed for pages that get written. It is 2 MiB
 * aligned and asks for transparent huge pages, so that streaming a large
 * weight matrix does not miss the host TLB on every 4 KiB.
 */
static int jal_vram_alloc(struct jal_device *dev, uint64_t size)
{
	size_t len = (size_t)size + JAL_HUGE_PAGE_SIZE;
	uintptr_t aligned;
	void *p;

	dev->vram = NULL;
	dev->vram_map = NULL;
	dev->vram_size = 0;
	if (!size)
		return 0;
	if ((size_t)size != size || len < size)
		return -ENOMEM;
#ifdef MAP_NORESERVE
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
#else
	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
	if (p == MAP_FAILED)
		return -ENOMEM;
	aligned = ((uintptr_t)p + JAL_HUGE_MASK) & ~(uintptr_t)JAL_HUGE_MASK;
	dev->vram_map = p;
	dev->vram = (uint8_t *)aligned;
	dev->vram_size = size;
#ifdef MADV_HUGEPAGE
	madvise(dev->vram, (size_t)size, MADV_HUGEPAGE);	/* a hint only */
#endif
	return 0;
}

static void jal_vram_free(struct jal_device *dev)
{
	if (dev->vram_map)
		munmap(dev->vram_map, (size_t)dev->vram_size + JAL_HUGE_PAGE_SIZE);
	dev->vram = NULL;
	dev->vram_map = NULL;
}

/*
 * Back to the power-on contents (zeros). Dropping the pages is cheaper
 * than writing them and gives the memory back to the host.
 */
void jal_vram_clear(struct jal_device *dev)
{
	if (!dev->vram)
		return;
#ifdef MADV_DONTNEED
	if (!madvise(dev->vram, (size_t)dev->vram_size, MADV_DONTNEED))
		return;
#endif
	memset(dev->vram, 0, (size_t)dev->vram_size);
}

static int jal_config_check(const struct jal_device_config *cfg)
{
	if (cfg->vram_size % JAL_PAGE_SIZE || cfg->vram_size > JAL_VRAM_SIZE_MAX)
		return -EINVAL;
	if (cfg->compute_threads > JAL_COMPUTE_THREADS_MAX)
		return -EINVAL;
	return 0;
}

struct jal_device *jal_device_create(const struct jal_platform_ops *ops,
				     void *opaque,
				     const struct jal_device_config *cfg)
{
	struct jal_device_config defaults;
	struct jal_device *dev;
	sigset_t all, old;
	int err;

	if (!cfg) {
		jal_device_config_default(&defaults);
		cfg = &defaults;
	}
	if (!ops || !ops->dma_read || !ops->dma_write || jal_config_check(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->ops = ops;
	dev->opaque = opaque;
	dev->compute_threads = cfg->compute_threads ? cfg->compute_threads :
				jal_default_threads();
	dev->inject_enabled = cfg->fault_injection;
	dev->kern = jal_kernels_select(cfg->kernels);
	if (!dev->kern) {
		free(dev);
		errno = EINVAL;
		return NULL;
	}
	if (jal_vram_alloc(dev, cfg->vram_size)) {
		free(dev);
		errno = ENOMEM;
		return NULL;
	}
	if (jal_worker_alloc(&dev->worker, dev->compute_threads)) {
		jal_vram_free(dev);
		free(dev);
		errno = ENOMEM;
		return NULL;
	}
	err = jal_pool_init(&dev->pool, dev->compute_threads - 1);
	if (err) {
		jal_worker_free(&dev->worker, dev->compute_threads);
		jal_vram_free(dev);
		free(dev);
		errno = -err;
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
		jal_pool_fini(&dev->pool);
		jal_worker_free(&dev->worker, dev->compute_threads);
		jal_vram_free(dev);
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

	jal_pool_fini(&dev->pool);
	pthread_cond_destroy(&dev->idle_cond);
	pthread_cond_destroy(&dev->work_cond);
	pthread_mutex_destroy(&dev->lock);
	jal_worker_free(&dev->worker, dev->compute_threads);
	jal_vram_free(dev);
	free(dev);
}

void *jal_device_vram(struct jal_device *dev, uint64_t *size)
{
	if (size)
		*size = dev->vram_size;
	return dev->vram;
}

const char *jal_device_kernels(struct jal_device *dev)
{
	return dev->kern->name;
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
