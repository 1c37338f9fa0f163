/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the jalapeno kselftests: find and open the
 * device, create and map BOs, create contexts, build command buffers and
 * compute kernels straight from the jalapeno_hw.h encodings, submit a job
 * and wait for it, read a context's status.
 *
 * Helpers return 0 or a negative errno and never abort, so tests decide
 * what a failure means with the harness' ASSERT_*() and forked children
 * (which must not use the harness macros) can use them too.
 */
#ifndef JAL_UTIL_H
#define JAL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xf86drm.h>

#include "jalapeno_accel.h"
#include "jalapeno_hw.h"

/* The guest CPU is emulated: be generous with every wait. */
#define JAL_JOB_WAIT_MS		60000
/* Per-test harness timeout (seconds) for ordinary and slow tests. */
#define JAL_TEST_TIMEOUT	120
#define JAL_SLOW_TIMEOUT	600

#define JAL_PAGE		4096u
#define JAL_VA_START		0x100000ull
#define JAL_VA_END		(1ull << JAL_VA_BITS)
#define JAL_MIB			(1024ull * 1024)

#define JAL_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Device discovery. */
int jal_find_device(char *node, size_t node_len, char *bdf, size_t bdf_len);
int jal_open(void);
int jal_ioctl(int fd, unsigned long request, void *arg);
int jal_query_info(int fd, struct drm_jalapeno_device_info *info);
uint64_t jal_now_ns(void);

/* Buffer objects: created, looked up with BO_INFO and mapped read/write. */
struct jal_bo {
	int fd;
	uint32_t handle;
	uint32_t flags;
	uint64_t size;
	uint64_t va;
	uint64_t mmap_offset;
	void *map;
};

int jal_bo_create_raw(int fd, uint64_t size, uint32_t flags, uint32_t *handle, uint64_t *va);
int jal_bo_info(int fd, uint32_t handle, struct drm_jalapeno_bo_info *info);
int jal_bo_new(int fd, uint64_t size, uint32_t flags, struct jal_bo *bo);
void jal_bo_free(struct jal_bo *bo);
int jal_gem_close(int fd, uint32_t handle);
int jal_bo_wait(int fd, uint32_t handle, int64_t deadline_ns);

/* Contexts. */
int jal_ctx_create(int fd, uint32_t priority, uint32_t *ctx_id);
int jal_ctx_destroy(int fd, uint32_t ctx_id);
int jal_ctx_status(int fd, uint32_t ctx_id, struct drm_jalapeno_ctx_status *st);
int jal_ctx_error(int fd, uint32_t ctx_id);

/* Command buffers: commands are appended to a mapped 64 KiB BO. */
#define JAL_CMDBUF_BYTES	(64u * 1024)

struct jal_cmdbuf {
	struct jal_bo bo;
	uint32_t len;
};

int jal_cmdbuf_new(int fd, struct jal_cmdbuf *cb);
void jal_cmdbuf_free(struct jal_cmdbuf *cb);
void jal_emit(struct jal_cmdbuf *cb, const void *cmd, size_t bytes);
void jal_emit_nop(struct jal_cmdbuf *cb);
void jal_emit_copy(struct jal_cmdbuf *cb, uint64_t src, uint64_t dst, uint64_t size);
void jal_emit_fill(struct jal_cmdbuf *cb, uint64_t dst, uint32_t pattern, uint64_t size);
void jal_emit_write_value(struct jal_cmdbuf *cb, uint64_t dst, uint64_t value);
void jal_emit_timestamp(struct jal_cmdbuf *cb, uint64_t dst);
void jal_emit_dispatch(struct jal_cmdbuf *cb, uint64_t code_va, uint32_t code_size,
		       uint64_t args_va, uint32_t args_size);

/* Submission. @bos never lists the command buffer's BO: it is added. */
int jal_submit(int fd, uint32_t ctx_id, const struct jal_cmdbuf *cb,
	       const uint32_t *bos, uint32_t nbos,
	       const uint32_t *in_syncobjs, uint32_t nin,
	       uint32_t out_syncobj, uint64_t *seqno);
int jal_syncobj_new(int fd, uint32_t *syncobj);
void jal_syncobj_free(int fd, uint32_t syncobj);
int jal_syncobj_wait(int fd, uint32_t syncobj, unsigned int timeout_ms);
/* The syncobj's fence as a new sync_file fd, or -errno. */
int jal_syncobj_export(int fd, uint32_t syncobj);
/* The syncobj fence's sync_file status: 1 signalled ok, 0 busy, <0 error. */
int jal_syncobj_status(int fd, uint32_t syncobj);
/* Submit and wait for the fence; 0 means it signalled (check CTX_STATUS). */
int jal_run(int fd, uint32_t ctx_id, const struct jal_cmdbuf *cb,
	    const uint32_t *bos, uint32_t nbos);

