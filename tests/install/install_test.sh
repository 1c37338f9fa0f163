#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `make install` on the host, as TAP with kselftest's "# Totals:" line:
# installs into scratch DESTDIRs (the default prefix and another one),
# checks the exact file list, the library's soname links and the
# pkg-config file's prefix, then builds a small program against the
# installed tree through pkg-config (PKG_CONFIG_SYSROOT_DIR and
# PKG_CONFIG_LIBDIR point it at the DESTDIR), shared and static, and runs
# it and the installed jalctl. Run from anywhere; needs a built runtime
# (make runtime) or builds it.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/jal-install.XXXXXX)
trap 'rm -rf "$work"' EXIT

n=0 pass=0 fail=0
ok() {	# ok COND-STATUS DESCRIPTION [DIAGNOSTIC FILE]
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		pass=$((pass + 1))
		echo "ok $n - $2"
	else
		fail=$((fail + 1))
		echo "not ok $n - $2"
		[ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/#   /' "$3" | tail -20
	fi
}

echo "TAP version 13"

# PREFIX -> the udev rules directory the Makefile must pick.
declare -A udev=([/usr/local]=/usr/local/lib/udev/rules.d [/opt/jalapeno]=/lib/udev/rules.d)

# The default prefix last, so that the build tree's jalrt.pc is left as a
# plain `make` writes it.
for prefix in /opt/jalapeno /usr/local; do
	d=$work/dest${prefix//\//-}
	log=$work/log
	make -s -C "$top" install DESTDIR="$d" PREFIX="$prefix" > "$log" 2>&1
	ok $? "make install PREFIX=$prefix DESTDIR=...: exit 0" "$log"

	# Exactly these files, nothing elsewhere under DESTDIR.
	(cd "$d" && find . ! -type d | sort) > "$work/got"
	cat > "$work/want" <<-EOF
	.$prefix/bin/jalctl
	.$prefix/bin/jalrt-bench
	.$prefix/bin/jalrt-run
	.$prefix/bin/jalrt-serve
	.$prefix/include/jalrt/jalapeno_hw.h
	.$prefix/include/jalrt/jalrt.h
	.$prefix/include/jalrt/jalrt_graph.h
	.$prefix/include/jalrt/jalrt_llm.h
	.$prefix/lib/libjalrt.a
	.$prefix/lib/libjalrt.so
	.$prefix/lib/libjalrt.so.0
	.$prefix/lib/libjalrt.so.0.1.0
	.$prefix/lib/pkgconfig/jalrt.pc
	.${udev[$prefix]}/70-jalapeno.rules
	EOF
	sort -o "$work/want" "$work/want"
	diff "$work/want" "$work/got" > "$log"
	ok $? "PREFIX=$prefix: the installed files (udev rule in ${udev[$prefix]})" "$log"

	lib=$d$prefix/lib
	[ "$(readlink "$lib/libjalrt.so")" = libjalrt.so.0 ] &&
		[ "$(readlink "$lib/libjalrt.so.0")" = libjalrt.so.0.1.0 ] &&
		readelf -d "$lib/libjalrt.so.0.1.0" | grep -q 'SONAME.*\[libjalrt.so.0\]' &&
		[ -x "$d$prefix/bin/jalctl" ] && [ ! -x "$lib/libjalrt.a" ]
	ok $? "PREFIX=$prefix: libjalrt.so -> .so.0 -> .so.0.1.0, soname libjalrt.so.0, modes"

	pc=$lib/pkgconfig/jalrt.pc
	grep -qx "prefix=$prefix" "$pc" && grep -qx "libdir=$prefix/lib" "$pc" &&
		grep -qx "includedir=$prefix/include" "$pc"
	ok $? "PREFIX=$prefix: jalrt.pc names the prefix, not the DESTDIR" "$pc"

	cmp -s "$top/packaging/udev/70-jalapeno.rules" "$d${udev[$prefix]}/70-jalapeno.rules"
	ok $? "PREFIX=$prefix: the udev rule is the packaged one"
done

# Build against the /opt/jalapeno tree, found only through pkg-config.
prefix=/opt/jalapeno
d=$work/dest${prefix//\//-}
# The staged tree first, then the system's directories (for libdrm).
sys_pc=$(pkg-config --variable pc_path pkg-config)
export PKG_CONFIG_SYSROOT_DIR=$d PKG_CONFIG_LIBDIR=$d$prefix/lib/pkgconfig:$sys_pc
cflags='' libs='' slibs=''
cflags=$(pkg-config --cflags jalrt) && libs=$(pkg-config --libs jalrt) &&
	slibs=$(pkg-config --static --libs jalrt)
ok $? "pkg-config finds jalrt in the DESTDIR"
case " $cflags " in *" -I$d$prefix/include/jalrt "*) r=0 ;; *) r=1 ;; esac
echo "cflags: $cflags" > "$work/log"
ok $r "pkg-config --cflags: -I into the DESTDIR's include/jalrt" "$work/log"

cat > "$work/prog.c" <<'EOF'
/* Uses every installed header; lists cards (none on the build host). */
#include <stdio.h>

#include <jalrt.h>
#include <jalrt_graph.h>
#include <jalrt_llm.h>

int main(void)
{
	unsigned int count = 0;
	int ret = jalrt_device_enumerate(NULL, 0, &count);

	printf("libjalrt %d.%d, %u devices, %s\n", JALRT_VERSION_MAJOR, JALRT_VERSION_MINOR,
	       count, ret ? jalrt_strerror(ret) : "ok");
	return ret ? 1 : 0;
}
EOF
# shellcheck disable=SC2086 # pkg-config output is a list of words
cc -Wall -Werror -o "$work/prog" "$work/prog.c" $cflags $libs > "$work/log" 2>&1
ok $? "a program builds and links with \$(pkg-config --cflags --libs jalrt)" "$work/log"
LD_LIBRARY_PATH=$d$prefix/lib "$work/prog" > "$work/out" 2>&1 &&
	grep -q '^libjalrt 0\.1, [0-9]* devices, ok$' "$work/out" &&
	LD_LIBRARY_PATH=$d$prefix/lib ldd "$work/prog" | grep -q "libjalrt.so.0 => $d$prefix/lib/"
ok $? "it runs on the installed libjalrt.so.0" "$work/out"

# shellcheck disable=SC2086
cc -Wall -Werror -o "$work/prog-static" "$work/prog.c" $cflags \
	"$d$prefix/lib/libjalrt.a" ${slibs//-ljalrt/} > "$work/log" 2>&1 &&
	! readelf -d "$work/prog-static" | grep -q 'NEEDED.*libjalrt' &&
	"$work/prog-static" > "$work/out" 2>&1
ok $? "static: libjalrt.a with \$(pkg-config --static --libs jalrt)'s libraries" "$work/log"

# The installed jalctl: usage, and on a host without a card exit 3.
LD_LIBRARY_PATH=$d$prefix/lib "$d$prefix/bin/jalctl" --help > "$work/out" 2>&1 &&
	grep -q '^usage: jalctl' "$work/out"
ok $? "installed jalctl --help" "$work/out"
host_cards=0
for drv in /sys/class/accel/accel*/device/driver; do
	[ "$(basename "$(readlink "$drv" 2>/dev/null)")" = jalapeno ] && host_cards=1
done
if [ $host_cards -eq 1 ]; then
	echo "ok $((n += 1)) - installed jalctl list without a card # SKIP this host has a card"
else
	LD_LIBRARY_PATH=$d$prefix/lib "$d$prefix/bin/jalctl" list > "$work/out" 2>&1
	r=$?
	[ $r -eq 3 ] && grep -q 'no Jalapeño card found' "$work/out"
	ok $? "installed jalctl list on a host without a card: exit 3, says so" "$work/out"
fi

echo "1..$n"
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$((n - pass - fail)) error:0"
[ "$fail" -eq 0 ]
