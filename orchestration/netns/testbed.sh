#!/usr/bin/env bash
# realmgw network-namespace testbed.
#
#   testbed.sh up       build (or repair) the testbed; idempotent
#   testbed.sh down     delete every namespace whose name starts with the prefix; ok when absent
#   testbed.sh status   print namespaces, addresses and routes; exit 1 when absent or incomplete
#
# Namespaces are named ${RGW_PREFIX:-rgw-}<node>. The demo uses the default prefix "rgw-"; tests use
# their own random prefix (rgwt<6 hex>-) so several testbeds can coexist.
#
#   <p>public  eth0 100.64.0.100/24                   default via 100.64.0.1     (the Internet: clients)
#   <p>router  pub0 100.64.0.1/24, gw0 100.64.1.1/24   pool 100.64.1.131-133/32 via 100.64.1.130
#   <p>gwa     wan0 100.64.1.130/24, lan0 (bridge) 192.168.0.1/24, ports vha vhb; default via 100.64.1.1
#   <p>hosta   eth0 192.168.0.100/24                  default via 192.168.0.1
#   <p>hostb   eth0 192.168.0.101/24                  default via 192.168.0.1
#
# Every veth is created directly inside its namespaces (never in the root namespace) and no sysctl of the
# root namespace is touched. IPv6 is disabled on the testbed (the project is IPv4-only for now).
set -euo pipefail

PREFIX="${RGW_PREFIX:-rgw-}"
NODES=(public router gwa hosta hostb)

die() { echo "testbed.sh: $*" >&2; exit 1; }

usage() {
  echo "usage: [RGW_PREFIX=rgw-] $0 up|down|status" >&2
  exit 2
}

# A prefix that is empty or contains odd characters could match (and delete) unrelated namespaces.
[[ "$PREFIX" =~ ^[A-Za-z][A-Za-z0-9_.-]{0,39}$ ]] ||
  die "invalid RGW_PREFIX '$PREFIX' (letters, digits, '_', '.', '-'; must start with a letter)"

ns() { printf '%s%s' "$PREFIX" "$1"; }

require_root() {
  [[ "$(id -u)" -eq 0 ]] || die "must run as root (network namespaces)"
  command -v ip >/dev/null 2>&1 || die "'ip' not found: install iproute2 (orchestration/install-deps.sh)"
}

# Serialise up/down (one lock for all prefixes: an operation takes a fraction of a second, and one file
# does not pile up a lock file per random test prefix).
lock() {
  if command -v flock >/dev/null 2>&1; then
    local dir=/run/lock
    [[ -d "$dir" ]] || dir=/tmp
    exec 9>"$dir/realmgw-testbed.lock"
    flock -w 120 9 || die "timed out waiting for $dir/realmgw-testbed.lock"
  fi
}

# Namespaces whose names start with the prefix (first field of `ip netns list`).
prefixed_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | while read -r n; do
    [[ "$n" == "$PREFIX"* ]] && printf '%s\n' "$n"
  done
  return 0
}

ns_exists() { [[ -e "/run/netns/$1" ]]; }
# A usable namespace: its file is a bind mount of a namespace (an interrupted `ip netns add` can leave a
# plain file behind, which `ip -n` cannot enter).
ns_usable() { ip -n "$1" link show lo >/dev/null 2>&1; }
link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

kill_ns_processes() {
  local n="$1" pids
  pids="$(ip netns pids "$n" 2>/dev/null || true)"
  [[ -z "$pids" ]] && return 0
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 30); do
    pids="$(ip netns pids "$n" 2>/dev/null || true)"
    [[ -z "$pids" ]] && return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
}

delete_ns() {
  local n="$1"
  kill_ns_processes "$n"
  ip netns delete "$n" 2>/dev/null || true
  # `ip netns delete` of a stale plain file can fail half-way; make sure the name is gone.
  if [[ -e "/run/netns/$n" ]]; then
    umount -l "/run/netns/$n" 2>/dev/null || true
    rm -f "/run/netns/$n"
  fi
  ! ns_exists "$n" || die "could not delete namespace $n"
}

