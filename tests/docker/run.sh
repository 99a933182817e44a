#!/usr/bin/env bash
# The Docker image, built from the repository's Dockerfile and run for real:
#
#  1. the deployment files: deploy/docker-compose.yml through docker-compose's own `config`,
#     deploy/kubernetes/ through kubernetes-validate (the API's schemas, from PyPI);
#  2. a Docker daemon: the running one, else Debian's docker.io started here (and stopped at
#     the end);
#  3. local stand-ins for the base images, since this machine reaches no image registry:
#     a Rust builder (Debian bookworm by debootstrap, gcc, and this machine's own Rust
#     toolchain) and a distroless-like runtime (the packages of gcr.io/distroless/cc-debian12,
#     unpacked, plus its nonroot user). They are the Dockerfile's RUST_IMAGE and RUNTIME_IMAGE
#     build arguments; set either variable to use a real image instead;
#  4. `docker build` of the Dockerfile (BuildKit, cache mounts), and the image's size;
#  5. the simulator and the gateway as two containers of that image, and through the gateway's
#     container: typed JSON, a JSON PUT round trip, /healthz, /readyz, /metrics (checks.py);
#     the process's user (not root), the image's HEALTHCHECK turning healthy, the CA roots in
#     the image, the RSS after some load, and `docker stop` ending it with exit 0 within the
#     drain timeout;
#  6. deploy/docker-compose.yml brought up with those images (nginx as the frontend and Redis
#     for the shared upstream budget, from local stand-ins too), used through its frontend, and
#     the sidecar's /readyz showing the budget shared through the stack's Redis.
#
# Usage: bash tests/docker/run.sh
# Exit status: 0 all passed; 77 NO DOCKER DAEMON CAN RUN HERE (nothing about the image was
# tested; said loudly); anything else a failure. Needs root (apt-get, dockerd, debootstrap).
# Caches, so that a second run takes seconds plus the build: the stand-in images themselves
# (rebuilt only when missing), the debootstrap root file system in target/docker/, and
# BuildKit's cache mounts (crates and the target directory) inside the daemon.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work="$root/target/docker"
mkdir -p "$work"

image=${DOCKER_TEST_IMAGE:-cupi-gateway:test}
prefix=cupi-docker-test            # containers, network and compose project of this script
drain_seconds=5                    # the gateway container's CUPI_GATEWAY_DRAIN_TIMEOUT
suite=bookworm                     # Debian 12, as the Dockerfile's default base images

t0=$(date +%s)
say() { echo "== docker [$(($(date +%s) - t0))s]: $*"; }
fail() {
  echo "tests/docker/run.sh: FAILED: $*" >&2
  exit 1
}
no_daemon() {
  cat >&2 <<EOF

######################################################################################
#  NO DOCKER DAEMON CAN RUN ON THIS MACHINE: THE DOCKER IMAGE WAS NOT BUILT OR TESTED
#  $*
#  tests/docker/run.sh exits 77.
######################################################################################

EOF
  exit 77
}

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

dockerd_pid=
cleanup() {
  local status=$?
  set +e
  if [ -n "${compose[*]:-}" ]; then
    "${compose[@]}" down --timeout 15 >/dev/null 2>&1
  fi
  docker rm -f "$prefix-gateway" "$prefix-simulator" >/dev/null 2>&1
  docker network rm "$prefix" >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 1; done
  fi
  exit "$status"
}
trap cleanup EXIT

# -- 1. The deployment files -----------------------------------------------------------------
if docker compose version >/dev/null 2>&1; then
  compose_cli=(docker compose)
else
  # No compose plugin for this Docker client; Debian's docker-compose (1.29) reads the same
  # file format and checks it against its schema.
  command -v docker-compose >/dev/null || apt_install docker-compose
  compose_cli=(docker-compose)
fi
say "deploy/docker-compose.yml: ${compose_cli[*]} config"
"${compose_cli[@]}" -f "$root/deploy/docker-compose.yml" config -q

