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
/*
 * Matrix instructions keep whole x vectors (rows of X) of up to this many
 * elements resident; longer rows take a slower path that streams them.
 */
#define JAL_XBUF_ELEMS		65536u
/* Bounce buffers for matrix operands in host memory (bytes). */
#define JAL_WBUF_BYTES		(2u << 20)	/* rows of W */
#define JAL_ABUF_BYTES		(1u << 20)	/* their Q8 scales / S24 indices */
#define JAL_XBLK_ELEMS		(256u << 10)	/* rows of X */
/* Q8X: rows of X quantized at once (a row is at most JAL_Q8X_MAX_COLS). */
#define JAL_Q8X_BLK_ELEMS	JAL_XBLK_ELEMS
#define JAL_OBUF_ELEMS		65536u		/* results on their way out */
/* Per compute thread: W rows decoded to f32 for MATMUL. */
#define JAL_PANEL_ELEMS		65536u
/* Per compute thread: ATTENTION scores kept before they are recomputed. */
#define JAL_ATT_SCORE_BLOCK	16384u
/* Largest byte extent of one compute operand. */
#define JAL_MAX_EXTENT		(256ull << 20)
#define JAL_VA_LIMIT		(1ull << JAL_VA_BITS)
#define JAL_TLB_ENTRIES		256u
#define JAL_HUGE_TLB_ENTRIES	64u
#define JAL_SPAN_ENTRIES	256u
#define JAL_NO_QUEUE		(-1)

/* Bits 11..5 and 63..52 of page-table entries are reserved. */
#define JAL_PTE_RESERVED	0xfff0000000000fe0ull
#define JAL_PAGE_MASK		(JAL_PAGE_SIZE - 1)
#define JAL_HUGE_MASK		(JAL_HUGE_PAGE_SIZE - 1)

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

/*
 * A cached translation of one page: 4 KiB in the main TLB, 2 MiB in the
 * huge-page TLB (then @vpn is va >> 21).
 */
struct jal_tlb_entry {
	uint64_t vpn;
	uint64_t addr;			/* host PA or device-memory offset */
	uint32_t ctx;
	uint8_t perms;			/* JAL_TLB_* */
	bool vram;			/* @addr is in device memory */
	bool valid;
};

/*
 * The range cache, for compute operands that start at @va in context
 * @ctx: [va, va + len) is one contiguous run of device memory starting at
 * offset @off whose pages all allow @perms, and [va, va + bad_len) is
 * known not to be one. Looked up by the exact start VA, so the weights of
 * a model cost one walk per MMU invalidation, not one per use.
 */
struct jal_span_entry {
	uint64_t va;
	uint64_t len;
	uint64_t bad_len;
	uint64_t off;
	uint32_t ctx;
	uint8_t perms;
	bool valid;
};

/* Scratch of one compute thread (the worker is thread 0). */
struct jal_tscratch {
	float *panel;			/* JAL_PANEL_ELEMS */
	float *att_q;			/* JAL_ATTENTION_MAX_HEAD_SIZE */
	float *att_acc;			/* JAL_ATTENTION_MAX_HEAD_SIZE */
	float *att_s;			/* JAL_ATT_SCORE_BLOCK */
};

/* State only the worker thread touches: no locking. */
struct jal_worker {
	struct jal_tlb_entry tlb[JAL_TLB_ENTRIES];
	struct jal_tlb_entry huge_tlb[JAL_HUGE_TLB_ENTRIES];
	struct jal_span_entry spans[JAL_SPAN_ENTRIES];
	unsigned int tlb_gen;		/* mmu_gen the caches belong to */
	uint8_t *dma_buf;		/* JAL_DMA_CHUNK bytes */
	struct jal_insn *code;		/* JAL_MAX_CODE_SIZE bytes */
	float *vec[3];			/* JAL_VEC_CHUNK elements each */
	float *xbuf;			/* JAL_XBUF_ELEMS elements */
	/* JAL_INSN_F_Q8X: rows of x quantized (JAL_Q8X_BLK_ELEMS). */
	int8_t *q8x;
	float *q8x_scales;		/* per group (a group is >= 4) */
	int32_t *q8x_bias;		/* 128 * the sum of each group */
	float *scratch;			/* JAL_SCRATCH_ELEMS elements */
	uint8_t *wbuf;			/* JAL_WBUF_BYTES */
	uint8_t *abuf;			/* JAL_ABUF_BYTES */
	float *xblk;			/* JAL_XBLK_ELEMS */
	float *obuf;			/* JAL_OBUF_ELEMS */
	/* SAMPLE's probabilities and candidates, allocated on first use. */
	float *sample_prob;		/* JAL_SAMPLE_MAX_LOGITS */
	void *sample_cand;		/* JAL_SAMPLE_MAX_LOGITS pairs */
	struct jal_tscratch *ts;	/* one per compute thread */
};

/*
 * Helper threads for the arithmetic of large instructions. jal_pool_run()
 * calls fn(arg, thread) on the worker (thread 0) and on every helper that
 * gets to the run (threads 1..) before the worker is done; fn claims
 * blocks of the work itself. It returns when all callers have returned.
 */
