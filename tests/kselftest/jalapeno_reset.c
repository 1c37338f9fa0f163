// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno recovery: the driver's job timeout (with the device watchdog
 * off), and the device going away under open files: PCI unbind with a
 * process holding a file, a mapping and a running job; rmmod refused
 * while files are open; rmmod + insmod once they are closed.
 *
 * Needs root. Module parameters are restored after each test. The rmmod
 * test needs JALAPENO_KO (path of jalapeno.ko; JALAPENO_KO_PARAMS are its
 * module parameters on reload) and is skipped without it.
 */
#include <limits.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>

#include <linux/sync_file.h>

#include "jal_harness.h"

#define DRIVER_SYSFS	"/sys/bus/pci/drivers/jalapeno"

FIXTURE(rst) {
	struct jal_params params;
	bool restore;
};

FIXTURE_SETUP(rst)
{
	char node[PATH_MAX];

	self->restore = false;
	if (jal_find_device(node, sizeof(node), NULL, 0))
		SKIP(return, "no jalapeno accel device");
	jal_params_save(&self->params);
}

static void restore_params(FIXTURE_DATA(rst) *self)
{
	if (!self->restore)
		return;
	jal_params_restore(&self->params);
	self->restore = false;
}

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

static int load_module(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, getenv("JALAPENO_KO_PARAMS") ?: "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

FIXTURE_TEARDOWN(rst)
{
	const char *ko = getenv("JALAPENO_KO");

	restore_params(self);
	/* never leave the machine without the driver, whatever failed */
	if (ko && ko[0] && access("/sys/module/jalapeno", F_OK))
		load_module(ko);
}

/* Watchdog off, job timeout @timeout_ms; skips if that is impossible. */
static bool set_timeout_params(FIXTURE_DATA(rst) *self, const char *timeout_ms)
{
	if (!jal_params_writable(&self->params))
		return false;
	self->restore = true;
	return !jal_param_write("step_limit", "0") &&
	       !jal_param_write("job_timeout_ms", timeout_ms);
}

/*
 * An endless kernel with the watchdog off: the driver's job timeout
 * fires, the fence signals with -ETIMEDOUT, CTX_STATUS says so, and the
 * device is usable afterwards.
 */
TEST_F_TIMEOUT(rst, job_timeout_recovers, JAL_TEST_TIMEOUT)
{
	struct drm_jalapeno_ctx_status st;
	struct jal_prog spin;
	uint32_t ctx, sync;
	uint64_t t0, dt;
	int fd;

	if (!set_timeout_params(self, "300"))
		SKIP(return, "step_limit/job_timeout_ms parameters not writable");
	fd = jal_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_spin_new(fd, &spin));
	ASSERT_EQ(0, jal_syncobj_new(fd, &sync));
	t0 = jal_now_ns();
	ASSERT_EQ(0, jal_submit(fd, ctx, &spin.cb, &spin.bo.handle, 1, NULL, 0, sync, NULL));
	ASSERT_EQ(0, jal_syncobj_wait(fd, sync, 30000));
	dt = jal_now_ns() - t0;
	TH_LOG("job timed out after %llu ms", (unsigned long long)(dt / 1000000));
	ASSERT_LE(250000000ull, dt);
	ASSERT_EQ(-ETIMEDOUT, jal_syncobj_status(fd, sync));
	jal_assert_ctx_failed(_metadata, fd, ctx, -ETIMEDOUT, -1, &st);
	/* STEP_LIMIT would mean the watchdog, not the job timeout, ended it */
	ASSERT_NE(JAL_STATUS_STEP_LIMIT, st.hw_status);
	ASSERT_EQ(-ECANCELED, jal_submit(fd, ctx, &spin.cb, &spin.bo.handle, 1, NULL, 0, 0,
					 NULL));
	restore_params(self);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);

	/* a new file works too */
	fd = jal_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);
}

/*
 * Jobs of other contexts queued behind the hung job, one on the same
 * hardware queue and one on another, survive the timeout recovery and
 * complete correctly.
 */
