// SPDX-License-Identifier: MIT
/*
 * Loading (and writing random) llama2.c checkpoints; see checkpoint.h for
 * the format. Every size derived from the header is computed with
 * overflow checks before anything is dereferenced, and the file must be
 * exactly as long as its header says.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "gguf-model.h"
#include "gguf.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "llama2.c checkpoints are little-endian; this loader reads them in place"
#endif

/* The tensors of a checkpoint, in file order. */
enum llm_tensor {
	LLM_T_TOKEN_EMBEDDING,
	LLM_T_RMS_ATT,
	LLM_T_WQ,
	LLM_T_WK,
	LLM_T_WV,
	LLM_T_WO,
	LLM_T_RMS_FFN,
	LLM_T_W1,
	LLM_T_W2,
	LLM_T_W3,
	LLM_T_RMS_FINAL,
	LLM_T_FREQ_CIS_REAL,
	LLM_T_FREQ_CIS_IMAG,
	LLM_T_WCLS,
	LLM_T_COUNT
};

/* What the random writer puts into each tensor. */
enum llm_tensor_kind {
	LLM_KIND_MATRIX,	/* mean 0, std ~0.02 */
	LLM_KIND_NORM,		/* around 1 */
	LLM_KIND_ZERO,		/* unused tables */
};

static const enum llm_tensor_kind llm_tensor_kinds[LLM_T_COUNT] = {
	[LLM_T_TOKEN_EMBEDDING] = LLM_KIND_MATRIX,
	[LLM_T_RMS_ATT] = LLM_KIND_NORM,
	[LLM_T_WQ] = LLM_KIND_MATRIX,
	[LLM_T_WK] = LLM_KIND_MATRIX,
	[LLM_T_WV] = LLM_KIND_MATRIX,
	[LLM_T_WO] = LLM_KIND_MATRIX,
	[LLM_T_RMS_FFN] = LLM_KIND_NORM,
	[LLM_T_W1] = LLM_KIND_MATRIX,
	[LLM_T_W2] = LLM_KIND_MATRIX,
	[LLM_T_W3] = LLM_KIND_MATRIX,
	[LLM_T_RMS_FINAL] = LLM_KIND_NORM,
	[LLM_T_FREQ_CIS_REAL] = LLM_KIND_ZERO,
	[LLM_T_FREQ_CIS_IMAG] = LLM_KIND_ZERO,
	[LLM_T_WCLS] = LLM_KIND_MATRIX,
};

/* Product of three sizes; true on overflow. */
static bool llm_mul3_overflow(size_t a, size_t b, size_t c, size_t *out)
{
	size_t ab;

	return llm_mul_overflow(a, b, &ab) || llm_mul_overflow(ab, c, out);
}

/*
 * Element count of every tensor (wcls is 0 when shared) and the total.
 * The fields are positive ints here, so only the products can overflow.
 */
static int llm_tensor_counts(const struct llm_config *c, size_t counts[LLM_T_COUNT],
			     size_t *total)
{
	size_t dim = (size_t)c->dim, hidden = (size_t)c->hidden_dim;
	size_t layers = (size_t)c->n_layers, kv_dim = (size_t)c->kv_dim;
	size_t vocab = (size_t)c->vocab_size, seq = (size_t)c->seq_len;
	size_t half_head = (size_t)c->head_size / 2;
	bool overflow = false;
	size_t sum = 0;
	int i;

	/* Also keeps gcc -O3 from suspecting reads of unwritten counts. */
	memset(counts, 0, LLM_T_COUNT * sizeof(counts[0]));
	overflow |= llm_mul_overflow(vocab, dim, &counts[LLM_T_TOKEN_EMBEDDING]);
	overflow |= llm_mul_overflow(layers, dim, &counts[LLM_T_RMS_ATT]);
	overflow |= llm_mul3_overflow(layers, dim, dim, &counts[LLM_T_WQ]);
	overflow |= llm_mul3_overflow(layers, kv_dim, dim, &counts[LLM_T_WK]);
	counts[LLM_T_WV] = counts[LLM_T_WK];
	counts[LLM_T_WO] = counts[LLM_T_WQ];
	counts[LLM_T_RMS_FFN] = counts[LLM_T_RMS_ATT];
	overflow |= llm_mul3_overflow(layers, hidden, dim, &counts[LLM_T_W1]);
	counts[LLM_T_W2] = counts[LLM_T_W1];
	counts[LLM_T_W3] = counts[LLM_T_W1];
	counts[LLM_T_RMS_FINAL] = dim;
	overflow |= llm_mul_overflow(seq, half_head, &counts[LLM_T_FREQ_CIS_REAL]);
	counts[LLM_T_FREQ_CIS_IMAG] = counts[LLM_T_FREQ_CIS_REAL];
	counts[LLM_T_WCLS] = c->shared_classifier ? 0 : counts[LLM_T_TOKEN_EMBEDDING];

	for (i = 0; i < LLM_T_COUNT && !overflow; i++)
		overflow |= llm_add_overflow(sum, counts[i], &sum);
	if (overflow)
		return -EOVERFLOW;
	*total = sum;
	return 0;
}

