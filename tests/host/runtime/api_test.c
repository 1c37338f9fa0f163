// SPDX-License-Identifier: MIT
/*
 * libjalrt API without a device: error strings, the per-thread error
 * message, argument validation (NULL handles, bad sizes, bounds) and
 * opening when there is no Jalapeño device.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"

#include "fake_backend.h"

TEST(strerror_texts)
{
	EXPECT_STREQ("success", jalrt_strerror(0));
	EXPECT_NE(NULL, strstr(jalrt_strerror(-EFAULT), "fault"));
	EXPECT_NE(NULL, strstr(jalrt_strerror(-ETIMEDOUT), "watchdog"));
	EXPECT_NE(NULL, strstr(jalrt_strerror(-ETIME), "timed out"));
	EXPECT_NE(NULL, strstr(jalrt_strerror(-ECANCELED), "earlier job"));
	EXPECT_NE(NULL, strstr(jalrt_strerror(-ENODEV), "device"));
	EXPECT_NE(NULL, strstr(jalrt_strerror(-ERANGE), "outside"));
	EXPECT_NE(NULL, strstr(jalrt_strerror(-EINPROGRESS), "not finished"));
	/* positive codes are accepted, unknown ones fall back to libc */
	EXPECT_STREQ(jalrt_strerror(-EFAULT), jalrt_strerror(EFAULT));
	EXPECT_STREQ(strerror(EROFS), jalrt_strerror(-EROFS));
	EXPECT_NE(NULL, jalrt_strerror(-123456));
	EXPECT_NE(NULL, jalrt_strerror(INT32_MIN + 1));
}

TEST(hw_status_names)
{
	EXPECT_STREQ("OK", jalrt_hw_status_name(JAL_STATUS_OK));
	EXPECT_STREQ("MMU_PERM", jalrt_hw_status_name(JAL_STATUS_MMU_PERM));
	EXPECT_STREQ("BAD_INSN", jalrt_hw_status_name(JAL_STATUS_BAD_INSN));
	EXPECT_STREQ("BUS_ERROR", jalrt_hw_status_name(JAL_STATUS_BUS_ERROR));
	EXPECT_STREQ("UNKNOWN", jalrt_hw_status_name(JAL_STATUS_COUNT));
	EXPECT_STREQ("UNKNOWN", jalrt_hw_status_name(0xffffffffu));
}

static void *other_thread(void *p)
{
	const char **seen = p;

	seen[0] = strdup(jalrt_last_error_message());
	jalrt_kb_create(99, NULL);
	seen[1] = strdup(jalrt_last_error_message());
	return NULL;
}

TEST(error_message_is_per_thread)
{
	const char *seen[2] = { NULL, NULL };
	pthread_t t;

	EXPECT_EQ(-EINVAL, jalrt_buffer_upload(NULL, 0, NULL, 0));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "jalrt_buffer_upload"));
	ASSERT_EQ(0, pthread_create(&t, NULL, other_thread, seen));
	pthread_join(t, NULL);
	EXPECT_STREQ("", seen[0]);
	EXPECT_NE(NULL, strstr(seen[1], "jalrt_kb_create"));
	/* ours is untouched by the other thread's failure */
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "jalrt_buffer_upload"));
	free((void *)seen[0]);
	free((void *)seen[1]);
}

