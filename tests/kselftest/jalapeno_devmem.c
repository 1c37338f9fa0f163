// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno device memory (DRM_JALAPENO_BO_VRAM BOs): vram_size in the
 * device info (also through an old 56-byte query); VRAM BO create and
 * info (mmap_offset 0, mmap fails, 2 MiB aligned VAs for big BOs); COPY
 * host -> VRAM -> host (small, odd, page-crossing, 64 MiB) and FILL,
 * checked byte for byte against a host model in which a new BO is all
 * zeros; VADD and MATVEC with operands (and code and arguments) in device
 * memory against a host reference; a new BO reads as zeros even after
 * another file freed device memory full of data; read-only, cross-file
 * and freed-BO accesses fault; exhausting device memory fails cleanly with
 * -ENOSPC and freeing makes it usable again; bad flags are -EINVAL.
 *
 * Named "devmem" so that it runs before jalapeno_reset, which reloads
 * the driver and must stay last.
 */
#include <float.h>
#include <math.h>
#include <time.h>

#include "jal_harness.h"

FIXTURE(vram) {
	int fd;
	uint32_t ctx;
	struct drm_jalapeno_device_info info;
};

FIXTURE_SETUP(vram)
{
	self->fd = jal_open();
	if (self->fd < 0)
		SKIP(return, "no jalapeno accel device (%d)", self->fd);
	ASSERT_EQ(0, jal_query_info(self->fd, &self->info));
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &self->ctx));
}

FIXTURE_TEARDOWN(vram)
{
	if (self->fd >= 0)
		close(self->fd);
}

#define NEED_VRAM() do {							\
	if (!self->info.vram_size)						\
		SKIP(return, "the chip has no device memory");			\
} while (0)

/* For tests that need some room: the model's default is 1 GiB. */
#define NEED_VRAM_MIB(mib) do {							\
	NEED_VRAM();								\
	if (self->info.vram_size < (mib) * JAL_MIB)				\
		SKIP(return, "less than %u MiB of device memory", (mib));	\
} while (0)

/* Size of the device info before vram_size was added. */
#define INFO_V1_SIZE	offsetof(struct drm_jalapeno_device_info, vram_size)

#define LARGE		(64 * JAL_MIB)
#define HUGE_PAGE	JAL_HUGE_PAGE_SIZE

/* A BO in device memory: like jal_bo_new() but never mapped. */
static int vbo_new(int fd, uint64_t size, uint32_t flags, struct jal_bo *bo)
{
	struct drm_jalapeno_bo_info info;
	int ret;

	memset(bo, 0, sizeof(*bo));
	bo->fd = fd;
	ret = jal_bo_create_raw(fd, size, flags | DRM_JALAPENO_BO_VRAM, &bo->handle, &bo->va);
	if (ret)
		return ret;
	ret = jal_bo_info(fd, bo->handle, &info);
	if (ret) {
		jal_gem_close(fd, bo->handle);
		bo->handle = 0;
		return ret;
	}
	bo->flags = info.flags;
	bo->size = info.size;
	bo->mmap_offset = info.mmap_offset;
	return 0;
}

/*
 * vbo_new(), retrying -ENOSPC for up to @wait_ms while memory freed by
 * another file (or by jobs still being cleaned up) comes back.
 */
static int vbo_new_wait(int fd, uint64_t size, struct jal_bo *bo, unsigned int wait_ms)
{
	const struct timespec ms = { .tv_nsec = 10 * 1000000 };
	uint64_t deadline = jal_now_ns() + wait_ms * 1000000ull;
	int ret;

	for (;;) {
		ret = vbo_new(fd, size, 0, bo);
		if (ret != -ENOSPC || jal_now_ns() > deadline)
			return ret;
		nanosleep(&ms, NULL);
	}
}

static void fill_random(void *buf, size_t len, uint64_t seed)
{
	uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = (uint8_t)jal_rand(&seed);
}

/* First differing byte offset, or -1. */
static long first_diff(const void *a, const void *b, size_t len)
{
	const uint8_t *x = a, *y = b;
	size_t i;

	for (i = 0; i < len; i++)
		if (x[i] != y[i])
			return (long)i;
	return -1;
}

/* Host model of FILL: byte i of the range gets byte (i % 4) of @pattern. */
static void ref_fill(uint8_t *ref, uint64_t off, uint32_t pattern, uint64_t size)
{
	uint64_t i;

	for (i = 0; i < size; i++)
		ref[off + i] = (uint8_t)(pattern >> (8 * (i % 4)));
}

/* @va must not fall in any of @bos. */
static bool va_unmapped(uint64_t va, const struct jal_bo *bos, unsigned int n)
{
	unsigned int k;

	for (k = 0; k < n; k++)
		if (va >= bos[k].va && va < bos[k].va + bos[k].size)
			return false;
	return true;
}

