// SPDX-License-Identifier: MIT
/*
 * Host references of the chip's ISA 1.1 instructions; see chip_ref.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chip_ref.h"
#include "jalapeno_hw.h"
#include "jalrt_graph.h"
#include "reference.h"

static float tree(const float l[8])
{
	return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

float chip_dot(const float *a, const float *b, size_t n)
{
	float l[8] = { 0 };
	size_t k;

	for (k = 0; k < n; k++)
		l[k % 8] += a[k] * b[k];
	return tree(l);
}

void ref_weight_row(unsigned int dtype, float *row, const void *data, const void *aux,
		    size_t r, size_t cols, size_t group)
{
	size_t k;

	switch (dtype) {
	case JAL_DTYPE_F32:
		memcpy(row, (const float *)data + r * cols, cols * 4);
		break;
	case JAL_DTYPE_BF16:
		for (k = 0; k < cols; k++)
			row[k] = jalrt_bf16_to_f32(((const uint16_t *)data)[r * cols + k]);
		break;
	case JAL_DTYPE_Q8:
		for (k = 0; k < cols; k++)
			row[k] = (float)((const int8_t *)data)[r * cols + k] *
				 ((const float *)aux)[(r * cols + k) / group];
		break;
	default:
		jalrt_dequantize(JALRT_DTYPE_S24, row, (const uint16_t *)data + r * cols / 2,
				 (const uint8_t *)aux + r * cols / 4, 1, cols, 0);
		break;
	}
}

void ref_matvec(unsigned int dtype, float *d, const void *data, const void *aux, size_t rows,
		size_t cols, size_t group, const float *x)
{
	float *row = malloc(cols * sizeof(float) + 1);
	size_t m;

	/* Every dtype: the row decoded to f32 (S24 densified), then the dot. */
	for (m = 0; m < rows; m++) {
		ref_weight_row(dtype, row, data, aux, m, cols, group);
		d[m] = chip_dot(row, x, cols);
	}
	free(row);
}

/*
 * Written from the ISA text, not with the runtime's quantiser, so that
 * the runtime, the reference and the chip are checked against a third
 * reading of it.
 */
void ref_matvec_q8x(float *d, const int8_t *w, const float *scales, size_t rows, size_t cols,
		    size_t group, const float *x)
{
	size_t groups = cols / group, m, g, i;
	int8_t *xq = malloc(cols + 1);
	float *xs = malloc(groups * sizeof(float) + 1);

	for (g = 0; g < groups; g++) {
		float amax = 0.0f;

		for (i = g * group; i < (g + 1) * group; i++)
			if (fabsf(x[i]) > amax)
				amax = fabsf(x[i]);
		xs[g] = amax / 127.0f;
		for (i = g * group; i < (g + 1) * group; i++) {
			float v;

			if (xs[g] == 0.0f) {
				xq[i] = 0;
				continue;
			}
			v = roundf(x[i] / xs[g]);
			if (isnan(v))
				xq[i] = 0;
			else
				xq[i] = (int8_t)fminf(fmaxf(v, -127.0f), 127.0f);
		}
	}
	for (m = 0; m < rows; m++) {
		float l[8] = { 0 };

		for (g = 0; g < groups; g++) {
			int32_t acc = 0;

			for (i = g * group; i < (g + 1) * group; i++)
				acc += (int32_t)xq[i] * w[m * cols + i];
			l[g % 8] += ((float)acc * scales[m * groups + g]) * xs[g];
		}
		d[m] = tree(l);
	}
	free(xq);
	free(xs);
}

void ref_rmsnorm(float *d, const float *a, const float *w, size_t n, float eps)
{
	/* the sum of squares is a dot product in the chip's order */
	float ss = chip_dot(a, a, n);
	size_t j;

	ss /= (float)n;
	ss += eps;
	ss = 1.0f / sqrtf(ss);
	for (j = 0; j < n; j++)
		d[j] = w[j] * (ss * a[j]);
}

void ref_softmax(float *d, const float *a, size_t n)
{
	memmove(d, a, n * sizeof(float));
	llm_softmax(d, (int)n);
}

void ref_rope(float *d, const float *a, size_t n, size_t head_size, uint32_t pos, float theta)
{
	size_t i;

	for (i = 0; i < n; i += 2) {
		size_t j = i % head_size;
		float freq = 1.0f / powf(theta, j / (float)head_size);
		float val = pos * freq, fcr = cosf(val), fci = sinf(val);
		float v0 = a[i], v1 = a[i + 1];

		d[i] = v0 * fcr - v1 * fci;
		d[i + 1] = v0 * fci + v1 * fcr;
	}
}

void ref_silu_mul(float *d, const float *a, const float *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		float val = a[i];

		val *= 1.0f / (1.0f + expf(-val));
		val *= b[i];
		d[i] = val;
	}
}

void ref_attention(float *out, const float *q, const float *k, const float *v, size_t heads,
		   size_t head_size, size_t kv_heads, size_t positions, size_t kpitch,
		   size_t vpitch)
{
	float *att = malloc(positions * sizeof(float)), scale = sqrtf((float)head_size);
	size_t h, t, i, group = heads / kv_heads;

	for (h = 0; h < heads; h++) {
		size_t g = h / group;
		float *o = out + h * head_size;

		for (t = 0; t < positions; t++)
			att[t] = chip_dot(q + h * head_size, k + t * kpitch + g * head_size,
					  head_size) / scale;
		llm_softmax(att, (int)positions);
		memset(o, 0, head_size * sizeof(float));
		for (t = 0; t < positions; t++)
			for (i = 0; i < head_size; i++)
				o[i] += att[t] * v[t * vpitch + g * head_size + i];
	}
	free(att);
}

uint32_t ref_argmax(const float *a, size_t n)
{
	return (uint32_t)llm_sample_argmax(a, (int)n);
}

uint32_t ref_sample(const float *logits, size_t n, float temperature, float topp,
		    uint64_t *state)
{
	struct llm_sampler s;
	float *copy = malloc(n * sizeof(float));
	uint32_t token;

	memcpy(copy, logits, n * sizeof(float));
	llm_sampler_init(&s, (int)n, temperature, topp < 0 || topp > 1 ? 0.9f : topp,
			 *state ? *state : 1);
	s.topp = topp;
	token = (uint32_t)llm_sampler_sample(&s, copy);
	*state = s.rng_state;
	llm_sampler_fini(&s);
	free(copy);
	return token;
}
