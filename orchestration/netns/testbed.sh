#!/usr/bin/env bash
# realmgw network-namespace testbed.
#
#   testbed.sh up         build (or repair) the testbed; idempotent (keeps the current NAT mode)
#   testbed.sh down       delete every namespace whose name starts with the prefix; ok when absent
#   testbed.sh status     print namespaces, addresses, routes and the NAT mode; exit 1 when absent or incomplete
#   testbed.sh nat [MODE] print the NAT mode of <p>nat, or switch it to MODE (see NAT MODES below)
#
# Namespaces are named ${RGW_PREFIX:-rgw-}<node>. The demo uses the default prefix "rgw-"; tests use
# their own random prefix (rgwt<6 hex>-) so several testbeds can coexist.
#
#   <p>public  eth0 100.64.0.100/24                   default via 100.64.0.1     (the Internet: clients)
#   <p>router  pub0 100.64.0.1/24, gw0 100.64.1.1/24, nat0 100.64.2.1/24
#              pool 100.64.1.131-133/32 via 100.64.1.130
#   <p>gwa     wan0 100.64.1.130/24 + 100.64.1.134/24 (second STUN address, RFC 5780 OTHER-ADDRESS),
#              lan0 (bridge) 192.168.0.1/24, ports vha vhb vhc; wrk0 (bridge) 10.200.0.1/24, ports pw1 pw2;
#              default via 100.64.1.1
#   <p>hosta   eth0 192.168.0.100/24                  default via 192.168.0.1
#   <p>hostb   eth0 192.168.0.101/24                  default via 192.168.0.1
#   <p>hostc   eth0 192.168.0.102/24                  default via 192.168.0.254 (nothing there: a host routed
#              elsewhere, as behind a second router; plain DNAT toward it fails, FULL-NAT works)
#   <p>nat     up0 100.64.2.2/24, lan0 (bridge) 172.16.0.1/24, ports nw1 nw2; default via 100.64.2.1
#              masquerades 172.16.0.0/24 out of up0 (nft table "ip rgwnat")
#   <p>worker1 nat0 172.16.0.11/24 (default via 172.16.0.1), priv0 10.200.0.11/24 (private network to gwa)
#   <p>worker2 nat0 172.16.0.12/24 (default via 172.16.0.1), priv0 10.200.0.12/24
#
# The workers reach the Internet only through <p>nat, and gwa only over 10.200.0.0/24 (no route over priv0
# beyond it). gwa's nft table "ip rgwtestbed" drops whatever enters from wrk0 for 192.168.0.0/24, so even a
# worker that adds its own route through 10.200.0.1 cannot reach the realm (the testbed models a gateway
# host whose worker network is kept apart from its realm; realmgw's own table is "ip realmgw").
#
# NAT MODES of <p>nat (the table "ip rgwnat" is replaced in one nft transaction and the namespace's
# connection tracking is flushed, so no mapping of the previous mode survives):
#   port-restricted  (default) Linux masquerade: endpoint-independent mapping that keeps the source port
#                    when it is free, address-and-port-dependent filtering (only the contacted address
#                    and port get in).
#   symmetric        masquerade fully-random: every new flow (so every new destination) gets a random port.
#   full-cone        port-restricted mapping plus endpoint-independent filtering for UDP: each outbound UDP
#                    flow records "mapped port -> worker address and port" in a dynamic map (2 min, renewed
#                    by outbound traffic), and inbound UDP from anyone to a recorded port is DNATed back to
#                    that worker. TCP keeps port-restricted filtering (full cone is a UDP notion, RFC 4787).
#   blocked          port-restricted, but UDP is not forwarded in either direction (TCP and ICMP pass).
#
# Every veth is created directly inside its namespaces (never in the root namespace) and no sysctl of the
# root namespace is touched. IPv6 is disabled on the testbed (the project is IPv4-only for now).
set -euo pipefail

PREFIX="${RGW_PREFIX:-rgw-}"
NODES=(public router gwa hosta hostb hostc nat worker1 worker2)
NAT_MODES=(port-restricted symmetric full-cone blocked)
DEFAULT_NAT_MODE='port-restricted'

die() { echo "testbed.sh: $*" >&2; exit 1; }

