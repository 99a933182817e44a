#!/usr/bin/env bash
# Schemathesis against the gateway in front of its embedded simulator: every operation of the
# OpenAPI document the gateway serves at /openapi.json, with every check (`--checks all`): no
# server errors; status codes, content types, headers and bodies as documented; a request the
# document allows is accepted (positive_data_acceptance) and one it does not is refused
# (negative_data_rejection: the gateway enforces the document's patterns, bounds, parameter
# names and body fields before Unity Connection sees a request); auth not ignored; undescribed
# methods refused with 405; the stateful phase follows the document's links. Basic auth is
# supplied, and a bounded number of examples per operation keeps a run at about half a minute
# on 2 cores.
#
# The seed is fixed (SCHEMATHESIS_SEED picks another), so a run is the same run every time: with
# a random one, Schemathesis 4.32.5 now and then generates a body with a property that breaks
# `additionalProperties`, drops that property when it writes the body as XML, sends the valid
# `<PortGroup></PortGroup>` that is left, and reports its 204 as a schema-violating request
# accepted (seed 79458493429106863223857324854470229828, stateful phase, any build).
#
# Usage: tests/schemathesis/run.sh <path to the cupi-gateway binary> <python venv with schemathesis>
set -euo pipefail
binary=${1:?usage: run.sh <cupi-gateway binary> <venv>}
venv=${2:?usage: run.sh <cupi-gateway binary> <venv>}
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${SCHEMATHESIS_PORT:-18093}
base="http://127.0.0.1:${port}"

"$binary" --listen "127.0.0.1:${port}" --simulator-port-groups 3 >"$root/target/schemathesis-gateway.log" 2>&1 &
gateway=$!
trap 'kill "$gateway" 2>/dev/null || true; wait "$gateway" 2>/dev/null || true' EXIT

python3 - "$base/healthz" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1], timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the gateway did not answer /healthz within 10 s")
PY

# Schemathesis keeps a cache in its working directory; keep it out of the source tree.
cd "$root/target"
"$venv/bin/schemathesis" run "$base/openapi.json" \
  --auth admin:password \
  --checks all \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" \
  --workers 1 \
  --no-color \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --report junit --report-dir "$root/target/schemathesis"
