#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The debug guest kernel: Debian's linux-source-6.12 (the same 6.12 as the
# production guest kernel) from x86_64_defconfig with KASAN, lockdep,
# kmemleak, debug objects and fault injection, and everything the guest
# and the driver need built in (DRM, the accel core, the GEM shmem helper,
# the GPU scheduler, 9p, overlayfs, virtio-net), so its initramfs needs no
# modules. Cached in $JAL_CACHE/debug-kernel like the QEMU build; rebuilt
# only when this script or the source package changes. About 15 minutes
# on 2 cores when cold.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/config.sh"

dir=$JAL_DEBUG_KERNEL_DIR
tarball=$(ls /usr/src/linux-source-6.12*.tar.* | sort -V | tail -n 1)
key=$( (sha256sum "$0"; ls -l --time-style=+%s "$tarball") | sha256sum | cut -c1-16)
if [ -f "$dir/vmlinuz" ] && [ "$(cat "$dir/build-key" 2>/dev/null)" = "$key" ]; then
	exit 0
fi

say() { printf '[debug-kernel] %s\n' "$*"; }
src=$dir/src
rm -rf "$dir" && mkdir -p "$src"
say "unpacking $tarball"
tar -xaf "$tarball" -C "$src" --strip-components=1

# Options that only other options select get a prompt, so that the
# configuration can build them in.
for opt in DRM_SCHED DRM_GEM_SHMEM_HELPER DRM_EXEC DRM_GPUVM DRM_KMS_HELPER; do
	sed -i "/^config $opt\$/{n;s/^\ttristate\$/\ttristate \"$opt\"/}" "$src/drivers/gpu/drm/Kconfig"
done
sed -i '/^config WANT_DEV_COREDUMP$/{n;s/^\tbool$/\tbool "WANT_DEV_COREDUMP"/}' "$src/drivers/base/Kconfig"

cd "$src"
make -s x86_64_defconfig
enable=(
	# what the driver and the guest need, built in
	DRM DRM_ACCEL DRM_SCHED DRM_GEM_SHMEM_HELPER DRM_EXEC DRM_GPUVM DRM_KMS_HELPER
	DMA_SHARED_BUFFER SYNC_FILE WANT_DEV_COREDUMP DEV_COREDUMP PCI_MSI
	NET_9P NET_9P_VIRTIO 9P_FS 9P_FS_POSIX_ACL OVERLAY_FS VIRTIO VIRTIO_PCI
	VIRTIO_NET DEVTMPFS DEVTMPFS_MOUNT TMPFS BLK_DEV_INITRD DEBUG_FS FTRACE
	FUNCTION_TRACER DYNAMIC_DEBUG HWMON
	# the checks
	KASAN KASAN_GENERIC KASAN_INLINE PROVE_LOCKING DEBUG_LOCKDEP
	DEBUG_ATOMIC_SLEEP DEBUG_KMEMLEAK DEBUG_OBJECTS DEBUG_OBJECTS_FREE
	DEBUG_OBJECTS_TIMERS DEBUG_OBJECTS_WORK DEBUG_OBJECTS_RCU_HEAD
	FAULT_INJECTION FAILSLAB FAIL_PAGE_ALLOC FAULT_INJECTION_DEBUG_FS
	DMA_FENCE_TRACE DEBUG_INFO_NONE
)
disable=(DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT DEBUG_INFO_DWARF4 DEBUG_INFO_DWARF5 DEBUG_KMEMLEAK_AUTO_SCAN
	 DEBUG_KMEMLEAK_DEFAULT_OFF DRM_I915 DRM_AMDGPU DRM_NOUVEAU DRM_RADEON)
args=()
for o in "${enable[@]}"; do args+=(-e "$o"); done
for o in "${disable[@]}"; do args+=(-d "$o"); done
scripts/config "${args[@]}" --set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 65536
make -s olddefconfig
for o in DRM_ACCEL DRM_SCHED DRM_GEM_SHMEM_HELPER KASAN PROVE_LOCKING DEBUG_KMEMLEAK \
	 DEBUG_OBJECTS FAILSLAB FAIL_PAGE_ALLOC 9P_FS VIRTIO_NET DEV_COREDUMP; do
	grep -q "^CONFIG_$o=y" .config || { echo "CONFIG_$o did not stay enabled" >&2; exit 1; }
done

say "building (make -j$(nproc)); the log is $dir/build.log"
if ! make -j"$(nproc)" >"$dir/build.log" 2>&1; then
	tail -n 30 "$dir/build.log" >&2
	exit 1
fi
cp arch/x86/boot/bzImage "$dir/vmlinuz"
make -s kernelrelease > "$dir/kernel-release"
echo "$key" > "$dir/build-key"
say "done: $(cat "$dir/kernel-release")"
