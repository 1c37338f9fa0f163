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
	ret = jalrt_dev_ioctl(dev, DRM_IOCTL_JALAPENO_BO_CREATE, &create);
	if (ret) {
		free(buf);
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
	ret = dev->ops->mmap(dev, info.size, info.mmap_offset, &buf->host);
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

JALRT_API int jalrt_buffer_upload(struct jalrt_buffer *buf, uint64_t offset, const void *src,
				  uint64_t size)
{
	int ret;

	if (!buf || (!src && size))
		return jalrt_set_error(-EINVAL, "jalrt_buffer_upload: NULL %s",
				       buf ? "source" : "buffer");
	ret = check_range(__func__, buf, offset, size);
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
