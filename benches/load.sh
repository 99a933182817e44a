#!/usr/bin/env bash
# The gateway's cost per request against its floors, in one run: `bash benches/load.sh`.
#
# Targets, all in front of the one simulator process (the Cisco seed, whose two ports come
# first, plus 1,000 generated ports):
#   direct   the simulator itself: what the upstream alone serves;
#   bare     bare-proxy (benches/floors/): a plain hyper 1 proxy that only forwards, the floor
#            "what a proxy underneath the gateway costs";
#   naive    naive-transcoder (benches/floors/): the same proxy buffering each 200 XML answer
#            into a serde_json::Value of strings, the floor "a first transcoder";
#   gateway  cupi-gateway as built here, every default layer;
#   compare  with COMPARE_BINARY=/path/to/cupi-gateway, another gateway build run the same way.
# Lists: two_ports (/vmrest/ports?rowsPerPage=2, CONNECTIONS) and list_1mb (about BIG_KB kB of
# XML, BIG_CONNECTIONS). Every request carries its own cookie (benches/load.lua), so the gateway
# coalesces nothing: cookies are in its coalescing key, and an undescribed query parameter
# would be refused with 400. ROUNDS rounds, each running every list on every target in turn
# (the order rotated each round), since the machine's speed drifts; the report takes medians.
#
# wrk (installed from Debian if missing), the servers and the proxies share this machine's
# cores, so numbers are relative: wrk uses THREADS threads and each run records the CPU time
# (user + system, /proc/<pid>/stat) the simulator and the proxy spent per request. Prints each
# run as it goes, then benches/load_report.py's table: medians, the ratios against the issue's
# goals, and each proxy's peak RSS (VmHWM) over the whole run. Loopback only, bounded:
# ROUNDS x 2 lists x targets runs of DURATION. Writes target/bench/load.csv and load-rss.csv.
set -euo pipefail
compare=${COMPARE_BINARY:+$(realpath "$COMPARE_BINARY")} # before the cd: relative to the caller
cd "$(dirname "$0")/.."
root=$(pwd)

threads=${THREADS:-1}
connections=${CONNECTIONS:-32}
big_connections=${BIG_CONNECTIONS:-8}
rounds=${ROUNDS:-3}
duration=${DURATION:-5s}
big_kb=${BIG_KB:-1000} # the "1 MB" list, in kB of XML
auth_header="Authorization: Basic $(printf admin:password | base64)" # simulator defaults
out_dir="$root/target/bench"
csv="$out_dir/load.csv"
mkdir -p "$out_dir"

if ! command -v wrk >/dev/null; then
  echo "== apt-get install wrk" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

