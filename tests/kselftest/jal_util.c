// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers for the jalapeno kselftests; see jal_util.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <linux/sync_file.h>
#include <time.h>
#include <unistd.h>

#include "jal_util.h"

uint64_t jal_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int jal_ioctl(int fd, unsigned long request, void *arg)
{
	return drmIoctl(fd, request, arg) ? -errno : 0;
}

static bool jal_is_jalapeno(int fd)
{
	drmVersionPtr ver = drmGetVersion(fd);
	bool match;

	if (!ver)
		return false;
	match = ver->name && !strcmp(ver->name, "jalapeno");
	drmFreeVersion(ver);
	return match;
}

/*
 * Find the accel node whose DRM driver name is "jalapeno"; also return its
 * PCI address (the basename of /sys/class/accel/accelN/device).
 */
int jal_find_device(char *node, size_t node_len, char *bdf, size_t bdf_len)
{
	struct dirent *de;
	int ret = -ENODEV;
	DIR *dir;

	dir = opendir("/dev/accel");
	if (!dir)
		return -ENODEV;
	while ((de = readdir(dir))) {
		char path[PATH_MAX], link[PATH_MAX];
		ssize_t n;
		int fd;

		if (strncmp(de->d_name, "accel", 5))
			continue;
		snprintf(path, sizeof(path), "/dev/accel/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!jal_is_jalapeno(fd)) {
			close(fd);
			continue;
		}
		close(fd);
		if (node)
			snprintf(node, node_len, "%s", path);
		if (bdf) {
			bdf[0] = '\0';
			snprintf(path, sizeof(path), "/sys/class/accel/%s/device", de->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n > 0) {
				link[n] = '\0';
				snprintf(bdf, bdf_len, "%s", basename(link));
			}
		}
		ret = 0;
		break;
	}
	closedir(dir);
	return ret;
}

