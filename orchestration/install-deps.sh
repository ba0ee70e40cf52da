#!/usr/bin/env bash
# Install what realmgw needs to build, test and benchmark on a fresh Debian 12 machine (root, any Node.js with
# npm, e.g. Node 20). Idempotent and quiet on success; prints the failing command's output on failure. Works
# from any cwd. As an unprivileged user it installs nothing from Debian: it checks, then builds what it may.
#
#   - Debian packages (apt-get update only when one is missing; waits for a concurrent apt/dpkg)
#   - knot's and unbound's system services are disabled (benchmark and tests start their own)
#   - the Node.js runtime (orchestration/node-runtime.sh: Node 22 LTS, or 24 with RGW_NODE_MAJOR=24, from the
#                   npm registry into .runtime/); everything below runs on it, and node-gyp builds the addon
#                   against its headers
#   - npm ci        when node_modules is missing or older than package-lock.json (its "install" script builds
#                   the NFQUEUE addon, so the C toolchain and libnetfilter-queue-dev come first)
#   - npm run build:addon when kernel/nfqueue/build/Release/nfqueue.node is missing or older than its sources
#   - npm run build when dist is missing or older than any .ts under src/ test/ bench/ (or tsconfig.json)
#   - promtool    (Debian's prometheus package, unpacked, never installed: installing it starts a Prometheus
#                   server) into .runtime/promtool/, for the test that runs `promtool check metrics` on a scrape
#   - /usr/local/bin/realmgw (as root): a launcher running this clone's CLI on its runtime, so `realmgw` works
#                   from any directory (orchestration/install-launcher.sh; never overwrites a file not its own)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

PACKAGES=(iproute2 iputils-ping dnsutils knot-dnsutils dnsperf knot nftables iptables ipset conntrack procps psmisc curl unbound coreutils
  netcat-openbsd openssl # the demo's hints; openssl: the demo's and the relay test's self-signed certificates
  hping3 # spoofed SYNs in test/e2e/dataplane-binding.test.ts
  ipvsadm user-mode-linux kmod # IPVS worker backend, tested in a user-mode Linux guest (NOTES §2)
  systemd # systemd-analyze verify of orchestration/systemd/realmgw.service (test/orchestration/systemd-unit.test.ts)
  build-essential python3 libnetfilter-queue-dev libmnl-dev libnftables-dev libnftnl-dev) # last line: the kernel/nfqueue addon (node-gyp)
LOCK_WAIT_S="${RGW_APT_LOCK_WAIT_S:-900}"

die() { echo "install-deps.sh: $*" >&2; exit 1; }

# run_quiet DESC CMD...: run CMD with its output captured; print it only when CMD fails.
run_quiet() {
  local desc="$1" log rc=0
  shift
  log="$(mktemp)"
  "$@" >"$log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "install-deps.sh: $desc failed (exit $rc): $*" >&2
    cat "$log" >&2
    rm -f "$log"
    return $rc
  fi
  rm -f "$log"
}

# apt_run CMD...: like run_quiet, but waits while another apt/dpkg holds its locks.
apt_run() {
  local deadline=$((SECONDS + LOCK_WAIT_S)) log rc
  log="$(mktemp)"
  while :; do
    rc=0
    DEBIAN_FRONTEND=noninteractive "$@" -o DPkg::Lock::Timeout="$LOCK_WAIT_S" >"$log" 2>&1 || rc=$?
    if [[ $rc -eq 0 ]]; then rm -f "$log"; return 0; fi
    if grep -qiE 'could not get lock|unable to acquire|unable to lock|is another process using it' "$log" &&
      ((SECONDS < deadline)); then
      sleep 3
      continue
    fi
    echo "install-deps.sh: failed (exit $rc): $*" >&2
    cat "$log" >&2
    rm -f "$log"
    return $rc
  done
}

installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ "$(id -u)" -eq 0 ]] || die "missing Debian packages (${missing[*]}); run as root to install them"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
  apt_run apt-get update -q
  apt_run apt-get install -y -q --no-install-recommends "${missing[@]}"
  for p in "${missing[@]}"; do
    installed "$p" || die "package $p still not installed after apt-get install"
  done
}

# The packaged knot and unbound services must not run: the benchmark starts its own knotd and the tests run
# unbound inside their namespaces; a system resolver left on the host's :53 is not ours to leave. Best-effort,
# because there may be no systemd (containers); never fails the install.
disable_packaged_services() {
  [[ "$(id -u)" -eq 0 ]] || return 0
  local svc
  for svc in knot unbound; do
    if command -v systemctl >/dev/null 2>&1; then
      systemctl stop "$svc" >/dev/null 2>&1 || true
      systemctl disable "$svc" >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [[ -e /etc/init.d/$svc ]]; then
      update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
  done
  return 0
}

