// SPDX-License-Identifier: MIT
/*
 * libjalrt command buffers on the fake driver: command encoding (checked
 * against the byte layout of jalapeno_hw.h), argument fix-ups, growth,
 * limits, the buffer list passed to SUBMIT, and reuse after a submit.
 */
#include <errno.h>
#include <string.h>

#include "kselftest_harness.h"

#include "fake_backend.h"

static uint32_t rd32(const void *p, size_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)p + off, 4);
	return v;
}

static uint64_t rd64(const void *p, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)p + off, 8);
	return v;
}

static bool has_handle(const struct fake_submit *s, uint32_t handle)
{
	unsigned int i;

	for (i = 0; i < s->req.bo_count; i++)
		if (s->bo_handles[i] == handle)
			return true;
	return false;
}

static uint32_t handle_of(const struct jalrt_buffer *b)
{
	struct jalrt_buffer_info info;

	jalrt_buffer_query(b, &info);
	return info.handle;
}

FIXTURE(cb) {
	struct fake_dev *fake;
	struct jalrt_device *dev;
	struct jalrt_context *ctx;
	struct jalrt_cmdbuf *cb;
	struct jalrt_buffer *a, *b, *ro;
};

FIXTURE_SETUP(cb)
{
	ASSERT_EQ(0, fake_open(&self->fake, &self->dev));
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_NORMAL, &self->ctx));
	ASSERT_EQ(0, jalrt_cmdbuf_create(self->dev, &self->cb));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 4096, 0, &self->a));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 1000, 0, &self->b));
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 4096, JALRT_BUFFER_DEVICE_READONLY,
					&self->ro));
}

FIXTURE_TEARDOWN(cb)
{
	jalrt_buffer_free(self->a);
	jalrt_buffer_free(self->b);
	jalrt_buffer_free(self->ro);
	jalrt_cmdbuf_destroy(self->cb);
	jalrt_context_destroy(self->ctx);
	jalrt_device_close(self->dev);
	EXPECT_EQ(1, self->fake->closes);
	EXPECT_EQ(0, fake_live_bos(self->fake));
	fake_free(self->fake);
}

TEST_F(cb, dma_command_encoding)
{
	uint64_t va_a = jalrt_buffer_va(self->a), va_b = jalrt_buffer_va(self->b);
	const uint8_t *d;
	const void *data;
	size_t size;

	ASSERT_EQ(0, jalrt_cmdbuf_copy(self->cb, self->b, 16, self->a, 32, 100));
	ASSERT_EQ(0, jalrt_cmdbuf_fill(self->cb, self->a, 4, 7, 0xa1b2c3d4));
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(self->cb, self->a, 8, 0x0123456789abcdefull));
	ASSERT_EQ(0, jalrt_cmdbuf_timestamp(self->cb, self->b, 24));
	ASSERT_EQ(0, jalrt_cmdbuf_nop(self->cb));
	ASSERT_EQ(0, jalrt_cmdbuf_data(self->cb, &data, &size));
	ASSERT_EQ(32 + 24 + 24 + 16 + 4, size);
	d = data;

	/* COPY: header op 1, 8 dwords */
	EXPECT_EQ(0x00080001u, rd32(d, 0));
	EXPECT_EQ(0, rd32(d, 4));
	EXPECT_EQ(va_a + 32, rd64(d, 8));
	EXPECT_EQ(va_b + 16, rd64(d, 16));
	EXPECT_EQ(100, rd64(d, 24));
	d += 32;
	/* FILL: op 2, 6 dwords, pattern in the second word */
	EXPECT_EQ(0x00060002u, rd32(d, 0));
	EXPECT_EQ(0xa1b2c3d4u, rd32(d, 4));
	EXPECT_EQ(va_a + 4, rd64(d, 8));
	EXPECT_EQ(7, rd64(d, 16));
	d += 24;
	/* WRITE_VALUE: op 4, 6 dwords */
	EXPECT_EQ(0x00060004u, rd32(d, 0));
	EXPECT_EQ(0, rd32(d, 4));
	EXPECT_EQ(va_a + 8, rd64(d, 8));
	EXPECT_EQ(0x0123456789abcdefull, rd64(d, 16));
	d += 24;
	/* TIMESTAMP: op 5, 4 dwords */
	EXPECT_EQ(0x00040005u, rd32(d, 0));
	EXPECT_EQ(0, rd32(d, 4));
	EXPECT_EQ(va_b + 24, rd64(d, 8));
	d += 16;
	/* NOP: op 0, 1 dword */
	EXPECT_EQ(0x00010000u, rd32(d, 0));

	/* The job carries exactly these bytes, and the fake ran them. */
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	struct fake_submit *s = fake_last_submit(self->fake, 0);

	ASSERT_NE(NULL, s);
	EXPECT_EQ(size, s->req.cmdbuf_size);
	EXPECT_EQ(0, s->req.cmdbuf_va % 8);
	EXPECT_EQ(0, memcmp(s->cmds, data, size));
	EXPECT_TRUE(has_handle(s, handle_of(self->a)));
	EXPECT_TRUE(has_handle(s, handle_of(self->b)));
	EXPECT_FALSE(has_handle(s, handle_of(self->ro)));
	EXPECT_EQ(3, s->req.bo_count);	/* a, b and the command buffer */
	EXPECT_EQ(0x0123456789abcdefull, rd64(jalrt_buffer_host(self->a), 8));
	EXPECT_EQ(0xd4, ((uint8_t *)jalrt_buffer_host(self->a))[4]);
	EXPECT_EQ(0xc3, ((uint8_t *)jalrt_buffer_host(self->a))[5]);
	EXPECT_EQ(0xa1, ((uint8_t *)jalrt_buffer_host(self->a))[7]);
}

