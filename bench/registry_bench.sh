#!/bin/bash
# Benchmark of strata push/pull against skopeo copy and podman push/pull, side
# by side in one hyperfine run per operation, on the same loopback registry,
# plus peak RSS from /usr/bin/time -v. Output: bench/out/registry/ (gitignored),
# summary in bench/out/registry/summary.md.
#
#   bench/registry_bench.sh                 # bigfile (1 GiB, one layer) and tenlayers (10 layers)
#   RUNS=5 bench/registry_bench.sh bigfile
#   STRATA=/path/to/strata bench/registry_bench.sh   # a prebuilt binary
#
# A scratch registry (Debian's docker-registry) runs on 127.0.0.1:$PORT
# (default 5002) with its storage in bench/out/registry/regdata, wiped before
# each cold push so that no tool can skip a blob. The images are built with
# docker (BuildKit) from /work/shared/anchors/dockerfiles (bigfile, FROM
# localhost:5000/busybox: run /work/shared/anchors/setup.sh ready first) or a
# generated Dockerfile (tenlayers: FROM scratch + 10 COPY), then `docker save` and loaded into strata
# and podman: their layers are uncompressed there, so every push gzips them.
set -euo pipefail
cd "$(dirname "$0")/.."
O=$PWD/bench/out/registry
RUNS=${RUNS:-3}
DOCKER=${DOCKER:-/usr/bin/docker}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
PORT=${PORT:-5002}
REG=127.0.0.1:$PORT
IMAGES=("$@")
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(bigfile tenlayers)
mkdir -p "$O"
if [ -n "${STRATA:-}" ]; then S=$STRATA; else CGO_ENABLED=0 go build -o "$O/strata" ./cmd/strata && S=$O/strata; fi
summary=$O/summary.md
: > "$summary"

# ---- scratch registry (stopped by PID on exit)
cat > "$O/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $O/regdata
  delete:
    enabled: true
http:
  addr: $REG
EOF
rm -rf "$O/regdata"
env -u REGISTRY_AUTH_FILE /usr/bin/docker-registry serve "$O/registry.yml" > "$O/registry.log" 2>&1 &
REGPID=$!
trap 'kill $REGPID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$REG/v2/" > /dev/null && break; sleep 0.1; done

rss() { # name, command...: peak RSS and wall time of one run
	local name=$1
	shift
	/usr/bin/time -v "$@" > /dev/null 2> "$O/time.txt" || { echo "FAILED: $name"; cat "$O/time.txt"; }
	local kb wall
	kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$O/time.txt")
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$O/time.txt")
	echo "| $name | $((kb / 1024)) MiB | $wall |" >> "$summary"
}

build_image() { # name tag
	local img=$1 tag=$2 dir
	if [ "$img" = tenlayers ]; then
		dir=$O/tenlayers-ctx
		mkdir -p "$dir"
		# COPY only (no RUN): ten layers of 16 MiB random bytes, built
		# without starting a container.
		echo "FROM scratch" > "$dir/Dockerfile"
		for i in $(seq 1 10); do
			[ -f "$dir/layer$i.bin" ] || head -c 16777216 /dev/urandom > "$dir/layer$i.bin"
			echo "COPY layer$i.bin /layer$i.bin" >> "$dir/Dockerfile"
		done
	else
		dir=$DOCKERFILES/$img
	fi
	DOCKER_BUILDKIT=1 $DOCKER build -q -t "$tag" "$dir" > /dev/null
}

