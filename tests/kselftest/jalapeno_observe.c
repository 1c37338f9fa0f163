// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno observability: the driver's tracepoints (read back through
 * tracefs), its debugfs files (queues, contexts, vms, faults and the
 * queue reset trigger) and the devcoredump of a reset. Needs root; tracefs and debugfs are mounted if
 * they are not yet.
 */
#include <dirent.h>
#include <limits.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "jal_harness.h"

#define TRACEFS		"/sys/kernel/tracing"
#define DEBUGFS		"/sys/kernel/debug"

FIXTURE(obs) {
	int fd;
	uint32_t ctx;
	char dir[PATH_MAX];	/* the device's debugfs directory */
	struct jal_params params;
};

/* Mount @type at @path unless @probe (a file inside it) exists already. */
static int ensure_mounted(const char *type, const char *path, const char *probe)
{
	if (!access(probe, F_OK))
		return 0;
	return mount(type, path, type, 0, NULL) ? -errno : 0;
}

FIXTURE_SETUP(obs)
{
	self->fd = jal_open();
	if (self->fd < 0)
		SKIP(return, "no jalapeno accel device (%d)", self->fd);
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &self->ctx));
	if (jal_debugfs_dir(self->dir, sizeof(self->dir)))
		SKIP(return, "no debugfs directory of the device");
	jal_params_save(&self->params);
}

FIXTURE_TEARDOWN(obs)
{
	jal_params_restore(&self->params);
	if (self->fd >= 0)
		close(self->fd);
}

static char *debugfs_read(FIXTURE_DATA(obs) *self, const char *name)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", self->dir, name);
	return jal_read_file(path);
}

/* A job that writes to an unmapped VA: fails with -EFAULT. */
static void run_faulting_job(struct __test_metadata *_metadata, int fd, uint32_t *ctx)
{
	struct jal_cmdbuf cb;

	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, ctx));
	ASSERT_EQ(0, jal_cmdbuf_new(fd, &cb));
	jal_emit_write_value(&cb, 0x1000, 1);
	ASSERT_EQ(0, jal_run(fd, *ctx, &cb, &cb.bo.handle, 1));
	ASSERT_EQ(-EFAULT, jal_ctx_error(fd, *ctx));
	jal_cmdbuf_free(&cb);
}

/*
 * Every tracepoint of a job's life: submit, run, irq and done for a good
 * job, fault and done with -EFAULT for a bad one, in that order.
 */
TEST_F_TIMEOUT(obs, tracepoints_follow_jobs, JAL_TEST_TIMEOUT)
{
	char want[128], *trace, *submit, *run, *done;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t bad;

	if (ensure_mounted("tracefs", TRACEFS, TRACEFS "/trace"))
		SKIP(return, "no tracefs");
	ASSERT_EQ(0, access(TRACEFS "/events/jalapeno/enable", F_OK));
	ASSERT_EQ(0, jal_write_file(TRACEFS "/trace", ""));
	ASSERT_EQ(0, jal_write_file(TRACEFS "/events/jalapeno/enable", "1"));

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_write_value(&cb, bo.va, 7);
	ASSERT_JOB_OK(self->fd, self->ctx, &cb, &cb.bo.handle, 1);
	run_faulting_job(_metadata, self->fd, &bad);

	ASSERT_EQ(0, jal_write_file(TRACEFS "/events/jalapeno/enable", "0"));
	trace = jal_read_file(TRACEFS "/trace");
	ASSERT_NE(NULL, trace);

	snprintf(want, sizeof(want), "jal_submit: queue=1 hw_ctx=");
	submit = strstr(trace, want);
	ASSERT_NE(NULL, submit);
	snprintf(want, sizeof(want), " ctx=%u seqno=1 bos=", self->ctx);
	ASSERT_NE(NULL, strstr(submit, want));
	run = strstr(submit, "jal_run: queue=1");
	ASSERT_NE(NULL, run);
	done = strstr(run, "jal_done: queue=1");
	ASSERT_NE(NULL, done);
	ASSERT_NE(NULL, strstr(trace, "jal_irq: irq="));
	ASSERT_NE(NULL, strstr(done, "seqno=1"));
	ASSERT_NE(NULL, strstr(done, "error=0"));
	/* MMU unmapped, at the VA, then the job ends with -EFAULT. */
	snprintf(want, sizeof(want), "hw_status=%u addr=0x1000 error=%d",
		 JAL_STATUS_MMU_UNMAPPED, -EFAULT);
	ASSERT_NE(NULL, strstr(trace, want));
	snprintf(want, sizeof(want), "error=%d", -EFAULT);
	ASSERT_NE(NULL, strstr(done, want));

	free(trace);
	jal_cmdbuf_free(&cb);
	jal_bo_free(&bo);
}

/*
 * debugfs while a job runs: the queue lists it, the contexts file our
 * context, the vms file our BO's range; afterwards the faults file names
 * a failed job with its VA.
 */
