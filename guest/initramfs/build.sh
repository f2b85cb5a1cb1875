#!/bin/sh
# Builds the guest initramfs: hako-agent as /init, crun and the libraries it
# needs, and busybox (with applet links) for debugging.
# Usage: build.sh <hako-agent binary> <output file> [<modules dir>]
# crun gets a stand-in libsystemd (sdstub/): the guest has no systemd, and
# the real library with its dependencies doubles crun's start-up time.
# A modules dir (fallback kernel only) holds *.ko files and `load-order`;
# they go to /lib/modules/hako, where the agent loads them at boot.
# The archive is reproducible: sorted entries, zero mtimes, fixed owners.
set -eu
agent=$1
out=$2
modules=${3:-}
stage=$(mktemp -d "${TMPDIR:-/tmp}/hako-initramfs.XXXXXX")

here=$(cd "$(dirname "$0")" && pwd)
stub=$(mktemp -d "${TMPDIR:-/tmp}/hako-sdstub.XXXXXX")
trap 'rm -rf "$stage" "$stub"' EXIT
gcc -shared -fPIC -O2 -Wall -Wl,--version-script="$here/sdstub/sd-stub.map" -Wl,-soname,libsystemd.so.0 \
	-o "$stub/libsystemd.so.0" "$here/sdstub/sd-stub.c"

copy_with_libs() {
	bin=$1
	dest=$2
	mkdir -p "$stage$(dirname "$dest")"
	cp -L "$bin" "$stage$dest"
	LD_LIBRARY_PATH="$stub" ldd "$bin" 2>/dev/null | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }' | while read -r lib; do
		[ -n "$lib" ] && [ -e "$lib" ] || continue
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
}

echo "initramfs: staging agent, crun and busybox"
mkdir -p "$stage/proc" "$stage/sys" "$stage/dev" "$stage/run" "$stage/tmp" "$stage/etc" "$stage/bin" "$stage/usr/bin" "$stage/lib64"
copy_with_libs "$agent" /init
copy_with_libs /usr/bin/crun /usr/bin/crun
rm -f "$stage$stub/libsystemd.so.0"
rmdir -p "$stage$stub" 2>/dev/null || true
# rmdir -p may take the empty $stage/tmp with it (the stub was staged under
# $TMPDIR, /tmp by default). The agent mounts a tmpfs there after it has
# made the root read-only, so the directory must exist.
mkdir -p "$stage/tmp"
mkdir -p "$stage/lib/x86_64-linux-gnu"
cp "$stub/libsystemd.so.0" "$stage/lib/x86_64-linux-gnu/libsystemd.so.0"
cp /bin/busybox "$stage/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ -e "$stage/bin/$applet" ] || ln -s busybox "$stage/bin/$applet"
done
if [ -n "$modules" ]; then
	mkdir -p "$stage/lib/modules/hako"
	cp "$modules"/*.ko "$modules/load-order" "$stage/lib/modules/hako/"
fi
# The kernel gives init its standard streams from /dev/console.
mknod -m 600 "$stage/dev/console" c 5 1
echo "root:x:0:0:root:/:/bin/sh" > "$stage/etc/passwd"
# A linker cache: without one, ld.so probes a dozen hwcaps and tls
# directories for every library of every crun call.
echo /lib/x86_64-linux-gnu > "$stage/etc/ld.so.conf"
ldconfig -X -r "$stage"
echo "root:x:0:" > "$stage/etc/group"
chmod 0755 "$stage/init" "$stage/usr/bin/crun"
find "$stage" -exec touch -h -d @0 {} +
# mktemp made the stage 0700; as the guest's root it must be searchable by
# every user, or a container with a user namespace (whose root is not the
# guest's) cannot even reach /proc.
chmod 0755 "$stage"
echo "initramfs: writing cpio archive"
mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z | cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs: $(du -h "$out" | cut -f1) written"
