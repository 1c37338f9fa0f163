// SPDX-License-Identifier: MIT
/*
 * Fault injection (JAL_CAP_FAULT_INJECT, JAL_REG_INJECT_*): the countdown
 * picks exactly the right descriptor for every kind, queue, AFTER and
 * PERIOD; each kind's effect (hang, dropped or duplicated interrupt, bad
 * completion record, fatal error); the resets; and a chip built without
 * the property, whose registers are inert.
 *
 * Nothing waits with a sleep: the chip decides a fault under its lock
 * together with the state a test then reads (HEAD, FIRED, IRQ_STATUS), so
 * polling that state until it is reached is enough. Where a test checks
 * that something does *not* happen it also sleeps briefly, which can only
 * make a broken model fail, never a correct one.
 */
#include <unistd.h>

#include "kselftest_harness.h"
#include "jal_test.h"

#define SKEW		(1ull << 40)	/* the model's bogus-seqno offset */
#define ANY		JAL_INJECT_ANY_QUEUE
#define NDESC		16u

static struct fake *inject_fake(bool on)
{
	struct jal_device_config cfg;
	struct fake *f;

	fake_test_config(&cfg);
	cfg.fault_injection = on;
	f = fake_new_cfg(512 * MiB, &cfg);
	fake_default(f);
	return f;
}

static uint32_t nop_cmdbuf(struct fake *f)
{
	struct cmdbuf cb = { 0 };

	cb_nop(&cb);
	host_write(f, CTX, CMDBUF_VA, cb.buf, cb.len);
	return cb.len;
}

/* QUEUE, AFTER and PERIOD first: the KIND write starts the countdown. */
static void arm(struct fake *f, uint32_t kind, uint32_t queue, uint32_t after,
		uint32_t period)
{
	wr(f, JAL_REG_INJECT_QUEUE, queue);
	wr(f, JAL_REG_INJECT_AFTER, after);
	wr(f, JAL_REG_INJECT_PERIOD, period);
	wr(f, JAL_REG_INJECT_KIND, kind);
}

/*
 * Bounded polling like wait_queue(): FIRED is bumped under the lock in
 * the same step that hangs or stops the chip, so once it reads @n the
 * fault is in place.
 */
static bool wait_fired(struct fake *f, uint32_t n)
{
	uint64_t end = now_ms() + 5000;

	while (rd(f, JAL_REG_INJECT_FIRED) < n) {
		if (now_ms() > end)
			return false;
		usleep(20);
	}
	return rd(f, JAL_REG_INJECT_FIRED) == n;
}

/* After a device reset: program everything again, as a driver would. */
static uint32_t reprogram(struct fake *f)
{
	memset(f->q, 0, sizeof(f->q));
	fake_default(f);
	return nop_cmdbuf(f);
}

static uint32_t device_reset(struct fake *f)
{
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
	return reprogram(f);
}

/* ---- The chip built without the property. ---- */

TEST(property_off_registers_are_inert)
{
	struct fake *f = inject_fake(false);
	uint32_t len = nop_cmdbuf(f), off, logs;

	EXPECT_EQ(0, rd(f, JAL_REG_CAPS) & JAL_CAP_FAULT_INJECT);
	logs = atomic_load(&f->logs);
	for (off = JAL_REG_INJECT_KIND; off <= JAL_REG_INJECT_FIRED; off += 4) {
		wr(f, off, 1);
		EXPECT_EQ(0, rd(f, off));
	}
	/* Like any undefined register: every access is a guest error. */
	EXPECT_EQ(logs + 10, atomic_load(&f->logs));
	/* KIND = HANG was ignored: jobs run. */
	submit(f, 1, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_queue(f, 1, 5000));
	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, 1, 0)->status);
	EXPECT_EQ(1, compl_rec(f, 1)->seqno);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(1, wait_irqs(f, 1, 1));
	fake_free(f);
}

/* ---- Registers. ---- */

FIXTURE(inj) {
	struct fake *f;
	uint32_t len;
};

FIXTURE_SETUP(inj)
{
	self->f = inject_fake(true);
	self->len = nop_cmdbuf(self->f);
}