int llm_config_init(struct llm_config *c)
{
	const struct {
		const char *name;
		int value;
	} fields[] = {
		{ "dim", c->dim },
		{ "hidden_dim", c->hidden_dim },
		{ "n_layers", c->n_layers },
		{ "n_heads", c->n_heads },
		{ "n_kv_heads", c->n_kv_heads },
		{ "vocab_size", c->vocab_size },
		{ "seq_len", c->seq_len },
	};
	size_t counts[LLM_T_COUNT], total, bytes, i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].value <= 0)
			return llm_set_error(-EINVAL,
					     "checkpoint shape: %s is %d, it must be positive",
					     fields[i].name, fields[i].value);
	}
	if (c->dim % c->n_heads)
		return llm_set_error(-EINVAL,
				     "checkpoint shape: dim %d is not a multiple of n_heads %d",
				     c->dim, c->n_heads);
	/* This also rules out n_kv_heads > n_heads. */
	if (c->n_heads % c->n_kv_heads)
		return llm_set_error(-EINVAL,
				     "checkpoint shape: n_heads %d is not a multiple of n_kv_heads %d",
				     c->n_heads, c->n_kv_heads);
	c->head_size = c->dim / c->n_heads;
	if (c->head_size % 2)
		return llm_set_error(-EINVAL,
				     "checkpoint shape: head size %d (dim %d / n_heads %d) is odd, but RoPE rotates pairs",
				     c->head_size, c->dim, c->n_heads);
	c->kv_dim = c->n_kv_heads * c->head_size;
	c->kv_mul = c->n_heads / c->n_kv_heads;
	if (c->rope_theta == 0.0f)
		c->rope_theta = LLM_ROPE_THETA_DEFAULT;
	if (c->rms_eps == 0.0f)
		c->rms_eps = LLM_RMS_EPS_DEFAULT;
	if (!(c->rope_theta > 0.0f) || isinf(c->rope_theta))
		return llm_set_error(-EINVAL, "checkpoint shape: RoPE base %g is not a positive number",
				     (double)c->rope_theta);
	if (!(c->rms_eps > 0.0f) || isinf(c->rms_eps))
		return llm_set_error(-EINVAL,
				     "checkpoint shape: RMS norm epsilon %g is not a positive number",
				     (double)c->rms_eps);
	if (c->arch != LLM_ARCH_LLAMA && c->arch != LLM_ARCH_QWEN2)
		return llm_set_error(-EINVAL, "checkpoint shape: unknown architecture %d", c->arch);
	if (c->rope_scaling == LLM_ROPE_SCALING_LLAMA3) {
		/* Llama 3.1's published values, should a file leave any out */
		if (c->rope_low_freq_factor == 0.0f)
			c->rope_low_freq_factor = 1.0f;
		if (c->rope_high_freq_factor == 0.0f)
			c->rope_high_freq_factor = 4.0f;
		if (c->rope_orig_ctx == 0)
			c->rope_orig_ctx = 8192;
		if (!(c->rope_low_freq_factor > 0.0f) ||
		    !(c->rope_high_freq_factor > c->rope_low_freq_factor) ||
		    isinf(c->rope_high_freq_factor) || c->rope_orig_ctx < 1)
			return llm_set_error(-EINVAL,
					     "checkpoint shape: llama3 RoPE scaling with low/high frequency factors %g/%g and original context %d (0 < low < high, context > 0)",
					     (double)c->rope_low_freq_factor,
					     (double)c->rope_high_freq_factor, c->rope_orig_ctx);
	} else if (c->rope_scaling != LLM_ROPE_SCALING_NONE &&
		   c->rope_scaling != LLM_ROPE_SCALING_LINEAR) {
		return llm_set_error(-EINVAL, "checkpoint shape: unknown RoPE scaling %d",
				     c->rope_scaling);
	}
	if (c->rope_scaling != LLM_ROPE_SCALING_NONE &&
	    (!(c->rope_factor > 0.0f) || isinf(c->rope_factor)))
		return llm_set_error(-EINVAL,
				     "checkpoint shape: RoPE scaling factor %g is not a positive number",
				     (double)c->rope_factor);

	/* Whoever sizes buffers later may rely on this total not overflowing. */
	if (llm_tensor_counts(c, counts, &total) ||
	    llm_mul_overflow(total, sizeof(float), &bytes) ||
	    llm_add_overflow(bytes, LLM_CHECKPOINT_HEADER_SIZE, &bytes))
		return llm_set_error(-EINVAL,
				     "checkpoint shape: the weights of dim %d, hidden_dim %d, %d layers, vocab %d do not fit in memory arithmetic",
				     c->dim, c->hidden_dim, c->n_layers, c->vocab_size);
	return 0;
}