venv="$work/venv"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
say "deploy/kubernetes/: kubernetes-validate --strict (Kubernetes 1.30, the oldest with preStop sleep)"
manifests=()
for file in "$root"/deploy/kubernetes/*.yaml; do
  [ "$(basename "$file")" = kustomization.yaml ] || manifests+=("$file")
done
"$venv/bin/kubernetes-validate" --kubernetes-version 1.30.0 --strict --quiet "${manifests[@]}"

# -- 2. A Docker daemon ----------------------------------------------------------------------
if docker info >/dev/null 2>&1; then
  say "using the Docker daemon already running"
else
  if ! command -v dockerd >/dev/null; then
    say "installing Debian's docker.io"
    apt_install docker.io || no_daemon "apt-get install docker.io failed"
  fi
  say "starting dockerd (log: target/docker/dockerd.log)"
  # Its defaults work on this kind of machine (overlay2 on ext4, a bridge network with
  # iptables NAT, cgroup v1), so no flags: the default data root keeps the stand-in images and
  # BuildKit's caches for the next run, and the default socket is where every client looks.
  dockerd >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    tail -n 20 "$work/dockerd.log" >&2 || true
    dockerd_pid=
    no_daemon "dockerd exited, or did not answer within 60 s (last lines of its log above)"
  fi
fi

# Docker 23+ clients build with BuildKit only through the buildx plugin (else they fall back to
# the legacy builder, which has no cache mounts). Debian's docker.io client (20.10) drives the
# daemon's built-in BuildKit itself when DOCKER_BUILDKIT=1.
build_cli=docker
if ! docker buildx version >/dev/null 2>&1; then
  [ -x /usr/bin/docker ] || apt_install docker.io
  build_cli=/usr/bin/docker
fi
build() { DOCKER_BUILDKIT=1 "$build_cli" build "$@"; }

# -- 3. Stand-in base images -----------------------------------------------------------------
# The Debian mirror this machine's apt uses (DEBIAN_MIRROR overrides it).
mirror=${DEBIAN_MIRROR:-$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
  sed -n -E 's,^(URIs:|deb) *(https?://[^ ]*/debian)/?( .*)?$,\2,p' | head -n 1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

rust_version=$(rustc --version | cut -d' ' -f2)
RUST_IMAGE=${RUST_IMAGE:-cupi-standin/rust:$rust_version-$suite}
if ! have_image "$RUST_IMAGE"; then
  say "making $RUST_IMAGE: debootstrap $suite + gcc + this machine's Rust $rust_version"
  rootfs="$work/rust-rootfs"
  if [ ! -e "$rootfs/.complete" ]; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=gcc,libc6-dev,ca-certificates \
      "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap (log: $work/debootstrap.log)"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    touch "$rootfs/.complete"
  fi
  # This machine's trust store: it reaches crates.io through a TLS-intercepting egress proxy
  # whose CA only the host trusts. (The runtime image copies its roots from the builder, so
  # the test image trusts that CA too; a public build gets Debian's roots.)
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # The toolchain where rust's official image has it, without its 800 MB of docs.
  toolchain="$rootfs/usr/local/rustup/toolchains/$rust_version-x86_64-unknown-linux-gnu"
  rm -rf "$rootfs/usr/local/rustup" "$rootfs/usr/local/cargo"
  mkdir -p "$toolchain" "$rootfs/usr/local/cargo/bin"
  tar -C "$(rustc --print sysroot)" --exclude=./share -c . | tar -C "$toolchain" -x
  for tool in cargo rustc rustdoc; do
    ln -s "../../rustup/toolchains/$(basename "$toolchain")/bin/$tool" "$rootfs/usr/local/cargo/bin/$tool"
  done
  tar -C "$rootfs" --exclude=./.complete -c . | docker import \
    --change 'ENV RUSTUP_HOME=/usr/local/rustup' --change 'ENV CARGO_HOME=/usr/local/cargo' \
    --change 'ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$RUST_IMAGE" >/dev/null
  rm -rf "$rootfs/usr/local/rustup" "$rootfs/usr/local/cargo"
fi

