// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno basics: device discovery, QUERY, BO create/info/mmap, submit
 * and wait (syncobjs, BO_WAIT, CTX_STATUS seqnos), WRITE_VALUE and
 * TIMESTAMP.
 */
#include <limits.h>
#include <time.h>

#include "jal_harness.h"

JAL_FIXTURE(basic);

static int read_sysfs_hex(const char *bdf, const char *attr, unsigned long *val)
{
	char path[PATH_MAX], buf[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	*val = strtoul(buf, NULL, 16);
	return 0;
}

/* The node found by driver name is the PCI function with our IDs. */
JAL_TEST(basic, device_found_by_name)
{
	char node[PATH_MAX], bdf[64];
	unsigned long vendor, device;

	ASSERT_EQ(0, jal_find_device(node, sizeof(node), bdf, sizeof(bdf)));
	TH_LOG("jalapeno at %s, PCI %s", node, bdf);
	ASSERT_NE(0, bdf[0]);
	ASSERT_EQ(0, read_sysfs_hex(bdf, "vendor", &vendor));
	ASSERT_EQ(0, read_sysfs_hex(bdf, "device", &device));
	ASSERT_EQ(JAL_PCI_VENDOR_ID, vendor);
	ASSERT_EQ(JAL_PCI_DEVICE_ID, device);
}

JAL_TEST(basic, query_device_info)
{
	const struct drm_jalapeno_device_info *i = &self->info;

	ASSERT_EQ(JAL_PCI_VENDOR_ID, i->vendor_id);
	ASSERT_EQ(JAL_PCI_DEVICE_ID, i->device_id);
	ASSERT_EQ(JAL_PCI_REVISION, i->revision);
	ASSERT_EQ(0, i->pad);
	ASSERT_EQ(0, i->pad2);
	ASSERT_EQ((JAL_VERSION_MAJOR << 16) | JAL_VERSION_MINOR, i->hw_version);
	ASSERT_EQ(JAL_CAP_DMA | JAL_CAP_COMPUTE_F32 | JAL_CAP_TIMESTAMP,
		  i->caps & (JAL_CAP_DMA | JAL_CAP_COMPUTE_F32 | JAL_CAP_TIMESTAMP));
	ASSERT_EQ(JAL_NUM_QUEUES, i->num_queues);
	ASSERT_EQ(JAL_NUM_CONTEXTS, i->num_contexts);
	ASSERT_EQ(JAL_VA_START, i->va_start);
	ASSERT_EQ(JAL_VA_END, i->va_end);
	ASSERT_EQ(JAL_PAGE_SIZE, i->page_size);
	ASSERT_GE(JAL_MAX_CMDBUF_SIZE, i->max_cmdbuf_size);
	ASSERT_LE(JAL_PAGE, i->max_cmdbuf_size);
	ASSERT_GE(JAL_MAX_CODE_SIZE, i->max_code_size);
	ASSERT_LE(64 * sizeof(struct jal_insn), i->max_code_size);
}

/* size 0 only reports the full size and writes nothing. */
JAL_TEST(basic, query_size_zero_returns_full_size)
{
	unsigned char buf[128];
	struct drm_jalapeno_query q = {
		.type = DRM_JALAPENO_QUERY_DEVICE_INFO,
		.size = 0,
		.data = (uintptr_t)buf,
	};
	unsigned int k;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	ASSERT_EQ(sizeof(struct drm_jalapeno_device_info), q.size);
	for (k = 0; k < sizeof(buf); k++)
		ASSERT_EQ(0xa5, buf[k]);

	/* data may be NULL when only asking for the size */
	q.size = 0;
	q.data = 0;
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	ASSERT_EQ(sizeof(struct drm_jalapeno_device_info), q.size);
}

/* A short buffer gets exactly the head of the struct, nothing beyond. */
JAL_TEST(basic, query_small_size_truncates)
{
	unsigned char buf[128];
	struct drm_jalapeno_query q = {
		.type = DRM_JALAPENO_QUERY_DEVICE_INFO,
		.data = (uintptr_t)buf,
	};
	const unsigned int sizes[] = { 1, 6, 8, 12, 20 };
	unsigned int s, k;

	for (s = 0; s < JAL_ARRAY_SIZE(sizes); s++) {
		memset(buf, 0xa5, sizeof(buf));
		q.size = sizes[s];
		ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
		ASSERT_EQ(sizes[s], q.size);
		ASSERT_EQ(0, memcmp(buf, &self->info, sizes[s]));
		for (k = sizes[s]; k < sizeof(buf); k++)
			ASSERT_EQ(0xa5, buf[k]);
	}
}

/* A larger buffer than the struct: the kernel writes and reports its size. */
JAL_TEST(basic, query_large_size_clamped)
{
	const size_t full = sizeof(struct drm_jalapeno_device_info);
	unsigned char buf[256];
	struct drm_jalapeno_query q = {
		.type = DRM_JALAPENO_QUERY_DEVICE_INFO,
		.size = sizeof(buf),
		.data = (uintptr_t)buf,
	};
	unsigned int k;

	memset(buf, 0xa5, sizeof(buf));
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	ASSERT_EQ(full, q.size);
	ASSERT_EQ(0, memcmp(buf, &self->info, full));
	for (k = full; k < sizeof(buf); k++)
		ASSERT_EQ(0xa5, buf[k]);
}

JAL_TEST(basic, bo_size_rounded_to_page)
{
	const uint64_t sizes[] = { 1, 4095, 4096, 4097, 3 * 4096 + 17, 1 << 20 };
	struct drm_jalapeno_bo_info info;
	unsigned int k;

	for (k = 0; k < JAL_ARRAY_SIZE(sizes); k++) {
		uint32_t handle;
		uint64_t va;

		ASSERT_EQ(0, jal_bo_create_raw(self->fd, sizes[k], 0, &handle, &va));
		ASSERT_EQ(0, jal_bo_info(self->fd, handle, &info));
		ASSERT_EQ((sizes[k] + 4095) & ~4095ull, info.size);
		ASSERT_EQ(va, info.va);
		ASSERT_EQ(0, va & 4095);
		ASSERT_EQ(0, info.flags);
		ASSERT_NE(0, info.mmap_offset);
		ASSERT_EQ(0, info.mmap_offset & 4095);
	}
}

/* BOs of one file get disjoint VAs inside [va_start, va_end). */
JAL_TEST(basic, bo_vas_disjoint_and_in_range)
{
	struct jal_bo bos[12];
	unsigned int a, b;

	for (a = 0; a < JAL_ARRAY_SIZE(bos); a++)
		ASSERT_EQ(0, jal_bo_new(self->fd, 4096 * (1 + (a * 7) % 5) - (a % 3), 0,
					&bos[a]));
	for (a = 0; a < JAL_ARRAY_SIZE(bos); a++) {
		ASSERT_LE(self->info.va_start, bos[a].va);
		ASSERT_GE(self->info.va_end, bos[a].va + bos[a].size);
		for (b = 0; b < a; b++)
			ASSERT_TRUE(bos[a].va + bos[a].size <= bos[b].va ||
				    bos[b].va + bos[b].size <= bos[a].va);
	}
	for (a = 0; a < JAL_ARRAY_SIZE(bos); a++)
		jal_bo_free(&bos[a]);
}

JAL_TEST(basic, bo_new_is_zeroed)
{
	struct jal_bo bo;
	uint64_t k;

	ASSERT_EQ(0, jal_bo_new(self->fd, 256 * 1024, 0, &bo));
	for (k = 0; k < bo.size / 8; k++)
		ASSERT_EQ(0, ((uint64_t *)bo.map)[k]);
	jal_bo_free(&bo);
}

/* Data written through one mapping is visible in a new mapping later. */
JAL_TEST(basic, bo_mmap_pattern_survives_remap)
{
	struct jal_bo bo;
	uint32_t *map, *again;
	uint64_t k, words;

	ASSERT_EQ(0, jal_bo_new(self->fd, 5 * 4096 + 123, 0, &bo));
	words = bo.size / 4;
	map = bo.map;
	for (k = 0; k < words; k++)
		map[k] = 0x9e3779b9u * (uint32_t)(k + 1);

	/* A second, simultaneous mapping shares the pages. */
	again = mmap(NULL, bo.size, PROT_READ, MAP_SHARED, self->fd, bo.mmap_offset);
	ASSERT_NE(MAP_FAILED, again);
	ASSERT_EQ(0, memcmp(map, again, bo.size));
	ASSERT_EQ(0, munmap(again, bo.size));

	ASSERT_EQ(0, munmap(bo.map, bo.size));
	bo.map = mmap(NULL, bo.size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
		      bo.mmap_offset);
	ASSERT_NE(MAP_FAILED, bo.map);
	map = bo.map;
	for (k = 0; k < words; k++)
		ASSERT_EQ(0x9e3779b9u * (uint32_t)(k + 1), map[k]);
	jal_bo_free(&bo);
}

/* A device-read-only BO reports its flag, is CPU writable and device readable. */
JAL_TEST(basic, bo_readonly_info_and_device_read)
{
	struct jal_bo ro, dst;
	struct jal_cmdbuf cb;
	uint32_t handles[2];
	uint64_t k;

	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, DRM_JALAPENO_BO_DEVICE_READONLY, &ro));
	ASSERT_EQ(DRM_JALAPENO_BO_DEVICE_READONLY, ro.flags);
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &dst));
	ASSERT_EQ(0, dst.flags);
	for (k = 0; k < ro.size; k++)
		((uint8_t *)ro.map)[k] = (uint8_t)(k * 13 + 7);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_copy(&cb, ro.va, dst.va, ro.size);
	handles[0] = ro.handle;
	handles[1] = dst.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 2);
	ASSERT_EQ(0, memcmp(ro.map, dst.map, ro.size));
}

