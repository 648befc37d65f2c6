#!/usr/bin/env bash
# Scoring latency: generated events at 100,000/s offered load (the generator's `rate`), each
# scored by an HTTP/JSON model server over loopback (build/sluice-model-server, micro-batches
# of up to 64 rows per call), a decision rule, and the decisions written to a JSON-lines file
# flushed after every batch (sink.flush_interval = '0s'). Reports p50/p99/p999 of the
# end-to-end latency histogram sluice_sink_ingest_latency_seconds (from the source's poll
# that read an event to its decision written), taken from /metrics over a steady window
# after a warm-up (the difference of two scrapes; quantiles interpolated within buckets as
# Prometheus' histogram_quantile does), plus the achieved input rate and the fallbacks
# (must be 0). Several runs, medians.
#
# usage: bench/scoring_latency.sh [RUNS (5)] [SECONDS measured (10)]
#   env: BUILD_DIR (build), RATE (100000), SCORE_BATCH (64), MAX_IN_FLIGHT (16)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
RUNS=${1:-5}
MEASURE=${2:-10}
RATE=${RATE:-100000}
SCORE_BATCH=${SCORE_BATCH:-64}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-16}
WARMUP=3
SLUICE=$PWD/$BUILD/sluice
SERVER=$PWD/$BUILD/sluice-model-server
[ -x "$SLUICE" ] && [ -x "$SERVER" ] || { echo "build sluice and sluice-model-server first (scripts/build.sh)" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
job_pid=""
cleanup() {
  [ -n "$job_pid" ] && kill "$job_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$SERVER" --port 0 > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.05; done
model_port=$(sed -n 's/listening on \([0-9]*\)/\1/p' "$work/server.log")

cat > "$work/job.sql" <<EOF
CREATE TABLE clicks (user_id BIGINT, page TEXT, event_type TEXT, ts TIMESTAMP)
  WITH (connector = 'generator', seed = '42', rate = '$RATE', users = '100000');
CREATE TABLE decisions (user_id BIGINT, page TEXT, ts TIMESTAMP, score DOUBLE, model_version TEXT,
                        decision TEXT, ingested_at TIMESTAMP, decided_at TIMESTAMP)
  WITH (connector = 'file', path = 'decisions.jsonl', format = 'json', sink.flush_interval = '0s');
CREATE VIEW scored AS
SELECT user_id, page, event_type, ts,
       score(url => 'http://127.0.0.1:$model_port/score', timeout => INTERVAL '200 milliseconds',
             batch_size => $SCORE_BATCH, max_in_flight => $MAX_IN_FLIGHT,
             fallback => '{"score": 0, "model_version": "fallback"}') AS response,
       ingest_time() AS ingested_at, decision_time() AS decided_at
FROM clicks;
INSERT INTO decisions
SELECT user_id, page, ts, CAST(response ->> 'score' AS DOUBLE), response ->> 'model_version',
       CASE WHEN event_type = 'purchase' AND user_id % 97 = 0 THEN 'review' ELSE 'approve' END,
       ingested_at, decided_at
FROM scored;
EOF

scrape() { curl -s "http://127.0.0.1:$1/metrics"; }

summaries=()
for run in $(seq "$RUNS"); do
  rm -f "$work/decisions.jsonl" "$work/job.log"
  (cd "$work" && exec "$SLUICE" run -q --http 127.0.0.1:0 job.sql) > "$work/job.log" 2>&1 &
  job_pid=$!
  http_port=""
  for _ in $(seq 200); do
    http_port=$(sed -n 's/.*serving http:\/\/[0-9.]*:\([0-9]*\).*/\1/p' "$work/job.log" | head -1)
    [ -n "$http_port" ] && break
    sleep 0.05
  done
  [ -n "$http_port" ] || { cat "$work/job.log" >&2; exit 1; }
  sleep "$WARMUP"
  scrape "$http_port" > "$work/m1.txt"
  sleep "$MEASURE"
  scrape "$http_port" > "$work/m2.txt"
  kill -INT "$job_pid"; wait "$job_pid" || true; job_pid=""
  summary=$(python3 - "$work/m1.txt" "$work/m2.txt" "$MEASURE" <<'PY'
import re, sys
def parse(path):
    buckets, values = {}, {}
    for line in open(path):
        if line.startswith('#'): continue
        m = re.match(r'(\w+)\{([^}]*)\} (\S+)', line)
        if not m: continue
        name, labels, v = m.group(1), m.group(2), float(m.group(3))
        if name == 'sluice_sink_ingest_latency_seconds_bucket' and 'sink="decisions"' in labels:
            le = re.search(r'le="([^"]+)"', labels).group(1)
            buckets[float('inf') if le == '+Inf' else float(le)] = v
        else:
            values[name] = values.get(name, 0) + v
    return buckets, values
b1, v1 = parse(sys.argv[1]); b2, v2 = parse(sys.argv[2]); secs = float(sys.argv[3])
bounds = sorted(b2)
cum = [b2[b] - b1.get(b, 0) for b in bounds]
total = cum[-1]
def q(p):
    rank = p * total
    prev_b, prev_c = 0.0, 0.0
    for b, c in zip(bounds, cum):
        if c >= rank:
            if b == float('inf'): return prev_b
            return prev_b + (b - prev_b) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 0)
        prev_b, prev_c = b, c
    return bounds[-2]
rate = (v2.get('sluice_source_records_total', 0) - v1.get('sluice_source_records_total', 0)) / secs
fb = v2.get('sluice_scoring_fallbacks_total', 0) - v1.get('sluice_scoring_fallbacks_total', 0)
calls = (v2.get('sluice_scoring_calls_total', 0) - v1.get('sluice_scoring_calls_total', 0)) / secs
print(f"{rate:.0f} {total:.0f} {q(0.5)*1000:.2f} {q(0.99)*1000:.2f} {q(0.999)*1000:.2f} {calls:.0f} {fb:.0f}")
PY
)
  read -r rate rows p50 p99 p999 calls fallbacks <<<"$summary"
  echo "run $run: input $rate events/s, $rows decisions measured, p50 $p50 ms, p99 $p99 ms, p999 $p999 ms, $calls calls/s, fallbacks $fallbacks (load $(cut -d' ' -f1 /proc/loadavg))"
  summaries+=("$summary")
done
printf '%s\n' "${summaries[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
print(f"median of {len(rows)} runs: input {med[0]:.0f} events/s, p50 {med[2]:.2f} ms, p99 {med[3]:.2f} ms, p999 {med[4]:.2f} ms, {med[5]:.0f} calls/s, fallbacks {med[6]:.0f}")'
