CREATE TABLE t (k BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out (k BIGINT, n BIGINT) WITH (connector = 'file', path = '{DIR}/out.jsonl');
INSERT INTO out SELECT k, COUNT(*) FROM t GROUP BY k;
