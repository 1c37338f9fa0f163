#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Install everything the Jalapeño build and test flow needs on Debian 12.
# Idempotent: a second run only checks, so every make target may call it.
# Needs root (or sudo) the first time; afterwards a stamp keeps it quiet.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/config.sh"

stamp="$JAL_CACHE/deps-$JAL_DEPS_VERSION.stamp"
if [ -f "$stamp" ] && [ -e "$JAL_KERNEL_DIR/vmlinuz" ] &&
   [ -d "/lib/modules/$(cat "$JAL_CACHE/kernel-release")/build" ]; then
	exit 0
fi

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$JAL_CACHE"

say() { printf '[deps] %s\n' "$*"; }

# bookworm-backports carries meson >= 1.5, python3-pycotap and QEMU 10.0's
# source; deb-src lines (bookworm, and trixie for QEMU 10.0's current
# source package) let apt-get source fetch QEMU.
src=/etc/apt/sources.list.d/jalapeno.sources
if ! grep -qs "^Suites: trixie" "$src"; then
	say "adding bookworm-backports and deb-src entries ($src)"
	$SUDO tee "$src" >/dev/null <<'S'
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

# Source only: QEMU 10.0's Debian source package (with Debian's patches).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
S
fi
say "apt-get update"
$SUDO apt-get update -qq

# The newest 6.12 kernel that has both an image and headers for amd64.
krel=$(apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
	awk '{print $1}' | sed 's/^linux-headers-//' | sort -V | while read -r r; do
		apt-cache show "linux-image-$r-unsigned" >/dev/null 2>&1 && echo "$r"
	done | tail -n 1)
[ -n "$krel" ] || { echo "no linux-image/headers 6.12 pair in the archive" >&2; exit 1; }
say "guest kernel: $krel"

pkgs=(
	build-essential git pkg-config bc flex bison cpio xz-utils zstd kmod file
	libdrm-dev busybox-static "linux-headers-$krel" linux-source-6.12
	ninja-build libglib2.0-dev libfdt-dev zlib1g-dev python3-venv python3-setuptools dpkg-dev
	seabios qemu-system-data libopenblas-dev sparse
)
say "apt-get install ${pkgs[*]}"
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
say "apt-get install -t bookworm-backports meson python3-pycotap"
$SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
	meson python3-pycotap >/dev/null

# The guest kernel image and its modules are unpacked into the cache rather
# than installed, so the host's own boot setup is left alone.
if [ ! -e "$JAL_KERNEL_DIR/vmlinuz" ]; then
	say "unpacking linux-image-$krel-unsigned into $JAL_KERNEL_DIR"
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	(cd "$tmp" && apt-get download -qq "linux-image-$krel-unsigned")
	rm -rf "$JAL_KERNEL_DIR.tmp" && mkdir -p "$JAL_KERNEL_DIR.tmp"
	dpkg-deb -x "$tmp"/linux-image-*.deb "$JAL_KERNEL_DIR.tmp"
	ln -sf "boot/vmlinuz-$krel" "$JAL_KERNEL_DIR.tmp/vmlinuz"
	rm -rf "$tmp" "$JAL_KERNEL_DIR"
	mv "$JAL_KERNEL_DIR.tmp" "$JAL_KERNEL_DIR"
fi
echo "$krel" > "$JAL_CACHE/kernel-release"

# kselftest_harness.h and checkpatch.pl come from the kernel source tarball;
# only the few files we use are unpacked.
if [ ! -f "$JAL_KSRC/scripts/checkpatch.pl" ]; then
	tarball=$(ls /usr/src/linux-source-6.12*.tar.* | sort -V | tail -n 1)
	say "unpacking kselftest harness and checkpatch from $tarball"
	rm -rf "$JAL_KSRC" && mkdir -p "$JAL_KSRC"
	tar -xaf "$tarball" -C "$JAL_KSRC" --strip-components=1 --wildcards \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/tools/testing/selftests/kselftest.h' \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
fi

touch "$stamp"
say "done"
