#!/usr/bin/env bash
# Gateway memory against body size: `bash benches/memory.sh`.
#
# Streams a GET /vmrest/ports list of about 20, 50, 100 and 200 MB of XML (SIZES_MB to change)
# through the gateway as JSON, uncompressed and compressed with each coding the gateway offers
# (ENCODINGS, default "identity gzip br zstd", sent as the client's Accept-Encoding), and records
# the gateway's peak RSS (VmHWM in /proc/<pid>/status) for each. The target: under 64 MB, and
# flat from 20 MB to 200 MB bodies, compressed or not.
#
# The simulator runs as a separate process, so the lists it renders in memory are not counted.
# The gateway is restarted for each size, so every peak belongs to one body alone (a running
# maximum would only ever show the largest). The client is curl writing to /dev/null, reading
# as fast as it can. Works whether the transcoder buffers the whole body or streams it.
#
# Writes target/bench/memory.csv. Loopback only; every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

sizes_mb=${SIZES_MB:-"20 50 100 200"}
encodings=${ENCODINGS:-"identity gzip br zstd"}
auth=admin:password # the simulator's default credentials
out_dir="$root/target/bench"
csv="$out_dir/memory.csv"
mkdir -p "$out_dir"

source benches/common.sh

kb_of() { # field of /proc/<pid>/status, in kB
  awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# The simulator's ports are about 1.4 kB of XML each; generate enough for the largest body
# (assuming no less than 1,000 bytes a port), two ports per generated group as in the generator.
max_mb=$(printf '%s\n' $sizes_mb | sort -n | tail -1)
groups=$(( max_mb * 1000000 / 1000 / 2 + 1 ))
sim_port=$(free_port)
echo "== simulator: $groups generated port groups ($(( groups * 2 + 2 )) ports) on 127.0.0.1:$sim_port" >&2
"$binary" simulate --listen "127.0.0.1:$sim_port" --port-groups "$groups" --ports-per-group 2 \
  >"$out_dir/memory-simulator.log" 2>&1 &
sim_pid=$!
pids+=("$sim_pid")
wait_for_port "$sim_port" "$sim_pid"
total_ports=$(( groups * 2 + 2 ))

# Bytes of XML a port, from one 1,000-port page straight from the simulator.
probe=$(curl -sf -u "$auth" -o /dev/null -w '%{size_download}' \
  "http://127.0.0.1:$sim_port/vmrest/ports?rowsPerPage=1000")
echo "== probe: 1,000 ports are $probe bytes of XML" >&2

echo "target_mb,rows,xml_bytes,encoding,http_status,content_encoding,wire_bytes,seconds,xml_mb_per_s,gateway_idle_rss_kb,gateway_peak_rss_kb" >"$csv"
printf '%9s %8s %12s %8s %6s %12s %8s %8s %10s %10s\n' \
  "target MB" rows "XML bytes" encoding status "wire bytes" seconds "XML MB/s" "idle RSS" "peak RSS" >&2

for mb in $sizes_mb; do
for encoding in $encodings; do
  rows=$(( mb * 1000000 * 1000 / probe ))
  if (( rows > total_ports )); then
    echo "$mb MB needs $rows ports; the simulator has $total_ports" >&2
    exit 1
  fi
  url_path="/vmrest/ports?rowsPerPage=$rows"
  # The exact XML size, straight from the simulator (not timed, not through the gateway).
  xml_bytes=$(curl -sf -u "$auth" -o /dev/null -w '%{size_download}' "http://127.0.0.1:$sim_port$url_path")

  gw_port=$(free_port)
  # A response limit well above the body, and timeouts that a loaded machine cannot hit.
  "$binary" --listen "127.0.0.1:$gw_port" --upstream "http://127.0.0.1:$sim_port" \
    --max-response-body $(( 4 * 1024 * 1024 * 1024 )) \
    --upstream-timeout 600s --request-timeout 600s \
    >"$out_dir/memory-gateway-${mb}mb.log" 2>&1 &
  gw_pid=$!
  pids+=("$gw_pid")
  wait_for_port "$gw_port" "$gw_pid"
  idle_kb=$(kb_of "$gw_pid" VmHWM)

  # Without --compressed, curl neither decodes nor offers codings: size_download is the bytes on
  # the wire, and Content-Encoding says the gateway did compress.
  result=$(curl -s -u "$auth" -H 'Accept: application/json' -H "Accept-Encoding: $encoding" \
    -o /dev/null -w '%{http_code} %{size_download} %{time_total} %header{content-encoding}' \
    "http://127.0.0.1:$gw_port$url_path")
  read -r status wire_bytes seconds content_encoding <<<"$result"
  content_encoding=${content_encoding:-identity}
  if [ "$status" != 200 ] || [ "$content_encoding" != "$encoding" ]; then
    echo "$mb MB, $encoding: HTTP $status, Content-Encoding $content_encoding" >&2
    exit 1
  fi
  peak_kb=$(kb_of "$gw_pid" VmHWM)
  kill "$gw_pid"
  wait "$gw_pid" 2>/dev/null || true

  mbps=$(awk "BEGIN { printf \"%.1f\", $xml_bytes / 1e6 / $seconds }")
  echo "$mb,$rows,$xml_bytes,$encoding,$status,$content_encoding,$wire_bytes,$seconds,$mbps,$idle_kb,$peak_kb" >>"$csv"
  printf '%9s %8s %12s %8s %6s %12s %8.2f %8s %6.1f MiB %6.1f MiB\n' "$mb" "$rows" "$xml_bytes" \
    "$encoding" "$status" "$wire_bytes" "$seconds" "$mbps" "$(awk "BEGIN { print $idle_kb / 1024 }")" \
    "$(awk "BEGIN { print $peak_kb / 1024 }")" >&2
done
done

sim_kb=$(kb_of "$sim_pid" VmHWM)
echo "== simulator peak RSS (not the gateway's, for reference): $(( sim_kb / 1024 )) MiB" >&2
echo "== wrote ${csv#"$root/"}; target: gateway peak RSS < 64 MB, flat across sizes and codings" >&2