RUNTIME_IMAGE=${RUNTIME_IMAGE:-cupi-standin/runtime:$suite}
if ! have_image "$RUNTIME_IMAGE"; then
  # debootstrap always installs Debian's essential set (a shell, coreutils, dpkg, apt), which
  # is what distroless leaves out; this unpacks distroless cc's package list instead.
  say "making $RUNTIME_IMAGE: the packages of distroless cc-debian12, unpacked"
  debs="$work/runtime-debs"
  rootfs="$work/runtime-rootfs"
  rm -rf "$debs" "$rootfs"
  mkdir -p "$debs" "$rootfs"
  packages=(base-files netbase tzdata libc6 libgcc-s1 libgomp1 libstdc++6 libssl3)
  (cd "$debs" && { apt-get download "${packages[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download "${packages[@]}" >/dev/null 2>&1; }; }) ||
    fail "apt-get download ${packages[*]}"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$rootfs"; done
  rm -rf "$rootfs"/usr/share/doc "$rootfs"/usr/share/man "$rootfs"/usr/share/lintian
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$rootfs/etc/group"
  mkdir -p "$rootfs/tmp" "$rootfs/home/nonroot"
  chmod 1777 "$rootfs/tmp"
  chown 65532:65532 "$rootfs/home/nonroot"
  # No CA roots on purpose: the Dockerfile must bring its own, as for debian:bookworm-slim.
  tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' - "$RUNTIME_IMAGE" >/dev/null
  rm -rf "$rootfs"
fi

# -- 4. The image ----------------------------------------------------------------------------
proxy_args=()
for name in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy; do
  if [ -n "${!name:-}" ]; then proxy_args+=(--build-arg "$name=${!name}"); fi
done
say "docker build -t $image (RUST_IMAGE=$RUST_IMAGE RUNTIME_IMAGE=$RUNTIME_IMAGE; log: target/docker/build.log)"
build_start=$(date +%s)
build --progress=plain --build-arg "RUST_IMAGE=$RUST_IMAGE" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
  "${proxy_args[@]}" -t "$image" "$root" >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; fail "docker build (log: $work/build.log)"; }
say "built in $(($(date +%s) - build_start))s"
# Earlier builds of the same tag, now untagged (only this image's: the Dockerfile labels it).
docker image prune -f --filter "label=org.opencontainers.image.title=cupi-gateway" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$image")
size_mb=$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1000000 }')
say "IMAGE SIZE: $image is $size_mb MB ($size bytes; target: under 40 MB)"

# -- 5. The simulator and the gateway, two containers of the image ---------------------------
docker rm -f "$prefix-gateway" "$prefix-simulator" >/dev/null 2>&1 || true
docker network rm "$prefix" >/dev/null 2>&1 || true
docker network create "$prefix" >/dev/null
docker run -d --name "$prefix-simulator" --network "$prefix" --no-healthcheck \
  -e CUPI_SIMULATOR_LISTEN=0.0.0.0:8081 "$image" simulate >/dev/null
# --health-interval only makes the image's own HEALTHCHECK report sooner.
docker run -d --name "$prefix-gateway" --network "$prefix" -p 127.0.0.1::8080 \
  --health-interval 1s \
  -e CUPI_GATEWAY_UPSTREAM="http://$prefix-simulator:8081" \
  -e CUPI_GATEWAY_DRAIN_TIMEOUT="${drain_seconds}s" \
  "$image" >/dev/null
gateway_logs() { docker logs "$prefix-gateway" 2>&1 | tail -n 30 >&2; }

say "waiting for the image's HEALTHCHECK (cupi-gateway healthcheck) to report healthy"
health=
for _ in $(seq 1 60); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$prefix-gateway")
  [ "$health" = healthy ] && break
  sleep 0.5
done
[ "$health" = healthy ] || { gateway_logs; fail "health is '$health' after 30 s"; }
echo "   ok: health: healthy ($(docker inspect -f '{{(index .State.Health.Log 0).Output}}' "$prefix-gateway" | head -n 1))"

base="http://$(docker port "$prefix-gateway" 8080/tcp | head -n 1)"
say "through the container at $base"
python3 "$here/checks.py" "$base" api || { gateway_logs; fail "checks through the container"; }

user=$(docker inspect -f '{{.Config.User}}' "$prefix-gateway")
pid=$(docker inspect -f '{{.State.Pid}}' "$prefix-gateway")
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] ||
  fail "the image's user is '$user'"
for uid in $uids; do [ "$uid" != 0 ] || fail "the gateway process runs as root (Uid: $uids)"; done
echo "   ok: non-root: image user $user; the process (pid $pid on the host) has Uid $uids"

# (grep without -q reads to the end: with pipefail, -q's early exit would fail the writer on
# SIGPIPE and the pipeline with it, although the line was found.)
docker cp "$prefix-gateway:/etc/ssl/certs/ca-certificates.crt" - | tar -tf - | grep -x ca-certificates.crt >/dev/null ||
  fail "no /etc/ssl/certs/ca-certificates.crt in the image"
echo "   ok: CA roots in the image: /etc/ssl/certs/ca-certificates.crt"

rss() { awk '/^VmRSS:|^VmHWM:/ { printf "%s %d MiB  ", $1, $2 / 1024 }' "/proc/$pid/status"; }
say "RSS after the checks: $(rss)"
python3 "$here/checks.py" "$base" load
say "RSS after 300 requests, 16 at a time: $(rss)"