TEST_F_TIMEOUT(obs, debugfs_shows_queues_contexts_vms_faults, JAL_TEST_TIMEOUT)
{
	char want[160], *text;
	struct jal_prog busy;
	struct jal_bo bo;
	uint32_t sync, bad;

	ASSERT_EQ(0, jal_bo_new(self->fd, 64 * 1024, 0, &bo));
	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, jal_busy_iters(self->fd, self->ctx, 1000)));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0,
				sync, NULL));
	ASSERT_EQ(0, jal_busy_wait_started(&busy, JAL_JOB_WAIT_MS));

	text = debugfs_read(self, "queues");
	ASSERT_NE(NULL, text);
	ASSERT_NE(NULL, strstr(text, "queue 1: head"));
	snprintf(want, sizeof(want), " ctx %u seqno ", self->ctx);
	ASSERT_NE(NULL, strstr(text, want));
	snprintf(want, sizeof(want), "pid %d, cmdbuf 0x%llx", getpid(),
		 (unsigned long long)busy.cb.bo.va);
	ASSERT_NE(NULL, strstr(text, want));
	free(text);

	text = debugfs_read(self, "contexts");
	ASSERT_NE(NULL, text);
	snprintf(want, sizeof(want), " %4u %5d ", self->ctx, getpid());
	ASSERT_NE(NULL, strstr(text, want));
	free(text);

	text = debugfs_read(self, "vms");
	ASSERT_NE(NULL, text);
	snprintf(want, sizeof(want), "[0x%010llx, ", (unsigned long long)bo.va);
	ASSERT_NE(NULL, strstr(text, want));
	free(text);

	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));

	run_faulting_job(_metadata, self->fd, &bad);
	text = debugfs_read(self, "faults");
	ASSERT_NE(NULL, text);
	snprintf(want, sizeof(want), "pid %d [jalapeno_obser", getpid());
	ASSERT_NE(NULL, strstr(text, want));
	snprintf(want, sizeof(want), "ctx %u hw_ctx", bad);
	ASSERT_NE(NULL, strstr(text, want));
	ASSERT_NE(NULL, strstr(text, "VA 0x1000"));
	free(text);

	jal_prog_free(&busy);
	jal_bo_free(&bo);
}

#define DEVCOREDUMP	"/sys/class/devcoredump"

/* Drop every pending device coredump: a device keeps one at a time. */
static void devcoredump_clear(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	dir = opendir(DEVCOREDUMP);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), DEVCOREDUMP "/%s/data", de->d_name);
		jal_write_file(path, "1");
	}
	closedir(dir);
}

/* The data of the coredump of the PCI device @bdf, or NULL. */
static char *devcoredump_read(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct dirent *de;
	char *data = NULL;
	ssize_t n;
	DIR *dir;

	dir = opendir(DEVCOREDUMP);
	if (!dir)
		return NULL;
	while (!data && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), DEVCOREDUMP "/%s/failing_device", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		if (strcmp(strrchr(link, '/') + 1, bdf))
			continue;
		snprintf(path, sizeof(path), DEVCOREDUMP "/%s/data", de->d_name);
		data = jal_read_file(path);
		jal_write_file(path, "1");
	}
	closedir(dir);
	return data;
}

/*
 * The reset trigger: with the chip's watchdog and the job timeout off, a
 * running job that would never end is failed by a queue reset written to
 * debugfs (-ETIMEDOUT, ABORTED); other contexts keep working. The reset
 * leaves a devcoredump naming the job, its context and process, the
 * registers, and the job's command buffer word for word.
 */
TEST_F_TIMEOUT(obs, debugfs_reset_queue_recovers, JAL_TEST_TIMEOUT)
{
	char path[PATH_MAX + 32], want[160], bdf[64], *dump;
	struct drm_jalapeno_ctx_status st;
	struct jal_prog busy;
	uint32_t sync;

	if (!jal_params_writable(&self->params))
		SKIP(return, "module parameters not writable");
	ASSERT_EQ(0, jal_param_write("step_limit", "0"));
	ASSERT_EQ(0, jal_param_write("job_timeout_ms", "0"));
	ASSERT_EQ(0, jal_find_device(NULL, 0, bdf, sizeof(bdf)));

	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, UINT64_MAX / 2));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, self->ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0,
				sync, NULL));
	ASSERT_EQ(0, jal_busy_wait_started(&busy, JAL_JOB_WAIT_MS));

	devcoredump_clear();
	snprintf(path, sizeof(path), "%s/reset_queue", self->dir);
	ASSERT_EQ(-EINVAL, jal_write_file(path, "4"));
	ASSERT_EQ(0, jal_write_file(path, "1"));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	jal_assert_ctx_failed(_metadata, self->fd, self->ctx, -ETIMEDOUT,
			      JAL_STATUS_ABORTED, &st);

	/* The dump is written before the job's fence signals. */
	dump = devcoredump_read(bdf);
	ASSERT_NE(NULL, dump);
	ASSERT_EQ(dump, strstr(dump, "Jalapeno coredump\nreason: job timed out"));
	ASSERT_NE(NULL, strstr(dump, "  DEV_STATUS     0x"));
	snprintf(want, sizeof(want), "context: %u (hw_ctx ", self->ctx);
	ASSERT_NE(NULL, strstr(dump, want));
	snprintf(want, sizeof(want), "of pid %d [jalapeno_obser", getpid());
	ASSERT_NE(NULL, strstr(dump, want));
	snprintf(want, sizeof(want), "command buffer: %u bytes at 0x%llx\n  %08x %08x",
		 busy.cb.len, (unsigned long long)busy.cb.bo.va,
		 ((uint32_t *)busy.cb.bo.map)[0], ((uint32_t *)busy.cb.bo.map)[1]);
	ASSERT_NE(NULL, strstr(dump, want));
	free(dump);

	jal_prog_free(&busy);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* The number in a sysfs file, or -1. */
