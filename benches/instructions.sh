#!/usr/bin/env bash
# Instructions, cache misses and mispredicted branches per request, counted, not timed:
# `bash benches/instructions.sh`.
#
# Each target runs under valgrind's cachegrind, with its cache simulation, in front of the
# simulator (another process, not counted): the release gateway with --no-compression, and
# the load benchmark's two floors (benches/floors/): bare-proxy, which only forwards, and
# naive-transcoder, which reads each answer into a serde_json::Value. Each serves three mixes
# of (two-port, 1,000-port) GETs with a JSON Accept, each on a new connection (curl): (5, 5),
# (5 + SMALL, 5) and (5, 25), SMALL being 100 unless set (more of them halve the noise of a
# two-port count: about ±1,500 instructions at 100).
# Differences between the mixes' totals cancel start-up and shutdown, leaving the instructions
# of one two-port request (connection included) and of one 1,000-port list (about 690 kB of
# JSON), and the first-level cache misses of each: instruction fetches (I1) and data reads and
# writes (D1) that miss the simulated 32 KiB caches, and the branches cachegrind's simple
# predictor mispredicts (conditional and indirect). The misses are what the instruction count
# leaves out: the gateway and the naive transcoder run about as many instructions a two-port
# GET, and the gateway spends more time on it because it runs through twice the code and data
# and mispredicts more (docs/performance.md). The same binary and inputs give counts within a few percent (the
# gateway's two-port GET moved 5% between runs: which of its threads wake when depends on
# valgrind's scheduling) whatever else the machine runs, so a change can be compared on a
# shared machine: COMPARE_BINARY=/path/to/an older cupi-gateway counts that build too, in
# the same run.
#
# One caveat when reading them: valgrind counts every iteration of `rep movsb`, which glibc's
# memcpy uses above a few kilobytes, as an instruction, so large copies weigh more here than
# in time; and its caches are a model, not this machine's. Writes target/bench/instructions/*.out
# (cg_annotate reads them, `--sort=I1mr` for the misses).
#
# Then the transcoder alone: `xml_to_json` of the same two lists in this build
# (examples/transcode_count.rs), counted the same way, by differences between repeat counts;
# quick-xml's read of them (the floor of benches/transcode.rs) and the floor's share; and the
# 1,000-port list streamed to the transcoder in chunks, as the gateway streams it.
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
build_workspace=1 # the floors too (benches/floors/, not a default member)
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

# Cachegrind's totals of one run of target $1 serving $2 two-port and $3 1,000-port GETs:
# prints instructions, I1 misses, D1 misses (reads and writes) and mispredicted branches
# (conditional and indirect).
count() { # target, small, big
  local name=$1 small=$2 big=$3 port out
  local command
  case $name in
    gateway) command=("$binary" --no-compression) ;;
    compare) command=("$compare" --no-compression) ;;
    bare) command=("$root/target/release/bare-proxy") ;;
    naive) command=("$root/target/release/naive-transcoder") ;;
  esac
  port=$(free_port)
  out="$out_dir/$name-$small-$big.out"
  valgrind --tool=cachegrind --cache-sim=yes --branch-sim=yes --cachegrind-out-file="$out" "${command[@]}" \
    --listen "127.0.0.1:$port" --upstream "$upstream" >"$out_dir/$name.log" 2>&1 &
  local pid=$!
  wait_for_port "$port" "$pid"
  get "$port" 2 "$small" s
  get "$port" 1000 "$big" b
  # TERM: the floors set no handler for INT, which a background job of a script ignores.
  kill -TERM "$pid"
  wait "$pid" || true
  # events: Ir I1mr ILmr Dr D1mr DLmr Dw D1mw DLmw Bc Bcm Bi Bim
  grep -m1 '^summary:' "$out" | awk '{print $2, $3, $6 + $9, $12 + $14}'
}

printf '%-11s %45s %45s\n' '' 'per two-port GET' 'per 1,000-port list'
printf '%-11s %12s %10s %10s %10s %12s %10s %10s %10s\n' target instructions 'I1 misses' \
  'D1 misses' mispredict instructions 'I1 misses' 'D1 misses' mispredict
for name in bare naive gateway ${compare:+compare}; do
  read -r -a base < <(count "$name" 5 5)
  read -r -a small < <(count "$name" $(( 5 + small_requests )) 5)
  read -r -a big < <(count "$name" 5 25)
  printf '%-11s %12s %10s %10s %10s %12s %10s %10s %10s\n' "$name" \
    "$(( (small[0] - base[0]) / small_requests ))" "$(( (small[1] - base[1]) / small_requests ))" \
    "$(( (small[2] - base[2]) / small_requests ))" "$(( (small[3] - base[3]) / small_requests ))" \
    "$(( (big[0] - base[0]) / 20 ))" "$(( (big[1] - base[1]) / 20 ))" \
    "$(( (big[2] - base[2]) / 20 ))" "$(( (big[3] - base[3]) / 20 ))"
done

echo "== cargo build --release --example transcode_count" >&2
cargo build --release --quiet --example transcode_count
transcode() { # ports, times[, chunk | read] -> prints the total
  local out="$out_dir/transcode-$1-$2${3:+-$3}.out"
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$out" \
    "$root/target/release/examples/transcode_count" "$@" >/dev/null 2>&1
  grep -m1 '^summary:' "$out" | awk '{print $2}'
}
xml_small=$(( ($(transcode 2 1010) - $(transcode 2 10)) / 1000 ))
xml_big=$(( ($(transcode 1000 12) - $(transcode 1000 2)) / 10 ))
printf '%-11s %12s %21s %12s\n' xml_to_json "$xml_small" '' "$xml_big"
# quick-xml reading the same lists' events and nothing else (benches/transcode.rs's floor),
# and the floor over xml_to_json: the issue's 0.6 is a ratio of speeds, this one of counts.
read_small=$(( ($(transcode 2 1010 read) - $(transcode 2 10 read)) / 1000 ))
read_big=$(( ($(transcode 1000 12 read) - $(transcode 1000 2 read)) / 10 ))
printf '%-11s %12s %21s %12s\n' quick-xml "$read_small" '' "$read_big"
printf '%-11s %12s %21s %12s\n' 'read/xml' "$(awk "BEGIN {printf \"%.3f\", $read_small / $xml_small}")" '' \
  "$(awk "BEGIN {printf \"%.3f\", $read_big / $xml_big}")"
# The gateway streams a body past the first part read, as the 1,000-port list is: 16 KiB chunks.
printf '%-11s %12s %21s %12s\n' streamed - '' \
  "$(( ($(transcode 1000 12 16384) - $(transcode 1000 2 16384)) / 10 ))"