int jal_open(void)
{
	char node[PATH_MAX];
	int fd;

	if (jal_find_device(node, sizeof(node), NULL, 0))
		return -ENODEV;
	fd = open(node, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int jal_query_info(int fd, struct drm_jalapeno_device_info *info)
{
	struct drm_jalapeno_query q = {
		.type = DRM_JALAPENO_QUERY_DEVICE_INFO,
		.size = sizeof(*info),
		.data = (uintptr_t)info,
	};

	memset(info, 0, sizeof(*info));
	return jal_ioctl(fd, DRM_IOCTL_JALAPENO_QUERY, &q);
}

int jal_bo_create_raw(int fd, uint64_t size, uint32_t flags, uint32_t *handle, uint64_t *va)
{
	struct drm_jalapeno_bo_create c = { .size = size, .flags = flags };
	int ret;

	ret = jal_ioctl(fd, DRM_IOCTL_JALAPENO_BO_CREATE, &c);
	if (ret)
		return ret;
	*handle = c.handle;
	if (va)
		*va = c.va;
	return 0;
}

int jal_bo_info(int fd, uint32_t handle, struct drm_jalapeno_bo_info *info)
{
	memset(info, 0, sizeof(*info));
	info->handle = handle;
	return jal_ioctl(fd, DRM_IOCTL_JALAPENO_BO_INFO, info);
}

int jal_gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return jal_ioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

int jal_bo_new(int fd, uint64_t size, uint32_t flags, struct jal_bo *bo)
{
	struct drm_jalapeno_bo_info info;
	int ret;

	memset(bo, 0, sizeof(*bo));
	bo->fd = fd;
	ret = jal_bo_create_raw(fd, size, flags, &bo->handle, &bo->va);
	if (ret)
		return ret;
	ret = jal_bo_info(fd, bo->handle, &info);
	if (ret)
		goto err_close;
	bo->flags = info.flags;
	bo->size = info.size;
	bo->mmap_offset = info.mmap_offset;
	bo->map = mmap(NULL, bo->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, info.mmap_offset);
	if (bo->map == MAP_FAILED) {
		ret = -errno;
		bo->map = NULL;
		goto err_close;
	}
	return 0;

err_close:
	jal_gem_close(fd, bo->handle);
	bo->handle = 0;
	return ret;
}

void jal_bo_free(struct jal_bo *bo)
{
	if (bo->map)
		munmap(bo->map, bo->size);
	if (bo->handle)
		jal_gem_close(bo->fd, bo->handle);
	memset(bo, 0, sizeof(*bo));
}

int jal_bo_wait(int fd, uint32_t handle, int64_t deadline_ns)
{
	struct drm_jalapeno_bo_wait w = { .handle = handle, .timeout_ns = deadline_ns };

	return jal_ioctl(fd, DRM_IOCTL_JALAPENO_BO_WAIT, &w);
}

int jal_ctx_create(int fd, uint32_t priority, uint32_t *ctx_id)
{
	struct drm_jalapeno_ctx_create c = { .priority = priority };
	int ret;

	ret = jal_ioctl(fd, DRM_IOCTL_JALAPENO_CTX_CREATE, &c);
	if (!ret)
		*ctx_id = c.ctx_id;
	return ret;
}

int jal_ctx_destroy(int fd, uint32_t ctx_id)
{
	struct drm_jalapeno_ctx_destroy d = { .ctx_id = ctx_id };

	return jal_ioctl(fd, DRM_IOCTL_JALAPENO_CTX_DESTROY, &d);
}

int jal_ctx_status(int fd, uint32_t ctx_id, struct drm_jalapeno_ctx_status *st)
{
	memset(st, 0, sizeof(*st));
	st->ctx_id = ctx_id;
	return jal_ioctl(fd, DRM_IOCTL_JALAPENO_CTX_STATUS, st);
}

/* The context's recorded job error (0 if none), or the ioctl's error. */
int jal_ctx_error(int fd, uint32_t ctx_id)
{
	struct drm_jalapeno_ctx_status st;
	int ret;

	ret = jal_ctx_status(fd, ctx_id, &st);
	if (ret)
		return ret;
	if (st.error)
		fprintf(stderr, "# ctx %u: error %d hw_status %u seqno %llu offset %u fault 0x%llx\n",
			ctx_id, st.error, st.hw_status, (unsigned long long)st.error_seqno,
			st.error_offset, (unsigned long long)st.fault_addr);
	return st.error;
}

int jal_cmdbuf_new(int fd, struct jal_cmdbuf *cb)
{
	cb->len = 0;
	return jal_bo_new(fd, JAL_CMDBUF_BYTES, 0, &cb->bo);
}

void jal_cmdbuf_free(struct jal_cmdbuf *cb)
{
	jal_bo_free(&cb->bo);
	cb->len = 0;
}

void jal_emit(struct jal_cmdbuf *cb, const void *cmd, size_t bytes)
{
	if (cb->len + bytes > cb->bo.size) {
		fprintf(stderr, "# command buffer overflow\n");
		abort();
	}
	memcpy((char *)cb->bo.map + cb->len, cmd, bytes);
	cb->len += bytes;
}

void jal_emit_nop(struct jal_cmdbuf *cb)
{
	uint32_t hdr = JAL_CMD_HDR(JAL_CMD_NOP, 1);

	jal_emit(cb, &hdr, sizeof(hdr));
}

void jal_emit_copy(struct jal_cmdbuf *cb, uint64_t src, uint64_t dst, uint64_t size)
{
	struct jal_cmd_copy c = {
		.hdr = JAL_CMD_HDR(JAL_CMD_COPY, sizeof(c) / 4),
		.src_va = src, .dst_va = dst, .size = size,
	};

	jal_emit(cb, &c, sizeof(c));
}

void jal_emit_fill(struct jal_cmdbuf *cb, uint64_t dst, uint32_t pattern, uint64_t size)
{
	struct jal_cmd_fill c = {
		.hdr = JAL_CMD_HDR(JAL_CMD_FILL, sizeof(c) / 4),
		.pattern = pattern, .dst_va = dst, .size = size,
	};

	jal_emit(cb, &c, sizeof(c));
}

void jal_emit_write_value(struct jal_cmdbuf *cb, uint64_t dst, uint64_t value)
{
	struct jal_cmd_write_value c = {
		.hdr = JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, sizeof(c) / 4),
		.dst_va = dst, .value = value,
	};

	jal_emit(cb, &c, sizeof(c));
}

void jal_emit_timestamp(struct jal_cmdbuf *cb, uint64_t dst)
{
	struct jal_cmd_timestamp c = {
		.hdr = JAL_CMD_HDR(JAL_CMD_TIMESTAMP, sizeof(c) / 4),
		.dst_va = dst,
	};

	jal_emit(cb, &c, sizeof(c));
}

void jal_emit_dispatch(struct jal_cmdbuf *cb, uint64_t code_va, uint32_t code_size,
		       uint64_t args_va, uint32_t args_size)
{
	struct jal_cmd_dispatch c = {
		.hdr = JAL_CMD_HDR(JAL_CMD_DISPATCH, sizeof(c) / 4),
		.code_va = code_va, .code_size = code_size,
		.args_va = args_va, .args_size = args_size,
	};

	jal_emit(cb, &c, sizeof(c));
}

int jal_submit(int fd, uint32_t ctx_id, const struct jal_cmdbuf *cb,
	       const uint32_t *bos, uint32_t nbos,
	       const uint32_t *in_syncobjs, uint32_t nin,
	       uint32_t out_syncobj, uint64_t *seqno)
{
	uint32_t handles[64];
	struct drm_jalapeno_submit s = {
		.ctx_id = ctx_id,
		.cmdbuf_va = cb->bo.va,
		.cmdbuf_size = cb->len,
		.bo_count = nbos + 1,
		.bo_handles = (uintptr_t)handles,
		.in_syncobj_count = nin,
		.in_syncobjs = (uintptr_t)in_syncobjs,
		.out_syncobj = out_syncobj,
	};
	int ret;

	if (nbos + 1 > JAL_ARRAY_SIZE(handles))
		return -E2BIG;
	handles[0] = cb->bo.handle;
	if (nbos)
		memcpy(&handles[1], bos, nbos * sizeof(*bos));
	ret = jal_ioctl(fd, DRM_IOCTL_JALAPENO_SUBMIT, &s);
	if (!ret && seqno)
		*seqno = s.seqno;
	return ret;
}

int jal_syncobj_new(int fd, uint32_t *syncobj)
{
	struct drm_syncobj_create c = { 0 };
	int ret;

	ret = jal_ioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &c);
	if (!ret)
		*syncobj = c.handle;
	return ret;
}

