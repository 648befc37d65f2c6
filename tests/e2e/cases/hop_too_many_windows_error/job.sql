-- HOP with a huge size/slide ratio (86,400,000 windows per row) would exhaust memory:
-- `sluice validate` refuses it with a positioned error.
CREATE TABLE t (k TEXT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out (window_start TIMESTAMP, k TEXT, n BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'window_start,k');
INSERT INTO out
SELECT window_start, k, COUNT(*) FROM HOP(t, ts, INTERVAL '0.001 seconds', INTERVAL '1 day')
GROUP BY window_start, window_end, k;