TEST_F(cb, dispatch_encoding_and_args)
{
	uint64_t args1[3] = { 11, 22, 33 }, args2[3] = { 44, 55, 66 };
	struct jalrt_kernel_builder *kb;
	struct jalrt_kernel *k;
	struct fake_submit *s;
	struct fake_bo *cbo;
	const void *data;
	uint64_t off;
	size_t size;

	ASSERT_EQ(0, jalrt_kb_create(3, &kb));
	ASSERT_EQ(0, jalrt_kb_vadd(kb, 0, 1, 2, JALRT_DIM(4)));
	ASSERT_EQ(0, jalrt_kb_halt(kb));
	ASSERT_EQ(0, jalrt_kb_finalize(kb, self->dev, &k));

	ASSERT_EQ(0, jalrt_cmdbuf_nop(self->cb));	/* misaligns what follows by 4 */
	ASSERT_EQ(0, jalrt_cmdbuf_dispatch(self->cb, k, args1, 3));
	args1[0] = 999;		/* the words were copied */
	ASSERT_EQ(0, jalrt_cmdbuf_dispatch(self->cb, k, args2, 3));
	ASSERT_EQ(0, jalrt_cmdbuf_data(self->cb, &data, &size));
	ASSERT_EQ(4 + 32 + 32, size);
	EXPECT_EQ(0x00080003u, rd32(data, 4));
	EXPECT_EQ(0, rd32(data, 8));
	EXPECT_EQ(jalrt_buffer_va(jalrt_kernel_buffer(k)), rd64(data, 12));
	EXPECT_EQ(128, rd32(data, 20));	/* code_size */
	EXPECT_EQ(24, rd32(data, 24));	/* args_size */
	EXPECT_EQ(0, rd64(data, 28));	/* host copy: offset in the argument area */
	EXPECT_EQ(24, rd64(data, 60));

	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	s = fake_last_submit(self->fake, 0);
	ASSERT_NE(NULL, s);
	EXPECT_EQ(2, s->dispatches);
	/* the device copy points at the words of the last dispatch */
	EXPECT_EQ(3, s->dispatch_nargs);
	EXPECT_EQ(44, s->dispatch_args[0]);
	EXPECT_EQ(66, s->dispatch_args[2]);
	EXPECT_TRUE(has_handle(s, handle_of(jalrt_kernel_buffer(k))));
	/* args sit right after the commands, 8-byte aligned, in the same BO */
	cbo = fake_bo_by_va(self->fake, s->req.cmdbuf_va, &off);
	ASSERT_NE(NULL, cbo);
	EXPECT_EQ(s->req.cmdbuf_va + 72, rd64(s->cmds, 28));
	EXPECT_EQ(s->req.cmdbuf_va + 96, rd64(s->cmds, 60));
	EXPECT_EQ(11, rd64(cbo->mem, off + 72));
	EXPECT_EQ(DRM_JALAPENO_BO_DEVICE_READONLY, cbo->flags);

	/* rerun with a changed argument: rewritten, after waiting for the old job */
	ASSERT_EQ(0, jalrt_cmdbuf_set_args(self->cb, 1, 1, &(uint64_t){ 77 }, 1));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	s = fake_last_submit(self->fake, 0);
	EXPECT_EQ(1, self->fake->bo_waits);
	EXPECT_EQ(44, s->dispatch_args[0]);
	EXPECT_EQ(77, s->dispatch_args[1]);
	EXPECT_EQ(66, s->dispatch_args[2]);
	EXPECT_EQ(11, rd64(cbo->mem, off + 72));	/* dispatch 0 untouched */
	EXPECT_EQ(-ERANGE, jalrt_cmdbuf_set_args(self->cb, 1, 2, args2, 2));
	EXPECT_EQ(-ERANGE, jalrt_cmdbuf_set_args(self->cb, 0, 4, args2, 0));
	EXPECT_EQ(0, jalrt_cmdbuf_set_args(self->cb, 0, 3, NULL, 0));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_set_args(self->cb, 2, 0, args2, 1));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "dispatch 2 does not exist"));

	/* argument count must match the kernel */
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_dispatch(self->cb, k, args2, 2));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "takes 3 arguments, 2 given"));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_dispatch(self->cb, k, NULL, 3));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_dispatch(self->cb, NULL, args2, 3));

	jalrt_kernel_destroy(k);
	jalrt_kb_destroy(kb);
}

