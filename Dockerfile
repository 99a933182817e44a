# cupi-gateway as a sidecar image: a Rust build stage, then a runtime stage that holds the
# binary, the CA roots and the C runtime it links against, running as a non-root user.
#
#   docker build -t cupi-gateway .
#   docker run --rm -p 8080:8080 -e CUPI_GATEWAY_UPSTREAM=https://cuc.example.com cupi-gateway
#
# Configuration is by environment only (every flag has a CUPI_GATEWAY_* twin; see README.md).
#
# No "# syntax=" line, on purpose: it makes BuildKit fetch a Dockerfile frontend image from
# Docker Hub. The frontend built into BuildKit (Docker 20.10 and later; the default builder since
# Docker 23) understands everything below, RUN --mount=type=cache included. The legacy builder
# (DOCKER_BUILDKIT=0) does not.
#
# The base images are build arguments whose defaults are the public images, pinned by version
# (pin them by digest too where builds must be reproducible). Where only local images exist,
# pass them: tests/docker/run.sh builds stand-ins with debootstrap and runs
#   docker build --build-arg RUST_IMAGE=... --build-arg RUNTIME_IMAGE=... .
# The two must agree on the C library: both are Debian 12 (bookworm) here.
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Only what the binary is built from (.dockerignore keeps the rest out of the context, so an
# edit to a test or a doc does not invalidate this stage).
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY crates crates
COPY openapi openapi
COPY assets assets
# Cargo.toml declares this benchmark target and the load benchmark's floors as a workspace
# member, and cargo refuses a manifest whose declared targets or members are missing, so they
# come along (neither is built here).
COPY benches/transcode.rs benches/transcode.rs
COPY benches/floors benches/floors
# Build caches: the crates.io download cache and the target directory are cache mounts, kept by
# the builder between builds, so a code change re-downloads nothing and recompiles only this
# crate. (The usual alternative, a dependency-only layer built from a dummy main.rs, rebuilds
# every dependency whenever Cargo.lock changes and needs a second copy of the manifest logic.)
# A cache mount is not part of the image, so the binary is copied out in the same step.
# Proxies, if crates.io needs one, come in as Docker's predefined build arguments
# (--build-arg HTTPS_PROXY=...), which need no ARG line.
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bin cupi-gateway \
    && install -D -m 0755 target/release/cupi-gateway /out/cupi-gateway

# No shell and no package manager here when the default (distroless) is used: every instruction
# below is exec-form or a plain file copy, so a Debian slim runtime works the same.
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title=cupi-gateway \
      org.opencontainers.image.description="JSON gateway for the Cisco Unity Connection provisioning API (CUPI)"
# CA roots for verifying Unity Connection, from the builder (Debian's ca-certificates): the
# distroless image has them already, debian:bookworm-slim does not.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/cupi-gateway /usr/local/bin/cupi-gateway
# Numeric, so Kubernetes' runAsNonRoot can check it without an /etc/passwd lookup; 65532 is
# distroless' "nonroot".
USER 65532:65532
ENV CUPI_GATEWAY_LISTEN=0.0.0.0:8080 \
    NO_COLOR=1
EXPOSE 8080
# SIGTERM starts the graceful drain (CUPI_GATEWAY_DRAIN_TIMEOUT, default 10s); give `docker stop`
# (--stop-timeout, compose's stop_grace_period) a few seconds more than that.
STOPSIGNAL SIGTERM
# `cupi-gateway healthcheck` asks this container's gateway for /healthz, on the address it
# reads from the same CUPI_GATEWAY_LISTEN: no shell or curl needed.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/cupi-gateway", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/cupi-gateway"]
