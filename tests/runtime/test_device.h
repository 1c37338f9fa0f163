/* SPDX-License-Identifier: MIT */
/*
 * Which device the runtime tests use: the first Jalapeño device (in the
 * guest), or, built with JALRT_TEST_SIM (tests/host/runtime), the chip
 * model run in-process by the sim backend, with $JAL_SIM_VRAM_MB MiB of
 * device memory (default 256; 0 for none).
 */
#ifndef JALRT_TEST_DEVICE_H
#define JALRT_TEST_DEVICE_H

#include <stdlib.h>

#include "jalrt.h"

#ifdef JALRT_TEST_SIM
#include "sim_backend.h"

static inline int test_device_open(struct jalrt_device **dev)
{
	const char *mb = getenv("JAL_SIM_VRAM_MB");
	uint64_t vram = (mb && *mb ? strtoull(mb, NULL, 0) : 256) << 20;

	return sim_open(vram, true, dev);
}
#else
static inline int test_device_open(struct jalrt_device **dev)
{
	return jalrt_device_open(0, dev);
}
#endif

#endif /* JALRT_TEST_DEVICE_H */