TEST_F_TIMEOUT(rst, job_timeout_spares_other_contexts, JAL_TEST_TIMEOUT)
{
	struct timespec pause = { .tv_nsec = 500000000 };
	struct drm_jalapeno_ctx_status st;
	uint32_t hung, ctx[2], s_hung, sync[2];
	struct jal_cmdbuf cb[2];
	struct jal_prog spin;
	struct jal_bo bo;
	unsigned int k;
	int fd;

	if (!set_timeout_params(self, "1500"))
		SKIP(return, "step_limit/job_timeout_ms parameters not writable");
	fd = jal_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_LOW, &hung));
	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_LOW, &ctx[0]));	/* same queue */
	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_HIGH, &ctx[1]));	/* other queue */
	ASSERT_EQ(0, jal_spin_new(fd, &spin));
	ASSERT_EQ(0, jal_bo_new(fd, 128 * 1024, 0, &bo));
	ASSERT_EQ(0, jal_syncobj_new(fd, &s_hung));
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, jal_cmdbuf_new(fd, &cb[k]));
		jal_emit_fill(&cb[k], bo.va + k * 65536, 0x600d0000 + k, 65536);
		ASSERT_EQ(0, jal_syncobj_new(fd, &sync[k]));
	}

	ASSERT_EQ(0, jal_submit(fd, hung, &spin.cb, &spin.bo.handle, 1, NULL, 0, s_hung, NULL));
	/* let the spin start, but leave the others well within their timeout */
	nanosleep(&pause, NULL);
	for (k = 0; k < 2; k++)
		ASSERT_EQ(0, jal_submit(fd, ctx[k], &cb[k], &bo.handle, 1, NULL, 0, sync[k],
					NULL));
	ASSERT_EQ(0, jal_syncobj_wait(fd, s_hung, 30000));
	ASSERT_EQ(-ETIMEDOUT, jal_syncobj_status(fd, s_hung));
	jal_assert_ctx_failed(_metadata, fd, hung, -ETIMEDOUT, -1, &st);
	for (k = 0; k < 2; k++) {
		uint32_t *w = (uint32_t *)((char *)bo.map + k * 65536);

		TH_LOG("context %u (%s queue)", ctx[k], k ? "another" : "the same");
		ASSERT_EQ(0, jal_syncobj_wait(fd, sync[k], 30000));
		ASSERT_EQ(1, jal_syncobj_status(fd, sync[k]));
		ASSERT_EQ(0, jal_ctx_status(fd, ctx[k], &st));
		ASSERT_EQ(DRM_JALAPENO_CTX_ACTIVE, st.state);
		ASSERT_EQ(0, st.error);
		ASSERT_EQ(1, st.completed);
		ASSERT_EQ(0x600d0000 + k, w[0]);
		ASSERT_EQ(0x600d0000 + k, w[65536 / 4 - 1]);
	}
	restore_params(self);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);
}

/* Wait up to @ms for the device node to (re)appear; then open it. */
static int wait_and_open(unsigned int ms)
{
	struct timespec step = { .tv_nsec = 50000000 };
	unsigned int waited;
	int fd = -ENODEV;

	for (waited = 0; waited <= ms; waited += 50) {
		fd = jal_open();
		if (fd >= 0)
			break;
		nanosleep(&step, NULL);
	}
	return fd;
}

/*
 * The process that holds the device: its own file, a mapped BO and a
 * long job in flight. It tells the parent "r" when ready and then waits
 * for "u" (the device was unplugged: every ioctl must fail with -ENODEV)
 * or "f" (finish normally: the job's results must be right). Either way
 * unmapping and closing must work.
 */
