/* SPDX-License-Identifier: MIT */
/*
 * libjalrt: user-space runtime for the Jalapeño accelerator.
 *
 * The library wraps the DRM accel ioctls of jalapeno.ko (jalapeno_accel.h)
 * and the chip's command and instruction encodings (jalapeno_hw.h) in a
 * small C API:
 *
 *   device   - an open /dev/accel/accelN node; one device address space.
 *   buffer   - device memory: a GEM BO with a device VA and a host mapping.
 *   context  - a hardware context; its priority selects the hardware queue.
 *   kernel builder / kernel - compute code (struct jal_insn) built on the
 *              host, validated, and placed in a device buffer.
 *   cmdbuf   - a command buffer (copy, fill, dispatch, ...) that is
 *              written into its own device buffer when submitted.
 *   fence    - completion of one submitted job (a DRM syncobj).
 *
 * Conventions:
 * - Every function returns 0 on success or a negative errno. A few
 *   accessors that cannot fail on a valid handle return the value itself
 *   (jalrt_buffer_va() etc.); they are marked as such.
 * - After a failure, jalrt_last_error_message() returns a sentence saying
 *   what was wrong (per thread); jalrt_strerror() names an error code.
 * - Handles are opaque. Destroy/free/close functions accept NULL and do
 *   nothing. Objects keep what they need alive: a buffer, context, kernel
 *   or command buffer keeps its device open after jalrt_device_close(),
 *   and a fence keeps its context, so any destruction order is safe.
 * - Thread safety: devices, buffers (alloc/free/upload/download),
 *   contexts, submits and fences may be used from any thread at once.
 *   A kernel builder or a command buffer is used by one thread at a time.
 * - Timeouts are relative, in nanoseconds; JALRT_TIMEOUT_INFINITE waits
 *   forever and 0 only polls. An expired wait returns -ETIME, which is
 *   never a job error (a job killed by the watchdog reports -ETIMEDOUT).
 * - Job errors (from jalrt_fence_wait() and friends): -EFAULT for a device
 *   MMU fault, -EINVAL for a malformed command or instruction, -ETIMEDOUT
 *   for the watchdog or a job timeout, -EIO for other device errors, and
 *   -ECANCELED for a job submitted after an earlier job of its context
 *   failed: the context is banned from then on and such jobs are skipped
 *   (one that had already reached the chip may still have run, but as it
 *   may have used the failed job's results, it is reported canceled too).
 */
#ifndef JALRT_H
#define JALRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jalapeno_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JALRT_VERSION_MAJOR		0
#define JALRT_VERSION_MINOR		1

#if defined(JALRT_BUILDING_LIBRARY)
#define JALRT_API __attribute__((visibility("default")))
#else
#define JALRT_API
#endif

struct jalrt_device;
struct jalrt_buffer;
struct jalrt_context;
struct jalrt_kernel_builder;
struct jalrt_kernel;
struct jalrt_cmdbuf;
struct jalrt_fence;

/* Wait forever; any negative timeout means the same. */
#define JALRT_TIMEOUT_INFINITE		(-1LL)

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

/**
 * jalrt_strerror() - describe an error code
 * @err: a negative errno returned by libjalrt (a positive value is taken
 *	as its negation).
 *
 * Return: a static string, never NULL; for job errors the text says what
 * the device did (e.g. -EFAULT: "device memory fault").
 */
JALRT_API const char *jalrt_strerror(int err);

/**
 * jalrt_last_error_message() - detail of the last failure in this thread
 *
 * Return: a sentence describing what the most recent failing libjalrt
 * call of the calling thread objected to, e.g. "jalrt_buffer_upload:
 * range [4096, 8192) is outside the 4100-byte buffer". Empty if no call
 * has failed yet. Valid until the next libjalrt call of this thread.
 */
JALRT_API const char *jalrt_last_error_message(void);

/**
 * jalrt_hw_status_name() - name of a chip job status (enum jal_status)
 * @hw_status: JAL_STATUS_* value.
 *
 * Return: e.g. "MMU_UNMAPPED", or "UNKNOWN" (never NULL).
 */
JALRT_API const char *jalrt_hw_status_name(uint32_t hw_status);

/* ------------------------------------------------------------------ */
/* Devices                                                              */
/* ------------------------------------------------------------------ */

#define JALRT_PATH_MAX			64

/**
 * struct jalrt_device_entry - one Jalapeño device found by enumeration
 * @path: device node, e.g. "/dev/accel/accel0".
 * @minor: the N of accelN.
 */
struct jalrt_device_entry {
	char path[JALRT_PATH_MAX];
	unsigned int minor;
};

/**
 * jalrt_device_enumerate() - list the Jalapeño accel devices
 * @entries: array of @max entries to fill (may be NULL if @max is 0).
 * @max: capacity of @entries.
 * @count: out: number of devices found (may exceed @max; only the first
 *	@max are stored).
 *
 * Scans /dev/accel/accel* in minor order and keeps the nodes whose DRM
 * driver name is "jalapeno". Nodes that cannot be opened are skipped.
 * Return: 0 (also when there are none), or a negative errno.
 */
JALRT_API int jalrt_device_enumerate(struct jalrt_device_entry *entries,
				     unsigned int max, unsigned int *count);

/**
 * jalrt_device_open() - open the @index-th enumerated Jalapeño device
 * @index: position in the order of jalrt_device_enumerate().
 * @dev: out: the device handle.
 *
 * Return: 0, -ENODEV if there is no such device, or another negative errno.
 */
JALRT_API int jalrt_device_open(unsigned int index, struct jalrt_device **dev);

/**
 * jalrt_device_open_path() - open a device node by path
 * @path: e.g. "/dev/accel/accel0".
 * @dev: out: the device handle.
 *
 * Return: 0; -ENODEV if the node is not driven by jalapeno.ko; the
 * negative errno of open() otherwise.
 */
JALRT_API int jalrt_device_open_path(const char *path, struct jalrt_device **dev);

/**
 * jalrt_device_close() - drop the caller's reference to a device
 * @dev: device or NULL.
 *
 * The file is closed once every buffer, context, kernel and command buffer
 * made on it is gone too.
 * Return: 0.
 */
JALRT_API int jalrt_device_close(struct jalrt_device *dev);

