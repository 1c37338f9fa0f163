// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno isolation: every file has its own device address space. A job
 * addressing another file's BO, a device-read-only BO (for writing) or an
 * unmapped VA faults: its fence and CTX_STATUS carry -EFAULT with the
 * faulting VA, the context is banned (-ECANCELED on submit) and nothing
 * outside the job's own mappings changes; other contexts keep working.
 */
#include "jal_harness.h"

JAL_FIXTURE(iso);

/*
 * The other file ("peer"): a 4 MiB spacer BO first, so the target's VA
 * lies above anything the test file allocates, then the target BO filled
 * with a known pattern.
 */
struct peer {
	int fd;
	uint32_t ctx;
	struct jal_bo spacer, target;
};

#define PEER_PATTERN	0x5eed5eedu

static void peer_open(struct __test_metadata *_metadata, struct peer *p)
{
	uint64_t k;

	p->fd = jal_open();
	ASSERT_LE(0, p->fd);
	ASSERT_EQ(0, jal_ctx_create(p->fd, DRM_JALAPENO_PRIORITY_NORMAL, &p->ctx));
	ASSERT_EQ(0, jal_bo_new(p->fd, 4 * JAL_MIB, 0, &p->spacer));
	ASSERT_EQ(0, jal_bo_new(p->fd, 8192, 0, &p->target));
	for (k = 0; k < p->target.size / 4; k++)
		((uint32_t *)p->target.map)[k] = PEER_PATTERN ^ (uint32_t)k;
}

static void peer_assert_untouched(struct __test_metadata *_metadata, struct peer *p)
{
	uint64_t k;

	for (k = 0; k < p->target.size / 4; k++)
		ASSERT_EQ(PEER_PATTERN ^ (uint32_t)k, ((uint32_t *)p->target.map)[k]);
}

/* The peer's own jobs still run and still see its data. */
static void peer_assert_working(struct __test_metadata *_metadata, struct peer *p)
{
	struct jal_cmdbuf cb;

	ASSERT_EQ(0, jal_cmdbuf_new(p->fd, &cb));
	jal_emit_copy(&cb, p->target.va, p->spacer.va, p->target.size);
	ASSERT_JOB_OK(p->fd, p->ctx, &cb, &p->spacer.handle, 1);
	ASSERT_EQ(0, memcmp(p->target.map, p->spacer.map, p->target.size));
	jal_cmdbuf_free(&cb);
}

/* @va must not fall in any of the test file's BOs. */
static bool va_unmapped(uint64_t va, const struct jal_bo *bos, unsigned int n)
{
	unsigned int k;

	for (k = 0; k < n; k++)
		if (va >= bos[k].va && va < bos[k].va + bos[k].size)
			return false;
	return true;
}

/* Run @cb on a new context and check fence, status, fault address and ban. */
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
	ASSERT_EQ(1, st.error_seqno);
	ASSERT_EQ(0, st.error_offset);
	ASSERT_EQ(-ECANCELED, jal_submit(fd, ctx, cb, bos, nbos, NULL, 0, 0, NULL));
	jal_syncobj_free(fd, sync);
	ASSERT_EQ(0, jal_ctx_destroy(fd, ctx));
}

JAL_TEST(iso, other_file_bo_read_faults)
{
	struct jal_cmdbuf cb;
	struct jal_bo dst;
	struct peer p;

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &dst));
	peer_open(_metadata, &p);
	ASSERT_TRUE(va_unmapped(p.target.va, (struct jal_bo[]){ cb.bo, dst }, 2));

	jal_emit_copy(&cb, p.target.va, dst.va, 4096);
	run_expect_fault(_metadata, self->fd, &cb, &dst.handle, 1, JAL_STATUS_MMU_UNMAPPED,
			 p.target.va);
	peer_assert_untouched(_metadata, &p);
	peer_assert_working(_metadata, &p);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_TEST(iso, other_file_bo_write_faults_data_untouched)
{
	struct jal_cmdbuf cb;
	struct peer p;

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	peer_open(_metadata, &p);
	ASSERT_TRUE(va_unmapped(p.target.va, &cb.bo, 1));

	jal_emit_fill(&cb, p.target.va + 16, 0, p.target.size - 16);
	run_expect_fault(_metadata, self->fd, &cb, NULL, 0, JAL_STATUS_MMU_UNMAPPED,
			 p.target.va + 16);
	jal_cmdbuf_free(&cb);

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_write_value(&cb, p.target.va + 4096, 0);
	run_expect_fault(_metadata, self->fd, &cb, NULL, 0, JAL_STATUS_MMU_UNMAPPED,
			 p.target.va + 4096);
	peer_assert_untouched(_metadata, &p);
	peer_assert_working(_metadata, &p);
}