TEST(null_handles)
{
	struct jalrt_device_info info;
	struct jalrt_device_stats stats;
	struct jalrt_context_status cst;
	struct jalrt_buffer_info binfo;
	struct jalrt_job_error jerr;
	struct jalrt_context *ctx;
	struct jalrt_buffer *buf;
	struct jalrt_fence *f;
	char byte;

	EXPECT_EQ(-EINVAL, jalrt_device_query(NULL, &info));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "NULL device"));
	EXPECT_EQ(-EINVAL, jalrt_device_stats(NULL, &stats));
	EXPECT_EQ(-EINVAL, jalrt_device_open(0, NULL));
	EXPECT_EQ(-EINVAL, jalrt_device_open_path(NULL, NULL));
	EXPECT_EQ(-EINVAL, jalrt_device_enumerate(NULL, 0, NULL));
	EXPECT_EQ(-EINVAL, jalrt_device_enumerate(NULL, 4, &(unsigned int){ 0 }));
	EXPECT_EQ(-EINVAL, jalrt_buffer_alloc(NULL, 64, 0, &buf));
	EXPECT_EQ(-EINVAL, jalrt_buffer_query(NULL, &binfo));
	EXPECT_EQ(-EINVAL, jalrt_buffer_upload(NULL, 0, &byte, 1));
	EXPECT_EQ(-EINVAL, jalrt_buffer_download(NULL, 0, &byte, 1));
	EXPECT_EQ(-EINVAL, jalrt_buffer_wait(NULL, 0));
	EXPECT_EQ(0, jalrt_buffer_va(NULL));
	EXPECT_EQ(NULL, jalrt_buffer_host(NULL));
	EXPECT_EQ(0, jalrt_buffer_size(NULL));
	EXPECT_EQ(-EINVAL, jalrt_context_create(NULL, 0, &ctx));
	EXPECT_EQ(-EINVAL, jalrt_context_status(NULL, &cst));
	EXPECT_EQ(-EINVAL, jalrt_submit(NULL, NULL, NULL, 0, NULL, 0, &f));
	EXPECT_EQ(-EINVAL, jalrt_submit_sync(NULL, NULL, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, jalrt_dispatch_sync(NULL, NULL, NULL, 0, NULL, 0, 0));
	EXPECT_EQ(-EINVAL, jalrt_fill_sync(NULL, NULL, 0, 0, 0, 0));
	EXPECT_EQ(-EINVAL, jalrt_fence_wait(NULL, 0));
	EXPECT_EQ(-EINVAL, jalrt_fence_status(NULL));
	EXPECT_EQ(-EINVAL, jalrt_fence_error(NULL, &jerr));
	EXPECT_EQ(0, jalrt_fence_seqno(NULL));
	EXPECT_EQ(-EINVAL, jalrt_kernel_create(NULL, NULL, 0, 0, NULL));
	EXPECT_EQ(0, jalrt_kernel_num_args(NULL));
	EXPECT_EQ(NULL, jalrt_kernel_buffer(NULL));
	/* destructors take NULL */
	EXPECT_EQ(0, jalrt_device_close(NULL));
	EXPECT_EQ(0, jalrt_buffer_free(NULL));
	EXPECT_EQ(0, jalrt_context_destroy(NULL));
	EXPECT_EQ(0, jalrt_fence_destroy(NULL));
	EXPECT_EQ(0, jalrt_kernel_destroy(NULL));
}

FIXTURE(fake) {
	struct fake_dev *fake;
	struct jalrt_device *dev;
};

FIXTURE_SETUP(fake)
{
	ASSERT_EQ(0, fake_open(&self->fake, &self->dev));
}

FIXTURE_TEARDOWN(fake)
{
	jalrt_device_close(self->dev);
	EXPECT_EQ(0, fake_live_bos(self->fake));
	fake_free(self->fake);
}

TEST_F(fake, buffer_alloc_arguments)
{
	struct jalrt_buffer *buf = (void *)1;
	struct jalrt_buffer_info info;
	struct jalrt_device_info di;

	EXPECT_EQ(-EINVAL, jalrt_buffer_alloc(self->dev, 0, 0, &buf));
	EXPECT_EQ(NULL, buf);
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "size is 0"));
	EXPECT_EQ(-EINVAL, jalrt_buffer_alloc(self->dev, 64, 0x80, &buf));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "flags 0x80"));
	EXPECT_EQ(-E2BIG, jalrt_buffer_alloc(self->dev, 1ull << 40, 0, &buf));
	EXPECT_EQ(-E2BIG, jalrt_buffer_alloc(self->dev, UINT64_MAX, 0, &buf));
	EXPECT_EQ(-EINVAL, jalrt_buffer_alloc(self->dev, 64, 0, NULL));
	EXPECT_EQ(0, self->fake->bo_creates);	/* none reached the driver */

	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 5, JALRT_BUFFER_DEVICE_READONLY, &buf));
	ASSERT_EQ(0, jalrt_buffer_query(buf, &info));
	EXPECT_EQ(5, info.size);
	EXPECT_EQ(4096, info.alloc_size);
	EXPECT_EQ(JALRT_BUFFER_DEVICE_READONLY, info.flags);
	EXPECT_EQ(FAKE_VA_START, info.va);
	EXPECT_EQ(info.va, jalrt_buffer_va(buf));
	EXPECT_EQ(info.host, jalrt_buffer_host(buf));
	EXPECT_EQ(5, jalrt_buffer_size(buf));
	EXPECT_EQ(0, ((char *)info.host)[4095]);
	ASSERT_EQ(0, jalrt_device_query(self->dev, &di));
	EXPECT_STREQ("jalapeno", di.driver_name);
	EXPECT_EQ(JAL_MAX_CMDBUF_SIZE, di.max_cmdbuf_size);
	jalrt_buffer_free(buf);
}

