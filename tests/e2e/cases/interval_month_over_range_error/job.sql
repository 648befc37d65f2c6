-- An OVER RANGE frame of a month: the frame must be an exact length.
CREATE TABLE t (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k, COUNT(*) OVER (PARTITION BY k ORDER BY ts
  RANGE BETWEEN INTERVAL '1' MONTH PRECEDING AND CURRENT ROW) AS n FROM t;
