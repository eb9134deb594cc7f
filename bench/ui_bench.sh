#!/usr/bin/env bash
# Time strata ui's pages in a real browser (headless chromium driven by
# chromedp, Navigation Timing): the images page of a store of 500 images,
# and the layer page of a 100,000-file layer (100 directories of 1,000)
# with one directory opened. The goal is under 200 ms each.
#
#   bench/ui_bench.sh             # results in bench/out/ui.txt
#   RUNS=10 bench/ui_bench.sh     # more loads per page (default 5)
#
# Figures, each a mean over the loads (the first load, which fills the
# server's caches, is not counted):
#   ms/page  from the navigation's start to the view drawn from the API
#   ms/load  Navigation Timing's loadEventEnd: the HTML, script and styles
#   ms/api   the API requests of one load, as the browser timed them
#   ms/then  (layer page) a click on /d050 until its 1,000 files are drawn
#
# Needs: go, chromium (apt-get install chromium). Making the 500 images
# takes a minute or two; the measured part takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out
mkdir -p "$OUT"
RUNS=${RUNS:-5}
go test -count=1 -run '^$' -bench 'ImagesPage500|LayerDir100k' -benchtime "${RUNS}x" -timeout 30m ./internal/ui/ |
	tee "$OUT/ui.raw.txt" |
	awk '/^Benchmark/ {
		name = $1; sub(/-[0-9]+$/, "", name); line = name ":"
		for (i = 3; i < NF; i += 2) if ($(i+1) ~ /^ms\//) line = line sprintf("  %s %.0f", $(i+1), $i)
		print line
	}' | tee "$OUT/ui.txt"
