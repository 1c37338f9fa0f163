// SPDX-License-Identifier: MIT
/*
 * Fake jalapeno driver for the libjalrt host tests (see fake_backend.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_backend.h"

static struct fake_dev *to_fake(struct jalrt_device *dev)
{
	return dev->backend_priv;
}

static struct fake_bo *bo_get(struct fake_dev *f, uint32_t handle)
{
	if (!handle || handle > FAKE_MAX_BOS || !f->bos[handle - 1].live)
		return NULL;
	return &f->bos[handle - 1];
}

struct fake_bo *fake_bo_by_va(struct fake_dev *f, uint64_t va, uint64_t *offset)
{
	unsigned int i;

	for (i = 0; i < FAKE_MAX_BOS; i++) {
		struct fake_bo *bo = &f->bos[i];

		if (bo->mem && va >= bo->va && va - bo->va < bo->size) {
			if (offset)
				*offset = va - bo->va;
			return bo;
		}
	}
	return NULL;
}

unsigned int fake_live_bos(struct fake_dev *f)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < FAKE_MAX_BOS; i++)
		n += f->bos[i].live;
	pthread_mutex_unlock(&f->lock);
	return n;
}

struct fake_ctx *fake_ctx(struct fake_dev *f, uint32_t ctx_id)
{
	if (!ctx_id || ctx_id > FAKE_MAX_CTXS)
		return NULL;
	return &f->ctxs[ctx_id - 1];
}

struct fake_submit *fake_last_submit(struct fake_dev *f, unsigned int back)
{
	if (back >= f->num_submits || back >= FAKE_MAX_SUBMITS)
		return NULL;
	return &f->submits[(f->num_submits - 1 - back) % FAKE_MAX_SUBMITS];
}

void fake_signal(struct fake_dev *f, uint32_t syncobj)
{
	pthread_mutex_lock(&f->lock);
	if (syncobj && syncobj <= FAKE_MAX_SYNCOBJS)
		f->syncobjs[syncobj - 1].signaled = true;
	pthread_mutex_unlock(&f->lock);
}

static void fail_job_locked(struct fake_dev *f, uint32_t ctx_id, uint64_t seqno, int error,
			    uint32_t hw_status, uint64_t fault_addr, uint32_t error_offset)
{
	struct fake_ctx *c = fake_ctx(f, ctx_id);

	if (!c || c->status.error_seqno)
		return;	/* only the first failure is recorded */
	c->status.state = DRM_JALAPENO_CTX_BANNED;
	c->status.error_seqno = seqno;
	c->status.error = error;
	c->status.hw_status = hw_status;
	c->status.fault_addr = fault_addr;
	c->status.error_offset = error_offset;
}

void fake_fail_job(struct fake_dev *f, uint32_t ctx_id, uint64_t seqno, int error,
		   uint32_t hw_status, uint64_t fault_addr, uint32_t error_offset)
{
	pthread_mutex_lock(&f->lock);
	fail_job_locked(f, ctx_id, seqno, error, hw_status, fault_addr, error_offset);
	pthread_mutex_unlock(&f->lock);
}

/* Device-side access: a range inside one BO, writable if @write. */
static void *dev_ptr(struct fake_dev *f, uint64_t va, uint64_t size, bool write,
		     uint32_t *status)
{
	struct fake_bo *bo;
	uint64_t off;

	bo = fake_bo_by_va(f, va, &off);
	if (!bo || !bo->live || size > bo->size - off) {
		*status = JAL_STATUS_MMU_UNMAPPED;
		return NULL;
	}
	if (write && (bo->flags & DRM_JALAPENO_BO_DEVICE_READONLY)) {
		*status = JAL_STATUS_MMU_PERM;
		return NULL;
	}
	return (uint8_t *)bo->mem + off;
}

