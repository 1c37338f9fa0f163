// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno bad input: every ioctl with bad handles, sizes, flags, reserved
 * fields, pointers and counts; malformed and random command buffers;
 * invalid instructions; a kernel that never ends; BOs and files closed
 * under a running job. After each, a good job on a new context must work.
 */
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include "jal_harness.h"

JAL_FIXTURE(err);

#define DEADLINE_NS()	((int64_t)(jal_now_ns() + JAL_JOB_WAIT_MS * 1000000ull))

static int raw_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) ? -errno : 0;
}

/* Each driver ioctl with an unreadable argument pointer. */
JAL_TEST(err, ioctl_arg_bad_pointer)
{
	const unsigned long reqs[] = {
		DRM_IOCTL_JALAPENO_QUERY, DRM_IOCTL_JALAPENO_BO_CREATE,
		DRM_IOCTL_JALAPENO_BO_INFO, DRM_IOCTL_JALAPENO_CTX_CREATE,
		DRM_IOCTL_JALAPENO_CTX_DESTROY, DRM_IOCTL_JALAPENO_SUBMIT,
		DRM_IOCTL_JALAPENO_BO_WAIT, DRM_IOCTL_JALAPENO_CTX_STATUS,
	};
	unsigned int k;

	for (k = 0; k < JAL_ARRAY_SIZE(reqs); k++)
		ASSERT_EQ(-EFAULT, raw_ioctl(self->fd, reqs[k], (void *)8));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* A driver ioctl number past the table. */
JAL_TEST(err, unknown_ioctl_rejected)
{
	uint64_t arg[4] = { 0 };

	ASSERT_EQ(-EINVAL, raw_ioctl(self->fd, DRM_IOWR(DRM_COMMAND_BASE + 0x3f, arg), arg));
	ASSERT_EQ(-EINVAL, raw_ioctl(self->fd, DRM_IOWR(DRM_COMMAND_BASE + 0x08, arg), arg));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_TEST(err, query_bad_inputs)
{
	struct drm_jalapeno_device_info info;
	struct drm_jalapeno_query q = {
		.type = 1,
		.size = sizeof(info),
		.data = (uintptr_t)&info,
	};

	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	q.type = 0xffffffff;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	q.size = 0;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	q.type = DRM_JALAPENO_QUERY_DEVICE_INFO;
	q.size = sizeof(info);
	q.data = 0;
	ASSERT_EQ(-EFAULT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	q.data = 8;
	ASSERT_EQ(-EFAULT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	q.data = (uintptr_t)&info;
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_QUERY, &q));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

static bool is_size_error(int ret)
{
	return ret == -EINVAL || ret == -ENOMEM || ret == -ENOSPC || ret == -E2BIG;
}

JAL_TEST(err, bo_create_bad_inputs)
{
	const uint64_t huge[] = {
		1ull << 40,			/* more than the whole VA range */
		~0ull,				/* rounds up past 2^64 */
		~0ull - 4095,
		(1ull << 39) - 4096,		/* the whole range incl. reserved pages */
	};
	struct drm_jalapeno_bo_create c;
	unsigned int k;

	memset(&c, 0, sizeof(c));
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c));
	c.size = 4096;
	c.flags = 1u << 2;	/* the first undefined bit */
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c));
	c.flags = 0x80000000u;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c));
	c.flags = ~0u;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c));
	for (k = 0; k < JAL_ARRAY_SIZE(huge); k++) {
		int ret;

		memset(&c, 0, sizeof(c));
		c.size = huge[k];
		ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c);
		TH_LOG("BO_CREATE size 0x%llx: %d", (unsigned long long)huge[k], ret);
		ASSERT_TRUE(is_size_error(ret));
	}
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_TEST(err, bo_info_and_wait_bad_handles)
{
	struct drm_jalapeno_bo_info info;
	struct drm_jalapeno_bo_wait w;
	uint32_t handle;

	ASSERT_EQ(-ENOENT, jal_bo_info(self->fd, 0, &info));
	ASSERT_EQ(-ENOENT, jal_bo_info(self->fd, 0xffffffff, &info));
	ASSERT_EQ(0, jal_bo_create_raw(self->fd, 4096, 0, &handle, NULL));
	ASSERT_EQ(0, jal_gem_close(self->fd, handle));
	ASSERT_EQ(-ENOENT, jal_bo_info(self->fd, handle, &info));
	ASSERT_EQ(-ENOENT, jal_bo_wait(self->fd, handle, 0));
	ASSERT_EQ(-ENOENT, jal_bo_wait(self->fd, 12345, DEADLINE_NS()));

	ASSERT_EQ(0, jal_bo_create_raw(self->fd, 4096, 0, &handle, NULL));
	memset(&w, 0, sizeof(w));
	w.handle = handle;
	w.flags = 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_WAIT, &w));
	w.flags = 0;
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_BO_WAIT, &w));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_TEST(err, ctx_create_bad_inputs)
{
	struct drm_jalapeno_ctx_create c;

	memset(&c, 0, sizeof(c));
	c.priority = DRM_JALAPENO_PRIORITY_REALTIME + 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_CTX_CREATE, &c));
	c.priority = 0xffffffff;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_CTX_CREATE, &c));
	c.priority = DRM_JALAPENO_PRIORITY_NORMAL;
	c.flags = 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_CTX_CREATE, &c));
	c.flags = 0;
	c.reserved = 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_CTX_CREATE, &c));
	c.reserved = 0;
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_CTX_CREATE, &c));
	ASSERT_EQ(0, jal_ctx_destroy(self->fd, c.ctx_id));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* REALTIME without CAP_SYS_NICE is refused; HIGH is still allowed. */
