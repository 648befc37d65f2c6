-- A month interval is not a value: it can only shift a TIMESTAMP.
CREATE TABLE t (k BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out () WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k, k * INTERVAL '1' MONTH AS m FROM t;
