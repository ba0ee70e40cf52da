#!/usr/bin/env bash
# What `npm test` runs: install/build what is missing, remove namespaces left by earlier test runs, then run
# every compiled test file (dist/test/**/*.test.js) with node's test runner, one file at a time.
#
#   RGW_TEST_FILE_TIMEOUT_MS  timeout of one test *file* (default 600000). Node 20 applies --test-timeout
#                             to each file as a whole, not to each test: give long tests their own
#                             { timeout } option (see test/support/repo.ts E2E_TIMEOUT_MS).
#   extra arguments are passed to `node --test` (e.g. --test-name-pattern=testbed)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

if [[ "$(id -u)" -ne 0 ]]; then
  echo "test/run.sh: the tests build network namespaces and must run as root (try: sudo npm test)" >&2
  exit 1
fi

bash orchestration/install-deps.sh

# Namespaces of earlier *test* runs only (prefix rgwt...); the demo's rgw- testbed is left alone.
RGW_PREFIX=rgwt bash orchestration/netns/testbed.sh down

mapfile -t files < <(find dist/test -type f -name '*.test.js' 2>/dev/null | LC_ALL=C sort)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "test/run.sh: no compiled test files under dist/test (is the build broken?)" >&2
  exit 1
fi

rc=0
node --test --test-reporter=spec --test-concurrency=1 \
  --test-timeout="${RGW_TEST_FILE_TIMEOUT_MS:-600000}" \
  "$@" "${files[@]}" || rc=$?

# A test process killed hard cannot clean up after itself.
RGW_PREFIX=rgwt bash orchestration/netns/testbed.sh down || true
exit $rc
