#!/usr/bin/env bash
# Backups of the service's database (pg_dump's custom format) and their restore.
#   backup.sh backup [FILE]   dump DATABASE_URL to FILE, default var/backups/<UTC time>.dump
#   backup.sh restore FILE    restore FILE into DATABASE_URL's database, created when missing;
#                             it must hold no tables (RESTORE_REPLACE=yes drops and recreates it
#                             first), then ANALYZE and the checks below
# DATABASE_URL is the service's own (postgis://user:password@host:port/name?options); libpq
# reads it as postgresql://. RESTORE_JOBS: parallel restore jobs (default 2). BACKUP_COMPRESS:
# pg_dump's gzip level, default 1: the series' bytes hardly compress, and on 10^5 demo points
# level 1 took 2.2 s of CPU for 80 MB where the default (6) took 15 s for 65 MB.
#
# After a restore, the script checks what the service relies on: every partition the dump
# attached is attached again (the points are partitioned per dataset) and every index is valid
# (a partitioned table's index is invalid until each partition's index is attached to it). The
# restoring role owns what it restores (--no-owner --no-acl) and must be able to create the
# postgis extension, or find it there already. Files under MEDIA_ROOT (finished exports, kept
# GROUNDMOTION_DOWNLOAD_FILE_HOURS) are not part of the backup.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pg_bin="/usr/lib/postgresql/${PG_VERSION:-15}/bin"
[ -x "$pg_bin/pg_dump" ] || pg_bin="$(dirname "$(command -v pg_dump)")"
url="${DATABASE_URL:?DATABASE_URL must be set}"
# postgis://… -> postgresql://…; the database name and its server's maintenance database.
libpq_url="postgresql://${url#*://}"
base="${libpq_url%%\?*}"
query="${libpq_url#"$base"}"
db_name="${base##*/}"
maintenance_url="${base%/*}/postgres${query}"

psql_at() { "$pg_bin/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
say() { printf '%s\n' "$*" >&2; }

backup() {
  local file="${1:-$root/var/backups/$(date -u +%Y%m%dT%H%M%SZ).dump}"
  mkdir -p "$(dirname "$file")"
  # Written aside and renamed once complete and readable: a failed dump never looks like one.
  "$pg_bin/pg_dump" --format=custom --compress="${BACKUP_COMPRESS:-1}" --file="$file.partial" \
    "$libpq_url"
  "$pg_bin/pg_restore" --list "$file.partial" >/dev/null
  mv "$file.partial" "$file"
  say "backup: $db_name -> $file ($(du -h "$file" | cut -f1))"
  printf '%s\n' "$file"
}

user_tables() {
  # Tables and partitioned tables outside the catalogs and not part of an extension
  # (PostGIS's spatial_ref_sys is in every fresh database).
  psql_at "$libpq_url" -c "
    SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')"
}

prepare_target() {
  local exists
  exists="$(psql_at "$maintenance_url" -c "SELECT 1 FROM pg_database WHERE datname = '$db_name'")"
  if [ "$exists" = "1" ] && [ "${RESTORE_REPLACE:-}" = "yes" ]; then
    say "restore: dropping database $db_name (RESTORE_REPLACE=yes)"
    psql_at "$maintenance_url" -c "DROP DATABASE \"$db_name\" WITH (FORCE)"
    exists=""
  fi
  if [ "$exists" != "1" ]; then
    psql_at "$maintenance_url" -c "CREATE DATABASE \"$db_name\""
  elif [ "$(user_tables)" != "0" ]; then
    say "restore: database $db_name already holds tables; restore into a new or empty database,"
    say "or set RESTORE_REPLACE=yes to drop and recreate it"
    exit 2
  fi
}

check_restore() {
  local toc="$1" attached expected invalid
  expected="$(grep -c ' TABLE ATTACH ' "$toc" || true)"
  attached="$(psql_at "$libpq_url" -c "
    SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE c.relispartition AND c.relkind IN ('r', 'p')")"
  invalid="$(psql_at "$libpq_url" -c "
    SELECT coalesce(string_agg(indexrelid::regclass::text, ', '), '')
    FROM pg_index WHERE NOT indisvalid OR NOT indisready")"
  if [ "$attached" != "$expected" ]; then
    say "restore: $attached partitions attached, the backup has $expected"
    exit 1
  fi
  if [ -n "$invalid" ]; then
    say "restore: invalid indexes: $invalid"
    exit 1
  fi
  say "restore: $attached partitions attached, every index valid"
}

restore() {
  local file="${1:?usage: backup.sh restore FILE (make restore BACKUP_FILE=...)}"
  [ -r "$file" ] || { say "restore: cannot read $file"; exit 2; }
  toc="$(mktemp)"
  trap 'rm -f "$toc"' EXIT
  # Comments on extensions need their owner; the extension itself is enough.
  "$pg_bin/pg_restore" --list "$file" | grep -v ' COMMENT - EXTENSION ' >"$toc"
  prepare_target
  "$pg_bin/pg_restore" --exit-on-error --no-owner --no-acl --jobs="${RESTORE_JOBS:-2}" \
    --use-list="$toc" --dbname="$libpq_url" "$file"
  # pg_restore brings no planner statistics: without them the first tile and export plans
  # guess (and the partitions' statistics decide point lookups).
  psql_at "$libpq_url" -c "ANALYZE"
  check_restore "$toc"
  say "restore: $file -> $db_name"
}

case "${1:-}" in
  backup) backup "${2:-${BACKUP_FILE:-}}" ;;
  restore) restore "${2:-${BACKUP_FILE:-}}" ;;
  *) say "usage: $0 backup [FILE] | restore FILE"; exit 2 ;;
esac
