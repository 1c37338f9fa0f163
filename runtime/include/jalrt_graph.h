/* SPDX-License-Identifier: MIT */
/*
 * libjalrt graph API: a small kernel compiler on top of the kernel builder.
 *
 *   graph    - a set of tensors and the device memory holding them. Tensors
 *              are declared first (shape, dtype, placement, optional initial
 *              data); jalrt_graph_allocate() then lays them out in one arena
 *              per placement, places the device arena in device memory
 *              (VRAM) when the chip has some and host memory otherwise, and
 *              uploads the initial data, converting f32 sources to the
 *              tensor's dtype (bf16, int8 with per-group scales, 2:4 sparse)
 *              through a host staging buffer and COPY jobs.
 *   program  - one chip kernel over a graph's tensors: ops name tensors
 *              (with an optional element offset and a run-time index), the
 *              program loads their device addresses into registers as LI
 *              immediates and emits the instructions through the kernel
 *              builder, which validates each one. Scalars (loop counters,
 *              token ids, ...) are registers; control flow uses the
 *              builder's labels and branches directly.
 *
 * Nothing here is specific to one model: runtime/src/llm.c lowers a
 * llama2.c transformer with it, and tests build single-op programs.
 *
 * Conventions are libjalrt's (jalrt.h): 0 or a negative errno, a message
 * in jalrt_last_error_message(), NULL-tolerant destroy functions. A graph
 * and its programs are used by one thread at a time.
 */
#ifndef JALRT_GRAPH_H
#define JALRT_GRAPH_H

#include "jalrt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct jalrt_graph;
struct jalrt_tensor;
struct jalrt_program;

/* ------------------------------------------------------------------ */
/* Weight formats                                                       */
/* ------------------------------------------------------------------ */

/*
 * Element types of tensors. The first five are the chip's weight dtypes
 * (enum jal_dtype); activations are F32; U32/U64 are integer I/O tensors
 * (token ids, counters) that only scalar loads and stores touch.
 *
 * JALRT_DTYPE_Q4 is 4-bit weights in groups of 32 columns with one f32
 * scale each (GGUF Q4_0's layout, the chip's JAL_DTYPE_Q4): only matrix
 * ops take it, and they always quantise x to int8 per group as well
 * (the chip has no other Q4 product). See jalrt_quantize_q4().
 */
enum jalrt_dtype {
	JALRT_DTYPE_F32 = JAL_DTYPE_F32,
	JALRT_DTYPE_BF16 = JAL_DTYPE_BF16,
	JALRT_DTYPE_Q8 = JAL_DTYPE_Q8,
	JALRT_DTYPE_S24 = JAL_DTYPE_S24,
	JALRT_DTYPE_Q4 = JAL_DTYPE_Q4,
	JALRT_DTYPE_U32 = 16,
	JALRT_DTYPE_U64 = 17,
};

/** jalrt_dtype_str() - "f32", "bf16", "q8", "s24", "q4", "u32", "u64" or "?" */
JALRT_API const char *jalrt_dtype_str(enum jalrt_dtype dtype);

/** jalrt_f32_to_bf16() - round to nearest even (NaN stays a quiet NaN) */
JALRT_API uint16_t jalrt_f32_to_bf16(float f);
/** jalrt_bf16_to_f32() - exact */
JALRT_API float jalrt_bf16_to_f32(uint16_t h);

/** jalrt_convert_bf16() - @n floats to bfloat16. Return: 0 or -EINVAL. */
JALRT_API int jalrt_convert_bf16(uint16_t *dst, const float *src, size_t n);

/**
 * jalrt_quantize_q8() - symmetric int8 quantisation with per-group scales
 * @q: out: @rows * @cols int8 values, row-major.
 * @scales: out: @rows * @cols / @group f32 scales, row-major.
 * @src: @rows x @cols floats.
 * @rows: rows.
 * @cols: columns, a multiple of @group.
 * @group: elements per scale, > 0.
 *
 * As llama2.c's runq.c: per group scale = max|x| / 127 and q = round(x /
 * scale) (0 for an all-zero group), so value = q * scale and the largest
 * magnitude of each group is exact up to f32 rounding.
 * Return: 0 or -EINVAL (bad sizes, NULL pointers).
 */