/* The out syncobj signals once the job's writes are visible. */
JAL_TEST(basic, submit_out_syncobj_signals)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t sync;
	uint64_t seqno = 0;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_write_value(&cb, bo.va + 64, 0x0123456789abcdefull);
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &cb, &bo.handle, 1, NULL, 0, sync,
				&seqno));
	ASSERT_EQ(1, seqno);
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0x0123456789abcdefull, *(uint64_t *)((char *)bo.map + 64));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
}

/* A job with no out syncobj still runs; BO_WAIT waits for it. */
JAL_TEST(basic, submit_without_syncobj_and_bo_wait)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, bo.va, 0x11223344, 4096);
	ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &cb, &bo.handle, 1, NULL, 0, 0, NULL));
	ASSERT_EQ(0, jal_bo_wait(self->fd, bo.handle,
				 jal_now_ns() + JAL_JOB_WAIT_MS * 1000000ull));
	ASSERT_EQ(0x11223344, ((uint32_t *)bo.map)[1023]);
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
}

/* Per-context seqnos count from 1; CTX_STATUS tracks them. */
JAL_TEST(basic, ctx_status_seqnos)
{
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t ctx2, sync;
	uint64_t seqno, k;

	ASSERT_EQ(0, jal_ctx_status(self->fd, self->ctx, &st));
	ASSERT_EQ(DRM_JALAPENO_CTX_ACTIVE, st.state);
	ASSERT_EQ(0, st.submitted);
	ASSERT_EQ(0, st.completed);
	ASSERT_EQ(0, st.error_seqno);
	ASSERT_EQ(0, st.error);

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, bo.va, 0xabcdabcd, 64);
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	for (k = 1; k <= 3; k++) {
		ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &cb, &bo.handle, 1, NULL, 0,
					sync, &seqno));
		ASSERT_EQ(k, seqno);
	}
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_ctx_status(self->fd, self->ctx, &st));
	ASSERT_EQ(DRM_JALAPENO_CTX_ACTIVE, st.state);
	ASSERT_EQ(3, st.submitted);
	ASSERT_EQ(3, st.completed);
	ASSERT_EQ(0, st.error_seqno);
	ASSERT_EQ(0, st.error);

	/* Another context has its own numbering. */
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx2));
	ASSERT_NE(self->ctx, ctx2);
	ASSERT_EQ(0, jal_submit(self->fd, ctx2, &cb, &bo.handle, 1, NULL, 0, sync, &seqno));
	ASSERT_EQ(1, seqno);
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_ctx_status(self->fd, ctx2, &st));
	ASSERT_EQ(1, st.submitted);
	ASSERT_EQ(1, st.completed);
}