static void holder_child(int to_parent, int from_parent)
{
	struct drm_jalapeno_device_info info;
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb;
	struct jal_prog busy;
	uint32_t ctx, sync, handle;
	struct jal_bo bo;
	char cmd = 0;
	int fd;

	fd = jal_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx) == 0);
	CHILD_CHECK(jal_bo_new(fd, 64 * 1024, 0, &bo) == 0);
	memset(bo.map, 0x3c, bo.size);
	CHILD_CHECK(jal_busy_new(fd, &busy, jal_busy_iters(fd, ctx, 1500)) == 0);
	CHILD_CHECK(jal_cmdbuf_new(fd, &cb) == 0);
	jal_emit_fill(&cb, bo.va, 0x7e7e7e7e, 4096);
	CHILD_CHECK(jal_syncobj_new(fd, &sync) == 0);
	CHILD_CHECK(jal_submit(fd, ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0, 0, NULL) == 0);
	CHILD_CHECK(jal_submit(fd, ctx, &cb, &bo.handle, 1, NULL, 0, sync, NULL) == 0);

	CHILD_CHECK(write(to_parent, "r", 1) == 1);
	CHILD_CHECK(read(from_parent, &cmd, 1) == 1);
	if (cmd == 'u') {
		CHILD_CHECK(jal_query_info(fd, &info) == -ENODEV);
		CHILD_CHECK(jal_bo_create_raw(fd, 4096, 0, &handle, NULL) == -ENODEV);
		CHILD_CHECK(jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx) == -ENODEV);
		CHILD_CHECK(jal_ctx_status(fd, ctx, &st) == -ENODEV);
		CHILD_CHECK(jal_submit(fd, ctx, &cb, &bo.handle, 1, NULL, 0, 0, NULL) == -ENODEV);
		CHILD_CHECK(jal_bo_wait(fd, bo.handle, 0) == -ENODEV);
		CHILD_CHECK(jal_ctx_destroy(fd, ctx) == -ENODEV);
	} else {
		CHILD_CHECK(cmd == 'f');
		CHILD_CHECK(jal_syncobj_wait(fd, sync, JAL_JOB_WAIT_MS) == 0);
		CHILD_CHECK(jal_ctx_error(fd, ctx) == 0);
		CHILD_CHECK(((uint32_t *)bo.map)[1023] == 0x7e7e7e7e);
		CHILD_CHECK(((uint32_t *)bo.map)[1024] == 0x3c3c3c3c);
	}
	CHILD_CHECK(munmap(bo.map, bo.size) == 0);
	CHILD_CHECK(munmap(busy.bo.map, busy.bo.size) == 0);
	CHILD_CHECK(close(fd) == 0);
	_exit(0);
}

