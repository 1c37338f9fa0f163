/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * Jalapeño hardware interface: the single source of truth for the chip's
 * registers, queue descriptors, command-buffer commands and compute
 * instructions. The QEMU device model, the kernel driver and the runtime
 * all include this file; Documentation/hw/ describes the same encodings in
 * prose.
 *
 * Everything is little endian. Structures are naturally aligned and have
 * no implicit padding, so the same layout holds for every compiler.
 */
#ifndef _JALAPENO_HW_H_
#define _JALAPENO_HW_H_

#include <linux/types.h>

/* BIT() is not available to user space; these serve all three users. */
#define JAL_BIT(n)			(1u << (n))
#define JAL_BIT_ULL(n)			(1ull << (n))

/* PCI identity: an experimental ID pair, not assigned by the PCI-SIG. */
#define JAL_PCI_VENDOR_ID		0x4a4c	/* "JL" */
#define JAL_PCI_DEVICE_ID		0x0001
#define JAL_PCI_CLASS			0x1200	/* processing accelerator */
#define JAL_PCI_REVISION		0x01

/* BAR0: 64-bit memory BAR with registers and doorbells. */
#define JAL_BAR_REGS			0
#define JAL_BAR_REGS_SIZE		0x4000
/* BAR2 (64-bit, 2 slots): MSI-X table and PBA. */
#define JAL_BAR_MSIX			2

#define JAL_ID_MAGIC			0x4e504c4a	/* "JLPN" */
#define JAL_VERSION_MAJOR		1
#define JAL_VERSION_MINOR		1

#define JAL_NUM_QUEUES			4
#define JAL_NUM_CONTEXTS		64
#define JAL_VA_BITS			39

/* MSI-X vectors: one per queue, then one for errors and MMU faults. */
#define JAL_MSIX_VEC_QUEUE(q)		(q)
#define JAL_MSIX_VEC_ERROR		JAL_NUM_QUEUES
#define JAL_MSIX_NUM_VECTORS		(JAL_NUM_QUEUES + 1)

/*
 * Global registers (BAR0). All registers are 32 bits wide; 64-bit values
 * are split into _LO/_HI halves and the device latches a value when its
 * _HI half is written.
 */
#define JAL_REG_ID			0x000	/* RO: JAL_ID_MAGIC */
#define JAL_REG_VERSION			0x004	/* RO: major << 16 | minor */
#define JAL_REG_CAPS			0x008	/* RO: JAL_CAP_* */
#define JAL_REG_NUM_QUEUES		0x00c	/* RO */
#define JAL_REG_NUM_CONTEXTS		0x010	/* RO */
#define JAL_REG_VA_BITS			0x014	/* RO */
#define JAL_REG_MAX_CMDBUF		0x018	/* RO: max command buffer bytes */
#define JAL_REG_MAX_CODE		0x01c	/* RO: max kernel code bytes */

#define JAL_REG_DEV_CTRL		0x020	/* RW */
#define   JAL_DEV_CTRL_ENABLE		JAL_BIT(0)	/* process queues */
#define   JAL_DEV_CTRL_RESET		JAL_BIT(1)	/* WO: whole-device reset */
#define JAL_REG_DEV_STATUS		0x024	/* RO */
#define   JAL_DEV_STATUS_READY		JAL_BIT(0)	/* reset complete */
#define   JAL_DEV_STATUS_BUSY		JAL_BIT(1)	/* a job is executing */
#define   JAL_DEV_STATUS_FATAL		JAL_BIT(2)	/* stopped; only a device reset recovers */

/*
 * Interrupt status: bit q is set when queue q completed a descriptor with
 * JAL_DESC_F_IRQ, JAL_IRQ_ERROR on a job error or MMU fault. Write 1 to
 * clear. With MSI-X the device also signals the matching vector; with
 * INTx the line is asserted while (STATUS & ~MASK) != 0.
 */
#define JAL_REG_IRQ_STATUS		0x030	/* RW1C */
#define JAL_REG_IRQ_MASK		0x034	/* RW: 1 = masked */
#define   JAL_IRQ_QUEUE(q)		JAL_BIT(q)
#define   JAL_IRQ_ERROR			JAL_BIT(31)

/* Watchdog: instruction steps one job may execute, 0 = unlimited. */
#define JAL_REG_STEP_LIMIT_LO		0x040	/* RW */
#define JAL_REG_STEP_LIMIT_HI		0x044	/* RW */
#define JAL_STEP_LIMIT_DEFAULT		0x10000000ull

/* Free-running device clock in nanoseconds (same as timestamp commands). */
#define JAL_REG_TIMESTAMP_LO		0x048	/* RO: reading LO latches HI */
#define JAL_REG_TIMESTAMP_HI		0x04c	/* RO */

/*
 * Device memory (VRAM): JAL_REG_VRAM_SIZE bytes on the chip, reached only
 * through the chip MMU (JAL_PTE_VRAM leaves), not through a BAR. Compute
 * operands in device memory are read at the chip's full speed; operands
 * in host memory are fetched over PCIe page by page.
 */
