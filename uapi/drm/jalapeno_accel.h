/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Jalapeño DRM accel driver user API.
 *
 * Conventions: every struct may grow at its end in later versions (the
 * DRM core zero-fills fields an older caller does not pass); every field
 * named reserved or pad must be zero and every unknown flag bit is
 * rejected with -EINVAL, so that they can be given meaning later.
 * Pointers are passed as __u64. Timeouts are absolute CLOCK_MONOTONIC
 * nanoseconds, as for DRM syncobjs.
 *
 * Address spaces: every open file of /dev/accel/accelN has its own device
 * address space. A buffer object (BO) gets a device VA in the address
 * space of the file that created it when it is created; every context of
 * that file sees it there. Contexts of other files cannot reach it.
 */
#ifndef _JALAPENO_ACCEL_H_
#define _JALAPENO_ACCEL_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_JALAPENO_QUERY		0x00
#define DRM_JALAPENO_BO_CREATE		0x01
#define DRM_JALAPENO_BO_INFO		0x02
#define DRM_JALAPENO_CTX_CREATE		0x03
#define DRM_JALAPENO_CTX_DESTROY	0x04
#define DRM_JALAPENO_SUBMIT		0x05
#define DRM_JALAPENO_BO_WAIT		0x06
#define DRM_JALAPENO_CTX_STATUS		0x07

#define DRM_IOCTL_JALAPENO_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_QUERY, struct drm_jalapeno_query)
#define DRM_IOCTL_JALAPENO_BO_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_BO_CREATE, struct drm_jalapeno_bo_create)
#define DRM_IOCTL_JALAPENO_BO_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_BO_INFO, struct drm_jalapeno_bo_info)
#define DRM_IOCTL_JALAPENO_CTX_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_CTX_CREATE, struct drm_jalapeno_ctx_create)
#define DRM_IOCTL_JALAPENO_CTX_DESTROY \
	DRM_IOW(DRM_COMMAND_BASE + DRM_JALAPENO_CTX_DESTROY, struct drm_jalapeno_ctx_destroy)
#define DRM_IOCTL_JALAPENO_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_SUBMIT, struct drm_jalapeno_submit)
#define DRM_IOCTL_JALAPENO_BO_WAIT \
	DRM_IOW(DRM_COMMAND_BASE + DRM_JALAPENO_BO_WAIT, struct drm_jalapeno_bo_wait)
#define DRM_IOCTL_JALAPENO_CTX_STATUS \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_JALAPENO_CTX_STATUS, struct drm_jalapeno_ctx_status)

/* Query types for struct drm_jalapeno_query. */
#define DRM_JALAPENO_QUERY_DEVICE_INFO	0

/**
 * struct drm_jalapeno_device_info - result of DRM_JALAPENO_QUERY_DEVICE_INFO
 * @vendor_id: PCI vendor ID.
 * @device_id: PCI device ID.
 * @revision: PCI revision ID.
 * @pad: zero.
 * @hw_version: chip version register (major << 16 | minor).
 * @caps: JAL_CAP_* bits of the chip (see jalapeno_hw.h).
 * @num_queues: hardware queues, one per context priority level.
 * @num_contexts: hardware contexts the chip has in total.
 * @va_start: first device VA that BOs are placed at.
 * @va_end: end (exclusive) of the device VA range.
 * @max_cmdbuf_size: largest command buffer in bytes.
 * @max_code_size: largest kernel instruction stream in bytes.
 * @page_size: device MMU page size; BO sizes are rounded up to it.
 * @pad2: zero.
 * @vram_size: bytes of device memory for DRM_JALAPENO_BO_VRAM BOs, 0 if
 *	the chip has none.
 */
struct drm_jalapeno_device_info {
	__u16 vendor_id;
	__u16 device_id;
	__u16 revision;
	__u16 pad;
	__u32 hw_version;
	__u32 caps;
	__u32 num_queues;
	__u32 num_contexts;
	__u64 va_start;
	__u64 va_end;
	__u32 max_cmdbuf_size;
	__u32 max_code_size;
	__u32 page_size;
	__u32 pad2;
	__u64 vram_size;
};

