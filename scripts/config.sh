# SPDX-License-Identifier: MIT
# Shared settings for the build and VM scripts; sourced, not run.
# Bump JAL_DEPS_VERSION when install-deps.sh learns a new package.
JAL_DEPS_VERSION=1
JAL_QEMU_VERSION=${JAL_QEMU_VERSION:-10.0.2}
JAL_CACHE=${JAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jalapeno}
JAL_KERNEL_DIR=$JAL_CACHE/guest-kernel
JAL_KSRC=$JAL_CACHE/linux-src
JAL_QEMU_SRC=${JAL_QEMU_SRC:-$JAL_CACHE/qemu-$JAL_QEMU_VERSION/src}
JAL_QEMU_BUILD=${JAL_QEMU_BUILD:-$JAL_CACHE/qemu-$JAL_QEMU_VERSION/build}
