#!/usr/bin/env bash
# Bytes on the wire and gateway CPU per request for a ~1 MB JSON list, uncompressed and in
# each coding the gateway sends: `bash benches/compression.sh` (REQUESTS, TARGET_BYTES to change).
#
# Starts the simulator and the gateway (release build) as separate processes, so the CPU read
# from /proc/<gateway pid>/stat is the gateway's alone: transcoding plus compressing. Each coding
# is asked for REQUESTS times in a row by curl, which keeps the encoded bytes (no decoding); a
# last `curl --compressed` run checks that the answer decodes to the uncompressed JSON.
#
# Writes target/bench/compression.csv. Loopback only; every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

requests=${REQUESTS:-20}
target_bytes=${TARGET_BYTES:-1000000}
auth=admin:password # the simulator's default credentials
out_dir="$root/target/bench"
csv="$out_dir/compression.csv"
mkdir -p "$out_dir"

source benches/common.sh

sim_port=$(free_port)
"$binary" simulate --listen "127.0.0.1:$sim_port" --port-groups 2000 --ports-per-group 2 \
  >"$out_dir/compression-simulator.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
wait_for_port "$sim_port" "$sim_pid"

gw_port=$(free_port)
CUPI_GATEWAY_LISTEN="127.0.0.1:$gw_port" CUPI_GATEWAY_UPSTREAM="http://127.0.0.1:$sim_port" \
  "$binary" >"$out_dir/compression-gateway.log" 2>&1 &
gw_pid=$!
pids+=("$gw_pid")
wait_for_port "$gw_port" "$gw_pid"

base="http://127.0.0.1:$gw_port"
get() { # accept-encoding, extra curl args...
  local coding=$1
  shift
  curl -sf -u "$auth" -H 'Accept: application/json' -H "Accept-Encoding: $coding" "$@"
}
# Rows for about target_bytes of JSON, from a 1,000-port probe.
probe=$(get identity -o /dev/null -w '%{size_download}' "$base/vmrest/ports?rowsPerPage=1000")
rows=$(( target_bytes * 1000 / probe ))
url="$base/vmrest/ports?rowsPerPage=$rows"
plain_file="$out_dir/compression-plain.json"
get identity -o "$plain_file" "$url"
echo "== $rows ports: $(stat -c %s "$plain_file") bytes of JSON; $requests requests per coding" >&2

cpu_ticks() { # utime + stime of the gateway, in clock ticks
  awk '{ print $14 + $15 }' "/proc/$gw_pid/stat"
}
ticks_per_s=$(getconf CLK_TCK)

echo "coding,requests,wire_bytes,ratio,gateway_cpu_ms_per_request,wall_ms_per_request" >"$csv"
printf '%-9s %12s %7s %12s %12s\n' coding "wire bytes" ratio "CPU ms/req" "wall ms/req" >&2
plain_bytes=$(stat -c %s "$plain_file")
for coding in identity gzip br zstd; do
  get "$coding" -o /dev/null "$url" # warm-up
  before=$(cpu_ticks)
  start=$(date +%s%N)
  for _ in $(seq 1 "$requests"); do
    bytes=$(get "$coding" -o /dev/null -w '%{size_download}' "$url")
  done
  wall_ms=$(( ($(date +%s%N) - start) / 1000000 / requests ))
  cpu_ms=$(awk -v t=$(( $(cpu_ticks) - before )) -v hz="$ticks_per_s" -v n="$requests" \
    'BEGIN { printf "%.1f", t * 1000 / hz / n }')
  ratio=$(awk -v a="$plain_bytes" -v b="$bytes" 'BEGIN { printf "%.1f", a / b }')
  echo "$coding,$requests,$bytes,$ratio,$cpu_ms,$wall_ms" >>"$csv"
  printf '%-9s %12s %7s %12s %12s\n' "$coding" "$bytes" "$ratio" "$cpu_ms" "$wall_ms" >&2
  if [[ $coding != identity ]]; then
    decoded="$out_dir/compression-$coding.json"
    curl -sf --compressed -u "$auth" -H 'Accept: application/json' -H "Accept-Encoding: $coding" \
      -o "$decoded" "$url"
    cmp -s "$plain_file" "$decoded" || { echo "$coding: decoded body differs" >&2; exit 1; }
  fi
done
echo "== wrote $csv" >&2
