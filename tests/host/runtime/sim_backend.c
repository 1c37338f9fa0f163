// SPDX-License-Identifier: MIT
/*
 * libjalrt on the in-process chip model: a minimal driver. See
 * sim_backend.h.
 *
 * "Host physical memory" is one large anonymous mapping handed out by a
 * bump allocator (never reused: tests are short-lived); a host BO is a
 * contiguous run of it, so its mmap is just a pointer. Device memory is
 * handed out the same way, by offset. All contexts share one address
 * space, as the contexts of one DRM file do.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "jal_core.h"
#include "jalrt_internal.h"
#include "sim_backend.h"

#define SIM_MEM_SIZE		(8ull << 30)	/* reserved, touched on demand */
#define SIM_MAX_BOS		4096
#define SIM_MAX_SYNCOBJS	4096
#define SIM_RING		256u
#define SIM_PENDING		SIM_RING
#define SIM_VA_START		0x100000ull

struct sim_bo {
	bool live;
	uint32_t flags;
	uint64_t size;
	uint64_t va;
	uint64_t addr;		/* PA, or VRAM offset */
};

struct sim_ctx {
	bool live;
	uint32_t hw_id;
	unsigned int queue;
	struct drm_jalapeno_ctx_status st;	/* what CTX_STATUS reports */
};

struct sim_job {
	bool live;
	uint64_t desc_seqno;
	uint32_t slot;
	unsigned int ctx;	/* index in ctxs */
	uint64_t ctx_seqno;
};

struct sim_queue {
	uint64_t ring, compl;	/* PAs */
	uint32_t tail;
	uint64_t seqno;		/* last descriptor seqno handed out */
	uint64_t done;		/* last one reaped */
	struct sim_job jobs[SIM_PENDING];
};

struct sim_syncobj {
	bool live;
	bool has_job;
	unsigned int queue;
	uint64_t desc_seqno;
};

struct sim_dev {
	pthread_mutex_t lock;
	struct jal_device *chip;
	uint8_t *mem;
	uint64_t next_pa;
	uint64_t vram_size, vram_next;
	bool vram_bos;
	uint64_t ctx_table;
	uint64_t root;
	uint64_t next_va;
	struct sim_bo bos[SIM_MAX_BOS];		/* handle = index + 1 */
	struct sim_ctx ctxs[JAL_NUM_CONTEXTS];	/* ctx_id = index + 1 */
	struct sim_queue q[JAL_NUM_QUEUES];
	struct sim_syncobj syncobjs[SIM_MAX_SYNCOBJS];
};

static struct sim_dev *to_sim(struct jalrt_device *dev)
{
	return dev->backend_priv;
}

/* ---- platform ------------------------------------------------------------ */

static int sim_dma_read(void *opaque, uint64_t pa, void *buf, size_t len)
{
	struct sim_dev *s = opaque;

	if (pa >= SIM_MEM_SIZE || len > SIM_MEM_SIZE - pa)
		return -1;
	memcpy(buf, s->mem + pa, len);
	return 0;
}

static int sim_dma_write(void *opaque, uint64_t pa, const void *buf, size_t len)
{
	struct sim_dev *s = opaque;

	if (pa >= SIM_MEM_SIZE || len > SIM_MEM_SIZE - pa)
		return -1;
	memcpy(s->mem + pa, buf, len);
	return 0;
}

static void sim_raise_irq(void *opaque, unsigned int vector)
{
	(void)opaque;
	(void)vector;	/* completions are polled */
}

