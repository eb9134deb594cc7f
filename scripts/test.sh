#!/bin/bash
# test.sh - the whole test suite, on a fresh Debian 12 machine with Go installed:
# installs the real tools the tests use, then vet, unit and integration tests, and
# a short run of every fuzz target. Run as root (overlay mounts, runc).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh git busybox-static zstd bzip2 skopeo umoci runc crun tini docker-registry podman chromium openssh-client containernetworking-plugins iptables curl qemu-user-static binfmt-support uidmap slirp4netns groff-base
# Multi-platform builds run arm64 programs through qemu-user: binfmt_misc
# mounted, qemu's handlers registered, and an arm64 busybox to build on
# (kept in /var/cache/strata-test between runs).
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable >/dev/null 2>&1 || true
scripts/foreign-busybox.sh arm64
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
# Every parser of outside input has a fuzz target; give each a short run
# (scripts/fuzz.sh DURATION runs them longer).
scripts/fuzz.sh "${FUZZTIME:-5s}"
echo "all tests passed"