static pid_t start_holder(struct __test_metadata *_metadata, int *to_child)
{
	int up[2], down[2];
	char c = 0;
	pid_t pid;

	if (pipe(up) || pipe(down))
		return -1;
	pid = fork();
	if (!pid) {
		close(up[0]);
		close(down[1]);
		holder_child(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	*to_child = down[1];
	if (read(up[0], &c, 1) != 1 || c != 'r') {
		TH_LOG("holder child failed to set up");
		close(up[0]);
		return -1;
	}
	close(up[0]);
	return pid;
}

static bool can_unbind(const char *bdf)
{
	return bdf[0] && !access(DRIVER_SYSFS "/unbind", W_OK) &&
	       !access(DRIVER_SYSFS "/bind", W_OK);
}

/*
 * PCI unbind while a process holds a file, a mapping and a running job:
 * unbind completes, the holder's ioctls fail with -ENODEV, unmapping and
 * closing work, and binding again brings back a working device.
 */
TEST_F_TIMEOUT(rst, unbind_with_open_file, JAL_SLOW_TIMEOUT)
{
	char bdf[64];
	int to_child, fd;
	uint64_t t0;
	pid_t pid;

	ASSERT_EQ(0, jal_find_device(NULL, 0, bdf, sizeof(bdf)));
	if (!can_unbind(bdf))
		SKIP(return, "cannot unbind %s through " DRIVER_SYSFS, bdf);

	pid = start_holder(_metadata, &to_child);
	ASSERT_LT(0, pid);
	t0 = jal_now_ns();
	ASSERT_EQ(0, jal_write_file(DRIVER_SYSFS "/unbind", bdf));
	TH_LOG("unbind took %llu ms", (unsigned long long)((jal_now_ns() - t0) / 1000000));
	ASSERT_EQ(-ENODEV, jal_open());
	ASSERT_EQ(1, write(to_child, "u", 1));
	close(to_child);
	ASSERT_CHILD_OK(pid);

	ASSERT_EQ(0, jal_write_file(DRIVER_SYSFS "/bind", bdf));
	fd = wait_and_open(10000);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);
}

/*
 * rmmod while a process holds a file (with a mapping and a job in
 * flight) is refused; the holder's device keeps working. Unbinding still
 * works with the file open (-ENODEV for the holder), and once the file is
 * closed rmmod succeeds and insmod of JALAPENO_KO brings the device back.
 */
TEST_F_TIMEOUT(rst, rmmod_busy_then_reload, JAL_SLOW_TIMEOUT)
{
	const char *ko = getenv("JALAPENO_KO");
	char bdf[64];
	int to_child, fd, ret;
	pid_t pid;

	if (!ko || !ko[0])
		SKIP(return, "JALAPENO_KO not set");
	ASSERT_EQ(0, access(ko, R_OK));
	ASSERT_EQ(0, jal_find_device(NULL, 0, bdf, sizeof(bdf)));

	/* 1: refused while a file is open; the holder finishes normally */
	pid = start_holder(_metadata, &to_child);
	ASSERT_LT(0, pid);
	ret = delete_module("jalapeno");
	TH_LOG("rmmod with an open file: %d", ret);
	ASSERT_TRUE(ret == -EBUSY || ret == -EAGAIN);
	ASSERT_EQ(1, write(to_child, "f", 1));
	close(to_child);
	ASSERT_CHILD_OK(pid);

	/* 2: unbind with a file open, then rmmod once it is closed */
	if (can_unbind(bdf)) {
		pid = start_holder(_metadata, &to_child);
		ASSERT_LT(0, pid);
		ASSERT_EQ(0, jal_write_file(DRIVER_SYSFS "/unbind", bdf));
		ret = delete_module("jalapeno");
		ASSERT_TRUE(ret == -EBUSY || ret == -EAGAIN);	/* the file still holds it */
		ASSERT_EQ(1, write(to_child, "u", 1));
		close(to_child);
		ASSERT_CHILD_OK(pid);
	}
	ASSERT_EQ(0, delete_module("jalapeno"));
	ASSERT_EQ(-ENODEV, jal_open());
	ASSERT_NE(0, access("/sys/module/jalapeno", F_OK));

	/* 3: insmod brings it back, with default parameters */
	ASSERT_EQ(0, load_module(ko));
	fd = wait_and_open(10000);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);
	self->restore = false;	/* the new module instance has its defaults */
}

/*
 * The driver's own jobs (zeroing device memory for a VRAM BO_CREATE) do
 * not obey the user job timeout: with job_timeout_ms at 1, creating VRAM
 * BOs still succeeds instead of failing with -ETIMEDOUT.
 */
TEST_F_TIMEOUT(rst, vram_zeroing_ignores_user_job_timeout, JAL_TEST_TIMEOUT)
{
	struct drm_jalapeno_device_info info;
	uint64_t size;
	uint32_t handle;
	unsigned int k;
	int fd;

	fd = jal_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_query_info(fd, &info));
	if (!info.vram_size) {
		close(fd);
		SKIP(return, "no device memory");
	}
	if (!set_timeout_params(self, "1"))
		SKIP(return, "cannot set job_timeout_ms");
	size = info.vram_size / 4;
	for (k = 0; k < 8; k++) {
		ASSERT_EQ(0, jal_bo_create_raw(fd, size, DRM_JALAPENO_BO_VRAM, &handle, NULL));
		ASSERT_EQ(0, jal_gem_close(fd, handle));
	}
	restore_params(self);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);
}

/* Wait up to @ms for nothing to hold a reference to the module. */
static int wait_module_unused(unsigned int ms)
{
	struct timespec step = { .tv_nsec = 10000000 };
	unsigned int waited;
	char buf[32];
	FILE *f;

	for (waited = 0; waited <= ms; waited += 10) {
		f = fopen("/sys/module/jalapeno/refcnt", "r");
		if (!f)
			return -errno;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		if (!strcmp(buf, "0\n"))
			return 0;
		nanosleep(&step, NULL);
	}
	return -ETIME;
}