/*
 * An in-syncobj orders jobs across queues: J1 (low priority, queued behind
 * a busy job) writes X, J2 (high priority) copies X to Y and depends on
 * J1. Without the dependency the device would pick J2 first (higher
 * priority) and Y would stay 0.
 */
JAL_TEST(basic, in_syncobj_orders_jobs)
{
	struct jal_cmdbuf cb1, cb2;
	struct jal_prog busy;
	struct jal_bo bo;
	uint32_t lo, hi, s0, s1, s2;
	uint64_t iters, *x, *y, *t1, *t2;

	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_LOW, &lo));
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_HIGH, &hi));
	iters = jal_busy_iters(self->fd, lo, 1000);
	ASSERT_NE(0, iters);
	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, iters));

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	x = bo.map;
	y = x + 1;
	t1 = x + 2;
	t2 = x + 3;
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb1));
	jal_emit_write_value(&cb1, bo.va, 1);
	jal_emit_timestamp(&cb1, bo.va + 16);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb2));
	jal_emit_timestamp(&cb2, bo.va + 24);
	jal_emit_copy(&cb2, bo.va, bo.va + 8, 8);

	ASSERT_EQ(0, jal_syncobj_new(self->fd, &s0));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &s1));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &s2));
	ASSERT_EQ(0, jal_submit(self->fd, lo, &busy.cb, &busy.bo.handle, 1, NULL, 0, s0,
				NULL));
	ASSERT_EQ(0, jal_busy_wait_started(&busy, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_submit(self->fd, lo, &cb1, &bo.handle, 1, NULL, 0, s1, NULL));
	ASSERT_EQ(0, jal_submit(self->fd, hi, &cb2, &bo.handle, 1, &s1, 1, s2, NULL));
	if (jal_bo_wait(self->fd, busy.bo.handle, 0) != -ETIMEDOUT)
		TH_LOG("busy job ended before all submits; ordering check is weaker");

	ASSERT_EQ(0, jal_syncobj_wait(self->fd, s2, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, s1, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_ctx_error(self->fd, lo));
	ASSERT_EQ(0, jal_ctx_error(self->fd, hi));
	ASSERT_EQ(1, *x);
	ASSERT_EQ(1, *y);
	ASSERT_LT(*t1, *t2);
}

/*
 * BO_WAIT with a deadline in the past polls: -ETIMEDOUT while a job using
 * the BO runs, 0 once it is idle, and it returns at once either way.
 */
JAL_TEST(basic, bo_wait_past_deadline_polls)
{
	struct jal_prog busy;
	struct jal_bo idle;
	uint64_t iters, t0, dt;
	uint32_t sync;
	int ret;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &idle));
	ASSERT_EQ(0, jal_bo_wait(self->fd, idle.handle, 0));

	iters = jal_busy_iters(self->fd, self->ctx, 2000);
	ASSERT_NE(0, iters);
	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, iters));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0,
				sync, NULL));
	t0 = jal_now_ns();
	ret = jal_bo_wait(self->fd, busy.bo.handle, 0);
	dt = jal_now_ns() - t0;
	ASSERT_EQ(-ETIMEDOUT, ret);
	ASSERT_GT(500000000ull, dt);
	/* A past deadline other than 0 polls as well. */
	ASSERT_EQ(-ETIMEDOUT, jal_bo_wait(self->fd, busy.bo.handle, (int64_t)jal_now_ns() - 1000));
	/* The untouched BO stays idle while the job runs. */
	ASSERT_EQ(0, jal_bo_wait(self->fd, idle.handle, 0));

	ASSERT_EQ(0, jal_bo_wait(self->fd, busy.bo.handle,
				 jal_now_ns() + JAL_JOB_WAIT_MS * 1000000ull));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, 0));
	ASSERT_EQ(0, jal_bo_wait(self->fd, busy.bo.handle, 0));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
}

