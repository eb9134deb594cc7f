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