/* Run @cb on a new context; require an MMU fault @hw at @fault_va. */
static void run_expect_fault(struct __test_metadata *_metadata, int fd, struct jal_cmdbuf *cb,
			     const uint32_t *bos, uint32_t nbos, int hw, uint64_t fault_va)
{
	struct drm_jalapeno_ctx_status st;
	uint32_t ctx, sync;

	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_syncobj_new(fd, &sync));
	ASSERT_EQ(0, jal_submit(fd, ctx, cb, bos, nbos, NULL, 0, sync, NULL));
	ASSERT_EQ(0, jal_syncobj_wait(fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(-EFAULT, jal_syncobj_status(fd, sync));
	jal_assert_ctx_failed(_metadata, fd, ctx, -EFAULT, hw, &st);
	/* the exact VA; a page-granular report is accepted too */
	if (st.fault_addr != fault_va)
		ASSERT_EQ(fault_va & ~(JAL_PAGE_SIZE - 1), st.fault_addr);
	jal_syncobj_free(fd, sync);
	ASSERT_EQ(0, jal_ctx_destroy(fd, ctx));
}

JAL_TEST(vram, vram_size_reported)
{
	const struct drm_jalapeno_device_info *i = &self->info;
	unsigned char buf[128];
	struct drm_jalapeno_query q = {
		.type = DRM_JALAPENO_QUERY_DEVICE_INFO,
		.data = (uintptr_t)buf,
	};
	uint64_t vram;
	size_t k;

	TH_LOG("caps 0x%x, device memory %llu MiB", i->caps,
	       (unsigned long long)(i->vram_size >> 20));
	if (i->caps & JAL_CAP_VRAM) {
		ASSERT_NE(0, i->vram_size);
	} else {
		ASSERT_EQ(0, i->vram_size);
	}
	ASSERT_EQ(0, i->vram_size % i->page_size);
	ASSERT_EQ(64, sizeof(struct drm_jalapeno_device_info));
	ASSERT_EQ(56, INFO_V1_SIZE);

	/* A caller built against the 56-byte struct gets exactly its prefix. */
	memset(buf, 0xa5, sizeof(buf));
	q.size = INFO_V1_SIZE;
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	ASSERT_EQ(INFO_V1_SIZE, q.size);
	ASSERT_EQ(0, memcmp(buf, i, INFO_V1_SIZE));
	for (k = INFO_V1_SIZE; k < sizeof(buf); k++)
		ASSERT_EQ(0xa5, buf[k]);

	/* The full struct carries vram_size at offset 56. */
	memset(buf, 0xa5, sizeof(buf));
	q.size = sizeof(struct drm_jalapeno_device_info);
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	ASSERT_EQ(sizeof(struct drm_jalapeno_device_info), q.size);
	memcpy(&vram, buf + INFO_V1_SIZE, sizeof(vram));
	ASSERT_EQ(i->vram_size, vram);
	ASSERT_EQ(0xa5, buf[q.size]);
}

JAL_TEST(vram, bo_create_info_no_mmap)
{
	const uint64_t sizes[] = { 1, 5000, HUGE_PAGE, 3 * JAL_MIB + 4096, 4 * JAL_MIB };
	struct jal_bo bos[JAL_ARRAY_SIZE(sizes) + 2];
	unsigned int k, j, n = JAL_ARRAY_SIZE(sizes);
	void *map;

	NEED_VRAM_MIB(16);
	for (k = 0; k < n; k++) {
		ASSERT_EQ(0, vbo_new(self->fd, sizes[k], 0, &bos[k]));
		TH_LOG("size 0x%llx: va 0x%llx", (unsigned long long)sizes[k],
		       (unsigned long long)bos[k].va);
		ASSERT_EQ(DRM_JALAPENO_BO_VRAM, bos[k].flags);
		ASSERT_EQ((sizes[k] + 4095) & ~4095ull, bos[k].size);
		ASSERT_EQ(0, bos[k].mmap_offset);
		ASSERT_LE(self->info.va_start, bos[k].va);
		ASSERT_GE(self->info.va_end, bos[k].va + bos[k].size);
		ASSERT_EQ(0, bos[k].va % JAL_PAGE_SIZE);
		/* big BOs get 2 MiB aligned VAs, so the MMU can use 2 MiB pages */
		if (sizes[k] >= HUGE_PAGE)
			ASSERT_EQ(0, bos[k].va % HUGE_PAGE);

		/* no CPU access */
		errno = 0;
		map = mmap(NULL, bos[k].size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd,
			   bos[k].mmap_offset);
		ASSERT_EQ(MAP_FAILED, map);
		ASSERT_EQ(EINVAL, errno);
	}

	/* read-only in device memory; and a host BO next to them */
	ASSERT_EQ(0, vbo_new(self->fd, 8192, DRM_JALAPENO_BO_DEVICE_READONLY, &bos[n]));
	ASSERT_EQ(DRM_JALAPENO_BO_VRAM | DRM_JALAPENO_BO_DEVICE_READONLY, bos[n].flags);
	ASSERT_EQ(0, bos[n].mmap_offset);
	n++;
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &bos[n]));
	ASSERT_EQ(0, bos[n].flags);
	ASSERT_NE(0, bos[n].mmap_offset);
	n++;

	for (k = 0; k < n; k++)
		for (j = k + 1; j < n; j++)
			ASSERT_TRUE(bos[k].va + bos[k].size <= bos[j].va ||
				    bos[j].va + bos[j].size <= bos[k].va);

	/* a VRAM BO cannot be exported */
	{
		struct drm_prime_handle h = { .handle = bos[0].handle, .fd = -1 };
		int ret = jal_ioctl(self->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &h);

		ASSERT_EQ(-EOPNOTSUPP, ret);
	}

	for (k = 0; k < n; k++)
		jal_bo_free(&bos[k]);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * One job: COPYs from a host BO into a VRAM BO at odd offsets and sizes
 * (some crossing pages), VRAM -> VRAM within and between BOs (memmove
 * semantics), VRAM -> host; then the whole VRAM BO is read back. A host
 * model that starts from zeros (a new BO is zeroed) predicts every byte.
 */
