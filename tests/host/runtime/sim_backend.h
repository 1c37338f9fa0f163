/* SPDX-License-Identifier: MIT */
/*
 * A libjalrt backend that runs jobs on the chip model itself
 * (qemu-device/core) in-process: a minimal driver for it (one address
 * space, page tables, context table, one ring per priority, completion by
 * polling) so that the runtime's programs run for real on the host,
 * without QEMU, the kernel driver or a guest. Used to run the guest tests
 * of tests/runtime on the host (built with JALRT_TEST_SIM) and by host
 * tests that need results, not just encodings.
 *
 * What it does not model: several files (address spaces), IRQs (it
 * polls), queue resets and timeouts, BO reservation waits per BO (a BO
 * wait waits for every job).
 */
#ifndef JALRT_SIM_BACKEND_H
#define JALRT_SIM_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

struct jalrt_device;

/**
 * sim_open() - a device backed by an in-process chip model
 * @vram_size: device memory of the chip (0: none).
 * @vram_bos: whether the "driver" allocates BOs there (a driver that
 *	predates device memory says -EINVAL).
 * @dev: out: the device; jalrt_device_close() frees everything.
 *
 * Return: 0 or a negative errno.
 */
int sim_open(uint64_t vram_size, bool vram_bos, struct jalrt_device **dev);

#endif /* JALRT_SIM_BACKEND_H */
