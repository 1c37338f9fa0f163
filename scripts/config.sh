# SPDX-License-Identifier: MIT
# Shared settings for the build and VM scripts; sourced, not run.
# Bump JAL_DEPS_VERSION when install-deps.sh learns a new package.
JAL_DEPS_VERSION=6
JAL_TOP=${JAL_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
JAL_CACHE=${JAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jalapeno}
JAL_KERNEL_DIR=$JAL_CACHE/guest-kernel
JAL_DEBUG_KERNEL_DIR=$JAL_CACHE/debug-kernel
JAL_KSRC=$JAL_CACHE/linux-src
JAL_KSFT_DIR=$JAL_KSRC/tools/testing/selftests
# QEMU: build-qemu.sh records the Debian source version it picked. A user
# with their own QEMU tree sets JAL_QEMU_SRC; its build tree then defaults
# to build-jalapeno/ inside it (JAL_QEMU_BUILD overrides).
if [ -n "${JAL_QEMU_SRC:-}" ]; then
	JAL_QEMU_OWN_TREE=1
	JAL_QEMU_BUILD=${JAL_QEMU_BUILD:-$JAL_QEMU_SRC/build-jalapeno}
else
	JAL_QEMU_OWN_TREE=
	if [ -z "${JAL_QEMU_VERSION:-}" ] && [ -f "$JAL_CACHE/qemu-version" ]; then
		JAL_QEMU_VERSION=$(cat "$JAL_CACHE/qemu-version")
	fi
	JAL_QEMU_VERSION=${JAL_QEMU_VERSION:-unknown}
	JAL_QEMU_SRC=$JAL_CACHE/qemu-$JAL_QEMU_VERSION/src
	JAL_QEMU_BUILD=${JAL_QEMU_BUILD:-$JAL_CACHE/qemu-$JAL_QEMU_VERSION/build}
fi
JAL_QEMU=${JAL_QEMU:-$JAL_QEMU_BUILD/qemu-system-x86_64}