JAL_TEST(vram, copy_roundtrip_small_odd_page_crossing)
{
	enum { VSIZE = 5 * 4096, V2SIZE = 4096 };
	struct copy { uint64_t from, to, size; };
	const struct copy up[] = {
		{ 0, 0, 1 }, { 3, 9, 3 }, { 1, 4093, 7 }, { 4090, 5000, 8200 },
		{ 777, VSIZE - 4099, 4099 }, { 12, 64, 33 },
	};
	const struct copy within[] = { { 5000, 5003, 3000 }, { 9000, 8100, 2000 } };
	const struct copy to_v2[] = { { 4090, 1, 4095 } };
	const struct copy down[] = {
		{ 4093, 5, 7 }, { 4999, 20, 8202 }, { 1, 9001, 4097 }, { VSIZE - 5, 15000, 5 },
	};
	const struct copy from_v2[] = { { 0, 16000, V2SIZE } };
	struct jal_bo src, dst, back, v, v2;
	uint8_t *vref, *v2ref, *dref;
	struct jal_cmdbuf cb;
	uint32_t handles[5];
	unsigned int k;

	NEED_VRAM();
	ASSERT_EQ(0, jal_bo_new(self->fd, VSIZE, 0, &src));
	ASSERT_EQ(0, jal_bo_new(self->fd, 5 * 4096, 0, &dst));
	ASSERT_EQ(0, jal_bo_new(self->fd, VSIZE, 0, &back));
	ASSERT_EQ(0, vbo_new(self->fd, VSIZE, 0, &v));
	ASSERT_EQ(0, vbo_new(self->fd, 100, 0, &v2));
	ASSERT_EQ(V2SIZE, v2.size);
	fill_random(src.map, src.size, 21);
	memset(dst.map, 0xee, dst.size);
	memset(back.map, 0xdd, back.size);
	vref = calloc(1, VSIZE);
	v2ref = calloc(1, V2SIZE);
	dref = malloc(dst.size);
	ASSERT_NE(NULL, vref);
	ASSERT_NE(NULL, v2ref);
	ASSERT_NE(NULL, dref);
	memcpy(dref, dst.map, dst.size);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < JAL_ARRAY_SIZE(up); k++) {
		jal_emit_copy(&cb, src.va + up[k].from, v.va + up[k].to, up[k].size);
		memcpy(vref + up[k].to, (uint8_t *)src.map + up[k].from, up[k].size);
	}
	for (k = 0; k < JAL_ARRAY_SIZE(within); k++) {
		jal_emit_copy(&cb, v.va + within[k].from, v.va + within[k].to, within[k].size);
		memmove(vref + within[k].to, vref + within[k].from, within[k].size);
	}
	for (k = 0; k < JAL_ARRAY_SIZE(to_v2); k++) {
		jal_emit_copy(&cb, v.va + to_v2[k].from, v2.va + to_v2[k].to, to_v2[k].size);
		memcpy(v2ref + to_v2[k].to, vref + to_v2[k].from, to_v2[k].size);
	}
	for (k = 0; k < JAL_ARRAY_SIZE(down); k++) {
		jal_emit_copy(&cb, v.va + down[k].from, dst.va + down[k].to, down[k].size);
		memcpy(dref + down[k].to, vref + down[k].from, down[k].size);
	}
	for (k = 0; k < JAL_ARRAY_SIZE(from_v2); k++) {
		jal_emit_copy(&cb, v2.va + from_v2[k].from, dst.va + from_v2[k].to,
			      from_v2[k].size);
		memcpy(dref + from_v2[k].to, v2ref + from_v2[k].from, from_v2[k].size);
	}
	jal_emit_copy(&cb, v.va, back.va, VSIZE);
	handles[0] = src.handle;
	handles[1] = dst.handle;
	handles[2] = back.handle;
	handles[3] = v.handle;
	handles[4] = v2.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 5);

	ASSERT_EQ(-1, first_diff(vref, back.map, VSIZE));
	ASSERT_EQ(-1, first_diff(dref, dst.map, dst.size));
	/* BO_WAIT works on VRAM BOs too: the job is done */
	ASSERT_EQ(0, jal_bo_wait(self->fd, v.handle, jal_now_ns()));
	free(vref);
	free(v2ref);
	free(dref);
}

/*
 * 64 MiB up and back in one job at odd offsets: the read-back covers the
 * whole VRAM BO, so its untouched edges must still be the zeros it was
 * created with. The BO is mapped with 2 MiB pages.
 */
JAL_SLOW_TEST(vram, copy_roundtrip_64mib)
{
	const uint64_t so = 3, vo = 5, size = LARGE - 8;
	struct jal_bo src, dst, v;
	struct jal_cmdbuf cb;
	uint32_t handles[3];
	uint64_t *s64, i;
	uint8_t *d;

	NEED_VRAM_MIB(64);
	ASSERT_EQ(0, jal_bo_new(self->fd, LARGE, 0, &src));
	ASSERT_EQ(0, jal_bo_new(self->fd, LARGE, 0, &dst));
	ASSERT_EQ(0, vbo_new(self->fd, LARGE, 0, &v));
	s64 = src.map;
	for (i = 0; i < LARGE / 8; i++)
		s64[i] = (i + 1) * 0x9e3779b97f4a7c15ull;
	d = dst.map;
	memset(d, 0x66, LARGE);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_copy(&cb, src.va + so, v.va + vo, size);
	jal_emit_copy(&cb, v.va, dst.va, LARGE);
	handles[0] = src.handle;
	handles[1] = dst.handle;
	handles[2] = v.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 3);

	for (i = 0; i < vo; i++)
		ASSERT_EQ(0, d[i]);
	for (i = vo + size; i < LARGE; i++)
		ASSERT_EQ(0, d[i]);
	if (memcmp(d + vo, (uint8_t *)src.map + so, size)) {
		TH_LOG("first difference at byte %ld of the copy",
		       first_diff(d + vo, (uint8_t *)src.map + so, size));
		ASSERT_EQ(0, memcmp(d + vo, (uint8_t *)src.map + so, size));
	}
}

/* FILL in device memory at odd offsets and sizes, across 4 KiB and 2 MiB pages. */
JAL_TEST(vram, fill_in_vram)
{
	enum { VSIZE = 4 * 1024 * 1024 };
	struct fill { uint64_t off; uint32_t pattern; uint64_t size; };
	const struct fill fills[] = {
		{ 1, 0x44332211, 7 }, { 4093, 0xa1b2c3d4, 6 }, { 8191, 0x01020304, 4096 + 4095 },
		{ 100, 0x5a5a5a5a, 0 }, { HUGE_PAGE - 5, 0xc0ffee11, 10 },
		{ HUGE_PAGE - 4096 - 1, 0x13579bdf, 3 * 4096 + 2 }, { VSIZE - 3, 0x77665544, 3 },
		{ 3 * JAL_MIB + 1, 0x0badf00d, 300000 },
	};
	struct jal_bo back, v;
	struct jal_cmdbuf cb;
	uint32_t handles[2];
	unsigned int k;
	uint8_t *ref;

	NEED_VRAM_MIB(4);
	ASSERT_EQ(0, vbo_new(self->fd, VSIZE, 0, &v));
	ASSERT_EQ(0, jal_bo_new(self->fd, VSIZE, 0, &back));
	memset(back.map, 0xdd, back.size);
	ref = calloc(1, VSIZE);
	ASSERT_NE(NULL, ref);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < JAL_ARRAY_SIZE(fills); k++) {
		jal_emit_fill(&cb, v.va + fills[k].off, fills[k].pattern, fills[k].size);
		ref_fill(ref, fills[k].off, fills[k].pattern, fills[k].size);
	}
	jal_emit_copy(&cb, v.va, back.va, VSIZE);
	handles[0] = v.handle;
	handles[1] = back.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 2);
	if (memcmp(ref, back.map, VSIZE)) {
		TH_LOG("first difference at byte %ld", first_diff(ref, back.map, VSIZE));
		ASSERT_EQ(0, memcmp(ref, back.map, VSIZE));
	}
	free(ref);
}

