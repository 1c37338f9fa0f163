// SPDX-License-Identifier: MIT
/*
 * Queues: descriptor processing, write-back, completion records,
 * interrupts, scheduling, ring errors, bad descriptors, fault records and
 * the two resets aborting a running job.
 */
#include <pthread.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "jal_test.h"

FIXTURE(rings) {
	struct fake *f;
};

FIXTURE_SETUP(rings)
{
	self->f = fake_new(512 * MiB);
	fake_default(self->f);
	map_range(self->f, CTX, DATA_VA, 64 * PAGE, RW, false);
}

FIXTURE_TEARDOWN(rings)
{
	fake_free(self->f);
}

/* A command buffer at @va of context CTX holding one NOP. */
static uint32_t nop_cmdbuf(struct fake *f, uint64_t va)
{
	struct cmdbuf cb = { 0 };

	cb_nop(&cb);
	host_write(f, CTX, va, cb.buf, cb.len);
	return cb.len;
}

TEST_F(rings, jobs_complete_with_writeback_record_and_irq)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA), idx[3], i;
	struct jal_completion *rec = compl_rec(f, 2);

	for (i = 0; i < 3; i++)
		idx[i] = submit(f, 2, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_queue(f, 2, 5000));
	for (i = 0; i < 3; i++) {
		struct jal_desc *d = desc_at(f, 2, idx[i]);

		EXPECT_EQ(JAL_STATUS_OK, d->status);
		EXPECT_EQ(0, d->error_offset);
		EXPECT_EQ(0, d->fault_addr);
		/* The driver's fields are left alone. */
		EXPECT_EQ(i + 1, d->seqno);
		EXPECT_EQ(CTX, d->ctx_id);
	}
	EXPECT_EQ(3, rec->seqno);
	EXPECT_EQ(3, rec->head);
	EXPECT_EQ(0, rec->reserved);
	EXPECT_EQ(3, rd(f, JAL_REG_Q(2, JAL_Q_HEAD)));
	EXPECT_EQ(3, rd(f, JAL_REG_Q(2, JAL_Q_COMPLETED)));
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(2, JAL_Q_STATUS)));
	EXPECT_EQ(JAL_IRQ_QUEUE(2), rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(3, wait_irqs(f, 2, 3));
	EXPECT_EQ(0, atomic_load(&f->irqs[0]));
	EXPECT_EQ(0, atomic_load(&f->irqs[JAL_MSIX_VEC_ERROR]));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0, atomic_load(&f->logs));
}

TEST_F(rings, no_interrupt_without_the_flag)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA);

	submit(f, 1, CTX, CMDBUF_VA, len, 0);
	submit(f, 1, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 1, 5000));
	EXPECT_EQ(2, rd(f, JAL_REG_Q(1, JAL_Q_COMPLETED)));
	EXPECT_EQ(0, rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(0, atomic_load(&f->irqs[1]));
}

TEST_F(rings, ring_wraps_around)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA), i, j;

	queue_setup(f, 0, 4, 0);
	for (i = 0; i < 5; i++) {
		for (j = 0; j < 3; j++)
			submit(f, 0, CTX, CMDBUF_VA, len, 0);
		ASSERT_TRUE(wait_queue(f, 0, 5000));
		EXPECT_EQ((i + 1) * 3, compl_rec(f, 0)->seqno);
		EXPECT_EQ((i + 1) * 3 % 4, compl_rec(f, 0)->head);
		EXPECT_EQ((i + 1) * 3 % 4, rd(f, JAL_REG_Q(0, JAL_Q_HEAD)));
	}
	EXPECT_EQ(15, rd(f, JAL_REG_Q(0, JAL_Q_COMPLETED)));
	/* A one-entry ring can never hold work (HEAD == TAIL), but is valid. */
	queue_setup(f, 0, 1, 0);
	wr(f, JAL_REG_DOORBELL(0), 0);
	usleep(2000);
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(0, JAL_Q_STATUS)));
}