/* WRITE_VALUE stores exactly 8 bytes; later commands win. */
JAL_TEST(basic, write_value_exact_bytes)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint8_t *b;
	unsigned int k;

	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &bo));
	b = bo.map;
	memset(b, 0xcc, bo.size);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_write_value(&cb, bo.va + 8, 0x1111111111111111ull);
	jal_emit_write_value(&cb, bo.va + 8, 0x8877665544332211ull);
	jal_emit_write_value(&cb, bo.va + 4088, 0xfedcba9876543210ull);
	jal_emit_write_value(&cb, bo.va + 8184, 0);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);

	ASSERT_EQ(0x8877665544332211ull, *(uint64_t *)(b + 8));
	ASSERT_EQ(0xfedcba9876543210ull, *(uint64_t *)(b + 4088));
	ASSERT_EQ(0, *(uint64_t *)(b + 8184));
	for (k = 0; k < bo.size; k++) {
		if ((k >= 8 && k < 16) || (k >= 4088 && k < 4096) || k >= 8184)
			continue;
		ASSERT_EQ(0xcc, b[k]);
	}
}

/*
 * TIMESTAMP writes the device clock in ns: it rises within a job, across
 * jobs, and across a 200 ms host sleep by about that much.
 */
JAL_TEST(basic, timestamp_monotonic_ns)
{
	struct timespec pause = { .tv_nsec = 200000000 };
	struct jal_cmdbuf cb1, cb2;
	struct jal_bo bo, big;
	uint32_t handles[2];
	uint64_t *ts, t0, elapsed;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_bo_new(self->fd, 1 << 20, 0, &big));
	ts = bo.map;
	handles[0] = bo.handle;
	handles[1] = big.handle;
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb1));
	jal_emit_timestamp(&cb1, bo.va);
	jal_emit_fill(&cb1, big.va, 0x01020304, big.size);
	jal_emit_timestamp(&cb1, bo.va + 8);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb2));
	jal_emit_timestamp(&cb2, bo.va + 16);

	t0 = jal_now_ns();
	ASSERT_JOB_OK(self->fd, self->ctx, &cb1, handles, 2);
	nanosleep(&pause, NULL);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb2, handles, 2);
	elapsed = jal_now_ns() - t0;
	TH_LOG("timestamps %llu %llu %llu", (unsigned long long)ts[0],
	       (unsigned long long)ts[1], (unsigned long long)ts[2]);
	ASSERT_NE(0, ts[0]);
	ASSERT_LT(ts[0], ts[1]);
	ASSERT_LT(ts[1], ts[2]);
	/* Nanoseconds: the sleep shows, and the jobs fit in the wall time. */
	ASSERT_LE(100000000ull, ts[2] - ts[1]);
	ASSERT_GE(2 * elapsed + 50000000ull, ts[2] - ts[0]);
}

