#!/bin/bash
# test.sh - the whole test suite, on a fresh Debian 12 machine with Go installed:
# installs the real tools the tests use, then vet, unit and integration tests, and
# a short run of every fuzz target. Run as root (overlay mounts, runc).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh git busybox-static zstd bzip2 skopeo umoci runc crun docker-registry podman chromium
export PATH=$PATH:/usr/local/go/bin
go version
go mod download
go vet ./...
# gofmt and staticcheck clean (deliberate uses of deprecated names carry a
# //lint:ignore with the reason).
unformatted=$(gofmt -l cmd internal tests)
if [ -n "$unformatted" ]; then echo "not gofmt-ed: $unformatted"; exit 1; fi
STATICCHECK_BIN=$(mktemp -d)
GOBIN=$STATICCHECK_BIN go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
"$STATICCHECK_BIN/staticcheck" ./...
rm -rf "$STATICCHECK_BIN"
go test -count=1 -timeout 20m ./...
# Every parser of outside input has a fuzz target; give each a short run.
FUZZTIME=${FUZZTIME:-8s}
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $f ($FUZZTIME)"
    log=$(mktemp)
    ok=0
    for try in 1 2; do
      if go test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$pkg" >"$log" 2>&1; then ok=1; break; fi
      # Go's fuzzer sometimes stops with "context deadline exceeded" as the
      # time runs out, having found nothing (no "Failing input" written):
      # that is the tool, not a finding, so the run is made once more.
      grep -q 'Failing input' "$log" || ! grep -q 'context deadline exceeded' "$log" && break
      echo "fuzz $pkg $f: the fuzzer timed out without a finding; again"
    done
    if [ $ok = 0 ]; then
      tail -40 "$log"; echo "fuzz $pkg $f FAILED (the input is under testdata/fuzz/$f)"; exit 1
    fi
    rm -f "$log"
  done
done
echo "all tests passed"
