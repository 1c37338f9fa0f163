// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: the compute thread pool.
 *
 * Large matrix instructions and ATTENTION share out their rows or heads
 * in small blocks that every participating thread claims from an atomic
 * counter until none are left. The worker always participates; helpers
 * join a run when they get to it. So a helper that the host does not
 * schedule in time costs nothing but its share of the speed-up: the
 * worker never waits for a helper that has not started, only for those
 * that are in the middle of a block. Every output element is computed by
 * exactly one thread with the same code, so results do not depend on how
 * many threads took part.
 *
 * Helpers spin briefly on the run state before they sleep, because the
 * instructions of one kernel follow each other closely and a wake-up from
 * sleep takes tens of microseconds; a spinning helper joins a run without
 * taking a lock (see struct jal_pool).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* pthread_setname_np */
#endif
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "jal_internal.h"

/* Polls of the run state before a helper sleeps (some microseconds). */
#define JAL_POOL_SPIN		4000u

#define JAL_POOL_GEN_SHIFT	32
#define JAL_POOL_OPEN		(1ull << 31)
#define JAL_POOL_ACTIVE		(JAL_POOL_OPEN - 1)

struct jal_helper {
	struct jal_pool *pool;
	unsigned int thread;		/* 1.. (the worker is 0) */
};

static inline void jal_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline uint32_t jal_pool_gen(uint64_t state)
{
	return (uint32_t)(state >> JAL_POOL_GEN_SHIFT);
}

/*
 * Wait until a run newer than @seen starts (its state) or the pool stops
 * (false).
 */
static bool jal_pool_next(struct jal_pool *pool, uint32_t seen, uint64_t *state)
{
	unsigned int spin;
	uint64_t s;
	bool stop;

	for (spin = 0; spin < JAL_POOL_SPIN; spin++) {
		s = atomic_load_explicit(&pool->state, memory_order_acquire);
		if (jal_pool_gen(s) != seen) {
			*state = s;
			return true;
		}
		jal_cpu_relax();
	}
	/*
	 * Count ourselves as a sleeper before looking at the state again:
	 * the worker publishes a run before it looks at the sleepers, so it
	 * either sees us and wakes us, or we see its run.
	 */
	pthread_mutex_lock(&pool->lock);
	atomic_fetch_add(&pool->sleepers, 1);
	while (!pool->stop &&
	       jal_pool_gen(s = atomic_load(&pool->state)) == seen)
		pthread_cond_wait(&pool->wake, &pool->lock);
	atomic_fetch_sub(&pool->sleepers, 1);
	stop = pool->stop;
	pthread_mutex_unlock(&pool->lock);
	*state = s;
	return !stop;
}

/* Join the run of generation @gen if it is still open. */
static bool jal_pool_join(struct jal_pool *pool, uint32_t gen, uint64_t s)
{
	while (jal_pool_gen(s) == gen && (s & JAL_POOL_OPEN)) {
		if (atomic_compare_exchange_weak_explicit(&pool->state, &s, s + 1,
							  memory_order_acquire,
							  memory_order_acquire))
			return true;
	}
	return false;
}

static void jal_pool_leave(struct jal_pool *pool)
{
	uint64_t old = atomic_fetch_sub_explicit(&pool->state, 1,
						 memory_order_release);

	if ((old & JAL_POOL_ACTIVE) == 1 && !(old & JAL_POOL_OPEN)) {
		/* The worker may be asleep waiting for the last one. */
		pthread_mutex_lock(&pool->lock);
		pthread_cond_signal(&pool->done);
		pthread_mutex_unlock(&pool->lock);
	}
}

static void *jal_pool_helper(void *arg)
{
	struct jal_helper *h = arg;
	struct jal_pool *pool = h->pool;
	unsigned int thread = h->thread;
	uint32_t seen = 0;
	uint64_t s;

	free(h);
	while (jal_pool_next(pool, seen, &s)) {
		seen = jal_pool_gen(s);
		if (jal_pool_join(pool, seen, s)) {
			pool->fn(pool->arg, thread);
			jal_pool_leave(pool);
		}
		/* Else too late: the worker finished this run alone. */
	}
	return NULL;
}

int jal_pool_init(struct jal_pool *pool, unsigned int helpers)
{
	sigset_t all, old;
	unsigned int i;
	int err = 0;

	pool->helpers = 0;
	pool->stop = false;
	pool->threads = NULL;
	pool->fn = NULL;
	pool->arg = NULL;
	atomic_init(&pool->state, 0);
	atomic_init(&pool->sleepers, 0);
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	pthread_cond_init(&pool->done, NULL);
	if (!helpers)
		return 0;
	pool->threads = calloc(helpers, sizeof(*pool->threads));
	if (!pool->threads)
		return -ENOMEM;

	/* Like the worker, helpers must not take the host's signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < helpers; i++) {
		struct jal_helper *h = malloc(sizeof(*h));

		if (!h) {
			err = ENOMEM;
			break;
		}
		h->pool = pool;
		h->thread = i + 1;
		err = pthread_create(&pool->threads[i], NULL, jal_pool_helper, h);
		if (err) {
			free(h);
			break;
		}
#ifdef __linux__
		pthread_setname_np(pool->threads[i], "jalapeno-cu");
#endif
		pool->helpers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		jal_pool_fini(pool);
		return -err;
	}
	return 0;
}

void jal_pool_fini(struct jal_pool *pool)
{
	unsigned int i;

	pthread_mutex_lock(&pool->lock);
	pool->stop = true;
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->helpers; i++)
		pthread_join(pool->threads[i], NULL);
	free(pool->threads);
	pool->threads = NULL;
	pool->helpers = 0;
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->lock);
}

void jal_pool_run(struct jal_pool *pool, bool share, jal_part_fn fn, void *arg)
{
	unsigned int spin;
	uint64_t s;

	if (!share || !pool->helpers) {
		fn(arg, 0);
		return;
	}
	/* No helper is in a run now, so none reads fn and arg meanwhile. */
	pool->fn = fn;
	pool->arg = arg;
	s = atomic_load_explicit(&pool->state, memory_order_relaxed);
	s = ((uint64_t)(jal_pool_gen(s) + 1) << JAL_POOL_GEN_SHIFT) | JAL_POOL_OPEN;
	atomic_store(&pool->state, s);
	if (atomic_load(&pool->sleepers)) {
		pthread_mutex_lock(&pool->lock);
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->lock);
	}

	fn(arg, 0);

	/*
	 * No more joiners; wait for those in the middle of a block, spinning
	 * first: they are running and a block is short, while a sleep and
	 * wake-up would cost more than the block.
	 */
	s = atomic_fetch_and_explicit(&pool->state, ~JAL_POOL_OPEN,
				      memory_order_acquire);
	for (spin = 0; s & JAL_POOL_ACTIVE; spin++) {
		if (spin == JAL_POOL_SPIN * 4) {
			pthread_mutex_lock(&pool->lock);
			while (atomic_load(&pool->state) & JAL_POOL_ACTIVE)
				pthread_cond_wait(&pool->done, &pool->lock);
			pthread_mutex_unlock(&pool->lock);
			return;
		}
		jal_cpu_relax();
		s = atomic_load_explicit(&pool->state, memory_order_acquire);
	}
}