JAL_TEST(err, ctx_realtime_needs_cap_sys_nice)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct data[2];
		uint32_t ctx;
		int ret;

		CHILD_CHECK(syscall(SYS_capget, &hdr, data) == 0);
		data[CAP_SYS_NICE / 32].effective &= ~(1u << (CAP_SYS_NICE % 32));
		CHILD_CHECK(syscall(SYS_capset, &hdr, data) == 0);
		CHILD_CHECK(!jal_have_cap(CAP_SYS_NICE));
		ret = jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_REALTIME, &ctx);
		if (ret != -EPERM && ret != -EACCES)
			fprintf(stderr, "# REALTIME without CAP_SYS_NICE: %d\n", ret);
		CHILD_CHECK(ret == -EPERM || ret == -EACCES);
		CHILD_CHECK(jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_HIGH, &ctx) == 0);
		_exit(0);
	}
	ASSERT_CHILD_OK(pid);
}

JAL_TEST(err, ctx_destroy_and_status_bad_inputs)
{
	struct drm_jalapeno_ctx_destroy d;
	struct drm_jalapeno_ctx_status st;

	ASSERT_EQ(-ENOENT, jal_ctx_destroy(self->fd, self->ctx + 1000));
	ASSERT_EQ(-ENOENT, jal_ctx_destroy(self->fd, 0xffffffff));
	ASSERT_EQ(-ENOENT, jal_ctx_status(self->fd, 0, &st));
	ASSERT_EQ(-ENOENT, jal_ctx_status(self->fd, self->ctx + 1000, &st));
	ASSERT_EQ(-ENOENT, jal_ctx_status(self->fd, 0xffffffff, &st));

	memset(&st, 0, sizeof(st));
	st.ctx_id = self->ctx;
	st.reserved = 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_CTX_STATUS, &st));
	memset(&d, 0, sizeof(d));
	d.ctx_id = self->ctx;
	d.reserved = 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_CTX_DESTROY, &d));
	/* still there after the rejected destroy */
	ASSERT_EQ(0, jal_ctx_status(self->fd, self->ctx, &st));
	ASSERT_EQ(0, jal_ctx_destroy(self->fd, self->ctx));
	ASSERT_EQ(-ENOENT, jal_ctx_destroy(self->fd, self->ctx));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * Id 0 is never a context: destroying it fails and must not free the id,
 * which the allocating xarray reserves (it was handed out next once).
 */
JAL_TEST(err, ctx_destroy_id_zero)
{
	uint32_t ids[3];
	unsigned int k;

	for (k = 0; k < 2; k++)
		ASSERT_EQ(-ENOENT, jal_ctx_destroy(self->fd, 0));
	for (k = 0; k < JAL_ARRAY_SIZE(ids); k++) {
		ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ids[k]));
		ASSERT_NE(0, ids[k]);
		ASSERT_NE(self->ctx, ids[k]);
	}
	for (k = 0; k < JAL_ARRAY_SIZE(ids); k++)
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ids[k]));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * DRM core ioctls that act on the file's DRM master, which accel files
 * never have: Linux 6.12 oopses on GET_UNIQUE and GET_MAGIC of such a
 * file, so the driver refuses them all. Master-free core ioctls still work.
 */
JAL_TEST(err, core_master_ioctls_refused)
{
	char name[64], date[64], desc[128], unique[64];
	struct drm_unique u = { .unique_len = sizeof(unique), .unique = unique };
	struct drm_version v = {
		.name_len = sizeof(name), .name = name,
		.date_len = sizeof(date), .date = date,
		.desc_len = sizeof(desc), .desc = desc,
	};
	struct drm_auth auth = { 0 };

	ASSERT_EQ(-EOPNOTSUPP, raw_ioctl(self->fd, DRM_IOCTL_GET_UNIQUE, &u));
	ASSERT_EQ(-EOPNOTSUPP, raw_ioctl(self->fd, DRM_IOCTL_GET_MAGIC, &auth));
	ASSERT_EQ(-EOPNOTSUPP, raw_ioctl(self->fd, DRM_IOCTL_AUTH_MAGIC, &auth));
	ASSERT_EQ(-EOPNOTSUPP, raw_ioctl(self->fd, DRM_IOCTL_SET_MASTER, NULL));
	ASSERT_EQ(-EOPNOTSUPP, raw_ioctl(self->fd, DRM_IOCTL_DROP_MASTER, NULL));
	ASSERT_EQ(0, raw_ioctl(self->fd, DRM_IOCTL_VERSION, &v));
	ASSERT_EQ(0, strncmp(name, "jalapeno", v.name_len));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * A BO stays mapped at its VA while anything holds it: after its last
 * handle is closed, its CPU mapping still does, so jobs still reach it
 * (and the CPU sees what they write). Once the mapping goes too, later
 * jobs fault on the VA. Both command buffers exist before the BO goes,
 * so its freed VA range cannot be handed to one of them.
 */
JAL_TEST(err, bo_mapped_until_last_reference)
{
	struct jal_cmdbuf before, after;
	volatile uint64_t *word;
	uint32_t ctx2;
	struct jal_bo bo;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx2));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &before));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &after));
	jal_emit_write_value(&before, bo.va, 0x5eed0001);
	jal_emit_write_value(&after, bo.va, 0x5eed0002);
	word = bo.map;

	ASSERT_EQ(0, jal_gem_close(self->fd, bo.handle));
	ASSERT_JOB_OK(self->fd, self->ctx, &before, &before.bo.handle, 1);
	ASSERT_EQ(0x5eed0001, *word);

	ASSERT_EQ(0, munmap(bo.map, bo.size));
	ASSERT_EQ(0, jal_run(self->fd, ctx2, &after, &after.bo.handle, 1));
	ASSERT_EQ(-EFAULT, jal_ctx_error(self->fd, ctx2));

	jal_cmdbuf_free(&before);
	jal_cmdbuf_free(&after);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * BOs belong to the file that created them: another file can neither
 * open one by flink name nor import it through PRIME (both would give it
 * a handle to memory its address space does not map). The owner itself
 * can do both and gets the same BO.
 */
