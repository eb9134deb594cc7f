#!/usr/bin/env bash
# Benchmark `strata analyze` against dive on a 1 GiB image and a
# 100,000-file image, and check both report the same efficiency score and
# wasted bytes (there and on the test fixtures of internal/analyze).
#
#   bench/analyze_bench.sh            # results in bench/out/analyze-*.txt
#
# Needs: go, docker (dockerd running, localhost:5000/busybox present for
# the anchor Dockerfiles), /usr/bin/time, python3. dive is built into a
# temporary GOBIN and never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
ANCHORS=${ANCHORS:-/work/shared/anchors/dockerfiles}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -z "${DIVE:-}" ]; then
  echo "building dive..."
  GOBIN="$tmp/bin" GOFLAGS=-mod=mod go install github.com/wagoodman/dive/cmd/dive@latest
  DIVE="$tmp/bin/dive"
fi
# Build the committed tree, not the working tree, which other work in
# progress may break.
mkdir -p "$tmp/src"
git archive HEAD | tar -x -C "$tmp/src"
(cd "$tmp/src" && CGO_ENABLED=0 go build -o "$tmp/strata" ./cmd/strata)
STRATA=${STRATA:-$tmp/strata}

for img in bigfile manyfiles whiteout; do
  if [ ! -f "$OUT/$img.tar" ]; then
    DOCKER_BUILDKIT=1 /usr/bin/docker build -q -t "strata-bench/$img" "$ANCHORS/$img" >/dev/null
    /usr/bin/docker save "strata-bench/$img" -o "$OUT/$img.tar"
  fi
done

# The fixtures of internal/analyze as docker-archives.
mkdir -p "$OUT/fixtures"
STRATA_ANALYZE_EXPORT="$PWD/$OUT/fixtures" sh -c "cd '$tmp/src' && go test -count=1 -run TestFixtures ./internal/analyze" >/dev/null

# measure NAME CMD...: elapsed seconds, peak RSS (KiB) and CPU seconds
# (user+sys; the fairer figure on a shared, noisy machine) of one run.
measure() {
  local name=$1; shift
  /usr/bin/time -v -o "$tmp/time" "$@" >"$tmp/$name.out" 2>&1 || true
  local el rss cpu
  el=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$tmp/time" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$tmp/time")
  cpu=$(awk -F': ' '/User time|System time/{s+=$2} END{print s}' "$tmp/time")
  echo "$el $rss $cpu"
}

# figures FILE: "efficiency wasted size" by dive (its JSON export) and strata.
figures() {
  rm -f "$tmp/d.json"
  "$DIVE" --json "$tmp/d.json" --source docker-archive "$1" >/dev/null 2>&1 || true
  "$STRATA" analyze --format json "docker-archive:$1" >"$tmp/s.json" || true
  python3 - "$tmp/d.json" "$tmp/s.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["image"]; s = json.load(open(sys.argv[2]))
same = d["efficiencyScore"] == s["efficiency"] and d["inefficientBytes"] == s["wastedBytes"] and d["sizeBytes"] == s["sizeBytes"]
print("%-5s dive: eff=%r wasted=%d size=%d | strata: eff=%r wasted=%d size=%d" % (
    "SAME" if same else "DIFF", d["efficiencyScore"], d["inefficientBytes"], d["sizeBytes"],
    s["efficiency"], s["wastedBytes"], s["sizeBytes"]))
PY
}

report="$OUT/analyze-$(date +%Y%m%d-%H%M%S).txt"
{
  echo "# strata analyze vs dive ($(date -u +%FT%TZ), $(nproc) CPUs)"
  echo "# dive: $DIVE --ci --source docker-archive FILE"
  echo "# strata: strata analyze --ci docker-archive:FILE   (and on the image loaded into a store)"
  printf "%-10s %8s %8s %10s | %8s %8s %10s | %7s %7s %7s | %8s %8s %10s\n" image dive_s dive_cpu dive_KiB strata_s str_cpu strata_KiB x_time x_cpu x_mem store_s st_cpu store_KiB
  for img in bigfile manyfiles whiteout; do
    f="$OUT/$img.tar"
    cat "$f" >/dev/null # same page cache for both
    root="$tmp/root-$img"
    "$STRATA" --root "$root" load -i "$f" >/dev/null
    # warm-up run of each, then the measured ones, interleaved
    "$DIVE" --ci --source docker-archive "$f" >/dev/null 2>&1 || true
    "$STRATA" analyze --ci "docker-archive:$f" >/dev/null 2>&1 || true
    read -r dt dm dc < <(measure dive "$DIVE" --ci --source docker-archive "$f")
    read -r st sm sc < <(measure strata "$STRATA" analyze --ci "docker-archive:$f")
    read -r rt rm rc < <(measure store "$STRATA" --root "$root" analyze --ci "strata-bench/$img")
    printf "%-10s %8s %8s %10s | %8s %8s %10s | %7.1f %7.1f %7.2f | %8s %8s %10s\n" "$img" "$dt" "$dc" "$dm" "$st" "$sc" "$sm" \
      "$(echo "$dt / ($st + 0.001)" | bc -l)" "$(echo "$dc / ($sc + 0.001)" | bc -l)" "$(echo "$sm / $dm" | bc -l)" "$rt" "$rc" "$rm"
  done
  echo
  echo "# x_time, x_cpu: dive / strata (docker-archive:); x_mem: strata / dive peak RSS"
  echo "# store_*: strata analyze on the same image loaded into a store (seekable blobs, no digest re-check)"
  echo
  echo "# same figures as dive (efficiency, wasted bytes, size)?"
  for f in "$OUT/bigfile.tar" "$OUT/manyfiles.tar" "$OUT/whiteout.tar" "$OUT"/fixtures/*.tar; do
    printf "%-28s " "$(basename "$f")"
    figures "$f"
  done
} | tee "$report"
echo "written $report"