/* Run the DMA commands of a job; returns JAL_STATUS_* and the failing offset/VA. */
static uint32_t execute(struct fake_dev *f, struct fake_submit *s, const uint8_t *cmds,
			uint32_t size, uint32_t *err_off, uint64_t *fault)
{
	uint32_t off = 0, status = JAL_STATUS_OK;

	while (off < size) {
		uint32_t hdr, dwords;
		const uint8_t *c = cmds + off;
		void *dst, *src;

		memcpy(&hdr, c, 4);
		dwords = JAL_CMD_DWORDS(hdr);
		*err_off = off;
		if (!dwords || (hdr & JAL_CMD_HDR_RESERVED) || off + dwords * 4 > size)
			return JAL_STATUS_BAD_CMD;
		switch (JAL_CMD_OP(hdr)) {
		case JAL_CMD_NOP:
			if (dwords != 1)
				return JAL_STATUS_BAD_CMD;
			break;
		case JAL_CMD_COPY: {
			struct jal_cmd_copy cmd;

			if (dwords * 4 != sizeof(cmd))
				return JAL_STATUS_BAD_CMD;
			memcpy(&cmd, c, sizeof(cmd));
			src = dev_ptr(f, cmd.src_va, cmd.size, false, &status);
			*fault = cmd.src_va;
			if (!src)
				return status;
			dst = dev_ptr(f, cmd.dst_va, cmd.size, true, &status);
			*fault = cmd.dst_va;
			if (!dst)
				return status;
			memmove(dst, src, cmd.size);
			break;
		}
		case JAL_CMD_FILL: {
			struct jal_cmd_fill cmd;
			uint64_t i;

			if (dwords * 4 != sizeof(cmd))
				return JAL_STATUS_BAD_CMD;
			memcpy(&cmd, c, sizeof(cmd));
			dst = dev_ptr(f, cmd.dst_va, cmd.size, true, &status);
			*fault = cmd.dst_va;
			if (!dst)
				return status;
			for (i = 0; i < cmd.size; i++)
				((uint8_t *)dst)[i] = (uint8_t)(cmd.pattern >> (8 * (i % 4)));
			break;
		}
		case JAL_CMD_WRITE_VALUE: {
			struct jal_cmd_write_value cmd;

			if (dwords * 4 != sizeof(cmd))
				return JAL_STATUS_BAD_CMD;
			memcpy(&cmd, c, sizeof(cmd));
			if (cmd.dst_va % 8 || cmd.reserved)
				return JAL_STATUS_BAD_CMD;
			dst = dev_ptr(f, cmd.dst_va, 8, true, &status);
			*fault = cmd.dst_va;
			if (!dst)
				return status;
			memcpy(dst, &cmd.value, 8);
			break;
		}
		case JAL_CMD_TIMESTAMP: {
			struct jal_cmd_timestamp cmd;
			uint64_t now = 1000 * (f->num_submits + 1) + off;

			if (dwords * 4 != sizeof(cmd))
				return JAL_STATUS_BAD_CMD;
			memcpy(&cmd, c, sizeof(cmd));
			if (cmd.dst_va % 8 || cmd.reserved)
				return JAL_STATUS_BAD_CMD;
			dst = dev_ptr(f, cmd.dst_va, 8, true, &status);
			*fault = cmd.dst_va;
			if (!dst)
				return status;
			memcpy(dst, &now, 8);
			break;
		}
		case JAL_CMD_DISPATCH: {
			struct jal_cmd_dispatch cmd;

			if (dwords * 4 != sizeof(cmd))
				return JAL_STATUS_BAD_CMD;
			memcpy(&cmd, c, sizeof(cmd));
			if (cmd.reserved || cmd.args_size % 8 || cmd.args_size > JAL_MAX_ARGS * 8 ||
			    !cmd.code_size || cmd.code_size % sizeof(struct jal_insn))
				return JAL_STATUS_BAD_CMD;
			*fault = cmd.code_va;
			if (!dev_ptr(f, cmd.code_va, cmd.code_size, false, &status))
				return status;
			if (cmd.args_size) {
				*fault = cmd.args_va;
				src = dev_ptr(f, cmd.args_va, cmd.args_size, false, &status);
				if (!src)
					return status;
				memcpy(s->dispatch_args, src, cmd.args_size);
			}
			s->dispatch_nargs = cmd.args_size / 8;
			s->dispatches++;
			break;
		}
		default:
			return JAL_STATUS_BAD_CMD;
		}
		off += dwords * 4;
	}
	return JAL_STATUS_OK;
}

