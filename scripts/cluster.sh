#!/usr/bin/env bash
# The project-local PostgreSQL/PostGIS cluster and Redis, under var/.
#   cluster.sh start   initialise if needed, start, create the database with postgis
#   cluster.sh stop    stop PostgreSQL, Redis and any Celery worker started by `make demo`
# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Ports: the environment, else what the last `make setup` used (var/ports.env), else defaults.
ports_file="$root/var/ports.env"
saved_port() { [ -f "$ports_file" ] && sed -n "s/^$1=//p" "$ports_file" | tail -1 || true; }
PG_PORT="${PG_PORT:-$(saved_port PG_PORT)}"
REDIS_PORT="${REDIS_PORT:-$(saved_port REDIS_PORT)}"
pg_version="${PG_VERSION:-15}"
pg_bin="/usr/lib/postgresql/${pg_version}/bin"
pg_port="${PG_PORT:-54329}"
redis_port="${REDIS_PORT:-63799}"
db_name="${DB_NAME:-groundmotion}"
var="$root/var"
mkdir -p "$var"
# As root the cluster runs as postgres, who must be able to reach var/. When a parent folder
# shuts them out (a private home or temp folder), the cluster's files go under /var/tmp.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$var" 2>/dev/null; then
  var="/var/tmp/groundmotion-$(printf '%s' "$root" | md5sum | cut -c1-12)"
  mkdir -p "$var"
fi
pgdata="$var/pgdata"
sockets="$var/run"

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

start_postgres() {
  mkdir -p "$var/log" "$sockets"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$var/log" "$sockets"
    chmod 755 "$var"
  fi
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    mkdir -p "$pgdata"
    [ "$(id -u)" -eq 0 ] && chown postgres "$pgdata"
    as_pg "$pg_bin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg tee -a "$pgdata/postgresql.conf" >/dev/null <<CONF
# Project-local cluster (scripts/cluster.sh): loopback only, sized for a 2-core, 24 GiB machine.
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$sockets'
shared_buffers = 2GB
effective_cache_size = 12GB
work_mem = 64MB
maintenance_work_mem = 1GB
max_wal_size = 8GB
wal_level = minimal
max_wal_senders = 0
synchronous_commit = off
max_connections = 200
jit = off
CONF
  fi
  if ! as_pg "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    as_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$var/log/postgres.log" -o "-p $pg_port" -w start >/dev/null
  fi
  local psql=("$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qAt)
  if [ "$("${psql[@]}" -d postgres -c "select 1 from pg_database where datname='$db_name'")" != "1" ]; then
    "${psql[@]}" -d postgres -c "create database $db_name"
  fi
  "${psql[@]}" -d "$db_name" -c "create extension if not exists postgis"
}

start_redis() {
  mkdir -p "$var/redis" "$sockets"
  if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$var/redis" --daemonize yes \
      --pidfile "$sockets/redis.pid" --logfile "$var/log/redis.log" --save "" >/dev/null
  fi
}

stop_all() {
  if [ -f "$root/var/celery.pid" ]; then
    kill "$(cat "$root/var/celery.pid")" 2>/dev/null || true
    rm -f "$root/var/celery.pid"
  fi
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  if [ -s "$pgdata/PG_VERSION" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start_postgres; printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$pg_port" "$redis_port" >"$ports_file" ;;
  start-redis) start_redis ;;
  stop) stop_all ;;
  *) echo "usage: $0 start|start-redis|stop" >&2; exit 2 ;;
esac