/*
 * VADD d = a + b with @a_in_vram / @b_in_vram / @d_in_vram choosing
 * where each operand lives; one job uploads the VRAM inputs, runs the
 * kernel and downloads a VRAM result. Bit-exact against the host.
 */
static void check_vadd(struct __test_metadata *_metadata, int fd, uint32_t ctx, uint32_t n,
		       bool a_in_vram, bool b_in_vram, bool d_in_vram)
{
	const uint64_t bytes = (uint64_t)n * sizeof(float);
	const struct jal_insn code[] = {
		jal_i_vec(JAL_OP_VADD, 0, 1, 2, n, 1, 1, 1),
		jal_i_halt(),
	};
	struct jal_bo ha, hb, hd, va, vb, vd;
	float *fa, *fb, *fd_;
	uint64_t args[3], seed = n;
	uint32_t handles[7];
	struct jal_prog p;
	uint32_t i;

	ASSERT_EQ(0, jal_bo_new(fd, bytes, 0, &ha));
	ASSERT_EQ(0, jal_bo_new(fd, bytes, 0, &hb));
	ASSERT_EQ(0, jal_bo_new(fd, bytes, 0, &hd));
	ASSERT_EQ(0, vbo_new(fd, bytes, 0, &va));
	ASSERT_EQ(0, vbo_new(fd, bytes, 0, &vb));
	ASSERT_EQ(0, vbo_new(fd, bytes, 0, &vd));
	fa = ha.map;
	fb = hb.map;
	fd_ = hd.map;
	for (i = 0; i < n; i++) {
		fa[i] = jal_randf(&seed);
		fb[i] = jal_randf(&seed);
		fd_[i] = -1.0f;
	}
	args[0] = d_in_vram ? vd.va : hd.va;
	args[1] = a_in_vram ? va.va : ha.va;
	args[2] = b_in_vram ? vb.va : hb.va;
	ASSERT_EQ(0, jal_prog_new(fd, &p, code, JAL_ARRAY_SIZE(code), args, 3));
	p.cb.len = 0;
	if (a_in_vram)
		jal_emit_copy(&p.cb, ha.va, va.va, bytes);
	if (b_in_vram)
		jal_emit_copy(&p.cb, hb.va, vb.va, bytes);
	jal_emit_dispatch(&p.cb, p.bo.va + JAL_PROG_CODE_OFFSET, sizeof(code), p.bo.va,
			  sizeof(args));
	if (d_in_vram)
		jal_emit_copy(&p.cb, vd.va, hd.va, bytes);
	handles[0] = p.bo.handle;
	handles[1] = ha.handle;
	handles[2] = hb.handle;
	handles[3] = hd.handle;
	handles[4] = va.handle;
	handles[5] = vb.handle;
	handles[6] = vd.handle;
	ASSERT_JOB_OK(fd, ctx, &p.cb, handles, 7);
	for (i = 0; i < n; i++) {
		if (jal_f2u(fa[i] + fb[i]) != jal_f2u(fd_[i])) {
			TH_LOG("n %u element %u: want %a got %a", n, i, fa[i] + fb[i], fd_[i]);
			ASSERT_EQ(jal_f2u(fa[i] + fb[i]), jal_f2u(fd_[i]));
		}
	}
	jal_prog_free(&p);
	jal_bo_free(&ha);
	jal_bo_free(&hb);
	jal_bo_free(&hd);
	jal_bo_free(&va);
	jal_bo_free(&vb);
	jal_bo_free(&vd);
}

JAL_TEST(vram, vadd_operands_in_vram)
{
	NEED_VRAM_MIB(8);
	check_vadd(_metadata, self->fd, self->ctx, 1027, true, true, true);
	/* 2 MiB + 12 bytes per operand: 2 MiB pages and 4 KiB pages */
	check_vadd(_metadata, self->fd, self->ctx, (1u << 19) + 3, true, true, true);
	/* mixed host and device memory */
	check_vadd(_metadata, self->fd, self->ctx, 4099, true, false, false);
	check_vadd(_metadata, self->fd, self->ctx, 333, false, true, true);
}

/*
 * MATVEC with W, x, d, the argument block and the kernel code all in
 * device memory (uploaded by COPY from one host staging BO, the result
 * copied back into it), against a double-precision reference with a
 * rounding bound.
 */
