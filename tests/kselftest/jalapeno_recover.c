// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno whole-device recovery: resets of the whole chip requested
 * through debugfs while several contexts have jobs queued and running,
 * and (on a chip with JAL_CAP_FAULT_INJECT) 100 injected faults of every
 * kind while innocent contexts keep running and checking their results.
 * Needs root; debugfs is mounted if it is not yet.
 */
#include <limits.h>
#include <sys/mount.h>

#include "jal_harness.h"

#define INNOCENTS	2	/* contexts on queues NORMAL and HIGH */
#define CHAIN		24	/* jobs per innocent round */

FIXTURE(rec) {
	int fd;
	char dir[PATH_MAX];
	struct jal_params params;
};

/* The number after "@key: " in the debugfs inject file, or -1. */
static long inject_value(FIXTURE_DATA(rec) *self, const char *key)
{
	char path[PATH_MAX + 16], line[128];
	size_t klen = strlen(key);
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/inject", self->dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':')
			value = strtol(line + klen + 1, NULL, 0);
	fclose(f);
	return value;
}

static int debugfs_write(FIXTURE_DATA(rec) *self, const char *name, const char *s)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/%s", self->dir, name);
	return jal_write_file(path, s);
}

FIXTURE_SETUP(rec)
{
	self->fd = jal_open();
	if (self->fd < 0)
		SKIP(return, "no jalapeno accel device (%d)", self->fd);
	if (jal_debugfs_dir(self->dir, sizeof(self->dir)))
		SKIP(return, "no debugfs directory of the device");
	jal_params_save(&self->params);
}

FIXTURE_TEARDOWN(rec)
{
	if (self->fd >= 0 && inject_value(self, "kind") >= 0)
		debugfs_write(self, "inject", "off -1 0 0");
	jal_params_restore(&self->params);
	if (self->fd >= 0)
		close(self->fd);
}

/*
 * An innocent worker: CHAIN jobs on its own context, each writing a
 * value that depends on the round and its index, the last signalling a
 * syncobj; then every value must be right and the context active.
 */
struct innocent {
	uint32_t ctx;
	struct jal_bo bo;
	struct jal_cmdbuf cb[CHAIN];
	uint32_t sync;
};

static int innocent_init(int fd, uint32_t priority, struct innocent *in)
{
	unsigned int k;

	if (jal_ctx_create(fd, priority, &in->ctx) || jal_bo_new(fd, CHAIN * 4096, 0, &in->bo) ||
	    jal_syncobj_new(fd, &in->sync))
		return -1;
	for (k = 0; k < CHAIN; k++)
		if (jal_cmdbuf_new(fd, &in->cb[k]))
			return -1;
	return 0;
}

static int innocent_submit(int fd, struct innocent *in, uint32_t round)
{
	unsigned int k;

	memset(in->bo.map, 0, in->bo.size);
	for (k = 0; k < CHAIN; k++) {
		in->cb[k].len = 0;
		jal_emit_fill(&in->cb[k], in->bo.va + k * 4096, round * 1000 + k, 4096);
		if (jal_submit(fd, in->ctx, &in->cb[k], &in->bo.handle, 1, NULL, 0,
			       k == CHAIN - 1 ? in->sync : 0, NULL))
			return -1;
	}
	return 0;
}

/* 0 if every job of the round wrote its value and the context is fine. */
static int innocent_check(int fd, struct innocent *in, uint32_t round)
{
	const uint32_t *w = in->bo.map;
	unsigned int k;

	if (jal_syncobj_wait(fd, in->sync, JAL_JOB_WAIT_MS) || jal_ctx_error(fd, in->ctx))
		return -1;
	for (k = 0; k < CHAIN; k++)
		if (w[k * 1024] != round * 1000 + k || w[k * 1024 + 1023] != round * 1000 + k)
			return -1;
	return 0;
}

/*
 * Device resets requested while innocent contexts have jobs queued: the
 * chip finishes what it runs first, so nothing is lost and every job's
 * result is right; the device keeps working.
 */