void jal_syncobj_free(int fd, uint32_t syncobj)
{
	struct drm_syncobj_destroy d = { .handle = syncobj };

	jal_ioctl(fd, DRM_IOCTL_SYNCOBJ_DESTROY, &d);
}

/* 0 once the syncobj's fence signalled, -ETIME if not within @timeout_ms. */
int jal_syncobj_wait(int fd, uint32_t syncobj, unsigned int timeout_ms)
{
	struct drm_syncobj_wait w = {
		.handles = (uintptr_t)&syncobj,
		.count_handles = 1,
		.timeout_nsec = (int64_t)(jal_now_ns() + timeout_ms * 1000000ull),
	};

	return jal_ioctl(fd, DRM_IOCTL_SYNCOBJ_WAIT, &w);
}

int jal_syncobj_export(int fd, uint32_t syncobj)
{
	struct drm_syncobj_handle h = {
		.handle = syncobj,
		.flags = DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE,
		.fd = -1,
	};
	int ret;

	ret = jal_ioctl(fd, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &h);
	return ret ? ret : h.fd;
}

int jal_syncobj_status(int fd, uint32_t syncobj)
{
	struct sync_file_info info;
	int sf, ret;

	sf = jal_syncobj_export(fd, syncobj);
	if (sf < 0)
		return sf;
	memset(&info, 0, sizeof(info));
	ret = ioctl(sf, SYNC_IOC_FILE_INFO, &info);
	ret = ret ? -errno : info.status;
	close(sf);
	return ret;
}

int jal_run(int fd, uint32_t ctx_id, const struct jal_cmdbuf *cb,
	    const uint32_t *bos, uint32_t nbos)
{
	uint32_t sync;
	int ret;

	ret = jal_syncobj_new(fd, &sync);
	if (ret)
		return ret;
	ret = jal_submit(fd, ctx_id, cb, bos, nbos, NULL, 0, sync, NULL);
	if (!ret) {
		ret = jal_syncobj_wait(fd, sync, JAL_JOB_WAIT_MS);
		if (ret)
			fprintf(stderr, "# job did not signal within %u ms: %d\n",
				JAL_JOB_WAIT_MS, ret);
	}
	jal_syncobj_free(fd, sync);
	return ret;
}

static struct jal_insn jal_i(uint8_t opcode)
{
	struct jal_insn i;

	memset(&i, 0, sizeof(i));
	i.opcode = opcode;
	i.dtype = JAL_DTYPE_F32;
	return i;
}

static void jal_i_imm64(struct jal_insn *i, uint64_t imm)
{
	i->imm[0] = (uint32_t)imm;
	i->imm[1] = (uint32_t)(imm >> 32);
}

