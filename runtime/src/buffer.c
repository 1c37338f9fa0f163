// SPDX-License-Identifier: MIT
/*
 * Device buffers: GEM BOs with a device VA and a host mapping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jalrt_internal.h"

static void gem_close(struct jalrt_device *dev, uint32_t handle)
{
	struct drm_gem_close req = { .handle = handle };

	jalrt_dev_ioctl(dev, DRM_IOCTL_GEM_CLOSE, &req);
}

JALRT_API int jalrt_buffer_alloc(struct jalrt_device *dev, uint64_t size, uint32_t flags,
				 struct jalrt_buffer **out)
{
	struct drm_jalapeno_bo_create create = { 0 };
	struct drm_jalapeno_bo_info info = { 0 };
	struct jalrt_buffer *buf;
	uint64_t span;
	int ret;

	if (!dev || !out)
		return jalrt_set_error(-EINVAL, "jalrt_buffer_alloc: NULL %s",
				       dev ? "buf" : "device");
	*out = NULL;
	if (!size)
		return jalrt_set_error(-EINVAL, "jalrt_buffer_alloc: size is 0");
	if (flags & ~JALRT_BUFFER_FLAGS)
		return jalrt_set_error(-EINVAL, "jalrt_buffer_alloc: unknown flags 0x%x",
				       flags & ~JALRT_BUFFER_FLAGS);
	span = dev->info.va_end > dev->info.va_start ? dev->info.va_end - dev->info.va_start : 0;
	if (span && size > span)
		return jalrt_set_error(-E2BIG,
				       "jalrt_buffer_alloc: %llu bytes exceed the device address space (%llu bytes)",
				       (unsigned long long)size, (unsigned long long)span);
	if (size > SIZE_MAX - dev->info.page_size)
		return jalrt_set_error(-E2BIG, "jalrt_buffer_alloc: %llu bytes cannot be mapped",
				       (unsigned long long)size);

	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return jalrt_set_error(-ENOMEM, "jalrt_buffer_alloc: out of memory");

	create.size = size;
	create.flags = flags & JALRT_BUFFER_DEVICE_READONLY ? DRM_JALAPENO_BO_DEVICE_READONLY : 0;
	if (flags & JALRT_BUFFER_VRAM)
		create.flags |= DRM_JALAPENO_BO_VRAM;
	ret = jalrt_dev_ioctl(dev, DRM_IOCTL_JALAPENO_BO_CREATE, &create);
	if (ret) {
		free(buf);
		if (flags & JALRT_BUFFER_VRAM)
			return jalrt_set_error(ret,
					       "jalrt_buffer_alloc: BO_CREATE of %llu bytes of device memory failed: %s%s",
					       (unsigned long long)size, strerror(-ret),
					       ret == -EINVAL && !dev->info.vram_size ?
					       " (the device reports no device memory)" : "");
		return jalrt_set_error(ret, "jalrt_buffer_alloc: BO_CREATE of %llu bytes failed: %s",
				       (unsigned long long)size, strerror(-ret));
	}
	info.handle = create.handle;
	ret = jalrt_dev_ioctl(dev, DRM_IOCTL_JALAPENO_BO_INFO, &info);
	if (ret) {
		jalrt_set_error(ret, "jalrt_buffer_alloc: BO_INFO failed: %s", strerror(-ret));
		goto err_close;
	}
	if (info.size < size) {
		ret = jalrt_set_error(-EIO, "jalrt_buffer_alloc: driver made %llu bytes, not %llu",
				      (unsigned long long)info.size, (unsigned long long)size);
		goto err_close;
	}
	/* Device memory has no host mapping: it is reached by COPY commands. */
	ret = flags & JALRT_BUFFER_VRAM ? 0 :
	      dev->ops->mmap(dev, info.size, info.mmap_offset, &buf->host);
	if (ret) {
		jalrt_set_error(ret, "jalrt_buffer_alloc: mmap of %llu bytes failed: %s",
				(unsigned long long)info.size, strerror(-ret));
		goto err_close;
	}
	buf->dev = jalrt_device_get(dev);
	buf->handle = create.handle;
	buf->flags = flags;
	buf->size = size;
	buf->alloc_size = info.size;
	buf->va = create.va;
	jalrt_stats_add(dev, 1, (int64_t)buf->alloc_size, 0, 0);
	*out = buf;
	return 0;

