// SPDX-License-Identifier: GPL-2.0
/*
 * jalapeno ioctl fuzzer: processes with several threads each call every
 * driver ioctl and the DRM core ioctls an accel client reaches, with
 * random and mutated arguments (handles and ids of their own and of
 * nobody, sizes at the edges, random and mutated command buffers and
 * kernels), and close, unmap and reopen while jobs run. After each round
 * a victim file's BO, written before the round, is unchanged, and a
 * known-good job computes correctly.
 *
 * Seeded and replayable: JAL_FUZZ_SEED (default 1) and JAL_FUZZ_ITERS
 * (calls per thread and round, default 400) and JAL_FUZZ_ROUNDS (default
 * 3). With JAL_FUZZ_MAKE_IT_FAIL set, the fuzzing processes (not the
 * checks) get the kernel's injected allocation failures. `make fuzz` runs it longer with a new seed; a failing run prints
 * its seed. Counts are bounded by iterations, never by time.
 */
#include <pthread.h>
#include <sys/ioctl.h>

#include <linux/sync_file.h>

#include "jal_harness.h"

#define FUZZ_THREADS	3
#define FUZZ_PROCS	2
#define FUZZ_SLOTS	16	/* handles, contexts, syncobjs each thread keeps */

struct fuzz_thread {
	uint64_t rng;
	unsigned int iters;
	int fd;			/* shared by the threads of a process */
	uint32_t bos[FUZZ_SLOTS];
	uint64_t bo_va[FUZZ_SLOTS];
	uint32_t ctxs[FUZZ_SLOTS];
	uint32_t syncs[FUZZ_SLOTS];
	struct jal_cmdbuf cb;	/* a mapped command buffer to fill */
	unsigned long calls;
};

static uint32_t pick(struct fuzz_thread *t, uint32_t n)
{
	return n ? jal_rand(&t->rng) % n : 0;
}

/* An id or handle: one of ours, 0, a neighbour of ours, or noise. */
static uint32_t fuzz_id(struct fuzz_thread *t, const uint32_t *own)
{
	switch (pick(t, 5)) {
	case 0:
		return 0;
	case 1:
		return own[pick(t, FUZZ_SLOTS)] + 1;
	case 2:
		return jal_rand(&t->rng);
	default:
		return own[pick(t, FUZZ_SLOTS)];
	}
}

/* A size at an edge: 0, 1, pages, huge, or all ones. */
static uint64_t fuzz_size(struct fuzz_thread *t)
{
	static const uint64_t edges[] = {
		0, 1, 4095, 4096, 4097, 65536, 1 << 20, 3 << 21,
		1ull << 32, 1ull << 39, ~0ull, ~0ull - 4095,
	};

	if (pick(t, 3))
		return edges[pick(t, JAL_ARRAY_SIZE(edges))];
	return (uint64_t)jal_rand(&t->rng) << pick(t, 20);
}

static void fuzz_bo_create(struct fuzz_thread *t)
{
	struct drm_jalapeno_bo_create c = {
		.size = pick(t, 4) ? 4096ull << pick(t, 6) : fuzz_size(t),
		.flags = pick(t, 4) ? pick(t, 4) : jal_rand(&t->rng),
	};
	unsigned int slot = pick(t, FUZZ_SLOTS);

	if (!jal_ioctl(t->fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c)) {
		if (t->bos[slot])
			jal_gem_close(t->fd, t->bos[slot]);
		t->bos[slot] = c.handle;
		t->bo_va[slot] = c.va;
	}
}

