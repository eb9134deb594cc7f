#!/bin/bash
# Benchmark of rootless strata build against root strata and rootless
# `podman build`, side by side in one hyperfine run per case. Run as root:
# it makes (and at the end removes) a user with a subordinate id range,
# BENCH_USER (default stratabench), and runs the rootless engines as that
# user, as a login would (its HOME and XDG_RUNTIME_DIR, no sudo). Output:
# bench/out/rootless/ (gitignored): one hyperfine JSON/markdown per case
# and summary.md with the ratios.
#
#   bench/rootless_bench.sh                 # all cases
#   RUNS=5 bench/rootless_bench.sh cached
#
# Cases (build_bench.sh's):
#   cached     fully cached rebuild of bench/build/tenstep (10 steps)
#   tenstep    cold build of the same (--no-cache, base image present)
#   manyfiles  whiteout  cold builds of the anchor Dockerfiles (100,000
#              small files in one RUN; deletions and an opaque directory)
# Base images come from the lab registry (localhost:5000).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/rootless
RUNS=${RUNS:-3}
COLD_RUNS=${COLD_RUNS:-2}
# podman builds with --network host, as strata's RUN steps run by default.
# runc, as strata chooses here on a hybrid cgroup host (crun refuses it
# without cgroups of its own), and no systemd user session to ask.
PODMAN=${PODMAN:-podman --runtime runc --cgroup-manager cgroupfs}
DOCKERFILES=${DOCKERFILES:-/work/shared/anchors/dockerfiles}
BENCH_USER=${BENCH_USER:-stratabench}
CASES=("$@")
[ ${#CASES[@]} -gt 0 ] || CASES=(cached tenstep manyfiles whiteout)
. bench/lib.sh
bench_start "$OUT" "strata rootless build benchmark"

# The user, and a directory it can read (the binary, the contexts) with
# its home in it.
W=$(mktemp -d /tmp/strata-rootless-bench.XXXXXX)
chmod 755 "$W"
made_user=
if ! id "$BENCH_USER" > /dev/null 2>&1; then
	useradd -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 -M -d "$W/home" -s /bin/sh "$BENCH_USER"
	top=$(awk -F: 'BEGIN{m=100000} {if ($2+$3>m) m=$2+$3} END{print m}' /etc/subuid /etc/subgid)
	usermod --add-subuids "$top-$((top + 65535))" --add-subgids "$top-$((top + 65535))" "$BENCH_USER"
	made_user=1
fi
H="$W/home"
mkdir -p "$H/run"
chmod 700 "$H" "$H/run"
chown -R "$BENCH_USER:" "$H"
cleanup() {
	# The user's namespace keepers (strata's and podman's pause process).
	for f in "$H/run/strata/ns.pid" "$H/run/libpod/tmp/pause.pid"; do
		[ -f "$f" ] && kill "$(cat "$f")" 2> /dev/null || true
	done
	sleep 0.5
	[ -n "$made_user" ] && userdel -f "$BENCH_USER" 2> /dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
cp "$S" "$W/strata"
cp -a bench/build/tenstep "$W/tenstep"
for c in manyfiles whiteout; do cp -a "$DOCKERFILES/$c" "$W/$c"; done
chmod -R a+rX "$W/strata" "$W/tenstep" "$W/manyfiles" "$W/whiteout"
U="$W/as-user"
cat > "$U" << EOF
#!/bin/sh
exec setpriv --reuid=$BENCH_USER --regid=$BENCH_USER --init-groups env -i HOME=$H USER=$BENCH_USER XDG_RUNTIME_DIR=$H/run PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin sh -c 'cd \$HOME && exec "\$@"' sh "\$@"
EOF
chmod 755 "$U"
RS="$U $W/strata"
RP="$U $PODMAN"

# Base images in every engine.
$S pull -q localhost:5000/busybox:latest > /dev/null
$RS pull -q localhost:5000/busybox:latest > /dev/null
$RP pull -q --tls-verify=false localhost:5000/busybox:latest > /dev/null
$RS info | sed -n '/Storage Driver/,/Rootless/p' | tee -a "$summary"
$RP info --format 'podman: graphDriver {{.Store.GraphDriverName}}, network {{.Host.NetworkBackend}}' | tee -a "$summary"

ten="$W/tenstep"
for c in "${CASES[@]}"; do
	echo "== $c"
	case $c in
	cached)
		$S build -q -t bench/ten "$ten" > /dev/null
		$RS build -q -t bench/ten "$ten" > /dev/null
		$RP build --network host --layers -q -t bench/ten "$ten" > /dev/null
		hf cached "$RUNS" --warmup 1 \
			-n strata "$S build -q -t bench/ten $ten" \
			-n rootless "$RS build -q -t bench/ten $ten" \
			-n podman "$RP build --network host --layers -q -t bench/ten $ten"
		;;
	tenstep | manyfiles | whiteout)
		ctx="$W/$c"
		hf "$c" "$COLD_RUNS" \
			--prepare "$S image prune -f > /dev/null" -n strata "$S build -q --no-cache -t bench/$c $ctx" \
			--prepare "$RS image prune -f > /dev/null" -n rootless "$RS build -q --no-cache -t bench/$c $ctx" \
			--prepare "$RP image prune -f > /dev/null" -n podman "$RP build --network host --layers --no-cache -q -t bench/$c $ctx"
		;;
	*)
		echo "unknown case $c" >&2
		exit 2
		;;
	esac
done
# Ratios from the hyperfine medians: rootless strata against root strata
# (what the user namespace costs) and rootless podman against rootless
# strata.
python3 - "$O" "${CASES[@]}" << 'PY' | tee -a "$summary"
import json, sys, statistics
out = sys.argv[1]
print("\n| case | strata (root) s | strata rootless s | podman rootless s | rootless/root | podman/rootless strata |\n|---|---|---|---|---|---|")
for c in sys.argv[2:]:
    try:
        rs = {r["command"]: statistics.median(r["times"]) for r in json.load(open(f"{out}/{c}.json"))["results"]}
    except OSError:
        continue
    s, r, p = rs["strata"], rs["rootless"], rs["podman"]
    print(f"| {c} | {s:.3f} | {r:.3f} | {p:.3f} | {r/s:.2f}x | {p/r:.1f}x |")
PY