JAL_TEST(err, bo_handles_only_on_the_owning_file)
{
	struct drm_jalapeno_bo_info info;
	struct drm_gem_flink flink = { 0 };
	struct drm_gem_open op = { 0 };
	struct drm_prime_handle exp = { .fd = -1 }, imp = { 0 };
	struct jal_bo bo;
	int other;

	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &bo));
	other = jal_open();
	ASSERT_LE(0, other);

	flink.handle = bo.handle;
	if (!raw_ioctl(self->fd, DRM_IOCTL_GEM_FLINK, &flink)) {
		op.name = flink.name;
		ASSERT_EQ(-EOPNOTSUPP, raw_ioctl(other, DRM_IOCTL_GEM_OPEN, &op));
		ASSERT_EQ(0, raw_ioctl(self->fd, DRM_IOCTL_GEM_OPEN, &op));
		ASSERT_EQ(0, jal_bo_info(self->fd, op.handle, &info));
		ASSERT_EQ(bo.va, info.va);
		ASSERT_EQ(0, jal_gem_close(self->fd, op.handle));
	} else {
		TH_LOG("GEM_FLINK not permitted here (%d): flink part skipped", errno);
	}

	exp.handle = bo.handle;
	ASSERT_EQ(0, raw_ioctl(self->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &exp));
	imp.fd = exp.fd;
	ASSERT_EQ(-EOPNOTSUPP, raw_ioctl(other, DRM_IOCTL_PRIME_FD_TO_HANDLE, &imp));
	ASSERT_EQ(0, raw_ioctl(self->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &imp));
	ASSERT_EQ(bo.handle, imp.handle);
	close(exp.fd);

	ASSERT_EQ(0, jal_device_usable(other));
	close(other);
	jal_bo_free(&bo);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* A good submit description the tests below break one field at a time. */
struct submit_env {
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t handles[2];
	uint32_t sync;
};

static void submit_env_init(struct __test_metadata *_metadata, int fd, struct submit_env *e)
{
	ASSERT_EQ(0, jal_cmdbuf_new(fd, &e->cb));
	ASSERT_EQ(0, jal_bo_new(fd, 4096, 0, &e->bo));
	jal_emit_write_value(&e->cb, e->bo.va, 99);
	e->handles[0] = e->cb.bo.handle;
	e->handles[1] = e->bo.handle;
	ASSERT_EQ(0, jal_syncobj_new(fd, &e->sync));
}

static struct drm_jalapeno_submit submit_good(const struct submit_env *e, uint32_t ctx)
{
	struct drm_jalapeno_submit s = {
		.ctx_id = ctx,
		.cmdbuf_va = e->cb.bo.va,
		.cmdbuf_size = e->cb.len,
		.bo_count = 2,
		.bo_handles = (uintptr_t)e->handles,
		.out_syncobj = e->sync,
	};

	return s;
}

/* Rejected submits leave the context ACTIVE with no job counted. */
static void assert_no_job_counted(struct __test_metadata *_metadata, int fd, uint32_t ctx)
{
	struct drm_jalapeno_ctx_status st;

	ASSERT_EQ(0, jal_ctx_status(fd, ctx, &st));
	ASSERT_EQ(DRM_JALAPENO_CTX_ACTIVE, st.state);
	ASSERT_EQ(0, st.submitted);
	ASSERT_EQ(0, st.error);
}

