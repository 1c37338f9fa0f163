/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The common fixture and assertion helpers of the jalapeno kselftests, on
 * top of the kernel's kselftest_harness.h. Include once per test binary.
 */
#ifndef JAL_HARNESS_H
#define JAL_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "jal_util.h"

/*
 * A fresh file of the device and one NORMAL priority context per test;
 * tests are skipped when no jalapeno device is present.
 */
#define JAL_FIXTURE(name)							\
	FIXTURE(name) {								\
		int fd;								\
		uint32_t ctx;							\
		struct drm_jalapeno_device_info info;				\
	};									\
	FIXTURE_SETUP(name)							\
	{									\
		self->fd = jal_open();						\
		if (self->fd < 0)						\
			SKIP(return, "no jalapeno accel device (%d)", self->fd); \
		ASSERT_EQ(0, jal_query_info(self->fd, &self->info));		\
		ASSERT_EQ(0, jal_ctx_create(self->fd, DRM_JALAPENO_PRIORITY_NORMAL, \
					    &self->ctx));			\
	}									\
	FIXTURE_TEARDOWN(name)							\
	{									\
		if (self->fd >= 0)						\
			close(self->fd);					\
	}

#define JAL_TEST(fixture, name)		TEST_F_TIMEOUT(fixture, name, JAL_TEST_TIMEOUT)
#define JAL_SLOW_TEST(fixture, name)	TEST_F_TIMEOUT(fixture, name, JAL_SLOW_TIMEOUT)

/* Run a command buffer to completion and require that it succeeded. */
#define ASSERT_JOB_OK(fd, ctx, cb, bos, nbos) do {				\
	ASSERT_EQ(0, jal_run(fd, ctx, cb, bos, nbos));				\
	ASSERT_EQ(0, jal_ctx_error(fd, ctx));					\
} while (0)

/*
 * Require that @ctx's first failed job ended with errno @err and chip
 * status @hw (skipped if negative) and that the context is banned.
 */
static inline void jal_assert_ctx_failed(struct __test_metadata *_metadata, int fd,
					 uint32_t ctx, int err, int hw,
					 struct drm_jalapeno_ctx_status *st)
{
	ASSERT_EQ(0, jal_ctx_status(fd, ctx, st));
	TH_LOG("ctx %u: state %u error %d hw_status %u error_seqno %llu offset %u fault 0x%llx",
	       ctx, st->state, st->error, st->hw_status,
	       (unsigned long long)st->error_seqno, st->error_offset,
	       (unsigned long long)st->fault_addr);
	ASSERT_EQ(err, st->error);
	if (hw >= 0)
		ASSERT_EQ((uint32_t)hw, st->hw_status);
	ASSERT_EQ(DRM_JALAPENO_CTX_BANNED, st->state);
	ASSERT_NE(0, st->error_seqno);
	ASSERT_EQ(st->submitted, st->completed);
}

/* Run @cb on a new context, require failure @err/@hw; returns the status. */
static inline void jal_run_expect_fail(struct __test_metadata *_metadata, int fd,
				       const struct jal_cmdbuf *cb, const uint32_t *bos,
				       uint32_t nbos, int err, int hw,
				       struct drm_jalapeno_ctx_status *st)
{
	uint32_t ctx;

	ASSERT_EQ(0, jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx));
	ASSERT_EQ(0, jal_run(fd, ctx, cb, bos, nbos));
	jal_assert_ctx_failed(_metadata, fd, ctx, err, hw, st);
	ASSERT_EQ(-ECANCELED, jal_submit(fd, ctx, cb, bos, nbos, NULL, 0, 0, NULL));
	ASSERT_EQ(0, jal_ctx_destroy(fd, ctx));
}

/* Wait for a forked child and require that it exited with status 0. */
#define ASSERT_CHILD_OK(pid) do {						\
	int __status = 0;							\
	ASSERT_EQ(pid, waitpid(pid, &__status, 0));				\
	if (WIFSIGNALED(__status))						\
		TH_LOG("child %d killed by signal %d", pid, WTERMSIG(__status)); \
	ASSERT_TRUE(WIFEXITED(__status));					\
	ASSERT_EQ(0, WEXITSTATUS(__status));					\
} while (0)

/* Children report failures through their exit code, never the harness. */
#define CHILD_CHECK(cond) do {							\
	if (!(cond)) {								\
		fprintf(stderr, "# child %d: %s:%d: check failed: %s\n",	\
			getpid(), __FILE__, __LINE__, #cond);			\
		_exit(1);							\
	}									\
} while (0)

#endif /* JAL_HARNESS_H */
