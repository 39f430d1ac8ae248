#!/usr/bin/env bash
# Makes sure the services the test suite talks to are running:
#   PostgreSQL on 127.0.0.1:5432 (trust auth for loopback TCP, database `test`, user `postgres`)
#   NATS with JetStream on 127.0.0.1:4222
# and that node/npm exist. Idempotent; a no-op (well under a second) when all is up.
# Installs missing pieces with apt-get (needs root). Writes status lines to stderr only.
set -euo pipefail

readonly PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres PG_DB=test
readonly NATS_HOST=127.0.0.1 NATS_PORT=4222
readonly NATS_STORE=/var/lib/nats-server NATS_LOG=/var/log/nats-server.log
readonly WAIT_SECS=${MCPGW_SERVICES_WAIT_SECS:-30}
readonly HBA_MARKER='# mcpgw tests/services.sh: trust loopback TCP'

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() { printf 'services.sh: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- probes

pg_up() {
    command -v pg_isready >/dev/null 2>&1 &&
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
}

# Prints NATS's INFO line if something answers on the NATS port like a NATS server.
nats_info() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        IFS= read -r line <&3 || exit 1
        printf "%s\n" "$line"
    ' _ "$NATS_HOST" "$NATS_PORT" 2>/dev/null | grep '^INFO ' || return 1
}

nats_up() { nats_info >/dev/null; }

# pg_isready answers even when auth or the database is wrong: this checks what the tests use.
pg_usable() {
    psql -X -q -w -v ON_ERROR_STOP=1 -d "postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB" \
        -tAc 'select 1' >/dev/null 2>&1
}

wait_for() { # probe-function
    local probe=$1 deadline=$((SECONDS + WAIT_SECS))
    until "$probe"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.3
    done
}

# ---------------------------------------------------------------- PostgreSQL helpers

# Newest PostgreSQL version that has a `main` cluster configured (empty if none).
pg_cluster_version() {
    local v
    [[ -d /etc/postgresql ]] || return 0
    v=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -type d -name main -printf '%h\n' 2>/dev/null |
        xargs -r -n1 basename | sort -V | tail -n1)
    printf '%s' "$v"
}

pg_installed() { command -v pg_ctlcluster >/dev/null 2>&1 && [[ -n "$(pg_cluster_version)" ]]; }

pg_ctl() { # action
    pg_ctlcluster --skip-systemctl-redirect "$(pg_cluster_version)" main "$1"
}

# Debian's default pg_hba.conf asks loopback TCP clients for a password; put trust lines first
# (first match wins). Returns 0 if it changed the file.
pg_trust_loopback() {
    local ver hba tmp
    ver=$(pg_cluster_version)
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    [[ -f "$hba" ]] || die "PostgreSQL: $hba not found"
    grep -qF "$HBA_MARKER" "$hba" && return 1
    # Already trusted if the first rule for 127.0.0.1/32 says so (as on the prepared machines).
    [[ "$(awk '$1 ~ /^host/ && $4 == "127.0.0.1/32" { print $5; exit }' "$hba")" == trust ]] &&
        return 1
    log "PostgreSQL: adding trust for 127.0.0.1 and ::1 to $hba"
    tmp=$(mktemp)
    {
        printf '%s\n' "$HBA_MARKER" \
            'host    all             all             127.0.0.1/32            trust' \
            'host    all             all             ::1/128                 trust' ''
        cat "$hba"
    } >"$tmp"
    cat "$tmp" >"$hba" # keeps the file's owner and mode
    rm -f "$tmp"
}

pg_start() {
    local ver
    ver=$(pg_cluster_version)
    log "PostgreSQL: starting cluster $ver/main"
    pg_ctl start >&2 || log "PostgreSQL: pg_ctlcluster start failed (waiting anyway)"
    if ! wait_for pg_up; then
        tail -n 20 "/var/log/postgresql/postgresql-$ver-main.log" >&2 2>/dev/null || true
        die "PostgreSQL did not come up on $PG_HOST:$PG_PORT within ${WAIT_SECS}s"
    fi
}

