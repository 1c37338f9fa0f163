/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: public interface of the core.
 *
 * The core is the chip: registers, queues, MMU, command processor and
 * compute unit, in plain C11 with POSIX threads and no QEMU dependency.
 * A binding (the QEMU PCI device, or the host unit tests) supplies host
 * memory access, interrupts and a clock through struct jal_platform_ops
 * and forwards BAR0 accesses to jal_mmio_read()/jal_mmio_write().
 *
 * Threads: the core owns one worker thread that executes jobs, plus
 * compute_threads - 1 helper threads that share the arithmetic of large
 * instructions with it (they only ever touch device memory and the core's
 * own buffers, never host memory). MMIO entry points may be called from
 * any thread, concurrently; they take the core's lock only briefly, except
 * the two reset paths, which wait for the worker to let go of the aborted
 * job (it checks for aborts between commands, instructions, copy chunks
 * and blocks of long instructions, so that is prompt).
 *
 * Device memory (VRAM) is owned by the core: an anonymous mapping of
 * vram_size bytes that costs host memory only where it was written.
 */
#ifndef JAL_CORE_H
#define JAL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jal_device;

#define JAL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/**
 * struct jal_platform_ops - what the core needs from its host
 * @dma_read: read @len bytes of host physical memory at @pa. Returns 0 or
 *	a negative value when the access failed (the job then ends with
 *	JAL_STATUS_BUS_ERROR). Called from the worker thread, sometimes with
 *	the core's lock held (ring and completion accesses): it must not call
 *	back into the core and must not wait for a thread that may be
 *	waiting in jal_mmio_write() (the QEMU binding restricts DMA to RAM so
 *	it never needs the BQL).
 * @dma_write: the same for writes.
 * @raise_irq: signal interrupt @vector (JAL_MSIX_VEC_*). Called without
 *	the core's lock held, from the worker or from an MMIO write; the
 *	binding defers the actual MSI-X/INTx update to a context that may
 *	touch the interrupt controller. For INTx the binding asks
 *	jal_irq_asserted() for the line level.
 * @now_ns: the device clock in nanoseconds (monotonic). Called from any
 *	thread, possibly with the core's lock held.
 * @log_guest_error: report a guest programming error (bad register
 *	access, bad descriptor, faulting job...); purely informational. The
 *	message is one line ending in a newline. Called from any thread,
 *	possibly with the core's lock held.
 * @worker_start: optional, called on the worker thread before it touches
 *	memory (QEMU: rcu_register_thread()).
 * @worker_stop: optional, called on the worker thread before it exits.
 */
struct jal_platform_ops {
	int (*dma_read)(void *opaque, uint64_t pa, void *buf, size_t len);
	int (*dma_write)(void *opaque, uint64_t pa, const void *buf, size_t len);
	void (*raise_irq)(void *opaque, unsigned int vector);
	uint64_t (*now_ns)(void *opaque);
	void (*log_guest_error)(void *opaque, const char *fmt, ...)
		JAL_PRINTF(2, 3);
	void (*worker_start)(void *opaque);
	void (*worker_stop)(void *opaque);
};

/* Defaults and limits of struct jal_device_config. */
#define JAL_VRAM_SIZE_DEFAULT		(1ull << 30)
#define JAL_VRAM_SIZE_MAX		(1ull << 40)
#define JAL_COMPUTE_THREADS_MAX		64u

/**
 * struct jal_device_config - what the chip is built with
 * @vram_size: bytes of device memory, a multiple of 4 KiB up to
 *	JAL_VRAM_SIZE_MAX; 0 means none (JAL_CAP_VRAM clear).
 * @compute_threads: host threads that execute compute instructions,
 *	the worker included (1: the worker alone), at most
 *	JAL_COMPUTE_THREADS_MAX; 0 picks min(4, online CPUs).
 * @kernels: NULL (or "") for the fastest compute kernels the host CPU
 *	supports, else the name of a variant to use ("sse2" or "generic" for
 *	the baseline ISA, "avx2", "avx512"); creation fails with EINVAL if
 *	it is not built in or the CPU lacks it. Results are the same bit for
 *	bit with every variant; this is for tests and benchmarks.
 * @fault_injection: build the chip with JAL_CAP_FAULT_INJECT and the
 *	JAL_REG_INJECT_* registers (off by default: a guest could otherwise
 *	stop the chip at will). For testing a driver's recovery.
 */
struct jal_device_config {
	uint64_t vram_size;
	unsigned int compute_threads;
	const char *kernels;
	bool fault_injection;
};

/** jal_device_config_default() - @cfg = the defaults (1 GiB, auto threads) */
void jal_device_config_default(struct jal_device_config *cfg);

/**
 * jal_device_create() - create a chip in its power-on state
 * @ops: host services; must outlive the device.
 * @opaque: passed back to every op.
 * @cfg: the chip's configuration, NULL for jal_device_config_default().
 *
 * Starts the worker thread (and the compute helpers). Returns NULL (errno
 * set: EINVAL for a bad configuration) when the device cannot be made.
 */
struct jal_device *jal_device_create(const struct jal_platform_ops *ops,
				     void *opaque,
				     const struct jal_device_config *cfg);

/**
 * jal_device_vram() - the device memory, for test benches and debugging
 * @dev: the device.
 * @size: if not NULL, gets the size in bytes.
 *
 * The chip's own memory as seen by the core. Only touch it while the
 * device is idle: the worker accesses it without locks.
 */
void *jal_device_vram(struct jal_device *dev, uint64_t *size);

/**
 * jal_device_kernels() - name of the compute kernels in use
 * @dev: the device.
 *
 * "sse2", "avx2", "avx512" or "generic": which instruction set the
 * arithmetic of compute instructions was compiled for.
 */
const char *jal_device_kernels(struct jal_device *dev);

/**
 * jal_device_destroy() - abort any job, stop the worker, free the device
 * @dev: may be NULL.
 */
void jal_device_destroy(struct jal_device *dev);

/**
 * jal_device_reset() - whole-device reset (same as JAL_DEV_CTRL_RESET)
 * @dev: the device.
 *
 * Aborts the running job and returns every register to its power-on
 * value. Returns after the worker stopped touching the job's memory.
 */
void jal_device_reset(struct jal_device *dev);

/**
 * jal_mmio_read() - BAR0 read
 * @dev: the device.
 * @offset: byte offset in BAR0.
 * @size: access size in bytes; only 4-byte aligned 4-byte accesses are
 *	defined, anything else reads 0 and is logged as a guest error.
 */
uint64_t jal_mmio_read(struct jal_device *dev, uint64_t offset,
		       unsigned int size);

/**
 * jal_mmio_write() - BAR0 write
 * @dev: the device.
 * @offset: byte offset in BAR0.
 * @value: the value written.
 * @size: access size in bytes; see jal_mmio_read().
 */
void jal_mmio_write(struct jal_device *dev, uint64_t offset, uint64_t value,
		    unsigned int size);

/**
 * jal_irq_asserted() - INTx line level: (IRQ_STATUS & ~IRQ_MASK) != 0
 * @dev: the device.
 */
bool jal_irq_asserted(struct jal_device *dev);

#endif /* JAL_CORE_H */