ensure_ns() {
  local n
  n="$(ns "$1")"
  if ns_exists "$n" && ! ns_usable "$n"; then
    delete_ns "$n" # stale leftover of an interrupted run
  fi
  if ! ns_exists "$n"; then
    ip netns add "$n"
  fi
  # Before any link exists, so new devices inherit "default": no IPv6 (no DAD, no RA, no link-local noise).
  ip netns exec "$n" sysctl -q -w \
    net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.ping_group_range="0 2147483647" \
    net.ipv4.conf.all.rp_filter=0 \
    net.ipv4.conf.default.rp_filter=0 >/dev/null
  ip -n "$n" link set lo up
}

set_forwarding() {
  ip netns exec "$(ns "$1")" sysctl -q -w net.ipv4.ip_forward="$2" >/dev/null
}

# ensure_veth NODE1 IF1 NODE2 IF2: a veth pair IF1 (in NODE1) <-> IF2 (in NODE2), created inside the
# namespaces. A half pair (one namespace was recreated) is removed and the pair made again.
ensure_veth() {
  local n1 n2
  n1="$(ns "$1")"
  n2="$(ns "$3")"
  if link_exists "$n1" "$2" && link_exists "$n2" "$4"; then
    return 0
  fi
  # The half left behind may vanish by itself meanwhile: the kernel destroys a deleted namespace's
  # devices (and with them their veth peers) asynchronously.
  ip -n "$n1" link del dev "$2" 2>/dev/null || true
  ip -n "$n2" link del dev "$4" 2>/dev/null || true
  ip -n "$n1" link add "$2" type veth peer name "$4" netns "$n2"
}

# ensure_addr NODE IF CIDR
ensure_addr() {
  local n
  n="$(ns "$1")"
  ip -n "$n" addr replace "$3" dev "$2"
  ip -n "$n" link set dev "$2" up
}

cmd_up() {
  require_root
  lock
  local node
  for node in "${NODES[@]}"; do
    ensure_ns "$node"
  done
  set_forwarding router 1
  set_forwarding gwa 1
  # explicit, since IPv4 settings of a new namespace are inherited from the root namespace
  set_forwarding public 0
  set_forwarding hosta 0
  set_forwarding hostb 0

  ensure_veth public eth0 router pub0
  ensure_veth router gw0 gwa wan0
  ensure_veth hosta eth0 gwa vha
  ensure_veth hostb eth0 gwa vhb

  local gwa
  gwa="$(ns gwa)"
  link_exists "$gwa" lan0 || ip -n "$gwa" link add lan0 type bridge
  ip -n "$gwa" link set dev lan0 type bridge stp_state 0 forward_delay 0
  ip -n "$gwa" link set dev vha master lan0
  ip -n "$gwa" link set dev vhb master lan0
  ip -n "$gwa" link set dev vha up
  ip -n "$gwa" link set dev vhb up
  # If br_netfilter is loaded, bridged LAN frames would traverse the gateway's iptables; keep the LAN a
  # plain switch (best-effort: the keys exist only with the module).
  ip netns exec "$gwa" sysctl -q -e -w \
    net.bridge.bridge-nf-call-iptables=0 \
    net.bridge.bridge-nf-call-arptables=0 >/dev/null 2>&1 || true

  ensure_addr public eth0 100.64.0.100/24
  ensure_addr router pub0 100.64.0.1/24
  ensure_addr router gw0 100.64.1.1/24
  ensure_addr gwa wan0 100.64.1.130/24
  ensure_addr gwa lan0 192.168.0.1/24
  ensure_addr hosta eth0 192.168.0.100/24
  ensure_addr hostb eth0 192.168.0.101/24

  ip -n "$(ns public)" route replace default via 100.64.0.1 dev eth0
  local a
  for a in 100.64.1.131 100.64.1.132 100.64.1.133; do
    ip -n "$(ns router)" route replace "$a/32" via 100.64.1.130 dev gw0
  done
  ip -n "$gwa" route replace default via 100.64.1.1 dev wan0
  ip -n "$(ns hosta)" route replace default via 192.168.0.1 dev eth0
  ip -n "$(ns hostb)" route replace default via 192.168.0.1 dev eth0

  local problems
  if ! problems="$(check)"; then
    echo "$problems" >&2
    die "testbed '$PREFIX' is incomplete after up"
  fi
}

