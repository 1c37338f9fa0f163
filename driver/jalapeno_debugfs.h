/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Jalapeño accelerator driver: the fault log and debugfs.
 *
 * Copyright (C) 2025 The Jalapeño authors
 */
#ifndef __JALAPENO_DEBUGFS_H__
#define __JALAPENO_DEBUGFS_H__

#include <linux/types.h>

struct jal_ctx;
struct jal_device;

void jal_fault_log_add(struct jal_device *jdev, struct jal_ctx *ctx,
		       u64 seqno, int error, u32 hw_status, u64 addr,
		       u32 offset);
void jal_debugfs_init(struct jal_device *jdev);

#endif /* __JALAPENO_DEBUGFS_H__ */
