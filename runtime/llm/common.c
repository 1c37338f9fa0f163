// SPDX-License-Identifier: MIT
/*
 * The per-thread error message of runtime/llm and a monotonic clock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "common.h"

#define LLM_ERRMSG_LEN 512

/* Per thread so that concurrent callers each see their own failure. */
static __thread char llm_errmsg[LLM_ERRMSG_LEN];

const char *llm_last_error_message(void)
{
	return llm_errmsg;
}

int llm_set_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(llm_errmsg, sizeof(llm_errmsg), fmt, ap);
	va_end(ap);
	return err;
}

void llm_clear_error(void)
{
	llm_errmsg[0] = '\0';
}

uint64_t llm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
