#!/usr/bin/env bash
# PostgreSQL CDC source benchmark: a table of N rows (REPLICA IDENTITY FULL) in a throwaway
# PostgreSQL server; a `sluice run` job reads it with connector = 'postgres-cdc' into a
# blackhole-like changelog file; then one bulk `UPDATE t SET v = v + 1` (N changes, 2N
# changelog rows: -U and +U) is timed (a) as the server runs it, (b) until the job has
# written all its rows, and (c) as the server's own logical decoding of it
# (pg_logical_slot_get_binary_changes with pgoutput on a second slot: the ceiling of any
# pgoutput client). Rounds are repeated; medians of changes/s are printed: `sluice` from the
# start of the UPDATE to the last row written, `after_commit` from its commit (changes are
# streamed only once a transaction commits).
#
# usage: bench/postgres_cdc.sh [RUNS (3)] [ROWS (500000)] [SLUICE (build/sluice)]
# needs: the postgresql server package (initdb, pg_ctl, psql), awk.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"  # runuser (util-linux)
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${1:-3}"
ROWS="${2:-500000}"
SLUICE="$(realpath "${3:-$HERE/../build/sluice}")"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
WORK="$(mktemp -d /tmp/sluice-cdcbench-XXXXXX)"
PORT=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-60999)
AS=""
JOB=0
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$WORK"; AS="runuser -u postgres --"; fi
cleanup() {
  if [ "$JOB" -gt 0 ]; then kill "$JOB" 2>/dev/null || true; wait "$JOB" 2>/dev/null || true; fi
  $AS "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
$AS "$BIN/initdb" -N -D "$WORK/data" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
$AS "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/log" -w -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c wal_level=logical -c max_wal_size=4GB" start >/dev/null
DSN="postgresql://postgres@127.0.0.1:$PORT/postgres"
PSQL=(psql -q -v ON_ERROR_STOP=1 "$DSN")
cd "$WORK"
now() { date +%s.%N; }
"${PSQL[@]}" -c "CREATE TABLE t (id INT PRIMARY KEY, v BIGINT, name TEXT); ALTER TABLE t REPLICA IDENTITY FULL;
  INSERT INTO t SELECT i, i, 'name ' || i FROM generate_series(1, $ROWS) i;
  CREATE PUBLICATION pub FOR TABLE t"
cat > job.sql <<SQL
CREATE TABLE t (id BIGINT, v BIGINT, name TEXT)
  WITH (connector = 'postgres-cdc', dsn = '$DSN', slot_name = 'bench', publication = 'pub');
CREATE TABLE out (id BIGINT, v BIGINT, name TEXT) WITH (connector = 'file', path = 'out.jsonl', changelog = 'true');
INSERT INTO out SELECT * FROM t;
SQL
"$SLUICE" run -q job.sql > job.log 2>&1 &
JOB=$!
# Lines the job has written (a plain file sink flushes as it goes).
lines() { if [ -f out.jsonl ]; then wc -l < out.jsonl; else echo 0; fi; }
wait_lines() {  # $1: count
  while [ "$(lines)" -lt "$1" ]; do
    if ! kill -0 "$JOB" 2>/dev/null; then cat job.log >&2; echo "the job ended" >&2; exit 1; fi
    sleep 0.05
  done
}
wait_lines "$ROWS"  # the snapshot
want=$ROWS
: > rates.txt
for run in $(seq 1 "$RUNS"); do
  "${PSQL[@]}" -c "SELECT pg_create_logical_replication_slot('ceiling', 'pgoutput')" >/dev/null
  t0=$(now)
  "${PSQL[@]}" -c "UPDATE t SET v = v + 1"
  t1=$(now)
  want=$((want + 2 * ROWS))
  wait_lines "$want"
  t2=$(now)
  t3=$(now)
  "${PSQL[@]}" -At -c "SELECT count(*) FROM pg_logical_slot_get_binary_changes('ceiling', NULL, NULL, 'proto_version', '1', 'publication_names', 'pub')" >/dev/null
  t4=$(now)
  "${PSQL[@]}" -c "SELECT pg_drop_replication_slot('ceiling')" >/dev/null
  awk -v n="$ROWS" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" 'BEGIN {
    printf "update %.0f\nsluice %.0f\nafter_commit %.0f\ndecoding %.0f\n", n / (b - a), n / (c - a), n / (c - b),
      n / (e - d) }' >> rates.txt
done
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
for what in update decoding sluice after_commit; do
  r=$(awk -v w="$what" '$1 == w {print $2}' rates.txt | median)
  echo "$what: median $r changes/s"
done
s=$(awk '$1 == "after_commit" {print $2}' rates.txt | median)
d=$(awk '$1 == "decoding" {print $2}' rates.txt | median)
echo "sluice after commit / server decoding: $(awk -v a="$s" -v b="$d" 'BEGIN {printf "%.2f", a / b}')"
