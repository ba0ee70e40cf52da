#!/usr/bin/env bash
# The realmgw demo: installs what is missing, builds the testbed (rgw-* namespaces), starts web servers (HTTP
# 80, HTTPS 443 with a throwaway self-signed certificate) and the static forwards' targets on hosta and hostb,
# an echo service and a realmgw worker (worker1.yaml, worker2.yaml) in each worker namespace behind rgw-nat,
# runs the gateway in rgw-gwa on orchestration/netns/gwa.demo.yaml in the foreground, and tears the testbed
# down on exit. test/e2e/demo.test.ts runs the hints printed below and checks what they show.
#
#   npm run demo        (or: bash orchestration/netns/demo.sh)
#
# RGW_DEMO_KEEP=1 leaves the testbed up after the gateway stops.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
[[ "$(id -u)" -eq 0 ]] || { echo "demo.sh: must run as root (network namespaces, port 53)" >&2; exit 1; }

export RGW_PREFIX="${RGW_PREFIX:-rgw-}"
bash orchestration/install-deps.sh
# the runtime install-deps.sh brought (Node 22 LTS; RGW_NODE_MAJOR=24 for 24): everything below runs on it
NODE_DIR="$(bash orchestration/node-runtime.sh dir)"
export PATH="$NODE_DIR/bin:$PATH"
bash orchestration/netns/testbed.sh up