/**
 * struct jalrt_device_info - what the device and driver report
 * @path: device node.
 * @driver_name: DRM driver name ("jalapeno").
 * @driver_version: DRM driver version, major << 16 | minor << 8 | patch.
 * @vendor_id: PCI vendor ID.
 * @device_id: PCI device ID.
 * @revision: PCI revision ID.
 * @hw_version: chip version (major << 16 | minor).
 * @caps: JAL_CAP_* bits.
 * @num_queues: hardware queues (= context priority levels).
 * @num_contexts: hardware contexts of the chip.
 * @va_start: first device VA buffers are placed at.
 * @va_end: end of the device VA range (exclusive).
 * @max_cmdbuf_size: largest command buffer, bytes.
 * @max_code_size: largest kernel, bytes.
 * @page_size: device page size; buffer allocations are rounded up to it.
 * @vram_size: bytes of device memory (JALRT_BUFFER_VRAM), 0 if the chip
 *	or the driver has none.
 */
struct jalrt_device_info {
	char path[JALRT_PATH_MAX];
	char driver_name[32];
	uint32_t driver_version;
	uint16_t vendor_id;
	uint16_t device_id;
	uint16_t revision;
	uint32_t hw_version;
	uint32_t caps;
	uint32_t num_queues;
	uint32_t num_contexts;
	uint64_t va_start;
	uint64_t va_end;
	uint32_t max_cmdbuf_size;
	uint32_t max_code_size;
	uint32_t page_size;
	uint64_t vram_size;
};

/** jalrt_device_query() - fill @info for @dev. Return: 0 or -EINVAL. */
JALRT_API int jalrt_device_query(struct jalrt_device *dev, struct jalrt_device_info *info);

/**
 * struct jalrt_device_stats - what this process holds on a device
 * @buffers: live buffers (including kernel and command buffer storage).
 * @buffer_bytes: their allocated size (page rounded).
 * @contexts: live contexts.
 * @submits: jobs submitted so far.
 */
struct jalrt_device_stats {
	uint64_t buffers;
	uint64_t buffer_bytes;
	uint64_t contexts;
	uint64_t submits;
};

/** jalrt_device_stats() - snapshot of @dev's counters. Return: 0 or -EINVAL. */
JALRT_API int jalrt_device_stats(struct jalrt_device *dev, struct jalrt_device_stats *stats);

/* ------------------------------------------------------------------ */
/* Buffers                                                              */
/* ------------------------------------------------------------------ */

/* The device may read but not write the buffer (device writes fault). */
#define JALRT_BUFFER_DEVICE_READONLY	(1u << 0)
/*
 * Place the buffer in the chip's device memory (VRAM), where compute
 * operands are read at full speed. Such a buffer has no host mapping
 * (jalrt_buffer_host() is NULL, upload/download fail with -EPERM): fill
 * and read it with COPY commands, e.g. jalrt_buffer_write()/read().
 * Fails with the driver's error (-EINVAL from a driver without device
 * memory, -ENOMEM/-ENOSPC when it is full); callers that can live with
 * host memory retry without the flag.
 */
#define JALRT_BUFFER_VRAM		(1u << 1)
#define JALRT_BUFFER_FLAGS		(JALRT_BUFFER_DEVICE_READONLY | JALRT_BUFFER_VRAM)

/**
 * jalrt_buffer_alloc() - allocate device memory
 * @dev: device.
 * @size: bytes, non-zero. The allocation is rounded up to the device page
 *	size, but bounds checks use @size.
 * @flags: JALRT_BUFFER_*.
 * @buf: out: the buffer. Its host mapping is zero-filled.
 *
 * Return: 0, -EINVAL for bad arguments, -ENOMEM if the device or host is
 * out of memory, or the driver's negative errno.
 */
JALRT_API int jalrt_buffer_alloc(struct jalrt_device *dev, uint64_t size, uint32_t flags,
				 struct jalrt_buffer **buf);

/**
 * jalrt_buffer_free() - free a buffer
 * @buf: buffer or NULL.
 *
 * Jobs already submitted that use the buffer keep its memory until they
 * end (the kernel holds a reference).
 * Return: 0.
 */
JALRT_API int jalrt_buffer_free(struct jalrt_buffer *buf);

/**
 * struct jalrt_buffer_info - properties of a buffer
 * @size: size asked for at allocation.
 * @alloc_size: size actually allocated (page rounded).
 * @va: device VA.
 * @host: host mapping of @alloc_size bytes.
 * @flags: JALRT_BUFFER_* given at allocation.
 * @handle: GEM handle (for code that talks to the driver directly).
 */
struct jalrt_buffer_info {
	uint64_t size;
	uint64_t alloc_size;
	uint64_t va;
	void *host;
	uint32_t flags;
	uint32_t handle;
};

/** jalrt_buffer_query() - fill @info for @buf. Return: 0 or -EINVAL. */
JALRT_API int jalrt_buffer_query(const struct jalrt_buffer *buf, struct jalrt_buffer_info *info);

/** jalrt_buffer_va() - accessor: device VA of @buf, 0 for NULL. */
JALRT_API uint64_t jalrt_buffer_va(const struct jalrt_buffer *buf);
/** jalrt_buffer_host() - accessor: host mapping of @buf, NULL for NULL. */
JALRT_API void *jalrt_buffer_host(const struct jalrt_buffer *buf);
/** jalrt_buffer_size() - accessor: size of @buf as allocated by the caller, 0 for NULL. */
JALRT_API uint64_t jalrt_buffer_size(const struct jalrt_buffer *buf);

/**
 * jalrt_buffer_upload() - copy host memory into a buffer
 * @buf: destination.
 * @offset: byte offset in @buf.
 * @src: source.
 * @size: bytes; [@offset, @offset + @size) must lie inside the buffer.
 *
 * Does not wait for jobs using @buf; see jalrt_buffer_wait().
 * Return: 0, or -EINVAL (NULL pointer), -ERANGE (out of bounds).
 */
JALRT_API int jalrt_buffer_upload(struct jalrt_buffer *buf, uint64_t offset, const void *src,
				  uint64_t size);

/** jalrt_buffer_download() - copy from a buffer to host memory; as upload. */
JALRT_API int jalrt_buffer_download(struct jalrt_buffer *buf, uint64_t offset, void *dst,
				    uint64_t size);

/**
 * jalrt_buffer_wait() - wait until no submitted job uses @buf any more
 * @buf: buffer.
 * @timeout_ns: relative timeout.
 *
 * Return: 0, -ETIME if jobs still run at the deadline, or a negative errno.
 * Job errors are reported through fences, not here.
 */
JALRT_API int jalrt_buffer_wait(struct jalrt_buffer *buf, int64_t timeout_ns);

/**
 * jalrt_buffer_is_vram() - accessor: whether @buf is in device memory
 *	(false for NULL).
 */
JALRT_API bool jalrt_buffer_is_vram(const struct jalrt_buffer *buf);

struct jalrt_context;