JAL_TEST(err, submit_bad_ctx_flags_reserved)
{
	struct drm_jalapeno_submit s;
	struct submit_env e;

	submit_env_init(_metadata, self->fd, &e);
	s = submit_good(&e, self->ctx + 1000);
	ASSERT_EQ(-ENOENT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s = submit_good(&e, self->ctx);
	s.flags = 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.flags = 0x80000000u;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s = submit_good(&e, self->ctx);
	s.reserved = 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	assert_no_job_counted(_metadata, self->fd, self->ctx);

	s = submit_good(&e, self->ctx);
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	ASSERT_EQ(1, s.seqno);
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, e.sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(99, *(uint64_t *)e.bo.map);
}

JAL_TEST(err, submit_bad_cmdbuf_size_and_va)
{
	struct drm_jalapeno_submit s;
	struct submit_env e;
	int ret;

	submit_env_init(_metadata, self->fd, &e);
	s = submit_good(&e, self->ctx);
	s.cmdbuf_size = 0;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.cmdbuf_size = 6;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.cmdbuf_size = 25;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.cmdbuf_size = self->info.max_cmdbuf_size + 4;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.cmdbuf_size = 0xfffffffc;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s = submit_good(&e, self->ctx);
	s.cmdbuf_va += 4;	/* not 8-byte aligned */
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.cmdbuf_va = e.cb.bo.va + 1;
	ASSERT_EQ(-EINVAL, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));

	/* not inside any BO, or running past the end of its BO */
	s = submit_good(&e, self->ctx);
	s.cmdbuf_va = 0x2000;
	ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
	TH_LOG("cmdbuf outside every BO: %d", ret);
	ASSERT_TRUE(ret == -EINVAL || ret == -ENOENT);
	s.cmdbuf_va = self->info.va_end - 8;
	ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
	ASSERT_TRUE(ret == -EINVAL || ret == -ENOENT);
	s.cmdbuf_va = ~0ull - 7;
	ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
	ASSERT_TRUE(ret == -EINVAL || ret == -ENOENT);
	s.cmdbuf_va = e.bo.va + e.bo.size - 8;
	s.cmdbuf_size = 16;
	if (e.bo.va + e.bo.size != e.cb.bo.va) {
		ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
		TH_LOG("cmdbuf running past its BO: %d", ret);
		ASSERT_TRUE(ret == -EINVAL || ret == -ENOENT);
	}
	s.cmdbuf_va = e.cb.bo.va + e.cb.bo.size - 8;
	s.cmdbuf_size = 16;
	if (e.cb.bo.va + e.cb.bo.size != e.bo.va) {
		ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
		ASSERT_TRUE(ret == -EINVAL || ret == -ENOENT);
	}
	assert_no_job_counted(_metadata, self->fd, self->ctx);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_TEST(err, submit_bad_bo_list)
{
	const uint32_t counts[] = { 0x10000, 0x7fffffff, 0xffffffff };
	uint32_t bad[2];
	struct drm_jalapeno_submit s;
	struct submit_env e;
	unsigned int k;
	uint64_t t0;

	submit_env_init(_metadata, self->fd, &e);
	bad[0] = e.cb.bo.handle;
	bad[1] = 4242;
	s = submit_good(&e, self->ctx);
	s.bo_handles = (uintptr_t)bad;
	ASSERT_EQ(-ENOENT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	bad[1] = 0;
	ASSERT_EQ(-ENOENT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s = submit_good(&e, self->ctx);
	s.bo_handles = 0;
	ASSERT_EQ(-EFAULT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.bo_handles = 8;
	ASSERT_EQ(-EFAULT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.bo_handles = ~0ull - 3;
	ASSERT_EQ(-EFAULT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));

	/* huge counts with a short array: refused, and quickly */
	for (k = 0; k < JAL_ARRAY_SIZE(counts); k++) {
		int ret;

		s = submit_good(&e, self->ctx);
		s.bo_count = counts[k];
		t0 = jal_now_ns();
		ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
		TH_LOG("bo_count %u: %d", counts[k], ret);
		/* a kernel reading past our array may also find unknown handles */
		ASSERT_TRUE(ret == -EINVAL || ret == -EFAULT || ret == -ENOMEM ||
			    ret == -E2BIG || ret == -ENOENT);
		ASSERT_GT(5000000000ull, jal_now_ns() - t0);
	}
	assert_no_job_counted(_metadata, self->fd, self->ctx);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_TEST(err, submit_bad_syncobjs)
{
	const uint32_t counts[] = { 0x10000, 0xffffffff };
	struct drm_jalapeno_submit s;
	struct submit_env e;
	uint32_t in[2];
	unsigned int k;

	submit_env_init(_metadata, self->fd, &e);
	s = submit_good(&e, self->ctx);
	s.out_syncobj = 777;
	ASSERT_EQ(-ENOENT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));

	ASSERT_EQ(0, jal_syncobj_new(self->fd, &in[0]));
	in[1] = 778;
	s = submit_good(&e, self->ctx);
	s.in_syncobjs = (uintptr_t)&in[1];
	s.in_syncobj_count = 1;
	ASSERT_EQ(-ENOENT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.in_syncobjs = 0;
	ASSERT_EQ(-EFAULT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	s.in_syncobjs = 16;
	ASSERT_EQ(-EFAULT, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	for (k = 0; k < JAL_ARRAY_SIZE(counts); k++) {
		int ret;

		s = submit_good(&e, self->ctx);
		s.in_syncobjs = (uintptr_t)in;
		s.in_syncobj_count = counts[k];
		ret = jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
		TH_LOG("in_syncobj_count %u: %d", counts[k], ret);
		ASSERT_TRUE(ret == -EINVAL || ret == -EFAULT || ret == -ENOMEM ||
			    ret == -E2BIG || ret == -ENOENT);
	}
	assert_no_job_counted(_metadata, self->fd, self->ctx);

	/* a signalled in-syncobj is fine */
	s = submit_good(&e, self->ctx);
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, e.sync, JAL_JOB_WAIT_MS));
	s = submit_good(&e, self->ctx);
	s.in_syncobjs = (uintptr_t)&e.sync;
	s.in_syncobj_count = 1;
	s.out_syncobj = in[0];
	ASSERT_EQ(0, jal_ioctl(self->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s));
	ASSERT_EQ(2, s.seqno);
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, in[0], JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
}

/*
 * Malformed commands: each case is "WRITE_VALUE marker A; <bad command>;
 * WRITE_VALUE marker B". The job fails with -EINVAL/BAD_CMD at the bad
 * command's offset; B is never written.
 */
struct bad_cmd {
	const char *name;
	unsigned int nwords;
	bool truncated;		/* the command runs past cmdbuf_size */
	bool bad_insn_ok;	/* BAD_INSN accepted as well as BAD_CMD */
	uint32_t words[10];
};

#define BAD_CMD_CASE(desc, truncated, bad_insn_ok, ...)				\
	{ desc, JAL_ARRAY_SIZE(((uint32_t[]){ __VA_ARGS__ })), truncated,	\
	  bad_insn_ok, { __VA_ARGS__ } }

JAL_TEST(err, bad_commands)
{
	const uint32_t wv = JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, 6);
	const struct bad_cmd cases[] = {
		BAD_CMD_CASE("unknown opcode", false, false, JAL_CMD_HDR(0x7f, 1)),
		BAD_CMD_CASE("opcode 0x06", false, false, JAL_CMD_HDR(0x06, 4), 0, 0, 0),
		BAD_CMD_CASE("zero length", false, false, JAL_CMD_HDR(JAL_CMD_NOP, 0)),
		BAD_CMD_CASE("NOP too long", false, false, JAL_CMD_HDR(JAL_CMD_NOP, 2), 0),
		BAD_CMD_CASE("COPY length 7", false, false,
			     JAL_CMD_HDR(JAL_CMD_COPY, 7), 0, 0, 0, 0, 0, 0),
		BAD_CMD_CASE("FILL length 8", false, false,
			     JAL_CMD_HDR(JAL_CMD_FILL, 8), 0, 0, 0, 0, 0, 0, 0),
		BAD_CMD_CASE("header reserved bit", false, false,
			     JAL_CMD_HDR(JAL_CMD_NOP, 1) | 0x100),
		BAD_CMD_CASE("header reserved bits", false, false,
			     JAL_CMD_HDR(JAL_CMD_NOP, 1) | JAL_CMD_HDR_RESERVED),
		BAD_CMD_CASE("COPY reserved", false, false,
			     JAL_CMD_HDR(JAL_CMD_COPY, 8), 1, 0, 0, 0, 0, 0, 0),
		BAD_CMD_CASE("WRITE_VALUE reserved", false, false, wv, 0x10, 0, 0, 0, 0),
		BAD_CMD_CASE("TIMESTAMP reserved", false, false,
			     JAL_CMD_HDR(JAL_CMD_TIMESTAMP, 4), 2, 0, 0),
		BAD_CMD_CASE("DISPATCH reserved", false, true,
			     JAL_CMD_HDR(JAL_CMD_DISPATCH, 8), 4, 0, 0, 64, 0, 0, 0),
		BAD_CMD_CASE("COPY past cmdbuf end", true, false,
			     JAL_CMD_HDR(JAL_CMD_COPY, 8), 0, 0, 0),
		BAD_CMD_CASE("WRITE_VALUE past cmdbuf end", true, false, wv, 0),
	};
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	unsigned int k;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < JAL_ARRAY_SIZE(cases); k++) {
		const struct bad_cmd *c = &cases[k];
		uint32_t bad_offset, ctx;
		uint64_t *m = bo.map;

		TH_LOG("case: %s", c->name);
		m[0] = m[1] = 0;
		cb.len = 0;
		jal_emit_write_value(&cb, bo.va, 0xa);
		bad_offset = cb.len;
		jal_emit(&cb, c->words, c->nwords * 4);
		if (!c->truncated)
			jal_emit_write_value(&cb, bo.va + 8, 0xb);

		ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
		ASSERT_EQ(0, jal_run(self->fd, ctx, &cb, &bo.handle, 1));
		jal_assert_ctx_failed(_metadata, self->fd, ctx, -EINVAL, -1, &st);
		if (!(c->bad_insn_ok && st.hw_status == JAL_STATUS_BAD_INSN))
			ASSERT_EQ(JAL_STATUS_BAD_CMD, st.hw_status);
		ASSERT_EQ(bad_offset, st.error_offset);
		ASSERT_EQ(0xa, m[0]);
		ASSERT_EQ(0, m[1]);
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx));
	}
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* WRITE_VALUE / TIMESTAMP need 8-byte aligned destinations. */
JAL_TEST(err, misaligned_write_value_and_timestamp)
{
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	struct jal_bo bo;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_nop(&cb);
	jal_emit_write_value(&cb, bo.va + 4, 1);
	jal_run_expect_fail(_metadata, self->fd, &cb, &bo.handle, 1, -EINVAL, JAL_STATUS_BAD_CMD,
			    &st);
	ASSERT_EQ(4, st.error_offset);
	cb.len = 0;
	jal_emit_timestamp(&cb, bo.va + 1);
	jal_run_expect_fail(_metadata, self->fd, &cb, &bo.handle, 1, -EINVAL, JAL_STATUS_BAD_CMD,
			    &st);
	ASSERT_EQ(0, st.error_offset);
	ASSERT_EQ(0, ((uint64_t *)bo.map)[0]);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* Malformed DISPATCH fields: sizes, alignment, limits. */
JAL_TEST(err, bad_dispatch_fields)
{
	struct {
		const char *name;
		uint64_t code_off;
		uint32_t code_size, args_size;
	} cases[] = {
		{ "code_size not a multiple of 64", 0, 65, 0 },
		{ "code_size 4", 0, 4, 0 },
		{ "code_size above max", 0, 0, 0 },	/* filled in below */
		{ "args_size not a multiple of 8", 0, 64, 12 },
		{ "args_size above 16 words", 0, 64, 8 * (JAL_MAX_ARGS + 1) },
		{ "code_va not 8-byte aligned", 4, 64, 0 },
	};
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	struct jal_bo code;
	unsigned int k;

	cases[2].code_size = self->info.max_code_size + 64;
	ASSERT_EQ(0, jal_bo_new(self->fd, 2 * JAL_MIB + 4096, 0, &code));
	*(struct jal_insn *)code.map = jal_i_halt();
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (k = 0; k < JAL_ARRAY_SIZE(cases); k++) {
		TH_LOG("case: %s", cases[k].name);
		cb.len = 0;
		jal_emit_nop(&cb);
		jal_emit_nop(&cb);
		jal_emit_dispatch(&cb, code.va + cases[k].code_off, cases[k].code_size,
				  code.va + 8192, cases[k].args_size);
		jal_run_expect_fail(_metadata, self->fd, &cb, &code.handle, 1, -EINVAL, -1, &st);
		ASSERT_TRUE(st.hw_status == JAL_STATUS_BAD_CMD ||
			    st.hw_status == JAL_STATUS_BAD_INSN);
		ASSERT_EQ(8, st.error_offset);
	}
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * Invalid instructions, each as "VSCALE to slot 0; <bad>; VSCALE to slot
 * 1": -EINVAL/BAD_INSN at the DISPATCH's offset and slot 1 untouched.
 */
JAL_TEST(err, bad_instructions)
{
	struct {
		const char *name;
		struct jal_insn insn;
	} cases[40];
	struct drm_jalapeno_ctx_status st;
	struct jal_bo data;
	unsigned int n = 0, k;
	uint64_t args[6];
	float *f;

#define ADD_CASE(desc, expr) do {					\
		cases[n].name = desc;					\
		cases[n].insn = (expr);					\
		n++;							\
	} while (0)
#define MUT_CASE(desc, base, stmt) do {				\
		struct jal_insn i_ = (base);				\
		stmt;							\
		ADD_CASE(desc, i_);					\
	} while (0)

	/* registers: r0 = d, r1 = a, r2 = b (f32 buffers), r3 = misaligned */
	const struct jal_insn vadd = jal_i_vec(JAL_OP_VADD, 0, 1, 2, 4, 1, 1, 1);
	const struct jal_insn mv = jal_i_matvec(0, 1, 2, 2, 5, 1, 0, 1);

	MUT_CASE("opcode 0x7e", jal_i_nop(), i_.opcode = 0x7e);
	MUT_CASE("opcode 0x06", jal_i_nop(), i_.opcode = 0x06);
	MUT_CASE("opcode 0xff", jal_i_nop(), i_.opcode = 0xff);
	ADD_CASE("LI r32", jal_i_li(32, 1));
	ADD_CASE("ADDI source r200", jal_i_addi(6, 200, 1));
	ADD_CASE("ADD r255", jal_i_add(6, 1, 255));
	MUT_CASE("VADD b register 32", vadd, i_.r[2] = 32);
	ADD_CASE("BNE r40", jal_i_bne(40, 1, 0));
	MUT_CASE("reserved[0]", vadd, i_.reserved[0] = 1);
	MUT_CASE("reserved[1]", jal_i_nop(), i_.reserved[1] = 0x80000000u);
	MUT_CASE("undefined flag bit 4", vadd, i_.flags = 1u << 4);
	MUT_CASE("undefined flag bit 15", jal_i_nop(), i_.flags = 0x8000);
	MUT_CASE("dtype 1", vadd, i_.dtype = JAL_DTYPE_COUNT);
	MUT_CASE("dtype 0xff", vadd, i_.dtype = 0xff);
	MUT_CASE("MATVEC dtype 7", mv, i_.dtype = 7);
	MUT_CASE("misaligned d", vadd, i_.r[0] = 3);
	MUT_CASE("misaligned a", vadd, i_.r[1] = 3);
	MUT_CASE("MATVEC misaligned W", mv, i_.r[1] = 3);
	MUT_CASE("VSCALE misaligned a", jal_i_vscale(0, 3, 4, 1, 1, 1.0f), (void)0);
	ADD_CASE("JUMP past the end", jal_i_jump(4));
	ADD_CASE("JUMP far", jal_i_jump(0xffffffff));
	ADD_CASE("BNE target past the end", jal_i_bne(1, 2, 1000));
	MUT_CASE("operand extent > 256 MiB", vadd, (i_.dim[0] = 2, i_.stride[1] = 1u << 26));
	MUT_CASE("element count > 256 MiB", vadd, (i_.dim[0] = 1u << 27));
	MUT_CASE("MATVEC pitch < cols", mv, i_.stride[1] = 3);
	MUT_CASE("MATVEC W extent > 256 MiB", mv, (i_.dim[0] = 1u << 14, i_.dim[1] = 1u << 14));
	MUT_CASE("DIM_REG register 32", vadd, (i_.flags = JAL_INSN_F_DIM_REG(0), i_.dim[0] = 32));
	MUT_CASE("DIM_REG value > 0xffffffff", vadd,
		 (i_.flags = JAL_INSN_F_DIM_REG(0), i_.dim[0] = 5));

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &data));
	f = data.map;
	for (k = 0; k < 1024; k++)
		f[k] = (float)k;
	args[0] = data.va + 1024;		/* d */
	args[1] = data.va;			/* a */
	args[2] = data.va + 256;		/* b */
	args[3] = data.va + 2;			/* misaligned */
	args[4] = data.va + 2048;		/* slot 0 */
	args[5] = 1ull << 32;			/* too big for a dim */

	for (k = 0; k < n; k++) {
		struct jal_insn code[3] = {
			jal_i_vscale(4, 1, 4, 1, 1, 3.0f),
			cases[k].insn,
			jal_i_vscale(0, 1, 4, 1, 1, 5.0f),
		};
		uint64_t a[6];
		struct jal_prog p;
		uint32_t ctx, i;

		TH_LOG("case: %s", cases[k].name);
		memcpy(a, args, sizeof(a));
		memset((char *)data.map + 1024, 0, 16);
		ASSERT_EQ(0, jal_prog_new(self->fd, &p, code, 3, a, 6));
		/* put the DISPATCH behind two NOPs: error_offset must be 8 */
		p.cb.len = 0;
		jal_emit_nop(&p.cb);
		jal_emit_nop(&p.cb);
		jal_emit_dispatch(&p.cb, p.bo.va + JAL_PROG_CODE_OFFSET, sizeof(code),
				  p.bo.va, sizeof(a));
		ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
		ASSERT_EQ(0, jal_run(self->fd, ctx, &p.cb,
				     (uint32_t[]){ p.bo.handle, data.handle }, 2));
		jal_assert_ctx_failed(_metadata, self->fd, ctx, -EINVAL, JAL_STATUS_BAD_INSN, &st);
		ASSERT_EQ(8, st.error_offset);
		for (i = 0; i < 4; i++)
			ASSERT_EQ(0, f[256 + i]);	/* slot 1 (d) untouched */
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx));
		jal_prog_free(&p);
	}
	ASSERT_EQ(0, jal_device_usable(self->fd));
