#!/usr/bin/env bash
# HTTP ingest benchmark: EVENTS JSON clicks POSTed as NDJSON bodies of BATCH events by
# CLIENTS concurrent keep-alive clients (bench/http_ingest_client.py, Python stdlib) to an
# `http` source table whose job writes them to a file sink. Interleaved RUNS times each:
#   http-acked    events/s until every request was answered 202 (durable in the log)
#   http-e2e      events/s until every event was in the output file
#   file-source   the same events read from an NDJSON file by the `file` source into the
#                 same sink (the job's own cost, without HTTP and the log)
# The log is in `wal_dir` (no checkpoints: the file sink then writes one file, whose lines
# the client counts). Prints the median of each. The output must hold exactly EVENTS lines
# every run.
#
# usage: bench/http_ingest.sh [RUNS (5)] [EVENTS (1000000)] [BATCH (1000)] [CLIENTS (4)] [SLUICE (build/sluice)] [WORKDIR (/tmp/sluice-http-bench)]
# needs: bash, python3, curl, awk, sort.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${1:-5}"
EVENTS="${2:-1000000}"
BATCH="${3:-1000}"
CLIENTS="${4:-4}"
SLUICE="$(realpath "${5:-$HERE/../build/sluice}")"
WORK="${6:-/tmp/sluice-http-bench}"
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
COLUMNS="user_id BIGINT, page TEXT, ts TIMESTAMP, event_type TEXT"
cat > http.sql <<EOF
CREATE TABLE clicks ($COLUMNS)
  WITH (connector = 'http', listen = '127.0.0.1:$PORT', path = '/events', wal_dir = 'wal');
CREATE TABLE out ($COLUMNS) WITH (connector = 'file', path = 'out.jsonl');
INSERT INTO out SELECT * FROM clicks;
EOF
cat > file.sql <<EOF
CREATE TABLE clicks ($COLUMNS) WITH (connector = 'file', path = 'in.ndjson');
CREATE TABLE out ($COLUMNS) WITH (connector = 'file', path = 'out.jsonl');
INSERT INTO out SELECT * FROM clicks;
EOF
python3 - "$EVENTS" > in.ndjson <<'EOF'
import sys
for i in range(int(sys.argv[1])):
    print('{"user_id":%d,"page":"/product/%d","ts":%d,"event_type":"view"}' % (i % 100000, i % 1000, 1704067200000 + i * 10))
EOF

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
SLUICE_PID=""
trap '[ -n "$SLUICE_PID" ] && kill "$SLUICE_PID" 2>/dev/null || true' EXIT

: > times.txt
for run in $(seq 1 "$RUNS"); do
  rm -rf wal out.jsonl
  "$SLUICE" run -q http.sql > http.log 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/events")" = 405 ] && break
    sleep 0.1
  done
  read -r acked e2e busy < <(python3 "$HERE/http_ingest_client.py" "$PORT" /events "$EVENTS" "$BATCH" "$CLIENTS" out.jsonl)
  kill -INT "$SLUICE_PID"
  wait "$SLUICE_PID"
  SLUICE_PID=""
  lines=$(wc -l < out.jsonl)
  [ "$lines" -eq "$EVENTS" ] || { echo "run $run: the output has $lines lines, not $EVENTS" >&2; exit 1; }
  echo "http-acked $acked $busy" >> times.txt
  echo "http-e2e $e2e $busy" >> times.txt

  rm -f out.jsonl
  start=$(date +%s.%N)
  "$SLUICE" run -q file.sql > file.log 2>&1
  end=$(date +%s.%N)
  lines=$(wc -l < out.jsonl)
  [ "$lines" -eq "$EVENTS" ] || { echo "run $run: the file job wrote $lines lines, not $EVENTS" >&2; exit 1; }
  echo "file-source $(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}') 0" >> times.txt
done

echo "events=$EVENTS batch=$BATCH clients=$CLIENTS runs=$RUNS (median)"
for kind in http-acked http-e2e file-source; do
  t=$(awk -v k="$kind" '$1 == k {print $2}' times.txt | median)
  busy=$(awk -v k="$kind" '$1 == k {s += $3} END {print s + 0}' times.txt)
  awk -v k="$kind" -v t="$t" -v n="$EVENTS" -v b="$busy" \
    'BEGIN {printf "%-12s %8.3f s %12.0f events/s   (429/503 answers over all runs: %d)\n", k, t, n / t, b}'
done
