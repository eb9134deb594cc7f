#!/bin/sh
# Writes strata's man pages (one roff page per command, internal/cli/man.go) into DIR
# (default: man/), e.g. for a package: scripts/man.sh debian/strata/usr/share/man/man1
set -eu
dir=${1:-man}
cd "$(dirname "$0")/.."
go run ./cmd/strata gen-man "$dir"
echo "man pages in $dir: $(ls "$dir" | wc -l)"
