# Shell helpers shared by the browser tests (run.sh: /docs; frontend.sh: examples/web), sourced,
# not run: installing what is missing (Debian's chromium, nodejs and npm; playwright-core from
# package-lock.json, never a browser download), a free loopback port, waiting for a URL.

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Debian's chromium and node/npm when missing, then `npm ci` in tests/browser ($1).
browser_tools() {
  local dir=$1
  if [ ! -x /usr/bin/chromium ]; then
    echo "== installing Debian's chromium"
    apt_install chromium
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "== installing Debian's nodejs and npm"
    apt_install nodejs npm
  fi
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$node_major" -lt 20 ]; then
    echo "warning: node $(node --version); playwright-core wants node >= 20" >&2
  fi
  echo "== $(/usr/bin/chromium --version 2>/dev/null | head -n1), node $(node --version)"
  warm_chromium
  echo "== npm ci (tests/browser)"
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

# One throwaway headless start, so that the test's own start does not pay for a cold disk and
# the font cache being built (over 20 s on a fresh, busy runner). A failure here is only
# reported: the test's start says what is wrong.
warm_chromium() {
  local started=$SECONDS profile status=0
  profile=$(mktemp -d)
  timeout 120 /usr/bin/chromium --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --dump-dom about:blank >/dev/null 2>"$profile.err" || status=$?
  if [ "$status" -eq 0 ]; then
    echo "== Chromium warmed up in $((SECONDS - started)) s"
  else
    echo "warning: Chromium's warm-up start failed (exit $status) after $((SECONDS - started)) s;" \
      "the end of what it printed:" >&2
    tail -n 20 "$profile.err" >&2
  fi
  rm -rf "$profile" "$profile.err"
}

# free_port FALLBACK...: as many loopback ports as arguments, free at the time of asking and
# all different (held open together while asked); the arguments if Python cannot tell.
free_port() {
  python3 - "$@" 2>/dev/null <<'PY' || echo "$@"
import socket, sys
held = [socket.socket() for _ in sys.argv[1:]]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
}

# wait_for URL PID NAME LOG: until URL answers 2xx (10 s), or fail showing LOG if PID exits.
wait_for() {
  local url=$1 pid=$2 name=$3 log=$4
  echo "== waiting for $url"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited before answering $url; its log ($log):" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "$name did not answer $url within 10 s; its log ($log):" >&2
  cat "$log" >&2
  return 1
}
