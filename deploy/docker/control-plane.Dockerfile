# syntax=docker/dockerfile:1
# The control plane (REST admin API, gRPC sync, outbox relay; also `migrate` and `standalone`).
# Build from the repository root: docker build -f deploy/docker/control-plane.Dockerfile .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p mcpgw-control-plane --bin mcpgw-control-plane

# glibc and libgcc only, no shell, runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/mcpgw-control-plane /usr/local/bin/mcpgw-control-plane
ENV MCPGW_ADMIN_ADDR=0.0.0.0:8081 \
    MCPGW_GRPC_ADDR=0.0.0.0:50051 \
    MCPGW_DATA_DIR=/home/nonroot/mcpgw
USER nonroot:nonroot
EXPOSE 8081 50051
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/mcpgw-control-plane", "health", "--url", "http://127.0.0.1:8081/healthz"]
ENTRYPOINT ["/usr/local/bin/mcpgw-control-plane"]
CMD ["serve"]
