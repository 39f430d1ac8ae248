#!/usr/bin/env bash
# Installs the MCP peers the end-to-end tests drive, into tests/.peers/ (gitignored):
#   npm: node@22 (the conformance suite needs Node >= 22), @modelcontextprotocol/conformance
#        (0.1.16, and 0.2.0-alpha.12 as `conformance-next` for the 2026-07-28 requirements),
#        @modelcontextprotocol/server-everything, @modelcontextprotocol/inspector-cli, and
#        oidc-provider (a certified OpenID provider, the upstream-OAuth tests' authorization server)
#   Python: a venv with the `mcp` SDK (both protocol eras), kubernetes-validate (offline
#           Kubernetes schemas, for the manifests under deploy/k8s), prometheus-client (the
#           metrics parser) and fastmcp (a token-checking upstream for the upstream-OAuth tests)
# Idempotent: a no-op when the pinned versions are already there. Status lines go to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

readonly PEERS=.peers
readonly NPM_PACKAGES=(
    node@22
    @modelcontextprotocol/conformance@0.1.16
    conformance-next@npm:@modelcontextprotocol/conformance@0.2.0-alpha.12
    @modelcontextprotocol/server-everything@2026.8.31
    @modelcontextprotocol/inspector-cli@1.0.3
    oidc-provider@9.13.3
)
readonly PY_PACKAGES=(mcp==2.3.0 kubernetes-validate==1.37.0 prometheus-client==0.26.0 fastmcp==4.2.3)

log() { printf 'peers.sh: %s\n' "$*" >&2; }
die() { printf 'peers.sh: ERROR: %s\n' "$*" >&2; exit 1; }

mkdir -p "$PEERS"

npm_stamp="$PEERS/npm/.installed"
if [[ "$(cat "$npm_stamp" 2>/dev/null)" != "${NPM_PACKAGES[*]}" ]]; then
    command -v npm >/dev/null || die "npm is missing: run tests/services.sh (it installs node and npm)"
    log "installing ${NPM_PACKAGES[*]} into tests/$PEERS/npm"
    mkdir -p "$PEERS/npm"
    npm install --prefix "$PEERS/npm" --no-audit --no-fund --loglevel=error "${NPM_PACKAGES[@]}" >&2 ||
        die "npm install failed"
    printf '%s' "${NPM_PACKAGES[*]}" >"$npm_stamp"
fi
node22="$PEERS/npm/node_modules/node/bin/node"
[[ -x "$node22" ]] || die "node@22 did not install a binary at tests/$node22"

py_stamp="$PEERS/venv/.installed"
if [[ "$(cat "$py_stamp" 2>/dev/null)" != "${PY_PACKAGES[*]}" ]]; then
    command -v python3 >/dev/null || die "python3 is missing"
    log "installing ${PY_PACKAGES[*]} into tests/$PEERS/venv"
    python3 -m venv "$PEERS/venv" >&2 || die "python3 -m venv failed (apt-get install python3-venv?)"
    "$PEERS/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}" >&2 ||
        die "pip install failed"
    printf '%s' "${PY_PACKAGES[*]}" >"$py_stamp"
fi
