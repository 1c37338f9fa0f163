// SPDX-License-Identifier: MIT
/*
 * Submission, fences and the synchronous helpers.
 *
 * A fence is a DRM syncobj that receives the job's dma_fence. A syncobj
 * only says "ended", not how, so after it signals the job's result is
 * read from its context: the driver records the first failed job
 * (error_seqno) before signalling, and bans the context, so every job
 * with seqno >= error_seqno failed, the first with the recorded error,
 * the later ones canceled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jalrt_internal.h"

/* Describe a failure recorded in a context (for messages). */
static void describe_failure(char *out, size_t len, const struct drm_jalapeno_ctx_status *st)
{
	int n = snprintf(out, len, "%s; chip status %s", jalrt_strerror(st->error),
			 jalrt_hw_status_name(st->hw_status));

	if (n < 0 || (size_t)n >= len)
		return;
	if (st->hw_status == JAL_STATUS_MMU_UNMAPPED || st->hw_status == JAL_STATUS_MMU_PERM)
		n += snprintf(out + n, len - n, ", fault at VA 0x%llx",
			      (unsigned long long)st->fault_addr);
	if ((size_t)n < len)
		snprintf(out + n, len - n, ", command at offset 0x%x", st->error_offset);
}

/* Append @handle unless present: the driver may reject duplicates. */
static void add_handle(uint32_t *list, unsigned int *n, uint32_t handle)
{
	unsigned int i;

	for (i = 0; i < *n; i++)
		if (list[i] == handle)
			return;
	list[(*n)++] = handle;
}

JALRT_API int jalrt_submit(struct jalrt_context *ctx, struct jalrt_cmdbuf *cb,
			   struct jalrt_buffer *const *buffers, unsigned int num_buffers,
			   struct jalrt_fence *const *wait, unsigned int num_wait,
			   struct jalrt_fence **fence_out)
{
	struct drm_jalapeno_submit req = { 0 };
	uint32_t *bo_list = NULL, *in_syncobjs = NULL;
	const uint32_t *cb_handles;
	unsigned int cb_count, bo_count = 0, i;
	struct jalrt_fence *fence = NULL;
	struct jalrt_device *dev;
	uint32_t cb_bo, cb_size;
	uint64_t cb_va;
	int ret;

	if (fence_out)
		*fence_out = NULL;
	if (!ctx || !cb)
		return jalrt_set_error(-EINVAL, "jalrt_submit: NULL %s", ctx ? "cmdbuf" : "context");
	if ((num_buffers && !buffers) || (num_wait && !wait))
		return jalrt_set_error(-EINVAL, "jalrt_submit: NULL %s array with a count",
				       num_wait && !wait ? "wait" : "buffer");
	dev = ctx->dev;
	if (jalrt_cmdbuf_device(cb) != dev)
		return jalrt_set_error(-EXDEV,
				       "jalrt_submit: command buffer and context are of different devices");
	for (i = 0; i < num_buffers; i++) {
		if (!buffers[i])
			return jalrt_set_error(-EINVAL, "jalrt_submit: buffers[%u] is NULL", i);
		if (buffers[i]->dev != dev)
			return jalrt_set_error(-EXDEV,
					       "jalrt_submit: buffers[%u] belongs to another device", i);
	}
	for (i = 0; i < num_wait; i++) {
		if (!wait[i])
			return jalrt_set_error(-EINVAL, "jalrt_submit: wait[%u] is NULL", i);
		if (wait[i]->ctx->dev != dev)
			return jalrt_set_error(-EXDEV,
					       "jalrt_submit: wait[%u] is a fence of another device", i);
	}

	ret = jalrt_cmdbuf_prepare(cb, &cb_va, &cb_size, &cb_bo, &cb_handles, &cb_count);
	if (ret)
		return ret;
	req.cmdbuf_va = cb_va;
	req.cmdbuf_size = cb_size;

	bo_list = malloc(((size_t)cb_count + num_buffers + 1) * sizeof(*bo_list));
	in_syncobjs = malloc(((size_t)num_wait + 1) * sizeof(*in_syncobjs));
	if (!bo_list || !in_syncobjs) {
		ret = jalrt_set_error(-ENOMEM, "jalrt_submit: out of memory");
		goto out;
	}
	add_handle(bo_list, &bo_count, cb_bo);
	for (i = 0; i < cb_count; i++)
		add_handle(bo_list, &bo_count, cb_handles[i]);
	for (i = 0; i < num_buffers; i++)
		add_handle(bo_list, &bo_count, buffers[i]->handle);
	for (i = 0; i < num_wait; i++)
		in_syncobjs[i] = wait[i]->syncobj;

	if (fence_out) {
		fence = calloc(1, sizeof(*fence));
		if (!fence) {
			ret = jalrt_set_error(-ENOMEM, "jalrt_submit: out of memory");
			goto out;
		}
		ret = dev->ops->syncobj_create(dev, &fence->syncobj);
		if (ret) {
			jalrt_set_error(ret, "jalrt_submit: cannot create a syncobj: %s",
					strerror(-ret));
			free(fence);
			fence = NULL;
			goto out;
		}
	}

