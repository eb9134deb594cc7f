#!/bin/bash
# Benchmark of a CI job's build in an unprivileged container: the strata CI
# image (ci/Dockerfile) under docker's default seccomp profile and
# capabilities, where strata chooses chroot isolation by itself, against
# `buildah bud --isolation chroot --storage-driver vfs` in a container given
# the least it needs (--cap-add SYS_ADMIN --security-opt seccomp=unconfined).
# Each job is a fresh container (nothing stored: pull the base, build
# bench/ci/Dockerfile, push to the lab registry), one run each, as a CI
# job is; then strata's second job with the first's registry cache.
# Output: bench/out/ci/ (gitignored): hyperfine JSON/markdown, summary.md.
#
#   bench/ci_bench.sh
#
# The CI image is built by strata (BINARY=prebuilt: the binary built here;
# BASE: the lab's Debian, no packages: chroot isolation needs none), the
# buildah image by strata too (Debian's buildah package, from the network
# once), both pushed to the lab registry and pulled into docker.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/ci
DOCKER=${DOCKER:-/usr/bin/docker}
REGISTRY=${REGISTRY:-localhost:5000}
. bench/lib.sh
bench_start "$OUT" "strata build in an unprivileged CI container vs buildah"

ci=$REGISTRY/strata-bench/ci:latest
bah=$REGISTRY/strata-bench/buildah:bookworm
mkdir -p "$O/ci-ctx" "$O/buildah"
cp "$S" "$O/ci-ctx/strata"
$S build -q -f ci/Dockerfile --build-arg BINARY=prebuilt --build-arg BASE=$REGISTRY/debian:bookworm \
	--build-arg PACKAGES= --push -t "$ci" "$O/ci-ctx" > /dev/null
if ! $DOCKER pull -q "$bah" > /dev/null 2>&1; then
	printf 'FROM %s/debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends buildah && rm -rf /var/lib/apt/lists/*\n' \
		"$REGISTRY" > "$O/buildah/Dockerfile"
	$S build -q --push -t "$bah" "$O/buildah" > /dev/null
fi
$DOCKER pull -q "$ci" > /dev/null
$DOCKER pull -q "$bah" > /dev/null

ctx=$PWD/bench/ci
tag=$REGISTRY/strata-bench/ci-app
run_strata="$DOCKER run --rm --network host -v $ctx:/workspace $ci build -q"
run_buildah="$DOCKER run --rm --network host --cap-add SYS_ADMIN --security-opt seccomp=unconfined -v $ctx:/workspace $bah"
bah_job="buildah bud -q --isolation chroot --storage-driver vfs --tls-verify=false -t $tag:buildah /workspace > /dev/null && buildah push -q --storage-driver vfs --tls-verify=false $tag:buildah"
# The cache the cached job reads, and what the chroot line says.
$run_strata --push -t "$tag:strata" --cache-to "type=registry,ref=$tag:cache" /workspace > "$O/first.log" 2>&1
grep isolation "$O/first.log" | tee -a "$summary"

hf cold 1 \
	-n "strata (chroot isolation, docker default profile)" "$run_strata --push -t $tag:strata /workspace" \
	-n "buildah bud --isolation chroot --storage-driver vfs (SYS_ADMIN, seccomp=unconfined)" "$run_buildah sh -c '$bah_job'" \
	-n "strata, second job (--cache-from: no RUN)" "$run_strata --push -t $tag:strata --cache-from type=registry,ref=$tag:cache /workspace"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$summary"
python3 - "$O/cold.json" >> "$summary" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
s, b, c = (x["mean"] for x in r)
print(f"\nstrata / buildah: {s / b:.2f} (cold job), {c / b:.2f} (second job with the registry cache)")
PY
cat "$summary"
