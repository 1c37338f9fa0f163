// SPDX-License-Identifier: MIT
/*
 * Device enumeration, open/close, the libdrm backend and device-wide
 * counters.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xf86drm.h>

#include "jalrt_internal.h"

#define JALRT_ACCEL_DIR		"/dev/accel"
#define JALRT_DRIVER_NAME	"jalapeno"

/* ---- libdrm backend ---------------------------------------------------- */

static int drm_backend_ioctl(struct jalrt_device *dev, unsigned long request, void *arg)
{
	/* drmIoctl restarts on EINTR/EAGAIN. */
	if (drmIoctl(dev->fd, request, arg))
		return -errno;
	return 0;
}

static int drm_backend_mmap(struct jalrt_device *dev, size_t size, uint64_t offset,
			    void **addr)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd,
		       (off_t)offset);

	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

static void drm_backend_munmap(struct jalrt_device *dev, void *addr, size_t size)
{
	(void)dev;
	munmap(addr, size);
}

static int drm_backend_syncobj_create(struct jalrt_device *dev, uint32_t *handle)
{
	if (drmSyncobjCreate(dev->fd, 0, handle))
		return -errno;
	return 0;
}

static void drm_backend_syncobj_destroy(struct jalrt_device *dev, uint32_t handle)
{
	drmSyncobjDestroy(dev->fd, handle);
}

static int drm_backend_syncobj_wait(struct jalrt_device *dev, uint32_t *handles,
				    unsigned int count, int64_t abs_timeout_ns)
{
	/*
	 * WAIT_ALL; no WAIT_FOR_SUBMIT since every fence handed out already
	 * has its job's fence installed.
	 */
	if (drmSyncobjWait(dev->fd, handles, count, abs_timeout_ns,
			   DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL, NULL))
		return -errno;
	return 0;
}

static void drm_backend_close(struct jalrt_device *dev)
{
	close(dev->fd);
}

static const struct jalrt_backend_ops drm_backend_ops = {
	.ioctl = drm_backend_ioctl,
	.mmap = drm_backend_mmap,
	.munmap = drm_backend_munmap,
	.syncobj_create = drm_backend_syncobj_create,
	.syncobj_destroy = drm_backend_syncobj_destroy,
	.syncobj_wait = drm_backend_syncobj_wait,
	.close = drm_backend_close,
};

/* ---- helpers used by the other files ---------------------------------- */

int jalrt_dev_ioctl(struct jalrt_device *dev, unsigned long request, void *arg)
{
	return dev->ops->ioctl(dev, request, arg);
}

struct jalrt_device *jalrt_device_get(struct jalrt_device *dev)
{
	atomic_fetch_add(&dev->refs, 1);
	return dev;
}