	req.ctx_id = ctx->ctx_id;
	req.bo_count = bo_count;
	req.bo_handles = (uintptr_t)bo_list;
	req.in_syncobj_count = num_wait;
	req.in_syncobjs = num_wait ? (uintptr_t)in_syncobjs : 0;
	req.out_syncobj = fence ? fence->syncobj : 0;
	ret = jalrt_dev_ioctl(dev, DRM_IOCTL_JALAPENO_SUBMIT, &req);
	if (ret == -ECANCELED) {
		struct drm_jalapeno_ctx_status st;
		char why[192] = "reason unknown";

		if (!jalrt_ctx_status_raw(ctx, &st) && st.error_seqno)
			describe_failure(why, sizeof(why), &st);
		jalrt_set_error(ret,
				"jalrt_submit: context %u is banned: its job %llu failed: %s",
				ctx->ctx_id, (unsigned long long)st.error_seqno, why);
	} else if (ret) {
		jalrt_set_error(ret, "jalrt_submit: SUBMIT of %u command bytes failed: %s",
				req.cmdbuf_size, strerror(-ret));
	}
	if (ret) {
		if (fence) {
			dev->ops->syncobj_destroy(dev, fence->syncobj);
			free(fence);
		}
		goto out;
	}

	jalrt_stats_add(dev, 0, 0, 0, 1);
	if (fence) {
		jalrt_context_get(ctx);
		fence->ctx = ctx;
		fence->seqno = req.seqno;
		*fence_out = fence;
	}
out:
	free(bo_list);
	free(in_syncobjs);
	return ret;
}

/* The job ended: work out how from its context's status. */
static int fence_resolve(struct jalrt_fence *f)
{
	struct drm_jalapeno_ctx_status st;
	char why[192];
	int ret;

	if (!f->done) {
		ret = jalrt_ctx_status_raw(f->ctx, &st);
		if (ret)
			return jalrt_set_error(ret,
					       "job %llu on context %u ended, but CTX_STATUS failed: %s",
					       (unsigned long long)f->seqno, f->ctx->ctx_id,
					       strerror(-ret));
		memset(&f->result, 0, sizeof(f->result));
		if (st.error_seqno && st.error_seqno <= f->seqno) {
			f->first_error = st.error < 0 ? st.error :
					 jalrt_errno_from_hw_status(st.hw_status);
			if (!f->first_error)	/* failed, but nothing says how */
				f->first_error = -EIO;
			f->result.failed_seqno = st.error_seqno;
			f->result.hw_status = st.hw_status;
			f->result.fault_addr = st.fault_addr;
			f->result.error_offset = st.error_offset;
			f->result.error = st.error_seqno < f->seqno ? -ECANCELED : f->first_error;
		}
		f->done = true;
	}
	if (!f->result.error)
		return 0;

	st.error = f->first_error;
	st.hw_status = f->result.hw_status;
	st.fault_addr = f->result.fault_addr;
	st.error_offset = f->result.error_offset;
	describe_failure(why, sizeof(why), &st);
	if (f->result.error == -ECANCELED)
		return jalrt_set_error(-ECANCELED,
				       "job %llu on context %u canceled: job %llu of the context failed before it: %s",
				       (unsigned long long)f->seqno, f->ctx->ctx_id,
				       (unsigned long long)f->result.failed_seqno, why);
	return jalrt_set_error(f->result.error, "job %llu on context %u failed: %s",
			       (unsigned long long)f->seqno, f->ctx->ctx_id, why);
}

JALRT_API int jalrt_fence_wait(struct jalrt_fence *f, int64_t timeout_ns)
{
	struct jalrt_device *dev;
	int64_t deadline;
	int ret;

	if (!f)
		return jalrt_set_error(-EINVAL, "jalrt_fence_wait: NULL fence");
	if (f->done)
		return fence_resolve(f);
	dev = f->ctx->dev;
	ret = jalrt_abs_timeout(timeout_ns, &deadline);
	if (ret)
		return jalrt_set_error(ret, "jalrt_fence_wait: no monotonic clock");
	ret = dev->ops->syncobj_wait(dev, &f->syncobj, 1, deadline);
	if (ret == -ETIME || ret == -ETIMEDOUT)
		return jalrt_set_error(-ETIME,
				       "jalrt_fence_wait: job %llu on context %u still runs after %lld ns",
				       (unsigned long long)f->seqno, f->ctx->ctx_id,
				       (long long)timeout_ns);
	if (ret)
		return jalrt_set_error(ret, "jalrt_fence_wait: syncobj wait failed: %s",
				       strerror(-ret));
	return fence_resolve(f);
}

