// SPDX-License-Identifier: MIT
/*
 * libjalrt submission and fences on the fake driver: wait and poll, job
 * error decoding from CTX_STATUS (failed job, later jobs canceled, earlier
 * jobs fine), banned contexts, wait fences, object lifetimes, the
 * synchronous helpers and concurrent use.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "kselftest_harness.h"

#include "fake_backend.h"

FIXTURE(sub) {
	struct fake_dev *fake;
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_cmdbuf *cb;
	struct jalrt_buffer *buf;
	uint32_t ctx_id;
};

FIXTURE_SETUP(sub)
{
	struct jalrt_context_status st;

	ASSERT_EQ(0, fake_open(&self->fake, &self->dev));
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_HIGH, &self->ctx));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &self->cb));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 4096, 0, &self->buf));
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(self->cb, self->buf, 0, 42));
	ASSERT_EQ(0, jalrt_context_status(self->ctx, &st));
	EXPECT_EQ(JALRT_PRIORITY_HIGH, st.priority);
	EXPECT_EQ(DRM_JALAPENO_PRIORITY_HIGH, fake_ctx(self->fake, 1)->priority);
	self->ctx_id = 1;	/* the fake's first context */
}

FIXTURE_TEARDOWN(sub)
{
	jalrt_buffer_free(self->buf);
	jalrt_cmdbuf_destroy(self->cb);
	jalrt_context_destroy(self->ctx);
	jalrt_device_close(self->dev);
	EXPECT_EQ(1, self->fake->closes);
	EXPECT_EQ(0, fake_live_bos(self->fake));
	fake_free(self->fake);
}

TEST_F(sub, fence_success)
{
	struct jalrt_job_error err;
	struct jalrt_fence *f1, *f2;

	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &f1));
	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &f2));
	EXPECT_EQ(1, jalrt_fence_seqno(f1));
	EXPECT_EQ(2, jalrt_fence_seqno(f2));
	EXPECT_EQ(0, jalrt_fence_wait(f1, JALRT_TIMEOUT_INFINITE));
	EXPECT_EQ(0, jalrt_fence_status(f2));
	EXPECT_EQ(0, jalrt_fence_wait(f2, 0));
	memset(&err, 0xff, sizeof(err));
	EXPECT_EQ(0, jalrt_fence_error(f2, &err));
	EXPECT_EQ(0, err.error);
	EXPECT_EQ(0, err.failed_seqno);
	EXPECT_EQ(42, *(uint64_t *)jalrt_buffer_host(self->buf));
	jalrt_fence_destroy(f1);
	jalrt_fence_destroy(f2);
	EXPECT_EQ(2, self->fake->syncobj_destroys);
}

TEST_F(sub, fence_timeout_and_poll)
{
	struct jalrt_job_error err;
	struct jalrt_fence *f;

	self->fake->signal_on_submit = false;
	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &f));
	EXPECT_EQ(-ETIME, jalrt_fence_wait(f, 1000));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "still runs"))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-EINPROGRESS, jalrt_fence_status(f));
	EXPECT_EQ(-EINPROGRESS, jalrt_fence_error(f, &err));
	fake_signal(self->fake, fake_last_submit(self->fake, 0)->req.out_syncobj);
	EXPECT_EQ(0, jalrt_fence_status(f));
	EXPECT_EQ(0, jalrt_fence_wait(f, 0));
	jalrt_fence_destroy(f);
}

TEST_F(sub, failed_job_and_canceled_followers)
{
	struct jalrt_fence *f[3], *late = (void *)1;
	struct jalrt_context_status st;
	struct jalrt_job_error err;
	unsigned int i;

	self->fake->signal_on_submit = false;
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &f[i]));
	/* job 2 faults; the driver bans the context and all three end */
	fake_fail_job(self->fake, self->ctx_id, 2, -EFAULT, JAL_STATUS_MMU_UNMAPPED,
		      0xdead000, 0x18);
	for (i = 0; i < 3; i++)
		fake_signal(self->fake, fake_last_submit(self->fake, 2 - i)->req.out_syncobj);

	EXPECT_EQ(0, jalrt_fence_wait(f[0], JALRT_TIMEOUT_INFINITE));

	EXPECT_EQ(-EFAULT, jalrt_fence_wait(f[1], JALRT_TIMEOUT_INFINITE));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "MMU_UNMAPPED"))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "0xdead000"));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "offset 0x18"));
	ASSERT_EQ(0, jalrt_fence_error(f[1], &err));
	EXPECT_EQ(-EFAULT, err.error);
	EXPECT_EQ(2, err.failed_seqno);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, err.hw_status);
	EXPECT_EQ(0xdead000, err.fault_addr);
	EXPECT_EQ(0x18, err.error_offset);
	/* cached: same answer again, also from the poll */
	EXPECT_EQ(-EFAULT, jalrt_fence_status(f[1]));

	EXPECT_EQ(-ECANCELED, jalrt_fence_wait(f[2], JALRT_TIMEOUT_INFINITE));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "job 2"))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_fence_error(f[2], &err));
	EXPECT_EQ(-ECANCELED, err.error);
	EXPECT_EQ(2, err.failed_seqno);

	ASSERT_EQ(0, jalrt_context_status(self->ctx, &st));
	EXPECT_TRUE(st.banned);
	EXPECT_EQ(3, st.submitted);
	EXPECT_EQ(2, st.error_seqno);
	EXPECT_EQ(-EFAULT, st.error);

	/* submitting to a banned context says why */
	EXPECT_EQ(-ECANCELED, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &late));
	EXPECT_EQ(NULL, late);
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "banned"));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "MMU_UNMAPPED"));
	/* the syncobj made for the refused job was released */
	EXPECT_EQ(1, self->fake->syncobj_destroys);

	for (i = 0; i < 3; i++)
		jalrt_fence_destroy(f[i]);
}