static void fuzz_bo_misc(struct fuzz_thread *t)
{
	struct drm_jalapeno_bo_info info = { .handle = fuzz_id(t, t->bos) };
	struct drm_jalapeno_bo_wait w = {
		.handle = fuzz_id(t, t->bos),
		.flags = pick(t, 8) ? 0 : jal_rand(&t->rng),
		.timeout_ns = pick(t, 2) ? 0 : (int64_t)(jal_now_ns() + 1000000),
	};
	unsigned int slot = pick(t, FUZZ_SLOTS);
	void *map;

	switch (pick(t, 4)) {
	case 0:
		if (!jal_bo_info(t->fd, info.handle, &info) && info.mmap_offset) {
			map = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
				   t->fd, info.mmap_offset);
			if (map != MAP_FAILED) {
				memset(map, pick(t, 256), 64);
				munmap(map, info.size);
			}
		}
		break;
	case 1:
		jal_ioctl(t->fd, DRM_IOCTL_JALAPENO_BO_WAIT, &w);
		break;
	case 2:
		jal_gem_close(t->fd, fuzz_id(t, t->bos));
		break;
	default:
		if (t->bos[slot] && !jal_gem_close(t->fd, t->bos[slot]))
			t->bos[slot] = 0;
		break;
	}
}

static void fuzz_ctx(struct fuzz_thread *t)
{
	struct drm_jalapeno_ctx_create c = {
		.priority = pick(t, 6),
		.flags = pick(t, 8) ? 0 : jal_rand(&t->rng),
	};
	struct drm_jalapeno_ctx_status st = { .ctx_id = fuzz_id(t, t->ctxs) };
	unsigned int slot = pick(t, FUZZ_SLOTS);

	switch (pick(t, 3)) {
	case 0:
		if (!jal_ioctl(t->fd, DRM_IOCTL_JALAPENO_CTX_CREATE, &c)) {
			if (t->ctxs[slot])
				jal_ctx_destroy(t->fd, t->ctxs[slot]);
			t->ctxs[slot] = c.ctx_id;
		}
		break;
	case 1:
		jal_ctx_destroy(t->fd, fuzz_id(t, t->ctxs));
		break;
	default:
		st.reserved = pick(t, 8) ? 0 : 1;
		jal_ioctl(t->fd, DRM_IOCTL_JALAPENO_CTX_STATUS, &st);
		break;
	}
}

/* A command buffer: random words, or valid commands with a field mutated. */
static void fuzz_fill_cmdbuf(struct fuzz_thread *t)
{
	uint32_t *words = t->cb.bo.map;
	uint32_t n, i;

	t->cb.len = 0;
	for (n = 1 + pick(t, 4); n; n--) {
		uint64_t va = pick(t, 2) ? t->bo_va[pick(t, FUZZ_SLOTS)] + pick(t, 8192) :
					   ((uint64_t)jal_rand(&t->rng) << 12);

		if (t->cb.len + 64 > t->cb.bo.size)
			break;
		switch (pick(t, 5)) {
		case 0:
			jal_emit_fill(&t->cb, va, jal_rand(&t->rng), pick(t, 2) ? 256 : fuzz_size(t));
			break;
		case 1:
			jal_emit_copy(&t->cb, va, t->bo_va[pick(t, FUZZ_SLOTS)], pick(t, 4096));
			break;
		case 2:
			jal_emit_write_value(&t->cb, va, jal_rand(&t->rng));
			break;
		case 3:
			jal_emit_dispatch(&t->cb, va & ~63ull, 64 * (1 + pick(t, 4)), va,
					  8 * pick(t, 17));
			break;
		default:
			jal_emit_nop(&t->cb);
			break;
		}
	}
	/* Flip a few words: headers, sizes, addresses. */
	for (i = pick(t, 3); i && t->cb.len; i--)
		words[pick(t, t->cb.len / 4)] ^= 1u << pick(t, 32);
}