TEST_F_TIMEOUT(rec, reset_device_loses_no_queued_job, JAL_SLOW_TIMEOUT)
{
	struct innocent in[INNOCENTS];
	uint32_t round;
	long resets;
	unsigned int i;

	for (i = 0; i < INNOCENTS; i++)
		ASSERT_EQ(0, innocent_init(self->fd, DRM_JALAPENO_PRIORITY_NORMAL + i, &in[i]));
	resets = inject_value(self, "device resets");
	ASSERT_LE(0, resets);
	for (round = 1; round <= 5; round++) {
		for (i = 0; i < INNOCENTS; i++)
			ASSERT_EQ(0, innocent_submit(self->fd, &in[i], round));
		ASSERT_EQ(0, debugfs_write(self, "reset_device", "1"));
		for (i = 0; i < INNOCENTS; i++)
			ASSERT_EQ(0, innocent_check(self->fd, &in[i], round));
	}
	TH_LOG("device resets: %ld -> %ld", resets, inject_value(self, "device resets"));
	ASSERT_LT(resets, inject_value(self, "device resets"));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * A device reset while a job runs that will not finish (watchdog and job
 * timeout off): the job is cut, its context is LOST (-ECANCELED, ABORTED,
 * no more submits), the jobs queued behind on other contexts run, and a
 * new context works.
 */
TEST_F_TIMEOUT(rec, reset_device_cuts_a_running_job, JAL_SLOW_TIMEOUT)
{
	struct drm_jalapeno_ctx_status st;
	struct innocent in;
	struct jal_prog busy;
	uint32_t ctx, sync;

	if (!jal_params_writable(&self->params))
		SKIP(return, "module parameters not writable");
	ASSERT_EQ(0, jal_param_write("step_limit", "0"));
	ASSERT_EQ(0, jal_param_write("job_timeout_ms", "0"));
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, innocent_init(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &in));
	ASSERT_EQ(0, jal_busy_new(self->fd, &busy, UINT64_MAX / 2));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	ASSERT_EQ(0, jal_submit(self->fd, ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0, sync,
				NULL));
	ASSERT_EQ(0, jal_busy_wait_started(&busy, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, innocent_submit(self->fd, &in, 7));

	ASSERT_EQ(0, debugfs_write(self, "reset_device", "1"));
	ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync, JAL_JOB_WAIT_MS));
	ASSERT_EQ(0, jal_ctx_status(self->fd, ctx, &st));
	ASSERT_EQ(DRM_JALAPENO_CTX_LOST, st.state);
	ASSERT_EQ(-ECANCELED, st.error);
	ASSERT_EQ(JAL_STATUS_ABORTED, st.hw_status);
	ASSERT_EQ(-ECANCELED, jal_submit(self->fd, ctx, &busy.cb, &busy.bo.handle, 1, NULL, 0,
					 0, NULL));
	ASSERT_EQ(0, innocent_check(self->fd, &in, 7));
	jal_prog_free(&busy);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/*
 * A device reset clears device memory: a context whose file has a VRAM
 * BO becomes LOST (its data is gone), one of a file with host BOs only
 * stays ACTIVE and keeps working.
 */
TEST_F_TIMEOUT(rec, reset_device_loses_device_memory_users, JAL_TEST_TIMEOUT)
{
	struct drm_jalapeno_device_info info;
	struct drm_jalapeno_ctx_status st;
	struct innocent in;
	uint32_t ctx, vbo;
	int vfd;

	ASSERT_EQ(0, jal_query_info(self->fd, &info));
	if (!info.vram_size)
		SKIP(return, "no device memory");
	vfd = jal_open();
	ASSERT_LE(0, vfd);
	ASSERT_EQ(0, jal_ctx_create(vfd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_bo_create_raw(vfd, 1 << 20, DRM_JALAPENO_BO_VRAM, &vbo, NULL));
	ASSERT_EQ(0, innocent_init(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &in));

	ASSERT_EQ(0, debugfs_write(self, "reset_device", "1"));
	/* The host-memory user still works, which also waits out the reset. */
	ASSERT_EQ(0, innocent_submit(self->fd, &in, 3));
	ASSERT_EQ(0, innocent_check(self->fd, &in, 3));

	ASSERT_EQ(0, jal_ctx_status(vfd, ctx, &st));
	ASSERT_EQ(DRM_JALAPENO_CTX_LOST, st.state);
	ASSERT_EQ(-ECANCELED, st.error);
	ASSERT_EQ(0, st.error_seqno);
	ASSERT_EQ(0, jal_device_usable(vfd));	/* a new context of the same file works */
	close(vfd);
}

/*
 * A PCI function reset through sysfs (the kernel's reset method, the
 * chip's FLR) with files open and jobs queued: reset_prepare/reset_done
 * carry the jobs over, every result is right, the device keeps working.
 */
TEST_F_TIMEOUT(rec, pci_function_reset_with_jobs_queued, JAL_SLOW_TIMEOUT)
{
	char path[PATH_MAX], bdf[64];
	struct innocent in[INNOCENTS];
	unsigned int i;
	long resets;

	ASSERT_EQ(0, jal_find_device(NULL, 0, bdf, sizeof(bdf)));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bdf);
	if (access(path, W_OK))
		SKIP(return, "no PCI reset method for the chip (%s)", bdf);
	for (i = 0; i < INNOCENTS; i++)
		ASSERT_EQ(0, innocent_init(self->fd, DRM_JALAPENO_PRIORITY_NORMAL + i, &in[i]));
	resets = inject_value(self, "device resets");
	for (i = 0; i < INNOCENTS; i++)
		ASSERT_EQ(0, innocent_submit(self->fd, &in[i], 11));
	ASSERT_EQ(0, jal_write_file(path, "1"));
	for (i = 0; i < INNOCENTS; i++)
		ASSERT_EQ(0, innocent_check(self->fd, &in[i], 11));
	ASSERT_EQ(resets + 1, inject_value(self, "device resets"));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

static const struct {
	const char *name;
	bool resets;		/* recovery resets the device */
	bool guilty;		/* the job hit fails */
} kinds[] = {
	{ "hang", true, true },
	{ "drop_irq", false, false },
	{ "dup_irq", false, false },
	{ "bad_compl", true, false },
	{ "fatal", true, true },
};

/*
 * A sacrificial process keeps queue 0 (LOW) busy with small jobs, making
 * a new context whenever a fault took one, until told to stop.
 */
static void sacrifice(int stop_fd)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t ctx = 0;
	char c;
	int fd;

	fd = jal_open();
	if (fd < 0 || jal_bo_new(fd, 4096, 0, &bo) || jal_cmdbuf_new(fd, &cb))
		_exit(1);
	jal_emit_write_value(&cb, bo.va, 42);
	fcntl(stop_fd, F_SETFL, O_NONBLOCK);
	while (read(stop_fd, &c, 1) != 1) {
		if (!ctx && jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_LOW, &ctx))
			_exit(1);
		if (jal_run(fd, ctx, &cb, &bo.handle, 1) || jal_ctx_error(fd, ctx)) {
			jal_ctx_destroy(fd, ctx);
			ctx = 0;
		}
	}
	_exit(0);
}