FIXTURE_TEARDOWN(inj)
{
	fake_free(self->f);
}

TEST_F(inj, registers)
{
	struct fake *f = self->f;
	uint32_t logs;

	EXPECT_EQ(JAL_CAP_FAULT_INJECT, rd(f, JAL_REG_CAPS) & JAL_CAP_FAULT_INJECT);
	EXPECT_EQ(JAL_INJECT_OFF, rd(f, JAL_REG_INJECT_KIND));
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_QUEUE));
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_AFTER));
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_PERIOD));
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_FIRED));
	logs = atomic_load(&f->logs);
	arm(f, JAL_INJECT_DUP_IRQ, 3, 0xfffffffe, 7);
	EXPECT_EQ(logs, atomic_load(&f->logs));
	EXPECT_EQ(JAL_INJECT_DUP_IRQ, rd(f, JAL_REG_INJECT_KIND));
	EXPECT_EQ(3, rd(f, JAL_REG_INJECT_QUEUE));
	EXPECT_EQ(0xfffffffe, rd(f, JAL_REG_INJECT_AFTER));
	EXPECT_EQ(7, rd(f, JAL_REG_INJECT_PERIOD));
	wr(f, JAL_REG_INJECT_QUEUE, ANY);
	EXPECT_EQ(ANY, rd(f, JAL_REG_INJECT_QUEUE));

	/* Bad values are logged: a bad queue is ignored, a bad kind is OFF. */
	wr(f, JAL_REG_INJECT_QUEUE, JAL_NUM_QUEUES);
	EXPECT_EQ(ANY, rd(f, JAL_REG_INJECT_QUEUE));
	EXPECT_EQ(logs + 1, atomic_load(&f->logs));
	wr(f, JAL_REG_INJECT_KIND, JAL_INJECT_COUNT);
	EXPECT_EQ(JAL_INJECT_OFF, rd(f, JAL_REG_INJECT_KIND));
	EXPECT_EQ(logs + 2, atomic_load(&f->logs));
	wr(f, JAL_REG_INJECT_KIND, 0xffffffff);
	EXPECT_EQ(JAL_INJECT_OFF, rd(f, JAL_REG_INJECT_KIND));
	/* FIRED is read-only. */
	wr(f, JAL_REG_INJECT_FIRED, 5);
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_FIRED));
	EXPECT_EQ(logs + 4, atomic_load(&f->logs));
	/* Neighbours stay undefined. */
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_FIRED + 4));
	EXPECT_EQ(logs + 5, atomic_load(&f->logs));

	/* The values survive both resets. */
	arm(f, JAL_INJECT_BAD_COMPL, 2, 9, 4);
	wr(f, JAL_REG_Q(2, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
	jal_device_reset(f->dev);
	EXPECT_EQ(JAL_INJECT_BAD_COMPL, rd(f, JAL_REG_INJECT_KIND));
	EXPECT_EQ(2, rd(f, JAL_REG_INJECT_QUEUE));
	EXPECT_EQ(9, rd(f, JAL_REG_INJECT_AFTER));
	EXPECT_EQ(4, rd(f, JAL_REG_INJECT_PERIOD));
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
}

/* Submit one descriptor on @q and wait for it; returns its seqno. */
static uint64_t run_one(struct __test_metadata *_metadata, struct fake *f,
			unsigned int q, uint32_t len)
{
	uint32_t idx = submit(f, q, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);

	EXPECT_TRUE(wait_queue(f, q, 5000));
	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, q, idx)->status);
	return f->seqno;
}

