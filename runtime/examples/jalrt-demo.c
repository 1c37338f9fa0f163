// SPDX-License-Identifier: MIT
/*
 * jalrt-demo: run a few jobs on a Jalapeño device with libjalrt and check
 * them against the host.
 *
 *   - vadd of two vectors, element count passed in a register,
 *   - matvec of a matrix with a vector,
 *   - a DMA copy,
 * and measure the job round trip, DMA bandwidth and matvec throughput
 * (device time from TIMESTAMP commands when the chip has them).
 *
 * Usage: jalrt-demo [device-index]. Exit status: 0 when every result
 * matches, 1 on a mismatch, 2 when something failed to run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jalrt.h"

#define VEC_N		4096
#define MAT_ROWS	256
#define MAT_COLS	512
#define COPY_BYTES	(4u << 20)
#define ROUND_TRIPS	50
#define TIMEOUT_NS	(30 * 1000000000LL)

struct demo {
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_device_info info;
	bool have_timestamps;
};

static int fail(const char *what, int err)
{
	fprintf(stderr, "jalrt-demo: %s failed: %s (%s)\n", what, jalrt_strerror(err),
		jalrt_last_error_message());
	return 2;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* Deterministic values in [-1, 1) so runs are comparable. */
static float lcg_float(uint32_t *state)
{
	*state = *state * 1664525u + 1013904223u;
	return (float)((*state >> 8) / 8388608.0 - 1.0);
}

static int demo_vadd(struct demo *d)
{
	static float a[VEC_N], b[VEC_N], out[VEC_N];
	struct jalrt_buffer *ba = NULL, *bb = NULL, *bd = NULL;
	struct jalrt_kernel_builder *kb = NULL;
	struct jalrt_kernel *k = NULL;
	struct jalrt_buffer *used[3];
	uint64_t args[4];
	uint32_t seed = 1;
	double max_err = 0;
	int ret, i, status = 2;

	for (i = 0; i < VEC_N; i++) {
		a[i] = lcg_float(&seed) * 100.0f;
		b[i] = lcg_float(&seed);
	}
	if ((ret = jalrt_buffer_alloc(d->dev, sizeof(a), JALRT_BUFFER_DEVICE_READONLY, &ba)) ||
	    (ret = jalrt_buffer_alloc(d->dev, sizeof(b), JALRT_BUFFER_DEVICE_READONLY, &bb)) ||
	    (ret = jalrt_buffer_alloc(d->dev, sizeof(out), 0, &bd))) {
		fail("buffer allocation", ret);
		goto out;
	}
	jalrt_buffer_upload(ba, 0, a, sizeof(a));
	jalrt_buffer_upload(bb, 0, b, sizeof(b));
	used[0] = ba;
	used[1] = bb;
	used[2] = bd;

	/* r0 = d, r1 = a, r2 = b, r3 = n: the length is a run-time value. */
	jalrt_kb_create(4, &kb);
	jalrt_kb_vadd(kb, 0, 1, 2, JALRT_DIM_REG(3));
	ret = jalrt_kb_finalize(kb, d->dev, &k);
	if (ret) {
		fail("building the vadd kernel", ret);
		goto out;
	}
	args[0] = jalrt_buffer_va(bd);
	args[1] = jalrt_buffer_va(ba);
	args[2] = jalrt_buffer_va(bb);
	args[3] = VEC_N;
	ret = jalrt_dispatch_sync(d->ctx, k, args, 4, used, 3, TIMEOUT_NS);
	if (ret) {
		fail("vadd job", ret);
		goto out;
	}
	jalrt_buffer_download(bd, 0, out, sizeof(out));
	for (i = 0; i < VEC_N; i++) {
		double err = fabs((double)out[i] - (double)(a[i] + b[i]));

		if (err > max_err)
			max_err = err;
	}
	printf("vadd   n=%d: d[0]=%.6f (%.6f + %.6f), d[%d]=%.6f, max error %.3g\n", VEC_N,
	       out[0], a[0], b[0], VEC_N - 1, out[VEC_N - 1], max_err);
	status = max_err == 0 ? 0 : 1;
	if (status)
		fprintf(stderr, "jalrt-demo: vadd result differs from the host\n");
out:
	jalrt_kernel_destroy(k);
	jalrt_kb_destroy(kb);
	jalrt_buffer_free(ba);
	jalrt_buffer_free(bb);
	jalrt_buffer_free(bd);
	return status;
}