JALRT_API int jalrt_quantize_q8(int8_t *q, float *scales, const float *src, size_t rows,
				size_t cols, size_t group);

/**
 * jalrt_sparsify_s24() - 2:4 structured sparsity by magnitude pruning
 * @values: out: @rows * @cols / 2 bf16 values, row-major.
 * @index: out: @rows * @cols / 4 bytes, row-major.
 * @src: @rows x @cols floats.
 * @rows: rows.
 * @cols: columns, a multiple of 4.
 *
 * Of every 4 consecutive elements of a row the 2 of largest magnitude are
 * kept (the lower column wins a tie), in column order, as bf16; the index
 * byte of the group holds their column offsets, the first in bits 1..0 and
 * the second in bits 3..2 (the chip's JAL_DTYPE_S24 layout).
 * Return: 0 or -EINVAL.
 */
JALRT_API int jalrt_sparsify_s24(uint16_t *values, uint8_t *index, const float *src,
				 size_t rows, size_t cols);

/**
 * jalrt_quantize_q4() - 4-bit quantisation in groups of 32 (JALRT_DTYPE_Q4)
 * @packed: out: @rows * @cols / 2 bytes, the chip's Q4 layout: per group
 *	16 bytes, byte j holding column j in bits 3..0 and column j + 16 in
 *	bits 7..4, each as w + 8 (GGUF Q4_0's nibble order).
 * @scales: out: @rows * @cols / 32 f32 scales, row-major.
 * @src: @rows x @cols floats, row-major.
 * @rows: rows.
 * @cols: columns, a multiple of 32.
 *
 * The rule (GGUF Q4_0's choice of scale, with rounding to nearest): per
 * group, m = the value of largest magnitude (the first; a NaN never
 * wins), scale = m / -8, w = roundf(x / scale) (half away from zero)
 * clamped to -8..7, 0 where the scale is 0 or x / scale is NaN. So m is
 * exact up to f32 rounding (w = -8) and the value is w * scale.
 * Return: 0 or -EINVAL.
 */
JALRT_API int jalrt_quantize_q4(uint8_t *packed, float *scales, const float *src, size_t rows,
				size_t cols);

/**
 * jalrt_dequantize() - the f32 values a weight tensor in @dtype represents
 * @dtype: JALRT_DTYPE_F32, _BF16, _Q8, _S24 or _Q4.
 * @dst: out: @rows x @cols floats.
 * @data: values as produced above (f32, bf16, int8, S24 bf16 values, or
 *	Q4 nibbles).
 * @aux: Q8 and Q4 scales or S24 index bytes; NULL otherwise.
 * @rows: rows.
 * @cols: columns.
 * @group: Q8 group size, else ignored.
 *
 * For host references of what the chip computes with converted weights.
 * Return: 0 or -EINVAL.
 */
JALRT_API int jalrt_dequantize(enum jalrt_dtype dtype, float *dst, const void *data,
			       const void *aux, size_t rows, size_t cols, size_t group);

/**
 * jalrt_q8_group_for() - the group size used for a row of @cols
 *	elements when @preferred is asked for: the largest power of two
 *	<= @preferred that divides @cols (1 at worst).
 */
JALRT_API uint32_t jalrt_q8_group_for(uint32_t cols, uint32_t preferred);

/* ------------------------------------------------------------------ */
/* Graphs and tensors                                                   */
/* ------------------------------------------------------------------ */

/* Graph flags. */
/* Keep the device arena in host memory even if the chip has VRAM. */
#define JALRT_GRAPH_HOST_MEMORY		(1u << 0)
#define JALRT_GRAPH_FLAGS		JALRT_GRAPH_HOST_MEMORY

/**
 * jalrt_graph_create() - start a graph
 * @ctx: context used for uploads and tensor reads/writes (kept alive by
 *	the graph); programs may run on any context of the same device.
 * @flags: JALRT_GRAPH_*.
 * @graph: out: the graph.
 *
 * Return: 0, -EINVAL or -ENOMEM.
 */
JALRT_API int jalrt_graph_create(struct jalrt_context *ctx, uint32_t flags,
				 struct jalrt_graph **graph);

/** jalrt_graph_destroy() - free a graph, its tensors and memory (or NULL) */
JALRT_API int jalrt_graph_destroy(struct jalrt_graph *graph);

