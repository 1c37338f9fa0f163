// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno queues and scheduling: several contexts and queues (priorities) at once,
 * several processes at once (each verifying its own results), a file
 * shared across fork(), and the hardware context limit.
 */
#include "jal_harness.h"

JAL_FIXTURE(queues);

static uint32_t max_priority(void)
{
	return jal_have_cap(JAL_CAP_SYS_NICE) ? DRM_JALAPENO_PRIORITY_REALTIME :
						DRM_JALAPENO_PRIORITY_HIGH;
}

/*
 * One context per priority, 16 jobs each submitted before waiting for
 * any: every job fills its own region and writes a marker.
 */
JAL_TEST(queues, all_queues_concurrently)
{
	const unsigned int jobs = 16, region = 1024;
	uint32_t ctx[4], sync[4], nprio = max_priority() + 1;
	struct drm_jalapeno_ctx_status st;
	struct jal_cmdbuf cb[4][16];
	struct jal_bo bo;
	unsigned int p, j, i;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4 * jobs * region, 0, &bo));
	for (p = 0; p < nprio; p++) {
		ASSERT_EQ(0, jal_ctx_create(self->fd, p, &ctx[p]));
		ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync[p]));
		for (j = 0; j < jobs; j++) {
			uint64_t off = (p * jobs + j) * region;

			ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb[p][j]));
			jal_emit_fill(&cb[p][j], bo.va + off, (p << 16) | j, region - 8);
			jal_emit_write_value(&cb[p][j], bo.va + off + region - 8,
					     0xabc0000000ull + off);
		}
	}
	/* interleave the submissions over the queues */
	for (j = 0; j < jobs; j++)
		for (p = 0; p < nprio; p++)
			ASSERT_EQ(0, jal_submit(self->fd, ctx[p], &cb[p][j], &bo.handle, 1,
						NULL, 0, sync[p], NULL));
	for (p = 0; p < nprio; p++) {
		ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync[p], JAL_JOB_WAIT_MS));
		ASSERT_EQ(0, jal_ctx_status(self->fd, ctx[p], &st));
		ASSERT_EQ(jobs, st.submitted);
		ASSERT_EQ(jobs, st.completed);
		ASSERT_EQ(0, st.error);
		for (j = 0; j < jobs; j++) {
			uint64_t off = (p * jobs + j) * region;
			uint32_t *w = (uint32_t *)((char *)bo.map + off);

			for (i = 0; i < (region - 8) / 4; i++)
				ASSERT_EQ((p << 16) | j, w[i]);
			ASSERT_EQ(0xabc0000000ull + off, *(uint64_t *)(w + (region - 8) / 4));
		}
	}
}

/*
 * With the device busy, jobs queued on every priority run highest
 * priority first: their timestamps come out in descending priority order
 * although they were submitted lowest priority first.
 */
