/* SPDX-License-Identifier: MIT */
/*
 * libjalrt internals shared by the source files (and by the host unit
 * tests, which link the static library and plug in a fake backend).
 */
#ifndef JALRT_INTERNAL_H
#define JALRT_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#include "jalrt.h"
#include "jalapeno_accel.h"

#define JALRT_HIDDEN __attribute__((visibility("hidden")))

#define JALRT_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define JALRT_ALIGN(x, a)	(((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))

/*
 * Everything the library asks of the kernel goes through these hooks, so
 * that the host unit tests can run the submit and fence logic against a
 * fake driver. Every hook returns 0 or a negative errno.
 */
struct jalrt_backend_ops {
	int (*ioctl)(struct jalrt_device *dev, unsigned long request, void *arg);
	int (*mmap)(struct jalrt_device *dev, size_t size, uint64_t offset, void **addr);
	void (*munmap)(struct jalrt_device *dev, void *addr, size_t size);
	int (*syncobj_create)(struct jalrt_device *dev, uint32_t *handle);
	void (*syncobj_destroy)(struct jalrt_device *dev, uint32_t handle);
	/* @abs_timeout_ns: CLOCK_MONOTONIC deadline; -ETIME when it passes */
	int (*syncobj_wait)(struct jalrt_device *dev, uint32_t *handles, unsigned int count,
			    int64_t abs_timeout_ns);
	void (*close)(struct jalrt_device *dev);
};

struct jalrt_device {
	atomic_uint refs;
	int fd;
	const struct jalrt_backend_ops *ops;
	void *backend_priv;
	struct jalrt_device_info info;

	/* Protects the counters below; they are shared by all threads. */
	pthread_mutex_t lock;
	struct jalrt_device_stats stats;
};

struct jalrt_buffer {
	struct jalrt_device *dev;
	uint32_t handle;
	uint32_t flags;
	uint64_t size;
	uint64_t alloc_size;
	uint64_t va;
	void *host;
};

struct jalrt_context {
	atomic_uint refs;
	struct jalrt_device *dev;
	uint32_t ctx_id;
	unsigned int priority;
};

struct jalrt_kernel {
	struct jalrt_buffer *code;
	uint32_t num_insns;
	unsigned int num_args;
};

struct jalrt_fence {
	struct jalrt_context *ctx;
	uint32_t syncobj;
	uint64_t seqno;
	/* Cached once the job is known to have ended. */
	bool done;
	struct jalrt_job_error result;
	int first_error;	/* error of the context's failed job */
};

/* error.c */
JALRT_HIDDEN int jalrt_set_error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
JALRT_HIDDEN void jalrt_clear_error(void);
JALRT_HIDDEN int jalrt_errno_from_hw_status(uint32_t hw_status);

/* device.c */
JALRT_HIDDEN struct jalrt_device *jalrt_device_get(struct jalrt_device *dev);
JALRT_HIDDEN void jalrt_device_put(struct jalrt_device *dev);
JALRT_HIDDEN int jalrt_dev_ioctl(struct jalrt_device *dev, unsigned long request, void *arg);
JALRT_HIDDEN void jalrt_stats_add(struct jalrt_device *dev, int64_t buffers, int64_t bytes,
				  int64_t contexts, int64_t submits);
JALRT_HIDDEN int jalrt_abs_timeout(int64_t timeout_ns, int64_t *abs_ns);
/*
 * Create a device on an arbitrary backend (tests). @info is what the QUERY
 * ioctl would report; the backend's ioctl hook is not asked for it.
 */
JALRT_HIDDEN int jalrt_device_create_with_backend(const struct jalrt_backend_ops *ops,
						  void *priv, const struct jalrt_device_info *info,
						  struct jalrt_device **dev);
/* Enumerate Jalapeño nodes under @dir (tests point it at a scratch dir). */
JALRT_HIDDEN int jalrt_enumerate_dir(const char *dir, struct jalrt_device_entry *entries,
				     unsigned int max, unsigned int *count);
JALRT_HIDDEN int jalrt_open_index_dir(const char *dir, unsigned int index,
				      struct jalrt_device **dev);

/* context.c */
JALRT_HIDDEN void jalrt_context_get(struct jalrt_context *ctx);
JALRT_HIDDEN void jalrt_context_put(struct jalrt_context *ctx);
JALRT_HIDDEN int jalrt_ctx_status_raw(struct jalrt_context *ctx,
				      struct drm_jalapeno_ctx_status *st);

/* kernel_builder.c: validates one instruction; @count = code length or 0 */
JALRT_HIDDEN int jalrt_validate_insn(const struct jal_insn *insn, uint32_t index,
				     uint32_t count);
JALRT_HIDDEN const char *jalrt_opcode_name(unsigned int opcode);
JALRT_HIDDEN const char *jalrt_dtype_name(unsigned int dtype);

/*
 * cmdbuf.c: write the commands into the device buffer for a submit; returns
 * its VA, the commands' size, the device buffer's handle and the handles
 * of the buffers the commands name.
 */
JALRT_HIDDEN int jalrt_cmdbuf_prepare(struct jalrt_cmdbuf *cb, uint64_t *va, uint32_t *size,
				      uint32_t *bo_handle, const uint32_t **handles,
				      unsigned int *num_handles);
JALRT_HIDDEN struct jalrt_device *jalrt_cmdbuf_device(const struct jalrt_cmdbuf *cb);

#endif /* JALRT_INTERNAL_H */
