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

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium"
  apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing Debian's nodejs and npm"
  apt_install nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "run.sh: warning: node $(node --version); playwright-core wants node >= 20" >&2
fi
echo "== $(/usr/bin/chromium --version 2>/dev/null | head -n1), node $(node --version)"

echo "== npm ci (tests/browser)"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

port=${BROWSER_TEST_PORT:-}
if [ -z "$port" ]; then
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 18091)
fi
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

echo "== waiting for $base/healthz"
ready=
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null --max-time 1 "$base/healthz" 2>/dev/null; then
    ready=1
    break
  fi
  if ! kill -0 "$gateway" 2>/dev/null; then
    echo "run.sh: the gateway exited before answering /healthz; its log ($log):" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$ready" ]; then
  echo "run.sh: the gateway did not answer /healthz within 10 s; its log ($log):" >&2
  cat "$log" >&2
  exit 1
fi

echo "== node tests/browser/docs.mjs against $base"
status=0
GATEWAY_URL="$base" SCREENSHOT="${SCREENSHOT:-$root/target/docs.png}" \
  timeout 90 node "$here/docs.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  echo "run.sh: the /docs browser test failed (exit $status); gateway log: $log" >&2
fi
exit "$status"
