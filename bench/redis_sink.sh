#!/usr/bin/env bash
# Redis sink benchmark: N rows with distinct keys written by `sluice run` into a throwaway
# redis-server (data_type 'string': one SET per row, batches in MULTI/EXEC, pipelined),
# beside `redis-benchmark -t set -P 64` (pipelined SETs of N random keys) on the same
# server, the yardstick. Runs are interleaved, medians of writes/s and their ratio printed.
#
# usage: bench/redis_sink.sh [RUNS (5)] [ROWS (1000000)] [SLUICE (build/sluice)]
# needs: redis-server, redis-benchmark, redis-cli, GNU time.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${1:-5}"
ROWS="${2:-1000000}"
SLUICE="$(realpath "${3:-$HERE/../build/sluice}")"
WORK="$(mktemp -d /tmp/sluice-redisbench-XXXXXX)"
PORT=$((20000 + RANDOM % 12000))  # below the ephemeral range (32768-60999)
cleanup() { redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --save '' --appendonly no --daemonize yes \
  --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
cd "$WORK"
# The rows: generated clicks keyed by (user_id, ts) (distinct for these settings), written as
# JSON strings.
cat > job.sql <<SQL
CREATE TABLE gen (user_id BIGINT, page TEXT, ts TIMESTAMP, event_type TEXT, amount DOUBLE)
  WITH (connector = 'generator', seed = '42', events = '$ROWS', users = '100000', pages = '1000');
CREATE TABLE out (user_id BIGINT, ts TIMESTAMP, page TEXT, amount DOUBLE)
  WITH (connector = 'redis', url = 'redis://127.0.0.1:$PORT/0', primary_key = 'user_id,ts',
        data_type = 'string', key_prefix = 'k:');
INSERT INTO out SELECT user_id, ts, page, amount FROM gen;
SQL
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
: > times.txt
for run in $(seq 1 "$RUNS"); do
  redis-cli -p "$PORT" flushall >/dev/null
  /usr/bin/time -f "sluice %e" -a -o times.txt "$SLUICE" run -q job.sql
  keys=$(redis-cli -p "$PORT" dbsize)
  echo "$keys" >> keys.txt
  redis-cli -p "$PORT" flushall >/dev/null
  /usr/bin/time -f "bench %e" -a -o times.txt redis-benchmark -p "$PORT" -q -t set -n "$ROWS" -r "$ROWS" -P 64 -d 60 >/dev/null
done
keys=$(median < keys.txt)
s=$(awk '$1 == "sluice" {print $2}' times.txt | median)
b=$(awk '$1 == "bench" {print $2}' times.txt | median)
echo "sluice: $keys keys from $ROWS rows, median wall ${s}s, $(awk -v n="$ROWS" -v t="$s" 'BEGIN {printf "%.0f", n / t}') writes/s (whole job: generating, encoding, writing)"
echo "redis-benchmark -P 64: median wall ${b}s, $(awk -v n="$ROWS" -v t="$b" 'BEGIN {printf "%.0f", n / t}') SET/s"
echo "sluice / redis-benchmark writes/s: $(awk -v a="$s" -v b="$b" 'BEGIN {printf "%.2f", b / a}')"