#define JAL_REG_VRAM_SIZE_LO		0x050	/* RO */
#define JAL_REG_VRAM_SIZE_HI		0x054	/* RO */

/*
 * MMU. The context table is an array of JAL_NUM_CONTEXTS struct
 * jal_ctx_entry in host memory (physical address, 4 KiB aligned). The
 * device caches context entries and translations; after changing a
 * context entry or a page table the driver writes the context id to
 * JAL_REG_MMU_INVALIDATE (or JAL_MMU_INVALIDATE_ALL) and the cache is
 * dropped before the write completes.
 */
#define JAL_REG_CTX_TABLE_LO		0x080	/* RW */
#define JAL_REG_CTX_TABLE_HI		0x084	/* RW: write latches the table */
#define JAL_REG_MMU_INVALIDATE		0x088	/* WO: context id */
#define   JAL_MMU_INVALIDATE_ALL	0xffffffffu

/*
 * Fault record: the first MMU fault or job error since the last
 * acknowledge. Later ones only bump JAL_REG_FAULT_COUNT; each job's own
 * status is always in its descriptor.
 */
#define JAL_REG_FAULT_STATUS		0x0a0	/* RO */
#define   JAL_FAULT_STATUS_VALID	JAL_BIT(0)
#define   JAL_FAULT_STATUS_WRITE	JAL_BIT(1)	/* faulting access wrote */
#define JAL_REG_FAULT_CTX		0x0a4	/* RO: context id */
#define   JAL_FAULT_CTX_NONE		0xffffffffu	/* queue (ring) error */
#define JAL_REG_FAULT_QUEUE		0x0a8	/* RO: queue index */
#define JAL_REG_FAULT_REASON		0x0ac	/* RO: JAL_STATUS_* */
#define JAL_REG_FAULT_ADDR_LO		0x0b0	/* RO: device VA */
#define JAL_REG_FAULT_ADDR_HI		0x0b4	/* RO */
#define JAL_REG_FAULT_COUNT		0x0b8	/* RO: faults since last ack */
#define JAL_REG_FAULT_ACK		0x0bc	/* WO: any value clears */

/*
 * Telemetry (JAL_CAP_TELEMETRY). BUSY_NS counts the nanoseconds the
 * compute unit spent running jobs (the running one included), on the
 * device clock of JAL_REG_TIMESTAMP. TEMP_MC and POWER_MW follow the
 * utilisation over the interval since the previous read of either (at
 * least 10 ms; a read sooner repeats the last value): temperature
 * 35.000 + 45.000 * u degrees C, power 20 + 55 * u W, for u in [0, 1].
 */
#define JAL_REG_BUSY_NS_LO		0x0e0	/* RO: reading LO latches HI */
#define JAL_REG_BUSY_NS_HI		0x0e4	/* RO */
#define JAL_REG_CLOCK_MHZ		0x0e8	/* RO: compute clock */
#define JAL_REG_TEMP_MC			0x0ec	/* RO: millidegrees Celsius */
#define JAL_REG_POWER_MW		0x0f0	/* RO: milliwatts */
#define JAL_TELEMETRY_SAMPLE_NS		10000000ull
#define JAL_CLOCK_MHZ			1500u
#define JAL_TEMP_IDLE_MC		35000u
#define JAL_TEMP_SPAN_MC		45000u
#define JAL_POWER_IDLE_MW		20000u
#define JAL_POWER_SPAN_MW		55000u

/*
 * Fault injection, for testing recovery (JAL_CAP_FAULT_INJECT only: the
 * model's "fault-injection" property, off by default). Every descriptor
 * the chip finishes on the target queue counts down JAL_REG_INJECT_AFTER;
 * the descriptor that finds it at 0 gets the fault instead of (or, for
 * the interrupt kinds, besides) its normal completion. Then AFTER is
 * reloaded from PERIOD, or injection stops if PERIOD is 0. Writing KIND
 * restarts the countdown and clears FIRED. The registers keep their
 * values across queue and device resets, so a rate survives recovery.
 */
#define JAL_REG_INJECT_KIND		0x0c0	/* RW: JAL_INJECT_*, 0 = off */
#define JAL_REG_INJECT_QUEUE		0x0c4	/* RW: target queue, or ANY */
#define   JAL_INJECT_ANY_QUEUE		0xffffffffu
#define JAL_REG_INJECT_AFTER		0x0c8	/* RW: descriptors before the fault */
#define JAL_REG_INJECT_PERIOD		0x0cc	/* RW: reload of AFTER; 0 = once */
#define JAL_REG_INJECT_FIRED		0x0d0	/* RO: faults injected */