BACKGROUND=()
cleanup() {
  # workers first: they deregister on SIGTERM while the gateway is still up to hear it
  if [[ ${#BACKGROUND[@]} -gt 0 ]]; then kill "${BACKGROUND[@]}" 2>/dev/null || true; wait "${BACKGROUND[@]}" 2>/dev/null || true; fi
  if [[ "${RGW_DEMO_KEEP:-0}" != 1 ]]; then
    bash orchestration/netns/testbed.sh down || true
  fi
}
trap cleanup EXIT

P="$RGW_PREFIX"
cat <<TRY

  realmgw demo is starting in namespace ${P}gwa (WAN DNS 100.64.1.130:53, LAN DNS 192.168.0.1:53,
  circular pool 100.64.1.131-133, NFQUEUE confirmation). Try these from another terminal:

    ip netns exec ${P}public dig @100.64.1.130 web.hosta.gwa.demo          # a pool address, TTL 0
    ip netns exec ${P}public dig @100.64.1.130 ssh.hostb.gwa.demo SRV      # SRV 10 100 22 + A
    ip netns exec ${P}public dig +tcp @100.64.1.130 tcp.hosta.gwa.demo     # same over TCP
    ip netns exec ${P}public dig @100.64.1.130 -x 100.64.1.131             # pool PTR
    ip netns exec ${P}public dig @100.64.1.130 example.com                 # REFUSED: not our zone
    ip netns exec ${P}hosta  dig @192.168.0.1 hostb.gwa.demo               # LAN: private address
    ip netns exec ${P}public sh -c 'ping -c 3 \$(dig +short @100.64.1.130 icmp.hosta.gwa.demo)'
                                                   # resolve, then reach hosta through the gateway
    ip netns exec ${P}public sh -c 'ping -c 1 -W 1 100.64.1.131'  # no query first: unreachable
    realmgw stats --config orchestration/netns/gwa.demo.yaml               # counters (--json: all of them)
    realmgw reservations --config orchestration/netns/gwa.demo.yaml        # live reservations
    curl -s --unix-socket /run/realmgw/rgw-gwa.sock http://gw/reputation   # PBRA groups, requesters, tiers

  proxy_required names (www.hosta, www.hostb): the service address, relayed by HTTP Host and TLS SNI:
    ip netns exec ${P}public dig +short @100.64.1.130 www.hosta.gwa.demo   # 100.64.1.130, no pool address spent
    ip netns exec ${P}public curl -s --resolve www.hosta.gwa.demo:80:100.64.1.130 http://www.hosta.gwa.demo/
    ip netns exec ${P}public curl -sk --resolve www.hostb.gwa.demo:443:100.64.1.130 https://www.hostb.gwa.demo/
                                                   # TLS not terminated: hostb's own certificate
    ip netns exec ${P}public curl -s -o /dev/null -w '%{http_code}\n' -H 'Host: nosuch.gwa.demo' http://100.64.1.130/
                                                   # 421: not a proxied name, relayed nowhere

  Static forwards on 100.64.1.130 (README "Static forwards"):
    ip netns exec ${P}public sh -c 'echo hello | nc -N -w2 100.64.1.130 2222'  # dnat to hosta:22, sees the client
    ip netns exec ${P}public curl -s http://100.64.1.130:8080/             # fullnat to hostb:8080, sees 192.168.0.1
    ip netns exec ${P}public sh -c 'echo tick | nc -u -w1 100.64.1.130 1123'   # fullnat UDP to hosta:123
    ip netns exec ${P}public dig +short @100.64.1.130 _2222._tcp.ssh-fwd.hosta.gwa.demo SRV
    realmgw forwards --config orchestration/netns/gwa.demo.yaml            # each with connections, packets, bytes

  Abuse defences (README "Abuse resistance"): no pool address without a proof of the requester's address.
    ip netns exec ${P}public dig +nocookie +ignore @100.64.1.130 tcp.hosta.gwa.demo   # unproven UDP: TC, no address
    ip netns exec ${P}public dig +nocookie @100.64.1.130 tcp.hosta.gwa.demo           # dig retries over TCP: proven

  Workers behind NAT (rgw-worker1, rgw-worker2 behind rgw-nat; logs in /run/realmgw/rgw-worker*.log):
    realmgw workers --config orchestration/netns/gwa.demo.yaml             # endpoints + counters
    ip netns exec ${P}public dig @100.64.1.130 _10053._tcp.worker1.gwa.demo SRV  # the leased public port
    ip netns exec ${P}public sh -c 'echo hi | nc -N -w2 100.64.1.130 \$(dig +short @100.64.1.130 _10053._tcp.worker1.gwa.demo SRV | cut -d" " -f3)'

  Query web.hosta.gwa.demo four times in a row: the fourth gets no answer (3 addresses for key tcp/80;
  web.hosta holds its reservations 5 s, see policies/gwa.demo/hosta.yaml).
  Ctrl-C stops the gateway and removes the testbed.

TRY

mkdir -p /run/realmgw
# The realm's services: web servers (the relay's and the 8080 forward's targets) and the forwards' echo
# targets (hosta:22 TCP, hosta:123 UDP); a fresh self-signed certificate for both hosts' names.
TLS_DIR="/run/realmgw/${P}demo-tls"
mkdir -p "$TLS_DIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=www.hosta.gwa.demo" \
  -addext "subjectAltName=DNS:www.hosta.gwa.demo,DNS:www.hostb.gwa.demo" \
  -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" >/dev/null 2>&1
for h in hosta hostb; do
  ports=80
  [[ $h == hostb ]] && ports=80,8080
  ip netns exec "${P}$h" node orchestration/netns/web-service.mjs --name "$h" --http "$ports" --https 443 \
    --key "$TLS_DIR/key.pem" --cert "$TLS_DIR/cert.pem" >"/run/realmgw/${P}$h-web.log" 2>&1 &
  BACKGROUND+=($!)
done
for port in 22 123; do
  ip netns exec "${P}hosta" node orchestration/netns/echo-service.mjs hosta "$port" >"/run/realmgw/${P}hosta-echo-$port.log" 2>&1 &
  BACKGROUND+=($!)
done
for w in worker1 worker2; do
  ip netns exec "${P}$w" node orchestration/netns/echo-service.mjs "$w" 10053 >"/run/realmgw/${P}$w-echo.log" 2>&1 &
  BACKGROUND+=($!)
  # the agent retries until the gateway (started below) answers
  ip netns exec "${P}$w" node dist/src/cli/main.js worker --config "orchestration/netns/$w.yaml" >"/run/realmgw/${P}$w.log" 2>&1 &
  BACKGROUND+=($!)
done

ip netns exec "${P}gwa" node dist/src/cli/main.js run --config orchestration/netns/gwa.demo.yaml "$@" || true
