# lib.sh - sourced by the bench scripts. bench_start sets $O (the output
# directory), $S (strata built there), $STRATA_ROOT and $summary (the
# summary file), which the other helpers use.

# bench_start OUT TITLE: builds strata into OUT (relative to the repo) and
# starts OUT/summary.md with TITLE, the date and the CPU count.
bench_start() {
	mkdir -p "$1"
	CGO_ENABLED=0 go build -o "$1/strata" ./cmd/strata
	O="$PWD/$1"
	export STRATA_ROOT="$O/root"
	S="$O/strata"
	summary="$O/summary.md"
	echo "# $2 $(date -u +%FT%TZ), $(nproc) CPUs" > "$summary"
}

# hf name runs hyperfine-args...: one hyperfine run, its JSON and markdown
# in $O/name.*, the table appended to the summary.
hf() {
	local name=$1 runs=$2
	shift 2
	hyperfine --runs "$runs" --export-json "$O/$name.json" --export-markdown "$O/$name.md" "$@"
	{ echo; echo "## $name"; cat "$O/$name.md"; } >> "$summary"
}

# peak_rss_mib command...: the peak RSS of one run, in MiB (a failed run
# still reports what it reached).
peak_rss_mib() {
	/usr/bin/time -v "$@" > /dev/null 2> "$O/time.txt" || true
	local kb
	kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$O/time.txt")
	echo $((kb / 1024))
}

# rss name command...: a "| name | N MiB |" row of the summary's RSS table.
rss() {
	local name=$1
	shift
	echo "| $name | $(peak_rss_mib "$@") MiB |" >> "$summary"
}

# hf_rounds name rounds runs hyperfine-args...: as hf, with the runs of
# every command spread over rounds hyperfine runs, so that the commands
# take turns: a drift of the machine over the minute (this disk's ext4,
# with no journal, looks past every inode deleted in the last minutes to
# allocate one, so each container started makes the next ones slower)
# falls on all of them alike, not on the one that comes last. The times
# of the rounds are merged into name.json.
hf_rounds() {
	local name=$1 rounds=$2 runs=$3 r
	shift 3
	for r in $(seq "$rounds"); do
		hyperfine --runs $((runs / rounds)) --export-json "$O/$name.round$r.json" "$@"
	done
	python3 - "$O" "$name" "$rounds" << 'PY' > "$O/$name.md"
import json, statistics, sys
out, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
merged = None
for r in range(1, rounds + 1):
    res = json.load(open(f"{out}/{name}.round{r}.json"))["results"]
    if merged is None:
        merged = res
    else:
        for m, x in zip(merged, res):
            m["times"] += x["times"]
for m in merged:
    m["median"], m["mean"] = statistics.median(m["times"]), statistics.mean(m["times"])
json.dump({"results": merged}, open(f"{out}/{name}.json", "w"))
print("| Command | Median [ms] | Mean [ms] | Min [ms] | Max [ms] | Runs |\n|:---|---:|---:|---:|---:|---:|")
for m in merged:
    t = m["times"]
    print(f"| `{m['command']}` | {statistics.median(t)*1000:.1f} | {statistics.mean(t)*1000:.1f} | {min(t)*1000:.1f} | {max(t)*1000:.1f} | {len(t)} |")
PY
	{ echo; echo "## $name ($rounds rounds, commands taking turns)"; cat "$O/$name.md"; } >> "$summary"
}

# journaled_fs DIR: a fresh ext4 with a journal, on a loop file beside DIR,
# mounted at DIR, for the cases that create and delete thousands of files
# per run. This machine's disk is ext4 without a journal, where ext4 will
# not hand out an inode deleted in the last minutes: every file a run
# creates looks past all those the runs before deleted (find_inode_bit,
# recently_deleted), which buried the unpack of debian's 5,900 files (3.3 s
# for any strata, 1.1 s on a fresh journaled ext4). release_fs undoes it.
journaled_fs() {
	mkdir -p "$1"
	truncate -s 4G "$1.img"
	mkfs.ext4 -q -F "$1.img"
	mount -o loop "$1.img" "$1"
}

release_fs() {
	umount "$1" && rm -f "$1.img" && rmdir "$1"
}