int llm_config_from_header(const int32_t header[7], struct llm_config *config)
{
	struct llm_config c = {
		.dim = header[0],
		.hidden_dim = header[1],
		.n_layers = header[2],
		.n_heads = header[3],
		.n_kv_heads = header[4],
		.seq_len = header[6],
	};
	int32_t vocab = header[5];

	if (vocab == 0 || vocab == INT32_MIN)
		return llm_set_error(-EINVAL, "checkpoint header: vocab_size %d is invalid",
				     (int)vocab);
	/* run.c: a negative vocab_size marks a separate classifier. */
	c.shared_classifier = vocab > 0;
	c.vocab_size = vocab > 0 ? vocab : -vocab;
	if (llm_config_init(&c))
		return -EINVAL;
	*config = c;
	return 0;
}

void llm_config_to_header(const struct llm_config *c, int32_t header[7])
{
	header[0] = c->dim;
	header[1] = c->hidden_dim;
	header[2] = c->n_layers;
	header[3] = c->n_heads;
	header[4] = c->n_kv_heads;
	header[5] = c->shared_classifier ? c->vocab_size : -c->vocab_size;
	header[6] = c->seq_len;
}

int llm_checkpoint_file_size(const struct llm_config *config, size_t *size)
{
	size_t counts[LLM_T_COUNT], total, bytes;

	if (llm_tensor_counts(config, counts, &total) ||
	    llm_mul_overflow(total, sizeof(float), &bytes) ||
	    llm_add_overflow(bytes, LLM_CHECKPOINT_HEADER_SIZE, &bytes))
		return llm_set_error(-EOVERFLOW, "checkpoint size does not fit in size_t");
	*size = bytes;
	return 0;
}

