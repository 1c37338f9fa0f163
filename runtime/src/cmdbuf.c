// SPDX-License-Identifier: MIT
/*
 * Command buffers.
 *
 * Commands are encoded into a host array as they are added; at submit
 * time they are written into the command buffer's device buffer, laid out
 * as [commands | pad to 8 | argument words of all dispatches]. Keeping the
 * host copy lets the buffer grow without relocating anything the device
 * may be reading, and a dispatch's args_va is only fixed up once the
 * device buffer (and so its VA) is known.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "jalrt_internal.h"

struct jalrt_dispatch_fixup {
	uint32_t cmd_offset;	/* of the jal_cmd_dispatch in the commands */
	uint32_t arg_offset;	/* of its words in the argument area */
	uint32_t num_args;
};

struct jalrt_cmdbuf {
	struct jalrt_device *dev;

	uint8_t *cmds;
	size_t size;
	size_t cap;

	uint64_t *args;
	size_t num_args;
	size_t cap_args;

	struct jalrt_dispatch_fixup *dispatches;
	size_t num_dispatches;
	size_t cap_dispatches;

	uint32_t *handles;	/* GEM handles of the buffers the commands use */
	size_t num_handles;
	size_t cap_handles;

	struct jalrt_buffer *bo;	/* device copy */
	bool dirty;		/* host copy changed since it was written */
	bool bo_busy;		/* the device copy was handed to a job */
};

static int grow(void **arr, size_t *cap, size_t need, size_t elem, size_t first)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : first;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

JALRT_API int jalrt_cmdbuf_create(struct jalrt_device *dev, struct jalrt_cmdbuf **out)
{
	struct jalrt_cmdbuf *cb;

	if (!dev || !out)
		return jalrt_set_error(-EINVAL, "jalrt_cmdbuf_create: NULL %s",
				       dev ? "cmdbuf" : "device");
	cb = calloc(1, sizeof(*cb));
	if (!cb) {
		*out = NULL;
		return jalrt_set_error(-ENOMEM, "jalrt_cmdbuf_create: out of memory");
	}
	cb->dev = jalrt_device_get(dev);
	*out = cb;
	return 0;
}

JALRT_API int jalrt_cmdbuf_destroy(struct jalrt_cmdbuf *cb)
{
	if (!cb)
		return 0;
	/* Jobs still using the device copy hold their own reference to it. */
	jalrt_buffer_free(cb->bo);
	free(cb->cmds);
	free(cb->args);
	free(cb->dispatches);
	free(cb->handles);
	jalrt_device_put(cb->dev);
	free(cb);
	return 0;
}

JALRT_API int jalrt_cmdbuf_reset(struct jalrt_cmdbuf *cb)
{
	if (!cb)
		return jalrt_set_error(-EINVAL, "jalrt_cmdbuf_reset: NULL cmdbuf");
	cb->size = 0;
	cb->num_args = 0;
	cb->num_dispatches = 0;
	cb->num_handles = 0;
	cb->dirty = true;
	return 0;
}

struct jalrt_device *jalrt_cmdbuf_device(const struct jalrt_cmdbuf *cb)
{
	return cb->dev;
}

static int track_handle(struct jalrt_cmdbuf *cb, uint32_t handle)
{
	size_t i;

	/* Linear: command buffers name few distinct buffers. */
	for (i = 0; i < cb->num_handles; i++)
		if (cb->handles[i] == handle)
			return 0;
	if (grow((void **)&cb->handles, &cb->cap_handles, cb->num_handles + 1,
		 sizeof(*cb->handles), 8))
		return -ENOMEM;
	cb->handles[cb->num_handles++] = handle;
	return 0;
}

/* Reserve @bytes at the end of the commands. */
static int cmd_reserve(struct jalrt_cmdbuf *cb, const char *fn, size_t bytes, void **p)
{
	if (cb->size + bytes > cb->dev->info.max_cmdbuf_size)
		return jalrt_set_error(-E2BIG,
				       "%s: command buffer would grow to %zu bytes, the device takes at most %u",
				       fn, cb->size + bytes, cb->dev->info.max_cmdbuf_size);
	if (grow((void **)&cb->cmds, &cb->cap, cb->size + bytes, 1, 256))
		return jalrt_set_error(-ENOMEM, "%s: out of memory", fn);
	*p = cb->cmds + cb->size;
	cb->size += bytes;
	cb->dirty = true;
	return 0;
}