TEST_F(sub, device_detected_fault)
{
	struct jal_cmd_write_value wv = { 0 };
	struct jalrt_job_error err;
	struct jalrt_fence *f;

	/* a raw command aimed past every buffer: the fake's MMU faults */
	wv.hdr = JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, 6);
	wv.dst_va = 0x7000000000ull;
	ASSERT_EQ(0, jalrt_cmdbuf_emit_raw(self->cb, &wv, sizeof(wv)));
	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &f));
	EXPECT_EQ(-EFAULT, jalrt_fence_wait(f, JALRT_TIMEOUT_INFINITE));
	ASSERT_EQ(0, jalrt_fence_error(f, &err));
	EXPECT_EQ(0x7000000000ull, err.fault_addr);
	EXPECT_EQ(24, err.error_offset);	/* the second command */
	jalrt_fence_destroy(f);
}

TEST_F(sub, wait_fences_become_in_syncobjs)
{
	struct jalrt_fence *a, *b, *c;
	struct jalrt_fence *deps[2];
	struct fake_submit *s;

	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &a));
	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &b));
	deps[0] = a;
	deps[1] = b;
	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, deps, 2, &c));
	s = fake_last_submit(self->fake, 0);
	EXPECT_EQ(2, s->req.in_syncobj_count);
	EXPECT_EQ(fake_last_submit(self->fake, 2)->req.out_syncobj, s->in_syncobjs[0]);
	EXPECT_EQ(fake_last_submit(self->fake, 1)->req.out_syncobj, s->in_syncobjs[1]);
	EXPECT_NE(s->in_syncobjs[0], s->req.out_syncobj);
	/* no fence wanted: no syncobj */
	ASSERT_EQ(0, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, NULL));
	EXPECT_EQ(0, fake_last_submit(self->fake, 0)->req.out_syncobj);
	deps[1] = NULL;
	EXPECT_EQ(-EINVAL, jalrt_submit(self->ctx, self->cb, NULL, 0, deps, 2, NULL));
	EXPECT_EQ(-EINVAL, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 2, NULL));
	jalrt_fence_destroy(a);
	jalrt_fence_destroy(b);
	jalrt_fence_destroy(c);
}

TEST_F(sub, fence_keeps_context_alive)
{
	struct jalrt_context *ctx2;
	struct jalrt_fence *f;

	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_LOW, &ctx2));
	ASSERT_EQ(0, jalrt_submit(ctx2, self->cb, NULL, 0, NULL, 0, &f));
	jalrt_context_destroy(ctx2);
	EXPECT_EQ(0, self->fake->ctx_destroys);
	EXPECT_EQ(0, jalrt_fence_wait(f, JALRT_TIMEOUT_INFINITE));
	jalrt_fence_destroy(f);
	EXPECT_EQ(1, self->fake->ctx_destroys);
}

TEST(objects_keep_device_open)
{
	struct jalrt_device_stats stats;
	struct jalrt_context *ctx;
	struct jalrt_buffer *buf;
	struct jalrt_device *dev;
	struct fake_dev *fake;

	ASSERT_EQ(0, fake_open(&fake, &dev));
	ASSERT_EQ(0, jalrt_buffer_alloc(dev, 5000, 0, &buf));
	ASSERT_EQ(0, jalrt_context_create(dev, JALRT_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jalrt_device_stats(dev, &stats));
	EXPECT_EQ(1, stats.buffers);
	EXPECT_EQ(8192, stats.buffer_bytes);
	EXPECT_EQ(1, stats.contexts);
	jalrt_device_close(dev);
	EXPECT_EQ(0, fake->closes);
	/* still fully usable */
	EXPECT_EQ(0, jalrt_fill_sync(ctx, buf, 0, 5000, 0x01020304, JALRT_TIMEOUT_INFINITE))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(0x01020304u, ((uint32_t *)jalrt_buffer_host(buf))[1249]);
	jalrt_buffer_free(buf);
	EXPECT_EQ(0, fake->closes);
	jalrt_context_destroy(ctx);
	EXPECT_EQ(1, fake->closes);
	fake_free(fake);
}

TEST_F(sub, submit_failures_leave_nothing_behind)
{
	struct jalrt_buffer *b = (void *)1;
	struct jalrt_fence *f = (void *)1;
	unsigned int before = self->fake->num_submits;

	self->fake->fail_syncobj_create = ENOMEM;
	EXPECT_EQ(-ENOMEM, jalrt_submit(self->ctx, self->cb, NULL, 0, NULL, 0, &f));
	EXPECT_EQ(NULL, f);
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "syncobj"));
	EXPECT_EQ(before, self->fake->num_submits);

	self->fake->fail_bo_create = ENOSPC;
	EXPECT_EQ(-ENOSPC, jalrt_buffer_alloc(self->dev, 64, 0, &b));
	EXPECT_EQ(NULL, b);
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "BO_CREATE"));
}

