-- Percentiles per minute: PERCENTILE (and PostgreSQL's percentile_cont ... WITHIN GROUP)
-- is exact and interpolates between the two closest ranks; APPROX_PERCENTILE is a DDSketch
-- within 1% (relative) of the value of rank floor(p * (n - 1)), rounded here so the
-- expected output does not depend on the last bit of exp(). NULL latencies are skipped.
-- APPROX_COUNT_DISTINCT is exact on small sets.
CREATE TABLE requests (ts TIMESTAMP, endpoint TEXT, latency_ms DOUBLE)
  WITH (connector = 'file', path = '{DIR}/requests.jsonl', event_time = 'ts');
CREATE TABLE latency WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'window_start') AS
SELECT window_start,
       COUNT(latency_ms) AS n,
       PERCENTILE(latency_ms, 0.5) AS p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY latency_ms) AS p90,
       PERCENTILE(latency_ms, 1) AS p100,
       round(APPROX_PERCENTILE(latency_ms, 0.5), 1) AS approx_p50,
       round(APPROX_PERCENTILE(latency_ms, 0.99), 1) AS approx_p99,
       APPROX_COUNT_DISTINCT(endpoint) AS endpoints,
       PERCENTILE(latency_ms, 0.5) FILTER (WHERE endpoint = '/api/a') AS p50_a
FROM TUMBLE(requests, ts, INTERVAL '1 minute')
GROUP BY window_start, window_end;