/**
 * jalrt_buffer_write() - copy host memory into any buffer, synchronously
 * @ctx: context that runs the copies (for buffers in device memory).
 * @buf: destination, in host or device memory.
 * @offset: byte offset in @buf.
 * @src: source.
 * @size: bytes; [@offset, @offset + @size) must lie inside the buffer.
 *
 * A host buffer is written directly (as jalrt_buffer_upload()). A buffer
 * in device memory is written through a host staging buffer, chunk by
 * chunk, with COPY jobs on @ctx that this call waits for; jobs submitted
 * earlier on @ctx run first, jobs of other contexts are not waited for.
 * Return: 0, -EINVAL, -ERANGE, or the error of a copy job.
 */
JALRT_API int jalrt_buffer_write(struct jalrt_context *ctx, struct jalrt_buffer *buf,
				 uint64_t offset, const void *src, uint64_t size);

/** jalrt_buffer_read() - copy from any buffer to host memory; as _write() */
JALRT_API int jalrt_buffer_read(struct jalrt_context *ctx, struct jalrt_buffer *buf,
				uint64_t offset, void *dst, uint64_t size);

/* ------------------------------------------------------------------ */
/* Contexts                                                             */
/* ------------------------------------------------------------------ */

enum jalrt_priority {
	JALRT_PRIORITY_LOW = 0,
	JALRT_PRIORITY_NORMAL = 1,
	JALRT_PRIORITY_HIGH = 2,
	JALRT_PRIORITY_REALTIME = 3,	/* needs CAP_SYS_NICE */
};

/**
 * jalrt_context_create() - create a hardware context
 * @dev: device.
 * @priority: enum jalrt_priority; selects the hardware queue.
 * @ctx: out: the context.
 *
 * Return: 0, -EINVAL (bad priority), -EPERM (REALTIME without
 * CAP_SYS_NICE), -EBUSY/-ENOSPC when the chip has no free context, or the
 * driver's negative errno.
 */
JALRT_API int jalrt_context_create(struct jalrt_device *dev, unsigned int priority,
				   struct jalrt_context **ctx);

/**
 * jalrt_context_destroy() - drop the caller's reference to a context
 * @ctx: context or NULL.
 *
 * Fences of the context keep it (and its error state) until they are
 * destroyed; its queued jobs still complete.
 * Return: 0.
 */
JALRT_API int jalrt_context_destroy(struct jalrt_context *ctx);

/**
 * struct jalrt_context_status - state of a context (DRM CTX_STATUS)
 * @banned: a job failed; later submits fail with -ECANCELED.
 * @priority: priority the context was created with.
 * @submitted: seqno of the last submitted job (jobs count from 1).
 * @completed: seqno of the last job that ended, well or not.
 * @error_seqno: seqno of the first failed job, 0 if none.
 * @error: that job's error (negative errno), 0 if none.
 * @hw_status: that job's JAL_STATUS_*.
 * @fault_addr: device VA that faulted (MMU faults).
 * @error_offset: byte offset in the command buffer of the failed command.
 */
struct jalrt_context_status {
	bool banned;
	unsigned int priority;
	uint64_t submitted;
	uint64_t completed;
	uint64_t error_seqno;
	int error;
	uint32_t hw_status;
	uint64_t fault_addr;
	uint32_t error_offset;
};

/** jalrt_context_status() - query @ctx. Return: 0 or a negative errno. */
JALRT_API int jalrt_context_status(struct jalrt_context *ctx, struct jalrt_context_status *status);

/* ------------------------------------------------------------------ */
/* Kernel builder                                                       */
/* ------------------------------------------------------------------ */

/*
 * A kernel is a sequence of struct jal_insn. Registers r0..r(num_args-1)
 * start with the dispatch arguments (64-bit words: buffer VAs, sizes...).
 *
 * The builder validates each instruction when it is emitted (register
 * numbers, flags, reserved fields, operand extents for constant shapes)
 * and remembers the first error: later emits still report their own
 * errors, and jalrt_kb_finalize() fails with the first one, so a caller
 * may emit a whole kernel and check once.
 */

/**
 * struct jalrt_dim - one shape operand: a constant or a register
 * @value: the constant, or the register number if @from_reg.
 * @from_reg: take the value from register @value at run time
 *	(JAL_INSN_F_DIM_REG); it must be <= 0xffffffff then.
 */
struct jalrt_dim {
	uint32_t value;
	bool from_reg;
};

#define JALRT_DIM(n)		((struct jalrt_dim){ .value = (n), .from_reg = false })
#define JALRT_DIM_REG(r)	((struct jalrt_dim){ .value = (r), .from_reg = true })

/* Largest number of instructions in one kernel (JAL_MAX_CODE_SIZE). */
#define JALRT_KB_MAX_INSNS	(JAL_MAX_CODE_SIZE / sizeof(struct jal_insn))
/* Largest extent of one f32 operand, bytes. */
#define JALRT_MAX_OPERAND_BYTES	(256ull << 20)

/**
 * jalrt_kb_create() - start a kernel
 * @num_args: argument words the kernel takes (0..JAL_MAX_ARGS); they
 *	arrive in r0..r(@num_args - 1).
 * @kb: out: the builder.
 *
 * A builder needs no device: code can be built, inspected
 * (jalrt_kb_code()) and only later placed on a device.
 * Return: 0, -EINVAL or -ENOMEM.
 */
JALRT_API int jalrt_kb_create(unsigned int num_args, struct jalrt_kernel_builder **kb);

/** jalrt_kb_destroy() - free a builder (or NULL). Return: 0. */
JALRT_API int jalrt_kb_destroy(struct jalrt_kernel_builder *kb);

/**
 * jalrt_kb_emit() - append a raw instruction
 * @kb: builder.
 * @insn: instruction, validated like the chip does. A branch target in
 *	imm[2] is an absolute instruction index, checked at link time.
 *
 * The typed helpers below all go through this function.
 * Return: 0, -EINVAL (invalid instruction, message says which field),
 * -E2BIG (kernel too long) or -ENOMEM.
 */
JALRT_API int jalrt_kb_emit(struct jalrt_kernel_builder *kb, const struct jal_insn *insn);

/** jalrt_kb_count() - accessor: instructions emitted so far (0 for NULL). */
JALRT_API uint32_t jalrt_kb_count(const struct jalrt_kernel_builder *kb);

/**
 * jalrt_kb_error() - first error recorded by @kb
 * Return: 0 if every emit so far succeeded, else that emit's error (the
 * message is repeated in jalrt_last_error_message()).
 */
JALRT_API int jalrt_kb_error(const struct jalrt_kernel_builder *kb);