for img in "${IMAGES[@]}"; do
	tag=strata-registry-bench/$img:latest
	$DOCKER image inspect "$tag" > /dev/null 2>&1 || { echo "== building $tag"; build_image "$img" "$tag"; }
	tar=$O/$img.docker.tar
	[ -f "$tar" ] || $DOCKER save -o "$tar" "$tag"
	rm -rf "$O/root-src"
	$S --root "$O/root-src" load -q -i "$tar" > /dev/null
	podman load -q -i "$tar" > /dev/null 2>&1
	echo "### $img: $(ls -l "$tar" | awk '{print $5}') bytes as docker-archive, $($S --root "$O/root-src" history -q "$tag" | wc -l) history entries" | tee -a "$summary"

	dest=$REG/bench/$img
	# podman's pulls must start without the image: remove it by ID (the
	# loaded image has the same ID as the pulled one, so removing a tag
	# would leave its layers behind).
	pid=$(podman image inspect -f '{{.Id}}' "$tag")
	echo "#### push into an empty registry (layers gzip-compressed on the way)" | tee -a "$summary"
	hyperfine --runs "$RUNS" --export-markdown "$O/push-$img.md" \
		--prepare "rm -rf $O/regdata/docker; sync" \
		-n "strata push" "$S --root $O/root-src push -q $tag $dest:strata" \
		-n "skopeo copy docker-archive: docker://" "skopeo copy -q --dest-tls-verify=false docker-archive:$tar docker://$dest:skopeo" \
		-n "podman push" "podman push -q --tls-verify=false $tag $dest:podman"
	cat "$O/push-$img.md" >> "$summary"

	# What the registry holds now for the pulls: strata's push (gzip).
	$S --root "$O/root-src" push -q "$tag" "$dest:strata" > /dev/null
	echo "#### push again to a new tag (every blob already there)" | tee -a "$summary"
	hyperfine --runs "$RUNS" --warmup 1 --export-markdown "$O/repush-$img.md" \
		-n "strata push" "$S --root $O/root-src push -q $tag $dest:strata2" \
		-n "skopeo copy docker-archive: docker://" "skopeo copy -q --dest-tls-verify=false docker-archive:$tar docker://$dest:skopeo2" \
		-n "podman push" "podman push -q --tls-verify=false $tag $dest:podman2"
	cat "$O/repush-$img.md" >> "$summary"

	echo "#### pull into an empty store" | tee -a "$summary"
	hyperfine --runs "$RUNS" --export-markdown "$O/pull-$img.md" \
		-n "strata pull" --prepare "rm -rf $O/root-pull; sync" "$S --root $O/root-pull pull -q $dest:strata" \
		-n "skopeo copy docker:// oci:" --prepare "rm -rf $O/oci-pull; sync" "skopeo copy -q --src-tls-verify=false docker://$dest:strata oci:$O/oci-pull:x" \
		-n "podman pull" --prepare "podman rmi -f $pid > /dev/null 2>&1 || true; sync" "podman pull -q --tls-verify=false $dest:strata"
	cat "$O/pull-$img.md" >> "$summary"

	echo "#### peak RSS (one run each)" >> "$summary"
	echo "| command | max RSS | wall |" >> "$summary"
	echo "|---|---|---|" >> "$summary"
	rm -rf "$O/regdata/docker"
	rss "strata push (cold)" "$S" --root "$O/root-src" push -q "$tag" "$dest:strata"
	rm -rf "$O/regdata/docker"
	rss "skopeo copy docker-archive: docker:// (cold)" skopeo copy -q --dest-tls-verify=false "docker-archive:$tar" "docker://$dest:skopeo"
	rm -rf "$O/regdata/docker"
	podman load -q -i "$tar" > /dev/null 2>&1
	rss "podman push (cold)" podman push -q --tls-verify=false "$tag" "$dest:podman"
	$S --root "$O/root-src" push -q "$tag" "$dest:strata" > /dev/null
	rm -rf "$O/root-pull"
	rss "strata pull" "$S" --root "$O/root-pull" pull -q "$dest:strata"
	rm -rf "$O/oci-pull"
	rss "skopeo copy docker:// oci:" skopeo copy -q --src-tls-verify=false "docker://$dest:strata" "oci:$O/oci-pull:x"
	podman rmi -f "$pid" > /dev/null 2>&1 || true
	rss "podman pull" podman pull -q --tls-verify=false "$dest:strata"
	podman rmi -f "$pid" > /dev/null 2>&1 || true
	rm -rf "$O/root-pull" "$O/oci-pull"
done
echo
cat "$summary"