int llm_checkpoint_parse(const void *data, size_t size, struct llm_checkpoint *ckpt)
{
	struct llm_config config;
	struct llm_weights *w = &ckpt->weights;
	size_t counts[LLM_T_COUNT], total = 0, expected = 0, other = 0;
	const float *tensor[LLM_T_COUNT];
	const float *p;
	int32_t header[7];
	int i;

	if (size < LLM_CHECKPOINT_HEADER_SIZE)
		return llm_set_error(-EINVAL,
				     "checkpoint is %zu bytes, shorter than its %d-byte header",
				     size, LLM_CHECKPOINT_HEADER_SIZE);
	if ((uintptr_t)data % sizeof(float))
		return llm_set_error(-EINVAL, "checkpoint data is not 4-byte aligned");
	memcpy(header, data, sizeof(header));
	if (llm_config_from_header(header, &config))
		return -EINVAL;
	/* llm_config_init() proved these cannot overflow. */
	llm_tensor_counts(&config, counts, &total);
	llm_checkpoint_file_size(&config, &expected);
	if (size != expected) {
		/*
		 * A classifier flag with the wrong sign is a common export
		 * mistake; say what size the other choice would have had.
		 */
		struct llm_config flipped = config;

		flipped.shared_classifier = !config.shared_classifier;
		llm_checkpoint_file_size(&flipped, &other);
		return llm_set_error(-EINVAL,
				     "checkpoint is %zu bytes, but its header (dim %d, hidden_dim %d, %d layers, %d heads, %d kv heads, vocab %d, seq_len %d, %s classifier) needs exactly %zu%s",
				     size, config.dim, config.hidden_dim, config.n_layers,
				     config.n_heads, config.n_kv_heads, config.vocab_size,
				     config.seq_len,
				     config.shared_classifier ? "shared" : "separate", expected,
				     size == other ? " (its size fits the opposite sign of vocab_size)"
						   : size < expected ? " (truncated?)" : "");
	}

	p = (const float *)((const char *)data + LLM_CHECKPOINT_HEADER_SIZE);
	for (i = 0; i < LLM_T_COUNT; i++) {
		tensor[i] = p;
		p += counts[i];
	}
	w->token_embedding = tensor[LLM_T_TOKEN_EMBEDDING];
	w->rms_att = tensor[LLM_T_RMS_ATT];
	w->wq = tensor[LLM_T_WQ];
	w->wk = tensor[LLM_T_WK];
	w->wv = tensor[LLM_T_WV];
	w->wo = tensor[LLM_T_WO];
	w->rms_ffn = tensor[LLM_T_RMS_FFN];
	w->w1 = tensor[LLM_T_W1];
	w->w2 = tensor[LLM_T_W2];
	w->w3 = tensor[LLM_T_W3];
	w->rms_final = tensor[LLM_T_RMS_FINAL];
	w->wcls = config.shared_classifier ? w->token_embedding : tensor[LLM_T_WCLS];
	/* run.c's format is llama's: no biases, plain RoPE */
	w->bq = w->bk = w->bv = NULL;
	ckpt->rope_freqs = NULL;
	ckpt->reordered = NULL;

	ckpt->config = config;
	ckpt->data = data;
	ckpt->size = size;
	ckpt->mapped = false;
	ckpt->owned = NULL;
	ckpt->gguf = NULL;
	return 0;
}

int llm_checkpoint_open(const char *path, struct llm_checkpoint **ckpt_out)
{
	return llm_checkpoint_open_flags(path, 0, ckpt_out);
}

int llm_checkpoint_open_flags(const char *path, unsigned int flags,
			      struct llm_checkpoint **ckpt_out)
{
	struct llm_checkpoint *ckpt;
	struct stat st;
	void *map;
	int fd, ret;

	*ckpt_out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return llm_set_error(ret, "cannot open checkpoint %s: %s", path, strerror(-ret));
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		close(fd);
		return llm_set_error(ret, "cannot stat checkpoint %s: %s", path, strerror(-ret));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return llm_set_error(-EINVAL, "checkpoint %s is not a regular file", path);
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		close(fd);
		return llm_set_error(-EFBIG, "checkpoint %s is too large to map", path);
	}
	{
		char magic[4];

		/* A GGUF file has its own loader (gguf-model.c). */
		if (pread(fd, magic, 4, 0) == 4 && gguf_is_gguf(magic, 4)) {
			close(fd);
			return llm_checkpoint_open_gguf_flags(path, flags, ckpt_out);
		}
	}
	/* mmap() refuses length 0; report a short file the same way as parse. */
	if (st.st_size < LLM_CHECKPOINT_HEADER_SIZE) {
		close(fd);
		return llm_set_error(-EINVAL,
				     "checkpoint %s is %jd bytes, shorter than its %d-byte header",
				     path, (intmax_t)st.st_size, LLM_CHECKPOINT_HEADER_SIZE);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	ret = -errno;
	/* The mapping keeps the file alive. */
	close(fd);
	if (map == MAP_FAILED)
		return llm_set_error(ret, "cannot map checkpoint %s: %s", path, strerror(-ret));

	ckpt = calloc(1, sizeof(*ckpt));
	if (!ckpt) {
		munmap(map, (size_t)st.st_size);
		return llm_set_error(-ENOMEM, "out of memory loading checkpoint %s", path);
	}
	ret = llm_checkpoint_parse(map, (size_t)st.st_size, ckpt);
	if (ret) {
		/* Keep parse's detail, naming the file. */
		char detail[400];

		snprintf(detail, sizeof(detail), "%s", llm_last_error_message());
		llm_set_error(ret, "%s: %s", path, detail);
		munmap(map, (size_t)st.st_size);
		free(ckpt);
		return ret;
	}
	ckpt->mapped = true;
	*ckpt_out = ckpt;
	return 0;
}