struct jal_insn jal_i_nop(void)
{
	return jal_i(JAL_OP_NOP);
}

struct jal_insn jal_i_halt(void)
{
	return jal_i(JAL_OP_HALT);
}

struct jal_insn jal_i_li(unsigned int rd, uint64_t imm)
{
	struct jal_insn i = jal_i(JAL_OP_LI);

	i.r[0] = rd;
	jal_i_imm64(&i, imm);
	return i;
}

struct jal_insn jal_i_addi(unsigned int rd, unsigned int rs, uint64_t imm)
{
	struct jal_insn i = jal_i(JAL_OP_ADDI);

	i.r[0] = rd;
	i.r[1] = rs;
	jal_i_imm64(&i, imm);
	return i;
}

struct jal_insn jal_i_add(unsigned int rd, unsigned int ra, unsigned int rb)
{
	struct jal_insn i = jal_i(JAL_OP_ADD);

	i.r[0] = rd;
	i.r[1] = ra;
	i.r[2] = rb;
	return i;
}

struct jal_insn jal_i_muli(unsigned int rd, unsigned int rs, uint64_t imm)
{
	struct jal_insn i = jal_i(JAL_OP_MULI);

	i.r[0] = rd;
	i.r[1] = rs;
	jal_i_imm64(&i, imm);
	return i;
}

struct jal_insn jal_i_jump(uint32_t target)
{
	struct jal_insn i = jal_i(JAL_OP_JUMP);

	i.imm[2] = target;
	return i;
}

static struct jal_insn jal_i_branch(uint8_t op, unsigned int ra, unsigned int rb, uint32_t target)
{
	struct jal_insn i = jal_i(op);

	i.r[1] = ra;
	i.r[2] = rb;
	i.imm[2] = target;
	return i;
}

struct jal_insn jal_i_bne(unsigned int ra, unsigned int rb, uint32_t target)
{
	return jal_i_branch(JAL_OP_BNE, ra, rb, target);
}

struct jal_insn jal_i_bltu(unsigned int ra, unsigned int rb, uint32_t target)
{
	return jal_i_branch(JAL_OP_BLTU, ra, rb, target);
}

struct jal_insn jal_i_vec(uint8_t op, unsigned int rd, unsigned int ra, unsigned int rb,
			  uint32_t n, uint32_t sd, uint32_t sa, uint32_t sb)
{
	struct jal_insn i = jal_i(op);

	i.r[0] = rd;
	i.r[1] = ra;
	i.r[2] = rb;
	i.dim[0] = n;
	i.stride[0] = sd;
	i.stride[1] = sa;
	i.stride[2] = sb;
	return i;
}

struct jal_insn jal_i_vscale(unsigned int rd, unsigned int ra, uint32_t n,
			     uint32_t sd, uint32_t sa, float scale)
{
	struct jal_insn i = jal_i(JAL_OP_VSCALE);

	i.r[0] = rd;
	i.r[1] = ra;
	i.dim[0] = n;
	i.stride[0] = sd;
	i.stride[1] = sa;
	i.imm[0] = jal_f2u(scale);
	return i;
}

struct jal_insn jal_i_matvec(unsigned int rd, unsigned int rw, unsigned int rx,
			     uint32_t rows, uint32_t cols, uint32_t sd,
			     uint32_t pitch, uint32_t sx)
{
	struct jal_insn i = jal_i(JAL_OP_MATVEC);

	i.r[0] = rd;
	i.r[1] = rw;
	i.r[2] = rx;
	i.dim[0] = rows;
	i.dim[1] = cols;
	i.stride[0] = sd;
	i.stride[1] = pitch;
	i.stride[2] = sx;
	return i;
}

int jal_prog_new(int fd, struct jal_prog *p, const struct jal_insn *code, unsigned int n,
		 const uint64_t *args, unsigned int nargs)
{
	size_t code_bytes = (size_t)n * sizeof(*code);
	int ret;

	memset(p, 0, sizeof(*p));
	if (nargs > JAL_MAX_ARGS)
		return -E2BIG;
	ret = jal_bo_new(fd, JAL_PROG_CODE_OFFSET + code_bytes, 0, &p->bo);
	if (ret)
		return ret;
	ret = jal_cmdbuf_new(fd, &p->cb);
	if (ret) {
		jal_bo_free(&p->bo);
		return ret;
	}
	if (nargs)
		memcpy(p->bo.map, args, nargs * sizeof(*args));
	memcpy((char *)p->bo.map + JAL_PROG_CODE_OFFSET, code, code_bytes);
	jal_emit_dispatch(&p->cb, p->bo.va + JAL_PROG_CODE_OFFSET, code_bytes,
			  p->bo.va, nargs * sizeof(*args));
	return 0;
}

