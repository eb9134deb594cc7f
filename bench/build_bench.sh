#!/bin/bash
# Benchmark of strata build against `DOCKER_BUILDKIT=1 docker build` and
# `buildah bud --layers`, side by side in one hyperfine run per case, plus
# strata's peak RSS from /usr/bin/time -v. Output: bench/out/build/
# (gitignored): one hyperfine JSON/markdown per case and summary.md.
#
#   bench/build_bench.sh                  # all cases
#   RUNS=5 bench/build_bench.sh cached change
#
# Cases:
#   cached    fully cached rebuild of bench/build/tenstep (10 steps)
#   change    rebuild after one file under the last COPY changed
#             (checks that only the last layer is remade)
#   bigfile manyfiles context
#             cold builds (--no-cache, base image present) of the anchor
#             Dockerfiles; context uses /var/lab/ctx/context
# Base images come from the lab registry (localhost:5000).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/build
RUNS=${RUNS:-3}
COLD_RUNS=${COLD_RUNS:-2}
DOCKER=${DOCKER:-/usr/bin/docker}
BUILDAH=${BUILDAH:-buildah}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
CONTEXT=${CONTEXT:-/var/lab/ctx/context}
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(cached change bigfile manyfiles context)
. bench/lib.sh
bench_start "$OUT" "strata build benchmark"

# Base images in every engine.
$S pull -q localhost:5000/busybox:latest > /dev/null
$DOCKER pull -q localhost:5000/busybox:latest > /dev/null
timeout 300 $BUILDAH pull -q localhost:5000/busybox:latest > /dev/null

rss() { # name, command...: strata's peak RSS of one run
	echo "peak RSS of strata ($1): $(peak_rss_mib "${@:2}") MiB" | tee -a "$summary"
}

# A writable copy of the 10-step project.
ten="$O/tenstep"
rm -rf "$ten"; cp -a bench/build/tenstep "$ten"

for c in "${CASES[@]}"; do
	echo "== $c"
	case $c in
	cached)
		$S build -q -t bench/ten "$ten" > /dev/null
		DOCKER_BUILDKIT=1 $DOCKER build -q -t bench/ten "$ten" > /dev/null
		$BUILDAH bud --layers -q -t bench/ten "$ten" > /dev/null
		hf cached "$RUNS" --warmup 1 \
			-n strata "$S build -q -t bench/ten $ten" \
			-n buildkit "DOCKER_BUILDKIT=1 $DOCKER build -q -t bench/ten $ten" \
			-n buildah "$BUILDAH bud --layers -q -t bench/ten $ten"
		rss cached "$S" build -q -t bench/ten "$ten"
		;;
	change)
		# Each run changes one file under the last COPY (src/app).
		prep="date +%s%N > $ten/src/app/changing.txt"
		eval "$prep"
		$S build -q -t bench/ten "$ten" > /dev/null
		hf change "$RUNS" \
			-n strata --prepare "$prep" "$S build -q -t bench/ten $ten" \
			-n buildkit --prepare "$prep" "DOCKER_BUILDKIT=1 $DOCKER build -q -t bench/ten $ten" \
			-n buildah --prepare "$prep" "$BUILDAH bud --layers -q -t bench/ten $ten"
		eval "$prep"
		$S build --progress=plain -t bench/ten "$ten" > /dev/null 2> "$O/change.log"
		echo "steps remade after a change under the last COPY: $(grep -c '^#[0-9]* DONE' "$O/change.log" | awk '{print $1-2}') (exporting and .dockerignore excluded); cached: $(grep -c CACHED "$O/change.log")" | tee -a "$summary"
		grep 'cache miss' "$O/change.log" | tee -a "$summary"
		rss change "$S" build -q -t bench/ten "$ten"
		;;
	bigfile | manyfiles | context)
		df="$DOCKERFILES/$c/Dockerfile"
		ctx="$DOCKERFILES/$c"
		[ "$c" = context ] && ctx="$CONTEXT"
		# Each engine drops the image the previous run left untagged
		# (not timed): a 1 GiB layer per run would fill the disk.
		hf "$c" "$COLD_RUNS" \
			--prepare "$S image prune -f > /dev/null" -n strata "$S build -q --no-cache -f $df -t bench/$c $ctx" \
			--prepare "$DOCKER image prune -f > /dev/null" -n buildkit "DOCKER_BUILDKIT=1 $DOCKER build -q --no-cache -f $df -t bench/$c $ctx" \
			--prepare "$BUILDAH rmi --prune > /dev/null" -n buildah "$BUILDAH bud --layers --no-cache -q -f $df -t bench/$c $ctx"
		rss "$c" "$S" build -q --no-cache -f "$df" -t "bench/$c" "$ctx"
		;;
	*)
		echo "unknown case $c" >&2
		exit 2
		;;
	esac
done
# Ratios (BuildKit / strata, buildah / strata) from the hyperfine medians.
python3 - "$O" "${CASES[@]}" << 'PY' | tee -a "$summary"
import json, sys, statistics
out = sys.argv[1]
print("\n| case | strata s | buildkit s | buildah s | buildkit/strata | buildah/strata |\n|---|---|---|---|---|---|")
for c in sys.argv[2:]:
    try:
        rs = {r["command"]: statistics.median(r["times"]) for r in json.load(open(f"{out}/{c}.json"))["results"]}
    except OSError:
        continue
    s, k, b = rs.get("strata"), rs.get("buildkit"), rs.get("buildah")
    print(f"| {c} | {s:.3f} | {k:.3f} | {b:.3f} | {k/s:.1f}x | {b/s:.1f}x |")
PY