TEST_F(rings, completion_record_is_optional)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA);

	compl_rec(f, 0)->seqno = 77;
	wr(f, JAL_REG_Q(0, JAL_Q_COMPL_LO), 0);
	wr(f, JAL_REG_Q(0, JAL_Q_COMPL_HI), 0);
	f->seqno = 0x100000005ull;
	submit(f, 0, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(77, compl_rec(f, 0)->seqno);
	/* COMPLETED holds the low 32 bits. */
	EXPECT_EQ(6, rd(f, JAL_REG_Q(0, JAL_Q_COMPLETED)));
}

/* Each job writes a timestamp: the counting clock orders them. */
static uint64_t ts_slot(unsigned int q, unsigned int j)
{
	return DATA_VA + (q * 8 + j) * 8;
}

TEST_F(rings, higher_priority_queue_runs_first)
{
	struct fake *f = self->f;
	uint64_t ts[JAL_NUM_QUEUES][3];
	unsigned int q, j;

	wr(f, JAL_REG_DEV_CTRL, 0);
	for (q = 0; q < JAL_NUM_QUEUES; q++) {
		/* Priority is the register, not the queue number. */
		wr(f, JAL_REG_Q(q, JAL_Q_PRIORITY), 3 - q);
		for (j = 0; j < 3; j++) {
			struct cmdbuf cb = { 0 };
			uint64_t va = CMDBUF_VA + (q * 3 + j) * 64;

			cb_timestamp(&cb, ts_slot(q, j));
			host_write(f, CTX, va, cb.buf, cb.len);
			push_desc(f, q, &(struct jal_desc){
				.ctx_id = CTX, .seqno = j + 1,
				.cmdbuf_va = va, .cmdbuf_size = cb.len });
		}
		ring_doorbell(f, q);
	}
	usleep(5000);
	for (q = 0; q < JAL_NUM_QUEUES; q++)
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_HEAD)));
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
	for (q = 0; q < JAL_NUM_QUEUES; q++)
		ASSERT_TRUE(wait_queue(f, q, 5000));
	for (q = 0; q < JAL_NUM_QUEUES; q++)
		for (j = 0; j < 3; j++)
			host_read(f, CTX, ts_slot(q, j), &ts[q][j], 8);
	for (q = 0; q < JAL_NUM_QUEUES; q++) {
		EXPECT_LT(ts[q][0], ts[q][1]);
		EXPECT_LT(ts[q][1], ts[q][2]);
		if (q)
			EXPECT_LT(ts[q - 1][2], ts[q][0]);
	}
}

TEST_F(rings, equal_priorities_take_turns)
{
	struct fake *f = self->f;
	uint64_t ts[2][4];
	unsigned int q, j;

	wr(f, JAL_REG_DEV_CTRL, 0);
	wr(f, JAL_REG_Q(1, JAL_Q_PRIORITY), 2);
	wr(f, JAL_REG_Q(2, JAL_Q_PRIORITY), 2);
	for (q = 1; q <= 2; q++) {
		for (j = 0; j < 4; j++) {
			struct cmdbuf cb = { 0 };
			uint64_t va = CMDBUF_VA + (q * 4 + j) * 64;

			cb_timestamp(&cb, ts_slot(q, j));
			host_write(f, CTX, va, cb.buf, cb.len);
			push_desc(f, q, &(struct jal_desc){
				.ctx_id = CTX, .seqno = j + 1,
				.cmdbuf_va = va, .cmdbuf_size = cb.len });
		}
		ring_doorbell(f, q);
	}
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
	ASSERT_TRUE(wait_queue(f, 1, 5000));
	ASSERT_TRUE(wait_queue(f, 2, 5000));
	for (q = 1; q <= 2; q++)
		for (j = 0; j < 4; j++)
			host_read(f, CTX, ts_slot(q, j), &ts[q - 1][j], 8);
	/* Strict alternation: q1 j, q2 j, q1 j+1, ... */
	for (j = 0; j < 4; j++) {
		EXPECT_LT(ts[0][j], ts[1][j]);
		if (j)
			EXPECT_LT(ts[1][j - 1], ts[0][j]);
	}
}

