/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the runtime/llm host tests: where the shared test models
 * are, temporary directories, whole-file I/O and a checkpoint builder
 * that computes sizes on its own (not with the code under test).
 * Include after kselftest_harness.h, once per test binary.
 */
#ifndef LLM_TEST_UTIL_H
#define LLM_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef JAL_REPO_DIR
#error "build with -DJAL_REPO_DIR=\"<repository root>\""
#endif

/*
 * The models are shared between checkouts, next to the repository:
 * <repo>/../shared/models, unless JAL_MODELS_DIR says otherwise.
 */
static inline void llm_model_path(char *buf, size_t size, const char *name)
{
	const char *dir = getenv("JAL_MODELS_DIR");

	if (dir && *dir)
		snprintf(buf, size, "%s/%s", dir, name);
	else
		snprintf(buf, size, "%s/../shared/models/%s", JAL_REPO_DIR, name);
}

/* The command-line tools: <repo>/runtime/build unless JAL_LLM_TOOLS_DIR. */
static inline void llm_tool_path(char *buf, size_t size, const char *name)
{
	const char *dir = getenv("JAL_LLM_TOOLS_DIR");

	if (dir && *dir)
		snprintf(buf, size, "%s/%s", dir, name);
	else
		snprintf(buf, size, "%s/runtime/build/%s", JAL_REPO_DIR, name);
}

static inline bool llm_readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/* Set path to the model file or skip the test if it is not there. */
#define LLM_REQUIRE_MODEL(path, name) do {					\
	llm_model_path(path, sizeof(path), name);				\
	if (!llm_readable(path))						\
		SKIP(return, "test model %s not found (set JAL_MODELS_DIR)", name); \
} while (0)

static inline int llm_write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return -errno;
	ok = fwrite(data, 1, size, f) == size;
	if (fclose(f) || !ok)
		return -EIO;
	return 0;
}

/* The whole file in a malloc()ed buffer (plus a NUL), or NULL. */
static inline void *llm_read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	len = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
	if (len >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[len] = '\0';
			*size = (size_t)len;
		}
	}
	fclose(f);
	return buf;
}

static inline int llm_rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* A fixture owning a fresh temporary directory. */
#define LLM_TMPDIR_FIXTURE(name)						\
	FIXTURE(name) {								\
		char dir[64];							\
	};									\
	FIXTURE_SETUP(name)							\
	{									\
		snprintf(self->dir, sizeof(self->dir), "/tmp/jal-llm-test-XXXXXX"); \
		ASSERT_NE(NULL, mkdtemp(self->dir));				\
	}									\
	FIXTURE_TEARDOWN(name)							\
	{									\
		nftw(self->dir, llm_rm_entry, 8, FTW_DEPTH | FTW_PHYS);		\
	}

/*
 * A fixture owning a fresh temporary directory (self->dir) and the chip
 * model in-process with 64 MiB of device memory (self->dev); the file
 * needs sim_backend.h.
 */
#define LLM_SIM_FIXTURE(name)							\
	FIXTURE(name) {								\
		char dir[64];							\
		struct jalrt_device *dev;					\
	};									\
	FIXTURE_SETUP(name)							\
	{									\
		snprintf(self->dir, sizeof(self->dir), "/tmp/jal-llm-" #name "-XXXXXX"); \
		ASSERT_NE(NULL, mkdtemp(self->dir));				\
		ASSERT_EQ(0, sim_open(64ull << 20, true, &self->dev));		\
	}									\
	FIXTURE_TEARDOWN(name)							\
	{									\
		jalrt_device_close(self->dev);					\
		nftw(self->dir, llm_rm_entry, 8, FTW_DEPTH | FTW_PHYS);		\
	}

/*
 * Float count of a llama2.c checkpoint, from run.c's layout, written out
 * independently of runtime/llm/checkpoint.c.
 */
static inline uint64_t llm_test_weight_floats(uint64_t dim, uint64_t hidden, uint64_t layers,
					      uint64_t heads, uint64_t kv_heads, uint64_t vocab,
					      uint64_t seq, bool shared)
{
	uint64_t head = dim / heads, kv_dim = kv_heads * head;

	return vocab * dim				/* token embedding */
	       + layers * dim				/* rms_att */
	       + layers * dim * dim			/* wq */
	       + 2 * layers * dim * kv_dim		/* wk, wv */
	       + layers * dim * dim			/* wo */
	       + layers * dim				/* rms_ffn */
	       + 3 * layers * dim * hidden		/* w1, w2, w3 */
	       + dim					/* rms_final */
	       + seq * head				/* freq_cis real + imag */
	       + (shared ? 0 : vocab * dim);		/* wcls */
}

/*
 * A checkpoint image: the header as given (vocab sign included) followed
 * by @floats floats of a simple pattern. Returns malloc()ed bytes.
 */
static inline void *llm_test_checkpoint_image(const int32_t header[7], uint64_t floats,
					      size_t *size)
{
	size_t bytes = 28 + (size_t)floats * sizeof(float);
	unsigned char *buf = calloc(1, bytes);
	float *w;
	size_t i;

	if (!buf)
		return NULL;
	memcpy(buf, header, 28);
	w = (float *)(buf + 28);
	for (i = 0; i < floats; i++)
		w[i] = (float)((int)(i % 17) - 8) * 0.01f;
	*size = bytes;
	return buf;
}

#endif /* LLM_TEST_UTIL_H */