#undef ADD_CASE
#undef MUT_CASE
}

/*
 * Random words as command buffers and as kernel code: whatever happens,
 * the job ends with a defined error (or none), error_offset lies inside
 * the buffer, and the device keeps working.
 */
static uint32_t random_command(uint64_t *seed, uint32_t *w, uint64_t my_va)
{
	uint64_t va_mask = (1ull << 39) - 1;
	uint32_t op = jal_rand(seed) % 6, k;
	uint32_t len[] = { 1, 8, 6, 8, 6, 4 };

	for (k = 1; k < len[op]; k++)
		w[k] = jal_rand(seed);
	w[0] = JAL_CMD_HDR(op, len[op]);
	switch (op) {
	case JAL_CMD_COPY:
	case JAL_CMD_FILL:
		/* a random VA, sometimes our own BO; a moderate size */
		if (jal_rand(seed) % 2) {
			uint64_t va = my_va + jal_rand(seed) % 4096;

			memcpy(&w[op == JAL_CMD_COPY ? 4 : 2], &va, 8);
		} else {
			uint64_t va = ((uint64_t)jal_rand(seed) << 32 | jal_rand(seed)) & va_mask;

			memcpy(&w[op == JAL_CMD_COPY ? 4 : 2], &va, 8);
		}
		w[op == JAL_CMD_COPY ? 6 : 4] = jal_rand(seed) % 8192;
		w[op == JAL_CMD_COPY ? 7 : 5] = 0;
		if (op == JAL_CMD_COPY)
			w[1] = 0;
		break;
	default:
		break;
	}
	return len[op];
}