static long long sysfs_number(const char *path)
{
	char *text = jal_read_file(path);
	long long v = text ? strtoll(text, NULL, 0) : -1;

	free(text);
	return v;
}

/* The hwmon directory named "jalapeno" whose device is @bdf. */
static int find_hwmon(const char *bdf, char *dir, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX], *name;
	struct dirent *de;
	int ret = -ENOENT;
	ssize_t n;
	DIR *d;

	d = opendir("/sys/class/hwmon");
	if (!d)
		return -errno;
	while (ret && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/hwmon/%s/name", de->d_name);
		name = jal_read_file(path);
		if (name && !strcmp(name, "jalapeno\n")) {
			snprintf(path, sizeof(path), "/sys/class/hwmon/%s/device", de->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = '\0';
				if (!strcmp(strrchr(link, '/') + 1, bdf)) {
					snprintf(dir, len, "/sys/class/hwmon/%s", de->d_name);
					ret = 0;
				}
			}
		}
		free(name);
	}
	closedir(d);
	return ret;
}

/*
 * Telemetry: hwmon shows the idle temperature and power once the chip
 * has been idle for a sample, and more of both after a job that kept it
 * busy; busy_ns grows by the job; the clock is the chip's.
 */
TEST_F_TIMEOUT(obs, telemetry_follows_the_work, JAL_TEST_TIMEOUT)
{
	struct timespec step = { .tv_nsec = 20000000 };
	char hwmon[PATH_MAX], temp[PATH_MAX + 16], power[PATH_MAX + 16];
	char busy[PATH_MAX], clock[PATH_MAX], bdf[64];
	long long t_idle = -1, busy0, busy1, t_busy, p_busy;
	struct jal_prog prog;
	unsigned int i;

	ASSERT_EQ(0, jal_find_device(NULL, 0, bdf, sizeof(bdf)));
	snprintf(busy, sizeof(busy), "/sys/bus/pci/devices/%s/busy_ns", bdf);
	snprintf(clock, sizeof(clock), "/sys/bus/pci/devices/%s/clock_mhz", bdf);
	ASSERT_EQ(0, find_hwmon(bdf, hwmon, sizeof(hwmon)));
	snprintf(temp, sizeof(temp), "%s/temp1_input", hwmon);
	snprintf(power, sizeof(power), "%s/power1_input", hwmon);
	ASSERT_EQ(JAL_CLOCK_MHZ, sysfs_number(clock));

	ASSERT_EQ(0, jal_busy_new(self->fd, &prog, jal_busy_iters(self->fd, self->ctx, 200)));
	/* Idle: a sample with nothing running reads the idle values. */
	for (i = 0; i < 500 && t_idle != JAL_TEMP_IDLE_MC; i++) {
		nanosleep(&step, NULL);
		t_idle = sysfs_number(temp);
	}
	ASSERT_EQ(JAL_TEMP_IDLE_MC, t_idle);
	ASSERT_EQ(JAL_POWER_IDLE_MW * 1000ll, sysfs_number(power));

	busy0 = sysfs_number(busy);
	ASSERT_LE(0, busy0);
	ASSERT_JOB_OK(self->fd, self->ctx, &prog.cb, &prog.bo.handle, 1);
	busy1 = sysfs_number(busy);
	t_busy = sysfs_number(temp);
	p_busy = sysfs_number(power);
	TH_LOG("busy %lld ns; %lld -> %lld mC, %lld uW", busy1 - busy0, t_idle, t_busy, p_busy);
	ASSERT_LT(busy0, busy1);
	ASSERT_LT(JAL_TEMP_IDLE_MC, t_busy);
	ASSERT_GE(JAL_TEMP_IDLE_MC + JAL_TEMP_SPAN_MC, t_busy);
	ASSERT_LT(JAL_POWER_IDLE_MW * 1000ll, p_busy);
	jal_prog_free(&prog);
}

TEST_HARNESS_MAIN