TEST_F(rings, disabled_queue_or_device_does_not_run)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA);

	wr(f, JAL_REG_Q(3, JAL_Q_CTRL), 0);
	submit(f, 3, CTX, CMDBUF_VA, len, 0);
	usleep(5000);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(3, JAL_Q_HEAD)));
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(3, JAL_Q_STATUS)));
	wr(f, JAL_REG_DEV_CTRL, 0);
	wr(f, JAL_REG_Q(3, JAL_Q_CTRL), JAL_Q_CTRL_ENABLE);
	usleep(5000);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(3, JAL_Q_HEAD)));
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
	ASSERT_TRUE(wait_queue(f, 3, 5000));
	EXPECT_EQ(1, rd(f, JAL_REG_Q(3, JAL_Q_HEAD)));
}

static void expect_fault(struct __test_metadata *_metadata, struct fake *f,
			 uint32_t ctx, uint32_t q, uint32_t reason,
			 uint64_t addr, bool write, uint32_t count)
{
	EXPECT_EQ(JAL_FAULT_STATUS_VALID | (write ? JAL_FAULT_STATUS_WRITE : 0),
		  rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(ctx, rd(f, JAL_REG_FAULT_CTX));
	EXPECT_EQ(q, rd(f, JAL_REG_FAULT_QUEUE));
	EXPECT_EQ(reason, rd(f, JAL_REG_FAULT_REASON));
	EXPECT_EQ((uint32_t)addr, rd(f, JAL_REG_FAULT_ADDR_LO));
	EXPECT_EQ((uint32_t)(addr >> 32), rd(f, JAL_REG_FAULT_ADDR_HI));
	EXPECT_EQ(count, rd(f, JAL_REG_FAULT_COUNT));
	EXPECT_NE(0, rd(f, JAL_REG_IRQ_STATUS) & JAL_IRQ_ERROR);
}

static bool wait_error(struct fake *f, unsigned int q)
{
	uint64_t end = now_ms() + 5000;

	while (!(rd(f, JAL_REG_Q(q, JAL_Q_STATUS)) & JAL_Q_STATUS_ERROR))
		if (now_ms() > end)
			return false;
	return true;
}

TEST_F(rings, unreadable_ring_stops_the_queue)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA);
	uint64_t bad = f->mem_size + 0x1000;

	wr(f, JAL_REG_Q(1, JAL_Q_RING_LO), (uint32_t)bad);
	wr(f, JAL_REG_Q(1, JAL_Q_RING_HI), (uint32_t)(bad >> 32));
	wr(f, JAL_REG_DOORBELL(1), 2);
	ASSERT_TRUE(wait_error(f, 1));
	EXPECT_EQ(JAL_Q_STATUS_ERROR | JAL_Q_STATUS_IDLE,
		  rd(f, JAL_REG_Q(1, JAL_Q_STATUS)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_HEAD)));
	expect_fault(_metadata, f, JAL_FAULT_CTX_NONE, 1, JAL_STATUS_BUS_ERROR, bad,
		     false, 1);
	EXPECT_EQ(1, wait_irqs(f, JAL_MSIX_VEC_ERROR, 1));
	/* It stays stopped... */
	usleep(2000);
	EXPECT_EQ(1, rd(f, JAL_REG_FAULT_COUNT));
	/* ...while other queues work... */
	submit(f, 0, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	/* ...until a reset clears the error. */
	wr(f, JAL_REG_Q(1, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(1, JAL_Q_STATUS)));
	queue_setup(f, 1, 8, 1);
	submit(f, 1, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 1, 5000));
}