err_close:
	gem_close(dev, create.handle);
	free(buf);
	return ret;
}

JALRT_API int jalrt_buffer_free(struct jalrt_buffer *buf)
{
	struct jalrt_device *dev;

	if (!buf)
		return 0;
	dev = buf->dev;
	if (buf->host)
		dev->ops->munmap(dev, buf->host, buf->alloc_size);
	gem_close(dev, buf->handle);
	jalrt_stats_add(dev, -1, -(int64_t)buf->alloc_size, 0, 0);
	free(buf);
	jalrt_device_put(dev);
	return 0;
}

JALRT_API int jalrt_buffer_query(const struct jalrt_buffer *buf, struct jalrt_buffer_info *info)
{
	if (!buf || !info)
		return jalrt_set_error(-EINVAL, "jalrt_buffer_query: NULL %s",
				       buf ? "info" : "buffer");
	info->size = buf->size;
	info->alloc_size = buf->alloc_size;
	info->va = buf->va;
	info->host = buf->host;
	info->flags = buf->flags;
	info->handle = buf->handle;
	return 0;
}

JALRT_API uint64_t jalrt_buffer_va(const struct jalrt_buffer *buf)
{
	return buf ? buf->va : 0;
}

JALRT_API void *jalrt_buffer_host(const struct jalrt_buffer *buf)
{
	return buf ? buf->host : NULL;
}

JALRT_API uint64_t jalrt_buffer_size(const struct jalrt_buffer *buf)
{
	return buf ? buf->size : 0;
}

/* Is [offset, offset + size) inside @buf? Written to be overflow-proof. */
static int check_range(const char *fn, const struct jalrt_buffer *buf, uint64_t offset,
		       uint64_t size)
{
	if (offset > buf->size || size > buf->size - offset)
		return jalrt_set_error(-ERANGE,
				       "%s: range [%llu, +%llu) is outside the %llu-byte buffer", fn,
				       (unsigned long long)offset, (unsigned long long)size,
				       (unsigned long long)buf->size);
	return 0;
}

static int check_mapped(const char *fn, const struct jalrt_buffer *buf)
{
	if (!buf->host)
		return jalrt_set_error(-EPERM,
				       "%s: the buffer is in device memory and has no host mapping (use jalrt_buffer_write/read)",
				       fn);
	return 0;
}

JALRT_API int jalrt_buffer_upload(struct jalrt_buffer *buf, uint64_t offset, const void *src,
				  uint64_t size)
{
	int ret;

	if (!buf || (!src && size))
		return jalrt_set_error(-EINVAL, "jalrt_buffer_upload: NULL %s",
				       buf ? "source" : "buffer");
	ret = check_range(__func__, buf, offset, size);
	if (!ret)
		ret = check_mapped(__func__, buf);
	if (ret)
		return ret;
	if (size)
		memcpy((char *)buf->host + offset, src, size);
	return 0;
}

JALRT_API int jalrt_buffer_download(struct jalrt_buffer *buf, uint64_t offset, void *dst,
				    uint64_t size)
{
	int ret;

	if (!buf || (!dst && size))
		return jalrt_set_error(-EINVAL, "jalrt_buffer_download: NULL %s",
				       buf ? "destination" : "buffer");
	ret = check_range(__func__, buf, offset, size);
	if (!ret)
		ret = check_mapped(__func__, buf);
	if (ret)
		return ret;
	if (size)
		memcpy(dst, (const char *)buf->host + offset, size);
	return 0;
}

JALRT_API int jalrt_buffer_wait(struct jalrt_buffer *buf, int64_t timeout_ns)
{
	struct drm_jalapeno_bo_wait req = { 0 };
	int64_t deadline;
	int ret;

	if (!buf)
		return jalrt_set_error(-EINVAL, "jalrt_buffer_wait: NULL buffer");
	ret = jalrt_abs_timeout(timeout_ns, &deadline);
	if (ret)
		return jalrt_set_error(ret, "jalrt_buffer_wait: no monotonic clock");
	req.handle = buf->handle;
	req.timeout_ns = deadline;
	ret = jalrt_dev_ioctl(buf->dev, DRM_IOCTL_JALAPENO_BO_WAIT, &req);
	/* The ABI says -ETIMEDOUT; the library reserves that for job errors. */
	if (ret == -ETIMEDOUT || ret == -ETIME || ret == -EBUSY)
		return jalrt_set_error(-ETIME, "jalrt_buffer_wait: jobs using the buffer still run");
	if (ret)
		return jalrt_set_error(ret, "jalrt_buffer_wait: BO_WAIT failed: %s",
				       strerror(-ret));
	return 0;
}