static int demo_matvec(struct demo *d)
{
	static float w[MAT_ROWS * MAT_COLS], x[MAT_COLS], y[MAT_ROWS];
	struct jalrt_buffer *bw = NULL, *bx = NULL, *by = NULL, *bts = NULL;
	struct jalrt_kernel_builder *kb = NULL;
	struct jalrt_cmdbuf *cb = NULL;
	struct jalrt_kernel *k = NULL;
	struct jalrt_buffer *used[3];
	double max_err = 0, t0, us;
	uint64_t args[3];
	uint64_t ts[2] = { 0, 0 };
	uint32_t seed = 7;
	int ret, m, kk, status = 2;

	for (m = 0; m < MAT_ROWS * MAT_COLS; m++)
		w[m] = lcg_float(&seed);
	for (kk = 0; kk < MAT_COLS; kk++)
		x[kk] = lcg_float(&seed);
	if ((ret = jalrt_buffer_alloc(d->dev, sizeof(w), JALRT_BUFFER_DEVICE_READONLY, &bw)) ||
	    (ret = jalrt_buffer_alloc(d->dev, sizeof(x), JALRT_BUFFER_DEVICE_READONLY, &bx)) ||
	    (ret = jalrt_buffer_alloc(d->dev, sizeof(y), 0, &by)) ||
	    (ret = jalrt_buffer_alloc(d->dev, 16, 0, &bts))) {
		fail("buffer allocation", ret);
		goto out;
	}
	jalrt_buffer_upload(bw, 0, w, sizeof(w));
	jalrt_buffer_upload(bx, 0, x, sizeof(x));

	jalrt_kb_create(3, &kb);
	jalrt_kb_matvec(kb, 0, 1, 2, JALRT_DIM(MAT_ROWS), JALRT_DIM(MAT_COLS));
	ret = jalrt_kb_finalize(kb, d->dev, &k);
	if (ret) {
		fail("building the matvec kernel", ret);
		goto out;
	}
	args[0] = jalrt_buffer_va(by);
	args[1] = jalrt_buffer_va(bw);
	args[2] = jalrt_buffer_va(bx);
	used[0] = bw;
	used[1] = bx;
	used[2] = by;

	jalrt_cmdbuf_create(d->dev, &cb);
	if (d->have_timestamps)
		jalrt_cmdbuf_timestamp(cb, bts, 0);
	jalrt_cmdbuf_dispatch(cb, k, args, 3);
	if (d->have_timestamps)
		jalrt_cmdbuf_timestamp(cb, bts, 8);
	t0 = now_us();
	ret = jalrt_submit_sync(d->ctx, cb, used, 3, TIMEOUT_NS);
	us = now_us() - t0;
	if (ret) {
		fail("matvec job", ret);
		goto out;
	}
	jalrt_buffer_download(by, 0, y, sizeof(y));
	jalrt_buffer_download(bts, 0, ts, sizeof(ts));

	status = 0;
	for (m = 0; m < MAT_ROWS; m++) {
		double ref = 0, mag = 0, err;

		for (kk = 0; kk < MAT_COLS; kk++) {
			ref += (double)w[m * MAT_COLS + kk] * x[kk];
			mag += fabs((double)w[m * MAT_COLS + kk] * x[kk]);
		}
		err = fabs(y[m] - ref);
		if (err > max_err)
			max_err = err;
		/* f32 accumulation of MAT_COLS products: a few ulps of the magnitude. */
		if (err > 1e-5 * mag + 1e-6) {
			if (!status)
				fprintf(stderr, "jalrt-demo: matvec row %d: device %.7g, host %.7g\n",
					m, y[m], ref);
			status = 1;
		}
	}
	printf("matvec %dx%d: y[0]=%.6f y[%d]=%.6f, max error %.3g\n", MAT_ROWS, MAT_COLS, y[0],
	       MAT_ROWS - 1, y[MAT_ROWS - 1], max_err);
	if (d->have_timestamps && ts[1] > ts[0])
		printf("matvec: %.3f GFLOP/s device time (%.1f us), %.1f us round trip\n",
		       2.0 * MAT_ROWS * MAT_COLS / (double)(ts[1] - ts[0]),
		       (ts[1] - ts[0]) / 1e3, us);
	else
		printf("matvec: %.3f GFLOP/s including submission (%.1f us)\n",
		       2.0 * MAT_ROWS * MAT_COLS / (us * 1e3), us);
out:
	jalrt_cmdbuf_destroy(cb);
	jalrt_kernel_destroy(k);
	jalrt_kb_destroy(kb);
	jalrt_buffer_free(bw);
	jalrt_buffer_free(bx);
	jalrt_buffer_free(by);
	jalrt_buffer_free(bts);
	return status;
}

