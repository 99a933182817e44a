#!/usr/bin/env bash
# Load through the gateway against the simulator directly: `bash benches/load.sh`.
#
# Runs wrk (installed from Debian if missing) for a fixed time against the simulator alone and
# against the gateway in front of it, in the same run, for the two-port list (the Cisco seed's
# two ports) and for a list of about 1 MB of XML, and reports requests/s, p50 and p99 of each,
# the gateway/direct throughput ratio and the p50 the gateway adds. The issue's targets, on
# the two-port list: added p50 <= 150 µs, gateway throughput >= 70% of direct.
#
# Two variants, both reported:
#   same    every request is the same GET. Through the gateway, identical concurrent GETs are
#           coalesced into one upstream request, so this is what a burst of identical reads
#           gets, not the proxy's cost per request.
#   varied  every request has its own cookie `n=<thread>-<count>` (ignored by CUPI and the simulator),
#           so nothing is coalesced: each request through the gateway is one upstream request.
#   varied_c1  the same with one connection, so latency is the request's own, not queueing
#           behind 15 others for the machine's two cores.
#   varied_c1_one_cpu  the same again (two-port list only) with wrk, a second simulator and a
#           second gateway all pinned to CPU 0 (taskset): no request waits for another CPU to
#           be woken, so the added p50 is the gateway's own work on the path, without the
#           wake-ups a second hop adds (costly in a VM, where waking a CPU is an interrupt to
#           the hypervisor).
# The gateway runs with --upstream-max-concurrency equal to wrk's connections: its default of
# 5 shields a real Unity Connection and would measure queueing, not the proxy.
#
# Everything runs on one machine: wrk, the gateway and the simulator share its cores, so wrk
# uses one thread (THREADS) and the numbers are relative, not absolute. Each run also reports the
# CPU time (user + system, from /proc/<pid>/stat) the simulator and the gateway spent per request:
# on shared cores, that is what bounds the throughput ratio. Loopback only, bounded by DURATION
# per run (12 runs). Writes target/bench/load.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

threads=${THREADS:-1}
connections=${CONNECTIONS:-16}
duration=${DURATION:-10s}
big_kb=${BIG_KB:-1000} # the "1 MB" list, in kB of XML
auth_header="Authorization: Basic $(printf admin:password | base64)" # simulator defaults
out_dir="$root/target/bench"
csv="$out_dir/load.csv"
mkdir -p "$out_dir"

if ! command -v wrk >/dev/null; then
  echo "== apt-get install wrk" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

source benches/common.sh

# One simulator: the Cisco seed (whose two ports come first) plus 1,000 generated ports.
sim_port=$(free_port)
"$binary" simulate --listen "127.0.0.1:$sim_port" --port-groups 500 --ports-per-group 2 \
  >"$out_dir/load-simulator.log" 2>&1 &
pids+=("$!")
sim_pid=$!
wait_for_port "$sim_port" "$!"
direct="http://127.0.0.1:$sim_port"

gw_port=$(free_port)
"$binary" --listen "127.0.0.1:$gw_port" --upstream "$direct" \
  --upstream-max-concurrency "$connections" >"$out_dir/load-gateway.log" 2>&1 &
pids+=("$!")
gw_pid=$!
wait_for_port "$gw_port" "$!"
gateway="http://127.0.0.1:$gw_port"

# Rows for about BIG_KB kB, from the size of a 1,000-port page.
probe=$(curl -sf -H "$auth_header" -o /dev/null -w '%{size_download}' "$direct/vmrest/ports?rowsPerPage=1000")
big_rows=$(( big_kb * 1000 * 1000 / probe ))

lists=("two_ports /vmrest/ports?rowsPerPage=2" "list_1mb /vmrest/ports?rowsPerPage=$big_rows")

