#!/usr/bin/env bash
# Puts `realmgw` on PATH: writes a small launcher (default /usr/local/bin/realmgw) that runs this clone's
# dist/src/cli/main.js on this clone's pinned Node runtime (orchestration/node-runtime.sh dir), so the command
# works from any directory and never runs on Debian's Node 20. install-deps.sh calls it as root.
#
#   install-launcher.sh [TARGET]
#
# Idempotent: an identical launcher is left alone; one written by another clone (or for another runtime, e.g.
# RGW_NODE_MAJOR=24) is rewritten to this one. A TARGET without the marker line below is not ours: refused,
# untouched (it may be an `npm link`, a package's file, or someone's own script).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MARKER='# realmgw launcher, written by orchestration/install-launcher.sh'
target="${1:-/usr/local/bin/realmgw}"

die() { echo "install-launcher.sh: $*" >&2; exit 1; }

node_dir="$(bash "$REPO_ROOT/orchestration/node-runtime.sh" dir)"
node="$node_dir/bin/node"
cli="$REPO_ROOT/dist/src/cli/main.js"
# the paths go into single quotes in a POSIX sh script
[[ "$node$cli" != *"'"* ]] || die "the clone's path contains a single quote: $REPO_ROOT"

launcher="#!/bin/sh
$MARKER
# for the clone $REPO_ROOT; its install-deps.sh rewrites this file when run from another clone.
node='$node'
cli='$cli'
if [ ! -x \"\$node\" ] || [ ! -e \"\$cli\" ]; then
  echo \"realmgw: \$cli or \$node is missing: the clone moved or is not built (run bash <clone>/orchestration/install-deps.sh)\" >&2
  exit 1
fi
exec \"\$node\" \"\$cli\" \"\$@\"
"

if [[ -L "$target" ]] || { [[ -e "$target" ]] && ! grep -qxF "$MARKER" "$target"; }; then
  die "$target exists and is not realmgw's launcher (no '$MARKER' line): left untouched; remove it and run this again"
fi
if [[ -e "$target" ]] && [[ "$(cat "$target")"$'\n' == "$launcher" ]]; then
  exit 0
fi
mkdir -p "$(dirname "$target")"
tmp="$(mktemp "$(dirname "$target")/.realmgw.XXXXXX")"
printf '%s' "$launcher" >"$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$target" # atomic: a realmgw started meanwhile runs the old launcher or the new one, never half
echo "install-launcher.sh: $target runs $cli on $node"
