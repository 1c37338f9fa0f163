// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: descriptors and the command processor.
 *
 * A job is a descriptor naming a context and a command buffer in that
 * context's address space. Commands are read through the MMU one at a
 * time as they execute, so a fault in a later part of the buffer does not
 * prevent the earlier commands from running.
 */
#include "jal_internal.h"

/* Largest command: struct jal_cmd_copy / jal_cmd_dispatch. */
#define JAL_CMD_MAX_BYTES	32u

union jal_cmd {
	uint32_t hdr;
	struct jal_cmd_copy copy;
	struct jal_cmd_fill fill;
	struct jal_cmd_dispatch dispatch;
	struct jal_cmd_write_value write_value;
	struct jal_cmd_timestamp timestamp;
	uint64_t raw[JAL_CMD_MAX_BYTES / 8];
};

struct jal_cmd_info {
	const char *name;
	uint32_t dwords;
	enum jal_status (*run)(struct jal_job *job, const union jal_cmd *cmd);
};

static enum jal_status jal_cmd_bad(struct jal_job *job, const char *what)
{
	jal_log(job->dev, "ctx %u: command at offset %u: %s", job->ctx_id,
		job->error_offset, what);
	return JAL_STATUS_BAD_CMD;
}

/*
 * A range that runs past the end of the VA space faults at the first VA
 * outside it; checking up front keeps VA arithmetic from wrapping.
 */
static enum jal_status jal_range_check(struct jal_job *job, uint64_t va,
				       uint64_t size, bool write)
{
	if (!size || (va < JAL_VA_LIMIT && size <= JAL_VA_LIMIT - va))
		return JAL_STATUS_OK;
	job->fault_addr = JAL_MAX(va, JAL_VA_LIMIT);
	job->fault_write = write;
	return JAL_STATUS_MMU_UNMAPPED;
}

static enum jal_status jal_cmd_nop(struct jal_job *job,
				   const union jal_cmd *cmd)
{
	(void)job;
	(void)cmd;
	return JAL_STATUS_OK;
}

/*
 * memmove semantics: copy backwards when the destination overlaps the
 * source from above. Ranges that are each one run of device memory are
 * copied in place (memmove); a run of device memory on one side only is
 * read or written directly by the transfer on the other side. Anything
 * else goes through the bounce buffer.
 */
static enum jal_status jal_cmd_copy(struct jal_job *job,
				    const union jal_cmd *cmd)
{
	uint64_t src = jal_le64(cmd->copy.src_va);
	uint64_t dst = jal_le64(cmd->copy.dst_va);
	uint64_t size = jal_le64(cmd->copy.size);
	bool backward = dst > src && dst - src < size;
	bool overlap = backward || (src > dst && src - dst < size);
	uint8_t *buf = job->w->dma_buf, *sp = NULL, *dp = NULL;
	enum jal_status st;
	uint64_t done;

	if (cmd->copy.reserved)
		return jal_cmd_bad(job, "COPY reserved field is not zero");
	st = jal_range_check(job, src, size, false);
	if (!st)
		st = jal_range_check(job, dst, size, true);
	if (!st && size) {
		sp = jal_mmu_span(job, src, size, false);
		dp = jal_mmu_span(job, dst, size, true);
		if (sp && dp)
			backward = dp > sp && (uint64_t)(dp - sp) < size;
		else if (overlap)
			sp = dp = NULL;
	}
	for (done = 0; !st && done < size; done += JAL_DMA_CHUNK) {
		uint64_t n = JAL_MIN(size - done, (uint64_t)JAL_DMA_CHUNK);
		uint64_t off = backward ? size - done - n : done;

		if (jal_job_aborted(job))
			return JAL_STATUS_ABORTED;
		if (sp && dp) {
			memmove(dp + off, sp + off, n);
		} else if (dp) {
			st = jal_mmu_read(job, src + off, dp + off, n);
		} else if (sp) {
			st = jal_mmu_write(job, dst + off, sp + off, n);
		} else {
			st = jal_mmu_read(job, src + off, buf, n);
			if (!st)
				st = jal_mmu_write(job, dst + off, buf, n);
		}
	}
	return st;
}

static enum jal_status jal_cmd_fill(struct jal_job *job,
				    const union jal_cmd *cmd)
{
	uint32_t pattern = jal_le32(cmd->fill.pattern);
	uint64_t dst = jal_le64(cmd->fill.dst_va);
	uint64_t size = jal_le64(cmd->fill.size);
	uint8_t *buf = job->w->dma_buf, *dp = NULL;
	uint64_t done, n = JAL_MIN(size, (uint64_t)JAL_DMA_CHUNK);
	enum jal_status st;
	size_t i;

	/*
	 * The chunk size is a multiple of 4, so every chunk starts with
	 * byte 0 of the pattern.
	 */
	for (i = 0; i < n; i++)
		buf[i] = (uint8_t)(pattern >> (8 * (i & 3)));
	st = jal_range_check(job, dst, size, true);
	if (!st && size)
		dp = jal_mmu_span(job, dst, size, true);
	for (done = 0; !st && done < size; done += JAL_DMA_CHUNK) {
		n = JAL_MIN(size - done, (uint64_t)JAL_DMA_CHUNK);
		if (jal_job_aborted(job))
			return JAL_STATUS_ABORTED;
		if (dp)
			memcpy(dp + done, buf, n);
		else
			st = jal_mmu_write(job, dst + done, buf, n);
	}
	return st;
}

static enum jal_status jal_write_u64(struct jal_job *job, uint64_t va,
				     uint64_t value, const char *cmd)
{
	uint64_t le = jal_le64(value);

	if (va & 7) {
		jal_log(job->dev, "ctx %u: %s destination 0x%llx is not 8-byte aligned",
			job->ctx_id, cmd, (unsigned long long)va);
		return JAL_STATUS_BAD_CMD;
	}
	return jal_mmu_write(job, va, &le, sizeof(le));
}