static void check_matvec(struct __test_metadata *_metadata, int fd, uint32_t ctx,
			 uint32_t rows, uint32_t cols)
{
	const uint64_t wbytes = (uint64_t)rows * cols * 4, xbytes = cols * 4ull;
	const uint64_t dbytes = rows * 4ull;
	const struct jal_insn code[] = {
		jal_i_matvec(0, 1, 2, rows, cols, 1, 0, 1),
		jal_i_halt(),
	};
	/* staging layout: W, x, args, code, then the result */
	const uint64_t xoff = wbytes, aoff = xoff + xbytes, coff = aoff + 64;
	const uint64_t doff = coff + sizeof(code);
	struct jal_bo stage, vw, vx, vd, vprog;
	uint64_t args[3], seed = rows * 7919ull + cols;
	uint32_t handles[5];
	struct jal_cmdbuf cb;
	float *w, *x, *d;
	uint64_t m, k;

	ASSERT_EQ(0, jal_bo_new(fd, doff + dbytes, 0, &stage));
	ASSERT_EQ(0, vbo_new(fd, wbytes, 0, &vw));
	ASSERT_EQ(0, vbo_new(fd, xbytes, 0, &vx));
	ASSERT_EQ(0, vbo_new(fd, dbytes, 0, &vd));
	ASSERT_EQ(0, vbo_new(fd, 4096, 0, &vprog));
	w = stage.map;
	x = (float *)((char *)stage.map + xoff);
	d = (float *)((char *)stage.map + doff);
	for (k = 0; k < (uint64_t)rows * cols; k++)
		w[k] = jal_randf(&seed);
	for (k = 0; k < cols; k++)
		x[k] = jal_randf(&seed);
	for (k = 0; k < rows; k++)
		d[k] = -1.0f;
	args[0] = vd.va;
	args[1] = vw.va;
	args[2] = vx.va;
	memcpy((char *)stage.map + aoff, args, sizeof(args));
	memcpy((char *)stage.map + coff, code, sizeof(code));

	ASSERT_EQ(0, jal_cmdbuf_new(fd, &cb));
	jal_emit_copy(&cb, stage.va, vw.va, wbytes);
	jal_emit_copy(&cb, stage.va + xoff, vx.va, xbytes);
	jal_emit_copy(&cb, stage.va + aoff, vprog.va, sizeof(args));
	jal_emit_copy(&cb, stage.va + coff, vprog.va + 64, sizeof(code));
	jal_emit_dispatch(&cb, vprog.va + 64, sizeof(code), vprog.va, sizeof(args));
	jal_emit_copy(&cb, vd.va, stage.va + doff, dbytes);
	handles[0] = stage.handle;
	handles[1] = vw.handle;
	handles[2] = vx.handle;
	handles[3] = vd.handle;
	handles[4] = vprog.handle;
	ASSERT_JOB_OK(fd, ctx, &cb, handles, 5);

	for (m = 0; m < rows; m++) {
		double sum = 0, mag = 0, tol;

		for (k = 0; k < cols; k++) {
			double prod = (double)w[m * cols + k] * x[k];

			sum += prod;
			mag += fabs(prod);
		}
		tol = (cols + 2) * FLT_EPSILON * mag + FLT_MIN;
		if (fabs(d[m] - sum) > tol) {
			TH_LOG("%ux%u row %llu: want %g got %g (tolerance %g)", rows, cols,
			       (unsigned long long)m, sum, d[m], tol);
			ASSERT_GE(tol, fabs(d[m] - sum));
		}
	}
	jal_cmdbuf_free(&cb);
	jal_bo_free(&stage);
	jal_bo_free(&vw);
	jal_bo_free(&vx);
	jal_bo_free(&vd);
	jal_bo_free(&vprog);
}

JAL_TEST(vram, matvec_operands_code_args_in_vram)
{
	NEED_VRAM_MIB(8);
	check_matvec(_metadata, self->fd, self->ctx, 37, 53);
	/* W of exactly 2 MiB: one 2 MiB page */
	check_matvec(_metadata, self->fd, self->ctx, 512, 1024);
	/* W of 2 MiB + 7 rows, row length not a power of two */
	check_matvec(_metadata, self->fd, self->ctx, 525, 999);
}

/* Allocates as much device memory as @fd can get in @chunk sized BOs. */
static unsigned int grab_all(int fd, uint64_t chunk, struct jal_bo *bos, unsigned int max,
			     int *last_err)
{
	unsigned int n = 0;

	*last_err = 0;
	while (n < max) {
		*last_err = vbo_new(fd, chunk, 0, &bos[n]);
		if (*last_err)
			break;
		n++;
	}
	return n;
}

/*
 * Every row of the @size byte VRAM BO, seen as rows of 1024 floats, sums
 * to @want (x = ones): that is how the test reads device memory without
 * copying it all to the host.
 */
static void check_row_sums(struct __test_metadata *_metadata, int fd, uint32_t ctx,
			   const struct jal_bo *v, const struct jal_bo *ones,
			   const struct jal_bo *sums, float want)
{
	const uint32_t cols = 1024, rows = v->size / (cols * 4);
	const struct jal_insn code[] = { jal_i_matvec(0, 1, 2, rows, cols, 1, 0, 1) };
	uint64_t args[3] = { sums->va, v->va, ones->va };
	uint32_t handles[3] = { v->handle, ones->handle, sums->handle };
	const float *s = sums->map;
	uint32_t m;

	ASSERT_EQ(0, v->size % (cols * 4));
	ASSERT_GE(sums->size, rows * 4ull);
	memset(sums->map, 0xff, rows * 4ull);
	ASSERT_EQ(0, jal_dispatch(fd, ctx, code, 1, args, 3, handles, 3));
	ASSERT_EQ(0, jal_ctx_error(fd, ctx));
	for (m = 0; m < rows; m++) {
		if (s[m] != want) {
			TH_LOG("BO va 0x%llx row %u: sum %g, want %g",
			       (unsigned long long)v->va, m, s[m], want);
			ASSERT_EQ(jal_f2u(want), jal_f2u(s[m]));
		}
	}
}

#define MAX_CHUNKS	512
#define CHUNK		(64 * JAL_MIB)
#define SMALL_CHUNK	JAL_MIB

/* BOs of 64 MiB, or of 1 MiB if there is little device memory. */
static uint64_t big_chunk(const struct drm_jalapeno_device_info *info)
{
	return info->vram_size >= 4 * CHUNK ? CHUNK : SMALL_CHUNK;
}

/*
 * Another file takes all device memory and fills it with 1.0f, checks
 * that, and closes. This file then gets all of it back (so every range
 * the other file wrote) and every byte reads as zero.
 */