bool llm_rope_freqs(const struct llm_config *c, const float *factors, float *out)
{
	const double two_pi = 6.283185307179586;
	int j, half = c->head_size / 2;
	bool scaled = false;

	for (j = 0; j < half; j++) {
		/* the chip's and run.c's expression, bit for bit */
		float base = 1.0f / powf(c->rope_theta, (float)(2 * j) / (float)c->head_size);
		float f = base;

		if (factors)
			f = f / factors[j];
		if (c->rope_scaling == LLM_ROPE_SCALING_LINEAR) {
			f = f / c->rope_factor;
		} else if (c->rope_scaling == LLM_ROPE_SCALING_LLAMA3 && !factors) {
			double orig = c->rope_orig_ctx, low = c->rope_low_freq_factor;
			double high = c->rope_high_freq_factor, wavelen = two_pi / f;

			if (wavelen > orig / low) {
				f = (float)((double)f / c->rope_factor);
			} else if (wavelen >= orig / high) {
				double smooth = (orig / wavelen - low) / (high - low);

				f = (float)((1.0 - smooth) * f / c->rope_factor + smooth * f);
			}
		}
		out[j] = f;
		scaled |= memcmp(&f, &base, sizeof(f)) != 0;
	}
	return scaled;
}

void llm_checkpoint_close(struct llm_checkpoint *ckpt)
{
	if (!ckpt)
		return;
	free(ckpt->rope_freqs);
	free(ckpt->reordered);
	if (ckpt->gguf)
		gguf_close(ckpt->gguf);	/* owns the mapping */
	else if (ckpt->mapped)
		munmap((void *)ckpt->data, ckpt->size);
	free(ckpt->owned);
	free(ckpt);
}

int llm_checkpoint_write(const char *path, const struct llm_checkpoint *ckpt)
{
	const struct llm_config *c = &ckpt->config;
	const struct llm_weights *w = &ckpt->weights;
	size_t counts[LLM_T_COUNT], total = 0;
	const float *src[LLM_T_COUNT] = {
		[LLM_T_TOKEN_EMBEDDING] = w->token_embedding, [LLM_T_RMS_ATT] = w->rms_att,
		[LLM_T_WQ] = w->wq, [LLM_T_WK] = w->wk, [LLM_T_WV] = w->wv, [LLM_T_WO] = w->wo,
		[LLM_T_RMS_FFN] = w->rms_ffn, [LLM_T_W1] = w->w1, [LLM_T_W2] = w->w2,
		[LLM_T_W3] = w->w3, [LLM_T_RMS_FINAL] = w->rms_final, [LLM_T_WCLS] = w->wcls,
	};
	static const float zeros[1024];
	int32_t header[7];
	FILE *f;
	int ret = 0, i;

	if (c->rope_theta != LLM_ROPE_THETA_DEFAULT || c->rms_eps != LLM_RMS_EPS_DEFAULT)
		return llm_set_error(-EINVAL,
				     "a llama2.c checkpoint cannot hold RoPE base %g and RMS epsilon %g (run.c uses %g and %g)",
				     (double)c->rope_theta, (double)c->rms_eps,
				     (double)LLM_ROPE_THETA_DEFAULT, (double)LLM_RMS_EPS_DEFAULT);
	if (c->arch != LLM_ARCH_LLAMA || ckpt->rope_freqs)
		return llm_set_error(-EINVAL,
				     "a llama2.c checkpoint cannot hold %s (run.c's llama only)",
				     c->arch != LLM_ARCH_LLAMA ? "qwen2's biases" : "scaled RoPE");
	if (!w->token_embedding)
		return llm_set_error(-EINVAL, "the checkpoint has no f32 weights to write");
	llm_tensor_counts(c, counts, &total);
	f = fopen(path, "wb");
	if (!f) {
		ret = -errno;
		return llm_set_error(ret, "cannot create %s: %s", path, strerror(-ret));
	}
	errno = 0;
	llm_config_to_header(c, header);
	if (fwrite(header, sizeof(header), 1, f) != 1)
		ret = -EIO;
	for (i = 0; i < LLM_T_COUNT && !ret; i++) {
		size_t left = counts[i];

		if (src[i]) {
			if (fwrite(src[i], sizeof(float), left, f) != left)
				ret = -EIO;
			continue;
		}
		while (left && !ret) {	/* the RoPE tables */
			size_t n = left < 1024 ? left : 1024;

			if (fwrite(zeros, sizeof(float), n, f) != n)
				ret = -EIO;
			left -= n;
		}
	}
	if (ret) {
		ret = errno ? -errno : -EIO;
		fclose(f);
	} else if (fclose(f)) {
		ret = -errno;
	}
	if (ret) {
		unlink(path);
		return llm_set_error(ret, "cannot write %s: %s", path, strerror(-ret));
	}
	return 0;
}

