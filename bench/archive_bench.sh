#!/bin/bash
# Benchmark of strata save/load against skopeo copy and docker save/load,
# side by side in one hyperfine run per operation, plus peak RSS from
# /usr/bin/time -v. Output goes to bench/out/archive/ (gitignored).
#
#   bench/archive_bench.sh            # bigfile (1 GiB one layer) and manyfiles (100,000 files)
#   RUNS=5 bench/archive_bench.sh bigfile
#
# The images are built with docker from /work/shared/anchors/dockerfiles
# under our own tags (strata-archive-bench/NAME), so that `docker load`
# really loads them (the image and its big layer are removed before each
# docker load run).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/archive
RUNS=${RUNS:-3}
DOCKER=${DOCKER:-/usr/bin/docker}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
IMAGES=("$@")
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(bigfile manyfiles)
mkdir -p "$OUT"
CGO_ENABLED=0 go build -o "$OUT/strata" ./cmd/strata
S="$PWD/$OUT/strata"
O="$PWD/$OUT"
summary="$OUT/summary.md"
: > "$summary"

. bench/lib.sh

for img in "${IMAGES[@]}"; do
	tag=strata-archive-bench/$img:latest
	if ! $DOCKER image inspect "$tag" > /dev/null 2>&1; then
		echo "== building $tag"
		DOCKER_BUILDKIT=1 $DOCKER build -q -t "$tag" "$DOCKERFILES/$img" > /dev/null
	fi
	in=$O/$img.docker.tar
	[ -f "$in" ] || $DOCKER save -o "$in" "$tag"
	$S --root "$O/root-$img" load -q -i "$in"
	ls -l "$in" >> "$summary"

	echo "## save $img (docker-archive)" | tee -a "$summary"
	hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$O/save-$img.md" \
		--prepare "rm -f $O/save.tar; sync" \
		-n "strata save" "$S --root $O/root-$img save -o $O/save.tar $tag" \
		-n "strata save --format oci-archive" "$S --root $O/root-$img save --format oci-archive -o $O/save.tar $tag" \
		-n "skopeo copy docker-archive: docker-archive:" "skopeo copy -q docker-archive:$in docker-archive:$O/save.tar:$tag" \
		-n "docker save" "$DOCKER save -o $O/save.tar $tag"
	cat "$O/save-$img.md" >> "$summary"

	echo "## load $img (docker-archive from docker save)" | tee -a "$summary"
	hyperfine --runs "$RUNS" --export-markdown "$O/load-$img.md" \
		-n "strata load" --prepare "rm -rf $O/root-load; sync" "$S --root $O/root-load load -q -i $in" \
		-n "strata load (stdin)" --prepare "rm -rf $O/root-load; sync" "$S --root $O/root-load load -q < $in" \
		-n "skopeo copy docker-archive: oci:" --prepare "rm -rf $O/oci-load; sync" "skopeo copy -q docker-archive:$in oci:$O/oci-load:x" \
		-n "docker load" --prepare "$DOCKER rmi $tag > /dev/null 2>&1 || true; sync" "$DOCKER load -q -i $in"
	cat "$O/load-$img.md" >> "$summary"

	echo "## peak RSS $img" >> "$summary"
	echo "| command | max RSS |" >> "$summary"
	echo "|---|---|" >> "$summary"
	rm -f "$O/save.tar"
	rss "strata save" "$S" --root "$O/root-$img" save -o "$O/save.tar" "$tag"
	rm -f "$O/save.tar"
	rss "skopeo copy docker-archive: docker-archive:" skopeo copy -q "docker-archive:$in" "docker-archive:$O/save.tar:$tag"
	rm -rf "$O/root-load"
	rss "strata load" "$S" --root "$O/root-load" load -q -i "$in"
	rm -rf "$O/oci-load"
	rss "skopeo copy docker-archive: oci:" skopeo copy -q "docker-archive:$in" "oci:$O/oci-load:x"
	echo "(docker's work is done by dockerd; its client's RSS is not comparable)" >> "$summary"
	rm -rf "$O/save.tar" "$O/oci-load" "$O/root-load"
	$DOCKER image inspect "$tag" > /dev/null 2>&1 || $DOCKER load -q -i "$in" > /dev/null
done
echo
cat "$summary"