TEST_F(inj, kind_write_restarts_the_countdown_and_clears_fired)
{
	struct fake *f = self->f;
	uint64_t seq;

	arm(f, JAL_INJECT_BAD_COMPL, 0, 1, 0);
	seq = run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(seq, compl_rec(f, 0)->seqno);
	/* Restart: one more good descriptor before the fault. */
	wr(f, JAL_REG_INJECT_KIND, JAL_INJECT_BAD_COMPL);
	seq = run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(seq, compl_rec(f, 0)->seqno);
	/* AFTER is read when KIND is written, not while counting down. */
	wr(f, JAL_REG_INJECT_AFTER, 5);
	seq = run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(seq + SKEW, compl_rec(f, 0)->seqno);
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));
	EXPECT_EQ(5, rd(f, JAL_REG_INJECT_AFTER));
	/* PERIOD 0: once. KIND keeps its value. */
	seq = run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(seq, compl_rec(f, 0)->seqno);
	EXPECT_EQ(JAL_INJECT_BAD_COMPL, rd(f, JAL_REG_INJECT_KIND));
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));
	/* Writing KIND clears FIRED; now AFTER = 5. */
	wr(f, JAL_REG_INJECT_KIND, JAL_INJECT_BAD_COMPL);
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_FIRED));
	seq = run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(seq, compl_rec(f, 0)->seqno);
	/* OFF stops it. */
	wr(f, JAL_REG_INJECT_KIND, JAL_INJECT_OFF);
	seq = run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(seq, compl_rec(f, 0)->seqno);
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_FIRED));
	/* An unknown kind is OFF too, and also clears FIRED. */
	arm(f, JAL_INJECT_BAD_COMPL, 0, 0, 0);
	run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));
	wr(f, JAL_REG_INJECT_KIND, 77);
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_FIRED));
	seq = run_one(_metadata, f, 0, self->len);
	EXPECT_EQ(seq, compl_rec(f, 0)->seqno);
	EXPECT_EQ(0, rd(f, JAL_REG_INJECT_FIRED));
}

/* ---- Which descriptor is hit: every kind, several programmings. ---- */

/*
 * Descriptor i goes to queue i % 4. @hits has bit i set for each
 * descriptor that must get the fault (worked out by hand from the spec).
 */
struct pattern {
	uint32_t queue, after, period, hits;
};

static const struct pattern patterns[] = {
	/* queue 1 is descriptors 1, 5, 9, 13: the first one. */
	{ 1, 0, 0, 1u << 1 },
	/* queue 2 is 2, 6, 10, 14: two spared, then once. */
	{ 2, 2, 0, 1u << 10 },
	/* queue 3 is 3, 7, 11, 15: one spared, then every other one. */
	{ 3, 1, 1, 1u << 7 | 1u << 15 },
	/* Any queue: three spared, then every third descriptor. */
	{ ANY, 3, 2, 1u << 3 | 1u << 6 | 1u << 9 | 1u << 12 | 1u << 15 },
	{ ANY, 0, 0, 1u << 0 },
	/* Queue 0 sees only four descriptors: the fault never comes. */
	{ 0, 4, 0, 0 },
};

FIXTURE(kinds) {
	struct fake *f;
};

FIXTURE_VARIANT(kinds) {
	uint32_t kind;
};

FIXTURE_VARIANT_ADD(kinds, hang) { .kind = JAL_INJECT_HANG };
FIXTURE_VARIANT_ADD(kinds, drop_irq) { .kind = JAL_INJECT_DROP_IRQ };
FIXTURE_VARIANT_ADD(kinds, dup_irq) { .kind = JAL_INJECT_DUP_IRQ };
FIXTURE_VARIANT_ADD(kinds, bad_compl) { .kind = JAL_INJECT_BAD_COMPL };
FIXTURE_VARIANT_ADD(kinds, fatal) { .kind = JAL_INJECT_FATAL };

FIXTURE_SETUP(kinds)
{
	self->f = inject_fake(true);
}

FIXTURE_TEARDOWN(kinds)
{
	fake_free(self->f);
}

static bool stops_the_chip(uint32_t kind)
{
	return kind == JAL_INJECT_HANG || kind == JAL_INJECT_FATAL;
}

/* Interrupts each queue has had, and FIRED, as the test expects them. */
struct expect {
	unsigned int irqs[JAL_NUM_QUEUES];
	unsigned int error_irqs;
	uint32_t fired;
};

