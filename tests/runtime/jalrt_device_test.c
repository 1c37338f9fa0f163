// SPDX-License-Identifier: MIT
/*
 * libjalrt against the real device (run in the guest): compute results
 * against a host reference on several sizes, DMA, fences and timeouts,
 * error reporting of failing jobs, several contexts and threads.
 * Skipped when no Jalapeño device is present.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kselftest_harness.h"

#include "jalrt.h"

#define TIMEOUT_NS		(60 * 1000000000LL)
#define TEST_TIMEOUT_S		120
#define UNMAPPED_VA		0x7f00000000ull	/* far above anything allocated */

#define DEV_TEST(name)		TEST_F_TIMEOUT(dev, name, TEST_TIMEOUT_S)

FIXTURE(dev) {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_device_info info;
};

FIXTURE_SETUP(dev)
{
	int ret = jalrt_device_open(0, &self->dev);

	if (ret == -ENODEV)
		SKIP(return, "no Jalapeño device: %s", jalrt_last_error_message());
	ASSERT_EQ(0, ret) TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_device_query(self->dev, &self->info));
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_NORMAL, &self->ctx))
		TH_LOG("%s", jalrt_last_error_message());
}

FIXTURE_TEARDOWN(dev)
{
	struct jalrt_device_stats st;

	if (!self->dev)
		return;
	jalrt_context_destroy(self->ctx);
	/* every test frees what it made */
	EXPECT_EQ(0, jalrt_device_stats(self->dev, &st));
	EXPECT_EQ(0, st.buffers);
	EXPECT_EQ(0, st.contexts);
	jalrt_device_close(self->dev);
}

/* Deterministic values in [-1, 1). */
static float rnd(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return (float)((*s >> 8) / 8388608.0 - 1.0);
}

static struct jalrt_buffer *alloc_floats(struct __test_metadata *_metadata,
					 struct jalrt_device *dev, size_t n, uint32_t flags,
					 uint32_t seed)
{
	struct jalrt_buffer *b = NULL;
	float *p;
	size_t i;

	EXPECT_EQ(0, jalrt_buffer_alloc(dev, n ? n * 4 : 4, flags, &b))
		TH_LOG("%s", jalrt_last_error_message());
	if (!b)
		return NULL;
	p = jalrt_buffer_host(b);
	for (i = 0; i < n; i++)
		p[i] = seed ? rnd(&seed) * 8.0f : 0.0f;
	return b;
}

static struct jalrt_kernel *build(struct __test_metadata *_metadata,
				  struct jalrt_device *dev, struct jalrt_kernel_builder *kb)
{
	struct jalrt_kernel *k = NULL;

	EXPECT_EQ(0, jalrt_kb_finalize(kb, dev, &k)) TH_LOG("%s", jalrt_last_error_message());
	jalrt_kb_destroy(kb);
	return k;
}

TEST(enumerate_finds_device_nodes)
{
	struct jalrt_device_entry e[8];
	unsigned int n;

	ASSERT_EQ(0, jalrt_device_enumerate(e, 8, &n));
	if (!n)
		SKIP(return, "no Jalapeño device");
	EXPECT_EQ(0, strncmp(e[0].path, "/dev/accel/accel", 16));
	for (unsigned int i = 1; i < n && i < 8; i++)
		EXPECT_LT(e[i - 1].minor, e[i].minor);
}

DEV_TEST(device_info)
{
	EXPECT_STREQ("jalapeno", self->info.driver_name);
	EXPECT_EQ(JAL_PCI_VENDOR_ID, self->info.vendor_id);
	EXPECT_EQ(JAL_PCI_DEVICE_ID, self->info.device_id);
	EXPECT_EQ(JAL_VERSION_MAJOR, self->info.hw_version >> 16);
	EXPECT_EQ(JAL_NUM_QUEUES, self->info.num_queues);
	EXPECT_EQ(JAL_NUM_CONTEXTS, self->info.num_contexts);
	EXPECT_EQ(4096, self->info.page_size);
	EXPECT_LE(0x100000, self->info.va_start);
	EXPECT_GE(1ull << JAL_VA_BITS, self->info.va_end);
	EXPECT_TRUE(self->info.caps & JAL_CAP_DMA);
	EXPECT_TRUE(self->info.caps & JAL_CAP_COMPUTE_F32);
	EXPECT_LT(0, self->info.max_cmdbuf_size);
}

DEV_TEST(buffers_are_placed_in_the_va_range)
{
	struct jalrt_buffer *a, *b;
	struct jalrt_buffer_info ia, ib;

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 10000, 0, &a));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 1, JALRT_BUFFER_DEVICE_READONLY, &b));
	ASSERT_EQ(0, jalrt_buffer_query(a, &ia));
	ASSERT_EQ(0, jalrt_buffer_query(b, &ib));
	EXPECT_EQ(12288, ia.alloc_size);
	EXPECT_EQ(0, ia.va % 4096);
	EXPECT_LE(self->info.va_start, ia.va);
	EXPECT_GE(self->info.va_end, ib.va + ib.alloc_size);
	/* no overlap */
	EXPECT_TRUE(ia.va + ia.alloc_size <= ib.va || ib.va + ib.alloc_size <= ia.va);
	EXPECT_EQ(0, ((char *)ia.host)[9999]);
	jalrt_buffer_free(a);
	jalrt_buffer_free(b);
}