/*
 * 100 faults of every kind on queue 0 while innocent contexts on the
 * other queues keep submitting and checking: every innocent job is right,
 * every fault was recovered (the device resets when the kind needs it),
 * and the device works afterwards.
 */
TEST_F_TIMEOUT(rec, injected_faults_spare_innocent_contexts, JAL_SLOW_TIMEOUT)
{
	const long faults = 100;
	struct innocent in[INNOCENTS];
	unsigned int i, k;
	uint32_t round = 0;
	char cmd[64];
	long resets;
	int stop[2];
	pid_t pid;

	if (inject_value(self, "kind") < 0 && inject_value(self, "fired") < 0)
		SKIP(return, "chip without fault injection (QEMU -device jalapeno,fault-injection=on)");
	if (!self->params.job_timeout_ms[0])
		SKIP(return, "job_timeout_ms not writable");
	/* A hung job is noticed quickly; the innocent jobs take microseconds. */
	ASSERT_EQ(0, jal_param_write("job_timeout_ms", "200"));
	for (i = 0; i < INNOCENTS; i++)
		ASSERT_EQ(0, innocent_init(self->fd, DRM_JALAPENO_PRIORITY_NORMAL + i, &in[i]));

	for (k = 0; k < JAL_ARRAY_SIZE(kinds); k++) {
		resets = inject_value(self, "device resets");
		snprintf(cmd, sizeof(cmd), "%s 0 3 3", kinds[k].name);
		ASSERT_EQ(0, debugfs_write(self, "inject", cmd));
		ASSERT_EQ(0, pipe(stop));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			close(stop[1]);
			sacrifice(stop[0]);
		}
		close(stop[0]);
		/* Innocent rounds until the faults have all been injected. */
		while (inject_value(self, "fired") < faults) {
			round++;
			for (i = 0; i < INNOCENTS; i++)
				ASSERT_EQ(0, innocent_submit(self->fd, &in[i], round));
			for (i = 0; i < INNOCENTS; i++)
				ASSERT_EQ(0, innocent_check(self->fd, &in[i], round)) {
					TH_LOG("%s: innocent %u wrong in round %u", kinds[k].name,
					       i, round);
				}
		}
		ASSERT_EQ(0, debugfs_write(self, "inject", "off -1 0 0"));
		ASSERT_EQ(1, write(stop[1], "s", 1));
		close(stop[1]);
		ASSERT_CHILD_OK(pid);
		TH_LOG("%s: %ld faults, %ld device resets, %u innocent rounds", kinds[k].name,
		       faults, inject_value(self, "device resets") - resets, round);
		if (kinds[k].resets) {
			ASSERT_LE(resets + 1, inject_value(self, "device resets"));
		} else {
			ASSERT_EQ(resets, inject_value(self, "device resets"));
		}
		ASSERT_EQ(0, jal_device_usable(self->fd));
	}
}

TEST_HARNESS_MAIN