static bool acceptable_error(int err)
{
	return err == 0 || err == -EINVAL || err == -EFAULT || err == -ETIMEDOUT;
}

JAL_SLOW_TEST(err, random_command_buffers)
{
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	unsigned int round, k;
	uint64_t seed = 0x5eed;

	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	for (round = 0; round < 32; round++) {
		uint32_t words = 16 + jal_rand(&seed) % 512, ctx, w[8];
		uint32_t *p;

		cb.len = 0;
		if (round % 2) {
			/* pure noise */
			for (k = 0; k < words; k++) {
				uint32_t r = jal_rand(&seed);

				jal_emit(&cb, &r, 4);
			}
		} else {
			/* well-formed headers with random operands */
			while (cb.len / 4 < words)
				jal_emit(&cb, w, 4 * random_command(&seed, w, bo.va));
		}
		/* sprinkle in raw noise words */
		p = cb.bo.map;
		for (k = 0; k < 3; k++)
			if (jal_rand(&seed) % 2)
				p[jal_rand(&seed) % (cb.len / 4)] = jal_rand(&seed);

		ASSERT_EQ(0, jal_ctx_create(self->fd, round % 3, &ctx));
		ASSERT_EQ(0, jal_run(self->fd, ctx, &cb, &bo.handle, 1));
		ASSERT_EQ(0, jal_ctx_status(self->fd, ctx, &st));
		if (!acceptable_error(st.error))
			TH_LOG("round %u: error %d hw_status %u", round, st.error, st.hw_status);
		ASSERT_TRUE(acceptable_error(st.error));
		ASSERT_EQ(st.submitted, st.completed);
		if (st.error) {
			ASSERT_EQ(DRM_JALAPENO_CTX_BANNED, st.state);
			ASSERT_GT(cb.len, st.error_offset);
			ASSERT_EQ(0, st.error_offset % 4);
		}
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx));
	}
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

