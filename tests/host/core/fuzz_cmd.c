// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the chip model's command processor and instruction
 * decoder, fed command buffers and kernel code straight from the fuzzer.
 *
 * Input: a little-endian u16 n, then n bytes of command buffer (rounded
 * down to whole words, at most 64 KiB), then the rest as kernel code at
 * CODE_VA (whole 64-byte instructions) and, in its first page, the
 * argument block at ARGS_VA. The context maps DATA_VA read/write and
 * RO_VA read-only, so DISPATCH, COPY and FILL can reach real memory. Every
 * job must end with a defined status under a small step limit, and after
 * it a known-good FILL must still work; anything else aborts.
 *
 * Built with clang -fsanitize=fuzzer,address,undefined (make fuzz-cmd);
 * the seed corpus is fuzz-corpus/, written by fuzz_cmd_seeds.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jal_test.h"

#define FUZZ_DATA_SIZE	(1 * MiB)
#define FUZZ_RO_VA	(DATA_VA + 4 * MiB)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fake *fuzz_chip;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_chip = fake_new(64 * MiB);
	fake_default(fuzz_chip);
	map_range(fuzz_chip, CTX, DATA_VA, FUZZ_DATA_SIZE, RW, true);
	map_range(fuzz_chip, CTX, FUZZ_RO_VA, 64 * 1024, JAL_PTE_READ, false);
	/* Bounds every kernel: loops end with STEP_LIMIT. */
	wr(fuzz_chip, JAL_REG_STEP_LIMIT_LO, 1 << 16);
	wr(fuzz_chip, JAL_REG_STEP_LIMIT_HI, 0);
	return 0;
}

/* A FILL the chip must always be able to run afterwards. */
static void fuzz_check_alive(void)
{
	static struct cmdbuf cb;
	uint32_t word = 0;
	struct result r;

	cb.len = 0;
	cb_fill(&cb, DATA_VA + FUZZ_DATA_SIZE - 4096, 0x600dc0de, 4096);
	r = run_cb(fuzz_chip, CTX, &cb);
	host_read(fuzz_chip, CTX, DATA_VA + FUZZ_DATA_SIZE - 4, &word, 4);
	if (r.status != JAL_STATUS_OK || word != 0x600dc0de)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cmdbuf cb;
	size_t n, code;
	struct result r;

	if (size < 6)
		return 0;
	n = (size_t)data[0] | (size_t)data[1] << 8;
	if (n > size - 2)
		n = size - 2;
	n &= ~(size_t)3;
	if (!n)
		return 0;
	memcpy(cb.buf, data + 2, n);
	cb.len = n;

	code = (size - 2 - n) & ~(size_t)63;
	if (code > JAL_MAX_CODE_SIZE)
		code = JAL_MAX_CODE_SIZE;
	if (code) {
		host_write(fuzz_chip, CTX, CODE_VA, data + 2 + n, code);
		host_write(fuzz_chip, CTX, ARGS_VA, data + 2 + n,
			   code < 4096 ? code : 4096);
	}

	r = run_cb(fuzz_chip, CTX, &cb);
	if (r.status >= JAL_STATUS_COUNT)
		abort();	/* hung (run_cb timed out) or a status not in the ISA */
	fuzz_check_alive();
	return 0;
}
