// SPDX-License-Identifier: MIT
/*
 * Jalapeño chip model: compute kernels for x86-64 CPUs with AVX-512
 * (picked at run time by jal_kernels_select(); same results as the
 * baseline kernels, bit for bit).
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include "jal_internal.h"
#include "jal_kern.h"

/* Products must stay rounded: see jal_kern.h. No FMA in the target. */
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx512vnni")

#define JAL_K(name)	name##_avx512
#define JAL_K_NAME	"avx512"
#define JAL_K_WIDE	1
#define JAL_K_MR	4
#define JAL_K_NR	4
#include "jal_kern_impl.h"
#endif
