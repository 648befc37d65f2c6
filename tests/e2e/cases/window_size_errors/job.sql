-- A zero or negative window size or session gap is refused with a positioned error.
CREATE TABLE t (k TEXT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out (window_start TIMESTAMP, k TEXT, n BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'window_start,k');
INSERT INTO out
SELECT window_start, k, COUNT(*) FROM SESSION(t, ts, INTERVAL '-5 seconds')
GROUP BY window_start, window_end, k;
