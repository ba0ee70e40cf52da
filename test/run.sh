#!/usr/bin/env bash
# What `npm test` and `npm run test:unit` run: install/build what is missing (orchestration/install-deps.sh,
# which also brings the Node.js runtime), then the compiled tests (dist/test/**/*.test.js) with node's test
# runner on that runtime, one file at a time, tier by tier. A test's tier is its file name:
#
#   e2e     test/e2e/**              the gateway end to end in a testbed of network namespaces (root)
#   kernel  **/*.kernel.test.ts      one piece against the real kernel: namespaces, nft, iptables, NFQUEUE,
#                                    a user-mode Linux guest (root)
#   unit    every other *.test.ts    pure code, fakes and loopback sockets; runs as an unprivileged user and
#                                    must never need root, a namespace or a kernel change
#
#   test/run.sh [--tier unit,kernel,e2e] [node --test arguments...]   (default: every tier, in that order)
#
#   RGW_NODE_MAJOR            22 (default) or 24: the runtime to test on (orchestration/node-runtime.sh)
#   RGW_TEST_FILE_TIMEOUT_MS  the runner's --test-timeout (default 600000); give long tests their own
#                             { timeout } option (see test/support/repo.ts E2E_TIMEOUT_MS)
#   other arguments are passed to `node --test` (e.g. --test-name-pattern=testbed)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

ALL_TIERS=(unit kernel e2e)
tiers=("${ALL_TIERS[@]}")
spec=
if [[ "${1:-}" == --tier ]]; then
  spec="${2:?test/run.sh: --tier needs a list such as unit,e2e}"
  shift 2
elif [[ "${1:-}" == --tier=* ]]; then
  spec="${1#--tier=}"
  shift
fi
if [[ -n "$spec" ]]; then
  IFS=, read -r -a tiers <<<"$spec"
  for t in "${tiers[@]}"; do
    [[ " ${ALL_TIERS[*]} " == *" $t "* ]] || { echo "test/run.sh: unknown tier '$t' (${ALL_TIERS[*]})" >&2; exit 2; }
  done
fi

tier_of() {
  case "$1" in
    dist/test/e2e/*) echo e2e ;;
    *.kernel.test.js) echo kernel ;;
    *) echo unit ;;
  esac
}

privileged=0
for t in "${tiers[@]}"; do [[ "$t" == unit ]] || privileged=1; done
if [[ $privileged -eq 1 && "$(id -u)" -ne 0 ]]; then
  echo "test/run.sh: the kernel and e2e tiers build network namespaces and must run as root (try: sudo npm test;" \
    "the unit tier runs as any user: npm run test:unit)" >&2
  exit 1
fi

bash orchestration/install-deps.sh
PATH="$(bash orchestration/node-runtime.sh dir)/bin:$PATH"
export PATH

# Namespaces of earlier *test* runs only (prefix rgwt...); the demo's rgw- testbed is left alone.
if [[ $privileged -eq 1 ]]; then RGW_PREFIX=rgwt bash orchestration/netns/testbed.sh down; fi

mapfile -t all < <(find dist/test -type f -name '*.test.js' 2>/dev/null | LC_ALL=C sort)
if [[ ${#all[@]} -eq 0 ]]; then
  echo "test/run.sh: no compiled test files under dist/test (is the build broken?)" >&2
  exit 1
fi

rc=0
for tier in "${tiers[@]}"; do
  files=()
  for f in "${all[@]}"; do [[ "$(tier_of "$f")" == "$tier" ]] && files+=("$f"); done
  echo "test/run.sh: tier $tier, ${#files[@]} files, $(node --version), uid $(id -u)"
  [[ ${#files[@]} -gt 0 ]] || continue
  node --test --test-reporter=spec --test-concurrency=1 \
    --test-timeout="${RGW_TEST_FILE_TIMEOUT_MS:-600000}" \
    "$@" "${files[@]}" || rc=1
done

# A test process killed hard cannot clean up after itself.
if [[ $privileged -eq 1 ]]; then RGW_PREFIX=rgwt bash orchestration/netns/testbed.sh down || true; fi
exit $rc