/* A descriptor that finished: its write-back, record and interrupts. */
static void check_finished(struct __test_metadata *_metadata, struct fake *f,
			   uint32_t kind, unsigned int q, uint32_t idx,
			   bool hit, struct expect *e)
{
	uint64_t seq = desc_at(f, q, idx)->seqno;
	bool irq_bit = !(hit && kind == JAL_INJECT_DROP_IRQ);

	EXPECT_EQ(JAL_STATUS_OK, desc_at(f, q, idx)->status);
	EXPECT_EQ(seq + (hit && kind == JAL_INJECT_BAD_COMPL ? SKEW : 0),
		  compl_rec(f, q)->seqno);
	EXPECT_EQ((idx + 1) % RING_ENTRIES, compl_rec(f, q)->head);
	EXPECT_EQ((uint32_t)seq, rd(f, JAL_REG_Q(q, JAL_Q_COMPLETED)));
	EXPECT_EQ(irq_bit ? JAL_IRQ_QUEUE(q) : 0, rd(f, JAL_REG_IRQ_STATUS));
	wr(f, JAL_REG_IRQ_STATUS, 0xffffffff);
	if (irq_bit)
		e->irqs[q] += hit && kind == JAL_INJECT_DUP_IRQ ? 2 : 1;
	/*
	 * The signals of one descriptor are delivered before the next one
	 * starts, so this also catches extra signals of the previous one.
	 */
	EXPECT_EQ(e->irqs[q], wait_irqs(f, q, e->irqs[q]));
}

/* A descriptor that got HANG or FATAL: the chip stopped on it. */
static void check_stopped(struct __test_metadata *_metadata, struct fake *f,
			  uint32_t kind, unsigned int q, uint32_t idx,
			  struct expect *e)
{
	EXPECT_EQ(0xdeadbeef, desc_at(f, q, idx)->status);
	EXPECT_EQ(idx, rd(f, JAL_REG_Q(q, JAL_Q_HEAD)));
	if (kind == JAL_INJECT_HANG) {
		EXPECT_EQ(JAL_DEV_STATUS_READY | JAL_DEV_STATUS_BUSY,
			  rd(f, JAL_REG_DEV_STATUS));
		EXPECT_EQ(0, rd(f, JAL_REG_Q(q, JAL_Q_STATUS)));
		EXPECT_EQ(0, rd(f, JAL_REG_FAULT_STATUS));
		EXPECT_EQ(0, rd(f, JAL_REG_IRQ_STATUS));
	} else {
		EXPECT_EQ(JAL_DEV_STATUS_READY | JAL_DEV_STATUS_FATAL,
			  rd(f, JAL_REG_DEV_STATUS));
		EXPECT_EQ(JAL_FAULT_STATUS_VALID, rd(f, JAL_REG_FAULT_STATUS));
		EXPECT_EQ(JAL_STATUS_ABORTED, rd(f, JAL_REG_FAULT_REASON));
		EXPECT_EQ(q, rd(f, JAL_REG_FAULT_QUEUE));
		EXPECT_EQ(CTX, rd(f, JAL_REG_FAULT_CTX));
		EXPECT_EQ(JAL_IRQ_ERROR, rd(f, JAL_REG_IRQ_STATUS));
		e->error_irqs++;
		EXPECT_EQ(e->error_irqs,
			  wait_irqs(f, JAL_MSIX_VEC_ERROR, e->error_irqs));
	}
	EXPECT_EQ(e->irqs[q], atomic_load(&f->irqs[q]));
}

static void run_pattern(struct __test_metadata *_metadata, struct fake *f,
			uint32_t kind, const struct pattern *p, struct expect *e)
{
	uint32_t len = nop_cmdbuf(f), i;

	arm(f, kind, p->queue, p->after, p->period);
	e->fired = 0;
	for (i = 0; i < NDESC; i++) {
		unsigned int q = i % JAL_NUM_QUEUES;
		bool hit = p->hits & (1u << i);
		uint32_t idx = submit(f, q, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);

		e->fired += hit;
		if (hit && stops_the_chip(kind)) {
			ASSERT_TRUE(wait_fired(f, e->fired));
			check_stopped(_metadata, f, kind, q, idx, e);
			len = device_reset(f);
			continue;
		}
		ASSERT_TRUE(wait_queue(f, q, 5000));
		EXPECT_EQ(e->fired, rd(f, JAL_REG_INJECT_FIRED));
		check_finished(_metadata, f, kind, q, idx, hit, e);
		if (!__test_passed(_metadata)) {
			TH_LOG("queue %u after %u period %u: descriptor %u%s",
			       p->queue, p->after, p->period, i,
			       hit ? " (hit)" : "");
			return;
		}
	}
	EXPECT_EQ(e->fired, rd(f, JAL_REG_INJECT_FIRED));
}

