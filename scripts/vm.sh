#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Boot the Jalapeño test guest and run one shell command in it.
#
#   scripts/vm.sh [--no-driver] [--timeout SECONDS] [--forward HOSTPORT:GUESTPORT]...
#                 [--] COMMAND...
#
# The guest runs Debian's 6.12 kernel under TCG with one Jalapeño device,
# sees the host's root file system (read-only, with a writable overlay in
# guest memory), starts in this repository and, unless --no-driver, has
# driver/jalapeno.ko loaded. The command's output and exit code are passed
# through; 124 means the guest died or timed out before the command ended.
# Extra QEMU arguments: JAL_QEMU_ARGS; driver parameters: JAL_DRIVER_PARAMS.
# Sizes: JAL_GUEST_MEM (guest memory, default 3G) and JAL_VRAM (the chip's
# device memory, QEMU size syntax, default the device's 1 GiB), for big
# models.
# --forward gives the guest a virtio-net NIC on QEMU user networking
# (10.0.2.15/24, gateway 10.0.2.2, set up by guest-init) and forwards
# 127.0.0.1:HOSTPORT on the host to GUESTPORT in the guest (repeatable).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/config.sh"

load_driver=1
timeout=${JAL_VM_TIMEOUT:-1800}
hostfwd=
while [ $# -gt 0 ]; do
	case "$1" in
	--no-driver) load_driver=0; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	--forward)
		[[ ${2:-} =~ ^[0-9]+:[0-9]+$ ]] || { echo "vm: --forward takes HOSTPORT:GUESTPORT" >&2; exit 2; }
		hostfwd+=",hostfwd=tcp:127.0.0.1:${2%%:*}-:${2##*:}"
		shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--no-driver] [--timeout S] [--forward H:G] COMMAND..." >&2; exit 2; }

[ -x "$JAL_QEMU" ] || { echo "vm: no QEMU at $JAL_QEMU; run scripts/build-qemu.sh" >&2; exit 2; }
net=()
if [ -n "$hostfwd" ]; then
	"$JAL_QEMU" -netdev help 2>/dev/null | grep -qx user ||
		{ echo "vm: $JAL_QEMU has no user networking (slirp): rebuild it with scripts/build-qemu.sh" >&2; exit 2; }
	# romfile=: no PXE option ROM (QEMU is built without its firmware blobs)
	net=(-netdev "user,id=net0,ipv6=off$hostfwd" -device virtio-net-pci,netdev=net0,romfile=)
fi
# JAL_GUEST_KERNEL=debug boots the debug kernel (scripts/build-debug-kernel.sh)
# with the driver built for it (scripts/check-debug.sh) instead of Debian's.
if [ "${JAL_GUEST_KERNEL:-}" = debug ]; then
	kernel=$JAL_DEBUG_KERNEL_DIR/vmlinuz
	initrd=$JAL_CACHE/initramfs-debug.cpio.gz
	ko=$JAL_DEBUG_KERNEL_DIR/driver/jalapeno.ko
else
	kernel=$JAL_KERNEL_DIR/vmlinuz
	initrd=$JAL_CACHE/initramfs.cpio.gz
	ko=$top/driver/jalapeno.ko
fi
"$top/scripts/mkinitramfs.sh"

guest_mem=${JAL_GUEST_MEM:-3G}
[[ $guest_mem =~ ^[0-9]+[MGT]?$ ]] || { echo "vm: JAL_GUEST_MEM must be a size such as 3G or 8192M, not '$guest_mem'" >&2; exit 2; }
device=${JAL_VM_DEVICE--device jalapeno}
if [ -n "${JAL_VRAM:-}" ]; then
	[[ $JAL_VRAM =~ ^[0-9]+[KMGT]?$ ]] || { echo "vm: JAL_VRAM must be a size such as 4G, not '$JAL_VRAM'" >&2; exit 2; }
	[ -n "$device" ] || { echo "vm: JAL_VRAM needs a Jalapeño device (JAL_VM_DEVICE is empty)" >&2; exit 2; }
	device+=",vram-size=$JAL_VRAM"
fi

job=$(mktemp -d /tmp/jal-vm.XXXXXX)
chmod 755 "$job"
trap 'rm -rf "$job"' EXIT
{
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	echo "export HOME=/tmp TMPDIR=/tmp TERM=dumb"
	printf 'export JALAPENO_KO=%q\n' "$ko"
	printf 'cd %q || exit 125\n' "$PWD"
	if [ "$load_driver" = 1 ]; then
		printf 'insmod "$JALAPENO_KO" %s || { echo "vm: insmod jalapeno.ko failed"; exit 125; }\n' \
			"${JAL_DRIVER_PARAMS:-}"
	fi
	printf '%s\n' "$*"
} > "$job/job.sh"

status=$job/status
set +e
timeout --foreground -k 10 "$timeout" "$JAL_QEMU" \
	-machine q35 -accel tcg,thread=multi -cpu max -smp 2 -m "$guest_mem" \
	-nodefaults -display none -no-reboot -monitor none \
	-L /usr/share/seabios -L /usr/share/qemu \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 quiet loglevel=1 panic=-1 jal.job=$job" \
	-serial stdio \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	$device "${net[@]}" ${JAL_QEMU_ARGS:-} </dev/null 2>"$job/qemu.err" |
	tr -d '\r' | awk -v status="$status" '
		/^JAL-VM-EXIT: / { print $2 > status; next }
		/^\[ *[0-9.]+\] reboot: Power down$/ { next }
		{ print; fflush() }'
set -e
if [ -s "$job/qemu.err" ]; then
	grep -v -e 'warning: 9p: .*multidevs' "$job/qemu.err" >&2 || true
fi
if [ ! -s "$status" ]; then
	echo "vm: the guest ended without reporting an exit code (QEMU failed to start, the guest crashed, or ${timeout}s passed)" >&2
	exit 124
fi
exit "$(cat "$status")"
