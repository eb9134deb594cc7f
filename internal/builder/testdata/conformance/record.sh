#!/bin/sh
# Regenerates expected.json of every case (or of the cases named) from
# docker: DOCKER_BUILDKIT=1 docker build, docker save, then the listing
# tool turns the archive into what internal/builder's conformance test
# compares (filesystem differences from the base image, config fields,
# layer count). Needs docker and the lab registry (localhost:5000).
set -eu
cd "$(dirname "$0")"
here=$(pwd)
repo=$(cd ../../../.. && pwd)
DOCKER=${DOCKER:-/usr/bin/docker}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$work/listing" ./internal/builder/conformance/listing)
$DOCKER pull -q localhost:5000/busybox:latest >/dev/null
$DOCKER save localhost:5000/busybox:latest > "$work/busybox.tar"
gzip -n -9 -c "$work/busybox.tar" > busybox.tar.gz
cases=${*:-$(ls -d */ | tr -d /)}
for c in $cases; do
  echo "== $c"
  ctx="$work/$c"; mkdir -p "$ctx"; cp -a "$c/." "$ctx/"; rm -f "$ctx/expected.json"
  (cd "$ctx" && if [ -f setup.sh ]; then sh setup.sh && rm setup.sh; fi)
  args=""
  if [ -f "$c/build-args" ]; then for a in $(cat "$c/build-args"); do args="$args --build-arg $a"; done; rm -f "$ctx/build-args"; fi
  DOCKER_BUILDKIT=1 $DOCKER build -q --no-cache $args -t "strata-conformance-$c" "$ctx" >/dev/null
  $DOCKER save "strata-conformance-$c" > "$work/$c.tar"
  # Differences are listed against busybox, unless the image starts
  # from scratch.
  base="$work/busybox.tar"
  last_from=$(grep -i '^FROM' "$c/Dockerfile" | tail -1)
  case "$last_from" in *scratch*) base="";; esac
  "$work/listing" "$work/$c.tar" $base > "$c/expected.json"
  $DOCKER rmi -f "strata-conformance-$c" >/dev/null
done