TEST_F(cb, growth_beyond_a_page)
{
	struct jalrt_buffer *big;
	const uint64_t *v;
	const void *data;
	size_t size;
	uint32_t i;

	/* 10000 commands of 24 bytes: many reallocations of the host copy */
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 10000 * 8, 0, &big));
	for (i = 0; i < 10000; i++)
		ASSERT_EQ(0, jalrt_cmdbuf_write_value(self->cb, big, i * 8, i * 3 + 1));
	ASSERT_EQ(0, jalrt_cmdbuf_data(self->cb, &data, &size));
	EXPECT_EQ(240000, size);
	EXPECT_EQ(0x00060004u, rd32(data, 239976));
	EXPECT_EQ(9999 * 3 + 1, rd64(data, 239976 + 16));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0))
		TH_LOG("%s", jalrt_last_error_message());
	v = jalrt_buffer_host(big);
	for (i = 0; i < 10000; i++)
		ASSERT_EQ(i * 3 + 1, v[i]);
	jalrt_buffer_free(big);
}

TEST_F(cb, size_limit)
{
	uint32_t i, n = JAL_MAX_CMDBUF_SIZE / 4;
	uint32_t raw[6] = { JAL_CMD_HDR(JAL_CMD_NOP, 1) };

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, jalrt_cmdbuf_nop(self->cb));
	EXPECT_EQ(-E2BIG, jalrt_cmdbuf_nop(self->cb));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "at most 1048576"))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-E2BIG, jalrt_cmdbuf_emit_raw(self->cb, raw, 4));
	EXPECT_EQ(-E2BIG, jalrt_cmdbuf_copy(self->cb, self->a, 0, self->a, 8, 8));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	EXPECT_EQ(JAL_MAX_CMDBUF_SIZE, fake_last_submit(self->fake, 0)->req.cmdbuf_size);
	ASSERT_EQ(0, jalrt_cmdbuf_reset(self->cb));
	EXPECT_EQ(0, jalrt_cmdbuf_nop(self->cb));
}