/* Tensor flags. */
/* Host-visible: jalrt_tensor_host() maps it (I/O buffers, counters). */
#define JALRT_TENSOR_HOST		(1u << 0)
#define JALRT_TENSOR_FLAGS		JALRT_TENSOR_HOST

#define JALRT_TENSOR_MAX_DIMS		4

/**
 * struct jalrt_tensor_desc - what a tensor is
 * @name: for messages (copied; may be NULL).
 * @dtype: element type.
 * @ndim: 1..JALRT_TENSOR_MAX_DIMS.
 * @dims: sizes, outermost first, each >= 1. Matrix ops see a tensor as
 *	rows = product of all but the last dim, cols = the last dim.
 * @group: JALRT_DTYPE_Q8: elements per scale, dividing the last dim;
 *	JALRT_DTYPE_Q4: 0 or 32 (always 32; the last dim a multiple of 32);
 *	0 otherwise.
 * @flags: JALRT_TENSOR_*.
 *
 * Storage: F32/U32 4 bytes, BF16 2, U64 8 per element; Q8 the int8 values
 * then the f32 scales (4-byte aligned); Q4 the nibbles (two per byte, see
 * jalrt_quantize_q4()) then the f32 scales (4-byte aligned); S24 the bf16
 * values then the index bytes. Every tensor starts 256-byte aligned.
 */
struct jalrt_tensor_desc {
	const char *name;
	enum jalrt_dtype dtype;
	unsigned int ndim;
	uint32_t dims[JALRT_TENSOR_MAX_DIMS];
	uint32_t group;
	uint32_t flags;
};

/**
 * jalrt_graph_tensor() - declare a tensor
 * @graph: graph, not yet allocated.
 * @desc: its description.
 * @tensor: out: the tensor, owned by the graph.
 *
 * Return: 0, -EINVAL (bad description, message says which field), -EBUSY
 * (the graph is already allocated), -E2BIG (over the chip's operand
 * limits) or -ENOMEM.
 */
JALRT_API int jalrt_graph_tensor(struct jalrt_graph *graph, const struct jalrt_tensor_desc *desc,
				 struct jalrt_tensor **tensor);

/**
 * jalrt_tensor_set_f32() - initial contents from f32 values
 * @tensor: a float tensor (F32, BF16, Q8 or S24), graph not yet allocated.
 * @src: elements-many floats in row-major order, converted to the
 *	tensor's dtype at jalrt_graph_allocate(); must stay valid until then.
 *
 * Tensors without initial contents start zeroed.
 * Return: 0, -EINVAL or -EBUSY.
 */
JALRT_API int jalrt_tensor_set_f32(struct jalrt_tensor *tensor, const float *src);

/**
 * jalrt_tensor_set_bytes() - initial contents as stored bytes
 * @tensor: any tensor, graph not yet allocated.
 * @data: jalrt_tensor_bytes() bytes in the storage layout; must stay
 *	valid until jalrt_graph_allocate().
 * @size: must equal jalrt_tensor_bytes().
 */
JALRT_API int jalrt_tensor_set_bytes(struct jalrt_tensor *tensor, const void *data,
				     uint64_t size);

/**
 * jalrt_graph_allocate() - lay out, allocate and upload
 * @graph: graph.
 *
 * Return: 0; -EBUSY if done already; the errno of a buffer allocation
 * (after falling back from device to host memory: the fallback is taken
 * when device memory is absent, unsupported by the driver or full) or of
 * an upload job.
 */
JALRT_API int jalrt_graph_allocate(struct jalrt_graph *graph);

/**
 * struct jalrt_graph_info - where a graph lives
 * @tensors: declared tensors.
 * @device_bytes: bytes of the device arenas (weights, activations, caches).
 * @host_bytes: bytes of the host-visible arena.
 * @in_vram: all the device arenas are in device memory.
 * @upload_bytes: bytes written at allocation.
 * @upload_ns: time allocation and upload took.
 * @vram_bytes: bytes of the device arenas that are in device memory (the
 *	first ones, as many as fit; the rest are in host memory).
 * @device_arenas: device arenas (BOs): tensors in declaration order, a
 *	new arena each 256 MiB, so that device memory can take part of a
 *	graph larger than it.
 */
