/* SPDX-License-Identifier: MIT */
/*
 * Jalapeño chip model: state and helpers shared by the core's files.
 * Nothing here is visible to bindings.
 */
#ifndef JAL_INTERNAL_H
#define JAL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "jalapeno_hw.h"
#include "jal_core.h"

/*
 * COPY/FILL move data through a bounce buffer of this size; it is also
 * how often a long transfer checks for an abort.
 */
#define JAL_DMA_CHUNK		(1u << 20)
/* Vector ops work on this many elements at a time per operand. */
#define JAL_VEC_CHUNK		16384u
/* Strided gathers read the covering range into this many elements. */
#define JAL_SCRATCH_ELEMS	65536u
/* MATVEC keeps an x vector of up to this many elements resident. */
#define JAL_XBUF_ELEMS		65536u
/* Largest byte extent of one compute operand. */
#define JAL_MAX_EXTENT		(256ull << 20)
#define JAL_VA_LIMIT		(1ull << JAL_VA_BITS)
#define JAL_TLB_ENTRIES		256u
#define JAL_NO_QUEUE		(-1)

#define JAL_PTE_RESERVED	0xfff0000000000ff8ull
#define JAL_PAGE_MASK		(JAL_PAGE_SIZE - 1)

#define JAL_MIN(a, b)		((a) < (b) ? (a) : (b))
#define JAL_MAX(a, b)		((a) > (b) ? (a) : (b))

/* Registers of one hardware queue. */
struct jal_queue {
	uint64_t ring;
	uint32_t ring_lo;		/* staged until RING_HI is written */
	uint32_t ring_size;
	uint32_t head;
	uint32_t tail;
	uint32_t ctrl;			/* JAL_Q_CTRL_ENABLE */
	uint32_t priority;
	bool error;			/* JAL_Q_STATUS_ERROR */
	uint64_t compl;
	uint32_t compl_lo;		/* staged until COMPL_HI is written */
	uint32_t completed;
};

struct jal_fault_record {
	uint32_t status;
	uint32_t ctx;
	uint32_t queue;
	uint32_t reason;
	uint64_t addr;
	uint32_t count;
};

#define JAL_TLB_READ		(1u << 0)
#define JAL_TLB_WRITE		(1u << 1)

struct jal_tlb_entry {
	uint64_t vpn;
	uint64_t pa;			/* page frame address */
	uint32_t ctx;
	uint8_t perms;			/* JAL_TLB_* */
	bool valid;
};

/* State only the worker thread touches: no locking. */
struct jal_worker {
	struct jal_tlb_entry tlb[JAL_TLB_ENTRIES];
	unsigned int tlb_gen;		/* mmu_gen the TLB contents belong to */
	uint8_t *dma_buf;		/* JAL_DMA_CHUNK bytes */
	struct jal_insn *code;		/* JAL_MAX_CODE_SIZE bytes */
	float *vec[3];			/* JAL_VEC_CHUNK elements each */
	float *xbuf;			/* JAL_XBUF_ELEMS elements */
	float *scratch;			/* JAL_SCRATCH_ELEMS elements */
};

struct jal_device {
	const struct jal_platform_ops *ops;
	void *opaque;

	pthread_mutex_t lock;
	pthread_cond_t work_cond;	/* worker: maybe there is work */
	pthread_cond_t idle_cond;	/* resetters: a job was let go */
	pthread_t thread;
	bool stopping;

	/* Registers; all under @lock. */
	uint32_t dev_ctrl;
	uint32_t irq_status;
	uint32_t irq_mask;
	uint64_t step_limit;
	uint32_t step_limit_lo;
	uint32_t timestamp_hi;
	uint64_t ctx_table;
	uint32_t ctx_table_lo;
	struct jal_fault_record fault;
	struct jal_queue queue[JAL_NUM_QUEUES];
	unsigned int rr_last[JAL_QUEUE_PRIORITY_MAX + 1];