static enum jal_status jal_cmd_write_value(struct jal_job *job,
					   const union jal_cmd *cmd)
{
	if (cmd->write_value.reserved)
		return jal_cmd_bad(job, "WRITE_VALUE reserved field is not zero");
	return jal_write_u64(job, jal_le64(cmd->write_value.dst_va),
			     jal_le64(cmd->write_value.value), "WRITE_VALUE");
}

static enum jal_status jal_cmd_timestamp(struct jal_job *job,
					 const union jal_cmd *cmd)
{
	if (cmd->timestamp.reserved)
		return jal_cmd_bad(job, "TIMESTAMP reserved field is not zero");
	return jal_write_u64(job, jal_le64(cmd->timestamp.dst_va),
			     jal_now(job->dev), "TIMESTAMP");
}

static enum jal_status jal_cmd_dispatch(struct jal_job *job,
					const union jal_cmd *cmd)
{
	struct jal_cmd_dispatch d = {
		.hdr = jal_le32(cmd->dispatch.hdr),
		.reserved = jal_le32(cmd->dispatch.reserved),
		.code_va = jal_le64(cmd->dispatch.code_va),
		.code_size = jal_le32(cmd->dispatch.code_size),
		.args_size = jal_le32(cmd->dispatch.args_size),
		.args_va = jal_le64(cmd->dispatch.args_va),
	};

	if (d.reserved)
		return jal_cmd_bad(job, "DISPATCH reserved field is not zero");
	return jal_exec_dispatch(job, &d);
}

static const struct jal_cmd_info jal_cmds[256] = {
	[JAL_CMD_NOP] = { "NOP", 1, jal_cmd_nop },
	[JAL_CMD_COPY] = { "COPY", sizeof(struct jal_cmd_copy) / 4,
			   jal_cmd_copy },
	[JAL_CMD_FILL] = { "FILL", sizeof(struct jal_cmd_fill) / 4,
			   jal_cmd_fill },
	[JAL_CMD_DISPATCH] = { "DISPATCH", sizeof(struct jal_cmd_dispatch) / 4,
			       jal_cmd_dispatch },
	[JAL_CMD_WRITE_VALUE] = { "WRITE_VALUE",
				  sizeof(struct jal_cmd_write_value) / 4,
				  jal_cmd_write_value },
	[JAL_CMD_TIMESTAMP] = { "TIMESTAMP", sizeof(struct jal_cmd_timestamp) / 4,
				jal_cmd_timestamp },
};

static enum jal_status jal_cmdbuf_run(struct jal_job *job, uint64_t va,
				      uint32_t size)
{
	const struct jal_cmd_info *info;
	union jal_cmd cmd;
	enum jal_status st;
	uint32_t off, hdr, len;

	for (off = 0; off < size; off += len) {
		if (jal_job_aborted(job))
			return JAL_STATUS_ABORTED;
		job->error_offset = off;
		st = jal_mmu_read(job, va + off, &hdr, sizeof(hdr));
		if (st)
			return st;
		hdr = jal_le32(hdr);
		info = &jal_cmds[JAL_CMD_OP(hdr)];
		len = JAL_CMD_DWORDS(hdr) * 4;
		if (!info->run)
			return jal_cmd_bad(job, "unknown opcode");
		if (hdr & JAL_CMD_HDR_RESERVED)
			return jal_cmd_bad(job, "reserved header bits set");
		if (JAL_CMD_DWORDS(hdr) != info->dwords)
			return jal_cmd_bad(job, "length does not match the command");
		if (len > size - off)
			return jal_cmd_bad(job, "command runs past the buffer end");
		st = jal_mmu_read(job, va + off, &cmd, len);
		if (!st)
			st = info->run(job, &cmd);
		if (st)
			return st;
	}
	return JAL_STATUS_OK;
}

static enum jal_status jal_desc_check(struct jal_job *job,
				      const struct jal_desc *d)
{
	const char *why = NULL;

	if (d->flags & ~JAL_DESC_F_VALID_MASK)
		why = "undefined flags";
	else if (d->reserved0 || d->reserved1[0] || d->reserved1[1])
		why = "reserved fields are not zero";
	else if (d->cmdbuf_va & 7)
		why = "command buffer VA is not 8-byte aligned";
	else if (d->cmdbuf_size & 3)
		why = "command buffer size is not a multiple of 4";
	else if (d->cmdbuf_size > JAL_MAX_CMDBUF_SIZE)
		why = "command buffer is too large";
	if (!why)
		return JAL_STATUS_OK;
	jal_log(job->dev, "queue %u seqno %llu: bad descriptor: %s", job->queue,
		(unsigned long long)d->seqno, why);
	return JAL_STATUS_BAD_DESC;
}

enum jal_status jal_job_run(struct jal_job *job, const struct jal_desc *desc)
{
	enum jal_status st;

	job->ctx_id = desc->ctx_id;
	st = jal_desc_check(job, desc);
	if (!st)
		st = jal_mmu_begin(job);
	if (!st)
		st = jal_cmdbuf_run(job, desc->cmdbuf_va, desc->cmdbuf_size);
	if (st && st != JAL_STATUS_ABORTED)
		jal_log(job->dev,
			"queue %u ctx %u seqno %llu: %s at command offset %u, fault VA 0x%llx%s",
			job->queue, job->ctx_id, (unsigned long long)desc->seqno,
			jal_status_name(st), job->error_offset,
			(unsigned long long)job->fault_addr,
			job->fault_write ? " (write)" : "");
	return st;
}