void jal_prog_free(struct jal_prog *p)
{
	jal_cmdbuf_free(&p->cb);
	jal_bo_free(&p->bo);
}

int jal_dispatch(int fd, uint32_t ctx_id, const struct jal_insn *code, unsigned int n,
		 const uint64_t *args, unsigned int nargs,
		 const uint32_t *bos, uint32_t nbos)
{
	uint32_t handles[32];
	struct jal_prog p;
	int ret;

	if (nbos + 1 > JAL_ARRAY_SIZE(handles))
		return -E2BIG;
	ret = jal_prog_new(fd, &p, code, n, args, nargs);
	if (ret)
		return ret;
	handles[0] = p.bo.handle;
	if (nbos)
		memcpy(&handles[1], bos, nbos * sizeof(*bos));
	ret = jal_run(fd, ctx_id, &p.cb, handles, nbos + 1);
	jal_prog_free(&p);
	return ret;
}

/*
 * r1 counts from 0 to r0 (the first argument): 2 steps per iteration.
 * The job first writes 1 to the prog BO's JAL_BUSY_STARTED_OFFSET, so the
 * CPU can tell when it started executing.
 */
int jal_busy_new(int fd, struct jal_prog *p, uint64_t iters)
{
	const struct jal_insn code[] = {
		jal_i_li(1, 0),
		jal_i_addi(1, 1, 1),
		jal_i_bne(1, 0, 1),
		jal_i_halt(),
	};
	int ret;

	ret = jal_prog_new(fd, p, code, JAL_ARRAY_SIZE(code), &iters, 1);
	if (ret)
		return ret;
	p->cb.len = 0;
	jal_emit_write_value(&p->cb, p->bo.va + JAL_BUSY_STARTED_OFFSET, 1);
	jal_emit_dispatch(&p->cb, p->bo.va + JAL_PROG_CODE_OFFSET, sizeof(code), p->bo.va,
			  sizeof(iters));
	return 0;
}

int jal_busy_wait_started(const struct jal_prog *p, unsigned int timeout_ms)
{
	/* the device writes it behind the compiler's back */
	uint64_t *flag = (uint64_t *)((char *)p->bo.map + JAL_BUSY_STARTED_OFFSET);
	struct timespec ms = { .tv_nsec = 1000000 };
	uint64_t deadline = jal_now_ns() + timeout_ms * 1000000ull;

	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != 1) {
		if (jal_now_ns() > deadline)
			return -ETIME;
		nanosleep(&ms, NULL);
	}
	return 0;
}

int jal_spin_new(int fd, struct jal_prog *p)
{
	const struct jal_insn code[] = { jal_i_jump(0) };

	return jal_prog_new(fd, p, code, JAL_ARRAY_SIZE(code), NULL, 0);
}

static int64_t jal_busy_time_ns(int fd, uint32_t ctx_id, uint64_t iters)
{
	struct jal_prog p;
	uint64_t t0;
	int ret;

	ret = jal_busy_new(fd, &p, iters);
	if (ret)
		return ret;
	t0 = jal_now_ns();
	ret = jal_run(fd, ctx_id, &p.cb, &p.bo.handle, 1);
	jal_prog_free(&p);
	if (!ret)
		ret = jal_ctx_error(fd, ctx_id);
	return ret ? ret : (int64_t)(jal_now_ns() - t0);
}

uint64_t jal_busy_iters(int fd, uint32_t ctx_id, unsigned int ms)
{
	/* Stay well below the default watchdog of JAL_STEP_LIMIT_DEFAULT. */
	const uint64_t cap = JAL_STEP_LIMIT_DEFAULT / 2 - 1024;
	static uint64_t per_ms;	/* iterations per millisecond, measured once */
	int64_t base, t = 0;
	uint64_t iters = 1ull << 14;

	if (!per_ms) {
		base = jal_busy_time_ns(fd, ctx_id, 1);
		if (base < 0)
			return 0;
		for (;;) {
			t = jal_busy_time_ns(fd, ctx_id, iters);
			if (t < 0)
				return 0;
			if (t - base >= 100000000 || iters >= cap / 4)
				break;
			iters *= 4;
		}
		t -= base;
		per_ms = t > 1000000 ? iters * 1000000 / t : iters;
		if (!per_ms)
			per_ms = 1;
	}
	iters = per_ms * ms;
	return iters > cap ? cap : iters;
}

