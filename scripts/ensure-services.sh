#!/usr/bin/env bash
# Make sure the local services the test suite and benchmarks talk to are up; start any that
# is down and wait until it answers. Usage: scripts/ensure-services.sh [postgres] [redis] ...
# (default: postgres). Idempotent: a service that already answers is left alone.
set -euo pipefail

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
WAIT_SECONDS="${WAIT_SECONDS:-60}"

log() { printf 'services: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo -n "$@"
    fi
}

wait_for() {
    local name="$1"
    shift
    local i
    for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "$name did not come up within ${WAIT_SECONDS}s"
    return 1
}

ensure_postgres() {
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && return 0
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
    if [ -z "$version" ]; then
        log "PostgreSQL is not installed (no /etc/postgresql) and nothing answers on $PG_HOST:$PG_PORT"
        return 1
    fi
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for PostgreSQL pg_isready -q -h "$PG_HOST" -p "$PG_PORT"
    log "PostgreSQL is up on $PG_HOST:$PG_PORT"
}

ensure_redis() {
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
    log "starting Redis"
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
}

ensure_rabbitmq() {
    as_root rabbitmqctl -q status >/dev/null 2>&1 && return 0
    log "starting RabbitMQ"
    as_root rabbitmq-server -detached
    wait_for RabbitMQ as_root rabbitmqctl -q status
}

services=("$@")
[ "${#services[@]}" -eq 0 ] && services=(postgres)
for service in "${services[@]}"; do
    case "$service" in
        postgres | postgresql) ensure_postgres ;;
        redis) ensure_redis ;;
        rabbitmq) ensure_rabbitmq ;;
        *)
            log "unknown service: $service (postgres, redis, rabbitmq)"
            exit 2
            ;;
    esac
done
