#!/bin/sh
# Regenerates the expectations of every case (or of the cases named) from
# docker: DOCKER_BUILDKIT=1 docker build, docker save, then the listing
# tool turns the archive into what internal/builder's conformance test
# compares (filesystem differences from the base image, config fields,
# layer count). Needs docker 20.10 and the lab registry (localhost:5000).
#
# A case is a directory holding a Dockerfile and, optionally:
#   setup.sh     run in a copy of the directory to make the build context
#   build-args   one NAME=VALUE a line, given as --build-arg
#   target       the stage to build (--target)
#   base-import  the case builds FROM conformance-base:imported, busybox's
#                root filesystem imported with no config (docker import);
#                each line of the file is a --change instruction
#   flags        the build's sandbox flags, one "--flag value" a line
#                (--add-host, --ulimit, --shm-size)
#   ssh          the build gets --ssh default, with a fresh ssh-agent
#                (RUN --mount=type=ssh)
#   output       "tar": the build is written with -o type=tar (nothing
#                stored) and the expectation lists that tar's files
#   notes        free text: where docker 20.10 and current BuildKit differ
#                and which the case follows. A line "record: by hand" means
#                the expectation was written by hand (current BuildKit's
#                behaviour, not docker 20.10's) and is not re-recorded.
# and the expectation record.sh writes, one of:
#   expected.json   docker built it: the listing of the image
#   expected-error  docker refused it: "line: N" (the Dockerfile line
#                   docker names), "match: TEXT" (what strata's error must
#                   also say; kept when re-recording, so it can be edited
#                   to the words both agree on) and "docker: MESSAGE".
#                   Where docker's message names no line (a stage name
#                   it cannot parse), the line is written by hand and kept;
#                   "line: none" for what concerns no line (an empty
#                   Dockerfile, an unknown --target).
set -eu
cd "$(dirname "$0")"
repo=$(cd ../../../.. && pwd)
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$repo" && go build -o "$work/listing" ./internal/builder/conformance/listing)
$DOCKER pull -q localhost:5000/busybox:latest >/dev/null
$DOCKER save localhost:5000/busybox:latest > "$work/busybox.tar"
# Rewrite the base only when its files changed (a re-pushed busybox with
# new times only is not a change), so git sees no change otherwise.
gzip -dc busybox.tar.gz > "$work/recorded.tar"
if "$work/listing" "$work/busybox.tar" "$work/recorded.tar" | grep -q '"files": \['; then
  gzip -n -9 -c "$work/busybox.tar" > busybox.tar.gz
fi
# import_base FILE imports busybox's root filesystem as
# conformance-base:imported, with FILE's lines as --change instructions.
import_base() {
  tar -xOf "$work/busybox.tar" "$(tar -tf "$work/busybox.tar" | grep 'layer.tar$')" > "$work/rootfs.tar"
  file=$1; set --
  while IFS= read -r ch; do [ -n "$ch" ] && set -- "$@" --change "$ch"; done < "$file"
  $DOCKER import "$@" "$work/rootfs.tar" conformance-base:imported >/dev/null
}
cases=${*:-$(ls -d */ | tr -d /)}
for c in $cases; do
  if [ -f "$c/notes" ] && grep -qx 'record: by hand' "$c/notes"; then
    echo "== $c (by hand, skipped)"; continue
  fi
  echo "== $c"
  ctx="$work/$c"; mkdir -p "$ctx"; cp -a "$c/." "$ctx/"
  (cd "$ctx" && rm -f expected.json expected-error notes build-args target base-import ssh output flags &&
    if [ -f setup.sh ]; then sh setup.sh && rm setup.sh; fi)
  set --
  if [ -f "$c/build-args" ]; then
    while IFS= read -r a; do [ -n "$a" ] && set -- "$@" --build-arg "$a"; done < "$c/build-args"
  fi
  if [ -f "$c/flags" ]; then
    while read -r f v; do [ -n "$f" ] && set -- "$@" "$f" "$v"; done < "$c/flags"
  fi
  if [ -f "$c/target" ]; then set -- "$@" --target "$(cat "$c/target")"; fi
  if [ -f "$c/base-import" ]; then import_base "$c/base-import"; fi
  # A hand-agreed match, and a line docker does not name, survive
  # re-recording.
  match=""; hand_line=""
  if [ -f "$c/expected-error" ]; then
    match=$(sed -n 's/^match: //p' "$c/expected-error" | head -1)
    hand_line=$(sed -n 's/^line: \([0-9][0-9]*\|none\)$/\1/p' "$c/expected-error")
  fi
  rm -f "$c/expected.json" "$c/expected-error"
  agent=""
  if [ -f "$c/ssh" ]; then
    eval "$(ssh-agent -s)" >/dev/null; agent=$SSH_AGENT_PID
    set -- "$@" --ssh default
  fi
  dest="-t strata-conformance-$c"
  if [ -f "$c/output" ]; then dest="-o type=$(cat "$c/output"),dest=$work/$c.out.tar"; fi
  # shellcheck disable=SC2086 # dest is two words or one
  if ! $DOCKER build -q --no-cache "$@" $dest "$ctx" > "$work/out" 2>&1; then
    # The message is docker's last line; the line it names is either in
    # the message ("line N") or the failing step's instruction, found in
    # the Dockerfile.
    msg=$(grep -v '^\s*$' "$work/out" | tail -1)
    line=$(echo "$msg" | sed -n 's/.*line \([0-9][0-9]*\).*/\1/p' | head -1)
    if [ -z "$line" ]; then
      step=$(sed -n 's/^ > \[[^]]*\] \(.*\):$/\1/p' "$work/out" | tail -1)
      [ -n "$step" ] && line=$(grep -n -F -x "$step" "$c/Dockerfile" | head -1 | cut -d: -f1)
    fi
    [ -z "$match" ] && match=$(echo "$msg" | sed 's/.*line [0-9]*: //; s/^failed to solve with frontend dockerfile.v0: failed to create LLB definition: //')
    line=${line:-$hand_line}
    { echo "line: ${line:-?}"; echo "match: $match"; echo "docker: $msg"; } > "$c/expected-error"
    echo "   refused at line ${line:-? (edit expected-error)}: $msg"
  elif [ -f "$c/output" ]; then
    "$work/listing" -rootfs "$work/$c.out.tar" > "$c/expected.json"
  else
    $DOCKER save "strata-conformance-$c" > "$work/$c.tar"
    # Differences are listed against busybox, unless the stage built
    # starts from scratch.
    base="$work/busybox.tar"
    last_from=$(grep -i '^FROM' "$c/Dockerfile" | tail -1)
    if [ -f "$c/target" ]; then last_from=$(grep -i "^FROM .* AS $(cat "$c/target")\$" "$c/Dockerfile"); fi
    case "$last_from" in *scratch*) base="";; esac
    "$work/listing" "$work/$c.tar" $base > "$c/expected.json"
    $DOCKER rmi -f "strata-conformance-$c" >/dev/null
  fi
  if [ -n "$agent" ]; then kill "$agent"; unset SSH_AUTH_SOCK SSH_AGENT_PID; fi
  if [ -f "$c/base-import" ]; then $DOCKER rmi -f conformance-base:imported >/dev/null; fi
done
