#!/bin/bash
# Benchmark of `strata sbom` against `syft` on the same image archive: wall
# time and peak RSS of one run each (RUNS to change), and the ratios.
# Output goes to bench/out/sbom/ (gitignored).
#
#   bench/sbom_bench.sh                                  # debian:bookworm from localhost:5000
#   IMAGE=localhost:5000/busybox:latest bench/sbom_bench.sh
#   SYFT=/path/to/syft bench/sbom_bench.sh
#
# syft is $SYFT, else bench/out/sbom/syft, else built once with
# `go install github.com/anchore/syft/cmd/syft@latest` (big: minutes).
# The image is saved with docker (or skopeo) to a docker-archive that both
# tools read: no registry or daemon in the measured runs.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/sbom
RUNS=${RUNS:-1}
IMAGE=${IMAGE:-localhost:5000/debian:bookworm}
DOCKER=${DOCKER:-/usr/bin/docker}
mkdir -p "$OUT"
O="$PWD/$OUT"
CGO_ENABLED=0 go build -o "$O/strata" ./cmd/strata
S="$O/strata"
SYFT=${SYFT:-$O/syft}
if [ ! -x "$SYFT" ]; then
	GOFLAGS=-mod=mod GOBIN="$O" go install github.com/anchore/syft/cmd/syft@latest
	SYFT=$O/syft
fi
export SYFT_CHECK_FOR_APP_UPDATE=false
summary="$OUT/summary.md"
: > "$summary"

. bench/lib.sh

archive="$O/image.tar"
if [ ! -s "$archive" ]; then
	if $DOCKER image inspect "$IMAGE" > /dev/null 2>&1 || $DOCKER pull -q "$IMAGE" > /dev/null; then
		$DOCKER save -o "$archive" "$IMAGE"
	else
		skopeo copy --src-tls-verify=false "docker://$IMAGE" "docker-archive:$archive:$IMAGE"
	fi
fi

# seconds command...: the wall time of the best of RUNS runs.
seconds() {
	local best="" s e t
	for _ in $(seq "$RUNS"); do
		s=$(date +%s.%N)
		"$@" > /dev/null 2>&1
		e=$(date +%s.%N)
		t=$(echo "$e - $s" | bc)
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
	done
	echo "$best"
}

st=$(seconds "$S" sbom --format json "docker-archive:$archive")
yt=$(seconds "$SYFT" scan "docker-archive:$archive" -o json -q)
sr=$(peak_rss_mib "$S" sbom --format json "docker-archive:$archive")
yr=$(peak_rss_mib "$SYFT" scan "docker-archive:$archive" -o json -q)
sn=$("$S" sbom --format json "docker-archive:$archive" 2> /dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))')
yn=$("$SYFT" scan "docker-archive:$archive" -o json -q 2> /dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["artifacts"]))')
{
	echo "# strata sbom vs syft: $IMAGE (docker-archive, best of $RUNS)"
	echo
	echo "| tool | wall | peak RSS | packages |"
	echo "|---|---|---|---|"
	printf '| strata sbom | %.3f s | %s MiB | %s |\n' "$st" "$sr" "$sn"
	printf '| syft | %.3f s | %s MiB | %s |\n' "$yt" "$yr" "$yn"
	echo
	printf 'syft/strata: %.1fx the time, %.1fx the memory\n' "$(echo "$yt / $st" | bc -l)" "$(echo "$yr / $sr" | bc -l)"
} >> "$summary"
cat "$summary"