TEST_F(rings, bad_ring_size_or_tail_stops_the_queue)
{
	struct fake *f = self->f;
	static const uint32_t sizes[] = { 0, 3, 12, 8192 };
	unsigned int i;

	for (i = 0; i < 4; i++) {
		queue_setup(f, 2, 8, 2);
		wr(f, JAL_REG_Q(2, JAL_Q_RING_SIZE), sizes[i]);
		wr(f, JAL_REG_DOORBELL(2), 1);
		ASSERT_TRUE(wait_error(f, 2));
		EXPECT_EQ(JAL_STATUS_BAD_DESC, rd(f, JAL_REG_FAULT_REASON));
		wr(f, JAL_REG_FAULT_ACK, 1);
	}
	queue_setup(f, 2, 8, 2);
	wr(f, JAL_REG_DOORBELL(2), 8);	/* tail must be < ring size */
	ASSERT_TRUE(wait_error(f, 2));
	expect_fault(_metadata, f, JAL_FAULT_CTX_NONE, 2, JAL_STATUS_BAD_DESC,
		     f->q[2].ring, false, 1);
}

TEST_F(rings, completion_write_failure_stops_the_queue)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA);
	uint64_t bad = f->mem_size;

	wr(f, JAL_REG_Q(0, JAL_Q_COMPL_LO), (uint32_t)bad);
	wr(f, JAL_REG_Q(0, JAL_Q_COMPL_HI), (uint32_t)(bad >> 32));
	submit(f, 0, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_error(f, 0));
	/* The descriptor was written back, but HEAD did not move. */
	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, 0, 0)->status);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(0, JAL_Q_HEAD)));
	EXPECT_EQ(0, atomic_load(&f->irqs[0]));
	expect_fault(_metadata, f, JAL_FAULT_CTX_NONE, 0, JAL_STATUS_BUS_ERROR, bad,
		     false, 1);
}

TEST_F(rings, bad_descriptors_fail_and_the_queue_goes_on)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA);
	struct jal_desc good = {
		.ctx_id = CTX, .cmdbuf_va = CMDBUF_VA, .cmdbuf_size = len,
	}, bad[8];
	unsigned int i, n = 0;
	uint32_t idx[9];

	bad[n] = good;
	bad[n++].flags = 2;
	bad[n] = good;
	bad[n++].flags = 0x80000000;
	bad[n] = good;
	bad[n++].reserved0 = 1;
	bad[n] = good;
	bad[n++].reserved1[0] = 1;
	bad[n] = good;
	bad[n++].reserved1[1] = 1ull << 63;
	bad[n] = good;
	bad[n++].cmdbuf_va = CMDBUF_VA + 4;
	bad[n] = good;
	bad[n++].cmdbuf_size = 6;
	bad[n] = good;
	bad[n++].cmdbuf_size = JAL_MAX_CMDBUF_SIZE + 4;
	for (i = 0; i < n; i++) {
		bad[i].seqno = 100 + i;
		bad[i].status = 0xdeadbeef;
		idx[i] = push_desc(f, 0, &bad[i]);
	}
	good.seqno = 200;
	idx[n] = push_desc(f, 0, &good);
	ring_doorbell(f, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	for (i = 0; i < n; i++) {
		EXPECT_EQ(JAL_STATUS_BAD_DESC, desc_at(f, 0, idx[i])->status) {
			TH_LOG("descriptor %u", i);
		}
		EXPECT_EQ(0, desc_at(f, 0, idx[i])->error_offset);
		EXPECT_EQ(0, desc_at(f, 0, idx[i])->fault_addr);
	}
	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, 0, idx[n])->status);
	EXPECT_EQ(200, compl_rec(f, 0)->seqno);
	expect_fault(_metadata, f, CTX, 0, JAL_STATUS_BAD_DESC, 0, false, n);
	EXPECT_EQ(n, wait_irqs(f, JAL_MSIX_VEC_ERROR, n));
	/* An empty command buffer is a valid, empty job. */
	submit(f, 0, CTX, CMDBUF_VA, 0, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, 0, n + 1)->status);
}