struct jalrt_graph_info {
	uint32_t tensors;
	uint64_t device_bytes;
	uint64_t host_bytes;
	bool in_vram;
	uint64_t upload_bytes;
	uint64_t upload_ns;
	uint64_t vram_bytes;
	uint32_t device_arenas;
};

/** jalrt_graph_query() - fill @info. Return: 0 or -EINVAL. */
JALRT_API int jalrt_graph_query(const struct jalrt_graph *graph, struct jalrt_graph_info *info);

/** jalrt_tensor_elements() - accessor: element count (0 for NULL) */
JALRT_API uint64_t jalrt_tensor_elements(const struct jalrt_tensor *tensor);
/** jalrt_tensor_bytes() - accessor: storage bytes (0 for NULL) */
JALRT_API uint64_t jalrt_tensor_bytes(const struct jalrt_tensor *tensor);
/** jalrt_tensor_dtype() - accessor (F32 for NULL) */
JALRT_API enum jalrt_dtype jalrt_tensor_dtype(const struct jalrt_tensor *tensor);
/** jalrt_tensor_group() - accessor: Q8 group size, 0 otherwise */
JALRT_API uint32_t jalrt_tensor_group(const struct jalrt_tensor *tensor);
/** jalrt_tensor_va() - accessor: device VA once allocated, else 0 */
JALRT_API uint64_t jalrt_tensor_va(const struct jalrt_tensor *tensor);
/**
 * jalrt_tensor_host() - accessor: host pointer of a JALRT_TENSOR_HOST tensor
 *	once allocated (of any tensor when the device arena is in host
 *	memory), else NULL
 */
JALRT_API void *jalrt_tensor_host(const struct jalrt_tensor *tensor);

/**
 * jalrt_tensor_write() - write stored bytes into an allocated tensor
 * @tensor: tensor.
 * @offset: byte offset.
 * @src: data.
 * @size: bytes; the range must lie inside the tensor.
 *
 * Synchronous (through the graph's context for device memory).
 * Return: 0, -EINVAL, -ERANGE or a job error.
 */
JALRT_API int jalrt_tensor_write(struct jalrt_tensor *tensor, uint64_t offset, const void *src,
				 uint64_t size);
/** jalrt_tensor_read() - read stored bytes of an allocated tensor; as _write() */
JALRT_API int jalrt_tensor_read(struct jalrt_tensor *tensor, uint64_t offset, void *dst,
				uint64_t size);

/* ------------------------------------------------------------------ */
/* Programs                                                             */
/* ------------------------------------------------------------------ */

/**
 * struct jalrt_ref - an operand: a tensor, from an element on
 * @t: the tensor.
 * @offset: first element (0 for Q8/S24 tensors, which are used whole).
 * @index: -1, or a scalar register whose value, times @stride elements,
 *	is added at run time (e.g. the row of the current position).
 * @stride: elements per @index step; 0 means one row (the last dim).
 */
struct jalrt_ref {
	struct jalrt_tensor *t;
	uint64_t offset;
	int index;
	uint64_t stride;
};

#define JALRT_REF(tensor)	((struct jalrt_ref){ .t = (tensor), .index = -1 })
#define JALRT_REF_AT(tensor, off) \
	((struct jalrt_ref){ .t = (tensor), .offset = (off), .index = -1 })
/* Row R[scalar] of a tensor (rows = the last dim). */
#define JALRT_REF_ROW(tensor, scalar) \
	((struct jalrt_ref){ .t = (tensor), .index = (int)(scalar) })
/* Element R[scalar] (for scalar loads and stores). */
#define JALRT_REF_ELEM(tensor, scalar) \
	((struct jalrt_ref){ .t = (tensor), .index = (int)(scalar), .stride = 1 })

/*
 * Registers: the program's arguments arrive in r0..r(num_args-1);
 * jalrt_program_scalar() hands out the registers after them, up to
 * JALRT_PROGRAM_MAX_SCALAR; the ones above are the program's scratch
 * registers for operand addresses (clobbered by every op).
 */
#define JALRT_PROGRAM_MAX_SCALAR	25

