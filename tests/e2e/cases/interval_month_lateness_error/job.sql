-- An allowed lateness of a year: durations must be exact.
SET allowed_lateness = '1 year';
CREATE TABLE t (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT window_start, COUNT(*) AS n FROM TUMBLE(t, ts, INTERVAL '1' DAY) GROUP BY window_start;
