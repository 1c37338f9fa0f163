/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: device coredumps of hung jobs.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_COREDUMP_H__
#define __JALAPENO_COREDUMP_H__

#include <linux/types.h>

#include <drm/jalapeno_hw.h>

struct jal_job;
struct jal_queue;

/* Registers a coredump records, by name. */
#define JAL_COREDUMP_NUM_REGS	16

/**
 * struct jal_coredump_regs - the chip's state when a queue was found hung
 * @global: the device registers of jal_coredump_reg_names, in order.
 * @q_head: each queue's JAL_Q_HEAD.
 * @q_tail: each queue's JAL_Q_TAIL.
 * @q_status: each queue's JAL_Q_STATUS.
 * @q_compl: each queue's completion record seqno.
 */
struct jal_coredump_regs {
	u32 global[JAL_COREDUMP_NUM_REGS];
	u32 q_head[JAL_NUM_QUEUES];
	u32 q_tail[JAL_NUM_QUEUES];
	u32 q_status[JAL_NUM_QUEUES];
	u64 q_compl[JAL_NUM_QUEUES];
};

void jal_coredump_capture(struct jal_queue *q, struct jal_coredump_regs *regs);
void jal_coredump_job(struct jal_job *job,
		      const struct jal_coredump_regs *regs, const char *reason);

#endif /* __JALAPENO_COREDUMP_H__ */
