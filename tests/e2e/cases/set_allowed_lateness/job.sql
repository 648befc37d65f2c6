-- SET allowed_lateness applies to every source that does not set its own: the window of
-- minute 0 fires at 00:01:10, takes the late row of 00:00:20 as an update, and is closed
-- for good once the watermark passes 00:02:00, so the row of 00:00:30 is late.
SET allowed_lateness = '1 minute';
CREATE TABLE t (ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts',
  late_output = '{DIR}/late.jsonl');
CREATE TABLE out (window_start TIMESTAMP, n BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'window_start');
INSERT INTO out SELECT window_start, COUNT(*) FROM TUMBLE(t, ts, INTERVAL '1 minute') GROUP BY window_start;
