// SPDX-License-Identifier: MIT
/*
 * Register file: identity, power-on values, access rules, 64-bit latches,
 * interrupts, device reset.
 */
#include <unistd.h>

#include "kselftest_harness.h"
#include "jal_test.h"

FIXTURE(regs) {
	struct fake *f;
};

FIXTURE_SETUP(regs)
{
	self->f = fake_new(64 * MiB);
}

FIXTURE_TEARDOWN(regs)
{
	fake_free(self->f);
}

static void expect_power_on(struct __test_metadata *_metadata, struct fake *f)
{
	unsigned int q;

	EXPECT_EQ(0, rd(f, JAL_REG_DEV_CTRL));
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_IRQ_MASK));
	EXPECT_EQ((uint32_t)JAL_STEP_LIMIT_DEFAULT, rd(f, JAL_REG_STEP_LIMIT_LO));
	EXPECT_EQ((uint32_t)(JAL_STEP_LIMIT_DEFAULT >> 32),
		  rd(f, JAL_REG_STEP_LIMIT_HI));
	EXPECT_EQ(0, rd(f, JAL_REG_CTX_TABLE_LO));
	EXPECT_EQ(0, rd(f, JAL_REG_CTX_TABLE_HI));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_CTX));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_QUEUE));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_REASON));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_ADDR_LO));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_ADDR_HI));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_COUNT));
	for (q = 0; q < JAL_NUM_QUEUES; q++) {
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_RING_LO)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_RING_HI)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_RING_SIZE)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_HEAD)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_TAIL)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_CTRL)));
		EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(q, JAL_Q_STATUS)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_PRIORITY)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_COMPL_LO)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_COMPL_HI)));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_COMPLETED)));
	}
}

TEST_F(regs, identity)
{
	struct fake *f = self->f;

	EXPECT_EQ(0x4e504c4a, rd(f, JAL_REG_ID));
	EXPECT_EQ(1u << 16 | 1, rd(f, JAL_REG_VERSION));
	EXPECT_EQ(JAL_CAP_DMA | JAL_CAP_COMPUTE_F32 | JAL_CAP_TIMESTAMP |
		  JAL_CAP_MSIX | JAL_CAP_VRAM | JAL_CAP_LLM | JAL_CAP_TELEMETRY |
		  JAL_CAP_Q4,
		  rd(f, JAL_REG_CAPS));
	EXPECT_EQ((uint32_t)TEST_VRAM_SIZE, rd(f, JAL_REG_VRAM_SIZE_LO));
	EXPECT_EQ(0, rd(f, JAL_REG_VRAM_SIZE_HI));
	EXPECT_EQ(4, rd(f, JAL_REG_NUM_QUEUES));
	EXPECT_EQ(64, rd(f, JAL_REG_NUM_CONTEXTS));
	EXPECT_EQ(39, rd(f, JAL_REG_VA_BITS));
	EXPECT_EQ(1u << 20, rd(f, JAL_REG_MAX_CMDBUF));
	EXPECT_EQ(1u << 20, rd(f, JAL_REG_MAX_CODE));
	EXPECT_EQ(0, atomic_load(&f->logs));
}

TEST(worker_hooks_run_on_start_and_stop)
{
	struct fake *f = fake_new(16 * MiB);
	uint64_t end = now_ms() + 5000;

	while (!atomic_load(&f->worker_starts) && now_ms() < end)
		usleep(100);
	EXPECT_EQ(1, atomic_load(&f->worker_starts));
	EXPECT_EQ(0, atomic_load(&f->worker_stops));
	jal_device_destroy(f->dev);
	EXPECT_EQ(1, atomic_load(&f->worker_starts));
	EXPECT_EQ(1, atomic_load(&f->worker_stops));
	f->dev = jal_device_create(NULL, NULL, NULL);
	EXPECT_NULL(f->dev);
	fake_free(f);
}

TEST_F(regs, power_on_values)
{
	expect_power_on(_metadata, self->f);
}