int jal_device_usable(int fd)
{
	const uint64_t value = 0x600dcafe12345678ull;
	struct jal_cmdbuf cb;
	struct jal_bo bo;
	uint32_t ctx, i;
	uint32_t *words;
	int ret;

	ret = jal_ctx_create(fd, DRM_JALAPENO_PRIORITY_NORMAL, &ctx);
	if (ret) {
		fprintf(stderr, "# usable: CTX_CREATE failed: %d\n", ret);
		return ret;
	}
	ret = jal_bo_new(fd, JAL_PAGE, 0, &bo);
	if (ret)
		goto out_ctx;
	ret = jal_cmdbuf_new(fd, &cb);
	if (ret)
		goto out_bo;
	memset(bo.map, 0xee, bo.size);
	jal_emit_fill(&cb, bo.va, 0xa5a55a5a, 1024);
	jal_emit_write_value(&cb, bo.va + 1024, value);
	ret = jal_run(fd, ctx, &cb, &bo.handle, 1);
	if (!ret)
		ret = jal_ctx_error(fd, ctx);
	if (ret) {
		fprintf(stderr, "# usable: job failed: %d\n", ret);
		goto out_cb;
	}
	words = bo.map;
	for (i = 0; i < 256; i++)
		if (words[i] != 0xa5a55a5a)
			ret = -EIO;
	if (*(uint64_t *)((char *)bo.map + 1024) != value)
		ret = -EIO;
	if (ret)
		fprintf(stderr, "# usable: job ran but its results are wrong\n");
out_cb:
	jal_cmdbuf_free(&cb);
out_bo:
	jal_bo_free(&bo);
out_ctx:
	jal_ctx_destroy(fd, ctx);
	return ret;
}

bool jal_have_cap(unsigned int cap)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ull << cap);
}

static void jal_param_path(char *path, size_t len, const char *name)
{
	snprintf(path, len, "/sys/module/jalapeno/parameters/%s", name);
}

int jal_param_read(const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	jal_param_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return 0;
}

int jal_param_write(const char *name, const char *value)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	jal_param_path(path, sizeof(path), name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, strlen(value));
	close(fd);
	if (n < 0)
		return -errno;
	return (size_t)n == strlen(value) ? 0 : -EIO;
}

uint32_t jal_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

/* A finite float in [-8, 8) with a full 24-bit mantissa. */
float jal_randf(uint64_t *state)
{
	return (float)(jal_rand(state) >> 8) / (float)(1 << 24) * 16.0f - 8.0f;
}

int jal_write_file(const char *path, const char *s)
{
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

char *jal_read_file(const char *path)
{
	size_t len = 0, cap = 1 << 16;
	char *buf, *bigger;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf && (n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			cap *= 2;
			bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				buf = NULL;
			}
			buf = bigger;
		}
	}
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

int jal_debugfs_dir(char *dir, size_t len)
{
	char bdf[64];
	int ret;

	ret = jal_find_device(NULL, 0, bdf, sizeof(bdf));
	if (ret)
		return ret;
	if (access("/sys/kernel/debug/accel", F_OK) &&
	    mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL))
		return -errno;
	snprintf(dir, len, "/sys/kernel/debug/accel/%s", bdf);
	return access(dir, F_OK) ? -errno : 0;
}

void jal_params_save(struct jal_params *p)
{
	if (jal_param_read("step_limit", p->step_limit, sizeof(p->step_limit)))
		p->step_limit[0] = '\0';
	if (jal_param_read("job_timeout_ms", p->job_timeout_ms, sizeof(p->job_timeout_ms)))
		p->job_timeout_ms[0] = '\0';
}

void jal_params_restore(const struct jal_params *p)
{
	if (p->step_limit[0])
		jal_param_write("step_limit", p->step_limit);
	if (p->job_timeout_ms[0])
		jal_param_write("job_timeout_ms", p->job_timeout_ms);
}

bool jal_params_writable(const struct jal_params *p)
{
	return p->step_limit[0] && p->job_timeout_ms[0];
}