/**
 * struct drm_jalapeno_query - DRM_IOCTL_JALAPENO_QUERY argument
 * @type: DRM_JALAPENO_QUERY_*.
 * @size: in: bytes available at @data; out: bytes the kernel wrote, at
 *	most the size of the result struct. A @size of 0 only returns the
 *	result's full size.
 * @data: user pointer to the result struct.
 */
struct drm_jalapeno_query {
	__u32 type;
	__u32 size;
	__u64 data;
};

/* The device may read but not write this BO; writes fault. */
#define DRM_JALAPENO_BO_DEVICE_READONLY	0x1u
/*
 * Place the BO in the chip's device memory, where compute operands are
 * read at full speed (weights, KV caches). Such a BO cannot be mmap()ed:
 * fill and read it with COPY commands from and to host BOs. Its contents
 * are zero when it is created. BO_CREATE fails with -EINVAL if the chip
 * has no device memory (device_info.vram_size is 0) and with -ENOSPC if
 * not enough of it is free.
 */
#define DRM_JALAPENO_BO_VRAM		0x2u
#define DRM_JALAPENO_BO_FLAGS		(DRM_JALAPENO_BO_DEVICE_READONLY | \
					 DRM_JALAPENO_BO_VRAM)

/**
 * struct drm_jalapeno_bo_create - DRM_IOCTL_JALAPENO_BO_CREATE argument
 * @size: in: bytes, non-zero; rounded up to the device page size.
 * @flags: in: DRM_JALAPENO_BO_*.
 * @handle: out: GEM handle.
 * @va: out: device VA of the BO in this file's address space.
 */
struct drm_jalapeno_bo_create {
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 va;
};

/**
 * struct drm_jalapeno_bo_info - DRM_IOCTL_JALAPENO_BO_INFO argument
 * @handle: in: GEM handle.
 * @flags: out: DRM_JALAPENO_BO_* the BO was created with.
 * @size: out: BO size in bytes.
 * @va: out: device VA.
 * @mmap_offset: out: offset to pass to mmap() on the accel fd; 0 for a
 *	DRM_JALAPENO_BO_VRAM BO, which cannot be mapped.
 */
struct drm_jalapeno_bo_info {
	__u32 handle;
	__u32 flags;
	__u64 size;
	__u64 va;
	__u64 mmap_offset;
};

/* Context priorities; each maps to the hardware queue of that number. */
#define DRM_JALAPENO_PRIORITY_LOW	0
#define DRM_JALAPENO_PRIORITY_NORMAL	1
#define DRM_JALAPENO_PRIORITY_HIGH	2
#define DRM_JALAPENO_PRIORITY_REALTIME	3	/* needs CAP_SYS_NICE */

/**
 * struct drm_jalapeno_ctx_create - DRM_IOCTL_JALAPENO_CTX_CREATE argument
 * @priority: in: DRM_JALAPENO_PRIORITY_*.
 * @flags: in: must be zero.
 * @ctx_id: out: context id, valid on this file only.
 * @reserved: must be zero.
 */
struct drm_jalapeno_ctx_create {
	__u32 priority;
	__u32 flags;
	__u32 ctx_id;
	__u32 reserved;
};

/**
 * struct drm_jalapeno_ctx_destroy - DRM_IOCTL_JALAPENO_CTX_DESTROY argument
 * @ctx_id: in: context to destroy; its queued jobs still complete.
 * @reserved: must be zero.
 */
struct drm_jalapeno_ctx_destroy {
	__u32 ctx_id;
	__u32 reserved;
};

