-- A watermark delay of a month: option durations must be exact.
CREATE TABLE t (k BIGINT, ts TIMESTAMP)
  WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts', watermark_delay = '1 month');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k FROM t;
