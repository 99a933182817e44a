#!/usr/bin/env bash
# Existing CUPI scripts, unchanged, against the gateway in CUPI compatibility mode, as they
# would talk to Unity Connection: the gateway serves TLS with a certificate signed by a CA made
# here, started with --cupi-compat in front of its embedded simulator, and runs
# - cupi_script.py: Unity Connection's JSON mode (requests, Basic auth,
#   Accept: application/json, verify=False);
# - cupi_xml_script.py: its XML (requests, Basic auth, no Accept, ElementTree, verify=True,
#   trusting the CA through REQUESTS_CA_BUNDLE as a host that trusts its server's CA does).
# Passes when both scripts exit 0.
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

if ! command -v openssl >/dev/null; then
  apt-get update -qq && apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
# A CA, and the gateway's certificate signed by it (SAN localhost and 127.0.0.1), as an
# internal CA issues a Unity Connection server's; the CA's key is not kept.
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 1 -subj "/CN=cupi-gateway compat test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout "$work/ca-key.pem" -out "$work/ca.pem" 2>/dev/null
openssl req -new "${ec[@]}" -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.csr" 2>/dev/null
cat >"$work/cert.ext" <<'EXT'
subjectAltName = DNS:localhost, IP:127.0.0.1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EXT
openssl x509 -req -in "$work/cert.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" \
  -set_serial "0x$(openssl rand -hex 8)" -days 1 -extfile "$work/cert.ext" \
  -out "$work/cert.pem" 2>/dev/null
rm -f "$work/ca-key.pem" "$work/cert.csr" "$work/cert.ext"

port=${COMPAT_TEST_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
"$binary" --listen "127.0.0.1:$port" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" \
  --cupi-compat >"$work/gateway.log" 2>&1 &
gateway=$!
trap 'kill "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true' EXIT

python3 - "https://127.0.0.1:$port/healthz" "$work/ca.pem" <<'PY'
import ssl, sys, time, urllib.request
context = ssl.create_default_context(cafile=sys.argv[2])
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1, context=context)
        sys.exit(0)
    except ssl.SSLError as e:
        sys.exit("the gateway's certificate does not verify against the test CA: %s" % e)
    except Exception:
        time.sleep(0.1)
sys.exit("the gateway did not answer /healthz within 10 s")
PY

for script in cupi_script.py cupi_xml_script.py; do
  status=0
  REQUESTS_CA_BUNDLE="$work/ca.pem" "$venv/bin/python" "$here/$script" "127.0.0.1:$port" admin password \
    || status=$?
  if [ "$status" -ne 0 ]; then
    echo "$script failed (exit $status); the gateway's log:" >&2
    cat "$work/gateway.log" >&2
    exit "$status"
  fi
  echo "$script ran unchanged against the gateway: passed"
done