TEST_F(regs, bad_accesses_are_ignored_and_logged)
{
	static const uint32_t undefined[] = {
		0x028, 0x02c, 0x038, 0x058, 0x08c, 0x0c0, 0x0fc,
		JAL_REG_Q(0, 0x2c), JAL_REG_Q(3, 0x3c), 0x200, 0x0ffc,
		JAL_REG_DOORBELL(0) + 4, JAL_REG_DOORBELL(4), 0x3ffc,
	};
	struct fake *f = self->f;
	unsigned int i, logs;

	wr(f, JAL_REG_STEP_LIMIT_LO, 1234);
	wr(f, JAL_REG_STEP_LIMIT_HI, 0);
	logs = atomic_load(&f->logs);
	/* Wrong sizes and alignment read 0, are not applied and are logged. */
	EXPECT_EQ(0, jal_mmio_read(f->dev, JAL_REG_ID, 1));
	EXPECT_EQ(0, jal_mmio_read(f->dev, JAL_REG_ID, 2));
	EXPECT_EQ(0, jal_mmio_read(f->dev, JAL_REG_ID, 8));
	EXPECT_EQ(0, jal_mmio_read(f->dev, JAL_REG_ID + 1, 4));
	EXPECT_EQ(0, jal_mmio_read(f->dev, JAL_BAR_REGS_SIZE, 4));
	EXPECT_EQ(0, jal_mmio_read(f->dev, ~0ull, 4));
	jal_mmio_write(f->dev, JAL_REG_STEP_LIMIT_LO, 7, 2);
	jal_mmio_write(f->dev, JAL_REG_STEP_LIMIT_LO, 7, 8);
	jal_mmio_write(f->dev, JAL_REG_STEP_LIMIT_LO + 2, 7, 4);
	jal_mmio_write(f->dev, JAL_REG_STEP_LIMIT_HI, 0, 1);
	EXPECT_EQ(1234, rd(f, JAL_REG_STEP_LIMIT_LO));
	EXPECT_EQ(logs + 10, atomic_load(&f->logs));

	for (i = 0; i < ARRAY_SIZE(undefined); i++) {
		logs = atomic_load(&f->logs);
		EXPECT_EQ(0, rd(f, undefined[i]));
		wr(f, undefined[i], 0xffffffff);
		EXPECT_EQ(0, rd(f, undefined[i]));
		EXPECT_EQ(logs + 3, atomic_load(&f->logs)) {
			TH_LOG("offset 0x%x", undefined[i]);
		}
	}
	/* Read-only registers keep their value. */
	wr(f, JAL_REG_ID, 0);
	wr(f, JAL_REG_NUM_QUEUES, 99);
	wr(f, JAL_REG_Q(1, JAL_Q_HEAD), 5);
	wr(f, JAL_REG_Q(1, JAL_Q_COMPLETED), 5);
	wr(f, JAL_REG_FAULT_COUNT, 5);
	EXPECT_EQ(JAL_ID_MAGIC, rd(f, JAL_REG_ID));
	EXPECT_EQ(4, rd(f, JAL_REG_NUM_QUEUES));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_HEAD)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_COMPLETED)));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_COUNT));
	/* Write-only registers read as 0, without a complaint. */
	logs = atomic_load(&f->logs);
	EXPECT_EQ(0, rd(f, JAL_REG_MMU_INVALIDATE));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_ACK));
	EXPECT_EQ(0, rd(f, JAL_REG_DOORBELL(2)));
	EXPECT_EQ(logs, atomic_load(&f->logs));
	wr(f, JAL_REG_STEP_LIMIT_LO, (uint32_t)JAL_STEP_LIMIT_DEFAULT);
	wr(f, JAL_REG_STEP_LIMIT_HI, (uint32_t)(JAL_STEP_LIMIT_DEFAULT >> 32));
	expect_power_on(_metadata, f);
}