JAL_SLOW_TEST(err, random_kernel_code)
{
	static const uint8_t opcodes[] = {
		JAL_OP_NOP, JAL_OP_HALT, JAL_OP_LI, JAL_OP_ADDI, JAL_OP_ADD, JAL_OP_MULI,
		JAL_OP_JUMP, JAL_OP_BNE, JAL_OP_BLTU, JAL_OP_VADD, JAL_OP_VMUL,
		JAL_OP_VSCALE, JAL_OP_MATVEC,
	};
	struct drm_jalapeno_ctx_status st;
	struct jal_insn code[64];
	unsigned int round, k;
	uint64_t seed = 0xc0de, args[4];
	struct jal_bo bo;

	ASSERT_EQ(0, jal_bo_new(self->fd, 8192, 0, &bo));
	args[0] = bo.va;
	args[1] = bo.va + 1024;
	args[2] = bo.va + 2048;
	args[3] = 16;
	for (round = 0; round < 24; round++) {
		uint32_t ctx, n = 1 + jal_rand(&seed) % 64;

		for (k = 0; k < n; k++) {
			uint32_t *w = (uint32_t *)&code[k];
			unsigned int j;

			for (j = 0; j < sizeof(code[k]) / 4; j++)
				w[j] = jal_rand(&seed);
			if (round % 2) {
				/* plausible: a real opcode, small fields, no reserved bits */
				code[k].opcode = opcodes[w[0] % JAL_ARRAY_SIZE(opcodes)];
				code[k].dtype = 0;
				code[k].flags &= 0xf;
				for (j = 0; j < 4; j++) {
					code[k].r[j] %= 32;
					code[k].dim[j] %= 64;
					code[k].stride[j] %= 4;
				}
				/* forward branches only, so it cannot loop */
				code[k].imm[2] = k + 1 + code[k].imm[2] % (n - k);
				code[k].reserved[0] = code[k].reserved[1] = 0;
			}
		}
		ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
		ASSERT_EQ(0, jal_dispatch(self->fd, ctx, code, n, args, 4, &bo.handle, 1));
		ASSERT_EQ(0, jal_ctx_status(self->fd, ctx, &st));
		if (!acceptable_error(st.error))
			TH_LOG("round %u: error %d hw_status %u", round, st.error, st.hw_status);
		ASSERT_TRUE(acceptable_error(st.error));
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx));
	}
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * A BO whose last handle and mapping go away while a job using it is
 * queued: the job holds it and completes normally.
 */