TEST_F(kinds, hits_exactly_the_right_descriptors)
{
	struct fake *f = self->f;
	struct expect e = { 0 };
	unsigned int i, q;
	uint32_t idx;

	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		run_pattern(_metadata, f, variant->kind, &patterns[i], &e);
	/* A last job, whose signal comes after all the others. */
	wr(f, JAL_REG_INJECT_KIND, JAL_INJECT_OFF);
	idx = submit(f, 0, CTX, CMDBUF_VA, nop_cmdbuf(f), JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_queue(f, 0, 5000));
	check_finished(_metadata, f, variant->kind, 0, idx, false, &e);
	for (q = 0; q < JAL_NUM_QUEUES; q++)
		EXPECT_EQ(e.irqs[q], atomic_load(&f->irqs[q]));
	EXPECT_EQ(e.error_irqs, atomic_load(&f->irqs[JAL_MSIX_VEC_ERROR]));
}

/* ---- The effects in detail. ---- */

TEST_F(inj, drop_irq_keeps_the_completion)
{
	struct fake *f = self->f;
	uint64_t seq;

	arm(f, JAL_INJECT_DROP_IRQ, 2, 0, 0);
	seq = run_one(_metadata, f, 2, self->len);
	EXPECT_EQ(seq, compl_rec(f, 2)->seqno);
	EXPECT_EQ(1, compl_rec(f, 2)->head);
	EXPECT_EQ(0, rd(f, JAL_REG_IRQ_STATUS));
	/* The next one interrupts; the dropped one never comes. */
	run_one(_metadata, f, 2, self->len);
	EXPECT_EQ(JAL_IRQ_QUEUE(2), rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(1, wait_irqs(f, 2, 1));
	usleep(2000);
	EXPECT_EQ(1, atomic_load(&f->irqs[2]));
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));
}

TEST_F(inj, dup_irq_signals_twice)
{
	struct fake *f = self->f;

	arm(f, JAL_INJECT_DUP_IRQ, 3, 1, 0);
	run_one(_metadata, f, 3, self->len);
	EXPECT_EQ(1, wait_irqs(f, 3, 1));
	run_one(_metadata, f, 3, self->len);
	EXPECT_EQ(JAL_IRQ_QUEUE(3), rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(3, wait_irqs(f, 3, 3));
	usleep(2000);
	EXPECT_EQ(3, atomic_load(&f->irqs[3]));
	/* A masked event is only recorded; unmasking signals it once. */
	arm(f, JAL_INJECT_DUP_IRQ, 3, 0, 0);
	wr(f, JAL_REG_IRQ_MASK, JAL_IRQ_QUEUE(3));
	run_one(_metadata, f, 3, self->len);
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));
	wr(f, JAL_REG_IRQ_MASK, 0);
	EXPECT_EQ(4, wait_irqs(f, 3, 4));
	usleep(2000);
	EXPECT_EQ(4, atomic_load(&f->irqs[3]));
}