/* Scalar instructions; @rd is the destination register. */
JALRT_API int jalrt_kb_nop(struct jalrt_kernel_builder *kb);
JALRT_API int jalrt_kb_halt(struct jalrt_kernel_builder *kb);
/** rd = imm */
JALRT_API int jalrt_kb_li(struct jalrt_kernel_builder *kb, unsigned int rd, uint64_t imm);
/** rd = rs + imm (wrapping; a negative step is its two's complement) */
JALRT_API int jalrt_kb_addi(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int rs,
			    uint64_t imm);
/** rd = ra + rb */
JALRT_API int jalrt_kb_add(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			   unsigned int rb);
/** rd = rs * imm */
JALRT_API int jalrt_kb_muli(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int rs,
			    uint64_t imm);

/*
 * Labels: jalrt_kb_new_label() makes a label, jalrt_kb_bind() places it
 * before the next emitted instruction (binding after the last one means
 * "halt"). Branches may refer to labels bound earlier or later; targets
 * are fixed up when the code is linked (jalrt_kb_code/finalize).
 */
JALRT_API int jalrt_kb_new_label(struct jalrt_kernel_builder *kb, uint32_t *label);
JALRT_API int jalrt_kb_bind(struct jalrt_kernel_builder *kb, uint32_t label);
/** pc = label */
JALRT_API int jalrt_kb_jump(struct jalrt_kernel_builder *kb, uint32_t label);
/** if (ra != rb) pc = label */
JALRT_API int jalrt_kb_bne(struct jalrt_kernel_builder *kb, unsigned int ra, unsigned int rb,
			   uint32_t label);
/** if (ra < rb) pc = label (unsigned) */
JALRT_API int jalrt_kb_bltu(struct jalrt_kernel_builder *kb, unsigned int ra, unsigned int rb,
			    uint32_t label);
/** if (ra == rb) pc = label */
JALRT_API int jalrt_kb_beq(struct jalrt_kernel_builder *kb, unsigned int ra, unsigned int rb,
			   uint32_t label);

/*
 * Scalar memory (ISA 1.1): the address is R[rbase] + offset (wrapping),
 * naturally aligned (checked by the chip at run time). LD32 zero-extends.
 */
/** rd = u32 at R[rbase] + offset */
JALRT_API int jalrt_kb_ld32(struct jalrt_kernel_builder *kb, unsigned int rd,
			    unsigned int rbase, uint64_t offset);
/** rd = u64 at R[rbase] + offset */
JALRT_API int jalrt_kb_ld64(struct jalrt_kernel_builder *kb, unsigned int rd,
			    unsigned int rbase, uint64_t offset);
/** u32 at R[rbase] + offset = low half of R[rs] */
JALRT_API int jalrt_kb_st32(struct jalrt_kernel_builder *kb, unsigned int rs,
			    unsigned int rbase, uint64_t offset);
/** u64 at R[rbase] + offset = R[rs] */
JALRT_API int jalrt_kb_st64(struct jalrt_kernel_builder *kb, unsigned int rs,
			    unsigned int rbase, uint64_t offset);

/*
 * f32 vector instructions. Registers hold the device VAs of the operands:
 * d[i * sd] = op(a[i * sa], b[i * sb]) for i < n. Strides are in
 * elements; 0 broadcasts one element. The plain forms use stride 1.
 */
JALRT_API int jalrt_kb_vadd(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			    unsigned int rb, struct jalrt_dim n);
JALRT_API int jalrt_kb_vmul(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			    unsigned int rb, struct jalrt_dim n);
/** d[i] = a[i] * scale */
JALRT_API int jalrt_kb_vscale(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			      float scale, struct jalrt_dim n);
JALRT_API int jalrt_kb_vadd_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, unsigned int rb, struct jalrt_dim n,
				    uint32_t sd, uint32_t sa, uint32_t sb);
JALRT_API int jalrt_kb_vmul_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, unsigned int rb, struct jalrt_dim n,
				    uint32_t sd, uint32_t sa, uint32_t sb);
JALRT_API int jalrt_kb_vscale_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				      unsigned int ra, float scale, struct jalrt_dim n,
				      uint32_t sd, uint32_t sa);

/**
 * jalrt_kb_matvec() - d[m] = sum_k W[m][k] * x[k], f32
 * @rd: register with the VA of d (@rows elements).
 * @rw: register with the VA of W (@rows x @cols, row-major, packed).
 * @rx: register with the VA of x (@cols elements).
 */
JALRT_API int jalrt_kb_matvec(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int rw,
			      unsigned int rx, struct jalrt_dim rows, struct jalrt_dim cols);
/**
 * jalrt_kb_matvec_strided() - matvec with strides
 * @sd: element stride of d.
 * @row_pitch: elements between rows of W; 0 means @cols, else >= @cols.
 * @sx: element stride of x.
 */
JALRT_API int jalrt_kb_matvec_strided(struct jalrt_kernel_builder *kb, unsigned int rd,
				      unsigned int rw, unsigned int rx, struct jalrt_dim rows,
				      struct jalrt_dim cols, uint32_t sd, uint32_t row_pitch,
				      uint32_t sx);

/* ---- ISA 1.1: typed matrix ops and LLM building blocks ------------------ */

/*
 * These need JAL_CAP_LLM (checked by the caller: the builder knows no
 * device). Activations are f32; the weight operand of a matrix or
 * embedding op has its own dtype:
 *
 *   JAL_DTYPE_F32   4-byte floats.
 *   JAL_DTYPE_BF16  2-byte bfloat16 (the upper half of an f32).
 *   JAL_DTYPE_Q8    int8 with one f32 scale per group of @group
 *                   consecutive elements of a row; scales row-major in
 *                   their own array (rows * cols / group floats) whose VA
 *                   is in register @raux; cols must be a multiple of the
 *                   group.
 *   JAL_DTYPE_S24   2:4 sparse: per row cols / 2 bf16 values and cols / 4
 *                   index bytes (VA in @raux); cols a multiple of 4.
 *   JAL_DTYPE_Q4    4-bit weights (JAL_CAP_Q4): per row cols / 2 bytes of
 *                   nibbles (GGUF Q4_0's order) and cols / 32 f32 scales
 *                   (VA in @raux); cols a multiple of 32 up to
 *                   JAL_Q8X_MAX_COLS; x is always quantised to int8 per
 *                   group of 32 (as with JAL_INSN_F_Q8X, which must not be
 *                   given) and each group's integer dot product scaled.
 *                   Matrix ops only; @group is 0 or 32.
 *
 * jalrt_convert_*() in jalrt_graph.h produce these layouts.
 */

