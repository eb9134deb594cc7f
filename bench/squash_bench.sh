#!/bin/bash
# Benchmark of `strata image squash` (all layers into one) against
# `podman build --squash-all` and `crane flatten`, and against the
# machine's floor for the same bytes (one pass of the image's layers
# through gzip -1, the compression every tool here writes, and through
# sha256sum), side by side in one hyperfine run per image, plus peak RSS
# from /usr/bin/time -v. Output goes to bench/out/squash/ (gitignored).
#
#   bench/squash_bench.sh            # bigfile (1 GiB) and manyfiles (100,000 files)
#   RUNS=5 bench/squash_bench.sh manyfiles
#
# The images are built with docker from /work/shared/anchors/dockerfiles
# (busybox + one big layer); each tool squashes the two layers into one:
# strata in its store, podman in its store (a Dockerfile FROM the image
# with --squash-all), crane registry to registry (localhost:5000; crane
# is built with go install from go-containerregistry, the version go.mod
# has).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/squash
RUNS=${RUNS:-3}
DOCKER=${DOCKER:-/usr/bin/docker}
REGISTRY=${REGISTRY:-localhost:5000}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
IMAGES=("$@")
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(bigfile manyfiles)
mkdir -p "$OUT"
O="$PWD/$OUT"
CGO_ENABLED=0 go build -o "$O/strata" ./cmd/strata
S="$O/strata"
ggcr=$(go list -m -f '{{.Version}}' github.com/google/go-containerregistry)
[ -x "$O/crane" ] || GOBIN="$O" go install "github.com/google/go-containerregistry/cmd/crane@$ggcr"
summary="$OUT/summary.md"
: > "$summary"

. bench/lib.sh

for img in "${IMAGES[@]}"; do
	tag=strata-squash-bench/$img:latest
	if ! $DOCKER image inspect "$tag" > /dev/null 2>&1; then
		echo "== building $tag"
		DOCKER_BUILDKIT=1 $DOCKER build -q -t "$tag" "$DOCKERFILES/$img" > /dev/null
	fi
	in=$O/$img.docker.tar
	[ -f "$in" ] || $DOCKER save -o "$in" "$tag"
	root=$O/root-$img
	[ -d "$root" ] || $S --root "$root" load -q -i "$in"
	podman image exists "$tag" || podman load -q -i "$in" > /dev/null
	remote=$REGISTRY/strata-squash-bench-$img:latest
	$S --root "$root" push -q "$tag" "$remote" > /dev/null
	# The floor: the image's layers, uncompressed, through gzip -1 (what a
	# squash must at least write) and through sha256sum (what it must at
	# least read and hash).
	layers=$O/$img.layers.tar
	[ -f "$layers" ] || tar -xOf "$in" --wildcards '*.tar' > "$layers"
	printf 'FROM %s\nLABEL squashed=1\n' "$tag" > "$O/Dockerfile.$img"
	ls -l "$in" >> "$summary"

	echo "## squash $img (all layers into one)" | tee -a "$summary"
	hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$O/squash-$img.md" \
		-n "strata image squash" --prepare "$S --root $root rmi -f sq:1 > /dev/null 2>&1 || true; sync" \
		"$S --root $root image squash -t sq:1 $tag" \
		-n "podman build --squash-all" --prepare "podman rmi -f sq:1 > /dev/null 2>&1 || true; sync" \
		"podman build -q --squash-all -t sq:1 -f $O/Dockerfile.$img $O" \
		-n "crane flatten" --prepare "sync" "$O/crane flatten --insecure $remote -t $remote-flat" \
		-n "floor: gzip -1 of the layers" --prepare "sync" "gzip -1 -c $layers > /dev/null" \
		-n "floor: sha256sum of the layers" --prepare "sync" "sha256sum $layers"
	cat "$O/squash-$img.md" >> "$summary"

	echo "## peak RSS $img" >> "$summary"
	echo "| command | max RSS |" >> "$summary"
	echo "|---|---|" >> "$summary"
	$S --root "$root" rmi -f sq:1 > /dev/null 2>&1 || true
	rss "strata image squash" "$S" --root "$root" image squash -t sq:1 "$tag"
	podman rmi -f sq:1 > /dev/null 2>&1 || true
	rss "podman build --squash-all" podman build -q --squash-all -t sq:1 -f "$O/Dockerfile.$img" "$O"
	rss "crane flatten" "$O/crane" flatten --insecure "$remote" -t "$remote-flat"
	rm -f "$layers"
done
echo
cat "$summary"
