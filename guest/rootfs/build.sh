#!/bin/sh
# Builds Hako's built-in default container image: a root filesystem holding
# Debian's busybox-static with a link per applet.
# Usage: build.sh <output dir>
set -eu
out=$1
mkdir -p "$out"
cd "$out"
mkdir -p bin sbin usr/bin usr/sbin etc dev proc sys tmp run root home var/tmp
chmod 1777 tmp var/tmp
chmod 0700 root
cp /bin/busybox bin/busybox
for applet in $(/bin/busybox --list); do
	[ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > etc/group
printf 'hako\n' > etc/hostname
: > etc/resolv.conf
printf '127.0.0.1 localhost\n::1 localhost\n' > etc/hosts
echo "rootfs: busybox image with $(/bin/busybox --list | wc -l) applets"