static int demo_copy(struct demo *d)
{
	struct jalrt_buffer *src = NULL, *dst = NULL, *bts = NULL;
	struct jalrt_cmdbuf *cb = NULL;
	uint64_t ts[2] = { 0, 0 };
	uint32_t *s, *t, seed = 3;
	int ret, status = 2;
	double t0, us;
	size_t i;

	if ((ret = jalrt_buffer_alloc(d->dev, COPY_BYTES, 0, &src)) ||
	    (ret = jalrt_buffer_alloc(d->dev, COPY_BYTES, 0, &dst)) ||
	    (ret = jalrt_buffer_alloc(d->dev, 16, 0, &bts))) {
		fail("buffer allocation", ret);
		goto out;
	}
	s = jalrt_buffer_host(src);
	t = jalrt_buffer_host(dst);
	for (i = 0; i < COPY_BYTES / 4; i++) {
		seed = seed * 1664525u + 1013904223u;
		s[i] = seed;
	}
	jalrt_cmdbuf_create(d->dev, &cb);
	if (d->have_timestamps)
		jalrt_cmdbuf_timestamp(cb, bts, 0);
	jalrt_cmdbuf_copy(cb, dst, 0, src, 0, COPY_BYTES);
	if (d->have_timestamps)
		jalrt_cmdbuf_timestamp(cb, bts, 8);
	t0 = now_us();
	ret = jalrt_submit_sync(d->ctx, cb, NULL, 0, TIMEOUT_NS);
	us = now_us() - t0;
	if (ret) {
		fail("copy job", ret);
		goto out;
	}
	jalrt_buffer_download(bts, 0, ts, sizeof(ts));
	status = memcmp(s, t, COPY_BYTES) ? 1 : 0;
	printf("copy   %u MiB: dst[0]=0x%08x dst[last]=0x%08x, %s\n", COPY_BYTES >> 20, t[0],
	       t[COPY_BYTES / 4 - 1], status ? "MISMATCH" : "identical to source");
	if (d->have_timestamps && ts[1] > ts[0])
		printf("copy: %.3f GB/s device time (%.1f us), %.3f GB/s with submission\n",
		       COPY_BYTES / (double)(ts[1] - ts[0]), (ts[1] - ts[0]) / 1e3,
		       COPY_BYTES / (us * 1e3));
	else
		printf("copy: %.3f GB/s including submission\n", COPY_BYTES / (us * 1e3));
out:
	jalrt_cmdbuf_destroy(cb);
	jalrt_buffer_free(src);
	jalrt_buffer_free(dst);
	jalrt_buffer_free(bts);
	return status;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int demo_round_trip(struct demo *d)
{
	struct jalrt_buffer *b = NULL;
	struct jalrt_cmdbuf *cb = NULL;
	double t0, us[ROUND_TRIPS], total = 0;
	uint64_t value = 0;
	int ret, i, status = 2;

	if ((ret = jalrt_buffer_alloc(d->dev, 8, 0, &b)) ||
	    (ret = jalrt_cmdbuf_create(d->dev, &cb)) ||
	    (ret = jalrt_cmdbuf_write_value(cb, b, 0, 0x4a4c504e00000000ull | ROUND_TRIPS))) {
		fail("setup", ret);
		goto out;
	}
	/* The same command buffer each time: only the submit and wait are timed. */
	for (i = 0; i < ROUND_TRIPS; i++) {
		t0 = now_us();
		ret = jalrt_submit_sync(d->ctx, cb, NULL, 0, TIMEOUT_NS);
		us[i] = now_us() - t0;
		if (ret) {
			fail("round-trip job", ret);
			goto out;
		}
		total += us[i];
	}
	qsort(us, ROUND_TRIPS, sizeof(us[0]), cmp_double);
	jalrt_buffer_download(b, 0, &value, sizeof(value));
	status = value == (0x4a4c504e00000000ull | ROUND_TRIPS) ? 0 : 1;
	printf("round trip (submit + wait of a WRITE_VALUE job, %d runs): median %.1f us, best %.1f us, mean %.1f us; value 0x%llx %s\n",
	       ROUND_TRIPS, us[ROUND_TRIPS / 2], us[0], total / ROUND_TRIPS,
	       (unsigned long long)value, status ? "WRONG" : "ok");
out:
	jalrt_cmdbuf_destroy(cb);
	jalrt_buffer_free(b);
	return status;
}

int main(int argc, char **argv)
{
	struct demo d = { 0 };
	unsigned int index = 0;
	int ret, status = 0, s;

	if (argc > 1)
		index = (unsigned int)strtoul(argv[1], NULL, 0);
	ret = jalrt_device_open(index, &d.dev);
	if (ret)
		return fail("opening the device", ret);
	jalrt_device_query(d.dev, &d.info);
	d.have_timestamps = d.info.caps & JAL_CAP_TIMESTAMP;
	printf("device %s: %s driver %u.%u.%u, chip %04x:%04x rev %u, version %u.%u, %u queues, %u contexts, VA [0x%llx, 0x%llx)\n",
	       d.info.path, d.info.driver_name, d.info.driver_version >> 16,
	       (d.info.driver_version >> 8) & 0xff, d.info.driver_version & 0xff,
	       d.info.vendor_id, d.info.device_id, d.info.revision, d.info.hw_version >> 16,
	       d.info.hw_version & 0xffff, d.info.num_queues, d.info.num_contexts,
	       (unsigned long long)d.info.va_start, (unsigned long long)d.info.va_end);
	ret = jalrt_context_create(d.dev, JALRT_PRIORITY_NORMAL, &d.ctx);
	if (ret) {
		jalrt_device_close(d.dev);
		return fail("creating a context", ret);
	}

	s = demo_vadd(&d);
	status = s > status ? s : status;
	s = demo_matvec(&d);
	status = s > status ? s : status;
	s = demo_copy(&d);
	status = s > status ? s : status;
	s = demo_round_trip(&d);
	status = s > status ? s : status;

	jalrt_context_destroy(d.ctx);
	jalrt_device_close(d.dev);
	printf("jalrt-demo: %s\n", status == 0 ? "all results match the host" :
	       status == 1 ? "MISMATCH" : "FAILED");
	return status;
}