void jalrt_device_put(struct jalrt_device *dev)
{
	if (!dev || atomic_fetch_sub(&dev->refs, 1) != 1)
		return;
	if (dev->ops->close)
		dev->ops->close(dev);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

void jalrt_stats_add(struct jalrt_device *dev, int64_t buffers, int64_t bytes,
		     int64_t contexts, int64_t submits)
{
	pthread_mutex_lock(&dev->lock);
	dev->stats.buffers += buffers;
	dev->stats.buffer_bytes += bytes;
	dev->stats.contexts += contexts;
	dev->stats.submits += submits;
	pthread_mutex_unlock(&dev->lock);
}

int jalrt_abs_timeout(int64_t timeout_ns, int64_t *abs_ns)
{
	struct timespec now;
	int64_t now_ns;

	if (timeout_ns < 0) {
		*abs_ns = INT64_MAX;
		return 0;
	}
	if (clock_gettime(CLOCK_MONOTONIC, &now))
		return -errno;
	now_ns = (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
	*abs_ns = timeout_ns > INT64_MAX - now_ns ? INT64_MAX : now_ns + timeout_ns;
	return 0;
}

static struct jalrt_device *device_alloc(void)
{
	struct jalrt_device *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	atomic_init(&dev->refs, 1);
	dev->fd = -1;
	pthread_mutex_init(&dev->lock, NULL);
	return dev;
}

int jalrt_device_create_with_backend(const struct jalrt_backend_ops *ops, void *priv,
				     const struct jalrt_device_info *info,
				     struct jalrt_device **out)
{
	struct jalrt_device *dev;

	if (!ops || !info || !out)
		return jalrt_set_error(-EINVAL, "%s: NULL argument", __func__);
	dev = device_alloc();
	if (!dev)
		return jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
	dev->ops = ops;
	dev->backend_priv = priv;
	dev->info = *info;
	*out = dev;
	return 0;
}

/* ---- enumeration ------------------------------------------------------ */

/* Is the open DRM file @fd driven by jalapeno.ko? Fills @version. */
static bool is_jalapeno(int fd, uint32_t *version)
{
	drmVersionPtr v = drmGetVersion(fd);
	bool match;

	if (!v)
		return false;
	match = v->name && strcmp(v->name, JALRT_DRIVER_NAME) == 0;
	if (version)
		*version = (uint32_t)(v->version_major & 0xffff) << 16 |
			   (uint32_t)(v->version_minor & 0xff) << 8 |
			   (uint32_t)(v->version_patchlevel & 0xff);
	drmFreeVersion(v);
	return match;
}

/* "accelN" -> N; false for anything else. */
static bool parse_accel_name(const char *name, unsigned int *minor)
{
	char *end;
	unsigned long n;

	if (strncmp(name, "accel", 5) != 0 || name[5] < '0' || name[5] > '9')
		return false;
	errno = 0;
	n = strtoul(name + 5, &end, 10);
	if (*end || errno || n > UINT_MAX)
		return false;
	*minor = (unsigned int)n;
	return true;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct jalrt_device_entry *x = a, *y = b;

	return x->minor < y->minor ? -1 : x->minor > y->minor;
}

int jalrt_enumerate_dir(const char *dir, struct jalrt_device_entry *entries, unsigned int max,
			unsigned int *count)
{
	struct jalrt_device_entry *found = NULL;
	unsigned int n = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;

	if (!count || (max && !entries))
		return jalrt_set_error(-EINVAL, "jalrt_device_enumerate: NULL %s",
				       count ? "entries with max > 0" : "count");
	*count = 0;
	d = opendir(dir);
	if (!d) {
		/* No accel class at all: simply no devices. */
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return jalrt_set_error(-errno, "jalrt_device_enumerate: cannot read %s: %s",
				       dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		struct jalrt_device_entry e;
		int fd;

		if (!parse_accel_name(de->d_name, &e.minor))
			continue;
		if (snprintf(e.path, sizeof(e.path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(e.path))
			continue;
		fd = open(e.path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!is_jalapeno(fd, NULL)) {
			close(fd);
			continue;
		}
		close(fd);
		if (n == cap) {
			struct jalrt_device_entry *nf;

			cap = cap ? cap * 2 : 8;
			nf = realloc(found, cap * sizeof(*found));
			if (!nf) {
				free(found);
				closedir(d);
				return jalrt_set_error(-ENOMEM, "jalrt_device_enumerate: out of memory");
			}
			found = nf;
		}
		found[n++] = e;
	}
	closedir(d);
	if (n)
		qsort(found, n, sizeof(*found), cmp_entry);
	for (i = 0; i < n && i < max; i++)
		entries[i] = found[i];
	free(found);
	*count = n;
	return 0;
}

JALRT_API int jalrt_device_enumerate(struct jalrt_device_entry *entries, unsigned int max,
				     unsigned int *count)
{
	return jalrt_enumerate_dir(JALRT_ACCEL_DIR, entries, max, count);
}

/* ---- open/close ------------------------------------------------------- */

static int query_device_info(struct jalrt_device *dev)
{
	struct drm_jalapeno_device_info hw;
	struct drm_jalapeno_query q;
	int ret;

	memset(&hw, 0, sizeof(hw));
	memset(&q, 0, sizeof(q));
	q.type = DRM_JALAPENO_QUERY_DEVICE_INFO;
	q.size = sizeof(hw);
	q.data = (uintptr_t)&hw;
	ret = jalrt_dev_ioctl(dev, DRM_IOCTL_JALAPENO_QUERY, &q);
	if (ret)
		return jalrt_set_error(ret, "jalrt_device_open: DEVICE_INFO query on %s failed: %s",
				       dev->info.path, strerror(-ret));

	dev->info.vendor_id = hw.vendor_id;
	dev->info.device_id = hw.device_id;
	dev->info.revision = hw.revision;
	dev->info.hw_version = hw.hw_version;
	dev->info.caps = hw.caps;
	dev->info.num_queues = hw.num_queues;
	dev->info.num_contexts = hw.num_contexts;
	dev->info.va_start = hw.va_start;
	dev->info.va_end = hw.va_end;
	dev->info.max_cmdbuf_size = hw.max_cmdbuf_size;
	dev->info.max_code_size = hw.max_code_size;
	dev->info.page_size = hw.page_size;
	/* A driver that predates device memory leaves this 0. */
	dev->info.vram_size = hw.vram_size;
	/* Limits an older driver might not report: the chip's defaults. */
	if (!dev->info.max_cmdbuf_size)
		dev->info.max_cmdbuf_size = JAL_MAX_CMDBUF_SIZE;
	if (!dev->info.max_code_size)
		dev->info.max_code_size = JAL_MAX_CODE_SIZE;
	if (!dev->info.page_size)
		dev->info.page_size = JAL_PAGE_SIZE;
	return 0;
}

JALRT_API int jalrt_device_open_path(const char *path, struct jalrt_device **out)
{
	struct jalrt_device *dev;
	int fd, ret;

	if (!path || !out)
		return jalrt_set_error(-EINVAL, "jalrt_device_open_path: NULL %s",
				       path ? "dev" : "path");
	*out = NULL;
	if (strlen(path) >= JALRT_PATH_MAX)
		return jalrt_set_error(-ENAMETOOLONG, "jalrt_device_open_path: path too long");

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return jalrt_set_error(ret, "jalrt_device_open_path: cannot open %s: %s", path,
				       strerror(-ret));
	}
	dev = device_alloc();
	if (!dev) {
		close(fd);
		return jalrt_set_error(-ENOMEM, "jalrt_device_open_path: out of memory");
	}
	dev->fd = fd;
	dev->ops = &drm_backend_ops;
	snprintf(dev->info.path, sizeof(dev->info.path), "%s", path);
	if (!is_jalapeno(fd, &dev->info.driver_version)) {
		jalrt_device_put(dev);
		return jalrt_set_error(-ENODEV, "jalrt_device_open_path: %s is not a %s device",
				       path, JALRT_DRIVER_NAME);
	}
	snprintf(dev->info.driver_name, sizeof(dev->info.driver_name), "%s",
		 JALRT_DRIVER_NAME);
	ret = query_device_info(dev);
	if (ret) {
		jalrt_device_put(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

int jalrt_open_index_dir(const char *dir, unsigned int index, struct jalrt_device **out)
{
	struct jalrt_device_entry *entries;
	unsigned int count;
	int ret;

	if (!out)
		return jalrt_set_error(-EINVAL, "jalrt_device_open: NULL dev");
	*out = NULL;
	ret = jalrt_enumerate_dir(dir, NULL, 0, &count);
	if (ret)
		return ret;
	if (index >= count) {
		if (!count)
			return jalrt_set_error(-ENODEV,
					       "jalrt_device_open: no Jalapeño device under %s (is jalapeno.ko loaded?)",
					       dir);
		return jalrt_set_error(-ENODEV,
				       "jalrt_device_open: device index %u requested, only %u found",
				       index, count);
	}
	entries = calloc(count, sizeof(*entries));
	if (!entries)
		return jalrt_set_error(-ENOMEM, "jalrt_device_open: out of memory");
	ret = jalrt_enumerate_dir(dir, entries, count, &count);
	if (!ret && index >= count)	/* a device went away in between */
		ret = jalrt_set_error(-ENODEV, "jalrt_device_open: device %u disappeared",
				      index);
	if (!ret)
		ret = jalrt_device_open_path(entries[index].path, out);
	free(entries);
	return ret;
}

JALRT_API int jalrt_device_open(unsigned int index, struct jalrt_device **out)
{
	return jalrt_open_index_dir(JALRT_ACCEL_DIR, index, out);
}

JALRT_API int jalrt_device_close(struct jalrt_device *dev)
{
	jalrt_device_put(dev);
	return 0;
}

JALRT_API int jalrt_device_query(struct jalrt_device *dev, struct jalrt_device_info *info)
{
	if (!dev || !info)
		return jalrt_set_error(-EINVAL, "jalrt_device_query: NULL %s",
				       dev ? "info" : "device");
	*info = dev->info;
	return 0;
}

JALRT_API int jalrt_device_stats(struct jalrt_device *dev, struct jalrt_device_stats *stats)
{
	if (!dev || !stats)
		return jalrt_set_error(-EINVAL, "jalrt_device_stats: NULL %s",
				       dev ? "stats" : "device");
	pthread_mutex_lock(&dev->lock);
	*stats = dev->stats;
	pthread_mutex_unlock(&dev->lock);
	return 0;
}
