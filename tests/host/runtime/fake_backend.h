/* SPDX-License-Identifier: MIT */
/*
 * A fake jalapeno driver for the libjalrt host tests: BOs live in host
 * memory, SUBMIT checks its arguments like the driver, records them and
 * runs the DMA commands (COPY/FILL/WRITE_VALUE/TIMESTAMP) on the fake
 * memory, and the tests decide when fences signal and how jobs fail.
 */
#ifndef JALRT_FAKE_BACKEND_H
#define JALRT_FAKE_BACKEND_H

#include <pthread.h>

#include "jalrt_internal.h"

#define FAKE_MAX_BOS		256
#define FAKE_MAX_CTXS		16
#define FAKE_MAX_SYNCOBJS	256
#define FAKE_MAX_SUBMITS	64
#define FAKE_VA_START		0x100000ull

struct fake_bo {
	bool live;
	uint32_t flags;
	uint64_t size;		/* page rounded */
	uint64_t va;
	void *mem;
};

struct fake_ctx {
	bool live;
	uint32_t priority;
	uint64_t submitted;
	/* What CTX_STATUS reports; tests set these to fail jobs. */
	struct drm_jalapeno_ctx_status status;
};

struct fake_submit {
	struct drm_jalapeno_submit req;
	uint32_t bo_handles[64];
	uint32_t in_syncobjs[16];
	uint8_t cmds[4096];	/* copy of the first bytes of the cmdbuf */
	uint64_t dispatch_args[16];	/* words of the last dispatch */
	unsigned int dispatch_nargs;
	unsigned int dispatches;
};

struct fake_syncobj {
	bool live;
	bool signaled;
};

struct fake_dev {
	pthread_mutex_t lock;
	struct fake_bo bos[FAKE_MAX_BOS];	/* handle = index + 1 */
	uint64_t next_va;
	struct fake_ctx ctxs[FAKE_MAX_CTXS];	/* ctx_id = index + 1 */
	struct fake_syncobj syncobjs[FAKE_MAX_SYNCOBJS];
	struct fake_submit submits[FAKE_MAX_SUBMITS];	/* ring, see fake_last_submit() */
	unsigned int num_submits;

	/* knobs */
	bool signal_on_submit;		/* out fences signal at once */
	bool vram_bos;			/* BO_CREATE takes DRM_JALAPENO_BO_VRAM */
	uint64_t vram_left;		/* device memory left for VRAM BOs */
	int fail_bo_create;		/* errno to fail the next BO_CREATE with */
	int fail_syncobj_create;	/* errno for the next syncobj create */

	/* counters the tests check */
	unsigned int bo_creates;
	unsigned int bo_closes;
	unsigned int bo_waits;
	unsigned int ctx_destroys;
	unsigned int syncobj_destroys;
	unsigned int closes;		/* the device's last reference went */
};

extern const struct jalrt_backend_ops fake_ops;

/* A fake device with default info (1 MiB cmdbuf and code limits). */
int fake_open(struct fake_dev **fake, struct jalrt_device **dev);
/*
 * An ISA 1.1 fake (JAL_CAP_LLM) reporting @vram_size bytes of device
 * memory (0: none); @vram_bos says whether its driver can allocate VRAM
 * BOs (a driver that predates them fails BO_CREATE with -EINVAL). VRAM BOs
 * live in fake memory like the others but cannot be mmap()ed.
 */
int fake_open_llm(struct fake_dev **fake, struct jalrt_device **dev, uint64_t vram_size,
		  bool vram_bos);
void fake_free(struct fake_dev *fake);

/* Helpers for tests. */
struct fake_bo *fake_bo_by_va(struct fake_dev *fake, uint64_t va, uint64_t *offset);
unsigned int fake_live_bos(struct fake_dev *fake);
void fake_signal(struct fake_dev *fake, uint32_t syncobj);
struct fake_ctx *fake_ctx(struct fake_dev *fake, uint32_t ctx_id);
/* The @back-th most recent submit (0 = last). */
struct fake_submit *fake_last_submit(struct fake_dev *fake, unsigned int back);
/* Mark job @seqno of @ctx_id failed (and the context banned). */
void fake_fail_job(struct fake_dev *fake, uint32_t ctx_id, uint64_t seqno, int error,
		   uint32_t hw_status, uint64_t fault_addr, uint32_t error_offset);

#endif /* JALRT_FAKE_BACKEND_H */
