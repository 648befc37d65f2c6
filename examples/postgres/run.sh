#!/usr/bin/env bash
# Runs clicks.sql against throwaway PostgreSQL and Redis servers on loopback, with
# checkpoints, and shows what landed with psql and redis-cli. Everything is removed at the
# end.
#
# usage: examples/postgres/run.sh [SLUICE (build/sluice)]
# needs: postgresql (initdb, pg_ctl, psql), redis-server, redis-cli (scripts/install-deps.sh)
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # runuser (util-linux)
HERE="$(cd "$(dirname "$0")" && pwd)"
SLUICE="$(realpath "${1:-$HERE/../../build/sluice}")"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
WORK="$(mktemp -d /tmp/sluice-example-XXXXXX)"
# Below Linux's ephemeral range (32768-60999), where other programs' outgoing connections
# and servers bound to port 0 land: a random port there was sometimes taken.
PG_PORT=$((20000 + RANDOM % 12000))
REDIS_PORT=$((PG_PORT + 1))
AS=""
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$WORK"; AS="runuser -u postgres --"; fi
cleanup() {
  $AS "$BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== starting PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT"
$AS "$BIN/initdb" -N -D "$WORK/pg" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
$AS "$BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w \
  -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1" start >/dev/null
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK" --save '' --appendonly no \
  --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || { echo "redis-server did not start:" >&2; cat "$WORK/redis.log" >&2; exit 1; }

PG_DSN="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
sed -e "s|{PG_DSN}|$PG_DSN|" -e "s|{REDIS_URL}|redis://127.0.0.1:$REDIS_PORT/0|" \
  "$HERE/clicks.sql" > "$WORK/clicks.sql"

echo "== sluice run clicks.sql (checkpoints in $WORK/ck)"
(cd "$WORK" && "$SLUICE" run -q clicks.sql --checkpoint-dir ck)

echo "== psql: the busiest page-minutes"
psql -q "$PG_DSN" -c "SELECT window_start, page, views, users FROM page_minutes
                      ORDER BY views DESC, window_start, page LIMIT 5"
psql -qAt "$PG_DSN" -c "SELECT 'page_minutes rows: ' || count(*) || ', views: ' || sum(views) FROM page_minutes"

echo "== redis-cli: the features of user 42"
redis-cli -p "$REDIS_PORT" hgetall user:42
echo "users in Redis: $(redis-cli -p "$REDIS_PORT" --scan --pattern 'user:*' | wc -l)"