/*
 * splitmix64: a small generator with a well-mixed output for any seed
 * (0 included); integer-only, so checkpoints are identical everywhere.
 */
static uint64_t llm_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 24 bits, exact in f32. */
static float llm_uniform(uint64_t *state)
{
	return (float)(llm_splitmix64(state) >> 40) * (1.0f / 16777216.0f);
}

/*
 * Mean 0, variance 1, roughly normal: the sum of four uniforms has mean 2
 * and variance 4/12, hence the sqrt(3) scale. Cheaper and more portable
 * than Box-Muller, whose libm calls may round differently elsewhere.
 */
static float llm_normalish(uint64_t *state)
{
	float sum = llm_uniform(state) + llm_uniform(state) + llm_uniform(state) +
		    llm_uniform(state);

	return (sum - 2.0f) * 1.7320508f;
}

#define LLM_RANDOM_WEIGHT_STD	0.02f
#define LLM_RANDOM_NORM_STD	0.1f
#define LLM_WRITE_CHUNK		16384

/* The next @n values of a tensor of @kind. */
static void llm_random_fill(enum llm_tensor_kind kind, uint64_t *state, float *dst, size_t n)
{
	size_t j;

	for (j = 0; j < n; j++) {
		switch (kind) {
		case LLM_KIND_MATRIX:
			dst[j] = LLM_RANDOM_WEIGHT_STD * llm_normalish(state);
			break;
		case LLM_KIND_NORM:
			dst[j] = 1.0f + LLM_RANDOM_NORM_STD * llm_normalish(state);
			break;
		case LLM_KIND_ZERO:
			dst[j] = 0.0f;
			break;
		}
	}
}

/*
 * Memory for a random model's f32 image of @bytes. One that would take more
 * than half of the machine's memory (an 8B shape is 32 GB) lives in an
 * unlinked file in $TMPDIR mapped shared, so that the kernel can write it
 * out instead of failing: generating it and writing a quantised GGUF file
 * from it both go through it in order. *@mapped says which.
 */
static void *llm_image_alloc(size_t bytes, bool *mapped)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	void *img;
	int fd;

	*mapped = false;
	if (pages <= 0 || page <= 0 || bytes / 2 < (size_t)pages / 4 * (size_t)page)
		return malloc(bytes);
	snprintf(path, sizeof(path), "%s/jalrt-model.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	unlink(path);
	if (ftruncate(fd, (off_t)bytes)) {
		close(fd);
		return NULL;
	}
	img = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return NULL;
	*mapped = true;
	return img;
}

int llm_checkpoint_random(const struct llm_config *config, uint64_t seed,
			  struct llm_checkpoint **ckpt_out)
{
	size_t counts[LLM_T_COUNT], total = 0, size = 0, bias = 0;
	struct llm_config c = *config;
	struct llm_checkpoint *ckpt;
	uint64_t state = seed;
	int32_t header[7];
	bool mapped;
	float *w;
	void *img;
	int i, ret;