JAL_SLOW_TEST(vram, new_bo_zeroed_after_other_file_freed)
{
	static struct jal_bo pbos[MAX_CHUNKS], bos[MAX_CHUNKS];
	unsigned int np = 0, n = 0, k, big;
	struct jal_bo ones, sums;
	uint64_t ptotal = 0, total = 0, chunk;
	uint32_t pctx;
	int pfd, err;
	float *f;

	NEED_VRAM();
	chunk = big_chunk(&self->info);

	pfd = jal_open();
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, jal_ctx_create(pfd, DRM_JALAPENO_PRIORITY_NORMAL, &pctx));
	ASSERT_EQ(0, jal_bo_new(pfd, 1024 * 4, 0, &ones));
	ASSERT_EQ(0, jal_bo_new(pfd, chunk / 1024, 0, &sums));
	f = ones.map;
	for (k = 0; k < 1024; k++)
		f[k] = 1.0f;

	np = grab_all(pfd, chunk, pbos, MAX_CHUNKS, &err);
	ASSERT_EQ(-ENOSPC, err);
	big = np;
	np += grab_all(pfd, SMALL_CHUNK, pbos + np, MAX_CHUNKS - np, &err);
	ASSERT_EQ(-ENOSPC, err);
	for (k = 0; k < np; k++) {
		struct jal_cmdbuf cb;

		ptotal += pbos[k].size;
		ASSERT_EQ(0, jal_cmdbuf_new(pfd, &cb));
		jal_emit_fill(&cb, pbos[k].va, jal_f2u(1.0f), pbos[k].size);
		ASSERT_JOB_OK(pfd, pctx, &cb, &pbos[k].handle, 1);
		jal_cmdbuf_free(&cb);
		check_row_sums(_metadata, pfd, pctx, &pbos[k], &ones, &sums, 1024.0f);
	}
	TH_LOG("the other file filled %u BOs, %llu MiB of %llu MiB", np,
	       (unsigned long long)(ptotal >> 20),
	       (unsigned long long)(self->info.vram_size >> 20));
	ASSERT_LE(ptotal, self->info.vram_size);
	ASSERT_LE(self->info.vram_size / 2, ptotal);
	jal_bo_free(&ones);
	jal_bo_free(&sums);
	close(pfd);

	/* The same amount in the same chunks: it may take a moment to come back. */
	ASSERT_EQ(0, jal_bo_new(self->fd, 1024 * 4, 0, &ones));
	ASSERT_EQ(0, jal_bo_new(self->fd, chunk / 1024, 0, &sums));
	f = ones.map;
	for (k = 0; k < 1024; k++)
		f[k] = 1.0f;
	for (n = 0; n < np; n++) {
		ASSERT_EQ(0, vbo_new_wait(self->fd, n < big ? chunk : SMALL_CHUNK, &bos[n],
					  30000));
		total += bos[n].size;
		check_row_sums(_metadata, self->fd, self->ctx, &bos[n], &ones, &sums, 0.0f);
	}
	ASSERT_EQ(ptotal, total);
	for (k = 0; k < n; k++)
		jal_bo_free(&bos[k]);
}

/*
 * Allocating device memory until it runs out fails with -ENOSPC, for this
 * file and any other; the total never exceeds vram_size; a BO larger
 * than all device memory fails the same way; freeing one BO makes room
 * for another that works.
 */
JAL_SLOW_TEST(vram, exhaust_then_free_recovers)
{
	static struct jal_bo bos[MAX_CHUNKS];
	unsigned int n, big, k;
	struct jal_bo other, back;
	struct jal_cmdbuf cb;
	uint64_t total = 0, chunk;
	uint32_t handles[2];
	uint32_t *w;
	int err, ofd;

	NEED_VRAM_MIB(4);
	chunk = big_chunk(&self->info);
	ASSERT_EQ(-ENOSPC, vbo_new(self->fd, self->info.vram_size + 4096, 0, &other));

	n = grab_all(self->fd, chunk, bos, MAX_CHUNKS, &err);
	ASSERT_EQ(-ENOSPC, err);
	big = n;
	n += grab_all(self->fd, SMALL_CHUNK, bos + n, MAX_CHUNKS - n, &err);
	ASSERT_EQ(-ENOSPC, err);
	ASSERT_EQ(-ENOSPC, vbo_new(self->fd, 4096 * 256, 0, &other));
	for (k = 0; k < n; k++)
		total += bos[k].size;
	TH_LOG("%u BOs (%u of %llu MiB), %llu MiB of %llu MiB", n, big,
	       (unsigned long long)(chunk >> 20),
	       (unsigned long long)(total >> 20),
	       (unsigned long long)(self->info.vram_size >> 20));
	ASSERT_LE(total, self->info.vram_size);
	ASSERT_LT(0, big);

	/* another file cannot get any either */
	ofd = jal_open();
	ASSERT_LE(0, ofd);
	ASSERT_EQ(-ENOSPC, vbo_new(ofd, SMALL_CHUNK, 0, &other));
	/* host BOs are unaffected */
	ASSERT_EQ(0, jal_device_usable(ofd));
	close(ofd);

	/* give one big BO back: the same size fits again, and works */
	jal_bo_free(&bos[0]);
	ASSERT_EQ(0, vbo_new_wait(self->fd, chunk, &bos[0], 30000));
	ASSERT_EQ(0, jal_bo_new(self->fd, 3 * 4096, 0, &back));
	memset(back.map, 0xdd, back.size);
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, bos[0].va + chunk - 8192, 0x600dda7a, 4096);
	jal_emit_copy(&cb, bos[0].va + chunk - 12288, back.va, 3 * 4096);
	handles[0] = bos[0].handle;
	handles[1] = back.handle;
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 2);
	w = back.map;
	for (k = 0; k < 3 * 1024; k++)
		ASSERT_EQ(k >= 1024 && k < 2048 ? 0x600dda7au : 0, w[k]);

	for (k = 0; k < n; k++)
		jal_bo_free(&bos[k]);
	/* everything is back: one BO of (almost) all device memory fits */
	ASSERT_EQ(0, vbo_new_wait(self->fd, total, &other, 30000));
	jal_bo_free(&other);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* Device writes to a read-only VRAM BO fault; reads work (and see zeros). */