JAL_TEST(queues, higher_priority_runs_first)
{
	uint32_t nprio = max_priority() + 1, ctx[4], sync[4], busy_ctx;
	struct jal_cmdbuf cb[4];
	struct jal_prog busy;
	struct jal_bo bo;
	uint64_t *ts, iters;
	unsigned int p, attempt;
	bool overlapped = false;

	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_LOW, &busy_ctx));
	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ts = bo.map;
	for (p = 0; p < nprio; p++) {
		ASSERT_EQ(0, jal_ctx_create(self->fd, p, &ctx[p]));
		ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync[p]));
		ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb[p]));
		jal_emit_timestamp(&cb[p], bo.va + 8 * p);
	}
	iters = jal_busy_iters(self->fd, busy_ctx, 500);
	ASSERT_NE(0, iters);

	for (attempt = 0; attempt < 3 && !overlapped; attempt++, iters *= 4) {
		uint32_t busy_sync;

		ASSERT_EQ(0, jal_busy_new(self->fd, &busy, iters));
		ASSERT_EQ(0, jal_syncobj_new(self->fd, &busy_sync));
		ASSERT_EQ(0, jal_submit(self->fd, busy_ctx, &busy.cb, &busy.bo.handle, 1,
					NULL, 0, busy_sync, NULL));
		/* the others must queue up behind a job that already runs */
		ASSERT_EQ(0, jal_busy_wait_started(&busy, JAL_JOB_WAIT_MS));
		for (p = 0; p < nprio; p++)
			ASSERT_EQ(0, jal_submit(self->fd, ctx[p], &cb[p], &bo.handle, 1, NULL,
						0, sync[p], NULL));
		/* the test only means something if all were queued behind busy */
		overlapped = jal_syncobj_wait(self->fd, busy_sync, 0) == -ETIME;
		for (p = 0; p < nprio; p++)
			ASSERT_EQ(0, jal_syncobj_wait(self->fd, sync[p], JAL_JOB_WAIT_MS));
		ASSERT_EQ(0, jal_syncobj_wait(self->fd, busy_sync, JAL_JOB_WAIT_MS));
		jal_syncobj_free(self->fd, busy_sync);
		jal_prog_free(&busy);
		if (!overlapped)
			TH_LOG("busy job ended before the submissions; retrying longer");
	}
	ASSERT_TRUE(overlapped);
	for (p = 0; p < nprio; p++)
		ASSERT_EQ(0, jal_ctx_error(self->fd, ctx[p]));
	for (p = 0; p + 1 < nprio; p++) {
		TH_LOG("priority %u ran at %llu, priority %u at %llu", p,
		       (unsigned long long)ts[p], p + 1, (unsigned long long)ts[p + 1]);
		ASSERT_GT(ts[p], ts[p + 1]);
	}
}

/* Work one child does on its own file: VADD + COPY, checked bit for bit. */
static void child_vadd_rounds(int id, uint32_t priority, unsigned int rounds)
{
	const uint32_t n = 4099;
	struct jal_insn code[1] = { jal_i_vec(JAL_OP_VADD, 0, 1, 2, n, 1, 1, 1) };
	struct jal_bo a, b, d, e;
	struct jal_prog prog;
	uint64_t seed = 1000 + id, args[3];
	uint32_t handles[5], ctx;
	unsigned int r, i;
	float *fa, *fb, *fe;
	int fd;

	fd = jal_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(jal_ctx_create(fd, priority, &ctx) == 0);
	CHILD_CHECK(jal_bo_new(fd, n * 4, 0, &a) == 0);
	CHILD_CHECK(jal_bo_new(fd, n * 4, 0, &b) == 0);
	CHILD_CHECK(jal_bo_new(fd, n * 4, 0, &d) == 0);
	CHILD_CHECK(jal_bo_new(fd, n * 4, 0, &e) == 0);
	fa = a.map;
	fb = b.map;
	fe = e.map;
	args[0] = d.va;
	args[1] = a.va;
	args[2] = b.va;
	CHILD_CHECK(jal_prog_new(fd, &prog, code, 1, args, 3) == 0);
	jal_emit_copy(&prog.cb, d.va, e.va, n * 4);
	handles[0] = prog.bo.handle;
	handles[1] = a.handle;
	handles[2] = b.handle;
	handles[3] = d.handle;
	handles[4] = e.handle;
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++) {
			fa[i] = jal_randf(&seed);
			fb[i] = jal_randf(&seed);
		}
		memset(fe, 0, n * 4);
		CHILD_CHECK(jal_run(fd, ctx, &prog.cb, handles, 5) == 0);
		CHILD_CHECK(jal_ctx_error(fd, ctx) == 0);
		for (i = 0; i < n; i++)
			CHILD_CHECK(jal_f2u(fe[i]) == jal_f2u(fa[i] + fb[i]));
	}
	close(fd);
	_exit(0);
}

/*
 * Several processes, each with its own file, context and priority, run
 * jobs at the same time. Their BOs will typically share VAs (separate
 * address spaces), so any mix-up corrupts someone's results.
 */
