-- A HOP slide of a month: windows need an exact length (Flink refuses month intervals too).
CREATE TABLE t (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl', event_time = 'ts');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT window_start, COUNT(*) AS n
FROM HOP(t, ts, INTERVAL '1' DAY, INTERVAL '1' YEAR) GROUP BY window_start;
