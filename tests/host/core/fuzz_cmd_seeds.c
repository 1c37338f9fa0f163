// SPDX-License-Identifier: MIT
/*
 * Writes fuzz_cmd's seed corpus (one file per seed) into the directory
 * given: valid command buffers of every command and kernels of every
 * instruction class, in fuzz_cmd's input layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jal_test.h"

static void write_seed(const char *dir, const char *name, const struct cmdbuf *cb,
		       const struct jal_insn *code, unsigned int ninsn)
{
	char path[4096];
	uint8_t len[2] = { cb->len & 0xff, cb->len >> 8 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(len, 1, 2, f) != 2 || fwrite(cb->buf, 1, cb->len, f) != cb->len ||
	    (ninsn && fwrite(code, sizeof(*code), ninsn, f) != ninsn) || fclose(f)) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	static struct cmdbuf cb;
	struct jal_insn code[8];
	const char *dir = argc > 1 ? argv[1] : ".";
	uint32_t args_size = 3 * 8;

	cb.len = 0;
	cb_nop(&cb);
	write_seed(dir, "nop", &cb, NULL, 0);

	cb.len = 0;
	cb_fill(&cb, DATA_VA, 0x5a5a5a5a, 256);
	cb_write_value(&cb, DATA_VA + 512, 0x1122334455667788ull);
	cb_timestamp(&cb, DATA_VA + 520);
	cb_copy(&cb, DATA_VA, DATA_VA + 4096, 256);
	write_seed(dir, "commands", &cb, NULL, 0);

	/* r0..r2 from the argument block (the code's own first bytes). */
	code[0] = i_li(0, DATA_VA);
	code[1] = i_li(1, DATA_VA + 4096);
	code[2] = i_vop(JAL_OP_VADD, 0, 0, 1, 64, 1, 1, 1);
	code[3] = i_vscale(1, 0, 64, 1, 1, 0.5f);
	code[4] = i_li(2, 3);
	code[5] = i_addi(2, 2, (uint64_t)-1);
	code[6] = i_bne(2, 3, 5);
	code[7] = i_op(JAL_OP_HALT);
	cb.len = 0;
	cb_dispatch(&cb, CODE_VA, sizeof(code), ARGS_VA, args_size);
	write_seed(dir, "vector-kernel", &cb, code, 8);

	code[0] = i_li(0, DATA_VA);
	code[1] = i_li(1, DATA_VA + 8192);
	code[2] = i_li(2, DATA_VA + 65536);
	code[3] = i_matvec(0, 1, 2, 16, 32, 1, 0, 1);
	code[4] = i_op(JAL_OP_RMSNORM);
	code[4].r[0] = 0;
	code[4].r[1] = 0;
	code[4].r[2] = 1;
	code[4].dim[0] = 16;
	code[5] = i_op(JAL_OP_SOFTMAX);
	code[5].r[1] = 0;
	code[5].dim[0] = 16;
	code[6] = i_op(JAL_OP_ARGMAX);
	code[6].r[0] = 3;
	code[6].r[1] = 0;
	code[6].dim[0] = 16;
	code[7] = i_op(JAL_OP_HALT);
	cb.len = 0;
	cb_dispatch(&cb, CODE_VA, sizeof(code), ARGS_VA, args_size);
	write_seed(dir, "llm-kernel", &cb, code, 8);
	return 0;
}
