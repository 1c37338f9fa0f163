// SPDX-License-Identifier: MIT
/*
 * Error codes and the per-thread "what was wrong" message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jalrt_internal.h"

#define JALRT_ERRMSG_LEN 512

/* Per thread so that concurrent callers each see their own failure. */
static __thread char jalrt_errmsg[JALRT_ERRMSG_LEN];

int jalrt_set_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(jalrt_errmsg, sizeof(jalrt_errmsg), fmt, ap);
	va_end(ap);
	return err;
}

void jalrt_clear_error(void)
{
	jalrt_errmsg[0] = '\0';
}

JALRT_API const char *jalrt_last_error_message(void)
{
	return jalrt_errmsg;
}

JALRT_API const char *jalrt_strerror(int err)
{
	if (err > 0)
		err = -err;

	/*
	 * Codes that carry a libjalrt-specific meaning get a text saying so;
	 * the rest fall back to the C library's wording.
	 */
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument (or malformed command/instruction)";
	case -ENODEV:
		return "no such Jalapeño device";
	case -ENOMEM:
		return "out of memory";
	case -ERANGE:
		return "offset or size outside the buffer";
	case -E2BIG:
		return "too large for the device";
	case -ETIME:
		return "wait timed out (the job is still running)";
	case -EINPROGRESS:
		return "job has not finished yet";
	case -EFAULT:
		return "device memory fault (unmapped or read-only address)";
	case -ETIMEDOUT:
		return "job killed by the device watchdog or job timeout";
	case -EIO:
		return "device I/O error";
	case -ECANCELED:
		return "job canceled: an earlier job of its context failed";
	case -ENOENT:
		return "unknown handle";
	case -EPERM:
		return "operation not permitted";
	case -EBUSY:
		return "device or resource busy";
	case -ENOSPC:
		return "no space left (device resources exhausted)";
	case -EXDEV:
		return "objects belong to different devices";
	default:
		return strerror(-err);
	}
}

#include "jalapeno_status.c.inc"

JALRT_API const char *jalrt_hw_status_name(uint32_t hw_status)
{
	if (hw_status < JAL_STATUS_COUNT)
		return jal_status_info[hw_status].name;
	return "UNKNOWN";
}

/* The mapping the driver applies; used when only a status is known. */
int jalrt_errno_from_hw_status(uint32_t hw_status)
{
	return hw_status < JAL_STATUS_COUNT ? -jal_status_info[hw_status].err : -EIO;
}