TEST_F(sub, sync_helpers)
{
	uint64_t args[2] = { 5, 6 };
	struct jalrt_kernel_builder *kb;
	struct jalrt_buffer *src;
	struct jalrt_kernel *k;
	struct fake_submit *s;
	uint8_t *p;

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 100, 0, &src));
	p = jalrt_buffer_host(src);
	for (int i = 0; i < 100; i++)
		p[i] = (uint8_t)i;
	ASSERT_EQ(0, jalrt_copy_sync(self->ctx, self->buf, 1, src, 10, 90, JALRT_TIMEOUT_INFINITE));
	p = jalrt_buffer_host(self->buf);
	EXPECT_EQ(10, p[1]);
	EXPECT_EQ(99, p[90]);
	EXPECT_EQ(0, p[91]);
	EXPECT_EQ(-ERANGE, jalrt_copy_sync(self->ctx, self->buf, 0, src, 10, 91, 0));
	EXPECT_EQ(-EINVAL, jalrt_copy_sync(NULL, self->buf, 0, src, 0, 1, 0));

	ASSERT_EQ(0, jalrt_fill_sync(self->ctx, self->buf, 2, 3, 0xaabbccdd, 0));
	EXPECT_EQ(0xdd, p[2]);
	EXPECT_EQ(0xcc, p[3]);
	EXPECT_EQ(0xbb, p[4]);
	EXPECT_EQ(14, p[5]);	/* from the copy: src[14] */

	ASSERT_EQ(0, jalrt_kb_create(2, &kb));
	ASSERT_EQ(0, jalrt_kb_halt(kb));
	ASSERT_EQ(0, jalrt_kb_finalize(kb, self->dev, &k));
	ASSERT_EQ(0, jalrt_dispatch_sync(self->ctx, k, args, 2, &src, 1, 0));
	s = fake_last_submit(self->fake, 0);
	EXPECT_EQ(1, s->dispatches);
	EXPECT_EQ(2, s->dispatch_nargs);
	EXPECT_EQ(5, s->dispatch_args[0]);
	EXPECT_EQ(6, s->dispatch_args[1]);
	EXPECT_EQ(-EINVAL, jalrt_dispatch_sync(self->ctx, k, args, 1, NULL, 0, 0));
	jalrt_kernel_destroy(k);
	jalrt_kb_destroy(kb);
	jalrt_buffer_free(src);
}

struct worker {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	int index;
	int failures;
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	int i;

	for (i = 0; i < 50; i++) {
		uint32_t pattern = (uint32_t)(w->index << 16 | i);
		struct jalrt_buffer *b;
		uint32_t v[16];

		if (jalrt_buffer_alloc(w->dev, sizeof(v), 0, &b)) {
			w->failures++;
			continue;
		}
		if (jalrt_fill_sync(w->ctx, b, 0, sizeof(v), pattern, JALRT_TIMEOUT_INFINITE) ||
		    jalrt_buffer_download(b, 0, v, sizeof(v)) || v[0] != pattern ||
		    v[15] != pattern)
			w->failures++;
		jalrt_buffer_free(b);
	}
	return NULL;
}

TEST(threads_share_a_device)
{
	struct jalrt_device_stats stats;
	struct worker w[4];
	pthread_t t[4];
	struct jalrt_device *dev;
	struct fake_dev *fake;
	int i;

	ASSERT_EQ(0, fake_open(&fake, &dev));
	for (i = 0; i < 4; i++) {
		w[i].dev = dev;
		w[i].index = i;
		w[i].failures = 0;
		ASSERT_EQ(0, jalrt_context_create(dev, i % 4, &w[i].ctx));
	}
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker_main, &w[i]));
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].failures);
	}
	ASSERT_EQ(0, jalrt_device_stats(dev, &stats));
	EXPECT_EQ(200, stats.submits);
	EXPECT_EQ(0, stats.buffers);
	EXPECT_EQ(0, stats.buffer_bytes);
	EXPECT_EQ(4, stats.contexts);
	for (i = 0; i < 4; i++)
		jalrt_context_destroy(w[i].ctx);
	jalrt_device_close(dev);
	EXPECT_EQ(0, fake_live_bos(fake));
	EXPECT_EQ(1, fake->closes);
	fake_free(fake);
}

TEST_HARNESS_MAIN
