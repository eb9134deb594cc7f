#!/bin/bash
# foreign-busybox.sh DEBIAN-ARCH... - fetch Debian's busybox-static for other
# architectures (e.g. arm64) and unpack it where the multi-platform tests read
# it: ${STRATA_TEST_CACHE:-/var/cache/strata-test}/busybox/ARCH/bin/busybox.
# Kept between runs: a present binary is not fetched again. Run as root
# (dpkg --add-architecture, apt-get update).
set -euo pipefail
cache=${STRATA_TEST_CACHE:-/var/cache/strata-test}/busybox
for arch in "$@"; do
  [ -x "$cache/$arch/bin/busybox" ] && continue
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    dpkg --add-architecture "$arch"
    apt-get update -qq
  fi
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq "busybox-static:$arch" 2>/dev/null || { apt-get update -qq && apt-get download -qq "busybox-static:$arch"; })
  mkdir -p "$cache/$arch.tmp"
  dpkg-deb -x "$tmp"/busybox-static_*_"$arch".deb "$cache/$arch.tmp"
  rm -rf "$tmp" "$cache/$arch"
  mv "$cache/$arch.tmp" "$cache/$arch"
done
