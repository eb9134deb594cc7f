#!/bin/bash
# demo.sh - strata's main job end to end on a fresh Debian 12 machine with Go:
# build strata, make a busybox base image offline from Debian's busybox-static,
# import it, save and load it, then show its layers (images, history, inspect);
# run a container that changes files, show its diff, commit it, show the history.
# Run as root. The store is $STRATA_ROOT (default /var/lib/strata).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh busybox-static runc containernetworking-plugins iptables
export PATH=$PATH:/usr/local/go/bin
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

CGO_ENABLED=0 go build -o bin/strata ./cmd/strata
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
step strata run --name demo busybox sh -c '...change files...'
$S rm -f demo >/dev/null 2>&1 || true
$S run --name demo busybox sh -c 'echo hello > /root/greeting && rm /bin/vi && chmod 700 /tmp && ls -l /root'
step strata diff demo
$S diff demo
step strata commit -c 'CMD ["cat", "/root/greeting"]' -m 'add a greeting' demo busybox:greeting
$S commit -c 'CMD ["cat", "/root/greeting"]' -m 'add a greeting' demo busybox:greeting
$S rm demo
step strata run --rm busybox:greeting
$S run --rm busybox:greeting
step strata history busybox:greeting
$S history busybox:greeting
step strata fsck
$S fsck

# Build: a multi-stage Dockerfile (examples/multistage), twice: the second
# time every step is CACHED. Then the image's history and a run.
step strata build -t greet:latest examples/multistage
$S build --progress=plain -t greet:latest examples/multistage
step strata build -t greet:latest examples/multistage   '# again: all CACHED'
$S build --progress=plain -t greet:latest examples/multistage
step strata history greet:latest
$S history greet:latest
step strata run --rm greet:latest
$S run --rm greet:latest