/* vadd, vmul and vscale with run-time length, compared bit for bit */
DEV_TEST(elementwise_ops_match_host)
{
	static const uint32_t sizes[] = { 1, 7, 4096, 4097, 100003 };
	unsigned int s;

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s], i;
		struct jalrt_buffer *a, *b, *d1, *d2, *d3;
		struct jalrt_kernel_builder *kb;
		struct jalrt_kernel *k;
		const float *fa, *fb, *o1, *o2, *o3;
		uint64_t args[6];

		a = alloc_floats(_metadata, self->dev, n, JALRT_BUFFER_DEVICE_READONLY, 1 + s);
		b = alloc_floats(_metadata, self->dev, n, JALRT_BUFFER_DEVICE_READONLY, 100 + s);
		d1 = alloc_floats(_metadata, self->dev, n, 0, 0);
		d2 = alloc_floats(_metadata, self->dev, n, 0, 0);
		d3 = alloc_floats(_metadata, self->dev, n, 0, 0);
		ASSERT_TRUE(a && b && d1 && d2 && d3);

		/* r0..r2 outputs, r3 a, r4 b, r5 n */
		ASSERT_EQ(0, jalrt_kb_create(6, &kb));
		jalrt_kb_vadd(kb, 0, 3, 4, JALRT_DIM_REG(5));
		jalrt_kb_vmul(kb, 1, 3, 4, JALRT_DIM_REG(5));
		jalrt_kb_vscale(kb, 2, 3, -0.375f, JALRT_DIM_REG(5));
		k = build(_metadata, self->dev, kb);
		ASSERT_NE(NULL, k);

		args[0] = jalrt_buffer_va(d1);
		args[1] = jalrt_buffer_va(d2);
		args[2] = jalrt_buffer_va(d3);
		args[3] = jalrt_buffer_va(a);
		args[4] = jalrt_buffer_va(b);
		args[5] = n;
		struct jalrt_buffer *used[5] = { a, b, d1, d2, d3 };

		ASSERT_EQ(0, jalrt_dispatch_sync(self->ctx, k, args, 6, used, 5, TIMEOUT_NS))
			TH_LOG("n=%u: %s", n, jalrt_last_error_message());
		fa = jalrt_buffer_host(a);
		fb = jalrt_buffer_host(b);
		o1 = jalrt_buffer_host(d1);
		o2 = jalrt_buffer_host(d2);
		o3 = jalrt_buffer_host(d3);
		for (i = 0; i < n; i++) {
			ASSERT_EQ(fa[i] + fb[i], o1[i]) TH_LOG("vadd n=%u i=%u", n, i);
			ASSERT_EQ(fa[i] * fb[i], o2[i]) TH_LOG("vmul n=%u i=%u", n, i);
			ASSERT_EQ(fa[i] * -0.375f, o3[i]) TH_LOG("vscale n=%u i=%u", n, i);
		}
		jalrt_kernel_destroy(k);
		for (i = 0; i < 5; i++)
			jalrt_buffer_free(used[i]);
	}
}

DEV_TEST(strided_and_broadcast_vadd)
{
	const uint32_t n = 1000;
	struct jalrt_buffer *a, *b, *d;
	struct jalrt_kernel_builder *kb;
	struct jalrt_kernel *k;
	const float *fa, *fb, *fd;
	uint64_t args[3];
	uint32_t i;

	a = alloc_floats(_metadata, self->dev, 3 * n, 0, 5);
	b = alloc_floats(_metadata, self->dev, 1, 0, 6);
	d = alloc_floats(_metadata, self->dev, 2 * n, 0, 0);
	ASSERT_TRUE(a && b && d);
	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	/* d[2i] = a[3i] + b[0] */
	jalrt_kb_vadd_strided(kb, 0, 1, 2, JALRT_DIM(n), 2, 3, 0);
	k = build(_metadata, self->dev, kb);
	ASSERT_NE(NULL, k);
	args[0] = jalrt_buffer_va(d);
	args[1] = jalrt_buffer_va(a);
	args[2] = jalrt_buffer_va(b);
	struct jalrt_buffer *used[3] = { a, b, d };

	ASSERT_EQ(0, jalrt_dispatch_sync(self->ctx, k, args, 3, used, 3, TIMEOUT_NS))
		TH_LOG("%s", jalrt_last_error_message());
	fa = jalrt_buffer_host(a);
	fb = jalrt_buffer_host(b);
	fd = jalrt_buffer_host(d);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(fa[3 * i] + fb[0], fd[2 * i]) TH_LOG("i=%u", i);
		ASSERT_EQ(0.0f, fd[2 * i + 1]) TH_LOG("gap %u written", i);
	}
	jalrt_kernel_destroy(k);
	for (i = 0; i < 3; i++)
		jalrt_buffer_free(used[i]);
}