# check: prints one line per problem; returns non-zero when the testbed is absent or incomplete.
# (No `cmd | grep -q` here: with pipefail, grep's early exit makes cmd die of SIGPIPE and the check fail.)
check() {
  local bad=0 node n out
  for node in "${NODES[@]}"; do
    n="$(ns "$node")"
    if ! ns_exists "$n"; then echo "missing namespace $n"; bad=1; continue; fi
    if ! ns_usable "$n"; then echo "namespace $n is not usable (stale)"; bad=1; continue; fi
  done
  [[ $bad -eq 0 ]] || return 1

  # node dev cidr
  local spec
  while read -r node dev cidr; do
    n="$(ns "$node")"
    out="$(ip -n "$n" -o link show dev "$dev" 2>/dev/null || true)"
    if ! grep -q '[<,]UP[,>]' <<<"$out"; then
      echo "$n: $dev missing or down"; bad=1; continue
    fi
    out="$(ip -n "$n" -o -4 addr show dev "$dev" 2>/dev/null || true)"
    grep -qF " inet $cidr " <<<"$out" || { echo "$n: $dev lacks $cidr"; bad=1; }
  done <<'EOF'
public eth0 100.64.0.100/24
router pub0 100.64.0.1/24
router gw0 100.64.1.1/24
gwa wan0 100.64.1.130/24
gwa lan0 192.168.0.1/24
hosta eth0 192.168.0.100/24
hostb eth0 192.168.0.101/24
EOF
  for spec in vha vhb; do
    out="$(ip -n "$(ns gwa)" -o link show dev "$spec" 2>/dev/null || true)"
    grep -q ' master lan0 ' <<<"$out" || { echo "$(ns gwa): $spec not a port of lan0"; bad=1; }
  done

  # node route
  while read -r node spec; do
    n="$(ns "$node")"
    out="$(ip -n "$n" -4 route show 2>/dev/null | sed 's/ *$//' || true)"
    grep -qxF "$spec" <<<"$out" || { echo "$n: missing route '$spec'"; bad=1; }
  done <<'EOF'
public default via 100.64.0.1 dev eth0
router 100.64.1.131 via 100.64.1.130 dev gw0
router 100.64.1.132 via 100.64.1.130 dev gw0
router 100.64.1.133 via 100.64.1.130 dev gw0
gwa default via 100.64.1.1 dev wan0
hosta default via 192.168.0.1 dev eth0
hostb default via 192.168.0.1 dev eth0
EOF
  for node in router gwa; do
    n="$(ns "$node")"
    [[ "$(ip netns exec "$n" sysctl -n net.ipv4.ip_forward 2>/dev/null)" == 1 ]] ||
      { echo "$n: forwarding off"; bad=1; }
  done
  return $bad
}

cmd_status() {
  require_root
  local node n
  for node in "${NODES[@]}"; do
    n="$(ns "$node")"
    echo "== $n"
    if ns_exists "$n" && ns_usable "$n"; then
      ip -n "$n" -br -4 addr show | sed 's/^/  addr  /'
      ip -n "$n" -4 route show | sed 's/^/  route /'
    else
      echo "  (absent)"
    fi
  done
  local problems
  if problems="$(check)"; then
    echo "testbed '$PREFIX': complete"
  else
    echo "$problems" | sed 's/^/  problem: /'
    echo "testbed '$PREFIX': absent or incomplete" >&2
    return 1
  fi
}

cmd_down() {
  require_root
  lock
  local n
  for n in $(prefixed_namespaces); do
    delete_ns "$n"
  done
  # Stale files that `ip netns list` may not show.
  if [[ -d /run/netns ]]; then
    for n in /run/netns/"$PREFIX"*; do
      [[ -e "$n" ]] && delete_ns "$(basename "$n")"
    done
  fi
  return 0
}

[[ $# -eq 1 ]] || usage
case "$1" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) usage ;;
esac
