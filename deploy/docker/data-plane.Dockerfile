# syntax=docker/dockerfile:1
# The data plane alone: built from its own package, so no control-plane code is in the image.
# Build from the repository root: docker build -f deploy/docker/data-plane.Dockerfile .
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p mcpgw-data-plane --bin mcpgw-data-plane

# glibc and libgcc only, no shell, runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/mcpgw-data-plane /usr/local/bin/mcpgw-data-plane
ENV MCPGW_LISTEN_ADDR=0.0.0.0:8080 \
    MCPGW_DATA_DIR=/home/nonroot/mcpgw
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=6s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/mcpgw-data-plane", "health", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/mcpgw-data-plane"]
CMD ["serve"]
