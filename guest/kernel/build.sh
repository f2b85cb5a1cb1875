#!/bin/sh
# Builds the minimal guest kernel: tinyconfig + kvm_guest.config + hako.config.
# Usage: build.sh <source tarball> <output dir>. Writes vmlinux (PVH-bootable ELF),
# bzImage and .config into <output dir>. Run by `hako image build`, which caches
# the output by the hash of this script, the fragment and the source tarball.
set -eu
src_tar=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hako-kernel.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "kernel: unpacking $(basename "$src_tar")"
tar -C "$work" -xf "$src_tar"
cd "$work"/linux-source-*
echo "kernel: configuring (tinyconfig + kvm_guest.config + hako.config)"
make -s tinyconfig >/dev/null
make -s kvm_guest.config >/dev/null
./scripts/kconfig/merge_config.sh -m .config "$here/hako.config" >/dev/null
make -s olddefconfig >/dev/null
jobs=$(nproc)
echo "kernel: compiling with $jobs jobs (about 11 minutes on 2 cores)"
make -s -j"$jobs" KBUILD_BUILD_TIMESTAMP='1970-01-01' KBUILD_BUILD_USER=hako KBUILD_BUILD_HOST=hako vmlinux bzImage
mkdir -p "$out"
cp vmlinux "$out/vmlinux"
cp arch/x86/boot/bzImage "$out/bzImage"
cp .config "$out/config"
make -s kernelrelease > "$out/release"
echo "kernel: done ($(cat "$out/release"))"