JAL_TEST(err, close_bo_while_job_in_flight)
{
	struct jal_prog busy;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t sync;
	uint64_t iters;

	iters = jal_busy_iters(self->fd, self->ctx, 500);
	ASSERT_NE(0, iters);
	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, iters));
	ASSERT_EQ(0, jal_bo_new(self->fd, 1 << 20, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_fill(&cb, bo.va, 0x0f0f0f0f, bo.size);
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0, 0,
				NULL));
	ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &cb, &bo.handle, 1, NULL, 0, sync, NULL));
	jal_bo_free(&bo);
	jal_cmdbuf_free(&cb);
	jal_prog_free(&busy);
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(1, jal_syncobj_status(self->fd, sync));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* A process exits with jobs queued and running: nothing breaks. */
JAL_TEST(err, close_fd_while_jobs_in_flight)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		struct jal_prog busy;
		struct jal_cmdbuf cb;
		struct jal_bo bo;
		uint32_t ctx, k;
		int fd;

		fd = jal_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK(jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx) == 0);
		CHILD_CHECK(jal_busy_new(fd, &busy, jal_busy_iters(fd, ctx, 1000)) == 0);
		CHILD_CHECK(jal_bo_new(fd, 1 << 20, 0, &bo) == 0);
		CHILD_CHECK(jal_cmdbuf_new(fd, &cb) == 0);
		jal_emit_fill(&cb, bo.va, 0x12121212, bo.size);
		CHILD_CHECK(jal_submit(fd, ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0, 0,
				       NULL) == 0);
		for (k = 0; k < 8; k++)
			CHILD_CHECK(jal_submit(fd, ctx, &cb, &bo.handle, 1, NULL, 0, 0, NULL) == 0);
		_exit(0);	/* no waiting, no cleanup */
	}
	ASSERT_CHILD_OK(pid);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* Watchdog tests change module parameters; restore them in any case. */
FIXTURE(wd) {
	int fd;
	char step_limit[64];
	bool restore;
};

FIXTURE_SETUP(wd)
{
	self->restore = false;
	self->fd = jal_open();
	if (self->fd < 0)
		SKIP(return, "no jalapeno accel device (%d)", self->fd);
	if (jal_param_read("step_limit", self->step_limit, sizeof(self->step_limit)))
		self->step_limit[0] = '\0';
}

FIXTURE_TEARDOWN(wd)
{
	if (self->restore)
		jal_param_write("step_limit", self->step_limit);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * A kernel that never ends ("0: JUMP 0") is stopped by the device
 * watchdog: -ETIMEDOUT in its fence and CTX_STATUS. With a writable
 * step_limit parameter the test uses a small limit and also requires
 * JAL_STATUS_STEP_LIMIT; otherwise the default limit (or the job timeout)
 * has to end it.
 */
TEST_F_TIMEOUT(wd, infinite_kernel_watchdog, JAL_SLOW_TIMEOUT)
{
	struct drm_jalapeno_ctx_status st;
	struct jal_prog spin;
	uint32_t ctx, sync;
	int hw = -1;

	if (self->step_limit[0] && !jal_param_write("step_limit", "1000000")) {
		self->restore = true;
		hw = JAL_STATUS_STEP_LIMIT;
	} else {
		TH_LOG("step_limit not writable: relying on the default watchdog");
	}
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_spin_new(self->fd, &spin));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, ctx, &spin.cb, &spin.bo.handle, 1, NULL, 0, sync,
				NULL));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_SLOW_TIMEOUT * 1000 / 2));
	ASSERT_EQ(-ETIMEDOUT, jal_syncobj_status(self->fd, sync));
	jal_assert_ctx_failed(_metadata, self->fd, ctx, -ETIMEDOUT, hw, &st);
	ASSERT_EQ(0, st.error_offset);
	ASSERT_EQ(-ECANCELED, jal_submit(self->fd, ctx, &spin.cb, &spin.bo.handle, 1, NULL, 0,
					 0, NULL));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * With a small step limit, a loop under the limit completes and the same
 * loop over it fails: the limit counts steps, not jobs or time.
 */
TEST_F_TIMEOUT(wd, step_limit_counts_steps, JAL_TEST_TIMEOUT)
{
	struct drm_jalapeno_ctx_status st;
	struct jal_prog loop;
	uint32_t ctx;

	if (!self->step_limit[0] || jal_param_write("step_limit", "20000"))
		SKIP(return, "step_limit parameter not writable");
	self->restore = true;

	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_busy_new(self->fd, &loop, 5000));	/* ~10000 steps */
	ASSERT_EQ(0, jal_run(self->fd, ctx, &loop.cb, &loop.bo.handle, 1));
	ASSERT_EQ(0, jal_ctx_error(self->fd, ctx));
	jal_prog_free(&loop);

	ASSERT_EQ(0, jal_busy_new(self->fd, &loop, 20000));	/* ~40000 steps */
	ASSERT_EQ(0, jal_run(self->fd, ctx, &loop.cb, &loop.bo.handle, 1));
	jal_assert_ctx_failed(_metadata, self->fd, ctx, -ETIMEDOUT, JAL_STATUS_STEP_LIMIT, &st);
	ASSERT_EQ(2, st.error_seqno);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

TEST_HARNESS_MAIN
