#!/usr/bin/env bash
# Time-bounded joins as whole jobs: two generated clickstreams (EVENTS events each, 10 ms of
# event time apart, 5% out of order within 2 s, 10,000 users) joined by user into the
# blackhole sink, at -p 1:
#   interval  a JOIN b ON a.user_id = b.user_id AND b.ts BETWEEN a.ts - 1 s AND a.ts + 1 s
#   window    TUMBLE(a, 10 s) JOIN TUMBLE(b, 10 s) ON window_start, window_end, user_id
#   (both also as LEFT JOIN). The sources decode the generator's JSON lines, so a job's CPU
# includes JSON decoding; build/bench/time_join_benchmark measures the join operators alone.
# Runs are interleaved; medians of wall time, input events/s and input events per
# CPU-second (user + sys of the whole process) are printed.
#
# usage: bench/time_join.sh [RUNS (5)] [EVENTS per side (2000000)] [SLUICE (build/sluice)]
# needs: bash, GNU time (/usr/bin/time), awk, sort.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${1:-5}"
EVENTS="${2:-2000000}"
SLUICE="$(realpath "${3:-$HERE/../build/sluice}")"
WORK="$(mktemp -d /tmp/sluice-time-join.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

tables() {
  for t in a b; do
    seed=$([ "$t" = a ] && echo 1 || echo 2)
    cat <<EOF
CREATE TABLE $t (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '$seed', events = '$EVENTS', users = '10000', pages = '1000',
        out_of_order = '0.05', max_out_of_orderness = '2 seconds', event_time = 'ts', watermark_delay = '2 seconds');
EOF
  done
  echo "CREATE TABLE out (u BIGINT, p1 TEXT, p2 TEXT, ts TIMESTAMP) WITH (connector = 'blackhole');"
}
for kind in JOIN "LEFT JOIN"; do
  name=$([ "$kind" = JOIN ] && echo inner || echo left)
  { tables; echo "INSERT INTO out SELECT a.user_id, a.page, b.page, b.ts FROM a $kind b ON a.user_id = b.user_id
      AND b.ts BETWEEN a.ts - INTERVAL '1' SECOND AND a.ts + INTERVAL '1' SECOND;"; } > "interval_$name.sql"
  { tables; echo "INSERT INTO out SELECT L.user_id, L.page, R.page, R.ts
      FROM TUMBLE(a, ts, INTERVAL '10' SECOND) AS L $kind TUMBLE(b, ts, INTERVAL '10' SECOND) AS R
      ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.user_id = R.user_id;"; } > "window_$name.sql"
done
JOBS="interval_inner interval_left window_inner window_left"
for job in $JOBS; do
  "$SLUICE" explain "$job.sql" | grep -q -E 'interval_join|window_join' || { echo "$job: not a time-bounded join" >&2; exit 1; }
done

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
: > times.txt
for run in $(seq 1 "$RUNS"); do
  for job in $JOBS; do
    /usr/bin/time -f "$job %e %U %S" -a -o times.txt "$SLUICE" run -q -p 1 "$job.sql"
  done
done
total=$((2 * EVENTS))
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs, $total input events per job"
for job in $JOBS; do
  wall=$(awk -v j="$job" '$1 == j {print $2}' times.txt | median)
  cpu=$(awk -v j="$job" '$1 == j {print $3 + $4}' times.txt | median)
  awk -v j="$job" -v w="$wall" -v c="$cpu" -v e="$total" \
    'BEGIN {printf "%-15s median wall %6.2fs  %5.2f M events/s  CPU %6.2fs  %5.2f M events per CPU-second\n", j, w, e / w / 1e6, c, e / c / 1e6}'
done
