# lib.sh - sourced by the bench scripts. Needs $O (the output directory)
# and $summary (the summary file).

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
