-- A window top-N over TUMBLE rows emits each window once, when it closes: it cannot update
-- a window for late-but-allowed rows, so allowed_lateness is refused with a clear error.
CREATE TABLE src (k BIGINT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts', allowed_lateness = '5 seconds');
CREATE TABLE out (window_start TIMESTAMP, rn BIGINT, v BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/top.db', primary_key = 'window_start,rn');
INSERT INTO out SELECT window_start, rn, v FROM (SELECT window_start, window_end, v,
  ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY v DESC) AS rn
  FROM TUMBLE(src, ts, INTERVAL '10 seconds')) AS r WHERE rn <= 3;
