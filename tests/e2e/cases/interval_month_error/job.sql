-- A month has no fixed length: a window of INTERVAL '1' MONTH is refused at planning time
-- (Sluice intervals are exact durations) instead of being read as some number of seconds.
CREATE TABLE t (ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT window_start, COUNT(*) AS n
FROM TUMBLE(t, ts, INTERVAL '1' MONTH) GROUP BY window_start;