/* A kernel whose operand is the other file's BO faults too. */
JAL_TEST(iso, other_file_kernel_operand_faults)
{
	struct jal_insn code[1] = { jal_i_vec(JAL_OP_VADD, 0, 1, 2, 64, 1, 1, 1) };
	struct jal_prog prog;
	struct jal_bo mine;
	uint64_t args[3];
	struct peer p;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &mine));
	peer_open(_metadata, &p);
	ASSERT_TRUE(va_unmapped(p.target.va, &mine, 1));

	/* read operand b in the peer */
	args[0] = mine.va;
	args[1] = mine.va + 1024;
	args[2] = p.target.va;
	ASSERT_EQ(0, jal_prog_new(self->fd, &prog, code, 1, args, 3));
	ASSERT_TRUE(va_unmapped(p.target.va, (struct jal_bo[]){ prog.bo, prog.cb.bo }, 2));
	run_expect_fault(_metadata, self->fd, &prog.cb, (uint32_t[]){ prog.bo.handle,
			 mine.handle }, 2, JAL_STATUS_MMU_UNMAPPED, p.target.va);
	jal_prog_free(&prog);

	/* destination in the peer */
	args[0] = p.target.va;
	args[2] = mine.va + 2048;
	ASSERT_EQ(0, jal_prog_new(self->fd, &prog, code, 1, args, 3));
	run_expect_fault(_metadata, self->fd, &prog.cb, (uint32_t[]){ prog.bo.handle,
			 mine.handle }, 2, JAL_STATUS_MMU_UNMAPPED, p.target.va);
	jal_prog_free(&prog);
	peer_assert_untouched(_metadata, &p);
	peer_assert_working(_metadata, &p);
}

/* Another process (its own file) cannot reach this process' BO. */
JAL_TEST(iso, other_process_cannot_reach_bo)
{
	struct peer p;
	pid_t pid;

	peer_open(_metadata, &p);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct drm_jalapeno_ctx_status st;
		struct jal_cmdbuf cb;
		uint32_t ctx;
		int fd;

		close(p.fd);
		fd = jal_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_HIGH, &ctx) == 0);
		CHILD_CHECK(jal_cmdbuf_new(fd, &cb) == 0);
		CHILD_CHECK(!va_unmapped(cb.bo.va, &cb.bo, 1));
		CHILD_CHECK(va_unmapped(p.target.va, &cb.bo, 1));
		jal_emit_fill(&cb, p.target.va, 0xdeadbeef, p.target.size);
		CHILD_CHECK(jal_run(fd, ctx, &cb, NULL, 0) == 0);
		CHILD_CHECK(jal_ctx_status(fd, ctx, &st) == 0);
		CHILD_CHECK(st.error == -EFAULT);
		CHILD_CHECK(st.state == DRM_JALAPENO_CTX_BANNED);
		CHILD_CHECK(st.hw_status == JAL_STATUS_MMU_UNMAPPED);
		CHILD_CHECK((st.fault_addr & ~(JAL_PAGE_SIZE - 1)) == p.target.va);
		close(fd);
		_exit(0);
	}
	ASSERT_CHILD_OK(pid);
	peer_assert_untouched(_metadata, &p);
	peer_assert_working(_metadata, &p);
}

/*
 * Handles, context ids and mmap offsets are per file: the test file, which
 * has none of its own, cannot use the peer's.
 */
JAL_TEST(iso, other_file_ids_rejected)
{
	struct drm_jalapeno_ctx_status st;
	struct drm_jalapeno_bo_info info;
	struct jal_cmdbuf cb;
	struct peer p;
	uint32_t ctx;
	void *map;
	int fd;

	peer_open(_metadata, &p);
	fd = jal_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(-ENOENT, jal_bo_info(fd, p.target.handle, &info));
	ASSERT_EQ(-ENOENT, jal_bo_wait(fd, p.target.handle, 0));
	ASSERT_EQ(-ENOENT, jal_ctx_status(fd, p.ctx, &st));
	ASSERT_EQ(-ENOENT, jal_ctx_destroy(fd, p.ctx));
	map = mmap(NULL, p.target.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   p.target.mmap_offset);
	ASSERT_EQ(MAP_FAILED, map);

	ASSERT_EQ(0, jal_cmdbuf_new(fd, &cb));
	jal_emit_nop(&cb);
	/* our only handle is the cmdbuf's; the peer's target handle differs */
	ASSERT_NE(cb.bo.handle, p.target.handle);
	ASSERT_EQ(-ENOENT, jal_submit(fd, p.ctx, &cb, NULL, 0, NULL, 0, 0, NULL));
	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(-ENOENT, jal_submit(fd, ctx, &cb, &p.target.handle, 1, NULL, 0, 0, NULL));
	ASSERT_EQ(0, jal_submit(fd, ctx, &cb, NULL, 0, NULL, 0, 0, NULL));
	close(fd);

	/* the peer's context still works and was never touched */
	ASSERT_EQ(0, jal_ctx_status(p.fd, p.ctx, &st));
	ASSERT_EQ(0, st.submitted);
	peer_assert_working(_metadata, &p);
}