TEST_F(fake, upload_download_bounds)
{
	uint8_t in[16], out[16];
	struct jalrt_buffer *buf;

	for (int i = 0; i < 16; i++)
		in[i] = (uint8_t)(i * 7);
	ASSERT_EQ(0, jalrt_buffer_alloc(self->dev, 100, 0, &buf));
	EXPECT_EQ(0, jalrt_buffer_upload(buf, 84, in, 16));
	EXPECT_EQ(0, jalrt_buffer_download(buf, 84, out, 16));
	EXPECT_EQ(0, memcmp(in, out, 16));
	EXPECT_EQ(0, memcmp((uint8_t *)jalrt_buffer_host(buf) + 84, in, 16));
	EXPECT_EQ(-ERANGE, jalrt_buffer_upload(buf, 85, in, 16));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "100-byte buffer"))
		TH_LOG("%s", jalrt_last_error_message());
	EXPECT_EQ(-ERANGE, jalrt_buffer_download(buf, 101, out, 0));
	EXPECT_EQ(-ERANGE, jalrt_buffer_upload(buf, UINT64_MAX, in, 2));
	EXPECT_EQ(-ERANGE, jalrt_buffer_upload(buf, 2, in, UINT64_MAX));
	EXPECT_EQ(0, jalrt_buffer_upload(buf, 100, NULL, 0));
	EXPECT_EQ(-EINVAL, jalrt_buffer_upload(buf, 0, NULL, 1));
	EXPECT_EQ(-EINVAL, jalrt_buffer_download(buf, 0, NULL, 1));
	EXPECT_EQ(0, jalrt_buffer_wait(buf, 0));
	EXPECT_EQ(1, self->fake->bo_waits);
	jalrt_buffer_free(buf);
}

TEST_F(fake, context_arguments)
{
	struct jalrt_context *ctx = (void *)1;

	EXPECT_EQ(-EINVAL, jalrt_context_create(self->dev, 4, &ctx));
	EXPECT_EQ(NULL, ctx);
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "priority 4"));
	EXPECT_EQ(-EINVAL, jalrt_context_create(self->dev, 0, NULL));
	ASSERT_EQ(0, jalrt_context_create(self->dev, JALRT_PRIORITY_REALTIME, &ctx));
	EXPECT_EQ(0, jalrt_context_status(ctx, &(struct jalrt_context_status){ 0 }));
	EXPECT_EQ(-EINVAL, jalrt_context_status(ctx, NULL));
	jalrt_context_destroy(ctx);
	EXPECT_EQ(1, self->fake->ctx_destroys);
}

/* A scratch /dev/accel look-alike. */
static char *make_dir(void)
{
	char *dir = strdup("/tmp/jalrt-test-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

TEST(open_without_device)
{
	struct jalrt_device_entry entries[4];
	struct jalrt_device *dev = (void *)1;
	unsigned int count = 99;
	char path[128];
	char *dir;
	int fd;

	/* no accel class at all */
	EXPECT_EQ(0, jalrt_enumerate_dir("/nonexistent/accel", entries, 4, &count));
	EXPECT_EQ(0, count);
	EXPECT_EQ(-ENODEV, jalrt_open_index_dir("/nonexistent/accel", 0, &dev));
	EXPECT_EQ(NULL, dev);
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "no Jalapeño device"))
		TH_LOG("%s", jalrt_last_error_message());

	/* nodes that are not jalapeno (or not DRM at all) are skipped */
	dir = make_dir();
	ASSERT_NE(NULL, dir);
	snprintf(path, sizeof(path), "%s/accel0", dir);
	ASSERT_EQ(0, symlink("/dev/null", path));
	snprintf(path, sizeof(path), "%s/accel1", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ASSERT_GE(fd, 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/card0", dir);
	ASSERT_EQ(0, symlink("/dev/zero", path));
	count = 99;
	EXPECT_EQ(0, jalrt_enumerate_dir(dir, entries, 4, &count));
	EXPECT_EQ(0, count);
	EXPECT_EQ(-ENODEV, jalrt_open_index_dir(dir, 0, &dev));

	/* opening a non-jalapeno node by path */
	snprintf(path, sizeof(path), "%s/accel0", dir);
	EXPECT_EQ(-ENODEV, jalrt_device_open_path(path, &dev));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "not a jalapeno device"));
	EXPECT_EQ(-ENOENT, jalrt_device_open_path("/nonexistent/accel0", &dev));
	EXPECT_NE(NULL, strstr(jalrt_last_error_message(), "cannot open"));

	snprintf(path, sizeof(path), "%s/accel0", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/accel1", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/card0", dir);
	unlink(path);
	rmdir(dir);
	free(dir);
}

TEST(open_real_dev_accel)
{
	struct jalrt_device *dev = (void *)1;
	unsigned int count;

	ASSERT_EQ(0, jalrt_device_enumerate(NULL, 0, &count));
	if (count)
		SKIP(return, "this machine has %u Jalapeño device(s)", count);
	EXPECT_EQ(-ENODEV, jalrt_device_open(0, &dev));
	EXPECT_EQ(NULL, dev);
	EXPECT_EQ(-ENODEV, jalrt_device_open(7, &dev));
}

TEST_HARNESS_MAIN
