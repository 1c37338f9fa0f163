# SPDX-License-Identifier: MIT
# Shared settings for the build and VM scripts; sourced, not run.
# Bump JAL_DEPS_VERSION when install-deps.sh learns a new package.
JAL_DEPS_VERSION=3
JAL_TOP=${JAL_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
JAL_CACHE=${JAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jalapeno}
JAL_KERNEL_DIR=$JAL_CACHE/guest-kernel
JAL_KSRC=$JAL_CACHE/linux-src
JAL_KSFT_DIR=$JAL_KSRC/tools/testing/selftests
# QEMU: build-qemu.sh records the Debian source version it picked; a user
# with their own QEMU tree sets JAL_QEMU_SRC (and optionally JAL_QEMU_BUILD).
if [ -z "${JAL_QEMU_VERSION:-}" ] && [ -f "$JAL_CACHE/qemu-version" ]; then
	JAL_QEMU_VERSION=$(cat "$JAL_CACHE/qemu-version")
fi
JAL_QEMU_VERSION=${JAL_QEMU_VERSION:-unknown}
JAL_QEMU_SRC=${JAL_QEMU_SRC:-$JAL_CACHE/qemu-$JAL_QEMU_VERSION/src}
JAL_QEMU_BUILD=${JAL_QEMU_BUILD:-$JAL_CACHE/qemu-$JAL_QEMU_VERSION/build}
JAL_QEMU=${JAL_QEMU:-$JAL_QEMU_BUILD/qemu-system-x86_64}