static int do_submit(struct fake_dev *f, struct drm_jalapeno_submit *req)
{
	const uint32_t *handles = (const uint32_t *)(uintptr_t)req->bo_handles;
	const uint32_t *in = (const uint32_t *)(uintptr_t)req->in_syncobjs;
	struct fake_ctx *c = fake_ctx(f, req->ctx_id);
	uint32_t hw, err_off = 0;
	uint64_t off, fault = 0;
	struct fake_submit *s;
	struct fake_bo *cbo;
	bool cb_listed = false;
	unsigned int i, j;

	if (!c || !c->live)
		return -ENOENT;
	if (req->flags || req->reserved)
		return -EINVAL;
	if (c->status.state == DRM_JALAPENO_CTX_BANNED)
		return -ECANCELED;
	if (!req->cmdbuf_size || req->cmdbuf_size % 4 || req->cmdbuf_size > JAL_MAX_CMDBUF_SIZE ||
	    req->cmdbuf_va % 8)
		return -EINVAL;
	cbo = fake_bo_by_va(f, req->cmdbuf_va, &off);
	if (!cbo || !cbo->live || req->cmdbuf_size > cbo->size - off)
		return -EINVAL;
	if (req->bo_count > 64 || req->in_syncobj_count > 16)
		return -EINVAL;
	for (i = 0; i < req->bo_count; i++) {
		struct fake_bo *bo = bo_get(f, handles[i]);

		if (!bo)
			return -ENOENT;
		for (j = 0; j < i; j++)
			if (handles[j] == handles[i])
				return -EINVAL;	/* the library must dedup */
		cb_listed |= bo == cbo;
	}
	if (!cb_listed)
		return -EINVAL;	/* the library always lists the cmdbuf's BO */
	for (i = 0; i < req->in_syncobj_count; i++)
		if (!in[i] || in[i] > FAKE_MAX_SYNCOBJS || !f->syncobjs[in[i] - 1].live)
			return -ENOENT;
	if (req->out_syncobj &&
	    (req->out_syncobj > FAKE_MAX_SYNCOBJS || !f->syncobjs[req->out_syncobj - 1].live))
		return -ENOENT;
	/* The record is a ring: tests look at the last few submits. */
	s = &f->submits[f->num_submits++ % FAKE_MAX_SUBMITS];
	memset(s, 0, sizeof(*s));
	s->req = *req;
	memcpy(s->bo_handles, handles, req->bo_count * sizeof(*handles));
	if (req->in_syncobj_count)
		memcpy(s->in_syncobjs, in, req->in_syncobj_count * sizeof(*in));
	memcpy(s->cmds, (uint8_t *)cbo->mem + off,
	       req->cmdbuf_size < sizeof(s->cmds) ? req->cmdbuf_size : sizeof(s->cmds));

	req->seqno = ++c->submitted;
	s->req.seqno = req->seqno;
	c->status.submitted = req->seqno;
	hw = execute(f, s, (uint8_t *)cbo->mem + off, req->cmdbuf_size, &err_off, &fault);
	if (hw != JAL_STATUS_OK)
		fail_job_locked(f, req->ctx_id, req->seqno,
				hw == JAL_STATUS_BAD_CMD ? -EINVAL : -EFAULT, hw,
				hw == JAL_STATUS_BAD_CMD ? 0 : fault, err_off);
	if (req->out_syncobj && f->signal_on_submit) {
		f->syncobjs[req->out_syncobj - 1].signaled = true;
		c->status.completed = req->seqno;
	}
	return 0;
}

