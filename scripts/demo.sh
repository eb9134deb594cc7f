#!/bin/bash
# demo.sh - strata's main job end to end on a fresh Debian 12 machine with Go:
# build strata, make a busybox base image offline from Debian's busybox-static,
# import it, save and load it, then show its layers (images, history, inspect).
# Run as root. The store is $STRATA_ROOT (default /var/lib/strata).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh busybox-static
export PATH=$PATH:/usr/local/go/bin
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

go build -o bin/strata ./cmd/strata
S=bin/strata
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# A busybox root filesystem: the static binary and a symlink per applet.
R=$work/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var}
cp /bin/busybox "$R/bin/busybox"; chmod 1777 "$R/tmp"
for a in $(/bin/busybox --list-full); do
  [ "$a" = bin/busybox ] && continue
  mkdir -p "$R/$(dirname "$a")"; ln -sf /bin/busybox "$R/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"; echo 'root:x:0:' > "$R/etc/group"
tar --numeric-owner -C "$R" -cf "$work/busybox.tar" .

step strata import -c 'CMD ["/bin/sh"]' busybox.tar busybox:latest
$S import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' "$work/busybox.tar" busybox:latest
step strata save -o busybox-archive.tar busybox
$S save -o "$work/busybox-archive.tar" busybox
step strata rmi busybox
$S rmi busybox
step strata load -i busybox-archive.tar
$S load -i "$work/busybox-archive.tar"
step strata images
$S images
step strata history busybox
$S history busybox
step strata inspect --format '{{.Id}} layers={{json .RootFS.Layers}}' busybox
$S inspect --format '{{.Id}} layers={{json .RootFS.Layers}}' busybox
step strata system df -v
$S system df -v
step strata fsck
$S fsck