/* Append a fixed command. */
static int cmd_append(struct jalrt_cmdbuf *cb, const char *fn, const void *cmd, size_t bytes)
{
	void *p = NULL;
	int ret = cmd_reserve(cb, fn, bytes, &p);

	if (!ret)
		memcpy(p, cmd, bytes);
	return ret;
}

/* Checks shared by the buffer-based commands. */
static int check_buffer(struct jalrt_cmdbuf *cb, const char *fn, const char *what,
			struct jalrt_buffer *buf, uint64_t off, uint64_t size, bool write,
			unsigned int align)
{
	if (!buf)
		return jalrt_set_error(-EINVAL, "%s: NULL %s buffer", fn, what);
	if (buf->dev != cb->dev)
		return jalrt_set_error(-EXDEV, "%s: %s buffer belongs to another device", fn,
				       what);
	if (off > buf->size || size > buf->size - off)
		return jalrt_set_error(-ERANGE,
				       "%s: %s range [%llu, +%llu) is outside the %llu-byte buffer",
				       fn, what, (unsigned long long)off, (unsigned long long)size,
				       (unsigned long long)buf->size);
	if (write && (buf->flags & JALRT_BUFFER_DEVICE_READONLY))
		return jalrt_set_error(-EACCES, "%s: %s buffer is read-only for the device", fn,
				       what);
	if (align > 1 && (buf->va + off) % align)
		return jalrt_set_error(-EINVAL, "%s: %s address 0x%llx is not %u-byte aligned",
				       fn, what, (unsigned long long)(buf->va + off), align);
	return 0;
}

static int track_or_fail(struct jalrt_cmdbuf *cb, const char *fn, struct jalrt_buffer *buf)
{
	if (track_handle(cb, buf->handle))
		return jalrt_set_error(-ENOMEM, "%s: out of memory", fn);
	return 0;
}

/*
 * Append a command that uses @a and @b (either may be NULL); on failure
 * the command buffer is left exactly as it was.
 */
static int append_using(struct jalrt_cmdbuf *cb, const char *fn, const void *cmd, size_t bytes,
			struct jalrt_buffer *a, struct jalrt_buffer *b)
{
	size_t handles = cb->num_handles;
	int ret;

	ret = cmd_append(cb, fn, cmd, bytes);
	if (ret)
		return ret;
	if ((a && track_or_fail(cb, fn, a)) || (b && track_or_fail(cb, fn, b))) {
		cb->size -= bytes;
		cb->num_handles = handles;
		return -ENOMEM;
	}
	return 0;
}

JALRT_API int jalrt_cmdbuf_copy(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				uint64_t dst_off, struct jalrt_buffer *src, uint64_t src_off,
				uint64_t size)
{
	struct jal_cmd_copy cmd = { 0 };
	int ret;

	if (!cb)
		return jalrt_set_error(-EINVAL, "%s: NULL cmdbuf", __func__);
	ret = check_buffer(cb, __func__, "destination", dst, dst_off, size, true, 1);
	if (!ret)
		ret = check_buffer(cb, __func__, "source", src, src_off, size, false, 1);
	if (ret)
		return ret;
	cmd.hdr = JAL_CMD_HDR(JAL_CMD_COPY, sizeof(cmd) / 4);
	cmd.src_va = src->va + src_off;
	cmd.dst_va = dst->va + dst_off;
	cmd.size = size;
	return append_using(cb, __func__, &cmd, sizeof(cmd), dst, src);
}

JALRT_API int jalrt_cmdbuf_fill(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				uint64_t dst_off, uint64_t size, uint32_t pattern)
{
	struct jal_cmd_fill cmd = { 0 };
	int ret;

	if (!cb)
		return jalrt_set_error(-EINVAL, "%s: NULL cmdbuf", __func__);
	ret = check_buffer(cb, __func__, "destination", dst, dst_off, size, true, 1);
	if (ret)
		return ret;
	cmd.hdr = JAL_CMD_HDR(JAL_CMD_FILL, sizeof(cmd) / 4);
	cmd.pattern = pattern;
	cmd.dst_va = dst->va + dst_off;
	cmd.size = size;
	return append_using(cb, __func__, &cmd, sizeof(cmd), dst, NULL);
}

JALRT_API int jalrt_cmdbuf_write_value(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				       uint64_t dst_off, uint64_t value)
{
	struct jal_cmd_write_value cmd = { 0 };
	int ret;

	if (!cb)
		return jalrt_set_error(-EINVAL, "%s: NULL cmdbuf", __func__);
	ret = check_buffer(cb, __func__, "destination", dst, dst_off, 8, true, 8);
	if (ret)
		return ret;
	cmd.hdr = JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, sizeof(cmd) / 4);
	cmd.dst_va = dst->va + dst_off;
	cmd.value = value;
	return append_using(cb, __func__, &cmd, sizeof(cmd), dst, NULL);
}

