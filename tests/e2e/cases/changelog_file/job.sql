-- A running aggregate into an append-only file: allowed with changelog = 'true', which
-- writes the operation of every row (+I first, +U for later values of the same key).
CREATE TABLE t (k TEXT, v BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out (k TEXT, total BIGINT, n BIGINT)
  WITH (connector = 'file', path = '{DIR}/out.jsonl', changelog = 'true');
INSERT INTO out SELECT k, SUM(v), COUNT(*) FROM t GROUP BY k;