/**
 * struct jalrt_matrix_op - operands of MATVEC / MATMUL with any weight dtype
 * @dtype: JAL_DTYPE_* of W.
 * @rd: register with the VA of the result (MATVEC: @rows elements;
 *	MATMUL: @batch rows of @rows).
 * @rw: register with the VA of W (@rows x @cols).
 * @rx: register with the VA of the input (MATVEC: @cols elements;
 *	MATMUL: @batch rows of @cols).
 * @raux: register with the VA of the Q8 or Q4 scales or S24 index bytes;
 *	must be 0 for F32 and BF16.
 * @rows: M, output features.
 * @cols: K, input features.
 * @batch: MATMUL only: N, input vectors (0 / unused for MATVEC).
 * @group: Q8: elements per scale (> 0, divides @cols); Q4: 0 or 32 (the
 *	chip's group, emitted either way); else 0.
 * @d_stride: MATVEC: element stride of d (0 = 1 here, as the plain
 *	helpers); MATMUL: row pitch of D (0 = dense).
 * @w_pitch: row pitch of W in elements of its dtype (S24: in stored
 *	values, i.e. cols / 2 when packed; Q4: in bytes, cols / 2 when
 *	packed); 0 = packed.
 * @x_stride: MATVEC: element stride of x (0 = 1); MATMUL: row pitch of X
 *	(0 = dense).
 * @flags: 0, or JAL_INSN_F_Q8X: Q8 weights only, @group a multiple of 4
 *	up to JAL_Q8X_MAX_GROUP and at most JAL_Q8X_MAX_COLS columns: x (for
 *	MATMUL each row of X on its own) is quantised to int8 per weight
 *	group as the weights are (llama2.c runq.c's matmul) and each group's
 *	dot product is an exact integer one, scaled by both scales
 *	(jalapeno_hw.h gives the bits); a MATMUL row equals the MATVEC of
 *	that row bit for bit.
 *	The JAL_INSN_F_DIM_REG flags come from the dims, not from here.
 */
struct jalrt_matrix_op {
	uint32_t dtype;
	unsigned int rd, rw, rx, raux;
	struct jalrt_dim rows, cols, batch;
	uint32_t group;
	uint32_t d_stride, w_pitch, x_stride;
	uint32_t flags;
};

/** jalrt_kb_matvec_op() - d[m] = sum_k W[m][k] * x[k] with @op->dtype weights */
JALRT_API int jalrt_kb_matvec_op(struct jalrt_kernel_builder *kb,
				 const struct jalrt_matrix_op *op);
/** jalrt_kb_matmul() - D[n][m] = sum_k W[m][k] * X[n][k] for n < batch */
JALRT_API int jalrt_kb_matmul(struct jalrt_kernel_builder *kb, const struct jalrt_matrix_op *op);

/** d = a / sqrt(mean(a^2) + eps) * w, @n contiguous f32 */
JALRT_API int jalrt_kb_rmsnorm(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			       unsigned int rw, struct jalrt_dim n, float eps);
/** d = softmax(a), @n >= 1 */
JALRT_API int jalrt_kb_softmax(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			       struct jalrt_dim n);
/**
 * jalrt_kb_rope() - rotary position embedding of @n floats (even) made of
 *	heads of @head_size (even, divides @n) at position @pos, base @theta
 *	(10000 for Llama); d may equal a.
 */
JALRT_API int jalrt_kb_rope(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			    struct jalrt_dim n, struct jalrt_dim head_size, struct jalrt_dim pos,
			    float theta);
/**
 * jalrt_kb_rope_freqs() - jalrt_kb_rope() with given rotation frequencies
 *	(scaled RoPE, e.g. Llama 3's): pair j of each head turns by pos *
 *	freq[j], freq the @head_size / 2 (at most 32768) f32 at R[@rfreqs]
 *	(JAL_INSN_F_ROPE_FREQS)
 */
JALRT_API int jalrt_kb_rope_freqs(struct jalrt_kernel_builder *kb, unsigned int rd,
				  unsigned int ra, unsigned int rfreqs, struct jalrt_dim n,
				  struct jalrt_dim head_size, struct jalrt_dim pos);
/** d = a * sigmoid(a) * b, @n f32 */
JALRT_API int jalrt_kb_silu_mul(struct jalrt_kernel_builder *kb, unsigned int rd,
				unsigned int ra, unsigned int rb, struct jalrt_dim n);

/**
 * struct jalrt_attention_op - one query over a KV cache
 * @rout: register with the VA of the output (@n_heads * @head_size f32).
 * @rq: register with the VA of the query (same shape).
 * @rk: register with the VA of position 0's keys (@n_kv_heads * @head_size).
 * @rv: the same for the values.
 * @n_heads: query heads.
 * @head_size: floats per head.
 * @n_kv_heads: KV heads; divides @n_heads (grouped queries).
 * @positions: positions 0..positions-1 to attend to (>= 1), usually a
 *	register.
 * @k_pitch: elements from one position's keys to the next; 0 =
 *	n_kv_heads * head_size.
 * @v_pitch: the same for the values.
 */
struct jalrt_attention_op {
	unsigned int rout, rq, rk, rv;
	struct jalrt_dim n_heads, head_size, n_kv_heads, positions;
	uint32_t k_pitch, v_pitch;
};

JALRT_API int jalrt_kb_attention(struct jalrt_kernel_builder *kb,
				 const struct jalrt_attention_op *op);

/**
 * struct jalrt_embed_op - d = row @row of a table, converted to f32
 * @dtype: JAL_DTYPE_F32, _BF16 or _Q8 (of the table).
 * @rd: register with the VA of d (@dim f32).
 * @rtable: register with the VA of the table (@rows x @dim).
 * @rscales: Q8: register with the VA of the scales; else 0.
 * @dim: elements per row.
 * @row: the row index, usually a register; an index >= @rows fails the
 *	job with BAD_INSN.
 * @rows: rows of the table.
 * @row_pitch: elements from one row to the next; 0 = @dim.
 * @group: Q8: elements per scale; else 0.
 */
struct jalrt_embed_op {
	uint32_t dtype;
	unsigned int rd, rtable, rscales;
	struct jalrt_dim dim, row, rows;
	uint32_t row_pitch, group;
};

JALRT_API int jalrt_kb_embed(struct jalrt_kernel_builder *kb, const struct jalrt_embed_op *op);

/** register rd = index of the first largest of the @n f32 at R[ra] */
JALRT_API int jalrt_kb_argmax(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			      struct jalrt_dim n);
/**
 * jalrt_kb_sample() - register rd = token sampled from @n logits at R[ra]
 *	as llama2.c's sampler does (temperature 0: argmax; top-p outside
 *	(0, 1): the whole distribution), using and advancing the xorshift*
 *	state in register @rstate. The logits are left unchanged.
 */
JALRT_API int jalrt_kb_sample(struct jalrt_kernel_builder *kb, unsigned int rd, unsigned int ra,
			      unsigned int rstate, struct jalrt_dim n, float temperature,
			      float topp);

