-- The select list drops the GROUP BY column of an updating result: an upsert table keyed by
-- the aggregate would keep every intermediate value. Refused at planning time.
CREATE TABLE t (k TEXT, v BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out (s BIGINT) WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 's');
INSERT INTO out SELECT SUM(v) AS s FROM t GROUP BY k;