static uint64_t sim_now_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sim_log(void *opaque, const char *fmt, ...)
{
	va_list ap;

	(void)opaque;
	if (!getenv("JAL_SIM_VERBOSE"))
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static const struct jal_platform_ops sim_platform = {
	.dma_read = sim_dma_read,
	.dma_write = sim_dma_write,
	.raise_irq = sim_raise_irq,
	.now_ns = sim_now_ns,
	.log_guest_error = sim_log,
};

/* ---- memory and page tables ---------------------------------------------- */

static uint64_t pa_alloc(struct sim_dev *s, uint64_t bytes)
{
	uint64_t pa = s->next_pa;

	bytes = JALRT_ALIGN(bytes, JAL_PAGE_SIZE);
	if (bytes > SIM_MEM_SIZE - pa)
		return 0;
	s->next_pa += bytes;
	memset(s->mem + pa, 0, bytes);
	return pa;
}

static uint64_t *pte_slot(struct sim_dev *s, uint64_t va)
{
	uint64_t table = s->root;
	int level;

	for (level = 2; level > 0; level--) {
		uint64_t *e = (uint64_t *)(s->mem + table + ((va >> (12 + 9 * level)) & 511) * 8);

		if (!(*e & JAL_PTE_VALID)) {
			uint64_t pa = pa_alloc(s, JAL_PAGE_SIZE);

			if (!pa)
				return NULL;
			*e = pa | JAL_PTE_VALID;
		}
		table = *e & JAL_PTE_ADDR_MASK;
	}
	return (uint64_t *)(s->mem + table + ((va >> 12) & 511) * 8);
}

static int map_bo(struct sim_dev *s, const struct sim_bo *bo, bool map)
{
	uint64_t off, flags = JAL_PTE_VALID | JAL_PTE_READ;

	if (!(bo->flags & DRM_JALAPENO_BO_DEVICE_READONLY))
		flags |= JAL_PTE_WRITE;
	if (bo->flags & DRM_JALAPENO_BO_VRAM)
		flags |= JAL_PTE_VRAM;
	for (off = 0; off < bo->size; off += JAL_PAGE_SIZE) {
		uint64_t *pte = pte_slot(s, bo->va + off);

		if (!pte)
			return -ENOMEM;
		*pte = map ? ((bo->addr + off) & JAL_PTE_ADDR_MASK) | flags : 0;
	}
	if (!map)
		jal_mmio_write(s->chip, JAL_REG_MMU_INVALIDATE, JAL_MMU_INVALIDATE_ALL, 4);
	return 0;
}

/* ---- jobs ---------------------------------------------------------------- */

static int errno_of(uint32_t status)
{
	return jalrt_errno_from_hw_status(status);
}

/* Take finished jobs off the rings (lock held). */
static void reap(struct sim_dev *s)
{
	unsigned int qi, i;

	for (qi = 0; qi < JAL_NUM_QUEUES; qi++) {
		struct sim_queue *q = &s->q[qi];
		const struct jal_completion *c = (const void *)(s->mem + q->compl);
		uint64_t done = __atomic_load_n(&c->seqno, __ATOMIC_ACQUIRE);

		if (done == q->done)
			continue;
		q->done = done;
		for (i = 0; i < SIM_PENDING; i++) {
			struct sim_job *j = &q->jobs[i];
			const struct jal_desc *d;
			struct sim_ctx *ctx;

			if (!j->live || j->desc_seqno > done)
				continue;
			d = (const void *)(s->mem + q->ring + (uint64_t)j->slot * sizeof(*d));
			ctx = &s->ctxs[j->ctx];
			if (j->ctx_seqno > ctx->st.completed)
				ctx->st.completed = j->ctx_seqno;
			if (d->status != JAL_STATUS_OK && !ctx->st.error_seqno) {
				ctx->st.error_seqno = j->ctx_seqno;
				ctx->st.error = errno_of(d->status);
				ctx->st.hw_status = d->status;
				ctx->st.fault_addr = d->fault_addr;
				ctx->st.error_offset = d->error_offset;
				ctx->st.state = DRM_JALAPENO_CTX_BANNED;
			}
			j->live = false;
		}
	}
}

static bool syncobj_done(struct sim_dev *s, uint32_t h)
{
	struct sim_syncobj *so;

	if (!h || h > SIM_MAX_SYNCOBJS || !s->syncobjs[h - 1].live)
		return true;
	so = &s->syncobjs[h - 1];
	return !so->has_job || s->q[so->queue].done >= so->desc_seqno;
}

static int sim_submit(struct sim_dev *s, struct drm_jalapeno_submit *req)
{
	const uint32_t *in = (const uint32_t *)(uintptr_t)req->in_syncobjs;
	struct sim_ctx *ctx;
	struct sim_queue *q;
	struct jal_desc *d;
	struct sim_job *job = NULL;
	unsigned int i;

	if (!req->ctx_id || req->ctx_id > JAL_NUM_CONTEXTS || !s->ctxs[req->ctx_id - 1].live)
		return -ENOENT;
	if (req->flags || req->reserved || !req->cmdbuf_size || req->cmdbuf_size % 4)
		return -EINVAL;
	ctx = &s->ctxs[req->ctx_id - 1];
	/* Dependencies: wait for them here, the chip has no notion of them. */
	for (i = 0; i < req->in_syncobj_count; i++) {
		while (!syncobj_done(s, in[i])) {
			pthread_mutex_unlock(&s->lock);
			usleep(20);
			pthread_mutex_lock(&s->lock);
			reap(s);
		}
	}
	if (ctx->st.state == DRM_JALAPENO_CTX_BANNED)
		return -ECANCELED;
	q = &s->q[ctx->queue];
	/* A free tracking slot; the ring has as many entries. */
	for (;;) {
		reap(s);
		for (i = 0; i < SIM_PENDING && !job; i++)
			if (!q->jobs[i].live)
				job = &q->jobs[i];
		if (job)
			break;
		pthread_mutex_unlock(&s->lock);
		usleep(20);
		pthread_mutex_lock(&s->lock);
	}
	d = (void *)(s->mem + q->ring + (uint64_t)q->tail * sizeof(*d));
	memset(d, 0, sizeof(*d));
	d->ctx_id = ctx->hw_id;
	d->seqno = ++q->seqno;
	d->cmdbuf_va = req->cmdbuf_va;
	d->cmdbuf_size = req->cmdbuf_size;
	job->live = true;
	job->desc_seqno = d->seqno;
	job->slot = q->tail;
	job->ctx = req->ctx_id - 1;
	job->ctx_seqno = ++ctx->st.submitted;
	req->seqno = job->ctx_seqno;
	if (req->out_syncobj && req->out_syncobj <= SIM_MAX_SYNCOBJS &&
	    s->syncobjs[req->out_syncobj - 1].live) {
		struct sim_syncobj *so = &s->syncobjs[req->out_syncobj - 1];

		so->has_job = true;
		so->queue = ctx->queue;
		so->desc_seqno = d->seqno;
	}
	q->tail = (q->tail + 1) % SIM_RING;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	jal_mmio_write(s->chip, JAL_REG_DOORBELL(ctx->queue), q->tail, 4);
	return 0;
}

/* ---- ioctls -------------------------------------------------------------- */

static int sim_ioctl_locked(struct sim_dev *s, unsigned long request, void *arg)
{
	unsigned int i;

	switch (request) {
	case DRM_IOCTL_JALAPENO_BO_CREATE: {
		struct drm_jalapeno_bo_create *req = arg;
		uint32_t ok = DRM_JALAPENO_BO_DEVICE_READONLY |
			      (s->vram_bos ? DRM_JALAPENO_BO_VRAM : 0);
		struct sim_bo *bo = NULL;
		uint64_t size;

		if (!req->size || req->flags & ~ok || req->handle || req->va)
			return -EINVAL;
		for (i = 0; i < SIM_MAX_BOS && !bo; i++)
			if (!s->bos[i].live)
				bo = &s->bos[i];
		if (!bo)
			return -ENOMEM;
		size = JALRT_ALIGN(req->size, JAL_PAGE_SIZE);
		if (req->flags & DRM_JALAPENO_BO_VRAM) {
			if (size > s->vram_size - s->vram_next)
				return -ENOSPC;
			bo->addr = s->vram_next;
			s->vram_next += size;
		} else {
			bo->addr = pa_alloc(s, size);
			if (!bo->addr)
				return -ENOMEM;
		}
		bo->live = true;
		bo->flags = req->flags;
		bo->size = size;
		bo->va = s->next_va;
		s->next_va += size + JAL_PAGE_SIZE;
		if (map_bo(s, bo, true)) {
			bo->live = false;
			return -ENOMEM;
		}
		req->handle = (uint32_t)(bo - s->bos) + 1;
		req->va = bo->va;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_BO_INFO: {
		struct drm_jalapeno_bo_info *req = arg;

		if (!req->handle || req->handle > SIM_MAX_BOS || !s->bos[req->handle - 1].live)
			return -ENOENT;
		req->flags = s->bos[req->handle - 1].flags;
		req->size = s->bos[req->handle - 1].size;
		req->va = s->bos[req->handle - 1].va;
		req->mmap_offset = (uint64_t)req->handle << 32;
		return 0;
	}
	case DRM_IOCTL_GEM_CLOSE: {
		struct drm_gem_close *req = arg;
		struct sim_bo *bo;

		if (!req->handle || req->handle > SIM_MAX_BOS || !s->bos[req->handle - 1].live)
			return -EINVAL;
		bo = &s->bos[req->handle - 1];
		/* Jobs may still use it (the driver would keep it): wait for all. */
		for (i = 0; i < JAL_NUM_QUEUES; i++) {
			while (s->q[i].done < s->q[i].seqno) {
				pthread_mutex_unlock(&s->lock);
				usleep(20);
				pthread_mutex_lock(&s->lock);
				reap(s);
			}
		}
		map_bo(s, bo, false);
		bo->live = false;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_BO_WAIT: {
		struct drm_jalapeno_bo_wait *req = arg;

		if (!req->handle || req->handle > SIM_MAX_BOS || !s->bos[req->handle - 1].live)
			return -ENOENT;
		for (i = 0; i < JAL_NUM_QUEUES; i++) {
			while (s->q[i].done < s->q[i].seqno) {
				if ((int64_t)sim_now_ns(NULL) > req->timeout_ns)
					return -ETIMEDOUT;
				pthread_mutex_unlock(&s->lock);
				usleep(20);
				pthread_mutex_lock(&s->lock);
				reap(s);
			}
		}
		return 0;
	}
	case DRM_IOCTL_JALAPENO_CTX_CREATE: {
		struct drm_jalapeno_ctx_create *req = arg;
		struct jal_ctx_entry *e;

		if (req->priority > DRM_JALAPENO_PRIORITY_REALTIME || req->flags || req->reserved)
			return -EINVAL;
		/* hardware context 0 is left unused, as a driver might */
		for (i = 1; i < JAL_NUM_CONTEXTS; i++)
			if (!s->ctxs[i].live)
				break;
		if (i == JAL_NUM_CONTEXTS)
			return -ENOSPC;
		memset(&s->ctxs[i], 0, sizeof(s->ctxs[i]));
		s->ctxs[i].live = true;
		s->ctxs[i].hw_id = i;
		s->ctxs[i].queue = req->priority;
		e = (void *)(s->mem + s->ctx_table + i * sizeof(*e));
		e->pt_root = s->root | JAL_CTX_VALID;
		e->reserved = 0;
		jal_mmio_write(s->chip, JAL_REG_MMU_INVALIDATE, i, 4);
		req->ctx_id = i + 1;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_CTX_DESTROY: {
		struct drm_jalapeno_ctx_destroy *req = arg;

		if (!req->ctx_id || req->ctx_id > JAL_NUM_CONTEXTS || !s->ctxs[req->ctx_id - 1].live)
			return -ENOENT;
		/* Its jobs still complete (the context entry stays valid). */
		for (i = 0; i < JAL_NUM_QUEUES; i++) {
			while (s->q[i].done < s->q[i].seqno) {
				pthread_mutex_unlock(&s->lock);
				usleep(20);
				pthread_mutex_lock(&s->lock);
				reap(s);
			}
		}
		s->ctxs[req->ctx_id - 1].live = false;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_SUBMIT:
		return sim_submit(s, arg);
	case DRM_IOCTL_JALAPENO_CTX_STATUS: {
		struct drm_jalapeno_ctx_status *req = arg;
		uint32_t id = req->ctx_id;

		if (!id || id > JAL_NUM_CONTEXTS || !s->ctxs[id - 1].live)
			return -ENOENT;
		reap(s);
		*req = s->ctxs[id - 1].st;
		req->ctx_id = id;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static int sim_ioctl(struct jalrt_device *dev, unsigned long request, void *arg)
{
	struct sim_dev *s = to_sim(dev);
	int ret;

	pthread_mutex_lock(&s->lock);
	ret = sim_ioctl_locked(s, request, arg);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int sim_mmap(struct jalrt_device *dev, size_t size, uint64_t offset, void **addr)
{
	struct sim_dev *s = to_sim(dev);
	uint32_t h = (uint32_t)(offset >> 32);
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (!h || h > SIM_MAX_BOS || !s->bos[h - 1].live || (offset & 0xffffffffu) ||
	    size > s->bos[h - 1].size || (s->bos[h - 1].flags & DRM_JALAPENO_BO_VRAM))
		ret = -EINVAL;
	else
		*addr = s->mem + s->bos[h - 1].addr;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void sim_munmap(struct jalrt_device *dev, void *addr, size_t size)
{
	(void)dev;
	(void)addr;
	(void)size;
}

static int sim_syncobj_create(struct jalrt_device *dev, uint32_t *handle)
{
	struct sim_dev *s = to_sim(dev);
	unsigned int i;
	int ret = -ENOMEM;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < SIM_MAX_SYNCOBJS; i++) {
		if (!s->syncobjs[i].live) {
			memset(&s->syncobjs[i], 0, sizeof(s->syncobjs[i]));
			s->syncobjs[i].live = true;
			*handle = i + 1;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void sim_syncobj_destroy(struct jalrt_device *dev, uint32_t handle)
{
	struct sim_dev *s = to_sim(dev);

	pthread_mutex_lock(&s->lock);
	if (handle && handle <= SIM_MAX_SYNCOBJS)
		s->syncobjs[handle - 1].live = false;
	pthread_mutex_unlock(&s->lock);
}

static int sim_syncobj_wait(struct jalrt_device *dev, uint32_t *handles, unsigned int count,
			    int64_t abs_timeout_ns)
{
	struct sim_dev *s = to_sim(dev);
	unsigned int i;

	for (;;) {
		bool all = true;

		pthread_mutex_lock(&s->lock);
		reap(s);
		for (i = 0; i < count; i++)
			all &= syncobj_done(s, handles[i]);
		pthread_mutex_unlock(&s->lock);
		if (all)
			return 0;
		if ((int64_t)sim_now_ns(NULL) >= abs_timeout_ns)
			return -ETIME;
		usleep(20);
	}
}

static void sim_close(struct jalrt_device *dev)
{
	struct sim_dev *s = to_sim(dev);

	jal_device_destroy(s->chip);
	munmap(s->mem, SIM_MEM_SIZE);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct jalrt_backend_ops sim_ops = {
	.ioctl = sim_ioctl,
	.mmap = sim_mmap,
	.munmap = sim_munmap,
	.syncobj_create = sim_syncobj_create,
	.syncobj_destroy = sim_syncobj_destroy,
	.syncobj_wait = sim_syncobj_wait,
	.close = sim_close,
};

static void wr(struct sim_dev *s, uint32_t off, uint64_t v)
{
	jal_mmio_write(s->chip, off, (uint32_t)v, 4);
}

static uint32_t rd(struct sim_dev *s, uint32_t off)
{
	return (uint32_t)jal_mmio_read(s->chip, off, 4);
}

int sim_open(uint64_t vram_size, bool vram_bos, struct jalrt_device **dev)
{
	struct jalrt_device_info info = { 0 };
	struct jal_device_config cfg;
	struct sim_dev *s = calloc(1, sizeof(*s));
	unsigned int qi;
	int ret;

	if (!s)
		return -ENOMEM;
	s->mem = mmap(NULL, SIM_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s->mem == MAP_FAILED) {
		free(s);
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->next_pa = JAL_PAGE_SIZE;
	s->next_va = SIM_VA_START;
	jal_device_config_default(&cfg);
	cfg.vram_size = vram_size;
	s->chip = jal_device_create(&sim_platform, s, &cfg);
	if (!s->chip) {
		ret = -errno;
		munmap(s->mem, SIM_MEM_SIZE);
		free(s);
		return ret ? ret : -ENOMEM;
	}
	s->vram_size = vram_size;
	s->vram_bos = vram_bos && vram_size;
	s->ctx_table = pa_alloc(s, JAL_PAGE_SIZE);
	s->root = pa_alloc(s, JAL_PAGE_SIZE);
	wr(s, JAL_REG_CTX_TABLE_LO, s->ctx_table);
	wr(s, JAL_REG_CTX_TABLE_HI, s->ctx_table >> 32);
	for (qi = 0; qi < JAL_NUM_QUEUES; qi++) {
		struct sim_queue *q = &s->q[qi];

		q->ring = pa_alloc(s, SIM_RING * sizeof(struct jal_desc));
		q->compl = pa_alloc(s, JAL_PAGE_SIZE);
		wr(s, JAL_REG_Q(qi, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
		wr(s, JAL_REG_Q(qi, JAL_Q_RING_LO), q->ring);
		wr(s, JAL_REG_Q(qi, JAL_Q_RING_HI), q->ring >> 32);
		wr(s, JAL_REG_Q(qi, JAL_Q_RING_SIZE), SIM_RING);
		wr(s, JAL_REG_Q(qi, JAL_Q_COMPL_LO), q->compl);
		wr(s, JAL_REG_Q(qi, JAL_Q_COMPL_HI), q->compl >> 32);
		wr(s, JAL_REG_Q(qi, JAL_Q_PRIORITY), qi);
		wr(s, JAL_REG_Q(qi, JAL_Q_CTRL), JAL_Q_CTRL_ENABLE);
	}
	wr(s, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);

	snprintf(info.path, sizeof(info.path), "sim");
	snprintf(info.driver_name, sizeof(info.driver_name), "jalapeno");
	info.vendor_id = JAL_PCI_VENDOR_ID;
	info.device_id = JAL_PCI_DEVICE_ID;
	info.revision = JAL_PCI_REVISION;
	info.hw_version = rd(s, JAL_REG_VERSION);
	info.caps = rd(s, JAL_REG_CAPS);
	info.num_queues = JAL_NUM_QUEUES;
	info.num_contexts = JAL_NUM_CONTEXTS;
	info.va_start = SIM_VA_START;
	info.va_end = 1ull << JAL_VA_BITS;
	info.max_cmdbuf_size = rd(s, JAL_REG_MAX_CMDBUF);
	info.max_code_size = rd(s, JAL_REG_MAX_CODE);
	info.page_size = JAL_PAGE_SIZE;
	info.vram_size = rd(s, JAL_REG_VRAM_SIZE_LO) | (uint64_t)rd(s, JAL_REG_VRAM_SIZE_HI) << 32;
	ret = jalrt_device_create_with_backend(&sim_ops, s, &info, dev);
	if (ret) {
		jal_device_destroy(s->chip);
		munmap(s->mem, SIM_MEM_SIZE);
		free(s);
	}
	return ret;
}