TEST_F(rings, bad_contexts_fail)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA), idx;
	struct jal_ctx_entry *e = host_pa(f, f->ctx_table + 5 * sizeof(*e));
	uint64_t root = page_alloc(f, 1);

	idx = submit(f, 0, 64, CMDBUF_VA, len, 0);		/* out of range */
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CTX, desc_at(f, 0, idx)->status);
	expect_fault(_metadata, f, 64, 0, JAL_STATUS_BAD_CTX, 0, false, 1);
	idx = submit(f, 0, 0xffffffff, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CTX, desc_at(f, 0, idx)->status);
	idx = submit(f, 0, 5, CMDBUF_VA, len, 0);		/* not valid */
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CTX, desc_at(f, 0, idx)->status);

	e->pt_root = root | JAL_CTX_VALID | 0x10;		/* reserved bit */
	wr(f, JAL_REG_MMU_INVALIDATE, 5);
	idx = submit(f, 0, 5, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CTX, desc_at(f, 0, idx)->status);
	e->pt_root = root | JAL_CTX_VALID;
	e->reserved = 1;
	wr(f, JAL_REG_MMU_INVALIDATE, 5);
	idx = submit(f, 0, 5, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CTX, desc_at(f, 0, idx)->status);
	/* Valid now, but nothing is mapped: the command buffer faults. */
	e->reserved = 0;
	wr(f, JAL_REG_MMU_INVALIDATE, 5);
	idx = submit(f, 0, 5, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, desc_at(f, 0, idx)->status);
	EXPECT_EQ(CMDBUF_VA, desc_at(f, 0, idx)->fault_addr);

	/* No context table, or a misaligned one. */
	wr(f, JAL_REG_CTX_TABLE_LO, 0);
	wr(f, JAL_REG_CTX_TABLE_HI, 0);
	idx = submit(f, 0, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CTX, desc_at(f, 0, idx)->status);
	wr(f, JAL_REG_CTX_TABLE_LO, (uint32_t)f->ctx_table + 16);
	wr(f, JAL_REG_CTX_TABLE_HI, 0);
	idx = submit(f, 0, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CTX, desc_at(f, 0, idx)->status);
	/* A table outside memory is a bus error. */
	wr(f, JAL_REG_CTX_TABLE_LO, 0);
	wr(f, JAL_REG_CTX_TABLE_HI, 0x100);
	idx = submit(f, 0, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_STATUS_BUS_ERROR, desc_at(f, 0, idx)->status);
	EXPECT_EQ(9, rd(f, JAL_REG_FAULT_COUNT));
}

TEST_F(rings, fault_record_keeps_the_first_error)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	struct result r;

	cb_nop(&cb);
	cb_write_value(&cb, 0x7000000000ull, 1);	/* beyond 39 bits */
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, r.status);
	EXPECT_EQ(4, r.error_offset);
	EXPECT_EQ(0x7000000000ull, r.fault_addr);
	cb.len = 0;
	cb_u32(&cb, JAL_CMD_HDR(0x77, 1));
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_BAD_CMD, r.status);
	expect_fault(_metadata, f, CTX, 0, JAL_STATUS_MMU_UNMAPPED,
		     0x7000000000ull, true, 2);
	EXPECT_EQ(2, wait_irqs(f, JAL_MSIX_VEC_ERROR, 2));
	wr(f, JAL_REG_FAULT_ACK, 0);
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_COUNT));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_ADDR_HI));
	/* IRQ_STATUS is separate from the fault record. */
	EXPECT_EQ(JAL_IRQ_ERROR, rd(f, JAL_REG_IRQ_STATUS));
	r = run_cb(f, CTX, &cb);
	expect_fault(_metadata, f, CTX, 0, JAL_STATUS_BAD_CMD, 0, false, 1);
}

