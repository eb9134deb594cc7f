#!/bin/bash
# strata's hot paths against the machine's floor: the cheapest way this
# machine moves, reads or hashes the same bytes, measured side by side in
# one hyperfine run per path (five for the start paths, their commands
# taking turns: hf_rounds in lib.sh), reported as strata/floor (these
# machines are shared and noisy; ratios drift less than times). Output: bench/out/floor/
# (gitignored): one hyperfine JSON/markdown per path and summary.md.
#
#   bench/floor_bench.sh                      # every path
#   RUNS=5 bench/floor_bench.sh start context
#
# Paths:
#   export   the layer of a 100,000-file RUN (bench/build's manyfiles), written
#            from its overlay upper dir into one sha256 pass (Go benchmark
#            BenchmarkWriteDiffFromUpper) vs `tar --xattrs -cf - upper | sha256sum`
#   start    `strata run --rm --network none busybox true` (runc, and crun when
#            installed) vs `runc run` / `crun run` of a ready bundle of the same
#            rootfs (`runc spec`'s config, then strata's own: docker's seccomp
#            profile, masked paths...); and the bridge network beside `docker run --rm`
#   context  fully cached rebuild of a COPY of the 20,000-file context
#            vs the stat walk `tar -cf /dev/null` of it
#   load     `strata load` of a 1 GiB docker-archive into an empty store
#            vs one sha256 pass over it (openssl), and vs a durable copy
#            of it (dd conv=fsync): a load hashes and writes
#   pull     `strata pull` of that 1 GiB image from the local registry into an
#            empty store vs `curl -o` of its layer blob
#   unpack   the first `strata run --rm` of debian:bookworm just pulled (its
#            layer unpacked into a snapshot, synced) vs `tar -xzf` of its
#            blob and `sync -f`, both on a fresh journaled ext4 (journaled_fs)
# Base images come from the lab registry (localhost:5000).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/floor
RUNS=${RUNS:-3}
REGISTRY=${REGISTRY:-localhost:5000}
DOCKER=${DOCKER:-/usr/bin/docker}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
CONTEXT=${CONTEXT:-/var/lab/ctx/context}
PATHS=("$@")
[ ${#PATHS[@]} -gt 0 ] || PATHS=(export start context load pull unpack)
. bench/lib.sh
bench_start "$OUT" "strata against the machine's floor (runs=$RUNS)"
$S pull -q "$REGISTRY/busybox:latest" > /dev/null

# topdir IMAGE: the snapshot directory of IMAGE's top layer (named by its chain ID).
topdir() {
	local chain="" d
	for d in $($S inspect -f '{{range .RootFS.Layers}}{{.}} {{end}}' "$1"); do
		if [ -z "$chain" ]; then chain=$d; else chain="sha256:$(printf '%s %s' "$chain" "$d" | sha256sum | cut -d' ' -f1)"; fi
	done
	echo "$STRATA_ROOT/snapshots/overlay/s/${chain/:/=}/fs"
}

# big1g: a 1 GiB one-layer image in the store, its docker-archive and its push.
big1g() {
	[ -f "$O/big.tar" ] && return
	$S build -q -f "$DOCKERFILES/bigfile/Dockerfile" -t floor/big "$DOCKERFILES/bigfile" > /dev/null
	$S save -o "$O/big.tar" floor/big
	$S tag floor/big "$REGISTRY/strata-floor/big:latest"
	$S push -q "$REGISTRY/strata-floor/big:latest" > /dev/null
}

for p in "${PATHS[@]}"; do
	echo "== $p"
	case $p in
	export)
		$S build -q --no-cache -f "$DOCKERFILES/manyfiles/Dockerfile" -t floor/manyfiles "$DOCKERFILES/manyfiles" > /dev/null
		upper=$(topdir floor/manyfiles)
		lower=$(dirname "$(dirname "$upper")")/$(sed 's/.*"parent":"\([^"]*\)".*/\1/; s/:/=/' "$(dirname "$upper")/info.json")/fs
		go test -c -o "$O/layer.test" ./internal/layer
		hf export "$RUNS" --warmup 1 \
			-n strata "env STRATA_BENCH_UPPER=$upper STRATA_BENCH_LOWER=$lower $O/layer.test -test.run=NONE -test.bench=WriteDiffFromUpper -test.benchtime=1x" \
			-n floor "bash -c 'tar --xattrs -cf - -C $upper . | sha256sum'"
		;;
	start)
		bundle="$O/bundle"
		if [ ! -d "$bundle/rootfs/bin" ]; then
			rm -rf "$bundle" && mkdir -p "$bundle/rootfs"
			id=$($S create "$REGISTRY/busybox:latest")
			$S export "$id" | tar -x -C "$bundle/rootfs"
			$S rm "$id" > /dev/null
			(cd "$bundle" && runc spec && jq '.process.terminal=false | .process.args=["true"]' config.json > c && mv c config.json)
		fi
		# --network none: a network namespace with loopback only, as the
		# bundle's (runc spec); the bridge network is measured apart.
		args=(-n "strata (runc)" "env STRATA_RUNTIME=runc $S run --rm --network none $REGISTRY/busybox:latest true"
			-n "floor: runc run" "runc --root $O/runc run --bundle $bundle floor-$$")
		# On a host with cgroups in hybrid mode crun refuses to run unless it
		# cannot see the v2 hierarchy: strata starts it in a mount namespace
		# without it (internal/runtime), and so does the floor.
		crun_run="crun --root $O/crun run --bundle $bundle floor-$$"
		if grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then # (cgroup files report size 0)
			crun_run="unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup/unified && exec $crun_run'"
		fi
		if command -v crun > /dev/null; then
			args+=(-n "strata (crun)" "env STRATA_RUNTIME=crun $S run --rm --network none $REGISTRY/busybox:latest true"
				-n "floor: crun run" "$crun_run")
		fi
		hf_rounds start 5 $((RUNS * 10)) -N --warmup 2 "${args[@]}"
		# The same against a bundle with strata's own config.json (docker's
		# confinement: its seccomp profile, masked paths, namespaces), which
		# `runc spec`'s bundle lacks: what the runtime itself spends on it
		# is not strata's.
		# crun is given the seccomp program it compiled for the profile
		# before (strata's seccomp cache: run.oci.seccomp_bpf_data);
		# the bundle for crun has it too, the one for runc cannot.
		sbundle="$O/bundle-strata" cbundle="$O/bundle-strata-crun"
		rm -rf "$sbundle" "$cbundle" && mkdir -p "$sbundle" "$cbundle"
		cp -a "$bundle/rootfs" "$sbundle/rootfs" && ln -s "$sbundle/rootfs" "$cbundle/rootfs"
		floorconfig() { # RUNTIME: strata's config.json of a container it runs
			STRATA_RUNTIME=$1 $S run --rm --network none "$REGISTRY/busybox:latest" true # fills the seccomp cache
			local id
			id=$(STRATA_RUNTIME=$1 $S run -d --network none "$REGISTRY/busybox:latest" sleep 60)
			jq '.root.path="rootfs" | .root.readonly=false | .process.args=["true"] | .process.terminal=false
				| .linux.namespaces |= map(select(.path == null)) | .linux.cgroupsPath="/strata-floor"
				| .mounts |= map(select(.source | startswith("/") | not)) | del(.hooks)' \
				"$STRATA_ROOT/containers/$id/bundle/config.json"
			$S rm -f "$id" > /dev/null
		}
		floorconfig runc > "$sbundle/config.json"
		args=(-n "strata (runc)" "env STRATA_RUNTIME=runc $S run --rm --network none $REGISTRY/busybox:latest true"
			-n "floor: runc run, strata's config" "runc --root $O/runc run --bundle $sbundle floor-$$")
		if command -v crun > /dev/null; then
			floorconfig crun > "$cbundle/config.json"
			args+=(-n "strata (crun)" "env STRATA_RUNTIME=crun $S run --rm --network none $REGISTRY/busybox:latest true"
				-n "floor: crun run, strata's config" "${crun_run/--bundle $bundle/--bundle $cbundle}")
		fi
		hf_rounds start-confined 5 $((RUNS * 10)) -N --warmup 2 "${args[@]}"
		# The default bridge network (CNI plugins), beside docker's.
		$DOCKER pull -q "$REGISTRY/busybox:latest" > /dev/null
		hf start-bridge $((RUNS * 5)) -N --warmup 2 \
			-n "strata (bridge)" "$S run --rm $REGISTRY/busybox:latest true" \
			-n "docker run (bridge)" "$DOCKER run --rm $REGISTRY/busybox:latest true"
		;;
	context)
		df="$DOCKERFILES/context/Dockerfile"
		$S build -q -f "$df" -t floor/context "$CONTEXT" > /dev/null
		hf context $((RUNS * 5)) -N --warmup 2 \
			-n strata "$S build -q -f $df -t floor/context $CONTEXT" \
			-n floor "tar -cf /dev/null -C $(dirname "$CONTEXT") $(basename "$CONTEXT")"
		;;
	load)
		big1g
		hf load "$RUNS" --prepare "rm -rf $O/root-load; sync" \
			-n strata "$S --root $O/root-load load -q -i $O/big.tar" \
			-n floor "openssl dgst -sha256 $O/big.tar"
		# A load also writes the blob, durably (the store's invariant):
		# the other floor is a copy that survives a crash. dd writes through
		# the page cache, strata with O_DIRECT: on a VM whose freed memory
		# goes back to its host (free page reporting), dd's time depends on
		# how much of it the host took since the rm (0.6 s to 3 s here).
		hf load-write "$RUNS" --prepare "rm -rf $O/root-load $O/copy; sync" \
			-n strata "$S --root $O/root-load load -q -i $O/big.tar" \
			-n "floor: dd conv=fsync" "dd if=$O/big.tar of=$O/copy bs=1M conv=fsync status=none"
		rm -rf "$O/root-load" "$O/copy"
		;;
	pull)
		big1g
		ref="$REGISTRY/strata-floor/big:latest"
		blob=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
			"http://$REGISTRY/v2/strata-floor/big/manifests/latest" | jq -r '.layers | max_by(.size) | .digest')
		hf pull "$RUNS" --prepare "rm -rf $O/root-pull $O/blob; sync" \
			-n strata "$S --root $O/root-pull pull -q $ref" \
			-n floor "curl -s -o $O/blob http://$REGISTRY/v2/strata-floor/big/blobs/$blob"
		rm -rf "$O/root-pull" "$O/blob"
		;;
	unpack)
		fs="$O/unpack-fs" ref="$REGISTRY/debian:bookworm"
		journaled_fs "$fs"
		$S --root "$fs/src" pull -q "$ref" > /dev/null
		blob=$(ls -S "$fs"/src/blobs/sha256/* | head -1)
		hf unpack "$RUNS" --prepare "sh -c 'rm -rf $fs/root $fs/untar && cp -a $fs/src $fs/root && mkdir $fs/untar && sync'" \
			-n strata "$S --root $fs/root run --rm --network none $ref true" \
			-n floor "sh -c 'tar -xzf $blob -C $fs/untar && sync -f $fs/untar'"
		release_fs "$fs"
		;;
	*)
		echo "unknown path $p" >&2
		exit 2
		;;
	esac
done
# strata/floor from the hyperfine medians, per strata row and its floor
# (the row after it).
ratios=("${PATHS[@]}")
[[ " ${PATHS[*]} " == *" start "* ]] && ratios+=(start-confined start-bridge)
[[ " ${PATHS[*]} " == *" load "* ]] && ratios+=(load-write)
python3 - "$O" "${ratios[@]}" << 'PY' | tee -a "$summary"
import json, sys, statistics
out = sys.argv[1]
print("\n| path | strata | s | floor | s | strata/floor |\n|---|---|---|---|---|---|")
for p in sys.argv[2:]:
    try:
        rs = [(r["command"], statistics.median(r["times"])) for r in json.load(open(f"{out}/{p}.json"))["results"]]
    except OSError:
        continue
    pairs = list(zip(rs[0::2], rs[1::2]))
    if p == "start" and len(pairs) == 2:
        # crun is strata's runtime where it is installed: its start
        # against the issue's floor, runc run of a ready bundle.
        pairs.append((pairs[1][0], pairs[0][1]))
    for (name, t), (fname, f) in pairs:
        print(f"| {p} | {name} | {t:.3f} | {fname} | {f:.3f} | {t/f:.2f}x |")
PY
