#!/usr/bin/env bash
# The reference frontend (examples/web) in headless Chromium against the real gateway: see
# frontend.mjs for the checks.
#
# Usage: bash tests/browser/frontend.sh <path to the cupi-gateway binary>
#
# Builds the page from a clean checkout (`npm ci` from its lock, types generated from
# openapi/cupi-gateway.yaml, `tsc`: a spec change that breaks the page fails here), starts the
# gateway in front of its embedded simulator with 60 generated port groups and ONE page origin
# allowed (--cors-allow-origin), and the page's server on two loopback ports: the allowed origin
# and an unlisted one. Runs frontend.mjs, then stops both. Exit code = the test's.
# Env: SCREENSHOT (default target/frontend.png), UPDATE_SCREENSHOT=1 to copy it to
# docs/frontend.png (the README's picture).
set -euo pipefail
binary=${1:?usage: frontend.sh <cupi-gateway binary>}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
web="$root/examples/web"
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
[ -x "$binary" ] || { echo "frontend.sh: $binary is not an executable" >&2; exit 1; }

# shellcheck source=tests/browser/lib.sh
. "$here/lib.sh"
browser_tools "$here"

echo "== examples/web: npm ci, npm run build (openapi-typescript, tsc)"
(cd "$web" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)

read -r gateway_port page_port other_port <<<"$(free_port 18101 18102 18103)"
gateway_url="http://127.0.0.1:${gateway_port}"
page_url="http://127.0.0.1:${page_port}"
other_url="http://127.0.0.1:${other_port}"
mkdir -p "$root/target"
gateway_log="$root/target/frontend-gateway.log"
page_log="$root/target/frontend-page.log"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

# No upstream: the embedded simulator, whatever this shell's environment says. JSON log lines,
# so the test can see which requests (preflights included) reached the gateway.
env -u CUPI_GATEWAY_UPSTREAM -u CUPI_GATEWAY_LISTEN -u CUPI_GATEWAY_SCHEMA \
  -u CUPI_GATEWAY_CORS_ALLOW_ORIGINS -u CUPI_GATEWAY_NO_REQUEST_VALIDATION \
  "$binary" --listen "127.0.0.1:${gateway_port}" --simulator-port-groups 60 \
  --cors-allow-origin "$page_url" --log-format json >"$gateway_log" 2>&1 &
pids+=($!)
wait_for "$gateway_url/healthz" "${pids[-1]}" "the gateway" "$gateway_log"

node "$web/serve.mjs" --port "$page_port" --port "$other_port" >"$page_log" 2>&1 &
pids+=($!)
wait_for "$page_url/" "${pids[-1]}" "the page server" "$page_log"
wait_for "$other_url/dist/main.js" "${pids[-1]}" "the page server" "$page_log"

echo "== node tests/browser/frontend.mjs: page $page_url (allowed), $other_url (not), gateway $gateway_url"
screenshot=${SCREENSHOT:-$root/target/frontend.png}
status=0
GATEWAY_URL="$gateway_url" PAGE_URL="$page_url" OTHER_PAGE_URL="$other_url" \
  GATEWAY_LOG="$gateway_log" SCREENSHOT="$screenshot" \
  timeout 270 node "$here/frontend.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  echo "frontend.sh: the frontend browser test failed (exit $status); logs: $gateway_log, $page_log" >&2
elif [ "${UPDATE_SCREENSHOT:-}" = 1 ]; then
  cp "$screenshot" "$root/docs/frontend.png"
  echo "== copied to docs/frontend.png"
fi
exit "$status"