/* A sync_file of a job's out-fence, submitted behind a long job. */
static int export_job_fence(struct __test_metadata *_metadata, int fd)
{
	struct jal_prog busy;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t ctx, sync;
	int sf;

	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_bo_new(fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_busy_new(fd, &busy, jal_busy_iters(fd, ctx, 1000)));
	ASSERT_EQ(0, jal_cmdbuf_new(fd, &cb));
	jal_emit_fill(&cb, bo.va, 0x7e7e7e7e, 4096);
	ASSERT_EQ(0, jal_syncobj_new(fd, &sync));
	ASSERT_EQ(0, jal_submit(fd, ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0, 0, NULL));
	ASSERT_EQ(0, jal_submit(fd, ctx, &cb, &bo.handle, 1, NULL, 0, sync, NULL));
	sf = jal_syncobj_export(fd, sync);
	ASSERT_LE(0, sf);
	/* The jobs hold their BOs; mappings would keep the file (and module). */
	jal_cmdbuf_free(&cb);
	jal_bo_free(&bo);
	jal_prog_free(&busy);
	return sf;
}

/* The fence's status (1 signalled, < 0 its error) and names. */
static int sync_file_status(struct __test_metadata *_metadata, int sf)
{
	struct sync_fence_info fi;
	struct sync_file_info info;

	memset(&info, 0, sizeof(info));
	memset(&fi, 0, sizeof(fi));
	ASSERT_EQ(0, ioctl(sf, SYNC_IOC_FILE_INFO, &info));
	ASSERT_EQ(1, info.num_fences);
	info.sync_fence_info = (uintptr_t)&fi;
	ASSERT_EQ(0, ioctl(sf, SYNC_IOC_FILE_INFO, &info));
	ASSERT_STREQ("jalapeno", fi.driver_name);
	ASSERT_EQ(0, strncmp(fi.obj_name, "jalapeno-q", 10));
	return info.status;
}

/*
 * A job's fence exported as a sync_file outlives the device and the
 * driver: after unbind it reports the job's fate (done, or -ENODEV if it
 * was cut off) with its names intact; rmmod is refused while the
 * sync_file holds the fence; once it is closed rmmod and insmod work.
 */
TEST_F_TIMEOUT(rst, sync_file_outlives_device_and_module, JAL_SLOW_TIMEOUT)
{
	const char *ko = getenv("JALAPENO_KO");
	struct pollfd pfd;
	char bdf[64];
	int fd, sf, status, ret;

	if (!ko || !ko[0])
		SKIP(return, "JALAPENO_KO not set");
	ASSERT_EQ(0, jal_find_device(NULL, 0, bdf, sizeof(bdf)));
	if (!can_unbind(bdf))
		SKIP(return, "cannot unbind %s through " DRIVER_SYSFS, bdf);

	fd = jal_open();
	ASSERT_LE(0, fd);
	sf = export_job_fence(_metadata, fd);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(0, jal_write_file(DRIVER_SYSFS "/unbind", bdf));

	/* Unbind ended every job: the fence has signalled, one way or the other. */
	pfd.fd = sf;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	status = sync_file_status(_metadata, sf);
	TH_LOG("fence status after unbind: %d", status);
	ASSERT_TRUE(status == 1 || status == -ENODEV);

	ret = delete_module("jalapeno");
	ASSERT_TRUE(ret == -EBUSY || ret == -EAGAIN);	/* the fence holds it */
	ASSERT_EQ(status, sync_file_status(_metadata, sf));
	ASSERT_EQ(0, close(sf));
	/* The closed file's BOs, whose reservations hold fences, go on jal_wq. */
	ASSERT_EQ(0, wait_module_unused(10000));
	ASSERT_EQ(0, delete_module("jalapeno"));

	ASSERT_EQ(0, load_module(ko));
	fd = wait_and_open(10000);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, jal_device_usable(fd));
	close(fd);
	self->restore = false;	/* the new module instance has its defaults */
}

TEST_HARNESS_MAIN