/*
 * enum jal_inject_kind - what JAL_REG_INJECT_KIND injects
 * @JAL_INJECT_OFF: nothing.
 * @JAL_INJECT_HANG: the queue's job never finishes: the chip stays busy
 *	with it (no other queue runs), and a queue reset does not end it;
 *	a device reset does.
 * @JAL_INJECT_DROP_IRQ: the completion is written but its interrupt is
 *	not raised.
 * @JAL_INJECT_DUP_IRQ: the completion's interrupt is raised twice.
 * @JAL_INJECT_BAD_COMPL: the descriptor is written back, but the
 *	completion record gets a seqno the driver never issued.
 * @JAL_INJECT_FATAL: instead of finishing the descriptor the chip stops:
 *	JAL_DEV_STATUS_FATAL, a fault record (ABORTED, the job's queue and
 *	context) and JAL_IRQ_ERROR; no queue runs until a device reset.
 */
enum jal_inject_kind {
	JAL_INJECT_OFF = 0,
	JAL_INJECT_HANG = 1,
	JAL_INJECT_DROP_IRQ = 2,
	JAL_INJECT_DUP_IRQ = 3,
	JAL_INJECT_BAD_COMPL = 4,
	JAL_INJECT_FATAL = 5,
	JAL_INJECT_COUNT
};

/*
 * Per-queue registers, JAL_QUEUE_STRIDE apart from JAL_REG_QUEUE_BASE.
 * The ring is a power-of-two array of struct jal_desc in host memory
 * (physical addresses; rings are owned by the kernel driver and are not
 * translated by the chip MMU).
 */
#define JAL_REG_QUEUE_BASE		0x100
#define JAL_QUEUE_STRIDE		0x40
#define JAL_REG_Q(q, reg)		(JAL_REG_QUEUE_BASE + (q) * JAL_QUEUE_STRIDE + (reg))
#define JAL_Q_RING_LO			0x00	/* RW: ring physical address */
#define JAL_Q_RING_HI			0x04	/* RW */
#define JAL_Q_RING_SIZE			0x08	/* RW: entries, power of 2 */
#define JAL_Q_HEAD			0x0c	/* RO: next descriptor to fetch */
#define JAL_Q_TAIL			0x10	/* RW: next free slot (= doorbell) */
#define JAL_Q_CTRL			0x14	/* RW */
#define   JAL_Q_CTRL_ENABLE		JAL_BIT(0)
#define   JAL_Q_CTRL_RESET		JAL_BIT(1)	/* WO: abort and clear */
#define JAL_Q_STATUS			0x18	/* RO */
#define   JAL_Q_STATUS_IDLE		JAL_BIT(0)
#define   JAL_Q_STATUS_ERROR		JAL_BIT(1)	/* bad ring setup */
#define JAL_Q_PRIORITY			0x1c	/* RW: 0 (low) .. 3 (high) */
#define JAL_Q_COMPL_LO			0x20	/* RW: completion record address */
#define JAL_Q_COMPL_HI			0x24	/* RW */
#define JAL_Q_COMPLETED			0x28	/* RO: low 32 bits of last seqno */

#define JAL_QUEUE_PRIORITY_MAX		3
#define JAL_RING_SIZE_MAX		4096

/* Doorbells: writing the new tail index of queue q. */
#define JAL_REG_DOORBELL_BASE		0x1000
#define JAL_REG_DOORBELL(q)		(JAL_REG_DOORBELL_BASE + (q) * 8)

/* Capability bits in JAL_REG_CAPS. */
#define JAL_CAP_DMA			JAL_BIT(0)	/* COPY and FILL */
#define JAL_CAP_COMPUTE_F32		JAL_BIT(1)	/* f32 element-wise and MATVEC */
#define JAL_CAP_TIMESTAMP		JAL_BIT(2)
#define JAL_CAP_MSIX			JAL_BIT(3)
#define JAL_CAP_VRAM			JAL_BIT(4)	/* device memory, JAL_PTE_VRAM */
#define JAL_CAP_LLM			JAL_BIT(5)	/* dtypes and opcodes of ISA 1.1 */
#define JAL_CAP_FAULT_INJECT		JAL_BIT(6)	/* JAL_REG_INJECT_* (testing) */
#define JAL_CAP_TELEMETRY		JAL_BIT(7)	/* JAL_REG_BUSY_NS .. POWER_MW */
#define JAL_CAP_Q4			JAL_BIT(8)	/* JAL_DTYPE_Q4 weights */

/**
 * struct jal_ctx_entry - one hardware context in the context table
 * @pt_root: physical address of the top-level page table, 4 KiB aligned,
 *	with JAL_CTX_VALID in bit 0; an invalid context fails every job.
 * @reserved: must be zero.
 */
struct jal_ctx_entry {
	__u64 pt_root;
	__u64 reserved;
};

#define JAL_CTX_VALID			JAL_BIT_ULL(0)

/*
 * Page tables: 4 KiB pages, three levels of 512 64-bit entries
 * (VA bits 38..30, 29..21, 20..12). A non-leaf entry holds the next
 * table's physical address plus JAL_PTE_VALID; a level-0 (leaf) entry
 * holds the page's physical address plus JAL_PTE_VALID and the access
 * bits. With JAL_PTE_VRAM a leaf's address is an offset into device
 * memory instead. A level-1 entry with JAL_PTE_HUGE is a leaf for a whole
 * 2 MiB page (address 2 MiB aligned). Bits 11..5 and 63..52 are reserved
 * and must be zero.
 */