/* |device - exact| within the f32 accumulation bound of the row */
static void check_matvec(struct __test_metadata *_metadata, const float *w, const float *x,
			 const float *y, uint32_t rows, uint32_t cols, uint32_t pitch,
			 uint32_t sy)
{
	uint32_t m, k;

	for (m = 0; m < rows; m++) {
		double ref = 0, mag = 0;

		for (k = 0; k < cols; k++) {
			double p = (double)w[(size_t)m * pitch + k] * x[k];

			ref += p;
			mag += fabs(p);
		}
		ASSERT_LE(fabs(y[(size_t)m * sy] - ref), (cols + 2) * 1.2e-7 * mag + 1e-30)
			TH_LOG("row %u of %ux%u: device %.9g, exact %.9g", m, rows, cols,
			       y[(size_t)m * sy], ref);
	}
}

DEV_TEST(matvec_matches_host)
{
	static const uint32_t shapes[][2] = { { 1, 1 }, { 3, 5 }, { 64, 130 }, { 256, 1024 } };
	unsigned int s;

	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		uint32_t rows = shapes[s][0], cols = shapes[s][1];
		struct jalrt_buffer *w, *x, *y;
		struct jalrt_kernel_builder *kb;
		struct jalrt_kernel *k;
		uint64_t args[5];

		w = alloc_floats(_metadata, self->dev, (size_t)rows * cols,
				 JALRT_BUFFER_DEVICE_READONLY, 11 + s);
		x = alloc_floats(_metadata, self->dev, cols, JALRT_BUFFER_DEVICE_READONLY, 21 + s);
		y = alloc_floats(_metadata, self->dev, rows, 0, 0);
		ASSERT_TRUE(w && x && y);
		/* shape from registers r3 (rows) and r4 (cols) */
		ASSERT_EQ(0, jalrt_kb_create(5, &kb));
		jalrt_kb_matvec(kb, 0, 1, 2, JALRT_DIM_REG(3), JALRT_DIM_REG(4));
		k = build(_metadata, self->dev, kb);
		ASSERT_NE(NULL, k);
		args[0] = jalrt_buffer_va(y);
		args[1] = jalrt_buffer_va(w);
		args[2] = jalrt_buffer_va(x);
		args[3] = rows;
		args[4] = cols;
		struct jalrt_buffer *used[3] = { w, x, y };

		ASSERT_EQ(0, jalrt_dispatch_sync(self->ctx, k, args, 5, used, 3, TIMEOUT_NS))
			TH_LOG("%ux%u: %s", rows, cols, jalrt_last_error_message());
		check_matvec(_metadata, jalrt_buffer_host(w), jalrt_buffer_host(x),
			     jalrt_buffer_host(y), rows, cols, cols, 1);
		jalrt_kernel_destroy(k);
		for (int i = 0; i < 3; i++)
			jalrt_buffer_free(used[i]);
	}
}

DEV_TEST(matvec_row_pitch_and_strides)
{
	const uint32_t rows = 17, cols = 33, pitch = 40;
	struct jalrt_buffer *w, *x, *y;
	struct jalrt_kernel_builder *kb;
	struct jalrt_kernel *k;
	uint64_t args[3];
	float *xs, xc[33];

	w = alloc_floats(_metadata, self->dev, rows * pitch, 0, 31);
	x = alloc_floats(_metadata, self->dev, 2 * cols, 0, 32);
	y = alloc_floats(_metadata, self->dev, 3 * rows, 0, 0);
	ASSERT_TRUE(w && x && y);
	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	jalrt_kb_matvec_strided(kb, 0, 1, 2, JALRT_DIM(rows), JALRT_DIM(cols), 3, pitch, 2);
	k = build(_metadata, self->dev, kb);
	ASSERT_NE(NULL, k);
	args[0] = jalrt_buffer_va(y);
	args[1] = jalrt_buffer_va(w);
	args[2] = jalrt_buffer_va(x);
	struct jalrt_buffer *used[3] = { w, x, y };

	ASSERT_EQ(0, jalrt_dispatch_sync(self->ctx, k, args, 3, used, 3, TIMEOUT_NS))
		TH_LOG("%s", jalrt_last_error_message());
	xs = jalrt_buffer_host(x);
	for (uint32_t i = 0; i < cols; i++)
		xc[i] = xs[2 * i];
	check_matvec(_metadata, jalrt_buffer_host(w), xc, jalrt_buffer_host(y), rows, cols,
		     pitch, 3);
	jalrt_kernel_destroy(k);
	for (int i = 0; i < 3; i++)
		jalrt_buffer_free(used[i]);
}

/*
 * A loop built with labels: d[c*256 + i] = a[..] + b[..] chunk by chunk,
 * byte offsets computed with muli/add, the chunk count from an argument;
 * forward (bltu, jump) and backward (bne) branches.
 */
static struct jalrt_kernel *chunked_vadd_kernel(struct __test_metadata *_metadata,
						struct jalrt_device *dev, uint32_t chunk)
{
	struct jalrt_kernel_builder *kb;
	uint32_t loop, done;