/* Writes to a device-read-only BO fault with MMU_PERM; its data stays. */
JAL_TEST(iso, readonly_bo_write_faults)
{
	struct jal_insn code[1] = { jal_i_vscale(0, 1, 8, 1, 1, 2.0f) };
	struct jal_cmdbuf cb;
	struct jal_prog prog;
	struct jal_bo ro, rw;
	uint64_t k, args[2];
	uint32_t handles[3];

	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, DRM_JALAPENO_BO_DEVICE_READONLY, &ro));
	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &rw));
	for (k = 0; k < ro.size / 8; k++)
		((uint64_t *)ro.map)[k] = 0x0badf00d00000000ull + k;
	handles[0] = ro.handle;
	handles[1] = rw.handle;

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, ro.va + 4096 + 8, 0xffffffff, 16);
	run_expect_fault(_metadata, self->fd, &cb, handles, 2, JAL_STATUS_MMU_PERM,
			 ro.va + 4096 + 8);
	cb.len = 0;
	jal_emit_write_value(&cb, ro.va, 1);
	run_expect_fault(_metadata, self->fd, &cb, handles, 2, JAL_STATUS_MMU_PERM, ro.va);
	cb.len = 0;
	jal_emit_copy(&cb, rw.va, ro.va + 100, 50);
	run_expect_fault(_metadata, self->fd, &cb, handles, 2, JAL_STATUS_MMU_PERM,
			 ro.va + 100);

	args[0] = ro.va + 64;
	args[1] = rw.va;
	ASSERT_EQ(0, jal_prog_new(self->fd, &prog, code, 1, args, 2));
	handles[2] = prog.bo.handle;
	run_expect_fault(_metadata, self->fd, &prog.cb, handles, 3, JAL_STATUS_MMU_PERM,
			 ro.va + 64);

	for (k = 0; k < ro.size / 8; k++)
		ASSERT_EQ(0x0badf00d00000000ull + k, ((uint64_t *)ro.map)[k]);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* The null page, the top of the VA range and a kernel's code/args VAs. */
JAL_TEST(iso, unmapped_va_faults)
{
	const uint64_t top = self->info.va_end - 4096;
	struct jal_cmdbuf cb;
	struct jal_bo bo;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	ASSERT_TRUE(va_unmapped(top, (struct jal_bo[]){ bo, cb.bo }, 2));

	jal_emit_fill(&cb, 0x1000, 0, 4);
	run_expect_fault(_metadata, self->fd, &cb, &bo.handle, 1, JAL_STATUS_MMU_UNMAPPED,
			 0x1000);
	cb.len = 0;
	jal_emit_write_value(&cb, 0, 0);
	run_expect_fault(_metadata, self->fd, &cb, &bo.handle, 1, JAL_STATUS_MMU_UNMAPPED, 0);
	cb.len = 0;
	jal_emit_copy(&cb, top + 8, bo.va, 8);
	run_expect_fault(_metadata, self->fd, &cb, &bo.handle, 1, JAL_STATUS_MMU_UNMAPPED,
			 top + 8);
	cb.len = 0;
	jal_emit_dispatch(&cb, top, 64, bo.va, 8);	/* code unmapped */
	run_expect_fault(_metadata, self->fd, &cb, &bo.handle, 1, JAL_STATUS_MMU_UNMAPPED,
			 top);
	cb.len = 0;
	*(struct jal_insn *)bo.map = jal_i_halt();
	jal_emit_dispatch(&cb, bo.va, 64, top + 64, 16);	/* args unmapped */
	run_expect_fault(_metadata, self->fd, &cb, &bo.handle, 1, JAL_STATUS_MMU_UNMAPPED,
			 top + 64);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * A range running off the end of the highest BO faults at the first
 * unmapped byte: the BO's end.
 */
JAL_TEST(iso, fault_addr_at_bo_end)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo, src;

	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &src));
	ASSERT_EQ(0, jal_bo_new(self->fd, 3 * 4096, 0, &bo));
	ASSERT_TRUE(va_unmapped(bo.va + bo.size, (struct jal_bo[]){ cb.bo, src, bo }, 3));

	jal_emit_fill(&cb, bo.va + bo.size - 8, 0x12345678, 16);
	run_expect_fault(_metadata, self->fd, &cb, &bo.handle, 1, JAL_STATUS_MMU_UNMAPPED,
			 bo.va + bo.size);
	cb.len = 0;
	jal_emit_copy(&cb, src.va, bo.va + bo.size - 100, 200);	/* dst overruns */
	run_expect_fault(_metadata, self->fd, &cb, (uint32_t[]){ bo.handle, src.handle }, 2,
			 JAL_STATUS_MMU_UNMAPPED, bo.va + bo.size);
	cb.len = 0;
	jal_emit_copy(&cb, bo.va + bo.size - 50, src.va, 100);	/* src overruns */
	run_expect_fault(_metadata, self->fd, &cb, (uint32_t[]){ bo.handle, src.handle }, 2,
			 JAL_STATUS_MMU_UNMAPPED, bo.va + bo.size);
}