#define JAL_PAGE_SHIFT			12
#define JAL_PAGE_SIZE			0x1000ull
#define JAL_PT_LEVELS			3
#define JAL_PT_ENTRIES			512
#define JAL_PTE_VALID			JAL_BIT_ULL(0)
#define JAL_PTE_READ			JAL_BIT_ULL(1)
#define JAL_PTE_WRITE			JAL_BIT_ULL(2)
#define JAL_PTE_VRAM			JAL_BIT_ULL(3)	/* leaf: device memory */
#define JAL_PTE_HUGE			JAL_BIT_ULL(4)	/* level 1: 2 MiB leaf */
#define JAL_HUGE_PAGE_SIZE		0x200000ull
#define JAL_PTE_ADDR_MASK		0x000ffffffffff000ull

/**
 * struct jal_desc - one queue descriptor (64 bytes)
 * @ctx_id: hardware context whose address space the job runs in.
 * @flags: JAL_DESC_F_*.
 * @seqno: written to the queue's completion record when the job ends.
 * @cmdbuf_va: device VA of the command buffer, 8-byte aligned.
 * @cmdbuf_size: command buffer length in bytes, a multiple of 4.
 * @reserved0: must be zero.
 * @status: written by the device: JAL_STATUS_*.
 * @error_offset: written by the device: byte offset in the command buffer
 *	of the command that failed.
 * @fault_addr: written by the device: the faulting device VA, if any.
 * @reserved1: must be zero.
 */
struct jal_desc {
	__u32 ctx_id;
	__u32 flags;
	__u64 seqno;
	__u64 cmdbuf_va;
	__u32 cmdbuf_size;
	__u32 reserved0;
	__u32 status;
	__u32 error_offset;
	__u64 fault_addr;
	__u64 reserved1[2];
};

#define JAL_DESC_F_IRQ			JAL_BIT(0)	/* interrupt when done */
#define JAL_DESC_F_VALID_MASK		JAL_DESC_F_IRQ

/**
 * struct jal_completion - per-queue completion record in host memory
 * @seqno: seqno of the last descriptor the queue finished, written after
 *	that descriptor's status.
 * @head: ring index after that descriptor.
 * @reserved: written as zero.
 */
struct jal_completion {
	__u64 seqno;
	__u32 head;
	__u32 reserved;
};

/* Job status codes (descriptor status, fault reason). */
enum jal_status {
	JAL_STATUS_OK = 0,
	JAL_STATUS_BAD_DESC = 1,	/* reserved bits, bad flags, bad size */
	JAL_STATUS_BAD_CTX = 2,		/* context id out of range or invalid */
	JAL_STATUS_MMU_UNMAPPED = 3,	/* VA not mapped */
	JAL_STATUS_MMU_PERM = 4,	/* mapping forbids the access */
	JAL_STATUS_BAD_CMD = 5,		/* unknown command or malformed */
	JAL_STATUS_BAD_INSN = 6,	/* invalid instruction or operand */
	JAL_STATUS_STEP_LIMIT = 7,	/* kernel ran past the step limit */
	JAL_STATUS_ABORTED = 8,		/* queue or device reset */
	JAL_STATUS_BUS_ERROR = 9,	/* host memory access failed */
	JAL_STATUS_COUNT
};

/**
 * struct jal_status_info - what a JAL_STATUS_* value means to software
 * @name: the enumerator without its prefix, e.g. "MMU_UNMAPPED".
 * @desc: for log messages, e.g. "unmapped address".
 * @err: the positive errno a job's fence carries for it (0 for OK).
 *
 * The one table of them is jalapeno_status.c.inc, which the driver,
 * libjalrt and the device model each include once.
 */
struct jal_status_info {
	const char *name;
	const char *desc;
	int err;
};

/*
 * Command buffer: a sequence of commands, each starting with a 32-bit
 * header (opcode in bits 7..0, total length in 32-bit words including the
 * header in bits 31..16). Commands run in order; the first failing command
 * ends the job.
 */
#define JAL_CMD_HDR(op, dwords)		((__u32)(op) | ((__u32)(dwords) << 16))
#define JAL_CMD_OP(hdr)			((hdr) & 0xff)
#define JAL_CMD_DWORDS(hdr)		((hdr) >> 16)
#define JAL_CMD_HDR_RESERVED		0x0000ff00u

enum jal_cmd_op {
	JAL_CMD_NOP = 0x00,
	JAL_CMD_COPY = 0x01,
	JAL_CMD_FILL = 0x02,
	JAL_CMD_DISPATCH = 0x03,
	JAL_CMD_WRITE_VALUE = 0x04,
	JAL_CMD_TIMESTAMP = 0x05,
};

#define JAL_MAX_CMDBUF_SIZE		0x100000u