	/* r0 = d, r1 = a, r2 = b, r3 = chunks */
	EXPECT_EQ(0, jalrt_kb_create(4, &kb));
	EXPECT_EQ(0, jalrt_kb_new_label(kb, &loop));
	EXPECT_EQ(0, jalrt_kb_new_label(kb, &done));
	jalrt_kb_li(kb, 4, 0);				/* r4 = chunk index */
	jalrt_kb_bltu(kb, 4, 3, loop);			/* any chunks at all? */
	jalrt_kb_jump(kb, done);
	jalrt_kb_bind(kb, loop);
	jalrt_kb_muli(kb, 5, 4, chunk * 4);		/* byte offset of the chunk */
	jalrt_kb_add(kb, 6, 0, 5);
	jalrt_kb_add(kb, 7, 1, 5);
	jalrt_kb_add(kb, 8, 2, 5);
	jalrt_kb_vadd(kb, 6, 7, 8, JALRT_DIM(chunk));
	jalrt_kb_addi(kb, 4, 4, 1);
	jalrt_kb_bne(kb, 4, 3, loop);
	jalrt_kb_bind(kb, done);			/* end of code: halt */
	EXPECT_EQ(0, jalrt_kb_error(kb)) TH_LOG("%s", jalrt_last_error_message());
	return build(_metadata, dev, kb);
}

DEV_TEST(loop_kernel_with_labels)
{
	const uint32_t chunk = 256, chunks = 37, n = chunk * chunks;
	struct jalrt_buffer *a, *b, *d;
	const float *fa, *fb, *fd;
	struct jalrt_kernel *k;
	uint64_t args[4];
	uint32_t i;

	a = alloc_floats(_metadata, self->dev, n, 0, 41);
	b = alloc_floats(_metadata, self->dev, n, 0, 42);
	d = alloc_floats(_metadata, self->dev, n + 1, 0, 0);
	ASSERT_TRUE(a && b && d);
	k = chunked_vadd_kernel(_metadata, self->dev, chunk);
	ASSERT_NE(NULL, k);
	struct jalrt_buffer *used[3] = { a, b, d };

	args[0] = jalrt_buffer_va(d);
	args[1] = jalrt_buffer_va(a);
	args[2] = jalrt_buffer_va(b);
	args[3] = 0;		/* no chunks: nothing is written */
	ASSERT_EQ(0, jalrt_dispatch_sync(self->ctx, k, args, 4, used, 3, TIMEOUT_NS))
		TH_LOG("%s", jalrt_last_error_message());
	fd = jalrt_buffer_host(d);
	ASSERT_EQ(0.0f, fd[0]);

	args[3] = chunks;
	ASSERT_EQ(0, jalrt_dispatch_sync(self->ctx, k, args, 4, used, 3, TIMEOUT_NS))
		TH_LOG("%s", jalrt_last_error_message());
	fa = jalrt_buffer_host(a);
	fb = jalrt_buffer_host(b);
	for (i = 0; i < n; i++)
		ASSERT_EQ(fa[i] + fb[i], fd[i]) TH_LOG("i=%u", i);
	EXPECT_EQ(0.0f, fd[n]) TH_LOG("wrote past the last chunk");
	jalrt_kernel_destroy(k);
	for (i = 0; i < 3; i++)
		jalrt_buffer_free(used[i]);
}

DEV_TEST(copy_fill_write_timestamp)
{
	static const uint64_t sizes[] = { 1, 3, 4096, (1 << 20) + 5 };
	const uint64_t cap = (1 << 20) + 64;
	struct jalrt_buffer *src, *dst, *ts;
	struct jalrt_cmdbuf *cb;
	uint64_t i, t[3];
	uint8_t *s, *d;
	unsigned int k;

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, cap, 0, &src));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, cap, 0, &dst));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 24, 0, &ts));
	s = jalrt_buffer_host(src);
	d = jalrt_buffer_host(dst);
	for (i = 0; i < cap; i++)
		s[i] = (uint8_t)(i * 131 + 7);

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t n = sizes[k];

		memset(d, 0xee, cap);
		/* odd offsets on both sides */
		ASSERT_EQ(0, jalrt_copy_sync(self->ctx, dst, 5, src, 3, n, TIMEOUT_NS))
			TH_LOG("size %llu: %s", (unsigned long long)n, jalrt_last_error_message());
		ASSERT_EQ(0, memcmp(d + 5, s + 3, n)) TH_LOG("size %llu", (unsigned long long)n);
		ASSERT_EQ(0xee, d[4]);
		ASSERT_EQ(0xee, d[5 + n]);

		ASSERT_EQ(0, jalrt_fill_sync(self->ctx, dst, 7, n, 0x44332211, TIMEOUT_NS));
		for (i = 0; i < n; i++)
			ASSERT_EQ(0x11 + 0x11 * (i % 4), d[7 + i]) TH_LOG("byte %llu",
									 (unsigned long long)i);
		ASSERT_EQ(0xee, d[7 + n]);
	}

	/* write_value and timestamps in one job; the clock does not go back */
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	ASSERT_EQ(0, jalrt_cmdbuf_timestamp(cb, ts, 0));
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(cb, ts, 8, 0x1122334455667788ull));
	ASSERT_EQ(0, jalrt_cmdbuf_copy(cb, dst, 0, src, 0, 1 << 20));
	ASSERT_EQ(0, jalrt_cmdbuf_timestamp(cb, ts, 16));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, cb, NULL, 0, TIMEOUT_NS))
		TH_LOG("%s", jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_buffer_download(ts, 0, t, sizeof(t)));
	EXPECT_EQ(0x1122334455667788ull, t[1]);
	EXPECT_NE(0, t[0]);
	EXPECT_LE(t[0], t[2]);
	jalrt_cmdbuf_destroy(cb);
	jalrt_buffer_free(src);
	jalrt_buffer_free(dst);
	jalrt_buffer_free(ts);
}

