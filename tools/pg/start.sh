#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for tests and benchmarks: initdb and
# pg_ctl as an unprivileged user, data and unix socket in a temporary folder,
# listening on a free loopback port only. Prints the connection URL (and
# nothing else) on stdout; tools/pg/stop.sh FOLDER stops it and removes the
# folder. The folder is the second line of FOLDER/info, the URL its first.
#
# Usage: tools/pg/start.sh [FOLDER]     (default: a new mktemp folder)
#   When run as root, the server runs as the system user banshi-pg (created
#   if missing; PostgreSQL refuses to run as root).
# Environment: BANSHI_PG_BIN  the folder of initdb/pg_ctl (default: the
#   newest /usr/lib/postgresql/*/bin).
set -euo pipefail

log() { echo "pg: $*" >&2; }

bin="${BANSHI_PG_BIN:-}"
if [ -z "$bin" ]; then
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
fi
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  log "initdb not found: install Debian's postgresql (tools/setup.sh does) or set BANSHI_PG_BIN"
  exit 1
fi

dir="${1:-}"
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/banshi-pg.XXXXXX")
else
  mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)
if [ -e "$dir/data" ]; then
  log "$dir already holds a cluster"
  exit 1
fi

# Who runs the server: the caller, or banshi-pg when the caller is root.
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id banshi-pg >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin banshi-pg
  fi
  chown banshi-pg "$dir"
  chmod 700 "$dir"
  run_as=(runuser -u banshi-pg --)
fi

# A free loopback port: ask the kernel for one.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

password=$(head -c 18 /dev/urandom | base64 | tr -d '+/=' | head -c 20)
printf '%s\n' "$password" > "$dir/pwfile"
[ ${#run_as[@]} -gt 0 ] && chown banshi-pg "$dir/pwfile"
chmod 600 "$dir/pwfile"

"${run_as[@]}" "$bin/initdb" -D "$dir/data" -U banshi --pwfile="$dir/pwfile" --auth-local=peer \
  --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
  log "initdb failed:"; cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pwfile"

# Throwaway: no fsync (a crash of the machine loses the cluster, which is
# thrown away anyway); enough connections for several nodes and the tests.
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 64MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
CONF

"${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
  log "the server did not start:"; cat "$dir/server.log" >&2; exit 1; }

url="postgresql://banshi:$password@127.0.0.1:$port/postgres"
# The database the tests and benchmarks use.
"$bin/psql" "$url" -v ON_ERROR_STOP=1 -qc 'CREATE DATABASE banshi' >/dev/null
url="postgresql://banshi:$password@127.0.0.1:$port/banshi"
printf '%s\n%s\n%s\n' "$url" "$dir" "$bin" > "$dir/info"
chmod 600 "$dir/info"
log "PostgreSQL running in $dir on 127.0.0.1:$port"
echo "$url"
