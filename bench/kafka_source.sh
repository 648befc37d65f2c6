#!/usr/bin/env bash
# Kafka benchmark against librdkafka's mock cluster (`sluice kafka-mock`, the real Kafka
# protocol on loopback; no broker is installable here). One topic of 8 partitions holds
# EVENTS JSON clicks produced by kcat; then, interleaved RUNS times each:
#   kcat-consume   kcat reads the whole topic (the ceiling: librdkafka without decoding)
#   source         Kafka source (bounded_mode = 'latest') -> JSON decode -> blackhole sink
#   passthrough    Kafka source -> Kafka sink (at-least-once), the issue's pass-through
#   windowed       Kafka source -> 1-minute TUMBLE COUNT per page -> Kafka sink
# and prints the median wall time, events/s and events per CPU-second of each (the sluice
# and kcat processes' own CPU; the mock cluster runs in another process, the same for all).
# Every sluice run must read exactly EVENTS records (checked in its summary).
#
# usage: bench/kafka_source.sh [RUNS (5)] [EVENTS (200000)] [SLUICE (build/sluice)] [WORKDIR (/tmp/sluice-kafka-bench)]
# needs: bash, kcat, GNU time (/usr/bin/time), awk, sort. The mock keeps about 5 MB per
# partition: EVENTS above about 300,000 (8 partitions) lose their oldest messages, which
# the record-count check reports.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RUNS="${1:-5}"
EVENTS="${2:-200000}"
SLUICE="$(realpath "${3:-$HERE/../build/sluice}")"
WORK="${4:-/tmp/sluice-kafka-bench}"
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"

# 1. The mock cluster (one broker: the CPU goes to the clients, not to replication).
"$SLUICE" kafka-mock --brokers 1 --topic clicks:8 > mock.txt &
MOCK=$!
trap 'kill "$MOCK" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ "$(wc -l < mock.txt)" -ge 2 ] && break; sleep 0.1; done
BOOTSTRAP="$(head -n 1 mock.txt)"

# 2. The input: EVENTS keyed JSON clicks from the deterministic generator, produced by kcat.
cat > generate.sql <<EOF
CREATE TABLE gen (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '42', events = '$EVENTS', users = '100000', pages = '1000',
        out_of_order = '0.05', max_out_of_orderness = '5 seconds', timestamp_format = 'epoch_ms');
CREATE TABLE clicks_file () WITH (connector = 'file', path = 'clicks.jsonl', format = 'json');
INSERT INTO clicks_file SELECT * FROM gen;
EOF
"$SLUICE" run -q generate.sql
awk '{ match($0, /"user_id":[0-9]+/); print substr($0, RSTART + 10, RLENGTH - 10) "\t" $0 }' clicks.jsonl > keyed.txt
/usr/bin/time -f "%e %U %S" -o produce.txt kcat -P -b "$BOOTSTRAP" -t clicks -K '\t' -l keyed.txt
BYTES=$(wc -c < clicks.jsonl)

source_table="CREATE TABLE clicks (user_id BIGINT, page TEXT, ts TIMESTAMP)
  WITH (connector = 'kafka', topic = 'clicks', bootstrap_servers = '$BOOTSTRAP', bounded_mode = 'latest',
        event_time = 'ts', watermark_delay = '5 seconds');"
cat > source.sql <<EOF
$source_table
CREATE TABLE sink (user_id BIGINT, page TEXT, ts TIMESTAMP) WITH (connector = 'blackhole');
INSERT INTO sink SELECT * FROM clicks;
EOF
sink_table() {  # $1: table, $2: columns, $3: topic, $4: key column
  echo "CREATE TABLE $1 ($2) WITH (connector = 'kafka', topic = '$3', bootstrap_servers = '$BOOTSTRAP', key = '$4');"
}
cat > passthrough.sql <<EOF
$source_table
$(sink_table out "user_id BIGINT, page TEXT, ts TIMESTAMP" passthrough user_id)
INSERT INTO out SELECT * FROM clicks;
EOF
cat > windowed.sql <<EOF
$source_table
$(sink_table out "window_start TIMESTAMP, page TEXT, views BIGINT" windowed page)
INSERT INTO out SELECT window_start, page, COUNT(*) AS views
FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start, window_end, page;
EOF

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# 3. Interleaved runs. A sluice run's summary must show EVENTS records read.
: > times.txt
for run in $(seq 1 "$RUNS"); do
  /usr/bin/time -f "kcat-consume %e %U %S" -a -o times.txt \
    kcat -C -b "$BOOTSTRAP" -t clicks -o beginning -e -q > consumed.txt
  got=$(wc -l < consumed.txt)
  [ "$got" -eq "$EVENTS" ] || { echo "kcat read $got messages, not $EVENTS (the mock dropped some?)" >&2; exit 1; }
  for job in source passthrough windowed; do
    /usr/bin/time -f "$job %e %U %S" -a -o times.txt "$SLUICE" run "$job.sql" > "$job.log" 2>&1
    grep -q "source clicks\[0\]: $EVENTS records, 0 dead-lettered" "$job.log" \
      || { echo "$job did not read $EVENTS records:" >&2; cat "$job.log" >&2; exit 1; }
  done
done

read -r pw pu ps < produce.txt
printf 'kcat produce (once): %.2fs, %.0f events/s (%d events, %d bytes of JSON)\n' "$pw" \
  "$(awk -v w="$pw" -v e="$EVENTS" 'BEGIN {print e / w}')" "$EVENTS" "$BYTES"
for what in kcat-consume source passthrough windowed; do
  wall=$(awk -v w="$what" '$1 == w {print $2}' times.txt | median)
  cpu=$(awk -v w="$what" '$1 == w {print $3 + $4}' times.txt | median)
  printf '%-13s median wall %6.2fs  %9.0f events/s  %9.0f events/CPU-s\n' "$what" "$wall" \
    "$(awk -v w="$wall" -v e="$EVENTS" 'BEGIN {print e / w}')" \
    "$(awk -v c="$cpu" -v e="$EVENTS" 'BEGIN {print (c > 0) ? e / c : 0}')"
done