DEV_TEST(cmdbuf_resubmit_and_rewrite)
{
	struct jalrt_fence *f[8];
	struct jalrt_buffer *b;
	struct jalrt_cmdbuf *cb;
	uint64_t v[2];
	int i;

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 16, 0, &b));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(cb, b, 0, 1));
	/* the same command buffer queued eight times without waiting */
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, jalrt_submit(self->ctx, cb, NULL, 0, NULL, 0, &f[i]))
			TH_LOG("%s", jalrt_last_error_message());
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(jalrt_fence_seqno(f[0]) + i, jalrt_fence_seqno(f[i]));
		EXPECT_EQ(0, jalrt_fence_wait(f[i], TIMEOUT_NS));
		jalrt_fence_destroy(f[i]);
	}
	/* changed afterwards: the next job sees the new commands */
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(cb, b, 8, 2));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, cb, NULL, 0, TIMEOUT_NS));
	ASSERT_EQ(0, jalrt_buffer_download(b, 0, v, 16));
	EXPECT_EQ(1, v[0]);
	EXPECT_EQ(2, v[1]);
	EXPECT_EQ(0, jalrt_buffer_wait(b, TIMEOUT_NS));
	jalrt_cmdbuf_destroy(cb);
	jalrt_buffer_free(b);
}

/* Iterations of an empty counting loop that take about @ms on this device. */
static uint64_t calibrate_spin(struct __test_metadata *_metadata, struct jalrt_context *ctx,
			       struct jalrt_kernel *spin, double ms)
{
	struct timespec t0, t1;
	uint64_t iters = 20000, args[1];
	double took;

	for (;;) {
		args[0] = iters;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		EXPECT_EQ(0, jalrt_dispatch_sync(ctx, spin, args, 1, NULL, 0, TIMEOUT_NS))
			TH_LOG("%s", jalrt_last_error_message());
		clock_gettime(CLOCK_MONOTONIC, &t1);
		took = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
		if (took > 50 || iters > (1ull << 24))
			break;
		iters *= 4;
	}
	/* 3 steps per iteration; stay well below the watchdog */
	iters = (uint64_t)(iters * (ms / took));
	if (iters > JAL_STEP_LIMIT_DEFAULT / 8)
		iters = JAL_STEP_LIMIT_DEFAULT / 8;
	return iters;
}

static struct jalrt_kernel *spin_kernel(struct __test_metadata *_metadata,
					struct jalrt_device *dev)
{
	struct jalrt_kernel_builder *kb;
	uint32_t loop;

	/* for (r1 = 0; r1 != r0; r1++) ; */
	EXPECT_EQ(0, jalrt_kb_create(1, &kb));
	jalrt_kb_new_label(kb, &loop);
	jalrt_kb_li(kb, 1, 0);
	jalrt_kb_bind(kb, loop);
	jalrt_kb_addi(kb, 1, 1, 1);
	jalrt_kb_bne(kb, 1, 0, loop);
	return build(_metadata, dev, kb);
}

DEV_TEST(fence_wait_timeout)
{
	struct jalrt_kernel *spin = spin_kernel(_metadata, self->dev);
	struct jalrt_cmdbuf *cb;
	struct jalrt_fence *f;
	uint64_t args[1];
	int ret, status;

	ASSERT_NE(NULL, spin);
	args[0] = calibrate_spin(_metadata, self->ctx, spin, 1500);
	/*
	 * A calibration run slowed down by a busy host undershoots: if the
	 * job is done within the wait, spin longer (up to the watchdog cap).
	 */
	for (int attempt = 0;; attempt++) {
		TH_LOG("spinning %llu iterations", (unsigned long long)args[0]);
		ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
		ASSERT_EQ(0, jalrt_cmdbuf_dispatch(cb, spin, args, 1));
		ASSERT_EQ(0, jalrt_submit(self->ctx, cb, NULL, 0, NULL, 0, &f));
		status = jalrt_fence_status(f);
		ret = jalrt_fence_wait(f, 1000000);	/* 1 ms */
		if (ret != 0 || attempt == 2 || args[0] >= JAL_STEP_LIMIT_DEFAULT / 8)
			break;
		jalrt_fence_destroy(f);
		jalrt_cmdbuf_destroy(cb);
		args[0] = args[0] * 8 < JAL_STEP_LIMIT_DEFAULT / 8 ? args[0] * 8 :
			  JAL_STEP_LIMIT_DEFAULT / 8;
	}
	EXPECT_EQ(-EINPROGRESS, status);
	EXPECT_EQ(-ETIME, ret) TH_LOG("%s", jalrt_last_error_message());
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "still runs"));
	EXPECT_EQ(0, jalrt_fence_wait(f, JALRT_TIMEOUT_INFINITE));
	EXPECT_EQ(0, jalrt_fence_status(f));
	jalrt_fence_destroy(f);
	jalrt_cmdbuf_destroy(cb);
	jalrt_kernel_destroy(spin);
}