/* A command buffer may start anywhere 8-byte aligned inside a BO. */
JAL_TEST(basic, cmdbuf_inside_bo_offset)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	struct drm_jalapeno_submit s = { 0 };
	uint32_t handles[2], sync;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	cb.len = 4096 + 8;	/* the command starts 4104 bytes into the BO */
	jal_emit_nop(&cb);
	jal_emit_write_value(&cb, bo.va + 16, 42);

	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	handles[0] = cb.bo.handle;
	handles[1] = bo.handle;
	s.ctx_id = self->ctx;
	s.cmdbuf_va = cb.bo.va + 4096 + 8;
	s.cmdbuf_size = cb.len - 4096 - 8;
	s.bo_count = 2;
	s.bo_handles = (uintptr_t)handles;
	s.out_syncobj = sync;
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	ASSERT_EQ(42, ((uint64_t *)bo.map)[2]);
}

JAL_TEST(basic, nop_only_cmdbuf)
{
	struct jal_cmdbuf cb;
	unsigned int k;

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < 1000; k++)
		jal_emit_nop(&cb);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, NULL, 0);
}

/*
 * Many jobs in flight on one context (more than a ring is likely to hold):
 * each writes its own slot; waiting for the last one means all are done.
 */
JAL_SLOW_TEST(basic, many_jobs_in_flight)
{
	const unsigned int jobs = 600;
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t handles[2], sync;
	unsigned int k;

	ASSERT_EQ(0, jal_bo_new(self->fd, jobs * 8, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < jobs; k++) {
		cb.len = 32 * k;
		jal_emit_write_value(&cb, bo.va + 8 * k, 0x5000000000ull + k);
	}
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	handles[0] = cb.bo.handle;
	handles[1] = bo.handle;
	for (k = 0; k < jobs; k++) {
		struct drm_jalapeno_submit s = {
			.ctx_id = self->ctx,
			.cmdbuf_va = cb.bo.va + 32 * k,
			.cmdbuf_size = sizeof(struct jal_cmd_write_value),
			.bo_count = 2,
			.bo_handles = (uintptr_t)handles,
			.out_syncobj = sync,
		};

		ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
		ASSERT_EQ(k + 1, s.seqno);
	}
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	for (k = 0; k < jobs; k++)
		ASSERT_EQ(0x5000000000ull + k, ((uint64_t *)bo.map)[k]);
	ASSERT_EQ(0, jal_ctx_status(self->fd, self->ctx, &st));
	ASSERT_EQ(jobs, st.submitted);
	ASSERT_EQ(jobs, st.completed);
	ASSERT_EQ(0, st.error);
}

/* Every priority gets a context that runs jobs (REALTIME needs CAP_SYS_NICE). */
JAL_TEST(basic, ctx_every_priority_runs)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t prio, ctx;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	for (prio = DRM_JALAPENO_PRIORITY_LOW; prio <= DRM_JALAPENO_PRIORITY_REALTIME; prio++) {
		if (prio == DRM_JALAPENO_PRIORITY_REALTIME && !jal_have_cap(JAL_CAP_SYS_NICE)) {
			TH_LOG("no CAP_SYS_NICE: REALTIME not tried");
			continue;
		}
		ASSERT_EQ(0, jal_ctx_create(self->fd, prio, &ctx));
		ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
		jal_emit_write_value(&cb, bo.va + 8 * prio, 100 + prio);
		ASSERT_JOB_OK(self->fd, ctx, &cb, &bo.handle, 1);
		ASSERT_EQ(100 + prio, ((uint64_t *)bo.map)[prio]);
		jal_cmdbuf_free(&cb);
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx));
	}
}