TEST_F(regs, writes_latch_on_high_half)
{
	struct fake *f = self->f;

	wr(f, JAL_REG_STEP_LIMIT_LO, 0x11223344);
	EXPECT_EQ((uint32_t)JAL_STEP_LIMIT_DEFAULT, rd(f, JAL_REG_STEP_LIMIT_LO));
	wr(f, JAL_REG_STEP_LIMIT_HI, 0x55);
	EXPECT_EQ(0x11223344, rd(f, JAL_REG_STEP_LIMIT_LO));
	EXPECT_EQ(0x55, rd(f, JAL_REG_STEP_LIMIT_HI));

	wr(f, JAL_REG_CTX_TABLE_LO, 0xabcd0000);
	EXPECT_EQ(0, rd(f, JAL_REG_CTX_TABLE_LO));
	wr(f, JAL_REG_CTX_TABLE_HI, 0x12);
	EXPECT_EQ(0xabcd0000, rd(f, JAL_REG_CTX_TABLE_LO));
	EXPECT_EQ(0x12, rd(f, JAL_REG_CTX_TABLE_HI));

	wr(f, JAL_REG_Q(2, JAL_Q_RING_LO), 0x1000);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(2, JAL_Q_RING_LO)));
	wr(f, JAL_REG_Q(2, JAL_Q_RING_HI), 1);
	EXPECT_EQ(0x1000, rd(f, JAL_REG_Q(2, JAL_Q_RING_LO)));
	EXPECT_EQ(1, rd(f, JAL_REG_Q(2, JAL_Q_RING_HI)));

	wr(f, JAL_REG_Q(3, JAL_Q_COMPL_LO), 0x2040);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(3, JAL_Q_COMPL_LO)));
	wr(f, JAL_REG_Q(3, JAL_Q_COMPL_HI), 0);
	EXPECT_EQ(0x2040, rd(f, JAL_REG_Q(3, JAL_Q_COMPL_LO)));

	/* Simple registers. */
	wr(f, JAL_REG_Q(1, JAL_Q_RING_SIZE), 256);
	wr(f, JAL_REG_Q(1, JAL_Q_TAIL), 9);
	wr(f, JAL_REG_Q(1, JAL_Q_PRIORITY), 3);
	EXPECT_EQ(256, rd(f, JAL_REG_Q(1, JAL_Q_RING_SIZE)));
	EXPECT_EQ(9, rd(f, JAL_REG_Q(1, JAL_Q_TAIL)));
	EXPECT_EQ(3, rd(f, JAL_REG_Q(1, JAL_Q_PRIORITY)));
	wr(f, JAL_REG_DOORBELL(1), 17);
	EXPECT_EQ(17, rd(f, JAL_REG_Q(1, JAL_Q_TAIL)));
	/* Out-of-range priorities are refused. */
	wr(f, JAL_REG_Q(1, JAL_Q_PRIORITY), 4);
	EXPECT_EQ(3, rd(f, JAL_REG_Q(1, JAL_Q_PRIORITY)));
	/* Undefined control bits are dropped. */
	wr(f, JAL_REG_DEV_CTRL, 0xfffffffc | JAL_DEV_CTRL_ENABLE);
	EXPECT_EQ(JAL_DEV_CTRL_ENABLE, rd(f, JAL_REG_DEV_CTRL));
	wr(f, JAL_REG_IRQ_MASK, 0xffffffff);
	EXPECT_EQ(JAL_IRQ_ERROR | 0xf, rd(f, JAL_REG_IRQ_MASK));
}

TEST_F(regs, timestamp_latches_high_half)
{
	struct fake *f = self->f;
	uint64_t t1, t2;

	atomic_store(&f->clock, 0x1fffffff0ull);
	t1 = rd(f, JAL_REG_TIMESTAMP_LO);
	t1 |= (uint64_t)rd(f, JAL_REG_TIMESTAMP_HI) << 32;
	t2 = rd(f, JAL_REG_TIMESTAMP_LO);
	t2 |= (uint64_t)rd(f, JAL_REG_TIMESTAMP_HI) << 32;
	EXPECT_EQ(0x1fffffff0ull + 1000, t1);
	EXPECT_EQ(0x1fffffff0ull + 2000, t2);
	/* HI alone does not advance: it is the latched half. */
	EXPECT_EQ(2, rd(f, JAL_REG_TIMESTAMP_HI));
	EXPECT_EQ(2, rd(f, JAL_REG_TIMESTAMP_HI));
}

TEST_F(regs, device_reset_restores_power_on_values)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	struct result r;

	fake_default(f);
	wr(f, JAL_REG_STEP_LIMIT_LO, 5);
	wr(f, JAL_REG_STEP_LIMIT_HI, 0);
	wr(f, JAL_REG_IRQ_MASK, 1);
	/* Leave a fault record and an interrupt pending. */
	cb_u32(&cb, 0xff);
	r = run_cb(f, CTX, &cb);
	EXPECT_EQ(JAL_STATUS_BAD_CMD, r.status);
	EXPECT_NE(0, rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_NE(0, rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_NE(0, rd(f, JAL_REG_Q(0, JAL_Q_HEAD)));

	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET | JAL_DEV_CTRL_ENABLE);
	expect_power_on(_metadata, f);
	/* jal_device_reset() is the same thing. */
	fake_default(f);
	jal_device_reset(f->dev);
	expect_power_on(_metadata, f);
}