/**
 * struct drm_jalapeno_submit - DRM_IOCTL_JALAPENO_SUBMIT argument
 * @ctx_id: in: context to run the job in.
 * @flags: in: must be zero.
 * @cmdbuf_va: in: device VA of the command buffer (format in
 *	jalapeno_hw.h), 8-byte aligned, inside one BO of this file.
 * @cmdbuf_size: in: bytes, a multiple of 4, non-zero, at most
 *	max_cmdbuf_size.
 * @bo_count: in: entries at @bo_handles.
 * @bo_handles: in: user pointer to __u32 GEM handles of the BOs the job
 *	uses; the job holds them and their reservation objects carry its
 *	fence, so DRM_IOCTL_JALAPENO_BO_WAIT waits for it.
 * @in_syncobj_count: in: entries at @in_syncobjs.
 * @out_syncobj: in: syncobj handle that receives the job's fence, or 0.
 * @in_syncobjs: in: user pointer to __u32 syncobj handles the job waits
 *	for before it starts.
 * @seqno: out: per-context job number, starting at 1, for
 *	DRM_IOCTL_JALAPENO_CTX_STATUS.
 * @reserved: must be zero.
 *
 * Errors: -ENOENT for an unknown context, BO or syncobj handle, -EINVAL for
 * bad sizes, flags or reserved fields, -EFAULT for bad pointers,
 * -ECANCELED if the context was banned after a failed job, -ENODEV after
 * the device was unplugged.
 */
struct drm_jalapeno_submit {
	__u32 ctx_id;
	__u32 flags;
	__u64 cmdbuf_va;
	__u32 cmdbuf_size;
	__u32 bo_count;
	__u64 bo_handles;
	__u32 in_syncobj_count;
	__u32 out_syncobj;
	__u64 in_syncobjs;
	__u64 seqno;
	__u64 reserved;
};

/**
 * struct drm_jalapeno_bo_wait - DRM_IOCTL_JALAPENO_BO_WAIT argument
 * @handle: in: GEM handle.
 * @flags: in: must be zero.
 * @timeout_ns: in: absolute CLOCK_MONOTONIC deadline; returns -ETIMEDOUT
 *	if jobs using the BO are still running then. A deadline in the past
 *	only polls.
 */
struct drm_jalapeno_bo_wait {
	__u32 handle;
	__u32 flags;
	__s64 timeout_ns;
};

/* Context states reported by DRM_IOCTL_JALAPENO_CTX_STATUS. */
#define DRM_JALAPENO_CTX_ACTIVE		0
#define DRM_JALAPENO_CTX_BANNED		1	/* a job failed; submit fails */
/*
 * A device reset cut a running job of the context through no fault of
 * its own (its fence: -ECANCELED, hw_status JAL_STATUS_ABORTED), or
 * cleared device memory (DRM_JALAPENO_BO_VRAM BOs read as zero) that the
 * context's file had mapped (error -ECANCELED, error_seqno 0). Its later
 * jobs may have needed what was lost, so submit fails and queued jobs are
 * cancelled as for a banned context. Restore the data, recreate the
 * context and resubmit. Jobs of other contexts that had not started when
 * the device was reset are not lost: they run afterwards.
 */
#define DRM_JALAPENO_CTX_LOST		2

/**
 * struct drm_jalapeno_ctx_status - DRM_IOCTL_JALAPENO_CTX_STATUS argument
 * @ctx_id: in: context.
 * @state: out: DRM_JALAPENO_CTX_*.
 * @submitted: out: seqno of the last submitted job.
 * @completed: out: seqno of the last job that ended, well or not.
 * @error_seqno: out: seqno of the first failed job, 0 if none.
 * @error: out: that job's error as a negative errno: -EFAULT for an MMU
 *	fault, -EINVAL for a malformed command buffer or instruction,
 *	-ETIMEDOUT for a watchdog or job timeout, -EIO otherwise.
 * @hw_status: out: that job's JAL_STATUS_* from the chip.
 * @fault_addr: out: device VA that faulted, if @hw_status is an MMU fault.
 * @error_offset: out: offset in the command buffer of the failed command.
 * @reserved: must be zero.
 */
struct drm_jalapeno_ctx_status {
	__u32 ctx_id;
	__u32 state;
	__u64 submitted;
	__u64 completed;
	__u64 error_seqno;
	__s32 error;
	__u32 hw_status;
	__u64 fault_addr;
	__u32 error_offset;
	__u32 reserved;
};

#if defined(__cplusplus)
}
#endif

#endif /* _JALAPENO_ACCEL_H_ */