targets=(direct bare naive gateway)
if [ -n "$compare" ]; then targets+=(compare); fi
runs=$(( rounds * 2 * ${#targets[@]} ))
seconds=$(python3 -c "import sys; d = sys.argv[1]; print(int(d[:-1]) * {'s': 1, 'm': 60}[d[-1]])" "$duration")
echo "== $runs runs of $duration ($rounds rounds x 2 lists x ${#targets[@]} targets):" \
  "about $(( runs * (seconds + 1) + 10 )) s after the build; load average: $(uptime | sed 's/.*average: //')" >&2

build_workspace=1 # the floors too (benches/floors/, not a default member)
source benches/common.sh

# Starts a server in the background as target $1 (its pid in pid[$1], its URL in base[$1]),
# logging to load-$1.log, and waits for it to listen on port $2.
declare -A pid base
start() { # name, port, command...
  local name=$1 port=$2
  shift 2
  "$@" >"$out_dir/load-$name.log" 2>&1 &
  pids+=("$!")
  pid[$name]=$!
  wait_for_port "$port" "$!"
  base[$name]="http://127.0.0.1:$port"
}

port=$(free_port)
start direct "$port" "$binary" simulate --listen "127.0.0.1:$port" --port-groups 500 --ports-per-group 2
upstream=${base[direct]}
for floor in bare:bare-proxy naive:naive-transcoder; do
  port=$(free_port)
  start "${floor%%:*}" "$port" "$root/target/release/${floor#*:}" --listen "127.0.0.1:$port" --upstream "$upstream"
done
# --upstream-max-concurrency at least wrk's connections: the default of 5 shields a real Unity
# Connection and would measure the gateway's queue, not its cost per request.
cap=$(( connections > big_connections ? connections : big_connections ))
for gateway in "gateway:$binary" ${compare:+"compare:$compare"}; do
  port=$(free_port)
  start "${gateway%%:*}" "$port" "${gateway#*:}" --listen "127.0.0.1:$port" --upstream "$upstream" \
    --upstream-max-concurrency "$cap"
done

# Rows for about BIG_KB kB, from the size of a 1,000-port page.
probe=$(curl -sf -H "$auth_header" -o /dev/null -w '%{size_download}' "$upstream/vmrest/ports?rowsPerPage=1000")
lists=("two_ports /vmrest/ports?rowsPerPage=2 $connections"
  "list_1mb /vmrest/ports?rowsPerPage=$(( big_kb * 1000 * 1000 / probe )) $big_connections")

accept_of() { # target: what its client asks for
  case $1 in direct | bare) echo application/xml ;; *) echo application/json ;; esac
}

# Each target's answer once, before measuring: 200 in the format it should answer in, and, as
# JSON, the two-port list holding both ports; sets response_bytes[list/target].
declare -A response_bytes
check() { # list, path
  local list=$1 path=$2 target body status type
  for target in "${targets[@]}"; do
    body="$out_dir/load-check-$list-$target.body"
    read -r status response_bytes[$list/$target] type < <(curl -s -H "$auth_header" \
      -H "Accept: $(accept_of "$target")" -o "$body" -w '%{http_code} %{size_download} %{content_type}\n' \
      "${base[$target]}$path")
    if [ "$status" != 200 ] || [ "${type%%;*}" != "$(accept_of "$target")" ]; then
      echo "$target $path answered $status $type" >&2
      exit 1
    fi
  done
  if [ "$list" = two_ports ]; then
    local json=()
    for target in "${targets[@]:2}"; do json+=("$out_dir/load-check-$list-$target.body"); done
    python3 benches/load_report.py --check-ports "$out_dir/load-check-$list-direct.body" "${json[@]}"
  fi
}

clock_ticks=$(getconf CLK_TCK)
cpu_ticks() { # pid: user + system time so far, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
per_request_us() { # ticks, requests
  python3 -c "print(f'{$1 / $clock_ticks / max($2, 1) * 1e6:.1f}')"
}
field() { # name, RESULT line
  sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"
}

# One wrk run of $target on $list, appended to the CSV and printed, with the CPU time the
# simulator and the target's own process (none for direct) spent per request.
run_wrk() { # round, list, path, connections, target
  local round=$1 list=$2 path=$3 conns=$4 target=$5 sim proxy sim_before proxy_before line requests
  local errors sim_cpu proxy_cpu
  sim=${pid[direct]} proxy=${pid[$target]}
  sim_before=$(cpu_ticks "$sim") proxy_before=$(cpu_ticks "$proxy")
  line=$(LOAD_VARY=1 wrk -t"$threads" -c"$conns" -d"$duration" --timeout 10s -H "$auth_header" \
    -H "Accept: $(accept_of "$target")" -s benches/load.lua "${base[$target]}$path" | grep '^RESULT')
  requests=$(field requests "$line")
  sim_cpu=$(per_request_us $(( $(cpu_ticks "$sim") - sim_before )) "$requests")
  proxy_cpu=$(per_request_us $(( $(cpu_ticks "$proxy") - proxy_before )) "$requests")
  if [ "$target" = direct ]; then proxy_cpu=""; fi
  errors=$(( $(field connect_errors "$line") + $(field read_errors "$line") + $(field write_errors "$line") + $(field timeouts "$line") ))
  echo "$round,$list,$target,$xml_bytes,${response_bytes[$list/$target]},$threads,$conns,$duration,$requests,$(field rps "$line"),$(field p50_us "$line"),$(field p90_us "$line"),$(field p99_us "$line"),$(field max_us "$line"),$errors,$(field non2xx "$line"),$sim_cpu,$proxy_cpu" >>"$csv"
  printf '%5s %-9s %-7s %9s %9s %9s %9s %8s %11s %11s\n' "$round" "$list" "$target" \
    "${response_bytes[$list/$target]}" "$(field rps "$line")" "$(field p50_us "$line")" \
    "$(field p99_us "$line")" "$errors+$(field non2xx "$line")" "$sim_cpu" "${proxy_cpu:--}" >&2
}

for entry in "${lists[@]}"; do
  read -r list path _ <<<"$entry"
  check "$list" "$path"
done
echo "round,list,target,xml_bytes,response_bytes,threads,connections,duration,requests,rps,p50_us,p90_us,p99_us,max_us,errors,non2xx,simulator_cpu_us_per_request,proxy_cpu_us_per_request" >"$csv"
printf '%5s %-9s %-7s %9s %9s %9s %9s %8s %11s %11s\n' round list target "resp B" "req/s" "p50 µs" "p99 µs" errors "sim CPU µs" "proxy CPU µs" >&2
for round in $(seq 1 "$rounds"); do
  for entry in "${lists[@]}"; do
    read -r list path conns <<<"$entry"
    xml_bytes=${response_bytes[$list/direct]}
    # Each round starts one target later, so no target always runs first or last.
    for i in "${!targets[@]}"; do
      target=${targets[(i + round - 1) % ${#targets[@]}]}
      run_wrk "$round" "$list" "$path" "$conns" "$target"
    done
  done
done

echo "target,peak_rss_kb" >"$out_dir/load-rss.csv"
for target in "${targets[@]:1}"; do
  echo "$target,$(awk '$1 == "VmHWM:" { print $2 }' "/proc/${pid[$target]}/status")" >>"$out_dir/load-rss.csv"
done
echo "== wrote ${csv#"$root/"}; load average: $(uptime | sed 's/.*average: //')" >&2
python3 benches/load_report.py "$csv" "$out_dir/load-rss.csv"
