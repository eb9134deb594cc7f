#!/bin/bash
# strata at an earlier revision against strata now, side by side in one
# hyperfine run per case: what a change made faster, and that nothing got
# slower. Each binary has a store of its own. Output: bench/out/ab/
# (gitignored): one hyperfine JSON/markdown per case and summary.md.
#
#   bench/ab_bench.sh REV                   # every case
#   RUNS=5 bench/ab_bench.sh main~3 start cached
#
# Cases:
#   start      run --rm --network none busybox true
#   cached     fully cached rebuild of bench/build/tenstep (10 steps)
#   manyfiles  cold build (--no-cache) of the manyfiles Dockerfile: RUN
#              steps and a 100,000-file layer
#   bigfile    cold build of the bigfile Dockerfile: a 1 GiB layer
#   load       load of a 1 GiB docker-archive into an empty store
#   pull       pull of that image from the local registry into an empty store
#   unpack     first run --rm of debian:bookworm just pulled (its layer
#              unpacked), on a fresh journaled ext4 (journaled_fs)
#   unpack3    the same for the whiteout Dockerfile's image (three layers,
#              200 MiB, whiteouts and an opaque directory)
# Base images come from the lab registry (localhost:5000).
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:?usage: bench/ab_bench.sh REV [CASE...]}
shift
RUNS=${RUNS:-3}
REGISTRY=${REGISTRY:-localhost:5000}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(start cached manyfiles bigfile load pull unpack unpack3)
. bench/lib.sh
bench_start bench/out/ab "strata $(git rev-parse --short "$REV") (old) against $(git rev-parse --short HEAD) (new)"

# The old binary, built from a worktree of REV.
wt=$(mktemp -d)
trap 'git worktree remove --force "$wt"' EXIT
git worktree add -q --detach "$wt" "$REV"
(cd "$wt" && CGO_ENABLED=0 go build -o "$O/strata-old" ./cmd/strata)
old="$O/strata-old --root $O/root-old" new="$S --root $O/root-new"
# Fresh stores each time: the cold builds of earlier runs stay in them as
# dangling images (18 GB each after a day of runs).
rm -rf "$O/root-old" "$O/root-new"
for s in "$old" "$new"; do
	$s pull -q "$REGISTRY/busybox:latest" > /dev/null
done

# ab NAME RUNS [hyperfine args...] -- OLD-COMMAND-SUFFIX: one run of both.
ab() {
	local name=$1 runs=$2 cmd=$3
	shift 3
	hf "$name" "$runs" "$@" -n old "$old $cmd" -n new "$new $cmd"
}

for c in "${CASES[@]}"; do
	echo "== $c"
	case $c in
	start)
		ab start $((RUNS * 10)) "run --rm --network none $REGISTRY/busybox:latest true" -N --warmup 3
		;;
	cached)
		for s in "$old" "$new"; do $s build -q -t ab/tenstep bench/build/tenstep > /dev/null; done
		ab cached $((RUNS * 3)) "build -q -t ab/tenstep bench/build/tenstep" -N --warmup 1
		;;
	manyfiles | bigfile)
		ab "$c" "$RUNS" "build -q --no-cache -t ab/$c -f $DOCKERFILES/$c/Dockerfile $DOCKERFILES/$c"
		;;
	load | pull)
		if [ ! -f "$O/big.tar" ]; then
			$new build -q -f "$DOCKERFILES/bigfile/Dockerfile" -t ab/big "$DOCKERFILES/bigfile" > /dev/null
			$new save -o "$O/big.tar" ab/big
			$new tag ab/big "$REGISTRY/strata-ab/big:latest"
			$new push -q "$REGISTRY/strata-ab/big:latest" > /dev/null
		fi
		if [ "$c" = load ]; then
			hf load "$RUNS" --prepare "rm -rf $O/l-old $O/l-new; sync" \
				-n old "$O/strata-old --root $O/l-old load -q -i $O/big.tar" \
				-n new "$S --root $O/l-new load -q -i $O/big.tar"
		else
			hf pull "$RUNS" --prepare "rm -rf $O/l-old $O/l-new; sync" \
				-n old "$O/strata-old --root $O/l-old pull -q $REGISTRY/strata-ab/big:latest" \
				-n new "$S --root $O/l-new pull -q $REGISTRY/strata-ab/big:latest"
		fi
		rm -rf "$O/l-old" "$O/l-new"
		;;
	unpack | unpack3)
		fs="$O/unpack-fs" ref="$REGISTRY/debian:bookworm"
		if [ "$c" = unpack3 ]; then
			ref="$REGISTRY/strata-ab/whiteout:latest"
			$new build -q -f "$DOCKERFILES/whiteout/Dockerfile" -t "$ref" "$DOCKERFILES/whiteout" > /dev/null
			$new push -q "$ref" > /dev/null
		fi
		journaled_fs "$fs"
		$S --root "$fs/src" pull -q "$ref" > /dev/null
		hf "$c" "$RUNS" --prepare "sh -c 'rm -rf $fs/old $fs/new && cp -a $fs/src $fs/old && cp -a $fs/src $fs/new && sync'" \
			-n old "$O/strata-old --root $fs/old run --rm --network none $ref true" \
			-n new "$S --root $fs/new run --rm --network none $ref true"
		release_fs "$fs"
		;;
	*)
		echo "unknown case $c" >&2
		exit 2
		;;
	esac
done
python3 - "$O" "${CASES[@]}" << 'PY' | tee -a "$summary"
import json, sys, statistics
out = sys.argv[1]
print("\n| case | old s | new s | new/old |\n|---|---|---|---|")
for c in sys.argv[2:]:
    try:
        rs = {r["command"]: statistics.median(r["times"]) for r in json.load(open(f"{out}/{c}.json"))["results"]}
    except OSError:
        continue
    print(f"| {c} | {rs['old']:.3f} | {rs['new']:.3f} | {rs['new']/rs['old']:.2f}x |")
PY
