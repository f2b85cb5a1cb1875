#!/bin/sh
# Fallback when the minimal kernel cannot be built: Debian's cloud kernel,
# downloaded (not installed) and unpacked, plus the modules Hako needs in
# load order (the cloud kernel has virtio, virtio-fs and overlay as modules).
# Usage: cloud-fallback.sh <output dir>
# Writes <out>/vmlinuz, <out>/release and <out>/modules/{*.ko,load-order}.
set -eu
out=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/hako-cloudk.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
[ -n "$pkg" ] || { echo "kernel: no linux-image-cloud-amd64 package known to apt" >&2; exit 1; }
echo "kernel: downloading $pkg"
apt-get download "$pkg" >/dev/null
dpkg-deb -x ./*.deb root
rel=$(ls root/lib/modules)
depmod -b root "$rel"
mkdir -p "$out/modules"
: > "$out/modules/load-order"
for m in virtio_mmio virtio_pci virtio_console virtio_rng fuse virtiofs overlay; do
	modprobe -d root -S "$rel" --show-depends "$m" 2>/dev/null | awk '/^insmod/ { print $2 }' | while read -r ko; do
		name=$(basename "$ko")
		if ! grep -qx "$name" "$out/modules/load-order"; then
			cp "$ko" "$out/modules/$name"
			echo "$name" >> "$out/modules/load-order"
		fi
	done
done
cp "root/boot/vmlinuz-$rel" "$out/vmlinuz"
echo "$rel" > "$out/release"
echo "kernel: Debian cloud kernel $rel with $(wc -l < "$out/modules/load-order") modules"