	/* Interrupt vectors to signal once @lock is dropped. */
	uint32_t irq_pending;

	/* The job in flight, under @lock; @abort is read without it. */
	int running_queue;
	uint64_t job_seq;
	atomic_bool abort;

	/*
	 * Bumped by every MMU invalidation; the worker drops its caches
	 * when it sees a new value.
	 */
	atomic_uint mmu_gen;

	struct jal_worker worker;
};

/* One job (descriptor) being executed by the worker. */
struct jal_job {
	struct jal_device *dev;
	struct jal_worker *w;
	unsigned int queue;
	uint32_t ctx_id;
	uint64_t ctx_table;		/* snapshot at job start */
	uint64_t pt_root;		/* from the context entry */
	unsigned int mmu_gen;		/* generation @pt_root was read at */
	uint64_t step_limit;
	uint64_t steps;
	/* Error report, valid when a function returned non-OK. */
	uint64_t fault_addr;
	bool fault_write;
	uint32_t error_offset;
};

static inline bool jal_job_aborted(const struct jal_job *job)
{
	return atomic_load_explicit(&job->dev->abort, memory_order_relaxed);
}

/* Little-endian conversion: the chip's memory formats are little endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define JAL_HOST_BIG_ENDIAN 1
static inline uint32_t jal_le32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t jal_le64(uint64_t v) { return __builtin_bswap64(v); }
static inline uint16_t jal_le16(uint16_t v) { return __builtin_bswap16(v); }
#else
#define JAL_HOST_BIG_ENDIAN 0
static inline uint32_t jal_le32(uint32_t v) { return v; }
static inline uint64_t jal_le64(uint64_t v) { return v; }
static inline uint16_t jal_le16(uint16_t v) { return v; }
#endif

/* jal_core.c */
const char *jal_status_name(enum jal_status status);
void jal_log(struct jal_device *dev, const char *fmt, ...)
	JAL_PRINTF(2, 3);
void jal_lock(struct jal_device *dev);
void jal_unlock(struct jal_device *dev);
int jal_dma_read(struct jal_device *dev, uint64_t pa, void *buf, size_t len);
int jal_dma_write(struct jal_device *dev, uint64_t pa, const void *buf,
		  size_t len);
uint64_t jal_now(struct jal_device *dev);

/* jal_regs.c (callers hold the lock) */
void jal_regs_reset(struct jal_device *dev);
void jal_irq_raise(struct jal_device *dev, uint32_t bits);
void jal_fault_report(struct jal_device *dev, uint32_t ctx, uint32_t queue,
		      enum jal_status reason, uint64_t addr, bool write);

/* jal_queue.c */
void *jal_worker_main(void *arg);
void jal_queue_regs_reset(struct jal_queue *q);
void jal_queue_reset_locked(struct jal_device *dev, unsigned int q);
void jal_device_reset_locked(struct jal_device *dev);
void jal_abort_and_wait_locked(struct jal_device *dev);
bool jal_queue_idle_locked(const struct jal_device *dev, unsigned int q);

/* jal_cmd.c */
enum jal_status jal_job_run(struct jal_job *job, const struct jal_desc *desc);

/* jal_mmu.c */
enum jal_status jal_mmu_begin(struct jal_job *job);
enum jal_status jal_mmu_translate(struct jal_job *job, uint64_t va, bool write,
				  uint64_t *pa);
enum jal_status jal_mmu_read(struct jal_job *job, uint64_t va, void *buf,
			     size_t len);
enum jal_status jal_mmu_write(struct jal_job *job, uint64_t va,
			      const void *buf, size_t len);
void jal_mmu_invalidate(struct jal_device *dev);

/* jal_exec.c */
enum jal_status jal_exec_dispatch(struct jal_job *job,
				  const struct jal_cmd_dispatch *cmd);

#endif /* JAL_INTERNAL_H */