/**
 * struct jal_cmd_copy - copy @size bytes from @src_va to @dst_va
 * @hdr: JAL_CMD_HDR(JAL_CMD_COPY, 8).
 * @reserved: must be zero.
 * @src_va: source device VA.
 * @dst_va: destination device VA; overlapping ranges behave as memmove.
 * @size: bytes, any value.
 */
struct jal_cmd_copy {
	__u32 hdr;
	__u32 reserved;
	__u64 src_va;
	__u64 dst_va;
	__u64 size;
};

/**
 * struct jal_cmd_fill - fill @size bytes at @dst_va with @pattern
 * @hdr: JAL_CMD_HDR(JAL_CMD_FILL, 6).
 * @pattern: 32-bit pattern, repeated; byte i gets byte (i % 4) of it.
 * @dst_va: destination device VA.
 * @size: bytes, any value.
 */
struct jal_cmd_fill {
	__u32 hdr;
	__u32 pattern;
	__u64 dst_va;
	__u64 size;
};

/**
 * struct jal_cmd_dispatch - run a compute kernel
 * @hdr: JAL_CMD_HDR(JAL_CMD_DISPATCH, 8).
 * @reserved: must be zero.
 * @code_va: device VA of the instruction stream, 8-byte aligned.
 * @code_size: bytes, a multiple of sizeof(struct jal_insn), at most
 *	JAL_MAX_CODE_SIZE.
 * @args_size: bytes of argument block, a multiple of 8, at most
 *	JAL_MAX_ARGS * 8.
 * @args_va: device VA of the argument block: its 64-bit words are loaded
 *	into registers r0, r1, ... before the first instruction.
 */
struct jal_cmd_dispatch {
	__u32 hdr;
	__u32 reserved;
	__u64 code_va;
	__u32 code_size;
	__u32 args_size;
	__u64 args_va;
};

/**
 * struct jal_cmd_write_value - write a 64-bit value (a fence or semaphore)
 * @hdr: JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, 6).
 * @reserved: must be zero.
 * @dst_va: device VA, 8-byte aligned.
 * @value: the value.
 */
struct jal_cmd_write_value {
	__u32 hdr;
	__u32 reserved;
	__u64 dst_va;
	__u64 value;
};

/**
 * struct jal_cmd_timestamp - write the device clock (ns) as a 64-bit value
 * @hdr: JAL_CMD_HDR(JAL_CMD_TIMESTAMP, 4).
 * @reserved: must be zero.
 * @dst_va: device VA, 8-byte aligned.
 */
struct jal_cmd_timestamp {
	__u32 hdr;
	__u32 reserved;
	__u64 dst_va;
};

/*
 * Compute instructions. A kernel is an array of fixed-size 64-byte
 * instructions executed by one compute unit with 32 64-bit registers
 * (r0..r31). Registers hold device VAs, sizes and loop counters; data
 * lives in device memory and is addressed through registers, so one
 * compiled kernel serves any buffers passed in its argument block.
 *
 * Fields are generic so new opcodes and dtypes fit without a format
 * change: @r names registers, @dim gives shapes, @stride gives element
 * strides (0 broadcasts one element) and @imm holds immediates. When bit
 * i of JAL_INSN_F_DIM_REG is set in @flags, dim[i] is not a constant but
 * the number of a register holding it (shapes that change at run time).
 * Execution ends at JAL_OP_HALT or after the last instruction; every
 * instruction costs one step of the watchdog plus one per 4096 elements.
 */
#define JAL_NUM_REGS			32
#define JAL_MAX_ARGS			16
#define JAL_MAX_CODE_SIZE		0x100000u

/**
 * struct jal_insn - one compute instruction (64 bytes)
 * @opcode: JAL_OP_*.
 * @dtype: JAL_DTYPE_* of the data operands (weights for matrix ops).
 * @flags: JAL_INSN_F_*.
 * @r: register operands; r[0] is the destination.
 * @dim: shape: element count, or rows/columns; see each opcode.
 * @stride: per-operand element stride (dst, a, b, c); for a matrix
 *	operand, the row pitch in elements.
 * @imm: immediates: f32 bit patterns, integers or a branch target.
 * @reserved: must be zero.
 */
struct jal_insn {
	__u8 opcode;
	__u8 dtype;
	__u16 flags;
	__u8 r[4];
	__u32 dim[4];
	__u32 stride[4];
	__u32 imm[4];
	__u32 reserved[2];
};

#define JAL_INSN_F_DIM_REG(i)		JAL_BIT(i)	/* i = 0..3 */
/* MATVEC and MATMUL with Q8 weights: x quantized to int8 too (see below). */
#define JAL_INSN_F_Q8X			JAL_BIT(4)
/*
 * RMSNORM, SOFTMAX, ROPE, SILU_MUL, EMBED, ARGMAX and SAMPLE over dim[3]
 * rows (B sequences or prompt positions; see "Row-batched LLM ops").
 */