JAL_SLOW_TEST(queues, processes_run_concurrently)
{
	const unsigned int nchild = 4;
	pid_t pid[4];
	unsigned int k;

	for (k = 0; k < nchild; k++) {
		pid[k] = fork();
		ASSERT_LE(0, pid[k]);
		if (!pid[k])
			child_vadd_rounds(k, k % (max_priority() + 1), 6);
	}
	for (k = 0; k < nchild; k++)
		ASSERT_CHILD_OK(pid[k]);
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

/* A forked child using the inherited file shares its BOs and contexts. */
JAL_TEST(queues, fork_shares_file)
{
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	pid_t pid;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
	jal_emit_write_value(&cb, bo.va + 8, 0xc41dull);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		CHILD_CHECK(jal_run(self->fd, self->ctx, &cb, &bo.handle, 1) == 0);
		CHILD_CHECK(jal_ctx_error(self->fd, self->ctx) == 0);
		CHILD_CHECK(((uint64_t *)bo.map)[1] == 0xc41d);
		_exit(0);
	}
	ASSERT_CHILD_OK(pid);
	ASSERT_EQ(0xc41d, ((uint64_t *)bo.map)[1]);
	ASSERT_EQ(0, jal_ctx_error(self->fd, self->ctx));
}

/* Many contexts on one file, each running a job of its own. */
JAL_TEST(queues, many_contexts_one_file)
{
	const unsigned int n = 24;
	struct drm_jalapeno_ctx_status st;
	uint32_t ctx[24], sync;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	unsigned int k, j;

	ASSERT_EQ(0, jal_bo_new(self->fd, 4096, 0, &bo));
	ASSERT_EQ(0, jal_syncobj_new(self->fd, &sync));
	for (k = 0; k < n; k++) {
		ASSERT_EQ(0, jal_ctx_create(self->fd, k % 3, &ctx[k]));
		for (j = 0; j < k; j++)
			ASSERT_NE(ctx[j], ctx[k]);
	}
	for (k = 0; k < n; k++) {
		ASSERT_EQ(0, jal_cmdbuf_new(self->fd, &cb));
		jal_emit_write_value(&cb, bo.va + 8 * k, k + 1);
		ASSERT_EQ(0, jal_submit(self->fd, ctx[k], &cb, &bo.handle, 1, NULL, 0, sync,
					NULL));
		jal_cmdbuf_free(&cb);	/* the job holds the BO */
	}
	for (k = 0; k < n; k++) {
		ASSERT_EQ(0, jal_bo_wait(self->fd, bo.handle,
					 jal_now_ns() + JAL_JOB_WAIT_MS * 1000000ull));
		ASSERT_EQ(0, jal_ctx_status(self->fd, ctx[k], &st));
		ASSERT_EQ(1, st.completed);
		ASSERT_EQ(0, st.error);
		ASSERT_EQ(k + 1, ((uint64_t *)bo.map)[k]);
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx[k]));
	}
}

/*
 * The chip has JAL_NUM_CONTEXTS hardware contexts: creating more fails
 * cleanly, destroying one makes room again, and nothing breaks.
 */
JAL_TEST(queues, context_limit_and_recovery)
{
	uint32_t ctx[JAL_NUM_CONTEXTS + 8];
	unsigned int n = 0, k;
	int ret = 0;

	while (n < JAL_ARRAY_SIZE(ctx)) {
		ret = jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx[n]);
		if (ret)
			break;
		n++;
	}
	TH_LOG("created %u contexts (plus the fixture's) before %d", n, ret);
	ASSERT_NE(0, ret);
	ASSERT_TRUE(ret == -ENOSPC || ret == -EBUSY || ret == -ENOMEM || ret == -EAGAIN);
	ASSERT_GT(JAL_NUM_CONTEXTS, n);
	ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx[--n]));
	ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx[n]));
	n++;
	for (k = 0; k < n; k++)
		ASSERT_EQ(0, jal_ctx_destroy(self->fd, ctx[k]));
	ASSERT_EQ(0, jal_device_usable(self->fd));
}

TEST_HARNESS_MAIN