JALRT_API int jalrt_cmdbuf_timestamp(struct jalrt_cmdbuf *cb, struct jalrt_buffer *dst,
				     uint64_t dst_off)
{
	struct jal_cmd_timestamp cmd = { 0 };
	int ret;

	if (!cb)
		return jalrt_set_error(-EINVAL, "%s: NULL cmdbuf", __func__);
	ret = check_buffer(cb, __func__, "destination", dst, dst_off, 8, true, 8);
	if (ret)
		return ret;
	cmd.hdr = JAL_CMD_HDR(JAL_CMD_TIMESTAMP, sizeof(cmd) / 4);
	cmd.dst_va = dst->va + dst_off;
	return append_using(cb, __func__, &cmd, sizeof(cmd), dst, NULL);
}

JALRT_API int jalrt_cmdbuf_nop(struct jalrt_cmdbuf *cb)
{
	uint32_t hdr = JAL_CMD_HDR(JAL_CMD_NOP, 1);

	if (!cb)
		return jalrt_set_error(-EINVAL, "%s: NULL cmdbuf", __func__);
	return cmd_append(cb, __func__, &hdr, sizeof(hdr));
}

JALRT_API int jalrt_cmdbuf_dispatch(struct jalrt_cmdbuf *cb, struct jalrt_kernel *kernel,
				    const uint64_t *args, unsigned int num_args)
{
	struct jal_cmd_dispatch cmd = { 0 };
	size_t arg_off;
	int ret;

	if (!cb || !kernel)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, cb ? "kernel" : "cmdbuf");
	if (kernel->code->dev != cb->dev)
		return jalrt_set_error(-EXDEV, "%s: kernel was made on another device", __func__);
	if (num_args != kernel->num_args)
		return jalrt_set_error(-EINVAL, "%s: kernel takes %u arguments, %u given",
				       __func__, kernel->num_args, num_args);
	if (num_args && !args)
		return jalrt_set_error(-EINVAL, "%s: NULL args with %u arguments", __func__,
				       num_args);

	if (grow((void **)&cb->args, &cb->cap_args, cb->num_args + num_args,
		 sizeof(*cb->args), 32) ||
	    grow((void **)&cb->dispatches, &cb->cap_dispatches, cb->num_dispatches + 1,
		 sizeof(*cb->dispatches), 8))
		return jalrt_set_error(-ENOMEM, "%s: out of memory", __func__);
	arg_off = cb->num_args * sizeof(uint64_t);
	if (arg_off > UINT32_MAX - JAL_MAX_ARGS * 8)
		return jalrt_set_error(-E2BIG, "%s: too many dispatch arguments", __func__);

	cmd.hdr = JAL_CMD_HDR(JAL_CMD_DISPATCH, sizeof(cmd) / 4);
	cmd.code_va = kernel->code->va;
	cmd.code_size = kernel->num_insns * (uint32_t)sizeof(struct jal_insn);
	cmd.args_size = num_args * 8;
	cmd.args_va = arg_off;	/* fixed up when written to the device */
	ret = append_using(cb, __func__, &cmd, sizeof(cmd), kernel->code, NULL);
	if (ret)
		return ret;

	cb->dispatches[cb->num_dispatches].cmd_offset = (uint32_t)(cb->size - sizeof(cmd));
	cb->dispatches[cb->num_dispatches].arg_offset = (uint32_t)arg_off;
	cb->dispatches[cb->num_dispatches].num_args = num_args;
	cb->num_dispatches++;
	if (num_args)
		memcpy(cb->args + cb->num_args, args, num_args * sizeof(*args));
	cb->num_args += num_args;
	return 0;
}

JALRT_API int jalrt_cmdbuf_set_args(struct jalrt_cmdbuf *cb, unsigned int dispatch,
				    unsigned int first, const uint64_t *args, unsigned int count)
{
	const struct jalrt_dispatch_fixup *d;

	if (!cb || (count && !args))
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, cb ? "args" : "cmdbuf");
	if (dispatch >= cb->num_dispatches)
		return jalrt_set_error(-EINVAL, "%s: dispatch %u does not exist (%zu dispatches)",
				       __func__, dispatch, cb->num_dispatches);
	d = &cb->dispatches[dispatch];
	if (first > d->num_args || count > d->num_args - first)
		return jalrt_set_error(-ERANGE,
				       "%s: arguments [%u, +%u) outside the %u of dispatch %u",
				       __func__, first, count, d->num_args, dispatch);
	if (count) {
		memcpy(cb->args + d->arg_offset / 8 + first, args, count * sizeof(*args));
		cb->dirty = true;
	}
	return 0;
}