#define JAL_INSN_F_ROWS			JAL_BIT(5)
/*
 * ROPE (with or without JAL_INSN_F_ROWS): the rotation frequencies are not
 * theta^(-j/hs) but hs / 2 f32 at R[r[3]], one per pair of a head (scaled
 * RoPE, e.g. Llama 3's); imm[0] is then unused. See "ROPE" below.
 */
#define JAL_INSN_F_ROPE_FREQS		JAL_BIT(6)
#define JAL_INSN_F_VALID_MASK		0x007fu

/*
 * Data types of the main (weight) operand of matrix, embedding and
 * element-wise ops. Activations are always f32; accumulation is f32.
 * - BF16: the upper 16 bits of an f32.
 * - Q8: int8 values with one f32 scale per group of dim[2] consecutive
 *   elements of a row (value = q * scale), scales row-major at the VA in
 *   r[3] (rows * cols / group floats); cols must be a multiple of the group.
 * - S24: 2:4 structured sparsity: of every 4 consecutive elements of a row
 *   at most 2 are non-zero; a row of K columns stores K/2 bf16 values
 *   (pairs in column order) at r[1] with row pitch stride[1] in values,
 *   and K/4 index bytes at the VA in r[3] (row pitch K/4), each byte
 *   holding the two column offsets within the group, first in bits 1..0
 *   and second in bits 3..2, first < second, bits 7..4 zero.
 * - Q4 (JAL_CAP_Q4; MATVEC and MATMUL only): 4-bit weights in groups of
 *   JAL_Q4_GROUP columns, one f32 scale per group (row-major at the VA in
 *   r[3], rows * cols / 32 floats). A group is 16 bytes: byte j holds
 *   the group's column j in bits 3..0 and column j + 16 in bits 7..4,
 *   each as n = w + 8 (w in -8..7): GGUF Q4_0's qs layout, so a Q4_0
 *   block is its 16 bytes as they are plus its f16 d widened to the f32
 *   scale (exact). Row pitch stride[1] in bytes (0 = cols / 2); cols a
 *   multiple of 32; x is always quantized as with JAL_INSN_F_Q8X (group
 *   32), and the flag itself must not be set.
 */
enum jal_dtype {
	JAL_DTYPE_F32 = 0,
	JAL_DTYPE_BF16 = 1,
	JAL_DTYPE_Q8 = 2,
	JAL_DTYPE_S24 = 3,
	JAL_DTYPE_Q4 = 4,
	JAL_DTYPE_COUNT
};

/* Columns per Q4 group (and per scale); the group-size dim must say so. */
#define JAL_Q4_GROUP			32u

/*
 * Opcodes. Scalar ops work on registers; imm64 is imm[0] | imm[1] << 32.
 * Vector ops: d[i * stride[0]] = op(a[i * stride[1]], b[i * stride[2]])
 * for i < dim[0], with d, a, b at the VAs in r[0], r[1], r[2].
 */
enum jal_opcode {
	JAL_OP_NOP = 0x00,
	JAL_OP_HALT = 0x01,
	/* scalar */
	JAL_OP_LI = 0x02,	/* r0 = imm64 */
	JAL_OP_ADDI = 0x03,	/* r0 = r1 + imm64 (wrapping) */
	JAL_OP_ADD = 0x04,	/* r0 = r1 + r2 */
	JAL_OP_MULI = 0x05,	/* r0 = r1 * imm64 */
	JAL_OP_JUMP = 0x08,	/* pc = imm[2] (instruction index) */
	JAL_OP_BNE = 0x09,	/* if (r1 != r2) pc = imm[2] */
	JAL_OP_BLTU = 0x0a,	/* if (r1 < r2) pc = imm[2], unsigned */
	JAL_OP_BEQ = 0x0b,	/* if (r1 == r2) pc = imm[2] */
	/* scalar memory: address r1 + imm64, naturally aligned */
	JAL_OP_LD32 = 0x0c,	/* r0 = zero-extended u32 at the address */
	JAL_OP_LD64 = 0x0d,	/* r0 = u64 at the address */
	JAL_OP_ST32 = 0x0e,	/* u32 at the address = low half of r0 */
	JAL_OP_ST64 = 0x0f,	/* u64 at the address = r0 */
	/* element-wise, f32 */
	JAL_OP_VADD = 0x10,	/* d = a + b */
	JAL_OP_VMUL = 0x11,	/* d = a * b */
	JAL_OP_VSCALE = 0x12,	/* d = a * f32(imm[0]) */
	/* matrix */
	JAL_OP_MATVEC = 0x20,	/* d[m] = sum_k W[m][k] * x[k] */
	JAL_OP_MATMUL = 0x21,	/* D[n][m] = sum_k W[m][k] * X[n][k] */
	/* LLM building blocks (JAL_CAP_LLM), all f32 activations */
	JAL_OP_RMSNORM = 0x30,	/* d = a / sqrt(mean(a^2) + eps) * b */
	JAL_OP_SOFTMAX = 0x31,	/* d = exp(a - max) / sum */
	JAL_OP_ROPE = 0x32,	/* rotate pairs of a by position */
	JAL_OP_SILU_MUL = 0x33,	/* d = a * sigmoid(a) * b */
	JAL_OP_ATTENTION = 0x34, /* one query over a KV cache */
	JAL_OP_EMBED = 0x35,	/* d = row of a table */
	JAL_OP_ARGMAX = 0x36,	/* register = index of the largest */
	JAL_OP_SAMPLE = 0x37,	/* register = sampled index */
	JAL_OP_PAGED_ATTENTION = 0x38, /* B queries over paged KV caches */
	JAL_OP_PAGED_KV_STORE = 0x39,	/* B positions' k, v into the pools */
};

