-- An interval join bounded by a month: its bounds must be exact durations.
CREATE TABLE t (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT a.k, b.ts FROM t AS a JOIN t AS b
  ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '1' MONTH;