usage() {
  echo "usage: [RGW_PREFIX=rgw-] $0 up|down|status|nat [$(nat_modes_text)]" >&2
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

# ensure_bridge NODE BRIDGE PORT...: a plain switch (no STP, no forwarding delay) with these ports, all up.
ensure_bridge() {
  local n br="$2" port
  n="$(ns "$1")"
  link_exists "$n" "$br" || ip -n "$n" link add "$br" type bridge
  ip -n "$n" link set dev "$br" type bridge stp_state 0 forward_delay 0
  for port in "${@:3}"; do
    ip -n "$n" link set dev "$port" master "$br"
    ip -n "$n" link set dev "$port" up
  done
  # If br_netfilter is loaded, bridged frames would traverse the namespace's iptables; keep the bridge a
  # plain switch (best-effort: the keys exist only with the module).
  ip netns exec "$n" sysctl -q -e -w \
    net.bridge.bridge-nf-call-iptables=0 \
    net.bridge.bridge-nf-call-arptables=0 >/dev/null 2>&1 || true
}

# The first address of wan0 is the one gwa's own traffic leaves from: 100.64.1.130 must stay primary, with
# 100.64.1.134 secondary. If .130 was lost (re-adding it would make it secondary), both are added again.
ensure_gwa_wan_addresses() {
  local gwa first
  gwa="$(ns gwa)"
  first="$(ip -n "$gwa" -o -4 addr show dev wan0 2>/dev/null | awk '{print $4; exit}')"
  if [[ -n "$first" && "$first" != 100.64.1.130/24 ]]; then
    ip -n "$gwa" addr del 100.64.1.134/24 dev wan0 2>/dev/null || true
  fi
  ensure_addr gwa wan0 100.64.1.130/24
  ensure_addr gwa wan0 100.64.1.134/24
}

nat_modes_text() {
  local IFS='|'
  printf '%s' "${NAT_MODES[*]}"
}

valid_nat_mode() {
  local m
  for m in "${NAT_MODES[@]}"; do [[ "$1" == "$m" ]] && return 0; done
  return 1
}

# render_nat_table MODE: the whole "ip rgwnat" table of <p>nat as one nft transaction (creating the table
# first so that deleting it cannot fail, then the new content). Pure: prints text, touches nothing.
render_nat_table() {
  local mode="$1" masquerade_flags=''
  [[ "$mode" == symmetric ]] && masquerade_flags=' fully-random'
  cat <<NFT
table ip rgwnat {}
delete table ip rgwnat
table ip rgwnat {
  comment "rgw testbed NAT; mode=$mode"
  chain outbound {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "up0" ip saddr 172.16.0.0/24 masquerade$masquerade_flags
  }
NFT
  if [[ "$mode" == full-cone ]]; then
    # The mapped port is known only once the srcnat hook has bound the flow; a filter chain just after it
    # reads it from the reply tuple and records which worker address and port it belongs to.
    cat <<'NFT'
  map cone {
    type inet_proto . inet_service : ipv4_addr . inet_service
    flags dynamic,timeout
    timeout 2m
  }
  chain learn {
    type filter hook postrouting priority srcnat + 10; policy accept;
    oifname "up0" ct direction original ct original ip saddr 172.16.0.0/24 meta l4proto udp update @cone { meta l4proto . ct reply proto-dst : ct original ip saddr . ct original proto-src }
  }
  chain inbound {
    type nat hook prerouting priority dstnat; policy accept;
    iifname "up0" meta l4proto udp dnat ip to meta l4proto . udp dport map @cone
  }
NFT
  fi
  if [[ "$mode" == blocked ]]; then
    cat <<'NFT'
  chain forward {
    type filter hook forward priority filter; policy accept;
    meta l4proto udp drop
  }
NFT
  fi
  echo "}"
}

# The NAT mode recorded in the table's comment; empty when the table is absent or not ours.
current_nat_mode() {
  local out
  out="$(ip netns exec "$(ns nat)" nft list table ip rgwnat 2>/dev/null || true)"
  sed -n 's/^[[:space:]]*comment "rgw testbed NAT; mode=\([a-z-]*\)"$/\1/p' <<<"$out"
}

apply_nat_mode() {
  local n
  n="$(ns nat)"
  render_nat_table "$1" | ip netns exec "$n" nft -f - || die "could not install NAT mode $1 in $n"
}

# The gateway side of the worker network stays apart from the realm (see the header).
render_gwa_isolation() {
  cat <<'NFT'
table ip rgwtestbed {}
delete table ip rgwtestbed
table ip rgwtestbed {
  comment "rgw testbed: workers never reach the realm"
  chain worker_net {
    type filter hook prerouting priority raw; policy accept;
    iifname "wrk0" ip daddr 192.168.0.0/24 drop
  }
}
NFT
}

gwa_isolation_present() {
  local out
  out="$(ip netns exec "$(ns gwa)" nft list table ip rgwtestbed 2>/dev/null || true)"
  grep -qF 'iifname "wrk0" ip daddr 192.168.0.0/24 drop' <<<"$out"
}

require_tools() {
  command -v nft >/dev/null 2>&1 || die "'nft' not found: install nftables (orchestration/install-deps.sh)"
}

cmd_up() {
  require_root
  require_tools
  lock
  local node
  for node in "${NODES[@]}"; do
    ensure_ns "$node"
  done
  set_forwarding router 1
  set_forwarding gwa 1
  set_forwarding nat 1
  # explicit, since IPv4 settings of a new namespace are inherited from the root namespace
  for node in public hosta hostb hostc worker1 worker2; do
    set_forwarding "$node" 0
  done

  ensure_veth public eth0 router pub0
  ensure_veth router gw0 gwa wan0
  ensure_veth hosta eth0 gwa vha
  ensure_veth hostb eth0 gwa vhb
  ensure_veth hostc eth0 gwa vhc
  ensure_veth router nat0 nat up0
  ensure_veth worker1 nat0 nat nw1
  ensure_veth worker2 nat0 nat nw2
  ensure_veth worker1 priv0 gwa pw1
  ensure_veth worker2 priv0 gwa pw2

  ensure_bridge gwa lan0 vha vhb vhc
  ensure_bridge gwa wrk0 pw1 pw2
  ensure_bridge nat lan0 nw1 nw2

  ensure_addr public eth0 100.64.0.100/24
  ensure_addr router pub0 100.64.0.1/24
  ensure_addr router gw0 100.64.1.1/24
  ensure_addr router nat0 100.64.2.1/24
  ensure_gwa_wan_addresses
  ensure_addr gwa lan0 192.168.0.1/24
  ensure_addr gwa wrk0 10.200.0.1/24
  ensure_addr hosta eth0 192.168.0.100/24
  ensure_addr hostb eth0 192.168.0.101/24
  ensure_addr hostc eth0 192.168.0.102/24
  ensure_addr nat up0 100.64.2.2/24
  ensure_addr nat lan0 172.16.0.1/24
  ensure_addr worker1 nat0 172.16.0.11/24
  ensure_addr worker1 priv0 10.200.0.11/24
  ensure_addr worker2 nat0 172.16.0.12/24
  ensure_addr worker2 priv0 10.200.0.12/24

  local gwa
  gwa="$(ns gwa)"
  ip -n "$(ns public)" route replace default via 100.64.0.1 dev eth0
  local a
  for a in 100.64.1.131 100.64.1.132 100.64.1.133; do
    ip -n "$(ns router)" route replace "$a/32" via 100.64.1.130 dev gw0
  done
  ip -n "$gwa" route replace default via 100.64.1.1 dev wan0
  ip -n "$(ns hosta)" route replace default via 192.168.0.1 dev eth0
  ip -n "$(ns hostb)" route replace default via 192.168.0.1 dev eth0
  ip -n "$(ns hostc)" route replace default via 192.168.0.254 dev eth0
  ip -n "$(ns nat)" route replace default via 100.64.2.1 dev up0
  ip -n "$(ns worker1)" route replace default via 172.16.0.1 dev nat0
  ip -n "$(ns worker2)" route replace default via 172.16.0.1 dev nat0

  # Installed only when missing, so that `up` on a running testbed keeps the NAT mode and its mappings.
  gwa_isolation_present || render_gwa_isolation | ip netns exec "$gwa" nft -f - ||
    die "could not install the worker-network isolation in $gwa"
  [[ -n "$(current_nat_mode)" ]] || apply_nat_mode "$DEFAULT_NAT_MODE"

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
  done <<'EOF2'
public eth0 100.64.0.100/24
router pub0 100.64.0.1/24
router gw0 100.64.1.1/24
router nat0 100.64.2.1/24
gwa wan0 100.64.1.130/24
gwa wan0 100.64.1.134/24
gwa lan0 192.168.0.1/24
gwa wrk0 10.200.0.1/24
hosta eth0 192.168.0.100/24
hostb eth0 192.168.0.101/24
hostc eth0 192.168.0.102/24
nat up0 100.64.2.2/24
nat lan0 172.16.0.1/24
worker1 nat0 172.16.0.11/24
worker1 priv0 10.200.0.11/24
worker2 nat0 172.16.0.12/24
worker2 priv0 10.200.0.12/24
EOF2
  out="$(ip -n "$(ns gwa)" -o -4 addr show dev wan0 2>/dev/null | awk '{print $4; exit}' || true)"
  [[ "$out" == 100.64.1.130/24 ]] || { echo "$(ns gwa): wan0's primary address is '$out', not 100.64.1.130/24"; bad=1; }

  # node bridge port
  while read -r node dev spec; do
    n="$(ns "$node")"
    out="$(ip -n "$n" -o link show dev "$spec" 2>/dev/null || true)"
    grep -q " master $dev " <<<"$out" || { echo "$n: $spec not a port of $dev"; bad=1; }
  done <<'EOF2'
gwa lan0 vha
gwa lan0 vhb
gwa lan0 vhc
gwa wrk0 pw1
gwa wrk0 pw2
nat lan0 nw1
nat lan0 nw2
EOF2

  # node route
  while read -r node spec; do
    n="$(ns "$node")"
    out="$(ip -n "$n" -4 route show 2>/dev/null | sed 's/ *$//' || true)"
    grep -qxF "$spec" <<<"$out" || { echo "$n: missing route '$spec'"; bad=1; }
  done <<'EOF2'
public default via 100.64.0.1 dev eth0
router 100.64.1.131 via 100.64.1.130 dev gw0
router 100.64.1.132 via 100.64.1.130 dev gw0
router 100.64.1.133 via 100.64.1.130 dev gw0
gwa default via 100.64.1.1 dev wan0
hosta default via 192.168.0.1 dev eth0
hostb default via 192.168.0.1 dev eth0
hostc default via 192.168.0.254 dev eth0
nat default via 100.64.2.1 dev up0
worker1 default via 172.16.0.1 dev nat0
worker2 default via 172.16.0.1 dev nat0
EOF2
  for node in router gwa nat; do
    n="$(ns "$node")"
    [[ "$(ip netns exec "$n" sysctl -n net.ipv4.ip_forward 2>/dev/null)" == 1 ]] ||
      { echo "$n: forwarding off"; bad=1; }
  done
  gwa_isolation_present || { echo "$(ns gwa): nft table ip rgwtestbed (worker-network isolation) missing"; bad=1; }
  valid_nat_mode "$(current_nat_mode)" || { echo "$(ns nat): nft table ip rgwnat missing or without a mode"; bad=1; }
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
  if ns_exists "$(ns nat)" && ns_usable "$(ns nat)"; then
    echo "nat mode: $(current_nat_mode || true)"
  fi
  local problems
  if problems="$(check)"; then
    echo "testbed '$PREFIX': complete"
  else
    echo "$problems" | sed 's/^/  problem: /'
    echo "testbed '$PREFIX': absent or incomplete" >&2
    return 1
  fi
}

# nat: print the mode; nat MODE: switch to it. A bad mode or an absent testbed changes nothing.
cmd_nat() {
  require_root
  local mode="${1:-}" n
  n="$(ns nat)"
  if [[ -n "$mode" ]] && ! valid_nat_mode "$mode"; then
    die "unknown NAT mode '$mode' (one of: $(nat_modes_text))"
  fi
  if ! ns_exists "$n" || ! ns_usable "$n"; then
    die "namespace $n is absent: run '$0 up' first"
  fi
  if [[ -z "$mode" ]]; then
    current_nat_mode
    return 0
  fi
  require_tools
  command -v conntrack >/dev/null 2>&1 || die "'conntrack' not found: install it (orchestration/install-deps.sh)"
  lock
  apply_nat_mode "$mode"
  # Flows bound under the previous mode would keep its mapping and filtering; the namespace is the
  # testbed's own, so its whole table is ours to flush.
  ip netns exec "$n" conntrack -F >/dev/null 2>&1 || die "could not flush connection tracking in $n"
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

case "${1:-}" in
  up) [[ $# -eq 1 ]] || usage; cmd_up ;;
  down) [[ $# -eq 1 ]] || usage; cmd_down ;;
  status) [[ $# -eq 1 ]] || usage; cmd_status ;;
  nat) [[ $# -le 2 ]] || usage; cmd_nat "${2:-}" ;;
  *) usage ;;
esac