JALRT_API bool jalrt_buffer_is_vram(const struct jalrt_buffer *buf)
{
	return buf && (buf->flags & JALRT_BUFFER_VRAM);
}

/* Staging buffers of device-memory transfers: large enough to amortise a job. */
#define JALRT_STAGING_MAX	(4ull << 20)

/*
 * Move @size bytes between host memory @host and @buf at @offset through a
 * staging buffer, one COPY job per chunk (@to_device: host -> @buf).
 */
static int staged_transfer(const char *fn, struct jalrt_context *ctx, struct jalrt_buffer *buf,
			   uint64_t offset, void *host, uint64_t size, bool to_device)
{
	struct jalrt_buffer *staging = NULL;
	uint64_t done, chunk;
	int ret;

	if (buf->flags & JALRT_BUFFER_DEVICE_READONLY && to_device) {
		/* COPY writes with the device's rights: it cannot fill such a BO. */
		return jalrt_set_error(-EACCES,
				       "%s: a device-read-only buffer in device memory cannot be written",
				       fn);
	}
	chunk = size < JALRT_STAGING_MAX ? size : JALRT_STAGING_MAX;
	ret = jalrt_buffer_alloc(buf->dev, chunk, 0, &staging);
	if (ret)
		return ret;
	for (done = 0; done < size; done += chunk) {
		uint64_t n = size - done < chunk ? size - done : chunk;

		if (to_device) {
			memcpy(staging->host, (const char *)host + done, n);
			ret = jalrt_copy_sync(ctx, buf, offset + done, staging, 0, n,
					      JALRT_TIMEOUT_INFINITE);
		} else {
			ret = jalrt_copy_sync(ctx, staging, 0, buf, offset + done, n,
					      JALRT_TIMEOUT_INFINITE);
			if (!ret)
				memcpy((char *)host + done, staging->host, n);
		}
		if (ret)
			break;
	}
	jalrt_buffer_free(staging);
	return ret;
}

JALRT_API int jalrt_buffer_write(struct jalrt_context *ctx, struct jalrt_buffer *buf,
				 uint64_t offset, const void *src, uint64_t size)
{
	int ret;

	if (!buf || (!src && size))
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, buf ? "source" : "buffer");
	ret = check_range(__func__, buf, offset, size);
	if (ret || !size)
		return ret;
	if (buf->host) {
		memcpy((char *)buf->host + offset, src, size);
		return 0;
	}
	if (!ctx)
		return jalrt_set_error(-EINVAL, "%s: NULL context for a buffer in device memory",
				       __func__);
	if (ctx->dev != buf->dev)
		return jalrt_set_error(-EXDEV, "%s: context and buffer are of different devices",
				       __func__);
	return staged_transfer(__func__, ctx, buf, offset, (void *)src, size, true);
}

JALRT_API int jalrt_buffer_read(struct jalrt_context *ctx, struct jalrt_buffer *buf,
				uint64_t offset, void *dst, uint64_t size)
{
	int ret;

	if (!buf || (!dst && size))
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       buf ? "destination" : "buffer");
	ret = check_range(__func__, buf, offset, size);
	if (ret || !size)
		return ret;
	if (buf->host) {
		memcpy(dst, (const char *)buf->host + offset, size);
		return 0;
	}
	if (!ctx)
		return jalrt_set_error(-EINVAL, "%s: NULL context for a buffer in device memory",
				       __func__);
	if (ctx->dev != buf->dev)
		return jalrt_set_error(-EXDEV, "%s: context and buffer are of different devices",
				       __func__);
	return staged_transfer(__func__, ctx, buf, offset, dst, size, false);
}
