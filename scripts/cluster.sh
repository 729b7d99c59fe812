#!/usr/bin/env bash
# The project-local PostgreSQL/PostGIS cluster and Redis, under var/.
#   cluster.sh start   initialise if needed, start, create the database with postgis
#   cluster.sh stop    stop PostgreSQL (and its standby), Redis and any Celery worker started
#                      by `make demo`
#   cluster.sh start-replica   a streaming hot standby of it on REPLICA_PORT (default 54330), data
#                      under var/pgdata-replica; turns on WAL for replication (restarts the primary
#                      once; bulk loads then write their WAL too, which wal_level minimal spared)
#   cluster.sh stop-replica    stop the standby (a standby stopped while more than wal_keep_size of
#                      WAL was written cannot catch up: remove its folder, start it again)
# CLUSTER_DIR (default var/), PG_DATA_DIR and REPLICA_DATA_DIR move the files elsewhere, so that a
# test can run a pair of its own beside the project's cluster.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Ports: the environment, else what the last `make setup` used (var/ports.env), else defaults.
state="${CLUSTER_DIR:-$root/var}"
ports_file="$state/ports.env"
saved_port() { [ -f "$ports_file" ] && sed -n "s/^$1=//p" "$ports_file" | tail -1 || true; }
PG_PORT="${PG_PORT:-$(saved_port PG_PORT)}"
REDIS_PORT="${REDIS_PORT:-$(saved_port REDIS_PORT)}"
pg_version="${PG_VERSION:-15}"
pg_bin="/usr/lib/postgresql/${pg_version}/bin"
pg_port="${PG_PORT:-54329}"
redis_port="${REDIS_PORT:-63799}"
replica_port="${REPLICA_PORT:-54330}"
db_name="${DB_NAME:-groundmotion}"
var="$state"
mkdir -p "$var"
# As root the cluster runs as postgres, who must be able to reach var/. When a parent folder
# shuts them out (a private home or temp folder), the cluster's files go under /var/tmp.
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$var" 2>/dev/null; then
  var="/var/tmp/groundmotion-$(printf '%s' "${CLUSTER_DIR:-$root}" | md5sum | cut -c1-12)"
  mkdir -p "$var"
fi
pgdata="${PG_DATA_DIR:-$var/pgdata}"
replica_data="${REPLICA_DATA_DIR:-$var/pgdata-replica}"
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

primary_setting() {
  "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qAt -d postgres -c "show $1"
}

# The primary's WAL made fit for a standby: wal_level minimal (no WAL for COPY into a table made
# in the same transaction) and no WAL senders are what fast bulk loads want, so only this asks.
enable_replication() {
  local changed=""
  if [ "$(primary_setting wal_level)" = minimal ] || [ "$(primary_setting max_wal_senders)" = 0 ]; then
    "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qAt -d postgres \
      -c "alter system set wal_level = replica" -c "alter system set max_wal_senders = 4" \
      -c "alter system set wal_keep_size = '2GB'"
    changed=1
  fi
  if ! as_pg grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "$pgdata/pg_hba.conf"; then
    echo "host replication all 127.0.0.1/32 trust" | as_pg tee -a "$pgdata/pg_hba.conf" >/dev/null
    changed=1
  fi
  if [ -n "$changed" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pgdata" -l "$var/log/postgres.log" -o "-p $pg_port" -m fast -w restart >/dev/null
  fi
}

start_replica() {
  if ! as_pg "$pg_bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    echo "the primary is not running: $0 start" >&2
    exit 1
  fi
  enable_replication
  if [ ! -s "$replica_data/PG_VERSION" ]; then
    mkdir -p "$replica_data"
    [ "$(id -u)" -eq 0 ] && chown postgres "$replica_data"
    chmod 700 "$replica_data"
    # -R writes primary_conninfo and standby.signal: the copy starts as a streaming standby.
    as_pg "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres -D "$replica_data" \
      -R -X stream -c fast
    as_pg tee -a "$replica_data/postgresql.conf" >/dev/null <<CONF
# Hot standby of the cluster on port $pg_port (scripts/cluster.sh start-replica).
port = $replica_port
hot_standby = on
# Long tile and export reads are not cancelled by the primary's vacuum.
hot_standby_feedback = on
CONF
  fi
  if ! as_pg "$pg_bin/pg_ctl" -D "$replica_data" status >/dev/null 2>&1; then
    as_pg "$pg_bin/pg_ctl" -D "$replica_data" -l "$var/log/postgres-replica.log" \
      -o "-p $replica_port" -w start >/dev/null
  fi
}

stop_replica() {
  if [ -s "$replica_data/PG_VERSION" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$replica_data" -m fast stop >/dev/null 2>&1 || true
  fi
}

stop_all() {
  if [ -f "$state/celery.pid" ]; then
    kill "$(cat "$state/celery.pid")" 2>/dev/null || true
    rm -f "$state/celery.pid"
  fi
  stop_replica
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  if [ -s "$pgdata/PG_VERSION" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start_postgres; printf 'PG_PORT=%s\nREDIS_PORT=%s\n' "$pg_port" "$redis_port" >"$ports_file" ;;
  start-redis) start_redis ;;
  start-replica) start_replica ;;
  stop-replica) stop_replica ;;
  stop) stop_all ;;
  *) echo "usage: $0 start|start-redis|start-replica|stop-replica|stop" >&2; exit 2 ;;
esac