JALRT_API int jalrt_cmdbuf_emit_raw(struct jalrt_cmdbuf *cb, const void *cmd, size_t bytes)
{
	uint32_t hdr;

	if (!cb || !cmd)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, cb ? "command" : "cmdbuf");
	if (!bytes || bytes % 4)
		return jalrt_set_error(-EINVAL, "%s: %zu bytes is not a non-zero multiple of 4",
				       __func__, bytes);
	memcpy(&hdr, cmd, sizeof(hdr));
	if (hdr & JAL_CMD_HDR_RESERVED)
		return jalrt_set_error(-EINVAL, "%s: header 0x%08x has reserved bits set",
				       __func__, hdr);
	if ((size_t)JAL_CMD_DWORDS(hdr) * 4 != bytes)
		return jalrt_set_error(-EINVAL, "%s: header says %u dwords, %zu bytes given",
				       __func__, JAL_CMD_DWORDS(hdr), bytes);
	return cmd_append(cb, __func__, cmd, bytes);
}

JALRT_API int jalrt_cmdbuf_use_buffer(struct jalrt_cmdbuf *cb, struct jalrt_buffer *buf)
{
	if (!cb || !buf)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__, cb ? "buffer" : "cmdbuf");
	if (buf->dev != cb->dev)
		return jalrt_set_error(-EXDEV, "%s: buffer belongs to another device", __func__);
	return track_or_fail(cb, __func__, buf);
}

JALRT_API int jalrt_cmdbuf_data(const struct jalrt_cmdbuf *cb, const void **data, size_t *size)
{
	if (!cb || !data || !size)
		return jalrt_set_error(-EINVAL, "%s: NULL %s", __func__,
				       !cb ? "cmdbuf" : !data ? "data" : "size");
	*data = cb->cmds;
	*size = cb->size;
	return 0;
}

/* Smallest power of two >= @n, at least one page. */
static uint64_t bo_capacity(uint64_t n, uint64_t page)
{
	uint64_t c = page;

	while (c < n)
		c *= 2;
	return c;
}

int jalrt_cmdbuf_prepare(struct jalrt_cmdbuf *cb, uint64_t *va, uint32_t *size,
			 uint32_t *bo_handle, const uint32_t **handles, unsigned int *num_handles)
{
	uint64_t args_base, need;
	uint8_t *host;
	size_t i;
	int ret;

	if (!cb->size)
		return jalrt_set_error(-EINVAL, "jalrt_submit: command buffer is empty");

	args_base = JALRT_ALIGN((uint64_t)cb->size, 8);
	need = args_base + cb->num_args * sizeof(uint64_t);
	if (cb->dirty || !cb->bo) {
		if (!cb->bo || cb->bo->alloc_size < need) {
			struct jalrt_buffer *nbo;

			ret = jalrt_buffer_alloc(cb->dev, bo_capacity(need, cb->dev->info.page_size),
						 JALRT_BUFFER_DEVICE_READONLY, &nbo);
			if (ret)
				return ret;
			/* Jobs still reading the old copy keep it alive. */
			jalrt_buffer_free(cb->bo);
			cb->bo = nbo;
			cb->bo_busy = false;
		} else if (cb->bo_busy) {
			/* Rewriting under a running job would corrupt it. */
			ret = jalrt_buffer_wait(cb->bo, JALRT_TIMEOUT_INFINITE);
			if (ret)
				return ret;
			cb->bo_busy = false;
		}
		host = jalrt_buffer_host(cb->bo);
		memcpy(host, cb->cmds, cb->size);
		for (i = 0; i < cb->num_dispatches; i++) {
			uint64_t args_va = cb->bo->va + args_base + cb->dispatches[i].arg_offset;

			memcpy(host + cb->dispatches[i].cmd_offset +
			       offsetof(struct jal_cmd_dispatch, args_va),
			       &args_va, sizeof(args_va));
		}
		if (cb->num_args)
			memcpy(host + args_base, cb->args, cb->num_args * sizeof(uint64_t));
		cb->dirty = false;
	}
	cb->bo_busy = true;
	*va = cb->bo->va;
	*size = (uint32_t)cb->size;
	*bo_handle = cb->bo->handle;
	*handles = cb->handles;
	*num_handles = (unsigned int)cb->num_handles;
	return 0;
}
