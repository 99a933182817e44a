#!/usr/bin/env bash
# The /docs page (Swagger UI embedded in the gateway) in headless Chromium, with every request
# to another origin than the gateway's aborted: see docs.mjs for the checks.
#
# Usage: bash tests/browser/run.sh <path to the cupi-gateway binary>
#
# Installs what is missing: Debian's chromium (/usr/bin/chromium), Debian's nodejs + npm, and
# playwright-core from npm (package-lock.json, `npm ci`; Playwright never downloads a browser).
# Starts the gateway on a free loopback port with no upstream (so its embedded simulator),
# waits for /healthz, runs docs.mjs, and stops the gateway on exit. Exit code = the test's.
# Env: BROWSER_TEST_PORT (fixed port instead of a free one), SCREENSHOT (default
# target/docs.png under the repository root).
set -euo pipefail
binary=${1:?usage: run.sh <cupi-gateway binary>}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
[ -x "$binary" ] || { echo "run.sh: $binary is not an executable" >&2; exit 1; }

# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"
browser_tools "$here"

port=${BROWSER_TEST_PORT:-$(free_port 18091)}
base="http://127.0.0.1:${port}"
mkdir -p "$root/target"
log="$root/target/browser-gateway.log"

# No upstream: the gateway serves its embedded simulator. Its own environment must not
# point it elsewhere.
env -u CUPI_GATEWAY_UPSTREAM -u CUPI_GATEWAY_LISTEN -u CUPI_GATEWAY_SCHEMA \
  "$binary" --listen "127.0.0.1:${port}" >"$log" 2>&1 &
gateway=$!
stop_gateway() {
  kill "$gateway" 2>/dev/null || true
  wait "$gateway" 2>/dev/null || true
}
trap stop_gateway EXIT

wait_for "$base/healthz" "$gateway" "the gateway" "$log"

echo "== node tests/browser/docs.mjs against $base"
status=0
GATEWAY_URL="$base" SCREENSHOT="${SCREENSHOT:-$root/target/docs.png}" \
  timeout 240 node "$here/docs.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  echo "run.sh: the /docs browser test failed (exit $status); gateway log: $log" >&2
fi
exit "$status"