# Puts the runtime first on PATH (npm's `#!/usr/bin/env node` then runs on it too) and points node-gyp at its
# headers, which it would otherwise download from nodejs.org.
use_node_runtime() {
  bash orchestration/node-runtime.sh install
  local dir
  dir="$(bash orchestration/node-runtime.sh dir)"
  export PATH="$dir/bin:$PATH" npm_config_nodedir="$dir"
}

ensure_node_modules() {
  command -v npm >/dev/null 2>&1 || die "npm not found (any Node.js with npm fetches the runtime)"
  local marker=node_modules/.package-lock.json
  if [[ ! -d node_modules || ! -e "$marker" || package-lock.json -nt "$marker" ]]; then
    # npm ci also runs the package's "prepare" script (tsc); the build stamp below is written after it.
    run_quiet "npm ci" npm ci --no-audit --no-fund
    touch "$marker"
  fi
}

# The NFQUEUE addon: npm ci builds it (package.json "install"); rebuild it when its C sources changed since,
# or when node_modules was already there and npm ci did not run.
ensure_addon() {
  local addon=kernel/nfqueue/build/Release/nfqueue.node
  if [[ ! -e "$addon" || kernel/nfqueue/binding.gyp -nt "$addon" ||
    -n "$(find kernel/nfqueue/src -newer "$addon" -print -quit 2>/dev/null)" ]]; then
    run_quiet "npm run build:addon" npm run build:addon --silent
  fi
}

# Compiled files whose TypeScript source is gone (renamed or deleted) would otherwise keep running as tests.
remove_orphan_outputs() {
  local d f src
  for d in src test bench; do
    [[ -d "dist/$d" ]] || continue
    while IFS= read -r -d '' f; do
      src="${f#dist/}"
      src="${src%.js}.ts"
      if [[ ! -e "$src" ]]; then
        rm -f "$f" "$f.map"
      fi
    done < <(find "dist/$d" -type f -name '*.js' -print0)
    find "dist/$d" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  done
}

ensure_build() {
  local stamp=dist/.build-stamp stale=0
  if [[ ! -e "$stamp" || tsconfig.json -nt "$stamp" || package-lock.json -nt "$stamp" ]]; then
    stale=1
  elif [[ -n "$(find src test bench -name '*.ts' -newer "$stamp" -print -quit 2>/dev/null)" ]]; then
    stale=1
  fi
  if [[ $stale -eq 1 ]]; then
    local started
    started="$(date +%s.%N)" # stamp = build start: sources edited during the build make the next run rebuild
    run_quiet "npm run build" npm run build --silent
    mkdir -p dist
    touch -d "@$started" "$stamp"
  fi
  remove_orphan_outputs
}

# promtool alone: `apt-get download` the prometheus .deb (the package itself would install and start a Prometheus
# server), unpack it aside and keep usr/bin/promtool. Root only (apt); nothing to do when it is there already.
ensure_promtool() {
  local dir=.runtime/promtool tmp deb
  [[ -x "$dir/promtool" ]] && return 0
  [[ "$(id -u)" -eq 0 ]] || return 0
  tmp="$(mktemp -d)"
  # apt's download sandbox user (_apt) cannot write a root-only temp dir; apt then downloads as root and says so
  # stale or empty package lists (nothing else needed installing, so no update ran): update once and retry;
  # without promtool the metrics tests skip, saying so, rather than the whole set-up failing
  if ! (cd "$tmp" && apt_run apt-get download -q prometheus); then
    if ! { apt_run apt-get update -q && (cd "$tmp" && apt_run apt-get download -q prometheus); }; then
      echo "install-deps.sh: WARNING: could not download Debian's prometheus package; promtool is missing" >&2
      rm -rf "$tmp"
      return 0
    fi
  fi
  deb="$(compgen -G "$tmp/prometheus_*.deb" | head -n1)"
  run_quiet "unpack $deb" dpkg-deb -x "$deb" "$tmp/x" || { rm -rf "$tmp"; return 1; }
  mkdir -p "$dir"
  install -m 0755 "$tmp/x/usr/bin/promtool" "$dir/promtool.new"
  mv -f "$dir/promtool.new" "$dir/promtool"
  rm -rf "$tmp"
}

# A foreign /usr/local/bin/realmgw is reported and kept; the build and the tests do not need the launcher.
install_launcher() {
  [[ "$(id -u)" -eq 0 ]] || return 0
  bash orchestration/install-launcher.sh || echo "install-deps.sh: realmgw is not on PATH; run it as $REPO_ROOT/dist/src/cli/main.js" >&2
}

install_packages
disable_packaged_services
ensure_promtool
use_node_runtime
ensure_node_modules
ensure_addon
ensure_build
install_launcher