/* An endless kernel: with the watchdog off it runs until aborted. */
static uint32_t submit_endless(struct fake *f, unsigned int q)
{
	struct jal_insn loop = i_jump(0);
	struct cmdbuf cb = { 0 };
	uint64_t va = CMDBUF_VA + 4096 * (q + 1);

	wr(f, JAL_REG_STEP_LIMIT_LO, 0);
	wr(f, JAL_REG_STEP_LIMIT_HI, 0);
	host_write(f, CTX, CODE_VA, &loop, sizeof(loop));
	cb_dispatch(&cb, CODE_VA, sizeof(loop), 0, 0);
	host_write(f, CTX, va, cb.buf, cb.len);
	return submit(f, q, CTX, va, cb.len, JAL_DESC_F_IRQ);
}

TEST_F(rings, queue_reset_aborts_the_running_job)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA), idx;
	uint64_t t0;

	compl_rec(f, 1)->seqno = 0x5555;
	idx = submit_endless(f, 1);
	submit(f, 1, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_busy(f, 5000));
	usleep(20000);
	EXPECT_EQ(JAL_DEV_STATUS_READY | JAL_DEV_STATUS_BUSY,
		  rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_STATUS)));	/* not idle */

	t0 = now_ms();
	wr(f, JAL_REG_Q(1, JAL_Q_CTRL), JAL_Q_CTRL_RESET | JAL_Q_CTRL_ENABLE);
	EXPECT_LT(now_ms() - t0, 1000);
	/* Once the write returned, the job is gone: no write-back. */
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0xdeadbeef, desc_at(f, 1, idx)->status);
	EXPECT_EQ(0x5555, compl_rec(f, 1)->seqno);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_HEAD)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_TAIL)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_CTRL)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_COMPLETED)));
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(1, JAL_Q_STATUS)));
	usleep(5000);
	EXPECT_EQ(0xdeadbeef, desc_at(f, 1, idx)->status);
	EXPECT_EQ(0, atomic_load(&f->irqs[1]));
	EXPECT_EQ(0, rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_STATUS));
	/* Ring address, size, priority survive; reprogram and go on. */
	EXPECT_EQ((uint32_t)f->q[1].ring, rd(f, JAL_REG_Q(1, JAL_Q_RING_LO)));
	EXPECT_EQ(RING_ENTRIES, rd(f, JAL_REG_Q(1, JAL_Q_RING_SIZE)));
	EXPECT_EQ(1, rd(f, JAL_REG_Q(1, JAL_Q_PRIORITY)));
	f->q[1].tail = 0;
	wr(f, JAL_REG_Q(1, JAL_Q_CTRL), JAL_Q_CTRL_ENABLE);
	idx = submit(f, 1, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_queue(f, 1, 5000));
	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, 1, idx)->status);
	EXPECT_EQ(1, wait_irqs(f, 1, 1));
}

TEST_F(rings, queue_reset_leaves_other_queues_alone)
{
	struct fake *f = self->f;
	uint32_t len = nop_cmdbuf(f, CMDBUF_VA), idx;

	idx = submit_endless(f, 3);
	ASSERT_TRUE(wait_busy(f, 5000));
	/* Resetting an idle queue does not touch the running job. */
	submit(f, 0, CTX, CMDBUF_VA, len, 0);
	wr(f, JAL_REG_Q(0, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	usleep(5000);
	EXPECT_NE(0, rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_BUSY);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(0, JAL_Q_HEAD)));
	wr(f, JAL_REG_Q(3, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0xdeadbeef, desc_at(f, 3, idx)->status);
}

TEST_F(rings, device_reset_aborts_the_running_job)
{
	struct fake *f = self->f;
	uint32_t idx;
	uint64_t t0;

	idx = submit_endless(f, 2);
	ASSERT_TRUE(wait_busy(f, 5000));
	t0 = now_ms();
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
	EXPECT_LT(now_ms() - t0, 1000);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_DEV_CTRL));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(2, JAL_Q_RING_LO)));
	EXPECT_EQ((uint32_t)JAL_STEP_LIMIT_DEFAULT, rd(f, JAL_REG_STEP_LIMIT_LO));
	usleep(5000);
	EXPECT_EQ(0xdeadbeef, desc_at(f, 2, idx)->status);
	EXPECT_EQ(0, atomic_load(&f->irqs[2]));
	/* The device comes back to life after reprogramming. */
	memset(f->q, 0, sizeof(f->q));
	fake_default(f);
	submit(f, 2, CTX, CMDBUF_VA, nop_cmdbuf(f, CMDBUF_VA), 0);
	ASSERT_TRUE(wait_queue(f, 2, 5000));
}