TEST_F(inj, bad_compl_keeps_the_descriptor_status)
{
	struct fake *f = self->f;
	struct cmdbuf cb = { 0 };
	uint32_t idx;

	/* A failing job: its real status is still written back. */
	cb_u32(&cb, JAL_CMD_HDR(0x77, 1));
	host_write(f, CTX, CMDBUF_VA + 4096, cb.buf, cb.len);
	arm(f, JAL_INJECT_BAD_COMPL, 1, 0, 0);
	f->seqno = 0xfffffff0ull;
	idx = submit(f, 1, CTX, CMDBUF_VA + 4096, cb.len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_queue(f, 1, 5000));
	EXPECT_EQ(JAL_STATUS_BAD_CMD, desc_at(f, 1, idx)->status);
	EXPECT_EQ(0xfffffff1ull + SKEW, compl_rec(f, 1)->seqno);
	EXPECT_EQ(idx + 1, compl_rec(f, 1)->head);
	EXPECT_EQ(0xfffffff1u, rd(f, JAL_REG_Q(1, JAL_Q_COMPLETED)));
	EXPECT_EQ(JAL_IRQ_QUEUE(1) | JAL_IRQ_ERROR, rd(f, JAL_REG_IRQ_STATUS));
	EXPECT_EQ(JAL_STATUS_BAD_CMD, rd(f, JAL_REG_FAULT_REASON));
	EXPECT_EQ(1, wait_irqs(f, 1, 1));
}

TEST_F(inj, fatal_stops_every_queue_until_a_device_reset)
{
	struct fake *f = self->f;
	uint32_t idx, len = self->len;

	arm(f, JAL_INJECT_FATAL, 1, 1, 1);
	run_one(_metadata, f, 1, len);
	wr(f, JAL_REG_IRQ_STATUS, 0xffffffff);
	idx = submit(f, 1, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	submit(f, 1, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	submit(f, 0, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_fired(f, 1));
	EXPECT_EQ(1, wait_irqs(f, JAL_MSIX_VEC_ERROR, 1));
	EXPECT_EQ(JAL_DEV_STATUS_READY | JAL_DEV_STATUS_FATAL,
		  rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(JAL_FAULT_STATUS_VALID, rd(f, JAL_REG_FAULT_STATUS));
	EXPECT_EQ(CTX, rd(f, JAL_REG_FAULT_CTX));
	EXPECT_EQ(1, rd(f, JAL_REG_FAULT_QUEUE));
	EXPECT_EQ(JAL_STATUS_ABORTED, rd(f, JAL_REG_FAULT_REASON));
	EXPECT_EQ(0, rd(f, JAL_REG_FAULT_ADDR_LO));
	EXPECT_EQ(1, rd(f, JAL_REG_FAULT_COUNT));
	EXPECT_EQ(JAL_IRQ_ERROR, rd(f, JAL_REG_IRQ_STATUS));
	/* Nothing could start: the queues with work read idle. */
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(1, JAL_Q_STATUS)));
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(0, JAL_Q_STATUS)));
	/* Neither a queue reset nor new work moves it. */
	wr(f, JAL_REG_Q(2, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	queue_setup(f, 2, RING_ENTRIES, 2);
	submit(f, 2, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_ENABLE);
	usleep(5000);
	EXPECT_EQ(1, rd(f, JAL_REG_Q(1, JAL_Q_HEAD)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(0, JAL_Q_HEAD)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(2, JAL_Q_HEAD)));
	EXPECT_EQ(0xdeadbeef, desc_at(f, 1, idx)->status);
	EXPECT_NE(0, rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_FATAL);
	EXPECT_EQ(1, atomic_load(&f->irqs[1]));
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));

	/* A device reset clears it; PERIOD 1: one good job, then again. */
	len = device_reset(f);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	run_one(_metadata, f, 1, len);
	run_one(_metadata, f, 0, len);	/* other queues do not count */
	submit(f, 1, CTX, CMDBUF_VA, len, 0);
	ASSERT_TRUE(wait_fired(f, 2));
	EXPECT_NE(0, rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_FATAL);
	jal_device_reset(f->dev);	/* the QEMU reset path */
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
}