/* A job that writes to an unmapped VA faults; the error names it. */
DEV_TEST(faulting_job_is_reported)
{
	struct jalrt_kernel_builder *kb;
	struct jalrt_context_status cst;
	struct jalrt_buffer *a, *ok;
	struct jalrt_job_error err;
	struct jalrt_fence *f, *f2 = NULL;
	struct jalrt_cmdbuf *cb, *cb2;
	struct jalrt_kernel *k;
	uint64_t args[2], v;
	int ret;

	a = alloc_floats(_metadata, self->dev, 64, 0, 3);
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 8, 0, &ok));
	ASSERT_EQ(0, jalrt_kb_create(2, &kb));
	jalrt_kb_vscale(kb, 0, 1, 2.0f, JALRT_DIM(64));
	k = build(_metadata, self->dev, kb);
	ASSERT_NE(NULL, k);

	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(cb, ok, 0, 5));
	args[0] = UNMAPPED_VA;
	args[1] = jalrt_buffer_va(a);
	ASSERT_EQ(0, jalrt_cmdbuf_dispatch(cb, k, args, 2));
	ASSERT_EQ(0, jalrt_cmdbuf_use_buffer(cb, a));
	ASSERT_EQ(0, jalrt_submit(self->ctx, cb, NULL, 0, NULL, 0, &f));

	/*
	 * A job queued behind it is reported canceled (or refused if the ban
	 * came first). If it had already reached the chip's ring it may have
	 * run anyway; either way its context's results are not to be trusted.
	 */
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb2));
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(cb2, ok, 0, 6));
	ret = jalrt_submit(self->ctx, cb2, NULL, 0, NULL, 0, &f2);
	EXPECT_TRUE(ret == 0 || ret == -ECANCELED) TH_LOG("%d %s", ret,
							  jalrt_last_error_message());

	EXPECT_EQ(-EFAULT, jalrt_fence_wait(f, TIMEOUT_NS));
	TH_LOG("reported: %s", jalrt_last_error_message());
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "MMU_UNMAPPED"));
	ASSERT_EQ(0, jalrt_fence_error(f, &err));
	EXPECT_EQ(-EFAULT, err.error);
	EXPECT_EQ(JAL_STATUS_MMU_UNMAPPED, err.hw_status);
	EXPECT_EQ(jalrt_fence_seqno(f), err.failed_seqno);
	EXPECT_LE(UNMAPPED_VA, err.fault_addr);
	EXPECT_GT(UNMAPPED_VA + 64 * 4, err.fault_addr);
	EXPECT_EQ(24, err.error_offset);	/* the DISPATCH after WRITE_VALUE */

	if (f2) {
		EXPECT_EQ(-ECANCELED, jalrt_fence_wait(f2, TIMEOUT_NS));
		ASSERT_EQ(0, jalrt_fence_error(f2, &err));
		EXPECT_EQ(jalrt_fence_seqno(f), err.failed_seqno);
		jalrt_fence_destroy(f2);
	}
	v = *(uint64_t *)jalrt_buffer_host(ok);
	EXPECT_TRUE(v == 5 || (f2 && v == 6)) TH_LOG("value %llu", (unsigned long long)v);

	ASSERT_EQ(0, jalrt_context_status(self->ctx, &cst));
	EXPECT_TRUE(cst.banned);
	EXPECT_EQ(jalrt_fence_seqno(f), cst.error_seqno);
	EXPECT_EQ(-ECANCELED, jalrt_submit(self->ctx, cb2, NULL, 0, NULL, 0, NULL));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "banned"));

	jalrt_fence_destroy(f);
	jalrt_cmdbuf_destroy(cb);
	jalrt_cmdbuf_destroy(cb2);
	jalrt_kernel_destroy(k);
	jalrt_buffer_free(a);
	jalrt_buffer_free(ok);
}

