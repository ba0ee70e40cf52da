#!/usr/bin/env bash
# What `npm run bench` runs: installs/builds what is missing, then the benchmark harness (bench/dns-bench.ts,
# compiled to dist/bench/dns-bench.js: the DNS rows, then the data-plane rows of bench/flows-bench.ts, then the
# workers rows of bench/workers-bench.ts). It prints numbers; it is not a test and does not gate on its targets:
# the exit status is non-zero only when a measurement could not be run.
#
#   BENCH_SECONDS  length of each dnsperf run (default 10)
#   BENCH_WARMUP   seconds of unmeasured dnsperf load before each measured run (default 2; 0 = none)
#   BENCH_ONLY     comma list of measurements to run (default: all):
#                    DNS (loopback, dnsperf): knot,floor,static,alloc,rss
#                    (floor: a bare Node dgram responder doing no DNS work, the ceiling for one Node thread)
#                    data plane (a testbed of network namespaces, bench/flows-bench.ts):
#                    flows-nfqueue,flows-nftset (confirmed new TCP flows/s: DNS query + connect +
#                    request/response, 3-address pool, stepped offered rate), latency (first-packet TCP
#                    connect time to a fresh reservation in both modes against a static DNAT rule)
#                    workers (a testbed with the NAT router and workers, bench/workers-bench.ts):
#                    workers-register (1,000 workers x 5 ports registered over the real API, every mapping
#                    in the kernel; target < 2 s), workers-throughput (bulk TCP through a lease against plain
#                    routing to the same sink in the same run; target >= 0.9x)
#                    attack (issue 8, a testbed with Debian's Unbound in front, bench/attack-bench.ts):
#                    attack-phases (legitimate success per phase: no attack, spoofed UDP queries, spoofed SYNs
#                    at the pool, one aggressive real client; target >= 99 %), attack-alloc (allocating QPS of
#                    a proven requester over TCP, defences on against off in the same run; target >= 0.9x)
#   BENCH_FLOW_SECONDS, BENCH_FLOW_WARMUP, BENCH_FLOW_RATES, BENCH_FLOW_CLIENTS, BENCH_FLOW_NAMES,
#   BENCH_LATENCY_FLOWS   data-plane knobs (see --help)
#   BENCH_WORKERS, BENCH_WORKER_PORTS, BENCH_WORKERS_CONCURRENCY, BENCH_THROUGHPUT_SECONDS,
#   BENCH_THROUGHPUT_ROUNDS   workers knobs (see --help)
#   RGW_ATTACK_FLOWS, RGW_ATTACK_LEGIT_RATE, RGW_ATTACK_UDP_RATE, RGW_ATTACK_SYN_RATE, RGW_ATTACK_AGGRESSIVE_RATE,
#   RGW_ATTACK_ATTEMPTS, BENCH_ATTACK_PHASES, BENCH_ATTACK_DEFENCES, BENCH_ATTACK_ALLOC_SECONDS,
#   BENCH_ATTACK_ALLOC_ROUNDS   attack knobs (see --help)
#   BENCH_PROFILE  a folder: run realmgw under `node --cpu-prof` there and print where its time goes
#                  (V8 charges native and kernel time to the JS frame that called it: dgram's doSend
#                  is mostly the kernel's sendmsg; `perf record -g` with node --perf-basic-prof splits it)
#   extra arguments are passed to the harness (--help lists them)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

if [[ "$(id -u)" -ne 0 ]]; then
  echo "bench/run.sh: must run as root (it installs packages, starts knotd and builds network namespaces; try: sudo npm run bench)" >&2
  exit 1
fi

if [[ -f orchestration/install-deps.sh ]]; then
  bash orchestration/install-deps.sh
else
  for tool in dnsperf knotd; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "bench/run.sh: $tool not found (apt-get install -y dnsperf knot)" >&2
      exit 1
    }
  done
  npx tsc -p tsconfig.json
fi

# the runtime install-deps.sh brought (orchestration/node-runtime.sh; RGW_NODE_MAJOR=24 for Node 24)
if NODE_DIR="$(bash orchestration/node-runtime.sh dir 2>/dev/null)"; then PATH="$NODE_DIR/bin:$PATH"; fi
exec node dist/bench/dns-bench.js "$@"