TEST_F(regs, interrupt_status_mask_and_level)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };

	fake_default(f);
	cb_nop(&cb);
	host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);

	/* Masked: status is set, no vector, no INTx level. */
	wr(f, JAL_REG_IRQ_MASK, JAL_IRQ_QUEUE(0));
	submit(f, 0, CTX, CMDBUF_VA, cb.len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(JAL_IRQ_QUEUE(0), rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(0, atomic_load(&f->irqs[0]));
	EXPECT_FALSE(jal_irq_asserted(f->dev));

	/* Unmasking a pending bit signals its vector. */
	wr(f, JAL_REG_IRQ_MASK, 0);
	EXPECT_EQ(1, atomic_load(&f->irqs[0]));
	EXPECT_TRUE(jal_irq_asserted(f->dev));

	/* Every event signals, even while the status bit is still set. */
	submit(f, 0, CTX, CMDBUF_VA, cb.len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	EXPECT_EQ(2, wait_irqs(f, 0, 2));

	/* Write 1 to clear; other bits stay. */
	wr(f, JAL_REG_IRQ_STATUS, JAL_IRQ_QUEUE(1));
	EXPECT_EQ(JAL_IRQ_QUEUE(0), rd(f, JAL_REG_IRQ_STATUS));
	wr(f, JAL_REG_IRQ_STATUS, JAL_IRQ_QUEUE(0));
	EXPECT_EQ(0, rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_FALSE(jal_irq_asserted(f->dev));
	EXPECT_EQ(0, atomic_load(&f->irqs[JAL_MSIX_VEC_ERROR]));
}

TEST(create_destroy_many)
{
	unsigned int i;

	for (i = 0; i < 20; i++) {
		struct fake *f = fake_new(16 * MiB);

		fake_default(f);
		fake_free(f);
	}
}

/*
 * Telemetry: BUSY_NS counts a running job's time, the clock is fixed, and
 * temperature and power read their idle values after an idle sample and
 * their full values after a sample in which the chip ran all along. The
 * fake platform's clock only moves when read or when the test moves it,
 * so the samples are exact.
 */
TEST_F(regs, telemetry_follows_the_work)
{
	struct fake *f = self->f;
	struct jal_insn code[1] = { i_jump(0) };
	struct cmdbuf cb = { 0 };
	uint64_t busy0, busy1;
	uint32_t temp, power;

	fake_default(f);
	EXPECT_EQ(JAL_CLOCK_MHZ, rd(f, JAL_REG_CLOCK_MHZ));
	atomic_fetch_add(&f->clock, 2 * JAL_TELEMETRY_SAMPLE_NS);
	EXPECT_EQ(JAL_TEMP_IDLE_MC, rd(f, JAL_REG_TEMP_MC));
	/* Within the sample: the same value, whatever the chip does. */
	EXPECT_EQ(JAL_POWER_IDLE_MW, rd(f, JAL_REG_POWER_MW));

	/* A kernel that never ends, the watchdog off. */
	wr(f, JAL_REG_STEP_LIMIT_LO, 0);
	wr(f, JAL_REG_STEP_LIMIT_HI, 0);
	host_write(f, CTX, CODE_VA, code, sizeof(code));
	cb_dispatch(&cb, CODE_VA, sizeof(code), ARGS_VA, 0);
	host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);
	submit(f, 0, CTX, CMDBUF_VA, cb.len, 0);
	ASSERT_TRUE(wait_busy(f, 5000));

	busy0 = rd(f, JAL_REG_BUSY_NS_LO);
	busy0 |= (uint64_t)rd(f, JAL_REG_BUSY_NS_HI) << 32;
	atomic_fetch_add(&f->clock, 2 * JAL_TELEMETRY_SAMPLE_NS);
	busy1 = rd(f, JAL_REG_BUSY_NS_LO);
	busy1 |= (uint64_t)rd(f, JAL_REG_BUSY_NS_HI) << 32;
	EXPECT_LE(busy0 + 2 * JAL_TELEMETRY_SAMPLE_NS, busy1);
	/* Busy all but the few reads before the job started. */
	temp = rd(f, JAL_REG_TEMP_MC);
	power = rd(f, JAL_REG_POWER_MW);
	EXPECT_LE(JAL_TEMP_IDLE_MC + JAL_TEMP_SPAN_MC / 100 * 99, temp);
	EXPECT_GE(JAL_TEMP_IDLE_MC + JAL_TEMP_SPAN_MC, temp);
	EXPECT_LE(JAL_POWER_IDLE_MW + JAL_POWER_SPAN_MW / 100 * 99, power);
	EXPECT_GE(JAL_POWER_IDLE_MW + JAL_POWER_SPAN_MW, power);

	wr(f, JAL_REG_Q(0, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	EXPECT_FALSE(rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_BUSY);
}

TEST_HARNESS_MAIN
