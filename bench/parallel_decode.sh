#!/usr/bin/env bash
# Parallel decoding benchmark: one 10M-line JSON clickstream file, 1-minute TUMBLE with
# COUNT(*) and COUNT(DISTINCT user_id) per page into the blackhole sink, at -p 1 and -p 2
# (the decode threads follow --parallelism). Runs are interleaved (p1 p2 p1 p2 ...) and the
# medians of wall time, events/s and their ratio are printed; then both parallelisms write
# the windows to a file and the two outputs are compared byte for byte.
#
# usage: bench/parallel_decode.sh [RUNS (5)] [SLUICE (build/sluice)] [WORKDIR (/tmp/sluice-bench)]
# needs: bash, GNU time (/usr/bin/time), awk, cmp, sort.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${1:-5}"
SLUICE="$(realpath "${2:-$HERE/../build/sluice}")"
WORK="${3:-/tmp/sluice-bench}"
EVENTS=10000000
mkdir -p "$WORK"
cd "$WORK"

# 1. The input: 10M JSON lines from the deterministic clickstream generator (made once).
if [ ! -s clicks.jsonl ] || [ "$(wc -l < clicks.jsonl)" -ne "$EVENTS" ]; then
  rm -f clicks.jsonl
  cat > generate.sql <<EOF
CREATE TABLE gen (user_id BIGINT, page TEXT, ts TIMESTAMP, event_type TEXT, device TEXT, country TEXT,
                  session_id TEXT, amount DOUBLE)
  WITH (connector = 'generator', seed = '42', events = '$EVENTS', users = '100000', pages = '1000',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds', timestamp_format = 'epoch_ms');
CREATE TABLE clicks_file () WITH (connector = 'file', path = 'clicks.jsonl', format = 'json');
INSERT INTO clicks_file SELECT * FROM gen;
EOF
  "$SLUICE" run -q generate.sql
fi

# 2. The job, into the blackhole sink (timed) or a file (the output check).
job() {  # $1: sink options
  cat <<EOF
CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'file', path = 'clicks.jsonl', format = 'json', event_time = 'ts',
        watermark_delay = '5 seconds');
CREATE TABLE per_page (window_start TIMESTAMP, window_end TIMESTAMP, page TEXT, clicks BIGINT, users BIGINT)
  WITH ($1);
INSERT INTO per_page
SELECT window_start, window_end, page, COUNT(*) AS clicks, COUNT(DISTINCT user_id) AS users
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
GROUP BY window_start, window_end, page;
EOF
}
job "connector = 'blackhole'" > blackhole.sql

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

: > times.txt
for run in $(seq 1 "$RUNS"); do
  for p in 1 2; do
    /usr/bin/time -f "$p %e %U %S" -a -o times.txt "$SLUICE" run -q -p "$p" blackhole.sql
  done
done
for p in 1 2; do
  wall=$(awk -v p="$p" '$1 == p {print $2}' times.txt | median)
  cpu=$(awk -v p="$p" '$1 == p {print $3 + $4}' times.txt | median)
  echo "p$p: median wall ${wall}s, $(awk -v w="$wall" -v e="$EVENTS" 'BEGIN {printf "%.2f", e / w / 1e6}') M events/s, median CPU ${cpu}s"
done
# Ratio of the medians, and the median of the per-pair ratios (p1 wall / p2 wall).
awk '$1 == 1 {a[++i] = $2} $1 == 2 {b[++j] = $2} END {for (k = 1; k <= i; ++k) print a[k] / b[k]}' times.txt \
  | median | xargs printf 'median per-pair speed-up p2 vs p1: %.2fx\n'

# 3. Identical output at -p 1 and -p 2.
for p in 1 2; do
  rm -rf "out-p$p" && mkdir "out-p$p"
  job "connector = 'file', path = 'out-p$p/per_page.jsonl'" > "file-p$p.sql"
  "$SLUICE" run -q -p "$p" "file-p$p.sql"
done
if cmp -s out-p1/per_page.jsonl out-p2/per_page.jsonl; then
  echo "output identical at -p 1 and -p 2 ($(wc -l < out-p1/per_page.jsonl) window rows)"
else
  echo "OUTPUT DIFFERS between -p 1 and -p 2" >&2
  exit 1
fi