/*
 * Batches (JAL_INSN_F_ROWS): the LLM building blocks over B rows, the B
 * sequences of a decode step or the B positions of a prompt. Each row's
 * result is bit for bit that of the single-row helper above on that row,
 * whatever else is in the batch.
 */

/**
 * struct jalrt_rows - the rows of a batched op
 * @count: B, the number of rows (up to JAL_ROWS_MAX), usually a register.
 * @d_pitch: elements from one row of the destination to the next (0: the
 *	row length); unused by jalrt_kb_argmax_rows() and _sample_rows().
 * @a_pitch: the same for the source a (the logits of ARGMAX and SAMPLE);
 *	unused by jalrt_kb_embed_rows(), whose table has its own pitch.
 * @b_pitch: jalrt_kb_silu_mul_rows() only: the same for b; else 0.
 */
struct jalrt_rows {
	struct jalrt_dim count;
	uint32_t d_pitch, a_pitch, b_pitch;
};

/** jalrt_kb_rmsnorm_rows() - jalrt_kb_rmsnorm() of each row, weights @rw shared */
JALRT_API int jalrt_kb_rmsnorm_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, unsigned int rw, struct jalrt_dim n,
				    float eps, const struct jalrt_rows *rows);
/** jalrt_kb_softmax_rows() - jalrt_kb_softmax() of each row */
JALRT_API int jalrt_kb_softmax_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				    unsigned int ra, struct jalrt_dim n,
				    const struct jalrt_rows *rows);
/**
 * jalrt_kb_rope_rows() - jalrt_kb_rope() of each row at its own position
 * @rpos: register with the VA of B u32 positions, row b's at element b.
 */
JALRT_API int jalrt_kb_rope_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				 unsigned int ra, unsigned int rpos, struct jalrt_dim n,
				 struct jalrt_dim head_size, float theta,
				 const struct jalrt_rows *rows);
/** jalrt_kb_rope_rows_freqs() - jalrt_kb_rope_freqs() of each row, one table for all */
JALRT_API int jalrt_kb_rope_rows_freqs(struct jalrt_kernel_builder *kb, unsigned int rd,
				       unsigned int ra, unsigned int rpos, unsigned int rfreqs,
				       struct jalrt_dim n, struct jalrt_dim head_size,
				       const struct jalrt_rows *rows);
/** jalrt_kb_silu_mul_rows() - jalrt_kb_silu_mul() of each row */
JALRT_API int jalrt_kb_silu_mul_rows(struct jalrt_kernel_builder *kb, unsigned int rd,
				     unsigned int ra, unsigned int rb, struct jalrt_dim n,
				     const struct jalrt_rows *rows);
/**
 * jalrt_kb_embed_rows() - jalrt_kb_embed() of one token per row
 * @op: the table and d (row b of d at @rows->d_pitch * b); @op->row must
 *	be the constant 0: the rows come from @rids.
 * @rids: register with the VA of B u32 token ids; an id of @op->rows or
 *	more fails the job with BAD_INSN (rows before it are done).
 */
JALRT_API int jalrt_kb_embed_rows(struct jalrt_kernel_builder *kb,
				  const struct jalrt_embed_op *op, unsigned int rids,
				  const struct jalrt_rows *rows);
/**
 * jalrt_kb_argmax_rows() - jalrt_kb_argmax() of each row of logits
 * @rresults: register with the VA of B u32 results.
 */
JALRT_API int jalrt_kb_argmax_rows(struct jalrt_kernel_builder *kb, unsigned int rresults,
				   unsigned int ra, struct jalrt_dim n,
				   const struct jalrt_rows *rows);
/**
 * jalrt_kb_sample_rows() - jalrt_kb_sample() of each row with its own
 *	sampler
 * @rresults: register with the VA of B u32 results.
 * @ra: register with the VA of the logits (rows @rows->a_pitch apart).
 * @rstates: register with the VA of B u64 xorshift64* states, each
 *	advanced as jalrt_kb_sample() advances its register.
 * @rparams: register with the VA of B pairs of f32 (temperature, top-p);
 *	a pair jalrt_kb_sample() would reject fails the job with BAD_INSN
 *	when its row comes.
 * @n: logits per row.
 */
JALRT_API int jalrt_kb_sample_rows(struct jalrt_kernel_builder *kb, unsigned int rresults,
				   unsigned int ra, unsigned int rstates, unsigned int rparams,
				   struct jalrt_dim n, const struct jalrt_rows *rows);

/**
 * struct jalrt_kv_pool - paged KV caches: pools of blocks, tables per row
 * @rk: register with the VA of the K pool.
 * @rv: register with the VA of the V pool.
 * @rtables: register with the VA of the block tables (u32 block indices).
 * @block_size: positions a block holds (>= 1); a position is n_kv_heads *
 *	head_size elements of @dtype, so block i starts at i * block_size *
 *	that * the element size bytes.
 * @blocks: blocks in each pool; a table entry must be below.
 * @table_entries: entries of one row's table (1..JAL_PAGED_MAX_BLOCKS):
 *	position t of row b is in block table_b[t / @block_size].
 * @table_pitch: entries from one row's table to the next; 0: all rows
 *	share one table (the positions of one prompt).
 * @dtype: element type of the pools: JAL_DTYPE_F32 (0) or JAL_DTYPE_BF16
 *	(2 bytes an element: stores round to nearest even, attention decodes
 *	exactly; Documentation/hw/isa.rst, "Paged KV caches").
 */
struct jalrt_kv_pool {
	unsigned int rk, rv, rtables;
	uint32_t block_size, blocks;
	uint32_t table_entries, table_pitch;
	unsigned int dtype;
};

/**
 * struct jalrt_paged_attention_op - B queries, each over its own paged cache
 * @rout: register with the VA of the outputs (B rows of @n_heads *
 *	@head_size f32, @out_pitch apart; 0 = dense).
 * @rq: register with the VA of the queries (the same shape, @q_pitch).
 * @rlengths: register with the VA of B u32: positions row b attends to
 *	(1 up to what its table holds).
 * @n_heads, @head_size, @n_kv_heads: as struct jalrt_attention_op.
 * @rows: B (up to JAL_ROWS_MAX), usually a register.
 * @out_pitch, @q_pitch: row pitches in elements, 0 = dense.
 * @pool: the K and V pools and the block tables.
 *
 * Row b's output is bit for bit jalrt_kb_attention() over a contiguous
 * cache holding its sequence's first length_b keys and values.
 */
struct jalrt_paged_attention_op {
	unsigned int rout, rq, rlengths;
	struct jalrt_dim n_heads, head_size, n_kv_heads, rows;
	uint32_t out_pitch, q_pitch;
	struct jalrt_kv_pool pool;
};