say "docker stop (drain timeout ${drain_seconds}s)"
stop_start=$(date +%s%N)
docker stop -t $((drain_seconds + 10)) "$prefix-gateway" >/dev/null
stop_ms=$((($(date +%s%N) - stop_start) / 1000000))
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$prefix-gateway")
[ "$exit_code" = 0 ] || { gateway_logs; fail "exit code $exit_code after docker stop"; }
[ "$stop_ms" -lt $((drain_seconds * 1000)) ] || fail "docker stop took ${stop_ms} ms, drain timeout ${drain_seconds}s"
docker logs "$prefix-gateway" 2>&1 | grep "received SIGTERM" >/dev/null || { gateway_logs; fail "no SIGTERM in the log"; }
echo "   ok: docker stop: SIGTERM, exit code 0 after ${stop_ms} ms (drain timeout ${drain_seconds}s)"
docker rm -f "$prefix-gateway" "$prefix-simulator" >/dev/null
docker network rm "$prefix" >/dev/null

# -- 6. deploy/docker-compose.yml, brought up ------------------------------------------------
# Stand-ins for the compose stack's other images: Debian packages on the builder image.
# A package's postinst would start its service: a policy-rc.d that answers 101 forbids it.
# Usage: debian_standin IMAGE PACKAGE 'CMD as JSON' [PATHS to remove after]
debian_standin() {
  local image=$1 package=$2 cmd=$3 remove=${4:-}
  have_image "$image" && return 0
  say "making $image: Debian's $package on the builder image"
  printf '%s\n' "FROM $RUST_IMAGE" \
    "RUN printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $package >/dev/null && rm -rf /var/lib/apt/lists/* /usr/sbin/policy-rc.d $remove" \
    "CMD $cmd" |
    build -q -t "$image" - >"$work/$package-build.log" 2>&1 ||
    { tail -n 20 "$work/$package-build.log" >&2; fail "building $image"; }
}
FRONTEND_IMAGE=${FRONTEND_IMAGE:-cupi-standin/nginx:$suite}
debian_standin "$FRONTEND_IMAGE" nginx '["nginx", "-g", "daemon off;"]' /etc/nginx/sites-enabled/default
# The Redis of the replicas' shared upstream budget.
REDIS_IMAGE=${REDIS_IMAGE:-cupi-standin/redis:$suite}
debian_standin "$REDIS_IMAGE" redis-server '["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]'
frontend_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
compose=(env CUPI_GATEWAY_IMAGE="$image" FRONTEND_IMAGE="$FRONTEND_IMAGE" REDIS_IMAGE="$REDIS_IMAGE"
  FRONTEND_PORT="127.0.0.1:$frontend_port"
  "${compose_cli[@]}" -p "$prefix" -f "$root/deploy/docker-compose.yml")
say "${compose_cli[*]} up (frontend on 127.0.0.1:$frontend_port)"
"${compose[@]}" up -d --no-build >"$work/compose.log" 2>&1 || { cat "$work/compose.log" >&2; fail "compose up"; }
sidecar=$("${compose[@]}" ps -q cupi-gateway)
for _ in $(seq 1 60); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$sidecar")
  [ "$health" = healthy ] && break
  sleep 0.5
done
[ "$health" = healthy ] || { "${compose[@]}" logs >&2; fail "the sidecar's health is '$health' after 30 s"; }
echo "   ok: the sidecar reports healthy (it listens on the frontend's loopback only)"
python3 "$here/checks.py" "http://127.0.0.1:$frontend_port" frontend ||
  { "${compose[@]}" logs >&2; fail "the compose stack"; }
# The sidecar listens on the frontend's loopback only, and nginx passes /vmrest/ alone: its
# /readyz is asked from a container in the frontend's network namespace (the builder image,
# which has bash for /dev/tcp). Shared within 30 s: it may have started before Redis did, and
# then rejoins within a second of Redis answering.
frontend_id=$("${compose[@]}" ps -q frontend)
readyz=
for _ in $(seq 1 30); do
  readyz=$(docker run --rm --network "container:$frontend_id" "$RUST_IMAGE" bash -c \
    'exec 3<>/dev/tcp/127.0.0.1/8080 && printf "GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && cat <&3' 2>&1 || true)
  case "$readyz" in *'"mode":"shared"'*) break ;; esac
  sleep 1
done
case "$readyz" in
  *'"mode":"shared"'*) echo "   ok: the sidecar's /readyz: upstream budget shared through the stack's Redis (${readyz##*$'\r\n\r\n'})" ;;
  *) "${compose[@]}" logs >&2; fail "the sidecar's /readyz does not show the shared budget: $readyz" ;;
esac
"${compose[@]}" down --timeout 15 >/dev/null 2>&1
compose=()

say "PASSED in $(($(date +%s) - t0))s; image $image: $size_mb MB"
