/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: tracepoints of a job's life and of the
 * chip's interrupts, faults and resets. Enable them in tracefs
 * (events/jalapeno/) or with perf; Documentation/driver.rst lists them.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM jalapeno

#if !defined(__JALAPENO_TRACE_H__) || defined(TRACE_HEADER_MULTI_READ)
#define __JALAPENO_TRACE_H__

#include <linux/tracepoint.h>
#include <linux/types.h>

/* A job pushed to its context's scheduler entity. */
TRACE_EVENT(jal_submit,
	    TP_PROTO(u32 queue, u32 hw_ctx, u32 ctx_id, u64 seqno, u32 bos),
	    TP_ARGS(queue, hw_ctx, ctx_id, seqno, bos),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, hw_ctx)
			     __field(u32, ctx_id)
			     __field(u64, seqno)
			     __field(u32, bos)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->hw_ctx = hw_ctx;
			   __entry->ctx_id = ctx_id;
			   __entry->seqno = seqno;
			   __entry->bos = bos;),
	    TP_printk("queue=%u hw_ctx=%u ctx=%u seqno=%llu bos=%u",
		      __entry->queue, __entry->hw_ctx, __entry->ctx_id,
		      __entry->seqno, __entry->bos));

/* A job's descriptor written to the ring and the doorbell rung. */
TRACE_EVENT(jal_run,
	    TP_PROTO(u32 queue, u32 hw_ctx, u64 seqno, u64 hw_seqno, u32 slot),
	    TP_ARGS(queue, hw_ctx, seqno, hw_seqno, slot),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, hw_ctx)
			     __field(u64, seqno)
			     __field(u64, hw_seqno)
			     __field(u32, slot)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->hw_ctx = hw_ctx;
			   __entry->seqno = seqno;
			   __entry->hw_seqno = hw_seqno;
			   __entry->slot = slot;),
	    TP_printk("queue=%u hw_ctx=%u seqno=%llu hw_seqno=%llu slot=%u",
		      __entry->queue, __entry->hw_ctx, __entry->seqno,
		      __entry->hw_seqno, __entry->slot));

/* A job taken off the ring with its final result (0 or -errno). */
TRACE_EVENT(jal_done,
	    TP_PROTO(u32 queue, u32 hw_ctx, u64 seqno, u64 hw_seqno, int error),
	    TP_ARGS(queue, hw_ctx, seqno, hw_seqno, error),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(u32, hw_ctx)
			     __field(u64, seqno)
			     __field(u64, hw_seqno)
			     __field(int, error)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->hw_ctx = hw_ctx;
			   __entry->seqno = seqno;
			   __entry->hw_seqno = hw_seqno;
			   __entry->error = error;),
	    TP_printk("queue=%u hw_ctx=%u seqno=%llu hw_seqno=%llu error=%d",
		      __entry->queue, __entry->hw_ctx, __entry->seqno,
		      __entry->hw_seqno, __entry->error));

/* The interrupt thread processing the events its vector acknowledged. */
TRACE_EVENT(jal_irq,
	    TP_PROTO(int irq, u32 pending),
	    TP_ARGS(irq, pending),
	    TP_STRUCT__entry(__field(int, irq)
			     __field(u32, pending)),
	    TP_fast_assign(__entry->irq = irq;
			   __entry->pending = pending;),
	    TP_printk("irq=%d pending=0x%x", __entry->irq, __entry->pending));

/* A job failed: the chip's status for it, or the driver's timeout. */
TRACE_EVENT(jal_fault,
	    TP_PROTO(u32 hw_ctx, u64 seqno, u32 hw_status, u64 addr, int error),
	    TP_ARGS(hw_ctx, seqno, hw_status, addr, error),
	    TP_STRUCT__entry(__field(u32, hw_ctx)
			     __field(u64, seqno)
			     __field(u32, hw_status)
			     __field(u64, addr)
			     __field(int, error)),
	    TP_fast_assign(__entry->hw_ctx = hw_ctx;
			   __entry->seqno = seqno;
			   __entry->hw_status = hw_status;
			   __entry->addr = addr;
			   __entry->error = error;),
	    TP_printk("hw_ctx=%u seqno=%llu hw_status=%u addr=0x%llx error=%d",
		      __entry->hw_ctx, __entry->seqno, __entry->hw_status,
		      __entry->addr, __entry->error));

/* A queue reset by the timeout handler; guilty: a job was failed. */
TRACE_EVENT(jal_reset,
	    TP_PROTO(u32 queue, bool guilty),
	    TP_ARGS(queue, guilty),
	    TP_STRUCT__entry(__field(u32, queue)
			     __field(bool, guilty)),
	    TP_fast_assign(__entry->queue = queue;
			   __entry->guilty = guilty;),
	    TP_printk("queue=%u guilty=%d", __entry->queue, __entry->guilty));

#endif /* __JALAPENO_TRACE_H__ */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE jalapeno_trace
#include <trace/define_trace.h>
