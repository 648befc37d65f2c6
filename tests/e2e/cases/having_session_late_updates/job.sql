-- HAVING over SESSION windows whose fired sessions change with late-but-allowed rows: a
-- session that stops qualifying is deleted (-D), one that qualifies for the first time or
-- again is inserted (+I), and a session merged into another is retracted under its old start.
CREATE TABLE t (k TEXT, v BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts', watermark_delay = '0 seconds',
        allowed_lateness = '1 minute');
CREATE TABLE out (k TEXT, window_start TIMESTAMP, window_end TIMESTAMP, total BIGINT)
  WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
INSERT INTO out
SELECT k, window_start, window_end, SUM(v) AS total
FROM SESSION(t, ts, INTERVAL '10 seconds')
GROUP BY k, window_start, window_end
HAVING SUM(v) >= 5;
