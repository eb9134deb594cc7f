#!/bin/bash
# fuzz.sh [DURATION] [REGEXP] - runs every Go fuzz target of the module (or
# those whose name matches REGEXP) for DURATION each (default 1m): each
# package's test binary is built once, with the fuzzer's instrumentation,
# and run from the package's directory, so that an input that fails is
# written under that package's testdata/fuzz/FuzzXxx/ and becomes a seed
# of every later `go test`. The corpus grown between runs is kept in Go's
# cache (go env GOCACHE)/fuzz, as `go test -fuzz` keeps it. Stops at the
# first failing target, printing where its input is.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
DURATION=${1:-1m}
MATCH=${2:-.}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache=$(go env GOCACHE)/fuzz
top=$(pwd)
total=0
while read -r dir pkg; do
  grep -qs '^func Fuzz' "$dir"/*_test.go || continue
  exe="$bin/$(echo "$pkg" | tr / _).test"
  go test -c -fuzz=. -o "$exe" "$pkg"
  for f in $("$exe" -test.list '^Fuzz' | grep "^Fuzz" | grep -E -- "$MATCH" || true); do
    echo "fuzz $pkg $f ($DURATION)"
    total=$((total + 1))
    log=$(mktemp)
    ok=0
    for try in 1 2; do
      if (cd "$dir" && "$exe" -test.run '^$' -test.fuzz "^$f\$" -test.fuzztime "$DURATION" \
            -test.fuzzminimizetime 5s -test.fuzzcachedir "$cache/$pkg") >"$log" 2>&1; then ok=1; break; fi
      # Go's fuzzer sometimes stops with "context deadline exceeded" as the
      # time runs out, having found nothing (no "Failing input" written):
      # that is the tool, not a finding, so the run is made once more.
      grep -q 'Failing input' "$log" || ! grep -q 'context deadline exceeded' "$log" && break
      echo "fuzz $pkg $f: the fuzzer timed out without a finding; again"
    done
    if [ $ok = 0 ]; then
      tail -40 "$log"
      echo "fuzz $pkg $f FAILED (the input is under ${dir#"$top"/}/testdata/fuzz/$f)"
      exit 1
    fi
    rm -f "$log"
  done
done < <(go list -f '{{.Dir}} {{.ImportPath}}' ./...)
echo "fuzzed $total targets for $DURATION each"
