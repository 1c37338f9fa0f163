// SPDX-License-Identifier: MIT
/*
 * Hardware contexts. A context is reference counted because fences keep
 * it: a job's result is read from its context's status after the wait.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jalrt_internal.h"

JALRT_API int jalrt_context_create(struct jalrt_device *dev, unsigned int priority,
				   struct jalrt_context **out)
{
	struct drm_jalapeno_ctx_create req = { 0 };
	struct jalrt_context *ctx;
	int ret;

	if (!dev || !out)
		return jalrt_set_error(-EINVAL, "jalrt_context_create: NULL %s",
				       dev ? "ctx" : "device");
	*out = NULL;
	if (priority > JALRT_PRIORITY_REALTIME)
		return jalrt_set_error(-EINVAL,
				       "jalrt_context_create: priority %u is not 0 (low) .. 3 (realtime)",
				       priority);
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return jalrt_set_error(-ENOMEM, "jalrt_context_create: out of memory");
	req.priority = priority;
	ret = jalrt_dev_ioctl(dev, DRM_IOCTL_JALAPENO_CTX_CREATE, &req);
	if (ret) {
		free(ctx);
		if (ret == -EPERM || ret == -EACCES)
			return jalrt_set_error(ret,
					       "jalrt_context_create: priority %u needs CAP_SYS_NICE",
					       priority);
		return jalrt_set_error(ret, "jalrt_context_create: CTX_CREATE failed: %s",
				       strerror(-ret));
	}
	atomic_init(&ctx->refs, 1);
	ctx->dev = jalrt_device_get(dev);
	ctx->ctx_id = req.ctx_id;
	ctx->priority = priority;
	jalrt_stats_add(dev, 0, 0, 1, 0);
	*out = ctx;
	return 0;
}

void jalrt_context_get(struct jalrt_context *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
}

void jalrt_context_put(struct jalrt_context *ctx)
{
	struct drm_jalapeno_ctx_destroy req = { 0 };
	struct jalrt_device *dev;

	if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1)
		return;
	dev = ctx->dev;
	req.ctx_id = ctx->ctx_id;
	jalrt_dev_ioctl(dev, DRM_IOCTL_JALAPENO_CTX_DESTROY, &req);
	jalrt_stats_add(dev, 0, 0, -1, 0);
	free(ctx);
	jalrt_device_put(dev);
}

JALRT_API int jalrt_context_destroy(struct jalrt_context *ctx)
{
	jalrt_context_put(ctx);
	return 0;
}

int jalrt_ctx_status_raw(struct jalrt_context *ctx, struct drm_jalapeno_ctx_status *st)
{
	memset(st, 0, sizeof(*st));
	st->ctx_id = ctx->ctx_id;
	return jalrt_dev_ioctl(ctx->dev, DRM_IOCTL_JALAPENO_CTX_STATUS, st);
}

JALRT_API int jalrt_context_status(struct jalrt_context *ctx,
				   struct jalrt_context_status *status)
{
	struct drm_jalapeno_ctx_status st;
	int ret;

	if (!ctx || !status)
		return jalrt_set_error(-EINVAL, "jalrt_context_status: NULL %s",
				       ctx ? "status" : "context");
	ret = jalrt_ctx_status_raw(ctx, &st);
	if (ret)
		return jalrt_set_error(ret, "jalrt_context_status: CTX_STATUS failed: %s",
				       strerror(-ret));
	status->banned = st.state == DRM_JALAPENO_CTX_BANNED;
	status->priority = ctx->priority;
	status->submitted = st.submitted;
	status->completed = st.completed;
	status->error_seqno = st.error_seqno;
	status->error = st.error;
	status->hw_status = st.hw_status;
	status->fault_addr = st.fault_addr;
	status->error_offset = st.error_offset;
	return 0;
}
