# SPDX-License-Identifier: MIT
#
# Jalapeño: top-level build. `make demo` and `make check` work on a fresh
# Debian 12 machine as root: they install what is missing first.
#
#   make            build driver, runtime, QEMU with the device, tests
#   make check      every test suite (host and guest); last line "N passed, N failed"
#   make check-debug the guest suites on a debug kernel (KASAN, lockdep, kmemleak)
#   make demo       boot the guest, load the driver, run programs and generate text on the chip
#   make vm CMD=..  run CMD in the guest with the driver loaded, from the repo root
#   make lint       checkpatch --strict on driver/ and uapi/
#   make bench      benchmark table: decode tok/s, per-op GFLOP/s, jobs/s, DMA GB/s
#   make fuzz       the guest ioctl and job fuzzer, longer, with a new seed
#   make serve      jalrt-serve (OpenAI API) on the chip at http://127.0.0.1:8080/v1
#                   (MODEL=, TOKENIZER=, PRECISION=, PORT=, API_KEY= override)

SHELL := /bin/bash
TOP := $(CURDIR)
CACHE := $(shell . scripts/config.sh && echo $$JAL_CACHE)
KREL = $(shell cat $(CACHE)/kernel-release 2>/dev/null)
KDIR ?= /lib/modules/$(KREL)/build
KSFT_DIR = $(CACHE)/linux-src/tools/testing/selftests
CMD ?= true
export CMD

.PHONY: all deps qemu driver runtime tests install check check-debug demo vm lint bench serve fuzz clean

all: deps qemu driver runtime tests

deps:
	@scripts/install-deps.sh

qemu: deps
	@scripts/build-qemu.sh

driver: deps
	$(MAKE) -C driver KDIR=$(KDIR)

runtime: deps
	$(MAKE) -C runtime

tests: deps runtime
	$(MAKE) -C tests/host/core KSFT_DIR=$(KSFT_DIR)
	$(MAKE) -C tests/host/runtime KSFT_DIR=$(KSFT_DIR)
	$(MAKE) -C tests/host/llm KSFT_DIR=$(KSFT_DIR)
	$(MAKE) -C tests/kselftest KSFT_DIR=$(KSFT_DIR)
	$(MAKE) -C tests/runtime KSFT_DIR=$(KSFT_DIR)

# libjalrt, its headers and pkg-config file, the tools and the udev rule
# (PREFIX=/usr/local and DESTDIR= as usual; Documentation/running.rst).
install: runtime
	$(MAKE) -C runtime install

check: all
	@scripts/check.sh

# Every guest suite again on a debug build of the guest kernel (KASAN,
# lockdep, kmemleak, fault injection); builds that kernel once (~15 min).
check-debug: all
	@scripts/check-debug.sh

demo: all
	@scripts/demo.sh

# CMD goes through the environment so that its own quotes survive. make
# itself can only exit 2 on failure, so the command's code is printed
# (scripts/vm.sh returns it unchanged).
vm: all
	@scripts/vm.sh "$$CMD" || { rc=$$?; echo "make vm: the command exited with $$rc" >&2; exit $$rc; }

lint: deps
	@scripts/lint.sh

# The guest ioctl fuzzer for longer than make check runs it, with a new
# seed each time (FUZZ_SEED= and FUZZ_ROUNDS= to choose; the seed is
# printed so that a failure can be replayed).
FUZZ_SEED ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
FUZZ_ROUNDS ?= 20
fuzz: all
	@scripts/vm.sh "JAL_FUZZ_SEED=$(FUZZ_SEED) JAL_FUZZ_ROUNDS=$(FUZZ_ROUNDS) JAL_FUZZ_ITERS=2000 tests/kselftest/build/jalapeno_fuzz && sh tests/kernel-log-check.sh"

bench: all
	@scripts/bench.sh

serve: all
	@MODEL="$(MODEL)" TOKENIZER="$(TOKENIZER)" PRECISION="$(PRECISION)" PORT="$(PORT)" \
		API_KEY="$(API_KEY)" scripts/serve.sh

clean:
	$(MAKE) -C driver KDIR=$(KDIR) clean
	$(MAKE) -C runtime clean
	$(MAKE) -C tests/host/core clean
	$(MAKE) -C tests/host/runtime clean
	$(MAKE) -C tests/host/llm clean
	$(MAKE) -C tests/kselftest clean
	$(MAKE) -C tests/runtime clean
