#!/bin/sh
# Sets Hako up on Debian 12, as root: installs the Debian packages it needs,
# the npm dependencies, builds the TypeScript, the Rust agent and the guest
# image (kernel, initramfs, default rootfs; cached in /var/cache/hako).
set -eu
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
PACKAGES="
  qemu-system-x86 qemu-system-common util-linux iproute2 kmod cpio
  linux-source-6.1 build-essential flex bison bc libelf-dev libssl-dev
  busybox-static crun protobuf-compiler libprotobuf-dev passt iperf3 containernetworking-plugins iptables
  containerd runc python3 podman conmon docker.io
  librust-protobuf-dev librust-protobuf-codegen-dev librust-nix-dev librust-libc-dev
  librust-serde-json-dev librust-thiserror-dev
"
missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ ! -x /root/.cargo/bin/cargo ] && ! command -v cargo >/dev/null 2>&1; then
	missing="$missing cargo rustc"
fi
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund --loglevel=error
echo "setup: building the TypeScript"
npm run --silent build
if [ -x /root/.cargo/bin/cargo ]; then CARGO=/root/.cargo/bin/cargo; else CARGO=cargo; fi
echo "setup: building the host helper (confined file operations and process starts)"
(cd tools/host-helper && "$CARGO" build --release --locked --quiet)
echo "setup: building the console bridge (host helper of the OCI CLI)"
(cd tools/console-bridge && "$CARGO" build --release --locked --quiet)
echo "setup: building the guest image"
./bin/hako image build
./bin/hako check
