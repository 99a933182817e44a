#!/usr/bin/env bash
# An existing CUPI script, unchanged, against the gateway in CUPI JSON mode: cupi_script.py
# (requests, Basic auth, Accept: application/json, verify=False) talks to the gateway's TLS
# listener, started with --cupi-json in front of its embedded simulator, as it would talk to
# Unity Connection. Passes when the script exits 0.
#
# Usage: tests/compat/run.sh <path to the cupi-gateway binary>
# Needs python3 (with venv); installs openssl from Debian if it is missing, and requests
# (tests/compat/requirements.txt, pinned, from PyPI) into target/compat-venv. Env: COMPAT_TEST_PORT (fixed port instead of a
# free one).
set -euo pipefail
binary=${1:?usage: run.sh <cupi-gateway binary>}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work="$root/target/compat"
venv="$root/target/compat-venv"
mkdir -p "$work"

if ! "$venv/bin/python" -c 'import requests' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

# A self-signed certificate, as Unity Connection servers usually have.
if ! command -v openssl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

port=${COMPAT_TEST_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
"$binary" --listen "127.0.0.1:$port" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --cupi-json >"$work/gateway.log" 2>&1 &
gateway=$!
trap 'kill "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true' EXIT

python3 - "https://127.0.0.1:$port/healthz" <<'PY'
import ssl, sys, time, urllib.request
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1, context=context)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the gateway did not answer /healthz within 10 s")
PY

status=0
"$venv/bin/python" "$here/cupi_script.py" "127.0.0.1:$port" admin password || status=$?
if [ "$status" -ne 0 ]; then
  echo "cupi_script.py failed (exit $status); the gateway's log:" >&2
  cat "$work/gateway.log" >&2
  exit "$status"
fi
echo "cupi_script.py ran unchanged against the gateway: passed"