static int fake_ioctl_locked(struct fake_dev *f, unsigned long request, void *arg)
{
	switch (request) {
	case DRM_IOCTL_JALAPENO_BO_CREATE: {
		struct drm_jalapeno_bo_create *req = arg;
		unsigned int i;

		f->bo_creates++;
		if (f->fail_bo_create) {
			int err = f->fail_bo_create;

			f->fail_bo_create = 0;
			return -err;
		}
		if (!req->size || req->handle || req->va ||
		    req->flags & ~(DRM_JALAPENO_BO_DEVICE_READONLY |
				   (f->vram_bos ? DRM_JALAPENO_BO_VRAM : 0)))
			return -EINVAL;
		if (req->flags & DRM_JALAPENO_BO_VRAM) {
			if (JALRT_ALIGN(req->size, JAL_PAGE_SIZE) > f->vram_left)
				return -ENOSPC;
			f->vram_left -= JALRT_ALIGN(req->size, JAL_PAGE_SIZE);
		}
		for (i = 0; i < FAKE_MAX_BOS; i++)
			if (!f->bos[i].mem)
				break;
		if (i == FAKE_MAX_BOS)
			return -ENOMEM;
		f->bos[i].size = JALRT_ALIGN(req->size, JAL_PAGE_SIZE);
		f->bos[i].mem = aligned_alloc(JAL_PAGE_SIZE, f->bos[i].size);
		if (!f->bos[i].mem)
			return -ENOMEM;
		memset(f->bos[i].mem, 0, f->bos[i].size);
		f->bos[i].live = true;
		f->bos[i].flags = req->flags;
		f->bos[i].va = f->next_va;
		/* A guard page between BOs, as a real VA allocator may leave. */
		f->next_va += f->bos[i].size + JAL_PAGE_SIZE;
		req->handle = i + 1;
		req->va = f->bos[i].va;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_BO_INFO: {
		struct drm_jalapeno_bo_info *req = arg;
		struct fake_bo *bo = bo_get(f, req->handle);

		if (!bo)
			return -ENOENT;
		req->flags = bo->flags;
		req->size = bo->size;
		req->va = bo->va;
		req->mmap_offset = (uint64_t)req->handle << 32;
		return 0;
	}
	case DRM_IOCTL_GEM_CLOSE: {
		struct drm_gem_close *req = arg;
		struct fake_bo *bo = bo_get(f, req->handle);

		if (!bo)
			return -EINVAL;
		/* The slot is reused, the VA never is. */
		if (bo->flags & DRM_JALAPENO_BO_VRAM)
			f->vram_left += bo->size;
		bo->live = false;
		free(bo->mem);
		bo->mem = NULL;
		f->bo_closes++;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_BO_WAIT: {
		struct drm_jalapeno_bo_wait *req = arg;

		if (!bo_get(f, req->handle))
			return -ENOENT;
		f->bo_waits++;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_CTX_CREATE: {
		struct drm_jalapeno_ctx_create *req = arg;
		unsigned int i;

		if (req->priority > DRM_JALAPENO_PRIORITY_REALTIME || req->flags || req->reserved)
			return -EINVAL;
		for (i = 0; i < FAKE_MAX_CTXS; i++)
			if (!f->ctxs[i].live)
				break;
		if (i == FAKE_MAX_CTXS)
			return -ENOSPC;
		memset(&f->ctxs[i], 0, sizeof(f->ctxs[i]));
		f->ctxs[i].live = true;
		f->ctxs[i].priority = req->priority;
		req->ctx_id = i + 1;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_CTX_DESTROY: {
		struct drm_jalapeno_ctx_destroy *req = arg;
		struct fake_ctx *c = fake_ctx(f, req->ctx_id);

		if (!c || !c->live)
			return -ENOENT;
		c->live = false;
		f->ctx_destroys++;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_CTX_STATUS: {
		struct drm_jalapeno_ctx_status *req = arg;
		struct fake_ctx *c = fake_ctx(f, req->ctx_id);

		if (!c || !c->live)
			return -ENOENT;
		*req = c->status;
		req->ctx_id = (uint32_t)(c - f->ctxs) + 1;
		req->submitted = c->submitted;
		return 0;
	}
	case DRM_IOCTL_JALAPENO_SUBMIT:
		return do_submit(f, arg);
	default:
		return -ENOTTY;
	}
}

static int fake_ioctl(struct jalrt_device *dev, unsigned long request, void *arg)
{
	struct fake_dev *f = to_fake(dev);
	int ret;

	pthread_mutex_lock(&f->lock);
	ret = fake_ioctl_locked(f, request, arg);
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static int fake_mmap(struct jalrt_device *dev, size_t size, uint64_t offset, void **addr)
{
	struct fake_dev *f = to_fake(dev);
	struct fake_bo *bo;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	bo = bo_get(f, (uint32_t)(offset >> 32));
	/* Device memory has no CPU mapping, as with the real driver. */
	if (!bo || (offset & 0xffffffffu) || size > bo->size ||
	    (bo->flags & DRM_JALAPENO_BO_VRAM))
		ret = -EINVAL;
	else
		*addr = bo->mem;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static void fake_close(struct jalrt_device *dev)
{
	struct fake_dev *f = to_fake(dev);

	pthread_mutex_lock(&f->lock);
	f->closes++;
	pthread_mutex_unlock(&f->lock);
}

static void fake_munmap(struct jalrt_device *dev, void *addr, size_t size)
{
	(void)dev;
	(void)addr;
	(void)size;
}

static int fake_syncobj_create(struct jalrt_device *dev, uint32_t *handle)
{
	struct fake_dev *f = to_fake(dev);
	unsigned int i;
	int ret = -ENOMEM;

	pthread_mutex_lock(&f->lock);
	if (f->fail_syncobj_create) {
		ret = -f->fail_syncobj_create;
		f->fail_syncobj_create = 0;
		goto out;
	}
	for (i = 0; i < FAKE_MAX_SYNCOBJS; i++) {
		if (!f->syncobjs[i].live) {
			f->syncobjs[i].live = true;
			f->syncobjs[i].signaled = false;
			*handle = i + 1;
			ret = 0;
			break;
		}
	}
out:
	pthread_mutex_unlock(&f->lock);
	return ret;
}

static void fake_syncobj_destroy(struct jalrt_device *dev, uint32_t handle)
{
	struct fake_dev *f = to_fake(dev);

	pthread_mutex_lock(&f->lock);
	if (handle && handle <= FAKE_MAX_SYNCOBJS && f->syncobjs[handle - 1].live) {
		f->syncobjs[handle - 1].live = false;
		f->syncobj_destroys++;
	}
	pthread_mutex_unlock(&f->lock);
}

/* Nothing runs in the background: unsignaled means timed out. */
static int fake_syncobj_wait(struct jalrt_device *dev, uint32_t *handles, unsigned int count,
			     int64_t abs_timeout_ns)
{
	struct fake_dev *f = to_fake(dev);
	unsigned int i;
	int ret = 0;

	(void)abs_timeout_ns;
	pthread_mutex_lock(&f->lock);
	for (i = 0; i < count; i++) {
		uint32_t h = handles[i];

		if (!h || h > FAKE_MAX_SYNCOBJS || !f->syncobjs[h - 1].live) {
			ret = -ENOENT;
			break;
		}
		if (!f->syncobjs[h - 1].signaled)
			ret = -ETIME;
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

const struct jalrt_backend_ops fake_ops = {
	.ioctl = fake_ioctl,
	.mmap = fake_mmap,
	.munmap = fake_munmap,
	.syncobj_create = fake_syncobj_create,
	.syncobj_destroy = fake_syncobj_destroy,
	.syncobj_wait = fake_syncobj_wait,
	.close = fake_close,
};

static int fake_open_info(struct fake_dev **out, struct jalrt_device **dev, uint64_t vram_size,
			  bool vram_bos, bool llm)
{
	struct jalrt_device_info info = { 0 };
	struct fake_dev *f = calloc(1, sizeof(*f));
	int ret;

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	f->next_va = FAKE_VA_START;
	f->signal_on_submit = true;
	snprintf(info.path, sizeof(info.path), "fake");
	snprintf(info.driver_name, sizeof(info.driver_name), "jalapeno");
	info.vendor_id = JAL_PCI_VENDOR_ID;
	info.device_id = JAL_PCI_DEVICE_ID;
	info.hw_version = JAL_VERSION_MAJOR << 16 | JAL_VERSION_MINOR;
	info.caps = JAL_CAP_DMA | JAL_CAP_COMPUTE_F32 | JAL_CAP_TIMESTAMP;
	info.num_queues = JAL_NUM_QUEUES;
	info.num_contexts = JAL_NUM_CONTEXTS;
	info.va_start = FAKE_VA_START;
	info.va_end = 1ull << JAL_VA_BITS;
	info.max_cmdbuf_size = JAL_MAX_CMDBUF_SIZE;
	info.max_code_size = JAL_MAX_CODE_SIZE;
	info.page_size = JAL_PAGE_SIZE;
	if (llm)
		info.caps |= JAL_CAP_LLM;
	if (vram_size)
		info.caps |= JAL_CAP_VRAM;
	info.vram_size = vram_size;
	f->vram_bos = vram_bos;
	f->vram_left = vram_size;
	ret = jalrt_device_create_with_backend(&fake_ops, f, &info, dev);
	if (ret) {
		free(f);
		return ret;
	}
	*out = f;
	return 0;
}

int fake_open(struct fake_dev **out, struct jalrt_device **dev)
{
	return fake_open_info(out, dev, 0, false, false);
}

int fake_open_llm(struct fake_dev **out, struct jalrt_device **dev, uint64_t vram_size,
		  bool vram_bos)
{
	return fake_open_info(out, dev, vram_size, vram_bos, true);
}

void fake_free(struct fake_dev *f)
{
	unsigned int i;

	if (!f)
		return;
	for (i = 0; i < FAKE_MAX_BOS; i++)
		free(f->bos[i].mem);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