/**
 * jalrt_program_create() - start a program over an allocated graph
 * @graph: graph (allocated: ops embed tensor addresses).
 * @num_args: dispatch argument words, in r0.. (<= JAL_MAX_ARGS).
 * @prog: out: the program.
 */
JALRT_API int jalrt_program_create(struct jalrt_graph *graph, unsigned int num_args,
				   struct jalrt_program **prog);
/** jalrt_program_destroy() - free a program and its kernel (or NULL) */
JALRT_API int jalrt_program_destroy(struct jalrt_program *prog);

/** jalrt_program_scalar() - reserve a register for a scalar value */
JALRT_API int jalrt_program_scalar(struct jalrt_program *prog, unsigned int *reg);

/**
 * jalrt_program_builder() - the program's kernel builder, for scalar
 *	arithmetic, labels and branches on scalar registers (jalrt_kb_li,
 *	_addi, _beq, _new_label, ...)
 */
JALRT_API struct jalrt_kernel_builder *jalrt_program_builder(struct jalrt_program *prog);

/*
 * Ops. Every operand is checked against its tensor when the op is added:
 * dtype (activations F32), and, for constant offsets, that the elements
 * lie inside the tensor (-ERANGE). An op with a run-time index is bounded
 * by the chip's MMU only. Like the builder, a program remembers its first
 * error and jalrt_program_finalize() reports it.
 */
JALRT_API int jalrt_op_vadd(struct jalrt_program *prog, struct jalrt_ref d, struct jalrt_ref a,
			    struct jalrt_ref b, uint32_t n);
JALRT_API int jalrt_op_vmul(struct jalrt_program *prog, struct jalrt_ref d, struct jalrt_ref a,
			    struct jalrt_ref b, uint32_t n);
JALRT_API int jalrt_op_vscale(struct jalrt_program *prog, struct jalrt_ref d, struct jalrt_ref a,
			      float scale, uint32_t n);
/** d (rows) = W x (cols), W any weight dtype; rows/cols from W's shape */
JALRT_API int jalrt_op_matvec(struct jalrt_program *prog, struct jalrt_ref d,
			      struct jalrt_tensor *w, struct jalrt_ref x);

/* Matrix-vector op flags. */
/*
 * Q8 weights: quantise x to int8 as well, per weight group exactly as
 * jalrt_quantize_q8() quantises weights, and sum each group's exact
 * integer dot product scaled by both scales (llama2.c runq.c's matmul, the
 * chip's JAL_INSN_F_Q8X): much less work per weight than decoding it to
 * f32, at the cost of x's quantisation error. The group must be a
 * multiple of 4 up to JAL_Q8X_MAX_GROUP and a row at most
 * JAL_Q8X_MAX_COLS columns.
 */
#define JALRT_MATVEC_QUANTIZE_X		(1u << 0)
#define JALRT_MATVEC_FLAGS		JALRT_MATVEC_QUANTIZE_X

/**
 * jalrt_op_matvec_flags() - jalrt_op_matvec() with options
 * @prog: the program.
 * @d: result, W's rows f32.
 * @w: weights.
 * @x: input, W's columns f32.
 * @flags: JALRT_MATVEC_*.
 *
 * Return: as jalrt_op_matvec(); -EINVAL (recorded like any op error) for
 * an unknown flag, or JALRT_MATVEC_QUANTIZE_X with weights that are not Q8
 * or whose group or row the chip cannot quantise x for.
 */
JALRT_API int jalrt_op_matvec_flags(struct jalrt_program *prog, struct jalrt_ref d,
				    struct jalrt_tensor *w, struct jalrt_ref x, uint32_t flags);

/** D[n] = W X[n] for n < @batch (rows of cols / rows floats, dense) */
JALRT_API int jalrt_op_matmul(struct jalrt_program *prog, struct jalrt_ref d,
			      struct jalrt_tensor *w, struct jalrt_ref x, uint32_t batch);
JALRT_API int jalrt_op_rmsnorm(struct jalrt_program *prog, struct jalrt_ref d, struct jalrt_ref a,
			       struct jalrt_ref weight, uint32_t n, float eps);
JALRT_API int jalrt_op_softmax(struct jalrt_program *prog, struct jalrt_ref d, struct jalrt_ref a,
			       uint32_t n);