/* A destroyed context is gone: status, submit and destroy say -ENOENT. */
JAL_TEST(basic, ctx_destroy_forgets_id)
{
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	uint32_t ctx;

	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_ctx_status(self->fd, ctx, &st));
	ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx));
	ASSERT_EQ(-ENOENT, jal_ctx_status(self->fd, ctx, &st));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_nop(&cb);
	ASSERT_EQ(-ENOENT, jal_submit(self->fd, ctx, &cb, NULL, 0, NULL, 0, 0, NULL));
	ASSERT_EQ(-ENOENT, jal_ctx_destroy(self->fd, ctx));
	/* the fixture's context is unaffected */
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, NULL, 0);
}

/* Destroying a context with a queued job: the job still completes. */
JAL_TEST(basic, ctx_destroy_with_queued_job)
{
	struct jal_prog busy;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t ctx, sync;
	uint64_t iters;

	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	iters = jal_busy_iters(self->fd, ctx, 300);
	ASSERT_NE(0, iters);
	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, iters));
	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_write_value(&cb, bo.va, 0xd0d0d0d0d0ull);
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0, 0, NULL));
	ASSERT_EQ(0, jal_submit(self->fd, ctx, &cb, &bo.handle, 1, NULL, 0, sync, NULL));
	ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0xd0d0d0d0d0ull, *(uint64_t *)bo.map);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * The value of @key in /proc/self/fdinfo/@fd, with a KiB/MiB/GiB unit
 * applied and a trailing " ns" ignored (0 for a text value, which goes
 * to @text if not NULL); -1 if the key is missing.
 */