/*
 * After a fault the context is banned for good while other contexts of
 * the same file, other files and new contexts keep working; the failed
 * job's BO is idle.
 */
JAL_TEST(iso, banned_ctx_rejects_others_continue)
{
	struct drm_jalapeno_ctx_status st, st2;
	struct jal_cmdbuf bad, good;
	struct jal_bo bo;
	uint32_t ctx2;
	struct peer p;

	peer_open(_metadata, &p);
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx2));
	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &bad));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &good));
	jal_emit_write_value(&good, bo.va, 77);
	ASSERT_JOB_OK(self->fd, self->ctx, &good, &bo.handle, 1);	/* seqno 1 */
	jal_emit_fill(&bad, 0x2000, 0, 4096);
	ASSERT_EQ(0, jal_run(self->fd, self->ctx, &bad, &bo.handle, 1));	/* seqno 2 */
	jal_assert_ctx_failed(_metadata, self->fd, self->ctx, -EFAULT,
			      JAL_STATUS_MMU_UNMAPPED, &st);
	ASSERT_EQ(2, st.error_seqno);
	ASSERT_EQ(2, st.submitted);
	ASSERT_EQ(0, jal_bo_wait(self->fd, bo.handle, 0));

	ASSERT_EQ(-ECANCELED, jal_submit(self->fd, self->ctx, &good, &bo.handle, 1, NULL, 0,
					 0, NULL));
	ASSERT_EQ(-ECANCELED, jal_submit(self->fd, self->ctx, &good, &bo.handle, 1, NULL, 0,
					 0, NULL));
	ASSERT_EQ(0, jal_ctx_status(self->fd, self->ctx, &st2));
	ASSERT_EQ(0, memcmp(&st, &st2, sizeof(st)));	/* rejected submits change nothing */

	good.len = 0;
	jal_emit_write_value(&good, bo.va, 78);
	ASSERT_JOB_OK(self->fd, ctx2, &good, &bo.handle, 1);
	ASSERT_EQ(78, *(uint64_t *)bo.map);
	peer_assert_working(_metadata, &p);
	ASSERT_EQ(0, jal_device_usable(self->fd));
	ASSERT_EQ(0, jal_ctx_destroy(self->fd, self->ctx));
}

/*
 * One process keeps faulting on new contexts while another runs good
 * jobs: the good process sees no errors and correct results.
 */
JAL_SLOW_TEST(iso, faults_do_not_disturb_other_process)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	unsigned int k;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct jal_cmdbuf bad;
		uint32_t ctx;
		int fd;

		fd = jal_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(jal_cmdbuf_new(fd, &bad) == 0);
		jal_emit_copy(&bad, 0x3000, bad.bo.va + 4096, 64);
		for (k = 0; k < 10; k++) {
			CHILD_CHECK(jal_ctx_create(fd, k % 3, &ctx) == 0);
			CHILD_CHECK(jal_run(fd, ctx, &bad, NULL, 0) == 0);
			CHILD_CHECK(jal_ctx_error(fd, ctx) == -EFAULT);
			CHILD_CHECK(jal_ctx_destroy(fd, ctx) == 0);
		}
		_exit(0);
	}
	ASSERT_EQ(0, jal_bo_new(self->fd, 64 * 1024, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < 20; k++) {
		uint32_t *w = bo.map;
		unsigned int i;

		cb.len = 0;
		jal_emit_fill(&cb, bo.va, 0x1000 + k, bo.size);
		ASSERT_JOB_OK(self->fd, self->ctx, &cb, &bo.handle, 1);
		for (i = 0; i < bo.size / 4; i += 97)
			ASSERT_EQ(0x1000 + k, w[i]);
	}
	ASSERT_CHILD_OK(pid);
}

TEST_HARNESS_MAIN
