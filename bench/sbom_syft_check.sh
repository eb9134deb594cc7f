#!/bin/bash
# Checks strata sbom's inventory against syft's on the package database
# fixtures of internal/sbom/testdata: an apk installed database and the rpm
# databases (Berkeley DB, NDB, sqlite), each with an os-release. Each one
# is imported as an image for strata and given to syft as a directory; the
# names and versions must be the same. (debian:bookworm is compared by
# bench/sbom_bench.sh.)
#
#   SYFT=/path/to/syft bench/sbom_syft_check.sh
#
# syft is $SYFT, else bench/out/sbom/syft, else built as sbom_bench.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/sbom-check
rm -rf "$OUT" && mkdir -p "$OUT"
O="$PWD/$OUT"
CGO_ENABLED=0 go build -o "$O/strata" ./cmd/strata
SYFT=${SYFT:-$PWD/bench/out/sbom/syft}
if [ ! -x "$SYFT" ]; then
	mkdir -p bench/out/sbom
	GOFLAGS=-mod=mod GOBIN="$PWD/bench/out/sbom" go install github.com/anchore/syft/cmd/syft@latest
fi
export SYFT_CHECK_FOR_APP_UPDATE=false STRATA_ROOT="$O/root"
T=internal/sbom/testdata

# fixture NAME OS-RELEASE DB-PATH FILE: a root with the os-release and FILE
# (gunzipped when it ends in .gz) at DB-PATH.
fixture() {
	local d="$O/$1"
	mkdir -p "$d/etc" "$(dirname "$d/$3")"
	printf '%b' "$2" > "$d/etc/os-release"
	case "$4" in
	*.gz) gunzip -c "$4" > "$d/$3" ;;
	*) cp "$4" "$d/$3" ;;
	esac
}
fixture alpine "$(cat $T/os-release-alpine)" lib/apk/db/installed $T/apk-installed
fixture ubi8 'ID="rhel"\nVERSION_ID="8.6"\n' var/lib/rpm/Packages $T/rpm/ubi8-s390x-Packages.gz
fixture centos6 'ID="centos"\nVERSION_ID="6"\n' var/lib/rpm/Packages $T/rpm/centos6-libuuid-Packages.gz
fixture sle15 'ID="sles"\nVERSION_ID="15.3"\n' usr/lib/sysimage/rpm/Packages.db $T/rpm/sle15-bci-Packages.db.gz
fixture mariner 'ID=mariner\nVERSION_ID="2.0"\n' var/lib/rpm/rpmdb.sqlite $T/rpm/cbl-mariner-2.0-rpmdb.sqlite.gz

status=0
for n in alpine ubi8 centos6 sle15 mariner; do
	tar -C "$O/$n" -cf "$O/$n.tar" .
	"$O/strata" import "$O/$n.tar" "check/$n:1" > /dev/null
	"$O/strata" sbom --format json "check/$n:1" |
		python3 -c 'import json,sys; print("\n".join(sorted(p["name"]+" "+p["version"] for p in json.load(sys.stdin)["packages"])))' > "$O/$n.strata"
	"$SYFT" scan "dir:$O/$n" -o json -q |
		python3 -c 'import json,sys; print("\n".join(sorted(a["name"]+" "+a["version"] for a in json.load(sys.stdin)["artifacts"])))' > "$O/$n.syft"
	if diff "$O/$n.strata" "$O/$n.syft" > "$O/$n.diff"; then
		echo "$n: the same $(wc -l < "$O/$n.strata") packages and versions"
	else
		echo "$n: strata and syft differ:"
		cat "$O/$n.diff"
		status=1
	fi
done
exit $status
