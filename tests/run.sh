#!/usr/bin/env bash
# The project's one test command: starts the services the tests need, then runs the workspace's
# tests. Extra arguments go to `cargo test` (e.g. `tests/run.sh -p mcpgw-shared -- some_test`).
# Lints (rustfmt, clippy -D warnings) run first under CI=true, or when MCPGW_LINT=1;
# MCPGW_LINT=0 skips them even under CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tests/services.sh
tests/peers.sh # the MCP peers the relay tests drive (Node 22 packages, Python mcp SDK)

export MCPGW_TEST_DATABASE_URL="${MCPGW_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export MCPGW_TEST_NATS_URL="${MCPGW_TEST_NATS_URL:-nats://127.0.0.1:4222}"

readonly TIMEOUT_SECS=3000 # 50 minutes per cargo step: a hang must not run forever

run_bounded() { # name command...
    local name=$1 status=0
    shift
    echo "run.sh: $name: $*" >&2
    timeout --kill-after=30 "$TIMEOUT_SECS" "$@" || status=$?
    if ((status == 124 || status == 137)); then
        echo "run.sh: $name timed out after ${TIMEOUT_SECS}s" >&2
    elif ((status != 0)); then
        echo "run.sh: $name failed (exit $status)" >&2
    fi
    return "$status"
}

lint=0
case "${MCPGW_LINT:-}" in
1) lint=1 ;;
0) lint=0 ;;
*) if [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; then lint=1; fi ;;
esac

if ((lint)); then
    run_bounded rustfmt cargo fmt --all -- --check
    run_bounded clippy cargo clippy --workspace --all-targets --locked -- -D warnings
fi

run_bounded tests cargo test --workspace --all-targets --locked "$@"
