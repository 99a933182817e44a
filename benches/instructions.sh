#!/usr/bin/env bash
# Instructions per request, counted, not timed: `bash benches/instructions.sh`.
#
# The release gateway runs under valgrind's cachegrind in front of the simulator (another
# process, not counted) with --no-compression, and serves three mixes of (two-port, 1,000-port)
# GETs with a JSON Accept, each on a new connection (curl): (5, 5), (5 + SMALL, 5) and (5, 25),
# SMALL being 100 unless set (more of them halve the noise of a two-port count: about ±1,500
# instructions at 100).
# Differences between the mixes' totals cancel start-up and shutdown, leaving the instructions
# of one two-port request (connection included) and of one 1,000-port list (about 690 kB of
# JSON). The same binary and inputs give the same counts within about 1%, whatever else the
# machine runs, so a change can be compared on a shared machine: COMPARE_BINARY=/path/to/an
# older cupi-gateway counts that build too, in the same run.
#
# One caveat when reading them: valgrind counts every iteration of `rep movsb`, which glibc's
# memcpy uses above a few kilobytes, as an instruction, so large copies weigh more here than
# in time. Writes target/bench/instructions/*.out (cg_annotate reads them).
#
# Then the transcoder alone: `xml_to_json` of the same two lists in this build
# (examples/transcode_count.rs), counted the same way, by differences between repeat counts;
# and the 1,000-port list streamed to it in chunks, as the gateway streams it.
set -euo pipefail
compare=${COMPARE_BINARY:+$(realpath "$COMPARE_BINARY")} # before the cd: relative to the caller
cd "$(dirname "$0")/.."
root=$(pwd)
out_dir="$root/target/bench/instructions"
mkdir -p "$out_dir"
if ! command -v valgrind >/dev/null; then
  echo "== apt-get install valgrind" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
small_requests=${SMALL:-100}
source benches/common.sh
auth_header="Authorization: Basic $(printf admin:password | base64)" # simulator defaults

port=$(free_port)
"$binary" simulate --listen "127.0.0.1:$port" --port-groups 500 --ports-per-group 2 \
  >"$out_dir/simulator.log" 2>&1 &
pids+=("$!")
wait_for_port "$port" "$!"
upstream="http://127.0.0.1:$port"

get() { # gateway port, rows, count, cookie prefix
  for i in $(seq "$3"); do
    curl -sf -o /dev/null -H "$auth_header" -H 'Accept: application/json' -H "Cookie: v=$4$i" \
      "http://127.0.0.1:$1/vmrest/ports?rowsPerPage=$2"
  done
}

# Total instructions of one gateway run serving $2 two-port and $3 1,000-port GETs.
count() { # name, small, big -> prints the total
  local name=$1 small=$2 big=$3 bin gateway_port out
  bin=$binary
  if [ "$name" = compare ]; then bin=$compare; fi
  gateway_port=$(free_port)
  out="$out_dir/$name-$small-$big.out"
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" "$bin" \
    --listen "127.0.0.1:$gateway_port" --upstream "$upstream" --no-compression \
    >"$out_dir/$name.log" 2>&1 &
  local pid=$!
  wait_for_port "$gateway_port" "$pid"
  get "$gateway_port" 2 "$small" s
  get "$gateway_port" 1000 "$big" b
  kill -INT "$pid"
  wait "$pid" || true
  grep -m1 '^summary:' "$out" | awk '{print $2}'
}

printf '%-8s %22s %26s\n' build 'per two-port GET' 'per 1,000-port list'
for name in gateway ${compare:+compare}; do
  base=$(count "$name" 5 5)
  small=$(count "$name" $(( 5 + small_requests )) 5)
  big=$(count "$name" 5 25)
  printf '%-8s %22s %26s\n' "$name" "$(( (small - base) / small_requests ))" "$(( (big - base) / 20 ))"
done

echo "== cargo build --release --example transcode_count" >&2
cargo build --release --quiet --example transcode_count
transcode() { # ports, times[, chunk] -> prints the total
  local out="$out_dir/transcode-$1-$2${3:+-$3}.out"
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
    "$root/target/release/examples/transcode_count" "$@" >/dev/null 2>&1
  grep -m1 '^summary:' "$out" | awk '{print $2}'
}
printf '%-8s %22s %26s\n' xml_to_json \
  "$(( ($(transcode 2 1010) - $(transcode 2 10)) / 1000 ))" \
  "$(( ($(transcode 1000 12) - $(transcode 1000 2)) / 10 ))"
# The gateway streams a body past the first part read, as the 1,000-port list is: 16 KiB chunks.
printf '%-8s %22s %26s\n' streamed - \
  "$(( ($(transcode 1000 12 16384) - $(transcode 1000 2 16384)) / 10 ))"
