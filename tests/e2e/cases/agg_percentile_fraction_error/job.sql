-- The fraction of a percentile must be a constant in [0, 1].
CREATE TABLE t (v DOUBLE) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = '') AS
SELECT APPROX_PERCENTILE(v, 95) AS p95 FROM t;
