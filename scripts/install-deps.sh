#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Install everything the Jalapeño build and test flow needs on Debian 12.
# Idempotent: a second run only checks, so every make target may call it.
# Needs root (or sudo) the first time; afterwards a stamp keeps it quiet.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/config.sh"

# npm packages the tests use (pinned; quiet when already there).
"$top/scripts/install-npm.sh"

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
# source package) let apt-get source fetch QEMU. The mirrors are the ones
# this machine's apt already uses for bookworm and bookworm-security: the
# repository names no archive host of its own.
apt_mirror() {	# $1: suite; prints the first URI apt has for it
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v suite="$1" '$1 == "deb" {
			i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++
			if ($(i + 1) == suite) { print $i; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && [ "$f" != "$src" ] || continue
		awk -v suite="$1" 'BEGIN { RS = ""; FS = "\n" } {
			uri = ""; ok = 0; deb = 0
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
				if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
				if ($i ~ /^Suites:/) {
					n = split($i, s, /[ \t]+/)
					for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1
				}
			}
			if (ok && deb && uri != "") { print uri; exit }
		}' "$f"
	done | head -n 1
}
src=/etc/apt/sources.list.d/jalapeno.sources
if ! grep -qs "^Suites: trixie" "$src"; then
	archive=$(apt_mirror bookworm)
	security=$(apt_mirror bookworm-security)
	[ -n "$archive" ] || { echo "apt has no bookworm source to take the Debian mirror from" >&2; exit 1; }
	say "adding bookworm-backports and deb-src entries ($src, mirror $archive)"
	{
		printf 'Types: deb deb-src\nURIs: %s\nSuites: bookworm-backports\nComponents: main\n' "$archive"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
		printf 'Types: deb-src\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\n' "$archive"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
		if [ -n "$security" ]; then
			printf 'Types: deb-src\nURIs: %s\nSuites: bookworm-security\nComponents: main\n' "$security"
			printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n'
		fi
		printf '# Source only: QEMU 10.0'"'"'s Debian source package (with Debian'"'"'s patches).\n'
		printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\n' "$archive"
		printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
	} | $SUDO tee "$src" >/dev/null
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
	libslirp-dev libmicrohttpd-dev libjson-c-dev clang libelf-dev lm-sensors
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
