#!/usr/bin/env bash
# PostgreSQL sink benchmark: the same N rows (a CSV file of generated clicks) loaded into a
# throwaway PostgreSQL server (a) by `sluice run` into an append table (binary COPY), (b) by
# `sluice run` into an upsert table (primary_key; COPY into staging + INSERT ... ON
# CONFLICT), and (c) by `psql \copy` of the CSV file, the ceiling. Runs are interleaved
# (a b c a b c ...), each into a freshly truncated table; medians of wall time and rows/s,
# and the ratios to psql \copy, are printed.
#
# usage: bench/postgres_sink.sh [RUNS (5)] [ROWS (2000000)] [SLUICE (build/sluice)]
# needs: the postgresql server package (initdb, pg_ctl, psql), GNU time, awk.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # runuser (util-linux)
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${1:-5}"
ROWS="${2:-2000000}"
SLUICE="$(realpath "${3:-$HERE/../build/sluice}")"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
WORK="$(mktemp -d /tmp/sluice-pgbench-XXXXXX)"
PORT=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-60999)
AS=""
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$WORK"; AS="runuser -u postgres --"; fi
cleanup() { $AS "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
$AS "$BIN/initdb" -N -D "$WORK/data" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
$AS "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
DSN="postgresql://postgres@127.0.0.1:$PORT/postgres"
PSQL=(psql -q -v ON_ERROR_STOP=1 "$DSN")
cd "$WORK"

# The rows: generated clicks as CSV (no header), made once.
cat > gen.sql <<SQL
CREATE TABLE gen (user_id BIGINT, page TEXT, ts TIMESTAMP, event_type TEXT, amount DOUBLE)
  WITH (connector = 'generator', seed = '42', events = '$ROWS', users = '100000', pages = '1000');
CREATE TABLE rows_csv () WITH (connector = 'file', path = 'rows.csv', format = 'csv', header = 'false');
INSERT INTO rows_csv SELECT * FROM gen;
SQL
"$SLUICE" run -q gen.sql
COLS="user_id BIGINT, page TEXT, ts TIMESTAMPTZ, event_type TEXT, amount DOUBLE PRECISION"
"${PSQL[@]}" -c "CREATE TABLE by_psql ($COLS); CREATE TABLE by_copy ($COLS);
  CREATE TABLE by_upsert ($COLS, UNIQUE NULLS NOT DISTINCT (user_id, ts, page))"
job() {  # $1: table, $2: extra options
  cat <<SQL
CREATE TABLE src (user_id BIGINT, page TEXT, ts TIMESTAMP, event_type TEXT, amount DOUBLE)
  WITH (connector = 'file', path = 'rows.csv', format = 'csv', header = 'false');
CREATE TABLE dst (user_id BIGINT, page TEXT, ts TIMESTAMP, event_type TEXT, amount DOUBLE)
  WITH (connector = 'postgres', dsn = '$DSN', table = '$1'$2);
INSERT INTO dst SELECT * FROM src;
SQL
}
job by_copy "" > copy.sql
job by_upsert ", primary_key = 'user_id,ts,page'" > upsert.sql

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
: > times.txt
for run in $(seq 1 "$RUNS"); do
  for what in copy upsert psql; do
    table="by_$what"
    "${PSQL[@]}" -c "TRUNCATE $table; CHECKPOINT"
    if [ "$what" = psql ]; then
      /usr/bin/time -f "psql %e" -a -o times.txt "${PSQL[@]}" -c "\\copy by_psql FROM 'rows.csv' WITH (FORMAT csv)"
    else
      /usr/bin/time -f "$what %e" -a -o times.txt "$SLUICE" run -q "$what.sql"
    fi
    n=$("${PSQL[@]}" -At -c "SELECT count(*) FROM $table")
    # An upsert keeps one row per key (user_id, ts, page): at most ROWS.
    if [ "$what" != upsert ] && [ "$n" -ne "$ROWS" ]; then echo "$table holds $n rows, expected $ROWS" >&2; exit 1; fi
  done
done
for what in psql copy upsert; do
  wall=$(awk -v w="$what" '$1 == w {print $2}' times.txt | median)
  echo "$what: median wall ${wall}s, $(awk -v s="$wall" -v n="$ROWS" 'BEGIN {printf "%.0f", n / s}') rows/s"
done
p=$(awk '$1 == "psql" {print $2}' times.txt | median)
for what in copy upsert; do
  w=$(awk -v x="$what" '$1 == x {print $2}' times.txt | median)
  echo "sluice $what / psql \\copy rows/s: $(awk -v a="$w" -v b="$p" 'BEGIN {printf "%.2f", b / a}')"
done