JALRT_API int jalrt_op_rope(struct jalrt_program *prog, struct jalrt_ref d, struct jalrt_ref a,
			    uint32_t n, uint32_t head_size, struct jalrt_dim pos, float theta);
/* jalrt_op_rope() with @freqs' head_size / 2 rotation frequencies (jalrt_kb_rope_freqs()) */
JALRT_API int jalrt_op_rope_freqs(struct jalrt_program *prog, struct jalrt_ref d,
				  struct jalrt_ref a, struct jalrt_ref freqs, uint32_t n,
				  uint32_t head_size, struct jalrt_dim pos);
JALRT_API int jalrt_op_silu_mul(struct jalrt_program *prog, struct jalrt_ref d,
				struct jalrt_ref a, struct jalrt_ref b, uint32_t n);
/**
 * jalrt_op_attention() - out = attention of q over positions 0..positions-1
 *	of the caches, whose rows (the last dim) are the positions' K or V
 */
JALRT_API int jalrt_op_attention(struct jalrt_program *prog, struct jalrt_ref out,
				 struct jalrt_ref q, struct jalrt_ref k_cache,
				 struct jalrt_ref v_cache, uint32_t n_heads, uint32_t head_size,
				 uint32_t n_kv_heads, struct jalrt_dim positions);
/** d = row @row of @table (F32, BF16 or Q8) as f32 */
JALRT_API int jalrt_op_embed(struct jalrt_program *prog, struct jalrt_ref d,
			     struct jalrt_tensor *table, struct jalrt_dim row);
/** scalar @reg = argmax of @n floats */
JALRT_API int jalrt_op_argmax(struct jalrt_program *prog, unsigned int reg, struct jalrt_ref a,
			      uint32_t n);
/** scalar @reg = sample of @n logits, rng state in scalar @state */
JALRT_API int jalrt_op_sample(struct jalrt_program *prog, unsigned int reg, struct jalrt_ref a,
			      uint32_t n, unsigned int state, float temperature, float topp);
/* Scalar loads and stores of U32/U64 (or F32 bit patterns) elements. */
JALRT_API int jalrt_op_load(struct jalrt_program *prog, unsigned int reg, struct jalrt_ref src);
JALRT_API int jalrt_op_store(struct jalrt_program *prog, struct jalrt_ref dst, unsigned int reg);

/**
 * jalrt_program_finalize() - link the program and place its kernel on the
 *	device
 * Return: 0, the first error of an op, or the builder's error.
 */
JALRT_API int jalrt_program_finalize(struct jalrt_program *prog);

/** jalrt_program_kernel() - accessor: the kernel once finalized, else NULL */
JALRT_API struct jalrt_kernel *jalrt_program_kernel(const struct jalrt_program *prog);

/**
 * jalrt_program_record() - append a dispatch of the program to @cb
 * @prog: finalized program.
 * @cb: command buffer of the same device.
 * @args: num_args words.
 * @num_args: as given to jalrt_program_create().
 *
 * Also marks the graph's memory as used by the job.
 */
JALRT_API int jalrt_program_record(struct jalrt_program *prog, struct jalrt_cmdbuf *cb,
				   const uint64_t *args, unsigned int num_args);

/** jalrt_program_run() - run once on @ctx and wait (relative timeout) */
JALRT_API int jalrt_program_run(struct jalrt_program *prog, struct jalrt_context *ctx,
				const uint64_t *args, unsigned int num_args, int64_t timeout_ns);

/**
 * jalrt_graph_record_copy() - append a COPY of @size bytes between tensors
 *	(from @src + @src_off to @dst + @dst_off, byte offsets) to @cb
 */
JALRT_API int jalrt_graph_record_copy(struct jalrt_cmdbuf *cb, struct jalrt_tensor *dst,
				      uint64_t dst_off, struct jalrt_tensor *src,
				      uint64_t src_off, uint64_t size);

/**
 * jalrt_graph_record_timestamp() - append a TIMESTAMP command writing the
 *	device clock (ns) to @dst + @offset (a byte offset, 8-byte aligned)
 */
JALRT_API int jalrt_graph_record_timestamp(struct jalrt_cmdbuf *cb, struct jalrt_tensor *dst,
					   uint64_t offset);

#ifdef __cplusplus
}
#endif

#endif /* JALRT_GRAPH_H */