	*ckpt_out = NULL;
	if (llm_config_init(&c))
		return -EINVAL;
	llm_tensor_counts(&c, counts, &total);
	llm_checkpoint_file_size(&c, &size);
	/* qwen2's biases after the file image: the format has no room for them */
	if (c.arch == LLM_ARCH_QWEN2)
		bias = (size_t)c.n_layers * ((size_t)c.dim + 2 * (size_t)c.kv_dim);
	img = llm_image_alloc(size + bias * sizeof(float), &mapped);
	ckpt = calloc(1, sizeof(*ckpt));
	if (!img || !ckpt) {
		if (mapped)
			munmap(img, size + bias * sizeof(float));
		else
			free(img);
		free(ckpt);
		return llm_set_error(-ENOMEM, "out of memory for a random model of %zu bytes", size);
	}
	llm_config_to_header(&c, header);
	memcpy(img, header, sizeof(header));
	w = (float *)((char *)img + LLM_CHECKPOINT_HEADER_SIZE);
	for (i = 0; i < LLM_T_COUNT; i++) {
		llm_random_fill(llm_tensor_kinds[i], &state, w, counts[i]);
		w += counts[i];
	}
	ret = llm_checkpoint_parse(img, size, ckpt);
	if (ret) {
		if (mapped)
			munmap(img, size + bias * sizeof(float));
		else
			free(img);
		free(ckpt);
		return ret;
	}
	/* the header has no room for these; keep the caller's */
	ckpt->config = c;
	if (bias) {
		float *b = (float *)((char *)img + size);

		/*
		 * Drawn after the file's weights, so a model's llama part is the
		 * same with or without them; large enough to move every score.
		 */
		for (i = 0; i < (int)bias; i++)
			b[i] = llm_normalish(&state) * 0.5f;
		ckpt->weights.bq = b;
		ckpt->weights.bk = b + (size_t)c.n_layers * c.dim;
		ckpt->weights.bv = ckpt->weights.bk + (size_t)c.n_layers * c.kv_dim;
	}
	if (c.rope_scaling != LLM_ROPE_SCALING_NONE) {
		ckpt->rope_freqs = malloc((size_t)c.head_size / 2 * sizeof(float));
		if (!ckpt->rope_freqs) {
			if (mapped)
				munmap(img, size + bias * sizeof(float));
			else
				free(img);
			free(ckpt);
			return llm_set_error(-ENOMEM, "out of memory");
		}
		if (!llm_rope_freqs(&c, NULL, ckpt->rope_freqs)) {
			free(ckpt->rope_freqs);
			ckpt->rope_freqs = NULL;
		}
	}
	if (mapped) {
		/* llm_checkpoint_close() unmaps data/size, the biases included */
		ckpt->mapped = true;
		ckpt->size = size + bias * sizeof(float);
	} else {
		ckpt->owned = img;
	}
	*ckpt_out = ckpt;
	return 0;
}

int llm_checkpoint_write_random(const char *path, const struct llm_config *config,
				uint64_t seed)
{
	size_t counts[LLM_T_COUNT], total;
	struct llm_config c = *config;
	uint64_t state = seed;
	int32_t header[7];
	float *chunk;
	FILE *f;
	int ret = 0, i;

	if (llm_config_init(&c))
		return -EINVAL;
	llm_tensor_counts(&c, counts, &total);
	chunk = malloc(LLM_WRITE_CHUNK * sizeof(float));
	if (!chunk)
		return llm_set_error(-ENOMEM, "out of memory writing %s", path);
	f = fopen(path, "wb");
	if (!f) {
		ret = -errno;
		free(chunk);
		return llm_set_error(ret, "cannot create %s: %s", path, strerror(-ret));
	}
	/* So that a failed fwrite's errno is not confused with an older one. */
	errno = 0;
	llm_config_to_header(&c, header);
	if (fwrite(header, sizeof(header), 1, f) != 1)
		ret = -EIO;

	for (i = 0; i < LLM_T_COUNT && !ret; i++) {
		size_t left = counts[i];

		while (left && !ret) {
			size_t n = left < LLM_WRITE_CHUNK ? left : LLM_WRITE_CHUNK;

			llm_random_fill(llm_tensor_kinds[i], &state, chunk, n);
			if (fwrite(chunk, sizeof(float), n, f) != n)
				ret = -EIO;
			left -= n;
		}
	}
	if (ret) {
		/* fwrite sets errno on the failures that matter (ENOSPC, EIO). */
		ret = errno ? -errno : -EIO;
		fclose(f);
	} else if (fclose(f)) {
		ret = -errno;
	}
	free(chunk);
	if (ret) {
		unlink(path);
		return llm_set_error(ret, "cannot write %s: %s", path, strerror(-ret));
	}
	return 0;
}