TEST_F(inj, hang_survives_a_queue_reset_until_a_device_reset)
{
	struct fake *f = self->f;
	uint32_t idx, len = self->len;
	uint64_t t0;

	arm(f, JAL_INJECT_HANG, 2, 1, 0);
	run_one(_metadata, f, 2, len);
	idx = submit(f, 2, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	submit(f, 2, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_fired(f, 1));
	EXPECT_EQ(JAL_DEV_STATUS_READY | JAL_DEV_STATUS_BUSY,
		  rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(2, JAL_Q_STATUS)));
	/* No other queue runs meanwhile. */
	submit(f, 3, CTX, CMDBUF_VA, len, JAL_DESC_F_IRQ);
	usleep(5000);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(3, JAL_Q_HEAD)));
	EXPECT_EQ(1, rd(f, JAL_REG_Q(2, JAL_Q_HEAD)));
	EXPECT_EQ(0xdeadbeef, desc_at(f, 2, idx)->status);

	/* A queue reset returns at once and leaves the job hung. */
	t0 = now_ms();
	wr(f, JAL_REG_Q(2, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	EXPECT_LT(now_ms() - t0, 1000);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(2, JAL_Q_HEAD)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(2, JAL_Q_CTRL)));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(2, JAL_Q_STATUS)));	/* not idle */
	EXPECT_EQ(JAL_DEV_STATUS_READY | JAL_DEV_STATUS_BUSY,
		  rd(f, JAL_REG_DEV_STATUS));
	/* So does a reset of another queue. */
	wr(f, JAL_REG_Q(0, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	EXPECT_NE(0, rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_BUSY);
	usleep(5000);
	EXPECT_EQ(0xdeadbeef, desc_at(f, 2, idx)->status);
	EXPECT_EQ(0, rd(f, JAL_REG_Q(3, JAL_Q_HEAD)));

	/* A device reset ends it, without write-back. */
	t0 = now_ms();
	wr(f, JAL_REG_DEV_CTRL, JAL_DEV_CTRL_RESET);
	EXPECT_LT(now_ms() - t0, 1000);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
	EXPECT_EQ(JAL_Q_STATUS_IDLE, rd(f, JAL_REG_Q(2, JAL_Q_STATUS)));
	usleep(5000);
	EXPECT_EQ(0xdeadbeef, desc_at(f, 2, idx)->status);
	EXPECT_EQ(1, atomic_load(&f->irqs[2]));
	EXPECT_EQ(0, atomic_load(&f->irqs[3]));
	EXPECT_EQ(JAL_INJECT_HANG, rd(f, JAL_REG_INJECT_KIND));
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));

	/* Reprogrammed, every queue works again (PERIOD 0: no more). */
	len = reprogram(f);
	run_one(_metadata, f, 2, len);
	run_one(_metadata, f, 2, len);
	run_one(_metadata, f, 3, len);
	EXPECT_EQ(1, rd(f, JAL_REG_INJECT_FIRED));
}

TEST_F(inj, hang_on_any_queue_then_qemu_reset)
{
	struct fake *f = self->f;
	uint64_t t0;

	arm(f, JAL_INJECT_HANG, ANY, 2, 0);
	run_one(_metadata, f, 0, self->len);
	run_one(_metadata, f, 3, self->len);
	submit(f, 1, CTX, CMDBUF_VA, self->len, 0);
	ASSERT_TRUE(wait_fired(f, 1));
	EXPECT_EQ(0, rd(f, JAL_REG_Q(1, JAL_Q_STATUS)));
	EXPECT_NE(0, rd(f, JAL_REG_DEV_STATUS) & JAL_DEV_STATUS_BUSY);
	t0 = now_ms();
	jal_device_reset(f->dev);
	EXPECT_LT(now_ms() - t0, 1000);
	EXPECT_EQ(JAL_DEV_STATUS_READY, rd(f, JAL_REG_DEV_STATUS));
}

TEST(destroy_while_hung)
{
	struct fake *f = inject_fake(true);
	uint64_t t0;

	arm(f, JAL_INJECT_HANG, 0, 0, 0);
	submit(f, 0, CTX, CMDBUF_VA, nop_cmdbuf(f), JAL_DESC_F_IRQ);
	ASSERT_TRUE(wait_fired(f, 1));
	wr(f, JAL_REG_Q(0, JAL_Q_CTRL), JAL_Q_CTRL_RESET);
	t0 = now_ms();
	jal_device_destroy(f->dev);
	f->dev = NULL;
	EXPECT_LT(now_ms() - t0, 1000);
	fake_free(f);
}

TEST_HARNESS_MAIN