JALRT_API int jalrt_kb_paged_attention(struct jalrt_kernel_builder *kb,
				       const struct jalrt_paged_attention_op *op);

/**
 * struct jalrt_paged_kv_store_op - store one position of B sequences
 * @rk: register with the VA of the k rows (B rows of @n_kv_heads *
 *	@head_size f32, @k_pitch apart; 0 = dense).
 * @rv: the same for the v rows (@v_pitch).
 * @rpositions: register with the VA of B u32 positions; row b's k and v
 *	go to slot pos % block_size of block table_b[pos / block_size].
 * @head_size, @n_kv_heads: the shape of a position.
 * @rows: B (up to JAL_ROWS_MAX), usually a register.
 * @k_pitch, @v_pitch: row pitches in elements, 0 = dense.
 * @pool: the K and V pools and the block tables.
 */
struct jalrt_paged_kv_store_op {
	unsigned int rk, rv, rpositions;
	struct jalrt_dim head_size, n_kv_heads, rows;
	uint32_t k_pitch, v_pitch;
	struct jalrt_kv_pool pool;
};

JALRT_API int jalrt_kb_paged_kv_store(struct jalrt_kernel_builder *kb,
				      const struct jalrt_paged_kv_store_op *op);

/**
 * jalrt_kb_code() - link and return the instructions
 * @kb: builder.
 * @code: out: the instructions, valid until the builder changes.
 * @count: out: number of instructions.
 *
 * Resolves labels and checks every branch target.
 * Return: 0, the builder's first error, or -EINVAL (unbound label).
 */
JALRT_API int jalrt_kb_code(struct jalrt_kernel_builder *kb, const struct jal_insn **code,
			    uint32_t *count);

/**
 * jalrt_kb_finalize() - link the code and place it on a device
 * @kb: builder (still usable afterwards).
 * @dev: device.
 * @kernel: out: the compiled kernel.
 *
 * Return: 0, the builder's first error, -EINVAL for an empty kernel or
 * unbound labels, -E2BIG if the code exceeds the device's limit, or the
 * errno of the buffer allocation.
 */
JALRT_API int jalrt_kb_finalize(struct jalrt_kernel_builder *kb, struct jalrt_device *dev,
				struct jalrt_kernel **kernel);

/**
 * jalrt_kernel_create() - place validated raw code on a device
 * @dev: device.
 * @code: @count instructions; branch targets are absolute indices.
 * @count: instructions, 1..JALRT_KB_MAX_INSNS.
 * @num_args: argument words the kernel takes.
 * @kernel: out: the kernel.
 *
 * Return: 0 or a negative errno (-EINVAL names the bad instruction).
 */
JALRT_API int jalrt_kernel_create(struct jalrt_device *dev, const struct jal_insn *code,
				  uint32_t count, unsigned int num_args,
				  struct jalrt_kernel **kernel);

/** jalrt_kernel_destroy() - free a kernel (or NULL). Return: 0. */
JALRT_API int jalrt_kernel_destroy(struct jalrt_kernel *kernel);
/** jalrt_kernel_num_args() - accessor: argument words (0 for NULL). */
JALRT_API unsigned int jalrt_kernel_num_args(const struct jalrt_kernel *kernel);
/** jalrt_kernel_num_insns() - accessor: instruction count (0 for NULL). */
JALRT_API uint32_t jalrt_kernel_num_insns(const struct jalrt_kernel *kernel);
/** jalrt_kernel_buffer() - accessor: the buffer holding the code. */
JALRT_API struct jalrt_buffer *jalrt_kernel_buffer(const struct jalrt_kernel *kernel);

/* ------------------------------------------------------------------ */
/* Command buffers                                                      */
/* ------------------------------------------------------------------ */

/*
 * Commands are encoded on the host as they are added (the buffer grows as
 * needed, up to the device's max_cmdbuf_size of commands) and written into
 * the command buffer's own device buffer at submit time, together with the
 * argument blocks of its dispatches. Buffers named in commands are
 * remembered and passed to the driver as used by the job; buffers that a
 * kernel reaches only through VAs in its arguments must be named with
 * jalrt_cmdbuf_use_buffer() or in the submit's buffer list.
 *
 * A command buffer can be submitted many times. Changing it after a
 * submit is allowed: the next submit first waits for earlier jobs still
 * reading its device buffer.
 *
 * The buffer-based commands check their arguments on the host and return
 * -EINVAL (NULL argument, misaligned WRITE_VALUE/TIMESTAMP address),
 * -ERANGE (range outside the buffer), -EACCES (destination is
 * JALRT_BUFFER_DEVICE_READONLY), -EXDEV (buffer of another device) or
 * -E2BIG (the commands would exceed the device's max_cmdbuf_size); a
 * failed call leaves the command buffer as it was.
 */

/** jalrt_cmdbuf_create() - empty command buffer for @dev. Return: 0 or -errno. */
JALRT_API int jalrt_cmdbuf_create(struct jalrt_device *dev, struct jalrt_cmdbuf **cb);
/** jalrt_cmdbuf_destroy() - free a command buffer (or NULL). Return: 0. */
JALRT_API int jalrt_cmdbuf_destroy(struct jalrt_cmdbuf *cb);
/** jalrt_cmdbuf_reset() - drop all commands and used buffers. Return: 0 or -EINVAL. */
JALRT_API int jalrt_cmdbuf_reset(struct jalrt_cmdbuf *cb);

/** copy @size bytes from @src + @src_off to @dst + @dst_off (memmove semantics) */
JALRT_API int jalrt_cmdbuf_copy(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				uint64_t dst_off, struct jalrt_buffer *src, uint64_t src_off,
				uint64_t size);
/** fill @size bytes at @dst + @dst_off with @pattern; byte i gets byte i % 4 of it */
JALRT_API int jalrt_cmdbuf_fill(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				uint64_t dst_off, uint64_t size, uint32_t pattern);
/** write the 64-bit @value at @dst + @dst_off (8-byte aligned VA) */
JALRT_API int jalrt_cmdbuf_write_value(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				       uint64_t dst_off, uint64_t value);
/** write the device clock (ns) at @dst + @dst_off (8-byte aligned VA) */
JALRT_API int jalrt_cmdbuf_timestamp(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				     uint64_t dst_off);
/** a no-op command (e.g. a pure synchronisation job) */
JALRT_API int jalrt_cmdbuf_nop(struct jalrt_cmdbuf *cb);