typedef void (*jal_part_fn)(void *arg, unsigned int thread);

struct jal_pool {
	unsigned int helpers;		/* threads besides the worker */
	pthread_t *threads;
	/*
	 * The run, one word so that joining and closing exclude each other
	 * without a lock: the generation (bits 63..32, bumped by every run),
	 * JAL_POOL_OPEN (helpers may still join) and the number of helpers
	 * inside fn (the low bits). Only the worker starts and closes runs;
	 * a helper joins with a compare-and-swap while the run is open and
	 * leaves with a decrement. A lock here would put a helper that finds
	 * it taken to sleep, and a wake-up costs more than a small run.
	 */
	_Atomic uint64_t state;
	/* Written by the worker before it opens a run; read by joiners. */
	jal_part_fn fn;
	void *arg;
	/* Sleeping helpers and worker; @lock protects @stop and the waits. */
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* helpers: a new run, or stop */
	pthread_cond_t done;		/* worker: the last helper left */
	atomic_uint sleepers;		/* helpers waiting (or about to) on @wake */
	bool stop;
};

/*
 * Fault injection (JAL_REG_INJECT_*). The registers read back what was
 * written; @countdown is the chip's own counter, loaded from @after when
 * KIND is written and from @period after each injected fault. @armed is
 * cleared when a fault with PERIOD 0 has fired.
 */
struct jal_inject {
	uint32_t kind;			/* enum jal_inject_kind */
	uint32_t queue;			/* < JAL_NUM_QUEUES or ANY */
	uint32_t after;
	uint32_t period;
	uint32_t fired;
	uint32_t countdown;
	bool armed;
};

struct jal_kernels;

struct jal_device {
	const struct jal_platform_ops *ops;
	void *opaque;

	pthread_mutex_t lock;
	pthread_cond_t work_cond;	/* worker: maybe there is work */
	pthread_cond_t idle_cond;	/* resetters: a job was let go */
	pthread_t thread;
	bool stopping;

	/* Configuration, fixed at creation. */
	uint8_t *vram;			/* device memory, 2 MiB aligned */
	void *vram_map;			/* the mapping it is in */
	uint64_t vram_size;
	unsigned int compute_threads;
	const struct jal_kernels *kern;
	struct jal_pool pool;
	bool inject_enabled;		/* JAL_CAP_FAULT_INJECT */

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
	bool fatal;			/* JAL_DEV_STATUS_FATAL */
	/* Not touched by resets, so that an injection rate survives them. */
	struct jal_inject inject;

	/*
	 * Interrupt vectors to signal once @lock is dropped; those in
	 * @irq_again are signalled a second time (JAL_INJECT_DUP_IRQ).
	 */
	uint32_t irq_pending;
	uint32_t irq_again;

	/*
	 * The job in flight, under @lock; @abort is read without it. @hung:
	 * the worker holds the job forever (JAL_INJECT_HANG), waiting on
	 * work_cond until a device reset sets @abort.
	 */
	int running_queue;
	uint64_t job_seq;
	/* Telemetry, under @lock: busy time and its last sample. */
	uint64_t job_start_ns;
	uint64_t busy_ns;
	uint32_t busy_hi;
	uint64_t sample_at_ns, sample_busy_ns;
	uint32_t util_milli;
	atomic_bool abort;
	bool hung;

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
void jal_irq_raise_twice(struct jal_device *dev, uint32_t bits);
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
/* Where one VA lives: @addr in host memory or device memory. */
struct jal_xlate {
	uint64_t addr;
	uint64_t page_end;		/* VA where its page ends */
	bool vram;
};

enum jal_status jal_mmu_begin(struct jal_job *job);
enum jal_status jal_mmu_translate(struct jal_job *job, uint64_t va, bool write,
				  struct jal_xlate *x);
/*
 * [va, va + len) as a pointer into device memory if it is one contiguous
 * run of it that allows the access, else NULL (the caller then goes
 * through jal_mmu_read/write, which report any fault). Never faults.
 */
uint8_t *jal_mmu_span(struct jal_job *job, uint64_t va, uint64_t len,
		      bool write);
enum jal_status jal_mmu_read(struct jal_job *job, uint64_t va, void *buf,
			     size_t len);
enum jal_status jal_mmu_write(struct jal_job *job, uint64_t va,
			      const void *buf, size_t len);
void jal_mmu_invalidate(struct jal_device *dev);

/* jal_core.c */
void jal_vram_clear(struct jal_device *dev);

/* jal_pool.c */
int jal_pool_init(struct jal_pool *pool, unsigned int helpers);
void jal_pool_fini(struct jal_pool *pool);
void jal_pool_run(struct jal_pool *pool, bool share, jal_part_fn fn,
		  void *arg);

/* jal_exec.c */
enum jal_status jal_exec_dispatch(struct jal_job *job,
				  const struct jal_cmd_dispatch *cmd);

#endif /* JAL_INTERNAL_H */
