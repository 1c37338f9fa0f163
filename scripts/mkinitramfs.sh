#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build the guest's initramfs: static busybox, the kernel modules the guest
# needs before it can reach the host (virtio-9p), those jalapeno.ko
# depends on (drm, drm_shmem_helper, gpu-sched, ...), virtio-net for a NIC
# that scripts/vm.sh --forward adds, and scripts/guest-init.
# Output: $JAL_CACHE/initramfs.cpio.gz; rebuilt only when an input changes.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/config.sh"

krel=$(cat "$JAL_CACHE/kernel-release")
moddir=$JAL_KERNEL_DIR/lib/modules/$krel
out=$JAL_CACHE/initramfs.cpio.gz
# Modules to load, with their dependencies, in this order.
wanted="netfs 9pnet 9pnet_virtio 9p overlay drm drm_kms_helper drm_shmem_helper gpu-sched drm_exec drm_gpuvm
	virtio_net"
# The debug kernel (JAL_GUEST_KERNEL=debug) has all of these built in: its
# initramfs loads none.
if [ "${JAL_GUEST_KERNEL:-}" = debug ]; then
	out=$JAL_CACHE/initramfs-debug.cpio.gz
	wanted=
fi

if [ -f "$out" ] && [ "$out" -nt "$top/scripts/guest-init" ] &&
   [ "$out" -nt "$0" ] && [ "$out" -nt "$moddir/modules.dep" ]; then
	exit 0
fi

[ -f "$moddir/modules.dep" ] || depmod -b "$JAL_KERNEL_DIR" "$krel"

# Resolve each wanted module to its path and its dependencies (modules.dep
# lists a module's dependencies deepest last), keeping the first occurrence.
order=()
add_module() {
	local path=$1 dep line
	for seen in "${order[@]}"; do [ "$seen" = "$path" ] && return; done
	line=$(grep -m1 "^$path:" "$moddir/modules.dep")
	for dep in $(echo "${line#*:}" | tr ' ' '\n' | tac); do
		add_module "$dep"
	done
	order+=("$path")
}
for m in $wanted; do
	f=$(echo "$m" | sed 's/[-_]/[-_]/g')
	path=$(grep -m1 -E "/$f\.ko(\.xz|\.zst)?:" "$moddir/modules.dep" | cut -d: -f1)
	[ -n "$path" ] || { echo "module $m not found in $moddir" >&2; exit 1; }
	add_module "$path"
done

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,host,lib/modules,tmp}
: > "$root/lib/modules/load-order"
cp /bin/busybox "$root/bin/busybox"
cp "$top/scripts/guest-init" "$root/init"
chmod 755 "$root/init"
for p in "${order[@]}"; do
	name=$(basename "$p")
	case "$name" in
	*.xz) xz -dc "$moddir/$p" > "$root/lib/modules/${name%.xz}" ;;
	*.zst) zstd -qdc "$moddir/$p" > "$root/lib/modules/${name%.zst}" ;;
	*) cp "$moddir/$p" "$root/lib/modules/$name" ;;
	esac
	basename "${name%.*}" | sed 's/\.ko$//' >> "$root/lib/modules/load-order"
done
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
mv "$out.tmp" "$out"
echo "[initramfs] $out: $(tr '\n' ' ' < "$root/lib/modules/load-order")"
