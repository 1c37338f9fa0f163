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
 * Helpers spin briefly on the run generation before they sleep, because
 * the instructions of one kernel follow each other closely and a wake-up
 * from sleep takes tens of microseconds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* pthread_setname_np */
#endif
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "jal_internal.h"

/* Polls of the generation before a helper sleeps (some microseconds). */
#define JAL_POOL_SPIN		4000u

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

static void *jal_pool_helper(void *arg)
{
	struct jal_helper *h = arg;
	struct jal_pool *pool = h->pool;
	unsigned int thread = h->thread, seen = 0, spin;
	jal_part_fn fn;
	void *fn_arg;

	free(h);
	for (;;) {
		for (spin = 0; spin < JAL_POOL_SPIN; spin++) {
			if (atomic_load_explicit(&pool->gen, memory_order_relaxed) != seen)
				break;
			jal_cpu_relax();
		}
		pthread_mutex_lock(&pool->lock);
		while (!pool->stop && atomic_load(&pool->gen) == seen)
			pthread_cond_wait(&pool->wake, &pool->lock);
		if (pool->stop) {
			pthread_mutex_unlock(&pool->lock);
			return NULL;
		}
		seen = atomic_load(&pool->gen);
		if (!pool->open) {
			/* Too late: the worker finished this run alone. */
			pthread_mutex_unlock(&pool->lock);
			continue;
		}
		atomic_fetch_add(&pool->active, 1);
		fn = pool->fn;
		fn_arg = pool->arg;
		pthread_mutex_unlock(&pool->lock);

		fn(fn_arg, thread);

		if (atomic_fetch_sub(&pool->active, 1) == 1) {
			/* The worker may be asleep waiting for the last one. */
			pthread_mutex_lock(&pool->lock);
			pthread_cond_signal(&pool->done);
			pthread_mutex_unlock(&pool->lock);
		}
	}
}

int jal_pool_init(struct jal_pool *pool, unsigned int helpers)
{
	sigset_t all, old;
	unsigned int i;
	int err = 0;

	pool->helpers = 0;
	pool->stop = false;
	pool->open = false;
	atomic_init(&pool->active, 0);
	pool->threads = NULL;
	atomic_init(&pool->gen, 0);
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

	if (!share || !pool->helpers) {
		fn(arg, 0);
		return;
	}
	pthread_mutex_lock(&pool->lock);
	pool->fn = fn;
	pool->arg = arg;
	pool->open = true;
	atomic_fetch_add_explicit(&pool->gen, 1, memory_order_relaxed);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->lock);

	fn(arg, 0);

	/*
	 * No more joiners; wait for those in the middle of a block, spinning
	 * first: they are running and a block is short, while a sleep and
	 * wake-up would cost more than the block.
	 */
	pthread_mutex_lock(&pool->lock);
	pool->open = false;
	pthread_mutex_unlock(&pool->lock);
	for (spin = 0; spin < JAL_POOL_SPIN * 4; spin++) {
		if (!atomic_load_explicit(&pool->active, memory_order_acquire))
			return;
		jal_cpu_relax();
	}
	pthread_mutex_lock(&pool->lock);
	while (atomic_load(&pool->active))
		pthread_cond_wait(&pool->done, &pool->lock);
	pthread_mutex_unlock(&pool->lock);
}
