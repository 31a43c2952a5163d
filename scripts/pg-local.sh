#!/usr/bin/env bash
# A throwaway PostgreSQL server for trying cmo against server stores on one machine, and for
# the PostgreSQL benchmarks: `initdb` into DIR, listening on 127.0.0.1:PORT, trust auth for
# user cmo (never use this for anything but a test). Runs as the `postgres` user when root.
#   scripts/pg-local.sh start DIR PORT     # then: postgresql://cmo@127.0.0.1:PORT/postgres
#   scripts/pg-local.sh stop DIR
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
  echo "pg-local: no PostgreSQL under /usr/lib/postgresql; run scripts/install-deps.sh" >&2
  exit 1
fi
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
  start)
    dir=${2:?DIR}; port=${3:?PORT}
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir/data" -U cmo --auth=trust -E UTF8 --locale=C --no-sync >/dev/null
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c wal_level=logical" start >/dev/null
    echo "postgresql://cmo@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?DIR}
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