JAL_TEST(vram, readonly_vram_write_faults)
{
	struct jal_bo ro, src, dst;
	struct jal_cmdbuf cb;
	uint32_t handles[3];
	uint8_t *d;
	uint64_t k;

	NEED_VRAM();
	ASSERT_EQ(0, vbo_new(self->fd, 8192, DRM_JALAPENO_BO_DEVICE_READONLY, &ro));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &src));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &dst));
	fill_random(src.map, src.size, 5);
	memset(dst.map, 0xee, dst.size);
	handles[0] = ro.handle;
	handles[1] = src.handle;
	handles[2] = dst.handle;

	/* read: works */
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_copy(&cb, ro.va, dst.va, ro.size);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 3);
	d = dst.map;
	for (k = 0; k < dst.size; k++)
		ASSERT_EQ(0, d[k]);

	/* COPY into it, FILL into it */
	cb.len = 0;
	jal_emit_copy(&cb, src.va, ro.va + 100, 16);
	run_expect_fault(_metadata, self->fd, &cb, handles, 3, JAL_STATUS_MMU_PERM, ro.va + 100);
	cb.len = 0;
	jal_emit_fill(&cb, ro.va + 4096 + 3, 0x12345678, 4);
	run_expect_fault(_metadata, self->fd, &cb, handles, 3, JAL_STATUS_MMU_PERM,
			 ro.va + 4096 + 3);

	/* still all zeros */
	cb.len = 0;
	memset(dst.map, 0xee, dst.size);
	jal_emit_copy(&cb, ro.va, dst.va, ro.size);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, handles, 3);
	for (k = 0; k < dst.size; k++)
		ASSERT_EQ(0, d[k]);
}

#define PEER_PATTERN	0x5eed5eedu

/*
 * Another file's VRAM BO is not mapped in this file: reads and writes
 * fault, and its contents stay as they were.
 */
JAL_TEST(vram, cross_file_vram_faults)
{
	struct jal_bo spacer, target, dst, src;
	struct jal_cmdbuf cb, pcb;
	uint32_t handles[2], pctx;
	uint64_t k;
	int pfd;

	NEED_VRAM();
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &dst));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &src));

	/* the peer: a 4 MiB spacer so its BO lies above this file's BOs */
	pfd = jal_open();
	ASSERT_LE(0, pfd);
	ASSERT_EQ(0, jal_ctx_create(pfd, DRM_JALAPENO_PRIORITY_NORMAL, &pctx));
	ASSERT_EQ(0, jal_bo_new(pfd, 4 * JAL_MIB, 0, &spacer));
	ASSERT_EQ(0, vbo_new(pfd, 8192, 0, &target));
	ASSERT_EQ(0, jal_cmdbuf_new(pfd, &pcb));
	jal_emit_fill(&pcb, target.va, PEER_PATTERN, target.size);
	ASSERT_JOB_OK(pfd, pctx, &pcb, &target.handle, 1);
	ASSERT_TRUE(va_unmapped(target.va, (struct jal_bo[]){ cb.bo, dst, src }, 3));
	ASSERT_TRUE(va_unmapped(target.va + 4096, (struct jal_bo[]){ cb.bo, dst, src }, 3));

	handles[0] = dst.handle;
	handles[1] = src.handle;
	jal_emit_copy(&cb, target.va + 8, dst.va, 64);
	run_expect_fault(_metadata, self->fd, &cb, handles, 2, JAL_STATUS_MMU_UNMAPPED,
			 target.va + 8);
	cb.len = 0;
	jal_emit_copy(&cb, src.va, target.va + 4096, 4096);
	run_expect_fault(_metadata, self->fd, &cb, handles, 2, JAL_STATUS_MMU_UNMAPPED,
			 target.va + 4096);
	cb.len = 0;
	jal_emit_fill(&cb, target.va, 0, target.size);
	run_expect_fault(_metadata, self->fd, &cb, handles, 2, JAL_STATUS_MMU_UNMAPPED,
			 target.va);

	/* the peer's data is intact and the peer keeps working */
	pcb.len = 0;
	jal_emit_copy(&pcb, target.va, spacer.va, target.size);
	handles[0] = target.handle;
	handles[1] = spacer.handle;
	ASSERT_JOB_OK(pfd, pctx, &pcb, handles, 2);
	for (k = 0; k < target.size / 4; k++)
		ASSERT_EQ(PEER_PATTERN, ((uint32_t *)spacer.map)[k]);
	close(pfd);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * A freed VRAM BO is unmapped at once, 2 MiB pages included: a later job
 * faults on its VA. The VA range can then be reused by host BOs mapped
 * with 4 KiB pages.
 */
JAL_TEST(vram, freed_vram_bo_is_unmapped)
{
	struct jal_bo v, dst, host;
	struct jal_cmdbuf cb;
	uint64_t vva, k;
	uint32_t *w;

	NEED_VRAM();
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &dst));
	ASSERT_EQ(0, vbo_new(self->fd, 4 * JAL_MIB, 0, &v));
	ASSERT_EQ(0, v.va % HUGE_PAGE);
	vva = v.va;
	jal_emit_fill(&cb, v.va + 3 * JAL_MIB, 0xabcdabcd, 64);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &v.handle, 1);
	jal_bo_free(&v);

	cb.len = 0;
	jal_emit_copy(&cb, vva + 3 * JAL_MIB, dst.va, 64);
	run_expect_fault(_metadata, self->fd, &cb, &dst.handle, 1, JAL_STATUS_MMU_UNMAPPED,
			 vva + 3 * JAL_MIB);

	/*
	 * A host BO over (part of) the old range, now mapped with 4 KiB
	 * pages where 2 MiB pages were: every page reaches host memory.
	 */
	ASSERT_EQ(0, jal_bo_new(self->fd, 4 * JAL_MIB, 0, &host));
	TH_LOG("VRAM BO was at 0x%llx, host BO now at 0x%llx", (unsigned long long)vva,
	       (unsigned long long)host.va);
	ASSERT_TRUE(host.va < vva + 4 * JAL_MIB && vva < host.va + host.size);
	cb.len = 0;
	for (k = 0; k < 4 * JAL_MIB; k += 256 * 1024)
		jal_emit_write_value(&cb, host.va + k + 8, k + 1);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &host.handle, 1);
	w = host.map;
	for (k = 0; k < 4 * JAL_MIB; k += 256 * 1024)
		ASSERT_EQ(k + 1, *(uint64_t *)&w[(k + 8) / 4]);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_TEST(vram, bad_flags_einval)
{
	const uint32_t bad[] = {
		1u << 2, 0x80000000u, ~0u, DRM_JALAPENO_BO_VRAM | (1u << 2),
		DRM_JALAPENO_BO_VRAM | DRM_JALAPENO_BO_DEVICE_READONLY | 0x100u,
	};
	struct drm_jalapeno_bo_create c;
	unsigned int k;
	int ret;

	for (k = 0; k < JAL_ARRAY_SIZE(bad); k++) {
		memset(&c, 0, sizeof(c));
		c.size = 4096;
		c.flags = bad[k];
		ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c));
	}
	/* size 0 and sizes beyond the VA range are still -EINVAL */
	memset(&c, 0, sizeof(c));
	c.flags = DRM_JALAPENO_BO_VRAM;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c));
	c.size = 1ull << 40;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c));

	/* device memory on a chip without it is -EINVAL too */
	memset(&c, 0, sizeof(c));
	c.size = 4096;
	c.flags = DRM_JALAPENO_BO_VRAM;
	ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c);
	if (self->info.vram_size) {
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, jal_gem_close(self->fd, c.handle));
	} else {
		ASSERT_EQ(-EINVAL, ret);
	}
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * Closing a file while its jobs still write its VRAM BOs gives all of
 * its device memory back once the jobs are done.
 */
