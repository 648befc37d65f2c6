-- sluice's bookkeeping tables cannot hold a late-data output, as they cannot be a SQLite
-- sink's table (issue 9 point 22).
CREATE TABLE src (ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/in.jsonl', event_time = 'ts',
  late_output = '{DIR}/out.db', late_output_table = '_sluice_commits');
CREATE TABLE out (window_start TIMESTAMP, n BIGINT)
  WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'window_start');
INSERT INTO out SELECT window_start, COUNT(*) FROM TUMBLE(src, ts, INTERVAL '1 minute') GROUP BY window_start;
