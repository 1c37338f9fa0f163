/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the llama2.c-format LLM code (runtime/llm): the
 * per-thread error message and checked size arithmetic.
 *
 * Conventions of everything under runtime/llm, like libjalrt's:
 * - Functions that can fail return 0 (or a count) on success and a
 *   negative errno on failure; llm_last_error_message() then says what
 *   was wrong in one sentence (per thread, so concurrent users do not
 *   overwrite each other's message).
 * - Destroy/close functions accept NULL.
 * - Nothing here depends on the device: this code is the host-side
 *   reference that the chip's results are compared with.
 */
#ifndef JAL_LLM_COMMON_H
#define JAL_LLM_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * llm_last_error_message() - what the last failing llm_* call in this
 *	thread complained about
 *
 * Return: a NUL-terminated sentence, "" if nothing failed yet. Valid until
 * the next failing call in the same thread.
 */
const char *llm_last_error_message(void);

/**
 * llm_set_error() - record the message of a failure and return its code
 * @err: negative errno to return.
 * @fmt: printf-style message, without a trailing newline.
 *
 * Return: @err, so that callers can write "return llm_set_error(...)".
 */
int llm_set_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** llm_clear_error() - forget the last message of this thread */
void llm_clear_error(void);

/** llm_now_ns() - CLOCK_MONOTONIC time in nanoseconds, for rate figures */
uint64_t llm_now_ns(void);

/*
 * Checked size arithmetic: true when the result overflowed. Every size
 * derived from file contents goes through these, so a hostile header can
 * never make a short buffer look long enough.
 */
static inline bool llm_mul_overflow(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

static inline bool llm_add_overflow(size_t a, size_t b, size_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

#ifdef __cplusplus
}
#endif

#endif /* JAL_LLM_COMMON_H */