JALRT_API int jalrt_fence_status(struct jalrt_fence *f)
{
	struct jalrt_device *dev;
	int ret;

	if (!f)
		return jalrt_set_error(-EINVAL, "jalrt_fence_status: NULL fence");
	if (f->done)
		return fence_resolve(f);
	dev = f->ctx->dev;
	/* A deadline in the past only polls. */
	ret = dev->ops->syncobj_wait(dev, &f->syncobj, 1, 0);
	if (ret == -ETIME || ret == -ETIMEDOUT)
		return jalrt_set_error(-EINPROGRESS, "job %llu on context %u has not ended",
				       (unsigned long long)f->seqno, f->ctx->ctx_id);
	if (ret)
		return jalrt_set_error(ret, "jalrt_fence_status: syncobj wait failed: %s",
				       strerror(-ret));
	return fence_resolve(f);
}

JALRT_API int jalrt_fence_error(struct jalrt_fence *f, struct jalrt_job_error *err)
{
	int ret;

	if (!f || !err)
		return jalrt_set_error(-EINVAL, "jalrt_fence_error: NULL %s", f ? "err" : "fence");
	ret = jalrt_fence_status(f);
	if (!f->done)
		return ret;
	*err = f->result;
	return 0;
}

JALRT_API uint64_t jalrt_fence_seqno(const struct jalrt_fence *f)
{
	return f ? f->seqno : 0;
}

JALRT_API int jalrt_fence_destroy(struct jalrt_fence *f)
{
	struct jalrt_device *dev;

	if (!f)
		return 0;
	dev = f->ctx->dev;
	dev->ops->syncobj_destroy(dev, f->syncobj);
	jalrt_context_put(f->ctx);
	free(f);
	return 0;
}

/* ---- synchronous helpers ------------------------------------------------- */

JALRT_API int jalrt_submit_sync(struct jalrt_context *ctx, struct jalrt_cmdbuf *cb,
				struct jalrt_buffer *const *buffers, unsigned int num_buffers,
				int64_t timeout_ns)
{
	struct jalrt_fence *fence;
	int ret;

	ret = jalrt_submit(ctx, cb, buffers, num_buffers, NULL, 0, &fence);
	if (ret)
		return ret;
	ret = jalrt_fence_wait(fence, timeout_ns);
	jalrt_fence_destroy(fence);
	return ret;
}

/* One-command jobs: build, run and free a temporary command buffer. */
static int run_one(struct jalrt_context *ctx, const char *fn, int (*build)(struct jalrt_cmdbuf *,
		   void *), void *arg, struct jalrt_buffer *const *buffers,
		   unsigned int num_buffers, int64_t timeout_ns)
{
	struct jalrt_cmdbuf *cb;
	int ret;

	if (!ctx)
		return jalrt_set_error(-EINVAL, "%s: NULL context", fn);
	ret = jalrt_cmdbuf_create(ctx->dev, &cb);
	if (ret)
		return ret;
	ret = build(cb, arg);
	if (!ret)
		ret = jalrt_submit_sync(ctx, cb, buffers, num_buffers, timeout_ns);
	jalrt_cmdbuf_destroy(cb);
	return ret;
}

struct dispatch_args {
	struct jalrt_kernel *kernel;
	const uint64_t *args;
	unsigned int num_args;
};

static int build_dispatch(struct jalrt_cmdbuf *cb, void *p)
{
	struct dispatch_args *a = p;

	return jalrt_cmdbuf_dispatch(cb, a->kernel, a->args, a->num_args);
}

JALRT_API int jalrt_dispatch_sync(struct jalrt_context *ctx, struct jalrt_kernel *kernel,
				  const uint64_t *args, unsigned int num_args,
				  struct jalrt_buffer *const *buffers, unsigned int num_buffers,
				  int64_t timeout_ns)
{
	struct dispatch_args a = { kernel, args, num_args };

	return run_one(ctx, __func__, build_dispatch, &a, buffers, num_buffers, timeout_ns);
}

struct copy_args {
	struct jalrt_buffer *dst, *src;
	uint64_t dst_off, src_off, size;
	uint32_t pattern;
};

static int build_copy(struct jalrt_cmdbuf *cb, void *p)
{
	struct copy_args *a = p;

	return jalrt_cmdbuf_copy(cb, a->dst, a->dst_off, a->src, a->src_off, a->size);
}

static int build_fill(struct jalrt_cmdbuf *cb, void *p)
{
	struct copy_args *a = p;

	return jalrt_cmdbuf_fill(cb, a->dst, a->dst_off, a->size, a->pattern);
}

JALRT_API int jalrt_copy_sync(struct jalrt_context *ctx, struct jalrt_buffer *dst,
			      uint64_t dst_off, struct jalrt_buffer *src, uint64_t src_off,
			      uint64_t size, int64_t timeout_ns)
{
	struct copy_args a = { dst, src, dst_off, src_off, size, 0 };

	return run_one(ctx, __func__, build_copy, &a, NULL, 0, timeout_ns);
}

JALRT_API int jalrt_fill_sync(struct jalrt_context *ctx, struct jalrt_buffer *dst,
			      uint64_t dst_off, uint64_t size, uint32_t pattern,
			      int64_t timeout_ns)
{
	struct copy_args a = { dst, NULL, dst_off, 0, size, pattern };

	return run_one(ctx, __func__, build_fill, &a, NULL, 0, timeout_ns);
}