JAL_SLOW_TEST(vram, close_with_jobs_in_flight_returns_memory)
{
	static struct jal_bo bos[MAX_CHUNKS];
	struct jal_cmdbuf cb;
	unsigned int n, k;
	struct jal_bo all;
	uint64_t total = 0, chunk;
	uint32_t ctx;
	int fd, err;

	NEED_VRAM();
	chunk = big_chunk(&self->info);
	fd = jal_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_LOW, &ctx));
	n = grab_all(fd, chunk, bos, MAX_CHUNKS, &err);
	ASSERT_EQ(-ENOSPC, err);
	ASSERT_LT(0, n);
	for (k = 0; k < n; k++) {
		total += bos[k].size;
		ASSERT_EQ(0, jal_cmdbuf_new(fd, &cb));
		jal_emit_fill(&cb, bos[k].va, 0xfeedf00d, bos[k].size);
		ASSERT_EQ(0, jal_submit(fd, ctx, &cb, &bos[k].handle, 1, NULL, 0, 0, NULL));
		jal_cmdbuf_free(&cb);
	}
	close(fd);

	/* all of it comes back, in one piece, and reads as zeros */
	ASSERT_EQ(0, vbo_new_wait(self->fd, total, &all, 60000));
	{
		struct jal_bo ones, sums;
		struct jal_bo part = all;
		float *f;

		ASSERT_EQ(0, jal_bo_new(self->fd, 1024 * 4, 0, &ones));
		ASSERT_EQ(0, jal_bo_new(self->fd, chunk / 1024, 0, &sums));
		f = ones.map;
		for (k = 0; k < 1024; k++)
			f[k] = 1.0f;
		/* MATVEC operands are at most 256 MiB: check a chunk at a time */
		for (part.size = chunk; part.va + chunk <= all.va + all.size; part.va += chunk)
			check_row_sums(_metadata, self->fd, self->ctx, &part, &ones, &sums, 0.0f);
	}
	jal_bo_free(&all);
}

#define DRIVER_SYSFS	"/sys/bus/pci/drivers/jalapeno"

/*
 * PCI unbind while a file holds VRAM BOs with a job in flight on them:
 * the file's ioctls fail with -ENODEV, closing it works (the device
 * memory is released with the device; the kernel log check catches a
 * leak), and the device comes back with all of its memory after bind.
 */
JAL_SLOW_TEST(vram, unbind_with_vram_bos)
{
	const struct timespec step = { .tv_nsec = 50000000 };
	struct jal_bo big, small, all;
	struct jal_cmdbuf cb;
	uint32_t handles[2], ctx, handle;
	unsigned int waited;
	char bdf[64];
	int fd;

	NEED_VRAM();
	ASSERT_EQ(0, jal_find_device(NULL, 0, bdf, sizeof(bdf)));
	if (!bdf[0] || access(DRIVER_SYSFS "/unbind", W_OK) || access(DRIVER_SYSFS "/bind", W_OK))
		SKIP(return, "cannot unbind %s through " DRIVER_SYSFS, bdf);

	fd = jal_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, vbo_new(fd, self->info.vram_size / 2, 0, &big));
	ASSERT_EQ(0, vbo_new(fd, 12345, 0, &small));
	ASSERT_EQ(0, jal_cmdbuf_new(fd, &cb));
	jal_emit_fill(&cb, big.va, 0x11111111, big.size);
	jal_emit_copy(&cb, big.va, small.va, small.size);
	handles[0] = big.handle;
	handles[1] = small.handle;
	ASSERT_EQ(0, jal_submit(fd, ctx, &cb, handles, 2, NULL, 0, 0, NULL));

	ASSERT_EQ(0, jal_write_file(DRIVER_SYSFS "/unbind", bdf));
	ASSERT_EQ(-ENODEV, jal_bo_create_raw(fd, 4096, DRM_JALAPENO_BO_VRAM, &handle, NULL));
	ASSERT_EQ(-ENODEV, jal_submit(fd, ctx, &cb, handles, 2, NULL, 0, 0, NULL));
	jal_cmdbuf_free(&cb);
	jal_bo_free(&small);
	jal_bo_free(&big);
	ASSERT_EQ(0, close(fd));

	ASSERT_EQ(0, jal_write_file(DRIVER_SYSFS "/bind", bdf));
	for (waited = 0, fd = -ENODEV; fd < 0 && waited <= 10000; waited += 50) {
		fd = jal_open();
		if (fd < 0)
			nanosleep(&step, NULL);
	}
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, vbo_new(fd, self->info.vram_size, 0, &all));
	jal_bo_free(&all);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);
}

TEST_HARNESS_MAIN