TEST_F(cb, bounds_and_permissions)
{
	struct jalrt_device *dev2;
	struct jalrt_buffer *other;
	struct fake_dev *fake2;
	const void *data;
	size_t size;

	/* b is 1000 bytes: the allocation is a page, but bounds use 1000 */
	EXPECT_EQ(0, jalrt_cmdbuf_fill(self->cb, self->b, 0, 1000, 0));
	EXPECT_EQ(-ERANGE, jalrt_cmdbuf_fill(self->cb, self->b, 0, 1001, 0));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "1000-byte buffer"));
	EXPECT_EQ(-ERANGE, jalrt_cmdbuf_fill(self->cb, self->b, 1001, 0, 0));
	EXPECT_EQ(0, jalrt_cmdbuf_fill(self->cb, self->b, 1000, 0, 0));
	EXPECT_EQ(-ERANGE, jalrt_cmdbuf_copy(self->cb, self->a, 8, self->b, UINT64_MAX, 2));
	EXPECT_EQ(-ERANGE, jalrt_cmdbuf_copy(self->cb, self->a, UINT64_MAX - 1, self->b, 0, 2));
	EXPECT_EQ(-ERANGE, jalrt_cmdbuf_write_value(self->cb, self->b, 996, 1));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_write_value(self->cb, self->a, 4, 1));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "8-byte aligned"));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_timestamp(self->cb, self->a, 12));
	EXPECT_EQ(-EACCES, jalrt_cmdbuf_fill(self->cb, self->ro, 0, 4, 0));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "read-only"));
	EXPECT_EQ(-EACCES, jalrt_cmdbuf_copy(self->cb, self->ro, 0, self->a, 0, 4));
	EXPECT_EQ(0, jalrt_cmdbuf_copy(self->cb, self->a, 0, self->ro, 0, 4));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_copy(self->cb, NULL, 0, self->a, 0, 4));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_copy(NULL, self->a, 0, self->a, 0, 4));

	ASSERT_EQ(0, fake_open(&fake2, &dev2));
	ASSERT_EQ(0, jalrt_buffer_alloc(dev2, 64, 0, &other));
	EXPECT_EQ(-EXDEV, jalrt_cmdbuf_copy(self->cb, self->a, 0, other, 0, 4));
	EXPECT_EQ(-EXDEV, jalrt_cmdbuf_use_buffer(self->cb, other));
	jalrt_buffer_free(other);
	jalrt_device_close(dev2);
	fake_free(fake2);

	/* only the successful commands were encoded: 2 fills + 1 copy */
	ASSERT_EQ(0, jalrt_cmdbuf_data(self->cb, &data, &size));
	EXPECT_EQ(24 + 24 + 32, size);
}

TEST_F(cb, raw_commands)
{
	struct jal_cmd_write_value wv = { 0 };
	uint32_t words[2] = { 0, 0 };

	wv.hdr = JAL_CMD_HDR(JAL_CMD_WRITE_VALUE, 6);
	wv.dst_va = jalrt_buffer_va(self->a) + 64;
	wv.value = 77;
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_emit_raw(self->cb, &wv, 20));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_emit_raw(self->cb, &wv, 0));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_emit_raw(self->cb, &wv, 23));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_emit_raw(self->cb, NULL, 24));
	words[0] = JAL_CMD_HDR(JAL_CMD_NOP, 1) | 0x100;
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_emit_raw(self->cb, words, 4));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "reserved"));
	ASSERT_EQ(0, jalrt_cmdbuf_emit_raw(self->cb, &wv, sizeof(wv)));
	/* raw commands name no buffers: the caller lists them */
	ASSERT_EQ(0, jalrt_cmdbuf_use_buffer(self->cb, self->a));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	EXPECT_TRUE(has_handle(fake_last_submit(self->fake, 0), handle_of(self->a)));
	EXPECT_EQ(77, rd64(jalrt_buffer_host(self->a), 64));
}

