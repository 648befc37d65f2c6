-- An updating result (GROUP BY k) into an upsert table keyed by an aggregate: each update
-- would insert a new row and keep the old one. Refused at planning time.
CREATE TABLE t (k TEXT, v BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out (k TEXT, s BIGINT) WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 'k,s');
INSERT INTO out SELECT k, SUM(v) AS s FROM t GROUP BY k;