/* Errors only the device can see: read-only memory, bad command, bad code. */
DEV_TEST(device_side_errors)
{
	struct jal_cmd_write_value wv = { 0 };
	struct jal_cmd_dispatch disp = { 0 };
	struct jalrt_buffer *ro, *code;
	struct jalrt_context *c;
	struct jalrt_job_error err;
	struct jalrt_cmdbuf *cb;
	struct jalrt_fence *f;
	struct jal_insn bad;
	uint32_t hdr;

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 64, JALRT_BUFFER_DEVICE_READONLY, &ro));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 64, JALRT_BUFFER_DEVICE_READONLY, &code));

	/* write to a read-only buffer: the helper refuses, a raw command faults */
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_LOW, &c));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	EXPECT_EQ(-EACCES, jalrt_cmdbuf_write_value(cb, ro, 0, 1));
	wv.hdr = JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, 6);
	wv.dst_va = jalrt_buffer_va(ro);
	ASSERT_EQ(0, jalrt_cmdbuf_emit_raw(cb, &wv, sizeof(wv)));
	ASSERT_EQ(0, jalrt_cmdbuf_use_buffer(cb, ro));
	ASSERT_EQ(0, jalrt_submit(c, cb, NULL, 0, NULL, 0, &f));
	EXPECT_EQ(-EFAULT, jalrt_fence_wait(f, TIMEOUT_NS));
	ASSERT_EQ(0, jalrt_fence_error(f, &err));
	EXPECT_EQ(JAL_STATUS_MMU_PERM, err.hw_status);
	EXPECT_EQ(jalrt_buffer_va(ro), err.fault_addr);
	jalrt_fence_destroy(f);
	jalrt_cmdbuf_destroy(cb);
	jalrt_context_destroy(c);

	/* an unknown command opcode */
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_LOW, &c));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	ASSERT_EQ(0, jalrt_cmdbuf_nop(cb));
	hdr = JAL_CMD_HDR(0x77, 1);
	ASSERT_EQ(0, jalrt_cmdbuf_emit_raw(cb, &hdr, 4));
	ASSERT_EQ(0, jalrt_submit(c, cb, NULL, 0, NULL, 0, &f));
	EXPECT_EQ(-EINVAL, jalrt_fence_wait(f, TIMEOUT_NS));
	ASSERT_EQ(0, jalrt_fence_error(f, &err));
	EXPECT_EQ(JAL_STATUS_BAD_CMD, err.hw_status);
	EXPECT_EQ(4, err.error_offset);
	jalrt_fence_destroy(f);
	jalrt_cmdbuf_destroy(cb);
	jalrt_context_destroy(c);

	/* code the builder would refuse, dispatched raw */
	memset(&bad, 0, sizeof(bad));
	bad.opcode = 0x7e;
	ASSERT_EQ(0, jalrt_buffer_upload(code, 0, &bad, sizeof(bad)));
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_LOW, &c));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	disp.hdr = JAL_CMD_HDR(JAL_CMD_DISPATCH, 8);
	disp.code_va = jalrt_buffer_va(code);
	disp.code_size = sizeof(bad);
	ASSERT_EQ(0, jalrt_cmdbuf_emit_raw(cb, &disp, sizeof(disp)));
	ASSERT_EQ(0, jalrt_cmdbuf_use_buffer(cb, code));
	ASSERT_EQ(0, jalrt_submit(c, cb, NULL, 0, NULL, 0, &f));
	EXPECT_EQ(-EINVAL, jalrt_fence_wait(f, TIMEOUT_NS));
	ASSERT_EQ(0, jalrt_fence_error(f, &err));
	EXPECT_EQ(JAL_STATUS_BAD_INSN, err.hw_status);
	jalrt_fence_destroy(f);
	jalrt_cmdbuf_destroy(cb);
	jalrt_context_destroy(c);

	jalrt_buffer_free(ro);
	jalrt_buffer_free(code);
}

/* One context failing leaves the others of the same file working. */
DEV_TEST(contexts_are_independent)
{
	struct jalrt_context *ctx[4];
	struct jalrt_buffer *b;
	struct jalrt_cmdbuf *bad;
	struct jal_cmd_write_value wv = { 0 };
	uint64_t *v;
	int p;

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 64, 0, &b));
	v = jalrt_buffer_host(b);
	for (p = 0; p < 4; p++)
		ASSERT_EQ(0, jalrt_context_create(self->dev, p, &ctx[p]))
			TH_LOG("priority %d: %s", p, jalrt_last_error_message());
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &bad));
	wv.hdr = JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, 6);
	wv.dst_va = UNMAPPED_VA;
	ASSERT_EQ(0, jalrt_cmdbuf_emit_raw(bad, &wv, sizeof(wv)));
	EXPECT_EQ(-EFAULT, jalrt_submit_sync(ctx[1], bad, NULL, 0, TIMEOUT_NS));
	for (p = 0; p < 4; p++) {
		int ret = jalrt_fill_sync(ctx[p], b, 8 * p, 8, 0x01010101u * (p + 1), TIMEOUT_NS);

		if (p == 1) {
			EXPECT_EQ(-ECANCELED, ret);
		} else {
			EXPECT_EQ(0, ret) TH_LOG("ctx %d: %s", p, jalrt_last_error_message());
		}
	}
	EXPECT_EQ(0x0101010101010101ull, v[0]);
	EXPECT_EQ(0, v[1]);
	EXPECT_EQ(0x0303030303030303ull, v[2]);
	EXPECT_EQ(0x0404040404040404ull, v[3]);
	for (p = 0; p < 4; p++)
		jalrt_context_destroy(ctx[p]);
	jalrt_cmdbuf_destroy(bad);
	jalrt_buffer_free(b);
}

/* A job on another context waits for a fence: copy X->Y, then Y->Z. */
DEV_TEST(wait_fences_order_jobs)
{
	const uint64_t size = 1 << 20;
	struct jalrt_buffer *x, *y, *z;
	struct jalrt_cmdbuf *c1, *c2;
	struct jalrt_context *other;
	struct jalrt_fence *f1, *f2;
	uint8_t *px;

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, size, 0, &x));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, size, 0, &y));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, size, 0, &z));
	px = jalrt_buffer_host(x);
	for (uint64_t i = 0; i < size; i++)
		px[i] = (uint8_t)(i * 7 + 1);
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_HIGH, &other));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &c1));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &c2));
	/* make the first job long: several passes */
	for (int i = 0; i < 4; i++)
		ASSERT_EQ(0, jalrt_cmdbuf_copy(c1, y, 0, x, 0, size));
	ASSERT_EQ(0, jalrt_cmdbuf_copy(c2, z, 0, y, 0, size));
	ASSERT_EQ(0, jalrt_submit(self->ctx, c1, NULL, 0, NULL, 0, &f1));
	ASSERT_EQ(0, jalrt_submit(other, c2, NULL, 0, &f1, 1, &f2));
	EXPECT_EQ(0, jalrt_fence_wait(f2, TIMEOUT_NS)) TH_LOG("%s", jalrt_last_error_message());
	/* f2 cannot have signalled before f1 */
	EXPECT_EQ(0, jalrt_fence_status(f1));
	EXPECT_EQ(0, memcmp(px, jalrt_buffer_host(z), size));
	jalrt_fence_destroy(f1);
	jalrt_fence_destroy(f2);
	jalrt_cmdbuf_destroy(c1);
	jalrt_cmdbuf_destroy(c2);
	jalrt_context_destroy(other);
	jalrt_buffer_free(x);
	jalrt_buffer_free(y);
	jalrt_buffer_free(z);
}