/* Compute instructions. Unused fields stay zero (they are reserved). */
struct jal_insn jal_i_nop(void);
struct jal_insn jal_i_halt(void);
struct jal_insn jal_i_li(unsigned int rd, uint64_t imm);
struct jal_insn jal_i_addi(unsigned int rd, unsigned int rs, uint64_t imm);
struct jal_insn jal_i_add(unsigned int rd, unsigned int ra, unsigned int rb);
struct jal_insn jal_i_muli(unsigned int rd, unsigned int rs, uint64_t imm);
struct jal_insn jal_i_jump(uint32_t target);
struct jal_insn jal_i_bne(unsigned int ra, unsigned int rb, uint32_t target);
struct jal_insn jal_i_bltu(unsigned int ra, unsigned int rb, uint32_t target);
/* d[i*sd] = a[i*sa] op b[i*sb], i < n; registers hold d, a, b VAs. */
struct jal_insn jal_i_vec(uint8_t op, unsigned int rd, unsigned int ra, unsigned int rb,
			  uint32_t n, uint32_t sd, uint32_t sa, uint32_t sb);
struct jal_insn jal_i_vscale(unsigned int rd, unsigned int ra, uint32_t n,
			     uint32_t sd, uint32_t sa, float scale);
struct jal_insn jal_i_matvec(unsigned int rd, unsigned int rw, unsigned int rx,
			     uint32_t rows, uint32_t cols, uint32_t sd,
			     uint32_t pitch, uint32_t sx);

/*
 * A compute job: one BO with the argument block at offset 0 and the code
 * at JAL_PROG_CODE_OFFSET, and a command buffer with one DISPATCH at
 * offset 0.
 */
#define JAL_PROG_CODE_OFFSET	4096u

struct jal_prog {
	struct jal_bo bo;
	struct jal_cmdbuf cb;
};

int jal_prog_new(int fd, struct jal_prog *p, const struct jal_insn *code, unsigned int n,
		 const uint64_t *args, unsigned int nargs);
void jal_prog_free(struct jal_prog *p);
/* Build, run and free a compute job; @bos are the data BOs. */
int jal_dispatch(int fd, uint32_t ctx_id, const struct jal_insn *code, unsigned int n,
		 const uint64_t *args, unsigned int nargs,
		 const uint32_t *bos, uint32_t nbos);

/*
 * Busy jobs: a counting loop of 2 steps per iteration, used to keep the
 * device occupied while a test submits or polls; the job marks its start
 * in its own BO. jal_busy_iters() measures
 * how many iterations last about @ms (capped below the default watchdog).
 */
#define JAL_BUSY_STARTED_OFFSET	2048u
int jal_busy_new(int fd, struct jal_prog *p, uint64_t iters);
/* Wait until the busy job began executing on the device. */
int jal_busy_wait_started(const struct jal_prog *p, unsigned int timeout_ms);
uint64_t jal_busy_iters(int fd, uint32_t ctx_id, unsigned int ms);
/* A kernel that never ends: "0: jump 0". */
int jal_spin_new(int fd, struct jal_prog *p);

/* A good job on a fresh context of @fd: 0 if it ran and wrote its result. */
int jal_device_usable(int fd);

/* Whether this process has capability @cap (CAP_* number) in effect. */
#define JAL_CAP_SYS_NICE	23
bool jal_have_cap(unsigned int cap);

/* Module parameters under /sys/module/jalapeno/parameters. */
int jal_param_read(const char *name, char *buf, size_t len);
int jal_param_write(const char *name, const char *value);

/*
 * The watchdog and timeout parameters as they were, for tests that change
 * them; an empty string where a parameter cannot be read.
 */
struct jal_params {
	char step_limit[64];
	char job_timeout_ms[64];
};
void jal_params_save(struct jal_params *p);
void jal_params_restore(const struct jal_params *p);
/* Both parameters readable, so a test may change and restore them. */
bool jal_params_writable(const struct jal_params *p);

/* Files of sysfs, debugfs and tracefs. */
int jal_write_file(const char *path, const char *s);
/* The whole file as a malloc()ed string, or NULL. */
char *jal_read_file(const char *path);
/* The device's debugfs directory (debugfs mounted if need be). */
int jal_debugfs_dir(char *dir, size_t len);

/* Deterministic pseudo-random numbers for test data. */
uint32_t jal_rand(uint64_t *state);
float jal_randf(uint64_t *state);

static inline uint32_t jal_f2u(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

#endif /* JAL_UTIL_H */
