#!/bin/sh
# Container benchmarks: strata against podman on the same busybox image.
#   1. `run --rm IMAGE true` latency (hyperfine, side by side, ratio)
#   2. disk use of 20 containers of one 100 MiB image (each writes 1 MiB)
#   3. commit of a 1 GiB change vs `podman commit`
# Usage: bench/container_bench.sh [STRATA_BINARY]   (needs root, podman, hyperfine)
# Output: bench/out/container-*.{json,txt}
set -eu
cd "$(dirname "$0")/.."
OUT=bench/out; mkdir -p "$OUT"
S=${1:-}
if [ -z "$S" ]; then S=$(mktemp -d)/strata; CGO_ENABLED=0 go build -o "$S" ./cmd/strata; fi
ROOT=$(mktemp -d /var/tmp/strata-bench-XXXXXX)
TAR=/var/lab/busybox-rootfs.tar
P="podman"
cleanup() {
  "$S" --root "$ROOT" rm -f $("$S" --root "$ROOT" ps -aq) >/dev/null 2>&1 || true
  $P rm -f strata-bench-big >/dev/null 2>&1 || true
  $P rm -f $($P ps -aq --filter name=strata-bench-) >/dev/null 2>&1 || true
  $P rmi -f strata-bench/busybox strata-bench/big strata-bench/committed >/dev/null 2>&1 || true
  rm -rf "$ROOT"
}
trap cleanup EXIT
st() { "$S" --root "$ROOT" "$@"; }

echo "== images" | tee "$OUT/container-summary.txt"
st import -c 'CMD ["sh"]' "$TAR" busybox >/dev/null
$P import -q -c 'CMD ["sh"]' "$TAR" strata-bench/busybox >/dev/null
st run --rm busybox true; $P run --rm --network host strata-bench/busybox true
echo "strata storage driver: $(cat /dev/null; ls "$ROOT/snapshots")" | tee -a "$OUT/container-summary.txt"

echo "== 1. run --rm true latency" | tee -a "$OUT/container-summary.txt"
hyperfine -N --warmup 3 --runs 15 --export-json "$OUT/container-run.json" \
  -n strata "$S --root $ROOT run --rm busybox true" \
  -n podman-host-net "$P run --rm --network host strata-bench/busybox true" \
  -n podman-default "$P run --rm strata-bench/busybox true" | tee "$OUT/container-run.txt"
python3 - "$OUT/container-run.json" <<'PY' | tee -a "$OUT/container-summary.txt"
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
s = r["strata"]["median"]
for k in ("podman-host-net", "podman-default"):
    print(f"strata {s*1000:.0f} ms vs {k} {r[k]['median']*1000:.0f} ms (median): ratio strata/podman = {s/r[k]['median']:.2f}")
PY

echo "== 2. disk use of 20 containers of a 100 MiB image" | tee -a "$OUT/container-summary.txt"
CTX=$(mktemp -d); mkdir -p "$CTX/r"; tar -C "$CTX/r" -xf "$TAR"
head -c 104857600 /dev/urandom > "$CTX/r/big.bin"; tar -C "$CTX/r" -cf "$CTX/big.tar" .
st import -c 'CMD ["sh"]' "$CTX/big.tar" big >/dev/null; rm -rf "$CTX"
st run --rm big true  # unpack once
b0=$(du -sxk "$ROOT/snapshots" | cut -f1)
for i in $(seq 1 20); do st run --name "d$i" big dd if=/dev/zero of=/w bs=1M count=1 2>/dev/null; done
b1=$(du -sxk "$ROOT/snapshots" | cut -f1)
echo "snapshots: $b0 KiB with the image unpacked; $b1 KiB with 20 containers that each wrote 1 MiB: +$(( (b1-b0)/1024 )) MiB (a copy per container would be +$((20*100)) MiB)" | tee -a "$OUT/container-summary.txt"
for i in $(seq 1 20); do st rm "d$i" >/dev/null; done

echo "== 3. commit of a 1 GiB change" | tee -a "$OUT/container-summary.txt"
st run --name big1 busybox dd if=/dev/urandom of=/big bs=1M count=1024 2>/dev/null
$P run --name strata-bench-big --network host strata-bench/busybox dd if=/dev/urandom of=/big bs=1M count=1024 2>/dev/null
sync
for i in 1 2 3; do
  /usr/bin/time -f "strata commit: %e s" "$S" --root "$ROOT" commit big1 "committed:$i" >/dev/null 2>>"$OUT/container-commit.txt" || true
  /usr/bin/time -f "podman commit: %e s" $P commit -q strata-bench-big "strata-bench/committed:$i" >/dev/null 2>>"$OUT/container-commit.txt" || true
  $P rmi "strata-bench/committed:$i" >/dev/null 2>&1 || true
  st rmi "committed:$i" >/dev/null 2>&1 || true
done
grep commit "$OUT/container-commit.txt" | tail -6 | tee -a "$OUT/container-summary.txt"