/**
 * jalrt_cmdbuf_dispatch() - run @kernel with argument words @args
 * @cb: command buffer.
 * @kernel: kernel made on the same device.
 * @args: @num_args words loaded into r0.. (NULL if @num_args is 0).
 * @num_args: must equal jalrt_kernel_num_args(@kernel).
 *
 * The words are copied; @args may be reused at once.
 * Return: 0 or a negative errno.
 */
JALRT_API int jalrt_cmdbuf_dispatch(struct jalrt_cmdbuf *cb, struct jalrt_kernel *kernel,
				    const uint64_t *args, unsigned int num_args);

/**
 * jalrt_cmdbuf_set_args() - change argument words of a recorded dispatch
 * @cb: command buffer.
 * @dispatch: which dispatch, counting the buffer's dispatches from 0.
 * @first: first argument word to replace.
 * @args: @count new words.
 * @count: words; [@first, @first + @count) must lie within the dispatch's
 *	arguments.
 *
 * For loops that rerun one command buffer with, e.g., a new position each
 * time: the commands stay, only the argument block is rewritten at the
 * next submit (after earlier jobs of this buffer finished reading it).
 * Return: 0, -EINVAL (no such dispatch) or -ERANGE.
 */
JALRT_API int jalrt_cmdbuf_set_args(struct jalrt_cmdbuf *cb, unsigned int dispatch,
				    unsigned int first, const uint64_t *args, unsigned int count);

/**
 * jalrt_cmdbuf_emit_raw() - append one raw command (for commands that have
 * no helper yet)
 * @cmd: the command, starting with its header; its length in the header
 *	must equal @bytes.
 * @bytes: a non-zero multiple of 4.
 *
 * The command is copied as is; buffers it uses must be named with
 * jalrt_cmdbuf_use_buffer().
 */
JALRT_API int jalrt_cmdbuf_emit_raw(struct jalrt_cmdbuf *cb, const void *cmd, size_t bytes);

/** jalrt_cmdbuf_use_buffer() - mark @buf as used by jobs of @cb */
JALRT_API int jalrt_cmdbuf_use_buffer(struct jalrt_cmdbuf *cb, struct jalrt_buffer *buf);

/**
 * jalrt_cmdbuf_data() - the encoded commands (host copy)
 * @data: out: the command bytes. A dispatch's args_va holds the offset of
 *	its arguments inside the argument area until the buffer is
 *	submitted; the device copy has the real VA.
 * @size: out: bytes of commands (the job's cmdbuf_size).
 */
JALRT_API int jalrt_cmdbuf_data(const struct jalrt_cmdbuf *cb, const void **data, size_t *size);

/* ------------------------------------------------------------------ */
/* Submission and fences                                                */
/* ------------------------------------------------------------------ */

/**
 * jalrt_submit() - queue a command buffer on a context
 * @ctx: context.
 * @cb: non-empty command buffer of the same device.
 * @buffers: extra buffers the job uses (beyond those named in commands),
 *	may be NULL if @num_buffers is 0.
 * @num_buffers: entries in @buffers.
 * @wait: fences (of the same device) that must signal before the job
 *	starts; may be NULL if @num_wait is 0.
 * @num_wait: entries in @wait.
 * @fence: out: the job's fence, or NULL if the caller does not need one.
 *
 * Return: 0, -ECANCELED if the context is banned after a failed job (the
 * message says which and why), or another negative errno.
 */
JALRT_API int jalrt_submit(struct jalrt_context *ctx, struct jalrt_cmdbuf *cb,
			   struct jalrt_buffer *const *buffers, unsigned int num_buffers,
			   struct jalrt_fence *const *wait, unsigned int num_wait,
			   struct jalrt_fence **fence);

/**
 * jalrt_fence_wait() - wait for a job and return its result
 * @fence: fence.
 * @timeout_ns: relative timeout.
 *
 * Return: 0 if the job completed successfully, -ETIME if it still runs
 * at the deadline, or the job error (see the top of this file).
 */
JALRT_API int jalrt_fence_wait(struct jalrt_fence *fence, int64_t timeout_ns);

/**
 * jalrt_fence_status() - poll a job
 * Return: 0 if it completed successfully, -EINPROGRESS if it has not
 * ended yet, or the job error.
 */
JALRT_API int jalrt_fence_status(struct jalrt_fence *fence);

/**
 * struct jalrt_job_error - why a job failed
 * @error: the job's error (negative errno), 0 if it succeeded.
 * @failed_seqno: seqno of the job of the context that failed first (this
 *	job, or an earlier one if @error is -ECANCELED).
 * @hw_status: JAL_STATUS_* of that job.
 * @fault_addr: faulting device VA for MMU faults.
 * @error_offset: offset of the failing command in that job's cmdbuf.
 */
struct jalrt_job_error {
	int error;
	uint64_t failed_seqno;
	uint32_t hw_status;
	uint64_t fault_addr;
	uint32_t error_offset;
};

/**
 * jalrt_fence_error() - details of a finished job
 * Return: 0 and @err filled, -EINPROGRESS if the job has not ended.
 */
JALRT_API int jalrt_fence_error(struct jalrt_fence *fence, struct jalrt_job_error *err);

/** jalrt_fence_seqno() - accessor: the job's per-context seqno (0 for NULL). */
JALRT_API uint64_t jalrt_fence_seqno(const struct jalrt_fence *fence);

/** jalrt_fence_destroy() - free a fence (or NULL); the job is unaffected. Return: 0. */
JALRT_API int jalrt_fence_destroy(struct jalrt_fence *fence);

/* ------------------------------------------------------------------ */
/* Synchronous helpers: submit, wait, return the job's result             */
/* ------------------------------------------------------------------ */

JALRT_API int jalrt_submit_sync(struct jalrt_context *ctx, struct jalrt_cmdbuf *cb,
				struct jalrt_buffer *const *buffers, unsigned int num_buffers,
				int64_t timeout_ns);
/**
 * jalrt_dispatch_sync() - run one kernel and wait
 * @buffers: the buffers the kernel reaches through @args.
 */
JALRT_API int jalrt_dispatch_sync(struct jalrt_context *ctx, struct jalrt_kernel *kernel,
				  const uint64_t *args, unsigned int num_args,
				  struct jalrt_buffer *const *buffers, unsigned int num_buffers,
				  int64_t timeout_ns);
JALRT_API int jalrt_copy_sync(struct jalrt_context *ctx, struct jalrt_buffer *dst,
			      uint64_t dst_off, struct jalrt_buffer *src, uint64_t src_off,
			      uint64_t size, int64_t timeout_ns);
JALRT_API int jalrt_fill_sync(struct jalrt_context *ctx, struct jalrt_buffer *dst,
			      uint64_t dst_off, uint64_t size, uint32_t pattern,
			      int64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* JALRT_H */