static void fuzz_submit(struct fuzz_thread *t)
{
	uint32_t handles[4], ins[2];
	struct drm_jalapeno_submit s = { 0 };
	unsigned int i;

	fuzz_fill_cmdbuf(t);
	for (i = 0; i < JAL_ARRAY_SIZE(handles); i++)
		handles[i] = pick(t, 4) ? t->bos[pick(t, FUZZ_SLOTS)] : fuzz_id(t, t->bos);
	handles[0] = t->cb.bo.handle;
	ins[0] = fuzz_id(t, t->syncs);
	ins[1] = t->syncs[pick(t, FUZZ_SLOTS)];

	s.ctx_id = fuzz_id(t, t->ctxs);
	s.cmdbuf_va = pick(t, 8) ? t->cb.bo.va : t->bo_va[pick(t, FUZZ_SLOTS)] + pick(t, 64);
	s.cmdbuf_size = pick(t, 8) ? (t->cb.len ? t->cb.len : 4) : jal_rand(&t->rng);
	s.bo_count = pick(t, 8) ? 1 + pick(t, 4) : jal_rand(&t->rng);
	s.bo_handles = pick(t, 16) ? (uintptr_t)handles : 8;
	s.in_syncobj_count = pick(t, 3);
	s.in_syncobjs = (uintptr_t)ins;
	s.out_syncobj = pick(t, 2) ? t->syncs[pick(t, FUZZ_SLOTS)] : 0;
	s.flags = pick(t, 16) ? 0 : jal_rand(&t->rng);
	jal_ioctl(t->fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
}

static void fuzz_syncobj(struct fuzz_thread *t)
{
	unsigned int slot = pick(t, FUZZ_SLOTS);
	uint32_t h = fuzz_id(t, t->syncs);
	int sf;

	switch (pick(t, 4)) {
	case 0:
		if (t->syncs[slot])
			jal_syncobj_free(t->fd, t->syncs[slot]);
		t->syncs[slot] = 0;
		jal_syncobj_new(t->fd, &t->syncs[slot]);
		break;
	case 1:
		jal_syncobj_wait(t->fd, h, 0);
		break;
	case 2:
		sf = jal_syncobj_export(t->fd, h);
		if (sf >= 0) {
			struct sync_file_info info = { 0 };

			ioctl(sf, SYNC_IOC_FILE_INFO, &info);
			close(sf);
		}
		break;
	default:
		jal_syncobj_free(t->fd, h);
		break;
	}
}

/* Core ioctls: version, caps, master ones, PRIME, flink, unknown numbers. */
static void fuzz_core(struct fuzz_thread *t)
{
	uint64_t arg[16];
	struct drm_prime_handle p = { .handle = fuzz_id(t, t->bos), .fd = -1 };
	struct drm_gem_flink fl = { .handle = fuzz_id(t, t->bos) };
	unsigned int i;

	for (i = 0; i < JAL_ARRAY_SIZE(arg); i++)
		arg[i] = pick(t, 2) ? 0 : jal_rand(&t->rng);
	switch (pick(t, 5)) {
	case 0:
		if (!jal_ioctl(t->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p)) {
			p.handle = 0;
			jal_ioctl(t->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p);
			close(p.fd);
		}
		break;
	case 1:
		if (!jal_ioctl(t->fd, DRM_IOCTL_GEM_FLINK, &fl)) {
			struct drm_gem_open op = { .name = fl.name };

			if (!jal_ioctl(t->fd, DRM_IOCTL_GEM_OPEN, &op))
				jal_gem_close(t->fd, op.handle);
		}
		break;
	case 2:
		/* every core ioctl number with junk (pointers stay NULL or ours) */
		arg[0] = arg[1] = 0;
		jal_ioctl(t->fd, DRM_IOWR(pick(t, DRM_COMMAND_BASE), uint64_t[2]), arg);
		break;
	case 3:
		jal_ioctl(t->fd, DRM_IOWR(DRM_COMMAND_BASE + pick(t, 0x20), uint64_t[4]), arg);
		break;
	default: {
		struct drm_jalapeno_query q = {
			.type = pick(t, 3), .size = pick(t, 200), .data = (uintptr_t)arg,
		};

		jal_ioctl(t->fd, DRM_IOCTL_JALAPENO_QUERY, &q);
		break;
	}
	}
}

static void *fuzz_thread_main(void *arg)
{
	struct fuzz_thread *t = arg;
	unsigned int i;

	if (jal_cmdbuf_new(t->fd, &t->cb))
		return NULL;
	for (i = 0; i < t->iters; i++, t->calls++) {
		switch (pick(t, 7)) {
		case 0:
			fuzz_bo_create(t);
			break;
		case 1:
			fuzz_bo_misc(t);
			break;
		case 2:
			fuzz_ctx(t);
			break;
		case 3:
		case 4:
			fuzz_submit(t);
			break;
		case 5:
			fuzz_syncobj(t);
			break;
		default:
			fuzz_core(t);
			break;
		}
	}
	return NULL;
}

/*
 * One process's part of a round: its own file shared by FUZZ_THREADS
 * threads; the file is closed with whatever is still running.
 */
static int fuzz_process(uint64_t seed, unsigned int iters)
{
	struct fuzz_thread t[FUZZ_THREADS];
	pthread_t tid[FUZZ_THREADS];
	unsigned int i, n;
	int fd;

	/* The debug lane's allocation-failure stress (make-it-fail). */
	if (getenv("JAL_FUZZ_MAKE_IT_FAIL")) {
		int f = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);

		if (f < 0 || write(f, "1", 1) != 1)
			return 1;
		close(f);
	}
	fd = jal_open();
	if (fd < 0)
		return 0;	/* may fail under injected allocation failures */
	memset(t, 0, sizeof(t));
	for (n = 0; n < FUZZ_THREADS; n++) {
		t[n].rng = seed * 0x9e3779b97f4a7c15ull + n + 1;
		t[n].iters = iters;
		t[n].fd = fd;
		/* Fewer threads when allocations are made to fail. */
		if (pthread_create(&tid[n], NULL, fuzz_thread_main, &t[n]))
			break;
	}
	for (i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	close(fd);
	return 0;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

FIXTURE(fuzz) {
	int victim;
	struct jal_bo bo;
};

FIXTURE_SETUP(fuzz)
{
	self->victim = jal_open();
	if (self->victim < 0)
		SKIP(return, "no jalapeno accel device (%d)", self->victim);
	ASSERT_EQ(0, jal_bo_new(self->victim, 1 << 20, 0, &self->bo));
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->victim >= 0)
		close(self->victim);
}

TEST_F_TIMEOUT(fuzz, ioctls_and_jobs, JAL_SLOW_TIMEOUT)
{
	uint64_t seed = env_u64("JAL_FUZZ_SEED", 1);
	unsigned int iters = env_u64("JAL_FUZZ_ITERS", 400);
	unsigned int rounds = env_u64("JAL_FUZZ_ROUNDS", 3);
	unsigned int round, p, k;
	uint32_t *words = self->bo.map;
	pid_t pid[FUZZ_PROCS];
	int fd;

	TH_LOG("seed %llu, %u rounds of %u processes x %u threads x %u calls",
	       (unsigned long long)seed, rounds, FUZZ_PROCS, FUZZ_THREADS, iters);
	for (round = 0; round < rounds; round++) {
		for (k = 0; k < (1 << 20) / 4; k++)
			words[k] = 0xc0ffee00 + k + round;
		for (p = 0; p < FUZZ_PROCS; p++) {
			pid[p] = fork();
			ASSERT_LE(0, pid[p]);
			if (!pid[p])
				_exit(fuzz_process(seed + round * FUZZ_PROCS + p, iters));
		}
		for (p = 0; p < FUZZ_PROCS; p++)
			ASSERT_CHILD_OK(pid[p]);

		/* Nothing reached another file's memory... */
		for (k = 0; k < (1 << 20) / 4; k++)
			if (words[k] != 0xc0ffee00 + k + round)
				break;
		EXPECT_EQ((1 << 20) / 4, k) {
			TH_LOG("round %u (seed %llu): victim word %u changed",
			       round, (unsigned long long)seed, k);
		}
		/* ...and the device still computes, for old and new files. */
		ASSERT_EQ(0, jal_device_usable(self->victim));
		fd = jal_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, jal_device_usable(fd));
		close(fd);
	}
}

TEST_HARNESS_MAIN