struct worker {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;	/* shared, or NULL for an own one */
	struct jalrt_kernel *k;
	int index;
	int failures;
	char msg[256];
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	const uint32_t n = 2048;
	struct jalrt_buffer *a = NULL, *b = NULL, *d = NULL;
	struct jalrt_context *ctx = w->ctx;
	uint32_t seed = 1000 + w->index;
	float *fa, *fb, *fd;
	uint64_t args[3];
	int it, ret;
	uint32_t i;

	if (!ctx && jalrt_context_create(w->dev, w->index % 3, &ctx))
		goto fail;
	if (jalrt_buffer_alloc(w->dev, n * 4, 0, &a) || jalrt_buffer_alloc(w->dev, n * 4, 0, &b) ||
	    jalrt_buffer_alloc(w->dev, n * 4, 0, &d))
		goto fail;
	fa = jalrt_buffer_host(a);
	fb = jalrt_buffer_host(b);
	fd = jalrt_buffer_host(d);
	args[0] = jalrt_buffer_va(d);
	args[1] = jalrt_buffer_va(a);
	args[2] = jalrt_buffer_va(b);
	struct jalrt_buffer *used[3] = { a, b, d };

	for (it = 0; it < 10; it++) {
		for (i = 0; i < n; i++) {
			fa[i] = rnd(&seed);
			fb[i] = rnd(&seed);
		}
		ret = jalrt_dispatch_sync(ctx, w->k, args, 3, used, 3, TIMEOUT_NS);
		if (ret)
			goto fail;
		for (i = 0; i < n; i++)
			if (fd[i] != fa[i] + fb[i]) {
				snprintf(w->msg, sizeof(w->msg), "iteration %d element %u wrong", it, i);
				w->failures++;
				goto out;
			}
	}
	goto out;
fail:
	snprintf(w->msg, sizeof(w->msg), "%s", jalrt_last_error_message());
	w->failures++;
out:
	jalrt_buffer_free(a);
	jalrt_buffer_free(b);
	jalrt_buffer_free(d);
	if (!w->ctx)
		jalrt_context_destroy(ctx);
	return NULL;
}

DEV_TEST(threads_own_and_shared_contexts)
{
	struct jalrt_kernel_builder *kb;
	struct worker w[6];
	pthread_t t[6];
	int i;

	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	jalrt_kb_vadd(kb, 0, 1, 2, JALRT_DIM(2048));
	struct jalrt_kernel *k = build(_metadata, self->dev, kb);

	ASSERT_NE(NULL, k);
	for (i = 0; i < 6; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].dev = self->dev;
		w[i].k = k;
		w[i].index = i;
		/* half share the fixture's context, half make their own */
		w[i].ctx = i % 2 ? self->ctx : NULL;
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker_main, &w[i]));
	}
	for (i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		EXPECT_EQ(0, w[i].failures) TH_LOG("thread %d: %s", i, w[i].msg);
	}
	jalrt_kernel_destroy(k);
}

/* Two opens are two address spaces; the library keeps their objects apart. */
DEV_TEST(second_open_is_separate)
{
	struct jalrt_device *dev2;
	struct jalrt_context *ctx2;
	struct jalrt_buffer *b1, *b2;
	struct jalrt_cmdbuf *cb;

	ASSERT_EQ(0, jalrt_device_open(0, &dev2));
	ASSERT_EQ(0, jalrt_context_create(dev2, JALRT_PRIORITY_NORMAL, &ctx2));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 64, 0, &b1));
	ASSERT_EQ(0, jalrt_buffer_alloc(dev2, 64, 0, &b2));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &cb));
	EXPECT_EQ(-EXDEV, jalrt_cmdbuf_copy(cb, b1, 0, b2, 0, 8));
	ASSERT_EQ(0, jalrt_cmdbuf_fill(cb, b1, 0, 64, 7));
	EXPECT_EQ(-EXDEV, jalrt_submit_sync(ctx2, cb, NULL, 0, TIMEOUT_NS));
	EXPECT_EQ(0, jalrt_fill_sync(ctx2, b2, 0, 64, 0x09090909, TIMEOUT_NS));
	EXPECT_EQ(9, ((uint8_t *)jalrt_buffer_host(b2))[63]);
	jalrt_cmdbuf_destroy(cb);
	jalrt_buffer_free(b1);
	jalrt_buffer_free(b2);
	jalrt_context_destroy(ctx2);
	jalrt_device_close(dev2);
}

TEST_HARNESS_MAIN