TEST_F(cb, reuse_waits_only_when_rewritten)
{
	struct fake_submit *s1, *s2;
	uint64_t first_va;

	ASSERT_EQ(0, jalrt_cmdbuf_write_value(self->cb, self->a, 0, 1));
	ASSERT_EQ(-EINVAL, jalrt_submit_sync(self->ctx, NULL, NULL, 0, 0));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	EXPECT_EQ(0, self->fake->bo_waits);	/* unchanged: nothing rewritten */
	s1 = fake_last_submit(self->fake, 1);
	s2 = fake_last_submit(self->fake, 0);
	EXPECT_EQ(s1->req.cmdbuf_va, s2->req.cmdbuf_va);
	first_va = s1->req.cmdbuf_va;

	/* changing it after a submit waits for jobs still reading the old copy */
	ASSERT_EQ(0, jalrt_cmdbuf_write_value(self->cb, self->a, 8, 2));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	EXPECT_EQ(1, self->fake->bo_waits);
	EXPECT_EQ(first_va, fake_last_submit(self->fake, 0)->req.cmdbuf_va);
	EXPECT_EQ(2, rd64(jalrt_buffer_host(self->a), 8));

	/* growing past the device copy moves to a new buffer, no wait needed */
	ASSERT_EQ(0, jalrt_cmdbuf_reset(self->cb));
	for (int i = 0; i < 400; i++)
		ASSERT_EQ(0, jalrt_cmdbuf_write_value(self->cb, self->a, 16, i));
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	EXPECT_EQ(1, self->fake->bo_waits);
	EXPECT_NE(first_va, fake_last_submit(self->fake, 0)->req.cmdbuf_va);
	EXPECT_EQ(399, rd64(jalrt_buffer_host(self->a), 16));

	/* an empty command buffer is refused before reaching the driver */
	ASSERT_EQ(0, jalrt_cmdbuf_reset(self->cb));
	EXPECT_EQ(-EINVAL, jalrt_submit_sync(self->ctx, self->cb, NULL, 0, 0));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "empty"));
}

TEST_F(cb, buffer_list_is_deduplicated)
{
	struct jalrt_buffer *extra[4];
	struct fake_submit *s;

	extra[0] = self->a;
	extra[1] = self->ro;
	extra[2] = self->ro;
	extra[3] = self->b;
	ASSERT_EQ(0, jalrt_cmdbuf_copy(self->cb, self->a, 0, self->a, 8, 8));
	ASSERT_EQ(0, jalrt_cmdbuf_use_buffer(self->cb, self->a));
	/* the fake rejects duplicate handles like a strict driver would */
	ASSERT_EQ(0, jalrt_submit_sync(self->ctx, self->cb, extra, 4, 0))
		TH_LOG("%s", jalrt_last_error_message());
	s = fake_last_submit(self->fake, 0);
	EXPECT_EQ(4, s->req.bo_count);
	EXPECT_TRUE(has_handle(s, handle_of(self->ro)));
	EXPECT_TRUE(has_handle(s, handle_of(self->b)));
	extra[1] = NULL;
	EXPECT_EQ(-EINVAL, jalrt_submit_sync(self->ctx, self->cb, extra, 4, 0));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "buffers[1]"));
	EXPECT_EQ(-EINVAL, jalrt_submit_sync(self->ctx, self->cb, NULL, 1, 0));
}

TEST(cmdbuf_argument_checks)
{
	struct jalrt_cmdbuf *cb = (void *)1;
	const void *data;
	size_t size;

	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_create(NULL, &cb));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_reset(NULL));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_nop(NULL));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_fill(NULL, NULL, 0, 0, 0));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_write_value(NULL, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_timestamp(NULL, NULL, 0));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_dispatch(NULL, NULL, NULL, 0));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_use_buffer(NULL, NULL));
	EXPECT_EQ(-EINVAL, jalrt_cmdbuf_data(NULL, &data, &size));
	EXPECT_EQ(0, jalrt_cmdbuf_destroy(NULL));
}

TEST_HARNESS_MAIN
