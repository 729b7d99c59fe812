#!/usr/bin/env bash
# Installs the Debian packages the service needs, only those missing. Safe to re-run.
set -euo pipefail
pg_version="${PG_VERSION:-15}"
packages=(
  "postgresql-${pg_version}" "postgresql-${pg_version}-postgis-3"
  gdal-bin libgdal-dev redis-server chromium
  python3 python3-venv python3-dev build-essential nodejs npm
)
# --bench: also what bench/ drives (wrk loads the tile servers; pgbench and psql come with
# PostgreSQL, ogr2ogr with gdal-bin).
[ "${1:-}" = --bench ] && packages+=(wrk)
missing=()
for package in "${packages[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's: an npm on PATH is enough.
  [ "$package" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing Debian packages: ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