static int64_t fdinfo_value(int fd, const char *key, char *text, size_t len)
{
	char path[64], line[256], unit[16];
	unsigned long long v;
	int64_t value = -1;
	size_t klen = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		if (text) {
			snprintf(text, len, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
			text[strcspn(text, "\n")] = '\0';
		}
		value = 0;	/* present; numeric values below */
		unit[0] = '\0';
		if (sscanf(line + klen + 1, "%llu %15s", &v, unit) >= 1) {
			value = v;
			if (!strcmp(unit, "KiB"))
				value <<= 10;
			else if (!strcmp(unit, "MiB"))
				value <<= 20;
			else if (!strcmp(unit, "GiB"))
				value <<= 30;
		}
		break;
	}
	fclose(f);
	return value;
}

/*
 * DRM fdinfo (drm-usage-stats): the driver and a client id per file;
 * host and device memory of the file's BOs; engine time per queue, which
 * grows by at most the wall time of a job on the job's queue only.
 */
JAL_TEST(basic, fdinfo_usage_stats)
{
	int64_t normal0, normal1, t0, t1;
	char text[64], id0[64], id1[64];
	struct jal_prog busy;
	struct jal_bo bo;
	uint32_t vbo;
	int other;

	ASSERT_LE(0, fdinfo_value(self->fd, "drm-driver", text, sizeof(text)));
	ASSERT_STREQ("jalapeno", text);
	ASSERT_LE(0, fdinfo_value(self->fd, "drm-client-id", id0, sizeof(id0)));
	other = jal_open();
	ASSERT_LE(0, other);
	ASSERT_LE(0, fdinfo_value(other, "drm-client-id", id1, sizeof(id1)));
	ASSERT_STRNE(id0, id1);
	close(other);

	ASSERT_EQ(0, fdinfo_value(self->fd, "drm-total-host", NULL, 0));
	ASSERT_EQ(0, jal_bo_new(self->fd, 1 << 20, 0, &bo));
	ASSERT_EQ(1 << 20, fdinfo_value(self->fd, "drm-total-host", NULL, 0));
	ASSERT_EQ(1 << 20, fdinfo_value(self->fd, "drm-resident-host", NULL, 0));
	if (self->info.vram_size) {
		ASSERT_EQ(0, jal_bo_create_raw(self->fd, 2 << 20, DRM_JALAPENO_BO_VRAM, &vbo,
					       NULL));
		ASSERT_EQ(2 << 20, fdinfo_value(self->fd, "drm-total-vram", NULL, 0));
		ASSERT_EQ(0, jal_gem_close(self->fd, vbo));
		ASSERT_EQ(0, fdinfo_value(self->fd, "drm-total-vram", NULL, 0));
	}

	/* Calibration runs jobs too: read the counter after it. */
	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, jal_busy_iters(self->fd, self->ctx, 50)));
	normal0 = fdinfo_value(self->fd, "drm-engine-normal", NULL, 0);
	ASSERT_LT(0, normal0);
	t0 = jal_now_ns();
	ASSERT_JOB_OK(self->fd, self->ctx, &busy.cb, &busy.bo.handle, 1);
	t1 = jal_now_ns();
	normal1 = fdinfo_value(self->fd, "drm-engine-normal", NULL, 0);
	TH_LOG("engine-normal grew by %lld ns in a %lld ns round trip",
	       (long long)(normal1 - normal0), (long long)(t1 - t0));
	ASSERT_LT(normal0, normal1);
	ASSERT_GE(t1 - t0, normal1 - normal0);
	ASSERT_EQ(0, fdinfo_value(self->fd, "drm-engine-low", NULL, 0));
	ASSERT_EQ(0, fdinfo_value(self->fd, "drm-engine-high", NULL, 0));
	ASSERT_EQ(0, fdinfo_value(self->fd, "drm-engine-realtime", NULL, 0));

	jal_prog_free(&busy);
	jal_bo_free(&bo);
	ASSERT_EQ(0, fdinfo_value(self->fd, "drm-total-host", NULL, 0));
}

TEST_HARNESS_MAIN