/*
 * JAL_OP_MATVEC operands: r[0] = d (dim[0] elements, stride[0]),
 * r[1] = W (dim[0] rows of dim[1] elements, row pitch stride[1], 0 means
 * dim[1]), r[2] = x (dim[1] elements, stride[2]). Accumulates in f32.
 * With dtype Q8 or S24, r[3] holds the scales or index bytes and, for Q8,
 * dim[2] the group size; unused otherwise.
 *
 * JAL_OP_MATVEC with dtype Q8 and JAL_INSN_F_Q8X (as llama2.c's runq.c):
 * x (dim[1] at most JAL_Q8X_MAX_COLS elements) is quantized per weight
 * group g (dim[2] a multiple of 4, at most JAL_Q8X_MAX_GROUP): s_g =
 * max |x_i| / 127 over the group, q_i = roundf(x_i / s_g) (0 where s_g
 * is 0 or the quotient is not finite); each row m sums the group's exact
 * integer dot product i_mg = sum q_i * W[m][i] and accumulates
 * ((float)i_mg * scale_mg) * s_g over the groups, group g into lane
 * g % 8 as a dot product's columns (see the ISA).
 *
 * JAL_OP_MATVEC with dtype Q4: dim[2] = JAL_Q4_GROUP, r[3] the scales;
 * x is quantized per group of 32 exactly as with JAL_INSN_F_Q8X, i_mg =
 * sum q_i * w_mi over the group's stored weights w = n - 8, and the
 * groups add up as Q8X's do: ((float)i_mg * scale_mg) * s_g into lane
 * g % 8. dim[1] is at most JAL_Q8X_MAX_COLS.
 *
 * JAL_OP_MATMUL: r[0] = D (dim[2] rows of dim[0], row pitch stride[0]),
 * r[1] = W (dim[0] rows of dim[1], pitch stride[1]), r[2] = X (dim[2]
 * rows of dim[1], pitch stride[2]), r[3] and dim[3] = Q8 scales / group
 * size or S24 indices as for MATVEC. Pitches of 0 mean dense. Row n of D
 * is bit for bit the MATVEC of row n of X, whatever the other rows (with
 * JAL_INSN_F_Q8X too: each row of X is quantized on its own).
 *
 * JAL_OP_RMSNORM: r[0] = d, r[1] = a, r[2] = b (weights), dim[0] = n,
 * imm[0] = eps (f32 bits). Contiguous operands.
 *
 * JAL_OP_SOFTMAX: r[0] = d, r[1] = a, dim[0] = n >= 1.
 *
 * JAL_OP_ROPE: r[0] = d, r[1] = a (may equal d), dim[0] = n (even),
 * dim[1] = head size (even, divides n), dim[2] = position, imm[0] = theta
 * (f32 bits, 10000.0 for Llama). For each pair i (even): j = i % head
 * size, angle = position * theta^(-j / head size), (d[i], d[i+1]) =
 * (a[i] cos - a[i+1] sin, a[i] sin + a[i+1] cos). With
 * JAL_INSN_F_ROPE_FREQS, angle = position * freq[j / 2] instead, freq the
 * head size / 2 f32 at r[3] (head size at most 65536; imm[0] zero).
 *
 * JAL_OP_SILU_MUL: r[0] = d, r[1] = a, r[2] = b, dim[0] = n.
 *
 * JAL_OP_ATTENTION: r[0] = out (dim[0] * dim[1]), r[1] = q (same shape),
 * r[2] = K cache, r[3] = V cache: position t's keys (dim[2] * dim[1]
 * floats) start at element t * stride[2] (stride[3] for values; 0 means
 * dim[2] * dim[1]); dim[0] = query heads, dim[1] = head size, dim[2] = KV
 * heads (divides dim[0]: grouped queries), dim[3] = positions to attend
 * (1..), usually from a register. For each head h with KV head
 * g = h / (dim[0] / dim[2]): s_t = q_h . k_{t,g} / sqrt(head size),
 * p = softmax(s), out_h = sum_t p_t v_{t,g}.
 *
 * JAL_OP_EMBED: r[0] = d (dim[0] f32), r[1] = table (dtype F32, BF16 or
 * Q8 with scales at r[3] and group size stride[3]), row pitch stride[1]
 * (0 = dim[0]), dim[1] = row index (usually from a register), dim[2] =
 * number of rows: an index >= dim[2] fails with BAD_INSN.
 *
 * JAL_OP_ARGMAX: register r[0] = index of the first largest of dim[0]
 * f32 at r[1].
 *
 * JAL_OP_SAMPLE: register r[0] = index sampled from the dim[0] logits at
 * r[1] with temperature imm[0] and top-p imm[1] (f32 bits), using and
 * advancing the xorshift64* state in register r[2] (llama2.c's sampler:
 * temperature 0 is argmax; top-p outside (0, 1) samples the whole
 * distribution). The logits are left unchanged.
 *
 * Row-batched LLM ops (JAL_INSN_F_ROWS): RMSNORM, SOFTMAX, ROPE,
 * SILU_MUL, EMBED, ARGMAX and SAMPLE over B = dim[3] rows (at most
 * JAL_ROWS_MAX; JAL_INSN_F_DIM_REG(3) takes it from a register), each row
 * bit for bit the single-row instruction on that row, rows in order. A
 * row operand holds B rows of dim[0] f32 whose row pitch in elements is
 * its stride (0 = dim[0]); per-row arrays are dense, one entry a row:
 * - RMSNORM: d (stride[0]), a (stride[1]) rows; b the same for all rows.
 * - SOFTMAX: d (stride[0]), a (stride[1]) rows.
 * - ROPE: d (stride[0]), a (stride[1]) rows; r[2] = u32 positions
 *   (dim[2] is not used); with JAL_INSN_F_ROPE_FREQS r[3] = the
 *   frequencies, the same for every row.
 * - SILU_MUL: d, a, b rows (stride[0..2]).
 * - EMBED: d rows (stride[0]); r[2] = u32 token ids (dim[1] is not used).
 * - ARGMAX: r[0] = u32 results; a rows (stride[1]).
 * - SAMPLE: r[0] = u32 results; a rows (stride[1]); r[2] = u64
 *   xorshift64* states, each advanced as the single-row SAMPLE advances
 *   its register; r[3] = f32 pairs (temperature, top-p), checked as each
 *   row runs (imm[0..1] are not used).
 *
 * Paged KV caches (PAGED_ATTENTION, PAGED_KV_STORE): B = dim[3] rows (at
 * most JAL_ROWS_MAX), each of its own sequence. The K pool at r[2] and
 * the V pool at r[3] hold imm[3] blocks of imm[2] positions; a position
 * is G = dim[2] KV heads of hs = dim[1] elements of the pools' dtype
 * (as one position of ATTENTION's cache), so block i starts at byte
 * i * imm[2] * G * hs * esize. dtype is JAL_DTYPE_F32 (esize 4) or
 * JAL_DTYPE_BF16 (esize 2: half the memory per position; the pools must
 * be 2-byte aligned); q, k, v and out stay f32 either way.
 * Row b's block table is stride[2] u32 block indices (1 to
 * JAL_PAGED_MAX_BLOCKS) at entry b * stride[3] of the tables whose VA is
 * in the register imm[1] names (stride[3] = 0: one table for all rows),
 * listing the sequence's blocks in position order: position t is slot
 * t % imm[2] of block table_b[t / imm[2]]. imm[0] names the register
 * with the VA of a u32 per row (a length or a position). An index at or
 * above imm[3], a length of 0 or beyond the table, or a position beyond
 * the table fails with BAD_INSN.
 *
 * JAL_OP_PAGED_ATTENTION: r[0] = out, r[1] = q: B rows of dim[0] * hs
 * floats (row pitches stride[0] and stride[1], 0 = dense); u32 lengths.
 * Row b is bit for bit ATTENTION of its query over the first length_b
 * positions of its sequence (heads grouped as ATTENTION's); all inputs
 * are read before any output is written. bf16 keys and values are
 * decoded to f32 exactly (bits h << 16) and then used as f32 ones.
 *
 * JAL_OP_PAGED_KV_STORE: r[0] = k, r[1] = v: B rows of G * hs floats (row
 * pitches stride[0] and stride[1], 0 = dense); u32 positions: row b's k
 * and v go to position pos_b of its sequence in the K and V pools
 * (dim[0] is not used). Into bf16 pools each f32 is rounded to nearest,
 * ties to even (overflowing to infinity); a NaN stays a NaN of the same
 * sign with its quiet bit set.
 */

/*
 * Limits of the chip's on-chip buffers (ISA 1.1): larger values fail with
 * JAL_STATUS_BAD_INSN.
 */
#define JAL_ATTENTION_MAX_HEAD_SIZE	16384u	/* ATTENTION dim[1] */
#define JAL_Q8X_MAX_GROUP		65536u	/* MATVEC Q8X dim[2] */
#define JAL_Q8X_MAX_COLS		65536u	/* MATVEC Q8X dim[1] */
#define JAL_SAMPLE_MAX_LOGITS		0x100000u /* SAMPLE dim[0] */
#define JAL_ROWS_MAX			65536u	/* JAL_INSN_F_ROWS dim[3] */
#define JAL_PAGED_MAX_BLOCKS		65536u	/* PAGED_* stride[2] */

#endif /* _JALAPENO_HW_H_ */