field() { # name, RESULT line
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

clock_ticks=$(getconf CLK_TCK)
cpu_ticks() { # pid: user + system time so far, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
per_request_us() { # ticks, requests
  python3 -c "print(f'{$1 / $clock_ticks / max($2, 1) * 1e6:.1f}')"
}

echo "list,target,variant,xml_bytes,response_bytes,threads,connections,duration,requests,rps,p50_us,p90_us,p99_us,max_us,errors,non2xx,simulator_cpu_us_per_request,gateway_cpu_us_per_request" >"$csv"
printf '%-9s %-7s %-17s %9s %9s %9s %9s %8s %11s %11s\n' list target variant "resp B" "req/s" "p50 µs" "p99 µs" errors "sim CPU µs" "gw CPU µs" >&2

# One wrk run, appended to the CSV and printed, with the CPU time $sim_pid and $gw_pid spent.
# Reads list, target, variant, xml_bytes, response_bytes, base, path, accept; $pin (empty or a
# taskset command) runs wrk where the servers are.
run_wrk() { # vary (0/1), connections
  local vary=$1 conns=$2 sim_before gw_before line requests sim_cpu gw_cpu errors
  sim_before=$(cpu_ticks "$sim_pid") gw_before=$(cpu_ticks "$gw_pid")
  line=$(LOAD_VARY=$vary $pin wrk -t"$threads" -c"$conns" -d"$duration" \
    -H "$auth_header" -H "$accept" -s benches/load.lua "$base$path" | grep '^RESULT')
  requests=$(field requests "$line")
  sim_cpu=$(per_request_us $(( $(cpu_ticks "$sim_pid") - sim_before )) "$requests")
  gw_cpu=$(per_request_us $(( $(cpu_ticks "$gw_pid") - gw_before )) "$requests")
  errors=$(( $(field connect_errors "$line") + $(field read_errors "$line") + $(field write_errors "$line") + $(field timeouts "$line") ))
  echo "$list,$target,$variant,$xml_bytes,$response_bytes,$threads,$conns,$duration,$requests,$(field rps "$line"),$(field p50_us "$line"),$(field p90_us "$line"),$(field p99_us "$line"),$(field max_us "$line"),$errors,$(field non2xx "$line"),$sim_cpu,$gw_cpu" >>"$csv"
  printf '%-9s %-7s %-17s %9s %9s %9s %9s %8s %11s %11s\n' "$list" "$target" "$variant" "$response_bytes" \
    "$(field rps "$line")" "$(field p50_us "$line")" "$(field p99_us "$line")" "$errors+$(field non2xx "$line")" \
    "$sim_cpu" "$gw_cpu" >&2
}

# Sets base, accept and response_bytes for $target against $1 (direct) or $2 (gateway), after
# one request that must succeed (and, through the gateway, be JSON).
aim() { # direct URL, gateway URL
  local check status
  base=$1 accept="Accept: application/xml"
  if [ "$target" = gateway ]; then base=$2 accept="Accept: application/json"; fi
  check=$(curl -s -H "$auth_header" -H "$accept" -o /dev/null -w '%{http_code} %{size_download} %{content_type}' "$base$path")
  read -r status response_bytes content_type <<<"$check"
  if [ "$status" != 200 ]; then
    echo "$target $path answered $status" >&2
    exit 1
  fi
}

pin=""
for entry in "${lists[@]}"; do
  read -r list path <<<"$entry"
  xml_bytes=$(curl -sf -H "$auth_header" -o /dev/null -w '%{size_download}' "$direct$path")
  for target in direct gateway; do
    aim "$direct" "$gateway"
    variant=same run_wrk 0 "$connections"
    variant=varied run_wrk 1 "$connections"
    variant=varied_c1 run_wrk 1 1
  done
done

# The pinned runs: fresh processes, all on CPU 0.
pin="taskset -c 0"
pinned_sim_port=$(free_port)
$pin "$binary" simulate --listen "127.0.0.1:$pinned_sim_port" --port-groups 500 --ports-per-group 2 \
  >"$out_dir/load-simulator-one-cpu.log" 2>&1 &
pids+=("$!")
sim_pid=$!
wait_for_port "$pinned_sim_port" "$!"
pinned_gw_port=$(free_port)
$pin "$binary" --listen "127.0.0.1:$pinned_gw_port" --upstream "http://127.0.0.1:$pinned_sim_port" \
  >"$out_dir/load-gateway-one-cpu.log" 2>&1 &
pids+=("$!")
gw_pid=$!
wait_for_port "$pinned_gw_port" "$!"
read -r list path <<<"${lists[0]}"
for target in direct gateway; do
  aim "http://127.0.0.1:$pinned_sim_port" "http://127.0.0.1:$pinned_gw_port"
  variant=varied_c1_one_cpu threads=1 run_wrk 1 1
done

echo "== $content_type from the gateway; wrote ${csv#"$root/"}" >&2
# Ratios and the targets, from the CSV just written.
python3 - "$csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
at = {(r["list"], r["target"], r["variant"]): r for r in rows}
print(f"{'list':9} {'variant':17} {'rps gw/direct':>13} {'p50 direct':>10} {'p50 gw':>8} {'added p50':>9} {'p99 direct':>10} {'p99 gw':>8} {'p99 gw/direct':>13} {'CPU/req sim':>11} {'CPU/req gw':>10}")
for (lst, target, variant), d in at.items():
    if target != "direct":
        continue
    g = at[(lst, "gateway", variant)]
    ratio = float(g["rps"]) / float(d["rps"])
    added = int(g["p50_us"]) - int(d["p50_us"])
    p99 = int(g["p99_us"]) / int(d["p99_us"])
    note = ""
    latency = f"added p50 <= 150 µs: {'met' if added <= 150 else 'missed'}"
    if lst == "two_ports" and variant.endswith("one_cpu"):
        note = f"  [{latency}, without cross-CPU wake-ups]"  # one CPU: throughput says nothing
    elif lst == "two_ports":
        note = f"  [throughput >= 70%: {'met' if ratio >= 0.7 else 'missed'}; {latency}]"
    print(f"{lst:9} {variant:17} {ratio:13.2f} {d['p50_us']:>10} {g['p50_us']:>8} {added:9} {d['p99_us']:>10} {g['p99_us']:>8} {p99:13.2f} "
          f"{g['simulator_cpu_us_per_request']:>11} {g['gateway_cpu_us_per_request']:>10}{note}")
EOF
