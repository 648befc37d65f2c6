-- A WHERE over an updating result needs the result's key to retract rows that stop
-- qualifying: a subquery that drops its GROUP BY column is refused with a clear error.
CREATE TABLE t (k TEXT, v BIGINT) WITH (connector = 'file', path = '{DIR}/t.jsonl');
CREATE TABLE out (s BIGINT) WITH (connector = 'sqlite', path = '{DIR}/out.db', primary_key = 's');
INSERT INTO out SELECT * FROM (SELECT SUM(v) AS s FROM t GROUP BY k) AS x WHERE s > 5;