TEST_F(rings, reset_aborts_a_long_copy_promptly)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	uint64_t t0, src = DATA_VA + 64 * MiB, dst = DATA_VA + 192 * MiB;
	unsigned int i;
	uint32_t idx;

	map_range(f, CTX, src, 96 * MiB, RW, false);
	map_range(f, CTX, dst, 96 * MiB, RW, true);
	for (i = 0; i < 100; i++)	/* about 10 GB of copying */
		cb_copy(&cb, src, dst, 96 * MiB);
	host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);
	idx = submit(f, 0, CTX, CMDBUF_VA, cb.len, 0);
	ASSERT_TRUE(wait_busy(f, 5000));
	usleep(50000);
	t0 = now_ms();
	wr(f, JAL_REG_Q(0, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	EXPECT_LT(now_ms() - t0, 1000);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0xdeadbeef, desc_at(f, 0, idx)->status);
}

static void *hammer(void *arg)
{
	struct fake *f = arg;
	unsigned int i;

	for (i = 0; i < 20000; i++) {
		rd(f, JAL_REG_DEV_STATUS);
		rd(f, JAL_REG_Q(i % 4, JAL_Q_STATUS));
		rd(f, JAL_REG_TIMESTAMP_LO);
		wr(f, JAL_REG_IRQ_STATUS, 0xffffffff);
		wr(f, JAL_REG_MMU_INVALIDATE, JAL_MMU_INVALIDATE_ALL);
		wr(f, JAL_REG_Q(i % 4, JAL_Q_PRIORITY), i % 4);
	}
	return NULL;
}

TEST_F(rings, concurrent_register_traffic_while_jobs_run)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	pthread_t t[2];
	unsigned int i, q;
	uint64_t v;

	cb_fill(&cb, DATA_VA, 0x01020304, 16 * PAGE);
	cb_write_value(&cb, DATA_VA + 32 * PAGE, 42);
	host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, hammer, f));
	for (i = 0; i < 200; i++) {
		q = i % 4;
		submit(f, q, CTX, CMDBUF_VA, cb.len, JAL_DESC_F_IRQ);
		if (i % 16 == 15)
			for (q = 0; q < 4; q++)
				ASSERT_TRUE(wait_queue(f, q, 10000));
	}
	for (q = 0; q < 4; q++)
		ASSERT_TRUE(wait_queue(f, q, 10000));
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	host_read(f, CTX, DATA_VA + 32 * PAGE, &v, 8);
	EXPECT_EQ(42, v);
	EXPECT_EQ(200, f->seqno);
	for (q = 0; q < 4; q++)
		EXPECT_EQ(200 - 3 + q, compl_rec(f, q)->seqno);
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_STATUS));
}

TEST(destroy_while_a_job_runs)
{
	struct fake *f = fake_new(64 * MiB);
	uint64_t t0;

	fake_default(f);
	submit_endless(f, 0);
	ASSERT_TRUE(wait_busy(f, 5000));
	t0 = now_ms();
	jal_device_destroy(f->dev);
	f->dev = NULL;
	EXPECT_LT(now_ms() - t0, 1000);
	fake_free(f);
}

TEST_HARNESS_MAIN