# Makes sure user $PG_USER can reach database $PG_DB over loopback TCP without a password.
pg_ensure_usable() {
    pg_usable && return 0
    # Auth may be the problem (fresh install): fix it on the local cluster, if there is one.
    if pg_installed && pg_trust_loopback; then
        pg_ctl reload >&2 || die "PostgreSQL: reload after editing pg_hba.conf failed"
        sleep 0.5
        pg_usable && return 0
    fi
    if ! psql -X -q -w -d "postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres" \
        -tAc "select 1 from pg_database where datname = '$PG_DB'" 2>/dev/null | grep -q 1; then
        log "PostgreSQL: creating database $PG_DB"
        createdb -w -U "$PG_USER" -h "$PG_HOST" -p "$PG_PORT" "$PG_DB" ||
            die "PostgreSQL: could not create database $PG_DB as $PG_USER (is loopback TCP trusted?)"
    fi
    pg_usable || die "PostgreSQL: cannot connect to postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB" \
        "without a password"
}

# ---------------------------------------------------------------- NATS helpers

nats_start() {
    log "NATS: starting nats-server with JetStream"
    mkdir -p "$NATS_STORE"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a "$NATS_HOST" -p "$NATS_PORT" -js -sd "$NATS_STORE" -l "$NATS_LOG" >&2 ||
        log "NATS: start-stop-daemon failed (waiting anyway)"
    if ! wait_for nats_up; then
        tail -n 20 "$NATS_LOG" >&2 2>/dev/null || true
        die "NATS did not come up on $NATS_HOST:$NATS_PORT within ${WAIT_SECS}s; see its log above" \
            "(port taken by another program? a hung nats-server makes start-stop-daemon --oknodo a no-op)"
    fi
}

# ---------------------------------------------------------------- main

need_pg=0 need_nats=0 packages=()
if pg_up; then :; else
    need_pg=1
    pg_installed || packages+=(postgresql)
fi
if nats_up; then :; else
    need_nats=1
    [[ -x /usr/sbin/nats-server ]] || packages+=(nats-server)
fi
{ command -v node && command -v npm; } >/dev/null 2>&1 || packages+=(nodejs npm)

if ((${#packages[@]})); then
    command -v apt-get >/dev/null 2>&1 || die "missing ${packages[*]} and no apt-get to install them"
    ((EUID == 0)) || die "missing ${packages[*]}: run as root to install them with apt-get"
    log "installing ${packages[*]} with apt-get"
    apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >&2 ||
        die "apt-get install ${packages[*]} failed"
fi

if ((need_pg)); then
    if pg_up; then
        log "PostgreSQL: up (started by its package)"
    else
        command -v pg_ctlcluster >/dev/null 2>&1 || die "PostgreSQL: pg_ctlcluster not found"
        if [[ -z "$(pg_cluster_version)" ]]; then
            ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
                sort -V | tail -n1)
            [[ -n "$ver" ]] || die "PostgreSQL: no server version found under /usr/lib/postgresql"
            log "PostgreSQL: creating cluster $ver/main"
            pg_createcluster "$ver" main >&2 || die "PostgreSQL: pg_createcluster $ver main failed"
        fi
        pg_trust_loopback || true
        pg_start
    fi
fi
pg_ensure_usable

if ((need_nats)); then
    if nats_up; then log "NATS: up (started by its package)"; else nats_start; fi
fi
info=$(nats_info || true)
[[ "$info" == *'"jetstream":true'* ]] ||
    log "WARNING: NATS on $NATS_HOST:$NATS_PORT answers without JetStream (not started with -js?)"

if ((need_pg || need_nats || ${#packages[@]})); then
    log "services ready: PostgreSQL $PG_HOST:$PG_PORT, NATS $NATS_HOST:$NATS_PORT"
fi
