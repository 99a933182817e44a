# Shared by benches/memory.sh and benches/load.sh (sourced, not run): the release build, free
# loopback ports, waiting for a server, and stopping every process a script started on exit.
# With build_workspace set, every workspace member is built, the ones outside default-members
# (benches/floors/) too; the features they ask of shared dependencies are all among the gateway's, so the
# gateway is not rebuilt.

echo "== cargo build --release ${build_workspace:+--workspace}" >&2
cargo build --release --quiet ${build_workspace:+--workspace}
binary="$root/target/release/cupi-gateway"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Processes to stop on exit: append with pids+=("$!").
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

wait_for_port() { # port, pid
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$1/"; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "process $2 died before listening on $1" >&2; return 1; }
    sleep 0.1
  done
  echo "nothing listens on $1 after 30 s" >&2
  return 1
}
