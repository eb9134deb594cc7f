#!/bin/bash
# Benchmark of a two-platform build (linux/amd64 + linux/arm64, arm64 RUN
# steps through qemu-user-static): `strata build --platform A,B -t NAME`
# against `podman build --platform A,B --manifest NAME` (buildah), cold
# (--no-cache, base images present), one hyperfine run per case, with the
# ratio printed. Output: bench/out/multiplatform/ (gitignored).
#
#   bench/multiplatform_bench.sh            # small and context
#   RUNS=3 bench/multiplatform_bench.sh small
#
# Cases: the anchors' small and context Dockerfiles (as bench/build_bench.sh
# runs them for one platform) on a multi-platform busybox that this script
# builds with strata from Debian's busybox-static for both architectures
# (scripts/foreign-busybox.sh) and pushes to the lab registry
# (localhost:5000/strata-multiarch-bench/busybox:multi).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/multiplatform
RUNS=${RUNS:-2}
PODMAN=${PODMAN:-podman}
# crun refuses this machine's hybrid cgroups ("drop all controllers from
# cgroupv2"); runc runs.
PODMAN_RUNTIME=${PODMAN_RUNTIME:-runc}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
CONTEXT=${CONTEXT:-/var/lab/ctx/context}
REG=${REG:-localhost:5000}
BASE=$REG/strata-multiarch-bench/busybox:multi
PLATFORMS=linux/amd64,linux/arm64
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(small context)
. bench/lib.sh
bench_start "$OUT" "two-platform build benchmark ($PLATFORMS)"

# The multi-platform base: a busybox root filesystem per architecture,
# built for both at once and pushed.
scripts/foreign-busybox.sh arm64
base="$O/base"
rm -rf "$base"; mkdir -p "$base"
for arch in amd64 arm64; do
	r="$base/rootfs-$arch"
	mkdir -p "$r/bin" "$r/tmp" "$r/etc"
	if [ $arch = amd64 ]; then cp /bin/busybox "$r/bin/busybox"; else cp "${STRATA_TEST_CACHE:-/var/cache/strata-test}/busybox/arm64/bin/busybox" "$r/bin/busybox"; fi
	for a in $(/bin/busybox --list-full); do
		[ "$a" = bin/busybox ] && continue
		mkdir -p "$r/$(dirname "$a")"
		ln -sf /bin/busybox "$r/$a"
	done
done
printf 'FROM scratch\nARG TARGETARCH\nCOPY rootfs-$TARGETARCH/ /\nENV PATH=/usr/sbin:/usr/bin:/sbin:/bin\nCMD ["sh"]\n' > "$base/Dockerfile"
$S build -q --platform $PLATFORMS -t $BASE "$base" > /dev/null
$S push -q $BASE > /dev/null
# podman pulls each platform's base once (the warm-up run), then finds it.
$PODMAN rmi -f $BASE > /dev/null 2>&1 || true

# vs_podman case hyperfine-args...: hf, then strata's time over podman's
# (below 1: strata is faster).
vs_podman() {
	local name=$1
	shift
	hf "$name" "$RUNS" --warmup 1 "$@"
	jq -r '[.results[] | {(.command): .mean}] | add | "strata/podman: \(.strata / .podman * 1000 | round / 1000) (strata \(.strata * 1000 | round) ms, podman \(.podman * 1000 | round) ms)"' "$O/$name.json" | tee -a "$summary"
}

for c in "${CASES[@]}"; do
	echo "== $c"
	d="$O/$c"
	rm -rf "$d"
	case $c in
	small) cp -a "$DOCKERFILES/small" "$d" ;;
	context) mkdir -p "$d"; cp "$DOCKERFILES/context/Dockerfile" "$d/"; cp -a "$CONTEXT/." "$d/" ;;
	*) echo "unknown case $c" >&2; exit 2 ;;
	esac
	sed -i "s|^FROM localhost:5000/busybox:latest|FROM $BASE|" "$d/Dockerfile"
	vs_podman "$c" \
		-n strata --prepare true "$S build -q --no-cache --platform $PLATFORMS -t bench/multi:$c $d" \
		-n podman --prepare "$PODMAN manifest rm bench/multi:$c >/dev/null 2>&1 || true" \
		"$PODMAN build --runtime $PODMAN_RUNTIME -q --no-cache --tls-verify=false --platform $PLATFORMS --manifest bench/multi:$c $d"
	rss "strata $c" "$S" build -q --no-cache --platform $PLATFORMS -t bench/multi:$c "$d"
done
cat "$summary"
